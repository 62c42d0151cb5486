//! The connectors against a local fake server that answers in the vendors'
//! documented shapes (`tests/fixtures/connectors/`), with a real ledger
//! file: what is sent, what is read, how failures are reported, retried,
//! kept out of the cache, and what every call costs.

#[path = "bench.rs"]
mod bench;
#[path = "../providers/fake_provider.rs"]
mod fake_provider;

use std::{num::NonZeroU32, time::Duration};

use bench::{KEY, bench};
use fake_provider::Reply;
use rf_connectors::{Call, Connector, ConnectorError, FetchOptions, Service, ahrefs, brave, newsapi, semrush, x};
use rf_metering::ledger::{BudgetScope, ReportFilter};

fn everything(q: &str) -> newsapi::Everything {
    newsapi::Everything { q: q.into(), sort_by: Some(newsapi::SortBy::PublishedAt), page_size: Some(20), ..newsapi::Everything::default() }
}

fn search(q: &str) -> brave::Search {
    brave::Search { q: q.into(), count: Some(10), ..brave::Search::default() }
}

#[tokio::test]
async fn newsapi_sends_the_key_in_its_header_and_reads_the_documented_answers() {
    let bench = bench().await;
    bench.server.script([Reply::connector("newsapi/everything_200.json"), Reply::connector("newsapi/top_headlines_200.json")]);
    let connector = bench.connector(Service::NewsApi);

    let found = newsapi::everything(&bench.gateway, bench.call(&connector), &everything("folding bike")).await.unwrap();
    assert_eq!(found.value.total_results, 2);
    assert_eq!(found.value.articles[0].source.name, "Cycling Weekly");
    assert_eq!(found.value.articles[1].source.id.as_deref(), Some("the-verge"));
    assert_eq!(found.value.articles[1].description, None);
    assert!(!found.cached);
    assert_eq!(found.cost_micro_usd, 1796, "the catalog's price of a NewsAPI call");
    let headlines = newsapi::TopHeadlines { country: Some("us".into()), category: Some("business".into()), ..newsapi::TopHeadlines::default() };
    let top = newsapi::top_headlines(&bench.gateway, bench.call(&connector), &headlines).await.unwrap();
    assert_eq!(top.value.articles[0].title, "Retail sales beat forecasts in November");

    let seen = bench.server.seen();
    assert_eq!((seen[0].path.as_str(), seen[0].query.as_str()), ("/v2/everything", "q=folding+bike&sortBy=publishedAt&pageSize=20"));
    assert_eq!((seen[1].path.as_str(), seen[1].query.as_str()), ("/v2/top-headlines", "country=us&category=business"));
    for request in &seen {
        assert_eq!(request.headers["x-api-key"], KEY);
        assert!(!request.query.contains(KEY), "the key is not in the URL");
    }
    let rows = bench.rows().await;
    let summary: Vec<(String, String, u64, bool, String)> =
        rows.iter().map(|r| (r.provider.to_string(), r.model.to_string(), r.cost_micro_usd, r.cache_hit, r.outcome.clone())).collect();
    assert_eq!(
        summary,
        [("newsapi".into(), "everything".into(), 1796, false, "ok".into()), ("newsapi".into(), "top-headlines".into(), 1796, false, "ok".into())]
    );
    assert_eq!(rows[0].context, bench.context, "the call is booked to the workspace that made it");
}

#[tokio::test]
async fn brave_sends_the_subscription_token_and_reads_web_and_news_results() {
    let bench = bench().await;
    bench.server.script([Reply::connector("brave/web_search_200.json"), Reply::connector("brave/news_search_200.json")]);
    let connector = bench.connector(Service::Brave);

    let web = brave::web_search(&bench.gateway, bench.call(&connector), &search("folding bike")).await.unwrap();
    let hits = web.value.hits();
    assert_eq!(hits.len(), 2);
    assert_eq!(hits[0].source.as_deref(), Some("Example Reviews"));
    assert_eq!(hits[1].source.as_deref(), Some("en.wikipedia.org"), "without a profile, the site's host name");
    assert_eq!(web.cost_micro_usd, 5000);
    let news =
        brave::news_search(&bench.gateway, bench.call(&connector), &brave::Search { freshness: Some("pw".into()), ..search("folding bike") }).await.unwrap();
    assert_eq!(news.value.hits()[0].published.as_deref(), Some("2026-12-02T10:30:00"));

    let seen = bench.server.seen();
    assert_eq!((seen[0].path.as_str(), seen[0].query.as_str()), ("/res/v1/web/search", "q=folding+bike&count=10"));
    assert_eq!((seen[1].path.as_str(), seen[1].query.as_str()), ("/res/v1/news/search", "q=folding+bike&count=10&freshness=pw"));
    for request in &seen {
        assert_eq!(request.headers["x-subscription-token"], KEY);
        assert_eq!(request.headers["accept"], "application/json");
    }
    // A search Brave would refuse is refused here, with nothing sent.
    let too_long = brave::Search { q: "word ".repeat(51), ..brave::Search::default() };
    let err = brave::web_search(&bench.gateway, bench.call(&connector), &too_long).await.unwrap_err();
    assert!(err.to_string().contains("at most 50 words (it has 255 and 51)"), "{err}");
    assert_eq!(bench.server.n_requests(), 2);
}

