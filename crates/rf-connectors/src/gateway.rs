//! The one way a connector call is made: cache, offline gate, daily limit,
//! budget, rate limit, retries, ledger.

use std::{
    collections::HashMap,
    num::NonZeroU32,
    sync::{Arc, Mutex},
    time::Instant,
};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use rf_ai::{ModelId, ProviderName, Usage};
use rf_cloud::{ApiKey, HttpPolicy};
use rf_metering::ledger::{CallContext, CallRecord, Ledger, now_ms};
use sha2::{Digest, Sha256};

use crate::{ConnectorError, Service, http};

/// A configured service: where it is, its key, and the limits that hold.
#[derive(Debug, Clone)]
pub struct Connector {
    pub service: Service,
    /// The vendor's URL, or a proxy's (a test server's).
    pub base_url: url::Url,
    pub key: Option<ApiKey>,
    pub limits: Limits,
    /// The API version asked for, where the service versions its API
    /// (LinkedIn): the catalog's, or the user's override.
    pub api_version: Option<String>,
}

/// The limits and price a connector keeps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub requests_per_second: NonZeroU32,
    /// Calls sent per UTC day; `None` is no daily limit.
    pub requests_per_day: Option<u32>,
    pub micro_usd_per_call: u64,
}

impl Connector {
    /// A connector with the catalog's URL, limits and price.
    pub fn new(service: Service, key: Option<ApiKey>) -> Self {
        let info = service.info();
        let limits = Limits {
            requests_per_second: NonZeroU32::new(info.requests_per_second).unwrap_or(NonZeroU32::MIN),
            requests_per_day: info.requests_per_day,
            micro_usd_per_call: info.micro_usd_per_call(),
        };
        Self { service, base_url: info.base_url(), key, limits, api_version: info.api_version.clone() }
    }
}

/// One GET of a service's API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiRequest {
    /// The endpoint's name in the ledger and the catalog's TTLs
    /// (`everything`, `web-search`).
    pub endpoint: &'static str,
    /// The path under the base URL, without a leading slash.
    pub path: String,
    pub query: Vec<(String, String)>,
    pub billing: Billing,
}

/// One POST to a service's API that publishes something (a post): never
/// cached or answered offline, and never retried once it may have reached
/// the service, because a retry could publish twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiPost {
    /// The endpoint's name in the ledger (`create-post`).
    pub endpoint: &'static str,
    /// The path under the base URL, without a leading slash.
    pub path: String,
    /// The JSON body.
    pub body: serde_json::Value,
    /// What a lost answer leaves in doubt, for the error: "published it",
    /// "created the design".
    pub action: &'static str,
    /// Sending it twice does no harm (starting an export): it is retried
    /// like a GET instead of being reported as unconfirmed.
    pub retry_safe: bool,
}

/// How a call is billed: the connector's price is per call, or per API
/// unit (Semrush, Ahrefs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Billing {
    PerCall,
    /// `max(base_units, units_per_row × rows)` units for an answer of
    /// `rows` rows, at most `max_rows`: the most that can cost is reserved
    /// before the call. A count of units the vendor reports wins.
    PerUnit {
        base_units: u32,
        units_per_row: u32,
        max_rows: u32,
    },
}

impl Billing {
    /// The most a call can cost at `price` per call or unit.
    fn most(self, price: u64) -> u64 {
        match self {
            Billing::PerCall => price,
            Billing::PerUnit { max_rows, .. } => price.saturating_mul(self.units(u64::from(max_rows))),
        }
    }

    fn units(self, rows: u64) -> u64 {
        match self {
            Billing::PerCall => 1,
            Billing::PerUnit { base_units, units_per_row, max_rows } => u64::from(base_units).max(u64::from(units_per_row) * rows.min(u64::from(max_rows))),
        }
    }

