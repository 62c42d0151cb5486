//! Local LLM speed: SmolLM2-135M-Instruct through candle (weights converted
//! to Q8_0 at first load) side by side with llama.cpp on the same GGUF in
//! the same run (the anchor script `tests/data/anchor-scripts/llamacpp_bench.mjs`,
//! npm node-llama-cpp, prebuilt). Same prompts as the anchor: prefill of
//! two ~120-token chunks, then a chat prompt decoded greedily for up to 65
//! tokens.
//!
//! Run: `RAPTORFLOW_MODELS_DIR=... cargo bench -p rf-ai --bench llm_bench`.
//! `LLM_BENCH_ANCHOR_DIR` points at a directory with `anchor-scripts/` holding
//! the script and an `npm install node-llama-cpp@3.22.1`
//! (`scripts/bench-llama-anchor.sh` makes it); unset, the anchor is skipped.
//! `LLM_BENCH_THREADS` (default `1,2`) lists thread counts; each runs in a
//! fresh process with `CANDLE_NUM_THREADS` set, since candle sizes its pool
//! once per process.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::{path::PathBuf, sync::atomic::AtomicBool, time::Instant};

// This benchmark reads only the speed figures of the anchor.
#[allow(dead_code)]
mod llm_support;

use rf_ai::{ChatMessage, GenerateParams};
use rf_local::{LlmOptions, LocalLlm};
use rf_models::{Manifest, ModelStore};

const ASK: &str = "Write a one-sentence tagline for a locally roasted coffee brand.";

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data").join(name)
}

/// One thread count, in this process: prints "prefill decode first_token_ms load_ms".
fn measure(threads: usize) {
    let models = PathBuf::from(std::env::var_os("RAPTORFLOW_MODELS_DIR").expect("set RAPTORFLOW_MODELS_DIR"));
    let store = ModelStore::open(&models, Manifest::bundled().unwrap()).unwrap();
    let installed = store.installed("smollm2-135m-instruct-q4_1").unwrap();
    // First load converts (and caches) the Q8_0 file; time a second load.
    drop(LocalLlm::load(&store, &installed, LlmOptions { threads, requantize: true, ..LlmOptions::default() }).unwrap());
    let started = Instant::now();
    let mut llm = LocalLlm::load(&store, &installed, LlmOptions { threads, requantize: true, ..LlmOptions::default() }).unwrap();
    let load_ms = started.elapsed().as_secs_f64() * 1000.0;

    let corpus: serde_json::Value = serde_json::from_slice(&std::fs::read(data("corpus.json")).unwrap()).unwrap();
    let chunks: Vec<&str> = corpus["chunks"].as_array().unwrap().iter().take(2).map(|c| c.as_str().unwrap()).collect();
    let long = chunks.join(" ");
    let never = AtomicBool::new(false);
    // Prefill: the prompt and one token.
    let prefill = llm.generate(&long, &GenerateParams { max_tokens: 1, ..GenerateParams::default() }, &never, &mut |_| {}).unwrap();
    let system = ChatMessage::new("system", "You are a helpful marketing assistant.");
    let prompt = llm.chat_prompt(&[system, ChatMessage::new("user", ASK)]).unwrap();
    let params = GenerateParams { max_tokens: 65, temperature: 0.0, ..GenerateParams::default() };
    let decode = llm.generate(&prompt, &params, &never, &mut |_| {}).unwrap();
    println!(
        "RESULT {} {} {} {} {} {}",
        prefill.prefill_tokens_per_s, decode.decode_tokens_per_s, decode.first_token_ms, load_ms, decode.generated_tokens, prefill.prompt_tokens
    );
    eprintln!("output: {:?}", decode.text);
}

fn main() {
    let threads_list = match llm_support::mode() {
        llm_support::Mode::Nothing => return,
        llm_support::Mode::Measure(threads) => return measure(threads),
        llm_support::Mode::Table => llm_support::thread_counts(),
    };
    let models = PathBuf::from(std::env::var_os("RAPTORFLOW_MODELS_DIR").expect("set RAPTORFLOW_MODELS_DIR"));
    let store = ModelStore::open(&models, Manifest::bundled().unwrap()).unwrap();
    let gguf = store.installed("smollm2-135m-instruct-q4_1").unwrap().path("SmolLM2-135M-Instruct.Q4_1.gguf").unwrap().to_owned();
    println!("| measurement | threads | candle, Q8_0 (ours) | llama.cpp, Q4_1 (anchor) | ratio (ours / anchor) |");
    println!("|---|---|---|---|---|");
    for threads in threads_list {
        let figures = llm_support::measure_in_fresh_process(threads);
        let theirs = llm_support::anchor(&gguf, "smollm", threads, None);
        let row = |what: &str, ours: f64, theirs: Option<f64>, unit: &str| {
            let (text, ratio) = llm_support::against(ours, theirs, unit);
            println!("| {what} | {threads} | {ours:.1} {unit} | {text} | {ratio} |");
        };
        row(&format!("prefill ({} tokens)", figures[5]), figures[0], theirs.as_ref().map(|t| t.prefill), "tok/s");
        row(&format!("decode (greedy, {} tokens)", figures[4]), figures[1], theirs.as_ref().map(|t| t.decode), "tok/s");
        row("time to first token (chat prompt)", figures[2], theirs.as_ref().map(|t| t.first_token_ms), "ms");
        println!("| load (converted file cached) | {threads} | {:.0} ms | – | – |", figures[3]);
    }
}
