//! One cluster's resource poller, under a cluster supervisor: it reads the cluster's resource
//! list on an interval while someone watches (paused otherwise), backs off on errors, computes
//! what changed between two reads under a version number, tracks the cluster's health, and hands
//! each update to a [`ClusterSink`]. However many browsers watch, Proxmox is asked once per
//! interval.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use serde::Serialize;
use serde_json::Value;
use tokio::time::Instant;

use crate::root::Intensity;

/// Where resources come from (the server implements it over its Proxmox client).
pub trait ClusterSource: Send + Sync + 'static {
    /// One read of the resource list; each item has a unique string `id`.
    fn fetch(&self) -> Pin<Box<dyn Future<Output = Result<Vec<Value>, String>> + Send + '_>>;
}

/// Where updates go (the server filters them per permission set and emits them).
pub trait ClusterSink: Send + Sync + 'static {
    /// A new version of the list (called only when something changed, or health changed).
    fn publish(&self, update: ClusterUpdate);
}

/// The cluster's state as the poller sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthState {
    /// Answers, every node online.
    Up,
    /// Answers, but a node is not online, or the last read failed.
    Degraded,
    /// Several reads in a row failed.
    Down,
}

/// Health with its reason and since when (Unix ms).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Health {
    /// The state.
    pub status: HealthState,
    /// The last error, or which nodes are not online.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When the state began (Unix ms).
    pub since: i64,
}

/// What changed from `from` to `to`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Delta {
    /// Items new or changed.
    pub upsert: Vec<Value>,
    /// Ids gone.
    pub remove: Vec<String>,
}

/// One update of the poller.
#[derive(Debug, Clone)]
pub struct ClusterUpdate {
    /// Previous version.
    pub from: u64,
    /// This version.
    pub to: u64,
    /// The whole list at `to`.
    pub items: Arc<Vec<Value>>,
    /// What changed.
    pub delta: Arc<Delta>,
    /// Health now.
    pub health: Health,
    /// Whether health changed with this update.
    pub health_changed: bool,
}

/// A snapshot for a new watcher.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Version.
    pub version: u64,
    /// Items.
    pub items: Arc<Vec<Value>>,
    /// Health.
    pub health: Health,
}

/// Messages of the poller.
pub enum PollerMsg {
    /// Time to read.
    Poll,
    /// A read finished.
    Fetched(Result<Vec<Value>, String>),
    /// The number of watchers changed.
    Watchers(usize),
    /// The current snapshot (after a first read, when there has been none yet).
    Snapshot(RpcReplyPort<Snapshot>),
    /// A read panicked (a bug in the source): the poller fails, and its supervisor starts a
    /// new one.
    ReadPanicked(String),
}

/// Poller settings.
#[derive(Debug, Clone)]
pub struct PollerConfig {
    /// Interval while watched.
    pub interval: Duration,
    /// Longest pause between reads while they fail.
    pub max_backoff: Duration,
    /// Failed reads in a row before the cluster counts as down.
    pub down_after: u32,
    /// The wait before a failed poller's first restart; it doubles with each restart in the
    /// supervisor's window, so a poller that fails at once does not use the window up in a
    /// moment.
    pub restart_after: Duration,
}

impl Default for PollerConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(2),
            max_backoff: Duration::from_secs(30),
            down_after: 3,
            restart_after: Duration::from_millis(500),
        }
    }
}

/// The poller actor.
pub struct ResourcePoller {
    source: Arc<dyn ClusterSource>,
    sink: Arc<dyn ClusterSink>,
    config: PollerConfig,
    watchers: Arc<AtomicUsize>,
}

