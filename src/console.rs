//! Browser consoles: the VNC ticket (`POST /api/proxmox/vm/{vmid}/vnc`), the WebSocket proxy
//! `/api/proxy/vnc` (the original's path and query) and the admin list. The proxy authenticates
//! the session cookie, checks the Origin and `VM.Console` through the ACL engine, opens its own
//! TLS connection to Proxmox (verified, pinned or insecure as configured), performs the WebSocket
//! handshake there with the API token, and only then accepts the browser's upgrade; the two
//! sockets then belong to a `ConsoleSession` actor that pipes bytes both ways.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message as BrowserMsg, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message as UpMsg;
use tokio_tungstenite::WebSocketStream;
use uma_actors::consoles::{
    ConsoleEvents, ConsoleInfo, ConsoleLink, ConsoleStats, ConsolesMsg, OpenRefused,
};

use crate::acl::GuestAction;
use crate::audit::{Audit, Status};
use crate::auth::Caller;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::input::Params;
use crate::limits::Preset;
use crate::pve::path::{GuestKind, Node, Vmid};
use crate::services::{self, audited, limit};
use crate::state::AppState;

/// Console routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/proxmox/vm/{vmid}/vnc", post(ticket))
        .route("/api/proxy/vnc", get(proxy))
        .route("/api/admin/consoles", get(list))
        .route("/api/admin/consoles/{id}", delete(close))
}

/// WebSocket close code telling the browser why its console ended (4000 + reason text).
pub const CLOSE_WITH_REASON: u16 = 4000;

// ---------------------------------------------------------------------------------------------
// Ticket

