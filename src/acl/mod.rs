//! The ACL engine: what a Uma user may see and do in Proxmox, decided from one snapshot of the
//! cluster's ACL entries, roles and pool membership.
//!
//! It follows the original's flow (admin → pool ownership by name → ACLs on pools and guests)
//! with Proxmox's own semantics instead of the original's role lists: roles resolve to
//! privileges (custom roles work), the deepest matching path wins, `propagate` is honoured, pool
//! roles reach member guests, and NoAccess always wins. Fixed against the original: a granted
//! PVEPoolAdmin gives access, NoAccess never grants, group-owned pools count, and API tokens
//! never stand in for a person.
//!
//! Identity is exact. A user ACL entry `bob@<realm>` applies to the Uma user `bob` only in the
//! realm Uma's users come from (`PROXMOX_USER_REALM`; without it, only when `bob@…` is the one
//! Proxmox user of that name). A pool is owned by name only as `DEV_<owner>_<digits>` with the
//! owner compared whole — and when Uma created the pool, by the owner recorded in its comment.

pub mod cache;
pub mod keys;
pub mod load;
pub mod owned;
pub mod sdn;
pub mod visible;

use std::collections::{BTreeSet, HashMap};

/// Who holds an ACL entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UgidKind {
    /// A Proxmox user (`name@realm`).
    User,
    /// A Proxmox group.
    Group,
    /// An API token (`name@realm!token`).
    Token,
}

/// One entry of `GET /access/acl`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclEntry {
    /// `/`, `/vms/100`, `/pool/DEV_alice_1`, …
    pub path: String,
    /// Holder kind.
    pub kind: UgidKind,
    /// Holder id.
    pub ugid: String,
    /// Role id.
    pub roleid: String,
    /// Applies below `path` too.
    pub propagate: bool,
}

/// The cluster facts the engine needs, fetched together.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// ACL entries.
    pub acl: Vec<AclEntry>,
    /// Role id → privileges.
    pub roles: HashMap<String, BTreeSet<String>>,
    /// Guest id → its pool.
    pub guest_pools: HashMap<u32, String>,
    /// Proxmox user ids (`name@realm`), to find a Uma user's one Proxmox user when no realm is
    /// configured.
    pub users: Vec<String>,
    /// Pool id → its comment (where Uma records a pool's owner).
    pub pool_comments: HashMap<String, String>,
}

/// The person asking, as their session knows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Uma username.
    pub username: String,
    /// Group CNs.
    pub groups: Vec<String>,
    /// Uma administrator.
    pub is_admin: bool,
}

/// How Uma names map to Proxmox ids (`PROXMOX_USER_REALM`).
#[derive(Debug, Clone, Default)]
pub struct Naming {
    /// Realm suffix of Proxmox group ids (`devs` → `devs-SDC`).
    pub realm: Option<String>,
}

/// The configuration privileges, split as Proxmox splits them (`check_vm_modify_config_perm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConfigPriv {
    /// Cores, sockets, vCPUs, CPU type and limits, NUMA.
    Cpu,
    /// Memory, balloon, shares, swap.
    Memory,
    /// Disks (not CD drives), boot order.
    Disk,
    /// Network devices and firewall rules.
    Network,
    /// Name, description, tags, start at boot, protection, OS type, agent, …
    Options,
    /// CD drives.
    Cdrom,
    /// Cloud-init settings.
    Cloudinit,
    /// Emulated hardware: display, machine, controllers, serial sockets.
    HwType,
}

impl ConfigPriv {
    /// The Proxmox privilege.
    pub fn name(self) -> &'static str {
        self.as_slice()[0]
    }

    fn as_slice(self) -> &'static [&'static str] {
        match self {
            Self::Cpu => &["VM.Config.CPU"],
            Self::Memory => &["VM.Config.Memory"],
            Self::Disk => &["VM.Config.Disk"],
            Self::Network => &["VM.Config.Network"],
            Self::Options => &["VM.Config.Options"],
            Self::Cdrom => &["VM.Config.CDROM"],
            Self::Cloudinit => &["VM.Config.Cloudinit"],
            Self::HwType => &["VM.Config.HWType"],
        }
    }
}

