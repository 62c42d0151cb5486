//! Idle documents are unloaded and load again on demand (PATCHES.md, 14).
#![cfg(feature = "tokio")]

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use automerge::{Automerge, AutomergeError, ROOT, ReadDoc, transaction::Transactable};
use samod::{
    DocHandle, DocumentId, PeerId, Repo, RepoEvent, RepoObserver, storage::InMemoryStorage,
};
mod tincans;

const IDLE: Duration = Duration::from_millis(300);

/// Counts how often each document was opened and closed.
#[derive(Clone, Default)]
struct Lifecycle(Arc<Mutex<HashMap<DocumentId, (usize, usize)>>>);

impl RepoObserver for Lifecycle {
    fn observe(&self, event: &RepoEvent) {
        let mut counts = self.0.lock().unwrap();
        match event {
            RepoEvent::DocumentOpened { document_id } => {
                counts.entry(document_id.clone()).or_default().0 += 1
            }
            RepoEvent::DocumentClosed { document_id } => {
                counts.entry(document_id.clone()).or_default().1 += 1
            }
            _ => {}
        }
    }
}

impl Lifecycle {
    fn of(&self, document: &DocumentId) -> (usize, usize) {
        self.0
            .lock()
            .unwrap()
            .get(document)
            .copied()
            .unwrap_or_default()
    }

