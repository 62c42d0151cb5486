//! The Codex of a workspace: import files, list and remove sources, search.
//!
//! A source's extracted text is a document of the workspace (listed in the
//! index document, synced to teammates). The passages, vectors and keyword
//! index are derived on each device by rf-codex and brought up to date
//! before every search, so a source a teammate imported is searchable here
//! once it has synced.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

pub use rf_codex::{CODEX_FILE_NAME, ExcludedDir, FileProblem, IndexProgress, Passage, SearchMode, SearchOptions, SkipReason};
use rf_codex::{Codex, Found, IndexReport, Limits, SourceText, WalkOptions, collect_files, extract_file};
use rf_domain::{CodexEntry, CodexSource, SourceId, Timestamp, WorkspaceId};
use rf_store::DocId;
use serde::Serialize;

use crate::{Core, CoreError, Result, engine::MeteredEmbedder};

pub use rf_ai::Embedder;

/// Document kind, as named in storage errors.
pub(crate) const SOURCE_DOC: &str = "codex source";

/// How an import reads the paths it is given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddOptions {
    /// Follow symbolic links inside folders whose target is inside the given
    /// paths (each folder and file is still read once). Off by default: links
    /// inside folders are skipped and reported.
    pub follow_symlinks: bool,
    /// Folders never imported besides the data directory, which never is
    /// (the CLI adds its models directory).
    pub excluded: Vec<ExcludedDir>,
}

/// What happened to one file of an import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct FileReport {
    pub path: PathBuf,
    #[serde(flatten)]
    pub outcome: FileOutcome,
}

/// The outcome of importing one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum FileOutcome {
    /// A new source.
    Added { source_id: SourceId, title: String, n_chunks: usize, n_embedded: usize },
    /// A source whose file changed since it was imported; its passages were
    /// replaced (unchanged passages kept their vectors).
    Updated { source_id: SourceId, title: String, n_chunks: usize, n_embedded: usize },
    /// Imported before and unchanged: nothing was done.
    Unchanged { source_id: SourceId, title: String },
    /// Not imported; the rest of the batch was.
    Failed { error: String },
    /// Left out on purpose (a symbolic link, RaptorFlow's own data, a file
    /// already read through another path); not a failure.
    Skipped {
        #[serde(serialize_with = "serialize_display")]
        #[cfg_attr(feature = "specta", specta(type = String))]
        reason: SkipReason,
    },
}

/// Progress of a Codex operation, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodexProgress<'a> {
    /// Starting on file `index` (from 0) of `n_files`.
    File { index: usize, n_files: usize, path: &'a Path },
    /// Indexing a source that synced from a teammate or changed: `index` of `n_sources`.
    Source { index: usize, n_sources: usize, title: &'a str },
    /// Inside the current file or source.
    Index(IndexProgress),
}

/// One source of a workspace's Codex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct SourceSummary {
    pub source_id: SourceId,
    pub path: String,
    pub title: String,
    pub media_type: String,
    pub content_hash: String,
    pub n_chars: u64,
    pub imported_at: Timestamp,
    /// Passages indexed on this device; `None` until it is indexed here.
    pub n_chunks: Option<usize>,
}

/// What bringing the local index up to date did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct RefreshReport {
    pub n_indexed: usize,
    pub n_removed: usize,
    pub n_embedded: usize,
}

impl Core {
    /// The local Codex index, opened on first use. A damaged index file is
    /// moved aside and a new one started: it only holds what the workspace's
    /// documents rebuild, which the next refresh does.
    pub(crate) async fn codex_index(&self) -> Result<&Codex> {
        self.inner.codex.get_or_try_init(|| async { Ok::<_, CoreError>(Codex::open_or_rebuild(&self.inner.data_dir.join(CODEX_FILE_NAME)).await?) }).await
    }

