//! LinkedIn and Canva end to end through the CLI, against a local fake
//! that plays both services' authorization servers (checking the client
//! secret where each service wants it, the code, the redirect and the PKCE
//! verifier) and their APIs (answering only the signed-in token, in the
//! documented shapes of `tests/fixtures/connectors/`): signing in, a
//! LinkedIn post published once as the organisation, the page's signals,
//! and an image brief made into a Canva design and exported to a file.

#[path = "browser.rs"]
mod browser;
#[path = "../providers/cli_support.rs"]
mod cli_support;
#[path = "../providers/fake_provider.rs"]
mod fake_provider;
#[path = "../sync/harness.rs"]
mod harness;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
};
use base64::Engine as _;
use cli_support::{cli, files_containing};
use fake_provider::connector_fixture;
use harness::require_keyring;
use sha2::Digest as _;

/// A 1×1 PNG, the file the fake export hands out.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06,
    0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0, 0x1f, 0x00, 0x05, 0x00,
    0x01, 0xff, 0x89, 0x99, 0x3d, 0x1d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

#[derive(Default)]
struct Seen {
    base: String,
    challenge: String,
    redirect_uri: String,
    /// Token requests as `SERVICE GRANT`.
    grants: Vec<String>,
    /// The signed-in member administers two pages (one otherwise).
    two_pages: bool,
    /// API requests as `METHOD /path?query`.
    requests: Vec<String>,
    /// The JSON bodies of POSTs, by path.
    bodies: Vec<(String, serde_json::Value)>,
    /// Export checks answered so far; the first says "in progress".
    export_checks: u32,
    /// The next export fails (Canva's licence error).
    export_fails: bool,
}

type Shared = Arc<Mutex<Seen>>;

fn json(status: StatusCode, body: impl Into<String>) -> Response {
    (status, [("content-type", "application/json")], body.into()).into_response()
}

fn refused(error: &str) -> Response {
    json(StatusCode::BAD_REQUEST, serde_json::json!({"error": error, "error_description": "refused by the fake"}).to_string())
}

/// The token endpoints: LinkedIn takes the secret in the form body only,
/// Canva in HTTP Basic; both check the code, the redirect and PKCE.
fn token(seen: &mut Seen, service: &str, headers: &HeaderMap, body: &str) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes()).into_owned().collect();
    let grant = form.get("grant_type").cloned().unwrap_or_default();
    seen.grants.push(format!("{service} {grant}"));
    let basic = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let client_ok = match service {
        "linkedin" => {
            basic.is_empty()
                && form.get("client_id").map(String::as_str) == Some("li-client")
                && form.get("client_secret").map(String::as_str) == Some("li-secret")
        }
        _ => basic == format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("cv-client:cv-secret")) && !form.contains_key("client_secret"),
    };
    if !client_ok {
        return refused("invalid_client");
    }
    let code = if service == "linkedin" { "li-code" } else { "cv-code" };
    if grant != "authorization_code" || form.get("code").map(String::as_str) != Some(code) || form.get("redirect_uri") != Some(&seen.redirect_uri) {
        return refused("invalid_grant");
    }
    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
    if base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes())) != seen.challenge {
        return refused("invalid_grant");
    }
    let tokens = match service {
        "linkedin" => {
            serde_json::json!({"access_token": "li-at", "expires_in": 5_184_000, "scope": "r_organization_social,w_organization_social,rw_organization_admin"})
        }
        _ => {
            serde_json::json!({"access_token": "cv-at", "token_type": "Bearer", "expires_in": 14_400, "refresh_token": "cv-rt", "scope": "design:content:write design:content:read"})
        }
    };
    json(StatusCode::OK, tokens.to_string())
}

/// The page's posts: two in the past 7 days, one older.
fn recent_posts() -> String {
    let mut posts: serde_json::Value = serde_json::from_str(&connector_fixture("linkedin/posts_200.json")).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let today = now - now.rem_euclid(86_400_000);
    for (post, days_ago) in posts["elements"].as_array_mut().unwrap().iter_mut().zip([2, 5, 20]) {
        post["publishedAt"] = serde_json::json!(today - days_ago * 86_400_000 + 3_600_000);
    }
    posts.to_string()
}

