//! The local LLM: candle's quantized llama or qwen2 (or our Gemma 3) on a
//! GGUF file, the tokenizer from the file's own metadata, its chat template
//! rendered with minijinja, and sampling with streaming, stop sequences, a
//! token limit and cancellation.
//!
//! Speed: candle has fast CPU kernels only for Q4_0, Q8_0 and the K-quants.
//! Tensors in Q4_1, Q5_0 or Q5_1 (SmolLM2's file is Q4_1) are requantized
//! once to Q8_0 and the converted file is kept beside the store's blobs
//! (`converted/<sha256>-q8_0.gguf`). Q8_0 keeps more precision than the
//! source (perplexity 9.308 against 9.306 as shipped, measured earlier on
//! this model), at about twice the size of the weights.

use std::{
    path::Path,
    sync::atomic::{AtomicBool, Ordering},
    time::Instant,
};

use candle_core::{
    Device, Tensor,
    quantized::{GgmlDType, QTensor, gguf_file},
};
use candle_transformers::{
    generation::{LogitsProcessor, Sampling},
    models::{quantized_llama::ModelWeights, quantized_qwen2},
};
use serde::Serialize;
use tokenizers::Tokenizer;

use rf_ai::{AiError, ChatMessage, GenerateParams, ModelId, StopReason};
use rf_models::{InstalledModel, ModelStore};

use crate::{gemma3::Gemma3, gguf_tokenizer::tokenizer_from_gguf};

/// Settings for loading a [`LocalLlm`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LlmOptions {
    /// The longest prompt plus answer, in tokens; `None` is the model's own
    /// context capped at [`DEFAULT_CONTEXT`]. Memory for position tables and
    /// the cache grows with it.
    pub context: Option<usize>,
    /// Threads of the pool generation runs in. candle's quantized matmuls
    /// run on its own pool, sized once per process by `CANDLE_NUM_THREADS`
    /// (the CLI's `--threads` sets it); set both alike.
    pub threads: usize,
    /// Convert slow quantization formats to Q8_0 (cached on disk).
    pub requantize: bool,
}

/// The least answer allowance a prompt must leave in the context.
const MIN_ANSWER_TOKENS: usize = 256;

impl Default for LlmOptions {
    fn default() -> Self {
        Self { context: None, threads: 1, requantize: true }
    }
}

/// The result of one generation, with its timings.
#[derive(Debug, Clone, Serialize)]
pub struct Generation {
    pub text: String,
    pub stop_reason: StopReason,
    pub prompt_tokens: usize,
    pub generated_tokens: usize,
    /// From the start of the call to the first generated token.
    pub first_token_ms: f64,
    pub prefill_tokens_per_s: f64,
    pub decode_tokens_per_s: f64,
}

/// The context used when [`LlmOptions::context`] is not set.
pub const DEFAULT_CONTEXT: usize = 8192;

/// The architectures that run.
enum Weights {
    Llama(ModelWeights),
    Gemma3(Gemma3),
    Qwen2(quantized_qwen2::ModelWeights),
}

impl Weights {
    /// Logits after `ids`, which continue the sequence at `start`: (1, vocab).
    fn forward(&mut self, ids: &[u32], start: usize) -> candle_core::Result<Tensor> {
        match self {
            Self::Llama(w) => {
                let input = Tensor::new(ids, &Device::Cpu)?.unsqueeze(0)?;
                w.forward(&input, start)
            }
            Self::Gemma3(w) => w.forward(ids, start),
            Self::Qwen2(w) => {
                let input = Tensor::new(ids, &Device::Cpu)?.unsqueeze(0)?;
                w.forward(&input, start)
            }
        }
    }

    fn clear_kv_cache(&mut self) {
        match self {
            Self::Llama(w) => w.clear_kv_cache(),
            Self::Gemma3(w) => w.clear_kv_cache(),
            Self::Qwen2(w) => w.clear_kv_cache(),
        }
    }
}

/// A loaded local model.
pub struct LocalLlm {
    model_id: ModelId,
    weights: Weights,
    tokenizer: Tokenizer,
    template: Option<String>,
    bos: Option<(u32, String)>,
    add_bos: bool,
    eos_token: String,
    end_ids: Vec<u32>,
    context_length: usize,
    pool: std::sync::Arc<rayon::ThreadPool>,
    guidance: Option<crate::constrained::Guidance>,
}

impl std::fmt::Debug for LocalLlm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalLlm").field("model_id", &self.model_id).field("context_length", &self.context_length).finish_non_exhaustive()
    }
}

type GgufReader = std::io::BufReader<std::fs::File>;