    /// What an answer costs: its rows' units, or the units the vendor says
    /// it charged.
    fn cost(self, price: u64, rows: u64, reported_units: Option<u64>) -> u64 {
        match self {
            Billing::PerCall => price,
            Billing::PerUnit { .. } => price.saturating_mul(reported_units.unwrap_or_else(|| self.units(rows))),
        }
    }
}

/// How a call may be answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchOptions {
    /// The network may be used (false in privacy mode offline-only: then
    /// only the cache can answer).
    pub allow_network: bool,
    /// A fresh cached answer may be used (false for `connectors test`).
    pub use_cache: bool,
}

/// Who a call is for, through which connector, and how it may be answered.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    pub connector: &'a Connector,
    pub context: &'a CallContext,
    pub options: FetchOptions,
}

/// A call's answer and what it cost.
#[derive(Debug, Clone)]
pub struct Fetched<T> {
    pub value: T,
    /// Answered from the cache (no request was sent, nothing was paid).
    pub cached: bool,
    pub cost_micro_usd: u64,
    pub latency_ms: u64,
    pub ledger_id: i64,
}

impl<T> Fetched<T> {
    /// The same call with its value changed (a field of the answer).
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Fetched<U> {
        let Fetched { value, cached, cost_micro_usd, latency_ms, ledger_id } = self;
        Fetched { value: f(value), cached, cost_micro_usd, latency_ms, ledger_id }
    }
}

/// A service's own rules for its answers.
pub(crate) trait Dialect {
    /// Puts the key where the service wants it.
    fn authorize(request: reqwest::RequestBuilder, key: &ApiKey) -> reqwest::RequestBuilder;
    /// Adds what else every request of the service carries (LinkedIn's
    /// API version).
    fn decorate(request: reqwest::RequestBuilder, _connector: &Connector) -> reqwest::RequestBuilder {
        request
    }
    /// A short explanation of an error body.
    fn detail(body: &str) -> String;
    /// An answer that would be retried but should not be (a 429 that
    /// means the month's quota is spent).
    fn is_final(_status: u16, _body: &str) -> bool {
        false
    }
    /// An answer that is not a success, as our error.
    fn classify(status: u16, body: &str) -> ConnectorError;
    /// An error the service reports in a 200 answer (Semrush's `ERROR`
    /// lines); not billed.
    fn refusal(_body: &str) -> Option<ConnectorError> {
        None
    }
    /// The rows of a 200 answer that a per-unit service bills.
    fn rows(_reply: &http::Reply) -> u64 {
        0
    }
    /// The API units the service says a 200 answer cost, if it says.
    fn reported_units(_reply: &http::Reply) -> Option<u64> {
        None
    }
}

/// The shared part of every connector call: the HTTP client, the ledger
/// (cache and costs) and one rate limiter per service. Long-lived: the
/// limiters only work if the gateway outlives a call.
#[derive(Debug)]
pub struct Gateway {
    http: reqwest::Client,
    ledger: Ledger,
    policy: HttpPolicy,
    limiters: Mutex<HashMap<Service, (NonZeroU32, Arc<DefaultDirectRateLimiter>)>>,
}

/// The catalog's entry of `service`, if its client is built.
fn built(service: Service) -> Result<&'static crate::ServiceInfo, ConnectorError> {
    let info = service.info();
    if info.built { Ok(info) } else { Err(ConnectorError::NotBuilt { service, note: info.note.clone().unwrap_or_default() }) }
}

/// `path` under the connector's base URL.
fn url(connector: &Connector, path: &str) -> Result<url::Url, ConnectorError> {
    let mut base = connector.base_url.clone();
    if !base.path().ends_with('/') {
        base.set_path(&format!("{}/", base.path()));
    }
    base.join(path).map_err(|err| ConnectorError::BadRequest { service: connector.service, status: 0, detail: err.to_string() })
}

/// The start of the UTC day of `now`, in milliseconds since the epoch.
pub fn start_of_day_ms(now: i64) -> i64 {
    now - now.rem_euclid(86_400_000)
}

