//! Team sync from this device: join a workspace on a `raptorflow-sync`
//! server, sync it now or every few seconds, and report how it stands.
//!
//! The sync token lives in the OS keyring (Secret Service, Keychain,
//! Credential Manager), never in the data directory. The binding to a server
//! workspace is a row in the local catalog. The repo's peer id is
//! `<user>/<device>`, which the server checks against the token's user.

use std::{collections::HashMap, sync::Arc, time::Duration};

use rf_domain::{Timestamp, WorkspaceId, WorkspaceIndex};
use rf_store::{DocId, SyncBinding, SyncOutcome};
pub use rf_sync::client::ServerUrl;
use rf_sync::{
    BearerDialer, Role, SyncToken,
    client::{ApiClient, ClientError},
};
use samod::{BackoffConfig, DialerFailed};
use serde::Serialize;

use crate::{CAMPAIGN_DOC, Core, CoreEvent, INDEX_DOC, Result, secrets::SYNC_TOKENS};

/// The keyring service name under which sync tokens are stored.
pub const KEYRING_SERVICE: &str = "raptorflow-sync";

/// How long a sync may take before it is reported as not finished.
pub const DEFAULT_SYNC_TIMEOUT: Duration = Duration::from_secs(30);

/// Documents exchanged at once over one connection. A cold clone of a
/// 10,000-document workspace streams through this window instead of asking
/// for everything at once, and reports progress as documents finish.
pub(crate) const SYNC_CONCURRENCY: usize = 128;

/// The shortest interval between two [`CoreEvent::SyncProgress`] events of
/// one sync (the first and last always go out).
const PROGRESS_INTERVAL: Duration = Duration::from_millis(250);

/// Why syncing could not be done.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Server(#[from] ClientError),
    #[error(transparent)]
    BadToken(#[from] rf_sync::BadToken),
    #[error(transparent)]
    Secret(#[from] crate::secrets::SecretError),
    #[error("no sync token for workspace {workspace} in the OS keyring: run `raptorflow sync join --server {server} --token-stdin` again")]
    MissingToken { workspace: String, server: String },
    #[error("workspace {0} is not shared through a sync server: run `raptorflow sync join` first")]
    NotJoined(String),
    #[error("the server workspace {name:?} has no documents yet: an owner shares one with `raptorflow sync join --server URL --token-stdin --workspace <id>`")]
    EmptyServerWorkspace { name: String },
    #[error("only an owner can share a workspace to an empty server workspace; you are {role}")]
    NotOwner { role: Role },
    #[error("the server workspace {name:?} already holds another workspace (index document {root}); join without --workspace to get it")]
    ServerHoldsOther { name: String, root: String },
    #[error("this device already syncs as {existing}; it can join other workspaces only as {existing}, not as {requested}")]
    DifferentUser { existing: String, requested: String },
    #[error("the server has no copy of the workspace's index document {document} yet: its owner needs to sync first")]
    IndexUnavailable { document: String },
    #[error("sync with {url} did not finish within {secs} s: {detail}")]
    Timeout { url: String, secs: u64, detail: String },
}

fn keyring_account(server: &str, server_workspace_id: &str, user: &str) -> String {
    format!("{user}@{server}#{server_workspace_id}")
}

fn store_token(account: &str, token: &SyncToken) -> Result<(), SyncError> {
    Ok(SYNC_TOKENS.set(account, &token.expose())?)
}

fn load_token(binding: &SyncBinding) -> Result<SyncToken, SyncError> {
    let account = keyring_account(&binding.server_url, &binding.server_workspace_id, &binding.user_name);
    match SYNC_TOKENS.get(&account)? {
        Some(text) => Ok(SyncToken::parse(&text)?),
        None => Err(SyncError::MissingToken { workspace: binding.workspace_id.clone(), server: binding.server_url.clone() }),
    }
}

/// What `sync join` did.
#[derive(Debug, Clone, Serialize)]
pub struct JoinReport {
    pub workspace_id: WorkspaceId,
    pub workspace_name: String,
    pub server: String,
    pub user: String,
    pub role: Role,
    /// Whether this device shared its workspace (true) or fetched the server's.
    pub shared_local_workspace: bool,
    pub sync: SyncReport,
}

/// What one sync of a workspace did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SyncReport {
    pub workspace_id: String,
    pub server: String,
    pub n_documents: usize,
    pub n_synced: usize,
    /// Documents the server does not have or does not share with us.
    pub unavailable: Vec<String>,
    /// Documents whose exchange did not finish in time.
    pub timed_out: Vec<String>,
    /// For viewers: this device's own edits are not sent.
    pub read_only: bool,
}

