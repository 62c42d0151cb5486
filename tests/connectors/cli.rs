//! `raptorflow connectors ...` as a user runs it: keys go in through stdin
//! and live only in the OS keyring (the test session's gnome-keyring),
//! calls are recorded and a repeat within the TTL is answered from the
//! cache, bad input changes nothing, and in privacy mode offline-only the
//! process opens no network socket at all.

#[path = "../providers/cli_support.rs"]
mod cli_support;
#[path = "../providers/fake_provider.rs"]
mod fake_provider;
#[path = "../sync/harness.rs"]
mod harness;

use std::{path::Path, process::Command};

use cli_support::{cli, files_containing};
use fake_provider::{FakeProvider, Reply};
use harness::{Run, binary, require_keyring};

/// A workspace "Fernhill" with the campaign fixtures' brand codex (a
/// website and two competitors).
fn branded_workspace(data: &Path) -> String {
    let ws = cli(data, &["workspace", "create", "Fernhill", "--json"], "").ok();
    let workspace = ws.json()["id"].as_str().unwrap().to_owned();
    let brand = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/campaign/brand.json");
    cli(data, &["workspace", "set-brand", &workspace, brand.to_str().unwrap()], "").ok();
    workspace
}

fn status<'a>(list: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    list.as_array().unwrap().iter().find(|c| c["name"] == name).unwrap()
}

#[test]
fn keys_live_only_in_the_keyring_and_a_repeated_search_is_free() {
    require_keyring();
    let server = FakeProvider::start();
    server.always(Reply::connector("newsapi/everything_200.json"));
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let key = format!("news-key-{}", std::process::id() * 7919 + 31_337);
    let mut runs = Vec::new();

    let list = cli(data, &["connectors", "list", "--json"], "").ok();
    assert_eq!(list.json().as_array().unwrap().len(), 8, "every service is listed");
    assert_eq!(status(&list.json(), "newsapi")["configured"], false);
    assert!(status(&list.json(), "google-trends")["note"].as_str().unwrap().contains("no generally available Trends API"));
    runs.push(list);

    runs.push(cli(data, &["connectors", "add", "newsapi", "--base-url", &server.url, "--key-stdin", "--requests-per-day", "50"], &format!("{key}\n")).ok());
    let ws = cli(data, &["workspace", "create", "Fold Co", "--json"], "").ok();
    let workspace = ws.json()["id"].as_str().unwrap().to_owned();
    runs.push(ws);

    let test = cli(data, &["connectors", "test", "newsapi"], "").ok();
    assert!(test.stdout.contains("newsapi works: newsapi everything: 2 results, 2 matches in all"), "{}", test.stdout);
    runs.push(test);
    let search = |extra: &[&str]| {
        let mut args = vec!["connectors", "search", "newsapi", "folding bikes", "--workspace", &workspace, "--json"];
        args.extend_from_slice(extra);
        cli(data, &args, "").ok()
    };
    let first = search(&[]);
    assert_eq!(first.json()["cached"], false);
    assert_eq!(first.json()["hits"][0]["source"], "Cycling Weekly");
    assert_eq!(first.json()["cost_micro_usd"], 1796);
    let second = search(&[]);
    assert_eq!(second.json()["cached"], true, "{}", second.stdout);
    assert_eq!(second.json()["cost_micro_usd"], 0);
    assert_eq!(second.json()["hits"], first.json()["hits"]);
    runs.extend([first, second]);
    assert_eq!(server.n_requests(), 2, "the test and the first search; the repeat sent nothing");
    for seen in server.seen() {
        assert_eq!(seen.headers["x-api-key"], key.as_str(), "the key from the keyring reached the service");
    }

    let list = cli(data, &["connectors", "list", "--json"], "").ok();
    let listed = list.json();
    let news = status(&listed, "newsapi");
    assert_eq!((news["configured"].as_bool(), news["has_key"].as_bool()), (Some(true), Some(true)));
    assert_eq!((news["calls_today"].as_u64(), news["left_today"].as_u64()), (Some(2), Some(48)));
    assert_eq!(news["last_outcome"], "ok");
    runs.push(list);
    let report = cli(data, &["cost", "report", "--workspace", &workspace, "--json"], "").ok();
    let total = &report.json()["total"];
    assert_eq!((total["calls"].as_u64(), total["cache_hits"].as_u64(), total["cost_micro_usd"].as_u64()), (Some(2), Some(1), Some(1796)));
    assert_eq!(report.json()["by_model"][0]["key"], "newsapi/everything");
    runs.push(report);

    let leaked = files_containing(data, &key);
    assert!(leaked.is_empty(), "the key is in {leaked:?}");
    for run in &runs {
        assert!(!run.stdout.contains(&key) && !run.stderr.contains(&key), "the key was printed:\n{}\n{}", run.stdout, run.stderr);
    }

    let settings = std::fs::read_to_string(data.join("settings.toml")).unwrap();
    let key_ref = settings.lines().find_map(|l| l.strip_prefix("key_ref = ")).unwrap().trim_matches('"').to_owned();
    let entry = keyring::Entry::new(rf_core::connectors::CONNECTOR_KEYRING_SERVICE, &key_ref).unwrap();
    assert_eq!(entry.get_password().unwrap(), key, "the key is in the keyring");
    cli(data, &["connectors", "remove", "newsapi"], "").ok();
    let entry = keyring::Entry::new(rf_core::connectors::CONNECTOR_KEYRING_SERVICE, &key_ref).unwrap();
    assert!(matches!(entry.get_password(), Err(keyring::Error::NoEntry)), "removing the connector deleted its key");
    let gone = cli(data, &["connectors", "search", "newsapi", "bikes"], "");
    assert_eq!(gone.code, 2, "{}", gone.stderr);
    assert!(gone.stderr.contains("connector newsapi is not configured"), "{}", gone.stderr);
}

