//! Registering a Socket.IO event: one path for every handler (`on`, `on_with`). Each event's
//! payload is sized against its cap before it is parsed, the socket's session and client make
//! the [`Caller`], and the ack is `{ok: true, …result}` or `{error: {code, message, field?}}`.

use std::future::Future;

use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use socketioxide::extract::{AckSender, State};

use super::payload::RawPayload;

use super::Socket;
use crate::audit::AuditAction;
use crate::push::adapter::Adapter;

use super::SocketSession;
use crate::auth::client::ClientInfo;
use crate::auth::Caller;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::state::AppState;

/// The [`Caller`] of an event: the socket's session (its activity extends it) and client.
pub(crate) fn caller_of(socket: &Socket, state: &AppState) -> Option<Caller> {
    let SocketSession(session) = socket.extensions.get::<SocketSession>()?;
    super::note_activity(socket, state, &session);
    let parts = socket.req_parts();
    let client = ClientInfo::of(&state.config, &parts.extensions, &parts.headers);
    Some(Caller::new(&session, Some(client.ip), client.user_agent))
}

/// Whether a read-only API token may send `event`: watching (every event of the watch module),
/// and asking how a task went.
fn for_reading(event: &str) -> bool {
    super::watch::EVENTS.contains(&event) || event == "task:status"
}

/// Whether the socket was opened with a read-only API token.
fn read_only(socket: &Socket) -> bool {
    socket
        .extensions
        .get::<SocketSession>()
        .is_some_and(|SocketSession(s)| {
            s.token
                .as_ref()
                .is_some_and(|t| t.scope == crate::auth::tokens::Scope::Read)
        })
}

/// Refuses a sensitive event (`step_up_required`) unless the socket's person gave a second
/// factor recently (their session is read again: a step-up happens after the socket opened).
pub(crate) async fn recent_factor(state: &AppState, socket: &Socket) -> AppResult<()> {
    let SocketSession(session) = socket
        .extensions
        .get::<SocketSession>()
        .ok_or_else(|| AppError::new(ErrorCode::Unauthorized))?;
    if session.token.is_some() {
        return Ok(());
    }
    let record = state
        .records
        .get(&session.record.id)
        .await?
        .ok_or_else(|| AppError::new(ErrorCode::Unauthorized))?;
    crate::auth::factors::ensure_recent(&state.store, &record, crate::store::now_ms()).await
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
    Admin(&'static str, AuditAction),
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
                            if read_only(&s) && !for_reading(event) {
                                return Err(AppError::with_message(
                                    ErrorCode::Forbidden,
                                    "This API token is read-only.",
                                ));
                            }
                            if let Gate::Admin(what, action) = style.gate {
                                if !caller.is_admin() {
                                    let err = AppError::with_message(
                                        ErrorCode::Forbidden,
                                        format!("Only admins can {what} whiteboard state."),
                                    );
                                    state
                                        .audit
                                        .refused(&caller.actor, action, "whiteboard", &err);
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
