//! Desktop app benchmark, each figure against its goal and against an anchor
//! measured in the same run on the same data:
//!
//! - cold start: process start (`main`) to the window showing the engine's
//!   workspaces (the `ui_ready` command), 5 runs; goal ≤ 1 s; anchor: the
//!   CLI's `workspace list` on the same data, wall time of the process.
//! - idle memory with a workspace of 100 campaigns open on the campaigns
//!   screen, 5 s after it showed: proportional set size (shared library
//!   pages counted once) of the app and of its WebKit processes; goal
//!   ≤ 150 MB; anchor: the CLI's peak RSS for `campaign list`
//!   (`/usr/bin/time -f %M`), the engine alone.
//! - IPC: p50/p95 of the ten most used commands over Tauri's IPC from the
//!   window (200 calls each after 10 warm-up calls); goal p95 ≤ 50 ms;
//!   anchor: `ask_stop` of an unknown id, a round trip that does no work.
//!
//! Run (release build of the app and CLI first; Xvfb, tauri-driver and
//! WebKitWebDriver as for the real-window tests):
//!
//! ```sh
//! (cd ui && npm run build) && cargo build --release --locked -p raptorflow-desktop -p rf-cli
//! dbus-run-session -- scripts/test-services.sh cargo bench -p raptorflow-tests --bench desktop_bench
//! ```
//!
//! `DESKTOP_BENCH_BIN` / `DESKTOP_BENCH_CLI` pick other binaries.

#![allow(clippy::print_stdout, clippy::print_stderr)]

#[path = "../desktop/webdriver.rs"]
mod webdriver;

use std::{
    os::unix::process::CommandExt as _,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use rf_core::{Core, CoreConfig, LocalUser, NewCampaign, NewMove};
use rf_domain::{Channel, UserId};
use serde_json::json;
use webdriver::{Driver, Session};

const CAMPAIGNS: usize = 100;
const RUNS: usize = 5;
const CALLS: usize = 200;

fn release_binary(env: &str, name: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(env).filter(|p| !p.is_empty()) {
        return path.into();
    }
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let path = target.join("release").join(name);
    assert!(path.exists(), "{} is not built: cargo build --release --locked -p raptorflow-desktop -p rf-cli", path.display());
    path
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn percentile(values: &mut [f64], p: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * values.len() as f64).ceil() as usize;
    values[rank.clamp(1, values.len()) - 1]
}

/// A data directory with one workspace of `CAMPAIGNS` campaigns, three moves each.
async fn data(dir: &Path) -> (String, String, String) {
    let user = LocalUser { id: "bench".parse::<UserId>().unwrap(), display_name: "Bench".to_owned() };
    let core = Core::open_with(CoreConfig::new(dir, user)).await.unwrap();
    let workspace = core.create_workspace("Acme Analytics").await.unwrap();
    let mut first = None;
    for i in 0..CAMPAIGNS {
        let campaign = core
            .create_campaign(
                workspace.id,
                NewCampaign { name: format!("Campaign {i:03}"), goal: "Demo requests".into(), channels: vec![Channel::Email], budget: None },
            )
            .await
            .unwrap();
        for j in 0..3 {
            let (move_id, _) =
                core.add_move(campaign.id, NewMove { title: format!("Move {j}"), channel: Channel::Email, owner: None, due_date: None }).await.unwrap();
            first.get_or_insert((campaign.id, move_id));
        }
    }
    core.close().await;
    let (campaign, the_move) = first.unwrap();
    (workspace.id.to_string(), campaign.to_string(), the_move.to_string())
}

/// Memory (PSS) in kB of `pid` and of every process descended from it,
/// and each process's name and share.
fn tree_rss_kb(pid: u32) -> (u64, u64, Vec<(String, u64)>) {
    let mut parent_of = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else { continue };
        // The parent pid is the second field after the parenthesised name.
        let Some(rest) = stat.rsplit_once(')').map(|(_, rest)| rest) else { continue };
        if let Some(ppid) = rest.split_whitespace().nth(1).and_then(|p| p.parse::<u32>().ok()) {
            parent_of.push((child, ppid));
        }
    }
    // Proportional set size: pages shared between the processes (the
    // WebKit and GTK libraries) are counted once in the sum, not per process.
    let rss = |pid: u32| -> u64 {
        std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
            .ok()
            .and_then(|s| s.lines().find(|l| l.starts_with("Pss:")).and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse().ok()))
            .unwrap_or(0)
    };
    let (mut pending, mut all, mut each) = (vec![pid], 0, Vec::new());
    let own = rss(pid);
    while let Some(p) = pending.pop() {
        let kb = rss(p);
        all += kb;
        each.push((std::fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default().trim().to_owned(), kb));
        pending.extend(parent_of.iter().filter(|(_, ppid)| *ppid == p).map(|(c, _)| *c));
    }
    (own, all, each)
}

