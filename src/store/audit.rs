//! The audit log: one row per action, never updated.

use serde::Serialize;

use super::{new_id, now_ms, on_pool, Store, StoreResult};

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
    /// When it happened (ms); the time of writing when absent.
    pub created_at: Option<i64>,
}

impl AuditRow {
    /// As the API and the live tail show it (`details` parsed).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "userId": self.user_id,
            "username": self.username,
            "action": self.action,
            "resource": self.resource,
            "details": serde_json::from_str::<serde_json::Value>(&self.details)
                .unwrap_or_else(|_| serde_json::Value::String(self.details.clone())),
            "ipAddress": self.ip_address,
            "userAgent": self.user_agent,
            "status": self.status,
            "opId": self.op_id,
            "createdAt": self.created_at,
        })
    }
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

/// Filters of the admin audit-log search. Text filters are case-insensitive "contains" matches;
/// `action` and `status` are exact; times are inclusive bounds (ms).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Username contains.
    pub username: Option<String>,
    /// Action equals.
    pub action: Option<String>,
    /// Resource contains.
    pub resource: Option<String>,
    /// Status equals.
    pub status: Option<String>,
    /// At or after (ms).
    pub from: Option<i64>,
    /// At or before (ms).
    pub to: Option<i64>,
}

/// Counts behind `GET /api/admin/audit-logs/stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditStats {
    /// Every row.
    pub total: i64,
    /// Rows per status, `(status, count)`.
    pub by_status: Vec<(String, i64)>,
    /// `FAILURE` rows since the given instant.
    pub failures_since: i64,
    /// Distinct usernames since the given instant.
    pub unique_users: i64,
    /// The most frequent actions, `(action, count)`, most first.
    pub top_actions: Vec<(String, i64)>,
    /// The newest `FAILURE` or `WARNING` rows since the given instant.
    pub recent_alerts: Vec<AuditRow>,
    /// Rows per hour since the given instant, `(start of the hour in ms, count)`, oldest first.
    pub hourly: Vec<(i64, i64)>,
}

/// The instants [`Store::audit_stats`] counts from (all ms).
#[derive(Debug, Clone, Copy)]
pub struct StatsWindows {
    /// Failures are counted since (today's midnight).
    pub failures_since: i64,
    /// Distinct users are counted since (seven days ago).
    pub users_since: i64,
    /// Alerts and hourly activity since (24 hours ago).
    pub recent_since: i64,
    /// How many alerts.
    pub alerts: i64,
    /// How many actions in the breakdown.
    pub actions: i64,
}

/// The length of the audit log's indexed text columns (`VARCHAR(191)` on MariaDB), in characters.
const KEY_CHARS: usize = 191;
/// How much of a user agent is kept.
const AGENT_CHARS: usize = 1024;

/// `s`, or its first `max - 1` characters and `…` when it is longer.
fn clip(s: &str, max: usize) -> std::borrow::Cow<'_, str> {
    match s.char_indices().nth(max) {
        None => s.into(),
        Some(_) => {
            let end = s.char_indices().nth(max - 1).map_or(s.len(), |(i, _)| i);
            format!("{}…", &s[..end]).into()
        }
    }
}

fn clip_opt(s: &Option<String>, max: usize) -> Option<std::borrow::Cow<'_, str>> {
    s.as_deref().map(|s| clip(s, max))
}

const AUDIT_COLS: &str = "id, user_id, username, action, resource, details, ip_address, user_agent, status, op_id, created_at";

// Each optional filter is `(? IS NULL OR …)`, so one text with fixed binds serves every
// combination on both backends. INSTR over LOWER is a case-insensitive "contains" that needs no
// escaping of `%` and `_`.
const AUDIT_WHERE: &str = "(? IS NULL OR INSTR(LOWER(username), LOWER(?)) > 0) \
    AND (? IS NULL OR action = ?) \
    AND (? IS NULL OR INSTR(LOWER(resource), LOWER(?)) > 0) \
    AND (? IS NULL OR status = ?) \
    AND (? IS NULL OR created_at >= ?) \
    AND (? IS NULL OR created_at <= ?)";

