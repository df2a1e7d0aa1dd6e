//! Administrators' view of the people Uma knows: `GET /api/admin/users` (local and directory,
//! with their last sign-in and live sessions), `POST /api/admin/users` (a local account with a
//! password made by Uma, shown once), and per user `POST …/password` (a new password; sessions
//! end), `POST …/disable`, `POST …/enable` and `POST …/sessions/revoke`.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::Value;

use crate::auth::Caller;
use crate::error::AppResult;
use crate::http::input::Body;
use crate::services::accounts::Accounts;
use crate::state::AppState;

/// User routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/admin/users", get(list).post(create))
        .route("/api/admin/users/{username}/password", post(password))
        .route("/api/admin/users/{username}/disable", post(disable))
        .route("/api/admin/users/{username}/enable", post(enable))
        .route("/api/admin/users/{username}/sessions/revoke", post(revoke))
}

/// `POST /api/admin/users`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAccount {
    username: String,
    #[serde(default)]
    admin: bool,
}

async fn list(State(accounts): State<Accounts>, caller: Caller) -> AppResult<Json<Value>> {
    Ok(Json(accounts.list(&caller).await?))
}

async fn create(
    State(accounts): State<Accounts>,
    caller: Caller,
    Body(input): Body<NewAccount>,
) -> AppResult<Json<Value>> {
    Ok(Json(
        accounts
            .create(&caller, &input.username, input.admin)
            .await?,
    ))
}

async fn password(
    State(accounts): State<Accounts>,
    caller: Caller,
    Path(username): Path<String>,
) -> AppResult<Json<Value>> {
    Ok(Json(accounts.reset_password(&caller, &username).await?))
}

async fn disable(
    State(accounts): State<Accounts>,
    caller: Caller,
    Path(username): Path<String>,
) -> AppResult<Json<Value>> {
    Ok(Json(accounts.set_disabled(&caller, &username, true).await?))
}

async fn enable(
    State(accounts): State<Accounts>,
    caller: Caller,
    Path(username): Path<String>,
) -> AppResult<Json<Value>> {
    Ok(Json(
        accounts.set_disabled(&caller, &username, false).await?,
    ))
}

async fn revoke(
    State(accounts): State<Accounts>,
    caller: Caller,
    Path(username): Path<String>,
) -> AppResult<Json<Value>> {
    Ok(Json(accounts.revoke_sessions(&caller, &username).await?))
}
