//! Sync benchmark: `raptorflow-sync` side by side with the reference Node
//! automerge-repo 2.x server, measured in the same run with the same Rust
//! (samod) clients, reported as figures and as ratios to the Node server.
//!
//! - edit propagation writer → server → reader, p50/p95, with 10, 100 and
//!   1,000 peers connected to the same document;
//! - convergence of 50 editors × 100 changes, from the last edit;
//! - cold clone of a 10,000-document workspace by a fresh client;
//! - 1,000 peers spread over 100 workspaces (a hosted server's shape): all
//!   100 writers edit at once, propagation to a reader in each;
//! - (ours only) changes per second the server commits while 50 clients
//!   edit their own documents, on SQLite and, with `SYNC_BENCH_POSTGRES` set
//!   to an admin URL (scripts/test-services.sh sets one), on PostgreSQL;
//! - (ours only) the server's memory while one client sends changes as fast
//!   as the server reads them;
//! - (ours only) the server's memory over three cold clones of new
//!   documents, each followed by the clients leaving, with idle documents
//!   unloaded, against the same run with unloading off
//!   (`SYNC_BENCH_UNLOAD_SECS`, default 5).
//!
//! Run: `cargo build --release -p raptorflow-sync && npm ci --prefix tests/interop &&
//!       cargo bench -p raptorflow-tests --bench sync_bench`
//! Sizes can be cut with `SYNC_BENCH_PEERS=10,100 SYNC_BENCH_DOCS=1000`;
//! `SYNC_BENCH_SKIP=propagation,convergence,clone,spread,commit,unload,flood` leaves parts out
//! (`node-clone` only Node's clone);
//! `SYNC_BENCH_FLOOD=SECONDS,KIB` sizes the flood (default 20 s of 64 KiB changes);
//! `SYNC_BENCH_SERVER=PATH` runs another raptorflow-sync build as ours;
//! `SYNC_BENCH_CONVERGENCE_LIMIT` (s, default 300) bounds the convergence wait.

#![allow(clippy::print_stdout, clippy::print_stderr)]

#[path = "../sync/harness.rs"]
mod harness;
#[path = "../sync/raw_peer.rs"]
mod raw_peer;

use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use automerge::{ReadDoc, transaction::Transactable};
use futures::StreamExt;
use rf_sync::{BearerDialer, SyncToken};
use samod::{BackoffConfig, ConnectionId, DialerHandle, DocHandle, DocumentId, PeerId, Repo};

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned()
}

