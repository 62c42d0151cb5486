//! `runs.sqlite3`: runs, their steps and their event logs. Local state, not
//! synced: a run belongs to the device that runs it.

use std::path::Path;

use rf_domain::{RunId, UserId, WorkspaceId};
use serde_json::Value;
use sqlx::{Row, SqlitePool, migrate::Migrator, sqlite::SqliteRow};

use crate::{
    error::{AgentError, Result},
    events::{RunEvent, RunEventRecord},
    run::{NewStep, Review, RunRecord, RunStatus, StepKind, StepRecord, StepStatus},
};

/// The file name inside a data directory.
pub const RUNS_FILE_NAME: &str = "runs.sqlite3";

static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

// Every transaction here writes, and most read first (the next step number,
// the lease holder): they begin IMMEDIATE, taking the write lock up front,
// so that they wait (busy timeout) instead of failing with "database is
// locked" when another connection commits between their read and write.

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn db(err: sqlx::Error) -> AgentError {
    AgentError::Store(err.to_string())
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

fn to_u32(value: i64) -> u32 {
    u32::try_from(value).unwrap_or(0)
}

fn json<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|err| AgentError::Store(format!("a stored {what} is damaged: {err}")))
}

fn parse<T: std::str::FromStr>(text: &str, what: &str) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    text.parse().map_err(|err| AgentError::Store(format!("a stored {what} is damaged: {err}")))
}

/// What a finished model step wrote.
#[derive(Debug, Clone, Default)]
pub struct StepResult {
    pub output: Value,
    pub provider: Option<String>,
    pub model: Option<String>,
    pub calls: u32,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_micro_usd: u64,
    pub ledger_ids: Vec<i64>,
    pub overhead_us: u64,
}

/// A new run.
#[derive(Debug, Clone)]
pub struct NewRun {
    pub workspace_id: Option<WorkspaceId>,
    pub user_id: UserId,
    pub title: String,
    /// 0: no per-run budget.
    pub budget_micro_usd: u64,
    pub parallelism: u32,
}

/// The runs database.
#[derive(Debug, Clone)]
pub struct RunStore {
    pool: SqlitePool,
}

impl RunStore {
    /// Opens (creating it if missing) the runs database at `path`. A file
    /// that is not SQLite or is another program's is refused, untouched.
    pub async fn open(path: &Path) -> Result<Self> {
        let pool = rf_store::open_sqlite(path, &MIGRATOR).await.map_err(|err| AgentError::Store(err.to_string()))?;
        Ok(Self { pool })
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Creates a run with its first steps, in one transaction.
    pub async fn create_run(&self, run: &NewRun, steps: Vec<NewStep>) -> Result<(RunId, Vec<RunEventRecord>)> {
        let id = RunId::new();
        let now = now_ms();
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        sqlx::query("INSERT INTO runs (id, workspace_id, user_id, title, status, budget_micro_usd, parallelism, created_ms, updated_ms) VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?)")
            .bind(id.to_string())
            .bind(run.workspace_id.map(|w| w.to_string()))
            .bind(run.user_id.as_str())
            .bind(&run.title)
            .bind(to_i64(run.budget_micro_usd))
            .bind(i64::from(run.parallelism.max(1)))
            .bind(now)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let mut events = Vec::new();
        for step in steps {
            let (_, event) = insert_step(&mut tx, id, step).await?;
            events.push(event);
        }
        let mut records = Vec::new();
        for event in events {
            records.push(append(&mut tx, id, event).await?);
        }
        tx.commit().await.map_err(db)?;
        Ok((id, records))
    }

    /// Adds steps to a run (a Lord's delegations, a review round), with
    /// their events, in one transaction.
    pub async fn add_steps(&self, run: RunId, steps: Vec<NewStep>) -> Result<(Vec<u32>, Vec<RunEventRecord>)> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        let mut numbers = Vec::new();
        let mut records = Vec::new();
        for step in steps {
            let (number, event) = insert_step(&mut tx, run, step).await?;
            numbers.push(number);
            records.push(append(&mut tx, run, event).await?);
        }
        tx.commit().await.map_err(db)?;
        Ok((numbers, records))
    }