/// A console ticket for a guest: what the browser needs to open `/api/proxy/vnc`.
pub async fn console_ticket(state: &AppState, caller: &Caller, vmid: Vmid) -> AppResult<Value> {
    let resource = format!("vm:{vmid}");
    limit(
        state,
        caller,
        Preset::VmPower,
        "VM_CONSOLE_TICKET",
        &resource,
    )
    .await?;
    let (g, _) = services::guest(
        state,
        caller,
        vmid,
        GuestAction::Console,
        "VM_CONSOLE_TICKET",
    )
    .await?;
    if let Err(err) = below_console_limit(state, caller).await {
        services::refused(state, caller, "VM_CONSOLE_TICKET", &resource, &err);
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
        services::refused(state, caller, "VM_CONSOLE_TICKET", &resource, &err);
        return Err(err);
    }
    audited(state, caller, "VM_CONSOLE_TICKET", &resource, json!({ "node": g.node(), "type": g.kind() }), async {
        // QEMU generates a one-time password; LXC has no such option and its ticket is the
        // VNC password (as vncterm does).
        let form: Vec<(&str, String)> = match g.kind() {
            GuestKind::Qemu => vec![("websocket", "1".to_owned()), ("generate-password", "1".to_owned())],
            GuestKind::Lxc => vec![("websocket", "1".to_owned())],
        };
        let v: Value = state.pve.post(g.path("vncproxy"), &form).await?;
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
async fn below_console_limit(state: &AppState, caller: &Caller) -> AppResult<()> {
    let open_now = uma_actors::call!(state.consoles, |r| ConsolesMsg::List(
        Some(caller.username().to_owned()),
        r
    ))
    .map_err(|e| AppError::internal(anyhow::anyhow!("{e}")))?;
    if open_now.len() >= state.config.console_max_per_user {
        return Err(AppError::with_message(
            ErrorCode::RateLimited,
            OpenRefused::TooMany(state.config.console_max_per_user).to_string(),
        ));
    }
    Ok(())
}

async fn ticket(
    State(state): State<AppState>,
    caller: Caller,
    Path(vmid): Path<String>,
) -> AppResult<Json<Value>> {
    let vmid = Vmid::parse("vmid", &vmid)?;
    Ok(Json(console_ticket(&state, &caller, vmid).await?))
}

// ---------------------------------------------------------------------------------------------
// Proxy

/// `?node=&type=&vmid=&port=&ticket=`.
#[derive(Debug, Deserialize)]
pub struct ProxyQuery {
    node: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    vmid: Option<String>,
    port: Option<String>,
    ticket: Option<String>,
}

/// The WebSocket proxy.
async fn proxy(
    State(state): State<AppState>,
    headers: HeaderMap,
    client: crate::auth::client::ClientInfo,
    Params(q): Params<ProxyQuery>,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    match open(&state, &headers, client, q, ws.ok()).await {
        Ok(resp) => resp,
        Err(e) => e.into_response(),
    }
}

async fn open(
    state: &AppState,
    headers: &HeaderMap,
    client: crate::auth::client::ClientInfo,
    q: ProxyQuery,
    ws: Option<WebSocketUpgrade>,
) -> AppResult<Response> {
    // 1. Origin.
    match headers
        .get(http::header::ORIGIN)
        .and_then(|v| v.to_str().ok())
    {
        Some(o) if crate::auth::csrf::allowed_origin(&state.config, headers, o) => {}
        None if state.config.allow_missing_ws_origin => {}
        _ => {
            return Err(AppError::with_message(
                ErrorCode::Forbidden,
                "Forbidden origin",
            ))
        }
    }
    // 2. Session.
    let Some(session) =
        crate::auth::session::load(&state.signer, &state.records, &state.config, headers).await?
    else {
        return Err(AppError::with_message(
            ErrorCode::Unauthorized,
            "Sign in to open a console",
        ));
    };
    let caller = Caller::new(&session, Some(client.ip.clone()), client.user_agent.clone());
    // 3. Parameters.
    let need = |v: Option<String>, f: &str| {
        v.filter(|s| !s.is_empty())
            .ok_or_else(|| AppError::field(f, "required"))
    };
    let node = Node::parse("node", &need(q.node, "node")?)?;
    let kind = match need(q.kind, "type")?.as_str() {
        "qemu" => GuestKind::Qemu,
        "lxc" => GuestKind::Lxc,
        _ => return Err(AppError::field("type", "qemu or lxc")),
    };
    let vmid = Vmid::parse("vmid", &need(q.vmid, "vmid")?)?;
    let port: u16 = need(q.port, "port")?
        .parse()
        .ok()
        .filter(|p| (5900..=5999).contains(p))
        .ok_or_else(|| AppError::field("port", "a console port from 5900 to 5999"))?;
    let ticket = need(q.ticket, "ticket")?;
    if ticket.len() > 1024 || ticket.chars().any(char::is_control) {
        return Err(AppError::field("ticket", "not a console ticket"));
    }
    // 4. Permission.
    let (g, _) =
        services::guest(state, &caller, vmid, GuestAction::Console, "CONSOLE_OPEN").await?;
    if *g.node() != node || g.kind() != kind {
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
    let Some(ws) = ws else {
        return Err(AppError::with_message(
            ErrorCode::InvalidInput,
            "This address takes a WebSocket upgrade",
        ));
    };
    // 5. Per-user maximum (checked again when the session starts).
    below_console_limit(state, &caller).await?;
    // 6. Upstream first, so a refused ticket is an HTTP answer, not a dead socket.
    let wants_binary = headers
        .get("sec-websocket-protocol")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|p| p.trim() == "binary"));
    let upstream =
        connect_upstream(state, g.node(), g.kind(), vmid, port, &ticket, wants_binary).await?;
    // 7. Accept the browser and hand both sockets to a console actor.
    let consoles = state.consoles.clone();
    let info = ConsoleInfo {
        id: crate::store::new_id(),
        user: caller.username().to_owned(),
        vmid: vmid.0,
        kind: kind.as_str().to_owned(),
        node: node.to_string(),
        since_ms: crate::store::now_ms(),
        bytes_up: 0,
        bytes_down: 0,
        ip: Some(client.ip),
        session: Some(session.record.id.clone()),
    };
    let ws = if wants_binary {
        ws.protocols(["binary"])
    } else {
        ws
    };
    Ok(ws.on_upgrade(move |socket| async move {
        let link = Box::new(WsLink {
            browser: socket,
            upstream,
        });
        match uma_actors::call!(consoles, |r| ConsolesMsg::Open(Box::new(info), link, r)) {
            Ok(Ok(())) => {}
            Ok(Err(refused)) => tracing::info!(%refused, "console refused"),
            Err(e) => tracing::error!(error = %e, "consoles supervisor unavailable"),
        }
    }))
}

type Upstream = WebSocketStream<TlsStream<TcpStream>>;

async fn connect_upstream(
    state: &AppState,
    node: &Node,
    kind: GuestKind,
    vmid: Vmid,
    port: u16,
    ticket: &str,
    binary: bool,
) -> AppResult<Upstream> {
    let endpoint = state.pve.endpoint();
    let host = endpoint
        .url
        .host_str()
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("PROXMOX_URL has no host")))?
        .to_owned();
    let pve_port = endpoint.url.port_or_known_default().unwrap_or(8006);
    let unreachable = |e: String| AppError {
        source: Some(anyhow::anyhow!(e)),
        ..AppError::with_message(
            ErrorCode::Unavailable,
            "Proxmox is unreachable for consoles right now",
        )
    };
    let tcp = tokio::time::timeout(
        Duration::from_secs(5),
        TcpStream::connect((host.as_str(), pve_port)),
    )
    .await
    .map_err(|_| unreachable("connect timeout".into()))?
    .map_err(|e| unreachable(e.to_string()))?;
    let tls =
        crate::tls::client_config(&endpoint.trust, &[b"http/1.1"]).map_err(AppError::internal)?;
    let name = rustls_pki_types::ServerName::try_from(host.clone()).map_err(AppError::internal)?;
    let stream = tokio::time::timeout(
        Duration::from_secs(5),
        tokio_rustls::TlsConnector::from(Arc::new(tls)).connect(name, tcp),
    )
    .await
    .map_err(|_| unreachable("TLS timeout".into()))?
    .map_err(|e| unreachable(format!("TLS: {e}")))?;
    let mut url = endpoint.url.clone();
    url.set_scheme("wss")
        .map_err(|()| AppError::internal(anyhow::anyhow!("scheme")))?;
    {
        let mut segs = url
            .path_segments_mut()
            .map_err(|()| AppError::internal(anyhow::anyhow!("PROXMOX_URL cannot take a path")))?;
        segs.clear();
        segs.extend([
            "api2",
            "json",
            "nodes",
            node.as_str(),
            kind.as_str(),
            &vmid.to_string(),
            "vncwebsocket",
        ]);
    }
    url.query_pairs_mut()
        .append_pair("port", &port.to_string())
        .append_pair("vncticket", ticket);
    let mut req = url
        .as_str()
        .into_client_request()
        .map_err(AppError::internal)?;
    let mut auth: http::HeaderValue = format!(
        "PVEAPIToken={}={}",
        endpoint.token_id,
        endpoint.token_secret.expose()
    )
    .parse()
    .map_err(AppError::internal)?;
    auth.set_sensitive(true);
    req.headers_mut().insert(http::header::AUTHORIZATION, auth);
    if binary {
        req.headers_mut().insert(
            "sec-websocket-protocol",
            http::HeaderValue::from_static("binary"),
        );
    }
    let handshake = tokio::time::timeout(
        Duration::from_secs(10),
        tokio_tungstenite::client_async(req, stream),
    )
    .await
    .map_err(|_| unreachable("WebSocket handshake timeout".into()))?;
    match handshake {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            let status = resp.status();
            let reason = status.canonical_reason().unwrap_or("refused");
            Err(match status.as_u16() {
                401 | 403 => AppError::with_message(
                    ErrorCode::Forbidden,
                    "Proxmox refused the console ticket: it expired or belongs to another console. Open the console again.",
                ),
                _ => AppError::with_message(
                    ErrorCode::UpstreamError,
                    format!("Proxmox refused the console: {} {reason}", status.as_u16()),
                ),
            })
        }
        Err(e) => Err(unreachable(e.to_string())),
    }
}

