//! Configuration: the original's environment variables (same names, same defaults), read from the
//! process environment over `.env.local` over `.env`, with `NAME_FILE` for every secret, validated
//! once at start-up into one typed [`Config`].

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use url::Url;

pub use crate::secret::Secret;

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Human,
    /// One JSON object per line.
    Json,
}

/// Where Proxmox is.
#[derive(Debug, Clone)]
pub enum ProxmoxMode {
    /// No `PROXMOX_URL`: start the simulator in-process with this scenario.
    Embedded {
        /// `demo` or `empty`.
        scenario: String,
    },
    /// A real (or external simulated) cluster.
    Remote(ProxmoxConfig),
}

/// Connection settings for a Proxmox VE cluster.
#[derive(Debug, Clone)]
pub struct ProxmoxConfig {
    /// Base URL, e.g. `https://pve.example.com:8006`.
    pub url: Url,
    /// `USER@REALM!TOKENID`.
    pub token_id: String,
    /// The token's secret.
    pub token_secret: Secret,
    /// Skip certificate verification (`PROXMOX_SSL_INSECURE`).
    pub insecure: bool,
    /// SHA-256 fingerprint of the server certificate to pin (hex, colons allowed).
    pub fingerprint: Option<String>,
    /// A PEM file with the CA (or self-signed certificate) to trust.
    pub ca_file: Option<PathBuf>,
}

/// LDAP / Active Directory settings.
#[derive(Debug, Clone)]
pub struct LdapConfig {
    /// `ldap://` or `ldaps://` URL.
    pub url: Url,
    /// Service account DN.
    pub bind_dn: Option<String>,
    /// Service account password.
    pub bind_password: Option<Secret>,
    /// Base DN of user searches.
    pub base_dn: Option<String>,
    /// Base DN of group searches (defaults to `base_dn`).
    pub groups_base_dn: Option<String>,
    /// Filter with `{{username}}`.
    pub user_search_filter: String,
    /// Attributes to fetch.
    pub search_attributes: Vec<String>,
    /// Accept any certificate (`LDAP_ALLOW_INSECURE_TLS`).
    pub allow_insecure_tls: bool,
    /// Upgrade `ldap://` connections with StartTLS (`LDAP_STARTTLS`).
    pub starttls: bool,
}

impl LdapConfig {
    /// LDAP sign-in is configured when the service account and base DN are set.
    pub fn is_configured(&self) -> bool {
        self.bind_dn.is_some() && self.bind_password.is_some() && self.base_dn.is_some()
    }
}

/// The database to use.
#[derive(Debug, Clone)]
pub enum DatabaseConfig {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A MariaDB / MySQL server; the URL (with its password) is secret.
    MySql(Secret),
}

impl DatabaseConfig {
    /// The sqlx connection URL.
    pub fn url(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("sqlite://{}?mode=rwc", path.display()),
            Self::MySql(url) => url.expose().to_owned(),
        }
    }
    /// A short label for logs: `sqlite (data/uma.db)` or `mariadb (host:port/db)`.
    pub fn describe(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("SQLite ({})", path.display()),
            Self::MySql(url) => match Url::parse(url.expose()) {
                Ok(u) => format!(
                    "MariaDB ({}:{}{})",
                    u.host_str().unwrap_or("?"),
                    u.port().unwrap_or(3306),
                    u.path()
                ),
                Err(_) => "MariaDB".to_owned(),
            },
        }
    }
}

/// The whole validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// `UMA_ENV` / `NODE_ENV` is `production`.
    pub production: bool,
    /// Host to bind (`HOSTNAME`).
    pub hostname: String,
    /// Port to bind (`PORT`).
    pub port: u16,
    /// Folder for the SQLite file, generated secrets and uploads' metadata (`UMA_DATA_DIR`).
    pub data_dir: PathBuf,
    /// Folder for uploaded files (`UPLOAD_DIR`).
    pub upload_dir: PathBuf,
    /// Log format (`LOG_FORMAT`).
    pub log_format: LogFormat,
    /// Log filter (`RUST_LOG`, else `LOG_LEVEL`).
    pub log_filter: String,
    /// Proxmox: embedded simulator or a real cluster.
    pub proxmox: ProxmoxMode,
    /// `PROXMOX_USER_REALM`.
    pub proxmox_user_realm: Option<String>,
    /// LDAP settings.
    pub ldap: LdapConfig,
    /// Cookie secret; `None` in demo mode until one is generated under `data_dir`.
    pub cookie_secret: Option<Secret>,
    /// `SESSION_TTL`: the idle lifetime of a session in seconds; each request or socket event
    /// extends it (0 = no idle limit, not allowed in production).
    pub session_ttl: u64,
    /// `SESSION_MAX_AGE`: the absolute lifetime of a session from sign-in, in seconds, whatever
    /// the activity (0 = no cap, not allowed in production).
    pub session_max_age: u64,
    /// `SESSION_RECHECK_SECS`: how often each instance re-reads the records of the sessions it
    /// holds sockets or consoles for, so that ends it was not told about (another process, an
    /// instance without Redis) close them within this time.
    pub session_recheck: std::time::Duration,
    /// `USE_SECURE_COOKIE`.
    pub secure_cookie: bool,
    /// `COOKIE_DOMAIN`.
    pub cookie_domain: Option<String>,
    /// `ADMIN_GROUPS`.
    pub admin_groups: Vec<String>,
    /// `DATABASE_URL` (SQLite under `data_dir` when unset).
    pub database: DatabaseConfig,
    /// `REDIS_URL` unless `DISABLE_REDIS`; `None` means in-process limits and state.
    pub redis_url: Option<Secret>,
    /// `REDIS_PASSWORD`.
    pub redis_password: Option<Secret>,
    /// `TRUSTED_PROXIES`: networks whose `X-Forwarded-For` / `X-Forwarded-Proto` are believed
    /// (empty: none; the peer address is the client).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// `APP_ORIGIN`.
    pub app_origin: Option<Url>,
    /// `ALLOWED_WS_ORIGINS`.
    pub allowed_ws_origins: Vec<String>,
    /// `ALLOW_MISSING_WS_ORIGIN`.
    pub allow_missing_ws_origin: bool,
    /// `MAX_VNETS_PER_USER` (0 = unlimited).
    pub max_vnets_per_user: u32,
    /// `METADATA_ALLOWED_HOSTS`.
    pub metadata_allowed_hosts: Vec<String>,
    /// `METADATA_ALLOWED_DOMAINS`.
    pub metadata_allowed_domains: Vec<String>,
    /// `ALLOWED_PUBLIC_STORAGES`.
    pub allowed_public_storages: Vec<String>,
    /// `ALLOWED_PUBLIC_BRIDGES`: bridges every user may put a network device on (untagged).
    pub allowed_public_bridges: Vec<String>,
    /// `PUBLIC_TEMPLATE_POOL`: the pool whose templates every user may clone.
    pub public_template_pool: String,
    /// `MAX_POOLS_PER_USER`: pools one owner may create (0 = unlimited; administrators unbound).
    pub max_pools_per_user: u32,
    /// `RESOURCE_POLL_INTERVAL_MS`: how often the cluster is read while someone watches.
    pub resource_poll_interval: std::time::Duration,
    /// `CONSOLE_MAX_PER_USER`: consoles one user may have open at once.
    pub console_max_per_user: usize,
    /// `CONSOLE_IDLE_TIMEOUT_SECS`: a console without traffic this long is closed.
    pub console_idle_timeout: std::time::Duration,
    /// `NEXT_IMAGE_REMOTE_HOSTS`: extra hosts allowed in `img-src`.
    pub image_remote_hosts: Vec<String>,
    /// `UMA_ADMIN_PASSWORD`: creates or resets the local `admin` account.
    pub admin_password: Option<Secret>,
    /// Variables that look like ours but are not known (warned about at start).
    pub unknown_keys: Vec<String>,
    /// Settings that work but should change (deprecated names), warned about at start.
    pub warnings: Vec<String>,
}

