//! Stored credentials and the per-key caches the verifier needs: the SigV4 signing key of the
//! last (day, region, service) seen and the SigV4A public key.
//!
//! The secret and the session token live in zeroizing storage (wiped on drop) and are redacted
//! from `Debug`; nothing here implements `Display`.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use arc_swap::ArcSwapOption;
use hmac::KeyInit;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::derive::{self, HmacSha256};

/// Looks up an access key id. Implemented by the principals store; tests use
/// [`StaticCredentials`].
pub trait CredentialStore {
    /// The key with this access key id, if any.
    fn key(&self, access_key_id: &str) -> Option<&StoredKey>;
}

/// One access key: secret, optional session token and expiry, the principal it belongs to, and
/// its verification caches.
pub struct StoredKey {
    access_key_id: Box<str>,
    secret_access_key: Zeroizing<String>,
    session_token: Option<Zeroizing<String>>,
    expires_at: Option<SystemTime>,
    principal: usize,
    /// The last derived signing key, keyed by (day, region, service). Reads are a lock-free
    /// `load`; a miss derives (four HMACs) and `store`s, so a day change costs one derivation per
    /// key, and concurrent misses merely derive twice.
    signing: ArcSwapOption<CachedSigningKey>,
    /// The SigV4A public key: one P-256 scalar multiplication per key, on first use.
    v4a: OnceLock<Option<p256::ecdsa::VerifyingKey>>,
}

struct CachedSigningKey {
    day: [u8; 8],
    region: Box<str>,
    service: Box<str>,
    /// HMAC keyed with kSigning: cloning it skips re-hashing the key's inner and outer pads.
    mac: HmacSha256,
}

impl StoredKey {
    /// A key for `principal` (an opaque handle of the principals store).
    pub fn new(
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
        session_token: Option<String>,
        expires_at: Option<SystemTime>,
        principal: usize,
    ) -> Self {
        Self {
            access_key_id: access_key_id.into().into_boxed_str(),
            secret_access_key: Zeroizing::new(secret_access_key.into()),
            session_token: session_token.map(Zeroizing::new),
            expires_at,
            principal,
            signing: ArcSwapOption::empty(),
            v4a: OnceLock::new(),
        }
    }

    /// The access key id.
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    /// The principal handle given at construction.
    pub fn principal(&self) -> usize {
        self.principal
    }

    /// When the key stops being accepted, if it is temporary.
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.expires_at
    }

    /// Whether requests must carry (and sign) a session token.
    pub fn has_session_token(&self) -> bool {
        self.session_token.is_some()
    }

    pub(crate) fn is_expired(&self, now: SystemTime) -> bool {
        self.expires_at.is_some_and(|e| now >= e)
    }

    /// Compares the presented token with the stored one in constant time (for equal lengths).
    pub(crate) fn token_matches(&self, presented: Option<&[u8]>) -> bool {
        match (self.session_token.as_deref(), presented) {
            (None, None) => true,
            (Some(stored), Some(presented)) => bool::from(stored.as_bytes().ct_eq(presented)),
            _ => false,
        }
    }

    /// An HMAC keyed with kSigning for the scope, from the cache or freshly derived.
    pub(crate) fn signing_mac(
        &self,
        day: &[u8],
        region: &str,
        service: &str,
    ) -> Option<HmacSha256> {
        {
            let cached = self.signing.load();
            if let Some(c) = cached.as_deref() {
                if c.day == day && &*c.region == region && &*c.service == service {
                    return Some(c.mac.clone());
                }
            }
        }
        let k = derive::sigv4_signing_key(&self.secret_access_key, day, region, service);
        let mac = <HmacSha256 as KeyInit>::new_from_slice(&*k).ok()?;
        let mut day_arr = [0u8; 8];
        day_arr.copy_from_slice(day.get(..8)?);
        self.signing.store(Some(Arc::new(CachedSigningKey {
            day: day_arr,
            region: region.into(),
            service: service.into(),
            mac: mac.clone(),
        })));
        Some(mac)
    }

    /// The SigV4A verifying key, derived once (see [`derive::sigv4a_private_key`]).
    pub(crate) fn v4a_key(&self) -> Option<&p256::ecdsa::VerifyingKey> {
        self.v4a
            .get_or_init(|| {
                let d = derive::sigv4a_private_key(&self.access_key_id, &self.secret_access_key)?;
                let secret = p256::SecretKey::from_slice(&*d).ok()?;
                Some(p256::ecdsa::VerifyingKey::from(secret.public_key()))
            })
            .as_ref()
    }
}

