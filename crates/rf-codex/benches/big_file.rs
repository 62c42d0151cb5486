//! Where the time goes when one large text file is imported: splitting into
//! passages (blockwise, as the Codex does, against text-splitter over the
//! whole text, as it did before), embedding with the real model, and writing
//! the passages with their FTS5 rows. Each figure is printed with its share.
//!
//! `RAPTORFLOW_MODELS_DIR=... cargo bench -p rf-codex --bench big_file -- [MB] [--whole-text-mb N] [--embed-sample N]`
//! (defaults: an 8 MB generated text; the old whole-text split is timed on
//! N MB, default 1, since it grows with the square of the length; 256
//! passages are embedded to measure the model's rate).

#![allow(clippy::print_stdout)]

use std::{
    path::Path,
    sync::Arc,
    time::{Duration, Instant},
};

use rf_ai::{AiError, Embedder};
use rf_codex::{ChunkOptions, Codex, SourceText, chunk_text};
use rf_domain::{SourceId, WorkspaceId};
use rf_local::EmbedderOptions;
use rf_models::{Manifest, ModelKind, ModelStore};
use text_splitter::{ChunkConfig, TextSplitter};

/// Prose-like text: lines of 60-100 characters, paragraphs of 2-8 lines,
/// words from a fixed list, deterministic.
fn generated_text(bytes: usize) -> String {
    const WORDS: &[&str] = &[
        "the",
        "bike",
        "folds",
        "in",
        "ten",
        "seconds",
        "and",
        "slides",
        "under",
        "a",
        "desk",
        "riders",
        "commute",
        "across",
        "city",
        "battery",
        "range",
        "fifty",
        "miles",
        "belt",
        "drive",
        "quiet",
        "warranty",
        "dealer",
        "launch",
        "campaign",
        "apartment",
        "garage",
        "weather",
        "winter",
        "tyres",
        "lights",
        "customers",
        "review",
        "price",
        "offer",
        "brand",
        "voice",
        "kestrel",
        "commuter",
    ];
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    let mut text = String::with_capacity(bytes + 128);
    while text.len() < bytes {
        for _ in 0..2 + next(7) {
            let width = 60 + next(41);
            let start = text.len();
            while text.len() - start < width {
                text.push_str(WORDS[next(WORDS.len())]);
                text.push(if next(12) == 0 { '.' } else { ' ' });
            }
            text.push('\n');
        }
        text.push('\n');
    }
    text
}

fn real_embedder() -> Arc<dyn Embedder> {
    let dir = std::env::var_os("RAPTORFLOW_MODELS_DIR").expect("set RAPTORFLOW_MODELS_DIR to the model store (scripts/test.sh fetches the models)");
    let store = ModelStore::open(Path::new(&dir), Manifest::bundled().unwrap()).unwrap();
    let installed = store.installed_of_kind(None, ModelKind::Embedding).unwrap();
    Arc::new(rf_local::BertEmbedder::load(&installed, EmbedderOptions { threads: 1 }).unwrap())
}

/// The real tokenizer for sizes, constant vectors: times everything but the model.
struct NoModel(Arc<dyn Embedder>);

impl Embedder for NoModel {
    fn model_id(&self) -> &rf_ai::ModelId {
        static ID: std::sync::LazyLock<rf_ai::ModelId> = std::sync::LazyLock::new(|| "no-model".parse().expect("a valid model id"));
        &ID
    }
    fn dimensions(&self) -> usize {
        self.0.dimensions()
    }
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, AiError> {
        Ok(texts.iter().map(|_| vec![1.0 / (self.dimensions() as f32).sqrt(); self.dimensions()]).collect())
    }
    fn count_tokens(&self, text: &str) -> Result<usize, AiError> {
        self.0.count_tokens(text)
    }
    fn max_tokens(&self) -> usize {
        self.0.max_tokens()
    }
}

struct Sizer<'a>(&'a dyn Embedder);

impl text_splitter::TryChunkSizer for Sizer<'_> {
    type Error = AiError;
    fn try_size(&self, chunk: &str) -> Result<usize, AiError> {
        self.0.count_tokens(chunk)
    }
}

/// What `chunk_text` did before blocks: text-splitter over the whole text.
fn whole_text_split(text: &str, embedder: &dyn Embedder) -> usize {
    let options = ChunkOptions::default();
    let config = ChunkConfig::new(options.desired_tokens..=options.max_tokens).with_overlap(options.overlap_tokens).unwrap().with_sizer(Sizer(embedder));
    TextSplitter::new(config).try_chunk_char_indices(text).try_fold(0, |n, piece| piece.map(|_| n + 1)).unwrap()
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

fn arg_after(args: &[String], flag: &str) -> Option<f64> {
    args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let megabytes = args.first().and_then(|a| a.parse::<f64>().ok()).unwrap_or(8.0);
    let whole_mb = arg_after(&args, "--whole-text-mb").unwrap_or(1.0);
    let embed_sample = arg_after(&args, "--embed-sample").unwrap_or(256.0) as usize;
    let embedder = real_embedder();
    let text = generated_text((megabytes * 1024.0 * 1024.0) as usize);
    println!("text: {:.1} MB, {} lines", text.len() as f64 / 1048576.0, text.lines().count());

    let started = Instant::now();
    let spans = chunk_text(&text, "text/plain", embedder.as_ref(), ChunkOptions::default()).unwrap();
    let split = started.elapsed();
    println!("split blockwise (now): {} passages in {}", spans.len(), secs(split));

    for mb in [whole_mb / 2.0, whole_mb] {
        let mut end = ((mb * 1024.0 * 1024.0) as usize).min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let sample = &text[..end];
        let started = Instant::now();
        let n = whole_text_split(sample, embedder.as_ref());
        let took = started.elapsed();
        let blockwise = Instant::now();
        let m = chunk_text(sample, "text/plain", embedder.as_ref(), ChunkOptions::default()).unwrap().len();
        let blockwise = blockwise.elapsed();
        println!(
            "split {mb:.2} MB: whole text (before) {n} passages in {}; blockwise {m} passages in {}; ratio {:.1}",
            secs(took),
            secs(blockwise),
            took.as_secs_f64() / blockwise.as_secs_f64()
        );
    }

    let inputs: Vec<&str> = spans.iter().take(embed_sample).map(|s| s.text.as_str()).collect();
    let started = Instant::now();
    for batch in inputs.chunks(16) {
        embedder.embed(batch).unwrap();
    }
    let embed = started.elapsed();
    let rate = inputs.len() as f64 / embed.as_secs_f64();
    let projected = spans.len() as f64 / rate;
    println!("embed (1 thread, batches of 16): {rate:.1} passages/s on {} passages; all {} would take {projected:.0} s", inputs.len(), spans.len());

    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let index = runtime.block_on(async {
        let codex = Codex::open(&dir.path().join("codex.sqlite3")).await.unwrap();
        let source = SourceText {
            id: SourceId::new(),
            path: "big.txt".into(),
            title: "big".into(),
            media_type: "text/plain".into(),
            content_hash: "x".into(),
            text: text.clone(),
        };
        let started = Instant::now();
        codex.index_source(WorkspaceId::new(), &source, Arc::new(NoModel(embedder.clone())), &mut |_| {}).await.unwrap();
        started.elapsed()
    });
    println!("index_source without the model (split + hashes + SQLite/FTS5): {}", secs(index));
    println!(
        "projected import of the whole file now: {:.0} s, of which embedding {:.0}%",
        index.as_secs_f64() + projected,
        100.0 * projected / (index.as_secs_f64() + projected)
    );
}
