//! Campaign operations: create and list campaigns, add moves and assets, move
//! a move through its statuses. A command may name a move, asset or campaign
//! by id alone; the catalog's location table finds its document in one
//! query. The table is authoritative: every write records its entity's
//! location before the document changes, import and sync record what they
//! bring, and a table that may have holes is rebuilt when the data directory
//! is opened. A miss is "not here",
//! without reading any document.

use std::collections::BTreeMap;

use rf_domain::{
    Asset, AssetContent, AssetId, AssetStatus, Budget, Campaign, CampaignEntry, CampaignId, CampaignStatus, Channel, DomainError, DueDate, Move, MoveId,
    MoveStatus, Timestamp, UserId, WorkspaceId, WorkspaceIndex, edit, validate_name, validate_text,
};
use rf_store::{DocId, EntityKind, EntityLocation};
use serde::Serialize;

use crate::{CAMPAIGN_DOC as CAMPAIGN, Core, CoreError, Result};

/// What is needed to create a campaign.
#[derive(Debug, Clone)]
pub struct NewCampaign {
    pub name: String,
    pub goal: String,
    pub channels: Vec<Channel>,
    pub budget: Option<Budget>,
}

/// What is needed to add a move.
#[derive(Debug, Clone)]
pub struct NewMove {
    pub title: String,
    pub channel: Channel,
    pub owner: Option<UserId>,
    pub due_date: Option<DueDate>,
}

/// One line of `campaign list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct CampaignSummary {
    pub id: CampaignId,
    pub name: String,
    pub status: CampaignStatus,
    pub created_at: Timestamp,
}

pub(crate) fn validate_budget(budget: &Budget) -> Result<()> {
    if budget.amount_minor < 0 {
        return Err(DomainError::Invalid { field: "budget", reason: format!("must not be negative, got {}", budget.amount_minor) }.into());
    }
    let code = &budget.currency;
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(DomainError::Invalid { field: "budget currency", reason: format!("'{code}' is not an ISO 4217 code such as USD or EUR") }.into());
    }
    Ok(())
}

pub(crate) fn move_not_found(move_id: MoveId) -> CoreError {
    CoreError::NotFound { what: "move", id: move_id.to_string(), hint: " (see `raptorflow campaign show`)" }
}

pub(crate) fn asset_not_found(asset_id: AssetId) -> CoreError {
    CoreError::NotFound { what: "asset", id: asset_id.to_string(), hint: " (see `raptorflow campaign show`)" }
}

fn campaign_not_found(campaign_id: CampaignId) -> CoreError {
    CoreError::NotFound { what: "campaign", id: campaign_id.to_string(), hint: " (see `raptorflow campaign list --workspace ID`)" }
}

impl Core {
    /// Creates a campaign in a workspace: its own document, plus a line in the
    /// workspace index.
    pub async fn create_campaign(&self, workspace_id: WorkspaceId, new: NewCampaign) -> Result<Campaign> {
        let name = validate_name("campaign name", &new.name)?;
        let goal = validate_text("campaign goal", new.goal.trim())?;
        if let Some(budget) = &new.budget {
            validate_budget(budget)?;
        }
        // Fail on an unknown workspace before creating any document.
        self.index_doc(workspace_id).await?;
        let mut channels = new.channels;
        channels.dedup();
        let campaign = Campaign {
            schema: Campaign::SCHEMA,
            id: CampaignId::new(),
            workspace_id,
            name,
            goal,
            channels,
            budget: new.budget,
            status: CampaignStatus::Draft,
            created_at: Timestamp::now(),
            start_date: None,
            end_date: None,
            moves: BTreeMap::new(),
            assets: BTreeMap::new(),
        };
        // Recorded first: a location whose document never came is harmless
        // (the lookup then finds no such campaign), a document without one
        // could not be found by id.
        self.remember(campaign.id.to_string(), EntityKind::Campaign, workspace_id, campaign.id).await?;
        let doc_id = self.docs().create(&campaign, CAMPAIGN).await?;
        let entry = CampaignEntry { name: campaign.name.clone(), status: campaign.status, document: doc_id.to_string(), created_at: campaign.created_at };
        let campaign_id = campaign.id;
        self.update_index(workspace_id, format!("add campaign {campaign_id}"), move |index| {
            index.campaigns.insert(campaign_id, entry);
            Ok(())
        })
        .await?;
        tracing::info!(%workspace_id, %campaign_id, "campaign created");
        Ok(campaign)
    }

    /// The campaigns of a workspace, oldest first.
    pub async fn list_campaigns(&self, workspace_id: WorkspaceId) -> Result<Vec<CampaignSummary>> {
        let index = self.workspace(workspace_id).await?;
        Ok(index
            .campaigns
            .into_iter()
            .map(|(id, entry)| CampaignSummary { id, name: entry.name, status: entry.status, created_at: entry.created_at })
            .collect())
    }

    /// A whole campaign document.
    pub async fn campaign(&self, campaign_id: CampaignId) -> Result<Campaign> {
        let doc_id = self.campaign_doc(campaign_id).await?;
        Ok(self.docs().read(&doc_id, CAMPAIGN).await?)
    }

