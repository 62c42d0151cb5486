use crate::{ConnectionId, UnixTimestamp};

use super::{DocMessage, SyncMessage};

/// Messages sent from the hub to document actors.
#[derive(Debug, Clone)]
pub struct HubToDocMsg(pub(crate) HubToDocMsgPayload);

impl HubToDocMsg {
    /// Install a sharing decision on all current connections to this peer,
    /// superseding any pending initial policy checks.
    pub fn update_share_policy(peer_id: crate::PeerId, config: crate::ShareConfig) -> Self {
        Self(HubToDocMsgPayload::UpdateSharePolicy { peer_id, config })
    }

    /// For a message a peer sent: the connection it came in on and its
    /// payload's size in bytes. Runners use it to bound how much of one
    /// connection's input waits unprocessed (PATCHES.md, 10).
    pub fn inbound(&self) -> Option<(ConnectionId, usize)> {
        match &self.0 {
            HubToDocMsgPayload::HandleDocMessage {
                connection_id,
                message,
                ..
            } => {
                let bytes = match message {
                    DocMessage::Sync(
                        SyncMessage::Sync { data } | SyncMessage::Request { data },
                    ) => data.len(),
                    DocMessage::Sync(SyncMessage::DocUnavailable) => 0,
                    DocMessage::Ephemeral(msg) => msg.data.len(),
                };
                Some((*connection_id, bytes))
            }
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) enum HubToDocMsgPayload {
    /// Request the actor to terminate gracefully.
    Terminate,

    UpdateSharePolicy {
        peer_id: crate::PeerId,
        config: crate::ShareConfig,
    },

    NewConnection {
        connection_id: crate::ConnectionId,
        peer_id: crate::PeerId,
    },

    /// Notify the actor that a connection has been closed.
    ConnectionClosed { connection_id: crate::ConnectionId },

    HandleDocMessage {
        connection_id: ConnectionId,
        message: DocMessage,
        received_at: UnixTimestamp,
    },
}
