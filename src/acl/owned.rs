//! Capabilities. Every value in a request that names a Proxmox object — the guest it is about
//! and every node, pool, storage, volume, bridge and clone source inside it — reaches the
//! Proxmox client only as one of the types below, and only [`Permits`] makes them, after
//! checking that the caller may use that object for that purpose (read, attach, allocate on,
//! clone from, restore from). Their fields are private: a checked value can be read, never
//! built or changed elsewhere.

use std::fmt;
use std::sync::Arc;

use serde_json::Value;

use super::cache::View;
use super::sdn::{alias_of, designated, has_sdn_priv, owned_by, vnet_pool};
use super::{ConfigPriv, GuestAction, Principal};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::pve::models::Resource;
use crate::pve::models::ResourceKind;
use crate::pve::path::{ApiPath, GuestKind, Node, PoolId, Segment, Storage, Vmid, VolumeId};

/// What the deployment makes public.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Storages every user may read and allocate on (`ALLOWED_PUBLIC_STORAGES`).
    pub public_storages: Vec<String>,
    /// Bridges every user may put a NIC on, without VLAN tags (`ALLOWED_PUBLIC_BRIDGES`).
    pub public_bridges: Vec<String>,
    /// The pool whose templates everyone may clone (`PUBLIC_TEMPLATE_POOL`).
    pub template_pool: String,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            public_storages: Vec::new(),
            public_bridges: vec!["vmbr0".to_owned()],
            template_pool: "TEMPLATES".to_owned(),
        }
    }
}

fn forbidden(message: impl Into<String>) -> AppError {
    AppError::with_message(ErrorCode::Forbidden, message)
}

fn hidden(message: impl Into<String>) -> AppError {
    AppError::with_message(ErrorCode::NotFound, message)
}

// ---------------------------------------------------------------------------------------------
// The capabilities

/// A guest the caller may act on in the way it was checked for, with where it lives.
#[derive(Debug, Clone)]
pub struct Guest {
    vmid: Vmid,
    kind: GuestKind,
    node: Node,
    resource: Resource,
}

impl Guest {
    /// Its id.
    pub fn vmid(&self) -> Vmid {
        self.vmid
    }

    /// QEMU or LXC.
    pub fn kind(&self) -> GuestKind {
        self.kind
    }

    /// The node running it.
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// Its cluster resource entry.
    pub fn resource(&self) -> &Resource {
        &self.resource
    }

    /// The pool it belongs to.
    pub fn pool(&self) -> Option<&str> {
        self.resource.pool.as_deref()
    }

    /// `nodes/{node}/{kind}/{vmid}` followed by literal `rest`.
    pub fn path(&self, rest: &'static str) -> ApiPath {
        ApiPath::lit("nodes")
            .seg(&self.node)
            .seg(&self.kind)
            .seg(&self.vmid)
            .then(rest)
    }

    /// `vm:<id>`, the audit resource.
    pub fn audit_resource(&self) -> String {
        format!("vm:{}", self.vmid)
    }

    fn from_resource(vmid: Vmid, r: &Resource) -> AppResult<Self> {
        let kind = r.kind.guest().ok_or_else(|| {
            AppError::with_message(
                ErrorCode::UpstreamError,
                "Proxmox gave an unknown guest type",
            )
        })?;
        let node = Node::from_upstream(r.node.as_deref().unwrap_or_default())?;
        Ok(Self {
            vmid,
            kind,
            node,
            resource: r.clone(),
        })
    }
}

/// A node of the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetNode(Node);

impl TargetNode {
    /// The node.
    pub fn node(&self) -> &Node {
        &self.0
    }
}

/// A pool the caller may create guests in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetPool(PoolId);

impl TargetPool {
    /// The pool id.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

/// What a storage is asked to hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content {
    /// VM disk images.
    Images,
    /// Container volumes.
    Rootdir,
    /// Backup archives.
    Backup,
}

impl Content {
    fn name(self) -> &'static str {
        match self {
            Self::Images => "images",
            Self::Rootdir => "rootdir",
            Self::Backup => "backup",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Self::Images => "disk images",
            Self::Rootdir => "container volumes",
            Self::Backup => "backups",
        }
    }

    /// The content a guest's disks need.
    pub fn disks_of(kind: GuestKind) -> Self {
        match kind {
            GuestKind::Qemu => Self::Images,
            GuestKind::Lxc => Self::Rootdir,
        }
    }
}

