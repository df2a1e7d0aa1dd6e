//! Live views over Socket.IO: the resource stream (`resources:watch`), and single guests and
//! nodes streamed while watched (`guest:watch`, `node:watch`).

use super::Socket;
use serde::Deserialize;
use serde_json::{json, Value};

use super::events::{on, parse};
use crate::acl::GuestAction;
use crate::audit::AuditAction;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::limits::Preset;
use crate::push::room;
use crate::pve::models::ResourceKind;
use crate::pve::path::{ApiPath, Node, Vmid};
use crate::services::watch::STREAM_EVERY;
use crate::services::{self, guests::TIMEFRAMES};
use crate::state::AppState;

/// Client events this module handles (each listed in `docs/realtime.md`).
pub const EVENTS: &[&str] = &[
    "resources:watch",
    "resources:unwatch",
    "guest:watch",
    "guest:unwatch",
    "node:watch",
    "node:unwatch",
];

#[derive(Debug, Deserialize)]
struct GuestIn {
    vmid: u64,
    #[serde(default)]
    timeframe: Option<String>,
}

#[derive(Debug, Deserialize)]
struct NodeIn {
    node: String,
    #[serde(default)]
    timeframe: Option<String>,
}

fn timeframe(t: Option<&str>) -> AppResult<&'static str> {
    let t = t.unwrap_or("hour");
    TIMEFRAMES
        .iter()
        .find(|x| **x == t)
        .copied()
        .ok_or_else(|| AppError::field("timeframe", "hour, day, week, month or year"))
}

/// Reads status and chart data of `base` (a guest or node path) and emits them to `room`
/// every few seconds until aborted.
fn stream(
    state: AppState,
    base: ApiPath,
    tf: &'static str,
    room: String,
    event: &'static str,
    id: Value,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(STREAM_EVERY);
        tick.tick().await;
        loop {
            tick.tick().await;
            let status = state
                .pve
                .get::<Value>(base.clone().then("status/current"))
                .await;
            let status = match status {
                Ok(s) => s,
                // Nodes have `status`, not `status/current`.
                Err(_) => state
                    .pve
                    .get::<Value>(base.clone().then("status"))
                    .await
                    .unwrap_or(Value::Null),
            };
            let rrd = state
                .pve
                .get_with::<Value>(
                    base.clone().then("rrddata"),
                    &[("timeframe", tf.to_owned()), ("cf", "AVERAGE".to_owned())],
                )
                .await
                .unwrap_or(Value::Null);
            let mut body = json!({ "status": status, "rrd": rrd, "timeframe": tf });
            if let (Value::Object(b), Value::Object(i)) = (&mut body, &id) {
                b.extend(i.clone());
            }
            state.io.emit_here(vec![room.clone()], event, &body).await;
        }
    })
}

/// Ends the watches of guests their watchers may no longer see — the guest was deleted, moved
/// to another pool, or an ACL changed — whenever the ACL view may have changed and at least
/// every [`STREAM_EVERY`]: the socket leaves the guest's rooms (its stream, its task events) and
/// is told with `guest:revoked {vmid, reason}`.
pub fn spawn_guard(state: AppState) {
    let mut changes = state.acl.changes();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                changed = changes.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
                () = tokio::time::sleep(STREAM_EVERY) => {}
            }
            let watches = state.streams.guest_watches();
            let boards = state.streams.board_watches();
            if watches.is_empty() && boards.is_empty() {
                continue;
            }
            let view = match state.acl.view().await {
                Ok(v) => v,
                Err(e) => {
                    tracing::debug!(error = %e, "watch re-check skipped: ACLs unreadable");
                    continue;
                }
            };
            for (sid, vmid, principal) in watches {
                let reason = match view.guest(vmid) {
                    None => "deleted",
                    Some(_)
                        if !view
                            .engine
                            .guest_allows(&principal, vmid, GuestAction::View) =>
                    {
                        "access removed"
                    }
                    Some(_) => continue,
                };
                let mut rooms = vec![room::guest(vmid)];
                for tf in TIMEFRAMES {
                    let key = room::guest_stream(vmid, tf);
                    state.streams.leave(&sid, Some(&key));
                    rooms.push(key);
                }
                state.streams.unguard(&sid, Some(vmid));
                state.io.tell_and_leave(
                    &sid,
                    rooms,
                    "guest:revoked",
                    json!({ "vmid": vmid, "reason": reason }),
                );
            }
            for (sid, pool, principal) in boards {
                let exists = view.resources.iter().any(|r| {
                    r.kind == ResourceKind::Pool && r.pool.as_deref() == Some(pool.as_str())
                });
                let reason = if !exists {
                    "deleted"
                } else if !view.engine.pool_access(&principal, &pool).see {
                    "access removed"
                } else {
                    continue;
                };
                super::whiteboard::revoke_board(&state, &sid, &pool, reason).await;
            }
        }
    });
}

