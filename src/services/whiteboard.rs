//! Whiteboards as a service shared by the Socket.IO events (`realtime/whiteboard.rs`) and the
//! REST routes (`http/whiteboard.rs`): board ids and who may use them (the shared board `default`
//! for everyone, `pool:<id>` for those who see that pool), stroke checks, the board actors, and the
//! audit rows.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{json, Map, Value};
use uma_actors::emit::BoxFut;
use uma_actors::whiteboard::{BoardError, BoardMsg, BoardStore, Joined, Whiteboards};

use crate::acl::cache::AclCache;
use crate::audit::AuditAction;
use crate::audit::{Audit, Status};
use crate::auth::Caller;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::store::Store;

/// The shared board of the original.
pub const DEFAULT_BOARD: &str = "default";
/// Largest stroke, bytes of JSON (the original's `draw_stroke` cap).
pub const MAX_STROKE_BYTES: usize = 16_384;
/// Most points in one stroke.
pub const MAX_POINTS: usize = 4000;

/// `BoardStore` over the database.
#[derive(Debug, Clone)]
pub struct StoreBoards(pub Store);

impl BoardStore for StoreBoards {
    fn load<'a>(&'a self, board: &'a str) -> BoxFut<'a, Result<Vec<Value>, String>> {
        Box::pin(async move {
            let row = self.0.whiteboard(board).await.map_err(|e| e.to_string())?;
            Ok(row
                .and_then(|r| serde_json::from_str::<Vec<Value>>(&r.elements).ok())
                .unwrap_or_default())
        })
    }

    fn save<'a>(&'a self, board: &'a str, strokes_json: String) -> BoxFut<'a, Result<(), String>> {
        Box::pin(async move {
            self.0
                .save_whiteboard(board, &strokes_json)
                .await
                .map_err(|e| e.to_string())
        })
    }
}

/// The whiteboard service: the board actors and what their checks and audit rows use.
#[derive(Debug, Clone)]
pub struct Boards {
    /// The whiteboards supervisor.
    pub actors: Whiteboards,
    /// The database (saved boards).
    pub store: Store,
    /// The audit log.
    pub audit: Audit,
    /// The shared ACL view (who may use a team board).
    pub acl: Arc<AclCache>,
}

/// A checked board id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoardId(String);

impl BoardId {
    /// `default`, or `pool:<pool id>`.
    pub fn parse(raw: Option<&str>) -> AppResult<Self> {
        let raw = raw.unwrap_or(DEFAULT_BOARD);
        if raw == DEFAULT_BOARD {
            return Ok(Self(raw.to_owned()));
        }
        match raw.strip_prefix("pool:") {
            Some(pool)
                if !pool.is_empty()
                    && pool.len() <= 64
                    && pool
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) =>
            {
                Ok(Self(raw.to_owned()))
            }
            _ => Err(AppError::field("board", "default or pool:<pool id>")),
        }
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The pool of a team board.
    pub fn pool(&self) -> Option<&str> {
        self.0.strip_prefix("pool:")
    }

    /// Audit resource (`whiteboard:default`, `whiteboard:pool:<id>`).
    pub fn resource(&self) -> String {
        format!("whiteboard:{}", self.0)
    }
}

/// Checks that the caller may use the board: everyone the shared one, those who see the pool a
/// team board. Refusals of pool boards are "not found" (the pool's existence is not revealed).
pub async fn authorize(boards: &Boards, caller: &Caller, board: &BoardId) -> AppResult<()> {
    let Some(pool) = board.pool() else {
        return Ok(());
    };
    let view = boards.acl.view().await?;
    if view.engine.pool_access(&caller.principal, pool).see {
        Ok(())
    } else {
        Err(AppError::with_message(
            ErrorCode::NotFound,
            format!("No whiteboard for pool {pool}"),
        ))
    }
}

fn board_error(e: BoardError) -> AppError {
    match e {
        BoardError::Full => AppError::with_message(ErrorCode::PayloadTooLarge, e.to_string()),
        BoardError::Unavailable(detail) => AppError {
            source: Some(anyhow::anyhow!(detail)),
            ..AppError::with_message(ErrorCode::Unavailable, "The whiteboard is busy; try again")
        },
    }
}

fn number(v: &Value, field: &str, min: f64, max: f64) -> AppResult<f64> {
    match v.as_f64() {
        Some(n) if n.is_finite() && (min..=max).contains(&n) => Ok(n),
        _ => Err(AppError::field(
            field,
            format!("a number from {min} to {max}"),
        )),
    }
}

