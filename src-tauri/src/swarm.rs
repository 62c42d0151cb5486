//! The Swarm screen's commands: the roster, runs with their step graphs and
//! event logs, starting runs, approvals, the dead-letter list and cancel.
//! Runs are driven in the background by this process; their events reach
//! the window as `run-event` (see [`crate::forward_run_events`]).

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
};

use rf_core::{
    Core,
    ai::{CancellationToken, Tier},
    domain::{AgentId, Business, CampaignId, MoveId, RunId, WorkspaceId},
    gamification::MemberScore,
    swarm::{Guild, RunEventRecord, RunRecord, StepRecord, Tool},
};
use serde::Serialize;
use tauri::State;

use crate::{
    error::{UiError, UiResult},
    ipc::Arg,
};

/// An agent as the roster shows it.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct AgentCard {
    pub id: AgentId,
    pub name: String,
    pub guild: Guild,
    pub specialisation: String,
    pub lord: Option<AgentId>,
    pub commands: Vec<Guild>,
    pub tier: Tier,
    pub tools: Vec<Tool>,
    /// The input it takes, as an example.
    pub sample_input: serde_json::Value,
}

/// A run and its steps.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct RunView {
    pub run: RunRecord,
    pub steps: Vec<StepRecord>,
    /// Some process (this app or the CLI) is running it now. An open run
    /// nobody runs (the app or the CLI stopped mid-run) can be resumed.
    pub driven: bool,
}

/// The runs this process drives now: a run is driven once at a time.
#[derive(Debug, Default, Clone)]
pub struct Drivers(Arc<Mutex<HashSet<RunId>>>);

/// Drives `run` in the background unless this process already does.
fn spawn_drive(core: &Core, drivers: &State<'_, Drivers>, run: RunId) {
    {
        let mut driving = drivers.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if !driving.insert(run) {
            return;
        }
    }
    let core = core.clone();
    let drivers = Drivers::clone(drivers);
    tauri::async_runtime::spawn(async move {
        // Once it finishes, what its approvals approved goes into the
        // workspace (the brand codex of an onboarding), which the window
        // sees as a change of the workspace.
        if let Err(err) = core.drive_run(run, &CancellationToken::new()).await {
            tracing::warn!(%run, "the run stopped with an error: {err}");
        }
        drivers.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&run);
    });
}

fn run_id(arg: Arg<RunId>) -> UiResult<RunId> {
    arg.parse(RunId::FIELD)
}

async fn view(core: &Core, run: RunId) -> UiResult<RunView> {
    let swarm = core.swarm().await?;
    let store = swarm.store();
    Ok(RunView {
        run: store.run(run).await.map_err(rf_core::CoreError::from)?,
        steps: store.steps(run).await.map_err(rf_core::CoreError::from)?,
        driven: store.is_driven(run).await.map_err(rf_core::CoreError::from)?,
    })
}

/// Drives `run` here and gives its view.
async fn start(core: &Core, drivers: &State<'_, Drivers>, run: RunId) -> UiResult<RunView> {
    spawn_drive(core, drivers, run);
    driving(core, run).await
}

/// The view of a run this app has just started driving (its lease may not
/// be taken yet).
async fn driving(core: &Core, run: RunId) -> UiResult<RunView> {
    let mut view = view(core, run).await?;
    view.driven = view.run.status.is_open();
    Ok(view)
}

/// The 87 agents: 7 Lords and the four guilds.
#[tauri::command]
#[specta::specta]
pub async fn swarm_roster(core: State<'_, Core>) -> UiResult<Vec<AgentCard>> {
    let swarm = core.swarm().await?;
    Ok(swarm
        .roster()
        .agents()
        .map(|a| AgentCard {
            id: a.id.clone(),
            name: a.name.clone(),
            guild: a.guild,
            specialisation: a.specialisation.clone(),
            lord: a.lord.clone(),
            commands: a.commands.clone(),
            tier: a.tier,
            tools: a.tools.clone(),
            sample_input: a.sample_input.clone(),
        })
        .collect())
}

/// Runs, newest first (of one workspace, or all).
#[tauri::command]
#[specta::specta]
pub async fn run_list(core: State<'_, Core>, workspace_id: Arg<Option<WorkspaceId>>) -> UiResult<Vec<RunRecord>> {
    let workspace = workspace_id.parse(WorkspaceId::FIELD)?;
    Ok(core.swarm().await?.store().runs(workspace, 100).await.map_err(rf_core::CoreError::from)?)
}