/// A privilege Uma checks before acting on a guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuestAction {
    /// See it (status, config, charts).
    View,
    /// Start, stop, shutdown, reboot, suspend, resume, reset.
    Power,
    /// Open its console.
    Console,
    /// Change some part of its configuration (each key then needs its own [`ConfigPriv`]).
    Configure,
    /// Change one part of its configuration.
    Config(ConfigPriv),
    /// Create, delete snapshots.
    Snapshot,
    /// Roll back to a snapshot.
    Rollback,
    /// Back it up.
    Backup,
    /// Clone it.
    Clone,
    /// Delete it, convert it to a template.
    Allocate,
    /// Create or remove its storage replication jobs.
    Replicate,
}

impl GuestAction {
    /// The Proxmox privileges any one of which allows the action.
    pub fn privileges(self) -> &'static [&'static str] {
        match self {
            Self::View => &["VM.Audit"],
            Self::Power => &["VM.PowerMgmt"],
            Self::Console => &["VM.Console"],
            Self::Configure => &[
                "VM.Config.CPU",
                "VM.Config.Memory",
                "VM.Config.Disk",
                "VM.Config.Network",
                "VM.Config.Options",
                "VM.Config.CDROM",
                "VM.Config.Cloudinit",
                "VM.Config.HWType",
            ],
            Self::Config(p) => p.as_slice(),
            Self::Snapshot => &["VM.Snapshot"],
            Self::Rollback => &["VM.Snapshot.Rollback"],
            Self::Backup => &["VM.Backup"],
            Self::Clone => &["VM.Clone"],
            Self::Allocate => &["VM.Allocate"],
            Self::Replicate => &["VM.Replicate"],
        }
    }

    /// The verb phrase of refusals ("You may not {verb} VM 100").
    pub fn verb(self) -> &'static str {
        match self {
            Self::View => "see",
            Self::Power => "change the power state of",
            Self::Console => "open the console of",
            Self::Configure | Self::Config(_) => "change the configuration of",
            Self::Snapshot => "manage the snapshots of",
            Self::Rollback => "roll back",
            Self::Backup => "back up",
            Self::Clone => "clone",
            Self::Allocate => "delete or convert",
            Self::Replicate => "manage the replication of",
        }
    }
}

/// What a user may do with a pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolAccess {
    /// See the pool and its members.
    pub see: bool,
    /// Manage it: members, its ACLs, deletion.
    pub manage: bool,
}

/// Replaces every character outside `[A-Za-z0-9_-]` with `_` (pool-id comparison).
pub fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The CN of a DN-like group name, else the name.
pub fn cn(name: &str) -> &str {
    let t = name.trim();
    match t.split(',').next().and_then(|first| first.split_once('=')) {
        Some((k, v)) if k.trim().eq_ignore_ascii_case("cn") => v.trim(),
        _ => t,
    }
}

fn push_both(out: &mut BTreeSet<String>, v: &str) {
    if !v.is_empty() {
        out.insert(v.to_owned());
        out.insert(v.to_lowercase());
    }
}

/// The account name of a Uma username: after a `DOMAIN\`, before an `@` (`CORP\bob`,
/// `bob@corp.example` and `bob` are all `bob`).
pub fn local_name(username: &str) -> &str {
    let raw = username.trim();
    let after = raw.rsplit_once('\\').map_or(raw, |(_, a)| a);
    after.split_once('@').map_or(after, |(l, _)| l)
}

impl Naming {
    /// Proxmox group ids a session group may appear as: its CN, and with the realm suffix
    /// Proxmox's directory sync adds (`devs` ↔ `devs-<realm>`).
    pub fn group_variants(&self, group: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        push_both(&mut out, group.trim());
        let cn = cn(group);
        push_both(&mut out, cn);
        if let Some(realm) = &self.realm {
            let suffix = format!("-{realm}");
            if cn.to_lowercase().ends_with(&suffix.to_lowercase()) {
                push_both(&mut out, &cn[..cn.len() - suffix.len()]);
            } else {
                push_both(&mut out, &format!("{cn}{suffix}"));
            }
        }
        out
    }
}

