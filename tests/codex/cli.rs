//! `raptorflow codex` end to end: the real CLI binary imports, lists,
//! searches and removes; a source imported by one teammate is searchable on
//! another's device after sync through a real `raptorflow-sync` process,
//! its passages and vectors rebuilt there. Names and titles with escape
//! sequences never reach the terminal raw; a damaged local index is rebuilt.

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

/// Bytes that would act on a terminal instead of being shown.
fn raw_controls(text: &str) -> Vec<char> {
    text.chars().filter(|&c| (c.is_control() && c != '\n' && c != '\t') || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')).collect()
}

#[cfg(unix)]
#[test]
fn names_and_titles_with_escape_sequences_are_shown_escaped_and_stored_clean() {
    let client = Client::new("alice");
    let workspace = client.run(&["--json", "workspace", "create", "Kestrel"]).ok().json()["id"].as_str().unwrap().to_owned();
    // An OSC 8 link and a bidi override in the file name; a screen clear, an
    // OSC 52 clipboard write and an override in the heading.
    let name = "\u{1b}]8;;mailto:evil.example\u{7}price\u{1b}]8;;\u{7}\u{202E}dm.md";
    let path = client.dir.path().join(name);
    let title = "Price list \u{1b}[2J\u{1b}]52;c;cm0gLXJmIH4=\u{7}\u{202E}2026";
    std::fs::write(&path, format!("# {title}\n\nThe Fold F1 costs 1,299 euros; code FOLDFREE adds the light set.\n")).unwrap();

    let added = client.run(&["codex", "add", "--workspace", &workspace, path.to_str().unwrap()]).ok();
    let listed = client.run(&["codex", "list", "--workspace", &workspace]).ok();
    let found = client.run(&["codex", "search", "--workspace", &workspace, "--k", "1", "FOLDFREE light set"]).ok();
    for (what, run) in [("add", &added), ("list", &listed), ("search", &found)] {
        assert_eq!(raw_controls(&run.stdout), [], "{what} printed raw controls: {:?}", run.stdout);
        assert_eq!(raw_controls(&run.stderr), [], "{what} printed raw controls on stderr: {:?}", run.stderr);
    }
    assert!(added.stdout.contains(r"\u{1b}]8;;mailto:evil.example\u{7}price\u{1b}]8;;\u{7}\u{202e}dm.md"), "{}", added.stdout);
    assert!(listed.stdout.contains(r"\u{202e}dm.md"), "the path is shown escaped: {}", listed.stdout);
    assert!(found.stdout.contains("FOLDFREE"), "{}", found.stdout);

    // What is stored and synced: the title cleaned, the path exact (it is
    // the file's real name), both exact in JSON.
    let listed = client.run(&["--json", "codex", "list", "--workspace", &workspace]).ok().json();
    assert_eq!(listed[0]["title"], "Price list \u{FFFD}[2J\u{FFFD}]52;c;cm0gLXJmIH4=\u{FFFD}\u{FFFD}2026", "{listed}");
    assert!(listed[0]["path"].as_str().unwrap().ends_with(name), "{listed}");
    let hits = client.run(&["--json", "codex", "search", "--workspace", &workspace, "--k", "1", "FOLDFREE"]).ok().json();
    assert_eq!(hits[0]["title"], listed[0]["title"], "{hits}");
}

#[test]
fn names_with_bidi_overrides_or_controls_are_refused_saying_where() {
    let client = Client::new("alice");
    let refused = client.run(&["workspace", "create", "Acme \u{202E}gpj.exe"]);
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(
        refused.stderr.contains("invalid workspace name: must be a single line without control characters or bidirectional overrides; it has a bidirectional override U+202E at character 6"),
        "{}",
        refused.stderr
    );
    assert_eq!(raw_controls(&refused.stderr), [], "the refusal itself shows the name escaped: {:?}", refused.stderr);
    let refused = client.run(&["workspace", "create", "Red \u{1b}[31malert"]);
    assert!(refused.stderr.contains("an escape character (ESC) U+001B at character 5"), "{}", refused.stderr);
}

#[test]
fn a_damaged_codex_index_is_moved_aside_and_rebuilt_from_the_documents() {
    let client = Client::new("alice");
    let workspace = client.run(&["--json", "workspace", "create", "Kestrel"]).ok().json()["id"].as_str().unwrap().to_owned();
    let brief = write_brief(&client);
    client.run(&["codex", "add", "--workspace", &workspace, brief.to_str().unwrap()]).ok();

    let data = client.dir.path().join("data");
    let index = data.join("codex.sqlite3");
    std::fs::write(&index, b"this is not a database, it was overwritten by something else entirely. ".repeat(100)).unwrap();

    let listed = client.run(&["--json", "codex", "list", "--workspace", &workspace]).ok();
    assert!(listed.stderr.contains("rebuilding it from the workspace's documents"), "one line says what happened: {}", listed.stderr);
    assert_eq!(listed.json()[0]["title"], "Fold F1 launch brief", "{}", listed.stdout);
    let moved: Vec<String> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("codex.sqlite3.damaged-"))
        .collect();
    assert_eq!(moved.len(), 1, "the damaged file is kept aside: {moved:?}");

    let results = search(&client, &workspace, "which promo code gives a free light");
    assert!(results[0]["text"].as_str().unwrap().contains("FOLDFREE"), "{results}");

    // A quick-check failure is handled the same way: damage a page of a real index.
    let mut bytes = std::fs::read(&index).unwrap();
    assert!(bytes.len() > 8192, "the rebuilt index has pages");
    for byte in &mut bytes[4096..8192] {
        *byte = 0xA5;
    }
    std::fs::write(&index, &bytes).unwrap();
    let results = search(&client, &workspace, "which promo code gives a free light");
    assert!(results[0]["text"].as_str().unwrap().contains("FOLDFREE"), "{results}");
}