#[tokio::test]
async fn a_refused_key_is_said_plainly_is_not_retried_and_costs_nothing() {
    let bench = bench().await;
    bench.server.script([Reply::connector("newsapi/error_401_apiKeyInvalid.json"), Reply::connector("brave/error_422_SUBSCRIPTION_TOKEN_INVALID.json")]);
    let news = bench.connector(Service::NewsApi);
    let err = newsapi::everything(&bench.gateway, bench.call(&news), &everything("x")).await.unwrap_err();
    assert!(matches!(&err, ConnectorError::BadKey { detail, .. } if detail.starts_with("apiKeyInvalid: Your API key is invalid")), "{err}");
    assert!(err.to_string().contains("raptorflow connectors add newsapi --key-stdin"), "{err}");
    let web = bench.connector(Service::Brave);
    let err = brave::web_search(&bench.gateway, bench.call(&web), &search("x")).await.unwrap_err();
    assert!(matches!(&err, ConnectorError::BadKey { detail, .. } if detail.starts_with("SUBSCRIPTION_TOKEN_INVALID")), "{err}");
    assert_eq!(bench.server.n_requests(), 2, "one request each: a refused key is not retried");
    let rows = bench.rows().await;
    assert_eq!(rows.iter().map(|r| (r.cost_micro_usd, r.outcome.as_str())).collect::<Vec<_>>(), [(0, "bad_key"), (0, "bad_key")]);

    // A missing key is found before anything is sent.
    let keyless = Connector { key: None, ..bench.connector(Service::NewsApi) };
    let err = newsapi::everything(&bench.gateway, bench.call(&keyless), &everything("x")).await.unwrap_err();
    assert!(matches!(err, ConnectorError::NoKey { service: Service::NewsApi }), "{err}");
    assert_eq!(bench.server.n_requests(), 2);
}

#[tokio::test]
async fn rate_limits_are_waited_out_as_asked_and_other_failures_are_retried_a_bounded_number_of_times() {
    let bench = bench().await;
    let news = bench.connector(Service::NewsApi);
    // 429 with Retry-After: 1, then an answer.
    bench
        .server
        .script([Reply::connector("newsapi/error_429_rateLimited.json").with_header("retry-after", "1"), Reply::connector("newsapi/everything_200.json")]);
    let started = std::time::Instant::now();
    let found = newsapi::everything(&bench.gateway, bench.call(&news), &everything("bikes")).await.unwrap();
    assert_eq!(found.value.articles.len(), 2);
    assert!(started.elapsed() >= Duration::from_millis(950), "it waited the second it was asked to: {:?}", started.elapsed());
    assert_eq!(bench.server.n_requests(), 2);

    // 5xx four times: four tries (the policy's bound), then a clear error.
    bench.server.script(vec![Reply::connector("newsapi/error_500_unexpectedError.json"); 4]);
    let err = newsapi::everything(&bench.gateway, bench.call(&news), &everything("prices")).await.unwrap_err();
    assert!(matches!(&err, ConnectorError::Server { status: 500, attempts: 4, detail, .. } if detail.starts_with("unexpectedError")), "{err}");
    assert_eq!(bench.server.n_requests(), 6);

    // A Retry-After longer than the policy allows is not waited out here.
    bench.server.script([Reply::connector("brave/error_429_RATE_LIMITED.json").with_header("retry-after", "3600")]);
    let web = bench.connector(Service::Brave);
    let err = brave::web_search(&bench.gateway, bench.call(&web), &search("bikes")).await.unwrap_err();
    assert!(matches!(&err, ConnectorError::RateLimited { attempts: 1, retry_after: Some(wait), .. } if *wait == Duration::from_secs(3600)), "{err}");
    assert!(err.to_string().contains("it asks to wait 3600 s"), "{err}");

    // A spent quota answers 429 too, but waiting will not help: one try.
    bench.server.script([Reply::connector("newsapi/error_429_apiKeyExhausted.json"), Reply::connector("brave/error_429_QUOTA_LIMITED.json")]);
    let err = newsapi::everything(&bench.gateway, bench.call(&news), &everything("quota")).await.unwrap_err();
    assert!(matches!(err, ConnectorError::QuotaSpent { service: Service::NewsApi, .. }), "{err}");
    let err = brave::web_search(&bench.gateway, bench.call(&web), &search("quota")).await.unwrap_err();
    assert!(matches!(err, ConnectorError::QuotaSpent { service: Service::Brave, .. }), "{err}");
    assert_eq!(bench.server.n_requests(), 9);

    // A bad request is not retried and keeps the vendor's explanation.
    bench.server.script([Reply::connector("newsapi/error_400_parametersMissing.json")]);
    let err = newsapi::everything(&bench.gateway, bench.call(&news), &everything("params")).await.unwrap_err();
    assert!(matches!(&err, ConnectorError::BadRequest { status: 400, detail, .. } if detail.contains("Required parameters are missing")), "{err}");
    assert_eq!(bench.server.n_requests(), 10);

    let outcomes: Vec<String> = bench.rows().await.into_iter().map(|r| r.outcome).collect();
    assert_eq!(outcomes, ["ok", "server_error", "rate_limited", "quota_spent", "quota_spent", "bad_request"]);
}

