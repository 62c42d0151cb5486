//! `raptorflow mcp-servers`: the MCP servers whose tools agents may use
//! where their files allow (`tools = ["mcp:SERVER/TOOL"]`).

use clap::Subcommand;
use rf_core::{Core, CoreError, mcp_client::NewMcpServer};

use crate::output::Output;

#[derive(Debug, Subcommand)]
pub(crate) enum McpServersCommand {
    /// Add a server: a program speaking MCP on stdio, started on first
    /// use, or a server's streamable HTTP URL.
    Add {
        /// What agents' files call it: mcp:NAME/TOOL.
        name: String,
        /// The program to start.
        #[arg(long, value_name = "PROGRAM", required_unless_present = "url", conflicts_with = "url")]
        command: Option<String>,
        /// One argument of the program (repeatable, in order).
        #[arg(long = "arg", value_name = "ARG", allow_hyphen_values = true, requires = "command")]
        args: Vec<String>,
        /// The server's endpoint (https://example.com/mcp).
        #[arg(long, value_name = "URL")]
        url: Option<String>,
        /// Read the server's bearer token from stdin (kept in the OS
        /// keyring, sent only to the URL).
        #[arg(long, requires = "url")]
        token_stdin: bool,
    },
    /// The servers added.
    List,
    /// Remove a server.
    Remove { name: String },
    /// Start a server and list the tools it offers.
    Tools { name: String },
}

pub(crate) async fn run_mcp_servers(core: &Core, command: McpServersCommand, out: &mut Output) -> Result<(), CoreError> {
    match command {
        McpServersCommand::Add { name, command, args, url, token_stdin } => {
            let token = if token_stdin { Some(crate::providers::read_key()?) } else { None };
            let server = core.add_mcp_server(NewMcpServer { name: name.clone(), command, args, url, token })?;
            out.document(&server, |text| text.push_str(&format!("added MCP server {name}; agents use its tools where their files name mcp:{name}/TOOL\n")));
        }
        McpServersCommand::List => {
            let servers = core.mcp_servers()?;
            out.document(&servers, |text| {
                if servers.is_empty() {
                    text.push_str("no MCP server added (`raptorflow mcp-servers add NAME --command PROGRAM`)\n");
                }
                for server in &servers {
                    let token = if server.has_token() { "  (token in the keyring)" } else { "" };
                    text.push_str(&format!("{}  {}{token}\n", server.name, server.target()));
                }
            });
        }
        McpServersCommand::Remove { name } => {
            let removed = core.remove_mcp_server(&name).await?;
            out.document(&removed, |text| text.push_str(&format!("removed MCP server {name}\n")));
        }
        McpServersCommand::Tools { name } => {
            let tools = core.mcp_server_tools(&name).await?;
            out.document(&tools, |text| {
                for tool in &tools {
                    text.push_str(&format!("{}  {}\n", tool.name, tool.description.as_deref().unwrap_or("")));
                }
            });
        }
    }
    Ok(())
}
