//! Connectors and signals benchmark (issue 26), each figure with an anchor
//! measured in the same run:
//!
//! - cached lookup: p50/p95 of 500 Brave web searches answered from the
//!   cache through the gateway (cache read, parse, ledger row); anchor: the
//!   same cache row read with one SQLite point query on the same file. The
//!   first, uncached call against a loopback fake server is printed too.
//! - a full sweep: `signals fetch` of a workspace with the company and five
//!   competitors, NewsAPI and Brave configured (fake servers): calls, cost,
//!   and the cost against the workspace's monthly budget; then the same
//!   sweep again within the TTL (it must send nothing and cost nothing).
//! - forecast: the full reading of a year of daily points (forecast 14 days
//!   with an 80 % interval, change points, anomalies), mean over 20 series;
//!   anchor: sorting one million f64, a fixed CPU workload.
//!
//! Run (the sweep stores keys in the keyring):
//!
//! ```sh
//! dbus-run-session -- scripts/test-services.sh cargo bench -p raptorflow-tests --bench connectors_bench
//! ```

#![allow(clippy::print_stdout, clippy::print_stderr)]

#[path = "../providers/fake_provider.rs"]
mod fake_provider;

use std::{num::NonZeroU32, time::Instant};

use fake_provider::{FakeProvider, Reply};
use rand::{Rng, SeedableRng, rngs::StdRng};
use rf_connectors::{ApiKey, Call, Connector, FetchOptions, Gateway, Service, brave};
use rf_core::{Core, CoreConfig, LocalUser, connectors::NewConnector};
use rf_metering::ledger::{BudgetScope, CallContext, Ledger};

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn cached_lookup() {
    let server = FakeProvider::start();
    server.always(Reply::connector("brave/web_search_200.json"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite3");
    let ledger = Ledger::open(&path).await.unwrap();
    let gateway = Gateway::new(reqwest::Client::new(), ledger, rf_cloud::HttpPolicy::default());
    let mut connector = Connector::new(Service::Brave, ApiKey::new("bench-key"));
    connector.base_url = server.url.parse().unwrap();
    connector.limits.requests_per_second = NonZeroU32::new(1000).unwrap();
    let context = CallContext::user("ana".parse().unwrap());
    let call = Call { connector: &connector, context: &context, options: FetchOptions { allow_network: true, use_cache: true } };
    let search = brave::Search { q: "folding bike".into(), count: Some(10), ..brave::Search::default() };
    let started = Instant::now();
    brave::web_search(&gateway, call, &search).await.unwrap();
    let uncached_ms = started.elapsed().as_secs_f64() * 1000.0;
    let mut through = Vec::new();
    for _ in 0..500 {
        let started = Instant::now();
        let fetched = brave::web_search(&gateway, call, &search).await.unwrap();
        through.push(started.elapsed().as_secs_f64() * 1e6);
        assert!(fetched.cached);
    }
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display())).await.unwrap();
    let mut anchor = Vec::new();
    for _ in 0..500 {
        let started = Instant::now();
        let body: Option<String> =
            sqlx::query_scalar("SELECT body FROM connector_cache WHERE service = 'brave' AND expires_at_ms > 0 LIMIT 1").fetch_optional(&pool).await.unwrap();
        anchor.push(started.elapsed().as_secs_f64() * 1e6);
        assert!(body.is_some());
    }
    through.sort_by(f64::total_cmp);
    anchor.sort_by(f64::total_cmp);
    let (p50, p95, a50, a95) = (percentile(&through, 0.5), percentile(&through, 0.95), percentile(&anchor, 0.5), percentile(&anchor, 0.95));
    println!(
        "cached lookup, 500 calls: p50 {p50:.0} µs, p95 {p95:.0} µs; anchor (one SQLite read of the row) p50 {a50:.0} µs, p95 {a95:.0} µs; ratio p50 {:.1}x",
        p50 / a50
    );
    println!("  the first (uncached) call against the loopback fake server: {uncached_ms:.1} ms; requests sent in all: {}", server.n_requests());
}

