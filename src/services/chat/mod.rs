//! Chat as a service shared by the Socket.IO events (`realtime/chat.rs`) and the REST routes
//! (`http/chat.rs`): input checks, sanitizing, the chat rooms (actors) that order, store and
//! broadcast messages, presence, and the audit rows (the original's action names).

pub mod api;
pub mod backend;
pub mod elsewhere;
pub mod settings;

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use uma_actors::chat::{Change, ChatError, ChatRooms, Post, RoomKey};
use uma_actors::emit::Emitter;
use uma_actors::presence::{Online, PresenceMsg};
use uma_actors::root::Slot;

use crate::audit::AuditAction;
use crate::audit::Status;
use crate::auth::Caller;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::store::auth::User;
use crate::store::Store;

pub use backend::{messages_json, user_json};
pub use settings::ChatSettings;

/// Longest message, in characters (the original's).
pub const MAX_CONTENT_CHARS: usize = 5000;
/// Name of the public channel.
pub const PUBLIC_CHANNEL: &str = "General";

/// The chat side of the actor tree and its helpers. Cheap to clone.
#[derive(Clone)]
pub struct Chat {
    /// The database.
    pub store: Store,
    /// The audit log.
    pub audit: crate::audit::Audit,
    /// Limits of the chat events and REST calls.
    pub limits: crate::limits::events::EventLimits,
    /// Emits to sockets (in order, awaited).
    pub emitter: Arc<dyn Emitter>,
    /// The rooms supervisor.
    pub rooms: ChatRooms,
    /// The presence actor.
    pub presence: Slot<PresenceMsg>,
    /// Who is online.
    pub online: Online,
    sanitizer: Arc<ammonia::Builder<'static>>,
}

impl std::fmt::Debug for Chat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Chat")
    }
}

impl Chat {
    /// The chat service over the presence actor and the rooms supervisor in their slots
    /// (branches of the actor tree, started by `app::root`).
    pub fn new(
        store: Store,
        audit: crate::audit::Audit,
        limits: crate::limits::events::EventLimits,
        emitter: Arc<dyn Emitter>,
        rooms: ChatRooms,
        presence: Slot<PresenceMsg>,
        online: Online,
    ) -> Chat {
        Chat {
            store,
            audit,
            limits,
            emitter,
            rooms,
            presence,
            online,
            sanitizer: Arc::new(sanitizer()),
        }
    }

    /// Sanitized message HTML: a few formatting tags, links only to http(s)/mailto with
    /// `rel="noopener noreferrer nofollow"` and `target="_blank"`; everything else is escaped or
    /// dropped.
    pub fn sanitize(&self, content: &str) -> String {
        self.sanitizer.clean(content).to_string()
    }
}

fn sanitizer() -> ammonia::Builder<'static> {
    let mut b = ammonia::Builder::default();
    b.tags(
        [
            "a",
            "b",
            "i",
            "em",
            "strong",
            "u",
            "s",
            "br",
            "code",
            "pre",
            "p",
            "ul",
            "ol",
            "li",
            "blockquote",
        ]
        .into_iter()
        .collect(),
    )
    .generic_attributes(std::collections::HashSet::new())
    .tag_attributes(
        [("a", ["href"].into_iter().collect())]
            .into_iter()
            .collect(),
    )
    .url_schemes(["http", "https", "mailto"].into_iter().collect())
    .link_rel(Some("noopener noreferrer nofollow"))
    .set_tag_attribute_value("a", "target", "_blank");
    b
}

