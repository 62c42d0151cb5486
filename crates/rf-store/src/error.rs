//! Errors of the storage layer. Every variant says which file or document it
//! concerns.

use std::path::PathBuf;

/// What went wrong in storage.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file exists but is not a SQLite database at all.
    #[error(
        "{} is not a RaptorFlow database (the file is not SQLite: {detail}); it was left untouched. \
         Move it aside or point --data-dir at another directory"
    , path.display())]
    NotADatabase { path: PathBuf, detail: String },
    /// The database file is SQLite but was made by another program: its
    /// application id is not RaptorFlow's, or it is 0 and the file lacks our
    /// migration history.
    #[error(
        "{} is not a RaptorFlow database (it is a SQLite file of another program: {detail}); it was left untouched. \
         Move it aside or point --data-dir at another directory"
    , path.display())]
    Foreign { path: PathBuf, detail: String },
    /// The database file is SQLite but damaged (truncated, malformed pages).
    #[error(
        "{} is damaged ({detail}); it was left untouched. Restore it from a backup or an export, \
         or move it aside to start a fresh data directory"
    , path.display())]
    Corrupt { path: PathBuf, detail: String },
    /// The database could not be opened for another reason (permissions, disk).
    #[error("could not open the database at {}: {source}", path.display())]
    Open { path: PathBuf, source: sqlx::Error },
    /// Applying schema migrations failed.
    #[error("could not prepare the database schema at {}: {source}", path.display())]
    Migrate { path: PathBuf, source: sqlx::migrate::MigrateError },
    /// A query failed.
    #[error("database error while {action}: {source}")]
    Query { action: &'static str, source: sqlx::Error },
    /// No document with this id is stored on this device.
    #[error("document {document} is not stored on this device")]
    DocumentNotFound { document: String },
    /// A document id that does not parse.
    #[error("invalid document id '{document}'")]
    InvalidDocumentId { document: String },
    /// A stored document does not have the expected shape.
    #[error("document {document} could not be read as a {expected}: {source}")]
    Hydrate { document: String, expected: &'static str, source: Box<autosurgeon::HydrateError> },
    /// A value could not be written into a document.
    #[error("could not write a {expected} into document {document}: {source}")]
    Reconcile { document: String, expected: &'static str, source: Box<autosurgeon::ReconcileError> },
    /// A change was made in memory but could not be confirmed as written.
    #[error("a change to document {document} could not be saved: {reason}")]
    NotSaved { document: String, reason: String },
    /// Reading chunks from the database failed, so a document may be incomplete.
    #[error("could not read document {document} from the database: {reason}")]
    LoadFailed { document: String, reason: String },
    /// The document repository has been shut down.
    #[error("the document store is shut down")]
    Stopped,
}

/// Result alias for the storage crate.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
