//! Failed sign-in limits: 5 failures per (client IP, username) and 50 attempts per client IP in
//! 15 minutes. Fixed windows, counted in Redis when configured (shared by every instance) and in
//! process otherwise or while Redis is unreachable. Successful sign-ins are not failures.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::window::SharedWindows;

/// The window of both limits.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Failures allowed per (IP, username) in a window.
pub const MAX_FAILURES: u64 = 5;
/// Attempts allowed per IP in a window.
pub const MAX_ATTEMPTS_PER_IP: u64 = 50;
/// Second-factor codes one account may try in a window, from every address together (someone
/// holding the password can't spread guesses over many addresses).
pub const MAX_FACTOR_TRIES: u64 = 10;

/// Outcome of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Go ahead; this many failures remain for the (IP, username).
    Allowed {
        /// Failures left before the block.
        remaining: u64,
    },
    /// Blocked for this many seconds.
    Blocked {
        /// Seconds to wait.
        retry_after: u64,
    },
}

/// The limiter. Cheap to share behind an `Arc`.
pub struct LoginLimiter {
    local: Mutex<HashMap<String, (u64, Instant)>>,
    shared: SharedWindows,
    window: Duration,
}

impl std::fmt::Debug for LoginLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LoginLimiter")
    }
}

impl LoginLimiter {
    /// A limiter, shared through Redis when a client is given.
    pub fn new(redis: Option<fred::clients::Client>) -> Self {
        Self::with_window(redis, WINDOW)
    }

    /// A limiter with a custom window (tests).
    pub fn with_window(redis: Option<fred::clients::Client>, window: Duration) -> Self {
        Self {
            local: Mutex::new(HashMap::new()),
            shared: SharedWindows::new(redis, "sign-in limits"),
            window,
        }
    }

    fn keys(ip: &str, username: &str) -> (String, String) {
        (
            format!("uma:login:fail:{ip}:{}", username.to_lowercase()),
            format!("uma:login:ip:{ip}"),
        )
    }

    /// Counts a second-factor attempt for the account `user_id` before the code is checked (so
    /// parallel guesses can't pass together): `Blocked` once it is over [`MAX_FACTOR_TRIES`] in
    /// the window. [`Self::factor_succeeded`] clears it.
    pub async fn factor_attempt(&self, user_id: &str) -> Verdict {
        let (n, ttl) = self.incr(&format!("uma:mfa:tries:{user_id}")).await;
        if n > MAX_FACTOR_TRIES {
            return Verdict::Blocked {
                retry_after: ttl.max(1),
            };
        }
        Verdict::Allowed {
            remaining: MAX_FACTOR_TRIES - n,
        }
    }

    /// A right code: the account's second-factor count starts again.
    pub async fn factor_succeeded(&self, user_id: &str) {
        let key = format!("uma:mfa:tries:{user_id}");
        self.shared.clear(&key).await;
        self.local.lock().remove(&key);
    }

    /// Whether an attempt may proceed; counts it against the IP's ceiling.
    pub async fn check(&self, ip: &str, username: &str) -> Verdict {
        let (user_key, ip_key) = Self::keys(ip, username);
        let (failures, user_ttl) = self.read(&user_key).await;
        if failures >= MAX_FAILURES {
            return Verdict::Blocked {
                retry_after: user_ttl.max(1),
            };
        }
        let (attempts, ip_ttl) = self.incr(&ip_key).await;
        if attempts > MAX_ATTEMPTS_PER_IP {
            return Verdict::Blocked {
                retry_after: ip_ttl.max(1),
            };
        }
        Verdict::Allowed {
            remaining: MAX_FAILURES - failures,
        }
    }

    /// Records a failure; returns the failures left (0 = now blocked).
    pub async fn fail(&self, ip: &str, username: &str) -> u64 {
        let (user_key, _) = Self::keys(ip, username);
        let (n, _) = self.incr(&user_key).await;
        MAX_FAILURES.saturating_sub(n)
    }

    /// Clears the failures of (IP, username) after a successful sign-in.
    pub async fn succeed(&self, ip: &str, username: &str) {
        let (user_key, _) = Self::keys(ip, username);
        self.shared.clear(&user_key).await;
        self.local.lock().remove(&user_key);
    }

