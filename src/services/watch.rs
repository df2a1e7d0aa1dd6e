//! Live resource streams. The cluster poller (`uma_actors::cluster`) reads Proxmox once per
//! interval; this module turns each update into what each watcher may see. Visibility is
//! computed once per distinct principal, and sockets that see exactly the same set of resources
//! share one room (`view:<hash>`), so a delta is filtered and serialized once per room. A socket
//! whose visible set changes moves to its new room and gets its own catch-up delta.
//!
//! Guests and nodes can also be watched one by one (`guest:watch`, `node:watch`): while anyone
//! watches, a small stream task reads their status and chart data and emits it to their room.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use ractor::ActorRef;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use uma_actors::cluster::{ClusterSink, ClusterSource, ClusterUpdate, PollerMsg};

use crate::acl::cache::AclCache;
use crate::acl::visible::can_see;
use crate::acl::{Engine, Principal};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::push::IoControl;
use crate::pve::models::Resource;
use crate::pve::PveClient;

/// Room of every resource watcher (cluster health goes there).
pub const WATCHERS_ROOM: &str = crate::push::room::RESOURCE_WATCHERS;

/// [`ClusterSource`] over the Proxmox client.
pub struct PveSource(pub PveClient);

impl ClusterSource for PveSource {
    fn fetch(
        &self,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Vec<Value>, String>> + Send + '_>>
    {
        Box::pin(async move {
            self.0
                .get::<Vec<Value>>("cluster/resources")
                .await
                .map_err(|e| AppError::from(e).message)
        })
    }
}

#[derive(Debug, Clone)]
struct Watcher {
    principal: Principal,
    room: String,
}

#[derive(Debug, Default)]
struct Rooms {
    /// Socket id → watcher.
    watchers: HashMap<String, Watcher>,
    /// Room → the ids its sockets see.
    visible: HashMap<String, Arc<HashSet<String>>>,
}

/// The live streams of one cluster.
pub struct Live {
    acl: Arc<AclCache>,
    io: IoControl,
    public_storages: Vec<String>,
    poller: Arc<RwLock<Option<ActorRef<PollerMsg>>>>,
    /// How many watch (for a poller started after a failure).
    watchers: Arc<AtomicUsize>,
    rooms: Mutex<Rooms>,
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Live")
    }
}

/// [`ClusterSink`] handing updates to [`Live`] in order.
pub struct LiveSink(pub mpsc::UnboundedSender<ClusterUpdate>);

impl ClusterSink for LiveSink {
    fn publish(&self, update: ClusterUpdate) {
        let _ = self.0.send(update);
    }
}

fn principal_key(p: &Principal) -> String {
    let mut groups = p.groups.clone();
    groups.sort();
    format!(
        "{}\u{1}{}\u{1}{}",
        p.username.to_lowercase(),
        groups.join(","),
        p.is_admin
    )
}

fn typed(items: &[Value]) -> Vec<Resource> {
    items
        .iter()
        .filter_map(|v| serde_json::from_value(v.clone()).ok())
        .collect()
}

/// The engine with pool membership taken from `resources` (fresher than the cached view's).
fn engine_over(base: &Engine, resources: &[Resource]) -> Engine {
    let mut e = base.clone();
    e.snapshot.guest_pools = resources
        .iter()
        .filter(|r| r.is_guest())
        .filter_map(|r| Some((r.vmid?, r.pool.clone()?)))
        .collect();
    e
}

fn visible_ids(
    engine: &Engine,
    p: &Principal,
    public: &[String],
    items: &[Resource],
) -> HashSet<String> {
    let admin = engine.effective_admin(p);
    items
        .iter()
        .filter(|r| admin || can_see(engine, p, public, r))
        .map(|r| r.id.clone())
        .collect()
}

fn room_of(ids: &HashSet<String>) -> String {
    let sorted: BTreeSet<&String> = ids.iter().collect();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    sorted.hash(&mut h);
    crate::push::room::view(h.finish())
}

fn id_of(v: &Value) -> Option<&str> {
    v.get("id").and_then(Value::as_str)
}

