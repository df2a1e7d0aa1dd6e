//! Hardware templates: `GET|POST /api/hardware-templates`, `GET|PATCH|DELETE
//! /api/hardware-templates/{id}`. Everyone signed in reads their own and the shared templates;
//! owners and admins change them; `system` templates (the prebuilt ones) are admin-only. Inputs are
//! checked field by field, writes are rate-limited per user, and every call is audited.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Extension, Json, Router};
use rand::Rng;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::audit::AuditAction;
use crate::audit::{Actor, Status};
use crate::auth::caller::actor;
use crate::auth::client::ClientInfo;
use crate::auth::session::CurrentSession;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::hardware_defaults::{PREBUILT_CATEGORY, SYSTEM_OWNER};
use crate::http::input::Body;
use crate::limits::Preset;
use crate::services::Ops;
use crate::state::AppState;
use crate::store::hardware::HardwareTemplate;
use crate::store::now_ms;

/// Longest name, in characters.
pub const NAME_MAX: usize = 100;
/// Longest description, in characters (the MariaDB column is `VARCHAR(191)`).
pub const DESCRIPTION_MAX: usize = 191;
/// Longest category, in characters.
pub const CATEGORY_MAX: usize = 40;
/// Largest configuration, in bytes of compact JSON.
pub const CONFIG_MAX_BYTES: usize = 16 * 1024;
/// Longest configuration key.
const KEY_MAX: usize = 64;
/// Longest template id in a path.
const ID_MAX: usize = 128;
/// Categories the console offers; any other short text is accepted too.
pub const CATEGORIES: &[&str] = &[
    "custom",
    "web",
    "database",
    "development",
    "compute",
    "gaming",
];

/// Hardware template routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/hardware-templates", get(list).post(create))
        .route(
            "/api/hardware-templates/{id}",
            get(view).patch(update).delete(remove),
        )
}

/// A template id from the path: letters, digits, `_` and `-`.
fn parse_id(raw: &str) -> AppResult<String> {
    let ok = !raw.is_empty()
        && raw.len() <= ID_MAX
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(AppError::with_message(
            ErrorCode::InvalidInput,
            "Invalid template ID",
        ))
    }
}

/// A new id in the original's shape: `template-<epoch ms>-<9 base-36 characters>`.
fn new_template_id() -> String {
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut rng = rand::thread_rng();
    let suffix: String = (0..9)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect();
    format!("template-{}-{suffix}", now_ms())
}

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// A name: trimmed, 1 to 100 characters, one line.
pub fn check_name(raw: &str) -> AppResult<String> {
    let name = raw.trim();
    let len = name.chars().count();
    if len == 0 || len > NAME_MAX {
        return Err(AppError::field(
            "name",
            format!("must be 1 to {NAME_MAX} characters"),
        ));
    }
    if has_control(name) {
        return Err(AppError::field("name", "must be one line of text"));
    }
    Ok(name.to_owned())
}

/// A description: trimmed, at most 191 characters.
pub fn check_description(raw: &str) -> AppResult<String> {
    let d = raw.trim();
    if d.chars().count() > DESCRIPTION_MAX {
        return Err(AppError::field(
            "description",
            format!("must be at most {DESCRIPTION_MAX} characters"),
        ));
    }
    if d.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(AppError::field(
            "description",
            "must not contain control characters",
        ));
    }
    Ok(d.to_owned())
}

/// A category: one of [`CATEGORIES`] or other text of 1 to 40 characters. `prebuilt` marks the
/// templates that come with Uma and is for admins only.
pub fn check_category(raw: &str, is_admin: bool) -> AppResult<String> {
    let c = raw.trim();
    let len = c.chars().count();
    if len == 0 || len > CATEGORY_MAX || has_control(c) {
        return Err(AppError::field(
            "category",
            format!(
                "must be one of {} or other text of 1 to {CATEGORY_MAX} characters",
                CATEGORIES.join(", ")
            ),
        ));
    }
    if c.eq_ignore_ascii_case(PREBUILT_CATEGORY) && !is_admin {
        return Err(AppError::field(
            "category",
            "'prebuilt' is reserved for the templates that come with Uma",
        ));
    }
    Ok(c.to_owned())
}

