//! `raptorflow serve`: the local OpenAI-compatible API (rf-core's `api`)
//! with the MCP server on `/mcp`, until Ctrl-C or SIGTERM; `raptorflow
//! mcp`: the MCP server on stdio, for desktop clients that start it.

use std::io::Write as _;

use rf_core::{
    Core, CoreError,
    api::{ApiOptions, DEFAULT_API_PORT},
    mcp::McpOptions,
};
use serde_json::json;

use crate::output::Output;

#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// The port on 127.0.0.1 (0 takes a free one; the address is printed).
    #[arg(long, default_value_t = DEFAULT_API_PORT, value_name = "PORT")]
    port: u16,
    /// Let web pages from this origin (https://app.example.com) call the
    /// API from a browser; repeatable. None may by default.
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    allowed_origins: Vec<String>,
    /// Serve MCP's writing tools on /mcp too (asset_add: draft assets for
    /// review); read-only without it.
    #[arg(long)]
    mcp_allow_writes: bool,
    /// Print the API's bearer token and exit (it is made on first use and
    /// kept in the OS keyring, one per data directory).
    #[arg(long)]
    print_token: bool,
    /// Compute threads for the local models (default: one per core).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    threads: Option<u16>,
}

impl ServeArgs {
    pub(crate) fn threads(&self) -> Option<u16> {
        self.threads
    }
}

/// Waits for Ctrl-C, or SIGTERM where there is one.
async fn stop_signal() {
    #[cfg(unix)]
    {
        if let Ok(mut terminate) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

pub(crate) async fn run_serve(core: &Core, args: ServeArgs, out: &mut Output) -> Result<(), CoreError> {
    if args.print_token {
        let token = core.api_token()?;
        out.document(&json!({ "token": token }), |text| {
            text.push_str(&token);
            text.push('\n');
        });
        return Ok(());
    }
    let server =
        core.serve_api(ApiOptions { port: args.port, allowed_origins: args.allowed_origins, mcp: McpOptions { allow_writes: args.mcp_allow_writes } }).await?;
    let url = server.base_url();
    {
        // At once, so that a script that started the server can read where it is.
        let mut stdout = std::io::stdout().lock();
        if out.is_json() {
            let _ = writeln!(stdout, "{}", json!({ "listening": url }));
        } else {
            let _ = writeln!(stdout, "RaptorFlow's OpenAI-compatible API is listening on {url}");
            let _ = writeln!(stdout, "  API key: `raptorflow serve --print-token`; models: GET {url}/models; MCP: {}/mcp; Ctrl-C stops it.", server.addr());
        }
        let _ = stdout.flush();
    }
    stop_signal().await;
    server.stop().await;
    out.document(&json!({ "stopped": url }), |text| text.push_str("stopped\n"));
    Ok(())
}

#[derive(Debug, clap::Args)]
pub(crate) struct McpArgs {
    /// Serve the writing tools too (asset_add: draft assets for the team
    /// to review); read-only without it.
    #[arg(long)]
    allow_writes: bool,
    /// Compute threads for the local models (default: one per core).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    threads: Option<u16>,
}

impl McpArgs {
    pub(crate) fn threads(&self) -> Option<u16> {
        self.threads
    }
}

/// Serves MCP on stdin and stdout until the client closes them. Stdout is
/// the protocol's: nothing else is written there (logs and errors go to
/// stderr).
pub(crate) async fn run_mcp(core: &Core, args: McpArgs) -> Result<(), CoreError> {
    core.serve_mcp_stdio(McpOptions { allow_writes: args.allow_writes }).await
}
