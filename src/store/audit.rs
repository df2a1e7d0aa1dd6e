//! The audit log: one row per action, never updated.

use serde::Serialize;

use super::{exec, new_id, now_ms, on_pool, Store, StoreResult};

/// One audit row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct AuditRow {
    /// Row id.
    pub id: String,
    /// Acting user's id when known.
    pub user_id: Option<String>,
    /// Acting username (`anonymous` when none).
    pub username: String,
    /// Action name (`LOGIN`, `VM_START`, …).
    pub action: String,
    /// What it acted on (`vm:100`, `pool:DEV_alice_1`, …).
    pub resource: String,
    /// Small JSON summary.
    pub details: String,
    /// Client IP.
    pub ip_address: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
    /// `SUCCESS`, `FAILURE` or `WARNING`.
    pub status: String,
    /// Operation id of the request or event.
    pub op_id: Option<String>,
    /// When (ms).
    pub created_at: i64,
}

/// What a caller writes.
#[derive(Debug, Clone, Default)]
pub struct NewAudit {
    /// Acting user's id.
    pub user_id: Option<String>,
    /// Acting username.
    pub username: String,
    /// Action name.
    pub action: String,
    /// Resource.
    pub resource: String,
    /// JSON details.
    pub details: serde_json::Value,
    /// Client IP.
    pub ip_address: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
    /// Status.
    pub status: String,
    /// Operation id.
    pub op_id: Option<String>,
}

/// Filters for listing.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only this username.
    pub username: Option<String>,
    /// Only this action.
    pub action: Option<String>,
    /// Only this status.
    pub status: Option<String>,
    /// Only rows at or after (ms).
    pub since: Option<i64>,
}

const AUDIT_COLS: &str = "id, user_id, username, action, resource, details, ip_address, user_agent, status, op_id, created_at";

impl Store {
    /// Writes several audit rows in one transaction (the audit writer batches).
    pub async fn insert_audit_rows(&self, rows: &[NewAudit]) -> StoreResult<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "INSERT INTO audit_logs ({AUDIT_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        );
        let now = now_ms();
        on_pool!(self, |p| {
            let mut tx = p.begin().await?;
            for r in rows {
                sqlx::query(&sql)
                    .bind(new_id())
                    .bind(&r.user_id)
                    .bind(&r.username)
                    .bind(&r.action)
                    .bind(&r.resource)
                    .bind(r.details.to_string())
                    .bind(&r.ip_address)
                    .bind(&r.user_agent)
                    .bind(&r.status)
                    .bind(&r.op_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await
        })?;
        Ok(())
    }

    /// Audit rows matching `filter`, newest first.
    pub async fn list_audit(
        &self,
        filter: &AuditFilter,
        limit: i64,
        offset: i64,
    ) -> StoreResult<Vec<AuditRow>> {
        let sql = format!(
            "SELECT {AUDIT_COLS} FROM audit_logs WHERE (? IS NULL OR username = ?) AND (? IS NULL OR action = ?) AND (? IS NULL OR status = ?) AND created_at >= ? ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?"
        );
        Ok(on_pool!(self, |p| sqlx::query_as::<_, AuditRow>(&sql)
            .bind(&filter.username)
            .bind(&filter.username)
            .bind(&filter.action)
            .bind(&filter.action)
            .bind(&filter.status)
            .bind(&filter.status)
            .bind(filter.since.unwrap_or(0))
            .bind(limit)
            .bind(offset)
            .fetch_all(p)
            .await)?)
    }

    /// Deletes audit rows older than `before` (retention); returns how many.
    pub async fn purge_audit(&self, before: i64) -> StoreResult<u64> {
        Ok(exec!(self, |p| sqlx::query(
            "DELETE FROM audit_logs WHERE created_at < ?"
        )
        .bind(before)
        .execute(p)
        .await)?)
    }
}
