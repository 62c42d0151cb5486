//! The commands the interface calls. Each parses its arguments, calls one
//! `Core` method and returns its result or a [`UiError`]; nothing else
//! happens here.

use rf_core::domain::{Campaign, CampaignId, Channel, DueDate, Move, MoveId, MoveStatus, WorkspaceId, WorkspaceIndex};
use rf_core::{CampaignSummary, Core, NewCampaign, NewMove, WorkspaceSummary};
use serde::{Deserialize, Serialize};
use tauri::State;

use crate::error::UiResult;

fn id<T: std::str::FromStr<Err = rf_core::domain::DomainError>>(text: &str) -> UiResult<T> {
    Ok(text.trim().parse()?)
}

#[tauri::command]
pub async fn workspace_list(core: State<'_, Core>) -> UiResult<Vec<WorkspaceSummary>> {
    Ok(core.list_workspaces().await?)
}

#[tauri::command]
pub async fn workspace_create(core: State<'_, Core>, name: String) -> UiResult<WorkspaceIndex> {
    Ok(core.create_workspace(&name).await?)
}

#[tauri::command]
pub async fn campaign_list(core: State<'_, Core>, workspace_id: String) -> UiResult<Vec<CampaignSummary>> {
    Ok(core.list_campaigns(id::<WorkspaceId>(&workspace_id)?).await?)
}

/// A campaign to create, as the form sends it.
#[derive(Debug, Deserialize)]
pub struct CampaignForm {
    pub name: String,
    pub goal: String,
    #[serde(default)]
    pub channels: Vec<String>,
}

#[tauri::command]
pub async fn campaign_create(core: State<'_, Core>, workspace_id: String, campaign: CampaignForm) -> UiResult<Campaign> {
    let workspace_id = id::<WorkspaceId>(&workspace_id)?;
    let channels = campaign.channels.iter().map(|c| c.parse::<Channel>()).collect::<Result<Vec<_>, _>>()?;
    let new = NewCampaign { name: campaign.name, goal: campaign.goal, channels, budget: None };
    Ok(core.create_campaign(workspace_id, new).await?)
}

#[tauri::command]
pub async fn campaign_show(core: State<'_, Core>, campaign_id: String) -> UiResult<Campaign> {
    Ok(core.campaign(id::<CampaignId>(&campaign_id)?).await?)
}

/// A move to add, as the form sends it.
#[derive(Debug, Deserialize)]
pub struct MoveForm {
    pub title: String,
    pub channel: String,
    pub due_date: Option<String>,
}

/// A saved move and where it is.
#[derive(Debug, Serialize)]
pub struct MoveSaved {
    pub id: MoveId,
    pub campaign_id: CampaignId,
    #[serde(rename = "move")]
    pub the_move: Move,
}

#[tauri::command]
pub async fn move_add(core: State<'_, Core>, campaign_id: String, r#move: MoveForm) -> UiResult<MoveSaved> {
    let campaign_id = id::<CampaignId>(&campaign_id)?;
    let due_date = match r#move.due_date.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => Some(text.parse::<DueDate>()?),
    };
    let new = NewMove { title: r#move.title, channel: r#move.channel.parse()?, owner: None, due_date };
    let (id, the_move) = core.add_move(campaign_id, new).await?;
    Ok(MoveSaved { id, campaign_id, the_move })
}

#[tauri::command]
pub async fn move_set_status(core: State<'_, Core>, move_id: String, status: String) -> UiResult<MoveSaved> {
    let move_id = id::<MoveId>(&move_id)?;
    let (campaign_id, the_move) = core.set_move_status(move_id, status.parse::<MoveStatus>()?).await?;
    Ok(MoveSaved { id: move_id, campaign_id, the_move })
}
