//! One poll per cluster for the whole deployment: the instances of a deployment that watch the
//! same Proxmox cluster share its resource reads through Redis. The instance holding the lead
//! (a Redis key it renews with each read) reads Proxmox and publishes the result; the others use
//! what it publishes. An instance reads Proxmox itself when Redis is away, when it is alone (no
//! `REDIS_URL`), or when the leader published nothing in time (it may have no watchers of its
//! own: its lead then lapses and a watching instance takes it).

use std::sync::Arc;
use std::time::Duration;

use fred::clients::{Client, SubscriberClient};
use fred::interfaces::{ClientLike, EventInterface, KeysInterface, PubsubInterface};
use fred::types::{Expiration, SetOptions};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Digest;
use tokio::sync::watch;
use uma_actors::cluster::ClusterSource;

/// A [`ClusterSource`] shared by a deployment's instances.
pub struct SharedSource {
    direct: Arc<dyn ClusterSource>,
    shared: Option<Shared>,
}

struct Shared {
    redis: Client,
    /// Who leads.
    key: String,
    /// Where the leader publishes.
    channel: String,
    me: String,
    /// How long a lead lasts without a read.
    ttl: Duration,
    /// How long a follower waits for the leader's next read.
    wait: Duration,
    latest: watch::Receiver<Option<Arc<Reading>>>,
}

/// One read of the resource list, as the leader publishes it.
#[derive(Debug, Serialize, Deserialize)]
struct Reading {
    /// The publishing instance.
    from: String,
    /// The items, or Proxmox's error.
    result: Result<Vec<Value>, String>,
}

/// Names the Redis key and channel of one cluster of one deployment.
fn cluster_tag(deployment: &str, cluster: &str) -> String {
    let digest = sha2::Sha256::digest(cluster.as_bytes());
    format!("uma:{deployment}:cluster:{}", hex::encode(&digest[..8]))
}

/// The Redis key naming the instance that reads `cluster` for `deployment` (its value is that
/// instance's id, [`crate::acl::cache::AclCache::instance`]).
pub fn leader_key(deployment: &str, cluster: &str) -> String {
    format!("{}:poller", cluster_tag(deployment, cluster))
}

impl SharedSource {
    /// Reads through `direct` only.
    pub fn alone(direct: Arc<dyn ClusterSource>) -> Self {
        Self {
            direct,
            shared: None,
        }
    }

    /// Shares reads of the cluster at `cluster` (its API address) with the other instances of
    /// `deployment` polling every `interval`. `sub` is a subscriber connection of its own.
    pub fn shared(
        direct: Arc<dyn ClusterSource>,
        redis: Client,
        sub: SubscriberClient,
        deployment: &str,
        cluster: &str,
        me: String,
        interval: Duration,
    ) -> Self {
        let tag = cluster_tag(deployment, cluster);
        let channel = format!("{tag}:resources");
        let (tx, latest) = watch::channel(None);
        follow(sub, channel.clone(), me.clone(), tx);
        Self {
            direct,
            shared: Some(Shared {
                redis,
                key: leader_key(deployment, cluster),
                channel,
                me,
                ttl: (interval * 3).max(Duration::from_secs(3)),
                wait: interval + interval / 2,
                latest,
            }),
        }
    }
}

/// Keeps `channel` subscribed (also after reconnects) and hands the other instances' readings
/// to `tx`.
fn follow(
    sub: SubscriberClient,
    channel: String,
    me: String,
    tx: watch::Sender<Option<Arc<Reading>>>,
) {
    let mut messages = sub.message_rx();
    let chan = channel.clone();
    tokio::spawn(async move {
        while let Ok(m) = messages.recv().await {
            if *m.channel != *chan {
                continue;
            }
            let Some(text) = m.value.as_str() else {
                continue;
            };
            match serde_json::from_str::<Reading>(&text) {
                Ok(r) if r.from != me => {
                    tx.send_replace(Some(Arc::new(r)));
                }
                Ok(_) => {}
                Err(e) => tracing::debug!(error = %e, "ignoring a malformed cluster reading"),
            }
        }
    });
    let mut reconnects = sub.reconnect_rx();
    tokio::spawn(async move {
        let _conn = sub.connect();
        let mut subscribed = false;
        loop {
            if !subscribed && sub.is_connected() {
                match sub.subscribe(channel.as_str()).await {
                    Ok(()) => subscribed = true,
                    Err(e) => tracing::debug!(error = %e, "cluster readings: subscribe failed"),
                }
            }
            tokio::select! {
                r = reconnects.recv() => match r {
                    Ok(_) => subscribed = false,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => subscribed = false,
                    Err(_) => return,
                },
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    });
}

impl Shared {
    /// Takes the lead when nobody holds it, keeps it when this instance does. `None`: Redis
    /// cannot say.
    async fn lead(&self) -> Option<bool> {
        let ttl = i64::try_from(self.ttl.as_millis()).unwrap_or(i64::MAX);
        let taken: Option<String> = self
            .redis
            .set(
                &self.key,
                self.me.as_str(),
                Some(Expiration::PX(ttl)),
                Some(SetOptions::NX),
                false,
            )
            .await
            .ok()?;
        if taken.is_some() {
            return Some(true);
        }
        let holder: Option<String> = self.redis.get(&self.key).await.ok()?;
        if holder.as_deref() != Some(self.me.as_str()) {
            return Some(false);
        }
        let _: bool = self.redis.pexpire(&self.key, ttl, None).await.ok()?;
        Some(true)
    }
}

impl ClusterSource for SharedSource {
    fn fetch(
        &self,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Vec<Value>, String>> + Send + '_>>
    {
        Box::pin(async move {
            let Some(s) = &self.shared else {
                return self.direct.fetch().await;
            };
            if !s.redis.is_connected() {
                return self.direct.fetch().await;
            }
            // Wait from now for the leader's next reading (not one this instance already used).
            let mut next = s.latest.clone();
            next.mark_unchanged();
            match s.lead().await {
                Some(true) => {
                    let result = self.direct.fetch().await;
                    let reading = Reading {
                        from: s.me.clone(),
                        result,
                    };
                    if let Ok(text) = serde_json::to_string(&reading) {
                        let sent: Result<i64, _> = s.redis.publish(&s.channel, text).await;
                        if let Err(e) = sent {
                            tracing::debug!(error = %e, "cluster reading not shared");
                        }
                    }
                    reading.result
                }
                Some(false) => {
                    if let Ok(Ok(())) = tokio::time::timeout(s.wait, next.changed()).await {
                        if let Some(r) = next.borrow().clone() {
                            return r.result.clone();
                        }
                    }
                    // The leader said nothing in time: read directly this once.
                    self.direct.fetch().await
                }
                None => self.direct.fetch().await,
            }
        })
    }
}