/// One problem found in the configuration: the variable and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The variable's name.
    pub key: &'static str,
    /// What is wrong, in one line.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// Every variable Uma reads, with its default and whether it is secret. `docs/environment.md` and
/// `.env.example` document exactly these (a test keeps them in step).
pub const KEYS: &[(&str, &str, bool)] = &[
    ("UMA_ENV", "development", false),
    ("NODE_ENV", "", false),
    ("HOSTNAME", "localhost", false),
    ("PORT", "3004", false),
    ("UMA_DATA_DIR", "data", false),
    ("UPLOAD_DIR", "uploads", false),
    ("LOG_FORMAT", "human", false),
    ("LOG_LEVEL", "info", false),
    ("UMA_DEMO_SCENARIO", "demo", false),
    ("UMA_ADMIN_PASSWORD", "", true),
    ("PROXMOX_URL", "", false),
    ("PROXMOX_TOKEN_ID", "", false),
    ("PROXMOX_TOKEN_SECRET", "", true),
    ("PROXMOX_USER_REALM", "", false),
    ("PROXMOX_SSL_INSECURE", "false", false),
    ("PROXMOX_CERT_FINGERPRINT", "", false),
    ("PROXMOX_CA_FILE", "", false),
    ("LDAP_URL", "ldap://localhost:389", false),
    ("LDAP_BIND_DN", "", false),
    ("LDAP_BIND_PASSWORD", "", true),
    ("LDAP_BASE_DN", "", false),
    ("LDAP_GROUPS_BASE_DN", "", false),
    (
        "LDAP_USER_SEARCH_FILTER",
        "(sAMAccountName={{username}})",
        false,
    ),
    (
        "LDAP_SEARCH_ATTRIBUTES",
        "sAMAccountName,cn,memberOf,mail,displayName",
        false,
    ),
    ("LDAP_ALLOW_INSECURE_TLS", "false", false),
    ("LDAP_STARTTLS", "false", false),
    ("SECRET_COOKIE_PASSWORD", "", true),
    ("SESSION_TTL", "28800", false),
    ("SESSION_MAX_AGE", "86400", false),
    ("SESSION_RECHECK_SECS", "10", false),
    ("USE_SECURE_COOKIE", "true", false),
    ("UMA_ALLOW_INSECURE_COOKIE", "false", false),
    ("COOKIE_DOMAIN", "", false),
    ("ADMIN_GROUPS", "", false),
    ("DATABASE_URL", "", true),
    ("REDIS_URL", "", true),
    ("REDIS_PASSWORD", "", true),
    ("DISABLE_REDIS", "false", false),
    ("TRUSTED_PROXIES", "", false),
    ("RATE_LIMIT_TRUST_PROXY", "false", false),
    ("RATE_LIMIT_TRUSTED_PROXIES", "127.0.0.1,::1", false),
    ("APP_ORIGIN", "", false),
    ("ALLOWED_WS_ORIGINS", "", false),
    ("ALLOW_MISSING_WS_ORIGIN", "false", false),
    ("MAX_VNETS_PER_USER", "0", false),
    ("METADATA_ALLOWED_HOSTS", "", false),
    ("METADATA_ALLOWED_DOMAINS", "", false),
    ("ALLOWED_PUBLIC_STORAGES", "", false),
    ("ALLOWED_PUBLIC_BRIDGES", "vmbr0", false),
    ("PUBLIC_TEMPLATE_POOL", "TEMPLATES", false),
    ("MAX_POOLS_PER_USER", "3", false),
    ("NEXT_IMAGE_REMOTE_HOSTS", "", false),
    ("RESOURCE_POLL_INTERVAL_MS", "2000", false),
    ("CONSOLE_MAX_PER_USER", "4", false),
    ("CONSOLE_IDLE_TIMEOUT_SECS", "900", false),
];

