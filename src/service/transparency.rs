//! The transparency log as the service keeps it: the Merkle tree over every event in memory,
//! its roots and proofs, and signing a checkpoint of it (only once the new tree is checked
//! consistent with the last checkpoint: `transparency::audit::check_extends`); and checking the
//! stored tree and checkpoints against a local log (`wexqs log verify`).

use std::sync::{Mutex, RwLock};

use chrono::SecondsFormat;

use super::{Registry, ServiceError};
use crate::store::{Checkpoint, EventStore, Store, StoreError};

/// The transparency part of the registry: what it knows of the checkpoints signed. (The tree
/// itself is the log's, in its cache, so that it is always of the log read.)
pub(super) struct Transparency {
    /// The latest signed checkpoint known, served from memory so that an auditor gets it while
    /// the database is away. Held only to read or replace it: set at start, by `checkpoint`
    /// (one it finds stored, then the one it signs) and on resuming from behind.
    latest: RwLock<Option<Checkpoint>>,
    /// `Some(why)` while the last attempt to sign a checkpoint failed (the readiness check).
    /// Held only to read or replace it.
    failure: Mutex<Option<String>>,
}

impl Transparency {
    pub(super) fn new() -> Transparency {
        Transparency {
            latest: RwLock::new(None),
            failure: Mutex::new(None),
        }
    }

    /// The latest signed checkpoint known.
    pub(super) fn latest(&self) -> Option<Checkpoint> {
        self.latest.read().expect("never poisoned").clone()
    }

    pub(super) fn set_latest(&self, checkpoint: Option<Checkpoint>) {
        *self.latest.write().expect("never poisoned") = checkpoint;
    }

    /// `f` of the latest signed checkpoint known, without copying it.
    pub(super) fn with_latest<T>(&self, f: impl FnOnce(Option<&Checkpoint>) -> T) -> T {
        f(self.latest.read().expect("never poisoned").as_ref())
    }
}

impl Registry {
    /// The log's origin, its note verifier key, and the key that signs its checkpoints.
    pub(super) fn log_signer(&self) -> Option<(String, String, ed25519_dalek::SigningKey)> {
        let signing = self.signing()?;
        let origin = crate::transparency::note::origin_for(&signing.public_url);
        let verifier =
            crate::transparency::note::verifier_key(&origin, &signing.key.verifying_key());
        Some((origin, verifier, signing.key))
    }

    /// The latest signed checkpoint this instance knows: (size, root).
    pub(crate) fn latest_checkpoint(&self) -> Option<(u64, crate::transparency::merkle::Hash)> {
        self.transparency.with_latest(|latest| {
            let latest = latest?;
            Some((latest.size, latest.root.as_slice().try_into().ok()?))
        })
    }

    /// The latest signed checkpoint this instance knows, as its signed note.
    pub(crate) fn latest_checkpoint_note(&self) -> Option<String> {
        self.transparency
            .with_latest(|latest| latest.map(|c| c.note.clone()))
    }

    /// The note verifier key auditors check checkpoints with: the one that signed the latest
    /// checkpoint this instance serves (after a rotation, the retired key's until a checkpoint
    /// is signed with the new one, so that the key and the checkpoint served always agree), or
    /// else the key in use.
    pub(crate) fn log_verifier_key(&self) -> Option<String> {
        if let Some(note) = self.latest_checkpoint_note() {
            let origin = note.lines().next().unwrap_or_default().to_owned();
            let keys = self.read_cache(|c| {
                c.state
                    .keys
                    .iter()
                    .rev()
                    .map(|k| k.public_key_multibase.clone())
                    .collect::<Vec<_>>()
            });
            let signer = keys.iter().find_map(|k| {
                let key = crate::credentials::credential::parse_public_multibase(k).ok()?;
                let verifier = crate::transparency::note::verifier_key(&origin, &key);
                crate::transparency::note::open(&note, &verifier)
                    .is_ok()
                    .then_some(verifier)
            });
            if signer.is_some() {
                return signer;
            }
        }
        self.log_signer().map(|(_, v, _)| v)
    }

    /// The root of the tree at `size`, if the log is that long.
    pub(crate) fn tree_root(&self, size: u64) -> Option<crate::transparency::merkle::Hash> {
        self.read_cache(|c| c.tree.root(size))
    }

    /// The leaf hash at `index`, from memory.
    pub(crate) fn leaf_hash(&self, index: u64) -> Option<crate::transparency::merkle::Hash> {
        self.read_cache(|c| c.tree.level(0).get(usize::try_from(index).ok()?).copied())
    }

    pub(crate) fn inclusion_proof(
        &self,
        index: u64,
        size: u64,
    ) -> Option<Vec<crate::transparency::merkle::Hash>> {
        self.read_cache(|c| c.tree.inclusion_proof(index, size))
    }

