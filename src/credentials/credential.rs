//! Verifiable credentials: the Open Badges 3.0 `OpenBadgeCredential` of an award, the Bitstring
//! Status List that revokes them, the did:web document that publishes the keys, and the
//! `eddsa-jcs-2022` Data Integrity proof (Ed25519 over SHA-256(JCS(proof config)) ‖
//! SHA-256(JCS(document))). Pure: no clock, no randomness; the same inputs give the same bytes.

use std::io::Write as _;

use base64::Engine as _;
use chrono::{DateTime, NaiveDate, Utc};
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::domain::types::{SCHEME, long_date};
use crate::domain::{Award, Level, Standing, State};

pub(crate) const VC_CONTEXT: &str = "https://www.w3.org/ns/credentials/v2";
pub(crate) const OB_CONTEXT: &str = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json";
pub(crate) const OB_EXTENSIONS_CONTEXT: &str =
    "https://purl.imsglobal.org/spec/ob/v3p0/extensions.json";
pub(crate) const DID_CONTEXT: &str = "https://www.w3.org/ns/did/v1";
pub(crate) const MULTIKEY_CONTEXT: &str = "https://w3id.org/security/multikey/v1";

/// Entries in a status list: 131,072 (16 KiB), the minimum the spec sets for herd privacy.
pub(crate) const STATUS_LIST_SIZE: usize = 131_072;
/// The one status list this registry keeps for revocation.
pub(crate) const STATUS_LIST_ID: &str = "1";
/// How long a status list may be cached, in milliseconds (also its HTTP max-age).
pub(crate) const STATUS_LIST_TTL_MS: u64 = 300_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    #[error("the document has no proof")]
    NoProof,
    #[error("the proof is not a DataIntegrityProof with the eddsa-jcs-2022 cryptosuite")]
    UnsupportedProof,
    #[error("the proofValue is not base58btc multibase (z…)")]
    MalformedProofValue,
    #[error("the signature does not match the document and the key")]
    BadSignature,
    #[error("the public key is not an Ed25519 Multikey (z6Mk…)")]
    MalformedKey,
    #[error("the status list is not a gzip-compressed, base64url multibase bitstring")]
    MalformedStatusList,
}

/// The multicodec prefixes of an Ed25519 public and private key.
const ED25519_PUB: [u8; 2] = [0xed, 0x01];
const ED25519_PRIV: [u8; 2] = [0x80, 0x26];

/// The Ed25519 public key as a `Multikey` multibase string (`z6Mk…`).
pub fn public_multibase(key: &VerifyingKey) -> String {
    let mut bytes = ED25519_PUB.to_vec();
    bytes.extend_from_slice(key.as_bytes());
    format!("z{}", bs58::encode(bytes).into_string())
}

/// Parses a `z6Mk…` Multikey public key.
pub fn parse_public_multibase(s: &str) -> Result<VerifyingKey, CredentialError> {
    let bytes = s
        .strip_prefix('z')
        .and_then(|b| bs58::decode(b).into_vec().ok())
        .ok_or(CredentialError::MalformedKey)?;
    let key: [u8; 32] = bytes
        .strip_prefix(&ED25519_PUB[..])
        .and_then(|k| k.try_into().ok())
        .ok_or(CredentialError::MalformedKey)?;
    VerifyingKey::from_bytes(&key).map_err(|_| CredentialError::MalformedKey)
}

/// Parses a `z3u2…` Multikey secret key (the 32-byte seed).
pub fn parse_secret_multibase(s: &str) -> Result<SigningKey, CredentialError> {
    let bytes = s
        .strip_prefix('z')
        .and_then(|b| bs58::decode(b).into_vec().ok())
        .ok_or(CredentialError::MalformedKey)?;
    let seed: [u8; 32] = bytes
        .strip_prefix(&ED25519_PRIV[..])
        .and_then(|k| k.try_into().ok())
        .ok_or(CredentialError::MalformedKey)?;
    Ok(SigningKey::from_bytes(&seed))
}

/// The did:web identifier of a registry reached at `public_url` (a port becomes `%3A…`, a path
/// becomes `:`-separated segments).
pub fn did_web(public_url: &str) -> String {
    let rest = public_url
        .split_once("://")
        .map_or(public_url, |(_, rest)| rest)
        .trim_end_matches('/');
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut did = format!("did:web:{}", host.replace(':', "%3A"));
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        did.push(':');
        did.push_str(segment);
    }
    did
}

/// Where did:web resolution fetches the DID document of a registry reached at `public_url`:
/// `https://host/.well-known/did.json` for a host, `https://host/path/did.json` under a path
/// (did:web method specification, "Read (Resolve)").
pub fn did_document_url(public_url: &str) -> String {
    let url = public_url.trim_end_matches('/');
    let has_path = url
        .split_once("://")
        .map_or(url, |(_, rest)| rest)
        .contains('/');
    if has_path {
        format!("{url}/did.json")
    } else {
        format!("{url}/.well-known/did.json")
    }
}

