//! The runtime: drives a run's step graph to its end, durably.
//!
//! Every step is written before it starts and after it ends (with its
//! output, model, tokens and cost), so a run killed at any moment resumes
//! from its last finished step and never runs (or pays for) a finished one
//! again. Steps that keep failing go to the dead-letter list; approval
//! steps pause the run; a per-run budget stops it before a step could take
//! it past the limit.

use std::{
    collections::{BTreeSet, HashMap},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use futures::{StreamExt, stream::FuturesUnordered};
use rf_domain::{RunId, UserId, WorkspaceId};
use serde_json::Value;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

mod follow_up;

use crate::{
    error::{AgentError, Result},
    events::{RunEvent, RunEventRecord},
    exec::{ExecLimits, Execution, Ports, StepContext, StepFailure},
    render::StepData,
    run::{NewStep, RunRecord, RunStatus, StepKind, StepRecord, StepStatus},
    spec::{AgentSpec, Roster},
    store::{NewRun, RunStore, StepResult},
};

/// How long a driver's lease on a run lasts without renewal.
const LEASE: Duration = Duration::from_secs(15);

/// How runs are driven.
#[derive(Debug, Clone, Copy)]
pub struct RuntimeConfig {
    /// Tries of a step before it goes to the dead-letter list.
    pub max_attempts: u32,
    /// Steps run at once (default 1: on a 2-core machine a second local
    /// generation only slows the first).
    pub parallelism: u32,
    pub limits: ExecLimits,
    /// First wait before trying a failed step again; doubles each try.
    pub retry_backoff: Duration,
    /// How often a driver looks for a cancel asked by another process.
    pub poll: Duration,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self { max_attempts: 3, parallelism: 1, limits: ExecLimits::default(), retry_backoff: Duration::from_millis(200), poll: Duration::from_millis(250) }
    }
}

/// A run to start.
#[derive(Debug, Clone)]
pub struct RunRequest {
    pub workspace_id: Option<WorkspaceId>,
    pub user_id: UserId,
    pub title: String,
    pub budget_micro_usd: u64,
    /// Default: the runtime's.
    pub parallelism: Option<u32>,
    pub steps: Vec<NewStep>,
}

/// The swarm runtime: the roster, the runs database, the engine's ports
/// and the bus. Cloning is cheap; every clone is the same runtime.
#[derive(Debug, Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    roster: Arc<Roster>,
    store: RunStore,
    ports: Arc<dyn Ports>,
    config: RuntimeConfig,
    bus: broadcast::Sender<RunEventRecord>,
    /// Micro-dollars held for steps running now, per run.
    reserved: Mutex<HashMap<RunId, u64>>,
    /// Who this runtime is in a run's driver lease: `pid:nonce`.
    owner: String,
}

/// One agent run on one input outside any run (`agents eval`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Evaluation {
    pub id: rf_domain::AgentId,
    pub guild: crate::Guild,
    /// The first answer matched the schema.
    pub valid_first_try: bool,
    /// An answer matched the schema within the bounded repairs.
    pub valid: bool,
    pub calls: u32,
    pub tokens: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Wall time of the step.
    pub ms: u64,
    /// The executor's own time, excluding generation and tools, in µs.
    pub overhead_us: u64,
    pub model: Option<String>,
    pub error: Option<String>,
    pub output: Option<Value>,
}

/// How a step ended, as the driver sees it.
enum Ended {
    Done,
    Failed(StepFailure),
    OverBudget(String),
}

impl Runtime {
    pub fn new(roster: Arc<Roster>, store: RunStore, ports: Arc<dyn Ports>, config: RuntimeConfig) -> Self {
        let (bus, _) = broadcast::channel(4096);
        let owner = format!("{}:{}", std::process::id(), RunId::new());
        Self { inner: Arc::new(Inner { roster, store, ports, config, bus, reserved: Mutex::new(HashMap::new()), owner }) }
    }

    pub fn roster(&self) -> &Arc<Roster> {
        &self.inner.roster
    }

    pub fn store(&self) -> &RunStore {
        &self.inner.store
    }

    pub fn config(&self) -> &RuntimeConfig {
        &self.inner.config
    }

    /// Every event of every run of this process, as it happens (streamed
    /// text included). Other processes read the event log.
    pub fn subscribe(&self) -> broadcast::Receiver<RunEventRecord> {
        self.inner.bus.subscribe()
    }

