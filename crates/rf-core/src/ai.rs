//! Local AI for the shells: the model store and fetcher, and embeddings.
//! Works without a workspace: models live in their own directory.

use std::path::{Path, PathBuf};

pub use rf_ai::{AiError, Embedder, cosine};
pub use rf_local::{BertEmbedder, EmbedderOptions, LLM_ARCHITECTURES};
pub use rf_models::{FetchProgress, FetchReport, Fetcher, Manifest, ModelKind, ModelStatus, ModelStore, Origin, Quiet, Source};

use crate::Result;

/// The model directory inside a data directory, unless `RAPTORFLOW_MODELS_DIR`
/// (or the shell's `--models-dir`) says otherwise.
pub fn default_models_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("models")
}

/// The store at `dir`, knowing the models of the bundled manifest.
pub fn open_models(dir: &Path) -> Result<ModelStore> {
    Ok(ModelStore::open(dir, Manifest::bundled()?)?)
}

/// Loads an embedder: `model` (an id) or the default embedding model.
pub fn load_embedder(store: &ModelStore, model: Option<&str>, options: EmbedderOptions) -> Result<BertEmbedder> {
    let installed = store.installed_of_kind(model, ModelKind::Embedding)?;
    Ok(BertEmbedder::load(&installed, options)?)
}

pub use rf_ai::{ChatMessage, GenerateParams, StopReason};
pub use rf_local::{Generation, LlmOptions, LocalLlm};

/// Loads a local LLM: `model` (an id) or the default local LLM.
pub fn load_llm(store: &ModelStore, model: Option<&str>, options: LlmOptions) -> Result<LocalLlm> {
    let installed = store.installed_of_kind(model, ModelKind::Llm)?;
    Ok(LocalLlm::load(store, &installed, options)?)
}

pub use rf_ai::{
    BudgetScope, ChatRequest, Completion, ModelId, ProviderName, Usage, format_usd,
    selector::{Candidate, PrivacyMode, Tier},
};
pub use rf_cloud::{ApiKey, ProviderKind};
pub use rf_metering::{
    ledger::{CallContext, CostReport, LEDGER_FILE_NAME, Ledger, ReportFilter, ReportLine, is_month},
    metered::{CallOptions, MeteredCompletion},
    pricing::{PriceTable, parse_usd},
};
pub use tokio_util::sync::CancellationToken;

use rf_ai::selector;
use rf_metering::{metered::max_cost_micro_usd, pricing::Price};

pub use crate::engine::EngineStats;
use crate::{
    Core, CoreError,
    providers::{self, AppSettings, ProviderSettings},
};

/// Reads a JSON Schema file for a constrained answer (at most 1 MiB).
pub fn read_schema_file(path: &Path) -> Result<serde_json::Value> {
    let bytes = crate::input::read_limited(path, "JSON Schema", crate::input::MAX_SETTINGS_BYTES)?;
    serde_json::from_slice(&bytes).map_err(|err| rf_ai::AiError::InvalidInput(format!("{} is not JSON: {err}", path.display())).into())
}

/// Opens the cost ledger of a data directory.
pub async fn open_ledger(data_dir: &Path) -> Result<Ledger> {
    std::fs::create_dir_all(data_dir).map_err(|source| CoreError::Io { action: "could not create the data directory", path: data_dir.to_owned(), source })?;
    Ok(Ledger::open(&data_dir.join(LEDGER_FILE_NAME)).await?)
}

/// Which model should take a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Let the selector pick, for a step of this tier.
    Tier(Tier),
    /// This configured provider (or `local`).
    Provider(ProviderName),
}

/// A model call from a shell or the swarm.
#[derive(Debug, Clone)]
pub struct ModelCall {
    pub request: ChatRequest,
    pub route: Route,
    /// Overrides the settings' privacy mode.
    pub privacy: Option<PrivacyMode>,
    /// The local model's id (default: the manifest's default local LLM).
    pub local_model: Option<ModelId>,
    pub local_options: LlmOptions,
    pub context: CallContext,
    pub use_cache: bool,
}

/// A call's answer, with the model choice and what it cost.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CallOutcome {
    /// Why this model took the call (for the run record).
    pub choice: String,
    #[serde(flatten)]
    pub metered: MeteredCompletion,
    /// The parsed answer, when a schema was given.
    pub value: Option<serde_json::Value>,
}