fn read_content(model: &str, path: &Path) -> Result<(gguf_file::Content, GgufReader), AiError> {
    let file = std::fs::File::open(path).map_err(AiError::io("could not open", path))?;
    // Buffered: the header is hundreds of thousands of small reads (one
    // per vocabulary string), 0.8 s for Gemma's unbuffered.
    let mut file = std::io::BufReader::with_capacity(1 << 16, file);
    let content = gguf_file::Content::read(&mut file).map_err(|err| AiError::bad_model(model, path, format!("not a readable GGUF file: {err}")))?;
    Ok((content, file))
}

/// Whether a tensor in `dtype` is worth converting to Q8_0.
fn slow_format(dtype: GgmlDType) -> bool {
    matches!(dtype, GgmlDType::Q4_1 | GgmlDType::Q5_0 | GgmlDType::Q5_1)
}

/// Writes a copy of `source` with slow-format tensors requantized to Q8_0
/// to `target` (atomically).
fn requantize(model: &str, source: &Path, target: &Path) -> Result<(), AiError> {
    let (content, mut file) = read_content(model, source)?;
    let fail = |err: candle_core::Error| AiError::bad_model(model, source, format!("could not requantize: {err}"));
    let mut tensors = Vec::with_capacity(content.tensor_infos.len());
    let mut names: Vec<&String> = content.tensor_infos.keys().collect();
    names.sort();
    for name in names {
        let tensor = content.tensor(&mut file, name, &Device::Cpu).map_err(fail)?;
        let row = tensor.shape().dims().last().copied().unwrap_or(0);
        let tensor = if slow_format(tensor.dtype()) && row % GgmlDType::Q8_0.block_size() == 0 {
            let dense = tensor.dequantize(&Device::Cpu).map_err(fail)?;
            QTensor::quantize(&dense, GgmlDType::Q8_0).map_err(fail)?
        } else {
            tensor
        };
        tensors.push((name.as_str(), tensor));
    }
    let metadata: Vec<(&str, &gguf_file::Value)> = content.metadata.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let tensor_refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (*n, t)).collect();
    rf_store::files::write_atomically_with(target, |file| gguf_file::write(file, &metadata, &tensor_refs).map_err(std::io::Error::other))
        .map_err(|err| AiError::bad_model(model, target, format!("could not write the converted model: {err}")))
}

/// `content`'s architecture, if [`LocalLlm`] runs it.
fn supported(model: &str, path: &Path, content: &gguf_file::Content) -> Result<String, AiError> {
    crate::inspect::llm_architecture(content).map_err(|detail| AiError::bad_model(model, path, detail))
}

/// Tokens that end a turn or a text, in the vocabularies we know.
const END_MARKERS: [&str; 5] = ["<|im_end|>", "<end_of_turn>", "<|eot_id|>", "<|endoftext|>", "</s>"];

impl LocalLlm {
    /// Loads an installed GGUF model. With `requantize`, a Q4_1/Q5_x file is
    /// converted to Q8_0 on first use (about a second for SmolLM2) and the
    /// conversion is reused afterwards.
    pub fn load(store: &ModelStore, model: &InstalledModel, options: LlmOptions) -> Result<Self, AiError> {
        let id = model.spec.id.clone();
        let file = model
            .spec
            .files
            .iter()
            .find(|f| f.name.ends_with(".gguf"))
            .ok_or_else(|| AiError::InvalidInput(format!("{id} has no GGUF file: it is not a local LLM")))?;
        let source = model.path(&file.name)?.to_owned();
        // A conversion exists only for a file that needed one: then it is
        // the only header to read.
        let converted = store.root().join("converted").join(format!("{}-q8_0.gguf", file.sha256));
        if options.requantize && converted.exists() {
            return Self::load_file(&id, &converted, read_content(id.as_str(), &converted)?, options);
        }
        let opened = read_content(id.as_str(), &source)?;
        supported(id.as_str(), &source, &opened.0)?;
        if options.requantize && opened.0.tensor_infos.values().any(|t| slow_format(t.ggml_dtype)) {
            requantize(id.as_str(), &source, &converted)?;
            return Self::load_file(&id, &converted, read_content(id.as_str(), &converted)?, options);
        }
        Self::load_file(&id, &source, opened, options)
    }