/// Semrush takes its key in the URL's query: the key still appears in no
/// file, no output and no message, and its price is said per API unit.
#[test]
fn semrush_is_searched_by_domain_or_keyword_and_its_key_in_the_url_stays_secret() {
    require_keyring();
    let server = FakeProvider::start();
    server.script([
        Reply::connector("semrush/phrase_this_200.csv"),
        Reply::connector("semrush/domain_organic_200.csv"),
        Reply::connector("semrush/phrase_this_200.csv"),
        Reply::connector("semrush/error_200_wrong_key.txt"),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let key = format!("semrush-key-{}", std::process::id() * 7919 + 4_242);
    let mut runs = vec![cli(data, &["connectors", "add", "semrush", "--base-url", &server.url, "--key-stdin"], &format!("{key}\n")).ok()];

    let test = cli(data, &["connectors", "test", "semrush"], "").ok();
    assert!(test.stdout.contains("semrush works: semrush phrase-this: 1 result"), "{}", test.stdout);
    let list = cli(data, &["connectors", "list"], "").ok();
    assert!(list.stdout.contains("$0.00005 per API unit"), "{}", list.stdout);
    let by_domain = cli(data, &["connectors", "search", "semrush", "example-bikes.com", "--json"], "").ok();
    assert_eq!(by_domain.json()["endpoint"], "domain-organic");
    assert_eq!(by_domain.json()["hits"][0]["title"], "folding bike (position 3, 49500 searches a month)");
    assert_eq!(by_domain.json()["cost_micro_usd"], 1500, "3 lines of 10 units at $0.00005");
    let by_keyword = cli(data, &["connectors", "search", "semrush", "folding bike", "--json"], "").ok();
    assert_eq!(by_keyword.json()["hits"][0]["title"], "folding bike (49500 searches a month, CPC $0.92, competition 1.00)");
    let refused = cli(data, &["connectors", "search", "semrush", "cargo bike"], "");
    assert_ne!(refused.code, 0);
    assert!(refused.stderr.contains("semrush refused the API key (ERROR 120: WRONG KEY - ID PAIR)"), "{}", refused.stderr);
    runs.extend([test, list, by_domain, by_keyword, refused]);

    for seen in server.seen() {
        assert!(seen.query.ends_with(&format!("&key={key}")), "the key from the keyring reached Semrush: {}", seen.query);
    }
    let leaked = files_containing(data, &key);
    assert!(leaked.is_empty(), "the key is in {leaked:?}");
    for run in &runs {
        assert!(!run.stdout.contains(&key) && !run.stderr.contains(&key), "the key was printed:\n{}\n{}", run.stdout, run.stderr);
    }
    cli(data, &["connectors", "remove", "semrush"], "").ok();
}

/// `connectors test ahrefs` asks for a target Ahrefs answers for free, and
/// the price Ahrefs does not publish is $0 until set.
#[test]
fn ahrefs_is_tested_on_a_free_target_and_searched_by_domain() {
    require_keyring();
    let server = FakeProvider::start();
    server.script([Reply::connector("ahrefs/domain_rating_200.json"), Reply::connector("ahrefs/organic_keywords_200.json")]);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    cli(data, &["connectors", "add", "ahrefs", "--base-url", &server.url, "--key-stdin"], "ahrefs-key-777\n").ok();
    let test = cli(data, &["connectors", "test", "ahrefs"], "").ok();
    assert!(test.stdout.contains("ahrefs works: ahrefs domain-rating: 1 result"), "{}", test.stdout);
    assert!(test.stdout.contains("ahrefs.com: Domain Rating 91, Ahrefs Rank 3"), "{}", test.stdout);
    let found = cli(data, &["connectors", "search", "ahrefs", "example-bikes.com", "--count", "5", "--json"], "").ok();
    assert_eq!(found.json()["hits"].as_array().unwrap().len(), 3);
    assert_eq!(found.json()["cost_micro_usd"], 0);
    let seen = server.seen();
    assert!(seen[0].query.starts_with("target=ahrefs.com&date="), "{}", seen[0].query);
    assert!(seen[1].query.contains("limit=5"), "{}", seen[1].query);
    let list = cli(data, &["connectors", "list", "--json"], "").ok();
    let ahrefs = status(&list.json(), "ahrefs").clone();
    assert_eq!((ahrefs["usd_per_call"].as_str(), ahrefs["price_per"].as_str()), (Some("$0.00"), Some("API unit")));
    cli(data, &["connectors", "remove", "ahrefs"], "").ok();
}

#[test]
fn bad_connector_input_is_refused_and_changes_nothing() {
    require_keyring();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let refused = [
        (vec!["connectors", "add", "newsapy", "--key-stdin"], "k\n", "unknown connector `newsapy`: use one of semrush, ahrefs, newsapi"),
        (vec!["connectors", "add", "x", "--key-stdin"], "k\n", "x signs in with OAuth rather than an API key"),
        (vec!["connectors", "add", "brave", "--base-url", "ftp://proxy.example", "--key-stdin"], "k\n", "invalid connector base URL"),
        (vec!["connectors", "add", "brave", "--base-url", "https://proxy.example/?key=secret", "--key-stdin"], "k\n", "must not carry a query or credentials"),
        (vec!["connectors", "add", "brave", "--usd-per-call", "five", "--key-stdin"], "k\n", "invalid connector --usd-per-call"),
        (vec!["connectors", "add", "brave", "--requests-per-second", "0", "--key-stdin"], "k\n", "--requests-per-second: it must be at least 1"),
        (vec!["connectors", "add", "brave", "--key-stdin"], "  \n", "no API key on stdin"),
        (vec!["connectors", "test", "brave"], "", "connector brave is not configured"),
        (vec!["connectors", "remove", "brave"], "", "connector brave is not configured"),
    ];
    for (args, stdin, expected) in refused {
        let run = cli(data, &args, stdin);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(expected), "{args:?}: {}", run.stderr);
    }
    assert!(!data.join("settings.toml").exists(), "nothing was written");

    // A service whose client is not built says so when called.
    cli(data, &["connectors", "add", "google-trends", "--key-stdin"], "trends-key\n").ok();
    let run = cli(data, &["connectors", "test", "google-trends"], "");
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("google-trends cannot be called yet: Google publishes no generally available Trends API"), "{}", run.stderr);
    cli(data, &["connectors", "remove", "google-trends"], "").ok();
}

