//! Knowledge-base routes, as the original: `GET /api/docs` (published, `?q=` to search, `?tag=`,
//! `?limit=`), `GET /api/docs/{id}` (rendered; counts the reader once), and for administrators
//! `GET`/`POST /api/admin/docs`, `GET`/`PUT`/`DELETE /api/admin/docs/{id}` and
//! `POST /api/admin/docs/preview` (Markdown rendered as the article will be). The two reading
//! routes are open to anonymous readers when the docs are public (the guard decides).

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::session::CurrentSession;
use crate::auth::Caller;
use crate::error::AppResult;
use crate::http::input::{Body, Params, Reader};
use crate::services::docs::{Docs, ListQuery};
use crate::state::AppState;

/// Docs routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/docs", get(list))
        .route("/api/docs/{id}", get(read))
        .route("/api/admin/docs", get(admin_list).post(create))
        .route("/api/admin/docs/preview", post(preview))
        .route(
            "/api/admin/docs/{id}",
            get(admin_read).put(update).delete(delete),
        )
}

/// `?q=&tag=&limit=`.
#[derive(Debug, Deserialize)]
pub struct DocsQuery {
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    tag: Option<String>,
    #[serde(default)]
    limit: Option<String>,
}

impl DocsQuery {
    fn as_query(&self) -> ListQuery<'_> {
        ListQuery {
            q: self.q.as_deref(),
            tag: self.tag.as_deref(),
            limit: self.limit.as_deref(),
        }
    }
}

async fn list(
    State(docs): State<Docs>,
    Reader(caller): Reader,
    Params(q): Params<DocsQuery>,
) -> AppResult<Json<Value>> {
    Ok(Json(docs.list(&caller, &q.as_query(), false).await?))
}

async fn read(
    State(docs): State<Docs>,
    Reader(caller): Reader,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    Ok(Json(docs.read(&caller, &id, false).await?))
}

async fn admin_list(
    State(docs): State<Docs>,
    caller: Caller,
    Params(q): Params<DocsQuery>,
) -> AppResult<Json<Value>> {
    Ok(Json(docs.list(&caller, &q.as_query(), true).await?))
}

async fn admin_read(
    State(docs): State<Docs>,
    caller: Caller,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    Ok(Json(docs.read(&caller, &id, true).await?))
}

async fn preview(
    State(docs): State<Docs>,
    caller: Caller,
    Body(body): Body<Value>,
) -> AppResult<Json<Value>> {
    Ok(Json(docs.preview(&caller, &body).await?))
}

async fn create(
    State(docs): State<Docs>,
    Extension(session): Extension<CurrentSession>,
    caller: Caller,
    Body(body): Body<Value>,
) -> AppResult<Json<Value>> {
    // The author is the signed-in person, by the name people know them by.
    let author = session
        .record
        .display_name
        .clone()
        .unwrap_or_else(|| session.record.username.clone());
    Ok(Json(docs.create(&caller, &author, &body).await?))
}

async fn update(
    State(docs): State<Docs>,
    caller: Caller,
    Path(id): Path<String>,
    Body(body): Body<Value>,
) -> AppResult<Json<Value>> {
    Ok(Json(docs.update(&caller, &id, &body).await?))
}

async fn delete(
    State(docs): State<Docs>,
    caller: Caller,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    docs.delete(&caller, &id).await?;
    Ok(Json(json!({ "success": true })))
}
