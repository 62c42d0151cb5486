//! The user's MCP servers, whose tools agents may use where their files
//! allow (`tools = ["mcp:SERVER/TOOL"]`, see `rf_agents::mcp_tools`).
//!
//! A server is what the user added, kept in `settings.toml`: a command
//! (`raptorflow mcp-servers add NAME --command CMD --arg A`), which Core
//! starts on first use as a child process speaking MCP on stdio, or a URL
//! (`--url https://…/mcp`, with a bearer token kept in the OS keyring),
//! reached over MCP's streamable HTTP. Core keeps the session for later
//! calls and ends it on close. A tool is called only if the server lists
//! it; what it answers is data for a prompt, never instructions. In
//! offline-only mode a server by URL is called only on this machine.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use rf_ai::selector::PrivacyMode;
use rf_cloud::{ApiKey, is_loopback};
use rmcp::{
    RoleClient, ServiceExt as _,
    model::{CallToolRequestParams, ContentBlock},
    service::{Peer, RunningService},
    transport::{StreamableHttpClientTransport, TokioChildProcess, streamable_http_client::StreamableHttpClientTransportConfig},
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    Core, CoreError, Result,
    providers::{load_file_only, save_settings},
    secrets::MCP_SERVER_TOKENS,
};

/// The keyring service holding the bearer tokens of MCP servers reached by
/// URL (the account is the server's `key_ref`).
pub const MCP_KEYRING_SERVICE: &str = "raptorflow-mcp-servers";

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
    /// The program to start (a server on stdio); or else `url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// The server's streamable HTTP endpoint (`https://example.com/mcp`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The keyring account of the bearer token sent to `url`, if one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_ref: Option<String>,
}

/// How a server is reached.
enum Target<'a> {
    Command(&'a str),
    Url(url::Url),
}

impl McpServerSettings {
    /// Whether a bearer token is stored for this server.
    pub fn has_token(&self) -> bool {
        self.key_ref.is_some()
    }

    /// The command or URL, as a person reads it.
    pub fn target(&self) -> String {
        match (&self.command, &self.url) {
            (Some(command), _) => std::iter::once(command.as_str()).chain(self.args.iter().map(String::as_str)).collect::<Vec<_>>().join(" "),
            (None, Some(url)) => url.clone(),
            (None, None) => String::new(),
        }
    }

    fn reach(&self) -> Result<Target<'_>> {
        match (&self.command, &self.url) {
            (Some(command), None) => Ok(Target::Command(command)),
            (None, Some(url)) => parse_url(url).map(Target::Url),
            _ => Err(failed(&self.name, "needs either a command or a url in settings.toml, not both or neither")),
        }
    }
}

/// A server to add: a command (with its arguments) or a URL (with an
/// optional bearer token).
#[derive(Debug, Clone, Default)]
pub struct NewMcpServer {
    pub name: String,
    pub command: Option<String>,
    pub args: Vec<String>,
    pub url: Option<String>,
    pub token: Option<ApiKey>,
}

fn invalid(field: &'static str, reason: impl Into<String>) -> CoreError {
    CoreError::from(rf_domain::DomainError::Invalid { field, reason: reason.into() })
}

