//! What RaptorFlow knows of each service, kept as data
//! (`data/services.toml`): the public base URL, how it authenticates, its
//! published rate limits, the price of a call, and how long each endpoint's
//! answers stay fresh.

use std::{collections::BTreeMap, sync::OnceLock, time::Duration};

use serde::Deserialize;

use crate::Service;

/// How a service authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "kebab-case")]
pub enum Auth {
    /// A key the user pastes (`connectors add NAME --key-stdin`).
    ApiKey,
    /// The user signs in (OAuth 2.0 with PKCE, `connectors auth NAME`).
    Oauth,
}

/// How an OAuth app proves itself at the token endpoint when it has a
/// secret (RFC 6749 section 2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClientAuth {
    /// HTTP Basic with the client id and secret (X, Canva).
    #[default]
    Basic,
    /// `client_id` and `client_secret` in the form body (LinkedIn, which
    /// takes no other).
    RequestBody,
}

/// One service's entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceInfo {
    pub title: String,
    /// The vendor's public base URL.
    pub base_url: String,
    pub docs: String,
    pub auth: Auth,
    /// Its client is written; otherwise calls are refused with `note`.
    pub built: bool,
    #[serde(default)]
    pub note: Option<String>,
    pub requests_per_second: u32,
    #[serde(default)]
    pub requests_per_day: Option<u32>,
    /// Dollars per call that is sent (not for answers from the cache), or
    /// per `price_per` where the service bills by something else.
    pub usd_per_call: String,
    /// What `usd_per_call` is the price of: `call` unless the catalog says
    /// otherwise (Semrush: `API unit`).
    #[serde(default = "a_call")]
    pub price_per: String,
    /// Freshness per endpoint, in hours.
    #[serde(default)]
    pub ttl_hours: BTreeMap<String, u64>,
    /// For OAuth services: where the user approves, where codes become
    /// tokens, and the scopes asked for.
    #[serde(default)]
    pub authorize_url: Option<String>,
    #[serde(default)]
    pub token_url: Option<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub client_auth: ClientAuth,
    /// The service issues only confidential clients: signing in needs the
    /// app's client secret (LinkedIn, Canva).
    #[serde(default)]
    pub secret_required: bool,
    /// The API version a versioned API is asked for (LinkedIn's
    /// `LinkedIn-Version: YYYYMM`).
    #[serde(default)]
    pub api_version: Option<String>,
}

impl ServiceInfo {
    /// How long an endpoint's answers are reused (one hour if the catalog
    /// does not say).
    pub fn ttl(&self, endpoint: &str) -> Duration {
        Duration::from_secs(self.ttl_hours.get(endpoint).copied().unwrap_or(1) * 3600)
    }

    pub fn base_url(&self) -> url::Url {
        self.base_url.parse().expect("the catalog's URLs are checked by its test")
    }

    /// The price of a call in micro-dollars.
    pub fn micro_usd_per_call(&self) -> u64 {
        rf_metering::pricing::parse_usd(&self.usd_per_call).expect("the catalog's prices are checked by its test")
    }
}

fn a_call() -> String {
    "call".to_owned()
}

static CATALOG: OnceLock<BTreeMap<String, ServiceInfo>> = OnceLock::new();

fn catalog() -> &'static BTreeMap<String, ServiceInfo> {
    CATALOG.get_or_init(|| toml::from_str(include_str!("../data/services.toml")).expect("data/services.toml is checked by the catalog's test"))
}

pub(crate) fn info(service: Service) -> &'static ServiceInfo {
    catalog().get(service.name()).expect("every service is in the catalog (checked by its test)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_service_is_in_the_catalog_with_a_price_and_a_limit() {
        let parsed: BTreeMap<String, ServiceInfo> = toml::from_str(include_str!("../data/services.toml")).unwrap();
        assert_eq!(parsed.len(), Service::ALL.len(), "one entry per service, no others");
        for service in Service::ALL {
            let info = &parsed[service.name()];
            assert!(rf_metering::pricing::parse_usd(&info.usd_per_call).is_ok(), "{service}: {}", info.usd_per_call);
            assert!(info.requests_per_second > 0, "{service}");
            assert!(info.built || info.note.is_some(), "{service} is not built and says nothing about it");
            assert_eq!(url::Url::parse(&info.base_url).unwrap().scheme(), "https", "{service}");
            if info.auth == Auth::Oauth {
                for endpoint in [&info.authorize_url, &info.token_url] {
                    assert_eq!(url::Url::parse(endpoint.as_deref().unwrap()).unwrap().scheme(), "https", "{service}");
                }
                assert!(!info.scopes.is_empty(), "{service}");
            }
        }
        assert_eq!(info(Service::Brave).ttl("web-search"), Duration::from_secs(24 * 3600));
        assert_eq!(info(Service::NewsApi).micro_usd_per_call(), 1796);
        assert_eq!((info(Service::Semrush).micro_usd_per_call(), info(Service::Semrush).price_per.as_str()), (50, "API unit"));
        assert_eq!(info(Service::Brave).price_per, "call");
    }
}
