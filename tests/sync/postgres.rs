//! The storage backends against real databases: the same contract checked on
//! SQLite and PostgreSQL, and two server instances sharing one PostgreSQL
//! database without losing anything.

mod harness;
mod postgres_db;

use harness::{Client, Server, require_keyring};
use postgres_db::fresh_postgres_database;
use raptorflow_sync::store::{Backend, ChunkOp, StoreError, TokenRow, WorkspaceRow, postgres::PostgresBackend, sqlite::SqliteBackend};
use rf_sync::Role;

fn token_row(id: &str, workspace: &str, user: &str) -> TokenRow {
    TokenRow { token_id: id.into(), workspace_id: workspace.into(), user_name: user.into(), salt: "00".into(), hash: "11".into(), revoked: false, role: None }
}

/// Everything the server relies on its storage for, on any backend.
async fn check_backend_contract<B: Backend>(db: &B, other_handle: &B) {
    // Chunks: put, overwrite (in one group, in order), load, range by
    // document, delete. Writes go in groups, as the server's committer makes.
    let put = |key: &str, data: &[u8]| ChunkOp::Put { key: key.into(), data: data.to_vec() };
    db.chunk_write(&[put("docA/incremental/h1", b"one"), put("docA/incremental/h2", b"two"), put("docA/incremental/h2", b"two again")]).await.unwrap();
    db.chunk_write(&[put("docAB/snapshot/s1", b"neighbour"), put("storage-adapter-id", b"id")]).await.unwrap();
    assert_eq!(db.chunk_load("docA/incremental/h2").await.unwrap().as_deref(), Some(&b"two again"[..]));
    assert_eq!(db.chunk_load("nothing").await.unwrap(), None);
    let mut range = db.chunk_load_range("docA", "docA/", "docA0").await.unwrap();
    range.sort();
    let keys: Vec<&str> = range.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["docA/incremental/h1", "docA/incremental/h2"], "a range must not include docAB");
    let mut many = db.chunk_load_many(&["docA/incremental/h2".into(), "storage-adapter-id".into(), "nothing".into()]).await.unwrap();
    many.sort();
    assert_eq!(many, [("docA/incremental/h2".to_owned(), b"two again".to_vec()), ("storage-adapter-id".to_owned(), b"id".to_vec())]);
    db.chunk_write(&[ChunkOp::Delete { key: "docA/incremental/h1".into() }]).await.unwrap();
    assert_eq!(db.chunk_load_all().await.unwrap().len(), 3);
    // Binary data round-trips exactly.
    let bytes: Vec<u8> = (0..=255).collect();
    db.chunk_write(&[put("docB/incremental/bin", &bytes)]).await.unwrap();
    assert_eq!(db.chunk_load("docB/incremental/bin").await.unwrap(), Some(bytes));

    // Workspaces, members, tokens, and the version that tells servers.
    let v0 = db.access_version().await.unwrap();
    let acme = WorkspaceRow { workspace_id: "w1".into(), name: "Acme".into(), root_document: None };
    db.create_workspace(&acme, 1).await.unwrap();
    let duplicate = WorkspaceRow { workspace_id: "w2".into(), ..acme.clone() };
    assert!(matches!(db.create_workspace(&duplicate, 1).await, Err(StoreError::Conflict(_))));
    assert_eq!(db.find_workspace("Acme").await.unwrap(), Some(acme.clone()));
    assert_eq!(db.find_workspace("w1").await.unwrap(), Some(acme.clone()));
    db.set_member("w1", "alice", Role::Editor, 2).await.unwrap();
    db.set_member("w1", "alice", Role::Owner, 3).await.unwrap();
    assert_eq!(db.member_role("w1", "alice").await.unwrap(), Some(Role::Owner));
    db.insert_token(&token_row("t1", "w1", "alice"), 4).await.unwrap();
    let token = db.token("t1").await.unwrap().unwrap();
    assert_eq!((token.role, token.revoked), (Some(Role::Owner), false));
    assert!(db.access_version().await.unwrap() > v0);
    assert!(db.remove_member("w1", "alice", 5).await.unwrap());
    assert!(!db.remove_member("w1", "alice", 5).await.unwrap());
    let token = db.token("t1").await.unwrap().unwrap();
    assert_eq!((token.role, token.revoked), (None, true), "removing a member revokes their tokens");
    db.insert_token(&token_row("t2", "w1", "bob"), 6).await.unwrap();
    assert!(db.revoke_token("t2", 7).await.unwrap());
    assert!(!db.revoke_token("t2", 7).await.unwrap());
    assert!(!db.revoke_token("missing", 7).await.unwrap());

    // Roots are set once; documents belong to the first workspace that claims them,
    // even when two connections (or two servers) claim at the same time.
    assert_eq!(db.set_root_document("w1", "root1").await.unwrap().as_deref(), Some("root1"));
    assert_eq!(db.set_root_document("w1", "root2").await.unwrap().as_deref(), Some("root1"));
    let other = WorkspaceRow { workspace_id: "w3".into(), name: "Other".into(), root_document: None };
    db.create_workspace(&other, 8).await.unwrap();
    for i in 0..20 {
        let doc = format!("doc{i}");
        let (first, second) = tokio::join!(db.claim_document(&doc, "w1", 9), other_handle.claim_document(&doc, "w3", 9));
        let (first, second) = (first.unwrap(), second.unwrap());
        assert_eq!(first, second, "both claimants must learn the same owner of {doc}");
        assert_eq!(db.document_workspace(&doc).await.unwrap(), Some(first));
    }
    assert_eq!(db.count_documents().await.unwrap(), 20);
    assert_eq!(db.list_workspaces().await.unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_backend_meets_the_storage_contract() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sync.db");
    let db = SqliteBackend::open(path.to_str().unwrap()).await.unwrap();
    let second = SqliteBackend::open(path.to_str().unwrap()).await.unwrap();
    check_backend_contract(&db, &second).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_backend_meets_the_storage_contract() {
    let url = fresh_postgres_database().await;
    // Two pools on one database, as two server instances would have; both
    // starting at once must not trip over the migration.
    let (db, second) = tokio::join!(PostgresBackend::open(&url), PostgresBackend::open(&url));
    check_backend_contract(&db.unwrap(), &second.unwrap()).await;
}

/// The next batch of keys on `feed`, waiting at most 10 s.
async fn next_batch(feed: &mut tokio::sync::mpsc::Receiver<Vec<String>>) -> Vec<String> {
    tokio::time::timeout(std::time::Duration::from_secs(10), feed.recv()).await.expect("a notification within 10 s").expect("the feed is still open")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_announces_a_group_commit_in_few_notifications_and_only_what_it_inserted() {
    let url = fresh_postgres_database().await;
    let (a, b) = tokio::join!(PostgresBackend::open(&url), PostgresBackend::open(&url));
    let (a, b) = (a.unwrap(), b.unwrap());
    let mut feed = b.chunk_feed().await.unwrap().expect("PostgreSQL has a feed");
    let put = |key: String| ChunkOp::Put { data: key.as_bytes().to_vec(), key };

    // 600 chunks in one group commit (keys about 80 bytes, as samod's are):
    // every key arrives, in a handful of notifications, not 600.
    let keys: Vec<String> = (0..600).map(|i| format!("2TnTMPNwDJFtkuSRFZ3QDddcGNpu/incremental/{i:0>48}")).collect();
    a.chunk_write(&keys.iter().cloned().map(put).collect::<Vec<_>>()).await.unwrap();
    let mut heard = Vec::new();
    let mut notifications = 0;
    while heard.len() < keys.len() {
        heard.extend(next_batch(&mut feed).await);
        notifications += 1;
    }
    heard.sort();
    assert_eq!(heard, keys, "every inserted key is announced once");
    assert!(notifications <= 10, "600 keys took {notifications} notifications");

    // Writing the same keys again (an instance re-saving a relayed change)
    // announces nothing; nor do the listening instance's own inserts. The
    // next batch is exactly the next insert by another instance.
    a.chunk_write(&keys[..100].iter().cloned().map(put).collect::<Vec<_>>()).await.unwrap();
    b.chunk_write(&[put("doc/incremental/bs-own".into())]).await.unwrap();
    a.chunk_write(&[put("doc/incremental/marker".into())]).await.unwrap();
    assert_eq!(next_batch(&mut feed).await, ["doc/incremental/marker"]);

    // chunk_load_many returns what exists, across statement boundaries.
    let mut wanted: Vec<String> = keys.iter().step_by(2).cloned().collect();
    wanted.push("doc/incremental/missing".into());
    let mut loaded = b.chunk_load_many(&wanted).await.unwrap();
    loaded.sort();
    assert_eq!(loaded.len(), 300);
    assert!(loaded.iter().all(|(key, data)| data == key.as_bytes()));
}

#[test]
fn two_server_instances_on_one_postgres_database_relay_live_and_lose_nothing() {
    require_keyring();
    let url = tokio::runtime::Runtime::new().unwrap().block_on(fresh_postgres_database());
    let mut a = Server::start_with(Some(&url), &[]);
    let mut b = Server::start_with(Some(&url), &[]);
    a.create_workspace("Acme");
    let alice = Client::new("alice");
    let (workspace, campaign) = alice.workspace_with_campaign("Acme Co");
    alice.join(&a, &a.add_member("Acme", "alice", "owner"), Some(&workspace)).ok();
    let bob = Client::new("bob");
    bob.join(&b, &b.add_member("Acme", "bob", "editor"), None).ok();
    assert_eq!(bob.move_titles(&campaign), Vec::<String>::new(), "bob got the workspace through the other instance");

    // Each writes through a different instance, at the same time.
    std::thread::scope(|scope| {
        scope.spawn(|| {
            for i in 0..5 {
                alice.add_move(&campaign, &format!("alice {i}"));
                alice.sync().ok();
            }
        });
        scope.spawn(|| {
            for i in 0..5 {
                bob.add_move(&campaign, &format!("bob {i}"));
                bob.sync().ok();
            }
        });
    });

    let mut expected: Vec<String> = (0..5).flat_map(|i| [format!("alice {i}"), format!("bob {i}")]).collect();
    expected.sort();

    // Live: each instance relays what the other stores, so both clients get
    // every move while both instances keep running.
    for (client, name) in [(&alice, "alice"), (&bob, "bob")] {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            client.sync().ok();
            let titles = client.move_titles(&campaign);
            if titles == expected {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "{name} never got the other instance's moves live: {titles:?}");
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }
    assert!(a.metric("relayed_chunks_total") + b.metric("relayed_chunks_total") > 0, "the moves came through the relay");
    for server in [&a, &b] {
        let (notifications, keys) = (server.metric("relay_notifications_total"), server.metric("relay_keys_total"));
        assert!(notifications > 0 && keys >= notifications, "{notifications} notifications named {keys} keys");
    }

    // Stop both; a third instance on the same database has every change.
    a.stop();
    b.stop();
    let c = Server::start_with(Some(&url), &[]);
    let carol = Client::new("carol");
    carol.join(&c, &c.add_member("Acme", "carol", "viewer"), None).ok();
    assert_eq!(carol.move_titles(&campaign), expected);
}
