//! Signing in to X with OAuth 2.0 and PKCE, end to end through the CLI,
//! against a local fake authorization server that checks what a real one
//! checks (the client id, the redirect address, the code, and that the
//! code verifier hashes to the challenge the authorization address
//! carried) and a fake X API that accepts only a fresh access token. The
//! test plays the browser: it opens the printed address's redirect with a
//! code, as the service would after the user approved.

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
    process::Command,
    sync::{Arc, Mutex},
};

use axum::{
    Form, Router,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use base64::Engine as _;
use cli_support::{cli, files_containing};
use fake_provider::connector_fixture;
use harness::{Run, binary, require_keyring};
use sha2::Digest as _;

#[derive(Default)]
struct Seen {
    /// The PKCE challenge of the sign-in under way (from the address).
    challenge: String,
    redirect_uri: String,
    grants: Vec<String>,
    bearers: Vec<String>,
    /// The X API requests after sign-in, as `METHOD /path`.
    requests: Vec<String>,
    /// The bodies of `POST /2/tweets`.
    posts: Vec<serde_json::Value>,
    /// A post with "flaky" in it got a 503 once already.
    flaky_failed: bool,
}

type Shared = Arc<Mutex<Seen>>;

fn json(status: StatusCode, body: serde_json::Value) -> Response {
    (status, [("content-type", "application/json")], body.to_string()).into_response()
}

async fn token(State(seen): State<Shared>, Form(form): Form<HashMap<String, String>>) -> Response {
    let mut seen = seen.lock().unwrap();
    let grant = form.get("grant_type").cloned().unwrap_or_default();
    seen.grants.push(grant.clone());
    let refused = |error: &str, description: &str| json(StatusCode::BAD_REQUEST, serde_json::json!({"error": error, "error_description": description}));
    match grant.as_str() {
        "authorization_code" => {
            if form.get("client_id").map(String::as_str) != Some("cid-123") {
                return refused("invalid_client", "unknown client");
            }
            if form.get("code").map(String::as_str) != Some("code-123") || form.get("redirect_uri") != Some(&seen.redirect_uri) {
                return refused("invalid_grant", "wrong code or redirect");
            }
            let verifier = form.get("code_verifier").cloned().unwrap_or_default();
            let hashed = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
            if hashed != seen.challenge {
                return refused("invalid_grant", "the code verifier does not match the challenge");
            }
            // Expires at once: the next call must refresh.
            json(
                StatusCode::OK,
                serde_json::json!({"access_token": "at-1", "token_type": "bearer", "expires_in": 1, "refresh_token": "rt-1", "scope": "tweet.read users.read offline.access"}),
            )
        }
        "refresh_token" if form.get("refresh_token").map(String::as_str) == Some("rt-1") => {
            json(StatusCode::OK, serde_json::json!({"access_token": "at-2", "token_type": "bearer", "expires_in": 7200, "refresh_token": "rt-2"}))
        }
        _ => refused("invalid_grant", "unknown grant or refresh token"),
    }
}

async fn me(State(seen): State<Shared>, headers: HeaderMap) -> Response {
    let bearer = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    seen.lock().unwrap().bearers.push(bearer.clone());
    if bearer == "Bearer at-2" {
        (StatusCode::OK, [("content-type", "application/json")], connector_fixture("x/users_me_200.json")).into_response()
    } else {
        (StatusCode::UNAUTHORIZED, [("content-type", "application/json")], connector_fixture("x/error_401.json")).into_response()
    }
}

/// The X API's answers in its documented shapes, for the fresh token only.
async fn x_api(State(seen): State<Shared>, method: axum::http::Method, uri: axum::http::Uri, headers: HeaderMap, body: String) -> Response {
    // A slow answer keeps a post in flight, for the race between processes.
    if body.contains("slow") {
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    }
    let bearer = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let path = uri.path().to_owned();
    let mut seen = seen.lock().unwrap();
    seen.requests.push(format!("{method} {path}"));
    if bearer != "Bearer at-2" {
        return (StatusCode::UNAUTHORIZED, [("content-type", "application/json")], connector_fixture("x/error_401.json")).into_response();
    }
    let (status, fixture) = match (method.as_str(), path.as_str()) {
        ("POST", "/2/tweets") => {
            seen.posts.push(serde_json::from_str(&body).unwrap_or_default());
            if body.contains("flaky") && !seen.flaky_failed {
                seen.flaky_failed = true;
                (StatusCode::SERVICE_UNAVAILABLE, "x/error_503.json")
            } else {
                (StatusCode::CREATED, "x/create_post_201.json")
            }
        }
        ("GET", "/2/tweets/search/recent") => (StatusCode::OK, "x/search_recent_200.json"),
        ("GET", "/2/users/by/username/Brompton") => (StatusCode::OK, "x/user_by_username_200.json"),
        ("GET", p) if p.starts_with("/2/users/by/username/") => (StatusCode::OK, "x/user_not_found_200.json"),
        ("GET", "/2/users/2244994945/tweets") => (StatusCode::OK, "x/user_posts_200.json"),
        _ => return (StatusCode::NOT_FOUND, "{}").into_response(),
    };
    (status, [("content-type", "application/json")], connector_fixture(fixture)).into_response()
}

/// The fake service on a loopback port, on its own runtime.
fn start(seen: Shared) -> String {
    browser::serve(
        Router::new()
            .route("/token", post(token))
            .route("/2/users/me", get(me))
            .route("/2/tweets", post(x_api))
            .route("/2/tweets/search/recent", get(x_api))
            .route("/2/users/by/username/{username}", get(x_api))
            .route("/2/users/{id}/tweets", get(x_api))
            .with_state(seen),
    )
}

/// Runs `connectors auth x` and, as the browser, follows its address with
/// `state` (the address's own when `None`); returns the CLI's run and the
/// page the redirect showed.
fn sign_in(data: &std::path::Path, fake: &str, seen: &Shared, state: Option<&str>) -> (Run, String) {
    let endpoints = [&format!("--base-url={fake}"), &format!("--authorize-url={fake}/authorize"), &format!("--token-url={fake}/token")];
    let args = [&["--client-id", "cid-123"][..], &endpoints.map(String::as_str)].concat();
    let signed = browser::sign_in(data, "x", &args, "", "code-123", state, |address, query| {
        assert_eq!(address.path(), "/authorize");
        assert_eq!((query["response_type"].as_str(), query["client_id"].as_str(), query["code_challenge_method"].as_str()), ("code", "cid-123", "S256"));
        assert_eq!(query["scope"], "tweet.read tweet.write users.read offline.access");
        assert!(query["redirect_uri"].starts_with("http://127.0.0.1:") && query["redirect_uri"].ends_with("/callback"), "{address}");
        let mut seen = seen.lock().unwrap();
        seen.challenge = query["code_challenge"].clone();
        seen.redirect_uri = query["redirect_uri"].clone();
    });
    assert!(!signed.query.is_empty(), "the CLI ended before printing the address: {} {}", signed.run.stdout, signed.run.stderr);
    (signed.run, signed.page)
}

#[test]
fn x_sign_in_checks_pkce_and_state_keeps_tokens_in_the_keyring_and_refreshes_them() {
    require_keyring();
    let seen: Shared = Arc::default();
    let fake = start(seen.clone());
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();

    // Before signing in: clear refusals.
    let run = cli(data, &["connectors", "add", "x", "--key-stdin"], "k\n");
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("`raptorflow connectors auth x --client-id ID`"), "{}", run.stderr);
    let run = cli(data, &["connectors", "test", "x"], "");
    assert!(run.stderr.contains("connector x is not configured"), "{}", run.stderr);

    let (run, page) = sign_in(data, &fake, &seen, None);
    let run = run.ok();
    assert!(run.stdout.contains("signed in to x; the tokens are in the OS keyring"), "{}", run.stdout);
    assert!(page.contains("RaptorFlow is signed in"), "{page}");
    assert_eq!(seen.lock().unwrap().grants, ["authorization_code"], "the verifier matched the challenge");

    // The access token expired at once: the first call refreshes it, the
    // second uses the new one.
    let test = cli(data, &["connectors", "test", "x"], "").ok();
    assert!(test.stdout.contains("@fernhillcoffee (Fernhill Coffee)"), "{}", test.stdout);
    cli(data, &["connectors", "test", "x"], "").ok();
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.grants, ["authorization_code", "refresh_token"]);
        assert_eq!(seen.bearers, ["Bearer at-2", "Bearer at-2"], "only the refreshed token was sent");
    }
    for secret in ["at-1", "at-2", "rt-1", "rt-2", "code-123"] {
        let leaked = files_containing(data, secret);
        assert!(leaked.is_empty(), "{secret} is in {leaked:?}");
        assert!(!test.stdout.contains(secret) && !test.stderr.contains(secret) && !run.stdout.contains(secret));
    }
    let listed = cli(data, &["connectors", "list", "--json"], "").ok().json();
    let x = listed.as_array().unwrap().iter().find(|c| c["name"] == "x").unwrap().clone();
    assert_eq!((x["configured"].as_bool(), x["has_key"].as_bool(), x["last_outcome"].as_str()), (Some(true), Some(true), Some("ok")));

    // An answer with another state is refused and changes nothing.
    let (forged, page) = sign_in(data, &fake, &seen, Some("forged"));
    assert_eq!(forged.code, 2, "{}", forged.stderr);
    assert!(forged.stderr.contains("the redirect's state did not match"), "{}", forged.stderr);
    assert!(page.contains("does not belong to the sign-in"), "{page}");
    assert_eq!(seen.lock().unwrap().grants.len(), 2, "no code was exchanged");
    cli(data, &["connectors", "test", "x"], "").ok();

    // Offline-only: no sign-in.
    let offline = Command::new(binary("raptorflow"))
        .args(["--data-dir", data.to_str().unwrap(), "--user", "ana", "connectors", "auth", "x", "--client-id", "cid-123", "--redirect-port", "0"])
        .env("RAPTORFLOW_PRIVACY", "offline-only")
        .output()
        .unwrap();
    let offline = Run::of(offline);
    assert_eq!(offline.code, 2, "{}", offline.stderr);
    assert!(offline.stderr.contains("privacy mode offline-only"), "{}", offline.stderr);

    // Removing the connector deletes its tokens.
    cli(data, &["connectors", "remove", "x"], "").ok();
    let run = cli(data, &["connectors", "test", "x"], "");
    assert!(run.stderr.contains("connector x is not configured"), "{}", run.stderr);
}

