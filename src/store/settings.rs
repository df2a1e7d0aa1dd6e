//! Application settings (key → JSON).

use super::{exec, expect_one, new_id, now_ms, on_pool, Store, StoreError, StoreResult};

/// Setting with the admin and allowed directory groups (`{adminGroups, allowedGroups}`), read at
/// sign-in.
pub const ACCESS_KEY: &str = "access";

/// Setting with the per-user caps (`{maxVnetsPerUser}`).
pub const RESOURCE_LIMITS_KEY: &str = "resource_limits";

/// The pool id whose limits row holds the default quota of every pool.
pub const GLOBAL_POOL: &str = "global";

impl Store {
    /// The JSON value of a setting.
    pub async fn config_value(&self, key: &str) -> StoreResult<Option<serde_json::Value>> {
        let raw: Option<String> = on_pool!(self, |p| sqlx::query_scalar(
            "SELECT value FROM app_config WHERE config_key = ?"
        )
        .bind(key)
        .fetch_optional(p)
        .await)?;
        Ok(raw.and_then(|s| serde_json::from_str(&s).ok()))
    }

    /// Sets a setting (insert or replace).
    pub async fn set_config_value(&self, key: &str, value: &serde_json::Value) -> StoreResult<()> {
        let text = value.to_string();
        let now = now_ms();
        let update = |text: String| async move {
            exec!(self, |p| sqlx::query(
                "UPDATE app_config SET value = ?, updated_at = ? WHERE config_key = ?"
            )
            .bind(text)
            .bind(now)
            .bind(key)
            .execute(p)
            .await)
        };
        if update(text.clone()).await? > 0 {
            return Ok(());
        }
        let inserted = exec!(self, |p| sqlx::query(
            "INSERT INTO app_config (id, config_key, value, updated_at) VALUES (?, ?, ?, ?)"
        )
        .bind(new_id())
        .bind(key)
        .bind(&text)
        .bind(now)
        .execute(p)
        .await);
        match inserted.map_err(StoreError::from) {
            Ok(_) => Ok(()),
            // MariaDB reports 0 changed rows when the value was already equal, and another writer
            // may have inserted in between: either way the row now exists.
            Err(StoreError::Conflict(_)) => update(text).await.map(|_| ()).map_err(Into::into),
            Err(e) => Err(e),
        }
    }

    /// This deployment's id: made by the first instance to ask, the same for every instance on
    /// this database. It keeps what instances share in Redis apart from other deployments' there.
    pub async fn deployment_id(&self) -> StoreResult<String> {
        const KEY: &str = "deploymentId";
        let read = || async {
            Ok::<_, StoreError>(
                self.config_value(KEY)
                    .await?
                    .and_then(|v| v.as_str().map(str::to_owned)),
            )
        };
        if let Some(id) = read().await? {
            return Ok(id);
        }
        let inserted = exec!(self, |p| sqlx::query(
            "INSERT INTO app_config (id, config_key, value, updated_at) VALUES (?, ?, ?, ?)"
        )
        .bind(new_id())
        .bind(KEY)
        .bind(serde_json::Value::String(new_id()).to_string())
        .bind(now_ms())
        .execute(p)
        .await);
        match inserted.map_err(StoreError::from) {
            // Another instance made it first: theirs is the one.
            Ok(_) | Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
        read().await?.ok_or(StoreError::NotFound)
    }

    /// Removes a setting.
    pub async fn delete_config_value(&self, key: &str) -> StoreResult<()> {
        let rows = exec!(self, |p| sqlx::query(
            "DELETE FROM app_config WHERE config_key = ?"
        )
        .bind(key)
        .execute(p)
        .await)?;
        expect_one(rows)
    }
}
