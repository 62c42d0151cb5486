//! RaptorFlow's storage layer.
//!
//! One SQLite file per data directory, opened through sqlx with WAL and
//! `synchronous = FULL`. Automerge documents are held by a samod [`samod::Repo`]
//! whose storage adapter ([`SqliteChunkStorage`]) writes samod's chunks into a
//! key/value table, so the same repo can later sync with peers unchanged.
//! [`DocStore`] wraps the repo: callers create, read and change documents as
//! typed values, and a change call returns only once samod has written the
//! change to SQLite and the transaction has committed.
//!
//! Local-only tables (the workspace catalog, the entity location cache) live
//! in [`Catalog`]. [`files`] replaces whole files atomically.

mod catalog;
mod changes;
mod chunk_storage;
mod database;
mod documents;
mod error;
pub mod files;
mod setup_lock;

pub use catalog::{Catalog, EntityKind, EntityLocation, SyncBinding};
pub use changes::{CHUNK_LOG_KEEP_MS, Changed};
pub use chunk_storage::SqliteChunkStorage;
pub use database::{APPLICATION_ID, DATABASE_FILE_NAME, open_database, open_sqlite};
pub use documents::{DocId, DocStore, StorageStats, SyncOutcome};
pub use error::{Result, StoreError};
pub use setup_lock::{DamageCheck, SetupError, SetupLock, set_up_sqlite};
