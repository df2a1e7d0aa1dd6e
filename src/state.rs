//! `AppState`: the one cheap-to-clone handle every handler and socket event receives.

use std::sync::Arc;
use std::time::Instant;

use ractor::ActorRef;
use uma_actors::root::RootMsg;

use crate::config::{Config, Secret};
use crate::pve::PveClient;
use crate::store::Store;
use crate::templates::Templates;

/// Shared state: configuration, store, Proxmox client, templates, the actor tree's root.
#[derive(Clone, Debug)]
pub struct AppState {
    /// Validated configuration.
    pub config: Arc<Config>,
    /// The cookie secret in force (configured or generated in demo mode).
    pub cookie_secret: Secret,
    /// The database.
    pub store: Store,
    /// The Proxmox client.
    pub pve: PveClient,
    /// Page templates.
    pub templates: Templates,
    /// The root of the actor tree.
    pub root: ActorRef<RootMsg>,
    /// Redis, when configured.
    pub redis: Option<fred::clients::Client>,
    /// When the server started.
    pub started: Instant,
}