#[tokio::test]
async fn a_malformed_answer_is_an_error_and_nothing_of_it_is_cached() {
    let bench = bench().await;
    let news = bench.connector(Service::NewsApi);
    bench.server.script([
        Reply::raw(200, "<html>proxy login</html>"),
        Reply::raw(200, r#"{"status":"ok","totalResults":"many","articles":[]}"#),
        Reply::raw(200, r#"{"status":"error","code":"unexpectedError","message":"in a 200"}"#),
    ]);
    for expected in ["expected value", "invalid type: string \"many\"", "status \"error\" in a 200 answer"] {
        let err = newsapi::everything(&bench.gateway, bench.call(&news), &everything("bikes")).await.unwrap_err();
        assert!(matches!(&err, ConnectorError::Malformed { detail, .. } if detail.contains(expected)), "{expected}: {err}");
    }
    let web = bench.connector(Service::Brave);
    bench.server.script([Reply::connector("brave/news_search_200.json")]);
    let err = brave::web_search(&bench.gateway, bench.call(&web), &search("bikes")).await.unwrap_err();
    assert!(matches!(&err, ConnectorError::Malformed { detail, .. } if detail.contains("type \"news\" where \"search\" was expected")), "{err}");
    // The same request again goes out: nothing was cached from the failures.
    bench.server.script([Reply::connector("newsapi/everything_200.json")]);
    let found = newsapi::everything(&bench.gateway, bench.call(&news), &everything("bikes")).await.unwrap();
    assert!(!found.cached);
    assert_eq!(bench.server.n_requests(), 5);
    let rows = bench.rows().await;
    assert_eq!(rows.iter().filter(|r| r.outcome == "malformed").count(), 4);
}

#[tokio::test]
async fn a_repeated_call_within_its_ttl_sends_nothing_and_costs_nothing() {
    let bench = bench().await;
    bench.server.always(Reply::connector("brave/web_search_200.json"));
    let web = bench.connector(Service::Brave);
    let first = brave::web_search(&bench.gateway, bench.call(&web), &search("folding bike")).await.unwrap();
    let again = brave::web_search(&bench.gateway, bench.call(&web), &search("folding bike")).await.unwrap();
    assert!(!first.cached && again.cached);
    assert_eq!(again.value, first.value);
    assert_eq!((first.cost_micro_usd, again.cost_micro_usd), (5000, 0));
    assert_eq!(bench.server.n_requests(), 1);
    // Another query, or another endpoint, is another request.
    brave::web_search(&bench.gateway, bench.call(&web), &search("cargo bike")).await.unwrap();
    assert_eq!(bench.server.n_requests(), 2);
    // Asking not to use the cache (`connectors test`) sends it.
    let fresh = Call { options: FetchOptions { allow_network: true, use_cache: false }, ..bench.call(&web) };
    assert!(!brave::web_search(&bench.gateway, fresh, &search("folding bike")).await.unwrap().cached);
    assert_eq!(bench.server.n_requests(), 3);

    let report = bench.gateway.ledger().report(&ReportFilter::default()).await.unwrap();
    assert_eq!((report.total.calls, report.total.cache_hits, report.total.cost_micro_usd), (4, 1, 15_000));
}

#[tokio::test]
async fn offline_only_the_cache_answers_and_nothing_is_sent() {
    let bench = bench().await;
    bench.server.always(Reply::connector("newsapi/everything_200.json"));
    let news = bench.connector(Service::NewsApi);
    newsapi::everything(&bench.gateway, bench.call(&news), &everything("cached")).await.unwrap();
    let offline = Call { options: FetchOptions { allow_network: false, use_cache: true }, ..bench.call(&news) };
    assert!(newsapi::everything(&bench.gateway, offline, &everything("cached")).await.unwrap().cached);
    let err = newsapi::everything(&bench.gateway, offline, &everything("not cached")).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Offline { service: Service::NewsApi }), "{err}");
    assert!(err.to_string().contains("nothing leaves this machine"), "{err}");
    assert_eq!(bench.server.n_requests(), 1);
}

