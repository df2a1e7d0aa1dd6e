//! Emitting Socket.IO events from actors: the server implements [`Emitter`] over socketioxide,
//! tests fake it. An emit completes when the event is queued on every target socket, so events an
//! actor emits one after another reach each socket in that order.

use std::future::Future;
use std::pin::Pin;

/// A boxed future, for the async methods of the traits actors reach the world through.
pub type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One event for some rooms.
#[derive(Debug, Clone, PartialEq)]
pub struct Emit {
    /// Rooms whose sockets receive it (each socket once); empty: every connected socket.
    pub rooms: Vec<String>,
    /// A socket id left out (the sender's own socket), if any.
    pub except: Option<String>,
    /// Event name.
    pub event: &'static str,
    /// Payload.
    pub payload: serde_json::Value,
}

impl Emit {
    /// An event for `rooms`.
    pub fn to(rooms: Vec<String>, event: &'static str, payload: serde_json::Value) -> Self {
        Self {
            rooms,
            except: None,
            event,
            payload,
        }
    }

    /// Leaves out the socket `sid`.
    pub fn except(mut self, sid: Option<String>) -> Self {
        self.except = sid;
        self
    }
}

/// Where actors send events.
pub trait Emitter: Send + Sync + 'static {
    /// Queues `emit` on its target sockets; resolves once queued.
    fn emit(&self, emit: Emit) -> BoxFut<'_, ()>;
}

/// The room of a user's sockets.
pub fn user_room(username: &str) -> String {
    format!("user:{username}")
}
