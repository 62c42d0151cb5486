//! Market signals (issue 26): what the connectors return, kept as daily
//! time series per workspace in a local SQLite file (`signals.sqlite3`,
//! never synced), and the Matrix guild's analysis of them: forecasts with
//! prediction intervals (augurs: MSTL with an AutoETS trend, or AutoETS
//! alone for short series), change points (Bayesian online change-point
//! detection) and anomalies (points outside the model's in-sample interval).
//! No network here: the connectors fetch, this crate keeps and reads.

use std::path::Path;

use rf_domain::WorkspaceId;
use serde::Serialize;
use sqlx::{Row, SqlitePool, migrate::Migrator};

pub mod analysis;

pub use analysis::{Analysis, Anomaly, ChangePoint, Forecast, analyse};

/// The signals file inside a data directory.
pub const SIGNALS_FILE_NAME: &str = "signals.sqlite3";

static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Why signals could not be stored, read or analysed.
#[derive(Debug, thiserror::Error)]
pub enum SignalError {
    #[error("invalid series name {0:?}: use 1 to 200 characters, no control characters")]
    BadSeries(String),
    #[error("invalid date {0:?}: use YYYY-MM-DD")]
    BadDate(String),
    #[error("value {value} for {series} on {day} is not a finite number")]
    BadValue { series: String, day: String, value: f64 },
    #[error("no series {series:?} in this workspace; `raptorflow signals list` shows them")]
    UnknownSeries { series: String },
    #[error("{series} has {points} points; a forecast needs at least {needed}")]
    TooShort { series: String, points: usize, needed: usize },
    #[error("the forecasting model could not be fitted to {series}: {detail}")]
    Model { series: String, detail: String },
    #[error("the signals store failed: {0}")]
    Store(String),
}

fn db(err: impl std::fmt::Display) -> SignalError {
    SignalError::Store(err.to_string())
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The day number of `YYYY-MM-DD`.
pub fn parse_day(text: &str) -> Result<i64, SignalError> {
    let date: rf_domain::DueDate = text.parse().map_err(|_| SignalError::BadDate(text.chars().take(40).collect()))?;
    let part = |range: std::ops::Range<usize>| date.as_str()[range].parse::<i64>().unwrap_or(0);
    Ok(days_from_civil(part(0..4), part(5..7), part(8..10)))
}

/// `YYYY-MM-DD` of a day number.
pub fn format_day(day: i64) -> String {
    let (year, month, day) = rf_domain::civil_from_days(day);
    format!("{year:04}-{month:02}-{day:02}")
}

/// Today's day number (UTC).
pub fn today() -> i64 {
    rf_domain::Timestamp::now().as_millis().div_euclid(86_400_000)
}

/// One day's value of a series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Point {
    /// Days since 1970-01-01 (UTC).
    pub day: i64,
    pub value: f64,
    /// What the value was read from.
    pub evidence: serde_json::Value,
}

impl Point {
    pub fn date(&self) -> String {
        format_day(self.day)
    }
}

/// A series of a workspace, in brief.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct SeriesSummary {
    pub series: String,
    pub points: u64,
    pub first_day: String,
    pub last_day: String,
    pub last_value: f64,
}

/// Checks a series name.
pub fn check_series(series: &str) -> Result<(), SignalError> {
    let length = series.chars().count();
    if length == 0 || length > 200 || series.chars().any(char::is_control) {
        return Err(SignalError::BadSeries(series.chars().take(200).collect()));
    }
    Ok(())
}

/// The signals file.
#[derive(Debug, Clone)]
pub struct Signals {
    pool: SqlitePool,
}

impl Signals {
    /// Opens (creating it if missing) the signals file at `path`.
    pub async fn open(path: &Path) -> Result<Self, SignalError> {
        Ok(Self { pool: rf_store::open_sqlite(path, &MIGRATOR).await.map_err(db)? })
    }