    /// Loads the tokenizer and the weights of the GGUF at `path`, whose
    /// header has been read. For Gemma the tokenizer is built on a second
    /// thread meanwhile: for its 262k-token SentencePiece vocabulary that
    /// takes as long as the weights.
    fn load_file(id: &ModelId, path: &Path, (content, mut reader): (gguf_file::Content, GgufReader), options: LlmOptions) -> Result<Self, AiError> {
        let architecture = supported(id.as_str(), path, &content)?;
        let metadata = &content.metadata;
        let text = |key: &str| metadata.get(key).and_then(|v| v.to_string().ok()).cloned();
        let number = |key: &str| metadata.get(key).and_then(|v| v.to_u32().ok());
        let declared = number(&format!("{architecture}.context_length")).map_or(2048, |n| n as usize);
        let mut context_length = options.context.unwrap_or(DEFAULT_CONTEXT.min(declared));
        if context_length == 0 || context_length > declared {
            return Err(AiError::InvalidInput(format!("a context of {context_length} tokens is outside what {id} supports (1 to {declared})")));
        }
        let (bos_id, eos_id) = (number("tokenizer.ggml.bos_token_id"), number("tokenizer.ggml.eos_token_id"));
        let add_bos = metadata.get("tokenizer.ggml.add_bos_token").and_then(|v| v.to_bool().ok()).unwrap_or(false);
        let template = text("tokenizer.chat_template");
        let unloadable = |err: candle_core::Error| AiError::bad_model(id.as_str(), path, format!("the weights do not load: {err}"));
        let (tokenizer, weights) = if architecture == "gemma3" {
            std::thread::scope(|scope| {
                let tokenizer = scope.spawn(|| tokenizer_from_gguf(&content, path));
                let weights = Gemma3::from_gguf(&content, &mut reader, context_length).map(Weights::Gemma3).map_err(unloadable);
                (tokenizer.join().unwrap_or_else(|_| Err(AiError::Inference("building the tokenizer panicked".into()))), weights)
            })
        } else if architecture == "qwen2" {
            // candle's qwen2 has position tables for the declared context.
            let tokenizer = tokenizer_from_gguf(&content, path);
            (tokenizer, quantized_qwen2::ModelWeights::from_gguf(content, &mut reader, &Device::Cpu).map(Weights::Qwen2).map_err(unloadable))
        } else {
            // candle's llama consumes the header, and has position tables
            // for this many tokens.
            context_length = context_length.min(candle_transformers::models::quantized_llama::MAX_SEQ_LEN);
            let tokenizer = tokenizer_from_gguf(&content, path);
            (tokenizer, ModelWeights::from_gguf(content, &mut reader, &Device::Cpu).map(Weights::Llama).map_err(unloadable))
        };
        let (tokenizer, weights) = (tokenizer?, weights?);

        let token_text = |id: u32| tokenizer.id_to_token(id);
        let bos = bos_id.and_then(|id| token_text(id).map(|t| (id, t)));
        let eos_token = eos_id.and_then(token_text).unwrap_or_default();
        // The end of a turn: the declared eos plus the usual end markers the
        // vocabulary has as control tokens (SmolLM2 ends turns with
        // <|im_end|> and text with <|endoftext|>; in Gemma's vocabulary
        // "</s>" is an ordinary HTML tag).
        let mut end_ids: Vec<u32> = eos_id.into_iter().collect();
        let control = tokenizer.get_added_tokens_decoder();
        for marker in END_MARKERS {
            if let Some(id) = tokenizer.token_to_id(marker)
                && control.get(&id).is_some_and(|t| t.special)
                && !end_ids.contains(&id)
            {
                end_ids.push(id);
            }
        }
        let pool = crate::thread_pool(options.threads, "rf-llm")?;
        Ok(Self { model_id: id.clone(), weights, tokenizer, template, bos, add_bos, eos_token, end_ids, context_length, pool: pool.into(), guidance: None })
    }

    pub fn model_id(&self) -> &ModelId {
        &self.model_id
    }

    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// The token ids that end a turn.
    pub fn end_ids(&self) -> &[u32] {
        &self.end_ids
    }

    pub fn has_chat_template(&self) -> bool {
        self.template.is_some()
    }

