//! Whiteboards: one [`Whiteboard`] actor per board (the shared board `default`, and one per pool
//! for teams) under the [`WhiteboardsSupervisor`]. A board holds its strokes and participants,
//! relays strokes, undos and cursors to the other sockets in its room, and writes its strokes to
//! the store at most once per `save_delay` however many strokes arrive (and when it stops). A
//! board that fails is started again from the last saved state.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use serde::Serialize;
use serde_json::{json, Value};

use crate::emit::{BoxFut, Emit, Emitter};
use crate::root::Slot;

/// Largest saved state of a board (the original's `draw_save` cap).
pub const MAX_STATE_BYTES: usize = 10 * 1024 * 1024;

/// The Socket.IO room of a board: `whiteboard` for the shared board (the original's), else
/// `whiteboard:<board>`.
pub fn board_room(board: &str) -> String {
    if board == "default" {
        "whiteboard".to_owned()
    } else {
        format!("whiteboard:{board}")
    }
}

/// Where boards keep their strokes; the server implements it over its store.
pub trait BoardStore: Send + Sync + 'static {
    /// The saved strokes of a board (empty when never saved).
    fn load<'a>(&'a self, board: &'a str) -> BoxFut<'a, Result<Vec<Value>, String>>;
    /// Saves the strokes of a board (a JSON array).
    fn save<'a>(&'a self, board: &'a str, strokes_json: String) -> BoxFut<'a, Result<(), String>>;
}

/// Why a board refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BoardError {
    /// The board's state would exceed [`MAX_STATE_BYTES`].
    #[error("the board is full; ask an admin to clear it")]
    Full,
    /// The board did not answer.
    #[error("board unavailable: {0}")]
    Unavailable(String),
}

/// Someone on a board.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Participant {
    /// Login name.
    pub username: String,
    /// Open tabs on this board.
    pub sockets: usize,
}

/// What a joining socket receives.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Joined {
    /// Board id.
    pub board: String,
    /// Stroke history, oldest first.
    pub strokes: Vec<Value>,
    /// Who is on the board.
    pub participants: Vec<Participant>,
}

/// What a board reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BoardStats {
    /// Board id.
    pub board: String,
    /// Strokes held.
    pub strokes: usize,
    /// Bytes of the strokes as JSON (about).
    pub bytes: usize,
    /// Sockets on the board.
    pub sockets: usize,
    /// Writes to the store since the board started.
    pub saves: u64,
    /// Strokes not yet written.
    pub dirty: bool,
}

/// Messages of one board.
#[derive(Debug)]
pub enum BoardMsg {
    /// A socket joins; replies with the history and participants.
    Join {
        /// Socket id.
        sid: String,
        /// Login name.
        username: String,
        /// Reply.
        reply: RpcReplyPort<Joined>,
    },
    /// A socket leaves (or disconnected).
    Leave {
        /// Socket id.
        sid: String,
    },
    /// A checked stroke (with its `id` and `by`) from `sid`; relayed to the others as
    /// `draw_stroke`; replies with the stroke id.
    Stroke {
        /// Sender socket.
        sid: String,
        /// The stroke.
        stroke: Value,
        /// Its size as JSON.
        bytes: usize,
        /// Reply.
        reply: RpcReplyPort<Result<String, BoardError>>,
    },
    /// Removes the last stroke of `username`; everyone gets `draw_undo`; replies with its id.
    Undo {
        /// Who.
        username: String,
        /// Reply.
        reply: RpcReplyPort<Option<String>>,
    },
    /// A participant's pointer moved; relayed to the others as `draw_cursor`.
    Cursor {
        /// Sender socket.
        sid: String,
        /// The `draw_cursor` payload.
        payload: Value,
    },
    /// Empties the board (admins); the others get `draw_clear`; saved at once.
    Clear {
        /// Sender socket, left out of the broadcast.
        sid: Option<String>,
        /// Reply once saved.
        reply: RpcReplyPort<Result<(), BoardError>>,
    },
    /// Replaces the strokes (admins' `draw_save`); the others get `draw_sync`; saved at once.
    Replace {
        /// Sender socket, left out of the broadcast.
        sid: Option<String>,
        /// The new strokes.
        strokes: Vec<Value>,
        /// Reply once saved.
        reply: RpcReplyPort<Result<(), BoardError>>,
    },
    /// The current strokes.
    Snapshot(RpcReplyPort<Vec<Value>>),
    /// Write pending strokes now; replies whether the store took them.
    Flush(RpcReplyPort<bool>),
    /// Report [`BoardStats`].
    Stats(RpcReplyPort<BoardStats>),
    /// The debounce timer fired.
    Persist,
    /// The idle check fired.
    IdleCheck,
}

