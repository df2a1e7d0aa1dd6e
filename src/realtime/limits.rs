//! Per-event limits of the chat and whiteboard events (the original's table) and of the chat
//! REST reads: a rate per socket, enforced in process with governor, a rate per user (three
//! sockets' worth), shared by every instance through Redis when configured (governor in process
//! otherwise and while Redis fails), and a payload cap per event (bytes of the payload as JSON).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fred::interfaces::KeysInterface;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use parking_lot::{Mutex, RwLock};

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

/// An incoming event's payload as received, measured but not parsed yet: handlers check its size
/// (and who may send it) first, then decode it.
pub struct RawPayload {
    socket: std::sync::Arc<socketioxide::socket::Socket<super::adapter::Adapter>>,
    value: socketioxide::handler::Value,
    ack_id: Option<i64>,
    /// Bytes received for the event: its JSON (event name included) and any binary attachments.
    pub size: usize,
}

impl std::fmt::Debug for RawPayload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawPayload")
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl socketioxide::handler::FromMessageParts<super::adapter::Adapter> for RawPayload {
    type Error = std::convert::Infallible;

    fn from_message_parts(
        s: &std::sync::Arc<socketioxide::socket::Socket<super::adapter::Adapter>>,
        v: &mut socketioxide::handler::Value,
        ack_id: &Option<i64>,
    ) -> Result<Self, Self::Error> {
        let size = match &*v {
            socketioxide::handler::Value::Str(text, bins) => {
                text.len() + bins.iter().flatten().map(|b| b.len()).sum::<usize>()
            }
            socketioxide::handler::Value::Bytes(b) => b.len(),
        };
        // A clone of reference-counted bytes: nothing is copied or parsed here.
        Ok(RawPayload {
            socket: s.clone(),
            value: v.clone(),
            ack_id: *ack_id,
            size,
        })
    }
}

impl RawPayload {
    /// Parses the payload (the first argument after the event name; `null` when there is none).
    pub fn decode(mut self) -> Result<serde_json::Value, String> {
        use socketioxide::handler::FromMessageParts;
        match socketioxide::extract::TryData::<serde_json::Value>::from_message_parts(
            &self.socket,
            &mut self.value,
            &self.ack_id,
        ) {
            Ok(socketioxide::extract::TryData(data)) => data.map_err(|e| e.to_string()),
            Err(never) => match never {},
        }
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

fn keyed(max: u32, window: Duration) -> Option<DefaultKeyedRateLimiter<String>> {
    let burst = NonZeroU32::new(max)?;
    let quota = Quota::with_period(window / max)?.allow_burst(burst);
    Some(RateLimiter::keyed(quota))
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

/// How long Redis is left alone after it failed.
const REDIS_PAUSE: Duration = Duration::from_secs(2);

/// The limits, cheap to clone.
#[derive(Clone)]
pub struct EventLimits {
    limiters: Arc<RwLock<Arc<Limiters>>>,
    scale: Arc<AtomicU32>,
    redis: Option<fred::clients::Client>,
    redis_paused_until: Arc<Mutex<Option<Instant>>>,
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
            redis,
            redis_paused_until: Arc::new(Mutex::new(None)),
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
                s.check_key(&sid.to_owned())
                    .map_err(|not_until| Rejection::RateLimited {
                        retry_after: wait_secs(
                            not_until.wait_time_from(DefaultClock::default().now()),
                        ),
                    })?;
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
        if let Some(redis) = self.redis_if_healthy() {
            let max = l
                .max
                .saturating_mul(self.scale.load(Ordering::SeqCst))
                .saturating_mul(USER_FACTOR);
            match redis_window(&redis, l, max, &user).await {
                Ok(answer) => return answer,
                Err(e) => {
                    tracing::warn!(error = %e, "event limits: Redis failed; limiting in process");
                    *self.redis_paused_until.lock() = Some(Instant::now() + REDIS_PAUSE);
                }
            }
        }
        match limiters.user.get(l.event) {
            Some(u) => u
                .check_key(&user)
                .map_err(|not_until| Rejection::RateLimited {
                    retry_after: wait_secs(not_until.wait_time_from(DefaultClock::default().now())),
                }),
            None => Ok(()),
        }
    }

    fn redis_if_healthy(&self) -> Option<fred::clients::Client> {
        let redis = self.redis.as_ref()?;
        let mut paused = self.redis_paused_until.lock();
        match *paused {
            Some(until) if Instant::now() < until => None,
            Some(_) => {
                *paused = None;
                Some(redis.clone())
            }
            None => Some(redis.clone()),
        }
    }
}

fn wait_secs(d: Duration) -> u64 {
    d.as_secs().max(1)
}

/// Fixed window in Redis: `SET key 0 PX window NX`, `INCR`, `PTTL` in one pipeline.
async fn redis_window(
    redis: &fred::clients::Client,
    l: &EventLimit,
    max: u32,
    user: &str,
) -> Result<Result<(), Rejection>, fred::error::Error> {
    let key = format!("uma:ev:{}:{user}", l.event);
    let pipe = redis.pipeline();
    let _: () = pipe
        .set(
            &key,
            0,
            Some(fred::types::Expiration::PX(
                i64::try_from(l.window.as_millis()).unwrap_or(i64::MAX),
            )),
            Some(fred::types::SetOptions::NX),
            false,
        )
        .await?;
    let _: () = pipe.incr(&key).await?;
    let _: () = pipe.pttl(&key).await?;
    let (_, count, pttl): (Option<String>, i64, i64) = pipe.all().await?;
    if count > i64::from(max) {
        let wait = u64::try_from(pttl.max(1)).unwrap_or(1).div_ceil(1000);
        Ok(Err(Rejection::RateLimited {
            retry_after: wait.max(1),
        }))
    } else {
        Ok(Ok(()))
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
