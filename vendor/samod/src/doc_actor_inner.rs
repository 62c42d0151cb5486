use std::collections::{HashMap, HashSet};
use std::sync::{
    Arc, Mutex,
    atomic::{AtomicUsize, Ordering},
};

use automerge::{Automerge, ReadDoc};
use futures::{Stream, channel::mpsc};
use samod_core::{
    ConnectionId, DocumentActorId, DocumentChanged, DocumentId, PeerId, SyncDirection,
    SyncMessageStat, UnixTimestamp,
    actors::{
        DocToHubMsg,
        document::{DocActorResult, DocumentActor, DocumentInput, WithDocResult},
    },
};

use crate::{
    actor_task::ActorTask,
    backlog::Charge,
    io_loop::{self, IoLoopTask},
    observer::{self, RepoObserver},
    peer_connection_info::PeerDocState,
    unbounded::{self, UnboundedReceiver, UnboundedSender},
};

pub(crate) struct DocActorInner {
    document_id: DocumentId,
    actor_id: DocumentActorId,
    tx_to_core: UnboundedSender<(DocumentActorId, DocToHubMsg)>,
    tx_io: UnboundedSender<io_loop::IoLoopTask>,
    ephemera_listeners: Vec<mpsc::UnboundedSender<Vec<u8>>>,
    change_listeners: Vec<mpsc::UnboundedSender<DocumentChanged>>,
    peer_state_change_listeners: Vec<mpsc::UnboundedSender<HashMap<ConnectionId, PeerDocState>>>,
    actor: DocumentActor,
    /// The set of peers who are connected to this document as of the last [`DocAtorResult`]
    last_observed_peers: HashSet<PeerId>,
    /// The actor's connections generation when `last_observed_peers` was
    /// taken: while it is unchanged, so is the peer set (PATCHES.md, 3).
    last_observed_generation: Option<u64>,
    observer: Option<Arc<dyn RepoObserver>>,
    /// Actors holding changes for a peer, to be ticked (PATCHES.md, 6).
    held_actors: HeldActors,
    /// Tasks dispatched to this actor and not yet handled (PATCHES.md, 14).
    queued: Arc<AtomicUsize>,
    /// The charges of messages the actor keeps until their connection's
    /// share policy is known: they count against the connection's backlog
    /// until then (PATCHES.md, 16).
    waiting_for_policy: HashMap<ConnectionId, Vec<Charge>>,
}

/// The document actors that hold changes for a peer waiting for its answer;
/// the repo's periodic tick gives each of them a [`ActorTask::Tick`].
pub(crate) type HeldActors = Arc<Held>;

/// The set behind [`HeldActors`]. The tick loop runs at the short interval
/// only while the set is non-empty, and the first actor added wakes it.
pub(crate) struct Held {
    actors: Mutex<HashSet<DocumentActorId>>,
    wake: UnboundedSender<()>,
}

impl Held {
    /// The set and the receiver the tick loop waits on.
    pub(crate) fn new() -> (HeldActors, UnboundedReceiver<()>) {
        let (wake, woken) = unbounded::channel();
        let held = Held {
            actors: Mutex::default(),
            wake,
        };
        (Arc::new(held), woken)
    }

    fn actors(&self) -> std::sync::MutexGuard<'_, HashSet<DocumentActorId>> {
        self.actors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn insert(&self, actor_id: DocumentActorId) {
        let mut actors = self.actors();
        if actors.is_empty() {
            let _ = self.wake.unbounded_send(());
        }
        actors.insert(actor_id);
    }

    pub(crate) fn take(&self) -> HashSet<DocumentActorId> {
        std::mem::take(&mut *self.actors())
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.actors().is_empty()
    }
}

impl DocActorInner {
    pub(crate) fn new(
        document_id: DocumentId,
        actor_id: DocumentActorId,
        actor: DocumentActor,
        tx_to_core: UnboundedSender<(DocumentActorId, DocToHubMsg)>,
        tx_io: UnboundedSender<io_loop::IoLoopTask>,
        observer: Option<Arc<dyn RepoObserver>>,
        held_actors: HeldActors,
    ) -> Self {
        DocActorInner {
            document_id,
            actor_id,
            tx_to_core,
            tx_io,
            ephemera_listeners: Vec::new(),
            change_listeners: Vec::new(),
            peer_state_change_listeners: Vec::new(),
            actor,
            last_observed_peers: HashSet::new(),
            last_observed_generation: None,
            observer,
            held_actors,
            queued: Arc::default(),
            waiting_for_policy: HashMap::new(),
        }
    }

    /// The count every dispatcher of this actor's tasks adds to.
    pub(crate) fn queued(&self) -> Arc<AtomicUsize> {
        self.queued.clone()
    }

