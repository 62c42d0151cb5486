//! `raptorflow codex` end to end: the real CLI binary imports, lists,
//! searches and removes; a source imported by one teammate is searchable on
//! another's device after sync through a real `raptorflow-sync` process,
//! its passages and vectors rebuilt there.

#[path = "../sync/harness.rs"]
mod harness;

use harness::{Client, Server, require_keyring};

const BRIEF: &str = "# Fold F1 launch brief\n\n\
The Fold F1 launch targets apartment dwellers who have no garage. \
It folds in ten seconds and slides under a desk, so the hero shot is a bike beside an office chair.\n\n\
## Offer\n\nLaunch week buyers get the Lumen 900 light set free with code FOLDFREE.\n";

fn write_brief(client: &Client) -> std::path::PathBuf {
    let path = client.dir.path().join("fold-f1-brief.md");
    std::fs::write(&path, BRIEF).unwrap();
    path
}

fn search(client: &Client, workspace: &str, query: &str) -> serde_json::Value {
    client.run(&["--json", "codex", "search", "--workspace", workspace, "--k", "3", query]).ok().json()
}

#[test]
fn codex_commands_import_list_search_and_remove() {
    let client = Client::new("alice");
    let workspace = client.run(&["--json", "workspace", "create", "Kestrel"]).ok().json()["id"].as_str().unwrap().to_owned();
    let brief = write_brief(&client);
    let empty = client.dir.path().join("empty.md");
    std::fs::write(&empty, "").unwrap();

    // One bad file: the good one is imported, the exit code says not all were.
    let added = client.run(&["--json", "codex", "add", "--workspace", &workspace, brief.to_str().unwrap(), empty.to_str().unwrap()]);
    assert_eq!(added.code, 2, "{added:?}");
    assert!(added.stderr.contains("1 of 2 files were not imported"), "{}", added.stderr);
    let report = added.json();
    assert_eq!(report["files"][0]["status"], "added", "{report}");
    assert_eq!(report["files"][1]["status"], "failed", "{report}");
    assert!(report["files"][1]["error"].as_str().unwrap().contains("empty"), "{report}");
    let source_id = report["files"][0]["source_id"].as_str().unwrap().to_owned();

    let listed = client.run(&["--json", "codex", "list", "--workspace", &workspace]).ok().json();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["title"], "Fold F1 launch brief");
    assert_eq!(listed[0]["media_type"], "text/markdown");

    let results = search(&client, &workspace, "which promo code gives a free light");
    let first = &results[0];
    let mut keys: Vec<&str> = first.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["path", "score", "source_id", "span", "text", "title"], "{first}");
    assert_eq!(first["source_id"], source_id.as_str());
    assert!(first["text"].as_str().unwrap().contains("FOLDFREE"), "{results}");
    let span = first["span"].as_array().unwrap();
    let (start, end) = (span[0].as_u64().unwrap() as usize, span[1].as_u64().unwrap() as usize);
    let cited: String = BRIEF.trim().chars().skip(start).take(end - start).collect();
    assert_eq!(cited, first["text"].as_str().unwrap());

    let bad_mode = client.run(&["codex", "search", "--workspace", &workspace, "--mode", "fuzzy", "x"]);
    assert_eq!(bad_mode.code, 2);
    assert!(bad_mode.stderr.contains("unknown search mode \"fuzzy\""), "{}", bad_mode.stderr);

    client.run(&["codex", "remove", "--workspace", &workspace, &source_id]).ok();
    assert_eq!(search(&client, &workspace, "promo code").as_array().unwrap().len(), 0);
    let again = client.run(&["codex", "remove", "--workspace", &workspace, &source_id]);
    assert_eq!(again.code, 2);
    assert!(again.stderr.contains("no Codex source"), "{}", again.stderr);
}

#[test]
fn a_source_imported_by_one_teammate_is_searchable_by_another_after_sync() {
    require_keyring();
    let server = Server::start();
    server.create_workspace("Acme");
    let alice = Client::new("alice");
    let workspace = alice.run(&["--json", "workspace", "create", "Kestrel"]).ok().json()["id"].as_str().unwrap().to_owned();
    let token = server.add_member("Acme", "alice", "owner");
    alice.join(&server, &token, Some(&workspace)).ok();

    let brief = write_brief(&alice);
    alice.run(&["codex", "add", "--workspace", &workspace, brief.to_str().unwrap()]).ok();
    alice.sync().ok();

    let bob = Client::new("bob");
    let token = server.add_member("Acme", "bob", "editor");
    bob.join(&server, &token, None).ok();
    let listed = bob.run(&["--json", "codex", "list", "--workspace", &workspace]).ok().json();
    assert_eq!(listed[0]["title"], "Fold F1 launch brief", "{listed}");
    assert!(listed[0]["n_chunks"].is_null(), "not indexed on bob's device before a search: {listed}");
    let results = search(&bob, &workspace, "bike for people without a garage");
    assert!(results[0]["text"].as_str().unwrap().contains("apartment dwellers"), "{results}");
    let listed = bob.run(&["--json", "codex", "list", "--workspace", &workspace]).ok().json();
    assert!(listed[0]["n_chunks"].as_u64().unwrap() >= 1, "{listed}");

    // Removal travels too.
    let source_id = listed[0]["source_id"].as_str().unwrap().to_owned();
    alice.run(&["codex", "remove", "--workspace", &workspace, &source_id]).ok();
    alice.sync().ok();
    bob.sync().ok();
    assert_eq!(search(&bob, &workspace, "garage").as_array().unwrap().len(), 0);
}
