//! Anthropic's Messages API (`anthropic-version: 2023-06-01`).
//!
//! System turns go in the top-level `system` field. Structured output is a
//! forced call of one tool whose `input_schema` is the schema; the tool's
//! input is the answer (streamed as `input_json_delta` pieces). Anthropic
//! counts cached input apart from `input_tokens`; [`Usage::input_tokens`]
//! is the sum, as for every provider.

use serde_json::{Value, json};

use super::{ApiKey, ErrorBody, Protocol, StreamState};
use rf_ai::{ChatRequest, StopReason, Usage};

pub(super) struct Anthropic;

const API_VERSION: &str = "2023-06-01";
const ANSWER_TOOL: &str = "answer";

fn stop_reason(reason: &str) -> StopReason {
    match reason {
        "max_tokens" => StopReason::MaxTokens,
        "stop_sequence" => StopReason::StopSequence,
        _ => StopReason::EndOfTurn,
    }
}

fn count(value: &Value) -> u64 {
    value.as_u64().unwrap_or(0)
}

fn usage(usage: &Value) -> Usage {
    let uncached = count(&usage["input_tokens"]);
    let read = count(&usage["cache_read_input_tokens"]);
    let written = count(&usage["cache_creation_input_tokens"]);
    Usage {
        input_tokens: uncached + read + written,
        output_tokens: count(&usage["output_tokens"]),
        cached_input_tokens: read,
        cache_write_tokens: written,
        estimated: false,
    }
}

impl Protocol for Anthropic {
    fn endpoint(&self, base: &url::Url) -> String {
        format!("{}/v1/messages", base.as_str().trim_end_matches('/').trim_end_matches("/v1"))
    }

    fn headers(&self, key: Option<&ApiKey>) -> Vec<(&'static str, String)> {
        let mut headers = vec![("anthropic-version", API_VERSION.to_owned())];
        if let Some(key) = key {
            headers.push(("x-api-key", key.expose().to_owned()));
        }
        headers
    }

    fn body(&self, model: &str, request: &ChatRequest, stream: bool, _base: &url::Url) -> Value {
        let system: Vec<&str> = request.messages.iter().filter(|m| m.role == "system").map(|m| m.content.as_str()).collect();
        let messages: Vec<Value> = request.messages.iter().filter(|m| m.role != "system").map(|m| json!({"role": m.role, "content": m.content})).collect();
        // Newer models refuse temperature and top_p together; the API's
        // temperature range is 0 to 1.
        let mut body = json!({
            "model": model,
            "max_tokens": request.max_tokens,
            "messages": messages,
            "temperature": request.temperature.clamp(0.0, 1.0),
            "stream": stream,
        });
        if !system.is_empty() {
            body["system"] = json!(system.join("\n\n"));
        }
        if !request.stop.is_empty() {
            body["stop_sequences"] = json!(request.stop);
        }
        if let Some(schema) = &request.schema {
            body["tools"] = json!([{"name": ANSWER_TOOL, "description": "Give the answer in this shape.", "input_schema": schema}]);
            body["tool_choice"] = json!({"type": "tool", "name": ANSWER_TOOL});
        }
        body
    }

    fn parse_whole(&self, body: &Value) -> Result<(String, StopReason, Usage, String), String> {
        let blocks = body["content"].as_array().ok_or("it has no content")?;
        let mut text = String::new();
        for block in blocks {
            match block["type"].as_str() {
                Some("text") => text.push_str(block["text"].as_str().unwrap_or_default()),
                Some("tool_use") => text.push_str(&block["input"].to_string()),
                _ => {}
            }
        }
        if body["usage"].is_null() {
            return Err("it has no usage".into());
        }
        let model = body["model"].as_str().unwrap_or_default().to_owned();
        Ok((text, stop_reason(body["stop_reason"].as_str().unwrap_or("end_turn")), usage(&body["usage"]), model))
    }

    fn stream_event(&self, state: &mut StreamState, event: &str, data: &str) -> Result<Option<String>, String> {
        if data.trim().is_empty() {
            return Ok(None);
        }
        let value: Value = serde_json::from_str(data).map_err(|err| format!("a stream event is not JSON ({err})"))?;
        let kind = value["type"].as_str().unwrap_or(event);
        match kind {
            "message_start" => {
                let message = &value["message"];
                state.model = message["model"].as_str().map(str::to_owned);
                state.usage = Some(usage(&message["usage"]));
                Ok(None)
            }
            "content_block_delta" => {
                let delta = &value["delta"];
                let piece = match delta["type"].as_str() {
                    Some("text_delta") => delta["text"].as_str(),
                    Some("input_json_delta") => delta["partial_json"].as_str(),
                    _ => None,
                };
                Ok(piece.filter(|p| !p.is_empty()).map(str::to_owned))
            }
            "message_delta" => {
                if let Some(reason) = value["delta"]["stop_reason"].as_str() {
                    state.stop_reason = Some(stop_reason(reason));
                }
                // The output count here is cumulative; input counts, when
                // present, replace those of message_start.
                let mut total = state.usage.unwrap_or_default();
                let delta = &value["usage"];
                if delta.get("output_tokens").is_some() {
                    total.output_tokens = count(&delta["output_tokens"]);
                }
                if delta.get("input_tokens").is_some() {
                    let input = usage(delta);
                    total.input_tokens = input.input_tokens;
                    total.cached_input_tokens = input.cached_input_tokens;
                    total.cache_write_tokens = input.cache_write_tokens;
                }
                state.usage = Some(total);
                Ok(None)
            }
            "message_stop" => {
                state.finished = true;
                Ok(None)
            }
            "error" => Err(format!(
                "the stream reported an error: {} ({})",
                value["error"]["message"].as_str().unwrap_or("no message"),
                value["error"]["type"].as_str().unwrap_or("unknown")
            )),
            _ => Ok(None),
        }
    }

    fn parse_error(&self, body: &str) -> ErrorBody {
        let Ok(value) = serde_json::from_str::<Value>(body) else { return ErrorBody::default() };
        ErrorBody {
            code: value["error"]["type"].as_str().unwrap_or_default().to_owned(),
            message: value["error"]["message"].as_str().unwrap_or_default().to_owned(),
        }
    }

    fn is_context_error(&self, error: &ErrorBody) -> bool {
        error.message.contains("prompt is too long") || error.message.contains("context window")
    }

    fn is_model_error(&self, status: u16, error: &ErrorBody) -> bool {
        status == 404 && (error.code == "not_found_error" || error.message.contains("model"))
    }
}
