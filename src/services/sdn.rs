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

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use fred::interfaces::KeysInterface;
use parking_lot::Mutex;
use serde::Deserialize;
use serde_json::{json, Value};

use super::quota::{Amounts, Ask, NewId};
use super::Ops;
use super::{limit, view};
use crate::acl::cache::View;
use crate::acl::sdn::{alias_of, vnet_in_visible_zone, vnet_pool, zone_visible};
pub use crate::acl::sdn::{alias_owner, designated, owned_by, owner_tag};
use crate::audit::AuditAction;
use crate::audit::Status;
use crate::auth::Caller;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::limits::Preset;
use crate::pve::models::ResourceKind;
use crate::pve::path::{ApiPath, PoolId, Upid, VnetId, ZoneId};
use crate::store::settings::RESOURCE_LIMITS_KEY;

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

// ---------------------------------------------------------------------------------------------
// Zones

/// The zones the caller may see.
pub async fn zones(ops: &Ops, caller: &Caller) -> AppResult<Value> {
    ops.audit
        .audited(
            &caller.actor,
            AuditAction::ViewZones,
            "sdn:zones",
            Value::Null,
            async {
                let v = view(ops).await?;
                let admin = v.engine.effective_admin(&caller.principal);
                let zones: Vec<Value> = zones_raw(ops)
                    .await?
                    .into_iter()
                    .filter(|z| {
                        admin
                            || str_of(z, "zone")
                                .is_some_and(|id| zone_visible(&v.engine, &caller.principal, id))
                    })
                    .collect();
                let details = json!({ "isAdmin": admin, "count": zones.len() });
                Ok((json!({ "zones": zones }), details))
            },
        )
        .await
}

/// Body of a zone creation.
#[derive(Debug, Deserialize)]
pub struct ZoneCreate {
    /// Zone id.
    pub zone: String,
    /// `simple`, `vlan`, `qinq` or `vxlan`.
    #[serde(rename = "type")]
    pub kind: String,
    /// MTU of the zone's bridges.
    #[serde(default)]
    pub mtu: Option<i64>,
    /// The bridge VLANs ride on (`vlan` and `qinq`).
    #[serde(default)]
    pub bridge: Option<String>,
    /// Comma-separated peer addresses (`vxlan`).
    #[serde(default)]
    pub peers: Option<String>,
}

/// Zone types Uma creates.
const ZONE_TYPES: [&str; 4] = ["simple", "vlan", "qinq", "vxlan"];

fn check_bridge(raw: &str) -> AppResult<String> {
    let ok = (1..=15).contains(&raw.len())
        && raw.starts_with(|c: char| c.is_ascii_alphabetic())
        && raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(AppError::field(
            "bridge",
            "a bridge name is up to 15 letters, digits, '_', '.' or '-', starting with a letter",
        ))
    }
}

fn check_peers(raw: &str) -> AppResult<String> {
    let peers: Vec<&str> = raw
        .split([',', ' ', ';'])
        .filter(|s| !s.is_empty())
        .collect();
    if peers.is_empty()
        || peers.len() > 64
        || peers.iter().any(|p| p.parse::<std::net::IpAddr>().is_err())
    {
        return Err(AppError::field(
            "peers",
            "a comma-separated list of IP addresses",
        ));
    }
    Ok(peers.join(","))
}

