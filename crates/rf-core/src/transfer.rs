//! Export a workspace to one JSON file, and import such a file as a new
//! workspace on this device. Import checks the whole file before it writes
//! anything, so a bad file changes nothing.

use std::{
    collections::{BTreeSet, HashMap},
    path::Path,
};

use rf_domain::{Campaign, CampaignId, CodexSource, Role, Timestamp, WorkspaceIndex, validate_name, validate_text};
use rf_store::{EntityKind, EntityLocation};
use serde::{Deserialize, Serialize};

use crate::{
    CAMPAIGN_DOC, Core, CoreError, INDEX_DOC, Result,
    campaigns::validate_budget,
    input::{MAX_IMPORT_BYTES, read_limited},
    json_scan::{self, ScanError},
    workspaces::validate_brand_codex,
};

/// The `format` field of every export file.
pub const EXPORT_FORMAT: &str = "raptorflow.workspace";
/// The export format version this build writes and reads.
pub const EXPORT_VERSION: u64 = 1;

/// A whole workspace as one JSON document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceExport {
    /// Always [`EXPORT_FORMAT`].
    pub format: String,
    /// Always [`EXPORT_VERSION`] for files this build writes.
    pub version: u64,
    /// When the export was made.
    pub exported_at: Timestamp,
    /// The workspace index document.
    pub workspace: WorkspaceIndex,
    /// Every campaign document of the workspace.
    pub campaigns: Vec<Campaign>,
    /// Every Codex source document (extracted text) of the workspace.
    /// Missing in files written before the Codex existed.
    #[serde(default)]
    pub codex_sources: Vec<CodexSource>,
}

