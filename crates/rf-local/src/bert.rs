//! A BERT encoder on plain f32 buffers, for sentence embeddings on the CPU.
//!
//! candle's `BertModel` spends more time around its matrix products than in
//! them (exact GELU through scalar `erff`, a pass and a tensor per
//! element-wise step, copies for every transpose, padding computed like real
//! tokens), repacks every weight matrix on every product, and runs its
//! element-wise work on its own thread pool. Here:
//! - the tokens of a batch are packed without padding: every linear layer is
//!   one matrix product over the real tokens only, and attention runs per
//!   text on its own rows, so batching cannot change a text's vector;
//! - weights are packed once, at load, for [`kernels::matmul`], with query,
//!   key and value fused into one product; outputs start from the bias;
//! - attention is two products per head on the same kernel (keys and values
//!   packed per text), with the softmax scale folded into the softmax;
//! - GELU, softmax and layer norm are single vectorised passes;
//! - all work runs on the caller's threads: one thread means one.

use candle_nn::VarBuilder;
use rayon::prelude::*;

use crate::kernels::{self, Packed};

/// The shape of a BERT model (from its config.json).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BertShape {
    pub vocab: usize,
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub intermediate: usize,
    pub max_positions: usize,
    pub type_vocab: usize,
}

/// A linear layer: weights packed for [`kernels::matmul`], and the bias.
struct Linear {
    weights: Packed,
    bias: Vec<f32>,
}

impl Linear {
    /// Loads one or more `[out, in]` matrices with their biases and stacks
    /// their outputs (for the fused query/key/value product).
    fn load(vb: &VarBuilder, names: &[&str], inputs: usize, outputs: usize) -> candle_core::Result<Self> {
        let mut weights = Vec::with_capacity(outputs * inputs * names.len());
        let mut bias = Vec::with_capacity(outputs * names.len());
        for name in names {
            weights.extend(vb.get((outputs, inputs), &format!("{name}.weight"))?.flatten_all()?.to_vec1::<f32>()?);
            bias.extend(vb.get(outputs, &format!("{name}.bias"))?.to_vec1::<f32>()?);
        }
        let weights = Packed::from_columns(inputs, bias.len(), &weights);
        Ok(Self { weights, bias })
    }

    /// `out = x · Wᵀ + b` for the `rows` rows of `x` (`out`'s memory is
    /// reused).
    fn forward(&self, x: &[f32], rows: usize, threads: usize, out: &mut Vec<f32>) {
        let width = self.bias.len();
        out.clear();
        for _ in 0..rows {
            out.extend_from_slice(&self.bias);
        }
        kernels::matmul(x, self.weights.rows(), rows, &self.weights, out, width, threads);
    }
}

struct LayerNorm {
    gamma: Vec<f32>,
    beta: Vec<f32>,
}

impl LayerNorm {
    fn load(vb: &VarBuilder, name: &str, width: usize) -> candle_core::Result<Self> {
        // Old checkpoints call them gamma and beta.
        let get = |a: &str, b: &str| vb.get(width, &format!("{name}.{a}")).or_else(|_| vb.get(width, &format!("{name}.{b}")))?.to_vec1::<f32>();
        Ok(Self { gamma: get("weight", "gamma")?, beta: get("bias", "beta")? })
    }
}

struct Layer {
    qkv: Linear,
    attn_out: Linear,
    attn_norm: LayerNorm,
    intermediate: Linear,
    output: Linear,
    out_norm: LayerNorm,
}

/// BERT weights and the forward pass.
pub struct BertEncoder {
    shape: BertShape,
    eps: f32,
    word: Vec<f32>,
    position: Vec<f32>,
    token_type: Vec<f32>,
    embed_norm: LayerNorm,
    layers: Vec<Layer>,
}

impl std::fmt::Debug for BertEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BertEncoder").field("shape", &self.shape).finish_non_exhaustive()
    }
}

impl BertEncoder {
    /// Loads the weights (names as Hugging Face's `BertModel`, with or
    /// without a `bert.` prefix).
    pub fn load(vb: VarBuilder, shape: BertShape, eps: f64) -> candle_core::Result<Self> {
        let vb = if vb.contains_tensor("embeddings.word_embeddings.weight") { vb } else { vb.pp("bert") };
        let h = shape.hidden;
        if h == 0 || shape.heads == 0 || !h.is_multiple_of(shape.heads) {
            candle_core::bail!("hidden size {h} does not split into {} heads", shape.heads);
        }
        if shape.type_vocab == 0 || shape.max_positions == 0 {
            candle_core::bail!("the config gives {} token types and {} positions; BERT needs at least one of each", shape.type_vocab, shape.max_positions);
        }
        let flat = |name: &str, rows: usize| -> candle_core::Result<Vec<f32>> { vb.get((rows, h), name)?.flatten_all()?.to_vec1::<f32>() };
        let mut layers = Vec::with_capacity(shape.layers);
        for i in 0..shape.layers {
            let l = vb.pp(format!("encoder.layer.{i}"));
            layers.push(Layer {
                qkv: Linear::load(&l, &["attention.self.query", "attention.self.key", "attention.self.value"], h, h)?,
                attn_out: Linear::load(&l, &["attention.output.dense"], h, h)?,
                attn_norm: LayerNorm::load(&l, "attention.output.LayerNorm", h)?,
                intermediate: Linear::load(&l, &["intermediate.dense"], h, shape.intermediate)?,
                output: Linear::load(&l, &["output.dense"], shape.intermediate, h)?,
                out_norm: LayerNorm::load(&l, "output.LayerNorm", h)?,
            });
        }
        Ok(Self {
            shape,
            eps: eps as f32,
            word: flat("embeddings.word_embeddings.weight", shape.vocab)?,
            position: flat("embeddings.position_embeddings.weight", shape.max_positions)?,
            token_type: flat("embeddings.token_type_embeddings.weight", shape.type_vocab)?,
            embed_norm: LayerNorm::load(&vb, "embeddings.LayerNorm", h)?,
            layers,
        })
    }