fn color(v: &Value) -> AppResult<String> {
    let s = v.as_str().unwrap_or_default();
    let hex = s.strip_prefix('#').unwrap_or("");
    if matches!(hex.len(), 3 | 6 | 8) && hex.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(s.to_ascii_lowercase())
    } else {
        Err(AppError::field("color", "#rgb, #rrggbb or #rrggbbaa"))
    }
}

fn stroke_id(v: Option<&Value>) -> AppResult<String> {
    match v.and_then(Value::as_str) {
        None => Ok(crate::store::new_id()),
        Some(s)
            if !s.is_empty()
                && s.len() <= 64
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') =>
        {
            Ok(s.to_owned())
        }
        Some(_) => Err(AppError::field("id", "1 to 64 letters, digits, '-' or '_'")),
    }
}

/// Checks a stroke and returns it normalized — `{id, by, points:[{x,y,p?}], color, width,
/// tool}` — with its size in bytes.
pub fn check_stroke(raw: &Value, by: &str) -> AppResult<(Value, usize)> {
    let obj = raw
        .as_object()
        .ok_or_else(|| AppError::field("stroke", "an object"))?;
    let points = obj
        .get("points")
        .and_then(Value::as_array)
        .ok_or_else(|| AppError::field("points", "an array of {x, y}"))?;
    if points.is_empty() || points.len() > MAX_POINTS {
        return Err(AppError::field(
            "points",
            format!("1 to {MAX_POINTS} points"),
        ));
    }
    let mut clean = Vec::with_capacity(points.len());
    for p in points {
        let (x, y, pressure) = match p {
            Value::Object(o) => (
                o.get("x").cloned().unwrap_or_default(),
                o.get("y").cloned().unwrap_or_default(),
                o.get("p").cloned(),
            ),
            Value::Array(a) if a.len() >= 2 => (a[0].clone(), a[1].clone(), a.get(2).cloned()),
            _ => return Err(AppError::field("points", "each point is {x, y}")),
        };
        let mut point = Map::new();
        point.insert("x".into(), json!(number(&x, "x", -1e6, 1e6)?));
        point.insert("y".into(), json!(number(&y, "y", -1e6, 1e6)?));
        if let Some(p) = pressure.filter(|p| !p.is_null()) {
            point.insert("p".into(), json!(number(&p, "p", 0.0, 1.0)?));
        }
        clean.push(Value::Object(point));
    }
    let tool = match obj.get("tool").and_then(Value::as_str).unwrap_or("pen") {
        t @ ("pen" | "eraser") => t,
        _ => return Err(AppError::field("tool", "pen or eraser")),
    };
    let stroke = json!({
        "id": stroke_id(obj.get("id"))?,
        "by": by,
        "points": clean,
        "color": color(obj.get("color").unwrap_or(&Value::Null))?,
        "width": number(obj.get("width").unwrap_or(&Value::Null), "width", 0.5, 200.0)?,
        "tool": tool,
    });
    let size = serde_json::to_vec(&stroke).map(|b| b.len()).unwrap_or(0);
    if size > MAX_STROKE_BYTES {
        return Err(AppError::with_message(
            ErrorCode::PayloadTooLarge,
            "draw_stroke payload too large.",
        ));
    }
    Ok((stroke, size))
}

/// Joins a socket to a board: its room, then the board's participants; returns the history.
pub async fn join(
    boards: &Boards,
    caller: &Caller,
    sid: &str,
    board: &BoardId,
) -> AppResult<Joined> {
    authorize(boards, caller, board).await?;
    let joined = boards
        .actors
        .ask(board.as_str(), |reply| BoardMsg::Join {
            sid: sid.to_owned(),
            username: caller.username().to_owned(),
            reply,
        })
        .await
        .map_err(board_error)?;
    boards.audit.record(
        &caller.actor,
        AuditAction::WhiteboardJoin,
        &board.resource(),
        Status::Success,
        json!({ "strokes": joined.strokes.len() }),
    );
    Ok(joined)
}

/// A stroke from `sid`; relayed to the others on the board. Returns its id.
pub async fn stroke(
    boards: &Boards,
    caller: &Caller,
    sid: &str,
    board: &BoardId,
    raw: &Value,
) -> AppResult<String> {
    let (stroke, bytes) = check_stroke(raw, caller.username())?;
    if board.pool().is_some() {
        authorize(boards, caller, board).await?;
    }
    boards
        .actors
        .ask(board.as_str(), |reply| BoardMsg::Stroke {
            sid: sid.to_owned(),
            stroke,
            bytes,
            reply,
        })
        .await
        .map_err(board_error)?
        .map_err(board_error)
}

