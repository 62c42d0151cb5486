//! RaptorFlow's document model: the workspace index document and the campaign
//! document, as plain Rust types that autosurgeon reconciles into Automerge.
//!
//! Nothing here does I/O. Every type serialises to JSON with serde (for export,
//! import and `--json` output) and to Automerge with autosurgeon; both shapes use
//! the same snake_case names so the two views of a document read alike.

/// Serde for a type written as its `Display` text and read back with its
/// `FromStr`, so a bad value is refused with `FromStr`'s message: the ids,
/// closed sets and dates here, and rf-ai's model and provider names.
#[macro_export]
macro_rules! serde_as_text {
    ($name:ty) => {
        impl $crate::__serde::Serialize for $name {
            fn serialize<S: $crate::__serde::Serializer>(&self, s: S) -> ::std::result::Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> $crate::__serde::Deserialize<'de> for $name {
            fn deserialize<D: $crate::__serde::Deserializer<'de>>(d: D) -> ::std::result::Result<Self, D::Error> {
                let s = <::std::borrow::Cow<'de, str> as $crate::__serde::Deserialize<'de>>::deserialize(d)?;
                s.parse().map_err(<D::Error as $crate::__serde::de::Error>::custom)
            }
        }
    };
}

#[doc(hidden)]
pub use serde as __serde;

mod business;
mod campaign;
mod codex;
pub mod edit;
mod error;
mod ids;
mod text;
mod time;
mod workspace;

pub use business::{Business, INTAKE_CHANNELS, IntakeError, MAX_BUSINESS_LIST, MAX_BUSINESS_TEXT_CHARS, Product};
pub use campaign::{
    Asset, AssetContent, AssetKind, AssetStatus, Budget, Campaign, CampaignStatus, Channel, ExternalDesign, FindingCategory, FindingSeverity, GuardianFinding,
    Move, MoveStatus, Scene, TextSpan,
};
pub use codex::{CodexEntry, CodexSource};
pub use error::{DomainError, Result, error_chain};
pub use ids::{AgentId, AssetId, CampaignId, MoveId, RunId, SourceId, UserId, WorkspaceId};
pub use text::{
    MAX_NAME_CHARS, MAX_TEXT_CHARS, escape_for_display, first_control_char_in_text, is_unsafe_char, replace_unsafe_chars, validate_name, validate_text,
};
pub use time::{DueDate, Timestamp, civil_from_days};
pub use workspace::{BrandCodex, CampaignEntry, Digest, DigestAction, DigestChange, DigestSource, Member, MemberStats, Role, Voice, WorkspaceIndex};

