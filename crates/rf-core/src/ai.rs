//! Local AI for the shells: the model store and fetcher, and embeddings.
//! Works without a workspace: models live in their own directory.

use std::path::{Path, PathBuf};

pub use rf_ai::{
    AiError, BertEmbedder, Embedder, EmbedderOptions, FetchProgress, FetchReport, Fetcher, Manifest, ModelKind, ModelStatus, ModelStore, Origin, Quiet, Source,
    cosine, import::LLM_ARCHITECTURES,
};

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

/// Imports a local GGUF file or safetensors model directory.
pub fn import_model(store: &ModelStore, path: &Path, id: Option<&str>) -> Result<rf_ai::ModelSpec> {
    Ok(rf_ai::import::import(store, path, id)?)
}

/// Loads an embedder: `model` (an id) or the default embedding model.
pub fn load_embedder(store: &ModelStore, model: Option<&str>, options: EmbedderOptions) -> Result<BertEmbedder> {
    let installed = store.installed_of_kind(model, ModelKind::Embedding)?;
    Ok(BertEmbedder::load(&installed, options)?)
}

pub use rf_ai::{ChatMessage, GenerateParams, Generation, LlmOptions, LocalLlm, StopReason};

/// Loads a local LLM: `model` (an id) or the default local LLM.
pub fn load_llm(store: &ModelStore, model: Option<&str>, options: LlmOptions) -> Result<LocalLlm> {
    let installed = store.installed_of_kind(model, ModelKind::Llm)?;
    Ok(LocalLlm::load(store, &installed, options)?)
}

pub use rf_ai::{
    ApiKey, ChatRequest, Completion, ProviderKind, Usage,
    ledger::{BudgetScope, CallContext, CostReport, LEDGER_FILE_NAME, Ledger, ReportFilter, format_usd},
    metered::{CallOptions, MeteredCompletion},
    pricing::{PriceTable, parse_usd},
    selector::{Candidate, PrivacyMode, Tier},
};
pub use tokio_util::sync::CancellationToken;

use rf_ai::{LanguageModel, LocalChatModel, metered::max_cost_micro_usd, pricing::Price, selector};

use crate::{
    CoreError,
    providers::{self, AppSettings, ProviderSettings},
};

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
    Provider(String),
}