#[tokio::test]
async fn the_daily_limit_and_the_budget_stop_a_call_before_it_is_sent() {
    let bench = bench().await;
    bench.server.always(Reply::connector("newsapi/everything_200.json"));
    let mut news = bench.connector(Service::NewsApi);
    news.limits.requests_per_day = Some(2);
    for q in ["one", "two"] {
        newsapi::everything(&bench.gateway, bench.call(&news), &everything(q)).await.unwrap();
    }
    // Cache hits do not count against the day.
    assert!(newsapi::everything(&bench.gateway, bench.call(&news), &everything("one")).await.unwrap().cached);
    let err = newsapi::everything(&bench.gateway, bench.call(&news), &everything("three")).await.unwrap_err();
    assert!(matches!(err, ConnectorError::DailyLimit { limit: 2, .. }), "{err}");
    assert_eq!(bench.server.n_requests(), 2);

    // A workspace budget with less left than a call costs refuses it.
    let web = bench.connector(Service::Brave);
    bench.gateway.ledger().set_budget(&BudgetScope::Workspace(bench.context.workspace_id.unwrap()), 5000).await.unwrap();
    let err = brave::web_search(&bench.gateway, bench.call(&web), &search("over budget")).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Budget { service: Service::Brave, .. }), "{err}");
    assert!(err.to_string().contains("raptorflow cost budget --workspace"), "{err}");
    assert_eq!(bench.server.n_requests(), 2);
    assert_eq!(bench.gateway.ledger().reserved_micro_usd().await.unwrap(), 0, "no reservation is left behind");
}

#[tokio::test]
async fn calls_are_spaced_to_the_vendors_rate() {
    let bench = bench().await;
    bench.server.always(Reply::connector("brave/web_search_200.json"));
    let mut web = bench.connector(Service::Brave);
    web.limits.requests_per_second = NonZeroU32::new(2).unwrap();
    let started = std::time::Instant::now();
    for q in ["a", "b", "c"] {
        brave::web_search(&bench.gateway, bench.call(&web), &search(q)).await.unwrap();
    }
    // At two a second the third call cannot leave before one second: a
    // lower bound the limiter guarantees, however loaded the machine.
    assert!(started.elapsed() >= Duration::from_millis(950), "three calls at 2/s took {:?}", started.elapsed());
    assert_eq!(bench.server.n_requests(), 3);
}

#[tokio::test]
async fn semrush_reads_its_reports_and_bills_api_units_by_the_line_it_returns() {
    let bench = bench().await;
    bench.server.script([
        Reply::connector("semrush/domain_organic_200.csv"),
        Reply::connector("semrush/phrase_this_200.csv"),
        Reply::connector("semrush/domain_ranks_200.csv"),
        Reply::connector("semrush/nothing_found_200.txt"),
    ]);
    let connector = bench.connector(Service::Semrush);

    let keywords = semrush::organic_keywords(&bench.gateway, bench.call(&connector), "https://www.Example-Bikes.com/shop", "us", 20).await.unwrap();
    assert_eq!(keywords.value.len(), 3);
    assert_eq!((keywords.value[0].keyword.as_str(), keywords.value[0].position, keywords.value[0].search_volume), ("folding bike", Some(3), Some(49500)));
    assert_eq!(keywords.value[2].keyword, "folding bike; commuter", "a quoted value keeps its semicolon");
    assert_eq!(keywords.value[2].cpc, None, "an empty value is no figure, not zero");
    // 3 lines of 10 API units at $0.00005 a unit.
    assert_eq!(keywords.cost_micro_usd, 1500);
    let overview = semrush::keyword_overview(&bench.gateway, bench.call(&connector), "  folding   bike ", "us").await.unwrap();
    let overview = overview.value.expect("one line");
    assert_eq!((overview.search_volume, overview.competition, overview.results), (Some(49500), Some(1.0), Some(214_000_000)));
    let domain = semrush::domain_overview(&bench.gateway, bench.call(&connector), "example-bikes.com", "uk").await.unwrap();
    let domain = domain.value.expect("one line");
    assert_eq!((domain.rank, domain.organic_keywords, domain.organic_traffic), (Some(48213), Some(15234), Some(88412)));
    // ERROR 50 is an empty report, and costs nothing.
    let nothing = semrush::organic_keywords(&bench.gateway, bench.call(&connector), "new-shop.example", "us", 10).await.unwrap();
    assert!(nothing.value.is_empty());
    assert_eq!(nothing.cost_micro_usd, 0);

    let seen = bench.server.seen();
    assert_eq!(seen[0].path, "/");
    assert_eq!(
        seen[0].query,
        format!(
            "type=domain_organic&domain=example-bikes.com&database=us&display_limit=20&display_sort=tr_desc&export_columns=Ph%2CPo%2CNq%2CCp%2CUr%2CTr&export_escape=1&key={KEY}"
        )
    );
    assert_eq!(seen[1].query, format!("type=phrase_this&phrase=folding+bike&database=us&export_columns=Ph%2CNq%2CCp%2CCo%2CNr&export_escape=1&key={KEY}"));
    assert!(seen[2].query.starts_with("type=domain_ranks&domain=example-bikes.com&database=uk&"), "{}", seen[2].query);
    let rows = bench.rows().await;
    let summary: Vec<(String, u64)> = rows.iter().map(|r| (r.model.to_string(), r.cost_micro_usd)).collect();
    assert_eq!(summary, [("domain-organic".into(), 1500), ("phrase-this".into(), 500), ("domain-ranks".into(), 500), ("domain-organic".into(), 0)]);
}

