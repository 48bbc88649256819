//! Checking a presented credential, each check by name: `signature`, `key`, `validity`, `status`
//! and, where the registry is at hand, `registry` (agreement with its current record). Used by
//! `POST /v1/verify` and, offline against a did.json and a status list, by `wexqs verify`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::credentials::baking::{BakingError, unbake_png, unbake_svg};
use crate::credentials::credential::{self, CredentialError};
use crate::domain::{Award, CertificateNumber, Programme, status_as_of};

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
    pub(crate) programme: &'a Programme,
    pub(crate) today: chrono::NaiveDate,
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

/// The key a document's proof names, from a DID document: (public key, trusted for assertions).
fn key_for(
    secured: &Value,
    did_document: &Value,
) -> Result<(ed25519_dalek::VerifyingKey, bool, String), String> {
    let method =
        credential::proof_method(secured).ok_or("the proof names no verification method")?;
    let entry = did_document
        .get("verificationMethod")
        .and_then(Value::as_array)
        .and_then(|ms| {
            ms.iter()
                .find(|m| m.get("id").and_then(Value::as_str) == Some(method))
        })
        .ok_or_else(|| format!("the issuer's DID document has no key {method}"))?;
    let key = entry
        .get("publicKeyMultibase")
        .and_then(Value::as_str)
        .ok_or("the key has no publicKeyMultibase")
        .and_then(|k| {
            credential::parse_public_multibase(k).map_err(|_| "the key is not an Ed25519 Multikey")
        })?;
    let trusted = did_document
        .get("assertionMethod")
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|m| m.as_str() == Some(method)));
    Ok((key, trusted, method.to_owned()))
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
    let mut checks = Vec::new();
    let key = match did_document {
        Some(doc) => key_for(presented, doc),
        None => Err("no DID document was given to find the issuer's key in".to_owned()),
    };
    let created = time(credential::proof_of(presented).and_then(|p| p.get("created")));

    checks.push(check(
        "signature",
        key.as_ref()
            .map_err(Clone::clone)
            .and_then(|(k, _, method)| {
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
    checks.push(check(
        "status",
        status_check(presented, did_document, status_list, now),
    ));
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
    did_document: Option<&Value>,
    status_list: Option<&Value>,
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
    if wanted.is_some() && list.get("id").and_then(Value::as_str) != wanted {
        return Err("the status list given is not the one the credential names".into());
    }
    let doc = did_document.ok_or("no DID document to check the status list's signature")?;
    let (key, _, _) = key_for(list, doc)?;
    list_is_current(list, now)?;
    credential::verify_proof(list, &key)
        .map_err(|e| format!("the status list's signature: {e}"))?;
    let encoded = list
        .get("credentialSubject")
        .and_then(|s| s.get("encodedList"))
        .and_then(Value::as_str)
        .ok_or("the status list has no encodedList")?;
    match credential::bit_is_set(encoded, index) {
        Ok(true) => Err(format!(
            "withdrawn: entry {index} of the status list is set (the award is suspended, \
             revoked or replaced, or a newer credential replaced this one)"
        )),
        Ok(false) => Ok(format!(
            "entry {index} of the signed status list is not set"
        )),
        Err(CredentialError::MalformedStatusList) | Err(_) => {
            Err("the status list cannot be decoded".into())
        }
    }
}

/// A status list is trusted only over the period it was signed for: a copy kept from before a
/// revocation must not un-revoke the credential for longer than that.
fn list_is_current(list: &Value, now: DateTime<Utc>) -> Result<(), String> {
    let source = list
        .get("id")
        .and_then(Value::as_str)
        .map(|id| format!(" from {id}"))
        .unwrap_or_default();
    let day = |t: DateTime<Utc>| t.format("%-d %B %Y at %H:%M UTC").to_string();
    match (time(list.get("validFrom")), time(list.get("validUntil"))) {
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
    let mut unsigned = presented.clone();
    if let Some(o) = unsigned.as_object_mut() {
        o.remove("proof");
    }
    let issued = award.credentials.iter().rposition(|c| {
        let mut theirs = c.credential.value();
        if let Some(o) = theirs.as_object_mut() {
            o.remove("proof");
        }
        theirs == unsigned
    });
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
