//! Chat rooms: one [`ChatRoom`] actor per active conversation (a direct-message pair, a group, the
//! public channel), under the [`ChatRoomsSupervisor`]. A room takes its messages one at a time:
//! it checks the sender against its members and blocks, stores the message (the store gives the
//! global sequence number) and only then emits it, so every receiver and the database see one
//! order. Edits, deletions, reactions, typing and read receipts go through the same room, so they
//! never overtake the message they are about.
//!
//! A room with nothing to do for a while stops; the supervisor forgets it and starts it again on
//! the next message. A room that fails (a panic in a handler) is started again at once by the
//! supervisor, which reloads it from the store; other rooms do not notice.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use serde::Serialize;
use serde_json::Value;

use crate::emit::{user_room, BoxFut, Emit, Emitter};
use crate::presence::Online;
use crate::root::Slot;

/// Which conversation a room is.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RoomKey {
    /// Direct messages between two users (their ids, sorted).
    Direct(String, String),
    /// A group (the public channel `General` is a group).
    Group(String),
}

impl RoomKey {
    /// The direct conversation of two users, whatever the order given.
    pub fn direct(a: &str, b: &str) -> Self {
        if a <= b {
            Self::Direct(a.to_owned(), b.to_owned())
        } else {
            Self::Direct(b.to_owned(), a.to_owned())
        }
    }

    /// `dm:<id>:<id>` or `group:<id>`, for logs and audit rows.
    pub fn name(&self) -> String {
        match self {
            Self::Direct(a, b) => format!("dm:{a}:{b}"),
            Self::Group(g) => format!("group:{g}"),
        }
    }
}

/// A member of a room, as the room needs to know them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    /// User id.
    pub user_id: String,
    /// Login name (the `user:<name>` room).
    pub username: String,
    /// Whether they take direct messages (`allowMessagesFrom` is not `none`).
    pub accepts_direct: bool,
}

/// What a room loads from the store when it starts and on refresh.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoomInfo {
    /// Members (both users of a direct conversation).
    pub members: Vec<Member>,
    /// `(blocker id, blocked id)` pairs among the members.
    pub blocks: Vec<(String, String)>,
    /// Highest sequence number stored in this conversation (0: none).
    pub last_seq: i64,
    /// Messages stored in this conversation.
    pub messages: u64,
}

/// A new message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Post {
    /// Sender's user id.
    pub sender_id: String,
    /// Sanitized content.
    pub content: String,
    /// The message this one answers (must be in the same conversation).
    pub reply_to_id: Option<String>,
}

/// A change to an existing message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// New sanitized content (author only).
    Edit(String),
    /// Soft delete (author only).
    Delete,
    /// Toggle this reaction of the user (any member).
    React(String),
}

/// A stored message: its order and the JSON clients receive.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    /// Message id.
    pub id: String,
    /// Global sequence number.
    pub seq: i64,
    /// Author's user id.
    pub sender_id: String,
    /// The payload of `new_message` / `message_updated`.
    pub json: Value,
}

/// Where a message lives and who wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRef {
    /// Its conversation.
    pub room: RoomKey,
    /// Author's user id.
    pub sender_id: String,
    /// Soft-deleted already.
    pub deleted: bool,
}

/// The result of a change.
#[derive(Debug, Clone, PartialEq)]
pub struct Changed {
    /// The message after the change.
    pub message: Stored,
    /// For reactions: `true` added, `false` removed.
    pub reaction_added: Option<bool>,
}

/// Why a room refused or failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChatError {
    /// The user is not a member of the conversation.
    #[error("not a member of this conversation")]
    NotMember,
    /// The receiver blocks the sender.
    #[error("blocked by the receiver")]
    Blocked,
    /// The receiver takes no direct messages.
    #[error("the receiver takes no direct messages")]
    NotAccepting,
    /// No such message in this conversation.
    #[error("message not found")]
    NotFound,
    /// Only the author may do this.
    #[error("only the author may change a message")]
    NotAuthor,
    /// The message was deleted.
    #[error("the message was deleted")]
    Deleted,
    /// The store failed.
    #[error("store failed: {0}")]
    Store(String),
    /// The room did not answer (stopping, restarting or overloaded).
    #[error("room unavailable: {0}")]
    Unavailable(String),
}

