//! The workspace index document: who is in the workspace, what the brand
//! stands for, which campaigns exist, and each member's progress.

use std::collections::BTreeMap;

use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};

use crate::{AssetKind, CampaignId, CampaignStatus, CodexEntry, RunId, SourceId, Timestamp, UserId, WorkspaceId, string_enum};

string_enum! {
    /// What a member may do in a workspace. Maps onto the sync server's share
    /// policy: owners and editors write, viewers only read.
    pub enum Role ("role") {
        /// Full control, including membership.
        Owner => "owner",
        /// Reads and writes documents.
        Editor => "editor",
        /// Reads only; their changes are dropped by the sync server.
        Viewer => "viewer",
    }
}

/// The index document of a workspace. One per workspace; small, so that
/// syncing a workspace's table of contents stays cheap.
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct WorkspaceIndex {
    /// Document format version; bumped when the shape changes incompatibly.
    pub schema: u64,
    /// This workspace's id, stored in the document so that any copy of it
    /// knows which workspace it is.
    pub id: WorkspaceId,
    /// Display name, e.g. the business's name.
    pub name: String,
    /// When the workspace was created.
    pub created_at: Timestamp,
    /// Members by user id.
    #[autosurgeon(with = "autosurgeon::map_with_parseable_keys")]
    pub members: BTreeMap<UserId, Member>,
    /// What the swarm knows about the brand.
    pub brand: BrandCodex,
    /// Every campaign of the workspace, by id, with the document that holds it.
    #[autosurgeon(with = "autosurgeon::map_with_parseable_keys")]
    pub campaigns: BTreeMap<CampaignId, CampaignEntry>,
    /// Points, streaks and achievements per member.
    #[autosurgeon(with = "autosurgeon::map_with_parseable_keys")]
    pub gamification: BTreeMap<UserId, MemberStats>,
    /// The Codex: every imported source, by id, with the document that holds
    /// its text. Missing in documents written before the Codex existed.
    #[autosurgeon(with = "autosurgeon::map_with_parseable_keys", missing = "BTreeMap::new")]
    #[serde(default)]
    pub codex: BTreeMap<SourceId, CodexEntry>,
    /// Market digests from intelligence sweeps, by the run that wrote them,
    /// shared once a person approved them. Missing in documents written
    /// before the sweep existed.
    #[autosurgeon(with = "autosurgeon::map_with_parseable_keys", missing = "BTreeMap::new")]
    #[serde(default)]
    pub digests: BTreeMap<RunId, Digest>,
}

/// What Herald wrote after an intelligence sweep: what changed, what it
/// means, what to do next.
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[serde(deny_unknown_fields)]
pub struct Digest {
    /// The period it covers, as the sweep named it ("Week of 7 December").
    pub period: String,
    pub headline: String,
    pub what_changed: Vec<DigestChange>,
    pub what_it_means: String,
    pub next_steps: Vec<DigestAction>,
    /// The competitors the sweep looked at.
    pub competitors: Vec<String>,
    pub created_at: Timestamp,
    /// The news items the connectors found for the sweep, which its
    /// changes draw on. Missing in digests written before connectors.
    #[autosurgeon(missing = "Vec::new")]
    #[serde(default)]
    pub sources: Vec<DigestSource>,
}

/// A news item a digest cites: what was found, where, for whom.
#[derive(Debug, Clone, Default, PartialEq, Eq, Reconcile, Hydrate, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[serde(default, deny_unknown_fields)]
pub struct DigestSource {
    /// The company or competitor it was found for.
    pub subject: String,
    pub title: String,
    pub url: String,
    /// The publisher or site ("" if the service gave none).
    pub publisher: String,
    /// As the service dated it ("" if it did not).
    pub published: String,
    /// The connector that found it (`newsapi`, `brave`).
    pub service: String,
}

/// One change a digest reports, with whether it is good or bad for us.
#[derive(Debug, Clone, Default, PartialEq, Eq, Reconcile, Hydrate, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[serde(default, deny_unknown_fields)]
pub struct DigestChange {
    pub change: String,
    /// "good", "bad" or "watch".
    pub signal: String,
}

