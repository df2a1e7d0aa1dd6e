//! Uma: a self-service web console for Proxmox VE.
//!
//! The library holds the whole server so integration tests can boot it on port 0; `main.rs` only
//! parses the command line and calls [`cli::main`].

pub mod acl;
pub mod app;
pub mod audit;
pub mod auth;
pub mod bootstrap;
pub mod chat;
pub mod cli;
pub mod cluster_feed;
pub mod config;
pub mod console;
pub mod error;
pub mod hardware_defaults;
pub mod http;
pub mod limits;
pub mod live;
pub mod opid;
pub mod push;
pub mod pve;
pub mod realtime;
pub mod redis;
pub mod secret;
pub mod services;
pub mod state;
pub mod store;
pub mod tasks;
pub mod telemetry;
pub mod templates;
pub mod tls;
pub mod whiteboard;
