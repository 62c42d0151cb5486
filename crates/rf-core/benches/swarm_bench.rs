//! The swarm on the local model: `agents eval` over the roster (every agent
//! on its sample input, networking not needed), reported per guild, with
//! each figure against an anchor measured in the same run:
//!
//! - generation speed of the agents' steps (tokens of answer per second of
//!   step), against a plain constrained `core.ask` of a fixed prompt and
//!   schema on the same loaded model, measured before and after the agents
//!   (their mean);
//! - the executor's own time per step (rendering, schema narrowing,
//!   validation, bookkeeping; generation and tools excluded), against the
//!   goal of 5 ms and a single durable SQLite write on a file beside it.
//!
//! Needs the default models (`./scripts/test.sh` fetches them).
//! Run: `RAPTORFLOW_MODELS_DIR=~/.cache/raptorflow/models cargo bench -p rf-core --bench swarm_bench`
//! (options: `--guild G` for one guild, `--limit N` agents per guild,
//! `--threads N`).

#![allow(clippy::print_stdout)]

use std::{
    collections::BTreeMap,
    path::PathBuf,
    time::{Duration, Instant},
};

use rf_core::{
    Core, CoreConfig, LocalUser,
    ai::{CallContext, CancellationToken, ChatRequest, LlmOptions, ModelCall, ProviderName, Route, Tier},
    swarm::{Evaluation, Guild},
};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned()
}

/// The anchor: a constrained answer of a fixed prompt on the local model.
async fn anchor(core: &Core) -> (u64, Duration) {
    let schema = serde_json::json!({
        "type": "object",
        "properties": {"tagline": {"type": "string", "maxLength": 200}, "audience": {"type": "string", "maxLength": 200}},
        "required": ["tagline", "audience"],
        "additionalProperties": false
    });
    let request = ChatRequest {
        max_tokens: 160,
        temperature: 0.0,
        schema: Some(schema),
        ..ChatRequest::user("Write a tagline for a coffee subscription and say who it is for.")
    };
    let call = ModelCall {
        request,
        route: Route::Provider(ProviderName::local()),
        privacy: None,
        local_model: None,
        local_options: LlmOptions::default(),
        context: CallContext::user("bench".parse().expect("a valid user id")),
        use_cache: false,
    };
    let started = Instant::now();
    let outcome = core.ask(call, &mut |_| {}, &CancellationToken::new()).await.expect("the anchor answers");
    (outcome.metered.record.usage.output_tokens, started.elapsed())
}

