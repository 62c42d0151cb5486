//! Cloud model calls end to end against a local server that speaks each
//! provider's API (`fake_provider.rs`, bodies in `tests/data/providers/`):
//! answers and usage, structured output, every failure the issue lists, and
//! the ledger, budgets and cache around them — with a real ledger file.

mod fake_provider;

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use fake_provider::{FakeProvider, Reply, fixture};
use rf_ai::{AiError, BudgetScope, ChatRequest, ProviderError, StopReason, Usage};
use rf_cloud::{ApiKey, CloudConfig, CloudModel, HttpPolicy, ProviderKind};
use rf_domain::WorkspaceId;
use rf_metering::{
    ledger::{CallContext, Ledger, ReportFilter},
    metered::{self, CallOptions, MeteredCompletion},
    pricing::{Price, PriceTable},
};
use serde_json::json;
use tokio_util::sync::CancellationToken;

const KEY: &str = "sk-test-9f8e7d6c5b4a39281706";
const ANSWER: &str = "Fresh roast, slow mornings, good company.";

fn quick_policy() -> HttpPolicy {
    HttpPolicy {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(100),
        response_timeout: Duration::from_secs(10),
        idle_timeout: Duration::from_secs(10),
        ..HttpPolicy::default()
    }
}

fn model(server: &FakeProvider, kind: ProviderKind, model: &str, policy: HttpPolicy) -> CloudModel {
    let base = match kind {
        ProviderKind::OpenaiCompatible => format!("{}/v1", server.url),
        ProviderKind::Anthropic => server.url.clone(),
    };
    CloudModel::new(CloudConfig {
        name: "test-provider".parse().unwrap(),
        kind,
        base_url: base.parse().unwrap(),
        model: model.parse().unwrap(),
        key: ApiKey::new(KEY),
        policy,
    })
    .unwrap()
}

fn price(model: &str) -> Price {
    PriceTable::bundled().unwrap().get(model).unwrap_or_else(|| panic!("{model} is not in models/pricing.toml")).price
}

/// The workspace every call here is for.
const WORKSPACE: &str = "0192f0c1-7a6e-7cc0-9a4e-3b1d2c4e5f60";

fn workspace() -> WorkspaceId {
    WORKSPACE.parse().unwrap()
}

fn context() -> CallContext {
    CallContext {
        workspace_id: Some(workspace()),
        user_id: "ana".parse().unwrap(),
        agent_id: Some("MUSE-001".parse().unwrap()),
        run_id: Some("0192f0c1-7a6e-7cc0-9a4e-000000000001".parse().unwrap()),
        caller: None,
    }
}

struct Bench {
    _dir: tempfile::TempDir,
    ledger: Ledger,
}

async fn ledger() -> Bench {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(&dir.path().join("ledger.sqlite3")).await.unwrap();
    Bench { _dir: dir, ledger }
}

/// One metered call; returns its result and the pieces streamed.
async fn call(ledger: &Ledger, model: &CloudModel, price: &Price, request: &ChatRequest, use_cache: bool) -> (Result<MeteredCompletion, AiError>, Vec<String>) {
    let mut pieces = Vec::new();
    let options = CallOptions { use_cache, ..CallOptions::default() };
    let result = metered::call(
        ledger,
        model,
        price,
        metered::Call { context: &context(), request, options },
        &mut |piece| pieces.push(piece.to_owned()),
        &CancellationToken::new(),
    )
    .await;
    (result, pieces)
}

fn ad_schema() -> serde_json::Value {
    json!({
        "type": "object",
        "properties": {"headline": {"type": "string", "maxLength": 30}, "description": {"type": "string", "maxLength": 90}},
        "required": ["headline", "description"],
        "additionalProperties": false
    })
}

fn provider_error(result: Result<MeteredCompletion, AiError>) -> ProviderError {
    match result {
        Err(AiError::Provider(err)) => err,
        other => panic!("expected a provider error, got {other:?}"),
    }
}