/// A storage on a node that holds the content asked for, where the caller may allocate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsableStorage {
    id: Storage,
    content: Content,
}

impl UsableStorage {
    /// The storage id.
    pub fn as_str(&self) -> &str {
        self.id.as_str()
    }

    /// What it was checked for.
    pub fn content(&self) -> Content {
        self.content
    }
}

impl fmt::Display for UsableStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id.as_str())
    }
}

impl Segment for UsableStorage {
    fn segment(&self) -> String {
        self.id.segment()
    }
}

/// What a volume id names, read from its name as Proxmox reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VolumeKind {
    /// A disk image of a guest (`vm-110-disk-0`, `base-9000-disk-0`, `subvol-103-disk-0`).
    Image(u32),
    /// An ISO image (`iso/…`).
    Iso,
    /// A container template (`vztmpl/…`).
    CtTemplate,
    /// A backup archive of a guest (`backup/vzdump-qemu-101-…`).
    Backup(GuestKind, u32),
    /// An image to import (`import/…`).
    Import,
    /// Anything else (snippets, …).
    Other,
}

impl VolumeKind {
    /// Reads a volume name (the part after `storage:`).
    pub fn of(name: &str) -> Self {
        let (dir, file) = name.split_once('/').unwrap_or(("", name));
        match dir {
            "iso" => return Self::Iso,
            "vztmpl" => return Self::CtTemplate,
            "import" => return Self::Import,
            "snippets" => return Self::Other,
            "backup" => {
                let parse = |prefix: &str, kind| {
                    file.strip_prefix(prefix)
                        .and_then(|r| r.split('-').next())
                        .and_then(|id| id.parse().ok())
                        .map(|id| Self::Backup(kind, id))
                };
                return parse("vzdump-qemu-", GuestKind::Qemu)
                    .or_else(|| parse("vzdump-lxc-", GuestKind::Lxc))
                    .unwrap_or(Self::Other);
            }
            _ => {}
        }
        let last = name.rsplit('/').next().unwrap_or(name);
        ["vm-", "base-", "subvol-", "basevol-"]
            .iter()
            .find_map(|p| last.strip_prefix(p))
            .and_then(|rest| rest.split('-').next())
            .and_then(|id| id.parse().ok())
            .map_or(Self::Other, Self::Image)
    }
}

/// What a volume is to be used for.
#[derive(Debug, Clone, Copy)]
pub enum VolumeUse<'g> {
    /// Attached as a disk of this guest: it must be one of its own images.
    OwnDisk(&'g Guest),
    /// Copied into a new disk (`import-from`): an image of a guest the caller may clone, or an
    /// import image on a storage they may read.
    ImportFrom,
    /// Inserted into a CD drive: an ISO image on a storage the caller may read.
    Iso,
    /// Unpacked into a new container: a template on a storage the caller may read.
    CtTemplate,
    /// Restored over this guest: one of its own backups.
    RestoreOver(&'g Guest),
}

/// A volume the caller may use for the purpose it was checked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsableVolume {
    volid: VolumeId,
    kind: VolumeKind,
}

impl UsableVolume {
    /// The volume id.
    pub fn as_str(&self) -> &str {
        self.volid.as_str()
    }

    /// What it is.
    pub fn kind(&self) -> VolumeKind {
        self.kind
    }

    /// Its storage id.
    pub fn storage(&self) -> &str {
        self.volid.as_str().split(':').next().unwrap_or_default()
    }
}

impl fmt::Display for UsableVolume {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.volid.as_str())
    }
}

/// A bridge or VNet the caller may put a network device on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsableBridge {
    name: String,
    vlans: bool,
}

impl UsableBridge {
    /// The bridge id.
    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// Whether VLAN tags and trunks were allowed on it.
    pub fn vlans(&self) -> bool {
        self.vlans
    }
}

impl fmt::Display for UsableBridge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

// ---------------------------------------------------------------------------------------------
// The checks

