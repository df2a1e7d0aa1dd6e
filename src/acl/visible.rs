//! What a user may see of the cluster's resource list: their guests, pools and storages (all of
//! it for effective administrators). The live streams and the REST list filter with this.

use super::{Engine, GuestAction, Principal};
use crate::pve::models::Resource;
use crate::pve::models::ResourceKind;

/// Whether `p` may read a storage's content: public storages, or `Datastore.Audit` or
/// `Datastore.AllocateSpace` on it.
pub fn storage_readable(
    engine: &Engine,
    p: &Principal,
    public_storages: &[String],
    id: &str,
) -> bool {
    public_storages.iter().any(|s| s == id) || {
        let privs = engine.privileges(p, &format!("/storage/{id}"));
        privs.contains("Datastore.Audit") || privs.contains("Datastore.AllocateSpace")
    }
}

/// Whether `p` may see one resource.
pub fn can_see(engine: &Engine, p: &Principal, public_storages: &[String], r: &Resource) -> bool {
    match &r.kind {
        ResourceKind::Qemu | ResourceKind::Lxc => r
            .vmid
            .is_some_and(|id| engine.guest_allows(p, id, GuestAction::View)),
        ResourceKind::Pool => r
            .pool
            .as_deref()
            .is_some_and(|id| engine.pool_access(p, id).see),
        ResourceKind::Storage => r
            .storage
            .as_deref()
            .is_some_and(|id| storage_readable(engine, p, public_storages, id)),
        _ => false,
    }
}

/// Keeps what `p` may see.
pub fn visible(
    engine: &Engine,
    p: &Principal,
    public_storages: &[String],
    items: Vec<Resource>,
) -> Vec<Resource> {
    if engine.effective_admin(p) {
        return items;
    }
    items
        .into_iter()
        .filter(|r| can_see(engine, p, public_storages, r))
        .collect()
}
