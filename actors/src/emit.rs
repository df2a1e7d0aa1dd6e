//! Emitting Socket.IO events from actors: the server implements [`Emitter`] over socketioxide,
//! tests fake it. An emit completes when the event is queued on every target socket, so events an
//! actor emits one after another reach each socket in that order.

use std::future::Future;
use std::pin::Pin;

/// A boxed future, for the async methods of the traits actors reach the world through.
pub type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One event for some rooms, or for every socket.
///
/// An empty room list means nobody: an audience computed from members, blocks and visibility
/// that comes out empty must never turn into a broadcast. Reaching every socket is said
/// explicitly with [`Emit::everyone`].
#[derive(Debug, Clone, PartialEq)]
pub struct Emit {
    /// Rooms whose sockets receive it (each socket once); empty: nobody (unless `everyone`).
    pub rooms: Vec<String>,
    /// Every connected socket receives it, whatever `rooms` says.
    pub everyone: bool,
    /// A socket id left out (the sender's own socket), if any.
    pub except: Option<String>,
    /// Event name.
    pub event: &'static str,
    /// Payload.
    pub payload: serde_json::Value,
}

impl Emit {
    /// An event for the sockets in `rooms` (none when `rooms` is empty).
    pub fn to(rooms: Vec<String>, event: &'static str, payload: serde_json::Value) -> Self {
        Self {
            rooms,
            everyone: false,
            except: None,
            event,
            payload,
        }
    }

    /// An event for every connected socket.
    pub fn everyone(event: &'static str, payload: serde_json::Value) -> Self {
        Self {
            rooms: Vec::new(),
            everyone: true,
            except: None,
            event,
            payload,
        }
    }

    /// Whether it reaches no socket at all.
    pub fn reaches_nobody(&self) -> bool {
        !self.everyone && self.rooms.is_empty()
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