async fn durable_write_p50(dir: &std::path::Path) -> Duration {
    let options = SqliteConnectOptions::new()
        .filename(dir.join("anchor.sqlite3"))
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full);
    let pool = SqlitePoolOptions::new().max_connections(1).connect_with(options).await.unwrap();
    sqlx::query("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)").execute(&pool).await.unwrap();
    let mut samples = Vec::new();
    for i in 0..200 {
        let started = Instant::now();
        sqlx::query("INSERT INTO t (id, body) VALUES (?, ?)").bind(i).bind("x".repeat(400)).execute(&pool).await.unwrap();
        samples.push(started.elapsed());
    }
    samples.sort();
    samples[samples.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let models = PathBuf::from(std::env::var_os("RAPTORFLOW_MODELS_DIR").expect("RAPTORFLOW_MODELS_DIR: the directory with the default models"));
    let dir = tempfile::tempdir().unwrap();
    let mut config = CoreConfig::new(dir.path(), LocalUser::from_env(Some("bench".parse().unwrap())));
    config.models_dir = models;
    if let Some(threads) = arg("--threads").and_then(|t| t.parse().ok()) {
        config.threads = threads;
    }
    let core = Core::open_with(config).await.unwrap();
    let swarm = core.swarm().await.unwrap();
    let guild: Option<Guild> = arg("--guild").map(|g| g.parse().unwrap());
    let limit: usize = arg("--limit").and_then(|l| l.parse().ok()).unwrap_or(usize::MAX);
    let mut chosen: Vec<String> = Vec::new();
    let mut per: BTreeMap<Guild, usize> = BTreeMap::new();
    for agent in swarm.roster().agents() {
        let n = per.entry(agent.guild).or_default();
        if guild.is_none_or(|g| g == agent.guild) && *n < limit {
            *n += 1;
            chosen.push(agent.id.to_string());
        }
    }
    let write = durable_write_p50(dir.path()).await;
    // Warm the model (the first call loads the weights), then the anchor.
    let _ = anchor(&core).await;
    let (anchor_tokens_before, anchor_time_before) = anchor(&core).await;
    let started = Instant::now();
    let mut results: Vec<Evaluation> = Vec::new();
    for (i, id) in chosen.iter().enumerate() {
        let eval = swarm.evaluate(id, None, None, core.user().id.clone(), Some(Tier::Local), &CancellationToken::new()).await.unwrap();
        println!(
            "[{}/{}] {id:<9} {:<13} {:>5} tokens {:>7} ms  overhead {:>5} µs{}",
            i + 1,
            chosen.len(),
            if eval.valid_first_try {
                "valid"
            } else if eval.valid {
                "valid/repair"
            } else {
                "INVALID"
            },
            eval.tokens,
            eval.ms,
            eval.overhead_us,
            eval.error.as_deref().map(|e| format!("  {e}")).unwrap_or_default()
        );
        results.push(eval);
    }
    let wall = started.elapsed();
    let (anchor_tokens_after, anchor_time_after) = anchor(&core).await;
    let anchor_rate = (anchor_tokens_before + anchor_tokens_after) as f64 / (anchor_time_before + anchor_time_after).as_secs_f64();

    println!();
    println!(
        "anchor: a constrained answer on the same model, {anchor_rate:.1} answer tokens/s (before {anchor_tokens_before} tokens in {anchor_time_before:.2?}, after {anchor_tokens_after} in {anchor_time_after:.2?})"
    );
    println!("| guild | agents | valid first try | valid | tokens (prompt + answer) | answer tokens/s | ratio to anchor | wall |");
    println!("|---|---|---|---|---|---|---|---|");
    let mut guilds: BTreeMap<Guild, Vec<&Evaluation>> = BTreeMap::new();
    for e in &results {
        guilds.entry(e.guild).or_default().push(e);
    }
    for (guild, evals) in &guilds {
        let n = evals.len();
        let first = evals.iter().filter(|e| e.valid_first_try).count();
        let valid = evals.iter().filter(|e| e.valid).count();
        let tokens: u64 = evals.iter().map(|e| e.tokens).sum();
        let output: u64 = evals.iter().map(|e| e.output_tokens).sum();
        let secs: f64 = evals.iter().map(|e| e.ms as f64 / 1000.0).sum();
        let rate = output as f64 / secs;
        println!(
            "| {guild} | {n} | {first}/{n} ({:.0} %) | {valid}/{n} | {tokens} | {rate:.1} | {:.2} | {secs:.0} s |",
            100.0 * first as f64 / n as f64,
            rate / anchor_rate
        );
    }
    let mut overhead: Vec<u64> = results.iter().map(|e| e.overhead_us).collect();
    overhead.sort_unstable();
    let p50 = overhead[overhead.len() / 2];
    let p95 = overhead[((overhead.len() as f64 * 0.95).ceil() as usize).saturating_sub(1).min(overhead.len() - 1)];
    let write_us = write.as_micros() as f64;
    println!();
    println!(
        "{} agents in {:.1} min: {}/{} valid, {}/{} on the first try",
        results.len(),
        wall.as_secs_f64() / 60.0,
        results.iter().filter(|e| e.valid).count(),
        results.len(),
        results.iter().filter(|e| e.valid_first_try).count(),
        results.len()
    );
    println!(
        "executor overhead per step: p50 {p50} µs, p95 {p95} µs; goal 5 ms (p95 is {:.3} of it); anchor: durable SQLite write p50 {write_us:.0} µs (p95 overhead is {:.2} × it)",
        p95 as f64 / 5000.0,
        p95 as f64 / write_us
    );
    core.close().await;
}
