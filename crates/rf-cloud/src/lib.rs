//! Cloud chat models behind [`LanguageModel`]: any OpenAI-compatible Chat
//! Completions endpoint (OpenAI, OpenRouter, Groq, Together, Ollama, LM
//! Studio, llama.cpp's server, vLLM) and Anthropic's Messages API.
//!
//! One call is: build the wire request, send it, retry 408/409/429/5xx and
//! connection failures with exponential backoff and jitter (a `Retry-After`
//! is honoured; one longer than the policy allows ends the call at once),
//! then read the answer, streamed (SSE) or whole, into a [`Completion`] with
//! the provider's token counts. Nothing is retried once text has reached the
//! caller. Errors say which provider, what happened and what to do; none of
//! them, and no `Debug` output, ever contains the API key.

mod anthropic;
mod openai;
mod sse;

use std::{fmt, time::Duration};

use futures::{StreamExt, future::BoxFuture};
use rf_domain::error_chain;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

pub use rf_ai::ProviderError;
use rf_ai::{AiError, ChatRequest, Completion, LanguageModel, ModelId, ModelRef, ProviderName, StopReason, Usage};

/// The wire protocol a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProviderKind {
    /// `POST {base_url}/chat/completions` with a bearer key.
    OpenaiCompatible,
    /// `POST {base_url}/v1/messages` with `x-api-key`.
    Anthropic,
}

impl ProviderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OpenaiCompatible => "openai-compatible",
            Self::Anthropic => "anthropic",
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ProviderKind {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "openai-compatible" | "openai" => Ok(Self::OpenaiCompatible),
            "anthropic" => Ok(Self::Anthropic),
            other => Err(format!("unknown provider kind {other:?}: use openai-compatible or anthropic")),
        }
    }
}

/// An API key. It is only ever shown to the provider: `Debug` prints
/// `ApiKey(<redacted>)` and there is no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// A key as pasted by the user (surrounding whitespace removed); `None`
    /// when nothing is left.
    pub fn new(text: &str) -> Option<Self> {
        let text = text.trim();
        (!text.is_empty()).then(|| Self(text.to_owned()))
    }

    /// The key itself, for the keyring and the request header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// Timeouts and retries of provider calls.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpPolicy {
    /// Tries of one call, the first included.
    pub max_attempts: u32,
    /// The first backoff; it doubles with each retry, up to `max_backoff`,
    /// and a random part of it (half to all) is slept.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// A `Retry-After` longer than this is not waited for: the call fails
    /// at once and says when to try again.
    pub max_retry_after: Duration,
    pub connect_timeout: Duration,
    /// From sending the request to the response's headers.
    pub response_timeout: Duration,
    /// The longest silence inside a response body.
    pub idle_timeout: Duration,
    /// Ask for a streamed answer (SSE).
    pub stream: bool,
}

impl Default for HttpPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(20),
            max_retry_after: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            response_timeout: Duration::from_secs(120),
            idle_timeout: Duration::from_secs(60),
            stream: true,
        }
    }
}

/// An HTTP client for cloud providers: TLS, a connection pool, and
/// `connect_timeout` for every connection it opens.
pub fn http_client(connect_timeout: Duration) -> Result<reqwest::Client, AiError> {
    reqwest::Client::builder().connect_timeout(connect_timeout).build().map_err(|err| AiError::Inference(format!("could not start an HTTP client: {err}")))
}

/// A configured cloud model.
#[derive(Debug, Clone)]
pub struct CloudConfig {
    /// The name the user gave the provider (`raptorflow providers add NAME`).
    pub name: ProviderName,
    pub kind: ProviderKind,
    /// e.g. `https://api.openai.com/v1`, `http://127.0.0.1:11434/v1`,
    /// `https://api.anthropic.com`.
    pub base_url: url::Url,
    pub model: ModelId,
    /// `None` for servers that want none (a local Ollama).
    pub key: Option<ApiKey>,
    pub policy: HttpPolicy,
}

