//! The HTTP surface: each family module exposes `router()`; this module merges them and applies
//! the cross-cutting layers once (operation ids, tracing, security headers, body limits).

pub mod access;
pub mod admin;
pub mod assets;
pub mod auth;
pub mod chat;
pub mod client;
pub mod cluster;
pub mod consoles;
pub mod docs;
pub mod factors;
pub mod guard;
pub mod guests;
pub mod hardware;
pub mod health;
pub mod input;
pub mod nodes;
pub mod notifications;
pub mod oidc;
pub mod pages;
pub mod passkeys;
pub mod pools;
pub mod previews;
pub mod replication;
pub mod sdn;
pub mod security;
pub mod settings;
pub mod tokens;
pub mod uploads;
pub mod users;
pub mod whiteboard;

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;

use crate::error::{AppError, ErrorCode};
use crate::opid;
use crate::state::AppState;

/// The operation id of a request, in its extensions.
#[derive(Debug, Clone)]
pub struct OpId(pub String);

/// Builds the whole router (without the Socket.IO layer, which `app` adds).
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(health::router())
        .merge(pages::router())
        .merge(auth::router())
        .merge(factors::router())
        .merge(passkeys::router())
        .merge(tokens::router())
        .merge(oidc::router())
        .merge(cluster::router())
        .merge(nodes::router())
        .merge(notifications::router())
        .merge(docs::router())
        .merge(uploads::router())
        .merge(previews::router())
        .merge(users::router())
        .merge(guests::router())
        .merge(consoles::router())
        .merge(pools::router())
        .merge(sdn::router())
        .merge(replication::router())
        .merge(access::router())
        .merge(hardware::router())
        .merge(settings::router())
        .merge(admin::router())
        .merge(chat::router())
        .merge(whiteboard::router())
        .merge(assets::router())
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), guard::guard))
        .layer(middleware::from_fn_with_state(
            state.config.clone(),
            security::headers,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(1024 * 1024))
        .layer(middleware::from_fn(operation))
        .with_state(state)
}

/// Gives every request an operation id (header `x-op-id`, log span, task-local for errors).
async fn operation(mut req: Request, next: Next) -> Response {
    let id = opid::generate();
    req.extensions_mut().insert(OpId(id.clone()));
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let span = tracing::info_span!("request", op_id = %id, %method, %path);
    let started = std::time::Instant::now();
    let mut resp = opid::scope(
        id.clone(),
        tracing::Instrument::instrument(next.run(req), span.clone()),
    )
    .await;
    let status = resp.status();
    span.in_scope(|| {
        let ms = started.elapsed().as_millis();
        if status.is_server_error() {
            tracing::warn!(status = status.as_u16(), ms, "request done");
        } else {
            tracing::debug!(status = status.as_u16(), ms, "request done");
        }
    });
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-op-id", v);
    }
    resp
}

/// 404: JSON for API paths, the error page otherwise.
async fn not_found(state: axum::extract::State<AppState>, req: Request) -> Response {
    if req.uri().path().starts_with("/api/") {
        return AppError::with_message(ErrorCode::NotFound, "No such API route").into_response();
    }
    let nonce = req
        .extensions()
        .get::<security::CspNonce>()
        .map(|n| n.0.clone())
        .unwrap_or_default();
    error_page(
        &state,
        StatusCode::NOT_FOUND,
        "Page not found",
        "There is nothing at this address.",
        &nonce,
    )
}

/// Renders the error page with the current operation id.
pub fn error_page(
    state: &AppState,
    status: StatusCode,
    title: &str,
    message: &str,
    nonce: &str,
) -> Response {
    let html = state.templates.render(
        "error.html",
        minijinja::context! {
            status => status.as_u16(),
            title => title,
            message => message,
            op_id => opid::current(),
            nonce => nonce,
        },
    );
    pages::html(status, html)
}
