//! Second factors: who must use one (the administrators' policy), which ones a person has, and
//! checking a code. A person's factors are an authenticator app (TOTP), passkeys (see
//! [`super::passkeys`]) and, with the first of them, ten one-time recovery codes. Directory
//! (OpenID Connect) sign-ins bring their own factors and are not asked again.

use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::Digest;

use super::Identity;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::store::auth::SessionRecord;
use crate::store::{Store, StoreResult};

/// The setting key of the policy.
pub const POLICY_KEY: &str = "mfa";
/// How many recovery codes a person gets.
pub const RECOVERY_CODES: usize = 10;
/// How long a sign-in may wait for its second factor.
pub const CHALLENGE_TTL_MS: i64 = 10 * 60 * 1000;
/// Default minutes a second factor confirms sensitive actions for.
pub const DEFAULT_STEP_UP_MINUTES: u32 = 15;

/// Who must use a second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Require {
    /// Nobody (anyone may still set one up).
    #[default]
    None,
    /// Administrators.
    Admins,
    /// Everyone.
    Everyone,
    /// Members of the listed groups (and administrators when listed as such).
    Groups,
}

/// The administrators' policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Policy {
    /// Who must use a second factor.
    #[serde(default)]
    pub require: Require,
    /// The groups, when `require` is `groups` (names or DNs, as access groups are written).
    #[serde(default)]
    pub groups: Vec<String>,
    /// Minutes after a second factor during which sensitive actions are not asked again.
    #[serde(default = "default_step_up")]
    pub step_up_minutes: u32,
}

fn default_step_up() -> u32 {
    DEFAULT_STEP_UP_MINUTES
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            require: Require::None,
            groups: Vec::new(),
            step_up_minutes: DEFAULT_STEP_UP_MINUTES,
        }
    }
}

impl Policy {
    /// Reads the policy (the default when none was saved or it can't be read).
    pub async fn load(store: &Store) -> Policy {
        match store.config_value(POLICY_KEY).await {
            Ok(Some(v)) => serde_json::from_value(v).unwrap_or_default(),
            Ok(None) => Policy::default(),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the second-factor policy");
                Policy::default()
            }
        }
    }

    /// Whether `identity` must use a second factor (whose groups and admin flag are decided).
    pub fn requires(&self, identity: &Identity) -> bool {
        match self.require {
            Require::None => false,
            Require::Admins => identity.is_admin,
            Require::Everyone => true,
            Require::Groups => self.groups.iter().any(|g| super::in_group(identity, g)),
        }
    }

    /// Why the policy is refused, if it is.
    pub fn refusal(&self) -> Option<String> {
        if !(1..=24 * 60).contains(&self.step_up_minutes) {
            return Some("stepUpMinutes: between 1 and 1440".into());
        }
        if self.require == Require::Groups && self.groups.iter().all(|g| g.trim().is_empty()) {
            return Some("groups: name at least one group, or choose another rule".into());
        }
        if self.groups.len() > 100 || self.groups.iter().any(|g| g.len() > 512) {
            return Some("groups: at most 100, each at most 512 characters".into());
        }
        None
    }
}

/// A way to give a second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// A code from an authenticator app.
    Totp,
    /// A passkey.
    Webauthn,
    /// A one-time recovery code.
    Recovery,
}

impl Method {
    /// Its wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Totp => "totp",
            Method::Webauthn => "webauthn",
            Method::Recovery => "recovery",
        }
    }
}

/// The methods `user_id` can use now (empty: no second factor set up).
pub async fn methods(store: &Store, user_id: &str) -> StoreResult<Vec<Method>> {
    let mut out = Vec::new();
    if store
        .totp(user_id)
        .await?
        .is_some_and(|t| t.confirmed_at.is_some())
    {
        out.push(Method::Totp);
    }
    if store.has_passkey(user_id).await? {
        out.push(Method::Webauthn);
    }
    if !out.is_empty() && store.recovery_codes_left(user_id).await? > 0 {
        out.push(Method::Recovery);
    }
    Ok(out)
}

