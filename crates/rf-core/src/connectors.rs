//! The marketing connectors the user configured: `[[connector]]` entries of
//! `settings.toml` (a base URL override, limits, a price), with their API
//! keys in the OS keyring under [`CONNECTOR_KEYRING_SERVICE`]. Calls go
//! through the engine's one [`Gateway`] (cache, limits, budget, ledger);
//! in privacy mode offline-only only the cache can answer.

use std::{num::NonZeroU32, path::Path};

use rf_cloud::ApiKey;
pub use rf_connectors::{Auth, ConnectorError, Hit, Service, canva};
use rf_connectors::{Call, Connector, FetchOptions, Limits, ahrefs, brave, newsapi, semrush};
use rf_domain::WorkspaceId;
use rf_metering::ledger::CallContext;
use serde::{Deserialize, Serialize};

use crate::{
    CoreError, Result,
    ai::PrivacyMode,
    providers::{load_file_only, save_settings},
    secrets::CONNECTOR_KEYS,
};

/// The keyring service under which connector API keys are stored (the
/// account is the connector's `key_ref`).
pub const CONNECTOR_KEYRING_SERVICE: &str = "raptorflow-connectors";

/// One configured connector, as `settings.toml` holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectorSettings {
    /// The service (`newsapi`, `brave`, ...).
    pub name: String,
    /// Overrides the vendor's URL (a proxy, a test server).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// The keyring account holding the key (`NAME/<uuid>`). Not a secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_ref: Option<String>,
    /// Overrides the catalog's limits and price, for another plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_second: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_day: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usd_per_call: Option<String>,
    /// For services that sign in: the client id of the user's app, and
    /// endpoint overrides. The tokens are in the keyring under `key_ref`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorize_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_url: Option<String>,
    /// LinkedIn: the organisation (company page) posted as and measured,
    /// by its numeric id; when unset, the one the member administers, if
    /// there is exactly one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    /// LinkedIn: the workspace whose brand the page is; its posts go to
    /// the page and its sweeps measure it. Needed once there are several
    /// workspaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<WorkspaceId>,
    /// Overrides the catalog's API version (LinkedIn's `YYYYMM`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
}

impl ConnectorSettings {
    /// A service's entry before anything is set: the catalog's URL,
    /// limits and price, no key.
    pub(crate) fn unconfigured(service: Service) -> Self {
        Self {
            name: service.name().to_owned(),
            base_url: None,
            key_ref: None,
            requests_per_second: None,
            requests_per_day: None,
            usd_per_call: None,
            client_id: None,
            authorize_url: None,
            token_url: None,
            organization: None,
            workspace: None,
            api_version: None,
        }
    }
}

/// A connector to add (or change, by name).
#[derive(Debug, Clone, Default)]
pub struct NewConnector {
    pub name: String,
    pub base_url: Option<String>,
    pub requests_per_second: Option<u32>,
    pub requests_per_day: Option<u32>,
    pub usd_per_call: Option<String>,
}

/// Why connector settings could not be used or changed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorSettingsError {
    #[error("invalid connector {field}: {detail}; nothing was changed")]
    Invalid { field: &'static str, detail: String },
    #[error("connector {0} is not configured; `raptorflow connectors list` shows them")]
    NotConfigured(Service),
    #[error("{service} signs in with OAuth rather than an API key: `{}`", sign_in_command(*service))]
    NeedsSignIn { service: Service },
    #[error("{} is not signed in: `{}`", .0, sign_in_command(*.0))]
    NotSignedIn(Service),
    #[error(transparent)]
    Secret(#[from] crate::secrets::SecretError),
}

/// The command that signs in to `service`, as it runs.
pub fn sign_in_command(service: Service) -> String {
    let secret = if service.info().secret_required { " --client-secret-stdin" } else { "" };
    format!("raptorflow connectors auth {service} --client-id ID{secret}")
}

fn invalid(field: &'static str, detail: impl Into<String>) -> ConnectorSettingsError {
    ConnectorSettingsError::Invalid { field, detail: detail.into() }
}

/// A connector's state for `connectors list` and the Integrations page.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ConnectorStatus {
    pub name: Service,
    pub title: String,
    pub auth: Auth,
    /// Signing in needs the app's client secret (LinkedIn, Canva).
    pub secret_required: bool,
    /// Its client is written (otherwise `note` says what is missing).
    pub built: bool,
    pub note: Option<String>,
    pub configured: bool,
    pub has_key: bool,
    pub base_url: String,
    pub requests_per_second: u32,
    pub requests_per_day: Option<u32>,
    pub usd_per_call: String,
    /// What `usd_per_call` is the price of: `call`, or `API unit`.
    pub price_per: String,
    /// Calls sent since 00:00 UTC (answers from the cache not counted).
    pub calls_today: u64,
    /// What the daily limit leaves, if there is one.
    pub left_today: Option<u64>,
    pub last_call_at_ms: Option<i64>,
    /// `ok`, or the last error's code (`bad_key`, `rate_limited`, ...).
    pub last_outcome: Option<String>,
    pub docs: String,
}

