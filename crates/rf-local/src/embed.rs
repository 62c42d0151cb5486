//! Sentence embeddings: a BERT encoder ([`crate::bert`], weights read with
//! candle), mean pooling over each text's tokens, L2 normalisation (what
//! sentence-transformers does for all-MiniLM-L6-v2).

use std::path::Path;

use candle_core::{DType, Device};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{Config, HiddenAct};
use tokenizers::{Tokenizer, TruncationParams};

use rf_ai::{AiError, Embedder, ModelId};
use rf_models::InstalledModel;

use crate::bert::{BertEncoder, BertShape};

/// Settings for a [`BertEmbedder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmbedderOptions {
    /// Compute threads (every part of the model runs on them). Which of 1
    /// or 2 is faster depends on the machine's load; the benchmark reports
    /// both.
    pub threads: usize,
}

impl Default for EmbedderOptions {
    fn default() -> Self {
        Self { threads: 1 }
    }
}

/// A BERT sentence embedder on the CPU.
pub struct BertEmbedder {
    model_id: ModelId,
    model: BertEncoder,
    tokenizer: Tokenizer,
    /// The same tokenizer without padding or truncation, for counting.
    counter: Tokenizer,
    dimensions: usize,
    threads: usize,
    pool: rayon::ThreadPool,
}

impl std::fmt::Debug for BertEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BertEmbedder").field("model_id", &self.model_id).field("dimensions", &self.dimensions).finish_non_exhaustive()
    }
}

impl BertEmbedder {
    /// Tokens per text, as sentence-transformers truncates all-MiniLM-L6-v2.
    pub const MAX_TOKENS: usize = 256;

    /// Loads an installed embedding model (`model.safetensors`, `config.json`,
    /// `tokenizer.json`).
    pub fn load(model: &InstalledModel, options: EmbedderOptions) -> Result<Self, AiError> {
        Self::load_files(&model.spec.id, model.path("config.json")?, model.path("tokenizer.json")?, model.path("model.safetensors")?, options)
    }

    /// Loads from explicit files; `model_id` names them in errors.
    pub fn load_files(model_id: &ModelId, config: &Path, tokenizer: &Path, weights: &Path, options: EmbedderOptions) -> Result<Self, AiError> {
        let config_text = std::fs::read_to_string(config).map_err(AiError::io("could not read", config))?;
        let config_value: serde_json::Value =
            serde_json::from_str(&config_text).map_err(|err| AiError::bad_model(model_id, config, format!("not JSON: {err}")))?;
        if config_value.get("model_type").and_then(serde_json::Value::as_str) != Some("bert") {
            return Err(AiError::bad_model(model_id, config, "the architecture is not supported: the embedder runs BERT models (model_type \"bert\")"));
        }
        let bert_config: Config =
            serde_json::from_value(config_value).map_err(|err| AiError::bad_model(model_id, config, format!("not a BERT config: {err}")))?;

        let mut tokenizer_value = Tokenizer::from_file(tokenizer).map_err(|err| AiError::bad_model(model_id, tokenizer, format!("not a tokenizer: {err}")))?;
        let vocab = tokenizer_value.get_vocab_size(true);
        if vocab > bert_config.vocab_size {
            return Err(AiError::bad_model(
                model_id,
                tokenizer,
                format!("the tokenizer has {vocab} tokens but the model only {}: they do not belong together", bert_config.vocab_size),
            ));
        }
        // The shipped tokenizer pads every text to 128 tokens; the encoder
        // packs texts without padding. Truncate at 256 (or the model's
        // positions, if fewer).
        tokenizer_value.with_padding(None);
        tokenizer_value
            .with_truncation(Some(TruncationParams { max_length: Self::MAX_TOKENS.min(bert_config.max_position_embeddings), ..TruncationParams::default() }))
            .map_err(|err| AiError::bad_model(model_id, tokenizer, err))?;
        if bert_config.hidden_act != HiddenAct::Gelu {
            return Err(AiError::bad_model(
                model_id,
                config,
                format!("activation {:?} is not supported (the embedder runs exact GELU)", bert_config.hidden_act),
            ));
        }

        let bytes = std::fs::read(weights).map_err(AiError::io("could not read", weights))?;
        let vb = VarBuilder::from_buffered_safetensors(bytes, DType::F32, &Device::Cpu)
            .map_err(|err| AiError::bad_model(model_id, weights, format!("not a readable safetensors file: {err}")))?;
        let shape = BertShape {
            vocab: bert_config.vocab_size,
            hidden: bert_config.hidden_size,
            layers: bert_config.num_hidden_layers,
            heads: bert_config.num_attention_heads,
            intermediate: bert_config.intermediate_size,
            max_positions: bert_config.max_position_embeddings,
            type_vocab: bert_config.type_vocab_size,
        };
        let model = BertEncoder::load(vb, shape, bert_config.layer_norm_eps)
            .map_err(|err| AiError::bad_model(model_id, weights, format!("the weights do not fit the config: {err}")))?;
        let pool = crate::thread_pool(options.threads, "rf-embed")?;
        let mut counter = tokenizer_value.clone();
        counter.with_padding(None);
        counter.with_truncation(None).map_err(|err| AiError::bad_model(model_id, tokenizer, err))?;
        Ok(Self {
            model_id: model_id.clone(),
            model,
            tokenizer: tokenizer_value,
            counter,
            dimensions: bert_config.hidden_size,
            threads: options.threads.max(1),
            pool,
        })
    }

    fn forward(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, AiError> {
        let encodings = self.tokenizer.encode_batch(texts.to_vec(), true).map_err(|err| AiError::Inference(format!("tokenizing: {err}")))?;
        let ids: Vec<&[u32]> = encodings.iter().map(tokenizers::Encoding::get_ids).collect();
        self.model.embed(&ids, self.threads).map_err(AiError::Inference)
    }
}

impl Embedder for BertEmbedder {
    fn model_id(&self) -> &ModelId {
        &self.model_id
    }

    fn dimensions(&self) -> usize {
        self.dimensions
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, AiError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        self.pool.install(|| self.forward(texts))
    }

    fn count_tokens(&self, text: &str) -> Result<usize, AiError> {
        let encoding = self.counter.encode_fast(text, false).map_err(|err| AiError::Inference(format!("tokenizing: {err}")))?;
        Ok(encoding.len())
    }

    fn max_tokens(&self) -> usize {
        Self::MAX_TOKENS
    }
}
