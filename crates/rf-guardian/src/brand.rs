//! The brand's own rules, compiled from a workspace's brand codex: banned
//! terms, required disclaimers, and the voice don'ts that name words.
//! Compile once per codex and reuse; checking is then as cheap as the
//! platform rules.

use std::collections::{BTreeMap, HashSet};

use regex::{Regex, RegexBuilder};
use rf_domain::{AssetKind, BrandCodex};
use unicode_normalization::UnicodeNormalization;

use crate::{GuardianError, Result};

/// A phrase to find in copy, and the codex entry it comes from.
#[derive(Debug)]
pub(crate) struct Phrase {
    pub(crate) regex: Regex,
    pub(crate) origin: String,
}

/// A disclaimer as written, and a pattern that finds it whatever its case
/// and however the white space between its words runs (a line break).
#[derive(Debug)]
pub(crate) struct Disclaimer {
    pub(crate) text: String,
    pub(crate) regex: Regex,
}

/// A brand codex made ready to check against.
#[derive(Debug, Default)]
pub struct BrandRules {
    /// Upper-cased words of the company name: trademarks may be in capitals.
    pub(crate) trademarks: HashSet<String>,
    pub(crate) banned: Option<Regex>,
    pub(crate) every_kind: Vec<Disclaimer>,
    pub(crate) by_kind: BTreeMap<AssetKind, Vec<Disclaimer>>,
    pub(crate) voice: Vec<Phrase>,
}

/// A literal phrase as a pattern: any white space between its words, and
/// a word boundary at each end that is a letter or digit, so "#ad" is not
/// found in "#adventure" and "Terms apply." is found before "See".
fn phrase_pattern(phrase: &str) -> String {
    let phrase: String = phrase.nfc().collect::<String>().replace(['’', '‘'], "'");
    let body = phrase.split_whitespace().map(regex::escape).collect::<Vec<_>>().join(r"\s+");
    let word = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    let start = if word(phrase.trim().chars().next()) { r"\b{start-half}" } else { "" };
    let end = if word(phrase.trim().chars().next_back()) { r"\b{end-half}" } else { "" };
    format!("{start}(?:{body}){end}")
}

fn build(pattern: &str) -> Result<Regex> {
    RegexBuilder::new(pattern)
        .case_insensitive(true)
        .size_limit(64 << 20)
        .build()
        .map_err(|err| GuardianError::Brand(format!("the brand codex's terms do not compile: {err}")))
}

/// The words a voice don't names: its quoted words, or the whole don't
/// (without a leading "avoid", "no", "never", "don't", "do not") when that
/// is at most three words. Longer prose names no words to match.
pub(crate) fn voice_phrases(dont: &str) -> Vec<String> {
    let mut quoted = Vec::new();
    let chars: Vec<char> = dont.chars().collect();
    let opening = |c: char| matches!(c, '\'' | '"' | '“' | '‘');
    let closing = |c: char| matches!(c, '\'' | '"' | '”' | '’');
    let mut k = 0;
    while k < chars.len() {
        // An apostrophe inside a word ("don't") does not open a quote.
        if opening(chars[k]) && (k == 0 || !chars[k - 1].is_alphanumeric()) {
            let close = (k + 1..chars.len()).find(|&j| closing(chars[j]) && chars.get(j + 1).is_none_or(|c| !c.is_alphanumeric()));
            if let Some(close) = close {
                let inner: String = chars[k + 1..close].iter().collect();
                if !inner.trim().is_empty() {
                    quoted.push(inner.trim().to_owned());
                }
                k = close + 1;
                continue;
            }
        }
        k += 1;
    }
    if !quoted.is_empty() {
        return quoted;
    }
    let lower = dont.trim().to_lowercase();
    let mut rest = lower.as_str();
    for prefix in ["avoid ", "no ", "never ", "don't ", "don’t ", "do not "] {
        if let Some(stripped) = rest.strip_prefix(prefix) {
            rest = stripped;
            break;
        }
    }
    let rest = rest.trim().trim_end_matches(['.', '!']);
    let n_words = rest.split_whitespace().count();
    if (1..=3).contains(&n_words) { vec![rest.to_owned()] } else { Vec::new() }
}

