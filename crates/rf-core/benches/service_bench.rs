//! Core as a long-lived service: what the desktop app and the swarm pay per
//! call. Each figure is printed with its ratio to an anchor measured in the
//! same run on the same machine:
//!
//! - time to first token of the 1st and of the 2nd–20th `core.ask` on the
//!   local model (the 1st loads the weights; the later ones must not),
//!   against the first token of the same prompt on an already loaded
//!   `LocalLlm` called directly (no Core, no ledger);
//! - p95 of ten common Core reads and writes on a workspace with 100
//!   campaigns (the desktop app's budget is 50 ms per command), against a
//!   single-row durable SQLite transaction (WAL, synchronous=FULL) for
//!   writes and a primary-key SELECT for reads, on a file beside it.
//!
//! Needs the default models (`./scripts/test.sh` fetches them).
//! Run: `RAPTORFLOW_MODELS_DIR=~/.cache/raptorflow/models cargo bench -p rf-core --bench service_bench`
//! (options: `--campaigns N`, `--samples N`, `--threads N`).

#![allow(clippy::print_stdout)]

use std::{
    path::PathBuf,
    sync::atomic::AtomicBool,
    time::{Duration, Instant},
};

use rf_core::{
    Core, CoreConfig, LocalUser, NewCampaign, NewMove,
    ai::{self, AskProgress, CallContext, CancellationToken, ChatRequest, GenerateParams, LlmOptions, ModelCall, ProviderName, ReportFilter, Route},
    domain::{AssetContent, Channel, MoveStatus, UserId},
};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn p95(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[((samples.len() as f64 * 0.95).ceil() as usize).saturating_sub(1).min(samples.len() - 1)]
}

const PROMPT: &str = "Write one tagline for a bicycle shop.";

fn call(i: usize) -> ModelCall {
    ModelCall {
        request: ChatRequest { max_tokens: 4, temperature: 0.0, seed: i as u64, ..ChatRequest::user(PROMPT) },
        route: Route::Provider(ProviderName::local()),
        privacy: None,
        local_model: None,
        local_options: LlmOptions::default(),
        context: CallContext::user("bench".parse().expect("a valid user id")),
        use_cache: false,
    }
}

async fn time_to_first_token(core: &Core, i: usize) -> Duration {
    let started = Instant::now();
    let mut first = None;
    let mut progress = |event: AskProgress<'_>| {
        if matches!(event, AskProgress::Text(_)) && first.is_none() {
            first = Some(started.elapsed());
        }
    };
    core.ask(call(i), &mut progress, &CancellationToken::new()).await.unwrap();
    first.unwrap_or_else(|| started.elapsed())
}

async fn first_tokens(models_dir: &std::path::Path, threads: usize, user: &LocalUser) {
    let dir = tempfile::tempdir().unwrap();
    let core = Core::open_with(CoreConfig { models_dir: models_dir.to_owned(), threads, ..CoreConfig::new(dir.path(), user.clone()) }).await.unwrap();
    let first = time_to_first_token(&core, 0).await;
    let mut later = Vec::new();
    for i in 1..20 {
        later.push(time_to_first_token(&core, i).await);
    }
    assert_eq!(core.engine_stats().llm_loads, 1);
    core.close().await;

    // Anchor: the same prompt on a loaded LocalLlm, called directly.
    let store = ai::open_models(models_dir).unwrap();
    let mut llm = ai::load_llm(&store, None, LlmOptions { threads, ..LlmOptions::default() }).unwrap();
    let prompt = llm.chat_prompt(&[ai::ChatMessage::new("user", PROMPT)]).unwrap();
    let params = GenerateParams { max_tokens: 1, temperature: 0.0, ..GenerateParams::default() };
    let mut anchor = Vec::new();
    for _ in 0..19 {
        let started = Instant::now();
        llm.generate(&prompt, &params, &AtomicBool::new(false), &mut |_| {}).unwrap();
        anchor.push(started.elapsed());
    }
    let anchor_p50 = {
        anchor.sort();
        anchor[anchor.len() / 2]
    };
    let later_p50 = {
        let mut l = later.clone();
        l.sort();
        l[l.len() / 2]
    };
    println!("time to first token, local model ({threads} threads):");
    println!("  1st core.ask (loads the weights): {:>8.1} ms  ({:.1}x the anchor)", ms(first), ms(first) / ms(anchor_p50));
    println!("  2nd-20th core.ask p50:           {:>8.1} ms  ({:.2}x the anchor)", ms(later_p50), ms(later_p50) / ms(anchor_p50));
    let later_p95 = p95(later);
    println!("  2nd-20th core.ask p95:           {:>8.1} ms  ({:.2}x the anchor)", ms(later_p95), ms(later_p95) / ms(anchor_p50));
    println!("  anchor (loaded LocalLlm, 1 token) p50: {:>5.1} ms", ms(anchor_p50));
}

