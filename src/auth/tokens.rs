//! API tokens for automation. A token stands for its owner with the owner's rights on pools and
//! guests (never administration: a token of an administrator is not an administrator), either
//! read-only or full. It is shown once (`uma_…`), kept as a SHA-256 hash, sent as
//! `Authorization: Bearer <token>` on the REST API or as `auth: {token}` in the Socket.IO
//! handshake, and is never accepted for pages, administration, settings, one's account, or
//! making more tokens. Each request reads the token's row, so a revoked or expired token is
//! refused at once; its open sockets are ended when it is revoked.
//!
//! A request made with a token carries a session built from the token (id `token:<id>`, source
//! `token`), so every permission check and audit row works as for a signed-in person; the audit
//! rows name the token in their client column.

use serde::{Deserialize, Serialize};

use crate::auth::session::{random_token, CurrentSession};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::store::auth::SessionRecord;
use crate::store::factors::TokenRow;
use crate::store::{Store, StoreResult};

/// What a token's secret starts with (so scanners and people recognize one).
pub const PREFIX: &str = "uma_";
/// The session-id prefix of requests made with a token.
pub const SESSION_PREFIX: &str = "token:";
/// The `auth_source` of such sessions.
pub const SOURCE: &str = "token";
/// Most tokens one person may hold.
pub const MAX_PER_USER: usize = 50;
/// Longest a token may live (one year); `None` (never) is allowed too.
pub const MAX_LIFETIME_MS: i64 = 366 * 24 * 3600 * 1000;
/// How often a token's "last used" is written at most.
const TOUCH_EVERY_MS: i64 = 60_000;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Reads only: `GET` requests, and live updates on a socket.
    Read,
    /// Everything its owner may do outside administration.
    Full,
}

impl Scope {
    /// Its stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Full => "full",
        }
    }

    fn parse(s: &str) -> Option<Scope> {
        match s {
            "read" => Some(Scope::Read),
            "full" => Some(Scope::Full),
            _ => None,
        }
    }
}

/// The token behind a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// Its id (`tok_…`).
    pub id: String,
    /// Its name.
    pub name: String,
    /// What it may do.
    pub scope: Scope,
}

/// A new token's secret and its hash.
pub fn new_secret() -> (String, String) {
    let secret = format!("{PREFIX}{}", random_token());
    let hash = super::factors::secret_hash(&secret);
    (secret, hash)
}

/// A new token's public id.
pub fn new_id() -> String {
    format!("tok_{}", &random_token()[..16])
}

/// The Uma token of an `Authorization: Bearer` header, if the request has one (a proxy's own
/// bearer token in front of Uma is not Uma's: the cookie decides then).
pub fn bearer(headers: &http::HeaderMap) -> Option<&str> {
    let v = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (kind, rest) = v.split_once(' ')?;
    let token = rest.trim();
    (kind.eq_ignore_ascii_case("bearer") && token.starts_with(PREFIX)).then_some(token)
}

/// What an unusable token answers (never saying which reason it is).
fn refused() -> AppError {
    AppError::with_message(
        ErrorCode::Unauthorized,
        "This API token can't be used: it was revoked, has expired, or is mistyped.",
    )
}

/// The session a token stands for at `now`; `Unauthorized` when it is unknown or expired.
pub async fn session_for(store: &Store, secret: &str, now: i64) -> AppResult<CurrentSession> {
    if secret.len() > 200 {
        return Err(refused());
    }
    let row = store
        .token_by_hash(&super::factors::secret_hash(secret))
        .await?
        .ok_or_else(refused)?;
    if row.expires_at.is_some_and(|at| at <= now) || store.account_disabled(&row.user_id).await? {
        return Err(refused());
    }
    let scope = Scope::parse(&row.scope).ok_or_else(refused)?;
    if row.last_used_at.is_none_or(|at| now - at > TOUCH_EVERY_MS) {
        if let Err(e) = store.touch_token(&row.id, now).await {
            tracing::warn!(error = %e, "cannot record a token's use");
        }
    }
    let mut session = CurrentSession::new(record_of(&row, now));
    session.token = Some(Grant {
        id: row.id,
        name: row.name,
        scope,
    });
    Ok(session)
}