/// Creates a zone (effective administrators). It takes effect when SDN changes are applied.
pub async fn create_zone(ops: &Ops, caller: &Caller, input: ZoneCreate) -> AppResult<Value> {
    let zone = ZoneId::parse("zone", input.zone.trim())?;
    let kind = input.kind.trim().to_lowercase();
    if !ZONE_TYPES.contains(&kind.as_str()) {
        return Err(AppError::field(
            "type",
            format!("one of {}", ZONE_TYPES.join(", ")),
        ));
    }
    if let Some(mtu) = input.mtu {
        if !(576..=65520).contains(&mtu) {
            return Err(AppError::field("mtu", "a number from 576 to 65520"));
        }
    }
    let bridge = input
        .bridge
        .as_deref()
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .map(check_bridge)
        .transpose()?;
    if matches!(kind.as_str(), "vlan" | "qinq") && bridge.is_none() {
        return Err(AppError::field(
            "bridge",
            format!("a {kind} zone needs a bridge"),
        ));
    }
    let peers = input
        .peers
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(check_peers)
        .transpose()?;
    if kind == "vxlan" && peers.is_none() {
        return Err(AppError::field("peers", "a vxlan zone needs its peers"));
    }
    let resource = format!("zone:{zone}");
    limit(
        ops,
        caller,
        Preset::PoolCreate,
        AuditAction::ZoneCreate,
        &resource,
    )
    .await?;
    let v = view_or_refuse(ops, caller, AuditAction::ZoneCreate, &resource).await?;
    if !v.engine.effective_admin(&caller.principal) {
        let err = AppError::with_message(
            ErrorCode::Forbidden,
            "Only administrators can create SDN zones",
        );
        ops.audit
            .refused(&caller.actor, AuditAction::ZoneCreate, &resource, &err);
        return Err(err);
    }
    let mut form = vec![("zone", zone.to_string()), ("type", kind.clone())];
    if let Some(mtu) = input.mtu {
        form.push(("mtu", mtu.to_string()));
    }
    if let Some(b) = &bridge {
        form.push(("bridge", b.clone()));
    }
    if let Some(p) = &peers {
        form.push(("peers", p.clone()));
    }
    ops.audit.audited(&caller.actor, AuditAction::ZoneCreate,
        &resource,
        json!({ "zone": zone, "type": kind, "mtu": input.mtu, "bridge": bridge, "peers": peers }),
        async {
            let _: Value = ops.pve.post("cluster/sdn/zones", &form).await?;
            ops.acl.invalidate();
            Ok((
                json!({ "success": true, "zone": zone, "pending": true }),
                Value::Null,
            ))
        },
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// VNets

/// The VNets the caller may see. Without `include_all`: administrators get all of them, others
/// their own and those charged to pools they see. With `include_all` (choosing a bridge for a
/// guest): everyone gets the VNets of the designated zones, and non-administrators also those of
/// the zones they hold an SDN privilege on (and their own).
pub async fn vnets(ops: &Ops, caller: &Caller, include_all: bool) -> AppResult<Value> {
    ops.audit
        .audited(
            &caller.actor,
            AuditAction::ViewVnets,
            "sdn:vnets",
            json!({ "includeAll": include_all }),
            async {
                let v = view(ops).await?;
                let p = &caller.principal;
                let admin = v.engine.effective_admin(p);
                let list: Vec<Value> = vnets_raw(ops)
                    .await?
                    .into_iter()
                    .filter(|n| {
                        let zone = str_of(n, "zone").unwrap_or_default();
                        let mine = owned_by(alias_of(n), caller.username())
                            || vnet_pool(&v.resources, n)
                                .is_some_and(|pool| v.engine.pool_access(p, pool).see);
                        match (admin, include_all) {
                            (true, false) => true,
                            (true, true) => designated(zone),
                            (false, false) => mine,
                            (false, true) => mine || vnet_in_visible_zone(&v.engine, p, n),
                        }
                    })
                    .collect();
                let details = json!({ "isAdmin": admin, "count": list.len() });
                Ok((json!({ "vnets": list }), details))
            },
        )
        .await
}

/// Body of a VNet creation.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VnetCreate {
    /// VNet id (non-administrators: starting with `DEV<username>`, see [`name_prefixes`]).
    pub vnet: String,
    /// Zone.
    pub zone: String,
    /// VLAN tag (Userlabs zones: 1001–1255, required).
    #[serde(default)]
    pub tag: Option<i64>,
    /// A label, written into the alias before the owner (administrators, outside pools: the
    /// whole alias).
    #[serde(default)]
    pub alias: Option<String>,
    /// Let VLANs pass through.
    #[serde(default)]
    pub vlanaware: Option<bool>,
    /// Charge the VNet to this pool (the caller must manage it).
    #[serde(default)]
    pub pool_id: Option<String>,
    /// Administrators: skip the pool's quota (audited).
    #[serde(default, rename = "override")]
    pub override_quota: bool,
}

fn check_label(raw: &str, admin_alias: bool) -> AppResult<String> {
    let s = raw.trim();
    let ok = if admin_alias {
        s.len() <= 256
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || " _-.()".contains(c))
    } else {
        s.len() <= 64
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-".contains(c))
    };
    if ok {
        Ok(s.to_owned())
    } else if admin_alias {
        Err(AppError::field(
            "alias",
            "at most 256 letters, digits, spaces, '_', '-', '.', '(' or ')'",
        ))
    } else {
        Err(AppError::field(
            "alias",
            "at most 64 letters, digits, '_' or '-'",
        ))
    }
}

