//! Server storage behind one trait: samod's chunks, and the access tables
//! (workspaces, members, tokens, which workspace owns each document).
//!
//! SQLite ([`sqlite`]) is the default, one file and no setup; PostgreSQL
//! ([`postgres`]) lets several server instances share one database. The
//! binary picks the backend from the `--db` URL; everything else is generic
//! over [`Backend`]. Both backends run the same SQL (`$n` placeholders work
//! in both), written once in [`sql_backend!`].

pub mod postgres;
pub mod sqlite;

use std::future::Future;

use rf_sync::Role;

/// A storage failure, with what was being done.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("could not open the database {url}: {source}")]
    Open { url: String, source: sqlx::Error },
    #[error("could not migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("could not set up the database {url}: {detail}")]
    Setup { url: String, detail: String },
    #[error("database error while {action}: {source}")]
    Query { action: &'static str, source: sqlx::Error },
    #[error("{0}")]
    Conflict(String),
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://...")]
    UnsupportedUrl(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A workspace on the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceRow {
    pub workspace_id: String,
    pub name: String,
    pub root_document: Option<String>,
}

/// A stored token, joined with the member it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    pub token_id: String,
    pub workspace_id: String,
    pub user_name: String,
    pub salt: String,
    pub hash: String,
    pub revoked: bool,
    /// The member's current role, or `None` if they were removed.
    pub role: Option<Role>,
}

/// Everything the server stores. Implementations are cheap to clone.
pub trait Backend: Clone + Send + Sync + 'static {
    /// `sqlite` or `postgres`, for logs and metrics.
    fn kind(&self) -> &'static str;
    fn close(&self) -> impl Future<Output = ()> + Send;

    fn chunk_load(&self, key: &str) -> impl Future<Output = Result<Option<Vec<u8>>>> + Send;
    /// Rows whose key equals `exact` or lies in `[lower, upper)`.
    fn chunk_load_range(&self, exact: &str, lower: &str, upper: &str) -> impl Future<Output = Result<Vec<(String, Vec<u8>)>>> + Send;
    fn chunk_load_all(&self) -> impl Future<Output = Result<Vec<(String, Vec<u8>)>>> + Send;
    /// The chunks among `keys` that exist, in any order, in one query per
    /// [`KEYS_PER_STATEMENT`] keys.
    fn chunk_load_many(&self, keys: &[String]) -> impl Future<Output = Result<Vec<(String, Vec<u8>)>>> + Send;
    /// Applies puts and deletes in order, in one transaction (group commit).
    /// Consecutive puts go in one multi-row statement, as do consecutive
    /// deletes.
    fn chunk_write(&self, ops: &[ChunkOp]) -> impl Future<Output = Result<()>> + Send;

    fn create_workspace(&self, row: &WorkspaceRow, now_ms: i64) -> impl Future<Output = Result<()>> + Send;
    /// A workspace by id or by name.
    fn find_workspace(&self, id_or_name: &str) -> impl Future<Output = Result<Option<WorkspaceRow>>> + Send;
    fn list_workspaces(&self) -> impl Future<Output = Result<Vec<WorkspaceRow>>> + Send;
    /// Sets the root document if none is set; returns the root afterwards.
    fn set_root_document(&self, workspace_id: &str, document: &str) -> impl Future<Output = Result<Option<String>>> + Send;

    /// Adds a member or changes their role.
    fn set_member(&self, workspace_id: &str, user: &str, role: Role, now_ms: i64) -> impl Future<Output = Result<()>> + Send;
    /// Removes a member and revokes their tokens for the workspace. False if
    /// they were not a member.
    fn remove_member(&self, workspace_id: &str, user: &str, now_ms: i64) -> impl Future<Output = Result<bool>> + Send;
    fn member_role(&self, workspace_id: &str, user: &str) -> impl Future<Output = Result<Option<Role>>> + Send;

    fn insert_token(&self, row: &TokenRow, now_ms: i64) -> impl Future<Output = Result<()>> + Send;
    fn token(&self, token_id: &str) -> impl Future<Output = Result<Option<TokenRow>>> + Send;
    /// False if there is no such token or it was already revoked.
    fn revoke_token(&self, token_id: &str, now_ms: i64) -> impl Future<Output = Result<bool>> + Send;

    fn document_workspace(&self, document: &str) -> impl Future<Output = Result<Option<String>>> + Send;
    /// Records `workspace_id` as the document's workspace unless it already
    /// has one; returns the workspace that owns it afterwards.
    fn claim_document(&self, document: &str, workspace_id: &str, now_ms: i64) -> impl Future<Output = Result<String>> + Send;
    fn count_documents(&self) -> impl Future<Output = Result<u64>> + Send;

    /// Keys of chunks that *other* server instances insert, as they commit,
    /// in batches (one per notification, see [`postgres`]); `None` where no
    /// other instance can share the database (SQLite).
    fn chunk_feed(&self) -> impl Future<Output = Result<Option<tokio::sync::mpsc::Receiver<Vec<String>>>>> + Send;

    /// A number that changes whenever workspaces, members or tokens change.
    fn access_version(&self) -> impl Future<Output = Result<i64>> + Send;
}

