//! A tokenizer built from a GGUF file's own metadata (`tokenizer.ggml.*`), so
//! that any imported GGUF works without a separate tokenizer.json.
//!
//! Supported:
//! - `tokenizer.ggml.model = "gpt2"` (byte-level BPE: tokens and merges), with
//!   the pre-tokenizers llama.cpp calls `default`/`gpt2` (the GPT-2 split) and
//!   `smollm` (the same, after splitting digits one by one), and `qwen2`
//!   (Qwen2's own split: letters, single digits, punctuation runs, newlines;
//!   text NFC-normalized first, as Qwen's tokenizer.json does);
//! - `tokenizer.ggml.model = "llama"` (SentencePiece BPE: tokens and scores,
//!   spaces written `▁`, bytes outside the vocabulary as `<0xNN>` tokens), as
//!   Gemma and Llama 2 ship. The merges are derived from the scores: a pair of
//!   pieces merges if their concatenation is a normal token, and the higher
//!   that token's score the earlier it merges (llama.cpp's rule).
//!
//! Control tokens (type 3) are added as special tokens and user-defined ones
//! (type 4) as plain added tokens, so `<|im_start|>` in a prompt is one
//! token, as in llama.cpp.

use std::{collections::HashMap, path::Path};

use candle_core::quantized::gguf_file::{Content, Value};
use tokenizers::{
    AddedToken, DecoderWrapper, NormalizerWrapper, SplitDelimiterBehavior, Tokenizer,
    decoders::{byte_fallback::ByteFallback, byte_level::ByteLevel as ByteLevelDecoder, fuse::Fuse, sequence::Sequence as DecoderSequence, strip::Strip},
    models::bpe::BPE,
    normalizers::{NFC, Prepend, Replace, Sequence as NormalizerSequence},
    pre_tokenizers::{
        PreTokenizerWrapper,
        byte_level::ByteLevel,
        digits::Digits,
        sequence::Sequence,
        split::{Split, SplitPattern},
    },
};

use rf_ai::AiError;

/// llama.cpp's token types.
const NORMAL: i32 = 1;
const CONTROL: i32 = 3;
const USER_DEFINED: i32 = 4;

fn bad(path: &Path, detail: impl std::fmt::Display) -> AiError {
    AiError::bad_model(&path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default(), path, detail)
}

/// The metadata array `key`, each element read by `read` (`kind` names
/// what it should be, for errors); `None` if the file has no `key`.
fn array<'a, T>(
    metadata: &'a HashMap<String, Value>,
    key: &str,
    path: &Path,
    kind: &str,
    read: impl Fn(&'a Value) -> Option<T>,
) -> Result<Option<Vec<T>>, AiError> {
    let Some(values) = metadata.get(key) else { return Ok(None) };
    let values = values.to_vec().map_err(|_| bad(path, format!("{key} is not an array")))?;
    values.iter().map(|v| read(v).ok_or_else(|| bad(path, format!("{key} holds a non-{kind}")))).collect::<Result<_, _>>().map(Some)
}

fn strings<'a>(metadata: &'a HashMap<String, Value>, key: &str, path: &Path) -> Result<Vec<&'a str>, AiError> {
    array(metadata, key, path, "string", |v| v.to_string().ok().map(String::as_str))?.ok_or_else(|| bad(path, format!("the GGUF has no {key}")))
}

