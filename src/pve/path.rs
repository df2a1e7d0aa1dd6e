//! Upstream paths. Every value that becomes part of a Proxmox URL path is one of the checked
//! types below (parsed against its Proxmox grammar, so `..`, `/` and `?` can never reach the
//! path) and is percent-encoded as one segment by [`ApiPath`]. Literal parts come only from
//! `&'static str`, so a formatted string with user input cannot be passed as a path.

use std::fmt;
use std::sync::LazyLock;

use regex::Regex;

use crate::error::{AppError, ErrorCode};

/// A path below `/api2/json/`, as segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiPath(Vec<String>);

impl ApiPath {
    /// A path from literal segments (`"cluster/resources"`).
    pub fn lit(path: &'static str) -> Self {
        Self(
            path.split('/')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        )
    }

    /// Appends literal segments.
    #[must_use]
    pub fn then(mut self, path: &'static str) -> Self {
        self.0
            .extend(path.split('/').filter(|s| !s.is_empty()).map(str::to_owned));
        self
    }

    /// Appends one checked value as a single segment.
    #[must_use]
    pub fn seg(mut self, value: &impl Segment) -> Self {
        self.0.push(value.segment());
        self
    }

    /// The segments, unencoded.
    pub fn segments(&self) -> &[String] {
        &self.0
    }

    /// `nodes/{node}/storage`.
    pub fn node_storages(node: &Node) -> Self {
        Self::lit("nodes").seg(node).then("storage")
    }

    /// `nodes/{node}/storage/{storage}/content`.
    pub fn storage_content(node: &Node, storage: &impl Segment) -> Self {
        Self::node_storages(node).seg(storage).then("content")
    }
}

impl From<&'static str> for ApiPath {
    fn from(path: &'static str) -> Self {
        Self::lit(path)
    }
}

impl fmt::Display for ApiPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join("/"))
    }
}

/// A value that may stand as one path segment.
pub trait Segment {
    /// The raw segment (encoded when the URL is built).
    fn segment(&self) -> String;
}

fn invalid(field: &str, reason: &str) -> AppError {
    AppError::field(field, reason)
}

