//! Limits for free text in documents. Names are short and single-line; longer
//! text (goals, briefs, asset copy) may span lines but is still bounded so that
//! one bad paste cannot bloat a document every teammate has to sync.

use crate::DomainError;

/// Longest name (workspace, campaign, move title), in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest free-text field, in characters.
pub const MAX_TEXT_CHARS: usize = 100_000;

/// Checks a single-line name: trimmed, 1 to [`MAX_NAME_CHARS`] characters,
/// no control characters. Returns the trimmed name.
pub fn validate_name(field: &'static str, name: &str) -> Result<String, DomainError> {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err(DomainError::InvalidText { field, reason: "must not be empty".into() });
    }
    let n_chars = trimmed.chars().count();
    if n_chars > MAX_NAME_CHARS {
        return Err(DomainError::InvalidText {
            field,
            reason: format!("must be at most {MAX_NAME_CHARS} characters, got {n_chars}"),
        });
    }
    if trimmed.chars().any(char::is_control) {
        return Err(DomainError::InvalidText {
            field,
            reason: "must be a single line without control characters".into(),
        });
    }
    Ok(trimmed.to_string())
}

/// Checks longer free text: at most [`MAX_TEXT_CHARS`] characters, no control
/// characters other than newlines and tabs. Empty text is allowed.
pub fn validate_text(field: &'static str, text: &str) -> Result<String, DomainError> {
    let n_chars = text.chars().count();
    if n_chars > MAX_TEXT_CHARS {
        return Err(DomainError::InvalidText {
            field,
            reason: format!("must be at most {MAX_TEXT_CHARS} characters, got {n_chars}"),
        });
    }
    if text.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\t' | '\r')) {
        return Err(DomainError::InvalidText {
            field,
            reason: "must not contain control characters".into(),
        });
    }
    Ok(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(validate_name("name", "  Spring launch ").unwrap(), "Spring launch");
        assert_eq!(
            validate_name("name", "   ").unwrap_err().to_string(),
            "invalid name: must not be empty"
        );
        assert_eq!(
            validate_name("name", &"x".repeat(1 << 20)).unwrap_err().to_string(),
            "invalid name: must be at most 200 characters, got 1048576"
        );
        assert!(validate_name("name", "two\nlines").is_err());
    }

    #[test]
    fn text_allows_newlines_but_not_other_controls() {
        assert!(validate_text("goal", "line one\nline two").is_ok());
        assert!(validate_text("goal", "bell\u{7}").is_err());
        assert!(validate_text("goal", &"x".repeat(MAX_TEXT_CHARS + 1)).is_err());
    }
}
