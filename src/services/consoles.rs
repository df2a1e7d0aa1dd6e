//! Browser consoles as a service: the VNC ticket, the checks before a console opens, the audit
//! rows of opened and closed consoles, and the administrators' list. The WebSocket bridge is
//! `http/consoles.rs`; the consoles themselves are `ConsoleSession` actors.

use serde_json::{json, Value};
use uma_actors::consoles::{ConsoleEvents, ConsoleInfo, ConsolesMsg, OpenRefused};

use super::{limit, Guest, Ops};
use crate::acl::GuestAction;
use crate::audit::AuditAction;
use crate::audit::{Audit, Status};
use crate::auth::Caller;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::limits::Preset;
use crate::pve::path::{GuestKind, Node, Vmid};
use crate::services;

/// A console ticket for a guest: what the browser needs to open `/api/proxy/vnc`.
pub async fn ticket(ops: &Ops, caller: &Caller, vmid: Vmid) -> AppResult<Value> {
    let resource = format!("vm:{vmid}");
    limit(
        ops,
        caller,
        Preset::VmPower,
        AuditAction::VmConsoleTicket,
        &resource,
    )
    .await?;
    let (g, _) = services::guest(
        ops,
        caller,
        vmid,
        GuestAction::Console,
        AuditAction::VmConsoleTicket,
    )
    .await?;
    if let Err(err) = below_limit(ops, caller).await {
        ops.audit
            .refused(&caller.actor, AuditAction::VmConsoleTicket, &resource, &err);
        return Err(err);
    }
    if g.resource().status.as_deref() != Some("running") {
        let err = AppError::with_message(
            ErrorCode::Conflict,
            format!(
                "{} {vmid} is not running: start it to open its console",
                g.kind().noun()
            ),
        );
        ops.audit
            .refused(&caller.actor, AuditAction::VmConsoleTicket, &resource, &err);
        return Err(err);
    }
    ops.audit.audited(&caller.actor, AuditAction::VmConsoleTicket, &resource, json!({ "node": g.node(), "type": g.kind() }), async {
        // QEMU generates a one-time password; LXC has no such option and its ticket is the
        // VNC password (as vncterm does).
        let form: Vec<(&str, String)> = match g.kind() {
            GuestKind::Qemu => vec![("websocket", "1".to_owned()), ("generate-password", "1".to_owned())],
            GuestKind::Lxc => vec![("websocket", "1".to_owned())],
        };
        let v: Value = ops.pve.post(g.path("vncproxy"), &form).await?;
        let port = v["port"]
            .as_u64()
            .or_else(|| v["port"].as_str().and_then(|p| p.parse().ok()))
            .ok_or_else(|| AppError::with_message(ErrorCode::UpstreamError, "Proxmox gave no console port"))?;
        let ticket = v["ticket"].as_str().unwrap_or_default().to_owned();
        let password = v["password"]
            .as_str()
            .map_or_else(|| ticket.clone(), str::to_owned);
        let mut url = url::Url::parse("http://x/api/proxy/vnc").map_err(AppError::internal)?;
        url.query_pairs_mut()
            .append_pair("node", g.node().as_str())
            .append_pair("type", g.kind().as_str())
            .append_pair("vmid", &vmid.to_string())
            .append_pair("port", &port.to_string())
            .append_pair("ticket", &ticket);
        let path = format!("{}?{}", url.path(), url.query().unwrap_or_default());
        Ok((
            json!({
                "port": port, "ticket": ticket, "password": password, "upid": v["upid"],
                "user": v["user"], "node": g.node(), "type": g.kind(), "vmid": vmid, "name": g.resource().name,
                "url": path,
            }),
            json!({ "upid": v["upid"] }),
        ))
    })
    .await
}

/// `429` when the caller already has as many consoles open as allowed.
pub async fn below_limit(ops: &Ops, caller: &Caller) -> AppResult<()> {
    let open_now = uma_actors::call!(ops.consoles.get(), |r| ConsolesMsg::List(
        Some(caller.username().to_owned()),
        r
    ))
    .map_err(|e| AppError::internal(anyhow::anyhow!("{e}")))?;
    if open_now.len() >= ops.config.tenancy.console_max_per_user {
        return Err(AppError::with_message(
            ErrorCode::RateLimited,
            OpenRefused::TooMany(ops.config.tenancy.console_max_per_user).to_string(),
        ));
    }
    Ok(())
}

