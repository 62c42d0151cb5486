//! Interop with the reference implementation, both directions:
//! unmodified automerge-repo 2.x clients (npm) sync through `raptorflow-sync`,
//! and our Rust client (samod with the bearer-token dialer) syncs through the
//! reference Node automerge-repo server.

mod harness;
mod postgres_db;
mod raw_peer;

use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::Arc,
    time::Duration,
};

use automerge::{ReadDoc, transaction::Transactable};
use harness::Server;
use rf_sync::{BearerDialer, SyncToken};

fn interop_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("interop");
    assert!(
        dir.join("node_modules/@automerge/automerge-repo").exists(),
        "the Node interop packages are not installed: run `npm ci --prefix tests/interop` (./scripts/test.sh does)"
    );
    dir
}

/// Runs `node node_client.mjs ARGS`; returns (exit code, the JSON line it printed).
/// An unexpected exit prints the script's stderr, for the failing test's log.
#[allow(clippy::print_stderr)]
fn node_client(args: &[&str]) -> (i32, serde_json::Value) {
    let output = Command::new("node").arg("node_client.mjs").args(args).current_dir(interop_dir()).output().expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let value = serde_json::from_str(stdout.trim()).unwrap_or(serde_json::Value::Null);
    let code = output.status.code().unwrap_or(-1);
    if code != 0 && code != 3 {
        eprintln!("node_client {args:?} exited {code}: {}", String::from_utf8_lossy(&output.stderr));
    }
    (code, value)
}

