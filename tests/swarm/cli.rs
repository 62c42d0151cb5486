//! The swarm end to end through the real CLI and the real local model:
//! `agents eval` offline on a sample of every guild, a run killed with
//! SIGKILL in the middle and resumed (every step's model call in the ledger
//! exactly once), `run watch` in a second process following a run live, and
//! onboarding of a sample business offline, killed and resumed, whose
//! approved brand codex lands in the workspace with its citations; and a
//! campaign planned, written and watched offline: moves for every channel,
//! assets with Guardian's findings for review, a shared digest; and a sweep
//! that draws on a news connector (a local fake server) and cites it.

#[path = "../providers/fake_provider.rs"]
mod fake_provider;
#[path = "../sync/harness.rs"]
mod harness;

use std::{
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use harness::{Client, Run, binary};
use serde_json::Value;

/// One agent of each guild and a Lord: a sample, not the full evaluation
/// (that is the benchmark in BENCHMARKS.md).
const SAMPLE: [&str; 5] = ["LORD-005", "RES-004", "MUSE-021", "MTX-011", "GRD-007"];

#[test]
fn agents_eval_with_networking_off_gives_valid_answers_for_every_guild() {
    let client = Client::new("ana");
    let mut args: Vec<String> =
        vec!["--data-dir".into(), client.dir.path().join("data").display().to_string(), "--json".into(), "agents".into(), "eval".into()];
    for id in SAMPLE {
        args.extend(["--agent".into(), id.into()]);
    }
    // In a network namespace of its own: no interface but a down loopback.
    let output = Command::new("unshare")
        .args(["--user", "--map-root-user", "--net", "--"])
        .arg(binary("raptorflow"))
        .args(&args)
        .env("RAPTORFLOW_USER", "ana")
        .stdin(Stdio::null())
        .output()
        .expect("unshare (util-linux) runs the CLI");
    let run = Run::of(output);
    assert_eq!(run.code, 0, "{run:?}");
    // Progress lines, then the report.
    let report = last_document(&run.stdout);
    let agents = report["agents"].as_array().unwrap();
    assert_eq!(agents.len(), SAMPLE.len(), "{report}");
    for agent in agents {
        assert_eq!(agent["valid"], true, "{agent}");
        assert!(agent["tokens"].as_u64().unwrap() > 50, "{agent}");
        assert!(agent["model"].as_str().unwrap().starts_with("smollm2"), "{agent}");
        assert!(agent["calls"].as_u64().unwrap() >= 1);
    }
    let guilds: Vec<&str> = report["guilds"].as_array().unwrap().iter().map(|g| g["guild"].as_str().unwrap()).collect();
    assert_eq!(guilds, ["council", "research", "muse", "matrix", "guardian"]);
    // The first-try share is reported per agent and per guild.
    let first_try: u64 = report["guilds"].as_array().unwrap().iter().map(|g| g["valid_first_try"].as_u64().unwrap()).sum();
    let per_agent = agents.iter().filter(|a| a["valid_first_try"] == true).count() as u64;
    assert_eq!(first_try, per_agent, "{report}");
}

/// The document after the progress lines of `--json` output.
fn last_document(stdout: &str) -> Value {
    serde_json::from_str(&stdout[stdout.find("{\n").expect("a document")..]).unwrap()
}

fn run_json(client: &Client, run: &str) -> Value {
    client.run(&["--json", "run", "show", run]).ok().json()
}

fn step_statuses(show: &Value) -> Vec<(String, String)> {
    show["steps"].as_array().unwrap().iter().map(|s| (s["agent_id"].as_str().unwrap_or("").to_owned(), s["status"].as_str().unwrap().to_owned())).collect()
}

#[test]
fn a_run_killed_mid_step_resumes_and_the_ledger_has_each_call_once() {
    let client = Client::new("ana");
    let created = client.run(&["--json", "agent", "run", "LORD-002", "--detach"]).ok();
    let run_id = created.json()["run"]["id"].as_str().unwrap().to_owned();
    let mut child = client.command().args(["run", "resume", &run_id]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    // Kill it while a delegated step runs, after the Lord's step finished.
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        assert!(Instant::now() < deadline, "the run never reached a second step");
        assert!(child.try_wait().unwrap().is_none(), "the run ended before it could be killed");
        let statuses = step_statuses(&run_json(&client, &run_id));
        if statuses.len() >= 3 && statuses[0].1 == "done" && statuses.iter().skip(1).any(|(_, s)| s == "running") {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let killed = run_json(&client, &run_id);
    assert_eq!(killed["run"]["status"], "running", "{killed}");
    let done_before: usize = step_statuses(&killed).iter().filter(|(_, s)| s == "done").count();

    let resumed = client.run(&["--json", "run", "resume", &run_id]).ok();
    let show = &last_document(&resumed.stdout);
    assert_eq!(show["run"]["status"], "finished", "{show}");
    let steps = show["steps"].as_array().unwrap();
    assert!(steps.iter().all(|s| s["status"] == "done"), "{show}");
    assert!(done_before >= 1 && steps.len() > done_before);

    // The ledger: every step's calls once (a call the kill cut short was
    // never recorded; one it recorded answers from the cache, free).
    let ledger = client.dir.path().join("data/ledger.sqlite3");
    let rows: Vec<(String, i64, String)> = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
        let pool = sqlx::sqlite::SqlitePoolOptions::new().connect(&format!("sqlite://{}?mode=ro", ledger.display())).await.unwrap();
        sqlx::query_as("SELECT agent_id, cache_hit, outcome FROM model_calls WHERE run_id = ? ORDER BY id").bind(&run_id).fetch_all(&pool).await.unwrap()
    });
    let paid: Vec<&(String, i64, String)> = rows.iter().filter(|(_, cache_hit, outcome)| *cache_hit == 0 && outcome == "ok").collect();
    let calls: u64 = steps.iter().map(|s| s["calls"].as_u64().unwrap()).sum();
    assert_eq!(paid.len() as u64, calls, "ledger rows {rows:?} against the steps' calls {show}");
    let mut ledger_ids: Vec<i64> = steps.iter().flat_map(|s| s["ledger_ids"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap())).collect();
    let before = ledger_ids.len();
    ledger_ids.dedup();
    assert_eq!(before, ledger_ids.len());
    for step in steps {
        let agent = step["agent_id"].as_str().unwrap();
        let of_agent = paid.iter().filter(|(a, _, _)| a == agent).count() as u64;
        let step_calls: u64 = steps.iter().filter(|s| s["agent_id"] == agent).map(|s| s["calls"].as_u64().unwrap()).sum();
        assert_eq!(of_agent, step_calls, "agent {agent}: {rows:?}");
    }
}

#[test]
fn run_watch_in_another_process_follows_a_run_live() {
    let client = Client::new("ana");
    let created = client.run(&["--json", "agent", "run", "RES-001", "--detach"]).ok();
    let run_id = created.json()["run"]["id"].as_str().unwrap().to_owned();
    let watcher = client.command().args(["--json", "run", "watch", &run_id]).stdout(Stdio::piped()).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    client.run(&["run", "resume", &run_id]).ok();
    let output = watcher.wait_with_output().unwrap();
    assert!(output.status.success());
    let events: Vec<Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str::<Value>(serde_json::from_str::<Value>(line).unwrap()["progress"].as_str().unwrap()).unwrap())
        .collect();
    let kinds: Vec<&str> = events.iter().map(|e| e["event"]["type"].as_str().unwrap()).collect();
    for kind in ["step_added", "status", "step_started", "tool_used", "step_finished", "cost"] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
    let last = events.iter().rev().find(|e| e["event"]["type"] == "status").unwrap();
    assert_eq!(last["event"]["status"], "finished");
    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "the log is replayed in order, nothing missed: {seqs:?}");
}

