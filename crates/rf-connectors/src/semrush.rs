//! Semrush Standard API (analytics v3, `https://api.semrush.com/`): the
//! domain overview (`domain_ranks`), a domain's organic keywords
//! (`domain_organic`) and a keyword's overview (`phrase_this`). The key is a
//! query parameter (`key=`); the gateway keeps it out of the cache key, the
//! ledger and every message.
//!
//! Answers are semicolon-separated text: a header line of column names, then
//! one line per result (`export_escape=1` quotes every value). Errors are a
//! line `ERROR <code> :: <MESSAGE>`, e.g. `ERROR 50 :: NOTHING FOUND` (an
//! empty report, not a failure), `ERROR 120 :: WRONG KEY - ID PAIR`,
//! `ERROR 132 :: API UNITS BALANCE IS ZERO`.
//!
//! Semrush bills API units per line returned (10 per line for these three
//! reports) and sends fewer lines when the balance runs short; errors cost
//! nothing. The catalog's price is per API unit, so a call costs its lines
//! times the report's units per line times that price; the gateway reserves
//! the most the call can cost (`display_limit` lines) before sending it.

use std::collections::HashMap;

use serde::Serialize;

use crate::{
    ApiKey, ConnectorError, Hit, Service,
    gateway::{ApiRequest, Billing, Call, Dialect, Fetched, Gateway},
    http::Reply,
};

/// API units per line of each report used here (Semrush's price list: 10
/// per line for the domain overview, organic keywords and keyword overview).
const UNITS_PER_LINE: u32 = 10;

/// A regional database (`us`, `uk`, `de`, ...), Semrush's `database`.
pub const DEFAULT_DATABASE: &str = "us";

/// A domain's overview in one regional database (`domain_ranks`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DomainOverview {
    pub domain: String,
    /// Semrush Rank: the domain's place by organic traffic (1 is the most).
    pub rank: Option<u64>,
    /// Keywords that bring users to the domain from Google's top 100.
    pub organic_keywords: Option<u64>,
    /// Estimated monthly visits from those keywords.
    pub organic_traffic: Option<u64>,
    /// Estimated monthly cost of that traffic bought as ads, in dollars.
    pub organic_cost: Option<f64>,
    pub adwords_keywords: Option<u64>,
    pub adwords_traffic: Option<u64>,
    pub adwords_cost: Option<f64>,
}

/// A keyword a domain ranks for (`domain_organic`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrganicKeyword {
    pub keyword: String,
    pub position: Option<u32>,
    pub search_volume: Option<u64>,
    pub cpc: Option<f64>,
    /// The domain's page that ranks.
    pub url: String,
    /// Share of the domain's organic traffic, in per cent.
    pub traffic_percent: Option<f64>,
}

/// A keyword's overview in one regional database (`phrase_this`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeywordOverview {
    pub keyword: String,
    pub search_volume: Option<u64>,
    pub cpc: Option<f64>,
    /// Advertisers' competition, 0 to 1.
    pub competition: Option<f64>,
    /// Results Google returns for the keyword.
    pub results: Option<u64>,
}

impl OrganicKeyword {
    pub fn hit(&self) -> Hit {
        let position = self.position.map_or_else(|| "unranked".to_owned(), |p| format!("position {p}"));
        let volume = self.search_volume.map_or_else(String::new, |v| format!(", {v} searches a month"));
        Hit { title: format!("{} ({position}{volume})", self.keyword), url: self.url.clone(), source: None, published: None, snippet: None }
    }
}

impl KeywordOverview {
    pub fn hit(&self, database: &str) -> Hit {
        let mut facts = Vec::new();
        if let Some(volume) = self.search_volume {
            facts.push(format!("{volume} searches a month"));
        }
        if let Some(cpc) = self.cpc {
            facts.push(format!("CPC ${cpc:.2}"));
        }
        if let Some(competition) = self.competition {
            facts.push(format!("competition {competition:.2}"));
        }
        Hit {
            title: format!("{} ({})", self.keyword, if facts.is_empty() { "no figures".to_owned() } else { facts.join(", ") }),
            url: format!("https://www.semrush.com/analytics/keywordoverview/?q={}&db={database}", url_escape(&self.keyword)),
            source: Some(format!("Semrush, {database} database")),
            published: None,
            snippet: None,
        }
    }
}

