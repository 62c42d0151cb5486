//! Policy packs: TOML files of rules (see `packs/` and the crate README),
//! read and validated into compiled rules. Every problem names the pack and
//! the rule, and a pack with any problem is refused whole: a half-loaded
//! policy would pass copy it should block.

use std::collections::HashSet;

use regex::{Regex, RegexBuilder};
use rf_domain::{AssetKind, FindingCategory, FindingSeverity};
use serde::{Deserialize, Serialize};

use crate::{GuardianError, Platform, Result, scan::CharSet};

/// The packs that ship with RaptorFlow, compiled into the binary so that
/// Guardian works with nothing installed.
pub const BUILTIN_PACKS: [(&str, &str); 7] = [
    ("google-ads.toml", include_str!("../packs/google-ads.toml")),
    ("meta.toml", include_str!("../packs/meta.toml")),
    ("linkedin.toml", include_str!("../packs/linkedin.toml")),
    ("x.toml", include_str!("../packs/x.toml")),
    ("restricted.toml", include_str!("../packs/restricted.toml")),
    ("brand.toml", include_str!("../packs/brand.toml")),
    ("legal.toml", include_str!("../packs/legal.toml")),
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PackFile {
    pack: PackHeader,
    #[serde(default)]
    rule: Vec<RuleFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PackHeader {
    id: String,
    name: String,
    platforms: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    id: String,
    category: String,
    severity: String,
    #[serde(default)]
    fields: Option<Vec<String>>,
    source: String,
    checked: String,
    message: String,
    check: CheckFile,
}

/// How a length is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LengthUnit {
    /// Unicode characters (of the NFC form).
    Chars,
    /// Characters, East Asian wide ones (CJK) counting two, as Google Ads counts.
    DisplayWidth,
    /// twitter-text's weighted length (v3 configuration): URLs 23, CJK and emoji 2.
    Twitter,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum CheckFile {
    Count {
        min: usize,
        max: usize,
    },
    MaxLength {
        max: usize,
        unit: LengthUnit,
    },
    ForbiddenChars {
        chars: Vec<String>,
    },
    Capitalization {
        min_letters: usize,
        max_case_flips: usize,
        #[serde(default)]
        allow: Vec<String>,
    },
    RepeatedPunctuation {
        chars: String,
    },
    GimmickySpacing {
        min_letters: usize,
        double_spaces: bool,
    },
    SymbolsAsLetters {
        digits: String,
        symbols: String,
    },
    EmphasisSymbols {
        bullets: Vec<String>,
    },
    Emoji {
        ranges: Vec<String>,
    },
    Pattern {
        patterns: Vec<String>,
        #[serde(default = "yes")]
        word_bounded: bool,
    },
    MaxPerAsset {
        pattern: String,
        max: usize,
    },
    Near {
        window: usize,
        anchors: Vec<String>,
        terms: Vec<String>,
    },
    SpecialCategory {
        declares: String,
        patterns: Vec<String>,
    },
    Requires {
        #[serde(default)]
        kinds: Vec<AssetKind>,
        #[serde(default)]
        when: Vec<String>,
        patterns: Vec<String>,
        #[serde(default = "yes")]
        word_bounded: bool,
    },
    BrandBannedTerms,
    BrandDisclaimers,
    BrandVoiceDonts,
}

fn yes() -> bool {
    true
}

/// A compiled check.
#[derive(Debug)]
pub(crate) enum Check {
    Count {
        min: usize,
        max: usize,
    },
    MaxLength {
        max: usize,
        unit: LengthUnit,
    },
    ForbiddenChars {
        chars: CharSet,
    },
    Capitalization {
        min_letters: usize,
        max_case_flips: usize,
        allow: HashSet<String>,
    },
    RepeatedPunctuation {
        chars: CharSet,
    },
    GimmickySpacing {
        min_letters: usize,
        double_spaces: bool,
    },
    SymbolsAsLetters {
        digits: CharSet,
        symbols: CharSet,
    },
    EmphasisSymbols {
        bullets: CharSet,
    },
    Emoji {
        ranges: Vec<(u32, u32)>,
    },
    Pattern {
        regex: Regex,
    },
    MaxPerAsset {
        regex: Regex,
        max: usize,
    },
    Near {
        window: usize,
        anchors: Regex,
        terms: Regex,
    },
    SpecialCategory {
        declares: String,
        regex: Regex,
    },
    /// Something the asset must say: for assets of `kinds` (every kind when
    /// empty) that match `when` (always when `None`), one of `patterns`.
    Requires {
        kinds: Vec<AssetKind>,
        when: Option<Regex>,
        patterns: Regex,
    },
    BrandBannedTerms,
    BrandDisclaimers,
    BrandVoiceDonts,
}

impl Check {
    fn kind(&self) -> &'static str {
        match self {
            Check::Count { .. } => "count",
            Check::MaxLength { .. } => "max_length",
            Check::ForbiddenChars { .. } => "forbidden_chars",
            Check::Capitalization { .. } => "capitalization",
            Check::RepeatedPunctuation { .. } => "repeated_punctuation",
            Check::GimmickySpacing { .. } => "gimmicky_spacing",
            Check::SymbolsAsLetters { .. } => "symbols_as_letters",
            Check::EmphasisSymbols { .. } => "emphasis_symbols",
            Check::Emoji { .. } => "emoji",
            Check::Pattern { .. } => "pattern",
            Check::MaxPerAsset { .. } => "max_per_asset",
            Check::Near { .. } => "near",
            Check::SpecialCategory { .. } => "special_category",
            Check::Requires { .. } => "requires",
            Check::BrandBannedTerms => "brand_banned_terms",
            Check::BrandDisclaimers => "brand_disclaimers",
            Check::BrandVoiceDonts => "brand_voice_donts",
        }
    }

    /// The placeholders this check fills in a message.
    fn placeholders(&self) -> &'static [&'static str] {
        match self {
            Check::Count { .. } => &["actual", "min", "max"],
            Check::MaxLength { .. } => &["actual", "limit", "over"],
            Check::MaxPerAsset { .. } => &["actual", "limit", "match"],
            Check::BrandDisclaimers | Check::Requires { .. } => &["match", "kind"],
            Check::BrandVoiceDonts => &["match", "rule"],
            _ => &["match"],
        }
    }
}

