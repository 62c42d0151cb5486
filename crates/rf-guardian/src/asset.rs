//! What Guardian checks: an asset as a list of named text fields, read from
//! the JSON the CLI takes or from a stored asset's typed content. Every text
//! is NFC-normalised on the way in, so "é" typed as one or two code points
//! counts and matches alike, and typographic apostrophes (’ ‘) become
//! straight ones, so "we’re hiring" matches like "we're hiring". Finding
//! spans are in characters of that form (the apostrophes change no count).

use rf_domain::{AssetContent, AssetKind, MAX_TEXT_CHARS};
use serde_json::Value;
use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc_quick};

use crate::{GuardianError, Result};

/// The ad platforms with a policy pack of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Platform {
    GoogleAds,
    Meta,
    Linkedin,
    X,
}

/// One field of a platform's asset shape.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FieldSpec {
    pub(crate) name: &'static str,
    /// A list of strings rather than one string.
    pub(crate) list: bool,
    /// Must be present in the JSON.
    pub(crate) required: bool,
}

const fn text(name: &'static str) -> FieldSpec {
    FieldSpec { name, list: false, required: true }
}

const fn list(name: &'static str, required: bool) -> FieldSpec {
    FieldSpec { name, list: true, required }
}

/// The name of the optional field by which a Meta ad declares its Special
/// Ad Category; it is a value, not copy, so no text rule reads it.
pub(crate) const SPECIAL_AD_CATEGORY: &str = "special_ad_category";

impl Platform {
    pub const ALL: [Platform; 4] = [Platform::GoogleAds, Platform::Meta, Platform::Linkedin, Platform::X];

    /// The name used on the command line and in policy packs.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::GoogleAds => "google-ads",
            Platform::Meta => "meta",
            Platform::Linkedin => "linkedin",
            Platform::X => "x",
        }
    }

    /// The stored asset kind this platform's assets are.
    pub fn asset_kind(self) -> AssetKind {
        match self {
            Platform::GoogleAds => AssetKind::GoogleRsa,
            Platform::Meta => AssetKind::MetaAd,
            Platform::Linkedin => AssetKind::LinkedinAd,
            Platform::X => AssetKind::XPost,
        }
    }

    /// The platform whose rules apply to a stored asset kind, if any.
    pub fn of_kind(kind: AssetKind) -> Option<Platform> {
        Platform::ALL.into_iter().find(|p| p.asset_kind() == kind)
    }

    /// The text fields of this platform's asset JSON.
    pub(crate) fn fields(self) -> &'static [FieldSpec] {
        const GOOGLE_ADS: [FieldSpec; 3] = [list("headlines", true), list("descriptions", true), list("paths", false)];
        const META: [FieldSpec; 3] = [text("primary_text"), text("headline"), text("description")];
        const LINKEDIN: [FieldSpec; 3] = [text("intro"), text("headline"), text("description")];
        const X: [FieldSpec; 1] = [text("text")];
        match self {
            Platform::GoogleAds => &GOOGLE_ADS,
            Platform::Meta => &META,
            Platform::Linkedin => &LINKEDIN,
            Platform::X => &X,
        }
    }

    fn shape(self) -> &'static str {
        match self {
            Platform::GoogleAds => r#"{"headlines": [..], "descriptions": [..], "paths": [..]}"#,
            Platform::Meta => r#"{"primary_text": "..", "headline": "..", "description": "..", "special_ad_category": ".." (optional)}"#,
            Platform::Linkedin => r#"{"intro": "..", "headline": "..", "description": ".."}"#,
            Platform::X => r#"{"text": ".."}"#,
        }
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Platform {
    type Err = GuardianError;

    fn from_str(s: &str) -> Result<Self> {
        Platform::ALL.into_iter().find(|p| p.as_str() == s).ok_or_else(|| GuardianError::UnknownPlatform(s.to_owned()))
    }
}

/// One text field of an asset.
#[derive(Debug, Clone)]
pub(crate) struct Field {
    /// The field's name in the asset (`headlines`), which rules select by.
    pub(crate) group: &'static str,
    /// The item's index for list fields.
    pub(crate) index: Option<usize>,
    /// The text, NFC-normalised.
    pub(crate) text: String,
}

