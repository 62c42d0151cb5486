//! The HTTP side: `/sync` (WebSocket), `/healthz`, `/metrics` and the small
//! JSON API, plus startup and graceful shutdown.

use std::{collections::HashMap, future::Future, net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    Json, Router,
    body::Body,
    extract::{MatchedPath, Query, Request, State, WebSocketUpgrade},
    http::{HeaderMap, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post, put},
};
use rf_sync::{
    Role,
    api::{self, ApiError, SessionInfo, SetRoot, Ticket},
};
use samod_core::{DocumentId, PeerId};
use tokio::{net::TcpListener, sync::watch};

use crate::{
    access::{Access, AuthError, Identity, TicketLifetimes, WorkspacePolicy, now_ms},
    chunks::{Health, ServerStorage},
    config::Settings,
    connection,
    listener::{self, ListenLimits},
    metrics::Metrics,
    store::Backend,
};

/// Everything a request handler needs.
#[derive(Debug)]
pub struct AppState<B> {
    pub settings: Settings,
    pub backend: B,
    pub access: Arc<Access<B>>,
    pub metrics: Arc<Metrics>,
    pub health: Arc<Health>,
    pub acceptor: samod::AcceptorHandle,
    /// Documents this instance's clients have synced, whose changes from
    /// other instances (on a shared PostgreSQL database) are relayed here.
    pub live_documents: std::sync::Mutex<std::collections::HashSet<String>>,
}

fn error_response(status: StatusCode, kind: &str, message: impl Into<String>) -> Response {
    (status, Json(ApiError { kind: kind.to_owned(), message: message.into() })).into_response()
}

fn auth_response(err: AuthError) -> Response {
    if let AuthError::Storage(source) = &err {
        tracing::error!(error = %source, "could not check a token");
        return error_response(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "the server could not check the token; try again");
    }
    let status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::UNAUTHORIZED);
    tracing::info!(status = status.as_u16(), reason = %err, "refused a request");
    error_response(status, err.kind(), err.to_string())
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")).map(str::trim)
}

async fn authenticate_bearer<B: Backend>(state: &AppState<B>, headers: &HeaderMap) -> Result<Identity, AuthError> {
    match bearer(headers) {
        Some(token) => state.access.authenticate(token).await,
        None => {
            Metrics::add(&state.metrics.auth_failures_total, 1);
            Err(AuthError::Missing)
        }
    }
}

async fn sync_upgrade<B: Backend>(
    State(state): State<Arc<AppState<B>>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let (identity, ticket) = match (bearer(&headers), query.get(api::TICKET_PARAM)) {
        (Some(_), _) => (authenticate_bearer(&state, &headers).await, None),
        (None, Some(ticket)) => (state.access.redeem_ticket(ticket).await, Some(ticket.clone())),
        (None, None) => (authenticate_bearer(&state, &headers).await, None),
    };
    let identity = match identity {
        Ok(identity) => identity,
        Err(err) => return auth_response(err),
    };
    let limit = state.settings.max_frame_bytes;
    upgrade.max_message_size(limit).max_frame_size(limit).on_upgrade(move |socket| connection::serve(socket, identity, ticket, state))
}

async fn session_info<B: Backend>(state: &AppState<B>, identity: &Identity) -> Result<SessionInfo, Response> {
    match state.backend.find_workspace(&identity.workspace_id).await {
        Ok(Some(workspace)) => Ok(SessionInfo {
            user: identity.user.clone(),
            role: identity.role,
            workspace_id: workspace.workspace_id,
            workspace_name: workspace.name,
            root_document: workspace.root_document,
        }),
        Ok(None) => Err(error_response(StatusCode::NOT_FOUND, "not_found", "the token's workspace no longer exists")),
        Err(err) => {
            tracing::error!(error = %err, "could not read a workspace");
            Err(error_response(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "the server could not read the workspace"))
        }
    }
}

async fn get_session<B: Backend>(State(state): State<Arc<AppState<B>>>, headers: HeaderMap) -> Response {
    let identity = match authenticate_bearer(&state, &headers).await {
        Ok(identity) => identity,
        Err(err) => return auth_response(err),
    };
    match session_info(&state, &identity).await {
        Ok(info) => Json(info).into_response(),
        Err(response) => response,
    }
}

