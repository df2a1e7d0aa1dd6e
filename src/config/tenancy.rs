//! What tenants may use and how much: the public template pool, storages and bridges, pools and
//! VNets per owner, consoles per user.

use std::collections::BTreeMap;
use std::time::Duration;

use super::reader::Reader;
use super::{list, Key};

/// This section's variables: name, default, secret.
pub(super) const KEYS: &[Key] = &[
    ("MAX_VNETS_PER_USER", "0", false),
    ("ALLOWED_PUBLIC_STORAGES", "", false),
    ("ALLOWED_PUBLIC_BRIDGES", "vmbr0", false),
    ("PUBLIC_TEMPLATE_POOL", "TEMPLATES", false),
    ("MAX_POOLS_PER_USER", "3", false),
    ("CONSOLE_MAX_PER_USER", "4", false),
    ("CONSOLE_IDLE_TIMEOUT_SECS", "900", false),
];

/// The tenancy section.
#[derive(Debug, Clone)]
pub struct Tenancy {
    /// `PUBLIC_TEMPLATE_POOL`: the pool whose templates every user may clone.
    pub public_template_pool: String,
    /// `ALLOWED_PUBLIC_STORAGES`.
    pub public_storages: Vec<String>,
    /// `ALLOWED_PUBLIC_BRIDGES`: bridges every user may put a network device on (untagged).
    pub public_bridges: Vec<String>,
    /// `MAX_POOLS_PER_USER`: pools one owner may create (0 = unlimited; administrators unbound).
    pub max_pools_per_user: u32,
    /// `MAX_VNETS_PER_USER` (0 = unlimited).
    pub max_vnets_per_user: u32,
    /// `CONSOLE_MAX_PER_USER`: consoles one user may have open at once.
    pub console_max_per_user: usize,
    /// `CONSOLE_IDLE_TIMEOUT_SECS`: a console without traffic this long is closed.
    pub console_idle_timeout: Duration,
}

impl Tenancy {
    pub(super) fn read(r: &mut Reader<'_>) -> Self {
        let public_template_pool = r.string("PUBLIC_TEMPLATE_POOL");
        if !public_template_pool.is_empty()
            && crate::pve::path::PoolId::parse("PUBLIC_TEMPLATE_POOL", &public_template_pool)
                .is_err()
        {
            r.problem(
                "PUBLIC_TEMPLATE_POOL",
                "a pool id: 1 to 64 letters, digits, '-', '_' or '.'",
            );
        }
        let max_pools_per_user = r
            .number::<u32>("MAX_POOLS_PER_USER", "a whole number (0 = unlimited)")
            .unwrap_or(3);
        let console_max_per_user = r
            .number::<usize>("CONSOLE_MAX_PER_USER", "a whole number")
            .unwrap_or(4);
        if !(1..=100).contains(&console_max_per_user) {
            r.problem("CONSOLE_MAX_PER_USER", "must be from 1 to 100");
        }
        let console_idle = r
            .number::<u64>("CONSOLE_IDLE_TIMEOUT_SECS", "a whole number of seconds")
            .unwrap_or(900);
        if !(10..=86_400).contains(&console_idle) {
            r.problem("CONSOLE_IDLE_TIMEOUT_SECS", "must be from 10 to 86400");
        }
        Self {
            public_template_pool,
            public_storages: r.list("ALLOWED_PUBLIC_STORAGES"),
            public_bridges: r.list("ALLOWED_PUBLIC_BRIDGES"),
            max_pools_per_user,
            max_vnets_per_user: r
                .number::<u32>("MAX_VNETS_PER_USER", "a whole number")
                .unwrap_or(0),
            console_max_per_user,
            console_idle_timeout: Duration::from_secs(console_idle),
        }
    }

    pub(super) fn show(&self, m: &mut BTreeMap<&'static str, String>) {
        m.insert("PUBLIC_TEMPLATE_POOL", self.public_template_pool.clone());
        m.insert("ALLOWED_PUBLIC_STORAGES", list(&self.public_storages));
        m.insert("ALLOWED_PUBLIC_BRIDGES", list(&self.public_bridges));
        m.insert("MAX_POOLS_PER_USER", self.max_pools_per_user.to_string());
        m.insert("MAX_VNETS_PER_USER", self.max_vnets_per_user.to_string());
        m.insert(
            "CONSOLE_MAX_PER_USER",
            self.console_max_per_user.to_string(),
        );
        m.insert(
            "CONSOLE_IDLE_TIMEOUT_SECS",
            self.console_idle_timeout.as_secs().to_string(),
        );
    }
}
