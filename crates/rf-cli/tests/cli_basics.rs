//! The `raptorflow` commands, run as real processes on real SQLite files.

mod support;

use support::{Cli, check_refused, read};

#[test]
fn a_workspace_created_by_one_process_is_listed_by_the_next() {
    let cli = Cli::new();
    let created = cli.run(["--json", "workspace", "create", "Acme Analytics"]).ok().json();
    let listed = cli.run(["--json", "workspace", "list"]).ok().json();
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], created["id"]);
    assert_eq!(listed[0]["name"], "Acme Analytics");
    let shown = cli.run(["--json", "workspace", "show", created["id"].as_str().unwrap()]).ok().json();
    assert_eq!(shown["members"]["tester"]["role"], "owner");
}

#[test]
fn campaigns_and_moves_round_trip_through_the_cli() {
    let cli = Cli::new();
    let (ws_id, campaign_id) = cli.workspace_with_campaign();
    let listed = cli.run(["--json", "campaign", "list", "--workspace", &ws_id]).ok().json();
    assert_eq!(listed[0]["id"], campaign_id.as_str());
    assert_eq!(listed[0]["status"], "draft");

    let added = cli.run(["--json", "move", "add", "--campaign", &campaign_id, "--channel", "linkedin", "--due", "2026-12-01", "Founder post"]).ok().json();
    let move_id = added["id"].as_str().unwrap();
    assert_eq!(added["move"]["status"], "planned");
    let set = cli.run(["--json", "move", "set-status", move_id, "in_progress"]).ok().json();
    assert_eq!(set["move"]["status"], "in_progress");
    assert_eq!(set["campaign_id"], campaign_id.as_str());

    let campaign = cli.run(["--json", "campaign", "show", &campaign_id]).ok().json();
    let stored = &campaign["moves"][move_id];
    assert_eq!(stored["title"], "Founder post");
    assert_eq!(stored["channel"], "linkedin");
    assert_eq!(stored["status"], "in_progress");
    assert_eq!(stored["due_date"], "2026-12-01");

    let text = cli.run(["campaign", "show", &campaign_id]).ok();
    assert!(text.stdout.contains("Founder post"), "{}", text.stdout);
}

