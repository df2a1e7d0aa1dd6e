//! Whiteboard REST routes: `GET /api/whiteboard` (the saved state), and the admins' `POST`
//! (replace, up to 10 MiB like `draw_save`) and `DELETE` (clear, broadcast like `draw_clear`).
//! `?board=` picks a team board (`pool:<id>`); the shared board is the default.

use axum::extract::{DefaultBodyLimit, State};
use axum::response::IntoResponse;
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::audit::AuditAction;
use crate::auth::session::CurrentSession;
use crate::auth::Caller;
use crate::error::AppResult;
use crate::http::input::{Body, Params};
use crate::http::security::CspNonce;
use crate::services::chat::Chat;
use crate::services::whiteboard::Boards;
use crate::services::whiteboard::{self as wb, BoardId, SaveInput};
use crate::state::AppState;

/// Whiteboard routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/whiteboard", get(page)).route(
        "/api/whiteboard",
        get(read)
            .post(save)
            .delete(clear)
            .layer(DefaultBodyLimit::max(
                uma_actors::whiteboard::MAX_STATE_BYTES + 64 * 1024,
            )),
    )
}

/// `?board=`.
#[derive(Debug, Deserialize)]
pub struct BoardQuery {
    #[serde(default)]
    board: Option<String>,
}

async fn read(
    State(chat): State<Chat>,
    State(boards): State<Boards>,
    caller: Caller,
    Params(q): Params<BoardQuery>,
) -> AppResult<Json<Value>> {
    crate::services::chat::api::limit(
        &chat,
        &caller,
        "api:whiteboard",
        AuditAction::WhiteboardView,
    )
    .await?;
    let board = BoardId::parse(q.board.as_deref())?;
    Ok(Json(wb::strokes(&boards, &caller, &board).await?))
}

async fn save(
    State(boards): State<Boards>,
    caller: Caller,
    Params(q): Params<BoardQuery>,
    Body(input): Body<SaveInput>,
) -> AppResult<Json<Value>> {
    let board = BoardId::parse(q.board.as_deref())?;
    let n = wb::save(&boards, &caller, None, &board, input).await?;
    Ok(Json(json!({
        "success": true,
        "strokes": n,
        "updatedAt": crate::services::chat::backend::iso(crate::store::now_ms()),
    })))
}

async fn clear(
    State(boards): State<Boards>,
    caller: Caller,
    Params(q): Params<BoardQuery>,
) -> AppResult<Json<Value>> {
    let board = BoardId::parse(q.board.as_deref())?;
    wb::clear(&boards, &caller, None, &board).await?;
    Ok(Json(json!({ "success": true })))
}

/// The whiteboard page (`?board=pool:<id>` for a team board).
async fn page(
    State(state): State<AppState>,
    Extension(nonce): Extension<CspNonce>,
    Extension(session): Extension<CurrentSession>,
    Params(q): Params<BoardQuery>,
) -> Response {
    let caller = Caller::new(&session, None, None);
    let board = match BoardId::parse(q.board.as_deref()) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    if let Err(e) = wb::authorize(&state.whiteboards, &caller, &board).await {
        return crate::http::error_page(
            &state,
            e.code.status(),
            "Whiteboard not found",
            &e.message,
            &nonce.0,
        );
    }
    let title = match board.pool() {
        Some(pool) => format!("Whiteboard · {pool}"),
        None => "Whiteboard".to_owned(),
    };
    crate::http::pages::app_page(
        &state,
        &nonce,
        &session,
        "whiteboard/index.html",
        "whiteboard",
        &title,
        json!({
            "board": board.as_str(),
            "pool": board.pool(),
            "isAdmin": session.is_admin(),
        }),
    )
}