    fn publish(&self, records: impl IntoIterator<Item = RunEventRecord>) {
        for record in records {
            let _ = self.inner.bus.send(record);
        }
    }

    /// Writes events to the run's log (streamed text only goes to the bus).
    async fn emit(&self, run: RunId, events: Vec<RunEvent>) -> Result<()> {
        let (persisted, live): (Vec<RunEvent>, Vec<RunEvent>) = events.into_iter().partition(RunEvent::persisted);
        if !persisted.is_empty() {
            let records = self.inner.store.append_events(run, persisted).await?;
            self.publish(records);
        }
        self.publish(live.into_iter().map(|event| RunEventRecord { run_id: run, seq: 0, at_ms: crate::store::now_ms(), event }));
        Ok(())
    }

    /// A step running `agent_id` on `input`, the input checked against the
    /// agent's sample input shape.
    pub fn agent_step(&self, agent_id: &str, input: Value) -> Result<NewStep> {
        let spec = self
            .inner
            .roster
            .get(agent_id)
            .ok_or_else(|| AgentError::InvalidInput(format!("there is no agent {agent_id:?}; `raptorflow agents list` shows them")))?;
        crate::spec::check_shape(&spec.sample_input, &input).map_err(|err| {
            AgentError::InvalidInput(format!("the input for {agent_id} does not have the shape of its sample input ({}): {err}", spec.path.display()))
        })?;
        Ok(NewStep::agent(spec, input))
    }

    /// Creates a run; [`Runtime::drive`] runs it.
    pub async fn create(&self, request: RunRequest) -> Result<RunId> {
        if request.steps.is_empty() {
            return Err(AgentError::InvalidInput("a run needs at least one step".into()));
        }
        let run = NewRun {
            workspace_id: request.workspace_id,
            user_id: request.user_id,
            title: request.title,
            budget_micro_usd: request.budget_micro_usd,
            parallelism: request.parallelism.unwrap_or(self.inner.config.parallelism),
        };
        let (id, records) = self.inner.store.create_run(&run, request.steps).await?;
        self.publish(records);
        Ok(id)
    }

