//! The audit log's live tail: an administrator's page follows the log as it is written
//! (`audit:watch` joins the tail's room; the audit writer emits `audit:new` with each batch).

use serde_json::json;

use super::events::on;
use super::Socket;
use crate::error::{AppError, ErrorCode};
use crate::push::room;

/// The events registered here.
pub const EVENTS: &[&str] = &["audit:watch", "audit:unwatch"];

/// Registers the handlers on a signed-in socket.
pub fn register(socket: &Socket) {
    on(socket, "audit:watch", async |_state, caller, s, _d| {
        if !caller.is_admin() {
            return Err(AppError::with_message(
                ErrorCode::Forbidden,
                "Only administrators follow the audit log",
            ));
        }
        s.join(room::AUDIT_TAIL);
        Ok(json!({ "watching": true }))
    });
    on(socket, "audit:unwatch", async |_state, _caller, s, _d| {
        s.leave(room::AUDIT_TAIL);
        Ok(json!({ "watching": false }))
    });
}
