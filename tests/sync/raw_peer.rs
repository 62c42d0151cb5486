//! A hand-driven automerge-repo peer over a real WebSocket, for sending
//! exactly the frames a test wants: valid ones, and broken ones.

#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use minicbor::Encoder;
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream,
    tungstenite::{self, Message, client::IntoClientRequest, http::HeaderValue},
};

pub type Socket = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

pub struct RawPeer {
    socket: Socket,
    pub peer_id: String,
    /// The server's peer id, from its `peer` reply.
    pub server_id: String,
}

/// What the server did with the connection.
#[derive(Debug, PartialEq, Eq)]
pub enum Ending {
    Closed { code: u16, reason: String },
    Dropped,
}

/// A CBOR map of text keys to text, byte or text-array values.
pub enum Value<'a> {
    Text(&'a str),
    Bytes(&'a [u8]),
    Texts(&'a [&'a str]),
}

pub fn cbor_map(entries: &[(&str, Value<'_>)]) -> Vec<u8> {
    let mut encoder = Encoder::new(Vec::new());
    encoder.map(entries.len() as u64).unwrap();
    for (key, value) in entries {
        encoder.str(key).unwrap();
        match value {
            Value::Text(text) => {
                encoder.str(text).unwrap();
            }
            Value::Bytes(bytes) => {
                encoder.bytes(bytes).unwrap();
            }
            Value::Texts(texts) => {
                encoder.array(texts.len() as u64).unwrap();
                for text in texts.iter() {
                    encoder.str(text).unwrap();
                }
            }
        }
    }
    encoder.into_writer()
}

pub fn join_frame(peer_id: &str, versions: &[&str]) -> Vec<u8> {
    cbor_map(&[("type", Value::Text("join")), ("senderId", Value::Text(peer_id)), ("supportedProtocolVersions", Value::Texts(versions))])
}

pub fn doc_frame(kind: &str, peer_id: &str, target_id: &str, document: &str, data: &[u8]) -> Vec<u8> {
    cbor_map(&[
        ("type", Value::Text(kind)),
        ("senderId", Value::Text(peer_id)),
        ("targetId", Value::Text(target_id)),
        ("documentId", Value::Text(document)),
        ("data", Value::Bytes(data)),
    ])
}

/// An ephemeral (presence) message, as automerge-repo's `handle.broadcast` sends it.
pub fn ephemeral_frame(peer_id: &str, target_id: &str, document: &str, session_id: &str, count: u64, data: &[u8]) -> Vec<u8> {
    let mut encoder = Encoder::new(Vec::new());
    encoder.map(7).unwrap();
    encoder.str("type").unwrap().str("ephemeral").unwrap();
    encoder.str("senderId").unwrap().str(peer_id).unwrap();
    encoder.str("targetId").unwrap().str(target_id).unwrap();
    encoder.str("documentId").unwrap().str(document).unwrap();
    encoder.str("sessionId").unwrap().str(session_id).unwrap();
    encoder.str("count").unwrap().u64(count).unwrap();
    encoder.str("data").unwrap().bytes(data).unwrap();
    encoder.into_writer()
}

/// A sync message that carries one new change (a field set on the root).
pub fn sync_message_with_change() -> Vec<u8> {
    use automerge::{sync::SyncDoc, transaction::Transactable};
    let mut doc = automerge::AutoCommit::new();
    doc.put(automerge::ROOT, "intruder", "was here").unwrap();
    let mut ours = automerge::sync::State::new();
    let first = doc.sync().generate_sync_message(&mut ours).unwrap();
    let mut peer = automerge::AutoCommit::new();
    let mut theirs = automerge::sync::State::new();
    peer.sync().receive_sync_message(&mut theirs, first).unwrap();
    let reply = peer.sync().generate_sync_message(&mut theirs).unwrap();
    doc.sync().receive_sync_message(&mut ours, reply).unwrap();
    doc.sync().generate_sync_message(&mut ours).unwrap().encode()
}

/// A stream of sync messages that each carry one new change of about
/// `change_bytes`, as fast as a client can make them, without waiting for
/// the other side: a shadow copy plays the receiver, so each message holds
/// exactly the change the previous ones did not.
pub struct ChangeStream {
    doc: automerge::AutoCommit,
    ours: automerge::sync::State,
    shadow: automerge::AutoCommit,
    theirs: automerge::sync::State,
    seed: u64,
    n: u64,
}

impl ChangeStream {
    pub fn new() -> Self {
        Self {
            doc: automerge::AutoCommit::new(),
            ours: automerge::sync::State::new(),
            shadow: automerge::AutoCommit::new(),
            theirs: automerge::sync::State::new(),
            seed: 0x9E37_79B9_7F4A_7C15,
            n: 0,
        }
    }

    /// The next sync message; the first one only introduces the document.
    pub fn next_message(&mut self, change_bytes: usize) -> Vec<u8> {
        use automerge::{sync::SyncDoc, transaction::Transactable};
        if self.n > 0 {
            // Text that does not compress, so the change is as big as asked.
            let text: String = (0..change_bytes)
                .map(|_| {
                    self.seed ^= self.seed << 13;
                    self.seed ^= self.seed >> 7;
                    self.seed ^= self.seed << 17;
                    char::from(b'a' + (self.seed % 26) as u8)
                })
                .collect();
            self.doc.put(automerge::ROOT, "blob", text).unwrap();
            self.doc.put(automerge::ROOT, "n", self.n).unwrap();
        }
        self.n += 1;
        let message = self.doc.sync().generate_sync_message(&mut self.ours).expect("a message");
        let data = message.encode();
        let mirrored = automerge::sync::Message::decode(&data).unwrap();
        self.shadow.sync().receive_sync_message(&mut self.theirs, mirrored).unwrap();
        if let Some(reply) = self.shadow.sync().generate_sync_message(&mut self.theirs) {
            self.doc.sync().receive_sync_message(&mut self.ours, reply).unwrap();
        }
        data
    }

    /// The heads after every message so far.
    pub fn heads(&mut self) -> Vec<automerge::ChangeHash> {
        self.doc.get_heads()
    }
}

/// The `data` bytes of a CBOR map, if it has them.
pub fn data_field(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut decoder = minicbor::Decoder::new(bytes);
    let n = decoder.map().ok()??;
    for _ in 0..n {
        let key = decoder.str().ok()?;
        if key == "data" {
            return decoder.bytes().ok().map(<[u8]>::to_vec);
        }
        decoder.skip().ok()?;
    }
    None
}

/// The `message` of an `error` message, if `bytes` is one.
pub fn error_message(bytes: &[u8]) -> Option<String> {
    let fields = text_fields(bytes);
    (fields.get("type").map(String::as_str) == Some("error")).then(|| fields.get("message").cloned().unwrap_or_default())
}

/// An empty sync message (nothing to offer), as sent with a `request`.
pub fn empty_sync_message() -> Vec<u8> {
    use automerge::sync::SyncDoc;
    let mut doc = automerge::AutoCommit::new();
    doc.sync().generate_sync_message(&mut automerge::sync::State::new()).unwrap().encode()
}

impl RawPeer {
    /// Opens `/sync` with a bearer token; on refusal returns the HTTP status and body.
    pub async fn connect(port: u16, token: Option<&str>, peer_id: &str) -> Result<Self, (u16, String)> {
        let mut request = format!("ws://127.0.0.1:{port}/sync").into_client_request().unwrap();
        if let Some(token) = token {
            request.headers_mut().insert("authorization", HeaderValue::from_str(&format!("Bearer {token}")).unwrap());
        }
        match tokio_tungstenite::connect_async(request).await {
            Ok((socket, _)) => Ok(Self { socket, peer_id: peer_id.to_owned(), server_id: String::new() }),
            Err(tungstenite::Error::Http(response)) => {
                let body = response.body().as_ref().map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default();
                Err((response.status().as_u16(), body))
            }
            Err(err) => panic!("could not connect: {err}"),
        }
    }

    /// Opens `/sync?ticket=...`, as a browser would; on refusal returns the HTTP status and body.
    pub async fn connect_ticket(port: u16, ticket: &str, peer_id: &str) -> Result<Self, (u16, String)> {
        match tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/sync?ticket={ticket}")).await {
            Ok((socket, _)) => Ok(Self { socket, peer_id: peer_id.to_owned(), server_id: String::new() }),
            Err(tungstenite::Error::Http(response)) => {
                let body = response.body().as_ref().map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default();
                Err((response.status().as_u16(), body))
            }
            Err(err) => panic!("could not connect: {err}"),
        }
    }

    /// Every message that arrives within `window`, as text fields.
    pub async fn drain(&mut self, window: Duration) -> Vec<std::collections::BTreeMap<String, String>> {
        let mut messages = Vec::new();
        let deadline = tokio::time::Instant::now() + window;
        while let Ok(Some(Ok(message))) = tokio::time::timeout_at(deadline, self.socket.next()).await {
            if let Message::Binary(bytes) = message {
                messages.push(text_fields(&bytes));
            }
        }
        messages
    }

    /// Connects and completes the handshake; panics if the server refuses.
    pub async fn joined(port: u16, token: &str, peer_id: &str) -> Self {
        let mut peer = Self::connect(port, Some(token), peer_id).await.expect("upgrade accepted");
        peer.send(join_frame(peer_id, &["1"])).await;
        let reply = peer.recv_map().await.expect("a reply to join");
        assert_eq!(reply.get("type").map(String::as_str), Some("peer"), "{reply:?}");
        peer.server_id = reply.get("senderId").cloned().expect("the server's peer id");
        peer
    }

    /// A document message from this peer to the server.
    pub fn doc(&self, kind: &str, document: &str, data: &[u8]) -> Vec<u8> {
        doc_frame(kind, &self.peer_id, &self.server_id, document, data)
    }

    pub async fn send(&mut self, bytes: Vec<u8>) {
        // The server may already have closed; what matters is what it does next.
        let _ = self.socket.send(Message::Binary(bytes.into())).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        let _ = self.socket.send(Message::Text(text.into())).await;
    }

    /// The text fields of the next binary message, or None if the connection ends.
    pub async fn recv_map(&mut self) -> Option<std::collections::BTreeMap<String, String>> {
        self.recv_bytes().await.map(|bytes| text_fields(&bytes))
    }

    /// The next binary message, or None if the connection ends.
    pub async fn recv_bytes(&mut self) -> Option<Vec<u8>> {
        loop {
            match tokio::time::timeout(Duration::from_secs(10), self.socket.next()).await.ok()?? {
                Ok(Message::Binary(bytes)) => return Some(bytes.to_vec()),
                Ok(Message::Close(_)) | Err(_) => return None,
                Ok(_) => continue,
            }
        }
    }

    /// The WebSocket, for a caller that reads and writes at once.
    pub fn into_socket(self) -> Socket {
        self.socket
    }

    /// Waits for the server to end the connection and says how it did.
    pub async fn ending(&mut self) -> Ending {
        loop {
            match tokio::time::timeout(Duration::from_secs(15), self.socket.next()).await {
                Err(_) => panic!("the server kept the connection open"),
                Ok(None) | Ok(Some(Err(_))) => return Ending::Dropped,
                Ok(Some(Ok(Message::Close(Some(frame))))) => {
                    return Ending::Closed { code: frame.code.into(), reason: frame.reason.to_string() };
                }
                Ok(Some(Ok(Message::Close(None)))) => return Ending::Dropped,
                Ok(Some(Ok(_))) => continue,
            }
        }
    }
}

/// The text-valued fields of a CBOR map (enough to read `type` and ids).
fn text_fields(bytes: &[u8]) -> std::collections::BTreeMap<String, String> {
    let mut fields = std::collections::BTreeMap::new();
    let mut decoder = minicbor::Decoder::new(bytes);
    let Ok(Some(n)) = decoder.map() else { return fields };
    for _ in 0..n {
        let Ok(key) = decoder.str() else { break };
        let key = key.to_owned();
        match decoder.datatype() {
            Ok(minicbor::data::Type::String) => {
                fields.insert(key, decoder.str().unwrap_or_default().to_owned());
            }
            _ => {
                if decoder.skip().is_err() {
                    break;
                }
            }
        }
    }
    fields
}
