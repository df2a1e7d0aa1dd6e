//! Proxmox operations as services, shared by the REST routes and the Socket.IO events: who is
//! asking ([`Caller`]), which guest ([`Guest`], resolved and permission-checked through the ACL
//! view), rate limits, quotas and the audit row every action writes.

pub mod cluster;
pub mod config;
pub mod guests;
pub mod pools;
pub mod quota;

use std::future::Future;
use std::sync::Arc;

use serde_json::{json, Value};

use crate::acl::cache::View;
use crate::acl::GuestAction;
use crate::audit::Status;
use crate::auth::Caller;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::limits::Preset;
use crate::pve::path::Vmid;

pub use crate::acl::owned::Guest;
use crate::state::AppState;

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

/// The shared ACL view (cached briefly).
pub async fn view(state: &AppState) -> AppResult<Arc<View>> {
    Ok(state.acl.view().await?)
}

/// Resolves a guest the caller may see and checks `need` (through the caller's permits). A
/// guest the caller may not see is "not found" (its existence is not revealed); one they see
/// but may not act on is 403. Either refusal writes a `FAILURE` row under `action`.
pub async fn guest(
    state: &AppState,
    caller: &Caller,
    vmid: Vmid,
    need: GuestAction,
    action: &str,
) -> AppResult<(Guest, Arc<View>)> {
    let mut view = view(state).await?;
    if view.guest(vmid.0).is_none() {
        // It may be new since the cached view: look again before saying it does not exist.
        view = state.acl.reload().await?;
    }
    match view.permits(&caller.principal).guest(vmid, need) {
        Ok(g) => Ok((g, view)),
        Err(err) => {
            state.audit.record(
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

/// Runs `check` and writes a `FAILURE` row under `action` when it refuses.
pub fn checked<T>(
    state: &AppState,
    caller: &Caller,
    action: &str,
    resource: &str,
    check: AppResult<T>,
) -> AppResult<T> {
    check.inspect_err(|err| refused(state, caller, action, resource, err))
}

/// Counts one `preset` action for the caller; refuses with 429 (`Retry-After`) and a `WARNING`
/// audit row when over the limit.
pub async fn limit(
    state: &AppState,
    caller: &Caller,
    preset: Preset,
    action: &str,
    resource: &str,
) -> AppResult<()> {
    if let Err(wait) = state.ops.check(preset, caller.username()).await {
        state.audit.record(
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

/// Runs `work` and writes its one audit row: `SUCCESS` with `details` (plus what `work` adds),
/// or `FAILURE` with the error the user saw.
pub async fn audited<T, F>(
    state: &AppState,
    caller: &Caller,
    action: &str,
    resource: &str,
    details: Value,
    work: F,
) -> AppResult<T>
where
    F: Future<Output = AppResult<(T, Value)>>,
{
    match work.await {
        Ok((value, extra)) => {
            state.audit.record(
                &caller.actor,
                action,
                resource,
                Status::Success,
                merge(details, extra),
            );
            Ok(value)
        }
        Err(err) => {
            state.audit.record(
                &caller.actor,
                action,
                resource,
                Status::Failure,
                merge(
                    details,
                    json!({ "error": err.message, "code": err.code.as_str() }),
                ),
            );
            Err(err)
        }
    }
}

/// Writes a `FAILURE` row for a request refused before any work (bad input, no permission).
pub fn refused(state: &AppState, caller: &Caller, action: &str, resource: &str, err: &AppError) {
    state.audit.record(
        &caller.actor,
        action,
        resource,
        Status::Failure,
        json!({ "error": err.message, "code": err.code.as_str() }),
    );
}

fn merge(mut base: Value, extra: Value) -> Value {
    match (&mut base, extra) {
        (Value::Object(b), Value::Object(e)) => {
            b.extend(e);
            base
        }
        (Value::Null, e) => e,
        (_, Value::Null) => base,
        (_, e) => json!({ "details": base, "result": e }),
    }
}

// SDN, replication, and Proxmox roles/users (declared here, at the end, to stay clear of the
// modules above).
pub mod access;
pub mod replication;
pub mod sdn;