async fn sweep() {
    let news = FakeProvider::start();
    news.always(Reply::connector("newsapi/everything_200.json"));
    let web = FakeProvider::start();
    web.always(Reply::connector("brave/news_search_200.json"));
    let dir = tempfile::tempdir().unwrap();
    let user = LocalUser { id: "ana".parse().unwrap(), display_name: "Ana".into() };
    let core = Core::open_with(CoreConfig { threads: 1, ..CoreConfig::new(dir.path(), user) }).await.unwrap();
    let workspace = core.create_workspace("Bench Co").await.unwrap().id;
    let brand = serde_json::json!({
        "company": "Bench Co",
        "competitors": ["Alpha", "Bravo", "Charlie", "Delta", "Echo"],
    });
    core.update_brand_codex_json(workspace, &brand.to_string()).await.unwrap();
    for (name, server) in [("newsapi", &news), ("brave", &web)] {
        let new = NewConnector { name: name.into(), base_url: Some(server.url.clone()), requests_per_second: Some(50), ..NewConnector::default() };
        core.add_connector(new, ApiKey::new(&format!("{name}-bench-key"))).unwrap();
    }
    let started = Instant::now();
    let first = core.fetch_signals(workspace).await.unwrap();
    let first_ms = started.elapsed().as_secs_f64() * 1000.0;
    let started = Instant::now();
    let again = core.fetch_signals(workspace).await.unwrap();
    let again_ms = started.elapsed().as_secs_f64() * 1000.0;
    let ledger = Ledger::open(&dir.path().join(rf_metering::ledger::LEDGER_FILE_NAME)).await.unwrap();
    let budget = ledger.budget(&BudgetScope::Workspace(workspace)).await.unwrap();
    println!(
        "sweep of 6 subjects x 2 connectors: {} calls sent, {} from the cache, cost {} = {:.2} % of the workspace's monthly budget of {}; {first_ms:.0} ms",
        first.calls_sent,
        first.cache_hits,
        rf_metering::ledger::format_usd(first.cost_micro_usd),
        100.0 * first.cost_micro_usd as f64 / budget as f64,
        rf_metering::ledger::format_usd(budget)
    );
    println!(
        "  the same sweep again within the TTL: {} calls sent, {} from the cache, cost {}; {again_ms:.0} ms; a daily sweep for 30 days at most {} ({:.1} % of the budget)",
        again.calls_sent,
        again.cache_hits,
        rf_metering::ledger::format_usd(again.cost_micro_usd),
        rf_metering::ledger::format_usd(first.cost_micro_usd * 30),
        100.0 * (first.cost_micro_usd * 30) as f64 / budget as f64
    );
    assert_eq!((again.calls_sent, again.cost_micro_usd), (0, 0));
    core.close().await;
}

fn forecast() {
    let mut rng = StdRng::seed_from_u64(365);
    let season = [0.0, 4.0, 6.0, 5.0, 3.0, -8.0, -10.0];
    let series: Vec<Vec<rf_signals::Point>> = (0..20)
        .map(|_| {
            (0..365)
                .map(|t| {
                    let value = 50.0 + 0.05 * t as f64 + season[t % 7] + rng.random_range(-4.0..4.0);
                    rf_signals::Point { day: 20_000 + t as i64, value, evidence: serde_json::Value::Null }
                })
                .collect()
        })
        .collect();
    let started = Instant::now();
    for points in &series {
        let analysis = rf_signals::analyse("bench", points, 14, 0.8).unwrap();
        assert!(analysis.forecast.is_some());
    }
    let per_series_ms = started.elapsed().as_secs_f64() * 1000.0 / series.len() as f64;
    let mut values: Vec<f64> = (0..1_000_000).map(|_| rng.random::<f64>()).collect();
    let started = Instant::now();
    values.sort_by(f64::total_cmp);
    let anchor_ms = started.elapsed().as_secs_f64() * 1000.0;
    println!(
        "reading a year of daily points (MSTL(7)+AutoETS forecast, change points, anomalies): {per_series_ms:.1} ms per series; anchor (sort 1M f64) {anchor_ms:.1} ms; ratio {:.2}x",
        per_series_ms / anchor_ms
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(cached_lookup());
    runtime.block_on(sweep());
    forecast();
}
