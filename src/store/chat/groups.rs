//! Chat groups, their members and admins.

use super::{placeholders, Group};
use crate::store::{exec, expect_one, new_id, now_ms, on_pool, Store, StoreResult};

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

    /// Deletes a group with everything that hangs on it, in one transaction: its messages (and
    /// their reactions and the attachment links their metadata holds), read marks, members and
    /// admins. Returns how many messages went. The steps are spelled out rather than left to the
    /// foreign keys' cascades: MariaDB refuses a cascade that also sets `reply_to_id` in the same
    /// table, and replies stay inside their conversation, so clearing them first is enough.
    pub async fn delete_group(&self, id: &str) -> StoreResult<u64> {
        let (messages, groups) = on_pool!(self, |p| {
            let mut tx = p.begin().await?;
            sqlx::query("UPDATE messages SET reply_to_id = NULL WHERE group_id = ?")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "DELETE FROM reactions WHERE message_id IN (SELECT id FROM messages WHERE group_id = ?)",
            )
            .bind(id)
            .execute(&mut *tx)
            .await?;
            let messages = sqlx::query("DELETE FROM messages WHERE group_id = ?")
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            for table in ["chat_reads", "group_admins", "group_members"] {
                sqlx::query(&format!("DELETE FROM {table} WHERE group_id = ?"))
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            let groups = sqlx::query("DELETE FROM chat_groups WHERE id = ?")
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await.map(|()| (messages, groups))
        })?;
        expect_one(groups)?;
        Ok(messages)
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
            Err(e) => match crate::store::StoreError::from(e) {
                crate::store::StoreError::Conflict(_) => Ok(()),
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

    /// Members of a group with their user rows, by username.
    pub async fn group_members(
        &self,
        group_id: &str,
    ) -> StoreResult<Vec<crate::store::auth::User>> {
        Ok(on_pool!(self, |p| {
            sqlx::query_as::<_, crate::store::auth::User>(
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
}
