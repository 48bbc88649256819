//! Signing: the key in use (following rotations by other processes), the credentials the
//! events of an append call for, credentials for awards that have none, the did:web document
//! and the signed status list. What goes into a credential or the list is the pure
//! `credentials` module's; this file decides when and with which key.

use std::collections::{BTreeSet, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, RwLock};

use chrono::{DateTime, SecondsFormat, Utc};
use rand::Rng;

use super::writer::AppendDraft;
use super::{Registry, ServiceError};
use crate::credentials::credential::STATUS_LIST_SIZE;
use crate::domain::{CertificateNumber, Event, State};
use crate::error_codes::ErrorCode;

/// The key the registry signs with, and the names it signs under.
#[derive(Clone)]
pub struct Signing {
    pub key_id: String,
    pub key: ed25519_dalek::SigningKey,
    /// The base URL credentials name (ids, status list, achievements).
    pub public_url: String,
    /// The issuer's did:web.
    pub did: String,
    /// Where the keys live, to load the next active key after a rotation by another process.
    pub keys_dir: Option<std::path::PathBuf>,
}

impl fmt::Debug for Signing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the private key.
        f.debug_struct("Signing")
            .field("key_id", &self.key_id)
            .field("did", &self.did)
            .finish_non_exhaustive()
    }
}

/// Credentials being signed, one award at a time (`Registry::credential_signing`): the key,
/// the status list entries in use (each new one added) and the time they are created.
pub(super) struct CredentialSigning {
    signing: Signing,
    used: HashSet<String>,
    created: String,
}

impl CredentialSigning {
    /// The newly signed credential of award `number` as it stands in `post`, applied to
    /// `post`; None when `post` holds no such award.
    pub(super) fn sign(
        &mut self,
        registry: &Registry,
        post: &mut State,
        number: CertificateNumber,
    ) -> Result<Option<Event>, ServiceError> {
        let Some(award) = post.awards.get(&number) else {
            return Ok(None);
        };
        let index = registry.status_list_index_for(award, &number, &mut self.used)?;
        let credential = signed_credential(award, &index, &self.signing, &self.created);
        let event = Event::CredentialIssued {
            certificate_number: number,
            organisation_id: award.organisation_id,
            key_id: self.signing.key_id.clone(),
            status_list_index: index,
            credential,
        };
        post.apply(post.size, &event);
        Ok(Some(event))
    }
}

/// The signed status list as last built: (its ETag, naming the log size and the day it was
/// signed on; key id; JSON bytes).
pub(super) type SignedStatusList = (String, String, Arc<Vec<u8>>);

/// The signing part of the registry: the key it signs with and what it last signed alone.
pub(super) struct Signer {
    /// The key in use (`None`: this registry signs nothing). Read (and cloned out) by every
    /// signing; written by `set_signing` and by `refresh_signing` after a rotation. Taken under
    /// the log's cache lock when a decision checks the key it is about to sign with
    /// (`awaited_key_in`), never the other way round.
    signing: RwLock<Option<Signing>>,
    /// How many times the key in use has been set: what a view of it (the DID document the
    /// presented credentials are checked against) was made from.
    generation: std::sync::atomic::AtomicU64,
    /// The newly active key last said to be missing from the keys folder (said once a key).
    /// Held only to swap the name.
    key_awaited_said: Mutex<Option<String>>,
    /// The signed status list, keyed on its ETag (the log size and the UTC day its validity
    /// starts) and the key id. Held while a new list is signed, so one request signs and the
    /// others wait for its bytes: the log's cache lock is taken under it, never the reverse.
    status_list: Mutex<Option<SignedStatusList>>,
}

impl Signer {
    pub(super) fn new() -> Signer {
        Signer {
            signing: RwLock::new(None),
            generation: std::sync::atomic::AtomicU64::new(0),
            key_awaited_said: Mutex::new(None),
            status_list: Mutex::new(None),
        }
    }

    /// The key held, whether or not it is the active one.
    fn held(&self) -> Option<Signing> {
        self.signing
            .read()
            .expect("the signing lock is never poisoned")
            .clone()
    }

    /// The id of the key held.
    fn held_key_id(&self) -> Option<String> {
        self.signing
            .read()
            .expect("the signing lock is never poisoned")
            .as_ref()
            .map(|s| s.key_id.clone())
    }