async fn answer(State(seen): State<Shared>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let body = String::from_utf8_lossy(&body).into_owned();
    let mut seen = seen.lock().unwrap();
    let path = uri.path().to_owned();
    match path.as_str() {
        "/linkedin/token" => return token(&mut seen, "linkedin", &headers, &body),
        "/canva/token" => return token(&mut seen, "canva", &headers, &body),
        // The pre-signed download: no token.
        "/download/DAFVztcvd9z-1.png" if !headers.contains_key("authorization") => {
            seen.requests.push(format!("{method} {path}"));
            return (StatusCode::OK, [("content-type", "image/png")], PNG.to_vec()).into_response();
        }
        _ => {}
    }
    seen.requests.push(format!("{method} {}", uri.path_and_query().map(|p| p.as_str()).unwrap_or_default()));
    if method == Method::POST {
        seen.bodies.push((path.clone(), serde_json::from_str(&body).unwrap_or_default()));
    }
    let bearer = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
    if path.starts_with("/rest/v1/") {
        if bearer != "Bearer cv-at" {
            return json(StatusCode::UNAUTHORIZED, connector_fixture("canva/error_401.json"));
        }
        return match (method.as_str(), path.as_str()) {
            ("GET", "/rest/v1/users/me") => json(StatusCode::OK, connector_fixture("canva/users_me_200.json")),
            ("POST", "/rest/v1/designs") => json(StatusCode::OK, connector_fixture("canva/create_design_200.json")),
            ("POST", "/rest/v1/exports") => {
                seen.export_checks = 0;
                json(StatusCode::OK, connector_fixture("canva/create_export_200.json"))
            }
            ("GET", "/rest/v1/exports/e08861ae-3b29-45db-8dc1-1fe0bf7f1cc8") => {
                seen.export_checks += 1;
                if seen.export_fails {
                    json(StatusCode::OK, connector_fixture("canva/export_job_failed_200.json"))
                } else if seen.export_checks == 1 {
                    json(StatusCode::OK, connector_fixture("canva/export_job_in_progress_200.json"))
                } else {
                    let file = format!("{}/download/DAFVztcvd9z-1.png", seen.base);
                    json(
                        StatusCode::OK,
                        serde_json::json!({"job": {"id": "e08861ae-3b29-45db-8dc1-1fe0bf7f1cc8", "status": "success", "urls": [file]}}).to_string(),
                    )
                }
            }
            _ => json(StatusCode::NOT_FOUND, connector_fixture("canva/error_404.json")),
        };
    }
    let versioned = headers.get("linkedin-version").is_some_and(|v| v == "202610") && headers.get("x-restli-protocol-version").is_some_and(|v| v == "2.0.0");
    if bearer != "Bearer li-at" || !versioned {
        return json(StatusCode::UNAUTHORIZED, connector_fixture("linkedin/error_401.json"));
    }
    match (method.as_str(), path.as_str()) {
        ("GET", "/rest/organizationAcls") if seen.two_pages => json(StatusCode::OK, connector_fixture("linkedin/organization_acls_two_200.json")),
        ("GET", "/rest/organizationAcls") => json(StatusCode::OK, connector_fixture("linkedin/organization_acls_200.json")),
        ("GET", "/rest/posts") => json(StatusCode::OK, recent_posts()),
        ("GET", "/rest/organizationalEntityShareStatistics") => json(StatusCode::OK, connector_fixture("linkedin/share_statistics_200.json")),
        ("POST", "/rest/posts") => (StatusCode::CREATED, [("x-restli-id", "urn:li:share:7404999999999999999")], "").into_response(),
        _ => json(StatusCode::NOT_FOUND, "{}"),
    }
}

