//! NewsAPI (newsapi.org, v2): `/v2/everything` and `/v2/top-headlines`,
//! authenticated with the `X-Api-Key` header.
//!
//! Its answers are `{"status": "ok", "totalResults", "articles"}` or
//! `{"status": "error", "code", "message"}`, with HTTP 400, 401, 429 or 500
//! (https://newsapi.org/docs/errors).

use serde::{Deserialize, Serialize};

use crate::{
    ApiKey, ConnectorError, Hit, Service,
    gateway::{ApiRequest, Billing, Call, Dialect, Fetched, Gateway},
};

/// How `/v2/everything` orders its articles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortBy {
    Relevancy,
    Popularity,
    PublishedAt,
}

impl SortBy {
    fn as_str(self) -> &'static str {
        match self {
            SortBy::Relevancy => "relevancy",
            SortBy::Popularity => "popularity",
            SortBy::PublishedAt => "publishedAt",
        }
    }
}

/// A search of `/v2/everything`.
#[derive(Debug, Clone, Default)]
pub struct Everything {
    pub q: String,
    /// ISO 8601 date or date-time, e.g. `2026-12-01`.
    pub from: Option<String>,
    pub to: Option<String>,
    /// Two-letter ISO 639-1 code.
    pub language: Option<String>,
    pub sort_by: Option<SortBy>,
    /// 1 to 100 (NewsAPI's default is 100).
    pub page_size: Option<u8>,
    pub page: Option<u32>,
}

/// A request of `/v2/top-headlines`: a country or category, or a query.
#[derive(Debug, Clone, Default)]
pub struct TopHeadlines {
    pub q: Option<String>,
    /// Two-letter ISO 3166-1 code, e.g. `us`.
    pub country: Option<String>,
    /// business, entertainment, general, health, science, sports, technology.
    pub category: Option<String>,
    pub page_size: Option<u8>,
}

/// A page of articles.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Articles {
    pub total_results: u64,
    pub articles: Vec<Article>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Article {
    pub source: Source,
    pub author: Option<String>,
    pub title: String,
    pub description: Option<String>,
    pub url: String,
    pub url_to_image: Option<String>,
    pub published_at: String,
    pub content: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Source {
    pub id: Option<String>,
    pub name: String,
}

impl From<&Article> for Hit {
    fn from(article: &Article) -> Self {
        Hit {
            title: article.title.clone(),
            url: article.url.clone(),
            source: Some(article.source.name.clone()),
            published: Some(article.published_at.clone()),
            snippet: article.description.clone(),
        }
    }
}

#[derive(Deserialize)]
struct Status {
    status: String,
}

#[derive(Deserialize)]
struct ErrorBody {
    code: Option<String>,
    message: Option<String>,
}

pub(crate) struct NewsApi;

impl Dialect for NewsApi {
    fn authorize(request: reqwest::RequestBuilder, key: &ApiKey) -> reqwest::RequestBuilder {
        request.header("X-Api-Key", key.expose())
    }

    fn detail(body: &str) -> String {
        match serde_json::from_str::<ErrorBody>(body) {
            Ok(ErrorBody { code: Some(code), message }) => format!("{code}: {}", message.unwrap_or_default()),
            _ => body.chars().take(200).collect(),
        }
    }

    fn is_final(_status: u16, body: &str) -> bool {
        error_code(body).as_deref() == Some("apiKeyExhausted")
    }

    fn classify(status: u16, body: &str) -> ConnectorError {
        let service = Service::NewsApi;
        let detail = Self::detail(body);
        match error_code(body).unwrap_or_default().as_str() {
            "apiKeyInvalid" | "apiKeyMissing" | "apiKeyDisabled" => ConnectorError::BadKey { service, detail },
            "apiKeyExhausted" => ConnectorError::QuotaSpent { service, detail },
            "sourceDoesNotExist" => ConnectorError::NotFound { service, detail },
            _ if status == 401 => ConnectorError::BadKey { service, detail },
            _ if status == 404 => ConnectorError::NotFound { service, detail },
            _ => ConnectorError::BadRequest { service, status, detail },
        }
    }
}

fn error_code(body: &str) -> Option<String> {
    serde_json::from_str::<ErrorBody>(body).ok().and_then(|e| e.code)
}

/// Reads a page of articles; a body without `"status": "ok"` is not one.
fn parse(body: &str) -> Result<Articles, String> {
    let status: Status = serde_json::from_str(body).map_err(|err| err.to_string())?;
    if status.status != "ok" {
        return Err(format!("status {:?} in a 200 answer", status.status));
    }
    serde_json::from_str(body).map_err(|err| err.to_string())
}

fn page_size(size: Option<u8>) -> Option<(String, String)> {
    size.map(|size| ("pageSize".to_owned(), size.clamp(1, 100).to_string()))
}

/// `/v2/everything`: every article matching `q`.
pub async fn everything(gateway: &Gateway, call: Call<'_>, search: &Everything) -> Result<Fetched<Articles>, ConnectorError> {
    if search.q.trim().is_empty() {
        return Err(ConnectorError::BadRequest { service: Service::NewsApi, status: 0, detail: "the search words are empty".into() });
    }
    let mut query = vec![("q".to_owned(), search.q.clone())];
    let optional = [("from", &search.from), ("to", &search.to), ("language", &search.language)];
    query.extend(optional.into_iter().filter_map(|(name, value)| value.clone().map(|v| (name.to_owned(), v))));
    if let Some(sort_by) = search.sort_by {
        query.push(("sortBy".into(), sort_by.as_str().to_owned()));
    }
    query.extend(page_size(search.page_size));
    if let Some(page) = search.page {
        query.push(("page".into(), page.to_string()));
    }
    let request = ApiRequest { endpoint: "everything", path: "v2/everything".into(), query, billing: Billing::PerCall };
    gateway.fetch::<NewsApi, _>(call, &request, parse).await
}

/// `/v2/top-headlines`: breaking headlines by country, category or query.
pub async fn top_headlines(gateway: &Gateway, call: Call<'_>, headlines: &TopHeadlines) -> Result<Fetched<Articles>, ConnectorError> {
    let optional = [("q", &headlines.q), ("country", &headlines.country), ("category", &headlines.category)];
    let mut query: Vec<(String, String)> = optional.into_iter().filter_map(|(name, value)| value.clone().map(|v| (name.to_owned(), v))).collect();
    if query.is_empty() {
        return Err(ConnectorError::BadRequest { service: Service::NewsApi, status: 0, detail: "top headlines need a query, a country or a category".into() });
    }
    query.extend(page_size(headlines.page_size));
    let request = ApiRequest { endpoint: "top-headlines", path: "v2/top-headlines".into(), query, billing: Billing::PerCall };
    gateway.fetch::<NewsApi, _>(call, &request, parse).await
}
