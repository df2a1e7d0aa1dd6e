//! Accounts: one-time password links and password changes of local accounts, a person's theme,
//! and their display name on live sessions. A link's token is never
//! stored, only its SHA-256 (hex); taking a link removes it and every other link of its account,
//! in one statement each, so a link works once even with several instances.

use super::{exec, expect_one, now_ms, on_pool, Store, StoreResult};

impl Store {
    /// Records a link (by its token's hash) for `user_id`, made by `created_by`, valid until
    /// `expires_at`.
    pub async fn create_password_reset(
        &self,
        token_hash: &str,
        user_id: &str,
        created_by: &str,
        expires_at: i64,
    ) -> StoreResult<()> {
        exec!(self, |p| {
            sqlx::query(
            "INSERT INTO password_resets (token_hash, user_id, created_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?)"
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(created_by)
        .bind(now_ms())
        .bind(expires_at)
        .execute(p)
        .await
        })?;
        Ok(())
    }

    /// The username and expiry of a link still valid at `now`.
    pub async fn password_reset(
        &self,
        token_hash: &str,
        now: i64,
    ) -> StoreResult<Option<(String, i64)>> {
        Ok(on_pool!(self, |p| {
            sqlx::query_as::<_, (String, i64)>(
            "SELECT u.username, r.expires_at FROM password_resets r JOIN users u ON u.id = r.user_id WHERE r.token_hash = ? AND r.expires_at > ?"
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(p)
        .await
        })?)
    }

    /// Takes a link valid at `now`: removes it and gives its user id; `None` when it was never
    /// made, has expired, or was taken already (by this or another instance).
    pub async fn take_password_reset(
        &self,
        token_hash: &str,
        now: i64,
    ) -> StoreResult<Option<String>> {
        let found = on_pool!(self, |p| sqlx::query_as::<_, (String,)>(
            "SELECT user_id FROM password_resets WHERE token_hash = ? AND expires_at > ?"
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(p)
        .await)?;
        let Some((user_id,)) = found else {
            return Ok(None);
        };
        // Only the one whose delete removed the row may use it.
        let removed = exec!(self, |p| sqlx::query(
            "DELETE FROM password_resets WHERE token_hash = ? AND expires_at > ?"
        )
        .bind(token_hash)
        .bind(now)
        .execute(p)
        .await)?;
        Ok((removed == 1).then_some(user_id))
    }

    /// Removes every link of `user_id` (its password changed, or it was disabled) and those
    /// expired before `now`; gives how many of the user's went.
    pub async fn drop_password_resets(&self, user_id: &str, now: i64) -> StoreResult<u64> {
        let mine = exec!(self, |p| sqlx::query(
            "DELETE FROM password_resets WHERE user_id = ?"
        )
        .bind(user_id)
        .execute(p)
        .await)?;
        exec!(self, |p| sqlx::query(
            "DELETE FROM password_resets WHERE expires_at <= ?"
        )
        .bind(now)
        .execute(p)
        .await)?;
        Ok(mine)
    }

    /// Replaces a local account's password hash (its admin and disabled flags stay).
    pub async fn set_local_password_hash(&self, user_id: &str, hash: &str) -> StoreResult<()> {
        let rows = exec!(self, |p| sqlx::query(
            "UPDATE local_accounts SET password_hash = ?, updated_at = ? WHERE user_id = ?"
        )
        .bind(hash)
        .bind(now_ms())
        .bind(user_id)
        .execute(p)
        .await)?;
        expect_one(rows)
    }
}

impl Store {
    /// The theme a user chose (`light` or `dark`), if any.
    pub async fn user_theme(&self, user_id: &str) -> StoreResult<Option<String>> {
        let row = on_pool!(self, |p| sqlx::query_as::<_, (Option<String>,)>(
            "SELECT theme FROM users WHERE id = ?"
        )
        .bind(user_id)
        .fetch_optional(p)
        .await)?;
        Ok(row.and_then(|(t,)| t))
    }

    /// Keeps a user's theme (`None`: follow their system).
    pub async fn set_user_theme(&self, user_id: &str, theme: Option<&str>) -> StoreResult<()> {
        let rows = exec!(self, |p| sqlx::query(
            "UPDATE users SET theme = ?, updated_at = ? WHERE id = ?"
        )
        .bind(theme)
        .bind(now_ms())
        .bind(user_id)
        .execute(p)
        .await)?;
        expect_one(rows)
    }

    /// The display name live sessions of `username` show (after a profile change).
    pub async fn set_session_display_names(
        &self,
        username: &str,
        display_name: Option<&str>,
    ) -> StoreResult<Vec<String>> {
        let ids: Vec<(String,)> = on_pool!(self, |p| {
            sqlx::query_as::<_, (String,)>(
            "SELECT id FROM sessions WHERE username = ? AND revoked_at IS NULL AND expires_at > ?"
        )
        .bind(username)
        .bind(now_ms())
        .fetch_all(p)
        .await
        })?;
        exec!(self, |p| sqlx::query(
            "UPDATE sessions SET display_name = ? WHERE username = ? AND revoked_at IS NULL"
        )
        .bind(display_name)
        .bind(username)
        .execute(p)
        .await)?;
        Ok(ids.into_iter().map(|(id,)| id).collect())
    }

    /// Sets a user's display name and picture (their other fields stay as they are).
    pub async fn set_user_profile(
        &self,
        id: &str,
        display_name: Option<&str>,
        avatar: Option<&str>,
    ) -> StoreResult<()> {
        let rows = exec!(self, |p| sqlx::query(
            "UPDATE users SET display_name = ?, avatar = ?, updated_at = ? WHERE id = ?"
        )
        .bind(display_name)
        .bind(avatar)
        .bind(now_ms())
        .bind(id)
        .execute(p)
        .await)?;
        expect_one(rows)
    }

    /// Whether someone other than `user_id` has `name` as their username or display name
    /// (ignoring ASCII case).
    pub async fn name_taken(&self, name: &str, user_id: &str) -> StoreResult<bool> {
        let row = on_pool!(self, |p| {
            sqlx::query_as::<_, (i64,)>(
            "SELECT COUNT(*) FROM users WHERE id <> ? AND (LOWER(username) = LOWER(?) OR LOWER(display_name) = LOWER(?))"
        )
        .bind(user_id)
        .bind(name)
        .bind(name)
        .fetch_one(p)
        .await
        })?;
        Ok(row.0 > 0)
    }

    /// Takes a picture off `username`'s profile when it is `url`.
    pub async fn clear_avatar(&self, username: &str, url: &str) -> StoreResult<()> {
        exec!(self, |p| sqlx::query(
            "UPDATE users SET avatar = NULL, updated_at = ? WHERE username = ? AND avatar = ?"
        )
        .bind(now_ms())
        .bind(username)
        .bind(url)
        .execute(p)
        .await)?;
        Ok(())
    }

    /// Whether `username`'s avatar is the stored file `url`.
    pub async fn is_avatar_of(&self, username: &str, url: &str) -> StoreResult<bool> {
        let row = on_pool!(self, |p| sqlx::query_as::<_, (i64,)>(
            "SELECT COUNT(*) FROM users WHERE username = ? AND avatar = ?"
        )
        .bind(username)
        .bind(url)
        .fetch_one(p)
        .await)?;
        Ok(row.0 > 0)
    }
}
