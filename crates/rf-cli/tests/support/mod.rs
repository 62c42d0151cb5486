//! Runs the real `raptorflow` binary against a temporary data directory.

#![allow(dead_code, unreachable_pub)]

use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

/// The result of one CLI run.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Parses stdout as exactly one JSON document.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{}", self.stdout))
    }

    /// Asserts success and returns self.
    pub fn ok(self) -> Self {
        assert_eq!(self.code, 0, "expected success, got {}:\nstdout: {}\nstderr: {}", self.code, self.stdout, self.stderr);
        self
    }
}

/// A data directory and the binary to drive it.
pub struct Cli {
    pub dir: tempfile::TempDir,
}

impl Cli {
    pub fn new() -> Self {
        Self { dir: tempfile::tempdir().expect("a temporary directory") }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_raptorflow"));
        command.arg("--data-dir").arg(self.data_dir()).env("RAPTORFLOW_USER", "tester").env_remove("RAPTORFLOW_DATA_DIR").stdin(Stdio::null());
        command
    }

    pub fn run<I, S>(&self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let output = self.command().args(args).output().expect("raptorflow runs");
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Creates a workspace and a campaign, returning their ids.
    pub fn workspace_with_campaign(&self) -> (String, String) {
        let ws = self.run(["--json", "workspace", "create", "Acme"]).ok().json();
        let ws_id = ws["id"].as_str().unwrap().to_string();
        let campaign =
            self.run(["--json", "campaign", "create", "--workspace", &ws_id, "--goal", "200 demos", "--channel", "email", "Spring launch"]).ok().json();
        (ws_id, campaign["id"].as_str().unwrap().to_string())
    }

    /// Adds an email move to a campaign, returning its id.
    pub fn add_move(&self, campaign_id: &str, title: &str) -> String {
        let added = self.run(["--json", "move", "add", "--campaign", campaign_id, "--channel", "email", title]).ok().json();
        added["id"].as_str().unwrap().to_string()
    }

    /// The move ids of a campaign, read by a fresh process.
    pub fn move_ids(&self, campaign_id: &str) -> Vec<String> {
        let campaign = self.run(["--json", "campaign", "show", campaign_id]).ok().json();
        campaign["moves"].as_object().unwrap().keys().cloned().collect()
    }

    pub fn database_path(&self) -> PathBuf {
        self.data_dir().join("raptorflow.sqlite3")
    }
}

/// Reads a whole file, or panics naming it.
pub fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Runs a command that must fail with `code`, mentioning every one of
/// `needles` on stderr, and checks that the whole store is unchanged.
pub fn check_refused(cli: &Cli, args: &[&str], code: i32, needles: &[&str]) {
    let before = snapshot(cli);
    let run = cli.run(args);
    assert_eq!(run.code, code, "{args:?}: stdout {} stderr {}", run.stdout, run.stderr);
    assert!(run.stdout.is_empty(), "{args:?}: nothing on stdout, got {}", run.stdout);
    for needle in needles {
        assert!(run.stderr.contains(needle), "{args:?}: stderr should mention {needle:?}: {}", run.stderr);
    }
    assert_eq!(snapshot(cli), before, "{args:?} changed the store");
}

/// Every workspace exported, as one JSON value (the observable state).
pub fn snapshot(cli: &Cli) -> serde_json::Value {
    let list = cli.run(["--json", "workspace", "list"]).ok().json();
    let exports: Vec<serde_json::Value> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|ws| {
            let file = cli.dir.path().join("snapshot.json");
            cli.run(["export", "--workspace", ws["id"].as_str().unwrap(), file.to_str().unwrap()]).ok();
            let mut export: serde_json::Value = serde_json::from_slice(&read(&file)).unwrap();
            export["exported_at"] = serde_json::Value::Null;
            export
        })
        .collect();
    serde_json::Value::Array(exports)
}
