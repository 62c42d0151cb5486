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

use std::{path::PathBuf, process::Command, sync::atomic::AtomicBool, time::Instant};

use rf_ai::{ChatMessage, GenerateParams, LlmOptions, LocalLlm, Manifest, ModelStore};

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
        prefill.prefill_tokens_per_s,
        decode.decode_tokens_per_s,
        decode.first_token_ms,
        load_ms,
        decode.generated_tokens,
        prefill.prompt_tokens
    );
    eprintln!("output: {:?}", decode.text);
}

/// The anchor's (prefill tok/s, decode tok/s, first token ms).
fn anchor(dir: &std::path::Path, model: &std::path::Path, threads: usize) -> Option<(f64, f64, f64)> {
    let output = Command::new("node").arg(dir.join("anchor-scripts/llamacpp_bench.mjs")).arg(model).arg("smollm").env("TH", threads.to_string()).output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        eprintln!("the llama.cpp anchor failed: {}", String::from_utf8_lossy(&output.stderr).lines().last().unwrap_or(""));
        return None;
    }
    let after = |line: &str, key: &str| -> Option<f64> { line.split(key).nth(1)?.split_whitespace().next()?.trim_end_matches(|c: char| !c.is_ascii_digit()).parse().ok() };
    let prefill = text.lines().find(|l| l.contains("prefill")).and_then(|l| after(l, "tok: "))?;
    let decode_line = text.lines().find(|l| l.contains("decode"))?;
    let first = after(decode_line, "TTFT ")?;
    let decode = decode_line.split("tok: ").nth(1)?.split_whitespace().next()?.parse().ok()?;
    Some((prefill, decode, first))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list" || a == "--test") {
        return;
    }
    if let Some(at) = args.iter().position(|a| a == "--measure") {
        measure(args[at + 1].parse().unwrap());
        return;
    }
    let models = PathBuf::from(std::env::var_os("RAPTORFLOW_MODELS_DIR").expect("set RAPTORFLOW_MODELS_DIR"));
    let store = ModelStore::open(&models, Manifest::bundled().unwrap()).unwrap();
    let gguf = store.installed("smollm2-135m-instruct-q4_1").unwrap().path("SmolLM2-135M-Instruct.Q4_1.gguf").unwrap().to_owned();
    let anchor_dir = std::env::var_os("LLM_BENCH_ANCHOR_DIR").map(PathBuf::from);
    let threads_list: Vec<usize> = std::env::var("LLM_BENCH_THREADS")
        .map(|v| v.split(',').map(|n| n.trim().parse().unwrap()).collect())
        .unwrap_or_else(|_| vec![1, 2]);
    println!("| measurement | threads | candle, Q8_0 (ours) | llama.cpp, Q4_1 (anchor) | ratio (ours / anchor) |");
    println!("|---|---|---|---|---|");
    for threads in threads_list {
        let output = Command::new(std::env::current_exe().unwrap())
            .args(["--measure", &threads.to_string()])
            .env("CANDLE_NUM_THREADS", threads.to_string())
            .env("RAYON_NUM_THREADS", threads.to_string())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let line = stdout.lines().find(|l| l.starts_with("RESULT ")).unwrap_or_else(|| panic!("no result: {}", String::from_utf8_lossy(&output.stderr)));
        let figures: Vec<f64> = line[7..].split_whitespace().map(|n| n.parse().unwrap()).collect();
        let theirs = anchor_dir.as_deref().and_then(|dir| anchor(dir, &gguf, threads));
        let row = |what: &str, ours: f64, theirs: Option<f64>, unit: &str, higher_is_better: bool| {
            let (text, ratio) = match theirs {
                Some(v) => (format!("{v:.1} {unit}"), format!("{:.2}", ours / v)),
                None => ("not run".into(), "–".into()),
            };
            let _ = higher_is_better;
            println!("| {what} | {threads} | {ours:.1} {unit} | {text} | {ratio} |");
        };
        row(&format!("prefill ({} tokens)", figures[5]), figures[0], theirs.map(|t| t.0), "tok/s", true);
        row(&format!("decode (greedy, {} tokens)", figures[4]), figures[1], theirs.map(|t| t.1), "tok/s", true);
        row("time to first token (chat prompt)", figures[2], theirs.map(|t| t.2), "ms", false);
        println!("| load (converted file cached) | {threads} | {:.0} ms | – | – |", figures[3]);
    }
}