fn url_escape(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// `ERROR <code> :: <MESSAGE>`, Semrush's error line.
fn error_line(body: &str) -> Option<(u32, String)> {
    let line = body.trim_start().lines().next()?.trim();
    let rest = line.strip_prefix("ERROR ")?;
    let (code, message) = rest.split_once("::").unwrap_or((rest, ""));
    Some((code.trim().parse().ok()?, message.trim().to_owned()))
}

pub(crate) struct Semrush;

impl Dialect for Semrush {
    fn authorize(request: reqwest::RequestBuilder, key: &ApiKey) -> reqwest::RequestBuilder {
        request.query(&[("key", key.expose())])
    }

    fn detail(body: &str) -> String {
        match error_line(body) {
            Some((code, message)) => format!("ERROR {code}: {message}"),
            None => body.chars().take(200).collect(),
        }
    }

    fn refusal(body: &str) -> Option<ConnectorError> {
        match error_line(body) {
            // An empty report: the domain or keyword has no data.
            Some((50, _)) | None => None,
            Some(_) => Some(Self::classify(200, body)),
        }
    }

    fn rows(reply: &Reply) -> u64 {
        data_lines(&reply.body)
    }

    fn classify(status: u16, body: &str) -> ConnectorError {
        let service = Service::Semrush;
        let detail = Self::detail(body);
        match error_line(body).map(|(code, _)| code) {
            // Key missing, malformed, or not this account's; the API not in
            // the subscription.
            Some(70 | 120 | 121 | 122 | 130) => ConnectorError::BadKey { service, detail },
            // The units are spent, or the account's limits reached.
            Some(131..=134) => ConnectorError::QuotaSpent { service, detail },
            Some(50) => ConnectorError::NotFound { service, detail },
            Some(_) => ConnectorError::BadRequest { service, status, detail },
            None if matches!(status, 401 | 403) => ConnectorError::BadKey { service, detail },
            None => ConnectorError::BadRequest { service, status, detail },
        }
    }
}

/// The lines after the header; none in an `ERROR` answer.
fn data_lines(body: &str) -> u64 {
    if error_line(body).is_some() {
        return 0;
    }
    u64::try_from(body.lines().skip(1).filter(|line| !line.trim().is_empty()).count()).unwrap_or(u64::MAX)
}

/// The report's rows by column name (the header's names), with its quoted
/// values unquoted. `ERROR 50 :: NOTHING FOUND` is no rows.
fn rows(body: &str, columns: &[&str]) -> Result<Vec<HashMap<String, String>>, String> {
    if let Some((50, _)) = error_line(body) {
        return Ok(Vec::new());
    }
    let mut lines = body.lines().map(|line| line.trim_end_matches('\r')).filter(|line| !line.trim().is_empty());
    let header = split(lines.next().ok_or("an empty answer")?)?;
    for column in columns {
        if !header.iter().any(|name| name == column) {
            return Err(format!("no column {column:?} in the header {header:?}"));
        }
    }
    lines
        .enumerate()
        .map(|(n, line)| {
            let values = split(line)?;
            if values.len() != header.len() {
                return Err(format!("line {} has {} values for {} columns", n + 2, values.len(), header.len()));
            }
            Ok(header.iter().cloned().zip(values).collect())
        })
        .collect()
}

/// One line's values: separated by `;`, each maybe in double quotes (a
/// quote inside doubled).
fn split(line: &str) -> Result<Vec<String>, String> {
    let mut values = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        value.push('"');
                    }
                    Some('"') => break,
                    Some(c) => value.push(c),
                    None => return Err(format!("an unclosed quote in {:?}", line.chars().take(80).collect::<String>())),
                }
            }
            match chars.next() {
                None => {
                    values.push(value);
                    return Ok(values);
                }
                Some(';') => {}
                Some(c) => return Err(format!("{c:?} after a quoted value in {:?}", line.chars().take(80).collect::<String>())),
            }
        } else {
            loop {
                match chars.next() {
                    Some(';') => break,
                    Some(c) => value.push(c),
                    None => {
                        values.push(value);
                        return Ok(values);
                    }
                }
            }
        }
        values.push(value);
    }
}

