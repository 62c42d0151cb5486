//! Embedding throughput and latency of our BERT embedder, side by side
//! with ONNX Runtime on the same model in the same run (the anchor script
//! `tests/data/anchor-scripts/onnx_minilm.py`), on `tests/data/corpus.json`.
//!
//! Run: `RAPTORFLOW_MODELS_DIR=... cargo bench -p rf-ai --bench embed_bench`
//! (the model must be installed: `raptorflow models fetch all-minilm-l6-v2`).
//! The anchor needs Python packages; set `EMBED_BENCH_PYTHON` to a Python
//! that has onnx, onnxruntime, safetensors, tokenizers and numpy
//! (`scripts/bench-venv.sh` makes one); `EMBED_BENCH_SKIP_ANCHOR=1` skips it.
//! `EMBED_BENCH_THREADS` (default `1,2`) lists the thread counts;
//! `EMBED_BENCH_ROUNDS` (default 3) the rounds of ours-then-anchor, whose
//! medians the table reports (this box drifts by 15% within minutes).

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::{path::PathBuf, process::Command, time::Instant};

use rf_ai::Embedder;
use rf_local::{BertEmbedder, EmbedderOptions};
use rf_models::{Manifest, ModelStore};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data").join(name)
}

/// Tokens per second over `texts` in batches of `batch`.
fn throughput(embedder: &BertEmbedder, texts: &[&str], batch: usize, tokens: usize) -> f64 {
    embedder.embed(&texts[..batch.min(texts.len())]).unwrap(); // warm up
    let started = Instant::now();
    for chunk in texts.chunks(batch) {
        embedder.embed(chunk).unwrap();
    }
    tokens as f64 / started.elapsed().as_secs_f64()
}

/// Mean milliseconds per text embedded alone (the anchor reports a mean).
fn latency_ms(embedder: &BertEmbedder, texts: &[&str]) -> f64 {
    embedder.embed(&texts[..1]).unwrap(); // warm up
    let started = Instant::now();
    for text in texts {
        embedder.embed(&[text]).unwrap();
    }
    started.elapsed().as_secs_f64() * 1000.0 / texts.len() as f64
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 { values[mid] } else { (values[mid - 1] + values[mid]) / 2.0 }
}

/// Runs the ONNX Runtime anchor; returns its printed lines.
fn anchor(model_dir: &std::path::Path, threads: usize) -> Option<Vec<String>> {
    if std::env::var_os("EMBED_BENCH_SKIP_ANCHOR").is_some() {
        return None;
    }
    let python = std::env::var("EMBED_BENCH_PYTHON").unwrap_or_else(|_| "python3".into());
    let output = Command::new(&python)
        .arg(data("anchor-scripts/onnx_minilm.py"))
        .arg(model_dir)
        .arg(threads.to_string())
        .env("TMPDIR", std::env::temp_dir())
        .output()
        .ok()?;
    if !output.status.success() {
        eprintln!("the ONNX anchor failed ({python}): {}", String::from_utf8_lossy(&output.stderr).lines().last().unwrap_or(""));
        return None;
    }
    Some(String::from_utf8_lossy(&output.stdout).lines().map(str::to_owned).collect())
}