/// Binds the filters of an [`AuditQuery`] in the order of [`AUDIT_WHERE`].
macro_rules! bind_filters {
    ($q:expr, $query:expr) => {
        $query
            .bind(&$q.username)
            .bind(&$q.username)
            .bind(&$q.action)
            .bind(&$q.action)
            .bind(&$q.resource)
            .bind(&$q.resource)
            .bind(&$q.status)
            .bind(&$q.status)
            .bind($q.from)
            .bind($q.from)
            .bind($q.to)
            .bind($q.to)
    };
}

impl Store {
    /// Writes several audit rows in one transaction (the audit writer batches).
    pub async fn insert_audit_rows(&self, rows: &[NewAudit]) -> StoreResult<Vec<AuditRow>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let now = now_ms();
        // Text a caller chose (a resource names what they asked for) is clipped to its column:
        // on MariaDB one row too long would fail the whole batch.
        let written: Vec<AuditRow> = rows
            .iter()
            .map(|r| AuditRow {
                id: new_id(),
                user_id: clip_opt(&r.user_id, KEY_CHARS).map(Into::into),
                username: clip(&r.username, KEY_CHARS).into(),
                action: clip(&r.action, KEY_CHARS).into(),
                resource: clip(&r.resource, KEY_CHARS).into(),
                details: r.details.to_string(),
                ip_address: clip_opt(&r.ip_address, KEY_CHARS).map(Into::into),
                user_agent: clip_opt(&r.user_agent, AGENT_CHARS).map(Into::into),
                status: clip(&r.status, KEY_CHARS).into(),
                op_id: clip_opt(&r.op_id, KEY_CHARS).map(Into::into),
                created_at: r.created_at.unwrap_or(now),
            })
            .collect();
        let insert = format!(
            "INSERT INTO audit_logs ({AUDIT_COLS}, chain_seq, row_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        );
        let key = *self.audit_key();
        // The chain's head is taken first, as a lock: writers (on any instance) queue on it, so
        // the rows form one chain in the order they are written.
        on_pool!(self, |p| {
            let mut tx = p.begin().await?;
            sqlx::query("UPDATE audit_chain SET seq = seq WHERE id = 'head'")
                .execute(&mut *tx)
                .await?;
            let (mut seq, mut hash): (i64, String) =
                sqlx::query_as("SELECT seq, hash FROM audit_chain WHERE id = 'head'")
                    .fetch_one(&mut *tx)
                    .await?;
            for r in &written {
                seq += 1;
                hash = super::audit_chain::row_hash(&key, seq, &hash, r);
                sqlx::query(&insert)
                    .bind(&r.id)
                    .bind(&r.user_id)
                    .bind(&r.username)
                    .bind(&r.action)
                    .bind(&r.resource)
                    .bind(&r.details)
                    .bind(&r.ip_address)
                    .bind(&r.user_agent)
                    .bind(&r.status)
                    .bind(&r.op_id)
                    .bind(r.created_at)
                    .bind(seq)
                    .bind(&hash)
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query("UPDATE audit_chain SET seq = ?, hash = ? WHERE id = 'head'")
                .bind(seq)
                .bind(&hash)
                .execute(&mut *tx)
                .await?;
            tx.commit().await
        })?;
        Ok(written)
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

    /// Rows matching `q`, newest first, after `cursor` (the `(created_at, id)` of the last row
    /// of the previous batch): a stable walk through the whole set while rows are being added
    /// (exports).
    pub async fn audit_batch(
        &self,
        q: &AuditQuery,
        cursor: Option<(i64, &str)>,
        limit: i64,
    ) -> StoreResult<Vec<AuditRow>> {
        let sql = format!(
            "SELECT {AUDIT_COLS} FROM audit_logs WHERE {AUDIT_WHERE} \
             AND (? IS NULL OR created_at < ? OR (created_at = ? AND id < ?)) \
             ORDER BY created_at DESC, id DESC LIMIT ?"
        );
        let (at, id) = match cursor {
            Some((at, id)) => (Some(at), Some(id)),
            None => (None, None),
        };
        Ok(on_pool!(self, |p| bind_filters!(
            q,
            sqlx::query_as::<_, AuditRow>(&sql)
        )
        .bind(at)
        .bind(at)
        .bind(at)
        .bind(id)
        .bind(limit)
        .fetch_all(p)
        .await)?)
    }

    /// Rows matching `q`, newest first, and how many match in all.
    pub async fn search_audit(
        &self,
        q: &AuditQuery,
        limit: i64,
        offset: i64,
    ) -> StoreResult<(Vec<AuditRow>, i64)> {
        let rows_sql = format!(
            "SELECT {AUDIT_COLS} FROM audit_logs WHERE {AUDIT_WHERE} ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?"
        );
        let count_sql = format!("SELECT COUNT(*) FROM audit_logs WHERE {AUDIT_WHERE}");
        let rows = on_pool!(self, |p| bind_filters!(
            q,
            sqlx::query_as::<_, AuditRow>(&rows_sql)
        )
        .bind(limit)
        .bind(offset)
        .fetch_all(p)
        .await)?;
        let total: i64 = on_pool!(self, |p| bind_filters!(q, sqlx::query_scalar(&count_sql))
            .fetch_one(p)
            .await)?;
        Ok((rows, total))
    }

    /// Summary counts of the whole log (see [`AuditStats`]).
    pub async fn audit_stats(&self, w: StatsWindows) -> StoreResult<AuditStats> {
        let total: i64 = on_pool!(self, |p| sqlx::query_scalar(
            "SELECT COUNT(*) FROM audit_logs"
        )
        .fetch_one(p)
        .await)?;
        let by_status: Vec<(String, i64)> = on_pool!(self, |p| sqlx::query_as(
            "SELECT status, COUNT(*) FROM audit_logs GROUP BY status ORDER BY status"
        )
        .fetch_all(p)
        .await)?;
        let failures_since: i64 = on_pool!(self, |p| sqlx::query_scalar(
            "SELECT COUNT(*) FROM audit_logs WHERE status = 'FAILURE' AND created_at >= ?"
        )
        .bind(w.failures_since)
        .fetch_one(p)
        .await)?;
        let unique_users: i64 = on_pool!(self, |p| sqlx::query_scalar(
            "SELECT COUNT(DISTINCT username) FROM audit_logs WHERE created_at >= ?"
        )
        .bind(w.users_since)
        .fetch_one(p)
        .await)?;
        let top_actions: Vec<(String, i64)> = on_pool!(self, |p| {
            sqlx::query_as(
            "SELECT action, COUNT(*) AS n FROM audit_logs GROUP BY action ORDER BY n DESC, action LIMIT ?"
        )
        .bind(w.actions)
        .fetch_all(p)
        .await
        })?;
        let alerts_sql = format!(
            "SELECT {AUDIT_COLS} FROM audit_logs WHERE status IN ('FAILURE', 'WARNING') AND created_at >= ? ORDER BY created_at DESC, id DESC LIMIT ?"
        );
        let recent_alerts = on_pool!(self, |p| sqlx::query_as::<_, AuditRow>(&alerts_sql)
            .bind(w.recent_since)
            .bind(w.alerts)
            .fetch_all(p)
            .await)?;
        let hourly: Vec<(i64, i64)> = on_pool!(self, |p| {
            sqlx::query_as(
            "SELECT created_at - (created_at % 3600000) AS hour_start, COUNT(*) AS n FROM audit_logs WHERE created_at >= ? GROUP BY hour_start ORDER BY hour_start"
        )
        .bind(w.recent_since)
        .fetch_all(p)
        .await
        })?;
        Ok(AuditStats {
            total,
            by_status,
            failures_since,
            unique_users,
            top_actions,
            recent_alerts,
            hourly,
        })
    }

    /// Usernames with the most rows whose name contains `q` (case-insensitive; empty `q`
    /// matches all), `(username, count)`.
    pub async fn audit_user_suggestions(
        &self,
        q: &str,
        limit: i64,
    ) -> StoreResult<Vec<(String, i64)>> {
        Ok(on_pool!(self, |p| {
            sqlx::query_as(
            "SELECT username, COUNT(*) AS n FROM audit_logs WHERE INSTR(LOWER(username), LOWER(?)) > 0 GROUP BY username ORDER BY n DESC, username LIMIT ?"
        )
        .bind(q)
        .bind(limit)
        .fetch_all(p)
        .await
        })?)
    }

    /// Actions with the most rows whose name contains `q` (case-insensitive; empty `q` matches
    /// all), `(action, count)`.
    pub async fn audit_action_suggestions(
        &self,
        q: &str,
        limit: i64,
    ) -> StoreResult<Vec<(String, i64)>> {
        Ok(on_pool!(self, |p| {
            sqlx::query_as(
            "SELECT action, COUNT(*) AS n FROM audit_logs WHERE INSTR(LOWER(action), LOWER(?)) > 0 GROUP BY action ORDER BY n DESC, action LIMIT ?"
        )
        .bind(q)
        .bind(limit)
        .fetch_all(p)
        .await
        })?)
    }

    /// Deletes audit rows older than `before` (retention); returns how many. The chain is cut
    /// before its first row from `before` on (a row written late with an old time keeps what
    /// follows it), and the last deleted row is kept as a checkpoint signed with the audit key
    /// (its place, hash and the cut-off), from which verification starts.
    pub async fn purge_audit(&self, before: i64) -> StoreResult<u64> {
        let now = now_ms();
        let key = *self.audit_key();
        let deleted = on_pool!(self, |p| {
            let mut tx = p.begin().await?;
            // Writers wait: the chain does not move while its start is cut.
            sqlx::query("UPDATE audit_chain SET seq = seq WHERE id = 'head'")
                .execute(&mut *tx)
                .await?;
            let (head,): (i64,) = sqlx::query_as("SELECT seq FROM audit_chain WHERE id = 'head'")
                .fetch_one(&mut *tx)
                .await?;
            let keep_from: Option<i64> = sqlx::query_scalar(
                "SELECT MIN(chain_seq) FROM audit_logs WHERE chain_seq IS NOT NULL AND created_at >= ?",
            )
            .bind(before)
            .fetch_one(&mut *tx)
            .await?;
            let cut = keep_from.map_or(head, |k| k - 1);
            let last: Option<(i64, String)> = sqlx::query_as(
                "SELECT chain_seq, row_hash FROM audit_logs WHERE chain_seq IS NOT NULL AND chain_seq <= ? ORDER BY chain_seq DESC LIMIT 1",
            )
            .bind(cut)
            .fetch_optional(&mut *tx)
            .await?;
            let mut n = 0;
            if let Some((seq, hash)) = last {
                sqlx::query(
                    "INSERT INTO audit_checkpoints (id, seq, hash, signature, created_at) VALUES (?, ?, ?, ?, ?)",
                )
                .bind(new_id())
                .bind(seq)
                .bind(&hash)
                .bind(super::audit_chain::sign(&key, seq, &hash))
                .bind(now)
                .execute(&mut *tx)
                .await?;
                n += sqlx::query(
                    "DELETE FROM audit_logs WHERE chain_seq IS NOT NULL AND chain_seq <= ?",
                )
                .bind(seq)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            }
            // Rows from before the chain existed.
            n += sqlx::query("DELETE FROM audit_logs WHERE chain_seq IS NULL AND created_at < ?")
                .bind(before)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await.map(|()| n)
        })?;
        Ok(deleted)
    }
}
