//! The application API every shell calls: open a data directory, then create,
//! list and change workspaces, campaigns, moves and assets.
//!
//! Every operation that changes a document returns only after the change is
//! committed to the data directory's SQLite file, so what a shell reports as
//! saved survives a crash or `kill -9`.

pub mod ai;
pub mod api;
mod campaigns;
pub mod codex;
pub mod connectors;
pub mod design;
mod engine;
mod error;
mod events;
pub mod gamification;
pub mod guardian;
pub mod input;
mod json_scan;
mod manage;
pub mod mcp;
pub mod mcp_client;
mod models;
pub mod providers;
pub mod publish;
mod sample;
mod secrets;
pub mod sign_in;
pub mod signals;
pub mod swarm;
mod sync;
mod transfer;
pub mod work;
pub mod workflows;
mod workspaces;

use std::{
    path::{Path, PathBuf},
    sync::{Arc, RwLock},
};

use rf_domain::UserId;
use rf_store::{Catalog, DATABASE_FILE_NAME, DocStore, open_database};

pub use campaigns::{CampaignSummary, NewCampaign, NewMove};
pub use error::{CoreError, ErrorKind, Result};
pub use events::{BUDGET_WARNING_PERCENT, CoreEvent};
pub use input::MAX_IMPORT_BYTES;
pub use manage::{AssetView, CampaignEdit, DeletedCampaign, MoveEdit, asset_content_from_fields, campaign_transitions, parse_asset_content};
pub use models::FetchedModel;
pub use rf_domain as domain;
pub use rf_store::StorageStats;
pub use sync::{DEFAULT_SYNC_TIMEOUT, DocumentHeads, JoinReport, KEYRING_SERVICE, ServerUrl, SyncError, SyncReport, SyncStatus};
pub use transfer::{EXPORT_FORMAT, EXPORT_VERSION, WorkspaceExport};
pub use workspaces::WorkspaceSummary;

/// Document kinds, as named in storage errors.
pub(crate) const INDEX_DOC: &str = "workspace index";
pub(crate) const CAMPAIGN_DOC: &str = "campaign";

/// Who is using this device: the member that new workspaces are created for.
#[derive(Debug, Clone)]
pub struct LocalUser {
    /// The user's id.
    pub id: UserId,
    /// The user's display name.
    pub display_name: String,
}

impl LocalUser {
    /// `explicit`, else the OS account's name (`USER`, `USERNAME`) when it
    /// is a valid user id, else `local`: the same user for every shell on
    /// this device, so the CLI and the app agree on who created what.
    pub fn from_env(explicit: Option<UserId>) -> Self {
        let id = explicit
            .or_else(|| {
                let name = std::env::var("USER").or_else(|_| std::env::var("USERNAME")).ok()?;
                name.parse().ok()
            })
            .unwrap_or_else(|| "local".parse().expect("a valid user id"));
        Self { display_name: id.to_string(), id }
    }
}

/// The data directory every shell uses unless told otherwise (e.g.
/// `~/.local/share/RaptorFlow` on Linux); `None` without a home directory.
pub fn default_data_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "RaptorFlow").map(|dirs| dirs.data_dir().to_owned())
}

/// What [`Core::open_with`] needs. [`CoreConfig::new`] gives the defaults.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    pub data_dir: PathBuf,
    /// Where model files live (default: `models` inside the data directory).
    pub models_dir: PathBuf,
    pub user: LocalUser,
    /// Compute threads for local models (default: one per core).
    pub threads: usize,
    /// The most memory the local LLMs kept loaded may take, in bytes (the
    /// size of their weight files); loading one more evicts the least
    /// recently used idle ones until it fits. Default 8 GiB.
    pub model_memory_cap: u64,
    /// The model hub to download from (default: `RAPTORFLOW_MODEL_HUB`, or
    /// huggingface.co).
    pub model_hub: Option<String>,
    /// The agents' files (default: [`swarm::default_prompts_dir`]).
    pub prompts_dir: PathBuf,
    /// How swarm runs are driven (tries, parallelism, timeouts).
    pub swarm: rf_agents::RuntimeConfig,
}

impl CoreConfig {
    pub fn new(data_dir: &Path, user: LocalUser) -> Self {
        Self {
            data_dir: data_dir.to_owned(),
            models_dir: ai::default_models_dir(data_dir),
            user,
            threads: std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
            model_memory_cap: 8 << 30,
            model_hub: None,
            prompts_dir: swarm::default_prompts_dir(),
            swarm: rf_agents::RuntimeConfig::default(),
        }
    }
}