impl WorkspaceExport {
    /// Parses and checks an export file's bytes. `path` is only used in errors.
    ///
    /// Two passes over the text, neither of which builds a `serde_json::Value`
    /// of the whole file: a scan that refuses duplicate keys and reads the
    /// `format` field, then serde straight into the typed export.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Self> {
        let import_error = |reason: String| CoreError::Import { path: path.to_owned(), reason };
        let text =
            std::str::from_utf8(bytes).map_err(|err| import_error(format!("the file is not UTF-8 text (invalid byte at offset {})", err.valid_up_to())))?;
        let scanned = json_scan::scan(text).map_err(|err| match err {
            ScanError::NotJson(err) => import_error(format!("the file is not JSON: {err} (line {}, column {})", err.line(), err.column())),
            ScanError::DuplicateKey { path: at, key, line, column } => {
                let at = if at.is_empty() { "the top level".to_string() } else { format!("`{at}`") };
                import_error(format!("at {at}: the key `{key}` appears twice (line {line}, column {column})"))
            }
        })?;
        match &scanned.format {
            Some(serde_json::Value::String(format)) if format == EXPORT_FORMAT => {}
            other => {
                return Err(import_error(format!(
                    "the field `format` must be \"{EXPORT_FORMAT}\", found {}",
                    other.as_ref().map_or("nothing".to_string(), |f| f.to_string())
                )));
            }
        }
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let export: WorkspaceExport = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
            let at = err.path().to_string();
            import_error(format!("at `{at}`: {}", err.into_inner()))
        })?;
        if export.version != EXPORT_VERSION {
            return Err(import_error(format!("export version {} is not supported; this build reads version {EXPORT_VERSION}", export.version)));
        }
        export.check().map_err(import_error)?;
        Ok(export)
    }

    /// Every campaign, move, asset and Codex source id in the file, in file
    /// order, with its kind.
    fn entity_ids(&self) -> Vec<(String, &'static str)> {
        let mut ids = Vec::new();
        for campaign in &self.campaigns {
            ids.push((campaign.id.to_string(), "campaign"));
            ids.extend(campaign.moves.keys().map(|id| (id.to_string(), "move")));
            ids.extend(campaign.assets.keys().map(|id| (id.to_string(), "asset")));
        }
        ids.extend(self.codex_sources.iter().map(|source| (source.id.to_string(), "codex source")));
        ids
    }

    /// Cross-field rules serde cannot express.
    fn check(&self) -> std::result::Result<(), String> {
        let workspace = &self.workspace;
        validate_name("workspace name", &workspace.name).map_err(|e| format!("at `workspace.name`: {e}"))?;
        validate_brand_codex(&workspace.brand).map_err(|e| format!("at `workspace.brand`: {e}"))?;
        if workspace.members.is_empty() {
            return Err("at `workspace.members`: a workspace needs at least one member, found none".into());
        }
        if !workspace.members.values().any(|member| member.role == Role::Owner) {
            return Err("at `workspace.members`: a workspace needs at least one owner, found none".into());
        }
        let listed: BTreeSet<CampaignId> = workspace.campaigns.keys().copied().collect();
        let mut present = BTreeSet::new();
        for (i, campaign) in self.campaigns.iter().enumerate() {
            let at = format!("campaigns[{i}]");
            if campaign.workspace_id != workspace.id {
                return Err(format!("at `{at}.workspace_id`: campaign {} belongs to workspace {}, not {}", campaign.id, campaign.workspace_id, workspace.id));
            }
            if !present.insert(campaign.id) {
                return Err(format!("at `{at}.id`: campaign {} appears twice", campaign.id));
            }
            if !listed.contains(&campaign.id) {
                return Err(format!("at `{at}.id`: campaign {} is not listed in `workspace.campaigns`", campaign.id));
            }
            validate_name("campaign name", &campaign.name).map_err(|e| format!("at `{at}.name`: {e}"))?;
            validate_text("campaign goal", &campaign.goal).map_err(|e| format!("at `{at}.goal`: {e}"))?;
            if let Some(budget) = &campaign.budget {
                validate_budget(budget).map_err(|e| format!("at `{at}.budget`: {e}"))?;
            }
            for (move_id, the_move) in &campaign.moves {
                validate_name("move title", &the_move.title).map_err(|e| format!("at `{at}.moves.{move_id}.title`: {e}"))?;
                if let Some(missing) = the_move.assets.iter().find(|a| !campaign.assets.contains_key(a)) {
                    return Err(format!("at `{at}.moves.{move_id}.assets`: asset {missing} is not in the campaign"));
                }
            }
        }
        if let Some(missing) = listed.difference(&present).next() {
            return Err(format!("at `workspace.campaigns.{missing}`: the campaign is listed but its document is not in `campaigns`"));
        }
        let mut sources_present = BTreeSet::new();
        for (i, source) in self.codex_sources.iter().enumerate() {
            let at = format!("codex_sources[{i}]");
            if source.workspace_id != workspace.id {
                return Err(format!("at `{at}.workspace_id`: the source belongs to workspace {}, not {}", source.workspace_id, workspace.id));
            }
            if !workspace.codex.contains_key(&source.id) {
                return Err(format!("at `{at}.id`: source {} is not listed in `workspace.codex`", source.id));
            }
            if !sources_present.insert(source.id) {
                return Err(format!("at `{at}.id`: source {} appears twice", source.id));
            }
        }
        if let Some(missing) = workspace.codex.keys().find(|id| !sources_present.contains(id)) {
            return Err(format!("at `workspace.codex.{missing}`: the source is listed but its document is not in `codex_sources`"));
        }
        // Lookups go by id alone, so an id may name one thing only.
        let mut seen = HashMap::new();
        for (id, kind) in self.entity_ids() {
            if let Some(first_kind) = seen.insert(id.clone(), kind) {
                return Err(format!("the {kind} id {id} is also used by a {first_kind} in the file; ids must be unique"));
            }
        }
        Ok(())
    }
}

impl Core {
    /// The whole workspace as one value, ready to be written as JSON.
    pub async fn export_workspace(&self, workspace_id: rf_domain::WorkspaceId) -> Result<WorkspaceExport> {
        let workspace = self.workspace(workspace_id).await?;
        let mut campaigns = Vec::with_capacity(workspace.campaigns.len());
        for campaign_id in workspace.campaigns.keys() {
            campaigns.push(self.campaign(*campaign_id).await?);
        }
        let mut codex_sources = Vec::with_capacity(workspace.codex.len());
        for source_id in workspace.codex.keys() {
            codex_sources.push(self.codex_source(workspace_id, *source_id).await?);
        }
        Ok(WorkspaceExport { format: EXPORT_FORMAT.to_string(), version: EXPORT_VERSION, exported_at: Timestamp::now(), workspace, campaigns, codex_sources })
    }

    /// Reads an export file from disk and imports it.
    pub async fn import_file(&self, path: &Path) -> Result<WorkspaceIndex> {
        let bytes = read_limited(path, "import file", MAX_IMPORT_BYTES)?;
        let export = WorkspaceExport::parse(&bytes, path)?;
        drop(bytes);
        self.import_workspace(export).await
    }