/// A configuration: a non-empty JSON object of Proxmox configuration keys
/// (`^[a-z][a-z0-9_-]*$`) to strings, numbers or booleans, at most 16 KiB.
pub fn check_config(config: &Value) -> AppResult<Map<String, Value>> {
    let Some(map) = config.as_object() else {
        return Err(AppError::field(
            "config",
            "must be an object of Proxmox settings, e.g. {\"cores\": 2, \"memory\": 4096}",
        ));
    };
    if map.is_empty() {
        return Err(AppError::field("config", "must set at least one setting"));
    }
    for (key, value) in map {
        let mut bytes = key.bytes();
        let key_ok = key.len() <= KEY_MAX
            && bytes.next().is_some_and(|b| b.is_ascii_lowercase())
            && bytes
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !key_ok {
            return Err(AppError::field(
                &format!("config.{key}"),
                "is not a Proxmox setting name (lower-case letters, digits, '_' or '-', starting with a letter)",
            ));
        }
        if !(value.is_string() || value.is_number() || value.is_boolean()) {
            return Err(AppError::field(
                &format!("config.{key}"),
                "must be a string, a number or a boolean",
            ));
        }
    }
    if config.to_string().len() > CONFIG_MAX_BYTES {
        return Err(AppError::field(
            "config",
            format!("must be at most {} KiB as JSON", CONFIG_MAX_BYTES / 1024),
        ));
    }
    Ok(map.clone())
}

/// The JSON shape of a template (`config` as an object).
fn to_json(t: &HardwareTemplate) -> Value {
    json!({
        "id": t.id,
        "name": t.name,
        "description": t.description,
        "category": t.category,
        "config": serde_json::from_str::<Value>(&t.config).unwrap_or_else(|_| json!({})),
        "owner": t.owner,
        "shared": t.shared,
        "system": t.owner == SYSTEM_OWNER,
        "createdAt": t.created_at,
        "updatedAt": t.updated_at,
    })
}

fn resource(id: &str) -> String {
    format!("hardware-template:{id}")
}

/// Who may read: the owner, anyone when shared, admins always.
fn may_read(t: &HardwareTemplate, s: &CurrentSession) -> bool {
    t.shared || s.is_admin() || owns(t, s)
}

/// Who may change: admins, and the owner unless it is a `system` template.
fn may_write(t: &HardwareTemplate, s: &CurrentSession) -> bool {
    s.is_admin() || owns(t, s)
}

fn owns(t: &HardwareTemplate, s: &CurrentSession) -> bool {
    t.owner != SYSTEM_OWNER && t.owner == s.username()
}

/// The template if the caller may see it; 404 alike for missing and hidden ones.
async fn visible(state: &Ops, s: &CurrentSession, id: &str) -> AppResult<HardwareTemplate> {
    match state.store.hardware_template(id).await? {
        Some(t) if may_read(&t, s) => Ok(t),
        _ => Err(AppError::with_message(
            ErrorCode::NotFound,
            "Template not found",
        )),
    }
}

/// One more write for this user, or 429 (audited as a warning).
async fn limit_writes(
    state: &Ops,
    who: &Actor,
    action: AuditAction,
    resource: &str,
    user: &str,
) -> AppResult<()> {
    match state.limits.check(Preset::VmConfig, user).await {
        Ok(()) => Ok(()),
        Err(wait) => {
            state.audit.record(
                who,
                action,
                resource,
                Status::Warning,
                json!({ "reason": "rate_limited", "preset": Preset::VmConfig.name() }),
            );
            let mut err = AppError::with_message(
                ErrorCode::RateLimited,
                format!("Too many template changes. Try again in {wait} seconds."),
            );
            err.retry_after = Some(wait);
            Err(err)
        }
    }
}

fn denied(state: &Ops, who: &Actor, action: AuditAction, t: &HardwareTemplate) -> AppError {
    state.audit.record(
        who,
        action,
        &resource(&t.id),
        Status::Failure,
        json!({ "reason": "permission_denied", "owner": t.owner }),
    );
    AppError::with_message(
        ErrorCode::Forbidden,
        if t.owner == SYSTEM_OWNER {
            "Only administrators can change the templates that come with Uma"
        } else {
            "Only the owner or an administrator can change this template"
        },
    )
}