/// The per-user VNet cap: the stored setting, else `MAX_VNETS_PER_USER` (0 = none).
async fn per_user_cap(ops: &Ops) -> AppResult<i64> {
    let stored = ops
        .store
        .config_value(RESOURCE_LIMITS_KEY)
        .await?
        .and_then(|v| v.get("maxVnetsPerUser").and_then(Value::as_i64))
        .filter(|n| *n >= 0);
    Ok(stored.unwrap_or_else(|| i64::from(ops.config.tenancy.max_vnets_per_user)))
}

/// Creates a VNet (pending until SDN changes are applied).
pub async fn create_vnet(ops: &Ops, caller: &Caller, input: VnetCreate) -> AppResult<Value> {
    let vnet = VnetId::parse("vnet", input.vnet.trim())?;
    let zone = ZoneId::parse("zone", input.zone.trim())?;
    if let Some(tag) = input.tag {
        if !TAGS.contains(&tag) {
            return Err(AppError::field("tag", "a VLAN tag from 1 to 4094"));
        }
    }
    if is_userlab(zone.as_str()) && !input.tag.is_some_and(|t| USERLAB_TAGS.contains(&t)) {
        return Err(AppError::field(
            "tag",
            "VNets in Userlabs must have a tag between 1001 and 1255",
        ));
    }
    let pool = input
        .pool_id
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| PoolId::parse("poolId", p))
        .transpose()?;
    let label = input
        .alias
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(|a| check_label(a, pool.is_none() && caller.is_admin()))
        .transpose()?;
    let resource = format!("vnet:{vnet}");
    limit(
        ops,
        caller,
        Preset::VnetCreate,
        AuditAction::VnetCreate,
        &resource,
    )
    .await?;
    let details = json!({
        "zone": zone, "tag": input.tag, "vlanaware": input.vlanaware, "poolId": pool,
        "quotaOverride": input.override_quota,
    });
    ops.audit.audited(&caller.actor, AuditAction::VnetCreate, &resource, details, async {
        if input.override_quota && !caller.is_admin() {
            return Err(AppError::with_message(
                ErrorCode::Forbidden,
                "Only administrators may override quotas",
            ));
        }
        let v = ops.acl.reload().await?;
        let p = &caller.principal;
        let admin = v.engine.effective_admin(p);
        let zones = zones_raw(ops).await?;
        let zone_known = zones
            .iter()
            .any(|z| str_of(z, "zone") == Some(zone.as_str()));
        if !zone_known || !(admin || zone_visible(&v.engine, p, zone.as_str())) {
            return Err(AppError::field("zone", format!("there is no zone {zone}")));
        }
        if !admin
            && !designated(zone.as_str())
            && !v
                .engine
                .privileges(p, &format!("/sdn/zones/{zone}"))
                .contains("SDN.Allocate")
        {
            return Err(AppError::with_message(
                ErrorCode::Forbidden,
                format!("You may not create VNets in zone {zone}"),
            ));
        }
        if let Some(pool) = &pool {
            let exists = v
                .resources
                .iter()
                .any(|r| r.kind == ResourceKind::Pool && r.pool.as_deref() == Some(pool.as_str()));
            let access = v.engine.pool_access(p, pool.as_str());
            if !exists || !access.see {
                return Err(AppError::with_message(
                    ErrorCode::NotFound,
                    format!("No pool {pool}"),
                ));
            }
            if !access.manage {
                return Err(AppError::with_message(
                    ErrorCode::Forbidden,
                    format!("You may not add VNets to pool {pool}: you don't manage it"),
                ));
            }
        }
        if !admin {
            let prefixes = name_prefixes(caller.username());
            let lower = vnet.as_str().to_lowercase();
            if !prefixes.iter().any(|pre| lower.starts_with(pre.as_str())) {
                let shown: Vec<String> = prefixes
                    .iter()
                    .map(|pre| format!("DEV{}", &pre[3..]))
                    .collect();
                return Err(AppError::with_message(
                    ErrorCode::Forbidden,
                    if shown.is_empty() {
                        "Your username has no letters or digits to name VNets after; ask an administrator".to_owned()
                    } else {
                        format!(
                            "You can only create VNets whose name starts with {}. Ask an administrator for other names.",
                            shown.join(" or ")
                        )
                    },
                ));
            }
        }
        let tag_part = input.tag.unwrap_or(0).to_string();
        let owner = owner_tag(caller.username());
        let alias = match (&pool, &label) {
            (Some(pool), Some(l)) => format!("{pool}_{tag_part}_{l}_DEV_{owner}"),
            (Some(pool), None) => format!("{pool}_{tag_part}_DEV_{owner}"),
            (None, Some(l)) if caller.is_admin() => l.clone(),
            (None, Some(l)) => format!("{tag_part}_{l}_DEV_{owner}"),
            (None, None) => format!("{tag_part}_DEV_{owner}"),
        };
        if alias.len() > 256 {
            return Err(AppError::field("alias", "the alias would be longer than 256 characters"));
        }
        // One creation at a time in this instance, so the per-user count holds.
        let _one = ops.sdn.create.lock().await;
        let existing = vnets_raw(ops).await?;
        if existing
            .iter()
            .any(|n| str_of(n, "vnet").is_some_and(|id| id.eq_ignore_ascii_case(vnet.as_str())))
        {
            return Err(AppError::with_message(
                ErrorCode::Conflict,
                format!("A VNet named {vnet} already exists"),
            ));
        }
        if let Some(tag) = input.tag {
            if let Some(other) = existing.iter().find(|n| {
                str_of(n, "zone") == Some(zone.as_str()) && tag_of(n) == Some(tag)
            }) {
                return Err(AppError::with_message(
                    ErrorCode::Conflict,
                    format!(
                        "Tag {tag} is already used by VNet {} in zone {zone}",
                        str_of(other, "vnet").unwrap_or_default()
                    ),
                ));
            }
        }
        if !admin {
            let cap = per_user_cap(ops).await?;
            let have = existing
                .iter()
                .filter(|n| owned_by(alias_of(n), caller.username()))
                .count() as i64;
            if cap > 0 && have >= cap {
                return Err(AppError::with_message(
                    ErrorCode::QuotaExceeded,
                    format!("VNet limit reached: each user may have {cap} VNets, and you have {have}."),
                ));
            }
        }
        let ticket = match &pool {
            Some(pool) if !input.override_quota => Some(
                ops
                    .quotas
                    .reserve(
                        Ask {
                            pool: Some(pool.to_string()),
                            amounts: Amounts {
                                vnets: 1,
                                ..Amounts::default()
                            },
                            new_vmid: NewId::None,
                        },
                    )
                    .await?,
            ),
            _ => None,
        };
        let mut form = vec![
            ("vnet", vnet.to_string()),
            ("zone", zone.to_string()),
            ("alias", alias.clone()),
        ];
        if let Some(tag) = input.tag {
            form.push(("tag", tag.to_string()));
        }
        if let Some(aware) = input.vlanaware {
            form.push(("vlanaware", if aware { "1" } else { "0" }.to_owned()));
        }
        let _: Value = ops.pve.post("cluster/sdn/vnets", &form).await?;
        if let Some(t) = ticket {
            t.commit();
        }
        ops.acl.invalidate();
        Ok((
            json!({ "success": true, "vnet": vnet, "alias": alias, "pending": true }),
            json!({ "alias": alias }),
        ))
    })
    .await
}

