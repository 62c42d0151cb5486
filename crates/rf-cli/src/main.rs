//! `raptorflow`: the headless command-line shell. Each subcommand parses its
//! arguments, calls rf-core, and prints the result as text or, with `--json`,
//! as one JSON document on stdout. Errors go to stderr; the exit code is 0 on
//! success, 2 for invalid usage or input (or a token the sync server refuses),
//! 1 for anything else.

mod codex;
mod connectors;
mod guardian;
mod mcp_servers;
mod models;
mod output;
mod providers;
mod serve;
mod swarm;
mod sync_progress;

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
    time::Duration,
};

use clap::{Args, Parser, Subcommand};
use rf_core::domain::{Budget, CampaignId, CampaignStatus, Channel, DueDate, MoveId, MoveStatus, Role, UserId, WorkspaceId};
use rf_core::{CampaignEdit, Core, CoreConfig, CoreError, ErrorKind, LocalUser, MoveEdit, NewCampaign, NewMove};
use serde_json::json;

use crate::output::Output;

#[derive(Debug, Parser)]
#[command(name = "raptorflow", version, about = "RaptorFlow: a local-first AI workspace for marketers")]
struct Cli {
    /// Where workspaces are stored (default: the platform's data directory).
    #[arg(long, global = true, env = "RAPTORFLOW_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Print one JSON document on stdout instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// Where models are kept (default: DIR/models of the data directory).
    #[arg(long, global = true, env = "RAPTORFLOW_MODELS_DIR", value_name = "DIR")]
    models_dir: Option<PathBuf>,
    /// The local user's id, used as the owner of new workspaces.
    #[arg(long, global = true, env = "RAPTORFLOW_USER", value_name = "USER_ID")]
    user: Option<UserId>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a sample workspace with a campaign and moves, and print it.
    Demo,
    /// Create, list and show workspaces.
    #[command(subcommand)]
    Workspace(WorkspaceCommand),
    /// Create, list and show campaigns.
    #[command(subcommand)]
    Campaign(CampaignCommand),
    /// Add moves and change their status.
    #[command(subcommand, name = "move")]
    Move(MoveCommand),
    /// Write a workspace and all its campaigns to a JSON file.
    Export {
        #[arg(long, value_name = "ID")]
        workspace: WorkspaceId,
        file: PathBuf,
    },
    /// Import a workspace from a JSON file made by `export`.
    Import { file: PathBuf },
    /// Share workspaces with teammates through a raptorflow-sync server.
    #[command(subcommand)]
    Sync(SyncCommand),
    /// List, fetch and import local AI models.
    #[command(subcommand)]
    Models(models::ModelsCommand),
    /// The workspace's knowledge base: import documents, search them with citations.
    #[command(subcommand)]
    Codex(codex::CodexCommand),
    /// Check ad copy against platform policy and brand rules; list the rules.
    #[command(subcommand)]
    Guardian(guardian::GuardianCommand),
    /// Add, edit, show, list and delete assets; re-check them and move them
    /// through review.
    #[command(subcommand, visible_alias = "assets")]
    Asset(guardian::AssetCommand),
    /// Add and remove a workspace's members and change their roles (owners only).
    #[command(subcommand)]
    Member(MemberCommand),
    /// Embed texts with the local embedding model (prints vectors with --json).
    Embed {
        #[arg(required = true)]
        texts: Vec<String>,
        /// The embedding model (default: the manifest's default embedder).
        #[arg(long, value_name = "ID")]
        model: Option<String>,
        /// Compute threads (default: one per core). Which is faster depends
        /// on the machine's load.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
        threads: Option<u16>,
    },
    /// Ask a model (local, or a configured cloud provider chosen by tier,
    /// privacy mode and budget); the answer streams to the terminal and the
    /// call is recorded in the cost ledger.
    Ask(models::AskArgs),
    /// Serve the local OpenAI-compatible API (models, chat completions,
    /// embeddings) on 127.0.0.1 for other tools, behind a bearer token.
    Serve(serve::ServeArgs),
    /// Serve RaptorFlow's MCP server on stdin/stdout for a desktop client
    /// (Codex search, Guardian checks, the workspace, agents).
    Mcp(serve::McpArgs),
    /// The MCP servers whose tools agents may use where their files allow.
    #[command(subcommand)]
    McpServers(mcp_servers::McpServersCommand),
    /// Configure cloud model providers and their API keys.
    #[command(subcommand)]
    Providers(providers::ProvidersCommand),
    /// What model calls cost: reports and monthly budgets.
    #[command(subcommand)]
    Cost(providers::CostCommand),
    /// Marketing APIs (NewsAPI, Brave Search, ...): keys, limits, tests,
    /// searches.
    #[command(subcommand)]
    Connectors(connectors::ConnectorsCommand),
    /// Market signals of a workspace: series from the connectors, their
    /// forecasts, change points and anomalies.
    #[command(subcommand)]
    Signals(connectors::SignalsCommand),
    /// The swarm's roster of 87 agents: list, show, evaluate on the local model.
    #[command(subcommand)]
    Agents(swarm::AgentsCommand),
    /// Run one agent (a Lord's delegations run too) as a durable run.
    #[command(subcommand)]
    Agent(swarm::AgentCommand),
    /// Swarm runs: list, show, watch, resume, cancel, approve, reject, and the
    /// dead-letter list.
    #[command(subcommand)]
    Run(swarm::RunCommand),
    /// The swarm's workflows: onboarding, campaign plan, asset generation,
    /// intelligence sweep.
    #[command(subcommand)]
    Workflows(swarm::WorkflowsCommand),
    /// Maniacal Onboarding: the swarm learns the business from a business
    /// file (or questions asked here) and the Codex, drafts the brand codex
    /// with a citation for every claim and, once you approve it (`run
    /// approve`), writes it into the workspace.
    Onboard(swarm::OnboardArgs),
    /// Market intelligence: the sweep that ends in the team's digest.
    #[command(subcommand)]
    Intel(swarm::IntelCommand),
    /// Points, streaks of active days and achievements of a workspace's members.
    Stats {
        #[arg(long, value_name = "ID")]
        workspace: WorkspaceId,
    },
    /// Tools for tests and benchmarks.
    #[command(subcommand, hide = true)]
    Dev(DevCommand),
}

