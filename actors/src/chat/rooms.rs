//! The rooms supervisor (starts, forgets and restarts rooms) and the server's handle on it.

use std::collections::HashMap;
use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use serde::Serialize;
use serde_json::Value;

use super::room::ChatRoom;
use super::{
    unavailable, Change, Changed, ChatError, ChatStore, Post, RoomKey, RoomMsg, RoomStats,
    RoomsConfig, Stored,
};
use crate::emit::Emitter;
use crate::presence::Online;
use crate::root::Slot;

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