/// Which platforms a rule applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Platforms {
    /// Every asset, of every kind.
    All,
    Only(Vec<Platform>),
}

impl Platforms {
    pub(crate) fn applies_to(&self, platform: Option<Platform>) -> bool {
        match self {
            Platforms::All => true,
            Platforms::Only(list) => platform.is_some_and(|p| list.contains(&p)),
        }
    }
}

/// What `guardian rules` shows of a rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleInfo {
    pub id: String,
    /// The pack it comes from.
    pub pack: String,
    /// `google-ads`, `meta`, `linkedin`, `x`, or `*` for every asset.
    pub platforms: Vec<String>,
    pub category: FindingCategory,
    pub severity: FindingSeverity,
    /// The fields it reads; empty for every text field.
    pub fields: Vec<String>,
    /// How it checks (`max_length`, `pattern`...).
    pub check: String,
    /// Where the rule is published.
    pub source: String,
    /// When the rule was last compared with its source (YYYY-MM-DD).
    pub checked: String,
}

/// A rule ready to apply.
#[derive(Debug)]
pub(crate) struct Rule {
    pub(crate) info: RuleInfo,
    pub(crate) platforms: Platforms,
    /// The field groups it reads; `None` for every text field.
    pub(crate) fields: Option<Vec<String>>,
    pub(crate) message: String,
    pub(crate) check: Check,
}

impl Rule {
    pub(crate) fn reads(&self, group: &str) -> bool {
        self.fields.as_ref().is_none_or(|fields| fields.iter().any(|f| f == group))
    }
}

/// Compiles the regular expressions of a rule into one, case-insensitive.
/// A `bounded` pattern only matches where the characters just outside it
/// are not word characters, so "cure" does not match "curated" and "you"
/// does not match the start of "your".
pub(crate) fn compile_alternation(patterns: &[String], bounded: bool) -> std::result::Result<Regex, String> {
    if patterns.is_empty() || patterns.iter().any(|p| p.trim().is_empty()) {
        return Err("a pattern list must not be empty, nor hold an empty pattern".into());
    }
    for pattern in patterns {
        Regex::new(pattern).map_err(|err| format!("pattern '{pattern}' is not a valid regular expression: {err}"))?;
    }
    let alternation = patterns.iter().map(|p| format!("(?:{p})")).collect::<Vec<_>>().join("|");
    let alternation = if bounded { format!(r"\b{{start-half}}(?:{alternation})\b{{end-half}}") } else { alternation };
    RegexBuilder::new(&alternation).case_insensitive(true).size_limit(64 << 20).build().map_err(|err| format!("the patterns do not compile together: {err}"))
}

