//! Chat over Socket.IO: the original's events with their names and payloads, each now checked
//! (typed payload, per-socket and per-user rate, payload cap) and acknowledged with `{ok, …}` or
//! `{error: {code, message}}`. Refusals also emit the original's `error {message}` to the socket.
//! On connect a socket joins the public channel, the rooms of its groups and the shared
//! whiteboard's room, and its user shows as online.

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;

use super::Socket;
use parking_lot::Mutex;
use serde::Deserialize;
use serde_json::{json, Value};
use uma_actors::emit::{Emit, Emitter as _};

use crate::push::room;
use uma_actors::presence::PresenceMsg;

use super::SocketSession;
use crate::audit::AuditAction;
use crate::audit::Status;
use crate::auth::Caller;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::limits::events::Rejection;
use crate::services::chat::{self, ChatSettings, Op};
use crate::state::AppState;

/// Client events this module handles (each listed in `docs/realtime.md`).
pub const EVENTS: &[&str] = &[
    "send_message",
    "edit_message",
    "delete_message",
    "add_reaction",
    "typing",
    "mark_read",
    "get_online_users",
    "join_group",
];

/// Boards a socket joined, so a disconnect leaves them.
#[derive(Debug, Clone, Default)]
pub struct JoinedBoards(pub Arc<Mutex<HashSet<String>>>);

/// The event's rate (per socket and per user) and payload cap, on `size` bytes as received.
pub(crate) async fn checked_size(
    state: &AppState,
    caller: &Caller,
    event: &'static str,
    sid: &str,
    size: usize,
) -> AppResult<()> {
    let Err(rejection) = state
        .event_limits
        .check(event, sid, caller.username(), size)
        .await
    else {
        return Ok(());
    };
    let max = crate::limits::events::cap_of(event);
    let (err, reason) = match rejection {
        Rejection::RateLimited { retry_after } => {
            let mut e = AppError::with_message(
                ErrorCode::RateLimited,
                format!("{event} rate limit exceeded."),
            );
            e.retry_after = Some(retry_after);
            (e, "rate_limited")
        }
        Rejection::TooLarge { .. } => (
            AppError::with_message(
                ErrorCode::PayloadTooLarge,
                format!("{event} payload too large."),
            ),
            "payload_too_large",
        ),
    };
    if state.event_limits.should_audit(sid, event) {
        state.audit.record(
            &caller.actor,
            AuditAction::SocketEventRejected,
            &format!("socket:{event}"),
            Status::Warning,
            json!({ "reason": reason, "payloadSize": size, "maxPayloadBytes": max }),
        );
    }
    Err(err)
}

pub(crate) use super::events::Gate;