/// The poller's state.
pub struct PollerState {
    version: u64,
    items: Arc<Vec<Value>>,
    by_id: HashMap<String, Value>,
    health: Health,
    failures: u32,
    watchers: usize,
    fetching: bool,
    next_due: Option<Instant>,
    waiting: Vec<RpcReplyPort<Snapshot>>,
    read_once: bool,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn snapshot(st: &PollerState) -> Snapshot {
    Snapshot {
        version: st.version,
        items: st.items.clone(),
        health: st.health.clone(),
    }
}

/// Differences between two lists, by `id`.
pub fn diff(old: &HashMap<String, Value>, new: &[Value]) -> Delta {
    let mut delta = Delta::default();
    let mut seen = std::collections::HashSet::with_capacity(new.len());
    for item in new {
        let Some(id) = item.get("id").and_then(Value::as_str) else {
            continue;
        };
        seen.insert(id);
        if old.get(id) != Some(item) {
            delta.upsert.push(item.clone());
        }
    }
    for id in old.keys() {
        if !seen.contains(id.as_str()) {
            delta.remove.push(id.clone());
        }
    }
    delta.remove.sort();
    delta
}

fn offline_nodes(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .filter(|i| i.get("type").and_then(Value::as_str) == Some("node"))
        .filter(|i| i.get("status").and_then(Value::as_str) != Some("online"))
        .filter_map(|i| i.get("node").and_then(Value::as_str).map(str::to_owned))
        .collect()
}

impl ResourcePoller {
    fn schedule(&self, myself: &ActorRef<PollerMsg>, st: &mut PollerState) {
        if st.watchers == 0 || st.fetching {
            return;
        }
        let pause = if st.failures == 0 {
            self.config.interval
        } else {
            (self.config.interval * 2u32.saturating_pow(st.failures.min(8)))
                .min(self.config.max_backoff)
        };
        let due = Instant::now() + pause;
        if st.next_due.is_some_and(|d| d <= due) {
            return;
        }
        st.next_due = Some(due);
        myself.send_after(pause, || PollerMsg::Poll);
    }

    fn set_health(&self, st: &mut PollerState, status: HealthState, error: Option<String>) -> bool {
        if st.health.status == status && st.health.error == error {
            return false;
        }
        let since = if st.health.status == status {
            st.health.since
        } else {
            now_ms()
        };
        st.health = Health {
            status,
            error,
            since,
        };
        true
    }
}

impl Actor for ResourcePoller {
    type Msg = PollerMsg;
    type State = PollerState;
    type Arguments = ();