/// Checks a code of `user_id` and spends it: true when accepted (a TOTP step or a recovery code
/// works once, across instances).
pub async fn verify(
    store: &Store,
    user_id: &str,
    method: Method,
    code: &str,
    now_secs: i64,
) -> StoreResult<bool> {
    if code.len() > 64 {
        return Ok(false);
    }
    match method {
        Method::Totp => {
            let Some(row) = store.totp(user_id).await? else {
                return Ok(false);
            };
            if row.confirmed_at.is_none() {
                return Ok(false);
            }
            match super::totp::matching_step(&row.secret, code, now_secs, row.last_step) {
                Some(step) => store.spend_totp_step(user_id, step).await,
                None => Ok(false),
            }
        }
        Method::Recovery => {
            store
                .spend_recovery_code(user_id, &recovery_hash(code))
                .await
        }
        // A passkey is no code: see `super::passkeys::finish_authentication`.
        Method::Webauthn => Ok(false),
    }
}

/// Whether the policy asks the holder of a session for a second factor (groups by name: a
/// session keeps group names, not directory DNs). Only local and directory accounts are asked.
pub fn session_requires(policy: &Policy, record: &SessionRecord) -> bool {
    if !matches!(record.auth_source.as_str(), "local" | "ldap") {
        return false;
    }
    let identity = Identity {
        username: record.username.clone(),
        display_name: None,
        groups: serde_json::from_str(&record.groups_json).unwrap_or_default(),
        group_dns: Vec::new(),
        is_admin: record.is_admin,
        source: "local",
    };
    policy.requires(&identity)
}

/// Refuses a sensitive action (`step_up_required`) unless the session's holder gave a second
/// factor within the policy's minutes. People without one pass, unless the policy asks them for
/// one; sessions of other kinds (API tokens, OpenID Connect) pass.
pub async fn ensure_recent(store: &Store, record: &SessionRecord, now: i64) -> AppResult<()> {
    if !matches!(record.auth_source.as_str(), "local" | "ldap") {
        return Ok(());
    }
    // A session whose person has no user row has no second factor either.
    let user_id = match &record.user_id {
        Some(id) => Some(id.clone()),
        None => store
            .user_by_username(&record.username)
            .await?
            .map(|u| u.id),
    };
    let policy = Policy::load(store).await;
    let has = match &user_id {
        Some(id) => !methods(store, id).await?.is_empty(),
        None => false,
    };
    if !has {
        if session_requires(&policy, record) {
            return Err(AppError::with_message(
                ErrorCode::StepUpRequired,
                "Set up a passkey or an authenticator app first (Settings → Passkeys and second factor): this needs a second factor.",
            ));
        }
        return Ok(());
    }
    let window = i64::from(policy.step_up_minutes) * 60_000;
    if record.factor_at.is_some_and(|at| now - at <= window) {
        return Ok(());
    }
    Err(AppError::with_message(
        ErrorCode::StepUpRequired,
        "Confirm it's you with your passkey or a code from your authenticator app.",
    ))
}

/// Adding a second factor from a session: when the person has one already, it must have been
/// given within the policy's minutes (`step_up_required` otherwise), so that a stolen session
/// can't add its own.
pub async fn ensure_recent_to_add(
    store: &Store,
    record: &SessionRecord,
    user_id: &str,
    now: i64,
) -> AppResult<()> {
    if methods(store, user_id).await?.is_empty() {
        return Ok(());
    }
    let window = i64::from(Policy::load(store).await.step_up_minutes) * 60_000;
    if record.factor_at.is_some_and(|at| now - at <= window) {
        return Ok(());
    }
    Err(AppError::with_message(
        ErrorCode::StepUpRequired,
        "Confirm it's you with a second factor you have before adding another.",
    ))
}

/// The user id of a session's person (sessions made before user rows existed carry none: their
/// name finds it).
pub async fn account_id(store: &Store, record: &SessionRecord) -> AppResult<String> {
    if let Some(id) = &record.user_id {
        return Ok(id.clone());
    }
    match store.user_by_username(&record.username).await? {
        Some(u) => Ok(u.id),
        None => Err(AppError::with_message(
            ErrorCode::Forbidden,
            "This session has no account",
        )),
    }
}