#[tokio::test]
async fn semrush_errors_in_a_200_answer_are_errors_cost_nothing_and_never_show_the_key() {
    let bench = bench().await;
    bench.server.script([Reply::connector("semrush/error_200_wrong_key.txt"), Reply::connector("semrush/error_200_units_spent.txt")]);
    let connector = bench.connector(Service::Semrush);
    let err = semrush::keyword_overview(&bench.gateway, bench.call(&connector), "bikes", "us").await.unwrap_err();
    assert!(matches!(&err, ConnectorError::BadKey { detail, .. } if detail == "ERROR 120: WRONG KEY - ID PAIR"), "{err}");
    let err = semrush::keyword_overview(&bench.gateway, bench.call(&connector), "cars", "us").await.unwrap_err();
    assert!(matches!(&err, ConnectorError::QuotaSpent { .. }), "{err}");
    assert!(err.to_string().contains("API UNITS BALANCE IS ZERO"), "{err}");
    let rows = bench.rows().await;
    assert_eq!(rows.iter().map(|r| (r.cost_micro_usd, r.outcome.as_str())).collect::<Vec<_>>(), [(0, "bad_key"), (0, "quota_spent")]);
    // Neither answer was cached: the next call goes out.
    bench.server.script([Reply::connector("semrush/phrase_this_200.csv")]);
    assert!(!semrush::keyword_overview(&bench.gateway, bench.call(&connector), "bikes", "us").await.unwrap().cached);

    // Unreachable: the message names the URL without its query, so not the key.
    let mut gone = bench.connector(Service::Semrush);
    gone.base_url = "http://127.0.0.1:9/".parse().unwrap();
    let err = semrush::keyword_overview(&bench.gateway, bench.call(&gone), "bikes", "us").await.unwrap_err();
    assert!(matches!(err, ConnectorError::Unreachable { .. }), "{err}");
    assert!(!err.to_string().contains(KEY), "{err}");

    // Bad input is refused before anything is sent.
    let sent = bench.server.n_requests();
    for (domain, database, expected) in [("not a domain", "us", "is not a domain"), ("example.com", "US;x", "is not a Semrush database")] {
        let err = semrush::organic_keywords(&bench.gateway, bench.call(&connector), domain, database, 10).await.unwrap_err();
        assert!(err.to_string().contains(expected), "{err}");
    }
    assert_eq!(bench.server.n_requests(), sent);
}

#[tokio::test]
async fn semrush_reserves_the_most_a_report_can_cost_before_sending_it() {
    let bench = bench().await;
    bench.server.always(Reply::connector("semrush/domain_organic_200.csv"));
    let connector = bench.connector(Service::Semrush);
    // $0.04 left: 100 lines at 10 units and $0.00005 a unit would be $0.05.
    bench.gateway.ledger().set_budget(&BudgetScope::Workspace(bench.context.workspace_id.unwrap()), 40_000).await.unwrap();
    let err = semrush::organic_keywords(&bench.gateway, bench.call(&connector), "example-bikes.com", "us", 100).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Budget { service: Service::Semrush, .. }), "{err}");
    assert_eq!(bench.server.n_requests(), 0);
    // 20 lines fit ($0.01); the 3 returned are what is billed.
    let fetched = semrush::organic_keywords(&bench.gateway, bench.call(&connector), "example-bikes.com", "us", 20).await.unwrap();
    assert_eq!(fetched.cost_micro_usd, 1500);
    assert_eq!(bench.gateway.ledger().reserved_micro_usd().await.unwrap(), 0, "the reservation is settled to the actual cost");
}

