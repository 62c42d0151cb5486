mod update_share_policy;

use super::*;
use crate::{ShareAccess, ShareConfig, actors::messages::HubToDocMsgPayload};
use automerge::{
    ROOT, ReadDoc,
    sync::{self, SyncDoc},
    transaction::Transactable,
};

fn incoming_changes(v2: bool) -> SyncMessage {
    incoming_change(v2, "remote", true)
}

/// A first message from a new peer whose document holds one change that
/// puts `key`.
fn incoming_change(v2: bool, key: &str, value: impl Into<automerge::ScalarValue>) -> SyncMessage {
    let mut sender = Automerge::new();
    sender
        .transact::<_, _, automerge::AutomergeError>(|tx| tx.put(ROOT, key, value))
        .unwrap();
    let mut state = sync::State::new();
    let hello = Automerge::new()
        .generate_sync_message(&mut sync::State::new())
        .unwrap();
    sender.receive_sync_message(&mut state, hello).unwrap();
    if !v2 {
        state.their_capabilities = None;
    }
    let message = sender.generate_sync_message(&mut state).unwrap();
    assert!(!message.changes.is_empty());
    SyncMessage::Sync {
        data: message.encode(),
    }
}

fn new_actor(
    ready: bool,
    initial: Option<SyncMessage>,
) -> (DocumentActor, DocActorResult, ConnectionId, IoTaskId) {
    new_actor_limited(ready, initial, None)
}

fn new_actor_limited(
    ready: bool,
    initial: Option<SyncMessage>,
    max_document_bytes: Option<usize>,
) -> (DocumentActor, DocActorResult, ConnectionId, IoTaskId) {
    let conn = ConnectionId::new();
    let args = SpawnArgs {
        local_peer_id: "local".into(),
        actor_id: DocumentActorId::new(),
        document_id: DocumentId::new(&mut rand::rng()),
        initial_content: ready.then(Automerge::new),
        initial_connections: HashMap::from([(
            conn,
            ("remote".into(), initial.map(DocMessage::Sync)),
        )]),
        max_document_bytes,
    };
    let (actor, result) = DocumentActor::new(UnixTimestamp::now(), args);
    let policy_task = result
        .io_tasks
        .iter()
        .find(|task| matches!(task.action, DocumentIoTask::CheckSharePolicy { .. }))
        .unwrap()
        .task_id;
    (actor, result, conn, policy_task)
}

fn complete_policy(
    actor: &mut DocumentActor,
    task_id: IoTaskId,
    config: ShareConfig,
) -> DocActorResult {
    actor
        .handle_io_complete(
            UnixTimestamp::now(),
            IoResult {
                task_id,
                payload: DocumentIoResult::CheckSharePolicy(config),
            },
        )
        .unwrap()
}

fn has_network_output(result: &DocActorResult) -> bool {
    result.outgoing_messages.iter().any(|msg| match &msg.0 {
        DocToHubMsgPayload::SendSyncMessage { .. } => true,
        DocToHubMsgPayload::Broadcast { connections, .. } => !connections.is_empty(),
        _ => false,
    })
}

#[test]
fn initial_messages_wait_for_policy_in_ready_and_loading_phases() {
    for ready in [false, true] {
        for policy_before_load in [false, true] {
            for v2 in [false, true] {
                for config in [
                    ShareConfig::none(),
                    ShareConfig::read_only(),
                    ShareConfig::read_write(),
                ] {
                    let (mut actor, result, conn, task_id) =
                        new_actor(ready, Some(incoming_changes(v2)));
                    assert!(!has_network_output(&result));
                    assert!(result.change_events.is_empty());
                    assert!(actor.document().get_heads().is_empty());
                    assert_eq!(result.pending_sync_messages, 1);
                    assert!(!has_network_output(
                        &actor.broadcast(UnixTimestamp::now(), vec![1])
                    ));

                    let mut out = DocActorResult::new();
                    if !ready && !policy_before_load {
                        actor.handle_load(
                            UnixTimestamp::now(),
                            &mut out,
                            &HashMap::new(),
                            &HashMap::new(),
                        );
                        assert!(actor.document().get_heads().is_empty());
                        assert!(!has_network_output(&out));
                    }
                    let decision = complete_policy(&mut actor, task_id, config);
                    if !ready && policy_before_load {
                        assert!(actor.document().get_heads().is_empty());
                        actor.handle_load(
                            UnixTimestamp::now(),
                            &mut out,
                            &HashMap::new(),
                            &HashMap::new(),
                        );
                        actor.step(UnixTimestamp::now(), &mut out);
                    }
                    assert_eq!(
                        actor.document().get(ROOT, "remote").unwrap().is_some(),
                        config.access == ShareAccess::ReadWrite
                    );
                    assert_eq!(actor.peers()[&conn].share_config, Some(config));
                    if config.access != ShareAccess::ReadWrite {
                        assert!(decision.change_events.is_empty());
                        assert!(out.change_events.is_empty());
                        assert!(actor.document().get_heads().is_empty());
                    }
                }
            }
        }
    }
}