#[derive(Debug, Subcommand)]
enum WorkspaceCommand {
    /// Create a workspace owned by the local user.
    Create { name: String },
    /// List the workspaces on this device.
    List,
    /// Show a workspace: members, brand codex, campaigns.
    Show { id: WorkspaceId },
    /// Replace a workspace's brand codex with a JSON file (the `brand`
    /// object of `workspace show --json`): company, offer, audiences, voice
    /// {tone, dos, donts}, banned_terms, required_disclaimers,
    /// disclaimers_by_kind {asset kind: [..]}.
    SetBrand { id: WorkspaceId, file: PathBuf },
    /// Rename a workspace.
    Rename { id: WorkspaceId, name: String },
    /// Delete a workspace with its campaigns from this device (teammates'
    /// copies and the sync server keep theirs).
    Delete {
        id: WorkspaceId,
        /// Confirm: nothing is deleted without it.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Subcommand)]
enum MemberCommand {
    /// Add a member to a workspace.
    Add {
        #[arg(long, value_name = "ID")]
        workspace: WorkspaceId,
        /// The member's user id.
        #[arg(value_name = "USER_ID")]
        member: UserId,
        /// The name teammates see (default: the user id).
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
        /// owner, editor or viewer.
        #[arg(long, value_name = "ROLE")]
        role: Role,
    },
    /// Remove a member (not the last owner).
    Remove {
        #[arg(long, value_name = "ID")]
        workspace: WorkspaceId,
        #[arg(value_name = "USER_ID")]
        member: UserId,
    },
    /// Change a member's role (the last owner stays an owner).
    SetRole {
        #[arg(long, value_name = "ID")]
        workspace: WorkspaceId,
        #[arg(value_name = "USER_ID")]
        member: UserId,
        role: Role,
    },
}

#[derive(Debug, Subcommand)]
enum CampaignCommand {
    /// Create a campaign in a workspace.
    Create(CampaignCreateArgs),
    /// List the campaigns of a workspace.
    List {
        #[arg(long, value_name = "ID")]
        workspace: WorkspaceId,
    },
    /// Show a campaign with its moves and assets.
    Show { id: CampaignId },
    /// Plan the campaign's moves with the swarm (approve with `run approve`).
    Plan(swarm::PlanArgs),
    /// Change a campaign's name, goal, budget, channels or dates.
    Edit(CampaignEditArgs),
    /// Move a campaign along: draft → active → paused/completed → archived.
    SetStatus { id: CampaignId, status: CampaignStatus },
    /// Delete a campaign with its moves and assets.
    Delete {
        id: CampaignId,
        /// Confirm: nothing is deleted without it.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Args)]
struct CampaignEditArgs {
    id: CampaignId,
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    #[arg(long, value_name = "TEXT")]
    goal: Option<String>,
    /// Budget amount, e.g. 2500 or 2500.50.
    #[arg(long, value_name = "AMOUNT", requires = "currency", conflicts_with = "no_budget")]
    budget: Option<String>,
    /// ISO 4217 currency of the budget, e.g. USD.
    #[arg(long, value_name = "CODE", requires = "budget")]
    currency: Option<String>,
    /// Remove the budget.
    #[arg(long)]
    no_budget: bool,
    /// The campaign's channels (repeatable; replaces the list).
    #[arg(long = "channel", value_name = "CHANNEL")]
    channels: Vec<Channel>,
    /// Start date as YYYY-MM-DD.
    #[arg(long, value_name = "DATE", conflicts_with = "no_start")]
    start: Option<DueDate>,
    /// End date as YYYY-MM-DD.
    #[arg(long, value_name = "DATE", conflicts_with = "no_end")]
    end: Option<DueDate>,
    /// Clear the start date.
    #[arg(long)]
    no_start: bool,
    /// Clear the end date.
    #[arg(long)]
    no_end: bool,
}

#[derive(Debug, Args)]
struct CampaignCreateArgs {
    #[arg(long, value_name = "ID")]
    workspace: WorkspaceId,
    /// What the campaign is for.
    #[arg(long, value_name = "TEXT")]
    goal: String,
    /// A channel the campaign will use (repeatable).
    #[arg(long = "channel", value_name = "CHANNEL")]
    channels: Vec<Channel>,
    /// Budget amount, e.g. 2500 or 2500.50.
    #[arg(long, value_name = "AMOUNT", requires = "currency")]
    budget: Option<String>,
    /// ISO 4217 currency of the budget, e.g. USD.
    #[arg(long, value_name = "CODE", requires = "budget")]
    currency: Option<String>,
    name: String,
}

#[derive(Debug, Subcommand)]
enum MoveCommand {
    /// Add a move to a campaign.
    Add {
        #[arg(long, value_name = "ID")]
        campaign: CampaignId,
        #[arg(long, value_name = "CHANNEL")]
        channel: Channel,
        /// Who is responsible.
        #[arg(long, value_name = "USER_ID")]
        owner: Option<UserId>,
        /// Due date as YYYY-MM-DD.
        #[arg(long, value_name = "DATE")]
        due: Option<DueDate>,
        title: String,
    },
    /// Set a move's status.
    SetStatus { move_id: MoveId, status: MoveStatus },
    /// Change a move's title, channel, description, due date or assignee.
    Edit {
        move_id: MoveId,
        #[arg(long, value_name = "TITLE")]
        title: Option<String>,
        #[arg(long, value_name = "CHANNEL")]
        channel: Option<Channel>,
        #[arg(long, value_name = "TEXT")]
        description: Option<String>,
        /// Due date as YYYY-MM-DD.
        #[arg(long, value_name = "DATE", conflicts_with = "no_due")]
        due: Option<DueDate>,
        /// Clear the due date.
        #[arg(long)]
        no_due: bool,
        /// Who is responsible (a member of the workspace).
        #[arg(long, value_name = "USER_ID", conflicts_with = "unassign")]
        owner: Option<UserId>,
        /// Leave the move unassigned.
        #[arg(long)]
        unassign: bool,
    },
    /// Delete a move (its assets stay in the campaign).
    Delete { move_id: MoveId },
}

#[derive(Debug, Subcommand)]
enum SyncCommand {
    /// Join a workspace on a sync server with a token from its admin. The
    /// token is read from stdin and kept in the OS keyring.
    Join {
        /// The server, e.g. https://sync.example.com or http://127.0.0.1:7410.
        #[arg(long, value_name = "URL")]
        server: String,
        /// Read the token from stdin (so it stays out of shell history).
        #[arg(long, required = true)]
        token_stdin: bool,
        /// Share this local workspace into an empty server workspace (owners).
        #[arg(long, value_name = "ID")]
        workspace: Option<WorkspaceId>,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 30, value_name = "SECS")]
        timeout: u64,
    },
    /// Sync joined workspaces with their servers now.
    Now {
        /// Only this workspace.
        #[arg(long, value_name = "ID")]
        workspace: Option<WorkspaceId>,
        #[arg(long, default_value_t = 30, value_name = "SECS")]
        timeout: u64,
    },
    /// Keep syncing every few seconds until interrupted (Ctrl-C).
    Run {
        #[arg(long, default_value_t = 5, value_name = "SECS")]
        interval: u64,
        #[arg(long, default_value_t = 30, value_name = "SECS")]
        timeout: u64,
    },
    /// Show joined workspaces, their servers, last sync and document heads.
    Status,
}

#[derive(Debug, Subcommand)]
enum DevCommand {
    /// Add moves one at a time, printing each id as soon as it is saved.
    AddMoves {
        #[arg(long, value_name = "ID")]
        campaign: CampaignId,
        #[arg(long, default_value_t = 100)]
        count: u64,
    },
}

fn default_data_dir() -> anyhow::Result<PathBuf> {
    rf_core::default_data_dir().ok_or_else(|| anyhow::anyhow!("no home directory found; pass --data-dir DIR"))
}

fn read_token_from_stdin() -> Result<String, CoreError> {
    let mut token = String::new();
    std::io::stdin().read_line(&mut token).map_err(|source| CoreError::Io { action: "could not read the token from", path: PathBuf::from("stdin"), source })?;
    Ok(token)
}

/// A token cancelled when the user presses Ctrl-C: the one place the CLI
/// listens for it. Dropping the token does not stop the listener; the process
/// ends soon after every command that uses it.
pub(crate) fn cancel_on_ctrl_c() -> rf_core::ai::CancellationToken {
    let cancel = rf_core::ai::CancellationToken::new();
    tokio::spawn({
        let cancel = cancel.clone();
        async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                cancel.cancel();
            }
        }
    });
    cancel
}