/// The owner part of a pool id of the owner naming rule, `DEV_<owner>_<digits>`.
pub fn pool_owner_part(pool: &str) -> Option<&str> {
    let rest = pool.strip_prefix("DEV_")?;
    let (owner, n) = rest.rsplit_once('_')?;
    (!owner.is_empty() && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())).then_some(owner)
}

/// Who Uma recorded as a pool's owner (the last `[Owner: user:ID]` or `[Owner: group:ID]` of
/// its comment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnerTag {
    /// A Proxmox user id.
    User(String),
    /// A Proxmox group id.
    Group(String),
}

impl OwnerTag {
    /// Reads the tag from a pool comment.
    pub fn of_comment(comment: &str) -> Option<Self> {
        let at = comment.rfind("[Owner: ")?;
        let inner = comment[at + "[Owner: ".len()..].split(']').next()?;
        match inner.split_once(':')? {
            ("user", id) if !id.is_empty() => Some(Self::User(id.to_owned())),
            ("group", id) if !id.is_empty() => Some(Self::Group(id.to_owned())),
            _ => None,
        }
    }

    /// The tag as Uma writes it.
    pub fn render(&self) -> String {
        match self {
            Self::User(id) => format!("[Owner: user:{id}]"),
            Self::Group(id) => format!("[Owner: group:{id}]"),
        }
    }

    /// Whether the owner's name needs no sanitizing in pool names, so that pools made outside
    /// Uma under that name (without a record) are theirs.
    pub fn claims_by_name(&self, naming: &Naming) -> bool {
        let raw = match self {
            Self::User(id) => local_name(id).to_owned(),
            Self::Group(gid) => {
                let cn = cn(gid);
                naming
                    .realm
                    .as_deref()
                    .and_then(|r| cn.strip_suffix(&format!("-{r}")))
                    .unwrap_or(cn)
                    .to_owned()
            }
        };
        sanitize(&raw) == raw
    }

    /// The name part a pool of this owner is named after (`DEV_<part>_<n>`).
    pub fn name_part(&self, naming: &Naming) -> String {
        match self {
            Self::User(id) => sanitize(id.rsplit_once('@').map_or(id.as_str(), |(l, _)| l)),
            Self::Group(gid) => {
                let cn = cn(gid);
                let base = naming
                    .realm
                    .as_deref()
                    .and_then(|r| cn.strip_suffix(&format!("-{r}")))
                    .unwrap_or(cn);
                sanitize(base)
            }
        }
    }
}

/// The engine: a snapshot with the naming rules.
#[derive(Debug, Clone, Default)]
pub struct Engine {
    /// The cluster facts.
    pub snapshot: Snapshot,
    /// Name mapping.
    pub naming: Naming,
}

impl Engine {
    /// An engine over `snapshot`.
    pub fn new(snapshot: Snapshot, naming: Naming) -> Self {
        Self { snapshot, naming }
    }

    /// Whether the Proxmox user id `ugid` is this principal: the same account name (letter
    /// case aside, as directories compare) in the realm Uma's users come from — or, with no
    /// realm configured, the one Proxmox user of that name.
    pub fn is_user(&self, p: &Principal, ugid: &str) -> bool {
        let Some((local, realm)) = ugid.rsplit_once('@') else {
            return false;
        };
        if realm.contains('!') || !local.eq_ignore_ascii_case(local_name(&p.username)) {
            return false;
        }
        match &self.naming.realm {
            Some(r) => realm == r,
            None => self.proxmox_user(p) == Some(ugid),
        }
    }

    /// The principal's Proxmox user id when no realm is configured: the one Proxmox user with
    /// their account name (none when there are several).
    pub fn proxmox_user(&self, p: &Principal) -> Option<&str> {
        let name = local_name(&p.username);
        let mut matching = self.snapshot.users.iter().filter(|u| {
            u.rsplit_once('@')
                .is_some_and(|(l, _)| l.eq_ignore_ascii_case(name))
        });
        let one = matching.next()?;
        matching.next().is_none().then_some(one.as_str())
    }

