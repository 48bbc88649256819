//! C2SP signed notes with Ed25519 keys (the format of Go's `sumdb/note`), and C2SP
//! tlog-checkpoint bodies: how the log's size and root are published so anyone can hold us to
//! them.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use sha2::{Digest, Sha256};

/// The algorithm byte of an Ed25519 note key.
const ALG_ED25519: u8 = 1;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error("the key is not a note key (name+hash+base64)")]
    MalformedKey,
    #[error("the key's hash does not match its name and public key")]
    KeyHashMismatch,
    #[error("the note is malformed: {0}")]
    Malformed(&'static str),
    #[error("no signature by the key {0} on the note")]
    NoSignature(String),
    #[error("the signature does not verify")]
    BadSignature,
}

/// The 32-bit hash of a key: SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key), first four bytes.
pub(crate) fn key_hash(name: &str, public: &VerifyingKey) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([ALG_ED25519]);
    h.update(public.as_bytes());
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// The verifier key that checks notes signed by `key` under `name`: `name+hash+base64`.
pub fn verifier_key(name: &str, key: &VerifyingKey) -> String {
    let mut bytes = vec![ALG_ED25519];
    bytes.extend_from_slice(key.as_bytes());
    format!(
        "{name}+{:08x}+{}",
        key_hash(name, key),
        STANDARD.encode(bytes)
    )
}

/// Parses a verifier key.
pub(crate) fn parse_verifier_key(s: &str) -> Result<(String, u32, VerifyingKey), NoteError> {
    let mut parts = s.splitn(3, '+');
    let (Some(name), Some(hash), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(NoteError::MalformedKey);
    };
    let hash = u32::from_str_radix(hash, 16).map_err(|_| NoteError::MalformedKey)?;
    let bytes = STANDARD.decode(key).map_err(|_| NoteError::MalformedKey)?;
    let raw: [u8; 32] = bytes
        .strip_prefix(&[ALG_ED25519][..])
        .and_then(|k| k.try_into().ok())
        .ok_or(NoteError::MalformedKey)?;
    let key = VerifyingKey::from_bytes(&raw).map_err(|_| NoteError::MalformedKey)?;
    if key_hash(name, &key) != hash {
        return Err(NoteError::KeyHashMismatch);
    }
    Ok((name.to_owned(), hash, key))
}

/// Parses a signer key, `PRIVATE+KEY+name+hash+base64(0x01 ‖ seed)`.
pub fn parse_signer_key(s: &str) -> Result<(String, SigningKey), NoteError> {
    let rest = s
        .strip_prefix("PRIVATE+KEY+")
        .ok_or(NoteError::MalformedKey)?;
    let mut parts = rest.splitn(3, '+');
    let (Some(name), Some(hash), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(NoteError::MalformedKey);
    };
    let bytes = STANDARD.decode(key).map_err(|_| NoteError::MalformedKey)?;
    let seed: [u8; 32] = bytes
        .strip_prefix(&[ALG_ED25519][..])
        .and_then(|k| k.try_into().ok())
        .ok_or(NoteError::MalformedKey)?;
    let signing = SigningKey::from_bytes(&seed);
    if u32::from_str_radix(hash, 16).ok() != Some(key_hash(name, &signing.verifying_key())) {
        return Err(NoteError::KeyHashMismatch);
    }
    Ok((name.to_owned(), signing))
}

/// Signs `text` (which ends with a newline) as `name`: the text, a blank line, and the
/// signature line `— name base64(hash ‖ signature)`.
pub fn sign(text: &str, name: &str, key: &SigningKey) -> String {
    let hash = key_hash(name, &key.verifying_key());
    let signature = key.sign(text.as_bytes());
    let mut blob = hash.to_be_bytes().to_vec();
    blob.extend_from_slice(&signature.to_bytes());
    format!("{text}\n\u{2014} {name} {}\n", STANDARD.encode(blob))
}

/// Opens a signed note with a verifier key; the signed text.
pub fn open<'a>(note: &'a str, verifier: &str) -> Result<&'a str, NoteError> {
    let (name, hash, key) = parse_verifier_key(verifier)?;
    let split = note
        .rfind("\n\n")
        .ok_or(NoteError::Malformed("no blank line before the signatures"))?;
    let (text, signatures) = (&note[..split + 1], &note[split + 2..]);
    for line in signatures.lines() {
        let Some(rest) = line.strip_prefix("\u{2014} ") else {
            return Err(NoteError::Malformed(
                "a signature line does not start with an em dash",
            ));
        };
        let Some((signer, blob)) = rest.split_once(' ') else {
            return Err(NoteError::Malformed("a signature line has no signature"));
        };
        let blob = STANDARD
            .decode(blob)
            .map_err(|_| NoteError::Malformed("a signature is not base64"))?;
        if signer != name || blob.len() != 68 || blob[..4] != hash.to_be_bytes() {
            continue;
        }
        let signature: [u8; 64] = blob[4..].try_into().map_err(|_| NoteError::BadSignature)?;
        return key
            .verify(text.as_bytes(), &Signature::from_bytes(&signature))
            .map(|()| text)
            .map_err(|_| NoteError::BadSignature);
    }
    Err(NoteError::NoSignature(name))
}

/// A C2SP tlog-checkpoint body: origin, size, base64 root, each on its own line.
pub(crate) fn checkpoint_body(origin: &str, size: u64, root: &[u8; 32]) -> String {
    format!("{origin}\n{size}\n{}\n", STANDARD.encode(root))
}

/// Parses a checkpoint body: (origin, size, root).
pub fn parse_checkpoint(body: &str) -> Result<(String, u64, [u8; 32]), NoteError> {
    let mut lines = body.lines();
    let origin = lines
        .next()
        .filter(|l| !l.is_empty())
        .ok_or(NoteError::Malformed("no origin"))?;
    let size = lines
        .next()
        .and_then(|l| l.parse().ok())
        .ok_or(NoteError::Malformed("no size"))?;
    let root: [u8; 32] = lines
        .next()
        .and_then(|l| STANDARD.decode(l).ok())
        .and_then(|b| b.try_into().ok())
        .ok_or(NoteError::Malformed("no root hash"))?;
    Ok((origin.to_owned(), size, root))
}

/// The log's origin line for a registry reached at `public_url`: its host and path, then `/log`
/// (`https://registry.example` → `registry.example/log`).
pub fn origin_for(public_url: &str) -> String {
    let rest = public_url
        .split_once("://")
        .map_or(public_url, |(_, rest)| rest)
        .trim_end_matches('/');
    format!("{rest}/log")
}
