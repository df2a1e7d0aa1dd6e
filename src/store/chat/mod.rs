//! Chat: groups and their members and admins, messages, reactions and blocks.

use serde::Serialize;

mod groups;
mod messages;
mod people;
mod reads;

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
    /// Attachments and the like, as JSON.
    pub metadata: Option<&'a str>,
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
