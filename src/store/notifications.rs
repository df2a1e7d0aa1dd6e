//! Notification banners: what administrators announce, with a kind, a priority, an optional
//! window (`starts_at`, `ends_at`) and who dismissed each.

use serde::{Deserialize, Serialize};

use super::{exec, expect_one, new_id, now_ms, on_pool, Store, StoreResult};

/// How a banner looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NoticeKind {
    /// Neutral news.
    Info,
    /// Something to watch out for.
    Warning,
    /// Something is broken.
    Error,
    /// Something went well.
    Success,
}

impl NoticeKind {
    /// Every kind, in the order forms offer them.
    pub const ALL: [NoticeKind; 4] = [Self::Info, Self::Warning, Self::Error, Self::Success];

    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Error => "error",
            Self::Success => "success",
        }
    }

    /// The kind named `s`.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A notification banner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    /// Row id.
    pub id: String,
    /// Sanitized HTML (`b i em strong u br`).
    pub message: String,
    /// How it looks (the original's `type`).
    #[serde(rename = "type")]
    pub kind: NoticeKind,
    /// Shown at all (an inactive banner is kept for later).
    pub is_active: bool,
    /// Higher first.
    pub priority: i64,
    /// Shown from (ms; `None`: at once).
    pub starts_at: Option<i64>,
    /// Shown until (ms; `None`: until switched off).
    pub ends_at: Option<i64>,
    /// Creation time (ms).
    pub created_at: i64,
    /// Last update (ms).
    pub updated_at: i64,
}

impl Notification {
    /// Whether it shows at `now` (active and within its window).
    pub fn shows_at(&self, now: i64) -> bool {
        self.is_active
            && self.starts_at.is_none_or(|s| s <= now)
            && self.ends_at.is_none_or(|e| now < e)
    }
}

/// What a banner is made of (a new one, or all of an existing one's fields).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeFields {
    /// Sanitized HTML.
    pub message: String,
    /// How it looks.
    pub kind: NoticeKind,
    /// Shown at all.
    pub is_active: bool,
    /// Higher first.
    pub priority: i64,
    /// Shown from (ms).
    pub starts_at: Option<i64>,
    /// Shown until (ms).
    pub ends_at: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    message: String,
    kind: String,
    is_active: bool,
    priority: i64,
    starts_at: Option<i64>,
    ends_at: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

