//! The people of a chat: users by id, blocks, and chat settings.

use super::placeholders;
use crate::store::{exec, expect_one, new_id, now_ms, on_pool, Store, StoreResult};

impl Store {
    /// Users with these ids (unknown ids are skipped).
    pub async fn users_by_ids(&self, ids: &[String]) -> StoreResult<Vec<crate::store::auth::User>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT id, username, display_name, avatar, settings, created_at, updated_at FROM users WHERE id IN ({})",
            placeholders(ids.len())
        );
        Ok(on_pool!(self, |p| {
            let mut q = sqlx::query_as::<_, crate::store::auth::User>(&sql);
            for id in ids {
                q = q.bind(id);
            }
            q.fetch_all(p).await
        })?)
    }

    /// `blocker_id` blocks `blocked_id`; `Conflict` when already blocked.
    pub async fn block_user(&self, blocker_id: &str, blocked_id: &str) -> StoreResult<()> {
        exec!(self, |p| sqlx::query(
            "INSERT INTO blocks (id, blocker_id, blocked_id, created_at) VALUES (?, ?, ?, ?)"
        )
        .bind(new_id())
        .bind(blocker_id)
        .bind(blocked_id)
        .bind(now_ms())
        .execute(p)
        .await)?;
        Ok(())
    }

    /// Lifts a block.
    pub async fn unblock_user(&self, blocker_id: &str, blocked_id: &str) -> StoreResult<()> {
        let rows = exec!(self, |p| sqlx::query(
            "DELETE FROM blocks WHERE blocker_id = ? AND blocked_id = ?"
        )
        .bind(blocker_id)
        .bind(blocked_id)
        .execute(p)
        .await)?;
        expect_one(rows)
    }

    /// Whether `blocker_id` blocks `blocked_id`.
    pub async fn is_blocked(&self, blocker_id: &str, blocked_id: &str) -> StoreResult<bool> {
        let n: i64 = on_pool!(self, |p| sqlx::query_scalar(
            "SELECT COUNT(*) FROM blocks WHERE blocker_id = ? AND blocked_id = ?"
        )
        .bind(blocker_id)
        .bind(blocked_id)
        .fetch_one(p)
        .await)?;
        Ok(n > 0)
    }

    /// `(blocker, blocked)` pairs where the blocker is a member of the group.
    pub async fn blocks_in_group(&self, group_id: &str) -> StoreResult<Vec<(String, String)>> {
        Ok(on_pool!(self, |p| {
            sqlx::query_as::<_, (String, String)>(
            "SELECT b.blocker_id, b.blocked_id FROM blocks b JOIN group_members m ON m.user_id = b.blocker_id AND m.group_id = ?"
        )
        .bind(group_id)
        .fetch_all(p)
        .await
        })?)
    }

    /// `(blocker, blocked)` pairs between two users (either way).
    pub async fn blocks_between(&self, a: &str, b: &str) -> StoreResult<Vec<(String, String)>> {
        Ok(on_pool!(self, |p| {
            sqlx::query_as::<_, (String, String)>(
            "SELECT blocker_id, blocked_id FROM blocks WHERE (blocker_id = ? AND blocked_id = ?) OR (blocker_id = ? AND blocked_id = ?)"
        )
        .bind(a)
        .bind(b)
        .bind(b)
        .bind(a)
        .fetch_all(p)
        .await
        })?)
    }

    /// Users `blocker_id` blocks, by username.
    pub async fn blocked_users(
        &self,
        blocker_id: &str,
    ) -> StoreResult<Vec<crate::store::auth::User>> {
        Ok(on_pool!(self, |p| {
            sqlx::query_as::<_, crate::store::auth::User>(
            "SELECT u.id, u.username, u.display_name, u.avatar, u.settings, u.created_at, u.updated_at FROM users u JOIN blocks b ON b.blocked_id = u.id WHERE b.blocker_id = ? ORDER BY u.username"
        )
        .bind(blocker_id)
        .fetch_all(p)
        .await
        })?)
    }

    /// Stores a user's chat settings (JSON).
    pub async fn set_user_settings(&self, user_id: &str, settings: &str) -> StoreResult<()> {
        let rows = exec!(self, |p| sqlx::query(
            "UPDATE users SET settings = ?, updated_at = ? WHERE id = ?"
        )
        .bind(settings)
        .bind(now_ms())
        .bind(user_id)
        .execute(p)
        .await)?;
        expect_one(rows)
    }
}
