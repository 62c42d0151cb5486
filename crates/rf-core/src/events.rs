//! Change events for shells. A watcher task polls the data directory's chunk
//! log (every [`POLL`]); documents that changed — saved by this Core, by
//! another process on the same data directory (the CLI while the app is
//! open), or arriving by sync — are loaded into the copies this Core holds
//! and published as typed events. A shell subscribes with [`Core::subscribe`].

use std::{collections::HashMap, time::Duration};

use rf_domain::{CampaignId, SourceId, WorkspaceId, WorkspaceIndex};
use rf_store::DocId;
use serde::Serialize;
use tokio::sync::{broadcast, watch};

use crate::{Core, INDEX_DOC, Result};

/// The share of a monthly budget past which a call publishes
/// [`CoreEvent::BudgetWarning`].
pub const BUDGET_WARNING_PERCENT: u64 = 80;

/// How often the watcher looks for changes.
pub(crate) const POLL: Duration = Duration::from_millis(200);

/// Something that changed, for shells to re-read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum CoreEvent {
    /// A workspace's index: its name, members, brand, campaign list or Codex list.
    WorkspaceChanged { workspace_id: WorkspaceId },
    /// A campaign with its moves and assets.
    CampaignChanged { workspace_id: WorkspaceId, campaign_id: CampaignId },
    /// The text of a Codex source.
    CodexChanged { workspace_id: WorkspaceId, source_id: SourceId },
    /// A document this device holds that no workspace lists (yet).
    DocumentChanged { document: String },
    /// A budget was set.
    BudgetChanged,
    /// A model call took a budget past [`BUDGET_WARNING_PERCENT`] of its
    /// monthly limit.
    BudgetWarning { scope: rf_ai::BudgetScope, spent_micro_usd: u64, limit_micro_usd: u64 },
    /// A model file is downloading: `done` of `total` bytes (at most four
    /// events a second per file, and always its first and last).
    ModelDownload { model: rf_ai::ModelId, file: String, done: u64, total: u64 },
    /// A model was fetched or imported and can be used.
    ModelInstalled { model: rf_ai::ModelId },
    /// A sync of a workspace (joining, or syncing now) has exchanged `done`
    /// of its `total` documents: the index first, then what it lists. At
    /// most four events a second per sync, and always its first and last.
    SyncProgress { workspace_id: WorkspaceId, server: String, done: u64, total: u64 },
    /// Changes may have been missed (the process was suspended, or a
    /// subscriber fell behind): re-read everything.
    Resync,
}

impl Core {
    /// Change events from now on. A subscriber that falls more than 1024
    /// events behind gets `RecvError::Lagged` and should re-read everything.
    pub fn subscribe(&self) -> broadcast::Receiver<CoreEvent> {
        self.inner.events.subscribe()
    }

    pub(crate) fn publish(&self, event: CoreEvent) {
        // Nobody listening is fine.
        let _ = self.inner.events.send(event);
    }

    /// What each document this device holds is, from the workspace indexes.
    async fn document_map(&self) -> Result<HashMap<String, CoreEvent>> {
        let mut map = HashMap::new();
        for (workspace_id, index_doc) in self.catalog().workspaces().await? {
            let Ok(workspace_id) = workspace_id.parse::<WorkspaceId>() else { continue };
            map.insert(index_doc.to_string(), CoreEvent::WorkspaceChanged { workspace_id });
            let Ok(index) = self.docs().read::<WorkspaceIndex>(&index_doc, INDEX_DOC).await else { continue };
            for (campaign_id, entry) in &index.campaigns {
                map.insert(entry.document.clone(), CoreEvent::CampaignChanged { workspace_id, campaign_id: *campaign_id });
            }
            for (source_id, entry) in &index.codex {
                map.insert(entry.document.clone(), CoreEvent::CodexChanged { workspace_id, source_id: *source_id });
            }
        }
        Ok(map)
    }

    /// Applies and publishes what changed after `seq`; returns the new point.
    /// `map` (what each document is) is kept between calls and read again
    /// from the workspace indexes only when an index or an unknown document
    /// changed: a change to a campaign costs no index reads.
    async fn catch_up(&self, seq: i64, map: &mut Option<HashMap<String, CoreEvent>>) -> Result<i64> {
        let docs = self.docs();
        let changed = docs.changed_since(seq).await?;
        if changed.seq == seq && !changed.gap {
            return Ok(seq);
        }
        let documents: Vec<(DocId, Vec<String>)> =
            if changed.gap { docs.stored_documents().await?.into_iter().map(|doc| (doc, Vec::new())).collect() } else { changed.documents };
        for (document, keys) in &documents {
            if let Err(err) = docs.refresh(document, keys).await {
                tracing::warn!(%document, error = %err, "could not load a document another process changed");
            }
        }
        if changed.gap {
            *map = None;
            self.publish(CoreEvent::Resync);
            return Ok(changed.seq);
        }
        let stale = match map.as_ref() {
            None => true,
            Some(known) => documents
                .iter()
                .any(|(document, _)| !matches!(known.get(&document.to_string()), Some(CoreEvent::CampaignChanged { .. } | CoreEvent::CodexChanged { .. }))),
        };
        if stale {
            *map = Some(self.document_map().await?);
        }
        let Some(map) = map.as_ref() else { return Ok(changed.seq) };
        for (document, _) in documents {
            let key = document.to_string();
            self.publish(map.get(&key).cloned().unwrap_or(CoreEvent::DocumentChanged { document: key }));
        }
        Ok(changed.seq)
    }
}

/// Starts the watcher of `core`'s data directory; it ends when `stop` says so.
pub(crate) async fn watch(core: Core, mut stop: watch::Receiver<bool>) -> Result<()> {
    let mut seq = core.docs().change_seq().await?;
    let weak = std::sync::Arc::downgrade(&core.inner);
    drop(core);
    tokio::spawn(async move {
        let mut last_prune = std::time::Instant::now() - Duration::from_secs(3600);
        let mut map = None;
        loop {
            tokio::select! {
                () = tokio::time::sleep(POLL) => {}
                _ = stop.changed() => return,
            }
            // The watcher does not keep the service alive.
            let Some(inner) = weak.upgrade() else { return };
            let core = Core { inner };
            match core.catch_up(seq, &mut map).await {
                Ok(next) => seq = next,
                Err(err) => tracing::debug!(error = %err, "could not read the chunk log"),
            }
            if last_prune.elapsed() > Duration::from_secs(60) {
                last_prune = std::time::Instant::now();
                if let Err(err) = core.docs().prune_chunk_log(rf_metering::ledger::now_ms()).await {
                    tracing::debug!(error = %err, "could not prune the chunk log");
                }
            }
        }
    });
    Ok(())
}
