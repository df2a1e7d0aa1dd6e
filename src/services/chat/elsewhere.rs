//! Presence across the deployment's instances ([`Elsewhere`] over Redis). Each instance keeps a
//! Redis hash of the users it has sockets of (`1`: others may see them, `0`: hidden) and writes it
//! whole again with every heartbeat (also after Redis was away), with a lifetime the heartbeat
//! renews, so a stopped instance's users drop out by themselves. A sorted set lists the live
//! instances by their last heartbeat. While Redis is away an instance knows only its own sockets.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use fred::clients::Client;
use fred::interfaces::{ClientLike, HashesInterface, KeysInterface, SortedSetsInterface};
use parking_lot::Mutex;
use uma_actors::emit::BoxFut;
use uma_actors::presence::Elsewhere;

/// How often an instance renews its entry.
const HEARTBEAT: Duration = Duration::from_secs(10);
/// How long an entry outlives the last heartbeat.
const LIFETIME: Duration = Duration::from_secs(30);

/// [`Elsewhere`] over Redis.
pub struct RedisPresence {
    inner: Arc<Inner>,
}

struct Inner {
    redis: Client,
    /// `uma:<deployment>:presence`.
    prefix: String,
    me: String,
    /// This instance's users, as written to its hash.
    mine: Mutex<HashMap<String, bool>>,
}

impl Inner {
    fn key(&self, instance: &str) -> String {
        format!("{}:{instance}", self.prefix)
    }

    fn instances_key(&self) -> String {
        format!("{}:instances", self.prefix)
    }

    fn ready(&self) -> bool {
        self.redis.is_connected()
    }

    /// Writes this instance's hash whole and renews its lifetime and its place in the list.
    async fn beat(&self) -> Result<(), fred::error::Error> {
        let key = self.key(&self.me);
        let mine: Vec<(String, String)> = self
            .mine
            .lock()
            .iter()
            .map(|(u, v)| (u.clone(), if *v { "1" } else { "0" }.to_owned()))
            .collect();
        let now = crate::store::now_ms() as f64;
        let _: i64 = self.redis.del(&key).await?;
        if !mine.is_empty() {
            let _: i64 = self.redis.hset(&key, mine).await?;
            let _: bool = self
                .redis
                .pexpire(&key, LIFETIME.as_millis() as i64, None)
                .await?;
        }
        let list = self.instances_key();
        let _: i64 = self
            .redis
            .zadd(&list, None, None, false, false, (now, self.me.as_str()))
            .await?;
        let stale = now - 2.0 * LIFETIME.as_millis() as f64;
        let _: i64 = self
            .redis
            .zremrangebyscore(&list, f64::NEG_INFINITY, stale)
            .await?;
        Ok(())
    }

    /// The other live instances' hash keys.
    async fn others(&self) -> Vec<String> {
        let since = crate::store::now_ms() as f64 - LIFETIME.as_millis() as f64;
        let live: Result<Vec<String>, _> = self
            .redis
            .zrangebyscore(self.instances_key(), since, f64::INFINITY, false, None)
            .await;
        match live {
            Ok(ids) => ids
                .into_iter()
                .filter(|id| *id != self.me)
                .map(|id| self.key(&id))
                .collect(),
            Err(e) => {
                tracing::debug!(error = %e, "presence: instances unknown");
                Vec::new()
            }
        }
    }
}

impl RedisPresence {
    /// Presence of instance `me` of `deployment`; renews its entry until the server stops.
    pub fn start(redis: Client, deployment: &str, me: &str) -> Self {
        let inner = Arc::new(Inner {
            redis,
            prefix: format!("uma:{deployment}:presence"),
            me: me.to_owned(),
            mine: Mutex::new(HashMap::new()),
        });
        let weak = Arc::downgrade(&inner);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(HEARTBEAT);
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else { return };
                if inner.ready() {
                    if let Err(e) = inner.beat().await {
                        tracing::debug!(error = %e, "presence: heartbeat failed");
                    }
                }
            }
        });
        Self { inner }
    }
}

impl Elsewhere for RedisPresence {
    fn forget_mine(&self) {
        self.inner.mine.lock().clear();
    }

    fn here(&self, username: &str, visible: Option<bool>) -> BoxFut<'_, ()> {
        let username = username.to_owned();
        Box::pin(async move {
            let i = &self.inner;
            match visible {
                Some(v) => i.mine.lock().insert(username.clone(), v),
                None => i.mine.lock().remove(&username),
            };
            if !i.ready() {
                return;
            }
            let key = i.key(&i.me);
            let done: Result<(), fred::error::Error> = async {
                match visible {
                    Some(v) => {
                        let flag = if v { "1" } else { "0" };
                        let _: i64 = i.redis.hset(&key, (username.as_str(), flag)).await?;
                        let ms = LIFETIME.as_millis() as i64;
                        let _: bool = i.redis.pexpire(&key, ms, None).await?;
                        let now = crate::store::now_ms() as f64;
                        let _: i64 = i
                            .redis
                            .zadd(
                                i.instances_key(),
                                None,
                                None,
                                false,
                                false,
                                (now, i.me.as_str()),
                            )
                            .await?;
                    }
                    None => {
                        let _: i64 = i.redis.hdel(&key, username.as_str()).await?;
                    }
                }
                Ok(())
            }
            .await;
            if let Err(e) = done {
                tracing::debug!(error = %e, "presence: not shared (the next heartbeat writes it)");
            }
        })
    }

    fn online(&self, username: &str) -> BoxFut<'_, bool> {
        let username = username.to_owned();
        Box::pin(async move {
            let i = &self.inner;
            if !i.ready() {
                return false;
            }
            for key in i.others().await {
                match i.redis.hexists::<bool, _, _>(&key, username.as_str()).await {
                    Ok(true) => return true,
                    Ok(false) => {}
                    Err(e) => tracing::debug!(error = %e, "presence: lookup failed"),
                }
            }
            false
        })
    }

    fn users(&self) -> BoxFut<'_, Vec<(String, bool)>> {
        Box::pin(async move {
            let i = &self.inner;
            if !i.ready() {
                return Vec::new();
            }
            let mut out = Vec::new();
            for key in i.others().await {
                match i.redis.hgetall::<HashMap<String, String>, _>(&key).await {
                    Ok(users) => out.extend(users.into_iter().map(|(u, v)| (u, v == "1"))),
                    Err(e) => tracing::debug!(error = %e, "presence: lookup failed"),
                }
            }
            out
        })
    }
}