/// Runs the CLI under strace and returns the run and every socket(2) and
/// connect(2) of the process and its threads that involved the internet.
fn traced(data: &Path, args: &[&str], privacy: Option<&str>) -> (Run, Vec<String>) {
    let trace = data.join("strace.txt");
    let mut command = Command::new("strace");
    command
        .args(["-f", "-e", "trace=socket,connect", "-o", trace.to_str().unwrap()])
        .arg(binary("raptorflow"))
        .args(["--data-dir", data.to_str().unwrap(), "--user", "ana"])
        .args(args)
        .env_remove("RAPTORFLOW_PRIVACY");
    if let Some(mode) = privacy {
        command.env("RAPTORFLOW_PRIVACY", mode);
    }
    let run = Run::of(command.output().expect("strace (installed by scripts/test.sh) runs the CLI"));
    let calls = std::fs::read_to_string(&trace).unwrap();
    assert!(calls.contains("+++ exited with"), "the trace saw the process exit: {calls}");
    let inet = calls
        .lines()
        .filter(|l| (l.contains("socket(") || l.contains("connect(")) && (l.contains("AF_INET") || l.contains("AF_INET6")))
        .map(String::from)
        .collect();
    (run, inet)
}

/// With privacy mode offline-only a configured connector is not called:
/// the search fails with a clear message, a cached answer is still shown,
/// and strace sees no internet socket opened. The same search without
/// offline-only does open one (so the check can fail).
#[test]
fn offline_only_opens_no_network_socket_for_connectors() {
    require_keyring();
    let server = FakeProvider::start();
    server.always(Reply::connector("brave/web_search_200.json"));
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    cli(data, &["connectors", "add", "brave", "--base-url", &server.url, "--key-stdin"], "brave-key\n").ok();

    let (online, inet) = traced(data, &["connectors", "search", "brave", "cached words", "--json"], None);
    let online = online.ok();
    assert_eq!(online.json()["cached"], false);
    assert!(
        inet.iter().any(|l| l.contains("connect(") && l.contains(&server.url.rsplit(':').next().unwrap().to_string())),
        "the online search connected: {inet:#?}"
    );
    assert_eq!(server.n_requests(), 1);

    let (refused, inet) = traced(data, &["connectors", "search", "brave", "new words"], Some("offline-only"));
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(refused.stderr.contains("privacy mode offline-only: brave is not called, nothing leaves this machine"), "{}", refused.stderr);
    assert!(inet.is_empty(), "offline-only opened network sockets: {inet:#?}");

    let (cached, inet) = traced(data, &["connectors", "search", "brave", "cached words", "--json"], Some("offline-only"));
    assert_eq!(cached.ok().json()["cached"], true);
    assert!(inet.is_empty(), "offline-only opened network sockets: {inet:#?}");
    let (test, inet) = traced(data, &["connectors", "test", "brave"], Some("offline-only"));
    assert_eq!(test.code, 2, "{}", test.stderr);
    assert!(inet.is_empty(), "offline-only opened network sockets: {inet:#?}");
    assert_eq!(server.n_requests(), 1, "nothing reached the server while offline-only");
}