impl SyncReport {
    /// Counts one document's outcome; true if it synced.
    fn record(&mut self, doc: &DocId, outcome: SyncOutcome) -> bool {
        self.n_documents += 1;
        match outcome {
            SyncOutcome::Synced => self.n_synced += 1,
            SyncOutcome::Unavailable => self.unavailable.push(doc.to_string()),
            SyncOutcome::TimedOut => self.timed_out.push(doc.to_string()),
        }
        outcome == SyncOutcome::Synced
    }
}

/// One document's exchange, named with its outcome.
async fn sync_one<'a>(
    docs: &rf_store::DocStore,
    doc: &'a DocId,
    connection: samod::ConnectionId,
    push: bool,
    timeout: Duration,
) -> (&'a DocId, rf_store::Result<SyncOutcome>) {
    (doc, docs.sync_over(doc, connection, push, timeout).await)
}

/// Publishes a sync's progress as [`CoreEvent::SyncProgress`]: the first
/// and last counts always, others at most every [`PROGRESS_INTERVAL`].
struct SyncProgress<'a> {
    core: &'a Core,
    workspace_id: WorkspaceId,
    server: &'a str,
    last: Option<std::time::Instant>,
}

impl<'a> SyncProgress<'a> {
    fn new(core: &'a Core, workspace_id: WorkspaceId, server: &'a str) -> Self {
        Self { core, workspace_id, server, last: None }
    }

    fn publish(&mut self, done: u64, total: u64) {
        let now = std::time::Instant::now();
        if done < total && self.last.is_some_and(|last| now - last < PROGRESS_INTERVAL) {
            return;
        }
        self.last = Some(now);
        self.core.publish(CoreEvent::SyncProgress { workspace_id: self.workspace_id, server: self.server.to_owned(), done, total });
    }
}

/// One line of `sync status`.
#[derive(Debug, Clone, Serialize)]
pub struct SyncStatus {
    pub workspace_id: String,
    pub server: String,
    pub server_workspace: String,
    pub user: String,
    pub role: String,
    pub joined_at: Timestamp,
    pub last_sync_at: Option<Timestamp>,
    pub last_error: Option<String>,
    pub token_in_keyring: bool,
    pub documents: Vec<DocumentHeads>,
}

/// A document and its heads, to compare copies across devices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DocumentHeads {
    pub document: String,
    pub heads: Vec<String>,
}

/// An open connection to a server, closed on drop.
struct Connection {
    dialer: samod::DialerHandle<rf_sync::Refused>,
    id: samod::ConnectionId,
    url: String,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.dialer.close();
    }
}

impl Core {
    /// The peer id this device syncs as, if it has joined any workspace.
    pub(crate) async fn sync_peer_id(catalog: &rf_store::Catalog) -> Result<Option<String>> {
        let bindings = catalog.sync_bindings().await?;
        let Some(first) = bindings.first() else { return Ok(None) };
        let device = catalog.device_id(|| uuid::Uuid::now_v7().simple().to_string()).await?;
        Ok(Some(format!("{}/{device}", first.user_name)))
    }