/// What a search through a connector found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchResults {
    pub service: Service,
    pub endpoint: &'static str,
    /// The service's count of matches, where it gives one.
    pub total: Option<u64>,
    pub hits: Vec<Hit>,
    /// Answered from the cache: nothing was sent or paid.
    pub cached: bool,
    pub cost_micro_usd: u64,
    pub latency_ms: u64,
}

/// A search to run through a connector.
#[derive(Debug, Clone)]
pub struct ConnectorSearch {
    pub text: String,
    /// News rather than the web (NewsAPI only searches news).
    pub news: bool,
    pub count: Option<u8>,
    /// The workspace whose budget pays.
    pub workspace: Option<WorkspaceId>,
}

fn service(name: &str) -> Result<Service> {
    Ok(name.parse::<Service>()?)
}

fn parse_base_url(text: &str) -> std::result::Result<String, ConnectorSettingsError> {
    Ok(crate::providers::base_url(text).map_err(|detail| invalid("base URL", detail))?.to_string())
}

/// Adds a connector, or changes the one of the same service. Options not
/// given keep their earlier values; `key` goes to the keyring.
pub(crate) fn add_connector(data_dir: &Path, new: NewConnector, key: Option<ApiKey>) -> Result<ConnectorSettings> {
    let service = service(&new.name)?;
    if service.info().auth == Auth::Oauth {
        return Err(ConnectorSettingsError::NeedsSignIn { service }.into());
    }
    let base_url = new.base_url.as_deref().map(parse_base_url).transpose()?;
    if new.requests_per_second == Some(0) {
        return Err(invalid("--requests-per-second", "it must be at least 1").into());
    }
    if let Some(usd) = &new.usd_per_call {
        rf_metering::pricing::parse_usd(usd).map_err(|err| invalid("--usd-per-call", err))?;
    }
    let mut settings = load_file_only(data_dir)?;
    let old = settings.connectors.iter().find(|c| c.name == service.name()).cloned();
    let key_ref = match (&key, old.as_ref().and_then(|c| c.key_ref.clone())) {
        (_, Some(old)) => Some(old),
        (Some(_), None) => Some(format!("{service}/{}", uuid::Uuid::now_v7())),
        (None, None) => None,
    };
    let old = old.unwrap_or_else(|| ConnectorSettings::unconfigured(service));
    let connector = ConnectorSettings {
        name: service.name().to_owned(),
        base_url: base_url.or(old.base_url),
        key_ref,
        requests_per_second: new.requests_per_second.or(old.requests_per_second),
        requests_per_day: new.requests_per_day.or(old.requests_per_day),
        usd_per_call: new.usd_per_call.or(old.usd_per_call),
        ..old
    };
    if let (Some(key), Some(key_ref)) = (&key, &connector.key_ref) {
        CONNECTOR_KEYS.set(key_ref, key.expose()).map_err(ConnectorSettingsError::from)?;
    }
    settings.connectors.retain(|c| c.name != connector.name);
    settings.connectors.push(connector.clone());
    save_settings(data_dir, &settings)?;
    Ok(connector)
}

