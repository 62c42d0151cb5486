//! Only peers whose sync state changed are asked for a message, and a burst
//! of inputs is one step (PATCHES.md, 1 and 2).

use std::collections::HashMap;

use automerge::{
    Automerge, ROOT, ReadDoc,
    sync::{self, SyncDoc},
    transaction::Transactable,
};

use super::*;
use crate::{
    actors::messages::HubToDocMsgPayload,
    io::{StorageResult, StorageTask},
};

/// A remote peer: its own copy of the document and sync state.
struct Remote {
    doc: Automerge,
    state: sync::State,
}

struct Fixture {
    actor: DocumentActor,
    remotes: HashMap<ConnectionId, Remote>,
    clock: Clock,
}

/// Simulated time: each reading is a step after the previous one, by
/// default 30 ms: past `SYNC_THROTTLE` but within `SYNC_HOLD`.
struct Clock {
    now: std::cell::Cell<UnixTimestamp>,
    step: std::cell::Cell<Duration>,
}

impl Clock {
    fn new() -> Self {
        Clock {
            now: std::cell::Cell::new(UnixTimestamp::now()),
            step: std::cell::Cell::new(Duration::from_millis(30)),
        }
    }

    fn now(&self) -> UnixTimestamp {
        let now = self.now.get() + self.step.get();
        self.now.set(now);
        now
    }
}

fn put(doc: &mut Automerge, key: &str, value: i64) {
    doc.transact::<_, _, automerge::AutomergeError>(|tx| tx.put(ROOT, key, value))
        .unwrap();
}

fn sync_messages(out: &DocActorResult) -> Vec<(ConnectionId, Vec<u8>)> {
    out.outgoing_messages
        .iter()
        .filter_map(|msg| match &msg.0 {
            DocToHubMsgPayload::SendSyncMessage {
                connection_id,
                message: SyncMessage::Sync { data } | SyncMessage::Request { data },
                ..
            } => Some((*connection_id, data.clone())),
            _ => None,
        })
        .collect()
}

/// Takes the puts and deletes out of `out` and returns their completions.
fn storage_done(out: &mut DocActorResult) -> Vec<DocumentInput> {
    let (storage, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut out.io_tasks)
        .into_iter()
        .partition(|task| {
            matches!(
                task.action,
                DocumentIoTask::Storage(StorageTask::Put { .. } | StorageTask::Delete { .. })
            )
        });
    out.io_tasks = rest;
    storage
        .into_iter()
        .map(|task| {
            let result = match task.action {
                DocumentIoTask::Storage(StorageTask::Put { .. }) => StorageResult::Put,
                _ => StorageResult::Delete,
            };
            DocumentInput::IoComplete(IoResult {
                task_id: task.task_id,
                payload: DocumentIoResult::Storage(result),
            })
        })
        .collect()
}

fn doc_message(conn: ConnectionId, data: Vec<u8>) -> DocumentInput {
    DocumentInput::Message(HubToDocMsg(HubToDocMsgPayload::HandleDocMessage {
        connection_id: conn,
        message: DocMessage::Sync(SyncMessage::Sync { data }),
        received_at: UnixTimestamp::now(),
    }))
}

