//! CSRF: the token of the session (or, before sign-in, of the signed `uma_csrf` cookie) must come
//! back in `X-CSRF-Token` on every state-changing request, and the `Origin` must be ours.

use http::HeaderMap;

use crate::config::Config;

/// The header the browser sends the token in (the original's name).
pub const HEADER: &str = "x-csrf-token";

/// The origins this server answers for: `APP_ORIGIN`, `ALLOWED_WS_ORIGINS`, and the request's
/// own host (`http` or `https`).
pub fn allowed_origin(config: &Config, headers: &HeaderMap, origin: &str) -> bool {
    let origin = origin.trim_end_matches('/');
    if let Some(app) = &config.web.app_origin {
        if app.origin().ascii_serialization() == origin {
            return true;
        }
    }
    if config
        .web
        .allowed_ws_origins
        .iter()
        .any(|o| o.trim_end_matches('/').eq_ignore_ascii_case(origin))
    {
        return true;
    }
    if config.web.app_origin.is_none() {
        if let Some(host) = headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
        {
            return origin == format!("http://{host}") || origin == format!("https://{host}");
        }
    }
    false
}

/// The request's origin: `Origin`, else the origin of `Referer`.
pub fn request_origin(headers: &HeaderMap) -> Option<String> {
    if let Some(o) = headers
        .get(http::header::ORIGIN)
        .and_then(|v| v.to_str().ok())
    {
        if o != "null" {
            return Some(o.to_owned());
        }
    }
    headers
        .get(http::header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| url::Url::parse(r).ok())
        .map(|u| u.origin().ascii_serialization())
}

/// Whether `sent` matches `expected` (constant time).
pub fn token_matches(expected: &str, sent: Option<&str>) -> bool {
    match sent {
        Some(s) if !expected.is_empty() => {
            super::session::constant_time_eq(expected.as_bytes(), s.as_bytes())
        }
        _ => false,
    }
}