/// What `connectors set` changes of a configured connector; `None` keeps
/// what is set.
#[derive(Debug, Clone, Default)]
pub struct ConnectorOptions {
    /// LinkedIn: the page posted as and measured (its id or URN; `auto`:
    /// the only page administered).
    pub organization: Option<String>,
    /// LinkedIn: the workspace whose brand the page is.
    pub workspace: Option<WorkspaceId>,
    /// The API version asked for (LinkedIn: `YYYYMM`; `default`: the
    /// catalog's).
    pub api_version: Option<String>,
}

/// Changes a configured connector's options (the LinkedIn page, its
/// workspace, the API version) without signing in again.
pub(crate) fn set_connector_options(data_dir: &Path, name: &str, options: ConnectorOptions) -> Result<ConnectorSettings> {
    let service = service(name)?;
    if service != Service::LinkedIn {
        if options.organization.is_some() {
            return Err(invalid("--organization", format!("only LinkedIn posts as a page, not {service}")).into());
        }
        if options.workspace.is_some() {
            return Err(invalid("--workspace", format!("only LinkedIn's page belongs to a workspace, not {service}")).into());
        }
    }
    if options.api_version.is_some() && service.info().api_version.is_none() {
        return Err(invalid("--api-version", format!("{service} does not version its API")).into());
    }
    // `auto`: the only page administered again; `default`: the catalog's version.
    let clear_organization = options.organization.as_deref() == Some("auto");
    let clear_version = options.api_version.as_deref() == Some("default");
    let organization = match options.organization.as_deref().filter(|_| !clear_organization) {
        Some(text) => Some(
            rf_connectors::linkedin::organization_id(text)
                .ok_or_else(|| {
                    invalid("--organization", format!("{text:?} is not a LinkedIn page id (the digits in the page's admin address, or urn:li:organization:ID)"))
                })?
                .to_owned(),
        ),
        None => None,
    };
    if let Some(version) = options.api_version.as_ref().filter(|_| !clear_version) {
        let month = version.get(4..).and_then(|m| m.parse::<u32>().ok());
        if version.len() != 6 || !version.bytes().all(|b| b.is_ascii_digit()) || !month.is_some_and(|m| (1..=12).contains(&m)) {
            return Err(invalid("--api-version", format!("{version:?} is not a version written YYYYMM, such as 202610")).into());
        }
    }
    let mut settings = load_file_only(data_dir)?;
    let entry = settings.connectors.iter_mut().find(|c| c.name == service.name()).ok_or(ConnectorSettingsError::NotConfigured(service))?;
    if organization.is_some() || clear_organization {
        entry.organization = organization;
    }
    if options.workspace.is_some() {
        entry.workspace = options.workspace;
    }
    if clear_version {
        entry.api_version = None;
    } else if options.api_version.is_some() {
        entry.api_version = options.api_version;
    }
    let changed = entry.clone();
    save_settings(data_dir, &settings)?;
    Ok(changed)
}

/// Removes a connector and its key.
pub(crate) fn remove_connector(data_dir: &Path, name: &str) -> Result<ConnectorSettings> {
    let service = service(name)?;
    let mut settings = load_file_only(data_dir)?;
    let index = settings.connectors.iter().position(|c| c.name == service.name()).ok_or(ConnectorSettingsError::NotConfigured(service))?;
    if let Some(key_ref) = &settings.connectors[index].key_ref {
        CONNECTOR_KEYS.delete(key_ref).map_err(ConnectorSettingsError::from)?;
        crate::sign_in::forget_secret(key_ref)?;
    }
    let removed = settings.connectors.remove(index);
    save_settings(data_dir, &settings)?;
    Ok(removed)
}