#[tokio::test]
async fn openai_text_whole_and_streamed_with_usage_and_cost() {
    let server = FakeProvider::start();
    server.script([Reply::ok("openai/chat_text.json"), Reply::ok("openai/chat_text_stream.sse")]);
    let bench = ledger().await;
    let price = price("gpt-4o-mini");
    let request = ChatRequest::user("Write a tagline for a coffee shop.");
    for stream in [false, true] {
        let model = model(&server, ProviderKind::OpenaiCompatible, "gpt-4o-mini", HttpPolicy { stream, ..quick_policy() });
        let (result, pieces) = call(&bench.ledger, &model, &price, &request, false).await;
        let done = result.unwrap();
        assert_eq!(done.completion.text, ANSWER);
        assert_eq!(pieces.concat(), ANSWER);
        assert_eq!(pieces.len() > 1, stream, "streamed pieces: {pieces:?}");
        assert_eq!(done.completion.stop_reason, StopReason::EndOfTurn);
        assert_eq!(done.completion.usage, Usage { input_tokens: 24, output_tokens: 9, ..Usage::default() });
        // 24 × $0.15/M + 9 × $0.60/M = 3.6 + 5.4 µ$.
        assert_eq!(done.record.cost_micro_usd, 9);
        assert_eq!(done.record.outcome, "ok");
    }
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    for (request, stream) in seen.iter().zip([false, true]) {
        assert_eq!(request.path, "/v1/chat/completions");
        assert_eq!(request.headers["authorization"], format!("Bearer {KEY}"));
        assert_eq!(request.body["model"], "gpt-4o-mini");
        assert_eq!(request.body["messages"], json!([{"role": "user", "content": "Write a tagline for a coffee shop."}]));
        assert_eq!(request.body["max_tokens"], 256);
        assert_eq!(request.body["stream"], stream);
        assert_eq!(request.body["stream_options"]["include_usage"].as_bool(), stream.then_some(true));
    }
    let calls = bench.ledger.calls(&ReportFilter::default()).await.unwrap();
    assert_eq!(calls.len(), 2);
    assert!(calls.iter().all(|c| c.cost_micro_usd == 9 && c.context == context() && c.model == "gpt-4o-mini" && !c.usage.estimated));
}

#[tokio::test]
async fn openai_structured_output_is_requested_and_validated() {
    let server = FakeProvider::start();
    server.script([Reply::ok("openai/chat_structured.json"), Reply::ok("openai/chat_structured_stream.sse")]);
    let bench = ledger().await;
    let request = ChatRequest { schema: Some(ad_schema()), ..ChatRequest::user("Write a search ad for a coffee shop.") };
    for stream in [false, true] {
        let model = model(&server, ProviderKind::OpenaiCompatible, "gpt-4o-mini", HttpPolicy { stream, ..quick_policy() });
        let done = call(&bench.ledger, &model, &price("gpt-4o-mini"), &request, false).await.0.unwrap();
        let value: serde_json::Value = serde_json::from_str(&done.completion.text).unwrap();
        assert_eq!(value["headline"], "Slow Mornings, Fresh Roast");
        assert_eq!(done.completion.usage.input_tokens, 61);
        assert_eq!(done.completion.usage.output_tokens, 27);
    }
    for seen in server.seen() {
        assert_eq!(seen.body["response_format"]["type"], "json_schema");
        assert_eq!(seen.body["response_format"]["json_schema"]["schema"], ad_schema());
    }
    // An answer that does not match the schema is an error, recorded as such.
    let mut bad: serde_json::Value = serde_json::from_str(&fixture("openai/chat_structured.json")).unwrap();
    bad["choices"][0]["message"]["content"] = json!("{\"headline\": \"This headline is far longer than thirty characters\", \"description\": \"x\"}");
    server.script([Reply::raw(200, &bad.to_string())]);
    let model = model(&server, ProviderKind::OpenaiCompatible, "gpt-4o-mini", HttpPolicy { stream: false, ..quick_policy() });
    let err = provider_error(call(&bench.ledger, &model, &price("gpt-4o-mini"), &request, false).await.0);
    assert_eq!(err.code(), "schema_mismatch");
    assert!(err.to_string().contains("/headline"), "{err}");
    let calls = bench.ledger.calls(&ReportFilter::default()).await.unwrap();
    assert_eq!(calls.last().unwrap().outcome, "schema_mismatch");
    assert_eq!(calls.last().unwrap().usage.output_tokens, 27, "the tokens were used and billed");
}