async fn put_root<B: Backend>(State(state): State<Arc<AppState<B>>>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let identity = match authenticate_bearer(&state, &headers).await {
        Ok(identity) => identity,
        Err(err) => return auth_response(err),
    };
    if identity.role != Role::Owner {
        return error_response(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("only an owner can set the workspace's index document; {} is {}", identity.user, identity.role),
        );
    }
    let request: SetRoot = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(err) => return error_response(StatusCode::BAD_REQUEST, "invalid_input", format!("invalid request body: {err}")),
    };
    if request.document.parse::<DocumentId>().is_err() {
        return error_response(StatusCode::BAD_REQUEST, "invalid_input", format!("{:?} is not a document id", request.document));
    }
    let claimed = state.backend.claim_document(&request.document, &identity.workspace_id, now_ms()).await;
    match claimed {
        Ok(owner) if owner != identity.workspace_id => {
            return error_response(StatusCode::CONFLICT, "conflict", "that document belongs to another workspace");
        }
        Ok(_) => {}
        Err(err) => {
            tracing::error!(error = %err, "could not claim a root document");
            return error_response(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "the server could not store the root document");
        }
    }
    match state.backend.set_root_document(&identity.workspace_id, &request.document).await {
        Ok(Some(root)) if root == request.document => match session_info(&state, &identity).await {
            Ok(info) => Json(info).into_response(),
            Err(response) => response,
        },
        Ok(Some(root)) => error_response(StatusCode::CONFLICT, "conflict", format!("the workspace already has index document {root}")),
        Ok(None) => error_response(StatusCode::NOT_FOUND, "not_found", "the token's workspace no longer exists"),
        Err(err) => {
            tracing::error!(error = %err, "could not set a root document");
            error_response(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "the server could not store the root document")
        }
    }
}

async fn post_ticket<B: Backend>(State(state): State<Arc<AppState<B>>>, headers: HeaderMap) -> Response {
    match authenticate_bearer(&state, &headers).await {
        Ok(identity) => {
            let (ticket, ttl) = state.access.issue_ticket(identity);
            Json(Ticket { ticket, expires_in_secs: ttl.as_secs() }).into_response()
        }
        Err(err) => auth_response(err),
    }
}

async fn healthz<B: Backend>(State(state): State<Arc<AppState<B>>>) -> Response {
    let database = state.backend.access_version().await;
    let healthy = state.health.is_healthy() && database.is_ok();
    let body = serde_json::json!({
        "status": if healthy { "ok" } else { "unhealthy" },
        "storage": if state.health.is_healthy() { "ok" } else { "failing" },
        "database": if database.is_ok() { "ok" } else { "unreachable" },
        "backend": state.backend.kind(),
    });
    let status = if healthy { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(body)).into_response()
}

