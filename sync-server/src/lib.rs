//! `raptorflow-sync`: the server teammates run to share workspaces.
//!
//! It speaks automerge-repo's WebSocket protocol (through samod) at `/sync`,
//! so any automerge-repo client can sync with it; it admits a connection only
//! with a valid token and shares each document only with members of the
//! workspace it belongs to ([`access`]); it stores documents in SQLite or
//! PostgreSQL ([`store`]).

pub mod access;
pub mod admin;
pub mod chunks;
pub mod config;
pub mod connection;
pub mod listener;
pub mod metrics;
pub mod server;
pub mod store;