/// The session record a token stands for.
pub fn record_of(row: &TokenRow, now: i64) -> SessionRecord {
    SessionRecord {
        id: format!("{SESSION_PREFIX}{}", row.id),
        user_id: Some(row.user_id.clone()),
        username: row.username.clone(),
        display_name: None,
        groups_json: row.groups_json.clone(),
        // Never an administrator, whoever made it.
        is_admin: false,
        auth_source: SOURCE.to_owned(),
        csrf_token: String::new(),
        ip_address: None,
        user_agent: None,
        created_at: row.created_at,
        last_seen_at: now,
        expires_at: row.expires_at.unwrap_or(i64::MAX / 2),
        revoked_at: None,
        factor_at: None,
    }
}

/// The record of session `id`: a stored session, or the one a token stands for (`token:<id>`;
/// `None` once the token is revoked).
pub async fn any_session(store: &Store, id: &str, now: i64) -> StoreResult<Option<SessionRecord>> {
    match id.strip_prefix(SESSION_PREFIX) {
        Some(token_id) => Ok(store.token(token_id).await?.map(|t| record_of(&t, now))),
        None => store.session(id).await,
    }
}

/// Ends the live connections of these (deleted) tokens, on every instance.
pub async fn end_sessions(
    records: &crate::auth::records::SessionRecords,
    sessions: &uma_actors::root::Slot<uma_actors::sessions::SessionsMsg>,
    ids: &[String],
) {
    for id in ids {
        let sid = format!("{SESSION_PREFIX}{id}");
        // There is no stored session to revoke; the end is announced all the same.
        if let Err(e) = records
            .end(&sid, uma_actors::sessions::EndReason::Revoked, sessions)
            .await
        {
            if !matches!(e, crate::store::StoreError::NotFound) {
                tracing::warn!(error = %e, "token end not fully recorded");
            }
        }
    }
}

/// Paths a token may never be used on, whatever its scope: pages, administration, settings,
/// one's account, sessions, second factors, and tokens themselves. `None`: allowed.
pub fn refusal_for_path(path: &str, reading: bool, scope: Scope) -> Option<&'static str> {
    let under = |p: &str| path == p || path.starts_with(&format!("{p}/"));
    if !path.starts_with("/api/") {
        return Some("API tokens work on the REST API (/api/…) only, not on pages.");
    }
    if under("/api/admin") || under("/api/settings") {
        return Some("API tokens can't be used for administration or settings.");
    }
    if under("/api/tokens")
        || under("/api/account")
        || under("/api/profile")
        || under("/api/sessions")
        || under("/api/auth")
        || under("/api/login")
        || under("/api/logout")
        || under("/api/password-reset")
    {
        return Some("API tokens can't manage accounts, sign-ins or tokens. Sign in to do that.");
    }
    if scope == Scope::Read && !reading {
        return Some("This API token is read-only.");
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn bearer_headers_are_read() {
        let mut h = http::HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert(http::header::AUTHORIZATION, "Bearer uma_x".parse().unwrap());
        assert_eq!(bearer(&h), Some("uma_x"));
        h.insert(
            http::header::AUTHORIZATION,
            "bearer  uma_y ".parse().unwrap(),
        );
        assert_eq!(bearer(&h), Some("uma_y"));
        h.insert(http::header::AUTHORIZATION, "Basic abc".parse().unwrap());
        assert_eq!(bearer(&h), None);
        h.insert(
            http::header::AUTHORIZATION,
            "Bearer eyJhbGciOi".parse().unwrap(),
        );
        assert_eq!(bearer(&h), None, "a proxy's JWT is not Uma's");
    }

    #[test]
    fn tokens_stay_out_of_administration_and_accounts() {
        for p in [
            "/dashboard",
            "/admin/users",
            "/api/admin/users",
            "/api/settings/mfa",
            "/api/tokens",
            "/api/tokens/tok_1",
            "/api/auth/step-up",
            "/api/sessions/revoke-others",
            "/api/account/password",
            "/api/profile",
        ] {
            assert!(refusal_for_path(p, true, Scope::Full).is_some(), "{p}");
        }
        assert_eq!(
            refusal_for_path("/api/proxmox/resources", true, Scope::Read),
            None
        );
        assert!(refusal_for_path("/api/proxmox/vm/100/status", false, Scope::Read).is_some());
        assert_eq!(
            refusal_for_path("/api/proxmox/vm/100/status", false, Scope::Full),
            None
        );
        // A path that only starts like a refused one is not refused.
        assert_eq!(refusal_for_path("/api/tokensmith", true, Scope::Full), None);
    }
}
