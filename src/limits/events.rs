//! Per-event limits of the chat and whiteboard events (the original's table) and of the chat
//! REST reads: a rate per socket, enforced in process with governor, a rate per user (three
//! sockets' worth), shared by every instance through Redis when configured (governor in process
//! otherwise and while Redis fails), and a payload cap per event (bytes of the payload as JSON).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use parking_lot::RwLock;

use super::window::{check_local, keyed, SharedWindows};

/// The limits of one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventLimit {
    /// Event name (or `api:<route>` for REST reads).
    pub event: &'static str,
    /// Calls allowed per socket in `window` (0: unlimited).
    pub max: u32,
    /// The window.
    pub window: Duration,
    /// Largest payload in bytes (0: no cap).
    pub cap: usize,
}

const fn limit(event: &'static str, max: u32, secs: u64, cap: usize) -> EventLimit {
    EventLimit {
        event,
        max,
        window: Duration::from_secs(secs),
        cap,
    }
}

/// The table: the original's events and limits, then Uma's additions.
pub const LIMITS: &[EventLimit] = &[
    limit("draw_stroke", 1000, 10, 16_384),
    limit("send_message", 40, 60, 131_072),
    limit("edit_message", 30, 60, 131_072),
    limit("delete_message", 30, 60, 1024),
    limit("add_reaction", 80, 60, 1024),
    limit("typing", 120, 10, 512),
    limit("mark_read", 120, 60, 1024),
    limit("join_group", 30, 60, 256),
    limit("draw_save", 20, 60, 10 * 1024 * 1024),
    limit("draw_clear", 20, 60, 131_072),
    limit("get_online_users", 0, 60, 0),
    // Uma's events.
    limit("draw_undo", 120, 60, 256),
    limit("draw_cursor", 600, 10, 256),
    limit("whiteboard_join", 30, 60, 256),
    limit("whiteboard_leave", 30, 60, 256),
    // REST reads (the original's SEARCH preset, one bucket per route).
    limit("api:chat-history", 60, 60, 0),
    limit("api:chat-recent", 60, 60, 0),
    limit("api:chat-public-channel", 60, 60, 0),
    limit("api:groups", 60, 60, 0),
    limit("api:users-search", 60, 60, 0),
    limit("api:chat-settings", 60, 60, 0),
    limit("api:whiteboard", 60, 60, 0),
    // REST routes that change something (the original left them unlimited).
    limit("api:chat-change", 30, 60, 0),
    limit("api:settings-change", 20, 60, 0),
    limit("api:notifications", 60, 60, 0),
    limit("api:docs", 120, 60, 0),
    limit("api:docs-change", 30, 60, 0),
    limit("api:metadata", 60, 60, 0),
    limit("api:metadata-image", 240, 60, 0),
    limit("api:notifications-change", 30, 60, 0),
];

/// Sockets' worth of budget a user has across all their sockets and instances.
pub const USER_FACTOR: u32 = 3;

/// Largest payload any event takes (the engine's limit is set just above it).
pub fn largest_cap() -> usize {
    LIMITS.iter().map(|l| l.cap).max().unwrap_or(0)
}

/// The cap of an event whose entry has none (`get_online_users`) or that has no entry at all:
/// such payloads are a few hundred bytes.
pub const OTHER_EVENT_CAP: usize = 64 * 1024;

/// The payload cap of `event`: its own, else [`OTHER_EVENT_CAP`].
pub fn cap_of(event: &str) -> usize {
    match limit_of(event) {
        Some(l) if l.cap > 0 => l.cap,
        Some(_) => OTHER_EVENT_CAP,
        None => OTHER_EVENT_CAP,
    }
}

/// The limits of `event`.
pub fn limit_of(event: &str) -> Option<&'static EventLimit> {
    LIMITS.iter().find(|l| l.event == event)
}

/// Why a call was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// Too many calls; retry after this many seconds.
    RateLimited {
        /// Seconds.
        retry_after: u64,
    },
    /// The payload is larger than the event's cap.
    TooLarge {
        /// Its size.
        size: usize,
        /// The cap.
        max: usize,
    },
}

struct Limiters {
    socket: HashMap<&'static str, DefaultKeyedRateLimiter<String>>,
    user: HashMap<&'static str, DefaultKeyedRateLimiter<String>>,
}

impl Limiters {
    fn new(scale: u32) -> Self {
        let mut socket = HashMap::new();
        let mut user = HashMap::new();
        for l in LIMITS {
            let max = l.max.saturating_mul(scale);
            if let Some(s) = keyed(max, l.window) {
                socket.insert(l.event, s);
            }
            if let Some(u) = keyed(max.saturating_mul(USER_FACTOR), l.window) {
                user.insert(l.event, u);
            }
        }
        Self { socket, user }
    }
}

/// The limits, cheap to clone.
#[derive(Clone)]
pub struct EventLimits {
    limiters: Arc<RwLock<Arc<Limiters>>>,
    scale: Arc<AtomicU32>,
    shared: Arc<SharedWindows>,
    checks: Arc<std::sync::atomic::AtomicU64>,
    audit_gate: Arc<DefaultKeyedRateLimiter<String>>,
}