/// What a provider's error body says, in the pieces the mapping needs.
#[derive(Debug, Default)]
struct ErrorBody {
    /// `error.type` or `error.code`, e.g. `invalid_api_key`, `not_found_error`.
    code: String,
    message: String,
}

/// The wire format of one provider kind.
trait Protocol: Send + Sync {
    fn endpoint(&self, base: &url::Url) -> String;
    fn headers(&self, key: Option<&ApiKey>) -> Vec<(&'static str, String)>;
    fn body(&self, model: &str, request: &ChatRequest, stream: bool, base: &url::Url) -> serde_json::Value;
    /// A whole (not streamed) answer.
    fn parse_whole(&self, body: &serde_json::Value) -> Result<(String, StopReason, Usage, String), String>;
    /// Feeds one SSE event; returns text to pass on.
    fn stream_event(&self, state: &mut StreamState, event: &str, data: &str) -> Result<Option<String>, String>;
    fn parse_error(&self, body: &str) -> ErrorBody;
    fn is_context_error(&self, error: &ErrorBody) -> bool;
    fn is_model_error(&self, status: u16, error: &ErrorBody) -> bool;
}

/// What a stream has said so far.
#[derive(Debug, Default)]
struct StreamState {
    text: String,
    n_pieces: u64,
    stop_reason: Option<StopReason>,
    usage: Option<Usage>,
    model: Option<String>,
    finished: bool,
}

/// A cloud chat model: a [`CloudConfig`] and an HTTP client.
#[derive(Debug, Clone)]
pub struct CloudModel {
    config: CloudConfig,
    client: reqwest::Client,
}

impl CloudModel {
    /// A model with an HTTP client of its own. A long-lived process makes
    /// one [`http_client`] and gives it to every model
    /// ([`CloudModel::with_client`]), so that connections are pooled.
    pub fn new(config: CloudConfig) -> Result<Self, AiError> {
        let client = http_client(config.policy.connect_timeout)?;
        Ok(Self { config, client })
    }

    /// A model that sends its requests through `client` (cheap to clone;
    /// clones share one connection pool). The policy's timeouts apply per
    /// request, except the connect timeout, which is the client's.
    pub fn with_client(config: CloudConfig, client: reqwest::Client) -> Self {
        Self { config, client }
    }

    pub fn config(&self) -> &CloudConfig {
        &self.config
    }

    fn protocol(&self) -> &'static dyn Protocol {
        match self.config.kind {
            ProviderKind::OpenaiCompatible => &openai::OpenAi,
            ProviderKind::Anthropic => &anthropic::Anthropic,
        }
    }

    /// Removes the key from text that came back from the provider, which
    /// may quote it.
    fn scrub(&self, text: &str) -> String {
        let mut text: String = text.chars().take(500).collect();
        if let Some(key) = &self.config.key
            && key.expose().len() >= 4
        {
            text = text.replace(key.expose(), "<redacted>");
        }
        text
    }

