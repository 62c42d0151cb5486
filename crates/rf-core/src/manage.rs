//! Changing and removing what exists: rename and delete workspaces, edit
//! campaigns and move them through their statuses, edit and delete moves
//! and assets, and manage a workspace's members. Every operation checks its
//! input and the rules (an archived campaign takes no changes, the last
//! owner stays) before its first write, so a refused one changes nothing.
//!
//! Change events come from the watcher (events.rs), which sees every write
//! to a document; only a deletion that writes no document of its own (a
//! workspace dropped from this device, a campaign dropped from its index)
//! publishes one here.

use rf_domain::{
    Asset, AssetContent, AssetId, AssetKind, AssetStatus, Budget, Campaign, CampaignId, CampaignStatus, Channel, DomainError, DueDate, Member, Move, MoveId,
    Role, Timestamp, UserId, WorkspaceId, WorkspaceIndex, edit, validate_name, validate_text,
};
use rf_store::EntityKind;
use serde::Serialize;

use crate::{
    CAMPAIGN_DOC as CAMPAIGN, Core, CoreError, CoreEvent, Result,
    campaigns::{asset_not_found, move_not_found, validate_asset_content, validate_budget},
};

/// Changes to a campaign; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct CampaignEdit {
    pub name: Option<String>,
    pub goal: Option<String>,
    /// `Some(None)` removes the budget.
    pub budget: Option<Option<Budget>>,
    pub channels: Option<Vec<Channel>>,
    /// `Some(None)` clears the date.
    pub start_date: Option<Option<DueDate>>,
    pub end_date: Option<Option<DueDate>>,
}

impl CampaignEdit {
    fn is_empty(&self) -> bool {
        self.name.is_none() && self.goal.is_none() && self.budget.is_none() && self.channels.is_none() && self.start_date.is_none() && self.end_date.is_none()
    }
}

/// Changes to a move; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct MoveEdit {
    pub title: Option<String>,
    pub channel: Option<Channel>,
    pub description: Option<String>,
    /// `Some(None)` clears the date.
    pub due_date: Option<Option<DueDate>>,
    /// `Some(None)` leaves the move unassigned.
    pub owner: Option<Option<UserId>>,
}

impl MoveEdit {
    fn is_empty(&self) -> bool {
        self.title.is_none() && self.channel.is_none() && self.description.is_none() && self.due_date.is_none() && self.owner.is_none()
    }
}

/// What deleting a campaign removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeletedCampaign {
    pub campaign_id: CampaignId,
    pub name: String,
    pub n_moves: usize,
    pub n_assets: usize,
}

/// One asset with where it lives.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct AssetView {
    pub asset_id: AssetId,
    pub campaign_id: CampaignId,
    pub kind: AssetKind,
    #[serde(flatten)]
    pub asset: Asset,
}

/// The statuses a campaign may go to from `from`.
pub fn campaign_transitions(from: CampaignStatus) -> &'static [CampaignStatus] {
    use CampaignStatus as S;
    match from {
        S::Draft => &[S::Active, S::Archived],
        S::Active => &[S::Paused, S::Completed, S::Archived],
        S::Paused => &[S::Active, S::Completed, S::Archived],
        S::Completed => &[S::Archived],
        S::Archived => &[],
    }
}

/// Asset content from the JSON `guardian check` reads (the kind's fields,
/// without `kind`), refused with the JSON path of the first problem.
pub fn parse_asset_content(kind: AssetKind, json: &str) -> Result<AssetContent> {
    let mut value: serde_json::Value = serde_json::from_str(json).map_err(|err| DomainError::Invalid { field: "asset", reason: format!("not JSON: {err}") })?;
    let Some(object) = value.as_object_mut() else {
        return Err(DomainError::Invalid { field: "asset", reason: format!("expected a JSON object with the fields of a {kind}") }.into());
    };
    if let Some(given) = object.get("kind").and_then(|k| k.as_str())
        && given != kind.as_str()
    {
        return Err(DomainError::Invalid { field: "asset kind", reason: format!("the file says {given}, the command says {kind}") }.into());
    }
    object.insert("kind".into(), serde_json::Value::String(kind.as_str().to_owned()));
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        DomainError::Invalid { field: "asset", reason: format!("{kind} at {path}: {}", err.inner()) }.into()
    })
}