/// The connector as configured, with its key from the keyring (for a
/// service that signs in, its access token, refreshed if it is about to
/// expire and the network may be used).
async fn connector(settings: &ConnectorSettings, service: Service, online: bool) -> Result<Connector> {
    let mut connector = Connector::new(service, None);
    if let Some(url) = &settings.base_url {
        connector.base_url = url.parse().map_err(|err: url::ParseError| invalid("base URL", format!("{url:?} in settings.toml: {err}")))?;
    }
    connector.key = match (service.info().auth, &settings.key_ref) {
        (Auth::Oauth, _) => crate::sign_in::access_token(settings, service, online).await?,
        (Auth::ApiKey, Some(key_ref)) => CONNECTOR_KEYS.get(key_ref).map_err(ConnectorSettingsError::from)?.as_deref().and_then(ApiKey::new),
        (Auth::ApiKey, None) => None,
    };
    connector.limits = limits(settings, service)?;
    if let Some(version) = &settings.api_version {
        connector.api_version = Some(version.clone());
    }
    Ok(connector)
}

fn limits(settings: &ConnectorSettings, service: Service) -> Result<Limits> {
    let info = service.info();
    let per_second = settings.requests_per_second.unwrap_or(info.requests_per_second);
    let price = match &settings.usd_per_call {
        Some(usd) => rf_metering::pricing::parse_usd(usd).map_err(|err| invalid("usd_per_call in settings.toml", err))?,
        None => info.micro_usd_per_call(),
    };
    Ok(Limits {
        requests_per_second: NonZeroU32::new(per_second).ok_or_else(|| invalid("requests_per_second in settings.toml", "it must be at least 1"))?,
        requests_per_day: settings.requests_per_day.or(info.requests_per_day),
        micro_usd_per_call: price,
    })
}

impl crate::Core {
    /// Adds or changes a connector (its key goes to the OS keyring).
    pub fn add_connector(&self, new: NewConnector, key: Option<ApiKey>) -> Result<ConnectorSettings> {
        let added = add_connector(self.data_dir(), new, key);
        self.inner.engine.settings_changed();
        added
    }

    /// Changes a configured connector's options (see [`ConnectorOptions`]).
    pub async fn set_connector_options(&self, name: &str, options: ConnectorOptions) -> Result<ConnectorSettings> {
        if let Some(workspace) = options.workspace {
            self.workspace(workspace).await?;
        }
        let changed = set_connector_options(self.data_dir(), name, options);
        self.inner.engine.settings_changed();
        changed
    }

    /// Removes a connector and its key.
    pub fn remove_connector(&self, name: &str) -> Result<ConnectorSettings> {
        let removed = remove_connector(self.data_dir(), name);
        self.inner.engine.settings_changed();
        removed
    }

    /// Every service, configured or not, with its use today.
    pub async fn connectors(&self) -> Result<Vec<ConnectorStatus>> {
        let settings = self.settings()?;
        let ledger = self.inner.engine.ledger().await?;
        let today = rf_connectors::start_of_day_ms(rf_metering::ledger::now_ms());
        let mut list = Vec::new();
        for service in Service::ALL {
            let info = service.info();
            let configured = settings.connectors.iter().find(|c| c.name == service.name());
            let defaults = ConnectorSettings::unconfigured(service);
            let entry = configured.unwrap_or(&defaults);
            let limits = limits(entry, service)?;
            let usage = ledger.usage_since(service.name(), today).await?;
            list.push(ConnectorStatus {
                name: service,
                title: info.title.clone(),
                auth: info.auth,
                secret_required: info.secret_required,
                built: info.built,
                note: info.note.clone(),
                configured: configured.is_some(),
                has_key: entry.key_ref.is_some(),
                base_url: entry.base_url.clone().unwrap_or_else(|| info.base_url.clone()),
                requests_per_second: limits.requests_per_second.get(),
                requests_per_day: limits.requests_per_day,
                usd_per_call: rf_metering::ledger::format_usd(limits.micro_usd_per_call),
                price_per: info.price_per.clone(),
                calls_today: usage.sent,
                left_today: limits.requests_per_day.map(|limit| u64::from(limit).saturating_sub(usage.sent)),
                last_call_at_ms: usage.last_at_ms,
                last_outcome: usage.last_outcome,
                docs: info.docs.clone(),
            });
        }
        Ok(list)
    }

    /// The configured connector for `service` and how calls may be made.
    pub(crate) async fn configured_connector(&self, service: Service) -> Result<(Connector, bool)> {
        let settings = self.settings()?;
        let entry = settings.connectors.iter().find(|c| c.name == service.name()).ok_or(ConnectorSettingsError::NotConfigured(service))?;
        let online = settings.privacy != PrivacyMode::OfflineOnly;
        Ok((connector(entry, service, online).await?, online))
    }

