//! Server settings: defaults, then a TOML file, then `RAPTORFLOW_SYNC_*`
//! environment variables, then command-line flags.

use std::{fmt, net::SocketAddr, path::Path, str::FromStr};

use serde::Deserialize;

use crate::store::redact_url;

/// Every setting of `raptorflow-sync serve`.
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Address to listen on. Put a TLS-terminating proxy in front for `wss://`.
    pub listen: SocketAddr,
    /// `sqlite://PATH` (default) or `postgres://USER:PASSWORD@HOST/DB`.
    pub db: String,
    /// Largest WebSocket message accepted, in bytes.
    pub max_frame_bytes: usize,
    /// Distinct documents one connection may sync.
    pub max_documents_per_connection: usize,
    /// Seconds without a message before a connection is closed.
    pub idle_timeout_secs: u64,
    /// Messages per second allowed per token (bursts of twice that are fine);
    /// a client over the limit is slowed down, not disconnected.
    pub messages_per_second: u32,
    /// How long an unused browser ticket stays valid, in seconds.
    pub ticket_ttl_secs: u64,
    /// How long a used ticket may reconnect (same peer id only) after its
    /// last connection closed, in seconds.
    pub ticket_reconnect_secs: u64,
    /// Seconds a client has to send a request's headers; a slower client
    /// is disconnected.
    pub header_timeout_secs: u64,
    /// Open connections allowed from one IP address (0: no limit). Behind a
    /// reverse proxy every client has the proxy's address: raise it or use 0.
    pub max_connections_per_address: usize,
    /// How often to look for admin changes (members, tokens), in milliseconds.
    pub access_poll_millis: u64,
    /// Threads that run document actors (generating and applying sync
    /// messages); 0 for one per CPU core.
    pub document_threads: usize,
    /// Seconds a document stays in memory after its last activity, when no
    /// client is exchanging changes on it; 0 keeps every document loaded.
    pub unload_idle_secs: u64,
    /// Storage one document may take, in MiB, before clients' changes to it
    /// are refused (their connection is closed with the reason); reading it
    /// still works. Bounds the memory one writer can make a document take.
    pub max_document_mib: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 7410)),
            db: "sqlite://raptorflow-sync.db".into(),
            max_frame_bytes: 16 * 1024 * 1024,
            max_documents_per_connection: 100_000,
            idle_timeout_secs: 600,
            messages_per_second: 2_000,
            ticket_ttl_secs: 30,
            ticket_reconnect_secs: 3_600,
            header_timeout_secs: 10,
            max_connections_per_address: 256,
            access_poll_millis: 1_000,
            document_threads: 0,
            unload_idle_secs: 300,
            max_document_mib: 64,
        }
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("listen", &self.listen)
            .field("db", &redact_url(&self.db))
            .field("max_frame_bytes", &self.max_frame_bytes)
            .field("max_documents_per_connection", &self.max_documents_per_connection)
            .field("idle_timeout_secs", &self.idle_timeout_secs)
            .field("messages_per_second", &self.messages_per_second)
            .field("ticket_ttl_secs", &self.ticket_ttl_secs)
            .field("ticket_reconnect_secs", &self.ticket_reconnect_secs)
            .field("header_timeout_secs", &self.header_timeout_secs)
            .field("max_connections_per_address", &self.max_connections_per_address)
            .field("access_poll_millis", &self.access_poll_millis)
            .field("document_threads", &self.document_threads)
            .field("unload_idle_secs", &self.unload_idle_secs)
            .field("max_document_mib", &self.max_document_mib)
            .finish()
    }
}

/// A setting that could not be read; names the file or variable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("could not read the config file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("invalid config file {path}: {message}")]
    Parse { path: String, message: String },
    #[error("invalid value {value:?} in {variable}: {message}")]
    Env { variable: String, value: String, message: String },
    #[error("invalid setting {name}: {message}")]
    Invalid { name: &'static str, message: String },
}

pub const ENV_PREFIX: &str = "RAPTORFLOW_SYNC_";

fn env_override<T: FromStr>(lookup: &dyn Fn(&str) -> Option<String>, name: &str, slot: &mut T) -> Result<(), ConfigError>
where
    T::Err: fmt::Display,
{
    let variable = format!("{ENV_PREFIX}{}", name.to_ascii_uppercase());
    if let Some(value) = lookup(&variable) {
        *slot = value.parse().map_err(|err: T::Err| ConfigError::Env { variable, value: value.clone(), message: err.to_string() })?;
    }
    Ok(())
}

