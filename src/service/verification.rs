//! The registry's side of checking a presented credential (`POST /v1/verify`): what it knows
//! already is kept rather than computed again for every credential presented.
//!
//! - Its own status list is checked once per signed version (its signature verified, its bits
//!   inflated), with its DID document's keys parsed once; both are taken afresh whenever the list
//!   is signed again or the log or the key in use moves (which is when the DID document can
//!   change), so the document is not made again for every credential presented.
//! - The canonical hash (`check::canonical_hash`, proof included) of each credential it issued
//!   is kept in a bounded memo keyed by award and log position (what is at a position never
//!   changes), with the key its proof verified with. A presented credential with one of those
//!   hashes is that very signed document: its proof is not verified again with the same key.
//!   Anything else, and every other check, goes the whole way.
//!
//! Locks: `trust` and `issued` are each held only to read or replace their value, never while
//! another lock is taken or anything is computed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::{Registry, ServiceError};
use crate::credentials::check::{
    self, CheckedStatusList, Evidence, IssuerKeys, Known, RegistryView, Report,
};
use crate::domain::{Award, CertificateNumber, Programme, SignedJson};

/// The most issued credentials' hashes kept in each of the memo's two generations: about
/// 150 bytes each, so at most a megabyte or so whatever the size of the register.
const ISSUED_PER_GENERATION: usize = 4096;

/// The award a presented credential names, if the register holds it, and the signed text of
/// each of its credentials (`Registry::named_award`).
pub(crate) struct Named {
    found: Option<(Arc<Award>, Programme)>,
    texts: Vec<SignedJson>,
}

/// What the registry keeps for checking presented credentials.
#[derive(Default)]
pub(super) struct Recognition {
    /// The keys and status list last checked, and what they were checked from.
    trust: Mutex<Option<Arc<Trust>>>,
    /// The canonical hashes of issued credentials.
    issued: Mutex<IssuedMemo>,
}

/// The registry's DID document and status list as last checked.
struct Trust {
    /// The log's size and the signer's generation it was made at: while both are the same, the
    /// DID document is too.
    made_at: (u64, u64),
    list_bytes: Option<Arc<Vec<u8>>>,
    keys: Option<IssuerKeys>,
    list: Option<CheckedStatusList>,
}

impl Trust {
    fn has_list(&self, list_bytes: Option<&Arc<Vec<u8>>>) -> bool {
        match (&self.list_bytes, list_bytes) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b) || a == b,
            (None, None) => true,
            _ => false,
        }
    }
}

/// An issued credential's canonical hash, and the key its proof verified with once checked.
#[derive(Debug, Clone, Copy)]
struct Issued {
    hash: [u8; 32],
    verified_with: Option<[u8; 32]>,
}

/// A bounded memo: when the newer generation is full it becomes the older one and the older
/// one is dropped, so what is asked for often stays and the whole never passes two generations.
#[derive(Default)]
struct IssuedMemo {
    newer: HashMap<(CertificateNumber, u64), Issued>,
    older: HashMap<(CertificateNumber, u64), Issued>,
}

impl IssuedMemo {
    fn get(&mut self, key: &(CertificateNumber, u64)) -> Option<Issued> {
        if let Some(found) = self.newer.get(key) {
            return Some(*found);
        }
        let found = self.older.remove(key)?;
        self.insert(key.clone(), found);
        Some(found)
    }

    fn insert(&mut self, key: (CertificateNumber, u64), value: Issued) {
        if self.newer.len() >= ISSUED_PER_GENERATION && !self.newer.contains_key(&key) {
            self.older = std::mem::take(&mut self.newer);
        }
        self.newer.insert(key, value);
    }
}

impl Registry {
    /// The award a presented credential names, as the register holds it, with the signed text
    /// of each of its credentials (read from the log unless kept): what `check_presented`
    /// checks it against.
    pub(crate) async fn named_award(&self, presented: &Value) -> Result<Named, ServiceError> {
        let found = check::certificate_number_of(presented).and_then(|n| self.award(&n));
        let texts = match &found {
            Some((award, _)) => self.credential_texts(award).await?,
            None => Vec::new(),
        };
        Ok(Named { found, texts })
    }

