//! LinkedIn's Community Management API (the versioned REST API under
//! `/rest`), signed in as a member who administers a company page (OAuth
//! 2.0; the access token is the connector's key, a bearer token). Every
//! request names the API version (`LinkedIn-Version: YYYYMM`, the
//! catalog's or the user's `api_version`) and Rest.li protocol 2.0; a
//! version LinkedIn no longer serves (426) says where to set another.
//! - the organisations the member administers
//!   (`GET /rest/organizationAcls?q=roleAssignee`), which `connectors test
//!   linkedin` calls and which picks the organisation when only one is
//!   administered;
//! - an organisation's posts (`GET /rest/posts?q=author`);
//! - its share statistics for a time range, by day
//!   (`GET /rest/organizationalEntityShareStatistics?q=organizationalEntity`);
//! - posting as the organisation (`POST /rest/posts`: 201, the new post's
//!   URN in the `x-restli-id` header), which callers do only for an
//!   approved asset.
//!
//! Errors are `{"status", "serviceErrorCode", "code", "message"}`.

use serde::{Deserialize, Serialize};

use crate::{
    ApiKey, Connector, ConnectorError, Hit, Service,
    gateway::{ApiPost, ApiRequest, Billing, Call, Dialect, Fetched, Gateway},
};

/// The longest post commentary LinkedIn takes.
pub const MAX_POST_CHARS: usize = 3000;

/// The version asked for when neither the catalog nor the settings name one.
const FALLBACK_VERSION: &str = "202610";

/// The URN of an organisation by its numeric id.
pub fn organization_urn(id: &str) -> String {
    format!("urn:li:organization:{id}")
}

/// The numeric id of an organisation's URN (or of an id given as is).
pub fn organization_id(urn_or_id: &str) -> Option<&str> {
    let id = urn_or_id.trim().strip_prefix("urn:li:organization:").unwrap_or(urn_or_id.trim());
    (!id.is_empty() && id.len() <= 20 && id.bytes().all(|b| b.is_ascii_digit())).then_some(id)
}

/// A page of a Rest.li collection.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Collection<T> {
    #[serde(default = "Vec::new")]
    pub elements: Vec<T>,
    #[serde(default)]
    pub paging: Option<Paging>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Paging {
    #[serde(default)]
    pub start: u32,
    #[serde(default)]
    pub count: u32,
    /// Given by some finders: how many there are in all.
    #[serde(default)]
    pub total: Option<u32>,
}

/// A role of the signed-in member on an organisation.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct OrganizationAcl {
    /// `urn:li:organization:ID`.
    pub organization: String,
    pub role: String,
    pub state: String,
}

/// An organisation's post.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Post {
    /// `urn:li:share:ID` or `urn:li:ugcPost:ID`.
    pub id: String,
    pub author: String,
    /// The text, in LinkedIn's "little text" format.
    #[serde(default)]
    pub commentary: String,
    /// When it was published (ms since the epoch); missing for drafts.
    #[serde(default)]
    pub published_at: Option<i64>,
    #[serde(default)]
    pub lifecycle_state: Option<String>,
}

/// A post's address on linkedin.com.
pub fn post_url(urn: &str) -> String {
    format!("https://www.linkedin.com/feed/update/{urn}/")
}

impl From<&Post> for Hit {
    fn from(post: &Post) -> Self {
        let text = unescape(&post.commentary);
        let first_line = text.lines().next().unwrap_or_default();
        let mut title: String = first_line.chars().take(100).collect();
        if title.len() < text.len() {
            title.push('…');
        }
        let published = post.published_at.map(|ms| {
            let (year, month, day) = rf_domain::civil_from_days(ms.div_euclid(86_400_000));
            format!("{year:04}-{month:02}-{day:02}")
        });
        Hit { title, url: post_url(&post.id), source: Some("LinkedIn".into()), published, snippet: Some(text) }
    }
}

