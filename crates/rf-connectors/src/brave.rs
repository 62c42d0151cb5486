//! Brave Search API: web search (`/res/v1/web/search`) and news search
//! (`/res/v1/news/search`), authenticated with the `X-Subscription-Token`
//! header. Only successful requests are billed.
//!
//! Errors are `{"type": "ErrorResponse", "error": {"status", "code",
//! "detail"}}`; an invalid token is `SUBSCRIPTION_TOKEN_INVALID`, the rate
//! limit `RATE_LIMITED` (429), a spent quota `QUOTA_LIMITED`.

use serde::{Deserialize, Serialize};

use crate::{
    ApiKey, ConnectorError, Hit, Service,
    gateway::{ApiRequest, Billing, Call, Dialect, Fetched, Gateway},
};

/// A web or news search.
#[derive(Debug, Clone, Default)]
pub struct Search {
    /// 1 to 400 characters, at most 50 words.
    pub q: String,
    /// Two-letter country code, or `ALL`.
    pub country: Option<String>,
    /// Results per page: web 1-20, news 1-50.
    pub count: Option<u8>,
    /// `pd`, `pw`, `pm`, `py`, or `YYYY-MM-DDtoYYYY-MM-DD`.
    pub freshness: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Query {
    pub original: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct MetaUrl {
    #[serde(default)]
    pub hostname: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Profile {
    #[serde(default)]
    pub name: Option<String>,
}

/// A web result.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct WebResult {
    pub title: String,
    pub url: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub page_age: Option<String>,
    #[serde(default)]
    pub profile: Option<Profile>,
    #[serde(default)]
    pub meta_url: Option<MetaUrl>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct WebResults {
    pub results: Vec<WebResult>,
}

/// The answer to a web search.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct WebSearch {
    #[serde(rename = "type")]
    pub kind: String,
    pub query: Query,
    /// Absent when nothing on the web matched.
    #[serde(default)]
    pub web: Option<WebResults>,
}

/// A news result.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct NewsResult {
    pub title: String,
    pub url: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub age: Option<String>,
    #[serde(default)]
    pub page_age: Option<String>,
    #[serde(default)]
    pub breaking: Option<bool>,
    #[serde(default)]
    pub meta_url: Option<MetaUrl>,
}

/// The answer to a news search.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct NewsSearch {
    #[serde(rename = "type")]
    pub kind: String,
    pub query: Query,
    pub results: Vec<NewsResult>,
}

impl WebSearch {
    pub fn hits(&self) -> Vec<Hit> {
        let results = self.web.as_ref().map_or(&[][..], |web| &web.results[..]);
        results
            .iter()
            .map(|r| Hit {
                title: r.title.clone(),
                url: r.url.clone(),
                source: r.profile.as_ref().and_then(|p| p.name.clone()).or_else(|| r.meta_url.as_ref().and_then(|m| m.hostname.clone())),
                published: r.page_age.clone(),
                snippet: r.description.clone(),
            })
            .collect()
    }
}

impl NewsSearch {
    pub fn hits(&self) -> Vec<Hit> {
        self.results
            .iter()
            .map(|r| Hit {
                title: r.title.clone(),
                url: r.url.clone(),
                source: r.meta_url.as_ref().and_then(|m| m.hostname.clone()),
                published: r.page_age.clone().or_else(|| r.age.clone()),
                snippet: r.description.clone(),
            })
            .collect()
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorInner,
}

#[derive(Deserialize)]
struct ErrorInner {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    detail: Option<String>,
}

fn error(body: &str) -> Option<ErrorInner> {
    serde_json::from_str::<ErrorBody>(body).ok().map(|e| e.error)
}

pub(crate) struct Brave;

impl Dialect for Brave {
    fn authorize(request: reqwest::RequestBuilder, key: &ApiKey) -> reqwest::RequestBuilder {
        request.header("X-Subscription-Token", key.expose()).header("Accept", "application/json")
    }

    fn detail(body: &str) -> String {
        match error(body) {
            Some(ErrorInner { code: Some(code), detail }) => format!("{code}: {}", detail.unwrap_or_default()),
            _ => body.chars().take(200).collect(),
        }
    }

    fn is_final(_status: u16, body: &str) -> bool {
        error(body).and_then(|e| e.code).as_deref() == Some("QUOTA_LIMITED")
    }

    fn classify(status: u16, body: &str) -> ConnectorError {
        let service = Service::Brave;
        let detail = Self::detail(body);
        match error(body).and_then(|e| e.code).unwrap_or_default().as_str() {
            "SUBSCRIPTION_TOKEN_INVALID" => ConnectorError::BadKey { service, detail },
            "QUOTA_LIMITED" => ConnectorError::QuotaSpent { service, detail },
            _ if matches!(status, 401 | 403) => ConnectorError::BadKey { service, detail },
            _ if status == 404 => ConnectorError::NotFound { service, detail },
            _ => ConnectorError::BadRequest { service, status, detail },
        }
    }
}

fn parse_as<T: for<'de> Deserialize<'de>>(body: &str, kind: &str, get_kind: impl Fn(&T) -> &str) -> Result<T, String> {
    let value: T = serde_json::from_str(body).map_err(|err| err.to_string())?;
    let got = get_kind(&value);
    if got != kind {
        return Err(format!("type {got:?} where {kind:?} was expected"));
    }
    Ok(value)
}

fn query(search: &Search, max_count: u8) -> Result<Vec<(String, String)>, ConnectorError> {
    let words = search.q.split_whitespace().count();
    if words == 0 || search.q.chars().count() > 400 || words > 50 {
        let detail = format!("the search must be 1 to 400 characters and at most 50 words (it has {} and {words})", search.q.chars().count());
        return Err(ConnectorError::BadRequest { service: Service::Brave, status: 0, detail });
    }
    let mut query = vec![("q".to_owned(), search.q.clone())];
    if let Some(country) = &search.country {
        query.push(("country".into(), country.clone()));
    }
    if let Some(count) = search.count {
        query.push(("count".into(), count.clamp(1, max_count).to_string()));
    }
    if let Some(freshness) = &search.freshness {
        query.push(("freshness".into(), freshness.clone()));
    }
    Ok(query)
}

/// Web search.
pub async fn web_search(gateway: &Gateway, call: Call<'_>, search: &Search) -> Result<Fetched<WebSearch>, ConnectorError> {
    let request = ApiRequest { endpoint: "web-search", path: "res/v1/web/search".into(), query: query(search, 20)?, billing: Billing::PerCall };
    gateway.fetch::<Brave, _>(call, &request, |body| parse_as(body, "search", |r: &WebSearch| &r.kind)).await
}

/// News search.
pub async fn news_search(gateway: &Gateway, call: Call<'_>, search: &Search) -> Result<Fetched<NewsSearch>, ConnectorError> {
    let request = ApiRequest { endpoint: "news-search", path: "res/v1/news/search".into(), query: query(search, 50)?, billing: Billing::PerCall };
    gateway.fetch::<Brave, _>(call, &request, |body| parse_as(body, "news", |r: &NewsSearch| &r.kind)).await
}
