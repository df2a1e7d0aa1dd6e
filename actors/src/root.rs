//! The root supervisor: parent of every first-level branch of the tree (the audit writer, the
//! task tracker, sessions, consoles, the cluster poller, presence, chat rooms, whiteboards).
//!
//! A branch is attached with a start function ([`Tree::branch`]); the root restarts a branch
//! that fails or stops on its own, at most [`Intensity::max_restarts`] times in
//! [`Intensity::within`], and never while the tree shuts down. Past that (or when a restart
//! itself fails) the branch is left down and the tree gives up ([`Tree::given_up`]): the server
//! stops rather than serve without, say, the actor that ends sessions. Services hold a
//! [`Slot`], which always names the branch's current actor, so a handle taken before a restart
//! keeps working after it.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use parking_lot::RwLock;
use ractor::{
    Actor, ActorCell, ActorId, ActorProcessingErr, ActorRef, Message, RpcReplyPort, SpawnErr,
    SupervisionEvent,
};
use serde::Serialize;

use crate::emit::BoxFut;

/// The current actor of a first-level branch, across its restarts. Cheap to clone.
pub struct Slot<M: Message>(Arc<SlotInner<M>>);

struct SlotInner<M: Message> {
    actor: RwLock<ActorRef<M>>,
    /// Counts the actors the slot has named; bumped (and waiters woken) by each restart.
    generation: std::sync::atomic::AtomicU64,
    changed: tokio::sync::Notify,
}

/// How long [`Slot::cast`] holds a message for a branch that is restarting.
const HOLD_FOR_RESTART: Duration = Duration::from_secs(5);

impl<M: Message> Clone for Slot<M> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<M: Message> std::fmt::Debug for Slot<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Slot")
            .field(&self.0.actor.read().get_id())
            .finish()
    }
}

impl<M: Message> Slot<M> {
    /// A slot holding `actor` (a branch not attached to a tree: tests).
    pub fn new(actor: ActorRef<M>) -> Self {
        Self(Arc::new(SlotInner {
            actor: RwLock::new(actor),
            generation: std::sync::atomic::AtomicU64::new(0),
            changed: tokio::sync::Notify::new(),
        }))
    }

    /// The branch's actor now.
    pub fn get(&self) -> ActorRef<M> {
        self.0.actor.read().clone()
    }

    fn set(&self, actor: ActorRef<M>) {
        *self.0.actor.write() = actor;
        self.0.generation.fetch_add(1, Ordering::SeqCst);
        self.0.changed.notify_waiters();
    }

    /// Sends `msg` to the branch's actor without waiting. When that actor has just ended (the
    /// branch is restarting), the message is held until the next one is in place, for up to
    /// five seconds, and given to it: a fire-and-forget message (an audit row, a task to
    /// follow, a session to end) is not lost to a restart. Returns false when it is dropped.
    pub fn cast(&self, msg: M) -> bool {
        let seen = self.0.generation.load(Ordering::SeqCst);
        match self.get().cast(msg) {
            Ok(()) => true,
            Err(ractor::MessagingErr::SendErr(msg)) => {
                let inner = self.0.clone();
                let Ok(rt) = tokio::runtime::Handle::try_current() else {
                    return false;
                };
                rt.spawn(async move {
                    let deadline = tokio::time::Instant::now() + HOLD_FOR_RESTART;
                    loop {
                        let changed = inner.changed.notified();
                        if inner.generation.load(Ordering::SeqCst) != seen {
                            let actor = inner.actor.read().clone();
                            if actor.cast(msg).is_err() {
                                tracing::warn!("a message for a restarted actor was lost");
                            }
                            return;
                        }
                        if tokio::time::timeout_at(deadline, changed).await.is_err() {
                            tracing::warn!("a message for a restarting actor was dropped");
                            return;
                        }
                    }
                });
                true
            }
            Err(_) => false,
        }
    }
}

/// How often a branch may be restarted before it is left down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Intensity {
    /// Restarts allowed within `within`.
    pub max_restarts: usize,
    /// The window.
    pub within: Duration,
}

impl Default for Intensity {
    /// Five restarts a minute: enough for a transient fault, not for a crash loop.
    fn default() -> Self {
        Self {
            max_restarts: 5,
            within: Duration::from_secs(60),
        }
    }
}

/// Starts a branch under the given parent; the number counts earlier starts (0: the first).
type StartFn =
    Arc<dyn Fn(ActorCell, u32) -> BoxFut<'static, Result<ActorCell, SpawnErr>> + Send + Sync>;

