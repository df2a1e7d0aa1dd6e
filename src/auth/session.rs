//! Sessions: an opaque random id in a signed cookie (HMAC-SHA256 with a key derived from the
//! cookie secret), the record in the store, and a session actor while the session is live.

use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::config::{Config, Secret};
use crate::error::AppError;
use crate::store::auth::SessionRecord;
use crate::store::now_ms;
use uma_actors::sessions::SessionIdentity;

use super::records::SessionRecords;

/// Name of the session cookie.
pub const COOKIE: &str = "uma_session";
/// Name of the pre-login CSRF cookie.
pub const CSRF_COOKIE: &str = "uma_csrf";

type HmacSha256 = Hmac<Sha256>;

/// Signs and verifies cookie values.
#[derive(Clone)]
pub struct CookieSigner {
    key: [u8; 32],
}

impl std::fmt::Debug for CookieSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CookieSigner")
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// 32 random bytes, base64url.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    b64(&bytes)
}

impl CookieSigner {
    /// A signer keyed from the cookie secret.
    pub fn new(secret: &Secret) -> Self {
        let mut h = Sha256::new();
        h.update(b"uma-cookie-v1\0");
        h.update(secret.expose().as_bytes());
        Self {
            key: h.finalize().into(),
        }
    }

    fn mac(&self, purpose: &str, value: &str) -> String {
        // HMAC accepts keys of any length; 32 bytes never fails.
        let Ok(mut mac) = HmacSha256::new_from_slice(&self.key) else {
            return String::new();
        };
        mac.update(purpose.as_bytes());
        mac.update(b"\0");
        mac.update(value.as_bytes());
        b64(&mac.finalize().into_bytes())
    }

    /// `value.signature` for a cookie of this purpose.
    pub fn sign(&self, purpose: &str, value: &str) -> String {
        format!("{value}.{}", self.mac(purpose, value))
    }

    /// The value of a signed cookie, if the signature holds.
    pub fn verify<'a>(&self, purpose: &str, signed: &'a str) -> Option<&'a str> {
        let (value, sig) = signed.rsplit_once('.')?;
        let expected = self.mac(purpose, value);
        constant_time_eq(expected.as_bytes(), sig.as_bytes()).then_some(value)
    }
}

/// Compares two byte strings in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The value of cookie `name` in a `Cookie` header.
pub fn cookie_value<'a>(headers: &'a http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// Cookie attributes from the configuration.
#[derive(Debug, Clone)]
pub struct CookiePolicy {
    /// `Secure` flag.
    pub secure: bool,
    /// `Domain` attribute.
    pub domain: Option<String>,
}

impl CookiePolicy {
    /// A `Set-Cookie` value; `max_age` `None` makes a browser-session cookie, `Some(0)` deletes.
    pub fn set_cookie(&self, name: &str, value: &str, max_age: Option<u64>) -> String {
        self.cookie(name, value, max_age, true)
    }

    /// A `Set-Cookie` value the page's own script may read (no secret in it).
    pub fn script_cookie(&self, name: &str, value: &str, max_age: u64) -> String {
        self.cookie(name, value, Some(max_age), false)
    }

    fn cookie(&self, name: &str, value: &str, max_age: Option<u64>, http_only: bool) -> String {
        let mut c = format!("{name}={value}; Path=/");
        if http_only {
            c.push_str("; HttpOnly");
        }
        c.push_str("; SameSite=Lax");
        if let Some(age) = max_age {
            c.push_str(&format!("; Max-Age={age}"));
        }
        if self.secure {
            c.push_str("; Secure");
        }
        if let Some(d) = &self.domain {
            c.push_str(&format!("; Domain={d}"));
        }
        c
    }
}

/// A loaded, valid session with its groups.
#[derive(Debug, Clone)]
pub struct CurrentSession {
    /// The record.
    pub record: SessionRecord,
    /// Group CNs.
    pub groups: Vec<String>,
    /// This request's activity extended the session (its cookie is sent again).
    pub extended: bool,
    /// The API token the request was made with, if it was.
    pub token: Option<crate::auth::tokens::Grant>,
}

impl CurrentSession {
    /// Wraps a record.
    pub fn new(record: SessionRecord) -> Self {
        let groups = serde_json::from_str(&record.groups_json).unwrap_or_default();
        Self {
            record,
            groups,
            extended: false,
            token: None,
        }
    }
    /// Login name.
    pub fn username(&self) -> &str {
        &self.record.username
    }
    /// Admin flag.
    pub fn is_admin(&self) -> bool {
        self.record.is_admin
    }
    /// The user JSON the original's routes return.
    pub fn user_json(&self) -> serde_json::Value {
        serde_json::json!({
            "username": self.record.username,
            "displayName": self.record.display_name.clone().unwrap_or_else(|| self.record.username.clone()),
            "isAdmin": self.record.is_admin,
            "groups": self.groups,
            "authSource": self.record.auth_source,
        })
    }
    /// Whether the record is usable at `now` (not revoked, not expired).
    pub fn is_live(record: &SessionRecord, now: i64) -> bool {
        record.revoked_at.is_none() && record.expires_at > now
    }
}