/// The local LLM for a call: the one it asks for, else the one `models use`
/// chose, else the first installed default.
fn local_llm(store: &ModelStore, settings: &AppSettings, asked: Option<&ModelId>) -> std::result::Result<rf_models::InstalledModel, rf_ai::AiError> {
    store.installed_of_kind(asked.or(settings.local_model.as_ref()).map(ModelId::as_str), ModelKind::Llm)
}

/// One candidate per usable model for this request, local first.
fn candidates(
    settings: &AppSettings,
    table: &PriceTable,
    store: &ModelStore,
    call: &ModelCall,
    mode: PrivacyMode,
) -> Vec<(Candidate, Option<(ProviderSettings, Price)>)> {
    let mut out = Vec::new();
    if let Ok(installed) = local_llm(store, settings, call.local_model.as_ref()) {
        out.push((
            Candidate { provider: ProviderName::local(), model: installed.spec.id.clone(), tier: Tier::Local, local: true, max_cost_micro_usd: 0 },
            None,
        ));
    }
    if mode == PrivacyMode::OfflineOnly {
        return out;
    }
    for provider in &settings.providers {
        match providers::provider_price(provider, table) {
            Ok(price) => out.push((
                Candidate {
                    provider: provider.name.clone(),
                    model: provider.model.clone(),
                    tier: provider.tier,
                    local: false,
                    max_cost_micro_usd: max_cost_micro_usd(&price, &call.request),
                },
                Some((provider.clone(), price)),
            )),
            Err(err) => tracing::warn!(provider = %provider.name, "left out of model selection: {err}"),
        }
    }
    out
}

/// What a call reports while it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AskProgress<'a> {
    /// Waiting for a local model that is busy: `position` calls are ahead.
    Queued { position: usize },
    /// A piece of the answer.
    Text(&'a str),
}

/// Texts embedded by [`Core::embed_counted`].
#[derive(Debug, Clone)]
pub struct Embedded {
    pub model: ModelId,
    /// One vector per text, in order.
    pub vectors: Vec<Vec<f32>>,
    /// The tokens embedded, all texts together.
    pub tokens: u64,
}

/// What [`Core::ask_stream`] yields: the answer's pieces, then its outcome.
#[derive(Debug)]
pub enum AskEvent {
    Queued { position: usize },
    Text(String),
    Done(Box<Result<CallOutcome>>),
}

