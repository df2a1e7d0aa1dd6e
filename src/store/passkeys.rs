//! Passkeys (WebAuthn credentials) and the ceremonies that set them up or use them. A ceremony is
//! used once (the `DELETE` that takes it decides) and a use of a passkey is recorded by a
//! compare-and-set of its signature counter, so both hold with several instances.

use super::{exec, now_ms, on_pool, Store, StoreResult};

/// A person's passkey.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PasskeyRow {
    /// Public id (`pk_…`).
    pub id: String,
    /// Owner's user id.
    pub user_id: String,
    /// The id the authenticator keeps for the owner (a UUID).
    pub user_handle: String,
    /// The credential id, base64url.
    pub credential_id: String,
    /// The name its owner gave it.
    pub name: String,
    /// The relying party's record of it (JSON).
    pub credential: String,
    /// The last signature counter seen.
    pub sign_count: i64,
    /// Set up at (ms).
    pub created_at: i64,
    /// Last used at (ms).
    pub last_used_at: Option<i64>,
}

/// A ceremony under way.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CeremonyRow {
    /// `register`, `authenticate` or `discover`.
    pub kind: String,
    /// The person it is for (none: a passkey sign-in).
    pub user_id: Option<String>,
    /// The origin it was started at.
    pub origin: String,
    /// The relying party's state (JSON).
    pub state: String,
}

const PASSKEY_COLS: &str =
    "id, user_id, user_handle, credential_id, name, credential, sign_count, created_at, last_used_at";

impl Store {
    /// The passkeys of `user_id`, oldest first.
    pub async fn passkeys_of(&self, user_id: &str) -> StoreResult<Vec<PasskeyRow>> {
        let sql = format!(
            "SELECT {PASSKEY_COLS} FROM passkeys WHERE user_id = ? ORDER BY created_at, id"
        );
        Ok(on_pool!(self, |p| sqlx::query_as::<_, PasskeyRow>(&sql)
            .bind(user_id)
            .fetch_all(p)
            .await)?)
    }

    /// The passkey with this credential id (base64url), whoever owns it.
    pub async fn passkey_by_credential(
        &self,
        credential_id: &str,
    ) -> StoreResult<Option<PasskeyRow>> {
        let sql = format!("SELECT {PASSKEY_COLS} FROM passkeys WHERE credential_id = ?");
        Ok(on_pool!(self, |p| sqlx::query_as::<_, PasskeyRow>(&sql)
            .bind(credential_id)
            .fetch_optional(p)
            .await)?)
    }

    /// Whether `user_id` has a passkey.
    pub async fn has_passkey(&self, user_id: &str) -> StoreResult<bool> {
        let (n,) = on_pool!(self, |p| sqlx::query_as::<_, (i64,)>(
            "SELECT COUNT(*) FROM passkeys WHERE user_id = ?"
        )
        .bind(user_id)
        .fetch_one(p)
        .await)?;
        Ok(n > 0)
    }

