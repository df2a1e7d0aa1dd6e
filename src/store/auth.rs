//! Users, local accounts and server-side session records.

use serde::Serialize;

use super::{exec, expect_one, new_id, now_ms, on_pool, Store, StoreError, StoreResult};

/// A person known to Uma (created at first sign-in or by `uma user add`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// Row id.
    pub id: String,
    /// Unique login name.
    pub username: String,
    /// Name shown in the UI.
    pub display_name: Option<String>,
    /// Avatar URL.
    pub avatar: Option<String>,
    /// Chat settings as JSON (`{dnd, allowMessagesFrom, showOnlineStatus}`).
    pub settings: Option<String>,
    /// Creation time (ms).
    pub created_at: i64,
    /// Last update (ms).
    pub updated_at: i64,
}

/// The password side of a local (non-LDAP) account.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LocalAccount {
    /// The user's row id.
    pub user_id: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// Local accounts carry their own admin flag.
    pub is_admin: bool,
    /// A disabled account cannot sign in.
    pub disabled: bool,
    /// Creation time (ms).
    pub created_at: i64,
    /// Last update (ms).
    pub updated_at: i64,
}

/// A local account with its user, as listed by `uma user list`.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LocalAccountView {
    /// Login name.
    pub username: String,
    /// Admin flag.
    pub is_admin: bool,
    /// Disabled flag.
    pub disabled: bool,
    /// Creation time (ms).
    pub created_at: i64,
}

/// A server-side session record (also the Redis cache format; never sent to clients as is).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct SessionRecord {
    /// Opaque id (the cookie carries it, signed).
    pub id: String,
    /// The user's row id when known.
    pub user_id: Option<String>,
    /// Login name.
    pub username: String,
    /// Display name.
    pub display_name: Option<String>,
    /// Group CNs as a JSON array.
    pub groups_json: String,
    /// Admin at sign-in time.
    pub is_admin: bool,
    /// `local`, `ldap` or `oidc`.
    pub auth_source: String,
    /// The CSRF token of this session.
    pub csrf_token: String,
    /// Client IP at sign-in.
    pub ip_address: Option<String>,
    /// Client user agent at sign-in.
    pub user_agent: Option<String>,
    /// Sign-in time (ms).
    pub created_at: i64,
    /// Last request (ms).
    pub last_seen_at: i64,
    /// Absolute expiry (ms).
    pub expires_at: i64,
    /// Set when logged out or revoked.
    pub revoked_at: Option<i64>,
    /// When a second factor was last given in this session (sign-in or step-up).
    #[serde(default)]
    pub factor_at: Option<i64>,
}

const USER_COLS: &str = "id, username, display_name, avatar, settings, created_at, updated_at";
const SESSION_COLS: &str = "id, user_id, username, display_name, groups_json, is_admin, auth_source, csrf_token, ip_address, user_agent, created_at, last_seen_at, expires_at, revoked_at, factor_at";

impl Store {
    /// Creates a user; `Conflict` when the username exists.
    pub async fn create_user(
        &self,
        username: &str,
        display_name: Option<&str>,
    ) -> StoreResult<User> {
        let now = now_ms();
        let user = User {
            id: new_id(),
            username: username.to_owned(),
            display_name: display_name.map(str::to_owned),
            avatar: None,
            settings: None,
            created_at: now,
            updated_at: now,
        };
        exec!(self, |p| {
            sqlx::query(
            "INSERT INTO users (id, username, display_name, avatar, settings, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
        )
        .bind(&user.id)
        .bind(&user.username)
        .bind(&user.display_name)
        .bind(&user.avatar)
        .bind(&user.settings)
        .bind(user.created_at)
        .bind(user.updated_at)
        .execute(p)
        .await
        })?;
        Ok(user)
    }

