//! Checking a presented credential, each check by name: `signature`, `key`, `validity`, `status`
//! and, where the registry is at hand, `registry` (agreement with its current record). Used by
//! `POST /v1/verify` and, offline against a did.json and a status list, by `wexqs verify`.

use chrono::{DateTime, Utc};
use ed25519_dalek::VerifyingKey;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::credentials::baking::{BakingError, unbake_png, unbake_svg};
use crate::credentials::credential;
use crate::domain::{Award, CertificateNumber, Programme, SignedJson, status_as_of};

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub passed: bool,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `valid` when every check passed, else `invalid`.
    pub verdict: &'static str,
    pub checks: Vec<Check>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) certificate_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) credential: Option<Value>,
}

/// The registry's view of an award, for the `registry` check.
#[derive(Debug)]
pub struct RegistryView<'a> {
    pub(crate) award: Option<&'a Award>,
    /// The signed text of each of the award's credentials, in its order (read from the log).
    pub(crate) texts: &'a [SignedJson],
    pub(crate) programme: &'a Programme,
    pub(crate) today: chrono::NaiveDate,
    /// Set when the presented credential is one of the award's credentials, canonically byte
    /// for byte, proof included (`canonical_hash`).
    pub(crate) known: Option<Known>,
}

/// A presented credential recognised as the award's credential at `issued` (its index in
/// `Award::credentials`), whose proof has verified with the key `verified_with`: the same
/// canonical document verifies with the same key every time, so it is not verified again with it.
#[derive(Debug, Clone, Copy)]
pub struct Known {
    pub(crate) issued: usize,
    pub(crate) verified_with: [u8; 32],
}

/// SHA-256 of a document's JCS bytes (RFC 8785), proof and all. JCS writes each value one way
/// whatever the spacing, key order or escapes it came in, and writes a number one way however
/// it was written; the registry's credentials hold no numbers (a status list index is a string),
/// so a document with the hash of one of them is that credential, value for value.
pub fn canonical_hash(document: &Value) -> [u8; 32] {
    Sha256::digest(credential::jcs(document)).into()
}

