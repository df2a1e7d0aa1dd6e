//! Authentication: local accounts (argon2id) now; LDAP, sessions and CSRF build on it.

pub mod password;
