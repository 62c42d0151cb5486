//! The local OpenAI-compatible API: what `raptorflow serve` (and the app's
//! toggle) answers, so that chat clients, editors, spreadsheets and scripts
//! can use RaptorFlow's models the way they use LM Studio's or Ollama's.
//!
//! The subset clients call: `GET /v1/models`, `POST /v1/chat/completions`
//! (streamed as server-sent events or not, `response_format` with a JSON
//! Schema enforced by constrained decoding on the local model, `stop`,
//! `max_tokens`, `temperature`, `top_p`, `seed`) and `POST /v1/embeddings`
//! (floats or base64). Errors come in OpenAI's shape
//! (`{"error": {"message", "type", "param", "code"}}`) so that clients show
//! them.
//!
//! Every call goes through [`Core::ask`] and [`Core::embed_counted`]:
//! privacy mode, budgets, the response cache and the ledger apply, and the
//! ledger records the API as the caller. The server listens on 127.0.0.1
//! only, wants the bearer token kept in the OS keyring (one per data
//! directory, made on first use), refuses a `Host` other than the loopback
//! (DNS rebinding) and, unless an origin is allowed, any request a web
//! page's script sends (CORS closed).

use std::{
    convert::Infallible,
    net::{Ipv4Addr, SocketAddr},
    sync::Arc,
};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited, combinators::UnsyncBoxBody};
use hyper::{
    Method, Request, Response, StatusCode,
    body::Incoming,
    header::{self, HeaderValue},
    service::service_fn,
};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::{Core, CoreError, ErrorKind, secrets::API_TOKENS};

mod chat;
mod embeddings;

/// The port `raptorflow serve` listens on unless told otherwise.
pub const DEFAULT_API_PORT: u16 = 7420;
/// The keyring service holding the API's bearer tokens (the account is the
/// data directory).
pub const API_KEYRING_SERVICE: &str = "raptorflow-api";
/// What the ledger records as the caller of the API's calls.
pub const API_CALLER: &str = "api";
/// The model id that lets RaptorFlow pick (by tier, privacy mode and budget).
pub const AUTO_MODEL: &str = "auto";
/// The largest request body taken, in bytes.
const MAX_BODY_BYTES: usize = 8 << 20;
/// The most texts one embeddings request may embed (OpenAI's own limit).
const MAX_EMBEDDING_INPUTS: usize = 2048;
/// The most `max_tokens` a chat request may ask for.
const MAX_COMPLETION_TOKENS: usize = 32_768;

/// How the API server is set up.
#[derive(Debug, Clone)]
pub struct ApiOptions {
    /// 0 takes any free port.
    pub port: u16,
    /// Web origins (`https://app.example.com`) whose pages may call the API
    /// from a browser; none by default.
    pub allowed_origins: Vec<String>,
    /// The MCP server on `/mcp` (streamable HTTP): read-only unless writing
    /// is allowed.
    pub mcp: crate::mcp::McpOptions,
}

impl Default for ApiOptions {
    fn default() -> Self {
        Self { port: DEFAULT_API_PORT, allowed_origins: Vec::new(), mcp: crate::mcp::McpOptions::default() }
    }
}

/// A running API server; [`ApiServer::stop`] ends it (dropping it stops
/// it too, without waiting).
#[derive(Debug)]
pub struct ApiServer {
    addr: SocketAddr,
    stop: CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
    calls: Arc<tokio::sync::RwLock<()>>,
}

/// How long [`ApiServer::stop`] waits for cancelled calls to record themselves.
const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(30);

impl Drop for ApiServer {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl ApiServer {
    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL clients are given (`http://127.0.0.1:7420/v1`).
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Stops taking connections, ends the ones open and cancels their
    /// calls, then waits (up to 30 s) until every call has recorded how it
    /// ended in the ledger, so that Core can be closed after.
    pub async fn stop(mut self) {
        self.stop.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        if tokio::time::timeout(STOP_GRACE, self.calls.write()).await.is_err() {
            tracing::warn!("the API stopped with calls still running");
        }
    }
}

/// What every request handler shares.
struct State {
    core: Core,
    token: String,
    port: u16,
    /// Normalised by [`normalize_origin`].
    allowed_origins: Vec<String>,
    stop: CancellationToken,
    /// Each call in flight holds a read guard until it has ended.
    calls: Arc<tokio::sync::RwLock<()>>,
    /// The MCP server on `/mcp`.
    mcp: crate::mcp::HttpService,
}

type Body = UnsyncBoxBody<Bytes, Infallible>;

impl Core {
    /// The API's bearer token for this data directory, made (32 random
    /// bytes, hex) and kept in the OS keyring on first use.
    pub fn api_token(&self) -> crate::Result<String> {
        let account = self.data_dir().display().to_string();
        if let Some(token) = API_TOKENS.get(&account)? {
            return Ok(token);
        }
        let token = format!("rf-{}", rf_sync::token::random_hex(32));
        API_TOKENS.set(&account, &token)?;
        Ok(token)
    }