/// Builds the tokenizer described by `content`'s metadata; `path` names the
/// file in errors.
pub fn tokenizer_from_gguf(content: &Content, path: &Path) -> Result<Tokenizer, AiError> {
    let metadata = &content.metadata;
    let text = |key: &str| metadata.get(key).and_then(|v| v.to_string().ok()).map(String::as_str);
    let model = text("tokenizer.ggml.model").ok_or_else(|| bad(path, "the GGUF has no tokenizer.ggml.model"))?;
    let tokens = strings(metadata, "tokenizer.ggml.tokens", path)?;
    let types = array(metadata, "tokenizer.ggml.token_type", path, "integer", |v| v.to_i32().ok())?.unwrap_or_else(|| vec![NORMAL; tokens.len()]);
    if types.len() != tokens.len() {
        return Err(bad(path, format!("{} token types for {} tokens", types.len(), tokens.len())));
    }
    let vocab: ahash::AHashMap<String, u32> = tokens.iter().enumerate().map(|(id, t)| ((*t).to_owned(), id as u32)).collect();
    if vocab.len() != tokens.len() {
        return Err(bad(path, "the vocabulary lists a token twice"));
    }
    let mut tokenizer = match model {
        "gpt2" => byte_level_bpe(metadata, vocab, path)?,
        "llama" => sentencepiece_bpe(metadata, &tokens, &types, vocab, path)?,
        other => return Err(bad(path, format!("tokenizer model {other:?} is not supported yet (supported: gpt2 byte-level BPE, llama SentencePiece BPE)"))),
    };
    let added = |kind: i32| -> Vec<AddedToken> {
        tokens
            .iter()
            .zip(&types)
            .filter(|(_, t)| **t == kind)
            .map(|(token, _)| AddedToken::from((*token).to_owned(), kind == CONTROL).normalized(false))
            .collect()
    };
    tokenizer.add_special_tokens(added(CONTROL)).map_err(|err| bad(path, format!("the special tokens do not fit the vocabulary: {err}")))?;
    tokenizer.add_tokens(added(USER_DEFINED)).map_err(|err| bad(path, format!("the user-defined tokens do not fit the vocabulary: {err}")))?;
    Ok(tokenizer)
}

/// How Qwen2's tokenizer splits text before byte-level BPE (its
/// tokenizer.json, and llama.cpp's `qwen2` pre-tokenizer).
const QWEN2_SPLIT: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// Qwen2's split, then bytes mapped to the byte-level alphabet.
fn qwen2_pre_tokenizer() -> tokenizers::Result<PreTokenizerWrapper> {
    let split = Split::new(SplitPattern::Regex(QWEN2_SPLIT.into()), SplitDelimiterBehavior::Isolated, false)?;
    Ok(Sequence::new(vec![split.into(), ByteLevel::new(false, false, false).into()]).into())
}

/// GPT-2 style byte-level BPE with the file's merges.
fn byte_level_bpe(metadata: &HashMap<String, Value>, vocab: ahash::AHashMap<String, u32>, path: &Path) -> Result<Tokenizer, AiError> {
    let merges = strings(metadata, "tokenizer.ggml.merges", path)?;
    let merges = merges
        .iter()
        .map(|m| m.split_once(' ').map(|(a, b)| (a.to_owned(), b.to_owned())).ok_or_else(|| bad(path, format!("merge {m:?} is not two tokens"))))
        .collect::<Result<Vec<_>, _>>()?;
    let bpe = BPE::builder().vocab_and_merges(vocab, merges).build().map_err(|err| bad(path, format!("the BPE tables do not fit together: {err}")))?;
    let byte_level = ByteLevel::new(false, true, true);
    let pre_name = metadata.get("tokenizer.ggml.pre").and_then(|v| v.to_string().ok()).map_or("default", String::as_str);
    let pre: PreTokenizerWrapper = match pre_name {
        "default" | "gpt2" => byte_level.into(),
        "smollm" => Sequence::new(vec![Digits::new(true).into(), byte_level.into()]).into(),
        "qwen2" => qwen2_pre_tokenizer().map_err(|err| bad(path, format!("the qwen2 pre-tokenizer does not build: {err}")))?,
        other => return Err(bad(path, format!("pre-tokenizer {other:?} is not supported yet (supported: default, gpt2, smollm, qwen2)"))),
    };
    let mut tokenizer = Tokenizer::new(bpe);
    if pre_name == "qwen2" {
        tokenizer.with_normalizer(Some(NFC)).map_err(|err| bad(path, format!("the NFC normalizer does not fit: {err}")))?;
    }
    tokenizer.with_pre_tokenizer(Some(pre));
    tokenizer.with_decoder(Some(ByteLevelDecoder::default()));
    Ok(tokenizer)
}