/// JCS (RFC 8785) bytes of a JSON value (`canonical`).
pub fn jcs(value: &Value) -> Vec<u8> {
    crate::canonical::of_value(value)
}

/// The bytes an eddsa-jcs-2022 signature covers: SHA-256(JCS(proof config)) ‖
/// SHA-256(JCS(document without proof)); the proof config carries the document's `@context`.
pub fn hash_data(document: &Value, proof_config: &Value) -> Vec<u8> {
    let mut config = proof_config.clone();
    if let (Some(c), Some(ctx)) = (config.as_object_mut(), document.get("@context")) {
        c.insert("@context".into(), ctx.clone());
        c.remove("proofValue");
    }
    let mut unsecured = document.clone();
    if let Some(d) = unsecured.as_object_mut() {
        d.remove("proof");
    }
    let mut out = Sha256::digest(jcs(&config)).to_vec();
    out.extend_from_slice(&Sha256::digest(jcs(&unsecured)));
    out
}

/// Adds an eddsa-jcs-2022 `DataIntegrityProof` to `document`.
pub fn sign(document: &Value, key: &SigningKey, verification_method: &str, created: &str) -> Value {
    let mut proof = json!({
        "type": "DataIntegrityProof",
        "cryptosuite": "eddsa-jcs-2022",
        "created": created,
        "verificationMethod": verification_method,
        "proofPurpose": "assertionMethod",
    });
    let signature = key.sign(&hash_data(document, &proof));
    proof["@context"] = document.get("@context").cloned().unwrap_or(Value::Null);
    proof["proofValue"] = json!(format!(
        "z{}",
        bs58::encode(signature.to_bytes()).into_string()
    ));
    let mut secured = document.clone();
    secured["proof"] = proof;
    secured
}

/// The proof of a secured document: its `proof` object, or the first of a proof set (an array,
/// as Open Badges 3.0's JSON Schema requires of a credential).
pub(crate) fn proof_of(secured: &Value) -> Option<&Value> {
    match secured.get("proof")? {
        Value::Array(proofs) => proofs.first(),
        proof => Some(proof),
    }
}

/// `secured` with its one proof given as a proof set (`"proof": [{…}]`): what Open Badges 3.0's
/// JSON Schema requires of a credential. The signature is unchanged: the proof is never part of
/// what it covers.
pub(crate) fn as_proof_set(mut secured: Value) -> Value {
    if let Some(proof) = secured.get_mut("proof")
        && !proof.is_array()
    {
        *proof = Value::Array(vec![proof.take()]);
    }
    secured
}

/// The verification method a secured document names in its proof.
pub(crate) fn proof_method(secured: &Value) -> Option<&str> {
    proof_of(secured)?.get("verificationMethod")?.as_str()
}

/// Checks an eddsa-jcs-2022 proof against a public key.
pub fn verify_proof(secured: &Value, key: &VerifyingKey) -> Result<(), CredentialError> {
    let proof = proof_of(secured).ok_or(CredentialError::NoProof)?;
    if proof.get("type").and_then(Value::as_str) != Some("DataIntegrityProof")
        || proof.get("cryptosuite").and_then(Value::as_str) != Some("eddsa-jcs-2022")
    {
        return Err(CredentialError::UnsupportedProof);
    }
    // The proof's own @context must match the document's, as the cryptosuite requires.
    if let Some(ctx) = proof.get("@context")
        && Some(ctx) != secured.get("@context")
    {
        return Err(CredentialError::BadSignature);
    }
    let signature: [u8; 64] = proof
        .get("proofValue")
        .and_then(Value::as_str)
        .and_then(|v| v.strip_prefix('z'))
        .and_then(|v| bs58::decode(v).into_vec().ok())
        .and_then(|b| b.try_into().ok())
        .ok_or(CredentialError::MalformedProofValue)?;
    let mut config = proof.clone();
    if let Some(c) = config.as_object_mut() {
        c.remove("proofValue");
        c.remove("@context");
    }
    key.verify(
        &hash_data(secured, &config),
        &Signature::from_bytes(&signature),
    )
    .map_err(|_| CredentialError::BadSignature)
}

