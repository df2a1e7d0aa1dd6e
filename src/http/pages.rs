//! Server-rendered pages: the shell and first paint; live parts are TypeScript islands.

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Extension, Router};
use serde::Deserialize;

use crate::auth::session::CurrentSession;
use crate::error::AppError;
use crate::http::auth::login_csrf;
use crate::http::security::CspNonce;
use crate::state::AppState;

/// Page routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login_page))
        .route("/dashboard", get(dashboard))
}

/// A rendered page with its status, or the internal-error answer when rendering failed.
pub fn html(status: StatusCode, body: Result<String, minijinja::Error>) -> Response {
    match body {
        Ok(html) => (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            html,
        )
            .into_response(),
        Err(e) => AppError::internal(e).into_response(),
    }
}

async fn home(session: Option<Extension<CurrentSession>>) -> Redirect {
    if session.is_some() {
        Redirect::to("/dashboard")
    } else {
        Redirect::to("/login")
    }
}

/// `?next=` of the login page: where to go after signing in.
#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

/// Renders the login page (issuing the login CSRF cookie when needed).
pub fn login_response(
    state: &AppState,
    headers: &HeaderMap,
    nonce: &str,
    status: StatusCode,
    error: Option<&str>,
    username: &str,
    next: Option<&str>,
) -> Response {
    let (token, cookie) = login_csrf(state, headers);
    let next = next.filter(|n| n.starts_with('/') && !n.starts_with("//"));
    let body = state.templates.render(
        "auth/login.html",
        minijinja::context! {
            nonce => nonce,
            demo => state.config.is_demo(),
            csrf_token => token,
            error => error,
            username => username,
            next => next,
            ldap => state.ldap.is_some(),
        },
    );
    let mut resp = html(status, body);
    if let Some(c) = cookie.and_then(|c| c.parse().ok()) {
        resp.headers_mut().insert(header::SET_COOKIE, c);
    }
    resp
}

async fn login_page(
    State(state): State<AppState>,
    Extension(nonce): Extension<CspNonce>,
    Query(q): Query<LoginQuery>,
    headers: HeaderMap,
) -> Response {
    login_response(
        &state,
        &headers,
        &nonce.0,
        StatusCode::OK,
        None,
        "",
        q.next.as_deref(),
    )
}

async fn dashboard(
    State(state): State<AppState>,
    Extension(nonce): Extension<CspNonce>,
    Extension(session): Extension<CurrentSession>,
) -> Response {
    let cluster = match tokio::time::timeout(std::time::Duration::from_secs(3), state.pve.version())
        .await
    {
        Ok(Ok(v)) => minijinja::context! { ok => true, version => v.version },
        Ok(Err(e)) => minijinja::context! { ok => false, error => e.to_string() },
        Err(_) => minijinja::context! { ok => false, error => "Proxmox did not answer within 3 s" },
    };
    let body = state.templates.render(
        "dashboard/index.html",
        minijinja::context! {
            nonce => nonce.0,
            user => session.user_json(),
            csrf_token => session.record.csrf_token,
            expires_at => session.record.expires_at,
            cluster => cluster,
            demo => state.config.is_demo(),
        },
    );
    html(StatusCode::OK, body)
}