#[tauri::command]
#[specta::specta]
pub async fn run_show(core: State<'_, Core>, run_id: Arg<RunId>) -> UiResult<RunView> {
    view(&core, self::run_id(run_id)?).await
}

/// A run's event log after `after` (0: from the start), to replay a run
/// that started before the window opened.
#[tauri::command]
#[specta::specta]
pub async fn run_events(core: State<'_, Core>, run_id: Arg<RunId>, after: u32) -> UiResult<Vec<RunEventRecord>> {
    Ok(core.swarm().await?.store().events(self::run_id(run_id)?, after).await.map_err(rf_core::CoreError::from)?)
}

fn budget(budget_usd: Option<&str>) -> UiResult<u64> {
    match budget_usd.map(str::trim).filter(|b| !b.is_empty()) {
        Some(usd) => rf_core::ai::parse_usd(usd).map_err(|err| UiError::invalid("budget", err)),
        None => Ok(0),
    }
}

/// Starts onboarding: `business` is the business file's JSON (company and
/// description required; see the README). A bad field is named and
/// nothing starts.
#[tauri::command]
#[specta::specta]
pub async fn onboard_start(
    core: State<'_, Core>,
    drivers: State<'_, Drivers>,
    workspace_id: Arg<WorkspaceId>,
    business: String,
    budget_usd: Option<String>,
) -> UiResult<RunView> {
    let workspace = workspace_id.parse(WorkspaceId::FIELD)?;
    let business = Business::from_json(&business)
        .map_err(|err| UiError::invalid("business", if err.field.is_empty() { err.message } else { format!("{}: {}", err.field, err.message) }))?;
    let run = core.create_onboarding_run(workspace, &business, &[], budget(budget_usd.as_deref())?).await?;
    start(&core, &drivers, run).await
}

/// Starts the plan of a campaign's moves.
#[tauri::command]
#[specta::specta]
pub async fn campaign_plan(core: State<'_, Core>, drivers: State<'_, Drivers>, campaign_id: Arg<CampaignId>, budget_usd: Option<String>) -> UiResult<RunView> {
    let run = core.create_plan_run(campaign_id.parse(CampaignId::FIELD)?, budget(budget_usd.as_deref())?).await?;
    start(&core, &drivers, run).await
}

/// Starts writing the assets of a campaign's moves (or of one move).
#[tauri::command]
#[specta::specta]
pub async fn assets_generate(
    core: State<'_, Core>,
    drivers: State<'_, Drivers>,
    campaign_id: Arg<CampaignId>,
    move_id: Arg<Option<MoveId>>,
    budget_usd: Option<String>,
) -> UiResult<RunView> {
    let campaign = campaign_id.parse(CampaignId::FIELD)?;
    let run = core.create_asset_run(campaign, move_id.parse(MoveId::FIELD)?, budget(budget_usd.as_deref())?).await?;
    start(&core, &drivers, run).await
}

/// Starts an intelligence sweep; `notes` is the notes file's JSON, if any.
#[tauri::command]
#[specta::specta]
pub async fn intel_sweep(
    core: State<'_, Core>,
    drivers: State<'_, Drivers>,
    workspace_id: Arg<WorkspaceId>,
    notes: Option<String>,
    budget_usd: Option<String>,
) -> UiResult<RunView> {
    let workspace = workspace_id.parse(WorkspaceId::FIELD)?;
    let notes = match notes.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        Some(text) => rf_core::work::SweepNotes::from_json(text)?,
        None => Default::default(),
    };
    let run = core.create_sweep_run(workspace, notes, budget(budget_usd.as_deref())?).await?;
    start(&core, &drivers, run).await
}

/// The approvals inbox: every approval step waiting for a person, oldest
/// first (of one workspace's runs, or all).
#[tauri::command]
#[specta::specta]
pub async fn approvals_waiting(core: State<'_, Core>, workspace_id: Arg<Option<WorkspaceId>>) -> UiResult<Vec<StepRecord>> {
    let workspace = workspace_id.parse(WorkspaceId::FIELD)?;
    let store = core.swarm().await?.store().clone();
    let mut waiting = Vec::new();
    for run in store.runs(workspace, 100).await.map_err(rf_core::CoreError::from)?.into_iter().filter(|r| r.status == rf_core::swarm::RunStatus::Paused) {
        let steps = store.steps(run.id).await.map_err(rf_core::CoreError::from)?;
        waiting.extend(steps.into_iter().filter(|s| s.status == rf_core::swarm::StepStatus::Waiting));
    }
    waiting.reverse();
    Ok(waiting)
}

