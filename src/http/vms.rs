//! Guest operations (QEMU and LXC alike): `GET /api/proxmox/vm/{vmid}/status` and
//! `POST /api/proxmox/vm/{vmid}/power`. The guest's node and type come from the cluster, so
//! clients only name the guest; every call is checked by the ACL engine, limited and audited.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::acl::{self, Engine, GuestAction};
use crate::audit::Status;
use crate::auth::session::CurrentSession;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::client::ClientInfo;
use crate::http::cluster::{actor, naming, principal};
use crate::limits::Preset;
use crate::pve::models::Resource;
use crate::state::AppState;

/// Guest routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/proxmox/vm/{vmid}/status", get(status))
        .route("/api/proxmox/vm/{vmid}/power", post(power))
}

/// A guest id as Proxmox accepts it (100 to 999999999).
fn parse_vmid(raw: &str) -> AppResult<u32> {
    raw.parse::<u32>()
        .ok()
        .filter(|id| (100..=999_999_999).contains(id))
        .ok_or_else(|| {
            AppError::with_message(
                ErrorCode::InvalidInput,
                "A guest id is a number from 100 to 999999999",
            )
        })
}

/// The guest and the engine, or 404 when it does not exist or the user may not see it.
async fn guest(
    state: &AppState,
    session: &CurrentSession,
    vmid: u32,
) -> AppResult<(Resource, Engine)> {
    let (snapshot, items) = acl::load::snapshot(&state.pve).await?;
    let engine = Engine::new(snapshot, naming(state));
    let found = items
        .into_iter()
        .find(|r| r.is_guest() && r.vmid == Some(vmid));
    match found {
        Some(r) if engine.guest_allows(&principal(session), vmid, GuestAction::View) => {
            Ok((r, engine))
        }
        _ => Err(AppError::with_message(
            ErrorCode::NotFound,
            format!("No guest {vmid}"),
        )),
    }
}

fn guest_path(r: &Resource, vmid: u32) -> AppResult<String> {
    let node = r.node.as_deref().ok_or_else(|| {
        AppError::with_message(
            ErrorCode::UpstreamError,
            "Proxmox did not say which node runs the guest",
        )
    })?;
    Ok(format!("nodes/{node}/{}/{vmid}", r.kind))
}

async fn status(
    State(state): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    Path(vmid): Path<String>,
) -> AppResult<Json<Value>> {
    let vmid = parse_vmid(&vmid)?;
    let (r, _) = guest(&state, &session, vmid).await?;
    let current: Value = state
        .pve
        .get(&format!("{}/status/current", guest_path(&r, vmid)?))
        .await?;
    Ok(Json(
        json!({ "data": current, "type": r.kind, "node": r.node }),
    ))
}

/// Body of a power request.
#[derive(Debug, Deserialize)]
pub struct PowerInput {
    action: String,
}

/// Power actions and their audit names; `reset` exists for QEMU only.
fn power_action(action: &str, kind: &str) -> Option<&'static str> {
    Some(match action {
        "start" => "VM_START",
        "stop" => "VM_STOP",
        "shutdown" => "VM_SHUTDOWN",
        "reboot" => "VM_REBOOT",
        "suspend" => "VM_SUSPEND",
        "resume" => "VM_RESUME",
        "reset" if kind == "qemu" => "VM_RESET",
        _ => return None,
    })
}

async fn power(
    State(state): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    client: ClientInfo,
    Path(vmid): Path<String>,
    body: Result<Json<PowerInput>, axum::extract::rejection::JsonRejection>,
) -> AppResult<Json<Value>> {
    let vmid = parse_vmid(&vmid)?;
    let Ok(Json(input)) = body else {
        return Err(AppError::with_message(
            ErrorCode::InvalidInput,
            "Send JSON: {\"action\": \"start\"}",
        ));
    };
    let who = actor(&session, &client);
    if let Err(wait) = state.ops.check(Preset::VmPower, session.username()) {
        state.audit.record(
            &who,
            "VM_POWER",
            &format!("vm:{vmid}"),
            Status::Warning,
            json!({ "reason": "rate_limited", "preset": Preset::VmPower.name() }),
        );
        let mut err = AppError::with_message(
            ErrorCode::RateLimited,
            format!("Too many power actions. Try again in {wait} seconds."),
        );
        err.retry_after = Some(wait);
        return Err(err);
    }
    let (r, engine) = guest(&state, &session, vmid).await?;
    let Some(audit_action) = power_action(&input.action, &r.kind) else {
        return Err(AppError::with_message(
            ErrorCode::InvalidInput,
            format!("Unknown power action '{}' for a {}: use start, stop, shutdown, reboot, suspend, resume{}", input.action, if r.kind == "lxc" { "container" } else { "VM" }, if r.kind == "qemu" { " or reset" } else { "" }),
        ));
    };
    if !engine.guest_allows(&principal(&session), vmid, GuestAction::Power) {
        state.audit.record(
            &who,
            audit_action,
            &format!("vm:{vmid}"),
            Status::Failure,
            json!({ "reason": "permission_denied" }),
        );
        return Err(AppError::with_message(
            ErrorCode::Forbidden,
            format!("You may not change the power state of guest {vmid}"),
        ));
    }
    let path = format!("{}/status/{}", guest_path(&r, vmid)?, input.action);
    match state.pve.post::<String>(&path, &[]).await {
        Ok(upid) => {
            state.audit.record(
                &who,
                audit_action,
                &format!("vm:{vmid}"),
                Status::Success,
                json!({ "node": r.node, "type": r.kind, "upid": upid }),
            );
            Ok(Json(json!({ "success": true, "upid": upid })))
        }
        Err(e) => {
            let err = AppError::from(e);
            state.audit.record(
                &who,
                audit_action,
                &format!("vm:{vmid}"),
                Status::Failure,
                json!({ "error": err.message }),
            );
            Err(err)
        }
    }
}
