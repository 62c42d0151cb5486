//! X API v2, signed in with OAuth 2.0 (user context; the access token is
//! the connector's key, a bearer token):
//! - the signed-in account (`GET /2/users/me`), which `connectors test x` calls;
//! - recent search (`GET /2/tweets/search/recent`: the past 7 days);
//! - an account by its handle (`GET /2/users/by/username/:username`) and its
//!   own posts (`GET /2/users/:id/tweets`);
//! - posting (`POST /2/tweets`), which callers do only for an approved asset.
//!
//! Errors are problem documents, `{"title", "detail", "type", "status"}`;
//! a lookup of an account that does not exist is a 200 whose `errors` hold
//! one, which is not billed.

use serde::{Deserialize, Serialize};

use crate::{
    ApiKey, ConnectorError, Hit, Service,
    gateway::{ApiPost, ApiRequest, Billing, Call, Dialect, Fetched, Gateway},
};

/// The signed-in account.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct User {
    pub id: String,
    pub name: String,
    pub username: String,
}

#[derive(Deserialize)]
struct Data<T> {
    data: T,
}

/// One post, with the fields asked for.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Post {
    pub id: String,
    pub text: String,
    #[serde(default)]
    pub author_id: Option<String>,
    /// RFC 3339.
    #[serde(default)]
    pub created_at: Option<String>,
}

impl Post {
    /// The post's address on x.com.
    pub fn url(&self) -> String {
        format!("https://x.com/i/web/status/{}", self.id)
    }
}

impl From<&Post> for Hit {
    fn from(post: &Post) -> Self {
        let first_line = post.text.lines().next().unwrap_or_default();
        let mut title: String = first_line.chars().take(100).collect();
        if title.len() < post.text.len() {
            title.push('…');
        }
        Hit { title, url: post.url(), source: Some("X".into()), published: post.created_at.clone(), snippet: Some(post.text.clone()) }
    }
}

/// A page of posts: up to `max_results`, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Posts {
    /// Missing when nothing matched.
    #[serde(default)]
    pub data: Vec<Post>,
    pub meta: PostsMeta,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct PostsMeta {
    pub result_count: u32,
    /// Set when there are more than this page holds.
    #[serde(default)]
    pub next_token: Option<String>,
}

/// A recent search: posts of the past 7 days matching `query` (X's query
/// language, at most 512 characters), newest first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Search {
    pub query: String,
    /// Not before this time (RFC 3339, within the past 7 days).
    pub start_time: Option<String>,
    /// Before this time (RFC 3339, at least 10 s ago).
    pub end_time: Option<String>,
    /// 10 to 100 (X's bounds); 10 when `None`.
    pub max_results: Option<u32>,
}

/// The longest query recent search takes (X's basic access).
pub const MAX_QUERY_CHARS: usize = 512;
/// The longest post X takes from an account without a subscription, in
/// X's weighted characters (see [`weighted_length`]).
pub const MAX_POST_CHARS: usize = 280;

/// A post's length as X counts it (twitter-text's v3 weighting): a link
/// counts 23 however long it is; CJK characters and emoji count 2.
pub fn weighted_length(text: &str) -> usize {
    if text.is_empty() {
        return 0;
    }
    usize::try_from(twitter_text::parse(text, twitter_text_config::config_v3(), true).weighted_length).unwrap_or(usize::MAX)
}

#[derive(Deserialize)]
struct Problem {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    detail: Option<String>,
}

pub(crate) struct X;

impl Dialect for X {
    fn authorize(request: reqwest::RequestBuilder, key: &ApiKey) -> reqwest::RequestBuilder {
        request.bearer_auth(key.expose())
    }

    fn detail(body: &str) -> String {
        match serde_json::from_str::<Problem>(body) {
            Ok(Problem { title: Some(title), detail }) => format!("{title}: {}", detail.unwrap_or_default()),
            _ => body.chars().take(200).collect(),
        }
    }

    fn refusal(body: &str) -> Option<ConnectorError> {
        refusal(body)
    }

    fn classify(status: u16, body: &str) -> ConnectorError {
        let service = Service::X;
        let detail = Self::detail(body);
        match status {
            401 => ConnectorError::BadKey { service, detail },
            // A token without the scope the endpoint needs (tweet.write for
            // posting, granted by signing in again), or an app without access.
            403 => ConnectorError::BadRequest {
                service,
                status,
                detail: format!("{detail}; if this is about permissions, sign in again with `raptorflow connectors auth x` to grant them"),
            },
            404 => ConnectorError::NotFound { service, detail },
            _ => ConnectorError::BadRequest { service, status, detail },
        }
    }
}

/// The first problem of a 200 answer's `errors` when it has no `data` (an
/// account that does not exist).
fn refusal(body: &str) -> Option<ConnectorError> {
    #[derive(Deserialize)]
    struct Partial {
        #[serde(default)]
        data: Option<serde_json::Value>,
        #[serde(default)]
        errors: Vec<Problem>,
    }
    let partial: Partial = serde_json::from_str(body).ok()?;
    if partial.data.is_some() {
        return None;
    }
    let problem = partial.errors.into_iter().next()?;
    let detail = problem.detail.or(problem.title).unwrap_or_default();
    Some(ConnectorError::NotFound { service: Service::X, detail })
}

