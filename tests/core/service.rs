//! Core as one long-lived service, with the real parts: the real local LLM
//! (SmolLM2 135M, fetched by scripts/test.sh), the real embedder, a real data
//! directory, and the real `raptorflow` binary as a second process.
//! Weights load once per Core, callers take turns fairly, a call cancelled
//! while it waits never starts, every model call is a ledger row, and what
//! another process saves shows up as an event and in reads.

#[path = "../sync/harness.rs"]
mod harness;

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use harness::{Run, binary};
use rf_core::{
    Core, CoreConfig, CoreEvent, LocalUser,
    ai::{AskProgress, CallContext, CancellationToken, ChatRequest, LlmOptions, ModelCall, ProviderName, ReportFilter, Route, StopReason},
};
use rf_domain::{RunId, UserId};

fn models_dir() -> PathBuf {
    std::env::var_os("RAPTORFLOW_MODELS_DIR")
        .expect("RAPTORFLOW_MODELS_DIR is not set: run the tests through ./scripts/test.sh, which fetches the models")
        .into()
}

async fn open(data_dir: &Path) -> Core {
    let user = LocalUser { id: "ana".parse::<UserId>().unwrap(), display_name: "Ana".to_owned() };
    Core::open_with(CoreConfig { models_dir: models_dir(), threads: 1, ..CoreConfig::new(data_dir, user) }).await.unwrap()
}

/// A short call on the local model, outside the cache.
fn local_call(prompt: &str, max_tokens: usize) -> ModelCall {
    ModelCall {
        request: ChatRequest { max_tokens, temperature: 0.0, ..ChatRequest::user(prompt) },
        route: Route::Provider(ProviderName::local()),
        privacy: None,
        local_model: None,
        local_options: LlmOptions::default(),
        context: CallContext {
            workspace_id: None,
            user_id: "ana".parse().unwrap(),
            agent_id: Some("test-agent".parse().unwrap()),
            run_id: Some(RunId::new()),
            caller: None,
        },
        use_cache: false,
    }
}

