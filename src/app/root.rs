//! The actor tree as the server grows it: every first-level branch of the root supervisor, in the
//! order they start, each with how it starts (the root calls the same function again when the
//! branch fails or stops on its own). Services hold the branches' slots, which follow restarts.
//!
//! ```text
//! RootSupervisor
//! ├── audit-writer        AuditWriter
//! ├── consoles            ConsolesSupervisor ── ConsoleSession per open console
//! ├── sessions            SessionsSupervisor ── SessionActor per live session
//! ├── task-tracker        TaskTracker (its book of tasks outlives a restart)
//! ├── cluster             ClusterSupervisor ── ResourcePoller
//! ├── presence            Presence
//! ├── chat-rooms          ChatRoomsSupervisor ── ChatRoom per active conversation
//! └── whiteboards         WhiteboardsSupervisor ── Whiteboard per board
//! ```
//!
//! What a restart loses and how it comes back: see `docs/architecture.md` ("The actor tree").

use std::sync::Arc;

use uma_actors::audit::{AuditConfig, AuditWriter};
use uma_actors::chat::{ChatRooms, ChatRoomsSupervisor};
use uma_actors::cluster::{ClusterArgs, ClusterSink, ClusterSource, ClusterSupervisor};
use uma_actors::consoles::{ConsolesConfig, ConsolesMsg, ConsolesSupervisor};
use uma_actors::presence::{Elsewhere, Online, Presence};
use uma_actors::root::{Slot, Tree};
use uma_actors::sessions::{SessionsMsg, SessionsSupervisor, IDLE_AFTER};
use uma_actors::whiteboard::{Whiteboards, WhiteboardsSupervisor};

use crate::acl::cache::AclCache;
use crate::audit::{Audit, StoreSink};
use crate::config::Config;
use crate::limits::events::EventLimits;
use crate::push::emit::IoEmitter;
use crate::push::IoControl;
use crate::pve::PveClient;
use crate::services::chat::backend::StoreChat;
use crate::services::chat::Chat;
use crate::services::consoles::ConsoleAudit;
use crate::services::tasks::{Book, Tasks, TrackerArgs};
use crate::services::watch::Live;
use crate::services::whiteboard::{Boards, StoreBoards};
use crate::store::Store;

/// What the branches are built from.
pub struct Soil {
    /// Validated configuration.
    pub config: Arc<Config>,
    /// The database.
    pub store: Store,
    /// Proxmox.
    pub pve: PveClient,
    /// The shared ACL view.
    pub acl: Arc<AclCache>,
    /// The Socket.IO handle (set once the layer exists).
    pub control: IoControl,
    /// Where the cluster poller reads from (Proxmox, or another instance through Redis).
    pub cluster_source: Arc<dyn ClusterSource>,
    /// Other instances' online users (or nobody when alone).
    pub elsewhere: Arc<dyn Elsewhere>,
    /// Limits of the chat events.
    pub event_limits: EventLimits,
    /// Where audit rows wait while the database is away.
    pub audit_spill: std::path::PathBuf,
}

/// The branches' handles, for the application state.
pub struct Branches {
    /// The audit log (the writer's slot).
    pub audit: Audit,
    /// Open consoles.
    pub consoles: Slot<ConsolesMsg>,
    /// Session actors.
    pub sessions: Slot<SessionsMsg>,
    /// The task tracker.
    pub tasks: Tasks,
    /// Live resource streams over the cluster poller.
    pub live: Arc<Live>,
    /// Chat: presence and rooms.
    pub chat: Chat,
    /// Whiteboards.
    pub whiteboards: Boards,
    /// The emitter the actors use.
    pub emitter: IoEmitter,
}

