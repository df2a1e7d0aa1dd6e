//! The `pve-sim` integration tests, one binary: schema conformance, guest lifecycles, refusals,
//! ACLs, fault knobs, persistence, VNC consoles. Everything goes over real HTTPS (reqwest, and
//! tokio-tungstenite over tokio-rustls for the console WebSocket).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod acl;
mod common;
mod conformance;
mod console;
mod faults;
mod lifecycle;
mod persistence;
mod refusals;
mod robustness;