/// An asset from `FIELD=VALUE` flags (the CLI's `--set`), over `base` (an
/// edit keeps the fields not given). A list field (a Google RSA's
/// `headlines`, `descriptions`, `paths`) takes every value given for it, in
/// order, replacing the list; `duration_seconds` is a number; a video
/// script's `scenes` need JSON. The result is checked like a JSON asset.
pub fn asset_content_from_fields(kind: AssetKind, base: Option<&AssetContent>, fields: &[String]) -> Result<AssetContent> {
    let invalid = |reason: String| CoreError::from(DomainError::Invalid { field: "asset field", reason });
    let lists: &[&str] = if kind == AssetKind::GoogleRsa { &["headlines", "descriptions", "paths"] } else { &[] };
    let mut object = match base {
        Some(content) => match serde_json::to_value(content) {
            Ok(serde_json::Value::Object(object)) => object,
            _ => serde_json::Map::new(),
        },
        None => serde_json::Map::new(),
    };
    let mut given: Vec<&str> = Vec::new();
    for field in fields {
        let Some((name, value)) = field.split_once('=') else {
            return Err(invalid(format!("{field:?} is not FIELD=VALUE")));
        };
        let name = name.trim();
        if name == "kind" {
            return Err(invalid("the kind is --kind, not a field".into()));
        }
        if name == "scenes" {
            return Err(invalid(format!("a {kind}'s scenes are structured: give the asset as JSON with --file")));
        }
        let first = !given.contains(&name);
        if lists.contains(&name) {
            let entry = object.entry(name.to_owned()).or_insert_with(|| serde_json::Value::Array(Vec::new()));
            if first || !entry.is_array() {
                *entry = serde_json::Value::Array(Vec::new());
            }
            if let serde_json::Value::Array(items) = entry {
                items.push(serde_json::Value::String(value.to_owned()));
            }
        } else if !first {
            return Err(invalid(format!("{name} is given twice")));
        } else if name == "duration_seconds" {
            let seconds: u64 = value.trim().parse().map_err(|_| invalid(format!("duration_seconds must be a whole number of seconds, not {value:?}")))?;
            object.insert(name.to_owned(), seconds.into());
        } else {
            object.insert(name.to_owned(), serde_json::Value::String(value.to_owned()));
        }
        given.push(name);
    }
    parse_asset_content(kind, &serde_json::Value::Object(object).to_string())
}

fn archived(campaign_id: CampaignId) -> CoreError {
    CoreError::Conflict { what: format!("campaign {campaign_id} is archived: it takes no changes (nothing was changed)") }
}

impl Core {
    /// Renames a workspace.
    pub async fn rename_workspace(&self, workspace_id: WorkspaceId, name: &str) -> Result<WorkspaceIndex> {
        let name = validate_name("workspace name", name)?;
        let index = self
            .update_index(workspace_id, format!("rename workspace to {name}"), move |index| {
                index.name = name;
                Ok(index.clone())
            })
            .await?;
        Ok(index)
    }

    /// Removes a workspace, with its campaigns, moves and assets, from this
    /// device. Teammates' copies (and the sync server's) are not touched.
    pub async fn delete_workspace(&self, workspace_id: WorkspaceId) -> Result<WorkspaceIndex> {
        let index = self.workspace(workspace_id).await?;
        self.catalog().remove_workspace(&workspace_id.to_string()).await?;
        self.publish(CoreEvent::WorkspaceChanged { workspace_id });
        tracing::info!(%workspace_id, "workspace deleted from this device");
        Ok(index)
    }

    /// Refuses changes to an archived campaign.
    pub(crate) async fn campaign_open_for_changes(&self, campaign_id: CampaignId) -> Result<(WorkspaceIndex, rf_store::DocId)> {
        let (index, doc_id) = self.campaign_home(campaign_id).await?;
        if index.campaigns.get(&campaign_id).is_some_and(|entry| entry.status == CampaignStatus::Archived) {
            return Err(archived(campaign_id));
        }
        Ok((index, doc_id))
    }