/// One write of a group commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkOp {
    Put { key: String, data: Vec<u8> },
    Delete { key: String },
}

/// Rows (or keys) per multi-row statement: well under SQLite's 32,766 and
/// PostgreSQL's 65,535 bind parameters.
pub const KEYS_PER_STATEMENT: usize = 256;

/// A group commit's writes as statements: runs of consecutive puts (a key put
/// twice in one run keeps its last data, as applying them in order would) and
/// runs of consecutive deletes. Order between runs is kept, so a delete after
/// a put of the same key still wins.
#[derive(Debug, PartialEq, Eq)]
enum WriteRun<'a> {
    Puts(Vec<(&'a str, &'a [u8])>),
    Deletes(Vec<&'a str>),
}

fn write_runs(ops: &[ChunkOp]) -> Vec<WriteRun<'_>> {
    let mut runs: Vec<WriteRun<'_>> = Vec::new();
    let mut put_index: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for op in ops {
        match op {
            ChunkOp::Put { key, data } => {
                if !matches!(runs.last(), Some(WriteRun::Puts(_))) {
                    runs.push(WriteRun::Puts(Vec::new()));
                    put_index.clear();
                }
                let Some(WriteRun::Puts(puts)) = runs.last_mut() else { unreachable!("a put run was just pushed") };
                match put_index.get(key.as_str()) {
                    Some(&i) => puts[i].1 = data,
                    None => {
                        put_index.insert(key, puts.len());
                        puts.push((key, data));
                    }
                }
            }
            ChunkOp::Delete { key } => match runs.last_mut() {
                Some(WriteRun::Deletes(keys)) => keys.push(key),
                _ => runs.push(WriteRun::Deletes(vec![key])),
            },
        }
    }
    runs
}

/// Opens the backend a URL names, creating and migrating it as needed.
#[derive(Debug, Clone)]
pub enum AnyBackend {
    Sqlite(sqlite::SqliteBackend),
    Postgres(postgres::PostgresBackend),
}

impl AnyBackend {
    pub async fn open(url: &str) -> Result<Self> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            Ok(Self::Sqlite(sqlite::SqliteBackend::open(path).await?))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres(postgres::PostgresBackend::open(url).await?))
        } else {
            Err(StoreError::UnsupportedUrl(redact_url(url)))
        }
    }
}

/// A database URL without its password, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

fn query(action: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |source| StoreError::Query { action, source }
}

fn parse_role(text: &str) -> Result<Role> {
    text.parse().map_err(|err: rf_sync::UnknownRole| StoreError::Conflict(format!("stored role is invalid: {err}")))
}