/// A model call from a shell or the swarm.
#[derive(Debug, Clone)]
pub struct ModelCall {
    pub request: ChatRequest,
    pub route: Route,
    /// Overrides the settings' privacy mode.
    pub privacy: Option<PrivacyMode>,
    /// The local model's id (default: the manifest's default local LLM).
    pub local_model: Option<String>,
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

/// One candidate per usable model for this request, local first.
fn candidates(
    settings: &AppSettings,
    table: &PriceTable,
    store: &ModelStore,
    call: &ModelCall,
    mode: PrivacyMode,
) -> Vec<(Candidate, Option<(ProviderSettings, Price)>)> {
    let mut out = Vec::new();
    if let Ok(installed) = store.installed_of_kind(call.local_model.as_deref(), ModelKind::Llm) {
        out.push((Candidate { provider: "local".into(), model: installed.spec.id.clone(), tier: Tier::Local, local: true, max_cost_micro_usd: 0 }, None));
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

/// Makes one model call: picks the model (by tier, privacy mode and budget,
/// or as named), answers from the response cache where it can, holds the
/// call to the budgets, and records it in the ledger. Text streams to
/// `on_text`. With privacy mode offline-only no network connection is
/// opened: cloud providers are not even set up.
pub async fn call_model(
    data_dir: &Path,
    models_dir: &Path,
    call: ModelCall,
    on_text: &mut (dyn FnMut(&str) + Send),
    cancel: &CancellationToken,
) -> Result<CallOutcome> {
    let settings = providers::load_settings(data_dir)?;
    let mode = call.privacy.unwrap_or(settings.privacy);
    let ledger = open_ledger(data_dir).await?;
    let table = PriceTable::bundled()?;
    let store = open_models(models_dir)?;
    let (chosen, provider, reason) = match &call.route {
        Route::Provider(name) if name == "local" => {
            let installed = store.installed_of_kind(call.local_model.as_deref(), ModelKind::Llm)?;
            let candidate = Candidate { provider: "local".into(), model: installed.spec.id.clone(), tier: Tier::Local, local: true, max_cost_micro_usd: 0 };
            (candidate, None, "the local model, as asked".to_owned())
        }
        Route::Provider(name) => {
            if mode == PrivacyMode::OfflineOnly {
                return Err(rf_ai::AiError::InvalidInput(format!(
                    "provider {name} is a cloud model, and privacy mode offline-only allows none; use --privacy local-preferred or cloud-allowed"
                ))
                .into());
            }
            let provider = providers::provider(&settings, name)?.clone();
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
            let all = candidates(&settings, &table, &store, &call, mode);
            let remaining = ledger.remaining(&call.context).await?;
            let just: Vec<Candidate> = all.iter().map(|(c, _)| c.clone()).collect();
            let choice = selector::select(*tier, mode, remaining, &just).map_err(rf_ai::AiError::from)?;
            let provider = all.into_iter().find(|(c, _)| *c == choice.candidate).and_then(|(_, p)| p);
            (choice.candidate, provider, choice.reason)
        }
    };
    tracing::debug!(provider = %chosen.provider, model = %chosen.model, reason = %reason, "model chosen");
    let (model, price): (Box<dyn LanguageModel>, Price) = match &provider {
        None => {
            let model_id = chosen.model.clone();
            let options = call.local_options;
            let llm = tokio::task::spawn_blocking(move || {
                let installed = store.installed_of_kind(Some(&model_id), ModelKind::Llm)?;
                LocalLlm::load(&store, &installed, options)
            })
            .await
            .map_err(|err| rf_ai::AiError::Inference(format!("loading the local model failed: {err}")))??;
            (Box::new(LocalChatModel::new(llm)), Price::FREE)
        }
        Some((provider, price)) => (Box::new(providers::cloud_model(provider)?), *price),
    };
    let options = CallOptions {
        use_cache: call.use_cache,
        cache_ttl: settings.cache_ttl_hours.map_or(rf_ai::metered::DEFAULT_CACHE_TTL, |h| std::time::Duration::from_secs(h.saturating_mul(3600))),
    };
    let result = rf_ai::metered::call(
        &ledger,
        model.as_ref(),
        &price,
        rf_ai::metered::Call { context: &call.context, request: &call.request, options },
        on_text,
        cancel,
    )
    .await;
    ledger.close().await;
    let metered = result?;
    let value = match &call.request.schema {
        Some(_) if metered.completion.stop_reason != StopReason::Cancelled => serde_json::from_str(&metered.completion.text).ok(),
        _ => None,
    };
    Ok(CallOutcome { choice: reason, metered, value })
}

/// Spending by agent, model and day.
pub async fn cost_report(data_dir: &Path, filter: &ReportFilter) -> Result<CostReport> {
    let ledger = open_ledger(data_dir).await?;
    let report = ledger.report(filter).await;
    ledger.close().await;
    Ok(report?)
}

/// Sets a monthly budget (`usd` as written by the user, e.g. "25" or
/// "7.50"); returns it in micro-dollars.
pub async fn set_budget(data_dir: &Path, scope: &BudgetScope, usd: &str) -> Result<u64> {
    let micro = parse_usd(usd).map_err(|err| rf_ai::AiError::InvalidInput(format!("budget: {err}")))?;
    let ledger = open_ledger(data_dir).await?;
    let result = ledger.set_budget(scope, micro).await;
    ledger.close().await;
    result?;
    Ok(micro)
}

/// A scope's monthly budget in micro-dollars.
pub async fn budget(data_dir: &Path, scope: &BudgetScope) -> Result<u64> {
    let ledger = open_ledger(data_dir).await?;
    let result = ledger.budget(scope).await;
    ledger.close().await;
    Ok(result?)
}
