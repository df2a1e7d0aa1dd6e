//! The ACL engine: what a Uma user may see and do in Proxmox, decided from one snapshot of the
//! cluster's ACL entries, roles and pool membership.
//!
//! It follows the original's flow (admin → pool ownership by name → ACLs on pools and guests)
//! with Proxmox's own semantics instead of the original's role lists: roles resolve to
//! privileges (custom roles work), the deepest matching path wins, `propagate` is honoured, pool
//! roles reach member guests, and NoAccess always wins. Fixed against the original: a granted
//! PVEPoolAdmin gives access, NoAccess never grants, users match with realm and domain variants
//! everywhere, group-owned pools count, and API tokens never stand in for a person.

pub mod cache;
pub mod load;

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

/// A privilege Uma checks before acting on a guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuestAction {
    /// See it (status, config, charts).
    View,
    /// Start, stop, shutdown, reboot, suspend, resume, reset.
    Power,
    /// Open its console.
    Console,
    /// Change CPU, memory, disks, network or options.
    Configure,
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
                "VM.Config.HWType",
            ],
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
            Self::Configure => "change the configuration of",
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
fn cn(name: &str) -> &str {
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

/// Names a username may appear as in Proxmox: as is, after a `DOMAIN\`, before an `@`, each also
/// lower-cased.
pub fn username_variants(username: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let raw = username.trim();
    push_both(&mut out, raw);
    if let Some((_, after)) = raw.rsplit_once('\\') {
        push_both(&mut out, after);
    }
    for v in out.clone() {
        if let Some((local, _)) = v.split_once('@') {
            push_both(&mut out, local);
        }
    }
    out
}

impl Naming {
    /// Proxmox group ids a session group may appear as.
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

    /// Pool-id prefixes (`DEV_<name>_`) of pools the principal owns by name.
    pub fn owned_prefixes(&self, p: &Principal) -> Vec<String> {
        let mut names: BTreeSet<String> = username_variants(&p.username);
        for g in &p.groups {
            names.extend(self.group_variants(g));
        }
        names
            .into_iter()
            .map(|n| format!("DEV_{}_", sanitize(&n)))
            .collect()
    }
}

fn matches_user(ugid: &str, variants: &BTreeSet<String>) -> bool {
    let lower = ugid.to_lowercase();
    if variants.contains(ugid) || variants.contains(&lower) {
        return true;
    }
    match lower.split_once('@') {
        Some((local, _)) => variants.contains(local),
        None => false,
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

    fn holds(&self, p: &Principal, e: &AclEntry) -> bool {
        match e.kind {
            UgidKind::User => matches_user(&e.ugid, &username_variants(&p.username)),
            UgidKind::Group => {
                let ugid_lower = e.ugid.to_lowercase();
                p.groups.iter().any(|g| {
                    let v = self.naming.group_variants(g);
                    v.contains(&e.ugid) || v.contains(&ugid_lower)
                })
            }
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

    /// Whether the principal owns the pool by its name (`DEV_<user or group>_N`).
    pub fn owns_pool(&self, p: &Principal, pool: &str) -> bool {
        self.naming
            .owned_prefixes(p)
            .iter()
            .any(|prefix| pool.starts_with(prefix.as_str()) && pool.len() > prefix.len())
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
