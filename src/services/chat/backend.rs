//! What the chat actors reach the world through: [`StoreChat`] implements `ChatStore` over the
//! store, and the message JSON clients receive (the original's payload shapes) is built here.

use std::collections::HashMap;

use serde_json::{json, Value};
use uma_actors::chat::{
    Change, Changed, ChatError, ChatStore, Member, MessageRef, Post, RoomInfo, RoomKey, Stored,
};
use uma_actors::emit::BoxFut;

use crate::store::auth::User;
use crate::store::chat::{Message, NewMessage};
use crate::store::{Store, StoreError, StoreResult};

use super::settings::ChatSettings;

/// `ChatStore` over the database.
#[derive(Debug, Clone)]
pub struct StoreChat(pub Store);

fn store_err(e: StoreError) -> ChatError {
    match e {
        StoreError::NotFound => ChatError::NotFound,
        other => ChatError::Store(other.to_string()),
    }
}

fn member(u: &User) -> Member {
    Member {
        user_id: u.id.clone(),
        username: u.username.clone(),
        accepts_direct: ChatSettings::of(u).accepts_direct(),
    }
}

/// UTC milliseconds as RFC 3339 (`2024-05-01T12:00:00.000Z`), as the original's dates read.
pub fn iso(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// `{id, username, displayName, avatar}` — never the settings or other private fields.
pub fn user_json(u: &User) -> Value {
    json!({
        "id": u.id,
        "username": u.username,
        "displayName": u.display_name.clone().unwrap_or_else(|| u.username.clone()),
        "avatar": u.avatar,
    })
}

/// Client JSON of messages, with sender, receiver, group, reactions and the replied-to message,
/// in as few queries as the page needs.
pub async fn messages_json(store: &Store, messages: &[Message]) -> StoreResult<Vec<Value>> {
    let reply_ids: Vec<String> = messages
        .iter()
        .filter_map(|m| m.reply_to_id.clone())
        .collect();
    let replies = store.messages_by_ids(&reply_ids).await?;
    let mut user_ids: Vec<String> = messages
        .iter()
        .chain(replies.iter())
        .flat_map(|m| [Some(m.sender_id.clone()), m.receiver_id.clone()])
        .flatten()
        .collect();
    let message_ids: Vec<String> = messages.iter().map(|m| m.id.clone()).collect();
    let reactions = store.reactions_of(&message_ids).await?;
    user_ids.extend(reactions.iter().map(|r| r.user_id.clone()));
    user_ids.sort();
    user_ids.dedup();
    let users: HashMap<String, User> = store
        .users_by_ids(&user_ids)
        .await?
        .into_iter()
        .map(|u| (u.id.clone(), u))
        .collect();
    let mut group_ids: Vec<String> = messages.iter().filter_map(|m| m.group_id.clone()).collect();
    group_ids.sort();
    group_ids.dedup();
    let groups: HashMap<String, crate::store::chat::Group> = store
        .groups_by_ids(&group_ids)
        .await?
        .into_iter()
        .map(|g| (g.id.clone(), g))
        .collect();
    let replies: HashMap<&str, &Message> = replies.iter().map(|m| (m.id.as_str(), m)).collect();
    let user = |id: &str| users.get(id).map(user_json).unwrap_or(Value::Null);
    Ok(messages
        .iter()
        .map(|m| {
            let mut v = base_json(m);
            v["sender"] = user(&m.sender_id);
            v["receiver"] = m.receiver_id.as_deref().map(user).unwrap_or(Value::Null);
            v["group"] = m
                .group_id
                .as_deref()
                .and_then(|g| groups.get(g))
                .map(|g| json!({ "id": g.id, "name": g.name }))
                .unwrap_or(Value::Null);
            v["reactions"] = reactions
                .iter()
                .filter(|r| r.message_id == m.id)
                .map(|r| {
                    json!({
                        "id": r.id,
                        "emoji": r.emoji,
                        "userId": r.user_id,
                        "messageId": r.message_id,
                        "createdAt": iso(r.created_at),
                        "user": users.get(&r.user_id).map(|u| json!({ "id": u.id, "username": u.username })),
                    })
                })
                .collect();
            v["replyTo"] = m
                .reply_to_id
                .as_deref()
                .and_then(|id| replies.get(id))
                .map(|r| {
                    let mut rv = base_json(r);
                    rv["sender"] = user(&r.sender_id);
                    rv
                })
                .unwrap_or(Value::Null);
            v
        })
        .collect())
}

fn base_json(m: &Message) -> Value {
    json!({
        "id": m.id,
        "seq": m.seq,
        "content": m.content,
        "senderId": m.sender_id,
        "receiverId": m.receiver_id,
        "groupId": m.group_id,
        "read": m.is_read,
        "delivered": m.delivered,
        "editedAt": m.edited_at.map(iso),
        "deletedAt": m.deleted_at.map(iso),
        "replyToId": m.reply_to_id,
        "type": m.kind,
        "metadata": m.metadata.as_deref().and_then(|s| serde_json::from_str::<Value>(s).ok()),
        "createdAt": iso(m.created_at),
        "updatedAt": iso(m.updated_at),
    })
}

/// The conversation a stored message belongs to.
pub fn room_of(m: &Message) -> Option<RoomKey> {
    match (&m.group_id, &m.receiver_id) {
        (Some(g), _) => Some(RoomKey::Group(g.clone())),
        (None, Some(r)) => Some(RoomKey::direct(&m.sender_id, r)),
        (None, None) => None,
    }
}

impl StoreChat {
    async fn stored(&self, m: Message) -> Result<Stored, ChatError> {
        let json = messages_json(&self.0, std::slice::from_ref(&m))
            .await
            .map_err(store_err)?
            .pop()
            .unwrap_or(Value::Null);
        Ok(Stored {
            id: m.id,
            seq: m.seq,
            sender_id: m.sender_id,
            json,
        })
    }

    async fn load(&self, key: &RoomKey) -> StoreResult<RoomInfo> {
        match key {
            RoomKey::Direct(a, b) => {
                let users = self.0.users_by_ids(&[a.clone(), b.clone()]).await?;
                if users.len() != 2 {
                    return Err(StoreError::NotFound);
                }
                let blocks = self.0.blocks_between(a, b).await?;
                let (n, last) = self.0.direct_message_stats(a, b).await?;
                Ok(RoomInfo {
                    members: users.iter().map(member).collect(),
                    blocks,
                    last_seq: last,
                    messages: u64::try_from(n).unwrap_or(0),
                })
            }
            RoomKey::Group(g) => {
                if self.0.group(g).await?.is_none() {
                    return Err(StoreError::NotFound);
                }
                let users = self.0.group_members(g).await?;
                let blocks = self.0.blocks_in_group(g).await?;
                let (n, last) = self.0.group_message_stats(g).await?;
                Ok(RoomInfo {
                    members: users.iter().map(member).collect(),
                    blocks,
                    last_seq: last,
                    messages: u64::try_from(n).unwrap_or(0),
                })
            }
        }
    }

    async fn read(&self, key: &RoomKey, reader_id: &str, up_to: Option<i64>) -> StoreResult<Value> {
        let reader = self
            .0
            .user_by_id(reader_id)
            .await?
            .ok_or(StoreError::NotFound)?;
        match key {
            RoomKey::Direct(a, b) => {
                let other = if a == reader_id { b } else { a };
                let count = self.0.mark_direct_read(other, reader_id, up_to).await?;
                let (_, last) = self.0.direct_message_stats(a, b).await?;
                Ok(json!({
                    "by": reader.username,
                    "readerId": reader.id,
                    "senderId": other,
                    "upToSeq": up_to.unwrap_or(last).min(last),
                    "count": count,
                }))
            }
            RoomKey::Group(g) => {
                let (_, last) = self.0.group_message_stats(g).await?;
                let mark = self
                    .0
                    .mark_group_read(reader_id, g, up_to.unwrap_or(last).min(last))
                    .await?;
                Ok(json!({
                    "by": reader.username,
                    "readerId": reader.id,
                    "groupId": g,
                    "upToSeq": mark,
                }))
            }
        }
    }
}

impl ChatStore for StoreChat {
    fn load_room<'a>(&'a self, key: &'a RoomKey) -> BoxFut<'a, Result<RoomInfo, ChatError>> {
        Box::pin(async move { self.load(key).await.map_err(store_err) })
    }

    fn insert<'a>(
        &'a self,
        key: &'a RoomKey,
        post: &'a Post,
        delivered: bool,
    ) -> BoxFut<'a, Result<Stored, ChatError>> {
        Box::pin(async move {
            let (receiver, group) = match key {
                RoomKey::Direct(a, b) => (Some(if *a == post.sender_id { b } else { a }), None),
                RoomKey::Group(g) => (None, Some(g)),
            };
            let m = self
                .0
                .insert_message(NewMessage {
                    content: &post.content,
                    sender_id: &post.sender_id,
                    receiver_id: receiver.map(String::as_str),
                    group_id: group.map(String::as_str),
                    reply_to_id: post.reply_to_id.as_deref(),
                    metadata: post.metadata.as_deref(),
                    delivered,
                })
                .await
                .map_err(store_err)?;
            if let Some(g) = group {
                // Groups sort by their last message; a failure here only affects the order.
                let _ = self.0.touch_group(g).await;
            }
            self.stored(m).await
        })
    }

    fn message<'a>(&'a self, id: &'a str) -> BoxFut<'a, Result<Option<MessageRef>, ChatError>> {
        Box::pin(async move {
            let m = self.0.message(id).await.map_err(store_err)?;
            Ok(m.and_then(|m| {
                room_of(&m).map(|room| MessageRef {
                    room,
                    sender_id: m.sender_id.clone(),
                    deleted: m.deleted_at.is_some(),
                })
            }))
        })
    }

    fn apply<'a>(
        &'a self,
        id: &'a str,
        user_id: &'a str,
        change: &'a Change,
    ) -> BoxFut<'a, Result<Changed, ChatError>> {
        Box::pin(async move {
            let added = match change {
                Change::Edit(content) => {
                    self.0.edit_message(id, content).await.map_err(store_err)?;
                    None
                }
                Change::Delete => {
                    self.0.soft_delete_message(id).await.map_err(store_err)?;
                    None
                }
                Change::React(emoji) => Some(
                    self.0
                        .toggle_reaction(user_id, id, emoji)
                        .await
                        .map_err(store_err)?,
                ),
            };
            let m = self
                .0
                .message(id)
                .await
                .map_err(store_err)?
                .ok_or(ChatError::NotFound)?;
            Ok(Changed {
                message: self.stored(m).await?,
                reaction_added: added,
            })
        })
    }

    fn mark_read<'a>(
        &'a self,
        key: &'a RoomKey,
        reader_id: &'a str,
        up_to: Option<i64>,
    ) -> BoxFut<'a, Result<Value, ChatError>> {
        Box::pin(async move { self.read(key, reader_id, up_to).await.map_err(store_err) })
    }
}

#[cfg(test)]
mod tests {
    use super::iso;

    #[test]
    fn iso_dates() {
        assert_eq!(iso(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso(1_714_564_800_123), "2024-05-01T12:00:00.123Z");
        assert_eq!(iso(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }
}