    /// Signs in to a service that uses OAuth (X, LinkedIn, Canva); `on_url`
    /// gets the address to open in the browser.
    pub async fn sign_in(&self, request: crate::sign_in::SignIn, on_url: impl FnOnce(&url::Url, &str)) -> Result<ConnectorSettings> {
        let online = self.settings()?.privacy != PrivacyMode::OfflineOnly;
        let signed = crate::sign_in::sign_in(self.data_dir(), online, request, on_url).await;
        self.inner.engine.settings_changed();
        signed
    }

    /// Sends a tiny uncached request to a connector and says how it went
    /// (recorded in the ledger like any call).
    pub async fn test_connector(&self, name: &str) -> Result<SearchResults> {
        let service = service(name)?;
        if matches!(service, Service::X | Service::Ahrefs | Service::LinkedIn | Service::Canva) {
            return self.test_by_lookup(service).await;
        }
        let search = ConnectorSearch { text: "marketing".into(), news: true, count: Some(1), workspace: None };
        self.search_through(service, &search, false).await
    }

    /// Searches the web or the news through a connector; a fresh cached
    /// answer is reused at no cost.
    pub async fn connector_search(&self, name: &str, search: &ConnectorSearch) -> Result<SearchResults> {
        let service = service(name)?;
        self.search_through(service, search, true).await
    }

    /// The test of a service that is not searched: one uncached lookup,
    /// as one-line results. Ahrefs: the Domain Rating of a target Ahrefs
    /// answers for free; X: the signed-in account; LinkedIn: the pages the
    /// signed-in member administers; Canva: the signed-in user.
    async fn test_by_lookup(&self, service: Service) -> Result<SearchResults> {
        let (connector, online) = self.configured_connector(service).await?;
        let gateway = self.inner.engine.gateway().await?;
        let context = CallContext::user(self.user().id.clone());
        let call = Call { connector: &connector, context: &context, options: FetchOptions { allow_network: online, use_cache: false } };
        let hit = |title: String, url: String, published: Option<String>| Hit { title, url, source: None, published, snippet: None };
        // The endpoint, the count of results where there is one, the
        // results, and what the call cost and took.
        let (endpoint, total, hits, cost_micro_usd, latency_ms) = match service {
            Service::Ahrefs => {
                let today = crate::signals::format_day(crate::signals::today());
                let fetched = ahrefs::domain_rating(&gateway, call, ahrefs::FREE_TEST_TARGET, &today).await?;
                let rank = fetched.value.ahrefs_rank.map(|r| format!(", Ahrefs Rank {r}")).unwrap_or_default();
                let title = format!("{}: Domain Rating {}{rank}", ahrefs::FREE_TEST_TARGET, fetched.value.domain_rating);
                let found = hit(title, format!("https://{}", ahrefs::FREE_TEST_TARGET), Some(today));
                ("domain-rating", None, vec![found], fetched.cost_micro_usd, fetched.latency_ms)
            }
            Service::X => {
                let fetched = rf_connectors::x::me(&gateway, call).await?;
                let user = fetched.value;
                let found = hit(format!("@{} ({})", user.username, user.name), format!("https://x.com/{}", user.username), None);
                ("users-me", None, vec![found], fetched.cost_micro_usd, fetched.latency_ms)
            }
            Service::LinkedIn => {
                let fetched = rf_connectors::linkedin::administered(&gateway, call).await?;
                let chosen = self.settings()?.connectors.iter().find(|c| c.name == "linkedin").and_then(|c| c.organization.clone());
                let found = fetched
                    .value
                    .iter()
                    .map(|acl| {
                        let id = rf_connectors::linkedin::organization_id(&acl.organization).unwrap_or(&acl.organization);
                        let posting = if chosen.as_deref() == Some(id) { ", posted as" } else { "" };
                        hit(
                            format!("{} ({}{posting})", acl.organization, acl.role.to_lowercase()),
                            format!("https://www.linkedin.com/company/{id}/admin/"),
                            None,
                        )
                    })
                    .collect();
                ("organization-acls", Some(fetched.value.len() as u64), found, fetched.cost_micro_usd, fetched.latency_ms)
            }
            Service::Canva => {
                let fetched = rf_connectors::canva::me(&gateway, call).await?;
                let title = format!("Canva user {} in team {}", fetched.value.user_id, fetched.value.team_id);
                ("users-me", None, vec![hit(title, "https://www.canva.com/".into(), None)], fetched.cost_micro_usd, fetched.latency_ms)
            }
            other => {
                let note = other.info().note.clone().unwrap_or_else(|| "it has no test of its own".into());
                return Err(CoreError::Connector(ConnectorError::NotBuilt { service: other, note }));
            }
        };
        Ok(SearchResults { service, endpoint, total, hits, cached: false, cost_micro_usd, latency_ms })
    }