    /// Starts the OpenAI-compatible API on 127.0.0.1 (see the module's
    /// documentation). Fails if the port is taken or the keyring cannot
    /// give the token.
    pub async fn serve_api(&self, options: ApiOptions) -> crate::Result<ApiServer> {
        let token = self.api_token()?;
        let mut allowed_origins = Vec::with_capacity(options.allowed_origins.len());
        for origin in &options.allowed_origins {
            let Some(normalized) = normalize_origin(origin) else {
                return Err(rf_ai::AiError::InvalidInput(format!(
                    "allowed origin {origin:?} is not an origin: give the scheme, host and port only, like https://app.example.com or app://obsidian.md"
                ))
                .into());
            };
            allowed_origins.push(normalized);
        }
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, options.port)).await.map_err(|source| CoreError::Io {
            action: "could not listen on",
            path: format!("127.0.0.1:{}", options.port).into(),
            source,
        })?;
        let addr =
            listener.local_addr().map_err(|source| CoreError::Io { action: "could not read the address of", path: "the API's socket".into(), source })?;
        let stop = CancellationToken::new();
        let calls = Arc::new(tokio::sync::RwLock::new(()));
        let mcp = crate::mcp::http_service(self, options.mcp, stop.child_token());
        let state = Arc::new(State { core: self.clone(), token, port: addr.port(), allowed_origins, stop: stop.clone(), calls: calls.clone(), mcp });
        let task = tokio::spawn(accept(listener, state));
        tracing::info!(%addr, "the OpenAI-compatible API is listening");
        Ok(ApiServer { addr, stop, task: Some(task), calls })
    }
}

async fn accept(listener: tokio::net::TcpListener, state: Arc<State>) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let stream = tokio::select! {
            () = state.stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(err) => {
                    // Out of file descriptors and the like: wait, then go on.
                    tracing::warn!(error = %err, "the API could not take a connection");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let state = state.clone();
        connections.spawn(async move {
            let service = service_fn(move |request| {
                let state = state.clone();
                async move { Ok::<_, Infallible>(handle(&state, request).await) }
            });
            let connection = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            if let Err(err) = connection.await {
                tracing::debug!(error = %err, "an API connection ended with an error");
            }
        });
        while connections.try_join_next().is_some() {}
    }
    connections.shutdown().await;
}

/// An error in OpenAI's shape, with its status.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    kind: &'static str,
    code: Option<&'static str>,
    param: Option<&'static str>,
    message: String,
}

impl ApiError {
    fn invalid(param: Option<&'static str>, message: impl Into<String>) -> Self {
        Self { status: StatusCode::BAD_REQUEST, kind: "invalid_request_error", code: None, param, message: message.into() }
    }

    fn body(&self) -> Value {
        json!({ "error": { "message": self.message, "type": self.kind, "param": self.param, "code": self.code } })
    }
}

impl From<CoreError> for ApiError {
    fn from(err: CoreError) -> Self {
        let message = err.to_string();
        let (status, kind, code) = match err.kind() {
            ErrorKind::InvalidInput => (StatusCode::BAD_REQUEST, "invalid_request_error", None),
            ErrorKind::NotFound => (StatusCode::NOT_FOUND, "invalid_request_error", Some("model_not_found")),
            ErrorKind::Conflict => (StatusCode::CONFLICT, "invalid_request_error", None),
            ErrorKind::PermissionDenied => (StatusCode::FORBIDDEN, "permission_error", None),
            ErrorKind::BudgetExceeded => (StatusCode::TOO_MANY_REQUESTS, "insufficient_quota", Some("insufficient_quota")),
            // A cloud provider's rate limit is the client's to wait out.
            ErrorKind::Network if is_rate_limited(&err) => (StatusCode::TOO_MANY_REQUESTS, "rate_limit_error", Some("rate_limit_exceeded")),
            ErrorKind::Network => (StatusCode::BAD_GATEWAY, "api_error", None),
            ErrorKind::Storage => (StatusCode::INTERNAL_SERVER_ERROR, "server_error", None),
        };
        Self { status, kind, code, param: None, message }
    }
}

fn full(status: StatusCode, body: &Value) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())).boxed_unsync());
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn is_rate_limited(err: &CoreError) -> bool {
    matches!(err, CoreError::Ai(ai) if matches!(ai.as_ref(), rf_ai::AiError::Provider(rf_ai::ProviderError::RateLimited { .. })))
}

