//! Guardian: checks an asset against the ad platforms' published rules and
//! the brand's own, deterministically and offline, and says what to fix.
//!
//! The rules are data: policy packs (`packs/*.toml`, compiled in) say which
//! check each rule runs, on which fields, how serious a finding is and where
//! the rule is published. This crate compiles them once ([`Guardian`]), and
//! compiles a workspace's brand codex once ([`BrandRules`]); a check is then
//! a few passes over the copy, cheap enough to run on every keystroke.
//!
//! The verdict is `block` if any finding blocks, else `warn` if any warns,
//! else `pass`.

mod asset;
mod brand;
mod error;
mod pack;
mod scan;

use std::{collections::HashSet, ops::Range};

use rf_domain::{FindingSeverity, GuardianFinding, TextSpan};
use serde::Serialize;

pub use asset::{Asset, Platform};
pub use brand::BrandRules;
pub use error::{GuardianError, Result};
pub use pack::{BUILTIN_PACKS, LengthUnit, RuleInfo};

use crate::{
    asset::{Field, kind_label},
    pack::{Check, Rule},
};

/// The outcome of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Warn,
    Block,
}

impl Verdict {
    /// `block` if any finding blocks, else `warn` if any warns, else `pass`.
    pub fn of(findings: &[GuardianFinding]) -> Verdict {
        if findings.iter().any(|f| f.severity == FindingSeverity::Block) {
            Verdict::Block
        } else if findings.is_empty() {
            Verdict::Pass
        } else {
            Verdict::Warn
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Warn => "warn",
            Verdict::Block => "block",
        }
    }
}

/// A verdict and the findings behind it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Report {
    pub verdict: Verdict,
    pub findings: Vec<GuardianFinding>,
}

/// The loaded policy packs.
#[derive(Debug)]
pub struct Guardian {
    rules: Vec<Rule>,
    /// For each platform in [`Platform::ALL`] order, then for assets of no
    /// platform, the rules that apply.
    by_platform: [Vec<usize>; 5],
    /// Every Special Ad Category a pack knows, for checking declarations.
    special_categories: Vec<String>,
}

fn platform_slot(platform: Option<Platform>) -> usize {
    platform.map_or(4, |p| Platform::ALL.iter().position(|q| *q == p).unwrap_or(4))
}

/// The values a message template is filled with.
#[derive(Default)]
struct Fill<'a> {
    actual: Option<usize>,
    limit: Option<usize>,
    min: Option<usize>,
    max: Option<usize>,
    matched: Option<&'a str>,
    kind: Option<&'a str>,
    rule: Option<&'a str>,
}

fn characters(n: usize) -> String {
    if n == 1 { "1 character".to_owned() } else { format!("{n} characters") }
}

