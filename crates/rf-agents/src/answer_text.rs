//! Checks of an answer's text beyond its schema: what the documents would
//! refuse when the answer is applied, found while the model can still be
//! asked again.

use serde_json::Value;

/// Adds a problem for each string of `value` (at JSON pointer `at`) that
/// holds a control character other than a line break or a tab, until
/// `problems` has `limit` entries.
pub(crate) fn control_characters(value: &Value, at: &mut String, problems: &mut Vec<String>, limit: usize) {
    if problems.len() >= limit {
        return;
    }
    let nested = |key: &str, value: &Value, at: &mut String, problems: &mut Vec<String>| {
        let len = at.len();
        at.push('/');
        at.push_str(&key.replace('~', "~0").replace('/', "~1"));
        control_characters(value, at, problems, limit);
        at.truncate(len);
    };
    match value {
        Value::String(text) => {
            if let Some(found) = rf_domain::first_control_char_in_text(text) {
                problems.push(format!("{}: has a {found}; write plain text", if at.is_empty() { "/" } else { at }));
            }
        }
        Value::Array(items) => items.iter().enumerate().for_each(|(i, item)| nested(&i.to_string(), item, at, problems)),
        Value::Object(fields) => fields.iter().for_each(|(key, item)| nested(key, item, at, problems)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn text_with_control_characters_is_a_problem_named_by_where_it_is() {
        let answer = json!({
            "assets": [{"subject": "Fresh\u{1}beans", "body": "Line one\nLine two\tend"}],
            "a/b": "bell\u{7}",
            "score": 3,
            "c1": ["fine", "next\u{85}line"]
        });
        let mut problems = Vec::new();
        control_characters(&answer, &mut String::new(), &mut problems, 4);
        problems.sort();
        assert_eq!(
            problems,
            [
                "/assets/0/subject: has a control character U+0001 at character 6; write plain text",
                "/a~1b: has a control character U+0007 at character 5; write plain text",
                "/c1/1: has a control character U+0085 at character 5; write plain text",
            ]
        );
        let mut capped = vec!["earlier".to_string(); 3];
        control_characters(&answer, &mut String::new(), &mut capped, 4);
        assert_eq!(capped.len(), 4, "no more than the limit");
        let mut none = Vec::new();
        control_characters(&json!({"body": "tabs\tand\nlines are text"}), &mut String::new(), &mut none, 4);
        assert!(none.is_empty(), "{none:?}");
    }
}
