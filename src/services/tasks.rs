//! The `TaskTracker` actor: follows every Proxmox task Uma starts until it ends, and pushes its
//! progress and final status over Socket.IO to the user who started it (`user:<name>`) and to
//! everyone watching the guest (`guest:<vmid>`). It also remembers who started each recent task,
//! so a user may read the status and log of their own tasks.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use serde_json::json;
use uma_actors::root::Slot;

use crate::acl::cache::AclCache;
use crate::push::room;
use crate::pve::path::{ApiPath, Upid};
use crate::pve::tasks::{TaskState, TaskStatus};
use crate::pve::{PveClient, PveError};
use uma_actors::emit::{Emit, Emitter};

/// How often running tasks are polled.
const POLL_EVERY: Duration = Duration::from_millis(1000);
/// A task still running after this long is no longer followed.
const GIVE_UP_AFTER: Duration = Duration::from_secs(6 * 3600);
/// How many finished tasks' owners are remembered.
const REMEMBER: usize = 5000;

/// Messages of the tracker.
pub enum TaskMsg {
    /// Follow a task started by `user`.
    Track {
        /// The task.
        upid: Upid,
        /// Who started it.
        user: String,
        /// The guest it concerns.
        vmid: Option<u32>,
    },
    /// Poll the running tasks.
    Tick,
    /// Results of a poll: each task's status and, while running, its progress from the log.
    Polled(Vec<(String, Result<TaskStatus, PveError>, Option<u32>)>),
    /// Who started a task (if Uma started it recently).
    Owner(String, RpcReplyPort<Option<TaskOwner>>),
}

/// Who started a task and for which guest.
#[derive(Debug, Clone)]
pub struct TaskOwner {
    /// Uma username.
    pub user: String,
    /// The guest concerned.
    pub vmid: Option<u32>,
}

struct Tracked {
    upid: Upid,
    owner: TaskOwner,
    since: Instant,
    last_status: Option<TaskState>,
    progress: Option<u32>,
}

/// What the tracker follows and remembers. It lives beside the actor, so a restarted tracker
/// goes on following the tasks the failed one had.
#[derive(Default)]
pub struct Book {
    running: HashMap<String, Tracked>,
    owners: HashMap<String, TaskOwner>,
    order: VecDeque<String>,
}

/// State of the tracker actor.
pub struct TrackerState {
    polling: bool,
}

/// The actor.
pub struct TaskTracker {
    pve: PveClient,
    emitter: Arc<dyn Emitter>,
    acl: Arc<AclCache>,
    book: Arc<Mutex<Book>>,
}

/// Handle to the tracker (a branch of the actor tree: it follows the tracker's restarts).
#[derive(Debug, Clone)]
pub struct Tasks {
    actor: Slot<TaskMsg>,
}

/// What the tracker needs; kept by its branch to start it again after a failure.
#[derive(Clone)]
pub struct TrackerArgs {
    /// Proxmox.
    pub pve: PveClient,
    /// Where progress is pushed.
    pub emitter: Arc<dyn Emitter>,
    /// Dropped when a task ends (creations, deletions and clones change what it shows).
    pub acl: Arc<AclCache>,
    /// The tasks followed, shared by every start of the tracker.
    pub book: Arc<Mutex<Book>>,
}

impl Tasks {
    /// The tracker behind `actor`.
    pub fn new(actor: Slot<TaskMsg>) -> Self {
        Self { actor }
    }

    /// Starts a tracker under `parent`.
    pub async fn start_actor(
        parent: ractor::ActorCell,
        args: TrackerArgs,
    ) -> Result<ActorRef<TaskMsg>, ractor::SpawnErr> {
        let tracker = TaskTracker {
            pve: args.pve,
            emitter: args.emitter,
            acl: args.acl,
            book: args.book,
        };
        let (actor, _) = Actor::spawn_linked(None, tracker, (), parent).await?;
        Ok(actor)
    }

    /// Follows `upid` for `user`.
    pub fn track(&self, upid: Upid, user: &str, vmid: Option<u32>) {
        let _ = self.actor.cast(TaskMsg::Track {
            upid,
            user: user.to_owned(),
            vmid,
        });
    }

    /// Who started `upid`, when Uma did.
    pub async fn owner(&self, upid: &Upid) -> Option<TaskOwner> {
        uma_actors::call!(self.actor.get(), |r| TaskMsg::Owner(
            upid.as_str().to_owned(),
            r
        ))
        .ok()
        .flatten()
    }
}

fn payload(t: &Tracked, status: &TaskStatus) -> serde_json::Value {
    json!({
        "upid": t.upid,
        "vmid": t.owner.vmid,
        "type": t.upid.task_type(),
        "node": t.upid.node(),
        "user": t.owner.user,
        "status": status.status,
        "exitstatus": status.exitstatus,
        "ok": status.exitstatus.as_deref().map(|e| e == "OK" || e.starts_with("WARNINGS")),
    })
}