/// `signals fetch` asks the configured connector about the company and
/// each competitor of the brand codex and records the day's values; a
/// second fetch within the TTL sends nothing and costs nothing; a series
/// with history is read back with its forecast, change point and summary.
#[test]
fn a_sweep_records_signals_and_a_repeat_within_the_ttl_is_free() {
    require_keyring();
    let server = FakeProvider::start();
    server.always(Reply::connector("newsapi/everything_200.json"));
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let workspace = branded_workspace(data);

    let none = cli(data, &["signals", "fetch", "--workspace", &workspace], "");
    assert_eq!(none.code, 2, "{}", none.stderr);
    assert!(none.stderr.contains("no news connector is configured"), "{}", none.stderr);
    let empty = cli(data, &["signals", "list", "--workspace", &workspace], "").ok();
    assert!(empty.stdout.contains("no signals yet"), "{}", empty.stdout);

    cli(data, &["connectors", "add", "newsapi", "--base-url", &server.url, "--key-stdin"], "news-key\n").ok();
    let first = cli(data, &["signals", "fetch", "--workspace", &workspace, "--json"], "").ok().json();
    let series: Vec<&str> = first["recorded"].as_array().unwrap().iter().map(|r| r["series"].as_str().unwrap()).collect();
    assert_eq!(
        series,
        ["mentions/newsapi/Fernhill Coffee Roasters", "mentions/newsapi/Roastworks Direct", "mentions/newsapi/Kettle & Crane", "share-of-voice/newsapi"]
    );
    assert_eq!(first["recorded"][0]["value"], 2.0, "the fixture's totalResults");
    assert_eq!(first["recorded"][3]["value"].as_f64().unwrap().round(), 33.0, "one of three equal shares");
    assert_eq!((first["calls_sent"].as_u64(), first["cache_hits"].as_u64(), first["cost_micro_usd"].as_u64()), (Some(3), Some(0), Some(3 * 1796)));
    assert_eq!(first["sources"][0]["url"], "https://example.com/news/folding-bikes-sell-out");
    let seen = server.seen();
    assert!(seen[0].query.starts_with("q=%22Fernhill+Coffee+Roasters%22&from="), "{}", seen[0].query);

    let again = cli(data, &["signals", "fetch", "--workspace", &workspace, "--json"], "").ok().json();
    assert_eq!((again["calls_sent"].as_u64(), again["cache_hits"].as_u64(), again["cost_micro_usd"].as_u64()), (Some(0), Some(3), Some(0)));
    assert_eq!(server.n_requests(), 3, "the repeat within the TTL sent nothing");
    let report = cli(data, &["cost", "report", "--workspace", &workspace, "--json"], "").ok().json();
    assert_eq!(report["total"]["cost_micro_usd"], 3 * 1796, "and recorded no cost");

    // History for one series (written to the real signals file while the
    // CLI is not running): 59 days with a level shift, then today's value.
    let today = rf_signals::today();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let signals = rf_signals::Signals::open(&data.join(rf_signals::SIGNALS_FILE_NAME)).await.unwrap();
        let id: rf_domain::WorkspaceId = workspace.parse().unwrap();
        for back in 1..60 {
            let value = if back > 20 { 2.0 + (back % 3) as f64 } else { 14.0 + (back % 3) as f64 };
            let point = rf_signals::Point { day: today - back, value, evidence: serde_json::json!({"seeded": true}) };
            signals.record(id, "mentions/newsapi/Kettle & Crane", &point).await.unwrap();
        }
        signals.close().await;
    });
    let shown = cli(data, &["signals", "show", "--workspace", &workspace, "mentions/newsapi/Kettle & Crane", "--horizon", "7", "--json"], "").ok().json();
    assert_eq!(shown["points"].as_array().unwrap().len(), 60);
    let forecast = &shown["analysis"]["forecast"];
    assert_eq!(forecast["days"].as_array().unwrap().len(), 7);
    assert_eq!(forecast["level"], 0.8);
    let shift = rf_signals::format_day(today - 20);
    let changes = shown["analysis"]["change_points"].as_array().unwrap();
    assert!(changes.iter().any(|c| c["day"].as_str().unwrap().abs_diff_days(&shift) <= 2), "a change point near {shift}: {changes:?}");
    let summary: Vec<&str> = shown["summary"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
    assert!(summary.iter().any(|l| l.starts_with("mentions/newsapi/Kettle & Crane rose from")), "{summary:?}");
    assert!(summary.iter().any(|l| l.contains("is expected at")), "{summary:?}");

    for (args, expected) in [
        (vec!["signals", "show", "--workspace", &workspace, "nothing/here"], "no series \"nothing/here\""),
        (vec!["signals", "show", "--workspace", &workspace, "share-of-voice/newsapi", "--horizon", "0"], "use 1 to 365"),
        (vec!["signals", "show", "--workspace", &workspace, "share-of-voice/newsapi", "--level", "1.5"], "use 0.5 to 0.99"),
    ] {
        let run = cli(data, &args, "");
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(expected), "{args:?}: {}", run.stderr);
    }
}