/// Implements `as_str`, `Display`, `FromStr` (with an error that lists every
/// allowed value), serde, and autosurgeon's string representation for a
/// field-less enum, from one table of variant names.
///
/// `as Name` after the field names the type differently in the desktop
/// app's TypeScript, where `Channel` is taken by Tauri.
macro_rules! string_enum {
    // specta reads names from serde attributes, which the hand-written serde
    // below has none of: a shadow enum with the same variants and wire names
    // describes the type (`"draft" | "active" | ...`), under its own name or
    // the one given with `as`.
    (@specta $name:ident [] $($variant:ident => $text:literal),+) => {
        string_enum!(@specta $name [$name] $($variant => $text),+);
    };
    (@specta $name:ident [$ts:ident] $($variant:ident => $text:literal),+) => {
        #[cfg(feature = "specta")]
        const _: () = {
            #[derive(serde::Serialize, specta::Type)]
            #[specta(remote = self::$name)]
            #[allow(dead_code)]
            enum $ts { $(#[serde(rename = $text)] $variant),+ }
        };
    };
    ($(#[$meta:meta])* $vis:vis enum $name:ident ($field:literal) $(as $ts:ident)? { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[cfg_attr(test, derive(proptest_derive::Arbitrary))]
        $vis enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The name of the field this enum fills, used in error messages.
            pub const FIELD: &'static str = $field;

            /// The wire name of this value (snake_case).
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// The allowed wire names, comma separated, for error messages.
            pub fn allowed() -> String {
                Self::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::DomainError;
            fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err($crate::DomainError::UnknownValue {
                        field: $field,
                        value: s.to_string(),
                        allowed: Self::allowed(),
                    }),
                }
            }
        }

        $crate::serde_as_text!($name);

        string_enum!(@specta $name [$($ts)?] $($variant => $text),+);

        impl autosurgeon::Reconcile for $name {
            type Key<'a> = autosurgeon::reconcile::NoKey;
            fn reconcile<R: autosurgeon::Reconciler>(&self, mut r: R) -> std::result::Result<(), R::Error> {
                r.str(self.as_str())
            }
        }

        impl autosurgeon::Hydrate for $name {
            fn hydrate_string(s: &str) -> std::result::Result<Self, autosurgeon::HydrateError> {
                s.parse().map_err(|_| autosurgeon::HydrateError::unexpected(
                    concat!("a ", $field, " (", $(" ", $text),+, " )"),
                    s.to_string(),
                ))
            }
        }
    };
}
pub(crate) use string_enum;

#[cfg(test)]
mod round_trip_tests {
    //! Every document type survives reconcile → hydrate, both into a fresh
    //! document and over an existing one (the path every edit takes), and
    //! survives JSON (the path export and import take).

    use std::fmt::Debug;

    use autosurgeon::{Hydrate, Reconcile};
    use proptest::prelude::*;

    use super::*;

    /// `value` as a document written before its field `key` existed reads
    /// back: reconciled, `key` deleted from the root, hydrated.
    fn hydrated_without<T: Reconcile + Hydrate>(value: &T, key: &str) -> T {
        use automerge::transaction::Transactable;
        let mut doc = automerge::AutoCommit::new();
        autosurgeon::reconcile(&mut doc, value).unwrap();
        doc.delete(automerge::ROOT, key).unwrap();
        autosurgeon::hydrate(&doc).unwrap()
    }

    fn check_round_trip<T>(first: &T, second: &T)
    where
        T: Reconcile + Hydrate + PartialEq + Debug + serde::Serialize + serde::de::DeserializeOwned,
    {
        let mut doc = automerge::AutoCommit::new();
        autosurgeon::reconcile(&mut doc, first).unwrap();
        let hydrated: T = autosurgeon::hydrate(&doc).unwrap();
        assert_eq!(&hydrated, first);

        // Reconciling a different value over the same document must leave
        // exactly that value behind: no stale keys, no lost fields.
        autosurgeon::reconcile(&mut doc, second).unwrap();
        let hydrated: T = autosurgeon::hydrate(&doc).unwrap();
        assert_eq!(&hydrated, second);

        // Saving and loading the document changes nothing either.
        let reloaded = automerge::AutoCommit::load(&doc.save()).unwrap();
        let hydrated: T = autosurgeon::hydrate(&reloaded).unwrap();
        assert_eq!(&hydrated, second);

        let json = serde_json::to_string(first).unwrap();
        let from_json: T = serde_json::from_str(&json).unwrap();
        assert_eq!(&from_json, first);
    }

    // The document roots get hand-written strategies with small maps: derived
    // ones would build maps of up to a hundred moves, each case taking seconds.
    fn small_map<K: Arbitrary + Ord, V: Arbitrary>() -> impl Strategy<Value = std::collections::BTreeMap<K, V>> {
        proptest::collection::btree_map(any::<K>(), any::<V>(), 0..4)
    }

    prop_compose! {
        fn workspace_index()(
            schema: u64, id: WorkspaceId, name: String, created_at: Timestamp,
            members in small_map::<UserId, Member>(), brand: BrandCodex,
            campaigns in small_map::<CampaignId, CampaignEntry>(),
            gamification in small_map::<UserId, MemberStats>(),
            codex in small_map::<SourceId, CodexEntry>(),
            digests in small_map::<RunId, Digest>(),
        ) -> WorkspaceIndex {
            WorkspaceIndex { schema, id, name, created_at, members, brand, campaigns, gamification, codex, digests }
        }
    }

    prop_compose! {
        fn campaign()(
            schema: u64, id: CampaignId, workspace_id: WorkspaceId, name: String, goal: String,
            channels: Vec<Channel>, budget: Option<Budget>, status: CampaignStatus, created_at: Timestamp,
            start_date: Option<DueDate>, end_date: Option<DueDate>,
            moves in small_map::<MoveId, Move>(), assets in small_map::<AssetId, Asset>(),
        ) -> Campaign {
            Campaign { schema, id, workspace_id, name, goal, channels, budget, status, created_at, start_date, end_date, moves, assets }
        }
    }

    proptest! {
        // Small collections keep each case fast; many cases find the odd shapes.
        #![proptest_config(ProptestConfig { cases: 64, max_default_size_range: 6, ..ProptestConfig::default() })]

        #[test]
        fn workspace_index_round_trips(a in workspace_index(), b in workspace_index()) {
            check_round_trip(&a, &b);
        }

        #[test]
        fn campaign_round_trips(a in campaign(), b in campaign()) {
            check_round_trip(&a, &b);
        }

        #[test]
        fn asset_round_trips(a: Asset, b: Asset) {
            check_round_trip(&a, &b);
        }

        #[test]
        fn brand_codex_round_trips(a: BrandCodex, b: BrandCodex) {
            check_round_trip(&a, &b);
        }

        #[test]
        fn codex_source_round_trips(a: CodexSource, b: CodexSource) {
            check_round_trip(&a, &b);
        }

        #[test]
        fn an_index_written_before_the_codex_reads_with_an_empty_codex(a in workspace_index()) {
            let hydrated = hydrated_without(&a, "codex");
            prop_assert!(hydrated.codex.is_empty());
            prop_assert_eq!(hydrated.campaigns, a.campaigns);
        }

        #[test]
        fn a_brand_codex_written_before_guardian_reads_with_no_kind_disclaimers(a: BrandCodex) {
            let hydrated = hydrated_without(&a, "disclaimers_by_kind");
            prop_assert!(hydrated.disclaimers_by_kind.is_empty());
            prop_assert_eq!(hydrated.banned_terms, a.banned_terms);
        }
    }

    /// Ad contents stored before Guardian lack the fields it added; they
    /// read with empty values.
    #[test]
    fn ad_contents_written_before_guardian_read_with_defaults() {
        use automerge::{ReadDoc, transaction::Transactable};

        let contents = [
            (
                AssetContent::GoogleRsa { headlines: vec!["h".into()], descriptions: vec![], paths: vec!["p".into()], final_url: "u".into() },
                "google_rsa",
                "paths",
            ),
            (
                AssetContent::MetaAd {
                    primary_text: "t".into(),
                    headline: "h".into(),
                    description: "d".into(),
                    call_to_action: "c".into(),
                    special_ad_category: Some("credit".into()),
                },
                "meta_ad",
                "special_ad_category",
            ),
            (
                AssetContent::LinkedinAd { intro_text: "i".into(), headline: "h".into(), description: "d".into(), call_to_action: "c".into() },
                "linkedin_ad",
                "description",
            ),
        ];
        for (content, variant, added) in contents {
            let mut doc = automerge::AutoCommit::new();
            autosurgeon::reconcile_prop(&mut doc, automerge::ROOT, "content", &content).unwrap();
            let (_, content_obj) = doc.get(automerge::ROOT, "content").unwrap().unwrap();
            let (_, fields) = doc.get(&content_obj, variant).unwrap().unwrap();
            doc.delete(&fields, added).unwrap();
            let hydrated: AssetContent = autosurgeon::hydrate_prop(&doc, automerge::ROOT, "content").unwrap();
            match hydrated {
                AssetContent::GoogleRsa { paths, headlines, .. } => assert!(paths.is_empty() && headlines == ["h"]),
                AssetContent::MetaAd { special_ad_category, headline, .. } => assert!(special_ad_category.is_none() && headline == "h"),
                AssetContent::LinkedinAd { description, intro_text, .. } => assert!(description.is_empty() && intro_text == "i"),
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    #[test]
    fn concurrent_edits_of_one_move_keep_both_fields() {
        let move_id = MoveId::new();
        let mut campaign = Campaign {
            schema: Campaign::SCHEMA,
            id: CampaignId::new(),
            workspace_id: WorkspaceId::new(),
            name: "Spring launch".into(),
            goal: "200 demo requests".into(),
            channels: vec![Channel::Linkedin],
            budget: None,
            status: CampaignStatus::Active,
            created_at: Timestamp(1),
            start_date: None,
            end_date: None,
            moves: Default::default(),
            assets: Default::default(),
        };
        campaign.moves.insert(
            move_id,
            Move {
                title: "Webinar invite".into(),
                channel: Channel::Email,
                status: MoveStatus::Planned,
                owner: None,
                due_date: None,
                description: String::new(),
                assets: vec![],
                created_at: Timestamp(2),
            },
        );
        let mut doc_a = automerge::AutoCommit::new();
        autosurgeon::reconcile(&mut doc_a, &campaign).unwrap();
        let mut doc_b = doc_a.fork().with_actor(automerge::ActorId::random());

        let mut edit_a = campaign.clone();
        edit_a.moves.get_mut(&move_id).unwrap().status = MoveStatus::InProgress;
        autosurgeon::reconcile(&mut doc_a, &edit_a).unwrap();

        let mut edit_b = campaign.clone();
        edit_b.moves.get_mut(&move_id).unwrap().due_date = Some("2026-12-01".parse().unwrap());
        autosurgeon::reconcile(&mut doc_b, &edit_b).unwrap();

        doc_a.merge(&mut doc_b).unwrap();
        let merged: Campaign = autosurgeon::hydrate(&doc_a).unwrap();
        let merged_move = &merged.moves[&move_id];
        assert_eq!(merged_move.status, MoveStatus::InProgress);
        assert_eq!(merged_move.due_date.as_ref().map(DueDate::as_str), Some("2026-12-01"));
    }

    #[test]
    fn unknown_enum_values_list_the_allowed_ones() {
        let err = "finished".parse::<MoveStatus>().unwrap_err();
        assert_eq!(err.to_string(), "invalid move status 'finished': allowed values are planned, in_progress, review, approved, live, done");
    }
}
