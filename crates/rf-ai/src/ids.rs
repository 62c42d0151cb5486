//! The ids of the AI layer, checked once where they enter: [`ModelId`] (a
//! model as its provider or the manifest names it) and [`ProviderName`] (a
//! configured provider, or `local`).

use std::{fmt, str::FromStr};

/// Why a text is not a valid id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {field} {value:?}: {rule}")]
pub struct BadId {
    pub field: &'static str,
    pub value: String,
    pub rule: &'static str,
}

macro_rules! text_id {
    ($(#[$meta:meta])* $name:ident, $field:literal, $rule:literal, $check:expr) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[cfg_attr(feature = "specta", derive(specta::Type), specta(type = String))]
        pub struct $name(String);

        impl $name {
            /// The field name used in error messages.
            pub const FIELD: &'static str = $field;

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        /// Reads as the text it is (an id is never changed in place).
        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(&self.0)
            }
        }

        /// Written as the quoted text, as a `String` would be, so that
        /// messages quoting an id read the same whatever its type.
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }

        impl FromStr for $name {
            type Err = BadId;
            fn from_str(s: &str) -> Result<Self, BadId> {
                let check: fn(&str) -> bool = $check;
                if check(s) { Ok(Self(s.to_owned())) } else { Err(BadId { field: $field, value: s.to_owned(), rule: $rule }) }
            }
        }

        rf_domain::serde_as_text!($name);
    };
}

text_id!(
    /// A model: `smollm2-135m-instruct-q4_1`, `gpt-4o-mini`,
    /// `meta-llama/Llama-3.1-8B-Instruct`, `llama3.2:3b`.
    ModelId,
    "model id",
    "use 1 to 200 visible characters, without spaces",
    |s| !s.is_empty() && s.len() <= 200 && s.chars().all(|c| !c.is_whitespace() && !c.is_control())
);

text_id!(
    /// A provider: `local` for the models running in this process, or the
    /// name the user gave a configured cloud provider.
    ProviderName,
    "provider name",
    "use 1 to 40 lower-case letters, digits, - or _",
    |s| !s.is_empty() && s.len() <= 40 && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
);

impl ProviderName {
    /// The name of the models that run in this process.
    pub const LOCAL: &'static str = "local";

    /// `local`.
    pub fn local() -> Self {
        Self(Self::LOCAL.to_owned())
    }

    /// This is `local`.
    pub fn is_local(&self) -> bool {
        self.0 == Self::LOCAL
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_ids_take_what_providers_use_and_refuse_blanks() {
        for id in ["gpt-4o-mini", "meta-llama/Llama-3.1-8B-Instruct", "llama3.2:3b", "smollm2-135m-instruct-q4_1"] {
            assert_eq!(id.parse::<ModelId>().unwrap().as_str(), id);
        }
        for bad in ["", "gpt 4o", "a\u{7}b"] {
            let err = bad.parse::<ModelId>().unwrap_err().to_string();
            assert!(err.starts_with("invalid model id"), "{err}");
        }
    }

    #[test]
    fn provider_names_are_short_handles() {
        assert!("openai-prod".parse::<ProviderName>().is_ok());
        assert!(ProviderName::local().is_local());
        let err = "OpenAI".parse::<ProviderName>().unwrap_err().to_string();
        assert_eq!(err, "invalid provider name \"OpenAI\": use 1 to 40 lower-case letters, digits, - or _");
        assert!("x".repeat(41).parse::<ProviderName>().is_err());
        let json = serde_json::to_string(&"groq".parse::<ProviderName>().unwrap()).unwrap();
        assert_eq!(json, "\"groq\"");
        assert!(serde_json::from_str::<ProviderName>("\"Bad Name\"").is_err());
    }
}