fn number<T: std::str::FromStr>(row: &HashMap<String, String>, column: &str) -> Option<T> {
    row.get(column).map(|v| v.trim()).filter(|v| !v.is_empty()).and_then(|v| v.parse().ok())
}

fn text(row: &HashMap<String, String>, column: &str) -> String {
    row.get(column).cloned().unwrap_or_default()
}

fn check_database(database: &str) -> Result<(), ConnectorError> {
    let ok = (2..=8).contains(&database.len()) && database.chars().all(|c| c.is_ascii_lowercase() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(ConnectorError::BadRequest {
            service: Service::Semrush,
            status: 0,
            detail: format!("{database:?} is not a Semrush database: use a regional code such as us, uk or de"),
        })
    }
}

/// A domain as Semrush wants it: `example.com`, without scheme or path.
fn bare_domain(domain: &str) -> Result<String, ConnectorError> {
    crate::domain_of(domain).ok_or_else(|| ConnectorError::BadRequest {
        service: Service::Semrush,
        status: 0,
        detail: format!("{domain:?} is not a domain such as example.com"),
    })
}

fn request(endpoint: &'static str, kind: &str, query: Vec<(&str, String)>, max_lines: u32) -> ApiRequest {
    let mut all = vec![("type".to_owned(), kind.to_owned())];
    all.extend(query.into_iter().map(|(name, value)| (name.to_owned(), value)));
    all.push(("export_escape".into(), "1".into()));
    ApiRequest { endpoint, path: String::new(), query: all, billing: Billing::PerUnit { base_units: 0, units_per_row: UNITS_PER_LINE, max_rows: max_lines } }
}

/// The domain overview of `domain` in `database` (one line).
pub async fn domain_overview(gateway: &Gateway, call: Call<'_>, domain: &str, database: &str) -> Result<Fetched<Option<DomainOverview>>, ConnectorError> {
    check_database(database)?;
    let domain = bare_domain(domain)?;
    let columns = ["Dn", "Rk", "Or", "Ot", "Oc", "Ad", "At", "Ac"];
    let query = vec![("domain", domain), ("database", database.to_owned()), ("export_columns", columns.join(","))];
    let request = request("domain-ranks", "domain_ranks", query, 1);
    gateway
        .fetch::<Semrush, _>(call, &request, |body| {
            let header = ["Domain", "Rank", "Organic Keywords", "Organic Traffic", "Organic Cost", "Adwords Keywords", "Adwords Traffic", "Adwords Cost"];
            let rows = rows(body, &header)?;
            Ok(rows.first().map(|row| DomainOverview {
                domain: text(row, "Domain"),
                rank: number(row, "Rank"),
                organic_keywords: number(row, "Organic Keywords"),
                organic_traffic: number(row, "Organic Traffic"),
                organic_cost: number(row, "Organic Cost"),
                adwords_keywords: number(row, "Adwords Keywords"),
                adwords_traffic: number(row, "Adwords Traffic"),
                adwords_cost: number(row, "Adwords Cost"),
            }))
        })
        .await
}

/// The keywords `domain` ranks for in `database`, most traffic first, at
/// most `limit` (1 to 1,000; each line costs 10 API units).
pub async fn organic_keywords(
    gateway: &Gateway,
    call: Call<'_>,
    domain: &str,
    database: &str,
    limit: u32,
) -> Result<Fetched<Vec<OrganicKeyword>>, ConnectorError> {
    check_database(database)?;
    let domain = bare_domain(domain)?;
    let limit = limit.clamp(1, 1000);
    let query = vec![
        ("domain", domain),
        ("database", database.to_owned()),
        ("display_limit", limit.to_string()),
        ("display_sort", "tr_desc".to_owned()),
        ("export_columns", "Ph,Po,Nq,Cp,Ur,Tr".to_owned()),
    ];
    let request = request("domain-organic", "domain_organic", query, limit);
    gateway
        .fetch::<Semrush, _>(call, &request, |body| {
            let rows = rows(body, &["Keyword", "Position", "Search Volume", "CPC", "Url", "Traffic (%)"])?;
            Ok(rows
                .iter()
                .map(|row| OrganicKeyword {
                    keyword: text(row, "Keyword"),
                    position: number(row, "Position"),
                    search_volume: number(row, "Search Volume"),
                    cpc: number(row, "CPC"),
                    url: text(row, "Url"),
                    traffic_percent: number(row, "Traffic (%)"),
                })
                .collect())
        })
        .await
}