    fn set(&self, signing: Signing) {
        let mut held = self
            .signing
            .write()
            .expect("the signing lock is never poisoned");
        *held = Some(signing);
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    /// How many times the key in use has been set.
    pub(super) fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Whether `active` is newly said to be awaited (said once a key).
    fn first_to_say_awaited(&self, active: &str) -> bool {
        let said = self
            .key_awaited_said
            .lock()
            .expect("the awaited key's lock is never poisoned")
            .replace(active.to_owned());
        said.as_deref() != Some(active)
    }

    /// The status list as last signed.
    pub(super) fn status_list(&self) -> std::sync::MutexGuard<'_, Option<SignedStatusList>> {
        self.status_list
            .lock()
            .expect("the status list cache lock is never poisoned")
    }
}

impl Registry {
    /// Signs new credentials with `signing` from now on.
    pub fn set_signing(&self, signing: Signing) {
        self.signer.set(signing);
    }

    /// Follows a key rotation recorded by another process: when the log's active key is not the
    /// one in use, loads it from the keys folder (the background task asks every second, so a
    /// key file copied in after the rotation is taken up without a restart). Until it has it,
    /// `awaited_key` names it and nothing is signed. Returns whether the key changed.
    pub(crate) fn refresh_signing(&self) -> bool {
        let Some(current) = self.held_signing() else {
            return false;
        };
        let Some(active) = self.awaited_key() else {
            return false;
        };
        let Some(dir) = current.keys_dir.as_deref() else {
            return false;
        };
        match crate::credentials::keys::load(&crate::credentials::keys::path_of(dir, &active)) {
            Ok(key) if crate::credentials::keys::key_id(&key) == active => {
                tracing::info!(key_id = %active, "signing with the newly active key");
                self.set_signing(Signing {
                    key_id: active,
                    key,
                    ..current
                });
                true
            }
            loaded => {
                // Said once a key, not at every look.
                if self.signer.first_to_say_awaited(&active) {
                    let error = match loaded {
                        Ok(_) => "the file holds another key".to_owned(),
                        Err(e) => e.to_string(),
                    };
                    tracing::error!(
                        key_id = %active,
                        folder = %dir.display(),
                        error = %error,
                        "the log says the signing key {active} is active, and this instance does not hold it: it signs nothing (writes that sign are refused with 503, /readyz fails) until the key's file is copied into its keys folder"
                    );
                }
                false
            }
        }
    }

    /// The key the log says is active when it is not the one this instance holds (after a
    /// rotation made elsewhere, until its file is loaded): nothing may be signed meanwhile, so
    /// that no instance signs with a retired key after another is activated. `None` when the
    /// key held is the active one, when no key is held, or when the log has no active key.
    pub(crate) fn awaited_key(&self) -> Option<String> {
        self.read_cache(|c| self.awaited_key_in(&c.state))
    }

    /// `awaited_key` as of `state` (for a caller that holds the cache already: the cache lock
    /// is never taken twice by one thread).
    fn awaited_key_in(&self, state: &State) -> Option<String> {
        let held = self.signer.held_key_id()?;
        state
            .active_key()
            .map(|k| k.key_id.clone())
            .filter(|active| *active != held)
    }

    /// The refusal of a signing while the log as of `state` names another active key than the
    /// one held (503 `signing_key_not_loaded`).
    pub(super) fn signing_refused(&self, state: &State) -> Result<(), ServiceError> {
        match self.awaited_key_in(state) {
            None => Ok(()),
            Some(key_id) => Err(ServiceError::Invalid {
                code: ErrorCode::SigningKeyNotLoaded,
                message: format!(
                    "the signing key {key_id} is active, and this instance has not loaded it from \
                     its keys folder yet; nothing was changed: try again in a moment"
                ),
            }),
        }
    }

    /// The key held, whether or not it is the active one (for what names the issuer only).
    fn held_signing(&self) -> Option<Signing> {
        self.signer.held()
    }

    /// The key in use, signing for the address the log records (which every process follows,
    /// so that a change made by another process is signed for at once). None while the log's
    /// active key is another one (`awaited_key`).
    pub fn signing(&self) -> Option<Signing> {
        let (recorded, awaited) =
            self.read_cache(|c| (c.state.public_url.clone(), self.awaited_key_in(&c.state)));
        if awaited.is_some() {
            return None;
        }
        self.signing_for(recorded.as_ref())
    }

