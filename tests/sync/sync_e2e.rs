//! End-to-end team sync: a real `raptorflow-sync` process on a loopback port,
//! `raptorflow` CLI clients in separate processes, and raw WebSocket peers.

mod harness;
mod raw_peer;

use std::thread;

use harness::{Client, Server, require_keyring};
use raw_peer::{Ending, RawPeer, empty_sync_message, join_frame, sync_message_with_change};

/// A server with workspace "Acme", alice (owner) sharing a workspace with one
/// campaign, and the returned ids.
fn shared_workspace(server: &Server) -> (Client, String, String, String) {
    require_keyring();
    server.create_workspace("Acme");
    let alice = Client::new("alice");
    let (workspace, campaign) = alice.workspace_with_campaign("Acme Co");
    let token = server.add_member("Acme", "alice", "owner");
    let joined = alice.join(server, &token, Some(&workspace)).ok().json();
    assert_eq!(joined["shared_local_workspace"], true, "{joined}");
    (alice, workspace, campaign, token)
}

fn join_as(server: &Server, user: &str, role: &str) -> Client {
    let client = Client::new(user);
    let token = server.add_member("Acme", user, role);
    client.join(server, &token, None).ok();
    client
}

fn move_status(client: &Client, campaign: &str, move_id: &str) -> String {
    let campaign = client.run(&["--json", "campaign", "show", campaign]).ok().json();
    campaign["moves"][move_id]["status"].as_str().unwrap().to_owned()
}

/// The `(done, total)` of each progress line `sync join` or `sync now`
/// printed on stderr.
fn progress_lines(stderr: &str) -> Vec<(u64, u64)> {
    stderr
        .lines()
        .filter_map(|line| {
            let counts = line.strip_prefix("syncing with ")?.split_once(": ")?.1.strip_suffix(" documents")?;
            let (done, total) = counts.split_once(" of ")?;
            Some((done.parse().ok()?, total.parse().ok()?))
        })
        .collect()
}

#[test]
fn joining_and_syncing_show_the_documents_progress_on_stderr() {
    let server = Server::start();
    let (alice, workspace, _campaign, _) = shared_workspace(&server);
    for name in ["Summer", "Autumn", "Winter", "Spring again"] {
        alice.run(&["--json", "campaign", "create", "--workspace", &workspace, "--goal", "more demos", "--channel", "email", name]).ok();
    }
    alice.sync().ok();

    // The index, then the five campaigns it lists: from the first document
    // to the last, never backwards, and the report agrees.
    let bob = Client::new("bob");
    let joined = bob.join(&server, &server.add_member("Acme", "bob", "editor"), None).ok();
    let lines = progress_lines(&joined.stderr);
    assert_eq!(lines.first(), Some(&(1, 6)), "the index comes first: {lines:?}\n{}", joined.stderr);
    assert_eq!(lines.last(), Some(&(6, 6)), "{lines:?}");
    assert!(lines.windows(2).all(|pair| pair[0].0 < pair[1].0 && pair[0].1 == pair[1].1), "progress went backwards: {lines:?}");
    assert_eq!(joined.json()["sync"]["n_documents"], 6);
    assert!(!joined.stdout.contains("syncing with"), "progress must stay off stdout");

    let again = bob.sync().ok();
    assert_eq!(progress_lines(&again.stderr).last(), Some(&(6, 6)), "{}", again.stderr);
}

