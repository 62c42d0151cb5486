//! The application API every shell calls: open a data directory, then create,
//! list and change workspaces, campaigns, moves and assets.
//!
//! Every operation that changes a document returns only after the change is
//! committed to the data directory's SQLite file, so what a shell reports as
//! saved survives a crash or `kill -9`.

pub mod ai;
mod campaigns;
pub mod codex;
mod error;
pub mod guardian;
pub mod input;
mod json_scan;
pub mod providers;
mod sample;
mod sync;
mod transfer;
mod workspaces;

use std::path::{Path, PathBuf};

use rf_domain::UserId;
use rf_store::{Catalog, DATABASE_FILE_NAME, DocStore, open_database};

pub use campaigns::{CampaignSummary, NewCampaign, NewMove};
pub use error::{CoreError, ErrorKind, Result};
pub use input::MAX_IMPORT_BYTES;
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

/// An open data directory.
#[derive(Debug)]
pub struct Core {
    data_dir: PathBuf,
    docs: DocStore,
    catalog: Catalog,
    user: LocalUser,
    /// The Codex's local index (`codex.sqlite3`), opened on first use.
    codex: tokio::sync::OnceCell<rf_codex::Codex>,
}

impl Core {
    /// Opens the data directory at `data_dir`, creating it if needed.
    ///
    /// A database file that is not SQLite, is another program's or is
    /// damaged is refused with an error that names it, and is left as it
    /// was. If the entity location table may have holes, it is rebuilt from
    /// the documents first. Must be called inside a tokio runtime.
    pub async fn open(data_dir: &Path, user: LocalUser) -> Result<Self> {
        std::fs::create_dir_all(data_dir).map_err(|source| CoreError::Io {
            action: "could not create the data directory",
            path: data_dir.to_owned(),
            source,
        })?;
        let pool = open_database(&data_dir.join(DATABASE_FILE_NAME)).await?;
        let catalog = Catalog::new(pool.clone());
        let peer_id = Self::sync_peer_id(&catalog).await?;
        let docs = DocStore::open_as(pool, peer_id).await;
        tracing::debug!(data_dir = %data_dir.display(), "data directory open");
        let core = Self { data_dir: data_dir.to_owned(), docs, catalog, user, codex: tokio::sync::OnceCell::new() };
        core.rebuild_locations_if_needed().await?;
        Ok(core)
    }

    /// Reopens the document store so that changes other processes saved to
    /// this data directory are seen.
    pub async fn reload(&mut self) -> Result<()> {
        let peer_id = Self::sync_peer_id(&self.catalog).await?;
        self.reopen(peer_id).await
    }

    /// Closes and reopens the document store, to sync under a new peer id.
    pub(crate) async fn reopen(&mut self, peer_id: Option<String>) -> Result<()> {
        self.docs.close().await;
        let pool = open_database(&self.data_dir.join(DATABASE_FILE_NAME)).await?;
        self.catalog = Catalog::new(pool.clone());
        self.docs = DocStore::open_as(pool, peer_id).await;
        // Another process may have stopped part way through a sync or import.
        self.rebuild_locations_if_needed().await
    }

    /// The data directory this core has open.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The local user.
    pub fn user(&self) -> &LocalUser {
        &self.user
    }

    /// Finishes every pending write and shuts the document store down.
    pub async fn close(self) {
        self.docs.close().await;
        if let Some(codex) = self.codex.get() {
            codex.close().await;
        }
    }
}