#[test]
fn unsolicited_changes_are_ignored_even_if_sender_ignores_read_only_flag() {
    for v2 in [false, true] {
        for request in [false, true] {
            let (mut actor, _, conn, task_id) = new_actor(true, None);
            complete_policy(&mut actor, task_id, ShareConfig::read_only());
            let SyncMessage::Sync { data } = incoming_changes(v2) else {
                unreachable!()
            };
            let message = if request {
                SyncMessage::Request { data }
            } else {
                SyncMessage::Sync { data }
            };
            let result = actor
                .handle_message(
                    UnixTimestamp::now(),
                    HubToDocMsg(HubToDocMsgPayload::HandleDocMessage {
                        connection_id: conn,
                        message: DocMessage::Sync(message),
                        received_at: UnixTimestamp::now(),
                    }),
                )
                .unwrap();
            assert!(actor.document().get_heads().is_empty());
            assert!(result.change_events.is_empty());
            assert!(!result.io_tasks.iter().any(|task| matches!(
                task.action,
                DocumentIoTask::Storage(crate::io::StorageTask::Put { .. })
            )));
        }
    }
}

#[test]
fn closed_connection_discards_pending_messages_and_late_policy_results() {
    let (mut actor, _, conn, task_id) = new_actor(true, Some(incoming_changes(true)));
    actor
        .handle_message(
            UnixTimestamp::now(),
            HubToDocMsg(HubToDocMsgPayload::ConnectionClosed {
                connection_id: conn,
            }),
        )
        .unwrap();
    let result = complete_policy(&mut actor, task_id, ShareConfig::read_write());
    assert!(actor.document().get_heads().is_empty());
    assert!(!has_network_output(&result));
    assert_eq!(result.pending_sync_messages, 0);
    assert!(actor.peers().is_empty());
}

#[test]
fn overflowing_pending_policy_queue_disconnects_without_applying_changes() {
    let (mut actor, _, conn, task_id) = new_actor(true, None);
    let mut disconnected = false;
    for _ in 0..65 {
        let result = actor
            .handle_message(
                UnixTimestamp::now(),
                HubToDocMsg(HubToDocMsgPayload::HandleDocMessage {
                    connection_id: conn,
                    message: DocMessage::Sync(SyncMessage::DocUnavailable),
                    received_at: UnixTimestamp::now(),
                }),
            )
            .unwrap();
        disconnected |= result.outgoing_messages.iter().any(|msg| {
            matches!(
                msg.0, DocToHubMsgPayload::Disconnect { connection_id, .. } if connection_id == conn
            )
        });
    }
    assert!(disconnected);
    assert!(actor.peers().is_empty());
    let result = complete_policy(&mut actor, task_id, ShareConfig::read_write());
    assert_eq!(result.pending_sync_messages, 0);
    assert!(actor.document().get_heads().is_empty());
}

#[test]
fn pending_policy_queue_limits_bytes_but_allows_one_large_document() {
    let (mut actor, _, conn, _) = new_actor(true, None);
    let conn = actor.peer_connections.get_mut(&conn).unwrap();
    let now = UnixTimestamp::now();
    assert!(conn.buffer_sync_message(
        SyncMessage::Sync {
            data: vec![0; 10 * 1024 * 1024]
        },
        now
    ));
    assert!(!conn.buffer_sync_message(
        SyncMessage::Sync {
            data: vec![0; 10 * 1024 * 1024]
        },
        now
    ));
    conn.pending_sync_messages.clear();
    assert!(conn.buffer_sync_message(
        SyncMessage::Sync {
            data: vec![0; 17 * 1024 * 1024]
        },
        now
    ));
    assert!(!conn.buffer_sync_message(SyncMessage::Sync { data: vec![0] }, now));
}

