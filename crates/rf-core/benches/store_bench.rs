//! Storage benchmark: workspace open time, sequential durable move adds, and
//! stored bytes against automerge's `save()`. Each figure is printed with its
//! ratio to an anchor measured in the same run on the same machine:
//!
//! - open: loading and hydrating the same 101 documents from in-memory
//!   `save()` bytes with automerge alone (no SQLite, no samod);
//! - adds: single-row SQLite transactions with the same durability settings
//!   (WAL, synchronous=FULL), the floor for any durable write;
//! - bytes: `Automerge::save()` of each document.
//!
//! - lookup miss: `move set-status` of an unknown id in a data directory
//!   with `--lookup-moves` moves (default 100 000), against one primary-key
//!   SELECT on the same file; and the one-time rebuild of the location table
//!   at open, against reading every campaign document.
//!
//! Run: `cargo bench -p rf-core --bench store_bench` (options: `--campaigns N`,
//! `--moves N`, `--adds N`, `--lookup-moves N`).

#![allow(clippy::print_stdout)]

use std::{collections::BTreeMap, str::FromStr, time::Instant};

use rf_core::{
    Core, EXPORT_FORMAT, EXPORT_VERSION, LocalUser, NewMove, WorkspaceExport,
    domain::{
        BrandCodex, Campaign, CampaignEntry, CampaignId, CampaignStatus, Channel, Member, Move, MoveId, MoveStatus, Role, Timestamp, WorkspaceId,
        WorkspaceIndex,
    },
};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn sample_workspace(n_campaigns: usize, n_moves: usize) -> WorkspaceExport {
    let user: rf_core::domain::UserId = "bench".parse().unwrap();
    let workspace_id = WorkspaceId::new();
    let mut index = WorkspaceIndex {
        schema: WorkspaceIndex::SCHEMA,
        id: workspace_id,
        name: "Benchmark workspace".into(),
        created_at: Timestamp::now(),
        members: BTreeMap::from([(user.clone(), Member { display_name: "Bench".into(), role: Role::Owner, joined_at: Timestamp::now() })]),
        brand: BrandCodex::default(),
        campaigns: BTreeMap::new(),
        codex: BTreeMap::new(),
        gamification: BTreeMap::new(),
        digests: BTreeMap::new(),
    };
    let channels = Channel::ALL;
    let mut campaigns = Vec::new();
    for c in 0..n_campaigns {
        let id = CampaignId::new();
        let moves = (0..n_moves)
            .map(|m| {
                (
                    MoveId::new(),
                    Move {
                        title: format!("Move {m} of campaign {c}: write and ship the asset"),
                        channel: channels[m % channels.len()],
                        status: MoveStatus::ALL[m % MoveStatus::ALL.len()],
                        owner: Some(user.clone()),
                        due_date: Some("2026-12-01".parse().unwrap()),
                        description: String::new(),
                        assets: vec![],
                        created_at: Timestamp::now(),
                    },
                )
            })
            .collect();
        let campaign = Campaign {
            schema: Campaign::SCHEMA,
            id,
            workspace_id,
            name: format!("Campaign {c}"),
            goal: "Grow qualified pipeline by 20% this quarter".into(),
            channels: vec![Channel::Email, Channel::Linkedin],
            budget: None,
            status: CampaignStatus::Active,
            created_at: Timestamp::now(),
            start_date: None,
            end_date: None,
            moves,
            assets: BTreeMap::new(),
        };
        index
            .campaigns
            .insert(id, CampaignEntry { name: campaign.name.clone(), status: campaign.status, document: String::new(), created_at: campaign.created_at });
        campaigns.push(campaign);
    }
    WorkspaceExport {
        format: EXPORT_FORMAT.into(),
        version: EXPORT_VERSION,
        exported_at: Timestamp::now(),
        workspace: index,
        campaigns,
        codex_sources: Vec::new(),
    }
}

fn user() -> LocalUser {
    LocalUser { id: "bench".parse().unwrap(), display_name: "Bench".into() }
}

