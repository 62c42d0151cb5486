//! Core's events beyond document changes, with the real parts: a model
//! fetched over real HTTP from a hub on a loopback port (serving the real
//! weight files, which must verify against the manifest's sha256) and then
//! used; a cloud call on a real HTTP provider that takes a budget past its
//! warning share.

#[path = "../providers/fake_provider.rs"]
mod fake_provider;

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use axum::{Router, extract::Path as UrlPath, http::StatusCode};
use fake_provider::{FakeProvider, Reply};
use rf_core::{
    BUDGET_WARNING_PERCENT, Core, CoreConfig, CoreEvent, LocalUser,
    ai::{BudgetScope, CallContext, CancellationToken, ChatRequest, LlmOptions, ModelCall, ModelStore, ProviderKind, Quiet, Route, Source, Tier},
    providers::NewProvider,
};
use rf_domain::{UserId, WorkspaceId};
use tokio::sync::broadcast::{Receiver, error::TryRecvError};

const EMBEDDER: &str = "all-minilm-l6-v2";

fn models_dir() -> PathBuf {
    std::env::var_os("RAPTORFLOW_MODELS_DIR")
        .expect("RAPTORFLOW_MODELS_DIR is not set: run the tests through ./scripts/test.sh, which fetches the models")
        .into()
}

async fn open(data_dir: &Path, models_dir: PathBuf, model_hub: Option<String>) -> Core {
    let user = LocalUser { id: "ana".parse::<UserId>().unwrap(), display_name: "Ana".to_owned() };
    Core::open_with(CoreConfig { models_dir, threads: 1, model_hub, ..CoreConfig::new(data_dir, user) }).await.unwrap()
}

/// Everything published so far.
fn drain(events: &mut Receiver<CoreEvent>) -> Vec<CoreEvent> {
    let mut seen = Vec::new();
    loop {
        match events.try_recv() {
            Ok(event) => seen.push(event),
            Err(TryRecvError::Empty | TryRecvError::Closed) => return seen,
            Err(TryRecvError::Lagged(n)) => panic!("the test fell {n} events behind"),
        }
    }
}