/// The issuer's keys as its DID document lists them, each key parsed once: where a proof's
/// verification method is looked up.
#[derive(Debug, Clone)]
pub struct IssuerKeys {
    /// Each verification method's id and its key (or why it cannot be used), in the document's
    /// order: the first with an id is the one found.
    methods: Vec<(String, Result<VerifyingKey, &'static str>)>,
    /// The methods the document trusts for assertions.
    assertion: Vec<String>,
}

impl IssuerKeys {
    pub fn of(did_document: &Value) -> IssuerKeys {
        let methods = did_document
            .get("verificationMethod")
            .and_then(Value::as_array)
            .map(|ms| {
                ms.iter()
                    .filter_map(|m| {
                        let id = m.get("id")?.as_str()?;
                        let key = m
                            .get("publicKeyMultibase")
                            .and_then(Value::as_str)
                            .ok_or("the key has no publicKeyMultibase")
                            .and_then(|k| {
                                credential::parse_public_multibase(k)
                                    .map_err(|_| "the key is not an Ed25519 Multikey")
                            });
                        Some((id.to_owned(), key))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let assertion = did_document
            .get("assertionMethod")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        IssuerKeys { methods, assertion }
    }

    /// The key a document's proof names: (public key, trusted for assertions, method).
    pub(crate) fn key_for(&self, secured: &Value) -> Result<(VerifyingKey, bool, String), String> {
        let method =
            credential::proof_method(secured).ok_or("the proof names no verification method")?;
        let key = self
            .methods
            .iter()
            .find(|(id, _)| id == method)
            .map(|(_, key)| *key)
            .ok_or_else(|| format!("the issuer's DID document has no key {method}"))??;
        let trusted = self.assertion.iter().any(|m| m == method);
        Ok((key, trusted, method.to_owned()))
    }
}

/// A status list checked once, so that any number of credentials can be looked up in it: the
/// key its proof names, its signature and its bits. Whether it is current is asked at each look-up.
#[derive(Debug, Clone)]
pub struct CheckedStatusList {
    id: Option<String>,
    valid_from: Option<DateTime<Utc>>,
    valid_until: Option<DateTime<Utc>>,
    trust: ListTrust,
}

#[derive(Debug, Clone)]
enum ListTrust {
    /// The key its proof names is not to be had (why).
    NoKey(String),
    /// Its key was found: its bits once its signature verified and its list decoded, else why not.
    Keyed(Result<Vec<u8>, String>),
}

impl CheckedStatusList {
    /// Checks `list` against the issuer's keys, if any are given.
    pub fn check(list: &Value, keys: Option<&IssuerKeys>) -> CheckedStatusList {
        let trust = match keys
            .ok_or_else(|| "no DID document to check the status list's signature".to_owned())
            .and_then(|keys| keys.key_for(list))
        {
            Err(why) => ListTrust::NoKey(why),
            Ok((key, _, _)) => ListTrust::Keyed(
                credential::verify_proof(list, &key)
                    .map_err(|e| format!("the status list's signature: {e}"))
                    .and_then(|()| {
                        list.get("credentialSubject")
                            .and_then(|s| s.get("encodedList"))
                            .and_then(Value::as_str)
                            .ok_or_else(|| "the status list has no encodedList".to_owned())
                    })
                    .and_then(|encoded| {
                        credential::decode_bitstring(encoded)
                            .map_err(|_| "the status list cannot be decoded".to_owned())
                    }),
            ),
        };
        CheckedStatusList {
            id: list.get("id").and_then(Value::as_str).map(str::to_owned),
            valid_from: time(list.get("validFrom")),
            valid_until: time(list.get("validUntil")),
            trust,
        }
    }
}

/// What a credential is checked against: the issuer's keys, its status list (checked against
/// them), the keys revoked as compromised (key id → since) and the time.
pub struct Evidence<'a> {
    pub keys: Option<&'a IssuerKeys>,
    pub status_list: Option<&'a CheckedStatusList>,
    pub revoked_since: &'a dyn Fn(&str) -> Option<DateTime<Utc>>,
    pub now: DateTime<Utc>,
}

impl std::fmt::Debug for Evidence<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Evidence")
            .field("keys", &self.keys)
            .field("status_list", &self.status_list)
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PresentedError {
    #[error("the body is not a credential: {0}")]
    NotJson(String),
    #[error(
        "the image has no baked credential (PNG iTXt 'openbadgecredential' or SVG <openbadges:credential>)"
    )]
    NotBaked,
    #[error("the image cannot be read: {0}")]
    BadImage(String),
    #[error(
        "the content type must be application/json, application/vc+ld+json, image/png or image/svg+xml"
    )]
    UnsupportedType,
    #[error("{}", too_large_message())]
    TooLarge,
}

/// The credential inside a presented body: JSON as it is, or baked into a PNG or an SVG. Every
/// step is bounded (`crate::limits`): nothing is inflated or parsed past `MAX_CREDENTIAL_JSON`.
pub fn extract(content_type: &str, body: &[u8]) -> Result<Value, PresentedError> {
    use crate::limits::MAX_CREDENTIAL_JSON;
    let unreadable = |e: BakingError| match e {
        BakingError::TooLarge(_) => PresentedError::TooLarge,
        e => PresentedError::BadImage(e.to_string()),
    };
    let json = if content_type.starts_with("image/png") {
        unbake_png(body)
            .map_err(unreadable)?
            .ok_or(PresentedError::NotBaked)?
    } else if content_type.starts_with("image/svg+xml") {
        let text = std::str::from_utf8(body)
            .map_err(|_| PresentedError::BadImage("the SVG is not UTF-8".into()))?;
        unbake_svg(text)
            .map_err(unreadable)?
            .ok_or(PresentedError::NotBaked)?
    } else if content_type.starts_with("application/json")
        || content_type.starts_with("application/vc+ld+json")
        || content_type.starts_with("application/ld+json")
    {
        if body.len() > MAX_CREDENTIAL_JSON {
            return Err(PresentedError::TooLarge);
        }
        String::from_utf8(body.to_vec()).map_err(|e| PresentedError::NotJson(e.to_string()))?
    } else {
        return Err(PresentedError::UnsupportedType);
    };
    let value: Value =
        serde_json::from_str(&json).map_err(|e| PresentedError::NotJson(e.to_string()))?;
    if !value.is_object() {
        return Err(PresentedError::NotJson(
            "a credential is a JSON object".into(),
        ));
    }
    Ok(value)
}