/// Deletes a VNet: its owner, a manager of the pool it is charged to, or an effective
/// administrator. Pending until SDN changes are applied.
pub async fn delete_vnet(ops: &Ops, caller: &Caller, vnet: &str) -> AppResult<Value> {
    let vnet = VnetId::parse("vnet", vnet.trim())?;
    let resource = format!("vnet:{vnet}");
    limit(
        ops,
        caller,
        Preset::VnetCreate,
        AuditAction::VnetDelete,
        &resource,
    )
    .await?;
    ops.audit
        .audited(
            &caller.actor,
            AuditAction::VnetDelete,
            &resource,
            Value::Null,
            async {
                let v = ops.acl.reload().await?;
                let p = &caller.principal;
                let admin = v.engine.effective_admin(p);
                let all = vnets_raw(ops).await?;
                let Some(found) = all
                    .iter()
                    .find(|n| str_of(n, "vnet") == Some(vnet.as_str()))
                else {
                    return Err(AppError::with_message(
                        ErrorCode::NotFound,
                        format!("No VNet {vnet}"),
                    ));
                };
                let alias = alias_of(found).to_owned();
                if !admin {
                    let own = owned_by(&alias, caller.username());
                    let pool = vnet_pool(&v.resources, found);
                    let manages = pool.is_some_and(|pool| v.engine.pool_access(p, pool).manage);
                    if !own && !manages {
                        let sees = vnet_in_visible_zone(&v.engine, p, found)
                            || pool.is_some_and(|pool| v.engine.pool_access(p, pool).see);
                        return Err(if sees {
                            AppError::with_message(
                                ErrorCode::Forbidden,
                                "You can only delete VNets that you created",
                            )
                        } else {
                            AppError::with_message(ErrorCode::NotFound, format!("No VNet {vnet}"))
                        });
                    }
                }
                let _: Value = ops
                    .pve
                    .delete(ApiPath::lit("cluster/sdn/vnets").seg(&vnet), &[])
                    .await?;
                ops.acl.invalidate();
                Ok((
                    json!({ "success": true, "pending": true }),
                    json!({ "alias": alias, "zone": str_of(found, "zone") }),
                ))
            },
        )
        .await
}