    /// Appends events to a run's log; the records as numbered.
    pub async fn append_events(&self, run: RunId, events: Vec<RunEvent>) -> Result<Vec<RunEventRecord>> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        let mut records = Vec::new();
        for event in events {
            records.push(append(&mut tx, run, event).await?);
        }
        tx.commit().await.map_err(db)?;
        Ok(records)
    }

    /// Sets a run's status (and why), with its event.
    pub async fn set_run_status(&self, run: RunId, status: RunStatus, reason: Option<&str>) -> Result<RunEventRecord> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        sqlx::query("UPDATE runs SET status = ?, reason = ?, updated_ms = ? WHERE id = ?")
            .bind(status.as_str())
            .bind(reason)
            .bind(now_ms())
            .bind(run.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let record = append(&mut tx, run, RunEvent::Status { status, reason: reason.map(str::to_owned) }).await?;
        tx.commit().await.map_err(db)?;
        Ok(record)
    }

    /// Marks a step as running (its next attempt), before it runs.
    pub async fn start_step(&self, run: RunId, step: u32) -> Result<(u32, RunEventRecord)> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        let attempts: i64 = sqlx::query_scalar(
            "UPDATE steps SET status = 'running', attempts = attempts + 1, started_ms = ?, error = NULL WHERE run_id = ? AND step = ? RETURNING attempts",
        )
        .bind(now_ms())
        .bind(run.to_string())
        .bind(i64::from(step))
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        let attempt = to_u32(attempts);
        let record = append(&mut tx, run, RunEvent::StepStarted { step, attempt }).await?;
        tx.commit().await.map_err(db)?;
        Ok((attempt, record))
    }

    /// Records a finished model step and adds what it spent to the run, in
    /// one transaction: once this returns, resuming never runs it again.
    pub async fn finish_step(&self, run: RunId, step: u32, result: &StepResult, ms: u64) -> Result<Vec<RunEventRecord>> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        sqlx::query(
            "UPDATE steps SET status = 'done', output = ?, provider = ?, model = ?, calls = calls + ?, input_tokens = input_tokens + ?, output_tokens = output_tokens + ?, cost_micro_usd = cost_micro_usd + ?, ledger_ids = ?, overhead_us = ?, finished_ms = ?, error = NULL WHERE run_id = ? AND step = ?",
        )
        .bind(result.output.to_string())
        .bind(&result.provider)
        .bind(&result.model)
        .bind(i64::from(result.calls))
        .bind(to_i64(result.input_tokens))
        .bind(to_i64(result.output_tokens))
        .bind(to_i64(result.cost_micro_usd))
        .bind(serde_json::to_string(&result.ledger_ids).unwrap_or_else(|_| "[]".into()))
        .bind(to_i64(result.overhead_us))
        .bind(now_ms())
        .bind(run.to_string())
        .bind(i64::from(step))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let spent = add_spent(&mut tx, run, result.cost_micro_usd).await?;
        let finished = finished_event(step, StepStatus::Done, None, result, ms);
        let cost = RunEvent::Cost { step, cost_micro_usd: result.cost_micro_usd, run_spent_micro_usd: spent };
        let records = vec![append(&mut tx, run, finished).await?, append(&mut tx, run, cost).await?];
        tx.commit().await.map_err(db)?;
        Ok(records)
    }

    /// Records a failed try of a step: `status` is `failed` (it will be
    /// tried again) or `dead`. What the failed calls cost is still counted.
    pub async fn fail_step(&self, run: RunId, step: u32, status: StepStatus, error: &str, spent: &StepResult, ms: u64) -> Result<Vec<RunEventRecord>> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        sqlx::query(
            "UPDATE steps SET status = ?, error = ?, provider = COALESCE(?, provider), model = COALESCE(?, model), calls = calls + ?, input_tokens = input_tokens + ?, output_tokens = output_tokens + ?, cost_micro_usd = cost_micro_usd + ?, finished_ms = ? WHERE run_id = ? AND step = ?",
        )
        .bind(status.as_str())
        .bind(error)
        .bind(&spent.provider)
        .bind(&spent.model)
        .bind(i64::from(spent.calls))
        .bind(to_i64(spent.input_tokens))
        .bind(to_i64(spent.output_tokens))
        .bind(to_i64(spent.cost_micro_usd))
        .bind(now_ms())
        .bind(run.to_string())
        .bind(i64::from(step))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let total = add_spent(&mut tx, run, spent.cost_micro_usd).await?;
        let mut records = vec![append(&mut tx, run, finished_event(step, status, Some(error), spent, ms)).await?];
        if spent.cost_micro_usd > 0 {
            records.push(append(&mut tx, run, RunEvent::Cost { step, cost_micro_usd: spent.cost_micro_usd, run_spent_micro_usd: total }).await?);
        }
        tx.commit().await.map_err(db)?;
        Ok(records)
    }

    /// Sets a step's status (approvals, skips, retries), with an event when
    /// one is given.
    pub async fn set_step_status(
        &self,
        run: RunId,
        step: u32,
        status: StepStatus,
        note: Option<&str>,
        event: Option<RunEvent>,
    ) -> Result<Option<RunEventRecord>> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        let reset_attempts = status == StepStatus::Pending;
        sqlx::query("UPDATE steps SET status = ?, note = COALESCE(?, note), attempts = CASE WHEN ? THEN 0 ELSE attempts END, finished_ms = CASE WHEN ? IN ('pending', 'running', 'waiting') THEN finished_ms ELSE ? END WHERE run_id = ? AND step = ?")
            .bind(status.as_str())
            .bind(note)
            .bind(reset_attempts)
            .bind(status.as_str())
            .bind(now_ms())
            .bind(run.to_string())
            .bind(i64::from(step))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let record = match event {
            Some(event) => Some(append(&mut tx, run, event).await?),
            None => None,
        };
        tx.commit().await.map_err(db)?;
        Ok(record)
    }

    /// Steps left `running` by a process that died: back to pending (the
    /// try they were on still counts).
    pub async fn requeue_interrupted(&self, run: RunId) -> Result<u64> {
        let done = sqlx::query("UPDATE steps SET status = 'pending' WHERE run_id = ? AND status IN ('running', 'failed')")
            .bind(run.to_string())
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(done.rows_affected())
    }

    pub async fn run(&self, run: RunId) -> Result<RunRecord> {
        let row = sqlx::query("SELECT * FROM runs WHERE id = ?").bind(run.to_string()).fetch_optional(&self.pool).await.map_err(db)?;
        match row {
            Some(row) => run_record(&row),
            None => Err(AgentError::NotFound(format!("there is no run {run}"))),
        }
    }

    /// Runs, newest first.
    pub async fn runs(&self, workspace: Option<WorkspaceId>, limit: u32) -> Result<Vec<RunRecord>> {
        let rows = sqlx::query("SELECT * FROM runs WHERE ? IS NULL OR workspace_id = ? ORDER BY created_ms DESC, id DESC LIMIT ?")
            .bind(workspace.map(|w| w.to_string()))
            .bind(workspace.map(|w| w.to_string()))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter().map(run_record).collect()
    }

    pub async fn steps(&self, run: RunId) -> Result<Vec<StepRecord>> {
        let rows = sqlx::query("SELECT * FROM steps WHERE run_id = ? ORDER BY step").bind(run.to_string()).fetch_all(&self.pool).await.map_err(db)?;
        rows.iter().map(step_record).collect()
    }

    pub async fn step(&self, run: RunId, step: u32) -> Result<StepRecord> {
        let row = sqlx::query("SELECT * FROM steps WHERE run_id = ? AND step = ?")
            .bind(run.to_string())
            .bind(i64::from(step))
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        match row {
            Some(row) => step_record(&row),
            None => Err(AgentError::NotFound(format!("run {run} has no step {step}"))),
        }
    }

    /// The runtime's data for a step (feedback, earlier results).
    pub async fn step_extra(&self, run: RunId, step: u32) -> Result<crate::render::StepData> {
        let text: String = sqlx::query_scalar("SELECT extra FROM steps WHERE run_id = ? AND step = ?")
            .bind(run.to_string())
            .bind(i64::from(step))
            .fetch_one(&self.pool)
            .await
            .map_err(db)?;
        json(&text, "step's data")
    }

    /// The dead-letter list: steps that failed as often as allowed.
    pub async fn dead_letters(&self, run: Option<RunId>) -> Result<Vec<StepRecord>> {
        let rows = sqlx::query("SELECT * FROM steps WHERE status = 'dead' AND (? IS NULL OR run_id = ?) ORDER BY finished_ms, run_id, step")
            .bind(run.map(|r| r.to_string()))
            .bind(run.map(|r| r.to_string()))
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter().map(step_record).collect()
    }

    /// Events of a run's log after `after` (0: all).
    pub async fn events(&self, run: RunId, after: u32) -> Result<Vec<RunEventRecord>> {
        let rows = sqlx::query("SELECT seq, at_ms, event FROM run_events WHERE run_id = ? AND seq > ? ORDER BY seq")
            .bind(run.to_string())
            .bind(i64::from(after))
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter()
            .map(|row| {
                Ok(RunEventRecord { run_id: run, seq: to_u32(row.get("seq")), at_ms: row.get("at_ms"), event: json(row.get::<&str, _>("event"), "run event")? })
            })
            .collect()
    }

    /// Asks the process driving `run` (maybe another one) to cancel it.
    pub async fn request_cancel(&self, run: RunId) -> Result<()> {
        sqlx::query("UPDATE runs SET cancel_requested = 1, updated_ms = ? WHERE id = ?")
            .bind(now_ms())
            .bind(run.to_string())
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    pub async fn cancel_requested(&self, run: RunId) -> Result<bool> {
        let flag: Option<i64> =
            sqlx::query_scalar("SELECT cancel_requested FROM runs WHERE id = ?").bind(run.to_string()).fetch_optional(&self.pool).await.map_err(db)?;
        Ok(flag.unwrap_or(0) != 0)
    }

    /// Takes (or renews) the run's driver lease for `owner` until `ttl`
    /// from now. Refused while another owner holds an unexpired lease whose
    /// process may still be alive: the error says who holds it.
    pub async fn take_lease(&self, run: RunId, owner: &str, ttl: std::time::Duration) -> Result<()> {
        let now = now_ms();
        let until = now.saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX));
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
        let held: Option<(Option<String>, Option<i64>)> =
            sqlx::query_as("SELECT lease_owner, lease_until_ms FROM runs WHERE id = ?").bind(run.to_string()).fetch_optional(&mut *tx).await.map_err(db)?;
        let Some((holder, held_until)) = held else {
            return Err(AgentError::NotFound(format!("there is no run {run}")));
        };
        if let (Some(holder), Some(held_until)) = (holder, held_until)
            && holder != owner
            && held_until > now
            && process_may_live(&holder)
        {
            return Err(AgentError::Conflict(format!(
                "run {run} is being run by another process ({holder}); `raptorflow run watch {run}` follows it, `raptorflow run cancel {run}` stops it"
            )));
        }
        sqlx::query("UPDATE runs SET lease_owner = ?, lease_until_ms = ? WHERE id = ?")
            .bind(owner)
            .bind(until)
            .bind(run.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(())
    }

    /// Gives the lease up (the driver stopped).
    pub async fn release_lease(&self, run: RunId, owner: &str) -> Result<()> {
        sqlx::query("UPDATE runs SET lease_owner = NULL, lease_until_ms = NULL WHERE id = ? AND lease_owner = ?")
            .bind(run.to_string())
            .bind(owner)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    /// Whether some process holds an unexpired lease on the run.
    pub async fn is_driven(&self, run: RunId) -> Result<bool> {
        let held: Option<(Option<String>, Option<i64>)> =
            sqlx::query_as("SELECT lease_owner, lease_until_ms FROM runs WHERE id = ?").bind(run.to_string()).fetch_optional(&self.pool).await.map_err(db)?;
        Ok(matches!(held, Some((Some(holder), Some(until))) if until > now_ms() && process_may_live(&holder)))
    }

    pub async fn clear_cancel(&self, run: RunId) -> Result<()> {
        sqlx::query("UPDATE runs SET cancel_requested = 0 WHERE id = ?").bind(run.to_string()).execute(&self.pool).await.map_err(db)?;
        Ok(())
    }
}