    /// Imports a checked export as a new workspace on this device, keeping its
    /// ids. Refused, before anything is written, if the workspace or any of
    /// its campaign, move, asset or Codex source ids is already used here:
    /// commands find things by id alone, so a second owner of an id would
    /// send edits to the wrong workspace.
    pub async fn import_workspace(&self, export: WorkspaceExport) -> Result<WorkspaceIndex> {
        let workspace_id = export.workspace.id;
        if self.catalog().workspace_index(&workspace_id.to_string()).await?.is_some() {
            return Err(CoreError::AlreadyExists { what: "workspace", id: workspace_id.to_string() });
        }
        self.refuse_taken_ids(&export).await?;
        // Campaign documents first, then the index that points at them, then
        // the catalog row that makes the workspace visible: a crash part way
        // leaves only unreachable documents, never a workspace with holes.
        let mut index = export.workspace;
        let mut locations = Vec::new();
        for campaign in &export.campaigns {
            let doc_id = self.docs().create(campaign, CAMPAIGN_DOC).await?;
            if let Some(entry) = index.campaigns.get_mut(&campaign.id) {
                entry.document = doc_id.to_string();
            }
            let location = EntityLocation { workspace_id: workspace_id.to_string(), campaign_id: campaign.id.to_string() };
            locations.push((campaign.id.to_string(), EntityKind::Campaign, location.clone()));
            locations.extend(campaign.moves.keys().map(|m| (m.to_string(), EntityKind::Move, location.clone())));
            locations.extend(campaign.assets.keys().map(|a| (a.to_string(), EntityKind::Asset, location.clone())));
        }
        for source in &export.codex_sources {
            let doc_id = self.docs().create(source, crate::codex::SOURCE_DOC).await?;
            if let Some(entry) = index.codex.get_mut(&source.id) {
                entry.document = doc_id.to_string();
            }
        }
        // Until its locations are recorded, a crash would leave a workspace
        // whose ids lookups cannot find; the flag makes the next open rebuild.
        self.catalog().set_locations_complete(false).await?;
        let index_doc = self.docs().create(&index, INDEX_DOC).await?;
        self.catalog().add_workspace(&workspace_id.to_string(), &index_doc, Timestamp::now().as_millis()).await?;
        self.catalog().set_locations(&locations).await?;
        self.catalog().set_locations_complete(true).await?;
        tracing::info!(%workspace_id, n_campaigns = export.campaigns.len(), "workspace imported");
        Ok(index)
    }
}

impl Core {
    /// Refuses an export that uses an id some workspace here already uses,
    /// naming the first such id (in file order), its kind and its workspace.
    async fn refuse_taken_ids(&self, export: &WorkspaceExport) -> Result<()> {
        let ids = export.entity_ids();
        let (located, sources): (Vec<_>, Vec<_>) = ids.iter().partition(|(_, kind)| *kind != "codex source");
        let located: Vec<String> = located.into_iter().map(|(id, _)| id.clone()).collect();
        if let Some((id, existing_kind, location)) = self.catalog().first_known(&located).await? {
            let kind = ids.iter().find(|(i, _)| *i == id).map_or("entity", |(_, kind)| *kind);
            return Err(CoreError::IdTaken { kind, id, existing_kind: existing_kind.as_str(), workspace: location.workspace_id });
        }
        // Codex sources are not in the location table; the workspace indexes
        // list them, one document per workspace.
        if !sources.is_empty() {
            let mut owners = HashMap::new();
            for index in self.workspace_indexes().await? {
                owners.extend(index.codex.keys().map(|source_id| (source_id.to_string(), index.id)));
            }
            if let Some((id, owner)) = sources.iter().find_map(|(id, _)| owners.get(id).map(|owner| (id, owner))) {
                return Err(CoreError::IdTaken { kind: "codex source", id: id.clone(), existing_kind: "codex source", workspace: owner.to_string() });
            }
        }
        Ok(())
    }

    /// Exports a workspace to `path` as pretty JSON. The file is written next
    /// to its destination and renamed into place, so a crash never leaves a
    /// half-written export where a good one was.
    pub async fn export_to_file(&self, workspace_id: rf_domain::WorkspaceId, path: &Path) -> Result<WorkspaceExport> {
        let export = self.export_workspace(workspace_id).await?;
        let mut json = serde_json::to_vec_pretty(&export).expect("export types always serialise");
        json.push(b'\n');
        rf_store::files::write_atomically(path, &json).map_err(|source| CoreError::Io {
            action: "could not write the export to",
            path: path.to_owned(),
            source,
        })?;
        Ok(export)
    }
}