    /// The LinkedIn page posted as and measured for `workspace`: the one
    /// chosen (`connectors set linkedin --organization ID`, or at sign-in),
    /// or the only page the member administers. Refused for a workspace
    /// the page does not belong to, and, while several workspaces exist,
    /// until the page is tied to one (`--workspace`). `lookup` finds the
    /// pages administered.
    pub(crate) async fn linkedin_organization(&self, lookup: Call<'_>, workspace: WorkspaceId) -> Result<String> {
        let entry =
            self.settings()?.connectors.iter().find(|c| c.name == "linkedin").cloned().ok_or(ConnectorSettingsError::NotConfigured(Service::LinkedIn))?;
        match entry.workspace {
            Some(own) if own != workspace => {
                return Err(CoreError::Conflict {
                    what: format!(
                        "the LinkedIn page belongs to workspace {own}, not {workspace} (`raptorflow connectors set linkedin --workspace ID` moves it)"
                    ),
                });
            }
            Some(_) => {}
            None => {
                let n = self.list_workspaces().await?.len();
                if n == 1 {
                    // The only brand there is: the page is its from now on,
                    // and stays its when another workspace is added.
                    let bind = ConnectorOptions { workspace: Some(workspace), ..ConnectorOptions::default() };
                    set_connector_options(self.data_dir(), Service::LinkedIn.name(), bind)?;
                    self.inner.engine.settings_changed();
                } else if n > 1 {
                    return Err(CoreError::Conflict {
                        what: format!(
                            "there are {n} workspaces: say whose brand the LinkedIn page is with `raptorflow connectors set linkedin --workspace ID`, so that no brand posts on another's page"
                        ),
                    });
                }
            }
        }
        if let Some(chosen) = entry.organization {
            return Ok(chosen);
        }
        let gateway = self.inner.engine.gateway().await?;
        let administered = rf_connectors::linkedin::administered(&gateway, lookup).await?.value;
        let ids: Vec<&str> = administered.iter().filter_map(|acl| rf_connectors::linkedin::organization_id(&acl.organization)).collect();
        match ids.as_slice() {
            [one] => Ok((*one).to_owned()),
            [] => Err(CoreError::Conflict {
                what: "the member signed in to LinkedIn administers no company page: sign in as a page administrator (`raptorflow connectors auth linkedin --client-id ID --client-secret-stdin`)".into(),
            }),
            many => Err(CoreError::Conflict {
                what: format!(
                    "the member signed in to LinkedIn administers {} pages ({}): choose one with `raptorflow connectors set linkedin --organization ID`",
                    many.len(),
                    many.join(", ")
                ),
            }),
        }
    }