/// Registers a chat or whiteboard event: who may send it, then its rate and payload cap on the
/// payload as received (never parsed when refused), then the typed handler under its own
/// operation id; the ack is `{ok, …}` or `{error: {code, message}}`, and a refusal also emits
/// the original's `error {message}`.
pub fn on<F, Fut>(socket: &Socket, event: &'static str, work: F)
where
    F: Fn(AppState, Caller, Socket, Value) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = AppResult<Value>> + Send + 'static,
{
    on_gated(socket, event, Gate::Anyone, work);
}

/// [`on`] with a gate.
pub(crate) fn on_gated<F, Fut>(socket: &Socket, event: &'static str, gate: Gate, work: F)
where
    F: Fn(AppState, Caller, Socket, Value) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = AppResult<Value>> + Send + 'static,
{
    super::events::on_with(
        socket,
        event,
        super::events::Style {
            gate,
            limited: true,
            emit_error: true,
        },
        work,
    );
}

pub(crate) use super::events::{caller_of, parse};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GroupRef {
    group_id: String,
}

/// Registers the chat events on a new socket (synchronously, before any wait).
pub fn register(socket: &Socket) {
    socket.extensions.insert(JoinedBoards::default());
    on(socket, "send_message", async |state, caller, s, d| {
        let message = chat::send(&state.chat, &caller, parse(d)?).await?;
        let _ = s.emit("message_sent", &message);
        Ok(json!({ "message": message }))
    });
    on(socket, "edit_message", async |state, caller, _s, d| {
        let message = chat::change(&state.chat, &caller, Op::Edit, parse(d)?).await?;
        Ok(json!({ "message": message }))
    });
    on(socket, "delete_message", async |state, caller, _s, d| {
        let message = chat::change(&state.chat, &caller, Op::Delete, parse(d)?).await?;
        Ok(json!({ "message": message }))
    });
    on(socket, "add_reaction", async |state, caller, _s, d| {
        let message = chat::change(&state.chat, &caller, Op::Other, parse(d)?).await?;
        let added = message.get("reactionAdded").cloned().unwrap_or(Value::Null);
        Ok(json!({ "message": message, "added": added }))
    });
    on(socket, "typing", async |state, caller, _s, d| {
        chat::typing(&state.chat, &caller, parse(d)?).await
    });
    on(socket, "mark_read", async |state, caller, _s, d| {
        chat::mark_read(&state.chat, &caller, parse(d)?).await
    });
    on(socket, "get_online_users", async |state, caller, s, _d| {
        let users = chat::online_users(&state.chat, &caller).await?;
        let _ = s.emit("online_users_list", &users);
        Ok(json!({ "users": users }))
    });
    on(socket, "join_group", async |state, caller, s, d| {
        let group_id = match d {
            Value::String(id) => id,
            other => parse::<GroupRef>(other)?.group_id,
        };
        let me = chat::user_of(&state.chat, &caller).await?;
        let resource = format!("chat:group:{group_id}");
        if !state.store.is_group_member(&group_id, &me.id).await? {
            let err =
                AppError::with_message(ErrorCode::Forbidden, "Not authorized to join this group.");
            state
                .audit
                .refused(&caller.actor, AuditAction::ChatGroupJoin, &resource, &err);
            return Err(err);
        }
        s.join(room::chat_group(&group_id));
        state.audit.record(
            &caller.actor,
            AuditAction::ChatGroupJoin,
            &resource,
            Status::Success,
            json!({}),
        );
        Ok(json!({ "groupId": group_id }))
    });
}

/// After the handlers are in place: the user's row, presence, the public channel and group rooms,
/// the shared whiteboard's room, and delivery receipts for what arrived while they were away.
pub async fn connected(state: &AppState, socket: &Socket) {
    let Some(caller) = caller_of(socket, state) else {
        return;
    };
    let display = socket
        .extensions
        .get::<SocketSession>()
        .and_then(|SocketSession(s)| s.record.display_name.clone());
    let user = match state
        .store
        .find_or_create_user(caller.username(), display.as_deref())
        .await
    {
        Ok(u) => u,
        Err(e) => {
            tracing::error!(error = %e, "chat: cannot load the user; the socket works without chat");
            return;
        }
    };
    let sid = socket.id.to_string();
    let _ = state.chat.presence.get().cast(PresenceMsg::Connected {
        username: user.username.clone(),
        sid: sid.clone(),
        visible: ChatSettings::of(&user).show_online_status,
    });
    socket.join(room::board(crate::services::whiteboard::DEFAULT_BOARD));
    match chat::public_channel(&state.chat, &user).await {
        Ok(g) => socket.join(room::chat_group(&g.id)),
        Err(e) => tracing::warn!(error = %e, "chat: public channel unavailable"),
    }
    if let Ok(groups) = state.store.groups_of_user(&user.id).await {
        socket.join(
            groups
                .iter()
                .map(|g| room::chat_group(&g.id))
                .collect::<Vec<_>>(),
        );
    }
    state.audit.record(
        &caller.actor,
        AuditAction::SocketConnect,
        &format!("socket:{sid}"),
        Status::Success,
        json!({}),
    );
    deliver_pending(state, &user).await;
    if !socket.connected() {
        // It left while we were setting it up: undo its presence.
        let _ = state.chat.presence.get().cast(PresenceMsg::Disconnected {
            username: user.username,
            sid,
        });
    }
}

/// Marks what was sent to `user` while offline delivered and tells the senders
/// (`messages_delivered`).
async fn deliver_pending(state: &AppState, user: &crate::store::auth::User) {
    let pending = match state.store.mark_delivered_to(&user.id).await {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(error = %e, "chat: delivery receipts failed");
            return;
        }
    };
    let mut by_sender: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for (message, sender) in pending {
        by_sender.entry(sender).or_default().push(message);
    }
    let ids: Vec<String> = by_sender.keys().cloned().collect();
    let senders = state.store.users_by_ids(&ids).await.unwrap_or_default();
    for sender in senders {
        let Some(messages) = by_sender.remove(&sender.id) else {
            continue;
        };
        state
            .emitter
            .emit(Emit::to(
                vec![room::user(&sender.username)],
                "messages_delivered",
                json!({ "to": user.username, "messageIds": messages }),
            ))
            .await;
    }
}

/// The socket left: presence, the boards it was on, the audit row.
pub async fn disconnected(state: &AppState, socket: &Socket) {
    let sid = socket.id.to_string();
    let Some(caller) = caller_of(socket, state) else {
        return;
    };
    let _ = state.chat.presence.get().cast(PresenceMsg::Disconnected {
        username: caller.username().to_owned(),
        sid: sid.clone(),
    });
    if let Some(JoinedBoards(boards)) = socket.extensions.get::<JoinedBoards>() {
        let boards: Vec<String> = boards.lock().drain().collect();
        for board in boards {
            state
                .whiteboards
                .actors
                .tell_running(
                    &board,
                    uma_actors::whiteboard::BoardMsg::Leave { sid: sid.clone() },
                )
                .await;
        }
    }
    state.audit.record(
        &caller.actor,
        AuditAction::SocketDisconnect,
        &format!("socket:{sid}"),
        Status::Success,
        json!({}),
    );
}