    /// The key held, signing for `recorded` when the log records an address (whether it is the
    /// active one is the caller's to check: `signing_refused`).
    pub(super) fn signing_for(
        &self,
        recorded: Option<&crate::domain::PublicUrl>,
    ) -> Option<Signing> {
        let mut signing = self.held_signing()?;
        if let Some(url) = recorded
            && url.as_str() != signing.public_url
        {
            signing.public_url = url.to_string();
            signing.did = crate::credentials::credential::did_web(url.as_str());
        }
        Some(signing)
    }

    /// The awards whose credentials `events` make: an award issued, amended or reinstated (a
    /// reinstated award is signed afresh under a new status list entry: its credential from
    /// before stays withdrawn), and, when the registry's address is recorded, every award whose
    /// credential names another address (re-signed for the recorded one: after a move, or on a
    /// log from before addresses were recorded, whose commands signed for a default; the copies
    /// issued before keep theirs).
    pub(super) fn credentials_called_for(events: &[Event], post: &State) -> Vec<CertificateNumber> {
        let recorded = events.iter().rev().find_map(|e| match e {
            Event::RegistryAddressRecorded { public_url, .. } => Some(public_url.as_str()),
            _ => None,
        });
        let mut numbers: Vec<CertificateNumber> = events
            .iter()
            .filter_map(|e| match e {
                Event::AwardIssued {
                    certificate_number, ..
                }
                | Event::AwardAmended {
                    certificate_number, ..
                }
                | Event::AwardReinstated {
                    certificate_number, ..
                } => Some(certificate_number.clone()),
                _ => None,
            })
            .collect();
        if let Some(url) = recorded {
            numbers.extend(
                post.awards
                    .values()
                    .filter(|a| {
                        a.credentials
                            .last()
                            .is_some_and(|c| c.issuer_url.as_deref() != Some(url))
                    })
                    .map(|a| a.certificate_number.clone()),
            );
        }
        let mut seen = std::collections::HashSet::new();
        numbers.retain(|n| seen.insert(n.clone()));
        numbers
    }

