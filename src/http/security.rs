//! Security headers of the original's middleware table on every response, and a fresh CSP nonce
//! per request (templates put it on their script tags).

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;
use rand::RngCore;

use std::sync::Arc;

use crate::config::Config;

/// The CSP nonce of a request, in its extensions.
#[derive(Debug, Clone)]
pub struct CspNonce(pub String);

/// Adds the security headers; the CSP carries this request's nonce.
pub async fn headers(State(config): State<Arc<Config>>, mut req: Request, next: Next) -> Response {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    let nonce = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    req.extensions_mut().insert(CspNonce(nonce.clone()));
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost")
        .to_owned();
    let peer = crate::auth::client::peer_of(req.extensions());
    let https = is_https(&config, peer, req.headers());
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        "referrer-policy",
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    h.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(), microphone=(), geolocation=(), browsing-topics=()"),
    );
    if https {
        h.insert(
            "strict-transport-security",
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    // A route with its own, stricter policy (uploaded files) keeps it.
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        if let Ok(v) = HeaderValue::from_str(&csp(&config, &nonce, &host)) {
            h.insert(header::CONTENT_SECURITY_POLICY, v);
        }
    }
    resp
}

/// Headers of a file served as it is (an upload, a proxied picture): its true type, no script
/// or frame from it, readable by this site only, cached privately for `max_age` seconds
/// (`immutable` when its address never changes).
pub fn inert_file(h: &mut HeaderMap, content_type: &'static str, max_age: &'static str) {
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox",
        ),
    );
    h.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(max_age));
}

/// Served over HTTPS: the configured origin is https, or the trusted proxy the request came
/// through says so.
fn is_https(config: &Config, peer: Option<std::net::IpAddr>, headers: &HeaderMap) -> bool {
    let origin_https = config
        .web
        .app_origin
        .as_ref()
        .is_some_and(|o| o.scheme() == "https");
    let forwarded = crate::auth::client::from_trusted_proxy(config, peer)
        && headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"));
    origin_https || forwarded
}

/// The Content-Security-Policy of the original, with `connect-src` limited to this origin and its
/// WebSocket endpoints (the Socket.IO path and the VNC proxy).
pub fn csp(config: &Config, nonce: &str, host: &str) -> String {
    let host = host
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '-' | '[' | ']'))
        .collect::<String>();
    let ws = if config.server.production {
        format!("wss://{host}/api/socket/io/ wss://{host}/api/proxy/vnc")
    } else {
        format!(
            "ws://{host}/api/socket/io/ wss://{host}/api/socket/io/ ws://{host}/api/proxy/vnc wss://{host}/api/proxy/vnc"
        )
    };
    let mut img = String::from("'self' data: blob:");
    for h in &config.web.image_remote_hosts {
        if h.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '*' | ':'))
        {
            img.push_str(" https://");
            img.push_str(h);
        }
    }
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; img-src {img}; font-src 'self' data:; connect-src 'self' {ws}; worker-src 'self' blob:; frame-ancestors 'none'; object-src 'none'; base-uri 'self'; form-action 'self'"
    )
}
