//! What every limit shares: fixed windows in Redis (one count per key, shared by every
//! instance), a pause after Redis fails so a dead Redis costs one timeout rather than one per
//! request, and governor's keyed limiters for counting in process.

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use fred::interfaces::KeysInterface;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use parking_lot::Mutex;

/// How long Redis is left alone after it failed.
const REDIS_PAUSE: Duration = Duration::from_secs(2);

/// A count in a window and the time left in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count {
    /// Hits in the current window (including this one, for [`SharedWindows::hit`]).
    pub count: u64,
    /// Whole seconds until the window ends (at least 1 while it runs; 0 when there is none).
    pub secs_left: u64,
}

/// Fixed windows in Redis, when Redis is configured and answering.
///
/// Every method answers `None` when Redis is not configured, not connected, or paused after a
/// failure: the caller then counts in process. A failing call pauses Redis for a moment and is
/// logged once per pause.
#[derive(Default)]
pub struct SharedWindows {
    redis: Option<fred::clients::Client>,
    paused_until: Mutex<Option<Instant>>,
    /// Who counts, for the log line (`"rate limits"`, `"event limits"`, `"sign-in limits"`).
    what: &'static str,
}

impl std::fmt::Debug for SharedWindows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedWindows")
            .field("redis", &self.redis.is_some())
            .field("what", &self.what)
            .finish()
    }
}

impl SharedWindows {
    /// Windows in `redis` when given; `what` names the limits in logs.
    pub fn new(redis: Option<fred::clients::Client>, what: &'static str) -> Self {
        Self {
            redis,
            paused_until: Mutex::new(None),
            what,
        }
    }

    /// Redis, when configured, connected and not paused.
    fn healthy(&self) -> Option<fred::clients::Client> {
        let redis = crate::redis::ready(self.redis.as_ref())?;
        let mut paused = self.paused_until.lock();
        match *paused {
            Some(until) if Instant::now() < until => None,
            Some(_) => {
                *paused = None;
                Some(redis.clone())
            }
            None => Some(redis.clone()),
        }
    }

    fn failed(&self, e: &fred::error::Error) {
        tracing::warn!(error = %e, limits = self.what, "Redis failed; counting in process");
        *self.paused_until.lock() = Some(Instant::now() + REDIS_PAUSE);
    }

    /// Counts one hit of `key` in a fixed window of `window` that starts with the key's first
    /// hit: `SET key 0 PX window NX`, `INCR`, `PTTL` in one pipeline, so a key never outlives its
    /// window even when the client goes away between the commands.
    pub async fn hit(&self, key: &str, window: Duration) -> Option<Count> {
        let redis = self.healthy()?;
        let pipe = redis.pipeline();
        let window_ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
        let run = async {
            let _: () = pipe
                .set(
                    key,
                    0,
                    Some(fred::types::Expiration::PX(window_ms)),
                    Some(fred::types::SetOptions::NX),
                    false,
                )
                .await?;
            let _: () = pipe.incr(key).await?;
            let _: () = pipe.pttl(key).await?;
            pipe.all::<(Option<String>, i64, i64)>().await
        };
        match run.await {
            Ok((_, count, pttl)) => Some(Count {
                count: u64::try_from(count).unwrap_or(0),
                secs_left: ms_to_secs(pttl).max(1),
            }),
            Err(e) => {
                self.failed(&e);
                None
            }
        }
    }

    /// The count of `key` in its current window, without counting.
    pub async fn read(&self, key: &str) -> Option<Count> {
        let redis = self.healthy()?;
        let pipe = redis.pipeline();
        let run = async {
            let _: () = pipe.get(key).await?;
            let _: () = pipe.pttl(key).await?;
            pipe.all::<(Option<u64>, i64)>().await
        };
        match run.await {
            Ok((count, pttl)) => Some(Count {
                count: count.unwrap_or(0),
                secs_left: ms_to_secs(pttl),
            }),
            Err(e) => {
                self.failed(&e);
                None
            }
        }
    }

    /// Ends the window of `key` (a successful sign-in clears its failures).
    pub async fn clear(&self, key: &str) {
        if let Some(redis) = self.healthy() {
            if let Err(e) = redis.del::<i64, _>(key).await {
                self.failed(&e);
            }
        }
    }
}

/// Milliseconds of a `PTTL` answer as whole seconds, rounded up (negative: no window).
fn ms_to_secs(ms: i64) -> u64 {
    u64::try_from(ms.max(0)).unwrap_or(0).div_ceil(1000)
}

/// A keyed in-process limiter allowing `max` in `window` (a burst of `max`, refilled evenly);
/// `None` when `max` is 0 (unlimited).
pub fn keyed(max: u32, window: Duration) -> Option<DefaultKeyedRateLimiter<String>> {
    let burst = NonZeroU32::new(max)?;
    let quota = Quota::with_period(window / max)?.allow_burst(burst);
    Some(RateLimiter::keyed(quota))
}

/// Counts one hit of `key` on an in-process limiter: `Err(seconds to wait)` when refused.
pub fn check_local(limiter: &DefaultKeyedRateLimiter<String>, key: &str) -> Result<(), u64> {
    limiter.check_key(&key.to_owned()).map_err(|not_until| {
        not_until
            .wait_time_from(DefaultClock::default().now())
            .as_secs()
            .max(1)
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn pttl_rounds_up_and_no_window_is_zero() {
        assert_eq!(ms_to_secs(1), 1);
        assert_eq!(ms_to_secs(1000), 1);
        assert_eq!(ms_to_secs(1001), 2);
        assert_eq!(ms_to_secs(-2), 0);
    }

    #[tokio::test]
    async fn without_redis_every_answer_is_local() {
        let w = SharedWindows::new(None, "test");
        assert_eq!(w.hit("k", Duration::from_secs(1)).await, None);
        assert_eq!(w.read("k").await, None);
    }

    #[test]
    fn a_local_limiter_allows_its_burst_then_says_how_long() {
        let l = keyed(2, Duration::from_secs(60)).unwrap();
        assert_eq!(check_local(&l, "a"), Ok(()));
        assert_eq!(check_local(&l, "a"), Ok(()));
        let wait = check_local(&l, "a").unwrap_err();
        assert!((1..=30).contains(&wait), "{wait}");
        assert_eq!(check_local(&l, "b"), Ok(()));
        assert!(keyed(0, Duration::from_secs(1)).is_none(), "0 is unlimited");
    }
}
