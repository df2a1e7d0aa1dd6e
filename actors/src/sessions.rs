//! Session actors: one per live sign-in session, under the [`SessionsSupervisor`]. A session actor
//! holds the identity and the ids of the user's connected sockets; at the session's expiry it tells
//! those sockets `session:expired` and disconnects them; on logout or revoke it disconnects them at
//! once; with no sockets for a while it stops (the record stays in the store, and the actor is
//! started again when a socket of that session connects).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use serde::{Deserialize, Serialize};

/// What the server can do to sockets; implemented over Socket.IO by the server, faked in tests.
pub trait SocketControl: Send + Sync + 'static {
    /// Emits `event` with `payload` to each socket, then disconnects it.
    fn notify_and_disconnect(&self, socket_ids: &[String], event: &str, payload: serde_json::Value);
}

/// Who a session belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionIdentity {
    /// Session id.
    pub session_id: String,
    /// Login name.
    pub username: String,
    /// Admin flag.
    pub is_admin: bool,
    /// Absolute expiry, Unix milliseconds (`None`: no expiry).
    pub expires_at_ms: Option<i64>,
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// The user signed out.
    Logout,
    /// An admin revoked it.
    Revoked,
    /// Its lifetime ran out.
    Expired,
}

impl EndReason {
    /// The event sockets receive.
    pub fn event(self) -> &'static str {
        match self {
            Self::Logout => "session:ended",
            Self::Revoked => "session:revoked",
            Self::Expired => "session:expired",
        }
    }
}

/// Called when a session ends on its own (expiry), so the server can end the record and audit.
pub trait SessionEvents: Send + Sync + 'static {
    /// The session expired while its actor was running.
    fn expired(&self, identity: &SessionIdentity);
}

/// Messages of one session actor.
#[derive(Debug)]
pub enum SessionMsg {
    /// A socket of this session connected.
    AddSocket(String),
    /// A socket of this session disconnected.
    RemoveSocket(String),
    /// End the session now: tell and disconnect its sockets, then stop.
    End(EndReason),
    /// The expiry timer fired.
    Expire,
    /// The idle check fired.
    IdleCheck,
    /// Report the connected socket ids.
    Sockets(RpcReplyPort<Vec<String>>),
}

/// How long a session actor without sockets lives on.
pub const IDLE_AFTER: Duration = Duration::from_secs(15 * 60);

struct SessionActor {
    control: Arc<dyn SocketControl>,
    events: Arc<dyn SessionEvents>,
    idle_after: Duration,
}

/// State of one session actor.
pub struct SessionState {
    identity: SessionIdentity,
    sockets: HashSet<String>,
    idle_since: Option<tokio::time::Instant>,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl Actor for SessionActor {
    type Msg = SessionMsg;
    type State = SessionState;
    type Arguments = SessionIdentity;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        identity: SessionIdentity,
    ) -> Result<Self::State, ActorProcessingErr> {
        if let Some(at) = identity.expires_at_ms {
            let wait = u64::try_from((at - now_ms()).max(0)).unwrap_or(0);
            myself.send_after(Duration::from_millis(wait), || SessionMsg::Expire);
        }
        myself.send_interval(self.idle_after.max(Duration::from_millis(10)) / 2, || {
            SessionMsg::IdleCheck
        });
        Ok(SessionState {
            identity,
            sockets: HashSet::new(),
            idle_since: Some(tokio::time::Instant::now()),
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            SessionMsg::AddSocket(id) => {
                state.sockets.insert(id);
                state.idle_since = None;
            }
            SessionMsg::RemoveSocket(id) => {
                state.sockets.remove(&id);
                if state.sockets.is_empty() {
                    state.idle_since = Some(tokio::time::Instant::now());
                }
            }
            SessionMsg::End(reason) => {
                self.end(state, reason);
                myself.stop(Some(format!("{reason:?}")));
            }
            SessionMsg::Expire => {
                self.events.expired(&state.identity);
                self.end(state, EndReason::Expired);
                myself.stop(Some("expired".into()));
            }
            SessionMsg::IdleCheck => {
                if let Some(since) = state.idle_since {
                    if since.elapsed() >= self.idle_after {
                        myself.stop(Some("idle".into()));
                    }
                }
            }
            SessionMsg::Sockets(reply) => {
                let mut ids: Vec<String> = state.sockets.iter().cloned().collect();
                ids.sort();
                let _ = reply.send(ids);
            }
        }
        Ok(())
    }
}

impl SessionActor {
    fn end(&self, state: &mut SessionState, reason: EndReason) {
        let ids: Vec<String> = state.sockets.drain().collect();
        if !ids.is_empty() {
            self.control.notify_and_disconnect(
                &ids,
                reason.event(),
                serde_json::json!({ "reason": reason }),
            );
        }
    }
}

/// Messages of the sessions supervisor.
#[derive(Debug)]
pub enum SessionsMsg {
    /// The actor of a session, started when not running.
    Ensure(SessionIdentity, RpcReplyPort<ActorRef<SessionMsg>>),
    /// Ends a session's actor if it runs (logout, revoke).
    End(String, EndReason),
    /// How many session actors run.
    Count(RpcReplyPort<usize>),
    /// The actor of a session if it runs.
    Get(String, RpcReplyPort<Option<ActorRef<SessionMsg>>>),
}

/// Supervises session actors and forgets them when they stop.
pub struct SessionsSupervisor {
    control: Arc<dyn SocketControl>,
    events: Arc<dyn SessionEvents>,
    idle_after: Duration,
}

impl std::fmt::Debug for SessionsSupervisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionsSupervisor")
    }
}