    /// Newly signed credentials for the awards `numbers`, as they stand in `post` (the state
    /// after the events that call for them), applied to `post`. None without a signing key.
    /// Refused when an award needs a status list index and every one is in use.
    pub(super) fn sign_credentials(
        &self,
        before: &State,
        post: &mut State,
        numbers: Vec<CertificateNumber>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Event>, ServiceError> {
        if numbers.is_empty() {
            return Ok(Vec::new());
        }
        let Some(mut signing) = self.credential_signing(before, post, now)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for number in numbers {
            out.extend(signing.sign(self, post, number)?);
        }
        Ok(out)
    }

    /// What signing credentials after `before` needs, made once for any number of them: the
    /// key (for the address `post` records) and the status list entries in use. None without
    /// a signing key; refused while the log names another active key than the one held.
    pub(super) fn credential_signing(
        &self,
        before: &State,
        post: &State,
        now: DateTime<Utc>,
    ) -> Result<Option<CredentialSigning>, ServiceError> {
        self.signing_refused(before)?;
        // The address as of these events: a change in the same append is signed for already.
        let Some(signing) = self.signing_for(post.public_url.as_ref()) else {
            return Ok(None);
        };
        Ok(Some(CredentialSigning {
            signing,
            used: used_status_list_indexes(before),
            created: now.to_rfc3339_opts(SecondsFormat::Secs, true),
        }))
    }

    /// The status list index `award`'s new credential takes: its own, unless it needs a fresh
    /// entry; else a free one, drawn at random and added to `used`. Refused when none is free.
    fn status_list_index_for(
        &self,
        award: &crate::domain::Award,
        number: &CertificateNumber,
        used: &mut HashSet<String>,
    ) -> Result<String, ServiceError> {
        let reuse = award
            .status_list_index()
            .map(str::to_owned)
            .filter(|_| !crate::credentials::credential::needs_fresh_entry(award));
        let index = match reuse {
            Some(index) => index,
            None => free_status_list_index(used, STATUS_LIST_SIZE, |capacity| {
                self.rng
                    .lock()
                    .expect("the random source's lock is never poisoned")
                    .gen_range(0..capacity)
            })
            .ok_or_else(|| ServiceError::Invalid {
                code: ErrorCode::StatusListFull,
                message: format!(
                    "every one of the status list's {STATUS_LIST_SIZE} indexes is in use, so \
                     no credential can be signed for award {number}"
                ),
            })?,
        };
        Ok(index)
    }

    /// Issues a credential for every award that has none (after a signing key is first set up).
    pub async fn issue_missing_credentials(&self) -> Result<usize, ServiceError> {
        self.sign_again(|a| a.credentials.is_empty()).await
    }

    /// Signs again, with the active key, every award whose current credential the key `key_id`
    /// signed (after that key is revoked as compromised, so that every holder's download
    /// verifies again): one `credential_issued` event each, in one append, keeping each award's
    /// status list entry. Refused when `key_id` is not a key of the log (the active key has
    /// nothing to sign again: what it signed it would sign the same).
    pub(crate) async fn resign_credentials_of(&self, key_id: &str) -> Result<usize, ServiceError> {
        self.catch_up().await?;
        let known = self.read_cache(|c| c.state.keys.iter().any(|k| k.key_id == key_id));
        if !known {
            return Err(crate::domain::DomainError::KeyNotFound(key_id.to_owned()).into());
        }
        if let Some(key_id) = self.awaited_key() {
            return Err(ServiceError::Invalid {
                code: ErrorCode::SigningKeyNotLoaded,
                message: format!("the active signing key {key_id} is not loaded"),
            });
        }
        if self.signing().is_none() {
            return Err(ServiceError::Invalid {
                code: ErrorCode::NoSigningKey,
                message: "this registry has no signing key to sign with".into(),
            });
        }
        self.sign_again(|a| a.credentials.last().is_some_and(|c| *c.key_id == *key_id))
            .await
    }

    /// Signs a new credential for every award `wanted` picks, in one append.
    async fn sign_again(
        &self,
        wanted: impl Fn(&crate::domain::state::Award) -> bool,
    ) -> Result<usize, ServiceError> {
        if self.signing().is_none() {
            return Ok(0);
        }
        self.catch_up().await?;
        let now = self.now();
        let request = {
            let cache = self
                .log
                .cache
                .read()
                .expect("the cache lock is never poisoned");
            let missing: Vec<CertificateNumber> = cache
                .state
                .awards
                .values()
                .filter(|a| wanted(a))
                .map(|a| a.certificate_number.clone())
                .collect();
            if missing.is_empty() {
                return Ok(0);
            }
            let mut post = cache.state.clone();
            let events = self.sign_credentials(&cache.state, &mut post, missing, now)?;
            let mut streams: BTreeSet<String> = events.iter().map(Event::stream).collect();
            // Signed with the key the log's key stream names as of this reading.
            streams.insert(crate::domain::events::KEYS_STREAM.to_owned());
            let draft = AppendDraft {
                events,
                streams: streams.into_iter().collect(),
                idempotency: None,
                writes: Vec::new(),
            };
            self.append_request("system", now, &cache.versions, draft)
        };
        let count = request.events.len();
        self.append(request).await?;
        self.catch_up().await?;
        Ok(count)
    }

    /// When a key was revoked as compromised, if it was.
    pub(crate) fn key_revoked_since(&self, key_id: &str) -> Option<DateTime<Utc>> {
        self.read_cache(|c| {
            c.state
                .keys
                .iter()
                .find(|k| k.key_id == key_id)
                .and_then(|k| k.revoked_since.as_deref())
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                .map(|t| t.with_timezone(&Utc))
        })
    }

    /// A number that changes whenever the keys do (for the did.json ETag).
    pub(crate) fn keys_version(&self) -> String {
        self.read_cache(|c| {
            let revoked = c
                .state
                .keys
                .iter()
                .filter(|k| k.revoked_since.is_some())
                .count();
            format!("{}-{revoked}", c.state.keys.len())
        })
    }

    /// The did:web document of the registry's keys (served while a newly active key is
    /// awaited too: it names public keys only).
    pub(crate) fn did_document(&self) -> Option<serde_json::Value> {
        let recorded = self.read_cache(|c| c.state.public_url.clone());
        let mut signing = self.held_signing()?;
        if let Some(url) = recorded {
            signing.did = crate::credentials::credential::did_web(url.as_str());
        }
        let keys = self.read_cache(|c| {
            c.state
                .keys
                .iter()
                .map(|k| crate::credentials::credential::PublishedKey {
                    key_id: k.key_id.clone(),
                    public_key_multibase: k.public_key_multibase.clone(),
                    trusted: k.revoked_since.is_none(),
                })
                .collect::<Vec<_>>()
        });
        Some(crate::credentials::credential::did_document(
            &signing.did,
            &keys,
        ))
    }

    /// The signed revocation status list, as JSON bytes.
    pub(crate) fn status_list(&self) -> Option<Arc<Vec<u8>>> {
        self.status_list_signed().map(|(_, bytes)| bytes)
    }

    /// The signed revocation status list and its `ETag`. Signed again when the log or the key
    /// moves, and each UTC day (`status_list_period`: a list is valid for two days from the
    /// start of the day it was signed on, so a fresh one is signed when less than a day of the
    /// last remains). Between those, every answer is the same bytes, on every instance.
    pub(crate) fn status_list_signed(&self) -> Option<(String, Arc<Vec<u8>>)> {
        use crate::credentials::credential as vc;
        let signing = self.signing()?;
        let size = self.size();
        let period = vc::status_list_period(self.now());
        let tag = format!("status-{size}-{}", period.0.format("%Y%m%d"));
        let mut cache = self.signer.status_list();
        if let Some((t, k, bytes)) = cache.as_ref()
            && *t == tag
            && *k == signing.key_id
        {
            return Some((tag, bytes.clone()));
        }
        let set = self.read_cache(|c| vc::status_list_contents(&c.state));
        let issuer = crate::domain::types::issuer_name_on(self.today());
        let unsigned = vc::status_list(&set, &signing.did, issuer, &signing.public_url, period);
        let signed = vc::sign(
            &unsigned,
            &signing.key,
            &format!("{}#{}", signing.did, signing.key_id),
            &vc::xsd_time(period.0),
        );
        let bytes = Arc::new(serde_json::to_vec(&signed).expect("JSON serialises"));
        *cache = Some((tag.clone(), signing.key_id.clone(), bytes.clone()));
        Some((tag, bytes))
    }
}

/// Every status list index ever given in `before`, so that no entry is used twice (a withdrawn
/// one stays set).
fn used_status_list_indexes(before: &State) -> HashSet<String> {
    before
        .awards
        .values()
        .flat_map(|a| a.credentials.iter().map(|c| c.status_list_index.clone()))
        .collect()
}

/// `award`'s next credential at status list entry `index`, signed with `signing`'s key at
/// `created`.
fn signed_credential(
    award: &crate::domain::Award,
    index: &str,
    signing: &Signing,
    created: &str,
) -> crate::domain::events::SignedJson {
    let unsigned = crate::credentials::credential::open_badge(
        award,
        award.credentials.len() as u64 + 1,
        index,
        &signing.did,
        &signing.public_url,
    );
    crate::domain::events::SignedJson::of(&crate::credentials::credential::as_proof_set(
        crate::credentials::credential::sign(
            &unsigned,
            &signing.key,
            &format!("{}#{}", signing.did, signing.key_id),
            created,
        ),
    ))
}

/// A status list index (of `capacity`) not in `used`, marked used: drawn at random by `draw`
/// (given the capacity) until one is free, so the indexes issued give nothing away about the
/// order of awards. `None` once every index is used, where drawing would never end.
pub(crate) fn free_status_list_index(
    used: &mut HashSet<String>,
    capacity: usize,
    mut draw: impl FnMut(usize) -> usize,
) -> Option<String> {
    // Counting the free indexes only when the set could hold them all keeps the common case
    // (a list far from full) to one look-up a draw.
    if used.len() >= capacity && (0..capacity).all(|i| used.contains(&i.to_string())) {
        return None;
    }
    loop {
        let candidate = draw(capacity).to_string();
        if used.insert(candidate.clone()) {
            return Some(candidate);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::free_status_list_index;

    #[test]
    fn a_status_list_index_is_the_first_free_one_drawn_and_none_once_the_list_is_full() {
        // Given a list of 4 indexes with 1 and 3 in use, draws of 3, 1, 2: the first free one
        // drawn.
        let mut used: HashSet<String> = ["1", "3"].into_iter().map(String::from).collect();
        let mut draws = vec![3, 1, 2, 0].into_iter();
        let mut next = |capacity: usize| {
            assert_eq!(capacity, 4, "drawn from the whole list");
            draws.next().expect("a draw")
        };
        assert_eq!(
            free_status_list_index(&mut used, 4, &mut next).as_deref(),
            Some("2")
        );
        assert_eq!(
            free_status_list_index(&mut used, 4, &mut next).as_deref(),
            Some("0")
        );
        // When every index is used, no draw is made and none is given (drawing would never end).
        assert_eq!(used.len(), 4);
        assert_eq!(
            free_status_list_index(&mut used, 4, |_| panic!("no draw when the list is full")),
            None
        );
    }
}
