//! The registry's database looked after without a registry started on it: how many events the
//! log holds, whether every hash and checkpoint in it holds, what a backup's manifest says of it,
//! and the projection tables checked against or rebuilt from a fold (`wexqs migrate`, `log
//! verify`, `backup` and `rebuild`). Opened through `startup`, so adapters never name the store.

use super::{Registry, ServiceError, check_checkpoints, fold_log};
use crate::domain::state::SigningKey;
use crate::store::{Checkpoint, EventStore, Store, StoreError, check_log};
use crate::transparency::merkle::{Hash, Tree};

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
    pub(crate) chain_hash: Vec<u8>,
    pub problem: Option<(u64, String)>,
}

/// What the log holds, as a backup's manifest records it: its size and the root of its tree, the
/// chain hash of its last event, its latest signed checkpoint and every key it has published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSummary {
    pub(crate) size: u64,
    pub(crate) root: Hash,
    pub(crate) chain_hash: Vec<u8>,
    pub(crate) latest_checkpoint: Option<Checkpoint>,
    pub(crate) keys: Vec<SigningKey>,
}

impl Maintenance {
    pub fn new(store: Store) -> Maintenance {
        Maintenance { store }
    }

    /// The store, for the backup of its database (`service::backup`).
    pub(super) fn store(&self) -> &Store {
        &self.store
    }

    /// Closes the database's connections and waits until they are closed.
    pub(crate) async fn close(&self) {
        self.store.close().await;
    }

    /// The log's size, root, last chain hash, latest checkpoint and keys, from one read of the
    /// log (`progress` is told each position read).
    pub(crate) async fn summary(
        &self,
        mut progress: impl FnMut(u64),
    ) -> Result<LogSummary, ServiceError> {
        let mut state = crate::domain::State::default();
        let mut tree = Tree::new();
        let mut chain_hash = crate::store::GENESIS_CHAIN.to_vec();
        crate::store::scan(&self.store, 0, |e| {
            state.apply(e.position, &e.envelope()?.event);
            let leaf: Hash = e
                .leaf_hash
                .as_slice()
                .try_into()
                .map_err(|_| StoreError::Corrupt("a leaf hash is not 32 bytes".into()))?;
            tree.push(leaf);
            chain_hash.clone_from(&e.chain_hash);
            progress(e.position);
            Ok(())
        })
        .await?;
        let root = tree
            .root(tree.size())
            .expect("the root of the whole tree always exists");
        Ok(LogSummary {
            size: tree.size(),
            root,
            chain_hash,
            latest_checkpoint: self.store.checkpoints().await?.pop(),
            keys: state.keys,
        })
    }

    /// How many events the log holds.
    pub(crate) async fn size(&self) -> Result<u64, ServiceError> {
        Ok(self.store.head().await?.size)
    }

    /// Recomputes every hash of the log (`progress` is told each position checked), then checks
    /// the stored tree hashes and checkpoints against it: the first divergence.
    pub async fn check_log(&self, progress: impl FnMut(u64)) -> Result<LogReport, ServiceError> {
        let check = check_log(&self.store, progress).await?;
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

    /// Whether the projection tables hold exactly the rows a fold of the log gives.
    pub(crate) async fn projections_agree(
        &self,
        progress: impl FnMut(u64),
    ) -> Result<bool, ServiceError> {
        let state = fold_log(&self.store, progress).await?;
        let expected = crate::projection::all_rows(&state);
        Ok(self.store.projections().await? == expected)
    }

    /// Replaces the projection tables with a fold's rows; the number of events folded.
    pub async fn rebuild_projections(
        &self,
        progress: impl FnMut(u64),
    ) -> Result<u64, ServiceError> {
        Registry::rebuild(&self.store, progress).await
    }
}
