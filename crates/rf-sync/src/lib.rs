//! Sync between RaptorFlow devices and a `raptorflow-sync` server.
//!
//! This crate holds what both ends agree on: the checks the server applies to
//! every automerge-repo frame ([`protocol`]), sync tokens and their stored
//! hashes ([`token`]), roles and the share policy they imply ([`role`]), peer
//! ids bound to users ([`peer`]), the JSON API beside the WebSocket ([`api`]),
//! the client's bearer-token dialer ([`dialer`]) and, with the `client`
//! feature, the device's calls of that API ([`client`]). samod itself is used
//! through these types so that its API changes stay in one place.

pub mod api;
#[cfg(feature = "client")]
pub mod client;
pub mod dialer;
pub mod peer;
pub mod protocol;
pub mod role;
pub mod token;

pub use dialer::{BearerDialer, Refused};
pub use peer::{BadUserName, UserName};
pub use protocol::{Frame, FrameError, MessageKind, decode_client_frame};
pub use role::{Role, UnknownRole, non_member_share_config};
pub use token::{BadToken, SyncToken, TokenHash};
