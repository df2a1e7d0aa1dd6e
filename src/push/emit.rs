//! [`IoEmitter`]: the actors' [`Emitter`] over Socket.IO. An emit is awaited until queued on each
//! target socket, so what one actor emits in order arrives in order. An emit with no rooms
//! reaches nobody (socketioxide would read an empty room list as "every socket"); a broadcast
//! must be asked for with [`uma_actors::emit::Emit::everyone`].

use socketioxide::socket::Sid;
use uma_actors::emit::{BoxFut, Emit, Emitter};

use super::IoControl;

/// Emits through the server's Socket.IO handle. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct IoEmitter(pub IoControl);

impl Emitter for IoEmitter {
    fn emit(&self, e: Emit) -> BoxFut<'_, ()> {
        Box::pin(async move {
            if e.reaches_nobody() {
                return;
            }
            let Some(io) = self.0.io() else {
                return;
            };
            let sender = e
                .except
                .as_deref()
                .and_then(|s| s.parse::<Sid>().ok())
                .and_then(|sid| io.get_socket(sid));
            let result = match (sender, e.everyone) {
                (Some(s), true) => s.broadcast().emit(e.event, &e.payload).await,
                (Some(s), false) => s.to(e.rooms).emit(e.event, &e.payload).await,
                (None, true) => io.emit(e.event, &e.payload).await,
                (None, false) => io.to(e.rooms).emit(e.event, &e.payload).await,
            };
            if let Err(err) = result {
                // A socket whose buffer is full (a client that stopped reading) misses the event;
                // it reloads history when it reconnects.
                tracing::warn!(event = e.event, error = %err, "event not delivered to every socket");
            }
        })
    }
}