/// What rooms need from the database; the server implements it over its store.
pub trait ChatStore: Send + Sync + 'static {
    /// Members, blocks and history size of a conversation.
    fn load_room<'a>(&'a self, key: &'a RoomKey) -> BoxFut<'a, Result<RoomInfo, ChatError>>;
    /// Stores a message with the next sequence number.
    fn insert<'a>(
        &'a self,
        key: &'a RoomKey,
        post: &'a Post,
        delivered: bool,
    ) -> BoxFut<'a, Result<Stored, ChatError>>;
    /// Where a message lives.
    fn message<'a>(&'a self, id: &'a str) -> BoxFut<'a, Result<Option<MessageRef>, ChatError>>;
    /// Applies a checked change.
    fn apply<'a>(
        &'a self,
        id: &'a str,
        user_id: &'a str,
        change: &'a Change,
    ) -> BoxFut<'a, Result<Changed, ChatError>>;
    /// Marks the conversation read by `reader_id` (up to `up_to` or everything); returns the
    /// `messages_read` payload.
    fn mark_read<'a>(
        &'a self,
        key: &'a RoomKey,
        reader_id: &'a str,
        up_to: Option<i64>,
    ) -> BoxFut<'a, Result<Value, ChatError>>;
}

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
    /// Reload members and blocks (membership, blocks or settings changed).
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
struct ChatRoom {
    store: Arc<dyn ChatStore>,
    emitter: Arc<dyn Emitter>,
    online: Online,
    idle_after: Duration,
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

/// Messages of the rooms supervisor.
#[derive(Debug)]
pub enum RoomsMsg {
    /// The room of a conversation, started when not running.
    Get(RoomKey, RpcReplyPort<Result<ActorRef<RoomMsg>, ChatError>>),
    /// Reload one running room.
    Refresh(RoomKey),
    /// Reload every running room (blocks or settings changed).
    RefreshAll,
    /// Report [`RoomsStats`].
    Stats(RpcReplyPort<RoomsStats>),
    /// Test hook: make a running room panic.
    Crash(RoomKey),
}

/// What the supervisor reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoomsStats {
    /// Rooms running now.
    pub running: usize,
    /// Rooms started since boot (restarts included).
    pub started: u64,
    /// Rooms restarted after a failure.
    pub restarts: u64,
}

/// Supervises the rooms: starts them on demand, restarts the ones that fail, forgets the ones
/// that stop.
pub struct ChatRoomsSupervisor {
    store: Arc<dyn ChatStore>,
    emitter: Arc<dyn Emitter>,
    online: Online,
    config: RoomsConfig,
}

impl std::fmt::Debug for ChatRoomsSupervisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChatRoomsSupervisor")
    }
}

/// The supervisor's books.
#[derive(Default)]
pub struct RoomsState {
    by_key: HashMap<RoomKey, ActorRef<RoomMsg>>,
    by_actor: HashMap<ractor::ActorId, RoomKey>,
    started: u64,
    restarts: u64,
}

impl ChatRoomsSupervisor {
    /// Starts the supervisor under `parent`.
    pub async fn start(
        parent: ractor::ActorCell,
        store: Arc<dyn ChatStore>,
        emitter: Arc<dyn Emitter>,
        online: Online,
        config: RoomsConfig,
    ) -> Result<ChatRooms, ractor::SpawnErr> {
        let actor = Self::start_actor(parent, store, emitter, online, config).await?;
        Ok(ChatRooms::new(Slot::new(actor)))
    }

    /// Starts the supervisor under `parent` and returns the actor itself (a branch of the tree:
    /// the root restarts it and its [`ChatRooms`] follow through the slot).
    pub async fn start_actor(
        parent: ractor::ActorCell,
        store: Arc<dyn ChatStore>,
        emitter: Arc<dyn Emitter>,
        online: Online,
        config: RoomsConfig,
    ) -> Result<ActorRef<RoomsMsg>, ractor::SpawnErr> {
        let sup = ChatRoomsSupervisor {
            store,
            emitter,
            online,
            config,
        };
        let (actor, _) = Actor::spawn_linked(None, sup, (), parent).await?;
        Ok(actor)
    }