    /// Whether the principal is in the Proxmox group `gid`.
    pub fn in_group(&self, p: &Principal, gid: &str) -> bool {
        let lower = gid.to_lowercase();
        p.groups.iter().any(|g| {
            let v = self.naming.group_variants(g);
            v.contains(gid) || v.contains(&lower)
        })
    }

    fn holds(&self, p: &Principal, e: &AclEntry) -> bool {
        match e.kind {
            UgidKind::User => self.is_user(p, &e.ugid),
            UgidKind::Group => self.in_group(p, &e.ugid),
            // Tokens are service identities, never a person's.
            UgidKind::Token => false,
        }
    }

    /// Roles from ACLs on `path` or its ancestors: the deepest level with a matching entry wins;
    /// at one level a user's entries beat their groups'.
    fn path_roles(&self, p: &Principal, path: &str) -> BTreeSet<String> {
        let mut levels = vec!["/".to_owned()];
        let mut acc = String::new();
        for part in path.split('/').filter(|s| !s.is_empty()) {
            acc.push('/');
            acc.push_str(part);
            levels.push(acc.clone());
        }
        for level in levels.iter().rev() {
            let exact = level == path;
            let entries: Vec<&AclEntry> = self
                .snapshot
                .acl
                .iter()
                .filter(|e| &e.path == level && (exact || e.propagate) && self.holds(p, e))
                .collect();
            if entries.is_empty() {
                continue;
            }
            let users: BTreeSet<String> = entries
                .iter()
                .filter(|e| e.kind == UgidKind::User)
                .map(|e| e.roleid.clone())
                .collect();
            if !users.is_empty() {
                return users;
            }
            return entries.iter().map(|e| e.roleid.clone()).collect();
        }
        BTreeSet::new()
    }

    fn privileges_of(&self, roles: &BTreeSet<String>) -> BTreeSet<String> {
        if roles.iter().any(|r| is_no_access(r)) {
            return BTreeSet::new();
        }
        roles
            .iter()
            .filter_map(|r| self.snapshot.roles.get(r))
            .flat_map(|privs| privs.iter().cloned())
            .collect()
    }

    /// Roles set exactly on `path` (a user's beat their groups').
    fn exact_roles(&self, p: &Principal, path: &str) -> BTreeSet<String> {
        let entries: Vec<&AclEntry> = self
            .snapshot
            .acl
            .iter()
            .filter(|e| e.path == path && self.holds(p, e))
            .collect();
        let users: BTreeSet<String> = entries
            .iter()
            .filter(|e| e.kind == UgidKind::User)
            .map(|e| e.roleid.clone())
            .collect();
        if users.is_empty() {
            entries.iter().map(|e| e.roleid.clone()).collect()
        } else {
            users
        }
    }

    /// Effective privileges on `path`. For `/vms/ID` the roles set on the guest's pool count
    /// too (pool roles reach members but are not inherited from above the pool).
    pub fn privileges(&self, p: &Principal, path: &str) -> BTreeSet<String> {
        let mut roles = self.path_roles(p, path);
        if let Some(id) = path
            .strip_prefix("/vms/")
            .and_then(|v| v.parse::<u32>().ok())
        {
            if let Some(pool) = self.snapshot.guest_pools.get(&id) {
                roles.extend(self.exact_roles(p, &format!("/pool/{pool}")));
            }
        }
        self.privileges_of(&roles)
    }

