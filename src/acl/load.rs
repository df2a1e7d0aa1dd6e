//! Builds an ACL [`Snapshot`] from the cluster: ACL entries, roles, users, pools (with the owner
//! recorded in their comments) and pool membership, read with the service token (which sees
//! everything) in parallel.

use std::collections::{BTreeSet, HashMap};

use serde::Deserialize;

use super::{AclEntry, Snapshot, UgidKind};
use crate::pve::models::{AclItem, Resource, RoleItem};
use crate::pve::{PveClient, PveError};

/// One item of `GET /access/users`.
#[derive(Debug, Clone, Deserialize)]
pub struct UserItem {
    /// `name@realm`.
    pub userid: String,
}

/// One item of `GET /pools`.
#[derive(Debug, Clone, Deserialize)]
pub struct PoolItem {
    /// Pool id.
    pub poolid: String,
    /// Comment (Uma records the owner here).
    #[serde(default)]
    pub comment: Option<String>,
}

/// Reads the snapshot and the resources it was built from.
pub async fn snapshot(pve: &PveClient) -> Result<(Snapshot, Vec<Resource>), PveError> {
    let (acl, roles, users, pools, resources) = tokio::try_join!(
        pve.get::<Vec<AclItem>>("access/acl"),
        pve.get::<Vec<RoleItem>>("access/roles"),
        pve.get::<Vec<UserItem>>("access/users"),
        pve.get::<Vec<PoolItem>>("pools"),
        pve.resources(None),
    )?;
    Ok((build(acl, roles, users, pools, &resources), resources))
}

/// Reads ACL entries, roles, users and pools and builds the snapshot over resources read
/// elsewhere (the cluster poller's latest list).
pub async fn snapshot_over(pve: &PveClient, resources: &[Resource]) -> Result<Snapshot, PveError> {
    let (acl, roles, users, pools) = tokio::try_join!(
        pve.get::<Vec<AclItem>>("access/acl"),
        pve.get::<Vec<RoleItem>>("access/roles"),
        pve.get::<Vec<UserItem>>("access/users"),
        pve.get::<Vec<PoolItem>>("pools"),
    )?;
    Ok(build(acl, roles, users, pools, resources))
}

/// Assembles a snapshot from raw answers.
pub fn build(
    acl: Vec<AclItem>,
    roles: Vec<RoleItem>,
    users: Vec<UserItem>,
    pools: Vec<PoolItem>,
    resources: &[Resource],
) -> Snapshot {
    let acl = acl
        .into_iter()
        .filter_map(|a| {
            let kind = match a.kind.as_str() {
                "user" => UgidKind::User,
                "group" => UgidKind::Group,
                "token" => UgidKind::Token,
                _ => return None,
            };
            Some(AclEntry {
                path: a.path,
                kind,
                ugid: a.ugid,
                roleid: a.roleid,
                propagate: a.propagate,
            })
        })
        .collect();
    let roles: HashMap<String, BTreeSet<String>> = roles
        .into_iter()
        .map(|r| {
            let privs = r
                .privs
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect();
            (r.roleid, privs)
        })
        .collect();
    let guest_pools = resources
        .iter()
        .filter(|r| r.is_guest())
        .filter_map(|r| Some((r.vmid?, r.pool.clone()?)))
        .collect();
    Snapshot {
        acl,
        roles,
        guest_pools,
        users: users.into_iter().map(|u| u.userid).collect(),
        pool_comments: pools
            .into_iter()
            .map(|p| (p.poolid, p.comment.unwrap_or_default()))
            .collect(),
    }
}