trait DayDistance {
    fn abs_diff_days(&self, other: &str) -> i64;
}

impl DayDistance for str {
    fn abs_diff_days(&self, other: &str) -> i64 {
        (rf_signals::parse_day(self).unwrap() - rf_signals::parse_day(other).unwrap()).abs()
    }
}

/// The app's schedule: a workspace is swept when its newest signal is older
/// than `signals_every_hours` (or it has none); without a news connector,
/// or with the setting at 0, nothing is swept.
#[test]
fn due_sweeps_run_once_per_period_and_only_with_a_connector() {
    require_keyring();
    let server = FakeProvider::start();
    server.always(Reply::connector("newsapi/everything_200.json"));
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let user = rf_core::LocalUser { id: "ana".parse().unwrap(), display_name: "Ana".into() };
        let core = rf_core::Core::open_with(rf_core::CoreConfig { threads: 1, ..rf_core::CoreConfig::new(dir.path(), user) }).await.unwrap();
        let tracked = core.create_workspace("Tracked").await.unwrap().id;
        core.update_brand_codex_json(tracked, r#"{"company": "Tracked Co", "competitors": ["Rival"]}"#).await.unwrap();
        core.create_workspace("Nothing to track").await.unwrap();

        assert!(core.sweep_due_signals().await.unwrap().is_empty(), "no connector: no sweep");
        let new = rf_core::connectors::NewConnector { name: "newsapi".into(), base_url: Some(server.url.clone()), ..Default::default() };
        core.add_connector(new, rf_core::ai::ApiKey::new("news-key")).unwrap();
        let done = core.sweep_due_signals().await.unwrap();
        assert_eq!(done.len(), 2, "both workspaces were due: {done:?}");
        let swept: Vec<_> = done.iter().filter_map(|(w, outcome)| outcome.as_ref().ok().map(|s| (*w, s.recorded.len()))).collect();
        assert!(swept.contains(&(tracked, 3)), "Tracked Co, Rival and the share of voice: {done:?}");
        assert_eq!(server.n_requests(), 3, "the company and the rival, and the untitled workspace's own name");
        assert!(core.sweep_due_signals().await.unwrap().is_empty(), "swept within the period: not due");
        assert_eq!(server.n_requests(), 3);
        core.close().await;
    });
    // Every 0 hours: off.
    std::fs::write(dir.path().join("settings.toml"), {
        let text = std::fs::read_to_string(dir.path().join("settings.toml")).unwrap();
        format!("signals_every_hours = 0\n{text}")
    })
    .unwrap();
    runtime.block_on(async {
        let user = rf_core::LocalUser { id: "ana".parse().unwrap(), display_name: "Ana".into() };
        let core = rf_core::Core::open_with(rf_core::CoreConfig { threads: 1, ..rf_core::CoreConfig::new(dir.path(), user) }).await.unwrap();
        assert!(core.sweep_due_signals().await.unwrap().is_empty());
        core.close().await;
    });
}

