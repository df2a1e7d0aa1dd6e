//! Sign-in sessions: the cookie and its secret, how long a session lives, how often records are
//! re-read, and which directory groups are administrators.

use std::collections::BTreeMap;
use std::time::Duration;

use super::reader::Reader;
use super::{list, Key};
use crate::secret::Secret;

/// This section's variables: name, default, secret.
pub(super) const KEYS: &[Key] = &[
    ("SECRET_COOKIE_PASSWORD", "", true),
    ("SESSION_TTL", "28800", false),
    ("SESSION_MAX_AGE", "86400", false),
    ("SESSION_RECHECK_SECS", "10", false),
    ("USE_SECURE_COOKIE", "true", false),
    ("UMA_ALLOW_INSECURE_COOKIE", "false", false),
    ("COOKIE_DOMAIN", "", false),
    ("ADMIN_GROUPS", "", false),
];

/// The sessions section.
#[derive(Debug, Clone)]
pub struct Sessions {
    /// Cookie secret; `None` in demo mode until one is generated under the data folder.
    pub cookie_secret: Option<Secret>,
    /// `SESSION_TTL`: the idle lifetime of a session in seconds; each request or socket event
    /// extends it (0 = no idle limit, not allowed in production).
    pub ttl: u64,
    /// `SESSION_MAX_AGE`: the absolute lifetime of a session from sign-in, in seconds, whatever
    /// the activity (0 = no cap, not allowed in production).
    pub max_age: u64,
    /// `SESSION_RECHECK_SECS`: how often each instance re-reads the records of the sessions it
    /// holds sockets or consoles for, so that ends it was not told about (another process, an
    /// instance without Redis) close them within this time.
    pub recheck: Duration,
    /// `USE_SECURE_COOKIE`.
    pub secure_cookie: bool,
    /// `COOKIE_DOMAIN`.
    pub cookie_domain: Option<String>,
    /// `ADMIN_GROUPS`.
    pub admin_groups: Vec<String>,
}

impl Sessions {
    /// `production` and `demo` decide what is required and allowed.
    pub(super) fn read(r: &mut Reader<'_>, production: bool, demo: bool) -> Self {
        let cookie_secret = r.secret("SECRET_COOKIE_PASSWORD");
        match &cookie_secret {
            Some(s) if s.expose().chars().count() < 32 => r.problem(
                "SECRET_COOKIE_PASSWORD",
                format!(
                    "must be at least 32 characters (it has {}); `uma secrets generate` makes one",
                    s.expose().chars().count()
                ),
            ),
            None if !demo || production => r.problem(
                "SECRET_COOKIE_PASSWORD",
                "required outside demo mode (32+ characters); `uma secrets generate` makes one",
            ),
            _ => {}
        }
        let ttl = r
            .number::<u64>("SESSION_TTL", "a whole number of seconds")
            .unwrap_or(28800);
        if production && ttl == 0 {
            r.problem("SESSION_TTL", "0 (no expiry) is not allowed in production");
        }
        if production && ttl > 43200 {
            r.problem(
                "SESSION_TTL",
                format!("{ttl} s is above the production maximum of 43200 (12 h)"),
            );
        }
        let max_age = r
            .number::<u64>("SESSION_MAX_AGE", "a whole number of seconds")
            .unwrap_or(86400);
        if production && max_age == 0 {
            r.problem("SESSION_MAX_AGE", "0 (no cap) is not allowed in production");
        }
        if production && max_age > 7 * 86400 {
            r.problem(
                "SESSION_MAX_AGE",
                format!("{max_age} s is above the production maximum of 604800 (7 days)"),
            );
        }
        if max_age > 0 && ttl > max_age {
            r.problem(
                "SESSION_MAX_AGE",
                format!(
                    "{max_age} s is shorter than SESSION_TTL ({ttl} s); the cap must be at least the idle lifetime"
                ),
            );
        }
        let recheck = r
            .number::<u64>("SESSION_RECHECK_SECS", "a whole number of seconds")
            .unwrap_or(10);
        if !(1..=300).contains(&recheck) {
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
        Self {
            cookie_secret,
            ttl,
            max_age,
            recheck: Duration::from_secs(recheck),
            secure_cookie,
            cookie_domain: r.opt("COOKIE_DOMAIN"),
            admin_groups: group_list(&r.string("ADMIN_GROUPS")),
        }
    }

    pub(super) fn show(&self, m: &mut BTreeMap<&'static str, String>) {
        m.insert(
            "SECRET_COOKIE_PASSWORD",
            match &self.cookie_secret {
                Some(_) => "[redacted]".to_owned(),
                None => "(generated under UMA_DATA_DIR in demo mode)".to_owned(),
            },
        );
        m.insert("SESSION_TTL", self.ttl.to_string());
        m.insert("SESSION_MAX_AGE", self.max_age.to_string());
        m.insert("SESSION_RECHECK_SECS", self.recheck.as_secs().to_string());
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
