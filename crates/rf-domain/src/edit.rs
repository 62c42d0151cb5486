//! Targeted edits of a campaign document. Each touches one move or asset
//! rather than hydrating and reconciling the whole campaign, so an edit costs
//! the same in a campaign of five moves or five thousand.

use automerge::{ObjId, ObjType, ROOT, Value};
use autosurgeon::{Doc, HydrateError, ReadDoc, ReconcileError};

use crate::{Asset, AssetId, Move, MoveId, WorkspaceId};

/// Why a targeted edit could not be made.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// The document lacks a map the campaign shape requires.
    #[error("the document has no `{0}` map")]
    MissingMap(&'static str),
    /// A value in the document does not have the expected shape.
    #[error(transparent)]
    Hydrate(Box<HydrateError>),
    /// A value could not be written.
    #[error(transparent)]
    Reconcile(Box<ReconcileError>),
    /// Automerge refused an operation.
    #[error(transparent)]
    Automerge(Box<automerge::AutomergeError>),
}

impl From<HydrateError> for EditError {
    fn from(err: HydrateError) -> Self {
        Self::Hydrate(Box::new(err))
    }
}

impl From<ReconcileError> for EditError {
    fn from(err: ReconcileError) -> Self {
        Self::Reconcile(Box::new(err))
    }
}

impl From<automerge::AutomergeError> for EditError {
    fn from(err: automerge::AutomergeError) -> Self {
        Self::Automerge(Box::new(err))
    }
}

fn root_map<D: ReadDoc>(doc: &D, key: &'static str) -> Result<ObjId, EditError> {
    match doc.get(&ROOT, key)? {
        Some((Value::Object(ObjType::Map), id)) => Ok(id),
        _ => Err(EditError::MissingMap(key)),
    }
}

/// The workspace a campaign document belongs to.
pub fn campaign_workspace_id<D: ReadDoc>(doc: &D) -> Result<WorkspaceId, EditError> {
    Ok(autosurgeon::hydrate_prop(doc, &ROOT, "workspace_id")?)
}

/// One entry of a root map (`moves`, `assets`) of a campaign document, if
/// it exists.
fn read_entry<D: ReadDoc, T: autosurgeon::Hydrate>(doc: &D, map: &'static str, key: &str) -> Result<Option<T>, EditError> {
    let entries = root_map(doc, map)?;
    if doc.get(&entries, key)?.is_none() {
        return Ok(None);
    }
    Ok(Some(autosurgeon::hydrate_prop(doc, &entries, key)?))
}

/// Writes one entry of a root map (a new one, or over the existing one,
/// changing only the fields that differ).
fn put_entry<D: Doc, T: autosurgeon::Reconcile>(doc: &mut D, map: &'static str, key: &str, value: &T) -> Result<(), EditError> {
    let entries = root_map(doc, map)?;
    autosurgeon::reconcile_prop(doc, &entries, key, value)?;
    Ok(())
}

/// One move of a campaign document, if it exists.
pub fn read_move<D: ReadDoc>(doc: &D, move_id: MoveId) -> Result<Option<Move>, EditError> {
    read_entry(doc, "moves", &move_id.to_string())
}

/// Writes one move of a campaign document.
pub fn put_move<D: Doc>(doc: &mut D, move_id: MoveId, the_move: &Move) -> Result<(), EditError> {
    put_entry(doc, "moves", &move_id.to_string(), the_move)
}

/// Removes one entry of a root map; whether it was there.
fn delete_entry<D: Doc>(doc: &mut D, map: &'static str, key: &str) -> Result<bool, EditError> {
    let entries = root_map(doc, map)?;
    if doc.get(&entries, key)?.is_none() {
        return Ok(false);
    }
    doc.delete(&entries, key)?;
    Ok(true)
}

/// Removes one move of a campaign document; whether it was there.
pub fn delete_move<D: Doc>(doc: &mut D, move_id: MoveId) -> Result<bool, EditError> {
    delete_entry(doc, "moves", &move_id.to_string())
}

/// Removes one asset of a campaign document; whether it was there.
pub fn delete_asset<D: Doc>(doc: &mut D, asset_id: AssetId) -> Result<bool, EditError> {
    delete_entry(doc, "assets", &asset_id.to_string())
}

/// One asset of a campaign document, if it exists.
pub fn read_asset<D: ReadDoc>(doc: &D, asset_id: AssetId) -> Result<Option<Asset>, EditError> {
    read_entry(doc, "assets", &asset_id.to_string())
}

/// Writes one asset of a campaign document.
pub fn put_asset<D: Doc>(doc: &mut D, asset_id: AssetId, asset: &Asset) -> Result<(), EditError> {
    put_entry(doc, "assets", &asset_id.to_string(), asset)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::{Campaign, CampaignId, CampaignStatus, Channel, MoveStatus, Timestamp};

    fn campaign_doc() -> (automerge::AutoCommit, Campaign) {
        let campaign = Campaign {
            schema: Campaign::SCHEMA,
            id: CampaignId::new(),
            workspace_id: WorkspaceId::new(),
            name: "Launch".into(),
            goal: String::new(),
            channels: vec![],
            budget: None,
            status: CampaignStatus::Draft,
            created_at: Timestamp(0),
            start_date: None,
            end_date: None,
            moves: BTreeMap::new(),
            assets: BTreeMap::new(),
        };
        let mut doc = automerge::AutoCommit::new();
        autosurgeon::reconcile(&mut doc, &campaign).unwrap();
        (doc, campaign)
    }

    #[test]
    fn targeted_edits_match_whole_document_edits() {
        let (mut doc, mut campaign) = campaign_doc();
        let move_id = MoveId::new();
        let mut the_move = Move {
            title: "Webinar".into(),
            channel: Channel::Email,
            status: MoveStatus::Planned,
            owner: None,
            due_date: None,
            description: String::new(),
            assets: vec![],
            created_at: Timestamp(1),
        };
        put_move(&mut doc, move_id, &the_move).unwrap();
        assert_eq!(read_move(&doc, move_id).unwrap(), Some(the_move.clone()));
        assert_eq!(read_move(&doc, MoveId::new()).unwrap(), None);

        the_move.status = MoveStatus::Live;
        put_move(&mut doc, move_id, &the_move).unwrap();
        campaign.moves.insert(move_id, the_move);
        let hydrated: Campaign = autosurgeon::hydrate(&doc).unwrap();
        assert_eq!(hydrated, campaign);
        assert_eq!(campaign_workspace_id(&doc).unwrap(), campaign.workspace_id);
    }

    #[test]
    fn a_document_of_another_shape_is_reported() {
        let mut doc = automerge::AutoCommit::new();
        autosurgeon::reconcile(&mut doc, BTreeMap::from([("name".to_string(), "x".to_string())])).unwrap();
        let err = read_move(&doc, MoveId::new()).unwrap_err();
        assert_eq!(err.to_string(), "the document has no `moves` map");
    }
}