/// Anchor for open: automerge alone loading and hydrating the same documents.
fn anchor_open(export: &WorkspaceExport) -> (f64, u64) {
    let mut saved = Vec::new();
    let mut doc = automerge::AutoCommit::new();
    autosurgeon::reconcile(&mut doc, &export.workspace).unwrap();
    saved.push(doc.save());
    for campaign in &export.campaigns {
        let mut doc = automerge::AutoCommit::new();
        autosurgeon::reconcile(&mut doc, campaign).unwrap();
        saved.push(doc.save());
    }
    let save_bytes = saved.iter().map(|s| s.len() as u64).sum();
    let start = Instant::now();
    let index = automerge::Automerge::load(&saved[0]).unwrap();
    let _: WorkspaceIndex = autosurgeon::hydrate(&index).unwrap();
    for bytes in &saved[1..] {
        let doc = automerge::Automerge::load(bytes).unwrap();
        let _: Campaign = autosurgeon::hydrate(&doc).unwrap();
    }
    (start.elapsed().as_secs_f64() * 1e3, save_bytes)
}

/// Anchor for adds: durable single-row transactions in a SQLite file with the
/// store's settings.
async fn anchor_durable_inserts(dir: &std::path::Path, n: usize) -> f64 {
    let options = SqliteConnectOptions::from_str("sqlite://")
        .unwrap()
        .filename(dir.join("anchor.sqlite3"))
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full);
    let pool = SqlitePoolOptions::new().max_connections(1).connect_with(options).await.unwrap();
    sqlx::query("CREATE TABLE t (key TEXT PRIMARY KEY, data BLOB) WITHOUT ROWID").execute(&pool).await.unwrap();
    let payload = vec![7u8; 200];
    let start = Instant::now();
    for i in 0..n {
        sqlx::query("INSERT INTO t (key, data) VALUES (?, ?)").bind(format!("k{i}")).bind(&payload).execute(&pool).await.unwrap();
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    pool.close().await;
    rate
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n_campaigns = arg("--campaigns", 100);
    let n_moves = arg("--moves", 50);
    let n_adds = arg("--adds", 200);
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");

    let export = sample_workspace(n_campaigns, n_moves);
    let workspace_id = export.workspace.id;
    let first_campaign = export.campaigns[0].id;
    let campaign_ids: Vec<CampaignId> = export.campaigns.iter().map(|c| c.id).collect();
    let (anchor_open_ms, _) = anchor_open(&export);
    {
        let core = Core::open(&data_dir, user()).await.unwrap();
        core.import_workspace(export).await.unwrap();
        core.close().await;
    }

    // Open: a fresh Core opens the data directory and reads the whole
    // workspace (index and every campaign).
    let start = Instant::now();
    let core = Core::open(&data_dir, user()).await.unwrap();
    let index = core.workspace(workspace_id).await.unwrap();
    let mut n_moves_read = 0;
    for campaign_id in &campaign_ids {
        n_moves_read += core.campaign(*campaign_id).await.unwrap().moves.len();
    }
    let open_ms = start.elapsed().as_secs_f64() * 1e3;
    assert_eq!(index.campaigns.len(), n_campaigns);
    assert_eq!(n_moves_read, n_campaigns * n_moves);
    println!(
        "open workspace ({n_campaigns} campaigns x {n_moves} moves): {open_ms:.1} ms; \
         anchor automerge load+hydrate in memory {anchor_open_ms:.1} ms; ratio {:.2}x",
        open_ms / anchor_open_ms
    );

    // Sequential durable adds to one campaign.
    let start = Instant::now();
    for i in 0..n_adds {
        let new = NewMove { title: format!("Added move {i}"), channel: Channel::Email, owner: None, due_date: None };
        core.add_move(first_campaign, new).await.unwrap();
    }
    let adds_per_s = n_adds as f64 / start.elapsed().as_secs_f64();
    let anchor_rate = anchor_durable_inserts(dir.path(), n_adds).await;
    println!("sequential move adds: {adds_per_s:.0}/s; anchor durable SQLite single-row commits {anchor_rate:.0}/s; ratio {:.2}", adds_per_s / anchor_rate);

    // Stored bytes against save() for every document of the workspace.
    let stats = core.workspace_storage(workspace_id).await.unwrap();
    let stored: u64 = stats.iter().map(|s| s.stored_bytes).sum();
    let saved: u64 = stats.iter().map(|s| s.save_bytes).sum();
    let n_chunks: u64 = stats.iter().map(|s| s.n_chunks).sum();
    let busiest = stats.iter().max_by_key(|s| s.stored_bytes).unwrap();
    println!(
        "stored bytes: {stored} in {n_chunks} chunks for {} documents; automerge save() {saved}; ratio {:.3}x \
         (busiest document: {} stored vs {} saved, {} chunks)",
        stats.len(),
        stored as f64 / saved as f64,
        busiest.stored_bytes,
        busiest.save_bytes,
        busiest.n_chunks
    );
    core.close().await;

    lookups(dir.path(), arg("--lookup-moves", 100_000)).await;
}

