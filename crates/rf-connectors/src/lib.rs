//! The marketing connectors (issue 26): typed clients for the plan's eight
//! APIs. Every call goes through one [`Gateway`]: nothing leaves the machine
//! unless the caller allows the network, an answer still fresh in the cache
//! is reused at no cost, each vendor's limits are kept client-side (calls a
//! second, calls a day), the call's cost is reserved against the budget
//! before it is sent and recorded in the ledger after, 408/429/5xx answers
//! are retried with backoff that honours `Retry-After`, and the vendor's
//! errors become clear ones. Base URLs can point at a proxy or a test server.
//!
//! Built so far: NewsAPI, Brave Search, Semrush (domain overview, organic
//! keywords, keyword overview) and Ahrefs (Domain Rating, metrics, organic
//! keywords), the last two billed per API unit; X (OAuth sign-in in `oauth`;
//! recent search, accounts and their posts, and posting, which goes through
//! [`Gateway::post`]: never cached, never retried once it may have arrived);
//! LinkedIn (the organisations the member administers, an organisation's
//! posts and share statistics, and posting as the organisation); Canva
//! (Connect API: a design of a given size, its export, and the download of
//! the exported files). Google Trends is in the catalog
//! (`data/services.toml`) and refuses calls with a note saying why.

use std::{fmt, str::FromStr, time::Duration};

pub mod ahrefs;
pub mod brave;
pub mod canva;
pub mod catalog;
mod gateway;
pub mod http;
pub mod linkedin;
pub mod newsapi;
pub mod oauth;
pub mod semrush;
pub mod x;

pub use catalog::{Auth, ClientAuth, ServiceInfo};
pub use gateway::{ApiPost, ApiRequest, Billing, Call, Connector, FetchOptions, Fetched, Gateway, Limits, start_of_day_ms};
pub use rf_cloud::ApiKey;

/// One of the services RaptorFlow can call, by the name the CLI uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "specta", derive(specta::Type), specta(type = String))]
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

    /// The name on the command line, in settings and in the ledger.
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

    /// What the catalog says of this service.
    pub fn info(self) -> &'static ServiceInfo {
        catalog::info(self)
    }
}

impl serde::Serialize for Service {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
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

/// One result of a search, whichever service found it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Hit {
    pub title: String,
    pub url: String,
    /// The publisher or site.
    pub source: Option<String>,
    /// When it was published, as the service gives it.
    pub published: Option<String>,
    pub snippet: Option<String>,
}

/// The domain of a web address as the SEO services take it:
/// `https://www.Example.com/shop?x=1` is `example.com`. `None` for
/// anything without a dot in its host, or with spaces.
pub fn domain_of(address: &str) -> Option<String> {
    let trimmed = address.trim();
    let rest = trimmed.split_once("://").map_or(trimmed, |(_, rest)| rest);
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default().trim_start_matches("www.").to_ascii_lowercase();
    (host.contains('.') && !host.contains(char::is_whitespace) && host.len() <= 253).then_some(host)
}

/// What went wrong calling a service, in words a marketer can act on.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error("unknown connector `{0}`: use one of semrush, ahrefs, newsapi, brave, google-trends, x, linkedin, canva")]
    UnknownService(String),
    #[error("{service} cannot be called yet: {note}")]
    NotBuilt { service: Service, note: String },
    #[error("privacy mode offline-only: {service} is not called, nothing leaves this machine (`raptorflow providers privacy cloud-allowed` allows it)")]
    Offline { service: Service },
    #[error("{service} has no API key: add one with `raptorflow connectors add {service} --key-stdin`")]
    NoKey { service: Service },
    #[error("{service} refused the API key ({detail}): check it with `raptorflow connectors add {service} --key-stdin`")]
    BadKey { service: Service, detail: String },
    #[error("{service}: the key's quota is spent ({detail})")]
    QuotaSpent { service: Service, detail: String },
    #[error("{service}: today's {limit} calls are used (the limit set for this connector); it resets at 00:00 UTC")]
    DailyLimit { service: Service, limit: u32 },
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
    #[error("{service} was not called: {exceeded}")]
    Budget { service: Service, exceeded: rf_metering::ledger::BudgetExceeded },
    #[error("signing in to {service} failed: {detail}")]
    SignIn { service: Service, detail: String },
    /// A post was sent but its outcome is unknown (a 5xx answer, or no
    /// answer): it may be published. Never retried, so as not to publish twice.
    #[error("{service} may or may not have {action} ({detail}): check the account before trying again")]
    Unconfirmed { service: Service, action: &'static str, detail: String },
    #[error("the cost ledger failed: {0}")]
    Ledger(String),
}

impl ConnectorError {
    /// A short code for the ledger's `outcome` column.
    pub fn code(&self) -> &'static str {
        match self {
            ConnectorError::UnknownService(_) => "unknown_service",
            ConnectorError::NotBuilt { .. } => "not_built",
            ConnectorError::Offline { .. } => "offline",
            ConnectorError::NoKey { .. } => "no_key",
            ConnectorError::BadKey { .. } => "bad_key",
            ConnectorError::QuotaSpent { .. } => "quota_spent",
            ConnectorError::DailyLimit { .. } => "daily_limit",
            ConnectorError::RateLimited { .. } => "rate_limited",
            ConnectorError::NotFound { .. } => "not_found",
            ConnectorError::BadRequest { .. } => "bad_request",
            ConnectorError::Server { .. } => "server_error",
            ConnectorError::Unreachable { .. } => "unreachable",
            ConnectorError::Malformed { .. } => "malformed",
            ConnectorError::Budget { .. } => "budget",
            ConnectorError::SignIn { .. } => "sign_in",
            ConnectorError::Unconfirmed { .. } => "unconfirmed",
            ConnectorError::Ledger(_) => "ledger",
        }
    }
}

fn retry_advice(retry_after: Option<Duration>) -> String {
    match retry_after {
        Some(wait) => format!("; it asks to wait {} s", wait.as_secs_f64().ceil()),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::domain_of;

    #[test]
    fn a_web_address_is_reduced_to_its_host_without_www() {
        assert_eq!(domain_of("https://www.Fernhill.coffee/shop?x=1").as_deref(), Some("fernhill.coffee"));
        assert_eq!(domain_of("fernhill.coffee").as_deref(), Some("fernhill.coffee"));
        assert_eq!(domain_of(""), None);
        assert_eq!(domain_of("https://localhost/"), None);
        assert_eq!(domain_of("not a domain"), None);
    }
}
