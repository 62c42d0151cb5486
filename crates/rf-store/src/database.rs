//! Opening the SQLite database of a data directory: refuse files that are not
//! ours or are damaged (without touching them), then apply migrations.
//!
//! Our files carry [`APPLICATION_ID`] in the SQLite header. Files made before
//! that have application id 0 and our `_sqlx_migrations` history; they are
//! recognised by it and stamped. Any other non-empty SQLite file belongs to
//! another program and is refused before anything is written to it.

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

/// `PRAGMA application_id` of every SQLite file RaptorFlow makes: "RFlw" in
/// ASCII, big-endian, as SQLite stores it at offset 68 of the header.
pub const APPLICATION_ID: i32 = i32::from_be_bytes(*b"RFlw");

/// Sets [`APPLICATION_ID`]. PRAGMA arguments cannot be bound, so the value
/// is written out; a unit test checks it matches.
const STAMP_APPLICATION_ID: &str = "PRAGMA application_id = 1380346999";

/// Where the application id sits in the 100-byte database header.
const APPLICATION_ID_OFFSET: usize = 68;

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
    if let Some(existing) = check_file_before_open(path)? {
        check_ownership(path, &existing, migrator).await?;
    }

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

    let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await.map_err(|source| classify_open_error(path, source))?;

    stamp_application_id(path, &pool).await?;
    Ok(pool)
}

/// Gives a file of ours (new, or made before files were stamped) our
/// application id. Only reached after [`check_ownership`] accepted the file.
async fn stamp_application_id(path: &Path, pool: &SqlitePool) -> Result<()> {
    let stamp_error = |source| StoreError::Open { path: path.to_owned(), source };
    let current: i32 = sqlx::query_scalar("PRAGMA application_id").fetch_one(pool).await.map_err(stamp_error)?;
    if current != APPLICATION_ID {
        sqlx::query(STAMP_APPLICATION_ID).execute(pool).await.map_err(stamp_error)?;
    }
    Ok(())
}

/// What [`check_file_before_open`] learned about an existing, non-empty file.
#[derive(Debug)]
struct ExistingFile {
    /// The application id in the main file's header.
    header_application_id: i32,
    /// Whether a non-empty write-ahead log sits beside the file, in which
    /// case the header may be older than the database's committed state.
    has_wal: bool,
}

/// Refuses an existing SQLite file that another program made. A file is ours
/// if its application id is ours, or if it is 0 (files made before we set it)
/// and the file is empty of tables or has our migration history and nothing
/// in that history that is not one of `migrator`'s migrations. Only reads:
/// the check runs over a read-only connection, so a refused file keeps every
/// byte.
async fn check_ownership(path: &Path, existing: &ExistingFile, migrator: &Migrator) -> Result<()> {
    if !existing.has_wal {
        match existing.header_application_id {
            APPLICATION_ID => return Ok(()),
            0 => {}
            other => return Err(foreign(path, other)),
        }
    }
    let options = SqliteConnectOptions::from_str("sqlite://")
        .map_err(|source| StoreError::Open { path: path.to_owned(), source })?
        .filename(path)
        .read_only(true)
        .busy_timeout(BUSY_TIMEOUT)
        .disable_statement_logging();
    let mut connection = options.connect().await.map_err(|source| classify_open_error(path, source))?;
    let verdict = ownership_of(&mut connection, migrator).await;
    let _ = sqlx::Connection::close(connection).await;
    match verdict.map_err(|source| classify_open_error(path, source))? {
        Ownership::Ours => Ok(()),
        Ownership::OtherApplication(id) => Err(foreign(path, id)),
        Ownership::UnknownSchema(detail) => Err(StoreError::Foreign { path: path.to_owned(), detail }),
    }
}

enum Ownership {
    Ours,
    OtherApplication(i32),
    UnknownSchema(String),
}

async fn ownership_of(connection: &mut sqlx::SqliteConnection, migrator: &Migrator) -> Result<Ownership, sqlx::Error> {
    let application_id: i32 = sqlx::query_scalar("PRAGMA application_id").fetch_one(&mut *connection).await?;
    match application_id {
        APPLICATION_ID => return Ok(Ownership::Ours),
        0 => {}
        other => return Ok(Ownership::OtherApplication(other)),
    }
    let tables: Vec<String> = sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'").fetch_all(&mut *connection).await?;
    if tables.is_empty() {
        // A SQLite file with no tables holds nothing that could be lost.
        return Ok(Ownership::Ours);
    }
    if !tables.iter().any(|t| t == "_sqlx_migrations") {
        return Ok(Ownership::UnknownSchema(format!(
            "application id 0 and no RaptorFlow migration history; it has tables {}",
            tables.iter().take(5).map(String::as_str).collect::<Vec<_>>().join(", ")
        )));
    }
    let applied: Vec<(i64, Vec<u8>)> = sqlx::query_as("SELECT version, checksum FROM _sqlx_migrations ORDER BY version").fetch_all(&mut *connection).await?;
    for (version, checksum) in &applied {
        let known = migrator.iter().any(|m| m.version == *version && m.checksum.as_ref() == checksum.as_slice());
        if !known {
            return Ok(Ownership::UnknownSchema(format!("application id 0 and migration {version} in its history is not one of RaptorFlow's")));
        }
    }
    if applied.is_empty() && tables.len() > 1 {
        return Ok(Ownership::UnknownSchema("application id 0 and an empty migration history beside other tables".into()));
    }
    Ok(Ownership::Ours)
}

