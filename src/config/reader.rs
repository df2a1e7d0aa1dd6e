//! Reading the variables: `.env` files under the process environment, `NAME_FILE` secrets,
//! defaults from the sections' key tables, and every problem collected rather than the first.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::path::Path;

use url::Url;

use crate::secret::Secret;

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
pub(super) struct Reader<'a> {
    pub(super) vars: &'a HashMap<String, String>,
    pub(super) problems: Vec<Problem>,
}

impl<'a> Reader<'a> {
    fn default_of(key: &str) -> &'static str {
        super::keys()
            .find(|(k, _, _)| *k == key)
            .map(|(_, d, _)| *d)
            .unwrap_or("")
    }

    /// The raw value (trimmed), or `NAME_FILE`'s content for secrets; `None` when empty.
    pub(super) fn raw(&mut self, key: &'static str) -> Option<String> {
        self.raw_named(key, key)
    }

    /// [`Self::raw`] for a variable whose name is made at run time (`OIDC_<NAME>_…`): `key` is
    /// the documented name its problems are filed under, `name` the variable read.
    pub(super) fn raw_named(&mut self, key: &'static str, name: &str) -> Option<String> {
        let direct = self
            .vars
            .get(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty());
        let file_key = format!("{name}_FILE");
        let from_file = self
            .vars
            .get(&file_key)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty());
        match (direct, from_file) {
            (Some(_), Some(_)) => {
                self.problems.push(Problem {
                    key,
                    message: format!("set either {name} or {file_key}, not both"),
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

    pub(super) fn string(&mut self, key: &'static str) -> String {
        self.raw(key)
            .unwrap_or_else(|| Self::default_of(key).to_owned())
    }

    pub(super) fn opt(&mut self, key: &'static str) -> Option<String> {
        self.raw(key)
    }

    pub(super) fn secret(&mut self, key: &'static str) -> Option<Secret> {
        self.raw(key).map(Secret::new)
    }

    pub(super) fn bool(&mut self, key: &'static str) -> bool {
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

    pub(super) fn number<T: std::str::FromStr>(
        &mut self,
        key: &'static str,
        what: &str,
    ) -> Option<T> {
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
    pub(super) fn networks(&mut self, key: &'static str) -> Vec<ipnet::IpNet> {
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

    pub(super) fn list(&mut self, key: &'static str) -> Vec<String> {
        self.string(key)
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }

    pub(super) fn url(&mut self, key: &'static str, schemes: &[&str]) -> Option<Url> {
        let value = self.opt(key)?;
        self.parse_url(key, &value, schemes)
    }

    pub(super) fn parse_url(
        &mut self,
        key: &'static str,
        value: &str,
        schemes: &[&str],
    ) -> Option<Url> {
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

    pub(super) fn problem(&mut self, key: &'static str, message: impl Into<String>) {
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
