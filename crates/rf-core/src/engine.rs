//! What a long-lived [`Core`](crate::Core) keeps for model calls, each opened
//! on first use and kept: the settings (read once, replaced when Core changes
//! them), the ledger, the price table, the model store, the default embedder
//! the local LLMs, and one pooled HTTP client for every cloud provider and
//! sync server. Loaded LLMs stay loaded; loading one more evicts the
//! least recently used idle ones when the memory cap would be exceeded.
//! Generations on one model take turns in arrival order (a fair queue).

use std::{
    path::PathBuf,
    sync::{
        Arc, RwLock,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
};

use rf_ai::Embedder;
use rf_local::{BertEmbedder, EmbedderOptions, LlmOptions, LocalChatModel, LocalLlm};
use rf_metering::{ledger::Ledger, pricing::PriceTable};
use rf_models::{ModelKind, ModelStore};
use tokio::sync::{Mutex, OnceCell};

use crate::{CoreConfig, Result, ai, providers::AppSettings};

/// Counters of what the engine did, for tests and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct EngineStats {
    /// Local LLMs loaded from disk (a model kept loaded is counted once).
    pub llm_loads: u64,
    /// Local generations started (a call cancelled while queued never is).
    pub local_generations: u64,
    /// Local LLMs evicted to stay within the memory cap.
    pub llm_evictions: u64,
    /// Embedding models loaded from disk.
    pub embedder_loads: u64,
}

#[derive(Debug)]
pub(crate) struct Engine {
    pub(crate) data_dir: PathBuf,
    pub(crate) models_dir: PathBuf,
    pub(crate) threads: usize,
    pub(crate) model_hub: Option<String>,
    memory_cap: u64,
    settings: RwLock<Option<Arc<AppSettings>>>,
    ledger: OnceCell<Ledger>,
    prices: OnceCell<Arc<PriceTable>>,
    store: OnceCell<ModelStore>,
    embedder: OnceCell<Arc<BertEmbedder>>,
    /// Every provider call and sync API call goes through this client, so
    /// connections (and TLS sessions) are reused.
    http: std::sync::OnceLock<reqwest::Client>,
    /// The connectors' gateway: its rate limiters must outlive a call.
    gateway: OnceCell<Arc<rf_connectors::Gateway>>,
    signals: OnceCell<rf_signals::Signals>,
    /// Loaded LLMs; the lock is held while one loads, so that two callers
    /// never load the same weights twice.
    llms: Mutex<Vec<Arc<LlmSlot>>>,
    clock: AtomicU64,
    llm_loads: AtomicU64,
    local_generations: AtomicU64,
    llm_evictions: AtomicU64,
    embedder_loads: AtomicU64,
}

/// One loaded local LLM and the queue in front of it.
#[derive(Debug)]
pub(crate) struct LlmSlot {
    model_id: rf_ai::ModelId,
    context: Option<usize>,
    bytes: u64,
    pub(crate) model: LocalChatModel,
    /// Held by the generation running on this model; tokio's mutex grants
    /// it in the order it was asked for.
    turn: Mutex<()>,
    /// Calls running or waiting on this model.
    in_line: AtomicUsize,
    last_used: AtomicU64,
}

/// A place in a model's queue; leaving it (also by cancelling) makes room.
#[derive(Debug)]
pub(crate) struct Place<'a> {
    slot: &'a LlmSlot,
    /// Calls ahead of this one when it joined (0: it runs at once).
    pub(crate) ahead: usize,
}

impl Drop for Place<'_> {
    fn drop(&mut self) {
        self.slot.in_line.fetch_sub(1, Ordering::SeqCst);
    }
}

impl LlmSlot {
    /// Joins the queue of this model.
    pub(crate) fn join(&self) -> Place<'_> {
        let ahead = self.in_line.fetch_add(1, Ordering::SeqCst);
        Place { slot: self, ahead }
    }

    /// Waits for this call's turn.
    pub(crate) async fn turn(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.turn.lock().await
    }
}