#[test]
fn resetting_sync_state_preserves_read_only() {
    let (mut actor, _, conn, task_id) = new_actor(true, None);
    complete_policy(&mut actor, task_id, ShareConfig::read_only());
    let conn = actor.peer_connections.get_mut(&conn).unwrap();
    conn.reset_sync_state();
    assert!(conn.sync_state.read_only);
}

/// Completes every storage task in `result`: loads find nothing, writes
/// succeed. Returns the results of those completions, merged.
fn complete_storage(actor: &mut DocumentActor, result: &DocActorResult) -> Vec<DocActorResult> {
    use crate::io::{StorageResult, StorageTask};
    let mut outs = Vec::new();
    for task in &result.io_tasks {
        let DocumentIoTask::Storage(storage) = &task.action else {
            continue;
        };
        let payload = match storage {
            StorageTask::LoadRange { .. } => StorageResult::LoadRange {
                values: HashMap::new(),
            },
            StorageTask::Load { .. } => StorageResult::Load { value: None },
            StorageTask::Put { .. } => StorageResult::Put,
            StorageTask::Delete { .. } => StorageResult::Delete,
        };
        outs.push(
            actor
                .handle_io_complete(
                    UnixTimestamp::now(),
                    IoResult {
                        task_id: task.task_id,
                        payload: DocumentIoResult::Storage(payload),
                    },
                )
                .unwrap(),
        );
    }
    outs
}

#[test]
fn an_actor_unloads_only_once_its_writes_are_done_its_peer_answered_and_it_was_quiet() {
    let idle_for = Duration::from_secs(30);
    let (mut actor, spawned, _conn, policy) = new_actor(true, Some(incoming_changes(true)));
    for out in complete_storage(&mut actor, &spawned) {
        assert!(out.io_tasks.is_empty(), "loading finds nothing to write");
    }
    let later = |secs| UnixTimestamp::now() + Duration::from_secs(secs);
    // The peer's changes wait for the share policy: not idle, however long.
    assert!(!actor.unload_if_idle(later(3600), idle_for));

    let allowed = complete_policy(&mut actor, policy, ShareConfig::default());
    assert!(
        actor.document().get(ROOT, "remote").unwrap().is_some(),
        "the peer's changes are applied"
    );
    assert!(
        allowed
            .io_tasks
            .iter()
            .any(|t| matches!(t.action, DocumentIoTask::Storage(_))),
        "the peer's changes are written"
    );
    assert!(
        !has_network_output(&allowed),
        "the peer is answered once its changes are on disk"
    );
    // Its changes are being written and it is owed its answer.
    assert!(!actor.unload_if_idle(later(3600), idle_for));

    let saved = complete_storage(&mut actor, &allowed);
    assert!(
        saved.iter().any(has_network_output),
        "saved: the peer gets its acknowledgement"
    );
    assert!(!actor.is_stopped());
    // Everything is on disk and answered, but the last input was just now.
    assert!(!actor.unload_if_idle(UnixTimestamp::now(), idle_for));
    assert!(!actor.unload_if_idle(later(10), idle_for));
    assert!(actor.unload_if_idle(later(31), idle_for));
    assert!(actor.is_stopped());

    // A stopped actor takes nothing more: the caller routes to a new one.
    let ignored = actor
        .handle_inputs(UnixTimestamp::now(), [DocumentInput::Tick])
        .unwrap();
    assert!(ignored.stopped && !has_network_output(&ignored) && ignored.io_tasks.is_empty());
}

