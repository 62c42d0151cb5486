//! Id newtypes. Entity ids are UUIDv7 (time-ordered, so ids sort by creation);
//! user ids are short handles chosen by people or by the sync server.
//!
//! In documents every id is stored as its canonical string, so the documents
//! stay readable from JavaScript automerge-repo clients too.

use std::{fmt, str::FromStr};

use autosurgeon::{Hydrate, HydrateError, Reconcile, Reconciler, reconcile::NoKey};
use uuid::Uuid;

use crate::DomainError;

macro_rules! uuid_id {
    ($(#[$meta:meta])* $name:ident, $field:literal) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[cfg_attr(feature = "specta", derive(specta::Type), specta(type = String))]
        pub struct $name(Uuid);

        impl $name {
            /// The field name used in error messages about this id.
            pub const FIELD: &'static str = $field;

            /// A fresh, time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// Wraps an existing UUID.
            pub fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The underlying UUID.
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0.hyphenated())
            }
        }

        impl FromStr for $name {
            type Err = DomainError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::try_parse(s.trim()).map(Self).map_err(|_| DomainError::InvalidId {
                    field: $field,
                    value: s.to_string(),
                })
            }
        }

        crate::serde_as_text!($name);

        impl Reconcile for $name {
            type Key<'a> = NoKey;
            fn reconcile<R: Reconciler>(&self, mut r: R) -> Result<(), R::Error> {
                r.str(self.to_string())
            }
        }

        impl Hydrate for $name {
            fn hydrate_string(s: &str) -> Result<Self, HydrateError> {
                s.parse().map_err(|_| HydrateError::unexpected("a UUID string", s.to_string()))
            }
        }

        #[cfg(test)]
        impl proptest::arbitrary::Arbitrary for $name {
            type Parameters = ();
            type Strategy = proptest::strategy::Map<proptest::num::u128::Any, fn(u128) -> Self>;
            fn arbitrary_with(_: ()) -> Self::Strategy {
                use proptest::strategy::Strategy;
                proptest::num::u128::ANY.prop_map(|n| Self(Uuid::from_u128(n)))
            }
        }
    };
}

uuid_id!(
    /// Identifies a workspace (one business, its brand codex and campaigns).
    WorkspaceId,
    "workspace id"
);
uuid_id!(
    /// Identifies a campaign; each campaign is its own Automerge document.
    CampaignId,
    "campaign id"
);
uuid_id!(
    /// Identifies a move (one planned piece of campaign work) inside a campaign.
    MoveId,
    "move id"
);
uuid_id!(
    /// Identifies an asset (an ad, a post, an email...) inside a campaign.
    AssetId,
    "asset id"
);
uuid_id!(
    /// Identifies a Codex source (one imported file); each is its own
    /// Automerge document.
    SourceId,
    "source id"
);

uuid_id!(
    /// Identifies one run of an agent or workflow; the ledger files every
    /// model call of a run under it.
    RunId,
    "run id"
);

/// A short text handle: 1 to `MAX_LEN` ASCII letters, digits and the
/// punctuation `$extra` allows.
macro_rules! handle_id {
    ($(#[$meta:meta])* $name:ident, $field:literal, $max:literal, $allowed:literal, $extra:pat) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[cfg_attr(feature = "specta", derive(specta::Type), specta(type = String))]
        pub struct $name(String);

        impl $name {
            /// The field name used in error messages.
            pub const FIELD: &'static str = $field;
            /// Longest accepted id, in bytes.
            pub const MAX_LEN: usize = $max;

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl FromStr for $name {
            type Err = DomainError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, $extra);
                if s.is_empty() || s.len() > Self::MAX_LEN || !s.chars().all(allowed) {
                    return Err(DomainError::Invalid {
                        field: Self::FIELD,
                        reason: format!("'{}' must be 1 to {} characters of letters, digits and {}", s.escape_debug(), Self::MAX_LEN, $allowed),
                    });
                }
                Ok(Self(s.to_string()))
            }
        }

        crate::serde_as_text!($name);
    };
}

handle_id!(
    /// Identifies an agent of the swarm: `RES-001`, `MUSE-014`, `LORD-HERALD`.
    AgentId,
    "agent id",
    64,
    "_ - .",
    '_' | '-' | '.'
);

handle_id!(
    /// Identifies a person: a short handle such as `maria` or `maria@acme.example`.
    UserId,
    "user id",
    64,
    "_ - . @ +",
    '_' | '-' | '.' | '@' | '+'
);

impl Reconcile for UserId {
    type Key<'a> = NoKey;
    fn reconcile<R: Reconciler>(&self, mut r: R) -> Result<(), R::Error> {
        r.str(&self.0)
    }
}

impl Hydrate for UserId {
    fn hydrate_string(s: &str) -> Result<Self, HydrateError> {
        s.parse().map_err(|_| HydrateError::unexpected("a user id", s.to_string()))
    }
}

#[cfg(test)]
impl proptest::arbitrary::Arbitrary for UserId {
    type Parameters = ();
    type Strategy = proptest::strategy::BoxedStrategy<Self>;
    fn arbitrary_with(_: ()) -> Self::Strategy {
        use proptest::strategy::Strategy;
        "[a-z0-9_.@+-]{1,64}".prop_map(UserId).boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_their_text() {
        let id = MoveId::new();
        assert_eq!(id.to_string().parse::<MoveId>().unwrap(), id);
    }

    #[test]
    fn new_ids_are_time_ordered() {
        let a = CampaignId::new();
        let b = CampaignId::new();
        assert!(a < b, "{a} should sort before {b}");
    }

    #[test]
    fn a_bad_id_names_its_field() {
        let err = "nope".parse::<WorkspaceId>().unwrap_err();
        assert_eq!(err.to_string(), "invalid workspace id 'nope': expected a UUID such as 0192f0c1-7a6e-7cc0-9a4e-3b1d2c4e5f60");
    }

    #[test]
    fn agent_ids_are_checked() {
        assert_eq!("MUSE-014".parse::<AgentId>().unwrap().as_str(), "MUSE-014");
        assert!("".parse::<AgentId>().is_err());
        let err = "RES 001".parse::<AgentId>().unwrap_err().to_string();
        assert!(err.contains("agent id") && err.contains("RES 001"), "{err}");
    }

    #[test]
    fn user_ids_are_checked() {
        assert!("maria@acme.example".parse::<UserId>().is_ok());
        assert!("".parse::<UserId>().is_err());
        assert!("has space".parse::<UserId>().is_err());
        assert!("x".repeat(65).parse::<UserId>().is_err());
    }
}
