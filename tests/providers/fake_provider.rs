//! A local HTTP server that speaks the providers' API shapes for the tests:
//! it answers each request with the next scripted reply (the bodies in
//! `tests/data/providers/`), records what it was sent, and can also break
//! the way real servers do (drop a stream, hang, send garbage).

#![allow(dead_code, unreachable_pub)]

use std::{
    collections::VecDeque,
    path::PathBuf,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{
    Router,
    body::{Body, Bytes},
    http::{HeaderMap, StatusCode, Uri},
    response::Response,
};
use futures::StreamExt;

/// A fixture body from `tests/data/providers/`.
pub fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/providers").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// A connector's answer from `tests/fixtures/connectors/`.
pub fn connector_fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/connectors").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// How the server answers one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A JSON body with this status and extra headers.
    Json { status: u16, body: String, headers: Vec<(String, String)> },
    /// An SSE stream: the raw text, sent in event-sized chunks `delay` apart.
    Sse { text: String, delay: Duration },
    /// The first `events` SSE events of `text`, then the connection breaks.
    DropAfter { text: String, events: usize },
    /// Headers only after `delay`.
    Hang { delay: Duration },
}

impl Reply {
    pub fn ok(fixture_name: &str) -> Self {
        if fixture_name.ends_with(".sse") {
            Self::Sse { text: fixture(fixture_name), delay: Duration::ZERO }
        } else {
            Self::Json { status: 200, body: fixture(fixture_name), headers: Vec::new() }
        }
    }

    /// An error fixture; the status is the number in its name.
    pub fn error(fixture_name: &str) -> Self {
        Self::Json { status: status_in_name(fixture_name), body: fixture(fixture_name), headers: Vec::new() }
    }

    /// A connector fixture, served with the status in its name.
    pub fn connector(fixture_name: &str) -> Self {
        Self::Json { status: status_in_name(fixture_name), body: connector_fixture(fixture_name), headers: Vec::new() }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        if let Self::Json { headers, .. } = &mut self {
            headers.push((name.to_owned(), value.to_owned()));
        }
        self
    }

    pub fn raw(status: u16, body: &str) -> Self {
        Self::Json { status, body: body.to_owned(), headers: Vec::new() }
    }
}

/// The first three digits of a fixture's file name.
fn status_in_name(fixture_name: &str) -> u16 {
    let digits: String = fixture_name.rsplit('/').next().unwrap().chars().filter(char::is_ascii_digit).take(3).collect();
    digits.parse().unwrap()
}

/// A request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    /// The query string, as sent (empty if none).
    pub query: String,
    pub headers: HeaderMap,
    pub body: serde_json::Value,
}

#[derive(Default)]
struct State {
    script: Mutex<VecDeque<Reply>>,
    fallback: Mutex<Option<Reply>>,
    seen: Mutex<Vec<Seen>>,
    in_flight: AtomicUsize,
}

/// The running server (it stops when dropped).
pub struct FakeProvider {
    pub url: String,
    state: Arc<State>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeProvider {
    /// Starts on a loopback port, on its own runtime (so that tests that
    /// run the CLI as a process can use it too).
    pub fn start() -> Self {
        let state = Arc::new(State::default());
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
        let shared = state.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                let app = Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: Bytes| answer(shared.clone(), uri, headers, body));
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stop.await;
                    })
                    .await
                    .unwrap();
            });
        });
        let addr = addr_rx.recv().unwrap();
        Self { url: format!("http://{addr}"), state, shutdown: Some(shutdown), thread: Some(thread) }
    }

    /// Replies to the next requests, in order.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.state.script.lock().unwrap().extend(replies);
    }

    /// The reply once the script is used up.
    pub fn always(&self, reply: Reply) {
        *self.state.fallback.lock().unwrap() = Some(reply);
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    pub fn n_requests(&self) -> usize {
        self.state.seen.lock().unwrap().len()
    }
}

impl Drop for FakeProvider {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// SSE events of `text`, each with its blank line.
fn events(text: &str) -> Vec<String> {
    text.split("\n\n").filter(|e| !e.trim().is_empty()).map(|e| format!("{e}\n\n")).collect()
}

async fn answer(state: Arc<State>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    state.in_flight.fetch_add(1, Ordering::SeqCst);
    let body = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    state.seen.lock().unwrap().push(Seen { path: uri.path().to_owned(), query: uri.query().unwrap_or_default().to_owned(), headers, body });
    let reply = {
        let next = state.script.lock().unwrap().pop_front();
        next.or_else(|| state.fallback.lock().unwrap().clone())
    };
    let reply = reply.unwrap_or_else(|| Reply::raw(500, "{\"error\": {\"message\": \"the fake provider has no reply scripted\"}}"));
    let response = match reply {
        Reply::Json { status, body, headers } => {
            let mut builder = Response::builder().status(StatusCode::from_u16(status).unwrap()).header("content-type", "application/json");
            for (name, value) in headers {
                builder = builder.header(name, value);
            }
            builder.body(Body::from(body)).unwrap()
        }
        Reply::Sse { text, delay } => {
            let chunks = events(&text);
            let stream = futures::stream::unfold(chunks.into_iter(), move |mut chunks| async move {
                let chunk = chunks.next()?;
                tokio::time::sleep(delay).await;
                Some((Ok::<_, std::io::Error>(chunk), chunks))
            });
            Response::builder().header("content-type", "text/event-stream").body(Body::from_stream(stream)).unwrap()
        }
        Reply::DropAfter { text, events: n } => {
            // The break comes a moment after the last event, so that the
            // headers and the events have left: a stream cut mid-answer.
            let chunks: Vec<String> = events(&text).into_iter().take(n).collect();
            let stream = futures::stream::iter(chunks.into_iter().map(Ok)).chain(futures::stream::once(async {
                tokio::time::sleep(Duration::from_millis(200)).await;
                Err(std::io::Error::other("connection dropped by the test"))
            }));
            Response::builder().header("content-type", "text/event-stream").body(Body::from_stream(stream)).unwrap()
        }
        Reply::Hang { delay } => {
            tokio::time::sleep(delay).await;
            Response::builder().status(StatusCode::GATEWAY_TIMEOUT).body(Body::from("{}")).unwrap()
        }
    };
    state.in_flight.fetch_sub(1, Ordering::SeqCst);
    response
}