/// How boards behave.
#[derive(Debug, Clone)]
pub struct BoardsConfig {
    /// Strokes are written at most this often.
    pub save_delay: Duration,
    /// A board without sockets stops after this long.
    pub idle_after: Duration,
}

impl Default for BoardsConfig {
    fn default() -> Self {
        Self {
            save_delay: Duration::from_secs(1),
            idle_after: Duration::from_secs(10 * 60),
        }
    }
}

struct Whiteboard {
    store: Arc<dyn BoardStore>,
    emitter: Arc<dyn Emitter>,
    config: BoardsConfig,
}

/// A board's state.
pub struct BoardState {
    board: String,
    room: String,
    strokes: Vec<Value>,
    bytes: usize,
    /// socket id → username.
    sockets: HashMap<String, String>,
    dirty: bool,
    save_scheduled: bool,
    saves: u64,
    last_activity: tokio::time::Instant,
}

fn size_of(v: &Value) -> usize {
    serde_json::to_vec(v).map(|b| b.len()).unwrap_or(0)
}

impl BoardState {
    fn participants(&self) -> Vec<Participant> {
        let mut by_name: BTreeMap<&str, usize> = BTreeMap::new();
        for name in self.sockets.values() {
            *by_name.entry(name).or_default() += 1;
        }
        by_name
            .into_iter()
            .map(|(username, sockets)| Participant {
                username: username.to_owned(),
                sockets,
            })
            .collect()
    }
}

impl Whiteboard {
    async fn announce_participants(&self, state: &BoardState) {
        self.emitter
            .emit(Emit::to(
                vec![state.room.clone()],
                "whiteboard_participants",
                json!({ "board": state.board, "participants": state.participants() }),
            ))
            .await;
    }

    fn touch(&self, myself: &ActorRef<BoardMsg>, state: &mut BoardState) {
        state.dirty = true;
        if !state.save_scheduled {
            state.save_scheduled = true;
            myself.send_after(self.config.save_delay, || BoardMsg::Persist);
        }
    }

    async fn persist(&self, state: &mut BoardState) -> bool {
        if !state.dirty {
            return true;
        }
        let body = Value::Array(state.strokes.clone()).to_string();
        match self.store.save(&state.board, body).await {
            Ok(()) => {
                state.dirty = false;
                state.saves += 1;
                true
            }
            Err(e) => {
                tracing::warn!(board = %state.board, error = %e, "whiteboard save failed; will retry");
                false
            }
        }
    }
}

