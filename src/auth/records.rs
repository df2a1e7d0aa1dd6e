//! Session records: the store is the source of truth; with Redis configured, records are also
//! cached there and the end of a session is published so that every instance closes the sockets
//! and consoles it holds for it.
//!
//! # Why a revocation can't be undone by the cache
//!
//! The cache is a copy, and copies go stale when a delete is missed (Redis was away when the
//! session ended, or another process ended it). Three rules keep a stale copy from ever
//! outliving a revocation by more than a short, fixed time, even if the instance that revoked
//! died before it could tidy up:
//!
//! 1. An entry is written only from a fresh store read of a live record (never from a copy held
//!    in memory, so `touch` and `end` never write one back), and lives at most [`CACHE_FOR`].
//! 2. `touch` and `end` delete the entry after changing the store. A delete (or an end
//!    announcement) that fails because Redis is away is remembered and done before the cache is
//!    read again once Redis answers; until then the cache is not read at all.
//! 3. Whatever still slips through (a fill racing an end on another instance, an instance that
//!    crashed with deletes pending) expires within [`CACHE_FOR`]; sockets and consoles are
//!    re-checked against the store itself, never the cache.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use fred::interfaces::{ClientLike, EventInterface, KeysInterface, PubsubInterface};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use uma_actors::root::Slot;
use uma_actors::sessions::{EndReason, SessionsMsg};

use crate::config::Config;
use crate::store::auth::SessionRecord;
use crate::store::{now_ms, Store, StoreResult};

/// Channel on which ended sessions are announced.
pub const END_CHANNEL: &str = "uma:session-ended";

/// The longest a cached record is used before the store is read again.
pub const CACHE_FOR: Duration = Duration::from_secs(30);

fn key(id: &str) -> String {
    format!("uma:session:{id}")
}

/// An announcement on [`END_CHANNEL`].
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Ended {
    id: String,
    reason: EndReason,
}

/// Cache deletes and end announcements that could not be sent while Redis was away.
#[derive(Debug, Default)]
struct Pending {
    deletes: HashSet<String>,
    announcements: Vec<Ended>,
}

/// Reads and writes session records (store + optional Redis cache). Cheap to clone.
#[derive(Debug, Clone)]
pub struct SessionRecords {
    store: Store,
    redis: Option<fred::clients::Client>,
    pending: Arc<Mutex<Pending>>,
}

impl SessionRecords {
    /// Records over `store`, cached in `redis` when given.
    pub fn new(store: Store, redis: Option<fred::clients::Client>) -> Self {
        Self {
            store,
            redis,
            pending: Arc::default(),
        }
    }

    /// Redis when it is connected and every delete and announcement missed while it was away has
    /// been made up for; `None` otherwise (then the cache is neither read nor written).
    async fn cache_ready(&self) -> Option<&fred::clients::Client> {
        let r = crate::redis::ready(self.redis.as_ref())?;
        let (deletes, announcements) = {
            let p = self.pending.lock();
            if p.deletes.is_empty() && p.announcements.is_empty() {
                return Some(r);
            }
            (
                p.deletes.iter().cloned().collect::<Vec<_>>(),
                p.announcements.clone(),
            )
        };
        if !deletes.is_empty() {
            let keys: Vec<String> = deletes.iter().map(|id| key(id)).collect();
            let deleted: Result<i64, _> = r.del(keys).await;
            if deleted.is_err() {
                return None;
            }
        }
        for ended in &announcements {
            if publish(r, ended).await.is_err() {
                return None;
            }
        }
        let mut p = self.pending.lock();
        for id in &deletes {
            p.deletes.remove(id);
        }
        p.announcements
            .retain(|a| !announcements.iter().any(|b| b.id == a.id));
        tracing::info!(
            deletes = deletes.len(),
            announcements = announcements.len(),
            "session ends missed while Redis was away are now applied"
        );
        Some(r)
    }

