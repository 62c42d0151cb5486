//! Gemma 3 270M (Q4_K_M GGUF, Q5_0 tensors converted to Q8_0 once): load
//! time and peak memory, then prefill and decode speed, next to llama.cpp
//! loading and running the same file in the same run (the anchor script
//! `tests/data/anchor-scripts/llamacpp_bench.mjs ... gemma`, npm
//! node-llama-cpp). Goal of issue 4: load ≤ 2 s, peak RSS ≤ 1.2 GB.
//!
//! Run: `RAPTORFLOW_MODELS_DIR=... LLM_BENCH_ANCHOR_DIR=$(scripts/bench-llama-anchor.sh)
//! cargo bench -p rf-ai --bench gemma_bench`. Without `LLM_BENCH_ANCHOR_DIR`
//! the anchor is skipped. `LLM_BENCH_THREADS` (default `1,2`) lists thread
//! counts; every measurement runs in a fresh process, so that its peak RSS
//! is its own.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::{path::PathBuf, sync::atomic::AtomicBool, time::Instant};

mod llm_support;

use rf_ai::GenerateParams;
use rf_local::{LlmOptions, LocalLlm};
use rf_models::{Manifest, ModelStore};

const ID: &str = "gemma-3-270m-q4_k_m";
/// The context the model is loaded with (what RoPE tables and cache cover).
const CONTEXT: usize = 8192;

fn store() -> ModelStore {
    let models = PathBuf::from(std::env::var_os("RAPTORFLOW_MODELS_DIR").expect("set RAPTORFLOW_MODELS_DIR"));
    ModelStore::open(&models, Manifest::bundled().unwrap()).unwrap()
}

/// This process's peak resident set, in MiB.
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status.lines().find_map(|l| l.strip_prefix("VmHWM:")).and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok()).map_or(f64::NAN, |kb| kb / 1024.0)
}

/// One thread count, in this process: prints
/// "RESULT load_ms rss_after_load_mib prefill_tok_s decode_tok_s first_token_ms peak_rss_mib prompt_tokens".
fn measure(threads: usize) {
    let store = store();
    let installed = store.installed(ID).unwrap();
    let options = LlmOptions { context: Some(CONTEXT), threads, requantize: true };
    let started = Instant::now();
    let mut llm = LocalLlm::load(&store, &installed, options).unwrap();
    let load_ms = started.elapsed().as_secs_f64() * 1000.0;
    let rss_loaded = peak_rss_mib();

    let corpus: serde_json::Value =
        serde_json::from_slice(&std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/corpus.json")).unwrap()).unwrap();
    let long: Vec<&str> = corpus["chunks"].as_array().unwrap().iter().take(2).map(|c| c.as_str().unwrap()).collect();
    let never = AtomicBool::new(false);
    let prefill = llm.generate(&long.join(" "), &GenerateParams { max_tokens: 1, ..GenerateParams::default() }, &never, &mut |_| {}).unwrap();
    let prompt = "<start_of_turn>user\nWrite a one-sentence tagline for a locally roasted coffee brand.<end_of_turn>\n<start_of_turn>model\n";
    let decode = llm.generate(prompt, &GenerateParams { max_tokens: 65, temperature: 0.0, ..GenerateParams::default() }, &never, &mut |_| {}).unwrap();
    println!(
        "RESULT {load_ms} {rss_loaded} {} {} {} {} {}",
        prefill.prefill_tokens_per_s,
        decode.decode_tokens_per_s,
        decode.first_token_ms,
        peak_rss_mib(),
        prefill.prompt_tokens
    );
    eprintln!("output: {:?}", decode.text);
}

fn main() {
    let threads_list = match llm_support::mode() {
        llm_support::Mode::Nothing => return,
        llm_support::Mode::Measure(threads) => return measure(threads),
        llm_support::Mode::Table => llm_support::thread_counts(),
    };
    let store = store();
    let installed = store.installed(ID).unwrap_or_else(|err| panic!("{err}"));
    let gguf = installed.path("gemma-3-270m-q4_k_m.gguf").unwrap().to_owned();
    // The first load converts the Q5_0 tensors and caches the result; the
    // measured loads read the cached conversion, as every later start does.
    let started = Instant::now();
    drop(LocalLlm::load(&store, &installed, LlmOptions { context: Some(CONTEXT), threads: 1, requantize: true }).unwrap());
    println!("warm-up load (converts on the first run ever): {:.0} ms\n", started.elapsed().as_secs_f64() * 1000.0);

    println!("| measurement | threads | candle (ours) | llama.cpp (anchor) | ratio (ours / anchor) | goal |");
    println!("|---|---|---|---|---|---|");
    for threads in threads_list {
        let theirs = llm_support::anchor(&gguf, "gemma", threads, Some(CONTEXT));
        let f = llm_support::measure_in_fresh_process(threads);
        let row = |what: &str, ours: f64, theirs: Option<f64>, unit: &str, goal: &str| {
            let (text, ratio) = llm_support::against(ours, theirs, unit);
            println!("| {what} | {threads} | {ours:.1} {unit} | {text} | {ratio} | {goal} |");
        };
        let theirs = theirs.as_ref();
        row(&format!("load (context {CONTEXT})"), f[0], theirs.map(|t| t.load_ms), "ms", "≤ 2000 ms");
        row("peak RSS after load", f[1], None, "MiB", "≤ 1229 MiB");
        row("peak RSS after prefill + decode", f[5], theirs.map(|t| t.peak_rss_mib), "MiB", "≤ 1229 MiB");
        row(&format!("prefill ({} tokens)", f[6]), f[2], theirs.map(|t| t.prefill), "tok/s", "–");
        row("decode (greedy)", f[3], theirs.map(|t| t.decode), "tok/s", "–");
        row("time to first token (chat prompt)", f[4], theirs.map(|t| t.first_token_ms), "ms", "–");
    }
}
