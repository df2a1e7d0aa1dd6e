//! Server-rendered pages: the shell and first paint; live parts are TypeScript islands
//! (`web/src/pages/<page>.ts`). Each signed-in page renders `partials/layout.html` with a `boot`
//! object (the user, the page's ids and what the user may do there) the island reads on load.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Extension, Router};
use serde::Deserialize;

use crate::acl::GuestAction;
use crate::audit::AuditAction;
use crate::auth::session::CurrentSession;
use crate::auth::Caller;
use crate::error::{AppError, ErrorCode};
use crate::http::auth::login_csrf;
use crate::http::input::Reader;
use crate::http::security::CspNonce;
use crate::pve::models::ResourceKind;
use crate::pve::path::{PoolId, Vmid};
use crate::services::{self};
use crate::state::AppState;

/// Page routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login_page))
        .route("/password-reset", get(password_reset_page))
        .route("/dashboard", get(dashboard))
        .route("/pools/{pool}", get(pool_page))
        .route("/guests/{vmid}", get(guest_page))
        .route("/guests/{vmid}/console", get(console_page))
        .route("/create", get(create_page))
        .route("/sdn", get(sdn_page))
        .route(
            "/settings",
            get(island_page("settings/index.html", "settings", "Settings")),
        )
        .route(
            "/templates",
            get(island_page(
                "hardware/index.html",
                "templates",
                "Hardware templates",
            )),
        )
        .route("/nodes/{node}", get(node_page))
        .route("/docs", get(docs_page))
        .route("/docs/{id}", get(doc_page))
        .route("/admin", get(|| async { Redirect::to("/admin/pools") }))
        // Live sessions are listed with the people they belong to.
        .route(
            "/admin/sessions",
            get(|| async { Redirect::to("/admin/users#sessions") }),
        )
        .route(
            "/admin/pools",
            get(island_page("admin/pools.html", "admin-pools", "Pools")),
        )
        .route(
            "/admin/limits",
            get(island_page("admin/limits.html", "admin-limits", "Limits")),
        )
        .route(
            "/admin/acl",
            get(island_page("admin/acl.html", "admin-acl", "Access")),
        )
        .route(
            "/admin/docs",
            get(island_page("admin/docs.html", "admin-docs", "Docs")),
        )
        .route(
            "/admin/notifications",
            get(island_page(
                "admin/notifications.html",
                "admin-notifications",
                "Notifications",
            )),
        )
        .route(
            "/admin/users",
            get(island_page("admin/users.html", "admin-users", "People")),
        )
        .route(
            "/admin/audit",
            get(island_page("admin/audit.html", "admin-audit", "Audit log")),
        )
        .route(
            "/admin/consoles",
            get(island_page(
                "admin/consoles.html",
                "admin-consoles",
                "Consoles",
            )),
        )
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
    // Only a path here survives (no `//host`, no tab or backslash tricks): see `safe_next`.
    let next = next.map(|n| crate::http::guard::safe_next(Some(n)));
    let next = next.as_deref();
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
            providers => crate::http::oidc::provider_list(state, next),
            passkeys => crate::http::oidc::passkeys_here(state, headers),
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

/// The page a one-time password link opens (its token is in the fragment, which browsers never
/// send: the island reads it). Open to anyone; a signed-in visitor's requests carry their
/// session's token, others the login cookie's.
async fn password_reset_page(
    State(state): State<AppState>,
    Extension(nonce): Extension<CspNonce>,
    session: Option<Extension<CurrentSession>>,
    headers: HeaderMap,
) -> Response {
    let (token, cookie) = match &session {
        Some(s) => (s.record.csrf_token.clone(), None),
        None => login_csrf(&state, &headers),
    };
    let body = state.templates.render(
        "auth/password-reset.html",
        minijinja::context! { nonce => nonce.0, csrf_token => token },
    );
    let mut resp = html(StatusCode::OK, body);
    if let Some(c) = cookie.and_then(|c| c.parse().ok()) {
        resp.headers_mut().insert(header::SET_COOKIE, c);
    }
    resp
}

/// Renders a signed-in page: `template` extends `partials/layout.html`; `boot` (merged with the
/// user) is what the page's island reads.
pub(crate) fn app_page(
    state: &AppState,
    nonce: &CspNonce,
    session: &CurrentSession,
    template: &str,
    page: &str,
    title: &str,
    boot: serde_json::Value,
) -> Response {
    reader_page(state, nonce, Some(session), template, page, title, boot)
}

