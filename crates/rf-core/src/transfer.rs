//! Export a workspace to one JSON file, and import such a file as a new
//! workspace on this device. Import checks the whole file before it writes
//! anything, so a bad file changes nothing.

use std::{collections::BTreeSet, path::Path};

use rf_domain::{Campaign, CampaignId, CodexSource, Timestamp, WorkspaceIndex, validate_name, validate_text};
use rf_store::{EntityKind, EntityLocation};
use serde::{Deserialize, Serialize};

use crate::{CAMPAIGN_DOC, Core, CoreError, INDEX_DOC, Result, campaigns::validate_budget, workspaces::validate_brand_codex};

/// The `format` field of every export file.
pub const EXPORT_FORMAT: &str = "raptorflow.workspace";
/// The export format version this build writes and reads.
pub const EXPORT_VERSION: u64 = 1;
/// Largest import file accepted, in bytes.
pub const MAX_IMPORT_BYTES: u64 = 256 * 1024 * 1024;

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
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Self> {
        let import_error = |reason: String| CoreError::Import { path: path.to_owned(), reason };
        let text = std::str::from_utf8(bytes)
            .map_err(|err| import_error(format!("the file is not UTF-8 text (invalid byte at offset {})", err.valid_up_to())))?;
        let value: serde_json::Value = serde_json::from_str(text).map_err(|err| {
            import_error(format!("the file is not JSON: {err} (line {}, column {})", err.line(), err.column()))
        })?;
        let format = value.get("format").and_then(|f| f.as_str());
        if format != Some(EXPORT_FORMAT) {
            return Err(import_error(format!(
                "the field `format` must be \"{EXPORT_FORMAT}\", found {}",
                value.get("format").map_or("nothing".to_string(), |f| f.to_string())
            )));
        }
        let export: WorkspaceExport = serde_path_to_error::deserialize(value).map_err(|err| {
            let at = err.path().to_string();
            import_error(format!("at `{at}`: {}", err.into_inner()))
        })?;
        if export.version != EXPORT_VERSION {
            return Err(import_error(format!(
                "export version {} is not supported; this build reads version {EXPORT_VERSION}",
                export.version
            )));
        }
        export.check().map_err(import_error)?;
        Ok(export)
    }

    /// Cross-field rules serde cannot express.
    fn check(&self) -> std::result::Result<(), String> {
        let workspace = &self.workspace;
        validate_name("workspace name", &workspace.name).map_err(|e| format!("at `workspace.name`: {e}"))?;
        validate_brand_codex(&workspace.brand).map_err(|e| format!("at `workspace.brand`: {e}"))?;
        let listed: BTreeSet<CampaignId> = workspace.campaigns.keys().copied().collect();
        let mut present = BTreeSet::new();
        for (i, campaign) in self.campaigns.iter().enumerate() {
            let at = format!("campaigns[{i}]");
            if campaign.workspace_id != workspace.id {
                return Err(format!(
                    "at `{at}.workspace_id`: campaign {} belongs to workspace {}, not {}",
                    campaign.id, campaign.workspace_id, workspace.id
                ));
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
                validate_name("move title", &the_move.title)
                    .map_err(|e| format!("at `{at}.moves.{move_id}.title`: {e}"))?;
                if let Some(missing) = the_move.assets.iter().find(|a| !campaign.assets.contains_key(a)) {
                    return Err(format!("at `{at}.moves.{move_id}.assets`: asset {missing} is not in the campaign"));
                }
            }
        }
        if let Some(missing) = listed.difference(&present).next() {
            return Err(format!(
                "at `workspace.campaigns.{missing}`: the campaign is listed but its document is not in `campaigns`"
            ));
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
        Ok(WorkspaceExport {
            format: EXPORT_FORMAT.to_string(),
            version: EXPORT_VERSION,
            exported_at: Timestamp::now(),
            workspace,
            campaigns,
            codex_sources,
        })
    }

    /// Reads an export file from disk and imports it.
    pub async fn import_file(&self, path: &Path) -> Result<WorkspaceIndex> {
        let len = std::fs::metadata(path)
            .map_err(|source| CoreError::Io { action: "could not read", path: path.to_owned(), source })?
            .len();
        if len > MAX_IMPORT_BYTES {
            return Err(CoreError::Import {
                path: path.to_owned(),
                reason: format!("the file is {len} bytes; the limit is {MAX_IMPORT_BYTES}"),
            });
        }
        let bytes = std::fs::read(path)
            .map_err(|source| CoreError::Io { action: "could not read", path: path.to_owned(), source })?;
        let export = WorkspaceExport::parse(&bytes, path)?;
        self.import_workspace(export).await
    }

    /// Imports a checked export as a new workspace on this device, keeping its
    /// ids. Refused if the workspace or any of its campaigns already exists here.
    pub async fn import_workspace(&self, export: WorkspaceExport) -> Result<WorkspaceIndex> {
        let workspace_id = export.workspace.id;
        if self.catalog.workspace_index(&workspace_id.to_string()).await?.is_some() {
            return Err(CoreError::AlreadyExists { what: "workspace", id: workspace_id.to_string() });
        }
        for campaign in &export.campaigns {
            if self.catalog.location(&campaign.id.to_string(), EntityKind::Campaign).await?.is_some() {
                return Err(CoreError::AlreadyExists { what: "campaign", id: campaign.id.to_string() });
            }
        }
        // Campaign documents first, then the index that points at them, then
        // the catalog row that makes the workspace visible: a crash part way
        // leaves only unreachable documents, never a workspace with holes.
        let mut index = export.workspace;
        let mut locations = Vec::new();
        for campaign in &export.campaigns {
            let doc_id = self.docs.create(campaign, CAMPAIGN_DOC).await?;
            if let Some(entry) = index.campaigns.get_mut(&campaign.id) {
                entry.document = doc_id.to_string();
            }
            let location = EntityLocation { workspace_id: workspace_id.to_string(), campaign_id: campaign.id.to_string() };
            locations.push((campaign.id.to_string(), EntityKind::Campaign, location.clone()));
            locations.extend(campaign.moves.keys().map(|m| (m.to_string(), EntityKind::Move, location.clone())));
            locations.extend(campaign.assets.keys().map(|a| (a.to_string(), EntityKind::Asset, location.clone())));
        }
        for source in &export.codex_sources {
            let doc_id = self.docs.create(source, crate::codex::SOURCE_DOC).await?;
            if let Some(entry) = index.codex.get_mut(&source.id) {
                entry.document = doc_id.to_string();
            }
        }
        let index_doc = self.docs.create(&index, INDEX_DOC).await?;
        self.catalog.add_workspace(&workspace_id.to_string(), &index_doc, Timestamp::now().as_millis()).await?;
        self.catalog.set_locations(&locations).await?;
        tracing::info!(%workspace_id, n_campaigns = export.campaigns.len(), "workspace imported");
        Ok(index)
    }
}

impl Core {
    /// Exports a workspace to `path` as pretty JSON. The file is written next
    /// to its destination and renamed into place, so a crash never leaves a
    /// half-written export where a good one was.
    pub async fn export_to_file(&self, workspace_id: rf_domain::WorkspaceId, path: &Path) -> Result<WorkspaceExport> {
        let export = self.export_workspace(workspace_id).await?;
        let mut json = serde_json::to_vec_pretty(&export).expect("export types always serialise");
        json.push(b'\n');
        let io_error = |action: &'static str| move |source| CoreError::Io { action, path: path.to_owned(), source };
        let file_name = path.file_name().ok_or_else(|| CoreError::Io {
            action: "cannot export to",
            path: path.to_owned(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "the path has no file name"),
        })?;
        let mut temp_name = std::ffi::OsString::from(".");
        temp_name.push(file_name);
        temp_name.push(".partial");
        let temp_path = path.with_file_name(temp_name);
        std::fs::write(&temp_path, &json).map_err(io_error("could not write the export to"))?;
        if let Err(err) = std::fs::rename(&temp_path, path) {
            let _ = std::fs::remove_file(&temp_path);
            return Err(io_error("could not write the export to")(err));
        }
        Ok(export)
    }
}