    async fn cache(&self, record: &SessionRecord) {
        let Some(r) = self.cache_ready().await else {
            return;
        };
        let left = record.expires_at - now_ms();
        if left <= 0 || record.revoked_at.is_some() {
            return;
        }
        let ttl = left.min(i64::try_from(CACHE_FOR.as_millis()).unwrap_or(i64::MAX));
        let Ok(json) = serde_json::to_string(record) else {
            return;
        };
        let set: Result<(), _> = r
            .set(
                key(&record.id),
                json,
                Some(fred::types::Expiration::PX(ttl)),
                None,
                false,
            )
            .await;
        if let Err(e) = set {
            tracing::debug!(error = %e, "session cache write skipped (Redis unavailable)");
        }
    }

    /// Drops the cached copy of `id`, now or (Redis away) before the cache is read again.
    async fn uncache(&self, id: &str) {
        if let Some(r) = crate::redis::ready(self.redis.as_ref()) {
            let deleted: Result<i64, _> = r.del(key(id)).await;
            if deleted.is_ok() {
                return;
            }
        }
        if self.redis.is_some() {
            self.pending.lock().deletes.insert(id.to_owned());
        }
    }

    /// Drops the cached copies of these sessions: their records changed in the store.
    pub async fn changed(&self, ids: &[String]) {
        for id in ids {
            self.uncache(id).await;
        }
    }

    /// A session record, from Redis when cached there.
    pub async fn get(&self, id: &str) -> StoreResult<Option<SessionRecord>> {
        if let Some(r) = self.cache_ready().await {
            let cached: Result<Option<String>, _> = r.get(key(id)).await;
            if let Ok(Some(json)) = cached {
                if let Ok(record) = serde_json::from_str::<SessionRecord>(&json) {
                    return Ok(Some(record));
                }
            }
        }
        let record = self.store.session(id).await?;
        if let Some(rec) = &record {
            self.cache(rec).await;
        }
        Ok(record)
    }

    /// Stores a new session.
    pub async fn insert(&self, record: &SessionRecord) -> StoreResult<()> {
        self.store.insert_session(record).await?;
        self.cache(record).await;
        Ok(())
    }

    /// Records activity at `at`: the session is valid until `expires_at` (if it is still live).
    pub async fn touch(&self, id: &str, at: i64, expires_at: i64) -> StoreResult<()> {
        self.store.touch_session_until(id, at, expires_at).await?;
        self.uncache(id).await;
        Ok(())
    }

    /// Ends a session: the record is revoked, the cache entry dropped, and the end announced to
    /// every instance (this one's sessions supervisor is told directly as well).
    pub async fn end(
        &self,
        id: &str,
        reason: EndReason,
        sessions: &Slot<SessionsMsg>,
    ) -> StoreResult<()> {
        let revoked = self.store.revoke_session(id).await;
        self.uncache(id).await;
        self.announce(Ended {
            id: id.to_owned(),
            reason,
        })
        .await;
        let _ = sessions.cast(SessionsMsg::End(id.to_owned(), reason));
        revoked
    }

    /// Ends every live session of `username` (account disabled, password changed); returns how
    /// many there were.
    pub async fn end_user(
        &self,
        username: &str,
        reason: EndReason,
        sessions: Option<&Slot<SessionsMsg>>,
    ) -> StoreResult<usize> {
        let ids = self.store.revoke_user_sessions(username).await?;
        for id in &ids {
            self.uncache(id).await;
            self.announce(Ended {
                id: id.clone(),
                reason,
            })
            .await;
            if let Some(s) = sessions {
                let _ = s.cast(SessionsMsg::End(id.clone(), reason));
            }
        }
        Ok(ids.len())
    }

    async fn announce(&self, ended: Ended) {
        if let Some(r) = crate::redis::ready(self.redis.as_ref()) {
            match publish(r, &ended).await {
                Ok(()) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "session end not announced yet (Redis unavailable); other instances re-check within SESSION_RECHECK_SECS")
                }
            }
        }
        if self.redis.is_some() {
            self.pending.lock().announcements.push(ended);
        }
    }

    /// Whether ends are still waiting for Redis (the CLI tells the operator).
    pub fn has_pending(&self) -> bool {
        let p = self.pending.lock();
        !p.deletes.is_empty() || !p.announcements.is_empty()
    }
}