    pub(crate) fn consistency_proof(
        &self,
        first: u64,
        size: u64,
    ) -> Option<Vec<crate::transparency::merkle::Hash>> {
        self.read_cache(|c| c.tree.consistency_proof(first, size))
    }

    /// Signs a checkpoint of the tree as it now is, if it grew since the last one; the new one
    /// is signed only after it is checked consistent with the last. Returns the new size.
    ///
    /// Nothing is signed while the registry is behind its published log (`high_water`), nor
    /// beyond the log the database holds; the new checkpoint is recorded in the high-water
    /// mark before it is stored, and a later one another instance stored raises the mark too.
    pub async fn checkpoint(&self) -> Result<Option<u64>, ServiceError> {
        if let Some(reason) = self.behind() {
            return Err(ServiceError::Behind(reason));
        }
        self.catch_up().await?;
        // The signer as of the log just read: after a rotation in it, the new key or none.
        let Some((origin, verifier, key)) = self.log_signer() else {
            return Ok(None);
        };
        let last = self.adopt_last_checkpoint(&verifier).await?;
        if let Some(problem) = self.shortfall() {
            self.fall_behind(problem.clone());
            return Err(ServiceError::Behind(problem));
        }
        let signer = crate::credentials::keys::key_id(&key);
        let (size, root, proof, active) = self.read_cache(|c| {
            let active = c.state.active_key().map(|k| k.key_id.clone());
            let size = c.tree.size();
            let proof = last
                .as_ref()
                .filter(|l| l.size > 0 && l.size <= size)
                .and_then(|l| c.tree.consistency_proof(l.size, size));
            (size, c.tree.root(size), proof, active)
        });
        // A rotation read in meanwhile: the next round signs with the new key, or waits for it.
        if active.is_some_and(|a| a != signer) {
            return Ok(None);
        }
        let Some(root) = root else { return Ok(None) };
        if size == 0 || last.as_ref().is_some_and(|l| l.size >= size) {
            return Ok(None);
        }
        if let Some(last) = &last {
            check_extends(last, size, &root, proof)?;
        }
        let note = crate::transparency::note::sign(
            &crate::transparency::note::checkpoint_body(&origin, size, &root),
            &origin,
            &key,
        );
        let signed = crate::store::Checkpoint {
            size,
            root: root.to_vec(),
            note,
            signed_at: self.now().to_rfc3339_opts(SecondsFormat::Secs, true),
        };
        self.publish_checkpoint(signed).await?;
        Ok(Some(size))
    }

    /// The last checkpoint stored, taken as the latest known; one the key in use signed raises
    /// the high-water mark to it.
    async fn adopt_last_checkpoint(
        &self,
        verifier: &str,
    ) -> Result<Option<Checkpoint>, ServiceError> {
        let last = self.log.store.checkpoints().await?.pop();
        if let Some(l) = &last {
            // Another instance may have signed a later one: published, so the mark rises to it.
            if crate::transparency::note::open(&l.note, verifier).is_ok() {
                self.raise_mark(&l.note)
                    .map_err(|e| ServiceError::Store(StoreError::Corrupt(e)))?;
            }
            self.transparency.set_latest(Some(l.clone()));
        }
        Ok(last)
    }

    /// Records `signed` in the high-water mark, stores it, and makes it the latest known. A
    /// store that finds its log shorter than the one read puts the registry behind.
    async fn publish_checkpoint(&self, signed: Checkpoint) -> Result<(), ServiceError> {
        // Published once stored: recorded outside the database first, so that no restore or
        // rollback of the database can take it back unnoticed.
        self.raise_mark(&signed.note).map_err(|e| {
            ServiceError::Store(StoreError::Corrupt(format!("{e}; refusing to publish")))
        })?;
        if let Err(e) = self.log.store.save_checkpoint(&signed).await {
            if let StoreError::LogBehind { size, expected } = &e {
                self.fall_behind(format!(
                    "the database's log has {size} entries but this registry had read {expected}: \
                     entries were lost (a restore, a rollback or a failover)"
                ));
            }
            return Err(e.into());
        }
        self.transparency.set_latest(Some(signed));
        Ok(())
    }

    /// Why the last attempt to sign a checkpoint failed, if it did (the readiness check).
    pub(crate) fn checkpoint_failure(&self) -> Option<String> {
        self.transparency
            .failure
            .lock()
            .expect("never poisoned")
            .clone()
    }

    pub(super) fn note_checkpoint(&self, failure: Option<String>) {
        *self.transparency.failure.lock().expect("never poisoned") = failure;
    }
}