impl From<Row> for Notification {
    fn from(r: Row) -> Self {
        Notification {
            id: r.id,
            message: r.message,
            // Rows are written through `NoticeKind`; an unknown one (edited by hand) shows as info.
            kind: NoticeKind::parse(&r.kind).unwrap_or(NoticeKind::Info),
            is_active: r.is_active,
            priority: r.priority,
            starts_at: r.starts_at,
            ends_at: r.ends_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

const COLS: &str =
    "id, message, kind, is_active, priority, starts_at, ends_at, created_at, updated_at";

impl Store {
    /// Creates a banner.
    pub async fn create_notification(&self, f: &NoticeFields) -> StoreResult<Notification> {
        let now = now_ms();
        let n = Notification {
            id: new_id(),
            message: f.message.clone(),
            kind: f.kind,
            is_active: f.is_active,
            priority: f.priority,
            starts_at: f.starts_at,
            ends_at: f.ends_at,
            created_at: now,
            updated_at: now,
        };
        exec!(self, |p| sqlx::query(&format!(
            "INSERT INTO notifications ({COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(&n.id)
        .bind(&n.message)
        .bind(n.kind.as_str())
        .bind(n.is_active)
        .bind(n.priority)
        .bind(n.starts_at)
        .bind(n.ends_at)
        .bind(n.created_at)
        .bind(n.updated_at)
        .execute(p)
        .await)?;
        Ok(n)
    }

    /// One banner.
    pub async fn notification(&self, id: &str) -> StoreResult<Option<Notification>> {
        let row = on_pool!(self, |p| sqlx::query_as::<_, Row>(&format!(
            "SELECT {COLS} FROM notifications WHERE id = ?"
        ))
        .bind(id)
        .fetch_optional(p)
        .await)?;
        Ok(row.map(Notification::from))
    }

    /// Every banner (inactive and out of window too), by priority then newest.
    pub async fn all_notifications(&self) -> StoreResult<Vec<Notification>> {
        let rows = on_pool!(self, |p| sqlx::query_as::<_, Row>(&format!(
            "SELECT {COLS} FROM notifications ORDER BY priority DESC, created_at DESC"
        ))
        .fetch_all(p)
        .await)?;
        Ok(rows.into_iter().map(Notification::from).collect())
    }

    /// The banners `username` sees: active, not over, not dismissed by them, by priority then
    /// newest — at most `limit`. Those that start later are included (the page shows them when
    /// their time comes).
    pub async fn notifications_for(
        &self,
        username: &str,
        now: i64,
        limit: i64,
    ) -> StoreResult<Vec<Notification>> {
        let rows = on_pool!(self, |p| sqlx::query_as::<_, Row>(&format!(
            "SELECT {COLS} FROM notifications n WHERE n.is_active = ? \
             AND (n.ends_at IS NULL OR n.ends_at > ?) \
             AND NOT EXISTS (SELECT 1 FROM notification_dismissals d \
                             WHERE d.notification_id = n.id AND d.username = ?) \
             ORDER BY n.priority DESC, n.created_at DESC LIMIT ?"
        ))
        .bind(true)
        .bind(now)
        .bind(username)
        .bind(limit)
        .fetch_all(p)
        .await)?;
        Ok(rows.into_iter().map(Notification::from).collect())
    }

    /// Replaces every field of a banner; returns its new `updated_at`.
    pub async fn update_notification(&self, id: &str, f: &NoticeFields) -> StoreResult<i64> {
        let now = now_ms();
        let rows = exec!(self, |p| sqlx::query(
            "UPDATE notifications SET message = ?, kind = ?, is_active = ?, priority = ?, \
             starts_at = ?, ends_at = ?, updated_at = ? WHERE id = ?"
        )
        .bind(&f.message)
        .bind(f.kind.as_str())
        .bind(f.is_active)
        .bind(f.priority)
        .bind(f.starts_at)
        .bind(f.ends_at)
        .bind(now)
        .bind(id)
        .execute(p)
        .await)?;
        expect_one(rows)?;
        Ok(now)
    }

    /// Deletes a banner and who dismissed it, together.
    pub async fn delete_notification(&self, id: &str) -> StoreResult<()> {
        let deleted = on_pool!(self, |p| {
            let mut tx = p.begin().await?;
            sqlx::query("DELETE FROM notification_dismissals WHERE notification_id = ?")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            let rows = sqlx::query("DELETE FROM notifications WHERE id = ?")
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            Ok::<u64, sqlx::Error>(rows)
        })?;
        expect_one(deleted)
    }

    /// Remembers that `username` dismissed banner `id` (again is fine); `NotFound` for an
    /// unknown banner. One statement, so a banner deleted meanwhile leaves no row behind.
    pub async fn dismiss_notification(&self, id: &str, username: &str) -> StoreResult<()> {
        let inserted = exec!(self, |p| sqlx::query(
            "INSERT INTO notification_dismissals (notification_id, username, dismissed_at) \
             SELECT id, ?, ? FROM notifications WHERE id = ?"
        )
        .bind(username)
        .bind(now_ms())
        .bind(id)
        .execute(p)
        .await);
        match inserted.map_err(super::StoreError::from) {
            Ok(1) | Err(super::StoreError::Conflict(_)) => Ok(()),
            Ok(_) => Err(super::StoreError::NotFound),
            Err(e) => Err(e),
        }
    }

    /// The banners `username` dismissed (still existing).
    pub async fn dismissed_by(&self, username: &str) -> StoreResult<Vec<String>> {
        Ok(on_pool!(self, |p| sqlx::query_scalar::<_, String>(
            "SELECT notification_id FROM notification_dismissals WHERE username = ?"
        )
        .bind(username)
        .fetch_all(p)
        .await)?)
    }
}
