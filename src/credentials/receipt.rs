//! Signed verification receipts: a verification answer as a JWS (RFC 7515 compact
//! serialisation) signed with Ed25519 (`alg: EdDSA`, RFC 8037), naming the key by its did:web
//! verification method in `kid`. Anyone holding the registry's did.json can check one with any
//! JOSE library; one byte changed anywhere and it fails.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signer as _, SigningKey, Verifier as _, VerifyingKey};
use serde_json::{Value, json};

/// The media type of a receipt (RFC 7515 §9.2.1: compact serialisation).
pub(crate) const CONTENT_TYPE: &str = "application/jose";
/// The receipt's `typ`, so that it cannot be taken for another kind of token.
pub(crate) const TYP: &str = "wexqs-receipt+jwt";

/// Signs `payload` (JSON) as a compact JWS by `key`, named `kid`.
pub fn sign(payload: &Value, key: &SigningKey, kid: &str) -> String {
    let header = json!({"alg": "EdDSA", "kid": kid, "typ": TYP});
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload.to_string())
    );
    let signature = key.sign(signing_input.as_bytes());
    format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature.to_bytes())
    )
}

/// The payload of a compact JWS signed with `alg: EdDSA` by `key`, or `None` when it is not one
/// or its signature does not hold.
pub fn verify(jws: &str, key: &VerifyingKey) -> Option<Value> {
    let (signing_input, signature) = jws.rsplit_once('.')?;
    let (header, payload) = signing_input.split_once('.')?;
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
    if header.get("alg")?.as_str()? != "EdDSA" {
        return None;
    }
    let signature =
        ed25519_dalek::Signature::from_slice(&URL_SAFE_NO_PAD.decode(signature).ok()?).ok()?;
    key.verify(signing_input.as_bytes(), &signature).ok()?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
}
