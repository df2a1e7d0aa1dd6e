//! Second factors and API tokens: a person's authenticator app (TOTP), recovery codes, sign-ins
//! waiting for their second factor, and tokens for automation. Codes, challenges and tokens are
//! kept as SHA-256 hashes only. Every "use once" is decided by the one statement that changes
//! the row (an `UPDATE … WHERE last_step < ?`, a `DELETE`), so it holds with several instances.

use super::{exec, now_ms, on_pool, Store, StoreResult};

/// A person's authenticator app.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TotpRow {
    /// Base32 secret.
    pub secret: String,
    /// When the first code from it was accepted; `None` while being set up.
    pub confirmed_at: Option<i64>,
    /// The last time step accepted.
    pub last_step: i64,
}

/// A sign-in waiting for its second factor.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChallengeRow {
    /// The person's user id.
    pub user_id: String,
    /// The verified identity, as JSON.
    pub identity: String,
    /// A second factor must be set up first.
    pub enrol: bool,
    /// Until when it can be completed (ms).
    pub expires_at: i64,
}

/// An API token (never its secret).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenRow {
    /// Public id (`tok_…`).
    pub id: String,
    /// Owner's user id.
    pub user_id: String,
    /// Owner's login name.
    pub username: String,
    /// Name the owner gave it.
    pub name: String,
    /// `read` or `full`.
    pub scope: String,
    /// The owner's groups when it was made (JSON array).
    pub groups_json: String,
    /// Made at (ms).
    pub created_at: i64,
    /// Expires at (ms); `None`: never.
    pub expires_at: Option<i64>,
    /// Last request made with it (ms).
    pub last_used_at: Option<i64>,
}

const TOKEN_COLS: &str =
    "id, user_id, username, name, scope, groups_json, created_at, expires_at, last_used_at";

impl Store {
    /// The authenticator app of `user_id`, set up or being set up.
    pub async fn totp(&self, user_id: &str) -> StoreResult<Option<TotpRow>> {
        Ok(on_pool!(self, |p| sqlx::query_as::<_, TotpRow>(
            "SELECT secret, confirmed_at, last_step FROM user_totp WHERE user_id = ?"
        )
        .bind(user_id)
        .fetch_optional(p)
        .await)?)
    }

    /// Starts setting up an app with `secret`, replacing one not confirmed yet; `Conflict` when
    /// one is set up already.
    pub async fn start_totp(&self, user_id: &str, secret: &str) -> StoreResult<()> {
        exec!(self, |p| sqlx::query(
            "DELETE FROM user_totp WHERE user_id = ? AND confirmed_at IS NULL"
        )
        .bind(user_id)
        .execute(p)
        .await)?;
        exec!(self, |p| {
            sqlx::query(
            "INSERT INTO user_totp (user_id, secret, confirmed_at, last_step, created_at) VALUES (?, ?, NULL, 0, ?)"
        )
        .bind(user_id)
        .bind(secret)
        .bind(now_ms())
        .execute(p)
        .await
        })?;
        Ok(())
    }

    /// Confirms the app being set up with the step of its first accepted code; false when there
    /// is none being set up (confirmed already, or never started). The secret must still be the
    /// one the code was checked against (a setup started again meanwhile replaced it).
    pub async fn confirm_totp(&self, user_id: &str, secret: &str, step: i64) -> StoreResult<bool> {
        let n = exec!(self, |p| {
            sqlx::query(
            "UPDATE user_totp SET confirmed_at = ?, last_step = ? WHERE user_id = ? AND secret = ? AND confirmed_at IS NULL"
        )
        .bind(now_ms())
        .bind(step)
        .bind(user_id)
        .bind(secret)
        .execute(p)
        .await
        })?;
        Ok(n == 1)
    }

    /// Spends `step` of the confirmed app: true only when it comes after the last step spent
    /// (so a code works once, whichever instance sees it first).
    pub async fn spend_totp_step(&self, user_id: &str, step: i64) -> StoreResult<bool> {
        let n = exec!(self, |p| {
            sqlx::query(
            "UPDATE user_totp SET last_step = ? WHERE user_id = ? AND last_step < ? AND confirmed_at IS NOT NULL"
        )
        .bind(step)
        .bind(user_id)
        .bind(step)
        .execute(p)
        .await
        })?;
        Ok(n == 1)
    }

