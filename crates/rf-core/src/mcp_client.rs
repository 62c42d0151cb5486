//! The user's MCP servers, whose tools agents may use where their files
//! allow (`tools = ["mcp:SERVER/TOOL"]`, see `rf_agents::mcp_tools`).
//!
//! A server is a command the user added (`raptorflow mcp-servers add NAME
//! --command CMD --arg A`), kept in `settings.toml`. Core starts it on
//! first use as a child process speaking MCP on stdio, keeps it for later
//! calls, and stops it on close. A tool is called only if the server lists
//! it; what it answers is data for a prompt, never instructions.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use rmcp::{
    RoleClient, ServiceExt as _,
    model::{CallToolRequestParams, ContentBlock},
    service::{Peer, RunningService},
    transport::TokioChildProcess,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    Core, CoreError, Result,
    providers::{load_file_only, save_settings},
};

/// How long a server may take to start and answer `initialize`.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one tool call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(120);

/// One MCP server, as `settings.toml` holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McpServerSettings {
    /// What agents' files call it (`mcp:NAME/TOOL`).
    pub name: String,
    /// The program to start.
    pub command: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
}

/// A tool a server offers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct McpToolInfo {
    pub name: String,
    pub description: Option<String>,
    pub input_schema: Value,
}

/// The servers started so far, by name. Each has a slot of its own, locked
/// while it starts, so that a slow server delays only its own callers.
#[derive(Default)]
pub(crate) struct McpClients {
    running: tokio::sync::Mutex<BTreeMap<String, Slot>>,
}

type Slot = Arc<tokio::sync::Mutex<Option<Arc<Connection>>>>;

impl std::fmt::Debug for McpClients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("McpClients")
    }
}

struct Connection {
    /// Stopped on close; the tokio mutex lets `close` take it out.
    service: tokio::sync::Mutex<Option<RunningService<RoleClient, ()>>>,
    peer: Peer<RoleClient>,
    tools: Vec<rmcp::model::Tool>,
    /// What was started, to start it again if the settings change.
    settings: McpServerSettings,
}

fn failed(server: &str, problem: impl Into<String>) -> CoreError {
    CoreError::McpServer { server: server.to_owned(), problem: problem.into() }
}

fn not_found(name: &str) -> CoreError {
    CoreError::NotFound { what: "MCP server", id: name.to_owned(), hint: " (`raptorflow mcp-servers list` shows the ones added)" }
}

impl McpClients {
    /// The connection to `settings`' server, started if needed.
    async fn connect(&self, settings: &McpServerSettings) -> Result<Arc<Connection>> {
        let slot = self.running.lock().await.entry(settings.name.clone()).or_default().clone();
        let mut slot = slot.lock().await;
        if let Some(connection) = slot.as_ref().filter(|c| c.settings == *settings && !c.peer.is_transport_closed()) {
            return Ok(connection.clone());
        }
        let name = &settings.name;
        let mut command = tokio::process::Command::new(&settings.command);
        command.args(&settings.args);
        let transport = TokioChildProcess::new(command).map_err(|err| failed(name, format!("could not start `{}`: {err}", settings.command)))?;
        let service = tokio::time::timeout(START_TIMEOUT, ().serve(transport))
            .await
            .map_err(|_| failed(name, format!("did not answer `initialize` within {} s", START_TIMEOUT.as_secs())))?
            .map_err(|err| failed(name, format!("did not start an MCP session: {err}")))?;
        let peer = service.peer().clone();
        let tools = tokio::time::timeout(START_TIMEOUT, peer.list_all_tools())
            .await
            .map_err(|_| failed(name, "did not list its tools in time"))?
            .map_err(|err| failed(name, format!("could not list its tools: {err}")))?;
        tracing::info!(server = %name, tools = tools.len(), "MCP server started");
        let connection = Arc::new(Connection { service: tokio::sync::Mutex::new(Some(service)), peer, tools, settings: settings.clone() });
        if let Some(old) = slot.replace(connection.clone()) {
            old.stop().await;
        }
        Ok(connection)
    }

    /// Stops every server started.
    pub(crate) async fn close(&self) {
        let running = std::mem::take(&mut *self.running.lock().await);
        for slot in running.into_values() {
            if let Some(connection) = slot.lock().await.take() {
                connection.stop().await;
            }
        }
    }
}

impl Connection {
    async fn stop(&self) {
        if let Some(service) = self.service.lock().await.take() {
            let _ = service.cancel().await;
        }
    }
}