    async fn pre_start(
        &self,
        myself: ActorRef<PollerMsg>,
        (): (),
    ) -> Result<PollerState, ActorProcessingErr> {
        // A poller started again after a failure goes on where the last one stopped: it
        // reads at once for those already watching, and its versions start past any the
        // last one gave (the time in ms), so browsers see a gap and take a new snapshot.
        let watchers = self.watchers.load(Ordering::SeqCst);
        if watchers > 0 {
            let _ = myself.cast(PollerMsg::Poll);
        }
        Ok(PollerState {
            version: u64::try_from(now_ms()).unwrap_or_default(),
            items: Arc::new(Vec::new()),
            by_id: HashMap::new(),
            health: Health {
                status: HealthState::Degraded,
                error: Some("not read yet".into()),
                since: now_ms(),
            },
            failures: 0,
            watchers,
            fetching: false,
            next_due: None,
            waiting: Vec::new(),
            read_once: false,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<PollerMsg>,
        message: PollerMsg,
        st: &mut PollerState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            PollerMsg::Poll => {
                st.next_due = None;
                if st.fetching || (st.watchers == 0 && st.waiting.is_empty()) {
                    return Ok(());
                }
                st.fetching = true;
                let source = self.source.clone();
                let me = myself.clone();
                tokio::spawn(async move {
                    // The read runs in a task of its own so that a panic in it reaches the
                    // poller instead of leaving it waiting for a read that never ends.
                    let read = tokio::spawn(async move { source.fetch().await });
                    let _ = match read.await {
                        Ok(result) => me.cast(PollerMsg::Fetched(result)),
                        Err(e) if e.is_panic() => me.cast(PollerMsg::ReadPanicked(e.to_string())),
                        // Cancelled (the runtime is stopping): a failed read like any other.
                        Err(e) => me.cast(PollerMsg::Fetched(Err(e.to_string()))),
                    };
                });
            }
            PollerMsg::Fetched(result) => {
                st.fetching = false;
                st.read_once = true;
                match result {
                    Ok(items) => {
                        st.failures = 0;
                        let offline = offline_nodes(&items);
                        let health_changed = if offline.is_empty() {
                            self.set_health(st, HealthState::Up, None)
                        } else {
                            self.set_health(
                                st,
                                HealthState::Degraded,
                                Some(format!("not online: {}", offline.join(", "))),
                            )
                        };
                        let delta = diff(&st.by_id, &items);
                        if !delta.upsert.is_empty() || !delta.remove.is_empty() || health_changed {
                            let from = st.version;
                            if !delta.upsert.is_empty() || !delta.remove.is_empty() {
                                st.version += 1;
                            }
                            st.by_id = items
                                .iter()
                                .filter_map(|i| {
                                    Some((i.get("id")?.as_str()?.to_owned(), i.clone()))
                                })
                                .collect();
                            st.items = Arc::new(items);
                            self.sink.publish(ClusterUpdate {
                                from,
                                to: st.version,
                                items: st.items.clone(),
                                delta: Arc::new(delta),
                                health: st.health.clone(),
                                health_changed,
                            });
                        }
                    }
                    Err(error) => {
                        st.failures += 1;
                        let status = if st.failures >= self.config.down_after {
                            HealthState::Down
                        } else {
                            HealthState::Degraded
                        };
                        tracing::warn!(%error, failures = st.failures, "cluster poll failed");
                        if self.set_health(st, status, Some(error)) {
                            self.sink.publish(ClusterUpdate {
                                from: st.version,
                                to: st.version,
                                items: st.items.clone(),
                                delta: Arc::new(Delta::default()),
                                health: st.health.clone(),
                                health_changed: true,
                            });
                        }
                    }
                }
                let snap = snapshot(st);
                for reply in st.waiting.drain(..) {
                    let _ = reply.send(snap.clone());
                }
                self.schedule(&myself, st);
            }
            PollerMsg::Watchers(n) => {
                let was = st.watchers;
                st.watchers = n;
                if was == 0 && n > 0 && !st.fetching {
                    // Someone started watching: read now unless the last read is fresh.
                    st.next_due = None;
                    let _ = myself.cast(PollerMsg::Poll);
                }
            }
            PollerMsg::Snapshot(reply) => {
                if st.read_once {
                    let _ = reply.send(snapshot(st));
                } else {
                    st.waiting.push(reply);
                    if !st.fetching {
                        let _ = myself.cast(PollerMsg::Poll);
                    }
                }
            }
            PollerMsg::ReadPanicked(error) => {
                return Err(format!("reading the cluster panicked: {error}").into());
            }
        }
        Ok(())
    }
}

/// Supervises one cluster's poller and starts a new one when it fails, at most
/// [`Intensity::max_restarts`] times in [`Intensity::within`]; past that it fails itself, so the
/// root restarts the whole branch (or, past its own bound, stops the server).
pub struct ClusterSupervisor;

/// The supervisor's state: what it restarts the poller with, and when it did lately.
pub struct ClusterSupState {
    args: ClusterArgs,
    restarts: VecDeque<Instant>,
}

/// What the supervisor needs to (re)start its poller.
pub struct ClusterArgs {
    /// Source.
    pub source: Arc<dyn ClusterSource>,
    /// Sink.
    pub sink: Arc<dyn ClusterSink>,
    /// Settings.
    pub config: PollerConfig,
    /// Where the current poller is published (replaced after a restart).
    pub poller: Arc<parking_lot::RwLock<Option<ActorRef<PollerMsg>>>>,
    /// How many watch now, kept by whoever counts them ([`PollerMsg::Watchers`] tells the
    /// running poller; a new one starts from this).
    pub watchers: Arc<AtomicUsize>,
}

/// Messages of the cluster supervisor (none; it only supervises).
pub enum ClusterSupMsg {}

impl ClusterSupervisor {
    async fn spawn_poller(
        myself: &ActorRef<ClusterSupMsg>,
        args: &ClusterArgs,
    ) -> Result<(), ActorProcessingErr> {
        let (poller, _) = Actor::spawn_linked(
            None,
            ResourcePoller {
                source: args.source.clone(),
                sink: args.sink.clone(),
                config: args.config.clone(),
                watchers: args.watchers.clone(),
            },
            (),
            myself.get_cell(),
        )
        .await?;
        *args.poller.write() = Some(poller);
        Ok(())
    }

