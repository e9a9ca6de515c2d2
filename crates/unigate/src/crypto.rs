//! The keyring: encryption of secrets at rest (AES-256-GCM with a fresh 96-bit nonce per
//! value) and the HMAC key that signs what Unigate hands out and must get back unchanged
//! (list cursors). A leaf: accounts seal with it, pagination signs with it.
//!
//! A sealed value is `v1.<key id>.<nonce>.<ciphertext>` (base64url), so each value names
//! the key that sealed it and keys can be rotated without a flag day. The account id is
//! bound as associated data: a ciphertext copied onto another account does not open.

use std::collections::HashMap;
use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, OsRng, Payload};
use aes_gcm::{AeadCore, Aes256Gcm, Key, Nonce};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("sealed value is malformed")]
    Malformed,
    #[error("no key with id `{0}` is configured")]
    UnknownKey(String),
    #[error("sealed value failed authentication (wrong key or tampered)")]
    Tampered,
    #[error("the master key must be 32 bytes, base64-encoded")]
    BadKey,
    #[error("cannot read or write the master key file {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

pub struct Keyring {
    primary: String,
    ciphers: HashMap<String, Aes256Gcm>,
    /// Derived from the primary key; signs pagination cursors.
    mac_key: [u8; 32],
    /// Derived from the previous keys: cursors signed before a key change still verify.
    previous_mac_keys: Vec<[u8; 32]>,
}

fn mac_key(key: &[u8; 32]) -> [u8; 32] {
    Sha256::new_with_prefix(b"unigate-mac")
        .chain_update(key)
        .finalize()
        .into()
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("primary", &self.primary)
            .finish_non_exhaustive()
    }
}

fn key_id(key: &[u8; 32]) -> String {
    let digest = Sha256::new_with_prefix(b"unigate-key-id").chain_update(key).finalize();
    digest[..4].iter().map(|b| format!("{b:02x}")).collect()
}

