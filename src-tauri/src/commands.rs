//! The commands the interface calls. Each parses its arguments, calls
//! `Core` and returns the result or a [`UiError`]; nothing else happens here.
//! Their TypeScript is generated into `ui/src/bindings.ts` (see [`crate::ipc`]).

use std::{
    collections::HashMap,
    path::PathBuf,
    sync::{Mutex, OnceLock},
    time::Instant,
};

use rf_core::{
    AssetView, CampaignEdit, CampaignSummary, Core, NewCampaign, NewMove, WorkspaceSummary,
    ai::{self, AskProgress, CallContext, CancellationToken, ChatRequest, ModelCall, Route, Tier},
    codex::{AddOptions, CodexProgress, FileReport, IndexProgress, SearchOptions, SourceSummary},
    domain::{
        AssetContent, AssetId, AssetStatus, BrandCodex, Campaign, CampaignId, CampaignStatus, Channel, CodexSource, DueDate, Move, MoveId, MoveStatus,
        SourceId, WorkspaceId, WorkspaceIndex,
    },
};
use serde::{Deserialize, Serialize};
use tauri::{State, ipc::Channel as IpcChannel};

use crate::{
    error::{UiError, UiResult},
    ipc::Arg,
};

#[tauri::command]
#[specta::specta]
pub async fn workspace_list(core: State<'_, Core>) -> UiResult<Vec<WorkspaceSummary>> {
    Ok(core.list_workspaces().await?)
}