    /// Records a day's value (replacing that day's earlier one).
    pub async fn record(&self, workspace: WorkspaceId, series: &str, point: &Point) -> Result<(), SignalError> {
        check_series(series)?;
        if !point.value.is_finite() {
            return Err(SignalError::BadValue { series: series.to_owned(), day: point.date(), value: point.value });
        }
        sqlx::query(
            "INSERT INTO signal_points (workspace_id, series, day, value, evidence, recorded_at_ms) VALUES (?, ?, ?, ?, ?, ?) \
             ON CONFLICT (workspace_id, series, day) DO UPDATE SET value = excluded.value, evidence = excluded.evidence, recorded_at_ms = excluded.recorded_at_ms",
        )
        .bind(workspace.to_string())
        .bind(series)
        .bind(point.day)
        .bind(point.value)
        .bind(point.evidence.to_string())
        .bind(rf_domain::Timestamp::now().as_millis())
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    /// The workspace's series, by name.
    pub async fn series(&self, workspace: WorkspaceId) -> Result<Vec<SeriesSummary>, SignalError> {
        let rows = sqlx::query(
            "SELECT series, COUNT(*), MIN(day), MAX(day), \
             (SELECT value FROM signal_points p WHERE p.workspace_id = s.workspace_id AND p.series = s.series ORDER BY day DESC LIMIT 1) \
             FROM signal_points s WHERE workspace_id = ? GROUP BY series ORDER BY series",
        )
        .bind(workspace.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|row| {
                Ok(SeriesSummary {
                    series: row.try_get(0)?,
                    points: u64::try_from(row.try_get::<i64, _>(1)?).unwrap_or(0),
                    first_day: format_day(row.try_get(2)?),
                    last_day: format_day(row.try_get(3)?),
                    last_value: row.try_get(4)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(db)
    }

    /// A series' points, oldest first.
    pub async fn points(&self, workspace: WorkspaceId, series: &str) -> Result<Vec<Point>, SignalError> {
        check_series(series)?;
        let rows = sqlx::query("SELECT day, value, evidence FROM signal_points WHERE workspace_id = ? AND series = ? ORDER BY day")
            .bind(workspace.to_string())
            .bind(series)
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        if rows.is_empty() {
            return Err(SignalError::UnknownSeries { series: series.to_owned() });
        }
        rows.iter()
            .map(|row| {
                let evidence: String = row.try_get(2)?;
                Ok(Point { day: row.try_get(0)?, value: row.try_get(1)?, evidence: serde_json::from_str(&evidence).unwrap_or(serde_json::Value::Null) })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(db)
    }

    /// When the workspace's newest value was recorded, if it has any.
    pub async fn last_recorded_at_ms(&self, workspace: WorkspaceId) -> Result<Option<i64>, SignalError> {
        sqlx::query_scalar("SELECT MAX(recorded_at_ms) FROM signal_points WHERE workspace_id = ?")
            .bind(workspace.to_string())
            .fetch_one(&self.pool)
            .await
            .map_err(db)
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_round_trip_through_dates() {
        for day in [-1, 0, 59, 11_016, 20_418, 20_793] {
            assert_eq!(parse_day(&format_day(day)).unwrap(), day);
        }
        assert_eq!(format_day(parse_day("2026-12-06").unwrap()), "2026-12-06");
        assert!(matches!(parse_day("2026-02-30"), Err(SignalError::BadDate(_))));
    }

    #[tokio::test]
    async fn a_day_recorded_twice_keeps_the_later_value_and_bad_points_change_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let signals = Signals::open(&dir.path().join(SIGNALS_FILE_NAME)).await.unwrap();
        let workspace = WorkspaceId::new();
        let day = parse_day("2026-12-01").unwrap();
        let point = |day, value| Point { day, value, evidence: serde_json::json!({"query": "acme"}) };
        signals.record(workspace, "mentions/newsapi/Acme", &point(day, 3.0)).await.unwrap();
        signals.record(workspace, "mentions/newsapi/Acme", &point(day + 1, 5.0)).await.unwrap();
        signals.record(workspace, "mentions/newsapi/Acme", &point(day, 4.0)).await.unwrap();
        assert!(matches!(signals.record(workspace, "mentions/newsapi/Acme", &point(day + 2, f64::NAN)).await, Err(SignalError::BadValue { .. })));
        assert!(matches!(signals.record(workspace, "", &point(day, 1.0)).await, Err(SignalError::BadSeries(_))));
        let points = signals.points(workspace, "mentions/newsapi/Acme").await.unwrap();
        assert_eq!(points.iter().map(|p| (p.date(), p.value)).collect::<Vec<_>>(), [("2026-12-01".into(), 4.0), ("2026-12-02".into(), 5.0)]);
        let summary = signals.series(workspace).await.unwrap();
        assert_eq!((summary[0].points, summary[0].last_day.as_str(), summary[0].last_value), (2, "2026-12-02", 5.0));
        assert!(signals.series(WorkspaceId::new()).await.unwrap().is_empty(), "another workspace sees none of it");
        assert!(matches!(signals.points(workspace, "nothing").await, Err(SignalError::UnknownSeries { .. })));
    }
}