/// Variables that belong to the deployment (compose reads them), not to the server.
const DEPLOYMENT_KEYS: &[&str] = &[
    "MYSQL_ROOT_PASSWORD",
    "MYSQL_DATABASE",
    "MYSQL_USER",
    "MYSQL_PASSWORD",
    "RUST_LOG",
    "RUST_BACKTRACE",
];

/// Prefixes of variables we would own: an unknown one is most likely a typo.
const OWN_PREFIXES: &[&str] = &["UMA_", "PROXMOX_", "LDAP_", "SESSION_", "RATE_LIMIT_"];

/// Reads the raw variables: `.env`, then `.env.local`, then the process environment on top.
pub fn load_env(dir: &Path) -> Result<HashMap<String, String>, Problem> {
    let mut vars = HashMap::new();
    for name in [".env", ".env.local"] {
        let path = dir.join(name);
        if !path.exists() {
            continue;
        }
        let iter = dotenvy::from_path_iter(&path).map_err(|e| Problem {
            key: "ENV_FILE",
            message: format!("cannot read {}: {e}", path.display()),
        })?;
        for item in iter {
            let (k, v) = item.map_err(|e| Problem {
                key: "ENV_FILE",
                message: format!("{}: {e}", path.display()),
            })?;
            vars.insert(k, v);
        }
    }
    vars.extend(std::env::vars());
    Ok(vars)
}

/// Reads variables with defaults, `*_FILE` secrets and problem collection.
struct Reader<'a> {
    vars: &'a HashMap<String, String>,
    problems: Vec<Problem>,
}

impl<'a> Reader<'a> {
    fn default_of(key: &str) -> &'static str {
        KEYS.iter()
            .find(|(k, _, _)| *k == key)
            .map(|(_, d, _)| *d)
            .unwrap_or("")
    }

    /// The raw value (trimmed), or `NAME_FILE`'s content for secrets; `None` when empty.
    fn raw(&mut self, key: &'static str) -> Option<String> {
        let direct = self
            .vars
            .get(key)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty());
        let file_key = format!("{key}_FILE");
        let from_file = self
            .vars
            .get(&file_key)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty());
        match (direct, from_file) {
            (Some(_), Some(_)) => {
                self.problems.push(Problem {
                    key,
                    message: format!("set either {key} or {file_key}, not both"),
                });
                None
            }
            (Some(v), None) => Some(v),
            (None, Some(path)) => match std::fs::read_to_string(&path) {
                Ok(content) => Some(content.trim_end_matches(['\r', '\n']).to_owned())
                    .filter(|v| !v.is_empty()),
                Err(e) => {
                    self.problems.push(Problem {
                        key,
                        message: format!("cannot read {file_key}={path}: {e}"),
                    });
                    None
                }
            },
            (None, None) => None,
        }
    }

    fn string(&mut self, key: &'static str) -> String {
        self.raw(key)
            .unwrap_or_else(|| Self::default_of(key).to_owned())
    }

    fn opt(&mut self, key: &'static str) -> Option<String> {
        self.raw(key)
    }

    fn secret(&mut self, key: &'static str) -> Option<Secret> {
        self.raw(key).map(Secret::new)
    }

    fn bool(&mut self, key: &'static str) -> bool {
        let value = self.string(key);
        match value.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => true,
            "false" | "0" | "no" | "off" | "" => false,
            other => {
                self.problems.push(Problem {
                    key,
                    message: format!("expected true or false, got '{other}'"),
                });
                false
            }
        }
    }

    fn number<T: std::str::FromStr>(&mut self, key: &'static str, what: &str) -> Option<T> {
        let value = self.string(key);
        match value.parse::<T>() {
            Ok(n) => Some(n),
            Err(_) => {
                self.problems.push(Problem {
                    key,
                    message: format!("expected {what}, got '{value}'"),
                });
                None
            }
        }
    }

    /// A list of networks: CIDRs, or single addresses (a /32 or /128).
    fn networks(&mut self, key: &'static str) -> Vec<ipnet::IpNet> {
        let mut out = Vec::new();
        for item in self.list(key) {
            match item.parse::<ipnet::IpNet>() {
                Ok(net) => out.push(net.trunc()),
                Err(_) => match item.parse::<IpAddr>() {
                    Ok(ip) => out.push(ipnet::IpNet::from(ip)),
                    Err(_) => self.problems.push(Problem {
                        key,
                        message: format!("'{item}' is not an IP address or CIDR network"),
                    }),
                },
            }
        }
        out
    }

    fn list(&mut self, key: &'static str) -> Vec<String> {
        self.string(key)
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }

    fn url(&mut self, key: &'static str, schemes: &[&str]) -> Option<Url> {
        let value = self.opt(key)?;
        self.parse_url(key, &value, schemes)
    }

    fn parse_url(&mut self, key: &'static str, value: &str, schemes: &[&str]) -> Option<Url> {
        match Url::parse(value) {
            Ok(u) if schemes.contains(&u.scheme()) && u.has_host() => Some(u),
            Ok(u) if !schemes.contains(&u.scheme()) => {
                self.problems.push(Problem {
                    key,
                    message: format!(
                        "'{}' has scheme '{}', expected {}",
                        redact_url(value),
                        u.scheme(),
                        schemes.join(" or ")
                    ),
                });
                None
            }
            Ok(_) => {
                self.problems.push(Problem {
                    key,
                    message: format!("'{}' has no host", redact_url(value)),
                });
                None
            }
            Err(e) => {
                self.problems.push(Problem {
                    key,
                    message: format!("'{}' is not a valid URL ({e})", redact_url(value)),
                });
                None
            }
        }
    }

    fn problem(&mut self, key: &'static str, message: impl Into<String>) {
        self.problems.push(Problem {
            key,
            message: message.into(),
        });
    }
}

/// Replaces the password of a URL with `***` so it can be shown.
pub fn redact_url(value: &str) -> String {
    match Url::parse(value) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => value.to_owned(),
    }
}

