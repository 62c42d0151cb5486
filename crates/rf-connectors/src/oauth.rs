//! Signing in to X, LinkedIn and Canva: OAuth 2.0 authorization code with
//! PKCE (S256), the desktop convention of RFC 8252: RaptorFlow listens on a
//! loopback port, the user approves in their browser, the service redirects
//! there with a code, and the code and the PKCE verifier are exchanged for
//! tokens. Tokens are refreshed shortly before they expire. The protocol is
//! the `oauth2` crate's; this module adds the loopback redirect, the checks
//! and the errors. Where tokens are kept is the caller's business (rf-core
//! keeps them in the OS keyring).

use std::time::Duration;

use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge, RedirectUrl, RefreshToken, Scope, TokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
};

use crate::{ConnectorError, Service};

/// Refresh this long before the access token expires.
const REFRESH_MARGIN_MS: i64 = 60_000;

/// An app registered with the service by the user (their client id, and a
/// secret for services that require one), and the service's endpoints.
#[derive(Clone)]
pub struct OAuthApp {
    pub service: Service,
    pub client_id: String,
    pub client_secret: Option<String>,
    pub authorize_url: url::Url,
    pub token_url: url::Url,
    pub scopes: Vec<String>,
    /// Where the secret goes at the token endpoint.
    pub client_auth: crate::catalog::ClientAuth,
}

impl std::fmt::Debug for OAuthApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthApp")
            .field("service", &self.service)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "<redacted>"))
            .field("authorize_url", &self.authorize_url.as_str())
            .field("token_url", &self.token_url.as_str())
            .finish()
    }
}

/// What a sign-in gives: kept in the keyring, never shown.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
    /// When the access token expires (ms since the epoch), if the service said.
    pub expires_at_ms: Option<i64>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens").field("expires_at_ms", &self.expires_at_ms).field("refreshable", &self.refresh_token.is_some()).finish()
    }
}

impl Tokens {
    /// The access token is expired or about to be.
    pub fn needs_refresh(&self, now_ms: i64) -> bool {
        self.expires_at_ms.is_some_and(|at| at - REFRESH_MARGIN_MS <= now_ms)
    }
}

fn failed(service: Service, detail: impl Into<String>) -> ConnectorError {
    ConnectorError::SignIn { service, detail: detail.into() }
}

/// A token endpoint's answer (RFC 6749 section 5.1), read leniently:
/// LinkedIn leaves out `token_type`, which RFC 6749 requires and the
/// `oauth2` crate's standard answer insists on. Every service here issues
/// bearer tokens, so a missing or differently written type is taken as
/// bearer; `scope` (space- or comma-separated) is not read.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct TokenAnswer {
    access_token: oauth2::AccessToken,
    #[serde(skip_deserializing, default = "bearer")]
    token_type: oauth2::basic::BasicTokenType,
    #[serde(default)]
    expires_in: Option<u64>,
    #[serde(default)]
    refresh_token: Option<RefreshToken>,
}

fn bearer() -> oauth2::basic::BasicTokenType {
    oauth2::basic::BasicTokenType::Bearer
}

impl TokenResponse for TokenAnswer {
    type TokenType = oauth2::basic::BasicTokenType;

    fn access_token(&self) -> &oauth2::AccessToken {
        &self.access_token
    }

    fn token_type(&self) -> &Self::TokenType {
        &self.token_type
    }

    fn expires_in(&self) -> Option<Duration> {
        self.expires_in.map(Duration::from_secs)
    }

    fn refresh_token(&self) -> Option<&RefreshToken> {
        self.refresh_token.as_ref()
    }

    fn scopes(&self) -> Option<&Vec<Scope>> {
        None
    }
}

/// A client with its authorization and token endpoints set.
type Client = oauth2::Client<
    oauth2::basic::BasicErrorResponse,
    TokenAnswer,
    oauth2::basic::BasicTokenIntrospectionResponse,
    oauth2::StandardRevocableToken,
    oauth2::basic::BasicRevocationErrorResponse,
    oauth2::EndpointSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
>;