    /// Starts the supervisor and its poller under `parent`.
    pub async fn start(
        parent: ractor::ActorCell,
        args: ClusterArgs,
    ) -> Result<ActorRef<ClusterSupMsg>, ractor::SpawnErr> {
        let (sup, _) = Actor::spawn_linked(None, ClusterSupervisor, args, parent).await?;
        Ok(sup)
    }
}

impl Actor for ClusterSupervisor {
    type Msg = ClusterSupMsg;
    type State = ClusterSupState;
    type Arguments = ClusterArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<ClusterSupMsg>,
        args: ClusterArgs,
    ) -> Result<ClusterSupState, ActorProcessingErr> {
        Self::spawn_poller(&myself, &args).await?;
        Ok(ClusterSupState {
            args,
            restarts: VecDeque::new(),
        })
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<ClusterSupMsg>,
        event: SupervisionEvent,
        st: &mut ClusterSupState,
    ) -> Result<(), ActorProcessingErr> {
        if let SupervisionEvent::ActorFailed(_, error) = event {
            let bound = Intensity::default();
            let now = Instant::now();
            st.restarts
                .retain(|at| now.duration_since(*at) < bound.within);
            if st.restarts.len() >= bound.max_restarts {
                tracing::error!(%error, "cluster poller failed again; giving up on it");
                return Err(format!(
                    "the cluster poller failed {} times within {:?}: {error}",
                    bound.max_restarts + 1,
                    bound.within
                )
                .into());
            }
            let wait = st
                .args
                .config
                .restart_after
                .saturating_mul(1 << st.restarts.len().min(16))
                .min(st.args.config.max_backoff);
            st.restarts.push_back(now);
            tracing::error!(%error, ?wait, "cluster poller failed; starting a new one");
            tokio::time::sleep(wait).await;
            Self::spawn_poller(&myself, &st.args).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use serde_json::json;

    #[test]
    fn diff_finds_changes_and_removals() {
        let old: HashMap<String, Value> = [
            (
                "qemu/100".to_owned(),
                json!({"id": "qemu/100", "status": "stopped"}),
            ),
            (
                "qemu/101".to_owned(),
                json!({"id": "qemu/101", "status": "running"}),
            ),
        ]
        .into();
        let new = vec![
            json!({"id": "qemu/100", "status": "running"}),
            json!({"id": "qemu/102", "status": "stopped"}),
        ];
        let d = diff(&old, &new);
        assert_eq!(d.upsert.len(), 2);
        assert_eq!(d.remove, vec!["qemu/101".to_owned()]);
        assert!(diff(
            &new.iter()
                .map(|v| (v["id"].as_str().unwrap().to_owned(), v.clone()))
                .collect(),
            &new
        )
        .upsert
        .is_empty());
    }

    /// Counts reads; each read shows a list that differs from the last.
    struct Counting(std::sync::atomic::AtomicU64);

    impl ClusterSource for Counting {
        fn fetch(&self) -> Pin<Box<dyn Future<Output = Result<Vec<Value>, String>> + Send + '_>> {
            let n = self.0.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move {
                Ok(vec![
                    json!({"id": "node/pve1", "type": "node", "status": "online", "n": n}),
                ])
            })
        }
    }