impl Config {
    /// Builds and validates the configuration from raw variables. All problems are returned
    /// together, one line each, so an operator can fix them in one go.
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Config, Vec<Problem>> {
        let mut r = Reader {
            vars,
            problems: Vec::new(),
        };
        let env = r
            .opt("UMA_ENV")
            .or_else(|| r.opt("NODE_ENV"))
            .unwrap_or_else(|| "development".to_owned());
        let production = env.eq_ignore_ascii_case("production");

        let hostname = r.string("HOSTNAME");
        let port = r.number::<u16>("PORT", "a port number").unwrap_or(3004);
        let data_dir = PathBuf::from(r.string("UMA_DATA_DIR"));
        let upload_dir = PathBuf::from(r.string("UPLOAD_DIR"));
        let log_format = match r.string("LOG_FORMAT").to_ascii_lowercase().as_str() {
            "json" => LogFormat::Json,
            "human" | "text" | "" => LogFormat::Human,
            other => {
                r.problem(
                    "LOG_FORMAT",
                    format!("expected human or json, got '{other}'"),
                );
                LogFormat::Human
            }
        };
        let log_filter = vars
            .get("RUST_LOG")
            .cloned()
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| r.string("LOG_LEVEL"));

        // Proxmox.
        let proxmox = match r.url("PROXMOX_URL", &["https", "http"]) {
            None if r.opt("PROXMOX_URL").is_some() => ProxmoxMode::Embedded {
                scenario: "demo".to_owned(),
            },
            None => {
                let scenario = r.string("UMA_DEMO_SCENARIO");
                if !["demo", "empty"].contains(&scenario.as_str()) {
                    r.problem(
                        "UMA_DEMO_SCENARIO",
                        format!("expected demo or empty, got '{scenario}'"),
                    );
                }
                ProxmoxMode::Embedded { scenario }
            }
            Some(url) => {
                let token_id = r.opt("PROXMOX_TOKEN_ID").unwrap_or_default();
                if token_id.is_empty() {
                    r.problem("PROXMOX_TOKEN_ID", "required when PROXMOX_URL is set");
                } else if !valid_token_id(&token_id) {
                    r.problem(
                        "PROXMOX_TOKEN_ID",
                        format!("'{token_id}' is not of the form USER@REALM!TOKENID"),
                    );
                }
                let token_secret = r.secret("PROXMOX_TOKEN_SECRET").unwrap_or_else(|| {
                    r.problem("PROXMOX_TOKEN_SECRET", "required when PROXMOX_URL is set");
                    Secret::default()
                });
                let fingerprint = r.opt("PROXMOX_CERT_FINGERPRINT");
                if let Some(fp) = &fingerprint {
                    if parse_fingerprint(fp).is_none() {
                        r.problem(
                            "PROXMOX_CERT_FINGERPRINT",
                            "expected a SHA-256 fingerprint: 64 hex digits, colons allowed",
                        );
                    }
                }
                ProxmoxMode::Remote(ProxmoxConfig {
                    url,
                    token_id,
                    token_secret,
                    insecure: r.bool("PROXMOX_SSL_INSECURE"),
                    fingerprint,
                    ca_file: r.opt("PROXMOX_CA_FILE").map(PathBuf::from),
                })
            }
        };
        // The embedded cluster's users live in the `pve` realm.
        let proxmox_user_realm = r
            .opt("PROXMOX_USER_REALM")
            .or_else(|| matches!(proxmox, ProxmoxMode::Embedded { .. }).then(|| "pve".to_owned()));
        let public_template_pool = r.string("PUBLIC_TEMPLATE_POOL");
        if !public_template_pool.is_empty()
            && crate::pve::path::PoolId::parse("PUBLIC_TEMPLATE_POOL", &public_template_pool)
                .is_err()
        {
            r.problem(
                "PUBLIC_TEMPLATE_POOL",
                "a pool id: 1 to 64 letters, digits, '-', '_' or '.'",
            );
        }
        let max_pools_per_user = r
            .number::<u32>("MAX_POOLS_PER_USER", "a whole number (0 = unlimited)")
            .unwrap_or(3);

        // LDAP.
        let ldap_url = r
            .url("LDAP_URL", &["ldap", "ldaps"])
            .or_else(|| Url::parse("ldap://localhost:389").ok());
        let user_search_filter = r.string("LDAP_USER_SEARCH_FILTER");
        if !user_search_filter.contains("{{username}}") {
            r.problem(
                "LDAP_USER_SEARCH_FILTER",
                "must contain {{username}} where the user name goes",
            );
        }
        let Some(ldap_url) = ldap_url else {
            return Err(r.problems);
        };
        let ldap = LdapConfig {
            url: ldap_url,
            bind_dn: r.opt("LDAP_BIND_DN"),
            bind_password: r.secret("LDAP_BIND_PASSWORD"),
            base_dn: r.opt("LDAP_BASE_DN"),
            groups_base_dn: r.opt("LDAP_GROUPS_BASE_DN"),
            user_search_filter,
            search_attributes: r.list("LDAP_SEARCH_ATTRIBUTES"),
            allow_insecure_tls: r.bool("LDAP_ALLOW_INSECURE_TLS"),
            starttls: r.bool("LDAP_STARTTLS"),
        };

