//! Presence: who is online, counted per socket so several tabs of one user make one presence.
//! The [`Presence`] actor owns the counts and announces transitions (`presence` to every socket:
//! online at a user's first socket, offline after their last one), except for users who hide
//! their status. Readers that need a quick answer (is the receiver of a message online?) use the
//! shared [`Online`] view the actor keeps up to date (this instance's sockets). With several
//! instances, [`Elsewhere`] tells it about the others' users: a user is online at their first
//! socket on any instance and offline after their last one on all of them.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use serde_json::json;

use crate::emit::{BoxFut, Emit, Emitter};

/// A read-only view of who is online: socket counts per username here, and the users the other
/// instances had sockets of at the last look (every few seconds).
#[derive(Debug, Clone, Default)]
pub struct Online(
    Arc<RwLock<HashMap<String, usize>>>,
    Arc<RwLock<HashSet<String>>>,
);

/// How often the presence actor looks at the other instances' users for [`Online`].
pub const ELSEWHERE_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

impl Online {
    /// Whether `username` has at least one socket (here, or on another instance at the last look).
    pub fn is_online(&self, username: &str) -> bool {
        self.0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(username)
            .is_some_and(|n| *n > 0)
            || self
                .1
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .contains(username)
    }

    /// Forgets every count (a new presence actor starts from nobody).
    fn clear(&self) {
        self.0.write().unwrap_or_else(|e| e.into_inner()).clear();
        self.1.write().unwrap_or_else(|e| e.into_inner()).clear();
    }

    fn set_elsewhere(&self, users: HashSet<String>) {
        *self.1.write().unwrap_or_else(|e| e.into_inner()) = users;
    }

    /// Sockets of `username` on this instance.
    pub fn sockets(&self, username: &str) -> usize {
        self.0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(username)
            .copied()
            .unwrap_or(0)
    }

    fn set(&self, username: &str, n: usize) {
        let mut map = self.0.write().unwrap_or_else(|e| e.into_inner());
        if n == 0 {
            map.remove(username);
        } else {
            map.insert(username.to_owned(), n);
        }
    }
}

/// What the deployment's other instances know of who is online (the server implements it over
/// Redis; [`Alone`] when there are none).
pub trait Elsewhere: Send + Sync + 'static {
    /// This instance now has sockets of `username` (`Some(visible)`) or none (`None`).
    fn here(&self, username: &str, visible: Option<bool>) -> BoxFut<'_, ()>;
    /// Whether `username` has sockets on another instance.
    fn online(&self, username: &str) -> BoxFut<'_, bool>;
    /// Users with sockets on other instances, each with whether others may see them.
    fn users(&self) -> BoxFut<'_, Vec<(String, bool)>>;
    /// Forgets this instance's users (a restarted presence learns them again from the
    /// sockets); what others see follows by the next heartbeat.
    fn forget_mine(&self) {}
}

/// No other instances.
#[derive(Debug, Clone, Copy, Default)]
pub struct Alone;

impl Elsewhere for Alone {
    fn here(&self, _: &str, _: Option<bool>) -> BoxFut<'_, ()> {
        Box::pin(async {})
    }
    fn online(&self, _: &str) -> BoxFut<'_, bool> {
        Box::pin(async { false })
    }
    fn users(&self) -> BoxFut<'_, Vec<(String, bool)>> {
        Box::pin(async { Vec::new() })
    }
}

/// Messages of the presence actor.
#[derive(Debug)]
pub enum PresenceMsg {
    /// A socket of `username` connected; `visible` is the user's `showOnlineStatus`.
    Connected {
        /// Who.
        username: String,
        /// The socket id.
        sid: String,
        /// Whether others may see them online.
        visible: bool,
    },
    /// A socket disconnected.
    Disconnected {
        /// Who.
        username: String,
        /// The socket id.
        sid: String,
    },
    /// The user changed `showOnlineStatus`; announces the change when online.
    SetVisible {
        /// Who.
        username: String,
        /// The new setting.
        visible: bool,
    },
    /// Looks at the other instances' users again (for [`Online`]).
    Refresh,
    /// Online users others may see, plus `asker` themself when online; sorted.
    List {
        /// Who asks (always sees themself).
        asker: String,
        /// Reply.
        reply: RpcReplyPort<Vec<String>>,
    },
}

/// The presence actor.
pub struct Presence {
    emitter: Arc<dyn Emitter>,
    online: Online,
    elsewhere: Arc<dyn Elsewhere>,
}

impl std::fmt::Debug for Presence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Presence")
    }
}

/// Sockets and visibility per user.
#[derive(Debug, Default)]
pub struct PresenceState {
    sockets: HashMap<String, HashSet<String>>,
    hidden: HashSet<String>,
}

impl Presence {
    /// Starts the presence actor under `parent`; returns it and the shared view.
    pub async fn start(
        parent: ractor::ActorCell,
        emitter: Arc<dyn Emitter>,
        elsewhere: Arc<dyn Elsewhere>,
    ) -> Result<(ActorRef<PresenceMsg>, Online), ractor::SpawnErr> {
        let online = Online::default();
        let r = Self::start_with(parent, emitter, elsewhere, online.clone()).await?;
        Ok((r, online))
    }

    /// Starts the presence actor under `parent` over an existing shared view (a restart
    /// starts from nobody online: the sockets reconnect and count themselves again).
    pub async fn start_with(
        parent: ractor::ActorCell,
        emitter: Arc<dyn Emitter>,
        elsewhere: Arc<dyn Elsewhere>,
        online: Online,
    ) -> Result<ActorRef<PresenceMsg>, ractor::SpawnErr> {
        online.clear();
        let actor = Presence {
            emitter,
            online,
            elsewhere,
        };
        let (r, _) = Actor::spawn_linked(None, actor, (), parent).await?;
        Ok(r)
    }