    /// Waits until `document` was closed `closed` times, or panics after 10 s.
    async fn until_closed(&self, document: &DocumentId, closed: usize) {
        for _ in 0..200 {
            if self.of(document).1 >= closed {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "{document} was not unloaded: opened and closed {:?}",
            self.of(document)
        );
    }
}

#[derive(Clone, Copy, Debug)]
enum Runner {
    Async,
    #[cfg(feature = "threadpool")]
    Threadpool,
}

async fn server(runner: Runner, lifecycle: &Lifecycle, storage: InMemoryStorage) -> Repo {
    let builder = Repo::build_tokio()
        .with_peer_id(PeerId::from("server"))
        .with_storage(storage)
        .with_observer(lifecycle.clone())
        .with_idle_unload(IDLE);
    match runner {
        Runner::Async => builder.load().await,
        #[cfg(feature = "threadpool")]
        Runner::Threadpool => {
            builder
                .with_concurrency(samod::ConcurrencyConfig::Threadpool(
                    rayon::ThreadPoolBuilder::new()
                        .num_threads(2)
                        .build()
                        .unwrap(),
                ))
                .load()
                .await
        }
    }
}

fn put(handle: &DocHandle, key: &str, value: i64) {
    handle.with_document(|doc| {
        doc.transact::<_, _, AutomergeError>(|tx| tx.put(ROOT, key, value))
            .unwrap();
    });
}

fn get(handle: &DocHandle, key: &str) -> Option<i64> {
    handle.with_document(|doc| {
        doc.get(ROOT, key)
            .unwrap()
            .and_then(|(value, _)| value.as_scalar().and_then(|s| s.as_i64()))
    })
}

/// Waits until `handle` shows `key` = `value`, or panics after 10 s.
async fn until_value(handle: &DocHandle, key: &str, value: i64, who: &str) {
    for _ in 0..200 {
        if get(handle, key) == Some(value) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "{who} never saw {key} = {value}: it has {:?}",
        get(handle, key)
    );
}

async fn peers_still_sync_through_an_unloaded_document(runner: Runner) {
    let lifecycle = Lifecycle::default();
    let storage = InMemoryStorage::new();
    let server = server(runner, &lifecycle, storage.clone()).await;
    let alice = Repo::build_tokio()
        .with_peer_id(PeerId::from("alice"))
        .load()
        .await;
    let bob = Repo::build_tokio()
        .with_peer_id(PeerId::from("bob"))
        .load()
        .await;
    let _alice_server = tincans::connect_repos(&alice, &server).await;
    let _bob_server = tincans::connect_repos(&bob, &server).await;

    let at_alice = alice.create(Automerge::new()).await.unwrap();
    put(&at_alice, "first", 1);
    let document = at_alice.document_id().clone();
    // The server may answer before alice's announcement reached it: ask
    // until it has it.
    let mut at_bob = None;
    for _ in 0..100 {
        at_bob = bob.find(document.clone()).await.unwrap();
        if at_bob.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let at_bob = at_bob.expect("bob finds it through the server");
    until_value(&at_bob, "first", 1, "bob").await;

    let syncing = |repo: &Repo| {
        repo.connected_peers()
            .0
            .iter()
            .filter(|conn| conn.docs.contains_key(&document))
            .count()
    };
    assert_eq!(syncing(&server), 2, "{runner:?}: both connections sync it");

    // Both peers stay connected; the server holds no handle: it unloads,
    // and its connections no longer list it.
    lifecycle.until_closed(&document, 1).await;
    assert_eq!(
        lifecycle.of(&document),
        (1, 1),
        "{runner:?}: opened once, closed once"
    );
    assert_eq!(
        syncing(&server),
        0,
        "{runner:?}: unloaded, it is synced with nobody"
    );

    // An edit after the unload loads it again, is saved, and reaches the
    // other peer, whose sync state with the server started afresh.
    put(&at_alice, "second", 2);
    until_value(&at_bob, "second", 2, "bob").await;
    put(&at_bob, "third", 3);
    until_value(&at_alice, "third", 3, "alice").await;
    assert_eq!(
        lifecycle.of(&document).0,
        2,
        "{runner:?}: loaded again on demand"
    );
    assert_eq!(
        syncing(&server),
        2,
        "{runner:?}: both connections sync it again"
    );

    // Unloaded again, everything it accepted is in storage.
    lifecycle.until_closed(&document, 2).await;
    let reopened = Repo::build_tokio().with_storage(storage).load().await;
    let stored = reopened
        .find(document.clone())
        .await
        .unwrap()
        .expect("saved");
    for (key, value) in [("first", 1), ("second", 2), ("third", 3)] {
        assert_eq!(
            get(&stored, key),
            Some(value),
            "{runner:?}: {key} in storage"
        );
    }
    for repo in [reopened, alice, bob, server] {
        repo.stop().await;
    }
}

async fn a_document_the_application_holds_stays_loaded(runner: Runner) {
    let lifecycle = Lifecycle::default();
    let server = server(runner, &lifecycle, InMemoryStorage::new()).await;
    let held = server.create(Automerge::new()).await.unwrap();
    put(&held, "key", 1);
    let document = held.document_id().clone();
    let listened = server.create(Automerge::new()).await.unwrap();
    let listened_id = listened.document_id().clone();
    let changes = listened.changes();
    drop(listened);
    let dropped = server.create(Automerge::new()).await.unwrap();
    let dropped_id = dropped.document_id().clone();
    drop(dropped);

    lifecycle.until_closed(&dropped_id, 1).await;
    tokio::time::sleep(IDLE * 3).await;
    assert_eq!(
        lifecycle.of(&document),
        (1, 0),
        "{runner:?}: a held handle keeps it"
    );
    assert_eq!(
        lifecycle.of(&listened_id),
        (1, 0),
        "{runner:?}: a change stream keeps it"
    );
    assert_eq!(get(&held, "key"), Some(1));
    put(&held, "key", 2);

    // Once the handle and the stream are gone, they unload too.
    drop(held);
    drop(changes);
    lifecycle.until_closed(&document, 1).await;
    lifecycle.until_closed(&listened_id, 1).await;
    let found = server
        .find(document.clone())
        .await
        .unwrap()
        .expect("loads again");
    assert_eq!(
        get(&found, "key"),
        Some(2),
        "{runner:?}: the last change was kept"
    );
    assert_eq!(lifecycle.of(&document), (2, 1));
    server.stop().await;
}

#[tokio::test]
async fn peers_still_sync_through_an_unloaded_document_async() {
    peers_still_sync_through_an_unloaded_document(Runner::Async).await;
}

#[tokio::test]
#[cfg(feature = "threadpool")]
async fn peers_still_sync_through_an_unloaded_document_threadpool() {
    peers_still_sync_through_an_unloaded_document(Runner::Threadpool).await;
}

#[tokio::test]
async fn a_document_the_application_holds_stays_loaded_async() {
    a_document_the_application_holds_stays_loaded(Runner::Async).await;
}

#[tokio::test]
#[cfg(feature = "threadpool")]
async fn a_document_the_application_holds_stays_loaded_threadpool() {
    a_document_the_application_holds_stays_loaded(Runner::Threadpool).await;
}

/// Many documents, edited from both sides at random moments around the
/// unload interval, so that edits arrive while documents are being unloaded
/// and loaded again: every edit reaches the other peer and storage.
async fn documents_unloading_under_steady_edits_lose_nothing(runner: Runner) {
    use rand::Rng;
    const DOCS: usize = 12;
    const ROUNDS: usize = 60;
    let lifecycle = Lifecycle::default();
    let storage = InMemoryStorage::new();
    let server = server(runner, &lifecycle, storage.clone()).await;
    let alice = Repo::build_tokio()
        .with_peer_id(PeerId::from("alice"))
        .load()
        .await;
    let bob = Repo::build_tokio()
        .with_peer_id(PeerId::from("bob"))
        .load()
        .await;
    let _alice_server = tincans::connect_repos(&alice, &server).await;
    let _bob_server = tincans::connect_repos(&bob, &server).await;

    let mut at_alice = Vec::new();
    let mut at_bob = Vec::new();
    for i in 0..DOCS {
        let handle = alice.create(Automerge::new()).await.unwrap();
        put(&handle, "created", i as i64);
        let document = handle.document_id().clone();
        let mut found = None;
        for _ in 0..100 {
            found = bob.find(document.clone()).await.unwrap();
            if found.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        at_bob.push(found.expect("bob finds it"));
        at_alice.push(handle);
    }

    // Pauses of up to 0.6 times the idle time over 12 documents: each is
    // edited about once a second, so it is often unloaded in between, and
    // some edits arrive while a sweep is running.
    let mut rng = rand::rng();
    for round in 0..ROUNDS {
        let (doc, side) = (rng.random_range(0..DOCS), rng.random_bool(0.5));
        let (handles, key) = if side {
            (&at_alice, format!("alice {round}"))
        } else {
            (&at_bob, format!("bob {round}"))
        };
        put(&handles[doc], &key, round as i64);
        tokio::time::sleep(IDLE.mul_f64(rng.random_range(0.0..2.5) / 4.0)).await;
    }
    let closed: usize = at_alice
        .iter()
        .map(|h| lifecycle.of(h.document_id()).1)
        .sum();
    assert!(
        closed >= DOCS,
        "{runner:?}: only {closed} unloads happened: the test did not exercise them"
    );

    // Every document ends the same on both peers, with every edit.
    for (a, b) in at_alice.iter().zip(&at_bob) {
        let mut same = false;
        for _ in 0..200 {
            same = a.with_document(|doc| doc.get_heads()) == b.with_document(|doc| doc.get_heads());
            if same {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            same,
            "{runner:?}: {} differs between the peers",
            a.document_id()
        );
    }
    // And the server stored all of it.
    for handle in &at_alice {
        lifecycle.until_closed(handle.document_id(), 1).await;
    }
    let reopened = Repo::build_tokio().with_storage(storage).load().await;
    for handle in &at_alice {
        let stored = reopened
            .find(handle.document_id().clone())
            .await
            .unwrap()
            .expect("stored");
        let want = handle.with_document(|doc| doc.get_heads());
        assert_eq!(
            stored.with_document(|doc| doc.get_heads()),
            want,
            "{runner:?}: the server stored every edit"
        );
    }
    for repo in [reopened, alice, bob, server] {
        repo.stop().await;
    }
}

#[tokio::test]
async fn documents_unloading_under_steady_edits_lose_nothing_async() {
    documents_unloading_under_steady_edits_lose_nothing(Runner::Async).await;
}

#[tokio::test]
#[cfg(feature = "threadpool")]
async fn documents_unloading_under_steady_edits_lose_nothing_threadpool() {
    documents_unloading_under_steady_edits_lose_nothing(Runner::Threadpool).await;
}
