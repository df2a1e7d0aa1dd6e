//! The web edge: which proxies are believed, the origins browsers come from, and the hosts pages
//! may load images and link previews from.

use std::collections::BTreeMap;
use std::net::IpAddr;

use url::Url;

use super::reader::Reader;
use super::{list, Key};

/// This section's variables: name, default, secret.
pub(super) const KEYS: &[Key] = &[
    ("TRUSTED_PROXIES", "", false),
    ("RATE_LIMIT_TRUST_PROXY", "false", false),
    ("RATE_LIMIT_TRUSTED_PROXIES", "127.0.0.1,::1", false),
    ("APP_ORIGIN", "", false),
    ("ALLOWED_WS_ORIGINS", "", false),
    ("ALLOW_MISSING_WS_ORIGIN", "false", false),
    ("METADATA_ALLOWED_HOSTS", "", false),
    ("METADATA_ALLOWED_DOMAINS", "", false),
    ("METADATA_ALLOW_NETWORKS", "", false),
    ("METADATA_RESOLVE", "", false),
    ("METADATA_ALLOWED_PORTS", "80,443", false),
    ("NEXT_IMAGE_REMOTE_HOSTS", "", false),
];

/// The web section.
#[derive(Debug, Clone)]
pub struct Web {
    /// `TRUSTED_PROXIES`: networks whose `X-Forwarded-For` / `X-Forwarded-Proto` are believed
    /// (empty: none; the peer address is the client).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// `APP_ORIGIN`.
    pub app_origin: Option<Url>,
    /// `ALLOWED_WS_ORIGINS`.
    pub allowed_ws_origins: Vec<String>,
    /// `ALLOW_MISSING_WS_ORIGIN`.
    pub allow_missing_ws_origin: bool,
    /// `METADATA_ALLOWED_HOSTS`.
    pub metadata_allowed_hosts: Vec<String>,
    /// `METADATA_ALLOWED_DOMAINS`.
    pub metadata_allowed_domains: Vec<String>,
    /// `METADATA_ALLOW_NETWORKS`: private networks link previews may reach all the same (an
    /// intranet wiki); empty: none.
    pub metadata_allow_networks: Vec<ipnet::IpNet>,
    /// `METADATA_RESOLVE`: fixed addresses for names (`host=ip,…`, like curl's `--resolve`), used
    /// by link previews instead of DNS for those names.
    pub metadata_resolve: Vec<(String, IpAddr)>,
    /// `METADATA_ALLOWED_PORTS`: the ports link previews may connect to.
    pub metadata_allowed_ports: Vec<u16>,
    /// `NEXT_IMAGE_REMOTE_HOSTS`: extra hosts allowed in `img-src`.
    pub image_remote_hosts: Vec<String>,
}

impl Web {
    /// Deprecated settings still honoured go to `warnings`.
    pub(super) fn read(r: &mut Reader<'_>, warnings: &mut Vec<String>) -> Self {
        let old_switch = r.bool("RATE_LIMIT_TRUST_PROXY");
        let old_list_set = r.opt("RATE_LIMIT_TRUSTED_PROXIES").is_some();
        let trusted_proxies = if r.opt("TRUSTED_PROXIES").is_some() {
            if old_switch || old_list_set {
                warnings.push(
                    "RATE_LIMIT_TRUST_PROXY and RATE_LIMIT_TRUSTED_PROXIES are ignored: TRUSTED_PROXIES is set".to_owned(),
                );
            }
            r.networks("TRUSTED_PROXIES")
        } else if old_switch {
            warnings.push(
                "RATE_LIMIT_TRUST_PROXY / RATE_LIMIT_TRUSTED_PROXIES are deprecated: set TRUSTED_PROXIES to the proxies' addresses instead".to_owned(),
            );
            r.networks("RATE_LIMIT_TRUSTED_PROXIES")
        } else {
            if old_list_set {
                warnings.push(
                    "RATE_LIMIT_TRUSTED_PROXIES is ignored without RATE_LIMIT_TRUST_PROXY=true (and deprecated: use TRUSTED_PROXIES)".to_owned(),
                );
            }
            Vec::new()
        };
        let app_origin = r.url("APP_ORIGIN", &["http", "https"]);
        let allowed_ws_origins = r.list("ALLOWED_WS_ORIGINS");
        for origin in &allowed_ws_origins {
            r.parse_url("ALLOWED_WS_ORIGINS", origin, &["http", "https"]);
        }
        Self {
            trusted_proxies,
            app_origin,
            allowed_ws_origins,
            allow_missing_ws_origin: r.bool("ALLOW_MISSING_WS_ORIGIN"),
            metadata_allowed_hosts: r.list("METADATA_ALLOWED_HOSTS"),
            metadata_allowed_domains: r.list("METADATA_ALLOWED_DOMAINS"),
            metadata_allow_networks: r.networks("METADATA_ALLOW_NETWORKS"),
            metadata_resolve: resolve_list(r),
            metadata_allowed_ports: port_list(r),
            image_remote_hosts: r.list("NEXT_IMAGE_REMOTE_HOSTS"),
        }
    }

