//! Splitting a source's text into passages the embedder can read whole,
//! measured in the embedder's own tokens, along headings and paragraphs, with
//! some overlap so that a sentence cut at a boundary is whole in one of them.

use rf_ai::Embedder;
use text_splitter::{ChunkConfig, MarkdownSplitter, TextSplitter, TryChunkSizer};

use crate::{CodexError, MediaType, Result};

/// How big passages are, in tokens of the embedding model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkOptions {
    /// Passages are filled up to this many tokens when the text allows.
    pub desired_tokens: usize,
    /// And never exceed this (it must fit the embedder with its two special
    /// tokens and the title line).
    pub max_tokens: usize,
    /// Tokens repeated from the end of one passage at the start of the next.
    pub overlap_tokens: usize,
}

impl Default for ChunkOptions {
    fn default() -> Self {
        Self { desired_tokens: 128, max_tokens: 192, overlap_tokens: 24 }
    }
}

/// A passage: a span of the source text, in characters (Unicode scalar
/// values), end exclusive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkSpan {
    pub start: usize,
    pub end: usize,
    pub text: String,
}

struct TokenSizer<'a>(&'a dyn Embedder);

impl TryChunkSizer for TokenSizer<'_> {
    type Error = rf_ai::AiError;

    fn try_size(&self, chunk: &str) -> Result<usize, Self::Error> {
        self.0.count_tokens(chunk)
    }
}

/// Splits `text` (of `media_type`, as stored) into passages.
pub fn chunk_text(text: &str, media_type: &str, embedder: &dyn Embedder, options: ChunkOptions) -> Result<Vec<ChunkSpan>> {
    let config = ChunkConfig::new(options.desired_tokens..=options.max_tokens)
        .with_overlap(options.overlap_tokens)
        .map_err(|err| CodexError::Chunking(err.to_string()))?
        .with_sizer(TokenSizer(embedder));
    let mut spans = Vec::new();
    let mut push = |piece: std::result::Result<text_splitter::ChunkCharIndex<'_>, rf_ai::AiError>| -> Result<()> {
        let piece = piece?;
        let start = piece.char_offset;
        spans.push(ChunkSpan { start, end: start + piece.chunk.chars().count(), text: piece.chunk.to_owned() });
        Ok(())
    };
    if MediaType::is_markdown_shaped(media_type) {
        for piece in MarkdownSplitter::new(config).try_chunk_char_indices(text) {
            push(piece)?;
        }
    } else {
        for piece in TextSplitter::new(config).try_chunk_char_indices(text) {
            push(piece)?;
        }
    }
    Ok(spans)
}

/// The characters `start..end` of `text`.
pub fn char_slice(text: &str, start: usize, end: usize) -> Option<&str> {
    let mut indices = text.char_indices().map(|(i, _)| i).chain(std::iter::once(text.len()));
    let from = indices.nth(start)?;
    let to = if end == start { from } else { indices.nth(end - start - 1)? };
    text.get(from..to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn char_slice_counts_characters_not_bytes() {
        let text = "café ☕ au lait";
        assert_eq!(char_slice(text, 0, 4), Some("café"));
        assert_eq!(char_slice(text, 5, 6), Some("☕"));
        assert_eq!(char_slice(text, 7, 14), Some("au lait"));
        assert_eq!(char_slice(text, 3, 3), Some(""));
        assert_eq!(char_slice(text, 7, 15), None);
    }
}
