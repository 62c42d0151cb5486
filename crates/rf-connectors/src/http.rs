//! Sending a request with retries: 408, 429 and 5xx answers and network
//! failures are retried with backoff and jitter, honouring `Retry-After`
//! (rf-cloud's policy and helpers, shared with the chat providers).

use rf_cloud::{HttpPolicy, retry_after, retry_after_or_backoff};

use crate::{ConnectorError, Service};

/// The final answer to a request: a success, or an error status that is not
/// worth retrying (the connector reads the vendor's error body).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    /// The body as text (invalid UTF-8 replaced).
    pub body: String,
    /// The body as sent (a downloaded file).
    pub bytes: Vec<u8>,
}

/// Sends what `build` makes, retrying as the policy allows. `detail` turns
/// an error body into a short explanation for the messages; `is_final`
/// says an answer that would be retried is not worth it (a 429 that means
/// the month's quota is spent).
pub async fn send(
    service: Service,
    policy: &HttpPolicy,
    build: impl Fn() -> reqwest::RequestBuilder,
    detail: impl Fn(&str) -> String,
    is_final: impl Fn(u16, &str) -> bool,
) -> Result<Reply, ConnectorError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let request = build();
        let url = request.try_clone().and_then(|r| r.build().ok()).map(|r| redact(r.url())).unwrap_or_default();
        let sent = tokio::time::timeout(policy.response_timeout, request.send()).await;
        let retry_in = match sent {
            Err(_) | Ok(Err(_)) if attempt < policy.max_attempts => None,
            Err(_) => {
                let detail = format!("no answer within {} s", policy.response_timeout.as_secs());
                return Err(ConnectorError::Unreachable { service, url, attempts: attempt, detail });
            }
            // Without the URL, whose query may hold a key (Semrush's).
            Ok(Err(err)) => return Err(ConnectorError::Unreachable { service, url, attempts: attempt, detail: err.without_url().to_string() }),
            Ok(Ok(response)) => {
                let status = response.status().as_u16();
                let headers = response.headers().clone();
                let wait = retry_after(&headers);
                let bytes = tokio::time::timeout(policy.idle_timeout, response.bytes()).await.ok().and_then(Result::ok).unwrap_or_default().to_vec();
                let body = String::from_utf8_lossy(&bytes).into_owned();
                let retryable = (matches!(status, 408 | 429) || status >= 500) && !is_final(status, &body);
                if !retryable {
                    return Ok(Reply { status, headers, body, bytes });
                }
                let too_long = wait.is_some_and(|wait| wait > policy.max_retry_after);
                if too_long || attempt >= policy.max_attempts {
                    let detail = detail(&body);
                    return Err(if status == 429 {
                        ConnectorError::RateLimited { service, attempts: attempt, detail, retry_after: wait }
                    } else {
                        ConnectorError::Server { service, status, attempts: attempt, detail }
                    });
                }
                tracing::debug!(%service, status, attempt, "retrying");
                wait
            }
        };
        tokio::time::sleep(retry_after_or_backoff(retry_in, policy, attempt)).await;
    }
}

/// The URL without its query, which may carry a key.
fn redact(url: &url::Url) -> String {
    let mut url = url.clone();
    url.set_query(None);
    url.to_string()
}