/// With Semrush and Ahrefs configured, a sweep measures the brand's own
/// website: organic traffic and keywords from both, Domain Rating from
/// Ahrefs; a repeat within the TTL sends nothing.
#[test]
fn a_sweep_measures_the_brand_website_through_semrush_and_ahrefs() {
    require_keyring();
    let semrush = FakeProvider::start();
    semrush.always(Reply::connector("semrush/domain_ranks_200.csv"));
    let ahrefs = FakeProvider::start();
    ahrefs.script([Reply::connector("ahrefs/metrics_200.json"), Reply::connector("ahrefs/domain_rating_200.json")]);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let workspace = branded_workspace(data);
    cli(data, &["connectors", "add", "semrush", "--base-url", &semrush.url, "--key-stdin"], "semrush-key\n").ok();
    cli(data, &["connectors", "add", "ahrefs", "--base-url", &ahrefs.url, "--key-stdin"], "ahrefs-key\n").ok();

    let first = cli(data, &["signals", "fetch", "--workspace", &workspace, "--json"], "").ok().json();
    let recorded: Vec<(&str, f64)> =
        first["recorded"].as_array().unwrap().iter().map(|r| (r["series"].as_str().unwrap(), r["value"].as_f64().unwrap())).collect();
    assert_eq!(
        recorded,
        [
            ("organic-traffic/semrush/fernhill.coffee", 88412.0),
            ("organic-keywords/semrush/fernhill.coffee", 15234.0),
            ("organic-traffic/ahrefs/fernhill.coffee", 88412.0),
            ("organic-keywords/ahrefs/fernhill.coffee", 15234.0),
            ("domain-rating/ahrefs/fernhill.coffee", 91.0),
        ]
    );
    // Semrush: one line of 10 units at $0.00005; Ahrefs: $0 until priced.
    assert_eq!((first["calls_sent"].as_u64(), first["cost_micro_usd"].as_u64()), (Some(3), Some(500)));
    assert!(semrush.seen()[0].query.starts_with("type=domain_ranks&domain=fernhill.coffee&database=us&"), "{}", semrush.seen()[0].query);
    assert!(ahrefs.seen()[1].query.starts_with("target=fernhill.coffee&date="), "{}", ahrefs.seen()[1].query);

    let again = cli(data, &["signals", "fetch", "--workspace", &workspace, "--json"], "").ok().json();
    assert_eq!((again["calls_sent"].as_u64(), again["cache_hits"].as_u64()), (Some(0), Some(3)));
    assert_eq!(semrush.n_requests() + ahrefs.n_requests(), 3, "the repeat within the TTL sent nothing");
    let list = cli(data, &["signals", "list", "--workspace", &workspace], "").ok();
    assert!(list.stdout.contains("domain-rating/ahrefs/fernhill.coffee"), "{}", list.stdout);
}