    async fn connect(&self, server: &ServerUrl, token: SyncToken, timeout: Duration) -> Result<Connection> {
        let dialer = BearerDialer::new(server.websocket.clone(), token);
        let last_error = dialer.last_error_slot();
        let backoff = BackoffConfig { initial_delay: Duration::from_millis(200), max_delay: Duration::from_secs(2), max_retries: None };
        let handle = self.docs().repo().dial(backoff, Arc::new(dialer)).map_err(|_| rf_store::StoreError::Stopped)?;
        let established = tokio::time::timeout(timeout, handle.established()).await;
        let unreachable = |handle: &samod::DialerHandle<rf_sync::Refused>| {
            handle.close();
            let reason = last_error.lock().unwrap_or_else(|p| p.into_inner()).clone();
            SyncError::from(ClientError::Unreachable {
                url: server.display(),
                reason: reason.unwrap_or_else(|| format!("no answer within {} s", timeout.as_secs())),
            })
        };
        match established {
            Ok(Ok(_peer)) => {}
            Ok(Err(DialerFailed::PermanentFailure(refused))) => {
                handle.close();
                return Err(SyncError::from(ClientError::Refused { url: server.display(), status: refused.status, message: refused.message.clone() }).into());
            }
            Ok(Err(DialerFailed::MaxRetriesReached)) | Err(_) => return Err(unreachable(&handle).into()),
        }
        let id = handle.connection_id().ok_or_else(|| unreachable(&handle))?;
        Ok(Connection { dialer: handle, id, url: server.display() })
    }

    /// Syncs a workspace's documents over an open connection, then records
    /// where the campaigns, moves and assets that arrived live.
    ///
    /// `heads_before` must come from [`Core::prepare_sync`], called before
    /// the connection opened: once connected, samod may apply remote changes
    /// at any moment, so heads read later could already include them and the
    /// re-index would miss them.
    async fn sync_documents(
        &self,
        connection: &Connection,
        workspace_id: &str,
        index_doc: &DocId,
        push: bool,
        timeout: Duration,
        heads_before: &HashMap<String, Vec<String>>,
    ) -> Result<SyncReport> {
        let workspace: WorkspaceId = workspace_id.parse()?;
        let report = self.exchange_documents(connection, workspace_id, index_doc, push, timeout).await?;
        let n_rows = self.index_changed_campaigns(workspace, index_doc, heads_before).await?;
        self.catalog().set_locations_complete(true).await?;
        tracing::debug!(target: "rf_core::sync", workspace_id, n_rows, "locations of synced documents recorded");
        Ok(report)
    }

    /// Before connecting: notes the heads of the workspace's campaign
    /// documents (if its index is here) and marks the location table
    /// incomplete, so that a sync that stops before its re-index (an error, a
    /// crash) makes the next open rebuild the table.
    async fn prepare_sync(&self, index_doc: Option<&DocId>) -> Result<HashMap<String, Vec<String>>> {
        let heads_before = match index_doc {
            Some(index_doc) => self.campaign_heads(index_doc).await?,
            None => HashMap::new(),
        };
        self.catalog().set_locations_complete(false).await?;
        Ok(heads_before)
    }

    /// The heads of every campaign document the workspace's index lists and
    /// this device holds (none if the index itself is not here yet).
    async fn campaign_heads(&self, index_doc: &DocId) -> Result<HashMap<String, Vec<String>>> {
        let index: WorkspaceIndex = match self.docs().read(index_doc, INDEX_DOC).await {
            Ok(index) => index,
            Err(rf_store::StoreError::DocumentNotFound { .. }) => return Ok(HashMap::new()),
            Err(err) => return Err(err.into()),
        };
        let mut heads = HashMap::new();
        for entry in index.campaigns.values() {
            match self.docs().heads(&entry.document.parse()?).await {
                Ok(doc_heads) => {
                    heads.insert(entry.document.clone(), doc_heads);
                }
                Err(rf_store::StoreError::DocumentNotFound { .. }) => {}
                Err(err) => return Err(err.into()),
            }
        }
        Ok(heads)
    }

