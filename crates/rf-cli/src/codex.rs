//! `raptorflow codex`: import files into a workspace's knowledge base, list
//! and remove them, and search them with citations.

use std::{
    io::{IsTerminal, Write},
    path::PathBuf,
};

use clap::Subcommand;
use rf_core::domain::{SourceId, WorkspaceId, escape_for_display};
use rf_core::{
    Core, CoreError,
    codex::{AddOptions, CodexProgress, FileOutcome, FileReport, IndexProgress, SearchMode, SearchOptions, SkipReason},
};
use serde_json::json;

use crate::output::Output;

#[derive(Debug, Subcommand)]
pub(crate) enum CodexCommand {
    /// Import files and folders (Markdown, text, HTML, PDF, DOCX, CSV).
    /// Unchanged files are skipped; changed files replace their passages.
    Add {
        #[arg(long, value_name = "ID")]
        workspace: WorkspaceId,
        /// Files or folders (folders are read recursively; hidden entries and
        /// symbolic links inside them are skipped).
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// Follow symbolic links inside folders when they point inside the
        /// given paths (links elsewhere are still skipped; each file is read once).
        #[arg(long)]
        follow_symlinks: bool,
        /// Threads for the embedder (1 or 2 is best on a laptop).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
        threads: Option<u16>,
    },
    /// List the sources of a workspace's Codex.
    List {
        #[arg(long, value_name = "ID")]
        workspace: WorkspaceId,
    },
    /// Remove a source (for teammates too, once synced).
    Remove {
        #[arg(long, value_name = "ID")]
        workspace: WorkspaceId,
        source_id: SourceId,
    },
    /// Search a workspace's Codex: the best passages, with where they come from.
    Search {
        #[arg(long, value_name = "ID")]
        workspace: WorkspaceId,
        /// Passages to return.
        #[arg(long, short, default_value_t = 5, value_name = "N")]
        k: usize,
        /// hybrid (default), vector or keyword.
        #[arg(long, default_value = "hybrid", value_name = "MODE")]
        mode: String,
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
        threads: Option<u16>,
        /// What to look for.
        #[arg(required = true, value_name = "QUERY")]
        query: Vec<String>,
    },
}

impl CodexCommand {
    pub(crate) fn threads(&self) -> Option<u16> {
        match self {
            Self::Add { threads, .. } | Self::Search { threads, .. } => *threads,
            Self::List { .. } | Self::Remove { .. } => None,
        }
    }
}

/// Sources with at least this many passages to embed get progress lines
/// when stderr is not a terminal (a log or a pipe): one per tenth.
const LONG_SOURCE_PASSAGES: usize = 200;

/// Progress on stderr: a line redrawn in place on a terminal; otherwise one
/// line per file, and a line per tenth of a long file's passages. Names and
/// titles are escaped: they come from files and teammates.
struct ProgressLine {
    tty: bool,
    current: String,
    /// Tenths of the current source's passages reported (non-terminal only).
    tenths_shown: usize,
}

impl ProgressLine {
    fn new() -> Self {
        Self { tty: std::io::stderr().is_terminal(), current: String::new(), tenths_shown: 0 }
    }

    fn update(&mut self, event: CodexProgress<'_>) {
        match event {
            CodexProgress::File { index, n_files, path } => {
                self.start(format!("[{}/{n_files}] {}", index + 1, escape_for_display(&path.display().to_string())));
            }
            CodexProgress::Source { index, n_sources, title } => {
                self.start(format!("indexing [{}/{n_sources}] {}", index + 1, escape_for_display(title)));
            }
            CodexProgress::Index(progress) => self.index(progress),
        }
    }

    fn index(&mut self, progress: IndexProgress) {
        let detail = match progress {
            IndexProgress::Splitting { done_bytes, n_bytes } => format!("splitting {}%", done_bytes * 100 / n_bytes.max(1)),
            IndexProgress::Chunked { n_chunks, n_to_embed } => format!("{n_chunks} passages, {n_to_embed} to embed"),
            IndexProgress::Embedded { done, n_to_embed } => format!("{done}/{n_to_embed} passages embedded"),
        };
        let mut stderr = std::io::stderr().lock();
        if self.tty {
            let _ = write!(stderr, "\r\x1b[2K{}: {detail}", self.current);
        } else if let IndexProgress::Embedded { done, n_to_embed } = progress {
            let tenths = done * 10 / n_to_embed.max(1);
            if n_to_embed >= LONG_SOURCE_PASSAGES && tenths > self.tenths_shown {
                self.tenths_shown = tenths;
                let _ = writeln!(stderr, "{}: {detail}", self.current);
            }
        }
        let _ = stderr.flush();
    }

