//! Pushing events to browsers: the Socket.IO handle ([`IoControl`]), its transport across
//! instances ([`adapter`]), the actors' [`uma_actors::emit::Emitter`] over it ([`emit`]) and the
//! names of the rooms sockets join ([`room`]). Services push through this module; only
//! `realtime/` registers handlers.

pub mod adapter;
pub mod emit;
pub mod room;

use std::sync::{Arc, OnceLock};

use socketioxide::socket::Sid;
use socketioxide::SocketIo;
use uma_actors::sessions::SocketControl;

use self::adapter::Adapter;

/// A connected socket.
pub type Socket = socketioxide::extract::SocketRef<Adapter>;
/// The server's Socket.IO handle.
pub type Io = SocketIo<Adapter>;

/// [`SocketControl`] over Socket.IO; the handle is set once the layer exists.
#[derive(Clone, Default)]
pub struct IoControl(Arc<OnceLock<Io>>);

impl std::fmt::Debug for IoControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IoControl")
    }
}

impl IoControl {
    /// Connects the control to the Socket.IO handle.
    pub fn set(&self, io: Io) {
        let _ = self.0.set(io);
    }

    /// The Socket.IO handle, once set.
    pub fn io(&self) -> Option<Io> {
        self.0.get().cloned()
    }
}

impl IoControl {
    /// Emits `event` to this instance's sockets in any of `rooms` (none when `rooms` is empty)
    /// and waits until it is queued
    /// for each (in order with the caller's other emits). For what each instance produces itself
    /// (its poller's deltas, its streams): other instances send their own.
    pub async fn emit_here(
        &self,
        rooms: Vec<String>,
        event: &'static str,
        payload: &serde_json::Value,
    ) {
        // No rooms is nobody (socketioxide would send to every socket).
        let Some(io) = self.0.get().filter(|_| !rooms.is_empty()) else {
            return;
        };
        if let Err(e) = io.local().to(rooms).emit(event, payload).await {
            tracing::debug!(error = %e, event, "emit failed for some sockets");
        }
    }

    /// Emits `event` to every socket in any of `rooms` (each socket once; none when `rooms` is
    /// empty), on every instance, without waiting.
    pub fn emit_to(&self, rooms: Vec<String>, event: &'static str, payload: serde_json::Value) {
        // No rooms is nobody (socketioxide would send to every socket).
        let Some(io) = self.0.get().cloned().filter(|_| !rooms.is_empty()) else {
            return;
        };
        tokio::spawn(async move {
            if let Err(e) = io.to(rooms).emit(event, &payload).await {
                tracing::debug!(error = %e, event, "emit failed");
            }
        });
    }
}

impl IoControl {
    /// Disconnects every socket of this instance so that each connects again (the browser
    /// retries at once): after a restart of what tracks sockets, they register anew.
    pub fn reconnect_local(&self) {
        let Some(io) = self.io() else {
            return;
        };
        // The sockets connected now, no later one: a socket that connects after the restart
        // registered with the new actor already.
        for socket in io.sockets() {
            if let Err(e) = socket.disconnect() {
                tracing::debug!(error = %e, "a socket did not disconnect cleanly");
            }
        }
    }
}

impl SocketControl for IoControl {
    fn notify_and_disconnect(
        &self,
        socket_ids: &[String],
        event: &str,
        payload: serde_json::Value,
    ) {
        let Some(io) = self.0.get() else {
            return;
        };
        for id in socket_ids {
            let Ok(sid) = id.parse::<Sid>() else {
                continue;
            };
            if let Some(socket) = io.get_socket(sid) {
                let _ = socket.emit(event, &payload);
                let _ = socket.disconnect();
            }
        }
    }
}

/// Tells every socket of this instance the server is going away, then disconnects them (the
/// other instances' sockets stay).
pub async fn shutdown(io: &Io) {
    if let Err(e) = io
        .local()
        .emit("server:shutdown", &serde_json::json!({ "reconnect": true }))
        .await
    {
        tracing::debug!(error = %e, "shutdown notice not delivered to every socket");
    }
    if let Err(e) = io.local().disconnect().await {
        tracing::debug!(error = %e, "some sockets did not disconnect cleanly");
    }
}

impl IoControl {
    /// Emits to one socket of this instance, then takes it out of `rooms`.
    pub fn tell_and_leave(
        &self,
        sid: &str,
        rooms: Vec<String>,
        event: &'static str,
        payload: serde_json::Value,
    ) {
        let Some(io) = self.io() else { return };
        let Ok(sid) = sid.parse::<Sid>() else { return };
        if let Some(socket) = io.get_socket(sid) {
            socket.leave(rooms);
            let _ = socket.emit(event, &payload);
        }
    }

    /// Emits to one socket, then moves it from one room to another.
    pub fn move_socket(
        &self,
        sid: &str,
        from: &str,
        to: &str,
        event: &'static str,
        payload: serde_json::Value,
    ) {
        let Some(io) = self.io() else { return };
        let Ok(sid) = sid.parse::<Sid>() else { return };
        if let Some(socket) = io.get_socket(sid) {
            let _ = socket.emit(event, &payload);
            socket.leave(from.to_owned());
            socket.join(to.to_owned());
        }
    }
}