    /// Records the locations in every campaign document whose heads differ
    /// from `heads_before` (changed, or new to this device). Returns the
    /// number of rows written.
    async fn index_changed_campaigns(&self, workspace_id: WorkspaceId, index_doc: &DocId, heads_before: &HashMap<String, Vec<String>>) -> Result<usize> {
        let index: WorkspaceIndex = match self.docs().read(index_doc, INDEX_DOC).await {
            Ok(index) => index,
            Err(rf_store::StoreError::DocumentNotFound { .. }) => return Ok(0),
            Err(err) => return Err(err.into()),
        };
        let mut changed = Vec::new();
        for (campaign_id, entry) in &index.campaigns {
            let heads_now = match self.docs().heads(&entry.document.parse()?).await {
                Ok(heads) => Some(heads),
                Err(rf_store::StoreError::DocumentNotFound { .. }) => None,
                Err(err) => return Err(err.into()),
            };
            if heads_now.as_ref() != heads_before.get(&entry.document) {
                changed.push((*campaign_id, entry.document.clone()));
            }
        }
        self.index_campaigns(workspace_id, &changed).await
    }

    /// Syncs a workspace's index, then every campaign and Codex source it
    /// lists (including ones that arrive with the index), over an open
    /// connection, [`SYNC_CONCURRENCY`] at a time, publishing
    /// [`CoreEvent::SyncProgress`] as they finish.
    async fn exchange_documents(&self, connection: &Connection, workspace_id: &str, index_doc: &DocId, push: bool, timeout: Duration) -> Result<SyncReport> {
        use futures::StreamExt as _;
        let mut report = SyncReport { workspace_id: workspace_id.to_owned(), server: connection.url.clone(), read_only: !push, ..SyncReport::default() };
        let mut progress = SyncProgress::new(self, workspace_id.parse()?, &connection.url);
        let deadline = tokio::time::Instant::now() + timeout;
        let remaining = || deadline.saturating_duration_since(tokio::time::Instant::now());
        let outcome = self.docs().sync_over(index_doc, connection.id, push, remaining()).await?;
        if !report.record(index_doc, outcome) {
            progress.publish(1, 1);
            return Ok(report);
        }
        let index: WorkspaceIndex = self.docs().read(index_doc, INDEX_DOC).await?;
        let mut campaign_docs = Vec::new();
        for entry in index.campaigns.values() {
            campaign_docs.push(entry.document.parse::<DocId>()?);
        }
        for entry in index.codex.values() {
            campaign_docs.push(entry.document.parse::<DocId>()?);
        }
        let total = 1 + campaign_docs.len() as u64;
        progress.publish(1, total);
        let docs = self.docs();
        let mut waiting = campaign_docs.iter();
        let mut running = futures::stream::FuturesUnordered::new();
        loop {
            while running.len() < SYNC_CONCURRENCY {
                let Some(doc) = waiting.next() else { break };
                running.push(sync_one(&docs, doc, connection.id, push, remaining()));
            }
            let Some((doc, outcome)) = running.next().await else { break };
            report.record(doc, outcome?);
            progress.publish(report.n_documents as u64, total);
        }
        tracing::debug!(target: "rf_core::sync", workspace_id, n = report.n_documents, "synced {CAMPAIGN_DOC} documents");
        Ok(report)
    }

