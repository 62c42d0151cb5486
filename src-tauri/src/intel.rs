//! The commands of the Integrations screen (the marketing connectors) and of
//! the Intelligence screen's signals. The views carry what the screens show:
//! a connector's key never leaves the OS keyring, only whether one is stored.

use rf_core::{
    Core,
    ai::ApiKey,
    connectors::{ConnectorStatus, NewConnector},
    domain::WorkspaceId,
};
use serde::{Deserialize, Serialize};
use tauri::{State, ipc::Channel as IpcChannel};

use crate::{
    error::{UiError, UiResult},
    ipc::Arg,
};

async fn rows(core: &Core) -> UiResult<Vec<ConnectorStatus>> {
    Ok(core.connectors().await?)
}

#[tauri::command]
#[specta::specta]
pub async fn connector_list(core: State<'_, Core>) -> UiResult<Vec<ConnectorStatus>> {
    rows(&core).await
}

/// A connector to configure, as the form sends it (empty fields keep what
/// was set before).
#[derive(Debug, Deserialize, specta::Type)]
pub struct ConnectorForm {
    pub name: String,
    pub base_url: Option<String>,
    pub requests_per_second: Option<u32>,
    pub requests_per_day: Option<u32>,
    pub usd_per_call: Option<String>,
}

fn blank_to_none(text: Option<String>) -> Option<String> {
    text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty())
}

/// Configures a connector; its key, when given, goes to the OS keyring.
#[tauri::command]
#[specta::specta]
pub async fn connector_add(core: State<'_, Core>, connector: Arg<ConnectorForm>, key: Option<String>) -> UiResult<Vec<ConnectorStatus>> {
    let form = connector.parse("connector")?;
    let key = match blank_to_none(key) {
        Some(text) => Some(ApiKey::new(&text).ok_or_else(|| UiError::invalid("api key", "the key is empty"))?),
        None => None,
    };
    let new = NewConnector {
        name: form.name,
        base_url: blank_to_none(form.base_url),
        requests_per_second: form.requests_per_second,
        requests_per_day: form.requests_per_day,
        usd_per_call: blank_to_none(form.usd_per_call),
    };
    core.add_connector(new, key)?;
    rows(&core).await
}

#[tauri::command]
#[specta::specta]
pub async fn connector_remove(core: State<'_, Core>, name: String) -> UiResult<Vec<ConnectorStatus>> {
    core.remove_connector(&name)?;
    rows(&core).await
}

/// A sign-in to a service that uses OAuth, as the form sends it.
#[derive(Debug, Deserialize, specta::Type)]
pub struct SignInForm {
    pub name: String,
    pub client_id: String,
    /// The loopback port registered with the app (8757 when empty).
    pub redirect_port: Option<u16>,
    /// LinkedIn: the page to post as and measure (its id).
    pub organization: Option<String>,
}

/// Where the sign-in waits: the address opened in the browser, and the
/// redirect address the app must have registered.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct SignInStep {
    pub authorize_url: String,
    pub redirect_uri: String,
    /// The default browser was asked to open it.
    pub opened: bool,
}

/// Signs in to X, LinkedIn or Canva with the user's app: the address is
/// sent on `on_step` and opened in the default browser, and the sign-in
/// waits up to 5 minutes for the approval. The client secret, when given,
/// goes to the OS keyring with the tokens.
#[tauri::command]
#[specta::specta]
pub async fn connector_sign_in(
    core: State<'_, Core>,
    form: Arg<SignInForm>,
    client_secret: Option<String>,
    on_step: IpcChannel<SignInStep>,
) -> UiResult<Vec<ConnectorStatus>> {
    let form = form.parse("sign-in")?;
    let client_secret = match blank_to_none(client_secret) {
        Some(text) => Some(ApiKey::new(&text).ok_or_else(|| UiError::invalid("client secret", "the secret is empty"))?),
        None => None,
    };
    let request = rf_core::sign_in::SignIn {
        name: form.name,
        client_id: form.client_id,
        client_secret,
        redirect_port: form.redirect_port.unwrap_or(8757),
        base_url: None,
        authorize_url: None,
        token_url: None,
        timeout: std::time::Duration::from_secs(300),
        organization: blank_to_none(form.organization),
    };
    // A new sign-in ends the one still waiting (its loopback port is
    // freed), as `connector_sign_in_cancel` does.
    let cancel = rf_core::ai::CancellationToken::new();
    let id = NEXT_SIGN_IN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let previous = SIGN_IN.lock().unwrap_or_else(std::sync::PoisonError::into_inner).replace((id, cancel.clone()));
    if let Some((_, waiting)) = previous {
        waiting.cancel();
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let signing = core.sign_in(request, |url, redirect| {
        let opened = match open::that_detached(url.as_str()) {
            Ok(()) => true,
            Err(err) => {
                tracing::warn!(error = %err, "could not open the browser for the sign-in");
                false
            }
        };
        let _ = on_step.send(SignInStep { authorize_url: url.to_string(), redirect_uri: redirect.to_owned(), opened });
    });
    let signed = tokio::select! {
        signed = signing => Some(signed),
        () = cancel.cancelled() => None,
    };
    {
        let mut current = SIGN_IN.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if current.as_ref().is_some_and(|(own, _)| *own == id) {
            *current = None;
        }
    }
    match signed {
        Some(signed) => {
            signed?;
            rows(&core).await
        }
        None => Err(UiError { kind: rf_core::ErrorKind::Conflict.as_str(), message: "the sign-in was cancelled; nothing was stored".into(), field: None }),
    }
}

/// The sign-in waiting for the browser, if any, by its number.
static SIGN_IN: std::sync::Mutex<Option<(u64, rf_core::ai::CancellationToken)>> = std::sync::Mutex::new(None);
static NEXT_SIGN_IN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Ends the sign-in waiting for the browser (nothing is stored, and its
/// loopback port is freed).
#[tauri::command]
#[specta::specta]
pub async fn connector_sign_in_cancel() -> UiResult<()> {
    if let Some((_, waiting)) = SIGN_IN.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take() {
        waiting.cancel();
    }
    Ok(())
}

/// What a connector test found.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct ConnectorTestView {
    pub results: u32,
    pub first_title: Option<String>,
    pub latency_ms: u64,
    pub cost_micro_usd: u64,
}

/// Sends a tiny request (never from the cache) and says what came back.
#[tauri::command]
#[specta::specta]
pub async fn connector_test(core: State<'_, Core>, name: String) -> UiResult<ConnectorTestView> {
    let results = core.test_connector(&name).await?;
    Ok(ConnectorTestView {
        results: u32::try_from(results.hits.len()).unwrap_or(u32::MAX),
        first_title: results.hits.first().map(|h| h.title.clone()),
        latency_ms: results.latency_ms,
        cost_micro_usd: results.cost_micro_usd,
    })
}

#[tauri::command]
#[specta::specta]
pub async fn signals_list(core: State<'_, Core>, workspace_id: Arg<WorkspaceId>) -> UiResult<Vec<rf_core::signals::SeriesSummary>> {
    Ok(core.signals(workspace_id.parse(WorkspaceId::FIELD)?).await?)
}

/// A change of level the chart marks.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct ChangeMark {
    pub day: String,
    pub mean_before: f64,
    pub mean_after: f64,
}