    async fn call(&self, request: &ChatRequest, on_text: &mut (dyn FnMut(&str) + Send), cancel: &CancellationToken) -> Result<Completion, ProviderError> {
        let provider = self.config.name.clone();
        if self.config.key.is_none() && self.needs_key() {
            return Err(ProviderError::MissingKey { provider });
        }
        let protocol = self.protocol();
        let policy = &self.config.policy;
        let url = protocol.endpoint(&self.config.base_url);
        let body = protocol.body(self.config.model.as_str(), request, policy.stream, &self.config.base_url);
        let sent_usage = Usage { input_tokens: request.input_token_bound(), estimated: true, ..Usage::default() };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut builder = self.client.post(&url).json(&body);
            for (name, value) in protocol.headers(self.config.key.as_ref()) {
                builder = builder.header(name, value);
            }
            let sent = tokio::select! {
                () = cancel.cancelled() => return Ok(cancelled(String::new(), Usage::default(), self.config.model.as_str())),
                sent = tokio::time::timeout(policy.response_timeout, builder.send()) => sent,
            };
            let retry_in = match sent {
                Err(_elapsed) => {
                    if attempt >= policy.max_attempts {
                        return Err(ProviderError::Timeout { provider, secs: policy.response_timeout.as_secs(), attempts: attempt, usage: sent_usage });
                    }
                    None
                }
                Ok(Err(err)) => {
                    if attempt >= policy.max_attempts {
                        return Err(ProviderError::Unreachable { provider, url, attempts: attempt, detail: self.scrub(&error_chain(&err)) });
                    }
                    None
                }
                Ok(Ok(response)) => {
                    let status = response.status().as_u16();
                    if (200..300).contains(&status) {
                        return self.read_answer(response, request, &sent_usage, on_text, cancel).await;
                    }
                    let retry_after = retry_after(response.headers());
                    let text = tokio::time::timeout(policy.idle_timeout, response.text()).await.ok().and_then(Result::ok).unwrap_or_default();
                    let error = protocol.parse_error(&text);
                    let detail = self.scrub(if error.message.is_empty() { text.trim() } else { &error.message });
                    let retryable = matches!(status, 408 | 409 | 429) || status >= 500;
                    if !retryable {
                        return Err(self.client_error(protocol, status, &error, detail));
                    }
                    if let Some(wait) = retry_after
                        && wait > policy.max_retry_after
                    {
                        return Err(self.give_up(status, attempt, detail, Some(wait)));
                    }
                    if attempt >= policy.max_attempts {
                        return Err(self.give_up(status, attempt, detail, retry_after));
                    }
                    tracing::debug!(provider = %provider, status, attempt, "retrying");
                    retry_after
                }
            };
            let wait = retry_after_or_backoff(retry_in, policy, attempt);
            tokio::select! {
                () = cancel.cancelled() => return Ok(cancelled(String::new(), Usage::default(), self.config.model.as_str())),
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    fn needs_key(&self) -> bool {
        // Servers on this machine (Ollama, LM Studio, llama.cpp) take none.
        self.config.kind == ProviderKind::Anthropic || !is_loopback(&self.config.base_url)
    }

    fn client_error(&self, protocol: &dyn Protocol, status: u16, error: &ErrorBody, detail: String) -> ProviderError {
        let provider = self.config.name.clone();
        if status == 401 || status == 403 {
            ProviderError::Unauthorized { provider, status, detail }
        } else if protocol.is_model_error(status, error) {
            ProviderError::UnknownModel { provider, model: self.config.model.clone(), status, detail }
        } else if protocol.is_context_error(error) {
            ProviderError::ContextTooLong { provider, model: self.config.model.clone(), detail }
        } else {
            ProviderError::BadRequest { provider, status, detail }
        }
    }

    fn give_up(&self, status: u16, attempts: u32, detail: String, retry_after: Option<Duration>) -> ProviderError {
        let provider = self.config.name.clone();
        if status == 429 {
            let advice = match retry_after {
                Some(wait) => format!("it asks to wait {} s before trying again", wait.as_secs_f64().ceil()),
                None => "wait a minute and try again, or raise the key's limits with the provider".into(),
            };
            ProviderError::RateLimited { provider, attempts, detail, advice }
        } else {
            ProviderError::Server { provider, status, attempts, detail }
        }
    }

    async fn read_answer(
        &self,
        response: reqwest::Response,
        request: &ChatRequest,
        sent_usage: &Usage,
        on_text: &mut (dyn FnMut(&str) + Send),
        cancel: &CancellationToken,
    ) -> Result<Completion, ProviderError> {
        let provider = self.config.name.clone();
        let protocol = self.protocol();
        let idle = self.config.policy.idle_timeout;
        let is_stream = response.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("text/event-stream"));
        let bad = |detail: String, usage: Usage| ProviderError::BadResponse { provider: provider.clone(), detail, usage };
        let (text, stop_reason, usage, model) = if is_stream {
            let mut state = StreamState::default();
            let mut events = sse::Events::default();
            let mut body = response.bytes_stream();
            let estimate = |state: &StreamState| Usage { output_tokens: state.n_pieces, ..*sent_usage };
            loop {
                let chunk = tokio::select! {
                    () = cancel.cancelled() => {
                        let usage = state.usage.unwrap_or_else(|| estimate(&state));
                        return Ok(cancelled(state.text, usage, self.config.model.as_str()));
                    }
                    chunk = tokio::time::timeout(idle, body.next()) => chunk,
                };
                let chunk = match chunk {
                    Err(_) => {
                        return Err(ProviderError::Timeout {
                            provider,
                            secs: idle.as_secs(),
                            attempts: 1,
                            usage: state.usage.unwrap_or_else(|| estimate(&state)),
                        });
                    }
                    Ok(None) => break,
                    Ok(Some(Err(err))) => {
                        return Err(ProviderError::StreamDropped {
                            provider,
                            detail: self.scrub(&error_chain(&err)),
                            usage: state.usage.unwrap_or_else(|| estimate(&state)),
                        });
                    }
                    Ok(Some(Ok(chunk))) => chunk,
                };
                for (event, data) in events.push(&chunk) {
                    match protocol.stream_event(&mut state, &event, &data) {
                        Ok(Some(piece)) => {
                            state.n_pieces += 1;
                            state.text.push_str(&piece);
                            on_text(&piece);
                        }
                        Ok(None) => {}
                        Err(detail) => return Err(bad(self.scrub(&detail), state.usage.unwrap_or_else(|| estimate(&state)))),
                    }
                }
                if state.finished {
                    break;
                }
            }
            if !state.finished {
                let usage = state.usage.unwrap_or_else(|| estimate(&state));
                return Err(ProviderError::StreamDropped { provider, detail: "the connection closed before the end-of-answer event".into(), usage });
            }
            let usage = state.usage.unwrap_or_else(|| estimate(&state));
            (state.text, state.stop_reason.unwrap_or(StopReason::EndOfTurn), usage, state.model.unwrap_or_else(|| self.config.model.to_string()))
        } else {
            let body = tokio::select! {
                () = cancel.cancelled() => return Ok(cancelled(String::new(), *sent_usage, self.config.model.as_str())),
                body = tokio::time::timeout(idle, response.bytes()) => body,
            };
            let body = match body {
                Err(_) => return Err(ProviderError::Timeout { provider, secs: idle.as_secs(), attempts: 1, usage: *sent_usage }),
                Ok(Err(err)) => return Err(ProviderError::StreamDropped { provider, detail: self.scrub(&error_chain(&err)), usage: *sent_usage }),
                Ok(Ok(body)) => body,
            };
            let value: serde_json::Value = serde_json::from_slice(&body).map_err(|err| bad(format!("the body is not JSON ({err})"), *sent_usage))?;
            let (text, stop, usage, model) = protocol.parse_whole(&value).map_err(|detail| bad(self.scrub(&detail), *sent_usage))?;
            if !text.is_empty() {
                on_text(&text);
            }
            (text, stop, usage, model)
        };
        if let Some(schema) = &request.schema
            && stop_reason != StopReason::MaxTokens
        {
            check_schema(schema, &text).map_err(|detail| ProviderError::SchemaMismatch { provider: provider.clone(), detail, usage })?;
        }
        Ok(Completion { text, stop_reason, usage, model })
    }
}

impl LanguageModel for CloudModel {
    fn model_ref(&self) -> ModelRef {
        ModelRef { provider: self.config.name.clone(), model: self.config.model.clone(), local: false }
    }

