//! Idempotency: a request sent again with the same Idempotency-Key gets the first answer again,
//! and the key reused for a different request is refused. The store keeps each key with a hash
//! of its request and the events it appended.

use sha2::{Digest, Sha256};

use super::{Registry, ServiceError};
use crate::store::{Appended, EventStore};

/// An Idempotency-Key and a hash of the request it came with.
#[derive(Debug, Clone)]
pub struct Idempotency {
    pub(crate) key: String,
    pub(crate) request_hash: String,
}

impl Registry {
    /// The append first recorded under `idem` in `scope`, as stored (not decoded), if the key
    /// was used before.
    pub(super) async fn recorded_append(
        &self,
        scope: &str,
        idem: &Idempotency,
    ) -> Result<Option<Appended>, ServiceError> {
        match self.log.store.idempotent(scope, &idem.key).await? {
            None => Ok(None),
            Some((hash, _)) if hash != idem.request_hash => Err(ServiceError::IdempotencyKeyReused),
            Some((_, events)) => Ok(Some(Appended {
                events,
                replayed: true,
            })),
        }
    }
}

/// A hash of a request's identifying parts, for Idempotency-Key reuse detection.
pub(crate) fn request_hash(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    hex::encode(h.finalize())
}
