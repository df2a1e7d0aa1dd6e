//! Configuration: the original's environment variables (same names, same defaults), read from the
//! process environment over `.env.local` over `.env`, with `NAME_FILE` for every secret, validated
//! once at start-up into one typed [`Config`].
//!
//! One file per section; each owns its variables (name, default, secret), how they are read and
//! checked, and how `uma check-config` shows them: `server`, `proxmox`, `tenancy`, `ldap`,
//! `sessions`, `stores` (database and Redis), `web` (proxies and origins), `oidc` (OpenID Connect
//! providers). `reader.rs` reads the raw values.

mod ldap;
mod oidc;
mod proxmox;
mod reader;
mod server;
mod sessions;
mod stores;
mod tenancy;
mod web;

use std::collections::{BTreeMap, HashMap};

pub use self::ldap::LdapConfig;
pub use self::oidc::{OidcConfig, OidcProvider};
pub use self::proxmox::{parse_fingerprint, Proxmox, ProxmoxConfig, ProxmoxMode};
use self::reader::Reader;
pub use self::reader::{load_env, redact_url, Problem};
pub use self::server::{LogFormat, Server};
pub use self::sessions::{group_list, Sessions};
pub use self::stores::{DatabaseConfig, Redis};
pub use self::tenancy::Tenancy;
pub use self::web::Web;
pub use crate::secret::Secret;

/// A variable: its name, its default, and whether it is secret.
type Key = (&'static str, &'static str, bool);

/// Every variable Uma reads, section by section. `docs/environment.md` and `.env.example`
/// document exactly these (a test keeps them in step).
pub fn keys() -> impl Iterator<Item = &'static Key> {
    [
        server::KEYS,
        proxmox::KEYS,
        tenancy::KEYS,
        ldap::KEYS,
        sessions::KEYS,
        stores::KEYS,
        web::KEYS,
        oidc::KEYS,
    ]
    .into_iter()
    .flatten()
}

/// The whole validated configuration, by section.
#[derive(Debug, Clone)]
pub struct Config {
    /// Environment, listener, data folder, logs.
    pub server: Server,
    /// The cluster Uma drives.
    pub proxmox: Proxmox,
    /// What tenants may use and how much.
    pub tenancy: Tenancy,
    /// LDAP sign-in.
    pub ldap: LdapConfig,
    /// Sign-in sessions and their cookie.
    pub session: Sessions,
    /// `DATABASE_URL` (SQLite under the data folder when unset).
    pub database: DatabaseConfig,
    /// Redis, when instances share the work.
    pub redis: Redis,
    /// Proxies and origins.
    pub web: Web,
    /// OpenID Connect providers.
    pub oidc: OidcConfig,
    /// Variables that look like ours but are not known (warned about at start).
    pub unknown_keys: Vec<String>,
    /// Settings that work but should change (deprecated names), warned about at start.
    pub warnings: Vec<String>,
}

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
const OWN_PREFIXES: &[&str] = &[
    "UMA_",
    "PROXMOX_",
    "LDAP_",
    "SESSION_",
    "RATE_LIMIT_",
    "OIDC_",
];

/// `value`'s text through `show`, or `(unset)`.
fn unset<T>(value: &Option<T>, show: impl Fn(&T) -> String) -> String {
    value
        .as_ref()
        .map(show)
        .unwrap_or_else(|| "(unset)".to_owned())
}

