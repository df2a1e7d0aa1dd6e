//! Chat: groups and their members and admins, messages, reactions and blocks.

use serde::Serialize;

use super::{exec, expect_one, new_id, now_ms, on_pool, Store, StoreResult};

/// A chat group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    /// Row id.
    pub id: String,
    /// Name (not unique).
    pub name: String,
    /// Avatar URL.
    pub avatar: Option<String>,
    /// Creation time (ms).
    pub created_at: i64,
    /// Last update (ms).
    pub updated_at: i64,
}

/// A chat message (direct when `receiver_id` is set, group when `group_id` is).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    /// Row id.
    pub id: String,
    /// Global order: the same for every reader and in the database.
    pub seq: i64,
    /// Sanitized content.
    pub content: String,
    /// Sender's user id.
    pub sender_id: String,
    /// Receiver's user id (direct messages).
    pub receiver_id: Option<String>,
    /// Group id (group messages).
    pub group_id: Option<String>,
    /// Read by the receiver.
    pub is_read: bool,
    /// Delivered to at least one of the receiver's sockets.
    pub delivered: bool,
    /// Last edit (ms).
    pub edited_at: Option<i64>,
    /// Soft-delete time (ms).
    pub deleted_at: Option<i64>,
    /// The message this one answers.
    pub reply_to_id: Option<String>,
    /// `text` for now.
    pub kind: String,
    /// Extra JSON.
    pub metadata: Option<String>,
    /// Creation time (ms).
    pub created_at: i64,
    /// Last update (ms).
    pub updated_at: i64,
}

/// What a new message needs.
#[derive(Debug, Clone, Default)]
pub struct NewMessage<'a> {
    /// Sanitized content.
    pub content: &'a str,
    /// Sender's user id.
    pub sender_id: &'a str,
    /// Receiver (direct message).
    pub receiver_id: Option<&'a str>,
    /// Group (group message).
    pub group_id: Option<&'a str>,
    /// Replied-to message.
    pub reply_to_id: Option<&'a str>,
    /// Already delivered (the receiver of a direct message was online).
    pub delivered: bool,
}

/// A reaction on a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct Reaction {
    /// Row id.
    pub id: String,
    /// The emoji.
    pub emoji: String,
    /// Who reacted.
    pub user_id: String,
    /// On which message.
    pub message_id: String,
    /// When (ms).
    pub created_at: i64,
}

const MESSAGE_COLS: &str = "id, seq, content, sender_id, receiver_id, group_id, is_read, delivered, edited_at, deleted_at, reply_to_id, kind, metadata, created_at, updated_at";

/// Text that replaces a soft-deleted message's content (as in the original).
pub const DELETED_TEXT: &str = "This message was deleted.";