/// The pid of the running app (named after its binary).
fn app_pid(binary: &Path) -> u32 {
    let name: String = binary.file_name().unwrap().to_string_lossy().chars().take(15).collect();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        if std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|comm| comm.trim() == name) {
            return pid;
        }
    }
    panic!("no running {name}")
}

fn cold_start(app: &Path, data: &Path) -> f64 {
    let mut child = Command::new("xvfb-run")
        .args(["-a", "-s", "-screen 0 1400x900x24 -nolisten tcp"])
        .arg(app)
        .env("RAPTORFLOW_DATA_DIR", data)
        .env("RAPTORFLOW_STARTUP_PROBE", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(ms) = line.strip_prefix("raptorflow-desktop: interactive after ").and_then(|r| r.strip_suffix(" ms")) {
                let _ = tx.send(ms.parse::<f64>().unwrap());
            }
        }
    });
    let ms = rx.recv_timeout(Duration::from_secs(60)).expect("the app did not become interactive within 60 s");
    let _ = Command::new("kill").args(["-TERM", "--", &format!("-{}", child.id())]).status();
    let _ = child.wait();
    ms
}

fn report(what: &str, figure: f64, unit: &str, goal: f64, anchor: f64) {
    println!("{what:<44} {figure:>9.1} {unit:<3} goal {goal:>6} {unit:<3} ({:>5.2}× goal)  {:>6.2}× anchor", figure / goal, figure / anchor);
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let app = release_binary("DESKTOP_BENCH_BIN", "raptorflow-desktop");
    let cli = release_binary("DESKTOP_BENCH_CLI", "raptorflow");
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let (workspace_id, campaign_id, move_id) = data(&data_dir).await;
    println!("desktop_bench: {CAMPAIGNS} campaigns × 3 moves in one workspace; app {}", app.display());

    // Cold start, against the CLI reading the same workspaces.
    let mut cli_ms: Vec<f64> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            let status = Command::new(&cli).arg("--data-dir").arg(&data_dir).args(["workspace", "list"]).stdout(Stdio::null()).status().unwrap();
            assert!(status.success());
            start.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    let mut start_ms: Vec<f64> = (0..RUNS).map(|_| cold_start(&app, &data_dir)).collect();
    let cli_median = median(&mut cli_ms);
    println!("cold start runs (ms): {start_ms:?}");
    report("cold start to interactive, median", median(&mut start_ms), "ms", 1000.0, cli_median);
    println!("  anchor: CLI `workspace list`, median {cli_median:.1} ms");

    // Idle memory with the workspace open, and IPC from the window.
    let output = Command::new("/usr/bin/time")
        .args(["-f", "%M"])
        .arg(&cli)
        .arg("--data-dir")
        .arg(&data_dir)
        .args(["campaign", "list", "--workspace", &workspace_id])
        .stdout(Stdio::null())
        .output()
        .expect("/usr/bin/time (Debian package `time`)");
    let cli_kb: f64 = String::from_utf8_lossy(&output.stderr).lines().last().and_then(|l| l.trim().parse().ok()).expect("a peak RSS from /usr/bin/time");
    let models = std::env::var_os("RAPTORFLOW_MODELS_DIR").map(PathBuf::from).unwrap_or_else(|| dir.path().join("models"));
    let driver = Driver::start(&[("RAPTORFLOW_DATA_DIR", &data_dir), ("RAPTORFLOW_MODELS_DIR", &models)]);
    let session = Session::open(&driver, &app).await;
    let open = session.find("//button[normalize-space(.)='Open']").await;
    session.click(&open).await;
    session.wait("//*[@aria-label='Planned column']//*[contains(@aria-label, 'Move 0, Planned')]", Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (own_kb, all_kb, each) = tree_rss_kb(app_pid(&app));
    for (name, kb) in &each {
        println!("  process {name:<20} {:>7.1} MB", *kb as f64 / 1024.0);
    }
    report("idle memory (PSS), app and WebKit processes", all_kb as f64 / 1024.0, "MB", 150.0, cli_kb / 1024.0);
    println!("  of which the app process {:.1} MB; anchor: CLI `campaign list` peak RSS {:.1} MB", own_kb as f64 / 1024.0, cli_kb / 1024.0);

    let cases = json!([
        ["ask_stop", { "requestId": "none" }],
        ["workspace_list", {}],
        ["workspace_show", { "workspaceId": workspace_id }],
        ["campaign_list", { "workspaceId": workspace_id }],
        ["campaign_show", { "campaignId": campaign_id }],
        ["asset_list", { "campaignId": campaign_id }],
        ["asset_check", { "workspaceId": workspace_id, "content": { "kind": "x_post", "text": "Dashboards for every store. Terms apply." } }],
        ["brand_update", { "workspaceId": workspace_id, "brand": { "company": "Acme", "offer": "Dashboards", "audiences": [], "voice": { "tone": "", "dos": [], "donts": [] }, "banned_terms": [], "required_disclaimers": [], "disclaimers_by_kind": {} } }],
        ["codex_list", { "workspaceId": workspace_id }],
        // Writes last, so that every read sees the campaign as generated
        // (move_add grows it by 210 moves).
        ["move_set_status", { "moveId": move_id, "status": "in_progress" }],
        ["move_add", { "campaignId": campaign_id, "move": { "title": "Bench move", "channel": "email", "due_date": null } }]
    ]);
    let script = format!(
        "const done = arguments[arguments.length - 1];
         const cases = {cases};
         (async () => {{
           const out = {{}};
           for (const [cmd, args] of cases) {{
             for (let i = 0; i < 10; i++) await window.__TAURI_INTERNALS__.invoke(cmd, args);
             const times = [];
             for (let i = 0; i < {CALLS}; i++) {{
               const t = performance.now();
               await window.__TAURI_INTERNALS__.invoke(cmd, args);
               times.push(performance.now() - t);
             }}
             out[cmd] = times;
           }}
           done(out);
         }})().catch((e) => done({{ error: String(e && e.message || JSON.stringify(e)) }}));"
    );
    let timings = session.script_async(&script, Duration::from_secs(600)).await;
    assert!(timings.get("error").is_none(), "an IPC call failed: {timings}");
    let series = |name: &str| -> Vec<f64> { timings[name].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect() };
    let mut anchor = series("ask_stop");
    let anchor_p95 = percentile(&mut anchor, 95.0);
    // WebKit rounds performance.now() to whole milliseconds.
    println!(
        "IPC over {CALLS} calls each (ms, WebKit's 1 ms timer resolution); anchor `ask_stop` p50 {:.2}, p95 {anchor_p95:.2}",
        percentile(&mut anchor, 50.0)
    );
    let mut worst: f64 = 0.0;
    for case in cases.as_array().unwrap().iter().skip(1) {
        let name = case[0].as_str().unwrap();
        let mut times = series(name);
        let (p50, p95) = (percentile(&mut times, 50.0), percentile(&mut times, 95.0));
        worst = worst.max(p95);
        println!("  {name:<16} p50 {p50:>7.2}  p95 {p95:>7.2}  ({:>5.2}× goal, {:>6.1}× anchor)", p95 / 50.0, p95 / anchor_p95);
    }
    report("IPC p95, slowest of the ten commands", worst, "ms", 50.0, anchor_p95);
    session.close().await;
    drop(driver);
}