/// A first-level branch as the root knows it.
struct Branch {
    name: &'static str,
    start: StartFn,
    /// The running actor, if any.
    current: Option<ActorId>,
    /// Starts so far.
    starts: u32,
    /// When it was restarted lately (for the intensity).
    recent: VecDeque<Instant>,
    /// Left down: restarted too often, or a restart failed.
    down: bool,
}

/// The root supervisor actor.
#[derive(Debug)]
pub struct RootSupervisor {
    intensity: Intensity,
    /// Set when the tree shuts down (before its children are stopped, so no stop is taken for
    /// a failure).
    stopping: Arc<AtomicBool>,
    /// The first branch left down, for whoever must stop the server.
    given_up: tokio::sync::watch::Sender<Option<&'static str>>,
}

/// What the root knows about the tree, for `/readyz` and the admin pages.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TreeHealth {
    /// Seconds since the tree started.
    pub uptime_secs: u64,
    /// Direct children alive now.
    pub children: usize,
    /// Children that failed since start.
    pub failures: u64,
    /// Restarts of first-level branches since start.
    pub restarts: u64,
    /// Branches left down (restarted too often, or their restart failed).
    pub down: Vec<String>,
}

/// Messages of the root supervisor.
pub enum RootMsg {
    /// Report [`TreeHealth`].
    Health(RpcReplyPort<TreeHealth>),
    /// Start a branch and restart it when it ends.
    Attach(&'static str, StartFn, RpcReplyPort<Result<(), String>>),
    /// The ids of the branches' actors now, by name (tests).
    Branches(RpcReplyPort<Vec<(&'static str, Option<ActorCell>)>>),
}

impl std::fmt::Debug for RootMsg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Health(_) => f.write_str("Health"),
            Self::Attach(name, _, _) => write!(f, "Attach({name})"),
            Self::Branches(_) => f.write_str("Branches"),
        }
    }
}

/// The root's state.
pub struct RootState {
    started: Instant,
    failures: u64,
    restarts: u64,
    branches: Vec<Branch>,
}

impl std::fmt::Debug for RootState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RootState")
            .field("branches", &self.branches.len())
            .finish_non_exhaustive()
    }
}

impl RootSupervisor {
    /// Starts `branch` (again) under `myself`; a failure leaves it down.
    async fn start(myself: &ActorRef<RootMsg>, branch: &mut Branch) -> Result<(), String> {
        match (branch.start)(myself.get_cell(), branch.starts).await {
            Ok(cell) => {
                branch.starts += 1;
                branch.current = Some(cell.get_id());
                branch.down = false;
                Ok(())
            }
            Err(e) => {
                branch.current = None;
                branch.down = true;
                Err(e.to_string())
            }
        }
    }

    /// A direct child ended: restart it if it is a branch, the tree is not stopping and the
    /// branch's intensity allows.
    async fn ended(
        &self,
        myself: &ActorRef<RootMsg>,
        state: &mut RootState,
        who: &ActorCell,
        why: &str,
    ) {
        let id = who.get_id();
        let stopping = self.stopping.load(Ordering::SeqCst);
        let Some(branch) = state.branches.iter_mut().find(|b| b.current == Some(id)) else {
            return;
        };
        branch.current = None;
        if stopping {
            return;
        }
        let now = Instant::now();
        while branch
            .recent
            .front()
            .is_some_and(|t| now.duration_since(*t) > self.intensity.within)
        {
            branch.recent.pop_front();
        }
        if branch.recent.len() >= self.intensity.max_restarts {
            branch.down = true;
            tracing::error!(
                branch = branch.name,
                restarts = branch.recent.len(),
                within_secs = self.intensity.within.as_secs(),
                "branch restarted too often; left down"
            );
            self.give_up(branch.name);
            return;
        }
        branch.recent.push_back(now);
        state.restarts += 1;
        tracing::warn!(branch = branch.name, reason = why, "restarting branch");
        if let Err(e) = Self::start(myself, branch).await {
            tracing::error!(branch = branch.name, error = %e, "branch restart failed; left down");
            self.give_up(branch.name);
        }
    }

    /// Tells whoever waits on [`Tree::given_up`] that `branch` is down for good.
    fn give_up(&self, branch: &'static str) {
        self.given_up.send_if_modified(|g| {
            if g.is_none() {
                *g = Some(branch);
                true
            } else {
                false
            }
        });
    }
}

