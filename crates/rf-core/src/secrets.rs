//! Secrets in the OS keyring (Secret Service, Keychain, Credential Manager):
//! the one place the engine keeps provider API keys and sync tokens. Nothing
//! secret is written to the data directory, SQLite, logs or exports; the
//! settings and the catalog hold only the keyring account a secret is under.
//!
//! A secret is read from the keyring each time it is used, so a key that
//! another process (the CLI while the app is open) replaced is used at once.

/// Why the keyring could not be used.
#[derive(Debug, thiserror::Error)]
#[error("the OS keyring could not {action} {what}: {reason}")]
pub struct SecretError {
    pub action: &'static str,
    /// What the secret is (`the API key`, `the sync token`).
    pub what: &'static str,
    pub reason: String,
}

/// One kind of secret: a keyring service, whose accounts name the secrets.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Secrets {
    service: &'static str,
    what: &'static str,
}

/// Provider API keys (the account is the provider's `key_ref`).
pub(crate) const PROVIDER_KEYS: Secrets = Secrets { service: crate::providers::PROVIDER_KEYRING_SERVICE, what: "the API key" };

/// Connector API keys (the account is the connector's `key_ref`).
pub(crate) const CONNECTOR_KEYS: Secrets = Secrets { service: crate::connectors::CONNECTOR_KEYRING_SERVICE, what: "the connector API key" };

/// The local API's bearer tokens (the account is the data directory).
pub(crate) const API_TOKENS: Secrets = Secrets { service: crate::api::API_KEYRING_SERVICE, what: "the local API's token" };

/// Bearer tokens of MCP servers reached by URL (the account is the
/// server's `key_ref`).
pub(crate) const MCP_SERVER_TOKENS: Secrets = Secrets { service: crate::mcp_client::MCP_KEYRING_SERVICE, what: "the MCP server's token" };

/// Sync tokens (the account is `<user>@<server>#<server workspace>`).
pub(crate) const SYNC_TOKENS: Secrets = Secrets { service: crate::sync::KEYRING_SERVICE, what: "the sync token" };

impl Secrets {
    fn error(&self, action: &'static str, err: &keyring::Error) -> SecretError {
        SecretError { action, what: self.what, reason: err.to_string() }
    }

    fn entry(&self, account: &str) -> Result<keyring::Entry, SecretError> {
        keyring::Entry::new(self.service, account).map_err(|err| self.error("open the entry of", &err))
    }

    /// Stores `secret` under `account`, replacing what was there.
    pub(crate) fn set(&self, account: &str, secret: &str) -> Result<(), SecretError> {
        self.entry(account)?.set_password(secret).map_err(|err| self.error("store", &err))
    }

    /// The secret under `account`; `None` if there is none.
    pub(crate) fn get(&self, account: &str) -> Result<Option<String>, SecretError> {
        match self.entry(account)?.get_password() {
            Ok(secret) => Ok(Some(secret)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(err) => Err(self.error("read", &err)),
        }
    }

    /// Deletes the secret under `account`; deleting none is not an error.
    pub(crate) fn delete(&self, account: &str) -> Result<(), SecretError> {
        match self.entry(account)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(err) => Err(self.error("delete", &err)),
        }
    }
}
