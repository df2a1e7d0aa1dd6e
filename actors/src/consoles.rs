//! Browser consoles: one [`ConsoleSession`] actor per open console under the
//! [`ConsolesSupervisor`]. A session owns its link (the browser's socket and the Proxmox one,
//! behind [`ConsoleLink`]), counts bytes, ends on an idle timeout, and closes cleanly when either
//! side does, an administrator closes it, or the sign-in session it was opened in ends. The
//! supervisor enforces the per-user maximum and lists open consoles. A failure in one session ends
//! that console only.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use serde::Serialize;
use tokio::sync::watch;

/// Bytes both ways and the last activity.
#[derive(Debug, Default)]
pub struct ConsoleStats {
    /// Browser → guest.
    pub up: AtomicU64,
    /// Guest → browser.
    pub down: AtomicU64,
    /// Last byte either way (Unix ms).
    pub last_activity_ms: AtomicI64,
}

impl ConsoleStats {
    /// Counts bytes sent to the guest.
    pub fn add_up(&self, n: usize) {
        self.up.fetch_add(n as u64, Ordering::Relaxed);
        self.last_activity_ms.store(now_ms(), Ordering::Relaxed);
    }

    /// Counts bytes sent to the browser.
    pub fn add_down(&self, n: usize) {
        self.down.fetch_add(n as u64, Ordering::Relaxed);
        self.last_activity_ms.store(now_ms(), Ordering::Relaxed);
    }
}

/// The two sockets of a console; the server implements it.
pub trait ConsoleLink: Send + 'static {
    /// Pipes bytes both ways, counting them in `stats`, until either side closes or `stop`
    /// carries a reason (then tells the browser that reason and closes both). Returns why it
    /// ended.
    fn pump(
        self: Box<Self>,
        stats: Arc<ConsoleStats>,
        stop: watch::Receiver<Option<String>>,
    ) -> Pin<Box<dyn Future<Output = String> + Send>>;
}

/// Told when consoles open and close (the server writes audit rows).
pub trait ConsoleEvents: Send + Sync + 'static {
    /// A console opened.
    fn opened(&self, info: &ConsoleInfo);
    /// A console closed, with why.
    fn closed(&self, info: &ConsoleInfo, reason: &str);
}

/// What an open console is, for the admin list.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ConsoleInfo {
    /// Console id.
    pub id: String,
    /// Uma user.
    pub user: String,
    /// Guest id.
    pub vmid: u32,
    /// Guest type.
    pub kind: String,
    /// Node.
    pub node: String,
    /// Opened at (Unix ms).
    pub since_ms: i64,
    /// Browser → guest bytes.
    pub bytes_up: u64,
    /// Guest → browser bytes.
    pub bytes_down: u64,
    /// Client address.
    pub ip: Option<String>,
    /// The sign-in session it was opened in: the console ends with it (never shown).
    #[serde(skip)]
    pub session: Option<String>,
}

/// Why a console could not open.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum OpenRefused {
    /// The user has as many consoles open as allowed.
    #[error("you already have {0} consoles open; close one first")]
    TooMany(usize),
    /// The session actor could not start.
    #[error("the console could not start: {0}")]
    Failed(String),
}

/// Messages of the supervisor.
pub enum ConsolesMsg {
    /// Open a console.
    Open(
        Box<ConsoleInfo>,
        Box<dyn ConsoleLink>,
        RpcReplyPort<Result<(), OpenRefused>>,
    ),
    /// Open consoles (all, or one user's).
    List(Option<String>, RpcReplyPort<Vec<ConsoleInfo>>),
    /// Close one, telling its browser `reason`; replies whether it existed.
    Close(String, String, RpcReplyPort<bool>),
    /// Close every console opened in sign-in session `.0`, telling the browsers `.1`.
    CloseSession(String, String),
    /// Close every console, telling the browsers `.0` (the server is stopping); replies how
    /// many were open.
    CloseAll(String, RpcReplyPort<usize>),
    /// Test hook: make one session's actor panic.
    Crash(String),
}

/// Settings.
#[derive(Debug, Clone)]
pub struct ConsolesConfig {
    /// Consoles one user may have open at once.
    pub max_per_user: usize,
    /// A console with no bytes either way for this long is closed.
    pub idle_timeout: Duration,
}

/// The supervisor.
pub struct ConsolesSupervisor {
    config: ConsolesConfig,
    events: Arc<dyn ConsoleEvents>,
}

