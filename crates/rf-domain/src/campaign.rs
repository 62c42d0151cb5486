//! The campaign document: one per campaign, holding its moves and assets.

use std::collections::BTreeMap;

use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};

use crate::{AssetId, CampaignId, DueDate, MoveId, Timestamp, UserId, WorkspaceId, string_enum};

string_enum! {
    /// Where a campaign stands.
    pub enum CampaignStatus ("campaign status") {
        Draft => "draft",
        Active => "active",
        Paused => "paused",
        Completed => "completed",
        Archived => "archived",
    }
}

string_enum! {
    /// A marketing channel a move runs on.
    pub enum Channel ("channel") as MarketingChannel {
        GoogleAds => "google_ads",
        MetaAds => "meta_ads",
        Linkedin => "linkedin",
        X => "x",
        Email => "email",
        Blog => "blog",
        Seo => "seo",
        Video => "video",
        Events => "events",
        Pr => "pr",
    }
}

string_enum! {
    /// Where a move stands, from plan to done.
    pub enum MoveStatus ("move status") {
        Planned => "planned",
        InProgress => "in_progress",
        Review => "review",
        Approved => "approved",
        Live => "live",
        Done => "done",
    }
}

string_enum! {
    /// The kinds of asset the swarm writes.
    pub enum AssetKind ("asset kind") {
        GoogleRsa => "google_rsa",
        MetaAd => "meta_ad",
        LinkedinAd => "linkedin_ad",
        XPost => "x_post",
        LinkedinPost => "linkedin_post",
        Email => "email",
        BlogPost => "blog_post",
        VideoScript => "video_script",
        ImageBrief => "image_brief",
    }
}

string_enum! {
    /// Where an asset stands in review.
    pub enum AssetStatus ("asset status") {
        Draft => "draft",
        InReview => "in_review",
        ChangesRequested => "changes_requested",
        Approved => "approved",
        Published => "published",
    }
}

string_enum! {
    /// How serious a Guardian finding is.
    pub enum FindingSeverity ("finding severity") {
        /// Should be fixed before publishing; does not stop approval.
        Warn => "warn",
        /// Must be fixed: the platform or brand policy forbids it, and the
        /// asset cannot be approved until it is.
        Block => "block",
    }
}

string_enum! {
    /// What kind of rule a Guardian finding is about.
    pub enum FindingCategory ("finding category") {
        Length => "length",
        Count => "count",
        Capitalization => "capitalization",
        Punctuation => "punctuation",
        Symbols => "symbols",
        Emoji => "emoji",
        Superlative => "superlative",
        PersonalAttributes => "personal_attributes",
        RestrictedHealth => "restricted_health",
        RestrictedFinance => "restricted_finance",
        SpecialAdCategory => "special_ad_category",
        BrandBannedTerm => "brand_banned_term",
        MissingDisclaimer => "missing_disclaimer",
        BrandVoice => "brand_voice",
        /// A testimonial or endorsement without its disclosure.
        Endorsement => "endorsement",
        /// An email without what the law requires of commercial email.
        EmailCompliance => "email_compliance",
        /// A "free" offer, a reference price or a discount claim.
        PriceClaim => "price_claim",
        /// A claim that compares with competitors.
        ComparativeClaim => "comparative_claim",
        /// A promise of results or a guarantee without its terms.
        Guarantee => "guarantee",
        /// A Guardian agent's (a model's) finding, quoting the asset: advice
        /// for the reviewer, never blocking.
        ModelReview => "model_review",
    }
}

/// A campaign document.
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct Campaign {
    /// Document format version.
    pub schema: u64,
    /// This campaign's id.
    pub id: CampaignId,
    /// The workspace this campaign belongs to.
    pub workspace_id: WorkspaceId,
    /// Display name.
    pub name: String,
    /// What the campaign is for, in the user's words.
    pub goal: String,
    /// Channels the campaign plans to use.
    pub channels: Vec<Channel>,
    /// Money set aside for the campaign, if any.
    pub budget: Option<Budget>,
    /// Where the campaign stands.
    pub status: CampaignStatus,
    /// When the campaign was created.
    pub created_at: Timestamp,
    /// When it starts and ends, if planned (missing in documents written
    /// before campaigns had dates).
    #[autosurgeon(missing = "Option::default")]
    #[serde(default)]
    pub start_date: Option<DueDate>,
    #[autosurgeon(missing = "Option::default")]
    #[serde(default)]
    pub end_date: Option<DueDate>,
    /// Moves by id; ids are time-ordered, so this map is in creation order.
    #[autosurgeon(with = "autosurgeon::map_with_parseable_keys")]
    pub moves: BTreeMap<MoveId, Move>,
    /// Assets by id.
    #[autosurgeon(with = "autosurgeon::map_with_parseable_keys")]
    pub assets: BTreeMap<AssetId, Asset>,
}