    /// Whether the principal owns the pool: its id is `DEV_<owner>_<digits>` with the owner
    /// compared whole, and — for pools Uma made — the owner recorded in its comment is the
    /// principal (or a group of theirs). A pool made elsewhere, without the record, is owned by
    /// name only when the name needs no sanitizing (so `john.doe` and `john_doe` can't both
    /// claim `DEV_john_doe_1`).
    pub fn owns_pool(&self, p: &Principal, pool: &str) -> bool {
        let Some(part) = pool_owner_part(pool) else {
            return false;
        };
        match self.pool_owner(pool) {
            Some(tag) => {
                tag.name_part(&self.naming).eq_ignore_ascii_case(part)
                    && match &tag {
                        OwnerTag::User(id) => self.is_user(p, id),
                        OwnerTag::Group(gid) => self.in_group(p, gid),
                    }
            }
            None => {
                let unambiguous =
                    |name: &str| name == sanitize(name) && name.eq_ignore_ascii_case(part);
                unambiguous(local_name(&p.username))
                    || p.groups
                        .iter()
                        .any(|g| self.naming.group_variants(g).iter().any(|v| unambiguous(v)))
            }
        }
    }

    /// The owner Uma recorded for a pool, if any.
    pub fn pool_owner(&self, pool: &str) -> Option<OwnerTag> {
        self.snapshot
            .pool_comments
            .get(pool)
            .and_then(|c| OwnerTag::of_comment(c))
    }

    /// Pools of `tag`: recorded as its, or made elsewhere under its name when that name needs
    /// no sanitizing.
    pub fn pools_named_for(&self, tag: &OwnerTag) -> Vec<String> {
        let part = tag.name_part(&self.naming);
        self.snapshot
            .pool_comments
            .keys()
            .filter(|pool| pool_owner_part(pool).is_some_and(|o| o.eq_ignore_ascii_case(&part)))
            .filter(|pool| match self.pool_owner(pool) {
                Some(t) => t == *tag,
                None => tag.claims_by_name(&self.naming),
            })
            .cloned()
            .collect()
    }

    /// Whether two pools of the owner naming rule belong to the same owner (the same record, or
    /// no record and a name that says the same).
    pub fn same_owner(&self, a: &str, b: &str) -> bool {
        let (Some(pa), Some(pb)) = (pool_owner_part(a), pool_owner_part(b)) else {
            return a == b;
        };
        if !pa.eq_ignore_ascii_case(pb) {
            return false;
        }
        match (self.pool_owner(a), self.pool_owner(b)) {
            (Some(x), Some(y)) => x == y,
            (None, None) => true,
            (Some(t), None) | (None, Some(t)) => t.claims_by_name(&self.naming),
        }
    }

    /// What the principal may do with a pool.
    pub fn pool_access(&self, p: &Principal, pool: &str) -> PoolAccess {
        if p.is_admin || self.owns_pool(p, pool) {
            return PoolAccess {
                see: true,
                manage: true,
            };
        }
        let privs = self.privileges(p, &format!("/pool/{pool}"));
        PoolAccess {
            see: privs.contains("Pool.Audit")
                || privs.contains("Pool.Allocate")
                || privs.iter().any(|x| x.starts_with("VM.")),
            manage: privs.contains("Pool.Allocate"),
        }
    }

    /// Whether the principal may do `action` on guest `vmid`.
    pub fn guest_allows(&self, p: &Principal, vmid: u32, action: GuestAction) -> bool {
        if p.is_admin {
            return true;
        }
        if let Some(pool) = self.snapshot.guest_pools.get(&vmid) {
            if self.owns_pool(p, pool) {
                return true;
            }
        }
        let privs = self.privileges(p, &format!("/vms/{vmid}"));
        action.privileges().iter().any(|x| privs.contains(*x))
    }

    /// Administrator or PVEAdmin-level rights on `/` count as admin for cluster-wide views.
    pub fn effective_admin(&self, p: &Principal) -> bool {
        p.is_admin || {
            let privs = self.privileges(p, "/");
            privs.contains("Sys.Modify") && privs.contains("VM.Allocate")
        }
    }
}

/// Roles that deny: `NoAccess` and look-alikes (`no_access`, `deny…`).
pub fn is_no_access(roleid: &str) -> bool {
    let r = roleid.to_lowercase();
    r.is_empty() || r == "noaccess" || r == "no_access" || r == "no-access" || r.contains("deny")
}

#[cfg(test)]
mod tests;
