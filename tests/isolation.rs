//! Hostile-tenant suite: each test plays a tenant (or an anonymous caller) trying to reach what
//! is not theirs, and asserts the refusal and that nothing changed.
mod sessions;
mod small;
