//! Limits for free text in documents, and making text safe to show. Names are
//! short and single-line; longer text (goals, briefs, asset copy) may span
//! lines but is still bounded so that one bad paste cannot bloat a document
//! every teammate has to sync.
//!
//! Text from files and teammates can carry terminal escape sequences and
//! bidirectional overrides that make a terminal show something other than
//! what is stored; [`escape_for_display`] is what every shell uses before
//! showing such text, and [`replace_unsafe_chars`] cleans titles before they
//! are stored.

use std::borrow::Cow;

use crate::DomainError;

/// Longest name (workspace, campaign, move title), in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest free-text field, in characters.
pub const MAX_TEXT_CHARS: usize = 100_000;

/// Whether `c` changes how a terminal or a text renderer shows the text
/// around it rather than showing itself: C0 and C1 control characters
/// (ESC starts escape sequences, OSC 8 links, OSC 52 clipboard writes),
/// DEL, and the bidirectional embeddings, overrides and isolates
/// (U+202A..U+202E, U+2066..U+2069) that reorder what follows them.
pub fn is_unsafe_char(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Text as it may be shown in a terminal: every character [`is_unsafe_char`]
/// finds, except tab, is written as a visible Rust-style escape (`\u{1b}`,
/// `\u{202e}`) so that nothing is hidden and nothing is interpreted; line
/// breaks are escaped too, so one name stays on one line. Callers that show
/// several lines escape each line. JSON output does not need this: JSON
/// escapes control characters, and it must stay exact.
pub fn escape_for_display(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c != '\t' && is_unsafe_char(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c != '\t' && is_unsafe_char(c) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Text with every character [`is_unsafe_char`] finds replaced by U+FFFD
/// (tabs and line breaks by a space), for single-line text that is stored
/// and synced, such as a source's title: teammates get clean text, and the
/// replacement character shows that something was there.
pub fn replace_unsafe_chars(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe_char) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| match c {
                '\t' | '\n' | '\r' => ' ',
                c if is_unsafe_char(c) => char::REPLACEMENT_CHARACTER,
                c => c,
            })
            .collect(),
    )
}

/// The first character of `text` that [`is_unsafe_char`] finds, described
/// with its 1-based character position.
fn first_unsafe_char(text: &str) -> Option<String> {
    let (index, c) = text.chars().enumerate().find(|&(_, c)| is_unsafe_char(c))?;
    let what = match c {
        '\n' | '\r' => "a line break",
        '\t' => "a tab",
        '\u{1b}' => "an escape character (ESC)",
        '\u{202A}'..='\u{202E}' => "a bidirectional override",
        '\u{2066}'..='\u{2069}' => "a bidirectional isolate",
        _ => "a control character",
    };
    Some(format!("{what} U+{:04X} at character {}", u32::from(c), index + 1))
}

/// Checks a single-line name: trimmed, 1 to [`MAX_NAME_CHARS`] characters,
/// no control characters and no bidirectional overrides or isolates (which
/// would let a name show as something else). Returns the trimmed name.
pub fn validate_name(field: &'static str, name: &str) -> Result<String, DomainError> {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err(DomainError::InvalidText { field, reason: "must not be empty".into() });
    }
    let n_chars = trimmed.chars().count();
    if n_chars > MAX_NAME_CHARS {
        return Err(DomainError::InvalidText { field, reason: format!("must be at most {MAX_NAME_CHARS} characters, got {n_chars}") });
    }
    if let Some(found) = first_unsafe_char(trimmed) {
        return Err(DomainError::InvalidText {
            field,
            reason: format!("must be a single line without control characters or bidirectional overrides; it has {found}"),
        });
    }
    Ok(trimmed.to_string())
}

/// Checks longer free text: at most [`MAX_TEXT_CHARS`] characters, no control
/// characters other than newlines and tabs. Empty text is allowed.
pub fn validate_text(field: &'static str, text: &str) -> Result<String, DomainError> {
    let n_chars = text.chars().count();
    if n_chars > MAX_TEXT_CHARS {
        return Err(DomainError::InvalidText { field, reason: format!("must be at most {MAX_TEXT_CHARS} characters, got {n_chars}") });
    }
    if let Some(found) = first_control_char_in_text(text) {
        return Err(DomainError::InvalidText { field, reason: format!("must not contain control characters; it has {found}") });
    }
    Ok(text.to_string())
}