async fn anchors(dir: &std::path::Path, samples: usize) -> (Duration, Duration) {
    let options = SqliteConnectOptions::new()
        .filename(dir.join("anchor.sqlite3"))
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full);
    let pool = SqlitePoolOptions::new().max_connections(1).connect_with(options).await.unwrap();
    sqlx::query("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)").execute(&pool).await.unwrap();
    let mut writes = Vec::new();
    for i in 0..samples {
        let started = Instant::now();
        sqlx::query("INSERT INTO t (id, v) VALUES (?, 'x')").bind(i as i64).execute(&pool).await.unwrap();
        writes.push(started.elapsed());
    }
    let mut reads = Vec::new();
    for i in 0..samples {
        let started = Instant::now();
        let _: (String,) = sqlx::query_as("SELECT v FROM t WHERE id = ?").bind(i as i64).fetch_one(&pool).await.unwrap();
        reads.push(started.elapsed());
    }
    (p95(writes), p95(reads))
}

async fn commands(n_campaigns: usize, samples: usize, user: &LocalUser) {
    let dir = tempfile::tempdir().unwrap();
    let core = Core::open(&dir.path().join("data"), user.clone()).await.unwrap();
    let workspace = core.create_workspace("Bench").await.unwrap().id;
    let mut campaigns = Vec::new();
    for i in 0..n_campaigns {
        let new = NewCampaign { name: format!("Campaign {i}"), goal: "200 demos".into(), channels: vec![Channel::Email], budget: None };
        campaigns.push(core.create_campaign(workspace, new).await.unwrap().id);
    }
    let target = campaigns[n_campaigns / 2];
    let mut timings: Vec<(&str, bool, Vec<Duration>)> = Vec::new();
    macro_rules! measure {
        ($name:expr, $write:expr, $body:expr) => {{
            let mut samples_taken = Vec::with_capacity(samples);
            for i in 0..samples {
                let _ = i;
                let started = Instant::now();
                $body(i).await;
                samples_taken.push(started.elapsed());
            }
            timings.push(($name, $write, samples_taken));
        }};
    }
    let mut moves = Vec::new();
    measure!("workspace list", false, |_| async { core.list_workspaces().await.unwrap() });
    measure!("workspace show", false, |_| async { core.workspace(workspace).await.unwrap() });
    measure!("campaign list", false, |_| async { core.list_campaigns(workspace).await.unwrap() });
    measure!("campaign show", false, |_| async { core.campaign(target).await.unwrap() });
    measure!("campaign create", true, |i| {
        let core = core.clone();
        async move {
            let new = NewCampaign { name: format!("Extra {i}"), goal: String::new(), channels: Vec::new(), budget: None };
            core.create_campaign(workspace, new).await.unwrap()
        }
    });
    for i in 0..samples {
        let started = Instant::now();
        let (id, _) = core.add_move(target, NewMove { title: format!("Move {i}"), channel: Channel::Email, owner: None, due_date: None }).await.unwrap();
        moves.push(id);
        if i == 0 {
            timings.push(("move add", true, Vec::new()));
        }
        timings.last_mut().unwrap().2.push(started.elapsed());
    }
    measure!("move set-status", true, |i: usize| {
        let (id, core) = (moves[i], core.clone());
        async move { core.set_move_status(id, MoveStatus::InProgress).await.unwrap() }
    });
    let mut assets = Vec::new();
    for i in 0..samples {
        let content = AssetContent::XPost { text: format!("Spring rides start here ({i})") };
        let started = Instant::now();
        assets.push(core.add_asset(target, None, content).await.unwrap());
        if i == 0 {
            timings.push(("asset add (Guardian-checked)", true, Vec::new()));
        }
        timings.last_mut().unwrap().2.push(started.elapsed());
    }
    measure!("asset check", false, |i: usize| {
        let (id, core) = (assets[i], core.clone());
        async move { core.check_asset(id).await.unwrap() }
    });
    measure!("cost report", false, |_| async { core.cost_report(&ReportFilter::default()).await.unwrap() });
    core.close().await;

    let (write_anchor, read_anchor) = anchors(dir.path(), samples).await;
    println!("Core commands on a workspace with {n_campaigns} campaigns, p95 of {samples} (budget 50 ms):");
    for (name, write, samples) in timings {
        let figure = p95(samples);
        let anchor = if write { write_anchor } else { read_anchor };
        let kind = if write { "durable write" } else { "PK read" };
        println!("  {name:<30} {:>7.2} ms  ({:>6.1}x a {kind}; {:.2} of the budget)", ms(figure), ms(figure) / ms(anchor), ms(figure) / 50.0);
    }
    println!("  anchors: durable single-row write p95 {:.2} ms, primary-key read p95 {:.3} ms", ms(write_anchor), ms(read_anchor));
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let user = LocalUser { id: "bench".parse::<UserId>().unwrap(), display_name: "Bench".into() };
    let samples = arg("--samples", 50);
    commands(arg("--campaigns", 100), samples, &user).await;
    match std::env::var_os("RAPTORFLOW_MODELS_DIR") {
        Some(dir) => first_tokens(&PathBuf::from(dir), arg("--threads", 2), &user).await,
        None => println!("time to first token: skipped (set RAPTORFLOW_MODELS_DIR to the fetched models)"),
    }
}