#[tokio::test]
async fn anthropic_text_and_forced_tool_whole_and_streamed() {
    let server = FakeProvider::start();
    server.script([
        Reply::ok("anthropic/messages_text.json"),
        Reply::ok("anthropic/messages_text_stream.sse"),
        Reply::ok("anthropic/messages_tool.json"),
        Reply::ok("anthropic/messages_tool_stream.sse"),
    ]);
    let bench = ledger().await;
    let price = price("claude-3-5-haiku-latest");
    let mut text_request = ChatRequest::user("Write a tagline for a coffee shop.");
    text_request.messages.insert(0, rf_ai::ChatMessage::new("system", "You write short copy."));
    let tool_request = ChatRequest { schema: Some(ad_schema()), ..ChatRequest::user("Write a search ad for a coffee shop.") };
    for (request, stream) in [(&text_request, false), (&text_request, true), (&tool_request, false), (&tool_request, true)] {
        let model = model(&server, ProviderKind::Anthropic, "claude-3-5-haiku-latest", HttpPolicy { stream, ..quick_policy() });
        let (result, pieces) = call(&bench.ledger, &model, &price, request, false).await;
        let done = result.unwrap();
        assert_eq!(pieces.concat(), done.completion.text);
        if request.schema.is_some() {
            let value: serde_json::Value = serde_json::from_str(&done.completion.text).unwrap();
            assert_eq!(value["description"], "Small-batch coffee roasted every morning. Order by 10am for same-day pickup.");
            assert_eq!((done.completion.usage.input_tokens, done.completion.usage.output_tokens), (410, 48));
        } else {
            assert_eq!(done.completion.text, ANSWER);
            assert_eq!((done.completion.usage.input_tokens, done.completion.usage.output_tokens), (22, 11));
            // 22 × $0.80/M + 11 × $4/M = 17.6 + 44 µ$, rounded up.
            assert_eq!(done.record.cost_micro_usd, 62);
        }
    }
    let seen = server.seen();
    for request in &seen {
        assert_eq!(request.path, "/v1/messages");
        assert_eq!(request.headers["x-api-key"], KEY);
        assert_eq!(request.headers["anthropic-version"], "2023-06-01");
        assert!(request.headers.get("authorization").is_none());
    }
    assert_eq!(seen[0].body["system"], "You write short copy.");
    assert_eq!(seen[0].body["messages"], json!([{"role": "user", "content": "Write a tagline for a coffee shop."}]));
    assert_eq!(seen[2].body["tool_choice"], json!({"type": "tool", "name": "answer"}));
    assert_eq!(seen[2].body["tools"][0]["input_schema"], ad_schema());
}