    /// Changes a campaign's name, goal, budget, channels or dates.
    pub async fn edit_campaign(&self, campaign_id: CampaignId, changes: CampaignEdit) -> Result<Campaign> {
        if changes.is_empty() {
            return Err(DomainError::Invalid { field: "campaign edit", reason: "nothing to change: give at least one field".into() }.into());
        }
        let name = changes.name.as_deref().map(|name| validate_name("campaign name", name)).transpose()?;
        let goal = changes.goal.as_deref().map(|goal| validate_text("campaign goal", goal.trim())).transpose()?;
        if let Some(Some(budget)) = &changes.budget {
            validate_budget(budget)?;
        }
        let (index, doc_id) = self.campaign_open_for_changes(campaign_id).await?;
        let current: Campaign = self.docs().read(&doc_id, CAMPAIGN).await?;
        let start = changes.start_date.unwrap_or(current.start_date);
        let end = changes.end_date.unwrap_or(current.end_date);
        if let (Some(start), Some(end)) = (&start, &end)
            && end < start
        {
            return Err(DomainError::Invalid { field: "campaign dates", reason: format!("the end ({end}) is before the start ({start})") }.into());
        }
        let new_name = name.clone();
        let updated = self
            .docs()
            .update(&doc_id, CAMPAIGN, format!("edit campaign {campaign_id}"), move |campaign: &mut Campaign| {
                if let Some(name) = name {
                    campaign.name = name;
                }
                if let Some(goal) = goal {
                    campaign.goal = goal;
                }
                if let Some(budget) = changes.budget {
                    campaign.budget = budget;
                }
                if let Some(mut channels) = changes.channels {
                    channels.dedup();
                    campaign.channels = channels;
                }
                campaign.start_date = start;
                campaign.end_date = end;
                Ok::<_, CoreError>(campaign.clone())
            })
            .await?;
        if let Some(name) = new_name {
            self.update_index(index.id, format!("rename campaign {campaign_id}"), move |index| {
                if let Some(entry) = index.campaigns.get_mut(&campaign_id) {
                    entry.name = name;
                }
                Ok(())
            })
            .await?;
        }
        Ok(updated)
    }

    /// Moves a campaign to `status`, if its current status allows it (see
    /// [`campaign_transitions`]). Setting the status it has changes nothing.
    pub async fn set_campaign_status(&self, campaign_id: CampaignId, status: CampaignStatus) -> Result<Campaign> {
        let (index, doc_id) = self.campaign_home(campaign_id).await?;
        let current: Campaign = self.docs().read(&doc_id, CAMPAIGN).await?;
        if current.status == status {
            return Ok(current);
        }
        let allowed = campaign_transitions(current.status);
        if !allowed.contains(&status) {
            let next = if allowed.is_empty() {
                "none: an archived campaign stays archived".to_owned()
            } else {
                allowed.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
            };
            return Err(CoreError::Conflict {
                what: format!(
                    "campaign {campaign_id} is {}: it cannot become {status} (from {} it can go to: {next}); nothing was changed",
                    current.status, current.status
                ),
            });
        }
        let updated = self
            .docs()
            .update(&doc_id, CAMPAIGN, format!("set campaign {campaign_id} status to {status}"), move |campaign: &mut Campaign| {
                campaign.status = status;
                Ok::<_, CoreError>(campaign.clone())
            })
            .await?;
        self.update_index(index.id, format!("campaign {campaign_id} is {status}"), move |index| {
            if let Some(entry) = index.campaigns.get_mut(&campaign_id) {
                entry.status = status;
            }
            Ok(())
        })
        .await?;
        Ok(updated)
    }

    /// Deletes a campaign with its moves and assets: it leaves the workspace
    /// index (so it is gone for teammates too once synced) and every lookup.
    pub async fn delete_campaign(&self, campaign_id: CampaignId) -> Result<DeletedCampaign> {
        let (index, doc_id) = self.campaign_home(campaign_id).await?;
        let campaign: Campaign = self.docs().read(&doc_id, CAMPAIGN).await?;
        self.update_index(index.id, format!("delete campaign {campaign_id}"), move |index| {
            index.campaigns.remove(&campaign_id);
            Ok(())
        })
        .await?;
        self.catalog().forget_campaign(&campaign_id.to_string()).await?;
        // The campaign's document is untouched, so the watcher names only
        // the index: say which campaign went.
        self.publish(CoreEvent::CampaignChanged { workspace_id: index.id, campaign_id });
        Ok(DeletedCampaign { campaign_id, name: campaign.name, n_moves: campaign.moves.len(), n_assets: campaign.assets.len() })
    }