/// Refuses to sign the tree at `size` unless `proof` shows it extends the `last` checkpoint.
fn check_extends(
    last: &Checkpoint,
    size: u64,
    root: &crate::transparency::merkle::Hash,
    proof: Option<Vec<crate::transparency::merkle::Hash>>,
) -> Result<(), ServiceError> {
    crate::transparency::audit::check_extends(
        last.size,
        &last.root,
        size,
        root,
        &proof.unwrap_or_default(),
    )
    .map_err(|e| {
        ServiceError::Store(StoreError::Corrupt(format!(
            "the tree at {size} is not consistent with the checkpoint at {}: {e}; refusing to sign",
            last.size
        )))
    })
}

/// Checks the stored checkpoints against the local log: each within the log, its root the
/// tree's at that size, its signature by one of the registry's keys. The first problem.
///
/// The checkpoints are read before the log: a checkpoint is saved only after the entries it
/// covers were committed, so a log read after it must hold them, however the log grows
/// meanwhile. (Read the other way round, a checkpoint a running instance signs between the two
/// reads would look larger than the log.) Stored tree hashes are only ever added, for subtrees
/// that are complete, so those read after the log may only be more than it needs.
pub(crate) async fn check_checkpoints(
    store: &Store,
) -> Result<Option<(u64, String)>, ServiceError> {
    let checkpoints = store.checkpoints().await?;
    let (state, tree) = state_and_tree(store).await?;
    if let Some(problem) = check_tree_hashes(store, &tree).await? {
        return Ok(Some(problem));
    }
    Ok(checkpoints
        .iter()
        .find_map(|c| check_checkpoint(c, &state, &tree)))
}

/// The state (for the keys) and the tree of the local log, both built in one pass over it.
async fn state_and_tree(
    store: &Store,
) -> Result<(crate::domain::State, crate::transparency::merkle::Tree), ServiceError> {
    let mut state = crate::domain::State::default();
    let mut tree = crate::transparency::merkle::Tree::new();
    crate::store::scan(store, 0, |e| {
        state.apply(e.position, &e.envelope()?.event);
        let leaf: crate::transparency::merkle::Hash = e
            .leaf_hash
            .as_slice()
            .try_into()
            .map_err(|_| StoreError::Corrupt("a leaf hash is not 32 bytes".into()))?;
        tree.push(leaf);
        Ok(())
    })
    .await?;
    Ok((state, tree))
}

/// Checks the stored tree hashes, level by level, against those that follow from the leaves.
/// The first that does not, with the position of the first leaf under it.
async fn check_tree_hashes(
    store: &Store,
    tree: &crate::transparency::merkle::Tree,
) -> Result<Option<(u64, String)>, ServiceError> {
    for level in 0..tree.height() {
        let stored = store.tree_hashes(level as u32).await?;
        let expected = tree.level(level);
        if let Some(i) = (0..expected.len())
            .find(|&i| stored.get(i).map(Vec::as_slice) != Some(&expected[i][..]))
        {
            let found = stored.get(i).map_or_else(|| "none".to_owned(), hex::encode);
            return Ok(Some((
                (i as u64) << level,
                format!(
                    "the stored tree hash at level {level}, index {i} does not follow from the \
                     leaves: expected {}, found {found}",
                    hex::encode(expected[i])
                ),
            )));
        }
    }
    Ok(None)
}

/// Checks one stored checkpoint against the local log: within it, its root the tree's at that
/// size, its signature by one of the keys in `state`. The problem, if there is one.
fn check_checkpoint(
    c: &Checkpoint,
    state: &crate::domain::State,
    tree: &crate::transparency::merkle::Tree,
) -> Option<(u64, String)> {
    if c.size > tree.size() {
        return Some((
            tree.size(),
            format!(
                "the log has {} entries but a checkpoint signed {}: entries were removed",
                tree.size(),
                c.size
            ),
        ));
    }
    let root = tree.root(c.size).map(|r| r.to_vec());
    if root.as_ref() != Some(&c.root) {
        return Some((
            c.size,
            format!(
                "the checkpoint at size {} does not match the log: the log's root there is \
                 {}, the checkpoint signed {}",
                c.size,
                root.map_or_else(|| "none".to_owned(), hex::encode),
                hex::encode(&c.root)
            ),
        ));
    }
    let body = c.note.split("\n\n").next().unwrap_or_default();
    let origin = body.lines().next().unwrap_or_default();
    let signed = state.keys.iter().any(|k| {
        crate::credentials::credential::parse_public_multibase(&k.public_key_multibase)
            .map(|key| {
                crate::transparency::note::open(
                    &c.note,
                    &crate::transparency::note::verifier_key(origin, &key),
                )
                .is_ok()
            })
            .unwrap_or(false)
    });
    if !signed {
        return Some((
            c.size,
            format!(
                "the checkpoint at size {} is not signed by a registry key",
                c.size
            ),
        ));
    }
    None
}
