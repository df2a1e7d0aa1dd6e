//! Proxmox operations over Socket.IO: the same services as the REST routes, as events with acks.
//! Every ack is `{ok: true, …result}` or `{error: {code, message, field?}}`; actions that start a
//! Proxmox task return its `upid`, and the task's progress then arrives as `task:*` events.

use std::future::Future;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use socketioxide::extract::{AckSender, State};

use super::payload::RawPayload;

use super::Socket;
use crate::push::adapter::Adapter;

use super::SocketSession;
use crate::auth::client::ClientInfo;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::ops::guests::{self, CloneInput, ConfigChange, CreateCt, CreateVm, FirewallRule};
use crate::ops::Caller;
use crate::pve::path::Vmid;
use crate::state::AppState;

/// Client events this module handles (each listed in `docs/realtime.md`).
pub const EVENTS: &[&str] = &[
    "vm:power",
    "vm:snapshot",
    "vm:clone",
    "vm:create",
    "vm:delete",
    "vm:config",
    "vm:resize",
    "vm:backup",
    "vm:restore",
    "vm:firewall",
    "task:status",
];

pub(crate) fn caller_of(socket: &Socket, state: &AppState) -> Option<Caller> {
    let SocketSession(session) = socket.extensions.get::<SocketSession>()?;
    super::note_activity(socket, state, &session);
    let parts = socket.req_parts();
    let client = ClientInfo::of(&state.config, &parts.extensions, &parts.headers);
    Some(Caller::new(&session, Some(client.ip), client.user_agent))
}

pub(crate) fn parse<T: DeserializeOwned>(data: Value) -> AppResult<T> {
    serde_json::from_value(data).map_err(|e| {
        AppError::with_message(ErrorCode::InvalidInput, format!("Invalid payload: {e}"))
    })
}

/// `{ok: true, …v}` (or `{ok: true, data: v}` when `v` is not an object).
pub(crate) fn ok_body(v: Value) -> Value {
    match v {
        Value::Object(mut m) => {
            m.insert("ok".into(), Value::Bool(true));
            Value::Object(m)
        }
        other => json!({ "ok": true, "data": other }),
    }
}

/// Who may send an event, checked before its payload is read.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) enum Gate {
    /// Any signed-in user.
    #[default]
    Anyone,
    /// Admins only: the action (`save`, `clear`) and its audit action.
    Admin(&'static str, &'static str),
}

/// How an event is handled beyond the common steps.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Style {
    /// Who may send it.
    pub gate: Gate,
    /// Apply the event's per-socket and per-user rates too (chat and whiteboard); every event's
    /// payload cap applies either way.
    pub limited: bool,
    /// Also emit the original's `error {message}` to the socket on failure.
    pub emit_error: bool,
}

