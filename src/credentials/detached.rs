//! Detached Ed25519 signatures (RFC 8032, the ordinary "pure" scheme) over bytes made piece by
//! piece, for what is too large to hold whole (an open data export). Ed25519 reads its message
//! twice, once for the nonce and once for the challenge, so the pieces are made twice: they must
//! be the same bytes both times. The signature is the one `SigningKey::sign` gives over the
//! pieces joined, so anyone checks it with any Ed25519 tool over the whole file.

use ed25519_dalek::hazmat::{ExpandedSecretKey, raw_sign_byupdate};
use ed25519_dalek::{Signature, SigningKey};
use sha2::{Digest, Sha512};

/// The signature of the bytes `pieces` makes (called twice, making the same bytes each time),
/// and how many bytes that is.
pub fn sign_pieces<I, P>(key: &SigningKey, pieces: impl Fn() -> I) -> (Signature, u64)
where
    I: Iterator<Item = P>,
    P: AsRef<[u8]>,
{
    // The expanded key is derived from the key's own seed, as `sign` derives it, never built
    // from other values (which is what makes the hazmat entry point dangerous).
    let expanded = ExpandedSecretKey::from(&key.to_bytes());
    let length = std::cell::Cell::new(0u64);
    let signature = raw_sign_byupdate::<Sha512, _>(
        &expanded,
        |hasher: &mut Sha512| {
            let mut n = 0u64;
            for piece in pieces() {
                let piece = piece.as_ref();
                hasher.update(piece);
                n += piece.len() as u64;
            }
            length.set(n);
            Ok(())
        },
        &key.verifying_key(),
    )
    .expect("the message closure never fails");
    (signature, length.get())
}
