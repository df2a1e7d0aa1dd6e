//! Socket.IO (socketioxide) at `/api/socket/io`: the browser's control channel. The connect
//! middleware admits only sockets with a valid session; families register their events here.

use socketioxide::extract::SocketRef;
use socketioxide::handler::ConnectHandler;
use socketioxide::layer::SocketIoLayer;
use socketioxide::SocketIo;

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

/// Builds the Socket.IO layer and its handle.
pub fn layer() -> (SocketIoLayer, SocketIo) {
    let (layer, io) = SocketIo::builder().req_path(PATH).build_layer();
    io.ns("/", on_connect.with(authenticate));
    (layer, io)
}

/// Admits a socket only with a valid session cookie. Sign-in is not wired to sockets yet, so
/// every socket is refused with `Unauthorized`, as the original refuses anonymous ones.
async fn authenticate(socket: SocketRef) -> Result<(), Refused> {
    tracing::debug!(sid = %socket.id, "socket refused: no session");
    Err(Refused("Unauthorized"))
}

async fn on_connect(socket: SocketRef) {
    tracing::debug!(sid = %socket.id, "socket connected");
}

/// Tells every connected socket the server is going away, then disconnects them.
pub async fn shutdown(io: &SocketIo) {
    if let Err(e) = io
        .emit("server:shutdown", &serde_json::json!({ "reconnect": true }))
        .await
    {
        tracing::debug!(error = %e, "shutdown notice not delivered to every socket");
    }
    if let Err(e) = io.disconnect().await {
        tracing::debug!(error = %e, "some sockets did not disconnect cleanly");
    }
}
