//! API-token routes: one's own (`GET|POST /api/tokens`, `DELETE /api/tokens/{id}`) and, for
//! administrators, everyone's (`GET /api/admin/tokens`, `DELETE /api/admin/tokens/{id}`). See
//! [`crate::auth::tokens`] for what a token may do.

use axum::extract::{Path, State};
use axum::routing::{delete, get};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::audit::{AuditAction, Status};
use crate::auth::caller::actor;
use crate::auth::client::ClientInfo;
use crate::auth::session::CurrentSession;
use crate::auth::tokens::{self, Scope};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::input::{Body, RecentFactor};
use crate::state::AppState;
use crate::store::factors::TokenRow;
use crate::store::now_ms;

/// Token routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/tokens", get(mine).post(create))
        .route("/api/tokens/{id}", delete(revoke_mine))
        .route("/api/admin/tokens", get(everyone))
        .route("/api/admin/tokens/{id}", delete(revoke_any))
}

fn token_json(t: &TokenRow) -> Value {
    json!({
        "id": t.id,
        "name": t.name,
        "scope": t.scope,
        "username": t.username,
        "createdAt": t.created_at,
        "expiresAt": t.expires_at,
        "lastUsedAt": t.last_used_at,
    })
}

async fn mine(
    State(state): State<AppState>,
    Extension(me): Extension<CurrentSession>,
) -> AppResult<Json<Value>> {
    let rows = state
        .store
        .tokens(Some(
            &crate::auth::factors::account_id(&state.store, &me.record).await?,
        ))
        .await?;
    Ok(Json(
        json!({ "tokens": rows.iter().map(token_json).collect::<Vec<_>>() }),
    ))
}

async fn everyone(State(state): State<AppState>) -> AppResult<Json<Value>> {
    let rows = state.store.tokens(None).await?;
    Ok(Json(
        json!({ "tokens": rows.iter().map(token_json).collect::<Vec<_>>() }),
    ))
}

/// `{name, scope, expiresAt?}` of a new token.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct NewToken {
    #[serde(default)]
    name: String,
    scope: Scope,
    #[serde(default)]
    expires_at: Option<i64>,
}

/// `POST /api/tokens`: a new token, shown this once.
async fn create(
    State(state): State<AppState>,
    client: ClientInfo,
    Extension(me): Extension<CurrentSession>,
    _: RecentFactor,
    Body(input): Body<NewToken>,
) -> AppResult<Json<Value>> {
    let uid = crate::auth::factors::account_id(&state.store, &me.record).await?;
    let name = input.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(AppError::field(
            "name",
            "give it a name of 1 to 64 characters",
        ));
    }
    if name
        .chars()
        .any(|c| c.is_control() || crate::services::uploads::is_format_char(c))
    {
        return Err(AppError::field(
            "name",
            "no control or invisible characters",
        ));
    }
    let now = now_ms();
    if let Some(at) = input.expires_at {
        if at <= now {
            return Err(AppError::field("expiresAt", "must be in the future"));
        }
        if at - now > tokens::MAX_LIFETIME_MS {
            return Err(AppError::field(
                "expiresAt",
                "at most a year from now (or none, for a token that doesn't expire)",
            ));
        }
    }
    let existing = state.store.tokens(Some(&uid)).await?;
    if existing.iter().any(|t| t.name.eq_ignore_ascii_case(&name)) {
        return Err(AppError::field(
            "name",
            "you have a token of that name already",
        ));
    }
    if existing.len() >= tokens::MAX_PER_USER {
        return Err(AppError::with_message(
            ErrorCode::Conflict,
            format!(
                "You have {} tokens, the most one may have. Revoke one you no longer use.",
                tokens::MAX_PER_USER
            ),
        ));
    }
    let (secret, hash) = tokens::new_secret();
    let row = TokenRow {
        id: tokens::new_id(),
        user_id: uid,
        username: me.username().to_owned(),
        name,
        scope: input.scope.as_str().to_owned(),
        groups_json: serde_json::to_string(&me.groups).unwrap_or_else(|_| "[]".into()),
        created_at: now,
        expires_at: input.expires_at,
        last_used_at: None,
    };
    state.store.create_token(&row, &hash).await?;
    state.audit.record(
        &actor(&me, &client),
        AuditAction::TokenCreate,
        &format!("user:token:{}", row.id),
        Status::Success,
        json!({ "name": row.name, "scope": row.scope, "expiresAt": row.expires_at }),
    );
    let mut out = token_json(&row);
    out["token"] = Value::String(secret);
    Ok(Json(out))
}

/// Revokes a token: its row goes, and its live connections end (on every instance).
async fn revoke(
    state: &AppState,
    me: &CurrentSession,
    client: &ClientInfo,
    row: &TokenRow,
) -> AppResult<()> {
    if !state.store.delete_token(&row.id).await? {
        return Err(AppError::with_message(ErrorCode::NotFound, "No such token"));
    }
    tokens::end_sessions(
        &state.records,
        &state.sessions,
        std::slice::from_ref(&row.id),
    )
    .await;
    state.audit.record(
        &actor(me, client),
        AuditAction::TokenRevoke,
        &format!("user:token:{}", row.id),
        Status::Success,
        json!({ "name": row.name, "owner": row.username, "own": row.username == me.username() }),
    );
    Ok(())
}

async fn revoke_mine(
    State(state): State<AppState>,
    client: ClientInfo,
    Extension(me): Extension<CurrentSession>,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    let uid = crate::auth::factors::account_id(&state.store, &me.record).await?;
    let row = state
        .store
        .token(&id)
        .await?
        .filter(|t| t.user_id == uid)
        .ok_or_else(|| AppError::with_message(ErrorCode::NotFound, "No such token"))?;
    revoke(&state, &me, &client, &row).await?;
    Ok(Json(json!({ "success": true })))
}

async fn revoke_any(
    State(state): State<AppState>,
    client: ClientInfo,
    Extension(me): Extension<CurrentSession>,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    let row = state
        .store
        .token(&id)
        .await?
        .ok_or_else(|| AppError::with_message(ErrorCode::NotFound, "No such token"))?;
    revoke(&state, &me, &client, &row).await?;
    Ok(Json(json!({ "success": true })))
}