/// The checks for one caller over one ACL view: the only maker of the capabilities above.
#[derive(Debug, Clone, Copy)]
pub struct Permits<'a> {
    view: &'a View,
    p: &'a Principal,
    policy: &'a Policy,
}

impl View {
    /// The checks for `p` over this view.
    pub fn permits<'a>(&'a self, p: &'a Principal) -> Permits<'a> {
        Permits {
            view: self,
            p,
            policy: &self.policy,
        }
    }
}

impl<'a> Permits<'a> {
    /// The principal checked.
    pub fn principal(&self) -> &Principal {
        self.p
    }

    /// The deployment's policy.
    pub fn policy(&self) -> &Policy {
        self.policy
    }

    fn admin(&self) -> bool {
        self.p.is_admin
    }

    /// A guest the caller may see and do `need` on. A guest they may not see is "not found"
    /// (its existence is not revealed); one they see but may not act on is forbidden.
    pub fn guest(&self, vmid: Vmid, need: GuestAction) -> AppResult<Guest> {
        let e = &self.view.engine;
        let Some(r) = self
            .view
            .guest(vmid.0)
            .filter(|_| e.guest_allows(self.p, vmid.0, GuestAction::View))
        else {
            return Err(hidden(format!("No guest {vmid}")));
        };
        let guest = Guest::from_resource(vmid, r)?;
        if need != GuestAction::View && !e.guest_allows(self.p, vmid.0, need) {
            let what = match need {
                GuestAction::Config(c) => format!(
                    "You need {} to change this part of {} {vmid}",
                    c.name(),
                    guest.kind.noun()
                ),
                _ => format!("You may not {} {} {vmid}", need.verb(), guest.kind.noun()),
            };
            return Err(forbidden(what));
        }
        Ok(guest)
    }

    /// Whether the caller holds `privilege` on a guest already checked.
    pub fn config_priv(&self, g: &Guest, privilege: ConfigPriv) -> bool {
        self.view
            .engine
            .guest_allows(self.p, g.vmid.0, GuestAction::Config(privilege))
    }

    /// A guest the caller may clone: a template of the public pool, or a guest they may see
    /// and hold `VM.Clone` on. Anything else is "not found".
    pub fn clone_source(&self, vmid: Vmid) -> AppResult<(Guest, bool)> {
        let Some(r) = self.view.guest(vmid.0) else {
            return Err(hidden(format!("No guest {vmid}")));
        };
        if self.is_public_template(r) {
            return Ok((Guest::from_resource(vmid, r)?, true));
        }
        let e = &self.view.engine;
        if !e.guest_allows(self.p, vmid.0, GuestAction::View) {
            return Err(hidden(format!("No guest {vmid}")));
        }
        let g = Guest::from_resource(vmid, r)?;
        if !e.guest_allows(self.p, vmid.0, GuestAction::Clone) {
            return Err(forbidden(format!(
                "You may not clone {} {vmid}",
                g.kind.noun()
            )));
        }
        Ok((g, false))
    }

    /// Whether a guest is a template in the public template pool.
    pub fn is_public_template(&self, r: &Resource) -> bool {
        r.template && r.pool.as_deref() == Some(self.policy.template_pool.as_str())
    }

    /// A node of the cluster.
    pub fn node(&self, field: &str, raw: &str) -> AppResult<TargetNode> {
        let node = Node::parse(field, raw)?;
        let known = self
            .view
            .resources
            .iter()
            .any(|r| r.kind == ResourceKind::Node && r.node.as_deref() == Some(node.as_str()));
        if known {
            Ok(TargetNode(node))
        } else {
            Err(AppError::field(field, format!("there is no node {node}")))
        }
    }

    /// A pool the caller may create guests in: administrators anywhere; others in pools they
    /// manage or where they hold `VM.Allocate`.
    pub fn pool_for_guests(&self, field: &str, raw: &str) -> AppResult<TargetPool> {
        let pool = PoolId::parse(field, raw)?;
        let e = &self.view.engine;
        let exists = self
            .view
            .resources
            .iter()
            .any(|r| r.kind == ResourceKind::Pool && r.pool.as_deref() == Some(pool.as_str()));
        if !exists {
            return Err(AppError::field(field, format!("there is no pool {pool}")));
        }
        let allowed = self.admin()
            || e.pool_access(self.p, pool.as_str()).manage
            || e.privileges(self.p, &format!("/pool/{pool}"))
                .contains("VM.Allocate");
        if allowed {
            Ok(TargetPool(pool))
        } else {
            Err(forbidden(format!(
                "You may not create guests in pool {pool}"
            )))
        }
    }

