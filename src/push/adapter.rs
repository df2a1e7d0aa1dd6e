//! Socket.IO across instances: socketioxide's Redis adapter (`socketioxide-redis`) carries a
//! broadcast to the sockets of every instance. Its transport is [`Bus`], our driver over fred,
//! because Uma needs other failure rules than the crate's own drivers: an instance starts and
//! serves its own sockets while Redis is away, a broadcast never fails (or waits) because Redis
//! does, and the channels are subscribed again when Redis returns. Without `REDIS_URL` the bus is
//! [`Bus::alone`]: nothing leaves the instance.

use std::collections::HashMap;
use std::sync::Arc;

use fred::clients::{Client, SubscriberClient};
use fred::interfaces::{ClientLike, EventInterface, PubsubInterface};
use parking_lot::RwLock;
use socketioxide_redis::drivers::{ChanItem, Driver, MessageStream};
use socketioxide_redis::{CustomRedisAdapter, RedisAdapterConfig, RedisAdapterCtr};
use tokio::sync::mpsc;

/// The adapter every socket of this server uses.
pub type Adapter = CustomRedisAdapter<socketioxide::adapter::Emitter, Bus>;

/// The adapter's transport: Redis pub/sub, or nothing when this instance is alone.
#[derive(Clone, Default)]
pub struct Bus(Option<Arc<Wire>>);

struct Wire {
    /// Publishes and counts subscribers.
    client: Client,
    /// Receives.
    sub: SubscriberClient,
    /// Where each subscribed channel's messages go.
    handlers: RwLock<HashMap<String, mpsc::Sender<ChanItem>>>,
}

impl std::fmt::Debug for Bus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Bus(redis)"
        } else {
            "Bus(alone)"
        })
    }
}

/// Never returned: [`Bus`] logs Redis failures and carries on.
#[derive(Debug)]
pub struct BusError(fred::error::Error);

impl std::fmt::Display for BusError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for BusError {}

impl Bus {
    /// Only this instance's sockets.
    pub fn alone() -> Self {
        Self(None)
    }

    /// Over Redis: `client` publishes, `sub` (a subscriber connection of its own) receives. Both
    /// reconnect by themselves; `sub` is connected here without waiting for it.
    pub fn over(client: Client, sub: SubscriberClient) -> Self {
        let wire = Arc::new(Wire {
            client,
            sub,
            handlers: RwLock::new(HashMap::new()),
        });
        // Messages to the adapter's streams.
        let mut messages = wire.sub.message_rx();
        let w = Arc::downgrade(&wire);
        tokio::spawn(async move {
            loop {
                let msg = match messages.recv().await {
                    Ok(m) => m,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "socket.io bus: fell behind Redis");
                        continue;
                    }
                    Err(_) => return,
                };
                let Some(wire) = w.upgrade() else { return };
                let chan = msg.channel.to_string();
                let Some(data) = msg.value.into_owned_bytes() else {
                    continue;
                };
                let tx = wire.handlers.read().get(&chan).cloned();
                if let Some(tx) = tx {
                    if tx.try_send((chan, data)).is_err() {
                        tracing::warn!("socket.io bus: a message from another instance was dropped (queue full)");
                    }
                }
            }
        });
        // After a reconnect, every channel again (also those a failed attempt missed).
        let mut reconnects = wire.sub.reconnect_rx();
        let w = Arc::downgrade(&wire);
        tokio::spawn(async move {
            while reconnects.recv().await.is_ok() {
                let Some(wire) = w.upgrade() else { return };
                let chans: Vec<String> = wire.handlers.read().keys().cloned().collect();
                for chan in chans {
                    if let Err(e) = wire.sub.subscribe(chan.clone()).await {
                        tracing::warn!(%chan, error = %e, "socket.io bus: subscribe failed");
                    }
                }
            }
        });
        let _task = wire.sub.connect();
        Self(Some(wire))
    }

    /// The adapter's constructor state. Its channels are named after `deployment`
    /// ([`crate::store::Store::deployment_id`]): instances of one deployment hear each other,
    /// other deployments on the same Redis don't.
    pub fn adapter(self, deployment: &str) -> RedisAdapterCtr<Bus> {
        RedisAdapterCtr::new_with_driver(
            self,
            RedisAdapterConfig::new().with_prefix(format!("uma:sio:{deployment}")),
        )
    }
}

impl Driver for Bus {
    type Error = BusError;

    async fn publish(&self, chan: String, val: Vec<u8>) -> Result<(), BusError> {
        let Some(wire) = &self.0 else { return Ok(()) };
        // While Redis is away the other instances miss it; this one's sockets still get it.
        if !wire.client.is_connected() {
            return Ok(());
        }
        if let Err(e) = wire.client.publish::<i64, _, _>(chan, val).await {
            tracing::debug!(error = %e, "socket.io bus: not published");
        }
        Ok(())
    }

    async fn subscribe(
        &self,
        chan: String,
        size: usize,
    ) -> Result<MessageStream<ChanItem>, BusError> {
        let Some(wire) = &self.0 else {
            return Ok(MessageStream::new_empty());
        };
        let (tx, rx) = mpsc::channel(size.max(1));
        wire.handlers.write().insert(chan.clone(), tx);
        if wire.sub.is_connected() {
            if let Err(e) = wire.sub.subscribe(chan.clone()).await {
                tracing::warn!(%chan, error = %e, "socket.io bus: subscribe failed; retried on reconnect");
            }
        }
        Ok(MessageStream::new(rx))
    }

    async fn unsubscribe(&self, chan: String) -> Result<(), BusError> {
        let Some(wire) = &self.0 else { return Ok(()) };
        wire.handlers.write().remove(&chan);
        if wire.sub.is_connected() {
            let _ = wire.sub.unsubscribe(chan).await;
        }
        Ok(())
    }

    async fn num_serv(&self, chan: &str) -> Result<u16, BusError> {
        // Instances listening, this one included; alone (or while Redis is away) just this one,
        // so nothing waits for answers from instances it cannot reach.
        let Some(wire) = &self.0 else { return Ok(1) };
        if !wire.client.is_connected() {
            return Ok(1);
        }
        match wire
            .client
            .pubsub_numsub::<Vec<fred::types::Value>, _>(chan)
            .await
        {
            Ok(v) => Ok(v
                .get(1)
                .and_then(|n| n.as_u64())
                .map_or(1, |n| n.clamp(1, u16::MAX as u64) as u16)),
            Err(e) => {
                tracing::debug!(error = %e, "socket.io bus: instance count unknown");
                Ok(1)
            }
        }
    }
}