struct Open {
    actor: ActorRef<SessionMsg>,
    info: ConsoleInfo,
    stats: Arc<ConsoleStats>,
}

/// The supervisor's state.
pub struct ConsolesState {
    open: HashMap<String, Open>,
    events: Arc<dyn ConsoleEvents>,
}

/// Why a console closed when the consoles supervisor went down under it.
const SUPERVISOR_DOWN: &str =
    "the server's console service stopped (a restart or shutdown); open the console again";

impl Drop for ConsolesState {
    /// A supervisor that goes down (killed, failed, or stopped with the server) takes its open
    /// consoles with it without hearing of their end: their close rows are written here, once.
    fn drop(&mut self) {
        for (_, o) in self.open.drain() {
            self.events
                .closed(&with_stats(&o.info, &o.stats), SUPERVISOR_DOWN);
        }
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn with_stats(info: &ConsoleInfo, stats: &ConsoleStats) -> ConsoleInfo {
    ConsoleInfo {
        bytes_up: stats.up.load(Ordering::Relaxed),
        bytes_down: stats.down.load(Ordering::Relaxed),
        ..info.clone()
    }
}

impl ConsolesSupervisor {
    /// Starts the supervisor under `parent`.
    pub async fn start(
        parent: ractor::ActorCell,
        config: ConsolesConfig,
        events: Arc<dyn ConsoleEvents>,
    ) -> Result<ActorRef<ConsolesMsg>, ractor::SpawnErr> {
        let (a, _) =
            Actor::spawn_linked(None, ConsolesSupervisor { config, events }, (), parent).await?;
        Ok(a)
    }

    fn finish(&self, st: &mut ConsolesState, id: &str, reason: &str) {
        if let Some(o) = st.open.remove(id) {
            self.events.closed(&with_stats(&o.info, &o.stats), reason);
        }
    }
}

impl Actor for ConsolesSupervisor {
    type Msg = ConsolesMsg;
    type State = ConsolesState;
    type Arguments = ();

    async fn pre_start(
        &self,
        _: ActorRef<ConsolesMsg>,
        (): (),
    ) -> Result<ConsolesState, ActorProcessingErr> {
        Ok(ConsolesState {
            open: HashMap::new(),
            events: self.events.clone(),
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<ConsolesMsg>,
        message: ConsolesMsg,
        st: &mut ConsolesState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            ConsolesMsg::Open(info, link, reply) => {
                let mine = st
                    .open
                    .values()
                    .filter(|o| o.info.user == info.user)
                    .count();
                if mine >= self.config.max_per_user {
                    let _ = reply.send(Err(OpenRefused::TooMany(self.config.max_per_user)));
                    return Ok(());
                }
                let stats = Arc::new(ConsoleStats::default());
                stats.last_activity_ms.store(now_ms(), Ordering::Relaxed);
                let spawned = Actor::spawn_linked(
                    None,
                    ConsoleSession,
                    SessionArgs {
                        link: Some(link),
                        stats: stats.clone(),
                        idle_timeout: self.config.idle_timeout,
                    },
                    myself.get_cell(),
                )
                .await;
                match spawned {
                    Ok((actor, _)) => {
                        self.events.opened(&info);
                        st.open.insert(
                            info.id.clone(),
                            Open {
                                actor,
                                info: *info,
                                stats,
                            },
                        );
                        let _ = reply.send(Ok(()));
                    }
                    Err(e) => {
                        let _ = reply.send(Err(OpenRefused::Failed(e.to_string())));
                    }
                }
            }
            ConsolesMsg::List(user, reply) => {
                let mut list: Vec<ConsoleInfo> = st
                    .open
                    .values()
                    .filter(|o| user.as_ref().is_none_or(|u| &o.info.user == u))
                    .map(|o| with_stats(&o.info, &o.stats))
                    .collect();
                list.sort_by_key(|c| c.since_ms);
                let _ = reply.send(list);
            }
            ConsolesMsg::Close(id, reason, reply) => {
                let found = match st.open.get(&id) {
                    Some(o) => {
                        let _ = o.actor.cast(SessionMsg::Close(reason));
                        true
                    }
                    None => false,
                };
                let _ = reply.send(found);
            }
            ConsolesMsg::CloseSession(session, reason) => {
                for o in st
                    .open
                    .values()
                    .filter(|o| o.info.session.as_deref() == Some(session.as_str()))
                {
                    let _ = o.actor.cast(SessionMsg::Close(reason.clone()));
                }
            }
            ConsolesMsg::CloseAll(reason, reply) => {
                for o in st.open.values() {
                    let _ = o.actor.cast(SessionMsg::Close(reason.clone()));
                }
                let _ = reply.send(st.open.len());
            }
            ConsolesMsg::Crash(id) => {
                if let Some(o) = st.open.get(&id) {
                    let _ = o.actor.cast(SessionMsg::Crash);
                }
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        _: ActorRef<ConsolesMsg>,
        event: SupervisionEvent,
        st: &mut ConsolesState,
    ) -> Result<(), ActorProcessingErr> {
        match event {
            SupervisionEvent::ActorTerminated(cell, _, reason) => {
                let id = st
                    .open
                    .iter()
                    .find(|(_, o)| o.actor.get_id() == cell.get_id())
                    .map(|(k, _)| k.clone());
                if let Some(id) = id {
                    let why = reason.unwrap_or_else(|| "closed".to_owned());
                    self.finish(st, &id, &why);
                }
            }
            SupervisionEvent::ActorFailed(cell, error) => {
                let id = st
                    .open
                    .iter()
                    .find(|(_, o)| o.actor.get_id() == cell.get_id())
                    .map(|(k, _)| k.clone());
                if let Some(id) = id {
                    tracing::error!(console = %id, %error, "console session failed; only it is closed");
                    self.finish(st, &id, "the console failed on the server");
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// One open console.
pub struct ConsoleSession;

/// What a session starts with.
pub struct SessionArgs {
    link: Option<Box<dyn ConsoleLink>>,
    stats: Arc<ConsoleStats>,
    idle_timeout: Duration,
}

/// Messages of a session.
pub enum SessionMsg {
    /// Close with a reason the browser is told.
    Close(String),
    /// The link ended by itself.
    Ended(String),
    /// Check for idleness.
    IdleCheck,
    /// Test hook.
    Crash,
}

/// A session's state.
pub struct SessionState {
    stop: watch::Sender<Option<String>>,
    stats: Arc<ConsoleStats>,
    idle_timeout: Duration,
    task: tokio::task::JoinHandle<()>,
    closing: Option<String>,
}

impl Actor for ConsoleSession {
    type Msg = SessionMsg;
    type State = SessionState;
    type Arguments = SessionArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<SessionMsg>,
        mut args: SessionArgs,
    ) -> Result<SessionState, ActorProcessingErr> {
        let (stop, rx) = watch::channel(None);
        let link = args
            .link
            .take()
            .ok_or_else(|| ActorProcessingErr::from("console link missing"))?;
        let stats = args.stats.clone();
        let me = myself.clone();
        let task = tokio::spawn(async move {
            let pump = tokio::spawn(link.pump(stats, rx));
            let reason = match pump.await {
                Ok(reason) => reason,
                Err(e) if e.is_panic() => "the console failed on the server".to_owned(),
                Err(_) => "closed".to_owned(),
            };
            let _ = me.cast(SessionMsg::Ended(reason));
        });
        let every = (args.idle_timeout / 4).max(Duration::from_millis(50));
        myself.send_interval(every, || SessionMsg::IdleCheck);
        Ok(SessionState {
            stop,
            stats: args.stats,
            idle_timeout: args.idle_timeout,
            task,
            closing: None,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<SessionMsg>,
        message: SessionMsg,
        st: &mut SessionState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            SessionMsg::Close(reason) => {
                st.closing = Some(reason.clone());
                let _ = st.stop.send(Some(reason));
            }
            SessionMsg::Ended(reason) => {
                let why = st.closing.take().unwrap_or(reason);
                myself.stop(Some(why));
            }
            SessionMsg::IdleCheck => {
                let last = st.stats.last_activity_ms.load(Ordering::Relaxed);
                let idle_ms = i64::try_from(st.idle_timeout.as_millis()).unwrap_or(i64::MAX);
                if st.closing.is_none() && now_ms() - last > idle_ms {
                    let reason = format!(
                        "closed after {} s without activity",
                        st.idle_timeout.as_secs()
                    );
                    st.closing = Some(reason.clone());
                    let _ = st.stop.send(Some(reason));
                }
            }
            SessionMsg::Crash => {
                return Err(ActorProcessingErr::from(
                    "console crash requested (test hook)",
                ));
            }
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        _: ActorRef<SessionMsg>,
        st: &mut SessionState,
    ) -> Result<(), ActorProcessingErr> {
        // Dropping the sender ends the pump too; abort in case it is stuck.
        let _ = st.stop.send(Some("closed".into()));
        st.task.abort();
        Ok(())
    }
}