    /// Renders `messages` with the model's chat template, ready for the
    /// assistant's turn. A model without a template is refused: it is a
    /// base model, to be used with [`Self::generate`] on plain text.
    pub fn chat_prompt(&self, messages: &[ChatMessage]) -> Result<String, AiError> {
        let template = self
            .template
            .as_deref()
            .ok_or_else(|| AiError::InvalidInput(format!("{} has no chat template: it is a base model; give it text to continue instead", self.model_id)))?;
        let mut env = minijinja::Environment::new();
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function("raise_exception", |message: String| -> Result<String, minijinja::Error> {
            Err(minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, message))
        });
        env.add_template("chat", template).map_err(|err| AiError::Inference(format!("the model's chat template does not parse: {err}")))?;
        let tmpl = env.get_template("chat").map_err(|err| AiError::Inference(err.to_string()))?;
        tmpl.render(minijinja::context! {
            messages => minijinja::value::Serde(messages),
            add_generation_prompt => true,
            bos_token => self.bos.as_ref().map(|(_, t)| t.clone()).unwrap_or_default(),
            eos_token => self.eos_token.clone(),
        })
        .map_err(|err| AiError::Inference(format!("the model's chat template failed: {err}")))
    }

    /// Continues `prompt` (special tokens in it are parsed), calling
    /// `on_text` with each new piece of text as it is decided. Setting
    /// `cancel` stops at the next token.
    pub fn generate(
        &mut self,
        prompt: &str,
        params: &GenerateParams,
        cancel: &AtomicBool,
        on_text: &mut (dyn FnMut(&str) + Send),
    ) -> Result<Generation, AiError> {
        let pool = self.pool.clone();
        pool.install(|| self.generate_inner(prompt, params, cancel, None, on_text))
    }

    /// Like [`Self::generate`], but the answer is constrained to JSON that
    /// matches `schema` (tokens the grammar does not allow are masked at
    /// every step) and is returned parsed. An answer cut short by
    /// `max_tokens` or `cancel` is an error, never half a JSON value.
    pub fn generate_json(
        &mut self,
        prompt: &str,
        schema: &serde_json::Value,
        params: &GenerateParams,
        cancel: &AtomicBool,
        on_text: &mut (dyn FnMut(&str) + Send),
    ) -> Result<(Generation, serde_json::Value), AiError> {
        if self.guidance.is_none() {
            let vocab = self.tokenizer.get_vocab_size(true);
            let end = self.end_ids.first().copied().ok_or_else(|| AiError::Inference(format!("{} declares no end-of-text token", self.model_id)))?;
            let end_of_turn = END_MARKERS[..3].iter().find_map(|m| self.tokenizer.token_to_id(m));
            self.guidance = Some(crate::constrained::Guidance::new(&self.tokenizer, vocab, end, end_of_turn)?);
        }
        let matcher = self.guidance.as_ref().map(|g| g.matcher(schema)).transpose()?;
        let pool = self.pool.clone();
        let generation = pool.install(|| self.generate_inner(prompt, params, cancel, matcher, on_text))?;
        match generation.stop_reason {
            StopReason::EndOfTurn => {}
            StopReason::MaxTokens => {
                return Err(AiError::InvalidInput(format!(
                    "the answer was cut at {} tokens before its JSON was complete; allow more tokens",
                    generation.generated_tokens
                )));
            }
            StopReason::Cancelled | StopReason::StopSequence => {
                return Err(AiError::Inference("the answer was stopped before its JSON was complete".into()));
            }
        }
        let value = serde_json::from_str(&generation.text)
            .map_err(|err| AiError::Inference(format!("the constrained answer does not parse ({err}): {:?}", generation.text)))?;
        Ok((generation, value))
    }

    /// The logits for the token after `ids`, which continue the sequence
    /// already run at position `start` (0 starts afresh). For scoring text
    /// and for checking the model against a reference.
    pub fn next_logits(&mut self, ids: &[u32], start: usize) -> Result<Vec<f32>, AiError> {
        if start + ids.len() > self.context_length {
            return Err(AiError::InvalidInput(format!("{} tokens exceed the context of {}", start + ids.len(), self.context_length)));
        }
        let pool = self.pool.clone();
        pool.install(|| {
            if start == 0 {
                self.weights.clear_kv_cache();
            }
            let fail = |err: candle_core::Error| AiError::Inference(err.to_string());
            self.weights.forward(ids, start).map_err(fail)?.squeeze(0).map_err(fail)?.to_vec1::<f32>().map_err(fail)
        })
    }

    /// The prompt's token ids as generation would run them (with BOS where
    /// the model wants one).
    pub fn prompt_ids(&self, prompt: &str) -> Result<Vec<u32>, AiError> {
        let mut ids = self.tokenizer.encode(prompt, false).map_err(|err| AiError::Inference(format!("tokenizing the prompt: {err}")))?.get_ids().to_vec();
        if self.add_bos
            && let Some((bos, _)) = &self.bos
        {
            ids.insert(0, *bos);
        }
        Ok(ids)
    }

    fn generate_inner(
        &mut self,
        prompt: &str,
        params: &GenerateParams,
        cancel: &AtomicBool,
        mut matcher: Option<llguidance::Matcher>,
        on_text: &mut (dyn FnMut(&str) + Send),
    ) -> Result<Generation, AiError> {
        let fail = |err: candle_core::Error| AiError::Inference(err.to_string());
        let started = Instant::now();
        let prompt_ids = self.prompt_ids(prompt)?;
        if prompt_ids.is_empty() {
            return Err(AiError::InvalidInput("the prompt is empty".into()));
        }
        // The answer gets what the context leaves, up to --max-tokens: a
        // long prompt (an agent reviewing a long draft) still gets an
        // answer. A prompt that leaves less than MIN_ANSWER_TOKENS (or
        // than asked, if less was asked) is refused.
        let room = self.context_length.saturating_sub(prompt_ids.len());
        if room < params.max_tokens.min(MIN_ANSWER_TOKENS) {
            return Err(AiError::InvalidInput(format!(
                "the prompt ({} tokens) plus --max-tokens {} exceeds the model's context of {} tokens",
                prompt_ids.len(),
                params.max_tokens,
                self.context_length
            )));
        }
        let max_tokens = params.max_tokens.min(room);
        let sampling = if params.temperature <= 0.0 { Sampling::ArgMax } else { Sampling::TopP { p: params.top_p, temperature: params.temperature } };
        let mut sampler = LogitsProcessor::from_sampling(params.seed, sampling);
        // Picks the next token, within the grammar if there is one.
        let mut pick = |logits: Tensor, matcher: &mut Option<llguidance::Matcher>| -> Result<u32, AiError> {
            let Some(matcher) = matcher else { return sampler.sample(&logits).map_err(fail) };
            let mut values = logits.to_vec1::<f32>().map_err(fail)?;
            crate::constrained::mask_logits(matcher, &mut values)?;
            let masked = Tensor::from_vec(values, logits.dims(), &Device::Cpu).map_err(fail)?;
            sampler.sample(&masked).map_err(fail)
        };
        self.weights.clear_kv_cache();

        let logits = self.weights.forward(&prompt_ids, 0).map_err(fail)?.squeeze(0).map_err(fail)?;
        let prefill_secs = started.elapsed().as_secs_f64();
        let mut next = pick(logits, &mut matcher)?;
        let first_token_ms = started.elapsed().as_secs_f64() * 1000.0;
        let decode_started = Instant::now();

        let hold_back = params.stop.iter().map(String::len).max().unwrap_or(1).saturating_sub(1);
        let mut generated: Vec<u32> = Vec::new();
        let mut emitted = 0usize; // bytes of `text` already given to on_text
        let mut text = String::new();
        let stop_reason = loop {
            if self.end_ids.contains(&next) {
                break StopReason::EndOfTurn;
            }
            generated.push(next);
            if let Some(matcher) = &mut matcher {
                matcher.consume_token(next).map_err(|err| AiError::Inference(format!("the grammar refused a token: {err}")))?;
            }
            text = self.tokenizer.decode(&generated, true).map_err(|err| AiError::Inference(format!("decoding: {err}")))?;
            if let Some(at) = params.stop.iter().filter_map(|s| text.find(s.as_str())).min() {
                text.truncate(at);
                break StopReason::StopSequence;
            }
            // Emit what can no longer become part of a stop sequence or of a
            // character still being spelled out byte by byte.
            if !text.ends_with('\u{FFFD}') {
                let mut safe = text.len().saturating_sub(hold_back);
                while !text.is_char_boundary(safe) {
                    safe -= 1;
                }
                if safe > emitted {
                    on_text(&text[emitted..safe]);
                    emitted = safe;
                }
            }
            if matcher.as_ref().is_some_and(llguidance::Matcher::is_stopped) {
                break StopReason::EndOfTurn;
            }
            if generated.len() >= max_tokens {
                break StopReason::MaxTokens;
            }
            if cancel.load(Ordering::Relaxed) {
                break StopReason::Cancelled;
            }
            let position = prompt_ids.len() + generated.len() - 1;
            let logits = self.weights.forward(&[next], position).map_err(fail)?.squeeze(0).map_err(fail)?;
            next = pick(logits, &mut matcher)?;
        };
        if text.len() > emitted {
            on_text(&text[emitted..]);
        }
        let decode_secs = decode_started.elapsed().as_secs_f64().max(1e-9);
        Ok(Generation {
            text,
            stop_reason,
            prompt_tokens: prompt_ids.len(),
            generated_tokens: generated.len(),
            first_token_ms,
            prefill_tokens_per_s: prompt_ids.len() as f64 / prefill_secs.max(1e-9),
            decode_tokens_per_s: generated.len().saturating_sub(1) as f64 / decode_secs,
        })
    }
}
