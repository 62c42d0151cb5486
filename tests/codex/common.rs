//! What the Codex tests share: the real embedder, a data directory with a
//! workspace, the fixture corpus and its labelled queries.

#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};

use rf_core::{
    Core, CoreConfig, LocalUser,
    codex::{AddOptions, FileOutcome, FileReport},
};
use rf_domain::{UserId, WorkspaceId};

/// The corpus: realistic documents of one brand, in every supported format.
pub fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/codex/corpus")
}

/// The models directory scripts/test.sh fetched the real models into
/// (all-MiniLM-L6-v2 for the Codex).
pub fn models_dir() -> PathBuf {
    std::env::var_os("RAPTORFLOW_MODELS_DIR")
        .expect("RAPTORFLOW_MODELS_DIR is not set: run the tests through ./scripts/test.sh, which fetches the models")
        .into()
}

/// A Core on a fresh data directory under `dir`, with the real models.
pub async fn core(dir: &Path) -> Core {
    let user = LocalUser { id: "tester".parse::<UserId>().unwrap(), display_name: "Tester".to_owned() };
    let config = CoreConfig { models_dir: models_dir(), threads: 1, ..CoreConfig::new(&dir.join("data"), user) };
    Core::open_with(config).await.unwrap()
}

/// A fresh data directory with one workspace.
pub async fn core_with_workspace(dir: &Path) -> (Core, WorkspaceId) {
    let core = core(dir).await;
    let workspace = core.create_workspace("Kestrel Cycles").await.unwrap().id;
    (core, workspace)
}

/// Imports `paths` with no progress display.
pub async fn add(core: &Core, workspace: WorkspaceId, paths: &[PathBuf]) -> Vec<FileReport> {
    add_with(core, workspace, paths, &AddOptions::default()).await
}

/// Imports `paths` with `options` and no progress display.
pub async fn add_with(core: &Core, workspace: WorkspaceId, paths: &[PathBuf], options: &AddOptions) -> Vec<FileReport> {
    core.codex_add(workspace, paths, options, &mut |_| {}).await.unwrap()
}

/// The report of the file whose path ends with `suffix`.
pub fn outcome<'a>(reports: &'a [FileReport], suffix: &str) -> &'a FileOutcome {
    &reports.iter().find(|r| r.path.ends_with(suffix)).unwrap_or_else(|| panic!("no report for {suffix}: {reports:#?}")).outcome
}

/// Lowercase letters and digits of `text`, each with the index of the
/// character it came from: quotes are matched on these, so that whitespace,
/// punctuation and markup a format adds or drops do not matter.
pub fn letters(text: &str) -> (Vec<char>, Vec<usize>) {
    let mut letters = Vec::new();
    let mut at = Vec::new();
    for (i, c) in text.chars().enumerate() {
        if c.is_alphanumeric() {
            for lower in c.to_lowercase() {
                letters.push(lower);
                at.push(i);
            }
        }
    }
    (letters, at)
}

/// Where `quote` is in `text`, as a character span, ignoring everything but
/// letters and digits.
pub fn find_quote(text: &str, quote: &str) -> Option<(usize, usize)> {
    let (haystack, at) = letters(text);
    let (needle, _) = letters(quote);
    if needle.is_empty() || needle.len() > haystack.len() {
        return None;
    }
    let start = haystack.windows(needle.len()).position(|w| w == needle.as_slice())?;
    Some((at[start], at[start + needle.len() - 1] + 1))
}