    async fn announce(&self, username: &str, status: &str) {
        self.emitter
            .emit(Emit::everyone(
                "presence",
                json!({ "username": username, "status": status }),
            ))
            .await;
    }
}

impl Actor for Presence {
    type Msg = PresenceMsg;
    type State = PresenceState;
    type Arguments = ();

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        _: (),
    ) -> Result<Self::State, ActorProcessingErr> {
        myself.send_interval(ELSEWHERE_EVERY, || PresenceMsg::Refresh);
        Ok(PresenceState::default())
    }

    async fn handle(
        &self,
        _: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            PresenceMsg::Connected {
                username,
                sid,
                visible,
            } => {
                if visible {
                    state.hidden.remove(&username);
                } else {
                    state.hidden.insert(username.clone());
                }
                let set = state.sockets.entry(username.clone()).or_default();
                let first = set.is_empty();
                set.insert(sid);
                self.online.set(&username, set.len());
                if first {
                    // Online already if another instance has a socket of theirs.
                    let elsewhere = self.elsewhere.online(&username).await;
                    self.elsewhere.here(&username, Some(visible)).await;
                    if visible && !elsewhere {
                        self.announce(&username, "online").await;
                    }
                }
            }
            PresenceMsg::Disconnected { username, sid } => {
                let Some(set) = state.sockets.get_mut(&username) else {
                    return Ok(());
                };
                set.remove(&sid);
                let left = set.len();
                self.online.set(&username, left);
                if left == 0 {
                    state.sockets.remove(&username);
                    self.elsewhere.here(&username, None).await;
                    // Still online while another instance has a socket of theirs.
                    if !state.hidden.remove(&username) && !self.elsewhere.online(&username).await {
                        self.announce(&username, "offline").await;
                    }
                }
            }
            PresenceMsg::SetVisible { username, visible } => {
                let was_visible = !state.hidden.contains(&username);
                if visible {
                    state.hidden.remove(&username);
                } else {
                    state.hidden.insert(username.clone());
                }
                let online = state.sockets.get(&username).is_some_and(|s| !s.is_empty());
                if online {
                    self.elsewhere.here(&username, Some(visible)).await;
                }
                if online && was_visible != visible {
                    let status = if visible { "online" } else { "offline" };
                    self.announce(&username, status).await;
                }
            }
            PresenceMsg::Refresh => {
                let users = self.elsewhere.users().await;
                self.online
                    .set_elsewhere(users.into_iter().map(|(name, _)| name).collect());
            }
            PresenceMsg::List { asker, reply } => {
                let mut names: Vec<String> = state
                    .sockets
                    .iter()
                    .filter(|(name, set)| {
                        !set.is_empty() && (!state.hidden.contains(*name) || **name == asker)
                    })
                    .map(|(name, _)| name.clone())
                    .collect();
                names.extend(
                    self.elsewhere
                        .users()
                        .await
                        .into_iter()
                        .filter(|(name, visible)| *visible || *name == asker)
                        .map(|(name, _)| name),
                );
                names.sort();
                names.dedup();
                let _ = reply.send(names);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Rec(Mutex<Vec<Emit>>);
    impl Emitter for Rec {
        fn emit(&self, e: Emit) -> crate::emit::BoxFut<'_, ()> {
            self.0.lock().unwrap().push(e);
            Box::pin(async {})
        }
    }

    #[tokio::test]
    async fn several_tabs_make_one_presence_and_hidden_users_stay_quiet() {
        let tree = crate::root::Tree::start().await.unwrap();
        let rec = Arc::new(Rec::default());
        let (p, online) = Presence::start(tree.root.get_cell(), rec.clone(), Arc::new(Alone))
            .await
            .unwrap();
        let connect = |u: &str, s: &str, visible| PresenceMsg::Connected {
            username: u.into(),
            sid: s.into(),
            visible,
        };
        p.cast(connect("ann", "a1", true)).unwrap();
        p.cast(connect("ann", "a2", true)).unwrap();
        p.cast(connect("ben", "b1", false)).unwrap();
        let seen = crate::call!(p, |r| PresenceMsg::List {
            asker: "cid".into(),
            reply: r
        })
        .unwrap();
        assert_eq!(seen, ["ann"]);
        let own = crate::call!(p, |r| PresenceMsg::List {
            asker: "ben".into(),
            reply: r
        })
        .unwrap();
        assert_eq!(own, ["ann", "ben"]);
        assert_eq!(online.sockets("ann"), 2);
        p.cast(PresenceMsg::Disconnected {
            username: "ann".into(),
            sid: "a1".into(),
        })
        .unwrap();
        p.cast(PresenceMsg::Disconnected {
            username: "ben".into(),
            sid: "b1".into(),
        })
        .unwrap();
        p.cast(PresenceMsg::Disconnected {
            username: "ann".into(),
            sid: "a2".into(),
        })
        .unwrap();
        let _ = crate::call!(p, |r| PresenceMsg::List {
            asker: "x".into(),
            reply: r
        })
        .unwrap();
        let events: Vec<(String, String)> = rec
            .0
            .lock()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e.payload["username"].as_str().unwrap().to_owned(),
                    e.payload["status"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        assert_eq!(
            events,
            [
                ("ann".to_owned(), "online".to_owned()),
                ("ann".to_owned(), "offline".to_owned())
            ]
        );
        assert!(!online.is_online("ann"));
        tree.shutdown().await;
    }
}
