//! `pve-sim`: a Proxmox VE API simulator.
//!
//! It serves the real API shape (`/api2/json/...`, the `{"data": …}` envelope, Proxmox's error
//! statuses and `PVEAPIToken=` authentication) over HTTPS with a self-signed certificate it
//! generates at start. It runs in-process (tests, Uma's demo mode) through [`Simulator::start`] and
//! as its own binary (`pve-sim --listen 127.0.0.1:8006`). It knows nothing of Uma.
//!
//! The cluster (nodes, storages, guests, pools, users, ACLs, SDN, replication, tasks) lives in
//! memory behind one lock; see `sim/README.md` for the scenarios, endpoints and knobs.

#![warn(missing_docs)]

mod acl;
pub mod console;
mod error;
mod http;
mod model;
mod params;
mod rrd;
mod scenario;
mod server;
mod tasks;
mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use rand::Rng;

pub use http::{catalog, Endpoint};
pub use params::{pattern_regex, ParamSpec, ParamType};
pub use scenario::TokenInfo;
pub use server::SimHandle;

/// Which cluster the simulator starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scenario {
    /// Three nodes, pools, VMs and containers in mixed states.
    #[default]
    Demo,
    /// One node and nothing on it.
    Empty,
    /// Eight nodes and 2,000 guests, for load tests and benchmarks.
    Scale,
}

impl std::str::FromStr for Scenario {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "demo" => Ok(Self::Demo),
            "empty" => Ok(Self::Empty),
            "scale" => Ok(Self::Scale),
            other => Err(format!(
                "unknown scenario '{other}' (expected demo, empty or scale)"
            )),
        }
    }
}

/// How to start a simulator.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Address to listen on; port 0 picks a free one.
    pub listen: SocketAddr,
    /// Serve HTTPS (the default, like Proxmox) or plain HTTP.
    pub tls: bool,
    /// The initial cluster.
    pub scenario: Scenario,
    /// The API token's id, `USER@REALM!TOKENID`.
    pub token_id: String,
    /// The API token's secret; a random one when `None`.
    pub token_secret: Option<String>,
    /// How long a worker task runs before it ends and changes the cluster (create, clone and
    /// backup take three times as long).
    pub task_duration: Duration,
    /// Initial fault and load knobs; change them at run time through [`SimHandle`].
    pub faults: Faults,
    /// Delay before answering a failed authentication (Proxmox waits 3 s; zero by default so
    /// tests stay fast).
    pub auth_failure_delay: Duration,
    /// JSON file the cluster is loaded from (when it exists) and saved to after every change;
    /// the scenario only seeds a missing file. Task history is not persisted.
    pub state_file: Option<PathBuf>,
}

/// Fault and load knobs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    /// Added to every authenticated API call.
    pub latency: Duration,
    /// Fraction (0..1) of authenticated calls that fail with a 500.
    pub error_rate: f64,
    /// The whole API is down: new connections are refused, requests get 503.
    pub api_down: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            tls: true,
            scenario: Scenario::Demo,
            token_id: "root@pam!uma".to_owned(),
            token_secret: None,
            task_duration: Duration::from_millis(1500),
            faults: Faults::default(),
            auth_failure_delay: Duration::ZERO,
            state_file: None,
        }
    }
}

/// Errors that stop the simulator from starting.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The listening socket could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The self-signed certificate could not be made.
    #[error("cannot create the TLS certificate: {0}")]
    Tls(String),
    /// The state file exists but cannot be read or parsed.
    #[error("cannot load the state file {path}: {reason}")]
    StateFile {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
}

/// Entry point: start a simulator and get a handle to it.
#[derive(Debug)]
pub struct Simulator;

impl Simulator {
    /// Starts a simulator on `config.listen` and returns once it accepts connections.
    pub async fn start(config: SimConfig) -> Result<SimHandle, SimError> {
        let secret = config.token_secret.clone().unwrap_or_else(random_uuid);
        let cluster = match config.state_file.as_deref().filter(|p| p.exists()) {
            Some(path) => {
                let fail = |reason: String| SimError::StateFile {
                    path: path.to_owned(),
                    reason,
                };
                let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
                let mut c: model::Cluster =
                    serde_json::from_str(&text).map_err(|e| fail(e.to_string()))?;
                scenario::ensure_root_token(&mut c, &config.token_id, &secret);
                c
            }
            None => scenario::build(config.scenario, &config.token_id, &secret, &mut random_uuid),
        };
        let state = Arc::new(SimState {
            cluster: Mutex::new(cluster),
            faults: RwLock::new(config.faults.clone()),
            task_duration: RwLock::new(config.task_duration),
            auth_failure_delay: config.auth_failure_delay,
            state_file: config.state_file.clone(),
            api: http::Api::new(),
            requests: Mutex::new(std::collections::HashMap::new()),
            cert_pem: std::sync::OnceLock::new(),
        });
        if let Some(path) = &state.state_file {
            state.persist(path, &state.cluster.lock());
        }
        server::start(config, state, secret).await
    }
}

/// Shared state of one running simulator.
pub(crate) struct SimState {
    pub cluster: Mutex<model::Cluster>,
    pub faults: RwLock<Faults>,
    pub task_duration: RwLock<Duration>,
    pub auth_failure_delay: Duration,
    pub state_file: Option<PathBuf>,
    pub api: http::Api,
    /// Requests received per `METHOD /path` (path below `/api2/json`, query excluded).
    pub requests: Mutex<std::collections::HashMap<String, u64>>,
    /// The certificate's PEM once the listener made it (`vncproxy` returns it as `cert`).
    pub cert_pem: std::sync::OnceLock<String>,
}

impl SimState {
    /// Writes the cluster to the state file (temporary file + rename); failures are logged.
    pub fn persist(&self, path: &std::path::Path, c: &model::Cluster) {
        let result = serde_json::to_vec_pretty(c)
            .map_err(std::io::Error::other)
            .and_then(|bytes| {
                let tmp = path.with_extension("tmp");
                std::fs::write(&tmp, bytes)?;
                std::fs::rename(&tmp, path)
            });
        if let Err(err) = result {
            tracing::warn!(%err, path = %path.display(), "pve-sim: cannot save state");
        }
    }
}

impl std::fmt::Debug for SimState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimState").finish_non_exhaustive()
    }
}

/// A random UUID (v4 layout), the shape of Proxmox token secrets.
pub(crate) fn random_uuid() -> String {
    let b: [u8; 16] = rand::thread_rng().gen();
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
        u16::from_be_bytes([b[4], b[5]]),
        (u16::from_be_bytes([b[6], b[7]]) & 0x0fff) | 0x4000,
        (u16::from_be_bytes([b[8], b[9]]) & 0x3fff) | 0x8000,
        u64::from_be_bytes([0, 0, b[10], b[11], b[12], b[13], b[14], b[15]])
    )
}