/// One next step a digest proposes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Reconcile, Hydrate, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[serde(default, deny_unknown_fields)]
pub struct DigestAction {
    pub action: String,
    pub owner: String,
    pub by: String,
}

impl WorkspaceIndex {
    /// The current document format version.
    pub const SCHEMA: u64 = 1;
}

/// One member of a workspace.
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[serde(deny_unknown_fields)]
pub struct Member {
    /// The name shown to teammates.
    pub display_name: String,
    /// What the member may do.
    pub role: Role,
    /// When the member joined.
    pub joined_at: Timestamp,
}

/// The brand codex: the facts every agent writes from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Reconcile, Hydrate, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[serde(default, deny_unknown_fields)]
pub struct BrandCodex {
    /// The company's name as it should appear in copy.
    pub company: String,
    /// What is being sold, in a sentence or two.
    pub offer: String,
    /// Audiences and ideal customer profiles, one entry each.
    pub audiences: Vec<String>,
    /// How the brand sounds.
    pub voice: Voice,
    /// Words and phrases that must never appear in copy.
    pub banned_terms: Vec<String>,
    /// Disclaimers that must accompany every asset that carries copy
    /// (legal, financial, medical...).
    pub required_disclaimers: Vec<String>,
    /// Disclaimers required on one kind of asset only, e.g. a regulator's
    /// line on every Meta ad. Missing in documents written before Guardian.
    #[autosurgeon(with = "autosurgeon::map_with_parseable_keys", missing = "BTreeMap::new")]
    pub disclaimers_by_kind: BTreeMap<AssetKind, Vec<String>>,
    /// Competitors, one entry each, with how this business differs.
    /// Missing in documents written before onboarding.
    #[autosurgeon(missing = "Vec::new")]
    pub competitors: Vec<String>,
    /// Where the brand stands: for whom, what it is, why it is different.
    #[autosurgeon(missing = "String::new")]
    pub positioning: String,
    /// The website ads and emails link to (https://...). Missing in
    /// documents written before onboarding filled it.
    #[autosurgeon(missing = "String::new")]
    pub website: String,
    /// Where each field's content comes from, by field name: intake fields
    /// (`intake:products[0]`) and Codex passages (`codex:pricing.md`).
    #[autosurgeon(missing = "BTreeMap::new")]
    pub sources: BTreeMap<String, Vec<String>>,
    /// What the swarm last wrote in each field, as JSON text. A field whose
    /// value differs was edited by a person since, and a regeneration
    /// leaves it alone unless the user asks for that field.
    #[autosurgeon(missing = "BTreeMap::new")]
    pub generated: BTreeMap<String, String>,
}

/// The brand's voice: a tone, and lists of what to do and avoid.
#[derive(Debug, Clone, Default, PartialEq, Eq, Reconcile, Hydrate, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[serde(default, deny_unknown_fields)]
pub struct Voice {
    /// A short description such as "warm, plain-spoken, a little wry".
    pub tone: String,
    /// Things the copy should do.
    pub dos: Vec<String>,
    /// Things the copy should avoid.
    pub donts: Vec<String>,
}

/// A campaign's line in the workspace index.
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[serde(deny_unknown_fields)]
pub struct CampaignEntry {
    /// The campaign's name, kept here so listing campaigns needs no other document.
    pub name: String,
    /// The campaign's status, kept here for the same reason.
    pub status: CampaignStatus,
    /// The Automerge document id of the campaign document.
    pub document: String,
    /// When the campaign was created.
    pub created_at: Timestamp,
}

/// A member's gamification state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Reconcile, Hydrate, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[serde(default, deny_unknown_fields)]
pub struct MemberStats {
    /// Points earned.
    pub points: u64,
    /// Consecutive active days.
    pub streak_days: u64,
    /// Achievement ids, in the order they were earned.
    pub achievements: Vec<String>,
    /// The last day (UTC, YYYY-MM-DD) the member did something that counts.
    /// Missing in documents written before gamification counted.
    #[autosurgeon(missing = "String::new")]
    pub last_active: String,
    /// How many times the member did each kind of thing ("move_done"...).
    #[autosurgeon(missing = "BTreeMap::new")]
    pub counts: BTreeMap<String, u64>,
}