    async fn spawn(
        &self,
        myself: &ActorRef<RoomsMsg>,
        state: &mut RoomsState,
        key: RoomKey,
    ) -> Result<ActorRef<RoomMsg>, ChatError> {
        let room = ChatRoom {
            store: self.store.clone(),
            emitter: self.emitter.clone(),
            online: self.online.clone(),
            idle_after: self.config.idle_after,
        };
        match Actor::spawn_linked(None, room, key.clone(), myself.get_cell()).await {
            Ok((actor, _)) => {
                state.started += 1;
                state.by_actor.insert(actor.get_id(), key.clone());
                state.by_key.insert(key, actor.clone());
                Ok(actor)
            }
            Err(e) => {
                tracing::error!(room = %key.name(), error = %e, "cannot start a chat room");
                Err(ChatError::Unavailable(e.to_string()))
            }
        }
    }
}

impl Actor for ChatRoomsSupervisor {
    type Msg = RoomsMsg;
    type State = RoomsState;
    type Arguments = ();

    async fn pre_start(
        &self,
        _: ActorRef<Self::Msg>,
        _: (),
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(RoomsState::default())
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            RoomsMsg::Get(key, reply) => {
                let room = match state.by_key.get(&key) {
                    Some(r) => Ok(r.clone()),
                    None => self.spawn(&myself, state, key).await,
                };
                let _ = reply.send(room);
            }
            RoomsMsg::Refresh(key) => {
                if let Some(r) = state.by_key.get(&key) {
                    let _ = r.cast(RoomMsg::Refresh);
                }
            }
            RoomsMsg::RefreshAll => {
                for r in state.by_key.values() {
                    let _ = r.cast(RoomMsg::Refresh);
                }
            }
            RoomsMsg::Stats(reply) => {
                let _ = reply.send(RoomsStats {
                    running: state.by_key.len(),
                    started: state.started,
                    restarts: state.restarts,
                });
            }
            RoomsMsg::Crash(key) => {
                if let Some(r) = state.by_key.get(&key) {
                    let _ = r.cast(RoomMsg::Crash);
                }
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match event {
            SupervisionEvent::ActorFailed(cell, err) => {
                let Some(key) = state.by_actor.remove(&cell.get_id()) else {
                    return Ok(());
                };
                state.by_key.remove(&key);
                state.restarts += 1;
                tracing::error!(room = %key.name(), error = %err, "chat room failed; restarting it");
                // Started again at once, from the store: its history is all there.
                let _ = self.spawn(&myself, state, key).await;
            }
            SupervisionEvent::ActorTerminated(cell, _, _) => {
                if let Some(key) = state.by_actor.remove(&cell.get_id()) {
                    state.by_key.remove(&key);
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// The server's handle on the chat rooms. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ChatRooms {
    sup: Slot<RoomsMsg>,
}

fn unavailable(e: impl std::fmt::Display) -> ChatError {
    ChatError::Unavailable(e.to_string())
}

impl ChatRooms {
    /// The rooms behind the supervisor in `sup`.
    pub fn new(sup: Slot<RoomsMsg>) -> Self {
        Self { sup }
    }

    /// The running room of `key` (started when needed).
    pub async fn room(&self, key: &RoomKey) -> Result<ActorRef<RoomMsg>, ChatError> {
        crate::call!(self.sup.get(), |r| RoomsMsg::Get(key.clone(), r)).map_err(unavailable)?
    }

    /// Calls the room of `key`; when the room stopped before the message could be queued (idle
    /// stop, restart), asks for it again once.
    async fn ask<T: Send + 'static>(
        &self,
        key: &RoomKey,
        msg: impl Fn(RpcReplyPort<T>) -> RoomMsg,
    ) -> Result<T, ChatError> {
        for attempt in 0..2 {
            let room = self.room(key).await?;
            match room.call(&msg, Some(crate::CALL_TIMEOUT)).await {
                Ok(ractor::rpc::CallResult::Success(v)) => return Ok(v),
                Ok(ractor::rpc::CallResult::Timeout) => {
                    return Err(ChatError::Unavailable(
                        "the room did not answer in time".into(),
                    ))
                }
                Ok(ractor::rpc::CallResult::SenderError) => {
                    return Err(ChatError::Unavailable(
                        "the room stopped while handling the request".into(),
                    ))
                }
                Err(e) if attempt == 0 => {
                    tracing::debug!(room = %key.name(), error = %e, "chat room gone; asking again")
                }
                Err(e) => return Err(unavailable(e)),
            }
        }
        Err(ChatError::Unavailable("no room".into()))
    }

    /// Posts a message.
    pub async fn post(&self, key: &RoomKey, post: Post) -> Result<Stored, ChatError> {
        self.ask(key, |r| RoomMsg::Post(post.clone(), r)).await?
    }

    /// Edits, deletes or reacts.
    pub async fn change(
        &self,
        key: &RoomKey,
        message_id: &str,
        user_id: &str,
        change: Change,
    ) -> Result<Changed, ChatError> {
        self.ask(key, |reply| RoomMsg::Change {
            message_id: message_id.to_owned(),
            user_id: user_id.to_owned(),
            change: change.clone(),
            reply,
        })
        .await?
    }

    /// Marks a conversation read.
    pub async fn read(
        &self,
        key: &RoomKey,
        reader_id: &str,
        up_to: Option<i64>,
    ) -> Result<Value, ChatError> {
        self.ask(key, |reply| RoomMsg::Read {
            reader_id: reader_id.to_owned(),
            up_to,
            reply,
        })
        .await?
    }

    /// Whether `user_id` is a member of the conversation.
    pub async fn is_member(&self, key: &RoomKey, user_id: &str) -> Result<bool, ChatError> {
        self.ask(key, |r| RoomMsg::IsMember(user_id.to_owned(), r))
            .await
    }

    /// Relays a typing indicator (fire and forget).
    pub async fn typing(
        &self,
        key: &RoomKey,
        user_id: &str,
        payload: Value,
    ) -> Result<(), ChatError> {
        let room = self.room(key).await?;
        room.cast(RoomMsg::Typing {
            user_id: user_id.to_owned(),
            payload,
        })
        .map_err(unavailable)
    }

    /// A running room reloads its members and blocks.
    pub fn refresh(&self, key: &RoomKey) {
        let _ = self.sup.get().cast(RoomsMsg::Refresh(key.clone()));
    }

    /// Every running room reloads.
    pub fn refresh_all(&self) {
        let _ = self.sup.get().cast(RoomsMsg::RefreshAll);
    }

    /// Statistics of the supervisor.
    pub async fn stats(&self) -> Result<RoomsStats, ChatError> {
        crate::call!(self.sup.get(), RoomsMsg::Stats).map_err(unavailable)
    }

    /// Statistics of one room (started when needed).
    pub async fn room_stats(&self, key: &RoomKey) -> Result<RoomStats, ChatError> {
        self.ask(key, RoomMsg::Stats).await
    }

    /// Test hook: the running room of `key` panics.
    #[doc(hidden)]
    pub fn crash(&self, key: &RoomKey) {
        let _ = self.sup.get().cast(RoomsMsg::Crash(key.clone()));
    }
}

impl From<crate::ActorError> for ChatError {
    fn from(e: crate::ActorError) -> Self {
        unavailable(e)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Fake {
        seq: Mutex<i64>,
        messages: Mutex<Vec<(String, RoomKey, String)>>,
        emitted: Mutex<Vec<Emit>>,
        blocks: Mutex<Vec<(String, String)>>,
    }

    fn member(id: &str) -> Member {
        Member {
            user_id: id.into(),
            username: format!("n{id}"),
            accepts_direct: true,
        }
    }

    impl ChatStore for Fake {
        fn load_room<'a>(&'a self, key: &'a RoomKey) -> BoxFut<'a, Result<RoomInfo, ChatError>> {
            Box::pin(async move {
                let members = match key {
                    RoomKey::Direct(a, b) => vec![member(a), member(b)],
                    RoomKey::Group(_) => vec![member("a"), member("b"), member("c")],
                };
                let n = self
                    .messages
                    .lock()
                    .unwrap()
                    .iter()
                    .filter(|m| &m.1 == key)
                    .count();
                Ok(RoomInfo {
                    members,
                    blocks: self.blocks.lock().unwrap().clone(),
                    last_seq: *self.seq.lock().unwrap(),
                    messages: n as u64,
                })
            })
        }
        fn insert<'a>(
            &'a self,
            key: &'a RoomKey,
            post: &'a Post,
            _: bool,
        ) -> BoxFut<'a, Result<Stored, ChatError>> {
            Box::pin(async move {
                let mut seq = self.seq.lock().unwrap();
                *seq += 1;
                let id = format!("m{seq}");
                self.messages.lock().unwrap().push((
                    id.clone(),
                    key.clone(),
                    post.sender_id.clone(),
                ));
                Ok(Stored {
                    id: id.clone(),
                    seq: *seq,
                    sender_id: post.sender_id.clone(),
                    json: serde_json::json!({ "id": id }),
                })
            })
        }
        fn message<'a>(&'a self, id: &'a str) -> BoxFut<'a, Result<Option<MessageRef>, ChatError>> {
            Box::pin(async move {
                Ok(self
                    .messages
                    .lock()
                    .unwrap()
                    .iter()
                    .find(|m| m.0 == id)
                    .map(|m| MessageRef {
                        room: m.1.clone(),
                        sender_id: m.2.clone(),
                        deleted: false,
                    }))
            })
        }
        fn apply<'a>(
            &'a self,
            id: &'a str,
            _: &'a str,
            _: &'a Change,
        ) -> BoxFut<'a, Result<Changed, ChatError>> {
            Box::pin(async move {
                Ok(Changed {
                    message: Stored {
                        id: id.into(),
                        seq: 0,
                        sender_id: String::new(),
                        json: serde_json::json!({ "id": id, "changed": true }),
                    },
                    reaction_added: None,
                })
            })
        }
        fn mark_read<'a>(
            &'a self,
            _: &'a RoomKey,
            _: &'a str,
            _: Option<i64>,
        ) -> BoxFut<'a, Result<Value, ChatError>> {
            Box::pin(async { Ok(Value::Null) })
        }
    }

    impl Emitter for Fake {
        fn emit(&self, e: Emit) -> BoxFut<'_, ()> {
            self.emitted.lock().unwrap().push(e);
            Box::pin(async {})
        }
    }

    async fn setup(fake: Arc<Fake>) -> (crate::root::Tree, ChatRooms) {
        let tree = crate::root::Tree::start().await.unwrap();
        let rooms = ChatRoomsSupervisor::start(
            tree.root.get_cell(),
            fake.clone(),
            fake,
            Online::default(),
            RoomsConfig::default(),
        )
        .await
        .unwrap();
        (tree, rooms)
    }

    fn post(from: &str, text: &str) -> Post {
        Post {
            sender_id: from.into(),
            content: text.into(),
            reply_to_id: None,
        }
    }

    #[tokio::test]
    async fn members_post_others_are_refused_and_blockers_do_not_receive() {
        let fake = Arc::new(Fake::default());
        fake.blocks.lock().unwrap().push(("c".into(), "a".into()));
        let (tree, rooms) = setup(fake.clone()).await;
        let g = RoomKey::Group("g".into());
        rooms.post(&g, post("a", "hi")).await.unwrap();
        assert_eq!(
            rooms.post(&g, post("z", "intruder")).await,
            Err(ChatError::NotMember)
        );
        let e = fake.emitted.lock().unwrap()[0].clone();
        assert_eq!(e.event, "new_message");
        assert_eq!(e.rooms, ["user:na", "user:nb"], "c blocks a");

        let dm = RoomKey::direct("c", "a");
        assert_eq!(
            rooms.post(&dm, post("a", "psst")).await,
            Err(ChatError::Blocked)
        );
        rooms.post(&dm, post("c", "yes?")).await.unwrap();
        let err = rooms.change(&dm, "m1", "c", Change::Edit("x".into())).await;
        assert_eq!(err, Err(ChatError::NotFound), "m1 lives in the group");
        assert_eq!(
            rooms.change(&g, "m1", "b", Change::Delete).await,
            Err(ChatError::NotAuthor)
        );
        rooms
            .change(&g, "m1", "b", Change::React("👍".into()))
            .await
            .unwrap();
        tree.shutdown().await;
    }

    #[tokio::test]
    async fn a_crashed_room_restarts_with_its_history_and_others_carry_on() {
        let fake = Arc::new(Fake::default());
        let (tree, rooms) = setup(fake.clone()).await;
        let g = RoomKey::Group("g".into());
        let h = RoomKey::Group("h".into());
        for i in 0..3 {
            rooms.post(&g, post("a", &format!("{i}"))).await.unwrap();
        }
        rooms.post(&h, post("b", "other")).await.unwrap();
        let before = rooms.room(&g).await.unwrap().get_id();
        rooms.crash(&g);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while rooms.stats().await.unwrap().restarts == 0 {
            assert!(tokio::time::Instant::now() < deadline, "no restart");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        rooms.post(&h, post("b", "still here")).await.unwrap();
        let after = rooms.room(&g).await.unwrap().get_id();
        assert_ne!(before, after);
        let stats = rooms.room_stats(&g).await.unwrap();
        assert_eq!(stats.messages, 3);
        rooms.post(&g, post("a", "after")).await.unwrap();
        tree.shutdown().await;
    }
}