fn too_large_message() -> String {
    format!(
        "a credential is at most {} of JSON, baked or not",
        crate::limits::human_size(crate::limits::MAX_CREDENTIAL_JSON)
    )
}

/// The certificate number a credential's subject names (`…/v1/awards/NUMBER`).
pub(crate) fn certificate_number_of(presented: &Value) -> Option<CertificateNumber> {
    presented
        .get("credentialSubject")?
        .get("id")?
        .as_str()?
        .rsplit('/')
        .next()?
        .parse()
        .ok()
}

fn check(name: &'static str, result: Result<String, String>) -> Check {
    match result {
        Ok(detail) => Check {
            name,
            passed: true,
            detail,
        },
        Err(detail) => Check {
            name,
            passed: false,
            detail,
        },
    }
}

fn time(value: Option<&Value>) -> Option<DateTime<Utc>> {
    value
        .and_then(Value::as_str)
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// Runs every check. `revoked_since` names keys revoked as compromised (key id → since).
pub fn check_credential(
    presented: &Value,
    did_document: Option<&Value>,
    status_list: Option<&Value>,
    revoked_since: &dyn Fn(&str) -> Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    registry: Option<RegistryView<'_>>,
) -> Report {
    let keys = did_document.map(IssuerKeys::of);
    let list = status_list.map(|l| CheckedStatusList::check(l, keys.as_ref()));
    let evidence = Evidence {
        keys: keys.as_ref(),
        status_list: list.as_ref(),
        revoked_since,
        now,
    };
    check_against(presented, &evidence, registry)
}

/// Runs every check against evidence prepared beforehand (`IssuerKeys::of`,
/// `CheckedStatusList::check`), so that what many checks share is prepared once.
pub fn check_against(
    presented: &Value,
    evidence: &Evidence<'_>,
    registry: Option<RegistryView<'_>>,
) -> Report {
    let Evidence {
        keys,
        status_list,
        revoked_since,
        now,
    } = *evidence;
    let mut checks = Vec::new();
    let key = match keys {
        Some(keys) => keys.key_for(presented),
        None => Err("no DID document was given to find the issuer's key in".to_owned()),
    };
    let created = time(credential::proof_of(presented).and_then(|p| p.get("created")));
    let known = registry.as_ref().and_then(|view| view.known);

    checks.push(check(
        "signature",
        key.as_ref()
            .map_err(Clone::clone)
            .and_then(|(k, _, method)| {
                if known.is_some_and(|known| known.verified_with == *k.as_bytes()) {
                    return Ok(format!("the eddsa-jcs-2022 proof verifies with {method}"));
                }
                credential::verify_proof(presented, k)
                    .map(|()| format!("the eddsa-jcs-2022 proof verifies with {method}"))
                    .map_err(|e| e.to_string())
            }),
    ));
    checks.push(check(
        "key",
        key.as_ref().map_err(Clone::clone).and_then(|(_, trusted, method)| {
            let key_id = method.rsplit('#').next().unwrap_or_default();
            match (revoked_since(key_id), created) {
                (Some(since), Some(created)) if created >= since => Err(format!(
                    "the key {key_id} was revoked as compromised from {since}; this was signed at {created}"
                )),
                (Some(_), None) => Err(format!("the key {key_id} was revoked and the proof has no time")),
                (Some(since), Some(_)) => Ok(format!(
                    "signed by {key_id} before it was revoked as compromised ({since})"
                )),
                (None, _) if !trusted => {
                    Err(format!("the issuer no longer trusts the key {key_id} for assertions"))
                }
                (None, _) => Ok(format!("{key_id} is a key of the issuer and was not revoked")),
            }
        }),
    ));
    let valid_from = time(presented.get("validFrom"));
    let valid_until = time(presented.get("validUntil"));
    checks.push(check(
        "validity",
        match (valid_from, valid_until) {
            (Some(from), _) if now < from => Err(format!("not valid until {from}")),
            (_, Some(until)) if now >= until => Err(format!("expired at {until}")),
            (Some(from), Some(until)) => Ok(format!("valid from {from} until {until}")),
            _ => Err("the credential has no validFrom and validUntil".into()),
        },
    ));
    checks.push(check("status", status_check(presented, status_list, now)));
    let number = certificate_number_of(presented);
    if let Some(view) = registry {
        checks.push(check(
            "registry",
            registry_check(presented, number.as_ref(), &view),
        ));
    }
    let valid = checks.iter().all(|c| c.passed);
    Report {
        verdict: if valid { "valid" } else { "invalid" },
        checks,
        certificate_number: number.map(|n| n.to_string()),
        credential: None,
    }
}

fn status_check(
    presented: &Value,
    status_list: Option<&CheckedStatusList>,
    now: DateTime<Utc>,
) -> Result<String, String> {
    let entry = presented
        .get("credentialStatus")
        .ok_or("the credential has no credentialStatus")?;
    let index: usize = entry
        .get("statusListIndex")
        .and_then(Value::as_str)
        .and_then(|i| i.parse().ok())
        .ok_or("the status entry has no statusListIndex")?;
    let list = status_list.ok_or("no status list was given")?;
    let wanted = entry.get("statusListCredential").and_then(Value::as_str);
    if wanted.is_some() && list.id.as_deref() != wanted {
        return Err("the status list given is not the one the credential names".into());
    }
    let bits = match &list.trust {
        ListTrust::NoKey(why) => return Err(why.clone()),
        ListTrust::Keyed(bits) => bits,
    };
    list_is_current(list, now)?;
    let bits = bits.as_ref().map_err(Clone::clone)?;
    match credential::bit_of(bits, index) {
        Ok(true) => Err(format!(
            "withdrawn: entry {index} of the status list is set (the award is suspended, \
             revoked or replaced, or a newer credential replaced this one)"
        )),
        Ok(false) => Ok(format!(
            "entry {index} of the signed status list is not set"
        )),
        Err(_) => Err("the status list cannot be decoded".into()),
    }
}

/// A status list is trusted only over the period it was signed for: a copy kept from before a
/// revocation must not un-revoke the credential for longer than that.
fn list_is_current(list: &CheckedStatusList, now: DateTime<Utc>) -> Result<(), String> {
    let source = list
        .id
        .as_deref()
        .map(|id| format!(" from {id}"))
        .unwrap_or_default();
    let day = |t: DateTime<Utc>| t.format("%-d %B %Y at %H:%M UTC").to_string();
    match (list.valid_from, list.valid_until) {
        (_, None) => Err(format!(
            "the status list has no validUntil, so how old it is cannot be told; fetch a fresh copy{source}"
        )),
        (_, Some(until)) if now >= until => Err(format!(
            "the status list expired on {}; fetch a fresh copy{source}",
            day(until)
        )),
        (Some(from), _) if now < from => Err(format!(
            "the status list is not valid until {}; check the clock, or fetch a fresh copy{source}",
            day(from)
        )),
        _ => Ok(()),
    }
}

fn registry_check(
    presented: &Value,
    number: Option<&CertificateNumber>,
    view: &RegistryView<'_>,
) -> Result<String, String> {
    let number = number.ok_or("the credential names no certificate number of this registry")?;
    let award = view
        .award
        .ok_or_else(|| format!("no award {number} is in the register"))?;
    // A credential recognised by its canonical hash is that issued one (no two of an award's
    // credentials have the same content: each names its own version).
    let issued = match view.known {
        Some(known) => Some(known.issued),
        None => issued_index(presented, view.texts),
    };
    let verdict = status_as_of(award, view.programme, view.today);
    match issued {
        None => Err(format!(
            "the register never issued this content for award {number}"
        )),
        Some(i) if i + 1 < award.credentials.len() => Err(format!(
            "a newer credential replaced this one (the award was amended or reinstated since); the register's award is {}",
            verdict.status.as_str()
        )),
        Some(_) if !verdict.valid => Err(format!(
            "the register's award {number} is {} today{}",
            verdict.status.as_str(),
            verdict.reason.map(|r| format!(": {r}")).unwrap_or_default()
        )),
        Some(_) => Ok(format!(
            "matches the register's current record of {number}, valid today"
        )),
    }
}

/// The last of the award's credentials (their `texts`) with the presented content, proof aside.
fn issued_index(presented: &Value, texts: &[SignedJson]) -> Option<usize> {
    let mut unsigned = presented.clone();
    if let Some(o) = unsigned.as_object_mut() {
        o.remove("proof");
    }
    texts.iter().rposition(|c| {
        let mut theirs = c.value();
        if let Some(o) = theirs.as_object_mut() {
            o.remove("proof");
        }
        theirs == unsigned
    })
}