/// Whether the process named in a lease owner (`pid:…`) may still be
/// running. Where the system says (Linux's /proc), a process that is gone
/// frees its lease at once; elsewhere the lease runs out.
fn process_may_live(owner: &str) -> bool {
    let Some(pid) = owner.split(':').next().and_then(|p| p.parse::<u32>().ok()) else { return true };
    let proc_dir = std::path::Path::new("/proc");
    if !proc_dir.join("self").exists() {
        return true;
    }
    proc_dir.join(pid.to_string()).exists()
}

/// Adds a step's cost to its run; the run's total spent.
async fn add_spent(tx: &mut sqlx::SqliteConnection, run: RunId, cost_micro_usd: u64) -> Result<u64> {
    let spent: i64 = sqlx::query_scalar("UPDATE runs SET spent_micro_usd = spent_micro_usd + ?, updated_ms = ? WHERE id = ? RETURNING spent_micro_usd")
        .bind(to_i64(cost_micro_usd))
        .bind(now_ms())
        .bind(run.to_string())
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
    Ok(to_u64(spent))
}

/// The event of a step that ran, with what its calls used.
fn finished_event(step: u32, status: StepStatus, error: Option<&str>, result: &StepResult, ms: u64) -> RunEvent {
    RunEvent::StepFinished {
        step,
        status,
        error: error.map(str::to_owned),
        provider: result.provider.clone(),
        model: result.model.clone(),
        input_tokens: result.input_tokens,
        output_tokens: result.output_tokens,
        cost_micro_usd: result.cost_micro_usd,
        ms,
    }
}