/// How often activity is written at most: a minute, or a quarter of the idle lifetime when that
/// is shorter (so a short `SESSION_TTL` still slides).
pub fn touch_every_ms(config: &Config) -> i64 {
    config
        .session_idle_ms()
        .map_or(60_000, |idle| (idle / 4).clamp(250, 60_000))
}

/// When a session active at `now` expires: `SESSION_TTL` after `now`, but never later than
/// `SESSION_MAX_AGE` after sign-in (`created_at`). Neither set: a far horizon.
pub fn expiry_after_activity(config: &Config, created_at: i64, now: i64) -> i64 {
    let idle = config
        .session_idle_ms()
        .map_or(i64::MAX / 2, |ms| now.saturating_add(ms));
    let cap = config
        .session_max_age_ms()
        .map_or(i64::MAX / 2, |ms| created_at.saturating_add(ms));
    idle.min(cap)
}

/// Records activity on `record` at `now` when it is due: the session then lives `SESSION_TTL`
/// longer (up to its absolute cap). Returns whether it was written.
pub async fn touch(
    records: &SessionRecords,
    config: &Config,
    record: &mut SessionRecord,
    now: i64,
) -> Result<bool, AppError> {
    if now - record.last_seen_at <= touch_every_ms(config) {
        return Ok(false);
    }
    let expires_at = expiry_after_activity(config, record.created_at, now);
    records.touch(&record.id, now, expires_at).await?;
    record.last_seen_at = now;
    record.expires_at = expires_at;
    Ok(true)
}

/// The session a request's cookies name, if any and valid; activity extends it (see [`touch`]).
pub async fn load(
    signer: &CookieSigner,
    records: &SessionRecords,
    config: &Config,
    headers: &http::HeaderMap,
) -> Result<Option<CurrentSession>, AppError> {
    let Some(raw) = cookie_value(headers, COOKIE) else {
        return Ok(None);
    };
    let Some(id) = signer.verify(COOKIE, raw) else {
        return Ok(None);
    };
    let Some(mut record) = records.get(id).await? else {
        return Ok(None);
    };
    let now = now_ms();
    if !CurrentSession::is_live(&record, now) {
        return Ok(None);
    }
    let touched = touch(records, config, &mut record, now).await?;
    let mut current = CurrentSession::new(record);
    current.extended = touched;
    Ok(Some(current))
}

/// What the session actor knows of a session.
pub fn identity_of(s: &CurrentSession) -> SessionIdentity {
    SessionIdentity {
        session_id: s.record.id.clone(),
        username: s.record.username.clone(),
        is_admin: s.record.is_admin,
        expires_at_ms: Some(s.record.expires_at),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn signatures_hold_and_tampering_fails() {
        let s = CookieSigner::new(&Secret::new("x".repeat(40)));
        let signed = s.sign("session", "abc");
        assert_eq!(s.verify("session", &signed), Some("abc"));
        assert_eq!(s.verify("csrf", &signed), None, "purposes do not mix");
        assert_eq!(s.verify("session", &signed.replace("abc", "abd")), None);
        let other = CookieSigner::new(&Secret::new("y".repeat(40)));
        assert_eq!(other.verify("session", &signed), None);
        assert_eq!(s.verify("session", "no-dot"), None);
    }

    #[test]
    fn cookies_are_parsed() {
        let mut h = http::HeaderMap::new();
        h.insert(
            http::header::COOKIE,
            "a=1; uma_session=v.s ; b=2".parse().unwrap(),
        );
        assert_eq!(cookie_value(&h, "uma_session"), Some("v.s"));
        assert_eq!(cookie_value(&h, "c"), None);
    }

    #[test]
    fn set_cookie_attributes() {
        let p = CookiePolicy {
            secure: true,
            domain: Some("example.com".into()),
        };
        assert_eq!(
            p.set_cookie("n", "v", Some(60)),
            "n=v; Path=/; HttpOnly; SameSite=Lax; Max-Age=60; Secure; Domain=example.com"
        );
        // What the page's script reads is not HttpOnly; the rest is the same.
        assert_eq!(
            p.script_cookie("t", "dark", 60),
            "t=dark; Path=/; SameSite=Lax; Max-Age=60; Secure; Domain=example.com"
        );
    }
}