/// The chat error the user sees, in the original's words where it had some.
pub fn chat_error(e: ChatError, what: Op) -> AppError {
    use ChatError as E;
    match e {
        E::NotMember => AppError::with_message(
            ErrorCode::Forbidden,
            match what {
                Op::Send => "You are not a member of this group.",
                _ => "You are not a member of this conversation.",
            },
        ),
        E::Blocked => AppError::with_message(ErrorCode::Forbidden, "You cannot message this user."),
        E::NotAccepting => {
            AppError::with_message(ErrorCode::Forbidden, "User is not accepting messages.")
        }
        E::NotFound => AppError::with_message(
            ErrorCode::NotFound,
            match what {
                Op::Send => "Not found",
                _ => "Message not found",
            },
        ),
        E::NotAuthor => AppError::with_message(
            ErrorCode::Forbidden,
            match what {
                Op::Delete => "Unauthorized delete",
                _ => "Unauthorized edit",
            },
        ),
        E::Deleted => AppError::with_message(ErrorCode::Conflict, "The message was deleted."),
        E::Store(detail) => AppError {
            source: Some(anyhow::anyhow!(detail)),
            ..AppError::with_message(
                ErrorCode::Unavailable,
                match what {
                    Op::Send => "Failed to send message",
                    _ => "The database is unavailable",
                },
            )
        },
        E::Unavailable(detail) => AppError {
            source: Some(anyhow::anyhow!(detail)),
            ..AppError::with_message(ErrorCode::Unavailable, "Chat is busy; try again")
        },
    }
}

/// Which operation failed (for the error's words).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Sending.
    Send,
    /// Editing.
    Edit,
    /// Deleting.
    Delete,
    /// Anything else.
    Other,
}

/// The caller's `User` row, created at first use (as the original did on connect).
pub async fn user_of(chat: &Chat, caller: &Caller) -> AppResult<User> {
    Ok(chat
        .store
        .find_or_create_user(caller.username(), None)
        .await?)
}

/// Checks message content: 1–5000 characters, then sanitized (and still not empty).
pub fn content(chat: &Chat, raw: &str) -> AppResult<String> {
    let n = raw.chars().count();
    if n == 0 || n > MAX_CONTENT_CHARS {
        return Err(AppError::field(
            "content",
            format!("must be 1 to {MAX_CONTENT_CHARS} characters"),
        ));
    }
    let clean = chat.sanitize(raw);
    if clean.trim().is_empty() {
        return Err(AppError::field(
            "content",
            "nothing left after removing markup",
        ));
    }
    Ok(clean)
}

fn id_field(field: &str, v: &str) -> AppResult<()> {
    if v.is_empty() || v.len() > 191 {
        return Err(AppError::field(field, "must be 1 to 191 characters"));
    }
    Ok(())
}

/// The public channel, created (with `user` as admin) when missing; `user` is made a member.
pub async fn public_channel(chat: &Chat, user: &User) -> AppResult<crate::store::chat::Group> {
    // Sockets of new users connect at the same moment: create the channel once. Across
    // instances the oldest channel wins and a duplicate made at the same moment is removed.
    static CREATE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let mut created = false;
    let group = match chat.store.group_by_name(PUBLIC_CHANNEL).await? {
        Some(g) => g,
        None => {
            let _one = CREATE.lock().await;
            match chat.store.group_by_name(PUBLIC_CHANNEL).await? {
                Some(g) => g,
                None => {
                    created = true;
                    let mine = chat.store.create_group(PUBLIC_CHANNEL, &user.id).await?;
                    let oldest = chat
                        .store
                        .group_by_name(PUBLIC_CHANNEL)
                        .await?
                        .unwrap_or_else(|| mine.clone());
                    if oldest.id != mine.id {
                        let _ = chat.store.delete_group(&mine.id).await;
                    }
                    oldest
                }
            }
        }
    };
    let mut joined = created;
    if !chat.store.is_group_member(&group.id, &user.id).await? {
        chat.store.add_group_member(&group.id, &user.id).await?;
        chat.rooms.refresh(&RoomKey::Group(group.id.clone()));
        joined = true;
    }
    if joined {
        // Lists loaded before this moment lack the channel: tell the user's sockets.
        chat.emitter
            .emit(uma_actors::emit::Emit::to(
                vec![crate::push::room::user(&user.username)],
                "group_updated",
                json!({ "groupId": group.id, "name": group.name }),
            ))
            .await;
    }
    Ok(group)
}

