//! Access control with Proxmox's semantics: PVE 9 built-in roles, ACL path resolution (deepest path
//! wins, propagate, token > user > group at one level, pool roles on members, NoAccess), privilege
//! separated tokens (token ∩ user) and the all-powerful `root@pam`.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::ApiError;
use crate::model::{AclKind, Cluster, Role};

/// Every privilege PVE 9 knows (47).
pub(crate) const ALL_PRIVS: &[&str] = &[
    "Datastore.Allocate",
    "Datastore.AllocateSpace",
    "Datastore.AllocateTemplate",
    "Datastore.Audit",
    "Group.Allocate",
    "Mapping.Audit",
    "Mapping.Modify",
    "Mapping.Use",
    "Permissions.Modify",
    "Pool.Allocate",
    "Pool.Audit",
    "Realm.Allocate",
    "Realm.AllocateUser",
    "SDN.Allocate",
    "SDN.Audit",
    "SDN.Use",
    "Sys.AccessNetwork",
    "Sys.Audit",
    "Sys.Console",
    "Sys.Incoming",
    "Sys.Modify",
    "Sys.PowerMgmt",
    "Sys.Syslog",
    "User.Modify",
    "VM.Allocate",
    "VM.Audit",
    "VM.Backup",
    "VM.Clone",
    "VM.Config.CDROM",
    "VM.Config.CPU",
    "VM.Config.Cloudinit",
    "VM.Config.Disk",
    "VM.Config.HWType",
    "VM.Config.Memory",
    "VM.Config.Network",
    "VM.Config.Options",
    "VM.Console",
    "VM.GuestAgent.Audit",
    "VM.GuestAgent.FileRead",
    "VM.GuestAgent.FileSystemMgmt",
    "VM.GuestAgent.FileWrite",
    "VM.GuestAgent.Unrestricted",
    "VM.Migrate",
    "VM.PowerMgmt",
    "VM.Replicate",
    "VM.Snapshot",
    "VM.Snapshot.Rollback",
];

const ROOT_ONLY: &[&str] = &[
    "Sys.PowerMgmt",
    "Sys.Modify",
    "Sys.Incoming",
    "Sys.AccessNetwork",
    "Realm.Allocate",
    "Permissions.Modify",
];

const VM_USER: &[&str] = &[
    "VM.Audit",
    "VM.Backup",
    "VM.Config.CDROM",
    "VM.Config.Cloudinit",
    "VM.Console",
    "VM.PowerMgmt",
    "VM.GuestAgent.Audit",
    "VM.GuestAgent.FileRead",
    "VM.GuestAgent.FileSystemMgmt",
    "VM.GuestAgent.FileWrite",
];

const VM_ADMIN_EXTRA: &[&str] = &[
    "VM.Allocate",
    "VM.Clone",
    "VM.Config.CPU",
    "VM.Config.Disk",
    "VM.Config.HWType",
    "VM.Config.Memory",
    "VM.Config.Network",
    "VM.Config.Options",
    "VM.GuestAgent.Unrestricted",
    "VM.Migrate",
    "VM.Replicate",
    "VM.Snapshot",
    "VM.Snapshot.Rollback",
];