#[tokio::test]
async fn prompt_cache_reads_are_billed_at_their_price() {
    let server = FakeProvider::start();
    server.script([Reply::ok("openai/chat_cached.json"), Reply::ok("anthropic/messages_cached.json")]);
    let bench = ledger().await;
    let request = ChatRequest::user("Summarise the brand book.");
    let openai = model(&server, ProviderKind::OpenaiCompatible, "gpt-4o-mini", HttpPolicy { stream: false, ..quick_policy() });
    let done = call(&bench.ledger, &openai, &price("gpt-4o-mini"), &request, false).await.0.unwrap();
    assert_eq!((done.completion.usage.input_tokens, done.completion.usage.cached_input_tokens), (2048, 1920));
    // 128 × 0.15 + 1920 × 0.075 + 9 × 0.60 = 19.2 + 144 + 5.4 µ$.
    assert_eq!(done.record.cost_micro_usd, 169);
    let anthropic = model(&server, ProviderKind::Anthropic, "claude-3-5-haiku-latest", HttpPolicy { stream: false, ..quick_policy() });
    let done = call(&bench.ledger, &anthropic, &price("claude-3-5-haiku-latest"), &request, false).await.0.unwrap();
    // Anthropic counts cached input apart: 30 plain + 1800 read.
    assert_eq!((done.completion.usage.input_tokens, done.completion.usage.cached_input_tokens), (1830, 1800));
    // 30 × 0.80 + 1800 × 0.08 + 11 × 4 = 24 + 144 + 44 µ$.
    assert_eq!(done.record.cost_micro_usd, 212);
}

#[tokio::test]
async fn client_errors_are_not_retried_and_say_what_to_do() {
    let cases = [
        (ProviderKind::OpenaiCompatible, "openai/error_401.json", "unauthorized", "providers set-key test-provider"),
        (ProviderKind::OpenaiCompatible, "openai/error_404_model.json", "unknown_model", "check the model id"),
        (ProviderKind::OpenaiCompatible, "openai/error_400_context.json", "context_too_long", "shorten the input"),
        (ProviderKind::Anthropic, "anthropic/error_401.json", "unauthorized", "invalid x-api-key"),
        (ProviderKind::Anthropic, "anthropic/error_404_model.json", "unknown_model", "claude-9"),
        (ProviderKind::Anthropic, "anthropic/error_400_context.json", "context_too_long", "prompt is too long"),
    ];
    let bench = ledger().await;
    for (kind, fixture_name, code, says) in cases {
        let server = FakeProvider::start();
        server.script([Reply::error(fixture_name)]);
        let model = model(&server, kind, "gpt-4o-mini", quick_policy());
        let err = provider_error(call(&bench.ledger, &model, &price("gpt-4o-mini"), &ChatRequest::user("hi"), false).await.0);
        assert_eq!(err.code(), code, "{fixture_name}: {err}");
        assert!(err.to_string().contains(says), "{fixture_name}: {err}");
        assert!(err.to_string().contains("test-provider"), "{fixture_name}: the message names the provider: {err}");
        assert_eq!(server.n_requests(), 1, "{fixture_name} was retried");
        let last = bench.ledger.calls(&ReportFilter::default()).await.unwrap().pop().unwrap();
        assert_eq!((last.outcome.as_str(), last.cost_micro_usd), (code, 0), "{fixture_name}");
    }
    // A server that quotes the key back never gets it into the message.
    let server = FakeProvider::start();
    server.script([Reply::raw(401, &format!("{{\"error\": {{\"message\": \"bad key {KEY}\", \"code\": \"invalid_api_key\"}}}}"))]);
    let model = model(&server, ProviderKind::OpenaiCompatible, "gpt-4o-mini", quick_policy());
    let err = provider_error(call(&bench.ledger, &model, &price("gpt-4o-mini"), &ChatRequest::user("hi"), false).await.0);
    assert!(!err.to_string().contains(KEY) && !format!("{err:?}").contains(KEY), "{err}");
}

