//! Schema-constrained output: a JSON Schema becomes a grammar (llguidance)
//! whose token mask is applied at every sampling step, so the local model can
//! only produce text that parses and matches the schema. No retries.

use std::sync::Arc;

use llguidance::{
    Matcher, ParserFactory,
    api::TopLevelGrammar,
    toktrie::{TokRxInfo, TokTrie, TokenId, TokenizerEnv},
};
use tokenizers::Tokenizer;

use rf_ai::AiError;

/// The token environment llguidance needs, over our GGUF-built tokenizer.
struct GgufTokEnv {
    trie: TokTrie,
    tokenizer: Tokenizer,
}

impl TokenizerEnv for GgufTokEnv {
    fn tok_trie(&self) -> &TokTrie {
        &self.trie
    }

    fn tokenize_bytes(&self, bytes: &[u8]) -> Vec<TokenId> {
        match std::str::from_utf8(bytes) {
            Ok(text) => self.tokenizer.encode(text, false).map(|e| e.get_ids().to_vec()).unwrap_or_else(|_| self.trie.greedy_tokenize(bytes)),
            Err(_) => self.trie.greedy_tokenize(bytes),
        }
    }
}

/// Builds grammars for one model's vocabulary (about 0.1 s, once per model).
#[derive(Clone)]
pub struct Guidance {
    factory: Arc<ParserFactory>,
}

impl std::fmt::Debug for Guidance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guidance").finish_non_exhaustive()
    }
}

impl Guidance {
    /// `vocab_size` is the model's (its logits' length); `end` the token that
    /// ends the answer.
    pub fn new(tokenizer: &Tokenizer, vocab_size: usize, end: TokenId, end_of_turn: Option<TokenId>) -> Result<Self, AiError> {
        let fail = |what: &str, err: &dyn std::fmt::Display| AiError::Inference(format!("could not prepare constrained decoding ({what}): {err}"));
        let json = tokenizer.to_string(false).map_err(|err| fail("serialising the tokenizer", &err))?;
        let value: serde_json::Value = serde_json::from_str(&json).map_err(|err| fail("reading the tokenizer", &err))?;
        let mut words = llguidance::token_bytes_from_tokenizer_json(&value).map_err(|err| fail("token bytes", &err))?;
        if words.len() > vocab_size {
            return Err(fail("vocabulary", &format!("the tokenizer has {} tokens but the model only {vocab_size}", words.len())));
        }
        words.resize(vocab_size, Vec::new());
        let info = TokRxInfo { vocab_size: vocab_size as u32, tok_eos: end, tok_bos: None, tok_pad: None, tok_unk: None, tok_end_of_turn: end_of_turn };
        let trie = TokTrie::from(&info, &words);
        let env: llguidance::toktrie::TokEnv = Arc::new(GgufTokEnv { trie, tokenizer: tokenizer.clone() });
        let mut factory = ParserFactory::new_simple(&env).map_err(|err| fail("parser factory", &err))?;
        factory.quiet();
        Ok(Self { factory: Arc::new(factory) })
    }

    /// A matcher for one answer that must satisfy `schema`. Unless the schema
    /// says otherwise, whitespace between JSON tokens is not free (small
    /// models otherwise fill it), and strings escape only quotes,
    /// backslashes, line breaks and tabs: no `\uXXXX`, `\b` or `\f`, so a
    /// string cannot hold a C0 control character, which the documents refuse
    /// (other text is written as itself).
    pub fn matcher(&self, schema: &serde_json::Value) -> Result<Matcher, AiError> {
        let mut schema = schema.clone();
        let object = schema.as_object_mut().ok_or_else(|| AiError::InvalidInput("the JSON Schema must be an object".into()))?;
        object.entry("x-guidance").or_insert_with(|| serde_json::json!({ "whitespace_flexible": false, "json_allowed_escapes": "nrt\"\\" }));
        let grammar = TopLevelGrammar::from_json_schema(schema);
        let parser = self.factory.create_parser(grammar).map_err(|err| AiError::InvalidInput(format!("the JSON Schema cannot be used: {err}")))?;
        Ok(Matcher::new(Ok(parser)))
    }
}

/// Sets every token the matcher does not allow to -inf.
pub(crate) fn mask_logits(matcher: &mut Matcher, logits: &mut [f32]) -> Result<(), AiError> {
    let mask = matcher.compute_mask().map_err(|err| AiError::Inference(format!("the grammar failed: {err}")))?;
    for (token, logit) in logits.iter_mut().enumerate() {
        if !mask.is_allowed(token as TokenId) {
            *logit = f32::NEG_INFINITY;
        }
    }
    Ok(())
}
