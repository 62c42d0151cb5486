//! The Codex's speed, each figure beside an anchor measured in the same run.
//!
//! 1. Ingest throughput on 1 thread: the fixture corpus (tests/fixtures/codex)
//!    split, embedded with the real all-MiniLM-L6-v2 and written to the index,
//!    in passages per second; anchor: embedding the same passages alone.
//! 2. Search latency at 10k and 100k passages (synthetic unit vectors and
//!    text, so that no model is needed to fill the index): the search part of
//!    a hybrid query (vector scan + FTS5 BM25 + fusion + reading passages;
//!    the text follows Zipf's law so that query words match a few percent of
//!    passages),
//!    vector-only and keyword-only; anchors: reading the whole matrix once
//!    (the memory-bandwidth floor), a naive scan (iterator dot + full sort),
//!    and sqlite-vec's KNN over the same vectors (Python, sqlite-vec 0.1.9, in
//!    a venv under ~/.cache/raptorflow/bench-venv that this makes if missing).
//!    The query's embedding (batch 1, real model) is timed separately.
//!
//! `RAPTORFLOW_MODELS_DIR=... cargo bench -p rf-codex --bench codex_bench` (`-- --quick` for fewer rounds,
//! `-- --search-only` to skip the ingest part).

#![allow(clippy::print_stdout)]

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant},
};

use rf_ai::{AiError, Embedder};
use rf_codex::{Codex, SearchMode, SearchOptions, SourceText, extract_file, vectors::VectorIndex};
use rf_domain::{SourceId, WorkspaceId};
use rf_local::EmbedderOptions;
use rf_models::{Manifest, ModelKind, ModelStore};

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// Deterministic pseudo-random numbers (splitmix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn unit_vector(&mut self, dims: usize) -> Vec<f32> {
        let v: Vec<f32> = (0..dims).map(|_| (self.next() >> 40) as f32 / (1u64 << 24) as f32 - 0.5).collect();
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.into_iter().map(|x| x / norm).collect()
    }
}

/// An embedder that hashes text to a vector and counts words as tokens:
/// fills an index with 100k passages in seconds.
struct SyntheticEmbedder;

impl Embedder for SyntheticEmbedder {
    fn model_id(&self) -> &rf_ai::ModelId {
        static ID: std::sync::LazyLock<rf_ai::ModelId> = std::sync::LazyLock::new(|| "synthetic-384".parse().expect("a valid model id"));
        &ID
    }
    fn dimensions(&self) -> usize {
        384
    }
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, AiError> {
        Ok(texts
            .iter()
            .map(|t| {
                let seed = t.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
                Rng(seed).unit_vector(384)
            })
            .collect())
    }
    fn count_tokens(&self, text: &str) -> Result<usize, AiError> {
        Ok(text.split_whitespace().count())
    }
    fn max_tokens(&self) -> usize {
        256
    }
}

fn real_embedder() -> Arc<dyn Embedder> {
    let dir = std::env::var_os("RAPTORFLOW_MODELS_DIR").expect("set RAPTORFLOW_MODELS_DIR to the model store (scripts/test.sh fetches the models)");
    let store = ModelStore::open(Path::new(&dir), Manifest::bundled().unwrap()).unwrap();
    let installed = store.installed_of_kind(None, ModelKind::Embedding).unwrap();
    Arc::new(rf_local::BertEmbedder::load(&installed, EmbedderOptions { threads: 1 }).unwrap())
}

fn corpus_files() -> Vec<PathBuf> {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/codex/corpus");
    rf_codex::collect_files(&[corpus], &rf_codex::WalkOptions::default())
        .into_iter()
        .filter(|entry| entry.found == rf_codex::Found::File)
        .map(|entry| entry.path)
        .collect()
}

async fn ingest(dir: &Path, embedder: Arc<dyn Embedder>) {
    let files = corpus_files();
    let mut sources = Vec::new();
    for path in &files {
        let extracted = extract_file(path, &rf_codex::Limits::default()).unwrap();
        sources.push(SourceText {
            id: SourceId::new(),
            path: path.display().to_string(),
            title: extracted.title,
            media_type: extracted.media_type.as_str().to_owned(),
            content_hash: extracted.content_hash,
            text: extracted.text,
        });
    }
    let codex = Codex::open(&dir.join("ingest.sqlite3")).await.unwrap();
    let workspace = WorkspaceId::new();
    let started = Instant::now();
    let mut n_chunks = 0;
    for source in &sources {
        n_chunks += codex.index_source(workspace, source, embedder.clone(), &mut |_| {}).await.unwrap().n_chunks;
    }
    let ingest = started.elapsed();

    // Anchor: the same passages through the embedder alone, batches of 16.
    let texts: Vec<String> = codex.passage_inputs(workspace).await.unwrap();
    let started = Instant::now();
    for batch in texts.chunks(16) {
        let refs: Vec<&str> = batch.iter().map(String::as_str).collect();
        embedder.embed(&refs).unwrap();
    }
    let embed_only = started.elapsed();
    let rate = n_chunks as f64 / ingest.as_secs_f64();
    let anchor_rate = texts.len() as f64 / embed_only.as_secs_f64();
    println!(
        "ingest, 1 thread: {} files, {n_chunks} passages in {:.1} s = {rate:.1} passages/s; embedding alone {anchor_rate:.1} passages/s; ratio {:.2}",
        files.len(),
        ingest.as_secs_f64(),
        rate / anchor_rate
    );
    codex.close().await;
}

