//! Ahrefs API v3, Site Explorer (`/v3/site-explorer/...`): a domain's
//! Domain Rating, its organic metrics, and the keywords it ranks for,
//! authenticated with `Authorization: Bearer KEY`.
//!
//! Answers are JSON; errors are `{"error": "<message>"}` with 400, 401, 403,
//! 429 or 500 (Ahrefs' OpenAPI document, one error shape for every
//! operation). Ahrefs allows 60 requests a minute per key and may throttle
//! below that with the same 429, without `Retry-After`.
//!
//! Billing is in API units from the plan's monthly allowance: a request
//! costs `max(50, per-row cost × rows)`, the per-row cost being the sum of
//! its fields' costs (1, or 5 or 10 for the fields the documentation marks
//! so), and a request Ahrefs answers from its cache costs nothing. Ahrefs
//! reports what a request actually cost in `x-api-units-cost-total-actual`,
//! which is what the ledger counts. Ahrefs publishes no price per unit
//! (the allowance comes with the plan), so the catalog's price is $0 until
//! the user sets one with `--usd-per-call` (per unit).
//!
//! Requests for the targets `ahrefs.com`, `yep.com` and `firehose.com` cost
//! no units (Ahrefs' free test queries): `connectors test ahrefs` asks for
//! the Domain Rating of `ahrefs.com`.

use serde::{Deserialize, Serialize};

use crate::{
    ApiKey, ConnectorError, Hit, Service,
    gateway::{ApiRequest, Billing, Call, Dialect, Fetched, Gateway},
    http::Reply,
};

/// What every request costs at least, in API units.
const BASE_UNITS: u32 = 50;

/// A target Ahrefs answers for free, for tests.
pub const FREE_TEST_TARGET: &str = "ahrefs.com";

/// A domain's Domain Rating (`/site-explorer/domain-rating`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct DomainRating {
    /// The strength of the domain's backlink profile, 0 to 100.
    pub domain_rating: f64,
    /// Its place among all domains by that strength (1 is the strongest).
    pub ahrefs_rank: Option<u64>,
}

/// A domain's organic and paid search figures (`/site-explorer/metrics`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Metrics {
    /// Keywords it ranks for in the top 100.
    pub org_keywords: u64,
    /// Estimated monthly visits from organic search.
    pub org_traffic: u64,
    /// Estimated value of that traffic, in US cents.
    pub org_cost: Option<u64>,
    pub paid_keywords: u64,
    pub paid_traffic: u64,
    /// In US cents.
    pub paid_cost: Option<u64>,
}

/// A keyword a domain ranks for (`/site-explorer/organic-keywords`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct OrganicKeyword {
    pub keyword: Option<String>,
    pub best_position: Option<u32>,
    pub best_position_url: Option<String>,
    /// Searches over the latest month.
    pub volume: Option<u64>,
    /// Estimated monthly visits the domain gets from the keyword.
    pub sum_traffic: Option<u64>,
}

impl OrganicKeyword {
    pub fn hit(&self) -> Hit {
        let keyword = self.keyword.clone().unwrap_or_default();
        let position = self.best_position.map_or_else(|| "unranked".to_owned(), |p| format!("position {p}"));
        let volume = self.volume.map_or_else(String::new, |v| format!(", {v} searches a month"));
        Hit {
            title: format!("{keyword} ({position}{volume})"),
            url: self.best_position_url.clone().unwrap_or_default(),
            source: None,
            published: None,
            snippet: None,
        }
    }
}

#[derive(Deserialize)]
struct DomainRatingAnswer {
    domain_rating: DomainRating,
}

#[derive(Deserialize)]
struct MetricsAnswer {
    metrics: Metrics,
}

#[derive(Deserialize)]
struct KeywordsAnswer {
    keywords: Vec<OrganicKeyword>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: String,
}

