//! Validation of incoming automerge-repo WebSocket frames (protocol v1).
//!
//! The server reads every frame a client sends before samod sees it, so that
//! malformed input closes that one connection with a reason we can log and
//! count, and so that it knows what the frame is for: which document, whether
//! it carries changes, and, for the handshake, which peer id is claimed.
//! samod decodes the frame again; this is a gate, not a replacement.

use std::fmt;

use minicbor::{Decoder, data::Type};
use samod_core::DocumentId;

/// The only protocol version in automerge-repo 1.x and 2.x.
pub const PROTOCOL_VERSION: &str = "1";

/// The kinds of message the protocol defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    Join,
    Peer,
    Leave,
    Request,
    Sync,
    DocUnavailable,
    Ephemeral,
    Error,
    RemoteSubscriptionChange,
    RemoteHeadsChanged,
}

impl MessageKind {
    fn from_type(name: &str) -> Option<Self> {
        Some(match name {
            "join" => Self::Join,
            "peer" => Self::Peer,
            "leave" => Self::Leave,
            "request" => Self::Request,
            "sync" => Self::Sync,
            "doc-unavailable" => Self::DocUnavailable,
            "ephemeral" => Self::Ephemeral,
            "error" => Self::Error,
            "remote-subscription-change" => Self::RemoteSubscriptionChange,
            "remote-heads-changed" => Self::RemoteHeadsChanged,
            _ => return None,
        })
    }

    /// The `type` field as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Join => "join",
            Self::Peer => "peer",
            Self::Leave => "leave",
            Self::Request => "request",
            Self::Sync => "sync",
            Self::DocUnavailable => "doc-unavailable",
            Self::Ephemeral => "ephemeral",
            Self::Error => "error",
            Self::RemoteSubscriptionChange => "remote-subscription-change",
            Self::RemoteHeadsChanged => "remote-heads-changed",
        }
    }

    /// Whether this message is about one document (and must name it).
    fn names_document(self) -> bool {
        matches!(self, Self::Request | Self::Sync | Self::DocUnavailable | Self::Ephemeral | Self::RemoteHeadsChanged)
    }
}

/// What a valid frame is, as far as the server cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub kind: MessageKind,
    /// The `senderId` field (absent only on `error` messages).
    pub sender_id: Option<String>,
    /// The document a document message is about.
    pub document_id: Option<DocumentId>,
    /// For `request` and `sync`: how many change chunks the sync message carries.
    pub n_changes: usize,
}

/// Why a frame was refused. The text is safe to log and to send to the peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    TooLarge {
        size: usize,
        limit: usize,
    },
    NotCbor(String),
    NotAMap,
    MissingField {
        kind: &'static str,
        field: &'static str,
    },
    UnknownType(String),
    UnsupportedVersions(Vec<String>),
    BadDocumentId(String),
    BadSyncMessage {
        kind: &'static str,
        reason: String,
    },
    /// A client tried to send a message only servers send.
    Unexpected(&'static str),
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { size, limit } => write!(f, "frame of {size} bytes is over the {limit}-byte limit"),
            Self::NotCbor(reason) => write!(f, "frame is not valid CBOR: {reason}"),
            Self::NotAMap => write!(f, "frame is not a CBOR map"),
            Self::MissingField { kind, field } => write!(f, "`{kind}` message has no valid `{field}` field"),
            Self::UnknownType(name) => write!(f, "unknown message type {name:?}"),
            Self::UnsupportedVersions(versions) => {
                write!(f, "no supported protocol version: client offers {versions:?}, server speaks [\"{PROTOCOL_VERSION}\"]")
            }
            Self::BadDocumentId(id) => write!(f, "invalid document id {id:?}"),
            Self::BadSyncMessage { kind, reason } => write!(f, "`{kind}` message carries an invalid sync message: {reason}"),
            Self::Unexpected(kind) => write!(f, "clients may not send `{kind}` messages"),
        }
    }
}

impl std::error::Error for FrameError {}

/// The raw fields we look at, before the per-type checks.
#[derive(Default)]
struct Fields<'a> {
    type_name: Option<&'a str>,
    sender_id: Option<&'a str>,
    document_id: Option<DocumentIdField<'a>>,
    versions: Option<Vec<&'a str>>,
    data: Option<&'a [u8]>,
}