/// The next free tag in a zone (Userlabs: the first free one of 1001–1255; else one above the
/// highest) and a VNet name the caller may use.
pub async fn next_tag(ops: &Ops, caller: &Caller, zone: Option<&str>) -> AppResult<Value> {
    let zone = ZoneId::parse("zone", zone.map(str::trim).unwrap_or_default())?;
    let resource = format!("zone:{zone}");
    limit(
        ops,
        caller,
        Preset::Search,
        AuditAction::ViewNextTag,
        &resource,
    )
    .await?;
    ops.audit
        .audited(
            &caller.actor,
            AuditAction::ViewNextTag,
            &resource,
            json!({ "zone": zone }),
            async {
                let v = view(ops).await?;
                let p = &caller.principal;
                let admin = v.engine.effective_admin(p);
                let (zones, vnets) = tokio::try_join!(zones_raw(ops), vnets_raw(ops))?;
                if !zones
                    .iter()
                    .any(|z| str_of(z, "zone") == Some(zone.as_str()))
                    || !(admin || zone_visible(&v.engine, p, zone.as_str()))
                {
                    return Err(AppError::with_message(
                        ErrorCode::NotFound,
                        format!("No zone {zone}"),
                    ));
                }
                let used: BTreeSet<i64> = vnets
                    .iter()
                    .filter(|n| str_of(n, "zone") == Some(zone.as_str()))
                    .filter_map(tag_of)
                    .collect();
                let tag = if is_userlab(zone.as_str()) {
                    USERLAB_TAGS
                        .clone()
                        .find(|t| !used.contains(t))
                        .ok_or_else(|| {
                            AppError::with_message(
                                ErrorCode::Conflict,
                                "No free VNet tag left in the Userlabs range (1001-1255)",
                            )
                        })?
                } else {
                    let above = used.iter().max().map_or(1, |m| m + 1);
                    if TAGS.contains(&above) {
                        above
                    } else {
                        TAGS.clone().find(|t| !used.contains(t)).ok_or_else(|| {
                            AppError::with_message(
                                ErrorCode::Conflict,
                                format!("No free VLAN tag left in zone {zone}"),
                            )
                        })?
                    }
                };
                let names: BTreeSet<String> = vnets
                    .iter()
                    .filter_map(|n| str_of(n, "vnet"))
                    .map(str::to_lowercase)
                    .collect();
                let suggested = suggest_name(caller.username(), &names);
                Ok((
                    json!({ "nextTag": tag, "suggestedName": suggested }),
                    json!({ "nextTag": tag, "suggestedName": suggested }),
                ))
            },
        )
        .await
}

