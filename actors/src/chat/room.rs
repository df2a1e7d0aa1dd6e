//! One chat room: takes its messages one at a time, stores each, then emits it.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use serde::Serialize;
use serde_json::Value;

use super::{Change, Changed, ChatError, ChatStore, Member, Post, RoomInfo, RoomKey, Stored};
use crate::emit::{user_room, Emit, Emitter};
use crate::presence::Online;

/// Messages of one room.
#[derive(Debug)]
pub enum RoomMsg {
    /// Store and broadcast a message; replies with it.
    Post(Post, RpcReplyPort<Result<Stored, ChatError>>),
    /// Edit, delete or react; replies with the message after the change.
    Change {
        /// Message id.
        message_id: String,
        /// Who asks.
        user_id: String,
        /// What.
        change: Change,
        /// Reply.
        reply: RpcReplyPort<Result<Changed, ChatError>>,
    },
    /// A member types (or stopped): `payload` goes to the other members as `user_typing`.
    Typing {
        /// Who types.
        user_id: String,
        /// The `user_typing` payload.
        payload: Value,
    },
    /// A member read the conversation; replies with the `messages_read` payload.
    Read {
        /// Who read.
        reader_id: String,
        /// Up to this sequence number (everything when absent).
        up_to: Option<i64>,
        /// Reply.
        reply: RpcReplyPort<Result<Value, ChatError>>,
    },
    /// Whether the user is a member.
    IsMember(String, RpcReplyPort<bool>),
    /// Reload members and blocks (membership, blocks or settings changed); a room whose
    /// conversation is gone stops.
    Refresh,
    /// Report [`RoomStats`].
    Stats(RpcReplyPort<RoomStats>),
    /// The idle check fired.
    IdleCheck,
    /// Test hook: panic in the handler, as a bug would.
    Crash,
}

/// What a room reports about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoomStats {
    /// `dm:…` or `group:…`.
    pub room: String,
    /// Members.
    pub members: usize,
    /// Highest sequence number in the conversation.
    pub last_seq: i64,
    /// Messages in the conversation (loaded at start, plus posted since).
    pub messages: u64,
}

/// How rooms behave.
#[derive(Debug, Clone)]
pub struct RoomsConfig {
    /// A room with no message for this long stops.
    pub idle_after: Duration,
}

impl Default for RoomsConfig {
    fn default() -> Self {
        Self {
            idle_after: Duration::from_secs(5 * 60),
        }
    }
}

/// One conversation.
pub(super) struct ChatRoom {
    pub(super) store: Arc<dyn ChatStore>,
    pub(super) emitter: Arc<dyn Emitter>,
    pub(super) online: Online,
    pub(super) idle_after: Duration,
}

/// A room's state.
pub struct RoomState {
    key: RoomKey,
    info: RoomInfo,
    /// user id → username.
    names: HashMap<String, String>,
    /// (blocker, blocked).
    blocks: HashSet<(String, String)>,
    last_activity: tokio::time::Instant,
}

impl RoomState {
    fn new(key: RoomKey, info: RoomInfo) -> Self {
        let mut s = Self {
            key,
            info: RoomInfo::default(),
            names: HashMap::new(),
            blocks: HashSet::new(),
            last_activity: tokio::time::Instant::now(),
        };
        s.set_info(info);
        s
    }

    fn set_info(&mut self, info: RoomInfo) {
        self.names = info
            .members
            .iter()
            .map(|m| (m.user_id.clone(), m.username.clone()))
            .collect();
        self.blocks = info.blocks.iter().cloned().collect();
        self.info = info;
    }

    fn is_member(&self, user_id: &str) -> bool {
        self.names.contains_key(user_id)
    }

    /// User rooms of the members who do not block `author`, minus `skip`.
    fn audience(&self, author: &str, skip: Option<&str>) -> Vec<String> {
        let mut rooms: Vec<String> = self
            .info
            .members
            .iter()
            .filter(|m| Some(m.user_id.as_str()) != skip)
            .filter(|m| {
                !self
                    .blocks
                    .contains(&(m.user_id.clone(), author.to_owned()))
            })
            .map(|m| user_room(&m.username))
            .collect();
        rooms.sort();
        rooms.dedup();
        rooms
    }

    /// The other member of a direct conversation.
    fn counterpart(&self, user_id: &str) -> Option<&Member> {
        match &self.key {
            RoomKey::Direct(..) => self.info.members.iter().find(|m| m.user_id != user_id),
            RoomKey::Group(_) => None,
        }
    }
}

