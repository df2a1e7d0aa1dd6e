//! Who is calling: the client IP (from `X-Forwarded-For` only behind a trusted proxy) and the
//! user agent, for limits and audit rows.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use http::request::Parts;

use crate::config::Config;
use crate::state::AppState;

/// The caller's address and user agent.
#[derive(Debug, Clone)]
pub struct ClientInfo {
    /// Client IP as text.
    pub ip: String,
    /// User agent (truncated to 512 characters).
    pub user_agent: Option<String>,
}

/// The client IP: the peer, or the first `X-Forwarded-For` entry (else `X-Real-IP`) when the peer
/// is a trusted proxy and `RATE_LIMIT_TRUST_PROXY` is on.
pub fn client_ip(config: &Config, peer: Option<IpAddr>, headers: &http::HeaderMap) -> String {
    let Some(peer) = peer else {
        return "unknown".to_owned();
    };
    let peer = match peer {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    };
    if config.trust_proxy && config.trusted_proxies.contains(&peer) {
        let forwarded = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .or_else(|| headers.get("x-real-ip").and_then(|v| v.to_str().ok()));
        if let Some(ip) = forwarded.and_then(parse_forwarded_ip) {
            return ip.to_string();
        }
    }
    peer.to_string()
}

fn parse_forwarded_ip(raw: &str) -> Option<IpAddr> {
    let s = raw.trim().trim_start_matches("for=").trim_matches('"');
    if let Ok(ip) = s.parse() {
        return Some(ip);
    }
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Some(sa.ip());
    }
    s.trim_start_matches('[')
        .split(']')
        .next()
        .and_then(|v| v.parse().ok())
}

impl FromRequestParts<AppState> for ClientInfo {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let user_agent = parts
            .headers
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(512).collect());
        Ok(ClientInfo {
            ip: client_ip(&state.config, peer, &parts.headers),
            user_agent,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn forwarded_for_only_from_trusted_proxies() {
        let mut h = http::HeaderMap::new();
        h.insert("x-forwarded-for", "203.0.113.9, 10.0.0.1".parse().unwrap());
        let plain = Config::from_vars(&HashMap::new()).unwrap();
        let proxy: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(client_ip(&plain, Some(proxy), &h), "127.0.0.1");
        let vars: HashMap<String, String> =
            [("RATE_LIMIT_TRUST_PROXY".to_owned(), "true".to_owned())].into();
        let trusting = Config::from_vars(&vars).unwrap();
        assert_eq!(client_ip(&trusting, Some(proxy), &h), "203.0.113.9");
        let stranger: IpAddr = "198.51.100.7".parse().unwrap();
        assert_eq!(client_ip(&trusting, Some(stranger), &h), "198.51.100.7");
        h.insert("x-forwarded-for", "[2001:db8::1]:443".parse().unwrap());
        assert_eq!(client_ip(&trusting, Some(proxy), &h), "2001:db8::1");
    }
}
