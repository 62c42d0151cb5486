//! Gemma 3 text models from a GGUF file, on candle's quantized matmuls.
//!
//! Written here rather than taken from candle-transformers because its
//! `quantized_gemma3` builds a 131,072-position RoPE table for every layer
//! (3.6 GB and 12 s at load for a 270M model), dequantizes the whole
//! 262k-token embedding table to f32 (671 MB), uses SiLU where Gemma 3 uses
//! tanh-approximated GELU, and ignores the sliding window once the prompt is
//! in the cache. Here:
//! - RoPE tables cover the context the model is run with, one per base
//!   frequency, shared by the layers;
//! - the embedding table stays quantized (it doubles as the output head);
//!   the rows of the tokens being read are dequantized on demand;
//! - sliding-window layers attend to the last `window` positions in prefill
//!   and decode alike and keep only that much cache;
//! - the prompt is processed in chunks of [`PREFILL_CHUNK`] tokens, so the
//!   attention scores stay small for long prompts.

use std::{borrow::Cow, sync::Arc};

use candle_core::{
    DType, Device, Module, Result, Tensor,
    quantized::{QMatMul, QStorage, QTensor, gguf_file},
};
use candle_transformers::quantized_nn::RmsNorm;

/// Prompt tokens processed per forward pass.
pub const PREFILL_CHUNK: usize = 512;

/// Gemma 3 layers alternate: five sliding-window layers, then a global one.
const DEFAULT_SLIDING_WINDOW_PATTERN: usize = 6;
const DEFAULT_ROPE_BASE: f32 = 1_000_000.0;
const DEFAULT_ROPE_BASE_SLIDING: f32 = 10_000.0;

/// cos and sin tables of shape (context, head_dim / 2).
#[derive(Debug, Clone)]
struct Rope {
    cos: Tensor,
    sin: Tensor,
}

impl Rope {
    fn new(head_dim: usize, base: f32, context: usize, device: &Device) -> Result<Self> {
        let inv_freq: Vec<f32> = (0..head_dim).step_by(2).map(|i| 1.0 / base.powf(i as f32 / head_dim as f32)).collect();
        let inv_freq = Tensor::from_vec(inv_freq, (1, head_dim / 2), device)?;
        let positions = Tensor::arange(0u32, context as u32, device)?.to_dtype(DType::F32)?.reshape((context, 1))?;
        let angles = positions.matmul(&inv_freq)?;
        Ok(Self { cos: angles.cos()?, sin: angles.sin()? })
    }

    /// Rotates (batch, heads, seq, head_dim) `x` for positions `start..`.
    fn apply(&self, x: &Tensor, start: usize) -> Result<Tensor> {
        let seq = x.dim(2)?;
        let cos = self.cos.narrow(0, start, seq)?;
        let sin = self.sin.narrow(0, start, seq)?;
        candle_nn::rotary_emb::rope(&x.contiguous()?, &cos, &sin)
    }
}

/// The token embedding table, kept quantized.
#[derive(Debug, Clone)]
struct QuantizedEmbedding {
    table: Arc<QTensor>,
    vocab: usize,
    width: usize,
    row_bytes: usize,
}

impl QuantizedEmbedding {
    fn new(table: Arc<QTensor>) -> Result<Self> {
        let (vocab, width) = table.shape().dims2()?;
        let dtype = table.dtype();
        if !width.is_multiple_of(dtype.block_size()) {
            candle_core::bail!("token_embd rows of {width} values do not split into {dtype:?} blocks");
        }
        let row_bytes = width / dtype.block_size() * dtype.type_size();
        Ok(Self { table, vocab, width, row_bytes })
    }