impl Fixture {
    /// A ready actor with `peers` read-write connections, each remote
    /// starting from an empty document.
    fn new(peers: usize) -> Self {
        let clock = Clock::new();
        let mut initial = Automerge::new();
        put(&mut initial, "start", 0);
        let conns: Vec<ConnectionId> = (0..peers).map(|_| ConnectionId::new()).collect();
        let args = SpawnArgs {
            local_peer_id: "server".into(),
            actor_id: DocumentActorId::new(),
            document_id: DocumentId::new(&mut rand::rng()),
            initial_content: Some(initial),
            initial_connections: conns
                .iter()
                .enumerate()
                .map(|(i, conn)| (*conn, (format!("peer-{i}").into(), None)))
                .collect(),
            max_document_bytes: None,
        };
        let (actor, mut result) = DocumentActor::new(clock.now(), args);
        // The initial content's puts complete with the policy checks.
        let saved = storage_done(&mut result);
        let policies: Vec<DocumentInput> = result
            .io_tasks
            .iter()
            .filter(|task| matches!(task.action, DocumentIoTask::CheckSharePolicy { .. }))
            .map(|task| {
                DocumentInput::IoComplete(IoResult {
                    task_id: task.task_id,
                    payload: DocumentIoResult::CheckSharePolicy(ShareConfig::read_write()),
                })
            })
            .collect();
        assert_eq!(policies.len(), peers);
        let remotes = conns
            .iter()
            .map(|conn| {
                let remote = Remote {
                    doc: Automerge::new(),
                    state: sync::State::new(),
                };
                (*conn, remote)
            })
            .collect();
        let mut fixture = Fixture {
            actor,
            remotes,
            clock,
        };
        let out = fixture.step(policies.into_iter().chain(saved));
        // Each remote says hello, then everything settles.
        let hellos: Vec<_> = fixture.remote_replies(&out);
        let hellos = if hellos.is_empty() {
            conns
                .iter()
                .map(|conn| {
                    let remote = fixture.remotes.get_mut(conn).unwrap();
                    let hello = remote.doc.generate_sync_message(&mut remote.state).unwrap();
                    doc_message(*conn, hello.encode())
                })
                .collect()
        } else {
            hellos
        };
        fixture.settle(hellos);
        fixture
    }

    /// Hands the actor `inputs`, then completes the storage writes they
    /// caused (and those that follow) at once; the result is everything
    /// the actor asked for on the way.
    fn step(&mut self, inputs: impl IntoIterator<Item = DocumentInput>) -> DocActorResult {
        let now = self.clock.now();
        let mut out = self.actor.handle_inputs(now, inputs).unwrap();
        self.save(now, &mut out);
        out
    }

    /// A change made locally, saved like [`Fixture::step`].
    fn local_change(&mut self, change: impl FnOnce(&mut Automerge)) -> DocActorResult {
        let now = self.clock.now();
        let mut out = self.actor.with_document(now, change).unwrap().actor_result;
        self.save(now, &mut out);
        out
    }

    /// Completes the puts and deletes in `out`, adding what follows to it.
    fn save(&mut self, now: UnixTimestamp, out: &mut DocActorResult) {
        loop {
            let saved: Vec<DocumentInput> = storage_done(out);
            if saved.is_empty() {
                return;
            }
            let more = self.actor.handle_inputs(now, saved).unwrap();
            out.outgoing_messages.extend(more.outgoing_messages);
            out.io_tasks.extend(more.io_tasks);
            out.sync_held = more.sync_held;
        }
    }

    /// The remotes' answers to what the actor sent.
    fn remote_replies(&mut self, out: &DocActorResult) -> Vec<DocumentInput> {
        let mut replies = Vec::new();
        for (conn, data) in sync_messages(out) {
            let remote = self.remotes.get_mut(&conn).unwrap();
            let msg = sync::Message::decode(&data).unwrap();
            remote
                .doc
                .receive_sync_message(&mut remote.state, msg)
                .unwrap();
            if let Some(reply) = remote.doc.generate_sync_message(&mut remote.state) {
                replies.push(doc_message(conn, reply.encode()));
            }
        }
        replies
    }

    /// Feeds inputs one at a time, then the remotes' replies, until quiet.
    fn settle(&mut self, mut inputs: Vec<DocumentInput>) {
        for _ in 0..100 {
            if inputs.is_empty() {
                return;
            }
            let mut replies = Vec::new();
            for input in inputs {
                let out = self.step([input]);
                replies.extend(self.remote_replies(&out));
            }
            inputs = replies;
        }
        panic!("sync did not settle");
    }

    /// Lets time pass until nothing is held any more, then settles.
    fn finish(&mut self) {
        self.clock.step.set(SYNC_HOLD);
        for _ in 0..10 {
            let out = self.step([DocumentInput::Tick]);
            let replies = self.remote_replies(&out);
            if replies.is_empty() && !out.sync_held {
                return;
            }
            self.settle(replies);
        }
        panic!("changes stayed held");
    }

    fn assert_converged(&self) {
        let heads = self.actor.document().get_heads();
        for remote in self.remotes.values() {
            assert_eq!(remote.doc.get_heads(), heads);
        }
    }