/// An endpoint URL: http or https, with a host, and no user name or
/// password in it (a token goes to the keyring instead).
fn parse_url(text: &str) -> Result<url::Url> {
    let url = url::Url::parse(text.trim()).map_err(|err| invalid("url", format!("{text:?} is not a URL: {err}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(invalid("url", format!("{text:?} must be an http:// or https:// address with a host, like https://example.com/mcp")));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("url", "holds a user name or password: give the address without it, and the token with --token-stdin".to_owned()));
    }
    Ok(url)
}

/// Whether a token may be sent to `url`: over https, or to this machine.
fn token_may_go_to(url: &url::Url) -> bool {
    url.scheme() == "https" || is_loopback(url)
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
        let started = match settings.reach()? {
            Target::Command(program) => {
                let mut command = tokio::process::Command::new(program);
                command.args(&settings.args);
                let transport = TokioChildProcess::new(command).map_err(|err| failed(name, format!("could not start `{program}`: {err}")))?;
                tokio::time::timeout(START_TIMEOUT, ().serve(transport)).await
            }
            Target::Url(url) => {
                let mut config = StreamableHttpClientTransportConfig::with_uri(url.as_str());
                if let Some(key_ref) = &settings.key_ref {
                    // settings.toml may have been edited since the server was added.
                    if !token_may_go_to(&url) {
                        return Err(failed(name, format!("its token is sent only over https or to this machine, not to {url}")));
                    }
                    let token = MCP_SERVER_TOKENS
                        .get(key_ref)?
                        .ok_or_else(|| failed(name, "its token is no longer in the OS keyring: remove the server and add it again"))?;
                    config = config.auth_header(token);
                }
                tokio::time::timeout(START_TIMEOUT, ().serve(StreamableHttpClientTransport::from_config(config))).await
            }
        };
        let service = started
            .map_err(|_| failed(name, format!("did not answer `initialize` within {} s", START_TIMEOUT.as_secs())))?
            .map_err(|err| failed(name, format!("did not start an MCP session: {}", session_error(err))))?;
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

/// Why a session did not start, without the transport's type names.
fn session_error(err: rmcp::service::ClientInitializeError) -> String {
    let problem = match err {
        rmcp::service::ClientInitializeError::TransportError { error, .. } => error.error.to_string(),
        other => other.to_string(),
    };
    if problem.contains("HTTP 401") || problem.contains("HTTP 403") {
        format!("{problem} (remove the server and add it again with its token)")
    } else {
        problem
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

    /// Adds an MCP server: a command with its arguments, started on first
    /// use, or a URL, whose bearer token (if given) goes to the OS keyring.
    pub fn add_mcp_server(&self, new: NewMcpServer) -> Result<McpServerSettings> {
        let NewMcpServer { name, command, args, url, token } = new;
        if !rf_agents::mcp_tools::is_valid_name(&name) {
            return Err(invalid("name", format!("{name:?} must be 1 to 64 letters, digits, '_', '-' or '.' (agents' files name it in mcp:NAME/TOOL)")));
        }
        let command = command.filter(|c| !c.trim().is_empty());
        let url = url.filter(|u| !u.trim().is_empty());
        match (&command, &url) {
            (None, None) => return Err(invalid("command", "give the program that starts the server, or the server's URL")),
            (Some(_), Some(_)) => return Err(invalid("url", "give a command or a URL, not both")),
            (Some(_), None) if token.is_some() => return Err(invalid("token", "a token is sent only to a server by URL")),
            (None, Some(_)) if !args.is_empty() => return Err(invalid("args", "arguments go with a command, not with a URL")),
            (None, Some(text)) => {
                let parsed = parse_url(text)?;
                if token.is_some() && !token_may_go_to(&parsed) {
                    return Err(invalid(
                        "url",
                        format!("{text:?}: a token is sent only over https (or http to this machine), where no one on the way can read it"),
                    ));
                }
            }
            (Some(_), None) => {}
        }
        let mut settings = load_file_only(self.data_dir())?;
        if settings.mcp_servers.iter().any(|s| s.name == name) {
            return Err(CoreError::AlreadyExists { what: "MCP server", id: name });
        }
        let key_ref = token.as_ref().map(|_| format!("mcp/{name}/{}", uuid::Uuid::now_v7()));
        if let (Some(token), Some(key_ref)) = (&token, &key_ref) {
            MCP_SERVER_TOKENS.set(key_ref, token.expose())?;
        }
        let server = McpServerSettings { name, command, args, url: url.map(|u| u.trim().to_owned()), key_ref };
        settings.mcp_servers.push(server.clone());
        if let Err(err) = save_settings(self.data_dir(), &settings) {
            if let Some(key_ref) = &server.key_ref {
                let _ = MCP_SERVER_TOKENS.delete(key_ref);
            }
            return Err(err);
        }
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
        // Last, and not fatal: the server is gone from the settings either way.
        if let Some(key_ref) = &removed.key_ref
            && let Err(err) = MCP_SERVER_TOKENS.delete(key_ref)
        {
            tracing::warn!(server = %name, "the MCP server's token could not be deleted from the keyring: {err}");
        }
        Ok(removed)
    }

    async fn mcp_connection(&self, name: &str) -> Result<Arc<Connection>> {
        let settings = self.settings()?;
        let server = settings.mcp_servers.iter().find(|s| s.name == name).ok_or_else(|| not_found(name))?;
        if settings.privacy == PrivacyMode::OfflineOnly
            && let Target::Url(url) = server.reach()?
            && !is_loopback(&url)
        {
            return Err(failed(
                name,
                format!("is at {url}, off this machine, and offline-only mode is on (`raptorflow providers privacy local-preferred` changes it)"),
            ));
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn server(command: Option<&str>, url: Option<&str>) -> McpServerSettings {
        McpServerSettings { name: "s".into(), command: command.map(str::to_owned), args: vec!["--flag".into()], url: url.map(str::to_owned), key_ref: None }
    }

    #[test]
    fn a_server_is_reached_by_its_command_or_its_url_and_never_both() {
        assert!(matches!(server(Some("python3"), None).reach(), Ok(Target::Command("python3"))));
        assert_eq!(server(Some("python3"), None).target(), "python3 --flag");
        assert!(matches!(server(None, Some("https://example.com/mcp")).reach(), Ok(Target::Url(_))));
        for bad in [server(None, None), server(Some("python3"), Some("https://example.com/mcp"))] {
            let err = bad.reach().err().unwrap().to_string();
            assert!(err.contains("either a command or a url"), "{err}");
        }
        let err = server(None, Some("file:///tmp/x")).reach().err().unwrap().to_string();
        assert!(err.contains("http:// or https://"), "{err}");
    }

    #[test]
    fn settings_written_before_urls_still_load() {
        let old: McpServerSettings = toml::from_str("name = \"facts\"\ncommand = \"python3\"\nargs = [\"server.py\"]\n").unwrap();
        assert_eq!(old, McpServerSettings { name: "facts".into(), command: Some("python3".into()), args: vec!["server.py".into()], url: None, key_ref: None });
        let written = toml::to_string(&server(None, Some("https://example.com/mcp"))).unwrap();
        assert!(!written.contains("command") && written.contains("url = \"https://example.com/mcp\""), "{written}");
    }
}