impl Gateway {
    pub fn new(http: reqwest::Client, ledger: Ledger, policy: HttpPolicy) -> Self {
        Self { http, ledger, policy, limiters: Mutex::new(HashMap::new()) }
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    fn limiter(&self, service: Service, per_second: NonZeroU32) -> Arc<DefaultDirectRateLimiter> {
        let mut limiters = self.limiters.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match limiters.get(&service) {
            Some((rate, limiter)) if *rate == per_second => limiter.clone(),
            _ => {
                // No burst beyond the rate: a sweep's calls are spread
                // evenly over each second.
                let limiter = Arc::new(RateLimiter::direct(Quota::per_second(per_second).allow_burst(NonZeroU32::MIN)));
                limiters.insert(service, (per_second, limiter.clone()));
                limiter
            }
        }
    }

    /// The cache key: the service, its base URL and API version, the path
    /// and the query in a fixed order; never the key.
    fn cache_key(connector: &Connector, request: &ApiRequest) -> [u8; 32] {
        let mut query = request.query.clone();
        query.sort();
        let mut hash = Sha256::new();
        for part in [connector.service.name(), connector.base_url.as_str(), &request.path] {
            hash.update(part.as_bytes());
            hash.update([0]);
        }
        // The API version too, where there is one (another version may
        // answer in another shape); the others' keys stay as they were.
        if let Some(version) = &connector.api_version {
            hash.update(b"version");
            hash.update(version.as_bytes());
            hash.update([0]);
        }
        for (name, value) in &query {
            hash.update(name.as_bytes());
            hash.update([1]);
            hash.update(value.as_bytes());
            hash.update([0]);
        }
        hash.finalize().into()
    }

    fn record(connector: &Connector, endpoint: &str, context: &CallContext, started: Instant) -> CallRecord {
        CallRecord {
            at_ms: now_ms(),
            context: context.clone(),
            provider: connector.service.name().parse::<ProviderName>().expect("service names are provider names"),
            model: endpoint.parse::<ModelId>().expect("endpoint names are model ids"),
            usage: Usage::default(),
            latency_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            cost_micro_usd: 0,
            cache_hit: false,
            outcome: "ok".into(),
        }
    }

    /// What every call checks before it is sent: the network may be used,
    /// there is a key, today's limit is not reached, the budget holds the
    /// most the call can cost (reserved here); then it waits its turn.
    async fn before_sending<'c>(&self, call: Call<'c>, billing: Billing) -> Result<(&'c ApiKey, rf_metering::ledger::Reservation), ConnectorError> {
        let Call { connector, context, options } = call;
        let service = connector.service;
        let ledger_err = |err: rf_ai::AiError| ConnectorError::Ledger(err.to_string());
        if !options.allow_network {
            return Err(ConnectorError::Offline { service });
        }
        let api_key = connector.key.as_ref().ok_or(ConnectorError::NoKey { service })?;
        if let Some(limit) = connector.limits.requests_per_day {
            let used = self.ledger.usage_since(service.name(), start_of_day_ms(now_ms())).await.map_err(ledger_err)?;
            if used.sent >= u64::from(limit) {
                return Err(ConnectorError::DailyLimit { service, limit });
            }
        }
        let reservation = match self.ledger.reserve(context, billing.most(connector.limits.micro_usd_per_call)).await.map_err(ledger_err)? {
            Ok(reservation) => reservation,
            Err(exceeded) => return Err(ConnectorError::Budget { service, exceeded }),
        };
        self.limiter(service, connector.limits.requests_per_second).until_ready().await;
        Ok((api_key, reservation))
    }