    /// Dequantized rows for `ids`, shape (ids.len(), width).
    fn rows(&self, ids: &[u32]) -> Result<Tensor> {
        let data = self.table.data()?;
        let mut picked = Vec::with_capacity(ids.len() * self.row_bytes);
        for &id in ids {
            let id = id as usize;
            if id >= self.vocab {
                candle_core::bail!("token id {id} is outside the vocabulary of {}", self.vocab);
            }
            picked.extend_from_slice(&data[id * self.row_bytes..(id + 1) * self.row_bytes]);
        }
        let storage = QStorage::from_data(Cow::Owned(picked), &Device::Cpu, self.table.dtype())?;
        QTensor::new(storage, (ids.len(), self.width))?.dequantize(&Device::Cpu)
    }
}

#[derive(Debug, Clone)]
struct Layer {
    wq: QMatMul,
    wk: QMatMul,
    wv: QMatMul,
    wo: QMatMul,
    q_norm: RmsNorm,
    k_norm: RmsNorm,
    attn_norm: RmsNorm,
    post_attn_norm: RmsNorm,
    ffn_norm: RmsNorm,
    post_ffn_norm: RmsNorm,
    gate: QMatMul,
    up: QMatMul,
    down: QMatMul,
    /// Sliding-window layers see only this many positions (itself included).
    window: Option<usize>,
    rope: Rope,
    /// Cached keys and values, (1, kv_heads, positions, head_dim), and the
    /// position of their first entry.
    cache: Option<(Tensor, Tensor, usize)>,
}

/// Shape facts shared by the layers.
#[derive(Debug, Clone, Copy)]
struct Dims {
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
}

impl Layer {
    fn attention(&mut self, x: &Tensor, start: usize, dims: Dims) -> Result<Tensor> {
        let (batch, seq, _) = x.dims3()?;
        let Dims { heads, kv_heads, head_dim } = dims;
        let split = |t: Tensor, n: usize| t.reshape((batch, seq, n, head_dim))?.transpose(1, 2)?.contiguous();
        let q = split(self.wq.forward(x)?, heads)?;
        let k = split(self.wk.forward(x)?, kv_heads)?;
        let v = split(self.wv.forward(x)?, kv_heads)?;
        let q = self.rope.apply(&self.q_norm.forward(&q)?, start)?;
        let k = self.rope.apply(&self.k_norm.forward(&k)?, start)?;

        let (k, v, first) = match self.cache.take() {
            Some((ck, cv, first)) => (Tensor::cat(&[&ck, &k], 2)?, Tensor::cat(&[&cv, &v], 2)?, first),
            None => (k, v, start),
        };
        let keys = k.dim(2)?;
        // The heads sharing a key/value head are adjacent: fold them into
        // the sequence axis, one matmul per key/value head.
        let group = heads / kv_heads;
        let q = q.reshape((batch, kv_heads, group * seq, head_dim))?;
        let scores = (q.matmul(&k.t()?)? * (1.0 / (head_dim as f64).sqrt()))?;
        let needs_mask = seq > 1 || self.window.is_some_and(|w| keys > w);
        let scores = if needs_mask {
            let mut mask = Vec::with_capacity(group * seq * keys);
            for _ in 0..group {
                for i in 0..seq {
                    let query = start + i;
                    mask.extend((0..keys).map(|j| {
                        let key = first + j;
                        let visible = key <= query && self.window.is_none_or(|w| query - key < w);
                        if visible { 0.0f32 } else { f32::NEG_INFINITY }
                    }));
                }
            }
            let mask = Tensor::from_vec(mask, (group * seq, keys), x.device())?;
            scores.broadcast_add(&mask)?
        } else {
            scores
        };
        let probs = candle_nn::ops::softmax_last_dim(&scores)?;
        let out = probs.matmul(&v)?.reshape((batch, heads, seq, head_dim))?.transpose(1, 2)?.reshape((batch, seq, heads * head_dim))?;

        // Keep what later positions can still see.
        self.cache = Some(match self.window {
            Some(w) if keys >= w => {
                let keep = w - 1;
                (k.narrow(2, keys - keep, keep)?.contiguous()?, v.narrow(2, keys - keep, keep)?.contiguous()?, first + keys - keep)
            }
            _ => (k, v, first),
        });
        self.wo.forward(&out)
    }

