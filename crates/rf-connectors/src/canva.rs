//! Canva's Connect API (`/rest/v1`), signed in with OAuth 2.0 and PKCE
//! (the access token is the connector's key, a bearer token):
//! - the signed-in user (`GET /rest/v1/users/me`), which `connectors test
//!   canva` calls;
//! - a new design of a given size and title (`POST /rest/v1/designs`),
//!   which opens in the user's Canva;
//! - exporting a design (`POST /rest/v1/exports` starts a job,
//!   `GET /rest/v1/exports/:id` reports it; a finished job holds
//!   pre-signed download addresses, one per page, valid for 24 hours), and
//!   the download of those files.
//!
//! Errors are `{"code", "message"}`. Canva's Connect API cannot put text
//! or pictures into a design except through brand-template autofill, which
//! needs Canva Enterprise; a design made here is an empty canvas of the
//! brief's size, titled with its concept.

use serde::{Deserialize, Serialize};

use crate::{
    ApiKey, ConnectorError, Service,
    gateway::{ApiPost, ApiRequest, Billing, Call, Dialect, Fetched, Gateway},
};

/// Canva's bounds on a custom design's width and height, in pixels.
pub const MIN_SIDE: u32 = 40;
pub const MAX_SIDE: u32 = 8000;
/// The longest design title Canva takes.
pub const MAX_TITLE_CHARS: usize = 255;
/// The largest exported file downloaded (Canva's exports of one design
/// stay far below it).
pub const MAX_DOWNLOAD_BYTES: usize = 200 * 1024 * 1024;

/// The signed-in user.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct TeamUser {
    pub user_id: String,
    pub team_id: String,
}

#[derive(Deserialize)]
struct Me {
    team_user: TeamUser,
}

/// A design's addresses: both are valid for 30 days for the user who
/// made it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct DesignUrls {
    pub edit_url: String,
    pub view_url: String,
}

/// A design.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Design {
    pub id: String,
    #[serde(default)]
    pub title: Option<String>,
    pub urls: DesignUrls,
    #[serde(default)]
    pub page_count: Option<u32>,
}

#[derive(Deserialize)]
struct DesignReply {
    design: Design,
}

/// The file type of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    Png,
    Jpg,
    Pdf,
}

impl ExportFormat {
    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Png => "png",
            ExportFormat::Jpg => "jpg",
            ExportFormat::Pdf => "pdf",
        }
    }

    /// The `format` object of an export request (a JPEG needs a quality).
    fn request(self) -> serde_json::Value {
        match self {
            ExportFormat::Jpg => serde_json::json!({"type": "jpg", "quality": 90}),
            other => serde_json::json!({"type": other.extension()}),
        }
    }
}

impl std::str::FromStr for ExportFormat {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "png" => Ok(ExportFormat::Png),
            "jpg" | "jpeg" => Ok(ExportFormat::Jpg),
            "pdf" => Ok(ExportFormat::Pdf),
            _ => Err(format!("unknown export format {text:?}; use png, jpg or pdf")),
        }
    }
}

/// Where an export job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    InProgress,
    Success,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct JobError {
    pub code: String,
    #[serde(default)]
    pub message: String,
}

/// An export job.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct ExportJob {
    pub id: String,
    pub status: JobStatus,
    /// The files, one per page, once it succeeded.
    #[serde(default)]
    pub urls: Vec<String>,
    #[serde(default)]
    pub error: Option<JobError>,
}

#[derive(Deserialize)]
struct JobReply {
    job: ExportJob,
}

#[derive(Deserialize)]
struct Problem {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

pub(crate) struct Canva;

impl Dialect for Canva {
    fn authorize(request: reqwest::RequestBuilder, key: &ApiKey) -> reqwest::RequestBuilder {
        request.bearer_auth(key.expose())
    }

    fn detail(body: &str) -> String {
        match serde_json::from_str::<Problem>(body) {
            Ok(Problem { code: Some(code), message }) => format!("{code}: {}", message.unwrap_or_default()),
            _ => body.chars().take(200).collect(),
        }
    }

    fn classify(status: u16, body: &str) -> ConnectorError {
        let service = Service::Canva;
        let detail = Self::detail(body);
        match status {
            401 => ConnectorError::BadKey { service, detail: format!("{detail}; sign in again with `raptorflow connectors auth canva`") },
            403 => ConnectorError::BadRequest {
                service,
                status,
                detail: format!(
                    "{detail}; the app needs the scopes design:content:write and design:content:read (sign in again with `raptorflow connectors auth canva` after adding them)"
                ),
            },
            404 => ConnectorError::NotFound { service, detail },
            _ => ConnectorError::BadRequest { service, status, detail },
        }
    }
}

fn bad(detail: String) -> ConnectorError {
    ConnectorError::BadRequest { service: Service::Canva, status: 0, detail }
}

fn parse<T: serde::de::DeserializeOwned>(body: &str) -> Result<T, String> {
    serde_json::from_str(body).map_err(|err| err.to_string())
}

/// Canva's ids are letters, digits, `-` and `_`.
fn checked_id<'a>(what: &str, id: &'a str) -> Result<&'a str, ConnectorError> {
    let ok = !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok { Ok(id) } else { Err(bad(format!("{id:?} is not a Canva {what} id"))) }
}

/// The account the tokens belong to.
pub async fn me(gateway: &Gateway, call: Call<'_>) -> Result<Fetched<TeamUser>, ConnectorError> {
    let request = ApiRequest { endpoint: "users-me", path: "rest/v1/users/me".into(), query: Vec::new(), billing: Billing::PerCall };
    gateway.fetch::<Canva, _>(call, &request, |body| parse::<Me>(body).map(|me| me.team_user)).await
}