/// SentencePiece BPE: merges derived from the scores, byte fallback.
fn sentencepiece_bpe(
    metadata: &HashMap<String, Value>,
    tokens: &[&str],
    types: &[i32],
    vocab: ahash::AHashMap<String, u32>,
    path: &Path,
) -> Result<Tokenizer, AiError> {
    let scores = array(metadata, "tokenizer.ggml.scores", path, "number", |v| v.to_f32().ok())?
        .ok_or_else(|| bad(path, "the GGUF has no tokenizer.ggml.scores (a SentencePiece vocabulary needs them)"))?;
    if scores.len() != tokens.len() {
        return Err(bad(path, format!("{} scores for {} tokens", scores.len(), tokens.len())));
    }
    let normal = |id: u32| types[id as usize] == NORMAL;
    // Every split of a normal token into two normal tokens is a merge,
    // ranked by the merged token's score, highest first.
    let mut merges: Vec<(f32, u32, u32, u32)> = Vec::new();
    for (id, token) in tokens.iter().enumerate() {
        if types[id] != NORMAL {
            continue;
        }
        for (at, _) in token.char_indices().skip(1) {
            let (left, right) = token.split_at(at);
            if let Some(&l) = vocab.get(left)
                && normal(l)
                && let Some(&r) = vocab.get(right)
                && normal(r)
            {
                merges.push((scores[id], id as u32, l, r));
            }
        }
    }
    merges.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let merges: Vec<(String, String)> = merges.into_iter().map(|(_, _, l, r)| (tokens[l as usize].to_owned(), tokens[r as usize].to_owned())).collect();
    let unk = metadata
        .get("tokenizer.ggml.unknown_token_id")
        .and_then(|v| v.to_u32().ok())
        .and_then(|id| tokens.get(id as usize))
        .map_or_else(|| "<unk>".to_owned(), |t| (*t).to_owned());
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .unk_token(unk)
        .fuse_unk(true)
        .byte_fallback(true)
        .build()
        .map_err(|err| bad(path, format!("the SentencePiece tables do not fit together: {err}")))?;
    let add_space_prefix = metadata.get("tokenizer.ggml.add_space_prefix").and_then(|v| v.to_bool().ok()).unwrap_or(true);
    let replace = Replace::new(" ", "\u{2581}").map_err(|err| bad(path, err))?;
    let mut tokenizer = Tokenizer::new(bpe);
    let mut decoders: Vec<DecoderWrapper> =
        vec![Replace::new("\u{2581}", " ").map_err(|err| bad(path, err))?.into(), ByteFallback::new().into(), Fuse::new().into()];
    if add_space_prefix {
        let normalizer = NormalizerSequence::new(vec![NormalizerWrapper::from(Prepend::new("\u{2581}".into())), replace.into()]);
        tokenizer.with_normalizer(Some(normalizer)).map_err(|err| bad(path, err))?;
        decoders.push(Strip::new(' ', 1, 0).into());
    } else {
        tokenizer.with_normalizer(Some(replace)).map_err(|err| bad(path, err))?;
    }
    tokenizer.with_decoder(Some(DecoderSequence::new(decoders)));
    Ok(tokenizer)
}

/// Reads `path`'s GGUF header and builds its tokenizer.
pub fn tokenizer_from_gguf_file(path: &Path) -> Result<Tokenizer, AiError> {
    let file = std::fs::File::open(path).map_err(AiError::io("could not open", path))?;
    let content = Content::read(&mut std::io::BufReader::new(file)).map_err(|err| bad(path, format!("not a readable GGUF file: {err}")))?;
    tokenizer_from_gguf(&content, path)
}

#[cfg(test)]
mod tests {
    use tokenizers::{OffsetReferential, OffsetType, PreTokenizedString, PreTokenizer};

    use super::*;

    fn pieces(pre: &PreTokenizerWrapper, text: &str) -> Vec<String> {
        let mut split = PreTokenizedString::from(text);
        pre.pre_tokenize(&mut split).unwrap();
        split.get_splits(OffsetReferential::Original, OffsetType::Byte).into_iter().map(|(piece, _, _)| piece.to_owned()).collect()
    }

    #[test]
    fn qwen2_splits_digits_one_by_one_keeps_contractions_and_newline_runs() {
        let pre = qwen2_pre_tokenizer().unwrap();
        // Ġ is a space and Ċ a newline in the byte-level alphabet.
        assert_eq!(pieces(&pre, "I'll pay 2025 pounds\n\nNow!"), ["I", "'ll", "Ġpay", "Ġ", "2", "0", "2", "5", "Ġpounds", "ĊĊ", "Now", "!"]);
        assert_eq!(pieces(&pre, "WE'RE  here"), ["WE", "'RE", "Ġ", "Ġhere"]);
    }
}