    /// Joins a workspace on a sync server with a token from its admin.
    ///
    /// If the server workspace is empty, an owner shares `local` (one of this
    /// device's workspaces) into it. Otherwise the server's workspace is
    /// fetched (or, if this device already has it, synced). The token goes to
    /// the OS keyring. The data directory is reopened to sync as
    /// `<user>/<device>`, for every clone of this handle (a shell's other
    /// operations wait for or retry around it).
    pub async fn join_sync(&self, server: &str, token: &str, local: Option<WorkspaceId>, timeout: Duration) -> Result<JoinReport> {
        let server = ServerUrl::parse(server).map_err(SyncError::from)?;
        let token = SyncToken::parse(token).map_err(SyncError::from)?;
        let api = ApiClient::new(server.clone(), self.inner.engine.http()?);
        let session = api.session(&token).await.map_err(SyncError::from)?;
        let bindings = self.catalog().sync_bindings().await?;
        if let Some(existing) = bindings.iter().find(|b| b.user_name != session.user.as_str()) {
            return Err(SyncError::DifferentUser { existing: existing.user_name.clone(), requested: session.user.to_string() }.into());
        }
        let local_index = match local {
            Some(workspace_id) => Some(self.index_doc(workspace_id).await?),
            None => None,
        };
        let (root, shared_local) = match (&session.root_document, &local_index) {
            (Some(root), Some(local_doc)) if root != &local_doc.to_string() => {
                return Err(SyncError::ServerHoldsOther { name: session.workspace_name.clone(), root: root.clone() }.into());
            }
            (Some(root), _) => (root.parse::<DocId>()?, false),
            (None, None) => return Err(SyncError::EmptyServerWorkspace { name: session.workspace_name.clone() }.into()),
            (None, Some(_)) if session.role != Role::Owner => return Err(SyncError::NotOwner { role: session.role }.into()),
            (None, Some(local_doc)) => {
                let updated = api.put_root(&token, &local_doc.to_string()).await.map_err(SyncError::from)?;
                match updated.root_document {
                    Some(root) if root == local_doc.to_string() => (local_doc.clone(), true),
                    Some(root) => return Err(SyncError::ServerHoldsOther { name: session.workspace_name.clone(), root }.into()),
                    None => return Err(SyncError::EmptyServerWorkspace { name: session.workspace_name.clone() }.into()),
                }
            }
        };
        let account = keyring_account(&server.display(), &session.workspace_id, session.user.as_str());
        store_token(&account, &token)?;

        // Sync as `<user>/<device>` from here on.
        let device = self.catalog().device_id(|| uuid::Uuid::now_v7().simple().to_string()).await?;
        self.reopen(Some(format!("{}/{device}", session.user))).await?;

        let known = self.catalog().workspaces().await?.into_iter().find(|(_, doc)| *doc == root);
        let heads_before = self.prepare_sync(known.as_ref().map(|(_, doc)| doc)).await?;
        let connection = self.connect(&server, token, timeout).await?;
        let push = session.role.can_write();
        let workspace_id: WorkspaceId = match known {
            Some((id, _)) => id.parse()?,
            None => {
                match self.docs().sync_over(&root, connection.id, push, timeout).await? {
                    SyncOutcome::Synced => {}
                    SyncOutcome::Unavailable => return Err(SyncError::IndexUnavailable { document: root.to_string() }.into()),
                    SyncOutcome::TimedOut => {
                        return Err(SyncError::Timeout { url: server.display(), secs: timeout.as_secs(), detail: "fetching the index".into() }.into());
                    }
                }
                let index: WorkspaceIndex = self.docs().read(&root, INDEX_DOC).await?;
                self.catalog().add_workspace(&index.id.to_string(), &root, Timestamp::now().as_millis()).await?;
                index.id
            }
        };
        let binding = SyncBinding {
            workspace_id: workspace_id.to_string(),
            server_url: server.display(),
            server_workspace_id: session.workspace_id.clone(),
            server_workspace_name: session.workspace_name.clone(),
            user_name: session.user.to_string(),
            role: session.role.to_string(),
            joined_at_ms: Timestamp::now().as_millis(),
            last_sync_at_ms: None,
            last_error: None,
        };
        self.catalog().set_sync_binding(&binding).await?;
        let report = self.sync_documents(&connection, &binding.workspace_id, &root, push, timeout, &heads_before).await?;
        drop(connection);
        self.finish_report(&binding, &report, timeout).await?;
        let index = self.workspace(workspace_id).await?;
        Ok(JoinReport {
            workspace_id,
            workspace_name: index.name,
            server: server.display(),
            user: session.user.to_string(),
            role: session.role,
            shared_local_workspace: shared_local,
            sync: report,
        })
    }