/// An event about `t` for its starter's sockets and those watching its guest.
fn emit(out: &mut Vec<Emit>, t: &Tracked, event: &'static str, body: serde_json::Value) {
    let mut rooms = vec![room::user(&t.owner.user)];
    if let Some(v) = t.owner.vmid {
        rooms.push(room::guest(v));
    }
    out.push(Emit::to(rooms, event, body));
}

impl Actor for TaskTracker {
    type Msg = TaskMsg;
    type State = TrackerState;
    type Arguments = ();

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        (): (),
    ) -> Result<Self::State, ActorProcessingErr> {
        myself.send_interval(POLL_EVERY, || TaskMsg::Tick);
        Ok(TrackerState { polling: false })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        // Events are sent once the book is let go: it is never held across an await.
        let mut events = Vec::new();
        self.update(&myself, message, state, &mut events);
        for e in events {
            self.emitter.emit(e).await;
        }
        Ok(())
    }
}

impl TaskTracker {
    fn update(
        &self,
        myself: &ActorRef<TaskMsg>,
        message: TaskMsg,
        state: &mut TrackerState,
        out: &mut Vec<Emit>,
    ) {
        let mut book = self.book.lock();
        let book = &mut *book;
        match message {
            TaskMsg::Track { upid, user, vmid } => {
                let key = upid.as_str().to_owned();
                let owner = TaskOwner { user, vmid };
                book.owners.insert(key.clone(), owner.clone());
                book.order.push_back(key.clone());
                while book.order.len() > REMEMBER {
                    if let Some(old) = book.order.pop_front() {
                        if !book.running.contains_key(&old) {
                            book.owners.remove(&old);
                        }
                    }
                }
                let t = Tracked {
                    upid,
                    owner,
                    since: Instant::now(),
                    last_status: Some(TaskState::Running),
                    progress: None,
                };
                let started = TaskStatus {
                    status: TaskState::Running,
                    exitstatus: None,
                    kind: None,
                };
                emit(out, &t, "task:started", payload(&t, &started));
                book.running.insert(key, t);
            }
            TaskMsg::Tick => {
                book.running
                    .retain(|_, t| t.since.elapsed() < GIVE_UP_AFTER);
                if state.polling || book.running.is_empty() {
                    return;
                }
                state.polling = true;
                let pve = self.pve.clone();
                let myself = myself.clone();
                let upids: Vec<Upid> = book.running.values().map(|t| t.upid.clone()).collect();
                tokio::spawn(async move {
                    let polls = upids.into_iter().map(|u| {
                        let pve = pve.clone();
                        async move {
                            let base = ApiPath::lit("nodes").seg(&u.node()).then("tasks").seg(&u);
                            let status = pve.get::<TaskStatus>(base.clone().then("status")).await;
                            let progress = match &status {
                                Ok(s) if s.status == TaskState::Running => pve
                                    .get_with::<Vec<serde_json::Value>>(
                                        base.then("log"),
                                        &[("limit", "1000".to_owned())],
                                    )
                                    .await
                                    .ok()
                                    .and_then(|log| {
                                        log.iter().rev().find_map(|l| {
                                            l["t"].as_str().and_then(crate::pve::tasks::percent)
                                        })
                                    }),
                                _ => None,
                            };
                            (u.as_str().to_owned(), status, progress)
                        }
                    });
                    let results = futures::future::join_all(polls).await;
                    let _ = myself.cast(TaskMsg::Polled(results));
                });
            }
            TaskMsg::Polled(results) => {
                state.polling = false;
                for (key, result, progress) in results {
                    let Some(t) = book.running.get_mut(&key) else {
                        continue;
                    };
                    match result {
                        Ok(s) if s.status == TaskState::Stopped => {
                            if let Some(t) = book.running.remove(&key) {
                                emit(out, &t, "task:done", payload(&t, &s));
                                // Creations, deletions and clones change what the ACL view
                                // shows.
                                self.acl.invalidate();
                            }
                        }
                        Ok(s) => {
                            if t.last_status != Some(s.status)
                                || (progress.is_some() && progress != t.progress)
                            {
                                t.last_status = Some(s.status);
                                t.progress = progress.or(t.progress);
                                let mut body = payload(t, &s);
                                body["progress"] = serde_json::json!(t.progress);
                                emit(out, t, "task:update", body);
                            }
                        }
                        Err(PveError::Status {
                            status: 400 | 404,
                            message,
                        }) => {
                            if let Some(t) = book.running.remove(&key) {
                                let s = TaskStatus {
                                    status: TaskState::Stopped,
                                    exitstatus: Some(format!("unknown: {message}")),
                                    kind: None,
                                };
                                emit(out, &t, "task:done", payload(&t, &s));
                            }
                        }
                        Err(e) => {
                            tracing::debug!(upid = %key, error = %e, "task poll failed; retrying");
                        }
                    }
                }
            }
            TaskMsg::Owner(upid, reply) => {
                let _ = reply.send(book.owners.get(&upid).cloned());
            }
        }
    }
}
