//! What the CLI tests of providers and connectors share: running the CLI
//! as user `ana` with a key on stdin, and finding where a secret leaked.

#![allow(dead_code, unreachable_pub)]

use std::{
    io::Write,
    path::Path,
    process::{Command, Stdio},
};

use crate::harness::{Run, binary};

/// Runs the CLI on `data_dir` with `stdin`, logging everything it logs.
pub fn cli(data_dir: &Path, args: &[&str], stdin: &str) -> Run {
    let mut child = Command::new(binary("raptorflow"))
        .args(["--data-dir", data_dir.to_str().unwrap(), "--user", "ana"])
        .args(args)
        .env("RAPTORFLOW_LOG", "trace")
        .env_remove("RAPTORFLOW_PRIVACY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    Run::of(child.wait_with_output().unwrap())
}

/// Every file under `dir` whose bytes contain `needle`.
pub fn files_containing(dir: &Path, needle: &str) -> Vec<String> {
    let mut hits = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            hits.extend(files_containing(&path, needle));
        } else if std::fs::read(&path).unwrap().windows(needle.len()).any(|w| w == needle.as_bytes()) {
            hits.push(path.display().to_string());
        }
    }
    hits
}
