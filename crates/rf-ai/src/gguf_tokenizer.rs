//! A tokenizer built from a GGUF file's own metadata (`tokenizer.ggml.*`), so
//! that any imported GGUF works without a separate tokenizer.json.
//!
//! Supported: `tokenizer.ggml.model = "gpt2"` (byte-level BPE: tokens and
//! merges), with the pre-tokenizers llama.cpp calls `default`/`gpt2` (the GPT-2
//! split) and `smollm` (the same, after splitting digits one by one).
//! Control tokens (type 3) and user-defined ones (type 4) are added as special
//! tokens, so `<|im_start|>` in a prompt is one token, as in llama.cpp.

use std::{collections::HashMap, path::Path};

use candle_core::quantized::gguf_file::{Content, Value};
use tokenizers::{
    AddedToken, Tokenizer,
    decoders::byte_level::ByteLevel as ByteLevelDecoder,
    models::bpe::BPE,
    pre_tokenizers::{PreTokenizerWrapper, byte_level::ByteLevel, digits::Digits, sequence::Sequence},
};

use crate::AiError;

/// llama.cpp's token types.
const CONTROL: i32 = 3;
const USER_DEFINED: i32 = 4;

fn bad(path: &Path, detail: impl std::fmt::Display) -> AiError {
    AiError::bad_model(&path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default(), path, detail)
}

fn strings<'a>(metadata: &'a HashMap<String, Value>, key: &str, path: &Path) -> Result<Vec<&'a str>, AiError> {
    let values = metadata.get(key).ok_or_else(|| bad(path, format!("the GGUF has no {key}")))?;
    let values = values.to_vec().map_err(|_| bad(path, format!("{key} is not an array")))?;
    values.iter().map(|v| v.to_string().map(String::as_str).map_err(|_| bad(path, format!("{key} holds a non-string")))).collect()
}

/// Builds the tokenizer described by `content`'s metadata; `path` names the
/// file in errors.
pub fn tokenizer_from_gguf(content: &Content, path: &Path) -> Result<Tokenizer, AiError> {
    let metadata = &content.metadata;
    let text = |key: &str| metadata.get(key).and_then(|v| v.to_string().ok()).map(String::as_str);
    let model = text("tokenizer.ggml.model").ok_or_else(|| bad(path, "the GGUF has no tokenizer.ggml.model"))?;
    if model != "gpt2" {
        return Err(bad(path, format!("tokenizer model {model:?} is not supported yet (supported: gpt2 byte-level BPE)")));
    }
    let tokens = strings(metadata, "tokenizer.ggml.tokens", path)?;
    let merges = strings(metadata, "tokenizer.ggml.merges", path)?;
    let types: Vec<i32> = match metadata.get("tokenizer.ggml.token_type") {
        Some(value) => value
            .to_vec()
            .map_err(|_| bad(path, "tokenizer.ggml.token_type is not an array"))?
            .iter()
            .map(|v| v.to_i32().map_err(|_| bad(path, "tokenizer.ggml.token_type holds a non-integer")))
            .collect::<Result<_, _>>()?,
        None => vec![1; tokens.len()],
    };
    if types.len() != tokens.len() {
        return Err(bad(path, format!("{} token types for {} tokens", types.len(), tokens.len())));
    }
    let vocab: ahash::AHashMap<String, u32> = tokens.iter().enumerate().map(|(id, t)| ((*t).to_owned(), id as u32)).collect();
    if vocab.len() != tokens.len() {
        return Err(bad(path, "the vocabulary lists a token twice"));
    }
    let merges = merges
        .iter()
        .map(|m| m.split_once(' ').map(|(a, b)| (a.to_owned(), b.to_owned())).ok_or_else(|| bad(path, format!("merge {m:?} is not two tokens"))))
        .collect::<Result<Vec<_>, _>>()?;
    let bpe = BPE::builder().vocab_and_merges(vocab, merges).build().map_err(|err| bad(path, format!("the BPE tables do not fit together: {err}")))?;

    let byte_level = ByteLevel::new(false, true, true);
    let pre: PreTokenizerWrapper = match text("tokenizer.ggml.pre").unwrap_or("default") {
        "default" | "gpt2" => byte_level.into(),
        "smollm" => Sequence::new(vec![Digits::new(true).into(), byte_level.into()]).into(),
        other => return Err(bad(path, format!("pre-tokenizer {other:?} is not supported yet (supported: default, gpt2, smollm)"))),
    };
    let mut tokenizer = Tokenizer::new(bpe);
    tokenizer.with_pre_tokenizer(Some(pre));
    tokenizer.with_decoder(Some(ByteLevelDecoder::default()));
    let added = |kind: i32| -> Vec<AddedToken> {
        tokens.iter().zip(&types).filter(|(_, t)| **t == kind).map(|(token, _)| AddedToken::from((*token).to_owned(), kind == CONTROL)).collect()
    };
    tokenizer.add_special_tokens(added(CONTROL)).map_err(|err| bad(path, format!("the special tokens do not fit the vocabulary: {err}")))?;
    tokenizer.add_tokens(added(USER_DEFINED)).map_err(|err| bad(path, format!("the user-defined tokens do not fit the vocabulary: {err}")))?;
    Ok(tokenizer)
}

/// Reads `path`'s GGUF header and builds its tokenizer.
pub fn tokenizer_from_gguf_file(path: &Path) -> Result<Tokenizer, AiError> {
    let mut file = std::fs::File::open(path).map_err(AiError::io("could not open", path))?;
    let content = Content::read(&mut file).map_err(|err| bad(path, format!("not a readable GGUF file: {err}")))?;
    tokenizer_from_gguf(&content, path)
}
