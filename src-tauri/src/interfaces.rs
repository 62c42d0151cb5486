//! The settings of RaptorFlow's open interfaces: the local
//! OpenAI-compatible API (with MCP on `/mcp`), which the app runs while its
//! toggle is on, and the user's MCP servers, whose tools agents may call
//! where their files allow (`mcp:SERVER/TOOL`).
//!
//! The toggle, port and MCP writing switch live in `desktop.json` (they are
//! the app's, not the CLI's, which has `raptorflow serve`); the MCP servers
//! live in `settings.toml`, shared with `raptorflow mcp-servers`.

use rf_core::{
    Core,
    ai::ApiKey,
    api::{ApiOptions, ApiServer, DEFAULT_API_PORT},
    mcp::McpOptions,
    mcp_client::{McpServerSettings, NewMcpServer},
};
use serde::{Deserialize, Serialize};
use tauri::State;

use crate::{
    desktop_settings::{self, ApiSettings},
    error::{UiError, UiResult},
    ipc::Arg,
};

/// The API the app runs, and why it is not running when it should be.
#[derive(Debug, Default)]
pub struct LocalApi {
    state: tokio::sync::Mutex<Running>,
}

#[derive(Debug, Default)]
struct Running {
    server: Option<ApiServer>,
    /// What stopped the last start (the port taken, the keyring locked).
    problem: Option<String>,
}

impl LocalApi {
    /// Starts the API if the saved settings say so (at the app's start);
    /// a failure is logged and shown on the settings screen.
    pub async fn start_saved(&self, core: &Core) {
        let saved = desktop_settings::load(core.data_dir()).api;
        if !saved.enabled {
            return;
        }
        let mut running = self.state.lock().await;
        match start(core, &saved).await {
            Ok(server) => running.server = Some(server),
            Err(err) => {
                tracing::warn!("the local API did not start: {}", err.message);
                running.problem = Some(err.message);
            }
        }
    }

    /// Stops the API (when the app exits), letting its calls end.
    pub async fn stop(&self) {
        if let Some(server) = self.state.lock().await.server.take() {
            server.stop().await;
        }
    }
}

async fn start(core: &Core, settings: &ApiSettings) -> UiResult<ApiServer> {
    let options = ApiOptions {
        port: settings.port.unwrap_or(DEFAULT_API_PORT),
        allowed_origins: Vec::new(),
        mcp: McpOptions { allow_writes: settings.mcp_allow_writes },
    };
    Ok(core.serve_api(options).await?)
}

/// What the settings screen shows of the local API.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct ApiView {
    /// The toggle, as saved.
    pub enabled: bool,
    /// The port saved; `null` is the default.
    pub port: Option<u16>,
    pub default_port: u16,
    pub mcp_allow_writes: bool,
    /// The base URL clients are given, while it runs.
    pub base_url: Option<String>,
    /// The MCP endpoint, while it runs.
    pub mcp_url: Option<String>,
    /// Why it is not running although the toggle is on.
    pub problem: Option<String>,
}

fn api_view(core: &Core, running: &Running) -> ApiView {
    let saved = desktop_settings::load(core.data_dir()).api;
    ApiView {
        enabled: saved.enabled,
        port: saved.port,
        default_port: DEFAULT_API_PORT,
        mcp_allow_writes: saved.mcp_allow_writes,
        base_url: running.server.as_ref().map(ApiServer::base_url),
        mcp_url: running.server.as_ref().map(|s| format!("http://{}/mcp", s.addr())),
        problem: running.problem.clone(),
    }
}

#[tauri::command]
#[specta::specta]
pub async fn api_show(core: State<'_, Core>, api: State<'_, LocalApi>) -> UiResult<ApiView> {
    Ok(api_view(&core, &*api.state.lock().await))
}

/// The API's settings, as the form sends them.
#[derive(Debug, Deserialize, specta::Type)]
pub struct ApiForm {
    pub enabled: bool,
    /// 1024 to 65535; `null` is the default (7420).
    pub port: Option<u16>,
    pub mcp_allow_writes: bool,
}