#[cfg(unix)]
#[test]
fn codex_add_reports_skipped_links_and_follows_them_only_when_asked() {
    let client = Client::new("alice");
    let workspace = client.run(&["--json", "workspace", "create", "Kestrel"]).ok().json()["id"].as_str().unwrap().to_owned();
    let folder = client.dir.path().join("brand");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("brief.md"), BRIEF).unwrap();
    std::fs::write(client.dir.path().join("id_rsa"), "-----BEGIN OPENSSH PRIVATE KEY-----\nsecret\n").unwrap();
    std::os::unix::fs::symlink(client.dir.path().join("id_rsa"), folder.join("key.md")).unwrap();
    std::os::unix::fs::symlink("brief.md", folder.join("same.md")).unwrap();

    let added = client.run(&["codex", "add", "--workspace", &workspace, folder.to_str().unwrap()]);
    assert_eq!(added.code, 0, "skipping is not failing: {added:?}");
    assert!(added.stdout.contains("key.md: a symbolic link; links inside folders are not followed"), "{}", added.stdout);
    assert!(added.stdout.contains("2 symbolic links were skipped; --follow-symlinks follows"), "{}", added.stdout);

    let added = client.run(&["--json", "codex", "add", "--follow-symlinks", "--workspace", &workspace, folder.to_str().unwrap()]).ok().json();
    let files = added["files"].as_array().unwrap();
    let status = |suffix: &str| files.iter().find(|f| f["path"].as_str().unwrap().ends_with(suffix)).unwrap().clone();
    assert_eq!(status("key.md")["status"], "skipped", "{added}");
    assert!(status("key.md")["reason"].as_str().unwrap().contains("outside the paths being imported"), "{added}");
    assert_eq!(status("same.md")["status"], "skipped", "a file reached twice is read once: {added}");
    assert_eq!(added["n_skipped"], 2, "{added}");
    let listed = client.run(&["--json", "codex", "list", "--workspace", &workspace]).ok().json();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
}

#[test]
fn a_long_file_reports_how_many_of_its_passages_are_embedded() {
    let client = Client::new("alice");
    let workspace = client.run(&["--json", "workspace", "create", "Kestrel"]).ok().json()["id"].as_str().unwrap().to_owned();
    // About 230 passages: long enough for progress lines in a log.
    let sentences = [
        "The Fold F1 folds in ten seconds and slides under a desk.",
        "Commuters in small flats have no garage, so the bike lives indoors.",
        "The Commuter C2 rides fifty miles on one charge with a quiet belt drive.",
        "Winter riders ask for studded tyres and heated grips.",
        "Dealers report that the launch offer doubled test rides.",
    ];
    let mut text = String::new();
    for i in 0..3000 {
        text.push_str(sentences[i % sentences.len()]);
        text.push(if i % 7 == 6 { '\n' } else { ' ' });
        if i % 21 == 20 {
            text.push('\n');
        }
    }
    let path = client.dir.path().join("long.txt");
    std::fs::write(&path, &text).unwrap();

    let added = client.run(&["--json", "codex", "add", "--workspace", &workspace, path.to_str().unwrap()]).ok();
    let n_chunks = added.json()["files"][0]["n_chunks"].as_u64().unwrap();
    assert!(n_chunks >= 200, "the file should be long: {n_chunks} passages");
    let lines: Vec<&str> = added.stderr.lines().filter(|line| line.starts_with("[1/1] ") && line.contains("passages embedded")).collect();
    assert!(lines.len() >= 5, "a line per tenth of the passages: {}", added.stderr);
    assert!(lines.last().unwrap().ends_with(&format!(": {n_chunks}/{n_chunks} passages embedded")), "{}", added.stderr);
}
