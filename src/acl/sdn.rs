//! Who may use SDN objects: the designated zones every user may use, the owner Uma records in
//! a VNet's alias (`…_DEV_<owner>`), and the pool a VNet is charged to (alias `<pool>_…`).

use std::collections::BTreeSet;

use serde_json::Value;

use super::{sanitize, Engine, Principal};
use crate::pve::models::Resource;
use crate::pve::models::ResourceKind;

/// Name parts of the zones every user may use.
const DESIGNATED: [&str; 3] = ["userlab", "altzone", "allzone"];

/// Privileges that make a zone (or a VNet) visible and usable.
pub const SDN_PRIVS: [&str; 3] = ["SDN.Use", "SDN.Audit", "SDN.Allocate"];

/// Whether a zone is one every user may use (name contains `userlab`, `altzone` or `allzone`).
pub fn designated(zone: &str) -> bool {
    let z = zone.to_lowercase();
    DESIGNATED.iter().any(|d| z.contains(d))
}

/// The owner part Uma writes into aliases for `username`.
pub fn owner_tag(username: &str) -> String {
    sanitize(username.trim())
}

/// The owner recorded in an alias: what follows its last `_DEV_` (lower-case), if anything.
pub fn alias_owner(alias: &str) -> Option<String> {
    let lower = alias.to_lowercase();
    let at = lower.rfind("_dev_")?;
    let owner = &lower[at + "_dev_".len()..];
    (!owner.is_empty()).then(|| owner.to_owned())
}

/// Whether the alias records `username` as the owner.
pub fn owned_by(alias: &str, username: &str) -> bool {
    alias_owner(alias).is_some_and(|o| o == owner_tag(username).to_lowercase())
}

/// Whether some SDN privilege is among `privs`.
pub fn has_sdn_priv(privs: &BTreeSet<String>) -> bool {
    SDN_PRIVS.iter().any(|p| privs.contains(*p))
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// The alias of a VNet item of `GET /cluster/sdn/vnets`.
pub fn alias_of(v: &Value) -> &str {
    str_of(v, "alias").unwrap_or_default()
}

/// The pool a VNet is charged to (alias prefix `<pool>_` of an existing pool), if any.
pub fn vnet_pool<'a>(resources: &'a [Resource], vnet: &Value) -> Option<&'a str> {
    let alias = alias_of(vnet);
    resources
        .iter()
        .filter(|r| r.kind == ResourceKind::Pool)
        .filter_map(|r| r.pool.as_deref())
        .filter(|pool| {
            alias
                .strip_prefix(pool)
                .is_some_and(|rest| rest.starts_with('_'))
        })
        .max_by_key(|pool| pool.len())
}

/// Whether `p` sees `zone`: designated, or an SDN privilege on `/sdn/zones/<zone>`.
pub fn zone_visible(e: &Engine, p: &Principal, zone: &str) -> bool {
    designated(zone) || has_sdn_priv(&e.privileges(p, &format!("/sdn/zones/{zone}")))
}

/// Whether `p` sees a VNet through its zone: designated, or an SDN privilege on
/// `/sdn/zones/<zone>/<vnet>` (inherited from the zone when propagated).
pub fn vnet_in_visible_zone(e: &Engine, p: &Principal, vnet: &Value) -> bool {
    let zone = str_of(vnet, "zone").unwrap_or_default();
    let id = str_of(vnet, "vnet").unwrap_or_default();
    !zone.is_empty()
        && (designated(zone) || has_sdn_priv(&e.privileges(p, &format!("/sdn/zones/{zone}/{id}"))))
}