/// The first control character of `text` other than a line break or a tab,
/// described with its code point and 1-based character position: what
/// [`validate_text`] refuses, for checking text (a model's answer) before it
/// gets that far.
pub fn first_control_char_in_text(text: &str) -> Option<String> {
    let (index, c) = text.chars().enumerate().find(|&(_, c)| c.is_control() && !matches!(c, '\n' | '\t' | '\r'))?;
    Some(format!("control character U+{:04X} at character {}", u32::from(c), index + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(validate_name("name", "  Spring launch ").unwrap(), "Spring launch");
        assert_eq!(validate_name("name", "   ").unwrap_err().to_string(), "invalid name: must not be empty");
        assert_eq!(validate_name("name", &"x".repeat(1 << 20)).unwrap_err().to_string(), "invalid name: must be at most 200 characters, got 1048576");
        assert!(validate_name("name", "two\nlines").is_err());
    }

    fn check_name(name: &str, expected: Result<&str, &str>) {
        let got = validate_name("workspace name", name).map_err(|e| e.to_string());
        assert_eq!(got.as_deref().map_err(String::as_str), expected, "{name:?}");
    }

    #[test]
    fn names_refuse_controls_and_bidi_overrides_saying_which_and_where() {
        const PREFIX: &str = "invalid workspace name: must be a single line without control characters or bidirectional overrides; it has ";
        let refused = |what: &str| format!("{PREFIX}{what}");
        check_name("Acme \u{202E}gpj.exe", Err(&refused("a bidirectional override U+202E at character 6")));
        check_name("\u{202A}x", Err(&refused("a bidirectional override U+202A at character 1")));
        check_name("a\u{2066}b\u{2069}", Err(&refused("a bidirectional isolate U+2066 at character 2")));
        check_name("red \u{1b}[31malert", Err(&refused("an escape character (ESC) U+001B at character 5")));
        check_name("link \u{9d}8;;x", Err(&refused("a control character U+009D at character 6")));
        check_name("two\nlines", Err(&refused("a line break U+000A at character 4")));
        check_name("tab\there", Err(&refused("a tab U+0009 at character 4")));
        check_name("Ünïcödé ☕ launch", Ok("Ünïcödé ☕ launch"));
        check_name("עברית launch", Ok("עברית launch"));
    }

    #[test]
    fn display_escapes_make_controls_and_overrides_visible() {
        fn check(input: &str, expected: &str) {
            assert_eq!(escape_for_display(input), expected, "{input:?}");
        }
        check("plain title", "plain title");
        check("\u{1b}[2J\u{1b}]52;c;ZXZpbA==\u{7}", "\\u{1b}[2J\\u{1b}]52;c;ZXZpbA==\\u{7}");
        check("\u{1b}]8;;https://evil\u{1b}\\x\u{1b}]8;;\u{1b}\\", "\\u{1b}]8;;https://evil\\u{1b}\\x\\u{1b}]8;;\\u{1b}\\");
        check("invoice\u{202E}fdp.exe", "invoice\\u{202e}fdp.exe");
        check("a\u{2066}b\u{2069}c\u{9b}d\u{7f}", "a\\u{2066}b\\u{2069}c\\u{9b}d\\u{7f}");
        check("line\nbreak\tand tab", "line\\u{a}break\tand tab");
        assert!(matches!(escape_for_display("café ☕"), Cow::Borrowed(_)));
    }

    #[test]
    fn stored_titles_get_replacement_characters() {
        assert_eq!(replace_unsafe_chars("\u{1b}[31mRed\u{202E} title\tx"), "\u{FFFD}[31mRed\u{FFFD} title x");
        assert_eq!(replace_unsafe_chars("Clean title"), "Clean title");
    }

    #[test]
    fn text_allows_newlines_but_not_other_controls() {
        assert!(validate_text("goal", "line one\nline two").is_ok());
        assert_eq!(
            validate_text("goal", "bell\u{7}").unwrap_err().to_string(),
            "invalid goal: must not contain control characters; it has control character U+0007 at character 5"
        );
        assert!(validate_text("goal", "C1 \u{85}").is_err(), "C1 controls too");
        assert!(validate_text("goal", &"x".repeat(MAX_TEXT_CHARS + 1)).is_err());
    }
}