fn error_response(err: &ApiError) -> Response<Body> {
    let mut response = full(err.status, &err.body());
    // OpenAI's clients retry 409 and 429 unless told not to; an exhausted
    // budget or a conflict will not go away by retrying.
    if matches!(err.code, Some("insufficient_quota")) || err.status == StatusCode::CONFLICT {
        response.headers_mut().insert("x-should-retry", HeaderValue::from_static("false"));
    }
    response
}

async fn handle(state: &State, request: Request<Incoming>) -> Response<Body> {
    // The page a browser's request came from, and whether it may call.
    let origin = request.headers().get(header::ORIGIN).and_then(|o| o.to_str().ok()).map(|o| (o.to_owned(), is_allowed_origin(state, o)));
    let mut response = match check_and_route(state, request, origin.as_ref().map(|(o, allowed)| (o.as_str(), *allowed))).await {
        Ok(response) => response,
        Err(err) => error_response(&err),
    };
    if let Some((origin, true)) = origin
        && let Ok(value) = HeaderValue::from_str(&origin)
    {
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    response
}

/// An origin as browsers send it, for comparing: `scheme://host[:port]`,
/// lower case, without a default port; `None` for anything that is not an
/// origin (a path, a query, credentials, no host).
fn normalize_origin(origin: &str) -> Option<String> {
    let url = url::Url::parse(origin.trim()).ok()?;
    let host = url.host_str()?.to_ascii_lowercase();
    if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return None;
    }
    // `port()` leaves out the scheme's default port.
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    Some(format!("{}://{host}{port}", url.scheme()))
}

/// Whether the origin a request came from was allowed.
fn is_allowed_origin(state: &State, origin: &str) -> bool {
    normalize_origin(origin).is_some_and(|o| state.allowed_origins.contains(&o))
}

/// The host names a request to this server may carry: the loopback, on our port.
fn is_loopback_host(host: &str, port: u16) -> bool {
    let Some((name, host_port)) = host.rsplit_once(':') else { return false };
    host_port.parse::<u16>() == Ok(port) && matches!(name, "127.0.0.1" | "localhost" | "[::1]")
}

async fn check_and_route(state: &State, request: Request<Incoming>, origin: Option<(&str, bool)>) -> Result<Response<Body>, ApiError> {
    let forbidden = |message: String| ApiError { status: StatusCode::FORBIDDEN, kind: "permission_error", code: None, param: None, message };
    let host = request.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
    if !is_loopback_host(host, state.port) {
        return Err(forbidden(format!("refused a request for host {host:?}: this server answers only 127.0.0.1:{} and localhost:{}", state.port, state.port)));
    }
    if let Some((origin, false)) = origin {
        return Err(forbidden(format!(
            "refused a request from the web page at {origin}: browsers may call this API only from an allowed origin (raptorflow serve --allow-origin {origin})"
        )));
    }
    if request.method() == Method::OPTIONS {
        // Client libraries send headers of their own (openai-node's
        // `x-stainless-*`): the ones the browser asks for are allowed.
        let asked = request.headers().get(header::ACCESS_CONTROL_REQUEST_HEADERS).cloned();
        let mut response = Response::new(Full::new(Bytes::new()).boxed_unsync());
        *response.status_mut() = StatusCode::NO_CONTENT;
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST, DELETE, OPTIONS"));
        headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked.unwrap_or_else(|| HeaderValue::from_static("authorization, content-type")));
        headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
        return Ok(response);
    }
    authorize(state, &request)?;
    let path = request.uri().path().trim_end_matches('/').to_owned();
    if path == "/mcp" {
        // MCP's streamable HTTP, behind the same token and the same checks.
        return Ok(state.mcp.handle(request).await.map(http_body_util::BodyExt::boxed_unsync));
    }
    let method = request.method().clone();
    match (method, path.as_str()) {
        (Method::GET, "/v1/models") => Ok(full(StatusCode::OK, &json!({ "object": "list", "data": models(&state.core).await? }))),
        (Method::GET, p) if p.starts_with("/v1/models/") => {
            let id = &p["/v1/models/".len()..];
            let all = models(&state.core).await?;
            match all.into_iter().find(|m| m["id"] == id) {
                Some(model) => Ok(full(StatusCode::OK, &model)),
                None => Err(unknown_model(id)),
            }
        }
        (Method::POST, "/v1/chat/completions") => {
            let body: chat::ChatBody = read_json(request).await?;
            chat::chat(state, body).await
        }
        (Method::POST, "/v1/embeddings") => {
            let body: embeddings::EmbeddingsBody = read_json(request).await?;
            embeddings::embeddings(state, body).await
        }
        (_, "/v1/models" | "/v1/chat/completions" | "/v1/embeddings") => Err(ApiError {
            status: StatusCode::METHOD_NOT_ALLOWED,
            kind: "invalid_request_error",
            code: None,
            param: None,
            message: format!("{} is not allowed on {path}", request_method_name(&path)),
        }),
        _ => Err(ApiError {
            status: StatusCode::NOT_FOUND,
            kind: "invalid_request_error",
            code: Some("unknown_url"),
            param: None,
            message: format!("there is no {path} here: this server answers GET /v1/models, POST /v1/chat/completions, POST /v1/embeddings and MCP on /mcp"),
        }),
    }
}