#[test]
fn the_demo_creates_a_sample_workspace() {
    let cli = Cli::new();
    let demo = cli.run(["--json", "demo"]).ok().json();
    assert_eq!(demo["workspace"]["name"], "Northwind Coffee Roasters");
    assert_eq!(demo["workspace"]["brand"]["banned_terms"][1], "guaranteed");
    assert_eq!(demo["campaign"]["budget"]["amount_minor"], 250_000);
    assert_eq!(demo["campaign"]["moves"].as_object().unwrap().len(), 4);
    assert_eq!(demo["campaign"]["assets"].as_object().unwrap().len(), 1);
    let statuses: Vec<&str> = demo["campaign"]["moves"].as_object().unwrap().values().map(|m| m["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["done", "review", "in_progress", "planned"]);
    let text = cli.run(["demo"]).ok();
    assert!(text.stdout.contains("Holiday gift subscriptions"), "{}", text.stdout);
}

#[test]
fn export_then_import_elsewhere_gives_the_same_workspace() {
    let source = Cli::new();
    let demo = source.run(["--json", "demo"]).ok().json();
    let ws_id = demo["workspace"]["id"].as_str().unwrap();
    let file = source.dir.path().join("export.json");
    source.run(["export", "--workspace", ws_id, file.to_str().unwrap()]).ok();

    let target = Cli::new();
    let imported = target.run(["--json", "import", file.to_str().unwrap()]).ok().json();
    assert_eq!(imported["id"], ws_id);
    let again = target.dir.path().join("again.json");
    target.run(["export", "--workspace", ws_id, again.to_str().unwrap()]).ok();

    let strip = |path: &std::path::Path| {
        let mut export: serde_json::Value = serde_json::from_slice(&read(path)).unwrap();
        export["exported_at"] = serde_json::Value::Null;
        // Document ids are per device; everything else must match.
        for entry in export["workspace"]["campaigns"].as_object_mut().unwrap().values_mut() {
            entry["document"] = serde_json::Value::Null;
        }
        export
    };
    assert_eq!(strip(&file), strip(&again));

    // Importing the same workspace twice is refused and changes nothing.
    let twice = target.run(["import", file.to_str().unwrap()]);
    assert_eq!(twice.code, 2, "{}", twice.stderr);
    assert!(twice.stderr.contains("already exists"), "{}", twice.stderr);
    assert_eq!(target.run(["--json", "workspace", "list"]).ok().json().as_array().unwrap().len(), 1);
}

#[test]
fn bad_input_is_refused_with_a_clear_message_and_changes_nothing() {
    let cli = Cli::new();
    let (ws_id, campaign_id) = cli.workspace_with_campaign();
    let move_id = cli.add_move(&campaign_id, "Nurture");
    let unknown = "0192f0c1-7a6e-7cc0-9a4e-3b1d2c4e5f60";

    check_refused(&cli, &["move", "set-status", &move_id, "finished"], 2, &["move status", "planned, in_progress, review, approved, live, done"]);
    check_refused(&cli, &["move", "add", "--campaign", &campaign_id, "--channel", "fax", "X"], 2, &["channel", "google_ads"]);
    check_refused(&cli, &["move", "set-status", unknown, "done"], 2, &["no move with id", unknown]);
    check_refused(&cli, &["campaign", "show", unknown], 2, &["no campaign with id", unknown]);
    check_refused(&cli, &["workspace", "show", unknown], 2, &["no workspace with id", unknown]);
    check_refused(&cli, &["campaign", "list", "--workspace", "not-a-uuid"], 2, &["workspace id", "not-a-uuid"]);
    check_refused(&cli, &["move", "add", "--campaign", unknown, "--channel", "email", "X"], 2, &["no campaign with id"]);
    check_refused(&cli, &["workspace", "create", ""], 2, &["workspace name", "must not be empty"]);
    check_refused(&cli, &["workspace", "create", "   "], 2, &["workspace name", "must not be empty"]);
    // One argument cannot exceed 128 KiB on Linux; the 1 MB name is checked
    // through an import file below.
    let long_name = "n".repeat(100_000);
    check_refused(&cli, &["workspace", "create", &long_name], 2, &["workspace name", "at most 200 characters"]);
    check_refused(&cli, &["campaign", "create", "--workspace", &ws_id, "--goal", "g", ""], 2, &["campaign name", "must not be empty"]);
    check_refused(&cli, &["move", "add", "--campaign", &campaign_id, "--channel", "email", "--due", "2026-02-30", "X"], 2, &["due date", "YYYY-MM-DD"]);
    check_refused(&cli, &["campaign", "create", "--workspace", &ws_id, "--goal", "g", "--budget", "12,50", "--currency", "USD", "C"], 2, &["budget", "12,50"]);
    check_refused(&cli, &["--json", "move", "set-status", unknown, "done"], 2, &["\"kind\":\"not_found\""]);
}

#[test]
fn bad_import_files_are_refused_and_import_nothing() {
    let cli = Cli::new();
    cli.workspace_with_campaign();
    let demo_source = Cli::new();
    let demo = demo_source.run(["--json", "demo"]).ok().json();
    let good_file = demo_source.dir.path().join("good.json");
    demo_source.run(["export", "--workspace", demo["workspace"]["id"].as_str().unwrap(), good_file.to_str().unwrap()]).ok();
    let good: serde_json::Value = serde_json::from_slice(&read(&good_file)).unwrap();

    let write = |name: &str, bytes: &[u8]| {
        let path = cli.dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path.to_str().unwrap().to_string()
    };
    let with = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut value = good.clone();
        edit(&mut value);
        serde_json::to_vec(&value).unwrap()
    };

    let not_json = write("not.json", b"name,goal\nSpring,200 demos\n");
    check_refused(&cli, &["import", &not_json], 2, &["not JSON", "line 1"]);
    let binary = write("binary.json", &[0xff, 0xfe, 0x00, 0x81]);
    check_refused(&cli, &["import", &binary], 2, &["not UTF-8"]);
    let other_json = write("other.json", br#"{"hello": "world"}"#);
    check_refused(&cli, &["import", &other_json], 2, &["`format` must be \"raptorflow.workspace\""]);
    let bad_status = write(
        "bad_status.json",
        &with(&|v| {
            let moves = v["campaigns"][0]["moves"].as_object_mut().unwrap();
            let first = moves.values_mut().next().unwrap();
            first["status"] = "finished".into();
        }),
    );
    check_refused(&cli, &["import", &bad_status], 2, &["campaigns[0].moves.", ".status", "invalid move status 'finished'"]);
    let missing_field = write(
        "missing.json",
        &with(&|v| {
            v["workspace"].as_object_mut().unwrap().remove("name");
        }),
    );
    check_refused(&cli, &["import", &missing_field], 2, &["missing field `name`"]);
    let wrong_type = write("wrong_type.json", &with(&|v| v["campaigns"] = "none".into()));
    check_refused(&cli, &["import", &wrong_type], 2, &["at `campaigns`", "invalid type"]);
    let huge_name = write("huge_name.json", &with(&|v| v["workspace"]["name"] = "n".repeat(1 << 20).into()));
    check_refused(&cli, &["import", &huge_name], 2, &["workspace.name", "at most 200 characters, got 1048576"]);
    let orphan = write("orphan.json", &with(&|v| v["workspace"]["campaigns"] = serde_json::json!({})));
    check_refused(&cli, &["import", &orphan], 2, &["is not listed in `workspace.campaigns`"]);
    let version = write("version.json", &with(&|v| v["version"] = 99.into()));
    check_refused(&cli, &["import", &version], 2, &["export version 99 is not supported"]);
    // serde would keep the last of two equal keys; the file is refused instead.
    let compact = String::from_utf8(with(&|_| {})).unwrap();
    assert!(compact.contains(r#""campaigns":[{"#), "compact JSON");
    let duplicate = write("duplicate.json", compact.replacen(r#""campaigns":[{"#, r#""campaigns":[{"name":"Shadow","#, 1).as_bytes());
    check_refused(&cli, &["import", &duplicate], 2, &["at `campaigns[0]`", "the key `name` appears twice"]);
    let no_members = write("no_members.json", &with(&|v| v["workspace"]["members"] = serde_json::json!({})));
    check_refused(&cli, &["import", &no_members], 2, &["at `workspace.members`", "at least one member"]);
    let no_owner = write(
        "no_owner.json",
        &with(&|v| {
            for member in v["workspace"]["members"].as_object_mut().unwrap().values_mut() {
                member["role"] = "editor".into();
            }
        }),
    );
    check_refused(&cli, &["import", &no_owner], 2, &["at `workspace.members`", "at least one owner"]);
    let missing_path = cli.dir.path().join("nope.json");
    check_refused(&cli, &["import", missing_path.to_str().unwrap()], 1, &["could not read", "nope.json"]);
}

#[test]
fn a_garbage_database_file_is_refused_and_left_untouched() {
    let cli = Cli::new();
    std::fs::create_dir_all(cli.data_dir()).unwrap();
    let garbage = b"\x00\x01not sqlite at all, just bytes\xff".repeat(500);
    std::fs::write(cli.database_path(), &garbage).unwrap();
    let run = cli.run(["workspace", "list"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("is not a RaptorFlow database"), "{}", run.stderr);
    assert!(run.stderr.contains("raptorflow.sqlite3"), "{}", run.stderr);
    assert_eq!(read(&cli.database_path()), garbage);
}

#[test]
fn a_truncated_database_file_is_refused_and_left_untouched() {
    let cli = Cli::new();
    cli.run(["demo"]).ok();
    for i in 0..3 {
        cli.run(["workspace", "create", &format!("Filler {i}")]).ok();
    }
    let path = cli.database_path();
    let full = read(&path);
    // Leave no WAL behind: the process closed cleanly, so it was checkpointed.
    let truncated = full[..full.len() / 2].to_vec();
    std::fs::write(&path, &truncated).unwrap();
    let run = cli.run(["workspace", "list"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("is damaged"), "{}", run.stderr);
    assert_eq!(read(&path), truncated);
}

#[test]
fn models_are_listed_fetched_once_and_a_bad_import_changes_nothing() {
    let cli = Cli::new();
    let listed = cli.run(["--json", "models", "list"]).ok().json();
    let embedder = listed["models"].as_array().unwrap().iter().find(|m| m["id"] == "all-minilm-l6-v2").cloned().unwrap();
    assert_eq!((embedder["installed"].as_bool(), embedder["kind"].as_str()), (Some(true), Some("embedding")), "{embedder}");
    let text = cli.run(["models", "list"]).ok().stdout;
    assert!(text.contains("all-minilm-l6-v2") && text.contains("installed") && text.contains("default embedding"), "{text}");

    // Installed already: nothing is downloaded, and the answer says so.
    let fetched = cli.run(["--json", "models", "fetch", "all-minilm-l6-v2"]).ok().json();
    assert_eq!(fetched["results"][0]["already_installed"].as_array().map(Vec::len), Some(3), "{fetched}");
    assert_eq!(fetched["results"][0]["fetched"], serde_json::json!([]));

    let garbage = cli.dir.path().join("garbage.gguf");
    std::fs::write(&garbage, b"not a model").unwrap();
    let run = cli.run(["models", "import", garbage.to_str().unwrap()]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("garbage.gguf") && run.stderr.contains("not a readable GGUF"), "{}", run.stderr);
    let after = cli.run(["--json", "models", "list"]).ok().json();
    assert_eq!(after["models"], listed["models"], "a refused import changes nothing");

    let run = cli.run(["models", "fetch", "not an id"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("invalid model id"), "{}", run.stderr);
}

#[test]
fn the_local_llm_is_chosen_among_installed_ones_and_a_bad_choice_changes_nothing() {
    let cli = Cli::new();
    // Without the test suite's pin (scripts/test.sh sets it).
    let run = |args: &[&str]| {
        let output = cli.command().env_remove("RAPTORFLOW_LOCAL_MODEL").args(args).output().expect("raptorflow runs");
        support::Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    };
    let before = run(&["--json", "models", "list"]).ok().json();
    assert_eq!(before["chosen"], false, "{before}");
    let default = before["local_model"].clone();
    assert!(default.is_string(), "an installed default is in use: {before}");

    let chosen = run(&["--json", "models", "use", "smollm2-135m-instruct-q4_1"]).ok().json();
    assert_eq!((chosen["local_model"].as_str(), chosen["chosen"].as_bool()), (Some("smollm2-135m-instruct-q4_1"), Some(true)), "{chosen}");
    let listed = run(&["models", "list"]).ok().stdout;
    assert!(listed.contains("agents, chat and asks use smollm2-135m-instruct-q4_1, as chosen"), "{listed}");
    let settings = std::fs::read_to_string(cli.data_dir().join("settings.toml")).unwrap();

    // Refused, and the choice stays: an embedder, a model that is not
    // installed, an unknown id.
    for (id, says) in
        [("all-minilm-l6-v2", "is not a language model"), ("qwen2.5-coder-0.5b-instruct-awq-q4_k_m", "is not installed"), ("no-such-model", "no model with id")]
    {
        let refused = run(&["models", "use", id]);
        assert_ne!(refused.code, 0, "{id}: {refused:?}");
        assert!(refused.stderr.contains(says) && refused.stderr.contains(id), "{id}: {}", refused.stderr);
        assert_eq!(std::fs::read_to_string(cli.data_dir().join("settings.toml")).unwrap(), settings, "{id}");
    }

    let back = run(&["--json", "models", "use", "--default"]).ok().json();
    assert_eq!((&back["local_model"], back["chosen"].as_bool()), (&default, Some(false)), "{back}");
}