    fn complete<'a>(
        &'a self,
        request: &'a ChatRequest,
        on_text: &'a mut (dyn FnMut(&str) + Send),
        cancel: &'a CancellationToken,
    ) -> BoxFuture<'a, Result<Completion, AiError>> {
        Box::pin(async move { self.call(request, on_text, cancel).await.map_err(AiError::Provider) })
    }
}

fn cancelled(text: String, usage: Usage, model: &str) -> Completion {
    Completion { text, stop_reason: StopReason::Cancelled, usage, model: model.to_owned() }
}

/// Parses `text` as JSON and validates it against `schema`.
fn check_schema(schema: &serde_json::Value, text: &str) -> Result<(), String> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|err| format!("it is not JSON ({err})"))?;
    let validator = jsonschema::validator_for(schema).map_err(|err| format!("the schema itself is invalid: {err}"))?;
    let problems: Vec<String> = validator.iter_errors(&value).take(3).map(|err| format!("{} at {}", err, err.instance_path())).collect();
    if problems.is_empty() { Ok(()) } else { Err(problems.join("; ")) }
}

/// A URL of this machine (`localhost`, 127.0.0.0/8, `::1`): servers there
/// (Ollama, LM Studio) need no key and cost nothing.
pub fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// `Retry-After` (seconds or an HTTP date) or OpenAI's `retry-after-ms`.
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(ms) = header("retry-after-ms").and_then(|v| v.parse::<f64>().ok())
        && ms.is_finite()
        && ms >= 0.0
    {
        return Some(Duration::from_secs_f64(ms / 1000.0));
    }
    let value = header("retry-after")?;
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(std::time::SystemTime::now()).unwrap_or(Duration::ZERO))
}