/// Checks that the caller may open the console of guest `vmid`, which runs on `node` as `kind`
/// (what the ticket named), and is below the per-user maximum. Refusals write audit rows.
pub async fn authorize(
    ops: &Ops,
    caller: &Caller,
    node: &Node,
    kind: GuestKind,
    vmid: Vmid,
) -> AppResult<Guest> {
    let (g, _) = services::guest(
        ops,
        caller,
        vmid,
        GuestAction::Console,
        AuditAction::ConsoleOpen,
    )
    .await?;
    if g.node() != node || g.kind() != kind {
        return Err(AppError::field(
            "node",
            format!(
                "{} {vmid} runs on {} as {}",
                g.kind().noun(),
                g.node(),
                g.kind().as_str()
            ),
        ));
    }
    Ok(g)
}

/// Writes `CONSOLE_OPEN` / `CONSOLE_CLOSE` rows.
pub struct ConsoleAudit(pub Audit);

impl ConsoleEvents for ConsoleAudit {
    fn opened(&self, info: &ConsoleInfo) {
        self.0.record(
            &crate::audit::Actor {
                username: info.user.clone(),
                ip: info.ip.clone(),
                user_agent: None,
            },
            AuditAction::ConsoleOpen,
            &format!("vm:{}", info.vmid),
            Status::Success,
            json!({ "console": info.id, "node": info.node, "type": info.kind }),
        );
    }

    fn closed(&self, info: &ConsoleInfo, reason: &str) {
        let secs = (crate::store::now_ms() - info.since_ms).max(0) / 1000;
        self.0.record(
            &crate::audit::Actor {
                username: info.user.clone(),
                ip: info.ip.clone(),
                user_agent: None,
            },
            AuditAction::ConsoleClose,
            &format!("vm:{}", info.vmid),
            Status::Success,
            json!({
                "console": info.id, "durationSecs": secs, "bytesUp": info.bytes_up,
                "bytesDown": info.bytes_down, "reason": reason,
            }),
        );
    }
}

/// Every open console (administrators only).
pub async fn list(ops: &Ops, caller: &Caller) -> AppResult<Value> {
    if !caller.is_admin() {
        return Err(AppError::new(ErrorCode::Forbidden));
    }
    let consoles = uma_actors::call!(ops.consoles.get(), |r| ConsolesMsg::List(None, r))
        .map_err(|e| AppError::internal(anyhow::anyhow!("{e}")))?;
    Ok(json!({ "consoles": consoles }))
}

/// Closes console `id` with a reason naming the administrator.
pub async fn close(ops: &Ops, caller: &Caller, id: &str) -> AppResult<Value> {
    let resource = format!("console:{id}");
    if !caller.is_admin() {
        return Err(AppError::new(ErrorCode::Forbidden));
    }
    ops.audit
        .audited(
            &caller.actor,
            AuditAction::ConsoleCloseAdmin,
            &resource,
            json!({}),
            async {
                let found = uma_actors::call!(ops.consoles.get(), |r| ConsolesMsg::Close(
                    id.to_owned(),
                    format!(
                        "An administrator ({}) closed this console.",
                        caller.username()
                    ),
                    r
                ))
                .map_err(|e| AppError::internal(anyhow::anyhow!("{e}")))?;
                if !found {
                    return Err(AppError::with_message(
                        ErrorCode::NotFound,
                        "No such open console",
                    ));
                }
                Ok((json!({ "success": true }), Value::Null))
            },
        )
        .await
}

/// Closes every open console, telling each browser `reason`, and waits (up to 3 s) until they
/// have closed and their close rows are written. For shutting down.
pub async fn close_all(ops: &Ops, reason: &str) {
    let Ok(open) = uma_actors::call!(ops.consoles.get(), |r| ConsolesMsg::CloseAll(
        reason.to_owned(),
        r
    )) else {
        return;
    };
    if open == 0 {
        return;
    }
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(3);
    while tokio::time::Instant::now() < deadline {
        match uma_actors::call!(ops.consoles.get(), |r| ConsolesMsg::List(None, r)) {
            Ok(list) if !list.is_empty() => {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            _ => return,
        }
    }
    tracing::warn!("some consoles did not close within 3 s of the shutdown");
}