enum DocumentIdField<'a> {
    Text(&'a str),
    Bytes(&'a [u8]),
}

fn cbor(err: minicbor::decode::Error) -> FrameError {
    FrameError::NotCbor(err.to_string())
}

/// Nesting deeper than this is refused rather than walked: no valid message
/// nests more than a few levels.
const MAX_SKIP_DEPTH: u32 = 16;

/// Skips one value, refusing indefinite-length items nested deeper than
/// [`MAX_SKIP_DEPTH`] so a hostile frame cannot make us recurse without bound.
fn skip_value(decoder: &mut Decoder<'_>, depth: u32) -> Result<(), FrameError> {
    if depth > MAX_SKIP_DEPTH {
        return Err(FrameError::NotCbor("nested too deeply".into()));
    }
    match decoder.datatype().map_err(cbor)? {
        Type::Array | Type::ArrayIndef => {
            let len = decoder.array().map_err(cbor)?;
            skip_items(decoder, len, depth, 1)
        }
        Type::Map | Type::MapIndef => {
            let len = decoder.map().map_err(cbor)?;
            skip_items(decoder, len, depth, 2)
        }
        Type::Tag => {
            decoder.tag().map_err(cbor)?;
            skip_value(decoder, depth + 1)
        }
        _ => decoder.skip().map_err(cbor),
    }
}

fn skip_items(decoder: &mut Decoder<'_>, len: Option<u64>, depth: u32, per_entry: u64) -> Result<(), FrameError> {
    match len {
        Some(n) => {
            for _ in 0..n.saturating_mul(per_entry) {
                skip_value(decoder, depth + 1)?;
            }
        }
        None => loop {
            if decoder.datatype().map_err(cbor)? == Type::Break {
                decoder.skip().map_err(cbor)?;
                break;
            }
            for _ in 0..per_entry {
                skip_value(decoder, depth + 1)?;
            }
        },
    }
    Ok(())
}

fn read_fields(bytes: &[u8]) -> Result<Fields<'_>, FrameError> {
    let mut decoder = Decoder::new(bytes);
    let n_entries = match decoder.datatype().map_err(cbor)? {
        Type::Map => decoder.map().map_err(cbor)?.ok_or(FrameError::NotAMap)?,
        _ => return Err(FrameError::NotAMap),
    };
    let mut fields = Fields::default();
    for _ in 0..n_entries {
        if decoder.datatype().map_err(cbor)? != Type::String {
            // A non-text key is no field of ours: skip it and its value.
            skip_value(&mut decoder, 0)?;
            skip_value(&mut decoder, 0)?;
            continue;
        }
        let key = decoder.str().map_err(cbor)?;
        let datatype = decoder.datatype().map_err(cbor)?;
        match (key, datatype) {
            ("type", Type::String) => fields.type_name = Some(decoder.str().map_err(cbor)?),
            ("senderId", Type::String) => fields.sender_id = Some(decoder.str().map_err(cbor)?),
            ("documentId", Type::String) => {
                fields.document_id = Some(DocumentIdField::Text(decoder.str().map_err(cbor)?));
            }
            ("documentId", Type::Bytes) => {
                fields.document_id = Some(DocumentIdField::Bytes(decoder.bytes().map_err(cbor)?));
            }
            ("data", Type::Bytes) => fields.data = Some(decoder.bytes().map_err(cbor)?),
            ("supportedProtocolVersions", Type::Array) => {
                let len = decoder.array().map_err(cbor)?.unwrap_or(0);
                let mut versions = Vec::new();
                for _ in 0..len {
                    if decoder.datatype().map_err(cbor)? == Type::String {
                        versions.push(decoder.str().map_err(cbor)?);
                    } else {
                        skip_value(&mut decoder, 1)?;
                    }
                }
                fields.versions = Some(versions);
            }
            _ => skip_value(&mut decoder, 0)?,
        }
    }
    Ok(fields)
}