impl BrandRules {
    /// No brand rules: a check without a workspace.
    pub fn none() -> BrandRules {
        BrandRules::default()
    }

    /// Compiles a brand codex. Empty entries are skipped.
    pub fn new(codex: &BrandCodex) -> Result<BrandRules> {
        let trademarks = codex.company.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_uppercase).collect();
        let terms: Vec<String> = codex.banned_terms.iter().filter(|t| !t.trim().is_empty()).map(|t| phrase_pattern(t)).collect();
        let banned = if terms.is_empty() { None } else { Some(build(&terms.join("|"))?) };
        let disclaimers = |list: &[String]| -> Result<Vec<Disclaimer>> {
            list.iter()
                .filter(|d| !d.trim().is_empty())
                .map(|d| {
                    let regex = build(&phrase_pattern(d))?;
                    Ok(Disclaimer { text: d.trim().to_owned(), regex })
                })
                .collect()
        };
        let mut voice = Vec::new();
        for dont in &codex.voice.donts {
            for phrase in voice_phrases(dont) {
                voice.push(Phrase { regex: build(&phrase_pattern(&phrase))?, origin: dont.trim().to_owned() });
            }
        }
        Ok(BrandRules {
            trademarks,
            banned,
            every_kind: disclaimers(&codex.required_disclaimers)?,
            by_kind: codex.disclaimers_by_kind.iter().map(|(kind, list)| Ok((*kind, disclaimers(list)?))).collect::<Result<_>>()?,
            voice,
        })
    }

    /// The disclaimers an asset of `kind` must carry. Image briefs carry no
    /// copy of their own, so only disclaimers named for them apply.
    pub(crate) fn disclaimers_for(&self, kind: AssetKind) -> impl Iterator<Item = &Disclaimer> {
        let every = if kind == AssetKind::ImageBrief { &[][..] } else { &self.every_kind[..] };
        every.iter().chain(self.by_kind.get(&kind).into_iter().flatten())
    }

    /// The disclaimers an asset of `kind` must carry that none of `texts`
    /// holds (matched as Guardian matches them), as written in the codex.
    pub fn missing_disclaimers(&self, kind: AssetKind, texts: &[&str]) -> Vec<String> {
        self.disclaimers_for(kind).filter(|d| texts.iter().all(|t| d.regex.find(t).is_none())).map(|d| d.text.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voice_donts_name_words_only_when_they_can() {
        let check = |dont: &str, expected: &[&str]| assert_eq!(voice_phrases(dont), expected, "{dont}");
        check("never say 'cheap' or \"bargain\"", &["cheap", "bargain"]);
        check("don't call us “gurus”", &["gurus"]);
        check("synergy", &["synergy"]);
        check("Avoid jargon.", &["jargon"]);
        check("coffee-snob jargon", &["coffee-snob jargon"]);
        check("don't lecture the reader about their habits", &[]);
        check("don't", &["don't"]);
    }

    #[test]
    fn disclaimers_match_whatever_their_case_and_spacing() {
        let codex = BrandCodex { required_disclaimers: vec!["Terms  apply. See site".into()], ..BrandCodex::default() };
        let rules = BrandRules::new(&codex).unwrap();
        assert!(rules.every_kind[0].regex.is_match("Offer ends Friday. terms apply.\nsee SITE"));
        assert!(!rules.every_kind[0].regex.is_match("Terms apply."));
        let codex = BrandCodex { required_disclaimers: vec!["#ad".into()], banned_terms: vec!["we’re #1".into()], ..BrandCodex::default() };
        let rules = BrandRules::new(&codex).unwrap();
        assert!(!rules.every_kind[0].regex.is_match("#adventure awaits"));
        assert!(rules.every_kind[0].regex.is_match("Awaits. #ad"));
        assert!(rules.banned.as_ref().unwrap().is_match("Yes, we're #1."));
    }
}
