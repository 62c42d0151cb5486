//! A samod [`Dialer`] that opens the server's WebSocket with the sync token in
//! an `Authorization: Bearer` header.
//!
//! A refusal at the upgrade (bad or revoked token, not a member) is permanent:
//! retrying cannot help and the user has to act. Anything else (server down,
//! network gone) is transient and retried with samod's backoff; the last such
//! error is kept so that a caller who gives up can say why.

use std::{
    io,
    sync::{Arc, Mutex},
};

use futures::{SinkExt, StreamExt, TryStreamExt, future::BoxFuture};
use samod::{DialError, Dialer, Transport};
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest, http::HeaderValue};
use url::Url;

use crate::SyncToken;

/// Why the server refused the connection for good.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the sync server at {url} refused the connection ({status}): {message}")]
pub struct Refused {
    pub url: String,
    pub status: u16,
    pub message: String,
}

/// Dials `url` (a `ws://` or `wss://` URL ending in `/sync`) with a token.
#[derive(Debug)]
pub struct BearerDialer {
    url: Url,
    token: SyncToken,
    last_error: Arc<Mutex<Option<String>>>,
}

impl BearerDialer {
    pub fn new(url: Url, token: SyncToken) -> Self {
        Self { url, token, last_error: Arc::default() }
    }

    /// The most recent transient failure, if the last attempt failed.
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// A shared view of the last error that outlives moving the dialer into samod.
    pub fn last_error_slot(&self) -> Arc<Mutex<Option<String>>> {
        self.last_error.clone()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Transient(String);

fn refusal_message(body: Option<&[u8]>) -> String {
    body.and_then(serde_json_message).unwrap_or_else(|| "no reason given".to_owned())
}

/// The `message` of an [`ApiError`](crate::api::ApiError) body, if that is what it is.
fn serde_json_message(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Body {
        message: String,
    }
    serde_json::from_slice::<Body>(body).ok().map(|b| b.message)
}

impl Dialer for BearerDialer {
    type Error = Refused;

    fn url(&self) -> Url {
        self.url.clone()
    }

    fn connect(&self) -> BoxFuture<'static, Result<Transport, DialError<Refused>>> {
        let url = self.url.clone();
        let header = format!("Bearer {}", self.token.expose());
        let last_error = self.last_error.clone();
        Box::pin(async move {
            let set_last = |message: String| {
                *last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(message);
            };
            let mut request = url.as_str().into_client_request().map_err(|err| {
                let message = format!("invalid sync server URL {url}: {err}");
                set_last(message.clone());
                DialError::PermanentFailure(Refused { url: url.to_string(), status: 0, message })
            })?;
            let value = HeaderValue::from_str(&header).map_err(|_| {
                DialError::PermanentFailure(Refused { url: url.to_string(), status: 0, message: "the token cannot be sent as a header".into() })
            })?;
            request.headers_mut().insert("authorization", value);
            let socket = match tokio_tungstenite::connect_async(request).await {
                Ok((socket, _response)) => socket,
                Err(tungstenite::Error::Http(response)) => {
                    let status = response.status().as_u16();
                    let message = refusal_message(response.body().as_deref());
                    let refused = Refused { url: url.to_string(), status, message };
                    set_last(refused.to_string());
                    if matches!(status, 401 | 403 | 404) {
                        return Err(DialError::PermanentFailure(refused));
                    }
                    return Err(DialError::transient(Transient(refused.to_string())));
                }
                Err(err) => {
                    let message = format!("could not reach the sync server at {url}: {err}");
                    set_last(message.clone());
                    return Err(DialError::transient(Transient(message)));
                }
            };
            *last_error.lock().unwrap_or_else(|p| p.into_inner()) = None;
            let (sink, stream) = socket.split();
            let stream = stream
                .map_err(|err| io::Error::other(format!("websocket receive error: {err}")))
                .try_filter_map(|message| async move {
                    match message {
                        tungstenite::Message::Binary(bytes) => Ok(Some(bytes.to_vec())),
                        tungstenite::Message::Text(_) => Err(io::Error::other("the server sent a text frame; the protocol is binary")),
                        _ => Ok(None),
                    }
                })
                .boxed();
            let sink = sink
                .sink_map_err(|err| io::Error::other(format!("websocket send error: {err}")))
                .with(|bytes: Vec<u8>| futures::future::ready(Ok::<_, io::Error>(tungstenite::Message::Binary(bytes.into()))));
            Ok(Transport::new(stream, Box::pin(sink)))
        })
    }
}
