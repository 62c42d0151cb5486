//! NewsAPI (newsapi.org, v2): `/v2/everything` and `/v2/top-headlines`,
//! authenticated with the `X-Api-Key` header.
//!
//! Its answers are `{"status": "ok", "totalResults", "articles"}` or
//! `{"status": "error", "code", "message"}`, with HTTP 400, 401, 429 or 500.

use rf_cloud::HttpPolicy;
use serde::Deserialize;

use crate::{ConnectorError, Service, http};

/// The public endpoint.
pub const BASE_URL: &str = "https://newsapi.org/v2/";

/// A NewsAPI client with its key.
pub struct NewsApi {
    http: reqwest::Client,
    base: url::Url,
    key: String,
    policy: HttpPolicy,
}

impl std::fmt::Debug for NewsApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewsApi").field("base", &self.base.as_str()).field("key", &"<redacted>").finish()
    }
}

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

/// A page of articles.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Articles {
    pub total_results: u64,
    pub articles: Vec<Article>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
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

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Source {
    pub id: Option<String>,
    pub name: String,
}

#[derive(Deserialize)]
struct ErrorBody {
    code: Option<String>,
    message: Option<String>,
}

impl NewsApi {
    /// A client for `base` (default [`BASE_URL`]; a proxy or a test server).
    pub fn new(http: reqwest::Client, base: Option<url::Url>, key: String, policy: HttpPolicy) -> Self {
        let base = base.unwrap_or_else(|| BASE_URL.parse().expect("the public endpoint is a URL"));
        Self { http, base, key, policy }
    }

    pub async fn everything(&self, search: &Everything) -> Result<Articles, ConnectorError> {
        let mut query = vec![("q", search.q.clone())];
        let optional = [("from", &search.from), ("to", &search.to), ("language", &search.language)];
        query.extend(optional.into_iter().filter_map(|(name, value)| value.clone().map(|v| (name, v))));
        if let Some(sort_by) = search.sort_by {
            query.push(("sortBy", sort_by.as_str().to_owned()));
        }
        if let Some(size) = search.page_size {
            query.push(("pageSize", size.clamp(1, 100).to_string()));
        }
        if let Some(page) = search.page {
            query.push(("page", page.to_string()));
        }
        self.get("everything", &query).await
    }

    async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Articles, ConnectorError> {
        let url = self.base.join(path).map_err(|err| ConnectorError::BadRequest { service: Service::NewsApi, status: 0, detail: err.to_string() })?;
        let reply = http::send(Service::NewsApi, &self.policy, || self.http.get(url.clone()).query(query).header("X-Api-Key", &self.key), error_detail).await?;
        if reply.status == 200 {
            return serde_json::from_str(&reply.body)
                .map_err(|err| ConnectorError::Malformed { service: Service::NewsApi, detail: format!("{err} (at {path})") });
        }
        Err(classify(reply.status, &reply.body))
    }
}

fn error_detail(body: &str) -> String {
    match serde_json::from_str::<ErrorBody>(body) {
        Ok(ErrorBody { code: Some(code), message }) => format!("{code}: {}", message.unwrap_or_default()),
        _ => body.chars().take(200).collect(),
    }
}