#[tokio::test]
async fn ahrefs_sends_a_bearer_key_and_bills_the_units_it_reports() {
    let bench = bench().await;
    bench.server.script([
        Reply::connector("ahrefs/organic_keywords_200.json").with_header("x-api-rows", "3").with_header("x-api-units-cost-total-actual", "69"),
        Reply::connector("ahrefs/domain_rating_200.json"),
        Reply::connector("ahrefs/metrics_200.json").with_header("x-api-units-cost-total-actual", "0").with_header("x-api-cache", "hit"),
    ]);
    let mut connector = bench.connector(Service::Ahrefs);
    // Ahrefs publishes no unit price; a user who sets one gets costs.
    connector.limits.micro_usd_per_call = 100;

    let keywords = ahrefs::organic_keywords(&bench.gateway, bench.call(&connector), "example-bikes.com", "2026-12-06", "us", 20).await.unwrap();
    assert_eq!(keywords.value.len(), 3);
    assert_eq!(keywords.value[0].hit().title, "folding bike (position 3, 49500 searches a month)");
    assert_eq!((keywords.value[2].best_position, keywords.value[2].sum_traffic), (None, None));
    assert_eq!(keywords.cost_micro_usd, 6900, "the 69 units Ahrefs reported, at 100 micro-dollars each");
    // Without a report, the documented minimum of 50 units.
    let rating = ahrefs::domain_rating(&bench.gateway, bench.call(&connector), "ahrefs.com", "2026-12-06").await.unwrap();
    assert_eq!((rating.value.domain_rating, rating.value.ahrefs_rank, rating.cost_micro_usd), (91.0, Some(3), 5000));
    // An answer from Ahrefs' own cache costs no units.
    let metrics = ahrefs::metrics(&bench.gateway, bench.call(&connector), "example-bikes.com", "2026-12-06", Some("us")).await.unwrap();
    assert_eq!((metrics.value.org_traffic, metrics.value.paid_cost, metrics.cost_micro_usd), (88412, None, 0));

    let seen = bench.server.seen();
    assert_eq!(seen[0].path, "/v3/site-explorer/organic-keywords");
    assert_eq!(
        seen[0].query,
        "target=example-bikes.com&date=2026-12-06&country=us&select=keyword%2Cbest_position%2Cbest_position_url%2Cvolume%2Csum_traffic&order_by=sum_traffic%3Adesc&limit=20"
    );
    assert_eq!((seen[1].path.as_str(), seen[1].query.as_str()), ("/v3/site-explorer/domain-rating", "target=ahrefs.com&date=2026-12-06"));
    for request in &seen {
        assert_eq!(request.headers["authorization"], format!("Bearer {KEY}"));
        assert!(!request.query.contains(KEY));
    }
    // At the catalog's price ($0 a unit) nothing is charged.
    assert_eq!(Connector::new(Service::Ahrefs, None).limits.micro_usd_per_call, 0);
}

#[tokio::test]
async fn ahrefs_errors_are_clear_and_a_report_that_could_exceed_the_budget_is_not_sent() {
    let bench = bench().await;
    bench.server.script([
        Reply::connector("ahrefs/error_401.json"),
        Reply::connector("ahrefs/error_403_units.json"),
        Reply::connector("ahrefs/error_429.json"),
        Reply::connector("ahrefs/domain_rating_200.json"),
    ]);
    let mut connector = bench.connector(Service::Ahrefs);
    connector.limits.micro_usd_per_call = 100;
    let mut outcomes = Vec::new();
    for _ in 0..3 {
        outcomes.push(ahrefs::domain_rating(&bench.gateway, bench.call(&connector), "example-bikes.com", "2026-12-06").await);
    }
    assert!(matches!(&outcomes[0], Err(ConnectorError::BadKey { detail, .. }) if detail == "Invalid API key"), "{:?}", outcomes[0]);
    assert!(matches!(&outcomes[1], Err(ConnectorError::QuotaSpent { .. })), "{:?}", outcomes[1]);
    // A 429 (Ahrefs sends no Retry-After) is retried with backoff.
    assert!(matches!(&outcomes[2], Ok(rating) if rating.value.domain_rating == 91.0), "{:?}", outcomes[2]);
    assert_eq!(bench.server.n_requests(), 4);
    let rows = bench.rows().await;
    assert_eq!(rows.iter().map(|r| (r.cost_micro_usd, r.outcome.as_str())).collect::<Vec<_>>(), [(0, "bad_key"), (0, "quota_spent"), (5000, "ok")]);

    // 100 rows at 23 units a row is 2,300 units, $0.23 at this price: over $0.20 left.
    bench.gateway.ledger().set_budget(&BudgetScope::Workspace(bench.context.workspace_id.unwrap()), 205_000).await.unwrap();
    let err = ahrefs::organic_keywords(&bench.gateway, bench.call(&connector), "example-bikes.com", "2026-12-06", "us", 100).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Budget { service: Service::Ahrefs, .. }), "{err}");
    for (target, date, country, expected) in [
        ("not a domain", "2026-12-06", "us", "not a domain or URL"),
        ("example.com", "12/06/2026", "us", "not a date"),
        ("example.com", "2026-12-06", "USA", "two-letter"),
    ] {
        let err = ahrefs::organic_keywords(&bench.gateway, bench.call(&connector), target, date, country, 10).await.unwrap_err();
        assert!(err.to_string().contains(expected), "{err}");
    }
    assert_eq!(bench.server.n_requests(), 4, "nothing sent for the refused calls");
}