async fn publish(r: &fred::clients::Client, ended: &Ended) -> Result<(), fred::error::Error> {
    let msg = serde_json::to_string(ended)
        .map_err(|e| fred::error::Error::new(fred::error::ErrorKind::Parse, e.to_string()))?;
    let _: i64 = r.publish(END_CHANNEL, msg).await?;
    Ok(())
}

/// Session records for a command-line run (`uma user disable|passwd`): the store, and Redis when
/// `REDIS_URL` is set and answers within a few seconds (so the running instances drop their
/// cached copies and close sockets and consoles at once; without it they notice within
/// `SESSION_RECHECK_SECS`, and a cached copy lives at most [`CACHE_FOR`]).
pub async fn for_command(config: &Config, store: Store) -> (SessionRecords, Option<String>) {
    let Some(url) = &config.redis.url else {
        return (SessionRecords::new(store, None), None);
    };
    let client = match fred::types::config::Config::from_url(url.expose()) {
        Ok(mut cfg) => {
            if let Some(pw) = &config.redis.password {
                cfg.password = Some(pw.expose().to_owned());
            }
            fred::types::Builder::from_config(cfg)
                .with_connection_config(|c| {
                    c.connection_timeout = Duration::from_secs(3);
                })
                .with_performance_config(|p| {
                    p.default_command_timeout = Duration::from_secs(3);
                })
                .build()
                .ok()
        }
        Err(_) => None,
    };
    let Some(client) = client else {
        return (
            SessionRecords::new(store, None),
            Some("REDIS_URL is not usable".to_owned()),
        );
    };
    let _task = client.connect();
    match tokio::time::timeout(Duration::from_secs(3), client.wait_for_connect()).await {
        Ok(Ok(())) => (SessionRecords::new(store, Some(client)), None),
        Ok(Err(e)) => (SessionRecords::new(store, None), Some(e.to_string())),
        Err(_) => (
            SessionRecords::new(store, None),
            Some("Redis did not answer within 3 s".to_owned()),
        ),
    }
}

/// Follows [`END_CHANNEL`] and ends the announced sessions on this instance. Runs until the
/// subscriber client quits; resubscribes after Redis comes back.
pub fn follow_ends(
    subscriber: fred::clients::SubscriberClient,
    sessions: Slot<SessionsMsg>,
    acl: std::sync::Arc<crate::acl::cache::AclCache>,
) {
    let mut rx = subscriber.message_rx();
    tokio::spawn(async move {
        let _conn = subscriber.connect();
        if let Err(e) = subscriber.wait_for_connect().await {
            tracing::warn!(error = %e, "cannot follow session ends across instances");
            return;
        }
        for channel in [END_CHANNEL, crate::acl::cache::CHANGED_CHANNEL] {
            if let Err(e) = subscriber.subscribe(channel).await {
                tracing::warn!(error = %e, channel, "cannot subscribe");
            }
        }
        let _resubscribe = subscriber.manage_subscriptions();
        while let Ok(message) = rx.recv().await {
            let Some(text) = message.value.as_str() else {
                continue;
            };
            if &*message.channel == crate::acl::cache::CHANGED_CHANNEL {
                // Another instance changed ACLs, pools or guests: drop the cached view.
                if text.as_ref() != acl.instance() {
                    acl.invalidate_local();
                }
                continue;
            }
            match serde_json::from_str::<Ended>(&text) {
                Ok(ended) => {
                    let _ = sessions
                        .get()
                        .cast(SessionsMsg::End(ended.id, ended.reason));
                }
                Err(e) => tracing::debug!(error = %e, "ignoring a malformed session-end message"),
            }
        }
    });
}