    /// The user ids with an authenticator app set up.
    pub async fn users_with_totp(&self) -> StoreResult<Vec<String>> {
        let rows: Vec<(String,)> = on_pool!(self, |p| sqlx::query_as::<_, (String,)>(
            "SELECT user_id FROM user_totp WHERE confirmed_at IS NOT NULL"
        )
        .fetch_all(p)
        .await)?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    /// Removes the app of `user_id` (and the recovery codes, unless a passkey is left); whether
    /// there was an app.
    pub async fn delete_totp(&self, user_id: &str) -> StoreResult<bool> {
        let n = exec!(self, |p| sqlx::query(
            "DELETE FROM user_totp WHERE user_id = ?"
        )
        .bind(user_id)
        .execute(p)
        .await)?;
        self.drop_orphan_recovery_codes(user_id).await?;
        Ok(n > 0)
    }

    /// Replaces the recovery codes of `user_id` with these (hashes).
    pub async fn replace_recovery_codes(
        &self,
        user_id: &str,
        hashes: &[String],
    ) -> StoreResult<()> {
        exec!(self, |p| sqlx::query(
            "DELETE FROM recovery_codes WHERE user_id = ?"
        )
        .bind(user_id)
        .execute(p)
        .await)?;
        let now = now_ms();
        for hash in hashes {
            exec!(self, |p| sqlx::query(
                "INSERT INTO recovery_codes (code_hash, user_id, created_at) VALUES (?, ?, ?)"
            )
            .bind(hash)
            .bind(user_id)
            .bind(now)
            .execute(p)
            .await)?;
        }
        Ok(())
    }

    /// Spends a recovery code of `user_id`: true when this call removed it.
    pub async fn spend_recovery_code(&self, user_id: &str, hash: &str) -> StoreResult<bool> {
        let n = exec!(self, |p| sqlx::query(
            "DELETE FROM recovery_codes WHERE user_id = ? AND code_hash = ?"
        )
        .bind(user_id)
        .bind(hash)
        .execute(p)
        .await)?;
        Ok(n == 1)
    }

    /// How many unused recovery codes `user_id` has.
    pub async fn recovery_codes_left(&self, user_id: &str) -> StoreResult<i64> {
        let (n,) = on_pool!(self, |p| sqlx::query_as::<_, (i64,)>(
            "SELECT COUNT(*) FROM recovery_codes WHERE user_id = ?"
        )
        .bind(user_id)
        .fetch_one(p)
        .await)?;
        Ok(n)
    }

    /// Records a sign-in waiting for its second factor (expired ones of anyone go).
    pub async fn create_challenge(
        &self,
        token_hash: &str,
        user_id: &str,
        identity: &str,
        enrol: bool,
        expires_at: i64,
    ) -> StoreResult<()> {
        let now = now_ms();
        exec!(self, |p| sqlx::query(
            "DELETE FROM sign_in_challenges WHERE expires_at <= ?"
        )
        .bind(now)
        .execute(p)
        .await)?;
        exec!(self, |p| {
            sqlx::query(
            "INSERT INTO sign_in_challenges (token_hash, user_id, identity, enrol, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)"
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(identity)
        .bind(enrol)
        .bind(now)
        .bind(expires_at)
        .execute(p)
        .await
        })?;
        Ok(())
    }

    /// A waiting sign-in still valid at `now`.
    pub async fn challenge(&self, token_hash: &str, now: i64) -> StoreResult<Option<ChallengeRow>> {
        Ok(on_pool!(self, |p| {
            sqlx::query_as::<_, ChallengeRow>(
            "SELECT user_id, identity, enrol, expires_at FROM sign_in_challenges WHERE token_hash = ? AND expires_at > ?"
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(p)
        .await
        })?)
    }

    /// Ends a waiting sign-in: true when this call removed it (it completes once).
    pub async fn take_challenge(&self, token_hash: &str) -> StoreResult<bool> {
        let n = exec!(self, |p| sqlx::query(
            "DELETE FROM sign_in_challenges WHERE token_hash = ?"
        )
        .bind(token_hash)
        .execute(p)
        .await)?;
        Ok(n == 1)
    }

    /// Ends every waiting sign-in of `user_id` (disabled, or its password changed).
    pub async fn drop_challenges(&self, user_id: &str) -> StoreResult<()> {
        exec!(self, |p| sqlx::query(
            "DELETE FROM sign_in_challenges WHERE user_id = ?"
        )
        .bind(user_id)
        .execute(p)
        .await)?;
        Ok(())
    }

    /// Whether `user_id` is a local account that is disabled.
    pub async fn account_disabled(&self, user_id: &str) -> StoreResult<bool> {
        let row = on_pool!(self, |p| sqlx::query_as::<_, (bool,)>(
            "SELECT disabled FROM local_accounts WHERE user_id = ?"
        )
        .bind(user_id)
        .fetch_optional(p)
        .await)?;
        Ok(row.is_some_and(|(d,)| d))
    }

    /// Records that the holder of session `id` gave a second factor at `at`.
    pub async fn set_session_factor_at(&self, id: &str, at: i64) -> StoreResult<()> {
        exec!(self, |p| sqlx::query(
            "UPDATE sessions SET factor_at = ? WHERE id = ?"
        )
        .bind(at)
        .bind(id)
        .execute(p)
        .await)?;
        Ok(())
    }

    /// Stores a new API token (its secret's hash).
    pub async fn create_token(&self, t: &TokenRow, token_hash: &str) -> StoreResult<()> {
        exec!(self, |p| {
            sqlx::query(
            "INSERT INTO api_tokens (id, user_id, username, name, scope, token_hash, groups_json, created_at, expires_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)"
        )
        .bind(&t.id)
        .bind(&t.user_id)
        .bind(&t.username)
        .bind(&t.name)
        .bind(&t.scope)
        .bind(token_hash)
        .bind(&t.groups_json)
        .bind(t.created_at)
        .bind(t.expires_at)
        .execute(p)
        .await
        })?;
        Ok(())
    }

    /// The token whose secret hashes to `token_hash`, whatever its expiry.
    pub async fn token_by_hash(&self, token_hash: &str) -> StoreResult<Option<TokenRow>> {
        let sql = format!("SELECT {TOKEN_COLS} FROM api_tokens WHERE token_hash = ?");
        Ok(on_pool!(self, |p| sqlx::query_as::<_, TokenRow>(&sql)
            .bind(token_hash)
            .fetch_optional(p)
            .await)?)
    }

    /// A token by id.
    pub async fn token(&self, id: &str) -> StoreResult<Option<TokenRow>> {
        let sql = format!("SELECT {TOKEN_COLS} FROM api_tokens WHERE id = ?");
        Ok(on_pool!(self, |p| sqlx::query_as::<_, TokenRow>(&sql)
            .bind(id)
            .fetch_optional(p)
            .await)?)
    }

    /// The tokens of `user_id`, or everyone's when `None`, newest first.
    pub async fn tokens(&self, user_id: Option<&str>) -> StoreResult<Vec<TokenRow>> {
        let sql = match user_id {
            Some(_) => format!(
                "SELECT {TOKEN_COLS} FROM api_tokens WHERE user_id = ? ORDER BY created_at DESC"
            ),
            None => format!("SELECT {TOKEN_COLS} FROM api_tokens ORDER BY created_at DESC"),
        };
        Ok(on_pool!(self, |p| {
            let mut q = sqlx::query_as::<_, TokenRow>(&sql);
            if let Some(u) = user_id {
                q = q.bind(u);
            }
            q.fetch_all(p).await
        })?)
    }

    /// Deletes a token: true when this call removed it.
    pub async fn delete_token(&self, id: &str) -> StoreResult<bool> {
        let n = exec!(self, |p| sqlx::query("DELETE FROM api_tokens WHERE id = ?")
            .bind(id)
            .execute(p)
            .await)?;
        Ok(n == 1)
    }

    /// Deletes every token of `user_id` (disabled, or removed); gives their ids.
    pub async fn delete_user_tokens(&self, user_id: &str) -> StoreResult<Vec<String>> {
        let ids: Vec<(String,)> = on_pool!(self, |p| sqlx::query_as::<_, (String,)>(
            "SELECT id FROM api_tokens WHERE user_id = ?"
        )
        .bind(user_id)
        .fetch_all(p)
        .await)?;
        exec!(self, |p| sqlx::query(
            "DELETE FROM api_tokens WHERE user_id = ?"
        )
        .bind(user_id)
        .execute(p)
        .await)?;
        Ok(ids.into_iter().map(|(id,)| id).collect())
    }

    /// Records a request made with token `id` at `at`.
    pub async fn touch_token(&self, id: &str, at: i64) -> StoreResult<()> {
        exec!(self, |p| sqlx::query(
            "UPDATE api_tokens SET last_used_at = ? WHERE id = ?"
        )
        .bind(at)
        .bind(id)
        .execute(p)
        .await)?;
        Ok(())
    }
}
