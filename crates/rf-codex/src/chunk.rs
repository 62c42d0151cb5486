//! Splitting a source's text into passages the embedder can read whole,
//! measured in the embedder's own tokens, along headings and paragraphs, with
//! some overlap so that a sentence cut at a boundary is whole in one of them.
//!
//! text-splitter's work for each passage grows with the text left after it
//! (it lists and sorts the semantic levels of the whole remaining text), so
//! one call over a long text costs the square of its length: an 8 MB file
//! took minutes before the first passage was embedded. Long texts are
//! therefore cut first into blocks of at most [`BLOCK_BYTES`] at the best
//! boundary near the end of each block (a heading, a blank line, a line
//! break, a space), and each block is split on its own.

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

/// Largest piece of text handed to text-splitter at once. Far larger than a
/// passage (a few hundred passages), so only the passages at the edges of
/// blocks differ from splitting the whole text, and the Markdown sources of
/// the retrieval set fit in one block.
pub const BLOCK_BYTES: usize = 64 * 1024;

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
    chunk_text_with_progress(text, media_type, embedder, options, &mut |_| {})
}

/// [`chunk_text`], calling `progress` with the bytes of `text` split so far
/// after each block.
pub fn chunk_text_with_progress(
    text: &str,
    media_type: &str,
    embedder: &dyn Embedder,
    options: ChunkOptions,
    progress: &mut dyn FnMut(usize),
) -> Result<Vec<ChunkSpan>> {
    let config = ChunkConfig::new(options.desired_tokens..=options.max_tokens)
        .with_overlap(options.overlap_tokens)
        .map_err(|err| CodexError::Chunking(err.to_string()))?
        .with_sizer(TokenSizer(embedder));
    let markdown = MediaType::is_markdown_shaped(media_type);
    let (markdown_splitter, text_splitter) = if markdown { (Some(MarkdownSplitter::new(config)), None) } else { (None, Some(TextSplitter::new(config))) };
    let mut spans = Vec::new();
    // Characters before the current block, so that spans count from the
    // start of the whole text.
    let mut block_chars = 0;
    for block in blocks(text, BLOCK_BYTES) {
        let mut push = |piece: std::result::Result<text_splitter::ChunkCharIndex<'_>, rf_ai::AiError>| -> Result<()> {
            let piece = piece?;
            let start = block_chars + piece.char_offset;
            spans.push(ChunkSpan { start, end: start + piece.chunk.chars().count(), text: piece.chunk.to_owned() });
            Ok(())
        };
        if let Some(splitter) = &markdown_splitter {
            for piece in splitter.try_chunk_char_indices(block) {
                push(piece)?;
            }
        } else if let Some(splitter) = &text_splitter {
            for piece in splitter.try_chunk_char_indices(block) {
                push(piece)?;
            }
        }
        block_chars += block.chars().count();
        progress(block.as_ptr() as usize - text.as_ptr() as usize + block.len());
    }
    Ok(spans)
}

/// `text` cut into consecutive pieces of at most `max_bytes` (more only
/// when a single character is longer), each ending at the best boundary in
/// its second half: before a heading, at a blank line, at a line break, at
/// a space, or else at any character.
fn blocks(text: &str, max_bytes: usize) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        if rest.len() <= max_bytes {
            return Some(std::mem::take(&mut rest));
        }
        let mut limit = max_bytes;
        while !rest.is_char_boundary(limit) {
            limit -= 1;
        }
        if limit == 0 {
            limit = rest.char_indices().nth(1).map_or(rest.len(), |(i, _)| i);
        }
        let window = &rest[..limit];
        let half = limit / 2;
        let after = |pattern: &str, keep: usize| window.rfind(pattern).map(|i| i + keep).filter(|&end| end > half);
        let end = after("\n\n#", 2).or_else(|| after("\n\n", 2)).or_else(|| after("\n", 1)).or_else(|| after(" ", 1)).unwrap_or(limit);
        let (block, tail) = rest.split_at(end);
        rest = tail;
        Some(block)
    })
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
    fn blocks_end_at_the_best_boundary_and_cover_the_text() {
        fn check(text: &str, max_bytes: usize, expected: &[&str]) {
            let got: Vec<&str> = blocks(text, max_bytes).collect();
            assert_eq!(got, expected, "{text:?}");
            assert_eq!(got.concat(), text);
        }
        check("", 8, &[]);
        check("short", 8, &["short"]);
        check("intro text\n\n# Head\nbody\n\nmore", 20, &["intro text\n\n", "# Head\nbody\n\nmore"]);
        check("aaaa\n\nbbbbbb cc\ndd ee", 14, &["aaaa\n\nbbbbbb ", "cc\ndd ee"]);
        check("line one\nline two\nline three", 12, &["line one\n", "line two\n", "line three"]);
        check("abcdefghij", 4, &["abcd", "efgh", "ij"]);
        check("ééééé", 3, &["é", "é", "é", "é", "é"]);
    }

    /// Counts words as tokens: enough to split without the model.
    #[derive(Debug)]
    struct WordCounter;

    impl Embedder for WordCounter {
        fn model_id(&self) -> &rf_ai::ModelId {
            static ID: std::sync::LazyLock<rf_ai::ModelId> = std::sync::LazyLock::new(|| "words".parse().expect("a valid model id"));
            &ID
        }
        fn dimensions(&self) -> usize {
            1
        }
        fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, rf_ai::AiError> {
            Ok(texts.iter().map(|_| vec![1.0]).collect())
        }
        fn count_tokens(&self, text: &str) -> Result<usize, rf_ai::AiError> {
            Ok(text.split_whitespace().count())
        }
        fn max_tokens(&self) -> usize {
            512
        }
    }

    #[test]
    fn long_texts_are_split_block_by_block_with_exact_spans() {
        let paragraph = "Kestrel bikes fold in ten seconds and slide under a desk, ☕ included. ".repeat(12);
        let text: String = (0..400).map(|i| format!("# Part {i}\n\n{paragraph}\n\n")).collect();
        assert!(text.len() > 4 * BLOCK_BYTES);
        for media_type in ["text/markdown", "text/plain"] {
            let mut seen = Vec::new();
            let spans = chunk_text_with_progress(&text, media_type, &WordCounter, ChunkOptions::default(), &mut |done| seen.push(done)).unwrap();
            assert!(spans.len() >= 400, "{}", spans.len());
            for span in &spans {
                assert_eq!(char_slice(&text, span.start, span.end), Some(span.text.as_str()), "{span:?}");
                assert!(span.text.split_whitespace().count() <= 192, "{span:?}");
            }
            assert!(spans.windows(2).all(|w| w[0].start < w[1].start), "in order");
            assert_eq!(seen.last(), Some(&text.len()), "progress reaches the end");
            assert!(seen.len() > 4, "one progress call per block: {seen:?}");
        }
    }

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