    /// Whether the caller may read a storage's content (ISO images, templates): public
    /// storages, or `Datastore.Audit`/`Datastore.AllocateSpace` on it.
    pub fn may_read_storage(&self, id: &str) -> bool {
        if self.admin() || self.view.engine.effective_admin(self.p) {
            return true;
        }
        super::visible::storage_readable(
            &self.view.engine,
            self.p,
            &self.policy.public_storages,
            id,
        )
    }

    fn may_allocate_on(&self, id: &str) -> bool {
        self.admin()
            || self.policy.public_storages.iter().any(|s| s == id)
            || self
                .view
                .engine
                .privileges(self.p, &format!("/storage/{id}"))
                .contains("Datastore.AllocateSpace")
    }

    /// A storage on `node` that holds `content`, where the caller may allocate
    /// (`Datastore.AllocateSpace`, or a public storage).
    pub fn storage(
        &self,
        field: &str,
        raw: &str,
        content: Content,
        node: &Node,
    ) -> AppResult<UsableStorage> {
        let id = Storage::parse(field, raw)?;
        let entry = self.view.resources.iter().find(|r| {
            r.kind == ResourceKind::Storage
                && r.storage.as_deref() == Some(id.as_str())
                && r.node.as_deref() == Some(node.as_str())
        });
        let Some(entry) = entry else {
            return Err(AppError::field(
                field,
                format!("there is no storage {id} on node {node}"),
            ));
        };
        if !self.may_allocate_on(id.as_str()) {
            return Err(forbidden(format!("You may not allocate on storage {id}")));
        }
        let holds = entry
            .content
            .as_deref()
            .is_some_and(|c| c.split(',').any(|x| x.trim() == content.name()));
        if !holds {
            return Err(AppError::field(
                field,
                format!("storage {id} does not hold {}", content.noun()),
            ));
        }
        Ok(UsableStorage { id, content })
    }

    /// A volume the caller may use for `purpose`.
    pub fn volume(
        &self,
        field: &str,
        raw: &str,
        purpose: VolumeUse<'_>,
    ) -> AppResult<UsableVolume> {
        let volid = VolumeId::parse_volume(field, raw)?;
        let (storage, name) = volid.as_str().split_once(':').unwrap_or_default();
        let kind = VolumeKind::of(name);
        let ok = |kind| {
            Ok(UsableVolume {
                volid: volid.clone(),
                kind,
            })
        };
        if self.admin() {
            return ok(kind);
        }
        let readable = |what: &str| -> AppResult<()> {
            if self.may_read_storage(storage) {
                Ok(())
            } else {
                Err(forbidden(format!(
                    "You may not use {what} of storage {storage}"
                )))
            }
        };
        match (purpose, kind) {
            (VolumeUse::OwnDisk(g), VolumeKind::Image(owner)) => {
                if owner == g.vmid.0 {
                    ok(kind)
                } else {
                    Err(forbidden(format!(
                        "Volume {volid} belongs to guest {owner}, not to {} {}",
                        g.kind.noun(),
                        g.vmid
                    )))
                }
            }
            (VolumeUse::OwnDisk(g), _) => Err(forbidden(format!(
                "{volid} is not a disk image of {} {}",
                g.kind.noun(),
                g.vmid
            ))),
            (VolumeUse::ImportFrom, VolumeKind::Image(owner)) => {
                let public = self
                    .view
                    .guest(owner)
                    .is_some_and(|r| self.is_public_template(r));
                let e = &self.view.engine;
                if public || e.guest_allows(self.p, owner, GuestAction::Clone) {
                    ok(kind)
                } else {
                    Err(forbidden(format!(
                        "Volume {volid} belongs to guest {owner}, which you may not copy"
                    )))
                }
            }
            (VolumeUse::ImportFrom, VolumeKind::Import) => {
                readable("the images")?;
                ok(kind)
            }
            (VolumeUse::ImportFrom, _) => Err(forbidden(format!(
                "{volid} is not a disk image you may copy"
            ))),
            (VolumeUse::Iso, VolumeKind::Iso) => {
                readable("the ISO images")?;
                ok(kind)
            }
            (VolumeUse::Iso, _) => Err(forbidden(format!("{volid} is not an ISO image"))),
            (VolumeUse::CtTemplate, VolumeKind::CtTemplate) => {
                readable("the templates")?;
                ok(kind)
            }
            (VolumeUse::CtTemplate, _) => {
                Err(forbidden(format!("{volid} is not a container template")))
            }
            (VolumeUse::RestoreOver(g), VolumeKind::Backup(bkind, id))
                if id == g.vmid.0 && bkind == g.kind =>
            {
                ok(kind)
            }
            (VolumeUse::RestoreOver(g), _) => Err(AppError::field(
                field,
                format!("{volid} is no backup of {} {}", g.kind.noun(), g.vmid),
            )),
        }
    }