impl Store {
    /// Creates a group with its creator as member and admin.
    pub async fn create_group(&self, name: &str, creator_id: &str) -> StoreResult<Group> {
        let now = now_ms();
        let group = Group {
            id: new_id(),
            name: name.to_owned(),
            avatar: None,
            created_at: now,
            updated_at: now,
        };
        on_pool!(self, |p| {
            let mut tx = p.begin().await?;
            sqlx::query("INSERT INTO chat_groups (id, name, avatar, created_at, updated_at) VALUES (?, ?, ?, ?, ?)")
                .bind(&group.id)
                .bind(&group.name)
                .bind(&group.avatar)
                .bind(now)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            for table in ["group_members", "group_admins"] {
                sqlx::query(&format!(
                    "INSERT INTO {table} (group_id, user_id) VALUES (?, ?)"
                ))
                .bind(&group.id)
                .bind(creator_id)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await
        })?;
        Ok(group)
    }

    /// A group by id.
    pub async fn group(&self, id: &str) -> StoreResult<Option<Group>> {
        Ok(on_pool!(self, |p| sqlx::query_as::<_, Group>(
            "SELECT id, name, avatar, created_at, updated_at FROM chat_groups WHERE id = ?"
        )
        .bind(id)
        .fetch_optional(p)
        .await)?)
    }

    /// The first group with this name (the public channel is `General`).
    pub async fn group_by_name(&self, name: &str) -> StoreResult<Option<Group>> {
        Ok(on_pool!(self, |p| {
            sqlx::query_as::<_, Group>(
            "SELECT id, name, avatar, created_at, updated_at FROM chat_groups WHERE name = ? ORDER BY created_at LIMIT 1"
        )
        .bind(name)
        .fetch_optional(p)
        .await
        })?)
    }

    /// Renames a group.
    pub async fn rename_group(&self, id: &str, name: &str) -> StoreResult<()> {
        let rows = exec!(self, |p| sqlx::query(
            "UPDATE chat_groups SET name = ?, updated_at = ? WHERE id = ?"
        )
        .bind(name)
        .bind(now_ms())
        .bind(id)
        .execute(p)
        .await)?;
        expect_one(rows)
    }

    /// Deletes a group; its messages and memberships go with it.
    pub async fn delete_group(&self, id: &str) -> StoreResult<()> {
        let rows = exec!(self, |p| sqlx::query(
            "DELETE FROM chat_groups WHERE id = ?"
        )
        .bind(id)
        .execute(p)
        .await)?;
        expect_one(rows)
    }

    /// Adds a member (no-op when already one).
    pub async fn add_group_member(&self, group_id: &str, user_id: &str) -> StoreResult<()> {
        self.add_to_group_table("group_members", group_id, user_id)
            .await
    }

    /// Makes a member an admin of the group (no-op when already one).
    pub async fn add_group_admin(&self, group_id: &str, user_id: &str) -> StoreResult<()> {
        self.add_to_group_table("group_admins", group_id, user_id)
            .await
    }

    async fn add_to_group_table(
        &self,
        table: &str,
        group_id: &str,
        user_id: &str,
    ) -> StoreResult<()> {
        if self.in_group_table(table, group_id, user_id).await? {
            return Ok(());
        }
        let sql = format!("INSERT INTO {table} (group_id, user_id) VALUES (?, ?)");
        match exec!(self, |p| sqlx::query(&sql)
            .bind(group_id)
            .bind(user_id)
            .execute(p)
            .await)
        {
            Ok(_) => Ok(()),
            Err(e) => match super::StoreError::from(e) {
                super::StoreError::Conflict(_) => Ok(()),
                other => Err(other),
            },
        }
    }

    async fn in_group_table(
        &self,
        table: &str,
        group_id: &str,
        user_id: &str,
    ) -> StoreResult<bool> {
        let sql = format!("SELECT COUNT(*) FROM {table} WHERE group_id = ? AND user_id = ?");
        let n: i64 = on_pool!(self, |p| sqlx::query_scalar(&sql)
            .bind(group_id)
            .bind(user_id)
            .fetch_one(p)
            .await)?;
        Ok(n > 0)
    }

    /// Removes a member (and their admin role in that group).
    pub async fn remove_group_member(&self, group_id: &str, user_id: &str) -> StoreResult<()> {
        let mut removed = 0;
        for table in ["group_admins", "group_members"] {
            let sql = format!("DELETE FROM {table} WHERE group_id = ? AND user_id = ?");
            removed = exec!(self, |p| sqlx::query(&sql)
                .bind(group_id)
                .bind(user_id)
                .execute(p)
                .await)?;
        }
        expect_one(removed)
    }

    /// Whether the user is a member of the group.
    pub async fn is_group_member(&self, group_id: &str, user_id: &str) -> StoreResult<bool> {
        self.in_group_table("group_members", group_id, user_id)
            .await
    }

    /// Whether the user administers the group.
    pub async fn is_group_admin(&self, group_id: &str, user_id: &str) -> StoreResult<bool> {
        self.in_group_table("group_admins", group_id, user_id).await
    }

    /// User ids of the group's members.
    pub async fn group_member_ids(&self, group_id: &str) -> StoreResult<Vec<String>> {
        Ok(on_pool!(self, |p| sqlx::query_scalar(
            "SELECT user_id FROM group_members WHERE group_id = ? ORDER BY user_id"
        )
        .bind(group_id)
        .fetch_all(p)
        .await)?)
    }

    /// Groups the user is a member of, by name.
    pub async fn groups_of_user(&self, user_id: &str) -> StoreResult<Vec<Group>> {
        Ok(on_pool!(self, |p| {
            sqlx::query_as::<_, Group>(
            "SELECT g.id, g.name, g.avatar, g.created_at, g.updated_at FROM chat_groups g JOIN group_members m ON m.group_id = g.id WHERE m.user_id = ? ORDER BY g.name"
        )
        .bind(user_id)
        .fetch_all(p)
        .await
        })?)
    }

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
                Ok(id) => return self.message(&id).await?.ok_or(super::StoreError::NotFound),
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
                "INSERT INTO messages (id, seq, content, sender_id, receiver_id, group_id, is_read, delivered, reply_to_id, kind, created_at, updated_at) \
                 SELECT ?, COALESCE(MAX(seq), 0) + 1, ?, ?, ?, ?, ?, ?, ?, 'text', ?, ? FROM messages",
            )
            .bind(&id)
            .bind(m.content)
            .bind(m.sender_id)
            .bind(m.receiver_id)
            .bind(m.group_id)
            .bind(false)
            .bind(m.delivered)
            .bind(m.reply_to_id)
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
            "UPDATE messages SET content = ?, deleted_at = ?, updated_at = ? WHERE id = ? AND deleted_at IS NULL"
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
}

