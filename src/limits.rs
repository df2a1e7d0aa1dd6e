//! Per-user rate limits of Proxmox operations (the original's presets), in process with governor.
//! A refused call gets 429 with `Retry-After` and an audit `WARNING` row.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// The original's presets (window, max) for operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Preset {
    /// Power actions: 30 per minute.
    VmPower,
    /// Configuration changes: 30 per minute.
    VmConfig,
    /// Snapshots: 10 per minute.
    VmSnapshot,
    /// Creation: 20 per hour.
    VmCreate,
    /// Deletion: 20 per hour.
    VmDelete,
    /// Clones: 10 per hour.
    VmClone,
}

impl Preset {
    fn quota(self) -> (u32, Duration) {
        match self {
            Self::VmPower | Self::VmConfig => (30, Duration::from_secs(60)),
            Self::VmSnapshot => (10, Duration::from_secs(60)),
            Self::VmCreate | Self::VmDelete => (20, Duration::from_secs(3600)),
            Self::VmClone => (10, Duration::from_secs(3600)),
        }
    }

    /// Name used in audit details.
    pub fn name(self) -> &'static str {
        match self {
            Self::VmPower => "VM_POWER",
            Self::VmConfig => "VM_CONFIG",
            Self::VmSnapshot => "VM_SNAPSHOT",
            Self::VmCreate => "VM_CREATE",
            Self::VmDelete => "VM_DELETE",
            Self::VmClone => "VM_CLONE",
        }
    }
}

/// One keyed limiter per preset.
#[derive(Clone)]
pub struct OpLimits {
    limiters: Arc<Vec<(Preset, DefaultKeyedRateLimiter<String>)>>,
}

impl std::fmt::Debug for OpLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OpLimits")
    }
}

impl Default for OpLimits {
    fn default() -> Self {
        let presets = [
            Preset::VmPower,
            Preset::VmConfig,
            Preset::VmSnapshot,
            Preset::VmCreate,
            Preset::VmDelete,
            Preset::VmClone,
        ];
        let limiters = presets
            .into_iter()
            .filter_map(|p| {
                let (max, window) = p.quota();
                let burst = NonZeroU32::new(max)?;
                let quota = Quota::with_period(window / max)?.allow_burst(burst);
                Some((p, RateLimiter::keyed(quota)))
            })
            .collect();
        Self {
            limiters: Arc::new(limiters),
        }
    }
}

impl OpLimits {
    /// `Ok` when `user` may do one more `preset` now, else the seconds to wait.
    pub fn check(&self, preset: Preset, user: &str) -> Result<(), u64> {
        let Some((_, limiter)) = self.limiters.iter().find(|(p, _)| *p == preset) else {
            return Ok(());
        };
        limiter
            .check_key(&user.to_lowercase())
            .map_err(|not_until| {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                wait.as_secs().max(1)
            })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn snapshots_allow_ten_then_refuse_per_user() {
        let l = OpLimits::default();
        for _ in 0..10 {
            assert!(l.check(Preset::VmSnapshot, "alice").is_ok());
        }
        let wait = l.check(Preset::VmSnapshot, "Alice").unwrap_err();
        assert!((1..=6).contains(&wait), "{wait}");
        assert!(l.check(Preset::VmSnapshot, "bob").is_ok());
        assert!(l.check(Preset::VmPower, "alice").is_ok());
    }
}