impl Engine {
    pub(crate) fn new(config: &CoreConfig) -> Self {
        Self {
            data_dir: config.data_dir.clone(),
            models_dir: config.models_dir.clone(),
            threads: config.threads.max(1),
            model_hub: config.model_hub.clone(),
            memory_cap: config.model_memory_cap,
            settings: RwLock::new(None),
            ledger: OnceCell::new(),
            prices: OnceCell::new(),
            store: OnceCell::new(),
            embedder: OnceCell::new(),
            http: std::sync::OnceLock::new(),
            gateway: OnceCell::new(),
            signals: OnceCell::new(),
            llms: Mutex::new(Vec::new()),
            clock: AtomicU64::new(0),
            llm_loads: AtomicU64::new(0),
            local_generations: AtomicU64::new(0),
            llm_evictions: AtomicU64::new(0),
            embedder_loads: AtomicU64::new(0),
        }
    }

    pub(crate) fn stats(&self) -> EngineStats {
        EngineStats {
            llm_loads: self.llm_loads.load(Ordering::Relaxed),
            local_generations: self.local_generations.load(Ordering::Relaxed),
            llm_evictions: self.llm_evictions.load(Ordering::Relaxed),
            embedder_loads: self.embedder_loads.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn generation_started(&self) {
        self.local_generations.fetch_add(1, Ordering::Relaxed);
    }

    /// The settings, read from `settings.toml` once.
    pub(crate) fn settings(&self) -> Result<Arc<AppSettings>> {
        if let Some(settings) = self.settings.read().unwrap_or_else(std::sync::PoisonError::into_inner).as_ref() {
            return Ok(settings.clone());
        }
        let settings = Arc::new(crate::providers::load_settings(&self.data_dir)?);
        *self.settings.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(settings.clone());
        Ok(settings)
    }

    /// Forgets the settings read, after Core changed them.
    pub(crate) fn settings_changed(&self) {
        *self.settings.write().unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }

    /// The HTTP client, made on first use.
    pub(crate) fn http(&self) -> Result<reqwest::Client> {
        if let Some(client) = self.http.get() {
            return Ok(client.clone());
        }
        let client = rf_cloud::http_client(rf_cloud::HttpPolicy::default().connect_timeout)?;
        Ok(self.http.get_or_init(|| client).clone())
    }

    pub(crate) async fn ledger(&self) -> Result<&Ledger> {
        self.ledger.get_or_try_init(|| ai::open_ledger(&self.data_dir)).await
    }

    pub(crate) async fn gateway(&self) -> Result<Arc<rf_connectors::Gateway>> {
        let gateway = self
            .gateway
            .get_or_try_init(|| async {
                let ledger = self.ledger().await?.clone();
                Ok::<_, crate::CoreError>(Arc::new(rf_connectors::Gateway::new(self.http()?, ledger, rf_cloud::HttpPolicy::default())))
            })
            .await?;
        Ok(gateway.clone())
    }

    pub(crate) async fn signals(&self) -> Result<&rf_signals::Signals> {
        self.signals
            .get_or_try_init(|| async {
                let path = self.data_dir.join(rf_signals::SIGNALS_FILE_NAME);
                rf_signals::Signals::open(&path).await.map_err(|err| crate::CoreError::Signals(err.into()))
            })
            .await
    }

    pub(crate) async fn prices(&self) -> Result<Arc<PriceTable>> {
        Ok(self.prices.get_or_try_init(|| async { Ok::<_, crate::CoreError>(Arc::new(PriceTable::bundled()?)) }).await?.clone())
    }

    pub(crate) async fn store(&self) -> Result<&ModelStore> {
        self.store.get_or_try_init(|| async { ai::open_models(&self.models_dir) }).await
    }

    /// The default embedding model, loaded once.
    pub(crate) async fn embedder(&self) -> Result<Arc<BertEmbedder>> {
        let embedder = self
            .embedder
            .get_or_try_init(|| async {
                let store = self.store().await?.clone();
                let threads = self.threads;
                let embedder = tokio::task::spawn_blocking(move || ai::load_embedder(&store, None, EmbedderOptions { threads }))
                    .await
                    .map_err(|err| rf_ai::AiError::Inference(format!("loading the embedding model failed: {err}")))??;
                self.embedder_loads.fetch_add(1, Ordering::Relaxed);
                Ok::<_, crate::CoreError>(Arc::new(embedder))
            })
            .await?;
        Ok(embedder.clone())
    }

    /// The local LLM `model_id` with `context`, loaded once and kept.
    pub(crate) async fn llm(&self, model_id: &rf_ai::ModelId, context: Option<usize>) -> Result<Arc<LlmSlot>> {
        let now = self.clock.fetch_add(1, Ordering::Relaxed) + 1;
        let mut llms = self.llms.lock().await;
        if let Some(slot) = llms.iter().find(|slot| slot.model_id == *model_id && slot.context == context) {
            slot.last_used.store(now, Ordering::Relaxed);
            return Ok(slot.clone());
        }
        let store = self.store().await?.clone();
        let installed = store.installed_of_kind(Some(model_id.as_str()), ModelKind::Llm)?;
        let bytes: u64 = installed.files.values().filter_map(|path| std::fs::metadata(path).ok()).map(|meta| meta.len()).sum();
        // Make room: the least recently used models nobody is using go first.
        loop {
            let used: u64 = llms.iter().map(|slot| slot.bytes).sum();
            if used + bytes <= self.memory_cap {
                break;
            }
            let idle = llms
                .iter()
                .enumerate()
                .filter(|(_, slot)| slot.in_line.load(Ordering::SeqCst) == 0 && Arc::strong_count(slot) == 1)
                .min_by_key(|(_, slot)| slot.last_used.load(Ordering::Relaxed))
                .map(|(index, _)| index);
            let Some(index) = idle else { break };
            let evicted = llms.remove(index);
            self.llm_evictions.fetch_add(1, Ordering::Relaxed);
            tracing::info!(model = %evicted.model_id, bytes = evicted.bytes, "unloaded a local model to stay within the memory cap");
        }
        let options = LlmOptions { context, threads: self.threads, requantize: true };
        let llm = tokio::task::spawn_blocking(move || LocalLlm::load(&store, &installed, options))
            .await
            .map_err(|err| rf_ai::AiError::Inference(format!("loading the local model failed: {err}")))??;
        self.llm_loads.fetch_add(1, Ordering::Relaxed);
        tracing::info!(model = %model_id, bytes, "loaded a local model");
        let slot = Arc::new(LlmSlot {
            model_id: model_id.clone(),
            context,
            bytes,
            model: LocalChatModel::new(llm),
            turn: Mutex::new(()),
            in_line: AtomicUsize::new(0),
            last_used: AtomicU64::new(now),
        });
        llms.push(slot.clone());
        Ok(slot)
    }

    pub(crate) async fn close(&self) {
        if let Some(signals) = self.signals.get() {
            signals.close().await;
        }
        if let Some(ledger) = self.ledger.get() {
            ledger.close().await;
        }
    }
}

/// An embedder that counts the texts and tokens it embeds, so that a call
/// (an `embed`, a Codex import, refresh or search) is one ledger row.
pub(crate) struct MeteredEmbedder {
    inner: Arc<dyn Embedder>,
    texts: AtomicU64,
    tokens: AtomicU64,
    pub(crate) started: std::time::Instant,
}

impl MeteredEmbedder {
    pub(crate) fn new(inner: Arc<dyn Embedder>) -> Self {
        Self { inner, texts: AtomicU64::new(0), tokens: AtomicU64::new(0), started: std::time::Instant::now() }
    }

    /// Texts and tokens (special tokens included, cut at the model's limit)
    /// embedded so far.
    pub(crate) fn counts(&self) -> (u64, u64) {
        (self.texts.load(Ordering::Relaxed), self.tokens.load(Ordering::Relaxed))
    }
}

impl Embedder for MeteredEmbedder {
    fn model_id(&self) -> &rf_ai::ModelId {
        self.inner.model_id()
    }

    fn dimensions(&self) -> usize {
        self.inner.dimensions()
    }

    fn embed(&self, texts: &[&str]) -> std::result::Result<Vec<Vec<f32>>, rf_ai::AiError> {
        let limit = self.inner.max_tokens();
        let tokens: usize = texts.iter().map(|text| self.inner.count_tokens(text).map_or(limit, |n| (n + 2).min(limit))).sum();
        let vectors = self.inner.embed(texts)?;
        self.texts.fetch_add(texts.len() as u64, Ordering::Relaxed);
        self.tokens.fetch_add(tokens as u64, Ordering::Relaxed);
        Ok(vectors)
    }

    fn count_tokens(&self, text: &str) -> std::result::Result<usize, rf_ai::AiError> {
        self.inner.count_tokens(text)
    }

    fn max_tokens(&self) -> usize {
        self.inner.max_tokens()
    }
}