    struct Collect(parking_lot::Mutex<Vec<(u64, u64)>>);

    impl ClusterSink for Collect {
        fn publish(&self, update: ClusterUpdate) {
            self.0.lock().push((update.from, update.to));
        }
    }

    #[tokio::test]
    async fn a_new_poller_goes_on_for_those_watching_with_later_versions() {
        let source = Arc::new(Counting(std::sync::atomic::AtomicU64::new(0)));
        let sink = Arc::new(Collect(parking_lot::Mutex::new(Vec::new())));
        let poller = Arc::new(parking_lot::RwLock::new(None));
        let watchers = Arc::new(AtomicUsize::new(0));
        let args = || ClusterArgs {
            source: source.clone(),
            sink: sink.clone(),
            config: PollerConfig {
                interval: Duration::from_millis(20),
                ..Default::default()
            },
            poller: poller.clone(),
            watchers: watchers.clone(),
        };
        let (sup, _) = Actor::spawn(None, ClusterSupervisor, args()).await.unwrap();
        // One watcher, counted by whoever counts them and told to the poller.
        watchers.store(1, Ordering::SeqCst);
        let first = poller.read().clone().unwrap();
        first.cast(PollerMsg::Watchers(1)).unwrap();
        let wait_for = |n: usize| {
            let sink = sink.clone();
            async move {
                for _ in 0..250 {
                    if sink.0.lock().len() >= n {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                panic!("fewer than {n} updates");
            }
        };
        wait_for(3).await;
        let last_before = sink.0.lock().last().unwrap().1;
        // The branch fails and the root starts it again: the new poller reads for the
        // watcher without being told again, and its versions come after the last one's.
        sup.kill_and_wait(None).await.unwrap();
        let (sup, handle) = Actor::spawn(None, ClusterSupervisor, args()).await.unwrap();
        assert_ne!(poller.read().as_ref().unwrap().get_id(), first.get_id());
        let seen = sink.0.lock().len();
        wait_for(seen + 3).await;
        let after: Vec<(u64, u64)> = sink.0.lock()[seen..].to_vec();
        assert!(
            after.iter().all(|(_, to)| *to > last_before),
            "{after:?} after {last_before}"
        );
        sup.stop(None);
        handle.await.unwrap();
    }

    /// Panics on every read, counting them.
    struct Failing(AtomicUsize);

    impl ClusterSource for Failing {
        fn fetch(&self) -> Pin<Box<dyn Future<Output = Result<Vec<Value>, String>> + Send + '_>> {
            self.0.fetch_add(1, Ordering::SeqCst);
            panic!("a bug in the source");
        }
    }

    #[tokio::test]
    async fn a_poller_failing_in_a_loop_brings_its_supervisor_down() {
        let source = Arc::new(Failing(AtomicUsize::new(0)));
        let args = ClusterArgs {
            source: source.clone(),
            sink: Arc::new(Collect(parking_lot::Mutex::new(Vec::new()))),
            config: PollerConfig {
                restart_after: Duration::from_millis(40),
                ..Default::default()
            },
            poller: Arc::new(parking_lot::RwLock::new(None)),
            // Someone watches: each new poller reads at once, and fails.
            watchers: Arc::new(AtomicUsize::new(1)),
        };
        let started = Instant::now();
        let (_sup, handle) = Actor::spawn(None, ClusterSupervisor, args).await.unwrap();
        let ended = tokio::time::timeout(Duration::from_secs(10), handle).await;
        assert!(ended.is_ok(), "the supervisor kept restarting its poller");
        // The restarts waited 40, 80, 160, 320 and 640 ms: the window is not used up at once.
        assert!(
            started.elapsed() >= Duration::from_millis(1240),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(
            source.0.load(Ordering::SeqCst),
            1 + Intensity::default().max_restarts,
            "the first poller and five restarts read once each"
        );
    }
}