    /// The user ids with a passkey.
    pub async fn users_with_passkeys(&self) -> StoreResult<Vec<String>> {
        let rows: Vec<(String,)> = on_pool!(self, |p| sqlx::query_as::<_, (String,)>(
            "SELECT DISTINCT user_id FROM passkeys"
        )
        .fetch_all(p)
        .await)?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    /// Records a new passkey; `Conflict` when its credential id is registered already (to
    /// anyone).
    pub async fn add_passkey(&self, row: &PasskeyRow) -> StoreResult<()> {
        let sql =
            format!("INSERT INTO passkeys ({PASSKEY_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
        exec!(self, |p| sqlx::query(&sql)
            .bind(&row.id)
            .bind(&row.user_id)
            .bind(&row.user_handle)
            .bind(&row.credential_id)
            .bind(&row.name)
            .bind(&row.credential)
            .bind(row.sign_count)
            .bind(row.created_at)
            .bind(row.last_used_at)
            .execute(p)
            .await)?;
        Ok(())
    }

    /// Records a use of passkey `id`: its new record and counter, only if the counter is still
    /// `seen` (two uses racing, or a cloned authenticator, make the second one fail).
    pub async fn record_passkey_use(
        &self,
        id: &str,
        credential: &str,
        seen: i64,
        counter: i64,
    ) -> StoreResult<bool> {
        let n = exec!(self, |p| {
            sqlx::query(
            "UPDATE passkeys SET credential = ?, sign_count = ?, last_used_at = ? WHERE id = ? AND sign_count = ?"
        )
        .bind(credential)
        .bind(counter)
        .bind(now_ms())
        .bind(id)
        .bind(seen)
        .execute(p)
        .await
        })?;
        Ok(n == 1)
    }

    /// Renames passkey `id` of `user_id`; false when they have none by that id.
    pub async fn rename_passkey(&self, user_id: &str, id: &str, name: &str) -> StoreResult<bool> {
        let found = on_pool!(self, |p| sqlx::query_as::<_, (String,)>(
            "SELECT id FROM passkeys WHERE id = ? AND user_id = ?"
        )
        .bind(id)
        .bind(user_id)
        .fetch_optional(p)
        .await)?;
        if found.is_none() {
            return Ok(false);
        }
        exec!(self, |p| sqlx::query(
            "UPDATE passkeys SET name = ? WHERE id = ? AND user_id = ?"
        )
        .bind(name)
        .bind(id)
        .bind(user_id)
        .execute(p)
        .await)?;
        Ok(true)
    }

    /// Removes passkey `id` of `user_id` (recovery codes go too when no second factor is left);
    /// false when they have none by that id.
    pub async fn delete_passkey(&self, user_id: &str, id: &str) -> StoreResult<bool> {
        let n = exec!(self, |p| sqlx::query(
            "DELETE FROM passkeys WHERE id = ? AND user_id = ?"
        )
        .bind(id)
        .bind(user_id)
        .execute(p)
        .await)?;
        self.drop_orphan_recovery_codes(user_id).await?;
        Ok(n == 1)
    }

    /// Removes every passkey of `user_id`; how many there were.
    pub async fn delete_passkeys(&self, user_id: &str) -> StoreResult<u64> {
        let n = exec!(self, |p| sqlx::query(
            "DELETE FROM passkeys WHERE user_id = ?"
        )
        .bind(user_id)
        .execute(p)
        .await)?;
        self.drop_orphan_recovery_codes(user_id).await?;
        Ok(n)
    }

    /// Recovery codes stand in for a second factor: without one (no app, no passkey) they go.
    pub async fn drop_orphan_recovery_codes(&self, user_id: &str) -> StoreResult<()> {
        exec!(self, |p| {
            sqlx::query(
            "DELETE FROM recovery_codes WHERE user_id = ? \
             AND NOT EXISTS (SELECT 1 FROM user_totp WHERE user_id = ? AND confirmed_at IS NOT NULL) \
             AND NOT EXISTS (SELECT 1 FROM passkeys WHERE user_id = ?)"
        )
        .bind(user_id)
        .bind(user_id)
        .bind(user_id)
        .execute(p)
        .await
        })?;
        Ok(())
    }

    /// Records a ceremony (expired ones of anyone go).
    pub async fn create_ceremony(
        &self,
        id_hash: &str,
        kind: &str,
        user_id: Option<&str>,
        origin: &str,
        state: &str,
        expires_at: i64,
    ) -> StoreResult<()> {
        let now = now_ms();
        exec!(self, |p| sqlx::query(
            "DELETE FROM webauthn_ceremonies WHERE expires_at <= ?"
        )
        .bind(now)
        .execute(p)
        .await)?;
        exec!(self, |p| {
            sqlx::query(
            "INSERT INTO webauthn_ceremonies (id_hash, kind, user_id, origin, state, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
        )
        .bind(id_hash)
        .bind(kind)
        .bind(user_id)
        .bind(origin)
        .bind(state)
        .bind(now)
        .bind(expires_at)
        .execute(p)
        .await
        })?;
        Ok(())
    }

    /// Takes a ceremony still valid at `now`: only the call that removes it gets it.
    pub async fn take_ceremony(&self, id_hash: &str, now: i64) -> StoreResult<Option<CeremonyRow>> {
        let row = on_pool!(self, |p| {
            sqlx::query_as::<_, CeremonyRow>(
            "SELECT kind, user_id, origin, state FROM webauthn_ceremonies WHERE id_hash = ? AND expires_at > ?"
        )
        .bind(id_hash)
        .bind(now)
        .fetch_optional(p)
        .await
        })?;
        let Some(row) = row else { return Ok(None) };
        let n = exec!(self, |p| sqlx::query(
            "DELETE FROM webauthn_ceremonies WHERE id_hash = ?"
        )
        .bind(id_hash)
        .execute(p)
        .await)?;
        Ok((n == 1).then_some(row))
    }
}