/// Lookup cost at a large move count: a miss is one query on the location
/// table, whatever the number of moves; the rebuild reads every campaign once.
async fn lookups(dir: &std::path::Path, n_moves: usize) {
    let n_campaigns = 100.min(n_moves.max(1));
    let data_dir = dir.join("lookups");
    let export = sample_workspace(n_campaigns, n_moves / n_campaigns);
    let campaign_ids: Vec<CampaignId> = export.campaigns.iter().map(|c| c.id).collect();
    let known_move = *export.campaigns[0].moves.keys().next().unwrap();
    {
        let core = Core::open(&data_dir, user()).await.unwrap();
        core.import_workspace(export).await.unwrap();
        core.close().await;
    }
    let database = data_dir.join("raptorflow.sqlite3");
    let pool =
        SqlitePoolOptions::new().max_connections(1).connect_with(SqliteConnectOptions::from_str("sqlite://").unwrap().filename(&database)).await.unwrap();

    let core = Core::open(&data_dir, user()).await.unwrap();
    let n_misses = 20;
    let start = Instant::now();
    for _ in 0..n_misses {
        let err = core.set_move_status(MoveId::new(), MoveStatus::Done).await.unwrap_err();
        assert_eq!(err.kind(), rf_core::ErrorKind::NotFound);
    }
    let miss_ms = start.elapsed().as_secs_f64() * 1e3 / f64::from(n_misses);
    let start = Instant::now();
    for _ in 0..n_misses {
        let _: Option<(String,)> =
            sqlx::query_as("SELECT campaign_id FROM entity_locations WHERE entity_id = ?").bind(MoveId::new().to_string()).fetch_optional(&pool).await.unwrap();
    }
    let anchor_ms = start.elapsed().as_secs_f64() * 1e3 / f64::from(n_misses);
    println!("lookup miss with {n_moves} moves: {miss_ms:.3} ms; anchor one primary-key SELECT {anchor_ms:.3} ms; ratio {:.1}x", miss_ms / anchor_ms);
    core.set_move_status(known_move, MoveStatus::Live).await.unwrap();
    core.close().await;

    // The rebuild a data directory gets once when its table may have holes.
    sqlx::query("UPDATE catalog_meta SET value = 'incomplete' WHERE key = 'entity_locations'").execute(&pool).await.unwrap();
    pool.close().await;
    let start = Instant::now();
    let core = Core::open(&data_dir, user()).await.unwrap();
    let rebuild_ms = start.elapsed().as_secs_f64() * 1e3;
    core.close().await;
    let core = Core::open(&data_dir, user()).await.unwrap();
    let start = Instant::now();
    for campaign_id in &campaign_ids {
        core.campaign(*campaign_id).await.unwrap();
    }
    let read_all_ms = start.elapsed().as_secs_f64() * 1e3;
    core.close().await;
    println!(
        "location table rebuild at open ({n_moves} moves): {rebuild_ms:.0} ms; anchor reading every campaign {read_all_ms:.0} ms; ratio {:.2}x",
        rebuild_ms / read_all_ms
    );
}