/// The PVE 9 built-in roles (all `special`).
pub(crate) fn builtin_roles() -> BTreeMap<String, Role> {
    let set = |privs: &[&[&str]]| -> BTreeSet<String> {
        privs
            .iter()
            .flat_map(|p| p.iter())
            .map(|p| (*p).to_owned())
            .collect()
    };
    let admin: Vec<&str> = ALL_PRIVS
        .iter()
        .copied()
        .filter(|p| !ROOT_ONLY.contains(p) && *p != "Mapping.Modify")
        .collect();
    let defs: Vec<(&str, BTreeSet<String>)> = vec![
        ("Administrator", set(&[ALL_PRIVS])),
        ("NoAccess", BTreeSet::new()),
        ("PVEAdmin", set(&[&admin])),
        (
            "PVEAuditor",
            set(&[&[
                "Datastore.Audit",
                "Mapping.Audit",
                "Pool.Audit",
                "SDN.Audit",
                "Sys.Audit",
                "VM.Audit",
                "VM.GuestAgent.Audit",
            ]]),
        ),
        ("PVETemplateUser", set(&[&["VM.Audit", "VM.Clone"]])),
        ("PVEVMUser", set(&[VM_USER])),
        ("PVEVMAdmin", set(&[VM_USER, VM_ADMIN_EXTRA])),
        (
            "PVEDatastoreAdmin",
            set(&[&[
                "Datastore.Allocate",
                "Datastore.AllocateSpace",
                "Datastore.AllocateTemplate",
                "Datastore.Audit",
            ]]),
        ),
        (
            "PVEDatastoreUser",
            set(&[&["Datastore.AllocateSpace", "Datastore.Audit"]]),
        ),
        (
            "PVESDNAdmin",
            set(&[&["SDN.Allocate", "SDN.Audit", "SDN.Use"]]),
        ),
        ("PVESDNUser", set(&[&["SDN.Audit", "SDN.Use"]])),
        ("PVEPoolAdmin", set(&[&["Pool.Allocate", "Pool.Audit"]])),
        ("PVEPoolUser", set(&[&["Pool.Audit"]])),
        (
            "PVEMappingAdmin",
            set(&[&["Mapping.Audit", "Mapping.Modify", "Mapping.Use"]]),
        ),
        ("PVEMappingUser", set(&[&["Mapping.Audit", "Mapping.Use"]])),
        (
            "PVESysAdmin",
            set(&[&["Sys.Audit", "Sys.Console", "Sys.Syslog"]]),
        ),
        (
            "PVEUserAdmin",
            set(&[&["Group.Allocate", "Realm.AllocateUser", "User.Modify"]]),
        ),
    ];
    defs.into_iter()
        .map(|(name, privs)| {
            (
                name.to_owned(),
                Role {
                    privs,
                    special: true,
                },
            )
        })
        .collect()
}

/// The authenticated caller.
#[derive(Debug, Clone)]
pub(crate) struct Auth {
    /// `user@realm`.
    pub userid: String,
    /// Full token id `user@realm!name`, when authenticated by token.
    pub tokenid: Option<String>,
    /// Whether the token is privilege-separated.
    pub privsep: bool,
}

impl Auth {
    /// The user recorded on tasks: the token id for tokens.
    pub fn task_user(&self) -> &str {
        self.tokenid.as_deref().unwrap_or(&self.userid)
    }
    /// Whether this caller is `root@pam` (or a non-separated root token).
    pub fn is_root(&self) -> bool {
        self.userid == "root@pam" && !(self.tokenid.is_some() && self.privsep)
    }
}

