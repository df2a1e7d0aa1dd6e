//! The `pve-sim` integration tests, one binary: schema conformance, guest lifecycles, refusals,
//! ACLs, fault knobs, persistence. Everything goes over real HTTPS with reqwest.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod acl;
mod common;
mod conformance;
mod faults;
mod lifecycle;
mod persistence;
mod refusals;
mod robustness;