impl std::fmt::Debug for EventLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EventLimits")
    }
}

impl EventLimits {
    /// Limits with the per-user windows in `redis` when given.
    pub fn new(redis: Option<fred::clients::Client>) -> Self {
        Self {
            limiters: Arc::new(RwLock::new(Arc::new(Limiters::new(1)))),
            scale: Arc::new(AtomicU32::new(1)),
            shared: Arc::new(SharedWindows::new(redis, "event limits")),
            checks: Arc::default(),
            audit_gate: Arc::new(RateLimiter::keyed(
                Quota::with_period(Duration::from_secs(10))
                    .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN)),
            )),
        }
    }

    /// Whether a refusal of `event` on socket `sid` gets an audit row: the first one in 10 s,
    /// so a flooding client can't flood the audit log too.
    pub fn should_audit(&self, sid: &str, event: &str) -> bool {
        self.audit_gate.check_key(&format!("{sid}:{event}")).is_ok()
    }

    /// Test hook: multiplies every rate by `scale` (load tests send more than a person can).
    #[doc(hidden)]
    pub fn set_scale(&self, scale: u32) {
        let scale = scale.max(1);
        self.scale.store(scale, Ordering::SeqCst);
        *self.limiters.write() = Arc::new(Limiters::new(scale));
    }

    /// Counts one `event` from socket `sid` of `user` with a payload of `size` bytes.
    pub async fn check(
        &self,
        event: &str,
        sid: &str,
        user: &str,
        size: usize,
    ) -> Result<(), Rejection> {
        let Some(l) = limit_of(event) else {
            if size > OTHER_EVENT_CAP {
                return Err(Rejection::TooLarge {
                    size,
                    max: OTHER_EVENT_CAP,
                });
            }
            return Ok(());
        };
        if l.max > 0 {
            let limiters = self.limiters.read().clone();
            self.maybe_sweep(&limiters);
            if let Some(s) = limiters.socket.get(l.event) {
                check_local(s, sid)
                    .map_err(|retry_after| Rejection::RateLimited { retry_after })?;
            }
            self.check_user(l, user, &limiters).await?;
        }
        if size > cap_of(event) {
            return Err(Rejection::TooLarge {
                size,
                max: cap_of(event),
            });
        }
        Ok(())
    }

    /// Counts one REST call of `route` (an `api:` entry) by `user`.
    pub async fn check_api(&self, route: &str, user: &str) -> Result<(), Rejection> {
        self.check(route, &format!("user:{user}"), user, 0).await
    }

    fn maybe_sweep(&self, limiters: &Limiters) {
        // Socket keys are never reused: drop the idle ones now and then.
        if self.checks.fetch_add(1, Ordering::Relaxed) % 10_000 == 9_999 {
            for l in limiters.socket.values().chain(limiters.user.values()) {
                l.retain_recent();
                l.shrink_to_fit();
            }
        }
    }

    async fn check_user(
        &self,
        l: &EventLimit,
        user: &str,
        limiters: &Limiters,
    ) -> Result<(), Rejection> {
        let user = user.to_lowercase();
        let max = l
            .max
            .saturating_mul(self.scale.load(Ordering::SeqCst))
            .saturating_mul(USER_FACTOR);
        let key = format!("uma:ev:{}:{user}", l.event);
        if let Some(c) = self.shared.hit(&key, l.window).await {
            return if c.count > u64::from(max) {
                Err(Rejection::RateLimited {
                    retry_after: c.secs_left,
                })
            } else {
                Ok(())
            };
        }
        match limiters.user.get(l.event) {
            Some(u) => {
                check_local(u, &user).map_err(|retry_after| Rejection::RateLimited { retry_after })
            }
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn per_socket_then_per_user_and_caps() {
        let l = EventLimits::new(None);
        for _ in 0..30 {
            l.check("join_group", "s1", "ann", 10).await.unwrap();
        }
        assert!(matches!(
            l.check("join_group", "s1", "ann", 10).await,
            Err(Rejection::RateLimited { .. })
        ));
        for _ in 0..30 {
            l.check("join_group", "s2", "ann", 10).await.unwrap();
            l.check("join_group", "s3", "ann", 10).await.unwrap();
        }
        assert!(
            matches!(
                l.check("join_group", "s4", "ann", 10).await,
                Err(Rejection::RateLimited { .. })
            ),
            "the user's budget is three sockets' worth"
        );
        assert_eq!(
            l.check("join_group", "s9", "ben", 257).await,
            Err(Rejection::TooLarge {
                size: 257,
                max: 256
            })
        );
        assert_eq!(
            l.check("get_online_users", "s1", "ann", 1 << 20).await,
            Err(Rejection::TooLarge {
                size: 1 << 20,
                max: OTHER_EVENT_CAP
            }),
            "no event is without a cap"
        );
    }
}
