//! Chat REST routes (the original's history, recent, public-channel, groups and user search,
//! plus settings and blocks): thin wrappers over [`crate::services::chat::api`].

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde_json::Value;

use crate::auth::Caller;
use crate::error::AppResult;
use crate::http::input::{Body, Params};
use crate::services::chat::api::{
    self, BlockInput, CreateGroup, HistoryQuery, ListQuery, Page, SearchQuery, UpdateGroup,
};
use crate::services::chat::settings::SettingsPatch;
use crate::services::chat::Chat;
use crate::state::AppState;

/// Chat routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/chat/history", get(direct_history))
        .route("/api/chat/history/group", get(group_history))
        .route(
            "/api/chat/public-channel",
            get(public_channel).post(join_public_channel),
        )
        .route("/api/chat/recent", get(recent))
        .route("/api/chat/settings", get(get_settings).put(put_settings))
        .route("/api/chat/blocks", get(get_blocks).post(block))
        .route("/api/chat/blocks/{username}", delete(unblock))
        .route("/api/groups", get(list_groups).post(create_group))
        .route(
            "/api/groups/{id}",
            get(get_group).patch(update_group).delete(delete_group),
        )
        .route("/api/groups/{id}/members/{user_id}", delete(remove_member))
        .route("/api/users", get(search_users))
        .route("/api/users/search", get(search_users))
}

/// The page as a JSON array, the cursor of the page before it in `X-Next-Before`.
fn paged(page: Page) -> (HeaderMap, Json<Value>) {
    let mut headers = HeaderMap::new();
    if let Some(before) = page.next_before {
        if let Ok(v) = before.to_string().parse() {
            headers.insert("x-next-before", v);
        }
    }
    (headers, Json(Value::Array(page.messages)))
}

async fn direct_history(
    State(chat): State<Chat>,
    caller: Caller,
    Params(q): Params<HistoryQuery>,
) -> AppResult<(HeaderMap, Json<Value>)> {
    Ok(paged(api::direct_history(&chat, &caller, q).await?))
}

async fn group_history(
    State(chat): State<Chat>,
    caller: Caller,
    Params(q): Params<HistoryQuery>,
) -> AppResult<(HeaderMap, Json<Value>)> {
    Ok(paged(api::group_history(&chat, &caller, q).await?))
}

async fn public_channel(State(chat): State<Chat>, caller: Caller) -> AppResult<Json<Value>> {
    Ok(Json(api::public_channel_id(&chat, &caller).await?))
}

async fn join_public_channel(State(chat): State<Chat>, caller: Caller) -> AppResult<Json<Value>> {
    Ok(Json(api::join_public_channel(&chat, &caller).await?))
}

async fn recent(State(chat): State<Chat>, caller: Caller) -> AppResult<Json<Value>> {
    Ok(Json(api::recent(&chat, &caller).await?))
}

async fn get_settings(State(chat): State<Chat>, caller: Caller) -> AppResult<Json<Value>> {
    Ok(Json(api::get_settings(&chat, &caller).await?))
}

async fn put_settings(
    State(chat): State<Chat>,
    caller: Caller,
    Body(patch): Body<SettingsPatch>,
) -> AppResult<Json<Value>> {
    Ok(Json(api::put_settings(&chat, &caller, patch).await?))
}

async fn get_blocks(State(chat): State<Chat>, caller: Caller) -> AppResult<Json<Value>> {
    let all = api::get_settings(&chat, &caller).await?;
    Ok(Json(all["blocked"].clone()))
}

async fn block(
    State(chat): State<Chat>,
    caller: Caller,
    Body(input): Body<BlockInput>,
) -> AppResult<Json<Value>> {
    Ok(Json(
        api::set_block(&chat, &caller, &input.username, true).await?,
    ))
}

async fn unblock(
    State(chat): State<Chat>,
    caller: Caller,
    Path(username): Path<String>,
) -> AppResult<Json<Value>> {
    Ok(Json(
        api::set_block(&chat, &caller, &username, false).await?,
    ))
}

async fn list_groups(
    State(chat): State<Chat>,
    caller: Caller,
    Params(q): Params<ListQuery>,
) -> AppResult<Json<Value>> {
    Ok(Json(api::list_groups(&chat, &caller, q).await?))
}

async fn create_group(
    State(chat): State<Chat>,
    caller: Caller,
    Body(input): Body<CreateGroup>,
) -> AppResult<Json<Value>> {
    Ok(Json(api::create_group(&chat, &caller, input).await?))
}

async fn get_group(
    State(chat): State<Chat>,
    caller: Caller,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    Ok(Json(api::get_group(&chat, &caller, &id).await?))
}

async fn update_group(
    State(chat): State<Chat>,
    caller: Caller,
    Path(id): Path<String>,
    Body(input): Body<UpdateGroup>,
) -> AppResult<Json<Value>> {
    Ok(Json(api::update_group(&chat, &caller, &id, input).await?))
}

async fn delete_group(
    State(chat): State<Chat>,
    caller: Caller,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    Ok(Json(api::delete_group(&chat, &caller, &id).await?))
}

async fn remove_member(
    State(chat): State<Chat>,
    caller: Caller,
    Path((id, user_id)): Path<(String, String)>,
) -> AppResult<Json<Value>> {
    Ok(Json(
        api::remove_member(&chat, &caller, &id, &user_id).await?,
    ))
}

async fn search_users(
    State(chat): State<Chat>,
    caller: Caller,
    Params(q): Params<SearchQuery>,
) -> AppResult<Json<Value>> {
    Ok(Json(api::search_users(&chat, &caller, q).await?))
}