async fn metrics<B: Backend>(State(state): State<Arc<AppState<B>>>) -> Response {
    let documents = state.backend.count_documents().await.ok();
    let text = state.metrics.render(documents, state.health.is_healthy());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

/// Logs each request by its route template, never the raw URL: a ticket in
/// the query string must not reach the logs.
async fn log_request(request: Request<Body>, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or("(unmatched)", |p| p.as_str()).to_owned();
    let method = request.method().clone();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    tracing::debug!(%method, route, status = response.status().as_u16(), elapsed_ms = started.elapsed().as_millis() as u64, "request");
    response
}

pub fn router<B: Backend>(state: Arc<AppState<B>>) -> Router {
    Router::new()
        .route(api::SYNC_PATH, get(sync_upgrade::<B>))
        .route(api::SESSION_PATH, get(get_session::<B>))
        .route(api::ROOT_PATH, put(put_root::<B>))
        .route(api::TICKET_PATH, post(post_ticket::<B>))
        .route("/healthz", get(healthz::<B>))
        .route("/metrics", get(metrics::<B>))
        .layer(middleware::from_fn(log_request))
        .with_state(state)
}

/// Counts the documents in memory: samod loads one when a client or the
/// relay needs it and unloads it when idle (`unload_idle_secs`).
struct DocumentLifecycle(Arc<Metrics>);

impl samod::RepoObserver for DocumentLifecycle {
    fn observe(&self, event: &samod::RepoEvent) {
        match event {
            samod::RepoEvent::DocumentOpened { .. } => {
                self.0.documents_loaded.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            samod::RepoEvent::DocumentClosed { .. } => {
                self.0.documents_loaded.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
                Metrics::add(&self.0.documents_unloaded_total, 1);
            }
            _ => {}
        }
    }
}

/// Serves until `shutdown` resolves, then closes every connection and waits
/// for storage to finish before returning.
pub async fn serve<B: Backend>(
    settings: Settings,
    backend: B,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let address: SocketAddr = listener.local_addr()?;
    let metrics = Arc::new(Metrics::default());
    let health = Arc::new(Health::default());
    let tickets = TicketLifetimes { unused: Duration::from_secs(settings.ticket_ttl_secs), reconnect: Duration::from_secs(settings.ticket_reconnect_secs) };
    let access = Access::new(backend.clone(), metrics.clone(), tickets, settings.messages_per_second);
    let storage = ServerStorage::new(backend.clone(), metrics.clone(), health.clone());
    let peer_id = PeerId::from(format!("raptorflow-sync-server/{}", uuid::Uuid::now_v7()));
    // Document actors run on their own pool, so that documents are synced in
    // parallel and the async runtime stays free for connections and storage.
    let threads = if settings.document_threads == 0 { std::thread::available_parallelism().map_or(2, |n| n.get()) } else { settings.document_threads };
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).thread_name(|i| format!("sync-doc-{i}")).build()?;
    let repo = samod::Repo::build_tokio()
        .with_storage(storage)
        .with_share_policy(WorkspacePolicy(access.clone()))
        .with_peer_id(peer_id)
        .with_concurrency(samod::ConcurrencyConfig::Threadpool(pool))
        .with_observer(DocumentLifecycle(metrics.clone()))
        .with_max_document_bytes(usize::try_from(settings.max_document_mib.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX));
    let repo = match settings.unload_idle_secs {
        0 => repo,
        secs => repo.with_idle_unload(Duration::from_secs(secs)),
    }
    .load()
    .await;
    let acceptor = repo
        .make_acceptor(url::Url::parse(&format!("ws://{address}{}", api::SYNC_PATH))?)
        .map_err(|_| anyhow::anyhow!("the document repo stopped while starting"))?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let watcher = tokio::spawn(access.clone().watch_for_changes(Duration::from_millis(settings.access_poll_millis), stop_rx));
    let state = Arc::new(AppState {
        settings,
        backend: backend.clone(),
        access: access.clone(),
        metrics,
        health,
        acceptor,
        live_documents: std::sync::Mutex::default(),
    });
    let relay = backend.chunk_feed().await?.map(|feed| tokio::spawn(relay_chunks(feed, repo.clone(), state.clone())));
    tracing::info!(%address, backend = backend.kind(), "raptorflow-sync listening");
    let shutdown_access = access.clone();
    let limits =
        ListenLimits { header_timeout: Duration::from_secs(state.settings.header_timeout_secs), max_per_address: state.settings.max_connections_per_address };
    let metrics = state.metrics.clone();
    listener::serve(listener, router(state), limits, metrics, async move {
        shutdown.await;
        tracing::info!("shutting down: closing connections and flushing storage");
        shutdown_access.close_all("the server is shutting down");
    })
    .await;
    let _ = stop_tx.send(true);
    let _ = watcher.await;
    if let Some(relay) = relay {
        relay.abort();
    }
    // Give connection tasks a moment to send their close frames.
    tokio::time::sleep(Duration::from_millis(100)).await;
    repo.stop().await;
    backend.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Applies chunks that other instances store (on a shared database) to the
/// documents this instance's clients use, so that samod passes them on live.
/// Work is batched: the keys of every notification waiting are loaded in one
/// query per [`crate::store::KEYS_PER_STATEMENT`], and each document takes
/// all of its chunks in one call. A chunk already known changes nothing, and
/// the re-save of a relayed change writes the same key, which the trigger does
/// not announce, so instances never echo each other.
async fn relay_chunks<B: Backend>(mut feed: tokio::sync::mpsc::Receiver<Vec<String>>, repo: samod::Repo, state: Arc<AppState<B>>) {
    const MOST_KEYS_PER_PASS: usize = 4 * crate::store::KEYS_PER_STATEMENT;
    while let Some(mut keys) = feed.recv().await {
        Metrics::add(&state.metrics.relay_notifications_total, 1);
        while keys.len() < MOST_KEYS_PER_PASS {
            let Ok(more) = feed.try_recv() else { break };
            Metrics::add(&state.metrics.relay_notifications_total, 1);
            keys.extend(more);
        }
        Metrics::add(&state.metrics.relay_keys_total, keys.len() as u64);
        {
            let live = state.live_documents.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            keys.retain(|key| key.split('/').next().is_some_and(|document| live.contains(document)));
        }
        if keys.is_empty() {
            continue;
        }
        // A key missing from the result was compacted away already; the
        // snapshot that replaced it has its own notification.
        let rows = match state.backend.chunk_load_many(&keys).await {
            Ok(rows) => rows,
            Err(err) => {
                tracing::warn!(keys = keys.len(), error = %err, "could not load chunks another instance stored");
                continue;
            }
        };
        let mut by_document: HashMap<DocumentId, Vec<(String, Vec<u8>)>> = HashMap::new();
        for (key, bytes) in rows {
            if let Some(Ok(document)) = key.split('/').next().map(str::parse::<DocumentId>) {
                by_document.entry(document).or_default().push((key, bytes));
            }
        }
        for (document, chunks) in by_document {
            let Ok(Some(handle)) = repo.find(document).await else { continue };
            let applied = handle
                .with_document_async(move |doc| {
                    let mut applied = 0_u64;
                    for (key, bytes) in chunks {
                        match doc.load_incremental(&bytes) {
                            Ok(_) => applied += 1,
                            Err(err) => tracing::warn!(key, error = %err, "a chunk another instance stored does not load"),
                        }
                    }
                    applied
                })
                .await;
            match applied {
                Ok(applied) => Metrics::add(&state.metrics.relayed_chunks_total, applied),
                Err(_) => return, // the repo stopped
            }
        }
    }
}