/// Undoes the caller's last stroke on the board.
pub async fn undo(boards: &Boards, caller: &Caller, board: &BoardId) -> AppResult<Option<String>> {
    authorize(boards, caller, board).await?;
    boards
        .actors
        .ask(board.as_str(), |reply| BoardMsg::Undo {
            username: caller.username().to_owned(),
            reply,
        })
        .await
        .map_err(board_error)
}

fn admin_only(caller: &Caller, what: &str) -> AppResult<()> {
    if caller.is_admin() {
        Ok(())
    } else {
        Err(AppError::with_message(
            ErrorCode::Forbidden,
            format!("Only admins can {what} whiteboard boards."),
        ))
    }
}

/// Empties the board (admins); the others get `draw_clear`.
pub async fn clear(
    boards: &Boards,
    caller: &Caller,
    sid: Option<&str>,
    board: &BoardId,
) -> AppResult<()> {
    let result = async {
        admin_only(caller, "clear")?;
        boards
            .actors
            .ask(board.as_str(), |reply| BoardMsg::Clear {
                sid: sid.map(str::to_owned),
                reply,
            })
            .await
            .map_err(board_error)?
            .map_err(board_error)
    }
    .await;
    audit_admin(
        boards,
        caller,
        AuditAction::WhiteboardClear,
        board,
        &result,
        json!({}),
    );
    result
}

/// `draw_save` / `POST /api/whiteboard` input.
#[derive(Debug, Deserialize)]
pub struct SaveInput {
    /// The strokes (absent: none).
    #[serde(default)]
    pub strokes: Option<Value>,
}

/// Replaces the board's strokes (admins); the others get `draw_sync`. Returns the stroke count.
pub async fn save(
    boards: &Boards,
    caller: &Caller,
    sid: Option<&str>,
    board: &BoardId,
    input: SaveInput,
) -> AppResult<usize> {
    let result = async {
        admin_only(caller, "save")?;
        let raw = match input.strokes {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a,
            Some(_) => {
                return Err(AppError::with_message(
                    ErrorCode::InvalidInput,
                    "Invalid whiteboard payload.",
                ))
            }
        };
        let mut strokes = Vec::with_capacity(raw.len());
        for s in &raw {
            let by = s
                .get("by")
                .and_then(Value::as_str)
                .filter(|b| !b.is_empty() && b.len() <= 191)
                .unwrap_or(caller.username());
            strokes.push(check_stroke(s, by)?.0);
        }
        let n = strokes.len();
        boards
            .actors
            .ask(board.as_str(), |reply| BoardMsg::Replace {
                sid: sid.map(str::to_owned),
                strokes,
                reply,
            })
            .await
            .map_err(board_error)?
            .map_err(|e| match e {
                BoardError::Full => AppError::with_message(
                    ErrorCode::PayloadTooLarge,
                    "Whiteboard payload too large.",
                ),
                other => board_error(other),
            })?;
        Ok(n)
    }
    .await;
    let details = json!({ "strokes": result.as_ref().ok() });
    audit_admin(
        boards,
        caller,
        AuditAction::WhiteboardSave,
        board,
        &result,
        details,
    );
    result
}

fn audit_admin<T>(
    boards: &Boards,
    caller: &Caller,
    action: AuditAction,
    board: &BoardId,
    result: &AppResult<T>,
    details: Value,
) {
    match result {
        Ok(_) => boards.audit.record(
            &caller.actor,
            action,
            &board.resource(),
            Status::Success,
            details,
        ),
        Err(e) => boards
            .audit
            .refused(&caller.actor, action, &board.resource(), e),
    }
}

/// The board's strokes: the running board's, else the saved ones.
pub async fn strokes(boards: &Boards, caller: &Caller, board: &BoardId) -> AppResult<Value> {
    authorize(boards, caller, board).await?;
    let strokes = match boards.actors.running(board.as_str()).await {
        Some(actor) => uma_actors::call!(actor, BoardMsg::Snapshot).ok(),
        None => None,
    };
    let (strokes, updated_at) = match strokes {
        Some(s) => (s, None),
        None => {
            let row = boards.store.whiteboard(board.as_str()).await?;
            let updated = row.as_ref().map(|r| r.updated_at);
            (
                row.and_then(|r| serde_json::from_str::<Vec<Value>>(&r.elements).ok())
                    .unwrap_or_default(),
                updated,
            )
        }
    };
    boards.audit.record(
        &caller.actor,
        AuditAction::WhiteboardView,
        &board.resource(),
        Status::Success,
        json!({ "strokeCount": strokes.len() }),
    );
    Ok(json!({
        "board": board.as_str(),
        "strokes": strokes,
        "updatedAt": updated_at.map(crate::services::chat::backend::iso),
    }))
}
