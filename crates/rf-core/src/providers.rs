//! Cloud model providers the user configured, in the app settings
//! (`settings.toml` of the data directory, independent of workspaces), with
//! their API keys in the OS keyring under [`PROVIDER_KEYRING_SERVICE`].
//! Keys are never written to the settings file, SQLite, logs or exports:
//! the settings only say which keyring entry holds a provider's key. Entry
//! names carry a random part, so two data directories (a test's, a second
//! profile) with a provider of the same name never share or overwrite a key.

use std::path::{Path, PathBuf};

use rf_ai::{
    ModelId, ProviderName,
    selector::{PrivacyMode, Tier},
};
use rf_cloud::{ApiKey, CloudConfig, CloudModel, HttpPolicy, ProviderKind, is_loopback};
use rf_metering::pricing::{Price, PriceTable};
use serde::{Deserialize, Serialize};

use crate::{CoreError, Result, secrets::PROVIDER_KEYS};

/// The keyring service under which provider API keys are stored (the
/// account is the provider's `key_ref`).
pub const PROVIDER_KEYRING_SERVICE: &str = "raptorflow-providers";

/// The settings file inside a data directory.
pub const SETTINGS_FILE_NAME: &str = "settings.toml";

/// App settings: defaults, then `settings.toml`, then `RAPTORFLOW_PRIVACY`
/// and `RAPTORFLOW_LOCAL_MODEL`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppSettings {
    /// Where models may run (offline-only, local-preferred, cloud-allowed).
    #[serde(default)]
    pub privacy: PrivacyMode,
    /// How long a cached answer is reused, in hours (default one week).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_ttl_hours: Option<u64>,
    #[serde(default, rename = "provider", skip_serializing_if = "Vec::is_empty")]
    pub providers: Vec<ProviderSettings>,
    /// Hours between automatic signal sweeps of each workspace while the
    /// app runs (default 24; 0 turns them off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signals_every_hours: Option<u64>,
    /// The marketing connectors configured (`raptorflow connectors add`).
    #[serde(default, rename = "connector", skip_serializing_if = "Vec::is_empty")]
    pub connectors: Vec<crate::connectors::ConnectorSettings>,
    /// The local LLM that agents, chat and asks use (`raptorflow models
    /// use ID`); unset, the manifest's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_model: Option<ModelId>,
    /// The MCP servers whose tools agents may use where their files allow
    /// (`raptorflow mcp-servers add`).
    #[serde(default, rename = "mcp_server", skip_serializing_if = "Vec::is_empty")]
    pub mcp_servers: Vec<crate::mcp_client::McpServerSettings>,
}

/// One configured provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderSettings {
    pub name: ProviderName,
    pub kind: ProviderKind,
    pub base_url: String,
    pub model: ModelId,
    /// The steps this model is meant for (fast, standard, premium).
    pub tier: Tier,
    /// The keyring account holding this provider's key (`NAME/<uuid>`), if
    /// one was stored. Not a secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_ref: Option<String>,
    /// Prices in dollars per million tokens, for models the bundled price
    /// table does not know.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_usd_per_mtok: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_usd_per_mtok: Option<String>,
    /// Seconds to wait for an answer to start (default 120).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_secs: Option<u64>,
    /// Tries of one call, the first included (default 4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    /// Ask for streamed answers (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
}

/// Why provider settings could not be used or changed.
#[derive(Debug, thiserror::Error)]
pub enum ProviderSettingsError {
    #[error("{} is not valid settings: {detail}; fix or remove the file (nothing was changed)", path.display())]
    BadFile { path: PathBuf, detail: String },
    #[error("invalid provider {field}: {detail}")]
    Invalid { field: &'static str, detail: String },
    #[error("no provider named {0:?} is configured; `raptorflow providers list` shows them")]
    Unknown(String),
    #[error(
        "no price is known for model {model:?} of provider {provider}, so its cost could not be counted against the budget; \
         pass --input-usd-per-mtok and --output-usd-per-mtok (dollars per million tokens)"
    )]
    NoPrice { provider: ProviderName, model: ModelId },
    #[error(transparent)]
    Secret(#[from] crate::secrets::SecretError),
}