/// A model hub on a loopback port serving `files` (name → path on disk)
/// under any `<repo>/resolve/<revision>/` prefix, as huggingface.co does.
async fn hub(files: BTreeMap<String, PathBuf>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new().route(
        "/{*path}",
        axum::routing::get(move |UrlPath(path): UrlPath<String>| {
            let file = path.rsplit('/').next().and_then(|name| files.get(name)).cloned();
            async move {
                match file {
                    Some(file) => Ok(tokio::fs::read(file).await.unwrap()),
                    None => Err(StatusCode::NOT_FOUND),
                }
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetch_publishes_its_progress_and_the_model_then_works() {
    let shared = ModelStore::open(models_dir(), rf_core::ai::Manifest::bundled().unwrap()).unwrap();
    let installed = shared.installed(EMBEDDER).expect("the embedder is fetched by scripts/test.sh");
    let sizes: BTreeMap<String, u64> = installed.spec.files.iter().map(|f| (f.name.clone(), f.size)).collect();
    let url = hub(installed.files.clone()).await;

    let dir = tempfile::tempdir().unwrap();
    let core = open(&dir.path().join("data"), dir.path().join("models"), Some(url)).await;
    let mut events = core.subscribe();

    let unknown = core.fetch_models(Some(&"no-such-model".parse().unwrap()), Source::Hub, &Quiet).await.unwrap_err().to_string();
    assert!(unknown.contains("no-such-model") && unknown.contains("models list"), "{unknown}");

    let results = core.fetch_models(Some(&EMBEDDER.parse().unwrap()), Source::Hub, &Quiet).await.unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].fetched.len(), 3, "{results:?}");

    let events = drain(&mut events);
    let mut per_file: BTreeMap<String, Vec<(u64, u64)>> = BTreeMap::new();
    for event in &events {
        if let CoreEvent::ModelDownload { model, file, done, total } = event {
            assert_eq!(model, EMBEDDER);
            per_file.entry(file.clone()).or_default().push((*done, *total));
        }
    }
    assert_eq!(per_file.keys().collect::<Vec<_>>(), sizes.keys().collect::<Vec<_>>(), "one stream of events per file: {events:?}");
    for (file, progress) in &per_file {
        let size = sizes[file];
        assert!(progress.iter().all(|(_, total)| *total == size), "{file}: every event carries the file's size {size}: {progress:?}");
        assert!(progress.windows(2).all(|w| w[0].0 <= w[1].0), "{file}: progress never goes back: {progress:?}");
        assert_eq!(progress.first().unwrap().0, 0, "{file}: the first event is the start");
        assert_eq!(progress.last().unwrap().0, size, "{file}: the last event is the whole file");
    }
    let big = &per_file["model.safetensors"];
    assert!(big.len() >= 2 && big.len() < 1000, "throttled but visible: {} events for 90 MB", big.len());
    assert_eq!(events.last(), Some(&CoreEvent::ModelInstalled { model: EMBEDDER.parse().unwrap() }));

    let listed = core.models().await.unwrap();
    assert!(listed.iter().any(|m| m.id == EMBEDDER && m.installed), "{listed:?}");
    let (model, vectors) = core.embed(&["fresh coffee".to_owned()], None, &CallContext::user("ana".parse().unwrap())).await.unwrap();
    assert_eq!((model.as_str(), vectors.len(), vectors[0].len()), (EMBEDDER, 1, 384));
    core.close().await;
}

/// An OpenAI-style answer whose usage is `prompt_tokens` in, 10 out.
fn answer(prompt_tokens: u64) -> Reply {
    let body = serde_json::json!({
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "gpt-4o-mini",
        "choices": [{ "index": 0, "message": { "role": "assistant", "content": "OK" }, "finish_reason": "stop" }],
        "usage": { "prompt_tokens": prompt_tokens, "completion_tokens": 10, "total_tokens": prompt_tokens + 10 }
    });
    Reply::raw(200, &body.to_string()).with_header("content-type", "application/json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_that_takes_a_budget_past_its_warning_share_is_published_once() {
    let provider = FakeProvider::start();
    provider.always(answer(9_000));
    let dir = tempfile::tempdir().unwrap();
    let core = open(&dir.path().join("data"), models_dir(), None).await;
    core.add_provider(
        NewProvider {
            name: "fake".into(),
            kind: ProviderKind::OpenaiCompatible,
            base_url: format!("{}/v1", provider.url),
            model: "gpt-4o-mini".into(),
            tier: Tier::Fast,
            // $1 per million tokens: a token costs one micro-dollar.
            input_usd_per_mtok: Some("1".into()),
            output_usd_per_mtok: Some("1".into()),
            timeout_secs: None,
            max_attempts: Some(1),
            stream: Some(false),
        },
        None,
    )
    .unwrap();
    let workspace = WorkspaceId::new();
    core.set_budget(&BudgetScope::Workspace(workspace), "0.01").await.unwrap();
    let mut events = core.subscribe();
    let call = || ModelCall {
        request: ChatRequest { max_tokens: 16, ..ChatRequest::user("Reply with OK.") },
        route: Route::Provider("fake".parse().unwrap()),
        privacy: None,
        local_model: None,
        local_options: LlmOptions::default(),
        context: CallContext { workspace_id: Some(workspace), ..CallContext::user("ana".parse().unwrap()) },
        use_cache: false,
    };

    // 9,010 of 10,000 micro-dollars: past 80 % of the workspace's budget,
    // far below the user's default $10.
    let first = core.ask(call(), &mut |_| {}, &CancellationToken::new()).await.unwrap();
    assert_eq!(first.metered.record.cost_micro_usd, 9_010);
    let warnings: Vec<CoreEvent> = drain(&mut events).into_iter().filter(|e| matches!(e, CoreEvent::BudgetWarning { .. })).collect();
    assert_eq!(
        warnings,
        [CoreEvent::BudgetWarning { scope: BudgetScope::Workspace(workspace), spent_micro_usd: 9_010, limit_micro_usd: 10_000 }],
        "the warning share is {BUDGET_WARNING_PERCENT} %"
    );

    // Already past the share: the next call warns no more.
    core.ask(call(), &mut |_| {}, &CancellationToken::new()).await.unwrap();
    assert!(!drain(&mut events).iter().any(|e| matches!(e, CoreEvent::BudgetWarning { .. })));
    assert_eq!(provider.n_requests(), 2);
    core.close().await;
}
