//! Checks of the workspace as a whole, used by the tests in this directory.
//!
//! [`dependency_violations`] encodes DESIGN.md's one-way dependency rule:
//! domain ← store ← (sync, ai) ← (models, cloud, metering) ← local ← (codex,
//! guardian) ← (agents, connectors) ← core ← (cli, desktop); shells use
//! rf-core only; the sync server uses domain, sync and store only; and only
//! one crate each may use tauri, axum and candle (rf-local).

use serde_json::Value;

/// Each engine crate's layer: a crate may depend only on crates in lower layers.
const LAYERS: &[(&str, u32)] = &[
    ("rf-domain", 0),
    ("rf-store", 1),
    ("rf-sync", 2),
    ("rf-ai", 2),
    ("rf-models", 3),
    ("rf-cloud", 3),
    ("rf-metering", 3),
    ("rf-local", 4),
    ("rf-codex", 5),
    ("rf-guardian", 5),
    ("rf-signals", 5),
    ("rf-agents", 6),
    ("rf-connectors", 6),
    ("rf-core", 7),
    ("rf-cli", 8),
    ("raptorflow-desktop", 8),
];

/// Packages outside the layers, with the workspace crates each may use.
const SIDE_PACKAGES: &[(&str, &[&str])] = &[
    ("raptorflow-sync", &["rf-domain", "rf-sync", "rf-store"]),
    // Cross-crate tests may use anything.
    ("raptorflow-tests", &["*"]),
];

/// Third-party crates vendored under vendor/ with our patches
/// (vendor/PATCHES.md): workspace members, but outside the layers; to the
/// rules they are external crates.
const VENDORED: &[&str] = &["samod", "samod-core"];

/// Shells: of the workspace crates they use rf-core only (it re-exports what
/// they need), so that the engine's shape can change behind it.
const SHELLS: &[&str] = &["rf-cli", "raptorflow-desktop"];

/// External crates that exactly one workspace package may depend on directly.
const EXCLUSIVE_DEPENDENCIES: &[(&str, &str)] = &[
    ("tauri", "raptorflow-desktop"),
    ("axum", "raptorflow-sync"),
    ("candle-core", "rf-local"),
    ("candle-nn", "rf-local"),
    ("candle-transformers", "rf-local"),
];

fn layer_of(name: &str) -> Option<u32> {
    LAYERS.iter().find(|(n, _)| *n == name).map(|(_, l)| *l)
}

/// Every breach of the dependency rules in `cargo metadata` output, one
/// sentence each. Dev-dependencies are exempt: tests may reach across.
pub fn dependency_violations(metadata: &Value) -> Vec<String> {
    let mut violations = Vec::new();
    let mut packages = metadata["packages"].as_array().cloned().unwrap_or_default();
    packages.retain(|p| !VENDORED.contains(&p["name"].as_str().unwrap_or_default()));
    let workspace: Vec<String> = packages.iter().filter_map(|p| p["name"].as_str().map(String::from)).collect();
    for package in &packages {
        let name = package["name"].as_str().unwrap_or_default();
        let side = SIDE_PACKAGES.iter().find(|(n, _)| *n == name);
        let layer = layer_of(name);
        if layer.is_none() && side.is_none() {
            violations.push(format!("{name} is not in the layer table of tests/lib.rs: place it there (see DESIGN.md)"));
            continue;
        }
        for dep in package["dependencies"].as_array().into_iter().flatten() {
            if dep["kind"].as_str() == Some("dev") {
                continue;
            }
            let dep_name = dep["name"].as_str().unwrap_or_default();
            if let Some((_, owner)) = EXCLUSIVE_DEPENDENCIES.iter().find(|(crate_name, _)| *crate_name == dep_name)
                && *owner != name
            {
                violations.push(format!("{name} depends on {dep_name}, which only {owner} may use"));
            }
            if !workspace.iter().any(|w| w == dep_name) {
                continue;
            }
            let allowed = match (side, layer) {
                (Some((_, allowed)), _) => allowed.contains(&"*") || allowed.contains(&dep_name),
                (None, Some(layer)) => layer_of(dep_name).is_some_and(|dep_layer| dep_layer < layer),
                (None, None) => false,
            };
            if !allowed {
                violations.push(format!("{name} depends on {dep_name}, against the one-way direction in DESIGN.md"));
            } else if SHELLS.contains(&name) && dep_name != "rf-core" {
                violations.push(format!("{name} depends on {dep_name}: a shell uses rf-core only (it re-exports what shells need)"));
            }
        }
    }
    violations
}