#[test]
fn a_change_by_the_application_counts_as_activity() {
    let idle_for = Duration::from_secs(30);
    let (mut actor, spawned, _conn, policy) = new_actor(true, None);
    complete_storage(&mut actor, &spawned);
    complete_policy(&mut actor, policy, ShareConfig::default());
    let start = UnixTimestamp::now();
    let changed = actor
        .with_document(start + Duration::from_secs(20), |doc| {
            doc.transact::<_, _, automerge::AutomergeError>(|tx| tx.put(ROOT, "local", 1))
                .unwrap();
        })
        .unwrap();
    // Twenty seconds later: the change still has to be written.
    assert!(!actor.unload_if_idle(start + Duration::from_secs(40), idle_for));
    let mut pending = vec![changed.actor_result];
    while let Some(result) = pending.pop() {
        pending.extend(complete_storage(&mut actor, &result));
    }
    // Written, but the change was 20 s after the start: 30 s from it.
    assert!(!actor.unload_if_idle(start + Duration::from_secs(45), idle_for));
    assert!(actor.unload_if_idle(start + Duration::from_secs(51), idle_for));
}

fn sync_message(connection_id: ConnectionId, message: SyncMessage) -> DocumentInput {
    DocumentInput::Message(HubToDocMsg(HubToDocMsgPayload::HandleDocMessage {
        connection_id,
        message: DocMessage::Sync(message),
        received_at: UnixTimestamp::now(),
    }))
}

fn disconnect_reason(result: &DocActorResult) -> Option<&str> {
    result
        .outgoing_messages
        .iter()
        .find_map(|msg| match &msg.0 {
            DocToHubMsgPayload::Disconnect { reason, .. } => Some(reason.as_str()),
            _ => None,
        })
}

#[test]
fn changes_to_a_document_over_its_size_limit_are_refused_and_their_peer_disconnected() {
    let limit = 4_000;
    let (mut actor, spawned, conn, policy) = new_actor_limited(true, None, Some(limit));
    complete_storage(&mut actor, &spawned);
    complete_policy(&mut actor, policy, ShareConfig::default());

    // Under the limit: a change that takes it over is still applied.
    let big = "x".repeat(2 * limit);
    let applied = actor
        .handle_inputs(
            UnixTimestamp::now(),
            [sync_message(
                conn,
                incoming_change(true, "first", big.as_str()),
            )],
        )
        .unwrap();
    assert_eq!(disconnect_reason(&applied), None);
    assert!(actor.document().get(ROOT, "first").unwrap().is_some());
    complete_storage(&mut actor, &applied);

    // Over it: a peer's next change is refused, with the reason, and the
    // peer is disconnected; nothing of it is applied or written.
    let refused = actor
        .handle_inputs(
            UnixTimestamp::now(),
            [sync_message(conn, incoming_change(true, "second", 1))],
        )
        .unwrap();
    let reason = disconnect_reason(&refused).expect("the peer is disconnected");
    assert!(
        reason.contains("over this server's limit of 0.0 MiB"),
        "{reason}"
    );
    assert!(
        reason.contains(&actor.document_id().to_string()),
        "{reason}"
    );
    assert!(actor.document().get(ROOT, "second").unwrap().is_none());
    assert!(refused.io_tasks.is_empty(), "nothing written");
    assert_eq!(actor.peer_count(), 0);
}

#[test]
fn a_document_over_its_size_limit_can_still_be_read() {
    let (mut actor, spawned, conn, policy) = new_actor_limited(true, None, Some(1));
    complete_storage(&mut actor, &spawned);
    let mut pending = vec![complete_policy(&mut actor, policy, ShareConfig::default())];
    let changed = actor
        .with_document(UnixTimestamp::now(), |doc| {
            doc.transact::<_, _, automerge::AutomergeError>(|tx| tx.put(ROOT, "local", 1))
                .unwrap();
        })
        .unwrap();
    pending.push(changed.actor_result);
    while let Some(result) = pending.pop() {
        pending.extend(complete_storage(&mut actor, &result));
    }
    // A peer with nothing asks for it: it is answered, not disconnected.
    let hello = Automerge::new()
        .generate_sync_message(&mut sync::State::new())
        .unwrap();
    // Later than the throttle and the hold, which are not under test here.
    let answered = actor
        .handle_inputs(
            UnixTimestamp::now() + Duration::from_secs(5),
            [sync_message(
                conn,
                SyncMessage::Sync {
                    data: hello.encode(),
                },
            )],
        )
        .unwrap();
    assert_eq!(disconnect_reason(&answered), None);
    assert!(
        has_network_output(&answered),
        "the reader gets the document"
    );
}
