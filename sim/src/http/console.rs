//! Guest consoles: `POST …/vncproxy` and `GET …/vncwebsocket` (qemu-server `Qemu.pm`,
//! pve-container `LXC.pm`, pve-http-server `websocket_proxy`). `termproxy` is not served.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use hyper::upgrade::OnUpgrade;
use serde_json::{json, Value};

use super::{error_response, Ctx, DropConnection, Reply};
use crate::console::{accept_key, generate_password, NewProxy};
use crate::error::ApiError;
use crate::model::Kind;
use crate::params::Params;
use crate::SimState;

/// How long a proxy waits for its connection. QEMU: `alarm 10` around `accept`, then the task
/// fails "connection timed out"; LXC: vncterm waits at least 20 s, then exits normally.
const QEMU_WAIT_MS: i64 = 10_000;
const LXC_WAIT_MS: i64 = 20_000;

fn vm_path(vmid: u32) -> String {
    format!("/vms/{vmid}")
}

pub(super) fn vncproxy(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    let vmid = p.vmid();
    ctx.check(&vm_path(vmid), &["VM.Console"], false)?;
    let node = p.req("node").to_owned();
    let kind = ctx.kind;
    // only the config must exist: a stopped guest fails later, inside the proxy
    let g = ctx.c.guest(&node, kind, vmid)?;
    let running = g.is_running();
    let serial = g
        .config
        .get("vga")
        .and_then(Value::as_str)
        .is_some_and(|v| v.trim_start_matches("type=").starts_with("serial"));
    let websocket = p.flag("websocket").unwrap_or(false);
    let password = (kind == Kind::Qemu
        && (p.flag("generate-password").unwrap_or(false) || !serial || websocket))
        .then(generate_password);
    let port = ctx.c.free_vnc_port()?;
    let authuser = ctx.auth.task_user().to_owned();
    let mut ticket = ctx.c.vnc_ticket(&authuser, vmid, port);
    if let Some(pw) = &password {
        // Proxmox's compatibility hack: clients that use the ticket as VNC password still work,
        // as VNC authentication only looks at the first 8 bytes
        ticket = format!("{pw}:{ticket}");
    }
    let rfb_password = ticket.as_bytes().iter().take(8).copied().collect();
    let (wait_ms, effect): (i64, crate::tasks::Effect) = match (kind, running) {
        (Kind::Qemu, _) => (
            QEMU_WAIT_MS,
            Box::new(|_| Err("connection timed out".to_owned())),
        ),
        (Kind::Lxc, true) => (LXC_WAIT_MS, Box::new(|_| Ok(()))),
        // the console command fails at once, vncterm exits before anyone connects
        (Kind::Lxc, false) => (0, Box::new(|_| Ok(()))),
    };
    let upid = ctx.c.spawn_task(
        &node,
        "vncproxy",
        &vmid.to_string(),
        ctx.auth,
        wait_ms,
        Vec::new(),
        effect,
    );
    if kind == Kind::Qemu || running {
        let size = match (p.int("width"), p.int("height")) {
            (None, None) => None,
            (w, h) => Some((
                w.and_then(|v| u16::try_from(v).ok())
                    .unwrap_or(crate::console::DEFAULT_WIDTH),
                h.and_then(|v| u16::try_from(v).ok())
                    .unwrap_or(crate::console::DEFAULT_HEIGHT),
            )),
        };
        ctx.c.add_console(
            port,
            NewProxy {
                vmid,
                kind,
                upid: upid.clone(),
                password: rfb_password,
                size,
            },
        );
    }
    let mut data = json!({
        "user": authuser,
        "ticket": ticket,
        // real servers send the port as a string (schema: integer)
        "port": port.to_string(),
        "upid": upid,
        "cert": ctx.cert_pem,
    });
    if let Some(pw) = password {
        data["password"] = json!(pw);
    }
    Ok(data.into())
}

pub(super) fn vncwebsocket(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    let vmid = p.vmid();
    ctx.check(&vm_path(vmid), &["VM.Console"], false)?;
    let ticket = p.req("vncticket");
    if ticket.chars().count() > 512 {
        return Err(ApiError::param(
            "vncticket",
            "value may only be 512 characters long",
        ));
    }
    let port = p
        .int("port")
        .and_then(|v| u16::try_from(v).ok())
        .unwrap_or(0);
    if !ctx
        .c
        .verify_vnc_ticket(ticket, ctx.auth.task_user(), vmid, port)
    {
        return Err(ApiError::with_status(
            StatusCode::UNAUTHORIZED,
            "permission denied - invalid PVEVNC ticket",
        ));
    }
    if ctx.kind == Kind::Qemu {
        // `PVE::QemuConfig->load_config` ("VM exists?"); the LXC handler does not check
        ctx.c.guest(p.req("node"), Kind::Qemu, vmid)?;
    }
    Ok(json!({ "port": port.to_string() }).into())
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// After `vncwebsocket` accepted the ticket on a request with `Upgrade`: checks the WebSocket
/// headers like pveproxy (501 with its messages), connects the proxy listening on `port` and
/// switches protocols. With nothing listening there (connection already taken, wait timed out,
/// container stopped) pveproxy's backend connect fails and the client gets no answer at all:
/// the connection is dropped.
pub(super) fn upgrade(
    state: &Arc<SimState>,
    headers: &HeaderMap,
    on_upgrade: Option<OnUpgrade>,
    port: u16,
) -> Response {
    let upgrade = header_str(headers, "upgrade")
        .unwrap_or_default()
        .to_ascii_lowercase();
    if upgrade != "websocket" {
        return error_response(ApiError::with_status(
            StatusCode::NOT_IMPLEMENTED,
            format!("unable to upgrade to protocol '{upgrade}'"),
        ));
    }
    let version = header_str(headers, "sec-websocket-version").unwrap_or_default();
    if version != "13" {
        return error_response(ApiError::with_status(
            StatusCode::NOT_IMPLEMENTED,
            format!("unsupported websocket-version '{version}'"),
        ));
    }
    let Some(key) = header_str(headers, "sec-websocket-key").filter(|k| !k.is_empty()) else {
        return error_response(ApiError::with_status(
            StatusCode::NOT_IMPLEMENTED,
            "missing websocket-key",
        ));
    };
    let protocol = headers.get("sec-websocket-protocol").cloned();
    let Some(on_upgrade) = on_upgrade else {
        return dropped();
    };
    let claimed = {
        let mut c = state.cluster.lock();
        c.tick();
        c.claim_console(port)
    };
    let Some(claimed) = claimed else {
        return dropped();
    };
    tokio::spawn(crate::console::serve(state.clone(), claimed, on_upgrade));
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = resp.headers_mut();
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    if let Ok(v) = HeaderValue::from_str(&accept_key(key)) {
        h.insert(header::SEC_WEBSOCKET_ACCEPT, v);
    }
    // pveproxy echoes the requested subprotocol header as it came
    if let Some(p) = protocol.filter(|p| !p.is_empty()) {
        h.insert(header::SEC_WEBSOCKET_PROTOCOL, p);
    }
    resp
}

/// A response the listener turns into closing the connection without answering.
fn dropped() -> Response {
    let mut resp = Response::new(Body::empty());
    resp.extensions_mut().insert(DropConnection);
    resp
}