impl Live {
    /// A live hub; `updates` is the receiving end of the poller sink's channel.
    pub fn new(
        acl: Arc<AclCache>,
        io: IoControl,
        public_storages: Vec<String>,
        poller: Arc<RwLock<Option<ActorRef<PollerMsg>>>>,
        watchers: Arc<AtomicUsize>,
    ) -> (Arc<Self>, LiveSink) {
        let (tx, mut rx) = mpsc::unbounded_channel::<ClusterUpdate>();
        let live = Arc::new(Self {
            acl,
            io,
            public_storages,
            poller,
            watchers,
            rooms: Mutex::new(Rooms::default()),
        });
        let weak = Arc::downgrade(&live);
        tokio::spawn(async move {
            while let Some(update) = rx.recv().await {
                let Some(live) = weak.upgrade() else { break };
                live.apply(update).await;
            }
        });
        (live, LiveSink(tx))
    }

    fn poller(&self) -> AppResult<ActorRef<PollerMsg>> {
        self.poller.read().clone().ok_or_else(|| {
            AppError::with_message(ErrorCode::Unavailable, "The cluster poller is restarting")
        })
    }

    fn tell_watchers(&self) {
        let n = self.rooms.lock().watchers.len();
        // Kept for a poller started after a failure, which has not heard the count.
        self.watchers.store(n, Ordering::SeqCst);
        if let Ok(p) = self.poller() {
            let _ = p.cast(PollerMsg::Watchers(n));
        }
    }

    /// Starts streaming to `socket`: joins its room and returns the first snapshot.
    pub async fn watch(
        &self,
        socket: &crate::push::Socket,
        principal: Principal,
    ) -> AppResult<Value> {
        let poller = self.poller()?;
        // Count the watcher first so the poller runs while the snapshot is read.
        let sid = socket.id.to_string();
        {
            let mut rooms = self.rooms.lock();
            rooms.watchers.insert(
                sid.clone(),
                Watcher {
                    principal: principal.clone(),
                    room: String::new(),
                },
            );
        }
        self.tell_watchers();
        let snap = ractor::call_t!(poller, PollerMsg::Snapshot, 15_000).map_err(|e| {
            AppError::with_message(
                ErrorCode::Unavailable,
                format!("The cluster poller did not answer: {e}"),
            )
        })?;
        let view = self.acl.view().await?;
        let resources = typed(&snap.items);
        let engine = engine_over(&view.engine, &resources);
        let ids = visible_ids(&engine, &principal, &self.public_storages, &resources);
        let room = room_of(&ids);
        let items: Vec<&Value> = snap
            .items
            .iter()
            .filter(|v| id_of(v).is_some_and(|id| ids.contains(id)))
            .collect();
        {
            let mut rooms = self.rooms.lock();
            if let Some(old) = rooms.watchers.get(&sid).map(|w| w.room.clone()) {
                if !old.is_empty() {
                    socket.leave(old);
                }
            }
            rooms.visible.insert(room.clone(), Arc::new(ids));
            if let Some(w) = rooms.watchers.get_mut(&sid) {
                w.room = room.clone();
            }
        }
        socket.join(room);
        socket.join(WATCHERS_ROOM);
        Ok(json!({ "version": snap.version, "items": items, "cluster": snap.health }))
    }

    /// Stops streaming to a socket (also on disconnect).
    pub fn unwatch(&self, sid: &str) {
        let removed = {
            let mut rooms = self.rooms.lock();
            let removed = rooms.watchers.remove(sid);
            let used: HashSet<String> = rooms.watchers.values().map(|w| w.room.clone()).collect();
            rooms.visible.retain(|room, _| used.contains(room));
            removed
        };
        if removed.is_some() {
            self.tell_watchers();
        }
    }

    /// How many sockets watch, and in how many rooms.
    pub fn counts(&self) -> (usize, usize) {
        let rooms = self.rooms.lock();
        (rooms.watchers.len(), rooms.visible.len())
    }