#[tokio::test]
async fn rate_limits_are_waited_out_as_the_provider_asks() {
    let server = FakeProvider::start();
    server.script([Reply::error("openai/error_429.json").with_header("retry-after", "1"), Reply::ok("openai/chat_text.json")]);
    let bench = ledger().await;
    let model = model(&server, ProviderKind::OpenaiCompatible, "gpt-4o-mini", HttpPolicy { stream: false, ..quick_policy() });
    let started = Instant::now();
    let done = call(&bench.ledger, &model, &price("gpt-4o-mini"), &ChatRequest::user("hi"), false).await.0.unwrap();
    assert_eq!(done.completion.text, ANSWER);
    assert_eq!(server.n_requests(), 2);
    assert!(started.elapsed() >= Duration::from_secs(1), "Retry-After: 1 was not waited for ({:?})", started.elapsed());

    // A wait longer than the policy allows ends the call at once, saying when.
    server.script([Reply::error("openai/error_429.json").with_header("retry-after", "3600")]);
    let err = provider_error(call(&bench.ledger, &model, &price("gpt-4o-mini"), &ChatRequest::user("hi again"), false).await.0);
    assert_eq!(err.code(), "rate_limited");
    assert!(err.to_string().contains("wait 3600 s"), "{err}");
    assert_eq!(server.n_requests(), 3);

    // Still limited after every attempt: the error counts them.
    server.always(Reply::error("anthropic/error_429.json"));
    let model = self::model(&server, ProviderKind::Anthropic, "claude-3-5-haiku-latest", HttpPolicy { stream: false, ..quick_policy() });
    let err = provider_error(call(&bench.ledger, &model, &price("claude-3-5-haiku-latest"), &ChatRequest::user("hi"), false).await.0);
    assert!(err.to_string().contains("after 3 attempt(s)"), "{err}");
    assert_eq!(server.n_requests(), 6);
    let outcomes: Vec<String> = bench.ledger.calls(&ReportFilter::default()).await.unwrap().into_iter().map(|c| c.outcome).collect();
    assert_eq!(outcomes, ["ok", "rate_limited", "rate_limited"]);
}

#[tokio::test]
async fn server_errors_are_retried_then_reported() {
    let server = FakeProvider::start();
    server.script([Reply::error("openai/error_500.json"), Reply::ok("openai/chat_text_stream.sse")]);
    let bench = ledger().await;
    let model = model(&server, ProviderKind::OpenaiCompatible, "gpt-4o-mini", quick_policy());
    let done = call(&bench.ledger, &model, &price("gpt-4o-mini"), &ChatRequest::user("hi"), false).await.0.unwrap();
    assert_eq!(done.completion.text, ANSWER);
    assert_eq!(server.n_requests(), 2);
    assert_eq!(done.record.cost_micro_usd, 9, "only the answered attempt is billed");

    server.always(Reply::error("anthropic/error_529.json"));
    let model = self::model(&server, ProviderKind::Anthropic, "claude-3-5-haiku-latest", quick_policy());
    let err = provider_error(call(&bench.ledger, &model, &price("claude-3-5-haiku-latest"), &ChatRequest::user("hi"), false).await.0);
    assert_eq!(err.code(), "server_error");
    assert!(err.to_string().contains("HTTP 529 after 3 attempt(s)") && err.to_string().contains("try again later"), "{err}");
    assert_eq!(server.n_requests(), 5);
}

