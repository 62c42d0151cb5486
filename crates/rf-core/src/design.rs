//! Image briefs in Canva: `raptorflow asset design ASSET` makes a design of
//! the brief's aspect ratio (its shorter side 1080 pixels) titled with its
//! concept in the signed-in Canva account, and keeps its id and addresses
//! on the asset; `raptorflow asset export-design ASSET --format png --out
//! DIR` exports it, waits for Canva's export job, and downloads its files
//! (one a page). Canva's Connect API cannot place the brief's text or
//! pictures in the design without Canva Enterprise (autofill), so the
//! design starts empty: the designer opens it from the asset.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use rf_connectors::{
    Call, FetchOptions, Service,
    canva::{self, ExportFormat, JobStatus},
};
use rf_domain::{AssetContent, AssetId, DomainError, ExternalDesign, edit};
use rf_metering::ledger::CallContext;
use serde::Serialize;

use crate::{Core, CoreError, Result};

/// How often an export job is asked about, and for how long.
const POLL_EVERY: Duration = Duration::from_secs(1);
const POLL_FOR: Duration = Duration::from_secs(300);

/// A design of an asset.
#[derive(Debug, Clone, Serialize)]
pub struct AssetDesign {
    pub asset_id: AssetId,
    pub design: ExternalDesign,
    /// Made now (false: the asset already had it; nothing was sent).
    pub created: bool,
    /// Its size in pixels, when made now.
    pub size: Option<(u32, u32)>,
    /// The design it replaced (`--new`), which stays in Canva.
    pub replaced: Option<ExternalDesign>,
}

/// The files of an exported design.
#[derive(Debug, Clone, Serialize)]
pub struct ExportedDesign {
    pub asset_id: AssetId,
    pub design_id: String,
    pub format: ExportFormat,
    pub files: Vec<PathBuf>,
}

fn title_of(concept: &str) -> String {
    let concept = concept.split_whitespace().collect::<Vec<_>>().join(" ");
    if concept.chars().count() <= canva::MAX_TITLE_CHARS {
        return concept;
    }
    let mut title: String = concept.chars().take(canva::MAX_TITLE_CHARS - 1).collect();
    title.push('…');
    title
}

impl Core {
    /// Makes the Canva design of an image brief (see the module), or gives
    /// the one it has; `anew` makes a new one in its place (after the
    /// brief's aspect ratio changed: the old design stays in Canva).
    pub async fn design_asset(&self, asset_id: AssetId, anew: bool) -> Result<AssetDesign> {
        // One design at a time: a second request finds the first's design.
        let _designing = self.inner.publishing.lock().await;
        let view = self.asset(asset_id).await?;
        let AssetContent::ImageBrief { concept, aspect_ratio, .. } = &view.asset.content else {
            return Err(DomainError::Invalid {
                field: "asset kind",
                reason: format!("asset {asset_id} is a {}: only an image_brief is designed in Canva", view.kind),
            }
            .into());
        };
        if let Some(design) = view.asset.design.clone().filter(|_| !anew) {
            return Ok(AssetDesign { asset_id, design, created: false, size: None, replaced: None });
        }
        let size = canva::size_for_aspect_ratio(aspect_ratio).ok_or_else(|| DomainError::Invalid {
            field: "aspect_ratio",
            reason: format!("asset {asset_id}'s aspect ratio {aspect_ratio:?} is not W:H within Canva's 40 to 8000 pixels (write it like 1:1, 16:9 or 4:5)"),
        })?;
        let (index, doc_id) = self.campaign_open_for_changes(view.campaign_id).await?;
        let (connector, online) = self.configured_connector(Service::Canva).await?;
        let gateway = self.inner.engine.gateway().await?;
        let context = CallContext { workspace_id: Some(index.id), caller: Some(format!("design:{asset_id}")), ..CallContext::user(self.user().id.clone()) };
        let call = Call { connector: &connector, context: &context, options: FetchOptions { allow_network: online, use_cache: false } };
        let made = canva::create_design(&gateway, call, &title_of(concept), size).await?.value;
        let design = ExternalDesign { service: Service::Canva.name().to_owned(), id: made.id, edit_url: made.urls.edit_url, view_url: made.urls.view_url };
        let stored = design.clone();
        let kept = self
            .docs()
            .change(&doc_id, format!("design asset {asset_id} in Canva"), move |tx| {
                let mut asset =
                    edit::read_asset(tx, asset_id)?.ok_or_else(|| DomainError::Invalid { field: "asset id", reason: format!("asset {asset_id} is gone") })?;
                asset.design = Some(stored);
                edit::put_asset(tx, asset_id, &asset)?;
                Ok::<_, CoreError>(())
            })
            .await;
        // The design exists whatever happened here: say where.
        if let Err(err) = kept {
            return Err(CoreError::Conflict {
                what: format!("the design was made in Canva ({}), but asset {asset_id} could not keep it: {err}", design.edit_url),
            });
        }
        Ok(AssetDesign { asset_id, design, created: true, size: Some(size), replaced: view.asset.design })
    }

