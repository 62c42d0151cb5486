//! What the local-LLM benchmarks share: the command line (`--measure N` runs
//! one measurement in this process), thread counts, one fresh process per
//! measurement, the llama.cpp anchor (`tests/data/anchor-scripts/llamacpp_bench.mjs`)
//! and the ours-against-anchor cells of the tables.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

/// What this process is asked to do.
pub(crate) enum Mode {
    /// `cargo test` / `--list`: nothing.
    Nothing,
    /// `--measure N`: one measurement with N threads, in this process.
    Measure(usize),
    /// The table.
    Table,
}

pub(crate) fn mode() -> Mode {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list" || a == "--test") {
        return Mode::Nothing;
    }
    match args.iter().position(|a| a == "--measure") {
        Some(at) => Mode::Measure(args[at + 1].parse().expect("--measure takes a thread count")),
        None => Mode::Table,
    }
}

/// `LLM_BENCH_THREADS` (default `1,2`).
pub(crate) fn thread_counts() -> Vec<usize> {
    std::env::var("LLM_BENCH_THREADS").map(|v| v.split(',').map(|n| n.trim().parse().unwrap()).collect()).unwrap_or_else(|_| vec![1, 2])
}

/// Runs `--measure threads` in a fresh process (candle sizes its pool
/// once per process) and returns the numbers of its `RESULT` line.
pub(crate) fn measure_in_fresh_process(threads: usize) -> Vec<f64> {
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["--measure", &threads.to_string()])
        .env("CANDLE_NUM_THREADS", threads.to_string())
        .env("RAYON_NUM_THREADS", threads.to_string())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().find(|l| l.starts_with("RESULT ")).unwrap_or_else(|| panic!("no result: {}", String::from_utf8_lossy(&output.stderr)));
    line[7..].split_whitespace().map(|n| n.parse().unwrap()).collect()
}

/// llama.cpp's figures for one run of the anchor script.
pub(crate) struct Anchor {
    pub(crate) load_ms: f64,
    pub(crate) prefill: f64,
    pub(crate) decode: f64,
    pub(crate) first_token_ms: f64,
    pub(crate) peak_rss_mib: f64,
}

/// Runs the anchor (`kind` is the script's prompt set: smollm or gemma) if
/// `LLM_BENCH_ANCHOR_DIR` names a directory with `anchor-scripts/` and
/// node-llama-cpp (`scripts/bench-llama-anchor.sh` makes it).
pub(crate) fn anchor(model: &Path, kind: &str, threads: usize, context: Option<usize>) -> Option<Anchor> {
    let dir = PathBuf::from(std::env::var_os("LLM_BENCH_ANCHOR_DIR")?);
    let mut command = Command::new("node");
    command.arg(dir.join("anchor-scripts/llamacpp_bench.mjs")).arg(model).arg(kind).env("TH", threads.to_string());
    if let Some(context) = context {
        command.env("CTX", context.to_string());
    }
    let output = command.output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        eprintln!("the llama.cpp anchor failed: {}", String::from_utf8_lossy(&output.stderr).lines().last().unwrap_or(""));
        return None;
    }
    let after = |line: &str, key: &str| -> Option<f64> {
        line.split(key).nth(1)?.split_whitespace().next()?.trim_end_matches(|c: char| !c.is_ascii_digit()).parse().ok()
    };
    let line = |key: &str| text.lines().find(|l| l.contains(key));
    let decode_line = line("decode")?;
    Some(Anchor {
        load_ms: after(line("load ms")?, "load ms ")?,
        prefill: after(line("prefill")?, "tok: ")?,
        decode: decode_line.split("tok: ").nth(1)?.split_whitespace().next()?.parse().ok()?,
        first_token_ms: after(decode_line, "TTFT ")?,
        peak_rss_mib: after(line("peak rss MiB")?, "peak rss MiB ")?,
    })
}

/// The anchor's cell and the ratio cell for `ours` against `theirs`.
pub(crate) fn against(ours: f64, theirs: Option<f64>, unit: &str) -> (String, String) {
    match theirs {
        Some(v) => (format!("{v:.1} {unit}"), format!("{:.2}", ours / v)),
        None => ("not run".into(), "–".into()),
    }
}
