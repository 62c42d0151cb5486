//! Opening the SQLite database of a data directory: refuse files that are not
//! ours or are damaged (without touching them), then apply migrations.

use std::{io::Read, path::Path, str::FromStr, time::Duration};

use sqlx::{
    ConnectOptions,
    migrate::Migrator,
    sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions, SqliteSynchronous},
};

use crate::{
    Result, StoreError,
    setup_lock::{DamageCheck, SetupError, set_up_sqlite},
};

/// The database file inside a data directory.
pub const DATABASE_FILE_NAME: &str = "raptorflow.sqlite3";

const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// How long a connection waits for another writer (this process or another)
/// before giving up with "database is locked".
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Opens (creating if missing) the database at `path` and brings its schema up
/// to date. A file that is not SQLite, or is damaged, is refused with an error
/// and left exactly as it was.
pub async fn open_database(path: &Path) -> Result<SqlitePool> {
    static MIGRATOR: Migrator = sqlx::migrate!("./migrations");
    open_sqlite(path, &MIGRATOR).await
}

/// Opens (creating if missing) the SQLite file at `path` the way
/// [`open_database`] does, with the schema of `migrator`: for other crates
/// that keep local tables in a file of their own (the AI layer's ledger).
pub async fn open_sqlite(path: &Path, migrator: &Migrator) -> Result<SqlitePool> {
    check_file_before_open(path)?;

    let options = SqliteConnectOptions::from_str("sqlite://")
        .map_err(|source| StoreError::Open { path: path.to_owned(), source })?
        .filename(path)
        .create_if_missing(true)
        // FULL makes every committed transaction survive power loss, not only
        // a crash of this process: a change we report as saved is on disk.
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(BUSY_TIMEOUT)
        .foreign_keys(true)
        .disable_statement_logging();

    // WAL, the damage check and the schema happen once, under a lock other
    // processes opening this file wait for; the pool never changes journal mode.
    set_up_sqlite(path, &options, migrator, DamageCheck::Quick).await.map_err(|err| match err {
        SetupError::Open(source) => classify_open_error(path, source),
        SetupError::Corrupt(detail) => StoreError::Corrupt { path: path.to_owned(), detail },
        SetupError::Migrate(source) => StoreError::Migrate { path: path.to_owned(), source },
        SetupError::Lock { source, .. } => StoreError::Open { path: path.to_owned(), source: sqlx::Error::Io(source) },
    })?;

    let pool = SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(options)
        .await
        .map_err(|source| classify_open_error(path, source))?;

    Ok(pool)
}

/// Looks at the file's header before SQLite does, so that a garbage file is
/// reported as such and never gets a WAL or journal written next to it.
fn check_file_before_open(path: &Path) -> Result<()> {
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(err) => {
            return Err(StoreError::Open { path: path.to_owned(), source: sqlx::Error::Io(err) });
        }
    };
    let len = file
        .metadata()
        .map_err(|err| StoreError::Open { path: path.to_owned(), source: sqlx::Error::Io(err) })?
        .len();
    // An empty file is what SQLite itself creates before the first write; it
    // holds nothing that could be lost.
    if len == 0 {
        return Ok(());
    }
    let mut header = [0u8; 100];
    let n_read = read_up_to(&mut file, &mut header)
        .map_err(|err| StoreError::Open { path: path.to_owned(), source: sqlx::Error::Io(err) })?;
    if n_read < header.len() || &header[..16] != SQLITE_MAGIC {
        return Err(StoreError::NotADatabase {
            path: path.to_owned(),
            detail: format!("it is {len} bytes and does not start with the SQLite header"),
        });
    }

    // With no write-ahead log beside it, the main file must hold every page
    // its header counts. (While a WAL exists, pages may legitimately live only
    // in the log, so the check would be wrong then.)
    let wal_path = path.with_extension("sqlite3-wal");
    let wal_len = std::fs::metadata(&wal_path).map(|m| m.len()).unwrap_or(0);
    if wal_len == 0 {
        let raw_page_size = u32::from(u16::from_be_bytes([header[16], header[17]]));
        let page_size = if raw_page_size == 1 { 65_536 } else { raw_page_size };
        let n_pages = u32::from_be_bytes([header[28], header[29], header[30], header[31]]);
        let change_counter = &header[24..28];
        let valid_for = &header[92..96];
        let expected_len = u64::from(n_pages) * u64::from(page_size);
        if change_counter == valid_for && n_pages > 0 && expected_len > len {
            return Err(StoreError::Corrupt {
                path: path.to_owned(),
                detail: format!(
                    "the file is truncated: its header counts {n_pages} pages of {page_size} bytes \
                     ({expected_len} bytes) but the file has {len} bytes"
                ),
            });
        }
    }
    Ok(())
}

fn read_up_to(file: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n_read = 0;
    while n_read < buf.len() {
        match file.read(&mut buf[n_read..])? {
            0 => break,
            n => n_read += n,
        }
    }
    Ok(n_read)
}

fn classify_open_error(path: &Path, source: sqlx::Error) -> StoreError {
    let detail = source.to_string();
    match source.as_database_error().and_then(|e| e.code()).as_deref() {
        // SQLITE_NOTADB
        Some("26") => StoreError::NotADatabase { path: path.to_owned(), detail },
        // SQLITE_CORRUPT, and its extended codes
        Some(code) if code == "11" || code.parse::<u32>().is_ok_and(|c| c & 0xff == 11) => {
            StoreError::Corrupt { path: path.to_owned(), detail }
        }
        _ => StoreError::Open { path: path.to_owned(), source },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_new_database_gets_the_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DATABASE_FILE_NAME);
        let pool = open_database(&path).await.unwrap();
        let tables: Vec<String> =
            sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
                .fetch_all(&pool)
                .await
                .unwrap();
        for table in ["entity_locations", "samod_chunks", "workspaces"] {
            assert!(tables.iter().any(|t| t == table), "{table} missing from {tables:?}");
        }
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&pool).await.unwrap();
        assert_eq!(mode, "wal");
    }

    #[tokio::test]
    async fn garbage_is_refused_and_left_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DATABASE_FILE_NAME);
        let garbage = b"this is certainly not a database, just some words".repeat(100);
        std::fs::write(&path, &garbage).unwrap();
        let err = open_database(&path).await.unwrap_err();
        assert!(matches!(err, StoreError::NotADatabase { .. }), "{err}");
        assert!(err.to_string().contains("is not a RaptorFlow database"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), garbage);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no WAL or journal was created");
    }

    #[tokio::test]
    async fn a_truncated_database_is_refused_and_left_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DATABASE_FILE_NAME);
        {
            let pool = open_database(&path).await.unwrap();
            for i in 0..2000 {
                sqlx::query("INSERT INTO samod_chunks (key, data) VALUES (?, zeroblob(200))")
                    .bind(format!("doc/incremental/{i}"))
                    .execute(&pool)
                    .await
                    .unwrap();
            }
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&pool).await.unwrap();
            pool.close().await;
        }
        let full = std::fs::read(&path).unwrap();
        let truncated = &full[..full.len() / 2];
        std::fs::write(&path, truncated).unwrap();
        let _ = std::fs::remove_file(path.with_extension("sqlite3-wal"));
        let _ = std::fs::remove_file(path.with_extension("sqlite3-shm"));
        let err = open_database(&path).await.unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("truncated"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), truncated);
    }
}