    /// Imports files and folders into a workspace's Codex. Files that cannot
    /// be read are reported as failed, links and RaptorFlow's own folders as
    /// skipped; the others are imported. Each file is saved (its text as a
    /// workspace document) before the next starts.
    async fn codex_add_with(
        &self,
        workspace_id: WorkspaceId,
        paths: &[PathBuf],
        options: &AddOptions,
        embedder: Arc<dyn Embedder>,
        progress: &mut (dyn FnMut(CodexProgress<'_>) + Send),
    ) -> Result<Vec<FileReport>> {
        // Fail on an unknown workspace before reading anything.
        self.index_doc(workspace_id).await?;
        let codex = self.codex_index().await?;
        let mut walk_options = WalkOptions { follow_symlinks: options.follow_symlinks, excluded: options.excluded.clone() };
        walk_options.excluded.push(ExcludedDir { what: "data directory", path: self.inner.data_dir.clone() });
        walk_options.excluded.push(ExcludedDir { what: "models directory", path: self.inner.engine.models_dir.clone() });
        let entries = tokio::task::spawn_blocking({
            let paths = paths.to_vec();
            move || collect_files(&paths, &walk_options)
        })
        .await
        .map_err(|err| CoreError::Io { action: "could not list", path: PathBuf::new(), source: std::io::Error::other(err) })?;
        let n_files = entries.iter().filter(|entry| entry.found == Found::File).count();
        let mut reports = Vec::with_capacity(entries.len());
        let mut index = 0;
        for entry in entries {
            let path = entry.path;
            let outcome = match entry.found {
                Found::Problem(problem) => FileOutcome::Failed { error: problem.to_string() },
                Found::Skipped(reason) => FileOutcome::Skipped { reason },
                Found::File => {
                    progress(CodexProgress::File { index, n_files, path: &path });
                    index += 1;
                    match self.codex_add_file(workspace_id, &path, codex, embedder.clone(), progress).await {
                        Ok(outcome) => outcome,
                        Err(CoreError::CodexFile { problem, .. }) => FileOutcome::Failed { error: problem.to_string() },
                        Err(err) => return Err(err),
                    }
                }
            };
            match &outcome {
                // The caller gets these in the report; a log line would say them twice.
                FileOutcome::Failed { error } => tracing::debug!(path = %path.display(), error, "not imported into the Codex"),
                FileOutcome::Skipped { reason } => tracing::debug!(path = %path.display(), %reason, "skipped by the Codex import"),
                _ => {}
            }
            reports.push(FileReport { path, outcome });
        }
        Ok(reports)
    }

    async fn codex_add_file(
        &self,
        workspace_id: WorkspaceId,
        path: &Path,
        codex: &Codex,
        embedder: Arc<dyn Embedder>,
        progress: &mut (dyn FnMut(CodexProgress<'_>) + Send),
    ) -> Result<FileOutcome> {
        let path = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
        let path_text = path.to_string_lossy().into_owned();
        let extracted = tokio::task::spawn_blocking({
            let path = path.clone();
            move || extract_file(&path, &Limits::default())
        })
        .await
        .map_err(|err| CoreError::CodexFile { path: path.clone(), problem: FileProblem::Unreadable(format!("the reader failed: {err}")) })?
        .map_err(|problem| CoreError::CodexFile { path: path.clone(), problem })?;

        let index = self.workspace(workspace_id).await?;
        let existing = index.codex.iter().find(|(_, entry)| entry.path == path_text).map(|(id, entry)| (*id, entry.clone()));
        let now = Timestamp::now();
        let source = CodexSource {
            schema: CodexSource::SCHEMA,
            id: existing.as_ref().map_or_else(SourceId::new, |(id, _)| *id),
            workspace_id,
            path: path_text.clone(),
            title: extracted.title.clone(),
            media_type: extracted.media_type.as_str().to_owned(),
            content_hash: extracted.content_hash.clone(),
            imported_by: self.inner.user.id.clone(),
            imported_at: now,
            text: extracted.text,
        };
        let source_id = source.id;
        let entry = CodexEntry {
            document: String::new(),
            path: path_text,
            title: source.title.clone(),
            media_type: source.media_type.clone(),
            content_hash: source.content_hash.clone(),
            n_chars: source.text.chars().count() as u64,
            imported_at: now,
        };
        let updated = match existing {
            Some((_, old)) if old.content_hash == source.content_hash => {
                let indexed = codex.indexed(workspace_id).await?;
                if !indexed.get(&source_id).is_some_and(|i| i.is_current(&old.content_hash, embedder.model_id())) {
                    self.codex_index_source(workspace_id, codex, &source_text_of(&source), embedder, progress).await?;
                }
                return Ok(FileOutcome::Unchanged { source_id, title: old.title });
            }
            Some((_, old)) => {
                let doc_id: DocId = old.document.parse()?;
                let replacement = source.clone();
                self.docs()
                    .update(&doc_id, SOURCE_DOC, format!("reimport codex source {source_id}"), move |stored: &mut CodexSource| {
                        *stored = replacement;
                        Ok::<_, CoreError>(())
                    })
                    .await?;
                let entry = CodexEntry { document: old.document, ..entry };
                self.update_index(workspace_id, format!("update codex source {source_id}"), move |index| {
                    index.codex.insert(source_id, entry);
                    Ok(())
                })
                .await?;
                true
            }
            None => {
                let doc_id = self.docs().create(&source, SOURCE_DOC).await?;
                let entry = CodexEntry { document: doc_id.to_string(), ..entry };
                self.update_index(workspace_id, format!("add codex source {source_id}"), move |index| {
                    index.codex.insert(source_id, entry);
                    Ok(())
                })
                .await?;
                false
            }
        };
        let report = self.codex_index_source(workspace_id, codex, &source_text_of(&source), embedder, progress).await?;
        let (title, n_chunks, n_embedded) = (source.title, report.n_chunks, report.n_embedded);
        Ok(if updated {
            FileOutcome::Updated { source_id, title, n_chunks, n_embedded }
        } else {
            FileOutcome::Added { source_id, title, n_chunks, n_embedded }
        })
    }

    async fn codex_index_source(
        &self,
        workspace_id: WorkspaceId,
        codex: &Codex,
        source: &SourceText,
        embedder: Arc<dyn Embedder>,
        progress: &mut (dyn FnMut(CodexProgress<'_>) + Send),
    ) -> Result<IndexReport> {
        let mut forward = |p: IndexProgress| progress(CodexProgress::Index(p));
        Ok(codex.index_source(workspace_id, source, embedder, &mut forward).await?)
    }

    /// The sources of a workspace's Codex, by title.
    pub async fn codex_list(&self, workspace_id: WorkspaceId) -> Result<Vec<SourceSummary>> {
        let index = self.workspace(workspace_id).await?;
        let indexed = self.codex_index().await?.indexed(workspace_id).await?;
        let mut out: Vec<SourceSummary> = index
            .codex
            .into_iter()
            .map(|(source_id, entry)| SourceSummary {
                source_id,
                n_chunks: indexed.get(&source_id).filter(|i| i.content_hash == entry.content_hash).map(|i| i.n_chunks),
                path: entry.path,
                title: entry.title,
                media_type: entry.media_type,
                content_hash: entry.content_hash,
                n_chars: entry.n_chars,
                imported_at: entry.imported_at,
            })
            .collect();
        out.sort_by(|a, b| a.title.to_lowercase().cmp(&b.title.to_lowercase()).then(a.path.cmp(&b.path)));
        Ok(out)
    }

    /// A source's stored text and details.
    pub async fn codex_source(&self, workspace_id: WorkspaceId, source_id: SourceId) -> Result<CodexSource> {
        let index = self.workspace(workspace_id).await?;
        let entry = index.codex.get(&source_id).ok_or_else(|| codex_not_found(source_id))?;
        let doc_id: DocId = entry.document.parse()?;
        Ok(self.docs().read(&doc_id, SOURCE_DOC).await?)
    }

    /// Removes a source from a workspace's Codex (for every teammate, once
    /// synced) and its passages from this device's index.
    pub async fn codex_remove(&self, workspace_id: WorkspaceId, source_id: SourceId) -> Result<CodexEntry> {
        let removed = self
            .update_index(workspace_id, format!("remove codex source {source_id}"), move |index| {
                index.codex.remove(&source_id).ok_or_else(|| codex_not_found(source_id))
            })
            .await?;
        self.codex_index().await?.remove_source(workspace_id, source_id).await?;
        Ok(removed)
    }

    /// Brings this device's index of a workspace's Codex up to date with its
    /// documents: indexes sources that arrived by sync or changed, drops
    /// removed ones, re-embeds sources embedded with another model.
    async fn codex_refresh_with(
        &self,
        workspace_id: WorkspaceId,
        embedder: Arc<dyn Embedder>,
        progress: &mut (dyn FnMut(CodexProgress<'_>) + Send),
    ) -> Result<RefreshReport> {
        let index = self.workspace(workspace_id).await?;
        let codex = self.codex_index().await?;
        let indexed = codex.indexed(workspace_id).await?;
        let mut report = RefreshReport::default();
        for source_id in indexed.keys() {
            if !index.codex.contains_key(source_id) {
                codex.remove_source(workspace_id, *source_id).await?;
                report.n_removed += 1;
            }
        }
        let stale: Vec<(SourceId, &CodexEntry)> = index
            .codex
            .iter()
            .filter(|(id, entry)| !indexed.get(id).is_some_and(|i| i.is_current(&entry.content_hash, embedder.model_id())))
            .map(|(id, entry)| (*id, entry))
            .collect();
        let n_sources = stale.len();
        for (i, (source_id, entry)) in stale.into_iter().enumerate() {
            progress(CodexProgress::Source { index: i, n_sources, title: &entry.title });
            let doc_id: DocId = entry.document.parse()?;
            let source: CodexSource = match self.docs().read(&doc_id, SOURCE_DOC).await {
                Ok(source) => source,
                // Listed but not here yet (a sync still under way): next time.
                Err(rf_store::StoreError::DocumentNotFound { .. }) => {
                    tracing::info!(%source_id, "codex source not on this device yet");
                    continue;
                }
                Err(err) => return Err(err.into()),
            };
            let done = self.codex_index_source(workspace_id, codex, &source_text_of(&source), embedder.clone(), progress).await?;
            report.n_indexed += 1;
            report.n_embedded += done.n_embedded;
        }
        Ok(report)
    }

    /// The passages of a workspace's Codex that best answer `query`, after
    /// bringing the local index up to date.
    async fn codex_search_with(
        &self,
        workspace_id: WorkspaceId,
        query: &str,
        options: SearchOptions,
        embedder: Arc<dyn Embedder>,
        progress: &mut (dyn FnMut(CodexProgress<'_>) + Send),
    ) -> Result<Vec<Passage>> {
        self.codex_refresh_with(workspace_id, embedder.clone(), progress).await?;
        Ok(self.codex_index().await?.search(workspace_id, query, options, embedder).await?)
    }
}

impl Core {
    /// Imports files and folders into a workspace's Codex with this Core's
    /// embedding model (see [`Core::codex_add_with`]); the embedding is one
    /// ledger row.
    pub async fn codex_add(
        &self,
        workspace_id: WorkspaceId,
        paths: &[PathBuf],
        options: &AddOptions,
        progress: &mut (dyn FnMut(CodexProgress<'_>) + Send),
    ) -> Result<Vec<FileReport>> {
        self.with_metered_embedder(workspace_id, move |embedder| self.codex_add_with(workspace_id, paths, options, embedder, progress)).await
    }

    /// Brings this device's index of a workspace's Codex up to date (see
    /// [`Core::codex_refresh_with`]); any embedding is one ledger row.
    pub async fn codex_refresh(&self, workspace_id: WorkspaceId, progress: &mut (dyn FnMut(CodexProgress<'_>) + Send)) -> Result<RefreshReport> {
        self.with_metered_embedder(workspace_id, move |embedder| self.codex_refresh_with(workspace_id, embedder, progress)).await
    }

    /// The passages of a workspace's Codex that best answer `query` (see
    /// [`Core::codex_search_with`]); the embedding is one ledger row.
    pub async fn codex_search(
        &self,
        workspace_id: WorkspaceId,
        query: &str,
        options: SearchOptions,
        progress: &mut (dyn FnMut(CodexProgress<'_>) + Send),
    ) -> Result<Vec<Passage>> {
        self.with_metered_embedder(workspace_id, move |embedder| self.codex_search_with(workspace_id, query, options, embedder, progress)).await
    }

    /// Runs `work` with this Core's embedder, counted, and records what it
    /// embedded as one ledger row for the workspace, whether `work` succeeded or not.
    async fn with_metered_embedder<T, F, Fut>(&self, workspace_id: WorkspaceId, work: F) -> Result<T>
    where
        F: FnOnce(Arc<dyn Embedder>) -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let meter = Arc::new(MeteredEmbedder::new(self.inner.engine.embedder().await?));
        let result = work(meter.clone()).await;
        let context = rf_metering::ledger::CallContext {
            workspace_id: Some(workspace_id),
            user_id: self.inner.user.id.clone(),
            agent_id: None,
            run_id: None,
            caller: None,
        };
        self.record_embedding(&context, &meter).await?;
        result
    }
}

fn serialize_display<S: serde::Serializer>(value: &impl std::fmt::Display, serializer: S) -> std::result::Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

fn source_text_of(source: &CodexSource) -> SourceText {
    SourceText {
        id: source.id,
        path: source.path.clone(),
        title: source.title.clone(),
        media_type: source.media_type.clone(),
        content_hash: source.content_hash.clone(),
        text: source.text.clone(),
    }
}

fn codex_not_found(source_id: SourceId) -> CoreError {
    CoreError::NotFound { what: "Codex source", id: source_id.to_string(), hint: " in this workspace (see `raptorflow codex list`)" }
}