    /// Whether `ip` is one of the `TRUSTED_PROXIES`.
    pub fn is_trusted_proxy(&self, ip: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|net| net.contains(&ip))
    }

    pub(super) fn show(&self, m: &mut BTreeMap<&'static str, String>) {
        m.insert(
            "METADATA_ALLOW_NETWORKS",
            self.metadata_allow_networks
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(","),
        );
        m.insert(
            "METADATA_ALLOWED_PORTS",
            self.metadata_allowed_ports
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(","),
        );
        m.insert(
            "METADATA_RESOLVE",
            self.metadata_resolve
                .iter()
                .map(|(h, ip)| format!("{h}={ip}"))
                .collect::<Vec<_>>()
                .join(","),
        );
        m.insert(
            "TRUSTED_PROXIES",
            if self.trusted_proxies.is_empty() {
                "(none: X-Forwarded-For is ignored)".to_owned()
            } else {
                self.trusted_proxies
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            },
        );
        m.insert(
            "APP_ORIGIN",
            self.app_origin
                .as_ref()
                .map(|u| u.origin().ascii_serialization())
                .unwrap_or_else(|| "(the request's host)".to_owned()),
        );
        m.insert("ALLOWED_WS_ORIGINS", list(&self.allowed_ws_origins));
        m.insert(
            "ALLOW_MISSING_WS_ORIGIN",
            self.allow_missing_ws_origin.to_string(),
        );
        m.insert("METADATA_ALLOWED_HOSTS", list(&self.metadata_allowed_hosts));
        m.insert(
            "METADATA_ALLOWED_DOMAINS",
            list(&self.metadata_allowed_domains),
        );
        m.insert("NEXT_IMAGE_REMOTE_HOSTS", list(&self.image_remote_hosts));
    }
}

/// `METADATA_RESOLVE`: `host=ip` entries (a host may repeat for several addresses).
fn resolve_list(r: &mut Reader<'_>) -> Vec<(String, IpAddr)> {
    let mut out = Vec::new();
    for entry in r.list("METADATA_RESOLVE") {
        match entry.split_once('=') {
            Some((host, ip)) if !host.trim().is_empty() => match ip.trim().parse::<IpAddr>() {
                Ok(ip) => out.push((host.trim().to_ascii_lowercase(), ip)),
                Err(_) => r.problem(
                    "METADATA_RESOLVE",
                    format!("'{}' is not an IP address (in '{entry}')", ip.trim()),
                ),
            },
            _ => r.problem("METADATA_RESOLVE", format!("'{entry}' is not host=ip")),
        }
    }
    out
}

/// `METADATA_ALLOWED_PORTS`: port numbers.
fn port_list(r: &mut Reader<'_>) -> Vec<u16> {
    let mut out = Vec::new();
    for entry in r.list("METADATA_ALLOWED_PORTS") {
        match entry.trim().parse::<u16>() {
            Ok(p) if p > 0 => out.push(p),
            _ => r.problem(
                "METADATA_ALLOWED_PORTS",
                format!("'{entry}' is not a port number"),
            ),
        }
    }
    out
}
