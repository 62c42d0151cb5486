//! The crates depend on each other only in the direction DESIGN.md allows.

use std::process::Command;

use raptorflow_tests::dependency_violations;
use serde_json::json;

fn workspace_metadata() -> serde_json::Value {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let output = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(root)
        .output()
        .expect("cargo metadata runs");
    assert!(output.status.success(), "cargo metadata failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON")
}

#[test]
fn workspace_crates_depend_one_way() {
    let metadata = workspace_metadata();
    let n_packages = metadata["packages"].as_array().map_or(0, Vec::len);
    assert!(n_packages >= 4, "expected the workspace's crates in cargo metadata, found {n_packages}");
    let violations = dependency_violations(&metadata);
    assert!(violations.is_empty(), "dependency rules broken:\n{}", violations.join("\n"));
}

fn package(name: &str, deps: &[(&str, &str)]) -> serde_json::Value {
    let deps: Vec<_> = deps.iter().map(|(n, kind)| json!({ "name": n, "kind": if kind.is_empty() { serde_json::Value::Null } else { json!(kind) } })).collect();
    json!({ "name": name, "dependencies": deps })
}

fn check(packages: Vec<serde_json::Value>, expected: &[&str]) {
    let violations = dependency_violations(&json!({ "packages": packages }));
    assert_eq!(violations, expected);
}

#[test]
fn the_rules_catch_each_kind_of_breach() {
    // Allowed: downward, dev-dependencies upward, side packages on their list.
    check(
        vec![
            package("rf-domain", &[("rf-core", "dev")]),
            package("rf-store", &[("rf-domain", "")]),
            package("rf-core", &[("rf-store", ""), ("rf-domain", "")]),
            package("raptorflow-sync", &[("rf-store", ""), ("axum", "")]),
            // Vendored crates are external to the rules, both ways.
            package("samod", &[("axum", "")]),
            package("rf-sync", &[("samod", "")]),
        ],
        &[],
    );
    check(
        vec![package("rf-domain", &[]), package("rf-store", &[]), package("rf-domain-extra", &[])],
        &["rf-domain-extra is not in the layer table of tests/lib.rs: place it there (see DESIGN.md)"],
    );
    check(
        vec![package("rf-domain", &[("rf-store", "")]), package("rf-store", &[])],
        &["rf-domain depends on rf-store, against the one-way direction in DESIGN.md"],
    );
    check(vec![package("rf-sync", &[("rf-ai", "")]), package("rf-ai", &[])], &["rf-sync depends on rf-ai, against the one-way direction in DESIGN.md"]);
    check(
        vec![package("raptorflow-sync", &[("rf-core", "")]), package("rf-core", &[])],
        &["raptorflow-sync depends on rf-core, against the one-way direction in DESIGN.md"],
    );
    check(
        vec![
            package("rf-cli", &[("rf-core", ""), ("rf-domain", ""), ("rf-store", "dev")]),
            package("rf-core", &[]),
            package("rf-domain", &[]),
            package("rf-store", &[]),
        ],
        &["rf-cli depends on rf-domain: a shell uses rf-core only (it re-exports what shells need)"],
    );
    check(
        vec![package("rf-core", &[("candle-core", ""), ("axum", "build")])],
        &["rf-core depends on candle-core, which only rf-local may use", "rf-core depends on axum, which only raptorflow-sync may use"],
    );
}