/// The fake on a loopback port, on its own runtime.
fn start(seen: Shared) -> String {
    browser::serve(Router::new().fallback(answer).with_state(seen))
}

/// Signs in to `service` through the CLI as the browser would.
fn sign_in(data: &std::path::Path, fake: &str, seen: &Shared, service: &str, extra: &[&str], stdin: &str) -> browser::SignedIn {
    let (client, code) = if service == "linkedin" { ("li-client", "li-code") } else { ("cv-client", "cv-code") };
    let endpoints = [format!("--base-url={fake}"), format!("--authorize-url={fake}/{service}/authorize"), format!("--token-url={fake}/{service}/token")];
    let args = [&["--client-id", client][..], &endpoints.iter().map(String::as_str).collect::<Vec<_>>(), extra].concat();
    browser::sign_in(data, service, &args, stdin, code, None, |_, query| {
        let mut seen = seen.lock().unwrap();
        seen.challenge = query["code_challenge"].clone();
        seen.redirect_uri = query["redirect_uri"].clone();
    })
}

fn new_asset(data: &std::path::Path, campaign: &str, kind: &str, sets: &[&str]) -> String {
    let mut args = vec!["--json", "asset", "add", "--campaign", campaign, "--kind", kind];
    for set in sets {
        args.extend(["--set", set]);
    }
    cli(data, &args, "").ok().json()["id"].as_str().unwrap().to_owned()
}

fn workspace_with_campaign(data: &std::path::Path, name: &str) -> (String, String) {
    let workspace = cli(data, &["--json", "workspace", "create", name], "").ok().json()["id"].as_str().unwrap().to_owned();
    let brand = data.join("brand.json");
    std::fs::write(&brand, serde_json::json!({"company": "Fernhill F1", "competitors": ["Brompton"]}).to_string()).unwrap();
    cli(data, &["workspace", "set-brand", &workspace, brand.to_str().unwrap()], "").ok();
    let campaign =
        cli(data, &["--json", "campaign", "create", "--workspace", &workspace, "--goal", "200 test rides", "--channel", "linkedin", "Winter"], "").ok().json();
    (workspace, campaign["id"].as_str().unwrap().to_owned())
}