/// Registers `event`: decodes the payload, runs `work` with the caller under its own operation
/// id, and acks the result.
pub(crate) fn on<F, Fut>(socket: &Socket, event: &'static str, work: F)
where
    F: Fn(AppState, Caller, Socket, Value) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = AppResult<Value>> + Send + 'static,
{
    on_with(socket, event, Style::default(), work);
}

/// Registers `event` as `style` says: who may send it, then its payload cap (and rates) on the
/// payload as received — never parsed when refused — then the typed handler under its own
/// operation id; the ack is `{ok, …}` or `{error: {code, message}}`.
pub(crate) fn on_with<F, Fut>(socket: &Socket, event: &'static str, style: Style, work: F)
where
    F: Fn(AppState, Caller, Socket, Value) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = AppResult<Value>> + Send + 'static,
{
    socket.on(
        event,
        move |s: Socket,
              raw: RawPayload,
              ack: AckSender<Adapter>,
              State(state): State<AppState>| {
            let work = work.clone();
            async move {
                let id = crate::opid::generate();
                let span = tracing::info_span!("event", op_id = %id, event);
                let result = crate::opid::scope(
                    id,
                    tracing::Instrument::instrument(
                        async {
                            let caller = caller_of(&s, &state)
                                .ok_or_else(|| AppError::new(ErrorCode::Unauthorized))?;
                            if let Gate::Admin(what, action) = style.gate {
                                if !caller.is_admin() {
                                    let err = AppError::with_message(
                                        ErrorCode::Forbidden,
                                        format!("Only admins can {what} whiteboard state."),
                                    );
                                    crate::ops::refused(
                                        &state,
                                        &caller,
                                        action,
                                        "whiteboard",
                                        &err,
                                    );
                                    return Err(err);
                                }
                            }
                            // Measured before anything is parsed.
                            if style.limited {
                                super::chat::checked_size(
                                    &state,
                                    &caller,
                                    event,
                                    &s.id.to_string(),
                                    raw.size,
                                )
                                .await?;
                            } else {
                                let cap = crate::limits::events::cap_of(event);
                                if raw.size > cap {
                                    return Err(AppError::with_message(
                                        ErrorCode::PayloadTooLarge,
                                        format!("{event} payload too large: at most {cap} bytes."),
                                    ));
                                }
                            }
                            let data = raw.decode().map_err(|e| {
                                AppError::with_message(
                                    ErrorCode::InvalidInput,
                                    format!("Invalid payload: {e}"),
                                )
                            })?;
                            work(state.clone(), caller, s.clone(), data).await
                        },
                        span,
                    ),
                )
                .await;
                let body = match result {
                    Ok(v) => ok_body(v),
                    Err(e) => {
                        if let Some(src) = &e.source {
                            tracing::warn!(event, error = %format!("{src:#}"), "event failed");
                        }
                        if style.emit_error {
                            let _ = s.emit("error", &json!({ "message": e.message }));
                        }
                        e.ack_body()
                    }
                };
                if let Err(e) = ack.send(&body) {
                    tracing::debug!(event, error = %e, "ack not delivered");
                }
            }
        },
    );
}

#[derive(Debug, Deserialize)]
struct VmidOnly {
    vmid: u64,
}

#[derive(Debug, Deserialize)]
struct PowerIn {
    vmid: u64,
    action: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SnapshotIn {
    vmid: u64,
    /// `create` (default), `delete` or `rollback`.
    #[serde(default)]
    op: Option<String>,
    snapname: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    vmstate: bool,
}

#[derive(Debug, Deserialize)]
struct CreateIn {
    node: String,
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(flatten)]
    rest: serde_json::Map<String, Value>,
}

#[derive(Debug, Deserialize)]
struct ConfigIn {
    vmid: u64,
    #[serde(flatten)]
    change: ConfigChange,
}

#[derive(Debug, Deserialize)]
struct ResizeIn {
    vmid: u64,
    disk: String,
    size: String,
    #[serde(default, rename = "override")]
    override_quota: bool,
}

#[derive(Debug, Deserialize)]
struct BackupIn {
    vmid: u64,
    #[serde(default)]
    storage: Option<String>,
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    compress: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RestoreIn {
    vmid: u64,
    archive: String,
    #[serde(default, rename = "override")]
    override_quota: bool,
}

#[derive(Debug, Deserialize)]
struct FirewallIn {
    vmid: u64,
    /// `add` or `delete`.
    op: String,
    #[serde(default)]
    rule: Option<FirewallRule>,
    #[serde(default)]
    pos: Option<u32>,
}

#[derive(Debug, Deserialize)]
struct TaskIn {
    upid: String,
    #[serde(default)]
    logs: bool,
}

fn vmid(id: u64) -> AppResult<Vmid> {
    Vmid::check("vmid", id)
}

/// Registers the operation events on a new socket.
pub fn register(socket: &Socket) {
    on(socket, "vm:power", async |state, caller, _s, d| {
        let i: PowerIn = parse(d)?;
        Ok(json!(
            guests::power(&state, &caller, vmid(i.vmid)?, &i.action).await?
        ))
    });
    on(socket, "vm:snapshot", async |state, caller, _s, d| {
        let i: SnapshotIn = parse(d)?;
        let id = vmid(i.vmid)?;
        let started = match i.op.as_deref().unwrap_or("create") {
            "create" => {
                guests::snapshot_create(
                    &state,
                    &caller,
                    id,
                    &i.snapname,
                    i.description.as_deref(),
                    i.vmstate,
                )
                .await?
            }
            "delete" => guests::snapshot_delete(&state, &caller, id, &i.snapname).await?,
            "rollback" => guests::snapshot_rollback(&state, &caller, id, &i.snapname).await?,
            _ => return Err(AppError::field("op", "create, delete or rollback")),
        };
        Ok(json!(started))
    });
    on(socket, "vm:clone", async |state, caller, _s, d| {
        let i: CloneInput = parse(d)?;
        Ok(json!(guests::clone(&state, &caller, i).await?))
    });
    on(socket, "vm:create", async |state, caller, _s, d| {
        let i: CreateIn = parse(d)?;
        let started = match i.kind.as_deref().unwrap_or("qemu") {
            "qemu" => {
                let input: CreateVm = parse(Value::Object(i.rest))?;
                guests::create_vm(&state, &caller, &i.node, input).await?
            }
            "lxc" => {
                let input: CreateCt = parse(Value::Object(i.rest))?;
                guests::create_ct(&state, &caller, &i.node, input).await?
            }
            _ => return Err(AppError::field("type", "qemu or lxc")),
        };
        Ok(json!(started))
    });
    on(socket, "vm:delete", async |state, caller, _s, d| {
        let i: VmidOnly = parse(d)?;
        Ok(json!(guests::delete(&state, &caller, vmid(i.vmid)?).await?))
    });
    on(socket, "vm:config", async |state, caller, _s, d| {
        let i: ConfigIn = parse(d)?;
        guests::update_config(&state, &caller, vmid(i.vmid)?, i.change).await
    });
    on(socket, "vm:resize", async |state, caller, _s, d| {
        let i: ResizeIn = parse(d)?;
        Ok(json!(
            guests::resize(
                &state,
                &caller,
                vmid(i.vmid)?,
                &i.disk,
                &i.size,
                i.override_quota
            )
            .await?
        ))
    });
    on(socket, "vm:backup", async |state, caller, _s, d| {
        let i: BackupIn = parse(d)?;
        Ok(json!(
            guests::backup(
                &state,
                &caller,
                vmid(i.vmid)?,
                i.storage.as_deref(),
                i.mode.as_deref(),
                i.compress.as_deref()
            )
            .await?
        ))
    });
    on(socket, "vm:restore", async |state, caller, _s, d| {
        let i: RestoreIn = parse(d)?;
        Ok(json!(
            guests::restore(&state, &caller, vmid(i.vmid)?, &i.archive, i.override_quota).await?
        ))
    });
    on(socket, "vm:firewall", async |state, caller, _s, d| {
        let i: FirewallIn = parse(d)?;
        let id = vmid(i.vmid)?;
        match i.op.as_str() {
            "add" => {
                let rule = i.rule.ok_or_else(|| AppError::field("rule", "required"))?;
                guests::firewall_add(&state, &caller, id, &rule).await
            }
            "delete" => {
                let pos = i.pos.ok_or_else(|| AppError::field("pos", "required"))?;
                guests::firewall_delete(&state, &caller, id, pos).await
            }
            _ => Err(AppError::field("op", "add or delete")),
        }
    });
    on(socket, "task:status", async |state, caller, _s, d| {
        let i: TaskIn = parse(d)?;
        crate::ops::cluster::task_status(&state, &caller, &i.upid, None, i.logs).await
    });
}