#[tokio::test]
async fn x_searches_finds_accounts_and_reads_their_posts_with_the_bearer_token() {
    let bench = bench().await;
    bench.server.script([
        Reply::connector("x/search_recent_200.json"),
        Reply::connector("x/search_recent_empty_200.json"),
        Reply::connector("x/user_by_username_200.json"),
        Reply::connector("x/user_posts_200.json"),
        Reply::connector("x/user_not_found_200.json"),
    ]);
    let connector = bench.connector(Service::X);
    let search = x::Search {
        query: "\"Fernhill F1\" -is:retweet".into(),
        start_time: Some("2026-12-05T00:00:00Z".into()),
        end_time: Some("2026-12-06T00:00:00Z".into()),
        max_results: Some(100),
    };
    let found = x::search_recent(&bench.gateway, bench.call(&connector), &search).await.unwrap();
    assert_eq!(found.value.meta.result_count, 2);
    assert_eq!(found.value.data[1].created_at.as_deref(), Some("2026-12-05T06:15:27.000Z"));
    let hit = rf_connectors::Hit::from(&found.value.data[1]);
    assert_eq!((hit.title.as_str(), hit.url.as_str()), ("Anyone tried the Fernhill F1 with a child seat?…", "https://x.com/i/web/status/1866490311750365184"));
    let none = x::search_recent(&bench.gateway, bench.call(&connector), &x::Search { query: "nobody says this".into(), ..x::Search::default() }).await.unwrap();
    assert_eq!((none.value.meta.result_count, none.value.data.len()), (0, 0), "no `data` when nothing matched");
    let user = x::user_by_username(&bench.gateway, bench.call(&connector), "@Brompton").await.unwrap();
    assert_eq!(user.value.id, "2244994945");
    let posts = x::user_posts(&bench.gateway, bench.call(&connector), &user.value.id, ("2026-11-29T00:00:00Z", "2026-12-06T00:00:00Z"), 100).await.unwrap();
    assert_eq!(posts.value.meta.result_count, 3);
    assert_eq!(posts.value.meta.next_token, None);

    // An account that does not exist: X answers 200 with a problem; it is
    // not found, costs nothing, and is not cached.
    let err = x::user_by_username(&bench.gateway, bench.call(&connector), "nosuchshop").await.unwrap_err();
    assert!(matches!(&err, ConnectorError::NotFound { detail, .. } if detail == "Could not find user with username: [nosuchshop]."), "{err}");

    let seen = bench.server.seen();
    let sent: Vec<(&str, &str)> = seen.iter().map(|r| (r.path.as_str(), r.query.as_str())).collect();
    assert_eq!(
        sent,
        [
            (
                "/2/tweets/search/recent",
                "query=%22Fernhill+F1%22+-is%3Aretweet&max_results=100&start_time=2026-12-05T00%3A00%3A00Z&end_time=2026-12-06T00%3A00%3A00Z&tweet.fields=created_at%2Cauthor_id"
            ),
            ("/2/tweets/search/recent", "query=nobody+says+this&max_results=10&tweet.fields=created_at%2Cauthor_id"),
            ("/2/users/by/username/Brompton", ""),
            ("/2/users/2244994945/tweets", "start_time=2026-11-29T00%3A00%3A00Z&end_time=2026-12-06T00%3A00%3A00Z&max_results=100&tweet.fields=created_at"),
            ("/2/users/by/username/nosuchshop", ""),
        ]
    );
    for request in &seen {
        assert_eq!(request.headers["authorization"], format!("Bearer {KEY}"));
    }
    let outcomes: Vec<(String, String)> = bench.rows().await.into_iter().map(|r| (r.model.to_string(), r.outcome)).collect();
    let expected = [("search-recent", "ok"), ("search-recent", "ok"), ("user-by-username", "ok"), ("user-posts", "ok"), ("user-by-username", "not_found")];
    assert_eq!(outcomes, expected.map(|(a, b)| (a.to_owned(), b.to_owned())));

    // What X would refuse is refused here, with nothing sent.
    let long = x::Search { query: "a".repeat(513), ..x::Search::default() };
    for err in [
        x::search_recent(&bench.gateway, bench.call(&connector), &long).await.unwrap_err(),
        x::search_recent(&bench.gateway, bench.call(&connector), &x::Search { query: "bikes".into(), max_results: Some(5), ..x::Search::default() })
            .await
            .unwrap_err(),
        x::user_by_username(&bench.gateway, bench.call(&connector), "not a handle").await.unwrap_err(),
        x::user_posts(&bench.gateway, bench.call(&connector), "../users/me", ("2026-11-29T00:00:00Z", "2026-12-06T00:00:00Z"), 100).await.unwrap_err(),
    ] {
        assert!(matches!(err, ConnectorError::BadRequest { status: 0, .. }), "{err}");
    }
    assert_eq!(bench.server.n_requests(), 5);
}

