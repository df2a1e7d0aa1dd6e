//! `AppState`: the one cheap-to-clone handle every handler and socket event receives.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::FromRef;
use ractor::ActorRef;
use uma_actors::root::RootMsg;
use uma_actors::root::Slot;
use uma_actors::sessions::SessionsMsg;

use crate::audit::Audit;
use crate::auth::ldap::LdapAuth;
use crate::auth::records::SessionRecords;
use crate::auth::session::{CookiePolicy, CookieSigner};
use crate::config::{Config, Secret};
use crate::limits::login::LoginLimiter;
use crate::pve::PveClient;
use crate::services::Ops;
use crate::store::Store;
use crate::templates::Templates;

/// Shared state: configuration, store, Proxmox client, templates, actors.
#[derive(Clone)]
pub struct AppState {
    /// Validated configuration.
    pub config: Arc<Config>,
    /// The cookie secret in force (configured or generated in demo mode).
    pub cookie_secret: Secret,
    /// Signs cookies with a key derived from the cookie secret.
    pub signer: CookieSigner,
    /// Cookie attributes.
    pub cookies: CookiePolicy,
    /// The database.
    pub store: Store,
    /// Session records (store, cached in Redis when configured).
    pub records: SessionRecords,
    /// The Proxmox client.
    pub pve: PveClient,
    /// Page templates.
    pub templates: Templates,
    /// The root of the actor tree.
    pub root: ActorRef<RootMsg>,
    /// The sessions supervisor.
    pub sessions: Slot<SessionsMsg>,
    /// The audit log.
    pub audit: Audit,
    /// Failed sign-in limits.
    pub limiter: Arc<LoginLimiter>,
    /// Per-user limits of Proxmox operations.
    pub limits: crate::limits::OpLimits,
    /// The shared ACL view.
    pub acl: Arc<crate::acl::cache::AclCache>,
    /// Quota reservations.
    pub quotas: Arc<crate::services::quota::QuotaBook>,
    /// SDN apply cooldown (in process) and the VNet creation lock.
    pub sdn: Arc<crate::services::sdn::SdnGate>,
    /// Follows Proxmox tasks and pushes their progress.
    pub tasks: crate::services::tasks::Tasks,
    /// Live resource streams (one poller per cluster, rooms per permission set).
    pub live: Arc<crate::services::watch::Live>,
    /// Open browser consoles.
    pub consoles: Slot<uma_actors::consoles::ConsolesMsg>,
    /// Streams of single guests and nodes while watched.
    pub streams: Arc<crate::services::watch::Streams>,
    /// Emits Socket.IO events from anywhere.
    pub io: crate::push::IoControl,
    /// LDAP, when configured.
    pub ldap: Option<Arc<LdapAuth>>,
    /// OpenID Connect providers (none when `OIDC_PROVIDERS` is unset).
    pub oidc: Arc<crate::auth::oidc::Oidc>,
    /// Redis, when configured.
    pub redis: Option<fred::clients::Client>,
    /// When the server started.
    pub started: Instant,
    /// Chat rooms and presence.
    pub chat: crate::services::chat::Chat,
    /// Whiteboards.
    pub whiteboards: crate::services::whiteboard::Boards,
    /// Limits of the chat and whiteboard events.
    pub event_limits: crate::limits::events::EventLimits,
    /// Emits events from services (ordered, awaited).
    pub emitter: crate::push::emit::IoEmitter,
    /// Notification banners.
    pub notices: crate::services::notifications::Notices,
    /// The knowledge base.
    pub docs: crate::services::docs::Docs,
    /// Uploaded files.
    pub uploads: crate::services::uploads::Uploads,
    /// Link previews.
    pub previews: crate::services::previews::Previews,
    /// Local accounts and the people Uma knows (administrators).
    pub accounts: crate::services::accounts::Accounts,
}

/// Shows what identifies the instance, never a secret: the configuration and the Proxmox client
/// redact theirs, the cookie secret and the Redis connection are left out.
impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("config", &self.config)
            .field("pve", &self.pve)
            .field("ldap", &self.ldap)
            .field("oidc", &self.oidc)
            .field("redis", &self.redis.is_some())
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// The context of the Proxmox services.
    pub fn ops(&self) -> Ops {
        Ops::from_ref(self)
    }
}

impl FromRef<AppState> for crate::services::chat::Chat {
    fn from_ref(s: &AppState) -> Self {
        s.chat.clone()
    }
}

impl FromRef<AppState> for crate::services::whiteboard::Boards {
    fn from_ref(s: &AppState) -> Self {
        s.whiteboards.clone()
    }
}

impl FromRef<AppState> for crate::services::notifications::Notices {
    fn from_ref(s: &AppState) -> Self {
        s.notices.clone()
    }
}

impl FromRef<AppState> for crate::services::docs::Docs {
    fn from_ref(s: &AppState) -> Self {
        s.docs.clone()
    }
}

impl FromRef<AppState> for crate::services::uploads::Uploads {
    fn from_ref(s: &AppState) -> Self {
        s.uploads.clone()
    }
}

impl FromRef<AppState> for crate::services::previews::Previews {
    fn from_ref(s: &AppState) -> Self {
        s.previews.clone()
    }
}

impl FromRef<AppState> for crate::services::accounts::Accounts {
    fn from_ref(s: &AppState) -> Self {
        s.accounts.clone()
    }
}

impl FromRef<AppState> for Ops {
    fn from_ref(s: &AppState) -> Self {
        Ops {
            config: s.config.clone(),
            store: s.store.clone(),
            pve: s.pve.clone(),
            acl: s.acl.clone(),
            audit: s.audit.clone(),
            limits: s.limits.clone(),
            quotas: s.quotas.clone(),
            sdn: s.sdn.clone(),
            tasks: s.tasks.clone(),
            redis: s.redis.clone(),
            consoles: s.consoles.clone(),
        }
    }
}
