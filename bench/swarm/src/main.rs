//! `uma-swarm CONFIG.json`: connects many real Socket.IO clients (the `rust_socketio` crate) to
//! Uma, each with its own session cookie, sends the configured events, and writes everything the
//! clients receive to stdout as JSON lines, stamped with the wall-clock time of arrival. It runs
//! until its standard input closes, then disconnects every client.
//!
//! Config:
//! ```json
//! { "url": "http://127.0.0.1:3004/api/socket/io/", "origin": "http://127.0.0.1:3004",
//!   "clients": [{ "label": "alice", "cookie": "uma_session=..." }],
//!   "emit": [{ "event": "resources:watch", "data": {} }],
//!   "listen": ["resources:delta"], "connect_concurrency": 64 }
//! ```
//! Output lines (`client` is the index in `clients`, `at` milliseconds since the Unix epoch):
//! `{"kind":"connected","client":0,"at":..}`, `{"kind":"ack","client":0,"event":..,"data":..,"at":..}`,
//! `{"kind":"event","client":0,"event":..,"data":..,"at":..}`, `{"kind":"error","client":0,"message":..}`,
//! With `"brief": true` (clients listed in `"full"` excepted) an event's `data` is only
//! `{from, to, changes: ["id=status", ..], removed}` and an ack's `{version, ok, items: count}`.
//! `{"kind":"ready","at":..}` once every client connected and every first emit was answered (or
//! failed), and `{"kind":"done"}` at the end.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::FutureExt;
use rust_socketio::asynchronous::{Client, ClientBuilder};
use rust_socketio::{Event, Payload, TransportType};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot, Mutex};

#[derive(Deserialize)]
struct Config {
    url: String,
    #[serde(default)]
    origin: Option<String>,
    clients: Vec<ClientConfig>,
    #[serde(default)]
    emit: Vec<Emit>,
    #[serde(default)]
    listen: Vec<String>,
    /// Seconds to wait for each connect and each ack.
    #[serde(default = "default_timeout")]
    timeout_secs: u64,
    /// "websocket" (default: upgrade as browsers do) or "polling".
    #[serde(default)]
    transport: Option<String>,
    /// Report events briefly (see [`brief`]) except for the clients listed in `full`: keeps
    /// the output small when many clients receive large payloads.
    #[serde(default)]
    brief: bool,
    #[serde(default)]
    full: Vec<usize>,
    /// Clients connecting at the same time (the others wait their turn), so that each one's
    /// handshake, namespace connect and first emits follow each other closely.
    #[serde(default = "default_concurrency")]
    connect_concurrency: usize,
}

fn default_concurrency() -> usize {
    64
}

fn default_timeout() -> u64 {
    30
}

#[derive(Deserialize)]
struct ClientConfig {
    #[serde(default)]
    label: String,
    #[serde(default)]
    cookie: Option<String>,
}

#[derive(Deserialize, Clone)]
struct Emit {
    event: String,
    #[serde(default)]
    data: Value,
}

fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or_default()
}

/// The parts of an event a benchmark needs: its `from`/`to` versions and, for each upserted
/// item, `id=status`.
fn brief(data: &Value) -> Value {
    let changes: Vec<String> = data["upsert"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| {
            format!(
                "{}={}",
                i["id"].as_str().unwrap_or(""),
                i["status"].as_str().unwrap_or("")
            )
        })
        .collect();
    json!({ "from": data["from"], "to": data["to"], "changes": changes,
            "removed": data["remove"].as_array().map_or(0, Vec::len) })
}

fn first_value(payload: Payload) -> Value {
    match payload {
        Payload::Text(mut values) if values.len() == 1 => values.remove(0),
        Payload::Text(values) => Value::Array(values),
        Payload::Binary(bytes) => json!({ "binary": bytes.len() }),
        #[allow(deprecated)]
        Payload::String(s) => serde_json::from_str(&s).unwrap_or(Value::String(s)),
    }
}

type Out = mpsc::UnboundedSender<Value>;

async fn connect(
    index: usize,
    cfg: &Config,
    client: &ClientConfig,
    out: &Out,
) -> Result<Client, String> {
    let mut builder = ClientBuilder::new(cfg.url.clone())
        .transport_type(match cfg.transport.as_deref() {
            Some("polling") => TransportType::Polling,
            _ => TransportType::WebsocketUpgrade,
        })
        .reconnect(false);
    if let Some(cookie) = &client.cookie {
        builder = builder.opening_header("Cookie", cookie.as_str());
    }
    if let Some(origin) = &cfg.origin {
        builder = builder.opening_header("Origin", origin.as_str());
    }
    let short = cfg.brief && !cfg.full.contains(&index);
    for event in &cfg.listen {
        let out = out.clone();
        let name = event.clone();
        builder = builder.on(event.as_str(), move |payload, _| {
            let at = now_ms();
            let data = first_value(payload);
            let data = if short { brief(&data) } else { data };
            let line = json!({ "kind": "event", "client": index, "event": name,
                               "data": data, "at": at });
            let _ = out.send(line);
            async {}.boxed()
        });
    }
    // `connect()` returns once the namespace CONNECT is sent; like the official client, emit only
    // after the server answered it (Uma authenticates first; a packet sent earlier is refused).
    let (answered_tx, answered) = oneshot::channel::<Result<(), String>>();
    let answered_tx = Arc::new(std::sync::Mutex::new(Some(answered_tx)));
    let answer = answered_tx.clone();
    builder = builder.on(Event::Connect, move |_, _| {
        if let Some(tx) = answer.lock().ok().and_then(|mut t| t.take()) {
            let _ = tx.send(Ok(()));
        }
        async {}.boxed()
    });
    let out_err = out.clone();
    builder = builder.on(Event::Error, move |payload, _| {
        let message = first_value(payload);
        match answered_tx.lock().ok().and_then(|mut t| t.take()) {
            Some(tx) => {
                let _ = tx.send(Err(message.to_string()));
            }
            None => {
                let line = json!({ "kind": "error", "client": index, "message": message });
                let _ = out_err.send(line);
            }
        }
        async {}.boxed()
    });
    let timeout = Duration::from_secs(cfg.timeout_secs);
    let client = match tokio::time::timeout(timeout, builder.connect()).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => return Err(format!("connect: {e:?}")),
        Err(_) => return Err("connect: timed out".into()),
    };
    match tokio::time::timeout(timeout, answered).await {
        Ok(Ok(Ok(()))) => Ok(client),
        Ok(Ok(Err(message))) => Err(format!("connect: {message}")),
        _ => Err("connect: the server did not answer the namespace CONNECT".into()),
    }
}