/// `send_message` input (the original's zod schema, plus `replyToId`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendInput {
    /// Receiver's username (direct message).
    #[serde(default)]
    pub to: Option<String>,
    /// Group id (wins over `to`).
    #[serde(default)]
    pub group_id: Option<String>,
    /// 1–5000 characters.
    pub content: String,
    /// The message answered.
    #[serde(default)]
    pub reply_to_id: Option<String>,
    /// Ids of the sender's uploads to attach (up to [`MAX_ATTACHMENTS`]); with attachments the
    /// text may be empty.
    #[serde(default)]
    pub attachments: Vec<String>,
}

/// Attachments one message carries at most.
pub const MAX_ATTACHMENTS: usize = 10;

/// The metadata of a message with attachments: each one the sender's own upload, as the chat
/// shows it (`{attachments: [{id, url, name, contentType, size}]}`).
async fn attachments(chat: &Chat, caller: &Caller, ids: &[String]) -> AppResult<Option<String>> {
    if ids.is_empty() {
        return Ok(None);
    }
    if ids.len() > MAX_ATTACHMENTS {
        return Err(AppError::field(
            "attachments",
            format!("at most {MAX_ATTACHMENTS} files per message"),
        ));
    }
    let mut list = Vec::with_capacity(ids.len());
    for id in ids {
        id_field("attachments", id)?;
        let upload = chat
            .store
            .upload(id)
            .await?
            .filter(|u| u.uploaded_by == caller.username())
            .ok_or_else(|| AppError::field("attachments", "attach files you uploaded"))?;
        let entry = json!({
            "id": upload.id,
            "url": format!("/uploads/{}", upload.stored_name),
            "name": upload.file_name,
            "contentType": upload.content_type,
            "size": upload.size_bytes,
        });
        if !list.contains(&entry) {
            list.push(entry);
        }
    }
    Ok(Some(json!({ "attachments": list }).to_string()))
}

fn content_hash(s: &str) -> String {
    let json = serde_json::to_string(s).unwrap_or_default();
    hex::encode(Sha256::digest(json.as_bytes()))
}

/// Sends a message; returns its JSON (what `new_message` carried).
pub async fn send(chat: &Chat, caller: &Caller, input: SendInput) -> AppResult<Value> {
    let sender = user_of(chat, caller).await?;
    if let Some(g) = &input.group_id {
        id_field("groupId", g)?;
    }
    if let Some(to) = &input.to {
        id_field("to", to)?;
    }
    if let Some(r) = &input.reply_to_id {
        id_field("replyToId", r)?;
    }
    let metadata = attachments(chat, caller, &input.attachments).await?;
    let clean = if metadata.is_some() && input.content.trim().is_empty() {
        String::new()
    } else {
        content(chat, &input.content)?
    };
    let (key, resource) = match (&input.group_id, &input.to) {
        (Some(g), _) => (RoomKey::Group(g.clone()), format!("chat:group:{g}")),
        (None, Some(to)) => {
            let receiver = chat
                .store
                .user_by_username(to)
                .await?
                .ok_or_else(|| AppError::with_message(ErrorCode::NotFound, "User not found"))?;
            if receiver.id == sender.id {
                return Err(AppError::field("to", "you cannot message yourself"));
            }
            (
                RoomKey::direct(&sender.id, &receiver.id),
                format!("chat:user:{to}"),
            )
        }
        (None, None) => return Err(AppError::field("to", "to or groupId is required")),
    };
    if let RoomKey::Group(g) = &key {
        if chat.store.group(g).await?.is_none() {
            return Err(AppError::with_message(
                ErrorCode::NotFound,
                "Group not found",
            ));
        }
    }
    let post = Post {
        sender_id: sender.id.clone(),
        content: clean.clone(),
        reply_to_id: input.reply_to_id.clone(),
        metadata,
    };
    match chat.rooms.post(&key, post).await {
        Ok(stored) => {
            chat.audit.record(
                &caller.actor,
                AuditAction::ChatMessageSend,
                &resource,
                Status::Success,
                json!({
                    "messageId": stored.id,
                    "contentLength": clean.chars().count(),
                    "contentHash": content_hash(&clean),
                    "attachments": input.attachments.len(),
                }),
            );
            Ok(stored.json)
        }
        Err(e) => {
            let err = match e {
                ChatError::NotFound if input.reply_to_id.is_some() => {
                    AppError::field("replyToId", "no such message in this conversation")
                }
                other => chat_error(other, Op::Send),
            };
            chat.audit
                .refused(&caller.actor, AuditAction::ChatMessageSend, &resource, &err);
            Err(err)
        }
    }
}

