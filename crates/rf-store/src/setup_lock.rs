//! First-time setup of a SQLite file shared by several processes.
//!
//! Switching a file to WAL and applying migrations both take locks that
//! SQLite's busy timeout does not wait for, and sqlx takes no migration lock
//! for SQLite. Two processes opening one file together (a server and an admin
//! command, two CLI runs) could then fail with "database is locked" or try to
//! create the same table twice. [`SetupLock`] makes them take turns: the setup
//! runs under an advisory lock on a file beside the database, and the pool
//! used afterwards never asks for a journal-mode change (WAL is persistent).

use std::{
    fs::{File, OpenOptions},
    path::{Path, PathBuf},
};

use sqlx::{
    SqlitePool,
    migrate::Migrator,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions},
};

/// Why the one-time setup of a SQLite file failed.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("could not take the setup lock {}: {source}", path.display())]
    Lock { path: PathBuf, source: std::io::Error },
    #[error("could not open the database: {0}")]
    Open(#[source] sqlx::Error),
    #[error("the database is damaged: {0}")]
    Corrupt(String),
    #[error("could not migrate the database: {0}")]
    Migrate(#[source] sqlx::migrate::MigrateError),
}

/// An exclusive advisory lock on `<database>.setup-lock`, released on drop.
#[derive(Debug)]
pub struct SetupLock {
    _file: File,
}

impl SetupLock {
    /// The lock file that guards the database at `database`.
    pub fn path_for(database: &Path) -> PathBuf {
        let mut name = database.file_name().unwrap_or_default().to_owned();
        name.push(".setup-lock");
        database.with_file_name(name)
    }

    /// Waits (on a blocking thread) until this process holds the lock.
    pub async fn acquire(database: &Path) -> Result<Self, SetupError> {
        let path = Self::path_for(database);
        let held = path.clone();
        let locked = tokio::task::spawn_blocking(move || {
            let file = OpenOptions::new().create(true).truncate(false).write(true).open(&held)?;
            file.lock()?;
            Ok::<_, std::io::Error>(file)
        })
        .await
        .map_err(|join| std::io::Error::other(join.to_string()))
        .and_then(|inner| inner);
        locked.map(|file| Self { _file: file }).map_err(|source| SetupError::Lock { path, source })
    }
}

/// Whether setup reads the whole file to check it is not damaged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DamageCheck {
    /// `PRAGMA quick_check` before migrating: reads every page.
    Quick,
    /// No check: for files opened often (a server's admin commands), where
    /// a full read at every open would cost more than it tells.
    Skip,
}

/// Under the setup lock: switches the file to WAL (creating it if `options`
/// allow), optionally checks it is not damaged, and applies `migrator`, over
/// one connection that is closed afterwards.
/// `options` should not set a journal mode; pools opened with them afterwards
/// find WAL already in place.
pub async fn set_up_sqlite(database: &Path, options: &SqliteConnectOptions, migrator: &Migrator, check: DamageCheck) -> Result<(), SetupError> {
    let _lock = SetupLock::acquire(database).await?;
    // A one-connection pool rather than a bare connection: sqlx's migrator
    // cannot run on `&mut SqliteConnection` inside a spawned task.
    let pool =
        SqlitePoolOptions::new().max_connections(1).connect_with(options.clone().journal_mode(SqliteJournalMode::Wal)).await.map_err(SetupError::Open)?;
    let checked = check_and_migrate(&pool, migrator, check).await;
    pool.close().await;
    checked
}

async fn check_and_migrate(pool: &SqlitePool, migrator: &Migrator, check: DamageCheck) -> Result<(), SetupError> {
    if check == DamageCheck::Quick {
        let problems: Vec<String> = sqlx::query_scalar("PRAGMA quick_check").fetch_all(pool).await.map_err(SetupError::Open)?;
        if problems.first().map(String::as_str) != Some("ok") {
            return Err(SetupError::Corrupt(problems.join("; ")));
        }
    }
    migrator.run(pool).await.map_err(SetupError::Migrate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_file_sits_beside_the_database() {
        assert_eq!(SetupLock::path_for(Path::new("/data/raptorflow.sqlite3")), Path::new("/data/raptorflow.sqlite3.setup-lock"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_second_holder_waits_for_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let database = dir.path().join("x.db");
        let first = SetupLock::acquire(&database).await.unwrap();
        let second = tokio::spawn({
            let database = database.clone();
            async move { SetupLock::acquire(&database).await.map(drop) }
        });
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        assert!(!second.is_finished(), "the second acquire must wait while the first is held");
        drop(first);
        tokio::time::timeout(std::time::Duration::from_secs(10), second).await.unwrap().unwrap().unwrap();
    }

    use sqlx::ConnectOptions;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_set_ups_of_a_new_file_all_succeed() {
        static MIGRATOR: Migrator = sqlx::migrate!("./migrations");
        let dir = tempfile::tempdir().unwrap();
        let database = dir.path().join("x.db");
        let options = SqliteConnectOptions::new().filename(&database).create_if_missing(true);
        let runs: Vec<_> = (0..4)
            .map(|_| {
                let (database, options) = (database.clone(), options.clone());
                tokio::spawn(async move { set_up_sqlite(&database, &options, &MIGRATOR, DamageCheck::Quick).await })
            })
            .collect();
        for run in runs {
            run.await.unwrap().unwrap();
        }
        let mut connection = options.connect().await.unwrap();
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&mut connection).await.unwrap();
        assert_eq!(mode, "wal");
    }
}
