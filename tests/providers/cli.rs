//! The `raptorflow` CLI with cloud providers, as a user runs it: keys go in
//! through stdin and live only in the OS keyring (the test session's
//! gnome-keyring), calls are recorded and reported, budgets refuse calls,
//! and offline-only mode opens no network socket at all.

mod cli_support;
mod fake_provider;
#[path = "../sync/harness.rs"]
mod harness;

use std::process::Command;

use cli_support::{cli, files_containing};
use fake_provider::{FakeProvider, Reply};
use harness::{Run, binary, require_keyring};

#[test]
fn keys_live_only_in_the_keyring_and_calls_are_ledgered() {
    require_keyring();
    let server = FakeProvider::start();
    server.always(Reply::ok("openai/chat_text_stream.sse"));
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let key = format!("sk-test-{}", std::process::id() * 7919 + 424_242);
    let mut runs = Vec::new();
    let base = format!("{}/v1", server.url);

    runs.push(
        cli(
            data,
            &["providers", "add", "openai", "--kind", "openai-compatible", "--base-url", &base, "--model", "gpt-4o-mini", "--tier", "standard", "--key-stdin"],
            &format!("{key}\n"),
        )
        .ok(),
    );
    let list = cli(data, &["providers", "list", "--json"], "").ok();
    let key_ref = list.json()["providers"][0]["key_ref"].as_str().expect("a key reference").to_owned();
    assert!(key_ref.starts_with("openai/"), "{key_ref}");
    runs.push(list);

    let ws = cli(data, &["workspace", "create", "Bean There", "--json"], "").ok();
    let workspace = ws.json()["id"].as_str().unwrap().to_owned();
    runs.push(ws);
    let ask = |extra: &[&str]| {
        let mut args = vec!["ask", "Write a tagline for a coffee shop.", "--provider", "openai", "--workspace", &workspace, "--agent", "MUSE-001", "--json"];
        args.extend_from_slice(extra);
        cli(data, &args, "").ok()
    };
    let first = ask(&[]);
    let outcome = &first.json()["outcome"];
    assert_eq!(outcome["completion"]["text"], "Fresh roast, slow mornings, good company.");
    assert_eq!(outcome["record"]["cost_micro_usd"], 9);
    assert_eq!(outcome["record"]["cache_hit"], false);
    let second = ask(&[]);
    assert_eq!(second.json()["outcome"]["record"]["cache_hit"], true);
    assert_eq!(second.json()["outcome"]["record"]["cost_micro_usd"], 0);
    let third = ask(&["--no-cache"]);
    assert_eq!(third.json()["outcome"]["record"]["cache_hit"], false);
    runs.extend([first, second, third]);
    assert_eq!(server.n_requests(), 2);
    for seen in server.seen() {
        assert_eq!(seen.headers["authorization"], format!("Bearer {key}"), "the key from the keyring reached the provider");
    }
    runs.push(cli(data, &["providers", "test", "openai"], "").ok());

    let report = cli(data, &["cost", "report", "--workspace", &workspace, "--json"], "").ok();
    let total = &report.json()["total"];
    assert_eq!((total["calls"].as_u64(), total["cache_hits"].as_u64(), total["cost_micro_usd"].as_u64()), (Some(3), Some(1), Some(18)));
    assert_eq!(report.json()["by_agent"][0]["key"], "MUSE-001");
    runs.push(report);
    runs.push(cli(data, &["cost", "report"], "").ok());
    let export = data.join("export.json");
    runs.push(cli(data, &["export", "--workspace", &workspace, export.to_str().unwrap()], "").ok());

    // A budget too small for the next call refuses it, says how to raise
    // it, and sends nothing.
    runs.push(cli(data, &["cost", "budget", "--workspace", &workspace, "--monthly-usd", "0.00002"], "").ok());
    let refused = cli(data, &["ask", "Another tagline, please.", "--provider", "openai", "--workspace", &workspace], "");
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(refused.stderr.contains(&format!("raptorflow cost budget --workspace {workspace} --monthly-usd")), "{}", refused.stderr);
    assert_eq!(server.n_requests(), 3);
    runs.push(refused);

    let leaked = files_containing(data, &key);
    assert!(leaked.is_empty(), "the key is in {leaked:?}");
    for run in &runs {
        assert!(!run.stdout.contains(&key) && !run.stderr.contains(&key), "the key was printed:\n{}\n{}", run.stdout, run.stderr);
    }
    assert!(runs.iter().any(|r| r.stderr.contains("TRACE") || r.stderr.contains("DEBUG")), "trace logging was on");

    // Removing the provider deletes its key from the keyring.
    let entry = keyring::Entry::new(rf_core::providers::PROVIDER_KEYRING_SERVICE, &key_ref).unwrap();
    assert_eq!(entry.get_password().unwrap(), key, "the key is in the keyring");
    cli(data, &["providers", "remove", "openai"], "").ok();
    let entry = keyring::Entry::new(rf_core::providers::PROVIDER_KEYRING_SERVICE, &key_ref).unwrap();
    assert!(matches!(entry.get_password(), Err(keyring::Error::NoEntry)));
}

