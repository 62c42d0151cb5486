//! The local OpenAI-compatible API's overhead (issue 27), each figure with
//! its anchor measured in the same run: the same work as a direct Core call
//! in the same process, on the same loaded models.
//!
//! - embeddings of 32 texts: p50 of 15 `POST /v1/embeddings` (floats)
//!   against p50 of 15 `Core::embed_counted`;
//! - chat, first token: p50 of 5 streamed `POST /v1/chat/completions` on
//!   the local LLM (time to the first piece of text) against p50 of 5
//!   `Core::ask_stream`; each prompt differs, so nothing is answered from
//!   the cache;
//! - requests per second of `/v1/embeddings` (one short text each, 4
//!   clients at once, 5 s) against direct calls the same way.
//!
//! Run (the API's token lives in the keyring; the models from
//! scripts/test.sh):
//!
//! ```sh
//! RAPTORFLOW_MODELS_DIR=~/.cache/raptorflow/models dbus-run-session -- scripts/test-services.sh \
//!     cargo bench -p raptorflow-tests --bench api_bench
//! ```

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::time::{Duration, Instant};

use futures::StreamExt as _;
use rf_core::{
    Core, CoreConfig, LocalUser,
    ai::{AskEvent, CallContext, ChatRequest, ModelCall, ProviderName, Route},
    api::ApiOptions,
};

const LLM: &str = "smollm2-135m-instruct-q4_1";
const EMBEDDER: &str = "all-minilm-l6-v2";

fn p50(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn texts(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("Subscription coffee, roasted to order and delivered every {} weeks to your door.", i % 4 + 1)).collect()
}

fn call(prompt: &str) -> ModelCall {
    let mut request = ChatRequest::user(prompt);
    request.max_tokens = 4;
    request.temperature = 0.0;
    ModelCall {
        request,
        route: Route::Provider(ProviderName::local()),
        privacy: None,
        local_model: Some(LLM.parse().unwrap()),
        local_options: Default::default(),
        context: CallContext::user("ana".parse().unwrap()),
        use_cache: false,
    }
}

/// Seconds to the first piece of text of a streamed completion over HTTP.
async fn http_first_token(http: &reqwest::Client, url: &str, token: &str, prompt: &str) -> f64 {
    let body = serde_json::json!({"model": LLM, "messages": [{"role": "user", "content": prompt}], "max_tokens": 4, "temperature": 0, "stream": true});
    let started = Instant::now();
    let response = http.post(format!("{url}/chat/completions")).bearer_auth(token).json(&body).send().await.unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let mut stream = response.bytes_stream();
    let mut seen = String::new();
    while let Some(chunk) = stream.next().await {
        seen.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
        // The first event whose delta carries text (the role comes first, empty).
        let has_text = seen.split("\n\n").filter_map(|event| event.strip_prefix("data: ")).any(|data| {
            serde_json::from_str::<serde_json::Value>(data)
                .ok()
                .and_then(|v| v.pointer("/choices/0/delta/content").and_then(|c| c.as_str()).map(|c| !c.is_empty()))
                .unwrap_or(false)
        });
        if has_text {
            let elapsed = started.elapsed().as_secs_f64();
            while stream.next().await.is_some() {}
            return elapsed;
        }
    }
    panic!("no text in the stream: {seen}");
}

