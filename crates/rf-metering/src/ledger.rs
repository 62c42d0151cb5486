//! The cost ledger, budgets and the response cache: a SQLite file of the
//! data directory (`ledger.sqlite3`), local to this device and never synced.
//!
//! Every model call is a row: who (workspace, user, agent, run), which model,
//! tokens, latency, cost in integer micro-dollars, whether the cache answered,
//! and how it ended. Budgets are monthly limits per workspace and per user; a
//! call first reserves what it could cost at most, inside an immediate
//! (write-locked) transaction, so calls running at once — in this process or
//! another — can never reserve past a limit; when the call ends, the
//! reservation is replaced by the call's row in one transaction.

use std::{path::Path, time::Duration};

use serde::Serialize;
use sqlx::{Row, SqlitePool, migrate::Migrator};

use rf_ai::{AiError, Completion, ModelId, ProviderName, Usage};
pub use rf_ai::{BudgetExceeded, BudgetScope, format_usd};
use rf_domain::{AgentId, RunId, UserId, WorkspaceId};

/// The ledger's file inside a data directory.
pub const LEDGER_FILE_NAME: &str = "ledger.sqlite3";

/// The monthly budget of a workspace or user that has none set: the seed
/// plan's target of $10 per user per month.
pub const DEFAULT_MONTHLY_BUDGET_MICRO_USD: u64 = 10_000_000;

/// How long a reservation holds if its call never settles (a crash).
const RESERVATION_LIFETIME: Duration = Duration::from_secs(3600);

static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// The report's query grouped by `$key` (an SQL expression), filtered by
/// workspace (?1) and month (?2).
macro_rules! report_query {
    ($key:literal) => {
        concat!(
            "SELECT ",
            $key,
            " AS k, COUNT(*), COALESCE(SUM(cache_hit), 0), COALESCE(SUM(input_tokens), 0), ",
            "COALESCE(SUM(output_tokens), 0), COALESCE(SUM(cost_micro_usd), 0) FROM model_calls ",
            "WHERE (?1 IS NULL OR workspace_id = ?1) AND (?2 IS NULL OR month = ?2) GROUP BY k ORDER BY SUM(cost_micro_usd) DESC, k"
        )
    };
}

/// Who a call is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallContext {
    /// `None` for calls outside any workspace (`providers test`).
    pub workspace_id: Option<WorkspaceId>,
    pub user_id: UserId,
    pub agent_id: Option<AgentId>,
    pub run_id: Option<RunId>,
    /// The program that made the call when it is not one of RaptorFlow's
    /// own shells or its swarm (`api` for the local OpenAI-compatible API).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caller: Option<String>,
}

impl CallContext {
    /// A call of `user` outside any workspace, agent and run.
    pub fn user(user_id: UserId) -> Self {
        Self { workspace_id: None, user_id, agent_id: None, run_id: None, caller: None }
    }
}

/// An optional id as the ledger stores it.
fn text<T: std::fmt::Display>(id: Option<&T>) -> Option<String> {
    id.map(ToString::to_string)
}

/// An id read back from the ledger. Rows written before ids were checked
/// may hold text that is not one; it is reported as absent rather than
/// failing the whole report.
fn parsed<T: std::str::FromStr>(text: Option<String>) -> Option<T> {
    text.and_then(|t| t.parse().ok())
}

/// Money set aside for a call in flight.
#[derive(Debug)]
#[must_use = "settle or release a reservation"]
pub struct Reservation {
    id: Option<i64>,
    pub amount_micro_usd: u64,
}

/// One finished call, as the ledger stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallRecord {
    pub at_ms: i64,
    pub context: CallContext,
    pub provider: ProviderName,
    pub model: ModelId,
    pub usage: Usage,
    pub latency_ms: u64,
    pub cost_micro_usd: u64,
    pub cache_hit: bool,
    pub outcome: String,
}

/// What to report on.
#[derive(Debug, Clone, Default)]
pub struct ReportFilter {
    pub workspace_id: Option<WorkspaceId>,
    /// `YYYY-MM`; `None` is every month.
    pub month: Option<String>,
}

/// Whether `text` names a month as reports take it: `YYYY-MM`.
pub fn is_month(text: &str) -> bool {
    text.len() == 7 && text.as_bytes()[4] == b'-' && text.bytes().enumerate().all(|(i, b)| i == 4 || b.is_ascii_digit())
}