#[test]
fn bad_provider_settings_are_refused_and_change_nothing() {
    require_keyring();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let check = |args: &[&str], says: &str| {
        let run = cli(data, args, "sk-test-unused\n");
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(says), "{args:?}: {}", run.stderr);
    };
    let add = ["providers", "add", "p", "--kind", "openai-compatible", "--key-stdin", "--model"];
    check(&[&add[..], &["mystery-model", "--base-url", "https://api.example.com/v1"]].concat(), "no price is known for model \"mystery-model\"");
    check(&[&add[..], &["gpt-4o-mini", "--base-url", "ftp://x"]].concat(), "http or https");
    check(&[&add[..], &["gpt-4o-mini", "--base-url", "https://user:pw@api.openai.com/v1"]].concat(), "credentials");
    check(
        &["providers", "add", "Bad Name", "--kind", "anthropic", "--base-url", "https://api.anthropic.com", "--model", "claude-3-5-haiku-latest"],
        "lower-case",
    );
    check(&["providers", "test", "nobody"], "no provider named \"nobody\"");
    assert!(!data.join("settings.toml").exists(), "nothing was written");
    // A model the table does not know, priced by the user, is accepted.
    cli(
        data,
        &[&add[..], &["mystery-model", "--base-url", "https://api.example.com/v1", "--input-usd-per-mtok", "1", "--output-usd-per-mtok", "2"]].concat(),
        "sk-test-x\n",
    )
    .ok();
    // A broken settings file is reported by name and left alone.
    std::fs::write(data.join("settings.toml"), "privacy = \"sometimes\"\n").unwrap();
    let run = cli(data, &["providers", "list"], "");
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("settings.toml is not valid settings"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(data.join("settings.toml")).unwrap(), "privacy = \"sometimes\"\n");
}

/// With privacy mode offline-only, a call that would have gone to a cloud
/// model runs on the local model with networking disabled (a network
/// namespace with no way out), and the process opens no internet socket
/// (traced with strace: every socket(2) and connect(2) of the process and
/// its threads).
#[test]
fn offline_only_opens_no_network_socket() {
    require_keyring();
    let server = FakeProvider::start();
    server.always(Reply::ok("openai/chat_text.json"));
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let base = format!("{}/v1", server.url);
    cli(
        data,
        &["providers", "add", "openai", "--kind", "openai-compatible", "--base-url", &base, "--model", "gpt-4o-mini", "--tier", "premium", "--key-stdin"],
        "sk-test-offline\n",
    )
    .ok();
    let trace = data.join("strace.txt");
    // In a network namespace of its own (no interfaces but a down
    // loopback), under strace.
    let output = Command::new("unshare")
        .args(["--user", "--map-root-user", "--net", "--", "strace", "-f", "-e", "trace=socket,connect", "-o", trace.to_str().unwrap()])
        .arg(binary("raptorflow"))
        .args([
            "--data-dir",
            data.to_str().unwrap(),
            "--user",
            "ana",
            "ask",
            "Say hello.",
            "--tier",
            "premium",
            "--privacy",
            "offline-only",
            "--max-tokens",
            "8",
            "--json",
        ])
        .env_remove("RAPTORFLOW_PRIVACY")
        .output()
        .expect("unshare (util-linux) and strace (installed by scripts/test.sh) run the CLI");
    let run = Run::of(output).ok();
    let record = &run.json()["outcome"]["record"];
    assert_eq!(record["provider"], "local");
    assert!(run.json()["outcome"]["choice"].as_str().unwrap().contains("offline-only"));
    assert!(record["usage"]["output_tokens"].as_u64().unwrap() > 0);
    assert_eq!(server.n_requests(), 0);
    let calls = std::fs::read_to_string(&trace).unwrap();
    let socket_calls: Vec<&str> = calls.lines().filter(|l| l.contains("socket(") || l.contains("connect(")).collect();
    let inet: Vec<&&str> = socket_calls.iter().filter(|l| l.contains("AF_INET") || l.contains("AF_INET6")).collect();
    assert!(inet.is_empty(), "offline-only opened network sockets: {inet:#?}");
    // The trace did see the process: strace reports at least its exit.
    assert!(calls.contains("+++ exited with 0 +++"), "{calls}");
}