#[tauri::command]
#[specta::specta]
pub async fn workspace_create(core: State<'_, Core>, name: String) -> UiResult<WorkspaceIndex> {
    Ok(core.create_workspace(&name).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn workspace_show(core: State<'_, Core>, workspace_id: Arg<WorkspaceId>) -> UiResult<WorkspaceIndex> {
    Ok(core.workspace(workspace_id.parse(WorkspaceId::FIELD)?).await?)
}

/// Replaces a workspace's brand codex (company, offer, audiences, voice,
/// banned terms, disclaimers) with the one the editor sends.
#[tauri::command]
#[specta::specta]
pub async fn brand_update(core: State<'_, Core>, workspace_id: Arg<WorkspaceId>, brand: Arg<BrandCodex>) -> UiResult<WorkspaceIndex> {
    let workspace_id = workspace_id.parse(WorkspaceId::FIELD)?;
    Ok(core.update_brand_codex(workspace_id, brand.parse("brand codex")?).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn campaign_list(core: State<'_, Core>, workspace_id: Arg<WorkspaceId>) -> UiResult<Vec<CampaignSummary>> {
    Ok(core.list_campaigns(workspace_id.parse(WorkspaceId::FIELD)?).await?)
}

/// A campaign to create, as the form sends it.
#[derive(Debug, Deserialize, specta::Type)]
pub struct CampaignForm {
    pub name: String,
    pub goal: String,
    #[serde(default)]
    pub channels: Vec<Channel>,
}

#[tauri::command]
#[specta::specta]
pub async fn campaign_create(core: State<'_, Core>, workspace_id: Arg<WorkspaceId>, campaign: Arg<CampaignForm>) -> UiResult<Campaign> {
    let workspace_id = workspace_id.parse(WorkspaceId::FIELD)?;
    let form = campaign.parse("campaign")?;
    let new = NewCampaign { name: form.name, goal: form.goal, channels: form.channels, budget: None };
    Ok(core.create_campaign(workspace_id, new).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn campaign_show(core: State<'_, Core>, campaign_id: Arg<CampaignId>) -> UiResult<Campaign> {
    Ok(core.campaign(campaign_id.parse(CampaignId::FIELD)?).await?)
}

/// The editable fields of a campaign; a missing field is left as it is.
#[derive(Debug, Default, Deserialize, specta::Type)]
pub struct CampaignChanges {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub goal: Option<String>,
    #[serde(default)]
    pub channels: Option<Vec<Channel>>,
}

#[tauri::command]
#[specta::specta]
pub async fn campaign_update(core: State<'_, Core>, campaign_id: Arg<CampaignId>, changes: Arg<CampaignChanges>) -> UiResult<Campaign> {
    let campaign_id = campaign_id.parse(CampaignId::FIELD)?;
    let changes = changes.parse("campaign changes")?;
    let edit = CampaignEdit { name: changes.name, goal: changes.goal, channels: changes.channels, ..CampaignEdit::default() };
    Ok(core.edit_campaign(campaign_id, edit).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn campaign_set_status(core: State<'_, Core>, campaign_id: Arg<CampaignId>, status: Arg<CampaignStatus>) -> UiResult<Campaign> {
    let campaign_id = campaign_id.parse(CampaignId::FIELD)?;
    Ok(core.set_campaign_status(campaign_id, status.parse(CampaignStatus::FIELD)?).await?)
}

/// A move to add, as the form sends it. The due date is `YYYY-MM-DD`; an
/// empty one means none.
#[derive(Debug, Deserialize, specta::Type)]
pub struct MoveForm {
    pub title: String,
    pub channel: Channel,
    #[serde(default)]
    pub due_date: Option<String>,
}

/// A saved move and where it is.
#[derive(Debug, Serialize, specta::Type)]
pub struct MoveSaved {
    pub id: MoveId,
    pub campaign_id: CampaignId,
    #[serde(rename = "move")]
    pub the_move: Move,
}

#[tauri::command]
#[specta::specta]
pub async fn move_add(core: State<'_, Core>, campaign_id: Arg<CampaignId>, r#move: Arg<MoveForm>) -> UiResult<MoveSaved> {
    let campaign_id = campaign_id.parse(CampaignId::FIELD)?;
    let form = r#move.parse("move")?;
    let due_date = match form.due_date.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => Some(text.parse::<DueDate>()?),
    };
    let new = NewMove { title: form.title, channel: form.channel, owner: None, due_date };
    let (id, the_move) = core.add_move(campaign_id, new).await?;
    Ok(MoveSaved { id, campaign_id, the_move })
}

#[tauri::command]
#[specta::specta]
pub async fn move_set_status(core: State<'_, Core>, move_id: Arg<MoveId>, status: Arg<MoveStatus>) -> UiResult<MoveSaved> {
    let move_id = move_id.parse(MoveId::FIELD)?;
    let (campaign_id, the_move) = core.set_move_status(move_id, status.parse(MoveStatus::FIELD)?).await?;
    Ok(MoveSaved { id: move_id, campaign_id, the_move })
}

#[tauri::command]
#[specta::specta]
pub async fn asset_list(core: State<'_, Core>, campaign_id: Arg<CampaignId>) -> UiResult<Vec<AssetView>> {
    Ok(core.list_assets(campaign_id.parse(CampaignId::FIELD)?, None).await?)
}

/// Creates an asset (checked by Guardian as it is stored).
#[tauri::command]
#[specta::specta]
pub async fn asset_create(
    core: State<'_, Core>,
    campaign_id: Arg<CampaignId>,
    move_id: Arg<Option<MoveId>>,
    content: Arg<AssetContent>,
) -> UiResult<AssetView> {
    let campaign_id = campaign_id.parse(CampaignId::FIELD)?;
    let move_id = move_id.parse(MoveId::FIELD)?;
    let asset_id = core.add_asset(campaign_id, move_id, content.parse("asset content")?).await?;
    Ok(core.asset(asset_id).await?)
}

/// Replaces an asset's content; Guardian checks it again.
#[tauri::command]
#[specta::specta]
pub async fn asset_save(core: State<'_, Core>, asset_id: Arg<AssetId>, content: Arg<AssetContent>) -> UiResult<AssetView> {
    let asset_id = asset_id.parse(AssetId::FIELD)?;
    core.edit_asset(asset_id, content.parse("asset content")?).await?;
    Ok(core.asset(asset_id).await?)
}

/// Guardian's report on content that is not saved: what the editor shows as
/// the user types, under the workspace's brand codex. Changes nothing.
#[tauri::command]
#[specta::specta]
pub async fn asset_check(core: State<'_, Core>, workspace_id: Arg<WorkspaceId>, content: Arg<AssetContent>) -> UiResult<rf_core::guardian::Report> {
    let workspace_id = workspace_id.parse(WorkspaceId::FIELD)?;
    Ok(core.check_content(workspace_id, &content.parse("asset content")?).await?)
}

/// Approves, requests changes to or otherwise moves an asset through
/// review, with the reviewer's note when given; approving is refused while
/// Guardian finds a blocking problem.
#[tauri::command]
#[specta::specta]
pub async fn asset_set_status(core: State<'_, Core>, asset_id: Arg<AssetId>, status: Arg<AssetStatus>, note: Option<String>) -> UiResult<AssetView> {
    let asset_id = asset_id.parse(AssetId::FIELD)?;
    core.review_asset(asset_id, status.parse(AssetStatus::FIELD)?, note.as_deref()).await?;
    Ok(core.asset(asset_id).await?)
}

/// Posts an approved asset through a connector (an X post to the signed-in
/// X account, or a linkedin_post to the LinkedIn page); it becomes
/// published and keeps the post's address.
/// `checked`: an earlier post got no confirmation and the user found it
/// missing from the account.
#[tauri::command]
#[specta::specta]
pub async fn asset_publish(core: State<'_, Core>, asset_id: Arg<AssetId>, service: String, checked: bool) -> UiResult<AssetView> {
    let asset_id = asset_id.parse(AssetId::FIELD)?;
    let service: rf_core::connectors::Service = service.parse().map_err(|err| UiError::invalid("service", err))?;
    core.publish_asset(asset_id, service, checked).await?;
    Ok(core.asset(asset_id).await?)
}

/// Makes the Canva design of an image brief (signed in with `connectors
/// auth canva`), or keeps the one it has; the asset then holds its address.
#[tauri::command]
#[specta::specta]
pub async fn asset_design(core: State<'_, Core>, asset_id: Arg<AssetId>) -> UiResult<AssetView> {
    let asset_id = asset_id.parse(AssetId::FIELD)?;
    core.design_asset(asset_id, false).await?;
    Ok(core.asset(asset_id).await?)
}

/// The files an export wrote.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct DesignExport {
    pub folder: String,
    pub files: Vec<String>,
}

/// Exports an asset's Canva design (`png`, `jpg` or `pdf`) into the
/// Downloads folder's `RaptorFlow` folder (the data folder's `exports`
/// where there is no Downloads folder).
#[tauri::command]
#[specta::specta]
pub async fn asset_export_design(app: tauri::AppHandle, core: State<'_, Core>, asset_id: Arg<AssetId>, format: String) -> UiResult<DesignExport> {
    use tauri::Manager as _;
    let asset_id = asset_id.parse(AssetId::FIELD)?;
    let format: rf_core::connectors::canva::ExportFormat = format.parse().map_err(|err: String| UiError::invalid("format", err))?;
    let folder = app.path().download_dir().map(|d| d.join("RaptorFlow")).unwrap_or_else(|_| core.data_dir().join("exports"));
    let exported = core.export_design(asset_id, format, &folder, |step| tracing::info!(%asset_id, "{step}")).await?;
    Ok(DesignExport { folder: folder.display().to_string(), files: exported.files.iter().map(|f| f.display().to_string()).collect() })
}

#[tauri::command]
#[specta::specta]
pub async fn codex_list(core: State<'_, Core>, workspace_id: Arg<WorkspaceId>) -> UiResult<Vec<SourceSummary>> {
    Ok(core.codex_list(workspace_id.parse(WorkspaceId::FIELD)?).await?)
}

/// How an import is going, for one progress bar per file.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ImportProgress {
    /// Starting on file `index` (from 0) of `n_files`.
    File { index: usize, n_files: usize, path: String },
    /// Inside the current file: `done` of `total` steps of `stage`
    /// (`splitting` bytes, then `embedding` passages).
    Step { stage: String, done: usize, total: usize },
}

/// Imports files and folders (from the file dialog or dropped on the
/// window) into a workspace's Codex, with progress on `on_progress`.
#[tauri::command]
#[specta::specta]
pub async fn codex_import(
    core: State<'_, Core>,
    workspace_id: Arg<WorkspaceId>,
    paths: Arg<Vec<String>>,
    on_progress: IpcChannel<ImportProgress>,
) -> UiResult<Vec<FileReport>> {
    let workspace_id = workspace_id.parse(WorkspaceId::FIELD)?;
    let paths: Vec<PathBuf> = paths.parse("paths")?.into_iter().map(PathBuf::from).collect();
    if paths.is_empty() {
        return Err(UiError::invalid("paths", "choose at least one file or folder to import"));
    }
    // Core itself never imports its data or models directory.
    let options = AddOptions { follow_symlinks: false, excluded: Vec::new() };
    let mut progress = move |event: CodexProgress<'_>| {
        let message = match event {
            CodexProgress::File { index, n_files, path } => ImportProgress::File { index, n_files, path: path.display().to_string() },
            CodexProgress::Index(IndexProgress::Splitting { done_bytes, n_bytes }) => {
                ImportProgress::Step { stage: "splitting".into(), done: done_bytes, total: n_bytes }
            }
            CodexProgress::Index(IndexProgress::Chunked { n_to_embed, .. }) => ImportProgress::Step { stage: "embedding".into(), done: 0, total: n_to_embed },
            CodexProgress::Index(IndexProgress::Embedded { done, n_to_embed }) => ImportProgress::Step { stage: "embedding".into(), done, total: n_to_embed },
            CodexProgress::Source { .. } => return,
        };
        // A closed window only loses the progress, not the import.
        let _ = on_progress.send(message);
    };
    Ok(core.codex_add(workspace_id, &paths, &options, &mut progress).await?)
}

/// The passages that best answer `query`, each with its source and span.
#[tauri::command]
#[specta::specta]
pub async fn codex_search(core: State<'_, Core>, workspace_id: Arg<WorkspaceId>, query: String) -> UiResult<Vec<rf_core::codex::Passage>> {
    let workspace_id = workspace_id.parse(WorkspaceId::FIELD)?;
    if query.trim().is_empty() {
        return Err(UiError::invalid("query", "type what to search for"));
    }
    Ok(core.codex_search(workspace_id, &query, SearchOptions { k: 8, ..SearchOptions::default() }, &mut |_| {}).await?)
}

/// A source's whole text, to show a passage in place.
#[tauri::command]
#[specta::specta]
pub async fn codex_source(core: State<'_, Core>, workspace_id: Arg<WorkspaceId>, source_id: Arg<SourceId>) -> UiResult<CodexSource> {
    let workspace_id = workspace_id.parse(WorkspaceId::FIELD)?;
    Ok(core.codex_source(workspace_id, source_id.parse(SourceId::FIELD)?).await?)
}

/// The answers being generated, by the id the window gave each, so that
/// `ask_stop` can stop one.
#[derive(Debug, Default)]
pub struct AskRequests(Mutex<HashMap<String, CancellationToken>>);

/// A question for Ask.
#[derive(Debug, Deserialize, specta::Type)]
pub struct AskForm {
    pub prompt: String,
    /// `local`, `fast`, `standard` or `premium`; the default is `local`.
    #[serde(default)]
    pub tier: Option<Tier>,
    /// The workspace whose budget the answer is charged to.
    #[serde(default)]
    pub workspace_id: Option<WorkspaceId>,
}

/// What Ask streams while it answers.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AskChunk {
    /// Waiting for the local model: `position` calls are ahead.
    Queued { position: usize },
    /// The next piece of the answer.
    Text { text: String },
}

/// A finished answer: which model gave it and what it cost.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct AskAnswer {
    pub text: String,
    pub provider: String,
    pub model: String,
    pub cost_micro_usd: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cancelled: bool,
    pub from_cache: bool,
}

/// Answers a question on the local or a cloud model, streaming the answer
/// on `on_chunk`; `ask_stop(request_id)` stops it.
#[tauri::command]
#[specta::specta]
pub async fn ask(
    core: State<'_, Core>,
    requests: State<'_, AskRequests>,
    request_id: String,
    question: Arg<AskForm>,
    on_chunk: IpcChannel<AskChunk>,
) -> UiResult<AskAnswer> {
    let form = question.parse("question")?;
    if form.prompt.trim().is_empty() {
        return Err(UiError::invalid("prompt", "type a question first"));
    }
    let cancel = CancellationToken::new();
    requests.0.lock().unwrap_or_else(|e| e.into_inner()).insert(request_id.clone(), cancel.clone());
    let call = ModelCall {
        request: ChatRequest::user(&form.prompt),
        route: Route::Tier(form.tier.unwrap_or(Tier::Local)),
        privacy: None,
        local_model: None,
        local_options: ai::LlmOptions::default(),
        context: CallContext { workspace_id: form.workspace_id, ..CallContext::user(core.user().id.clone()) },
        use_cache: true,
    };
    let mut send = move |progress: AskProgress<'_>| {
        let chunk = match progress {
            AskProgress::Queued { position } => AskChunk::Queued { position },
            AskProgress::Text(text) => AskChunk::Text { text: text.to_owned() },
        };
        let _ = on_chunk.send(chunk);
    };
    let outcome = core.ask(call, &mut send, &cancel).await;
    requests.0.lock().unwrap_or_else(|e| e.into_inner()).remove(&request_id);
    let outcome = outcome?;
    let record = &outcome.metered.record;
    Ok(AskAnswer {
        text: outcome.metered.completion.text.clone(),
        provider: record.provider.to_string(),
        model: record.model.to_string(),
        cost_micro_usd: record.cost_micro_usd,
        input_tokens: record.usage.input_tokens,
        output_tokens: record.usage.output_tokens,
        cancelled: outcome.metered.completion.stop_reason == ai::StopReason::Cancelled,
        from_cache: record.cache_hit,
    })
}

/// Stops an answer being generated; false when it already finished.
#[tauri::command]
#[specta::specta]
pub fn ask_stop(requests: State<'_, AskRequests>, request_id: String) -> bool {
    match requests.0.lock().unwrap_or_else(|e| e.into_inner()).get(&request_id) {
        Some(cancel) => {
            cancel.cancel();
            true
        }
        None => false,
    }
}

/// When the process started, and when the window first showed data.
#[derive(Debug)]
pub struct Startup {
    pub started: Instant,
    interactive_ms: OnceLock<u64>,
}

impl Startup {
    pub fn now() -> Self {
        Self { started: Instant::now(), interactive_ms: OnceLock::new() }
    }
}

/// The window calls this once, when it first shows the workspaces it read
/// from the engine: the app is interactive. Returns the milliseconds since
/// the process started (logged; printed to stderr when
/// `RAPTORFLOW_STARTUP_PROBE` is set, for the startup benchmark).
#[tauri::command]
#[specta::specta]
pub fn ui_ready(startup: State<'_, Startup>) -> u64 {
    *startup.interactive_ms.get_or_init(|| {
        let ms = u64::try_from(startup.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        tracing::info!(ms, "interactive");
        if std::env::var_os("RAPTORFLOW_STARTUP_PROBE").is_some() {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("raptorflow-desktop: interactive after {ms} ms");
            }
        }
        ms
    })
}