    /// A remote makes a change; returns the message that carries it.
    ///
    /// A remote whose previous message is unanswered first sends its new
    /// heads alone; that exchange happens here, before the test counts.
    fn remote_change(&mut self, conn: ConnectionId, key: &str, value: i64) -> DocumentInput {
        let remote = self.remotes.get_mut(&conn).unwrap();
        put(&mut remote.doc, key, value);
        let mut msg = remote.doc.generate_sync_message(&mut remote.state).unwrap();
        for _ in 0..10 {
            if !msg.changes.is_empty() {
                return doc_message(conn, msg.encode());
            }
            let out = self.step([doc_message(conn, msg.encode())]);
            let reply = self.remote_replies(&out).pop();
            let remote = self.remotes.get_mut(&conn).unwrap();
            msg = match reply {
                Some(DocumentInput::Message(HubToDocMsg(
                    HubToDocMsgPayload::HandleDocMessage {
                        message: DocMessage::Sync(SyncMessage::Sync { data }),
                        ..
                    },
                ))) => sync::Message::decode(&data).unwrap(),
                _ => remote.doc.generate_sync_message(&mut remote.state).unwrap(),
            };
        }
        panic!("the remote never sent its change");
    }
}

#[test]
fn a_message_that_changes_nothing_visits_only_its_sender() {
    let mut fixture = Fixture::new(20);
    fixture.assert_converged();
    let conn = *fixture.remotes.keys().next().unwrap();

    // A change from one remote: the document moves, every peer is visited,
    // and the other 19 are sent the change.
    let change = fixture.remote_change(conn, "x", 1);
    let before = fixture.actor.sync_visits;
    let out = fixture.step([change]);
    assert_eq!(fixture.actor.sync_visits - before, 20);
    let sent_to: HashSet<_> = sync_messages(&out).into_iter().map(|(c, _)| c).collect();
    for other in fixture.remotes.keys().filter(|c| **c != conn) {
        assert!(sent_to.contains(other), "a peer was not sent the change");
    }

    // Each acknowledgement concerns only its sender: one visit each, where
    // samod 0.16 visited all 20 peers per acknowledgement.
    let replies = fixture.remote_replies(&out);
    assert!(replies.len() >= 19, "{} acknowledgements", replies.len());
    for reply in replies {
        let before = fixture.actor.sync_visits;
        let out = fixture.step([reply]);
        assert_eq!(fixture.actor.sync_visits - before, 1);
        let replies = fixture.remote_replies(&out);
        fixture.settle(replies);
    }
    fixture.assert_converged();
    for remote in fixture.remotes.values() {
        assert_eq!(
            remote.doc.get(ROOT, "x").unwrap().map(|(v, _)| v.as_i64()),
            Some(Some(1))
        );
    }

    // Inputs about nothing (a tick, a storage completion) visit nobody.
    let before = fixture.actor.sync_visits;
    let mut out = DocActorResult::new();
    fixture
        .actor
        .handle_input(fixture.clock.now(), ActorInput::Tick, &mut out);
    assert_eq!(fixture.actor.sync_visits, before);
    assert!(sync_messages(&out).is_empty());
}

#[test]
fn a_local_change_visits_every_peer_and_reaches_them() {
    let mut fixture = Fixture::new(10);
    let before = fixture.actor.sync_visits;
    let result = fixture.local_change(|doc| put(doc, "local", 7));
    assert_eq!(fixture.actor.sync_visits - before, 10);
    let replies = fixture.remote_replies(&result);
    assert_eq!(replies.len(), 10);
    fixture.settle(replies);
    fixture.assert_converged();
}