/// A UK calendar day's first instant, in UTC, as XML Schema dateTime.
pub(crate) fn uk_midnight(date: NaiveDate) -> String {
    crate::domain::types::start_of_uk_day(date)
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn level_description(level: Level) -> String {
    format!(
        "The {} level of the {SCHEME}: the organisation showed that the work experience placements it offers are planned, delivered and evaluated to the {} criteria of the framework, in all six sections (healthcare organisation, pre-placement, placement induction, during placement, reflection and review, post placement).",
        level.title(),
        level.as_str()
    )
}

/// The `Achievement` of a level (one per level).
pub(crate) fn achievement(level: Level, public_url: &str) -> Value {
    json!({
        "id": format!("{public_url}/achievements/{}", level.as_str()),
        "type": ["Achievement"],
        "achievementType": "Award",
        "name": format!("Work Experience Quality Standard: {}", level.title()),
        "description": level_description(level),
        "criteria": {
            "narrative": format!(
                "Awarded by NHS England after review of the organisation's evidence against the {} criteria of the Work Experience Quality Standard framework. Valid for two years from the award date.",
                level.as_str()
            )
        },
        "image": {
            "id": format!("{public_url}/achievements/{}/logo.svg", level.as_str()),
            "type": "Image",
        },
    })
}

/// The unsigned `OpenBadgeCredential` of an award as it stands after the event at `version`.
pub(crate) fn open_badge(
    award: &Award,
    version: u64,
    status_list_index: &str,
    did: &str,
    public_url: &str,
) -> Value {
    let number = award.certificate_number.as_str();
    let mut identifier = vec![json!({
        "type": "IdentityObject",
        "identityType": "name",
        "hashed": false,
        "identityHash": award.organisation_name.as_str(),
    })];
    if let Some(ods) = &award.ods_code {
        identifier.push(json!({
            "type": "IdentityObject",
            "identityType": "identifier",
            "hashed": false,
            "identityHash": format!("ODS:{ods}"),
        }));
    }
    let status_list = format!("{public_url}/v1/status-lists/{STATUS_LIST_ID}");
    json!({
        "@context": [VC_CONTEXT, OB_CONTEXT, OB_EXTENSIONS_CONTEXT],
        "id": format!("{public_url}/v1/awards/{number}/credential#v{version}"),
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": format!("{}: WEx QS {} award", award.organisation_name, award.level.title()),
        "description": format!(
            "{} holds the {} award of the {SCHEME}, certificate {number}, awarded on {} and valid until {}.",
            award.organisation_name,
            award.level.title(),
            long_date(award.awarded_on),
            long_date(award.valid_until)
        ),
        "issuer": {
            "id": did,
            "type": ["Profile"],
            "name": award.issuer_name,
            "url": public_url,
        },
        "validFrom": uk_midnight(award.awarded_on),
        "validUntil": uk_midnight(award.expires_on()),
        "awardedDate": uk_midnight(award.awarded_on),
        "credentialSubject": {
            "id": format!("{public_url}/v1/awards/{number}"),
            "type": ["AchievementSubject"],
            "identifier": identifier,
            "achievement": achievement(award.level, public_url),
        },
        "credentialStatus": {
            "id": format!("{status_list}#{status_list_index}"),
            "type": "BitstringStatusListEntry",
            "statusPurpose": "revocation",
            "statusListIndex": status_list_index,
            "statusListCredential": status_list,
        },
    })
}

/// The bitstring with the given bits set (bit 0 is the most significant bit of the first byte),
/// gzip-compressed, as base64url multibase (`u…`).
pub fn encode_bitstring(set: &[usize]) -> String {
    let mut bits = vec![0u8; STATUS_LIST_SIZE / 8];
    for &i in set.iter().filter(|i| **i < STATUS_LIST_SIZE) {
        bits[i / 8] |= 0x80 >> (i % 8);
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&bits)
        .expect("writing to memory does not fail");
    let compressed = gz.finish().expect("writing to memory does not fail");
    format!(
        "u{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(compressed)
    )
}

/// Whether bit `index` is set in an encoded bitstring.
pub fn bit_is_set(encoded: &str, index: usize) -> Result<bool, CredentialError> {
    bit_of(&decode_bitstring(encoded)?, index)
}

/// Whether bit `index` is set in a decoded bitstring (`decode_bitstring`); an index past its end
/// is malformed.
pub fn bit_of(bits: &[u8], index: usize) -> Result<bool, CredentialError> {
    bits.get(index / 8)
        .map(|b| b & (0x80 >> (index % 8)) != 0)
        .ok_or(CredentialError::MalformedStatusList)
}

/// The bitstring of an encoded status list, inflated, at most `MAX_STATUS_LIST_BITS_BYTES`.
pub fn decode_bitstring(encoded: &str) -> Result<Vec<u8>, CredentialError> {
    use std::io::Read as _;
    let compressed = encoded
        .strip_prefix('u')
        .and_then(|b| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(b)
                .ok()
        })
        .ok_or(CredentialError::MalformedStatusList)?;
    let mut bits = Vec::new();
    let limit = crate::limits::MAX_STATUS_LIST_BITS_BYTES as u64;
    flate2::read::GzDecoder::new(&compressed[..])
        .take(limit + 1)
        .read_to_end(&mut bits)
        .map_err(|_| CredentialError::MalformedStatusList)?;
    if bits.len() as u64 > limit {
        return Err(CredentialError::MalformedStatusList);
    }
    Ok(bits)
}