    /// Adds a move to a campaign and returns its id.
    pub async fn add_move(&self, campaign_id: CampaignId, new: NewMove) -> Result<(MoveId, Move)> {
        let title = validate_name("move title", &new.title)?;
        let (workspace, doc_id) = self.campaign_open_for_changes(campaign_id).await?;
        let move_id = MoveId::new();
        let new_move = Move {
            title,
            channel: new.channel,
            status: MoveStatus::Planned,
            owner: new.owner,
            due_date: new.due_date,
            description: String::new(),
            assets: Vec::new(),
            created_at: Timestamp::now(),
        };
        let stored = new_move.clone();
        self.remember(move_id.to_string(), EntityKind::Move, workspace.id, campaign_id).await?;
        self.docs()
            .change(&doc_id, format!("add move {move_id}"), move |tx| {
                edit::put_move(tx, move_id, &stored)?;
                Ok::<_, CoreError>(())
            })
            .await?;
        Ok((move_id, new_move))
    }

    /// Sets a move's status. Returns the campaign it belongs to and the move.
    pub async fn set_move_status(&self, move_id: MoveId, status: MoveStatus) -> Result<(CampaignId, Move)> {
        let campaign_id = self.locate_move(move_id).await?;
        let (workspace, doc_id) = self.campaign_open_for_changes(campaign_id).await?;
        let (before, updated) = self
            .docs()
            .change(&doc_id, format!("set move {move_id} status to {status}"), move |tx| {
                let mut the_move = edit::read_move(tx, move_id)?.ok_or_else(|| move_not_found(move_id))?;
                let before = the_move.status;
                the_move.status = status;
                edit::put_move(tx, move_id, &the_move)?;
                Ok::<_, CoreError>((before, the_move))
            })
            .await?;
        if status == MoveStatus::Done && before != MoveStatus::Done {
            self.record_activity(workspace.id, "move_done").await;
        }
        Ok((campaign_id, updated))
    }

    /// Adds an asset to a campaign, optionally attached to one of its moves,
    /// with Guardian's findings on it.
    pub async fn add_asset(&self, campaign_id: CampaignId, move_id: Option<MoveId>, content: AssetContent) -> Result<AssetId> {
        validate_asset_content(&content)?;
        let (workspace, doc_id) = self.campaign_open_for_changes(campaign_id).await?;
        // Guardian checks every asset as it is written, so its findings are
        // there before anyone reviews it.
        let findings = self.guardian_findings(&workspace.brand, &content)?;
        let asset_id = AssetId::new();
        let asset = Asset {
            move_id,
            content,
            status: AssetStatus::Draft,
            findings,
            created_at: Timestamp::now(),
            review_note: String::new(),
            published_url: None,
            design: None,
        };
        self.remember(asset_id.to_string(), EntityKind::Asset, workspace.id, campaign_id).await?;
        self.docs()
            .change(&doc_id, format!("add asset {asset_id}"), move |tx| {
                if let Some(move_id) = move_id {
                    let mut the_move = edit::read_move(tx, move_id)?.ok_or_else(|| move_not_found(move_id))?;
                    the_move.assets.push(asset_id);
                    edit::put_move(tx, move_id, &the_move)?;
                }
                edit::put_asset(tx, asset_id, &asset)?;
                Ok::<_, CoreError>(())
            })
            .await?;
        Ok(asset_id)
    }

    /// Records where an entity lives, before its document is written.
    pub(crate) async fn remember(&self, entity_id: String, kind: EntityKind, workspace_id: WorkspaceId, campaign_id: CampaignId) -> Result<()> {
        let location = EntityLocation { workspace_id: workspace_id.to_string(), campaign_id: campaign_id.to_string() };
        self.catalog().set_locations(&[(entity_id, kind, location)]).await?;
        Ok(())
    }

    /// The document of a campaign.
    pub(crate) async fn campaign_doc(&self, campaign_id: CampaignId) -> Result<DocId> {
        Ok(self.campaign_home(campaign_id).await?.1)
    }

    /// The workspace and document of a campaign: one catalog query, then the
    /// workspace's index, which must still list the campaign.
    pub(crate) async fn campaign_home(&self, campaign_id: CampaignId) -> Result<(WorkspaceIndex, DocId)> {
        if let Some(location) = self.catalog().location(&campaign_id.to_string(), EntityKind::Campaign).await?
            && let Ok(workspace_id) = location.workspace_id.parse::<WorkspaceId>()
            && let Ok(index) = self.workspace(workspace_id).await
            && let Some(entry) = index.campaigns.get(&campaign_id)
        {
            let doc_id = entry.document.parse()?;
            return Ok((index, doc_id));
        }
        Err(campaign_not_found(campaign_id))
    }

    /// The campaign holding a move.
    pub(crate) async fn locate_move(&self, move_id: MoveId) -> Result<CampaignId> {
        self.locate(&move_id.to_string(), EntityKind::Move).await?.ok_or_else(|| move_not_found(move_id))
    }