const WORDS: &[&str] = &[
    "bike",
    "battery",
    "range",
    "commuter",
    "cargo",
    "fold",
    "warranty",
    "service",
    "van",
    "portland",
    "seattle",
    "denver",
    "kids",
    "school",
    "campaign",
    "email",
    "reels",
    "budget",
    "ctr",
    "roas",
    "review",
    "belt",
    "motor",
    "hub",
    "charge",
    "price",
    "financing",
    "fleet",
    "employer",
    "lease",
    "helmet",
    "light",
    "fender",
    "rain",
    "commute",
    "parent",
    "errand",
    "grocery",
    "hill",
    "torque",
    "brake",
    "tyre",
    "frame",
    "aluminium",
    "weight",
    "desk",
    "train",
    "apartment",
    "garage",
    "theft",
    "lock",
    "insurance",
    "test",
    "ride",
    "delivery",
];

/// Synthetic text with a word-frequency curve like real prose (Zipf's law
/// over a 20,000-word vocabulary): the brand's words sit at middling ranks,
/// so a query word matches a few percent of passages, as "battery" would in
/// a bike brand's documents.
fn word(rng: &mut Rng) -> String {
    const VOCABULARY: f64 = 20_000.0;
    let u = (rng.next() >> 11) as f64 / (1u64 << 53) as f64;
    let rank = (VOCABULARY.ln() * u).exp() as usize;
    match rank.checked_sub(200) {
        Some(i) if i < WORDS.len() => WORDS[i].to_owned(),
        _ => format!("w{rank}"),
    }
}

async fn fill(codex: &Codex, workspace: WorkspaceId, n_passages: usize, rng: &mut Rng) {
    let embedder: Arc<dyn Embedder> = Arc::new(SyntheticEmbedder);
    let per_source = 100;
    for s in 0..n_passages / per_source {
        let mut text = String::new();
        for _ in 0..per_source {
            for _ in 0..100 {
                text.push_str(&word(rng));
                text.push(' ');
            }
            text.push_str(&format!("code KC-{} ", rng.next() % 100_000));
            text.push_str("\n\n");
        }
        let source = SourceText {
            id: SourceId::new(),
            path: format!("/bench/{s}.txt"),
            title: format!("Document {s}"),
            media_type: "text/plain".into(),
            content_hash: format!("{s}"),
            text,
        };
        codex.index_source(workspace, &source, embedder.clone(), &mut |_| {}).await.unwrap();
    }
}

fn naive_nearest(matrix: &[f32], dims: usize, query: &[f32], k: usize) -> Vec<usize> {
    let mut scores: Vec<(usize, f32)> = matrix.chunks_exact(dims).map(|row| row.iter().zip(query).map(|(a, b)| a * b).sum()).enumerate().collect();
    scores.sort_by(|a, b| b.1.total_cmp(&a.1));
    scores.into_iter().take(k).map(|(i, _)| i).collect()
}

fn sqlite_vec_anchor(dir: &Path, matrix: &[f32], queries: &[Vec<f32>], rounds: usize) -> Result<(f64, Vec<usize>), String> {
    let venv = Path::new(&std::env::var("HOME").unwrap_or_default()).join(".cache/raptorflow/bench-venv");
    let python = venv.join("bin/python");
    let has_it = |python: &Path| std::process::Command::new(python).args(["-c", "import sqlite_vec, apsw"]).output().is_ok_and(|o| o.status.success());
    if !has_it(&python) {
        let made = std::process::Command::new("python3").arg("-m").arg("venv").arg(&venv).status().map_err(|e| e.to_string())?;
        let installed = std::process::Command::new(venv.join("bin/pip"))
            .args(["install", "-q", "sqlite-vec==0.1.9", "apsw==3.54.1.0"])
            .status()
            .map_err(|e| e.to_string())?;
        if !made.success() || !installed.success() || !has_it(&python) {
            return Err("could not install sqlite-vec into a venv".into());
        }
    }
    let bytes = |values: &[f32]| values.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>();
    std::fs::write(dir.join("vectors.f32"), bytes(matrix)).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("queries.f32"), bytes(&queries.concat())).map_err(|e| e.to_string())?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/bench/sqlite_vec_anchor.py");
    let out = std::process::Command::new(&python)
        .arg(script)
        .arg(dir.join("vectors.f32"))
        .arg(dir.join("queries.f32"))
        .arg("384")
        .arg(rounds.to_string())
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
    let top1 = value["top1"].as_array().map(|a| a.iter().filter_map(serde_json::Value::as_u64).map(|v| v as usize).collect()).unwrap_or_default();
    Ok((value["median_ms"].as_f64().unwrap_or(f64::NAN), top1))
}