/// `DEV<first 4><n>` for n = 1..9, then `DEV<first 3><n>` for n = 10..99: the first unused one
/// (usernames reduced to their letters and digits). `None` when the username has none.
pub fn suggest_name(username: &str, taken_lower: &BTreeSet<String>) -> Option<String> {
    let clean: String = username
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    if clean.is_empty() {
        return None;
    }
    let four: String = clean.chars().take(4).collect();
    let three: String = clean.chars().take(3).collect();
    (1..=99u32)
        .map(|n| {
            if n < 10 {
                format!("DEV{four}{n}")
            } else {
                format!("DEV{three}{n}")
            }
        })
        .find(|name| !taken_lower.contains(&name.to_lowercase()))
}

// ---------------------------------------------------------------------------------------------
// Applying

/// Who holds the apply cooldown, and for how long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Busy {
    /// Seconds left.
    pub remaining: u64,
    /// Who applied.
    pub by: String,
}

#[derive(Debug, Clone)]
struct Held {
    token: String,
    by: String,
    until: Instant,
}

/// A taken cooldown; give it back with [`SdnGate::release`] when the apply fails.
#[derive(Debug)]
pub struct Claim {
    token: String,
    in_redis: bool,
}

/// Per-instance SDN state: the in-process apply cooldown (used without Redis) and the lock that
/// keeps this instance's VNet creations one at a time.
#[derive(Debug, Default)]
pub struct SdnGate {
    local: Mutex<Option<Held>>,
    /// Held while a VNet is checked against the per-user cap and created.
    pub create: tokio::sync::Mutex<()>,
}

impl SdnGate {
    /// Takes the cooldown for `user`, or says who holds it and for how long.
    pub async fn claim(
        &self,
        redis: Option<&fred::clients::Client>,
        user: &str,
        cooldown: Duration,
    ) -> Result<Claim, Busy> {
        let token = uuid::Uuid::new_v4().simple().to_string();
        if let Some(r) = redis {
            match Self::claim_redis(r, &token, user, cooldown).await {
                Ok(Ok(())) => {
                    return Ok(Claim {
                        token,
                        in_redis: true,
                    });
                }
                Ok(Err(busy)) => return Err(busy),
                Err(e) => {
                    tracing::warn!(error = %e, "SDN apply cooldown: Redis failed; keeping it in process");
                }
            }
        }
        let mut held = self.local.lock();
        if let Some(h) = held.as_ref() {
            let now = Instant::now();
            if h.until > now {
                return Err(Busy {
                    remaining: (h.until - now).as_secs_f64().ceil() as u64,
                    by: h.by.clone(),
                });
            }
        }
        *held = Some(Held {
            token: token.clone(),
            by: user.to_owned(),
            until: Instant::now() + cooldown,
        });
        Ok(Claim {
            token,
            in_redis: false,
        })
    }

