//! VNets: list, create (named and tagged for their owner, within the per-user cap and the pool's quota), delete, and the next free tag.

use std::collections::BTreeSet;

use serde::Deserialize;
use serde_json::{json, Value};

use super::*;
use crate::acl::sdn::{alias_of, vnet_in_visible_zone, vnet_pool, zone_visible};
use crate::acl::sdn::{designated, owned_by, owner_tag};
use crate::audit::AuditAction;
use crate::auth::Caller;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::limits::Preset;
use crate::pve::models::ResourceKind;
use crate::pve::path::{ApiPath, PoolId, VnetId, ZoneId};
use crate::services::quota::{Amounts, Ask, NewId};
use crate::services::Ops;
use crate::services::{limit, view};
use crate::store::settings::RESOURCE_LIMITS_KEY;

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
