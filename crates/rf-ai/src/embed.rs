//! [`Embedder`]: the interface every embedding model is called through (the
//! Codex and the Core use it; rf-local's BERT encoder implements it).

use crate::{AiError, ModelId};

/// Turns texts into unit-length vectors. The Codex uses this trait.
pub trait Embedder: Send + Sync {
    /// The model's id, stored beside vectors so that they are never mixed.
    fn model_id(&self) -> &ModelId;
    fn dimensions(&self) -> usize;
    /// One vector per text, in order. Texts longer than the model's limit
    /// are truncated (see [`Embedder::max_tokens`]).
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, AiError>;
    /// Tokens `text` takes, without the special tokens the model adds and
    /// without truncation: what chunking measures text in.
    fn count_tokens(&self, text: &str) -> Result<usize, AiError>;
    /// Tokens per text the model reads, special tokens included; the rest
    /// is truncated.
    fn max_tokens(&self) -> usize;
}

/// Cosine similarity of two vectors (1.0 for identical directions).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb).max(f32::MIN_POSITIVE)
}