    /// An execution of `spec` in a run: its tools run first, on the agent's
    /// own tier, answers may come from the response cache.
    fn execution<'a>(
        &'a self,
        spec: &'a AgentSpec,
        input: &'a Value,
        data: StepData,
        ctx: &'a StepContext,
        emit: &'a (dyn Fn(RunEvent) + Send + Sync),
        cancel: &'a CancellationToken,
    ) -> Execution<'a> {
        Execution {
            roster: &self.inner.roster,
            ports: self.inner.ports.as_ref(),
            spec,
            input,
            data,
            ctx,
            limits: self.inner.config.limits,
            emit,
            cancel,
            tools_done: false,
            tier: None,
            use_cache: true,
        }
    }

    /// Runs `agent` once on `input` (its sample input by default), without a
    /// run record and without following delegations: how `agents eval`
    /// measures an agent. The model calls are still metered, under `run`.
    pub async fn evaluate(
        &self,
        agent: &str,
        input: Option<Value>,
        workspace: Option<WorkspaceId>,
        user: UserId,
        tier: Option<rf_ai::selector::Tier>,
        cancel: &CancellationToken,
    ) -> Result<Evaluation> {
        let spec = self
            .inner
            .roster
            .get(agent)
            .cloned()
            .ok_or_else(|| AgentError::InvalidInput(format!("there is no agent {agent:?}; `raptorflow agents list` shows them")))?;
        let input = input.unwrap_or_else(|| spec.sample_input.clone());
        crate::spec::check_shape(&spec.sample_input, &input)
            .map_err(|err| AgentError::InvalidInput(format!("the input for {agent} does not have the shape of its sample input: {err}")))?;
        let ctx = StepContext { run: RunId::new(), step: 1, workspace, user };
        let emit = |_: RunEvent| {};
        let execution = Execution { tier, use_cache: false, ..self.execution(&spec, &input, StepData::default(), &ctx, &emit, cancel) };
        let started = Instant::now();
        let (outcome, _) = execution.run().await;
        let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let (result, error) = match outcome {
            Ok(result) => (result, None),
            Err(failure) => (failure.spent, Some(failure.message)),
        };
        let valid = error.is_none();
        Ok(Evaluation {
            id: spec.id.clone(),
            guild: spec.guild,
            valid_first_try: valid && result.calls == 1,
            valid,
            calls: result.calls,
            tokens: result.input_tokens + result.output_tokens,
            input_tokens: result.input_tokens,
            output_tokens: result.output_tokens,
            ms,
            overhead_us: result.overhead_us,
            model: result.model,
            error,
            output: valid.then_some(result.output),
        })
    }

    /// Asks the driver of `run` (in this process or another) to cancel it.
    pub async fn cancel(&self, run: RunId) -> Result<RunRecord> {
        let record = self.inner.store.run(run).await?;
        if !record.status.is_open() {
            return Err(AgentError::Conflict(format!("run {run} is {} already", record.status)));
        }
        self.inner.store.request_cancel(run).await?;
        if self.inner.store.is_driven(run).await? {
            // Its driver sees the request within a poll and stops the running step.
            let deadline = Instant::now() + self.inner.config.poll * 40;
            while Instant::now() < deadline && self.inner.store.run(run).await?.status.is_open() {
                tokio::time::sleep(self.inner.config.poll).await;
            }
        }
        if self.inner.store.run(run).await?.status.is_open() {
            // Nobody drives it (or its driver died): cancel it here.
            self.finish_cancel(run).await?;
            self.inner.store.clear_cancel(run).await?;
        }
        self.inner.store.run(run).await
    }

    async fn finish_cancel(&self, run: RunId) -> Result<()> {
        for step in self.inner.store.steps(run).await? {
            if matches!(step.status, StepStatus::Pending | StepStatus::Running | StepStatus::Failed | StepStatus::Waiting | StepStatus::Dead) {
                self.inner.store.set_step_status(run, step.step, StepStatus::Cancelled, None, None).await?;
            }
        }
        let record = self.inner.store.set_run_status(run, RunStatus::Cancelled, Some("cancelled by the user")).await?;
        self.publish([record]);
        Ok(())
    }

    /// Approves or rejects a waiting approval step. Drive the run again to
    /// go on.
    pub async fn decide(&self, run: RunId, step: u32, approved: bool, note: Option<&str>) -> Result<()> {
        let record = self.inner.store.step(run, step).await?;
        if record.kind != StepKind::Approval {
            return Err(AgentError::Conflict(format!("step {step} of run {run} is not an approval step")));
        }
        if record.status != StepStatus::Waiting {
            return Err(AgentError::Conflict(format!("step {step} of run {run} is {}, not waiting for approval", record.status)));
        }
        let status = if approved { StepStatus::Approved } else { StepStatus::Rejected };
        let event = RunEvent::ApprovalDecided { step, approved, note: note.map(str::to_owned) };
        let record = self.inner.store.set_step_status(run, step, status, note, Some(event)).await?;
        self.publish(record);
        Ok(())
    }

    /// Puts a dead letter back in the queue (its tries start again).
    pub async fn retry_dead(&self, run: RunId, step: u32) -> Result<()> {
        let record = self.inner.store.step(run, step).await?;
        if record.status != StepStatus::Dead {
            return Err(AgentError::Conflict(format!("step {step} of run {run} is {}, not in the dead-letter list", record.status)));
        }
        self.inner.store.set_step_status(run, step, StepStatus::Pending, None, None).await?;
        Ok(())
    }

    /// Gives up on a dead letter: steps that depend on it are skipped.
    pub async fn drop_dead(&self, run: RunId, step: u32) -> Result<()> {
        let record = self.inner.store.step(run, step).await?;
        if record.status != StepStatus::Dead {
            return Err(AgentError::Conflict(format!("step {step} of run {run} is {}, not in the dead-letter list", record.status)));
        }
        self.inner.store.set_step_status(run, step, StepStatus::Dropped, Some("dropped from the dead-letter list"), None).await?;
        Ok(())
    }

    /// Runs `run` until it finishes, waits for a human, is blocked by dead
    /// letters, is stopped by its budget or is cancelled (by `cancel` or by
    /// [`Runtime::cancel`] from any process). Steps a killed process left
    /// running start again; finished steps are never run again.
    pub async fn drive(&self, run: RunId, cancel: &CancellationToken) -> Result<RunRecord> {
        let store = &self.inner.store;
        let record = store.run(run).await?;
        if !record.status.is_open() {
            return Err(AgentError::Conflict(format!("run {run} is {}: there is nothing left to run", record.status)));
        }
        let owner = self.inner.owner.clone();
        store.take_lease(run, &owner, LEASE).await?;
        let result = self.drive_leased(run, record, cancel).await;
        if let Err(err) = store.release_lease(run, &owner).await {
            tracing::warn!(%run, "the run's lease could not be given up (it runs out by itself): {err}");
        }
        result
    }

    async fn drive_leased(&self, run: RunId, record: RunRecord, cancel: &CancellationToken) -> Result<RunRecord> {
        let store = &self.inner.store;
        store.requeue_interrupted(run).await?;
        let status = store.set_run_status(run, RunStatus::Running, None).await?;
        self.publish([status]);
        let parallelism = usize::try_from(record.parallelism.max(1)).unwrap_or(1);
        let steps_cancel = cancel.child_token();
        let mut running = FuturesUnordered::new();
        let mut in_flight: BTreeSet<u32> = BTreeSet::new();
        let mut not_before: HashMap<u32, Instant> = HashMap::new();
        let mut stop: Option<(RunStatus, String)> = None;
        let mut last_poll = Instant::now();
        loop {
            if stop.is_none() && (cancel.is_cancelled() || (last_poll.elapsed() >= self.inner.config.poll && store.cancel_requested(run).await?)) {
                stop = Some((RunStatus::Cancelled, "cancelled by the user".into()));
                steps_cancel.cancel();
            }
            if last_poll.elapsed() >= self.inner.config.poll {
                last_poll = Instant::now();
                store.take_lease(run, &self.inner.owner, LEASE).await?;
            }
            let steps = store.steps(run).await?;
            if stop.is_none() {
                // Steps that can never run: a dependency was rejected or dropped.
                for step in &steps {
                    if step.status == StepStatus::Pending
                        && step.deps.iter().any(|d| steps.iter().any(|s| s.step == *d && s.status.blocks_dependents_for_good()))
                    {
                        store.set_step_status(run, step.step, StepStatus::Skipped, Some("a step it depends on will not finish"), None).await?;
                    }
                }
                let ready: Vec<&StepRecord> = steps
                    .iter()
                    .filter(|s| matches!(s.status, StepStatus::Pending | StepStatus::Failed) && !in_flight.contains(&s.step))
                    .filter(|s| deps_ready(&steps, s))
                    .filter(|s| not_before.get(&s.step).is_none_or(|t| Instant::now() >= *t))
                    .collect();
                for step in ready {
                    match step.kind {
                        StepKind::Approval => {
                            let event = RunEvent::ApprovalRequested { step: step.step, question: step.label.clone() };
                            let record = store.set_step_status(run, step.step, StepStatus::Waiting, None, Some(event)).await?;
                            self.publish(record);
                        }
                        StepKind::Agent if in_flight.len() < parallelism => {
                            in_flight.insert(step.step);
                            let this = self.clone();
                            let (step, cancel, record) = (step.clone(), steps_cancel.clone(), record.clone());
                            // A task of its own: a step must go on while this
                            // loop waits on the database, or a step paused
                            // inside a transaction would hold the write lock
                            // that the loop waits for.
                            let number = step.step;
                            let task = tokio::spawn(async move { this.run_step(&record, step, &cancel).await });
                            running.push(async move {
                                let ended = task.await.unwrap_or_else(|err| Err(AgentError::Store(format!("step {number} stopped unexpectedly: {err}"))));
                                (number, ended)
                            });
                        }
                        StepKind::Agent => {}
                    }
                }
            }
            if running.is_empty() {
                let steps = store.steps(run).await?;
                let waiting_retry = stop.is_none() && steps.iter().any(|s| s.status == StepStatus::Failed);
                let runnable = stop.is_none() && steps.iter().any(|s| matches!(s.status, StepStatus::Pending | StepStatus::Failed) && deps_ready(&steps, s));
                if waiting_retry || runnable {
                    // Until the first retry is due (or the next poll).
                    let due = not_before.values().min().map_or(Duration::ZERO, |t| t.saturating_duration_since(Instant::now()));
                    tokio::time::sleep(due.clamp(Duration::from_millis(5), self.inner.config.poll)).await;
                    continue;
                }
                let (status, reason) = match stop.take() {
                    Some((RunStatus::Cancelled, _)) => {
                        self.finish_cancel(run).await?;
                        store.clear_cancel(run).await?;
                        return store.run(run).await;
                    }
                    Some(stopped) => (stopped.0, Some(stopped.1)),
                    None => final_status(&steps),
                };
                let record = store.set_run_status(run, status, reason.as_deref()).await?;
                self.publish([record]);
                return store.run(run).await;
            }
            let next = tokio::time::timeout(self.inner.config.poll, running.next()).await;
            let Ok(Some((number, ended))) = next else { continue };
            in_flight.remove(&number);
            match ended {
                Ok(Ended::Done) => {}
                Ok(Ended::Failed(failure)) => {
                    if failure.cancelled {
                        continue;
                    }
                    let attempts = store.step(run, number).await?.attempts;
                    let backoff = self.inner.config.retry_backoff.saturating_mul(2u32.saturating_pow(attempts.saturating_sub(1)));
                    not_before.insert(number, Instant::now() + backoff.min(Duration::from_secs(30)));
                }
                Ok(Ended::OverBudget(reason)) => {
                    if stop.is_none() {
                        stop = Some((RunStatus::Stopped, reason));
                        steps_cancel.cancel();
                    }
                }
                Err(err) => return Err(err),
            }
        }
    }

    /// Runs one agent step and records how it ended.
    async fn run_step(&self, run: &RunRecord, step: StepRecord, cancel: &CancellationToken) -> Result<Ended> {
        let store = &self.inner.store;
        let roster = &self.inner.roster;
        let agent = step.agent_id.clone().ok_or_else(|| AgentError::Store(format!("step {} of run {} names no agent", step.step, run.id)))?;
        let spec = roster
            .get(agent.as_str())
            .cloned()
            .ok_or_else(|| AgentError::NotFound(format!("step {} runs agent {agent}, which is no longer on the roster", step.step)))?;
        let mut data = store.step_extra(run.id, step.step).await?;
        let steps = store.steps(run.id).await?;
        if step.parent.is_none() {
            // A step of the run's own graph (a workflow's) reads what the
            // steps it waits for found (their last answers, after review),
            // as data.
            for dep in &step.deps {
                if let Some(earlier) = crate::run::final_answer(&steps, *dep)
                    && let (StepKind::Agent, Some(output)) = (earlier.kind, &earlier.output)
                {
                    data.earlier.push((earlier.label.clone(), output.clone()));
                }
            }
        }
        // Fields that take another step's answer get it now.
        let input = match crate::run::resolve_answers(&step.input, &steps) {
            Ok(input) => input,
            Err(reason) => {
                let failure = StepFailure { message: reason, permanent: true, cancelled: false, spent: StepResult::default() };
                let records = store.fail_step(run.id, step.step, StepStatus::Dead, &failure.message, &failure.spent, 0).await?;
                self.publish(records);
                return Ok(Ended::Failed(failure));
            }
        };
        let ctx = StepContext { run: run.id, step: step.step, workspace: run.workspace_id, user: run.user_id.clone() };
        let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel::<RunEvent>();
        let emit = move |event: RunEvent| {
            let _ = sender.send(event);
        };
        // The executor's events go to the log in order while it runs.
        let forward = {
            let this = self.clone();
            let run_id = run.id;
            tokio::spawn(async move {
                while let Some(event) = receiver.recv().await {
                    let mut batch = vec![event];
                    while let Ok(more) = receiver.try_recv() {
                        batch.push(more);
                    }
                    if let Err(err) = this.emit(run_id, batch).await {
                        tracing::warn!(run = %run_id, "an event could not be logged: {err}");
                    }
                }
            })
        };
        let started = Instant::now();
        let execution = self.execution(&spec, &input, data.clone(), &ctx, &emit, cancel);

        // The budget: what the run spent, what running steps hold, and the
        // most this step could cost must fit.
        let reserve = if run.budget_micro_usd > 0 {
            let request = execution.request(&data).map_err(AgentError::InvalidInput);
            let estimate = match request {
                Ok(request) => self.inner.ports.max_cost(&request).await.unwrap_or(0).saturating_mul(u64::from(self.inner.config.limits.repair_rounds) + 1),
                Err(_) => 0,
            };
            let spent = store.run(run.id).await?.spent_micro_usd;
            let decision = {
                let mut reserved = self.inner.reserved.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                let held = reserved.entry(run.id).or_insert(0);
                if spent + *held + estimate > run.budget_micro_usd {
                    Err(format!(
                        "stopped before step {} ({}): it could cost up to {}, and the run's budget of {} has {} left",
                        step.step,
                        spec.id,
                        rf_ai::format_usd(estimate),
                        rf_ai::format_usd(run.budget_micro_usd),
                        rf_ai::format_usd(run.budget_micro_usd.saturating_sub(spent + *held))
                    ))
                } else {
                    *held += estimate;
                    Ok(estimate)
                }
            };
            match decision {
                Ok(estimate) => estimate,
                Err(reason) => {
                    drop(emit);
                    let _ = forward.await;
                    return Ok(Ended::OverBudget(reason));
                }
            }
        } else {
            0
        };
        let (_, started_event) = store.start_step(run.id, step.step).await?;
        self.publish([started_event]);
        let (outcome, fetched) = match tokio::time::timeout(self.inner.config.limits.timeout, execution.run()).await {
            Ok(outcome) => outcome,
            Err(_) => (
                Err(StepFailure {
                    message: format!("timed out after {} s", self.inner.config.limits.timeout.as_secs()),
                    permanent: false,
                    cancelled: false,
                    spent: StepResult::default(),
                }),
                StepData::default(),
            ),
        };
        if reserve > 0 {
            let mut reserved = self.inner.reserved.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(held) = reserved.get_mut(&run.id) {
                *held = held.saturating_sub(reserve);
            }
        }
        drop(emit);
        let _ = forward.await;
        let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match outcome {
            Ok(mut result) => {
                let follow_up = self.follow_up(run, &step, &spec, &mut result, fetched, cancel).await?;
                let records = store.finish_step(run.id, step.step, &result, ms).await?;
                self.publish(records);
                if !follow_up.is_empty() {
                    let (_, records) = store.add_steps(run.id, follow_up).await?;
                    self.publish(records);
                }
                Ok(Ended::Done)
            }
            Err(failure) => {
                let status = if failure.cancelled {
                    StepStatus::Pending
                } else if failure.permanent || step.attempts + 1 >= self.inner.config.max_attempts {
                    StepStatus::Dead
                } else {
                    StepStatus::Failed
                };
                let records = store.fail_step(run.id, step.step, status, &failure.message, &failure.spent, ms).await?;
                self.publish(records);
                Ok(Ended::Failed(failure))
            }
        }
    }
}

