//! The business file: what a marketer tells RaptorFlow about the business
//! before onboarding (`raptorflow onboard --business FILE.json`, the app's
//! intake form). Every problem names the field it is in, with its path
//! (`products[1].name`); fields the format does not know are kept as notes
//! rather than refused, since they are the user's words about the business.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::{Channel, MAX_NAME_CHARS, text::is_unsafe_char};

/// Longest description, audience, goal or note, in characters.
pub const MAX_BUSINESS_TEXT_CHARS: usize = 4_000;
/// Most items in one list (products, audiences, competitors, goals).
pub const MAX_BUSINESS_LIST: usize = 50;

/// The channels a business file may name.
pub const INTAKE_CHANNELS: [Channel; 7] = [Channel::GoogleAds, Channel::MetaAds, Channel::Linkedin, Channel::X, Channel::Email, Channel::Blog, Channel::Video];

/// A business as the marketer describes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Business {
    pub company: String,
    pub description: String,
    pub website: Option<String>,
    pub products: Vec<Product>,
    pub audiences: Vec<String>,
    pub competitors: Vec<String>,
    pub goals: Vec<String>,
    pub voice: Option<String>,
    pub channels: Vec<Channel>,
    pub monthly_budget_usd: Option<f64>,
    /// Fields the format does not know, by name, as the file had them
    /// (written as JSON text when they are not text).
    pub notes: BTreeMap<String, String>,
}

/// A product or service the business sells.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Product {
    pub name: String,
    pub description: String,
    /// As the user wrote it ("£12 a bag", "49"), since prices come with
    /// units and periods.
    pub price: Option<String>,
}

/// What was wrong with a business file, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct IntakeError {
    /// The field's path, e.g. `products[1].price`; empty for the file as a whole.
    pub field: String,
    pub message: String,
}

fn error(field: impl Into<String>, message: impl Into<String>) -> IntakeError {
    IntakeError { field: field.into(), message: message.into() }
}

const KNOWN: [&str; 10] = ["company", "description", "website", "products", "audiences", "competitors", "goals", "voice", "channels", "monthly_budget_usd"];

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "true or false",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Checks a text field: present, not blank, not too long, no control
/// characters but line breaks and tabs. Returns it trimmed.
fn text(field: &str, value: &Value, max: usize) -> Result<String, IntakeError> {
    let Value::String(text) = value else {
        return Err(error(field, format!("must be text, got {}", kind_of(value))));
    };
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(error(field, "must not be empty"));
    }
    let n = trimmed.chars().count();
    if n > max {
        return Err(error(field, format!("must be at most {max} characters, got {n}")));
    }
    if let Some(c) = trimmed.chars().find(|&c| is_unsafe_char(c) && c != '\n' && c != '\t') {
        return Err(error(field, format!("holds the control character U+{:04X}", c as u32)));
    }
    Ok(trimmed.to_owned())
}

fn optional_text(field: &str, value: Option<&Value>, max: usize) -> Result<Option<String>, IntakeError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(value) => text(field, value, max).map(Some),
    }
}

fn list<'a>(field: &str, value: Option<&'a Value>) -> Result<&'a [Value], IntakeError> {
    match value {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) if items.len() > MAX_BUSINESS_LIST => {
            Err(error(field, format!("has {} items; at most {MAX_BUSINESS_LIST} are allowed", items.len())))
        }
        Some(Value::Array(items)) => Ok(items),
        Some(other) => Err(error(field, format!("must be a list, got {}", kind_of(other)))),
    }
}

fn text_list(field: &str, value: Option<&Value>) -> Result<Vec<String>, IntakeError> {
    list(field, value)?.iter().enumerate().map(|(i, item)| text(&format!("{field}[{i}]"), item, MAX_BUSINESS_TEXT_CHARS)).collect()
}

impl Business {
    /// Reads a business file's JSON text.
    pub fn from_json(json: &str) -> Result<Business, IntakeError> {
        let value: Value =
            serde_json::from_str(json).map_err(|err| error("", format!("is not valid JSON at line {} column {}: {err}", err.line(), err.column())))?;
        Business::from_value(&value)
    }

