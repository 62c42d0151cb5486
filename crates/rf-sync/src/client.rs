//! The client side of the JSON API beside `/sync` (with the `client`
//! feature): a server's address in its two forms, and the calls a device
//! makes before it dials the WebSocket — who a token belongs to, and
//! sharing a workspace's index document into an empty server workspace.

use std::time::Duration;

use crate::{
    SyncToken,
    api::{self, ApiError, SessionInfo, SetRoot},
};

/// How long one API call may take.
const API_TIMEOUT: Duration = Duration::from_secs(15);

/// Why the server could not be asked, or what it refused.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("invalid sync server URL {url:?}: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("could not reach the sync server at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("{url} does not look like a raptorflow-sync server: {detail}")]
    NotAServer { url: String, detail: String },
    #[error("the sync server at {url} refused the token: {message}")]
    Refused { url: String, status: u16, message: String },
}

/// A server address in the two forms we use: the HTTP base for the JSON API,
/// and the WebSocket URL of `/sync`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerUrl {
    pub base: url::Url,
    pub websocket: url::Url,
}

impl ServerUrl {
    /// Accepts `http(s)://host[:port][/prefix]` or the `ws(s)://` equivalent,
    /// with or without a trailing `/sync`.
    pub fn parse(text: &str) -> Result<Self, ClientError> {
        let bad = |reason: &str| ClientError::BadUrl { url: text.to_owned(), reason: reason.to_owned() };
        let mut base = url::Url::parse(text.trim()).map_err(|err| bad(&err.to_string()))?;
        let scheme = match base.scheme() {
            "http" | "ws" => "http",
            "https" | "wss" => "https",
            other => return Err(bad(&format!("the scheme must be http, https, ws or wss, not {other}"))),
        };
        if base.host_str().is_none_or(str::is_empty) {
            return Err(bad("it has no host"));
        }
        if base.query().is_some() || base.fragment().is_some() {
            return Err(bad("it must not have a query or fragment"));
        }
        let _ = base.set_scheme(scheme);
        let path = base.path().trim_end_matches('/').trim_end_matches(api::SYNC_PATH).trim_end_matches('/').to_owned();
        base.set_path(&path);
        let mut websocket = base.clone();
        let _ = websocket.set_scheme(if scheme == "https" { "wss" } else { "ws" });
        websocket.set_path(&format!("{path}{}", api::SYNC_PATH));
        Ok(Self { base, websocket })
    }

    fn api(&self, path: &str) -> String {
        format!("{}{path}", self.base.as_str().trim_end_matches('/'))
    }

    /// The address as users write it and as bindings store it.
    pub fn display(&self) -> String {
        self.base.as_str().trim_end_matches('/').to_owned()
    }
}

/// The JSON API of one server, over a given HTTP client (a Core shares one
/// across every server and provider).
#[derive(Debug, Clone)]
pub struct ApiClient {
    server: ServerUrl,
    http: reqwest::Client,
}

impl ApiClient {
    pub fn new(server: ServerUrl, http: reqwest::Client) -> Self {
        Self { server, http }
    }

    pub fn server(&self) -> &ServerUrl {
        &self.server
    }

    /// Who `token` belongs to, in which server workspace, with which role.
    pub async fn session(&self, token: &SyncToken) -> Result<SessionInfo, ClientError> {
        self.call(token, self.http.get(self.server.api(api::SESSION_PATH))).await
    }

    /// Makes `document` the server workspace's index document (owners only,
    /// and only while it has none); the session as it then stands.
    pub async fn put_root(&self, token: &SyncToken, document: &str) -> Result<SessionInfo, ClientError> {
        let request = self.http.put(self.server.api(api::ROOT_PATH)).json(&SetRoot { document: document.to_owned() });
        self.call(token, request).await
    }

    async fn call(&self, token: &SyncToken, request: reqwest::RequestBuilder) -> Result<SessionInfo, ClientError> {
        let url = self.server.display();
        let response = request
            .timeout(API_TIMEOUT)
            .bearer_auth(token.expose())
            .send()
            .await
            .map_err(|err| ClientError::Unreachable { url: url.clone(), reason: rf_domain::error_chain(&err) })?;
        let status = response.status();
        let body = response.bytes().await.map_err(|err| ClientError::Unreachable { url: url.clone(), reason: err.to_string() })?;
        if status.is_success() {
            return serde_json::from_slice(&body)
                .map_err(|err| ClientError::NotAServer { url, detail: format!("its answer to {} is not a session: {err}", api::SESSION_PATH) });
        }
        match serde_json::from_slice::<ApiError>(&body) {
            Ok(error) if matches!(status.as_u16(), 401 | 403) => Err(ClientError::Refused { url, status: status.as_u16(), message: error.message }),
            Ok(error) => Err(ClientError::NotAServer { url, detail: format!("{status}: {}", error.message) }),
            Err(_) => Err(ClientError::NotAServer { url, detail: format!("{} answered {status}", api::SESSION_PATH) }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, base: &str, websocket: &str) {
        let url = ServerUrl::parse(input).unwrap();
        assert_eq!((url.base.as_str(), url.websocket.as_str()), (base, websocket), "{input}");
    }

    #[test]
    fn server_urls_normalise() {
        check("http://127.0.0.1:7410", "http://127.0.0.1:7410/", "ws://127.0.0.1:7410/sync");
        check("ws://127.0.0.1:7410/sync", "http://127.0.0.1:7410/", "ws://127.0.0.1:7410/sync");
        check("https://sync.example.com/team/", "https://sync.example.com/team", "wss://sync.example.com/team/sync");
        check("wss://sync.example.com/team/sync/", "https://sync.example.com/team", "wss://sync.example.com/team/sync");
        for (bad, reason) in [("ftp://x", "scheme"), ("not a url", "relative URL"), ("http://x/?a=1", "query")] {
            let err = ServerUrl::parse(bad).unwrap_err().to_string();
            assert!(err.contains(reason), "{bad}: {err}");
        }
    }
}