#[tokio::test]
async fn malformed_answers_dropped_streams_and_timeouts_are_errors_the_ledger_keeps() {
    let bench = ledger().await;
    let price = price("gpt-4o-mini");
    let request = ChatRequest { max_tokens: 100, ..ChatRequest::user("Write a tagline for a coffee shop.") };
    let most = price.cost_micro_usd(&Usage { input_tokens: request.input_token_bound(), output_tokens: 100, ..Usage::default() });

    let server = FakeProvider::start();
    server.script([Reply::raw(200, "{\"choices\": [oops")]);
    let model = model(&server, ProviderKind::OpenaiCompatible, "gpt-4o-mini", HttpPolicy { stream: false, ..quick_policy() });
    let err = provider_error(call(&bench.ledger, &model, &price, &request, false).await.0);
    assert_eq!(err.code(), "bad_response");
    assert!(err.to_string().contains("not JSON"), "{err}");

    server.script([Reply::DropAfter { text: fixture("openai/chat_text_stream.sse"), events: 3 }]);
    let model = self::model(&server, ProviderKind::OpenaiCompatible, "gpt-4o-mini", quick_policy());
    let (result, pieces) = call(&bench.ledger, &model, &price, &request, false).await;
    let err = provider_error(result);
    assert_eq!(err.code(), "stream_dropped");
    assert!(err.to_string().contains("nothing was kept"), "{err}");
    assert_eq!(pieces.len(), 2, "two pieces arrived before the drop");
    assert_eq!(server.n_requests(), 2, "a stream that already produced text is not retried");

    server.script([Reply::Hang { delay: Duration::from_secs(5) }]);
    let model = self::model(
        &server,
        ProviderKind::OpenaiCompatible,
        "gpt-4o-mini",
        HttpPolicy { max_attempts: 1, response_timeout: Duration::from_millis(500), ..quick_policy() },
    );
    let err = provider_error(call(&bench.ledger, &model, &price, &request, false).await.0);
    assert_eq!(err.code(), "timeout");
    assert!(err.to_string().contains("did not answer within"), "{err}");

    let calls = bench.ledger.calls(&ReportFilter::default()).await.unwrap();
    let outcomes: Vec<&str> = calls.iter().map(|c| c.outcome.as_str()).collect();
    assert_eq!(outcomes, ["bad_response", "stream_dropped", "timeout"]);
    for record in &calls {
        // The provider may have billed these: an estimate is recorded, never
        // more than was reserved, and flagged as one.
        assert!(record.usage.estimated, "{record:?}");
        assert!(record.cost_micro_usd > 0 && record.cost_micro_usd <= most, "{record:?} (reserved {most})");
    }
    assert_eq!(calls[1].usage.output_tokens, 2);
    assert_eq!(bench.ledger.reserved_micro_usd().await.unwrap(), 0, "every reservation was settled");
}

#[tokio::test]
async fn concurrent_calls_never_overshoot_the_budget() {
    let server = FakeProvider::start();
    // Slow answers, so that every call reserves before any settles.
    server.always(Reply::Sse { text: fixture("openai/chat_text_stream.sse"), delay: Duration::from_millis(150) });
    let bench = ledger().await;
    let price = price("gpt-4o-mini");
    let request = ChatRequest { max_tokens: 200, ..ChatRequest::user("Write a tagline for a coffee shop.") };
    let per_call = price.cost_micro_usd(&Usage { input_tokens: request.input_token_bound(), output_tokens: 200, ..Usage::default() });
    let budget = per_call * 10 + per_call / 2;
    bench.ledger.set_budget(&BudgetScope::Workspace(workspace()), budget).await.unwrap();
    let model = Arc::new(model(&server, ProviderKind::OpenaiCompatible, "gpt-4o-mini", quick_policy()));
    let ledger = Arc::new(bench.ledger.clone());
    let refusals = Arc::new(Mutex::new(Vec::new()));
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let (model, ledger, request, refusals) = (model.clone(), ledger.clone(), request.clone(), refusals.clone());
            tokio::spawn(async move {
                let request = ChatRequest { seed: i, ..request };
                match call(&ledger, &model, &price, &request, false).await.0 {
                    Ok(done) => Some(done.record.cost_micro_usd),
                    Err(AiError::Budget(refusal)) => {
                        refusals.lock().unwrap().push(refusal.to_string());
                        None
                    }
                    Err(other) => panic!("call {i}: {other}"),
                }
            })
        })
        .collect();
    let mut answered = 0;
    for task in tasks {
        answered += usize::from(task.await.unwrap().is_some());
    }
    assert_eq!(answered, 10, "exactly the calls that fit the budget are answered");
    assert_eq!(server.n_requests(), 10, "and only they were sent");
    let refusals = refusals.lock().unwrap().clone();
    assert_eq!(refusals.len(), 40);
    assert!(
        refusals[0].contains(&format!("workspace {WORKSPACE}")) && refusals[0].contains(&format!("raptorflow cost budget --workspace {WORKSPACE}")),
        "{}",
        refusals[0]
    );
    let report = bench.ledger.report(&ReportFilter { workspace_id: Some(workspace()), month: None }).await.unwrap();
    assert_eq!(report.total.calls, 10);
    assert!(report.total.cost_micro_usd <= budget, "spent {} of {budget}", report.total.cost_micro_usd);
    assert_eq!(report.total.cost_micro_usd, 90);
    assert_eq!(bench.ledger.reserved_micro_usd().await.unwrap(), 0);
}

