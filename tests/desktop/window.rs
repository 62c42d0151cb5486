//! The desktop app in its real window, driven through WebDriver
//! (tauri-driver and WebKitWebDriver under Xvfb, in the D-Bus session with
//! a throwaway keyring that scripts/test-services.sh starts), on a real data
//! directory that the CLI reads and changes at the same time. It also saves
//! a screenshot of each main screen (`target/screenshots/`; with
//! `UPDATE_SCREENSHOTS=1` into `docs/screenshots/` for the README).
//!
//! The app is `RAPTORFLOW_DESKTOP_BIN` when set (scripts/test.sh points it
//! at the binary unpacked from the `.deb` it built), else the workspace's
//! debug build.

// The test reports the two timings it measures.
#![allow(clippy::print_stderr)]

#[path = "../sync/harness.rs"]
mod harness;
mod webdriver;

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use serde_json::Value;
use webdriver::{Driver, Session, literal};

fn app() -> PathBuf {
    match std::env::var_os("RAPTORFLOW_DESKTOP_BIN").filter(|p| !p.is_empty()) {
        Some(path) => PathBuf::from(path),
        None => harness::binary("raptorflow-desktop"),
    }
}

fn models_dir() -> PathBuf {
    std::env::var_os("RAPTORFLOW_MODELS_DIR")
        .expect("RAPTORFLOW_MODELS_DIR is not set: run the tests through ./scripts/test.sh, which fetches the models")
        .into()
}

