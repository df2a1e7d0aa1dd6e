//! Where Uma keeps its state: the database (SQLite or MariaDB) and, when several instances
//! share the work, Redis.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use url::Url;

use super::reader::{redact_url, Reader};
use super::{unset, Key};
use crate::secret::Secret;

/// This section's variables: name, default, secret.
pub(super) const KEYS: &[Key] = &[
    ("DATABASE_URL", "", true),
    ("REDIS_URL", "", true),
    ("REDIS_PASSWORD", "", true),
    ("DISABLE_REDIS", "false", false),
];

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

impl DatabaseConfig {
    /// `DATABASE_URL`, or SQLite under `data_dir`.
    pub(super) fn read(r: &mut Reader<'_>, data_dir: &Path) -> Self {
        match r.opt("DATABASE_URL") {
            None => Self::Sqlite(data_dir.join("uma.db")),
            Some(url) => parse_database_url(r, &url),
        }
    }

    pub(super) fn show(&self, m: &mut BTreeMap<&'static str, String>) {
        m.insert(
            "DATABASE_URL",
            match self {
                Self::Sqlite(p) => format!("sqlite://{}", p.display()),
                Self::MySql(u) => redact_url(u.expose()),
            },
        );
    }
}

/// Redis, shared by the instances of a deployment.
#[derive(Debug, Clone)]
pub struct Redis {
    /// `REDIS_URL` unless `DISABLE_REDIS`; `None` means in-process limits and state.
    pub url: Option<Secret>,
    /// `REDIS_PASSWORD`.
    pub password: Option<Secret>,
}

impl Redis {
    pub(super) fn read(r: &mut Reader<'_>) -> Self {
        let disable = r.bool("DISABLE_REDIS");
        let url = match r.opt("REDIS_URL") {
            Some(u) if !disable => r
                .parse_url("REDIS_URL", &u, &["redis", "rediss"])
                .map(|_| Secret::new(u)),
            _ => None,
        };
        Self {
            url,
            password: r.secret("REDIS_PASSWORD"),
        }
    }

    pub(super) fn show(&self, m: &mut BTreeMap<&'static str, String>) {
        m.insert(
            "REDIS_URL",
            self.url
                .as_ref()
                .map(|u| redact_url(u.expose()))
                .unwrap_or_else(|| "(none: in-process limits)".to_owned()),
        );
        m.insert(
            "REDIS_PASSWORD",
            unset(&self.password, |_| "[redacted]".to_owned()),
        );
    }
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
