//! The whiteboard over Socket.IO: the original's `draw_stroke`, `draw_save`, `draw_clear` (now
//! acknowledged, persisted and limited), and Uma's `whiteboard_join`, `whiteboard_leave`,
//! `draw_undo` and `draw_cursor`. Every event names its board (`default` when absent).

use super::Socket;
use serde::Deserialize;
use serde_json::{json, Value};
use uma_actors::whiteboard::BoardMsg;

use crate::push::room;

use super::chat::{on, on_gated, parse, Gate, JoinedBoards};
use crate::audit::AuditAction;
use crate::auth::Caller;
use crate::error::AppResult;
use crate::services::whiteboard::{self as wb, BoardId, SaveInput};
use crate::state::AppState;

/// Client events this module handles (each listed in `docs/realtime.md`).
pub const EVENTS: &[&str] = &[
    "whiteboard_join",
    "whiteboard_leave",
    "draw_stroke",
    "draw_undo",
    "draw_cursor",
    "draw_save",
    "draw_clear",
];

#[derive(Debug, Default, Deserialize)]
struct BoardOnly {
    #[serde(default)]
    board: Option<String>,
}

fn board_of(d: &Value) -> AppResult<BoardId> {
    BoardId::parse(d.get("board").and_then(Value::as_str))
}

fn remember(s: &Socket, board: &BoardId, joined: bool) {
    if let Some(JoinedBoards(set)) = s.extensions.get::<JoinedBoards>() {
        let mut set = set.lock();
        if joined {
            set.insert(board.as_str().to_owned());
        } else {
            set.remove(board.as_str());
        }
    }
}

async fn join(state: AppState, caller: Caller, s: Socket, d: Value) -> AppResult<Value> {
    let board = BoardId::parse(parse::<BoardOnly>(d)?.board.as_deref())?;
    wb::authorize(&state.whiteboards, &caller, &board).await?;
    s.join(room::board(board.as_str()));
    let joined = wb::join(&state.whiteboards, &caller, &s.id.to_string(), &board).await?;
    remember(&s, &board, true);
    if let Some(pool) = board.pool() {
        state
            .streams
            .guard_board(&s.id.to_string(), pool, caller.principal.clone());
    }
    Ok(json!({
        "board": joined.board,
        "strokes": joined.strokes,
        "participants": joined.participants,
        "isAdmin": caller.is_admin(),
    }))
}

async fn leave(state: AppState, _caller: Caller, s: Socket, d: Value) -> AppResult<Value> {
    let board = BoardId::parse(parse::<BoardOnly>(d)?.board.as_deref())?;
    if board.pool().is_some() {
        s.leave(room::board(board.as_str()));
    }
    remember(&s, &board, false);
    if let Some(pool) = board.pool() {
        state.streams.unguard_board(&s.id.to_string(), Some(pool));
    }
    state
        .whiteboards
        .actors
        .tell_running(
            board.as_str(),
            BoardMsg::Leave {
                sid: s.id.to_string(),
            },
        )
        .await;
    Ok(json!({ "board": board.as_str() }))
}

/// Takes socket `sid` off the team board of `pool` (it may no longer see the pool) and tells it
/// with `whiteboard_revoked {board, reason}`.
pub async fn revoke_board(state: &AppState, sid: &str, pool: &str, reason: &str) {
    let board = format!("pool:{pool}");
    state.streams.unguard_board(sid, Some(pool));
    if let Some(s) = state
        .io
        .io()
        .and_then(|io| io.get_socket(sid.parse().ok()?))
    {
        if let Some(JoinedBoards(set)) = s.extensions.get::<JoinedBoards>() {
            set.lock().remove(&board);
        }
    }
    state.io.tell_and_leave(
        sid,
        vec![room::board(&board)],
        "whiteboard_revoked",
        json!({ "board": board, "reason": reason }),
    );
    state
        .whiteboards
        .actors
        .tell_running(
            &board,
            BoardMsg::Leave {
                sid: sid.to_owned(),
            },
        )
        .await;
}

async fn stroke(state: AppState, caller: Caller, s: Socket, d: Value) -> AppResult<Value> {
    let board = board_of(&d)?;
    let id = wb::stroke(&state.whiteboards, &caller, &s.id.to_string(), &board, &d).await?;
    Ok(json!({ "id": id }))
}

async fn undo(state: AppState, caller: Caller, _s: Socket, d: Value) -> AppResult<Value> {
    let board = board_of(&d)?;
    let id = wb::undo(&state.whiteboards, &caller, &board).await?;
    Ok(json!({ "strokeId": id }))
}

#[derive(Debug, Deserialize)]
struct CursorIn {
    #[serde(default)]
    board: Option<String>,
    x: f64,
    y: f64,
}

async fn cursor(state: AppState, caller: Caller, s: Socket, d: Value) -> AppResult<Value> {
    let c: CursorIn = parse(d)?;
    let board = BoardId::parse(c.board.as_deref())?;
    if !(c.x.is_finite() && c.y.is_finite()) {
        return Err(crate::error::AppError::field("x", "finite numbers"));
    }
    let joined = s
        .extensions
        .get::<JoinedBoards>()
        .is_some_and(|JoinedBoards(set)| set.lock().contains(board.as_str()));
    if joined {
        state
            .whiteboards
            .actors
            .tell_running(
                board.as_str(),
                BoardMsg::Cursor {
                    sid: s.id.to_string(),
                    payload: json!({
                        "board": board.as_str(),
                        "username": caller.username(),
                        "sid": s.id.to_string(),
                        "x": c.x,
                        "y": c.y,
                    }),
                },
            )
            .await;
    }
    Ok(json!({}))
}

async fn save(state: AppState, caller: Caller, s: Socket, d: Value) -> AppResult<Value> {
    let board = board_of(&d)?;
    let input: SaveInput = parse(d)?;
    let sid = s.id.to_string();
    let n = wb::save(&state.whiteboards, &caller, Some(&sid), &board, input).await?;
    Ok(json!({ "board": board.as_str(), "strokes": n }))
}

async fn clear(state: AppState, caller: Caller, s: Socket, d: Value) -> AppResult<Value> {
    let board = board_of(&d)?;
    let sid = s.id.to_string();
    wb::clear(&state.whiteboards, &caller, Some(&sid), &board).await?;
    Ok(json!({ "board": board.as_str() }))
}

/// Registers the whiteboard events on a new socket (synchronously, before any wait).
pub fn register(socket: &Socket) {
    on(socket, "whiteboard_join", join);
    on(socket, "whiteboard_leave", leave);
    on(socket, "draw_stroke", stroke);
    on(socket, "draw_undo", undo);
    on(socket, "draw_cursor", cursor);
    // Admins only, refused before the payload (up to 10 MiB) is read.
    on_gated(
        socket,
        "draw_save",
        Gate::Admin("save", AuditAction::WhiteboardSave),
        save,
    );
    on_gated(
        socket,
        "draw_clear",
        Gate::Admin("clear", AuditAction::WhiteboardClear),
        clear,
    );
}
