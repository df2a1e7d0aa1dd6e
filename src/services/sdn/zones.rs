//! SDN zones: list what the caller may see, create (administrators).

use serde::Deserialize;
use serde_json::{json, Value};

use super::*;
use crate::acl::sdn::zone_visible;
use crate::audit::AuditAction;
use crate::auth::Caller;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::limits::Preset;
use crate::pve::path::ZoneId;
use crate::services::Ops;
use crate::services::{limit, view};

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