/// Checks one frame a client sent. `max_bytes` bounds the frame size.
pub fn decode_client_frame(bytes: &[u8], max_bytes: usize) -> Result<Frame, FrameError> {
    if bytes.len() > max_bytes {
        return Err(FrameError::TooLarge { size: bytes.len(), limit: max_bytes });
    }
    let fields = read_fields(bytes)?;
    let type_name = fields.type_name.ok_or(FrameError::MissingField { kind: "(untyped)", field: "type" })?;
    let kind = MessageKind::from_type(type_name).ok_or_else(|| FrameError::UnknownType(type_name.chars().take(64).collect()))?;
    if kind == MessageKind::Peer {
        return Err(FrameError::Unexpected("peer"));
    }
    let sender_id = fields.sender_id.map(str::to_owned);
    if kind != MessageKind::Error && sender_id.as_deref().is_none_or(str::is_empty) {
        return Err(FrameError::MissingField { kind: kind.as_str(), field: "senderId" });
    }
    if kind == MessageKind::Join {
        let versions = fields.versions.ok_or(FrameError::MissingField { kind: "join", field: "supportedProtocolVersions" })?;
        if !versions.contains(&PROTOCOL_VERSION) {
            return Err(FrameError::UnsupportedVersions(versions.into_iter().map(str::to_owned).collect()));
        }
    }
    let document_id = if kind.names_document() {
        let field = fields.document_id.ok_or(FrameError::MissingField { kind: kind.as_str(), field: "documentId" })?;
        Some(match field {
            DocumentIdField::Text(text) => text.parse::<DocumentId>().map_err(|_| FrameError::BadDocumentId(text.chars().take(64).collect()))?,
            DocumentIdField::Bytes(raw) => DocumentId::try_from(raw.to_vec()).map_err(|_| FrameError::BadDocumentId(format!("{} raw bytes", raw.len())))?,
        })
    } else {
        None
    };
    let mut n_changes = 0;
    if matches!(kind, MessageKind::Request | MessageKind::Sync) {
        let data = fields.data.ok_or(FrameError::MissingField { kind: kind.as_str(), field: "data" })?;
        let message = automerge::sync::Message::decode(data).map_err(|err| FrameError::BadSyncMessage { kind: kind.as_str(), reason: err.to_string() })?;
        n_changes = message.changes.len();
    }
    if kind == MessageKind::Ephemeral && fields.data.is_none() {
        return Err(FrameError::MissingField { kind: "ephemeral", field: "data" });
    }
    Ok(Frame { kind, sender_id, document_id, n_changes })
}

#[cfg(test)]
mod tests {
    use minicbor::Encoder;

    use super::*;

    const LIMIT: usize = 1 << 20;

