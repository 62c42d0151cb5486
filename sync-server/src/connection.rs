//! One client's WebSocket: every frame is checked before samod sees it, and
//! the connection is closed, with a logged and counted reason, on the first
//! frame that breaks the protocol or a limit. Other connections never notice.

use std::{collections::HashSet, io, sync::Arc, time::Duration};

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures::{SinkExt, StreamExt, channel::mpsc};
use rf_sync::{MessageKind, Role, decode_client_frame};
use samod_core::PeerId;
use tracing::Instrument;

use crate::{access::Identity, metrics::Metrics, server::AppState, store::Backend};

/// How long a client has to send its `join` after the upgrade.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// WebSocket close codes (RFC 6455).
const NORMAL: u16 = 1000;
const GOING_AWAY: u16 = 1001;
const POLICY: u16 = 1008;
const TOO_BIG: u16 = 1009;
const TRY_AGAIN: u16 = 1013;

/// Why we close a connection: a code and a reason for the peer and the log.
struct Closing {
    code: u16,
    reason: String,
}

impl Closing {
    fn new(code: u16, reason: impl Into<String>) -> Self {
        Self { code, reason: reason.into() }
    }
}

fn close_message(closing: &Closing) -> Message {
    // A close reason may be at most 123 bytes.
    let mut reason = closing.reason.clone();
    while reason.len() > 123 {
        reason.pop();
    }
    Message::Close(Some(CloseFrame { code: closing.code, reason: reason.into() }))
}

/// Runs one connection to the end. `ticket` is the browser ticket the
/// connection was opened with, if any.
pub async fn serve<B: Backend>(socket: WebSocket, identity: Identity, ticket: Option<String>, state: Arc<AppState<B>>) {
    let metrics = state.metrics.clone();
    metrics.connections.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Metrics::add(&metrics.connections_total, 1);
    let (connection_id, close_signal) = state.access.register_connection(identity.clone());
    let span = tracing::info_span!("connection", id = connection_id, user = %identity.user, workspace_id = identity.workspace_id);
    let outcome = run(socket, &identity, ticket.as_deref(), connection_id, close_signal, &state).instrument(span.clone()).await;
    state.access.unregister_connection(connection_id);
    metrics.connections.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    let _entered = span.enter();
    if outcome.is_none() {
        tracing::debug!("connection ended by the client");
    }
}

/// Counts and logs why we are closing a connection. Called before the close
/// frame goes out, so whoever sees the close also sees it counted.
fn report_closing(metrics: &Metrics, closing: &Closing) {
    if closing.code == POLICY || closing.code == TOO_BIG {
        Metrics::add(&metrics.protocol_errors_total, 1);
        tracing::warn!(reason = closing.reason, "closed a connection for a protocol error");
    } else {
        tracing::info!(reason = closing.reason, "closed a connection");
    }
}

async fn run<B: Backend>(
    socket: WebSocket,
    identity: &Identity,
    ticket: Option<&str>,
    connection_id: u64,
    close_signal: tokio::sync::watch::Receiver<Option<String>>,
    state: &Arc<AppState<B>>,
) -> Option<Closing> {
    let settings = &state.settings;
    let metrics = &state.metrics;
    let (ws_sink, mut ws_stream) = socket.split();

    // The handshake: the first frame must be a `join` from this user's peer id.
    let first = match tokio::time::timeout(HANDSHAKE_TIMEOUT, ws_stream.next()).await {
        Err(_) => Some(Err(Closing::new(POLICY, "no join message within 10 seconds"))),
        Ok(None) => None,
        Ok(Some(Err(err))) => Some(Err(receive_error(&err))),
        Ok(Some(Ok(Message::Binary(bytes)))) => Some(Ok(bytes)),
        Ok(Some(Ok(Message::Close(_)))) => None,
        Ok(Some(Ok(_))) => Some(Err(Closing::new(POLICY, "the first message must be a binary join message"))),
    };
    let first = match first? {
        Ok(bytes) => bytes,
        Err(closing) => return finish(ws_sink, metrics, closing).await,
    };
    Metrics::add(&metrics.messages_in_total, 1);
    Metrics::add(&metrics.bytes_in_total, first.len() as u64);
    let frame = match decode_client_frame(&first, settings.max_frame_bytes) {
        Ok(frame) if frame.kind == MessageKind::Join => frame,
        Ok(frame) => return finish(ws_sink, metrics, Closing::new(POLICY, format!("expected a join message, got `{}`", frame.kind.as_str()))).await,
        Err(err) => return finish(ws_sink, metrics, Closing::new(POLICY, err.to_string())).await,
    };
    let peer_id = frame.sender_id.unwrap_or_default();
    if let Some(ticket) = ticket
        && let Err(reason) = state.access.bind_ticket(ticket, &peer_id)
    {
        return finish(ws_sink, metrics, Closing::new(POLICY, reason)).await;
    }
    let outcome = run_joined(ws_sink, ws_stream, first, identity, peer_id, connection_id, close_signal, state).await;
    if let Some(ticket) = ticket {
        state.access.release_ticket(ticket);
    }
    outcome
}

