//! `agents`, `agent run` and `run`: the swarm's roster, running agents, and
//! the runs' graphs, dead letters and approvals; the workflows: `onboard`,
//! `campaign plan`, `assets generate` and `intel sweep`.

use std::{
    collections::BTreeMap,
    io::{BufRead, Write},
    path::PathBuf,
};

use clap::Subcommand;
use rf_core::{
    Core, CoreError,
    ai::{Tier, format_usd},
    domain::{CampaignId, MoveId, RunId, WorkspaceId},
    swarm::{Guild, RunEvent, RunEventRecord, RunRecord, RunStatus, StepRecord},
    workflows::{ApplyReport, check_regenerate},
};
use serde_json::json;

use crate::output::Output;

#[derive(Debug, Subcommand)]
pub(crate) enum AgentsCommand {
    /// The roster: 7 Lords and the agents of the four guilds.
    List {
        #[arg(long, value_name = "GUILD")]
        guild: Option<Guild>,
    },
    /// One agent: its job, tools, schema, sample input and prompt.
    Show { id: String },
    /// Runs every agent (of a guild, or the ones named) on its sample input
    /// with the local model, and reports for each whether its answer
    /// matched its schema at once or after repair, its tokens and time.
    Eval {
        #[arg(long, value_name = "GUILD")]
        guild: Option<Guild>,
        /// Only these agents.
        #[arg(long = "agent", value_name = "ID")]
        agents: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum AgentCommand {
    /// Runs an agent on an input file (JSON shaped like its sample input) as
    /// a durable run; a Lord's delegations run too. Streams progress.
    Run {
        id: String,
        #[arg(long, value_name = "ID")]
        workspace: Option<WorkspaceId>,
        /// The input (default: the agent's sample input).
        #[arg(long, value_name = "FILE")]
        input: Option<PathBuf>,
        /// Stop the run before it could spend more than this many dollars.
        #[arg(long, value_name = "USD")]
        budget: Option<String>,
        /// Create the run but do not start it (`run resume` starts it).
        #[arg(long)]
        detach: bool,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum RunCommand {
    /// Runs, newest first.
    List {
        #[arg(long, value_name = "ID")]
        workspace: Option<WorkspaceId>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// A run's steps, their status, model, tokens and cost.
    Show { run: RunId },
    /// Follows a run's events as they happen (from any process) until it
    /// stops, waits or is blocked.
    Watch {
        run: RunId,
        /// Print the log so far and return.
        #[arg(long)]
        once: bool,
    },
    /// Continues a run: steps a killed process left unfinished run again;
    /// finished steps are never run (or paid for) twice.
    Resume { run: RunId },
    /// Cancels a run (also one that another process is running).
    Cancel { run: RunId },
    /// Approves a waiting approval step and continues the run.
    Approve {
        run: RunId,
        step: u32,
        #[arg(long, value_name = "TEXT")]
        note: Option<String>,
    },
    /// Rejects a waiting approval step: the run fails, what depends on it never runs.
    Reject {
        run: RunId,
        step: u32,
        #[arg(long, value_name = "TEXT")]
        note: Option<String>,
    },
    /// The dead-letter list: steps that failed as often as allowed.
    #[command(subcommand)]
    Dlq(DlqCommand),
}

#[derive(Debug, Subcommand)]
pub(crate) enum DlqCommand {
    List {
        #[arg(long, value_name = "RUN")]
        run: Option<RunId>,
    },
    /// Tries a dead step again and continues its run.
    Retry { run: RunId, step: u32 },
    /// Gives up on a dead step; steps that depend on it are skipped.
    Drop { run: RunId, step: u32 },
}

/// `--budget USD` in micro-dollars (0: none).
fn parse_budget(usd: Option<&str>) -> Result<u64, CoreError> {
    usd.map_or(Ok(0), |usd| rf_core::ai::parse_usd(usd).map_err(|err| CoreError::Conflict { what: format!("--budget: {err}") }))
}

fn read_input(path: &std::path::Path) -> Result<serde_json::Value, CoreError> {
    let text = rf_core::guardian::read_input_file(path)?;
    serde_json::from_str(&text).map_err(|err| CoreError::InputFile { path: path.to_owned(), reason: format!("not JSON: {err}") })
}

pub(crate) async fn run_agents(core: &Core, command: AgentsCommand, out: &mut Output) -> Result<(), CoreError> {
    let swarm = core.swarm().await?;
    let roster = swarm.roster();
    match command {
        AgentsCommand::List { guild } => {
            let agents: Vec<_> = roster.agents().filter(|a| guild.is_none_or(|g| a.guild == g)).collect();
            let list: Vec<_> = agents
                .iter()
                .map(|a| json!({"id": a.id, "name": a.name, "guild": a.guild, "specialisation": a.specialisation, "lord": a.lord, "commands": a.commands, "tier": a.tier, "tools": a.tools}))
                .collect();
            out.document(&list, |text| {
                for a in &agents {
                    text.push_str(&format!("{:<9} {:<9} {:<36} {}\n", a.id.as_str(), a.guild.as_str(), a.name, a.specialisation));
                }
                text.push_str(&format!("{} agents\n", agents.len()));
            });
        }
        AgentsCommand::Show { id } => {
            let spec = roster.get(&id).ok_or_else(|| CoreError::NotFound { what: "agent", id: id.clone(), hint: "; `raptorflow agents list` shows them" })?;
            out.document(spec.as_ref(), |text| {
                text.push_str(&format!("{} {} ({} guild)\n{}\n", spec.id, spec.name, spec.guild, spec.specialisation));
                if let Some(lord) = &spec.lord {
                    text.push_str(&format!("commanded by: {lord}\n"));
                }
                if !spec.commands.is_empty() {
                    text.push_str(&format!("commands: {}\n", spec.commands.iter().map(|g| g.as_str()).collect::<Vec<_>>().join(", ")));
                }
                text.push_str(&format!("tier: {:?}   tools: {}\n", spec.tier, spec.tools.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", ")));
                text.push_str(&format!(
                    "\nsample input:\n{}\n\nprompt:\n{}\n",
                    serde_json::to_string_pretty(&spec.sample_input).unwrap_or_default(),
                    spec.body
                ));
            });
        }
        AgentsCommand::Eval { guild, agents } => {
            let cancel = crate::cancel_on_ctrl_c();
            let chosen: Vec<String> = roster
                .agents()
                .filter(|a| guild.is_none_or(|g| a.guild == g) && (agents.is_empty() || agents.iter().any(|id| id == a.id.as_str())))
                .map(|a| a.id.to_string())
                .collect();
            if let Some(unknown) = agents.iter().find(|id| roster.get(id).is_none()) {
                return Err(CoreError::NotFound { what: "agent", id: unknown.clone(), hint: "; `raptorflow agents list` shows them" });
            }
            let total = chosen.len();
            let mut results = Vec::new();
            let started = std::time::Instant::now();
            for (i, id) in chosen.iter().enumerate() {
                if cancel.is_cancelled() {
                    break;
                }
                let eval = swarm.evaluate(id, None, None, core.user().id.clone(), Some(Tier::Local), &cancel).await?;
                out.progress(&format!(
                    "[{}/{total}] {id:<9} {} {:>5} tokens {:>6} ms{}",
                    i + 1,
                    if eval.valid_first_try {
                        "valid        "
                    } else if eval.valid {
                        "valid/repair "
                    } else {
                        "INVALID      "
                    },
                    eval.tokens,
                    eval.ms,
                    eval.error.as_deref().map(|e| format!("  {e}")).unwrap_or_default()
                ));
                results.push(eval);
            }
            let mut per_guild: BTreeMap<Guild, (usize, usize, usize, u64, u64)> = BTreeMap::new();
            for e in &results {
                let entry = per_guild.entry(e.guild).or_default();
                entry.0 += 1;
                entry.1 += usize::from(e.valid_first_try);
                entry.2 += usize::from(e.valid);
                entry.3 += e.tokens;
                entry.4 += e.ms;
            }
            let overhead: Vec<u64> = results.iter().map(|e| e.overhead_us).collect();
            let mean_overhead_us = if overhead.is_empty() { 0 } else { overhead.iter().sum::<u64>() / overhead.len() as u64 };
            let wall_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            let guilds: Vec<_> = per_guild
                .iter()
                .map(
                    |(g, (n, first, valid, tokens, ms))| json!({"guild": g, "agents": n, "valid_first_try": first, "valid": valid, "tokens": tokens, "ms": ms}),
                )
                .collect();
            let agents_json: Vec<_> = results
                .iter()
                .map(|e| json!({"id": e.id, "valid_first_try": e.valid_first_try, "valid": e.valid, "tokens": e.tokens, "ms": e.ms, "calls": e.calls, "overhead_us": e.overhead_us, "model": e.model, "error": e.error}))
                .collect();
            let document = json!({"agents": agents_json, "guilds": guilds, "wall_ms": wall_ms, "mean_overhead_us": mean_overhead_us});
            out.document(&document, |text| {
                for (g, (n, first, valid, tokens, ms)) in &per_guild {
                    text.push_str(&format!("{g:<9} {valid}/{n} valid, {first}/{n} first try, {tokens} tokens, {:.1} s\n", *ms as f64 / 1000.0));
                }
                text.push_str(&format!(
                    "{} agents in {:.1} s; executor overhead {mean_overhead_us} µs per step (mean, excluding generation)\n",
                    results.len(),
                    wall_ms as f64 / 1000.0
                ));
            });
            if results.iter().any(|e| !e.valid) {
                return Err(CoreError::Conflict {
                    what: format!("{} of {} agents gave no valid answer", results.iter().filter(|e| !e.valid).count(), results.len()),
                });
            }
        }
    }
    Ok(())
}

pub(crate) async fn run_agent(core: &Core, command: AgentCommand, out: &mut Output) -> Result<(), CoreError> {
    let AgentCommand::Run { id, workspace, input, budget, detach } = command;
    let input = input.as_deref().map(read_input).transpose()?;
    let budget_micro_usd = parse_budget(budget.as_deref())?;
    let run = core.create_agent_run(&id, workspace, input, budget_micro_usd).await?;
    start(core, run, detach, &id, out).await
}

/// Drives a new run here (or only shows it, with `--detach`).
async fn start(core: &Core, run: RunId, detach: bool, what: &str, out: &mut Output) -> Result<(), CoreError> {
    if detach {
        return show_run(core, run, out).await;
    }
    out.progress(&format!("run {run}: {what}"));
    drive(core, run, out).await
}

/// How a workflow command's run is started.
#[derive(Debug, clap::Args)]
pub(crate) struct StartArgs {
    /// Stop the run before it could spend more than this many dollars.
    #[arg(long, value_name = "USD")]
    budget: Option<String>,
    /// Create the run but do not start it (`run resume` starts it).
    #[arg(long)]
    detach: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct PlanArgs {
    /// The campaign to plan: Strategos plans moves on each of its channels,
    /// Arbiter reviews them, Architect and Seer add structure and a
    /// forecast; once you approve (`run approve`) the moves are added.
    #[arg(long, value_name = "ID")]
    campaign: CampaignId,
    #[command(flatten)]
    start: StartArgs,
}

#[derive(Debug, clap::Args)]
pub(crate) struct GenerateArgs {
    /// The campaign whose google_ads, linkedin and email moves get assets.
    #[arg(long, value_name = "ID")]
    campaign: CampaignId,
    /// Only this move.
    #[arg(long = "move", value_name = "ID")]
    move_id: Option<MoveId>,
    #[command(flatten)]
    start: StartArgs,
}

#[derive(Debug, Subcommand)]
pub(crate) enum IntelCommand {
    /// Matrix tracks each competitor (from the brand codex and your notes)
    /// over the Codex, then Herald writes the team's digest; once you
    /// approve it, it is shared in the workspace.
    Sweep {
        #[arg(long, value_name = "ID")]
        workspace: WorkspaceId,
        /// What the team saw, as JSON: {"period": "...", "competitors":
        /// [{"name": "...", "observations": [{"date": "YYYY-MM-DD", "note":
        /// "..."}]}], "changes": ["..."]}.
        #[arg(long, value_name = "FILE")]
        notes: Option<PathBuf>,
        #[command(flatten)]
        start: StartArgs,
    },
}

pub(crate) async fn plan_campaign(core: &Core, args: PlanArgs, out: &mut Output) -> Result<(), CoreError> {
    let budget_micro_usd = parse_budget(args.start.budget.as_deref())?;
    let run = core.create_plan_run(args.campaign, budget_micro_usd).await?;
    start(core, run, args.start.detach, &format!("planning campaign {}", args.campaign), out).await
}

pub(crate) async fn generate_assets(core: &Core, args: GenerateArgs, out: &mut Output) -> Result<(), CoreError> {
    let budget_micro_usd = parse_budget(args.start.budget.as_deref())?;
    let run = core.create_asset_run(args.campaign, args.move_id, budget_micro_usd).await?;
    start(core, run, args.start.detach, &format!("writing the assets of campaign {}", args.campaign), out).await
}

pub(crate) async fn run_intel(core: &Core, command: IntelCommand, out: &mut Output) -> Result<(), CoreError> {
    let IntelCommand::Sweep { workspace, notes, start: how } = command;
    let notes = match &notes {
        Some(path) => {
            let text = rf_core::guardian::read_input_file(path)?;
            rf_core::work::SweepNotes::from_json(&text).map_err(|err| CoreError::InputFile { path: path.clone(), reason: err.to_string() })?
        }
        None => Default::default(),
    };
    let budget_micro_usd = parse_budget(how.budget.as_deref())?;
    let run = core.create_sweep_run(workspace, notes, budget_micro_usd).await?;
    start(core, run, how.detach, "intelligence sweep", out).await
}

/// Drives a run here, printing its events, then shows it.
async fn drive(core: &Core, run: RunId, out: &mut Output) -> Result<(), CoreError> {
    let swarm = core.swarm().await?;
    let cancel = crate::cancel_on_ctrl_c();
    let mut events = swarm.subscribe();
    let driver = {
        let (core, cancel) = (core.clone(), cancel.clone());
        tokio::spawn(async move { core.drive_run(run, &cancel).await })
    };
    let mut driver = std::pin::pin!(driver);
    let record = loop {
        tokio::select! {
            finished = &mut driver => break finished.map_err(|err| CoreError::Conflict { what: format!("the run's driver failed: {err}") })??,
            event = events.recv() => match event {
                Ok(record) if record.run_id == run => {
                    if let Some(line) = event_line(&record) {
                        out.progress(&line);
                    }
                }
                _ => {}
            },
        }
    };
    let (_, applied) = record;
    if let Some(report) = &applied {
        out.progress(&apply_line(report));
    }
    show_run(core, run, out).await
}

/// What a run wrote into the workspace, in a few lines.
fn apply_line(report: &ApplyReport) -> String {
    let mut lines = Vec::new();
    let work = !report.moves.is_empty() || !report.assets.is_empty() || report.digest;
    if !work || !report.written.is_empty() || !report.kept.is_empty() {
        let mut line = format!("brand codex: wrote {}", if report.written.is_empty() { "nothing".into() } else { report.written.join(", ") });
        if !report.kept.is_empty() {
            line.push_str(&format!("; kept your edits of {} (`onboard --regenerate FIELD` rewrites them)", report.kept.join(", ")));
        }
        lines.push(line);
    }
    if !report.uncited.is_empty() {
        lines.push(format!("left out, citing nothing the swarm was given:\n  {}", report.uncited.join("\n  ")));
    }
    if !report.moves.is_empty() {
        lines.push(format!("campaign: added {} moves", report.moves.len()));
    }
    for (asset, status) in &report.assets {
        lines.push(format!("asset {asset}: {status}"));
    }
    if report.digest {
        lines.push("digest: shared in the workspace".into());
    }
    if report.unquoted_findings > 0 {
        lines.push(format!("{} Guardian agent findings left out: their quote is not in the asset", report.unquoted_findings));
    }
    if !report.skipped.is_empty() {
        lines.push(format!("not written:\n  {}", report.skipped.join("\n  ")));
    }
    lines.join("\n")
}

/// One line for an event (none for streamed text).
fn event_line(record: &RunEventRecord) -> Option<String> {
    let line = match &record.event {
        RunEvent::Status { status, reason } => format!("run {status}{}", reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default()),
        RunEvent::StepAdded { step, label, parent, .. } => {
            format!("step {step} added: {label}{}", parent.map(|p| format!(" (from step {p})")).unwrap_or_default())
        }
        RunEvent::StepStarted { step, attempt } => format!("step {step} started{}", if *attempt > 1 { format!(" (try {attempt})") } else { String::new() }),
        RunEvent::Text { .. } => return None,
        RunEvent::ToolUsed { step, tool, detail } => format!("step {step} used {tool}: {detail}"),
        RunEvent::Repair { step, problems } => format!("step {step}: answer sent back ({})", problems.join("; ")),
        RunEvent::StepFinished { step, status, error, model, input_tokens, output_tokens, cost_micro_usd, ms, .. } => format!(
            "step {step} {status} in {:.1} s, {} tokens, {}{}{}",
            *ms as f64 / 1000.0,
            input_tokens + output_tokens,
            format_usd(*cost_micro_usd),
            model.as_deref().map(|m| format!(", {m}")).unwrap_or_default(),
            error.as_deref().map(|e| format!(": {e}")).unwrap_or_default()
        ),
        RunEvent::DelegationRefused { step, agent, reason } => format!("step {step}: delegation to {agent} refused: {reason}"),
        RunEvent::ApprovalRequested { step, question } => {
            format!("step {step} waits for approval: {question} (`raptorflow run approve|reject {} {step}`)", record.run_id)
        }
        RunEvent::ApprovalDecided { step, approved, note } => {
            format!("step {step} {}{}", if *approved { "approved" } else { "rejected" }, note.as_deref().map(|n| format!(": {n}")).unwrap_or_default())
        }
        RunEvent::ReviewEnded { step, note, .. } => format!("step {step}: review {note}"),
        RunEvent::Cost { run_spent_micro_usd, .. } => format!("run spent {}", format_usd(*run_spent_micro_usd)),
    };
    Some(line)
}

fn run_json(run: &RunRecord, steps: &[StepRecord]) -> serde_json::Value {
    json!({"run": run, "steps": steps})
}

fn write_run(text: &mut String, run: &RunRecord, steps: &[StepRecord]) {
    text.push_str(&format!("run {} {}: {}\n", run.id, run.status, run.title));
    if let Some(reason) = &run.reason {
        text.push_str(&format!("  {reason}\n"));
    }
    let budget = if run.budget_micro_usd > 0 { format!(" of {}", format_usd(run.budget_micro_usd)) } else { String::new() };
    text.push_str(&format!("  spent {}{budget}\n", format_usd(run.spent_micro_usd)));
    for s in steps {
        let deps = if s.deps.is_empty() { String::new() } else { format!(" after {}", s.deps.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")) };
        text.push_str(&format!(
            "  {:>3} {:<9} {:<40} tries {} tokens {:>5} {}{deps}{}\n",
            s.step,
            s.status.as_str(),
            s.label,
            s.attempts,
            s.input_tokens + s.output_tokens,
            format_usd(s.cost_micro_usd),
            s.error.as_deref().map(|e| format!("\n        {e}")).unwrap_or_default()
        ));
    }
}

async fn show_run(core: &Core, run: RunId, out: &mut Output) -> Result<(), CoreError> {
    let swarm = core.swarm().await?;
    let record = swarm.store().run(run).await?;
    let steps = swarm.store().steps(run).await?;
    out.document(&run_json(&record, &steps), |text| write_run(text, &record, &steps));
    Ok(())
}

pub(crate) async fn run_runs(core: &Core, command: RunCommand, out: &mut Output) -> Result<(), CoreError> {
    let swarm = core.swarm().await?;
    match command {
        RunCommand::List { workspace, limit } => {
            let runs = swarm.store().runs(workspace, limit).await?;
            out.document(&runs, |text| {
                for r in &runs {
                    text.push_str(&format!("{} {:<9} {} {}\n", r.id, r.status.as_str(), format_usd(r.spent_micro_usd), r.title));
                }
                if runs.is_empty() {
                    text.push_str("no runs yet\n");
                }
            });
        }
        RunCommand::Show { run } => show_run(core, run, out).await?,
        RunCommand::Watch { run, once } => {
            swarm.store().run(run).await?;
            let cancel = crate::cancel_on_ctrl_c();
            let mut after = 0;
            loop {
                for record in swarm.store().events(run, after).await? {
                    after = record.seq;
                    if out.is_json() {
                        out.progress(&serde_json::to_string(&record).unwrap_or_default());
                    } else if let Some(line) = event_line(&record) {
                        out.progress(&line);
                    }
                }
                let status = swarm.store().run(run).await?.status;
                let settled = !matches!(status, RunStatus::Running | RunStatus::Pending);
                if once || cancel.is_cancelled() || (settled && after > 0 && swarm.store().events(run, after).await?.is_empty()) {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        }
        RunCommand::Resume { run } => drive(core, run, out).await?,
        RunCommand::Cancel { run } => {
            let record = swarm.cancel(run).await?;
            out.document(&record, |text| text.push_str(&format!("run {run}: cancel requested (now {})\n", record.status)));
        }
        RunCommand::Approve { run, step, note } => {
            core.decide_approval(run, step, true, note.as_deref()).await?;
            drive(core, run, out).await?;
        }
        RunCommand::Reject { run, step, note } => {
            core.decide_approval(run, step, false, note.as_deref()).await?;
            drive(core, run, out).await?;
        }
        RunCommand::Dlq(DlqCommand::List { run }) => {
            let dead = swarm.store().dead_letters(run).await?;
            out.document(&dead, |text| {
                for s in &dead {
                    text.push_str(&format!("{} step {} {} after {} tries: {}\n", s.run_id, s.step, s.label, s.attempts, s.error.as_deref().unwrap_or("")));
                }
                if dead.is_empty() {
                    text.push_str("the dead-letter list is empty\n");
                }
            });
        }
        RunCommand::Dlq(DlqCommand::Retry { run, step }) => {
            swarm.retry_dead(run, step).await?;
            drive(core, run, out).await?;
        }
        RunCommand::Dlq(DlqCommand::Drop { run, step }) => {
            swarm.drop_dead(run, step).await?;
            drive(core, run, out).await?;
        }
    }
    Ok(())
}

#[derive(Debug, Subcommand)]
pub(crate) enum WorkflowsCommand {
    /// The workflows: onboarding, campaign plan, asset generation, intelligence sweep.
    List,
    /// One workflow: its lead, its steps and what each waits for.
    Show { id: String },
}

#[derive(Debug, clap::Args)]
pub(crate) struct OnboardArgs {
    #[arg(long, value_name = "ID")]
    workspace: WorkspaceId,
    /// The business as JSON: company and description (required), website,
    /// products [{name, description, price}], audiences, competitors, goals,
    /// voice, channels, monthly_budget_usd. Without it, the questions are
    /// asked here.
    #[arg(long, value_name = "FILE")]
    business: Option<PathBuf>,
    /// Documents about the business (a folder or files) to import into the
    /// Codex first, so the research can cite them.
    #[arg(long, value_name = "DIR")]
    docs: Vec<PathBuf>,
    /// Rewrite these brand codex fields even where a person edited them
    /// (comma separated, or "all").
    #[arg(long, value_name = "FIELDS", value_delimiter = ',')]
    regenerate: Vec<String>,
    /// Stop the run before it could spend more than this many dollars.
    #[arg(long, value_name = "USD")]
    budget: Option<String>,
    /// Create the run but do not start it (`run resume` starts it).
    #[arg(long)]
    detach: bool,
}

pub(crate) async fn run_workflows(core: &Core, command: WorkflowsCommand, out: &mut Output) -> Result<(), CoreError> {
    let workflows = core.workflows().await?;
    match command {
        WorkflowsCommand::List => {
            let list: Vec<_> =
                workflows.iter().map(|w| json!({"id": w.id, "name": w.name, "lead": w.lead, "summary": w.summary, "steps": w.steps.len()})).collect();
            out.document(&list, |text| {
                for w in workflows.iter() {
                    text.push_str(&format!("{:<20} {:<9} {}\n", w.id, w.lead.as_str(), w.summary));
                }
            });
        }
        WorkflowsCommand::Show { id } => {
            let workflow = workflows.get(&id).ok_or_else(|| CoreError::NotFound {
                what: "workflow",
                id: id.clone(),
                hint: " (`raptorflow workflows list` shows them)",
            })?;
            out.document(workflow.as_ref(), |text| {
                text.push_str(&format!("{} ({}), led by {}\n{}\n\n", workflow.name, workflow.id, workflow.lead, workflow.summary));
                for step in &workflow.steps {
                    let what = match (&step.agent, &step.approval) {
                        (Some(agent), _) => agent.to_string(),
                        (None, Some(question)) => format!("approval: {question}"),
                        _ => String::new(),
                    };
                    let mut extra = Vec::new();
                    if let Some(foreach) = &step.foreach {
                        extra.push(format!("for each of {foreach}{}", step.limit.map(|l| format!(" (at most {l})")).unwrap_or_default()));
                    }
                    if !step.after.is_empty() {
                        extra.push(format!("after {}", step.after.join(", ")));
                    }
                    if let Some(reviewer) = &step.reviewer {
                        extra.push(format!("reviewed by {reviewer}"));
                    }
                    if let Some(apply) = &step.apply {
                        extra.push(format!("applies {} to the {}", apply.steps.join(", "), apply.to.replace('_', " ")));
                    }
                    text.push_str(&format!("  {:<16} {what}{}\n", step.id, if extra.is_empty() { String::new() } else { format!("  ({})", extra.join("; ")) }));
                }
            });
        }
    }
    Ok(())
}

/// Asks for the business in the terminal, one question at a time; a bad
/// answer is asked again with what was wrong.
fn ask_business() -> Result<rf_core::domain::Business, CoreError> {
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    let say = |text: &str| {
        let mut stderr = std::io::stderr();
        let _ = stderr.write_all(text.as_bytes()).and_then(|()| stderr.flush());
    };
    let mut ask = |question: &str| -> Result<String, CoreError> {
        say(&format!("{question} "));
        match lines.next() {
            Some(Ok(line)) => Ok(line.trim().to_owned()),
            _ => Err(CoreError::Conflict { what: "the intake ended before its questions were answered; nothing was started".into() }),
        }
    };
    let list = |answer: String| -> Vec<String> { answer.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect() };
    let mut value = serde_json::Map::new();
    for (key, question, required) in [("company", "Company name:", true), ("description", "What does it sell, and to whom?", true)] {
        loop {
            let answer = ask(question)?;
            if answer.is_empty() && required {
                say(&format!("  {key} is required\n"));
                continue;
            }
            value.insert(key.into(), json!(answer));
            break;
        }
    }
    for (key, question) in [("website", "Website (Enter to skip):"), ("voice", "How should it sound? (Enter to skip)")] {
        let answer = ask(question)?;
        if !answer.is_empty() {
            value.insert(key.into(), json!(answer));
        }
    }
    for (key, question) in [
        ("audiences", "Who buys? (comma separated, Enter to skip)"),
        ("competitors", "Competitors (comma separated, Enter to skip)"),
        ("goals", "Goals (comma separated, Enter to skip)"),
    ] {
        value.insert(key.into(), json!(list(ask(question)?)));
    }
    let channels = rf_core::domain::INTAKE_CHANNELS.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", ");
    loop {
        let answer = list(ask(&format!("Channels ({channels}; comma separated, Enter to skip):"))?);
        value.insert("channels".into(), json!(answer));
        match rf_core::domain::Business::from_value(&serde_json::Value::Object(value.clone())) {
            Ok(business) => return Ok(business),
            Err(err) if err.field.starts_with("channels") => say(&format!("  {err}\n")),
            Err(err) => return Err(rf_core::domain::DomainError::Invalid { field: "business", reason: err.to_string() }.into()),
        }
    }
}

pub(crate) async fn onboard(core: &Core, args: OnboardArgs, out: &mut Output) -> Result<(), CoreError> {
    let business = match &args.business {
        Some(path) => {
            let text = rf_core::guardian::read_input_file(path)?;
            rf_core::domain::Business::from_json(&text).map_err(|err| CoreError::InputFile {
                path: path.clone(),
                reason: if err.field.is_empty() { err.message.clone() } else { format!("{}: {}", err.field, err.message) },
            })?
        }
        None => ask_business()?,
    };
    // Checked before the Codex import, so that a refusal changes nothing.
    check_regenerate(&args.regenerate)?;
    let budget_micro_usd = parse_budget(args.budget.as_deref())?;
    core.workspace(args.workspace).await?;
    if !args.docs.is_empty() {
        out.progress(&format!("codex: importing {}", args.docs.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")));
        let reports = core.codex_add(args.workspace, &args.docs, &Default::default(), &mut |_| {}).await?;
        out.progress(&format!("codex: {} files imported", reports.len()));
    }
    let run = core.create_onboarding_run(args.workspace, &business, &args.regenerate, budget_micro_usd).await?;
    start(core, run, args.detach, &format!("onboarding {}", business.company), out).await
}