impl Campaign {
    /// The current document format version.
    pub const SCHEMA: u64 = 1;
}

/// A budget in integer minor units (cents), so no rounding ever creeps in.
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// Amount in the currency's minor unit (e.g. cents).
    pub amount_minor: i64,
    /// ISO 4217 code such as `USD`.
    pub currency: String,
}

impl Budget {
    /// Parses an amount written for people (`2500`, `2500.5`, `2500.50`) in a
    /// currency with two decimal places into a budget in minor units.
    pub fn parse(amount: &str, currency: &str) -> crate::Result<Self> {
        let invalid = |reason: String| crate::DomainError::Invalid { field: "budget", reason };
        let amount = amount.trim();
        let (whole, fraction) = amount.split_once('.').unwrap_or((amount, ""));
        if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) || fraction.len() > 2 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid(format!("'{amount}' is not an amount such as 2500 or 2500.50")));
        }
        let whole: i64 = whole.parse().map_err(|_| invalid(format!("'{amount}' is too large")))?;
        let cents: i64 = format!("{fraction:0<2}").parse().unwrap_or(0);
        let amount_minor = whole.checked_mul(100).and_then(|w| w.checked_add(cents)).ok_or_else(|| invalid(format!("'{amount}' is too large")))?;
        let currency = currency.trim().to_ascii_uppercase();
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(crate::DomainError::Invalid { field: "budget currency", reason: format!("'{currency}' is not an ISO 4217 code such as USD or EUR") });
        }
        Ok(Self { amount_minor, currency })
    }
}

/// One move: a planned piece of campaign work on one channel.
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[serde(deny_unknown_fields)]
pub struct Move {
    /// What the move is, e.g. "Launch webinar invite sequence".
    pub title: String,
    /// The channel it runs on.
    pub channel: Channel,
    /// Where it stands.
    pub status: MoveStatus,
    /// Who is responsible, if anyone yet.
    pub owner: Option<UserId>,
    /// When it is due, if set.
    pub due_date: Option<DueDate>,
    /// What the move involves, in a sentence or two (missing in documents
    /// written before moves had descriptions).
    #[autosurgeon(missing = "String::new")]
    #[serde(default)]
    pub description: String,
    /// The assets this move produces.
    pub assets: Vec<AssetId>,
    /// When the move was created.
    pub created_at: Timestamp,
}

/// One asset: a piece of copy or a brief, with its review state.
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[serde(deny_unknown_fields)]
pub struct Asset {
    /// The move that produced this asset, if any.
    pub move_id: Option<MoveId>,
    /// The typed content; its variant is the asset's kind.
    pub content: AssetContent,
    /// Where it stands in review.
    pub status: AssetStatus,
    /// What the Guardian guild found when it last checked this asset.
    pub findings: Vec<GuardianFinding>,
    /// When the asset was created.
    pub created_at: Timestamp,
    /// What the reviewer said with the last review status (what to change,
    /// why it was approved); empty when nothing. Missing in documents
    /// written before reviews had notes.
    #[autosurgeon(missing = "String::new")]
    #[serde(default)]
    pub review_note: String,
    /// Where the asset was published (the post's address), once RaptorFlow
    /// published it. Missing in documents written before publishing.
    #[autosurgeon(missing = "Option::default")]
    #[serde(default)]
    pub published_url: Option<String>,
    /// The design made from this asset in a design service (an image
    /// brief's Canva design). Missing in documents written before designs.
    #[autosurgeon(missing = "Option::default")]
    #[serde(default)]
    pub design: Option<ExternalDesign>,
}

/// A design made in a design service from an asset.
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[serde(deny_unknown_fields)]
pub struct ExternalDesign {
    /// The service (`canva`).
    pub service: String,
    /// The design's id there.
    pub id: String,
    /// Where the user edits it (valid for 30 days at Canva; the design
    /// stays in the user's account).
    pub edit_url: String,
    pub view_url: String,
}