fn invalid(field: &'static str, detail: impl Into<String>) -> ProviderSettingsError {
    ProviderSettingsError::Invalid { field, detail: detail.into() }
}

fn settings_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SETTINGS_FILE_NAME)
}

/// Reads the settings (defaults if the file does not exist). An invalid
/// file is an error naming it, and is never overwritten.
pub fn load_settings(data_dir: &Path) -> Result<AppSettings> {
    let mut settings = load_file_only(data_dir)?;
    if let Ok(mode) = std::env::var("RAPTORFLOW_PRIVACY") {
        settings.privacy = mode.parse().map_err(|err: String| invalid("RAPTORFLOW_PRIVACY", err))?;
    }
    if let Ok(model) = std::env::var("RAPTORFLOW_LOCAL_MODEL") {
        settings.local_model = Some(model.parse().map_err(|err: rf_ai::BadId| invalid("RAPTORFLOW_LOCAL_MODEL", err.to_string()))?);
    }
    Ok(settings)
}

/// Writes the settings atomically (a new file renamed over the old).
pub(crate) fn save_settings(data_dir: &Path, settings: &AppSettings) -> Result<()> {
    let path = settings_path(data_dir);
    let text = toml::to_string_pretty(settings).map_err(|err| invalid("settings", err.to_string()))?;
    rf_store::files::write_atomically(&path, text.as_bytes()).map_err(|source| CoreError::Io { action: "could not write the settings", path, source })
}

/// Sets the privacy mode in the settings file.
pub(crate) fn set_privacy(data_dir: &Path, mode: PrivacyMode) -> Result<()> {
    let mut settings = load_file_only(data_dir)?;
    settings.privacy = mode;
    save_settings(data_dir, &settings)
}

/// The settings as the file has them, without environment overrides (for
/// changing and writing back).
pub(crate) fn load_file_only(data_dir: &Path) -> Result<AppSettings> {
    let path = settings_path(data_dir);
    match crate::input::read_limited(&path, "settings file", crate::input::MAX_SETTINGS_BYTES) {
        Ok(bytes) => {
            let text = String::from_utf8(bytes).map_err(|err| ProviderSettingsError::BadFile {
                path: path.clone(),
                detail: format!("not UTF-8 text (byte {})", err.utf8_error().valid_up_to()),
            })?;
            Ok(toml::from_str(&text).map_err(|err| ProviderSettingsError::BadFile { path, detail: err.to_string() })?)
        }
        Err(CoreError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => Ok(AppSettings::default()),
        Err(CoreError::Io { source, .. }) => Err(CoreError::Io { action: "could not read the settings", path, source }),
        Err(other) => Err(other),
    }
}

/// A provider to add (or replace, by name).
#[derive(Debug, Clone)]
pub struct NewProvider {
    pub name: String,
    pub kind: ProviderKind,
    pub base_url: String,
    pub model: String,
    pub tier: Tier,
    pub input_usd_per_mtok: Option<String>,
    pub output_usd_per_mtok: Option<String>,
    pub timeout_secs: Option<u64>,
    pub max_attempts: Option<u32>,
    pub stream: Option<bool>,
}

/// A configured provider's name: a [`ProviderName`], other than `local`.
fn provider_name(name: &str) -> std::result::Result<ProviderName, ProviderSettingsError> {
    match name.parse::<ProviderName>() {
        Ok(parsed) if !parsed.is_local() => Ok(parsed),
        _ => Err(invalid("name", format!("{name:?}: use 1-40 lower-case letters, digits, - or _ (and not \"local\")"))),
    }
}

/// `text` as an http or https URL with a host; otherwise what is wrong.
pub(crate) fn http_url(text: &str) -> std::result::Result<url::Url, String> {
    let url = url::Url::parse(text.trim()).map_err(|err| format!("{text:?}: {err}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{text:?}: it must be an http or https URL with a host"));
    }
    Ok(url)
}

/// A service's base URL (a provider's, a connector's): an [`http_url`]
/// without a query or credentials, which belong in the keyring.
pub(crate) fn base_url(text: &str) -> std::result::Result<url::Url, String> {
    let url = http_url(text)?;
    if url.query().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err(format!("{text:?}: it must not carry a query or credentials (the key goes in the keyring)"));
    }
    Ok(url)
}

