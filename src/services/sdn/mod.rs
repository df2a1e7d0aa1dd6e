//! SDN: zones, VNets, the next free VNet tag, and applying pending changes to the cluster.
//!
//! Who sees what: effective administrators see every zone and VNet; everyone else sees the
//! designated zones (names containing `userlab`, `altzone` or `allzone`) and the zones on which
//! the ACL engine gives them an SDN privilege. A VNet's owner is recorded in its alias in one
//! way only — Uma writes the alias, ending it with `_DEV_<owner>` — so the per-user cap and the
//! delete check can't be evaded with a custom alias. VNets created for a pool get the alias
//! prefix `<pool>_`, which is how the pool's `maxVnets` quota counts them.
//!
//! Applying (`PUT /cluster/sdn`) is for administrators, and at most once per [`COOLDOWN`] across
//! the cluster: the cooldown is a Redis key with a TTL when Redis is configured (in process when
//! it isn't, or while it fails), taken before the apply and given back when the apply fails.

mod apply;
mod vnets;
mod zones;

pub use apply::*;
pub use vnets::*;
pub use zones::*;

use std::time::Duration;

use serde_json::Value;

use crate::acl::cache::View;
pub use crate::acl::sdn::{alias_owner, designated, owned_by, owner_tag};
use crate::audit::AuditAction;
use crate::auth::Caller;
use crate::error::AppResult;
use crate::services::view;
use crate::services::Ops;

/// How long after an apply the next one may start.
pub const COOLDOWN: Duration = Duration::from_secs(300);

/// The Redis key holding the cooldown (`<token>:<user>`, with a TTL).
pub const COOLDOWN_KEY: &str = "uma:sdn-apply:cooldown";

/// Tags VNets in a Userlabs zone must use.
const USERLAB_TAGS: std::ops::RangeInclusive<i64> = 1001..=1255;

/// VLAN tags Uma accepts.
const TAGS: std::ops::RangeInclusive<i64> = 1..=4094;

fn is_userlab(zone: &str) -> bool {
    zone.to_lowercase().contains("userlab")
}

/// Name prefixes a non-administrator's VNets must start with (lower-case): `dev` followed by
/// the username's letters and digits, or their first four or three (prefixes of three
/// characters or fewer are dropped).
pub fn name_prefixes(username: &str) -> Vec<String> {
    let clean: String = username
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_lowercase();
    let mut out: Vec<String> = Vec::new();
    for n in [clean.len(), 4, 3] {
        let part: String = clean.chars().take(n).collect();
        let p = format!("dev{part}");
        if p.len() > 3 && !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn tag_of(v: &Value) -> Option<i64> {
    match v.get("tag")? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The ACL view, or (when it can't be read) the error with its one `FAILURE` row.
pub(crate) async fn view_or_refuse(
    ops: &Ops,
    caller: &Caller,
    action: AuditAction,
    resource: &str,
) -> AppResult<std::sync::Arc<View>> {
    view(ops)
        .await
        .inspect_err(|e| ops.audit.refused(&caller.actor, action, resource, e))
}

async fn zones_raw(ops: &Ops) -> AppResult<Vec<Value>> {
    Ok(ops.pve.get("cluster/sdn/zones").await?)
}

async fn vnets_raw(ops: &Ops) -> AppResult<Vec<Value>> {
    Ok(ops.pve.get("cluster/sdn/vnets").await?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn owners_come_from_the_alias_suffix_only() {
        assert!(owned_by("1001_DEV_alice", "alice"));
        assert!(owned_by("DEV_alice_1_1001_DEV_Alice", "ALICE"));
        assert!(owned_by("0_x_DEV_bob_DEV_alice", "alice"));
        assert!(!owned_by("0_x_DEV_bob_DEV_alice", "bob"));
        assert!(!owned_by("alice", "alice"));
        assert!(!owned_by("1001_DEV_alicex", "alice"));
        assert!(owned_by("0_DEV_j_doe", "j.doe"));
        assert_eq!(alias_owner("no owner"), None);
    }

    #[test]
    fn name_prefixes_and_suggestions() {
        assert_eq!(name_prefixes("alice"), ["devalice", "devalic", "devali"]);
        assert_eq!(name_prefixes("al"), ["deval"]);
        assert!(name_prefixes("..").is_empty());
        let taken: BTreeSet<String> = ["devalic1".to_owned()].into();
        assert_eq!(suggest_name("alice", &taken).as_deref(), Some("DEValic2"));
        let all: BTreeSet<String> = (1..10).map(|n| format!("devalic{n}")).collect();
        assert_eq!(suggest_name("alice", &all).as_deref(), Some("DEVali10"));
        assert_eq!(suggest_name("..", &all), None);
        assert!(designated("Userlabs") && designated("altzone") && !designated("devzone"));
    }

    #[tokio::test]
    async fn local_cooldown_is_taken_refused_and_given_back() {
        let gate = SdnGate::default();
        let c = gate.claim(None, "root", COOLDOWN).await.unwrap();
        let busy = gate.claim(None, "admin2", COOLDOWN).await.unwrap_err();
        assert_eq!(busy.by, "root");
        assert!((299..=300).contains(&busy.remaining), "{busy:?}");
        assert_eq!(gate.status(None).await.unwrap().by, "root");
        gate.release(None, c).await;
        assert!(gate.status(None).await.is_none());
        // An expired cooldown is free again.
        let short = gate.claim(None, "root", Duration::ZERO).await.unwrap();
        assert!(gate.claim(None, "root", COOLDOWN).await.is_ok());
        // A stale claim does not release a newer one.
        gate.release(None, short).await;
        assert!(gate.status(None).await.is_some());
    }
}
