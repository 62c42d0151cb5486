//! The one error type of the domain crate: invalid values, each naming its field.

/// What was wrong with a value handed to the domain model.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DomainError {
    /// A value outside a closed set (a status, a channel, a role...).
    #[error("invalid {field} '{value}': allowed values are {allowed}")]
    UnknownValue { field: &'static str, value: String, allowed: String },
    /// A free-text field that is empty, too long, or holds control characters.
    #[error("invalid {field}: {reason}")]
    InvalidText { field: &'static str, reason: String },
    /// An id that does not parse.
    #[error("invalid {field} '{value}': expected a UUID such as 0192f0c1-7a6e-7cc0-9a4e-3b1d2c4e5f60")]
    InvalidId { field: &'static str, value: String },
    /// A date that is not a real calendar date in YYYY-MM-DD form.
    #[error("invalid {field} '{value}': expected a calendar date as YYYY-MM-DD")]
    InvalidDate { field: &'static str, value: String },
    /// Any other field-level rule.
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
}

impl DomainError {
    /// The field the error is about, as its messages name it ("workspace
    /// name", "due date"): what a form shows the message beside.
    pub fn field(&self) -> &'static str {
        match self {
            Self::UnknownValue { field, .. }
            | Self::InvalidText { field, .. }
            | Self::InvalidId { field, .. }
            | Self::InvalidDate { field, .. }
            | Self::Invalid { field, .. } => field,
        }
    }
}

/// Result alias for the domain crate.
pub type Result<T, E = DomainError> = std::result::Result<T, E>;

/// An error and its causes on one line, `outer: cause: root`. Network
/// errors (reqwest, hyper) hide what actually failed in `source()`, so
/// messages that end up in front of users are built with this.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