async fn insert_step(tx: &mut sqlx::SqliteConnection, run: RunId, step: NewStep) -> Result<(u32, RunEvent)> {
    let next: i64 =
        sqlx::query_scalar("SELECT COALESCE(MAX(step), 0) + 1 FROM steps WHERE run_id = ?").bind(run.to_string()).fetch_one(&mut *tx).await.map_err(db)?;
    let number = to_u32(next);
    let status = StepStatus::Pending;
    sqlx::query("INSERT INTO steps (run_id, step, kind, agent_id, label, parent, deps, status, input, extra, review) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
        .bind(run.to_string())
        .bind(next)
        .bind(step.kind.as_str())
        .bind(step.agent_id.as_ref().map(|a| a.as_str().to_owned()))
        .bind(&step.label)
        .bind(step.parent.map(i64::from))
        .bind(serde_json::to_string(&step.deps).unwrap_or_else(|_| "[]".into()))
        .bind(status.as_str())
        .bind(step.input.to_string())
        .bind(serde_json::to_string(&step.extra).unwrap_or_else(|_| "{}".into()))
        .bind(step.review.as_ref().map(|r| serde_json::to_string(r).unwrap_or_default()))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    let event = RunEvent::StepAdded { step: number, kind: step.kind, agent: step.agent_id, label: step.label, parent: step.parent, deps: step.deps };
    Ok((number, event))
}

async fn append(tx: &mut sqlx::SqliteConnection, run: RunId, event: RunEvent) -> Result<RunEventRecord> {
    let at_ms = now_ms();
    let text = serde_json::to_string(&event).map_err(|err| AgentError::Store(format!("an event could not be written: {err}")))?;
    let seq: i64 = sqlx::query_scalar(
        "INSERT INTO run_events (run_id, seq, at_ms, event) SELECT ?, COALESCE(MAX(seq), 0) + 1, ?, ? FROM run_events WHERE run_id = ? RETURNING seq",
    )
    .bind(run.to_string())
    .bind(at_ms)
    .bind(text)
    .bind(run.to_string())
    .fetch_one(&mut *tx)
    .await
    .map_err(db)?;
    Ok(RunEventRecord { run_id: run, seq: to_u32(seq), at_ms, event })
}

fn run_record(row: &SqliteRow) -> Result<RunRecord> {
    Ok(RunRecord {
        id: parse(row.get::<&str, _>("id"), "run id")?,
        workspace_id: row.get::<Option<&str>, _>("workspace_id").map(|w| parse(w, "workspace id")).transpose()?,
        user_id: parse(row.get::<&str, _>("user_id"), "user id")?,
        title: row.get("title"),
        status: parse(row.get::<&str, _>("status"), "run status")?,
        reason: row.get("reason"),
        budget_micro_usd: to_u64(row.get("budget_micro_usd")),
        spent_micro_usd: to_u64(row.get("spent_micro_usd")),
        parallelism: to_u32(row.get("parallelism")),
        created_ms: row.get("created_ms"),
        updated_ms: row.get("updated_ms"),
    })
}

fn step_record(row: &SqliteRow) -> Result<StepRecord> {
    let review: Option<String> = row.get("review");
    let output: Option<String> = row.get("output");
    Ok(StepRecord {
        run_id: parse(row.get::<&str, _>("run_id"), "run id")?,
        step: to_u32(row.get("step")),
        kind: parse::<StepKind>(row.get::<&str, _>("kind"), "step kind")?,
        agent_id: row.get::<Option<&str>, _>("agent_id").map(|a| parse(a, "agent id")).transpose()?,
        label: row.get("label"),
        parent: row.get::<Option<i64>, _>("parent").map(to_u32),
        deps: json(row.get::<&str, _>("deps"), "step's dependencies")?,
        status: parse(row.get::<&str, _>("status"), "step status")?,
        attempts: to_u32(row.get("attempts")),
        input: json(row.get::<&str, _>("input"), "step input")?,
        review: review.map(|r| json::<Review>(&r, "review")).transpose()?,
        output: output.map(|o| json(&o, "step output")).transpose()?,
        error: row.get("error"),
        note: row.get("note"),
        provider: row.get("provider"),
        model: row.get("model"),
        calls: to_u32(row.get("calls")),
        input_tokens: to_u64(row.get("input_tokens")),
        output_tokens: to_u64(row.get("output_tokens")),
        cost_micro_usd: to_u64(row.get("cost_micro_usd")),
        ledger_ids: json(row.get::<&str, _>("ledger_ids"), "step's ledger rows")?,
        overhead_us: to_u64(row.get("overhead_us")),
        started_ms: row.get("started_ms"),
        finished_ms: row.get("finished_ms"),
    })
}