/// The figure before `unit` on the anchor's line for `label`, e.g. "chunks bs16".
fn anchor_figure(lines: &[String], label: &str, unit: &str) -> Option<f64> {
    let line = lines.iter().find(|l| l.contains(label))?;
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = words.iter().position(|w| *w == unit)?;
    words.get(at.checked_sub(1)?)?.parse().ok()
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return;
    }
    let models =
        std::env::var_os("RAPTORFLOW_MODELS_DIR").map(PathBuf::from).expect("set RAPTORFLOW_MODELS_DIR to a directory with all-minilm-l6-v2 installed");
    let store = ModelStore::open(&models, Manifest::bundled().unwrap()).unwrap();
    let installed = store.installed("all-minilm-l6-v2").unwrap();
    // The anchor script wants the files under their own names.
    let named = tempfile::tempdir().unwrap();
    for name in ["model.safetensors", "tokenizer.json", "config.json"] {
        std::os::unix::fs::symlink(installed.path(name).unwrap(), named.path().join(name)).unwrap();
    }
    let corpus: serde_json::Value = serde_json::from_slice(&std::fs::read(data("corpus.json")).unwrap()).unwrap();
    let list = |key: &str| -> Vec<String> { corpus[key].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_owned()).collect() };
    let (short, chunks) = (list("short"), list("chunks"));
    let short: Vec<&str> = short.iter().map(String::as_str).collect();
    let chunks: Vec<&str> = chunks.iter().map(String::as_str).collect();
    // Count real tokens: the shipped tokenizer pads every text to 128.
    let mut tokenizer = tokenizers::Tokenizer::from_file(installed.path("tokenizer.json").unwrap()).unwrap();
    tokenizer.with_padding(None);
    tokenizer.with_truncation(None).unwrap();
    let count = |texts: &[&str]| -> usize { texts.iter().map(|t| tokenizer.encode(*t, true).unwrap().get_ids().len().min(BertEmbedder::MAX_TOKENS)).sum() };
    let (short_tokens, chunk_tokens) = (count(&short), count(&chunks));
    println!(
        "corpus: {} short texts ({:.0} tokens each), {} chunks ({:.0} tokens each)",
        short.len(),
        short_tokens as f64 / short.len() as f64,
        chunks.len(),
        chunk_tokens as f64 / chunks.len() as f64
    );
    let threads_list: Vec<usize> =
        std::env::var("EMBED_BENCH_THREADS").map(|v| v.split(',').map(|n| n.trim().parse().unwrap()).collect()).unwrap_or_else(|_| vec![1, 2]);
    // Rounds of ours then the anchor, back to back, so that both sides see
    // the same load; the table gives medians over the rounds.
    let rounds: usize = std::env::var("EMBED_BENCH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(3).max(1);
    println!("(medians of {rounds} rounds, each ours then the anchor; ratios are per round, then the median)");
    println!();
    println!("| measurement | threads | ours | ONNX Runtime (anchor) | ratio (ours / anchor) | ratios by round |");
    println!("|---|---|---|---|---|---|");
    for threads in threads_list {
        let embedder = BertEmbedder::load(&installed, EmbedderOptions { threads }).unwrap();
        // [measurement][round] for ours and the anchor.
        let mut ours = vec![Vec::new(); 3];
        let mut theirs: Vec<Vec<f64>> = vec![Vec::new(); 3];
        for _ in 0..rounds {
            ours[0].push(throughput(&embedder, &chunks, 16, chunk_tokens));
            ours[1].push(throughput(&embedder, &short, 32, short_tokens));
            ours[2].push(latency_ms(&embedder, &short[..64]));
            let lines = anchor(named.path(), threads).unwrap_or_default();
            let figures = [
                anchor_figure(&lines, "chunks bs16", "tok/s"),
                anchor_figure(&lines, "short bs32", "tok/s"),
                // The anchor prints texts/s at batch 1: a mean latency.
                anchor_figure(&lines, "short bs1", "texts/s").map(|rate| 1000.0 / rate),
            ];
            for (list, figure) in theirs.iter_mut().zip(figures) {
                list.extend(figure);
            }
        }
        let names = ["~120-token chunks, batch 16", "short sentences, batch 32", "batch-1 query latency (mean)"];
        for (i, name) in names.iter().enumerate() {
            let unit = if i == 2 { "ms" } else { "tok/s" };
            let show = |v: f64| if i == 2 { format!("{v:.1} {unit}") } else { format!("{v:.0} {unit}") };
            let ours_median = median(ours[i].clone());
            if theirs[i].len() == rounds {
                let ratios: Vec<f64> = ours[i].iter().zip(&theirs[i]).map(|(a, b)| a / b).collect();
                let by_round: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
                println!(
                    "| {name} | {threads} | {} | {} | {:.2} | {} |",
                    show(ours_median),
                    show(median(theirs[i].clone())),
                    median(ratios),
                    by_round.join(" / ")
                );
            } else {
                println!("| {name} | {threads} | {} | not run | – | – |", show(ours_median));
            }
        }
    }
}