#[test]
fn three_clients_converge_on_concurrent_edits_of_one_campaign() {
    let server = Server::start();
    let (alice, _workspace, campaign, _) = shared_workspace(&server);
    let shared_move = alice.add_move(&campaign, "Shared move");
    alice.sync().ok();
    let bob = join_as(&server, "bob", "editor");
    let carol = join_as(&server, "carol", "editor");
    assert_eq!(bob.move_titles(&campaign), ["Shared move"]);

    // Each edits the same campaign without seeing the others' edits,
    // including the same field of the same move.
    let edits = [(&alice, "done"), (&bob, "in_progress"), (&carol, "review")];
    thread::scope(|scope| {
        for (client, status) in edits {
            let (campaign, shared_move) = (&campaign, &shared_move);
            scope.spawn(move || {
                client.add_move(campaign, &format!("{}'s move", client.user));
                client.run(&["move", "set-status", shared_move, status]).ok();
            });
        }
    });
    // Sync all three at once, then once more so each gets what the others sent.
    for _ in 0..2 {
        thread::scope(|scope| {
            for client in [&alice, &bob, &carol] {
                scope.spawn(move || client.sync().ok());
            }
        });
    }
    alice.sync().ok();

    let heads = alice.heads();
    assert_eq!(heads.len(), 2, "index and one campaign: {heads:?}");
    assert_eq!(bob.heads(), heads, "bob's copy differs from alice's");
    assert_eq!(carol.heads(), heads, "carol's copy differs from alice's");
    let titles = ["Shared move", "alice's move", "bob's move", "carol's move"];
    for client in [&alice, &bob, &carol] {
        assert_eq!(client.move_titles(&campaign), titles, "{}", client.user);
    }
    // The concurrent status edits resolve to one value, the same everywhere.
    let status = move_status(&alice, &campaign, &shared_move);
    assert!(["done", "in_progress", "review"].contains(&status.as_str()), "{status}");
    assert_eq!(move_status(&bob, &campaign, &shared_move), status);
    assert_eq!(move_status(&carol, &campaign, &shared_move), status);
}

#[test]
fn offline_edits_merge_after_restart_and_killed_server_loses_nothing_acknowledged() {
    let mut server = Server::start();
    let (alice, _workspace, campaign, _) = shared_workspace(&server);
    let bob = join_as(&server, "bob", "editor");
    let carol_token = server.add_member("Acme", "carol", "editor");

    // Alice's change is acknowledged by bob, then the server is killed.
    alice.add_move(&campaign, "Acknowledged move");
    alice.sync().ok();
    bob.sync().ok();
    assert_eq!(bob.move_titles(&campaign), ["Acknowledged move"]);
    server.kill();

    // Offline: edits save locally; sync says plainly that it could not connect.
    alice.add_move(&campaign, "Alice offline");
    bob.add_move(&campaign, "Bob offline");
    let failed = alice.run(&["sync", "now", "--timeout", "2"]);
    assert_eq!(failed.code, 1, "{failed:?}");
    assert!(failed.stderr.contains("could not reach the sync server at http://127.0.0.1:"), "{}", failed.stderr);
    let status = alice.run(&["--json", "sync", "status"]).ok().json();
    assert!(status[0]["last_error"].as_str().unwrap().contains("could not reach"), "{status}");

    server.restart();
    // A new member gets everything acknowledged before the kill from the server alone.
    let carol = Client::new("carol");
    carol.join(&server, &carol_token, None).ok();
    assert_eq!(carol.move_titles(&campaign), ["Acknowledged move"]);

    alice.sync().ok();
    bob.sync().ok();
    alice.sync().ok();
    carol.sync().ok();
    let expected = ["Acknowledged move", "Alice offline", "Bob offline"];
    for client in [&alice, &bob, &carol] {
        assert_eq!(client.move_titles(&campaign), expected, "{}", client.user);
    }
    assert_eq!(bob.heads(), alice.heads());
    assert_eq!(carol.heads(), alice.heads());
}

/// Whether a `sync now --json` run had the server acknowledge everything.
fn fully_synced(run: &harness::Run) -> bool {
    if run.code != 0 {
        return false;
    }
    let reports = run.json();
    reports
        .as_array()
        .is_some_and(|reports| reports.iter().all(|r| r["n_synced"] == r["n_documents"] && r["unavailable"].as_array().is_some_and(Vec::is_empty)))
}