impl Field {
    /// The name a finding reports: `headlines[2]`, `headline`, and for a
    /// field of list items, `scenes[1].voiceover`.
    pub(crate) fn name(&self) -> String {
        match (self.index, self.group.split_once('.')) {
            (Some(index), Some((list, part))) => format!("{list}[{index}].{part}"),
            (Some(index), None) => format!("{}[{index}]", self.group),
            (None, _) => self.group.to_owned(),
        }
    }
}

/// An asset ready to check: its kind, the platform whose pack applies, and
/// its text fields in order.
#[derive(Debug, Clone)]
pub struct Asset {
    pub(crate) kind: AssetKind,
    pub(crate) platform: Option<Platform>,
    pub(crate) fields: Vec<Field>,
    /// List fields and how many different, non-blank items each has (for
    /// count rules: a blank or repeated headline is not another headline),
    /// including empty lists.
    pub(crate) lists: Vec<(&'static str, usize)>,
    pub(crate) special_ad_category: Option<String>,
    /// Every field's text, in order, each followed by [`SEPARATOR`]: the
    /// text scans run once over this instead of once per field.
    pub(crate) joined: String,
    /// Where each field starts in `joined`.
    pub(crate) starts: Vec<usize>,
    /// The characters of `joined` with their byte offsets, decoded once for
    /// the scans that look at neighbours.
    pub(crate) chars: Vec<(usize, char)>,
}

/// Ends each field in `Asset::joined`: a control character that is neither
/// a word character nor white space, so no word, phrase or run of
/// punctuation continues across it.
pub(crate) const SEPARATOR: char = '\u{1F}';

fn nfc(text: &str) -> String {
    let text = match is_nfc_quick(text.chars()) {
        IsNormalized::Yes => text.to_owned(),
        _ => text.nfc().collect(),
    };
    if text.contains(['’', '‘']) { text.replace(['’', '‘'], "'") } else { text }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

impl Asset {
    /// An asset of `kind` with no fields yet.
    fn empty(kind: AssetKind) -> Asset {
        Asset {
            kind,
            platform: Platform::of_kind(kind),
            fields: Vec::new(),
            lists: Vec::new(),
            special_ad_category: None,
            joined: String::new(),
            starts: Vec::new(),
            chars: Vec::new(),
        }
    }

    /// Adds a text field, NFC-normalised.
    fn push(&mut self, group: &'static str, index: Option<usize>, text: &str) {
        self.fields.push(Field { group, index, text: nfc(text) });
    }

    /// Adds a list field: its count, and each item as a text field.
    fn push_list(&mut self, group: &'static str, items: &[String]) {
        for (index, text) in items.iter().enumerate() {
            self.push(group, Some(index), text);
        }
        self.count_list(group);
    }

    /// Records how many different, non-blank items list `group` has, once
    /// its items are pushed.
    fn count_list(&mut self, group: &'static str) {
        let mut seen = std::collections::HashSet::new();
        let n = self
            .fields
            .iter()
            .filter(|f| f.group == group && f.index.is_some() && !f.text.trim().is_empty())
            .filter(|f| seen.insert(f.text.trim().to_lowercase()))
            .count();
        self.lists.push((group, n));
    }

    /// Reads an asset of `platform` from its JSON. Every problem names the
    /// field: a missing or unknown field, a wrong type, a text too long to
    /// be copy.
    pub fn from_json(platform: Platform, json: &str) -> Result<Asset> {
        let invalid = |field: &str, reason: String| GuardianError::InvalidAsset { platform: platform.as_str().to_owned(), field: field.to_owned(), reason };
        let value: Value = serde_json::from_str(json).map_err(|err| invalid("", format!("not JSON: {err} (line {}, column {})", err.line(), err.column())))?;
        let Value::Object(object) = value else {
            return Err(invalid("", format!("expected an object {}, got {}", platform.shape(), json_type(&value))));
        };
        let specs = platform.fields();
        for key in object.keys() {
            let known = specs.iter().any(|spec| spec.name == key) || (platform == Platform::Meta && key == SPECIAL_AD_CATEGORY);
            if !known {
                let expected: Vec<&str> = specs.iter().map(|s| s.name).collect();
                let extra = if platform == Platform::Meta { ", special_ad_category" } else { "" };
                return Err(invalid(key, format!("unknown field; a {platform} asset has {}{extra}", expected.join(", "))));
            }
        }
        // Checks one text value and adds it as a field; `field` names it in
        // errors (`headlines[2]`).
        let push_text = |asset: &mut Asset, group: &'static str, index: Option<usize>, field: &str, value: &Value| {
            let Value::String(text) = value else {
                return Err(invalid(field, format!("expected a string, got {}", json_type(value))));
            };
            let n_chars = text.chars().count();
            if n_chars > MAX_TEXT_CHARS {
                return Err(invalid(field, format!("{n_chars} characters is too long to be ad copy (Guardian reads up to {MAX_TEXT_CHARS})")));
            }
            asset.push(group, index, text);
            Ok(())
        };
        let mut asset = Asset::empty(platform.asset_kind());
        for spec in specs {
            let Some(value) = object.get(spec.name) else {
                if spec.required {
                    return Err(invalid(spec.name, format!("missing; a {platform} asset is {}", platform.shape())));
                }
                if spec.list {
                    asset.lists.push((spec.name, 0));
                }
                continue;
            };
            if spec.list {
                let Value::Array(items) = value else {
                    return Err(invalid(spec.name, format!("expected a list of strings, got {}", json_type(value))));
                };
                for (index, item) in items.iter().enumerate() {
                    push_text(&mut asset, spec.name, Some(index), &format!("{}[{index}]", spec.name), item)?;
                }
                asset.count_list(spec.name);
            } else {
                push_text(&mut asset, spec.name, None, spec.name, value)?;
            }
        }
        if let Some(value) = object.get(SPECIAL_AD_CATEGORY) {
            match value {
                Value::Null => {}
                Value::String(category) => asset.special_ad_category = Some(category.trim().to_ascii_lowercase()),
                other => {
                    return Err(invalid(SPECIAL_AD_CATEGORY, format!("expected a string, got {}", json_type(other))));
                }
            }
        }
        asset.join();
        Ok(asset)
    }

    fn join(&mut self) {
        let mut joined = String::with_capacity(self.fields.iter().map(|f| f.text.len() + 1).sum());
        let mut starts = Vec::with_capacity(self.fields.len());
        for field in &mut self.fields {
            // The separator may not occur inside a field, or a field would
            // seem to end early; no copy needs it.
            if field.text.contains(SEPARATOR) {
                field.text = field.text.replace(SEPARATOR, " ");
            }
            starts.push(joined.len());
            joined.push_str(&field.text);
            joined.push(SEPARATOR);
        }
        self.chars = joined.char_indices().collect();
        self.joined = joined;
        self.starts = starts;
    }

    /// The field holding byte `offset` of `joined`, and the offset within it.
    pub(crate) fn locate(&self, offset: usize) -> (&Field, usize) {
        let index = self.starts.partition_point(|&start| start <= offset).saturating_sub(1);
        (&self.fields[index], offset - self.starts[index])
    }

    /// The asset of a stored asset's content. Ad kinds get their platform's
    /// field names (a LinkedIn ad's `intro_text` is `intro`); other kinds
    /// keep their own, and only the rules for every platform apply to them.
    pub fn from_content(content: &AssetContent) -> Asset {
        let mut asset = Asset::empty(content.kind());
        match content {
            AssetContent::GoogleRsa { headlines, descriptions, paths, .. } => {
                asset.push_list("headlines", headlines);
                asset.push_list("descriptions", descriptions);
                asset.push_list("paths", paths);
            }
            AssetContent::MetaAd { primary_text, headline, description, special_ad_category, .. } => {
                asset.push("primary_text", None, primary_text);
                asset.push("headline", None, headline);
                asset.push("description", None, description);
                asset.special_ad_category = special_ad_category.as_ref().map(|c| c.trim().to_ascii_lowercase());
            }
            AssetContent::LinkedinAd { intro_text, headline, description, .. } => {
                asset.push("intro", None, intro_text);
                asset.push("headline", None, headline);
                asset.push("description", None, description);
            }
            AssetContent::XPost { text } | AssetContent::LinkedinPost { text } => asset.push("text", None, text),
            AssetContent::Email { subject, preheader, body } => {
                asset.push("subject", None, subject);
                asset.push("preheader", None, preheader);
                asset.push("body", None, body);
            }
            AssetContent::BlogPost { title, meta_description, body_markdown } => {
                asset.push("title", None, title);
                asset.push("meta_description", None, meta_description);
                asset.push("body_markdown", None, body_markdown);
            }
            AssetContent::VideoScript { title, scenes, .. } => {
                asset.push("title", None, title);
                for (index, scene) in scenes.iter().enumerate() {
                    asset.push("scenes.voiceover", Some(index), &scene.voiceover);
                }
            }
            AssetContent::ImageBrief { concept, alt_text, .. } => {
                asset.push("concept", None, concept);
                asset.push("alt_text", None, alt_text);
            }
        }
        asset.join();
        asset
    }

    /// The stored asset kind.
    pub fn kind(&self) -> AssetKind {
        self.kind
    }

    /// The platform whose pack applies, if any.
    pub fn platform(&self) -> Option<Platform> {
        self.platform
    }

    /// The declared Meta Special Ad Category, lower case.
    pub fn special_ad_category(&self) -> Option<&str> {
        self.special_ad_category.as_deref()
    }
}

/// How a finding names an asset kind in a message.
pub(crate) fn kind_label(kind: AssetKind) -> &'static str {
    match kind {
        AssetKind::GoogleRsa => "Google responsive search ad",
        AssetKind::MetaAd => "Meta ad",
        AssetKind::LinkedinAd => "LinkedIn ad",
        AssetKind::XPost => "X post",
        AssetKind::LinkedinPost => "LinkedIn post",
        AssetKind::Email => "email",
        AssetKind::BlogPost => "blog post",
        AssetKind::VideoScript => "video script",
        AssetKind::ImageBrief => "image brief",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(platform: Platform, json: &str) -> (String, String) {
        match Asset::from_json(platform, json).unwrap_err() {
            GuardianError::InvalidAsset { field, reason, .. } => (field, reason),
            other => panic!("unexpected error {other}"),
        }
    }

    #[test]
    fn malformed_assets_name_the_field() {
        let (field, reason) = problem(Platform::GoogleAds, r#"{"headlines": ["a", 3], "descriptions": []}"#);
        assert_eq!(field, "headlines[1]");
        assert!(reason.contains("expected a string, got a number"), "{reason}");
        let (field, _) = problem(Platform::GoogleAds, r#"{"headlines": []}"#);
        assert_eq!(field, "descriptions");
        let (field, reason) = problem(Platform::Meta, r#"{"primary_text": "", "headline": "", "description": "", "cta": ""}"#);
        assert_eq!(field, "cta");
        assert!(reason.contains("unknown field"), "{reason}");
        let (field, reason) = problem(Platform::X, "[1, 2]");
        assert_eq!(field, "");
        assert!(reason.contains("expected an object"), "{reason}");
        let (_, reason) = problem(Platform::X, "{\"text\": ");
        assert!(reason.starts_with("not JSON"), "{reason}");
        let (field, _) = problem(Platform::Linkedin, r#"{"intro": null, "headline": "", "description": ""}"#);
        assert_eq!(field, "intro");
        let (field, _) = problem(Platform::Meta, r#"{"primary_text": "", "headline": "", "description": "", "special_ad_category": 1}"#);
        assert_eq!(field, "special_ad_category");
    }

    #[test]
    fn text_is_normalised_and_paths_are_optional() {
        let asset = Asset::from_json(Platform::GoogleAds, r#"{"headlines": ["Cafe\u0301"], "descriptions": ["x"]}"#).unwrap();
        assert_eq!(asset.fields[0].text, "Café");
        assert_eq!(asset.fields[0].name(), "headlines[0]");
        assert_eq!(asset.lists, vec![("headlines", 1), ("descriptions", 1), ("paths", 0)]);
        // A blank or repeated headline is not another headline.
        let asset =
            Asset::from_json(Platform::GoogleAds, r#"{"headlines": ["", "  ", "Fresh beans", "fresh beans ", "Roasted Monday"], "descriptions": ["x", "x"]}"#)
                .unwrap();
        assert_eq!(asset.lists, vec![("headlines", 2), ("descriptions", 1), ("paths", 0)]);
        let asset = Asset::from_json(Platform::X, r#"{"text": "We’re hiring"}"#).unwrap();
        assert_eq!(asset.fields[0].text, "We're hiring");
    }
}