impl SessionsSupervisor {
    /// Starts the supervisor linked under `parent`.
    pub async fn start(
        parent: ractor::ActorCell,
        control: Arc<dyn SocketControl>,
        events: Arc<dyn SessionEvents>,
        idle_after: Duration,
    ) -> Result<ActorRef<SessionsMsg>, ractor::SpawnErr> {
        let sup = SessionsSupervisor {
            control,
            events,
            idle_after,
        };
        let (actor, _) = Actor::spawn_linked(None, sup, (), parent).await?;
        Ok(actor)
    }
}

/// State of the sessions supervisor.
pub struct SessionsState {
    by_session: HashMap<String, ActorRef<SessionMsg>>,
    by_actor: HashMap<ractor::ActorId, String>,
}

impl Actor for SessionsSupervisor {
    type Msg = SessionsMsg;
    type State = SessionsState;
    type Arguments = ();

    async fn pre_start(
        &self,
        _: ActorRef<Self::Msg>,
        _: (),
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(SessionsState {
            by_session: HashMap::new(),
            by_actor: HashMap::new(),
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            SessionsMsg::Ensure(identity, reply) => {
                if let Some(actor) = state.by_session.get(&identity.session_id) {
                    let _ = reply.send(actor.clone());
                    return Ok(());
                }
                let id = identity.session_id.clone();
                let actor = SessionActor {
                    control: self.control.clone(),
                    events: self.events.clone(),
                    idle_after: self.idle_after,
                };
                match Actor::spawn_linked(None, actor, identity, myself.get_cell()).await {
                    Ok((actor, _)) => {
                        state.by_actor.insert(actor.get_id(), id.clone());
                        state.by_session.insert(id, actor.clone());
                        let _ = reply.send(actor);
                    }
                    Err(e) => {
                        // The caller sees its RPC fail; the supervisor stays healthy.
                        tracing::error!(error = %e, "cannot start a session actor");
                    }
                }
            }
            SessionsMsg::End(session_id, reason) => {
                if let Some(actor) = state.by_session.get(&session_id) {
                    let _ = actor.cast(SessionMsg::End(reason));
                }
            }
            SessionsMsg::Count(reply) => {
                let _ = reply.send(state.by_session.len());
            }
            SessionsMsg::Get(session_id, reply) => {
                let _ = reply.send(state.by_session.get(&session_id).cloned());
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        _: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let cell = match &event {
            SupervisionEvent::ActorTerminated(cell, _, _)
            | SupervisionEvent::ActorFailed(cell, _) => cell,
            _ => return Ok(()),
        };
        if let SupervisionEvent::ActorFailed(_, err) = &event {
            tracing::error!(error = %err, "a session actor failed");
        }
        if let Some(session) = state.by_actor.remove(&cell.get_id()) {
            state.by_session.remove(&session);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use parking_lot::Mutex;

    #[derive(Default)]
    struct Recorder {
        disconnected: Mutex<Vec<(String, String)>>,
        expired: Mutex<Vec<String>>,
    }

    impl SocketControl for Recorder {
        fn notify_and_disconnect(&self, ids: &[String], event: &str, _: serde_json::Value) {
            for id in ids {
                self.disconnected
                    .lock()
                    .push((id.clone(), event.to_owned()));
            }
        }
    }

    impl SessionEvents for Recorder {
        fn expired(&self, identity: &SessionIdentity) {
            self.expired.lock().push(identity.session_id.clone());
        }
    }

    async fn eventually(mut f: impl FnMut() -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while !f() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "condition not met in time"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    fn identity(id: &str, expires_in_ms: Option<i64>) -> SessionIdentity {
        SessionIdentity {
            session_id: id.into(),
            username: "alice".into(),
            is_admin: false,
            expires_at_ms: expires_in_ms.map(|ms| now_ms() + ms),
        }
    }

    async fn supervisor(
        rec: Arc<Recorder>,
        idle: Duration,
    ) -> (crate::root::Tree, ActorRef<SessionsMsg>) {
        let tree = crate::root::Tree::start().await.unwrap();
        let sup = SessionsSupervisor::start(tree.root.get_cell(), rec.clone(), rec, idle)
            .await
            .unwrap();
        (tree, sup)
    }

    #[tokio::test]
    async fn logout_disconnects_every_socket_and_forgets_the_actor() {
        let rec = Arc::new(Recorder::default());
        let (tree, sup) = supervisor(rec.clone(), IDLE_AFTER).await;
        let a = crate::call!(sup, |r| SessionsMsg::Ensure(identity("s1", None), r)).unwrap();
        let again = crate::call!(sup, |r| SessionsMsg::Ensure(identity("s1", None), r)).unwrap();
        assert_eq!(a.get_id(), again.get_id(), "one actor per session");
        a.cast(SessionMsg::AddSocket("x".into())).unwrap();
        a.cast(SessionMsg::AddSocket("y".into())).unwrap();
        a.cast(SessionMsg::RemoveSocket("y".into())).unwrap();
        assert_eq!(crate::call!(a, SessionMsg::Sockets).unwrap(), ["x"]);
        sup.cast(SessionsMsg::End("s1".into(), EndReason::Logout))
            .unwrap();
        eventually(|| rec.disconnected.lock().len() == 1).await;
        assert_eq!(
            rec.disconnected.lock()[0],
            ("x".to_owned(), "session:ended".to_owned())
        );
        let mut n = 1;
        for _ in 0..500 {
            n = crate::call!(sup, SessionsMsg::Count).unwrap();
            if n == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(n, 0);
        tree.shutdown().await;
    }

    #[tokio::test]
    async fn expiry_tells_sockets_and_reports() {
        let rec = Arc::new(Recorder::default());
        let (tree, sup) = supervisor(rec.clone(), IDLE_AFTER).await;
        let a = crate::call!(sup, |r| SessionsMsg::Ensure(identity("s2", Some(150)), r)).unwrap();
        a.cast(SessionMsg::AddSocket("z".into())).unwrap();
        eventually(|| rec.expired.lock().len() == 1).await;
        eventually(|| rec.disconnected.lock().len() == 1).await;
        assert_eq!(rec.disconnected.lock()[0].1, "session:expired");
        tree.shutdown().await;
    }

    #[tokio::test]
    async fn an_idle_actor_stops() {
        let rec = Arc::new(Recorder::default());
        let (tree, sup) = supervisor(rec.clone(), Duration::from_millis(40)).await;
        crate::call!(sup, |r| SessionsMsg::Ensure(identity("s3", None), r)).unwrap();
        let mut n = 1;
        for _ in 0..500 {
            n = crate::call!(sup, SessionsMsg::Count).unwrap();
            if n == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(n, 0, "idle session actor should stop");
        assert!(rec.disconnected.lock().is_empty());
        tree.shutdown().await;
    }
}