/// The text of a tool's answer: its text blocks joined, else its
/// structured content as JSON; other kinds of content are named.
fn answer_text(result: &rmcp::model::CallToolResult) -> String {
    let mut parts = Vec::new();
    let mut has_text = false;
    for block in &result.content {
        match block {
            ContentBlock::Text(text) => {
                has_text = true;
                parts.push(text.text.clone());
            }
            other => parts.push(format!(
                "[{} content left out]",
                serde_json::to_value(other).ok().and_then(|v| v["type"].as_str().map(str::to_owned)).unwrap_or_default()
            )),
        }
    }
    if !has_text && let Some(structured) = &result.structured_content {
        return structured.to_string();
    }
    parts.join("\n")
}

impl Core {
    /// The MCP servers added.
    pub fn mcp_servers(&self) -> Result<Vec<McpServerSettings>> {
        Ok(self.settings()?.mcp_servers.clone())
    }

    /// Adds an MCP server: `command` with `args`, started on first use.
    pub fn add_mcp_server(&self, name: &str, command: &str, args: &[String]) -> Result<McpServerSettings> {
        let invalid = |field: &'static str, reason: String| CoreError::from(rf_domain::DomainError::Invalid { field, reason });
        if !rf_agents::mcp_tools::is_valid_name(name) {
            return Err(invalid("name", format!("{name:?} must be 1 to 64 letters, digits, '_', '-' or '.' (agents' files name it in mcp:NAME/TOOL)")));
        }
        if command.trim().is_empty() {
            return Err(invalid("command", "is empty: give the program that starts the server".into()));
        }
        let mut settings = load_file_only(self.data_dir())?;
        if settings.mcp_servers.iter().any(|s| s.name == name) {
            return Err(CoreError::AlreadyExists { what: "MCP server", id: name.to_owned() });
        }
        let server = McpServerSettings { name: name.to_owned(), command: command.to_owned(), args: args.to_vec() };
        settings.mcp_servers.push(server.clone());
        save_settings(self.data_dir(), &settings)?;
        self.inner.engine.settings_changed();
        Ok(server)
    }

    /// Removes an MCP server (stopping it if it runs).
    pub async fn remove_mcp_server(&self, name: &str) -> Result<McpServerSettings> {
        let mut settings = load_file_only(self.data_dir())?;
        let index = settings.mcp_servers.iter().position(|s| s.name == name).ok_or_else(|| not_found(name))?;
        let removed = settings.mcp_servers.remove(index);
        save_settings(self.data_dir(), &settings)?;
        self.inner.engine.settings_changed();
        let slot = self.inner.mcp_clients.running.lock().await.remove(name);
        if let Some(connection) = match slot {
            Some(slot) => slot.lock().await.take(),
            None => None,
        } {
            connection.stop().await;
        }
        Ok(removed)
    }

    async fn mcp_connection(&self, name: &str) -> Result<Arc<Connection>> {
        let settings = self.settings()?;
        let server = settings.mcp_servers.iter().find(|s| s.name == name).ok_or_else(|| not_found(name))?;
        self.inner.mcp_clients.connect(server).await
    }

    /// The tools an MCP server offers (starting it if needed).
    pub async fn mcp_server_tools(&self, name: &str) -> Result<Vec<McpToolInfo>> {
        let connection = self.mcp_connection(name).await?;
        Ok(connection
            .tools
            .iter()
            .map(|t| McpToolInfo {
                name: t.name.to_string(),
                description: t.description.as_ref().map(|d| d.to_string()),
                input_schema: Value::Object((*t.input_schema).clone()),
            })
            .collect())
    }

    /// Calls `tool` of the MCP server `server`: refused unless the server
    /// lists it. Returns the answer's text and whether the tool said it failed.
    pub async fn mcp_call(&self, server: &str, tool: &str, arguments: serde_json::Map<String, Value>) -> Result<(String, bool)> {
        let connection = self.mcp_connection(server).await?;
        if !connection.tools.iter().any(|t| t.name == tool) {
            let offered: Vec<&str> = connection.tools.iter().map(|t| t.name.as_ref()).collect();
            return Err(CoreError::McpTool { server: server.to_owned(), tool: tool.to_owned(), offered: offered.join(", ") });
        }
        let params = CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments);
        let result = tokio::time::timeout(CALL_TIMEOUT, connection.peer.call_tool(params))
            .await
            .map_err(|_| failed(server, format!("{tool} did not answer within {} s", CALL_TIMEOUT.as_secs())))?
            .map_err(|err| failed(server, format!("{tool} failed: {err}")))?;
        Ok((answer_text(&result), result.is_error.unwrap_or(false)))
    }
}
