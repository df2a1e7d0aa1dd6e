//! The root supervisor: parent of every branch of the tree (sessions, consoles, chat rooms,
//! whiteboards, the cluster poller). A child that fails is logged and counted; the root itself
//! stays up, so one broken branch never takes the server down.

use std::time::Instant;

use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use serde::Serialize;

/// The root supervisor actor.
#[derive(Debug, Default)]
pub struct RootSupervisor;

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
}

/// Messages of the root supervisor.
#[derive(Debug)]
pub enum RootMsg {
    /// Report [`TreeHealth`].
    Health(RpcReplyPort<TreeHealth>),
}

/// The root's state.
#[derive(Debug)]
pub struct RootState {
    started: Instant,
    failures: u64,
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
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            RootMsg::Health(reply) => {
                let health = TreeHealth {
                    uptime_secs: state.started.elapsed().as_secs(),
                    children: myself.get_children().len(),
                    failures: state.failures,
                };
                // The caller may have given up waiting; that is not the root's failure.
                let _ = reply.send(health);
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        _myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match event {
            SupervisionEvent::ActorFailed(who, err) => {
                state.failures += 1;
                tracing::error!(actor = %describe(&who), error = %err, "supervised actor failed");
            }
            SupervisionEvent::ActorTerminated(who, _, reason) => {
                tracing::debug!(actor = %describe(&who), reason = ?reason, "supervised actor stopped");
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
}

impl Tree {
    /// Starts the root supervisor.
    pub async fn start() -> Result<Tree, ractor::SpawnErr> {
        let (root, handle) = Actor::spawn(None, RootSupervisor, ()).await?;
        Ok(Tree { root, handle })
    }

    /// Asks for the tree's health.
    pub async fn health(&self) -> Result<TreeHealth, crate::ActorError> {
        crate::call!(self.root, RootMsg::Health)
    }

    /// Stops every actor (children first, by ractor's linking) and waits for the root to end.
    pub async fn shutdown(self) {
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

    #[derive(Debug)]
    struct Crasher;

    impl Actor for Crasher {
        type Msg = ();
        type State = ();
        type Arguments = ();
        async fn pre_start(&self, _: ActorRef<()>, _: ()) -> Result<(), ActorProcessingErr> {
            Ok(())
        }
        async fn handle(
            &self,
            _: ActorRef<()>,
            _: (),
            _: &mut (),
        ) -> Result<(), ActorProcessingErr> {
            Err("boom".into())
        }
    }

    #[tokio::test]
    async fn a_failing_child_is_counted_and_the_root_survives() {
        let tree = Tree::start().await.unwrap();
        let (child, handle) = Actor::spawn_linked(None, Crasher, (), tree.root.get_cell())
            .await
            .unwrap();
        assert_eq!(tree.health().await.unwrap().children, 1);
        child.cast(()).unwrap();
        handle.await.unwrap();
        let deadline = Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let h = tree.health().await.unwrap();
            if h.failures == 1 && h.children == 0 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "root never saw the failure: {h:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        tree.shutdown().await;
    }
}
