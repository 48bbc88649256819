//! The registry's background duties: follow the log (appends by other instances), sign
//! checkpoints, record passed expiries, and keep track of whether the database answers. Also
//! the reads that cannot wait for the next second's poll: a read that misses, or that names the
//! log position of a write it follows, catches up with the log once, bounded.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{Actor, Registry, ServiceError};
use crate::domain::{AwardCommand, CertificateNumber, Command};
use crate::store::{EventStore, Outage, StoreError};

/// The health part of the registry: what the database's last answer said.
pub(super) struct Health {
    /// `Some` while the database is unavailable (for logs that say so once, not every second,
    /// and for the readiness check). Held by `note_database` while it compares the last answer
    /// with the new one and logs the change, and otherwise only to read it; no other lock is
    /// taken under it.
    outage: Mutex<Option<Outage>>,
}

impl Health {
    pub(super) fn new() -> Health {
        Health {
            outage: Mutex::new(None),
        }
    }
}

impl Registry {
    /// Records, as events, the expiries that have passed but are not yet in the log. Statuses do
    /// not depend on this having run.
    pub(crate) async fn expire_due(&self) -> Result<usize, ServiceError> {
        self.catch_up().await?;
        let today = self.today();
        let due: Vec<CertificateNumber> = self.read_cache(|c| {
            c.state
                .awards
                .values()
                .filter(|a| {
                    !a.expiry_recorded
                        && matches!(
                            a.standing,
                            crate::domain::Standing::Active | crate::domain::Standing::Suspended
                        )
                        && a.expires_on() <= today
                })
                .map(|a| a.certificate_number.clone())
                .collect()
        });
        if due.is_empty() {
            return Ok(0);
        }
        let count = due.len();
        let commands = due
            .into_iter()
            .map(|certificate_number| {
                Command::Award(AwardCommand::RecordExpiry { certificate_number })
            })
            .collect();
        self.execute_all(&Actor::system(), commands, None).await?;
        Ok(count)
    }
}

/// The longest a read waits for the log to reach what it asks for (`catch_up_on_miss`,
/// `wait_for_position`) before it answers from memory as it is.
pub(crate) const FRESHNESS_WAIT: Duration = Duration::from_secs(1);

impl Registry {
    /// For a read that found nothing in memory (an award or organisation named in its path):
    /// catches up with the log once, so that a record appended a moment ago by another instance
    /// or by a command line on the same database is found rather than called not real. Bounded:
    /// callers arriving together share one reading of the log and at most one is in flight
    /// (`catch_up`), a reading is one indexed look past the log's head as memory knows it (it
    /// finds nothing unless the head moved), none is made while the database is known to be
    /// away, and none takes longer than `FRESHNESS_WAIT`.
    pub(crate) async fn catch_up_on_miss(&self) {
        if self.outage().is_some() {
            return;
        }
        match tokio::time::timeout(FRESHNESS_WAIT, self.catch_up()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::debug!(error = %e, "a read's catch-up with the log failed"),
            Err(_) => tracing::debug!("a read's catch-up with the log took too long"),
        }
    }

    /// Whether memory holds the award numbered `number` (no copy of anything).
    pub(crate) fn holds_award(&self, number: &CertificateNumber) -> bool {
        self.read_cache(|c| c.state.awards.contains_key(number))
    }

    /// Whether memory holds the organisation `id`.
    pub(crate) fn holds_organisation(&self, id: &crate::domain::OrganisationId) -> bool {
        self.read_cache(|c| c.state.organisations.contains_key(id))
    }

    /// Waits, at most `FRESHNESS_WAIT`, until the in-memory state holds the event at `position`
    /// (the `X-Log-Position` of a write, passed by a read as `X-Wait-For-Position`); whether
    /// it does. The write committed before its answer was sent, so one catch-up begun now
    /// reaches it; a position beyond the log costs one look, not a wait.
    pub(crate) async fn wait_for_position(&self, position: u64) -> bool {
        if self.size() > position {
            return true;
        }
        self.catch_up_on_miss().await;
        self.size() > position
    }

    /// Whether the database answers (the readiness check).
    pub(crate) async fn database_ready(&self) -> Result<(), ServiceError> {
        Ok(self.log.store.ready().await?)
    }