        // Sessions and cookies.
        let cookie_secret = r.secret("SECRET_COOKIE_PASSWORD");
        match &cookie_secret {
            Some(s) if s.expose().chars().count() < 32 => r.problem(
                "SECRET_COOKIE_PASSWORD",
                format!(
                    "must be at least 32 characters (it has {}); `uma secrets generate` makes one",
                    s.expose().chars().count()
                ),
            ),
            None if matches!(proxmox, ProxmoxMode::Remote(_)) || production => r.problem(
                "SECRET_COOKIE_PASSWORD",
                "required outside demo mode (32+ characters); `uma secrets generate` makes one",
            ),
            _ => {}
        }
        let poll_ms = r
            .number::<u64>(
                "RESOURCE_POLL_INTERVAL_MS",
                "a whole number of milliseconds",
            )
            .unwrap_or(2000);
        if !(250..=60_000).contains(&poll_ms) {
            r.problem(
                "RESOURCE_POLL_INTERVAL_MS",
                format!("{poll_ms} ms is outside 250 to 60000"),
            );
        }
        let console_max_per_user = r
            .number::<usize>("CONSOLE_MAX_PER_USER", "a whole number")
            .unwrap_or(4);
        if !(1..=100).contains(&console_max_per_user) {
            r.problem("CONSOLE_MAX_PER_USER", "must be from 1 to 100");
        }
        let console_idle = r
            .number::<u64>("CONSOLE_IDLE_TIMEOUT_SECS", "a whole number of seconds")
            .unwrap_or(900);
        if !(10..=86_400).contains(&console_idle) {
            r.problem("CONSOLE_IDLE_TIMEOUT_SECS", "must be from 10 to 86400");
        }
        let session_ttl = r
            .number::<u64>("SESSION_TTL", "a whole number of seconds")
            .unwrap_or(28800);
        if production && session_ttl == 0 {
            r.problem("SESSION_TTL", "0 (no expiry) is not allowed in production");
        }
        if production && session_ttl > 43200 {
            r.problem(
                "SESSION_TTL",
                format!("{session_ttl} s is above the production maximum of 43200 (12 h)"),
            );
        }
        let session_max_age = r
            .number::<u64>("SESSION_MAX_AGE", "a whole number of seconds")
            .unwrap_or(86400);
        if production && session_max_age == 0 {
            r.problem("SESSION_MAX_AGE", "0 (no cap) is not allowed in production");
        }
        if production && session_max_age > 7 * 86400 {
            r.problem(
                "SESSION_MAX_AGE",
                format!("{session_max_age} s is above the production maximum of 604800 (7 days)"),
            );
        }
        if session_max_age > 0 && session_ttl > session_max_age {
            r.problem(
                "SESSION_MAX_AGE",
                format!(
                    "{session_max_age} s is shorter than SESSION_TTL ({session_ttl} s); the cap must be at least the idle lifetime"
                ),
            );
        }
        let session_recheck = r
            .number::<u64>("SESSION_RECHECK_SECS", "a whole number of seconds")
            .unwrap_or(10);
        if !(1..=300).contains(&session_recheck) {
            r.problem("SESSION_RECHECK_SECS", "must be from 1 to 300");
        }
        let secure_cookie = r.bool("USE_SECURE_COOKIE");
        let allow_insecure_cookie = r.bool("UMA_ALLOW_INSECURE_COOKIE");
        if production && !secure_cookie && !allow_insecure_cookie {
            r.problem(
                "USE_SECURE_COOKIE",
                "false in production sends the session cookie over plain HTTP; set UMA_ALLOW_INSECURE_COOKIE=true to accept that",
            );
        }
        let cookie_domain = r.opt("COOKIE_DOMAIN");
        let admin_groups = group_list(&r.string("ADMIN_GROUPS"));

        // Database.
        let database = match r.opt("DATABASE_URL") {
            None => DatabaseConfig::Sqlite(data_dir.join("uma.db")),
            Some(url) => parse_database_url(&mut r, &url),
        };

        // Redis.
        let disable_redis = r.bool("DISABLE_REDIS");
        let redis_url = r.opt("REDIS_URL");
        let redis_url = match redis_url {
            Some(u) if !disable_redis => r
                .parse_url("REDIS_URL", &u, &["redis", "rediss"])
                .map(|_| Secret::new(u)),
            _ => None,
        };
        let redis_password = r.secret("REDIS_PASSWORD");

        // Proxies and origins.
        let mut warnings = Vec::new();
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
        for origin in allowed_ws_origins.clone() {
            r.parse_url("ALLOWED_WS_ORIGINS", &origin, &["http", "https"]);
        }
        let allow_missing_ws_origin = r.bool("ALLOW_MISSING_WS_ORIGIN");
        let max_vnets_per_user = r
            .number::<u32>("MAX_VNETS_PER_USER", "a whole number")
            .unwrap_or(0);