#[tokio::test]
async fn a_repeated_request_is_answered_from_the_cache_for_free() {
    let server = FakeProvider::start();
    server.always(Reply::ok("openai/chat_text.json"));
    let bench = ledger().await;
    let model = model(&server, ProviderKind::OpenaiCompatible, "gpt-4o-mini", HttpPolicy { stream: false, ..quick_policy() });
    let price = price("gpt-4o-mini");
    let request = ChatRequest::user("Write a tagline for a coffee shop.");
    let first = call(&bench.ledger, &model, &price, &request, true).await.0.unwrap();
    let (second, pieces) = call(&bench.ledger, &model, &price, &request, true).await;
    let second = second.unwrap();
    assert_eq!(server.n_requests(), 1, "the repeat was not sent");
    assert_eq!(second.completion, first.completion);
    assert_eq!(pieces.concat(), ANSWER);
    assert!(second.record.cache_hit && !first.record.cache_hit);
    assert_eq!((first.record.cost_micro_usd, second.record.cost_micro_usd), (9, 0));
    // A different request, or one that bypasses the cache, is sent.
    call(&bench.ledger, &model, &price, &ChatRequest { temperature: 0.5, ..request.clone() }, true).await.0.unwrap();
    let bypass = call(&bench.ledger, &model, &price, &request, false).await.0.unwrap();
    assert!(!bypass.record.cache_hit);
    assert_eq!(server.n_requests(), 3);
    let report = bench.ledger.report(&ReportFilter::default()).await.unwrap();
    assert_eq!((report.total.calls, report.total.cache_hits, report.total.cost_micro_usd), (4, 1, 27));
    assert_eq!(report.by_agent[0].key, "MUSE-001");
    assert_eq!(report.by_model[0].key, "test-provider/gpt-4o-mini");
}

#[tokio::test]
async fn a_cancelled_stream_keeps_what_arrived_and_is_recorded() {
    let server = FakeProvider::start();
    server.always(Reply::Sse { text: fixture("anthropic/messages_text_stream.sse"), delay: Duration::from_millis(300) });
    let bench = ledger().await;
    let model = model(&server, ProviderKind::Anthropic, "claude-3-5-haiku-latest", quick_policy());
    let cancel = CancellationToken::new();
    let mut pieces = Vec::new();
    let trigger = cancel.clone();
    let done = metered::call(
        &bench.ledger,
        &model,
        &price("claude-3-5-haiku-latest"),
        metered::Call { context: &context(), request: &ChatRequest::user("hi"), options: CallOptions::default() },
        &mut |piece| {
            pieces.push(piece.to_owned());
            trigger.cancel();
        },
        &cancel,
    )
    .await
    .unwrap();
    assert_eq!(done.completion.stop_reason, StopReason::Cancelled);
    assert_eq!(pieces.len(), 1);
    assert_eq!(done.completion.text, pieces[0]);
    assert_eq!(done.record.outcome, "cancelled");
    // message_start had reported the input tokens.
    assert_eq!(done.completion.usage.input_tokens, 22);
    // A cancelled answer is not cached.
    assert!(bench.ledger.calls(&ReportFilter::default()).await.unwrap().iter().all(|c| !c.cache_hit));
}