fn client(app: &OAuthApp, redirect: Option<&str>) -> Result<Client, ConnectorError> {
    let service = app.service;
    type Bare = oauth2::Client<
        oauth2::basic::BasicErrorResponse,
        TokenAnswer,
        oauth2::basic::BasicTokenIntrospectionResponse,
        oauth2::StandardRevocableToken,
        oauth2::basic::BasicRevocationErrorResponse,
    >;
    let mut client = Bare::new(ClientId::new(app.client_id.clone()))
        .set_auth_uri(AuthUrl::from_url(app.authorize_url.clone()))
        .set_token_uri(TokenUrl::from_url(app.token_url.clone()))
        // A public client (no secret) names itself in the body, with PKCE;
        // a confidential one as its service wants.
        .set_auth_type(match (&app.client_secret, app.client_auth) {
            (Some(_), crate::catalog::ClientAuth::Basic) => AuthType::BasicAuth,
            _ => AuthType::RequestBody,
        });
    if let Some(secret) = &app.client_secret {
        client = client.set_client_secret(ClientSecret::new(secret.clone()));
    }
    if let Some(redirect) = redirect {
        client = client.set_redirect_uri(RedirectUrl::new(redirect.to_owned()).map_err(|err| failed(service, err.to_string()))?);
    }
    Ok(client)
}

/// The HTTP client for token requests: no redirects followed (a token
/// endpoint that redirects is not followed with the code).
pub fn token_http_client() -> Result<reqwest::Client, ConnectorError> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|err| ConnectorError::Ledger(format!("could not make the HTTP client: {err}")))
}

fn tokens_of(token: &TokenAnswer, previous_refresh: Option<&str>, now_ms: i64) -> Tokens {
    Tokens {
        access_token: token.access_token().secret().clone(),
        // A refresh that returns no new refresh token keeps the old one.
        refresh_token: token.refresh_token().map(|r| r.secret().clone()).or_else(|| previous_refresh.map(str::to_owned)),
        expires_at_ms: token.expires_in().map(|d| now_ms + i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2)),
    }
}

fn token_error(service: Service, err: oauth2::RequestTokenError<oauth2::HttpClientError<reqwest::Error>, oauth2::basic::BasicErrorResponse>) -> ConnectorError {
    match err {
        oauth2::RequestTokenError::ServerResponse(response) => {
            let detail = format!("{}{}", response.error(), response.error_description().map(|d| format!(": {d}")).unwrap_or_default());
            failed(service, format!("the service refused the token request ({detail})"))
        }
        oauth2::RequestTokenError::Request(err) => failed(service, format!("could not reach the token endpoint: {err}")),
        oauth2::RequestTokenError::Parse(err, _) => failed(service, format!("the token endpoint's answer is not a token response: {err}")),
        oauth2::RequestTokenError::Other(detail) => failed(service, detail),
    }
}

/// A sign-in waiting for the browser's redirect.
pub struct PendingSignIn {
    app: OAuthApp,
    listener: TcpListener,
    redirect: String,
    state: CsrfToken,
    verifier: oauth2::PkceCodeVerifier,
    /// The address to open in the browser.
    pub authorize_url: url::Url,
}

/// Starts a sign-in: listens on `127.0.0.1:port` (0 picks a free port, for
/// services that accept any loopback port) and makes the authorization
/// address, with a fresh state and PKCE challenge.
pub async fn begin(app: &OAuthApp, port: u16) -> Result<PendingSignIn, ConnectorError> {
    let service = app.service;
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|err| failed(service, format!("could not listen on 127.0.0.1:{port} for the redirect ({err}); pick another port with --redirect-port")))?;
    let port = listener.local_addr().map_err(|err| failed(service, err.to_string()))?.port();
    let redirect = format!("http://127.0.0.1:{port}/callback");
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let client = client(app, Some(&redirect))?;
    let mut request = client.authorize_url(CsrfToken::new_random).set_pkce_challenge(challenge);
    for scope in &app.scopes {
        request = request.add_scope(Scope::new(scope.clone()));
    }
    let (authorize_url, state) = request.url();
    Ok(PendingSignIn { app: app.clone(), listener, redirect, state, verifier, authorize_url })
}

