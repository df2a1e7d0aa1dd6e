//! What a link preview may reach. A URL is refused before any connection when its scheme is not
//! http(s), it carries credentials, its host is a local name (`localhost`, `.local`, `.internal`,
//! a single label…) or an address that is not public, or it is outside the configured allow-list.
//! Names are resolved by [`CheckedResolver`], which refuses a name when any of its addresses is
//! not public, and hands the HTTP client only the addresses it checked: the connection is pinned
//! to them, for every hop of a redirect too.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use url::{Host, Url};

/// Why a preview was refused: the audit reason, the status and the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not http(s), credentials, a local name or a non-public address.
    UrlNotAllowed,
    /// Outside `METADATA_ALLOWED_HOSTS` / `METADATA_ALLOWED_DOMAINS`.
    HostNotAllowlisted,
    /// The name has no address, or one that is not public.
    HostResolutionBlocked,
    /// More than [`MAX_REDIRECTS`] redirects.
    TooManyRedirects,
    /// The body passes the cap (declared or streamed).
    TooLarge,
    /// No complete answer in time.
    Timeout,
    /// The site answered an error status.
    Upstream(u16),
    /// The connection failed.
    Unreachable,
    /// The image proxy got something that is not a picture.
    NotAPicture,
}

/// Redirects followed at most (each hop checked again).
pub const MAX_REDIRECTS: usize = 3;

impl Refusal {
    /// The audit reason.
    pub fn reason(self) -> &'static str {
        match self {
            Self::UrlNotAllowed => "url_not_allowed",
            Self::HostNotAllowlisted => "host_not_allowlisted",
            Self::HostResolutionBlocked => "host_resolution_blocked",
            Self::TooManyRedirects => "too_many_redirects",
            Self::TooLarge => "response_too_large",
            Self::Timeout => "timeout",
            Self::Upstream(_) => "upstream_status",
            Self::Unreachable => "fetch_failed",
            Self::NotAPicture => "not_a_picture",
        }
    }
}

/// Whether an address is on the public internet: not loopback, private, shared (CGNAT),
/// link-local, multicast, reserved or documentation space, and for IPv6 forms that embed an IPv4
/// address (mapped, compatible, NAT64, 6to4), the embedded address is checked.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0 // "this network"
        || a == 10
        || a == 127
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 169 && b == 254)
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 168)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // TEST-NET-1
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || (a == 198 && b == 51 && c == 100) // TEST-NET-2
        || (a == 203 && b == 0 && c == 113) // TEST-NET-3
        || a >= 224) // multicast, reserved, broadcast
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    if s[..6] == [0, 0, 0, 0, 0, 0] {
        // ::, ::1 and the deprecated IPv4-compatible form.
        return ip != Ipv6Addr::UNSPECIFIED
            && ip != Ipv6Addr::LOCALHOST
            && is_public_v4(embedded(s[6], s[7]));
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        // NAT64 (well-known prefix): the IPv4 address it reaches.
        return is_public_v4(embedded(s[6], s[7]));
    }
    if s[0] == 0x2002 {
        // 6to4: the IPv4 address of the tunnel end.
        return is_public_v4(embedded(s[1], s[2]));
    }
    !((s[0] & 0xfe00) == 0xfc00 // unique local
        || (s[0] & 0xffc0) == 0xfe80 // link local
        || (s[0] & 0xffc0) == 0xfec0 // site local (deprecated)
        || (s[0] & 0xff00) == 0xff00 // multicast
        || (s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1) // local-use NAT64
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x2001 && s[1] == 0) // Teredo
        || (s[0] == 0x2001 && (s[1] & 0xfff0) == 0x0010) // ORCHID
        || (s[0] == 0x0100 && s[1..4] == [0, 0, 0])) // discard
}