/// The CLI on `data_dir`, as a second process.
fn cli(data_dir: &Path, args: &[&str]) -> Run {
    let output = Command::new(binary("raptorflow"))
        .args(["--data-dir", data_dir.to_str().unwrap(), "--user", "ana", "--json"])
        .args(args)
        .env("RAPTORFLOW_MODELS_DIR", models_dir())
        .output()
        .unwrap();
    Run::of(output)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_calls_load_the_weights_once_and_four_concurrent_callers_all_get_answers() {
    let dir = tempfile::tempdir().unwrap();
    let core = open(dir.path()).await;
    for i in 0..20 {
        let outcome = core.ask(local_call(&format!("Name a colour. ({i})"), 4), &mut |_| {}, &CancellationToken::new()).await.unwrap();
        assert!(!outcome.metered.completion.text.trim().is_empty(), "call {i} gave no answer");
    }
    assert_eq!(core.engine_stats().llm_loads, 1, "the weights were loaded more than once");

    let tasks: Vec<_> = (0..4)
        .map(|i| {
            let core = core.clone();
            tokio::spawn(async move { core.ask(local_call(&format!("Name a fruit. ({i})"), 4), &mut |_| {}, &CancellationToken::new()).await })
        })
        .collect();
    for task in tasks {
        let outcome = task.await.unwrap().unwrap();
        assert!(!outcome.metered.completion.text.trim().is_empty());
        assert_eq!(outcome.metered.completion.stop_reason, StopReason::MaxTokens);
    }
    let stats = core.engine_stats();
    assert_eq!(stats.llm_loads, 1);
    assert_eq!(stats.local_generations, 24);
    let report = core.cost_report(&ReportFilter::default()).await.unwrap();
    assert_eq!(report.total.calls, 24, "one ledger row per call");
    core.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_cancelled_while_it_waits_never_starts() {
    let dir = tempfile::tempdir().unwrap();
    let core = open(dir.path()).await;
    // Load the model first, so that the long call starts at once.
    core.ask(local_call("Hi", 1), &mut |_| {}, &CancellationToken::new()).await.unwrap();

    // A long call holds the model; it is told to stop once the second call is queued.
    let stop_long = CancellationToken::new();
    let long = tokio::spawn({
        let (core, stop) = (core.clone(), stop_long.clone());
        async move { core.ask(local_call("Write a long story about a lighthouse.", 400), &mut |_| {}, &stop).await }
    });
    // Wait until it runs.
    let deadline = Instant::now() + Duration::from_secs(60);
    while core.engine_stats().local_generations < 2 {
        assert!(Instant::now() < deadline, "the long call never started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let queued = Arc::new(Mutex::new(None));
    let cancel = CancellationToken::new();
    let waiting = tokio::spawn({
        let (core, queued, cancel) = (core.clone(), queued.clone(), cancel.clone());
        async move {
            let mut progress = |event: AskProgress<'_>| {
                if let AskProgress::Queued { position } = event {
                    *queued.lock().unwrap() = Some(position);
                    cancel.cancel();
                }
            };
            core.ask(local_call("Name a colour.", 8), &mut progress, &cancel).await
        }
    });
    let outcome = waiting.await.unwrap().unwrap();
    assert_eq!(*queued.lock().unwrap(), Some(1), "the second call was not told its place");
    assert_eq!(outcome.metered.completion.stop_reason, StopReason::Cancelled);
    assert_eq!(outcome.metered.record.outcome, "cancelled");
    assert_eq!(outcome.metered.record.usage.output_tokens, 0);
    stop_long.cancel();
    let long = long.await.unwrap().unwrap();
    assert!(matches!(long.metered.completion.stop_reason, StopReason::Cancelled | StopReason::MaxTokens | StopReason::EndOfTurn));
    assert_eq!(core.engine_stats().local_generations, 2, "the cancelled call started a generation");
    let calls = core.cost_report(&ReportFilter::default()).await.unwrap();
    assert_eq!(calls.total.calls, 3, "warm-up, long and the cancelled call each have a row");
    core.close().await;
}

#[test]
fn raw_completions_and_embeddings_are_in_the_cost_report() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let raw = cli(&data, &["ask", "--raw", "--max-tokens", "4", "--agent", "copywriter", "Once upon a time"]).ok().json();
    assert!(raw["outcome"]["completion"]["text"].as_str().is_some_and(|t| !t.is_empty()), "{raw}");
    let workspace = cli(&data, &["workspace", "create", "Kestrel Cycles"]).ok().json()["id"].as_str().unwrap().to_owned();
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/codex/corpus/brand/brand-story.txt");
    cli(&data, &["codex", "add", "--workspace", &workspace, corpus.to_str().unwrap()]).ok();
    let embedded = cli(&data, &["embed", "Spring rides start here"]).ok().json();
    assert_eq!(embedded["dimensions"], 384, "{embedded}");

    let report = cli(&data, &["cost", "report"]).ok().json();
    assert_eq!(report["total"]["calls"], 3, "the raw completion, the import's embedding and the embed command: {report}");
    let agents: Vec<&str> = report["by_agent"].as_array().unwrap().iter().filter_map(|line| line["key"].as_str()).collect();
    assert!(agents.iter().any(|a| a.contains("copywriter")), "the raw completion is not in the report: {report}");
    let models: Vec<&str> = report["by_model"].as_array().unwrap().iter().filter_map(|line| line["key"].as_str()).collect();
    assert!(models.iter().any(|m| m.contains("all-minilm-l6-v2")), "the Codex embedding is not in the report: {report}");
    assert!(models.iter().any(|m| m.contains("smollm2")), "{report}");
    let in_workspace = cli(&data, &["cost", "report", "--workspace", &workspace]).ok().json();
    assert_eq!(in_workspace["total"]["calls"], 1, "the embedding is the workspace's: {in_workspace}");
    assert!(in_workspace["total"]["input_tokens"].as_u64().unwrap() > 100, "{in_workspace}");

    // Bad input to --raw is refused before any call, and records nothing.
    let refused = cli(&data, &["ask", "--raw", "--system", "be terse", "Hello"]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(refused.stderr.contains("--system"), "{}", refused.stderr);
    assert_eq!(cli(&data, &["cost", "report"]).ok().json()["total"]["calls"], 3);
}

/// Waits up to `limit` for an event matching `wanted`.
async fn event_within(events: &mut tokio::sync::broadcast::Receiver<CoreEvent>, limit: Duration, wanted: impl Fn(&CoreEvent) -> bool) -> Option<Duration> {
    let started = Instant::now();
    loop {
        let left = limit.checked_sub(started.elapsed())?;
        match tokio::time::timeout(left, events.recv()).await {
            Ok(Ok(event)) if wanted(&event) => return Some(started.elapsed()),
            Ok(Ok(_)) => {}
            Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {}
            Ok(Err(err)) => panic!("the event channel closed: {err}"),
            Err(_) => return None,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_the_cli_saves_is_an_event_and_in_reads_of_an_open_core_within_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let core = open(&data).await;
    let workspace = core.create_workspace("Acme").await.unwrap();
    let campaign = core
        .create_campaign(workspace.id, rf_core::NewCampaign { name: "Spring".into(), goal: String::new(), budget: None, channels: Vec::new() })
        .await
        .unwrap();
    // The campaign is loaded in this Core's memory now.
    assert!(core.campaign(campaign.id).await.unwrap().moves.is_empty());
    let mut events = core.subscribe();

    // Another process adds a move to that campaign.
    let data_dir = data.clone();
    let campaign_id = campaign.id.to_string();
    let added =
        tokio::task::spawn_blocking(move || cli(&data_dir, &["move", "add", "--campaign", &campaign_id, "--channel", "email", "Launch email"]).ok().json())
            .await
            .unwrap();
    let expected = campaign.id;
    event_within(&mut events, Duration::from_secs(1), |event| matches!(event, CoreEvent::CampaignChanged { campaign_id, .. } if *campaign_id == expected))
        .await
        .unwrap_or_else(|| panic!("no CampaignChanged event within 1 s of the CLI's change ({added})"));
    let moves = core.campaign(campaign.id).await.unwrap().moves;
    assert_eq!(moves.len(), 1, "the open Core does not read the CLI's move");
    assert_eq!(moves.values().next().unwrap().title, "Launch email");

    // A new workspace from the other process: an event, and in the list.
    let data_dir = data.clone();
    let created = tokio::task::spawn_blocking(move || cli(&data_dir, &["workspace", "create", "Bravo"]).ok().json()).await.unwrap();
    let new_id: rf_domain::WorkspaceId = created["id"].as_str().unwrap().parse().unwrap();
    event_within(&mut events, Duration::from_secs(1), |event| matches!(event, CoreEvent::WorkspaceChanged { workspace_id } if *workspace_id == new_id))
        .await
        .expect("no WorkspaceChanged event within 1 s");
    assert!(core.list_workspaces().await.unwrap().iter().any(|w| w.id == new_id));
    core.close().await;
}