/// One line of a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ReportLine {
    pub key: String,
    pub calls: u64,
    pub cache_hits: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_micro_usd: u64,
}

/// Spending by agent, model and day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct CostReport {
    pub workspace_id: Option<WorkspaceId>,
    pub month: Option<String>,
    pub total: ReportLine,
    pub by_agent: Vec<ReportLine>,
    pub by_model: Vec<ReportLine>,
    pub by_day: Vec<ReportLine>,
}

/// How much a provider (a model provider or a connector) was used.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProviderUsage {
    /// Calls that went out over the period asked for.
    pub sent: u64,
    /// The newest call's time and outcome (`ok` or an error's code).
    pub last_at_ms: Option<i64>,
    pub last_outcome: Option<String>,
}

/// The ledger file.
#[derive(Debug, Clone)]
pub struct Ledger {
    pool: SqlitePool,
}

fn db(err: sqlx::Error) -> AiError {
    AiError::Ledger(err.to_string())
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

impl Ledger {
    /// Opens (creating it if missing) the ledger at `path`. A file that is
    /// not SQLite is refused and left as it was.
    pub async fn open(path: &Path) -> Result<Self, AiError> {
        let pool = rf_store::open_sqlite(path, &MIGRATOR).await.map_err(|err| AiError::Ledger(err.to_string()))?;
        Ok(Self { pool })
    }

    /// `YYYY-MM` (UTC) of a moment.
    async fn month_of(&self, at_ms: i64) -> Result<String, AiError> {
        sqlx::query_scalar("SELECT strftime('%Y-%m', ? / 1000, 'unixepoch')").bind(at_ms).fetch_one(&self.pool).await.map_err(db)
    }

    /// Sets a monthly budget, in micro-dollars.
    pub async fn set_budget(&self, scope: &BudgetScope, limit_micro_usd: u64) -> Result<(), AiError> {
        let (kind, subject) = scope.parts();
        sqlx::query("INSERT INTO budgets (scope, subject, limit_micro_usd) VALUES (?, ?, ?) ON CONFLICT (scope, subject) DO UPDATE SET limit_micro_usd = excluded.limit_micro_usd")
            .bind(kind)
            .bind(subject.as_str())
            .bind(to_i64(limit_micro_usd))
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    /// A scope's monthly budget (the default where none is set).
    pub async fn budget(&self, scope: &BudgetScope) -> Result<u64, AiError> {
        let (kind, subject) = scope.parts();
        let limit: Option<i64> = sqlx::query_scalar("SELECT limit_micro_usd FROM budgets WHERE scope = ? AND subject = ?")
            .bind(kind)
            .bind(subject.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        Ok(limit.map_or(DEFAULT_MONTHLY_BUDGET_MICRO_USD, to_u64))
    }

    /// Spent plus reserved in `month` for a scope.
    async fn committed(conn: &mut sqlx::SqliteConnection, scope: &BudgetScope, month: &str, now: i64) -> Result<(u64, u64), sqlx::Error> {
        let (kind, subject) = scope.parts();
        let spent: i64 = sqlx::query_scalar(
            "SELECT COALESCE(SUM(cost_micro_usd), 0) FROM model_calls \
             WHERE month = ?1 AND ((?2 = 'workspace' AND workspace_id = ?3) OR (?2 = 'user' AND user_id = ?3))",
        )
        .bind(month)
        .bind(kind)
        .bind(subject.as_str())
        .fetch_one(&mut *conn)
        .await?;
        let reserved: i64 = sqlx::query_scalar(
            "SELECT COALESCE(SUM(amount_micro_usd), 0) FROM budget_reservations \
             WHERE month = ?1 AND ((?2 = 'workspace' AND workspace_id = ?3) OR (?2 = 'user' AND user_id = ?3)) AND expires_at_ms > ?4",
        )
        .bind(month)
        .bind(kind)
        .bind(subject.as_str())
        .bind(now)
        .fetch_one(&mut *conn)
        .await?;
        let limit: Option<i64> = sqlx::query_scalar("SELECT limit_micro_usd FROM budgets WHERE scope = ? AND subject = ?")
            .bind(kind)
            .bind(subject.as_str())
            .fetch_optional(&mut *conn)
            .await?;
        Ok((to_u64(spent) + to_u64(reserved), limit.map_or(DEFAULT_MONTHLY_BUDGET_MICRO_USD, to_u64)))
    }

    /// What is left this month of the tighter of the workspace's and the
    /// user's budgets.
    pub async fn remaining(&self, context: &CallContext) -> Result<u64, AiError> {
        let now = now_ms();
        let month = self.month_of(now).await?;
        let mut conn = self.pool.acquire().await.map_err(db)?;
        let mut left = u64::MAX;
        for scope in Self::scopes(context) {
            let (committed, limit) = Self::committed(&mut conn, &scope, &month, now).await.map_err(db)?;
            left = left.min(limit.saturating_sub(committed));
        }
        Ok(left)
    }

    /// What `scope` has spent or holds reserved this month, and its
    /// monthly limit.
    pub async fn spent(&self, scope: &BudgetScope) -> Result<(u64, u64), AiError> {
        let now = now_ms();
        let month = self.month_of(now).await?;
        let mut conn = self.pool.acquire().await.map_err(db)?;
        Self::committed(&mut conn, scope, &month, now).await.map_err(db)
    }

    /// The budgets a call counts against: its workspace's, then its user's.
    pub fn scopes(context: &CallContext) -> Vec<BudgetScope> {
        let mut scopes = vec![BudgetScope::User(context.user_id.clone())];
        if let Some(workspace) = &context.workspace_id {
            scopes.insert(0, BudgetScope::Workspace(*workspace));
        }
        scopes
    }

    /// Sets `amount` aside against the workspace's and the user's budgets
    /// for this month, or says which budget it does not fit. Free calls
    /// reserve nothing.
    pub async fn reserve(&self, context: &CallContext, amount_micro_usd: u64) -> Result<Result<Reservation, BudgetExceeded>, AiError> {
        if amount_micro_usd == 0 {
            return Ok(Ok(Reservation { id: None, amount_micro_usd: 0 }));
        }
        let now = now_ms();
        let month = self.month_of(now).await?;
        let scopes = Self::scopes(context);
        // BEGIN IMMEDIATE takes the write lock before reading the totals,
        // so two reservations cannot both see the same room.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        for scope in scopes {
            let (committed, limit) = Self::committed(&mut tx, &scope, &month, now).await.map_err(db)?;
            if committed.saturating_add(amount_micro_usd) > limit {
                tx.rollback().await.map_err(db)?;
                return Ok(Err(BudgetExceeded { scope, month, limit, committed, needed: amount_micro_usd }));
            }
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO budget_reservations (month, workspace_id, user_id, amount_micro_usd, expires_at_ms) VALUES (?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(&month)
        .bind(text(context.workspace_id.as_ref()))
        .bind(context.user_id.as_str())
        .bind(to_i64(amount_micro_usd))
        .bind(now + to_i64(RESERVATION_LIFETIME.as_millis() as u64))
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(Ok(Reservation { id: Some(id), amount_micro_usd }))
    }

    /// Records a finished call and drops its reservation, in one transaction.
    pub async fn settle(&self, reservation: Reservation, record: &CallRecord) -> Result<i64, AiError> {
        let month = self.month_of(record.at_ms).await?;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        if let Some(id) = reservation.id {
            sqlx::query("DELETE FROM budget_reservations WHERE id = ?").bind(id).execute(&mut *tx).await.map_err(db)?;
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO model_calls (at_ms, month, workspace_id, user_id, agent_id, run_id, provider, model, input_tokens, output_tokens, \
             cached_tokens, cache_write_tokens, usage_estimated, latency_ms, cost_micro_usd, cache_hit, outcome, caller) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(record.at_ms)
        .bind(&month)
        .bind(text(record.context.workspace_id.as_ref()))
        .bind(record.context.user_id.as_str())
        .bind(text(record.context.agent_id.as_ref()))
        .bind(text(record.context.run_id.as_ref()))
        .bind(record.provider.as_str())
        .bind(record.model.as_str())
        .bind(to_i64(record.usage.input_tokens))
        .bind(to_i64(record.usage.output_tokens))
        .bind(to_i64(record.usage.cached_input_tokens))
        .bind(to_i64(record.usage.cache_write_tokens))
        .bind(record.usage.estimated)
        .bind(to_i64(record.latency_ms))
        .bind(to_i64(record.cost_micro_usd))
        .bind(record.cache_hit)
        .bind(&record.outcome)
        .bind(record.context.caller.as_deref())
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(id)
    }

    /// Records a call that reserved nothing.
    pub async fn record(&self, record: &CallRecord) -> Result<i64, AiError> {
        self.settle(Reservation { id: None, amount_micro_usd: 0 }, record).await
    }

    /// The calls recorded, oldest first (for tests and exports).
    pub async fn calls(&self, filter: &ReportFilter) -> Result<Vec<CallRecord>, AiError> {
        let rows = sqlx::query(
            "SELECT at_ms, workspace_id, user_id, agent_id, run_id, provider, model, input_tokens, output_tokens, cached_tokens, \
             cache_write_tokens, usage_estimated, latency_ms, cost_micro_usd, cache_hit, outcome, caller FROM model_calls \
             WHERE (?1 IS NULL OR workspace_id = ?1) AND (?2 IS NULL OR month = ?2) ORDER BY id",
        )
        .bind(text(filter.workspace_id.as_ref()))
        .bind(&filter.month)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|row| -> Result<CallRecord, sqlx::Error> {
                Ok(CallRecord {
                    at_ms: row.try_get(0)?,
                    context: CallContext {
                        workspace_id: parsed(row.try_get(1)?),
                        user_id: row.try_get::<String, _>(2)?.parse().map_err(|err: rf_domain::DomainError| sqlx::Error::Decode(err.into()))?,
                        agent_id: parsed(row.try_get(3)?),
                        run_id: parsed(row.try_get(4)?),
                        caller: row.try_get(16)?,
                    },
                    provider: row.try_get::<String, _>(5)?.parse().map_err(|err: rf_ai::BadId| sqlx::Error::Decode(err.into()))?,
                    model: row.try_get::<String, _>(6)?.parse().map_err(|err: rf_ai::BadId| sqlx::Error::Decode(err.into()))?,
                    usage: Usage {
                        input_tokens: to_u64(row.try_get(7)?),
                        output_tokens: to_u64(row.try_get(8)?),
                        cached_input_tokens: to_u64(row.try_get(9)?),
                        cache_write_tokens: to_u64(row.try_get(10)?),
                        estimated: row.try_get(11)?,
                    },
                    latency_ms: to_u64(row.try_get(12)?),
                    cost_micro_usd: to_u64(row.try_get(13)?),
                    cache_hit: row.try_get(14)?,
                    outcome: row.try_get(15)?,
                })
            })
            .collect::<Result<_, _>>()
            .map_err(db)
    }

    /// Money reserved by calls still in flight (for tests and status).
    pub async fn reserved_micro_usd(&self) -> Result<u64, AiError> {
        let sum: i64 = sqlx::query_scalar("SELECT COALESCE(SUM(amount_micro_usd), 0) FROM budget_reservations WHERE expires_at_ms > ?")
            .bind(now_ms())
            .fetch_one(&self.pool)
            .await
            .map_err(db)?;
        Ok(to_u64(sum))
    }

    /// Spending by agent, model and day.
    pub async fn report(&self, filter: &ReportFilter) -> Result<CostReport, AiError> {
        let total = self.report_lines(report_query!("'total'"), filter).await?.pop().unwrap_or(ReportLine {
            key: "total".into(),
            calls: 0,
            cache_hits: 0,
            input_tokens: 0,
            output_tokens: 0,
            cost_micro_usd: 0,
        });
        Ok(CostReport {
            workspace_id: filter.workspace_id,
            month: filter.month.clone(),
            total,
            by_agent: self.report_lines(report_query!("agent_id"), filter).await?,
            by_model: self.report_lines(report_query!("provider || '/' || model"), filter).await?,
            by_day: self.report_lines(report_query!("date(at_ms / 1000, 'unixepoch')"), filter).await?,
        })
    }

    async fn report_lines(&self, query: &'static str, filter: &ReportFilter) -> Result<Vec<ReportLine>, AiError> {
        let rows = sqlx::query(query).bind(text(filter.workspace_id.as_ref())).bind(&filter.month).fetch_all(&self.pool).await.map_err(db)?;
        rows.iter()
            .map(|row| -> Result<ReportLine, sqlx::Error> {
                Ok(ReportLine {
                    key: row.try_get::<Option<String>, _>(0)?.unwrap_or_else(|| "-".into()),
                    calls: to_u64(row.try_get(1)?),
                    cache_hits: to_u64(row.try_get(2)?),
                    input_tokens: to_u64(row.try_get(3)?),
                    output_tokens: to_u64(row.try_get(4)?),
                    cost_micro_usd: to_u64(row.try_get(5)?),
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(db)
    }

    /// A cached answer to the request with this key, if one has not expired.
    pub async fn cached(&self, key: &[u8; 32]) -> Result<Option<Completion>, AiError> {
        let text: Option<String> = sqlx::query_scalar("SELECT completion FROM response_cache WHERE request_sha256 = ? AND expires_at_ms > ?")
            .bind(&key[..])
            .bind(now_ms())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        // An entry this build cannot read is treated as absent (and replaced).
        Ok(text.and_then(|text| serde_json::from_str(&text).ok()))
    }

    /// Keeps an answer for `ttl`.
    pub async fn cache(&self, key: &[u8; 32], provider: &str, completion: &Completion, ttl: Duration) -> Result<(), AiError> {
        let now = now_ms();
        let text = serde_json::to_string(completion).map_err(|err| AiError::Ledger(err.to_string()))?;
        sqlx::query(
            "INSERT INTO response_cache (request_sha256, provider, model, completion, created_at_ms, expires_at_ms) VALUES (?, ?, ?, ?, ?, ?) \
             ON CONFLICT (request_sha256) DO UPDATE SET completion = excluded.completion, created_at_ms = excluded.created_at_ms, expires_at_ms = excluded.expires_at_ms",
        )
        .bind(&key[..])
        .bind(provider)
        .bind(&completion.model)
        .bind(text)
        .bind(now)
        .bind(now.saturating_add(to_i64(ttl.as_millis() as u64)))
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    /// A connector's cached answer to the request with this key, if it has
    /// not expired.
    pub async fn cached_body(&self, key: &[u8; 32]) -> Result<Option<String>, AiError> {
        sqlx::query_scalar("SELECT body FROM connector_cache WHERE request_sha256 = ? AND expires_at_ms > ?")
            .bind(&key[..])
            .bind(now_ms())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)
    }

    /// Keeps a connector's answer for `ttl`.
    pub async fn cache_body(&self, key: &[u8; 32], service: &str, endpoint: &str, body: &str, ttl: Duration) -> Result<(), AiError> {
        let now = now_ms();
        sqlx::query(
            "INSERT INTO connector_cache (request_sha256, service, endpoint, body, created_at_ms, expires_at_ms) VALUES (?, ?, ?, ?, ?, ?) \
             ON CONFLICT (request_sha256) DO UPDATE SET body = excluded.body, created_at_ms = excluded.created_at_ms, expires_at_ms = excluded.expires_at_ms",
        )
        .bind(&key[..])
        .bind(service)
        .bind(endpoint)
        .bind(body)
        .bind(now)
        .bind(now.saturating_add(to_i64(ttl.as_millis() as u64)))
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    /// How `provider` has been used since `since_ms`: calls that went out
    /// (not answered from the cache), and the newest call of any kind.
    pub async fn usage_since(&self, provider: &str, since_ms: i64) -> Result<ProviderUsage, AiError> {
        let sent: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM model_calls WHERE provider = ? AND at_ms >= ? AND cache_hit = 0")
            .bind(provider)
            .bind(since_ms)
            .fetch_one(&self.pool)
            .await
            .map_err(db)?;
        let last: Option<(i64, String)> = sqlx::query_as("SELECT at_ms, outcome FROM model_calls WHERE provider = ? ORDER BY at_ms DESC, id DESC LIMIT 1")
            .bind(provider)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        Ok(ProviderUsage { sent: to_u64(sent), last_at_ms: last.as_ref().map(|(at, _)| *at), last_outcome: last.map(|(_, outcome)| outcome) })
    }

    /// Drops expired cache entries and lapsed reservations; returns how many.
    pub async fn prune(&self) -> Result<u64, AiError> {
        let now = now_ms();
        let mut dropped = 0;
        for query in [
            "DELETE FROM response_cache WHERE expires_at_ms <= ?",
            "DELETE FROM budget_reservations WHERE expires_at_ms <= ?",
            "DELETE FROM connector_cache WHERE expires_at_ms <= ?",
        ] {
            dropped += sqlx::query(query).bind(now).execute(&self.pool).await.map_err(db)?.rows_affected();
        }
        Ok(dropped)
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}
