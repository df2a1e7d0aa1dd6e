//! Uma: a self-service web console for Proxmox VE.
//!
//! The library holds the whole server so integration tests can boot it on port 0; `main.rs` only
//! parses the command line and calls [`cli::main`].
//!
//! The modules stand in layers, lowest first; a module uses its own layer and those below it,
//! never one above, and the modules of a layer do not import each other in a cycle. The order is
//! checked by a test (`layering.rs`) and drawn in `docs/architecture.md`.

// L0 base: values, wire clients and storage that know nothing of users.
pub mod config;
pub mod error;
pub mod opid;
pub mod pve;
pub mod redis;
pub mod secret;
pub mod store;
pub mod telemetry;
pub mod tls;

// L1 rules: who may do what, what is recorded and counted, how events reach browsers.
pub mod acl;
pub mod audit;
pub mod auth;
pub mod hardware_defaults;
pub mod limits;
pub mod push;
pub mod templates;

// L2 services: what users do, shared by REST and Socket.IO.
pub mod services;

// L3 state: the application state that composes the contexts.
pub mod state;

// L4 edges: HTTP routes and Socket.IO events.
pub mod http;
pub mod realtime;

// L5 composition: building, starting and running the server.
pub mod app;
pub mod bootstrap;
pub mod cli;

#[cfg(test)]
mod generated;
#[cfg(test)]
mod layering;
#[cfg(test)]
mod wire;