    /// Finds a user by username, creating it when missing.
    pub async fn find_or_create_user(
        &self,
        username: &str,
        display_name: Option<&str>,
    ) -> StoreResult<User> {
        if let Some(user) = self.user_by_username(username).await? {
            return Ok(user);
        }
        match self.create_user(username, display_name).await {
            Err(StoreError::Conflict(_)) => self
                .user_by_username(username)
                .await?
                .ok_or(StoreError::NotFound),
            other => other,
        }
    }

    /// The user with this username.
    pub async fn user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
        let sql = format!("SELECT {USER_COLS} FROM users WHERE username = ?");
        Ok(on_pool!(self, |p| sqlx::query_as::<_, User>(&sql)
            .bind(username)
            .fetch_optional(p)
            .await)?)
    }

    /// The user with this id.
    pub async fn user_by_id(&self, id: &str) -> StoreResult<Option<User>> {
        let sql = format!("SELECT {USER_COLS} FROM users WHERE id = ?");
        Ok(on_pool!(self, |p| sqlx::query_as::<_, User>(&sql)
            .bind(id)
            .fetch_optional(p)
            .await)?)
    }

    /// Users whose name or display name contains `query`, by username.
    pub async fn search_users(&self, query: &str, limit: i64) -> StoreResult<Vec<User>> {
        let sql = format!(
            "SELECT {USER_COLS} FROM users WHERE username LIKE ? ESCAPE '!' OR display_name LIKE ? ESCAPE '!' ORDER BY username LIMIT ?"
        );
        let pattern = format!("%{}%", escape_like(query));
        Ok(on_pool!(self, |p| sqlx::query_as::<_, User>(&sql)
            .bind(&pattern)
            .bind(&pattern)
            .bind(limit)
            .fetch_all(p)
            .await)?)
    }

    /// Updates display name, avatar and settings JSON.
    pub async fn update_user_profile(
        &self,
        id: &str,
        display_name: Option<&str>,
        avatar: Option<&str>,
        settings: Option<&str>,
    ) -> StoreResult<()> {
        let rows = exec!(self, |p| {
            sqlx::query(
            "UPDATE users SET display_name = ?, avatar = ?, settings = ?, updated_at = ? WHERE id = ?"
        )
        .bind(display_name)
        .bind(avatar)
        .bind(settings)
        .bind(now_ms())
        .bind(id)
        .execute(p)
        .await
        })?;
        expect_one(rows)
    }

    /// Deletes a user and, by cascade, their messages, reactions, blocks, memberships, account;
    /// and the banners they dismissed (kept by name).
    pub async fn delete_user(&self, id: &str) -> StoreResult<()> {
        exec!(self, |p| {
            sqlx::query(
            "DELETE FROM notification_dismissals WHERE username IN (SELECT username FROM users WHERE id = ?)"
        )
        .bind(id)
        .execute(p)
        .await
        })?;
        let rows = exec!(self, |p| sqlx::query("DELETE FROM users WHERE id = ?")
            .bind(id)
            .execute(p)
            .await)?;
        expect_one(rows)
    }

    /// Creates the local account of a user, or replaces its password and admin flag (and
    /// re-enables it).
    pub async fn upsert_local_account(
        &self,
        user_id: &str,
        password_hash: &str,
        is_admin: bool,
    ) -> StoreResult<()> {
        let now = now_ms();
        let updated = exec!(self, |p| {
            sqlx::query(
            "UPDATE local_accounts SET password_hash = ?, is_admin = ?, disabled = ?, updated_at = ? WHERE user_id = ?"
        )
        .bind(password_hash)
        .bind(is_admin)
        .bind(false)
        .bind(now)
        .bind(user_id)
        .execute(p)
        .await
        })?;
        if updated > 0 {
            return Ok(());
        }
        exec!(self, |p| {
            sqlx::query(
            "INSERT INTO local_accounts (user_id, password_hash, is_admin, disabled, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)"
        )
        .bind(user_id)
        .bind(password_hash)
        .bind(is_admin)
        .bind(false)
        .bind(now)
        .bind(now)
        .execute(p)
        .await
        })?;
        Ok(())
    }

    /// The local account of a username, with its user.
    pub async fn local_account(&self, username: &str) -> StoreResult<Option<(User, LocalAccount)>> {
        let Some(user) = self.user_by_username(username).await? else {
            return Ok(None);
        };
        let account = on_pool!(self, |p| {
            sqlx::query_as::<_, LocalAccount>(
            "SELECT user_id, password_hash, is_admin, disabled, created_at, updated_at FROM local_accounts WHERE user_id = ?"
        )
        .bind(&user.id)
        .fetch_optional(p)
        .await
        })?;
        Ok(account.map(|a| (user, a)))
    }

    /// The local account whose username is `username` ignoring ASCII case (an exact match
    /// first), with its user. Two accounts that differ only in case make a name ambiguous: none.
    pub async fn local_account_any_case(
        &self,
        username: &str,
    ) -> StoreResult<Option<(User, LocalAccount)>> {
        if let Some(found) = self.local_account(username).await? {
            return Ok(Some(found));
        }
        let names: Vec<(String,)> = on_pool!(self, |p| {
            sqlx::query_as::<_, (String,)>(
            "SELECT u.username FROM local_accounts a JOIN users u ON u.id = a.user_id WHERE LOWER(u.username) = LOWER(?)"
        )
        .bind(username)
        .fetch_all(p)
        .await
        })?;
        match names.as_slice() {
            [(name,)] => self.local_account(name).await,
            _ => Ok(None),
        }
    }

    /// Enables or disables a local account.
    pub async fn set_local_account_disabled(
        &self,
        user_id: &str,
        disabled: bool,
    ) -> StoreResult<()> {
        let rows = exec!(self, |p| sqlx::query(
            "UPDATE local_accounts SET disabled = ?, updated_at = ? WHERE user_id = ?"
        )
        .bind(disabled)
        .bind(now_ms())
        .bind(user_id)
        .execute(p)
        .await)?;
        expect_one(rows)
    }

    /// Every local account, by username.
    pub async fn list_local_accounts(&self) -> StoreResult<Vec<LocalAccountView>> {
        Ok(on_pool!(self, |p| {
            sqlx::query_as::<_, LocalAccountView>(
            "SELECT u.username, a.is_admin, a.disabled, a.created_at FROM local_accounts a JOIN users u ON u.id = a.user_id ORDER BY u.username"
        )
        .fetch_all(p)
        .await
        })?)
    }

    /// Every user Uma knows (signed in once, or a local account), by name.
    pub async fn all_users(&self) -> StoreResult<Vec<User>> {
        let sql = format!("SELECT {USER_COLS} FROM users ORDER BY username");
        Ok(on_pool!(self, |p| sqlx::query_as::<_, User>(&sql)
            .fetch_all(p)
            .await)?)
    }

    /// Per username, the newest sign-in on record: `(username, when, admin then, how)`.
    pub async fn last_sign_ins(&self) -> StoreResult<Vec<(String, i64, bool, String)>> {
        Ok(on_pool!(self, |p| sqlx::query_as(
            "SELECT s.username, s.created_at, s.is_admin, s.auth_source FROM sessions s \
             JOIN (SELECT username, MAX(created_at) AS latest FROM sessions GROUP BY username) m \
             ON m.username = s.username AND m.latest = s.created_at"
        )
        .fetch_all(p)
        .await)?)
    }

    /// Stores a new session record.
    pub async fn insert_session(&self, s: &SessionRecord) -> StoreResult<()> {
        let sql = format!(
            "INSERT INTO sessions ({SESSION_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        );
        exec!(self, |p| sqlx::query(&sql)
            .bind(&s.id)
            .bind(&s.user_id)
            .bind(&s.username)
            .bind(&s.display_name)
            .bind(&s.groups_json)
            .bind(s.is_admin)
            .bind(&s.auth_source)
            .bind(&s.csrf_token)
            .bind(&s.ip_address)
            .bind(&s.user_agent)
            .bind(s.created_at)
            .bind(s.last_seen_at)
            .bind(s.expires_at)
            .bind(s.revoked_at)
            .bind(s.factor_at)
            .execute(p)
            .await)?;
        Ok(())
    }

    /// A session by id, whatever its state.
    pub async fn session(&self, id: &str) -> StoreResult<Option<SessionRecord>> {
        let sql = format!("SELECT {SESSION_COLS} FROM sessions WHERE id = ?");
        Ok(on_pool!(self, |p| sqlx::query_as::<_, SessionRecord>(
            &sql
        )
        .bind(id)
        .fetch_optional(p)
        .await)?)
    }

    /// Records activity on a session.
    pub async fn touch_session(&self, id: &str, at: i64) -> StoreResult<()> {
        exec!(self, |p| sqlx::query(
            "UPDATE sessions SET last_seen_at = ? WHERE id = ?"
        )
        .bind(at)
        .bind(id)
        .execute(p)
        .await)?;
        Ok(())
    }

    /// Records activity on a live session: seen at `at`, valid until `expires_at`. A revoked or
    /// expired session stays ended (a late touch never revives it).
    pub async fn touch_session_until(&self, id: &str, at: i64, expires_at: i64) -> StoreResult<()> {
        exec!(self, |p| {
            sqlx::query(
            "UPDATE sessions SET last_seen_at = ?, expires_at = ? WHERE id = ? AND revoked_at IS NULL AND expires_at > ?"
        )
        .bind(at)
        .bind(expires_at)
        .bind(id)
        .bind(at)
        .execute(p)
        .await
        })?;
        Ok(())
    }

    /// Revokes every live session of `username`; returns their ids.
    pub async fn revoke_user_sessions(&self, username: &str) -> StoreResult<Vec<String>> {
        let now = now_ms();
        let ids: Vec<(String,)> = on_pool!(self, |p| {
            sqlx::query_as::<_, (String,)>(
            "SELECT id FROM sessions WHERE username = ? AND revoked_at IS NULL AND expires_at > ?"
        )
        .bind(username)
        .bind(now)
        .fetch_all(p)
        .await
        })?;
        exec!(self, |p| sqlx::query(
            "UPDATE sessions SET revoked_at = ? WHERE username = ? AND revoked_at IS NULL"
        )
        .bind(now)
        .bind(username)
        .execute(p)
        .await)?;
        Ok(ids.into_iter().map(|(id,)| id).collect())
    }

    /// Ends a session (logout or revoke); `NotFound` when it was not active.
    pub async fn revoke_session(&self, id: &str) -> StoreResult<()> {
        let rows = exec!(self, |p| sqlx::query(
            "UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL"
        )
        .bind(now_ms())
        .bind(id)
        .execute(p)
        .await)?;
        expect_one(rows)
    }

    /// Sessions neither revoked nor expired at `now`, newest first.
    pub async fn active_sessions(&self, now: i64) -> StoreResult<Vec<SessionRecord>> {
        let sql = format!(
            "SELECT {SESSION_COLS} FROM sessions WHERE revoked_at IS NULL AND expires_at > ? ORDER BY created_at DESC"
        );
        Ok(on_pool!(self, |p| sqlx::query_as::<_, SessionRecord>(
            &sql
        )
        .bind(now)
        .fetch_all(p)
        .await)?)
    }

    /// Deletes session records that ended before `before`; returns how many.
    pub async fn purge_sessions(&self, before: i64) -> StoreResult<u64> {
        Ok(exec!(self, |p| {
            sqlx::query(
            "DELETE FROM sessions WHERE expires_at < ? OR (revoked_at IS NOT NULL AND revoked_at < ?)"
        )
        .bind(before)
        .bind(before)
        .execute(p)
        .await
        })?)
    }
}

/// Escapes `%`, `_` and `!` for a `LIKE ? ESCAPE '!'` pattern (same on both backends).
pub(crate) fn escape_like(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    for c in input.chars() {
        if matches!(c, '%' | '_' | '!') {
            out.push('!');
        }
        out.push(c);
    }
    out
}