/// A new, empty design of `width` × `height` pixels, titled `title`.
pub async fn create_design(gateway: &Gateway, call: Call<'_>, title: &str, (width, height): (u32, u32)) -> Result<Fetched<Design>, ConnectorError> {
    let chars = title.chars().count();
    if title.trim().is_empty() || chars > MAX_TITLE_CHARS {
        return Err(bad(format!("a design's title has 1 to {MAX_TITLE_CHARS} characters (this one has {chars})")));
    }
    for side in [width, height] {
        if !(MIN_SIDE..=MAX_SIDE).contains(&side) {
            return Err(bad(format!("a design's sides are {MIN_SIDE} to {MAX_SIDE} pixels, not {width} × {height}")));
        }
    }
    let body = serde_json::json!({"design_type": {"type": "custom", "width": width, "height": height}, "title": title});
    let request = ApiPost { endpoint: "create-design", path: "rest/v1/designs".into(), body, action: "created the design", retry_safe: false };
    gateway.post::<Canva, _>(call, &request, |_, body| parse::<DesignReply>(body).map(|d| d.design)).await
}

/// Starts exporting a design.
pub async fn create_export(gateway: &Gateway, call: Call<'_>, design_id: &str, format: ExportFormat) -> Result<Fetched<ExportJob>, ConnectorError> {
    let design_id = checked_id("design", design_id)?;
    let body = serde_json::json!({"design_id": design_id, "format": format.request()});
    // A second export of the same design does no harm: retried like a GET.
    let request = ApiPost { endpoint: "create-export", path: "rest/v1/exports".into(), body, action: "started the export", retry_safe: true };
    gateway.post::<Canva, _>(call, &request, |_, body| parse::<JobReply>(body).map(|j| j.job)).await
}

/// Where an export job is (never answered from the cache: callers pass
/// `use_cache: false`).
pub async fn export_job(gateway: &Gateway, call: Call<'_>, job_id: &str) -> Result<Fetched<ExportJob>, ConnectorError> {
    let job_id = checked_id("export job", job_id)?;
    let request = ApiRequest { endpoint: "export-job", path: format!("rest/v1/exports/{job_id}"), query: Vec::new(), billing: Billing::PerCall };
    gateway.fetch::<Canva, _>(call, &request, |body| parse::<JobReply>(body).map(|j| j.job)).await
}

/// Downloads one of a finished export's files: only over https from
/// Canva's own hosts (`*.canva.com`), or from the host of the connector's
/// base URL (a proxy, a test server) the way it is reached.
pub async fn download(gateway: &Gateway, call: Call<'_>, address: &str) -> Result<Vec<u8>, ConnectorError> {
    let base = call.connector.base_url.clone();
    let allowed = move |url: &url::Url| {
        let canva = url.scheme() == "https" && url.host_str().is_some_and(|h| h == "canva.com" || h.ends_with(".canva.com"));
        let proxy = url.scheme() == base.scheme() && url.host_str() == base.host_str() && url.port_or_known_default() == base.port_or_known_default();
        canva || proxy
    };
    gateway.download(call, address, allowed, MAX_DOWNLOAD_BYTES).await
}

/// The pixel size of a design for an aspect ratio written `W:H` (`1:1`,
/// `16:9`, `1.91:1`; also `W×H` or `WxH`): the shorter side is 1080 pixels,
/// the longer one follows the ratio. `None` if it cannot be read or is
/// beyond Canva's bounds.
pub fn size_for_aspect_ratio(ratio: &str) -> Option<(u32, u32)> {
    let (w, h) = ratio.trim().split_once([':', 'x', '×', '/'])?;
    let (w, h): (f64, f64) = (w.trim().parse().ok()?, h.trim().parse().ok()?);
    if !(w.is_finite() && h.is_finite() && w > 0.0 && h > 0.0) {
        return None;
    }
    let short = 1080.0;
    let (width, height) = if w >= h { (short * w / h, short) } else { (short, short * h / w) };
    let (width, height) = (width.round(), height.round());
    let bounds = f64::from(MIN_SIDE)..=f64::from(MAX_SIDE);
    (bounds.contains(&width) && bounds.contains(&height)).then_some((width as u32, height as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_aspect_ratio_becomes_a_size_with_a_short_side_of_1080() {
        assert_eq!(size_for_aspect_ratio("1:1"), Some((1080, 1080)));
        assert_eq!(size_for_aspect_ratio("16:9"), Some((1920, 1080)));
        assert_eq!(size_for_aspect_ratio("4:5"), Some((1080, 1350)));
        assert_eq!(size_for_aspect_ratio(" 1.91 : 1 "), Some((2063, 1080)));
        assert_eq!(size_for_aspect_ratio("9x16"), Some((1080, 1920)));
        assert_eq!(size_for_aspect_ratio("square"), None);
        assert_eq!(size_for_aspect_ratio("0:1"), None);
        assert_eq!(size_for_aspect_ratio("100:1"), None, "beyond Canva's 8000 pixels");
    }

    #[test]
    fn export_formats_are_read_and_a_jpeg_asks_for_a_quality() {
        assert_eq!("JPEG".parse::<ExportFormat>(), Ok(ExportFormat::Jpg));
        assert_eq!(ExportFormat::Jpg.request(), serde_json::json!({"type": "jpg", "quality": 90}));
        assert_eq!(ExportFormat::Png.request(), serde_json::json!({"type": "png"}));
        assert!("gif".parse::<ExportFormat>().unwrap_err().contains("png, jpg or pdf"));
    }
}
