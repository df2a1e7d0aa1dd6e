//! Proxmox: the embedded simulator or a real cluster, how Uma trusts its certificate, the realm
//! of its users, and how often the cluster is read.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use url::Url;

use super::reader::Reader;
use super::{unset, Key};
use crate::secret::Secret;

/// This section's variables: name, default, secret.
pub(super) const KEYS: &[Key] = &[
    ("UMA_DEMO_SCENARIO", "demo", false),
    ("PROXMOX_URL", "", false),
    ("PROXMOX_TOKEN_ID", "", false),
    ("PROXMOX_TOKEN_SECRET", "", true),
    ("PROXMOX_USER_REALM", "", false),
    ("PROXMOX_SSL_INSECURE", "false", false),
    ("PROXMOX_CERT_FINGERPRINT", "", false),
    ("PROXMOX_CA_FILE", "", false),
    ("RESOURCE_POLL_INTERVAL_MS", "2000", false),
];

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

/// The Proxmox section.
#[derive(Debug, Clone)]
pub struct Proxmox {
    /// The embedded simulator or a real cluster.
    pub mode: ProxmoxMode,
    /// `PROXMOX_USER_REALM` (`pve` for the embedded cluster when unset).
    pub user_realm: Option<String>,
    /// `RESOURCE_POLL_INTERVAL_MS`: how often the cluster is read while someone watches.
    pub poll_interval: Duration,
}

impl Proxmox {
    pub(super) fn read(r: &mut Reader<'_>) -> Self {
        let mode = match r.url("PROXMOX_URL", &["https", "http"]) {
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
        let user_realm = r
            .opt("PROXMOX_USER_REALM")
            .or_else(|| matches!(mode, ProxmoxMode::Embedded { .. }).then(|| "pve".to_owned()));
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
        Self {
            mode,
            user_realm,
            poll_interval: Duration::from_millis(poll_ms),
        }
    }

    pub(super) fn show(&self, m: &mut BTreeMap<&'static str, String>) {
        match &self.mode {
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
                    unset(&p.fingerprint, Clone::clone),
                );
                m.insert(
                    "PROXMOX_CA_FILE",
                    unset(&p.ca_file, |p| p.display().to_string()),
                );
            }
        }
        m.insert("PROXMOX_USER_REALM", unset(&self.user_realm, Clone::clone));
        m.insert(
            "RESOURCE_POLL_INTERVAL_MS",
            self.poll_interval.as_millis().to_string(),
        );
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
