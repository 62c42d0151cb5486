//! Data-driven Guardian cases (`tests/cases/*.toml`): for every rule of the
//! shipped packs, copy that must trigger it and a near miss that must not;
//! and clean, realistic copy for each platform (`clean*.toml`) that must
//! pass with no finding at all (a false block costs as much as a miss).

use std::{collections::BTreeMap, path::Path};

use rf_domain::{AssetContent, AssetKind, BrandCodex, Voice};
use rf_guardian::{Asset, BrandRules, Guardian, Platform, Verdict};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    case: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    /// An ad platform (its JSON shape), or none with `kind`.
    #[serde(default)]
    platform: String,
    /// A stored asset kind that is not an ad (`email`, `blog_post`...): the
    /// asset is that kind's content.
    #[serde(default)]
    kind: Option<AssetKind>,
    asset: toml::Value,
    #[serde(default)]
    brand: Option<Brand>,
    #[serde(default)]
    fires: Vec<String>,
    #[serde(default)]
    quiet: Vec<String>,
    #[serde(default)]
    field: Option<String>,
    #[serde(default)]
    clean: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Brand {
    #[serde(default)]
    company: String,
    #[serde(default)]
    banned_terms: Vec<String>,
    #[serde(default)]
    required_disclaimers: Vec<String>,
    #[serde(default)]
    disclaimers_by_kind: BTreeMap<AssetKind, Vec<String>>,
    #[serde(default)]
    voice_donts: Vec<String>,
}

impl Brand {
    fn codex(&self) -> BrandCodex {
        BrandCodex {
            company: self.company.clone(),
            banned_terms: self.banned_terms.clone(),
            required_disclaimers: self.required_disclaimers.clone(),
            disclaimers_by_kind: self.disclaimers_by_kind.clone(),
            voice: Voice { donts: self.voice_donts.clone(), ..Voice::default() },
            ..BrandCodex::default()
        }
    }
}

/// The case files: rule cases, or (`clean`) clean copy, `clean*.toml`.
fn case_files(clean: bool) -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".toml") && name.starts_with("clean") == clean)
        .collect();
    files.sort();
    files
}

fn load(file: &str) -> Vec<Case> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    let cases: CaseFile = toml::from_str(&text).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    cases.case
}

/// Runs every case of a file; returns, per rule id, how many cases fired it
/// and how many held it quiet.
fn run(guardian: &Guardian, cases: &[Case], coverage: &mut BTreeMap<String, (usize, usize)>) -> Vec<String> {
    let mut failures = Vec::new();
    for case in cases {
        let parsed = match case.kind {
            Some(kind) => {
                let mut json = serde_json::to_value(&case.asset).unwrap();
                json["kind"] = serde_json::Value::String(kind.to_string());
                serde_json::from_value::<AssetContent>(json).map(|content| Asset::from_content(&content)).map_err(|err| err.to_string())
            }
            None => {
                let platform: Platform = case.platform.parse().unwrap_or_else(|err| panic!("case '{}': {err}", case.name));
                guardian.parse_asset(platform, &serde_json::to_string(&case.asset).unwrap()).map_err(|err| err.to_string())
            }
        };
        let asset = match parsed {
            Ok(asset) => asset,
            Err(err) => {
                failures.push(format!("case '{}': the asset does not parse: {err}", case.name));
                continue;
            }
        };
        let brand = BrandRules::new(&case.brand.as_ref().map(Brand::codex).unwrap_or_default()).unwrap();
        let report = guardian.check(&asset, &brand);
        let fired = |rule: &str| report.findings.iter().filter(|f| f.rule == rule).collect::<Vec<_>>();
        for rule in &case.fires {
            coverage.entry(rule.clone()).or_default().0 += 1;
            if fired(rule).is_empty() {
                failures.push(format!("case '{}': {rule} did not fire; findings: {:#?}", case.name, report.findings));
            }
        }
        if let (Some(field), Some(rule)) = (&case.field, case.fires.first()) {
            let fields: Vec<&str> = fired(rule).iter().map(|f| f.field.as_str()).collect();
            if !fields.contains(&field.as_str()) {
                failures.push(format!("case '{}': {rule} fired on {fields:?}, not on {field}", case.name));
            }
        }
        for rule in &case.quiet {
            coverage.entry(rule.clone()).or_default().1 += 1;
            let found = fired(rule);
            if !found.is_empty() {
                failures.push(format!("case '{}': {rule} fired but must not: {found:#?}", case.name));
            }
        }
        if case.clean && (!report.findings.is_empty() || report.verdict != Verdict::Pass) {
            failures.push(format!("clean case '{}' has findings: {:#?}", case.name, report.findings));
        }
        // Every finding says where and how to fix it.
        for finding in &report.findings {
            if finding.message.contains('{') || finding.message.len() < 20 {
                failures.push(format!("case '{}': poor message {:?}", case.name, finding.message));
            }
            if let Some(span) = finding.span {
                assert!(span.start <= span.end, "case '{}': span {span:?}", case.name);
            }
        }
    }
    failures
}

#[test]
fn every_rule_fires_on_its_cases_and_not_on_its_near_misses() {
    let guardian = Guardian::builtin().unwrap();
    let cases: Vec<Case> = case_files(false).iter().flat_map(|file| load(file)).collect();
    let mut coverage = BTreeMap::new();
    let failures = run(&guardian, &cases, &mut coverage);
    let mut uncovered = Vec::new();
    for rule in guardian.rules(None) {
        let (fires, quiet) = coverage.get(&rule.id).copied().unwrap_or_default();
        if fires == 0 || quiet == 0 {
            uncovered.push(format!("{}: {fires} firing and {quiet} near-miss cases", rule.id));
        }
    }
    let unknown: Vec<&String> = coverage.keys().filter(|id| !guardian.rules(None).iter().any(|r| &&r.id == id)).collect();
    assert!(unknown.is_empty(), "cases name rules no pack has: {unknown:?}");
    assert!(uncovered.is_empty(), "rules without both kinds of case:\n{}", uncovered.join("\n"));
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
    assert!(coverage.len() >= guardian.rules(None).len());
}

#[test]
fn clean_copy_for_every_platform_passes_with_no_findings() {
    let guardian = Guardian::builtin().unwrap();
    let cases: Vec<Case> = case_files(true).iter().flat_map(|file| load(file)).collect();
    for platform in Platform::ALL {
        let n = cases.iter().filter(|c| c.clean && c.platform == platform.as_str()).count();
        assert!(n >= 4, "only {n} clean cases for {platform}");
    }
    let failures = run(&guardian, &cases, &mut BTreeMap::new());
    assert!(failures.is_empty(), "{} of {} clean cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}
