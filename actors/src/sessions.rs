//! Session actors: one per live sign-in session, under the [`SessionsSupervisor`]. A session actor
//! holds the identity and the ids of the user's connected sockets; at the session's absolute
//! expiry it tells those sockets `session:expired` and disconnects them; on logout or revoke it
//! disconnects them at once; with no sockets for a while it stops (the record stays in the store,
//! and the actor is started again when a socket of that session connects).
//!
//! Every end of a session also goes to [`SessionEvents::ended`], whether or not an actor runs for
//! it here, so the server closes what else belongs to the session (its consoles). Ends this
//! instance is not told about (another process revoked the record, or an instance without Redis)
//! are found by the periodic [`SessionEvents::recheck`].

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
    /// When the session expires as last read, Unix milliseconds (`None`: never). Activity may
    /// move it; the server says so when asked at that moment.
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

/// What the server does around session ends; implemented by the server, faked in tests.
pub trait SessionEvents: Send + Sync + 'static {
    /// The session expired while its actor was running.
    fn expired(&self, identity: &SessionIdentity);

    /// The session's expiry time came, as last read: activity (on any instance) may have moved
    /// it. The server re-reads the record and answers `actor` with [`SessionMsg::Expired`], a
    /// later [`SessionMsg::ExpiresAt`], or [`SessionMsg::End`]. The default trusts the time.
    fn expiring(&self, _identity: &SessionIdentity, actor: ActorRef<SessionMsg>) {
        let _ = actor.cast(SessionMsg::Expired);
    }

    /// A session ended on this instance (told directly, announced by another instance, found by
    /// a re-check, or expired here), whether or not an actor runs for it: close what else
    /// belongs to it. May be called more than once for one session.
    fn ended(&self, _session_id: &str, _reason: EndReason) {}

    /// Time to re-check the sessions this instance holds (`running`: those with an actor here,
    /// which see to their own expiry). The server reads their records and casts
    /// [`SessionsMsg::End`] to `sessions` for each one that is over; it must not block (spawn the
    /// work).
    fn recheck(&self, _running: Vec<String>, _sessions: ActorRef<SessionsMsg>) {}
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
    /// The expiry timer armed for this time fired: ask the server whether the session is really
    /// over (a timer for an expiry since moved is ignored).
    Expire(i64),
    /// The server confirmed the expiry: tell the sockets `session:expired`, then stop.
    Expired,
    /// The session now expires at this time (Unix ms): wait for that instead.
    ExpiresAt(i64),
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
            expire_at(&myself, at);
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
            SessionMsg::Expire(armed_for) => {
                if state.identity.expires_at_ms == Some(armed_for) {
                    if armed_for > now_ms() {
                        // Woken a moment early (clocks): wait the rest.
                        expire_at(&myself, armed_for);
                    } else {
                        self.events.expiring(&state.identity, myself.clone());
                    }
                }
            }
            SessionMsg::Expired => {
                self.events.expired(&state.identity);
                self.events
                    .ended(&state.identity.session_id, EndReason::Expired);
                self.end(state, EndReason::Expired);
                myself.stop(Some("expired".into()));
            }
            SessionMsg::ExpiresAt(at) => {
                state.identity.expires_at_ms = Some(at);
                expire_at(&myself, at);
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

/// Arms the expiry timer for `at` (Unix ms). A timer that fires early (the expiry moved later
/// meanwhile) does nothing.
fn expire_at(actor: &ActorRef<SessionMsg>, at: i64) {
    let wait = u64::try_from((at - now_ms()).max(0)).unwrap_or(0);
    actor.send_after(Duration::from_millis(wait), move || SessionMsg::Expire(at));
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
    /// The re-check timer fired.
    Recheck,
}

/// Supervises session actors and forgets them when they stop.
pub struct SessionsSupervisor {
    control: Arc<dyn SocketControl>,
    events: Arc<dyn SessionEvents>,
    idle_after: Duration,
    recheck: Duration,
}

impl std::fmt::Debug for SessionsSupervisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionsSupervisor")
    }
}

impl SessionsSupervisor {
    /// Starts the supervisor linked under `parent`; every `recheck` it asks the server to
    /// re-check the sessions it holds.
    pub async fn start(
        parent: ractor::ActorCell,
        control: Arc<dyn SocketControl>,
        events: Arc<dyn SessionEvents>,
        idle_after: Duration,
        recheck: Duration,
    ) -> Result<ActorRef<SessionsMsg>, ractor::SpawnErr> {
        let sup = SessionsSupervisor {
            control,
            events,
            idle_after,
            recheck,
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
        myself: ActorRef<Self::Msg>,
        _: (),
    ) -> Result<Self::State, ActorProcessingErr> {
        myself.send_interval(self.recheck.max(Duration::from_millis(10)), || {
            SessionsMsg::Recheck
        });
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
                self.events.ended(&session_id, reason);
                if let Some(actor) = state.by_session.get(&session_id) {
                    let _ = actor.cast(SessionMsg::End(reason));
                }
            }
            SessionsMsg::Recheck => {
                let running: Vec<String> = state.by_session.keys().cloned().collect();
                self.events.recheck(running, myself.clone());
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
        ended: Mutex<Vec<(String, EndReason)>>,
        over: Mutex<Vec<String>>,
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

        fn ended(&self, session_id: &str, reason: EndReason) {
            self.ended.lock().push((session_id.to_owned(), reason));
        }

        fn recheck(&self, running: Vec<String>, sessions: ActorRef<SessionsMsg>) {
            let over = self.over.lock().clone();
            for id in running.into_iter().filter(|id| over.contains(id)) {
                let _ = sessions.cast(SessionsMsg::End(id, EndReason::Revoked));
            }
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
        let sup = SessionsSupervisor::start(
            tree.root.get_cell(),
            rec.clone(),
            rec,
            idle,
            Duration::from_millis(30),
        )
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
    async fn every_end_is_reported_even_without_an_actor() {
        let rec = Arc::new(Recorder::default());
        let (tree, sup) = supervisor(rec.clone(), IDLE_AFTER).await;
        sup.cast(SessionsMsg::End("elsewhere".into(), EndReason::Logout))
            .unwrap();
        eventually(|| rec.ended.lock().len() == 1).await;
        assert_eq!(
            rec.ended.lock()[0],
            ("elsewhere".to_owned(), EndReason::Logout)
        );
        tree.shutdown().await;
    }

    #[tokio::test]
    async fn a_recheck_ends_what_the_server_finds_over() {
        let rec = Arc::new(Recorder::default());
        let (tree, sup) = supervisor(rec.clone(), IDLE_AFTER).await;
        let a = crate::call!(sup, |r| SessionsMsg::Ensure(identity("s4", None), r)).unwrap();
        a.cast(SessionMsg::AddSocket("w".into())).unwrap();
        crate::call!(sup, |r| SessionsMsg::Ensure(identity("s5", None), r)).unwrap();
        rec.over.lock().push("s4".into());
        eventually(|| rec.disconnected.lock().len() == 1).await;
        assert_eq!(
            rec.disconnected.lock()[0],
            ("w".to_owned(), "session:revoked".to_owned())
        );
        assert!(rec.ended.lock().iter().all(|(id, _)| id == "s4"));
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