    /// Every check of a presented credential against the registry's keys, status list and
    /// register (`check::check_against`), `named` being the award it names
    /// (`named_award`). `raw` is the JSON text it was read from, when it was sent as JSON: the
    /// same bytes as an issued credential's stored text are that credential.
    pub(crate) fn check_presented(
        &self,
        presented: &Value,
        raw: Option<&[u8]>,
        named: &Named,
    ) -> Report {
        let trust = self.trust();
        let programme = match &named.found {
            Some((_, programme)) => programme.clone(),
            None => self.programme(),
        };
        let award = named.found.as_ref().map(|(a, _)| &**a);
        let known = match (award, &trust.keys) {
            (Some(award), Some(keys)) => self.recognise(presented, raw, award, &named.texts, keys),
            _ => None,
        };
        check::check_against(
            presented,
            &Evidence {
                keys: trust.keys.as_ref(),
                status_list: trust.list.as_ref(),
                revoked_since: &|key_id| self.key_revoked_since(key_id),
                now: self.now(),
            },
            Some(RegistryView {
                award,
                texts: &named.texts,
                programme: &programme,
                today: self.today(),
                known,
            }),
        )
    }

    /// The registry's keys and status list, checked: kept while the log and the key in use
    /// have not moved (so the DID document is the same) and the signed list is the same bytes,
    /// checked afresh when any of them changes.
    fn trust(&self) -> Arc<Trust> {
        let made_at = (self.size(), self.signer.generation());
        let list_bytes = self.status_list();
        let held = self.recognition_trust().clone();
        if let Some(trust) = &held
            && trust.made_at == made_at
            && trust.has_list(list_bytes.as_ref())
        {
            return trust.clone();
        }
        let did_document = self.did_document();
        let keys = did_document.as_ref().map(IssuerKeys::of);
        let list = list_bytes
            .as_deref()
            .and_then(|bytes| serde_json::from_slice::<Value>(bytes).ok())
            .map(|list| CheckedStatusList::check(&list, keys.as_ref()));
        let trust = Arc::new(Trust {
            made_at,
            list_bytes,
            keys,
            list,
        });
        *self.recognition_trust() = Some(trust.clone());
        trust
    }

    fn recognition_trust(&self) -> std::sync::MutexGuard<'_, Option<Arc<Trust>>> {
        self.recognition
            .trust
            .lock()
            .expect("the recognition lock is never poisoned")
    }

    fn issued_memo(&self) -> std::sync::MutexGuard<'_, IssuedMemo> {
        self.recognition
            .issued
            .lock()
            .expect("the issued memo's lock is never poisoned")
    }

    /// Which of `award`'s credentials (their signed `texts`) `presented` is, canonically byte
    /// for byte with its proof (or, sent as `raw`, the very bytes of its stored text, which
    /// need no canonical form), and the key that proof verified with; `None` when it is none of
    /// them (or its proof does not verify with the key it names, which the signature check then
    /// says).
    fn recognise(
        &self,
        presented: &Value,
        raw: Option<&[u8]>,
        award: &Award,
        texts: &[SignedJson],
        keys: &IssuerKeys,
    ) -> Option<Known> {
        if award.credentials.is_empty() || texts.len() != award.credentials.len() {
            return None;
        }
        let same_text = raw.and_then(|raw| {
            texts
                .iter()
                .rposition(|text| text.as_str().as_bytes() == raw)
        });
        let hash = match same_text {
            Some(_) => None,
            None => Some(check::canonical_hash(presented)),
        };
        for (index, issued) in award.credentials.iter().enumerate().rev() {
            if same_text.is_some_and(|i| i != index) {
                continue;
            }
            let at = (award.certificate_number.clone(), issued.position);
            let memo = self.issued_memo().get(&at);
            let mut entry = match memo {
                Some(entry) => entry,
                None => {
                    let entry = Issued {
                        hash: check::canonical_hash(&texts[index].value()),
                        verified_with: None,
                    };
                    self.issued_memo().insert(at.clone(), entry);
                    entry
                }
            };
            if hash.is_some_and(|hash| entry.hash != hash) {
                continue;
            }
            let (key, _, _) = keys.key_for(presented).ok()?;
            if entry.verified_with != Some(key.to_bytes()) {
                // Verified in full once with this key, as any other credential is.
                crate::credentials::credential::verify_proof(presented, &key).ok()?;
                entry.verified_with = Some(key.to_bytes());
                self.issued_memo().insert(at, entry);
            }
            return Some(Known {
                issued: index,
                verified_with: key.to_bytes(),
            });
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_memo_keeps_at_most_two_generations_and_what_is_asked_for() {
        let mut memo = IssuedMemo::default();
        let number = CertificateNumber::from_random(1);
        let entry = Issued {
            hash: [1; 32],
            verified_with: None,
        };
        for position in 0..(3 * ISSUED_PER_GENERATION as u64) {
            memo.insert((number.clone(), position), entry);
            // The first is asked for all along, so it is kept.
            assert!(memo.get(&(number.clone(), 0)).is_some(), "at {position}");
        }
        assert!(memo.newer.len() + memo.older.len() <= 2 * ISSUED_PER_GENERATION);
        assert!(memo.get(&(number.clone(), 1)).is_none());
    }
}
