//! RaptorFlow's AI layer, as every other crate sees it: what a model call
//! is and what can go wrong with it, independent of where the model runs.
//!
//! - [`chat`]: the [`LanguageModel`] trait every chat model is called
//!   through, with its request and answer types;
//! - [`embed`]: the [`Embedder`] trait;
//! - [`ids`]: [`ModelId`] and [`ProviderName`];
//! - [`selector`]: which model takes a step, by tier, privacy and budget;
//! - [`budget`] and [`provider`]: the errors a call meets before and at a
//!   provider.
//!
//! The work is done by the crates beside this one, each with one job:
//! `rf-models` (the manifest and model files), `rf-local` (everything candle:
//! the embedder and the local LLMs), `rf-cloud` (the cloud clients) and
//! `rf-metering` (prices, the ledger, budgets and the response cache).

mod error;

pub mod budget;
pub mod chat;
pub mod embed;
pub mod ids;
pub mod provider;
pub mod selector;

pub use budget::{BudgetExceeded, BudgetScope, format_usd};
pub use chat::{ChatMessage, ChatRequest, Completion, GenerateParams, LanguageModel, ModelRef, StopReason, Usage};
pub use embed::{Embedder, cosine};
pub use error::AiError;
pub use ids::{BadId, ModelId, ProviderName};
pub use provider::ProviderError;