impl Actor for RootSupervisor {
    type Msg = RootMsg;
    type State = RootState;
    type Arguments = ();

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        _args: (),
    ) -> Result<Self::State, ActorProcessingErr> {
        tracing::debug!("root supervisor started");
        Ok(RootState {
            started: Instant::now(),
            failures: 0,
            restarts: 0,
            branches: Vec::new(),
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        // A caller that gave up waiting for a reply is not the root's failure: replies are
        // sent without checking.
        match message {
            RootMsg::Health(reply) => {
                let health = TreeHealth {
                    uptime_secs: state.started.elapsed().as_secs(),
                    children: myself.get_children().len(),
                    failures: state.failures,
                    restarts: state.restarts,
                    down: state
                        .branches
                        .iter()
                        .filter(|b| b.down)
                        .map(|b| b.name.to_owned())
                        .collect(),
                };
                let _ = reply.send(health);
            }
            RootMsg::Attach(name, start, reply) => {
                let mut branch = Branch {
                    name,
                    start,
                    current: None,
                    starts: 0,
                    recent: VecDeque::new(),
                    down: false,
                };
                let started = Self::start(&myself, &mut branch).await;
                state.branches.push(branch);
                let _ = reply.send(started);
            }
            RootMsg::Branches(reply) => {
                let children = myself.get_children();
                let _ = reply.send(
                    state
                        .branches
                        .iter()
                        .map(|b| {
                            let cell = b
                                .current
                                .and_then(|id| children.iter().find(|c| c.get_id() == id))
                                .cloned();
                            (b.name, cell)
                        })
                        .collect(),
                );
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match event {
            SupervisionEvent::ActorFailed(who, err) => {
                state.failures += 1;
                tracing::error!(actor = %describe(&who), error = %err, "supervised actor failed");
                self.ended(&myself, state, &who, &err.to_string()).await;
            }
            SupervisionEvent::ActorTerminated(who, _, reason) => {
                tracing::debug!(actor = %describe(&who), reason = ?reason, "supervised actor stopped");
                let why = reason.unwrap_or_else(|| "stopped".to_owned());
                self.ended(&myself, state, &who, &why).await;
            }
            _ => {}
        }
        Ok(())
    }
}

fn describe(cell: &ActorCell) -> String {
    cell.get_name().unwrap_or_else(|| cell.get_id().to_string())
}

/// A running tree: the root's handle and its task.
#[derive(Debug)]
pub struct Tree {
    /// The root supervisor.
    pub root: ActorRef<RootMsg>,
    handle: tokio::task::JoinHandle<()>,
    stopping: Arc<AtomicBool>,
    given_up: tokio::sync::watch::Receiver<Option<&'static str>>,
}

impl Tree {
    /// Starts the root supervisor with the default restart intensity.
    pub async fn start() -> Result<Tree, SpawnErr> {
        Self::with_intensity(Intensity::default()).await
    }

    /// Starts the root supervisor with `intensity`.
    pub async fn with_intensity(intensity: Intensity) -> Result<Tree, SpawnErr> {
        let stopping = Arc::new(AtomicBool::new(false));
        let (given_up_tx, given_up) = tokio::sync::watch::channel(None);
        let supervisor = RootSupervisor {
            intensity,
            stopping: stopping.clone(),
            given_up: given_up_tx,
        };
        let (root, handle) = Actor::spawn(None, supervisor, ()).await?;
        Ok(Tree {
            root,
            handle,
            stopping,
            given_up,
        })
    }

    /// Attaches the branch `name`: the root starts it now with `start(parent, 0)` and again with
    /// `start(parent, n)` each time it ends on its own. The returned slot always names the
    /// current actor.
    pub async fn branch<M, F, Fut>(&self, name: &'static str, start: F) -> Result<Slot<M>, SpawnErr>
    where
        M: Message,
        F: Fn(ActorCell, u32) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<ActorRef<M>, SpawnErr>> + Send + 'static,
    {
        self.branch_then(name, start, |_| {}).await
    }

    /// [`Tree::branch`], calling `then(n)` after each start, once the slot names the new actor
    /// (what must follow a restart: sockets registered with the old actor register again).
    pub async fn branch_then<M, F, Fut, T>(
        &self,
        name: &'static str,
        start: F,
        then: T,
    ) -> Result<Slot<M>, SpawnErr>
    where
        M: Message,
        F: Fn(ActorCell, u32) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<ActorRef<M>, SpawnErr>> + Send + 'static,
        T: Fn(u32) + Send + Sync + 'static,
    {
        let then = Arc::new(then);
        let slot: Arc<OnceLock<Slot<M>>> = Arc::default();
        let holder = slot.clone();
        let start = Arc::new(start);
        let start_fn: StartFn = Arc::new(move |parent, n| {
            let holder = holder.clone();
            let then = then.clone();
            let run = start(parent, n);
            Box::pin(async move {
                let actor = run.await?;
                match holder.get() {
                    Some(s) => s.set(actor.clone()),
                    None => {
                        let _ = holder.set(Slot::new(actor.clone()));
                    }
                }
                then(n);
                Ok(actor.get_cell())
            })
        });
        let started = ractor::call!(self.root, |r| RootMsg::Attach(name, start_fn, r))
            .map_err(|e| SpawnErr::StartupFailed(format!("{name}: {e}").into()))?;
        started.map_err(|e| SpawnErr::StartupFailed(format!("{name}: {e}").into()))?;
        slot.get()
            .cloned()
            .ok_or_else(|| SpawnErr::StartupFailed(format!("{name}: not started").into()))
    }

    /// Asks for the tree's health.
    pub async fn health(&self) -> Result<TreeHealth, crate::ActorError> {
        crate::call!(self.root, RootMsg::Health)
    }

    /// The first-level branches and their actors now (a branch that is down has none).
    pub async fn branches(
        &self,
    ) -> Result<Vec<(&'static str, Option<ActorCell>)>, crate::ActorError> {
        crate::call!(self.root, RootMsg::Branches)
    }

    /// Resolves with the name of the first branch left down (restarted too often, or its
    /// restart failed); pending while every branch runs.
    pub fn given_up(&self) -> impl Future<Output = &'static str> + Send + 'static {
        let mut rx = self.given_up.clone();
        async move {
            loop {
                if let Some(name) = *rx.borrow_and_update() {
                    return name;
                }
                if rx.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        }
    }

    /// Stops every actor (children first, by ractor's linking) and waits for the root to end;
    /// nothing is restarted from the moment it is called.
    pub async fn shutdown(self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.root
            .stop_children_and_wait(Some("shutdown".into()), Some(crate::CALL_TIMEOUT))
            .await;
        self.root.stop(Some("shutdown".into()));
        if tokio::time::timeout(crate::CALL_TIMEOUT, self.handle)
            .await
            .is_err()
        {
            tracing::warn!("root supervisor did not stop in time");
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    /// Counts what it is told; fails on `true`.
    #[derive(Debug)]
    struct Crasher;

    impl Actor for Crasher {
        type Msg = bool;
        type State = ();
        type Arguments = ();
        async fn pre_start(&self, _: ActorRef<bool>, _: ()) -> Result<(), ActorProcessingErr> {
            Ok(())
        }
        async fn handle(
            &self,
            _: ActorRef<bool>,
            fail: bool,
            _: &mut (),
        ) -> Result<(), ActorProcessingErr> {
            if fail {
                Err("boom".into())
            } else {
                Ok(())
            }
        }
    }

    async fn crasher(parent: ActorCell) -> Result<ActorRef<bool>, SpawnErr> {
        Ok(Actor::spawn_linked(None, Crasher, (), parent).await?.0)
    }

    async fn until(tree: &Tree, what: &str, ok: impl Fn(&TreeHealth) -> bool) -> TreeHealth {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let h = tree.health().await.unwrap();
            if ok(&h) {
                return h;
            }
            assert!(Instant::now() < deadline, "{what}: {h:?}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    #[tokio::test]
    async fn a_failing_child_that_is_no_branch_is_counted_and_the_root_survives() {
        let tree = Tree::start().await.unwrap();
        let (child, handle) = Actor::spawn_linked(None, Crasher, (), tree.root.get_cell())
            .await
            .unwrap();
        child.cast(true).unwrap();
        handle.await.unwrap();
        let h = until(&tree, "the failure", |h| h.failures == 1 && h.children == 0).await;
        assert_eq!(h.restarts, 0);
        tree.shutdown().await;
    }

    #[tokio::test]
    async fn a_failed_or_killed_branch_comes_back_behind_the_same_slot() {
        let tree = Tree::start().await.unwrap();
        let slot = tree
            .branch("crasher", |parent, _| crasher(parent))
            .await
            .unwrap();
        let first = slot.get().get_id();
        slot.get().cast(true).unwrap();
        until(&tree, "a restart after a failure", |h| h.restarts == 1).await;
        let second = slot.get().get_id();
        assert_ne!(first, second, "the slot names the new actor");
        slot.get().kill();
        until(&tree, "a restart after a kill", |h| h.restarts == 2).await;
        assert_ne!(slot.get().get_id(), second);
        assert!(
            slot.get().cast(false).is_ok(),
            "the new actor takes messages"
        );
        let branches = tree.branches().await.unwrap();
        assert_eq!(branches.len(), 1);
        assert_eq!(
            branches[0].1.as_ref().map(ActorCell::get_id),
            Some(slot.get().get_id())
        );
        tree.shutdown().await;
    }

    #[tokio::test]
    async fn a_branch_that_keeps_failing_is_left_down() {
        let tree = Tree::with_intensity(Intensity {
            max_restarts: 2,
            within: Duration::from_secs(60),
        })
        .await
        .unwrap();
        let slot = tree
            .branch("flaky", |parent, _| crasher(parent))
            .await
            .unwrap();
        for n in 1..=2 {
            slot.get().cast(true).unwrap();
            until(&tree, "a restart", |h| h.restarts == n).await;
        }
        let given_up = tree.given_up();
        slot.get().cast(true).unwrap();
        let h = until(&tree, "the branch down", |h| !h.down.is_empty()).await;
        assert_eq!(h.down, vec!["flaky".to_owned()]);
        assert_eq!(h.restarts, 2);
        // Whoever runs the tree hears of it (the server stops).
        let name = tokio::time::timeout(Duration::from_secs(5), given_up)
            .await
            .unwrap();
        assert_eq!(name, "flaky");
        tree.shutdown().await;
    }

    #[tokio::test]
    async fn then_runs_after_each_start_once_the_slot_names_the_new_actor() {
        let tree = Tree::start().await.unwrap();
        let seen = Arc::new(parking_lot::Mutex::new(Vec::new()));
        let holder: Arc<OnceLock<Slot<bool>>> = Arc::default();
        let (log, slot_seen) = (seen.clone(), holder.clone());
        let slot = tree
            .branch_then(
                "followed",
                |parent, _| crasher(parent),
                move |n| {
                    let now = slot_seen.get().map(|s| s.get().get_id());
                    log.lock().push((n, now));
                },
            )
            .await
            .unwrap();
        let _ = holder.set(slot.clone());
        let first = slot.get().get_id();
        slot.get().cast(true).unwrap();
        until(&tree, "a restart", |h| h.restarts == 1).await;
        let second = slot.get().get_id();
        assert_ne!(first, second);
        // The first start ran before the test held the slot; the restart saw the new actor.
        assert_eq!(*seen.lock(), vec![(0, None), (1, Some(second))]);
        tree.shutdown().await;
    }

    #[tokio::test]
    async fn a_message_sent_while_a_branch_restarts_reaches_the_new_actor() {
        let tree = Tree::start().await.unwrap();
        let slot = tree
            .branch("slow", |parent, n| async move {
                if n > 0 {
                    // A restart that takes a while: messages arrive meanwhile.
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
                crasher(parent).await
            })
            .await
            .unwrap();
        let old = slot.get();
        old.kill();
        while old.get_status() != ractor::ActorStatus::Stopped {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // Sent to the ended actor: held, then given to its successor, which fails on it.
        assert!(slot.cast(true));
        until(&tree, "the held message delivered", |h| h.restarts == 2).await;
        tree.shutdown().await;
    }

    #[tokio::test]
    async fn restarts_know_how_many_starts_came_before() {
        let tree = Tree::start().await.unwrap();
        let seen = Arc::new(parking_lot::Mutex::new(Vec::new()));
        let log = seen.clone();
        let slot = tree
            .branch("counted", move |parent, n| {
                log.lock().push(n);
                crasher(parent)
            })
            .await
            .unwrap();
        slot.get().cast(true).unwrap();
        until(&tree, "a restart", |h| h.restarts == 1).await;
        assert_eq!(*seen.lock(), vec![0, 1]);
        tree.shutdown().await;
    }

    #[tokio::test]
    async fn nothing_is_restarted_during_shutdown() {
        let tree = Tree::start().await.unwrap();
        let starts = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let count = starts.clone();
        tree.branch("quiet", move |parent, _| {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            crasher(parent)
        })
        .await
        .unwrap();
        tree.shutdown().await;
        assert_eq!(starts.load(std::sync::atomic::Ordering::SeqCst), 1);
    }
}