/// Who to resolve roles for.
enum Principal<'a> {
    User(&'a str),
    Token(&'a str),
}

/// Path prefixes from `/` down to the path itself: `/`, `/vms`, `/vms/100`.
fn prefixes(path: &str) -> Vec<String> {
    let mut out = vec!["/".to_owned()];
    let mut cur = String::new();
    for part in path.split('/').filter(|p| !p.is_empty()) {
        cur.push('/');
        cur.push_str(part);
        out.push(cur.clone());
    }
    out
}

/// Roles on `path` for a principal, without pools (`compile_acl_path`'s inner walk).
fn path_roles(c: &Cluster, who: &Principal<'_>, path: &str) -> BTreeSet<String> {
    let levels = prefixes(path);
    let last = levels.len() - 1;
    let mut roles = BTreeSet::new();
    for (i, level) in levels.iter().enumerate() {
        let is_final = i == last;
        let applies = |propagate: bool| is_final || propagate;
        let entries: Vec<_> = c.acl.iter().filter(|a| a.path == *level).collect();
        if entries.is_empty() {
            continue;
        }
        match who {
            Principal::Token(tid) => {
                let new: BTreeSet<String> = entries
                    .iter()
                    .filter(|a| a.kind == AclKind::Token && a.ugid == *tid && applies(a.propagate))
                    .map(|a| a.role.clone())
                    .collect();
                if !new.is_empty() {
                    roles = new;
                }
            }
            Principal::User(uid) => {
                let new: BTreeSet<String> = entries
                    .iter()
                    .filter(|a| a.kind == AclKind::User && a.ugid == *uid && applies(a.propagate))
                    .map(|a| a.role.clone())
                    .collect();
                if !new.is_empty() {
                    roles = new;
                    continue;
                }
                let groups = c.groups_of(uid);
                let new: BTreeSet<String> = entries
                    .iter()
                    .filter(|a| {
                        a.kind == AclKind::Group
                            && groups.contains(&a.ugid.as_str())
                            && applies(a.propagate)
                    })
                    .map(|a| a.role.clone())
                    .collect();
                if !new.is_empty() {
                    roles = new;
                }
            }
        }
    }
    roles
}

/// Roles including pool roles for members (`/vms/ID`, `/storage/ID`).
fn roles(c: &Cluster, who: &Principal<'_>, path: &str) -> BTreeSet<String> {
    let mut roles = path_roles(c, who, path);
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let pools: Vec<&str> = match parts.as_slice() {
        ["vms", id] => id
            .parse::<u32>()
            .ok()
            .and_then(|id| c.pool_of(id))
            .into_iter()
            .collect(),
        ["storage", id] => c
            .pools
            .iter()
            .filter(|(_, p)| p.storage.contains(*id))
            .map(|(n, _)| n.as_str())
            .collect(),
        _ => Vec::new(),
    };
    for pool in pools {
        roles.extend(path_roles(c, who, &format!("/pool/{pool}")));
    }
    if roles.contains("NoAccess") {
        return BTreeSet::from(["NoAccess".to_owned()]);
    }
    roles
}

fn privs_of(c: &Cluster, roles: &BTreeSet<String>) -> BTreeSet<String> {
    roles
        .iter()
        .filter_map(|r| c.roles.get(r))
        .flat_map(|r| r.privs.iter().cloned())
        .collect()
}

/// The caller's effective privileges on `path`.
pub(crate) fn privileges(c: &Cluster, auth: &Auth, path: &str) -> BTreeSet<String> {
    if auth.userid == "root@pam" {
        let all: BTreeSet<String> = ALL_PRIVS.iter().map(|p| (*p).to_owned()).collect();
        return match (&auth.tokenid, auth.privsep) {
            (Some(tid), true) => privs_of(c, &roles(c, &Principal::Token(tid), path)),
            _ => all,
        };
    }
    let enabled = c.users.get(&auth.userid).is_some_and(|u| u.enable);
    if !enabled {
        return BTreeSet::new();
    }
    let user = privs_of(c, &roles(c, &Principal::User(&auth.userid), path));
    match (&auth.tokenid, auth.privsep) {
        (Some(tid), true) => {
            let token = privs_of(c, &roles(c, &Principal::Token(tid), path));
            user.intersection(&token).cloned().collect()
        }
        _ => user,
    }
}

/// `$rpcenv->check` (all privileges) or `check_any`; 403 like Proxmox otherwise.
pub(crate) fn check(
    c: &Cluster,
    auth: &Auth,
    path: &str,
    privs: &[&str],
    any: bool,
) -> Result<(), ApiError> {
    if auth.is_root() {
        return Ok(());
    }
    let have = privileges(c, auth, path);
    if any {
        if privs.iter().any(|p| have.contains(*p)) {
            return Ok(());
        }
        return Err(ApiError::forbidden(format!("{path}, {}", privs.join("|"))));
    }
    match privs.iter().find(|p| !have.contains(**p)) {
        None => Ok(()),
        Some(missing) => Err(ApiError::forbidden(format!("{path}, {missing}"))),
    }
}

/// Like [`check`] but as a boolean (`$noerr`).
pub(crate) fn allowed(c: &Cluster, auth: &Auth, path: &str, privs: &[&str]) -> bool {
    if auth.is_root() {
        return true;
    }
    let have = privileges(c, auth, path);
    privs.iter().any(|p| have.contains(*p))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::model::{AclEntry, Group, Pool, User};

    fn cluster() -> Cluster {
        let mut c = Cluster {
            roles: builtin_roles(),
            ..Cluster::default()
        };
        c.users.insert(
            "alice@pve".into(),
            User {
                enable: true,
                ..User::default()
            },
        );
        c.groups.insert(
            "devs".into(),
            Group {
                comment: None,
                members: ["alice@pve".to_owned()].into(),
            },
        );
        c.pools.insert(
            "P".into(),
            Pool {
                vms: [100].into(),
                ..Pool::default()
            },
        );
        c
    }

    fn acl(path: &str, kind: AclKind, ugid: &str, role: &str, propagate: bool) -> AclEntry {
        AclEntry {
            path: path.into(),
            kind,
            ugid: ugid.into(),
            role: role.into(),
            propagate,
        }
    }

    fn alice() -> Auth {
        Auth {
            userid: "alice@pve".into(),
            tokenid: None,
            privsep: false,
        }
    }

    #[test]
    fn deepest_path_and_propagation() {
        let mut c = cluster();
        c.acl
            .push(acl("/", AclKind::Group, "devs", "PVEAuditor", true));
        c.acl.push(acl(
            "/vms/101",
            AclKind::User,
            "alice@pve",
            "PVEVMAdmin",
            false,
        ));
        let a = alice();
        assert!(privileges(&c, &a, "/vms/200").contains("VM.Audit"));
        assert!(!privileges(&c, &a, "/vms/200").contains("VM.PowerMgmt"));
        assert!(privileges(&c, &a, "/vms/101").contains("VM.Allocate"));
        // a user ACL at a level replaces group ACLs from above
        assert!(!privileges(&c, &a, "/vms/101").contains("Sys.Audit"));
        c.acl
            .push(acl("/nodes", AclKind::Group, "devs", "PVESysAdmin", false));
        assert!(!privileges(&c, &a, "/nodes/pve1").contains("Sys.Console"));
        assert!(privileges(&c, &a, "/nodes").contains("Sys.Console"));
    }

    #[test]
    fn pools_noaccess_and_tokens() {
        let mut c = cluster();
        c.acl.push(acl(
            "/pool/P",
            AclKind::User,
            "alice@pve",
            "PVEVMUser",
            true,
        ));
        let a = alice();
        assert!(privileges(&c, &a, "/vms/100").contains("VM.PowerMgmt"));
        assert!(privileges(&c, &a, "/vms/999").is_empty());
        let tok = Auth {
            userid: "alice@pve".into(),
            tokenid: Some("alice@pve!t".into()),
            privsep: true,
        };
        assert!(privileges(&c, &tok, "/vms/100").is_empty());
        c.acl
            .push(acl("/", AclKind::Token, "alice@pve!t", "PVEAdmin", true));
        let p = privileges(&c, &tok, "/vms/100");
        assert!(p.contains("VM.PowerMgmt") && !p.contains("VM.Allocate"));
        c.acl.push(acl(
            "/vms/100",
            AclKind::User,
            "alice@pve",
            "NoAccess",
            true,
        ));
        assert!(privileges(&c, &a, "/vms/100").is_empty());
        let root = Auth {
            userid: "root@pam".into(),
            tokenid: None,
            privsep: false,
        };
        assert_eq!(privileges(&c, &root, "/x").len(), 47);
        assert_eq!(c.roles["PVEAdmin"].privs.len(), 40);
    }
}