    /// Sends one post (see [`ApiPost`]) and records it. A 429 is reported
    /// with the wait the service asks for; a 5xx answer or no answer is
    /// [`ConnectorError::Unconfirmed`]: it may have been published.
    /// `parse` reads the answer's headers and body (LinkedIn gives the new
    /// post's id in a header).
    pub(crate) async fn post<D: Dialect, T>(
        &self,
        call: Call<'_>,
        request: &ApiPost,
        parse: impl Fn(&reqwest::header::HeaderMap, &str) -> Result<T, String>,
    ) -> Result<Fetched<T>, ConnectorError> {
        let connector = call.connector;
        let service = connector.service;
        let action = request.action;
        built(service)?;
        let started = Instant::now();
        let (api_key, reservation) = self.before_sending(call, Billing::PerCall).await?;
        let sent = match url(connector, &request.path) {
            Ok(url) => {
                let build = || D::decorate(D::authorize(self.http.post(url.clone()).json(&request.body), api_key), connector);
                if request.retry_safe {
                    let outcome = match http::send(service, &self.policy, build, D::detail, D::is_final).await {
                        Ok(reply) if matches!(reply.status, 200 | 201) => {
                            parse(&reply.headers, &reply.body).map_err(|detail| ConnectorError::Malformed { service, detail })
                        }
                        Ok(reply) => Err(D::classify(reply.status, &reply.body)),
                        Err(err) => Err(err),
                    };
                    return self.settle_post(call, request, reservation, started, outcome).await;
                }
                match tokio::time::timeout(self.policy.response_timeout, build().send()).await {
                    Err(_) => {
                        Err(ConnectorError::Unconfirmed { service, action, detail: format!("no answer within {} s", self.policy.response_timeout.as_secs()) })
                    }
                    // Refused before anything was sent: safe to try again.
                    Ok(Err(err)) if err.is_connect() => {
                        Err(ConnectorError::Unreachable { service, url: url.to_string(), attempts: 1, detail: err.without_url().to_string() })
                    }
                    Ok(Err(err)) => Err(ConnectorError::Unconfirmed { service, action, detail: err.without_url().to_string() }),
                    Ok(Ok(response)) => {
                        let status = response.status().as_u16();
                        let headers = response.headers().clone();
                        let wait = rf_cloud::retry_after(&headers);
                        let body = tokio::time::timeout(self.policy.idle_timeout, response.text()).await.ok().and_then(Result::ok).unwrap_or_default();
                        match status {
                            // Accepted, but the post's id cannot be read: it is out.
                            200 | 201 => parse(&headers, &body).map_err(|detail| ConnectorError::Unconfirmed {
                                service,
                                action,
                                detail: format!("it answered {status} with something that is not its documented response: {detail}"),
                            }),
                            429 => Err(ConnectorError::RateLimited { service, attempts: 1, detail: D::detail(&body), retry_after: wait }),
                            500.. => Err(ConnectorError::Unconfirmed { service, action, detail: format!("{status}: {}", D::detail(&body)) }),
                            _ => Err(D::classify(status, &body)),
                        }
                    }
                }
            }
            Err(err) => Err(err),
        };
        self.settle_post(call, request, reservation, started, sent).await
    }

    /// Records a post's outcome in the ledger (see [`Gateway::post`]).
    async fn settle_post<T>(
        &self,
        call: Call<'_>,
        request: &ApiPost,
        reservation: rf_metering::ledger::Reservation,
        started: Instant,
        sent: Result<T, ConnectorError>,
    ) -> Result<Fetched<T>, ConnectorError> {
        let Call { connector, context, .. } = call;
        let service = connector.service;
        let ledger_err = |err: rf_ai::AiError| ConnectorError::Ledger(err.to_string());
        let mut record = Self::record(connector, request.endpoint, context, started);
        match sent {
            Ok(value) => {
                record.cost_micro_usd = connector.limits.micro_usd_per_call;
                // The post is out: a ledger that fails now must not lose
                // its address (the caller would post again).
                let ledger_id = match self.ledger.settle(reservation, &record).await {
                    Ok(id) => id,
                    Err(err) => {
                        tracing::error!(%service, error = %err, "a post went out but the ledger could not record it");
                        0
                    }
                };
                Ok(Fetched { value, cached: false, cost_micro_usd: record.cost_micro_usd, latency_ms: record.latency_ms, ledger_id })
            }
            Err(err) => {
                record.outcome = err.code().to_owned();
                self.ledger.settle(reservation, &record).await.map_err(ledger_err)?;
                Err(err)
            }
        }
    }