    fn forward(&mut self, x: &Tensor, start: usize, dims: Dims) -> Result<Tensor> {
        let attn = self.attention(&self.attn_norm.forward(x)?, start, dims)?;
        let x = (self.post_attn_norm.forward(&attn)? + x)?;
        let h = self.ffn_norm.forward(&x)?;
        let gated = (self.gate.forward(&h)?.gelu()? * self.up.forward(&h)?)?;
        let ffn = self.post_ffn_norm.forward(&self.down.forward(&gated)?)?;
        ffn + x
    }
}

/// A Gemma 3 text model.
#[derive(Debug, Clone)]
pub struct Gemma3 {
    embedding: QuantizedEmbedding,
    embedding_scale: f64,
    layers: Vec<Layer>,
    norm: RmsNorm,
    output: QMatMul,
    dims: Dims,
    context: usize,
}

impl Gemma3 {
    /// Loads the weights; RoPE tables cover `context` positions.
    pub fn from_gguf<R: std::io::Seek + std::io::Read>(content: &gguf_file::Content, reader: &mut R, context: usize) -> Result<Self> {
        let device = &Device::Cpu;
        let prefix =
            ["gemma3", "gemma2", "gemma"].into_iter().find(|p| content.metadata.contains_key(&format!("{p}.attention.head_count"))).unwrap_or("gemma3");
        let get = |key: &str| {
            let key = format!("{prefix}.{key}");
            content.metadata.get(&key).ok_or_else(|| candle_core::Error::Msg(format!("the GGUF has no {key}")))
        };
        let heads = get("attention.head_count")?.to_u32()? as usize;
        let kv_heads = get("attention.head_count_kv")?.to_u32()? as usize;
        let blocks = get("block_count")?.to_u32()? as usize;
        let width = get("embedding_length")?.to_u32()? as usize;
        let head_dim = get("attention.key_length")?.to_u32()? as usize;
        let eps = get("attention.layer_norm_rms_epsilon")?.to_f32()? as f64;
        let window = get("attention.sliding_window")?.to_u32()? as usize;
        let pattern = get("attention.sliding_window_type").and_then(|v| v.to_u32()).map_or(DEFAULT_SLIDING_WINDOW_PATTERN, |n| n as usize);
        let base = get("rope.freq_base").and_then(|v| v.to_f32()).unwrap_or(DEFAULT_ROPE_BASE);
        let base_sliding = get("rope.local_freq_base").and_then(|v| v.to_f32()).unwrap_or(DEFAULT_ROPE_BASE_SLIDING);
        if heads == 0 || kv_heads == 0 || !heads.is_multiple_of(kv_heads) || !head_dim.is_multiple_of(2) || window == 0 || pattern == 0 {
            candle_core::bail!("inconsistent attention shape: {heads} heads, {kv_heads} key/value heads, head size {head_dim}, window {window}");
        }

        let mut tensor = |name: &str| content.tensor(reader, name, device);
        let embedding = Arc::new(tensor("token_embd.weight")?);
        let output = match tensor("output.weight") {
            Ok(t) => QMatMul::from_qtensor(t)?,
            Err(_) => QMatMul::from_arc(embedding.clone())?,
        };
        let output_norm = RmsNorm::from_qtensor(tensor("output_norm.weight")?, eps)?;
        let rope_global = Rope::new(head_dim, base, context, device)?;
        let rope_sliding = Rope::new(head_dim, base_sliding, context, device)?;
        let rms = |t: QTensor| RmsNorm::from_qtensor(t, eps);
        let mut layers = Vec::with_capacity(blocks);
        for i in 0..blocks {
            let mut weight = |name: &str| tensor(&format!("blk.{i}.{name}.weight"));
            let sliding = (i + 1) % pattern != 0;
            layers.push(Layer {
                wq: QMatMul::from_qtensor(weight("attn_q")?)?,
                wk: QMatMul::from_qtensor(weight("attn_k")?)?,
                wv: QMatMul::from_qtensor(weight("attn_v")?)?,
                wo: QMatMul::from_qtensor(weight("attn_output")?)?,
                q_norm: rms(weight("attn_q_norm")?)?,
                k_norm: rms(weight("attn_k_norm")?)?,
                attn_norm: rms(weight("attn_norm")?)?,
                post_attn_norm: rms(weight("post_attention_norm")?)?,
                ffn_norm: rms(weight("ffn_norm")?)?,
                post_ffn_norm: rms(weight("post_ffw_norm")?)?,
                gate: QMatMul::from_qtensor(weight("ffn_gate")?)?,
                up: QMatMul::from_qtensor(weight("ffn_up")?)?,
                down: QMatMul::from_qtensor(weight("ffn_down")?)?,
                window: sliding.then_some(window),
                rope: if sliding { rope_sliding.clone() } else { rope_global.clone() },
                cache: None,
            });
        }
        Ok(Self {
            embedding: QuantizedEmbedding::new(embedding)?,
            embedding_scale: (width as f64).sqrt(),
            layers,
            norm: output_norm,
            output,
            dims: Dims { heads, kv_heads, head_dim },
            context,
        })
    }