#[test]
fn automerge_repo_clients_sync_through_raptorflow_sync() {
    let server = Server::start();
    server.create_workspace("Acme");
    server.create_workspace("Other");
    let alice = server.add_member("Acme", "alice", "owner");
    let bob = server.add_member("Acme", "bob", "editor");
    let eve = server.add_member("Other", "eve", "owner");
    let url = |token: &str| format!("ws://127.0.0.1:{}/sync?ticket={}", server.port, server.ticket(token));

    let (code, created) = node_client(&["--url", &url(&alice), "--peer-id", "alice/node", "create", "--json", r#"{"title":"hello"}"#]);
    assert_eq!(code, 0, "{created}");
    let doc_url = created["url"].as_str().unwrap().to_owned();

    let (code, found) = node_client(&["--url", &url(&bob), "--peer-id", "bob/node", "find", "--doc", &doc_url]);
    assert_eq!(code, 0);
    assert_eq!(found["doc"], serde_json::json!({ "title": "hello" }));
    assert_eq!(found["heads"], created["heads"]);

    let (code, changed) = node_client(&["--url", &url(&bob), "--peer-id", "bob/node", "change", "--doc", &doc_url, "--set", "owner=bob"]);
    assert_eq!(code, 0, "{changed}");
    let (code, found) = node_client(&["--url", &url(&alice), "--peer-id", "alice/node", "find", "--doc", &doc_url]);
    assert_eq!(code, 0);
    assert_eq!(found["doc"], serde_json::json!({ "title": "hello", "owner": "bob" }));
    assert_eq!(found["heads"], changed["heads"]);

    // Outside the workspace the document does not exist, as far as anyone can tell.
    let (code, answer) = node_client(&["--url", &url(&eve), "--peer-id", "eve/node", "find", "--doc", &doc_url, "--timeout-ms", "5000"]);
    assert_eq!((code, answer), (3, serde_json::json!({ "unavailable": true })));
    // A ticket belongs to the peer id of its first handshake: that peer may
    // reconnect with it, another peer id gets nothing.
    let ticket = server.ticket(&alice);
    let once = format!("ws://127.0.0.1:{}/sync?ticket={ticket}", server.port);
    assert_eq!(node_client(&["--url", &once, "--peer-id", "alice/a", "find", "--doc", &doc_url]).0, 0);
    assert_eq!(node_client(&["--url", &once, "--peer-id", "alice/a", "find", "--doc", &doc_url]).0, 0);
    let (code, answer) = node_client(&["--url", &once, "--peer-id", "alice/b", "find", "--doc", &doc_url, "--timeout-ms", "3000"]);
    assert_ne!(code, 0, "another peer id used the ticket: {answer}");
    assert!(server.log().contains("the ticket belongs to another peer id"));
    assert!(!server.log().contains(&ticket), "the ticket reached the server log");
}

/// `node session.mjs SCENARIO ...`, long-lived, with its stdin and stdout piped.
struct Session {
    child: Child,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
}

impl Session {
    fn start(args: &[&str]) -> Self {
        let mut child = Command::new("node")
            .arg("session.mjs")
            .args(args)
            .current_dir(interop_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node runs");
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Self { child, lines }
    }

    /// The next JSON line, or a panic with the exit status and `server`'s log
    /// if the script ended.
    fn next_json(&mut self, server: &Server) -> serde_json::Value {
        match self.lines.next() {
            Some(Ok(line)) => serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")),
            _ => panic!("session.mjs ended early: {:?}\nthe server's log:\n{}", self.child.wait(), server.log()),
        }
    }

    fn go(&mut self) {
        use std::io::Write;
        writeln!(self.child.stdin.as_mut().unwrap(), "go").unwrap();
    }

    fn finish(mut self) -> i32 {
        self.child.wait().unwrap().code().unwrap_or(-1)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_exchange_presence_while_editing_and_nobody_is_disconnected() {
    let server = Server::start();
    server.create_workspace("Acme");
    server.create_workspace("Other");
    let alice = server.add_member("Acme", "alice", "owner");
    let bob = server.add_member("Acme", "bob", "editor");
    let victor = server.add_member("Acme", "victor", "viewer");
    let eve = server.add_member("Other", "eve", "owner");
    let client = |peer: &str, token: &str| format!("{peer}=ws://127.0.0.1:{}/sync?ticket={}", server.port, server.ticket(token));
    let mut session = Session::start(&[
        "presence",
        "--client",
        &client("alice/node", &alice),
        "--client",
        &client("bob/node", &bob),
        "--client",
        &client("victor/node", &victor),
        "--writers",
        "alice/node,bob/node",
    ]);
    let ready = session.next_json(&server);
    let document = ready["ready"].as_str().unwrap().to_owned();

    // A member of another workspace tries to reach them: presence, and a change.
    let mut intruder = raw_peer::RawPeer::joined(server.port, &eve, "eve/raw").await;
    let presence = raw_peer::cbor_map(&[("cursor", raw_peer::Value::Text("here"))]);
    let frame = raw_peer::ephemeral_frame("eve/raw", &intruder.server_id, &document, "eve-session", 1, &presence);
    intruder.send(frame).await;
    let frame = intruder.doc("sync", &document, &raw_peer::sync_message_with_change());
    intruder.send(frame).await;

    session.go();
    let clients = session.next_json(&server);
    assert_eq!(session.finish(), 0);
    let everyone = ["alice/node", "bob/node", "victor/node"];
    // In the order session.mjs sorts them.
    let expected_keys: Vec<String> = ["alice/node", "bob/node"].iter().flat_map(|w| (0..5).map(move |r| format!("{w} {r}"))).collect();
    for client in clients.as_array().unwrap() {
        let me = client["peerId"].as_str().unwrap();
        for other in everyone.iter().filter(|o| **o != me) {
            assert!(client["received"][other].as_u64().unwrap_or(0) > 0, "{me} got no presence from {other}: {client}");
        }
        assert!(client["received"].get("eve/raw").is_none(), "a non-member's presence reached {me}: {client}");
        assert_eq!(client["disconnects"], 0, "{me} was disconnected: {client}");
        let keys: Vec<String> = client["keys"].as_array().unwrap().iter().map(|k| k.as_str().unwrap().to_owned()).filter(|k| k != "title").collect();
        assert_eq!(keys, expected_keys, "{me} is missing edits (or has the intruder's)");
    }
    assert!(!server.log().contains("senderId does not match"), "a member was closed for passing presence on");
    drop(intruder);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_clients_keep_syncing_a_document_the_server_unloaded_while_they_stayed_connected() {
    let server = Server::start_with(None, &[("RAPTORFLOW_SYNC_UNLOAD_IDLE_SECS", "1")]);
    server.create_workspace("Acme");
    let alice = server.add_member("Acme", "alice", "owner");
    let bob = server.add_member("Acme", "bob", "editor");
    let client = |peer: &str, token: &str| format!("{peer}=ws://127.0.0.1:{}/sync?ticket={}", server.port, server.ticket(token));
    let mut session =
        Session::start(&["unload", "--client", &client("alice/node", &alice), "--client", &client("bob/node", &bob), "--writers", "alice/node,bob/node"]);
    session.next_json(&server);

    // Both stay connected and quiet: the server takes the document out of memory.
    until_unloaded(&server);

    // Both edit: the server loads it again, and each gets the other's edit
    // over the connection it kept, its sync state with the server restarted.
    both_edit_and_get_each_others_edit(session, &server);
}

/// Lets the `unload` session's writers edit, and checks that each client got
/// both edits without losing its connection.
fn both_edit_and_get_each_others_edit(mut session: Session, server: &Server) {
    session.go();
    let clients = session.next_json(server);
    assert_eq!(session.finish(), 0, "{clients}");
    for client in clients.as_array().unwrap() {
        assert_eq!(client["keys"], serde_json::json!(["alice/node after", "bob/node after", "title"]), "{client}");
        assert_eq!(client["disconnects"], 0, "{client}");
    }
}

/// [`Server::until_documents_unloaded`] with at least one unloaded, off the
/// async workers.
fn until_unloaded(server: &Server) {
    tokio::task::block_in_place(|| server.until_documents_unloaded(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unloaded_document_still_gets_the_other_instances_changes_live() {
    // Two instances on one PostgreSQL database, alice on one and bob on the
    // other: each instance's copy is unloaded while they stay connected, and
    // each edit reaches the other client through the relay, which loads the
    // document again on the instance that did not receive it.
    let url = postgres_db::fresh_postgres_database().await;
    let idle = [("RAPTORFLOW_SYNC_UNLOAD_IDLE_SECS", "1")];
    let a = Server::start_with(Some(&url), &idle);
    let b = Server::start_with(Some(&url), &idle);
    a.create_workspace("Acme");
    let alice = a.add_member("Acme", "alice", "owner");
    let bob = a.add_member("Acme", "bob", "editor");
    let mut session = Session::start(&[
        "unload",
        "--client",
        &format!("alice/node=ws://127.0.0.1:{}/sync?ticket={}", a.port, a.ticket(&alice)),
        "--client",
        &format!("bob/node=ws://127.0.0.1:{}/sync?ticket={}", b.port, b.ticket(&bob)),
        "--writers",
        "alice/node,bob/node",
    ]);
    session.next_json(&a);
    until_unloaded(&a);
    until_unloaded(&b);

    both_edit_and_get_each_others_edit(session, &a);
    assert!(a.metric("relayed_chunks_total") + b.metric("relayed_chunks_total") > 0, "the edits came through the relay");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_ticket_client_reconnects_and_its_ticket_is_useless_to_other_peers() {
    let server = Server::start();
    server.create_workspace("Acme");
    let alice = server.add_member("Acme", "alice", "owner");
    let ticket = server.ticket(&alice);
    let url = format!("alice/browser=ws://127.0.0.1:{}/sync?ticket={ticket}", server.port);
    let mut session = Session::start(&["reconnect", "--client", &url]);
    let ready = session.next_json(&server);
    let document = ready["ready"].as_str().unwrap().to_owned();
    let result = session.next_json(&server);
    assert_eq!(session.finish(), 0, "{result}");
    assert_eq!(result["disconnects"], 1, "{result}");
    assert_eq!(result["connects"], 2, "{result}");
    assert_eq!(result["doc"]["after"], "the reconnect");

    // The change made after the reconnect is on the server: another device finds it.
    let (code, found) = node_client(&[
        "--url",
        &format!("ws://127.0.0.1:{}/sync?ticket={}", server.port, server.ticket(&alice)),
        "--peer-id",
        "alice/phone",
        "find",
        "--doc",
        &document,
    ]);
    assert_eq!(code, 0);
    assert_eq!(found["doc"]["after"], "the reconnect");

    // The same ticket with another peer id (even the same user's) is closed at the handshake.
    let mut thief = raw_peer::RawPeer::connect_ticket(server.port, &ticket, "alice/thief").await.expect("the upgrade");
    thief.send(raw_peer::join_frame("alice/thief", &["1"])).await;
    match thief.ending().await {
        raw_peer::Ending::Closed { code, reason } => {
            assert_eq!(code, 1008);
            assert!(reason.contains("belongs to another peer id"), "{reason}");
        }
        other => panic!("expected a close frame, got {other:?}"),
    }
    // An unused ticket expires; a used one is refused once its reconnect window has passed (unit-tested in access.rs).
}

/// The reference server: `node node_server.mjs`, killed on drop.
struct NodeServer {
    child: Child,
    port: u16,
}

impl NodeServer {
    fn start() -> Self {
        let mut child = Command::new("node")
            .args(["node_server.mjs", "--port", "0"])
            .current_dir(interop_dir())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node runs");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line.trim().strip_prefix("listening ").and_then(|p| p.parse().ok()).unwrap_or_else(|| panic!("{line:?}"));
        Self { child, port }
    }
}

impl Drop for NodeServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_syncs_through_the_reference_node_server() {
    let node = NodeServer::start();
    let url = url::Url::parse(&format!("ws://127.0.0.1:{}", node.port)).unwrap();
    let repo = samod::Repo::build_tokio().with_peer_id(samod::PeerId::from("rust/test")).load().await;
    // The reference server ignores the header; the dialer is the one the app uses.
    let dialer = repo.dial(samod::BackoffConfig::default(), Arc::new(BearerDialer::new(url.clone(), SyncToken::generate()))).unwrap();
    tokio::time::timeout(Duration::from_secs(15), dialer.established()).await.expect("connected in time").expect("connected");
    let connection = dialer.connection_id().unwrap();

    // Rust → Node server → Node client.
    let mut doc = automerge::Automerge::new();
    doc.transact::<_, _, automerge::AutomergeError>(|tx| tx.put(automerge::ROOT, "title", "from rust").map(drop)).unwrap();
    let handle = repo.create(doc).await.unwrap();
    tokio::time::timeout(Duration::from_secs(15), handle.they_have_our_changes(connection)).await.expect("the server took our change");
    let heads: Vec<String> = handle.with_document(|d| d.get_heads().iter().map(|h| h.to_string()).collect());
    let doc_url = handle.url().to_string();
    let node_url = url.to_string();
    let (code, found) =
        tokio::task::spawn_blocking(move || node_client(&["--url", &node_url, "--peer-id", "node/reader", "find", "--doc", &doc_url])).await.unwrap();
    assert_eq!(code, 0);
    assert_eq!(found["doc"], serde_json::json!({ "title": "from rust" }));
    assert_eq!(found["heads"], serde_json::json!(heads));

    // Node client → Node server → Rust.
    let node_url = url.to_string();
    let (code, created) =
        tokio::task::spawn_blocking(move || node_client(&["--url", &node_url, "--peer-id", "node/writer", "create", "--json", r#"{"title":"from node"}"#]))
            .await
            .unwrap();
    assert_eq!(code, 0);
    let id: samod::DocumentId = created["documentId"].as_str().unwrap().parse().unwrap();
    let found = tokio::time::timeout(Duration::from_secs(15), repo.find(id)).await.expect("found in time").unwrap().expect("the document");
    // automerge-repo 2.x stores strings as collaborative text objects.
    let title = found.with_document(|d| match d.get(automerge::ROOT, "title").unwrap() {
        Some((automerge::Value::Object(automerge::ObjType::Text), text)) => d.text(&text).ok(),
        Some((automerge::Value::Scalar(scalar), _)) => scalar.as_str().map(str::to_owned),
        _ => None,
    });
    assert_eq!(title.as_deref(), Some("from node"));
    dialer.close();
    repo.stop().await;
}