async fn search_at(dir: &Path, n_passages: usize, rounds: usize, query_embed: Duration) {
    let mut rng = Rng(n_passages as u64);
    let codex = Codex::open(&dir.join(format!("search-{n_passages}.sqlite3"))).await.unwrap();
    let workspace = WorkspaceId::new();
    let started = Instant::now();
    fill(&codex, workspace, n_passages, &mut rng).await;
    let fill_time = started.elapsed();
    let embedder: Arc<dyn Embedder> = Arc::new(SyntheticEmbedder);
    let index: Arc<VectorIndex> = codex.vector_index(workspace, embedder.as_ref()).await.unwrap();
    assert_eq!(index.len(), n_passages);
    let queries: Vec<Vec<f32>> = (0..rounds.max(8)).map(|_| rng.unit_vector(384)).collect();
    let texts = ["battery range in the rain", "KC-4242 warranty service van", "fleet lease for employers", "kids school run cargo"];

    let time = |f: &mut dyn FnMut(usize)| -> Duration {
        let samples: Vec<Duration> = (0..rounds)
            .map(|r| {
                let started = Instant::now();
                f(r);
                started.elapsed()
            })
            .collect();
        median(samples)
    };
    // The floor: every vector read once, summed in 16 independent lanes
    // (a single running sum would measure the adder's latency, not memory).
    let matrix: Vec<f32> = {
        let mut m = Vec::with_capacity(n_passages * 384);
        for row in 0..n_passages {
            m.extend_from_slice(index.row(row));
        }
        m
    };
    let floor = time(&mut |_| {
        let mut lanes = [0.0f32; 16];
        for chunk in matrix.as_chunks::<16>().0 {
            for (lane, value) in lanes.iter_mut().zip(chunk) {
                *lane += value;
            }
        }
        std::hint::black_box(lanes);
    });
    let scan = time(&mut |r| {
        std::hint::black_box(index.nearest(&queries[r % queries.len()], 10));
    });
    let naive = time(&mut |r| {
        std::hint::black_box(naive_nearest(&matrix, 384, &queries[r % queries.len()], 10));
    });
    let mut hybrid_samples = Vec::new();
    let mut keyword_samples = Vec::new();
    let mut vector_samples = Vec::new();
    for r in 0..rounds {
        let text = texts[r % texts.len()];
        for (mode, samples) in
            [(SearchMode::Hybrid, &mut hybrid_samples), (SearchMode::Keyword, &mut keyword_samples), (SearchMode::Vector, &mut vector_samples)]
        {
            let started = Instant::now();
            let passages = codex.search(workspace, text, SearchOptions { mode, k: 10, ..SearchOptions::default() }, embedder.clone()).await.unwrap();
            samples.push(started.elapsed());
            assert!(!passages.is_empty());
        }
    }
    let (hybrid, keyword, vector) = (median(hybrid_samples), median(keyword_samples), median(vector_samples));
    println!(
        "search at {n_passages} passages (index filled in {:.0} s): hybrid {} (+ query embedding {} = {}), vector only {}, keyword only {}",
        fill_time.as_secs_f64(),
        ms(hybrid),
        ms(query_embed),
        ms(hybrid + query_embed),
        ms(vector),
        ms(keyword)
    );
    println!(
        "  vector scan {}: {:.2}x the memory floor ({}), naive scan {} ({:.2}x ours)",
        ms(scan),
        scan.as_secs_f64() / floor.as_secs_f64(),
        ms(floor),
        ms(naive),
        naive.as_secs_f64() / scan.as_secs_f64()
    );
    match sqlite_vec_anchor(dir, &matrix, &queries[..8], rounds) {
        Ok((sqlite_ms, top1)) => {
            let agree = top1.iter().zip(&queries).filter(|(row, q)| index.nearest(q, 1).first().map(|n| n.0) == index.id_of(**row)).count();
            println!(
                "  sqlite-vec KNN {sqlite_ms:.2} ms: ours is {:.2}x faster (same top hit on {agree} of {} queries)",
                sqlite_ms / (scan.as_secs_f64() * 1e3),
                top1.len()
            );
        }
        Err(err) => println!("  sqlite-vec anchor not measured: {err}"),
    }
    codex.close().await;
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let rounds = if quick { 9 } else { 31 };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    runtime.block_on(async {
        let embedder = real_embedder();
        let samples: Vec<Duration> = (0..rounds)
            .map(|_| {
                let started = Instant::now();
                embedder.embed(&["which disclaimer goes with speed claims"]).unwrap();
                started.elapsed()
            })
            .collect();
        let query_embed = median(samples);
        println!("query embedding, batch 1, 1 thread: {}", ms(query_embed));
        if !std::env::args().any(|a| a == "--search-only") {
            ingest(dir.path(), embedder).await;
        }
        for n in [10_000, 100_000] {
            search_at(dir.path(), n, rounds, query_embed).await;
        }
    });
}
