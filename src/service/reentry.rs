//! Re-entering what a database lost from the published log (`wexqs log reenter`): the entries
//! between the database's end and the high-water mark, taken from a copy of the log (another
//! instance's `/v1/log/entries`, a mirror, or a file of entries), are checked first, all of
//! them: each one's bytes give its leaf hash, and with the entries the database still holds they
//! give the mark's root. Only then are they appended, byte for byte, in one transaction, and the
//! projections rebuilt. Invariant: nothing is appended unless the result is the published log.
//!
//! The public log holds a private entry (a token, a note, an application, a webhook's
//! subscription) as its leaf hash alone: such an entry can be re-entered only from a copy that
//! holds its bytes. Without one, re-entry stops at it and says so.

use chrono::SecondsFormat;

use super::high_water::Mark;
use super::{Maintenance, Registry, ServiceError};
use crate::error_codes::ErrorCode;
use crate::store::{AppendRequest, Checkpoint, EventStore, NewEvent, StoreError};
use crate::transparency::merkle::{Hash, Tree, leaf_hash};

/// One entry of a copy of the log, as `/v1/log/entries` gives it: its position, its leaf hash,
/// and its bytes when the copy holds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CopiedEntry {
    pub(crate) position: u64,
    pub(crate) leaf_hash: Hash,
    pub(crate) payload: Option<Vec<u8>>,
}

/// What a re-entry did: the positions it appended (`from..to`; empty if the database already
/// held the published log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reentered {
    pub(crate) from: u64,
    pub(crate) to: u64,
}

fn refused(message: String) -> ServiceError {
    ServiceError::Invalid {
        code: ErrorCode::LogBehindPublishedCheckpoint,
        message,
    }
}

impl Maintenance {
    /// Re-enters the entries the database lacks up to `mark` from `copy` (entries in position
    /// order, starting at or before the database's end), after checking that they reproduce
    /// the mark's root; then stores the mark's checkpoint and rebuilds the projections.
    pub(crate) async fn reenter(
        &self,
        mark: &Mark,
        copy: &[CopiedEntry],
    ) -> Result<Reentered, ServiceError> {
        let mut tree = self.stored_tree().await?;
        let from = tree.size();
        let events = copied_events(&mut tree, mark, copy)?;
        if tree.root(mark.size) != Some(mark.root) {
            return Err(refused(format!(
                "the log with these entries does not give the root of the published checkpoint \
                 at {}: the copy (or the database) is of another log; nothing was changed",
                mark.size
            )));
        }
        if !events.is_empty() {
            self.append_reentered(events, from).await?;
        }
        self.store
            .save_checkpoint(&Checkpoint {
                size: mark.size,
                root: mark.root.to_vec(),
                note: mark.note.clone(),
                signed_at: chrono::Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
            })
            .await?;
        Registry::rebuild(&self.store, |_| {}).await?;
        Ok(Reentered {
            from,
            to: mark.size.max(from),
        })
    }

    /// The tree of the entries the database holds, each one's bytes checked against its stored
    /// leaf hash: a changed entry is corruption that re-entry cannot mend.
    async fn stored_tree(&self) -> Result<Tree, ServiceError> {
        let mut tree = Tree::new();
        crate::store::scan(&self.store, 0, |e| {
            let leaf = leaf_hash(&e.payload);
            if e.leaf_hash.as_slice() != leaf.as_slice() {
                return Err(StoreError::Corrupt(format!(
                    "the entry at {} does not match its stored leaf hash: re-entry cannot mend a \
                     changed entry; restore a copy of the database taken before the change",
                    e.position
                )));
            }
            tree.push(leaf);
            Ok(())
        })
        .await?;
        Ok(tree)
    }

    /// Appends the checked entries in one batch at `from`, and refuses if they landed anywhere
    /// else (something else wrote to the log meanwhile).
    async fn append_reentered(&self, events: Vec<NewEvent>, from: u64) -> Result<(), ServiceError> {
        let request = AppendRequest {
            events,
            log_at_least: from,
            ..AppendRequest::default()
        };
        let mut answers = self.store.append_batch(vec![request]).await?;
        let appended = answers
            .pop()
            .unwrap_or_else(|| Err(StoreError::Corrupt("the append gave no answer".into())))?;
        if appended.events.first().map(|e| e.position) != Some(from) || appended.replayed {
            return Err(ServiceError::Store(StoreError::Corrupt(format!(
                "the re-entered entries were placed at {:?}, not at {from}: something wrote \
                 to the log during the re-entry; run 'wexqs log verify'",
                appended.events.first().map(|e| e.position)
            ))));
        }
        Ok(())
    }
}

/// The events for the positions from the tree's end up to `mark`, each taken from `copy` and
/// checked (present, public or with its bytes, giving its own leaf hash, decoding), its leaf
/// pushed onto `tree` as it goes.
fn copied_events(
    tree: &mut Tree,
    mark: &Mark,
    copy: &[CopiedEntry],
) -> Result<Vec<NewEvent>, ServiceError> {
    let from = tree.size();
    let mut events = Vec::new();
    for position in from..mark.size.max(from) {
        let entry = copy
            .iter()
            .find(|e| e.position == position)
            .ok_or_else(|| {
                refused(format!(
                    "the copy of the log has no entry at {position} (the database ends at \
                     {from}, the published checkpoint covers {})",
                    mark.size
                ))
            })?;
        let (leaf, event) = copied_event(position, entry)?;
        tree.push(leaf);
        events.push(event);
    }
    Ok(events)
}

/// One copied entry's leaf hash and event, refused if the copy lacks its bytes, if they do not
/// give the entry's leaf hash, or if they do not decode.
fn copied_event(position: u64, entry: &CopiedEntry) -> Result<(Hash, NewEvent), ServiceError> {
    let Some(payload) = &entry.payload else {
        return Err(refused(format!(
            "the entry at {position} is private: the public log holds only its leaf \
             hash, so it can be re-entered only from a copy that holds its bytes (a \
             later copy of the database, or a file of entries with their payloads)"
        )));
    };
    let leaf = leaf_hash(payload);
    if leaf != entry.leaf_hash {
        return Err(refused(format!(
            "the copy's entry at {position} does not give its own leaf hash"
        )));
    }
    let envelope = serde_json::from_slice::<crate::store::Envelope>(payload).map_err(|e| {
        refused(format!(
            "the copy's entry at {position} does not decode: {e}"
        ))
    })?;
    let event = NewEvent {
        event_id: envelope.event_id,
        stream_id: envelope.stream_id,
        event_type: envelope.event.event_type().to_owned(),
        schema_version: envelope.schema_version,
        payload: payload.clone(),
        recorded_at: envelope.recorded_at,
        actor: envelope.actor,
        visibility: envelope.visibility,
    };
    Ok((leaf, event))
}
