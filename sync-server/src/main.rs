//! The `raptorflow-sync` binary: `serve`, and the `admin` commands.

use std::{path::PathBuf, process::ExitCode};

use anyhow::Context;
use clap::{Parser, Subcommand};
use raptorflow_sync::{
    admin,
    config::Settings,
    server,
    store::{AnyBackend, Backend},
};
use rf_sync::Role;

#[derive(Debug, Parser)]
#[command(name = "raptorflow-sync", version, about = "Sync server for RaptorFlow workspaces")]
struct Cli {
    /// TOML settings file (also RAPTORFLOW_SYNC_CONFIG).
    #[arg(long, global = true, env = "RAPTORFLOW_SYNC_CONFIG")]
    config: Option<PathBuf>,
    /// Database: sqlite://PATH (default sqlite://raptorflow-sync.db) or postgres://...
    #[arg(long, global = true)]
    db: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server.
    Serve {
        /// Address to listen on, e.g. 127.0.0.1:7410 (port 0 picks a free port).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
    },
    /// Manage workspaces, members and tokens.
    #[command(subcommand)]
    Admin(AdminCommand),
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    #[command(subcommand)]
    Workspace(WorkspaceCommand),
    #[command(subcommand)]
    Member(MemberCommand),
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Debug, Subcommand)]
enum WorkspaceCommand {
    /// Create a workspace.
    Create { name: String },
    /// List workspaces.
    List,
}

#[derive(Debug, Subcommand)]
enum MemberCommand {
    /// Add a member (or change their role) and print a new token for them, once.
    Add {
        #[arg(long)]
        workspace: String,
        #[arg(long)]
        user: String,
        #[arg(long)]
        role: Role,
    },
    /// Remove a member and revoke their tokens.
    Remove {
        #[arg(long)]
        workspace: String,
        #[arg(long)]
        user: String,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Revoke a token by its id (the 16 hex digits after `rfs_`).
    Revoke { token_id: String },
}

#[allow(clippy::print_stdout, clippy::print_stderr)]
async fn admin_command<B: Backend>(backend: &B, command: AdminCommand) -> anyhow::Result<()> {
    match command {
        AdminCommand::Workspace(WorkspaceCommand::Create { name }) => {
            let row = admin::create_workspace(backend, &name).await?;
            println!("created workspace {} ({})", row.name, row.workspace_id);
        }
        AdminCommand::Workspace(WorkspaceCommand::List) => {
            for row in backend.list_workspaces().await? {
                println!("{}\t{}\t{}", row.workspace_id, row.name, row.root_document.as_deref().unwrap_or("-"));
            }
        }
        AdminCommand::Member(MemberCommand::Add { workspace, user, role }) => {
            let added = admin::add_member(backend, &workspace, &user, role).await?;
            eprintln!(
                "{} is now {} of {}. Their sync token follows; it is shown only this once (token id {}):",
                added.user,
                added.role,
                added.workspace.name,
                added.token.id()
            );
            println!("{}", added.token.expose());
        }
        AdminCommand::Member(MemberCommand::Remove { workspace, user }) => {
            let row = admin::remove_member(backend, &workspace, &user).await?;
            println!("removed {user} from {} and revoked their tokens", row.name);
        }
        AdminCommand::Token(TokenCommand::Revoke { token_id }) => {
            admin::revoke_token(backend, &token_id).await?;
            println!("revoked token {}", token_id.trim());
        }
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

#[allow(clippy::print_stdout)]
async fn serve<B: Backend>(settings: Settings, backend: B) -> anyhow::Result<()> {
    raptorflow_sync::listener::raise_open_file_limit();
    let listener = tokio::net::TcpListener::bind(settings.listen).await.with_context(|| format!("could not listen on {}", settings.listen))?;
    // Tests and scripts read the port from this line.
    println!("listening on {}", listener.local_addr()?);
    server::serve(settings, backend, listener, shutdown_signal()).await
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut settings = Settings::load(cli.config.as_deref(), &|name| std::env::var(name).ok())?;
    if let Some(db) = cli.db {
        settings.db = db;
    }
    if let Command::Serve { listen: Some(listen) } = &cli.command {
        settings.listen = *listen;
    }
    let backend = AnyBackend::open(&settings.db).await?;
    match (cli.command, backend) {
        (Command::Serve { .. }, AnyBackend::Sqlite(backend)) => serve(settings, backend).await,
        (Command::Serve { .. }, AnyBackend::Postgres(backend)) => serve(settings, backend).await,
        (Command::Admin(command), AnyBackend::Sqlite(backend)) => {
            let result = admin_command(&backend, command).await;
            backend.close().await;
            result
        }
        (Command::Admin(command), AnyBackend::Postgres(backend)) => {
            let result = admin_command(&backend, command).await;
            backend.close().await;
            result
        }
    }
}

/// The error and its causes, joined by ": ", leaving out a cause whose text
/// an outer message already quotes (most of ours include their source).
fn error_chain(err: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in err.chain() {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&cause);
        }
    }
    text
}

#[allow(clippy::print_stderr)]
fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("RAPTORFLOW_SYNC_LOG").unwrap_or_else(|_| "raptorflow_sync=info,warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: could not start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", error_chain(&err));
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("could not migrate: {0}")]
    struct Quoting(#[source] std::io::Error);

    #[test]
    fn an_error_chain_names_each_cause_once() {
        let inner = std::io::Error::other("table chunks already exists");
        let err = anyhow::Error::new(Quoting(inner)).context("opening sqlite://x.db");
        assert_eq!(error_chain(&err), "opening sqlite://x.db: could not migrate: table chunks already exists");
        let plain = anyhow::Error::new(std::io::Error::other("disk full")).context("writing");
        assert_eq!(error_chain(&plain), "writing: disk full");
    }
}