/// A page anonymous readers may see too (public docs): with the user when signed in, else the
/// same template with no user (the top bar offers to sign in).
pub(crate) fn reader_page(
    state: &AppState,
    nonce: &CspNonce,
    session: Option<&CurrentSession>,
    template: &str,
    page: &str,
    title: &str,
    boot: serde_json::Value,
) -> Response {
    let user = session.map(CurrentSession::user_json);
    let mut data = serde_json::json!({ "user": user, "demo": state.config.is_demo() });
    if let (Some(d), serde_json::Value::Object(extra)) = (data.as_object_mut(), boot) {
        d.extend(extra);
    }
    let body = state.templates.render(
        template,
        minijinja::context! {
            nonce => nonce.0,
            user => user,
            csrf_token => session.map(|s| s.record.csrf_token.clone()),
            expires_at => session.map(|s| s.record.expires_at),
            demo => state.config.is_demo(),
            page => page,
            title => title,
            boot_json => minijinja::Value::from_safe_string(script_json(&data)),
            boot => data,
        },
    );
    html(StatusCode::OK, body)
}

/// JSON for a `<script type="application/json">` element: `<`, `>`, `&` and `'` escaped as
/// `\uXXXX`, so no value can close the element or start markup.
fn script_json(v: &serde_json::Value) -> String {
    let raw = serde_json::to_string(v).unwrap_or_else(|_| "{}".to_owned());
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\'' => out.push_str("\\u0027"),
            _ => out.push(c),
        }
    }
    out
}

/// The error page for a page whose subject is missing, hidden, or unreadable right now.
fn page_error(state: &AppState, nonce: &CspNonce, e: &AppError, what: &str) -> Response {
    let (status, title, message) = match e.code {
        ErrorCode::NotFound | ErrorCode::InvalidInput => (
            StatusCode::NOT_FOUND,
            format!("{what} not found"),
            format!(
                "There is no {} here, or you may not see it.",
                what.to_lowercase()
            ),
        ),
        ErrorCode::Forbidden => (
            StatusCode::FORBIDDEN,
            "Not allowed".to_owned(),
            e.message.clone(),
        ),
        _ => (
            StatusCode::SERVICE_UNAVAILABLE,
            "Proxmox is unreachable".to_owned(),
            format!("{} Try again in a moment.", e.message),
        ),
    };
    crate::http::error_page(state, status, &title, &message, &nonce.0)
}

async fn dashboard(
    State(state): State<AppState>,
    Extension(nonce): Extension<CspNonce>,
    Extension(session): Extension<CurrentSession>,
) -> Response {
    let cluster = match tokio::time::timeout(std::time::Duration::from_secs(3), state.pve.version())
        .await
    {
        Ok(Ok(v)) => serde_json::json!({ "ok": true, "version": v.version }),
        Ok(Err(e)) => serde_json::json!({ "ok": false, "error": e.to_string() }),
        Err(_) => serde_json::json!({ "ok": false, "error": "Proxmox did not answer within 3 s" }),
    };
    app_page(
        &state,
        &nonce,
        &session,
        "dashboard/index.html",
        "dashboard",
        "Dashboard",
        serde_json::json!({ "cluster": cluster }),
    )
}

async fn pool_page(
    State(state): State<AppState>,
    Extension(nonce): Extension<CspNonce>,
    Extension(session): Extension<CurrentSession>,
    Path(pool): Path<String>,
) -> Response {
    let caller = Caller::new(&session, None, None);
    let found = async {
        let id = PoolId::parse("pool", &pool)?;
        let view = services::view(&state.ops()).await?;
        let exists = view
            .resources
            .iter()
            .any(|r| r.kind == ResourceKind::Pool && r.pool.as_deref() == Some(id.as_str()));
        let access = view.engine.pool_access(&caller.principal, id.as_str());
        if !exists || !access.see {
            return Err(AppError::new(ErrorCode::NotFound));
        }
        Ok((id.to_string(), access.manage))
    }
    .await;
    match found {
        Ok((id, manage)) => app_page(
            &state,
            &nonce,
            &session,
            "pool/index.html",
            "pool",
            &id,
            serde_json::json!({ "poolId": id, "manage": manage }),
        ),
        Err(e) => page_error(&state, &nonce, &e, "Pool"),
    }
}