    /// Exports an asset's Canva design into `out_dir` (created if needed)
    /// as `ASSET.EXT`, or `ASSET-N.EXT` for each page of a longer design;
    /// `on_progress` hears what it is waiting for. A file is written whole
    /// or not at all.
    pub async fn export_design(&self, asset_id: AssetId, format: ExportFormat, out_dir: &Path, mut on_progress: impl FnMut(&str)) -> Result<ExportedDesign> {
        let _exporting = self.inner.exporting.lock().await;
        let view = self.asset(asset_id).await?;
        let design = match &view.asset.design {
            Some(design) if design.service == Service::Canva.name() => design.clone(),
            _ => {
                return Err(CoreError::Conflict { what: format!("asset {asset_id} has no Canva design: make one with `raptorflow asset design {asset_id}`") });
            }
        };
        let index = self.campaign_home(view.campaign_id).await?.0;
        std::fs::create_dir_all(out_dir).map_err(|source| CoreError::Io { action: "create the export folder", path: out_dir.to_owned(), source })?;
        let (connector, online) = self.configured_connector(Service::Canva).await?;
        let gateway = self.inner.engine.gateway().await?;
        let context = CallContext { workspace_id: Some(index.id), caller: Some(format!("design:{asset_id}")), ..CallContext::user(self.user().id.clone()) };
        let call = Call { connector: &connector, context: &context, options: FetchOptions { allow_network: online, use_cache: false } };
        let mut job = canva::create_export(&gateway, call, &design.id, format).await?.value;
        on_progress(&format!("Canva is exporting design {} as {} (job {})", design.id, format.extension(), job.id));
        let started = std::time::Instant::now();
        while job.status == JobStatus::InProgress {
            if started.elapsed() > POLL_FOR {
                return Err(CoreError::Conflict {
                    what: format!("Canva's export job {} did not finish within {} s; nothing was written: export again later", job.id, POLL_FOR.as_secs()),
                });
            }
            tokio::time::sleep(POLL_EVERY).await;
            job = canva::export_job(&gateway, call, &job.id).await?.value;
        }
        if job.status == JobStatus::Failed {
            let why = job.error.map(|e| format!("{}: {}", e.code, e.message)).unwrap_or_else(|| "no reason given".into());
            return Err(CoreError::Conflict { what: format!("Canva could not export design {} ({why}); nothing was written", design.id) });
        }
        if job.urls.is_empty() {
            return Err(CoreError::Conflict { what: format!("Canva's export job {} finished without any file; nothing was written", job.id) });
        }
        // Every page is fetched before any file is written: an export is
        // written whole or not at all.
        let mut pages = Vec::new();
        for (page, address) in job.urls.iter().enumerate() {
            on_progress(&format!("downloading page {} of {}", page + 1, job.urls.len()));
            pages.push(canva::download(&gateway, call, address).await?);
        }
        let extension = format.extension();
        let files: Vec<PathBuf> = (1..=pages.len())
            .map(|page| out_dir.join(if pages.len() == 1 { format!("{asset_id}.{extension}") } else { format!("{asset_id}-{page}.{extension}") }))
            .collect();
        write_all(&files, &pages)?;
        // Pages of an earlier, longer export would mix with this one.
        let stale = |page: usize| out_dir.join(format!("{asset_id}-{page}.{extension}"));
        let mut page = if pages.len() == 1 { 1 } else { pages.len() + 1 };
        while stale(page).exists() {
            let _ = std::fs::remove_file(stale(page));
            page += 1;
        }
        if pages.len() > 1 {
            let _ = std::fs::remove_file(out_dir.join(format!("{asset_id}.{extension}")));
        }
        Ok(ExportedDesign { asset_id, design_id: design.id, format, files })
    }
}

/// Writes each file beside its place under a name of its own, then moves
/// them all into place, keeping what they replace until every one is in:
/// if anything fails, the earlier files are put back and the new ones
/// removed.
fn write_all(paths: &[PathBuf], contents: &[Vec<u8>]) -> Result<()> {
    let run = uuid::Uuid::now_v7().simple().to_string();
    let beside = |path: &Path, what: &str| {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        path.with_file_name(format!(".{name}.{run}.{what}"))
    };
    let io = |action, path: &Path, source| CoreError::Io { action, path: path.to_owned(), source };
    let mut written = Vec::new();
    let mut kept = Vec::new();
    let mut placed = Vec::new();
    let outcome = (|| {
        for (path, bytes) in paths.iter().zip(contents) {
            let partial = beside(path, "partial");
            std::fs::write(&partial, bytes).map_err(|err| io("write the exported file", path, err))?;
            written.push((partial, path.clone()));
        }
        for (partial, path) in &written {
            if path.exists() {
                let old = beside(path, "old");
                std::fs::rename(path, &old).map_err(|err| io("set aside the earlier export", path, err))?;
                kept.push((old, path.clone()));
            }
            std::fs::rename(partial, path).map_err(|err| io("move the exported file into place", path, err))?;
            placed.push(path.clone());
        }
        Ok(())
    })();
    match outcome {
        Ok(()) => {
            for (old, _) in &kept {
                let _ = std::fs::remove_file(old);
            }
            Ok(())
        }
        Err(err) => {
            for path in &placed {
                let _ = std::fs::remove_file(path);
            }
            for (partial, _) in &written {
                let _ = std::fs::remove_file(partial);
            }
            for (old, path) in &kept {
                let _ = std::fs::rename(old, path);
            }
            Err(err)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::title_of;

    #[test]
    fn a_concept_becomes_a_title_within_canvas_limit() {
        assert_eq!(title_of("  A folded bike\\non a\\ttrain  "), "A folded bike\\non a\\ttrain");
        assert_eq!(title_of("A folded bike\non a\ttrain"), "A folded bike on a train");
        let long = title_of(&"word ".repeat(100));
        assert_eq!(long.chars().count(), 255);
        assert!(long.ends_with('…'));
    }
}