fn one_char(text: &str, what: &str) -> std::result::Result<char, String> {
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => Ok(c),
        _ => Err(format!("each {what} must be one character, got '{text}'")),
    }
}

fn parse_range(text: &str) -> std::result::Result<(u32, u32), String> {
    let hex = |h: &str| u32::from_str_radix(h.trim(), 16).map_err(|_| format!("emoji range '{text}' is not hex such as 1F600 or 1F600-1F64F"));
    let (start, end) = match text.split_once('-') {
        Some((a, b)) => (hex(a)?, hex(b)?),
        None => (hex(text)?, hex(text)?),
    };
    if start > end {
        return Err(format!("emoji range '{text}' ends before it starts"));
    }
    Ok((start, end))
}

fn is_date(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
        && matches!(text[5..7].parse::<u8>(), Ok(1..=12))
        && matches!(text[8..10].parse::<u8>(), Ok(1..=31))
}

/// Placeholders in a message template, `{name}`.
fn placeholders_in(message: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut rest = message;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                names.push(&after[..close]);
                rest = &after[close + 1..];
            }
            None => break,
        }
    }
    names
}

fn compile_check(check: CheckFile) -> std::result::Result<Check, String> {
    Ok(match check {
        CheckFile::Count { min, max } => {
            if min > max {
                return Err(format!("count min {min} is over max {max}"));
            }
            Check::Count { min, max }
        }
        CheckFile::MaxLength { max, unit } => {
            if max == 0 {
                return Err("max_length max must be at least 1".into());
            }
            Check::MaxLength { max, unit }
        }
        CheckFile::ForbiddenChars { chars } => {
            Check::ForbiddenChars { chars: CharSet::new(chars.iter().map(|c| one_char(c, "forbidden char")).collect::<std::result::Result<Vec<_>, _>>()?) }
        }
        CheckFile::Capitalization { min_letters, max_case_flips, allow } => {
            if min_letters < 2 {
                return Err("capitalization min_letters must be at least 2".into());
            }
            Check::Capitalization { min_letters, max_case_flips, allow: allow.iter().map(|w| w.to_uppercase()).collect() }
        }
        CheckFile::RepeatedPunctuation { chars } => {
            if chars.is_empty() {
                return Err("repeated_punctuation chars must not be empty".into());
            }
            Check::RepeatedPunctuation { chars: CharSet::new(chars.chars()) }
        }
        CheckFile::GimmickySpacing { min_letters, double_spaces } => {
            if min_letters < 2 {
                return Err("gimmicky_spacing min_letters must be at least 2".into());
            }
            Check::GimmickySpacing { min_letters, double_spaces }
        }
        CheckFile::SymbolsAsLetters { digits, symbols } => {
            if digits.chars().any(|c| !c.is_ascii_digit()) {
                return Err(format!("symbols_as_letters digits must be digits, got '{digits}'"));
            }
            Check::SymbolsAsLetters { digits: CharSet::new(digits.chars()), symbols: CharSet::new(symbols.chars()) }
        }
        CheckFile::EmphasisSymbols { bullets } => {
            Check::EmphasisSymbols { bullets: CharSet::new(bullets.iter().map(|c| one_char(c, "bullet")).collect::<std::result::Result<Vec<_>, _>>()?) }
        }
        CheckFile::Emoji { ranges } => {
            if ranges.is_empty() {
                return Err("emoji ranges must not be empty".into());
            }
            Check::Emoji { ranges: ranges.iter().map(|r| parse_range(r)).collect::<std::result::Result<_, _>>()? }
        }
        CheckFile::Pattern { patterns, word_bounded } => Check::Pattern { regex: compile_alternation(&patterns, word_bounded)? },
        CheckFile::MaxPerAsset { pattern, max } => Check::MaxPerAsset { regex: compile_alternation(&[pattern], false)?, max },
        CheckFile::Near { window, anchors, terms } => Check::Near {
            window,
            anchors: compile_alternation(&anchors, true).map_err(|e| format!("anchors: {e}"))?,
            terms: compile_alternation(&terms, true).map_err(|e| format!("terms: {e}"))?,
        },
        CheckFile::SpecialCategory { declares, patterns } => {
            let declares = declares.trim().to_ascii_lowercase();
            if declares.is_empty() || !declares.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
                return Err(format!("special_category declares must be a name such as credit, got '{declares}'"));
            }
            Check::SpecialCategory { declares, regex: compile_alternation(&patterns, true)? }
        }
        CheckFile::Requires { kinds, when, patterns, word_bounded } => Check::Requires {
            kinds,
            when: if when.is_empty() { None } else { Some(compile_alternation(&when, true).map_err(|e| format!("when: {e}"))?) },
            patterns: compile_alternation(&patterns, word_bounded).map_err(|e| format!("patterns: {e}"))?,
        },
        CheckFile::BrandBannedTerms => Check::BrandBannedTerms,
        CheckFile::BrandDisclaimers => Check::BrandDisclaimers,
        CheckFile::BrandVoiceDonts => Check::BrandVoiceDonts,
    })
}

