//! The registry's database looked after without a registry started on it: how many events the
//! log holds, whether every hash and checkpoint in it holds, and the projection tables checked
//! against or rebuilt from a replay (`wexqs migrate`, `log verify` and `rebuild`). Opened
//! through `startup`, so adapters never name the store.

use super::{Registry, ServiceError, check_checkpoints, fold_log};
use crate::store::{EventStore, Store, verify_log};

/// A database opened (and migrated) for upkeep: nothing is decided or appended through it.
#[derive(Debug, Clone)]
pub struct Maintenance {
    pub(super) store: Store,
}

/// What checking the log found: its size, the chain hash of its last event, and the first
/// divergence (a position and what is wrong there), if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogReport {
    pub size: u64,
    pub chain_hash: Vec<u8>,
    pub problem: Option<(u64, String)>,
}

impl Maintenance {
    pub fn new(store: Store) -> Maintenance {
        Maintenance { store }
    }

    /// How many events the log holds.
    pub async fn size(&self) -> Result<u64, ServiceError> {
        Ok(self.store.head().await?.size)
    }

    /// Recomputes every hash of the log (`progress` is told each position checked), then checks
    /// the stored tree hashes and checkpoints against it: the first divergence.
    pub async fn verify_log(&self, progress: impl FnMut(u64)) -> Result<LogReport, ServiceError> {
        let check = verify_log(&self.store, progress).await?;
        let problem = match check.problem {
            Some(p) => Some(p),
            None => check_checkpoints(&self.store).await?,
        };
        Ok(LogReport {
            size: check.size,
            chain_hash: check.head.chain_hash,
            problem,
        })
    }

    /// Whether the projection tables hold exactly the rows a replay of the log gives.
    pub async fn projections_agree(&self, progress: impl FnMut(u64)) -> Result<bool, ServiceError> {
        let state = fold_log(&self.store, progress).await?;
        let expected = crate::projection::all_rows(&state);
        Ok(self.store.projections().await? == expected)
    }

    /// Replaces the projection tables with a replay's rows; the number of events replayed.
    pub async fn rebuild_projections(
        &self,
        progress: impl FnMut(u64),
    ) -> Result<u64, ServiceError> {
        Registry::rebuild(&self.store, progress).await
    }
}