/// Names that only mean something inside a network.
fn is_local_name(host: &str) -> bool {
    const SUFFIXES: [&str; 8] = [
        ".localhost",
        ".local",
        ".internal",
        ".corp",
        ".lan",
        ".home",
        ".home.arpa",
        ".localdomain",
    ];
    host == "localhost"
        || !host.contains('.')
        || SUFFIXES.iter().any(|s| host.ends_with(s))
        || host.ends_with(".in-addr.arpa")
        || host.ends_with(".ip6.arpa")
}

/// The configured rules: the allow-list, the private networks allowed all the same, and fixed
/// answers for names.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// `METADATA_ALLOWED_HOSTS` (lower case).
    pub allowed_hosts: Vec<String>,
    /// `METADATA_ALLOWED_DOMAINS` (lower case).
    pub allowed_domains: Vec<String>,
    /// `METADATA_ALLOW_NETWORKS`.
    pub allow_networks: Vec<ipnet::IpNet>,
    /// `METADATA_RESOLVE`.
    pub resolve: Vec<(String, IpAddr)>,
    /// `METADATA_ALLOWED_PORTS` (80 and 443 when empty).
    pub ports: Vec<u16>,
}

impl Policy {
    /// Whether previews may connect to `ip`.
    pub fn reachable(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        is_public(ip) || self.allow_networks.iter().any(|n| n.contains(&ip))
    }

    fn fixed(&self, host: &str) -> Vec<IpAddr> {
        self.resolve
            .iter()
            .filter(|(h, _)| h == host)
            .map(|(_, ip)| *ip)
            .collect()
    }

    /// Checks a URL before any connection.
    pub fn check(&self, raw: &str) -> Result<Url, Refusal> {
        let url = Url::parse(raw.trim()).map_err(|_| Refusal::UrlNotAllowed)?;
        self.check_url(&url)?;
        Ok(url)
    }

    /// Checks a parsed URL (the first one, and every redirect's target).
    pub fn check_url(&self, url: &Url) -> Result<(), Refusal> {
        if !matches!(url.scheme(), "http" | "https")
            || !url.username().is_empty()
            || url.password().is_some()
        {
            return Err(Refusal::UrlNotAllowed);
        }
        let port = url.port_or_known_default().unwrap_or(0);
        let ports: &[u16] = if self.ports.is_empty() {
            &[80, 443]
        } else {
            &self.ports
        };
        if !ports.contains(&port) {
            return Err(Refusal::UrlNotAllowed);
        }
        let host = match url.host() {
            Some(Host::Domain(d)) => {
                let d = d.trim_end_matches('.').to_ascii_lowercase();
                if is_local_name(&d) && self.fixed(&d).is_empty() {
                    return Err(Refusal::UrlNotAllowed);
                }
                d
            }
            Some(Host::Ipv4(v4)) => {
                if !self.reachable(IpAddr::V4(v4)) {
                    return Err(Refusal::UrlNotAllowed);
                }
                v4.to_string()
            }
            Some(Host::Ipv6(v6)) => {
                if !self.reachable(IpAddr::V6(v6)) {
                    return Err(Refusal::UrlNotAllowed);
                }
                v6.to_string()
            }
            None => return Err(Refusal::UrlNotAllowed),
        };
        let listed = !self.allowed_hosts.is_empty() || !self.allowed_domains.is_empty();
        if listed
            && !self.allowed_hosts.contains(&host)
            && !self
                .allowed_domains
                .iter()
                .any(|d| host == *d || host.ends_with(&format!(".{d}")))
        {
            return Err(Refusal::HostNotAllowlisted);
        }
        Ok(())
    }
}

/// The resolver's refusal, found again in the HTTP client's error chain.
#[derive(Debug)]
pub struct Blocked;

impl std::fmt::Display for Blocked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the name resolves to an address previews may not reach")
    }
}

impl std::error::Error for Blocked {}

