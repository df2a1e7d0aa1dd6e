//! Notification banners: `GET /api/notifications` (what the caller sees), the administrators'
//! `POST`, `PATCH /{id}` and `DELETE /{id}` as the original, `GET /api/admin/notifications`
//! (every banner, inactive ones too), and `POST /api/notifications/{id}/dismiss`. The admin page
//! is `/admin/notifications` (`pages.rs`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::Caller;
use crate::error::AppResult;
use crate::http::input::{Body, Params};
use crate::services::notifications::Notices;
use crate::state::AppState;

/// Notification routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/notifications", get(list).post(create))
        .route(
            "/api/notifications/{id}",
            axum::routing::patch(update).delete(delete),
        )
        .route("/api/notifications/{id}/dismiss", post(dismiss))
        .route("/api/admin/notifications", get(list_all))
}

/// `?limit=`.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    limit: Option<String>,
}

async fn list(
    State(notices): State<Notices>,
    caller: Caller,
    Params(q): Params<ListQuery>,
) -> AppResult<Json<Value>> {
    Ok(Json(notices.list_for(&caller, q.limit.as_deref()).await?))
}

async fn list_all(State(notices): State<Notices>, caller: Caller) -> AppResult<Json<Value>> {
    Ok(Json(notices.list_all(&caller).await?))
}

async fn create(
    State(notices): State<Notices>,
    caller: Caller,
    Body(body): Body<Value>,
) -> AppResult<(StatusCode, Json<Value>)> {
    let n = notices.create(&caller, &body).await?;
    Ok((StatusCode::CREATED, Json(json!({ "notification": n }))))
}

async fn update(
    State(notices): State<Notices>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body<Value>,
) -> AppResult<Json<Value>> {
    let n = notices.update(&caller, &id, &body).await?;
    Ok(Json(json!({ "notification": n })))
}

async fn delete(
    State(notices): State<Notices>,
    caller: Caller,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    notices.delete(&caller, &id).await?;
    Ok(Json(json!({ "success": true })))
}

async fn dismiss(
    State(notices): State<Notices>,
    caller: Caller,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    notices.dismiss(&caller, &id).await?;
    Ok(Json(json!({ "success": true })))
}