async fn list(
    State(state): State<Ops>,
    Extension(session): Extension<CurrentSession>,
    client: ClientInfo,
) -> AppResult<Json<Value>> {
    let templates = state
        .store
        .visible_hardware_templates(session.username())
        .await?;
    state.audit.record(
        &actor(&session, &client),
        AuditAction::HwTemplateList,
        "hardware-template:*",
        Status::Success,
        json!({ "count": templates.len() }),
    );
    Ok(Json(
        json!({ "templates": templates.iter().map(to_json).collect::<Vec<_>>() }),
    ))
}

async fn view(
    State(state): State<Ops>,
    Extension(session): Extension<CurrentSession>,
    client: ClientInfo,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    let id = parse_id(&id)?;
    let t = visible(&state, &session, &id).await?;
    state.audit.record(
        &actor(&session, &client),
        AuditAction::HwTemplateView,
        &resource(&id),
        Status::Success,
        json!({ "owner": t.owner }),
    );
    Ok(Json(json!({ "template": to_json(&t) })))
}

/// Body of `POST /api/hardware-templates`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateInput {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    category: Option<String>,
    config: Value,
    #[serde(default)]
    shared: Option<bool>,
    /// Admins only: a `system` template (owner `system`, shared).
    #[serde(default)]
    system: Option<bool>,
}

async fn create(
    State(state): State<Ops>,
    Extension(session): Extension<CurrentSession>,
    client: ClientInfo,
    Body(input): Body<CreateInput>,
) -> AppResult<Json<Value>> {
    let name = check_name(&input.name)?;
    let description = check_description(input.description.as_deref().unwrap_or_default())?;
    let category = match input.category.as_deref() {
        None => "custom".to_owned(),
        Some(c) => check_category(c, session.is_admin())?,
    };
    let config = check_config(&input.config)?;
    let system = input.system.unwrap_or(false);
    let who = actor(&session, &client);
    if system && !session.is_admin() {
        return Err(AppError::with_message(
            ErrorCode::Forbidden,
            "Only administrators can create system templates",
        ));
    }
    let id = new_template_id();
    limit_writes(
        &state,
        &who,
        AuditAction::HwTemplateCreate,
        &resource(&id),
        session.username(),
    )
    .await?;
    let now = now_ms();
    let t = HardwareTemplate {
        id,
        name,
        description,
        category,
        config: Value::Object(config).to_string(),
        owner: if system {
            SYSTEM_OWNER.to_owned()
        } else {
            session.username().to_owned()
        },
        shared: system || input.shared.unwrap_or(false),
        created_at: now,
        updated_at: now,
    };
    state.store.insert_hardware_template(&t).await?;
    state.audit.record(
        &who,
        AuditAction::HwTemplateCreate,
        &resource(&t.id),
        Status::Success,
        json!({ "name": t.name, "category": t.category, "shared": t.shared, "owner": t.owner }),
    );
    Ok(Json(json!({ "success": true, "template": to_json(&t) })))
}

/// Body of `PATCH /api/hardware-templates/{id}`: any of the fields.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateInput {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    config: Option<Value>,
    #[serde(default)]
    shared: Option<bool>,
}