fn parse_base_url(text: &str) -> std::result::Result<url::Url, ProviderSettingsError> {
    base_url(text).map_err(|detail| invalid("base URL", detail))
}

/// What a provider's calls cost: its own prices, else the bundled table's
/// for its model, else nothing for a server on this machine. A cloud model
/// with no known price is refused, because its spending could not be
/// held to a budget.
pub fn provider_price(provider: &ProviderSettings, table: &PriceTable) -> Result<Price> {
    match (&provider.input_usd_per_mtok, &provider.output_usd_per_mtok) {
        (Some(input), Some(output)) => return Ok(Price::from_dollars(input, output).map_err(|err| invalid("price", err))?),
        (None, None) => {}
        _ => return Err(invalid("price", "give both --input-usd-per-mtok and --output-usd-per-mtok, or neither").into()),
    }
    if let Some(entry) = table.get(provider.model.as_str()) {
        return Ok(entry.price);
    }
    if parse_base_url(&provider.base_url).is_ok_and(|url| is_loopback(&url)) {
        return Ok(Price::FREE);
    }
    Err(ProviderSettingsError::NoPrice { provider: provider.name.clone(), model: provider.model.clone() }.into())
}

impl ProviderSettings {
    /// A key is stored in the keyring for this provider.
    pub fn has_key(&self) -> bool {
        self.key_ref.is_some()
    }
}

fn store_key(key_ref: &str, key: &ApiKey) -> std::result::Result<(), ProviderSettingsError> {
    Ok(PROVIDER_KEYS.set(key_ref, key.expose())?)
}

/// The key under keyring account `key_ref`, `None` if none is stored.
fn load_key(key_ref: &str) -> std::result::Result<Option<ApiKey>, ProviderSettingsError> {
    Ok(PROVIDER_KEYS.get(key_ref)?.as_deref().and_then(ApiKey::new))
}

/// Adds a provider, or replaces the one of the same name. `key` goes to the
/// keyring; without one, a replaced provider keeps its stored key.
pub(crate) fn add_provider(data_dir: &Path, new: NewProvider, key: Option<ApiKey>) -> Result<ProviderSettings> {
    let name = provider_name(&new.name)?;
    let url = parse_base_url(&new.base_url)?;
    if new.model.trim().is_empty() {
        return Err(invalid("model", "it is empty").into());
    }
    let model: ModelId = new.model.trim().parse().map_err(|err: rf_ai::BadId| invalid("model", err.to_string()))?;
    if new.tier == Tier::Local {
        return Err(invalid("tier", "a cloud provider serves fast, standard or premium steps; local steps use the local model").into());
    }
    if new.max_attempts == Some(0) || new.timeout_secs == Some(0) {
        return Err(invalid("retries", "--max-attempts and --timeout must be at least 1").into());
    }
    let mut settings = load_file_only(data_dir)?;
    let old_ref = settings.providers.iter().find(|p| p.name == name).and_then(|p| p.key_ref.clone());
    let key_ref = match (&key, old_ref) {
        (_, Some(old)) => Some(old),
        (Some(_), None) => Some(format!("{name}/{}", uuid::Uuid::now_v7())),
        (None, None) => None,
    };
    let provider = ProviderSettings {
        name,
        kind: new.kind,
        base_url: url.as_str().trim_end_matches('/').to_owned(),
        model,
        tier: new.tier,
        key_ref,
        input_usd_per_mtok: new.input_usd_per_mtok,
        output_usd_per_mtok: new.output_usd_per_mtok,
        timeout_secs: new.timeout_secs,
        max_attempts: new.max_attempts,
        stream: new.stream,
    };
    provider_price(&provider, &PriceTable::bundled()?)?;
    if let (Some(key), Some(key_ref)) = (&key, &provider.key_ref) {
        store_key(key_ref, key)?;
    }
    settings.providers.retain(|p| p.name != provider.name);
    settings.providers.push(provider.clone());
    save_settings(data_dir, &settings)?;
    Ok(provider)
}

