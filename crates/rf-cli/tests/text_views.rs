//! What a person at a terminal reads: the text (not `--json`) form of each
//! command, on a real data directory; and `--json` errors, which are one
//! JSON document on stderr.

mod support;

use support::Cli;

/// Runs a command that must succeed and returns its stdout.
fn text(cli: &Cli, args: &[&str]) -> String {
    cli.run(args).ok().stdout
}

fn assert_has(haystack: &str, needles: &[&str]) {
    for needle in needles {
        assert!(haystack.contains(needle), "expected {needle:?} in:\n{haystack}");
    }
}

#[test]
fn an_empty_data_directory_says_what_to_do_next() {
    let cli = Cli::new();
    assert_has(&text(&cli, &["workspace", "list"]), &["no workspaces yet: create one with `raptorflow workspace create NAME`"]);
    assert_has(&text(&cli, &["sync", "status"]), &["no workspace is shared yet: see `raptorflow sync join --help`"]);
    assert_has(&text(&cli, &["sync", "now"]), &["no workspace is shared yet"]);
    let ws = cli.run(["--json", "workspace", "create", "Empty"]).ok().json();
    let ws = ws["id"].as_str().unwrap();
    assert_has(&text(&cli, &["campaign", "list", "--workspace", ws]), &["no campaigns yet: create one with `raptorflow campaign create"]);
    assert_has(&text(&cli, &["codex", "list", "--workspace", ws]), &["the Codex is empty: add files with `raptorflow codex add"]);
}

#[test]
fn workspaces_campaigns_moves_and_assets_read_as_text() {
    let cli = Cli::new();
    let demo = cli.run(["--json", "demo"]).ok().json();
    let ws = demo["workspace"]["id"].as_str().unwrap().to_owned();
    let campaign = demo["campaign"]["id"].as_str().unwrap().to_owned();

    assert_has(&text(&cli, &["workspace", "list"]), &[&ws, "Northwind Coffee Roasters", "(1 campaigns, 1 members, created 20"]);
    let shown = text(&cli, &["workspace", "show", &ws]);
    assert_has(&shown, &[&format!("Workspace {ws}  Northwind Coffee Roasters"), "  member    tester", "  banned    ", "  campaigns 1", &campaign]);
    assert_has(&text(&cli, &["campaign", "list", "--workspace", &ws]), &[&format!("{campaign}  draft ")]);
    let campaign_text = text(&cli, &["campaign", "show", &campaign]);
    assert_has(&campaign_text, &["  status    draft", "  budget    2500.00 USD", "  moves     4", "  assets    1"]);

    let added = text(&cli, &["move", "add", "--campaign", &campaign, "--channel", "email", "--due", "2027-01-15", "Reminder email"]);
    let move_id = added.split_whitespace().next().unwrap().to_owned();
    assert_has(&added, &["planned", "email", "Reminder email"]);
    assert_has(&text(&cli, &["move", "set-status", &move_id, "review"]), &[&move_id, "review"]);
    assert_has(&text(&cli, &["campaign", "show", &campaign]), &["Reminder email (due 2027-01-15)"]);
    assert_has(&text(&cli, &["move", "delete", &move_id]), &[&format!("deleted move {move_id} (Reminder email)")]);

    let assets = text(&cli, &["asset", "list", "--campaign", &campaign]);
    let asset_id = assets.split_whitespace().next().unwrap().to_owned();
    assert_has(&text(&cli, &["asset", "show", &asset_id]), &[&asset_id]);
    assert_has(&text(&cli, &["asset", "check", &asset_id]), &["verdict: "]);
    assert_has(&text(&cli, &["asset", "delete", &asset_id]), &[&format!("deleted asset {asset_id} (")]);
    assert_has(&text(&cli, &["asset", "list", "--campaign", &campaign]), &["no assets: add one with `raptorflow asset add"]);

    let file = cli.dir.path().join("export.json");
    let exported = text(&cli, &["export", "--workspace", &ws, file.to_str().unwrap()]);
    assert_has(&exported, &[&format!("exported workspace {ws} (1 campaigns) to ")]);
    assert_has(
        &text(&cli, &["campaign", "delete", "--yes", &campaign]),
        &[&format!("deleted campaign {campaign} (Holiday gift subscriptions) with 4 moves and 0 assets")],
    );
    assert_has(&text(&cli, &["workspace", "delete", "--yes", &ws]), &[&format!("deleted workspace {ws} (Northwind Coffee Roasters) from this device")]);
}

#[test]
fn errors_under_json_are_one_json_document_on_stderr() {
    let cli = Cli::new();
    let run = cli.run(["--json", "campaign", "show", "01890000-0000-7000-8000-000000000000"]);
    assert_ne!(run.code, 0);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    let error: serde_json::Value = serde_json::from_str(run.stderr.trim()).unwrap_or_else(|e| panic!("stderr is not JSON ({e}): {}", run.stderr));
    assert!(error["error"]["kind"].is_string(), "{error}");
    assert!(error["error"]["message"].as_str().unwrap().contains("01890000-0000-7000-8000-000000000000"), "{error}");
}