    /// Stops the actor if it and everything listening to it is idle
    /// (PATCHES.md, 14).
    pub(crate) fn unload_if_idle(&mut self, idle_for: std::time::Duration) -> bool {
        // A stream from a dropped handle still listens to the document.
        let listened = self.ephemera_listeners.iter().any(|tx| !tx.is_closed())
            || self.change_listeners.iter().any(|tx| !tx.is_closed())
            || self
                .peer_state_change_listeners
                .iter()
                .any(|tx| !tx.is_closed());
        if listened || !self.actor.unload_if_idle(UnixTimestamp::now(), idle_for) {
            return false;
        }
        if let Some(ref obs) = self.observer {
            obs.observe(&observer::RepoEvent::DocumentClosed {
                document_id: self.document_id.clone(),
            });
        }
        true
    }

    pub(crate) fn document(&self) -> &Automerge {
        self.actor.document()
    }

    pub(crate) fn with_document<F, R>(&mut self, f: F) -> R
    where
        F: FnOnce(&mut Automerge) -> R,
    {
        let WithDocResult {
            actor_result,
            value,
        } = self.actor.with_document(UnixTimestamp::now(), f).unwrap();

        self.handle_results(actor_result);

        value
    }

    pub(crate) fn create_ephemera_listener(&mut self) -> mpsc::UnboundedReceiver<Vec<u8>> {
        let (tx, rx) = mpsc::unbounded();
        self.ephemera_listeners.push(tx);
        rx
    }

    pub(crate) fn create_change_listener(&mut self) -> mpsc::UnboundedReceiver<DocumentChanged> {
        let (tx, rx) = mpsc::unbounded();
        self.change_listeners.push(tx);
        rx
    }

    pub(crate) fn broadcast_ephemeral_message(&mut self, message: Vec<u8>) {
        let result = self.actor.broadcast(UnixTimestamp::now(), message);
        self.handle_results(result);
    }

    pub(crate) fn handle_results(&mut self, results: DocActorResult) {
        let DocActorResult {
            io_tasks,
            outgoing_messages,
            ephemeral_messages,
            change_events,
            stopped,
            peer_state_changes,
            sync_message_stats,
            pending_sync_messages,
            sync_held,
        } = results;
        if sync_held && !stopped {
            self.held_actors.insert(self.actor_id);
        }

        if let Some(new_peers) = self.connected_peers_changed(stopped) {
            // Send lifecycle changes before the checks below, including removal
            // of the last connection to a peer even when no check is generated.
            let _ = self.tx_io.unbounded_send(IoLoopTask::DocumentPeersChanged {
                actor_id: self.actor_id,
                peers: new_peers,
            });
        }
        let peer_count = self.actor.peer_count();
        let stats = self.actor.document().stats();
        log_sync_message_stats(
            &self.document_id,
            &sync_message_stats,
            peer_count,
            stats.num_ops,
            stats.num_changes,
        );

        if let Some(ref obs) = self.observer {
            for stat in &sync_message_stats {
                let event = match stat.direction {
                    SyncDirection::Received => observer::RepoEvent::SyncMessageReceived {
                        document_id: self.document_id.clone(),
                        connection_id: stat.connection_id,
                        bytes: stat.bytes,
                        duration: stat.duration,
                        queue_duration: stat.queue_duration,
                    },
                    SyncDirection::Generated => observer::RepoEvent::SyncMessageGenerated {
                        document_id: self.document_id.clone(),
                        connection_id: stat.connection_id,
                        bytes: stat.bytes,
                        duration: stat.duration,
                    },
                };
                obs.observe(&event);
            }
            if pending_sync_messages > 0 {
                obs.observe(&observer::RepoEvent::DocumentPendingSyncMessages {
                    document_id: self.document_id.clone(),
                    count: pending_sync_messages,
                });
            }
            if stopped {
                obs.observe(&observer::RepoEvent::DocumentClosed {
                    document_id: self.document_id.clone(),
                });
            }
        }
        for task in io_tasks {
            if let Err(_e) = self.tx_io.unbounded_send(IoLoopTask::Storage {
                doc_id: self.document_id.clone(),
                task,
                actor_id: self.actor_id,
            }) {
                tracing::error!("io receiver dropped whilst document actor is still running");
                return;
            }
        }

        for msg in outgoing_messages {
            if let Err(_e) = self.tx_to_core.unbounded_send((self.actor_id, msg)) {
                tracing::error!("core receiver dropped whilst document actor is still running");
                return;
            }
        }

        if !ephemeral_messages.is_empty() {
            self.ephemera_listeners.retain_mut(|listener| {
                for msg in &ephemeral_messages {
                    if listener.unbounded_send(msg.clone()).is_err() {
                        return false;
                    }
                }
                true
            });
        }

        if !change_events.is_empty() {
            self.change_listeners.retain_mut(|listener| {
                for change in &change_events {
                    if listener.unbounded_send(change.clone()).is_err() {
                        return false;
                    }
                }
                true
            });
        }

        if !peer_state_changes.is_empty() {
            let changes = peer_state_changes
                .into_iter()
                .map(|(k, v)| (k, v.into()))
                .collect::<HashMap<_, _>>();
            self.peer_state_change_listeners
                .retain_mut(move |listener| {
                    if listener.unbounded_send(changes.clone()).is_err() {
                        return false;
                    }
                    true
                });
        }
    }

