//! Signing keys: Ed25519 private keys live in PKCS#8 PEM files readable by their owner alone,
//! never in the database and never in a log line; their public halves are published as events.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, spki::der::pem::LineEnding};
use rand::RngCore;
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub(crate) enum KeyError {
    #[error("cannot read or write the key file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the key file {0} is readable by others (it must be mode 0600)")]
    TooOpen(PathBuf),
    #[error("the key file {0} is not an Ed25519 PKCS#8 PEM private key")]
    Malformed(PathBuf),
}

/// The public key as a `Multikey` multibase string (`z6Mk…`).
pub fn public_multibase(key: &SigningKey) -> String {
    crate::credentials::credential::public_multibase(&key.verifying_key())
}

/// A key id derived from the public key, so an id can never name two keys.
pub fn key_id(key: &SigningKey) -> String {
    let digest = Sha256::digest(key.verifying_key().as_bytes());
    format!("key-{}", &hex::encode(digest)[..16])
}

/// Loads the key at `path`, refusing a file others can read.
pub(crate) fn load(path: &Path) -> Result<SigningKey, KeyError> {
    let io = |source| KeyError::Io {
        path: path.to_owned(),
        source,
    };
    let mode = fs::metadata(path).map_err(io)?.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(KeyError::TooOpen(path.to_owned()));
    }
    let pem = fs::read_to_string(path).map_err(io)?;
    SigningKey::from_pkcs8_pem(&pem).map_err(|_| KeyError::Malformed(path.to_owned()))
}

/// Generates a key and writes it to `path` (mode 0600, never overwriting a file).
pub(crate) fn generate(path: &Path, rng: &mut dyn RngCore) -> Result<SigningKey, KeyError> {
    let io = |source| KeyError::Io {
        path: path.to_owned(),
        source,
    };
    let mut secret = [0u8; 32];
    rng.fill_bytes(&mut secret);
    let key = SigningKey::from_bytes(&secret);
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|_| KeyError::Malformed(path.to_owned()))?;
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(io)?;
    }
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io)?;
    file.write_all(pem.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)?;
    Ok(key)
}

/// Where the key `key_id` lives in a keys folder.
pub(crate) fn path_of(keys_dir: &Path, key_id: &str) -> PathBuf {
    keys_dir.join(format!("{key_id}.pem"))
}

/// Generates a key into the keys folder, named by its id.
pub(crate) fn generate_in(
    keys_dir: &Path,
    rng: &mut dyn RngCore,
) -> Result<(SigningKey, String), KeyError> {
    let mut tag = [0u8; 8];
    rng.fill_bytes(&mut tag);
    let temporary = keys_dir.join(format!(".new-{}.pem", hex::encode(tag)));
    let key = generate(&temporary, rng)?;
    let id = key_id(&key);
    let path = path_of(keys_dir, &id);
    fs::rename(&temporary, &path).map_err(|source| KeyError::Io { path, source })?;
    Ok((key, id))
}
