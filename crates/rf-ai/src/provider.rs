//! [`ProviderError`]: why a cloud provider call failed, shared by the cloud
//! clients (rf-cloud), the ledger (its outcome codes) and every caller.

use crate::{ModelId, ProviderName, Usage};

/// Why a provider call failed. Every message names the provider and says
/// what to do.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("{provider} refused the API key (HTTP {status}): {detail}; store a valid key with `raptorflow providers set-key {provider} --key-stdin`")]
    Unauthorized { provider: ProviderName, status: u16, detail: String },
    #[error(
        "{provider} does not know the model {model:?} (HTTP {status}): {detail}; check the model id and run `raptorflow providers add {provider} ... --model ID` again"
    )]
    UnknownModel { provider: ProviderName, model: ModelId, status: u16, detail: String },
    #[error("{provider} is rate limiting this key (HTTP 429) after {attempts} attempt(s): {detail}; {advice}")]
    RateLimited { provider: ProviderName, attempts: u32, detail: String, advice: String },
    #[error("the request is longer than {model} on {provider} accepts: {detail}; shorten the input or choose a model with a longer context")]
    ContextTooLong { provider: ProviderName, model: ModelId, detail: String },
    #[error("{provider} rejected the request (HTTP {status}): {detail}")]
    BadRequest { provider: ProviderName, status: u16, detail: String },
    #[error("{provider} failed with HTTP {status} after {attempts} attempt(s): {detail}; the provider is having trouble, try again later")]
    Server { provider: ProviderName, status: u16, attempts: u32, detail: String },
    #[error("could not reach {provider} at {url} after {attempts} attempt(s): {detail}; check the base URL and the network")]
    Unreachable { provider: ProviderName, url: String, attempts: u32, detail: String },
    #[error("{provider} did not answer within {secs} s after {attempts} attempt(s); try again, or raise the timeout")]
    Timeout { provider: ProviderName, secs: u64, attempts: u32, usage: Usage },
    #[error("{provider}'s answer ended before it was complete ({detail}); nothing was kept, try again")]
    StreamDropped { provider: ProviderName, detail: String, usage: Usage },
    #[error("{provider} sent an answer that is not what its API documents: {detail}")]
    BadResponse { provider: ProviderName, detail: String, usage: Usage },
    #[error("{provider}'s answer does not match the requested schema: {detail}")]
    SchemaMismatch { provider: ProviderName, detail: String, usage: Usage },
    #[error("{provider} needs an API key and none is stored; add one with `raptorflow providers set-key {provider} --key-stdin`")]
    MissingKey { provider: ProviderName },
}

impl ProviderError {
    /// Tokens the provider may have billed for a call that failed after it
    /// reached the provider (estimated where the provider did not say).
    pub fn billed_usage(&self) -> Option<Usage> {
        match self {
            Self::Timeout { usage, .. } | Self::StreamDropped { usage, .. } | Self::BadResponse { usage, .. } | Self::SchemaMismatch { usage, .. } => {
                Some(*usage)
            }
            _ => None,
        }
    }

    /// A short stable name for the ledger's outcome column.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthorized { .. } => "unauthorized",
            Self::UnknownModel { .. } => "unknown_model",
            Self::RateLimited { .. } => "rate_limited",
            Self::ContextTooLong { .. } => "context_too_long",
            Self::BadRequest { .. } => "bad_request",
            Self::Server { .. } => "server_error",
            Self::Unreachable { .. } => "unreachable",
            Self::Timeout { .. } => "timeout",
            Self::StreamDropped { .. } => "stream_dropped",
            Self::BadResponse { .. } => "bad_response",
            Self::SchemaMismatch { .. } => "schema_mismatch",
            Self::MissingKey { .. } => "missing_key",
        }
    }
}