#[test]
fn a_burst_of_changes_is_one_step_with_one_message_per_peer() {
    let mut fixture = Fixture::new(10);
    let conns: Vec<ConnectionId> = fixture.remotes.keys().copied().collect();
    // Five remotes each send a change; all five arrive in one batch.
    let burst: Vec<_> = conns[..5]
        .iter()
        .enumerate()
        .map(|(i, conn)| fixture.remote_change(*conn, &format!("k{i}"), i as i64))
        .collect();
    let before = fixture.actor.sync_visits;
    let heads_before = fixture.actor.document().get_heads();
    let out = fixture.step(burst);
    // One step: each peer visited once (not 5 x 10), one message each.
    assert_eq!(fixture.actor.sync_visits - before, 10);
    let messages = sync_messages(&out);
    let per_peer: HashSet<_> = messages.iter().map(|(c, _)| *c).collect();
    assert_eq!(
        per_peer.len(),
        messages.len(),
        "a peer got more than one message"
    );
    for other in &conns[5..] {
        assert!(
            per_peer.contains(other),
            "a peer that made no change was not sent them"
        );
    }
    // The burst moved the document (a remote whose previous message was not
    // yet answered sends heads first and its change on the next round).
    assert_ne!(fixture.actor.document().get_heads(), heads_before);
    let replies = fixture.remote_replies(&out);
    fixture.settle(replies);
    fixture.assert_converged();
    for remote in fixture.remotes.values() {
        for i in 0..5 {
            assert!(remote.doc.get(ROOT, format!("k{i}")).unwrap().is_some());
        }
    }
}

#[test]
fn the_peer_set_generation_moves_only_with_connections() {
    let mut fixture = Fixture::new(3);
    let generation = fixture.actor.connections_generation();
    assert_eq!(fixture.actor.peer_count(), 3);
    let conn = *fixture.remotes.keys().next().unwrap();
    let change = fixture.remote_change(conn, "y", 2);
    fixture.step([change]);
    assert_eq!(fixture.actor.connections_generation(), generation);
    let closed = DocumentInput::Message(HubToDocMsg(HubToDocMsgPayload::ConnectionClosed {
        connection_id: conn,
    }));
    fixture.step([closed]);
    assert_ne!(fixture.actor.connections_generation(), generation);
    assert_eq!(fixture.actor.peer_count(), 2);
    assert_eq!(fixture.actor.connected_peer_ids().len(), 2);
}

fn sent_to(out: &DocActorResult) -> HashSet<ConnectionId> {
    sync_messages(out).into_iter().map(|(c, _)| c).collect()
}

#[test]
fn a_peer_that_has_not_answered_gets_later_changes_in_one_message() {
    let mut fixture = Fixture::new(5);
    let conns: Vec<ConnectionId> = fixture.remotes.keys().copied().collect();
    let writer = conns[0];
    // What follows happens within a few milliseconds, well inside the hold.
    fixture.clock.now();
    fixture.clock.step.set(Duration::from_millis(1));

    // A remote's change goes to the other four, who now owe an answer.
    let change = fixture.remote_change(writer, "first", 1);
    let first = fixture.step([change]);
    for other in &conns[1..] {
        assert!(sent_to(&first).contains(other));
    }

    // Two more changes before they answer: only the writer, who owes
    // nothing, is sent them; the others are held.
    let mut writer_replies = Vec::new();
    for value in [2, 3] {
        let result = fixture.local_change(|doc| put(doc, "local", value));
        let to = sent_to(&result);
        assert!(
            to.iter().all(|c| *c == writer),
            "held peers were sent a message"
        );
        assert!(result.sync_held);
        writer_replies.extend(fixture.remote_replies(&result));
    }
    fixture.settle(writer_replies);

    // Their answers come within the throttle of the message they answer,
    // and would carry only the writer's news: they are held until it passes
    // (PATCHES.md, 12), then each brings one message with both changes.
    let answers = fixture.remote_replies(&first);
    let mut answered = HashSet::new();
    for answer in answers {
        let DocumentInput::Message(HubToDocMsg(HubToDocMsgPayload::HandleDocMessage {
            connection_id: from,
            ..
        })) = &answer
        else {
            unreachable!()
        };
        let from = *from;
        answered.insert(from);
        let out = fixture.step([answer]);
        if from != writer {
            assert!(
                !sent_to(&out).contains(&from),
                "news went out within the throttle"
            );
            assert!(out.sync_held);
        }
        let replies = fixture.remote_replies(&out);
        fixture.settle(replies);
    }
    let later = fixture.clock.now() + SYNC_THROTTLE;
    let tick = fixture
        .actor
        .handle_inputs(later, [DocumentInput::Tick])
        .unwrap();
    let messages = sync_messages(&tick);
    for other in &conns[1..] {
        let to_other: Vec<_> = messages.iter().filter(|(c, _)| c == other).collect();
        assert_eq!(to_other.len(), 1, "a held peer's tick brings one message");
        let msg = sync::Message::decode(&to_other[0].1).unwrap();
        assert!(!msg.changes.is_empty(), "and it carries the held changes");
    }
    let replies = fixture.remote_replies(&tick);
    fixture.settle(replies);
    for other in &conns[1..] {
        assert!(answered.contains(other));
    }
    fixture.finish();
    fixture.assert_converged();
    for remote in fixture.remotes.values() {
        assert_eq!(
            remote
                .doc
                .get(ROOT, "local")
                .unwrap()
                .map(|(v, _)| v.as_i64()),
            Some(Some(3))
        );
    }
}

