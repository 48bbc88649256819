//! `check_log`: the whole stored log checked against itself (dense positions, leaf and chain
//! hashes, stream versions, each payload's envelope) and against the log head read before and
//! after it. Invariant: it only reads; a log that grows while it is checked is never reported.

use std::collections::HashMap;

use super::{
    EventStore, GENESIS_CHAIN, LogHead, StoreError, StoredEvent, chain_hash, leaf_hash, scan,
};

/// What `check_log` found: the size checked, the log head that size and its chain hash make
/// (what the events give, once they agree with the stored head), and the first inconsistency,
/// by position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogCheck {
    pub size: u64,
    pub head: LogHead,
    pub problem: Option<(u64, String)>,
}

/// Recomputes every leaf and chain hash from the stored payloads and checks positions are dense,
/// stream versions consecutive and the log head agrees: the first divergence is reported, saying
/// which check failed and what was expected against what was found.
///
/// The log may grow while it is checked (a running registry, or a COMMIT a killed process sent
/// just before it died, which its database session still carries out), and the head and the
/// pages of events are read by separate statements. So the head is read before the events and
/// again after them, and each is held only to what it can promise: every event at a position
/// below the first head was committed before that head was read and must end in its chain hash;
/// no event scanned may lie beyond the second head; and if nothing moved meanwhile, that head
/// ends in the last event's chain hash too. A log that grows is never reported as one whose head
/// disagrees with its events, and a head ahead of, behind or off its events always is.
pub async fn check_log<S: EventStore>(
    store: &S,
    mut progress: impl FnMut(u64),
) -> Result<LogCheck, StoreError> {
    let before = store.head().await?;
    let mut walk = ChainWalk::new(before.size);
    let mut problem: Option<(u64, String)> = None;
    scan(store, 0, |e| {
        if problem.is_none() {
            progress(e.position);
            if let Err(what) = walk.step(e) {
                problem = Some((e.position, what));
            }
        }
        Ok(())
    })
    .await?;
    let events = LogHead {
        size: walk.expected_position,
        chain_hash: walk.chain,
    };
    if problem.is_none() {
        problem = head_disagreement(&before, walk.chain_at_head.as_deref(), &events);
    }
    if problem.is_none() {
        let after = store.head().await?;
        problem = later_head_disagreement(&before, &after, &events);
    }
    Ok(LogCheck {
        size: events.size,
        head: events,
        problem,
    })
}

/// `check_log`'s walk along the events in order: what the events seen so far give.
struct ChainWalk {
    /// The size of the head read before the events.
    head_size: u64,
    /// The position the next event must have (after a failed step, one past the event that
    /// failed if its position was right).
    expected_position: u64,
    /// The chain hash after the last event whose hashes checked.
    chain: Vec<u8>,
    /// The chain hash the events give at the first head's size (the genesis for an empty head).
    chain_at_head: Option<Vec<u8>>,
    /// The last stream version seen, by stream.
    versions: HashMap<String, i64>,
}

impl ChainWalk {
    fn new(head_size: u64) -> ChainWalk {
        let chain = GENESIS_CHAIN.to_vec();
        ChainWalk {
            head_size,
            expected_position: 0,
            chain_at_head: (head_size == 0).then(|| chain.clone()),
            chain,
            versions: HashMap::new(),
        }
    }

    /// Checks the next event: its position, its hashes, its stream version and its payload's
    /// envelope, in that order. The error says which check failed and how.
    fn step(&mut self, e: &StoredEvent) -> Result<(), String> {
        let p = e.position;
        if p != self.expected_position {
            return Err(format!(
                "positions are not dense: expected position {}, found {p}",
                self.expected_position
            ));
        }
        self.expected_position += 1;
        self.step_hashes(e)?;
        self.step_version(e)?;
        match e.envelope() {
            Ok(env) if env.event_id == e.event_id && env.stream_id == e.stream_id => Ok(()),
            Ok(env) => Err(format!(
                "the payload's id or stream differs from its row: the payload says {} in {}, the row {} in {}",
                env.event_id, env.stream_id, e.event_id, e.stream_id
            )),
            Err(err) => Err(format!("the payload does not decode: {err}")),
        }
    }

    /// The leaf hash from the payload, and the chain hash from the previous one.
    fn step_hashes(&mut self, e: &StoredEvent) -> Result<(), String> {
        let leaf = leaf_hash(&e.payload);
        if leaf != e.leaf_hash {
            return Err(format!(
                "the payload does not match its leaf hash: the payload gives {}, the row holds {}",
                hex::encode(&leaf),
                hex::encode(&e.leaf_hash)
            ));
        }
        self.chain = chain_hash(&self.chain, &leaf);
        if self.chain != e.chain_hash {
            return Err(format!(
                "the chain hash does not follow from the previous one: expected {}, found {}",
                hex::encode(&self.chain),
                hex::encode(&e.chain_hash)
            ));
        }
        if self.expected_position == self.head_size {
            self.chain_at_head = Some(self.chain.clone());
        }
        Ok(())
    }

    /// The event's stream version follows the last one of its stream.
    fn step_version(&mut self, e: &StoredEvent) -> Result<(), String> {
        let version = match self.versions.get_mut(e.stream_id.as_str()) {
            Some(v) => v,
            None => self.versions.entry(e.stream_id.clone()).or_insert(-1),
        };
        *version += 1;
        if *version != e.stream_version {
            return Err(format!(
                "stream {} version {} follows {}: expected version {}",
                e.stream_id,
                e.stream_version,
                *version - 1,
                *version
            ));
        }
        Ok(())
    }
}

/// Whether the log head read after the events (`after`) disagrees with them: it counts fewer
/// events than were scanned, or, if nothing was appended since `before`, its chain hash is not
/// the events'.
fn later_head_disagreement(
    before: &LogHead,
    after: &LogHead,
    events: &LogHead,
) -> Option<(u64, String)> {
    let moved = after.size != before.size;
    (after.size < events.size || (!moved && after.chain_hash != events.chain_hash)).then(|| {
        (
            after.size.min(events.size),
            format!(
                "the log head, read after the events, says {} events ending in chain hash {}; \
                 the events give {} ending in {}",
                after.size,
                hex::encode(&after.chain_hash),
                events.size,
                hex::encode(&events.chain_hash)
            ),
        )
    })
}

/// Whether the log head read before the events (`before`) disagrees with them: it counts more
/// events than there are, or the events' chain hash at its size (`chain_at_head`) is not its own.
fn head_disagreement(
    before: &LogHead,
    chain_at_head: Option<&[u8]>,
    events: &LogHead,
) -> Option<(u64, String)> {
    let agrees = events.size >= before.size && chain_at_head == Some(before.chain_hash.as_slice());
    (!agrees).then(|| {
        let found = match chain_at_head {
            Some(chain) => format!(
                "the events give chain hash {} at that size ({} events in all)",
                hex::encode(chain),
                events.size
            ),
            None => format!(
                "the events end at {} with chain hash {}",
                events.size,
                hex::encode(&events.chain_hash)
            ),
        };
        (
            before.size.min(events.size),
            format!(
                "the log head says {} events ending in chain hash {}; {found}",
                before.size,
                hex::encode(&before.chain_hash)
            ),
        )
    })
}
