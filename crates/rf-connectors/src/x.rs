//! X API v2, signed in with OAuth 2.0 (user context): so far the signed-in
//! account (`GET /2/users/me`), which `connectors test x` calls. The access
//! token is the connector's key (a bearer token).
//!
//! Errors are problem documents, `{"title", "detail", "type", "status"}`.

use serde::{Deserialize, Serialize};

use crate::{
    ApiKey, ConnectorError, Service,
    gateway::{ApiRequest, Billing, Call, Dialect, Fetched, Gateway},
};

/// The signed-in account.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct User {
    pub id: String,
    pub name: String,
    pub username: String,
}

#[derive(Deserialize)]
struct Data<T> {
    data: T,
}

#[derive(Deserialize)]
struct Problem {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    detail: Option<String>,
}

pub(crate) struct X;

impl Dialect for X {
    fn authorize(request: reqwest::RequestBuilder, key: &ApiKey) -> reqwest::RequestBuilder {
        request.bearer_auth(key.expose())
    }

    fn detail(body: &str) -> String {
        match serde_json::from_str::<Problem>(body) {
            Ok(Problem { title: Some(title), detail }) => format!("{title}: {}", detail.unwrap_or_default()),
            _ => body.chars().take(200).collect(),
        }
    }

    fn classify(status: u16, body: &str) -> ConnectorError {
        let service = Service::X;
        let detail = Self::detail(body);
        match status {
            401 | 403 => ConnectorError::BadKey { service, detail },
            404 => ConnectorError::NotFound { service, detail },
            _ => ConnectorError::BadRequest { service, status, detail },
        }
    }
}

/// The account the tokens belong to.
pub async fn me(gateway: &Gateway, call: Call<'_>) -> Result<Fetched<User>, ConnectorError> {
    let request = ApiRequest { endpoint: "users-me", path: "2/users/me".into(), query: Vec::new(), billing: Billing::PerCall };
    gateway.fetch::<X, _>(call, &request, |body| serde_json::from_str::<Data<User>>(body).map(|d| d.data).map_err(|err| err.to_string())).await
}
