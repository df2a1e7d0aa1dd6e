//! Global settings for admins: `GET|POST /api/settings/access` (admin and allowed directory
//! groups, read at sign-in) and `GET|POST /api/settings/limits` (the default quota: the `global`
//! pool-limit row, plus the per-user VNet cap) and `GET|POST /api/settings/content` (public docs,
//! upload size and per-person storage). Changes are audited with before and after.

use axum::extract::State;
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::{json, Map, Value};

use crate::audit::AuditAction;
use crate::audit::Status;
use crate::auth::caller::actor;
use crate::auth::client::ClientInfo;
use crate::auth::session::CurrentSession;
use crate::error::{AppError, AppResult};
use crate::http::input::Body;
use crate::services::chat::Chat;
use crate::services::uploads::{ContentSettings, CONTENT_KEY};
use crate::services::Ops;
use crate::state::AppState;
use crate::store::pools::Limits;
use crate::store::settings::{ACCESS_KEY, GLOBAL_POOL, RESOURCE_LIMITS_KEY};

/// Most groups in one list.
const GROUPS_MAX: usize = 200;
/// Longest group name.
const GROUP_NAME_MAX: usize = 256;
/// Largest limit accepted (the largest integer a browser represents exactly).
const LIMIT_MAX: u64 = (1 << 53) - 1;

/// The budget an admin's setting changes share (the original left them unlimited).
const CHANGE: &str = "api:settings-change";

/// Counts one change by the admin of `session` (429, audited as a `WARNING` of `action`, when
/// over).
async fn limited(
    chat: &Chat,
    session: &CurrentSession,
    client: &ClientInfo,
    action: AuditAction,
) -> AppResult<()> {
    let caller =
        crate::auth::Caller::new(session, Some(client.ip.clone()), client.user_agent.clone());
    crate::services::chat::api::limit(chat, &caller, CHANGE, action).await
}

/// Settings routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/settings/access", get(get_access).post(set_access))
        .route("/api/settings/access/check", get(check_access))
        .route("/api/settings/limits", get(get_limits).post(set_limits))
        .route("/api/settings/content", get(get_content).post(set_content))
}

async fn get_content(State(state): State<Ops>) -> AppResult<Json<Value>> {
    Ok(Json(ContentSettings::load(&state.store).await?.to_json()))
}

async fn set_content(
    State(state): State<Ops>,
    State(uploads): State<crate::services::uploads::Uploads>,
    State(chat): State<Chat>,
    Extension(session): Extension<CurrentSession>,
    client: ClientInfo,
    Body(input): Body<Value>,
) -> AppResult<Json<Value>> {
    limited(&chat, &session, &client, AuditAction::SettingsContentUpdate).await?;
    let input = object(input)?;
    let before = ContentSettings::load(&state.store).await?;
    let after = before.apply(&input)?;
    state
        .store
        .set_config_value(CONTENT_KEY, &after.to_json())
        .await?;
    uploads.settings_changed();
    state.audit.record(
        &actor(&session, &client),
        AuditAction::SettingsContentUpdate,
        "settings:content",
        Status::Success,
        json!({ "before": before.to_json(), "after": after.to_json() }),
    );
    Ok(Json(json!({ "success": true, "config": after.to_json() })))
}