    /// Reads a business file already parsed as JSON.
    pub fn from_value(value: &Value) -> Result<Business, IntakeError> {
        let Value::Object(map) = value else {
            return Err(error("", format!("must be a JSON object with at least \"company\" and \"description\", got {}", kind_of(value))));
        };
        let required = |name: &str| map.get(name).ok_or_else(|| error(name, "is required"));
        let company = text("company", required("company")?, MAX_NAME_CHARS)?;
        let description = text("description", required("description")?, MAX_BUSINESS_TEXT_CHARS)?;
        let website = optional_text("website", map.get("website"), 2_000)?;
        if let Some(site) = &website {
            let lower = site.to_ascii_lowercase();
            let host = lower.strip_prefix("https://").or_else(|| lower.strip_prefix("http://")).unwrap_or(&lower);
            if host.is_empty() || !host.split('/').next().unwrap_or("").contains('.') || site.contains(char::is_whitespace) {
                return Err(error("website", format!("'{site}' is not a web address such as https://example.com")));
            }
        }
        let mut products = Vec::new();
        for (i, item) in list("products", map.get("products"))?.iter().enumerate() {
            let at = format!("products[{i}]");
            let Value::Object(product) = item else {
                return Err(error(at, format!("must be an object with \"name\" (and \"description\", \"price\"), got {}", kind_of(item))));
            };
            if let Some(unknown) = product.keys().find(|k| !["name", "description", "price"].contains(&k.as_str())) {
                return Err(error(format!("{at}.{unknown}"), "is not a product field; a product has name, description and price"));
            }
            let name = text(&format!("{at}.name"), product.get("name").ok_or_else(|| error(format!("{at}.name"), "is required"))?, MAX_NAME_CHARS)?;
            let description = optional_text(&format!("{at}.description"), product.get("description"), MAX_BUSINESS_TEXT_CHARS)?.unwrap_or_default();
            let price = match product.get("price") {
                None | Some(Value::Null) => None,
                Some(Value::Number(n)) if n.as_f64().is_some_and(|p| p.is_finite() && p >= 0.0) => Some(n.to_string()),
                Some(Value::Number(n)) => return Err(error(format!("{at}.price"), format!("must not be negative, got {n}"))),
                Some(other @ Value::String(_)) => Some(text(&format!("{at}.price"), other, MAX_NAME_CHARS)?),
                Some(other) => return Err(error(format!("{at}.price"), format!("must be a number or text such as \"£12 a bag\", got {}", kind_of(other)))),
            };
            products.push(Product { name, description, price });
        }
        let audiences = text_list("audiences", map.get("audiences"))?;
        let competitors = text_list("competitors", map.get("competitors"))?;
        let goals = text_list("goals", map.get("goals"))?;
        let voice = optional_text("voice", map.get("voice"), MAX_BUSINESS_TEXT_CHARS)?;
        let mut channels = Vec::new();
        let allowed = || INTAKE_CHANNELS.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", ");
        for (i, item) in list("channels", map.get("channels"))?.iter().enumerate() {
            let at = format!("channels[{i}]");
            let Value::String(name) = item else {
                return Err(error(at, format!("must be a channel name ({}), got {}", allowed(), kind_of(item))));
            };
            let channel = INTAKE_CHANNELS
                .into_iter()
                .find(|c| c.as_str() == name.trim())
                .ok_or_else(|| error(&at, format!("'{name}' is not a channel; use one of {}", allowed())))?;
            if !channels.contains(&channel) {
                channels.push(channel);
            }
        }
        let monthly_budget_usd = match map.get("monthly_budget_usd") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => match n.as_f64() {
                Some(b) if b.is_finite() && b >= 0.0 => Some(b),
                _ => return Err(error("monthly_budget_usd", format!("must be a number of dollars, 0 or more, got {n}"))),
            },
            Some(other) => return Err(error("monthly_budget_usd", format!("must be a number of dollars such as 1500, got {}", kind_of(other)))),
        };
        let mut notes = BTreeMap::new();
        for (key, value) in map.iter().filter(|(k, _)| !KNOWN.contains(&k.as_str())) {
            let note = match value {
                Value::String(s) => s.trim().to_owned(),
                other => other.to_string(),
            };
            if note.chars().count() > MAX_BUSINESS_TEXT_CHARS {
                return Err(error(key.as_str(), format!("is kept as a note, and notes must be at most {MAX_BUSINESS_TEXT_CHARS} characters")));
            }
            notes.insert(key.clone(), note);
        }
        Ok(Business { company, description, website, products, audiences, competitors, goals, voice, channels, monthly_budget_usd, notes })
    }

    /// The intake as cited facts: `(field path, text)`, the sources an
    /// onboarding claim may cite besides Codex passages.
    pub fn facts(&self) -> Vec<(String, String)> {
        let mut facts = vec![("company".to_owned(), self.company.clone()), ("description".to_owned(), self.description.clone())];
        if let Some(site) = &self.website {
            facts.push(("website".into(), site.clone()));
        }
        for (i, product) in self.products.iter().enumerate() {
            let mut text = product.name.clone();
            if !product.description.is_empty() {
                text = format!("{text}: {}", product.description);
            }
            if let Some(price) = &product.price {
                text = format!("{text} ({price})");
            }
            facts.push((format!("products[{i}]"), text));
        }
        for (field, items) in [("audiences", &self.audiences), ("competitors", &self.competitors), ("goals", &self.goals)] {
            facts.extend(items.iter().enumerate().map(|(i, t)| (format!("{field}[{i}]"), t.clone())));
        }
        if let Some(voice) = &self.voice {
            facts.push(("voice".into(), voice.clone()));
        }
        facts.extend(self.notes.iter().map(|(k, v)| (format!("notes.{k}"), v.clone())));
        facts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(json: &str) -> IntakeError {
        Business::from_json(json).unwrap_err()
    }

    #[test]
    fn a_full_file_reads_and_keeps_unknown_fields_as_notes() {
        let business = Business::from_json(
            r#"{"company": " Fernhill Coffee ", "description": "Coffee by post", "website": "https://fernhill.coffee",
                "products": [{"name": "Subscription", "description": "A bag every two weeks", "price": 12.5}, {"name": "Gift box", "price": "£30"}],
                "audiences": ["home baristas"], "competitors": ["Pact"], "goals": ["500 subscribers"], "voice": "warm",
                "channels": ["email", "meta_ads", "email"], "monthly_budget_usd": 1500, "founded": 2019, "tagline": "Roasted Monday"}"#,
        )
        .unwrap();
        assert_eq!(business.company, "Fernhill Coffee");
        assert_eq!(business.products[0].price.as_deref(), Some("12.5"));
        assert_eq!(business.products[1].price.as_deref(), Some("£30"));
        assert_eq!(business.channels, vec![Channel::Email, Channel::MetaAds]);
        assert_eq!(business.monthly_budget_usd, Some(1500.0));
        assert_eq!(business.notes.get("founded").map(String::as_str), Some("2019"));
        assert_eq!(business.notes.get("tagline").map(String::as_str), Some("Roasted Monday"));
        let facts = business.facts();
        assert!(facts.contains(&("products[1]".into(), "Gift box (£30)".into())), "{facts:?}");
        assert!(facts.contains(&("notes.tagline".into(), "Roasted Monday".into())), "{facts:?}");
    }

    #[test]
    fn only_company_and_description_are_required() {
        let business = Business::from_json(r#"{"company": "A", "description": "B"}"#).unwrap();
        assert!(business.products.is_empty() && business.channels.is_empty() && business.notes.is_empty());
    }

    #[test]
    fn bad_files_name_the_field() {
        let check = |json: &str, field: &str, says: &str| {
            let e = err(json);
            assert_eq!(e.field, field, "{json}: {e}");
            assert!(e.message.contains(says), "{json}: {e}");
        };
        check(r#"{"description": "B"}"#, "company", "required");
        check(r#"{"company": "  ", "description": "B"}"#, "company", "empty");
        check(r#"{"company": "A"}"#, "description", "required");
        check(r#"{"company": 3, "description": "B"}"#, "company", "must be text, got a number");
        check(r#"{"company": "A", "description": "B", "channels": ["tiktok"]}"#, "channels[0]", "google_ads, meta_ads");
        check(r#"{"company": "A", "description": "B", "channels": "email"}"#, "channels", "must be a list");
        check(r#"{"company": "A", "description": "B", "products": [{"name": "x"}, {"description": "y"}]}"#, "products[1].name", "required");
        check(r#"{"company": "A", "description": "B", "products": [{"name": "x", "cost": 3}]}"#, "products[0].cost", "not a product field");
        check(r#"{"company": "A", "description": "B", "products": [{"name": "x", "price": -1}]}"#, "products[0].price", "negative");
        check(r#"{"company": "A", "description": "B", "monthly_budget_usd": "lots"}"#, "monthly_budget_usd", "number of dollars");
        check(r#"{"company": "A", "description": "B", "website": "not a site"}"#, "website", "not a web address");
        check(r#"{"company": "A", "description": "B", "audiences": ["ok", ""]}"#, "audiences[1]", "empty");
        check(r#"{"company": "A\u0007", "description": "B"}"#, "company", "control character");
        check(r#"["company"]"#, "", "JSON object");
        check(r#"{"company": "A", "#, "", "not valid JSON at line 1");
    }
}
