//! Peer ids on a RaptorFlow sync server are `<user>/<device>`: the server
//! refuses a handshake whose peer id does not start with the user its token
//! belongs to, so one member can never speak as another.

use std::fmt;

/// A user name on a sync server: 1 to 64 characters of `a-z 0-9 . _ @ + -`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserName(String);

/// A user name that breaks the rules above; says which rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid user name {name:?}: {reason}")]
pub struct BadUserName {
    name: String,
    reason: &'static str,
}

impl UserName {
    pub fn parse(name: &str) -> Result<Self, BadUserName> {
        let bad = |reason| BadUserName { name: name.chars().take(80).collect(), reason };
        if name.is_empty() || name.len() > 64 {
            return Err(bad("must be 1 to 64 characters long"));
        }
        if !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b".-_@+".contains(&b)) {
            return Err(bad("may contain only lower-case letters, digits and . _ @ + -"));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The peer id this user's device `device` uses.
    pub fn peer_id(&self, device: &str) -> samod_core::PeerId {
        samod_core::PeerId::from(format!("{}/{device}", self.0))
    }

    /// Whether `peer_id` belongs to this user.
    pub fn owns_peer_id(&self, peer_id: &str) -> bool {
        user_part(peer_id) == Some(self.as_str())
    }
}

/// The user part of a `<user>/<device>` peer id.
pub fn user_part(peer_id: &str) -> Option<&str> {
    let (user, device) = peer_id.split_once('/')?;
    (!user.is_empty() && !device.is_empty()).then_some(user)
}

impl TryFrom<String> for UserName {
    type Error = BadUserName;
    fn try_from(value: String) -> Result<Self, BadUserName> {
        Self::parse(&value)
    }
}

impl From<UserName> for String {
    fn from(value: UserName) -> String {
        value.0
    }
}

impl fmt::Display for UserName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_and_peer_ids() {
        let alice = UserName::parse("alice@example.com").unwrap();
        assert_eq!(alice.peer_id("laptop").to_string(), "alice@example.com/laptop");
        assert!(alice.owns_peer_id("alice@example.com/laptop"));
        assert!(!alice.owns_peer_id("alice@example.com.evil/laptop"));
        assert!(!alice.owns_peer_id("alice@example.com/"));
        assert!(!alice.owns_peer_id("alice@example.com"));
        for bad in ["", "Alice", "a b", "a/b", &"x".repeat(65)] {
            assert!(UserName::parse(bad).is_err(), "{bad}");
        }
    }
}