    /// Handles queued tasks in order, giving runs of hub messages and IO
    /// completions to the actor as one batch so that it generates sync
    /// messages once per run rather than once per input (PATCHES.md, 2).
    pub(crate) fn handle_tasks(&mut self, tasks: Vec<ActorTask>) {
        let handled = tasks.len();
        self.handle_task_batch(tasks);
        // Released under the actor's lock, after the tasks took effect
        // (PATCHES.md, 14).
        self.queued.fetch_sub(handled, Ordering::SeqCst);
    }

    fn handle_task_batch(&mut self, tasks: Vec<ActorTask>) {
        let mut batch = Vec::new();
        // Released once the batch is handled (PATCHES.md, 10).
        let mut charges = Vec::new();
        for task in tasks {
            match task {
                ActorTask::HandleMessage(msg, charge) => {
                    if let (Some((connection_id, _)), Some(charge)) = (msg.inbound(), charge) {
                        charges.push((connection_id, charge));
                    }
                    batch.push(DocumentInput::Message(msg));
                }
                ActorTask::IoComplete(result) => batch.push(DocumentInput::IoComplete(result)),
                ActorTask::Tick => batch.push(DocumentInput::Tick),
                ActorTask::WithDocument(f) => {
                    self.flush_batch(&mut batch);
                    // Like the one-task loop this replaces, nothing runs on
                    // an actor once it has stopped.
                    if self.is_stopped() {
                        return;
                    }
                    f(self);
                }
            }
        }
        self.flush_batch(&mut batch);
        self.hold_charges_waiting_for_policy(charges);
    }

    /// A message that arrives before its connection's share policy is known
    /// waits in the actor (samod-core buffers it, up to 16 MiB, and drops the
    /// connection past that). Its charge is kept until the policy is known,
    /// so the connection stops being read at its backlog limit instead of
    /// filling that buffer while the policy is slow to answer (PATCHES.md,
    /// 16). Charges of connections whose policy has arrived, or that are
    /// gone, are released.
    fn hold_charges_waiting_for_policy(&mut self, charges: Vec<(ConnectionId, Charge)>) {
        let actor = &self.actor;
        self.waiting_for_policy
            .retain(|connection_id, _| actor.awaits_share_policy(*connection_id));
        for (connection_id, charge) in charges {
            if actor.awaits_share_policy(connection_id) {
                self.waiting_for_policy
                    .entry(connection_id)
                    .or_default()
                    .push(charge);
            }
        }
    }

    fn flush_batch(&mut self, batch: &mut Vec<DocumentInput>) {
        if batch.is_empty() {
            return;
        }
        let result = self
            .actor
            .handle_inputs(UnixTimestamp::now(), batch.drain(..));
        self.handle_results(result.unwrap());
    }

    pub(crate) fn is_stopped(&self) -> bool {
        self.actor.is_stopped()
    }

    pub(crate) fn peers(
        &mut self,
    ) -> (
        HashMap<ConnectionId, PeerDocState>,
        impl Stream<Item = HashMap<ConnectionId, PeerDocState>> + 'static + use<>,
    ) {
        let peers = self.actor.peers();
        let (tx, rx) = mpsc::unbounded();
        self.peer_state_change_listeners.push(tx);
        let peers = peers.into_iter().map(|(k, v)| (k, v.into())).collect();
        (peers, rx)
    }

    /// Returns the set of peers for this document if it is different to self.last_observed_peers
    pub(crate) fn connected_peers_changed(&mut self, stopped: bool) -> Option<HashSet<PeerId>> {
        let generation = (!stopped).then(|| self.actor.connections_generation());
        if generation.is_some() && generation == self.last_observed_generation {
            return None;
        }
        self.last_observed_generation = generation;
        let peers = if stopped {
            HashSet::new()
        } else {
            self.actor.connected_peer_ids()
        };
        if peers != self.last_observed_peers {
            self.last_observed_peers = peers.clone();
            Some(peers)
        } else {
            None
        }
    }
}

fn log_sync_message_stats(
    doc_id: &DocumentId,
    sync_message_stats: &[SyncMessageStat],
    peer_count: usize,
    num_ops: u64,
    num_changes: u64,
) {
    for stat in sync_message_stats {
        let direction = match stat.direction {
            SyncDirection::Received => "received",
            SyncDirection::Generated => "generated",
        };
        tracing::debug!(
            document_id = %doc_id,
            connection_id = ?stat.connection_id,
            direction,
            bytes = stat.bytes,
            duration_us = stat.duration.as_micros() as u64,
            queue_duration_us = stat.queue_duration.as_micros() as u64,
            peer_count,
            num_ops,
            num_changes,
            "sync_message"
        );
    }
}