async fn guest_page(
    State(state): State<AppState>,
    Extension(nonce): Extension<CspNonce>,
    Extension(session): Extension<CurrentSession>,
    Path(vmid): Path<String>,
) -> Response {
    let caller = Caller::new(&session, None, None);
    let found = async {
        let id = Vmid::parse("vmid", &vmid)?;
        let (g, view) = services::guest(&state.ops(), &caller, id, GuestAction::View, AuditAction::ViewVm).await?;
        let may = |a| view.engine.guest_allows(&caller.principal, id.0, a);
        let caps = serde_json::json!({
            "power": may(GuestAction::Power),
            "console": may(GuestAction::Console),
            "configure": may(GuestAction::Configure),
            "snapshot": may(GuestAction::Snapshot),
            "rollback": may(GuestAction::Rollback),
            "backup": may(GuestAction::Backup),
            "clone": may(GuestAction::Clone) || view.permits(&caller.principal).is_public_template(g.resource()),
            "allocate": may(GuestAction::Allocate),
            "replicate": may(GuestAction::Replicate),
        });
        let pool_manage = g
            .pool()
            .is_some_and(|p| view.engine.pool_access(&caller.principal, p).manage);
        Ok::<_, AppError>(serde_json::json!({
            "vmid": id.0,
            "type": g.kind(),
            "node": g.node(),
            "resource": g.resource(),
            "caps": caps,
            "poolManage": pool_manage,
            "consoleMax": state.config.tenancy.console_max_per_user,
        }))
    }
    .await;
    match found {
        Ok(boot) => {
            let title = boot["resource"]["name"]
                .as_str()
                .map_or_else(|| format!("Guest {vmid}"), str::to_owned);
            app_page(
                &state,
                &nonce,
                &session,
                "guest/index.html",
                "guest",
                &title,
                boot,
            )
        }
        Err(e) => page_error(&state, &nonce, &e, "Guest"),
    }
}

/// A guest's console on a page of its own. The guest must be visible (else the 404 page); whether
/// the user may open its console or power it is in `caps`, so the page can say why not.
async fn console_page(
    State(state): State<AppState>,
    Extension(nonce): Extension<CspNonce>,
    Extension(session): Extension<CurrentSession>,
    Path(vmid): Path<String>,
) -> Response {
    let caller = Caller::new(&session, None, None);
    let found = async {
        let id = Vmid::parse("vmid", &vmid)?;
        let (g, view) = services::guest(
            &state.ops(),
            &caller,
            id,
            GuestAction::View,
            AuditAction::ViewVm,
        )
        .await?;
        let may = |a| view.engine.guest_allows(&caller.principal, id.0, a);
        Ok::<_, AppError>(serde_json::json!({
            "vmid": id.0,
            "type": g.kind(),
            "node": g.node(),
            "resource": g.resource(),
            "caps": { "power": may(GuestAction::Power), "console": may(GuestAction::Console) },
            "consoleMax": state.config.tenancy.console_max_per_user,
        }))
    }
    .await;
    match found {
        Ok(boot) => {
            let name = boot["resource"]["name"]
                .as_str()
                .map_or_else(|| format!("Guest {vmid}"), str::to_owned);
            app_page(
                &state,
                &nonce,
                &session,
                "console/index.html",
                "console",
                &format!("Console of {name}"),
                boot,
            )
        }
        Err(e) => page_error(&state, &nonce, &e, "Guest"),
    }
}

/// `?pool=&type=` preselect the create wizard.
#[derive(Debug, Deserialize)]
pub struct CreateQuery {
    pool: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
}

async fn create_page(
    State(state): State<AppState>,
    Extension(nonce): Extension<CspNonce>,
    Extension(session): Extension<CurrentSession>,
    Query(q): Query<CreateQuery>,
) -> Response {
    let pool = q.pool.filter(|p| PoolId::parse("pool", p).is_ok());
    let kind = q
        .kind
        .filter(|k| matches!(k.as_str(), "qemu" | "lxc" | "clone"));
    app_page(
        &state,
        &nonce,
        &session,
        "create/index.html",
        "create",
        "New guest",
        serde_json::json!({ "pool": pool, "type": kind }),
    )
}

