//! The `TaskTracker` actor: follows every Proxmox task Uma starts until it ends, and pushes its
//! progress and final status over Socket.IO to the user who started it (`user:<name>`) and to
//! everyone watching the guest (`guest:<vmid>`). It also remembers who started each recent task,
//! so a user may read the status and log of their own tasks.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use serde::Deserialize;
use serde_json::json;

use crate::acl::cache::AclCache;
use crate::push::{room, IoControl};
use crate::pve::path::{ApiPath, Upid};
use crate::pve::{PveClient, PveError};

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

/// `GET …/tasks/{upid}/status`.
#[derive(Debug, Clone, Deserialize)]
pub struct TaskStatus {
    /// `running` or `stopped`.
    pub status: String,
    /// `OK`, `WARNINGS: n` or the error, once stopped.
    #[serde(default)]
    pub exitstatus: Option<String>,
    /// Task type.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

struct Tracked {
    upid: Upid,
    owner: TaskOwner,
    since: Instant,
    last_status: Option<String>,
    progress: Option<u32>,
}

/// State of the tracker.
pub struct TrackerState {
    running: HashMap<String, Tracked>,
    owners: HashMap<String, TaskOwner>,
    order: VecDeque<String>,
    polling: bool,
}

/// The actor.
pub struct TaskTracker {
    pve: PveClient,
    io: IoControl,
    acl: Arc<AclCache>,
}

/// Handle to the tracker.
#[derive(Debug, Clone)]
pub struct Tasks {
    actor: ActorRef<TaskMsg>,
}

impl Tasks {
    /// Starts the tracker under `parent`.
    pub async fn start(
        parent: ractor::ActorCell,
        pve: PveClient,
        io: IoControl,
        acl: Arc<AclCache>,
    ) -> Result<Self, ractor::SpawnErr> {
        let (actor, _) =
            Actor::spawn_linked(None, TaskTracker { pve, io, acl }, (), parent).await?;
        Ok(Self { actor })
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
        uma_actors::call!(self.actor, |r| TaskMsg::Owner(upid.as_str().to_owned(), r))
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

impl TaskTracker {
    fn emit(&self, t: &Tracked, event: &'static str, body: serde_json::Value) {
        let mut rooms = vec![room::user(&t.owner.user)];
        if let Some(v) = t.owner.vmid {
            rooms.push(room::guest(v));
        }
        self.io.emit_to(rooms, event, body);
    }
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
        Ok(TrackerState {
            running: HashMap::new(),
            owners: HashMap::new(),
            order: VecDeque::new(),
            polling: false,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            TaskMsg::Track { upid, user, vmid } => {
                let key = upid.as_str().to_owned();
                let owner = TaskOwner { user, vmid };
                state.owners.insert(key.clone(), owner.clone());
                state.order.push_back(key.clone());
                while state.order.len() > REMEMBER {
                    if let Some(old) = state.order.pop_front() {
                        if !state.running.contains_key(&old) {
                            state.owners.remove(&old);
                        }
                    }
                }
                let t = Tracked {
                    upid,
                    owner,
                    since: Instant::now(),
                    last_status: Some("running".to_owned()),
                    progress: None,
                };
                let started = TaskStatus {
                    status: "running".to_owned(),
                    exitstatus: None,
                    kind: None,
                };
                self.emit(&t, "task:started", payload(&t, &started));
                state.running.insert(key, t);
            }
            TaskMsg::Tick => {
                state
                    .running
                    .retain(|_, t| t.since.elapsed() < GIVE_UP_AFTER);
                if state.polling || state.running.is_empty() {
                    return Ok(());
                }
                state.polling = true;
                let pve = self.pve.clone();
                let upids: Vec<Upid> = state.running.values().map(|t| t.upid.clone()).collect();
                tokio::spawn(async move {
                    let polls = upids.into_iter().map(|u| {
                        let pve = pve.clone();
                        async move {
                            let base = ApiPath::lit("nodes").seg(&u.node()).then("tasks").seg(&u);
                            let status = pve.get::<TaskStatus>(base.clone().then("status")).await;
                            let progress = match &status {
                                Ok(s) if s.status == "running" => pve
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
                    let Some(t) = state.running.get_mut(&key) else {
                        continue;
                    };
                    match result {
                        Ok(s) if s.status == "stopped" => {
                            if let Some(t) = state.running.remove(&key) {
                                self.emit(&t, "task:done", payload(&t, &s));
                                // Creations, deletions and clones change what the ACL view
                                // shows.
                                self.acl.invalidate();
                            }
                        }
                        Ok(s) => {
                            if t.last_status.as_deref() != Some(s.status.as_str())
                                || (progress.is_some() && progress != t.progress)
                            {
                                t.last_status = Some(s.status.clone());
                                t.progress = progress.or(t.progress);
                                let mut body = payload(t, &s);
                                body["progress"] = serde_json::json!(t.progress);
                                self.emit(t, "task:update", body);
                            }
                        }
                        Err(PveError::Status {
                            status: 400 | 404,
                            message,
                        }) => {
                            if let Some(t) = state.running.remove(&key) {
                                let s = TaskStatus {
                                    status: "stopped".to_owned(),
                                    exitstatus: Some(format!("unknown: {message}")),
                                    kind: None,
                                };
                                self.emit(&t, "task:done", payload(&t, &s));
                            }
                        }
                        Err(e) => {
                            tracing::debug!(upid = %key, error = %e, "task poll failed; retrying");
                        }
                    }
                }
            }
            TaskMsg::Owner(upid, reply) => {
                let _ = reply.send(state.owners.get(&upid).cloned());
            }
        }
        Ok(())
    }
}