#[test]
fn an_answer_with_news_waits_for_the_throttle_but_an_acknowledgement_does_not() {
    let mut fixture = Fixture::new(2);
    let conns: Vec<ConnectionId> = fixture.remotes.keys().copied().collect();
    let (writer, reader) = (conns[0], conns[1]);
    fixture.clock.now();
    fixture.clock.step.set(Duration::from_millis(1));

    // The writer's change goes to the reader; the writer is acknowledged.
    let change = fixture.remote_change(writer, "a", 1);
    let first = fixture.step([change]);
    assert!(sent_to(&first).contains(&reader));
    assert!(
        announced_heads(&first, writer).is_some(),
        "the writer was not acknowledged"
    );
    let reader_answer: Vec<_> = fixture
        .remote_replies(&first)
        .into_iter()
        .filter(|input| matches!(input, DocumentInput::Message(HubToDocMsg(HubToDocMsgPayload::HandleDocMessage { connection_id, .. })) if *connection_id == reader))
        .collect();
    assert_eq!(reader_answer.len(), 1);

    // A second change before the reader answers: held for the reader, and
    // still acknowledged at once to the writer, 1 ms after its last message.
    let change = fixture.remote_change(writer, "b", 2);
    let second = fixture.step([change]);
    assert!(!sent_to(&second).contains(&reader));
    let heads = fixture.actor.document().get_heads();
    assert_eq!(
        announced_heads(&second, writer),
        Some(heads),
        "an acknowledgement was held"
    );

    // The reader's answer arrives within the throttle. Answering it now
    // would only carry the second change: it waits.
    let answered = fixture.step(reader_answer);
    assert!(
        !sent_to(&answered).contains(&reader),
        "news went out within the throttle"
    );
    assert!(answered.sync_held);

    // Once the throttle has passed, a tick sends it.
    let later = fixture.clock.now() + SYNC_THROTTLE;
    let tick = fixture
        .actor
        .handle_inputs(later, [DocumentInput::Tick])
        .unwrap();
    let msg = sync_messages(&tick)
        .into_iter()
        .find(|(c, _)| *c == reader)
        .map(|(_, data)| sync::Message::decode(&data).unwrap())
        .expect("the held answer went out on the tick");
    assert!(!msg.changes.is_empty());
    let replies = fixture.remote_replies(&tick);
    fixture.settle(replies);
    fixture.finish();
    fixture.assert_converged();
}

#[test]
fn held_changes_go_out_on_a_tick_once_the_hold_has_passed() {
    let mut fixture = Fixture::new(3);
    let result = fixture.local_change(|doc| put(doc, "a", 1));
    assert_eq!(sent_to(&result).len(), 3);
    // Nobody answers; a second change is held for all three.
    let result = fixture.local_change(|doc| put(doc, "b", 2));
    assert!(sync_messages(&result).is_empty());
    assert!(result.sync_held);
    // A tick within the hold changes nothing; one after it sends.
    let early = fixture.step([DocumentInput::Tick]);
    assert!(sync_messages(&early).is_empty());
    let later = fixture.clock.now() + SYNC_HOLD + Duration::from_millis(1);
    let late = fixture
        .actor
        .handle_inputs(later, [DocumentInput::Tick])
        .unwrap();
    assert_eq!(sent_to(&late).len(), 3);
    assert!(!late.sync_held);
}

