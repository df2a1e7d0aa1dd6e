//! The Proxmox VE client: token auth, the `{"data": …}` envelope, certificate trust from
//! [`crate::tls`], timeouts, and Proxmox's error text kept for the user.

pub mod models;
pub mod path;
pub mod props;
pub mod tasks;
pub mod vnc;

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use url::Url;

use crate::secret::Secret;
use crate::tls::{self, TrustSettings};
use path::ApiPath;

/// Errors talking to Proxmox.
#[derive(Debug, thiserror::Error)]
pub enum PveError {
    /// No connection, TLS failure or timeout.
    #[error("Proxmox is unreachable: {0}")]
    Unreachable(String),
    /// Proxmox answered with an error status; `message` is its own text.
    #[error("Proxmox answered {status}: {message}")]
    Status {
        /// HTTP status.
        status: u16,
        /// Proxmox's message (the reason phrase or body `message`).
        message: String,
    },
    /// The answer did not have the expected shape.
    #[error("unexpected answer from Proxmox: {0}")]
    Decode(String),
    /// The client could not be built.
    #[error("cannot set up the Proxmox client: {0}")]
    Setup(String),
}

/// Where and how to reach a cluster.
#[derive(Clone)]
pub struct PveEndpoint {
    /// Base URL, without `/api2/json`.
    pub url: Url,
    /// `USER@REALM!TOKENID`.
    pub token_id: String,
    /// The token's secret.
    pub token_secret: Secret,
    /// Certificate trust.
    pub trust: TrustSettings,
}

impl std::fmt::Debug for PveEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PveEndpoint")
            .field("url", &self.url.as_str())
            .field("token_id", &self.token_id)
            .field("token_secret", &self.token_secret)
            .field("trust", &self.trust)
            .finish()
    }
}

/// A cheap-to-clone Proxmox API client.
#[derive(Clone)]
pub struct PveClient {
    http: reqwest::Client,
    base: Url,
    /// The `Authorization` header value; it carries the token secret.
    auth: Secret,
    endpoint: PveEndpoint,
}

impl std::fmt::Debug for PveClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PveClient")
            .field("base", &self.base.as_str())
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

/// `GET /version`.
#[derive(Debug, Clone, Deserialize)]
pub struct Version {
    /// e.g. `9.1.3`.
    pub version: String,
    /// e.g. `9.1`.
    pub release: String,
}

/// Extra attempts of a read whose connection failed.
const GET_RETRIES: u32 = 2;

#[derive(Deserialize)]
struct Envelope<T> {
    data: T,
}