/// A day outside the expected range.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct AnomalyMark {
    pub day: String,
    pub value: f64,
    pub lower: f64,
    pub upper: f64,
}

/// A series ready to chart: its days and values, the forecast with its band,
/// the change points and anomalies, and the reading in words.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct SignalChart {
    pub series: String,
    pub days: Vec<String>,
    pub values: Vec<f64>,
    pub forecast_days: Vec<String>,
    pub forecast: Vec<f64>,
    pub lower: Vec<f64>,
    pub upper: Vec<f64>,
    /// The band's probability (0.8 is 80 %).
    pub level: f64,
    pub model: Option<String>,
    pub change_points: Vec<ChangeMark>,
    pub anomalies: Vec<AnomalyMark>,
    pub summary: Vec<String>,
}

#[tauri::command]
#[specta::specta]
pub async fn signal_show(core: State<'_, Core>, workspace_id: Arg<WorkspaceId>, series: String) -> UiResult<SignalChart> {
    let workspace = workspace_id.parse(WorkspaceId::FIELD)?;
    let view = core.signal(workspace, &series, rf_core::signals::DEFAULT_HORIZON, rf_core::signals::DEFAULT_LEVEL).await?;
    let forecast = view.analysis.forecast.clone();
    Ok(SignalChart {
        series: view.series,
        days: view.points.iter().map(rf_core::signals::Point::date).collect(),
        values: view.points.iter().map(|p| p.value).collect(),
        forecast_days: forecast.as_ref().map(|f| f.days.clone()).unwrap_or_default(),
        forecast: forecast.as_ref().map(|f| f.point.clone()).unwrap_or_default(),
        lower: forecast.as_ref().map(|f| f.lower.clone()).unwrap_or_default(),
        upper: forecast.as_ref().map(|f| f.upper.clone()).unwrap_or_default(),
        level: forecast.as_ref().map_or(rf_core::signals::DEFAULT_LEVEL, |f| f.level),
        model: forecast.map(|f| f.model),
        change_points: view
            .analysis
            .change_points
            .into_iter()
            .map(|c| ChangeMark { day: c.day, mean_before: c.mean_before, mean_after: c.mean_after })
            .collect(),
        anomalies: view.analysis.anomalies.into_iter().map(|a| AnomalyMark { day: a.day, value: a.value, lower: a.lower, upper: a.upper }).collect(),
        summary: view.summary,
    })
}

/// What a signals fetch did.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct SweepView {
    pub recorded: u32,
    pub calls_sent: u64,
    pub cache_hits: u64,
    pub cost_micro_usd: u64,
    pub problems: Vec<String>,
}

#[tauri::command]
#[specta::specta]
pub async fn signals_fetch(core: State<'_, Core>, workspace_id: Arg<WorkspaceId>) -> UiResult<SweepView> {
    let sweep = core.fetch_signals(workspace_id.parse(WorkspaceId::FIELD)?).await?;
    Ok(SweepView {
        recorded: u32::try_from(sweep.recorded.len()).unwrap_or(u32::MAX),
        calls_sent: sweep.calls_sent,
        cache_hits: sweep.cache_hits,
        cost_micro_usd: sweep.cost_micro_usd,
        problems: sweep.problems,
    })
}
