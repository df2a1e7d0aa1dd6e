//! `uma-actors`: every long-lived thing in Uma is an actor in one supervision tree rooted at
//! [`root::RootSupervisor`]. This crate holds the actors and their messages; it has no HTTP, SQL
//! or Proxmox wire code and reaches the world through small traits the server implements.

pub mod audit;
pub mod chat;
pub mod cluster;
pub mod consoles;
pub mod emit;
pub mod presence;
pub mod root;
pub mod sessions;
pub mod whiteboard;

use std::time::Duration;

/// How long an actor `call` waits for its reply before giving up.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// Errors returned to callers of actor RPCs.
#[derive(Debug, thiserror::Error)]
pub enum ActorError {
    /// The actor did not answer in time or is gone.
    #[error("actor unavailable: {0}")]
    Unavailable(String),
}

/// Calls an actor and maps timeouts and dead actors to [`ActorError::Unavailable`].
#[macro_export]
macro_rules! call {
    ($actor:expr, $msg:expr) => {
        match ractor::call_t!($actor, $msg, $crate::CALL_TIMEOUT.as_millis() as u64) {
            Ok(v) => Ok(v),
            Err(e) => Err($crate::ActorError::Unavailable(e.to_string())),
        }
    };
}