    async fn apply(&self, update: ClusterUpdate) {
        if update.health_changed {
            self.io
                .emit_here(
                    vec![WATCHERS_ROOM.to_owned()],
                    "cluster:status",
                    &json!(update.health),
                )
                .await;
        }
        if update.from == update.to {
            return;
        }
        let resources = typed(&update.items);
        self.acl.push_resources(resources.clone());
        let view = match self.acl.view().await {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(error = %e, "live update skipped: ACLs unreadable");
                return;
            }
        };
        let engine = engine_over(&view.engine, &resources);
        // Visibility once per distinct principal.
        let watchers: Vec<(String, Watcher)> = {
            let rooms = self.rooms.lock();
            rooms
                .watchers
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        };
        let mut by_principal: HashMap<String, (Arc<HashSet<String>>, String)> = HashMap::new();
        let mut moves: Vec<(String, String, String)> = Vec::new();
        for (sid, w) in &watchers {
            let key = principal_key(&w.principal);
            let (ids, room) = by_principal
                .entry(key)
                .or_insert_with(|| {
                    let ids = visible_ids(&engine, &w.principal, &self.public_storages, &resources);
                    let room = room_of(&ids);
                    (Arc::new(ids), room)
                })
                .clone();
            if room != w.room && !w.room.is_empty() {
                moves.push((sid.clone(), w.room.clone(), room.clone()));
            }
            drop(ids);
        }
        let old_visible: HashMap<String, Arc<HashSet<String>>> = self.rooms.lock().visible.clone();
        // Steady rooms: one filtered delta each.
        let mut sent_rooms: HashSet<String> = HashSet::new();
        for (ids, room) in by_principal.values() {
            if !sent_rooms.insert(room.clone()) {
                continue;
            }
            if !old_visible.contains_key(room) {
                continue; // a new room: its sockets get catch-up deltas below
            }
            let upsert: Vec<&Value> = update
                .delta
                .upsert
                .iter()
                .filter(|v| id_of(v).is_some_and(|id| ids.contains(id)))
                .collect();
            // Sent even when empty: the version moved on for everyone.
            self.io
                .emit_here(
                    vec![room.clone()],
                    "resources:delta",
                    &json!({ "from": update.from, "to": update.to, "upsert": upsert, "remove": Vec::<String>::new() }),
                )
                .await;
        }
        // Sockets whose visible set changed: their own catch-up delta, then the new room.
        let by_id: HashMap<&str, &Value> = update
            .items
            .iter()
            .filter_map(|v| Some((id_of(v)?, v)))
            .collect();
        for (sid, old_room, new_room) in &moves {
            let old_ids = old_visible.get(old_room).cloned().unwrap_or_default();
            let new_ids = by_principal
                .values()
                .find(|(_, r)| r == new_room)
                .map(|(ids, _)| ids.clone())
                .unwrap_or_default();
            let changed: HashSet<&str> = update.delta.upsert.iter().filter_map(id_of).collect();
            let upsert: Vec<&Value> = new_ids
                .iter()
                .filter(|id| !old_ids.contains(*id) || changed.contains(id.as_str()))
                .filter_map(|id| by_id.get(id.as_str()).copied())
                .collect();
            let remove: Vec<&String> = old_ids.iter().filter(|id| !new_ids.contains(*id)).collect();
            let payload =
                json!({ "from": update.from, "to": update.to, "upsert": upsert, "remove": remove });
            self.io
                .move_socket(sid, old_room, new_room, "resources:delta", payload);
        }
        // Record the rooms now in use.
        let mut rooms = self.rooms.lock();
        for (sid, _, new_room) in &moves {
            if let Some(w) = rooms.watchers.get_mut(sid) {
                w.room = new_room.clone();
            }
        }
        let mut visible = HashMap::new();
        for (ids, room) in by_principal.into_values() {
            visible.insert(room, ids);
        }
        let used: HashSet<String> = rooms.watchers.values().map(|w| w.room.clone()).collect();
        visible.retain(|room, _| used.contains(room));
        rooms.visible = visible;
    }
}

/// Streams of single guests and nodes: one task per watched key, stopped when the last watcher
/// leaves.
#[derive(Default)]
pub struct Streams {
    active: Mutex<HashMap<String, (usize, tokio::task::JoinHandle<()>)>>,
    by_socket: Mutex<HashMap<String, HashSet<String>>>,
    /// Per socket, the guests it watches and who it is (re-checked when access may change).
    guests: Mutex<HashMap<String, HashMap<u32, Principal>>>,
    /// Per socket, the pools whose team boards it joined and who it is (re-checked too).
    boards: Mutex<HashMap<String, HashMap<String, Principal>>>,
}