/// Runs the CLI on `data` with `--json` and returns its document.
fn cli(data: &Path, args: &[&str]) -> Value {
    let output = Command::new(harness::binary("raptorflow"))
        .arg("--data-dir")
        .arg(data)
        .arg("--json")
        .args(args)
        .env("RAPTORFLOW_MODELS_DIR", models_dir())
        .output()
        .unwrap();
    assert!(output.status.success(), "raptorflow {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("raptorflow {args:?} printed no JSON ({e}): {}", String::from_utf8_lossy(&output.stdout)))
}

/// Saves a screenshot of the window as `name`.png.
async fn screenshot(session: &Session, name: &str) {
    let png = session.screenshot().await;
    assert!(png.starts_with(b"\x89PNG"), "the screenshot {name} is not a PNG");
    let exe = std::env::current_exe().unwrap();
    let target = exe.ancestors().nth(3).expect("target/<profile>/deps/<exe>");
    let dir = target.join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{name}.png")), &png).unwrap();
    if std::env::var_os("UPDATE_SCREENSHOTS").is_some() {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots");
        std::fs::create_dir_all(&docs).unwrap();
        std::fs::write(docs.join(format!("{name}.png")), &png).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_window_and_the_cli_work_on_the_same_data_directory() {
    harness::require_keyring();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let models = models_dir();
    let driver = Driver::start(&[("RAPTORFLOW_DATA_DIR", &data), ("RAPTORFLOW_MODELS_DIR", &models)]);
    let started = Instant::now();
    let session = Session::open(&driver, &app()).await;
    let wait = |xpath: String| {
        let session = &session;
        async move { session.wait(&xpath, Duration::from_secs(20)).await }
    };

    // A workspace made in the window is in the CLI's list.
    wait("//*[contains(., 'No workspaces yet')]".into()).await;
    eprintln!("first screen after {:?}", started.elapsed());
    session.fill(&session.input("New workspace").await, "Acme Analytics").await;
    session.click(&session.button("Create").await).await;
    wait("//*[contains(text(), 'No campaigns yet')]".into()).await;
    let workspaces = cli(&data, &["workspace", "list"]);
    let workspace = workspaces.as_array().unwrap().iter().find(|w| w["name"] == "Acme Analytics").unwrap_or_else(|| panic!("{workspaces}"));
    let workspace_id = workspace["id"].as_str().unwrap().to_owned();

    // The brand codex saved in the window is what the CLI shows.
    session.nav("Brand codex").await;
    session.fill(&session.input("Company").await, "Acme Analytics").await;
    session.fill(&session.input("Banned terms").await, "guaranteed").await;
    session.fill(&session.input("Required disclaimers").await, "Terms apply.").await;
    session.click(&session.button("Save brand codex").await).await;
    wait("//*[@role='status'][normalize-space(.)='Saved']".into()).await;
    let shown = cli(&data, &["workspace", "show", &workspace_id]);
    assert_eq!(shown["brand"]["banned_terms"], serde_json::json!(["guaranteed"]), "{shown}");
    assert_eq!(shown["brand"]["required_disclaimers"], serde_json::json!(["Terms apply."]), "{shown}");
    screenshot(&session, "brand-codex").await;

    // A campaign and a move made in the window are in the CLI's campaign.
    session.nav("Campaigns").await;
    session.fill(&session.input("New campaign").await, "Spring launch").await;
    session.fill(&session.input("Goal").await, "200 demo requests").await;
    session.click(&session.button("Create campaign").await).await;
    session.fill(&session.input("New move").await, "Webinar invite").await;
    session.click(&session.button("Add move").await).await;
    wait("//*[@aria-label='Planned column']//*[contains(@aria-label, 'Webinar invite, Planned')]".into()).await;
    let campaigns = cli(&data, &["campaign", "list", "--workspace", &workspace_id]);
    let campaign_id = campaigns[0]["id"].as_str().unwrap_or_else(|| panic!("{campaigns}")).to_owned();
    let campaign = cli(&data, &["campaign", "show", &campaign_id]);
    assert_eq!(campaign["name"], "Spring launch");
    let moves = campaign["moves"].as_object().unwrap();
    let (move_id, the_move) = moves.iter().next().unwrap_or_else(|| panic!("{campaign}"));
    assert_eq!(the_move["title"], "Webinar invite");
    assert_eq!(the_move["status"], "planned");

    // A move the CLI changes moves on the board without a reload.
    cli(&data, &["move", "set-status", move_id, "live"]);
    let changed = Instant::now();
    wait("//*[@aria-label='Live column']//*[contains(@aria-label, 'Webinar invite, Live')]".into()).await;
    eprintln!("the board showed the CLI's change after {:?}", changed.elapsed());
    screenshot(&session, "campaign-board").await;

    // An asset written in the window: Guardian (the real engine) blocks the
    // banned term and the missing disclaimer as the user types, passes the
    // fixed text, and approval is stored.
    session.click(&session.button("New asset").await).await;
    let post = session.input("Post").await;
    session.fill(&post, "Guaranteed growth for every store.").await;
    wait("//*[@aria-label='Guardian: block']".into()).await;
    wait("//*[contains(text(), 'is a banned term')]".into()).await;
    screenshot(&session, "asset-editor").await;
    session.fill(&post, "Growth dashboards for every store, set up in a day. Terms apply.").await;
    wait("//*[@aria-label='Guardian: pass' or @aria-label='Guardian: warn']".into()).await;
    session.click(&session.button("Save asset").await).await;
    session.fill(&session.input("Review note").await, "Short and clear.").await;
    let approve = session.button("Approve").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !session.enabled(&approve).await {
        assert!(Instant::now() < deadline, "Approve stayed disabled: {}", session.text_of_page().await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    session.click(&approve).await;
    wait("//*[@aria-label='Asset editor']//*[normalize-space(text())='Approved']".into()).await;
    let assets = cli(&data, &["asset", "list", "--campaign", &campaign_id]);
    assert_eq!(assets[0]["status"], "approved", "{assets}");
    assert_eq!(assets[0]["review_note"], "Short and clear.", "{assets}");

    // The Codex: a file the CLI imports is listed, and the window's search
    // (the real embedder) finds it and opens the passage in its source.
    session.nav("Codex").await;
    wait("//*[contains(text(), 'Nothing imported yet')]".into()).await;
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/codex/corpus/product/pricing-and-financing.md");
    cli(&data, &["codex", "add", "--workspace", &workspace_id, corpus.to_str().unwrap()]);
    wait("//*[normalize-space(text())='pricing-and-financing.md' or contains(text(), 'Pricing')]".into()).await;
    session.fill(&session.input("Search the Codex").await, "monthly payments for a bike").await;
    session.click(&session.button("Search").await).await;
    let passage = wait("//*[@aria-label='Passage 1']".into()).await;
    let open = session.find("//*[@aria-label='Passage 1']//button[normalize-space(.)='Open in source']").await;
    let passage_text = session.text(&passage).await;
    session.click(&open).await;
    let mark = wait("//mark".into()).await;
    let marked = session.text(&mark).await;
    assert!(!marked.trim().is_empty() && passage_text.contains(marked.lines().next().unwrap_or_default().trim()), "{marked:?} is not in {passage_text:?}");
    screenshot(&session, "codex-search").await;

    // Ask on the local model: the answer streams and Stop ends it.
    session.nav("Ask").await;
    session.fill(&session.input("Question").await, "Write a tagline for a bike shop.").await;
    session.click(&session.find("//form[@aria-label='Ask form']//button[normalize-space(.)='Ask']").await).await;
    wait("//*[@aria-label='Answer'][string-length(normalize-space(.)) > 1]".into()).await;
    session.click(&session.button("Stop").await).await;
    let status = wait("//*[@role='status'][contains(., 'local')]".into()).await;
    let status = session.text(&status).await;
    assert!(status.contains("$0"), "a local answer costs nothing: {status}");
    screenshot(&session, "ask").await;

    // Costs: the answer above is in the ledger, charted by day.
    session.nav("Costs").await;
    wait("//*[@role='status'][contains(., 'calls')]".into()).await;
    wait("//*[@aria-label='Spend by day']//*[local-name()='svg']".into()).await;
    screenshot(&session, "costs").await;

    // Settings: a provider's key goes to the OS keyring (the throwaway one
    // of this test session), never to the settings file, and is not shown.
    session.nav("Settings").await;
    session.fill(&session.input("Provider name").await, "openai").await;
    session.fill(&session.input("Model").await, "gpt-4o-mini").await;
    session.fill(&session.input("API key").await, "sk-window-test-key").await;
    session.click(&session.button("Add provider").await).await;
    wait("//*[@aria-label='Providers']//*[contains(text(), 'in the OS keyring')]".into()).await;
    assert!(!session.text_of_page().await.contains("sk-window-test-key"), "the key is shown after saving");
    let settings_file = std::fs::read_to_string(data.join("settings.toml")).unwrap();
    assert!(settings_file.contains("openai") && !settings_file.contains("sk-window-test-key"), "{settings_file}");
    let providers = cli(&data, &["providers", "list"]);
    assert!(providers.to_string().contains("key_ref"), "the CLI sees no stored key: {providers}");
    // The thread count is saved for the next start.
    session.fill(&session.input("Threads").await, "1").await;
    session.click(&session.find("//*[@aria-label='Thread setting']//button[normalize-space(.)='Save']").await).await;
    wait("//*[@aria-label='Thread setting']//*[contains(., '1 saved')]".into()).await;
    let desktop = std::fs::read_to_string(data.join("desktop.json")).unwrap();
    assert_eq!(serde_json::from_str::<Value>(&desktop).unwrap()["threads"], 1, "{desktop}");
    // The local API, from the settings' toggle: a real client with the
    // keyring's token (the one the window shows) lists the local models;
    // turned off, nothing listens. On a free port, saved before it starts.
    let port = webdriver::free_port();
    session.fill(&session.input("Port").await, &port.to_string()).await;
    session.click(&session.button("Use this port").await).await;
    wait(format!("//input[@placeholder='{port}']")).await;
    session.click(&session.find("//label[normalize-space(.)='Run the local API']").await).await;
    let base_url = format!("http://127.0.0.1:{port}/v1");
    wait(format!("//*[@aria-label='API status'][contains(., '{base_url}')]")).await;
    session.click(&session.button("Show the API token").await).await;
    let token = session.text(&wait("//*[@aria-label='API token']".into()).await).await;
    assert!(token.starts_with("rf-"), "{token:?}");
    let http = reqwest::Client::new();
    let models = http.get(format!("{base_url}/models")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(models.status(), 200);
    let models: Value = models.json().await.unwrap();
    assert!(models["data"].as_array().is_some_and(|m| !m.is_empty()), "{models}");
    let refused = http.get(format!("{base_url}/models")).bearer_auth("rf-wrong").send().await.unwrap();
    assert_eq!(refused.status(), 401);
    let desktop = std::fs::read_to_string(data.join("desktop.json")).unwrap();
    assert_eq!(serde_json::from_str::<Value>(&desktop).unwrap()["api"], serde_json::json!({"enabled": true, "port": port, "mcp_allow_writes": false}));
    session.click(&session.button("Hide").await).await;
    session.click(&session.find("//label[normalize-space(.)='Run the local API']").await).await;
    wait("//*[@aria-label='API status'][normalize-space(.)='Off']".into()).await;
    assert!(http.get(format!("{base_url}/models")).send().await.is_err(), "the API still listens after it was turned off");

    // An MCP server added in the window (RaptorFlow's own `raptorflow mcp`,
    // on this data directory through the app's RAPTORFLOW_DATA_DIR) is in
    // the CLI's list, and its tools are listed from the real server the
    // app starts.
    let raptorflow = harness::binary("raptorflow");
    session.fill(&session.input("Server name").await, "self").await;
    session.fill(&session.input("Program").await, raptorflow.to_str().unwrap()).await;
    session.fill(&session.input("Arguments, one per line").await, "mcp").await;
    session.click(&session.button("Add server").await).await;
    session.click(&session.find("//button[@aria-label='Tools of self']").await).await;
    session.wait("//*[@aria-label='Tools of server self'][contains(., 'mcp:self/codex_search')]", Duration::from_secs(60)).await;
    let servers = cli(&data, &["mcp-servers", "list"]);
    assert_eq!(servers[0]["args"], serde_json::json!(["mcp"]), "{servers}");
    screenshot(&session, "settings").await;

    session.nav("Models").await;
    wait("//*[@aria-label='Models']//*[contains(text(), 'Installed')]".into()).await;
    screenshot(&session, "models").await;
    // Team: join a real sync server from the window, sharing this
    // workspace; a teammate's CLI then receives it, campaign included.
    let server = harness::Server::start();
    server.create_workspace("Acme");
    let owner_token = server.add_member("Acme", "ana", "owner");
    let teammate_token = server.add_member("Acme", "sam", "editor");
    session.nav("Team").await;
    wait("//*[@aria-label='Members']".into()).await;
    session.fill(&session.input("Server").await, &server.url()).await;
    session.fill(&session.input("Token").await, &owner_token).await;
    session.click(&session.button("Join").await).await;
    wait("//*[@aria-label='Sync']//*[contains(., 'Synced with')]".into()).await;
    assert!(!session.text_of_page().await.contains(&owner_token), "the token is shown after joining");
    let teammate = harness::Client::new("sam");
    teammate.join(&server, &teammate_token, None).ok();
    let theirs = teammate.run(&["--json", "campaign", "list", "--workspace", &workspace_id]).ok().json();
    assert_eq!(theirs[0]["name"], "Spring launch", "the teammate's copy: {theirs}");
    screenshot(&session, "team").await;

    // The Swarm: the roster of the packaged prompts, and a run of a real
    // agent on the local model whose steps update live in the window.
    session.nav("Swarm").await;
    wait("//*[@role='tab'][contains(., 'Muse (30)')]".into()).await;
    session
        .script(
            "const select = [...document.querySelectorAll('select')].find((s) => s.labels[0] && s.labels[0].textContent.startsWith('Agent'));\
             Object.getOwnPropertyDescriptor(HTMLSelectElement.prototype, 'value').set.call(select, 'MUSE-021');\
             select.dispatchEvent(new Event('change', { bubbles: true }));",
        )
        .await;
    wait("//label[contains(., 'Input (JSON')]".into()).await;
    session.click(&session.button("Start run").await).await;
    session.wait("//*[@aria-label='Step 1']//*[normalize-space(text())='running' or normalize-space(text())='done']", Duration::from_secs(60)).await;
    session.wait("//*[@aria-label='Run status'][normalize-space(.)='finished']", Duration::from_secs(300)).await;
    wait("//*[@aria-label='Step 1']//*[contains(., 'smollm2')]".into()).await;
    screenshot(&session, "swarm").await;
    let runs = cli(&data, &["run", "list"]);
    assert_eq!(runs[0]["status"], "finished", "{runs}");
    assert_eq!(runs[0]["title"], "MUSE-021 X Post Writer", "{runs}");

    session.nav("Workspaces").await;
    wait(format!("//*[normalize-space(text())={}]", literal("Acme Analytics"))).await;
    screenshot(&session, "workspaces").await;
    session.close().await;
    drop(driver);
}