/// The connection after a good `join`: binds the peer id, hands the
/// connection to samod and gates every frame until it ends.
#[allow(clippy::too_many_arguments)]
async fn run_joined<B: Backend>(
    mut ws_sink: futures::stream::SplitSink<WebSocket, Message>,
    mut ws_stream: futures::stream::SplitStream<WebSocket>,
    first: axum::body::Bytes,
    identity: &Identity,
    peer_id: String,
    connection_id: u64,
    mut close_signal: tokio::sync::watch::Receiver<Option<String>>,
    state: &Arc<AppState<B>>,
) -> Option<Closing> {
    let settings = &state.settings;
    let metrics = &state.metrics;
    if let Err(reason) = state.access.bind_peer(&peer_id, identity) {
        return finish(ws_sink, metrics, Closing::new(POLICY, reason)).await;
    }
    tracing::info!(peer = peer_id, role = %identity.role, "peer joined");

    let (mut to_samod, from_client) = mpsc::channel::<Result<Vec<u8>, io::Error>>(16);
    let (to_client, mut from_samod) = mpsc::channel::<Vec<u8>>(64);
    let _ = to_samod.send(Ok(first.to_vec())).await;
    let transport =
        samod::Transport::new(from_client, to_client.sink_map_err(|e| io::Error::other(e.to_string()))).with_expected_peer_id(PeerId::from(peer_id.as_str()));
    if state.acceptor.accept(transport).is_err() {
        state.access.unbind_peer(&peer_id);
        return finish(ws_sink, metrics, Closing::new(GOING_AWAY, "the server is shutting down")).await;
    }

    // Two tasks, so that neither direction can stall the other: samod may be
    // waiting to send to this client while we wait to hand it a frame.
    let (close_writer, writer_closing) = tokio::sync::oneshot::channel::<Closing>();
    let writer_metrics = metrics.clone();
    let mut writer = tokio::spawn(async move {
        let mut writer_closing = writer_closing;
        loop {
            tokio::select! {
                // Our reason comes first: once the reader has one, samod's
                // stream also ends, and that must not win the race.
                biased;
                closing = &mut writer_closing => {
                    let closing = closing.ok();
                    if let Some(closing) = &closing {
                        let _ = tokio::time::timeout(Duration::from_secs(2), ws_sink.send(close_message(closing))).await;
                    }
                    let _ = tokio::time::timeout(Duration::from_secs(2), ws_sink.close()).await;
                    return closing;
                }
                outgoing = from_samod.next() => match outgoing {
                    Some(bytes) => {
                        Metrics::add(&writer_metrics.messages_out_total, 1);
                        Metrics::add(&writer_metrics.bytes_out_total, bytes.len() as u64);
                        if ws_sink.send(Message::Binary(bytes.into())).await.is_err() {
                            return None;
                        }
                    }
                    None => {
                        let closing = Closing::new(NORMAL, "the server ended the sync session");
                        report_closing(&writer_metrics, &closing);
                        let _ = tokio::time::timeout(Duration::from_secs(2), ws_sink.send(close_message(&closing))).await;
                        return Some(closing);
                    }
                },
            }
        }
    });

    let idle = Duration::from_secs(settings.idle_timeout_secs);
    let mut documents = HashSet::new();
    // Documents this connection has tried to claim (see below), so that a
    // document is claimed at most once per connection.
    let mut claimed = HashSet::new();
    let closing = loop {
        tokio::select! {
            changed = close_signal.changed() => {
                let reason = if changed.is_ok() { close_signal.borrow().clone() } else { None };
                break Some(Closing::new(POLICY, reason.unwrap_or_else(|| "the server closed the connection".into())));
            }
            ended = &mut writer => {
                // samod ended the session, or the client stopped reading.
                to_samod.close_channel();
                state.access.unbind_peer(&peer_id);
                return ended.ok().flatten();
            }
            incoming = tokio::time::timeout(idle, ws_stream.next()) => {
                let bytes = match incoming {
                    Err(_) => {
                        Metrics::add(&metrics.limit_closes_total, 1);
                        break Some(Closing::new(GOING_AWAY, format!("idle for {} seconds", settings.idle_timeout_secs)));
                    }
                    Ok(None) | Ok(Some(Ok(Message::Close(_)))) => break None,
                    Ok(Some(Err(err))) => break Some(receive_error(&err)),
                    Ok(Some(Ok(Message::Binary(bytes)))) => bytes,
                    Ok(Some(Ok(Message::Text(_)))) => break Some(Closing::new(POLICY, "text frames are not part of the protocol")),
                    Ok(Some(Ok(_))) => continue,
                };
                Metrics::add(&metrics.messages_in_total, 1);
                Metrics::add(&metrics.bytes_in_total, bytes.len() as u64);
                state.access.throttle(&identity.token_id).await;
                let frame = match decode_client_frame(&bytes, settings.max_frame_bytes) {
                    Ok(frame) => frame,
                    Err(err) => break Some(Closing::new(POLICY, err.to_string())),
                };
                if frame.sender_id.as_deref().is_some_and(|sender| sender != peer_id) {
                    if frame.kind == MessageKind::Ephemeral {
                        // automerge-repo clients gossip the ephemeral messages
                        // they receive (presence, cursors) on to their other
                        // peers, us included, under the original sender's id.
                        // We relayed the original already; passing the echo on
                        // would let one member speak for another.
                        Metrics::add(&metrics.ephemeral_echoes_dropped_total, 1);
                        continue;
                    }
                    break Some(Closing::new(POLICY, "senderId does not match the peer id of the handshake"));
                }
                if frame.kind == MessageKind::Join {
                    break Some(Closing::new(POLICY, "a second join message on one connection"));
                }
                if let Some(document) = &frame.document_id {
                    if documents.len() >= settings.max_documents_per_connection && !documents.contains(document) {
                        Metrics::add(&metrics.limit_closes_total, 1);
                        break Some(Closing::new(POLICY, format!("more than {} documents on one connection", settings.max_documents_per_connection)));
                    }
                    if documents.insert(document.clone()) {
                        state.live_documents.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(document.to_string());
                    }
                    // A document nobody owns yet belongs to the workspace of the
                    // writer whose connection sends it first: claimed here,
                    // before samod sees the frame, so no share decision made
                    // for another connection can give it to another workspace.
                    if frame.kind == MessageKind::Sync
                        && state.access.connection_role(connection_id).is_some_and(Role::can_write)
                        && claimed.insert(document.clone())
                    {
                        match state.access.claim(document, &identity.workspace_id).await {
                            Ok(owner) if owner != identity.workspace_id => {
                                tracing::warn!(%document, "a member sent a document that belongs to another workspace");
                            }
                            Ok(_) => {}
                            Err(err) => {
                                Metrics::add(&metrics.storage_errors_total, 1);
                                tracing::error!(%document, error = %err, "could not claim a new document");
                                break Some(Closing::new(TRY_AGAIN, "the server could not record the document; try again"));
                            }
                        }
                    }
                    if frame.n_changes > 0 && state.access.connection_role(connection_id) == Some(Role::Viewer) {
                        Metrics::add(&metrics.viewer_writes_dropped_total, frame.n_changes as u64);
                        tracing::warn!(%document, n_changes = frame.n_changes, "dropping changes from a viewer");
                    }
                }
                if to_samod.send(Ok(bytes.to_vec())).await.is_err() {
                    break Some(Closing::new(NORMAL, "the server ended the sync session"));
                }
            }
        }
    };
    // The writer gets our reason before samod's stream ends (which tells
    // samod the peer is gone and ends the writer's input too).
    let ended = match closing {
        Some(closing) => {
            report_closing(metrics, &closing);
            let too_big = closing.code == TOO_BIG;
            let _ = close_writer.send(closing);
            to_samod.close_channel();
            let ended = tokio::time::timeout(Duration::from_secs(5), writer).await.ok().and_then(Result::ok).flatten();
            if too_big {
                // The rest of the oversized frame is still arriving and will
                // never be read: closing the socket with unread data makes
                // the kernel send a reset, which can reach the client before
                // it reads our 1009 and turn it into a bare 1006. Give the
                // close frame a moment to be read first.
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            drop(ws_stream);
            ended
        }
        None => {
            to_samod.close_channel();
            writer.abort();
            None
        }
    };
    state.access.unbind_peer(&peer_id);
    ended
}

fn receive_error(err: &axum::Error) -> Closing {
    let text = err.to_string();
    if text.contains("too long") || text.contains("too big") || text.contains("Space limit") {
        Closing::new(TOO_BIG, format!("frame over the size limit: {text}"))
    } else {
        Closing::new(POLICY, format!("could not read a frame: {text}"))
    }
}

async fn finish<S>(mut sink: S, metrics: &Metrics, closing: Closing) -> Option<Closing>
where
    S: futures::Sink<Message> + Unpin,
{
    report_closing(metrics, &closing);
    let _ = tokio::time::timeout(Duration::from_secs(2), sink.send(close_message(&closing))).await;
    let _ = tokio::time::timeout(Duration::from_secs(2), sink.close()).await;
    Some(closing)
}