/// The fields asked of `organic-keywords` and their cost per row in units
/// (the documentation's "(10 units)" marks; 1 otherwise).
const KEYWORD_FIELDS: [(&str, u32); 5] = [("keyword", 1), ("best_position", 1), ("best_position_url", 1), ("volume", 10), ("sum_traffic", 10)];
const METRICS_FIELDS: [(&str, u32); 6] =
    [("org_keywords", 1), ("org_traffic", 10), ("org_cost", 10), ("paid_keywords", 1), ("paid_traffic", 10), ("paid_cost", 10)];

fn units_per_row(fields: &[(&str, u32)]) -> u32 {
    fields.iter().map(|(_, units)| units).sum()
}

pub(crate) struct Ahrefs;

impl Dialect for Ahrefs {
    fn authorize(request: reqwest::RequestBuilder, key: &ApiKey) -> reqwest::RequestBuilder {
        request.bearer_auth(key.expose()).header("Accept", "application/json")
    }

    fn detail(body: &str) -> String {
        match serde_json::from_str::<ErrorBody>(body) {
            Ok(ErrorBody { error }) => error.chars().take(300).collect(),
            Err(_) => body.chars().take(200).collect(),
        }
    }

    fn classify(status: u16, body: &str) -> ConnectorError {
        let service = Service::Ahrefs;
        let detail = Self::detail(body);
        let lower = detail.to_ascii_lowercase();
        match status {
            401 => ConnectorError::BadKey { service, detail },
            // Forbidden is a key without API access, or the units spent.
            403 if lower.contains("unit") || lower.contains("limit") => ConnectorError::QuotaSpent { service, detail },
            403 => ConnectorError::BadKey { service, detail },
            404 => ConnectorError::NotFound { service, detail },
            _ => ConnectorError::BadRequest { service, status, detail },
        }
    }

    fn rows(reply: &Reply) -> u64 {
        header_number(reply, "x-api-rows").unwrap_or(1)
    }

    fn reported_units(reply: &Reply) -> Option<u64> {
        header_number(reply, "x-api-units-cost-total-actual")
    }
}