fn foreign(path: &Path, application_id: i32) -> StoreError {
    StoreError::Foreign { path: path.to_owned(), detail: format!("its application id is {application_id:#010x}, RaptorFlow's is {APPLICATION_ID:#010x}") }
}

/// Looks at the file's header before SQLite does, so that a garbage file is
/// reported as such and never gets a WAL or journal written next to it.
/// Returns what the header says about an existing, non-empty SQLite file.
fn check_file_before_open(path: &Path) -> Result<Option<ExistingFile>> {
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => {
            return Err(StoreError::Open { path: path.to_owned(), source: sqlx::Error::Io(err) });
        }
    };
    let len = file.metadata().map_err(|err| StoreError::Open { path: path.to_owned(), source: sqlx::Error::Io(err) })?.len();
    // An empty file is what SQLite itself creates before the first write; it
    // holds nothing that could be lost.
    if len == 0 {
        return Ok(None);
    }
    let mut header = [0u8; 100];
    let n_read = read_up_to(&mut file, &mut header).map_err(|err| StoreError::Open { path: path.to_owned(), source: sqlx::Error::Io(err) })?;
    if n_read < header.len() || &header[..16] != SQLITE_MAGIC {
        return Err(StoreError::NotADatabase { path: path.to_owned(), detail: format!("it is {len} bytes and does not start with the SQLite header") });
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
    let id_bytes = &header[APPLICATION_ID_OFFSET..APPLICATION_ID_OFFSET + 4];
    let header_application_id = i32::from_be_bytes([id_bytes[0], id_bytes[1], id_bytes[2], id_bytes[3]]);
    Ok(Some(ExistingFile { header_application_id, has_wal: wal_len > 0 }))
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
        Some(code) if code == "11" || code.parse::<u32>().is_ok_and(|c| c & 0xff == 11) => StoreError::Corrupt { path: path.to_owned(), detail },
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
        let tables: Vec<String> = sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").fetch_all(&pool).await.unwrap();
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

    /// Makes a SQLite file the way another program would, in rollback-journal
    /// mode, and returns its bytes.
    async fn foreign_file(path: &Path, application_id: i32) -> Vec<u8> {
        let options = SqliteConnectOptions::new().filename(path).create_if_missing(true);
        let mut connection = options.connect().await.unwrap();
        sqlx::query("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)").execute(&mut connection).await.unwrap();
        sqlx::query("INSERT INTO notes (body) VALUES ('keep me')").execute(&mut connection).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("PRAGMA application_id = {application_id}"))).execute(&mut connection).await.unwrap();
        sqlx::Connection::close(connection).await.unwrap();
        std::fs::read(path).unwrap()
    }

    #[tokio::test]
    async fn a_foreign_sqlite_file_is_refused_and_left_untouched() {
        for application_id in [0, 0x0f05_5a1e] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join(DATABASE_FILE_NAME);
            let bytes = foreign_file(&path, application_id).await;
            let err = open_database(&path).await.unwrap_err();
            assert!(matches!(err, StoreError::Foreign { .. }), "{application_id}: {err}");
            let message = err.to_string();
            assert!(message.contains("is not a RaptorFlow database") && message.contains(DATABASE_FILE_NAME), "{message}");
            assert_eq!(std::fs::read(&path).unwrap(), bytes, "{application_id}: the file changed");
            let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
            assert_eq!(names.len(), 1, "no WAL, journal or lock file beside it: {names:?}");
        }
    }

    #[test]
    fn the_stamp_statement_sets_our_id() {
        assert_eq!(STAMP_APPLICATION_ID, format!("PRAGMA application_id = {APPLICATION_ID}"));
    }

    #[tokio::test]
    async fn new_files_are_stamped_and_ours_from_before_are_recognised() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DATABASE_FILE_NAME);
        let pool = open_database(&path).await.unwrap();
        let id: i32 = sqlx::query_scalar("PRAGMA application_id").fetch_one(&pool).await.unwrap();
        assert_eq!(id, APPLICATION_ID);
        // A file of ours from before the stamp: our migration history, id 0.
        sqlx::query("PRAGMA application_id = 0").execute(&pool).await.unwrap();
        sqlx::query("INSERT INTO workspaces VALUES ('w', 'd', 1)").execute(&pool).await.unwrap();
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&pool).await.unwrap();
        pool.close().await;

        let pool = open_database(&path).await.unwrap();
        let id: i32 = sqlx::query_scalar("PRAGMA application_id").fetch_one(&pool).await.unwrap();
        assert_eq!(id, APPLICATION_ID, "an old file of ours is stamped");
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM workspaces").fetch_one(&pool).await.unwrap();
        assert_eq!(n, 1, "and keeps its rows");
        pool.close().await;
    }
}
