//! The OpenAI Chat Completions wire format, which OpenRouter, Groq,
//! Together, Ollama, LM Studio, llama.cpp's server and vLLM also speak.
//!
//! Structured output uses `response_format: json_schema` (non-strict, so
//! any schema is accepted; the answer is validated here either way).
//! Streams ask for `stream_options.include_usage`, which puts the token
//! counts in a last chunk with no choices.

use serde_json::{Value, json};

use super::{ApiKey, ErrorBody, Protocol, StreamState};
use rf_ai::{ChatRequest, StopReason, Usage};

pub(super) struct OpenAi;

fn stop_reason(finish: &str) -> StopReason {
    match finish {
        "length" => StopReason::MaxTokens,
        _ => StopReason::EndOfTurn,
    }
}

fn usage(value: &Value) -> Option<Usage> {
    let usage = value.get("usage").filter(|u| u.is_object())?;
    let count = |v: &Value| v.as_u64().unwrap_or(0);
    Some(Usage {
        input_tokens: count(&usage["prompt_tokens"]),
        output_tokens: count(&usage["completion_tokens"]),
        cached_input_tokens: count(&usage["prompt_tokens_details"]["cached_tokens"]),
        cache_write_tokens: 0,
        estimated: false,
    })
}

impl Protocol for OpenAi {
    fn endpoint(&self, base: &url::Url) -> String {
        format!("{}/chat/completions", base.as_str().trim_end_matches('/'))
    }

    fn headers(&self, key: Option<&ApiKey>) -> Vec<(&'static str, String)> {
        key.map(|key| vec![("authorization", format!("Bearer {}", key.expose()))]).unwrap_or_default()
    }

    fn body(&self, model: &str, request: &ChatRequest, stream: bool, base: &url::Url) -> Value {
        let messages: Vec<Value> = request.messages.iter().map(|m| json!({"role": m.role, "content": m.content})).collect();
        let mut body = json!({
            "model": model,
            "messages": messages,
            "temperature": request.temperature,
            "top_p": request.top_p,
            "seed": request.seed,
            "stream": stream,
        });
        // OpenAI's own reasoning models refuse the older `max_tokens`; most
        // compatible servers know only that one.
        let max_key = if base.host_str() == Some("api.openai.com") { "max_completion_tokens" } else { "max_tokens" };
        body[max_key] = json!(request.max_tokens);
        if stream {
            body["stream_options"] = json!({"include_usage": true});
        }
        if !request.stop.is_empty() {
            body["stop"] = json!(request.stop);
        }
        if let Some(schema) = &request.schema {
            body["response_format"] = json!({"type": "json_schema", "json_schema": {"name": "answer", "strict": false, "schema": schema}});
        }
        body
    }

    fn parse_whole(&self, body: &Value) -> Result<(String, StopReason, Usage, String), String> {
        let choice = body["choices"].get(0).ok_or("it has no choices")?;
        let message = &choice["message"];
        if let Some(refusal) = message["refusal"].as_str() {
            return Err(format!("the model refused: {refusal}"));
        }
        let text = message["content"].as_str().unwrap_or_default().to_owned();
        let usage = usage(body).ok_or("it has no usage")?;
        let model = body["model"].as_str().unwrap_or_default().to_owned();
        Ok((text, stop_reason(choice["finish_reason"].as_str().unwrap_or("stop")), usage, model))
    }

    fn stream_event(&self, state: &mut StreamState, _event: &str, data: &str) -> Result<Option<String>, String> {
        let data = data.trim();
        if data == "[DONE]" {
            state.finished = true;
            return Ok(None);
        }
        if data.is_empty() {
            return Ok(None);
        }
        let chunk: Value = serde_json::from_str(data).map_err(|err| format!("a stream event is not JSON ({err})"))?;
        if let Some(error) = chunk.get("error") {
            return Err(format!("the stream reported an error: {}", error["message"].as_str().unwrap_or("no message")));
        }
        if let Some(usage) = usage(&chunk) {
            state.usage = Some(usage);
        }
        if let Some(model) = chunk["model"].as_str() {
            state.model = Some(model.to_owned());
        }
        let Some(choice) = chunk["choices"].get(0) else { return Ok(None) };
        if let Some(finish) = choice["finish_reason"].as_str() {
            state.stop_reason = Some(stop_reason(finish));
        }
        if let Some(refusal) = choice["delta"]["refusal"].as_str() {
            return Err(format!("the model refused: {refusal}"));
        }
        Ok(choice["delta"]["content"].as_str().filter(|t| !t.is_empty()).map(str::to_owned))
    }

    fn parse_error(&self, body: &str) -> ErrorBody {
        let Ok(value) = serde_json::from_str::<Value>(body) else { return ErrorBody::default() };
        let error = &value["error"];
        let code = error["code"].as_str().or_else(|| error["type"].as_str()).unwrap_or_default().to_owned();
        // Ollama and some servers send `{"error": "text"}`.
        let message = error["message"].as_str().or_else(|| error.as_str()).unwrap_or_default().to_owned();
        ErrorBody { code, message }
    }

    fn is_context_error(&self, error: &ErrorBody) -> bool {
        error.code == "context_length_exceeded" || error.message.contains("maximum context length")
    }

    fn is_model_error(&self, status: u16, error: &ErrorBody) -> bool {
        error.code == "model_not_found" || (status == 404 && error.message.contains("model"))
    }
}