        let config = Config {
            production,
            hostname,
            port,
            data_dir,
            upload_dir,
            log_format,
            log_filter,
            proxmox,
            proxmox_user_realm,
            ldap,
            cookie_secret,
            session_ttl,
            session_max_age,
            session_recheck: std::time::Duration::from_secs(session_recheck),
            secure_cookie,
            cookie_domain,
            admin_groups,
            database,
            redis_url,
            redis_password,
            trusted_proxies,
            app_origin,
            allowed_ws_origins,
            allow_missing_ws_origin,
            max_vnets_per_user,
            metadata_allowed_hosts: r.list("METADATA_ALLOWED_HOSTS"),
            metadata_allowed_domains: r.list("METADATA_ALLOWED_DOMAINS"),
            allowed_public_storages: r.list("ALLOWED_PUBLIC_STORAGES"),
            allowed_public_bridges: r.list("ALLOWED_PUBLIC_BRIDGES"),
            public_template_pool,
            max_pools_per_user,
            resource_poll_interval: std::time::Duration::from_millis(poll_ms),
            console_max_per_user,
            console_idle_timeout: std::time::Duration::from_secs(console_idle),
            image_remote_hosts: r.list("NEXT_IMAGE_REMOTE_HOSTS"),
            admin_password: r.secret("UMA_ADMIN_PASSWORD"),
            unknown_keys: unknown_keys(vars),
            warnings,
        };
        if r.problems.is_empty() {
            Ok(config)
        } else {
            Err(r.problems)
        }
    }

    /// Whether `ip` is one of the `TRUSTED_PROXIES`.
    pub fn is_trusted_proxy(&self, ip: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|net| net.contains(&ip))
    }

    /// How long a session lives without activity, in milliseconds (`None`: no idle limit).
    pub fn session_idle_ms(&self) -> Option<i64> {
        (self.session_ttl > 0)
            .then(|| i64::try_from(self.session_ttl.saturating_mul(1000)).unwrap_or(i64::MAX))
    }

    /// How long a session lives at most from sign-in, in milliseconds (`None`: no cap).
    pub fn session_max_age_ms(&self) -> Option<i64> {
        (self.session_max_age > 0)
            .then(|| i64::try_from(self.session_max_age.saturating_mul(1000)).unwrap_or(i64::MAX))
    }

    /// True when Proxmox is the in-process simulator.
    pub fn is_demo(&self) -> bool {
        matches!(self.proxmox, ProxmoxMode::Embedded { .. })
    }

    /// The effective settings as `(key, value)` lines, secrets redacted, for `uma check-config`.
    pub fn effective(&self) -> BTreeMap<&'static str, String> {
        let mut m = BTreeMap::new();
        let secret = |s: &Option<Secret>| match s {
            Some(_) => "[redacted]".to_owned(),
            None => "(unset)".to_owned(),
        };
        let list = |l: &[String]| {
            if l.is_empty() {
                "(none)".to_owned()
            } else {
                l.join(",")
            }
        };
        m.insert(
            "UMA_ENV",
            if self.production {
                "production"
            } else {
                "development"
            }
            .to_owned(),
        );
        m.insert("HOSTNAME", self.hostname.clone());
        m.insert("PORT", self.port.to_string());
        m.insert("UMA_DATA_DIR", self.data_dir.display().to_string());
        m.insert("UPLOAD_DIR", self.upload_dir.display().to_string());
        m.insert(
            "LOG_FORMAT",
            format!("{:?}", self.log_format).to_lowercase(),
        );
        m.insert("LOG_LEVEL", self.log_filter.clone());
        match &self.proxmox {
            ProxmoxMode::Embedded { scenario } => {
                m.insert(
                    "PROXMOX_URL",
                    format!("(embedded simulator, scenario {scenario})"),
                );
            }
            ProxmoxMode::Remote(p) => {
                m.insert("PROXMOX_URL", p.url.to_string());
                m.insert("PROXMOX_TOKEN_ID", p.token_id.clone());
                m.insert("PROXMOX_TOKEN_SECRET", "[redacted]".to_owned());
                m.insert("PROXMOX_SSL_INSECURE", p.insecure.to_string());
                m.insert(
                    "PROXMOX_CERT_FINGERPRINT",
                    p.fingerprint
                        .clone()
                        .unwrap_or_else(|| "(unset)".to_owned()),
                );
                m.insert(
                    "PROXMOX_CA_FILE",
                    p.ca_file
                        .as_ref()
                        .map(|p| p.display().to_string())
                        .unwrap_or_else(|| "(unset)".to_owned()),
                );
            }
        }
        m.insert(
            "PROXMOX_USER_REALM",
            self.proxmox_user_realm
                .clone()
                .unwrap_or_else(|| "(unset)".to_owned()),
        );
        m.insert("LDAP_URL", self.ldap.url.to_string());
        m.insert(
            "LDAP_BIND_DN",
            self.ldap
                .bind_dn
                .clone()
                .unwrap_or_else(|| "(unset)".to_owned()),
        );
        m.insert("LDAP_BIND_PASSWORD", secret(&self.ldap.bind_password));
        m.insert(
            "LDAP_BASE_DN",
            self.ldap
                .base_dn
                .clone()
                .unwrap_or_else(|| "(unset)".to_owned()),
        );
        m.insert(
            "LDAP_GROUPS_BASE_DN",
            self.ldap
                .groups_base_dn
                .clone()
                .unwrap_or_else(|| "(LDAP_BASE_DN)".to_owned()),
        );
        m.insert(
            "LDAP_USER_SEARCH_FILTER",
            self.ldap.user_search_filter.clone(),
        );
        m.insert("LDAP_SEARCH_ATTRIBUTES", list(&self.ldap.search_attributes));
        m.insert(
            "LDAP_ALLOW_INSECURE_TLS",
            self.ldap.allow_insecure_tls.to_string(),
        );
        m.insert("LDAP_STARTTLS", self.ldap.starttls.to_string());
        m.insert(
            "SECRET_COOKIE_PASSWORD",
            match &self.cookie_secret {
                Some(_) => "[redacted]".to_owned(),
                None => "(generated under UMA_DATA_DIR in demo mode)".to_owned(),
            },
        );
        m.insert("SESSION_TTL", self.session_ttl.to_string());
        m.insert("SESSION_MAX_AGE", self.session_max_age.to_string());
        m.insert(
            "SESSION_RECHECK_SECS",
            self.session_recheck.as_secs().to_string(),
        );
        m.insert(
            "RESOURCE_POLL_INTERVAL_MS",
            self.resource_poll_interval.as_millis().to_string(),
        );
        m.insert(
            "CONSOLE_MAX_PER_USER",
            self.console_max_per_user.to_string(),
        );
        m.insert(
            "CONSOLE_IDLE_TIMEOUT_SECS",
            self.console_idle_timeout.as_secs().to_string(),
        );
        m.insert("USE_SECURE_COOKIE", self.secure_cookie.to_string());
        m.insert(
            "COOKIE_DOMAIN",
            self.cookie_domain
                .clone()
                .unwrap_or_else(|| "(host only)".to_owned()),
        );
        m.insert(
            "ADMIN_GROUPS",
            if self.admin_groups.iter().any(|g| g.contains('=')) {
                self.admin_groups.join(";")
            } else {
                list(&self.admin_groups)
            },
        );
        m.insert(
            "DATABASE_URL",
            match &self.database {
                DatabaseConfig::Sqlite(p) => format!("sqlite://{}", p.display()),
                DatabaseConfig::MySql(u) => redact_url(u.expose()),
            },
        );
        m.insert(
            "REDIS_URL",
            self.redis_url
                .as_ref()
                .map(|u| redact_url(u.expose()))
                .unwrap_or_else(|| "(none: in-process limits)".to_owned()),
        );
        m.insert("REDIS_PASSWORD", secret(&self.redis_password));
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
        m.insert("MAX_VNETS_PER_USER", self.max_vnets_per_user.to_string());
        m.insert("METADATA_ALLOWED_HOSTS", list(&self.metadata_allowed_hosts));
        m.insert(
            "METADATA_ALLOWED_DOMAINS",
            list(&self.metadata_allowed_domains),
        );
        m.insert(
            "ALLOWED_PUBLIC_STORAGES",
            list(&self.allowed_public_storages),
        );
        m.insert("ALLOWED_PUBLIC_BRIDGES", list(&self.allowed_public_bridges));
        m.insert("PUBLIC_TEMPLATE_POOL", self.public_template_pool.clone());
        m.insert("MAX_POOLS_PER_USER", self.max_pools_per_user.to_string());
        m.insert("NEXT_IMAGE_REMOTE_HOSTS", list(&self.image_remote_hosts));
        m.insert("UMA_ADMIN_PASSWORD", secret(&self.admin_password));
        m
    }
}

