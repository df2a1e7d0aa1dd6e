//! VNC consoles, the way `vncproxy` / `vncwebsocket` behave on Proxmox: `vncproxy` picks a free
//! port in 5900..5999, makes a ticket bound to the caller, `/vms/ID` and the port, and starts a
//! `vncproxy` task that waits for one connection; `vncwebsocket` (after checking the ticket)
//! upgrades to a WebSocket and connects it to that port, where an RFB 3.8 server draws a
//! synthetic screen. The task ends when either side closes.
//!
//! The public items describe the picture ([`ConsoleScreen`], its layout constants, [`glyph`])
//! and the VNC password check ([`vnc_auth_response`]) so clients' tests can predict pixels and
//! authenticate.

mod des;
mod font;
mod rfb;
mod screen;
mod session;
mod ticket;
mod websocket;

use std::collections::BTreeMap;
use std::fmt;

use rand::Rng;
use tokio::sync::mpsc;

pub use des::vnc_auth_response;
pub use font::glyph;
pub use screen::{
    clock_text, ConsoleScreen, BACKGROUND, CLOCK_COLOUR, CLOCK_ORIGIN, DEFAULT_HEIGHT,
    DEFAULT_WIDTH, ECHO_COLOUR, ECHO_ORIGIN, ECHO_PROMPT, NAME_COLOUR, NAME_ORIGIN, POINTER,
    POINTER_FILL, POINTER_OUTLINE, TEXT_SCALE,
};

pub(crate) use session::serve;
pub(crate) use websocket::accept_key;

use crate::error::ApiError;
use crate::model::{now_secs, Cluster, Kind};

/// The VNC port range (`PVE::Tools::next_vnc_port`).
const PORTS: std::ops::RangeInclusive<u16> = 5900..=5999;

/// A message to a connected console session.
#[derive(Debug)]
pub(crate) enum Control {
    /// The guest's display changed size.
    Resize(u16, u16),
}

/// One proxy started by `vncproxy`.
struct Proxy {
    port: u16,
    vmid: u32,
    kind: Kind,
    upid: String,
    /// What the RFB server accepts: the generated password, or the ticket's first 8 bytes.
    password: Vec<u8>,
    /// LXC `width`/`height`.
    size: Option<(u16, u16)>,
    /// Set once a client is connected.
    control: Option<mpsc::UnboundedSender<Control>>,
}

impl Proxy {
    /// Whether the port is taken: while waiting for the connection; QEMU's proxy then closes
    /// its listening socket (the port can be handed out again), vncterm keeps listening.
    fn holds_port(&self) -> bool {
        self.control.is_none() || self.kind == Kind::Lxc
    }
}

/// The consoles of one simulator: the ticket key, proxies by task, display sizes by guest.
pub(crate) struct Consoles {
    key: [u8; 32],
    /// Seconds added to the clock when tickets are checked (tests age tickets with it).
    ticket_clock_offset: i64,
    proxies: BTreeMap<String, Proxy>,
    sizes: BTreeMap<u32, (u16, u16)>,
}

impl Default for Consoles {
    fn default() -> Self {
        Self {
            key: rand::thread_rng().gen(),
            ticket_clock_offset: 0,
            proxies: BTreeMap::new(),
            sizes: BTreeMap::new(),
        }
    }
}