/// The share statistics of an organisation's posts over one time range.
#[derive(Debug, Clone, Copy, PartialEq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ShareStatistics {
    pub impression_count: u64,
    pub unique_impressions_count: u64,
    pub click_count: u64,
    pub like_count: u64,
    pub comment_count: u64,
    pub share_count: u64,
    /// (clicks + likes + comments + shares) / impressions, as LinkedIn
    /// computes it.
    pub engagement: f64,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ShareStatisticsElement {
    #[serde(default)]
    pub total_share_statistics: ShareStatistics,
    #[serde(default)]
    pub time_range: Option<TimeRange>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub struct TimeRange {
    pub start: i64,
    pub end: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Problem {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

pub(crate) struct LinkedIn;

impl Dialect for LinkedIn {
    fn authorize(request: reqwest::RequestBuilder, key: &ApiKey) -> reqwest::RequestBuilder {
        request.bearer_auth(key.expose())
    }

    fn decorate(request: reqwest::RequestBuilder, connector: &Connector) -> reqwest::RequestBuilder {
        let version = connector.api_version.as_deref().unwrap_or(FALLBACK_VERSION);
        request.header("LinkedIn-Version", version).header("X-Restli-Protocol-Version", "2.0.0")
    }

    fn detail(body: &str) -> String {
        match serde_json::from_str::<Problem>(body) {
            Ok(Problem { code: Some(code), message }) => format!("{code}: {}", message.unwrap_or_default()),
            Ok(Problem { code: None, message: Some(message) }) => message,
            _ => body.chars().take(200).collect(),
        }
    }

    /// LinkedIn's limits are per day: a 429 that says a day's limit is
    /// reached is not waited out.
    fn is_final(status: u16, body: &str) -> bool {
        status == 429 && body.contains("DAY limit")
    }

    fn classify(status: u16, body: &str) -> ConnectorError {
        let service = Service::LinkedIn;
        let detail = Self::detail(body);
        match status {
            429 => ConnectorError::QuotaSpent { service, detail: format!("{detail}; LinkedIn's daily limits reset at 00:00 UTC") },
            // LinkedIn's access tokens last 60 days; a refresh token only
            // comes to approved partners.
            401 => ConnectorError::BadKey { service, detail: format!("{detail}; sign in again with `raptorflow connectors auth linkedin`") },
            403 => ConnectorError::BadRequest {
                service,
                status,
                detail: format!(
                    "{detail}; the signed-in member must administer the organisation, and the app needs the Community Management API with the scopes r_organization_social, w_organization_social and rw_organization_admin (sign in again with `raptorflow connectors auth linkedin` after adding them)"
                ),
            },
            404 => ConnectorError::NotFound { service, detail },
            // The version asked for is no longer served (each is served
            // for a year).
            426 => ConnectorError::BadRequest {
                service,
                status,
                detail: format!(
                    "{detail}; LinkedIn no longer serves the API version asked for: set a current one with `raptorflow connectors set linkedin --api-version YYYYMM` (it is kept as `api_version` in settings.toml)"
                ),
            },
            _ => ConnectorError::BadRequest { service, status, detail },
        }
    }
}

fn bad(detail: String) -> ConnectorError {
    ConnectorError::BadRequest { service: Service::LinkedIn, status: 0, detail }
}

fn checked_id(organization: &str) -> Result<&str, ConnectorError> {
    organization_id(organization).ok_or_else(|| bad(format!("{organization:?} is not a LinkedIn organisation id (the digits of urn:li:organization:ID)")))
}

fn parse<T: serde::de::DeserializeOwned>(body: &str) -> Result<T, String> {
    serde_json::from_str(body).map_err(|err| err.to_string())
}

/// The organisations the signed-in member administers (approved roles).
pub async fn administered(gateway: &Gateway, call: Call<'_>) -> Result<Fetched<Vec<OrganizationAcl>>, ConnectorError> {
    let query = [("q", "roleAssignee"), ("role", "ADMINISTRATOR"), ("state", "APPROVED")].map(|(k, v)| (k.to_owned(), v.to_owned())).to_vec();
    let request = ApiRequest { endpoint: "organization-acls", path: "rest/organizationAcls".into(), query, billing: Billing::PerCall };
    gateway.fetch::<LinkedIn, _>(call, &request, |body| parse::<Collection<OrganizationAcl>>(body).map(|c| c.elements)).await
}

/// An organisation's posts, newest first, up to `count` (1 to 100).
pub async fn organization_posts(gateway: &Gateway, call: Call<'_>, organization: &str, count: u32) -> Result<Fetched<Collection<Post>>, ConnectorError> {
    let id = checked_id(organization)?;
    if !(1..=100).contains(&count) {
        return Err(bad(format!("an organisation's posts come 1 to 100 a page, not {count}")));
    }
    let query = vec![
        ("q".to_owned(), "author".to_owned()),
        ("author".to_owned(), organization_urn(id)),
        ("count".to_owned(), count.to_string()),
        ("sortBy".to_owned(), "CREATED".to_owned()),
    ];
    let request = ApiRequest { endpoint: "organization-posts", path: "rest/posts".into(), query, billing: Billing::PerCall };
    gateway.fetch::<LinkedIn, _>(call, &request, parse::<Collection<Post>>).await
}

/// An organisation's share statistics from `start_ms` to `end_ms`, one
/// element a day.
pub async fn share_statistics(
    gateway: &Gateway,
    call: Call<'_>,
    organization: &str,
    (start_ms, end_ms): (i64, i64),
) -> Result<Fetched<Vec<ShareStatisticsElement>>, ConnectorError> {
    let id = checked_id(organization)?;
    if start_ms < 0 || end_ms <= start_ms {
        return Err(bad(format!("a time range ends after it starts ({start_ms} to {end_ms})")));
    }
    // Rest.li 2.0: the URN's colons are escaped, the structure's
    // parentheses, colons and commas are not (which a form encoder would
    // escape), so this query is written as it is sent.
    let path = format!(
        "rest/organizationalEntityShareStatistics?q=organizationalEntity&organizationalEntity=urn%3Ali%3Aorganization%3A{id}&timeIntervals=(timeRange:(start:{start_ms},end:{end_ms}),timeGranularityType:DAY)"
    );
    let request = ApiRequest { endpoint: "share-statistics", path, query: Vec::new(), billing: Billing::PerCall };
    gateway.fetch::<LinkedIn, _>(call, &request, |body| parse::<Collection<ShareStatisticsElement>>(body).map(|c| c.elements)).await
}

/// The characters LinkedIn's "little text" format reserves; each is
/// escaped with a backslash in plain text.
const RESERVED: &[char] = &['\\', '|', '{', '}', '@', '[', ']', '(', ')', '<', '>', '#', '*', '_', '~'];

/// `text` as plain "little text": reserved characters escaped, so that
/// `(` or `#` reach the post as written.
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if RESERVED.contains(&c) {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// The plain text of "little text" (escapes removed).
pub fn unescape(text: &str) -> String {
    let mut plain = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => plain.extend(chars.next()),
            c => plain.push(c),
        }
    }
    plain
}

/// The post LinkedIn created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Created {
    /// `urn:li:share:ID`.
    pub urn: String,
    pub url: String,
}

/// Publishes `text` (plain; escaped here) as a public post of the
/// organisation. Callers post only what a person approved.
pub async fn create_post(gateway: &Gateway, call: Call<'_>, organization: &str, text: &str) -> Result<Fetched<Created>, ConnectorError> {
    let id = checked_id(organization)?;
    let chars = text.chars().count();
    if text.trim().is_empty() || chars > MAX_POST_CHARS {
        return Err(bad(format!("a LinkedIn post has 1 to {MAX_POST_CHARS} characters (this one has {chars})")));
    }
    let body = serde_json::json!({
        "author": organization_urn(id),
        "commentary": escape(text),
        "visibility": "PUBLIC",
        "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [], "thirdPartyDistributionChannels": []},
        "lifecycleState": "PUBLISHED",
        "isReshareDisabledByAuthor": false,
    });
    let request = ApiPost { endpoint: "create-post", path: "rest/posts".into(), body, action: "published it", retry_safe: false };
    gateway
        .post::<LinkedIn, _>(call, &request, |headers, _| {
            let urn = headers.get("x-restli-id").and_then(|v| v.to_str().ok()).map(str::trim).filter(|urn| urn.starts_with("urn:li:"));
            urn.map(|urn| Created { urn: urn.to_owned(), url: post_url(urn) }).ok_or_else(|| "no x-restli-id header with the post's URN".to_owned())
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_characters_are_escaped_for_little_text_and_back() {
        let text = r"Fold it (really) in 10s #commute @Brompton \o/ 50% off_now";
        let escaped = escape(text);
        assert_eq!(escaped, r"Fold it \(really\) in 10s \#commute \@Brompton \\o/ 50% off\_now");
        assert_eq!(unescape(&escaped), text);
    }

    #[test]
    fn an_organisation_is_named_by_its_id_or_urn() {
        assert_eq!(organization_id("urn:li:organization:2414183"), Some("2414183"));
        assert_eq!(organization_id(" 2414183 "), Some("2414183"));
        assert_eq!(organization_id("urn:li:person:abc"), None);
        assert_eq!(organization_id("12/../me"), None);
        assert_eq!(post_url("urn:li:share:7"), "https://www.linkedin.com/feed/update/urn:li:share:7/");
    }
}