#[tokio::test]
async fn an_x_post_is_sent_once_never_cached_and_never_retried() {
    let bench = bench().await;
    let connector = bench.connector(Service::X);
    let text = "Fold it in ten seconds, carry it onto the train, ride the last mile.";
    bench.server.script([
        Reply::connector("x/create_post_201.json"),
        Reply::connector("x/create_post_201.json"),
        Reply::connector("x/error_503.json"),
        Reply::connector("x/error_429.json").with_header("retry-after", "1"),
        Reply::connector("x/error_403.json"),
        Reply::raw(201, "<html>accepted</html>"),
    ]);
    let posted = x::create_post(&bench.gateway, bench.call(&connector), text).await.unwrap();
    assert_eq!(posted.value.url(), "https://x.com/i/web/status/1866612345678901248");
    assert!(!posted.cached);
    // The same text again is a second post, not a cached answer.
    x::create_post(&bench.gateway, bench.call(&connector), text).await.unwrap();
    let seen = bench.server.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!((seen[0].path.as_str(), &seen[0].body), ("/2/tweets", &serde_json::json!({ "text": text })));
    assert_eq!(seen[0].headers["authorization"], format!("Bearer {KEY}"));

    // A 5xx answer: it may be out, so it is not tried again.
    let err = x::create_post(&bench.gateway, bench.call(&connector), text).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Unconfirmed { .. }), "{err}");
    assert!(err.to_string().contains("check the account before trying again"), "{err}");
    assert_eq!(bench.server.n_requests(), 3, "one request: a post is never retried");
    // A 429 was not processed: reported with X's wait, not waited out.
    let err = x::create_post(&bench.gateway, bench.call(&connector), text).await.unwrap_err();
    assert!(matches!(&err, ConnectorError::RateLimited { attempts: 1, retry_after: Some(wait), .. } if *wait == Duration::from_secs(1)), "{err}");
    // A token without tweet.write: the way out is said.
    let err = x::create_post(&bench.gateway, bench.call(&connector), text).await.unwrap_err();
    assert!(err.to_string().contains("raptorflow connectors auth x"), "{err}");
    // Accepted, but the answer is not X's: it is out, with no address.
    let err = x::create_post(&bench.gateway, bench.call(&connector), text).await.unwrap_err();
    assert!(matches!(&err, ConnectorError::Unconfirmed { detail, .. } if detail.contains("answered 201")), "{err}");
    assert_eq!(bench.server.n_requests(), 6);

    // Refused before sending: too long, empty, offline.
    let offline = Call { options: FetchOptions { allow_network: false, use_cache: true }, ..bench.call(&connector) };
    for err in [
        x::create_post(&bench.gateway, bench.call(&connector), &"a".repeat(281)).await.unwrap_err(),
        // 141 CJK characters weigh 282.
        x::create_post(&bench.gateway, bench.call(&connector), &"日".repeat(141)).await.unwrap_err(),
        x::create_post(&bench.gateway, bench.call(&connector), "  ").await.unwrap_err(),
        x::create_post(&bench.gateway, offline, text).await.unwrap_err(),
    ] {
        assert!(matches!(err, ConnectorError::BadRequest { status: 0, .. } | ConnectorError::Offline { .. }), "{err}");
    }
    assert_eq!(bench.server.n_requests(), 6);
    let rows: Vec<(String, String)> = bench.rows().await.into_iter().map(|r| (r.model.to_string(), r.outcome)).collect();
    let outcomes: Vec<&str> = rows.iter().map(|(_, o)| o.as_str()).collect();
    assert_eq!(outcomes, ["ok", "ok", "unconfirmed", "rate_limited", "bad_request", "unconfirmed"]);
    assert!(rows.iter().all(|(endpoint, _)| endpoint == "create-post"));

    // Weighed as X weighs it: a long link counts 23, so this post is sent.
    bench.server.script([Reply::connector("x/create_post_201.json")]);
    let linked = format!("{text} https://fernhill.coffee/{}", "winter-".repeat(40));
    assert!(linked.chars().count() > 280 && x::weighted_length(&linked) <= 280);
    x::create_post(&bench.gateway, bench.call(&connector), &linked).await.unwrap();
    assert_eq!(bench.server.n_requests(), 7);
}