/// NewsAPI's documented error codes, as our errors.
fn classify(status: u16, body: &str) -> ConnectorError {
    let service = Service::NewsApi;
    let code = serde_json::from_str::<ErrorBody>(body).ok().and_then(|e| e.code).unwrap_or_default();
    let detail = error_detail(body);
    match code.as_str() {
        "apiKeyInvalid" | "apiKeyMissing" | "apiKeyDisabled" => ConnectorError::BadKey { service, detail },
        "apiKeyExhausted" => ConnectorError::QuotaSpent { service, detail },
        "sourceDoesNotExist" => ConnectorError::NotFound { service, detail },
        _ if status == 401 => ConnectorError::BadKey { service, detail },
        _ => ConnectorError::BadRequest { service, status, detail },
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// A loopback server that answers each connection with the next of
    /// `replies` (status, extra headers, body) and records the requests.
    async fn fake(replies: Vec<(u16, &'static str, String)>) -> (url::Url, tokio::task::JoinHandle<Vec<String>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/v2/", listener.local_addr().unwrap()).parse().unwrap();
        let server = tokio::spawn(async move {
            let mut requests = Vec::new();
            for (status, headers, body) in replies {
                let (mut socket, _) = listener.accept().await.unwrap();
                let mut buf = vec![0; 8192];
                let n = socket.read(&mut buf).await.unwrap();
                requests.push(String::from_utf8_lossy(&buf[..n]).into_owned());
                let reply = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n{headers}\r\n{body}",
                    body.len()
                );
                socket.write_all(reply.as_bytes()).await.unwrap();
            }
            requests
        });
        (base, server)
    }

    fn client(base: url::Url) -> NewsApi {
        let policy = HttpPolicy { initial_backoff: Duration::from_millis(10), ..HttpPolicy::default() };
        NewsApi::new(reqwest::Client::new(), Some(base), "key-123".into(), policy)
    }

    const OK: &str = r#"{"status":"ok","totalResults":1,"articles":[{"source":{"id":null,"name":"Example News"},"author":"A. Writer","title":"Folding bikes sell out","description":"Stock ran out.","url":"https://example.com/a","urlToImage":null,"publishedAt":"2026-12-01T09:00:00Z","content":"Stock ran out in a day."}]}"#;

    #[tokio::test]
    async fn a_search_sends_the_key_in_a_header_and_reads_the_articles() {
        let (base, server) = fake(vec![(200, "", OK.into())]).await;
        let search = Everything { q: "folding bike".into(), sort_by: Some(SortBy::PublishedAt), page_size: Some(20), ..Everything::default() };
        let articles = client(base).everything(&search).await.unwrap();
        assert_eq!(articles.total_results, 1);
        assert_eq!(articles.articles[0].source.name, "Example News");
        let request = &server.await.unwrap()[0];
        assert!(request.starts_with("GET /v2/everything?q=folding+bike&sortBy=publishedAt&pageSize=20 "), "{request}");
        assert!(request.to_ascii_lowercase().contains("x-api-key: key-123"), "{request}");
    }

    #[tokio::test]
    async fn a_bad_key_is_said_plainly_and_not_retried() {
        let body = r#"{"status":"error","code":"apiKeyInvalid","message":"Your API key is invalid or incorrect."}"#;
        let (base, server) = fake(vec![(401, "", body.into())]).await;
        let err = client(base).everything(&Everything { q: "x".into(), ..Everything::default() }).await.unwrap_err();
        assert!(matches!(&err, ConnectorError::BadKey { detail, .. } if detail.starts_with("apiKeyInvalid")), "{err}");
        assert!(err.to_string().contains("raptorflow connectors add newsapi --key-stdin"), "{err}");
        assert_eq!(server.await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn rate_limiting_is_retried_after_the_wait_it_asks_for() {
        let limited = r#"{"status":"error","code":"rateLimited","message":"You have been rate limited."}"#;
        let (base, server) = fake(vec![(429, "retry-after: 1\r\n", limited.into()), (200, "", OK.into())]).await;
        let started = std::time::Instant::now();
        let articles = client(base).everything(&Everything { q: "x".into(), ..Everything::default() }).await.unwrap();
        assert_eq!(articles.articles.len(), 1);
        assert!(started.elapsed() >= Duration::from_millis(900), "waited {:?}", started.elapsed());
        assert_eq!(server.await.unwrap().len(), 2);
    }

    #[tokio::test]
    async fn server_errors_are_retried_a_bounded_number_of_times() {
        let failing = r#"{"status":"error","code":"unexpectedError","message":"Something went wrong."}"#;
        let (base, server) = fake(vec![(500, "", failing.into()); 4]).await;
        let err = client(base).everything(&Everything { q: "x".into(), ..Everything::default() }).await.unwrap_err();
        assert!(matches!(err, ConnectorError::Server { status: 500, attempts: 4, .. }), "{err}");
        assert_eq!(server.await.unwrap().len(), 4);
    }

    #[tokio::test]
    async fn a_malformed_body_is_an_error_not_an_empty_result() {
        let (base, _server) = fake(vec![(200, "", r#"{"status":"ok","articles":"none"}"#.into())]).await;
        let err = client(base).everything(&Everything { q: "x".into(), ..Everything::default() }).await.unwrap_err();
        assert!(matches!(err, ConnectorError::Malformed { .. }), "{err}");
    }
}
