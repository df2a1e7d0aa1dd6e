//! The listener: accepts TCP connections, wraps them in TLS when asked, and serves the API router
//! with HTTP/1.1 (upgrades included, for the VNC websocket).

use std::net::SocketAddr;
use std::sync::Arc;

use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use std::time::Duration;

use crate::scenario::TokenInfo;
use crate::{http as api, tls, Faults, SimConfig, SimError, SimState};

/// A running simulator. Dropping the handle does not stop it; call [`SimHandle::shutdown`].
#[derive(Debug, Clone)]
pub struct SimHandle {
    url: String,
    addr: SocketAddr,
    token_id: String,
    token_secret: String,
    ca_cert_pem: Option<String>,
    cert_der: Option<Vec<u8>>,
    stop: watch::Sender<bool>,
    state: Arc<SimState>,
}

impl SimHandle {
    /// How many requests reached `METHOD /path` (e.g. `GET /cluster/resources`; the path below
    /// `/api2/json`, without the query), counted before authentication (not while the API is
    /// down).
    pub fn requests(&self, method_and_path: &str) -> u64 {
        self.state
            .requests
            .lock()
            .get(method_and_path)
            .copied()
            .unwrap_or(0)
    }

    /// Base URL, e.g. `https://127.0.0.1:8006` (no trailing slash, no `/api2/json`).
    pub fn url(&self) -> &str {
        &self.url
    }
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    /// The API token's id, `USER@REALM!TOKENID`.
    pub fn token_id(&self) -> &str {
        &self.token_id
    }
    /// The API token's secret.
    pub fn token_secret(&self) -> &str {
        &self.token_secret
    }
    /// The `Authorization` header value for the token.
    pub fn authorization(&self) -> String {
        format!("PVEAPIToken={}={}", self.token_id, self.token_secret)
    }
    /// PEM of the self-signed certificate (trust it, or pin it); `None` over plain HTTP.
    pub fn ca_cert_pem(&self) -> Option<&str> {
        self.ca_cert_pem.as_deref()
    }
    /// DER of the server certificate, for SHA-256 pinning; `None` over plain HTTP.
    pub fn cert_der(&self) -> Option<&[u8]> {
        self.cert_der.as_deref()
    }
    /// Stops accepting connections; open connections finish their current request.
    pub fn shutdown(&self) {
        let _ = self.stop.send(true);
    }
    /// Every API token the simulator accepts (the configured root token and, in `demo`, one
    /// `uma` token per demo user), with secrets.
    pub fn tokens(&self) -> Vec<TokenInfo> {
        crate::scenario::tokens(&self.state.cluster.lock())
    }
    /// One token by id (`USER@REALM!NAME`).
    pub fn token(&self, token_id: &str) -> Option<TokenInfo> {
        self.tokens().into_iter().find(|t| t.token_id == token_id)
    }
    /// The current fault knobs.
    pub fn faults(&self) -> Faults {
        self.state.faults.read().clone()
    }
    /// Replaces all fault knobs at once.
    pub fn set_faults(&self, faults: Faults) {
        *self.state.faults.write() = faults;
    }
    /// Adds `latency` to every authenticated call.
    pub fn set_latency(&self, latency: Duration) {
        self.state.faults.write().latency = latency;
    }
    /// Makes a fraction (0..1) of calls fail with a 500.
    pub fn set_error_rate(&self, rate: f64) {
        self.state.faults.write().error_rate = rate.clamp(0.0, 1.0);
    }
    /// Takes the whole API down (connections refused, 503 on open ones) or brings it back.
    pub fn set_api_down(&self, down: bool) {
        self.state.faults.write().api_down = down;
    }
    /// Takes a node offline (its calls answer 595 "No route to host", its guests show
    /// `unknown`) or back online. Returns false for an unknown node.
    pub fn set_node_online(&self, node: &str, online: bool) -> bool {
        let mut c = self.state.cluster.lock();
        match c.nodes.get_mut(node) {
            Some(n) => {
                n.online = online;
                true
            }
            None => false,
        }
    }
    /// Sets how long new worker tasks run.
    pub fn set_task_duration(&self, duration: Duration) {
        *self.state.task_duration.write() = duration;
    }
    /// Ages every VNC ticket by `secs`, so a test sees an expired ticket refused without waiting
    /// the 40 s a ticket lives.
    pub fn age_vnc_tickets(&self, secs: i64) {
        self.state.cluster.lock().age_vnc_tickets(secs);
    }