/// The query of the first `GET /callback` the listener receives; other
/// requests (a favicon) are answered 404 and the wait goes on.
async fn wait_for_redirect(listener: &TcpListener, service: Service) -> Result<(tokio::net::TcpStream, Vec<(String, String)>), ConnectorError> {
    loop {
        let (mut stream, _) = listener.accept().await.map_err(|err| failed(service, err.to_string()))?;
        let mut buffer = vec![0; 8192];
        let mut read = 0;
        while read < buffer.len() && !buffer[..read].windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buffer[read..]).await {
                Ok(0) | Err(_) => break,
                Ok(n) => read += n,
            }
        }
        let head = String::from_utf8_lossy(&buffer[..read]).into_owned();
        let target = head.lines().next().and_then(|line| line.split_whitespace().nth(1)).unwrap_or("");
        let url = url::Url::parse(&format!("http://127.0.0.1{target}")).ok();
        match url {
            Some(url) if url.path() == "/callback" => return Ok((stream, url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect())),
            _ => {
                let _ = stream.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await;
            }
        }
    }
}

async fn reply(stream: &mut tokio::net::TcpStream, status: &str, text: &str) {
    let body = format!("<!doctype html><meta charset=utf-8><title>RaptorFlow</title><p>{text}</p>");
    let response = format!("HTTP/1.1 {status}\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
    let _ = stream.write_all(response.as_bytes()).await;
}

impl std::fmt::Debug for PendingSignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingSignIn").field("service", &self.app.service).field("redirect", &self.redirect).finish_non_exhaustive()
    }
}

impl PendingSignIn {
    /// The redirect address the service must send the browser back to.
    pub fn redirect_uri(&self) -> &str {
        &self.redirect
    }

    /// Waits up to `timeout` for the redirect, checks its state, and
    /// exchanges the code (with the PKCE verifier) for tokens.
    pub async fn finish(self, http: &reqwest::Client, timeout: Duration, now_ms: impl Fn() -> i64) -> Result<Tokens, ConnectorError> {
        let service = self.app.service;
        let waited = tokio::time::timeout(timeout, wait_for_redirect(&self.listener, service)).await;
        let (mut stream, query) =
            waited.map_err(|_| failed(service, format!("no answer from the browser within {} s; nothing was stored", timeout.as_secs())))??;
        let value = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        if let Some(error) = value("error") {
            reply(&mut stream, "400 Bad Request", "The sign-in was not approved. You can close this window.").await;
            let description = value("error_description").map(|d| format!(": {d}")).unwrap_or_default();
            return Err(failed(service, format!("the service did not approve the sign-in ({error}{description})")));
        }
        if value("state").as_deref() != Some(self.state.secret().as_str()) {
            reply(&mut stream, "400 Bad Request", "This answer does not belong to the sign-in RaptorFlow started. You can close this window.").await;
            return Err(failed(service, "the redirect's state did not match the sign-in that was started (a stale or forged answer); nothing was stored"));
        }
        let Some(code) = value("code") else {
            reply(&mut stream, "400 Bad Request", "The answer carried no authorization code. You can close this window.").await;
            return Err(failed(service, "the redirect carried no authorization code"));
        };
        let client = client(&self.app, Some(&self.redirect))?;
        let exchanged = client.exchange_code(AuthorizationCode::new(code)).set_pkce_verifier(self.verifier).request_async(http).await;
        match exchanged {
            Ok(token) => {
                reply(&mut stream, "200 OK", "RaptorFlow is signed in. You can close this window.").await;
                Ok(tokens_of(&token, None, now_ms()))
            }
            Err(err) => {
                reply(&mut stream, "502 Bad Gateway", "The sign-in failed; RaptorFlow says why. You can close this window.").await;
                Err(token_error(service, err))
            }
        }
    }
}

/// New tokens for `tokens` (with their refresh token).
pub async fn refresh(app: &OAuthApp, http: &reqwest::Client, tokens: &Tokens, now_ms: i64) -> Result<Tokens, ConnectorError> {
    let service = app.service;
    let refresh = tokens.refresh_token.as_deref().ok_or_else(|| {
        failed(service, format!("the access token expired and there is no refresh token: sign in again with `raptorflow connectors auth {service}`"))
    })?;
    let client = client(app, None)?;
    let token = client.exchange_refresh_token(&RefreshToken::new(refresh.to_owned())).request_async(http).await.map_err(|err| token_error(service, err))?;
    Ok(tokens_of(&token, Some(refresh), now_ms))
}