/// Turns the API on or off, or moves it. The running server is stopped
/// first (so that it can be started again on the same port); if the new
/// one cannot start, the old one is started again, nothing is saved and
/// the error says why.
#[tauri::command]
#[specta::specta]
pub async fn api_set(core: State<'_, Core>, api: State<'_, LocalApi>, settings: Arg<ApiForm>) -> UiResult<ApiView> {
    let form = settings.parse("api settings")?;
    if let Some(port) = form.port
        && port < 1024
    {
        return Err(UiError::invalid("port", format!("{port} is reserved for the system: choose one from 1024 to 65535")));
    }
    let new = ApiSettings { enabled: form.enabled, port: form.port, mcp_allow_writes: form.mcp_allow_writes };
    let mut running = api.state.lock().await;
    // Read under the lock, so that two changes cannot interleave.
    let mut all = desktop_settings::load(core.data_dir());
    let old = all.api.clone();
    if let Some(server) = running.server.take() {
        server.stop().await;
    }
    if new.enabled {
        match start(&core, &new).await {
            Ok(server) => running.server = Some(server),
            Err(err) => {
                if old.enabled {
                    match start(&core, &old).await {
                        Ok(server) => running.server = Some(server),
                        Err(again) => running.problem = Some(again.message),
                    }
                }
                return Err(err);
            }
        }
    }
    all.api = new;
    if let Err(err) = desktop_settings::save(core.data_dir(), &all) {
        // What runs would no longer match what is saved: put it back.
        if let Some(server) = running.server.take() {
            server.stop().await;
        }
        if old.enabled {
            running.server = start(&core, &old).await.ok();
        }
        return Err(UiError::invalid("api settings", err));
    }
    running.problem = None;
    Ok(api_view(&core, &running))
}

/// The API's bearer token, for the user to paste into a client.
#[tauri::command]
#[specta::specta]
pub fn api_token_show(core: State<'_, Core>) -> UiResult<String> {
    Ok(core.api_token()?)
}

/// One MCP server, as the settings screen lists it.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct McpServerRow {
    pub name: String,
    /// The command line, or the URL.
    pub target: String,
    /// `command` or `url`.
    pub kind: String,
    /// Whether a bearer token is in the OS keyring (never sent back).
    pub has_token: bool,
}

fn rows(servers: Vec<McpServerSettings>) -> Vec<McpServerRow> {
    servers
        .into_iter()
        .map(|s| McpServerRow { target: s.target(), kind: if s.url.is_some() { "url" } else { "command" }.to_owned(), has_token: s.has_token(), name: s.name })
        .collect()
}

#[tauri::command]
#[specta::specta]
pub fn mcp_servers_show(core: State<'_, Core>) -> UiResult<Vec<McpServerRow>> {
    Ok(rows(core.mcp_servers()?))
}

/// A server to add, as the form sends it: a command with its arguments,
/// or a URL.
#[derive(Debug, Deserialize, specta::Type)]
pub struct McpServerForm {
    pub name: String,
    pub command: Option<String>,
    /// The command's arguments, in order.
    pub args: Vec<String>,
    pub url: Option<String>,
}

/// Adds an MCP server; its token, when given, goes to the OS keyring.
#[tauri::command]
#[specta::specta]
pub fn mcp_server_add(core: State<'_, Core>, server: Arg<McpServerForm>, token: Option<String>) -> UiResult<Vec<McpServerRow>> {
    let form = server.parse("mcp server")?;
    let token = token.filter(|t| !t.trim().is_empty()).map(|t| ApiKey::new(&t).ok_or_else(|| UiError::invalid("token", "the token is empty"))).transpose()?;
    let args = form.args.into_iter().filter(|a| !a.is_empty()).collect();
    core.add_mcp_server(NewMcpServer { name: form.name, command: form.command, args, url: form.url, token })?;
    Ok(rows(core.mcp_servers()?))
}

/// Removes an MCP server (stopping it, forgetting its token).
#[tauri::command]
#[specta::specta]
pub async fn mcp_server_remove(core: State<'_, Core>, name: String) -> UiResult<Vec<McpServerRow>> {
    core.remove_mcp_server(&name).await?;
    Ok(rows(core.mcp_servers()?))
}

/// A tool a server offers.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct McpToolRow {
    pub name: String,
    pub description: Option<String>,
}

/// Starts (or reaches) a server and lists its tools: the check that it works.
#[tauri::command]
#[specta::specta]
pub async fn mcp_server_tools(core: State<'_, Core>, name: String) -> UiResult<Vec<McpToolRow>> {
    Ok(core.mcp_server_tools(&name).await?.into_iter().map(|t| McpToolRow { name: t.name, description: t.description }).collect())
}