/// The stored access lists (empty when never set).
async fn stored_access(state: &Ops) -> AppResult<(Vec<String>, Vec<String>)> {
    let value = state.store.config_value(ACCESS_KEY).await?;
    let list = |key: &str| -> Vec<String> {
        value
            .as_ref()
            .and_then(|v| v.get(key))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    Ok((list("adminGroups"), list("allowedGroups")))
}

fn access_json(state: &Ops, admin: &[String], allowed: &[String]) -> Value {
    json!({
        "adminGroups": admin,
        "allowedGroups": allowed,
        // Always admins as well, whatever is stored: they come from ADMIN_GROUPS.
        "environmentAdminGroups": state.config.session.admin_groups,
    })
}

/// `GET /api/settings/access/check?username=`.
#[derive(Debug, serde::Deserialize)]
pub struct CheckQuery {
    username: Option<String>,
}

/// What signing in would decide for someone, and which rule decides it (no password needed).
async fn check_access(
    State(state): State<AppState>,
    caller: crate::auth::Caller,
    axum::extract::Query(q): axum::extract::Query<CheckQuery>,
) -> AppResult<Json<Value>> {
    let username = q.username.unwrap_or_default();
    let username = username.trim();
    if username.is_empty() || username.chars().count() > 256 || username.contains('\0') {
        return Err(AppError::field(
            "username",
            "name someone (at most 256 characters)",
        ));
    }
    crate::services::chat::api::limit(&state.chat, &caller, CHANGE, AuditAction::AccessCheck)
        .await?;
    let out =
        crate::auth::check_access(&state.store, state.ldap.as_deref(), &state.config, username)
            .await
            .map_err(|e| {
                AppError::with_message(
                    crate::error::ErrorCode::Unavailable,
                    format!("The directory can't be asked now: {e}"),
                )
            })?;
    state.audit.record(
        &caller.actor,
        AuditAction::AccessCheck,
        &format!("user:{username}"),
        Status::Success,
        json!({ "allowed": out["allowed"], "isAdmin": out["isAdmin"] }),
    );
    Ok(Json(out))
}

async fn get_access(State(state): State<Ops>) -> AppResult<Json<Value>> {
    let (admin, allowed) = stored_access(&state).await?;
    Ok(Json(access_json(&state, &admin, &allowed)))
}

/// A list of group names: strings, trimmed, non-empty, one line, duplicates (ignoring case)
/// dropped.
fn group_list(body: &Map<String, Value>, field: &str) -> AppResult<Vec<String>> {
    let Some(value) = body.get(field) else {
        return Err(AppError::field(
            field,
            "is required (a list of group names)",
        ));
    };
    let Some(items) = value.as_array() else {
        return Err(AppError::field(field, "must be a list of group names"));
    };
    if items.len() > GROUPS_MAX {
        return Err(AppError::field(
            field,
            format!("must have at most {GROUPS_MAX} groups"),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let name = item.as_str().map(str::trim).unwrap_or_default();
        if name.is_empty()
            || name.chars().count() > GROUP_NAME_MAX
            || name.chars().any(char::is_control)
        {
            return Err(AppError::field(
                &format!("{field}[{i}]"),
                format!("must be a group name of 1 to {GROUP_NAME_MAX} characters"),
            ));
        }
        if !out.iter().any(|g| g.eq_ignore_ascii_case(name)) {
            out.push(name.to_owned());
        }
    }
    Ok(out)
}

fn only_fields(body: &Map<String, Value>, known: &[&str]) -> AppResult<()> {
    match body.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(AppError::field(
            k,
            format!("is not a setting here (use {})", known.join(", ")),
        )),
        None => Ok(()),
    }
}

fn object(value: Value) -> AppResult<Map<String, Value>> {
    match value {
        Value::Object(m) => Ok(m),
        _ => Err(AppError::with_message(
            crate::error::ErrorCode::InvalidInput,
            "Send a JSON object",
        )),
    }
}

async fn set_access(
    State(state): State<Ops>,
    State(chat): State<Chat>,
    Extension(session): Extension<CurrentSession>,
    client: ClientInfo,
    Body(input): Body<Value>,
) -> AppResult<Json<Value>> {
    limited(&chat, &session, &client, AuditAction::SettingsAccessUpdate).await?;
    let input = object(input)?;
    only_fields(&input, &["adminGroups", "allowedGroups"])?;
    let admin = group_list(&input, "adminGroups")?;
    let allowed = group_list(&input, "allowedGroups")?;
    let (before_admin, before_allowed) = stored_access(&state).await?;
    state
        .store
        .set_config_value(
            ACCESS_KEY,
            &json!({ "adminGroups": admin, "allowedGroups": allowed }),
        )
        .await?;
    state.audit.record(
        &actor(&session, &client),
        AuditAction::SettingsAccessUpdate,
        "settings:access",
        Status::Success,
        json!({
            "before": { "adminGroups": before_admin, "allowedGroups": before_allowed },
            "after": { "adminGroups": admin, "allowedGroups": allowed },
        }),
    );
    Ok(Json(json!({
        "success": true,
        "config": access_json(&state, &admin, &allowed),
    })))
}

/// The default quota and the per-user VNet cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct GlobalLimits {
    quota: Limits,
    max_vnets_per_user: i64,
}

impl GlobalLimits {
    fn to_json(self) -> Value {
        let l = self.quota;
        json!({
            "maxVMs": l.max_vms,
            "maxLXCs": l.max_lxcs,
            "maxVnets": l.max_vnets,
            "maxCpu": l.max_cpu,
            "maxMemory": l.max_memory,
            "maxDisk": l.max_disk,
            "maxVnetsPerUser": self.max_vnets_per_user,
        })
    }

    /// The field's slot, by its JSON name.
    fn slot(&mut self, field: &str) -> Option<&mut i64> {
        Some(match field {
            "maxVMs" => &mut self.quota.max_vms,
            "maxLXCs" => &mut self.quota.max_lxcs,
            "maxVnets" => &mut self.quota.max_vnets,
            "maxCpu" => &mut self.quota.max_cpu,
            "maxMemory" => &mut self.quota.max_memory,
            "maxDisk" => &mut self.quota.max_disk,
            "maxVnetsPerUser" => &mut self.max_vnets_per_user,
            _ => return None,
        })
    }
}

const LIMIT_FIELDS: &[&str] = &[
    "maxVMs",
    "maxLXCs",
    "maxVnets",
    "maxCpu",
    "maxMemory",
    "maxDisk",
    "maxVnetsPerUser",
];

/// The limits in force: the `global` row (zeros when absent) and the stored VNet cap, else
/// `MAX_VNETS_PER_USER`.
async fn current_limits(state: &Ops) -> AppResult<GlobalLimits> {
    let quota = state
        .store
        .pool_limit(GLOBAL_POOL)
        .await?
        .map(|r| Limits {
            max_vms: r.max_vms,
            max_lxcs: r.max_lxcs,
            max_vnets: r.max_vnets,
            max_cpu: r.max_cpu,
            max_memory: r.max_memory,
            max_disk: r.max_disk,
        })
        .unwrap_or_default();
    let stored = state
        .store
        .config_value(RESOURCE_LIMITS_KEY)
        .await?
        .and_then(|v| v.get("maxVnetsPerUser").and_then(Value::as_i64))
        .filter(|n| *n >= 0);
    Ok(GlobalLimits {
        quota,
        max_vnets_per_user: stored
            .unwrap_or_else(|| i64::from(state.config.tenancy.max_vnets_per_user)),
    })
}

async fn get_limits(State(state): State<Ops>) -> AppResult<Json<Value>> {
    Ok(Json(current_limits(&state).await?.to_json()))
}

async fn set_limits(
    State(state): State<Ops>,
    State(chat): State<Chat>,
    Extension(session): Extension<CurrentSession>,
    client: ClientInfo,
    Body(input): Body<Value>,
) -> AppResult<Json<Value>> {
    limited(&chat, &session, &client, AuditAction::SettingsLimitsUpdate).await?;
    let input = object(input)?;
    only_fields(&input, LIMIT_FIELDS)?;
    if input.is_empty() {
        return Err(AppError::with_message(
            crate::error::ErrorCode::InvalidInput,
            format!("Send at least one of {}", LIMIT_FIELDS.join(", ")),
        ));
    }
    let before = current_limits(&state).await?;
    let mut after = before;
    for (field, value) in &input {
        let n = value
            .as_u64()
            .filter(|n| *n <= LIMIT_MAX)
            .and_then(|n| i64::try_from(n).ok())
            .ok_or_else(|| {
                AppError::field(field, "must be a whole number of 0 or more (0 = unlimited)")
            })?;
        if let Some(slot) = after.slot(field) {
            *slot = n;
        }
    }
    if after.quota != before.quota || state.store.pool_limit(GLOBAL_POOL).await?.is_none() {
        state.store.set_pool_limit(GLOBAL_POOL, after.quota).await?;
    }
    state
        .store
        .set_config_value(
            RESOURCE_LIMITS_KEY,
            &json!({ "maxVnetsPerUser": after.max_vnets_per_user }),
        )
        .await?;
    state.audit.record(
        &actor(&session, &client),
        AuditAction::SettingsLimitsUpdate,
        "settings:limits",
        Status::Success,
        json!({ "before": before.to_json(), "after": after.to_json() }),
    );
    Ok(Json(json!({ "success": true, "config": after.to_json() })))
}