/// `ADMIN_GROUPS`: entries separated by `;` when there is one; otherwise one DN when the value
/// has an `=` (DNs have commas of their own), else group names separated by commas.
pub fn group_list(raw: &str) -> Vec<String> {
    let items: Vec<&str> = if raw.contains(';') {
        raw.split(';').collect()
    } else if raw.contains('=') {
        vec![raw]
    } else {
        raw.split(',').collect()
    };
    items
        .into_iter()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn parse_database_url(r: &mut Reader<'_>, url: &str) -> DatabaseConfig {
    if let Some(rest) = url.strip_prefix("sqlite:") {
        let path = rest.trim_start_matches("//");
        let path = path.split('?').next().unwrap_or(path);
        if path.is_empty() {
            r.problem("DATABASE_URL", "sqlite: URL has no file path");
        }
        return DatabaseConfig::Sqlite(PathBuf::from(path));
    }
    match Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "mysql" | "mariadb") => {
            if !u.has_host() {
                r.problem("DATABASE_URL", format!("'{}' has no host", redact_url(url)));
            }
            if u.path().trim_start_matches('/').is_empty() {
                r.problem(
                    "DATABASE_URL",
                    format!(
                        "'{}' names no database (mysql://user:pass@host:3306/uma)",
                        redact_url(url)
                    ),
                );
            }
            let normalized = if u.scheme() == "mariadb" {
                format!("mysql{}", &url["mariadb".len()..])
            } else {
                url.to_owned()
            };
            DatabaseConfig::MySql(Secret::new(normalized))
        }
        Ok(u) => {
            r.problem(
                "DATABASE_URL",
                format!(
                    "scheme '{}' is not supported; use mysql://… (MariaDB) or sqlite://path",
                    u.scheme()
                ),
            );
            DatabaseConfig::Sqlite(PathBuf::from("data/uma.db"))
        }
        Err(e) => {
            r.problem(
                "DATABASE_URL",
                format!("'{}' is not a valid URL ({e})", redact_url(url)),
            );
            DatabaseConfig::Sqlite(PathBuf::from("data/uma.db"))
        }
    }
}

fn valid_token_id(id: &str) -> bool {
    let Some((user, token)) = id.split_once('!') else {
        return false;
    };
    let Some((name, realm)) = user.split_once('@') else {
        return false;
    };
    !name.is_empty() && !realm.is_empty() && !token.is_empty()
}

/// Parses a SHA-256 fingerprint (`AA:BB:…` or plain hex) into 32 bytes.
pub fn parse_fingerprint(text: &str) -> Option<[u8; 32]> {
    let hex_digits: String = text.chars().filter(|c| *c != ':').collect();
    let bytes = hex::decode(hex_digits).ok()?;
    bytes.try_into().ok()
}