fn render(template: &str, fill: &Fill<'_>) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            out.push_str(&rest[open..]);
            return out;
        };
        let value = match &after[..close] {
            "actual" => fill.actual.map(|n| n.to_string()),
            "limit" => fill.limit.map(|n| n.to_string()),
            "min" => fill.min.map(|n| n.to_string()),
            "max" => fill.max.map(|n| n.to_string()),
            "over" => fill.actual.zip(fill.limit).map(|(a, l)| characters(a.saturating_sub(l))),
            "match" => fill.matched.map(str::to_owned),
            "kind" => fill.kind.map(str::to_owned),
            "rule" => fill.rule.map(str::to_owned),
            _ => None,
        };
        match value {
            Some(value) => out.push_str(&value),
            None => out.push_str(&rest[open..open + close + 2]),
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

/// A byte range of a field's text as a character span.
fn char_span(text: &str, range: &Range<usize>) -> TextSpan {
    let start = text[..range.start].chars().count();
    let end = start + text[range.clone()].chars().count();
    TextSpan { start: start as u64, end: end as u64 }
}

impl Guardian {
    /// The packs that ship with RaptorFlow.
    pub fn builtin() -> Result<Guardian> {
        Guardian::from_packs(BUILTIN_PACKS.iter().map(|(name, text)| (name.to_string(), text.to_string())))
    }

    /// Packs from `(file name, TOML text)` pairs.
    pub fn from_packs(packs: impl IntoIterator<Item = (String, String)>) -> Result<Guardian> {
        let mut seen = HashSet::new();
        let mut rules = Vec::new();
        for (name, text) in packs {
            rules.extend(pack::read_pack(&name, &text, &mut seen)?);
        }
        let mut by_platform: [Vec<usize>; 5] = Default::default();
        for (slot, platform) in Platform::ALL.into_iter().map(Some).chain([None]).enumerate() {
            by_platform[slot] = (0..rules.len()).filter(|&i| rules[i].platforms.applies_to(platform)).collect();
        }
        let mut special_categories: Vec<String> = rules
            .iter()
            .filter_map(|r| match &r.check {
                Check::SpecialCategory { declares, .. } => Some(declares.clone()),
                _ => None,
            })
            .collect();
        special_categories.sort();
        special_categories.dedup();
        Ok(Guardian { rules, by_platform, special_categories })
    }

    /// The loaded rules, all or those for one platform.
    pub fn rules(&self, platform: Option<Platform>) -> Vec<&RuleInfo> {
        match platform {
            None => self.rules.iter().map(|r| &r.info).collect(),
            Some(p) => self.by_platform[platform_slot(Some(p))].iter().map(|&i| &self.rules[i].info).collect(),
        }
    }

    /// Reads an asset of `platform` from JSON, including a declared Special
    /// Ad Category, which must be one the packs know.
    pub fn parse_asset(&self, platform: Platform, json: &str) -> Result<Asset> {
        let asset = Asset::from_json(platform, json)?;
        self.check_declaration(&asset)?;
        Ok(asset)
    }

    /// Refuses a declared Special Ad Category that no pack knows: a typo
    /// there would silently lift a block.
    pub fn check_declaration(&self, asset: &Asset) -> Result<()> {
        if let Some(declared) = asset.special_ad_category()
            && !self.special_categories.iter().any(|c| c == declared)
        {
            return Err(GuardianError::InvalidAsset {
                platform: asset.platform().map_or("stored", |p| p.as_str()).to_owned(),
                field: asset::SPECIAL_AD_CATEGORY.to_owned(),
                reason: format!("'{declared}' is not a Special Ad Category; expected one of: {}", self.special_categories.join(", ")),
            });
        }
        Ok(())
    }

    /// Checks an asset against every rule for its platform and the brand.
    pub fn check(&self, asset: &Asset, brand: &BrandRules) -> Report {
        let mut findings = Vec::new();
        for &index in &self.by_platform[platform_slot(asset.platform)] {
            self.apply(&self.rules[index], asset, brand, &mut findings);
        }
        Report { verdict: Verdict::of(&findings), findings }
    }

    fn apply(&self, rule: &Rule, asset: &Asset, brand: &BrandRules, findings: &mut Vec<GuardianFinding>) {
        let finding = |field: String, span: Option<TextSpan>, fill: &Fill<'_>| GuardianFinding {
            category: rule.info.category,
            rule: rule.info.id.clone(),
            severity: rule.info.severity,
            field,
            message: render(&rule.message, fill),
            span,
        };
        let fields = || asset.fields.iter().filter(|f| rule.reads(f.group));
        // Ranges of the joined text, as (field, range in the field) for the
        // fields this rule reads; a range across a field's end is dropped.
        let located = |ranges: Vec<Range<usize>>| {
            ranges.into_iter().filter_map(|range| {
                let (field, start) = asset.locate(range.start);
                let local = start..start + range.len();
                (rule.reads(field.group) && local.end <= field.text.len()).then_some((field, local))
            })
        };
        let at = |field: &Field, range: Range<usize>, fill: Fill<'_>| finding(field.name(), Some(char_span(&field.text, &range)), &fill);
        fn matched<'a>(field: &'a Field, range: &Range<usize>) -> Fill<'a> {
            Fill { matched: Some(&field.text[range.clone()]), ..Fill::default() }
        }
        let scanned = |ranges: Vec<Range<usize>>, findings: &mut Vec<GuardianFinding>| {
            for (field, range) in located(ranges) {
                let fill = Fill { matched: Some(&field.text[range.clone()]), ..Fill::default() };
                findings.push(at(field, range, fill));
            }
        };
        let text = asset.joined.as_str();
        match &rule.check {
            Check::Count { min, max } => {
                for &(group, n) in &asset.lists {
                    if rule.reads(group) && (n < *min || n > *max) {
                        let fill = Fill { actual: Some(n), min: Some(*min), max: Some(*max), ..Fill::default() };
                        findings.push(finding(group.to_owned(), None, &fill));
                    }
                }
            }
            Check::MaxLength { max, unit } => {
                for field in fields() {
                    let n = scan::length(&field.text, *unit);
                    if n > *max {
                        let start = scan::overflow_start(&field.text, *max, *unit);
                        let fill = Fill { actual: Some(n), limit: Some(*max), ..Fill::default() };
                        findings.push(at(field, start..field.text.len(), fill));
                    }
                }
            }
            Check::ForbiddenChars { chars } => {
                for (field, range) in located(scan::forbidden_chars(text, chars)) {
                    let shown = match &field.text[range.clone()] {
                        "\n" => "a line break",
                        "\r" => "a carriage return",
                        other => other,
                    };
                    findings.push(at(field, range, Fill { matched: Some(shown), ..Fill::default() }));
                }
            }
            Check::Capitalization { min_letters, max_case_flips, allow } => {
                scanned(scan::capitalization(text, *min_letters, *max_case_flips, allow, &brand.trademarks), findings);
            }
            Check::RepeatedPunctuation { chars } => scanned(scan::repeated_punctuation(text, chars), findings),
            Check::GimmickySpacing { min_letters, double_spaces } => {
                scanned(scan::gimmicky_spacing(text, &asset.chars, *min_letters, *double_spaces), findings);
            }
            Check::SymbolsAsLetters { digits, symbols } => scanned(scan::symbols_as_letters(text, &asset.chars, digits, symbols), findings),
            Check::EmphasisSymbols { bullets } => scanned(scan::emphasis_symbols(text, &asset.chars, bullets), findings),
            Check::Emoji { ranges } => scanned(scan::emoji(text, ranges), findings),
            Check::Pattern { regex } => scanned(scan::matches(regex, text), findings),
            Check::Near { window, anchors, terms } => {
                // Most copy names no attribute at all: one pass finds out.
                // Hits come in text order, so one field's hits are adjacent.
                let mut hits: Vec<&Field> = located(scan::matches(terms, text)).map(|(field, _)| field).collect();
                hits.dedup_by(|a, b| std::ptr::eq(*a, *b));
                for field in hits {
                    for range in scan::near(&field.text, anchors, terms, *window) {
                        findings.push(at(field, range.clone(), matched(field, &range)));
                    }
                }
            }
            Check::SpecialCategory { declares, regex } => {
                if asset.special_ad_category() == Some(declares.as_str()) {
                    return;
                }
                // One finding is enough: one declaration fixes them all.
                if let Some((field, range)) = located(scan::matches(regex, text)).next() {
                    findings.push(at(field, range.clone(), matched(field, &range)));
                }
            }
            Check::MaxPerAsset { regex, max } => {
                let hits: Vec<(&Field, Range<usize>)> = located(scan::matches(regex, text)).collect();
                if hits.len() > *max {
                    let (field, range) = hits[*max].clone();
                    let fill = Fill { actual: Some(hits.len()), limit: Some(*max), matched: Some(&field.text[range.clone()]), ..Fill::default() };
                    findings.push(at(field, range, fill));
                }
            }
            Check::Requires { kinds, when, patterns } => {
                if !kinds.is_empty() && !kinds.contains(&asset.kind) {
                    return;
                }
                // The finding sits on what made the rule apply, or on the
                // asset as a whole.
                let trigger = match when {
                    Some(when) => match located(scan::matches(when, text)).next() {
                        Some(hit) => Some(hit),
                        None => return,
                    },
                    None => None,
                };
                if located(scan::matches(patterns, text)).next().is_some() {
                    return;
                }
                let kind = kind_label(asset.kind);
                match trigger {
                    Some((field, range)) => {
                        let fill = Fill { matched: Some(&field.text[range.clone()]), kind: Some(kind), ..Fill::default() };
                        findings.push(at(field, range, fill));
                    }
                    None => findings.push(finding(String::new(), None, &Fill { kind: Some(kind), ..Fill::default() })),
                }
            }
            Check::BrandBannedTerms => {
                if let Some(banned) = &brand.banned {
                    scanned(scan::matches(banned, text), findings);
                }
            }
            Check::BrandDisclaimers => {
                for disclaimer in brand.disclaimers_for(asset.kind) {
                    if located(scan::matches(&disclaimer.regex, text)).next().is_none() {
                        let fill = Fill { matched: Some(&disclaimer.text), kind: Some(kind_label(asset.kind)), ..Fill::default() };
                        findings.push(finding(String::new(), None, &fill));
                    }
                }
            }
            Check::BrandVoiceDonts => {
                for phrase in &brand.voice {
                    for (field, range) in located(scan::matches(&phrase.regex, text)) {
                        let fill = Fill { matched: Some(&field.text[range.clone()]), rule: Some(&phrase.origin), ..Fill::default() };
                        findings.push(at(field, range, fill));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_fill_their_placeholders() {
        let fill = Fill { actual: Some(33), limit: Some(30), ..Fill::default() };
        assert_eq!(render("{actual} of {limit}: cut {over}", &fill), "33 of 30: cut 3 characters");
        assert_eq!(render("'{match}' {unknown", &Fill { matched: Some("x"), ..Fill::default() }), "'x' {unknown");
    }

    #[test]
    fn spans_count_characters() {
        assert_eq!(char_span("Größe über", &(8..13)), TextSpan { start: 6, end: 10 });
    }

    #[test]
    fn verdicts() {
        let guardian = Guardian::builtin().unwrap();
        let asset = guardian.parse_asset(Platform::X, r#"{"text": "A plain post"}"#).unwrap();
        assert_eq!(guardian.check(&asset, &BrandRules::none()).verdict, Verdict::Pass);
        let asset = guardian.parse_asset(Platform::X, &format!(r#"{{"text": "{}"}}"#, "a".repeat(281))).unwrap();
        let report = guardian.check(&asset, &BrandRules::none());
        assert_eq!(report.verdict, Verdict::Block);
        assert_eq!(report.findings[0].span, Some(TextSpan { start: 280, end: 281 }));
        let err =
            guardian.parse_asset(Platform::Meta, r#"{"primary_text": "", "headline": "", "description": "", "special_ad_category": "credt"}"#).unwrap_err();
        assert!(err.to_string().contains("expected one of: credit, employment"), "{err}");
    }
}