    /// Downloads a file the service handed out an address for (Canva's
    /// exports: pre-signed, on another host, so without the key), if
    /// `allowed` accepts the address, up to `max_bytes`. Not billed and not
    /// cached; refused offline. A failed or cut-off transfer is retried as
    /// the policy allows; an empty or truncated file is an error, never a
    /// file.
    pub(crate) async fn download(
        &self,
        call: Call<'_>,
        address: &str,
        allowed: impl Fn(&url::Url) -> bool + Send + Sync + 'static,
        max_bytes: usize,
    ) -> Result<Vec<u8>, ConnectorError> {
        let service = call.connector.service;
        if !call.options.allow_network {
            return Err(ConnectorError::Offline { service });
        }
        let malformed = |detail: String| ConnectorError::Malformed { service, detail };
        let url = url::Url::parse(address).map_err(|err| malformed(format!("the download address is not a web address ({err})")))?;
        if !allowed(&url) {
            let mut shown = url.clone();
            shown.set_query(None);
            return Err(malformed(format!("the download address {shown} is not {service}'s (https on its own hosts)")));
        }
        // A redirect is followed only to an address `allowed` accepts too
        // (a stopped redirect is a failed download).
        let allowed = std::sync::Arc::new(allowed);
        let policy = reqwest::redirect::Policy::custom(
            move |attempt| {
                if attempt.previous().len() < 5 && allowed(attempt.url()) { attempt.follow() } else { attempt.stop() }
            },
        );
        let client = reqwest::Client::builder().redirect(policy).build().map_err(|err| ConnectorError::Unreachable {
            service,
            url: String::new(),
            attempts: 0,
            detail: format!("could not make the HTTP client: {err}"),
        })?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = self.download_once(&client, service, &url, max_bytes).await;
            match outcome {
                Ok(bytes) => return Ok(bytes),
                Err((true, _)) if attempt < self.policy.max_attempts => {
                    tokio::time::sleep(rf_cloud::retry_after_or_backoff(None, &self.policy, attempt)).await;
                }
                Err((_, err)) => return Err(err),
            }
        }
    }

    /// One try of [`Gateway::download`]; the error says whether another
    /// try may help.
    async fn download_once(&self, client: &reqwest::Client, service: Service, url: &url::Url, max_bytes: usize) -> Result<Vec<u8>, (bool, ConnectorError)> {
        let mut shown = url.clone();
        shown.set_query(None);
        let failed = |retry: bool, detail: String| (retry, ConnectorError::Unreachable { service, url: shown.to_string(), attempts: 1, detail });
        let mut response = match tokio::time::timeout(self.policy.response_timeout, client.get(url.clone()).send()).await {
            Err(_) => return Err(failed(true, format!("no answer within {} s", self.policy.response_timeout.as_secs()))),
            Ok(Err(err)) => return Err(failed(true, err.without_url().to_string())),
            Ok(Ok(response)) => response,
        };
        let status = response.status().as_u16();
        if status != 200 {
            let retry = matches!(status, 408 | 429) || status >= 500;
            let detail = if (300..400).contains(&status) {
                format!("the download of {shown} was sent elsewhere, to an address that is not the service's")
            } else {
                format!("the download of {shown} failed")
            };
            return Err((retry, ConnectorError::BadRequest { service, status, detail }));
        }
        let expected = response.content_length();
        if expected.is_some_and(|len| len > max_bytes as u64) {
            let detail = format!("the file is {} bytes, more than the {max_bytes} allowed", expected.unwrap_or_default());
            return Err((false, ConnectorError::Malformed { service, detail }));
        }
        let mut bytes = Vec::with_capacity(usize::try_from(expected.unwrap_or(0)).unwrap_or(0));
        loop {
            match tokio::time::timeout(self.policy.idle_timeout, response.chunk()).await {
                Err(_) => return Err(failed(true, format!("the transfer stalled for {} s after {} bytes", self.policy.idle_timeout.as_secs(), bytes.len()))),
                Ok(Err(err)) => return Err(failed(true, format!("the transfer broke off after {} bytes: {}", bytes.len(), err.without_url()))),
                Ok(Ok(None)) => break,
                Ok(Ok(Some(chunk))) => {
                    if bytes.len() + chunk.len() > max_bytes {
                        return Err((false, ConnectorError::Malformed { service, detail: format!("the file is more than the {max_bytes} bytes allowed") }));
                    }
                    bytes.extend_from_slice(&chunk);
                }
            }
        }
        if expected.is_some_and(|len| len != bytes.len() as u64) {
            return Err(failed(true, format!("the file was cut off at {} of {} bytes", bytes.len(), expected.unwrap_or_default())));
        }
        if bytes.is_empty() {
            return Err((false, ConnectorError::Malformed { service, detail: format!("the file at {shown} is empty") }));
        }
        Ok(bytes)
    }

    /// Makes one call, or answers it from the cache, and records it.
    pub(crate) async fn fetch<D: Dialect, T>(
        &self,
        call: Call<'_>,
        request: &ApiRequest,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<Fetched<T>, ConnectorError> {
        let Call { connector, context, options } = call;
        let service = connector.service;
        let info = built(service)?;
        let started = Instant::now();
        let ledger_err = |err: rf_ai::AiError| ConnectorError::Ledger(err.to_string());
        let key = Self::cache_key(connector, request);
        if options.use_cache
            && let Some(body) = self.ledger.cached_body(&key).await.map_err(ledger_err)?
            && let Ok(value) = parse(&body)
        {
            let record = CallRecord { cache_hit: true, ..Self::record(connector, request.endpoint, context, started) };
            let ledger_id = self.ledger.record(&record).await.map_err(ledger_err)?;
            return Ok(Fetched { value, cached: true, cost_micro_usd: 0, latency_ms: record.latency_ms, ledger_id });
        }
        let (api_key, reservation) = self.before_sending(call, request.billing).await?;
        let price = connector.limits.micro_usd_per_call;
        let sent = match url(connector, &request.path) {
            Ok(url) => {
                let build = || D::decorate(D::authorize(self.http.get(url.clone()).query(&request.query), api_key), connector);
                http::send(service, &self.policy, build, D::detail, D::is_final).await
            }
            Err(err) => Err(err),
        };
        let mut record = Self::record(connector, request.endpoint, context, started);
        let outcome = match sent {
            Ok(reply) if reply.status == 200 => match D::refusal(&reply.body) {
                Some(err) => Err(err),
                None => {
                    // A 200 is billed whatever it holds.
                    record.cost_micro_usd = request.billing.cost(price, D::rows(&reply), D::reported_units(&reply));
                    match parse(&reply.body) {
                        Ok(value) => Ok((value, reply.body)),
                        Err(detail) => Err(ConnectorError::Malformed { service, detail }),
                    }
                }
            },
            Ok(reply) => Err(D::classify(reply.status, &reply.body)),
            Err(err) => Err(err),
        };
        match outcome {
            Ok((value, body)) => {
                let ledger_id = self.ledger.settle(reservation, &record).await.map_err(ledger_err)?;
                // An answer that is stale at once (an export job's, with
                // its download addresses) is not stored at all.
                let ttl = info.ttl(request.endpoint);
                if !ttl.is_zero() {
                    self.ledger.cache_body(&key, service.name(), request.endpoint, &body, ttl).await.map_err(ledger_err)?;
                }
                Ok(Fetched { value, cached: false, cost_micro_usd: record.cost_micro_usd, latency_ms: record.latency_ms, ledger_id })
            }
            Err(err) => {
                record.outcome = err.code().to_owned();
                self.ledger.settle(reservation, &record).await.map_err(ledger_err)?;
                Err(err)
            }
        }
    }
}
