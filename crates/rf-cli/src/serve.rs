//! `raptorflow serve`: the local OpenAI-compatible API (rf-core's `api`),
//! until Ctrl-C or SIGTERM.

use std::io::Write as _;

use rf_core::{
    Core, CoreError,
    api::{ApiOptions, DEFAULT_API_PORT},
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
    let server = core.serve_api(ApiOptions { port: args.port, allowed_origins: args.allowed_origins }).await?;
    let url = server.base_url();
    {
        // At once, so that a script that started the server can read where it is.
        let mut stdout = std::io::stdout().lock();
        if out.is_json() {
            let _ = writeln!(stdout, "{}", json!({ "listening": url }));
        } else {
            let _ = writeln!(stdout, "RaptorFlow's OpenAI-compatible API is listening on {url}");
            let _ = writeln!(stdout, "  API key: `raptorflow serve --print-token`; models: GET {url}/models; Ctrl-C stops it.");
        }
        let _ = stdout.flush();
    }
    stop_signal().await;
    server.stop().await;
    out.document(&json!({ "stopped": url }), |text| text.push_str("stopped\n"));
    Ok(())
}