/// Replaces a provider's stored key.
pub(crate) fn set_provider_key(data_dir: &Path, name: &str, key: &ApiKey) -> Result<()> {
    let mut settings = load_file_only(data_dir)?;
    let provider = settings.providers.iter_mut().find(|p| p.name == name).ok_or_else(|| ProviderSettingsError::Unknown(name.to_owned()))?;
    match &provider.key_ref {
        Some(key_ref) => store_key(key_ref, key)?,
        None => {
            let key_ref = format!("{name}/{}", uuid::Uuid::now_v7());
            store_key(&key_ref, key)?;
            provider.key_ref = Some(key_ref);
            save_settings(data_dir, &settings)?;
        }
    }
    Ok(())
}

/// Removes a provider and its key.
pub(crate) fn remove_provider(data_dir: &Path, name: &str) -> Result<ProviderSettings> {
    let mut settings = load_file_only(data_dir)?;
    let index = settings.providers.iter().position(|p| p.name == name).ok_or_else(|| ProviderSettingsError::Unknown(name.to_owned()))?;
    if let Some(key_ref) = &settings.providers[index].key_ref {
        PROVIDER_KEYS.delete(key_ref).map_err(ProviderSettingsError::from)?;
    }
    let removed = settings.providers.remove(index);
    save_settings(data_dir, &settings)?;
    Ok(removed)
}

/// A configured provider by name.
pub fn provider<'a>(settings: &'a AppSettings, name: &str) -> Result<&'a ProviderSettings> {
    Ok(settings.providers.iter().find(|p| p.name == name).ok_or_else(|| ProviderSettingsError::Unknown(name.to_owned()))?)
}

/// The client for a configured provider, with its key from the keyring,
/// sending through `http` (the Core's one pooled client).
pub(crate) fn cloud_model(provider: &ProviderSettings, http: reqwest::Client) -> Result<CloudModel> {
    let key = match &provider.key_ref {
        Some(key_ref) => load_key(key_ref)?,
        None => None,
    };
    let defaults = HttpPolicy::default();
    let policy = HttpPolicy {
        max_attempts: provider.max_attempts.unwrap_or(defaults.max_attempts),
        response_timeout: provider.timeout_secs.map_or(defaults.response_timeout, std::time::Duration::from_secs),
        idle_timeout: provider.timeout_secs.map_or(defaults.idle_timeout, std::time::Duration::from_secs),
        stream: provider.stream.unwrap_or(defaults.stream),
        ..defaults
    };
    let config = CloudConfig {
        name: provider.name.clone(),
        kind: provider.kind,
        base_url: parse_base_url(&provider.base_url)?,
        model: provider.model.clone(),
        key,
        policy,
    };
    Ok(CloudModel::with_client(config, http))
}

impl crate::Core {
    /// Adds a cloud provider (its key goes to the OS keyring).
    pub fn add_provider(&self, new: NewProvider, key: Option<ApiKey>) -> Result<ProviderSettings> {
        let added = add_provider(self.data_dir(), new, key);
        self.inner.engine.settings_changed();
        added
    }

    /// Replaces a provider's key in the OS keyring.
    pub fn set_provider_key(&self, name: &str, key: &ApiKey) -> Result<()> {
        set_provider_key(self.data_dir(), name, key)
    }

    /// Removes a provider and its key.
    pub fn remove_provider(&self, name: &str) -> Result<ProviderSettings> {
        let removed = remove_provider(self.data_dir(), name);
        self.inner.engine.settings_changed();
        removed
    }

    /// Sets the local LLM that agents, chat and asks use; `None` goes back
    /// to the manifest's default. The model must be installed and be an LLM.
    pub async fn set_local_model(&self, model: Option<&ModelId>) -> Result<()> {
        if let Some(model) = model {
            let store = self.inner.engine.store().await?;
            store.installed_of_kind(Some(model.as_str()), rf_models::ModelKind::Llm)?;
        }
        let mut settings = load_file_only(self.data_dir())?;
        settings.local_model = model.cloned();
        let saved = save_settings(self.data_dir(), &settings);
        self.inner.engine.settings_changed();
        saved
    }

    /// Sets the privacy mode.
    pub fn set_privacy(&self, mode: PrivacyMode) -> Result<()> {
        let set = set_privacy(self.data_dir(), mode);
        self.inner.engine.settings_changed();
        set
    }
}