impl std::fmt::Debug for Streams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Streams")
    }
}

/// How often a watched guest or node is read.
pub const STREAM_EVERY: Duration = Duration::from_secs(5);

impl Streams {
    /// Adds `sid` as a watcher of `key`; `start` makes the task for a first watcher.
    pub fn join(&self, sid: &str, key: &str, start: impl FnOnce() -> tokio::task::JoinHandle<()>) {
        let mut mine = self.by_socket.lock();
        let keys = mine.entry(sid.to_owned()).or_default();
        if !keys.insert(key.to_owned()) {
            return;
        }
        let mut active = self.active.lock();
        match active.get_mut(key) {
            Some((n, _)) => *n += 1,
            None => {
                active.insert(key.to_owned(), (1, start()));
            }
        }
    }

    /// Removes `sid` from `key` (all keys when `None`).
    pub fn leave(&self, sid: &str, key: Option<&str>) {
        let keys: Vec<String> = {
            let mut mine = self.by_socket.lock();
            match key {
                Some(k) => {
                    let removed = mine.get_mut(sid).is_some_and(|s| s.remove(k));
                    if removed {
                        vec![k.to_owned()]
                    } else {
                        Vec::new()
                    }
                }
                None => mine
                    .remove(sid)
                    .map(|s| s.into_iter().collect())
                    .unwrap_or_default(),
            }
        };
        let mut active = self.active.lock();
        for k in keys {
            let stop = match active.get_mut(&k) {
                Some((n, _)) => {
                    *n -= 1;
                    *n == 0
                }
                None => false,
            };
            if stop {
                if let Some((_, task)) = active.remove(&k) {
                    task.abort();
                }
            }
        }
    }

    /// Keys being streamed now.
    pub fn active(&self) -> Vec<String> {
        self.active.lock().keys().cloned().collect()
    }

    /// Records that `sid` (of `principal`) watches guest `vmid`.
    pub fn guard_guest(&self, sid: &str, vmid: u32, principal: Principal) {
        self.guests
            .lock()
            .entry(sid.to_owned())
            .or_default()
            .insert(vmid, principal);
    }

    /// Forgets `sid`'s watch of `vmid` (all of its watches when `None`).
    pub fn unguard(&self, sid: &str, vmid: Option<u32>) {
        let mut guests = self.guests.lock();
        match vmid {
            Some(id) => {
                if let Some(m) = guests.get_mut(sid) {
                    m.remove(&id);
                    if m.is_empty() {
                        guests.remove(sid);
                    }
                }
            }
            None => {
                guests.remove(sid);
            }
        }
    }

    /// Records that `sid` (of `principal`) joined the team board of `pool`.
    pub fn guard_board(&self, sid: &str, pool: &str, principal: Principal) {
        self.boards
            .lock()
            .entry(sid.to_owned())
            .or_default()
            .insert(pool.to_owned(), principal);
    }

    /// Forgets `sid`'s team board of `pool` (all of them when `None`).
    pub fn unguard_board(&self, sid: &str, pool: Option<&str>) {
        let mut boards = self.boards.lock();
        match pool {
            Some(p) => {
                if let Some(m) = boards.get_mut(sid) {
                    m.remove(p);
                    if m.is_empty() {
                        boards.remove(sid);
                    }
                }
            }
            None => {
                boards.remove(sid);
            }
        }
    }

    /// Every team board joined: socket, pool, who joined.
    pub fn board_watches(&self) -> Vec<(String, String, Principal)> {
        self.boards
            .lock()
            .iter()
            .flat_map(|(sid, m)| {
                m.iter()
                    .map(|(p, who)| (sid.clone(), p.clone(), who.clone()))
            })
            .collect()
    }

    /// Every watch of a guest: socket, guest id, who watches.
    pub fn guest_watches(&self) -> Vec<(String, u32, Principal)> {
        self.guests
            .lock()
            .iter()
            .flat_map(|(sid, m)| m.iter().map(|(id, p)| (sid.clone(), *id, p.clone())))
            .collect()
    }
}