    async fn finish_report(&self, binding: &SyncBinding, report: &SyncReport, timeout: Duration) -> Result<()> {
        let now = Timestamp::now().as_millis();
        if report.timed_out.is_empty() {
            self.catalog().record_sync_result(&binding.workspace_id, now, None).await?;
            Ok(())
        } else {
            let detail = format!("{} of {} documents did not finish", report.timed_out.len(), report.n_documents);
            self.catalog().record_sync_result(&binding.workspace_id, now, Some(&detail)).await?;
            Err(SyncError::Timeout { url: binding.server_url.clone(), secs: timeout.as_secs(), detail }.into())
        }
    }

    /// Syncs every joined workspace (or one) with its server, once.
    pub async fn sync_now(&self, only: Option<WorkspaceId>, timeout: Duration) -> Result<Vec<SyncReport>> {
        let bindings = self.catalog().sync_bindings().await?;
        let selected: Vec<&SyncBinding> = match only {
            Some(id) => {
                let found: Vec<_> = bindings.iter().filter(|b| b.workspace_id == id.to_string()).collect();
                if found.is_empty() {
                    return Err(SyncError::NotJoined(id.to_string()).into());
                }
                found
            }
            None => bindings.iter().collect(),
        };
        let mut reports = Vec::new();
        for binding in selected {
            match self.sync_binding(binding, timeout).await {
                Ok(report) => reports.push(report),
                Err(err) => {
                    let _ = self.catalog().record_sync_result(&binding.workspace_id, Timestamp::now().as_millis(), Some(&err.to_string())).await;
                    return Err(err);
                }
            }
        }
        Ok(reports)
    }

    async fn sync_binding(&self, binding: &SyncBinding, timeout: Duration) -> Result<SyncReport> {
        let server = ServerUrl::parse(&binding.server_url).map_err(SyncError::from)?;
        let token = load_token(binding)?;
        let index_doc = self.index_doc(binding.workspace_id.parse()?).await?;
        let push = binding.role.parse::<Role>().is_ok_and(Role::can_write);
        let heads_before = self.prepare_sync(Some(&index_doc)).await?;
        let connection = self.connect(&server, token, timeout).await?;
        let report = self.sync_documents(&connection, &binding.workspace_id, &index_doc, push, timeout, &heads_before).await?;
        drop(connection);
        self.finish_report(binding, &report, timeout).await?;
        Ok(report)
    }

    /// Every joined workspace: server, role, last sync, and document heads.
    pub async fn sync_status(&self) -> Result<Vec<SyncStatus>> {
        let mut statuses = Vec::new();
        for binding in self.catalog().sync_bindings().await? {
            let token_in_keyring = load_token(&binding).is_ok();
            let mut documents = Vec::new();
            if let Ok(workspace_id) = binding.workspace_id.parse::<WorkspaceId>()
                && let Ok(index_doc) = self.index_doc(workspace_id).await
            {
                documents.push(DocumentHeads { document: index_doc.to_string(), heads: self.docs().heads(&index_doc).await? });
                let index: WorkspaceIndex = self.docs().read(&index_doc, INDEX_DOC).await?;
                let documents_listed = index.campaigns.values().map(|e| &e.document).chain(index.codex.values().map(|e| &e.document));
                for listed in documents_listed {
                    let doc: DocId = listed.parse()?;
                    let heads = match self.docs().heads(&doc).await {
                        Ok(heads) => heads,
                        Err(rf_store::StoreError::DocumentNotFound { .. }) => Vec::new(),
                        Err(err) => return Err(err.into()),
                    };
                    documents.push(DocumentHeads { document: doc.to_string(), heads });
                }
            }
            statuses.push(SyncStatus {
                workspace_id: binding.workspace_id.clone(),
                server: binding.server_url.clone(),
                server_workspace: binding.server_workspace_name.clone(),
                user: binding.user_name.clone(),
                role: binding.role.clone(),
                joined_at: Timestamp(binding.joined_at_ms),
                last_sync_at: binding.last_sync_at_ms.map(Timestamp),
                last_error: binding.last_error.clone(),
                token_in_keyring,
                documents,
            });
        }
        Ok(statuses)
    }
}
