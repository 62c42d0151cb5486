//! What metering costs, and what the swarm's work costs.
//!
//! 1. Ledger write overhead per call: a priced call's reserve and settle (two
//!    durable transactions) and a free call's record, against the anchor of
//!    one durable INSERT of the same row into a plain table of the same
//!    file, measured in the same run.
//! 2. Response-cache lookup latency with 100,000 cached entries (hits and
//!    misses), against a bare primary-key SELECT on the same table.
//! 3. The monthly cost per user of the swarm's workloads
//!    (`tests/data/workloads.toml`, estimates until the swarm runs) under
//!    three routing policies, with models picked by the real selector and
//!    priced by `models/pricing.toml`, against the seed plan's $10 target.
//!
//! `cargo bench -p rf-ai --bench cost_bench` (`-- --quick` for fewer rounds).

#![allow(clippy::print_stdout)]

use std::time::{Duration, Instant};

use rf_ai::{
    ChatRequest, Completion, StopReason, Usage, format_usd,
    selector::{Candidate, PrivacyMode, Tier, select},
};
use rf_metering::{
    ledger::{CallContext, CallRecord, Ledger},
    metered::request_key,
    pricing::{Price, PriceTable},
};
use serde::Deserialize;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn micros(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn record(i: usize) -> CallRecord {
    CallRecord {
        at_ms: 1_764_000_000_000 + i as i64,
        context: CallContext {
            workspace_id: Some("0192f0c1-7a6e-7cc0-9a4e-3b1d2c4e5f60".parse().unwrap()),
            user_id: "ana".parse().unwrap(),
            agent_id: Some("MUSE-001".parse().unwrap()),
            run_id: Some(rf_domain::RunId::new()),
            caller: None,
        },
        provider: "openai".parse().unwrap(),
        model: "gpt-4o-mini".parse().unwrap(),
        usage: Usage { input_tokens: 1_800, output_tokens: 400, ..Usage::default() },
        latency_ms: 900,
        cost_micro_usd: 510,
        cache_hit: false,
        outcome: "ok".into(),
    }
}

async fn ledger_overhead(dir: &std::path::Path, rounds: usize) {
    let ledger = Ledger::open(&dir.join("ledger.sqlite3")).await.unwrap();
    let pool = sqlx::sqlite::SqlitePoolOptions::new().max_connections(1).connect(&format!("sqlite://{}", dir.join("ledger.sqlite3").display())).await.unwrap();
    sqlx::query("PRAGMA synchronous = FULL").execute(&pool).await.unwrap();
    sqlx::query("CREATE TABLE anchor (id INTEGER PRIMARY KEY, at_ms INTEGER, workspace_id TEXT, user_id TEXT, agent_id TEXT, run_id TEXT, provider TEXT, model TEXT, input_tokens INTEGER, output_tokens INTEGER, cost INTEGER, outcome TEXT)")
        .execute(&pool)
        .await
        .unwrap();
    let context = record(0).context;
    let (mut anchor, mut metered, mut free) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..rounds {
        let row = record(i);
        let started = Instant::now();
        sqlx::query("INSERT INTO anchor (at_ms, workspace_id, user_id, agent_id, run_id, provider, model, input_tokens, output_tokens, cost, outcome) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
            .bind(row.at_ms)
            .bind(row.context.workspace_id.map(|w| w.to_string()))
            .bind(row.context.user_id.as_str())
            .bind(row.context.agent_id.as_ref().map(|a| a.as_str()))
            .bind(row.context.run_id.map(|r| r.to_string()))
            .bind(row.provider.as_str())
            .bind(row.model.as_str())
            .bind(1_800_i64)
            .bind(400_i64)
            .bind(510_i64)
            .bind("ok")
            .execute(&pool)
            .await
            .unwrap();
        anchor.push(started.elapsed());

        let started = Instant::now();
        let reservation = ledger.reserve(&context, 2_000).await.unwrap().unwrap();
        ledger.settle(reservation, &row).await.unwrap();
        metered.push(started.elapsed());

        let started = Instant::now();
        ledger.record(&row).await.unwrap();
        free.push(started.elapsed());
    }
    let anchor = median(anchor);
    println!("ledger write overhead per call ({rounds} calls, medians; every write durable: WAL, synchronous=FULL)");
    println!("  anchor: one INSERT of the same row                 {}", micros(anchor));
    for (name, samples) in [("priced call: reserve + settle (2 transactions)", metered), ("free call: record (1 transaction)          ", free)] {
        let m = median(samples);
        println!("  {name}     {}  ({:.2}x the anchor)", micros(m), m.as_secs_f64() / anchor.as_secs_f64());
    }
    pool.close().await;
    ledger.close().await;
}

async fn cache_lookup(dir: &std::path::Path, entries: usize, lookups: usize) {
    let path = dir.join("cache.sqlite3");
    let ledger = Ledger::open(&path).await.unwrap();
    let completion = Completion {
        text: "Fresh roast, slow mornings, good company.".into(),
        stop_reason: StopReason::EndOfTurn,
        usage: Usage::default(),
        model: "gpt-4o-mini".into(),
    };
    let keys: Vec<[u8; 32]> = (0..entries).map(|i| request_key("openai", "gpt-4o-mini", &ChatRequest::user(&format!("question {i}")))).collect();
    // Filled in one transaction (100k durable single inserts would take
    // minutes); the table, index and rows are the same as ledger.cache's.
    let started = Instant::now();
    {
        let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display())).await.unwrap();
        let text = serde_json::to_string(&completion).unwrap();
        let mut tx = pool.begin().await.unwrap();
        for key in &keys {
            sqlx::query("INSERT INTO response_cache (request_sha256, provider, model, completion, created_at_ms, expires_at_ms) VALUES (?, 'openai', 'gpt-4o-mini', ?, 0, 9223372036854775807)")
                .bind(&key[..])
                .bind(&text)
                .execute(&mut *tx)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
        pool.close().await;
    }
    println!("response cache with {entries} entries (filled in {:.1} s)", started.elapsed().as_secs_f64());
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display())).await.unwrap();
    let (mut anchor, mut hits, mut misses) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..lookups {
        let key = keys[(i * 7919) % entries];
        let started = Instant::now();
        let row: Option<String> =
            sqlx::query_scalar("SELECT completion FROM response_cache WHERE request_sha256 = ?").bind(&key[..]).fetch_optional(&pool).await.unwrap();
        anchor.push(started.elapsed());
        assert!(row.is_some());
        let started = Instant::now();
        let hit = ledger.cached(&key).await.unwrap();
        hits.push(started.elapsed());
        assert_eq!(hit.as_ref(), Some(&completion));
        let miss_key = request_key("openai", "gpt-4o-mini", &ChatRequest::user(&format!("never asked {i}")));
        let started = Instant::now();
        assert!(ledger.cached(&miss_key).await.unwrap().is_none());
        misses.push(started.elapsed());
    }
    let anchor = median(anchor);
    println!("  anchor: primary-key SELECT                         {}", micros(anchor));
    for (name, samples) in [("hit (lookup + decode)", hits), ("miss                 ", misses)] {
        let m = median(samples);
        println!("  {name}                          {}  ({:.2}x the anchor)", micros(m), m.as_secs_f64() / anchor.as_secs_f64());
    }
    pool.close().await;
    ledger.close().await;
}

