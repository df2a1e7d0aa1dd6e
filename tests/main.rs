//! Uma's integration tests: one binary that boots the real server (port 0, fresh database, the
//! simulator over HTTPS) and talks to it over real HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

mod access;
mod audit;
mod auth;
mod chat;
mod config_errors;
mod consoles;
mod docs;
mod factors;
mod guests;
mod hardware;
mod isolation;
mod ldap;
mod limits;
mod nodes;
mod notifications;
mod oidc;
mod passkeys;
mod pools;
mod previews;
mod proxmox;
mod replication;
mod scale;
mod sdn;
mod server;
mod settings;
mod store;
mod tokens;
mod tree;
mod uploads;
mod users;
mod watch;
mod whiteboard;
