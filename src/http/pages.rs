//! Server-rendered pages: the shell and first paint; live parts are TypeScript islands.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Extension, Router};

use crate::error::AppError;
use crate::http::security::CspNonce;
use crate::state::AppState;

/// Page routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/login") }))
        .route("/login", get(login_page))
}

async fn login_page(
    State(state): State<AppState>,
    Extension(nonce): Extension<CspNonce>,
) -> Response {
    let html = state.templates.render(
        "auth/login.html",
        minijinja::context! {
            nonce => nonce.0,
            demo => state.config.is_demo(),
            csrf_token => "",
        },
    );
    match html {
        Ok(html) => ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response(),
        Err(e) => AppError::internal(e).into_response(),
    }
}
