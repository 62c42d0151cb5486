//! `raptorflow guardian` and `raptorflow asset` end to end, with the real
//! binary and a real data directory: the check's exit codes and JSON, bad
//! input that names its field and changes nothing, a workspace's brand
//! rules, and a stored asset that cannot be approved while Guardian blocks
//! it.

#[path = "../sync/harness.rs"]
mod harness;

use std::io::Write;

use harness::{Client, Run};

fn write(client: &Client, name: &str, text: &str) -> String {
    let path = client.dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

fn check(client: &Client, platform: &str, asset: &str, workspace: Option<&str>) -> Run {
    let file = write(client, "asset.json", asset);
    let mut args = vec!["--json", "guardian", "check", "--platform", platform];
    if let Some(workspace) = workspace {
        args.extend(["--workspace", workspace]);
    }
    args.push(&file);
    client.run(&args)
}

fn rules_of(report: &serde_json::Value) -> Vec<String> {
    report["findings"].as_array().unwrap().iter().map(|f| f["rule"].as_str().unwrap().to_owned()).collect()
}

#[test]
fn check_reports_a_verdict_with_findings_and_exits_zero_whatever_it_is() {
    let client = Client::new("alice");
    let clean = [
        (
            "google-ads",
            r#"{"headlines": ["Fresh Coffee, Roasted to Order", "Gift a Coffee Subscription", "Ships Within 48 Hours"], "descriptions": ["A fresh bag every month from farms we know by name.", "Pick the roast; we handle the wrapping."], "paths": ["gifts"]}"#,
        ),
        (
            "meta",
            r#"{"primary_text": "Three months of fresh coffee, wrapped and delivered.", "headline": "Gift fresh coffee this winter", "description": "Roasted to order"}"#,
        ),
        (
            "linkedin",
            r#"{"intro": "Fresh coffee for offices of 10 to 50, delivered monthly.", "headline": "Office coffee, roasted to order", "description": "A roast date on every bag."}"#,
        ),
        ("x", r#"{"text": "新しいコーヒーが届きました。Roasted to order, shipped in 48 hours. https://northwind.example/guji"}"#),
    ];
    for (platform, asset) in clean {
        let report = check(&client, platform, asset, None).ok().json();
        assert_eq!(report["verdict"], "pass", "{platform}: {report}");
        assert_eq!(report["findings"].as_array().unwrap().len(), 0, "{report}");
    }

    let run = check(
        &client,
        "google-ads",
        r#"{"headlines": ["FREE Flowers Delivered Today!!", "Fresh fl0wers, same day", "Order flowers online"], "descriptions": ["Same-day delivery across the city.", "Order by noon..."]}"#,
        None,
    );
    assert_eq!(run.code, 0, "{run:?}");
    let report = run.json();
    assert_eq!(report["verdict"], "block");
    let rules = rules_of(&report);
    for rule in ["google_ads.capitalization", "google_ads.repeated_punctuation", "google_ads.symbols_as_letters", "google_ads.ellipsis"] {
        assert!(rules.contains(&rule.to_owned()), "{rule} missing: {report}");
    }
    let finding = &report["findings"][0];
    let mut keys: Vec<&str> = finding.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["category", "field", "message", "rule", "severity", "span"], "{finding}");
    let caps = report["findings"].as_array().unwrap().iter().find(|f| f["rule"] == "google_ads.capitalization").unwrap();
    assert_eq!(caps["field"], "headlines[0]");
    assert_eq!(caps["span"], serde_json::json!({"start": 0, "end": 4}));
    assert_eq!(caps["severity"], "block");

    // Warnings alone give `warn`, still exit 0.
    let run = check(
        &client,
        "meta",
        r#"{"primary_text": "Fresh coffee.", "headline": "Gift fresh coffee this winter to everyone you love", "description": "Roasted to order"}"#,
        None,
    );
    assert_eq!(run.code, 0);
    let report = run.json();
    assert_eq!(report["verdict"], "warn", "{report}");
    assert_eq!(rules_of(&report), ["meta.headline_truncation"]);

    // From stdin.
    let mut child = client
        .command()
        .args(["--json", "guardian", "check", "--platform", "x", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(format!(r#"{{"text": "{}"}}"#, "日本".repeat(141)).as_bytes()).unwrap();
    let run = Run::of(child.wait_with_output().unwrap());
    assert_eq!(run.code, 0, "{run:?}");
    let report = run.json();
    assert_eq!(rules_of(&report), ["x.text_length"], "{report}");
    assert!(report["findings"][0]["message"].as_str().unwrap().contains("564 of 280"), "{report}");
}

#[test]
fn malformed_assets_exit_two_and_name_the_field() {
    let client = Client::new("alice");
    let cases = [
        ("google-ads", r#"{"headlines": ["ok", 7], "descriptions": []}"#, "field `headlines[1]`: expected a string, got a number"),
        ("google-ads", r#"{"headlines": ["ok"]}"#, "field `descriptions`: missing"),
        ("meta", r#"{"primary_text": "a", "headline": "b", "description": "c", "cta": "Buy"}"#, "field `cta`: unknown field"),
        (
            "meta",
            r#"{"primary_text": "a", "headline": "b", "description": "c", "special_ad_category": "loans"}"#,
            "field `special_ad_category`: 'loans' is not a Special Ad Category",
        ),
        ("linkedin", r#"{"intro": "a", "headline": "b"}"#, "field `description`: missing"),
        ("x", r#"{"text": "unterminated"#, "invalid x asset: not JSON"),
        ("x", r#"["text"]"#, "expected an object"),
    ];
    for (platform, asset, expected) in cases {
        let run = check(&client, platform, asset, None);
        assert_eq!(run.code, 2, "{asset}: {run:?}");
        assert!(run.stderr.contains(expected), "{asset}: {} lacks {expected}", run.stderr);
        assert!(!run.stdout.contains("verdict"), "no report for bad input: {run:?}");
    }
    let run = check(&client, "tiktok", r#"{"text": "hi"}"#, None);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("unknown platform 'tiktok'"), "{}", run.stderr);
    let missing = client.run(&["guardian", "check", "--platform", "x", "/nonexistent/asset.json"]);
    assert_eq!(missing.code, 2, "{missing:?}");
    assert!(missing.stderr.contains("/nonexistent/asset.json"), "{}", missing.stderr);

    let rules = client.run(&["--json", "guardian", "rules", "--platform", "x"]).ok().json();
    let ids: Vec<&str> = rules.as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&"x.text_length") && ids.contains(&"restricted.cure_claim") && ids.contains(&"brand.banned_term"), "{ids:?}");
    assert!(!ids.iter().any(|id| id.starts_with("google_ads.")), "{ids:?}");
    assert!(rules.as_array().unwrap().iter().all(|r| r["source"].as_str().is_some_and(|s| !s.is_empty()) && r["checked"].is_string()));
}

#[test]
fn brand_rules_apply_and_a_blocked_asset_cannot_be_approved() {
    let client = Client::new("alice");
    let demo = client.run(&["--json", "demo"]).ok().json();
    let workspace = demo["workspace"]["id"].as_str().unwrap().to_owned();
    let asset_id = demo["campaign"]["assets"].as_object().unwrap().keys().next().unwrap().clone();
    // The sample email carries its disclaimer and no banned term.
    assert_eq!(demo["campaign"]["assets"][&asset_id]["findings"], serde_json::json!([]));

    let brand = serde_json::json!({
        "company": "Northwind Coffee Roasters",
        "banned_terms": ["cheap", "fresh coffee"],
        "required_disclaimers": ["Subscriptions renew monthly; cancel any time."],
        "disclaimers_by_kind": {"meta_ad": ["Offer ends 24 December."]},
        "voice": {"tone": "warm", "dos": [], "donts": ["never say 'artisanal'"]},
    });
    let file = write(&client, "brand.json", &brand.to_string());
    client.run(&["workspace", "set-brand", &workspace, &file]).ok();

    let report = check(&client, "meta", r#"{"primary_text": "Cheap, artisanal coffee. Subscriptions renew monthly; cancel any time.", "headline": "Coffee gifts", "description": "Roasted to order"}"#, Some(&workspace)).ok().json();
    let rules = rules_of(&report);
    assert_eq!(rules, ["brand.banned_term", "brand.missing_disclaimer", "brand.voice"], "{report}");
    assert!(report["findings"][1]["message"].as_str().unwrap().contains("Offer ends 24 December."), "{report}");
    assert_eq!(report["findings"][1]["field"], "");
    assert!(report["findings"][1]["span"].is_null());

    // A malformed brand file names the place and changes nothing.
    let bad = write(&client, "bad-brand.json", r#"{"voice": {"donts": ["ok", 3]}}"#);
    let run = client.run(&["workspace", "set-brand", &workspace, &bad]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("voice.donts[1]"), "{}", run.stderr);
    let shown = client.run(&["--json", "workspace", "show", &workspace]).ok().json();
    assert_eq!(shown["brand"]["banned_terms"], serde_json::json!(["cheap", "fresh coffee"]));

    // The stored email now uses a banned term: re-checking stores the block,
    // and approval is refused with the reason.
    let checked = client.run(&["--json", "asset", "check", &asset_id]).ok().json();
    assert_eq!(checked["verdict"], "block", "{checked}");
    assert_eq!(rules_of(&checked), ["brand.banned_term"]);
    let refused = client.run(&["asset", "set-status", &asset_id, "approved"]);
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(refused.stderr.contains("Guardian blocks it") && refused.stderr.contains("brand.banned_term"), "{}", refused.stderr);
    let campaign = demo["campaign"]["id"].as_str().unwrap();
    let stored = client.run(&["--json", "campaign", "show", campaign]).ok().json();
    assert_eq!(stored["assets"][&asset_id]["status"], "draft");
    assert_eq!(stored["assets"][&asset_id]["findings"][0]["rule"], "brand.banned_term");

    // Moving to review is allowed; once the brand allows the copy, approval goes through.
    let reviewed = client.run(&["--json", "asset", "set-status", &asset_id, "in_review"]).ok().json();
    assert_eq!(reviewed["status"], "in_review");
    let relaxed = write(&client, "brand2.json", &serde_json::json!({"banned_terms": ["cheap"]}).to_string());
    client.run(&["workspace", "set-brand", &workspace, &relaxed]).ok();
    let approved = client.run(&["--json", "asset", "set-status", &asset_id, "approved"]).ok().json();
    assert_eq!(approved["status"], "approved", "{approved}");
    assert_eq!(approved["verdict"], "pass");
}
