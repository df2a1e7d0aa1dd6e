//! OpenID Connect: which provider's person (provider + subject) is which Uma user, the sign-ins
//! on their way through a provider, and the ID token of each session opened through one.

use super::{exec, now_ms, on_pool, Store, StoreResult};

/// A sign-in on its way through a provider: what its callback needs.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PendingLogin {
    /// SHA-256 (hex) of the `state` sent to the provider.
    pub state_hash: String,
    /// The provider's name.
    pub provider: String,
    /// SHA-256 (hex) of the browser's binding cookie.
    pub browser_hash: String,
    /// The nonce the ID token must carry.
    pub nonce: String,
    /// The PKCE verifier of the challenge sent.
    pub pkce_verifier: String,
    /// The redirect URI sent (the token request repeats it).
    pub redirect_uri: String,
    /// Where to go once signed in.
    pub next_path: Option<String>,
    /// When it started (ms).
    pub created_at: i64,
    /// When it can no longer finish (ms).
    pub expires_at: i64,
}

/// The binding of a provider's person to a Uma user.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OidcIdentity {
    /// The provider's name.
    pub provider: String,
    /// The provider's `sub` for them.
    pub subject: String,
    /// The Uma user's row id.
    pub user_id: String,
    /// The Uma username at binding time.
    pub username: String,
    /// When it was bound (ms).
    pub created_at: i64,
}

impl Store {
    /// Records a sign-in on its way; drops those whose time is over.
    pub async fn insert_oidc_login(&self, login: &PendingLogin) -> StoreResult<()> {
        exec!(self, |p| sqlx::query(
            "DELETE FROM oidc_logins WHERE expires_at <= ?"
        )
        .bind(now_ms())
        .execute(p)
        .await)?;
        exec!(self, |p| {
            sqlx::query(
            "INSERT INTO oidc_logins (state_hash, provider, browser_hash, nonce, pkce_verifier, redirect_uri, next_path, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        .bind(&login.state_hash)
        .bind(&login.provider)
        .bind(&login.browser_hash)
        .bind(&login.nonce)
        .bind(&login.pkce_verifier)
        .bind(&login.redirect_uri)
        .bind(&login.next_path)
        .bind(login.created_at)
        .bind(login.expires_at)
        .execute(p)
        .await
        })?;
        Ok(())
    }

    /// Takes the unexpired sign-in of `state_hash`: only the call whose delete removed the row
    /// gets it, so it finishes once, on every instance.
    pub async fn take_oidc_login(
        &self,
        state_hash: &str,
        now: i64,
    ) -> StoreResult<Option<PendingLogin>> {
        let found = on_pool!(self, |p| {
            sqlx::query_as::<_, PendingLogin>(
            "SELECT state_hash, provider, browser_hash, nonce, pkce_verifier, redirect_uri, next_path, created_at, expires_at FROM oidc_logins WHERE state_hash = ? AND expires_at > ?"
        )
        .bind(state_hash)
        .bind(now)
        .fetch_optional(p)
        .await
        })?;
        let Some(login) = found else {
            return Ok(None);
        };
        let removed = exec!(self, |p| sqlx::query(
            "DELETE FROM oidc_logins WHERE state_hash = ?"
        )
        .bind(state_hash)
        .execute(p)
        .await)?;
        Ok((removed == 1).then_some(login))
    }

    /// The binding of `subject` at `provider`.
    pub async fn oidc_identity(
        &self,
        provider: &str,
        subject: &str,
    ) -> StoreResult<Option<OidcIdentity>> {
        Ok(on_pool!(self, |p| {
            sqlx::query_as::<_, OidcIdentity>(
            "SELECT provider, subject, user_id, username, created_at FROM oidc_identities WHERE provider = ? AND subject = ?"
        )
        .bind(provider)
        .bind(subject)
        .fetch_optional(p)
        .await
        })?)
    }

    /// The bindings of a user (a user has at most one, but the table does not insist).
    pub async fn oidc_identities_of(&self, user_id: &str) -> StoreResult<Vec<OidcIdentity>> {
        Ok(on_pool!(self, |p| {
            sqlx::query_as::<_, OidcIdentity>(
            "SELECT provider, subject, user_id, username, created_at FROM oidc_identities WHERE user_id = ?"
        )
        .bind(user_id)
        .fetch_all(p)
        .await
        })?)
    }

    /// Whether a user called `username` (ignoring case) is bound to a provider's person.
    pub async fn oidc_bound_any_case(&self, username: &str) -> StoreResult<bool> {
        let found: Option<(String,)> = on_pool!(self, |p| {
            sqlx::query_as::<_, (String,)>(
            "SELECT i.provider FROM oidc_identities i JOIN users u ON u.id = i.user_id WHERE LOWER(u.username) = LOWER(?) LIMIT 1"
        )
        .bind(username)
        .fetch_optional(p)
        .await
        })?;
        Ok(found.is_some())
    }

    /// Binds `subject` at `provider` to a user; `Conflict` when it is bound already.
    pub async fn bind_oidc_identity(&self, identity: &OidcIdentity) -> StoreResult<()> {
        exec!(self, |p| {
            sqlx::query(
            "INSERT INTO oidc_identities (provider, subject, user_id, username, created_at) VALUES (?, ?, ?, ?, ?)"
        )
        .bind(&identity.provider)
        .bind(&identity.subject)
        .bind(&identity.user_id)
        .bind(&identity.username)
        .bind(identity.created_at)
        .execute(p)
        .await
        })?;
        Ok(())
    }

    /// Keeps the provider and ID token of a session opened through it.
    pub async fn insert_oidc_session(
        &self,
        session_id: &str,
        provider: &str,
        id_token: &str,
    ) -> StoreResult<()> {
        exec!(self, |p| {
            sqlx::query(
            "INSERT INTO oidc_sessions (session_id, provider, id_token, created_at) VALUES (?, ?, ?, ?)"
        )
        .bind(session_id)
        .bind(provider)
        .bind(id_token)
        .bind(now_ms())
        .execute(p)
        .await
        })?;
        Ok(())
    }

    /// The provider and ID token of a session, when it was opened through one.
    pub async fn oidc_session(&self, session_id: &str) -> StoreResult<Option<(String, String)>> {
        Ok(on_pool!(self, |p| sqlx::query_as::<_, (String, String)>(
            "SELECT provider, id_token FROM oidc_sessions WHERE session_id = ?"
        )
        .bind(session_id)
        .fetch_optional(p)
        .await)?)
    }

    /// Forgets a session's ID token (it signed out).
    pub async fn drop_oidc_session(&self, session_id: &str) -> StoreResult<()> {
        exec!(self, |p| sqlx::query(
            "DELETE FROM oidc_sessions WHERE session_id = ?"
        )
        .bind(session_id)
        .execute(p)
        .await)?;
        Ok(())
    }
}
