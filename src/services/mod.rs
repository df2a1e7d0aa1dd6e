//! Proxmox operations as services, shared by the REST routes and the Socket.IO events: who is
//! asking ([`Caller`]), which guest ([`Guest`], resolved and permission-checked through the ACL
//! view), rate limits, quotas and the audit row every action writes.

pub mod cluster;
pub mod nodes;

pub mod consoles;
pub mod guests;
pub mod pools;
pub mod quota;

use std::sync::Arc;

use serde_json::json;

use crate::acl::cache::View;
use crate::acl::GuestAction;
use crate::audit::AuditAction;
use crate::audit::Status;
use crate::auth::Caller;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::limits::Preset;
use crate::pve::path::Vmid;

pub use crate::acl::owned::Guest;

/// What the Proxmox services use, and nothing else: each service is a function of `&Ops`, the
/// caller and its typed input. Handlers get it from the application state
/// (`State<Ops>`, through `FromRef`); every field is a cheap handle.
#[derive(Clone)]
pub struct Ops {
    /// Validated configuration.
    pub config: Arc<crate::config::Config>,
    /// The database.
    pub store: crate::store::Store,
    /// The Proxmox client (Uma's one token).
    pub pve: crate::pve::PveClient,
    /// The shared ACL view.
    pub acl: Arc<crate::acl::cache::AclCache>,
    /// The audit log.
    pub audit: crate::audit::Audit,
    /// Per-user limits of Proxmox operations.
    pub limits: crate::limits::OpLimits,
    /// Quota reservations.
    pub quotas: Arc<quota::QuotaBook>,
    /// SDN apply cooldown and the VNet creation lock.
    pub sdn: Arc<sdn::SdnGate>,
    /// Follows the Proxmox tasks Uma starts.
    pub tasks: crate::services::tasks::Tasks,
    /// Redis, when configured (the SDN cooldown across instances).
    pub redis: Option<fred::clients::Client>,
    /// The consoles supervisor (open consoles, the per-user maximum).
    pub consoles: uma_actors::root::Slot<uma_actors::consoles::ConsolesMsg>,
}

impl std::fmt::Debug for Ops {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ops")
            .field("pve", &self.pve)
            .finish_non_exhaustive()
    }
}

/// Checks a typed input's declared rules (`validator`); the first failing field becomes a
/// `400 invalid_input` naming it as the client spells it (camelCase) with the rule's message.
pub fn validated<T: validator::Validate>(input: &T) -> AppResult<()> {
    let Err(errors) = input.validate() else {
        return Ok(());
    };
    let mut fields: Vec<(String, &Vec<validator::ValidationError>)> = errors
        .field_errors()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    fields.sort_by(|a, b| a.0.cmp(&b.0));
    let Some((field, errs)) = fields.first() else {
        return Err(AppError::with_message(
            ErrorCode::InvalidInput,
            "Invalid input",
        ));
    };
    let reason = errs
        .first()
        .and_then(|e| e.message.as_ref().map(ToString::to_string))
        .unwrap_or_else(|| "is not valid".to_owned());
    Err(AppError::field(&camel(field), reason))
}

fn camel(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut up = false;
    for c in snake.chars() {
        if c == '_' {
            up = true;
        } else if up {
            out.extend(c.to_uppercase());
            up = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Counts one call of a REST route against its budget (`api:<route>` in `limits::events`): `429`
/// with `Retry-After` when over, audited as a `WARNING` of `action`. Shared by the chat,
/// whiteboard, settings, docs and notification routes.
pub async fn api_budget(
    limits: &crate::limits::events::EventLimits,
    audit: &crate::audit::Audit,
    caller: &Caller,
    route: &str,
    action: AuditAction,
) -> AppResult<()> {
    let Err(rejection) = limits.check_api(route, caller.username()).await else {
        return Ok(());
    };
    let retry_after = match rejection {
        crate::limits::events::Rejection::RateLimited { retry_after } => retry_after,
        crate::limits::events::Rejection::TooLarge { .. } => 1,
    };
    audit.record(
        &caller.actor,
        action,
        route,
        Status::Warning,
        json!({ "reason": "rate_limited", "retryAfter": retry_after }),
    );
    let mut err = AppError::with_message(
        ErrorCode::RateLimited,
        format!("Rate limit exceeded. Please try again in {retry_after} seconds."),
    );
    err.retry_after = Some(retry_after);
    Err(err)
}

/// A request body that must be a JSON object.
pub fn json_object(
    body: &serde_json::Value,
) -> AppResult<&serde_json::Map<String, serde_json::Value>> {
    body.as_object()
        .ok_or_else(|| AppError::with_message(ErrorCode::InvalidInput, "Send a JSON object"))
}

/// The shared ACL view (cached briefly).
pub async fn view(ops: &Ops) -> AppResult<Arc<View>> {
    Ok(ops.acl.view().await?)
}

/// Resolves a guest the caller may see and checks `need` (through the caller's permits). A
/// guest the caller may not see is "not found" (its existence is not revealed); one they see
/// but may not act on is 403. Either refusal writes a `FAILURE` row under `action`.
pub async fn guest(
    ops: &Ops,
    caller: &Caller,
    vmid: Vmid,
    need: GuestAction,
    action: AuditAction,
) -> AppResult<(Guest, Arc<View>)> {
    let mut view = view(ops).await?;
    if view.guest(vmid.0).is_none() {
        // It may be new since the cached view: look again before saying it does not exist.
        view = ops.acl.reload().await?;
    }
    match view.permits(&caller.principal).guest(vmid, need) {
        Ok(g) => Ok((g, view)),
        Err(err) => {
            ops.audit.record(
                &caller.actor,
                action,
                &format!("vm:{vmid}"),
                Status::Failure,
                json!({ "error": err.message, "code": err.code.as_str(), "need": need.privileges() }),
            );
            Err(err)
        }
    }
}

/// Counts one `preset` action for the caller; refuses with 429 (`Retry-After`) and a `WARNING`
/// audit row when over the limit.
pub async fn limit(
    ops: &Ops,
    caller: &Caller,
    preset: Preset,
    action: AuditAction,
    resource: &str,
) -> AppResult<()> {
    if let Err(wait) = ops.limits.check(preset, caller.username()).await {
        ops.audit.record(
            &caller.actor,
            action,
            resource,
            Status::Warning,
            json!({ "reason": "rate_limited", "preset": preset.name(), "retryAfter": wait }),
        );
        let mut err = AppError::with_message(
            ErrorCode::RateLimited,
            format!("Rate limit exceeded. Please try again in {wait} seconds."),
        );
        err.retry_after = Some(wait);
        return Err(err);
    }
    Ok(())
}

// SDN, replication, and Proxmox roles/users (declared here, at the end, to stay clear of the
// modules above).
pub mod access;
pub mod accounts;
pub mod chat;
pub mod cluster_feed;
pub mod docs;
pub mod notifications;
pub mod previews;
pub mod replication;
pub mod sdn;
pub mod tasks;
pub mod uploads;
pub mod watch;
pub mod whiteboard;