impl fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredKey")
            .field("access_key_id", &self.access_key_id())
            .field("secret_access_key", &"** redacted **")
            .field("has_session_token", &self.has_session_token())
            .field("expires_at", &self.expires_at())
            .field("principal", &self.principal)
            .finish()
    }
}

/// A plain map of keys by access key id, for tests, benches and small embeddings.
#[derive(Debug, Default)]
pub struct StaticCredentials {
    keys: HashMap<String, StoredKey>,
}

impl StaticCredentials {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a key under its access key id.
    pub fn insert(&mut self, key: StoredKey) {
        self.keys.insert(key.access_key_id().to_owned(), key);
    }
}

impl FromIterator<StoredKey> for StaticCredentials {
    fn from_iter<I: IntoIterator<Item = StoredKey>>(iter: I) -> Self {
        let mut s = Self::new();
        for k in iter {
            s.insert(k);
        }
        s
    }
}

impl CredentialStore for StaticCredentials {
    fn key(&self, access_key_id: &str) -> Option<&StoredKey> {
        self.keys.get(access_key_id)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    #[test]
    fn debug_output_never_contains_the_secret_or_token() {
        let k = StoredKey::new("AKIDEXAMPLE", SECRET, Some("TOKEN-xyz".into()), None, 3);
        let s = format!("{k:?}");
        assert!(!s.contains(SECRET) && !s.contains("TOKEN-xyz"), "{s}");
        assert!(s.contains("AKIDEXAMPLE") && s.contains("has_session_token: true"));
    }

    #[test]
    fn session_token_must_match_exactly() {
        let k = StoredKey::new("A", SECRET, Some("tok".into()), None, 0);
        assert!(k.token_matches(Some(b"tok")));
        assert!(!k.token_matches(Some(b"tok2")));
        assert!(!k.token_matches(None));
        let plain = StoredKey::new("A", SECRET, None, None, 0);
        assert!(plain.token_matches(None));
        assert!(!plain.token_matches(Some(b"tok")));
    }

    #[test]
    fn key_is_expired_from_its_expiry_instant_on() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        let k = StoredKey::new("A", SECRET, None, Some(at), 0);
        assert!(!k.is_expired(at - Duration::from_secs(1)));
        assert!(k.is_expired(at));
    }

    #[test]
    fn sigv4a_public_key_matches_the_suite_public_key() {
        let k = StoredKey::new("AKIDEXAMPLE", SECRET, None, None, 0);
        let vk = k.v4a_key().unwrap();
        let point = vk.to_sec1_point(false);
        assert_eq!(
            hex_lower(point.x().unwrap()),
            "b6618f6a65740a99e650b33b6b4b5bd0d43b176d721a3edfea7e7d2d56d936b1"
        );
        assert_eq!(
            hex_lower(point.y().unwrap()),
            "865ed22a7eadc9c5cb9d2cbaca1b3699139fedc5043dc6661864218330c8e518"
        );
    }

    #[test]
    fn signing_key_cache_follows_the_scope() {
        use hmac::Mac;
        let k = StoredKey::new("A", SECRET, None, None, 0);
        let a = k.signing_mac(b"20150830", "us-east-1", "service").unwrap();
        let b = k.signing_mac(b"20150830", "us-east-1", "service").unwrap();
        let c = k.signing_mac(b"20150830", "us-west-2", "service").unwrap();
        let tag = |m: HmacSha256| m.chain_update(b"x").finalize().into_bytes();
        assert_eq!(tag(a.clone()), tag(b));
        assert_ne!(tag(a), tag(c));
    }

    fn hex_lower(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }
}
