//! The facade's error type. Shells map [`CoreError::kind`] to exit codes (CLI)
//! or to `{kind, message}` (desktop UI).

use std::path::PathBuf;

use rf_domain::DomainError;
use rf_store::StoreError;

/// What went wrong in an application operation.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// A value given by the user is not acceptable.
    #[error(transparent)]
    Invalid(#[from] DomainError),
    /// An id that does not name anything on this device.
    #[error("no {what} with id {id} on this device{hint}")]
    NotFound { what: &'static str, id: String, hint: &'static str },
    /// Something with this id already exists.
    #[error("{what} {id} already exists on this device")]
    AlreadyExists { what: &'static str, id: String },
    /// A change the thing's state does not allow (an archived campaign, the
    /// last owner); `what` says why and that nothing was changed.
    #[error("{what}")]
    Conflict { what: String },
    /// The local user may not make this change (only owners manage members).
    #[error("{what}")]
    Permission { what: String },
    /// An import that would give an id a second owner; nothing was imported.
    #[error("cannot import: the {kind} id {id} is already used on this device by a {existing_kind} of workspace {workspace}; nothing was imported")]
    IdTaken { kind: &'static str, id: String, existing_kind: &'static str, workspace: String },
    /// An import file that cannot be used; nothing was imported.
    #[error("cannot import {}: {reason}; nothing was imported", path.display())]
    Import { path: PathBuf, reason: String },
    /// A file or directory could not be read or written.
    #[error("{action} {}: {source}", path.display())]
    Io { action: &'static str, path: PathBuf, source: std::io::Error },
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Syncing with a server could not be done.
    #[error(transparent)]
    Sync(#[from] crate::sync::SyncError),
    /// A model could not be found, loaded, fetched or called, or a call
    /// was refused (budget, privacy). Boxed: it is the largest error.
    #[error(transparent)]
    Ai(Box<rf_ai::AiError>),

    /// A marketing connector's call failed or was refused.
    #[error(transparent)]
    Connector(#[from] rf_connectors::ConnectorError),
    /// Connector settings that cannot be used or changed.
    #[error(transparent)]
    ConnectorSettings(#[from] crate::connectors::ConnectorSettingsError),

    /// Market signals: a sweep with nothing to do, a bad series, the store.
    #[error(transparent)]
    Signals(crate::signals::SignalsError),

    /// Provider settings that cannot be used or changed.
    #[error(transparent)]
    Providers(#[from] crate::providers::ProviderSettingsError),
    /// The OS keyring could not be used for a secret of Core's own (the API's token).
    #[error(transparent)]
    Secret(#[from] crate::secrets::SecretError),

    #[error("a stored document could not be edited: {0}")]
    Document(#[from] rf_domain::edit::EditError),

    /// One file of a Codex import that cannot be imported.
    #[error("{}: {problem}", path.display())]
    CodexFile { path: PathBuf, problem: rf_codex::FileProblem },
    /// The Codex's local index failed, or a search was malformed.
    #[error(transparent)]
    Codex(rf_codex::CodexError),

    /// An input file larger than its limit, refused while reading it.
    #[error("refused {}: the {what} is larger than its limit of {limit} bytes; nothing was changed", path.display())]
    TooLarge { path: PathBuf, what: &'static str, limit: u64 },
    /// An input file (an asset, a brand codex) that cannot be read.
    #[error("cannot read {}: {reason}", path.display())]
    InputFile { path: PathBuf, reason: String },
    /// Guardian could not check: a malformed asset, or policy packs that
    /// do not load.
    #[error(transparent)]
    Guardian(#[from] rf_guardian::GuardianError),
    /// The swarm: agents that do not load, runs and steps.
    #[error(transparent)]
    Agents(rf_agents::AgentError),
    /// Guardian blocks the asset, so it cannot take the status asked for.
    /// The findings are stored on the asset.
    #[error("asset {asset} cannot be set to {status}: Guardian blocks it. Fix these and try again:{findings}")]
    Blocked { asset: String, status: String, findings: String },
    /// An MCP server the user added could not be started or answered badly.
    #[error("the MCP server {server}: {problem}")]
    McpServer { server: String, problem: String },
    /// An agent's file names a tool its MCP server does not offer.
    #[error("the MCP server {server} has no tool {tool:?} (it offers: {offered})")]
    McpTool { server: String, tool: String, offered: String },
}

impl From<rf_ai::AiError> for CoreError {
    fn from(err: rf_ai::AiError) -> Self {
        CoreError::Ai(Box::new(err))
    }
}

impl From<rf_codex::CodexError> for CoreError {
    fn from(err: rf_codex::CodexError) -> Self {
        match err {
            rf_codex::CodexError::Ai(err) => CoreError::from(err),
            rf_codex::CodexError::Store(err) => CoreError::Store(err),
            other => CoreError::Codex(other),
        }
    }
}

/// Broad classes of error, stable for shells to map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Bad input from the user: exit code 2 in the CLI.
    InvalidInput,
    /// An unknown id: exit code 2 in the CLI.
    NotFound,
    /// A clash with something that exists: exit code 2 in the CLI.
    Conflict,
    /// Files, the database, the document store: exit code 1 in the CLI.
    Storage,
    /// A sync server that cannot be reached or did not answer in time: exit code 1.
    Network,
    /// A sync server that refused the token, a provider that refused the
    /// API key: exit code 2 (the user must act).
    PermissionDenied,
    /// A model call that would go over a budget: exit code 2.
    BudgetExceeded,
}

impl ErrorKind {
    /// The stable snake_case name sent to the UI.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Storage => "storage",
            ErrorKind::Network => "network",
            ErrorKind::PermissionDenied => "permission_denied",
            ErrorKind::BudgetExceeded => "budget_exceeded",
        }
    }
}

impl CoreError {
    /// The input field a validation error is about ("workspace name"), for
    /// a form to show the message beside it.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            CoreError::Invalid(err) => Some(err.field()),
            _ => None,
        }
    }

    /// Which class of error this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            CoreError::Invalid(_) | CoreError::Import { .. } | CoreError::CodexFile { .. } | CoreError::InputFile { .. } | CoreError::TooLarge { .. } => {
                ErrorKind::InvalidInput
            }
            CoreError::Codex(rf_codex::CodexError::InvalidQuery(_)) => ErrorKind::InvalidInput,
            CoreError::Codex(_) => ErrorKind::Storage,
            CoreError::NotFound { .. } => ErrorKind::NotFound,
            CoreError::AlreadyExists { .. } | CoreError::IdTaken { .. } | CoreError::Blocked { .. } | CoreError::Conflict { .. } => ErrorKind::Conflict,
            CoreError::Permission { .. } => ErrorKind::PermissionDenied,
            // Another program, like a provider: it may answer next time.
            CoreError::McpServer { .. } => ErrorKind::Network,
            CoreError::McpTool { .. } => ErrorKind::NotFound,
            CoreError::Guardian(err) => {
                use rf_guardian::GuardianError as G;
                match err {
                    G::InvalidAsset { .. } | G::UnknownPlatform(_) | G::Brand(_) => ErrorKind::InvalidInput,
                    G::Pack { .. } => ErrorKind::Storage,
                }
            }
            CoreError::Io { .. } | CoreError::Store(_) | CoreError::Document(_) | CoreError::Secret(_) => ErrorKind::Storage,
            CoreError::Agents(err) => {
                use rf_agents::AgentError as A;
                match err {
                    A::InvalidInput(_) => ErrorKind::InvalidInput,
                    A::NotFound(_) => ErrorKind::NotFound,
                    A::Conflict(_) => ErrorKind::Conflict,
                    A::Spec(_) | A::Store(_) => ErrorKind::Storage,
                }
            }
            CoreError::Ai(err) => {
                use rf_ai::AiError as A;
                match err.as_ref() {
                    A::UnknownModel { .. } | A::NotInstalled { .. } => ErrorKind::NotFound,
                    A::BadImport { .. } | A::InvalidInput(_) | A::BadId(_) | A::NoSource { .. } => ErrorKind::InvalidInput,
                    A::Download { .. } | A::Registry { .. } => ErrorKind::Network,
                    A::Manifest { .. }
                    | A::ChecksumMismatch { .. }
                    | A::SizeMismatch { .. }
                    | A::BadModel { .. }
                    | A::Io { .. }
                    | A::Inference(_)
                    | A::Ledger(_) => ErrorKind::Storage,
                    A::Budget(_) => ErrorKind::BudgetExceeded,
                    A::NoModel(_) => ErrorKind::NotFound,
                    A::Provider(err) => {
                        use rf_ai::ProviderError as P;
                        match err {
                            P::Unauthorized { .. } | P::MissingKey { .. } => ErrorKind::PermissionDenied,
                            P::UnknownModel { .. } | P::ContextTooLong { .. } | P::BadRequest { .. } => ErrorKind::InvalidInput,
                            P::RateLimited { .. }
                            | P::Server { .. }
                            | P::Unreachable { .. }
                            | P::Timeout { .. }
                            | P::StreamDropped { .. }
                            | P::BadResponse { .. }
                            | P::SchemaMismatch { .. } => ErrorKind::Network,
                        }
                    }
                }
            }
            CoreError::Providers(err) => {
                use crate::providers::ProviderSettingsError as P;
                match err {
                    P::BadFile { .. } | P::Invalid { .. } | P::NoPrice { .. } => ErrorKind::InvalidInput,
                    P::Unknown(_) => ErrorKind::NotFound,
                    P::Secret(_) => ErrorKind::Storage,
                }
            }
            CoreError::Connector(err) => {
                use rf_connectors::ConnectorError as C;
                match err {
                    C::UnknownService(_) | C::BadRequest { .. } => ErrorKind::InvalidInput,
                    C::NotBuilt { .. } | C::NotFound { .. } => ErrorKind::NotFound,
                    C::Offline { .. } | C::NoKey { .. } | C::BadKey { .. } | C::SignIn { .. } => ErrorKind::PermissionDenied,
                    C::Budget { .. } => ErrorKind::BudgetExceeded,
                    C::QuotaSpent { .. }
                    | C::DailyLimit { .. }
                    | C::RateLimited { .. }
                    | C::Server { .. }
                    | C::Unreachable { .. }
                    | C::Malformed { .. }
                    | C::Unconfirmed { .. } => ErrorKind::Network,
                    C::Ledger(_) => ErrorKind::Storage,
                }
            }
            CoreError::Signals(err) => {
                use crate::signals::SignalsError as S;
                use rf_signals::SignalError as E;
                match err {
                    S::NothingConfigured | S::NothingToTrack | S::PageElsewhere(_) => ErrorKind::InvalidInput,
                    S::Signals(E::UnknownSeries { .. }) => ErrorKind::NotFound,
                    S::Signals(E::BadSeries(_) | E::BadDate(_) | E::BadValue { .. } | E::TooShort { .. }) => ErrorKind::InvalidInput,
                    S::Signals(E::Model { .. } | E::Store(_)) => ErrorKind::Storage,
                }
            }
            CoreError::ConnectorSettings(err) => {
                use crate::connectors::ConnectorSettingsError as S;
                match err {
                    S::Invalid { .. } | S::NeedsSignIn { .. } => ErrorKind::InvalidInput,
                    S::NotConfigured(_) | S::NotSignedIn(_) => ErrorKind::NotFound,
                    S::Secret(_) => ErrorKind::Storage,
                }
            }
            CoreError::Sync(err) => {
                use crate::sync::SyncError as S;
                use rf_sync::client::ClientError as C;
                match err {
                    S::Server(C::Unreachable { .. } | C::NotAServer { .. }) | S::Timeout { .. } | S::IndexUnavailable { .. } => ErrorKind::Network,
                    S::Server(C::Refused { .. }) | S::NotOwner { .. } => ErrorKind::PermissionDenied,
                    S::Secret(_) => ErrorKind::Storage,
                    S::Server(C::BadUrl { .. })
                    | S::BadToken(_)
                    | S::MissingToken { .. }
                    | S::NotJoined(_)
                    | S::EmptyServerWorkspace { .. }
                    | S::ServerHoldsOther { .. }
                    | S::DifferentUser { .. } => ErrorKind::InvalidInput,
                }
            }
        }
    }
}

/// Result alias for the facade.
pub type Result<T, E = CoreError> = std::result::Result<T, E>;
