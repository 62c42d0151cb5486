//! Signing in to the connectors that use OAuth (X, LinkedIn, Canva): the
//! user's own app (client id, and a secret where the service requires one),
//! the loopback redirect, and the tokens, which live in the OS keyring with
//! the connector's other secrets and are refreshed before they expire.

use std::{path::Path, time::Duration};

use rf_cloud::ApiKey;
use rf_connectors::{
    Auth, ConnectorError, Service,
    oauth::{self, OAuthApp, Tokens},
};

use crate::{
    Result,
    connectors::{ConnectorSettings, ConnectorSettingsError},
    providers::{load_file_only, save_settings},
    secrets::CONNECTOR_KEYS,
};

/// How to sign in.
#[derive(Debug, Clone)]
pub struct SignIn {
    pub name: String,
    /// The client id of the app the user registered with the service.
    pub client_id: String,
    /// Its secret, for services that require one (Canva; X for
    /// confidential clients).
    pub client_secret: Option<ApiKey>,
    /// The loopback port of the redirect address registered with the app
    /// (`http://127.0.0.1:PORT/callback`); 0 picks a free one, for services
    /// that accept any loopback port.
    pub redirect_port: u16,
    /// Overrides of the service's endpoints (a proxy, a test server).
    pub base_url: Option<String>,
    pub authorize_url: Option<String>,
    pub token_url: Option<String>,
    /// How long to wait for the browser.
    pub timeout: Duration,
    /// LinkedIn: the organisation to post as and measure (its numeric id
    /// or URN); kept from an earlier sign-in when `None`.
    pub organization: Option<String>,
}

/// The account of a signed-in connector's client secret.
fn secret_account(key_ref: &str) -> String {
    format!("{key_ref}/client-secret")
}

fn parse_url(field: &'static str, text: &str) -> std::result::Result<url::Url, ConnectorSettingsError> {
    crate::providers::http_url(text).map_err(|detail| ConnectorSettingsError::Invalid { field, detail })
}

/// The app a configured OAuth connector signs in with.
pub(crate) fn app(settings: &ConnectorSettings, service: Service) -> Result<OAuthApp> {
    let info = service.info();
    let client_id = settings.client_id.clone().ok_or(ConnectorSettingsError::NotSignedIn(service))?;
    let client_secret = match &settings.key_ref {
        Some(key_ref) => CONNECTOR_KEYS.get(&secret_account(key_ref)).map_err(ConnectorSettingsError::from)?,
        None => None,
    };
    let endpoint = |field, own: &Option<String>, catalog: &Option<String>| -> Result<url::Url> {
        Ok(parse_url(field, own.as_deref().or(catalog.as_deref()).unwrap_or_default())?)
    };
    Ok(OAuthApp {
        service,
        client_id,
        client_secret,
        authorize_url: endpoint("authorize URL", &settings.authorize_url, &info.authorize_url)?,
        token_url: endpoint("token URL", &settings.token_url, &info.token_url)?,
        scopes: info.scopes.clone(),
        client_auth: info.client_auth,
    })
}

/// The stored tokens of a connector, if it is signed in.
pub(crate) fn tokens(settings: &ConnectorSettings) -> Result<Option<Tokens>> {
    let Some(key_ref) = &settings.key_ref else { return Ok(None) };
    let Some(text) = CONNECTOR_KEYS.get(key_ref).map_err(ConnectorSettingsError::from)? else { return Ok(None) };
    Ok(serde_json::from_str(&text).ok())
}

pub(crate) fn store_tokens(key_ref: &str, tokens: &Tokens) -> Result<()> {
    let text = serde_json::to_string(tokens).map_err(|err| ConnectorSettingsError::Invalid { field: "tokens", detail: err.to_string() })?;
    Ok(CONNECTOR_KEYS.set(key_ref, &text).map_err(ConnectorSettingsError::from)?)
}

/// A fresh access token for a signed-in connector: the stored one, or a
/// refreshed one (stored in its place) when it is about to expire and the
/// network may be used.
pub(crate) async fn access_token(settings: &ConnectorSettings, service: Service, online: bool) -> Result<Option<ApiKey>> {
    let Some(mut current) = tokens(settings)? else { return Ok(None) };
    let now = rf_metering::ledger::now_ms();
    if current.needs_refresh(now) && online {
        let app = app(settings, service)?;
        let http = oauth::token_http_client()?;
        current = oauth::refresh(&app, &http, &current, now).await?;
        if let Some(key_ref) = &settings.key_ref {
            store_tokens(key_ref, &current)?;
        }
    }
    Ok(ApiKey::new(&current.access_token))
}