    fn encode(entries: &[(&str, Value<'_>)]) -> Vec<u8> {
        let mut encoder = Encoder::new(Vec::new());
        encoder.map(entries.len() as u64).unwrap();
        for (key, value) in entries {
            encoder.str(key).unwrap();
            match value {
                Value::Text(text) => encoder.str(text).unwrap(),
                Value::Bytes(bytes) => encoder.bytes(bytes).unwrap(),
                Value::Texts(texts) => {
                    encoder.array(texts.len() as u64).unwrap();
                    for text in texts.iter() {
                        encoder.str(text).unwrap();
                    }
                    &mut encoder
                }
            };
        }
        encoder.into_writer()
    }

    enum Value<'a> {
        Text(&'a str),
        Bytes(&'a [u8]),
        Texts(&'a [&'a str]),
    }

    fn doc_id() -> String {
        DocumentId::new(&mut rand::rng()).to_string()
    }

    fn sync_bytes(with_change: bool) -> Vec<u8> {
        let mut doc = automerge::AutoCommit::new();
        if with_change {
            use automerge::transaction::Transactable;
            doc.put(automerge::ROOT, "title", "hello").unwrap();
        }
        let mut state = automerge::sync::State::new();
        use automerge::sync::SyncDoc;
        let mut message = doc.sync().generate_sync_message(&mut state).unwrap();
        if with_change {
            // The first message only advertises heads; the changes go in the
            // reply to a peer that has nothing.
            let mut peer = automerge::AutoCommit::new();
            let mut peer_state = automerge::sync::State::new();
            peer.sync().receive_sync_message(&mut peer_state, message).unwrap();
            let reply = peer.sync().generate_sync_message(&mut peer_state).unwrap();
            doc.sync().receive_sync_message(&mut state, reply).unwrap();
            message = doc.sync().generate_sync_message(&mut state).unwrap();
        }
        message.encode()
    }

    fn check_err(bytes: &[u8], expected: &str) {
        let err = decode_client_frame(bytes, LIMIT).expect_err("frame should be refused");
        assert!(err.to_string().contains(expected), "{err} should mention {expected:?}");
    }

    #[test]
    fn join_with_version_one_is_accepted() {
        let frame = decode_client_frame(
            &encode(&[("type", Value::Text("join")), ("senderId", Value::Text("alice/1")), ("supportedProtocolVersions", Value::Texts(&["1"]))]),
            LIMIT,
        )
        .unwrap();
        assert_eq!(frame.kind, MessageKind::Join);
        assert_eq!(frame.sender_id.as_deref(), Some("alice/1"));
    }

    #[test]
    fn sync_reports_document_and_changes() {
        let id = doc_id();
        let data = sync_bytes(true);
        let frame = decode_client_frame(
            &encode(&[
                ("type", Value::Text("sync")),
                ("senderId", Value::Text("a/1")),
                ("targetId", Value::Text("server")),
                ("documentId", Value::Text(&id)),
                ("data", Value::Bytes(&data)),
            ]),
            LIMIT,
        )
        .unwrap();
        assert_eq!(frame.document_id.unwrap().to_string(), id);
        assert_eq!(frame.n_changes, 1);
        let empty = sync_bytes(false);
        let frame = decode_client_frame(
            &encode(&[("type", Value::Text("request")), ("senderId", Value::Text("a/1")), ("documentId", Value::Text(&id)), ("data", Value::Bytes(&empty))]),
            LIMIT,
        )
        .unwrap();
        assert_eq!(frame.n_changes, 0);
    }

    #[test]
    fn bad_frames_are_refused_with_the_reason() {
        let id = doc_id();
        check_err(b"\xff\x00garbage", "not a CBOR map");
        check_err(&[0xa1], "not valid CBOR");
        check_err(&encode(&[("senderId", Value::Text("a"))]), "`type`");
        check_err(&encode(&[("type", Value::Text("gossip")), ("senderId", Value::Text("a"))]), "unknown message type \"gossip\"");
        check_err(
            &encode(&[("type", Value::Text("join")), ("senderId", Value::Text("a")), ("supportedProtocolVersions", Value::Texts(&["2"]))]),
            "no supported protocol version",
        );
        check_err(&encode(&[("type", Value::Text("join")), ("supportedProtocolVersions", Value::Texts(&["1"]))]), "`senderId`");
        check_err(&encode(&[("type", Value::Text("sync")), ("senderId", Value::Text("a")), ("documentId", Value::Text(&id))]), "`data`");
        check_err(
            &encode(&[("type", Value::Text("sync")), ("senderId", Value::Text("a")), ("documentId", Value::Text("nope")), ("data", Value::Bytes(b""))]),
            "invalid document id",
        );
        check_err(
            &encode(&[("type", Value::Text("sync")), ("senderId", Value::Text("a")), ("documentId", Value::Text(&id)), ("data", Value::Bytes(b"\x42garbage"))]),
            "invalid sync message",
        );
        check_err(&encode(&[("type", Value::Text("peer")), ("senderId", Value::Text("a"))]), "may not send `peer`");
        check_err(&[0u8; 100], "not a CBOR map");
        let err = decode_client_frame(&[0u8; 100], 10).unwrap_err();
        assert_eq!(err, FrameError::TooLarge { size: 100, limit: 10 });
    }

    #[test]
    fn deeply_nested_values_are_refused_not_recursed() {
        let mut bytes = encode(&[("type", Value::Text("leave")), ("senderId", Value::Text("a"))]);
        bytes[0] = 0xa3; // three entries; the third is a key with a deep value
        bytes.extend_from_slice(&[0x61, b'x']);
        bytes.extend(std::iter::repeat_n(0x9f, 10_000)); // indefinite arrays
        check_err(&bytes, "nested too deeply");
    }
}