impl Core {
    /// Makes one model call: picks the model (by tier, privacy mode and
    /// budget, or as named), answers from the response cache where it can,
    /// holds the call to the budgets, and records it in the ledger — one row
    /// per call, raw completions included. Local models stay loaded between
    /// calls; calls on one local model take turns in arrival order, and a
    /// call cancelled while it waits never starts (it is recorded as
    /// cancelled, at no cost). With privacy mode offline-only no network
    /// connection is opened: cloud providers are not even set up.
    pub async fn ask(&self, call: ModelCall, progress: &mut (dyn FnMut(AskProgress<'_>) + Send), cancel: &CancellationToken) -> Result<CallOutcome> {
        let engine = &self.inner.engine;
        let settings = engine.settings()?;
        let mode = call.privacy.unwrap_or(settings.privacy);
        let ledger = engine.ledger().await?;
        let table = engine.prices().await?;
        let store = engine.store().await?;
        if call.request.raw && !matches!(&call.route, Route::Provider(name) if name.is_local()) {
            return Err(rf_ai::AiError::InvalidInput("a raw completion (--raw) runs only on a local model: pass --provider local".into()).into());
        }
        let (chosen, provider, reason) = match &call.route {
            Route::Provider(name) if name.is_local() => {
                let installed = local_llm(store, &settings, call.local_model.as_ref())?;
                let candidate =
                    Candidate { provider: ProviderName::local(), model: installed.spec.id.clone(), tier: Tier::Local, local: true, max_cost_micro_usd: 0 };
                (candidate, None, "the local model, as asked".to_owned())
            }
            Route::Provider(name) => {
                if mode == PrivacyMode::OfflineOnly {
                    return Err(rf_ai::AiError::InvalidInput(format!(
                        "provider {name} is a cloud model, and privacy mode offline-only allows none; use --privacy local-preferred or cloud-allowed"
                    ))
                    .into());
                }
                let provider = providers::provider(&settings, name.as_str())?.clone();
                let price = providers::provider_price(&provider, &table)?;
                let candidate = Candidate {
                    provider: provider.name.clone(),
                    model: provider.model.clone(),
                    tier: provider.tier,
                    local: false,
                    max_cost_micro_usd: max_cost_micro_usd(&price, &call.request),
                };
                (candidate, Some((provider, price)), format!("provider {name}, as asked"))
            }
            Route::Tier(tier) => {
                let all = candidates(&settings, &table, store, &call, mode);
                let remaining = ledger.remaining(&call.context).await?;
                let just: Vec<Candidate> = all.iter().map(|(c, _)| c.clone()).collect();
                let choice = selector::select(*tier, mode, remaining, &just).map_err(rf_ai::AiError::from)?;
                let provider = all.into_iter().find(|(c, _)| *c == choice.candidate).and_then(|(_, p)| p);
                (choice.candidate, provider, choice.reason)
            }
        };
        tracing::debug!(provider = %chosen.provider, model = %chosen.model, reason = %reason, "model chosen");
        let options = CallOptions {
            use_cache: call.use_cache,
            cache_ttl: settings.cache_ttl_hours.map_or(rf_metering::metered::DEFAULT_CACHE_TTL, |h| std::time::Duration::from_secs(h.saturating_mul(3600))),
        };
        let metered_call = rf_metering::metered::Call { context: &call.context, request: &call.request, options };
        let result = match &provider {
            None => {
                let slot = engine.llm(&chosen.model, call.local_options.context).await?;
                let place = slot.join();
                if place.ahead > 0 {
                    progress(AskProgress::Queued { position: place.ahead });
                }
                let turn = tokio::select! {
                    biased;
                    () = cancel.cancelled() => None,
                    turn = slot.turn() => Some(turn),
                };
                match turn {
                    None => {
                        drop(place);
                        let record = rf_metering::ledger::CallRecord {
                            at_ms: rf_metering::ledger::now_ms(),
                            context: call.context.clone(),
                            provider: ProviderName::local(),
                            model: chosen.model.clone(),
                            usage: Usage::default(),
                            latency_ms: 0,
                            cost_micro_usd: 0,
                            cache_hit: false,
                            outcome: "cancelled".into(),
                        };
                        let ledger_id = ledger.record(&record).await?;
                        let completion =
                            Completion { text: String::new(), stop_reason: StopReason::Cancelled, usage: Usage::default(), model: chosen.model.to_string() };
                        Ok(MeteredCompletion { completion, record, ledger_id })
                    }
                    Some(_turn) => {
                        engine.generation_started();
                        let mut on_text = |piece: &str| progress(AskProgress::Text(piece));
                        rf_metering::metered::call(ledger, &slot.model, &Price::FREE, metered_call, &mut on_text, cancel).await
                    }
                }
            }
            Some((provider, price)) => {
                let model = providers::cloud_model(provider, engine.http()?)?;
                let mut on_text = |piece: &str| progress(AskProgress::Text(piece));
                rf_metering::metered::call(ledger, &model, price, metered_call, &mut on_text, cancel).await
            }
        };
        let metered = result?;
        self.warn_of_budgets(ledger, &call.context, metered.record.cost_micro_usd).await;
        let value = match &call.request.schema {
            Some(_) if metered.completion.stop_reason != StopReason::Cancelled => serde_json::from_str(&metered.completion.text).ok(),
            _ => None,
        };
        Ok(CallOutcome { choice: reason, metered, value })
    }

    /// Publishes [`CoreEvent::BudgetWarning`](crate::CoreEvent) for each
    /// budget that a call costing `cost` took past the warning share. A
    /// ledger that cannot be read here only loses the warning.
    async fn warn_of_budgets(&self, ledger: &Ledger, context: &CallContext, cost: u64) {
        if cost == 0 {
            return;
        }
        for scope in Ledger::scopes(context) {
            match ledger.spent(&scope).await {
                Ok((spent, limit)) => {
                    // In u128: the product cannot overflow, and the share of a u64 fits one.
                    let threshold = (u128::from(limit) * u128::from(crate::BUDGET_WARNING_PERCENT) / 100) as u64;
                    if spent >= threshold && spent.saturating_sub(cost) < threshold {
                        self.publish(crate::CoreEvent::BudgetWarning { scope: scope.clone(), spent_micro_usd: spent, limit_micro_usd: limit });
                    }
                }
                Err(err) => tracing::warn!(%scope, error = %err, "could not read a budget to warn of it"),
            }
        }
    }

    /// [`Core::ask`] as a stream: queue positions and pieces of the answer,
    /// then the outcome. Dropping the stream does not cancel the call; cancel
    /// `cancel` for that.
    pub fn ask_stream(&self, call: ModelCall, cancel: CancellationToken) -> tokio::sync::mpsc::UnboundedReceiver<AskEvent> {
        self.ask_stream_holding(call, cancel, ())
    }

    /// [`Core::ask_stream`], keeping `hold` until the call has ended (its
    /// ledger row written) and its outcome is sent: a guard that tells its
    /// owner a call is still running, however soon the stream is dropped.
    pub fn ask_stream_holding<H: Send + 'static>(&self, call: ModelCall, cancel: CancellationToken, hold: H) -> tokio::sync::mpsc::UnboundedReceiver<AskEvent> {
        let (events, stream) = tokio::sync::mpsc::unbounded_channel();
        let core = self.clone();
        tokio::spawn(async move {
            let _hold = hold;
            let sender = events.clone();
            let mut progress = move |progress: AskProgress<'_>| {
                let _ = sender.send(match progress {
                    AskProgress::Queued { position } => AskEvent::Queued { position },
                    AskProgress::Text(text) => AskEvent::Text(text.to_owned()),
                });
            };
            let outcome = core.ask(call, &mut progress, &cancel).await;
            let _ = events.send(AskEvent::Done(Box::new(outcome)));
        });
        stream
    }

