//! The Codex's shared part: the text extracted from each imported source.
//!
//! A source's text belongs to the workspace and syncs to teammates; chunks
//! and embeddings are derived from it on each device and never synced.

use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};

use crate::{SourceId, Timestamp, UserId, WorkspaceId};

/// One imported source as listed in the workspace index: enough to list the
/// Codex and to tell whether a device's local index is up to date, without
/// reading the source documents.
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[serde(deny_unknown_fields)]
pub struct CodexEntry {
    /// The Automerge document id of the [`CodexSource`] document.
    pub document: String,
    /// The path the file was imported from, on the device that imported it.
    pub path: String,
    /// The document's title.
    pub title: String,
    /// The media type the text was extracted from, e.g. `text/markdown`.
    pub media_type: String,
    /// sha256 of the imported file's bytes, lowercase hex.
    pub content_hash: String,
    /// Characters of extracted text.
    pub n_chars: u64,
    /// When this version was imported.
    pub imported_at: Timestamp,
}

/// The document that holds one source's extracted text.
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[serde(deny_unknown_fields)]
pub struct CodexSource {
    /// Document format version; bumped when the shape changes incompatibly.
    pub schema: u64,
    /// This source's id.
    pub id: SourceId,
    /// The workspace it belongs to.
    pub workspace_id: WorkspaceId,
    /// The path the file was imported from.
    pub path: String,
    /// The document's title.
    pub title: String,
    /// The media type the text was extracted from.
    pub media_type: String,
    /// sha256 of the imported file's bytes, lowercase hex.
    pub content_hash: String,
    /// Who imported this version.
    pub imported_by: UserId,
    /// When this version was imported.
    pub imported_at: Timestamp,
    /// The extracted text. Citations are character spans into it.
    pub text: String,
}

impl CodexSource {
    /// The current document format version.
    pub const SCHEMA: u64 = 1;
}