/// Signs in: `on_url` gets the address to open in the browser and the
/// redirect address; the tokens and the client secret go to the keyring,
/// the client id and endpoints to the settings.
pub(crate) async fn sign_in(data_dir: &Path, online: bool, request: SignIn, on_url: impl FnOnce(&url::Url, &str)) -> Result<ConnectorSettings> {
    let service: Service = request.name.parse()?;
    if service.info().auth != Auth::Oauth {
        return Err(ConnectorSettingsError::Invalid {
            field: "connector",
            detail: format!("{service} uses an API key: `raptorflow connectors add {service} --key-stdin`"),
        }
        .into());
    }
    if !service.info().built {
        return Err(ConnectorError::NotBuilt { service, note: service.info().note.clone().unwrap_or_default() }.into());
    }
    if !online {
        return Err(ConnectorError::Offline { service }.into());
    }
    if request.client_id.trim().is_empty() {
        return Err(ConnectorSettingsError::Invalid {
            field: "--client-id",
            detail: "it is empty: register an app with the service and give its client id".into(),
        }
        .into());
    }
    let before = load_file_only(data_dir)?;
    let old = before.connectors.iter().find(|c| c.name == service.name()).cloned();
    let mut entry = old.unwrap_or_else(|| ConnectorSettings::unconfigured(service));
    entry.client_id = Some(request.client_id.trim().to_owned());
    if let Some(url) = &request.base_url {
        entry.base_url = Some(parse_url("base URL", url)?.to_string());
    }
    for (field, given, slot) in [("authorize URL", &request.authorize_url, &mut entry.authorize_url), ("token URL", &request.token_url, &mut entry.token_url)] {
        if let Some(url) = given {
            *slot = Some(parse_url(field, url)?.to_string());
        }
    }
    if let Some(organization) = &request.organization {
        if service != Service::LinkedIn {
            return Err(
                ConnectorSettingsError::Invalid { field: "--organization", detail: format!("only LinkedIn posts as an organisation, not {service}") }.into()
            );
        }
        let id = rf_connectors::linkedin::organization_id(organization).ok_or_else(|| ConnectorSettingsError::Invalid {
            field: "--organization",
            detail: format!("{organization:?} is not a LinkedIn organisation id (the digits in the page's admin address, or urn:li:organization:ID)"),
        })?;
        entry.organization = Some(id.to_owned());
    }
    let mut app = app(&entry, service)?;
    app.client_secret = request.client_secret.as_ref().map(|s| s.expose().to_owned()).or(app.client_secret);
    if service.info().secret_required && app.client_secret.is_none() {
        return Err(ConnectorSettingsError::Invalid {
            field: "--client-secret-stdin",
            detail: format!("{} issues apps with a client secret and asks for it when signing in: give it on standard input", service.info().title),
        }
        .into());
    }
    let pending = oauth::begin(&app, request.redirect_port).await?;
    on_url(&pending.authorize_url, pending.redirect_uri());
    let http = oauth::token_http_client()?;
    let tokens = pending.finish(&http, request.timeout, rf_metering::ledger::now_ms).await?;
    // The settings are read again: the wait can be minutes long, and what
    // changed meanwhile (another connector, privacy, this connector's
    // options) is kept; only what this sign-in set is written.
    let mut settings = load_file_only(data_dir)?;
    let mut fresh = settings.connectors.iter().find(|c| c.name == service.name()).cloned().unwrap_or_else(|| ConnectorSettings::unconfigured(service));
    let key_ref = fresh.key_ref.clone().or(entry.key_ref.clone()).unwrap_or_else(|| format!("{service}/{}", uuid::Uuid::now_v7()));
    store_tokens(&key_ref, &tokens)?;
    if let Some(secret) = &app.client_secret {
        CONNECTOR_KEYS.set(&secret_account(&key_ref), secret).map_err(ConnectorSettingsError::from)?;
    }
    fresh.key_ref = Some(key_ref);
    fresh.client_id = entry.client_id;
    fresh.base_url = entry.base_url;
    fresh.authorize_url = entry.authorize_url;
    fresh.token_url = entry.token_url;
    if request.organization.is_some() {
        fresh.organization = entry.organization;
    }
    settings.connectors.retain(|c| c.name != fresh.name);
    settings.connectors.push(fresh.clone());
    save_settings(data_dir, &settings)?;
    Ok(fresh)
}

/// Deletes a connector's client secret (its tokens go with its key).
pub(crate) fn forget_secret(key_ref: &str) -> std::result::Result<(), ConnectorSettingsError> {
    Ok(CONNECTOR_KEYS.delete(&secret_account(key_ref))?)
}
