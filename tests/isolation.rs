//! Hostile-tenant suite: each test plays a tenant (or an anonymous caller) trying to reach what
//! is not theirs, and asserts the refusal and that nothing changed.

mod harness;

mod attack;
mod guests;
mod identity;
mod pools;
mod privileges;
mod property;
mod quotas;
mod routes;
mod sessions;
mod small;
mod values;
