//! Sealing webhook secrets at rest: XChaCha20-Poly1305 under a 32-byte key kept in the keys
//! folder (`webhook-sealing.key`, readable by its owner alone), never in the database and never
//! in a log line. A sealed secret is the 24-byte nonce followed by the ciphertext and its tag;
//! the associated data names the subscription, so a sealed secret copied into another row does
//! not open there.
//!
//! Invariants: `seal` takes its nonce from its caller (drawn from the operating system's
//! randomness, 192 bits, so random nonces never meet); `open` answers the secret or a refusal,
//! never bytes that did not authenticate; the key file is created only where none is, written
//! whole under a temporary name and linked into place, so two processes starting together end
//! with one key.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// The sealing key's file name in the keys folder.
pub const FILE_NAME: &str = "webhook-sealing.key";
/// The length of a sealing key, in bytes.
pub(crate) const KEY_LEN: usize = 32;
/// The length of a sealed secret's nonce, in bytes.
pub(crate) const NONCE_LEN: usize = 24;
/// What every sealed secret's associated data begins with: the format's version.
const CONTEXT: &[u8] = b"wexqs webhook secret v1\0";

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error(
        "there is no webhook sealing key ({FILE_NAME}) in the keys folder {0}, and the folder is \
         not writable, so none can be made: run 'wexqs keys init' where the folder is writable, \
         or put 32 random bytes there (head -c 32 /dev/urandom > {FILE_NAME}, mode 0600)"
    )]
    Absent(PathBuf),
    #[error("cannot read or write the webhook sealing key {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the webhook sealing key {0} is readable by others (it must be mode 0600)")]
    TooOpen(PathBuf),
    #[error("the webhook sealing key {path} is {len} bytes long; a sealing key is 32 bytes")]
    Malformed { path: PathBuf, len: usize },
    #[error(
        "the webhook secret of subscription {subscription} does not open with the sealing key \
         {fingerprint}: it was sealed with another key (every instance sharing a database must \
         have the same {FILE_NAME} in its keys folder) or the stored secret was changed"
    )]
    WrongKey {
        subscription: String,
        fingerprint: String,
    },
}

/// The key webhook secrets are sealed with. Its `Debug` shows its fingerprint, never its bytes.
#[derive(Clone)]
pub struct SealingKey {
    cipher: XChaCha20Poly1305,
    fingerprint: String,
}

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SealingKey({})", self.fingerprint)
    }
}

impl SealingKey {
    pub fn from_bytes(bytes: &[u8; KEY_LEN]) -> SealingKey {
        let digest = Sha256::digest([b"wexqs sealing key\0".as_slice(), bytes].concat());
        SealingKey {
            cipher: XChaCha20Poly1305::new_from_slice(bytes)
                .expect("a 32-byte key is an XChaCha20-Poly1305 key"),
            fingerprint: format!("seal-{}", &hex::encode(digest)[..16]),
        }
    }

    /// A name for the key that says nothing of it: for messages and `wexqs keys` listings.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// `secret` sealed for the subscription `subscription`, with `nonce` (unique: random).
    pub fn seal(&self, subscription: &str, secret: &str, nonce: [u8; NONCE_LEN]) -> Vec<u8> {
        let aad = associated_data(subscription);
        let sealed = self
            .cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: secret.as_bytes(),
                    aad: &aad,
                },
            )
            .expect("sealing a short secret in memory does not fail");
        [nonce.as_slice(), &sealed].concat()
    }

    /// The secret `sealed` holds, if it was sealed with this key for `subscription` and is
    /// unchanged.
    pub fn open(&self, subscription: &str, sealed: &[u8]) -> Result<String, SealError> {
        let wrong = || SealError::WrongKey {
            subscription: subscription.to_owned(),
            fingerprint: self.fingerprint.clone(),
        };
        if sealed.len() < NONCE_LEN {
            return Err(wrong());
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| wrong())?;
        let aad = associated_data(subscription);
        let clear = self
            .cipher
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| wrong())?;
        String::from_utf8(clear).map_err(|_| wrong())
    }
}

fn associated_data(subscription: &str) -> Vec<u8> {
    [CONTEXT, subscription.as_bytes()].concat()
}

/// A fresh nonce from the operating system's randomness.
pub fn random_nonce() -> [u8; NONCE_LEN] {
    let mut nonce = [0u8; NONCE_LEN];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    nonce
}

/// Where the sealing key lives in a keys folder.
pub fn path_in(keys_dir: &Path) -> PathBuf {
    keys_dir.join(FILE_NAME)
}

/// The sealing key of the keys folder `dir`: the one there, or, where there is none and the
/// folder is writable, a new one made there (`Absent` when it is not writable).
pub fn sealing_key(dir: &Path) -> Result<SealingKey, SealError> {
    let path = path_in(dir);
    match load(&path) {
        Err(SealError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            match create(dir) {
                Ok(()) => load(&path),
                Err(SealError::Io { source, .. })
                    if matches!(
                        source.kind(),
                        std::io::ErrorKind::PermissionDenied
                            | std::io::ErrorKind::ReadOnlyFilesystem
                            | std::io::ErrorKind::NotFound
                    ) =>
                {
                    Err(SealError::Absent(dir.to_owned()))
                }
                Err(e) => Err(e),
            }
        }
        other => other,
    }
}

/// Loads the sealing key at `path`, refusing a file others can read or of the wrong length.
pub(crate) fn load(path: &Path) -> Result<SealingKey, SealError> {
    let io = |source| SealError::Io {
        path: path.to_owned(),
        source,
    };
    let mode = fs::metadata(path).map_err(io)?.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(SealError::TooOpen(path.to_owned()));
    }
    let bytes = fs::read(path).map_err(io)?;
    let key: [u8; KEY_LEN] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| SealError::Malformed {
            path: path.to_owned(),
            len: bytes.len(),
        })?;
    Ok(SealingKey::from_bytes(&key))
}

/// Makes a sealing key in `dir` unless one is there (then that one stays): written whole under
/// a temporary name (mode 0600), then linked to its name, which fails if another process linked
/// its own first.
pub(crate) fn create(dir: &Path) -> Result<(), SealError> {
    let mut key = [0u8; KEY_LEN];
    rand::rngs::OsRng.fill_bytes(&mut key);
    let temporary = dir.join(format!(".new-{}.key", hex::encode(random_nonce())));
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| SealError::Io { path, source }
    };
    let written = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temporary)?;
        file.write_all(&key)?;
        file.sync_all()
    })();
    written.map_err(io(&temporary))?;
    let path = path_in(dir);
    let linked = fs::hard_link(&temporary, &path);
    let _ = fs::remove_file(&temporary);
    match linked {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(io(&path)(e)),
    }
}