    /// Current count and seconds until the window ends.
    async fn read(&self, key: &str) -> (u64, u64) {
        if let Some(c) = self.shared.read(key).await {
            return (c.count, c.secs_left);
        }
        let map = self.local.lock();
        match map.get(key) {
            Some((n, start)) if start.elapsed() < self.window => {
                (*n, (self.window - start.elapsed()).as_secs().max(1))
            }
            _ => (0, 0),
        }
    }

    /// Adds one and returns the count and seconds until the window ends.
    async fn incr(&self, key: &str) -> (u64, u64) {
        if let Some(c) = self.shared.hit(key, self.window).await {
            return (c.count, c.secs_left);
        }
        let mut map = self.local.lock();
        let now = Instant::now();
        let entry = map.entry(key.to_owned()).or_insert((0, now));
        if entry.1.elapsed() >= self.window {
            *entry = (0, now);
        }
        entry.0 += 1;
        let left = self
            .window
            .saturating_sub(entry.1.elapsed())
            .as_secs()
            .max(1);
        if map.len() > 100_000 {
            let window = self.window;
            map.retain(|_, (_, start)| start.elapsed() < window);
        }
        (map.get(key).map(|e| e.0).unwrap_or(1), left)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn second_factor_tries_are_counted_per_account_from_every_address() {
        let l = LoginLimiter::new(None);
        for n in 1..=MAX_FACTOR_TRIES {
            assert_eq!(
                l.factor_attempt("u1").await,
                Verdict::Allowed {
                    remaining: MAX_FACTOR_TRIES - n
                }
            );
        }
        assert!(matches!(
            l.factor_attempt("u1").await,
            Verdict::Blocked { .. }
        ));
        // Another account is not held back; a right code clears the count.
        assert!(matches!(
            l.factor_attempt("u2").await,
            Verdict::Allowed { .. }
        ));
        l.factor_succeeded("u1").await;
        assert!(matches!(
            l.factor_attempt("u1").await,
            Verdict::Allowed { .. }
        ));
    }

    #[tokio::test]
    async fn five_failures_block_the_pair_not_the_others() {
        let l = LoginLimiter::new(None);
        for left in (0..5).rev() {
            assert!(matches!(
                l.check("1.1.1.1", "bob").await,
                Verdict::Allowed { .. }
            ));
            assert_eq!(l.fail("1.1.1.1", "bob").await, left);
        }
        assert!(
            matches!(l.check("1.1.1.1", "bob").await, Verdict::Blocked { retry_after } if retry_after > 800)
        );
        assert!(
            matches!(l.check("1.1.1.1", "BOB").await, Verdict::Blocked { .. }),
            "case-insensitive"
        );
        assert!(matches!(
            l.check("1.1.1.1", "carol").await,
            Verdict::Allowed { remaining: 5 }
        ));
        assert!(matches!(
            l.check("2.2.2.2", "bob").await,
            Verdict::Allowed { .. }
        ));
    }

    #[tokio::test]
    async fn success_clears_failures_and_the_ip_ceiling_holds() {
        let l = LoginLimiter::new(None);
        l.fail("3.3.3.3", "dan").await;
        l.succeed("3.3.3.3", "dan").await;
        assert!(matches!(
            l.check("3.3.3.3", "dan").await,
            Verdict::Allowed { remaining: 5 }
        ));
        for i in 1..MAX_ATTEMPTS_PER_IP {
            assert!(matches!(
                l.check("3.3.3.3", &format!("u{i}")).await,
                Verdict::Allowed { .. }
            ));
        }
        assert!(matches!(
            l.check("3.3.3.3", "eve").await,
            Verdict::Blocked { .. }
        ));
    }

    #[tokio::test]
    async fn windows_end() {
        let l = LoginLimiter::with_window(None, Duration::from_millis(50));
        for _ in 0..5 {
            l.fail("4.4.4.4", "x").await;
        }
        assert!(matches!(
            l.check("4.4.4.4", "x").await,
            Verdict::Blocked { .. }
        ));
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert!(matches!(
            l.check("4.4.4.4", "x").await,
            Verdict::Allowed { remaining: 5 }
        ));
    }
}