async fn rate<F, Fut>(clients: usize, window: Duration, work: F) -> f64
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let work = work.clone();
        tasks.push(tokio::spawn(async move {
            let mut done = 0u64;
            while started.elapsed() < window {
                work().await;
                done += 1;
            }
            done
        }));
    }
    let mut total = 0;
    for task in tasks {
        total += task.await.unwrap();
    }
    total as f64 / started.elapsed().as_secs_f64()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let models_dir = std::env::var_os("RAPTORFLOW_MODELS_DIR").expect("RAPTORFLOW_MODELS_DIR: the models scripts/test.sh fetched");
    let dir = tempfile::tempdir().unwrap();
    let user = LocalUser { id: "ana".parse().unwrap(), display_name: "Ana".into() };
    let threads = std::env::var("RAPTORFLOW_BENCH_THREADS").ok().and_then(|t| t.parse().ok()).unwrap_or(1);
    let core = Core::open_with(CoreConfig { threads, models_dir: models_dir.into(), ..CoreConfig::new(dir.path(), user) }).await.unwrap();
    let server = core.serve_api(ApiOptions { port: 0, ..ApiOptions::default() }).await.unwrap();
    let url = server.base_url();
    let token = core.api_token().unwrap();
    let http = reqwest::Client::new();
    let context = CallContext::user("ana".parse().unwrap());
    println!("api_bench: {threads} compute thread(s) (RAPTORFLOW_BENCH_THREADS)");

    // Embeddings of 32 texts; the first call of each loads the model.
    let batch = texts(32);
    core.embed_counted(&batch, Some(EMBEDDER), &context).await.unwrap();
    let embed_body = serde_json::json!({"model": EMBEDDER, "input": batch, "encoding_format": "float"});
    let mut direct = Vec::new();
    let mut over_http = Vec::new();
    for _ in 0..15 {
        let started = Instant::now();
        core.embed_counted(&batch, Some(EMBEDDER), &context).await.unwrap();
        direct.push(started.elapsed().as_secs_f64() * 1000.0);
        let started = Instant::now();
        let response = http.post(format!("{url}/embeddings")).bearer_auth(&token).json(&embed_body).send().await.unwrap();
        assert!(response.status().is_success());
        let value: serde_json::Value = response.json().await.unwrap();
        over_http.push(started.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(value["data"].as_array().unwrap().len(), 32);
    }
    let (direct, over_http) = (p50(direct), p50(over_http));
    println!(
        "embeddings, 32 texts: HTTP p50 {over_http:.1} ms; direct Core call (anchor) p50 {direct:.1} ms; overhead {:.1} ms ({:.2}x)",
        over_http - direct,
        over_http / direct
    );

    // Chat, first token.
    let mut direct = Vec::new();
    let mut over_http = Vec::new();
    for i in 0..6 {
        let prompt = format!("Name one coffee origin. ({i})");
        let started = Instant::now();
        let mut events = core.ask_stream(call(&prompt), Default::default());
        let mut first = None;
        while let Some(event) = events.recv().await {
            match event {
                AskEvent::Text(_) if first.is_none() => first = Some(started.elapsed().as_secs_f64()),
                AskEvent::Done(outcome) => {
                    outcome.unwrap();
                }
                _ => {}
            }
        }
        let http_prompt = format!("Name one tea origin. ({i})");
        let http_first = http_first_token(&http, &url, &token, &http_prompt).await;
        // The first round loads the LLM: left out.
        if i > 0 {
            direct.push(first.expect("a piece of text") * 1000.0);
            over_http.push(http_first * 1000.0);
        }
    }
    let (direct, over_http) = (p50(direct), p50(over_http));
    println!(
        "chat, first token: HTTP p50 {over_http:.1} ms; direct Core call (anchor) p50 {direct:.1} ms; overhead {:.1} ms ({:.2}x)",
        over_http - direct,
        over_http / direct
    );

    // Requests per second of single-text embeddings, 4 clients at once.
    let window = Duration::from_secs(5);
    let one = serde_json::json!({"model": EMBEDDER, "input": "fresh coffee every week", "encoding_format": "float"});
    let direct_rate = {
        let core = core.clone();
        rate(4, window, move || {
            let core = core.clone();
            async move {
                let context = CallContext::user("ana".parse().unwrap());
                core.embed_counted(&["fresh coffee every week".to_owned()], Some(EMBEDDER), &context).await.unwrap();
            }
        })
        .await
    };
    let http_rate = {
        let (http, url, token) = (http.clone(), url.clone(), token.clone());
        rate(4, window, move || {
            let (http, url, token, one) = (http.clone(), url.clone(), token.clone(), one.clone());
            async move {
                let response = http.post(format!("{url}/embeddings")).bearer_auth(&token).json(&one).send().await.unwrap();
                assert!(response.status().is_success());
                response.bytes().await.unwrap();
            }
        })
        .await
    };
    println!("embeddings, 1 text, 4 clients: HTTP {http_rate:.0} requests/s; direct Core calls (anchor) {direct_rate:.0}/s ({:.2}x)", http_rate / direct_rate);

    server.stop().await;
    core.close().await;
}