/// The typed fields of each asset kind.
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum AssetContent {
    /// Google Ads responsive search ad. `paths` are the display path
    /// segments (missing in documents written before Guardian).
    #[autosurgeon(rename = "google_rsa")]
    GoogleRsa {
        headlines: Vec<String>,
        descriptions: Vec<String>,
        #[autosurgeon(missing = "Vec::new")]
        #[serde(default)]
        paths: Vec<String>,
        final_url: String,
    },
    /// Meta (Facebook/Instagram) ad. `special_ad_category` declares a Meta
    /// Special Ad Category (credit, employment, housing,
    /// issues_elections_politics) when the ad is in one.
    #[autosurgeon(rename = "meta_ad")]
    MetaAd {
        primary_text: String,
        headline: String,
        description: String,
        call_to_action: String,
        #[autosurgeon(missing = "Option::default")]
        #[serde(default)]
        special_ad_category: Option<String>,
    },
    /// LinkedIn sponsored content (single image). `description` is missing in
    /// documents written before Guardian.
    #[autosurgeon(rename = "linkedin_ad")]
    LinkedinAd {
        intro_text: String,
        headline: String,
        #[autosurgeon(missing = "String::new")]
        #[serde(default)]
        description: String,
        call_to_action: String,
    },
    /// A post on X.
    #[autosurgeon(rename = "x_post")]
    XPost { text: String },
    /// An organic LinkedIn post.
    #[autosurgeon(rename = "linkedin_post")]
    LinkedinPost { text: String },
    /// A marketing email.
    #[autosurgeon(rename = "email")]
    Email { subject: String, preheader: String, body: String },
    /// A blog article in Markdown.
    #[autosurgeon(rename = "blog_post")]
    BlogPost { title: String, meta_description: String, body_markdown: String },
    /// A video script as scenes.
    #[autosurgeon(rename = "video_script")]
    VideoScript { title: String, duration_seconds: u64, scenes: Vec<Scene> },
    /// A brief for a designer or an image model.
    #[autosurgeon(rename = "image_brief")]
    ImageBrief { concept: String, aspect_ratio: String, alt_text: String },
}

impl AssetContent {
    /// The kind of asset this content is.
    pub fn kind(&self) -> AssetKind {
        match self {
            AssetContent::GoogleRsa { .. } => AssetKind::GoogleRsa,
            AssetContent::MetaAd { .. } => AssetKind::MetaAd,
            AssetContent::LinkedinAd { .. } => AssetKind::LinkedinAd,
            AssetContent::XPost { .. } => AssetKind::XPost,
            AssetContent::LinkedinPost { .. } => AssetKind::LinkedinPost,
            AssetContent::Email { .. } => AssetKind::Email,
            AssetContent::BlogPost { .. } => AssetKind::BlogPost,
            AssetContent::VideoScript { .. } => AssetKind::VideoScript,
            AssetContent::ImageBrief { .. } => AssetKind::ImageBrief,
        }
    }
}

/// One scene of a video script.
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[serde(deny_unknown_fields)]
pub struct Scene {
    /// What is seen.
    pub visual: String,
    /// What is heard.
    pub voiceover: String,
    /// How long the scene lasts.
    pub seconds: u64,
}

/// One finding of Guardian about an asset.
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[serde(deny_unknown_fields)]
pub struct GuardianFinding {
    /// What kind of rule fired.
    pub category: FindingCategory,
    /// The rule that fired, e.g. `google_ads.headline_length`.
    pub rule: String,
    /// How serious it is.
    pub severity: FindingSeverity,
    /// Which field of the asset it concerns, e.g. `headlines[2]`; empty when
    /// the finding is about the asset as a whole (a missing disclaimer).
    pub field: String,
    /// What is wrong and how to fix it.
    pub message: String,
    /// Where in the field, in characters of its NFC form; none when the
    /// finding is about the field or asset as a whole (a count, a missing
    /// disclaimer).
    pub span: Option<TextSpan>,
}

/// A range of characters `[start, end)` in a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Reconcile, Hydrate, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[cfg_attr(test, derive(proptest_derive::Arbitrary))]
#[serde(deny_unknown_fields)]
pub struct TextSpan {
    pub start: u64,
    pub end: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(amount: &str, expected: Option<i64>) {
        assert_eq!(Budget::parse(amount, "usd").ok().map(|b| b.amount_minor), expected, "{amount}");
    }

    #[test]
    fn budgets_parse_to_minor_units() {
        check("2500", Some(250_000));
        check("2500.5", Some(250_050));
        check("2500.05", Some(250_005));
        check("0.99", Some(99));
        check("-5", None);
        check("1.999", None);
        check("12,50", None);
        check("", None);
        check("99999999999999999999", None);
        assert_eq!(Budget::parse("10", "usd").unwrap().currency, "USD");
        assert!(Budget::parse("10", "dollars").is_err());
    }
}