fn parse_posts(body: &str) -> Result<Posts, String> {
    serde_json::from_str::<Posts>(body).map_err(|err| err.to_string())
}

fn bad(detail: String) -> ConnectorError {
    ConnectorError::BadRequest { service: Service::X, status: 0, detail }
}

/// Posts of the past 7 days that match the search.
pub async fn search_recent(gateway: &Gateway, call: Call<'_>, search: &Search) -> Result<Fetched<Posts>, ConnectorError> {
    let chars = search.query.chars().count();
    if search.query.trim().is_empty() || chars > MAX_QUERY_CHARS {
        return Err(bad(format!("a recent search takes a query of 1 to {MAX_QUERY_CHARS} characters (it has {chars})")));
    }
    let max = search.max_results.unwrap_or(10);
    if !(10..=100).contains(&max) {
        return Err(bad(format!("a recent search returns 10 to 100 posts a page, not {max}")));
    }
    let mut query = vec![("query".to_owned(), search.query.clone()), ("max_results".to_owned(), max.to_string())];
    if let Some(start) = &search.start_time {
        query.push(("start_time".to_owned(), start.clone()));
    }
    if let Some(end) = &search.end_time {
        query.push(("end_time".to_owned(), end.clone()));
    }
    query.push(("tweet.fields".to_owned(), "created_at,author_id".to_owned()));
    let request = ApiRequest { endpoint: "search-recent", path: "2/tweets/search/recent".into(), query, billing: Billing::PerCall };
    gateway.fetch::<X, _>(call, &request, parse_posts).await
}

/// An account by its handle (with or without the `@`).
pub async fn user_by_username(gateway: &Gateway, call: Call<'_>, username: &str) -> Result<Fetched<User>, ConnectorError> {
    let username = username.trim().trim_start_matches('@');
    if !is_handle(username) {
        return Err(bad(format!("{username:?} is not an X handle (1 to 15 letters, digits or _)")));
    }
    let request = ApiRequest { endpoint: "user-by-username", path: format!("2/users/by/username/{username}"), query: Vec::new(), billing: Billing::PerCall };
    gateway.fetch::<X, _>(call, &request, |body| serde_json::from_str::<Data<User>>(body).map(|d| d.data).map_err(|err| err.to_string())).await
}

/// Whether `text` is an X handle without its `@`.
pub fn is_handle(text: &str) -> bool {
    (1..=15).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// An account's own posts from `start_time` to `end_time` (RFC 3339),
/// newest first, up to `max_results` (5 to 100).
pub async fn user_posts(
    gateway: &Gateway,
    call: Call<'_>,
    user_id: &str,
    (start_time, end_time): (&str, &str),
    max_results: u32,
) -> Result<Fetched<Posts>, ConnectorError> {
    if user_id.is_empty() || !user_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(format!("{user_id:?} is not an X account id")));
    }
    if !(5..=100).contains(&max_results) {
        return Err(bad(format!("an account's posts come 5 to 100 a page, not {max_results}")));
    }
    let query = vec![
        ("start_time".to_owned(), start_time.to_owned()),
        ("end_time".to_owned(), end_time.to_owned()),
        ("max_results".to_owned(), max_results.to_string()),
        ("tweet.fields".to_owned(), "created_at".to_owned()),
    ];
    let request = ApiRequest { endpoint: "user-posts", path: format!("2/users/{user_id}/tweets"), query, billing: Billing::PerCall };
    gateway.fetch::<X, _>(call, &request, parse_posts).await
}

/// Publishes `text` as a post of the signed-in account (the sign-in needs
/// the `tweet.write` scope). Callers post only what a person approved.
pub async fn create_post(gateway: &Gateway, call: Call<'_>, text: &str) -> Result<Fetched<Post>, ConnectorError> {
    let weighted = weighted_length(text);
    if text.trim().is_empty() || weighted > MAX_POST_CHARS {
        return Err(bad(format!("a post has 1 to {MAX_POST_CHARS} characters as X counts them (links 23, CJK and emoji 2; this one has {weighted})")));
    }
    let request =
        ApiPost { endpoint: "create-post", path: "2/tweets".into(), body: serde_json::json!({ "text": text }), action: "published it", retry_safe: false };
    gateway.post::<X, _>(call, &request, |_, body| serde_json::from_str::<Data<Post>>(body).map(|d| d.data).map_err(|err| err.to_string())).await
}

/// The account the tokens belong to.
pub async fn me(gateway: &Gateway, call: Call<'_>) -> Result<Fetched<User>, ConnectorError> {
    let request = ApiRequest { endpoint: "users-me", path: "2/users/me".into(), query: Vec::new(), billing: Billing::PerCall };
    gateway.fetch::<X, _>(call, &request, |body| serde_json::from_str::<Data<User>>(body).map(|d| d.data).map_err(|err| err.to_string())).await
}

#[cfg(test)]
mod tests {
    use super::weighted_length;

    #[test]
    fn a_post_is_measured_as_x_measures_it() {
        assert_eq!(weighted_length("hello"), 5);
        assert_eq!(weighted_length("日本語"), 6);
        let link = format!("see https://fernhill.coffee/{}", "a".repeat(300));
        assert_eq!(weighted_length(&link), 4 + 23, "a long link counts 23");
        assert_eq!(weighted_length(""), 0);
    }
}