    async fn claim_redis(
        r: &fred::clients::Client,
        token: &str,
        user: &str,
        cooldown: Duration,
    ) -> Result<Result<(), Busy>, fred::error::Error> {
        let secs = i64::try_from(cooldown.as_secs().max(1)).unwrap_or(i64::MAX);
        let set: Option<String> = r
            .set(
                COOLDOWN_KEY,
                format!("{token}:{user}"),
                Some(fred::types::Expiration::EX(secs)),
                Some(fred::types::SetOptions::NX),
                false,
            )
            .await?;
        if set.is_some() {
            return Ok(Ok(()));
        }
        Ok(Err(Self::busy_redis(r).await?.unwrap_or(Busy {
            remaining: 1,
            by: String::new(),
        })))
    }

    async fn busy_redis(r: &fred::clients::Client) -> Result<Option<Busy>, fred::error::Error> {
        let value: Option<String> = r.get(COOLDOWN_KEY).await?;
        let ttl: i64 = r.ttl(COOLDOWN_KEY).await?;
        Ok(value.filter(|_| ttl > 0).map(|v| Busy {
            remaining: u64::try_from(ttl).unwrap_or(1),
            by: v
                .split_once(':')
                .map(|(_, u)| u.to_owned())
                .unwrap_or_default(),
        }))
    }

    /// Gives the cooldown back (the apply failed), if it is still the one `claim` took.
    pub async fn release(&self, redis: Option<&fred::clients::Client>, claim: Claim) {
        if claim.in_redis {
            if let Some(r) = redis {
                let current: Result<Option<String>, _> = r.get(COOLDOWN_KEY).await;
                match current {
                    Ok(Some(v))
                        if v.split_once(':').map(|(t, _)| t) == Some(claim.token.as_str()) =>
                    {
                        let _: Result<i64, _> = r.del(COOLDOWN_KEY).await;
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "SDN apply cooldown: could not release it in Redis");
                    }
                }
            }
            return;
        }
        let mut held = self.local.lock();
        if held.as_ref().is_some_and(|h| h.token == claim.token) {
            *held = None;
        }
    }

    /// The cooldown in force, if any.
    pub async fn status(&self, redis: Option<&fred::clients::Client>) -> Option<Busy> {
        if let Some(r) = redis {
            match Self::busy_redis(r).await {
                Ok(busy) => return busy,
                Err(e) => {
                    tracing::warn!(error = %e, "SDN apply cooldown: Redis failed; reading it in process");
                }
            }
        }
        let held = self.local.lock();
        let now = Instant::now();
        held.as_ref().filter(|h| h.until > now).map(|h| Busy {
            remaining: (h.until - now).as_secs_f64().ceil() as u64,
            by: h.by.clone(),
        })
    }
}

/// Whether the caller is an effective administrator; `false` when the view can't be read (used
/// only to decide how much a read shows).
async fn effective_admin_or_not(ops: &Ops, caller: &Caller) -> bool {
    caller.is_admin()
        || view(ops)
            .await
            .is_ok_and(|v| v.engine.effective_admin(&caller.principal))
}

/// The cooldown: `{remainingSeconds, appliedBy}` (who applied is shown to administrators only).
pub async fn apply_queue(ops: &Ops, caller: &Caller) -> AppResult<Value> {
    let busy = ops.sdn.status(ops.redis.as_ref()).await;
    let admin = effective_admin_or_not(ops, caller).await;
    Ok(json!({
        "remainingSeconds": busy.as_ref().map_or(0, |b| b.remaining),
        "appliedBy": busy.filter(|_| admin).map(|b| b.by),
        "cooldownSeconds": COOLDOWN.as_secs(),
    }))
}