/// The heads a sync message from the actor announces.
fn announced_heads(out: &DocActorResult, to: ConnectionId) -> Option<Vec<ChangeHash>> {
    sync_messages(out)
        .into_iter()
        .filter(|(c, _)| *c == to)
        .map(|(_, data)| sync::Message::decode(&data).unwrap().heads)
        .next_back()
}

#[test]
fn a_sender_is_answered_only_once_its_change_is_on_disk() {
    let mut fixture = Fixture::new(3);
    let conns: Vec<ConnectionId> = fixture.remotes.keys().copied().collect();
    let (first, second) = (conns[0], conns[1]);

    // The first remote's change: the others get it at once; its sender
    // gets no answer (which would acknowledge it) while it is not saved.
    let change = fixture.remote_change(first, "a", 1);
    let mut out = fixture
        .actor
        .handle_inputs(fixture.clock.now(), [change])
        .unwrap();
    assert!(sent_to(&out).contains(&conns[2]));
    assert!(!sent_to(&out).contains(&first), "answered before saving");
    let saves_a = storage_done(&mut out);
    assert!(!saves_a.is_empty(), "the change was not saved");
    // What was sent is delivered; the remotes' answers wait until the end.
    let mut answers = fixture.remote_replies(&out);

    // The second remote's change, saved by a later put.
    let change = fixture.remote_change(second, "b", 2);
    let mut out = fixture
        .actor
        .handle_inputs(fixture.clock.now(), [change])
        .unwrap();
    let heads_b = fixture.actor.document().get_heads();
    assert!(!sent_to(&out).contains(&second));
    let saves_b = storage_done(&mut out);
    answers.extend(fixture.remote_replies(&out));

    // The later put completing first answers nobody: an answer must not
    // overtake an earlier write that is still running.
    let out = fixture
        .actor
        .handle_inputs(fixture.clock.now(), saves_b)
        .unwrap();
    assert!(!sent_to(&out).contains(&first));
    assert!(!sent_to(&out).contains(&second));
    answers.extend(fixture.remote_replies(&out));

    // Once the first put completes both are answered, each with heads that
    // include its own change.
    let out = fixture
        .actor
        .handle_inputs(fixture.clock.now(), saves_a)
        .unwrap();
    let to_first = announced_heads(&out, first).expect("the first sender was not answered");
    let to_second = announced_heads(&out, second).expect("the second sender was not answered");
    assert_eq!(
        to_first, heads_b,
        "the answer does not cover the first change"
    );
    assert_eq!(to_second, heads_b);
    answers.extend(fixture.remote_replies(&out));
    fixture.settle(answers);
    fixture.finish();
    fixture.assert_converged();
}

#[test]
fn a_message_crossing_ours_is_not_answered_with_our_heads_again() {
    let mut fixture = Fixture::new(2);
    let conns: Vec<ConnectionId> = fixture.remotes.keys().copied().collect();
    let stale_doc = fixture.remotes[&conns[0]].doc.clone();
    let out = fixture.local_change(|doc| put(doc, "x", 1));
    assert_eq!(sent_to(&out).len(), 2);

    // A message the first remote sent before ours reached it: its heads
    // lack our change. Answering it would repeat our heads and nothing else.
    let stale = stale_doc
        .generate_sync_message(&mut sync::State::new())
        .unwrap();
    let answered = fixture.step([doc_message(conns[0], stale.encode())]);
    assert!(
        sync_messages(&answered).is_empty(),
        "a message crossing ours was answered"
    );

    // Ours arrives; the remotes' answers settle everything.
    let replies = fixture.remote_replies(&out);
    fixture.settle(replies);
    fixture.finish();
    fixture.assert_converged();

    // A message from a peer that has something we lack is answered.
    let remote = fixture.remotes.get_mut(&conns[1]).unwrap();
    let mut ahead = remote.doc.clone();
    put(&mut ahead, "theirs", 2);
    let news = ahead
        .generate_sync_message(&mut sync::State::new())
        .unwrap();
    let out = fixture.step([doc_message(conns[1], news.encode())]);
    assert!(sent_to(&out).contains(&conns[1]));
}