struct WsLink {
    browser: WebSocket,
    upstream: Upstream,
}

/// A close frame carries at most 123 bytes of reason; longer text would make the frame invalid
/// and the browser would see an abnormal close instead of the reason.
fn close_frame(reason: &str) -> CloseFrame {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    CloseFrame {
        code: CLOSE_WITH_REASON,
        reason: reason[..end].to_owned().into(),
    }
}

impl ConsoleLink for WsLink {
    fn pump(
        self: Box<Self>,
        stats: Arc<ConsoleStats>,
        mut stop: watch::Receiver<Option<String>>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = String> + Send>> {
        Box::pin(async move {
            let (mut b_tx, mut b_rx) = self.browser.split();
            let (mut u_tx, mut u_rx) = self.upstream.split();
            let reason = loop {
                tokio::select! {
                    m = b_rx.next() => match m {
                        Some(Ok(BrowserMsg::Binary(data))) => {
                            stats.add_up(data.len());
                            if u_tx.send(UpMsg::Binary(data)).await.is_err() {
                                break "the guest's console closed".to_owned();
                            }
                        }
                        Some(Ok(BrowserMsg::Text(text))) => {
                            stats.add_up(text.len());
                            if u_tx.send(UpMsg::Text(text.as_str().into())).await.is_err() {
                                break "the guest's console closed".to_owned();
                            }
                        }
                        Some(Ok(BrowserMsg::Close(_))) | None | Some(Err(_)) => {
                            break "closed by the browser".to_owned();
                        }
                        Some(Ok(_)) => {}
                    },
                    m = u_rx.next() => match m {
                        Some(Ok(UpMsg::Binary(data))) => {
                            stats.add_down(data.len());
                            if b_tx.send(BrowserMsg::Binary(data)).await.is_err() {
                                break "closed by the browser".to_owned();
                            }
                        }
                        Some(Ok(UpMsg::Text(text))) => {
                            stats.add_down(text.len());
                            if b_tx.send(BrowserMsg::Text(text.as_str().into())).await.is_err() {
                                break "closed by the browser".to_owned();
                            }
                        }
                        Some(Ok(UpMsg::Close(_))) | None | Some(Err(_)) => {
                            let reason = "the guest's console closed".to_owned();
                            let _ = b_tx.send(BrowserMsg::Close(Some(close_frame(&reason)))).await;
                            break reason;
                        }
                        Some(Ok(_)) => {}
                    },
                    changed = stop.changed() => {
                        let reason = match changed {
                            Ok(()) => stop.borrow().clone().unwrap_or_else(|| "closed".to_owned()),
                            Err(_) => "the console failed on the server".to_owned(),
                        };
                        let _ = b_tx.send(BrowserMsg::Close(Some(close_frame(&reason)))).await;
                        let _ = u_tx.send(UpMsg::Close(Some(tokio_tungstenite::tungstenite::protocol::CloseFrame {
                            code: CloseCode::Normal,
                            reason: "".into(),
                        }))).await;
                        break reason;
                    }
                }
            };
            let _ = u_tx.close().await;
            let _ = b_tx.close().await;
            reason
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Audit and admin

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
            "CONSOLE_OPEN",
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
            "CONSOLE_CLOSE",
            &format!("vm:{}", info.vmid),
            Status::Success,
            json!({
                "console": info.id, "durationSecs": secs, "bytesUp": info.bytes_up,
                "bytesDown": info.bytes_down, "reason": reason,
            }),
        );
    }
}

async fn list(State(state): State<AppState>, caller: Caller) -> AppResult<Json<Value>> {
    if !caller.is_admin() {
        return Err(AppError::new(ErrorCode::Forbidden));
    }
    let consoles = uma_actors::call!(state.consoles, |r| ConsolesMsg::List(None, r))
        .map_err(|e| AppError::internal(anyhow::anyhow!("{e}")))?;
    Ok(Json(json!({ "consoles": consoles })))
}

async fn close(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    let resource = format!("console:{id}");
    if !caller.is_admin() {
        return Err(AppError::new(ErrorCode::Forbidden));
    }
    audited(
        &state,
        &caller,
        "CONSOLE_CLOSE_ADMIN",
        &resource,
        json!({}),
        async {
            let found = uma_actors::call!(state.consoles, |r| ConsolesMsg::Close(
                id.clone(),
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
    .map(Json)
}