/// A list as `a,b`, or `(none)`.
fn list(items: &[String]) -> String {
    if items.is_empty() {
        "(none)".to_owned()
    } else {
        items.join(",")
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
        let mut warnings = Vec::new();
        let server = Server::read(&mut r);
        let proxmox = Proxmox::read(&mut r);
        let demo = matches!(proxmox.mode, ProxmoxMode::Embedded { .. });
        let tenancy = Tenancy::read(&mut r);
        let ldap = LdapConfig::read(&mut r);
        let session = Sessions::read(&mut r, server.production, demo);
        let database = DatabaseConfig::read(&mut r, &server.data_dir);
        let redis = Redis::read(&mut r);
        let web = Web::read(&mut r, &mut warnings);
        let oidc = OidcConfig::read(&mut r);
        if server.production && !oidc.providers.is_empty() && web.app_origin.is_none() {
            r.problem(
                "APP_ORIGIN",
                "required in production with OIDC_PROVIDERS: the providers' redirect URIs are built from it",
            );
        }
        let unknown_keys = unknown_keys(vars, &oidc);
        match ldap {
            Some(ldap) if r.problems.is_empty() => Ok(Config {
                server,
                proxmox,
                tenancy,
                ldap,
                session,
                database,
                redis,
                web,
                oidc,
                unknown_keys,
                warnings,
            }),
            _ => Err(r.problems),
        }
    }

    /// How long a session lives without activity, in milliseconds (`None`: no idle limit).
    pub fn session_idle_ms(&self) -> Option<i64> {
        (self.session.ttl > 0)
            .then(|| i64::try_from(self.session.ttl.saturating_mul(1000)).unwrap_or(i64::MAX))
    }

    /// How long a session lives at most from sign-in, in milliseconds (`None`: no cap).
    pub fn session_max_age_ms(&self) -> Option<i64> {
        (self.session.max_age > 0)
            .then(|| i64::try_from(self.session.max_age.saturating_mul(1000)).unwrap_or(i64::MAX))
    }

    /// True when Proxmox is the in-process simulator.
    pub fn is_demo(&self) -> bool {
        matches!(self.proxmox.mode, ProxmoxMode::Embedded { .. })
    }

    /// The effective settings as `(key, value)` lines, secrets redacted, for `uma check-config`.
    pub fn effective(&self) -> BTreeMap<&'static str, String> {
        let mut m = BTreeMap::new();
        self.server.show(&mut m);
        self.proxmox.show(&mut m);
        self.tenancy.show(&mut m);
        self.ldap.show(&mut m);
        self.session.show(&mut m);
        self.database.show(&mut m);
        self.redis.show(&mut m);
        self.web.show(&mut m);
        self.oidc.show(&mut m);
        m
    }
}

fn unknown_keys(vars: &HashMap<String, String>, oidc: &OidcConfig) -> Vec<String> {
    let mut unknown: Vec<String> = vars
        .keys()
        .filter(|k| OWN_PREFIXES.iter().any(|p| k.starts_with(p)))
        .filter(|k| {
            let base = k.strip_suffix("_FILE").unwrap_or(k);
            !keys().any(|(known, _, _)| *known == base)
                && !DEPLOYMENT_KEYS.contains(&k.as_str())
                && !oidc.knows(base)
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
        assert_eq!(c.server.port, 3004);
        assert_eq!(c.session.ttl, 28800);
        assert!(c.session.secure_cookie);
        assert!(c.is_demo());
        assert_eq!(c.ldap.user_search_filter, "(sAMAccountName={{username}})");
        assert_eq!(
            c.ldap.search_attributes,
            ["sAMAccountName", "cn", "memberOf", "mail", "displayName"]
        );
        assert!(
            matches!(c.database, DatabaseConfig::Sqlite(ref p) if p == std::path::Path::new("data/uma.db"))
        );
        assert!(c.redis.url.is_none());
        assert!(
            c.web.trusted_proxies.is_empty(),
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
        assert_eq!(
            c.session.cookie_secret.as_ref().unwrap().expose(),
            "k".repeat(48)
        );
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
        let example = include_str!("../../.env.example");
        let doc = include_str!("../../docs/environment.md");
        for (key, _, _) in keys() {
            assert!(example.contains(key), ".env.example lacks {key}");
            assert!(
                doc.contains(&format!("`{key}`")),
                "docs/environment.md lacks {key}"
            );
        }
    }
}
