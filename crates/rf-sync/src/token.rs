//! Sync tokens: `rfs_<token id>_<secret>`, shown once, stored by the server
//! only as a salted SHA-256 of the secret.
//!
//! The secret is 256 random bits, so a fast hash is enough: there is nothing
//! to guess that a slow password hash would protect. The token id lets the
//! server find the one row to check without comparing against every hash.

use std::fmt;

use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

const PREFIX: &str = "rfs_";
const ID_BYTES: usize = 8;
const SECRET_BYTES: usize = 32;
const SALT_BYTES: usize = 16;

/// A sync token in full. `Debug` and `Display` never show the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct SyncToken {
    id: String,
    secret: String,
}

/// Why a string is not a sync token. Never includes the string itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a raptorflow sync token: expected rfs_<16 hex digits>_<64 hex digits>, got {len} characters")]
pub struct BadToken {
    len: usize,
}

/// `n_bytes` random bytes (from the thread's CSPRNG) as lower-case hex.
pub fn random_hex(n_bytes: usize) -> String {
    let mut bytes = vec![0u8; n_bytes];
    rand::rng().fill_bytes(&mut bytes);
    to_hex(&bytes)
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn is_hex(text: &str, n_bytes: usize) -> bool {
    text.len() == n_bytes * 2 && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl SyncToken {
    /// A new random token.
    pub fn generate() -> Self {
        Self { id: random_hex(ID_BYTES), secret: random_hex(SECRET_BYTES) }
    }

    /// Parses a token as printed by `raptorflow-sync admin member add`.
    /// Surrounding whitespace (a pasted newline) is ignored.
    pub fn parse(text: &str) -> Result<Self, BadToken> {
        let text = text.trim();
        let bad = || BadToken { len: text.chars().count() };
        let rest = text.strip_prefix(PREFIX).ok_or_else(bad)?;
        let (id, secret) = rest.split_once('_').ok_or_else(bad)?;
        if !is_hex(id, ID_BYTES) || !is_hex(secret, SECRET_BYTES) {
            return Err(bad());
        }
        Ok(Self { id: id.to_owned(), secret: secret.to_owned() })
    }

    /// The public part that names the token (safe to log and show).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The whole token, for the one place it is shown or sent.
    pub fn expose(&self) -> String {
        format!("{PREFIX}{}_{}", self.id, self.secret)
    }

    /// A new salted hash of this token's secret, for storing.
    pub fn hash_new(&self) -> TokenHash {
        let salt = random_hex(SALT_BYTES);
        let hash = digest(&salt, &self.secret);
        TokenHash { salt, hash }
    }

    /// Whether this token's secret matches a stored hash (constant time).
    pub fn matches(&self, stored: &TokenHash) -> bool {
        let candidate = digest(&stored.salt, &self.secret);
        candidate.as_bytes().ct_eq(stored.hash.as_bytes()).into()
    }
}

/// A random ticket (256 bits, hex) for WebSocket URLs; the server binds it
/// to the peer id of its first connection.
pub fn random_ticket() -> String {
    random_hex(SECRET_BYTES)
}

fn digest(salt: &str, secret: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(salt.as_bytes());
    hasher.update(secret.as_bytes());
    to_hex(&hasher.finalize())
}

impl fmt::Debug for SyncToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SyncToken({}, secret redacted)", self.id)
    }
}

/// A stored token hash: hex salt and hex SHA-256 of salt and secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenHash {
    pub salt: String,
    pub hash: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_parse_and_match_only_their_hash() {
        let token = SyncToken::generate();
        let parsed = SyncToken::parse(&format!("  {}\n", token.expose())).unwrap();
        assert_eq!(parsed, token);
        let stored = token.hash_new();
        assert!(parsed.matches(&stored));
        assert!(!SyncToken::generate().matches(&stored));
        // The same secret hashes differently under a new salt.
        assert_ne!(token.hash_new().hash, stored.hash);
    }

    #[test]
    fn malformed_tokens_are_refused_without_echoing_them() {
        for text in ["", "rfs_", "rfs_zz_yy", "abc_0123456789abcdef_00", "rfs_0123456789abcdef_SECRETISH"] {
            let err = SyncToken::parse(text).unwrap_err();
            assert!(!err.to_string().contains("SECRETISH"), "{err}");
            assert!(err.to_string().starts_with("not a raptorflow sync token"), "{err}");
        }
        let token = SyncToken::generate();
        let debug = format!("{token:?}");
        assert!(!debug.contains(&token.expose()[21..]), "{debug}");
    }
}
