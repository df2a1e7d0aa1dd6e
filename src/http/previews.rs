//! Link previews: `GET /api/metadata?url=` (a page's card) and `GET /api/metadata/image?url=`
//! (a card's picture through Uma, so the browser never loads it from the site).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::Value;

use crate::auth::Caller;
use crate::error::AppResult;
use crate::http::input::Params;
use crate::services::previews::Previews;
use crate::state::AppState;

/// Preview routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/metadata", get(card))
        .route("/api/metadata/image", get(image))
}

/// `?url=`.
#[derive(Debug, Deserialize)]
pub struct UrlQuery {
    #[serde(default)]
    url: Option<String>,
}

async fn card(
    State(previews): State<Previews>,
    caller: Caller,
    Params(q): Params<UrlQuery>,
) -> AppResult<Json<Value>> {
    Ok(Json(previews.card(&caller, q.url.as_deref()).await?))
}

async fn image(
    State(previews): State<Previews>,
    caller: Caller,
    Params(q): Params<UrlQuery>,
) -> AppResult<Response> {
    let (kind, bytes) = previews.image(&caller, q.url.as_deref()).await?;
    let mut resp = bytes.into_response();
    crate::http::security::inert_file(
        resp.headers_mut(),
        kind.content_type(),
        "private, max-age=3600",
    );
    Ok(resp)
}
