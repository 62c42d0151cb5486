//! The runtime's errors.

/// What went wrong, said so that the user can act on it.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(transparent)]
    Spec(#[from] crate::spec::SpecError),
    /// The input a user gave is wrong (says what and where).
    #[error("{0}")]
    InvalidInput(String),
    #[error("{0}")]
    NotFound(String),
    /// The run or step is not in a state that allows this.
    #[error("{0}")]
    Conflict(String),
    #[error("the runs database: {0}")]
    Store(String),
}

pub type Result<T, E = AgentError> = std::result::Result<T, E>;