impl PveClient {
    /// Builds a client; does not connect.
    pub fn new(endpoint: PveEndpoint) -> Result<Self, PveError> {
        let tls = tls::client_config(&endpoint.trust, &[b"http/1.1"])
            .map_err(|e| PveError::Setup(e.to_string()))?;
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| PveError::Setup(e.to_string()))?;
        let mut base = endpoint.url.clone();
        base.set_path("/api2/json/");
        Ok(Self {
            http,
            base,
            auth: Secret::new(format!(
                "PVEAPIToken={}={}",
                endpoint.token_id,
                endpoint.token_secret.expose()
            )),
            endpoint,
        })
    }

    /// The endpoint this client talks to.
    pub fn endpoint(&self) -> &PveEndpoint {
        &self.endpoint
    }

    fn url(&self, path: &ApiPath, query: &[(&str, String)]) -> Result<url::Url, PveError> {
        let mut url = self.base.clone();
        {
            let mut segs = url
                .path_segments_mut()
                .map_err(|()| PveError::Setup("the Proxmox URL cannot take a path".into()))?;
            segs.pop_if_empty();
            segs.extend(path.segments());
        }
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        Ok(url)
    }

    async fn send<T: DeserializeOwned>(&self, req: reqwest::RequestBuilder) -> Result<T, PveError> {
        let resp = req
            .header(reqwest::header::AUTHORIZATION, self.auth.expose())
            .send()
            .await
            .map_err(|e| PveError::Unreachable(error_chain(&e)))?;
        let status = resp.status();
        if !status.is_success() {
            let reason = status.canonical_reason().unwrap_or("error").to_owned();
            let body: serde_json::Value = resp.json().await.unwrap_or_default();
            let message = body
                .get("message")
                .and_then(|m| m.as_str())
                .map(|m| m.trim_end().to_owned())
                .unwrap_or(reason);
            let mut message = message;
            if let Some(errors) = body.get("errors").and_then(|e| e.as_object()) {
                let details: Vec<String> = errors
                    .iter()
                    .map(|(k, v)| format!("{k}: {}", v.as_str().unwrap_or_default().trim_end()))
                    .collect();
                if !details.is_empty() {
                    message = format!("{message} ({})", details.join("; "));
                }
            }
            return Err(PveError::Status {
                status: status.as_u16(),
                message,
            });
        }
        let env: Envelope<T> = resp
            .json()
            .await
            .map_err(|e| PveError::Decode(e.to_string()))?;
        Ok(env.data)
    }

    /// `GET path` (relative to `/api2/json/`), unwrapping `data`.
    pub async fn get<T: DeserializeOwned>(&self, path: impl Into<ApiPath>) -> Result<T, PveError> {
        self.get_with(path, &[]).await
    }

    /// `GET path?query`. Reads are idempotent, so a connection failure is retried twice.
    pub async fn get_with<T: DeserializeOwned>(
        &self,
        path: impl Into<ApiPath>,
        query: &[(&str, String)],
    ) -> Result<T, PveError> {
        let url = self.url(&path.into(), query)?;
        let mut attempt = 0u32;
        loop {
            match self.send(self.http.get(url.clone())).await {
                Err(PveError::Unreachable(_)) if attempt < GET_RETRIES => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(150 * u64::from(attempt))).await;
                }
                other => return other,
            }
        }
    }

    /// `POST path` with form parameters, unwrapping `data` (a UPID for asynchronous calls).
    /// Never retried: Proxmox may have acted before the connection broke.
    pub async fn post<T: DeserializeOwned>(
        &self,
        path: impl Into<ApiPath>,
        form: &[(&str, String)],
    ) -> Result<T, PveError> {
        self.send(self.http.post(self.url(&path.into(), &[])?).form(form))
            .await
    }

    /// `PUT path` with form parameters.
    pub async fn put<T: DeserializeOwned>(
        &self,
        path: impl Into<ApiPath>,
        form: &[(&str, String)],
    ) -> Result<T, PveError> {
        self.send(self.http.put(self.url(&path.into(), &[])?).form(form))
            .await
    }

    /// `DELETE path?query` (Proxmox refuses a body on DELETE).
    pub async fn delete<T: DeserializeOwned>(
        &self,
        path: impl Into<ApiPath>,
        query: &[(&str, String)],
    ) -> Result<T, PveError> {
        self.send(self.http.delete(self.url(&path.into(), query)?))
            .await
    }

    /// `GET /cluster/resources`, optionally of one type (`vm`, `storage`, `node`, `pool`, `sdn`).
    pub async fn resources(&self, kind: Option<&str>) -> Result<Vec<models::Resource>, PveError> {
        match kind {
            Some(k) => {
                self.get_with("cluster/resources", &[("type", k.to_owned())])
                    .await
            }
            None => self.get("cluster/resources").await,
        }
    }

    /// `GET /version`: the cheapest authenticated call, used by readiness checks.
    pub async fn version(&self) -> Result<Version, PveError> {
        self.get("version").await
    }
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

impl From<PveError> for crate::error::AppError {
    /// Proxmox's own text reaches the user ("VM 100 is running - destroy failed"), with a status
    /// that says what kind of refusal it was.
    fn from(err: crate::pve::PveError) -> Self {
        use crate::error::ErrorCode;
        match err {
            PveError::Status { status, message } => {
                let code = match status {
                    400 => ErrorCode::InvalidInput,
                    403 => ErrorCode::Forbidden,
                    500 if message.contains("does not exist") => ErrorCode::NotFound,
                    500 => ErrorCode::Conflict,
                    401 | 501 => ErrorCode::UpstreamError,
                    _ => ErrorCode::Unavailable,
                };
                let message = match code {
                    // The service token itself was refused: not the user's doing.
                    ErrorCode::UpstreamError if status == 401 => {
                        "Proxmox refused Uma's API token; ask an administrator".to_owned()
                    }
                    _ => message,
                };
                Self::with_message(code, message)
            }
            PveError::Unreachable(detail) => Self {
                source: Some(anyhow::anyhow!(detail)),
                ..Self::with_message(ErrorCode::Unavailable, "Proxmox is unreachable right now")
            },
            other => Self {
                source: Some(other.into()),
                ..Self::with_message(
                    ErrorCode::UpstreamError,
                    "Proxmox gave an unexpected answer",
                )
            },
        }
    }
}

#[cfg(test)]
mod debug_tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn debug_output_never_shows_the_token_secret() {
        let secret = "6f1c2b9e-0d4e-4a1b-9c3d-5e6f7a8b9c0d";
        let client = PveClient::new(PveEndpoint {
            url: Url::parse("https://pve.example:8006").unwrap(),
            token_id: "root@pam!uma".into(),
            token_secret: Secret::new(secret),
            trust: TrustSettings::default(),
        })
        .unwrap();
        let shown = format!("{client:?} {:?} {client:#?}", client.endpoint());
        assert!(!shown.contains(secret), "{shown}");
        assert!(
            shown.contains("root@pam!uma"),
            "the token id helps: {shown}"
        );
    }
}