/// The wait before retry number `attempt` (1 after the first try).
pub fn retry_after_or_backoff(retry_after: Option<Duration>, policy: &HttpPolicy, attempt: u32) -> Duration {
    if let Some(wait) = retry_after {
        return wait;
    }
    let exp = policy.initial_backoff.saturating_mul(1u32 << (attempt - 1).min(16));
    let cap = exp.min(policy.max_backoff);
    // "Equal jitter": at least half the backoff, so retries stay spaced out.
    cap.mul_f64(0.5 + rand::random::<f64>() * 0.5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_never_show_in_debug_output() {
        let key = ApiKey::new(" sk-secret-123 \n").unwrap();
        assert_eq!(key.expose(), "sk-secret-123");
        assert_eq!(format!("{key:?}"), "ApiKey(<redacted>)");
        let config = CloudConfig {
            name: "openai".parse().unwrap(),
            kind: ProviderKind::OpenaiCompatible,
            base_url: "https://api.openai.com/v1".parse().unwrap(),
            model: "gpt-4o-mini".parse().unwrap(),
            key: Some(key),
            policy: HttpPolicy::default(),
        };
        assert!(!format!("{config:?}").contains("sk-secret-123"));
        assert!(ApiKey::new("  \n").is_none());
    }

    #[test]
    fn retry_after_in_seconds_milliseconds_and_dates() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("retry-after", "3".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
        headers.insert("retry-after-ms", "250".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(250)));
        let mut headers = reqwest::header::HeaderMap::new();
        let later = std::time::SystemTime::now() + Duration::from_secs(90);
        headers.insert("retry-after", httpdate::fmt_http_date(later).parse().unwrap());
        let wait = retry_after(&headers).unwrap();
        assert!(wait > Duration::from_secs(85) && wait <= Duration::from_secs(90), "{wait:?}");
        headers.insert("retry-after", "soon".parse().unwrap());
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn backoff_doubles_with_jitter_up_to_the_cap() {
        let policy = HttpPolicy { initial_backoff: Duration::from_millis(100), max_backoff: Duration::from_millis(350), ..HttpPolicy::default() };
        for (attempt, full) in [(1, 100), (2, 200), (3, 350), (9, 350)] {
            let wait = retry_after_or_backoff(None, &policy, attempt);
            assert!(wait >= Duration::from_millis(full / 2) && wait <= Duration::from_millis(full), "attempt {attempt}: {wait:?}");
        }
        assert_eq!(retry_after_or_backoff(Some(Duration::from_secs(2)), &policy, 1), Duration::from_secs(2));
    }

    #[test]
    fn answers_are_checked_against_the_schema() {
        let schema = serde_json::json!({"type": "object", "properties": {"headline": {"type": "string", "maxLength": 5}}, "required": ["headline"]});
        assert!(check_schema(&schema, r#"{"headline": "hi"}"#).is_ok());
        let err = check_schema(&schema, r#"{"headline": "far too long"}"#).unwrap_err();
        assert!(err.contains("/headline"), "{err}");
        assert!(check_schema(&schema, "not json").unwrap_err().contains("not JSON"));
    }
}
