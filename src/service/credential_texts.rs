//! The signed credentials' text, read from the log when asked for. Memory holds each issued
//! credential's position, key, status list entry and address only (`IssuedCredential`), so the
//! register's size does not bring 2.5 kB an award of text with it; the texts read lately are
//! kept, a bounded number, by the leaf hash of the entry that holds them.
//!
//! A text read from the database is that entry's only if the entry's bytes still give the leaf
//! hash memory holds for its position (which was checked against the chain as the log was read):
//! a changed entry is refused as the log's inconsistency, never served. Keyed by that leaf
//! hash, a kept text cannot be another log's after a restore.

use std::collections::HashMap;
use std::sync::Mutex;

use super::{Registry, ServiceError};
use crate::domain::state::IssuedCredential;
use crate::domain::{Award, CertificateNumber, Event, SignedJson};
use crate::store::{EventStore, StoreError};
use crate::transparency::merkle::{Hash, leaf_hash};

/// The most texts kept (`limits::MAX_KEPT_CREDENTIALS`).
const MAX_KEPT: usize = crate::limits::MAX_KEPT_CREDENTIALS;

/// A kept text and the award it is a credential of.
type Kept = (CertificateNumber, SignedJson);

/// The texts read lately, by their entry's leaf hash. A full set is emptied and refilled by
/// what is asked for next, so what is asked for often is soon back.
#[derive(Default)]
pub(super) struct Texts {
    kept: Mutex<HashMap<Hash, Kept>>,
}

impl Texts {
    fn kept(&self) -> std::sync::MutexGuard<'_, HashMap<Hash, Kept>> {
        self.kept.lock().expect("the texts' lock is never poisoned")
    }

    fn get(&self, leaf: &Hash) -> Option<Kept> {
        self.kept().get(leaf).cloned()
    }

    fn keep(&self, leaf: Hash, text: Kept) {
        let mut kept = self.kept();
        if kept.len() >= MAX_KEPT {
            kept.clear();
        }
        kept.insert(leaf, text);
    }
}

impl Registry {
    /// The signed text of `award`'s credential `issued`: kept, or read from its entry in the
    /// log. The entry must be a credential of that award (an award read before a `reload` names
    /// a position of the log as it was then).
    pub async fn credential_text(
        &self,
        award: &Award,
        issued: &IssuedCredential,
    ) -> Result<SignedJson, ServiceError> {
        let position = issued.position;
        let inconsistent = |why: &str| {
            ServiceError::Store(StoreError::Corrupt(format!(
                "the entry at {position} {why}"
            )))
        };
        let leaf = self
            .log
            .read(|c| c.tree.level(0).get(position as usize).copied())
            .ok_or_else(|| inconsistent("is not in the log as read"))?;
        let (number, credential) = match self.texts.get(&leaf) {
            Some(kept) => kept,
            None => self.read_credential_text(position, &leaf).await?,
        };
        // Whether kept or just read, the entry must be one of this award's credentials.
        if number != award.certificate_number {
            return Err(inconsistent(&format!(
                "is not a credential of award {}",
                award.certificate_number
            )));
        }
        Ok(credential)
    }

    /// The credential at `position` read from the database, checked against its leaf hash
    /// `leaf`, with the award it is of; then kept.
    async fn read_credential_text(&self, position: u64, leaf: &Hash) -> Result<Kept, ServiceError> {
        let inconsistent = |why: &str| {
            ServiceError::Store(StoreError::Corrupt(format!(
                "the entry at {position} {why}"
            )))
        };
        let stored = self.log.store.read(position, 1).await?;
        let stored = stored
            .into_iter()
            .find(|e| e.position == position)
            .ok_or_else(|| inconsistent("is missing from the database"))?;
        if leaf_hash(&stored.payload) != *leaf {
            return Err(inconsistent(
                "does not match its leaf hash: the entry was changed",
            ));
        }
        let event = stored.envelope().map(|env| env.event)?;
        let Event::CredentialIssued {
            certificate_number,
            credential,
            ..
        } = event
        else {
            return Err(inconsistent("is not a signed credential"));
        };
        let kept = (certificate_number, credential);
        self.texts.keep(*leaf, kept.clone());
        Ok(kept)
    }

    /// The signed text of each of `award`'s credentials, in its order (oldest first).
    pub async fn credential_texts(&self, award: &Award) -> Result<Vec<SignedJson>, ServiceError> {
        let mut texts = Vec::with_capacity(award.credentials.len());
        for issued in &award.credentials {
            texts.push(self.credential_text(award, issued).await?);
        }
        Ok(texts)
    }
}