/// The status of a run none of whose steps can run now.
fn final_status(steps: &[StepRecord]) -> (RunStatus, Option<String>) {
    let count = |status: StepStatus| steps.iter().filter(|s| s.status == status).count();
    let list = |status: StepStatus| steps.iter().filter(|s| s.status == status).map(|s| s.step.to_string()).collect::<Vec<_>>().join(", ");
    if let Some(rejected) = steps.iter().find(|s| s.status == StepStatus::Rejected) {
        let note = rejected.note.as_deref().map(|n| format!(": {n}")).unwrap_or_default();
        return (RunStatus::Failed, Some(format!("step {} ({}) was rejected{note}", rejected.step, rejected.label)));
    }
    if count(StepStatus::Waiting) > 0 {
        return (RunStatus::Paused, Some(format!("waiting for approval of step {}", list(StepStatus::Waiting))));
    }
    if count(StepStatus::Dead) > 0 {
        return (RunStatus::Blocked, Some(format!("step {} failed too often and is in the dead-letter list (`run dlq list`)", list(StepStatus::Dead))));
    }
    let dropped = count(StepStatus::Dropped) + count(StepStatus::Skipped);
    if dropped > 0 {
        return (RunStatus::Finished, Some(format!("{dropped} steps were dropped or skipped")));
    }
    (RunStatus::Finished, None)
}

/// Whether a step's dependencies let it start: a step of the run's own
/// graph waits until each one has settled (its review rounds and
/// delegations too); a follow-up waits for the step that made it.
fn deps_ready(steps: &[StepRecord], step: &StepRecord) -> bool {
    if step.parent.is_none() {
        step.deps.iter().all(|d| crate::run::settled(steps, *d))
    } else {
        step.deps.iter().all(|d| steps.iter().any(|o| o.step == *d && o.status.lets_dependents_run()))
    }
}
