//! `POST /v1/chat/completions`: OpenAI's request turned into a Core call,
//! answered whole or streamed as server-sent events.

use std::{
    convert::Infallible,
    time::{SystemTime, UNIX_EPOCH},
};

use bytes::Bytes;
use futures::StreamExt as _;
use http_body_util::{BodyExt as _, StreamBody};
use hyper::{
    Response, StatusCode,
    body::Frame,
    header::{self, HeaderValue},
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{API_CALLER, AUTO_MODEL, ApiError, Body, MAX_COMPLETION_TOKENS, State, full, unknown_model};
use crate::{
    Core, CoreError,
    ai::{AskEvent, CallContext, ChatMessage, ChatRequest, ModelCall, ModelId, ModelKind, ProviderName, Route, StopReason, Tier},
};

/// A message's content: text, or OpenAI's list of parts of which only text is taken.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Content {
    Text(String),
    Parts(Vec<ContentPart>),
}

#[derive(Debug, Deserialize)]
struct ContentPart {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Message {
    role: String,
    #[serde(default)]
    content: Option<Content>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Stop {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
struct ResponseFormat {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    json_schema: Option<JsonSchemaFormat>,
}

#[derive(Debug, Deserialize)]
struct JsonSchemaFormat {
    #[serde(default)]
    schema: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: bool,
}

/// The fields of a chat completion request that are read; others that
/// would change the answer and are not supported are refused by name.
#[derive(Debug, Deserialize)]
pub(super) struct ChatBody {
    model: String,
    messages: Vec<Message>,
    #[serde(default)]
    stream: bool,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
    #[serde(default)]
    max_tokens: Option<usize>,
    #[serde(default)]
    max_completion_tokens: Option<usize>,
    #[serde(default)]
    temperature: Option<f64>,
    #[serde(default)]
    top_p: Option<f64>,
    #[serde(default)]
    seed: Option<u64>,
    #[serde(default)]
    stop: Option<Stop>,
    #[serde(default)]
    response_format: Option<ResponseFormat>,
    #[serde(default)]
    n: Option<u32>,
    #[serde(default)]
    tools: Option<Vec<Value>>,
    #[serde(default)]
    logprobs: Option<bool>,
}

/// Turns a chat body into Core's call, or says what in it is wrong.
fn chat_call(core: &Core, body: ChatBody, installed_llms: &[ModelId], providers: &[ProviderName]) -> Result<(ModelCall, bool, bool), ApiError> {
    if body.n.is_some_and(|n| n != 1) {
        return Err(ApiError::invalid(Some("n"), "only one choice per request (n = 1) is supported"));
    }
    if body.tools.as_ref().is_some_and(|t| !t.is_empty()) {
        return Err(ApiError::invalid(Some("tools"), "tool calling is not supported by this server; use response_format with a JSON Schema instead"));
    }
    if body.logprobs == Some(true) {
        return Err(ApiError::invalid(Some("logprobs"), "log probabilities are not supported"));
    }
    if body.messages.is_empty() {
        return Err(ApiError::invalid(Some("messages"), "give at least one message"));
    }
    let mut messages = Vec::with_capacity(body.messages.len());
    for (i, message) in body.messages.into_iter().enumerate() {
        let role = match message.role.as_str() {
            "system" | "developer" => "system",
            "user" => "user",
            "assistant" => "assistant",
            other => {
                return Err(ApiError::invalid(
                    Some("messages"),
                    format!("messages[{i}].role is {other:?}: use system, developer, user or assistant (tool messages are not supported)"),
                ));
            }
        };
        let text = match message.content {
            None => String::new(),
            Some(Content::Text(text)) => text,
            Some(Content::Parts(parts)) => {
                let mut text = String::new();
                for (j, part) in parts.into_iter().enumerate() {
                    match (part.kind.as_str(), part.text) {
                        ("text", Some(piece)) => text.push_str(&piece),
                        (kind, _) => {
                            return Err(ApiError::invalid(
                                Some("messages"),
                                format!("messages[{i}].content[{j}] is of type {kind:?}: only text parts are supported"),
                            ));
                        }
                    }
                }
                text
            }
        };
        messages.push(ChatMessage::new(role, &text));
    }
    let mut request = ChatRequest::user("");
    request.messages = messages;
    if let Some(max) = body.max_completion_tokens.or(body.max_tokens) {
        if max == 0 || max > MAX_COMPLETION_TOKENS {
            return Err(ApiError::invalid(Some("max_tokens"), format!("max_tokens is {max}: use 1 to {MAX_COMPLETION_TOKENS}")));
        }
        request.max_tokens = max;
    }
    // OpenAI's defaults: temperature 1, and a seed of the server's choosing
    // (so that an identical request is a new sample, not the cached one).
    let temperature = body.temperature.unwrap_or(1.0);
    if !(0.0..=2.0).contains(&temperature) {
        return Err(ApiError::invalid(Some("temperature"), format!("temperature is {temperature}: use 0 to 2")));
    }
    request.temperature = temperature;
    if let Some(top_p) = body.top_p {
        if !(top_p > 0.0 && top_p <= 1.0) {
            return Err(ApiError::invalid(Some("top_p"), format!("top_p is {top_p}: use more than 0, up to 1")));
        }
        request.top_p = top_p;
    }
    request.seed = body.seed.unwrap_or_else(rand::random);
    request.stop = match body.stop {
        None => Vec::new(),
        Some(Stop::One(stop)) => vec![stop],
        Some(Stop::Many(stops)) => stops,
    };
    if request.stop.len() > 4 || request.stop.iter().any(String::is_empty) {
        return Err(ApiError::invalid(Some("stop"), "stop takes up to 4 sequences, none of them empty"));
    }
    request.schema = match body.response_format {
        None => None,
        Some(format) => match (format.kind.as_str(), format.json_schema) {
            ("text", _) => None,
            ("json_object", _) => Some(json!({ "type": "object" })),
            ("json_schema", Some(JsonSchemaFormat { schema: Some(schema) })) if schema.is_object() => Some(schema),
            ("json_schema", _) => {
                return Err(ApiError::invalid(Some("response_format"), "response_format of type json_schema needs json_schema.schema, a JSON Schema object"));
            }
            (other, _) => {
                return Err(ApiError::invalid(Some("response_format"), format!("response_format type {other:?}: use text, json_object or json_schema")));
            }
        },
    };
    let (route, local_model) = if body.model == AUTO_MODEL {
        (Route::Tier(Tier::Standard), None)
    } else if body.model == ProviderName::LOCAL {
        (Route::Provider(ProviderName::local()), None)
    } else if let Some(id) = installed_llms.iter().find(|m| m.as_str() == body.model) {
        (Route::Provider(ProviderName::local()), Some(id.clone()))
    } else if let Some(name) = providers.iter().find(|p| p.as_str() == body.model) {
        (Route::Provider(name.clone()), None)
    } else {
        return Err(unknown_model(&body.model));
    };
    let mut context = CallContext::user(core.user().id.clone());
    context.caller = Some(API_CALLER.to_owned());
    let call = ModelCall { request, route, privacy: None, local_model, local_options: Default::default(), context, use_cache: true };
    let include_usage = body.stream_options.unwrap_or_default().include_usage;
    Ok((call, body.stream, include_usage))
}

fn finish_reason(stop: StopReason) -> &'static str {
    match stop {
        StopReason::MaxTokens => "length",
        StopReason::EndOfTurn | StopReason::StopSequence | StopReason::Cancelled => "stop",
    }
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

pub(super) async fn chat(state: &State, body: ChatBody) -> Result<Response<Body>, ApiError> {
    let core = &state.core;
    let store = core.model_store().await?;
    let installed: Vec<ModelId> =
        store.list().map_err(CoreError::from)?.into_iter().filter(|m| m.installed && m.kind == ModelKind::Llm).map(|m| m.id).collect();
    let providers: Vec<ProviderName> = core.settings()?.providers.iter().map(|p| p.name.clone()).collect();
    let asked = body.model.clone();
    let (call, stream, include_usage) = chat_call(core, body, &installed, &providers)?;
    let id = format!("chatcmpl-{}", uuid::Uuid::now_v7().simple());
    let created = now_secs();
    // Cancelled when the client goes away (this handler or the streamed
    // body is dropped) or the server stops; the call itself holds a read
    // guard of `calls` until it has recorded how it ended.
    let cancel = state.stop.child_token();
    let guard = cancel.clone().drop_guard();
    let running = state.calls.clone().read_owned().await;
    let mut events = core.ask_stream_holding(call, cancel, running);
    if !stream {
        while let Some(event) = events.recv().await {
            match event {
                // The outcome has the whole text.
                AskEvent::Queued { .. } | AskEvent::Text(_) => {}
                AskEvent::Done(outcome) => {
                    guard.disarm();
                    let outcome = (*outcome)?;
                    let completion = &outcome.metered.completion;
                    let usage = &outcome.metered.record.usage;
                    return Ok(full(
                        StatusCode::OK,
                        &json!({
                            "id": id,
                            "object": "chat.completion",
                            "created": created,
                            "model": completion.model,
                            "choices": [{
                                "index": 0,
                                "message": { "role": "assistant", "content": completion.text },
                                "finish_reason": finish_reason(completion.stop_reason),
                                "logprobs": null,
                            }],
                            "usage": usage_of(usage),
                        }),
                    ));
                }
            }
        }
        return Err(ended_without_answer());
    }
    // Streamed: the first event is awaited so that an error before any
    // text (an unknown model, a budget) is an HTTP error, not a stream. A
    // call that waits for the local model starts the stream at once, with
    // a comment while it waits.
    let first = match events.recv().await {
        Some(AskEvent::Done(outcome)) if outcome.is_err() => {
            guard.disarm();
            let Err(err) = *outcome else { unreachable!("checked") };
            return Err(err.into());
        }
        other => other,
    };
    let stream = StreamState { events, first, id, created, model: asked, started: false, done: false, include_usage, guard: Some(guard) };
    let body = futures::stream::unfold(stream, |mut s| async move { s.next().await.map(|bytes| (Ok::<_, Infallible>(Frame::data(bytes)), s)) });
    let mut response = Response::new(StreamBody::new(body.boxed()).boxed_unsync());
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}

fn usage_of(usage: &crate::ai::Usage) -> Value {
    json!({
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens + usage.output_tokens,
    })
}

fn ended_without_answer() -> ApiError {
    ApiError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        kind: "server_error",
        code: None,
        param: None,
        message: "the model call ended without an answer".into(),
    }
}

fn sse(value: &Value) -> Bytes {
    Bytes::from(format!("data: {value}\n\n"))
}

/// A streamed completion: the role first, the answer's pieces, the finish
/// reason, the usage if asked, then `[DONE]`. Dropping it before the end
/// cancels the call.
struct StreamState {
    events: tokio::sync::mpsc::UnboundedReceiver<AskEvent>,
    first: Option<AskEvent>,
    id: String,
    created: u64,
    /// The model asked for: the chunks before the last carry it, the last
    /// ones the model that answered.
    model: String,
    started: bool,
    done: bool,
    include_usage: bool,
    guard: Option<tokio_util::sync::DropGuard>,
}

impl StreamState {
    fn chunk(&self, delta: Value, finish: Option<&str>, model: &str) -> Bytes {
        sse(&json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": model,
            "choices": [{ "index": 0, "delta": delta, "finish_reason": finish, "logprobs": null }],
        }))
    }