/// `sync run`: sync, then wait, until Ctrl-C. Edits other processes save on
/// this data directory reach the open Core through its watcher, so each
/// round sends them without reopening anything. A failed round is reported
/// and retried at the next one.
async fn sync_forever(core: &Core, out: &mut Output, interval: Duration, timeout: Duration) -> Result<(), CoreError> {
    let interrupted = cancel_on_ctrl_c();
    loop {
        tokio::select! {
            () = interrupted.cancelled() => return Ok(()),
            round = core.sync_now(None, timeout) => match round {
                Ok(reports) => out.progress(&output::sync_round_line(&reports)),
                Err(err) => out.progress(&format!("sync failed, will retry: {err}")),
            },
        }
        tokio::select! {
            () = interrupted.cancelled() => return Ok(()),
            () = tokio::time::sleep(interval) => {}
        }
    }
}

async fn run(cli: Cli, out: &mut Output, core: &mut Core) -> Result<(), CoreError> {
    match cli.command {
        Command::Demo => {
            let (workspace, campaign) = core.create_sample_workspace().await?;
            out.demo(core.data_dir(), &workspace, &campaign);
        }
        Command::Workspace(WorkspaceCommand::Create { name }) => out.workspace(&core.create_workspace(&name).await?),
        Command::Workspace(WorkspaceCommand::List) => out.workspaces(&core.list_workspaces().await?),
        Command::Workspace(WorkspaceCommand::Show { id }) => out.workspace(&core.workspace(id).await?),
        Command::Workspace(WorkspaceCommand::SetBrand { id, file }) => {
            let json = rf_core::guardian::read_input_file(&file)?;
            out.workspace(&core.update_brand_codex_json(id, &json).await?);
        }
        Command::Workspace(WorkspaceCommand::Rename { id, name }) => out.workspace(&core.rename_workspace(id, &name).await?),
        Command::Workspace(WorkspaceCommand::Delete { id, yes }) => {
            let index = core.workspace(id).await?;
            confirm(yes, &format!("deleting workspace {id} ({}) removes it and its {} campaigns from this device", index.name, index.campaigns.len()))?;
            let deleted = core.delete_workspace(id).await?;
            out.document(&json!({ "deleted": id, "name": deleted.name, "n_campaigns": deleted.campaigns.len() }), |text| {
                text.push_str(&format!("deleted workspace {id} ({}) from this device\n", deleted.name));
            });
        }
        Command::Member(command) => {
            let index = match command {
                MemberCommand::Add { workspace, member, name, role } => {
                    let name = name.unwrap_or_else(|| member.to_string());
                    core.add_member(workspace, member, &name, role).await?
                }
                MemberCommand::Remove { workspace, member } => core.remove_member(workspace, member).await?,
                MemberCommand::SetRole { workspace, member, role } => core.set_member_role(workspace, member, role).await?,
            };
            out.workspace(&index);
        }
        Command::Campaign(CampaignCommand::Edit(args)) => {
            let budget = match (args.budget, args.currency, args.no_budget) {
                (Some(amount), Some(currency), _) => Some(Some(Budget::parse(&amount, &currency)?)),
                (_, _, true) => Some(None),
                _ => None,
            };
            let changes = CampaignEdit {
                name: args.name,
                goal: args.goal,
                budget,
                channels: (!args.channels.is_empty()).then_some(args.channels),
                start_date: if args.no_start { Some(None) } else { args.start.map(Some) },
                end_date: if args.no_end { Some(None) } else { args.end.map(Some) },
            };
            out.campaign(&core.edit_campaign(args.id, changes).await?);
        }
        Command::Campaign(CampaignCommand::SetStatus { id, status }) => out.campaign(&core.set_campaign_status(id, status).await?),
        Command::Campaign(CampaignCommand::Delete { id, yes }) => {
            let campaign = core.campaign(id).await?;
            confirm(
                yes,
                &format!("deleting campaign {id} ({}) removes its {} moves and {} assets", campaign.name, campaign.moves.len(), campaign.assets.len()),
            )?;
            let deleted = core.delete_campaign(id).await?;
            out.document(&deleted, |text| {
                text.push_str(&format!("deleted campaign {id} ({}) with {} moves and {} assets\n", deleted.name, deleted.n_moves, deleted.n_assets));
            });
        }
        Command::Move(MoveCommand::Edit { move_id, title, channel, description, due, no_due, owner, unassign }) => {
            let changes = MoveEdit {
                title,
                channel,
                description,
                due_date: if no_due { Some(None) } else { due.map(Some) },
                owner: if unassign { Some(None) } else { owner.map(Some) },
            };
            let (campaign, the_move) = core.edit_move(move_id, changes).await?;
            out.move_saved(campaign, move_id, &the_move);
        }
        Command::Move(MoveCommand::Delete { move_id }) => {
            let (campaign, the_move) = core.delete_move(move_id).await?;
            out.document(&json!({ "deleted": move_id, "campaign_id": campaign, "title": the_move.title }), |text| {
                text.push_str(&format!("deleted move {move_id} ({})\n", the_move.title));
            });
        }
        Command::Guardian(command) => guardian::run_guardian(Some(core), command, out).await?,
        Command::Asset(command) => guardian::run_asset(core, command, out).await?,
        Command::Stats { workspace } => out.stats(&core.stats(workspace).await?),
        Command::Campaign(CampaignCommand::Create(args)) => {
            let budget = match (args.budget, args.currency) {
                (Some(amount), Some(currency)) => Some(Budget::parse(&amount, &currency)?),
                _ => None,
            };
            let new = NewCampaign { name: args.name, goal: args.goal, channels: args.channels, budget };
            out.campaign(&core.create_campaign(args.workspace, new).await?);
        }
        Command::Campaign(CampaignCommand::List { workspace }) => out.campaigns(&core.list_campaigns(workspace).await?),
        Command::Campaign(CampaignCommand::Show { id }) => out.campaign(&core.campaign(id).await?),
        Command::Move(MoveCommand::Add { campaign, channel, owner, due, title }) => {
            let (move_id, the_move) = core.add_move(campaign, NewMove { title, channel, owner, due_date: due }).await?;
            out.move_saved(campaign, move_id, &the_move);
        }
        Command::Move(MoveCommand::SetStatus { move_id, status }) => {
            let (campaign, the_move) = core.set_move_status(move_id, status).await?;
            out.move_saved(campaign, move_id, &the_move);
        }
        Command::Export { workspace, file } => {
            let export = core.export_to_file(workspace, &file).await?;
            out.exported(&file, &export);
        }
        Command::Import { file } => out.workspace(&core.import_file(&file).await?),
        Command::Sync(SyncCommand::Join { server, token_stdin: _, workspace, timeout }) => {
            let token = read_token_from_stdin()?;
            let joined = sync_progress::with_progress(core, core.join_sync(&server, &token, workspace, Duration::from_secs(timeout))).await?;
            out.sync_joined(&joined);
        }
        Command::Sync(SyncCommand::Now { workspace, timeout }) => {
            out.sync_reports(&sync_progress::with_progress(core, core.sync_now(workspace, Duration::from_secs(timeout))).await?);
        }
        Command::Sync(SyncCommand::Run { interval, timeout }) => {
            sync_forever(core, out, Duration::from_secs(interval), Duration::from_secs(timeout)).await?;
        }
        Command::Sync(SyncCommand::Status) => out.sync_status(&core.sync_status().await?),
        Command::Models(_)
        | Command::Embed { .. }
        | Command::Ask(_)
        | Command::Serve(_)
        | Command::Mcp(_)
        | Command::McpServers(_)
        | Command::Providers(_)
        | Command::Cost(_)
        | Command::Connectors(_)
        | Command::Signals(_)
        | Command::Codex(_)
        | Command::Agents(_)
        | Command::Agent(_)
        | Command::Run(_)
        | Command::Workflows(_)
        | Command::Onboard(_)
        | Command::Intel(_)
        | Command::Campaign(CampaignCommand::Plan(_)) => {
            unreachable!("handled before the data directory is opened")
        }
        Command::Dev(DevCommand::AddMoves { campaign, count }) => {
            for i in 0..count {
                let new = NewMove { title: format!("Move {i}"), channel: Channel::Email, owner: None, due_date: None };
                let (move_id, _) = core.add_move(campaign, new).await?;
                out.line(&move_id.to_string());
            }
        }
    }
    Ok(())
}

