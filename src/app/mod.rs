//! Building and running the server: connect the store, start (or reach) Proxmox, start the actor
//! tree, bind the listener (port 0 works, for tests), serve until told to stop, then shut down in
//! order: stop accepting, tell sockets, stop actors, close the database. The actor tree
//! grows in [`root`].

pub mod root;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::Router;
use tokio::net::TcpListener;
use uma_actors::root::Tree;

use crate::auth::ldap::LdapAuth;
use crate::auth::session::{CookiePolicy, CookieSigner};
use crate::bootstrap::{self, AdminAccount};
use crate::config::{Config, ProxmoxMode};
use crate::limits::login::LoginLimiter;
use crate::push::IoControl;
use crate::pve::{PveClient, PveEndpoint};
use crate::state::AppState;
use crate::store::Store;
use crate::templates::Templates;
use crate::tls::TrustSettings;
use crate::{http, realtime, tls};

/// Audit rows the database could not take yet, under `UMA_DATA_DIR`.
pub const AUDIT_SPILL_FILE: &str = "audit-spill.jsonl";

/// How long one ACL view serves every user (Uma drops it at once when it changes ACLs, pools or
/// guests itself).
const ACL_VIEW_TTL: Duration = Duration::from_secs(3);

/// Why the server could not start; each is one line for the operator.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The database is unreachable or refused the credentials.
    #[error("cannot connect to the database ({what}): {error}")]
    Database {
        /// Which database.
        what: String,
        /// The driver's message.
        error: String,
    },
    /// Migrations failed.
    #[error("cannot migrate the database ({what}): {error}")]
    Migrate {
        /// Which database.
        what: String,
        /// The migrator's message.
        error: String,
    },
    /// First-start chores failed.
    #[error("cannot prepare the data folder or the admin account: {0}")]
    Bootstrap(#[from] bootstrap::BootstrapError),
    /// The embedded simulator could not start.
    #[error("cannot start the embedded Proxmox simulator: {0}")]
    Simulator(String),
    /// The Proxmox client could not be set up.
    #[error("cannot set up the Proxmox client: {0}")]
    Proxmox(String),
    /// The actor tree could not start.
    #[error("cannot start the actor tree: {0}")]
    Actors(String),
    /// The listening address could not be bound.
    #[error("cannot listen on {addr}: {error}")]
    Bind {
        /// The address.
        addr: String,
        /// The OS error.
        error: String,
    },
    /// The Redis URL was refused by the client.
    #[error("cannot set up Redis: {0}")]
    Redis(String),
    /// The LDAP settings could not be used.
    #[error("cannot set up LDAP: {0}")]
    Ldap(String),
    /// The link-preview client could not be set up.
    #[error("cannot set up link previews: {0}")]
    Previews(String),
    /// The OpenID Connect client could not be set up.
    #[error("cannot set up OpenID Connect sign-in: {0}")]
    Oidc(String),
}

fn lower(list: &[String]) -> Vec<String> {
    list.iter().map(|s| s.trim().to_ascii_lowercase()).collect()
}

/// A built server, bound and ready to run.
pub struct App {
    listener: TcpListener,
    router: Router,
    io: crate::push::Io,
    state: AppState,
    tree: Tree,
    sim: Option<pve_sim::SimHandle>,
    admin: AdminAccount,
    subscriber: Option<fred::clients::SubscriberClient>,
    /// How long each part of start-up took (logged with the banner).
    startup: Phases,
}

/// The parts of start-up and how long each took.
#[derive(Debug, Default)]
struct Phases {
    last: Option<std::time::Instant>,
    done: Vec<(&'static str, std::time::Duration)>,
}

impl Phases {
    fn start() -> Self {
        Self {
            last: Some(std::time::Instant::now()),
            done: Vec::new(),
        }
    }

    /// Ends the part called `name` (the time since the last one ended).
    fn mark(&mut self, name: &'static str) {
        let now = std::time::Instant::now();
        if let Some(last) = self.last.replace(now) {
            self.done.push((name, now - last));
        }
    }

    /// `total ms (part ms, …)`.
    fn summary(&self) -> String {
        let total: std::time::Duration = self.done.iter().map(|(_, d)| *d).sum();
        let parts: Vec<String> = self
            .done
            .iter()
            .map(|(n, d)| format!("{n} {} ms", d.as_millis()))
            .collect();
        format!("{} ms ({})", total.as_millis(), parts.join(", "))
    }
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("addr", &self.local_addr())
            .finish()
    }
}