fn request_method_name(path: &str) -> &'static str {
    if path == "/v1/models" { "only GET" } else { "only POST" }
}

/// Checks the bearer token, in time that does not depend on where it differs.
fn authorize(state: &State, request: &Request<Incoming>) -> Result<(), ApiError> {
    let unauthorized = |message: &str| ApiError {
        status: StatusCode::UNAUTHORIZED,
        kind: "invalid_request_error",
        code: Some("invalid_api_key"),
        param: None,
        message: message.to_owned(),
    };
    let Some(value) = request.headers().get(header::AUTHORIZATION) else {
        return Err(unauthorized("no API key: send the token as `Authorization: Bearer <token>` (`raptorflow serve --print-token` prints it)"));
    };
    // The scheme's name is case-insensitive (RFC 9110).
    let given = value
        .to_str()
        .ok()
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map_or("", |(_, token)| token.trim());
    if bool::from(subtle::ConstantTimeEq::ct_eq(given.as_bytes(), state.token.as_bytes())) {
        Ok(())
    } else {
        Err(unauthorized("incorrect API key: `raptorflow serve --print-token` prints this server's token"))
    }
}

async fn read_json<T: serde::de::DeserializeOwned>(request: Request<Incoming>) -> Result<T, ApiError> {
    let bytes = match Limited::new(request.into_body(), MAX_BODY_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(err) if err.downcast_ref::<http_body_util::LengthLimitError>().is_some() => {
            return Err(ApiError {
                status: StatusCode::PAYLOAD_TOO_LARGE,
                kind: "invalid_request_error",
                code: None,
                param: None,
                message: format!("the request body is larger than {} MiB", MAX_BODY_BYTES >> 20),
            });
        }
        Err(err) => return Err(ApiError::invalid(None, format!("the request body could not be read: {err}"))),
    };
    let deserializer = &mut serde_json::Deserializer::from_slice(&bytes);
    serde_path_to_error::deserialize(deserializer).map_err(|err| {
        let at = err.path().to_string();
        let inner = err.into_inner();
        if at.is_empty() || at == "." {
            ApiError::invalid(None, format!("the request body is not valid: {inner}"))
        } else {
            ApiError::invalid(None, format!("the request body is not valid at `{at}`: {inner}"))
        }
    })
}

fn unknown_model(id: &str) -> ApiError {
    ApiError {
        status: StatusCode::NOT_FOUND,
        kind: "invalid_request_error",
        code: Some("model_not_found"),
        param: Some("model"),
        message: format!("the model `{id}` does not exist here: GET /v1/models lists the models this server has"),
    }
}

/// The models clients may name: `auto`, the installed local models, and
/// the configured cloud providers (by their names).
async fn models(core: &Core) -> Result<Vec<Value>, ApiError> {
    let entry = |id: &str, owned_by: &str| json!({ "id": id, "object": "model", "created": 0, "owned_by": owned_by });
    let mut out = vec![entry(AUTO_MODEL, "raptorflow")];
    let store = core.model_store().await?;
    for model in store.list().map_err(CoreError::from)?.into_iter().filter(|m| m.installed) {
        out.push(entry(model.id.as_str(), "local"));
    }
    for provider in &core.settings()?.providers {
        out.push(entry(provider.name.as_str(), &format!("{} ({})", provider.model, provider.kind)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_loopback_on_our_port_is_a_host() {
        assert!(is_loopback_host("127.0.0.1:7420", 7420));
        assert!(is_loopback_host("localhost:7420", 7420));
        assert!(is_loopback_host("[::1]:7420", 7420));
        assert!(!is_loopback_host("127.0.0.1:80", 7420));
        assert!(!is_loopback_host("evil.example:7420", 7420), "a rebound DNS name");
        assert!(!is_loopback_host("127.0.0.1", 7420));
        assert!(!is_loopback_host("", 7420));
    }

    #[test]
    fn errors_have_openais_shape() {
        let err = unknown_model("gpt-9");
        assert_eq!(err.status, StatusCode::NOT_FOUND);
        let body = err.body();
        assert_eq!(body["error"]["code"], "model_not_found");
        assert_eq!(body["error"]["param"], "model");
        assert_eq!(body["error"]["type"], "invalid_request_error");
        assert!(body["error"]["message"].as_str().unwrap().contains("`gpt-9`"));
    }
}
