//! The whole workspace API from the CLI, as real processes on real SQLite
//! files: each command once with good input (the change is there for the
//! next process) and with bad input (exit 2, a message saying what was
//! wrong, and the store exactly as it was).

mod support;

use support::{Cli, check_refused};

/// Writes `json` to a file in the data directory's parent and returns its path.
fn file(cli: &Cli, name: &str, json: &serde_json::Value) -> String {
    let path = cli.dir.path().join(name);
    std::fs::write(&path, serde_json::to_vec(json).unwrap()).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn workspaces_are_renamed_and_deleted_only_when_confirmed() {
    let cli = Cli::new();
    let (ws, _) = cli.workspace_with_campaign();
    let renamed = cli.run(["--json", "workspace", "rename", &ws, "Acme Europe"]).ok().json();
    assert_eq!(renamed["name"], "Acme Europe");
    assert_eq!(cli.run(["--json", "workspace", "show", &ws]).ok().json()["name"], "Acme Europe");

    check_refused(&cli, &["workspace", "rename", &ws, "   "], 2, &["workspace name"]);
    check_refused(&cli, &["workspace", "delete", &ws], 2, &["--yes", "1 campaigns", "nothing was deleted"]);
    check_refused(&cli, &["workspace", "rename", "01a24183-03d7-7226-af52-d892d5354184", "X"], 2, &["no workspace"]);

    let deleted = cli.run(["--json", "workspace", "delete", &ws, "--yes"]).ok().json();
    assert_eq!(deleted["n_campaigns"], 1);
    assert_eq!(cli.run(["--json", "workspace", "list"]).ok().json(), serde_json::json!([]));
    assert_eq!(cli.run(["workspace", "show", &ws]).code, 2);
}

#[test]
fn campaigns_are_edited_and_follow_their_status_rules() {
    let cli = Cli::new();
    let (ws, campaign) = cli.workspace_with_campaign();
    let edited = cli
        .run([
            "--json",
            "campaign",
            "edit",
            &campaign,
            "--name",
            "Spring launch EU",
            "--goal",
            "300 demos",
            "--budget",
            "4000",
            "--currency",
            "EUR",
            "--channel",
            "linkedin",
            "--channel",
            "email",
            "--start",
            "2027-03-01",
            "--end",
            "2027-04-30",
        ])
        .ok()
        .json();
    assert_eq!(edited["name"], "Spring launch EU");
    assert_eq!(edited["budget"]["amount_minor"], 400_000);
    assert_eq!(edited["channels"], serde_json::json!(["linkedin", "email"]));
    assert_eq!(edited["start_date"], "2027-03-01");
    let listed = cli.run(["--json", "campaign", "list", "--workspace", &ws]).ok().json();
    assert_eq!(listed[0]["name"], "Spring launch EU", "the index follows the rename");

    check_refused(&cli, &["campaign", "edit", &campaign], 2, &["nothing to change"]);
    check_refused(&cli, &["campaign", "edit", &campaign, "--end", "2027-02-01"], 2, &["before the start"]);
    check_refused(&cli, &["campaign", "edit", &campaign, "--budget=-5", "--currency", "EUR"], 2, &["budget"]);
    check_refused(&cli, &["campaign", "set-status", &campaign, "completed"], 2, &["draft", "cannot become completed", "active"]);
    check_refused(&cli, &["campaign", "set-status", &campaign, "finished"], 2, &["campaign status"]);

    for status in ["active", "paused", "active", "completed", "archived"] {
        let set = cli.run(["--json", "campaign", "set-status", &campaign, status]).ok().json();
        assert_eq!(set["status"], status);
    }
    assert_eq!(cli.run(["--json", "campaign", "list", "--workspace", &ws]).ok().json()[0]["status"], "archived");
    // An archived campaign takes no changes, and stays archived.
    check_refused(&cli, &["campaign", "edit", &campaign, "--name", "Again"], 2, &["archived", "nothing was changed"]);
    check_refused(&cli, &["move", "add", "--campaign", &campaign, "--channel", "email", "Late"], 2, &["archived"]);
    check_refused(&cli, &["campaign", "set-status", &campaign, "active"], 2, &["stays archived"]);
}

#[test]
fn deleting_a_campaign_takes_its_moves_and_assets_with_it() {
    let cli = Cli::new();
    let (ws, campaign) = cli.workspace_with_campaign();
    let move_id = cli.add_move(&campaign, "Launch email");
    let post = file(&cli, "post.json", &serde_json::json!({"text": "Spring rides start here."}));
    let asset = cli.run(["--json", "asset", "add", "--campaign", &campaign, "--move", &move_id, "--kind", "x_post", "--file", &post]).ok().json();
    let asset_id = asset["id"].as_str().unwrap().to_owned();

    check_refused(&cli, &["campaign", "delete", &campaign], 2, &["--yes", "1 moves and 1 assets"]);
    let deleted = cli.run(["--json", "campaign", "delete", &campaign, "--yes"]).ok().json();
    assert_eq!((deleted["n_moves"].as_u64(), deleted["n_assets"].as_u64()), (Some(1), Some(1)));
    assert_eq!(cli.run(["--json", "campaign", "list", "--workspace", &ws]).ok().json(), serde_json::json!([]));
    for args in [vec!["campaign", "show", &campaign], vec!["asset", "show", &asset_id], vec!["move", "set-status", &move_id, "done"]] {
        let run = cli.run(&args);
        assert_eq!(run.code, 2, "{args:?} still finds something: {}", run.stdout);
        assert!(run.stderr.contains("no "), "{}", run.stderr);
    }
}

#[test]
fn moves_are_edited_and_deleted() {
    let cli = Cli::new();
    let (_, campaign) = cli.workspace_with_campaign();
    let move_id = cli.add_move(&campaign, "Launch email");
    let edited = cli
        .run([
            "--json",
            "move",
            "edit",
            &move_id,
            "--title",
            "Launch sequence",
            "--channel",
            "linkedin",
            "--description",
            "Three posts in launch week",
            "--due",
            "2027-03-02",
            "--owner",
            "tester",
        ])
        .ok()
        .json();
    assert_eq!(edited["move"]["title"], "Launch sequence");
    assert_eq!(edited["move"]["description"], "Three posts in launch week");
    assert_eq!(edited["move"]["owner"], "tester");
    let cleared = cli.run(["--json", "move", "edit", &move_id, "--no-due", "--unassign"]).ok().json();
    assert_eq!(cleared["move"]["due_date"], serde_json::Value::Null);
    assert_eq!(cleared["move"]["owner"], serde_json::Value::Null);

    check_refused(&cli, &["move", "edit", &move_id], 2, &["nothing to change"]);
    check_refused(&cli, &["move", "edit", &move_id, "--owner", "stranger"], 2, &["stranger is not a member"]);
    check_refused(&cli, &["move", "edit", &move_id, "--due", "2027-13-40"], 2, &["date"]);
    check_refused(&cli, &["move", "delete", "01a24183-03d7-7226-af52-d892d5354184"], 2, &["no move"]);

    let post = file(&cli, "post.json", &serde_json::json!({"text": "Spring rides start here."}));
    let asset = cli.run(["--json", "asset", "add", "--campaign", &campaign, "--move", &move_id, "--kind", "x_post", "--file", &post]).ok().json();
    cli.run(["move", "delete", &move_id]).ok();
    let shown = cli.run(["--json", "campaign", "show", &campaign]).ok().json();
    assert!(shown["moves"].as_object().unwrap().is_empty());
    let kept = cli.run(["--json", "asset", "show", asset["id"].as_str().unwrap()]).ok().json();
    assert_eq!(kept["move_id"], serde_json::Value::Null, "the move's asset stays, attached to no move");
}

#[test]
fn every_asset_kind_is_added_from_json_checked_shown_listed_edited_and_deleted() {
    let cli = Cli::new();
    let (_, campaign) = cli.workspace_with_campaign();
    let kinds = [
        (
            "google_rsa",
            serde_json::json!({"headlines": ["Spring rides", "Free fitting", "Ride today"], "descriptions": ["Bikes for every road.", "Book a fitting."], "final_url": "https://example.com"}),
        ),
        (
            "meta_ad",
            serde_json::json!({"primary_text": "Spring rides start here.", "headline": "Ride today", "description": "Free fitting", "call_to_action": "Shop now"}),
        ),
        ("linkedin_ad", serde_json::json!({"intro_text": "Fleet bikes for your team.", "headline": "Ride to work", "call_to_action": "Learn more"})),
        ("x_post", serde_json::json!({"text": "Spring rides start here."})),
        ("linkedin_post", serde_json::json!({"text": "We fitted 500 riders this winter."})),
        ("email", serde_json::json!({"subject": "Spring is here", "preheader": "Free fittings", "body": "Book yours today."})),
        ("blog_post", serde_json::json!({"title": "Spring checklist", "meta_description": "Ten checks", "body_markdown": "# Checks\n\nTyres first."})),
        ("video_script", serde_json::json!({"title": "Ride", "duration_seconds": 30, "scenes": []})),
        ("image_brief", serde_json::json!({"concept": "A rider at dawn", "aspect_ratio": "1:1", "alt_text": "A cyclist on a road at sunrise"})),
    ];
    let mut ids = Vec::new();
    for (kind, json) in &kinds {
        let path = file(&cli, &format!("{kind}.json"), json);
        let added = cli.run(["--json", "asset", "add", "--campaign", &campaign, "--kind", kind, "--file", &path]).ok().json();
        assert_eq!(added["kind"], *kind);
        assert_eq!(added["status"], "draft");
        assert!(added["verdict"].is_string(), "Guardian checked it: {added}");
        ids.push(added["id"].as_str().unwrap().to_owned());
    }
    let listed = cli.run(["--json", "asset", "list", "--campaign", &campaign]).ok().json();
    assert_eq!(listed.as_array().unwrap().len(), kinds.len());
    let shown = cli.run(["--json", "asset", "show", &ids[3]]).ok().json();
    assert_eq!(shown["content"]["text"], "Spring rides start here.");

    // An approved asset whose text changes goes back to review, checked again.
    let approved = cli.run(["--json", "asset", "set-status", &ids[3], "approved"]).ok().json();
    assert_eq!(approved["status"], "approved");
    let edit = file(&cli, "edit.json", &serde_json::json!({"text": "Spring rides start here. Book a free fitting."}));
    let edited = cli.run(["--json", "asset", "edit", &ids[3], "--file", &edit]).ok().json();
    assert_eq!(edited["content"]["text"], "Spring rides start here. Book a free fitting.");
    assert_eq!(edited["status"], "in_review");

    let wrong_field = file(&cli, "bad.json", &serde_json::json!({"txt": "typo"}));
    check_refused(&cli, &["asset", "add", "--campaign", &campaign, "--kind", "x_post", "--file", &wrong_field], 2, &["x_post", "txt"]);
    let not_json = cli.dir.path().join("broken.json");
    std::fs::write(&not_json, b"{\"text\": ").unwrap();
    check_refused(&cli, &["asset", "add", "--campaign", &campaign, "--kind", "x_post", "--file", not_json.to_str().unwrap()], 2, &["not JSON"]);
    check_refused(&cli, &["asset", "add", "--campaign", &campaign, "--kind", "tiktok", "--file", &wrong_field], 2, &["asset kind"]);
    let other_kind = file(&cli, "email.json", &serde_json::json!({"kind": "email", "subject": "s", "preheader": "p", "body": "b"}));
    check_refused(&cli, &["asset", "edit", &ids[3], "--file", &other_kind], 2, &["says email", "x_post"]);
    check_refused(&cli, &["asset", "delete", "01a24183-03d7-7226-af52-d892d5354184"], 2, &["no asset"]);

    let deleted = cli.run(["--json", "asset", "delete", &ids[0]]).ok().json();
    assert_eq!(deleted["kind"], "google_rsa");
    assert_eq!(cli.run(["--json", "asset", "list", "--campaign", &campaign]).ok().json().as_array().unwrap().len(), kinds.len() - 1);
}

#[test]
fn assets_are_added_and_edited_from_flags() {
    let cli = Cli::new();
    let (_, campaign) = cli.workspace_with_campaign();
    let post = cli.run(["--json", "asset", "add", "--campaign", &campaign, "--kind", "x_post", "--set", "text=Spring rides start here."]).ok().json();
    assert_eq!(post["content"]["text"], "Spring rides start here.");
    assert!(post["verdict"].is_string(), "Guardian checked it: {post}");

    let rsa = cli
        .run([
            "--json",
            "asset",
            "add",
            "--campaign",
            &campaign,
            "--kind",
            "google_rsa",
            "--set",
            "headlines=Spring Bike Tune-Ups",
            "--set",
            "headlines=Ride Further This Year",
            "--set",
            "headlines=Local Bike Shop",
            "--set",
            "descriptions=Tune-ups in one day, by people who ride.",
            "--set",
            "descriptions=Book online; pick up by 6 pm.",
            "--set",
            "final_url=https://bikes.example/spring",
        ])
        .ok()
        .json();
    assert_eq!(rsa["content"]["headlines"], serde_json::json!(["Spring Bike Tune-Ups", "Ride Further This Year", "Local Bike Shop"]));
    let rsa_id = rsa["id"].as_str().unwrap().to_owned();

    // An edit changes what is given and keeps the rest; a list given again
    // is replaced, not appended to.
    let edited = cli.run(["--json", "asset", "edit", &rsa_id, "--set", "final_url=https://bikes.example/tune-up", "--set", "paths=spring"]).ok().json();
    assert_eq!(edited["content"]["final_url"], "https://bikes.example/tune-up");
    assert_eq!(edited["content"]["paths"], serde_json::json!(["spring"]));
    assert_eq!(edited["content"]["headlines"].as_array().unwrap().len(), 3);
    let replaced = cli.run(["--json", "asset", "edit", &rsa_id, "--set", "headlines=Tune-Ups Today", "--set", "headlines=Ride More"]).ok().json();
    assert_eq!(replaced["content"]["headlines"], serde_json::json!(["Tune-Ups Today", "Ride More"]));

    let brief = cli
        .run([
            "--json",
            "asset",
            "add",
            "--campaign",
            &campaign,
            "--kind",
            "image_brief",
            "--set",
            "concept=A rider at dawn",
            "--set",
            "aspect_ratio=1:1",
            "--set",
            "alt_text=A cyclist on a hill at sunrise",
        ])
        .ok()
        .json();
    assert_eq!(brief["content"]["aspect_ratio"], "1:1");

    let add = ["asset", "add", "--campaign", campaign.as_str(), "--kind", "x_post"];
    check_refused(&cli, &[&add[..], &["--set", "txt=typo"]].concat(), 2, &["x_post", "txt"]);
    check_refused(&cli, &[&add[..], &["--set", "text"]].concat(), 2, &["FIELD=VALUE"]);
    check_refused(&cli, &[&add[..], &["--set", "text=a", "--set", "text=b"]].concat(), 2, &["text is given twice"]);
    check_refused(&cli, &add, 2, &["--file", "--set"]);
    let scenes = ["asset", "add", "--campaign", campaign.as_str(), "--kind", "video_script", "--set", "scenes=one"];
    check_refused(&cli, &scenes, 2, &["structured", "--file"]);
    let duration = ["asset", "add", "--campaign", campaign.as_str(), "--kind", "video_script", "--set", "duration_seconds=half a minute"];
    check_refused(&cli, &duration, 2, &["whole number"]);
}

#[test]
fn members_are_added_and_changed_and_the_last_owner_stays() {
    let cli = Cli::new();
    let (ws, _) = cli.workspace_with_campaign();
    let added = cli.run(["--json", "member", "add", "--workspace", &ws, "bob", "--name", "Bob", "--role", "editor"]).ok().json();
    assert_eq!(added["members"]["bob"]["role"], "editor");
    assert_eq!(added["members"]["bob"]["display_name"], "Bob");
    let promoted = cli.run(["--json", "member", "set-role", "--workspace", &ws, "bob", "owner"]).ok().json();
    assert_eq!(promoted["members"]["bob"]["role"], "owner");
    cli.run(["member", "set-role", "--workspace", &ws, "bob", "viewer"]).ok();

    check_refused(&cli, &["member", "remove", "--workspace", &ws, "tester"], 2, &["last owner", "nothing was changed"]);
    check_refused(&cli, &["member", "set-role", "--workspace", &ws, "tester", "editor"], 2, &["last owner"]);
    check_refused(&cli, &["member", "add", "--workspace", &ws, "bob", "--role", "editor"], 2, &["already exists"]);
    check_refused(&cli, &["member", "add", "--workspace", &ws, "carol", "--role", "admin"], 2, &["role"]);
    check_refused(&cli, &["member", "remove", "--workspace", &ws, "nobody"], 2, &["no member"]);

    let removed = cli.run(["--json", "member", "remove", "--workspace", &ws, "bob"]).ok().json();
    assert!(removed["members"].get("bob").is_none());
    // Someone who is not an owner cannot manage members.
    cli.run(["member", "add", "--workspace", &ws, "dave", "--role", "editor"]).ok();
    let as_dave = cli.command().args(["--user", "dave", "member", "remove", "--workspace", &ws, "tester"]).output().unwrap();
    assert_eq!(as_dave.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&as_dave.stderr).contains("only an owner"), "{}", String::from_utf8_lossy(&as_dave.stderr));
}
