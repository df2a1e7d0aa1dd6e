//! Console WebSockets to Proxmox (`…/vncwebsocket`).

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::WebSocketStream;

use super::path::{GuestKind, Node, Vmid};
use super::PveClient;
use crate::error::{AppError, AppResult, ErrorCode};

/// A console WebSocket to Proxmox.
pub type Upstream = WebSocketStream<TlsStream<TcpStream>>;

/// Opens the console WebSocket of guest `vmid` on `node` to Proxmox: its own TLS connection
/// (verified, pinned or insecure as configured), then the WebSocket handshake with the API token
/// and the VNC ticket. A refused ticket is an error here, before the browser is accepted.
pub async fn connect(
    pve: &PveClient,
    node: &Node,
    kind: GuestKind,
    vmid: Vmid,
    port: u16,
    ticket: &str,
    binary: bool,
) -> AppResult<Upstream> {
    let endpoint = pve.endpoint();
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