#[test]
fn a_server_killed_during_concurrent_edits_loses_no_acknowledged_move() {
    use std::sync::{
        Mutex,
        atomic::{AtomicBool, Ordering},
    };
    use std::time::{Duration, Instant};

    let mut server = Server::start();
    let (alice, _workspace, campaign, _) = shared_workspace(&server);
    let bob = join_as(&server, "bob", "editor");
    let carol = join_as(&server, "carol", "editor");
    let dave_token = server.add_member("Acme", "dave", "viewer");

    // Three editors add a move and sync, over and over; a sync that
    // succeeds means the server acknowledged the move. The server is killed
    // (SIGKILL: no shutdown, no flush) while they are at it.
    let stop = AtomicBool::new(false);
    let acknowledged = Mutex::new(Vec::new());
    let mut n_unacknowledged = 0;
    thread::scope(|scope| {
        let editors: Vec<_> = [&alice, &bob, &carol]
            .into_iter()
            .map(|client| {
                let (stop, acknowledged, campaign) = (&stop, &acknowledged, &campaign);
                scope.spawn(move || {
                    for round in 0.. {
                        if stop.load(Ordering::SeqCst) {
                            return 0;
                        }
                        let title = format!("{} {round}", client.user);
                        client.add_move(campaign, &title);
                        if !fully_synced(&client.run(&["--json", "sync", "now", "--timeout", "10"])) {
                            return 1; // the server is gone
                        }
                        acknowledged.lock().unwrap().push(title);
                    }
                    unreachable!()
                })
            })
            .collect();
        let deadline = Instant::now() + Duration::from_secs(90);
        while acknowledged.lock().unwrap().len() < 9 {
            assert!(Instant::now() < deadline, "the editors could not sync before the kill");
            thread::sleep(Duration::from_millis(20));
        }
        server.kill();
        stop.store(true, Ordering::SeqCst);
        n_unacknowledged = editors.into_iter().map(|editor| editor.join().unwrap()).sum();
    });
    let acknowledged = acknowledged.into_inner().unwrap();
    assert!(acknowledged.len() >= 9);

    // After a restart, a new device gets every acknowledged move from the
    // server alone.
    server.restart();
    let dave = Client::new("dave");
    dave.join(&server, &dave_token, None).ok();
    let on_server = dave.move_titles(&campaign);
    for title in &acknowledged {
        assert!(on_server.contains(title), "the acknowledged move {title:?} was lost (the server has {on_server:?})");
    }

    // The editors converge, with the moves the kill cut off too.
    for _ in 0..2 {
        for client in [&alice, &bob, &carol] {
            assert!(fully_synced(&client.sync()), "{} could not sync after the restart", client.user);
        }
    }
    dave.sync().ok();
    let titles = alice.move_titles(&campaign);
    assert_eq!(titles.len(), acknowledged.len() + n_unacknowledged, "{titles:?}");
    for client in [&bob, &carol, &dave] {
        assert_eq!(client.move_titles(&campaign), titles, "{}", client.user);
        assert_eq!(client.heads(), alice.heads(), "{}", client.user);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewers_cannot_write_non_members_read_nothing_and_bad_tokens_are_refused() {
    let server = Server::start();
    let (alice, workspace, campaign, alice_token) = shared_workspace(&server);
    let index_doc = alice.heads().keys().next().unwrap().clone();
    let victor_token = server.add_member("Acme", "victor", "viewer");
    let victor = Client::new("victor");
    victor.join(&server, &victor_token, None).ok();
    assert_eq!(victor.move_titles(&campaign), Vec::<String>::new());

    // The viewer's own edit stays on the viewer's device.
    victor.add_move(&campaign, "Viewer's move");
    let report = victor.sync().ok().json();
    assert_eq!(report[0]["read_only"], true, "{report}");
    alice.sync().ok();
    assert_eq!(alice.move_titles(&campaign), Vec::<String>::new());
    let dave = join_as(&server, "dave", "editor");
    assert_eq!(dave.move_titles(&campaign), Vec::<String>::new(), "the viewer's move reached the server");

    // A viewer that ignores the protocol and pushes a change anyway: dropped and counted.
    let mut raw_viewer = RawPeer::joined(server.port, &victor_token, "victor/raw").await;
    let frame = raw_viewer.doc("sync", &index_doc, &sync_message_with_change());
    raw_viewer.send(frame).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while server.metric("viewer_writes_dropped_total") == 0 {
        assert!(std::time::Instant::now() < deadline, "the dropped viewer write was not counted");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    drop(raw_viewer);
    alice.sync().ok();
    assert_eq!(alice.heads(), dave.heads(), "the raw viewer's change reached a member");
    assert!(server.log().contains("dropping changes from a viewer"));

    // A member of another workspace asking for Acme's index gets doc-unavailable.
    server.create_workspace("Other");
    let eve_token = server.add_member("Other", "eve", "owner");
    let mut eve = RawPeer::joined(server.port, &eve_token, "eve/raw").await;
    let frame = eve.doc("request", &index_doc, &empty_sync_message());
    eve.send(frame).await;
    let reply = eve.recv_map().await.expect("an answer to the request");
    assert_eq!(reply.get("type").map(String::as_str), Some("doc-unavailable"), "{reply:?}");
    assert_eq!(reply.get("documentId"), Some(&index_doc));

    // A peer id that is not the token's user is refused at the handshake.
    let mut impostor = RawPeer::connect(server.port, Some(&eve_token), "alice/laptop").await.unwrap();
    impostor.send(join_frame("alice/laptop", &["1"])).await;
    match impostor.ending().await {
        Ending::Closed { code, reason } => {
            assert_eq!(code, 1008);
            assert!(reason.contains("does not belong to eve"), "{reason}");
        }
        other => panic!("expected a close frame, got {other:?}"),
    }

    // Wrong, missing and revoked tokens are refused at the upgrade.
    let wrong = alice_token.replace(&alice_token[alice_token.len() - 4..], "0000");
    assert_eq!(RawPeer::connect(server.port, Some(&wrong), "alice/x").await.err().map(|e| e.0), Some(401));
    let (status, body) = RawPeer::connect(server.port, None, "alice/x").await.err().unwrap();
    assert_eq!(status, 401);
    assert!(body.contains("no sync token"), "{body}");
    let token_id = &victor_token[4..20];
    server.admin(&["token", "revoke", token_id]).ok();
    let (status, body) = RawPeer::connect(server.port, Some(&victor_token), "victor/x").await.err().unwrap();
    assert_eq!(status, 401);
    assert!(body.contains("revoked"), "{body}");
    let refused = victor.run(&["sync", "now", "--timeout", "5"]);
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(refused.stderr.contains("refused the token: the sync token was revoked"), "{}", refused.stderr);

    // Removing a member cuts their live connection too.
    let mut raw_dave = RawPeer::joined(server.port, &server.add_member("Acme", "dave", "editor"), "dave/raw").await;
    server.admin(&["member", "remove", "--workspace", "Acme", "--user", "dave"]).ok();
    assert!(matches!(raw_dave.ending().await, Ending::Closed { code: 1008, .. }));
    let removed = dave.run(&["sync", "now", "--timeout", "5"]);
    assert_eq!(removed.code, 2, "{removed:?}");
    assert!(server.metric("auth_failures_total") >= 4);
    let _ = workspace;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_frames_close_only_their_connection_and_damage_nothing() {
    let server = Server::start_with(None, &[("RAPTORFLOW_SYNC_MAX_FRAME_BYTES", "65536")]);
    let (alice, _workspace, campaign, alice_token) = shared_workspace(&server);
    let bob = join_as(&server, "bob", "editor");
    let index_doc = alice.heads().keys().next().unwrap().clone();
    // A well-behaved peer that stays connected through all of it.
    let mut bystander = RawPeer::joined(server.port, &alice_token, "alice/bystander").await;

    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("malformed CBOR", vec![0xbf, 0x61, 0x74, 0xff, 0x00, 0x13], 1008, "CBOR"),
        ("wrong protocol version", join_frame("alice/v2", &["2"]), 1008, "no supported protocol version"),
        ("oversized frame", vec![0xa0; 70_000], 1009, "limit"),
        (
            "unknown message type",
            raw_peer::cbor_map(&[("type", raw_peer::Value::Text("gossip")), ("senderId", raw_peer::Value::Text("alice/u"))]),
            1008,
            "unknown message type",
        ),
    ];
    for (what, frame, code, reason_part) in cases {
        let mut peer = RawPeer::connect(server.port, Some(&alice_token), "alice/bad").await.unwrap();
        peer.send(frame).await;
        match peer.ending().await {
            Ending::Closed { code: got, reason } => {
                assert_eq!(got, code, "{what}: {reason}");
                assert!(reason.contains(reason_part), "{what}: {reason}");
            }
            Ending::Dropped => panic!("{what}: the connection was dropped without a reason"),
        }
    }
    // Garbage inside a valid frame, after a valid handshake.
    let mut peer = RawPeer::joined(server.port, &alice_token, "alice/garbage").await;
    let frame = peer.doc("sync", &index_doc, b"\x42\x00garbage");
    peer.send(frame).await;
    assert!(matches!(peer.ending().await, Ending::Closed { code: 1008, ref reason } if reason.contains("invalid sync message")));
    // A text frame is not part of the protocol.
    let mut peer = RawPeer::joined(server.port, &alice_token, "alice/text").await;
    peer.send_text("hello").await;
    assert!(matches!(peer.ending().await, Ending::Closed { code: 1008, .. }));

    assert!(server.metric("protocol_errors_total") >= 6, "{}", server.get("/metrics").1);
    assert!(server.log().contains("closed a connection for a protocol error"));
    // Everyone else kept syncing, and nothing stored was damaged.
    let frame = bystander.doc("request", &index_doc, &empty_sync_message());
    bystander.send(frame).await;
    let reply = bystander.recv_map().await.expect("the bystander is still served");
    assert_eq!(reply.get("type").map(String::as_str), Some("sync"), "{reply:?}");
    bob.add_move(&campaign, "After the noise");
    bob.sync().ok();
    alice.sync().ok();
    assert_eq!(alice.move_titles(&campaign), ["After the noise"]);
    let carol = join_as(&server, "carol", "viewer");
    assert_eq!(carol.heads(), alice.heads());
    let (status, health) = server.get("/healthz");
    assert_eq!(status, 200, "{health}");
}

#[test]
fn wrong_urls_and_tokens_get_clear_errors_and_change_nothing() {
    require_keyring();
    let server = Server::start();
    server.create_workspace("Acme");
    let client = Client::new("alice");
    let token = server.add_member("Acme", "alice", "owner");
    let check = |args: Vec<String>, stdin: &str, code: i32, message: &str| {
        let mut command = client.command();
        command.args(&args).stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
        let mut child = command.spawn().unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert!(!stderr.contains(&token[21..]), "the secret leaked into an error: {stderr}");
    };
    let join = |server: &str| vec!["sync".to_owned(), "join".into(), "--server".into(), server.to_owned(), "--token-stdin".into()];
    check(join("http://127.0.0.1:1"), &token, 1, "could not reach the sync server at http://127.0.0.1:1");
    check(join("ftp://example.com"), &token, 2, "the scheme must be http, https, ws or wss");
    check(join(&server.url()), "not-a-token\n", 2, "not a raptorflow sync token");
    check(join(&format!("{}/nothing-here", server.url())), &token, 1, "does not look like a raptorflow-sync server");
    check(join(&server.url()), &token, 2, "has no documents yet");
    assert_eq!(client.run(&["--json", "sync", "status"]).ok().json(), serde_json::json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_slow_down_or_close_only_the_offending_connection() {
    let server = Server::start_with(
        None,
        &[("RAPTORFLOW_SYNC_IDLE_TIMEOUT_SECS", "2"), ("RAPTORFLOW_SYNC_MAX_DOCUMENTS_PER_CONNECTION", "3"), ("RAPTORFLOW_SYNC_MESSAGES_PER_SECOND", "20")],
    );
    server.create_workspace("Acme");
    let token = server.add_member("Acme", "alice", "owner");
    let new_doc = || samod::DocumentId::new(&mut rand::rng()).to_string();

    // Too many documents on one connection.
    let mut greedy = RawPeer::joined(server.port, &token, "alice/greedy").await;
    for _ in 0..4 {
        let frame = greedy.doc("request", &new_doc(), &empty_sync_message());
        greedy.send(frame).await;
    }
    match greedy.ending().await {
        Ending::Closed { code, reason } => assert_eq!((code, reason.as_str()), (1008, "more than 3 documents on one connection")),
        other => panic!("{other:?}"),
    }

    // Over the message rate: slowed down, not disconnected.
    let mut chatty = RawPeer::joined(server.port, &token, "alice/chatty").await;
    let doc = new_doc();
    let started = std::time::Instant::now();
    for _ in 0..80 {
        let frame = chatty.doc("sync", &doc, &empty_sync_message());
        chatty.send(frame).await;
    }
    let frame = chatty.doc("request", &doc, &empty_sync_message());
    chatty.send(frame).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while server.metric("messages_in_total") < 80 {
        assert!(std::time::Instant::now() < deadline, "the server stopped reading the chatty client");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(server.metric("rate_limited_total") > 0);
    // 40 messages of burst, then 20 a second: the rest take about two seconds.
    assert!(started.elapsed() >= std::time::Duration::from_millis(1000), "{:?}", started.elapsed());

    // Idle: closed with a reason after the timeout.
    let mut idle = RawPeer::joined(server.port, &token, "alice/idle").await;
    match idle.ending().await {
        Ending::Closed { code, reason } => assert_eq!((code, reason.as_str()), (1001, "idle for 2 seconds")),
        other => panic!("{other:?}"),
    }
    assert!(server.metric("limit_closes_total") >= 2);
}

#[test]
fn moves_and_campaigns_that_arrive_by_sync_are_found_by_id() {
    // Lookups by id trust the location table alone, so what a sync brings
    // must be recorded there: a move bob gets when he joins, a move added
    // to a campaign bob already has, and a campaign (with a move) created
    // after bob joined.
    let server = Server::start();
    let (alice, workspace, campaign, _) = shared_workspace(&server);
    let early_move = alice.add_move(&campaign, "Before the join");
    alice.sync().ok();
    let bob = join_as(&server, "bob", "editor");
    let set = bob.run(&["--json", "move", "set-status", &early_move, "in_progress"]).ok().json();
    assert_eq!(set["campaign_id"].as_str(), Some(campaign.as_str()), "{set}");
    let later_move = alice.add_move(&campaign, "Arrives later");
    let new_campaign = alice.run(&["--json", "campaign", "create", "--workspace", &workspace, "--goal", "g", "--channel", "email", "Autumn"]).ok().json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let move_in_new_campaign = alice.add_move(&new_campaign, "In the new campaign");
    alice.sync().ok();
    bob.sync().ok();

    let set = bob.run(&["--json", "move", "set-status", &later_move, "review"]).ok().json();
    assert_eq!(set["campaign_id"].as_str(), Some(campaign.as_str()), "{set}");
    let set = bob.run(&["--json", "move", "set-status", &move_in_new_campaign, "live"]).ok().json();
    assert_eq!(set["campaign_id"].as_str(), Some(new_campaign.as_str()), "{set}");
    bob.run(&["--json", "move", "add", "--campaign", &new_campaign, "--channel", "email", "Bob's"]).ok();
    // An id nobody has is still not found.
    let unknown = bob.run(&["move", "set-status", "0192f0c1-7a6e-7cc0-9a4e-3b1d2c4e5f63", "done"]);
    assert_eq!(unknown.code, 2, "{}", unknown.stderr);
    assert!(unknown.stderr.contains("no move with id"), "{}", unknown.stderr);
}

#[test]
fn sync_run_sends_what_another_process_saves_and_stops_on_ctrl_c() {
    use std::process::Stdio;
    use std::time::{Duration, Instant};

    let server = Server::start();
    let (alice, _workspace, campaign, _) = shared_workspace(&server);
    let bob = join_as(&server, "bob", "editor");
    let mut runner = alice.command().args(["sync", "run", "--interval", "1", "--timeout", "20"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();

    // A second process saves a move while `sync run` has the directory open;
    // `sync run` sends it without being restarted.
    alice.add_move(&campaign, "Saved while sync run was open");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        bob.sync().ok();
        if bob.move_titles(&campaign) == ["Saved while sync run was open"] {
            break;
        }
        assert!(Instant::now() < deadline, "bob never received the move that `sync run` should have sent");
        thread::sleep(Duration::from_millis(300));
    }

    // Ctrl-C ends it cleanly, and promptly.
    let interrupted = std::process::Command::new("kill").args(["-INT", &runner.id().to_string()]).status().unwrap();
    assert!(interrupted.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    while runner.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            runner.kill().unwrap();
            panic!("`sync run` did not stop within 10 s of Ctrl-C");
        }
        thread::sleep(Duration::from_millis(50));
    }
    let output = runner.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    assert!(stdout.lines().any(|line| line.starts_with("synced ") && line.ends_with(" documents in 1 workspaces")), "{stdout}");
}

#[test]
fn idle_documents_leave_the_servers_memory_and_load_again_with_nothing_lost() {
    let server = Server::start_with(None, &[("RAPTORFLOW_SYNC_UNLOAD_IDLE_SECS", "1")]);
    let (alice, _workspace, campaign, _) = shared_workspace(&server);
    let first = alice.add_move(&campaign, "Before the unload");
    alice.sync().ok();
    let synced = alice.heads().len() as u64;
    assert!(synced >= 2, "a workspace and a campaign at least: {synced}");

    // Nobody is connected: every document the server loaded leaves memory.
    server.until_documents_unloaded(synced);
    let unloaded = server.metric("documents_unloaded_total");

    // A new member gets everything from the database, and an edit made
    // after the unload reaches them.
    let bob = join_as(&server, "bob", "editor");
    assert_eq!(bob.move_titles(&campaign), ["Before the unload"]);
    let second = alice.add_move(&campaign, "After the unload");
    alice.sync().ok();
    bob.sync().ok();
    let mut titles = bob.move_titles(&campaign);
    titles.sort();
    assert_eq!(titles, ["After the unload", "Before the unload"]);
    assert_eq!(move_status(&bob, &campaign, &first), move_status(&alice, &campaign, &first));
    assert_eq!(move_status(&bob, &campaign, &second), move_status(&alice, &campaign, &second));
    assert_eq!(alice.heads(), bob.heads(), "both hold the same documents at the same heads");

    // And they leave memory again.
    server.until_documents_unloaded(unloaded + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_past_the_document_size_limit_is_told_why_and_the_document_stays_readable() {
    let server = Server::start_with(None, &[("RAPTORFLOW_SYNC_MAX_DOCUMENT_MIB", "1")]);
    server.create_workspace("Acme");
    let token = server.add_member("Acme", "alice", "owner");
    let document = samod::DocumentId::new(&mut rand::rng()).to_string();

    // Four 256 KiB changes take the document to 1 MiB; once they are
    // stored, the next change is refused.
    let mut writer = RawPeer::joined(server.port, &token, "alice/writer").await;
    let mut changes = raw_peer::ChangeStream::new();
    for _ in 0..5 {
        let frame = writer.doc("sync", &document, &changes.next_message(256 * 1024));
        writer.send(frame).await;
    }
    let answers = writer.drain(std::time::Duration::from_secs(2)).await;
    assert!(answers.iter().all(|m| m.get("type").map(String::as_str) == Some("sync")), "{answers:?}");
    for _ in 0..2 {
        let frame = writer.doc("sync", &document, &changes.next_message(256 * 1024));
        writer.send(frame).await;
    }
    let mut errors = Vec::new();
    while let Some(message) = writer.recv_map().await {
        if message.get("type").map(String::as_str) == Some("error") {
            errors.push(message.get("message").cloned().unwrap_or_default());
        }
    }
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains(&format!("document {document} takes")), "{}", errors[0]);
    assert!(errors[0].contains("over this server's limit of 1.0 MiB: its new changes are refused"), "{}", errors[0]);

    // What was accepted is there for a reader, and nothing after the refusal.
    use automerge::sync::SyncDoc;
    let mut reader = RawPeer::joined(server.port, &token, "alice/reader").await;
    let (mut copy, mut state) = (automerge::AutoCommit::new(), automerge::sync::State::new());
    let request = copy.sync().generate_sync_message(&mut state).unwrap().encode();
    let frame = reader.doc("request", &document, &request);
    reader.send(frame).await;
    while copy.get_changes(&[]).len() < 4 {
        let bytes = reader.recv_bytes().await.expect("the server answers the reader");
        let Some(message) = raw_peer::data_field(&bytes).and_then(|data| automerge::sync::Message::decode(&data).ok()) else { continue };
        copy.sync().receive_sync_message(&mut state, message).unwrap();
        if let Some(reply) = copy.sync().generate_sync_message(&mut state) {
            let frame = reader.doc("sync", &document, &reply.encode());
            reader.send(frame).await;
        }
    }
    assert_eq!(copy.get_changes(&[]).len(), 4, "the four changes stored before the refusal, and nothing after");
    assert!(server.log().contains("refusing changes"), "the refusal is logged");
}
