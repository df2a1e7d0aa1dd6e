//! The ACL view cache: one [`View`] (ACL entries, roles, cluster resources and the engine over
//! them) shared by every user for a short time, instead of three Proxmox reads per request.
//! Decisions are pure functions of the view, so caching the view caches every user's result.
//! Uma drops the view whenever it changes something the view reflects (ACLs, pools, guests),
//! so its own changes are seen at once; changes made elsewhere are seen within the TTL.

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::owned::Policy;
use super::{load, Engine, Naming};
use crate::pve::models::Resource;
use crate::pve::{PveClient, PveError};

/// What the engine decided from, fetched together.
#[derive(Debug)]
pub struct View {
    /// The engine over the snapshot.
    pub engine: Engine,
    /// `GET /cluster/resources` at the same moment.
    pub resources: Vec<Resource>,
    /// When it was read.
    pub fetched: Instant,
    /// What the deployment makes public (storages, bridges, templates).
    pub policy: Arc<Policy>,
}

impl View {
    /// The guest with this id.
    pub fn guest(&self, vmid: u32) -> Option<&Resource> {
        self.resources
            .iter()
            .find(|r| r.is_guest() && r.vmid == Some(vmid))
    }
}

#[derive(Debug, Default)]
struct Slot {
    view: Option<Arc<View>>,
    generation: u64,
    /// The cluster poller's latest resource list, used instead of reading it again.
    pushed: Option<(Instant, Arc<Vec<Resource>>)>,
}

/// Redis channel on which instances announce that they changed ACLs, pools or guests.
pub const CHANGED_CHANNEL: &str = "uma:acl-changed";

/// A shared, short-lived [`View`].
#[derive(Debug)]
pub struct AclCache {
    pve: PveClient,
    naming: Naming,
    policy: Arc<Policy>,
    ttl: Duration,
    slot: Mutex<Slot>,
    refresh: tokio::sync::Mutex<()>,
    /// Announces changes to the other instances (when Redis is configured).
    redis: Option<fred::clients::Client>,
    /// This instance, so it ignores its own announcements.
    instance: String,
    /// Counts the changes seen (Uma's own, other instances', new resource lists), for those
    /// who re-check what they hand out when access may have changed.
    changes: tokio::sync::watch::Sender<u64>,
}

impl AclCache {
    /// A cache reading through `pve`, deciding with `policy`; `ttl` zero disables caching.
    pub fn new(pve: PveClient, naming: Naming, policy: Policy, ttl: Duration) -> Self {
        Self {
            pve,
            naming,
            policy: Arc::new(policy),
            ttl,
            slot: Mutex::new(Slot::default()),
            refresh: tokio::sync::Mutex::new(()),
            redis: None,
            instance: crate::store::new_id(),
            changes: tokio::sync::watch::channel(0).0,
        }
    }

    /// Announces this instance's changes to the others through `redis`.
    #[must_use]
    pub fn with_redis(mut self, redis: Option<fred::clients::Client>) -> Self {
        self.redis = redis;
        self
    }

    /// Wakes up whenever ACLs, pools, guests or the resource list may have changed.
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }

    fn changed(&self) {
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// This instance's id in announcements.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    fn fresh(&self) -> Option<Arc<View>> {
        let slot = self.slot.lock();
        slot.view
            .as_ref()
            .filter(|v| v.fetched.elapsed() < self.ttl)
            .cloned()
    }

    /// The current view: cached while fresh, else read once (concurrent callers share the read).
    pub async fn view(&self) -> Result<Arc<View>, PveError> {
        if let Some(v) = self.fresh() {
            return Ok(v);
        }
        let _one = self.refresh.lock().await;
        if let Some(v) = self.fresh() {
            return Ok(v);
        }
        self.build(true).await
    }

    /// Hands over a fresh resource list (the cluster poller reads it anyway): views built while it
    /// is fresh read only ACLs and roles, so Proxmox sees one resource read per poll interval.
    pub fn push_resources(&self, resources: Vec<Resource>) {
        let mut slot = self.slot.lock();
        slot.pushed = Some((Instant::now(), Arc::new(resources)));
        // Pool membership may have changed: rebuild the view on next use.
        slot.view = None;
        drop(slot);
        self.changed();
    }

    /// Reads a new view now, everything from Proxmox, whatever the cache holds (for decisions
    /// that must be current).
    pub async fn reload(&self) -> Result<Arc<View>, PveError> {
        self.build(false).await
    }

    async fn build(&self, prefer_pushed: bool) -> Result<Arc<View>, PveError> {
        let (generation, pushed) = {
            let slot = self.slot.lock();
            let pushed = slot
                .pushed
                .as_ref()
                .filter(|(at, _)| prefer_pushed && at.elapsed() < self.ttl)
                .map(|(_, r)| r.clone());
            (slot.generation, pushed)
        };
        let started = Instant::now();
        let (snapshot, resources) = match pushed {
            Some(resources) => {
                let snapshot = load::snapshot_over(&self.pve, &resources).await?;
                (snapshot, resources.as_ref().clone())
            }
            None => load::snapshot(&self.pve).await?,
        };
        let view = Arc::new(View {
            engine: Engine::new(snapshot, self.naming.clone()),
            resources,
            fetched: started,
            policy: self.policy.clone(),
        });
        let mut slot = self.slot.lock();
        // An invalidation during the read means the answer may predate the change: use it for
        // this caller, but don't keep it.
        if slot.generation == generation {
            slot.view = Some(view.clone());
        }
        Ok(view)
    }

    /// Forgets the view (and any pushed resources) here and, through Redis, on the other
    /// instances; the next caller reads a new one.
    pub fn invalidate(&self) {
        self.invalidate_local();
        if let Some(r) = crate::redis::ready(self.redis.as_ref()).cloned() {
            let me = self.instance.clone();
            tokio::spawn(async move {
                use fred::interfaces::PubsubInterface;
                let sent: Result<i64, _> = r.publish(CHANGED_CHANNEL, me).await;
                if let Err(e) = sent {
                    tracing::debug!(error = %e, "ACL change not announced to other instances");
                }
            });
        }
    }

    /// Forgets the view here only (another instance announced a change).
    pub fn invalidate_local(&self) {
        {
            let mut slot = self.slot.lock();
            slot.generation += 1;
            slot.view = None;
            slot.pushed = None;
        }
        self.changed();
    }
}