impl Actor for Whiteboard {
    type Msg = BoardMsg;
    type State = BoardState;
    type Arguments = String;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        board: String,
    ) -> Result<Self::State, ActorProcessingErr> {
        let strokes = self
            .store
            .load(&board)
            .await
            .map_err(|e| format!("cannot load whiteboard {board}: {e}"))?;
        let bytes = strokes.iter().map(size_of).sum();
        let every = (self.config.idle_after / 4).max(Duration::from_millis(10));
        myself.send_interval(every, || BoardMsg::IdleCheck);
        Ok(BoardState {
            room: board_room(&board),
            board,
            strokes,
            bytes,
            sockets: HashMap::new(),
            dirty: false,
            save_scheduled: false,
            saves: 0,
            last_activity: tokio::time::Instant::now(),
        })
    }

    async fn post_stop(
        &self,
        _: ActorRef<Self::Msg>,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        self.persist(state).await;
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        if !matches!(
            message,
            BoardMsg::IdleCheck | BoardMsg::Stats(_) | BoardMsg::Persist
        ) {
            state.last_activity = tokio::time::Instant::now();
        }
        match message {
            BoardMsg::Join {
                sid,
                username,
                reply,
            } => {
                state.sockets.insert(sid, username);
                let _ = reply.send(Joined {
                    board: state.board.clone(),
                    strokes: state.strokes.clone(),
                    participants: state.participants(),
                });
                self.announce_participants(state).await;
            }
            BoardMsg::Leave { sid } => {
                if state.sockets.remove(&sid).is_some() {
                    self.announce_participants(state).await;
                }
            }
            BoardMsg::Stroke {
                sid,
                stroke,
                bytes,
                reply,
            } => {
                if state.bytes + bytes > MAX_STATE_BYTES {
                    let _ = reply.send(Err(BoardError::Full));
                    return Ok(());
                }
                let id = stroke["id"].as_str().unwrap_or_default().to_owned();
                let mut relayed = stroke.clone();
                relayed["board"] = Value::String(state.board.clone());
                state.strokes.push(stroke);
                state.bytes += bytes;
                self.touch(&myself, state);
                self.emitter
                    .emit(
                        Emit::to(vec![state.room.clone()], "draw_stroke", relayed)
                            .except(Some(sid)),
                    )
                    .await;
                let _ = reply.send(Ok(id));
            }
            BoardMsg::Undo { username, reply } => {
                let found = state
                    .strokes
                    .iter()
                    .rposition(|s| s["by"].as_str() == Some(username.as_str()));
                let Some(at) = found else {
                    let _ = reply.send(None);
                    return Ok(());
                };
                let stroke = state.strokes.remove(at);
                state.bytes = state.bytes.saturating_sub(size_of(&stroke));
                let id = stroke["id"].as_str().unwrap_or_default().to_owned();
                self.touch(&myself, state);
                self.emitter
                    .emit(Emit::to(
                        vec![state.room.clone()],
                        "draw_undo",
                        json!({ "board": state.board, "strokeId": id, "by": username }),
                    ))
                    .await;
                let _ = reply.send(Some(id));
            }
            BoardMsg::Cursor { sid, payload } => {
                self.emitter
                    .emit(
                        Emit::to(vec![state.room.clone()], "draw_cursor", payload)
                            .except(Some(sid)),
                    )
                    .await;
            }
            BoardMsg::Clear { sid, reply } => {
                state.strokes.clear();
                state.bytes = 0;
                state.dirty = true;
                let saved = self.persist(state).await;
                self.emitter
                    .emit(
                        Emit::to(
                            vec![state.room.clone()],
                            "draw_clear",
                            json!({ "board": state.board }),
                        )
                        .except(sid),
                    )
                    .await;
                let _ = reply.send(if saved {
                    Ok(())
                } else {
                    Err(BoardError::Unavailable("the store refused the save".into()))
                });
            }
            BoardMsg::Replace {
                sid,
                strokes,
                reply,
            } => {
                let bytes: usize = strokes.iter().map(size_of).sum();
                if bytes > MAX_STATE_BYTES {
                    let _ = reply.send(Err(BoardError::Full));
                    return Ok(());
                }
                state.strokes = strokes;
                state.bytes = bytes;
                state.dirty = true;
                let saved = self.persist(state).await;
                self.emitter
                    .emit(
                        Emit::to(
                            vec![state.room.clone()],
                            "draw_sync",
                            json!({ "board": state.board, "strokes": state.strokes }),
                        )
                        .except(sid),
                    )
                    .await;
                let _ = reply.send(if saved {
                    Ok(())
                } else {
                    Err(BoardError::Unavailable("the store refused the save".into()))
                });
            }
            BoardMsg::Snapshot(reply) => {
                let _ = reply.send(state.strokes.clone());
            }
            BoardMsg::Flush(reply) => {
                let ok = self.persist(state).await;
                let _ = reply.send(ok);
            }
            BoardMsg::Stats(reply) => {
                let _ = reply.send(BoardStats {
                    board: state.board.clone(),
                    strokes: state.strokes.len(),
                    bytes: state.bytes,
                    sockets: state.sockets.len(),
                    saves: state.saves,
                    dirty: state.dirty,
                });
            }
            BoardMsg::Persist => {
                state.save_scheduled = false;
                if !self.persist(state).await {
                    self.touch(&myself, state);
                }
            }
            BoardMsg::IdleCheck => {
                if state.sockets.is_empty()
                    && state.last_activity.elapsed() >= self.config.idle_after
                {
                    myself.stop(Some("idle".into()));
                }
            }
        }
        Ok(())
    }
}