#[test]
fn bad_input_to_agent_run_is_refused_and_nothing_is_created() {
    let client = Client::new("ana");
    let input = client.dir.path().join("input.json");
    std::fs::write(&input, r#"{"company": "Fernhill", "offer": 12, "region": "UK"}"#).unwrap();
    let refused = client.run(&["agent", "run", "RES-001", "--input", input.to_str().unwrap()]);
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(
        refused.stderr.contains("the input for RES-001 does not have the shape of its sample input")
            && refused.stderr.contains("offer is an integer where a string was expected"),
        "{}",
        refused.stderr
    );
    let unknown = client.run(&["agent", "run", "RES-404"]);
    assert_eq!(unknown.code, 2);
    assert!(unknown.stderr.contains("there is no agent \"RES-404\""), "{}", unknown.stderr);
    let runs = client.run(&["--json", "run", "list"]).ok().json();
    assert_eq!(runs, serde_json::json!([]));
}

/// The CLI in a network namespace of its own: no interface but a down loopback.
fn offline(client: &Client, args: &[&str]) -> Command {
    let mut command = Command::new("unshare");
    command
        .args(["--user", "--map-root-user", "--net", "--"])
        .arg(binary("raptorflow"))
        .arg("--data-dir")
        .arg(client.dir.path().join("data"))
        .args(args)
        .env("RAPTORFLOW_USER", &client.user)
        .env_remove("RAPTORFLOW_DATA_DIR")
        .stdin(Stdio::null());
    command
}

#[test]
fn onboarding_offline_survives_a_kill_and_lands_a_cited_brand_codex_once_approved() {
    let client = Client::new("ana");
    let workspace = client.run(&["--json", "workspace", "create", "Fernhill"]).ok().json()["id"].as_str().unwrap().to_owned();
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/onboarding");
    let business = fixtures.join("business.json");
    let docs = fixtures.join("docs");

    // A bad business file names the field and starts nothing.
    let bad = client.dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"company": "Fernhill", "description": "Coffee", "channels": ["email", "tiktok"]}"#).unwrap();
    let refused = client.run(&["onboard", "--workspace", &workspace, "--business", bad.to_str().unwrap()]);
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(refused.stderr.contains("channels[1]") && refused.stderr.contains("'tiktok' is not a channel"), "{}", refused.stderr);
    assert_eq!(client.run(&["--json", "run", "list"]).ok().json(), serde_json::json!([]));

    // Onboarding with networking off, killed once two steps are done and another runs.
    let mut child = offline(&client, &["onboard", "--workspace", &workspace, "--business", business.to_str().unwrap(), "--docs", docs.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("unshare (util-linux) runs the CLI");
    let deadline = Instant::now() + Duration::from_secs(900);
    let run_id = loop {
        assert!(Instant::now() < deadline, "onboarding never got going");
        assert!(child.try_wait().unwrap().is_none(), "onboarding ended before it could be killed");
        let runs = client.run(&["--json", "run", "list"]).ok().json();
        if let Some(run) = runs.as_array().unwrap().first() {
            let id = run["id"].as_str().unwrap().to_owned();
            let statuses = step_statuses(&run_json(&client, &id));
            if statuses.iter().filter(|(_, s)| s == "done").count() >= 2 && statuses.iter().any(|(_, s)| s == "running") {
                break id;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert_eq!(run_json(&client, &run_id)["run"]["status"], "running");

    // Resumed (still offline): the research, the draft and the reviews run; the run waits for approval.
    let resumed = Run::of(offline(&client, &["--json", "run", "resume", &run_id]).output().unwrap());
    assert_eq!(resumed.code, 0, "{resumed:?}");
    let show = last_document(&resumed.stdout);
    assert_eq!(show["run"]["status"], "paused", "{show}");
    let steps = show["steps"].as_array().unwrap();
    let agents: Vec<&str> = steps.iter().filter_map(|s| s["agent_id"].as_str()).collect();
    for agent in ["RES-001", "RES-003", "RES-002", "LORD-002.brand-codex", "LORD-004", "LORD-001"] {
        assert!(agents.contains(&agent), "{agent} did not run: {agents:?}");
    }
    let approval = steps.iter().find(|s| s["kind"] == "approval").unwrap();
    assert_eq!(approval["status"], "waiting");
    let draft = &steps.iter().find(|s| s["agent_id"] == "LORD-002.brand-codex").unwrap()["output"];
    assert!(draft["offer"]["cites"].as_array().is_some_and(|c| !c.is_empty()), "the draft cites: {draft}");
    // Nothing lands before a human approves.
    let before = client.run(&["--json", "workspace", "show", &workspace]).ok().json();
    assert_eq!(before["brand"]["company"], "", "{before}");

    let step = approval["step"].as_u64().unwrap().to_string();
    let approved = Run::of(offline(&client, &["--json", "run", "approve", &run_id, &step]).output().unwrap());
    assert_eq!(approved.code, 0, "{approved:?}");
    assert!(approved.stdout.contains("brand codex: wrote company"), "{}", approved.stdout);
    assert_eq!(last_document(&approved.stdout)["run"]["status"], "finished");

    // The brand codex: the company from the intake, every written claim with its sources.
    let brand = &client.run(&["--json", "workspace", "show", &workspace]).ok().json()["brand"];
    assert_eq!(brand["company"], "Fernhill Coffee Roasters", "{brand}");
    assert_eq!(brand["sources"]["company"], serde_json::json!(["intake:company"]));
    let facts = ["company", "description", "website", "products[0]", "audiences[0]", "competitors[0]", "goals[0]", "voice", "notes.founded", "notes.region"];
    let written: Vec<&str> = brand["generated"].as_object().unwrap().keys().map(String::as_str).collect();
    assert!(written.len() >= 2, "{brand}");
    for field in written {
        if matches!(field, "banned_terms" | "required_disclaimers") {
            continue;
        }
        let sources = brand["sources"][field].as_array().unwrap_or_else(|| panic!("{field} has no sources: {brand}"));
        assert!(!sources.is_empty(), "{field}: {brand}");
        for source in sources {
            let source = source.as_str().unwrap();
            let known = source.strip_prefix("intake:").is_some_and(|f| facts.contains(&f)) || source.starts_with("codex: ");
            assert!(known, "{field} cites {source:?}, which the swarm was not given");
        }
    }

    // Every step's calls are in the ledger once.
    let final_show = run_json(&client, &run_id);
    let steps = final_show["steps"].as_array().unwrap();
    let ledger = client.dir.path().join("data/ledger.sqlite3");
    let rows: Vec<(String, i64, String)> = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
        let pool = sqlx::sqlite::SqlitePoolOptions::new().connect(&format!("sqlite://{}?mode=ro", ledger.display())).await.unwrap();
        sqlx::query_as("SELECT agent_id, cache_hit, outcome FROM model_calls WHERE run_id = ? ORDER BY id").bind(&run_id).fetch_all(&pool).await.unwrap()
    });
    let paid = rows.iter().filter(|(_, cache_hit, outcome)| *cache_hit == 0 && outcome == "ok").count() as u64;
    let calls: u64 = steps.iter().map(|s| s["calls"].as_u64().unwrap()).sum();
    assert_eq!(paid, calls, "ledger rows {rows:?} against the steps' calls {final_show}");
}

#[test]
fn the_intake_in_the_terminal_asks_again_after_a_bad_answer_and_starts_nothing_when_cut_short() {
    use std::io::Write;
    let client = Client::new("ana");
    let workspace = client.run(&["--json", "workspace", "create", "Fernhill"]).ok().json()["id"].as_str().unwrap().to_owned();
    let intake = |answers: &str| {
        let mut child = client
            .command()
            .args(["--json", "onboard", "--workspace", &workspace, "--detach"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(answers.as_bytes()).unwrap();
        Run::of(child.wait_with_output().unwrap())
    };
    // Cut short: nothing starts.
    let cut = intake("Fernhill\n");
    assert_eq!(cut.code, 2, "{cut:?}");
    assert!(cut.stderr.contains("the intake ended before its questions were answered; nothing was started"), "{}", cut.stderr);
    assert_eq!(client.run(&["--json", "run", "list"]).ok().json(), serde_json::json!([]));

    // An empty company and an unknown channel are asked again.
    let run = intake("\nFernhill\nCoffee by post\n\n\nHome workers\nRoastworks, Kettle & Crane\n\ntiktok\nemail, linkedin\n");
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("company is required") && run.stderr.contains("'tiktok' is not a channel"), "{}", run.stderr);
    let show = run.json();
    let labels: Vec<&str> = show["steps"].as_array().unwrap().iter().map(|s| s["label"].as_str().unwrap()).collect();
    assert_eq!(labels.iter().filter(|l| l.starts_with("RES-002")).count(), 2, "one competitor researcher each: {labels:?}");
    assert!(labels.iter().any(|l| l.contains("(Home workers)")), "{labels:?}");
    assert!(labels.last().unwrap().starts_with("Approve the brand codex drafted for Fernhill"), "{labels:?}");
}

/// Runs the CLI offline and returns its last JSON document, asserting success.
fn offline_json(client: &Client, args: &[&str]) -> (Value, String) {
    let run = Run::of(offline(client, args).output().unwrap());
    assert_eq!(run.code, 0, "{args:?}: {run:?}");
    (last_document(&run.stdout), run.stdout)
}

/// Approves the run's waiting approval offline; returns the run and the output.
fn approve(client: &Client, show: &Value) -> (Value, String) {
    let run = show["run"]["id"].as_str().unwrap();
    let approval = show["steps"].as_array().unwrap().iter().find(|s| s["kind"] == "approval" && s["status"] == "waiting").expect("an approval waits");
    let step = approval["step"].as_u64().unwrap().to_string();
    offline_json(client, &["--json", "run", "approve", run, &step])
}

#[test]
fn a_campaign_is_planned_written_and_watched_offline_with_nothing_landing_before_approval() {
    let client = Client::new("ana");
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/campaign");
    let workspace = client.run(&["--json", "workspace", "create", "Fernhill"]).ok().json()["id"].as_str().unwrap().to_owned();
    client.run(&["workspace", "set-brand", &workspace, fixtures.join("brand.json").to_str().unwrap()]).ok();
    let campaign = client
        .run(&[
            "--json",
            "campaign",
            "create",
            "--workspace",
            &workspace,
            "--goal",
            "Win 1,500 new subscribers in January",
            "--channel",
            "google_ads",
            "--channel",
            "linkedin",
            "--channel",
            "email",
            "--budget",
            "6000",
            "--currency",
            "GBP",
            "January routines",
        ])
        .ok()
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    client.run(&["campaign", "edit", &campaign, "--start", "2027-01-04", "--end", "2027-01-31"]).ok();

    // Asset generation before there is anything to write for: a clear refusal, no run.
    let early = client.run(&["assets", "generate", "--campaign", &campaign]);
    assert_eq!(early.code, 2, "{early:?}");
    assert!(early.stderr.contains("plan it first"), "{}", early.stderr);

    // The plan: one Strategos step per channel, reviewed; nothing lands before approval.
    let (plan, _) = offline_json(&client, &["--json", "campaign", "plan", "--campaign", &campaign]);
    assert_eq!(plan["run"]["status"], "paused", "{plan}");
    let strategos: Vec<&Value> = plan["steps"].as_array().unwrap().iter().filter(|s| s["agent_id"] == "LORD-003").collect();
    assert!(strategos.len() >= 3, "{plan}");
    for step in &strategos {
        let asked = &step["input"]["channels"][0];
        for planned in step["output"]["moves"].as_array().unwrap() {
            assert_eq!(&planned["channel"], asked, "a step plans only its own channel: {step}");
        }
    }
    assert_eq!(client.run(&["--json", "campaign", "show", &campaign]).ok().json()["moves"], serde_json::json!({}));
    let (approved, stdout) = approve(&client, &plan);
    assert_eq!(approved["run"]["status"], "finished", "{approved}");
    assert!(stdout.contains("campaign: added"), "{stdout}");
    let shown = client.run(&["--json", "campaign", "show", &campaign]).ok().json();
    let moves = shown["moves"].as_object().unwrap();
    for channel in ["google_ads", "linkedin", "email"] {
        assert!(moves.values().any(|m| m["channel"] == channel), "no {channel} move: {shown}");
    }
    // Approving again (settling twice) adds nothing.
    let again = client.run(&["--json", "run", "resume", plan["run"]["id"].as_str().unwrap()]);
    assert_ne!(again.code, 0, "a finished run does not run again");
    assert_eq!(client.run(&["--json", "campaign", "show", &campaign]).ok().json()["moves"].as_object().unwrap().len(), moves.len());

    // The assets: one writer per move, Arbiter's review, a Guardian agent's
    // review; they land for review with their findings while the approval waits.
    let google = moves.iter().find(|(_, m)| m["channel"] == "google_ads").unwrap().0.clone();
    let linkedin = moves.iter().find(|(_, m)| m["channel"] == "linkedin").unwrap().0.clone();
    let email = moves.iter().find(|(_, m)| m["channel"] == "email").unwrap().0.clone();
    let mut kinds = Vec::new();
    for move_id in [&google, &linkedin, &email] {
        let (written, stdout) = offline_json(&client, &["--json", "assets", "generate", "--campaign", &campaign, "--move", move_id]);
        assert_eq!(written["run"]["status"], "paused", "{written}");
        assert!(stdout.contains(": in_review"), "{stdout}");
        let reviewers: Vec<&str> =
            written["steps"].as_array().unwrap().iter().filter_map(|s| s["agent_id"].as_str()).filter(|a| a.starts_with("GRD-")).collect();
        assert_eq!(reviewers.len(), 1, "one Guardian agent read the final draft: {written}");
        let shown = client.run(&["--json", "campaign", "show", &campaign]).ok().json();
        let the_move = &shown["moves"][move_id.as_str()];
        let asset_id = the_move["assets"][0].as_str().unwrap_or_else(|| panic!("no asset on the move: {shown}"));
        let asset = &shown["assets"][asset_id];
        assert_eq!(asset["status"], "in_review", "{asset}");
        assert!(asset["findings"].is_array(), "{asset}");
        let blocking: Vec<&Value> = asset["findings"].as_array().unwrap().iter().filter(|f| f["severity"] == "block").collect();
        assert!(blocking.is_empty(), "no blocking finding is left: {asset}");
        kinds.push(asset["content"]["kind"].as_str().unwrap().to_owned());
        if asset["content"]["kind"] == "email" {
            assert!(asset["content"]["body"].as_str().unwrap().contains("Unsubscribe at any time"), "the brand's email footer is attached: {asset}");
        }
        // Approved: the asset is approved with the run.
        let (done, _) = approve(&client, &written);
        assert_eq!(done["run"]["status"], "finished", "{done}");
        let after = client.run(&["--json", "campaign", "show", &campaign]).ok().json();
        assert_eq!(after["assets"][asset_id]["status"], "approved", "{after}");
    }
    assert_eq!(kinds, ["google_rsa", "linkedin_ad", "email"]);

    // The intelligence sweep: the notes' and the brand codex's competitors, then the digest.
    let bad = client.dir.path().join("bad-notes.json");
    std::fs::write(&bad, r#"{"competitors": [{"name": "Roastworks", "observations": [{"date": "2026-12-01"}]}]}"#).unwrap();
    let refused = client.run(&["intel", "sweep", "--workspace", &workspace, "--notes", bad.to_str().unwrap()]);
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(refused.stderr.contains("competitors[0].observations[0]"), "{}", refused.stderr);
    let notes = fixtures.join("notes.json");
    let (sweep, _) = offline_json(&client, &["--json", "intel", "sweep", "--workspace", &workspace, "--notes", notes.to_str().unwrap()]);
    assert_eq!(sweep["run"]["status"], "paused", "{sweep}");
    let tracked: Vec<&str> =
        sweep["steps"].as_array().unwrap().iter().filter(|s| s["agent_id"] == "MTX-001").map(|s| s["input"]["competitor"].as_str().unwrap()).collect();
    assert_eq!(tracked, ["Roastworks Direct", "Kettle & Crane"], "the notes' competitor, then the brand codex's other one");
    assert_eq!(client.run(&["--json", "workspace", "show", &workspace]).ok().json()["digests"], serde_json::json!({}));
    let (shared, stdout) = approve(&client, &sweep);
    assert_eq!(shared["run"]["status"], "finished");
    assert!(stdout.contains("digest: shared in the workspace"), "{stdout}");
    let digests = client.run(&["--json", "workspace", "show", &workspace]).ok().json()["digests"].clone();
    let digest = digests.as_object().unwrap().values().next().unwrap_or_else(|| panic!("no digest: {digests}"));
    assert_eq!(digest["period"], "Week of 30 November 2026");
    assert!(!digest["headline"].as_str().unwrap().is_empty() && !digest["what_changed"].as_array().unwrap().is_empty(), "{digest}");

    // The work counted for gamification, in the workspace document.
    client.run(&["move", "set-status", &google, "done"]).ok();
    let stats = client.run(&["--json", "stats", "--workspace", &workspace]).ok().json();
    let ana = &stats[0];
    assert_eq!(ana["user_id"], "ana", "{stats}");
    for achievement in ["first-plan", "first-approval", "first-asset-approved", "first-move-done"] {
        assert!(ana["stats"]["achievements"].as_array().unwrap().iter().any(|a| a == achievement), "{achievement}: {stats}");
    }
    // A plan (15), three assets (5 each), five approvals (2 each), a digest
    // (5), a move done (10), and a point for each active day (one, unless
    // the test ran over midnight).
    let days = ana["stats"]["streak_days"].as_u64().unwrap();
    assert!((1..=2).contains(&days), "{stats}");
    assert_eq!(ana["stats"]["points"].as_u64().unwrap(), 15 + 3 * 5 + 5 * 2 + 5 + 10 + days, "{stats}");
}

/// With NewsAPI configured (a local fake server answering in its documented
/// shape), the intelligence sweep fetches the day's news for the company and
/// each competitor: the competitors' articles reach Matrix as observations,
/// the signals are recorded, and the approved digest cites every article.
#[test]
fn the_intelligence_sweep_draws_on_a_news_connector_and_its_digest_cites_it() {
    harness::require_keyring();
    let server = fake_provider::FakeProvider::start();
    server.always(fake_provider::Reply::connector("newsapi/everything_200.json"));
    let client = Client::new("ana");
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/campaign");
    let workspace = client.run(&["--json", "workspace", "create", "Fernhill"]).ok().json()["id"].as_str().unwrap().to_owned();
    client.run(&["workspace", "set-brand", &workspace, fixtures.join("brand.json").to_str().unwrap()]).ok();
    let mut add = client
        .command()
        .args(["connectors", "add", "newsapi", "--base-url", &server.url, "--key-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut add.stdin.take().unwrap(), b"news-key\n").unwrap();
    Run::of(add.wait_with_output().unwrap()).ok();

    let notes = fixtures.join("notes.json");
    let run = client.run(&["--json", "intel", "sweep", "--workspace", &workspace, "--notes", notes.to_str().unwrap()]).ok();
    let sweep = last_document(&run.stdout);
    assert_eq!(sweep["run"]["status"], "paused", "{sweep}");
    assert_eq!(server.n_requests(), 3, "the company and its two competitors");
    let matrix: Vec<&Value> = sweep["steps"].as_array().unwrap().iter().filter(|s| s["agent_id"] == "MTX-001").collect();
    for step in &matrix {
        let observations = step["input"]["observations"].to_string();
        assert!(
            observations.contains("Folding bikes sell out as commuters return (Cycling Weekly, via newsapi) https://example.com/news/folding-bikes-sell-out"),
            "the connector's news reached Matrix: {step}"
        );
    }
    let signals = client.run(&["--json", "signals", "list", "--workspace", &workspace]).ok().json();
    assert_eq!(signals.as_array().unwrap().len(), 4, "{signals}");

    let (shared, _) = approve(&client, &sweep);
    assert_eq!(shared["run"]["status"], "finished", "{shared}");
    let digests = client.run(&["--json", "workspace", "show", &workspace]).ok().json()["digests"].clone();
    let digest = digests.as_object().unwrap().values().next().unwrap_or_else(|| panic!("no digest: {digests}"));
    let sources = digest["sources"].as_array().unwrap();
    assert_eq!(sources.len(), 6, "two articles for each of three subjects: {digest}");
    let subjects: std::collections::BTreeSet<&str> = sources.iter().map(|s| s["subject"].as_str().unwrap()).collect();
    assert_eq!(subjects.into_iter().collect::<Vec<_>>(), ["Fernhill Coffee Roasters", "Kettle & Crane", "Roastworks Direct"]);
    assert!(sources.iter().all(|s| s["service"] == "newsapi" && s["url"].as_str().unwrap().starts_with("https://example.com/news/")), "{digest}");
}