    async fn search_through(&self, service: Service, search: &ConnectorSearch, use_cache: bool) -> Result<SearchResults> {
        let (connector, online) = self.configured_connector(service).await?;
        let gateway = self.inner.engine.gateway().await?;
        let context = CallContext { workspace_id: search.workspace, ..CallContext::user(self.user().id.clone()) };
        let call = Call { connector: &connector, context: &context, options: FetchOptions { allow_network: online, use_cache } };
        let text = search.text.trim().to_owned();
        let results = match service {
            Service::NewsApi => {
                let query =
                    newsapi::Everything { q: text, sort_by: Some(newsapi::SortBy::PublishedAt), page_size: search.count, ..newsapi::Everything::default() };
                let fetched = newsapi::everything(&gateway, call, &query).await?;
                let hits = fetched.value.articles.iter().map(Hit::from).collect();
                SearchResults {
                    service,
                    endpoint: "everything",
                    total: Some(fetched.value.total_results),
                    hits,
                    cached: fetched.cached,
                    cost_micro_usd: fetched.cost_micro_usd,
                    latency_ms: fetched.latency_ms,
                }
            }
            Service::Brave => {
                let query = brave::Search { q: text, count: search.count, ..brave::Search::default() };
                let (endpoint, hits, fetched) = if search.news {
                    let fetched = brave::news_search(&gateway, call, &query).await?;
                    ("news-search", fetched.value.hits(), (fetched.cached, fetched.cost_micro_usd, fetched.latency_ms))
                } else {
                    let fetched = brave::web_search(&gateway, call, &query).await?;
                    ("web-search", fetched.value.hits(), (fetched.cached, fetched.cost_micro_usd, fetched.latency_ms))
                };
                let (cached, cost_micro_usd, latency_ms) = fetched;
                SearchResults { service, endpoint, total: None, hits, cached, cost_micro_usd, latency_ms }
            }
            // A domain: the keywords it ranks for; anything else: the
            // keyword's overview. Semrush's US database.
            Service::Semrush if !text.contains(char::is_whitespace) && text.contains('.') => {
                let limit = u32::from(search.count.unwrap_or(10));
                let fetched = semrush::organic_keywords(&gateway, call, &text, semrush::DEFAULT_DATABASE, limit).await?;
                let hits = fetched.value.iter().map(semrush::OrganicKeyword::hit).collect();
                SearchResults {
                    service,
                    endpoint: "domain-organic",
                    total: None,
                    hits,
                    cached: fetched.cached,
                    cost_micro_usd: fetched.cost_micro_usd,
                    latency_ms: fetched.latency_ms,
                }
            }
            Service::Semrush => {
                let fetched = semrush::keyword_overview(&gateway, call, &text, semrush::DEFAULT_DATABASE).await?;
                let hits = fetched.value.iter().map(|overview| overview.hit(semrush::DEFAULT_DATABASE)).collect();
                SearchResults {
                    service,
                    endpoint: "phrase-this",
                    total: None,
                    hits,
                    cached: fetched.cached,
                    cost_micro_usd: fetched.cost_micro_usd,
                    latency_ms: fetched.latency_ms,
                }
            }
            // A domain or URL: the keywords it ranks for in the US today.
            Service::Ahrefs => {
                let today = crate::signals::format_day(crate::signals::today());
                let limit = u32::from(search.count.unwrap_or(10));
                let fetched = ahrefs::organic_keywords(&gateway, call, &text, &today, "us", limit).await?;
                let hits = fetched.value.iter().map(ahrefs::OrganicKeyword::hit).collect();
                SearchResults {
                    service,
                    endpoint: "organic-keywords",
                    total: None,
                    hits,
                    cached: fetched.cached,
                    cost_micro_usd: fetched.cost_micro_usd,
                    latency_ms: fetched.latency_ms,
                }
            }
            // X: posts of the past 7 days, in X's query language.
            Service::X => {
                let max_results = search.count.map(|c| u32::from(c).clamp(10, 100));
                let fetched =
                    rf_connectors::x::search_recent(&gateway, call, &rf_connectors::x::Search { query: text, max_results, ..Default::default() }).await?;
                SearchResults {
                    service,
                    endpoint: "search-recent",
                    total: Some(u64::from(fetched.value.meta.result_count)),
                    hits: fetched.value.data.iter().map(Hit::from).collect(),
                    cached: fetched.cached,
                    cost_micro_usd: fetched.cost_micro_usd,
                    latency_ms: fetched.latency_ms,
                }
            }
            other => {
                let note = other.info().note.clone().unwrap_or_else(|| "it does not search".into());
                return Err(CoreError::Connector(ConnectorError::NotBuilt { service: other, note }));
            }
        };
        Ok(results)
    }
}