macro_rules! checked {
    ($(#[$doc:meta])* $name:ident, $re:expr, $reason:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Checks `raw` against the grammar; `field` names the input in the error.
            pub fn parse(field: &str, raw: &str) -> Result<Self, AppError> {
                static RE: LazyLock<Regex> = LazyLock::new(|| {
                    #[allow(clippy::expect_used)]
                    Regex::new($re).expect("static pattern")
                });
                if RE.is_match(raw) {
                    Ok(Self(raw.to_owned()))
                } else {
                    Err(invalid(field, $reason))
                }
            }

            /// The value.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl Segment for $name {
            fn segment(&self) -> String {
                self.0.clone()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

checked!(
    /// A node name (`pve-node`: a DNS label).
    Node,
    r"^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$",
    "a node name is letters, digits and inner dashes (at most 63)"
);
checked!(
    /// A storage id (`pve-storage-id`).
    Storage,
    r"^[a-zA-Z][a-zA-Z0-9\-_.]{0,98}[a-zA-Z0-9]$",
    "a storage id starts with a letter and holds letters, digits, '-', '_' and '.'"
);
checked!(
    /// A snapshot name (`pve-snapshot-name`), never `current` or `pending`.
    SnapName,
    r"^[a-zA-Z][a-zA-Z0-9_\-]{1,39}$",
    "a snapshot name is 2 to 40 letters, digits, '-' or '_', starting with a letter"
);
checked!(
    /// A pool id (`pve-poolid`).
    PoolId,
    r"^[A-Za-z0-9_\-.]{1,64}$",
    "a pool id is 1 to 64 letters, digits, '-', '_' or '.'"
);
checked!(
    /// An SDN zone id (`pve-sdn-zone-id`: letters and digits, case-insensitive).
    ZoneId,
    r"^[a-zA-Z][a-zA-Z0-9]{1,7}$",
    "a zone id is 2 to 8 letters or digits, starting with a letter"
);
checked!(
    /// An SDN VNet id (`pve-sdn-vnet-id`: letters and digits, case-insensitive).
    VnetId,
    r"^[a-zA-Z][a-zA-Z0-9]{1,7}$",
    "a VNet id is 2 to 8 letters or digits, starting with a letter"
);
checked!(
    /// A replication job id (`<vmid>-<n>`).
    ReplId,
    r"^[1-9][0-9]{2,8}-[0-9]{1,9}$",
    "a replication job id is '<guest id>-<number>'"
);
checked!(
    /// A Proxmox task id (`UPID:node:pid:pstart:starttime:type:id:user:`).
    Upid,
    r"^UPID:[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?:[0-9A-Fa-f]{8}:[0-9A-Fa-f]{8,9}:[0-9A-Fa-f]{8}:[a-zA-Z0-9_\-]+:[^:/\\\s]*:[^:/\\\s]+:$",
    "not a Proxmox task id (UPID)"
);
checked!(
    /// A storage volume id (`storage:content/file`), used as one segment.
    VolumeId,
    r"^[a-zA-Z][a-zA-Z0-9\-_.]{0,98}[a-zA-Z0-9]:[a-zA-Z0-9\-_./+]{1,240}$",
    "not a storage volume id ('storage:path')"
);

impl VolumeId {
    /// Parses a volume id and refuses `..` path parts (no volume name has them).
    pub fn parse_volume(field: &str, raw: &str) -> Result<Self, AppError> {
        let v = Self::parse(field, raw)?;
        if v.0.split(['/', ':']).any(|p| p == ".." || p == ".") {
            return Err(invalid(field, "not a storage volume id ('storage:path')"));
        }
        Ok(v)
    }
}

impl SnapName {
    /// Parses and refuses the names Proxmox reserves.
    pub fn parse_new(field: &str, raw: &str) -> Result<Self, AppError> {
        let s = Self::parse(field, raw)?;
        if matches!(s.0.as_str(), "current" | "pending" | "vzdump") {
            return Err(invalid(field, "this snapshot name is reserved by Proxmox"));
        }
        Ok(s)
    }
}

impl Upid {
    /// The node the task runs on (field 1).
    pub fn node(&self) -> Node {
        Node(self.0.split(':').nth(1).unwrap_or_default().to_owned())
    }

    /// The task type (field 5), e.g. `qmstart`.
    pub fn task_type(&self) -> &str {
        self.0.split(':').nth(5).unwrap_or_default()
    }

    /// The task's object id (field 6): a guest id for guest tasks.
    pub fn object_id(&self) -> &str {
        self.0.split(':').nth(6).unwrap_or_default()
    }

    /// The guest the task is about, when its id is one.
    pub fn vmid(&self) -> Option<u32> {
        self.object_id().parse().ok()
    }
}

impl Node {
    /// A node name Proxmox itself reported (still checked, never trusted blindly).
    pub fn from_upstream(raw: &str) -> Result<Self, AppError> {
        Self::parse("node", raw).map_err(|_| {
            AppError::with_message(
                ErrorCode::UpstreamError,
                format!("Proxmox reported an invalid node name {raw:?}"),
            )
        })
    }
}

/// A guest id (100 to 999999999).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct Vmid(pub u32);

impl Vmid {
    /// Parses a guest id.
    pub fn parse(field: &str, raw: &str) -> Result<Self, AppError> {
        raw.trim()
            .parse::<u32>()
            .ok()
            .filter(|id| (100..=999_999_999).contains(id))
            .map(Self)
            .ok_or_else(|| invalid(field, "a guest id is a number from 100 to 999999999"))
    }

    /// Checks a number.
    pub fn check(field: &str, id: u64) -> Result<Self, AppError> {
        u32::try_from(id)
            .ok()
            .filter(|id| (100..=999_999_999).contains(id))
            .map(Self)
            .ok_or_else(|| invalid(field, "a guest id is a number from 100 to 999999999"))
    }
}

impl Segment for Vmid {
    fn segment(&self) -> String {
        self.0.to_string()
    }
}

impl fmt::Display for Vmid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Guest type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GuestKind {
    /// A QEMU virtual machine.
    Qemu,
    /// An LXC container.
    Lxc,
}

impl GuestKind {
    /// `qemu` or `lxc`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Qemu => "qemu",
            Self::Lxc => "lxc",
        }
    }

    /// "VM" or "container", for messages.
    pub fn noun(self) -> &'static str {
        match self {
            Self::Qemu => "VM",
            Self::Lxc => "container",
        }
    }
}

/// A power action on a guest: `POST …/{qemu|lxc}/{vmid}/status/{action}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PowerAction {
    /// Boot it.
    Start,
    /// Pull the plug.
    Stop,
    /// Ask the guest to shut down.
    Shutdown,
    /// Ask the guest to reboot.
    Reboot,
    /// Pause it (QEMU) or freeze it (LXC).
    Suspend,
    /// Undo a suspend.
    Resume,
    /// Press the reset button (QEMU only).
    Reset,
}