#[test]
fn a_linkedin_post_is_published_once_as_the_organisation_and_the_page_feeds_the_signals() {
    require_keyring();
    let seen: Shared = Arc::default();
    let fake = start(seen.clone());
    seen.lock().unwrap().base = fake.clone();
    seen.lock().unwrap().two_pages = true;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();

    // LinkedIn issues confidential apps: without the secret, no sign-in starts.
    let unsigned = sign_in(data, &fake, &seen, "linkedin", &[], "");
    assert_eq!(unsigned.run.code, 2, "{}", unsigned.run.stderr);
    assert!(unsigned.run.stderr.contains("--client-secret-stdin") && unsigned.query.is_empty(), "{}", unsigned.run.stderr);
    let bad = sign_in(data, &fake, &seen, "linkedin", &["--organization", "acme"], "");
    assert!(bad.run.code == 2 && bad.run.stderr.contains("not a LinkedIn organisation id"), "{}", bad.run.stderr);

    let signed = sign_in(data, &fake, &seen, "linkedin", &["--client-secret-stdin"], "li-secret\n");
    signed.run.ok();
    assert_eq!(signed.query["scope"], "r_organization_social w_organization_social rw_organization_admin");
    assert_eq!(seen.lock().unwrap().grants, ["linkedin authorization_code"], "the secret went in the body, the verifier matched");
    let tested = cli(data, &["connectors", "test", "linkedin"], "").ok();
    assert!(
        tested.stdout.contains("urn:li:organization:2414183 (administrator)") && tested.stdout.contains("urn:li:organization:5515715"),
        "{}",
        tested.stdout
    );

    let (workspace, campaign) = workspace_with_campaign(data, "Fernhill");
    let text = "Fold it (really) in ten seconds. #commute";
    let asset = new_asset(data, &campaign, "linkedin_post", &[&format!("text={text}")]);
    let x_post = new_asset(data, &campaign, "x_post", &["text=Fold it."]);
    cli(data, &["asset", "set-status", &asset, "approved"], "").ok();
    cli(data, &["asset", "set-status", &x_post, "approved"], "").ok();

    // Two pages and none chosen: the user is asked which, nothing is posted.
    let which = cli(data, &["asset", "publish", &asset, "--to", "linkedin"], "");
    assert!(
        which.code != 0 && which.stderr.contains("administers 2 pages (2414183, 5515715)") && which.stderr.contains("--organization ID"),
        "{}",
        which.stderr
    );
    // With one workspace, the page became its on first use.
    let settings = std::fs::read_to_string(data.join("settings.toml")).unwrap();
    assert!(settings.contains(&format!("workspace = \"{workspace}\"")), "{settings}");
    let wrong_kind = cli(data, &["asset", "publish", &x_post, "--to", "linkedin"], "");
    assert!(wrong_kind.code != 0 && wrong_kind.stderr.contains("only a linkedin_post can be posted to LinkedIn"), "{}", wrong_kind.stderr);
    assert!(seen.lock().unwrap().bodies.is_empty());

    // The page is chosen without signing in again; bad options change nothing.
    for (args, says) in [
        (&["connectors", "set", "linkedin", "--organization", "acme"][..], "not a LinkedIn page id"),
        (&["connectors", "set", "x", "--organization", "2414183"][..], "only LinkedIn posts as a page, not x"),
        (&["connectors", "set", "linkedin", "--api-version", "2026"][..], "is not a version written YYYYMM"),
    ] {
        let refused = cli(data, args, "");
        assert!(refused.code != 0 && refused.stderr.contains(says), "{args:?}: {}", refused.stderr);
    }
    cli(data, &["connectors", "set", "linkedin", "--organization", "urn:li:organization:2414183"], "").ok();
    let published = cli(data, &["--json", "asset", "publish", &asset, "--to", "linkedin"], "").ok().json();
    assert_eq!(published["url"], "https://www.linkedin.com/feed/update/urn:li:share:7404999999999999999/", "{published}");
    let bodies = seen.lock().unwrap().bodies.clone();
    assert_eq!(bodies.len(), 1);
    assert_eq!(
        (bodies[0].1["author"].as_str(), bodies[0].1["commentary"].as_str()),
        (Some("urn:li:organization:2414183"), Some(r"Fold it \(really\) in ten seconds. \#commute"))
    );
    let shown = cli(data, &["--json", "asset", "show", &asset], "").ok().json();
    assert_eq!(shown["status"], "published");
    let again = cli(data, &["asset", "publish", &asset, "--to", "linkedin"], "");
    assert!(again.code != 0 && again.stderr.contains("was already posted"), "{}", again.stderr);
    assert_eq!(seen.lock().unwrap().bodies.len(), 1, "posted once");

    // A second brand: its posts do not go to the first brand's page.
    let (other, other_campaign) = workspace_with_campaign(data, "Kettle & Crane");
    let theirs = new_asset(data, &other_campaign, "linkedin_post", &["text=Another brand's news."]);
    cli(data, &["asset", "set-status", &theirs, "approved"], "").ok();
    let elsewhere = cli(data, &["asset", "publish", &theirs, "--to", "linkedin"], "");
    assert!(elsewhere.code != 0 && elsewhere.stderr.contains(&format!("the LinkedIn page belongs to workspace {workspace}")), "{}", elsewhere.stderr);
    assert_eq!(seen.lock().unwrap().bodies.len(), 1, "nothing was posted for the other brand");
    let other_sweep = cli(data, &["signals", "fetch", "--workspace", &other], "");
    assert!(other_sweep.code != 0 && other_sweep.stderr.contains(&format!("belongs to workspace {workspace}")), "{}", other_sweep.stderr);

    // The page's signals: yesterday's impressions and engagement, and its
    // posts a day over the past week; again the same day from the cache.
    seen.lock().unwrap().requests.clear();
    let swept = cli(data, &["--json", "signals", "fetch", "--workspace", &workspace], "").ok().json();
    let recorded: Vec<(&str, f64)> =
        swept["recorded"].as_array().unwrap().iter().map(|r| (r["series"].as_str().unwrap(), r["value"].as_f64().unwrap())).collect();
    assert_eq!(
        recorded,
        [("impressions/linkedin/2414183", 2000.0), ("engagement/linkedin/2414183", 4.25), ("posting-rate/linkedin/2414183", 2.0 / 7.0)],
        "{swept}"
    );
    assert_eq!(swept["calls_sent"], 2, "{swept}");
    let today = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64 / 86_400_000;
    let sent = seen.lock().unwrap().requests.clone();
    let range = format!("timeIntervals=(timeRange:(start:{},end:{}),timeGranularityType:DAY)", (today - 1) * 86_400_000, today * 86_400_000);
    assert!(sent.iter().any(|r| r.starts_with("GET /rest/organizationalEntityShareStatistics?") && r.ends_with(&range)), "{sent:?}");
    let repeat = cli(data, &["--json", "signals", "fetch", "--workspace", &workspace], "").ok().json();
    assert_eq!((repeat["calls_sent"].as_u64(), repeat["cache_hits"].as_u64()), (Some(0), Some(2)), "{repeat}");
    for secret in ["li-at", "li-secret", "li-code"] {
        assert!(files_containing(data, secret).is_empty(), "{secret} is in a file");
    }
}

