//! The marketing connectors (issue 26): typed clients for the plan's eight
//! APIs, each with its vendor's errors mapped to clear ones, retries with
//! backoff that honour `Retry-After`, and a base URL that can point at a
//! proxy or a test server.
//!
//! Work in progress on a branch: the shared HTTP layer and NewsAPI. Rate
//! limits, the response cache, the ledger, keys in the keyring and the other
//! seven services come next.

use std::{fmt, str::FromStr, time::Duration};

pub mod http;
pub mod newsapi;

/// One of the services RaptorFlow can call, by the name the CLI uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    Semrush,
    Ahrefs,
    NewsApi,
    Brave,
    GoogleTrends,
    X,
    LinkedIn,
    Canva,
}

impl Service {
    pub const ALL: [Service; 8] =
        [Service::Semrush, Service::Ahrefs, Service::NewsApi, Service::Brave, Service::GoogleTrends, Service::X, Service::LinkedIn, Service::Canva];

    /// The name on the command line and in settings.
    pub fn name(self) -> &'static str {
        match self {
            Service::Semrush => "semrush",
            Service::Ahrefs => "ahrefs",
            Service::NewsApi => "newsapi",
            Service::Brave => "brave",
            Service::GoogleTrends => "google-trends",
            Service::X => "x",
            Service::LinkedIn => "linkedin",
            Service::Canva => "canva",
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Service {
    type Err = ConnectorError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Service::ALL.into_iter().find(|s| s.name() == text).ok_or_else(|| ConnectorError::UnknownService(text.chars().take(64).collect()))
    }
}

/// What went wrong calling a service, in words a marketer can act on.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConnectorError {
    #[error("unknown connector `{0}`: use one of semrush, ahrefs, newsapi, brave, google-trends, x, linkedin, canva")]
    UnknownService(String),
    #[error("{service} refused the API key ({detail}): check it with `raptorflow connectors add {service} --key-stdin`")]
    BadKey { service: Service, detail: String },
    #[error("{service}: the key's quota is spent ({detail})")]
    QuotaSpent { service: Service, detail: String },
    #[error("{service} is rate-limiting this key after {attempts} tries ({detail}){}", retry_advice(*.retry_after))]
    RateLimited { service: Service, attempts: u32, detail: String, retry_after: Option<Duration> },
    #[error("{service}: not found ({detail})")]
    NotFound { service: Service, detail: String },
    #[error("{service} refused the request ({status}): {detail}")]
    BadRequest { service: Service, status: u16, detail: String },
    #[error("{service} failed with {status} after {attempts} tries: {detail}")]
    Server { service: Service, status: u16, attempts: u32, detail: String },
    #[error("could not reach {service} at {url} after {attempts} tries: {detail}")]
    Unreachable { service: Service, url: String, attempts: u32, detail: String },
    #[error("{service} answered with something that is not its documented response: {detail}")]
    Malformed { service: Service, detail: String },
}

fn retry_advice(retry_after: Option<Duration>) -> String {
    match retry_after {
        Some(wait) => format!("; it asks to wait {} s", wait.as_secs_f64().ceil()),
        None => String::new(),
    }
}