#[derive(Deserialize)]
struct Workloads {
    workload: Vec<Workload>,
}

#[derive(Deserialize)]
struct Workload {
    id: String,
    per_user_per_month: f64,
    step: Vec<Step>,
}

#[derive(Deserialize)]
struct Step {
    tier: Tier,
    calls: u64,
    input_tokens: u64,
    output_tokens: u64,
}

/// A named line-up: the provider and model taking each tier.
type Lineup = (&'static str, [(Tier, &'static str, &'static str); 3]);

fn workload_costs() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/workloads.toml")).unwrap();
    let workloads: Workloads = toml::from_str(&text).unwrap();
    let table = PriceTable::bundled().unwrap();
    let lineups: [Lineup; 2] = [
        (
            "economy",
            [(Tier::Fast, "groq", "llama-3.1-8b-instant"), (Tier::Standard, "openai", "gpt-4.1-mini"), (Tier::Premium, "anthropic", "claude-sonnet-4-5")],
        ),
        (
            "quality",
            [
                (Tier::Fast, "anthropic", "claude-haiku-4-5"),
                (Tier::Standard, "anthropic", "claude-sonnet-4-5"),
                (Tier::Premium, "anthropic", "claude-opus-4-1"),
            ],
        ),
    ];
    println!("monthly cost per user of the swarm's workloads (tests/data/workloads.toml: estimated token counts), seed target $10.00");
    for (lineup, models) in lineups {
        println!("  cloud models ({lineup}): {}", models.iter().map(|(t, p, m)| format!("{t} {p}/{m}")).collect::<Vec<_>>().join(", "));
        for (policy, mode, with_local) in [
            ("all local", PrivacyMode::OfflineOnly, true),
            ("local-preferred", PrivacyMode::LocalPreferred, true),
            ("cloud-only", PrivacyMode::CloudAllowed, false),
        ] {
            let mut monthly = 0.0;
            let mut parts = Vec::new();
            for workload in &workloads.workload {
                let mut once: u64 = 0;
                for step in &workload.step {
                    let usage = Usage { input_tokens: step.input_tokens, output_tokens: step.output_tokens, ..Usage::default() };
                    let mut candidates: Vec<(Candidate, Price)> = models
                        .iter()
                        .map(|(tier, provider, model)| {
                            let price = table.get(model).unwrap_or_else(|| panic!("{model} is not priced")).price;
                            (
                                Candidate {
                                    provider: provider.parse().unwrap(),
                                    model: model.parse().unwrap(),
                                    tier: *tier,
                                    local: false,
                                    max_cost_micro_usd: price.cost_micro_usd(&usage),
                                },
                                price,
                            )
                        })
                        .collect();
                    if with_local {
                        candidates.insert(
                            0,
                            (
                                Candidate {
                                    provider: "local".parse().unwrap(),
                                    model: "smollm2-135m-instruct".parse().unwrap(),
                                    tier: Tier::Local,
                                    local: true,
                                    max_cost_micro_usd: 0,
                                },
                                Price::FREE,
                            ),
                        );
                    }
                    let just: Vec<Candidate> = candidates.iter().map(|(c, _)| c.clone()).collect();
                    let choice = select(step.tier, mode, u64::MAX, &just).unwrap();
                    let price = candidates.iter().find(|(c, _)| *c == choice.candidate).unwrap().1;
                    once += price.cost_micro_usd(&usage) * step.calls;
                }
                let per_month = once as f64 * workload.per_user_per_month;
                monthly += per_month;
                parts.push(format!("{} {} x{}", workload.id, format_usd(once), workload.per_user_per_month));
            }
            let monthly = monthly.round() as u64;
            println!("    {policy:<16} {:>9} a month ({:.3}x the $10 target): {}", format_usd(monthly), monthly as f64 / 10_000_000.0, parts.join(", "));
        }
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        ledger_overhead(dir.path(), if quick { 50 } else { 300 }).await;
        cache_lookup(dir.path(), if quick { 10_000 } else { 100_000 }, if quick { 200 } else { 2_000 }).await;
    });
    workload_costs();
}
