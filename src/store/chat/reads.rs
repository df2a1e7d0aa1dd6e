//! What has been read and delivered: read marks, unread counts, delivery.

use crate::store::{exec, now_ms, on_pool, Store, StoreResult};

impl Store {
    /// Marks the direct messages from `sender_id` to `receiver_id` read; returns how many changed.
    pub async fn mark_read(&self, sender_id: &str, receiver_id: &str) -> StoreResult<u64> {
        Ok(exec!(self, |p| {
            sqlx::query(
            "UPDATE messages SET is_read = ?, updated_at = ? WHERE sender_id = ? AND receiver_id = ? AND is_read = ?"
        )
        .bind(true)
        .bind(now_ms())
        .bind(sender_id)
        .bind(receiver_id)
        .bind(false)
        .execute(p)
        .await
        })?)
    }

    /// Unread direct messages to `user_id`, per sender.
    pub async fn unread_direct_counts(&self, user_id: &str) -> StoreResult<Vec<(String, i64)>> {
        Ok(on_pool!(self, |p| {
            sqlx::query_as::<_, (String, i64)>(
            "SELECT sender_id, COUNT(*) FROM messages WHERE receiver_id = ? AND is_read = ? GROUP BY sender_id"
        )
        .bind(user_id)
        .bind(false)
        .fetch_all(p)
        .await
        })?)
    }

    /// Unread messages per group for `user_id` (others' messages after the read mark, from users
    /// they do not block).
    pub async fn unread_group_counts(&self, user_id: &str) -> StoreResult<Vec<(String, i64)>> {
        Ok(on_pool!(self, |p| sqlx::query_as::<_, (String, i64)>(
            "SELECT m.group_id, COUNT(*) FROM messages m \
             JOIN group_members gm ON gm.group_id = m.group_id AND gm.user_id = ? \
             LEFT JOIN chat_reads r ON r.group_id = m.group_id AND r.user_id = ? \
             WHERE m.sender_id <> ? AND m.seq > COALESCE(r.last_read_seq, 0) \
             AND m.sender_id NOT IN (SELECT blocked_id FROM blocks WHERE blocker_id = ?) \
             GROUP BY m.group_id"
        )
        .bind(user_id)
        .bind(user_id)
        .bind(user_id)
        .bind(user_id)
        .fetch_all(p)
        .await)?)
    }

    /// Moves `user_id`'s read mark in a group forward to `up_to` (never back); returns the mark.
    pub async fn mark_group_read(
        &self,
        user_id: &str,
        group_id: &str,
        up_to: i64,
    ) -> StoreResult<i64> {
        let now = now_ms();
        let updated = exec!(self, |p| {
            sqlx::query(
            "UPDATE chat_reads SET last_read_seq = ?, updated_at = ? WHERE user_id = ? AND group_id = ? AND last_read_seq < ?"
        )
        .bind(up_to)
        .bind(now)
        .bind(user_id)
        .bind(group_id)
        .bind(up_to)
        .execute(p)
        .await
        })?;
        if updated == 0 {
            let inserted = exec!(self, |p| {
                sqlx::query(
                "INSERT INTO chat_reads (user_id, group_id, last_read_seq, updated_at) VALUES (?, ?, ?, ?)"
            )
            .bind(user_id)
            .bind(group_id)
            .bind(up_to)
            .bind(now)
            .execute(p)
            .await
            });
            match inserted.map_err(crate::store::StoreError::from) {
                Ok(_) | Err(crate::store::StoreError::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
        let mark: Option<i64> = on_pool!(self, |p| sqlx::query_scalar(
            "SELECT last_read_seq FROM chat_reads WHERE user_id = ? AND group_id = ?"
        )
        .bind(user_id)
        .bind(group_id)
        .fetch_optional(p)
        .await)?;
        Ok(mark.unwrap_or(up_to))
    }

    /// Marks direct messages from `sender_id` to `receiver_id` read, up to `up_to` (all when
    /// `None`); returns how many changed.
    pub async fn mark_direct_read(
        &self,
        sender_id: &str,
        receiver_id: &str,
        up_to: Option<i64>,
    ) -> StoreResult<u64> {
        Ok(exec!(self, |p| {
            sqlx::query(
            "UPDATE messages SET is_read = ?, delivered = ?, updated_at = ? WHERE sender_id = ? AND receiver_id = ? AND is_read = ? AND seq <= ?"
        )
        .bind(true)
        .bind(true)
        .bind(now_ms())
        .bind(sender_id)
        .bind(receiver_id)
        .bind(false)
        .bind(up_to.unwrap_or(i64::MAX))
        .execute(p)
        .await
        })?)
    }

    /// Marks every undelivered direct message to `receiver_id` delivered; returns `(message id,
    /// sender id)` of those.
    pub async fn mark_delivered_to(&self, receiver_id: &str) -> StoreResult<Vec<(String, String)>> {
        let pending: Vec<(String, String)> = on_pool!(self, |p| {
            sqlx::query_as(
            "SELECT id, sender_id FROM messages WHERE receiver_id = ? AND delivered = ? ORDER BY seq"
        )
        .bind(receiver_id)
        .bind(false)
        .fetch_all(p)
        .await
        })?;
        if pending.is_empty() {
            return Ok(pending);
        }
        exec!(self, |p| sqlx::query(
            "UPDATE messages SET delivered = ? WHERE receiver_id = ? AND delivered = ?"
        )
        .bind(true)
        .bind(receiver_id)
        .bind(false)
        .execute(p)
        .await)?;
        Ok(pending)
    }
}