/// The unsigned `BitstringStatusListCredential` with the given entries set, valid over
/// `period` (`status_list_period`).
pub fn status_list(
    revoked: &[usize],
    did: &str,
    issuer_name: &str,
    public_url: &str,
    period: (DateTime<Utc>, DateTime<Utc>),
) -> Value {
    let id = format!("{public_url}/v1/status-lists/{STATUS_LIST_ID}");
    json!({
        "@context": [VC_CONTEXT],
        "id": id,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": { "id": did, "name": issuer_name },
        "validFrom": xsd_time(period.0),
        "validUntil": xsd_time(period.1),
        "credentialSubject": {
            "id": format!("{id}#list"),
            "type": "BitstringStatusList",
            "statusPurpose": "revocation",
            "encodedList": encode_bitstring(revoked),
            "ttl": STATUS_LIST_TTL_MS,
        },
    })
}

/// A published key, as the did:web document lists it.
#[derive(Debug, Clone)]
pub struct PublishedKey {
    pub key_id: String,
    pub public_key_multibase: String,
    /// Whether it may still be used to check assertions (false once revoked as compromised).
    pub trusted: bool,
}

/// The did:web document: every key ever published (so old signatures stay checkable), and the
/// trusted ones as assertion methods.
pub fn did_document(did: &str, keys: &[PublishedKey]) -> Value {
    let methods: Vec<Value> = keys
        .iter()
        .map(|k| {
            json!({
                "id": format!("{did}#{}", k.key_id),
                "type": "Multikey",
                "controller": did,
                "publicKeyMultibase": k.public_key_multibase,
            })
        })
        .collect();
    let assertion: Vec<String> = keys
        .iter()
        .filter(|k| k.trusted)
        .map(|k| format!("{did}#{}", k.key_id))
        .collect();
    json!({
        "@context": [DID_CONTEXT, MULTIKEY_CONTEXT],
        "id": did,
        "verificationMethod": methods,
        "assertionMethod": assertion,
    })
}

/// The status list's set entries as of `state`: the entry of every credential that is withdrawn.
/// A credential is withdrawn when its award is suspended, revoked or superseded, or when its
/// entry is no longer the award's current one (a reinstatement signs a fresh credential with a
/// new entry, and the credential from before the suspension stays withdrawn). An expired award's
/// credential is not set: its own `validUntil` ends it for every verifier.
pub(crate) fn status_list_contents(state: &State) -> Vec<usize> {
    let mut set: Vec<usize> = state
        .awards
        .values()
        .flat_map(|award| {
            let current = (award.standing == Standing::Active)
                .then_some(award.status_list_index())
                .flatten();
            award
                .credentials
                .iter()
                .map(|c| c.status_list_index.as_str())
                .filter(move |index| Some(*index) != current)
                .filter_map(|index| index.parse().ok())
        })
        .collect();
    set.sort_unstable();
    set.dedup();
    set
}

/// Whether the award's next credential needs a status list entry of its own: once it has been
/// reinstated after its current credential was signed, that credential's entry was set while it
/// was suspended (and stays set), so the reinstated award is signed afresh under a new entry.
pub(crate) fn needs_fresh_entry(award: &Award) -> bool {
    let Some(last) = award.credentials.last() else {
        return true;
    };
    award.status_list_index().is_none()
        || award.history.iter().any(|h| {
            h.position > last.position
                && matches!(
                    h.change,
                    crate::domain::state::AwardChange::Reinstated { .. }
                )
        })
}

/// What a reinstatement tells the organisation (its feed entry, its webhook body).
pub(crate) const REINSTATEMENT_NOTICE: &str = "The award's credential was signed again under a new status list entry: the credential, baked logos and certificate downloaded before the suspension stay withdrawn, so download them again.";

/// How long a signed status list is valid (its `validUntil` is this long after its `validFrom`).
pub(crate) const STATUS_LIST_VALIDITY_HOURS: i64 = 48;

/// The period a status list signed at `now` covers: from the start of `now`'s UTC day for
/// `STATUS_LIST_VALIDITY_HOURS`. Every list signed on one day carries the same dates (so the
/// same log gives the same bytes, on every instance, all day), and each day's list is signed
/// afresh, when less than a day of the previous one remains.
pub fn status_list_period(now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let from = now
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc();
    (
        from,
        from + chrono::Duration::hours(STATUS_LIST_VALIDITY_HOURS),
    )
}

/// A time as XML Schema dateTime in UTC, to the second.
pub(crate) fn xsd_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}