/// Messages of the boards supervisor.
#[derive(Debug)]
pub enum BoardsMsg {
    /// The actor of a board, started when not running.
    Get(String, RpcReplyPort<Result<ActorRef<BoardMsg>, BoardError>>),
    /// The actor of a board if it runs.
    Running(String, RpcReplyPort<Option<ActorRef<BoardMsg>>>),
    /// Boards running now.
    Count(RpcReplyPort<usize>),
}

/// Starts boards on demand, restarts failed ones, forgets stopped ones.
pub struct WhiteboardsSupervisor {
    store: Arc<dyn BoardStore>,
    emitter: Arc<dyn Emitter>,
    config: BoardsConfig,
}

impl std::fmt::Debug for WhiteboardsSupervisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WhiteboardsSupervisor")
    }
}

/// The supervisor's books.
#[derive(Default)]
pub struct BoardsState {
    by_board: HashMap<String, ActorRef<BoardMsg>>,
    by_actor: HashMap<ractor::ActorId, String>,
}

impl WhiteboardsSupervisor {
    /// Starts the supervisor under `parent`.
    pub async fn start(
        parent: ractor::ActorCell,
        store: Arc<dyn BoardStore>,
        emitter: Arc<dyn Emitter>,
        config: BoardsConfig,
    ) -> Result<Whiteboards, ractor::SpawnErr> {
        let actor = Self::start_actor(parent, store, emitter, config).await?;
        Ok(Whiteboards::new(Slot::new(actor)))
    }

    /// Starts the supervisor under `parent` and returns the actor itself (a branch of the tree:
    /// the root restarts it and its [`Whiteboards`] follow through the slot).
    pub async fn start_actor(
        parent: ractor::ActorCell,
        store: Arc<dyn BoardStore>,
        emitter: Arc<dyn Emitter>,
        config: BoardsConfig,
    ) -> Result<ActorRef<BoardsMsg>, ractor::SpawnErr> {
        let sup = WhiteboardsSupervisor {
            store,
            emitter,
            config,
        };
        let (actor, _) = Actor::spawn_linked(None, sup, (), parent).await?;
        Ok(actor)
    }

    async fn spawn(
        &self,
        myself: &ActorRef<BoardsMsg>,
        state: &mut BoardsState,
        board: String,
    ) -> Result<ActorRef<BoardMsg>, BoardError> {
        let actor = Whiteboard {
            store: self.store.clone(),
            emitter: self.emitter.clone(),
            config: self.config.clone(),
        };
        match Actor::spawn_linked(None, actor, board.clone(), myself.get_cell()).await {
            Ok((r, _)) => {
                state.by_actor.insert(r.get_id(), board.clone());
                state.by_board.insert(board, r.clone());
                Ok(r)
            }
            Err(e) => {
                tracing::error!(%board, error = %e, "cannot start a whiteboard");
                Err(BoardError::Unavailable(e.to_string()))
            }
        }
    }
}

impl Actor for WhiteboardsSupervisor {
    type Msg = BoardsMsg;
    type State = BoardsState;
    type Arguments = ();

