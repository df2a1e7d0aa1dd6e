//! The HTTP client `openidconnect` talks to providers with: Uma's reqwest and rustls (ring), with
//! no redirects followed (a provider's answer is taken as it is: following them would let a
//! discovery document send Uma anywhere), timeouts, and a cap on the size of an answer.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use openidconnect::{AsyncHttpClient, HttpRequest, HttpResponse};

/// Longest wait for a provider's answer.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest answer read (discovery documents and key sets are a few kilobytes).
const MAX_BODY: usize = 1024 * 1024;

/// Why a request to a provider failed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpError(String);

/// A cheap-to-clone client for providers.
#[derive(Debug, Clone)]
pub struct ProviderHttp(reqwest::Client);

impl ProviderHttp {
    /// A client trusting the public roots.
    pub fn new() -> Result<Self, String> {
        let tls =
            crate::tls::client_config(&crate::tls::TrustSettings::default(), &[b"h2", b"http/1.1"])
                .map_err(|e| e.to_string())?;
        reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(TIMEOUT)
            .user_agent(concat!("uma/", env!("CARGO_PKG_VERSION")))
            .build()
            .map(Self)
            .map_err(|e| e.to_string())
    }

    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let (parts, body) = request.into_parts();
        let mut resp = self
            .0
            .request(parts.method, parts.uri.to_string())
            .headers(parts.headers)
            .body(body)
            .send()
            .await
            .map_err(|e| HttpError(describe(&e)))?;
        let mut bytes = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| HttpError(describe(&e)))? {
            if bytes.len() + chunk.len() > MAX_BODY {
                return Err(HttpError(format!(
                    "the answer is larger than {MAX_BODY} bytes"
                )));
            }
            bytes.extend_from_slice(&chunk);
        }
        let mut out = http::Response::new(bytes);
        *out.status_mut() = resp.status();
        *out.headers_mut() = resp.headers().clone();
        Ok(out)
    }
}

/// A reqwest error with its causes, on one line.
fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

impl<'c> AsyncHttpClient<'c> for ProviderHttp {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}