impl ChatRoom {
    async fn post(&self, state: &mut RoomState, post: Post) -> Result<Stored, ChatError> {
        if !state.is_member(&post.sender_id) {
            return Err(ChatError::NotMember);
        }
        let mut delivered = false;
        if let Some(other) = state.counterpart(&post.sender_id) {
            if state
                .blocks
                .contains(&(other.user_id.clone(), post.sender_id.clone()))
            {
                return Err(ChatError::Blocked);
            }
            if !other.accepts_direct {
                return Err(ChatError::NotAccepting);
            }
            delivered = self.online.is_online(&other.username);
        }
        if let Some(reply_to) = &post.reply_to_id {
            match self.store.message(reply_to).await? {
                Some(m) if m.room == state.key => {}
                _ => return Err(ChatError::NotFound),
            }
        }
        let stored = self.store.insert(&state.key, &post, delivered).await?;
        state.info.last_seq = state.info.last_seq.max(stored.seq);
        state.info.messages += 1;
        let rooms = state.audience(&post.sender_id, None);
        self.emitter
            .emit(Emit::to(rooms, "new_message", stored.json.clone()))
            .await;
        Ok(stored)
    }

    async fn change(
        &self,
        state: &mut RoomState,
        message_id: &str,
        user_id: &str,
        change: &Change,
    ) -> Result<Changed, ChatError> {
        if !state.is_member(user_id) {
            return Err(ChatError::NotMember);
        }
        let Some(m) = self
            .store
            .message(message_id)
            .await?
            .filter(|m| m.room == state.key)
        else {
            return Err(ChatError::NotFound);
        };
        match change {
            Change::Edit(_) | Change::Delete if m.sender_id != user_id => {
                return Err(ChatError::NotAuthor)
            }
            _ if m.deleted => return Err(ChatError::Deleted),
            _ => {}
        }
        let changed = self.store.apply(message_id, user_id, change).await?;
        let rooms = state.audience(&m.sender_id, None);
        self.emitter
            .emit(Emit::to(
                rooms,
                "message_updated",
                changed.message.json.clone(),
            ))
            .await;
        Ok(changed)
    }

    async fn read(
        &self,
        state: &mut RoomState,
        reader_id: &str,
        up_to: Option<i64>,
    ) -> Result<Value, ChatError> {
        if !state.is_member(reader_id) {
            return Err(ChatError::NotMember);
        }
        let payload = self.store.mark_read(&state.key, reader_id, up_to).await?;
        let rooms = state.audience(reader_id, None);
        self.emitter
            .emit(Emit::to(rooms, "messages_read", payload.clone()))
            .await;
        Ok(payload)
    }
}

impl Actor for ChatRoom {
    type Msg = RoomMsg;
    type State = RoomState;
    type Arguments = RoomKey;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        key: RoomKey,
    ) -> Result<Self::State, ActorProcessingErr> {
        let info = self
            .store
            .load_room(&key)
            .await
            .map_err(|e| format!("cannot load room {}: {e}", key.name()))?;
        let every = (self.idle_after / 4).max(Duration::from_millis(10));
        myself.send_interval(every, || RoomMsg::IdleCheck);
        tracing::debug!(room = %key.name(), "chat room started");
        Ok(RoomState::new(key, info))
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        if !matches!(message, RoomMsg::IdleCheck | RoomMsg::Stats(_)) {
            state.last_activity = tokio::time::Instant::now();
        }
        match message {
            RoomMsg::Post(post, reply) => {
                let _ = reply.send(self.post(state, post).await);
            }
            RoomMsg::Change {
                message_id,
                user_id,
                change,
                reply,
            } => {
                let _ = reply.send(self.change(state, &message_id, &user_id, &change).await);
            }
            RoomMsg::Typing { user_id, payload } => {
                if state.is_member(&user_id) {
                    let rooms = state.audience(&user_id, Some(&user_id));
                    if !rooms.is_empty() {
                        self.emitter
                            .emit(Emit::to(rooms, "user_typing", payload))
                            .await;
                    }
                }
            }
            RoomMsg::Read {
                reader_id,
                up_to,
                reply,
            } => {
                let _ = reply.send(self.read(state, &reader_id, up_to).await);
            }
            RoomMsg::IsMember(user_id, reply) => {
                let _ = reply.send(state.is_member(&user_id));
            }
            RoomMsg::Refresh => match self.store.load_room(&state.key).await {
                Ok(info) => state.set_info(info),
                Err(ChatError::NotFound) => {
                    // The conversation is gone (a deleted group): nothing is left to order.
                    tracing::debug!(room = %state.key.name(), "chat room gone; stopping");
                    myself.stop(Some("gone".into()));
                }
                Err(e) => {
                    tracing::warn!(room = %state.key.name(), error = %e, "chat room refresh failed")
                }
            },
            RoomMsg::Stats(reply) => {
                let _ = reply.send(RoomStats {
                    room: state.key.name(),
                    members: state.info.members.len(),
                    last_seq: state.info.last_seq,
                    messages: state.info.messages,
                });
            }
            RoomMsg::IdleCheck => {
                if state.last_activity.elapsed() >= self.idle_after {
                    tracing::debug!(room = %state.key.name(), "chat room idle; stopping");
                    myself.stop(Some("idle".into()));
                }
            }
            RoomMsg::Crash => crash_on_purpose(&state.key),
        }
        Ok(())
    }
}

/// The test hook's panic, standing for a bug in a handler.
#[allow(clippy::panic)]
fn crash_on_purpose(key: &RoomKey) -> ! {
    panic!("test hook: chat room {} crashed on purpose", key.name())
}