/// Connects the store and runs migrations, with operator-friendly errors.
pub async fn open_store(config: &Config) -> Result<Store, StartError> {
    let what = config.database.describe();
    let store = Store::connect(&config.database)
        .await
        .map_err(|e| StartError::Database {
            what: what.clone(),
            error: one_line(&e),
        })?;
    store.migrate().await.map_err(|e| StartError::Migrate {
        what,
        error: one_line(&e),
    })?;
    Ok(store)
}

fn one_line(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out.replace('\n', " ")
}

impl App {
    /// Builds everything and binds the listener; nothing is served until [`App::run`].
    pub async fn build(config: Config) -> Result<App, StartError> {
        let mut startup = Phases::start();
        tls::install_crypto_provider();
        let config = Arc::new(config);
        let store = open_store(&config).await?;
        startup.mark("database");
        let cookie_secret = bootstrap::cookie_secret(&config)?;
        let store = store.with_audit_key(crate::audit::chain_key(&cookie_secret));
        let admin = bootstrap::admin_account(&config, &store).await?;
        startup.mark("admin account");
        if config.is_demo() {
            // The prebuilt hardware templates, as `uma init-templates` installs them.
            crate::hardware_defaults::install(&store)
                .await
                .map_err(|e| StartError::Database {
                    what: config.database.describe(),
                    error: one_line(&e),
                })?;
        }

        let (endpoint, sim) = match &config.proxmox.mode {
            ProxmoxMode::Embedded { scenario } => {
                let scenario = scenario
                    .parse::<pve_sim::Scenario>()
                    .map_err(StartError::Simulator)?;
                let handle = pve_sim::Simulator::start(pve_sim::SimConfig {
                    scenario,
                    ..pve_sim::SimConfig::default()
                })
                .await
                .map_err(|e| StartError::Simulator(e.to_string()))?;
                let endpoint = PveEndpoint {
                    url: handle
                        .url()
                        .parse()
                        .map_err(|e: url::ParseError| StartError::Simulator(e.to_string()))?,
                    token_id: handle.token_id().to_owned(),
                    token_secret: crate::config::Secret::new(handle.token_secret()),
                    trust: TrustSettings {
                        extra_roots_pem: handle.ca_cert_pem().map(str::to_owned),
                        ..TrustSettings::default()
                    },
                };
                (endpoint, Some(handle))
            }
            ProxmoxMode::Remote(p) => {
                let extra_roots_pem = match &p.ca_file {
                    Some(path) => Some(std::fs::read_to_string(path).map_err(|e| {
                        StartError::Proxmox(format!("PROXMOX_CA_FILE {}: {e}", path.display()))
                    })?),
                    None => None,
                };
                let endpoint = PveEndpoint {
                    url: p.url.clone(),
                    token_id: p.token_id.clone(),
                    token_secret: p.token_secret.clone(),
                    trust: TrustSettings {
                        extra_roots_pem,
                        pinned_sha256: p
                            .fingerprint
                            .as_deref()
                            .and_then(crate::config::parse_fingerprint),
                        insecure: p.insecure,
                    },
                };
                (endpoint, None)
            }
        };
        let pve = PveClient::new(endpoint).map_err(|e| StartError::Proxmox(e.to_string()))?;
        startup.mark("proxmox client");

        // What this deployment's instances share in Redis is named after it.
        let deployment = store
            .deployment_id()
            .await
            .map_err(|e| StartError::Database {
                what: config.database.describe(),
                error: one_line(&e),
            })?;
        let redis_clients = match &config.redis.url {
            Some(url) => Some(connect_redis(url.expose(), config.redis.password.as_ref()).await?),
            None => None,
        };
        let redis = redis_clients.as_ref().map(|r| r.client.clone());
        let subscriber = redis_clients.as_ref().map(|r| r.records.clone());
        let bus = match &redis_clients {
            Some(r) => crate::push::adapter::Bus::over(r.client.clone(), r.bus.clone()),
            None => crate::push::adapter::Bus::alone(),
        };

        startup.mark("redis");
        let tree = Tree::start()
            .await
            .map_err(|e| StartError::Actors(e.to_string()))?;
        startup.mark("actor tree");
        let ldap = if config.ldap.is_configured() {
            if config.ldap.url.scheme() == "ldap" && !config.ldap.starttls {
                tracing::warn!("LDAP_URL is ldap:// without LDAP_STARTTLS: passwords cross the network unencrypted");
            }
            Some(Arc::new(
                LdapAuth::new(config.ldap.clone()).map_err(StartError::Ldap)?,
            ))
        } else {
            None
        };
        // Providers are read at first use: one that is down stops only its own button.
        let oidc = Arc::new(crate::auth::oidc::Oidc::new(&config.oidc).map_err(StartError::Oidc)?);

        let acl = Arc::new(
            crate::acl::cache::AclCache::new(
                pve.clone(),
                crate::acl::Naming {
                    realm: config.proxmox.user_realm.clone(),
                },
                crate::acl::owned::Policy {
                    public_storages: config.tenancy.public_storages.clone(),
                    public_bridges: config.tenancy.public_bridges.clone(),
                    template_pool: config.tenancy.public_template_pool.clone(),
                },
                ACL_VIEW_TTL,
            )
            .with_redis(redis.clone()),
        );
        let control = IoControl::default();
        // Proxmox itself; with Redis, read by one instance for all.
        let direct = Arc::new(crate::services::watch::PveSource(pve.clone()));
        let cluster_source: Arc<dyn uma_actors::cluster::ClusterSource> =
            Arc::new(match &redis_clients {
                Some(r) => crate::services::cluster_feed::SharedSource::shared(
                    direct,
                    r.client.clone(),
                    r.cluster.clone(),
                    &deployment,
                    pve.endpoint().url.as_str(),
                    acl.instance().to_owned(),
                    config.proxmox.poll_interval,
                ),
                None => crate::services::cluster_feed::SharedSource::alone(direct),
            });
        let elsewhere: Arc<dyn uma_actors::presence::Elsewhere> = match &redis {
            Some(r) => Arc::new(crate::services::chat::elsewhere::RedisPresence::start(
                r.clone(),
                &deployment,
                acl.instance(),
            )),
            None => Arc::new(uma_actors::presence::Alone),
        };
        let event_limits = crate::limits::events::EventLimits::new(redis.clone());
        let branches = root::grow(
            &tree,
            root::Soil {
                config: config.clone(),
                store: store.clone(),
                pve: pve.clone(),
                acl: acl.clone(),
                control: control.clone(),
                cluster_source,
                elsewhere,
                event_limits: event_limits.clone(),
                audit_spill: config.server.data_dir.join(AUDIT_SPILL_FILE),
            },
        )
        .await
        .map_err(|e| StartError::Actors(e.to_string()))?;
        let root::Branches {
            audit,
            consoles,
            sessions,
            tasks,
            live,
            chat,
            whiteboards,
            emitter,
        } = branches;
        if let Some(sub) = &subscriber {
            crate::auth::records::follow_ends(sub.clone(), sessions.clone(), acl.clone());
        }
        let quotas = Arc::new(crate::services::quota::QuotaBook::new(
            pve.clone(),
            store.clone(),
            acl.clone(),
        ));
        let notices = crate::services::notifications::Notices::new(
            store.clone(),
            audit.clone(),
            event_limits.clone(),
            Arc::new(emitter.clone()),
        );
        let op_limits = crate::limits::OpLimits::new(redis.clone());
        let uploads = crate::services::uploads::Uploads::new(
            store.clone(),
            audit.clone(),
            op_limits.clone(),
            config.server.upload_dir(),
            cookie_secret.expose().as_bytes(),
        );
        {
            let uploads = uploads.clone();
            tokio::spawn(async move { uploads.sweep_incoming().await });
        }
        let docs = crate::services::docs::Docs::new(
            store.clone(),
            audit.clone(),
            event_limits.clone(),
            uploads.clone(),
            config.web.image_remote_hosts.clone(),
        );
        let previews = crate::services::previews::Previews::new(
            crate::services::previews::guard::Policy {
                allowed_hosts: lower(&config.web.metadata_allowed_hosts),
                allowed_domains: lower(&config.web.metadata_allowed_domains),
                allow_networks: config.web.metadata_allow_networks.clone(),
                resolve: config.web.metadata_resolve.clone(),
                ports: config.web.metadata_allowed_ports.clone(),
            },
            audit.clone(),
            event_limits.clone(),
        )
        .map_err(StartError::Previews)?;
        let records = crate::auth::records::SessionRecords::new(store.clone(), redis.clone());
        let limiter = Arc::new(LoginLimiter::new(redis.clone()));
        let accounts = crate::services::accounts::Accounts::new(
            store.clone(),
            audit.clone(),
            records.clone(),
            sessions.clone(),
            limiter.clone(),
        );
        let state = AppState {
            accounts,
            notices,
            docs,
            uploads,
            previews,
            records,
            config: config.clone(),
            signer: CookieSigner::new(&cookie_secret),
            cookies: CookiePolicy {
                secure: config.session.secure_cookie,
                domain: config.session.cookie_domain.clone(),
            },
            cookie_secret,
            store,
            pve,
            templates: Templates::new(),
            root: tree.root.clone(),
            sessions,
            audit,
            limiter,
            limits: op_limits,
            acl,
            quotas,
            sdn: Arc::default(),
            tasks,
            live,
            consoles,
            streams: Arc::default(),
            io: control.clone(),
            ldap,
            oidc,
            redis,
            started: Instant::now(),
            chat,
            whiteboards,
            event_limits,
            emitter,
        };
        let (socket_layer, io) = realtime::layer(state.clone(), bus, &deployment)
            .await
            .map_err(StartError::Redis)?;
        control.set(io.clone());
        realtime::watch::spawn_guard(state.clone());
        let router = http::router(state.clone()).layer(socket_layer);
        startup.mark("services and routes");

        let addr = format!("{}:{}", config.server.hostname, config.server.port);
        let listener = TcpListener::bind(&addr)
            .await
            .map_err(|e| StartError::Bind {
                addr: addr.clone(),
                error: e.to_string(),
            })?;
        startup.mark("listener");
        Ok(App {
            listener,
            router,
            io,
            state,
            tree,
            sim,
            admin,
            subscriber,
            startup,
        })
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// The shared state (tests use its store and config).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The embedded simulator, in demo mode.
    pub fn simulator(&self) -> Option<&pve_sim::SimHandle> {
        self.sim.as_ref()
    }

    /// What start-up did to the `admin` account.
    pub fn admin_account(&self) -> &AdminAccount {
        &self.admin
    }

    /// Logs the banner: mode, where to click, the admin password when just generated.
    pub fn log_banner(&self) {
        let config = &self.state.config;
        let addr = self.local_addr();
        let host = if addr.ip().is_loopback() || addr.ip().is_unspecified() {
            "localhost".to_owned()
        } else {
            addr.ip().to_string()
        };
        let url = format!("http://{host}:{}", addr.port());
        match &self.sim {
            Some(sim) => tracing::info!(
                "Uma {} in demo mode: embedded Proxmox simulator at {}, database {}",
                env!("CARGO_PKG_VERSION"),
                sim.url(),
                config.database.describe()
            ),
            None => tracing::info!(
                "Uma {} in {} mode: Proxmox at {}, database {}",
                env!("CARGO_PKG_VERSION"),
                if config.server.production {
                    "production"
                } else {
                    "development"
                },
                self.state.pve.endpoint().url,
                config.database.describe()
            ),
        }
        tracing::info!("Started in {}", self.startup.summary());
        tracing::info!("Open {url}/login");
        match &self.admin {
            AdminAccount::Created { password } => {
                tracing::info!("Sign in as admin with password {password} (shown once; set UMA_ADMIN_PASSWORD to choose one)");
            }
            AdminAccount::SetFromEnvironment => {
                tracing::info!("Local admin account set from UMA_ADMIN_PASSWORD");
            }
            AdminAccount::Existing | AdminAccount::NotCreated => {}
        }
        if !crate::http::assets::bundle_present() {
            tracing::warn!("web assets are missing (web/dist): run `make web` or `make run`");
        }
        for key in &config.unknown_keys {
            tracing::warn!("unknown setting {key} is ignored (typo?)");
        }
        for warning in &config.warnings {
            tracing::warn!("{warning}");
        }
    }

    /// Serves until `shutdown` completes, then shuts down in order.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let App {
            listener,
            router,
            io,
            state,
            tree,
            sim,
            subscriber,
            ..
        } = self;
        let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
        let io_for_shutdown = io.clone();
        // A branch of the actor tree left down (it failed too often) stops the server too:
        // serving on without, say, the actor that ends sessions would keep signed-out sockets
        // and consoles open. The process exits non-zero and its supervisor starts it again.
        let given_up = tree.given_up();
        let failed: Arc<OnceLock<&'static str>> = Arc::default();
        let failed_branch = failed.clone();
        let graceful = async move {
            tokio::select! {
                () = shutdown => {}
                branch = given_up => {
                    tracing::error!(branch, "an actor branch failed too often: stopping the server");
                    let _ = failed_branch.set(branch);
                }
            }
            tracing::info!("shutting down: closing sockets and finishing requests");
            let _ = stopping_tx.send(());
            crate::push::shutdown(&io_for_shutdown).await;
        };
        let serve = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(graceful);
        // Requests still open 10 s after the signal (long polls, stuck clients) are dropped.
        let deadline = async move {
            if stopping_rx.await.is_ok() {
                tokio::time::sleep(Duration::from_secs(10)).await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        let result = tokio::select! {
            r = std::future::IntoFuture::into_future(serve) => r,
            () = deadline => {
                tracing::warn!("some connections did not finish within 10 s; closing them");
                Ok(())
            }
        };
        // Open consoles are upgraded connections the graceful shutdown does not wait for: close
        // them now, so their browsers are told why and their close rows are written before the
        // audit log's last flush.
        crate::services::consoles::close_all(
            &state.ops(),
            "The server is restarting; open the console again in a moment.",
        )
        .await;
        state.audit.flush().await;
        tree.shutdown().await;
        if let Some(client) = &state.redis {
            use fred::interfaces::ClientLike;
            let _ = client.quit().await;
        }
        if let Some(sub) = &subscriber {
            use fred::interfaces::ClientLike;
            let _ = sub.quit().await;
        }
        state.store.close().await;
        if let Some(sim) = sim {
            sim.shutdown();
        }
        tracing::info!("stopped");
        match failed.get() {
            Some(branch) => Err(std::io::Error::other(format!(
                "the actor branch {branch} failed too often"
            ))),
            None => result,
        }
    }
}

/// The Redis connections of an instance: commands, and one subscriber per listener.
struct RedisClients {
    client: fred::clients::Client,
    /// Session ends and ACL changes of other instances.
    records: fred::clients::SubscriberClient,
    /// The Socket.IO adapter.
    bus: fred::clients::SubscriberClient,
    /// The cluster leader's resource readings.
    cluster: fred::clients::SubscriberClient,
}

async fn connect_redis(
    url: &str,
    password: Option<&crate::config::Secret>,
) -> Result<RedisClients, StartError> {
    use fred::interfaces::ClientLike;
    use fred::types::config::{Config as RedisConfig, ReconnectPolicy};
    let mut cfg = RedisConfig::from_url(url).map_err(|e| StartError::Redis(e.to_string()))?;
    if let Some(pw) = password {
        cfg.password = Some(pw.expose().to_owned());
    }
    let mut builder = fred::types::Builder::from_config(cfg);
    builder
        .with_connection_config(|c| {
            c.connection_timeout = Duration::from_secs(2);
            c.internal_command_timeout = Duration::from_secs(2);
        })
        .with_performance_config(|p| {
            p.default_command_timeout = Duration::from_secs(2);
        })
        .set_policy(ReconnectPolicy::new_exponential(0, 100, 5_000, 2));
    let client = builder
        .build()
        .map_err(|e| StartError::Redis(e.to_string()))?;
    let subscriber = builder
        .build_subscriber_client()
        .map_err(|e| StartError::Redis(e.to_string()))?;
    let _task = client.connect();
    match tokio::time::timeout(Duration::from_secs(2), client.wait_for_connect()).await {
        Ok(Ok(())) => tracing::debug!("connected to Redis"),
        Ok(Err(e)) => {
            tracing::warn!("Redis is unreachable ({e}); using in-process limits until it returns")
        }
        Err(_) => tracing::warn!(
            "Redis did not answer within 2 s; using in-process limits until it returns"
        ),
    }
    let sub = || {
        builder
            .build_subscriber_client()
            .map_err(|e| StartError::Redis(e.to_string()))
    };
    Ok(RedisClients {
        client,
        records: subscriber,
        bus: sub()?,
        cluster: sub()?,
    })
}