#[test]
fn an_approved_x_post_is_published_once_and_x_feeds_the_market_signals() {
    require_keyring();
    let seen: Shared = Arc::default();
    let fake = start(seen.clone());
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    sign_in(data, &fake, &seen, None).0.ok();

    let workspace = cli(data, &["--json", "workspace", "create", "Fernhill"], "").ok().json()["id"].as_str().unwrap().to_owned();
    let brand = data.join("brand.json");
    let codex = serde_json::json!({"company": "Fernhill F1", "competitors": ["Brompton (@Brompton): folding bikes", "Nosuch (@nosuchshop)"]});
    std::fs::write(&brand, codex.to_string()).unwrap();
    cli(data, &["workspace", "set-brand", &workspace, brand.to_str().unwrap()], "").ok();
    let campaign =
        cli(data, &["--json", "campaign", "create", "--workspace", &workspace, "--goal", "200 test rides", "--channel", "x", "Winter"], "").ok().json();
    let campaign = campaign["id"].as_str().unwrap().to_owned();
    let text = "Fold it in ten seconds, carry it onto the train, ride the last mile.";
    let asset = cli(data, &["--json", "asset", "add", "--campaign", &campaign, "--kind", "x_post", "--set", &format!("text={text}")], "").ok().json();
    let asset = asset["id"].as_str().unwrap().to_owned();

    // A draft is not posted; nothing is sent.
    let refused = cli(data, &["asset", "publish", &asset, "--to", "x"], "");
    assert_ne!(refused.code, 0);
    assert!(refused.stderr.contains("it is posted only once approved"), "{}", refused.stderr);
    assert!(seen.lock().unwrap().posts.is_empty());

    // Approved, it is posted once, and the asset keeps the post's address.
    cli(data, &["asset", "set-status", &asset, "approved"], "").ok();
    let published = cli(data, &["--json", "asset", "publish", &asset, "--to", "x"], "").ok().json();
    assert_eq!(published["url"], "https://x.com/i/web/status/1866612345678901248", "{published}");
    assert_eq!(seen.lock().unwrap().posts, [serde_json::json!({ "text": text })]);
    let shown = cli(data, &["--json", "asset", "show", &asset], "").ok().json();
    assert_eq!((shown["status"].as_str(), shown["published_url"].as_str()), (Some("published"), Some("https://x.com/i/web/status/1866612345678901248")));
    let again = cli(data, &["asset", "publish", &asset, "--to", "x"], "");
    assert!(again.code != 0 && again.stderr.contains("was already posted, at https://x.com/i/web/status/1866612345678901248"), "{}", again.stderr);
    // Set back to approved, it is still not posted twice.
    cli(data, &["asset", "set-status", &asset, "approved"], "").ok();
    let reapproved = cli(data, &["asset", "publish", &asset, "--to", "x"], "");
    assert!(reapproved.code != 0 && reapproved.stderr.contains("was already posted"), "{}", reapproved.stderr);
    let elsewhere = cli(data, &["asset", "publish", &asset, "--to", "linkedin"], "");
    assert!(elsewhere.code != 0 && elsewhere.stderr.contains("only a linkedin_post can be posted to LinkedIn"), "{}", elsewhere.stderr);
    let nowhere = cli(data, &["asset", "publish", &asset, "--to", "canva"], "");
    assert!(nowhere.code != 0 && nowhere.stderr.contains("only X and LinkedIn posts can be published so far"), "{}", nowhere.stderr);
    assert_eq!(seen.lock().unwrap().posts.len(), 1, "posted once");

    // X answers 503: the post may be out. It is not sent again until the
    // user says they checked the account.
    let flaky =
        cli(data, &["--json", "asset", "add", "--campaign", &campaign, "--kind", "x_post", "--set", "text=A flaky morning, a folded bike."], "").ok().json();
    let flaky = flaky["id"].as_str().unwrap().to_owned();
    cli(data, &["asset", "set-status", &flaky, "approved"], "").ok();
    let lost = cli(data, &["asset", "publish", &flaky, "--to", "x"], "");
    assert!(lost.code != 0 && lost.stderr.contains("may or may not have published it"), "{}", lost.stderr);
    let retry = cli(data, &["asset", "publish", &flaky, "--to", "x"], "");
    assert!(retry.code != 0 && retry.stderr.contains("no confirmation came back") && retry.stderr.contains("--checked"), "{}", retry.stderr);
    assert_eq!(seen.lock().unwrap().posts.len(), 2, "the retry sent nothing");
    cli(data, &["asset", "publish", &flaky, "--to", "x", "--checked"], "").ok();
    assert_eq!(seen.lock().unwrap().posts.len(), 3);

    // Two processes (the CLI twice, or the CLI and the app) publishing the
    // same asset at once: the data folder's lock lets one post, and the
    // other then finds the post in the ledger.
    let slow =
        cli(data, &["--json", "asset", "add", "--campaign", &campaign, "--kind", "x_post", "--set", "text=A slow morning, two windows open."], "").ok().json();
    let slow = slow["id"].as_str().unwrap().to_owned();
    cli(data, &["asset", "set-status", &slow, "approved"], "").ok();
    let racers: Vec<_> = (0..2)
        .map(|_| {
            let (data, slow) = (data.to_owned(), slow.clone());
            std::thread::spawn(move || cli(&data, &["asset", "publish", &slow, "--to", "x"], ""))
        })
        .collect();
    let runs: Vec<Run> = racers.into_iter().map(|racer| racer.join().unwrap()).collect();
    assert_eq!(runs.iter().filter(|run| run.code == 0).count(), 1, "{:?}", runs.iter().map(|r| &r.stderr).collect::<Vec<_>>());
    let loser = runs.iter().find(|run| run.code != 0).unwrap();
    // Refused by the ledger's row of the post, or by the asset's address.
    assert!(loser.stderr.contains("X confirmed it") || loser.stderr.contains("was already posted"), "{}", loser.stderr);
    assert_eq!(seen.lock().unwrap().posts.len(), 4, "one post for the two processes");

    // The market signals: mentions on X of the company and each competitor
    // since yesterday, and the posting rate of the competitor named with its
    // handle; an unknown handle is the sweep's problem, not its end.
    seen.lock().unwrap().requests.clear();
    let first = cli(data, &["--json", "signals", "fetch", "--workspace", &workspace], "").ok().json();
    let recorded: Vec<(&str, f64)> =
        first["recorded"].as_array().unwrap().iter().map(|r| (r["series"].as_str().unwrap(), r["value"].as_f64().unwrap())).collect();
    assert_eq!(
        recorded,
        [("mentions/x/Fernhill F1", 2.0), ("mentions/x/Brompton", 2.0), ("mentions/x/Nosuch", 2.0), ("posting-rate/x/Brompton", 3.0 / 7.0)],
        "{first}"
    );
    let problems = first["problems"].to_string();
    assert!(problems.contains("@nosuchshop") && problems.contains("Could not find user"), "{problems}");
    assert_eq!(first["calls_sent"], 5, "three searches, one account and its posts: {first}");
    let sent = seen.lock().unwrap().requests.clone();
    assert_eq!(sent.iter().filter(|r| r.as_str() == "GET /2/tweets/search/recent").count(), 3, "{sent:?}");
    // Again the same day: answered from the cache (the unknown handle is asked again: a failure is not cached).
    let repeat = cli(data, &["--json", "signals", "fetch", "--workspace", &workspace], "").ok().json();
    assert_eq!((repeat["calls_sent"].as_u64(), repeat["cache_hits"].as_u64()), (Some(0), Some(5)), "{repeat}");
    assert_eq!(seen.lock().unwrap().requests.len(), sent.len() + 1, "only the unknown handle was asked again");
    let shown = cli(data, &["--json", "signals", "show", "--workspace", &workspace, "posting-rate/x/Brompton"], "").ok().json();
    assert_eq!(shown["points"][0]["evidence"]["posts"], 3, "{shown}");
}