/// Deadlocks and lock waits (MariaDB `40001`, SQLite busy) are worth another try.
fn is_retryable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => {
            matches!(db.code().as_deref(), Some("40001") | Some("5") | Some("6"))
                || db.message().contains("Deadlock")
                || db.message().contains("database is locked")
        }
        _ => false,
    }
}

/// `?, ?, …` for `n` values (at least one, so `IN (…)` stays valid SQL).
fn placeholders(n: usize) -> String {
    vec!["?"; n.max(1)].join(", ")
}

/// Per-user read position in a group.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ReadMark {
    /// Group id.
    pub group_id: String,
    /// Messages up to this sequence number are read.
    pub last_read_seq: i64,
}

impl Store {
    /// Users with these ids (unknown ids are skipped).
    pub async fn users_by_ids(&self, ids: &[String]) -> StoreResult<Vec<super::auth::User>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT id, username, display_name, avatar, settings, created_at, updated_at FROM users WHERE id IN ({})",
            placeholders(ids.len())
        );
        Ok(on_pool!(self, |p| {
            let mut q = sqlx::query_as::<_, super::auth::User>(&sql);
            for id in ids {
                q = q.bind(id);
            }
            q.fetch_all(p).await
        })?)
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

    /// Groups with these ids.
    pub async fn groups_by_ids(&self, ids: &[String]) -> StoreResult<Vec<Group>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT id, name, avatar, created_at, updated_at FROM chat_groups WHERE id IN ({})",
            placeholders(ids.len())
        );
        Ok(on_pool!(self, |p| {
            let mut q = sqlx::query_as::<_, Group>(&sql);
            for id in ids {
                q = q.bind(id);
            }
            q.fetch_all(p).await
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

    /// Members of a group with their user rows, by username.
    pub async fn group_members(&self, group_id: &str) -> StoreResult<Vec<super::auth::User>> {
        Ok(on_pool!(self, |p| {
            sqlx::query_as::<_, super::auth::User>(
            "SELECT u.id, u.username, u.display_name, u.avatar, u.settings, u.created_at, u.updated_at FROM users u JOIN group_members m ON m.user_id = u.id WHERE m.group_id = ? ORDER BY u.username"
        )
        .bind(group_id)
        .fetch_all(p)
        .await
        })?)
    }

    /// User ids of the group's admins.
    pub async fn group_admin_ids(&self, group_id: &str) -> StoreResult<Vec<String>> {
        Ok(on_pool!(self, |p| sqlx::query_scalar(
            "SELECT user_id FROM group_admins WHERE group_id = ? ORDER BY user_id"
        )
        .bind(group_id)
        .fetch_all(p)
        .await)?)
    }

    /// Takes away a member's admin role in a group.
    pub async fn remove_group_admin(&self, group_id: &str, user_id: &str) -> StoreResult<()> {
        let rows = exec!(self, |p| sqlx::query(
            "DELETE FROM group_admins WHERE group_id = ? AND user_id = ?"
        )
        .bind(group_id)
        .bind(user_id)
        .execute(p)
        .await)?;
        expect_one(rows)
    }

    /// Marks a group updated (its position in lists).
    pub async fn touch_group(&self, group_id: &str) -> StoreResult<()> {
        exec!(self, |p| sqlx::query(
            "UPDATE chat_groups SET updated_at = ? WHERE id = ?"
        )
        .bind(now_ms())
        .bind(group_id)
        .execute(p)
        .await)?;
        Ok(())
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
    pub async fn blocked_users(&self, blocker_id: &str) -> StoreResult<Vec<super::auth::User>> {
        Ok(on_pool!(self, |p| {
            sqlx::query_as::<_, super::auth::User>(
            "SELECT u.id, u.username, u.display_name, u.avatar, u.settings, u.created_at, u.updated_at FROM users u JOIN blocks b ON b.blocked_id = u.id WHERE b.blocker_id = ? ORDER BY u.username"
        )
        .bind(blocker_id)
        .fetch_all(p)
        .await
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
            match inserted.map_err(super::StoreError::from) {
                Ok(_) | Err(super::StoreError::Conflict(_)) => {}
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
