//! What a command rejects with: `{kind, message, field?}`, the shape the
//! interface reads (ui/src/errors.ts). Messages are rf-core's, which say what
//! was wrong and where; nothing else crosses to the interface.

use rf_core::CoreError;
use serde::Serialize;

/// A failed command, as the interface receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
pub struct UiError {
    /// rf-core's error kind (`invalid_input`, `not_found`, ...).
    pub kind: &'static str,
    pub message: String,
    /// The input field the error is about, for forms ("workspace name").
    pub field: Option<&'static str>,
}

impl UiError {
    /// Input that does not have the shape the command takes.
    pub fn invalid(field: &'static str, message: impl std::fmt::Display) -> Self {
        Self { kind: rf_core::ErrorKind::InvalidInput.as_str(), message: format!("{field}: {message}"), field: Some(field) }
    }
}

impl From<CoreError> for UiError {
    fn from(err: CoreError) -> Self {
        Self { kind: err.kind().as_str(), message: err.to_string(), field: err.field() }
    }
}

impl From<rf_core::domain::DomainError> for UiError {
    fn from(err: rf_core::domain::DomainError) -> Self {
        CoreError::from(err).into()
    }
}

/// A command's result.
pub type UiResult<T> = Result<T, UiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_validation_error_names_its_field_and_kind() {
        let err: UiError = "not-a-uuid".parse::<rf_core::domain::WorkspaceId>().unwrap_err().into();
        assert_eq!(err.kind, "invalid_input");
        assert_eq!(err.field, Some("workspace id"));
        assert!(err.message.contains("not-a-uuid"), "{}", err.message);
        let json = serde_json::to_value(&err).unwrap();
        assert_eq!(json["kind"], "invalid_input");
        assert_eq!(json["field"], "workspace id");
    }
}