impl PowerAction {
    /// Every action, in the order menus show them.
    pub const ALL: [Self; 7] = [
        Self::Start,
        Self::Shutdown,
        Self::Reboot,
        Self::Stop,
        Self::Suspend,
        Self::Resume,
        Self::Reset,
    ];

    /// The wire name (`start`, …).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Stop => "stop",
            Self::Shutdown => "shutdown",
            Self::Reboot => "reboot",
            Self::Suspend => "suspend",
            Self::Resume => "resume",
            Self::Reset => "reset",
        }
    }

    /// The action named `raw` in input `field`.
    pub fn parse(field: &str, raw: &str) -> Result<Self, AppError> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == raw)
            .ok_or_else(|| {
                invalid(
                    field,
                    &format!(
                        "unknown power action '{}': use start, shutdown, reboot, stop, suspend, resume or reset (VMs only)",
                        raw.chars().take(32).collect::<String>()
                    ),
                )
            })
    }

    /// Whether Proxmox offers it for guests of `kind` (containers have no reset).
    pub fn applies_to(self, kind: GuestKind) -> bool {
        self != Self::Reset || kind == GuestKind::Qemu
    }

    /// The path below the guest: each arm a literal.
    pub const fn path(self) -> &'static str {
        match self {
            Self::Start => "status/start",
            Self::Stop => "status/stop",
            Self::Shutdown => "status/shutdown",
            Self::Reboot => "status/reboot",
            Self::Suspend => "status/suspend",
            Self::Resume => "status/resume",
            Self::Reset => "status/reset",
        }
    }
}

impl std::fmt::Display for PowerAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Segment for GuestKind {
    fn segment(&self) -> String {
        self.as_str().to_owned()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn grammars_refuse_path_tricks() {
        for bad in ["../x", "a/b", "pve?x=1", "", "-pve", "pve%2f"] {
            assert!(Node::parse("node", bad).is_err(), "{bad}");
        }
        assert!(Node::parse("node", "pve-1").is_ok());
        let upid = "UPID:pve1:0000A1B2:0001C3D4:65A0B1C2:qmstart:100:uma@pve!svc:";
        let u = Upid::parse("upid", upid).unwrap();
        assert_eq!(u.node().as_str(), "pve1");
        assert_eq!(u.vmid(), Some(100));
        assert_eq!(u.task_type(), "qmstart");
        for bad in [
            "UPID:pve1:0000A1B2:0001C3D4:65A0B1C2:qmstart:100:../../access:",
            "UPID:pve1:0000A1B2:0001C3D4:65A0B1C2:qmstart:100:a/b:",
            "UPID:../x:0000A1B2:0001C3D4:65A0B1C2:qmstart:100:u@pve:",
            "status",
        ] {
            assert!(Upid::parse("upid", bad).is_err(), "{bad}");
        }
        assert!(SnapName::parse_new("snapname", "current").is_err());
        assert!(SnapName::parse_new("snapname", "before-upgrade").is_ok());
        assert!(SnapName::parse_new("snapname", "1abc").is_err());
        assert!(ReplId::parse("id", "100-0").is_ok());
        assert!(ReplId::parse("id", "100-0/../x").is_err());
        assert!(Vmid::parse("vmid", "99").is_err());
        assert!(Vmid::parse("vmid", "100").is_ok());
    }

    #[test]
    fn paths_join_checked_segments() {
        let p = ApiPath::lit("nodes")
            .seg(&Node::parse("node", "pve1").unwrap())
            .then("tasks")
            .seg(
                &Upid::parse(
                    "upid",
                    "UPID:pve1:0000A1B2:0001C3D4:65A0B1C2:qmstart:100:uma@pve!svc:",
                )
                .unwrap(),
            )
            .then("status");
        assert_eq!(p.segments().len(), 5);
    }
}