/// Reads one pack file into rules. `seen` holds rule ids of packs already
/// read, so that an id is unique across packs.
pub(crate) fn read_pack(file_name: &str, text: &str, seen: &mut HashSet<String>) -> Result<Vec<Rule>> {
    let problem = |rule: &str, reason: String| GuardianError::Pack { pack: file_name.to_owned(), rule: rule.to_owned(), reason };
    let file: PackFile = toml::from_str(text).map_err(|err| problem("", err.to_string().trim_end().to_owned()))?;
    let header = file.pack;
    if header.id.trim().is_empty() || header.name.trim().is_empty() {
        return Err(problem("", "[pack] needs a non-empty id and name".into()));
    }
    let platforms = if header.platforms == ["*"] {
        Platforms::All
    } else {
        if header.platforms.is_empty() {
            return Err(problem("", "[pack] platforms must list platforms, or be [\"*\"] for every asset".into()));
        }
        let list = header.platforms.iter().map(|p| p.parse::<Platform>().map_err(|err| problem("", err.to_string()))).collect::<Result<Vec<_>>>()?;
        Platforms::Only(list)
    };
    if file.rule.is_empty() {
        return Err(problem("", "the pack has no [[rule]]".into()));
    }
    let mut rules = Vec::with_capacity(file.rule.len());
    for rule in file.rule {
        let id = rule.id.trim().to_owned();
        let fail = |reason: String| problem(&id, reason);
        if !id.starts_with(&format!("{}.", header.id)) || id.len() <= header.id.len() + 1 {
            return Err(fail(format!("rule ids in this pack start with '{}.'", header.id)));
        }
        if !seen.insert(id.clone()) {
            return Err(fail("the rule id is used twice".into()));
        }
        let category: FindingCategory = rule.category.parse().map_err(|err: rf_domain::DomainError| fail(err.to_string()))?;
        let severity: FindingSeverity = rule.severity.parse().map_err(|err: rf_domain::DomainError| fail(err.to_string()))?;
        if rule.source.trim().is_empty() {
            return Err(fail("source must say where the rule is published".into()));
        }
        if !is_date(&rule.checked) {
            return Err(fail(format!("checked must be a date such as 2026-11-27, got '{}'", rule.checked)));
        }
        if rule.message.trim().is_empty() {
            return Err(fail("message must say how to fix the problem".into()));
        }
        let check = compile_check(rule.check).map_err(fail)?;
        for name in placeholders_in(&rule.message) {
            if !check.placeholders().contains(&name) {
                return Err(fail(format!(
                    "message uses {{{name}}}, which a {} check does not fill (it fills {})",
                    check.kind(),
                    check.placeholders().iter().map(|p| format!("{{{p}}}")).collect::<Vec<_>>().join(", ")
                )));
            }
        }
        if matches!(check, Check::Requires { when: None, .. }) && placeholders_in(&rule.message).contains(&"match") {
            return Err(fail("message uses {match}, which a requires check without `when` has nothing to fill with".into()));
        }
        if let Some(fields) = &rule.fields {
            let Platforms::Only(list) = &platforms else {
                return Err(fail("a rule for every platform reads every text field; remove `fields`".into()));
            };
            if fields.is_empty() {
                return Err(fail("fields must not be empty; omit it to read every text field".into()));
            }
            for platform in list {
                for field in fields {
                    let spec = platform.fields().iter().find(|s| s.name == field).ok_or_else(|| {
                        let names: Vec<&str> = platform.fields().iter().map(|s| s.name).collect();
                        fail(format!("{platform} assets have no field '{field}'; they have {}", names.join(", ")))
                    })?;
                    if matches!(check, Check::Count { .. }) && !spec.list {
                        return Err(fail(format!("a count rule needs a list field; '{field}' is one text")));
                    }
                }
            }
        } else if matches!(check, Check::Count { .. } | Check::MaxLength { .. }) {
            return Err(fail(format!("a {} rule must name its fields", check.kind())));
        }
        let platform_names = match &platforms {
            Platforms::All => vec!["*".to_owned()],
            Platforms::Only(list) => list.iter().map(|p| p.as_str().to_owned()).collect(),
        };
        rules.push(Rule {
            info: RuleInfo {
                id,
                pack: header.id.clone(),
                platforms: platform_names,
                category,
                severity,
                fields: rule.fields.clone().unwrap_or_default(),
                check: check.kind().to_owned(),
                source: rule.source,
                checked: rule.checked,
            },
            platforms: platforms.clone(),
            fields: rule.fields,
            message: rule.message,
            check,
        });
    }
    Ok(rules)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "[pack]\nid = \"p\"\nname = \"P\"\nplatforms = [\"x\"]\n";

    fn error_of(rule: &str) -> String {
        let text = format!("{HEAD}[[rule]]\n{rule}\n");
        read_pack("p.toml", &text, &mut HashSet::new()).unwrap_err().to_string()
    }

    const GOOD: &str = "id = \"p.len\"\ncategory = \"length\"\nseverity = \"block\"\nfields = [\"text\"]\n\
        source = \"https://example.com\"\nchecked = \"2026-11-27\"\nmessage = \"too long by {over}\"\n\
        check = { kind = \"max_length\", max = 280, unit = \"twitter\" }";

    #[test]
    fn a_good_rule_loads() {
        let text = format!("{HEAD}[[rule]]\n{GOOD}\n");
        let rules = read_pack("p.toml", &text, &mut HashSet::new()).unwrap();
        assert_eq!(rules[0].info.id, "p.len");
        assert_eq!(rules[0].info.platforms, ["x"]);
    }

    #[test]
    fn bad_rules_are_refused_with_the_rule_named() {
        let check = |from: &str, to: &str, expected: &str| {
            assert!(GOOD.contains(from), "{from}");
            let err = error_of(&GOOD.replace(from, to));
            assert!(err.contains(expected), "{err} lacks {expected}");
        };
        check("severity = \"block\"", "severity = \"fatal\"", "finding severity");
        check("category = \"length\"", "category = \"size\"", "finding category");
        check("\"2026-11-27\"", "\"27/11/2026\"", "checked must be a date");
        check("{over}", "{ovr}", "message uses {ovr}");
        check("fields = [\"text\"]", "fields = [\"body\"]", "x assets have no field 'body'");
        check("id = \"p.len\"", "id = \"q.len\"", "start with 'p.'");
        check("max = 280", "max = 0", "at least 1");
        check("unit = \"twitter\"", "unit = \"bytes\"", "unknown variant");
        check("kind = \"max_length\", max = 280, unit = \"twitter\"", "kind = \"pattern\", patterns = [\"(\"]", "not a valid regular expression");
        check("kind = \"max_length\", max = 280, unit = \"twitter\"", "kind = \"emoji\", ranges = [\"ZZ\"]", "not hex");
        check("source = \"https://example.com\"", "source = \" \"", "source must say");
        let err = error_of(&GOOD.replace("fields = [\"text\"]\n", ""));
        assert!(err.contains("rule p.len") && err.contains("must name its fields"), "{err}");
    }

    #[test]
    fn duplicate_ids_and_unknown_keys_are_refused() {
        let text = format!("{HEAD}[[rule]]\n{GOOD}\n[[rule]]\n{GOOD}\n");
        let err = read_pack("p.toml", &text, &mut HashSet::new()).unwrap_err().to_string();
        assert!(err.contains("used twice"), "{err}");
        let err = error_of(&format!("{GOOD}\nseverityy = \"warn\""));
        assert!(err.contains("severityy"), "{err}");
        let err = error_of(&GOOD.replace("unit = \"twitter\"", "unit = \"twitter\", maxx = 3"));
        assert!(err.contains("maxx"), "{err}");
    }

    #[test]
    fn the_builtin_packs_load() {
        let mut seen = HashSet::new();
        let n: usize = BUILTIN_PACKS.iter().map(|(name, text)| read_pack(name, text, &mut seen).unwrap().len()).sum();
        assert!(n >= 40, "{n} rules");
    }
}