async fn emit_with_ack(client: &Client, emit: &Emit, timeout: Duration) -> Result<Value, String> {
    let (tx, rx) = oneshot::channel();
    let tx = Arc::new(std::sync::Mutex::new(Some(tx)));
    client
        .emit_with_ack(
            emit.event.as_str(),
            emit.data.clone(),
            timeout,
            move |payload, _| {
                if let Some(tx) = tx.lock().ok().and_then(|mut t| t.take()) {
                    // An ack arrives as its whole argument list; Uma's acks have one argument.
                    let args = first_value(payload);
                    let _ = tx.send(match args {
                        Value::Array(mut a) if a.len() == 1 => a.remove(0),
                        other => other,
                    });
                }
                async {}.boxed()
            },
        )
        .await
        .map_err(|e| format!("{}: {e}", emit.event))?;
    match tokio::time::timeout(timeout, rx).await {
        Ok(Ok(v)) => Ok(v),
        _ => Err(format!("{}: no ack within {timeout:?}", emit.event)),
    }
}

async fn write_lines(mut rx: mpsc::UnboundedReceiver<Value>) {
    let mut stdout = tokio::io::BufWriter::new(tokio::io::stdout());
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while let Ok(v) = rx.try_recv() {
            batch.push(v);
        }
        for v in batch {
            let mut line = v.to_string();
            line.push('\n');
            if stdout.write_all(line.as_bytes()).await.is_err() {
                return;
            }
        }
        if stdout.flush().await.is_err() {
            return;
        }
    }
}

#[tokio::main]
async fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: uma-swarm CONFIG.json (see the source's header for the format)");
        std::process::exit(2);
    };
    let cfg: Config = match std::fs::read(&path)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("uma-swarm: {path}: {e}");
            std::process::exit(2);
        }
    };
    let cfg = Arc::new(cfg);
    let (out, rx) = mpsc::unbounded_channel();
    let writer = tokio::spawn(write_lines(rx));
    let clients: Arc<Mutex<Vec<Client>>> = Arc::default();

    let timeout = Duration::from_secs(cfg.timeout_secs);
    let turns = Arc::new(tokio::sync::Semaphore::new(cfg.connect_concurrency.max(1)));
    let starts = (0..cfg.clients.len()).map(|i| {
        let cfg = cfg.clone();
        let out = out.clone();
        let clients = clients.clone();
        let turns = turns.clone();
        async move {
            let _turn = turns.acquire().await;
            let client = match connect(i, &cfg, &cfg.clients[i], &out).await {
                Ok(c) => c,
                Err(message) => {
                    let _ = out.send(json!({ "kind": "error", "client": i, "message": message }));
                    return;
                }
            };
            let _ = out.send(json!({ "kind": "connected", "client": i,
                                     "label": cfg.clients[i].label, "at": now_ms() }));
            for emit in &cfg.emit {
                match emit_with_ack(&client, emit, timeout).await {
                    Ok(data) => {
                        let data = if cfg.brief && !cfg.full.contains(&i) {
                            json!({ "version": data["version"], "ok": data["ok"],
                                    "items": data["items"].as_array().map_or(0, Vec::len) })
                        } else {
                            data
                        };
                        let _ = out.send(json!({ "kind": "ack", "client": i, "event": emit.event,
                                                 "data": data, "at": now_ms() }));
                    }
                    Err(message) => {
                        let _ =
                            out.send(json!({ "kind": "error", "client": i, "message": message }));
                    }
                }
            }
            clients.lock().await.push(client);
        }
    });
    futures_util::future::join_all(starts).await;
    let _ = out.send(json!({ "kind": "ready", "at": now_ms() }));

    // Run until whoever started us closes our standard input.
    let mut stdin = tokio::io::stdin();
    let mut buf = [0u8; 256];
    while matches!(stdin.read(&mut buf).await, Ok(n) if n > 0) {}

    for c in clients.lock().await.drain(..) {
        let _ = c.disconnect().await;
    }
    let _ = out.send(json!({ "kind": "done" }));
    drop(out);
    let _ = writer.await;
}
