//! Encryption at rest for secrets the server must read back (TOTP secrets): XChaCha20-Poly1305
//! with a random 192-bit nonce per value and associated data binding each value to its account.
//! Several keys can be configured: the first seals, any of them opens (rotation: add a new key
//! first, re-seal, then remove the old one).
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;

use crate::DomainError;

pub struct SecretBox {
    keys: Vec<(String, XChaCha20Poly1305)>,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        write!(f, "SecretBox(keys: {ids:?})")
    }
}

/// A sealed value: which key, the nonce, and the ciphertext (with its tag).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sealed {
    pub key_id: String,
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

impl SecretBox {
    /// Parses `id:base64key,id:base64key` (32-byte keys). The first key seals.
    pub fn from_config(spec: &str) -> Result<Self, String> {
        use base64::Engine;
        let mut keys = Vec::new();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (id, b64) = part.split_once(':').ok_or("each key is id:base64")?;
            let raw = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|_| format!("key {id:?} is not base64"))?;
            if raw.len() != 32 {
                return Err(format!("key {id:?} must be 32 bytes (it has {})", raw.len()));
            }
            keys.push((id.trim().to_string(), XChaCha20Poly1305::new_from_slice(&raw).map_err(|e| e.to_string())?));
        }
        if keys.is_empty() {
            return Err("no key configured".into());
        }
        Ok(Self { keys })
    }

    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Sealed, DomainError> {
        let (id, cipher) = &self.keys[0];
        let mut nonce = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ciphertext = cipher
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: plaintext, aad })
            .map_err(|_| DomainError::Internal("encryption failed".into()))?;
        Ok(Sealed { key_id: id.clone(), nonce: nonce.to_vec(), ciphertext })
    }

    /// The id of the key that seals (the first configured).
    pub fn sealing_key_id(&self) -> &str {
        &self.keys[0].0
    }

    /// Whether a key with this id is configured (so values sealed under it can be opened).
    pub fn has_key(&self, key_id: &str) -> bool {
        self.keys.iter().any(|(id, _)| id == key_id)
    }

    /// Opens a value sealed under any configured key and seals it again under the first key, with a
    /// fresh nonce and the same associated data (key rotation's re-seal step).
    pub fn reseal(&self, sealed: &Sealed, aad: &[u8]) -> Result<Sealed, DomainError> {
        self.seal(&self.open(sealed, aad)?, aad)
    }

    pub fn open(&self, sealed: &Sealed, aad: &[u8]) -> Result<Vec<u8>, DomainError> {
        let (_, cipher) = self
            .keys
            .iter()
            .find(|(id, _)| *id == sealed.key_id)
            .ok_or_else(|| DomainError::Internal(format!("no key {:?} to open a stored secret", sealed.key_id)))?;
        if sealed.nonce.len() != 24 {
            return Err(DomainError::Internal("stored nonce has the wrong length".into()));
        }
        cipher
            .decrypt(XNonce::from_slice(&sealed.nonce), Payload { msg: &sealed.ciphertext, aad })
            .map_err(|_| DomainError::Internal("a stored secret failed authentication".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const K2: &str = "k2:HxwdHBsaGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA=";

    #[test]
    fn sealed_values_open_only_with_their_key_and_account() {
        let b = SecretBox::from_config(K1).unwrap();
        let s = b.seal(b"twenty byte secret!!", b"user-1").unwrap();
        assert_ne!(s.ciphertext, b"twenty byte secret!!");
        assert_eq!(b.open(&s, b"user-1").unwrap(), b"twenty byte secret!!");
        assert!(b.open(&s, b"user-2").is_err(), "bound to the account");
        let again = b.seal(b"twenty byte secret!!", b"user-1").unwrap();
        assert_ne!(again.nonce, s.nonce, "a fresh nonce every time");
    }

    #[test]
    fn keys_rotate() {
        let old = SecretBox::from_config(K1).unwrap();
        let sealed = old.seal(b"secret", b"u").unwrap();
        let both = SecretBox::from_config(&format!("{K2},{K1}")).unwrap();
        assert_eq!(both.open(&sealed, b"u").unwrap(), b"secret", "old values still open");
        assert_eq!(both.seal(b"secret", b"u").unwrap().key_id, "k2", "new values use the first key");
        assert!(SecretBox::from_config("").is_err());
        assert!(SecretBox::from_config("k:c2hvcnQ=").is_err());
    }

    #[test]
    fn a_resealed_value_opens_under_the_first_key_alone() {
        let old = SecretBox::from_config(K1).unwrap();
        let sealed = old.seal(b"secret", b"u").unwrap();
        let both = SecretBox::from_config(&format!("{K2},{K1}")).unwrap();
        assert_eq!((both.sealing_key_id(), both.has_key("k1"), both.has_key("k3")), ("k2", true, false));
        let resealed = both.reseal(&sealed, b"u").unwrap();
        assert_eq!(resealed.key_id, "k2");
        assert_ne!(resealed.nonce, sealed.nonce);
        let new = SecretBox::from_config(K2).unwrap();
        assert_eq!(new.open(&resealed, b"u").unwrap(), b"secret");
        assert!(new.open(&sealed, b"u").is_err(), "the old key is gone");
        assert!(both.reseal(&sealed, b"someone else").is_err(), "still bound to the account");
    }
}
