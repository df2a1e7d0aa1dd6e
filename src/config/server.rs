//! The server itself: environment, where it listens, where it keeps its data, how it logs, and
//! the local `admin` account's password.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::reader::Reader;
use super::{unset, Key};
use crate::secret::Secret;

/// This section's variables: name, default, secret.
pub(super) const KEYS: &[Key] = &[
    ("UMA_ENV", "development", false),
    ("NODE_ENV", "", false),
    ("HOSTNAME", "localhost", false),
    ("PORT", "3004", false),
    ("UMA_DATA_DIR", "data", false),
    ("UPLOAD_DIR", "", false),
    ("LOG_FORMAT", "human", false),
    ("LOG_LEVEL", "info", false),
    ("UMA_ADMIN_PASSWORD", "", true),
];

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Human,
    /// One JSON object per line.
    Json,
}

/// The server's own settings.
#[derive(Debug, Clone)]
pub struct Server {
    /// `UMA_ENV` / `NODE_ENV` is `production`.
    pub production: bool,
    /// Host to bind (`HOSTNAME`).
    pub hostname: String,
    /// Port to bind (`PORT`).
    pub port: u16,
    /// Folder for the SQLite file, generated secrets and uploads' metadata (`UMA_DATA_DIR`).
    pub data_dir: PathBuf,
    /// Folder for uploaded files (`UPLOAD_DIR`); empty: `uploads` under the data folder.
    pub upload_dir: Option<PathBuf>,
    /// Log format (`LOG_FORMAT`).
    pub log_format: LogFormat,
    /// Log filter (`RUST_LOG`, else `LOG_LEVEL`).
    pub log_filter: String,
    /// `UMA_ADMIN_PASSWORD`: creates or resets the local `admin` account.
    pub admin_password: Option<Secret>,
}

impl Server {
    /// Where uploaded files go: `UPLOAD_DIR`, else `uploads` under the data folder.
    pub fn upload_dir(&self) -> PathBuf {
        self.upload_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("uploads"))
    }

    pub(super) fn read(r: &mut Reader<'_>) -> Self {
        let env = r
            .opt("UMA_ENV")
            .or_else(|| r.opt("NODE_ENV"))
            .unwrap_or_else(|| "development".to_owned());
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
        let log_filter = r
            .vars
            .get("RUST_LOG")
            .cloned()
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| r.string("LOG_LEVEL"));
        Self {
            production: env.eq_ignore_ascii_case("production"),
            hostname: r.string("HOSTNAME"),
            port: r.number::<u16>("PORT", "a port number").unwrap_or(3004),
            data_dir: PathBuf::from(r.string("UMA_DATA_DIR")),
            upload_dir: Some(r.string("UPLOAD_DIR"))
                .filter(|d| !d.trim().is_empty())
                .map(PathBuf::from),
            log_format,
            log_filter,
            admin_password: r.secret("UMA_ADMIN_PASSWORD"),
        }
    }

    pub(super) fn show(&self, m: &mut BTreeMap<&'static str, String>) {
        let env = if self.production {
            "production"
        } else {
            "development"
        };
        m.insert("UMA_ENV", env.to_owned());
        m.insert("HOSTNAME", self.hostname.clone());
        m.insert("PORT", self.port.to_string());
        m.insert("UMA_DATA_DIR", self.data_dir.display().to_string());
        m.insert("UPLOAD_DIR", self.upload_dir().display().to_string());
        m.insert(
            "LOG_FORMAT",
            format!("{:?}", self.log_format).to_lowercase(),
        );
        m.insert("LOG_LEVEL", self.log_filter.clone());
        m.insert(
            "UMA_ADMIN_PASSWORD",
            unset(&self.admin_password, |_| "[redacted]".to_owned()),
        );
    }
}