/// Implements [`Backend`] for a struct with a `pool` field. The
/// SQL is identical for SQLite and PostgreSQL.
macro_rules! sql_backend {
    ($backend:ty, $kind:literal) => {
        impl $crate::store::Backend for $backend {
            fn kind(&self) -> &'static str {
                $kind
            }

            async fn close(&self) {
                self.pool.close().await;
            }

            async fn chunk_feed(&self) -> $crate::store::Result<Option<tokio::sync::mpsc::Receiver<Vec<String>>>> {
                self.open_chunk_feed().await
            }

            async fn chunk_load(&self, key: &str) -> $crate::store::Result<Option<Vec<u8>>> {
                sqlx::query_scalar("SELECT data FROM chunks WHERE key = $1")
                    .bind(key)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err($crate::store::query("loading a chunk"))
            }

            async fn chunk_load_range(&self, exact: &str, lower: &str, upper: &str) -> $crate::store::Result<Vec<(String, Vec<u8>)>> {
                sqlx::query_as("SELECT key, data FROM chunks WHERE key = $1 OR (key >= $2 AND key < $3)")
                    .bind(exact)
                    .bind(lower)
                    .bind(upper)
                    .fetch_all(&self.pool)
                    .await
                    .map_err($crate::store::query("loading a document's chunks"))
            }

            async fn chunk_load_all(&self) -> $crate::store::Result<Vec<(String, Vec<u8>)>> {
                sqlx::query_as("SELECT key, data FROM chunks").fetch_all(&self.pool).await.map_err($crate::store::query("loading every chunk"))
            }

            async fn chunk_load_many(&self, keys: &[String]) -> $crate::store::Result<Vec<(String, Vec<u8>)>> {
                let mut rows = Vec::with_capacity(keys.len());
                for part in keys.chunks($crate::store::KEYS_PER_STATEMENT) {
                    let mut select = sqlx::QueryBuilder::new("SELECT key, data FROM chunks WHERE key IN (");
                    let mut list = select.separated(", ");
                    for key in part {
                        list.push_bind(key);
                    }
                    select.push(")");
                    rows.extend(select.build_query_as::<(String, Vec<u8>)>().fetch_all(&self.pool).await.map_err($crate::store::query("loading chunks"))?);
                }
                Ok(rows)
            }

            async fn chunk_write(&self, ops: &[$crate::store::ChunkOp]) -> $crate::store::Result<()> {
                let mut tx = self.pool.begin().await.map_err($crate::store::query("storing chunks"))?;
                for run in $crate::store::write_runs(ops) {
                    match run {
                        $crate::store::WriteRun::Puts(puts) => {
                            for part in puts.chunks($crate::store::KEYS_PER_STATEMENT) {
                                let mut insert = sqlx::QueryBuilder::new("INSERT INTO chunks (key, data) ");
                                insert.push_values(part, |mut row, (key, data)| {
                                    row.push_bind(*key).push_bind(*data);
                                });
                                insert.push(" ON CONFLICT (key) DO UPDATE SET data = excluded.data");
                                insert.build().execute(&mut *tx).await.map_err($crate::store::query("storing chunks"))?;
                            }
                        }
                        $crate::store::WriteRun::Deletes(keys) => {
                            for part in keys.chunks($crate::store::KEYS_PER_STATEMENT) {
                                let mut delete = sqlx::QueryBuilder::new("DELETE FROM chunks WHERE key IN (");
                                let mut list = delete.separated(", ");
                                for key in part {
                                    list.push_bind(*key);
                                }
                                delete.push(")");
                                delete.build().execute(&mut *tx).await.map_err($crate::store::query("deleting chunks"))?;
                            }
                        }
                    }
                }
                tx.commit().await.map_err($crate::store::query("committing chunks"))
            }

            async fn create_workspace(&self, row: &$crate::store::WorkspaceRow, now_ms: i64) -> $crate::store::Result<()> {
                // Write first, so that SQLite takes the write lock (waiting
                // its busy timeout) instead of failing to upgrade a read.
                let mut tx = self.pool.begin().await.map_err($crate::store::query("creating a workspace"))?;
                let inserted = sqlx::query("INSERT INTO workspaces (workspace_id, name, root_document, created_at_ms) VALUES ($1, $2, $3, $4)")
                    .bind(&row.workspace_id)
                    .bind(&row.name)
                    .bind(&row.root_document)
                    .bind(now_ms)
                    .execute(&mut *tx)
                    .await;
                match inserted {
                    Ok(_) => {}
                    Err(sqlx::Error::Database(err)) if err.is_unique_violation() => {
                        return Err($crate::store::StoreError::Conflict(format!("a workspace named {:?} already exists", row.name)));
                    }
                    Err(source) => return Err($crate::store::StoreError::Query { action: "creating a workspace", source }),
                }
                sqlx::query("UPDATE access_version SET version = version + 1 WHERE id = 1")
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::store::query("creating a workspace"))?;
                tx.commit().await.map_err($crate::store::query("creating a workspace"))
            }

            async fn find_workspace(&self, id_or_name: &str) -> $crate::store::Result<Option<$crate::store::WorkspaceRow>> {
                let row: Option<(String, String, Option<String>)> = sqlx::query_as(
                    "SELECT workspace_id, name, root_document FROM workspaces WHERE workspace_id = $1 OR name = $1 \
                     ORDER BY (workspace_id = $1) DESC LIMIT 1",
                )
                .bind(id_or_name)
                .fetch_optional(&self.pool)
                .await
                .map_err($crate::store::query("finding a workspace"))?;
                Ok(row.map(|(workspace_id, name, root_document)| $crate::store::WorkspaceRow { workspace_id, name, root_document }))
            }

            async fn list_workspaces(&self) -> $crate::store::Result<Vec<$crate::store::WorkspaceRow>> {
                let rows: Vec<(String, String, Option<String>)> =
                    sqlx::query_as("SELECT workspace_id, name, root_document FROM workspaces ORDER BY created_at_ms, name")
                        .fetch_all(&self.pool)
                        .await
                        .map_err($crate::store::query("listing workspaces"))?;
                Ok(rows.into_iter().map(|(workspace_id, name, root_document)| $crate::store::WorkspaceRow { workspace_id, name, root_document }).collect())
            }

            async fn set_root_document(&self, workspace_id: &str, document: &str) -> $crate::store::Result<Option<String>> {
                sqlx::query("UPDATE workspaces SET root_document = $1 WHERE workspace_id = $2 AND root_document IS NULL")
                    .bind(document)
                    .bind(workspace_id)
                    .execute(&self.pool)
                    .await
                    .map_err($crate::store::query("setting a workspace's root document"))?;
                let root: Option<Option<String>> = sqlx::query_scalar("SELECT root_document FROM workspaces WHERE workspace_id = $1")
                    .bind(workspace_id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err($crate::store::query("setting a workspace's root document"))?;
                Ok(root.flatten())
            }

            async fn set_member(&self, workspace_id: &str, user: &str, role: rf_sync::Role, now_ms: i64) -> $crate::store::Result<()> {
                let mut tx = self.pool.begin().await.map_err($crate::store::query("adding a member"))?;
                sqlx::query(
                    "INSERT INTO members (workspace_id, user_name, role, added_at_ms) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (workspace_id, user_name) DO UPDATE SET role = excluded.role",
                )
                .bind(workspace_id)
                .bind(user)
                .bind(role.as_str())
                .bind(now_ms)
                .execute(&mut *tx)
                .await
                .map_err($crate::store::query("adding a member"))?;
                sqlx::query("UPDATE access_version SET version = version + 1 WHERE id = 1")
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::store::query("adding a member"))?;
                tx.commit().await.map_err($crate::store::query("adding a member"))
            }

            async fn remove_member(&self, workspace_id: &str, user: &str, now_ms: i64) -> $crate::store::Result<bool> {
                let mut tx = self.pool.begin().await.map_err($crate::store::query("removing a member"))?;
                let removed = sqlx::query("DELETE FROM members WHERE workspace_id = $1 AND user_name = $2")
                    .bind(workspace_id)
                    .bind(user)
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::store::query("removing a member"))?
                    .rows_affected();
                sqlx::query("UPDATE tokens SET revoked_at_ms = $1 WHERE workspace_id = $2 AND user_name = $3 AND revoked_at_ms IS NULL")
                    .bind(now_ms)
                    .bind(workspace_id)
                    .bind(user)
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::store::query("removing a member"))?;
                sqlx::query("UPDATE access_version SET version = version + 1 WHERE id = 1")
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::store::query("removing a member"))?;
                tx.commit().await.map_err($crate::store::query("removing a member"))?;
                Ok(removed > 0)
            }

            async fn member_role(&self, workspace_id: &str, user: &str) -> $crate::store::Result<Option<rf_sync::Role>> {
                let role: Option<String> = sqlx::query_scalar("SELECT role FROM members WHERE workspace_id = $1 AND user_name = $2")
                    .bind(workspace_id)
                    .bind(user)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err($crate::store::query("looking up a member"))?;
                role.as_deref().map($crate::store::parse_role).transpose()
            }

            async fn insert_token(&self, row: &$crate::store::TokenRow, now_ms: i64) -> $crate::store::Result<()> {
                let mut tx = self.pool.begin().await.map_err($crate::store::query("storing a token"))?;
                sqlx::query("INSERT INTO tokens (token_id, workspace_id, user_name, salt, hash, created_at_ms) VALUES ($1, $2, $3, $4, $5, $6)")
                    .bind(&row.token_id)
                    .bind(&row.workspace_id)
                    .bind(&row.user_name)
                    .bind(&row.salt)
                    .bind(&row.hash)
                    .bind(now_ms)
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::store::query("storing a token"))?;
                sqlx::query("UPDATE access_version SET version = version + 1 WHERE id = 1")
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::store::query("storing a token"))?;
                tx.commit().await.map_err($crate::store::query("storing a token"))
            }

            async fn token(&self, token_id: &str) -> $crate::store::Result<Option<$crate::store::TokenRow>> {
                let row: Option<(String, String, String, String, String, Option<i64>, Option<String>)> = sqlx::query_as(
                    "SELECT t.token_id, t.workspace_id, t.user_name, t.salt, t.hash, t.revoked_at_ms, m.role \
                     FROM tokens t LEFT JOIN members m ON m.workspace_id = t.workspace_id AND m.user_name = t.user_name \
                     WHERE t.token_id = $1",
                )
                .bind(token_id)
                .fetch_optional(&self.pool)
                .await
                .map_err($crate::store::query("looking up a token"))?;
                let Some((token_id, workspace_id, user_name, salt, hash, revoked_at, role)) = row else { return Ok(None) };
                let role = role.as_deref().map($crate::store::parse_role).transpose()?;
                Ok(Some($crate::store::TokenRow { token_id, workspace_id, user_name, salt, hash, revoked: revoked_at.is_some(), role }))
            }

            async fn revoke_token(&self, token_id: &str, now_ms: i64) -> $crate::store::Result<bool> {
                let mut tx = self.pool.begin().await.map_err($crate::store::query("revoking a token"))?;
                let n = sqlx::query("UPDATE tokens SET revoked_at_ms = $1 WHERE token_id = $2 AND revoked_at_ms IS NULL")
                    .bind(now_ms)
                    .bind(token_id)
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::store::query("revoking a token"))?
                    .rows_affected();
                sqlx::query("UPDATE access_version SET version = version + 1 WHERE id = 1")
                    .execute(&mut *tx)
                    .await
                    .map_err($crate::store::query("revoking a token"))?;
                tx.commit().await.map_err($crate::store::query("revoking a token"))?;
                Ok(n > 0)
            }

            async fn document_workspace(&self, document: &str) -> $crate::store::Result<Option<String>> {
                sqlx::query_scalar("SELECT workspace_id FROM documents WHERE document_id = $1")
                    .bind(document)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err($crate::store::query("looking up a document's workspace"))
            }

            async fn claim_document(&self, document: &str, workspace_id: &str, now_ms: i64) -> $crate::store::Result<String> {
                sqlx::query(
                    "INSERT INTO documents (document_id, workspace_id, claimed_at_ms) VALUES ($1, $2, $3) \
                     ON CONFLICT (document_id) DO NOTHING",
                )
                .bind(document)
                .bind(workspace_id)
                .bind(now_ms)
                .execute(&self.pool)
                .await
                .map_err($crate::store::query("recording a document's workspace"))?;
                sqlx::query_scalar("SELECT workspace_id FROM documents WHERE document_id = $1")
                    .bind(document)
                    .fetch_one(&self.pool)
                    .await
                    .map_err($crate::store::query("recording a document's workspace"))
            }

            async fn count_documents(&self) -> $crate::store::Result<u64> {
                let n: i64 =
                    sqlx::query_scalar("SELECT COUNT(*) FROM documents").fetch_one(&self.pool).await.map_err($crate::store::query("counting documents"))?;
                Ok(u64::try_from(n).unwrap_or(0))
            }

            async fn access_version(&self) -> $crate::store::Result<i64> {
                sqlx::query_scalar("SELECT version FROM access_version WHERE id = 1")
                    .fetch_one(&self.pool)
                    .await
                    .map_err($crate::store::query("reading the access version"))
            }
        }
    };
}
pub(crate) use sql_backend;

#[cfg(test)]
mod tests {
    use super::{ChunkOp, WriteRun, write_runs};

    fn put(key: &str, data: &[u8]) -> ChunkOp {
        ChunkOp::Put { key: key.into(), data: data.to_vec() }
    }

    fn delete(key: &str) -> ChunkOp {
        ChunkOp::Delete { key: key.into() }
    }

    #[test]
    fn consecutive_puts_and_deletes_become_one_run_each_in_order() {
        let ops = [put("a", b"1"), put("b", b"2"), put("a", b"3"), delete("b"), delete("c"), put("b", b"4")];
        assert_eq!(
            write_runs(&ops),
            [WriteRun::Puts(vec![("a", &b"3"[..]), ("b", &b"2"[..])]), WriteRun::Deletes(vec!["b", "c"]), WriteRun::Puts(vec![("b", &b"4"[..])]),],
            "a key put twice in a run keeps its last data; the delete of b stays between its puts"
        );
        assert_eq!(write_runs(&[]), []);
    }
}