/// The Core configuration of one command.
fn core_config(data_dir: &Path, models_dir: &Path, user: Option<UserId>, threads: usize) -> CoreConfig {
    CoreConfig { models_dir: models_dir.to_owned(), threads, ..CoreConfig::new(data_dir, LocalUser::from_env(user)) }
}

/// Opens Core, runs `command` on it, and closes it whatever the outcome.
async fn with_core<T, F, Fut>(config: CoreConfig, command: F) -> Result<T, CoreError>
where
    F: FnOnce(Core) -> Fut,
    Fut: std::future::Future<Output = Result<T, CoreError>>,
{
    let core = Core::open_with(config).await?;
    let result = command(core.clone()).await;
    core.close().await;
    result
}

/// Refuses a destructive command given without `--yes`, saying what it would do.
fn confirm(yes: bool, what: &str) -> Result<(), CoreError> {
    if yes {
        return Ok(());
    }
    Err(rf_core::domain::DomainError::Invalid { field: "--yes", reason: format!("{what}; run the command again with --yes to do it (nothing was deleted)") }
        .into())
}

fn exit_code(kind: ErrorKind) -> ExitCode {
    match kind {
        ErrorKind::InvalidInput | ErrorKind::NotFound | ErrorKind::Conflict | ErrorKind::PermissionDenied | ErrorKind::BudgetExceeded => ExitCode::from(2),
        ErrorKind::Storage | ErrorKind::Network => ExitCode::from(1),
    }
}

