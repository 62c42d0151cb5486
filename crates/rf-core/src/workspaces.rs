//! Workspace operations: create, list, show, and edit the brand codex.

use std::collections::BTreeMap;

use rf_domain::{BrandCodex, DomainError, Member, MemberStats, Role, Timestamp, WorkspaceId, WorkspaceIndex, validate_name, validate_text};
use rf_store::DocId;
use serde::Serialize;

use crate::{Core, CoreError, INDEX_DOC as INDEX, Result};

/// One line of `workspace list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct WorkspaceSummary {
    pub id: WorkspaceId,
    pub name: String,
    pub created_at: Timestamp,
    pub n_members: usize,
    pub n_campaigns: usize,
}

impl WorkspaceSummary {
    fn of(index: &WorkspaceIndex) -> Self {
        Self { id: index.id, name: index.name.clone(), created_at: index.created_at, n_members: index.members.len(), n_campaigns: index.campaigns.len() }
    }
}

/// Checks every free-text field of a brand codex against the domain limits.
pub(crate) fn validate_brand_codex(codex: &BrandCodex) -> Result<()> {
    validate_text("brand company", &codex.company)?;
    validate_text("brand offer", &codex.offer)?;
    validate_text("brand voice tone", &codex.voice.tone)?;
    validate_text("brand positioning", &codex.positioning)?;
    let site = codex.website.trim();
    if !site.is_empty() && (!(site.starts_with("https://") || site.starts_with("http://")) || site.contains(char::is_whitespace)) {
        return Err(
            rf_domain::DomainError::Invalid { field: "brand website", reason: format!("'{site}' is not a web address such as https://example.com") }.into()
        );
    }
    let lists: [(&'static str, &Vec<String>); 6] = [
        ("brand competitor", &codex.competitors),
        ("brand audience", &codex.audiences),
        ("brand voice do", &codex.voice.dos),
        ("brand voice don't", &codex.voice.donts),
        ("brand banned term", &codex.banned_terms),
        ("brand required disclaimer", &codex.required_disclaimers),
    ];
    let sources = codex.sources.values().map(|v| ("brand source", v));
    for (field, items) in lists.into_iter().chain(codex.disclaimers_by_kind.values().map(|v| ("brand required disclaimer", v))).chain(sources) {
        for item in items {
            validate_text(field, item)?;
        }
    }
    Ok(())
}

impl Core {
    /// Creates a workspace owned by the local user.
    pub async fn create_workspace(&self, name: &str) -> Result<WorkspaceIndex> {
        let name = validate_name("workspace name", name)?;
        let now = Timestamp::now();
        let user = &self.inner.user;
        let index = WorkspaceIndex {
            schema: WorkspaceIndex::SCHEMA,
            id: WorkspaceId::new(),
            name,
            created_at: now,
            members: BTreeMap::from([(user.id.clone(), Member { display_name: user.display_name.clone(), role: Role::Owner, joined_at: now })]),
            brand: BrandCodex::default(),
            campaigns: BTreeMap::new(),
            codex: BTreeMap::new(),
            gamification: BTreeMap::from([(user.id.clone(), MemberStats::default())]),
            digests: BTreeMap::new(),
        };
        let doc_id = self.docs().create(&index, INDEX).await?;
        self.catalog().add_workspace(&index.id.to_string(), &doc_id, now.as_millis()).await?;
        tracing::info!(workspace_id = %index.id, "workspace created");
        Ok(index)
    }

    /// Every workspace on this device, oldest first.
    pub async fn list_workspaces(&self) -> Result<Vec<WorkspaceSummary>> {
        Ok(self.workspace_indexes().await?.iter().map(WorkspaceSummary::of).collect())
    }

    /// The index document of every workspace on this device, oldest first.
    pub(crate) async fn workspace_indexes(&self) -> Result<Vec<WorkspaceIndex>> {
        let mut indexes = Vec::new();
        for (_, doc_id) in self.catalog().workspaces().await? {
            indexes.push(self.docs().read(&doc_id, INDEX).await?);
        }
        Ok(indexes)
    }

    pub(crate) async fn index_doc(&self, workspace_id: WorkspaceId) -> Result<DocId> {
        self.catalog().workspace_index(&workspace_id.to_string()).await?.ok_or(CoreError::NotFound {
            what: "workspace",
            id: workspace_id.to_string(),
            hint: " (see `raptorflow workspace list`)",
        })
    }

    /// The whole index document of a workspace.
    pub async fn workspace(&self, workspace_id: WorkspaceId) -> Result<WorkspaceIndex> {
        let doc_id = self.index_doc(workspace_id).await?;
        Ok(self.docs().read(&doc_id, INDEX).await?)
    }

    /// Applies `edit` to a workspace's index document as one durable change.
    pub(crate) async fn update_index<R, F>(&self, workspace_id: WorkspaceId, message: String, edit: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut WorkspaceIndex) -> Result<R> + Send + 'static,
    {
        let doc_id = self.index_doc(workspace_id).await?;
        self.docs().update(&doc_id, INDEX, message, edit).await
    }

    /// Stored size of every document of a workspace (index first), next to
    /// automerge's `save()` size.
    pub async fn workspace_storage(&self, workspace_id: WorkspaceId) -> Result<Vec<rf_store::StorageStats>> {
        let index_doc = self.index_doc(workspace_id).await?;
        let index: WorkspaceIndex = self.docs().read(&index_doc, INDEX).await?;
        let mut stats = vec![self.docs().storage_stats(&index_doc).await?];
        for entry in index.campaigns.values() {
            stats.push(self.docs().storage_stats(&entry.document.parse()?).await?);
        }
        Ok(stats)
    }

    /// Replaces the brand codex of a workspace with one given as JSON (the
    /// `brand` object `workspace show --json` prints). A malformed codex
    /// names the place of the problem and changes nothing.
    pub async fn update_brand_codex_json(&self, workspace_id: WorkspaceId, json: &str) -> Result<WorkspaceIndex> {
        let mut deserializer = serde_json::Deserializer::from_str(json);
        let codex: BrandCodex = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
            let at = err.path().to_string();
            DomainError::Invalid { field: "brand codex", reason: format!("at `{at}`: {}", err.into_inner()) }
        })?;
        self.update_brand_codex(workspace_id, codex).await
    }

    /// Replaces the brand codex of a workspace.
    pub async fn update_brand_codex(&self, workspace_id: WorkspaceId, codex: BrandCodex) -> Result<WorkspaceIndex> {
        validate_brand_codex(&codex)?;
        self.update_index(workspace_id, "update brand codex".into(), move |index| {
            index.brand = codex;
            Ok(index.clone())
        })
        .await
    }
}