impl Settings {
    /// Defaults, then the file at `path` if given, then the environment as
    /// read by `lookup` (`std::env::var` in the binary).
    pub fn load(path: Option<&Path>, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut settings = match path {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
                toml::from_str(&text).map_err(|err| ConfigError::Parse { path: path.display().to_string(), message: err.to_string() })?
            }
            None => Settings::default(),
        };
        env_override(lookup, "listen", &mut settings.listen)?;
        env_override(lookup, "db", &mut settings.db)?;
        env_override(lookup, "max_frame_bytes", &mut settings.max_frame_bytes)?;
        env_override(lookup, "max_documents_per_connection", &mut settings.max_documents_per_connection)?;
        env_override(lookup, "idle_timeout_secs", &mut settings.idle_timeout_secs)?;
        env_override(lookup, "messages_per_second", &mut settings.messages_per_second)?;
        env_override(lookup, "ticket_ttl_secs", &mut settings.ticket_ttl_secs)?;
        env_override(lookup, "ticket_reconnect_secs", &mut settings.ticket_reconnect_secs)?;
        env_override(lookup, "header_timeout_secs", &mut settings.header_timeout_secs)?;
        env_override(lookup, "max_connections_per_address", &mut settings.max_connections_per_address)?;
        env_override(lookup, "access_poll_millis", &mut settings.access_poll_millis)?;
        env_override(lookup, "document_threads", &mut settings.document_threads)?;
        env_override(lookup, "unload_idle_secs", &mut settings.unload_idle_secs)?;
        env_override(lookup, "max_document_mib", &mut settings.max_document_mib)?;
        settings.validate()?;
        Ok(settings)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let positive = |name: &'static str, value: u64| {
            if value == 0 { Err(ConfigError::Invalid { name, message: "must be greater than 0".into() }) } else { Ok(()) }
        };
        positive("max_frame_bytes", self.max_frame_bytes as u64)?;
        positive("max_documents_per_connection", self.max_documents_per_connection as u64)?;
        positive("idle_timeout_secs", self.idle_timeout_secs)?;
        positive("messages_per_second", u64::from(self.messages_per_second))?;
        positive("ticket_ttl_secs", self.ticket_ttl_secs)?;
        positive("ticket_reconnect_secs", self.ticket_reconnect_secs)?;
        positive("header_timeout_secs", self.header_timeout_secs)?;
        positive("access_poll_millis", self.access_poll_millis)?;
        positive("max_document_mib", self.max_document_mib)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn load(file: Option<&str>, env: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sync.toml");
        if let Some(text) = file {
            std::fs::write(&path, text).unwrap();
        }
        let env: HashMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Settings::load(file.map(|_| path.as_path()), &|name| env.get(name).cloned())
    }

    #[test]
    fn file_then_environment_override_defaults() {
        let settings = load(Some("db = \"sqlite:///tmp/x.db\"\nidle_timeout_secs = 5\n"), &[("RAPTORFLOW_SYNC_IDLE_TIMEOUT_SECS", "9")]).unwrap();
        assert_eq!(settings.db, "sqlite:///tmp/x.db");
        assert_eq!(settings.idle_timeout_secs, 9);
        assert_eq!(settings.max_frame_bytes, Settings::default().max_frame_bytes);
    }

    #[test]
    fn bad_settings_name_where_they_came_from() {
        let err = load(Some("idle_timeout = 5\n"), &[]).unwrap_err().to_string();
        assert!(err.contains("sync.toml") && err.contains("unknown field `idle_timeout`"), "{err}");
        let err = load(None, &[("RAPTORFLOW_SYNC_LISTEN", "nowhere")]).unwrap_err().to_string();
        assert!(err.starts_with("invalid value \"nowhere\" in RAPTORFLOW_SYNC_LISTEN"), "{err}");
        let err = load(None, &[("RAPTORFLOW_SYNC_MESSAGES_PER_SECOND", "0")]).unwrap_err().to_string();
        assert_eq!(err, "invalid setting messages_per_second: must be greater than 0");
    }

    #[test]
    fn the_example_file_shows_the_defaults() {
        let example: Settings = toml::from_str(include_str!("../raptorflow-sync.example.toml")).unwrap();
        assert_eq!(format!("{example:?}"), format!("{:?}", Settings::default()));
    }

    #[test]
    fn debug_hides_the_database_password() {
        let settings = Settings { db: "postgres://sync:hunter2@db/sync".into(), ..Settings::default() };
        let debug = format!("{settings:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
    }
}