    async fn next(&mut self) -> Option<Bytes> {
        if self.done {
            return None;
        }
        if !self.started {
            self.started = true;
            return Some(self.chunk(json!({ "role": "assistant", "content": "" }), None, &self.model));
        }
        let event = match self.first.take() {
            Some(event) => Some(event),
            None => self.events.recv().await,
        };
        match event {
            Some(AskEvent::Queued { position }) => Some(Bytes::from(format!(": waiting for the local model, {position} calls ahead\n\n"))),
            Some(AskEvent::Text(piece)) => Some(self.chunk(json!({ "content": piece }), None, &self.model)),
            Some(AskEvent::Done(outcome)) => {
                self.done = true;
                if let Some(guard) = self.guard.take() {
                    guard.disarm();
                }
                let mut out = Vec::new();
                match *outcome {
                    // An answer from the cache came whole, as one piece, before this.
                    Ok(outcome) => {
                        let completion = &outcome.metered.completion;
                        out.extend_from_slice(&self.chunk(json!({}), Some(finish_reason(completion.stop_reason)), &completion.model));
                        if self.include_usage {
                            out.extend_from_slice(&sse(&json!({
                                "id": self.id,
                                "object": "chat.completion.chunk",
                                "created": self.created,
                                "model": completion.model,
                                "choices": [],
                                "usage": usage_of(&outcome.metered.record.usage),
                            })));
                        }
                    }
                    Err(err) => out.extend_from_slice(&sse(&ApiError::from(err).body())),
                }
                out.extend_from_slice(b"data: [DONE]\n\n");
                Some(Bytes::from(out))
            }
            None => {
                self.done = true;
                Some(sse(&ended_without_answer().body()))
            }
        }
    }
}