    /// Which database the registry is on (`sqlite` or `postgres`).
    pub(crate) fn store_kind(&self) -> &'static str {
        self.log.store.kind()
    }

    /// Records what the database's latest answer said about its availability, and logs when an
    /// outage begins and ends (once each, not at every look).
    pub(crate) fn note_database(&self, error: Option<&StoreError>) {
        let now = error.and_then(StoreError::outage);
        let mut outage = self
            .health
            .outage
            .lock()
            .expect("the outage lock is never poisoned");
        match (*outage, now, error) {
            (None, Some(o), Some(e)) => tracing::warn!(
                reason = o.as_str(),
                error = %e,
                "the database is unavailable: answering reads from memory and refusing writes \
                 with 503 until it is back"
            ),
            (Some(_), None, None) => tracing::info!("the database is back"),
            _ => {}
        }
        // Another kind of error says nothing about availability either way.
        if error.is_none() || now.is_some() {
            *outage = now;
        }
    }

    /// The outage the database is in, as last seen (`None`: it answered).
    pub(crate) fn outage(&self) -> Option<crate::store::Outage> {
        *self
            .health
            .outage
            .lock()
            .expect("the outage lock is never poisoned")
    }
}

impl Registry {
    /// Compares the log's head in the database with the log in memory: a database holding
    /// fewer entries than memory, or as many ending elsewhere, lost what memory still holds (a
    /// rollback, a restore or a failover under a running instance), and the registry goes
    /// behind rather than answer from memory what the database no longer holds.
    /// `known` is the size and chain hash memory held before `head` was read.
    pub(super) fn compare_with_database(
        &self,
        (size, chain): (u64, Vec<u8>),
        head: &crate::store::LogHead,
    ) {
        if head.size < size {
            self.fall_behind(format!(
                "the database's log has {} entries but this registry had read {size}: entries \
                 were lost (a restore, a rollback or a failover)",
                head.size
            ));
        } else if head.size == size && head.chain_hash != chain {
            self.fall_behind(format!(
                "the database's log of {size} entries ends with another chain hash than the one \
                 this registry read: the log was replaced (a restore, a rollback or a failover)"
            ));
        }
    }
}

/// Runs the registry's background duties until the process stops: follow the log (appends by
/// other instances) and record passed expiries.
pub(crate) fn spawn_background(registry: Arc<Registry>, poll: Duration, expiry_every: Duration) {
    let tail = registry.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(poll);
        loop {
            tick.tick().await;
            // What memory held before the head was read: never more than the database held.
            let known = tail.read_cache(|c| (c.tree.size(), c.chain.clone()));
            let head = tail.log.store.head().await;
            tail.note_database(head.as_ref().err());
            match head {
                Ok(head) if tail.behind().is_some() => {
                    if tail.try_resume(head.size).await {
                        tail.refresh_signing();
                    }
                    continue;
                }
                Ok(head) => {
                    tail.compare_with_database(known, &head);
                    if head.size > tail.size() {
                        match tail.catch_up().await {
                            Ok(()) => tail.check_against_mark(),
                            Err(ServiceError::Behind(_)) => continue,
                            Err(e) => tracing::warn!(error = %e, "could not follow the log"),
                        }
                        tail.refresh_signing();
                    }
                }
                // Said once, when it began.
                Err(e) if e.outage().is_some() => continue,
                Err(e) => tracing::warn!(error = %e, "could not read the log head"),
            }
            if tail.behind().is_some() {
                continue;
            }
            // Every second, not only when the log grows: a key file copied in after the
            // rotation is taken up without waiting for a write.
            tail.refresh_signing();
            match tail.checkpoint().await {
                Ok(_) => tail.note_checkpoint(None),
                Err(ServiceError::Behind(_)) => {}
                // The readiness check says so already, by the outage's name.
                Err(ServiceError::Unavailable { .. }) => {}
                Err(e) => {
                    tracing::error!(error = %e, "could not sign a checkpoint");
                    tail.note_checkpoint(Some(e.to_string()));
                }
            }
        }
    });
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(expiry_every);
        loop {
            tick.tick().await;
            match registry.expire_due().await {
                Ok(0) => {}
                Ok(n) => tracing::info!("recorded {n} passed expiries"),
                Err(e) => tracing::warn!(error = %e, "could not record passed expiries"),
            }
        }
    });
}
