//! Administrators' view of the people Uma knows: `GET /api/admin/users` (local and directory,
//! with their last sign-in and live sessions), `POST /api/admin/users` (a local account with a
//! password made by Uma, shown once), and per user `POST …/password` (a new password; sessions
//! end), `POST …/password-link` (a one-time link to choose one), `POST …/disable`,
//! `POST …/enable` and `POST …/sessions/revoke`. For the person: `POST /api/account/password`
//! (change one's own local password), `GET|PUT /api/profile` (display name, picture, theme),
//! `GET /api/directory/search` (names for user and group fields) and, signed in or not, `POST /api/password-reset/check` and
//! `POST /api/password-reset` (whom a one-time link is for; use it).

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::Value;

use crate::audit::Actor;
use crate::auth::client::ClientInfo;
use crate::auth::session::CurrentSession;
use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::http::input::Body;
use crate::services::accounts::{Accounts, ProfilePatch};
use crate::state::AppState;

/// User routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/admin/users", get(list).post(create))
        .route("/api/admin/users/{username}/password", post(password))
        .route(
            "/api/admin/users/{username}/password-link",
            post(password_link),
        )
        .route("/api/account/password", post(change_own))
        .route("/api/profile", get(profile).put(update_profile))
        .route("/api/directory/search", get(directory_search))
        .route("/api/password-reset/check", post(link_holder))
        .route("/api/password-reset", post(use_link))
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

/// `POST /api/account/password`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewOwnPassword {
    current: String,
    password: String,
}

/// `POST /api/password-reset/check` and `POST /api/password-reset`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkInput {
    token: String,
    #[serde(default)]
    password: Option<String>,
}

/// Who calls the public link routes, for the audit row.
fn visitor(client: &ClientInfo) -> Actor {
    Actor {
        username: "anonymous".into(),
        ip: Some(client.ip.clone()),
        user_agent: client.user_agent.clone(),
    }
}

/// `GET /api/directory/search?kind=user|group&q=`.
#[derive(Debug, Deserialize)]
pub struct DirectoryQuery {
    kind: Option<String>,
    q: Option<String>,
}

/// Most names one search gives.
const DIRECTORY_MOST: usize = 20;

