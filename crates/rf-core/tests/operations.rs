//! rf-core operations on a real data directory: validation happens before
//! any write, and every saved change is visible to the next open.

use rf_core::{
    Core, CoreError, ErrorKind, LocalUser, NewCampaign, NewMove,
    domain::{AssetContent, AssetKind, AssetStatus, BrandCodex, Campaign, Channel, MoveId, MoveStatus, TextSpan, Voice, WorkspaceIndex},
};

fn user() -> LocalUser {
    LocalUser { id: "tester".parse().unwrap(), display_name: "Tester".into() }
}

async fn open(dir: &tempfile::TempDir) -> Core {
    Core::open(&dir.path().join("data"), user()).await.unwrap()
}

/// A direct connection to the data directory's database.
async fn database(dir: &tempfile::TempDir) -> sqlx::SqlitePool {
    let db = dir.path().join("data").join("raptorflow.sqlite3");
    sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display())).await.unwrap()
}

/// A workspace "Acme" with one campaign "Launch" holding one email move.
async fn workspace_with_move(core: &Core) -> (WorkspaceIndex, Campaign, MoveId) {
    let ws = core.create_workspace("Acme").await.unwrap();
    let campaign = core.create_campaign(ws.id, NewCampaign { name: "Launch".into(), goal: String::new(), channels: vec![], budget: None }).await.unwrap();
    let (move_id, _) = core.add_move(campaign.id, NewMove { title: "Email".into(), channel: Channel::Email, owner: None, due_date: None }).await.unwrap();
    (ws, campaign, move_id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_megabyte_name_is_refused_and_nothing_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let core = open(&dir).await;
    let err = core.create_workspace(&"n".repeat(1 << 20)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(err.to_string(), "invalid workspace name: must be at most 200 characters, got 1048576");
    assert!(core.list_workspaces().await.unwrap().is_empty());
    core.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn brand_codex_updates_are_validated_and_persist() {
    let dir = tempfile::tempdir().unwrap();
    let core = open(&dir).await;
    let ws = core.create_workspace("Acme").await.unwrap();
    let codex = BrandCodex {
        company: "Acme Analytics".into(),
        offer: "Dashboards for finance teams".into(),
        audiences: vec!["CFOs at 50-500 person SaaS companies".into()],
        voice: Voice { tone: "precise, calm".into(), dos: vec!["show numbers".into()], donts: vec!["hype".into()] },
        banned_terms: vec!["revolutionary".into()],
        required_disclaimers: vec!["Past results do not guarantee future results.".into()],
        disclaimers_by_kind: [(AssetKind::MetaAd, vec!["Capital at risk.".into()])].into(),
        ..BrandCodex::default()
    };
    core.update_brand_codex(ws.id, codex.clone()).await.unwrap();

    let mut bad = codex.clone();
    bad.banned_terms.push("bell\u{7}".into());
    let err = core.update_brand_codex(ws.id, bad).await.unwrap_err();
    assert!(matches!(err, CoreError::Invalid(_)), "{err}");
    assert!(err.to_string().contains("brand banned term"), "{err}");
    core.close().await;

    let core = open(&dir).await;
    assert_eq!(core.workspace(ws.id).await.unwrap().brand, codex);
    core.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assets_attach_to_moves_and_unknown_moves_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let core = open(&dir).await;
    let ws = core.create_workspace("Acme").await.unwrap();
    let campaign =
        core.create_campaign(ws.id, NewCampaign { name: "Launch".into(), goal: "demos".into(), channels: vec![Channel::X], budget: None }).await.unwrap();
    let (move_id, _) = core.add_move(campaign.id, NewMove { title: "Thread".into(), channel: Channel::X, owner: None, due_date: None }).await.unwrap();
    let content = AssetContent::XPost { text: "We shipped dashboards your CFO will read.".into() };
    let asset_id = core.add_asset(campaign.id, Some(move_id), content.clone()).await.unwrap();

    let before = core.campaign(campaign.id).await.unwrap();
    assert_eq!(before.moves[&move_id].assets, vec![asset_id]);
    assert_eq!(before.assets[&asset_id].content, content);

    let err = core.add_asset(campaign.id, Some(MoveId::new()), content).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(core.campaign(campaign.id).await.unwrap(), before);

    let err = core.set_move_status(MoveId::new(), MoveStatus::Done).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    core.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assets_are_checked_by_guardian_when_written_and_blocked_ones_cannot_be_approved() {
    let dir = tempfile::tempdir().unwrap();
    let core = open(&dir).await;
    let ws = core.create_workspace("Acme").await.unwrap();
    let codex = BrandCodex { banned_terms: vec!["cheap".into()], ..BrandCodex::default() };
    core.update_brand_codex(ws.id, codex).await.unwrap();
    let campaign =
        core.create_campaign(ws.id, NewCampaign { name: "Loans".into(), goal: String::new(), channels: vec![Channel::MetaAds], budget: None }).await.unwrap();
    let content = AssetContent::MetaAd {
        primary_text: "Cheap car loans, approved in a day.".into(),
        headline: "Car loans in a day".into(),
        description: "Apply online".into(),
        call_to_action: "Apply now".into(),
        special_ad_category: None,
    };
    // Checking content that is not stored (the editor, as the user types)
    // gives the findings the stored asset gets, and stores nothing.
    let before = core.campaign(campaign.id).await.unwrap();
    let draft = core.check_content(ws.id, &content).await.unwrap();
    assert_eq!(draft.verdict, rf_core::guardian::Verdict::Block);
    assert_eq!(core.campaign(campaign.id).await.unwrap(), before);
    let err = core.check_content(rf_core::domain::WorkspaceId::new(), &content).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);

    let asset_id = core.add_asset(campaign.id, None, content).await.unwrap();
    let stored = core.campaign(campaign.id).await.unwrap().assets[&asset_id].clone();
    assert_eq!(draft.findings, stored.findings);
    let rules: Vec<&str> = stored.findings.iter().map(|f| f.rule.as_str()).collect();
    assert_eq!(rules, ["meta.special_ad_category_credit", "brand.banned_term"], "{:#?}", stored.findings);
    assert_eq!(stored.findings[1].span, Some(TextSpan { start: 0, end: 5 }));

    let err = core.set_asset_status(asset_id, AssetStatus::Approved).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert!(err.to_string().contains("[brand.banned_term] primary_text:"), "{err}");
    assert_eq!(core.campaign(campaign.id).await.unwrap().assets[&asset_id].status, AssetStatus::Draft);
    // Review is not approval: it goes through with the findings on the asset.
    let (_, asset) = core.set_asset_status(asset_id, AssetStatus::InReview).await.unwrap();
    assert_eq!(asset.status, AssetStatus::InReview);
    assert_eq!(asset.findings.len(), 2);
    // A review note is kept with the status; a refused approval and a bad
    // note change nothing.
    let (_, asset) = core.review_asset(asset_id, AssetStatus::ChangesRequested, Some("Say 'affordable', not 'cheap'.")).await.unwrap();
    assert_eq!((asset.status, asset.review_note.as_str()), (AssetStatus::ChangesRequested, "Say 'affordable', not 'cheap'."));
    let err = core.review_asset(asset_id, AssetStatus::Approved, Some("Looks good")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    let err = core.review_asset(asset_id, AssetStatus::InReview, Some("bad \u{7} note")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let stored = core.campaign(campaign.id).await.unwrap().assets[&asset_id].clone();
    assert_eq!((stored.status, stored.review_note.as_str()), (AssetStatus::ChangesRequested, "Say 'affordable', not 'cheap'."));

    // An unknown asset changes nothing.
    let err = core.set_asset_status(rf_core::domain::AssetId::new(), AssetStatus::Approved).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    core.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moves_are_found_by_id_even_when_the_location_cache_is_empty() {
    let dir = tempfile::tempdir().unwrap();
    let core = open(&dir).await;
    let (_, campaign, move_id) = workspace_with_move(&core).await;
    core.close().await;

    // The table is derived data: wipe it and mark it incomplete, as in a data
    // directory from before it was authoritative or after a sync that
    // crashed before re-indexing. The next open rebuilds it.
    let pool = database(&dir).await;
    let wiped = sqlx::query("DELETE FROM entity_locations").execute(&pool).await.unwrap().rows_affected();
    assert!(wiped >= 2, "the table held the campaign and the move");
    sqlx::query("UPDATE catalog_meta SET value = 'incomplete' WHERE key = 'entity_locations'").execute(&pool).await.unwrap();
    pool.close().await;

    let core = open(&dir).await;
    let (found_campaign, updated) = core.set_move_status(move_id, MoveStatus::Live).await.unwrap();
    assert_eq!(found_campaign, campaign.id);
    assert_eq!(updated.status, MoveStatus::Live);
    assert_eq!(core.campaign(campaign.id).await.unwrap().moves[&move_id].status, MoveStatus::Live);
    core.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lookup_miss_reads_no_document() {
    let dir = tempfile::tempdir().unwrap();
    let core = open(&dir).await;
    workspace_with_move(&core).await;
    core.close().await;

    // Make every document unreadable: a lookup that reads any document now
    // fails with a storage error instead of answering "not found".
    let pool = database(&dir).await;
    let n_chunks = sqlx::query("DELETE FROM samod_chunks").execute(&pool).await.unwrap().rows_affected();
    assert!(n_chunks > 0);
    pool.close().await;

    let core = open(&dir).await;
    let unknown_move = MoveId::new();
    let err = core.set_move_status(unknown_move, MoveStatus::Done).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert!(err.to_string().contains(&unknown_move.to_string()), "{err}");
    let err = core.check_asset(rf_core::domain::AssetId::new()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    core.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imported_moves_are_found_without_a_rebuild() {
    let source_dir = tempfile::tempdir().unwrap();
    let source = open(&source_dir).await;
    let (ws, campaign, move_id) = workspace_with_move(&source).await;
    let export = source.export_workspace(ws.id).await.unwrap();
    source.close().await;

    let target_dir = tempfile::tempdir().unwrap();
    let target = open(&target_dir).await;
    target.import_workspace(export).await.unwrap();
    target.close().await;
    let pool = database(&target_dir).await;
    let state: String = sqlx::query_scalar("SELECT value FROM catalog_meta WHERE key = 'entity_locations'").fetch_one(&pool).await.unwrap();
    assert_eq!(state, "complete", "an import that finished leaves the table complete");
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM entity_locations WHERE entity_id = ?").bind(move_id.to_string()).fetch_one(&pool).await.unwrap();
    assert_eq!(n, 1, "the import recorded the move");
    pool.close().await;
    let target = open(&target_dir).await;
    let (found, _) = target.set_move_status(move_id, MoveStatus::Live).await.unwrap();
    assert_eq!(found, campaign.id);
    target.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_workspace_does_not_stop_the_rebuild_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let core = open(&dir).await;
    core.create_workspace("Acme").await.unwrap();
    core.close().await;

    // The table needs a rebuild, and the workspace's documents are gone.
    let pool = database(&dir).await;
    sqlx::query("DELETE FROM samod_chunks").execute(&pool).await.unwrap();
    sqlx::query("UPDATE catalog_meta SET value = 'incomplete' WHERE key = 'entity_locations'").execute(&pool).await.unwrap();
    pool.close().await;

    let core = open(&dir).await;
    let err = core.set_move_status(MoveId::new(), MoveStatus::Done).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    core.close().await;
    let pool = database(&dir).await;
    let state: String = sqlx::query_scalar("SELECT value FROM catalog_meta WHERE key = 'entity_locations'").fetch_one(&pool).await.unwrap();
    assert_eq!(state, "incomplete", "the next open tries again");
    pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imports_reusing_a_campaign_or_codex_source_id_are_refused_and_write_nothing() {
    use rf_core::domain::{CampaignId, CodexEntry, CodexSource, SourceId, Timestamp, WorkspaceId};

    let source_dir = tempfile::tempdir().unwrap();
    let source = open(&source_dir).await;
    let ws = source.create_workspace("Acme").await.unwrap();
    source.create_campaign(ws.id, NewCampaign { name: "Launch".into(), goal: String::new(), channels: vec![], budget: None }).await.unwrap();
    let mut export = source.export_workspace(ws.id).await.unwrap();
    source.close().await;
    let codex_source = CodexSource {
        schema: CodexSource::SCHEMA,
        id: SourceId::new(),
        workspace_id: ws.id,
        path: "brief.md".into(),
        title: "Brief".into(),
        media_type: "text/markdown".into(),
        content_hash: "0".repeat(64),
        imported_by: "tester".parse().unwrap(),
        imported_at: Timestamp::now(),
        text: "Our brand in one line.".into(),
    };
    export.workspace.codex.insert(
        codex_source.id,
        CodexEntry {
            document: String::new(),
            path: codex_source.path.clone(),
            title: codex_source.title.clone(),
            media_type: codex_source.media_type.clone(),
            content_hash: codex_source.content_hash.clone(),
            n_chars: 22,
            imported_at: codex_source.imported_at,
        },
    );
    export.codex_sources.push(codex_source.clone());

    let target_dir = tempfile::tempdir().unwrap();
    let target = open(&target_dir).await;
    target.import_workspace(export.clone()).await.unwrap();

    // Another workspace id, and every id moved to it, but `keep` kept.
    let moved = |keep_campaign: bool, keep_source: bool| {
        let mut other = export.clone();
        let new_ws = WorkspaceId::new();
        other.workspace.id = new_ws;
        for campaign in &mut other.campaigns {
            campaign.workspace_id = new_ws;
            if !keep_campaign {
                let entry = other.workspace.campaigns.remove(&campaign.id).unwrap();
                campaign.id = CampaignId::new();
                other.workspace.campaigns.insert(campaign.id, entry);
            }
        }
        for source in &mut other.codex_sources {
            source.workspace_id = new_ws;
            if !keep_source {
                let entry = other.workspace.codex.remove(&source.id).unwrap();
                source.id = SourceId::new();
                other.workspace.codex.insert(source.id, entry);
            }
        }
        other
    };
    let err = target.import_workspace(moved(true, false)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    let message = err.to_string();
    assert!(message.contains("the campaign id") && message.contains(&format!("workspace {}", ws.id)), "{message}");
    let err = target.import_workspace(moved(false, true)).await.unwrap_err();
    let message = err.to_string();
    assert!(message.contains(&format!("the codex source id {}", codex_source.id)) && message.contains(&ws.id.to_string()), "{message}");
    assert_eq!(target.list_workspaces().await.unwrap().len(), 1, "nothing was imported");
    // With every id new, the same content imports.
    target.import_workspace(moved(false, false)).await.unwrap();
    assert_eq!(target.list_workspaces().await.unwrap().len(), 2);
    target.close().await;
}
