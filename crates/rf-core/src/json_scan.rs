//! A streaming pass over JSON text, before it is parsed into typed values:
//! it refuses duplicate object keys (which serde would silently resolve to
//! the last one) with the JSON path of the duplicate, and picks out the
//! top-level `format` field so that a file of the wrong kind gets a clear
//! error rather than the first field serde happens to trip on.
//!
//! Nothing is built but one set of keys per object that is open on the way
//! down, so the pass costs a fraction of the typed parse that follows.

use std::{collections::HashSet, fmt};

use serde::de::{DeserializeSeed, Error as _, MapAccess, SeqAccess, Visitor};

/// One step of a JSON path.
#[derive(Debug)]
enum Segment {
    Key(String),
    Index(usize),
}

/// What the scan found, and where it stopped if it found a duplicate.
#[derive(Debug, Default)]
struct State {
    path: Vec<Segment>,
    format: Option<serde_json::Value>,
    duplicate: Option<(String, String)>,
}

fn render(path: &[Segment]) -> String {
    let mut text = String::new();
    for segment in path {
        match segment {
            Segment::Key(key) => {
                if !text.is_empty() {
                    text.push('.');
                }
                text.push_str(key);
            }
            Segment::Index(i) => text.push_str(&format!("[{i}]")),
        }
    }
    text
}

/// Why the text was refused by the scan.
#[derive(Debug)]
pub(crate) enum ScanError {
    /// Not JSON at all (syntax, end of input, nesting too deep).
    NotJson(serde_json::Error),
    /// An object has the same key twice; `path` is the object's path.
    DuplicateKey { path: String, key: String, line: usize, column: usize },
}

/// What a scan of valid, duplicate-free JSON found.
#[derive(Debug)]
pub(crate) struct Scanned {
    /// The value of the top-level object's `format` field, if it has one.
    pub(crate) format: Option<serde_json::Value>,
}

/// Scans `text` as one JSON value.
pub(crate) fn scan(text: &str) -> Result<Scanned, ScanError> {
    let mut state = State::default();
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let scanned = Walk { state: &mut state }.deserialize(&mut deserializer).and_then(|()| deserializer.end());
    match scanned {
        Ok(()) => Ok(Scanned { format: state.format }),
        Err(err) => match state.duplicate {
            Some((path, key)) => Err(ScanError::DuplicateKey { path, key, line: err.line(), column: err.column() }),
            None => Err(ScanError::NotJson(err)),
        },
    }
}

/// Visits one value, recording the path on the way down.
struct Walk<'s> {
    state: &'s mut State,
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        for i in 0.. {
            self.state.path.push(Segment::Index(i));
            let more = seq.next_element_seed(Walk { state: &mut *self.state })?.is_some();
            self.state.path.pop();
            if !more {
                break;
            }
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let at_root = self.state.path.is_empty();
        let mut seen: HashSet<String> = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if seen.contains(&key) {
                self.state.duplicate = Some((render(&self.state.path), key));
                return Err(A::Error::custom("duplicate key"));
            }
            if at_root && key == "format" {
                self.state.format = Some(map.next_value()?);
                seen.insert(key);
                continue;
            }
            self.state.path.push(Segment::Key(key));
            map.next_value_seed(Walk { state: &mut *self.state })?;
            if let Some(Segment::Key(key)) = self.state.path.pop() {
                seen.insert(key);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected: &str) {
        let got = match scan(text) {
            Ok(scanned) => format!("ok format={}", scanned.format.map_or("none".into(), |f| f.to_string())),
            Err(ScanError::NotJson(err)) => format!("not json: {err}"),
            Err(ScanError::DuplicateKey { path, key, line, column }) => format!("duplicate `{key}` at `{path}` {line}:{column}"),
        };
        assert_eq!(got, expected, "{text}");
    }

    #[test]
    fn duplicates_are_found_with_their_path() {
        check(r#"{"format": "x", "a": [1, {"b": 2}]}"#, r#"ok format="x""#);
        check(r#"[1, 2]"#, "ok format=none");
        check(r#"{"a": 1, "a": 2}"#, "duplicate `a` at `` 1:12");
        check(r#"{"format": 1, "format": 2}"#, "duplicate `format` at `` 1:22");
        check(r#"{"w": {"m": {"x": 1, "y": 2, "x": 3}}}"#, "duplicate `x` at `w.m` 1:32");
        check(r#"{"c": [{"a": 1}, {"a": 1, "a": 1}]}"#, "duplicate `a` at `c[1]` 1:29");
        // The same key in sibling objects is fine.
        check(r#"{"c": [{"a": 1}, {"a": 1}], "d": {"a": 1}}"#, "ok format=none");
        check(r#"{"a": 1} x"#, "not json: trailing characters at line 1 column 10");
        check(r#"{"a": "#, "not json: EOF while parsing a value at line 1 column 6");
    }
}
