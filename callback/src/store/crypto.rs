//! Encryption at rest for tokens and PKCE verifiers: ChaCha20-Poly1305 under `MDZ_TOKEN_KEY`, a
//! random nonce per value, and the row's identity plus the column name as associated data, so a
//! ciphertext copied into another row or column fails to open instead of decrypting there.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

use crate::secrets::{Secret, TokenKey};

/// Format byte, so a later change of scheme can tell old values from new ones.
const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;

#[derive(Clone)]
pub struct Cipher {
    aead: ChaCha20Poly1305,
}

#[derive(Debug, thiserror::Error)]
#[error("a stored secret could not be decrypted (wrong MDZ_TOKEN_KEY, or the record was altered)")]
pub struct OpenError;

impl Cipher {
    pub fn new(key: &TokenKey) -> Self {
        Self {
            aead: ChaCha20Poly1305::new(Key::from_slice(key.bytes())),
        }
    }

    /// `VERSION || nonce || ciphertext+tag`.
    pub fn seal(&self, plain: &str, aad: &str) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut nonce);
        let sealed = self
            .aead
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plain.as_bytes(),
                    aad: aad.as_bytes(),
                },
            )
            // Encryption fails only for messages beyond 256 GiB; tokens are a few hundred bytes.
            .expect("ChaCha20-Poly1305 encrypts any short message");
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    pub fn open(&self, stored: &[u8], aad: &str) -> Result<Secret, OpenError> {
        if stored.len() < 1 + NONCE_LEN + 16 || stored[0] != VERSION {
            return Err(OpenError);
        }
        let plain = self
            .aead
            .decrypt(
                Nonce::from_slice(&stored[1..1 + NONCE_LEN]),
                Payload {
                    msg: &stored[1 + NONCE_LEN..],
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| OpenError)?;
        String::from_utf8(plain)
            .map(Secret::new)
            .map_err(|_| OpenError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_another_row_key_or_tampering() {
        let c = Cipher::new(&TokenKey::random());
        let a = c.seal("act.secret", "connections.access_token:user-1");
        let b = c.seal("act.secret", "connections.access_token:user-1");
        assert_ne!(a, b, "a nonce was reused");
        assert!(!a.windows(10).any(|w| w == b"act.secret"));
        let opened = c.open(&a, "connections.access_token:user-1").unwrap();
        assert_eq!(opened.expose(), "act.secret");
        assert!(c.open(&a, "connections.access_token:user-2").is_err());
        assert!(c.open(&a, "connections.refresh_token:user-1").is_err());
        assert!(
            Cipher::new(&TokenKey::random())
                .open(&a, "connections.access_token:user-1")
                .is_err()
        );
        let mut t = a.clone();
        *t.last_mut().unwrap() ^= 1;
        assert!(c.open(&t, "connections.access_token:user-1").is_err());
        assert!(c.open(&a[..10], "x").is_err());
    }
}
