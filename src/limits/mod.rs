//! Every limit Uma counts, over one shared fixed window ([`window`]): operations on Proxmox per
//! user ([`ops`]), Socket.IO events and chat REST calls per socket and per user ([`events`]), and
//! failed sign-ins per client address ([`login`]). With Redis configured the windows are shared
//! by every instance; without it, or while it fails, each instance counts in process.

pub mod events;
pub mod login;
pub mod ops;
pub mod window;

pub use self::ops::{Backend, OpLimits, Preset};
