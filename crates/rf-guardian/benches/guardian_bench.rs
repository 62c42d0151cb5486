//! Guardian checks per second on one thread, for a typical asset of each
//! platform with a brand codex in force. Guardian runs on every keystroke in
//! the editor, so the goal is at least 10,000 checks/s.
//!
//! The anchor, measured in the same run on the same text: twitter-text's
//! own parse of the asset's copy, which X's clients run on every keystroke
//! to count characters. The ratio says how many such parses one Guardian
//! check costs.
//!
//! `cargo bench -p rf-guardian --bench guardian_bench [-- --quick]`

#![allow(clippy::print_stdout)]

use std::{
    hint::black_box,
    time::{Duration, Instant},
};

use rf_domain::{AssetKind, BrandCodex, Voice};
use rf_guardian::{BrandRules, Guardian, Platform};

const GOAL_PER_SECOND: f64 = 10_000.0;

fn typical_assets() -> Vec<(Platform, String)> {
    let google = serde_json::json!({
        "headlines": [
            "Fresh Coffee, Roasted to Order", "Gift a Coffee Subscription", "Ships Within 48 Hours",
            "Single-Origin Beans Monthly", "Pick Your Roast and Grind", "Three Months of Fresh Coffee",
            "Pause or Cancel Any Time", "Free Shipping Over $30", "Small-Batch Specialty Coffee",
            "Roast Date on Every Bag", "Whole Bean or Ground", "Gift Cards From $25",
            "Meet the Farms We Buy From", "Order by Dec 18 for Delivery", "Northwind Coffee Roasters",
        ],
        "descriptions": [
            "A fresh bag every month from farms we know by name. Roasted to order, shipped in 48 hours.",
            "Give three months of specialty coffee. Pick the roast; we handle the wrapping and delivery.",
            "Whole bean or ground for espresso, filter or French press. Subscriptions renew monthly.",
            "Cancel any time from your account page. Roast dates printed on every bag we send out.",
        ],
        "paths": ["gifts", "subscriptions"],
    });
    let meta = serde_json::json!({
        "primary_text": "Three months of fresh coffee, wrapped. A Northwind gift subscription sends a bag a month, roasted to order. Subscriptions renew monthly; cancel any time.",
        "headline": "Gift fresh coffee this winter",
        "description": "Roasted to order",
    });
    let linkedin = serde_json::json!({
        "intro": "Keep the team caffeinated without the supermarket run. Northwind sends fresh, small-batch coffee to offices of 10 to 50 every month. Subscriptions renew monthly; cancel any time.",
        "headline": "Office coffee, roasted to order and delivered monthly",
        "description": "Plans for teams of 10 to 50, with a roast date on every bag.",
    });
    let x = serde_json::json!({
        "text": "New this month: a washed Ethiopian from Guji with notes of peach and jasmine. Roasted to order, shipped within 48 hours. Subscriptions renew monthly; cancel any time. https://northwind.example/guji #coffee",
    });
    vec![
        (Platform::GoogleAds, google.to_string()),
        (Platform::Meta, meta.to_string()),
        (Platform::Linkedin, linkedin.to_string()),
        (Platform::X, x.to_string()),
    ]
}

fn brand() -> BrandCodex {
    BrandCodex {
        company: "Northwind Coffee Roasters".into(),
        banned_terms: vec!["best coffee in the world".into(), "guaranteed".into(), "cheap".into()],
        required_disclaimers: vec!["Subscriptions renew monthly".into()],
        disclaimers_by_kind: [(AssetKind::MetaAd, vec!["cancel any time".into()])].into(),
        voice: Voice { donts: vec!["coffee-snob jargon".into(), "never say 'artisanal'".into()], ..Voice::default() },
        ..BrandCodex::default()
    }
}

/// Runs `work` repeatedly for about `budget` and returns runs per second.
fn rate(budget: Duration, mut work: impl FnMut()) -> f64 {
    for _ in 0..100 {
        work();
    }
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget {
        for _ in 0..100 {
            work();
        }
        n += 100;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let budget = Duration::from_millis(if quick { 700 } else { 3000 });
    let guardian = Guardian::builtin().expect("the shipped packs load");
    let brand = BrandRules::new(&brand()).expect("the brand codex compiles");
    println!("guardian_bench: 1 thread, {} ms per figure, {} rules", budget.as_millis(), guardian.rules(None).len());
    println!(
        "{:<11} {:>6} {:>9} {:>12} {:>14} {:>12} {:>10} {:>9}",
        "platform", "chars", "findings", "checks/s", "parse+check/s", "anchor /s", "x anchor", "x goal"
    );
    for (platform, json) in typical_assets() {
        let asset = guardian.parse_asset(platform, &json).expect("the typical asset parses");
        let report = guardian.check(&asset, &brand);
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        let copy: String = match &value {
            serde_json::Value::Object(map) => map
                .values()
                .flat_map(|v| match v {
                    serde_json::Value::Array(items) => items.iter().filter_map(|i| i.as_str()).collect::<Vec<_>>(),
                    other => other.as_str().into_iter().collect(),
                })
                .collect::<Vec<_>>()
                .join("\n"),
            _ => unreachable!(),
        };
        let checks = rate(budget, || {
            black_box(guardian.check(black_box(&asset), &brand));
        });
        let parse_and_check = rate(budget, || {
            let asset = guardian.parse_asset(platform, black_box(&json)).unwrap();
            black_box(guardian.check(&asset, &brand));
        });
        let anchor = rate(budget, || {
            black_box(twitter_text::parse(black_box(&copy), twitter_text_config::config_v3(), true));
        });
        println!(
            "{:<11} {:>6} {:>9} {:>12.0} {:>14.0} {:>12.0} {:>9.2}x {:>8.1}x",
            platform.as_str(),
            copy.chars().count(),
            report.findings.len(),
            checks,
            parse_and_check,
            anchor,
            anchor / checks,
            checks / GOAL_PER_SECOND,
        );
    }
    println!("x anchor: how many twitter-text parses of the same copy one check costs; x goal: checks/s over 10,000/s");
}