/// A node's page, for those who administer the cluster (what `node:watch` allows).
async fn node_page(
    State(state): State<AppState>,
    Extension(nonce): Extension<CspNonce>,
    Extension(session): Extension<CurrentSession>,
    Path(node): Path<String>,
) -> Response {
    let caller = Caller::new(&session, None, None);
    let view = match services::view(&state.ops()).await {
        Ok(v) => v,
        Err(e) => {
            return crate::http::error_page(
                &state,
                e.code.status(),
                "The node could not be shown",
                &e.message,
                &nonce.0,
            )
        }
    };
    let known = view.resources.iter().any(|r| {
        r.kind == crate::pve::models::ResourceKind::Node && r.node.as_deref() == Some(node.as_str())
    });
    if !view.engine.effective_admin(&caller.principal) || !known {
        // Not theirs to see, or no such node: the same answer.
        return crate::http::error_page(
            &state,
            StatusCode::NOT_FOUND,
            "Node not found",
            "There is no such node, or it is for the cluster's administrators.",
            &nonce.0,
        );
    }
    app_page(
        &state,
        &nonce,
        &session,
        "node/index.html",
        "dashboard",
        &node,
        serde_json::json!({ "node": node }),
    )
}

async fn sdn_page(
    State(state): State<AppState>,
    Extension(nonce): Extension<CspNonce>,
    Extension(session): Extension<CurrentSession>,
) -> Response {
    let caller = Caller::new(&session, None, None);
    let admin = match services::view(&state.ops()).await {
        Ok(v) => v.engine.effective_admin(&caller.principal),
        Err(_) => session.is_admin(),
    };
    app_page(
        &state,
        &nonce,
        &session,
        "sdn/index.html",
        "sdn",
        "Networks",
        serde_json::json!({
            "sdnAdmin": admin,
            "namePrefixes": services::sdn::name_prefixes(session.username()),
        }),
    )
}

/// `?q=&tag=` of the docs page.
#[derive(Debug, Deserialize)]
pub struct DocsPageQuery {
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    tag: Option<String>,
}

/// The knowledge base: published articles, searched or by tag (the form works without
/// JavaScript).
async fn docs_page(
    State(state): State<AppState>,
    Extension(nonce): Extension<CspNonce>,
    session: Option<Extension<CurrentSession>>,
    Reader(caller): Reader,
    Query(q): Query<DocsPageQuery>,
) -> Response {
    let query = services::docs::ListQuery {
        q: q.q.as_deref(),
        tag: q.tag.as_deref(),
        limit: Some("200"),
    };
    let (docs, problem) = match state.docs.list(&caller, &query, false).await {
        Ok(list) => (list, None),
        Err(e) => (serde_json::json!([]), Some(e.message)),
    };
    reader_page(
        &state,
        &nonce,
        session.as_deref(),
        "docs/index.html",
        "docs",
        "Docs",
        serde_json::json!({
            "docs": docs, "q": q.q.unwrap_or_default(), "tag": q.tag.unwrap_or_default(),
            "problem": problem,
        }),
    )
}

/// One article, rendered on the server.
async fn doc_page(
    State(state): State<AppState>,
    Extension(nonce): Extension<CspNonce>,
    session: Option<Extension<CurrentSession>>,
    Reader(caller): Reader,
    Path(id): Path<String>,
) -> Response {
    match state.docs.read(&caller, &id, false).await {
        Ok(doc) => {
            let title = doc["title"].as_str().unwrap_or("Doc").to_owned();
            reader_page(
                &state,
                &nonce,
                session.as_deref(),
                "docs/article.html",
                "docs",
                &title,
                serde_json::json!({ "doc": doc }),
            )
        }
        Err(e) if e.code == ErrorCode::NotFound => crate::http::error_page(
            &state,
            StatusCode::NOT_FOUND,
            "Doc not found",
            "There is no such article, or it is not published.",
            &nonce.0,
        ),
        Err(e) => crate::http::error_page(
            &state,
            e.code.status(),
            "The article could not be shown",
            &e.message,
            &nonce.0,
        ),
    }
}

/// A page whose island loads its own data: its template, page key and title (who may open it
/// is the guard's: admin pages under `/admin`, the rest for anyone signed in).
fn island_page(
    template: &'static str,
    page: &'static str,
    title: &'static str,
) -> impl Fn(
    State<AppState>,
    Extension<CspNonce>,
    Extension<CurrentSession>,
) -> std::future::Ready<Response>
       + Clone
       + Send
       + 'static {
    move |State(state), Extension(nonce), Extension(session)| {
        std::future::ready(app_page(
            &state,
            &nonce,
            &session,
            template,
            page,
            title,
            serde_json::json!({}),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boot_json_cannot_close_its_script_element() {
        let v = serde_json::json!({ "name": "</script><b x='1'>&" });
        let s = script_json(&v);
        assert!(!s.contains('<') && !s.contains('>') && !s.contains('&') && !s.contains('\''));
        let back: serde_json::Value = serde_json::from_str(&s).unwrap_or_default();
        assert_eq!(back, v);
    }
}