    /// The logits after `ids`, which continue the cached sequence at
    /// position `start`: shape (1, vocab).
    pub fn forward(&mut self, ids: &[u32], start: usize) -> Result<Tensor> {
        if ids.is_empty() {
            candle_core::bail!("no tokens to run");
        }
        if start + ids.len() > self.context {
            candle_core::bail!("position {} is past the context of {} tokens", start + ids.len(), self.context);
        }
        if start == 0 {
            self.clear_kv_cache();
        }
        let mut last = None;
        for (n, chunk) in ids.chunks(PREFILL_CHUNK).enumerate() {
            let at = start + n * PREFILL_CHUNK;
            let mut x = (self.embedding.rows(chunk)? * self.embedding_scale)?.unsqueeze(0)?;
            for layer in &mut self.layers {
                x = layer.forward(&x, at, self.dims)?;
            }
            last = Some(x.narrow(1, chunk.len() - 1, 1)?.squeeze(1)?);
        }
        let x = last.expect("ids is not empty");
        self.output.forward(&self.norm.forward(&x)?)
    }

    pub fn clear_kv_cache(&mut self) {
        for layer in &mut self.layers {
            layer.cache = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use candle_core::quantized::GgmlDType;

    use super::*;

    #[test]
    fn rope_tables_cover_exactly_the_context() {
        let rope = Rope::new(8, 10_000.0, 16, &Device::Cpu).unwrap();
        assert_eq!(rope.cos.dims(), [16, 4]);
        // Position 0 is the identity rotation.
        assert_eq!(rope.cos.get(0).unwrap().to_vec1::<f32>().unwrap(), [1.0; 4]);
        assert_eq!(rope.sin.get(0).unwrap().to_vec1::<f32>().unwrap(), [0.0; 4]);
        let x = Tensor::ones((1, 1, 2, 8), DType::F32, &Device::Cpu).unwrap();
        assert!(rope.apply(&x, 15).is_err(), "position 16 is outside a 16-position table");
    }

    #[test]
    fn embedding_rows_match_the_dequantized_table() {
        let dense = Tensor::arange(0f32, 4.0 * 64.0, &Device::Cpu).unwrap().reshape((4, 64)).unwrap().affine(0.01, -1.0).unwrap();
        let table = QTensor::quantize(&dense, GgmlDType::Q8_0).unwrap();
        let all = table.dequantize(&Device::Cpu).unwrap();
        let embedding = QuantizedEmbedding::new(Arc::new(table)).unwrap();
        let rows = embedding.rows(&[3, 1, 3]).unwrap();
        for (got, want) in [(0, 3), (1, 1), (2, 3)] {
            assert_eq!(rows.get(got).unwrap().to_vec1::<f32>().unwrap(), all.get(want).unwrap().to_vec1::<f32>().unwrap());
        }
        assert!(embedding.rows(&[4]).is_err(), "id 4 is outside a 4-token table");
    }
}