/// A `--threads` that differs from the compute pools' sizes is applied by
/// running this program again (see [`rf_core::ai::rerun_with_pool_threads`]).
fn rerun_with_threads(command: &Command) -> Option<ExitCode> {
    let threads = match command {
        Command::Embed { threads, .. } => *threads,
        Command::Ask(args) => args.threads(),
        Command::Serve(args) => args.threads(),
        Command::Mcp(args) => args.threads(),
        Command::Codex(command) => command.threads(),
        _ => None,
    }?;
    rf_core::ai::rerun_with_pool_threads(threads)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(code) = rerun_with_threads(&cli.command) {
        return code;
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RAPTORFLOW_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,samod=error,samod_core=error,rmcp=off")),
        )
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, never into a file,
        // a pipe or another program reading `--json` output.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let mut out = Output::new(cli.json);
    let data_dir = match cli.data_dir.clone().map_or_else(default_data_dir, Ok) {
        Ok(dir) => dir,
        Err(err) => return out.fail("usage", &err.to_string(), ExitCode::from(2)),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => return out.fail("internal", &format!("could not start the async runtime: {err}"), ExitCode::from(1)),
    };
    let models_dir = cli.models_dir.clone().unwrap_or_else(|| rf_core::ai::default_models_dir(&data_dir));
    let finish = |out: Output, result: Result<(), CoreError>| match result {
        Ok(()) => {
            out.finish();
            ExitCode::SUCCESS
        }
        Err(err) => out.fail(err.kind().as_str(), &err.to_string(), exit_code(err.kind())),
    };
    // Opens Core with `threads` compute threads, runs the command on it,
    // closes it and reports how the command ended.
    macro_rules! in_core {
        ($threads:expr, |$core:ident, $sink:ident| $command:expr) => {{
            let config = core_config(&data_dir, &models_dir, cli.user.clone(), $threads);
            let $sink = &mut out;
            let result = runtime.block_on(with_core(config, |$core| async move { $command.await }));
            return finish(out, result);
        }};
    }
    let cli = match cli.command {
        Command::Models(command) => in_core!(models::default_threads(None), |core, sink| models::run_models(&core, command, sink)),
        Command::Embed { texts, model, threads } => {
            in_core!(models::default_threads(threads), |core, sink| models::run_embed(&core, &texts, model.as_deref(), sink))
        }
        Command::Ask(args) => in_core!(models::default_threads(args.threads()), |core, sink| providers::run_ask(&core, args, sink)),
        Command::Serve(args) => in_core!(models::default_threads(args.threads()), |core, sink| serve::run_serve(&core, args, sink)),
        Command::McpServers(command) => in_core!(1, |core, sink| mcp_servers::run_mcp_servers(&core, command, sink)),
        Command::Mcp(args) => in_core!(models::default_threads(args.threads()), |core, _sink| serve::run_mcp(&core, args)),
        Command::Providers(command) => in_core!(models::default_threads(None), |core, sink| providers::run_providers(&core, command, sink)),
        Command::Cost(command) => in_core!(1, |core, sink| providers::run_cost(&core, command, sink)),
        Command::Connectors(command) => in_core!(1, |core, sink| connectors::run_connectors(&core, command, sink)),
        Command::Signals(command) => in_core!(1, |core, sink| connectors::run_signals(&core, command, sink)),
        Command::Codex(command) => {
            // One or two threads embed fastest on a laptop.
            let config = core_config(&data_dir, &models_dir, cli.user.clone(), command.threads().map_or(1, usize::from));
            let sink = &mut out;
            let result = runtime.block_on(with_core(config, |core| async move { codex::run_codex(&core, command, sink).await }));
            return match result {
                // Some files were not imported: the report, then the summary.
                Ok(Some(partial)) => {
                    let json = out.is_json();
                    out.finish();
                    Output::new(json).fail("invalid_input", &partial, ExitCode::from(2))
                }
                Ok(None) => finish(out, Ok(())),
                Err(err) => finish(out, Err(err)),
            };
        }
        Command::Agents(command) => in_core!(models::default_threads(None), |core, sink| swarm::run_agents(&core, command, sink)),
        Command::Agent(command) => in_core!(models::default_threads(None), |core, sink| swarm::run_agent(&core, command, sink)),
        Command::Run(command) => in_core!(models::default_threads(None), |core, sink| swarm::run_runs(&core, command, sink)),
        Command::Workflows(command) => in_core!(models::default_threads(None), |core, sink| swarm::run_workflows(&core, command, sink)),
        Command::Onboard(args) => in_core!(models::default_threads(None), |core, sink| swarm::onboard(&core, args, sink)),
        Command::Campaign(CampaignCommand::Plan(args)) => in_core!(models::default_threads(None), |core, sink| swarm::plan_campaign(&core, args, sink)),
        Command::Asset(guardian::AssetCommand::Generate(args)) => {
            in_core!(models::default_threads(None), |core, sink| swarm::generate_assets(&core, args, sink))
        }
        Command::Intel(command) => in_core!(models::default_threads(None), |core, sink| swarm::run_intel(&core, command, sink)),
        // Checking copy needs no data directory unless a workspace's brand
        // rules are asked for.
        Command::Guardian(command) if !command.needs_workspace() => {
            let result = runtime.block_on(guardian::run_guardian(None, command, &mut out));
            return finish(out, result);
        }
        _ => cli,
    };
    let user = LocalUser::from_env(cli.user.clone());
    runtime.block_on(async move {
        let mut core = match Core::open(&data_dir, user).await {
            Ok(core) => core,
            Err(err) => return out.fail(err.kind().as_str(), &err.to_string(), exit_code(err.kind())),
        };
        let result = run(cli, &mut out, &mut core).await;
        core.close().await;
        match result {
            Ok(()) => {
                out.finish();
                ExitCode::SUCCESS
            }
            Err(err) => out.fail(err.kind().as_str(), &err.to_string(), exit_code(err.kind())),
        }
    })
}