/// The members' points, streaks and achievements, highest first.
#[tauri::command]
#[specta::specta]
pub async fn workspace_stats(core: State<'_, Core>, workspace_id: Arg<WorkspaceId>) -> UiResult<Vec<MemberScore>> {
    Ok(core.stats(workspace_id.parse(WorkspaceId::FIELD)?).await?)
}

/// Starts a run of `agent_id` on `input` (default: its sample input), with
/// an optional budget in dollars ("0.50").
#[tauri::command]
#[specta::specta]
pub async fn agent_run(
    core: State<'_, Core>,
    drivers: State<'_, Drivers>,
    agent_id: String,
    workspace_id: Arg<Option<WorkspaceId>>,
    input: Option<serde_json::Value>,
    budget_usd: Option<String>,
) -> UiResult<RunView> {
    let workspace = workspace_id.parse(WorkspaceId::FIELD)?;
    let run = core.create_agent_run(&agent_id, workspace, input, budget(budget_usd.as_deref())?).await?;
    start(&core, &drivers, run).await
}

/// Continues a run (after a crash, or one that is blocked).
#[tauri::command]
#[specta::specta]
pub async fn run_resume(core: State<'_, Core>, drivers: State<'_, Drivers>, run_id: Arg<RunId>) -> UiResult<RunView> {
    let run = self::run_id(run_id)?;
    let record = core.swarm().await?.store().run(run).await.map_err(rf_core::CoreError::from)?;
    if !record.status.is_open() {
        return Err(UiError { kind: "conflict", message: format!("run {run} is {}: there is nothing left to run", record.status), field: None });
    }
    let ours = drivers.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).contains(&run);
    if !ours && core.swarm().await?.store().is_driven(run).await.map_err(rf_core::CoreError::from)? {
        return Err(UiError {
            kind: "conflict",
            message: format!("run {run} is being run by another process (the CLI?); its steps show here as they run"),
            field: None,
        });
    }
    start(&core, &drivers, run).await
}

#[tauri::command]
#[specta::specta]
pub async fn run_cancel(core: State<'_, Core>, run_id: Arg<RunId>) -> UiResult<RunView> {
    let run = self::run_id(run_id)?;
    core.swarm().await?.cancel(run).await.map_err(rf_core::CoreError::from)?;
    view(&core, run).await
}

/// Approves or rejects a waiting approval step, with a note, and continues
/// the run.
#[tauri::command]
#[specta::specta]
pub async fn run_decide(
    core: State<'_, Core>,
    drivers: State<'_, Drivers>,
    run_id: Arg<RunId>,
    step: u32,
    approved: bool,
    note: Option<String>,
) -> UiResult<RunView> {
    let run = self::run_id(run_id)?;
    let note = note.as_deref().map(str::trim).filter(|n| !n.is_empty());
    core.decide_approval(run, step, approved, note).await?;
    start(&core, &drivers, run).await
}

/// The dead-letter list of every run.
#[tauri::command]
#[specta::specta]
pub async fn dlq_list(core: State<'_, Core>) -> UiResult<Vec<StepRecord>> {
    Ok(core.swarm().await?.store().dead_letters(None).await.map_err(rf_core::CoreError::from)?)
}

/// Tries a dead step again and continues its run.
#[tauri::command]
#[specta::specta]
pub async fn dlq_retry(core: State<'_, Core>, drivers: State<'_, Drivers>, run_id: Arg<RunId>, step: u32) -> UiResult<RunView> {
    let run = self::run_id(run_id)?;
    core.swarm().await?.retry_dead(run, step).await.map_err(rf_core::CoreError::from)?;
    start(&core, &drivers, run).await
}

/// Gives up on a dead step (what depends on it is skipped) and continues its run.
#[tauri::command]
#[specta::specta]
pub async fn dlq_drop(core: State<'_, Core>, drivers: State<'_, Drivers>, run_id: Arg<RunId>, step: u32) -> UiResult<RunView> {
    let run = self::run_id(run_id)?;
    core.swarm().await?.drop_dead(run, step).await.map_err(rf_core::CoreError::from)?;
    start(&core, &drivers, run).await
}
