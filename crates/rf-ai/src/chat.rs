//! [`LanguageModel`]: the one interface the swarm calls every model through,
//! local (candle, in this process) or cloud (an OpenAI-compatible endpoint,
//! Anthropic), with the request and answer types that go with it.

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::{AiError, ModelId, ProviderName};

/// One call of a chat model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChatRequest {
    /// `system`, `user` and `assistant` turns, in order.
    pub messages: Vec<ChatMessage>,
    pub max_tokens: usize,
    /// 0 is greedy.
    pub temperature: f64,
    pub top_p: f64,
    /// Used where the model supports it (local models always).
    pub seed: u64,
    /// The answer stops before any of these strings.
    pub stop: Vec<String>,
    /// A JSON Schema the answer must match; the answer is then that JSON.
    pub schema: Option<serde_json::Value>,
    /// Continue the messages' text as it is, without the chat template (for
    /// base models). Local models only.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub raw: bool,
}

impl ChatRequest {
    /// A request of one user message with default sampling.
    pub fn user(text: &str) -> Self {
        let defaults = GenerateParams::default();
        Self {
            messages: vec![ChatMessage::new("user", text)],
            max_tokens: defaults.max_tokens,
            temperature: defaults.temperature,
            top_p: defaults.top_p,
            seed: defaults.seed,
            stop: Vec::new(),
            schema: None,
            raw: false,
        }
    }

    /// An upper bound on the request's input tokens, known before it is
    /// sent: every byte-level BPE token covers at least one byte, plus a
    /// few tokens per message for the chat format. Budgets reserve with it
    /// so that a call can never cost more than was reserved.
    pub fn input_token_bound(&self) -> u64 {
        let text: usize = self.messages.iter().map(|m| m.content.len() + m.role.len()).sum();
        let schema = self.schema.as_ref().map_or(0, |s| s.to_string().len());
        (text + schema + self.stop.iter().map(String::len).sum::<usize>()) as u64 + 8 * self.messages.len() as u64 + 16
    }
}

/// Tokens a call used, as the provider reported them (or, with `estimated`,
/// as counted here because the provider never said: a dropped stream, a
/// cancelled call).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// All input tokens, including cached ones.
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Input tokens read from the provider's prompt cache (billed lower).
    pub cached_input_tokens: u64,
    /// Input tokens written to the provider's prompt cache (Anthropic bills
    /// them higher).
    pub cache_write_tokens: u64,
    pub estimated: bool,
}

/// A model's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Completion {
    pub text: String,
    pub stop_reason: StopReason,
    pub usage: Usage,
    /// The model that answered, as the provider named it.
    pub model: String,
}

/// Which model a [`LanguageModel`] is, for the ledger and error messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelRef {
    /// The configured provider's name, or `local`.
    pub provider: ProviderName,
    pub model: ModelId,
    /// Runs in this process: never opens a network connection.
    pub local: bool,
}

/// A chat model. Text is passed to `on_text` as it arrives; cancelling
/// `cancel` ends the call early with [`StopReason::Cancelled`] and what was
/// produced so far.
pub trait LanguageModel: Send + Sync {
    fn model_ref(&self) -> ModelRef;

    fn complete<'a>(
        &'a self,
        request: &'a ChatRequest,
        on_text: &'a mut (dyn FnMut(&str) + Send),
        cancel: &'a CancellationToken,
    ) -> BoxFuture<'a, Result<Completion, AiError>>;
}

/// One message of a chat.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ChatMessage {
    pub role: String,
    pub content: String,
}

impl ChatMessage {
    pub fn new(role: &str, content: &str) -> Self {
        Self { role: role.to_owned(), content: content.to_owned() }
    }
}

/// How to sample.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateParams {
    pub max_tokens: usize,
    /// 0 is greedy.
    pub temperature: f64,
    pub top_p: f64,
    pub seed: u64,
    /// Generation stops before any of these strings.
    pub stop: Vec<String>,
}

impl Default for GenerateParams {
    fn default() -> Self {
        Self { max_tokens: 256, temperature: 0.0, top_p: 0.95, seed: 42, stop: Vec::new() }
    }
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The model produced an end-of-turn or end-of-text token.
    EndOfTurn,
    MaxTokens,
    StopSequence,
    Cancelled,
}