    /// Mean-pooled, unit-length vectors for `texts` (token ids, each at
    /// most `max_positions` long), computed with `threads` threads of the
    /// current rayon pool.
    pub fn embed(&self, texts: &[&[u32]], threads: usize) -> Result<Vec<Vec<f32>>, String> {
        let h = self.shape.hidden;
        let mut starts = Vec::with_capacity(texts.len() + 1);
        let mut rows = 0usize;
        for (n, ids) in texts.iter().enumerate() {
            if ids.len() > self.shape.max_positions {
                return Err(format!("text {n} has {} tokens; the model reads at most {}", ids.len(), self.shape.max_positions));
            }
            if let Some(bad) = ids.iter().find(|&&id| id as usize >= self.shape.vocab) {
                return Err(format!("token id {bad} in text {n} is outside the vocabulary of {}", self.shape.vocab));
            }
            starts.push(rows);
            rows += ids.len();
        }
        starts.push(rows);

        // Embeddings: word + position + token type 0, then layer norm.
        let mut x = Vec::with_capacity(rows * h);
        for ids in texts {
            for (p, &id) in ids.iter().enumerate() {
                let (w, pos, t) = (&self.word[id as usize * h..][..h], &self.position[p * h..][..h], &self.token_type[..h]);
                x.extend(w.iter().zip(pos).zip(t).map(|((a, b), c)| a + b + c));
            }
        }
        kernels::layer_norm_rows(&mut x, None, &self.embed_norm.gamma, &self.embed_norm.beta, self.eps, threads);

        // Buffers reused by every layer.
        let mut ctx = vec![0f32; rows * h];
        let (mut qkv, mut attn, mut inter, mut out) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for layer in &self.layers {
            layer.qkv.forward(&x, rows, threads, &mut qkv);
            self.attention(&qkv, &starts, &mut ctx, threads);
            layer.attn_out.forward(&ctx, rows, threads, &mut attn);
            kernels::layer_norm_rows(&mut attn, Some(&x), &layer.attn_norm.gamma, &layer.attn_norm.beta, self.eps, threads);
            layer.intermediate.forward(&attn, rows, threads, &mut inter);
            kernels::gelu(&mut inter, threads);
            layer.output.forward(&inter, rows, threads, &mut out);
            kernels::layer_norm_rows(&mut out, Some(&attn), &layer.out_norm.gamma, &layer.out_norm.beta, self.eps, threads);
            std::mem::swap(&mut x, &mut out);
        }

        // Mean over each text's tokens, then unit length.
        Ok(starts
            .windows(2)
            .map(|w| {
                let mut mean = vec![0f32; h];
                for row in x[w[0] * h..w[1] * h].chunks_exact(h) {
                    mean.iter_mut().zip(row).for_each(|(m, v)| *m += v);
                }
                let count = (w[1] - w[0]).max(1) as f32;
                mean.iter_mut().for_each(|m| *m /= count);
                let norm = mean.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
                mean.iter_mut().for_each(|m| *m /= norm);
                mean
            })
            .collect())
    }

    /// Self-attention of every text on its own rows of `qkv` (rows of
    /// query | key | value), written to `ctx`.
    fn attention(&self, qkv: &[f32], starts: &[usize], ctx: &mut [f32], threads: usize) {
        let h = self.shape.hidden;
        let heads = self.shape.heads;
        let d = h / heads;
        let scale = 1.0 / (d as f32).sqrt();
        // One job per text: its rows of ctx are its own.
        let mut jobs: Vec<(usize, &mut [f32])> = Vec::with_capacity(starts.len());
        let mut rest = ctx;
        for w in starts.windows(2) {
            let (mine, tail) = rest.split_at_mut((w[1] - w[0]) * h);
            jobs.push((w[0], mine));
            rest = tail;
        }
        let run = |(start, out): (usize, &mut [f32])| {
            let len = out.len() / h;
            let rows = &qkv[start * 3 * h..(start + len) * 3 * h];
            // One pass over the text's rows in memory order (they outgrow
            // L2 for long texts) takes every head's queries, and its keys
            // and values packed for the two products.
            let mut queries = vec![0f32; heads * len * d];
            let mut keys: Vec<Packed> = (0..heads).map(|_| Packed::zeroed(d, len)).collect();
            let mut values: Vec<Packed> = (0..heads).map(|_| Packed::zeroed(len, d)).collect();
            for (j, row) in rows.chunks_exact(3 * h).enumerate() {
                for head in 0..heads {
                    let at = head * d;
                    queries[(head * len + j) * d..][..d].copy_from_slice(&row[at..at + d]);
                    keys[head].set_column(j, &row[h + at..h + at + d]);
                    values[head].set_row(j, &row[2 * h + at..2 * h + at + d]);
                }
            }
            let mut scores = vec![0f32; len * len];
            out.fill(0.0);
            for head in 0..heads {
                scores.fill(0.0);
                kernels::matmul(&queries[head * len * d..], d, len, &keys[head], &mut scores, len, 1);
                kernels::softmax_rows(&mut scores, len, len, scale);
                kernels::matmul(&scores, len, len, &values[head], &mut out[head * d..], h, 1);
            }
        };
        if threads > 1 {
            jobs.into_par_iter().for_each(run);
        } else {
            jobs.into_iter().for_each(run);
        }
    }
}