/// The engine as one long-lived service: an open data directory with its
/// documents, Codex, settings, ledger and local models. Cloning is cheap and
/// every clone is the same service; it is `Send + Sync`, so many tasks can
/// call it at once. What it holds is opened on first use and kept.
#[derive(Debug, Clone)]
pub struct Core {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    data_dir: PathBuf,
    user: LocalUser,
    /// Replaced (under the lock) only to sync under a new peer id.
    docs: RwLock<(DocStore, Catalog)>,
    /// The Codex's local index (`codex.sqlite3`), opened on first use.
    codex: tokio::sync::OnceCell<rf_codex::Codex>,
    /// Settings, ledger, prices, model store and the loaded local models.
    engine: engine::Engine,
    /// Change events for shells (see [`Core::subscribe`]).
    events: tokio::sync::broadcast::Sender<CoreEvent>,
    /// Stops the watcher of other processes' changes on close.
    stop_watching: tokio::sync::watch::Sender<bool>,
    /// The swarm runtime, opened on first use.
    swarm: tokio::sync::OnceCell<rf_agents::Runtime>,
    /// The workflows of the prompts directory, loaded on first use.
    workflows: tokio::sync::OnceCell<std::sync::Arc<rf_agents::Workflows>>,
    prompts_dir: PathBuf,
    swarm_config: rf_agents::RuntimeConfig,
    /// The user's MCP servers started so far.
    mcp_clients: mcp_client::McpClients,
    /// Held while an asset is published, so that two requests of this
    /// process cannot post the same asset twice.
    publishing: tokio::sync::Mutex<()>,
    /// One design export at a time (two writing the same asset's files
    /// would mix them).
    exporting: tokio::sync::Mutex<()>,
}

impl Core {
    /// Opens the data directory at `data_dir`, creating it if needed, with
    /// the default [`CoreConfig`].
    pub async fn open(data_dir: &Path, user: LocalUser) -> Result<Self> {
        Self::open_with(CoreConfig::new(data_dir, user)).await
    }

    /// Opens the data directory of `config`, creating it if needed.
    ///
    /// A database file that is not SQLite, is another program's or is
    /// damaged is refused with an error that names it, and is left as it
    /// was. If the entity location table may have holes, it is rebuilt from
    /// the documents first. Must be called inside a tokio runtime.
    pub async fn open_with(config: CoreConfig) -> Result<Self> {
        let data_dir = config.data_dir.clone();
        std::fs::create_dir_all(&data_dir).map_err(|source| CoreError::Io { action: "could not create the data directory", path: data_dir.clone(), source })?;
        let pool = open_database(&data_dir.join(DATABASE_FILE_NAME)).await?;
        let catalog = Catalog::new(pool.clone());
        let peer_id = Self::sync_peer_id(&catalog).await?;
        let docs = DocStore::open_as(pool.clone(), peer_id).await;
        tracing::debug!(data_dir = %data_dir.display(), "data directory open");
        let (events, _) = tokio::sync::broadcast::channel(1024);
        let (stop_watching, stopped) = tokio::sync::watch::channel(false);
        let core = Self {
            inner: Arc::new(Inner {
                data_dir,
                user: config.user.clone(),
                docs: RwLock::new((docs, catalog)),
                codex: tokio::sync::OnceCell::new(),
                engine: engine::Engine::new(&config),
                events,
                stop_watching,
                swarm: tokio::sync::OnceCell::new(),
                workflows: tokio::sync::OnceCell::new(),
                prompts_dir: config.prompts_dir.clone(),
                swarm_config: config.swarm,
                mcp_clients: mcp_client::McpClients::default(),
                publishing: tokio::sync::Mutex::new(()),
                exporting: tokio::sync::Mutex::new(()),
            }),
        };
        core.rebuild_locations_if_needed().await?;
        events::watch(core.clone(), stopped).await?;
        Ok(core)
    }

    pub(crate) fn docs(&self) -> DocStore {
        read_lock(&self.inner.docs).0.clone()
    }

    pub(crate) fn catalog(&self) -> Catalog {
        read_lock(&self.inner.docs).1.clone()
    }

    /// Reopens the document store. Not needed to see what other processes
    /// save: the watcher applies that (see [`Core::subscribe`]).
    pub async fn reload(&self) -> Result<()> {
        let peer_id = Self::sync_peer_id(&self.catalog()).await?;
        self.reopen(peer_id).await
    }

    /// Closes and reopens the document store, to sync under a new peer id.
    pub(crate) async fn reopen(&self, peer_id: Option<String>) -> Result<()> {
        self.docs().close().await;
        let pool = open_database(&self.inner.data_dir.join(DATABASE_FILE_NAME)).await?;
        let catalog = Catalog::new(pool.clone());
        let docs = DocStore::open_as(pool, peer_id).await;
        *write_lock(&self.inner.docs) = (docs, catalog);
        // Another process may have stopped part way through a sync or import.
        self.rebuild_locations_if_needed().await
    }

    /// The data directory this core has open.
    pub fn data_dir(&self) -> &Path {
        &self.inner.data_dir
    }

    /// The local user.
    pub fn user(&self) -> &LocalUser {
        &self.inner.user
    }

    /// Finishes every pending write and shuts the service down. Other clones
    /// of this handle must not be used afterwards.
    pub async fn close(&self) {
        let _ = self.inner.stop_watching.send(true);
        self.inner.mcp_clients.close().await;
        self.docs().close().await;
        if let Some(codex) = self.inner.codex.get() {
            codex.close().await;
        }
        if let Some(swarm) = self.inner.swarm.get() {
            swarm.store().close().await;
        }
        self.inner.engine.close().await;
    }
}

fn read_lock<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write_lock<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}