impl Keyring {
    pub fn from_key(key: [u8; 32]) -> Self {
        let id = key_id(&key);
        let mut ciphers = HashMap::new();
        ciphers.insert(id.clone(), Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&key)));
        Keyring {
            primary: id,
            ciphers,
            mac_key: mac_key(&key),
            previous_mac_keys: Vec::new(),
        }
    }

    pub fn decode_key(b64: &str) -> Result<[u8; 32], CryptoError> {
        STANDARD
            .decode(b64.trim())
            .ok()
            .and_then(|v| <[u8; 32]>::try_from(v.as_slice()).ok())
            .ok_or(CryptoError::BadKey)
    }

    /// The configured key, or the one in `<data_dir>/master.key`, created on first start.
    /// Adds a key that may open values but never seals new ones.
    pub fn with_previous(mut self, key: [u8; 32]) -> Self {
        if key_id(&key) != self.primary {
            self.previous_mac_keys.push(mac_key(&key));
        }
        self.ciphers
            .entry(key_id(&key))
            .or_insert_with(|| Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&key)));
        self
    }

    /// The key id a sealed value names, if it is well formed.
    pub fn key_id_of(sealed: &str) -> Option<&str> {
        let mut parts = sealed.split('.');
        (parts.next() == Some("v1")).then(|| parts.next()).flatten()
    }

    /// The configured key (plus previous ones), or the one in `<data_dir>/master.key`.
    pub fn load(
        configured: Option<&SecretString>,
        previous: &[SecretString],
        data_dir: &Path,
    ) -> Result<Self, CryptoError> {
        let mut keyring = Keyring::load_or_create(configured, data_dir)?;
        for k in previous {
            keyring = keyring.with_previous(Keyring::decode_key(k.expose_secret())?);
        }
        Ok(keyring)
    }

    pub fn load_or_create(configured: Option<&SecretString>, data_dir: &Path) -> Result<Self, CryptoError> {
        if let Some(k) = configured {
            return Ok(Keyring::from_key(Keyring::decode_key(k.expose_secret())?));
        }
        let path = data_dir.join("master.key");
        let io = |source| CryptoError::Io {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Keyring::from_key(Keyring::decode_key(&text)?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key: [u8; 32] = Aes256Gcm::generate_key(OsRng).into();
                write_private(&path, STANDARD.encode(key).as_bytes()).map_err(io)?;
                Ok(Keyring::from_key(key))
            }
            Err(e) => Err(io(e)),
        }
    }

    pub fn primary_key_id(&self) -> &str {
        &self.primary
    }

    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> String {
        let cipher = &self.ciphers[&self.primary];
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        // Encryption with a valid key and nonce cannot fail for inputs this small.
        let ct = cipher
            .encrypt(&nonce, Payload { msg: plaintext, aad })
            .unwrap_or_default();
        format!(
            "v1.{}.{}.{}",
            self.primary,
            URL_SAFE_NO_PAD.encode(nonce),
            URL_SAFE_NO_PAD.encode(ct)
        )
    }

    pub fn open(&self, sealed: &str, aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut parts = sealed.split('.');
        let (Some("v1"), Some(kid), Some(nonce), Some(ct), None) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(CryptoError::Malformed);
        };
        let cipher = self
            .ciphers
            .get(kid)
            .ok_or_else(|| CryptoError::UnknownKey(kid.to_string()))?;
        let nonce = URL_SAFE_NO_PAD.decode(nonce).map_err(|_| CryptoError::Malformed)?;
        let ct = URL_SAFE_NO_PAD.decode(ct).map_err(|_| CryptoError::Malformed)?;
        if nonce.len() != 12 {
            return Err(CryptoError::Malformed);
        }
        cipher
            .decrypt(Nonce::from_slice(&nonce), Payload { msg: &ct, aad })
            .map_err(|_| CryptoError::Tampered)
    }

    /// HMAC-SHA256 of `data` under the derived signing key.
    pub fn sign(&self, data: &[u8]) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.mac_key)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(data);
        mac.finalize().into_bytes().into()
    }

    /// Whether `tag` signs `data` under the primary key or a previous one.
    pub fn verify(&self, data: &[u8], tag: &[u8]) -> bool {
        std::iter::once(&self.mac_key)
            .chain(&self.previous_mac_keys)
            .any(|key| {
                <Hmac<Sha256> as Mac>::new_from_slice(key).is_ok_and(|mut mac| {
                    mac.update(data);
                    mac.verify_slice(tag).is_ok()
                })
            })
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

// What is sealed: the one rule for every account context, the catalog check and the
// request-log redaction.

/// Whether a context key's name looks like a credential's: compared without case and without
/// `-`, `_`, `.` and spaces, so `x-api-key`, `Private-Key` and `client_secret` all match.
pub fn looks_secret(key: &str) -> bool {
    let k: String = key
        .chars()
        .filter(|c| !matches!(c, '-' | '_' | '.' | ' '))
        .flat_map(char::to_lowercase)
        .collect();
    [
        "token",
        "secret",
        "password",
        "passwd",
        "passphrase",
        "apikey",
        "accesskey",
        "privatekey",
        "oauth",
        "credential",
        "authorization",
        "cookie",
    ]
    .iter()
    .any(|s| k.contains(s))
}

/// Whether a value holds, at any depth, a key that [`looks_secret`]: such a value is sealed
/// whole (`{"credentials": {"password": ...}}`, `{"auth": {"api-key": ...}}`).
pub fn holds_secret(value: &Value) -> bool {
    match value {
        Value::Object(m) => m.iter().any(|(k, v)| looks_secret(k) || holds_secret(v)),
        Value::Array(items) => items.iter().any(holds_secret),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn sealed_values_open_with_the_same_key_and_account() {
        let k = Keyring::from_key([7; 32]);
        let sealed = k.seal(b"secret", b"acct-1");
        assert!(!sealed.contains("secret"));
        assert_eq!(k.open(&sealed, b"acct-1").unwrap(), b"secret");
    }

    #[test]
    fn signatures_of_a_previous_key_still_verify_and_new_ones_use_the_primary() {
        let old = Keyring::from_key([7; 32]);
        let tag = old.sign(b"cursor");
        let rotated = Keyring::from_key([8; 32]).with_previous([7; 32]);
        assert!(rotated.verify(b"cursor", &tag), "signed before the key change");
        assert!(!rotated.verify(b"other", &tag));
        assert!(
            !Keyring::from_key([8; 32]).verify(b"cursor", &tag),
            "the old key dropped"
        );
        assert!(
            !old.verify(b"cursor", &rotated.sign(b"cursor")),
            "new tags use the new key"
        );
    }

    #[test]
    fn a_value_moved_to_another_account_does_not_open() {
        let k = Keyring::from_key([7; 32]);
        let sealed = k.seal(b"secret", b"acct-1");
        assert!(matches!(k.open(&sealed, b"acct-2"), Err(CryptoError::Tampered)));
    }

    #[test]
    fn another_key_is_named_in_the_error() {
        let sealed = Keyring::from_key([7; 32]).seal(b"x", b"a");
        assert!(matches!(
            Keyring::from_key([8; 32]).open(&sealed, b"a"),
            Err(CryptoError::UnknownKey(_))
        ));
    }

    #[test]
    fn a_previous_key_opens_but_never_seals() {
        let old = Keyring::from_key([1; 32]);
        let sealed_old = old.seal(b"s", b"a");
        let k = Keyring::from_key([2; 32]).with_previous([1; 32]);
        assert_eq!(k.open(&sealed_old, b"a").unwrap(), b"s");
        let sealed_new = k.seal(b"s", b"a");
        assert_eq!(Keyring::key_id_of(&sealed_new), Some(k.primary_key_id()));
        assert_ne!(Keyring::key_id_of(&sealed_new), Keyring::key_id_of(&sealed_old));
    }

    #[test]
    fn signatures_verify_only_unchanged_data() {
        let k = Keyring::from_key([1; 32]);
        let tag = k.sign(b"data");
        assert!(k.verify(b"data", &tag));
        assert!(!k.verify(b"datb", &tag));
    }

    #[test]
    fn the_generated_key_file_is_reused() {
        let dir = tempfile::tempdir().unwrap();
        let a = Keyring::load_or_create(None, dir.path()).unwrap();
        let b = Keyring::load_or_create(None, dir.path()).unwrap();
        assert_eq!(a.primary_key_id(), b.primary_key_id());
    }
}