/// Names to fill in a user or group field: `{results: [{name, displayName, source}],
/// directory}`. Everyone finds the people who signed in to Uma and their own groups;
/// administrators also the directory's people and groups (`directory` says whether it
/// answered).
async fn directory_search(
    State(state): State<AppState>,
    caller: Caller,
    axum::extract::Query(q): axum::extract::Query<DirectoryQuery>,
) -> AppResult<Json<Value>> {
    use serde_json::json;
    let kind = match q.kind.as_deref().unwrap_or("user") {
        k @ ("user" | "group") => k,
        _ => return Err(AppError::field("kind", "user or group")),
    };
    let text = q.q.unwrap_or_default();
    let text = text.trim();
    if text.chars().count() > 64 || text.contains('\0') {
        return Err(AppError::field("q", "at most 64 characters"));
    }
    if text.chars().count() < 2 {
        return Ok(Json(json!({ "results": [], "directory": null })));
    }
    crate::services::chat::api::limit(
        &state.chat,
        &caller,
        "api:users-search",
        crate::audit::AuditAction::DirectorySearch,
    )
    .await?;
    let lower = text.to_lowercase();
    let mut results: Vec<Value> = Vec::new();
    let mut directory = Value::Null;
    let ldap = state.ldap.as_deref().filter(|_| caller.is_admin());
    if kind == "user" {
        for u in state
            .store
            .search_users(text, DIRECTORY_MOST as i64)
            .await?
        {
            results.push(
                json!({ "name": u.username, "displayName": u.display_name, "source": "uma" }),
            );
        }
        if let Some(ldap) = ldap {
            match ldap.search_people(text, DIRECTORY_MOST).await {
                Ok(people) => {
                    directory = json!("ok");
                    for (name, display) in people {
                        let known = results.iter().any(|r| {
                            r["name"]
                                .as_str()
                                .is_some_and(|n| n.eq_ignore_ascii_case(&name))
                        });
                        if !known {
                            results.push(json!({ "name": name, "displayName": display, "source": "directory" }));
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "directory search failed");
                    directory = json!("unavailable");
                }
            }
        }
    } else {
        let mut names: Vec<String> = caller
            .principal
            .groups
            .iter()
            .filter(|g| g.to_lowercase().contains(&lower))
            .cloned()
            .collect();
        if caller.is_admin() {
            let access = crate::auth::access_settings(&state.store, &state.config).await;
            names.extend(
                access
                    .admin_groups
                    .into_iter()
                    .chain(access.allowed_groups)
                    .filter(|g| g.to_lowercase().contains(&lower)),
            );
            if let Some(ldap) = ldap {
                match ldap.search_groups(text, DIRECTORY_MOST).await {
                    Ok(found) => {
                        directory = json!("ok");
                        names.extend(found);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "directory search failed");
                        directory = json!("unavailable");
                    }
                }
            }
        }
        let mut seen = std::collections::HashSet::new();
        for n in names {
            if seen.insert(n.to_lowercase()) {
                results.push(json!({ "name": n, "displayName": null, "source": "group" }));
            }
        }
    }
    results.truncate(DIRECTORY_MOST);
    state.audit.record(
        &caller.actor,
        crate::audit::AuditAction::DirectorySearch,
        &format!("directory:{kind}"),
        crate::audit::Status::Success,
        json!({ "count": results.len() }),
    );
    Ok(Json(json!({ "results": results, "directory": directory })))
}

async fn profile(State(accounts): State<Accounts>, caller: Caller) -> AppResult<Json<Value>> {
    Ok(Json(accounts.profile(&caller).await?))
}

async fn update_profile(
    State(state): State<AppState>,
    caller: Caller,
    Body(patch): Body<ProfilePatch>,
) -> AppResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let theme = patch.theme.clone();
    let profile = state.accounts.update_profile(&caller, patch).await?;
    let mut resp = Json(profile).into_response();
    // A hand-over cookie this browser may still hold says the new theme too.
    if let Some(t) = theme {
        let c = state
            .cookies
            .script_cookie(crate::http::auth::THEME_COOKIE, &t, 60);
        if let Ok(v) = c.parse() {
            resp.headers_mut().append(axum::http::header::SET_COOKIE, v);
        }
    }
    Ok(resp)
}

async fn password_link(
    State(accounts): State<Accounts>,
    caller: Caller,
    Path(username): Path<String>,
) -> AppResult<Json<Value>> {
    Ok(Json(accounts.reset_link(&caller, &username).await?))
}

async fn change_own(
    State(accounts): State<Accounts>,
    caller: Caller,
    Extension(me): Extension<CurrentSession>,
    Body(input): Body<NewOwnPassword>,
) -> AppResult<Json<Value>> {
    Ok(Json(
        accounts
            .change_own(&caller, &me.record.id, &input.current, &input.password)
            .await?,
    ))
}

async fn link_holder(
    State(accounts): State<Accounts>,
    client: ClientInfo,
    Body(input): Body<LinkInput>,
) -> AppResult<Json<Value>> {
    Ok(Json(
        accounts
            .link_holder(&visitor(&client), &client.ip, &input.token)
            .await?,
    ))
}

async fn use_link(
    State(accounts): State<Accounts>,
    client: ClientInfo,
    Body(input): Body<LinkInput>,
) -> AppResult<Json<Value>> {
    let Some(password) = input.password else {
        return Err(AppError::field("password", "choose a new password"));
    };
    Ok(Json(
        accounts
            .use_link(&visitor(&client), &client.ip, &input.token, &password)
            .await?,
    ))
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
