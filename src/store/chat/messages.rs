//! Chat messages (direct and in groups), their history and reactions.

use super::{
    is_retryable, placeholders, Message, NewMessage, Reaction, DELETED_TEXT, MESSAGE_COLS,
};
use crate::store::{exec, expect_one, new_id, now_ms, on_pool, Store, StoreResult};

impl Store {
    /// Stores a message with the next global sequence number. On MariaDB two writers can
    /// deadlock on the sequence (both read the same maximum); the loser is retried.
    pub async fn insert_message(&self, m: NewMessage<'_>) -> StoreResult<Message> {
        let mut attempt = 0;
        loop {
            match self.try_insert_message(&m).await {
                Err(e) if attempt < 8 && is_retryable(&e) => {
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(2 << attempt)).await;
                }
                Err(e) => return Err(e.into()),
                Ok(id) => {
                    return self
                        .message(&id)
                        .await?
                        .ok_or(crate::store::StoreError::NotFound)
                }
            }
        }
    }

    async fn try_insert_message(&self, m: &NewMessage<'_>) -> Result<String, sqlx::Error> {
        let now = now_ms();
        let id = new_id();
        on_pool!(self, |p| {
            let mut tx = p.begin().await?;
            // The sequence comes from the table itself inside the write transaction, so two
            // writers (even on two instances) can't take the same number.
            sqlx::query(
                "INSERT INTO messages (id, seq, content, sender_id, receiver_id, group_id, is_read, delivered, reply_to_id, kind, metadata, created_at, updated_at) \
                 SELECT ?, COALESCE(MAX(seq), 0) + 1, ?, ?, ?, ?, ?, ?, ?, 'text', ?, ?, ? FROM messages",
            )
            .bind(&id)
            .bind(m.content)
            .bind(m.sender_id)
            .bind(m.receiver_id)
            .bind(m.group_id)
            .bind(false)
            .bind(m.delivered)
            .bind(m.reply_to_id)
            .bind(m.metadata)
            .bind(now)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await
        })?;
        Ok(id)
    }

    /// A message by id.
    pub async fn message(&self, id: &str) -> StoreResult<Option<Message>> {
        let sql = format!("SELECT {MESSAGE_COLS} FROM messages WHERE id = ?");
        Ok(on_pool!(self, |p| sqlx::query_as::<_, Message>(&sql)
            .bind(id)
            .fetch_optional(p)
            .await)?)
    }

    /// Replaces a message's content and stamps `edited_at`.
    pub async fn edit_message(&self, id: &str, content: &str) -> StoreResult<()> {
        let now = now_ms();
        let rows = exec!(self, |p| {
            sqlx::query(
            "UPDATE messages SET content = ?, edited_at = ?, updated_at = ? WHERE id = ? AND deleted_at IS NULL"
        )
        .bind(content)
        .bind(now)
        .bind(now)
        .bind(id)
        .execute(p)
        .await
        })?;
        expect_one(rows)
    }

    /// Soft-deletes a message: content replaced, `deleted_at` set.
    pub async fn soft_delete_message(&self, id: &str) -> StoreResult<()> {
        let now = now_ms();
        let rows = exec!(self, |p| {
            sqlx::query(
            "UPDATE messages SET content = ?, metadata = NULL, deleted_at = ?, updated_at = ? WHERE id = ? AND deleted_at IS NULL"
        )
        .bind(DELETED_TEXT)
        .bind(now)
        .bind(now)
        .bind(id)
        .execute(p)
        .await
        })?;
        expect_one(rows)
    }

    /// Direct messages between two users, newest first, before `before_seq` (exclusive).
    pub async fn direct_history(
        &self,
        a: &str,
        b: &str,
        before_seq: Option<i64>,
        limit: i64,
    ) -> StoreResult<Vec<Message>> {
        let sql = format!(
            "SELECT {MESSAGE_COLS} FROM messages WHERE ((sender_id = ? AND receiver_id = ?) OR (sender_id = ? AND receiver_id = ?)) AND seq < ? ORDER BY seq DESC LIMIT ?"
        );
        Ok(on_pool!(self, |p| sqlx::query_as::<_, Message>(&sql)
            .bind(a)
            .bind(b)
            .bind(b)
            .bind(a)
            .bind(before_seq.unwrap_or(i64::MAX))
            .bind(limit)
            .fetch_all(p)
            .await)?)
    }

    /// Messages of a group, newest first, before `before_seq` (exclusive).
    pub async fn group_history(
        &self,
        group_id: &str,
        before_seq: Option<i64>,
        limit: i64,
    ) -> StoreResult<Vec<Message>> {
        let sql = format!(
            "SELECT {MESSAGE_COLS} FROM messages WHERE group_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?"
        );
        Ok(on_pool!(self, |p| sqlx::query_as::<_, Message>(&sql)
            .bind(group_id)
            .bind(before_seq.unwrap_or(i64::MAX))
            .bind(limit)
            .fetch_all(p)
            .await)?)
    }

    /// A page of a group's messages for `viewer_id`, newest first, before `before_seq`;
    /// messages from users the viewer blocks are left out.
    pub async fn group_history_for(
        &self,
        group_id: &str,
        viewer_id: &str,
        before_seq: Option<i64>,
        limit: i64,
    ) -> StoreResult<Vec<Message>> {
        let sql = format!(
            "SELECT {MESSAGE_COLS} FROM messages WHERE group_id = ? AND seq < ? AND sender_id NOT IN (SELECT blocked_id FROM blocks WHERE blocker_id = ?) ORDER BY seq DESC LIMIT ?"
        );
        Ok(on_pool!(self, |p| sqlx::query_as::<_, Message>(&sql)
            .bind(group_id)
            .bind(before_seq.unwrap_or(i64::MAX))
            .bind(viewer_id)
            .bind(limit)
            .fetch_all(p)
            .await)?)
    }

    /// Newest direct message per counterpart of `user_id`, newest first (counterparts the user
    /// blocks are left out).
    pub async fn recent_direct(&self, user_id: &str, limit: i64) -> StoreResult<Vec<Message>> {
        let sql = format!(
            "SELECT {MESSAGE_COLS} FROM messages WHERE seq IN (\
               SELECT MAX(seq) FROM messages WHERE receiver_id IS NOT NULL AND (sender_id = ? OR receiver_id = ?) \
               GROUP BY CASE WHEN sender_id = ? THEN receiver_id ELSE sender_id END) \
             AND (CASE WHEN sender_id = ? THEN receiver_id ELSE sender_id END) NOT IN (SELECT blocked_id FROM blocks WHERE blocker_id = ?) \
             ORDER BY seq DESC LIMIT ?"
        );
        Ok(on_pool!(self, |p| sqlx::query_as::<_, Message>(&sql)
            .bind(user_id)
            .bind(user_id)
            .bind(user_id)
            .bind(user_id)
            .bind(user_id)
            .bind(limit)
            .fetch_all(p)
            .await)?)
    }

    /// Newest message of each group `user_id` is a member of.
    pub async fn last_group_messages(&self, user_id: &str) -> StoreResult<Vec<Message>> {
        let sql = format!(
            "SELECT {MESSAGE_COLS} FROM messages WHERE seq IN (\
               SELECT MAX(m.seq) FROM messages m JOIN group_members gm ON gm.group_id = m.group_id AND gm.user_id = ? GROUP BY m.group_id)"
        );
        Ok(on_pool!(self, |p| sqlx::query_as::<_, Message>(&sql)
            .bind(user_id)
            .fetch_all(p)
            .await)?)
    }

    /// Messages with these ids.
    pub async fn messages_by_ids(&self, ids: &[String]) -> StoreResult<Vec<Message>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {MESSAGE_COLS} FROM messages WHERE id IN ({})",
            placeholders(ids.len())
        );
        Ok(on_pool!(self, |p| {
            let mut q = sqlx::query_as::<_, Message>(&sql);
            for id in ids {
                q = q.bind(id);
            }
            q.fetch_all(p).await
        })?)
    }

    /// Adds the reaction, or removes it when the user already reacted with that emoji.
    /// Returns `true` when it was added.
    pub async fn toggle_reaction(
        &self,
        user_id: &str,
        message_id: &str,
        emoji: &str,
    ) -> StoreResult<bool> {
        let removed = exec!(self, |p| sqlx::query(
            "DELETE FROM reactions WHERE user_id = ? AND message_id = ? AND emoji = ?"
        )
        .bind(user_id)
        .bind(message_id)
        .bind(emoji)
        .execute(p)
        .await)?;
        if removed > 0 {
            return Ok(false);
        }
        self.add_reaction(user_id, message_id, emoji).await?;
        Ok(true)
    }

    /// Adds a reaction; `Conflict` when this user already reacted so on this message.
    pub async fn add_reaction(
        &self,
        user_id: &str,
        message_id: &str,
        emoji: &str,
    ) -> StoreResult<Reaction> {
        let r = Reaction {
            id: new_id(),
            emoji: emoji.to_owned(),
            user_id: user_id.to_owned(),
            message_id: message_id.to_owned(),
            created_at: now_ms(),
        };
        exec!(self, |p| {
            sqlx::query(
            "INSERT INTO reactions (id, emoji, user_id, message_id, created_at) VALUES (?, ?, ?, ?, ?)"
        )
        .bind(&r.id)
        .bind(&r.emoji)
        .bind(&r.user_id)
        .bind(&r.message_id)
        .bind(r.created_at)
        .execute(p)
        .await
        })?;
        Ok(r)
    }

    /// Reactions on a message, oldest first.
    pub async fn reactions(&self, message_id: &str) -> StoreResult<Vec<Reaction>> {
        Ok(on_pool!(self, |p| {
            sqlx::query_as::<_, Reaction>(
            "SELECT id, emoji, user_id, message_id, created_at FROM reactions WHERE message_id = ? ORDER BY created_at, id"
        )
        .bind(message_id)
        .fetch_all(p)
        .await
        })?)
    }

    /// Reactions on these messages, oldest first.
    pub async fn reactions_of(&self, message_ids: &[String]) -> StoreResult<Vec<Reaction>> {
        if message_ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT id, emoji, user_id, message_id, created_at FROM reactions WHERE message_id IN ({}) ORDER BY created_at, id",
            placeholders(message_ids.len())
        );
        Ok(on_pool!(self, |p| {
            let mut q = sqlx::query_as::<_, Reaction>(&sql);
            for id in message_ids {
                q = q.bind(id);
            }
            q.fetch_all(p).await
        })?)
    }

    /// How many messages a group has and its highest sequence number.
    pub async fn group_message_stats(&self, group_id: &str) -> StoreResult<(i64, i64)> {
        Ok(on_pool!(self, |p| sqlx::query_as::<_, (i64, i64)>(
            "SELECT COUNT(*), COALESCE(MAX(seq), 0) FROM messages WHERE group_id = ?"
        )
        .bind(group_id)
        .fetch_one(p)
        .await)?)
    }

    /// How many direct messages two users have and the highest sequence number.
    pub async fn direct_message_stats(&self, a: &str, b: &str) -> StoreResult<(i64, i64)> {
        Ok(on_pool!(self, |p| {
            sqlx::query_as::<_, (i64, i64)>(
            "SELECT COUNT(*), COALESCE(MAX(seq), 0) FROM messages WHERE (sender_id = ? AND receiver_id = ?) OR (sender_id = ? AND receiver_id = ?)"
        )
        .bind(a)
        .bind(b)
        .bind(b)
        .bind(a)
        .fetch_one(p)
        .await
        })?)
    }
}
