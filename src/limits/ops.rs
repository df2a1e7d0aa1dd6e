//! Per-user rate limits of Proxmox operations (the original's presets, keyed per user rather than
//! per IP). With Redis configured the windows are shared by every instance (a fixed window per
//! key, as the original); when Redis fails the check falls back to governor in process and Redis
//! is tried again after a short pause, so the limits recover by themselves when it returns.

use std::sync::Arc;
use std::time::Duration;

use governor::DefaultKeyedRateLimiter;
use parking_lot::Mutex;

use super::window::{check_local, keyed, SharedWindows};

/// The original's presets (window, max) for operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Preset {
    /// Power actions: 30 per minute.
    VmPower,
    /// Configuration changes (config, resize, firewall, replication, templates): 30 per minute.
    VmConfig,
    /// Snapshots (create, delete, rollback): 10 per minute.
    VmSnapshot,
    /// Creation (and restore, backups): 20 per hour.
    VmCreate,
    /// Deletion: 20 per hour.
    VmDelete,
    /// Clones: 10 per hour.
    VmClone,
    /// Pool creation and deletion, SDN zones: 30 per hour.
    PoolCreate,
    /// ACL changes: 50 per minute.
    AclModify,
    /// VNet creation and deletion: 50 per hour.
    VnetCreate,
    /// Searches and list reads that fan out to Proxmox: 60 per minute.
    Search,
    /// Uploads: 50 per hour.
    Upload,
    /// Reads that go to Proxmox (guest status, config, charts, snapshots, backups, tasks; node
    /// and storage reads; live usage; starting a watch): 240 per minute.
    Read,
}

impl Preset {
    /// Every preset.
    pub const ALL: [Preset; 12] = [
        Self::VmPower,
        Self::VmConfig,
        Self::VmSnapshot,
        Self::VmCreate,
        Self::VmDelete,
        Self::VmClone,
        Self::PoolCreate,
        Self::AclModify,
        Self::VnetCreate,
        Self::Search,
        Self::Upload,
        Self::Read,
    ];

    /// (max, window).
    pub fn quota(self) -> (u32, Duration) {
        const MIN: Duration = Duration::from_secs(60);
        const HOUR: Duration = Duration::from_secs(3600);
        match self {
            Self::VmPower | Self::VmConfig => (30, MIN),
            Self::VmSnapshot => (10, MIN),
            Self::VmCreate | Self::VmDelete => (20, HOUR),
            Self::VmClone => (10, HOUR),
            Self::PoolCreate => (30, HOUR),
            Self::AclModify => (50, MIN),
            Self::VnetCreate | Self::Upload => (50, HOUR),
            Self::Search => (60, MIN),
            Self::Read => (240, MIN),
        }
    }

    /// Name used in audit details and Redis keys.
    pub fn name(self) -> &'static str {
        match self {
            Self::VmPower => "VM_POWER",
            Self::VmConfig => "VM_CONFIG",
            Self::VmSnapshot => "VM_SNAPSHOT",
            Self::VmCreate => "VM_CREATE",
            Self::VmDelete => "VM_DELETE",
            Self::VmClone => "VM_CLONE",
            Self::PoolCreate => "POOL_CREATE",
            Self::AclModify => "ACL_MODIFY",
            Self::VnetCreate => "VNET_CREATE",
            Self::Search => "SEARCH",
            Self::Upload => "UPLOAD",
            Self::Read => "PROXMOX_READ",
        }
    }
}

/// Which store answered the last check (reported by `/api/health` and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Shared windows in Redis.
    Redis,
    /// In-process governor (no Redis configured, or Redis failing).
    Local,
}

/// One keyed limiter per preset, and Redis when configured.
#[derive(Clone)]
pub struct OpLimits {
    limiters: Arc<Vec<(Preset, DefaultKeyedRateLimiter<String>)>>,
    shared: Arc<SharedWindows>,
    last: Arc<Mutex<Backend>>,
}

impl std::fmt::Debug for OpLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OpLimits")
    }
}

impl Default for OpLimits {
    fn default() -> Self {
        Self::new(None)
    }
}

impl OpLimits {
    /// Limits shared through `redis` when given.
    pub fn new(redis: Option<fred::clients::Client>) -> Self {
        let limiters = Preset::ALL
            .into_iter()
            .filter_map(|p| {
                let (max, window) = p.quota();
                Some((p, keyed(max, window)?))
            })
            .collect();
        Self {
            limiters: Arc::new(limiters),
            shared: Arc::new(SharedWindows::new(redis, "rate limits")),
            last: Arc::new(Mutex::new(Backend::Local)),
        }
    }

    /// The store that answered the last check.
    pub fn last_backend(&self) -> Backend {
        *self.last.lock()
    }

    /// `Ok` when `user` may do one more `preset` now, else the seconds to wait.
    pub async fn check(&self, preset: Preset, user: &str) -> Result<(), u64> {
        let user = user.to_lowercase();
        let (max, window) = preset.quota();
        let key = format!("uma:rl:{}:{user}", preset.name());
        if let Some(c) = self.shared.hit(&key, window).await {
            *self.last.lock() = Backend::Redis;
            return if c.count > u64::from(max) {
                Err(c.secs_left)
            } else {
                Ok(())
            };
        }
        *self.last.lock() = Backend::Local;
        match self.limiters.iter().find(|(p, _)| *p == preset) {
            Some((_, limiter)) => check_local(limiter, &user),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn snapshots_allow_ten_then_refuse_per_user() {
        let l = OpLimits::default();
        for _ in 0..10 {
            assert!(l.check(Preset::VmSnapshot, "alice").await.is_ok());
        }
        let wait = l.check(Preset::VmSnapshot, "Alice").await.unwrap_err();
        assert!((1..=6).contains(&wait), "{wait}");
        assert!(l.check(Preset::VmSnapshot, "bob").await.is_ok());
        assert!(l.check(Preset::VmPower, "alice").await.is_ok());
        assert_eq!(l.last_backend(), Backend::Local);
    }
}