    /// Changes a move's title, channel, description, due date or assignee.
    pub async fn edit_move(&self, move_id: MoveId, changes: MoveEdit) -> Result<(CampaignId, Move)> {
        if changes.is_empty() {
            return Err(DomainError::Invalid { field: "move edit", reason: "nothing to change: give at least one field".into() }.into());
        }
        let title = changes.title.as_deref().map(|title| validate_name("move title", title)).transpose()?;
        let description = changes.description.as_deref().map(|text| validate_text("move description", text.trim())).transpose()?;
        let campaign_id = self.locate_move(move_id).await?;
        let (index, doc_id) = self.campaign_open_for_changes(campaign_id).await?;
        if let Some(Some(owner)) = &changes.owner
            && !index.members.contains_key(owner)
        {
            return Err(DomainError::Invalid {
                field: "move assignee",
                reason: format!("{owner} is not a member of workspace {} (see `raptorflow member add`)", index.id),
            }
            .into());
        }
        let updated = self
            .docs()
            .change(&doc_id, format!("edit move {move_id}"), move |tx| {
                let mut the_move = edit::read_move(tx, move_id)?.ok_or_else(|| move_not_found(move_id))?;
                if let Some(title) = title {
                    the_move.title = title;
                }
                if let Some(channel) = changes.channel {
                    the_move.channel = channel;
                }
                if let Some(description) = description {
                    the_move.description = description;
                }
                if let Some(due_date) = changes.due_date {
                    the_move.due_date = due_date;
                }
                if let Some(owner) = changes.owner {
                    the_move.owner = owner;
                }
                edit::put_move(tx, move_id, &the_move)?;
                Ok::<_, CoreError>(the_move)
            })
            .await?;
        Ok((campaign_id, updated))
    }

    /// Deletes a move; its assets stay in the campaign, attached to no move.
    pub async fn delete_move(&self, move_id: MoveId) -> Result<(CampaignId, Move)> {
        let campaign_id = self.locate_move(move_id).await?;
        let (_, doc_id) = self.campaign_open_for_changes(campaign_id).await?;
        let removed = self
            .docs()
            .change(&doc_id, format!("delete move {move_id}"), move |tx| {
                let the_move = edit::read_move(tx, move_id)?.ok_or_else(|| move_not_found(move_id))?;
                for asset_id in &the_move.assets {
                    if let Some(mut asset) = edit::read_asset(tx, *asset_id)? {
                        asset.move_id = None;
                        edit::put_asset(tx, *asset_id, &asset)?;
                    }
                }
                edit::delete_move(tx, move_id)?;
                Ok::<_, CoreError>(the_move)
            })
            .await?;
        self.catalog().forget(&move_id.to_string(), EntityKind::Move).await?;
        Ok((campaign_id, removed))
    }

    /// One asset, with the campaign it is in.
    pub async fn asset(&self, asset_id: AssetId) -> Result<AssetView> {
        let campaign_id = self.locate_asset(asset_id).await?;
        let campaign = self.campaign(campaign_id).await?;
        let asset = campaign.assets.get(&asset_id).cloned().ok_or_else(|| asset_not_found(asset_id))?;
        Ok(AssetView { asset_id, campaign_id, kind: asset.content.kind(), asset })
    }

    /// The assets of a campaign (or of one of its moves), oldest first.
    pub async fn list_assets(&self, campaign_id: CampaignId, move_id: Option<MoveId>) -> Result<Vec<AssetView>> {
        let campaign = self.campaign(campaign_id).await?;
        if let Some(move_id) = move_id
            && !campaign.moves.contains_key(&move_id)
        {
            return Err(move_not_found(move_id));
        }
        let mut assets: Vec<AssetView> = campaign
            .assets
            .into_iter()
            .filter(|(_, asset)| move_id.is_none() || asset.move_id == move_id)
            .map(|(asset_id, asset)| AssetView { asset_id, campaign_id, kind: asset.content.kind(), asset })
            .collect();
        assets.sort_by_key(|view| view.asset.created_at);
        Ok(assets)
    }

    /// Replaces an asset's content (same kind), checks it with Guardian again,
    /// and sends an approved or published asset back to review.
    pub async fn edit_asset(&self, asset_id: AssetId, content: AssetContent) -> Result<(CampaignId, Asset)> {
        validate_asset_content(&content)?;
        let campaign_id = self.locate_asset(asset_id).await?;
        let (index, doc_id) = self.campaign_open_for_changes(campaign_id).await?;
        let findings = self.guardian_findings(&index.brand, &content)?;
        let updated = self
            .docs()
            .change(&doc_id, format!("edit asset {asset_id}"), move |tx| {
                let mut asset = edit::read_asset(tx, asset_id)?.ok_or_else(|| asset_not_found(asset_id))?;
                if asset.content.kind() != content.kind() {
                    return Err(DomainError::Invalid {
                        field: "asset kind",
                        reason: format!("asset {asset_id} is a {}, not a {}: add a new asset instead", asset.content.kind(), content.kind()),
                    }
                    .into());
                }
                asset.content = content;
                asset.findings = findings;
                if matches!(asset.status, AssetStatus::Approved | AssetStatus::Published) {
                    asset.status = AssetStatus::InReview;
                }
                edit::put_asset(tx, asset_id, &asset)?;
                Ok::<_, CoreError>(asset)
            })
            .await?;
        Ok((campaign_id, updated))
    }