/// Ten new recovery codes (`xxxxx-xxxxx`, no look-alike characters) and their hashes.
pub fn new_recovery_codes() -> (Vec<String>, Vec<String>) {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut rng = rand::thread_rng();
    let codes: Vec<String> = (0..RECOVERY_CODES)
        .map(|_| {
            let mut c: String = (0..10)
                .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
                .collect();
            c.insert(5, '-');
            c
        })
        .collect();
    let hashes = codes.iter().map(|c| recovery_hash(c)).collect();
    (codes, hashes)
}

/// The stored form of a recovery code: SHA-256 of it without dashes or spaces, in lower case.
pub fn recovery_hash(code: &str) -> String {
    let norm: String = code
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_lowercase)
        .collect();
    hex::encode(sha2::Sha256::digest(norm.as_bytes()))
}

/// The stored form of a challenge or token secret: its SHA-256 in hex.
pub fn secret_hash(secret: &str) -> String {
    hex::encode(sha2::Sha256::digest(secret.as_bytes()))
}

/// An identity as a waiting sign-in keeps it.
pub fn identity_json(identity: &Identity) -> String {
    serde_json::json!({
        "username": identity.username,
        "displayName": identity.display_name,
        "groups": identity.groups,
        "groupDns": identity.group_dns,
        "isAdmin": identity.is_admin,
        "source": identity.source,
    })
    .to_string()
}

/// The identity a waiting sign-in kept; `None` when it can't be read.
pub fn identity_from_json(raw: &str) -> Option<Identity> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Kept {
        username: String,
        display_name: Option<String>,
        groups: Vec<String>,
        group_dns: Vec<String>,
        is_admin: bool,
        source: String,
    }
    let k: Kept = serde_json::from_str(raw).ok()?;
    let source = match k.source.as_str() {
        "local" => "local",
        "ldap" => "ldap",
        _ => return None,
    };
    Some(Identity {
        username: k.username,
        display_name: k.display_name,
        groups: k.groups,
        group_dns: k.group_dns,
        is_admin: k.is_admin,
        source,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn who(admin: bool, groups: &[&str]) -> Identity {
        Identity {
            username: "x".into(),
            display_name: None,
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
            group_dns: Vec::new(),
            is_admin: admin,
            source: "local",
        }
    }

    #[test]
    fn the_policy_picks_who_must() {
        let mut p = Policy::default();
        assert!(!p.requires(&who(true, &[])));
        p.require = Require::Admins;
        assert!(p.requires(&who(true, &[])) && !p.requires(&who(false, &["ops"])));
        p.require = Require::Everyone;
        assert!(p.requires(&who(false, &[])));
        p.require = Require::Groups;
        p.groups = vec!["Ops".into()];
        assert!(p.requires(&who(false, &["ops"])) && !p.requires(&who(true, &["devs"])));
    }

    #[test]
    fn policies_are_checked() {
        let p: Policy = serde_json::from_str(r#"{"require":"groups","groups":[" "]}"#).unwrap();
        assert!(p.refusal().is_some());
        let p: Policy =
            serde_json::from_str(r#"{"require":"everyone","stepUpMinutes":0}"#).unwrap();
        assert!(p.refusal().is_some());
        let p: Policy = serde_json::from_str(r#"{"require":"admins"}"#).unwrap();
        assert_eq!(p.step_up_minutes, 15);
        assert!(p.refusal().is_none());
        assert!(serde_json::from_str::<Policy>(r#"{"require":"sometimes"}"#).is_err());
    }

    #[test]
    fn recovery_codes_are_ten_distinct_and_forgiving_to_type() {
        let (codes, hashes) = new_recovery_codes();
        assert_eq!(codes.len(), 10);
        let set: std::collections::HashSet<_> = hashes.iter().collect();
        assert_eq!(set.len(), 10);
        let c = &codes[0];
        assert_eq!(c.len(), 11);
        assert_eq!(
            recovery_hash(&c.to_uppercase().replace('-', " ")),
            hashes[0]
        );
    }

    #[test]
    fn a_kept_identity_comes_back_whole() {
        let mut id = who(true, &["ops"]);
        id.group_dns = vec!["cn=ops,dc=x".into()];
        id.source = "ldap";
        assert_eq!(identity_from_json(&identity_json(&id)), Some(id));
        assert_eq!(identity_from_json(r#"{"source":"x"}"#), None);
    }
}