fn header_number(reply: &Reply, name: &str) -> Option<u64> {
    reply.headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// A domain or URL as Ahrefs takes it, and a date `YYYY-MM-DD`.
fn target(target: &str) -> Result<String, ConnectorError> {
    let trimmed = target.trim();
    let host = trimmed.split_once("://").map_or(trimmed, |(_, rest)| rest);
    if host.contains('.') && !host.contains(char::is_whitespace) && host.len() <= 2_000 {
        Ok(trimmed.to_owned())
    } else {
        Err(ConnectorError::BadRequest { service: Service::Ahrefs, status: 0, detail: format!("{target:?} is not a domain or URL such as example.com") })
    }
}

fn check_date(date: &str) -> Result<(), ConnectorError> {
    let bytes = date.as_bytes();
    let shaped = bytes.len() == 10 && bytes[4] == b'-' && bytes[7] == b'-' && date.chars().filter(char::is_ascii_digit).count() == 8;
    if shaped { Ok(()) } else { Err(ConnectorError::BadRequest { service: Service::Ahrefs, status: 0, detail: format!("{date:?} is not a date YYYY-MM-DD") }) }
}

fn check_country(country: &str) -> Result<(), ConnectorError> {
    if country.len() == 2 && country.chars().all(|c| c.is_ascii_lowercase()) {
        Ok(())
    } else {
        Err(ConnectorError::BadRequest { service: Service::Ahrefs, status: 0, detail: format!("{country:?} is not a two-letter country code such as us") })
    }
}

fn parse<T: for<'de> Deserialize<'de>>(body: &str) -> Result<T, String> {
    serde_json::from_str(body).map_err(|err| err.to_string())
}

/// The Domain Rating of `target` on `date`.
pub async fn domain_rating(gateway: &Gateway, call: Call<'_>, target_: &str, date: &str) -> Result<Fetched<DomainRating>, ConnectorError> {
    check_date(date)?;
    let query = vec![("target".to_owned(), target(target_)?), ("date".to_owned(), date.to_owned())];
    let billing = Billing::PerUnit { base_units: BASE_UNITS, units_per_row: 2, max_rows: 1 };
    let request = ApiRequest { endpoint: "domain-rating", path: "v3/site-explorer/domain-rating".into(), query, billing };
    Ok(gateway.fetch::<Ahrefs, _>(call, &request, parse::<DomainRatingAnswer>).await?.map(|answer| answer.domain_rating))
}

/// The organic and paid figures of `target` on `date` in `country`, or
/// across all countries.
pub async fn metrics(gateway: &Gateway, call: Call<'_>, target_: &str, date: &str, country: Option<&str>) -> Result<Fetched<Metrics>, ConnectorError> {
    check_date(date)?;
    let mut query = vec![("target".to_owned(), target(target_)?), ("date".to_owned(), date.to_owned())];
    if let Some(country) = country {
        check_country(country)?;
        query.push(("country".into(), country.to_owned()));
    }
    let billing = Billing::PerUnit { base_units: BASE_UNITS, units_per_row: units_per_row(&METRICS_FIELDS), max_rows: 1 };
    let request = ApiRequest { endpoint: "metrics", path: "v3/site-explorer/metrics".into(), query, billing };
    Ok(gateway.fetch::<Ahrefs, _>(call, &request, parse::<MetricsAnswer>).await?.map(|answer| answer.metrics))
}

/// The keywords `target` ranks for on `date` in `country`, most traffic
/// first, at most `limit` (1 to 1,000).
pub async fn organic_keywords(
    gateway: &Gateway,
    call: Call<'_>,
    target_: &str,
    date: &str,
    country: &str,
    limit: u32,
) -> Result<Fetched<Vec<OrganicKeyword>>, ConnectorError> {
    check_date(date)?;
    check_country(country)?;
    let limit = limit.clamp(1, 1000);
    let select: Vec<&str> = KEYWORD_FIELDS.iter().map(|(name, _)| *name).collect();
    let query = vec![
        ("target".to_owned(), target(target_)?),
        ("date".to_owned(), date.to_owned()),
        ("country".to_owned(), country.to_owned()),
        ("select".to_owned(), select.join(",")),
        ("order_by".to_owned(), "sum_traffic:desc".to_owned()),
        ("limit".to_owned(), limit.to_string()),
    ];
    let billing = Billing::PerUnit { base_units: BASE_UNITS, units_per_row: units_per_row(&KEYWORD_FIELDS), max_rows: limit };
    let request = ApiRequest { endpoint: "organic-keywords", path: "v3/site-explorer/organic-keywords".into(), query, billing };
    Ok(gateway.fetch::<Ahrefs, _>(call, &request, parse::<KeywordsAnswer>).await?.map(|answer| answer.keywords))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_per_row_costs_follow_the_documented_field_costs() {
        assert_eq!(units_per_row(&KEYWORD_FIELDS), 23);
        assert_eq!(units_per_row(&METRICS_FIELDS), 42);
        let keywords = Billing::PerUnit { base_units: BASE_UNITS, units_per_row: 23, max_rows: 100 };
        assert_eq!(keywords, Billing::PerUnit { base_units: 50, units_per_row: 23, max_rows: 100 });
    }

    #[test]
    fn errors_map_by_status_and_message() {
        let body = r#"{"error": "Insufficient API units"}"#;
        assert!(matches!(Ahrefs::classify(403, body), ConnectorError::QuotaSpent { .. }));
        assert!(matches!(Ahrefs::classify(403, r#"{"error": "API access is not included"}"#), ConnectorError::BadKey { .. }));
        assert!(matches!(Ahrefs::classify(401, r#"{"error": "Invalid API key"}"#), ConnectorError::BadKey { .. }));
        assert!(matches!(Ahrefs::classify(400, r#"{"error": "unknown column: foo"}"#), ConnectorError::BadRequest { status: 400, .. }));
        assert_eq!(Ahrefs::detail("<html>"), "<html>");
    }

    #[test]
    fn bad_targets_dates_and_countries_are_refused() {
        assert!(target("https://example.com/blog").is_ok());
        assert!(target("not a domain").is_err());
        assert!(check_date("2026-12-06").is_ok());
        assert!(check_date("06/12/2026").is_err());
        assert!(check_country("us").is_ok());
        assert!(check_country("USA").is_err());
    }
}