/// A server under test: its WebSocket URL and a token it accepts.
struct Target {
    url: url::Url,
    token: SyncToken,
    /// One owner token per workspace (ours); `token` is the first.
    tokens: Vec<SyncToken>,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn first_line(child: &mut Child) -> String {
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    line.trim().to_owned()
}

fn start_ours() -> Target {
    start_ours_on(None, 1)
}

/// Our server on `db` (default: SQLite in a temporary directory) with
/// `n_workspaces` workspaces and an owner token for each.
fn start_ours_on(db: Option<String>, n_workspaces: usize) -> Target {
    start_ours_with(db, n_workspaces, &[])
}

/// [`start_ours_on`] with extra `RAPTORFLOW_SYNC_*` settings.
fn start_ours_with(db: Option<String>, n_workspaces: usize, env: &[(&str, &str)]) -> Target {
    let dir = tempfile::tempdir().unwrap();
    let target_dir = std::env::var("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|_| workspace_root().join("target"));
    // SYNC_BENCH_SERVER compares another build (e.g. an older commit's).
    let bin = std::env::var_os("SYNC_BENCH_SERVER").map_or_else(|| target_dir.join("release/raptorflow-sync"), PathBuf::from);
    assert!(bin.exists(), "{} is missing: run `cargo build --release -p raptorflow-sync` first", bin.display());
    let db = db.unwrap_or_else(|| format!("sqlite://{}", dir.path().join("sync.db").display()));
    let admin = |args: &[&str]| {
        let output = Command::new(&bin).args(["--db", &db, "admin"]).args(args).output().unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap()
    };
    let tokens: Vec<SyncToken> = (0..n_workspaces)
        .map(|i| {
            let name = if i == 0 { "Bench".to_owned() } else { format!("Bench {i}") };
            admin(&["workspace", "create", &name]);
            SyncToken::parse(&admin(&["member", "add", "--workspace", &name, "--user", "bench", "--role", "owner"])).unwrap()
        })
        .collect();
    let token = tokens[0].clone();
    let mut child = Command::new(&bin)
        .args(["--db", &db, "serve", "--listen", "127.0.0.1:0"])
        // The benchmark is one token with many peers; lift the per-token rate limit.
        .env("RAPTORFLOW_SYNC_MESSAGES_PER_SECOND", "10000000")
        .env("RAPTORFLOW_SYNC_LOG", std::env::var("RAPTORFLOW_SYNC_LOG").unwrap_or_else(|_| "warn".into()))
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let line = first_line(&mut child);
    let address = line.strip_prefix("listening on ").unwrap();
    Target { url: url::Url::parse(&format!("ws://{address}/sync")).unwrap(), token, tokens, child, _dir: dir }
}

fn start_node() -> Target {
    let dir = workspace_root().join("tests/interop");
    assert!(dir.join("node_modules").exists(), "run `npm ci --prefix tests/interop` first");
    let mut child =
        Command::new("node").args(["node_server.mjs", "--port", "0"]).current_dir(&dir).stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().unwrap();
    let line = first_line(&mut child);
    let port = line.strip_prefix("listening ").unwrap();
    let tokens = (0..100).map(|_| SyncToken::generate()).collect::<Vec<_>>();
    Target { url: url::Url::parse(&format!("ws://127.0.0.1:{port}")).unwrap(), token: tokens[0].clone(), tokens, child, _dir: tempfile::tempdir().unwrap() }
}

/// One client: a samod repo connected to the target.
struct Peer {
    repo: Repo,
    dialer: DialerHandle<rf_sync::Refused>,
    connection: ConnectionId,
}

async fn peer(target: &Target, name: String) -> Peer {
    peer_with(target, name, &target.token).await
}

async fn peer_with(target: &Target, name: String, token: &SyncToken) -> Peer {
    let repo = Repo::build_tokio().with_peer_id(PeerId::from(format!("bench/{name}"))).load().await;
    let dialer = repo.dial(BackoffConfig::default(), Arc::new(BearerDialer::new(target.url.clone(), token.clone()))).unwrap();
    tokio::time::timeout(Duration::from_secs(60), dialer.established()).await.expect("connect in time").expect("connected");
    let connection = dialer.connection_id().unwrap();
    Peer { repo, dialer, connection }
}

async fn peers(target: &Target, n: usize, prefix: &str) -> Vec<Peer> {
    let mut all = Vec::with_capacity(n);
    for chunk in (0..n).collect::<Vec<_>>().chunks(50) {
        let batch = futures::future::join_all(chunk.iter().map(|i| peer(target, format!("{prefix}{i}")))).await;
        all.extend(batch);
    }
    all
}

async fn close(peers: Vec<Peer>) {
    for peer in &peers {
        peer.dialer.close();
    }
    futures::future::join_all(peers.iter().map(|p| p.repo.stop())).await;
}

async fn create_doc(peer: &Peer, key: &str, value: i64) -> DocHandle {
    let mut doc = automerge::Automerge::new();
    doc.transact::<_, _, automerge::AutomergeError>(|tx| tx.put(automerge::ROOT, key, value).map(drop)).unwrap();
    let handle = peer.repo.create(doc).await.unwrap();
    tokio::time::timeout(Duration::from_secs(60), handle.they_have_our_changes(peer.connection)).await.expect("uploaded in time");
    handle
}

async fn find(peer: &Peer, id: &DocumentId) -> DocHandle {
    tokio::time::timeout(Duration::from_secs(120), peer.repo.find(id.clone()))
        .await
        .expect("found in time")
        .unwrap()
        .unwrap_or_else(|| panic!("{id} unavailable"))
}

fn read_i64(handle: &DocHandle, key: &str) -> Option<i64> {
    handle.with_document(|d| match d.get(automerge::ROOT, key).ok()?? {
        (automerge::Value::Scalar(s), _) => s.as_i64(),
        _ => None,
    })
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

/// Propagation writer → server → reader with `n_peers` connected to the document.
async fn propagation(target: &Target, n_peers: usize, rounds: usize) -> (f64, f64) {
    let all = peers(target, n_peers, &format!("p{n_peers}-")).await;
    let doc = create_doc(&all[0], "seq", -1).await;
    let id = doc.document_id().clone();
    let handles = futures::future::join_all(all[1..].iter().map(|p| find(p, &id))).await;
    let reader = &handles[0];
    let mut changes = reader.changes();
    let mut samples = Vec::with_capacity(rounds);
    for round in 0..rounds as i64 {
        tokio::time::sleep(Duration::from_millis(if n_peers >= 1000 { 200 } else { 50 })).await;
        let started = Instant::now();
        doc.with_document(|d| d.transact::<_, _, automerge::AutomergeError>(|tx| tx.put(automerge::ROOT, "seq", round).map(drop)).unwrap());
        while read_i64(reader, "seq") != Some(round) {
            tokio::time::timeout(Duration::from_secs(30), changes.next()).await.expect("the edit arrived in time");
        }
        samples.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    drop(handles);
    close(all).await;
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (percentile(&samples, 0.5), percentile(&samples, 0.95))
}

/// `n_workspaces` workspaces of `per_workspace` peers, one document each.
/// Each round every workspace's writer edits at once; each edit is timed
/// until its workspace's reader has it.
async fn spread_propagation(target: &Target, n_workspaces: usize, per_workspace: usize, rounds: usize) -> (f64, f64) {
    let mut groups = Vec::with_capacity(n_workspaces);
    for w in 0..n_workspaces {
        let token = &target.tokens[w % target.tokens.len()];
        let group = futures::future::join_all((0..per_workspace).map(|i| peer_with(target, format!("w{w}-{i}"), token))).await;
        groups.push(group);
    }
    let mut pairs = Vec::with_capacity(n_workspaces);
    for group in &groups {
        let writer = create_doc(&group[0], "seq", -1).await;
        let id = writer.document_id().clone();
        let mut others = futures::future::join_all(group[1..].iter().map(|p| find(p, &id))).await;
        let reader = others.remove(0);
        pairs.push((writer, reader, others));
    }
    let mut samples = Vec::with_capacity(rounds * n_workspaces);
    for round in 0..rounds as i64 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let timed = pairs.iter().map(|(writer, reader, _)| async move {
            let mut changes = reader.changes();
            let started = Instant::now();
            writer.with_document(|d| d.transact::<_, _, automerge::AutomergeError>(|tx| tx.put(automerge::ROOT, "seq", round).map(drop)).unwrap());
            while read_i64(reader, "seq") != Some(round) {
                tokio::time::timeout(Duration::from_secs(30), changes.next()).await.ok()?;
            }
            Some(started.elapsed().as_secs_f64() * 1000.0)
        });
        let timed: Option<Vec<f64>> = futures::future::join_all(timed).await.into_iter().collect();
        let Some(timed) = timed else {
            eprintln!("an edit took over 30 s to reach its reader in round {round}");
            samples.clear();
            break;
        };
        samples.extend(timed);
    }
    drop(pairs);
    for group in groups {
        close(group).await;
    }
    if samples.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (percentile(&samples, 0.5), percentile(&samples, 0.95))
}

/// `n_clients` clients each edit their own document as fast as they can
/// for `seconds`: storage writes the server committed per second, and
/// writes per transaction.
async fn commit_rate(target: &Target, n_clients: usize, seconds: u64) -> (f64, f64) {
    let all = peers(target, n_clients, "commit-").await;
    let docs = futures::future::join_all(all.iter().enumerate().map(|(i, p)| create_doc(p, "n", i as i64))).await;
    let port = target.url.port().unwrap();
    let (writes, commits) = (harness::metric(port, "storage_chunk_writes_total"), harness::metric(port, "storage_commits_total"));
    let started = Instant::now();
    let edits = docs.iter().map(|doc| async move {
        let mut j = 0i64;
        while started.elapsed() < Duration::from_secs(seconds) {
            doc.with_document(|d| d.transact::<_, _, automerge::AutomergeError>(|tx| tx.put(automerge::ROOT, "n", j).map(drop)).unwrap());
            j += 1;
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    });
    futures::future::join_all(edits).await;
    let elapsed = started.elapsed().as_secs_f64();
    let writes = harness::metric(port, "storage_chunk_writes_total") - writes;
    let commits = harness::metric(port, "storage_commits_total") - commits;
    drop(docs);
    close(all).await;
    (writes as f64 / elapsed, writes as f64 / commits.max(1) as f64)
}

/// A fresh PostgreSQL database from an admin URL.
async fn fresh_postgres(admin_url: &str) -> String {
    let pool = sqlx::PgPool::connect(admin_url).await.expect("PostgreSQL is reachable");
    let name = format!("rf_bench_{}", std::process::id());
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name}"))).execute(&pool).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&pool).await.unwrap();
    pool.close().await;
    format!("{}/{name}", admin_url.rsplit_once('/').unwrap().0)
}

/// 50 editors × 100 changes on one document: time from the last edit until
/// every editor has the same heads.
async fn convergence(target: &Target, n_editors: usize, n_changes: usize, pause: Duration) -> Option<f64> {
    let all = peers(target, n_editors, "conv-").await;
    let doc = create_doc(&all[0], "start", 0).await;
    let id = doc.document_id().clone();
    let mut handles = vec![doc];
    handles.extend(futures::future::join_all(all[1..].iter().map(|p| find(p, &id))).await);
    let edits = handles.iter().enumerate().map(|(k, handle)| async move {
        for j in 0..n_changes as i64 {
            handle.with_document(|d| d.transact::<_, _, automerge::AutomergeError>(|tx| tx.put(automerge::ROOT, format!("editor{k}"), j).map(drop)).unwrap());
            // People type; a change every few milliseconds per editor is already
            // far faster than that. (A tight loop is measured separately below.)
            if pause.is_zero() {
                tokio::task::yield_now().await;
            } else {
                tokio::time::sleep(pause).await;
            }
        }
        Instant::now()
    });
    let last_edit = futures::future::join_all(edits).await.into_iter().max().unwrap();
    loop {
        let heads: Vec<_> = handles.iter().map(|h| h.with_document(|d| d.get_heads())).collect();
        let done = heads.windows(2).all(|w| w[0] == w[1])
            && handles.iter().all(|h| (0..n_editors).all(|k| read_i64(h, &format!("editor{k}")) == Some(n_changes as i64 - 1)));
        if done {
            break;
        }
        let limit = env_list("SYNC_BENCH_CONVERGENCE_LIMIT", &[300])[0] as u64;
        if last_edit.elapsed() > Duration::from_secs(limit) {
            let distinct: std::collections::HashSet<_> = heads.iter().collect();
            let stale: usize =
                handles.iter().map(|h| (0..n_editors).filter(|k| read_i64(h, &format!("editor{k}")) != Some(n_changes as i64 - 1)).count()).sum();
            eprintln!("no convergence within {limit} s: {} distinct heads among {n_editors} editors, {stale} stale values", distinct.len());
            drop(handles);
            close(all).await;
            return None;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let seconds = last_edit.elapsed().as_secs_f64();
    drop(handles);
    close(all).await;
    Some(seconds)
}

/// A fresh client fetches every document of an n-document workspace.
async fn cold_clone(target: &Target, n_docs: usize) -> f64 {
    let uploader = peer(target, "uploader".into()).await;
    let mut ids = Vec::with_capacity(n_docs);
    let uploading = Instant::now();
    for chunk in (0..n_docs).collect::<Vec<_>>().chunks(200) {
        let handles = futures::future::join_all(chunk.iter().map(|i| create_doc(&uploader, "n", *i as i64))).await;
        // The server must have each document before a clone can ask for it:
        // a server that is still fetching one answers "unavailable".
        let acknowledged = futures::future::join_all(handles.iter().map(|h| h.they_have_our_changes(uploader.connection)));
        tokio::time::timeout(Duration::from_secs(120), acknowledged).await.expect("the server acknowledged the uploads in time");
        ids.extend(handles.iter().map(|h| h.document_id().clone()));
    }
    eprintln!("uploaded and acknowledged {n_docs} documents at {:.0} docs/s", n_docs as f64 / uploading.elapsed().as_secs_f64());
    let cloner = peer(target, "cloner".into()).await;
    let started = Instant::now();
    let found = futures::stream::iter(ids.iter())
        .map(|id| find(&cloner, id))
        .buffer_unordered(256)
        .fold(0usize, |n, handle| async move {
            assert!(read_i64(&handle, "n").is_some());
            n + 1
        })
        .await;
    let rate = found as f64 / started.elapsed().as_secs_f64();
    close(vec![uploader, cloner]).await;
    rate
}

/// The server's memory over `rounds` cold clones of `n_docs` new documents
/// each, with idle documents unloaded after `unload_secs` (0: never). After
/// each clone the clients leave and the server idles: until no document is
/// loaded with unloading on, or for `wait` with it off. Returns, per round,
/// (RSS when the clone is done, RSS after the idle wait, documents still
/// loaded then, how long the wait was).
async fn memory_over_clones(n_docs: usize, rounds: usize, unload_secs: u64, wait: &[Duration]) -> Vec<(f64, f64, u64, Duration)> {
    let secs = unload_secs.to_string();
    let ours = start_ours_with(None, 1, &[("RAPTORFLOW_SYNC_UNLOAD_IDLE_SECS", &secs)]);
    let (pid, port) = (ours.child.id(), ours.url.port().unwrap());
    let mut figures = Vec::new();
    for round in 0..rounds {
        cold_clone(&ours, n_docs).await;
        let cloned = rss_mib(pid);
        let wait = wait.get(round).copied().unwrap_or_default();
        let idle_since = Instant::now();
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let loaded = harness::metric(port, "documents_loaded");
            let waited = idle_since.elapsed();
            let done = if unload_secs > 0 { loaded == 0 } else { waited >= wait };
            if done || waited > Duration::from_secs(unload_secs * 4 + 60) {
                figures.push((cloned, rss_mib(pid), loaded, waited));
                break;
            }
        }
    }
    figures
}

/// A process's resident memory, in MiB.
fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib = status.lines().find_map(|line| line.strip_prefix("VmRSS:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok());
    kib.map_or(f64::NAN, |kib| kib / 1024.0)
}

/// One client sends changes of `change_bytes` as fast as the server reads
/// them for `seconds`, reading the answers as they come. Prints the server's
/// memory before, at its peak and at the end, what was sent, and how long
/// after the last send the server's answer shows it has everything.
async fn flood(target: &Target, seconds: u64, change_bytes: usize) {
    use futures::SinkExt;
    use tokio_tungstenite::tungstenite::Message;

    let peer = raw_peer::RawPeer::joined(target.url.port().unwrap(), &target.token.expose(), "bench/flood").await;
    let (peer_id, server_id) = (peer.peer_id.clone(), peer.server_id.clone());
    let (mut sink, mut stream) = peer.into_socket().split();
    let document = DocumentId::new(&mut rand::rng()).to_string();
    let (heads_tx, mut heads_rx) = tokio::sync::watch::channel(Vec::new());
    // The server's error message, if it refuses the changes (the document
    // size limit).
    let refused = Arc::new(std::sync::Mutex::new(None::<String>));
    let reader = tokio::spawn({
        let refused = refused.clone();
        async move {
            while let Some(Ok(message)) = stream.next().await {
                let Message::Binary(bytes) = message else { continue };
                if let Some(data) = raw_peer::data_field(&bytes)
                    && let Ok(answer) = automerge::sync::Message::decode(&data)
                {
                    let _ = heads_tx.send(answer.heads);
                } else if let Some(error) = raw_peer::error_message(&bytes) {
                    *refused.lock().unwrap() = Some(error);
                }
            }
        }
    });
    let pid = target.child.id();
    let before = rss_mib(pid);
    let peak = Arc::new(std::sync::Mutex::new(before));
    let sampler = tokio::spawn({
        let peak = peak.clone();
        async move {
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let now = rss_mib(pid);
                let mut peak = peak.lock().unwrap();
                *peak = peak.max(now);
            }
        }
    });
    let mut changes = raw_peer::ChangeStream::new();
    let (mut n_sent, mut bytes_sent) = (0usize, 0usize);
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(seconds) && refused.lock().unwrap().is_none() {
        let data = changes.next_message(change_bytes);
        let frame = raw_peer::doc_frame("sync", &peer_id, &server_id, &document, &data);
        bytes_sent += frame.len();
        if sink.send(Message::Binary(frame.into())).await.is_err() {
            // Closed: the reader has the reason.
            tokio::time::sleep(Duration::from_millis(200)).await;
            break;
        }
        n_sent += 1;
    }
    let sending = started.elapsed().as_secs_f64();
    let at_end = rss_mib(pid);
    let last_send = Instant::now();
    let heads = changes.heads();
    let refusal = refused.lock().unwrap().clone();
    let caught_up = refusal.is_none() && tokio::time::timeout(Duration::from_secs(300), heads_rx.wait_for(|h| *h == heads)).await.is_ok();
    let catch_up = last_send.elapsed().as_secs_f64();
    sampler.abort();
    reader.abort();
    let peak = *peak.lock().unwrap();
    let mib = bytes_sent as f64 / (1024.0 * 1024.0);
    println!(
        "flood, one client, {} KiB changes for {seconds} s: sent {n_sent} changes ({mib:.0} MiB, {:.1} MiB/s); server RSS {before:.0} MiB before, {peak:.0} MiB peak, {at_end:.0} MiB at the last send; {}",
        change_bytes / 1024,
        mib / sending,
        match (refusal, caught_up) {
            (Some(refusal), _) => format!("refused: {refusal}"),
            (None, true) => format!("it had everything {catch_up:.2} s after the last send"),
            (None, false) => "it had not caught up 300 s after the last send".to_owned(),
        }
    );
}

fn env_list(name: &str, default: &[usize]) -> Vec<usize> {
    std::env::var(name).map(|v| v.split(',').map(|n| n.trim().parse().unwrap()).collect()).unwrap_or_else(|_| default.to_vec())
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return; // `cargo test --benches` probes bench binaries; nothing to do.
    }
    let peer_counts = env_list("SYNC_BENCH_PEERS", &[10, 100, 1000]);
    let n_docs = env_list("SYNC_BENCH_DOCS", &[10_000])[0];
    let rounds = env_list("SYNC_BENCH_ROUNDS", &[40])[0];
    let mut rows: Vec<(String, f64, f64, &'static str)> = Vec::new();
    let skip = std::env::var("SYNC_BENCH_SKIP").unwrap_or_default();
    let skip: Vec<&str> = skip.split(',').map(str::trim).collect();
    let print_row = |(what, ours, node, unit): &(String, f64, f64, &'static str)| {
        let show = |v: f64| if v.is_nan() { "did not finish in time".to_owned() } else { format!("{v:.1} {unit}") };
        println!("| {what} | {} | {} | {:.2} |", show(*ours), show(*node), ours / node);
    };
    println!("| measurement | raptorflow-sync | node automerge-repo 2.5.6 | ratio (ours / node) |");
    println!("|---|---|---|---|");
    for n in peer_counts.iter().filter(|_| !skip.contains(&"propagation")) {
        for (ours_ms, node_ms, label) in {
            let ours = start_ours();
            let a = propagation(&ours, *n, rounds).await;
            drop(ours);
            let node = start_node();
            let b = propagation(&node, *n, rounds).await;
            drop(node);
            [(a.0, b.0, "p50"), (a.1, b.1, "p95")]
        } {
            rows.push((format!("propagation, {n} peers, {label}"), ours_ms, node_ms, "ms"));
            print_row(rows.last().unwrap());
        }
        eprintln!("done: {n} peers");
    }
    let (ours, node) = (start_ours(), start_node());
    if !skip.contains(&"convergence") {
        let n_editors = env_list("SYNC_BENCH_EDITORS", &[50])[0];
        let n_changes = env_list("SYNC_BENCH_CHANGES", &[100])[0];
        let pause = Duration::from_millis(env_list("SYNC_BENCH_PAUSE_MS", &[10])[0] as u64);
        let conv = if std::env::var_os("SYNC_BENCH_NODE_FIRST").is_some() {
            let node_first = convergence(&node, n_editors, n_changes, pause).await;
            (convergence(&ours, n_editors, n_changes, pause).await, node_first)
        } else {
            (convergence(&ours, n_editors, n_changes, pause).await, convergence(&node, n_editors, n_changes, pause).await)
        };
        let nan = |v: Option<f64>| v.unwrap_or(f64::NAN);
        rows.push((format!("convergence, {n_editors} editors x {n_changes} changes, {} ms apart", pause.as_millis()), nan(conv.0), nan(conv.1), "s"));
        print_row(rows.last().unwrap());
    }
    if !skip.contains(&"clone") {
        let ours_rate = cold_clone(&ours, n_docs).await;
        eprintln!("cold clone on raptorflow-sync: {ours_rate:.0} docs/s");
        // Node takes over 10 minutes to take 10,000 uploads: `node-clone` in
        // SYNC_BENCH_SKIP measures ours alone.
        let node_rate = if skip.contains(&"node-clone") { f64::NAN } else { cold_clone(&node, n_docs).await };
        let clone = (ours_rate, node_rate);
        rows.push((format!("cold clone, {n_docs} documents"), clone.0, clone.1, "docs/s"));
        print_row(rows.last().unwrap());
    }
    drop((ours, node));
    if !skip.contains(&"spread") {
        let (n_workspaces, per) = (env_list("SYNC_BENCH_WORKSPACES", &[100])[0], env_list("SYNC_BENCH_PEERS_PER_WORKSPACE", &[10])[0]);
        let ours = start_ours_on(None, n_workspaces);
        let a = spread_propagation(&ours, n_workspaces, per, rounds).await;
        eprintln!("spread on raptorflow-sync: p50 {:.1} ms, p95 {:.1} ms", a.0, a.1);
        drop(ours);
        let node = start_node();
        let b = spread_propagation(&node, n_workspaces, per, rounds).await;
        drop(node);
        for (ours_ms, node_ms, label) in [(a.0, b.0, "p50"), (a.1, b.1, "p95")] {
            rows.push((
                format!("propagation, {} peers in {n_workspaces} workspaces, all writers at once, {label}", n_workspaces * per),
                ours_ms,
                node_ms,
                "ms",
            ));
            print_row(rows.last().unwrap());
        }
    }
    if !skip.contains(&"commit") {
        let (n_clients, seconds) = (env_list("SYNC_BENCH_COMMIT_CLIENTS", &[50])[0], env_list("SYNC_BENCH_COMMIT_SECONDS", &[20])[0] as u64);
        let mut backends = vec![("SQLite", None)];
        if let Ok(admin_url) = std::env::var("SYNC_BENCH_POSTGRES") {
            backends.push(("PostgreSQL", Some(fresh_postgres(&admin_url).await)));
        }
        for (backend, db) in backends {
            let ours = start_ours_on(db, 1);
            let (rate, per_commit) = commit_rate(&ours, n_clients, seconds).await;
            println!(
                "sustained commits on {backend}, {n_clients} clients editing for {seconds} s: {rate:.0} writes/s committed, {per_commit:.1} writes per transaction"
            );
        }
    }
    if !skip.contains(&"unload") {
        let unload_secs = env_list("SYNC_BENCH_UNLOAD_SECS", &[5])[0] as u64;
        let rounds = 3;
        let on = memory_over_clones(n_docs, rounds, unload_secs, &[]).await;
        // The anchor, in the same run: the same clones with unloading off,
        // each followed by as long an idle wait.
        let waits: Vec<Duration> = on.iter().map(|round| round.3).collect();
        let off = memory_over_clones(n_docs, rounds, 0, &waits).await;
        println!("server RSS over {rounds} cold clones of {n_docs} new documents each, the clients leaving after each:");
        for (round, (on, off)) in on.iter().zip(&off).enumerate() {
            println!(
                "  after clone {}: unloading after {unload_secs} s {:.0} MiB, idle {:.1} s later {:.0} MiB ({} loaded); unloading off {:.0} MiB, then {:.0} MiB ({} loaded); idle RSS ratio on / off {:.2}",
                round + 1,
                on.0,
                on.3.as_secs_f64(),
                on.1,
                on.2,
                off.0,
                off.1,
                off.2,
                on.1 / off.1
            );
        }
    }
    if !skip.contains(&"flood") {
        let sizes = env_list("SYNC_BENCH_FLOOD", &[20, 64]);
        let ours = start_ours();
        flood(&ours, sizes[0] as u64, sizes[1] * 1024).await;
    }
}