/// The overview of `keyword` in `database` (one line).
pub async fn keyword_overview(gateway: &Gateway, call: Call<'_>, keyword: &str, database: &str) -> Result<Fetched<Option<KeywordOverview>>, ConnectorError> {
    check_database(database)?;
    let keyword = keyword.split_whitespace().collect::<Vec<_>>().join(" ");
    if keyword.is_empty() || keyword.chars().count() > 255 {
        return Err(ConnectorError::BadRequest { service: Service::Semrush, status: 0, detail: "the keyword must be 1 to 255 characters".into() });
    }
    let query = vec![("phrase", keyword), ("database", database.to_owned()), ("export_columns", "Ph,Nq,Cp,Co,Nr".to_owned())];
    let request = request("phrase-this", "phrase_this", query, 1);
    gateway
        .fetch::<Semrush, _>(call, &request, |body| {
            let rows = rows(body, &["Keyword", "Search Volume", "CPC", "Competition", "Number of Results"])?;
            Ok(rows.first().map(|row| KeywordOverview {
                keyword: text(row, "Keyword"),
                search_volume: number(row, "Search Volume"),
                cpc: number(row, "CPC"),
                competition: number(row, "Competition"),
                results: number(row, "Number of Results"),
            }))
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_and_plain_values_split_on_semicolons() {
        assert_eq!(split(r#""a;b";"say ""hi""";3"#).unwrap(), ["a;b", "say \"hi\"", "3"]);
        assert_eq!(split("a;;c").unwrap(), ["a", "", "c"]);
        assert!(split(r#""open"#).unwrap_err().contains("unclosed quote"));
        assert!(split(r#""a"b"#).unwrap_err().contains("after a quoted value"));
    }

    #[test]
    fn error_lines_are_read_and_nothing_found_is_an_empty_report() {
        assert_eq!(error_line("ERROR 132 :: API UNITS BALANCE IS ZERO\n"), Some((132, "API UNITS BALANCE IS ZERO".into())));
        assert_eq!(error_line("Keyword;Position\r\n"), None);
        assert!(rows("ERROR 50 :: NOTHING FOUND", &["Keyword"]).unwrap().is_empty());
        assert!(matches!(Semrush::refusal("ERROR 120 :: WRONG KEY - ID PAIR"), Some(ConnectorError::BadKey { .. })));
        assert!(matches!(Semrush::refusal("ERROR 132 :: API UNITS BALANCE IS ZERO"), Some(ConnectorError::QuotaSpent { .. })));
        assert!(Semrush::refusal("ERROR 50 :: NOTHING FOUND").is_none());
        assert_eq!(data_lines("ERROR 50 :: NOTHING FOUND"), 0);
        assert_eq!(data_lines("Keyword;Position\r\nbike;1\r\ncar;2\r\n"), 2);
    }

    #[test]
    fn a_report_without_a_documented_column_or_with_a_short_line_is_refused() {
        let missing = rows("Keyword;Rank\r\nbike;1", &["Keyword", "Position"]).unwrap_err();
        assert!(missing.contains("no column \"Position\""), "{missing}");
        let short = rows("Keyword;Position\r\nbike", &["Keyword", "Position"]).unwrap_err();
        assert!(short.contains("line 2 has 1 values for 2 columns"), "{short}");
    }

    #[test]
    fn domains_are_bare_and_databases_regional_codes() {
        assert_eq!(bare_domain("https://www.Example.com/pricing").unwrap(), "example.com");
        assert!(bare_domain("not a domain").is_err());
        assert!(check_database("us").is_ok());
        assert!(check_database("US; DROP").is_err());
    }
}