/// `edit_message` / `delete_message` / `add_reaction` input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeInput {
    /// The message.
    pub message_id: String,
    /// New content (edit).
    #[serde(default)]
    pub content: Option<String>,
    /// Emoji (reaction).
    #[serde(default)]
    pub emoji: Option<String>,
}

/// Whether `s` looks like one emoji (what zod's `emoji()` accepted): 1–16 characters, no
/// letters, spaces or markup.
pub fn is_emoji(s: &str) -> bool {
    let n = s.chars().count();
    (1..=16).contains(&n)
        && !s.is_ascii()
        && s.chars()
            .all(|c| !c.is_ascii() || c.is_ascii_digit() || c == '#' || c == '*')
        && !s.chars().any(|c| c.is_whitespace() || c.is_alphabetic())
}

/// Edits, soft-deletes or reacts to a message; returns the message after the change.
pub async fn change(chat: &Chat, caller: &Caller, op: Op, input: ChangeInput) -> AppResult<Value> {
    id_field("messageId", &input.message_id)?;
    let (action, change) = match op {
        Op::Edit => {
            let raw = input
                .content
                .as_deref()
                .ok_or_else(|| AppError::field("content", "required"))?;
            (
                AuditAction::ChatMessageEdit,
                Change::Edit(content(chat, raw)?),
            )
        }
        Op::Delete => (AuditAction::ChatMessageDelete, Change::Delete),
        _ => {
            let emoji = input.emoji.clone().unwrap_or_default();
            if !is_emoji(&emoji) {
                return Err(AppError::field("emoji", "must be one emoji"));
            }
            (AuditAction::ChatMessageReaction, Change::React(emoji))
        }
    };
    let user = user_of(chat, caller).await?;
    let resource = format!("chat:message:{}", input.message_id);
    let result = async {
        let m = chat
            .store
            .message(&input.message_id)
            .await?
            .ok_or_else(|| AppError::with_message(ErrorCode::NotFound, "Message not found"))?;
        let key = backend::room_of(&m)
            .ok_or_else(|| AppError::with_message(ErrorCode::NotFound, "Message not found"))?;
        chat.rooms
            .change(&key, &input.message_id, &user.id, change.clone())
            .await
            .map_err(|e| chat_error(e, op))
    }
    .await;
    match result {
        Ok(changed) => {
            let mut details = json!({ "messageId": input.message_id });
            if let Change::React(emoji) = &change {
                details["emoji"] = json!(emoji);
                details["operation"] = json!(if changed.reaction_added == Some(true) {
                    "add"
                } else {
                    "remove"
                });
            }
            if let Change::Edit(c) = &change {
                details["contentLength"] = json!(c.chars().count());
            }
            chat.audit
                .record(&caller.actor, action, &resource, Status::Success, details);
            let mut body = changed.message.json;
            if let Some(added) = changed.reaction_added {
                body["reactionAdded"] = json!(added);
            }
            Ok(body)
        }
        Err(err) => {
            chat.audit.refused(&caller.actor, action, &resource, &err);
            Err(err)
        }
    }
}

/// `typing` input: to a user or a group.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TypingInput {
    /// Username (direct conversation).
    #[serde(default)]
    pub to: Option<String>,
    /// Group id.
    #[serde(default)]
    pub group_id: Option<String>,
    /// Typing or stopped.
    pub is_typing: bool,
}

