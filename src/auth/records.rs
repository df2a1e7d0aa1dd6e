//! Session records: the store is the source of truth; with Redis configured, records are also
//! cached there (read first, expiring with the session) and the end of a session is published so
//! that every instance closes the sockets it holds for it.

use fred::interfaces::{ClientLike, EventInterface, KeysInterface, PubsubInterface};
use ractor::ActorRef;
use serde::{Deserialize, Serialize};
use uma_actors::sessions::{EndReason, SessionsMsg};

use crate::store::auth::SessionRecord;
use crate::store::{now_ms, Store, StoreResult};

/// Channel on which ended sessions are announced.
pub const END_CHANNEL: &str = "uma:session-ended";

fn key(id: &str) -> String {
    format!("uma:session:{id}")
}

/// An announcement on [`END_CHANNEL`].
#[derive(Debug, Serialize, Deserialize)]
struct Ended {
    id: String,
    reason: EndReason,
}

/// Reads and writes session records (store + optional Redis cache). Cheap to clone.
#[derive(Debug, Clone)]
pub struct SessionRecords {
    store: Store,
    redis: Option<fred::clients::Client>,
}

impl SessionRecords {
    /// Records over `store`, cached in `redis` when given.
    pub fn new(store: Store, redis: Option<fred::clients::Client>) -> Self {
        Self { store, redis }
    }

    async fn cache(&self, record: &SessionRecord) {
        let Some(r) = crate::app::redis_ready(self.redis.as_ref()) else {
            return;
        };
        let ttl = record.expires_at - now_ms();
        if ttl <= 0 || record.revoked_at.is_some() {
            return;
        }
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

    /// A session record, from Redis when cached there.
    pub async fn get(&self, id: &str) -> StoreResult<Option<SessionRecord>> {
        if let Some(r) = crate::app::redis_ready(self.redis.as_ref()) {
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

    /// Records activity.
    pub async fn touch(&self, record: &SessionRecord, at: i64) -> StoreResult<()> {
        self.store.touch_session(&record.id, at).await?;
        let mut updated = record.clone();
        updated.last_seen_at = at;
        self.cache(&updated).await;
        Ok(())
    }

    /// Ends a session: the record is revoked, the cache entry dropped, and the end announced to
    /// every instance (this one's session actor is told directly as well).
    pub async fn end(
        &self,
        id: &str,
        reason: EndReason,
        sessions: &ActorRef<SessionsMsg>,
    ) -> StoreResult<()> {
        let revoked = self.store.revoke_session(id).await;
        if let Some(r) = crate::app::redis_ready(self.redis.as_ref()) {
            let _: Result<i64, _> = r.del(key(id)).await;
            if let Ok(msg) = serde_json::to_string(&Ended {
                id: id.to_owned(),
                reason,
            }) {
                let published: Result<i64, _> = r.publish(END_CHANNEL, msg).await;
                if let Err(e) = published {
                    tracing::warn!(error = %e, "session end not announced to other instances (Redis unavailable)");
                }
            }
        }
        let _ = sessions.cast(SessionsMsg::End(id.to_owned(), reason));
        revoked
    }
}

/// Follows [`END_CHANNEL`] and ends the announced sessions' actors on this instance. Runs until
/// the subscriber client quits; resubscribes after Redis comes back.
pub fn follow_ends(
    subscriber: fred::clients::SubscriberClient,
    sessions: ActorRef<SessionsMsg>,
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
                    let _ = sessions.cast(SessionsMsg::End(ended.id, ended.reason));
                }
                Err(e) => tracing::debug!(error = %e, "ignoring a malformed session-end message"),
            }
        }
    });
}
