//! Socket.IO (socketioxide) at `/api/socket/io`: the browser's control channel. The connect
//! middleware admits a socket only with a live session and an allowed Origin; each socket joins
//! `user:<username>` and registers with its session actor, which disconnects it when the session
//! ends (logout, revoke, expiry). Events on a socket are activity that extends the session.

pub mod audit;
pub mod chat;
pub mod events;
pub mod guests;
pub mod payload;
pub mod watch;
pub mod whiteboard;

use std::sync::{Arc, OnceLock};

use socketioxide::extract::{State, TryData};
use socketioxide::handler::ConnectHandler;
use socketioxide::layer::SocketIoLayer;
use socketioxide::SocketIo;

use crate::push::adapter::{Adapter, Bus};
pub use crate::push::{Io, IoControl, Socket};
use uma_actors::sessions::{SessionMsg, SessionsMsg};

use crate::auth::csrf;
use crate::auth::session::CurrentSession;
use crate::state::AppState;

/// Path of the Socket.IO endpoint (the original's).
pub const PATH: &str = "/api/socket/io";

/// Why a socket was refused at connect time (sent to the client as the `connect_error` message).
#[derive(Debug)]
pub struct Refused(&'static str);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// The session of a connected socket, in its extensions.
#[derive(Debug, Clone)]
pub struct SocketSession(pub Arc<CurrentSession>);

/// When a socket's activity last extended its session (Unix ms), in its extensions.
#[derive(Debug, Clone)]
struct LastTouch(Arc<std::sync::atomic::AtomicI64>);

/// An event on a socket is activity: it extends the session as a request does (written at most
/// every [`crate::auth::session::touch_every_ms`], in the background).
pub(crate) fn note_activity(socket: &Socket, state: &AppState, session: &CurrentSession) {
    use std::sync::atomic::Ordering;
    let Some(LastTouch(last)) = socket.extensions.get::<LastTouch>() else {
        return;
    };
    // A token's session is its row; there is no stored session to extend.
    if session.token.is_some() {
        return;
    }
    let now = crate::store::now_ms();
    let before = last.load(Ordering::Relaxed);
    if now - before <= crate::auth::session::touch_every_ms(&state.config)
        || last
            .compare_exchange(before, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
    {
        return;
    }
    let state = state.clone();
    let id = session.record.id.clone();
    let expires_at =
        crate::auth::session::expiry_after_activity(&state.config, session.record.created_at, now);
    tokio::spawn(async move {
        if let Err(e) = state.records.touch(&id, now, expires_at).await {
            tracing::debug!(error = %e, "socket activity not recorded");
        }
    });
}

/// Builds the Socket.IO layer and its handle; `bus` carries broadcasts to the other instances of
/// `deployment`.
pub async fn layer(
    state: AppState,
    bus: Bus,
    deployment: &str,
) -> Result<(SocketIoLayer<Adapter>, Io), String> {
    // The engine takes what the largest event may carry (`draw_save`, admins only) on either
    // transport (the WebSocket limit defaults to 64 MiB otherwise); every event then checks its
    // own, far smaller cap on the payload as received, before parsing it.
    let engine_max = crate::limits::events::largest_cap() + 64 * 1024;
    let (layer, io) = SocketIo::builder()
        .req_path(PATH)
        .max_payload(engine_max as u64)
        .ws_max_message_size(engine_max)
        .ws_max_frame_size(engine_max)
        .with_parser(socketioxide::ParserConfig::common().max_incoming_binary_buf_size(engine_max))
        // Room for bursts (a busy chat, a drawing) to a client that polls.
        .max_buffer_size(4096)
        .with_state(state)
        .with_adapter::<Adapter>(bus.adapter(deployment))
        .build_layer();
    io.ns("/", on_connect.with(authenticate))
        .await
        .map_err(|e| format!("Socket.IO namespace: {e}"))?;
    Ok((layer, io))
}

/// Admits a socket only with an allowed Origin and a live session (or an API token in the
/// handshake's `auth: {token}`), and registers its handlers.
async fn authenticate(
    socket: Socket,
    State(state): State<AppState>,
    TryData(auth): TryData<serde_json::Value>,
) -> Result<(), Refused> {
    let headers = &socket.req_parts().headers;
    let token = auth
        .ok()
        .and_then(|a| a.get("token").and_then(|t| t.as_str()).map(str::to_owned));
    match headers
        .get(http::header::ORIGIN)
        .and_then(|v| v.to_str().ok())
    {
        Some(origin) if csrf::allowed_origin(&state.config, headers, origin) => {}
        Some(origin) => {
            tracing::info!(%origin, "socket refused: foreign origin");
            return Err(Refused("Forbidden origin"));
        }
        // Scripts send no Origin; a token is no ambient credential a page could borrow.
        None if state.config.web.allow_missing_ws_origin || token.is_some() => {}
        None => return Err(Refused("Forbidden origin")),
    }
    let loaded = match &token {
        Some(secret) => {
            match crate::auth::tokens::session_for(&state.store, secret, crate::store::now_ms())
                .await
            {
                Ok(s) => Ok(Some(s)),
                Err(e) if e.code == crate::error::ErrorCode::Unauthorized => Ok(None),
                Err(e) => Err(e),
            }
        }
        None => {
            crate::auth::session::load(&state.signer, &state.records, &state.config, headers).await
        }
    };
    match loaded {
        Ok(Some(session)) => {
            socket.join(crate::push::room::user(session.username()));
            socket
                .extensions
                .insert(LastTouch(Arc::new(std::sync::atomic::AtomicI64::new(
                    session.record.last_seen_at,
                ))));
            socket.extensions.insert(SocketSession(Arc::new(session)));
            // Handlers here, not in `on_connect`: socketioxide answers the CONNECT before it
            // spawns the connect handler, and a client emits as soon as it reads that answer
            // (the official client flushes its buffer then); an event that finds no handler is
            // dropped without an ack.
            guests::register(&socket);
            chat::register(&socket);
            whiteboard::register(&socket);
            watch::register(&socket);
            audit::register(&socket);
            let setup = Arc::new(Setup::default());
            socket.extensions.insert(setup.clone());
            socket.on_disconnect(async move |s: Socket, State(state): State<AppState>| {
                setup.finished().await;
                let sid = s.id.to_string();
                state.live.unwatch(&sid);
                state.streams.leave(&sid, None);
                state.streams.unguard(&sid, None);
                state.streams.unguard_board(&sid, None);
                if let Some(actor) = setup.actor.get() {
                    let _ = actor.cast(SessionMsg::RemoveSocket(sid));
                }
                if setup.chat.get().is_some() {
                    chat::disconnected(&state, &s).await;
                }
            });
            Ok(())
        }
        Ok(None) => Err(Refused("Unauthorized")),
        Err(e) => {
            tracing::error!(error = %e, "socket refused: session store unavailable");
            Err(Refused("Authentication error"))
        }
    }
}

/// What the connect handler set up for a socket, for its disconnect handler: the disconnect may
/// come before the (spawned) connect handler ran or finished, and must undo only what it did.
#[derive(Debug, Default)]
struct Setup {
    actor: OnceLock<ractor::ActorRef<SessionMsg>>,
    chat: OnceLock<()>,
    /// Becomes true when the connect handler is done.
    done: tokio::sync::watch::Sender<bool>,
}

impl Setup {
    fn finish(&self) {
        self.done.send_replace(true);
    }

    async fn finished(&self) {
        let mut done = self.done.subscribe();
        // The connect handler ends in moments; never hold a disconnect forever.
        let _ =
            tokio::time::timeout(std::time::Duration::from_secs(30), done.wait_for(|d| *d)).await;
    }
}

async fn on_connect(socket: Socket, State(state): State<AppState>) {
    let Some(SocketSession(session)) = socket.extensions.get::<SocketSession>() else {
        // The middleware always inserts it; without it the socket has no business here.
        let _ = socket.disconnect();
        return;
    };
    let Some(setup) = socket.extensions.get::<Arc<Setup>>() else {
        let _ = socket.disconnect();
        return;
    };
    let identity = crate::auth::session::identity_of(&session);
    match uma_actors::call!(state.sessions.get(), |reply| SessionsMsg::Ensure(
        identity, reply
    )) {
        Ok(actor) => {
            if actor
                .cast(SessionMsg::AddSocket(socket.id.to_string()))
                .is_err()
            {
                setup.finish();
                let _ = socket.disconnect();
                return;
            }
            let _ = setup.actor.set(actor);
            tracing::debug!(user = session.username(), "socket connected");
            chat::connected(&state, &socket).await;
            let _ = setup.chat.set(());
            setup.finish();
        }
        Err(e) => {
            setup.finish();
            tracing::error!(error = %e, "session actor unavailable; closing the socket");
            let _ = socket.disconnect();
        }
    }
}

/// Events the server emits (each listed in `docs/realtime.md`).
pub const SERVER_EVENTS: &[&str] = &[
    "session:ended",
    "session:revoked",
    "session:expired",
    "server:shutdown",
    "task:started",
    "task:update",
    "task:done",
    "resources:delta",
    "cluster:status",
    "guest:update",
    "guest:revoked",
    "node:update",
    "audit:new",
    "notification:upsert",
    "notification:remove",
    "notification:dismissed",
    // Chat (the original's names) and Uma's additions.
    "new_message",
    "message_sent",
    "message_updated",
    "user_typing",
    "messages_read",
    "messages_delivered",
    "presence",
    "online_users_list",
    "group_updated",
    "group_removed",
    "error",
    // Whiteboard.
    "draw_stroke",
    "draw_undo",
    "draw_cursor",
    "draw_clear",
    "draw_sync",
    "whiteboard_participants",
    "whiteboard_revoked",
];

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::collections::BTreeSet;

    /// Every event name a handler registers, found in the source: `on(socket, "x"` and
    /// `on_gated(socket, "x"` (the ack'd helpers) and `.on("x"` (socketioxide directly).
    fn registered_in_source() -> BTreeSet<String> {
        let re =
            regex::Regex::new(r#"(?:\bon(?:_gated)?\(\s*(?:&?\w+),\s*|\.on\(\s*)"([a-z_:]+)""#)
                .unwrap();
        let mut found = BTreeSet::new();
        let mut stack = vec![std::path::PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/src"
        ))];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text: String = std::fs::read_to_string(&path)
                        .unwrap()
                        .lines()
                        .filter(|l| !l.trim_start().starts_with("//"))
                        .collect::<Vec<_>>()
                        .join("\n");
                    for c in re.captures_iter(&text) {
                        found.insert(c[1].to_owned());
                    }
                }
            }
        }
        found
    }

    fn catalogue() -> String {
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/realtime.md")).unwrap()
    }

    #[test]
    fn every_registered_event_is_in_the_catalogue() {
        let doc = catalogue();
        let registered = registered_in_source();
        assert!(
            registered.contains("vm:power"),
            "the scan finds handlers: {registered:?}"
        );
        let missing: Vec<&String> = registered
            .iter()
            .filter(|e| !doc.contains(&format!("| `{e}` |")))
            .collect();
        assert!(
            missing.is_empty(),
            "events registered in code but missing from docs/realtime.md: {missing:?}"
        );
        for e in super::guests::EVENTS
            .iter()
            .chain(super::watch::EVENTS)
            .chain(super::chat::EVENTS)
            .chain(super::whiteboard::EVENTS)
            .chain(super::audit::EVENTS)
        {
            assert!(
                registered.contains(*e),
                "{e} is listed in EVENTS but never registered"
            );
        }
    }

    #[test]
    fn every_server_event_is_in_the_catalogue() {
        let doc = catalogue();
        for e in super::SERVER_EVENTS {
            assert!(
                doc.contains(&format!("| `{e}` |")),
                "{e} missing from docs/realtime.md"
            );
        }
    }
}
