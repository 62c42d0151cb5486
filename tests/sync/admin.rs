//! The `raptorflow-sync` binary's admin commands and settings, run as an
//! operator would: a real SQLite file, the real binary, its exit code and
//! messages. Every refused command names what was wrong and changes nothing.

mod harness;

use std::process::Command;

use harness::{Run, binary};

/// A sync database in a temporary directory and the admin commands on it.
struct Admin {
    dir: tempfile::TempDir,
    db: String,
}

impl Admin {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = format!("sqlite://{}", dir.path().join("sync.db").display());
        Self { dir, db }
    }

    fn run(&self, args: &[&str]) -> Run {
        Run::of(Command::new(binary("raptorflow-sync")).args(["--db", &self.db, "admin"]).args(args).env_remove("RAPTORFLOW_SYNC_CONFIG").output().unwrap())
    }

    /// Fails with exit code 1 and a message containing `expected`.
    fn refused(&self, args: &[&str], expected: &str) {
        let run = self.run(args);
        assert_eq!(run.code, 1, "{args:?} should fail: {run:?}");
        assert!(run.stderr.contains(expected), "{args:?}: expected {expected:?} in\n{}", run.stderr);
        assert!(run.stdout.is_empty(), "{args:?} printed on failure: {}", run.stdout);
    }

    /// `workspace list`, one line per workspace.
    fn workspaces(&self) -> Vec<String> {
        self.run(&["workspace", "list"]).ok().stdout.lines().map(str::to_owned).collect()
    }
}

#[test]
fn workspaces_are_created_and_listed_and_bad_names_change_nothing() {
    let admin = Admin::new();
    let created = admin.run(&["workspace", "create", "  Acme  "]).ok();
    assert!(created.stdout.starts_with("created workspace Acme ("), "{}", created.stdout);
    let listed = admin.workspaces();
    assert_eq!(listed.len(), 1, "{listed:?}");
    let fields: Vec<&str> = listed[0].split('\t').collect();
    assert_eq!(fields[1..], ["Acme", "-"], "id, name, root document (none before a client shares one)");
    assert!(created.stdout.contains(fields[0]), "the id printed on create is the listed one");

    admin.refused(&["workspace", "create", "   "], "invalid workspace name \"   \": use 1 to 100 characters");
    admin.refused(&["workspace", "create", &"x".repeat(101)], "use 1 to 100 characters");
    assert_eq!(admin.workspaces(), listed);
}

#[test]
fn members_are_added_and_removed_and_their_tokens_revoked() {
    let admin = Admin::new();
    admin.run(&["workspace", "create", "Acme"]).ok();

    let added = admin.run(&["member", "add", "--workspace", "Acme", "--user", "bob", "--role", "editor"]).ok();
    let token = added.stdout.trim();
    assert!(token.starts_with("rfs_"), "{token}");
    assert!(added.stderr.contains("bob is now editor of Acme") && added.stderr.contains("shown only this once"), "{}", added.stderr);
    // The token itself is printed once, on stdout only.
    assert!(!added.stderr.contains(token), "{}", added.stderr);

    // Refused, with the reason: unknown workspace, bad user name, bad role.
    admin.refused(&["member", "add", "--workspace", "Nope", "--user", "carol", "--role", "viewer"], "no workspace named or with id \"Nope\"");
    admin.refused(&["member", "add", "--workspace", "Acme", "--user", "Carol Smith", "--role", "viewer"], "Carol Smith");
    let bad_role = admin.run(&["member", "add", "--workspace", "Acme", "--user", "carol", "--role", "boss"]);
    assert_eq!(bad_role.code, 2, "clap refuses an unknown role: {bad_role:?}");
    assert!(bad_role.stderr.contains("boss"), "{}", bad_role.stderr);
    admin.refused(&["member", "remove", "--workspace", "Acme", "--user", "carol"], "carol is not a member of Acme");

    // A second token for bob; revoking the first by its id (or by the whole
    // token) works once.
    let second = admin.run(&["member", "add", "--workspace", "Acme", "--user", "bob", "--role", "viewer"]).ok().stdout.trim().to_owned();
    let first_id = &token[4..20];
    let revoked = admin.run(&["token", "revoke", first_id]).ok();
    assert_eq!(revoked.stdout.trim(), format!("revoked token {first_id}"));
    admin.refused(&["token", "revoke", token], &format!("no active token with id {first_id:?}"));
    admin.refused(&["token", "revoke", "0000000000000000"], "no active token with id \"0000000000000000\"");

    // Removing bob revokes the rest of his tokens.
    let removed = admin.run(&["member", "remove", "--workspace", "Acme", "--user", "bob"]).ok();
    assert_eq!(removed.stdout.trim(), "removed bob from Acme and revoked their tokens");
    admin.refused(&["token", "revoke", &second[4..20]], "no active token");
    admin.refused(&["member", "remove", "--workspace", "Acme", "--user", "bob"], "bob is not a member of Acme");
}

#[test]
fn bad_settings_and_databases_are_named_and_serve_does_not_start() {
    let admin = Admin::new();
    let config = admin.dir.path().join("sync.toml");
    std::fs::write(&config, "idle_timeout = 5\n").unwrap();
    let serve = |args: &[&str], env: &[(&str, &str)]| {
        let mut command = Command::new(binary("raptorflow-sync"));
        command.args(args).env_remove("RAPTORFLOW_SYNC_CONFIG");
        for (key, value) in env {
            command.env(key, value);
        }
        Run::of(command.output().unwrap())
    };
    let config_arg = config.to_str().unwrap();

    let run = serve(&["--config", config_arg, "--db", &admin.db, "serve", "--listen", "127.0.0.1:0"], &[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("invalid config file") && run.stderr.contains("sync.toml") && run.stderr.contains("idle_timeout"), "{}", run.stderr);

    let missing = admin.dir.path().join("missing.toml");
    let run = serve(&["--config", missing.to_str().unwrap(), "admin", "workspace", "list"], &[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("could not read the config file") && run.stderr.contains("missing.toml"), "{}", run.stderr);

    let run = serve(&["--db", &admin.db, "serve", "--listen", "127.0.0.1:0"], &[("RAPTORFLOW_SYNC_IDLE_TIMEOUT_SECS", "soon")]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("invalid value \"soon\" in RAPTORFLOW_SYNC_IDLE_TIMEOUT_SECS"), "{}", run.stderr);

    let run = serve(&["--db", "mysql://db/sync", "admin", "workspace", "list"], &[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("mysql://db/sync"), "the unsupported database is named: {}", run.stderr);

    // A database that cannot be reached is named, without its password.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let run = serve(&["--db", &format!("postgres://sync:hunter2@127.0.0.1:{closed}/sync"), "admin", "workspace", "list"], &[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains(&format!("postgres://sync:***@127.0.0.1:{closed}/sync")), "{}", run.stderr);
    assert!(!run.stderr.contains("hunter2"), "the password leaked: {}", run.stderr);

    // A port already taken is named, and nothing is listening afterwards.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let run = serve(&["--db", &admin.db, "serve", "--listen", &address], &[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains(&format!("could not listen on {address}")), "{}", run.stderr);
    // None of the refused commands made a workspace.
    assert!(admin.workspaces().is_empty());
}