    /// What the engine did so far (models loaded, generations run).
    pub fn engine_stats(&self) -> EngineStats {
        self.inner.engine.stats()
    }

    /// The settings, as read once from `settings.toml`.
    pub fn settings(&self) -> Result<std::sync::Arc<AppSettings>> {
        self.inner.engine.settings()
    }

    /// The local LLM that agents, chat and asks use now: the one `models use`
    /// chose, else the first installed default; `None` when none is installed.
    pub async fn local_model_in_use(&self) -> Result<Option<ModelId>> {
        let settings = self.settings()?;
        let store = self.inner.engine.store().await?;
        Ok(local_llm(store, &settings, None).ok().map(|m| m.spec.id))
    }

    /// The model store of this Core's models directory.
    pub async fn model_store(&self) -> Result<ModelStore> {
        Ok(self.inner.engine.store().await?.clone())
    }

    /// Spending by agent, model and day.
    pub async fn cost_report(&self, filter: &ReportFilter) -> Result<CostReport> {
        Ok(self.inner.engine.ledger().await?.report(filter).await?)
    }

    /// Sets a monthly budget (`usd` as written by the user, e.g. "25" or
    /// "7.50"); returns it in micro-dollars.
    pub async fn set_budget(&self, scope: &BudgetScope, usd: &str) -> Result<u64> {
        let micro = parse_usd(usd).map_err(|err| rf_ai::AiError::InvalidInput(format!("budget: {err}")))?;
        self.inner.engine.ledger().await?.set_budget(scope, micro).await?;
        self.publish(crate::CoreEvent::BudgetChanged);
        Ok(micro)
    }

    /// A scope's monthly budget in micro-dollars.
    pub async fn budget(&self, scope: &BudgetScope) -> Result<u64> {
        Ok(self.inner.engine.ledger().await?.budget(scope).await?)
    }

    /// What `scope` has spent or holds reserved this month, and its monthly
    /// limit (0: none), in micro-dollars: the figures budgets are held to.
    pub async fn budget_spent(&self, scope: &BudgetScope) -> Result<(u64, u64)> {
        Ok(self.inner.engine.ledger().await?.spent(scope).await?)
    }

    /// Embeds `texts` with the default embedding model (kept loaded) or
    /// `model`; one ledger row. Returns the model's id and one vector per text.
    pub async fn embed(&self, texts: &[String], model: Option<&str>, context: &CallContext) -> Result<(rf_ai::ModelId, Vec<Vec<f32>>)> {
        let embedded = self.embed_counted(texts, model, context).await?;
        Ok((embedded.model, embedded.vectors))
    }

