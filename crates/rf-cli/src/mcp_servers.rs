//! `raptorflow mcp-servers`: the MCP servers whose tools agents may use
//! where their files allow (`tools = ["mcp:SERVER/TOOL"]`).

use clap::Subcommand;
use rf_core::{Core, CoreError};

use crate::output::Output;

#[derive(Debug, Subcommand)]
pub(crate) enum McpServersCommand {
    /// Add a server: a program speaking MCP on stdio, started on first use.
    Add {
        /// What agents' files call it: mcp:NAME/TOOL.
        name: String,
        /// The program to start.
        #[arg(long, value_name = "PROGRAM")]
        command: String,
        /// One argument of the program (repeatable, in order).
        #[arg(long = "arg", value_name = "ARG", allow_hyphen_values = true)]
        args: Vec<String>,
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
        McpServersCommand::Add { name, command, args } => {
            let server = core.add_mcp_server(&name, &command, &args)?;
            out.document(&server, |text| text.push_str(&format!("added MCP server {name}; agents use its tools where their files name mcp:{name}/TOOL\n")));
        }
        McpServersCommand::List => {
            let servers = core.mcp_servers()?;
            out.document(&servers, |text| {
                if servers.is_empty() {
                    text.push_str("no MCP server added (`raptorflow mcp-servers add NAME --command PROGRAM`)\n");
                }
                for server in &servers {
                    text.push_str(&format!("{}  {} {}\n", server.name, server.command, server.args.join(" ")));
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