    /// A bridge or VNet the caller may put a network device on; `vlans` asks for VLAN tags or
    /// trunks on it. Tenants may use the public bridges (untagged), VNets they own or that are
    /// charged to a pool they see, unowned VNets of designated zones or of zones they hold an
    /// SDN privilege on, and other bridges where they hold `SDN.Use` on
    /// `/sdn/zones/localnetwork/<bridge>` (as Proxmox checks). VLAN tags and trunks: only on
    /// VLAN-aware VNets they own or on pools they manage.
    pub fn bridge(
        &self,
        field: &str,
        raw: &str,
        vlans: bool,
        vnets: &[Value],
    ) -> AppResult<UsableBridge> {
        let valid = raw.len() <= 15
            && raw.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && raw
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !valid {
            return Err(AppError::field(field, "a bridge or VNet name like vmbr0"));
        }
        let ok = || {
            Ok(UsableBridge {
                name: raw.to_owned(),
                vlans,
            })
        };
        if self.admin() {
            return ok();
        }
        let e = &self.view.engine;
        let denied = || forbidden(format!("You may not use the network {raw}"));
        let no_vlans = || {
            forbidden(format!(
                "VLAN tags and trunks on {raw} are for administrators; use a VLAN-aware VNet of your own"
            ))
        };
        let vnet = vnets
            .iter()
            .find(|v| v.get("vnet").and_then(Value::as_str) == Some(raw));
        let Some(vnet) = vnet else {
            if self.policy.public_bridges.iter().any(|b| b == raw) {
                return if vlans { Err(no_vlans()) } else { ok() };
            }
            let privs = e.privileges(self.p, &format!("/sdn/zones/localnetwork/{raw}"));
            if privs.contains("SDN.Use") {
                return if vlans { Err(no_vlans()) } else { ok() };
            }
            return Err(denied());
        };
        let alias = alias_of(vnet);
        let pool = vnet_pool(&self.view.resources, vnet);
        let owner_known = super::sdn::alias_owner(alias).is_some() || pool.is_some();
        let mine = owned_by(alias, &self.p.username);
        let pool_access = pool.map(|pool| e.pool_access(self.p, pool));
        let usable = if owner_known {
            mine || pool_access.is_some_and(|a| a.see)
        } else {
            let zone = vnet.get("zone").and_then(Value::as_str).unwrap_or_default();
            designated(zone)
                || has_sdn_priv(&e.privileges(self.p, &format!("/sdn/zones/{zone}/{raw}")))
        };
        if !usable {
            return Err(denied());
        }
        if vlans {
            let aware = match vnet.get("vlanaware") {
                Some(Value::Number(n)) => n.as_i64() == Some(1),
                Some(Value::Bool(b)) => *b,
                Some(Value::String(s)) => s == "1",
                _ => false,
            };
            let may_tag = mine || pool_access.is_some_and(|a| a.manage);
            if !(aware && may_tag) {
                return Err(no_vlans());
            }
        }
        ok()
    }
}

/// Shared between views: the policy they decide with.
pub type SharedPolicy = Arc<Policy>;