    async fn pre_start(
        &self,
        _: ActorRef<Self::Msg>,
        _: (),
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(BoardsState::default())
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            BoardsMsg::Get(board, reply) => {
                let r = match state.by_board.get(&board) {
                    Some(r) => Ok(r.clone()),
                    None => self.spawn(&myself, state, board).await,
                };
                let _ = reply.send(r);
            }
            BoardsMsg::Running(board, reply) => {
                let _ = reply.send(state.by_board.get(&board).cloned());
            }
            BoardsMsg::Count(reply) => {
                let _ = reply.send(state.by_board.len());
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
                if let Some(board) = state.by_actor.remove(&cell.get_id()) {
                    state.by_board.remove(&board);
                    tracing::error!(%board, error = %err, "whiteboard failed; restarting it");
                    let _ = self.spawn(&myself, state, board).await;
                }
            }
            SupervisionEvent::ActorTerminated(cell, _, _) => {
                if let Some(board) = state.by_actor.remove(&cell.get_id()) {
                    state.by_board.remove(&board);
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// The server's handle on the boards. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Whiteboards {
    sup: Slot<BoardsMsg>,
}

fn unavailable(e: impl std::fmt::Display) -> BoardError {
    BoardError::Unavailable(e.to_string())
}

impl Whiteboards {
    /// The boards behind the supervisor in `sup`.
    pub fn new(sup: Slot<BoardsMsg>) -> Self {
        Self { sup }
    }

    /// The actor of `board`, started when needed.
    pub async fn board(&self, board: &str) -> Result<ActorRef<BoardMsg>, BoardError> {
        crate::call!(self.sup.get(), |r| BoardsMsg::Get(board.to_owned(), r))
            .map_err(unavailable)?
    }

    /// The actor of `board` if it runs.
    pub async fn running(&self, board: &str) -> Option<ActorRef<BoardMsg>> {
        crate::call!(self.sup.get(), |r| BoardsMsg::Running(board.to_owned(), r))
            .ok()
            .flatten()
    }

    /// Boards running now.
    pub async fn count(&self) -> usize {
        crate::call!(self.sup.get(), BoardsMsg::Count).unwrap_or(0)
    }

    /// Calls `board` (started when needed).
    pub async fn ask<T: Send + 'static>(
        &self,
        board: &str,
        msg: impl FnOnce(RpcReplyPort<T>) -> BoardMsg,
    ) -> Result<T, BoardError> {
        let actor = self.board(board).await?;
        crate::call!(actor, msg).map_err(unavailable)
    }

    /// Tells `board` something, if it runs.
    pub async fn tell_running(&self, board: &str, msg: BoardMsg) {
        if let Some(actor) = self.running(board).await {
            let _ = actor.cast(msg);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Fake {
        saved: Mutex<Vec<String>>,
        emitted: Mutex<Vec<Emit>>,
    }

    impl BoardStore for Fake {
        fn load<'a>(&'a self, _: &'a str) -> BoxFut<'a, Result<Vec<Value>, String>> {
            Box::pin(async move {
                let last = self.saved.lock().unwrap().last().cloned();
                Ok(last
                    .map(|s| serde_json::from_str(&s).unwrap())
                    .unwrap_or_default())
            })
        }
        fn save<'a>(&'a self, _: &'a str, s: String) -> BoxFut<'a, Result<(), String>> {
            self.saved.lock().unwrap().push(s);
            Box::pin(async { Ok(()) })
        }
    }

    impl Emitter for Fake {
        fn emit(&self, e: Emit) -> BoxFut<'_, ()> {
            self.emitted.lock().unwrap().push(e);
            Box::pin(async {})
        }
    }

    #[tokio::test]
    async fn a_burst_of_strokes_is_saved_once_and_undo_takes_ones_own() {
        let fake = Arc::new(Fake::default());
        let tree = crate::root::Tree::start().await.unwrap();
        let boards = WhiteboardsSupervisor::start(
            tree.root.get_cell(),
            fake.clone(),
            fake.clone(),
            BoardsConfig {
                save_delay: Duration::from_millis(100),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let joined = boards
            .ask("default", |reply| BoardMsg::Join {
                sid: "s1".into(),
                username: "ann".into(),
                reply,
            })
            .await
            .unwrap();
        assert!(joined.strokes.is_empty());
        for i in 0..50 {
            let by = if i == 10 { "ben" } else { "ann" };
            let stroke = json!({ "id": format!("k{i}"), "by": by, "points": [] });
            boards
                .ask("default", |reply| BoardMsg::Stroke {
                    sid: "s1".into(),
                    bytes: size_of(&stroke),
                    stroke,
                    reply,
                })
                .await
                .unwrap()
                .unwrap();
        }
        let undone = boards
            .ask("default", |reply| BoardMsg::Undo {
                username: "ben".into(),
                reply,
            })
            .await
            .unwrap();
        assert_eq!(undone.as_deref(), Some("k10"));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while fake.saved.lock().unwrap().is_empty() {
            assert!(tokio::time::Instant::now() < deadline);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let stats = boards.ask("default", BoardMsg::Stats).await.unwrap();
        assert_eq!(stats.strokes, 49);
        assert_eq!(stats.saves, 1, "one write for the whole burst");
        let relayed = fake
            .emitted
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.event == "draw_stroke")
            .count();
        assert_eq!(relayed, 50);
        tree.shutdown().await;
    }
}