/// Relays a typing indicator to the other members of the conversation.
pub async fn typing(chat: &Chat, caller: &Caller, input: TypingInput) -> AppResult<Value> {
    let user = user_of(chat, caller).await?;
    let (key, payload) = match (&input.group_id, &input.to) {
        (Some(g), _) => {
            id_field("groupId", g)?;
            if !chat.store.is_group_member(g, &user.id).await? {
                return Err(chat_error(ChatError::NotMember, Op::Other));
            }
            (
                RoomKey::Group(g.clone()),
                json!({ "from": user.username, "isTyping": input.is_typing, "groupId": g }),
            )
        }
        (None, Some(to)) => {
            id_field("to", to)?;
            let other = chat
                .store
                .user_by_username(to)
                .await?
                .ok_or_else(|| AppError::with_message(ErrorCode::NotFound, "User not found"))?;
            if other.id == user.id {
                return Err(AppError::field("to", "not yourself"));
            }
            (
                RoomKey::direct(&user.id, &other.id),
                json!({ "from": user.username, "isTyping": input.is_typing }),
            )
        }
        (None, None) => return Err(AppError::field("to", "to or groupId is required")),
    };
    chat.rooms
        .typing(&key, &user.id, payload)
        .await
        .map_err(|e| chat_error(e, Op::Other))?;
    Ok(json!({}))
}

/// `mark_read` input: the original's `{senderId}` (a user id), or `{username}`, or `{groupId}`;
/// up to `upToSeq` when given.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadInput {
    /// The other user's id (direct conversation; the original's field).
    #[serde(default)]
    pub sender_id: Option<String>,
    /// The other user's name (direct conversation).
    #[serde(default)]
    pub username: Option<String>,
    /// Group id.
    #[serde(default)]
    pub group_id: Option<String>,
    /// Read up to this sequence number (everything when absent).
    #[serde(default)]
    pub up_to_seq: Option<i64>,
}

/// Marks a conversation read; the other members get `messages_read`.
pub async fn mark_read(chat: &Chat, caller: &Caller, input: ReadInput) -> AppResult<Value> {
    let user = user_of(chat, caller).await?;
    let (key, resource) = if let Some(g) = &input.group_id {
        id_field("groupId", g)?;
        if chat.store.group(g).await?.is_none() {
            // A deleted group has no room left to start.
            return Err(AppError::with_message(
                ErrorCode::NotFound,
                "Group not found",
            ));
        }
        (RoomKey::Group(g.clone()), format!("chat:group:{g}"))
    } else {
        let other = match (&input.sender_id, &input.username) {
            (Some(id), _) => {
                id_field("senderId", id)?;
                chat.store.user_by_id(id).await?
            }
            (None, Some(name)) => {
                id_field("username", name)?;
                chat.store.user_by_username(name).await?
            }
            (None, None) => return Err(AppError::field("senderId", "required")),
        }
        .ok_or_else(|| AppError::with_message(ErrorCode::NotFound, "User not found"))?;
        if other.id == user.id {
            return Err(AppError::field("senderId", "not yourself"));
        }
        (
            RoomKey::direct(&user.id, &other.id),
            format!("chat:user:{}", other.username),
        )
    };
    let payload = chat
        .rooms
        .read(&key, &user.id, input.up_to_seq)
        .await
        .map_err(|e| chat_error(e, Op::Other))?;
    chat.audit.record(
        &caller.actor,
        AuditAction::ChatMarkRead,
        &resource,
        Status::Success,
        json!({ "markedCount": payload.get("count").cloned().unwrap_or(Value::Null), "upToSeq": payload["upToSeq"] }),
    );
    Ok(payload)
}

/// Online users the caller may see.
pub async fn online_users(chat: &Chat, caller: &Caller) -> AppResult<Vec<String>> {
    let users = uma_actors::call!(chat.presence.get(), |reply| PresenceMsg::List {
        asker: caller.username().to_owned(),
        reply
    })
    .map_err(|e| AppError::internal(anyhow::anyhow!(e)))?;
    chat.audit.record(
        &caller.actor,
        AuditAction::ChatOnlineUsersView,
        "chat:online",
        Status::Success,
        json!({ "count": users.len() }),
    );
    Ok(users)
}
