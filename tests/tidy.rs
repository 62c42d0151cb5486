//! House-style checks over the source tree (STYLE.md): every Rust file says
//! what it is for in its first line, none grows past 800 lines without being
//! split, and ARCHITECTURE.md's code map names every package of the
//! workspace.

use std::path::{Path, PathBuf};

/// Longest a source file may be before it is split by responsibility.
const MAX_LINES: usize = 800;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace root").to_owned()
}

/// Every `.rs` file under the given folders, skipping build output and
/// installed npm packages.
fn rust_files(folders: &[&str]) -> Vec<PathBuf> {
    let mut pending: Vec<PathBuf> = folders.iter().map(|f| root().join(f)).collect();
    let mut files = Vec::new();
    while let Some(path) = pending.pop() {
        if path.is_dir() {
            let skip = path.file_name().is_some_and(|n| n == "target" || n == "node_modules");
            if !skip {
                pending.extend(std::fs::read_dir(&path).unwrap().flatten().map(|e| e.path()));
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// The problems of one file's text, if any.
fn problems(path: &Path, text: &str) -> Vec<String> {
    let mut found = Vec::new();
    if !text.starts_with("//") {
        found.push(format!("{}: the first line is not a `//!` or `//` line saying what the file is for", path.display()));
    }
    let n_lines = text.lines().count();
    if n_lines > MAX_LINES {
        found.push(format!("{}: {n_lines} lines, over {MAX_LINES}: split it by responsibility", path.display()));
    }
    found
}

#[test]
fn every_source_file_has_a_header_and_stays_short() {
    let files = rust_files(&["crates", "src-tauri", "sync-server", "tests", "fuzz"]);
    assert!(files.len() > 50, "expected the workspace's sources, found {} files", files.len());
    let found: Vec<String> = files.iter().flat_map(|path| problems(path, &std::fs::read_to_string(path).unwrap())).collect();
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn the_checks_catch_a_missing_header_and_a_long_file() {
    let path = Path::new("x.rs");
    assert!(problems(path, "//! Fine.\nfn main() {}\n").is_empty());
    assert_eq!(problems(path, "fn main() {}\n").len(), 1);
    let long = format!("//! Long.\n{}", "fn f() {}\n".repeat(MAX_LINES));
    assert_eq!(problems(path, &long).len(), 1);
}

#[test]
fn the_code_map_names_every_package() {
    let architecture = std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    let manifest: toml::Value = toml::from_str(&std::fs::read_to_string(root().join("Cargo.toml")).unwrap()).unwrap();
    let members = manifest["workspace"]["members"].as_array().expect("workspace members");
    assert!(members.len() >= 4);
    let missing: Vec<&str> = members.iter().filter_map(|m| m.as_str()).filter(|member| !architecture.contains(&format!("### `{member}"))).collect();
    assert!(missing.is_empty(), "ARCHITECTURE.md's code map has no `### `<path>`` section for {missing:?}");
}