    /// The campaign holding an asset.
    pub(crate) async fn locate_asset(&self, asset_id: AssetId) -> Result<CampaignId> {
        self.locate(&asset_id.to_string(), EntityKind::Asset).await?.ok_or_else(|| asset_not_found(asset_id))
    }

    /// The campaign holding a move or asset: one query, no document read.
    async fn locate(&self, key: &str, kind: EntityKind) -> Result<Option<CampaignId>> {
        let location = self.catalog().location(key, kind).await?;
        Ok(location.and_then(|location| location.campaign_id.parse::<CampaignId>().ok()))
    }

    /// Rebuilds the location table from the documents if the catalog says it
    /// may have holes (a data directory from before the table was
    /// authoritative, or a sync or import that stopped before recording what
    /// it brought). Reads every campaign document once.
    pub(crate) async fn rebuild_locations_if_needed(&self) -> Result<()> {
        if self.catalog().locations_complete().await? {
            return Ok(());
        }
        let mut n_rows = 0;
        let mut n_failed = 0;
        for (workspace_id, index_doc) in self.catalog().workspaces().await? {
            // One unreadable workspace must not make the whole data directory
            // unusable: index the others, and leave the flag set so that the
            // next open tries again.
            let indexed = async {
                let index: WorkspaceIndex = self.docs().read(&index_doc, crate::INDEX_DOC).await?;
                let campaign_docs = index.campaigns.iter().map(|(id, entry)| (*id, entry.document.clone())).collect::<Vec<_>>();
                self.index_campaigns(index.id, &campaign_docs).await
            }
            .await;
            match indexed {
                Ok(n) => n_rows += n,
                Err(err) => {
                    n_failed += 1;
                    tracing::warn!(%workspace_id, error = %err, "could not index the workspace's locations; will retry at the next open");
                }
            }
        }
        if n_failed == 0 {
            self.catalog().set_locations_complete(true).await?;
        }
        tracing::info!(n_rows, n_failed, "entity location table rebuilt");
        Ok(())
    }

    /// Records the locations of the given campaigns of a workspace and of
    /// every move and asset in them. A campaign whose document is not on
    /// this device (not synced yet) gets its own row only. Returns the
    /// number of rows written.
    pub(crate) async fn index_campaigns(&self, workspace_id: WorkspaceId, campaigns: &[(CampaignId, String)]) -> Result<usize> {
        let mut rows = Vec::new();
        for (campaign_id, document) in campaigns {
            let location = EntityLocation { workspace_id: workspace_id.to_string(), campaign_id: campaign_id.to_string() };
            rows.push((campaign_id.to_string(), EntityKind::Campaign, location.clone()));
            let campaign: Campaign = match self.docs().read(&document.parse()?, CAMPAIGN).await {
                Ok(campaign) => campaign,
                Err(rf_store::StoreError::DocumentNotFound { .. }) => continue,
                Err(err) => return Err(err.into()),
            };
            rows.extend(campaign.moves.keys().map(|id| (id.to_string(), EntityKind::Move, location.clone())));
            rows.extend(campaign.assets.keys().map(|id| (id.to_string(), EntityKind::Asset, location.clone())));
        }
        self.catalog().set_locations(&rows).await?;
        Ok(rows.len())
    }
}

/// Checks the free text of an asset against the domain limits.
pub(crate) fn validate_asset_content(content: &AssetContent) -> Result<()> {
    let texts: Vec<(&'static str, &String)> = match content {
        AssetContent::GoogleRsa { headlines, descriptions, paths, final_url } => headlines
            .iter()
            .map(|h| ("headline", h))
            .chain(descriptions.iter().map(|d| ("description", d)))
            .chain(paths.iter().map(|p| ("display path", p)))
            .chain([("final url", final_url)])
            .collect(),
        AssetContent::MetaAd { primary_text, headline, description, call_to_action, special_ad_category } => {
            [("primary text", primary_text), ("headline", headline), ("description", description), ("call to action", call_to_action)]
                .into_iter()
                .chain(special_ad_category.iter().map(|c| ("special ad category", c)))
                .collect()
        }
        AssetContent::LinkedinAd { intro_text, headline, description, call_to_action } => {
            vec![("intro text", intro_text), ("headline", headline), ("description", description), ("call to action", call_to_action)]
        }
        AssetContent::XPost { text } | AssetContent::LinkedinPost { text } => vec![("text", text)],
        AssetContent::Email { subject, preheader, body } => {
            vec![("subject", subject), ("preheader", preheader), ("body", body)]
        }
        AssetContent::BlogPost { title, meta_description, body_markdown } => {
            vec![("title", title), ("meta description", meta_description), ("body", body_markdown)]
        }
        AssetContent::VideoScript { title, scenes, .. } => {
            [("title", title)].into_iter().chain(scenes.iter().flat_map(|s| [("scene visual", &s.visual), ("scene voiceover", &s.voiceover)])).collect()
        }
        AssetContent::ImageBrief { concept, aspect_ratio, alt_text } => {
            vec![("concept", concept), ("aspect ratio", aspect_ratio), ("alt text", alt_text)]
        }
    };
    for (field, text) in texts {
        validate_text(field, text)?;
    }
    Ok(())
}
