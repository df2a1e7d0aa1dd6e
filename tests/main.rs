//! Uma's integration tests: one binary that boots the real server (port 0, fresh database, the
//! simulator over HTTPS) and talks to it over real HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

mod admin_api;
mod audit;
mod auth;
mod chat;
mod config_errors;
mod consoles;
mod guests;
mod isolation;
mod ldap;
mod limits;
mod proxmox;
mod scale;
mod sdn;
mod server;
mod store;
mod tree;
mod watch;
mod whiteboard;