/// Resolves names for the preview client: the fixed answers, else the system's; refuses a name
/// with no address or any address that is not reachable.
#[derive(Debug, Clone)]
pub struct CheckedResolver(pub Arc<Policy>);

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.0.clone();
        let host = name.as_str().trim_end_matches('.').to_ascii_lowercase();
        Box::pin(async move {
            let mut addrs = policy.fixed(&host);
            if addrs.is_empty() {
                addrs = tokio::net::lookup_host((host.as_str(), 0))
                    .await?
                    .map(|a| a.ip())
                    .collect();
            }
            if addrs.is_empty() || addrs.iter().any(|ip| !policy.reachable(*ip)) {
                return Err(Box::new(Blocked) as Box<dyn std::error::Error + Send + Sync>);
            }
            let addrs: reqwest::dns::Addrs =
                Box::new(addrs.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "100.64.0.1",
            "100.127.255.254",
            "127.0.0.1",
            "127.8.9.10",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "192.0.0.8",
            "198.18.0.1",
            "224.0.0.1",
            "239.255.255.250",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::1",
            "2002:7f00:1::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "2001::1",
            "100::1",
        ] {
            assert!(!is_public(ip(private)), "{private} counted as public");
        }
        for public in [
            "1.1.1.1",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.1",
            "172.32.0.1",
            "93.184.216.34",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2606:4700:4700::1111",
            "2a00:1450:4001:80b::200e",
        ] {
            assert!(is_public(ip(public)), "{public} counted as private");
        }
    }

    #[test]
    fn urls_are_refused_before_any_connection() {
        let p = Policy::default();
        for bad in [
            "ftp://example.com/",
            "file:///etc/passwd",
            "http://user:pw@example.com/",
            "http://localhost:8080/",
            "http://LOCALHOST./",
            "http://app.localhost/",
            "http://printer.local/",
            "http://db.internal/",
            "http://intranet/",
            "http://127.0.0.1/",
            "http://2130706433/",
            "http://0177.0.0.1/",
            "http://0x7f.1/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:7f00:1]/",
            "http://[64:ff9b::a9fe:a9fe]/",
            "http://169.254.169.254/latest/meta-data/",
            "http://100.100.100.200/",
            "http://[fd00::1]/",
            "not a url",
        ] {
            assert_eq!(p.check(bad).err(), Some(Refusal::UrlNotAllowed), "{bad}");
        }
        assert!(p.check("https://example.com/a?b=c").is_ok());
        assert!(p.check("http://93.184.216.34:80/").is_ok());
        // Web ports only, unless configured: no scanning of other services.
        for port in ["22", "25", "8006", "6379"] {
            let url = format!("http://93.184.216.34:{port}/");
            assert_eq!(p.check(&url).err(), Some(Refusal::UrlNotAllowed), "{url}");
        }
        let wider = Policy {
            ports: vec![80, 443, 8080],
            ..Policy::default()
        };
        assert!(wider.check("http://93.184.216.34:8080/").is_ok());
    }

    #[test]
    fn the_allow_list_and_allowed_networks() {
        let p = Policy {
            allowed_hosts: vec!["docs.example.com".into()],
            allowed_domains: vec!["proxmox.com".into()],
            allow_networks: vec!["10.1.0.0/16".parse().unwrap()],
            resolve: vec![("wiki.corp".into(), ip("10.1.2.3"))],
            ports: Vec::new(),
        };
        assert!(p.check("https://docs.example.com/x").is_ok());
        assert!(p.check("https://pve.proxmox.com/wiki").is_ok());
        assert!(p.check("https://proxmox.com/").is_ok());
        for other in ["https://example.com/", "https://evilproxmox.com/"] {
            assert_eq!(
                p.check(other).err(),
                Some(Refusal::HostNotAllowlisted),
                "{other}"
            );
        }
        assert!(p.reachable(ip("10.1.9.9")) && !p.reachable(ip("10.2.0.1")));
        assert!(p.reachable(ip("::ffff:10.1.9.9")));
        // A local name with a fixed answer is a name like any other (then the allow-list).
        assert_eq!(
            p.check("http://wiki.corp/").err(),
            Some(Refusal::HostNotAllowlisted)
        );
    }
}