async fn update(
    State(state): State<Ops>,
    Extension(session): Extension<CurrentSession>,
    client: ClientInfo,
    Path(id): Path<String>,
    Body(input): Body<UpdateInput>,
) -> AppResult<Json<Value>> {
    let id = parse_id(&id)?;
    if input.name.is_none()
        && input.description.is_none()
        && input.category.is_none()
        && input.config.is_none()
        && input.shared.is_none()
    {
        return Err(AppError::with_message(
            ErrorCode::InvalidInput,
            "Send at least one of name, description, category, config, shared",
        ));
    }
    let who = actor(&session, &client);
    let before = visible(&state, &session, &id).await?;
    if !may_write(&before, &session) {
        return Err(denied(&state, &who, AuditAction::HwTemplateUpdate, &before));
    }
    let mut after = before.clone();
    if let Some(n) = &input.name {
        after.name = check_name(n)?;
    }
    if let Some(d) = &input.description {
        after.description = check_description(d)?;
    }
    if let Some(c) = &input.category {
        after.category = check_category(c, session.is_admin())?;
    }
    if let Some(c) = &input.config {
        after.config = Value::Object(check_config(c)?).to_string();
    }
    if let Some(s) = input.shared {
        if before.owner == SYSTEM_OWNER && !s {
            return Err(AppError::field(
                "shared",
                "templates that come with Uma stay shared",
            ));
        }
        after.shared = s;
    }
    limit_writes(
        &state,
        &who,
        AuditAction::HwTemplateUpdate,
        &resource(&id),
        session.username(),
    )
    .await?;
    state.store.update_hardware_template(&after).await?;
    let stored = state
        .store
        .hardware_template(&id)
        .await?
        .ok_or_else(|| AppError::with_message(ErrorCode::NotFound, "Template not found"))?;
    state.audit.record(
        &who,
        AuditAction::HwTemplateUpdate,
        &resource(&id),
        Status::Success,
        json!({ "before": summary(&before), "after": summary(&stored) }),
    );
    Ok(Json(
        json!({ "success": true, "template": to_json(&stored) }),
    ))
}

/// What an audit row keeps of a template.
fn summary(t: &HardwareTemplate) -> Value {
    json!({
        "name": t.name,
        "description": t.description,
        "category": t.category,
        "shared": t.shared,
        "config": serde_json::from_str::<Value>(&t.config).unwrap_or(Value::Null),
    })
}

async fn remove(
    State(state): State<Ops>,
    Extension(session): Extension<CurrentSession>,
    client: ClientInfo,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    let id = parse_id(&id)?;
    let who = actor(&session, &client);
    let t = visible(&state, &session, &id).await?;
    if !may_write(&t, &session) {
        return Err(denied(&state, &who, AuditAction::HwTemplateDelete, &t));
    }
    limit_writes(
        &state,
        &who,
        AuditAction::HwTemplateDelete,
        &resource(&id),
        session.username(),
    )
    .await?;
    state.store.delete_hardware_template(&id).await?;
    state.audit.record(
        &who,
        AuditAction::HwTemplateDelete,
        &resource(&id),
        Status::Success,
        json!({ "name": t.name, "owner": t.owner }),
    );
    Ok(Json(json!({ "success": true })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_are_checked_key_by_key() {
        assert!(check_config(&json!({ "cores": 2, "cpu": "host", "numa": false })).is_ok());
        let err = |v: Value| {
            check_config(&v)
                .err()
                .map(|e| e.message)
                .unwrap_or_default()
        };
        assert!(err(json!([1])).starts_with("config:"));
        assert!(err(json!({})).starts_with("config:"));
        assert!(err(json!({ "Cores": 2 })).starts_with("config.Cores:"));
        assert!(err(json!({ "1abc": 2 })).starts_with("config.1abc:"));
        assert!(err(json!({ "net0": { "x": 1 } })).starts_with("config.net0:"));
        assert!(err(json!({ "args": null })).starts_with("config.args:"));
        assert!(err(json!({ "description": "x".repeat(17 * 1024) })).starts_with("config:"));
    }

    #[test]
    fn names_ids_and_categories() {
        assert_eq!(check_name("  Web  ").ok().as_deref(), Some("Web"));
        assert!(check_name(" ").is_err());
        assert!(check_name(&"x".repeat(101)).is_err());
        assert!(check_name("a\nb").is_err());
        assert!(check_category("prebuilt", false).is_err());
        assert!(check_category("prebuilt", true).is_ok());
        assert!(check_category("my lab", false).is_ok());
        assert!(check_category(&"x".repeat(41), false).is_err());
        assert!(parse_id("template-1_a").is_ok());
        assert!(parse_id("../etc").is_err());
        assert!(parse_id("").is_err());
        let id = new_template_id();
        assert!(parse_id(&id).is_ok() && id.starts_with("template-"), "{id}");
    }
}