    /// Deletes an asset (and its place in its move's list).
    pub async fn delete_asset(&self, asset_id: AssetId) -> Result<(CampaignId, Asset)> {
        let campaign_id = self.locate_asset(asset_id).await?;
        let (_, doc_id) = self.campaign_open_for_changes(campaign_id).await?;
        let removed = self
            .docs()
            .change(&doc_id, format!("delete asset {asset_id}"), move |tx| {
                let asset = edit::read_asset(tx, asset_id)?.ok_or_else(|| asset_not_found(asset_id))?;
                if let Some(move_id) = asset.move_id
                    && let Some(mut the_move) = edit::read_move(tx, move_id)?
                {
                    the_move.assets.retain(|id| *id != asset_id);
                    edit::put_move(tx, move_id, &the_move)?;
                }
                edit::delete_asset(tx, asset_id)?;
                Ok::<_, CoreError>(asset)
            })
            .await?;
        self.catalog().forget(&asset_id.to_string(), EntityKind::Asset).await?;
        Ok((campaign_id, removed))
    }

    /// Refuses membership changes by anyone but an owner.
    fn require_owner(&self, index: &WorkspaceIndex) -> Result<()> {
        match index.members.get(&self.user().id) {
            Some(member) if member.role == Role::Owner => Ok(()),
            _ => Err(CoreError::Permission {
                what: format!("only an owner of workspace {} can change its members, and {} is not one", index.id, self.user().id),
            }),
        }
    }

    /// Adds a member to a workspace (or refuses one who is already there).
    pub async fn add_member(&self, workspace_id: WorkspaceId, user: UserId, display_name: &str, role: Role) -> Result<WorkspaceIndex> {
        let display_name = validate_name("display name", display_name)?;
        let index = self.workspace(workspace_id).await?;
        self.require_owner(&index)?;
        if index.members.contains_key(&user) {
            return Err(CoreError::AlreadyExists { what: "member", id: format!("{user} of workspace {workspace_id}") });
        }
        let index = self
            .update_index(workspace_id, format!("add member {user} as {role}"), move |index| {
                index.members.insert(user, Member { display_name, role, joined_at: Timestamp::now() });
                Ok(index.clone())
            })
            .await?;
        Ok(index)
    }

    /// Removes a member. The last owner cannot be removed.
    pub async fn remove_member(&self, workspace_id: WorkspaceId, user: UserId) -> Result<WorkspaceIndex> {
        self.change_member(workspace_id, user, None).await
    }

    /// Changes a member's role. The last owner cannot stop being one.
    pub async fn set_member_role(&self, workspace_id: WorkspaceId, user: UserId, role: Role) -> Result<WorkspaceIndex> {
        self.change_member(workspace_id, user, Some(role)).await
    }

    async fn change_member(&self, workspace_id: WorkspaceId, user: UserId, role: Option<Role>) -> Result<WorkspaceIndex> {
        let index = self.workspace(workspace_id).await?;
        self.require_owner(&index)?;
        let Some(member) = index.members.get(&user) else {
            return Err(CoreError::NotFound { what: "member", id: user.to_string(), hint: " in this workspace (see `raptorflow workspace show`)" });
        };
        let owners = index.members.values().filter(|m| m.role == Role::Owner).count();
        if member.role == Role::Owner && owners == 1 && role != Some(Role::Owner) {
            return Err(CoreError::Conflict {
                what: format!("{user} is the last owner of workspace {workspace_id}: make another member an owner first (nothing was changed)"),
            });
        }
        let message = match role {
            Some(role) => format!("set member {user} role to {role}"),
            None => format!("remove member {user}"),
        };
        let index = self
            .update_index(workspace_id, message, move |index| {
                match role {
                    Some(role) => {
                        if let Some(member) = index.members.get_mut(&user) {
                            member.role = role;
                        }
                    }
                    None => {
                        index.members.remove(&user);
                    }
                }
                Ok(index.clone())
            })
            .await?;
        Ok(index)
    }
}