/// Registers the live events on a new socket.
pub fn register(socket: &Socket) {
    on(socket, "resources:watch", async |state, caller, s, _d| {
        state.live.watch(&s, caller.principal.clone()).await
    });
    on(
        socket,
        "resources:unwatch",
        async |state, _caller, s, _d| {
            state.live.unwatch(&s.id.to_string());
            s.leave(crate::services::watch::WATCHERS_ROOM);
            Ok(json!({}))
        },
    );
    on(socket, "guest:watch", async |state, caller, s, d| {
        let i: GuestIn = parse(d)?;
        let vmid = Vmid::check("vmid", i.vmid)?;
        let tf = timeframe(i.timeframe.as_deref())?;
        services::limit(
            &state.ops(),
            &caller,
            Preset::Read,
            AuditAction::ViewVm,
            &format!("vm:{vmid}"),
        )
        .await?;
        let (g, _) = services::guest(
            &state.ops(),
            &caller,
            vmid,
            GuestAction::View,
            AuditAction::ViewVm,
        )
        .await?;
        let base = g.path("");
        let status: Value = state.pve.get(g.path("status/current")).await?;
        let rrd: Value = state
            .pve
            .get_with(
                g.path("rrddata"),
                &[("timeframe", tf.to_owned()), ("cf", "AVERAGE".to_owned())],
            )
            .await?;
        // Tasks of the guest go to `guest:<vmid>`; its stream to `guest:<vmid>:<timeframe>`.
        let key = room::guest_stream(vmid.0, tf);
        s.join(room::guest(vmid.0));
        s.join(key.clone());
        state
            .streams
            .guard_guest(&s.id.to_string(), vmid.0, caller.principal.clone());
        let st = state.clone();
        let room = key.clone();
        state.streams.join(&s.id.to_string(), &key, move || {
            stream(st, base, tf, room, "guest:update", json!({ "vmid": vmid }))
        });
        Ok(json!({
            "vmid": vmid, "type": g.kind(), "node": g.node(), "resource": g.resource(),
            "status": status, "rrd": rrd, "timeframe": tf,
        }))
    });
    on(socket, "guest:unwatch", async |state, _caller, s, d| {
        let i: GuestIn = parse(d)?;
        let sid = s.id.to_string();
        // A guest id out of range was never watched: nothing to leave.
        if let Ok(id) = u32::try_from(i.vmid) {
            for tf in TIMEFRAMES {
                let key = room::guest_stream(id, tf);
                state.streams.leave(&sid, Some(&key));
                s.leave(key);
            }
            s.leave(room::guest(id));
            state.streams.unguard(&sid, Some(id));
        }
        Ok(json!({ "vmid": i.vmid }))
    });
    on(socket, "node:watch", async |state, caller, s, d| {
        let i: NodeIn = parse(d)?;
        let node = Node::parse("node", &i.node)?;
        let tf = timeframe(i.timeframe.as_deref())?;
        services::limit(
            &state.ops(),
            &caller,
            Preset::Read,
            AuditAction::ViewNode,
            &format!("node:{node}"),
        )
        .await?;
        let view = services::view(&state.ops()).await?;
        if !view.engine.effective_admin(&caller.principal) {
            return Err(AppError::with_message(
                ErrorCode::Forbidden,
                "Only administrators may watch a node",
            ));
        }
        if !view
            .resources
            .iter()
            .any(|r| r.kind == ResourceKind::Node && r.node.as_deref() == Some(node.as_str()))
        {
            return Err(AppError::with_message(
                ErrorCode::NotFound,
                format!("No node {node}"),
            ));
        }
        let base = ApiPath::lit("nodes").seg(&node);
        let status: Value = state.pve.get(base.clone().then("status")).await?;
        let rrd: Value = state
            .pve
            .get_with(
                base.clone().then("rrddata"),
                &[("timeframe", tf.to_owned()), ("cf", "AVERAGE".to_owned())],
            )
            .await?;
        let key = room::node_stream(node.as_str(), tf);
        s.join(key.clone());
        let st = state.clone();
        let room = key.clone();
        let id = json!({ "node": node });
        state.streams.join(&s.id.to_string(), &key, move || {
            stream(st, base, tf, room, "node:update", id)
        });
        Ok(json!({ "node": node, "status": status, "rrd": rrd, "timeframe": tf }))
    });
    on(socket, "node:unwatch", async |state, _caller, s, d| {
        let i: NodeIn = parse(d)?;
        let sid = s.id.to_string();
        for tf in TIMEFRAMES {
            let key = format!("node:{}:{tf}", i.node);
            state.streams.leave(&sid, Some(&key));
            s.leave(key);
        }
        Ok(json!({ "node": i.node }))
    });
}