/// Applies pending SDN changes to the cluster (effective administrators, once per cooldown).
pub async fn apply(ops: &Ops, caller: &Caller) -> AppResult<Value> {
    let resource = "sdn:cluster";
    let v = view_or_refuse(ops, caller, AuditAction::SdnApply, resource).await?;
    if !v.engine.effective_admin(&caller.principal) {
        let err = AppError::with_message(
            ErrorCode::Forbidden,
            "Only administrators can apply SDN changes",
        );
        ops.audit
            .refused(&caller.actor, AuditAction::SdnApply, resource, &err);
        return Err(err);
    }
    let claim = match ops
        .sdn
        .claim(ops.redis.as_ref(), caller.username(), COOLDOWN)
        .await
    {
        Ok(c) => c,
        Err(busy) => {
            ops.audit.record(
                &caller.actor,
                AuditAction::SdnApply,
                resource,
                Status::Warning,
                json!({ "reason": "cooldown", "remainingSeconds": busy.remaining, "appliedBy": busy.by }),
            );
            let mut err = AppError::with_message(
                ErrorCode::RateLimited,
                format!(
                    "Network changes were applied by {} moments ago; the next apply is possible in {} seconds.",
                    if busy.by.is_empty() {
                        "someone"
                    } else {
                        busy.by.as_str()
                    },
                    busy.remaining
                ),
            );
            err.retry_after = Some(busy.remaining.max(1));
            return Err(err);
        }
    };
    ops.audit
        .audited(
            &caller.actor,
            AuditAction::SdnApply,
            resource,
            json!({ "cooldownSeconds": COOLDOWN.as_secs() }),
            async {
                let result: Result<Value, _> = ops.pve.put("cluster/sdn", &[]).await;
                let answer = match result {
                    Ok(a) => a,
                    Err(e) => {
                        ops.sdn.release(ops.redis.as_ref(), claim).await;
                        return Err(e.into());
                    }
                };
                let upid = answer.as_str().map(str::to_owned);
                if let Some(u) = upid.as_deref().and_then(|u| Upid::parse("upid", u).ok()) {
                    ops.tasks.track(u, caller.username(), None);
                }
                ops.acl.invalidate();
                Ok((
                    json!({ "success": true, "upid": upid, "cooldownSeconds": COOLDOWN.as_secs() }),
                    json!({ "upid": upid }),
                ))
            },
        )
        .await
}

/// Whether a network task is running: `{isRunning, task}` (the first running SDN apply or
/// networking reload).
pub async fn status(ops: &Ops, caller: &Caller) -> AppResult<Value> {
    let tasks: Vec<Value> = ops.pve.get("cluster/tasks").await?;
    let running = tasks.into_iter().find(|t| {
        let ty = str_of(t, "type").unwrap_or_default();
        let id = str_of(t, "id").unwrap_or_default();
        let ended = t.get("endtime").is_some_and(|e| !e.is_null())
            || str_of(t, "status").is_some_and(|s| s != "RUNNING");
        !ended
            && (ty == "reloadnetworkall"
                || ty == "sdnapply"
                || ty.contains("sdn")
                || (ty == "srv" && id.contains("networking")))
    });
    let admin = effective_admin_or_not(ops, caller).await;
    let task = running.map(|t| {
        let mut out = json!({
            "upid": t.get("upid"), "type": t.get("type"), "node": t.get("node"),
            "starttime": t.get("starttime"), "status": "running",
        });
        if admin {
            out["user"] = t.get("user").cloned().unwrap_or(Value::Null);
        }
        out
    });
    Ok(json!({ "isRunning": task.is_some(), "task": task }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

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
