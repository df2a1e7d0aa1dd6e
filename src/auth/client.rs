//! Who is calling: the client IP and the user agent, for limits and audit rows. One function,
//! [`client_ip`], for HTTP, Socket.IO and the console WebSocket.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;

use crate::config::Config;

/// The caller's address and user agent.
#[derive(Debug, Clone)]
pub struct ClientInfo {
    /// Client IP as text.
    pub ip: String,
    /// User agent (truncated to 512 characters).
    pub user_agent: Option<String>,
}

/// IPv4-mapped IPv6 addresses as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// The client IP. Without `TRUSTED_PROXIES`, or when the peer is not one of them, the peer
/// address (headers are ignored). Behind trusted proxies, `X-Forwarded-For` is walked from the
/// right, starting at the peer: each proxy appends the address it saw, so the first address that
/// is not a trusted proxy is the client; what lies to its left is whatever the client chose to
/// send and is never believed. An entry that does not parse stops the walk at the last trusted
/// hop. `X-Real-IP` is not read: it says nothing about the chain it came through.
pub fn client_ip(config: &Config, peer: Option<IpAddr>, headers: &http::HeaderMap) -> String {
    let Some(peer) = peer.map(canonical) else {
        return "unknown".to_owned();
    };
    if !config.web.is_trusted_proxy(peer) {
        return peer.to_string();
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    let mut client = peer;
    for raw in hops.iter().rev() {
        let Some(ip) = parse_forwarded_ip(raw).map(canonical) else {
            break;
        };
        client = ip;
        if !config.web.is_trusted_proxy(ip) {
            break;
        }
    }
    client.to_string()
}

/// Whether the request came straight from one of the `TRUSTED_PROXIES` (so its
/// `X-Forwarded-Proto` may be believed).
pub fn from_trusted_proxy(config: &Config, peer: Option<IpAddr>) -> bool {
    peer.map(canonical)
        .is_some_and(|p| config.web.is_trusted_proxy(p))
}

fn parse_forwarded_ip(raw: &str) -> Option<IpAddr> {
    let s = raw.trim().trim_start_matches("for=").trim_matches('"');
    if let Ok(ip) = s.parse() {
        return Some(ip);
    }
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Some(sa.ip());
    }
    s.strip_prefix('[')
        .and_then(|v| v.split(']').next())
        .and_then(|v| v.parse().ok())
}

/// The peer address of a request (its TCP connection).
pub fn peer_of(extensions: &http::Extensions) -> Option<IpAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

impl ClientInfo {
    /// The client of a request with these extensions and headers.
    pub fn of(config: &Config, extensions: &http::Extensions, headers: &http::HeaderMap) -> Self {
        let user_agent = headers
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(512).collect());
        ClientInfo {
            ip: client_ip(config, peer_of(extensions), headers),
            user_agent,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Config {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_vars(&vars).unwrap()
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    fn forwarded(v: &str) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        h.insert("x-forwarded-for", v.parse().unwrap());
        h
    }

    #[test]
    fn without_trusted_proxies_the_header_is_ignored() {
        let plain = config(&[]);
        let h = forwarded("203.0.113.9, 10.0.0.1");
        assert_eq!(client_ip(&plain, ip("127.0.0.1"), &h), "127.0.0.1");
        assert_eq!(client_ip(&plain, ip("198.51.100.7"), &h), "198.51.100.7");
    }

    #[test]
    fn the_right_most_untrusted_address_is_the_client() {
        let c = config(&[(
            "TRUSTED_PROXIES",
            "127.0.0.1, 10.0.0.0/8, 2001:db8:ffff::/48",
        )]);
        let proxy = ip("127.0.0.1");
        // The client forges the left part; the proxies append what they saw.
        let h = forwarded("1.2.3.4, 198.51.100.7, 10.1.1.1");
        assert_eq!(client_ip(&c, proxy, &h), "198.51.100.7");
        // Several headers are one list, in order.
        let mut h = forwarded("1.2.3.4");
        h.append("x-forwarded-for", "198.51.100.8, 10.9.9.9".parse().unwrap());
        assert_eq!(client_ip(&c, proxy, &h), "198.51.100.8");
        // A peer that is not a trusted proxy is the client, whatever it says.
        let h = forwarded("10.1.1.1");
        assert_eq!(client_ip(&c, ip("198.51.100.9"), &h), "198.51.100.9");
        // Only proxies in the chain: the left-most of them.
        let h = forwarded("10.2.2.2, 10.1.1.1");
        assert_eq!(client_ip(&c, proxy, &h), "10.2.2.2");
        // Garbage in the chain stops the walk: the last trusted hop is the client.
        let h = forwarded("198.51.100.7, not-an-ip, 10.1.1.1");
        assert_eq!(client_ip(&c, proxy, &h), "10.1.1.1");
        // No header: the peer.
        assert_eq!(client_ip(&c, proxy, &http::HeaderMap::new()), "127.0.0.1");
        // Ports and brackets are taken off; IPv4-mapped peers are IPv4.
        let h = forwarded("[2001:db8::1]:443");
        assert_eq!(client_ip(&c, proxy, &h), "2001:db8::1");
        let h = forwarded("198.51.100.7:5555");
        assert_eq!(client_ip(&c, ip("::ffff:127.0.0.1"), &h), "198.51.100.7");
        let h = forwarded("198.51.100.7, 2001:db8:ffff::5");
        assert_eq!(client_ip(&c, ip("2001:db8:ffff::1"), &h), "198.51.100.7");
    }

    #[test]
    fn x_real_ip_is_not_a_way_around() {
        let c = config(&[("TRUSTED_PROXIES", "127.0.0.1")]);
        let mut h = http::HeaderMap::new();
        h.insert("x-real-ip", "1.2.3.4".parse().unwrap());
        assert_eq!(client_ip(&c, ip("127.0.0.1"), &h), "127.0.0.1");
    }

    #[test]
    fn the_old_switch_trusts_its_old_list_from_the_right() {
        let c = config(&[("RATE_LIMIT_TRUST_PROXY", "true")]);
        let h = forwarded("203.0.113.9, 198.51.100.7");
        assert_eq!(client_ip(&c, ip("127.0.0.1"), &h), "198.51.100.7");
    }
}
