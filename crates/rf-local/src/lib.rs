//! Everything that runs a model on this machine, and the only crate that
//! uses candle.
//!
//! - [`embed`]: the BERT sentence embedder ([`bert`]: the encoder on our own
//!   f32 kernels, weights read with candle), behind rf-ai's `Embedder`;
//! - [`llm`]: local LLMs on GGUF files (llama and qwen2 with candle's
//!   quantized kernels, [`gemma3`]), tokenizers from the file's metadata
//!   ([`gguf_tokenizer`]), chat templates, sampling, streaming and
//!   cancellation; [`constrained`]: JSON-schema-constrained decoding;
//! - [`chat`]: [`LocalChatModel`], a local LLM behind rf-ai's
//!   `LanguageModel`;
//! - [`inspect`]: the checks rf-models' import asks for.
//!
//! GPU builds: the `cuda` and `metal` features pass through to candle
//! (`cargo build --release -p rf-cli --features cuda`); the CPU build needs
//! neither.

mod kernels;

pub mod bert;
pub mod chat;
pub mod constrained;
pub mod embed;
pub mod gemma3;
pub mod gguf_tokenizer;
pub mod inspect;
pub mod llm;

pub use chat::LocalChatModel;
pub use embed::{BertEmbedder, EmbedderOptions};
pub use inspect::{LLM_ARCHITECTURES, LocalCheck};
pub use llm::{Generation, LlmOptions, LocalLlm};
use rf_ai::AiError;

/// A pool of `threads` (at least one) named `<name>-<i>`, for a model's work.
pub(crate) fn thread_pool(threads: usize, name: &'static str) -> Result<rayon::ThreadPool, AiError> {
    let threads = threads.max(1);
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(move |i| format!("{name}-{i}"))
        .build()
        .map_err(|err| AiError::Inference(format!("could not start {threads} {name} threads: {err}")))
}