impl fmt::Debug for Consoles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Consoles")
            .field("proxies", &self.proxies.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// What `vncproxy` registers.
pub(crate) struct NewProxy {
    pub vmid: u32,
    pub kind: Kind,
    pub upid: String,
    pub password: Vec<u8>,
    pub size: Option<(u16, u16)>,
}

/// A proxy a client just connected to, with what the session needs.
pub(crate) struct Claimed {
    pub upid: String,
    pub vmid: u32,
    pub kind: Kind,
    /// Whether the guest runs (a stopped VM makes `qm vncproxy` fail at once).
    pub running: bool,
    pub password: Vec<u8>,
    pub name: String,
    pub desktop_name: String,
    pub size: (u16, u16),
    pub control: mpsc::UnboundedReceiver<Control>,
}

/// A random VNC password: 8 printable ASCII characters (`!` to `~`), like
/// `PVE::Ticket::generate_vnc_password`.
pub(crate) fn generate_password() -> String {
    let mut rng = rand::thread_rng();
    (0..8)
        .map(|_| char::from(rng.gen_range(b'!'..=b'~')))
        .collect()
}

fn vm_path(vmid: u32) -> String {
    format!("/vms/{vmid}")
}

impl Cluster {
    /// Drops proxies whose task has ended (timed out, stopped, finished).
    fn prune_consoles(&mut self) {
        let tasks = &self.tasks;
        self.consoles.proxies.retain(|upid, _| {
            tasks
                .iter()
                .any(|t| t.upid == *upid && t.exitstatus.is_none())
        });
    }

    /// The first VNC port no running proxy holds.
    pub fn free_vnc_port(&mut self) -> Result<u16, ApiError> {
        self.prune_consoles();
        let taken: Vec<u16> = self
            .consoles
            .proxies
            .values()
            .filter(|p| p.holds_port())
            .map(|p| p.port)
            .collect();
        PORTS
            .into_iter()
            .find(|p| !taken.contains(p))
            .ok_or_else(|| ApiError::die("unable to find free port (5900-5999)"))
    }

    /// A VNC ticket for `authuser` on `/vms/ID` and `port`, valid now.
    pub fn vnc_ticket(&self, authuser: &str, vmid: u32, port: u16) -> String {
        ticket::assemble(
            &self.consoles.key,
            authuser,
            &vm_path(vmid),
            port,
            now_secs(),
        )
    }

    /// Whether a `vncticket` is valid for `authuser`, `/vms/ID` and `port` now.
    pub fn verify_vnc_ticket(&self, ticket: &str, authuser: &str, vmid: u32, port: u16) -> bool {
        ticket::verify(
            &self.consoles.key,
            ticket,
            authuser,
            &vm_path(vmid),
            port,
            now_secs() + self.consoles.ticket_clock_offset,
        )
    }

    /// Ages every VNC ticket by `secs` (tests of expiry without waiting 40 s).
    pub fn age_vnc_tickets(&mut self, secs: i64) {
        self.consoles.ticket_clock_offset += secs;
    }

    /// Registers a proxy listening on `port`.
    pub fn add_console(&mut self, port: u16, p: NewProxy) {
        self.consoles.proxies.insert(
            p.upid.clone(),
            Proxy {
                port,
                vmid: p.vmid,
                kind: p.kind,
                upid: p.upid,
                password: p.password,
                size: p.size,
                control: None,
            },
        );
    }

    /// Connects a client to the proxy on `port`: `None` when nothing listens there any more
    /// (the one connection was taken, the wait timed out, the task was stopped). The task then
    /// runs until [`Cluster::release_console`].
    pub fn claim_console(&mut self, port: u16) -> Option<Claimed> {
        self.prune_consoles();
        let proxy = self
            .consoles
            .proxies
            .values_mut()
            .find(|p| p.port == port && p.control.is_none())?;
        let (tx, rx) = mpsc::unbounded_channel();
        proxy.control = Some(tx);
        let (vmid, kind, upid) = (proxy.vmid, proxy.kind, proxy.upid.clone());
        let password = proxy.password.clone();
        let size = proxy
            .size
            .or_else(|| self.consoles.sizes.get(&vmid).copied())
            .unwrap_or((screen::DEFAULT_WIDTH, screen::DEFAULT_HEIGHT));
        self.hold_task(&upid);
        let guest = self.guests.get(&vmid).filter(|g| g.kind == kind);
        let name = guest.map_or_else(|| format!("{}{vmid}", kind.noun()), |g| g.name());
        let desktop_name = match kind {
            // QEMU is started with `-name <name or vmID>` and calls its desktop "QEMU (<name>)"
            Kind::Qemu => {
                let qemu_name = guest
                    .and_then(|g| g.config.get("name"))
                    .and_then(|v| v.as_str())
                    .map_or_else(|| format!("vm{vmid}"), str::to_owned);
                format!("QEMU ({qemu_name})")
            }
            Kind::Lxc => "VNC Command Terminal".to_owned(),
        };
        Some(Claimed {
            upid,
            vmid,
            kind,
            running: guest.is_some_and(|g| g.is_running()),
            password,
            name,
            desktop_name,
            size,
            control: rx,
        })
    }

    /// Whether a connected console should go on: its task runs and its guest still runs.
    pub fn console_alive(&self, c: &Claimed) -> bool {
        let task = self.task(&c.upid).is_some_and(|t| t.exitstatus.is_none());
        let guest = self
            .guests
            .get(&c.vmid)
            .is_some_and(|g| g.kind == c.kind && g.is_running());
        task && guest
    }

    /// Forgets a proxy and ends its task (unless it already ended).
    pub fn release_console(&mut self, upid: &str, log: Vec<String>, result: Result<(), String>) {
        self.consoles.proxies.remove(upid);
        self.end_task(upid, log, result);
    }

    /// Sets a guest's display size for its open and future consoles; returns how many open
    /// consoles were told.
    pub fn set_console_size(&mut self, vmid: u32, width: u16, height: u16) -> usize {
        self.consoles.sizes.insert(vmid, (width, height));
        let mut told = 0;
        for p in self.consoles.proxies.values_mut() {
            if p.vmid != vmid {
                continue;
            }
            p.size = None;
            if let Some(tx) = &p.control {
                if tx.send(Control::Resize(width, height)).is_ok() {
                    told += 1;
                }
            }
        }
        told
    }
}