    /// The whole cluster's stored state (nodes, storages and volumes, guests with their configs,
    /// pools, users, ACLs, SDN, replication), as the state file holds it: tests compare two of
    /// these to prove a refused request changed nothing. Tasks and consoles are left out.
    pub fn state(&self) -> serde_json::Value {
        let c = self.state.cluster.lock();
        serde_json::to_value(&*c).unwrap_or(serde_json::Value::Null)
    }

    /// How many tasks are still running, after ending those whose time has come (console
    /// proxies held open by their connection aside): tests wait for none before reading what
    /// the tasks changed.
    pub fn running_tasks(&self) -> usize {
        let mut c = self.state.cluster.lock();
        c.tick();
        c.tasks
            .iter()
            .filter(|t| t.exitstatus.is_none() && t.ends_at_ms != i64::MAX)
            .count()
    }

    /// Changes a guest's display size (clamped to 16..4096 × 16..2160), as when the guest
    /// switches resolution: open consoles resize at once (clients that announced DesktopSize
    /// get the pseudo-rectangle), later ones start with it. Returns how many open consoles
    /// were resized.
    pub fn set_console_size(&self, vmid: u32, width: u16, height: u16) -> usize {
        self.state.cluster.lock().set_console_size(
            vmid,
            width.clamp(16, 4096),
            height.clamp(16, 2160),
        )
    }
}

pub(crate) async fn start(
    config: SimConfig,
    state: Arc<SimState>,
    token_secret: String,
) -> Result<SimHandle, SimError> {
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| SimError::Bind {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| SimError::Bind {
        addr: config.listen,
        source,
    })?;
    let cert = if config.tls {
        Some(tls::self_signed()?)
    } else {
        None
    };
    let scheme = if config.tls { "https" } else { "http" };
    let (stop, stopped) = watch::channel(false);
    let handle = SimHandle {
        url: format!("{scheme}://{addr}"),
        addr,
        token_id: config.token_id.clone(),
        token_secret,
        ca_cert_pem: cert.as_ref().map(|c| c.pem.clone()),
        cert_der: cert.as_ref().map(|c| c.der.clone()),
        stop,
        state: state.clone(),
    };
    if let Some(c) = &cert {
        let _ = state.cert_pem.set(c.pem.clone());
    }
    let acceptor = cert.map(|c| TlsAcceptor::from(c.config));
    let router = api::router(state.clone());
    tokio::spawn(accept_loop(listener, acceptor, router, stopped, state));
    Ok(handle)
}

/// The router as a hyper service; a response marked [`api::DropConnection`] becomes a service
/// error, on which hyper closes the connection without writing a response.
fn service(
    router: axum::Router,
) -> impl hyper::service::Service<
    hyper::Request<hyper::body::Incoming>,
    Response = axum::response::Response,
    Error = api::DropConnection,
    Future: Send + 'static,
> + Clone {
    hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let router = router.clone();
        async move {
            let resp = match router.oneshot(req).await {
                Ok(resp) => resp,
                Err(never) => match never {},
            };
            if resp.extensions().get::<api::DropConnection>().is_some() {
                Err(api::DropConnection)
            } else {
                Ok(resp)
            }
        }
    })
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: Option<TlsAcceptor>,
    router: axum::Router,
    mut stopped: watch::Receiver<bool>,
    state: Arc<SimState>,
) {
    loop {
        let accepted = tokio::select! {
            res = listener.accept() => res,
            _ = stopped.changed() => break,
        };
        let (stream, _peer) = match accepted {
            Ok(pair) => pair,
            Err(err) => {
                tracing::debug!(%err, "pve-sim: accept failed");
                continue;
            }
        };
        if state.faults.read().api_down {
            // like a stopped pveproxy: the connection is dropped at once
            drop(stream);
            continue;
        }
        let acceptor = acceptor.clone();
        let service = service(router.clone());
        tokio::spawn(async move {
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            let result = match acceptor {
                Some(acceptor) => match acceptor.accept(stream).await {
                    Ok(tls) => {
                        builder
                            .serve_connection_with_upgrades(TokioIo::new(tls), service)
                            .await
                    }
                    Err(err) => {
                        tracing::debug!(%err, "pve-sim: TLS handshake failed");
                        return;
                    }
                },
                None => {
                    builder
                        .serve_connection_with_upgrades(TokioIo::new(stream), service)
                        .await
                }
            };
            if let Err(err) = result {
                tracing::debug!(%err, "pve-sim: connection ended with an error");
            }
        });
    }
}
