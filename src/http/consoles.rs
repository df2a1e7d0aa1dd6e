//! Console routes: the VNC ticket (`POST /api/proxmox/vm/{vmid}/vnc`), the WebSocket proxy
//! `/api/proxy/vnc` (the original's path and query) and the admin list. The proxy authenticates
//! the session cookie, checks the Origin and `VM.Console` through the ACL engine, opens its own
//! connection to Proxmox (`pve::vnc`), and only then accepts the browser's upgrade; the two
//! sockets then belong to a `ConsoleSession` actor that pipes bytes both ways.

use std::sync::Arc;

use axum::extract::ws::{CloseFrame, Message as BrowserMsg, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message as UpMsg;
use uma_actors::consoles::{ConsoleInfo, ConsoleLink, ConsoleStats, ConsolesMsg};

use crate::auth::Caller;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::input::Params;
use crate::pve::path::{GuestKind, Node, Vmid};
use crate::pve::vnc::{self, Upstream};
use crate::services::{consoles, Ops};
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

async fn ticket(
    State(ops): State<Ops>,
    caller: Caller,
    Path(vmid): Path<String>,
) -> AppResult<Json<Value>> {
    let vmid = Vmid::parse("vmid", &vmid)?;
    Ok(Json(consoles::ticket(&ops, &caller, vmid).await?))
}

async fn list(State(ops): State<Ops>, caller: Caller) -> AppResult<Json<Value>> {
    Ok(Json(consoles::list(&ops, &caller).await?))
}

async fn close(
    State(ops): State<Ops>,
    caller: Caller,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    Ok(Json(consoles::close(&ops, &caller, &id).await?))
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
        None if state.config.web.allow_missing_ws_origin => {}
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
    let ops = state.ops();
    let g = consoles::authorize(&ops, &caller, &node, kind, vmid).await?;
    let Some(ws) = ws else {
        return Err(AppError::with_message(
            ErrorCode::InvalidInput,
            "This address takes a WebSocket upgrade",
        ));
    };
    // 5. Per-user maximum (checked again when the session starts).
    consoles::below_limit(&ops, &caller).await?;
    // 6. Upstream first, so a refused ticket is an HTTP answer, not a dead socket.
    let wants_binary = headers
        .get("sec-websocket-protocol")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|p| p.trim() == "binary"));
    let upstream = vnc::connect(
        &state.pve,
        g.node(),
        g.kind(),
        vmid,
        port,
        &ticket,
        wants_binary,
    )
    .await?;
    // 7. Accept the browser and hand both sockets to a console actor.
    let actors = state.consoles.get();
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
        match uma_actors::call!(actors, |r| ConsolesMsg::Open(Box::new(info), link, r)) {
            Ok(Ok(())) => {}
            Ok(Err(refused)) => tracing::info!(%refused, "console refused"),
            Err(e) => tracing::error!(error = %e, "consoles supervisor unavailable"),
        }
    }))
}

/// The browser's console WebSocket and Proxmox's, piped both ways by a `ConsoleSession`.
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
                            // The session is gone without a word: it failed, or its supervisor did.
                            Err(_) => "the console failed or restarted on the server; open it again".to_owned(),
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