#[test]
fn an_image_brief_becomes_a_canva_design_once_and_is_exported_to_a_file() {
    require_keyring();
    let seen: Shared = Arc::default();
    let fake = start(seen.clone());
    seen.lock().unwrap().base = fake.clone();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    // What changes while the sign-in waits for the browser is kept.
    let endpoints = [format!("--base-url={fake}"), format!("--authorize-url={fake}/canva/authorize"), format!("--token-url={fake}/canva/token")];
    let args = [&["--client-id", "cv-client", "--client-secret-stdin"][..], &endpoints.iter().map(String::as_str).collect::<Vec<_>>()].concat();
    browser::sign_in(data, "canva", &args, "cv-secret\n", "cv-code", None, |_, query| {
        let mut shared = seen.lock().unwrap();
        shared.challenge = query["code_challenge"].clone();
        shared.redirect_uri = query["redirect_uri"].clone();
        drop(shared);
        cli(data, &["connectors", "add", "newsapi", "--key-stdin"], "news-key\n").ok();
    })
    .run
    .ok();
    let listed = cli(data, &["connectors", "list", "--json"], "").ok().json();
    let configured: Vec<&str> = listed.as_array().unwrap().iter().filter(|c| c["configured"] == true).map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(configured, ["newsapi", "canva"], "{listed}");
    assert_eq!(seen.lock().unwrap().grants, ["canva authorization_code"], "the secret went in HTTP Basic, the verifier matched");
    let tested = cli(data, &["connectors", "test", "canva"], "").ok();
    assert!(tested.stdout.contains("Canva user auDAbliZ2rQNNOsUl5OLu"), "{}", tested.stdout);

    let (_, campaign) = workspace_with_campaign(data, "Fernhill");
    let concept = "A folded F1 under a café table, morning light";
    let brief = new_asset(data, &campaign, "image_brief", &[&format!("concept={concept}"), "aspect_ratio=4:5", "alt_text=A folded bike under a table"]);
    let post = new_asset(data, &campaign, "linkedin_post", &["text=Fold it."]);
    let out = dir.path().join("exports");

    // Nothing to export before the design; a post is not designed.
    let early = cli(data, &["asset", "export-design", &brief, "--out", out.to_str().unwrap()], "");
    assert!(early.code != 0 && early.stderr.contains("has no Canva design") && early.stderr.contains("raptorflow asset design"), "{}", early.stderr);
    let not_brief = cli(data, &["asset", "design", &post], "");
    assert!(not_brief.code != 0 && not_brief.stderr.contains("only an image_brief is designed in Canva"), "{}", not_brief.stderr);

    let made = cli(data, &["--json", "asset", "design", &brief], "").ok().json();
    assert_eq!((made["created"].as_bool(), made["size"].clone()), (Some(true), serde_json::json!([1080, 1350])), "{made}");
    assert!(made["design"]["edit_url"].as_str().unwrap().starts_with("https://www.canva.com/api/design/"), "{made}");
    let again = cli(data, &["--json", "asset", "design", &brief], "").ok().json();
    assert_eq!(again["created"], false, "the asset keeps its design: {again}");
    let bodies = seen.lock().unwrap().bodies.clone();
    // After the brief changed, a new design replaces it (the old one stays in Canva).
    cli(data, &["asset", "edit", &brief, "--set", "aspect_ratio=16:9"], "").ok();
    let anew = cli(data, &["--json", "asset", "design", &brief, "--new"], "").ok().json();
    assert_eq!((anew["created"].as_bool(), anew["size"].clone()), (Some(true), serde_json::json!([1920, 1080])), "{anew}");
    assert_eq!(seen.lock().unwrap().bodies.len(), 2);
    assert_eq!(
        bodies,
        [("/rest/v1/designs".to_owned(), serde_json::json!({"design_type": {"type": "custom", "width": 1080, "height": 1350}, "title": concept}))]
    );
    let shown = cli(data, &["--json", "asset", "show", &brief], "").ok().json();
    assert_eq!((shown["design"]["service"].as_str(), shown["design"]["id"].as_str()), (Some("canva"), Some("DAFVztcvd9z")), "{shown}");

    // A format Canva does not export is refused before anything is sent.
    let gif = cli(data, &["asset", "export-design", &brief, "--format", "gif", "--out", out.to_str().unwrap()], "");
    assert!(gif.code != 0 && gif.stderr.contains("--format") && gif.stderr.contains("png, jpg or pdf"), "{}", gif.stderr);

    seen.lock().unwrap().requests.clear();
    let exported = cli(data, &["asset", "export-design", &brief, "--format", "png", "--out", out.to_str().unwrap()], "").ok();
    let file = out.join(format!("{brief}.png"));
    let lines: Vec<&str> = exported.stdout.lines().collect();
    assert!(lines[0].starts_with("Canva is exporting design DAFVztcvd9z as png"), "{}", exported.stdout);
    assert_eq!(lines[1..], ["downloading page 1 of 1".to_owned(), format!("wrote {}", file.display())], "{}", exported.stdout);
    assert_eq!(std::fs::read(&file).unwrap(), PNG);
    let sent = seen.lock().unwrap().requests.clone();
    assert_eq!(
        sent,
        [
            "POST /rest/v1/exports",
            "GET /rest/v1/exports/e08861ae-3b29-45db-8dc1-1fe0bf7f1cc8",
            "GET /rest/v1/exports/e08861ae-3b29-45db-8dc1-1fe0bf7f1cc8",
            "GET /download/DAFVztcvd9z-1.png",
        ]
    );
    assert_eq!(seen.lock().unwrap().bodies.last().unwrap().1, serde_json::json!({"design_id": "DAFVztcvd9z", "format": {"type": "png"}}));

    // Canva's failure is said, and the earlier file is left as it was.
    seen.lock().unwrap().export_fails = true;
    let failed = cli(data, &["asset", "export-design", &brief, "--format", "pdf", "--out", out.to_str().unwrap()], "");
    assert!(failed.code != 0 && failed.stderr.contains("license_required") && failed.stderr.contains("nothing was written"), "{}", failed.stderr);
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 1);
    for secret in ["cv-at", "cv-rt", "cv-secret"] {
        assert!(files_containing(data, secret).is_empty(), "{secret} is in a file");
    }
}
