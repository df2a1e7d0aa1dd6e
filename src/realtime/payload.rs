//! [`RawPayload`]: an event's payload as received, sized before anything parses it.

use crate::push::adapter::Adapter;

/// An incoming event's payload as received, measured but not parsed yet: handlers check its size
/// (and who may send it) first, then decode it.
pub struct RawPayload {
    socket: std::sync::Arc<socketioxide::socket::Socket<Adapter>>,
    value: socketioxide::handler::Value,
    ack_id: Option<i64>,
    /// Bytes received for the event: its JSON (event name included) and any binary attachments.
    pub size: usize,
}

impl std::fmt::Debug for RawPayload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawPayload")
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl socketioxide::handler::FromMessageParts<Adapter> for RawPayload {
    type Error = std::convert::Infallible;

    fn from_message_parts(
        s: &std::sync::Arc<socketioxide::socket::Socket<Adapter>>,
        v: &mut socketioxide::handler::Value,
        ack_id: &Option<i64>,
    ) -> Result<Self, Self::Error> {
        let size = match &*v {
            socketioxide::handler::Value::Str(text, bins) => {
                text.len() + bins.iter().flatten().map(|b| b.len()).sum::<usize>()
            }
            socketioxide::handler::Value::Bytes(b) => b.len(),
        };
        // A clone of reference-counted bytes: nothing is copied or parsed here.
        Ok(RawPayload {
            socket: s.clone(),
            value: v.clone(),
            ack_id: *ack_id,
            size,
        })
    }
}

impl RawPayload {
    /// Parses the payload (the first argument after the event name; `null` when there is none).
    pub fn decode(mut self) -> Result<serde_json::Value, String> {
        use socketioxide::handler::FromMessageParts;
        match socketioxide::extract::TryData::<serde_json::Value>::from_message_parts(
            &self.socket,
            &mut self.value,
            &self.ack_id,
        ) {
            Ok(socketioxide::extract::TryData(data)) => data.map_err(|e| e.to_string()),
            Err(never) => match never {},
        }
    }
}