/// Grows every first-level branch of `tree` from `soil`.
pub async fn grow(tree: &Tree, soil: Soil) -> Result<Branches, ractor::SpawnErr> {
    let Soil {
        config,
        store,
        pve,
        acl,
        control,
        cluster_source,
        elsewhere,
        event_limits,
        audit_spill,
    } = soil;
    let emitter = IoEmitter(control.clone());

    let sink = Arc::new(StoreSink::new(
        store.clone(),
        Some(Arc::new(emitter.clone()) as Arc<dyn uma_actors::emit::Emitter>),
    ));
    let writer = tree
        .branch("audit-writer", move |parent, _| {
            let config = AuditConfig {
                spill: Some(audit_spill.clone()),
                ..Default::default()
            };
            AuditWriter::start(parent, sink.clone(), config)
        })
        .await?;
    let audit = Audit::new(writer);

    let console_config = ConsolesConfig {
        max_per_user: config.tenancy.console_max_per_user,
        idle_timeout: config.tenancy.console_idle_timeout,
    };
    let console_audit = Arc::new(ConsoleAudit(audit.clone()));
    let consoles = tree
        .branch("consoles", move |parent, _| {
            ConsolesSupervisor::start(parent, console_config.clone(), console_audit.clone())
        })
        .await?;

    // After the consoles: a session's end closes its consoles.
    let hooks = Arc::new(crate::auth::ends::SessionHooks::new(
        audit.clone(),
        store.clone(),
        consoles.clone(),
    ));
    let recheck = config.session.recheck;
    let sockets = control.clone();
    let reconnect = control.clone();
    let sessions = tree
        .branch_then(
            "sessions",
            move |parent, _| {
                SessionsSupervisor::start(
                    parent,
                    Arc::new(sockets.clone()),
                    hooks.clone(),
                    IDLE_AFTER,
                    recheck,
                )
            },
            move |starts| {
                if starts > 0 {
                    // The sockets were registered with the session actors that ended with the
                    // supervisor: they reconnect and register with the new ones.
                    reconnect.reconnect_local();
                }
            },
        )
        .await?;

    let tracker = TrackerArgs {
        pve: pve.clone(),
        emitter: Arc::new(emitter.clone()),
        acl: acl.clone(),
        book: Arc::new(parking_lot::Mutex::new(Book::default())),
    };
    let tasks = Tasks::new(
        tree.branch("task-tracker", move |parent, _| {
            Tasks::start_actor(parent, tracker.clone())
        })
        .await?,
    );

    let poller = Arc::new(parking_lot::RwLock::new(None));
    let watchers = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (live, live_sink) = Live::new(
        acl.clone(),
        control.clone(),
        config.tenancy.public_storages.clone(),
        poller.clone(),
        watchers.clone(),
    );
    let live_sink: Arc<dyn ClusterSink> = Arc::new(live_sink);
    let poller_config = uma_actors::cluster::PollerConfig {
        interval: config.proxmox.poll_interval,
        ..Default::default()
    };
    tree.branch("cluster", move |parent, _| {
        let args = ClusterArgs {
            source: cluster_source.clone(),
            sink: live_sink.clone(),
            config: poller_config.clone(),
            poller: poller.clone(),
            watchers: watchers.clone(),
        };
        ClusterSupervisor::start(parent, args)
    })
    .await?;

    let online = Online::default();
    let presence = {
        let emitter: Arc<dyn uma_actors::emit::Emitter> = Arc::new(emitter.clone());
        let online = online.clone();
        let sockets = control.clone();
        let shared = elsewhere.clone();
        tree.branch_then(
            "presence",
            move |parent, _| {
                Presence::start_with(parent, emitter.clone(), elsewhere.clone(), online.clone())
            },
            move |starts| {
                if starts > 0 {
                    // Presence counts sockets as they connect: what this instance told the
                    // others goes, and the sockets connect again.
                    shared.forget_mine();
                    sockets.reconnect_local();
                }
            },
        )
        .await?
    };
    let rooms = {
        let chat_store = Arc::new(StoreChat(store.clone()));
        let emitter: Arc<dyn uma_actors::emit::Emitter> = Arc::new(emitter.clone());
        let online = online.clone();
        tree.branch("chat-rooms", move |parent, _| {
            ChatRoomsSupervisor::start_actor(
                parent,
                chat_store.clone(),
                emitter.clone(),
                online.clone(),
                Default::default(),
            )
        })
        .await?
    };
    let chat = Chat::new(
        store.clone(),
        audit.clone(),
        event_limits,
        Arc::new(emitter.clone()),
        ChatRooms::new(rooms),
        presence,
        online,
    );

    let boards = {
        let board_store = Arc::new(StoreBoards(store.clone()));
        let emitter: Arc<dyn uma_actors::emit::Emitter> = Arc::new(emitter.clone());
        tree.branch("whiteboards", move |parent, _| {
            WhiteboardsSupervisor::start_actor(
                parent,
                board_store.clone(),
                emitter.clone(),
                Default::default(),
            )
        })
        .await?
    };
    let whiteboards = Boards {
        actors: Whiteboards::new(boards),
        store,
        audit: audit.clone(),
        acl,
    };

    Ok(Branches {
        audit,
        consoles,
        sessions,
        tasks,
        live,
        chat,
        whiteboards,
        emitter,
    })
}
