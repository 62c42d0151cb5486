//! The small JSON API beside `/sync`, shared by server and client.

use serde::{Deserialize, Serialize};

use crate::{Role, UserName};

/// WebSocket endpoint speaking the automerge-repo protocol.
pub const SYNC_PATH: &str = "/sync";
/// `GET`: who a token belongs to and which workspace it opens.
pub const SESSION_PATH: &str = "/api/v1/session";
/// `PUT`: an owner names the workspace's index document, once.
pub const ROOT_PATH: &str = "/api/v1/workspace/root";
/// `POST`: a short-lived ticket for clients that cannot set headers, bound to
/// the peer id of its first connection.
pub const TICKET_PATH: &str = "/api/v1/tickets";
/// Query parameter that carries a ticket on the WebSocket URL.
pub const TICKET_PARAM: &str = "ticket";

/// What `GET /api/v1/session` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub user: UserName,
    pub role: Role,
    pub workspace_id: String,
    pub workspace_name: String,
    /// The workspace's index document, once an owner has named it.
    pub root_document: Option<String>,
}

/// Body of `PUT /api/v1/workspace/root`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetRoot {
    pub document: String,
}

/// What `POST /api/v1/tickets` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    pub ticket: String,
    pub expires_in_secs: u64,
}

/// Every error response: a machine-readable kind and a message for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    pub kind: String,
    pub message: String,
}