    /// [`Core::embed`], with the number of tokens embedded.
    pub async fn embed_counted(&self, texts: &[String], model: Option<&str>, context: &CallContext) -> Result<Embedded> {
        if texts.is_empty() {
            return Err(rf_ai::AiError::InvalidInput("give at least one text to embed".into()).into());
        }
        let engine = &self.inner.engine;
        // The default embedder named by its id is the one kept loaded, not a
        // fresh copy from disk.
        let default = engine.store().await?.default_installed("embedding").ok().map(|m| m.spec.id);
        let model = model.filter(|id| default.as_ref().is_none_or(|d| d.as_str() != *id));
        let embedder: std::sync::Arc<dyn Embedder> = match model {
            None => engine.embedder().await?,
            Some(id) => {
                let (store, id, threads) = (engine.store().await?.clone(), id.to_owned(), engine.threads);
                let loaded = tokio::task::spawn_blocking(move || load_embedder(&store, Some(&id), EmbedderOptions { threads }))
                    .await
                    .map_err(|err| rf_ai::AiError::Inference(format!("loading the embedding model failed: {err}")))??;
                std::sync::Arc::new(loaded)
            }
        };
        let meter = std::sync::Arc::new(crate::engine::MeteredEmbedder::new(embedder));
        let vectors = {
            let (meter, texts) = (meter.clone(), texts.to_vec());
            tokio::task::spawn_blocking(move || meter.embed(&texts.iter().map(String::as_str).collect::<Vec<_>>()))
                .await
                .map_err(|err| rf_ai::AiError::Inference(format!("the embedding task failed: {err}")))??
        };
        self.record_embedding(context, &meter).await?;
        Ok(Embedded { model: meter.model_id().clone(), vectors, tokens: meter.counts().1 })
    }

    /// Records what `meter` embedded as one call (local, free) in the
    /// ledger; nothing if it embedded nothing.
    pub(crate) async fn record_embedding(&self, context: &CallContext, meter: &crate::engine::MeteredEmbedder) -> Result<()> {
        let (texts, tokens) = meter.counts();
        if texts == 0 {
            return Ok(());
        }
        let record = rf_metering::ledger::CallRecord {
            at_ms: rf_metering::ledger::now_ms(),
            context: context.clone(),
            provider: ProviderName::local(),
            model: meter.model_id().clone(),
            usage: Usage { input_tokens: tokens, ..Usage::default() },
            latency_ms: u64::try_from(meter.started.elapsed().as_millis()).unwrap_or(u64::MAX),
            cost_micro_usd: 0,
            cache_hit: false,
            outcome: "ok".into(),
        };
        self.inner.engine.ledger().await?.record(&record).await?;
        Ok(())
    }
}

/// candle sizes its compute pools once per process from `CANDLE_NUM_THREADS`
/// and `RAYON_NUM_THREADS`. A shell whose thread count differs from them
/// applies it by running its program again with both set: this does that
/// and returns the program's exit code, or `None` when they already match
/// (or the program cannot be started again) and the shell should go on.
pub fn rerun_with_pool_threads(threads: u16) -> Option<std::process::ExitCode> {
    let threads = threads.to_string();
    let set = |name: &str| std::env::var(name).ok().as_deref() == Some(threads.as_str());
    if set("CANDLE_NUM_THREADS") && set("RAYON_NUM_THREADS") {
        return None;
    }
    let status = std::process::Command::new(std::env::current_exe().ok()?)
        .args(std::env::args_os().skip(1))
        .env("CANDLE_NUM_THREADS", &threads)
        .env("RAYON_NUM_THREADS", &threads)
        .status()
        .ok()?;
    Some(status.code().and_then(|c| u8::try_from(c).ok()).map_or(std::process::ExitCode::FAILURE, std::process::ExitCode::from))
}

impl Core {
    /// The most `call` could cost on the model the selector would give it,
    /// in micro-dollars (0 on a local model): what a run's budget holds
    /// back before a step starts.
    pub async fn max_call_cost(&self, call: &ModelCall) -> Result<u64> {
        let engine = &self.inner.engine;
        let settings = engine.settings()?;
        let mode = call.privacy.unwrap_or(settings.privacy);
        let table = engine.prices().await?;
        let store = engine.store().await?;
        match &call.route {
            Route::Provider(name) if name.is_local() => Ok(0),
            Route::Provider(name) => {
                let provider = providers::provider(&settings, name.as_str())?;
                Ok(max_cost_micro_usd(&providers::provider_price(provider, &table)?, &call.request))
            }
            Route::Tier(tier) => {
                let all = candidates(&settings, &table, store, call, mode);
                let remaining = engine.ledger().await?.remaining(&call.context).await?;
                let just: Vec<Candidate> = all.into_iter().map(|(c, _)| c).collect();
                let choice = selector::select(*tier, mode, remaining, &just).map_err(rf_ai::AiError::from)?;
                Ok(choice.candidate.max_cost_micro_usd)
            }
        }
    }
}