    /// A new file or source: redrawn in place on a terminal, a line otherwise.
    fn start(&mut self, line: String) {
        self.current = line;
        self.tenths_shown = 0;
        let mut stderr = std::io::stderr().lock();
        if self.tty {
            let _ = write!(stderr, "\r\x1b[2K{}", self.current);
        } else {
            let _ = writeln!(stderr, "{}", self.current);
        }
        let _ = stderr.flush();
    }

    fn done(&self) {
        if self.tty && !self.current.is_empty() {
            let _ = write!(std::io::stderr(), "\r\x1b[2K");
        }
    }
}

/// Runs a codex command. Returns a message when some files of an import
/// failed (the others were imported): the shell exits with code 2.
pub(crate) async fn run_codex(core: &Core, command: CodexCommand, out: &mut Output) -> Result<Option<String>, CoreError> {
    match command {
        CodexCommand::Add { workspace, paths, follow_symlinks, threads: _ } => {
            let mut progress = ProgressLine::new();
            // The data and models directories are never imported; rf-core sees to that.
            let options = AddOptions { follow_symlinks, excluded: Vec::new() };
            let reports = core.codex_add(workspace, &paths, &options, &mut |event| progress.update(event)).await;
            progress.done();
            let reports = reports?;
            let n_failed = reports.iter().filter(|r| matches!(r.outcome, FileOutcome::Failed { .. })).count();
            let n_skipped = reports.iter().filter(|r| matches!(r.outcome, FileOutcome::Skipped { .. })).count();
            out.document(&json!({ "workspace_id": workspace, "files": reports, "n_failed": n_failed, "n_skipped": n_skipped }), |text| {
                write_add(text, &reports, follow_symlinks);
            });
            Ok((n_failed > 0).then(|| format!("{n_failed} of {} files were not imported (see above); the others were", reports.len())))
        }
        CodexCommand::List { workspace } => {
            let sources = core.codex_list(workspace).await?;
            out.document(&sources, |text| {
                if sources.is_empty() {
                    text.push_str("the Codex is empty: add files with `raptorflow codex add --workspace ID PATH...`\n");
                }
                for source in &sources {
                    let chunks = source.n_chunks.map_or_else(|| "not indexed here yet".to_owned(), |n| format!("{n} passages"));
                    text.push_str(&format!(
                        "{}  {}  ({}, {} characters, {chunks})\n    {}\n",
                        source.source_id, source.title, source.media_type, source.n_chars, source.path
                    ));
                }
            });
            Ok(None)
        }
        CodexCommand::Remove { workspace, source_id } => {
            let removed = core.codex_remove(workspace, source_id).await?;
            out.document(&json!({ "removed": source_id, "path": removed.path, "title": removed.title }), |text| {
                text.push_str(&format!("removed {source_id} ({})\n", removed.title));
            });
            Ok(None)
        }
        CodexCommand::Search { workspace, k, mode, threads: _, query } => {
            let mode: SearchMode = mode.parse().map_err(CoreError::from)?;
            let query = query.join(" ");
            let mut progress = ProgressLine::new();
            let options = SearchOptions { mode, k, ..SearchOptions::default() };
            let passages = core.codex_search(workspace, &query, options, &mut |event| progress.update(event)).await;
            progress.done();
            let passages = passages?;
            out.document(&passages, |text| {
                if passages.is_empty() {
                    text.push_str("no passage matches\n");
                }
                for (i, p) in passages.iter().enumerate() {
                    text.push_str(&format!("{}. {} [{}..{}] score {:.4}\n   {}\n", i + 1, p.title, p.span[0], p.span[1], p.score, p.path));
                    for line in p.text.lines() {
                        text.push_str(&format!("   | {line}\n"));
                    }
                }
            });
            Ok(None)
        }
    }
}

fn write_add(text: &mut String, reports: &[FileReport], follow_symlinks: bool) {
    let mut n_links_skipped = 0;
    for report in reports {
        let path = report.path.display();
        match &report.outcome {
            FileOutcome::Added { source_id, n_chunks, n_embedded, .. } => {
                text.push_str(&format!("added      {path}  ({n_chunks} passages, {n_embedded} embedded) {source_id}\n"));
            }
            FileOutcome::Updated { source_id, n_chunks, n_embedded, .. } => {
                text.push_str(&format!("updated    {path}  ({n_chunks} passages, {n_embedded} embedded) {source_id}\n"));
            }
            FileOutcome::Unchanged { source_id, .. } => text.push_str(&format!("unchanged  {path}  {source_id}\n")),
            FileOutcome::Failed { error } => text.push_str(&format!("FAILED     {path}: {error}\n")),
            FileOutcome::Skipped { reason } => {
                n_links_skipped += usize::from(*reason == SkipReason::Symlink);
                text.push_str(&format!("skipped    {path}: {reason}\n"));
            }
        }
    }
    if n_links_skipped > 0 && !follow_symlinks {
        text.push_str(&format!("{n_links_skipped} symbolic links were skipped; --follow-symlinks follows the ones that point inside the given paths\n"));
    }
}