fn unknown_keys(vars: &HashMap<String, String>) -> Vec<String> {
    let mut unknown: Vec<String> = vars
        .keys()
        .filter(|k| OWN_PREFIXES.iter().any(|p| k.starts_with(p)))
        .filter(|k| {
            let base = k.strip_suffix("_FILE").unwrap_or(k);
            !KEYS.iter().any(|(known, _, _)| *known == base)
                && !DEPLOYMENT_KEYS.contains(&k.as_str())
        })
        .cloned()
        .collect();
    unknown.sort();
    unknown
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn admin_groups_may_be_dns() {
        assert_eq!(group_list("admins, ops"), ["admins", "ops"]);
        assert_eq!(
            group_list("cn=admins,ou=groups,dc=x"),
            ["cn=admins,ou=groups,dc=x"]
        );
        assert_eq!(
            group_list("cn=a,dc=x; cn=b,dc=x ;"),
            ["cn=a,dc=x", "cn=b,dc=x"]
        );
        assert!(group_list("").is_empty());
    }

    #[test]
    fn debug_output_never_shows_a_secret() {
        let secrets = [
            ("PROXMOX_TOKEN_SECRET", "token-secret-value-1"),
            (
                "SECRET_COOKIE_PASSWORD",
                "cookie-secret-value-0123456789-abcdef",
            ),
            ("LDAP_BIND_PASSWORD", "ldap-bind-password-2"),
            ("REDIS_PASSWORD", "redis-password-3"),
            ("UMA_ADMIN_PASSWORD", "admin-password-4"),
        ];
        let mut vars: HashMap<String, String> = secrets
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        for (k, v) in [
            ("PROXMOX_URL", "https://pve.example:8006"),
            ("PROXMOX_TOKEN_ID", "root@pam!uma"),
            ("LDAP_BIND_DN", "cn=svc,dc=example,dc=com"),
            ("LDAP_BASE_DN", "dc=example,dc=com"),
            ("DATABASE_URL", "mysql://uma:db-password-5@db:3306/uma"),
            ("REDIS_URL", "redis://:redis-url-password-6@redis:6379"),
        ] {
            vars.insert(k.to_owned(), v.to_owned());
        }
        let c = Config::from_vars(&vars).unwrap();
        let shown = format!("{c:?} {c:#?} {:?}", c.effective());
        for secret in secrets
            .iter()
            .map(|(_, v)| *v)
            .chain(["db-password-5", "redis-url-password-6"])
        {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
    }

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn problems(pairs: &[(&str, &str)]) -> Vec<Problem> {
        Config::from_vars(&vars(pairs)).err().unwrap_or_default()
    }

    #[test]
    fn defaults_are_the_originals() {
        let c = Config::from_vars(&vars(&[])).unwrap();
        assert_eq!(c.port, 3004);
        assert_eq!(c.session_ttl, 28800);
        assert!(c.secure_cookie);
        assert!(c.is_demo());
        assert_eq!(c.ldap.user_search_filter, "(sAMAccountName={{username}})");
        assert_eq!(
            c.ldap.search_attributes,
            ["sAMAccountName", "cn", "memberOf", "mail", "displayName"]
        );
        assert!(
            matches!(c.database, DatabaseConfig::Sqlite(ref p) if p == Path::new("data/uma.db"))
        );
        assert!(c.redis_url.is_none());
        assert!(
            c.trusted_proxies.is_empty(),
            "no proxy is trusted by default"
        );
    }

    #[test]
    fn short_cookie_secret_is_refused() {
        let p = problems(&[("SECRET_COOKIE_PASSWORD", "short")]);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].key, "SECRET_COOKIE_PASSWORD");
        assert!(p[0].message.contains("at least 32"));
    }

    #[test]
    fn production_guards() {
        let secret = "x".repeat(40);
        let p = problems(&[
            ("UMA_ENV", "production"),
            ("SECRET_COOKIE_PASSWORD", &secret),
            ("SESSION_TTL", "50000"),
            ("USE_SECURE_COOKIE", "false"),
        ]);
        let keys: Vec<_> = p.iter().map(|p| p.key).collect();
        assert_eq!(keys, ["SESSION_TTL", "USE_SECURE_COOKIE"]);
        let ok = Config::from_vars(&vars(&[
            ("NODE_ENV", "production"),
            ("SECRET_COOKIE_PASSWORD", &secret),
            ("USE_SECURE_COOKIE", "false"),
            ("UMA_ALLOW_INSECURE_COOKIE", "true"),
        ]));
        assert!(ok.is_ok(), "{ok:?}");
        let p = problems(&[("UMA_ENV", "production")]);
        assert_eq!(p[0].key, "SECRET_COOKIE_PASSWORD");
    }

    #[test]
    fn malformed_urls_each_give_one_line() {
        let p = problems(&[
            ("PROXMOX_URL", "ftp://pve"),
            ("DATABASE_URL", "postgres://x@y/z"),
            ("REDIS_URL", "not a url"),
            ("LDAP_URL", "http://dc"),
            ("SECRET_COOKIE_PASSWORD", &"s".repeat(32)),
        ]);
        let keys: Vec<_> = p.iter().map(|p| p.key).collect();
        assert!(keys.contains(&"PROXMOX_URL"), "{keys:?}");
        assert!(keys.contains(&"DATABASE_URL"), "{keys:?}");
        assert!(keys.contains(&"REDIS_URL"), "{keys:?}");
        assert!(keys.contains(&"LDAP_URL"), "{keys:?}");
        for problem in &p {
            assert!(!problem.to_string().contains('\n'));
        }
    }

    #[test]
    fn remote_proxmox_needs_a_token_and_a_secret() {
        let p = problems(&[
            ("PROXMOX_URL", "https://pve:8006"),
            ("PROXMOX_TOKEN_ID", "root@pam"),
        ]);
        let keys: Vec<_> = p.iter().map(|p| p.key).collect();
        assert_eq!(
            keys,
            [
                "PROXMOX_TOKEN_ID",
                "PROXMOX_TOKEN_SECRET",
                "SECRET_COOKIE_PASSWORD"
            ]
        );
    }

    #[test]
    fn secrets_come_from_files_and_are_redacted() {
        let dir = std::env::temp_dir().join(format!("uma-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("cookie");
        std::fs::write(&file, format!("{}\n", "k".repeat(48))).unwrap();
        let c = Config::from_vars(&vars(&[(
            "SECRET_COOKIE_PASSWORD_FILE",
            file.to_str().unwrap(),
        )]))
        .unwrap();
        assert_eq!(c.cookie_secret.as_ref().unwrap().expose(), "k".repeat(48));
        let debug = format!("{c:?}");
        assert!(!debug.contains(&"k".repeat(48)));
        assert!(c.effective().values().all(|v| !v.contains(&"k".repeat(48))));
        let both = problems(&[
            ("SECRET_COOKIE_PASSWORD_FILE", file.to_str().unwrap()),
            ("SECRET_COOKIE_PASSWORD", &"z".repeat(40)),
        ]);
        assert_eq!(both[0].key, "SECRET_COOKIE_PASSWORD");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn database_url_password_is_redacted() {
        let c = Config::from_vars(&vars(&[(
            "DATABASE_URL",
            "mysql://uma:hunter2@db:3306/uma",
        )]))
        .unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
        assert!(!c.effective()["DATABASE_URL"].contains("hunter2"));
        assert_eq!(c.database.describe(), "MariaDB (db:3306/uma)");
    }

    #[test]
    fn unknown_own_keys_are_reported() {
        let c = Config::from_vars(&vars(&[("PROXMOX_TOKNE_ID", "x"), ("HOME", "/root")])).unwrap();
        assert_eq!(c.unknown_keys, ["PROXMOX_TOKNE_ID"]);
    }

    #[test]
    fn env_example_documents_every_key() {
        let example = include_str!("../.env.example");
        let doc = include_str!("../docs/environment.md");
        for (key, _, _) in KEYS {
            assert!(example.contains(key), ".env.example lacks {key}");
            assert!(
                doc.contains(&format!("`{key}`")),
                "docs/environment.md lacks {key}"
            );
        }
    }
}
