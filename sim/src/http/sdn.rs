//! SDN zones and VNets: edits are pending until `PUT /cluster/sdn` applies them (a
//! `reloadnetworkall` task); `?pending=1` shows the `state`/`pending` diff, `?running=1` the
//! applied config.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::{null, Ctx, Reply};
use crate::error::ApiError;
use crate::model::{digest, Config};
use crate::params::Params;

pub(super) fn index(ctx: &mut Ctx<'_>, _: &Params) -> Result<Reply, ApiError> {
    ctx.check("/sdn", &["SDN.Audit"], false)?;
    Ok(json!([
        { "id": "vnets" }, { "id": "zones" }, { "id": "controllers" }, { "id": "ipams" },
        { "id": "dns" }, { "id": "fabrics" },
    ])
    .into())
}

pub(super) fn apply(ctx: &mut Ctx<'_>, _: &Params) -> Result<Reply, ApiError> {
    ctx.check("/sdn", &["SDN.Allocate"], false)?;
    let node = ctx.c.nodes.keys().next().cloned().unwrap_or_default();
    let upid = ctx.c.spawn_task(
        &node,
        "reloadnetworkall",
        "",
        ctx.auth,
        ctx.task_ms,
        vec!["reloading network config on all nodes".to_owned()],
        Box::new(|c| {
            c.sdn.running_zones = c.sdn.zones.clone();
            c.sdn.running_vnets = c.sdn.vnets.clone();
            Ok(())
        }),
    );
    Ok(json!(upid).into())
}

fn item(id_key: &str, id: &str, props: &Config) -> Map<String, Value> {
    let mut m: Map<String, Value> = props.clone().into_iter().collect();
    m.insert(id_key.into(), json!(id));
    m.insert("digest".into(), json!(digest(props)));
    m
}

/// Lists objects in the requested view.
fn view(
    id_key: &str,
    edited: &BTreeMap<String, Config>,
    running: &BTreeMap<String, Config>,
    p: &Params,
) -> Vec<(String, Map<String, Value>)> {
    if p.flag("running").unwrap_or(false) {
        return running
            .iter()
            .map(|(id, c)| (id.clone(), item(id_key, id, c)))
            .collect();
    }
    if !p.flag("pending").unwrap_or(false) {
        return edited
            .iter()
            .map(|(id, c)| (id.clone(), item(id_key, id, c)))
            .collect();
    }
    let mut ids: Vec<&String> = edited.keys().chain(running.keys()).collect();
    ids.sort();
    ids.dedup();
    ids.into_iter()
        .map(|id| {
            let m = match (edited.get(id), running.get(id)) {
                (Some(e), None) => {
                    let mut m = Map::new();
                    m.insert(id_key.into(), json!(id));
                    m.insert("type".into(), e.get("type").cloned().unwrap_or(Value::Null));
                    m.insert("state".into(), json!("new"));
                    let mut pending: Map<String, Value> = e.clone().into_iter().collect();
                    pending.remove("type");
                    m.insert("pending".into(), Value::Object(pending));
                    m
                }
                (None, Some(r)) => {
                    let mut m = item(id_key, id, r);
                    m.insert("state".into(), json!("deleted"));
                    m
                }
                (Some(e), Some(r)) if e != r => {
                    let mut m = item(id_key, id, r);
                    m.insert("state".into(), json!("changed"));
                    let mut pending: Map<String, Value> = e.clone().into_iter().collect();
                    pending.remove("type");
                    m.insert("pending".into(), Value::Object(pending));
                    m
                }
                (Some(e), _) => item(id_key, id, e),
                (None, None) => Map::new(),
            };
            (id.clone(), m)
        })
        .collect()
}

pub(super) fn zones(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    let ty = p.str("type");
    let out: Vec<Value> = view("zone", &ctx.c.sdn.zones, &ctx.c.sdn.running_zones, p)
        .into_iter()
        .filter(|(id, _)| ctx.allowed(&format!("/sdn/zones/{id}"), &["SDN.Audit", "SDN.Allocate"]))
        .filter(|(_, m)| ty.is_none_or(|t| m.get("type").and_then(Value::as_str) == Some(t)))
        .map(|(_, m)| Value::Object(m))
        .collect();
    Ok(Value::Array(out).into())
}

/// `pve-sdn-zone-id` / `pve-sdn-vnet-id`: `^[a-z][a-z0-9]*[a-z0-9]$` case-insensitively, at most
/// 8 characters (`pve-network`, `parse_sdn_{zone,vnet}_id`).
fn valid_id(id: &str) -> bool {
    let mut chars = id.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && (2..=8).contains(&id.len())
        && chars.all(|c| c.is_ascii_alphanumeric())
}

fn props(p: &Params, skip: &[&str]) -> Config {
    p.0.iter()
        .filter(|(k, _)| !skip.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

const META: &[&str] = &[
    "zone",
    "vnet",
    "digest",
    "delete",
    "lock-token",
    "pending",
    "running",
];

pub(super) fn zone_create(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    ctx.check("/sdn/zones", &["SDN.Allocate"], false)?;
    let id = p.req("zone");
    if !valid_id(id) {
        return Err(ApiError::param(
            "zone",
            format!("invalid format - invalid sdn zone id '{id}'"),
        ));
    }
    if ctx.c.sdn.zones.contains_key(id) {
        return Err(ApiError::die(format!(
            "sdn zone object ID '{id}' already defined"
        )));
    }
    if p.str("type") == Some("vlan") && p.str("bridge").is_none() {
        return Err(ApiError::param(
            "bridge",
            "property is missing and it is not optional",
        ));
    }
    let mut conf = props(p, META);
    conf.entry("ipam".into()).or_insert(json!("pve"));
    ctx.c.sdn.zones.insert(id.to_owned(), conf);
    null()
}

fn zone_exists(ctx: &Ctx<'_>, id: &str) -> Result<(), ApiError> {
    if ctx.c.sdn.zones.contains_key(id) || ctx.c.sdn.running_zones.contains_key(id) {
        Ok(())
    } else {
        Err(ApiError::die(format!("sdn '{id}' does not exist")))
    }
}

pub(super) fn zone_get(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    let id = p.req("zone");
    ctx.check(&format!("/sdn/zones/{id}"), &["SDN.Allocate"], false)?;
    zone_exists(ctx, id)?;
    let found = view("zone", &ctx.c.sdn.zones, &ctx.c.sdn.running_zones, p)
        .into_iter()
        .find(|(i, _)| i == id)
        .ok_or_else(|| ApiError::die(format!("sdn '{id}' does not exist")))?;
    Ok(Value::Object(found.1).into())
}

fn check_digest(p: &Params, conf: &Config) -> Result<(), ApiError> {
    match p.str("digest") {
        Some(d) if d != digest(conf) => Err(ApiError::die(
            "detected modified configuration - file changed by other user? Try again.",
        )),
        _ => Ok(()),
    }
}

pub(super) fn zone_update(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    let id = p.req("zone");
    ctx.check(&format!("/sdn/zones/{id}"), &["SDN.Allocate"], false)?;
    let conf = ctx
        .c
        .sdn
        .zones
        .get_mut(id)
        .ok_or_else(|| ApiError::die(format!("sdn '{id}' does not exist")))?;
    check_digest(p, conf)?;
    conf.extend(props(p, META));
    for key in super::split_list(p.str("delete").unwrap_or_default()) {
        conf.remove(&key);
    }
    null()
}

pub(super) fn zone_delete(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    let id = p.req("zone");
    ctx.check(&format!("/sdn/zones/{id}"), &["SDN.Allocate"], false)?;
    if !ctx.c.sdn.zones.contains_key(id) {
        return Err(ApiError::die(format!("sdn '{id}' does not exist")));
    }
    if let Some((vnet, _)) = ctx
        .c
        .sdn
        .vnets
        .iter()
        .find(|(_, v)| v.get("zone").and_then(Value::as_str) == Some(id))
    {
        return Err(ApiError::die(format!(
            "Can't delete zone {id}, vnet {vnet} uses it"
        )));
    }
    ctx.c.sdn.zones.remove(id);
    null()
}

fn vnet_zone(ctx: &Ctx<'_>, id: &str) -> Option<String> {
    ctx.c
        .sdn
        .vnets
        .get(id)
        .or_else(|| ctx.c.sdn.running_vnets.get(id))
        .and_then(|v| v.get("zone").and_then(Value::as_str).map(str::to_owned))
}

pub(super) fn vnets(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    let out: Vec<Value> = view("vnet", &ctx.c.sdn.vnets, &ctx.c.sdn.running_vnets, p)
        .into_iter()
        .filter(|(id, m)| {
            let zone = m
                .get("zone")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .or_else(|| vnet_zone(ctx, id))
                .unwrap_or_default();
            ctx.allowed(
                &format!("/sdn/zones/{zone}/{id}"),
                &["SDN.Audit", "SDN.Allocate"],
            )
        })
        .map(|(_, mut m)| {
            m.entry("type").or_insert(json!("vnet"));
            Value::Object(m)
        })
        .collect();
    Ok(Value::Array(out).into())
}

pub(super) fn vnet_create(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    let id = p.req("vnet");
    let zone = p.req("zone");
    ctx.check(&format!("/sdn/zones/{zone}"), &["SDN.Allocate"], false)?;
    if !valid_id(id) {
        return Err(ApiError::param(
            "vnet",
            format!("invalid format - invalid sdn vnet id '{id}'"),
        ));
    }
    if !ctx.c.sdn.zones.contains_key(zone) {
        return Err(ApiError::die(format!("zone '{zone}' does not exist")));
    }
    if ctx.c.sdn.vnets.contains_key(id) {
        return Err(ApiError::die(format!(
            "sdn vnet object ID '{id}' already defined"
        )));
    }
    let mut conf = props(p, &["vnet", "digest", "delete", "lock-token"]);
    conf.insert("type".into(), json!("vnet"));
    ctx.c.sdn.vnets.insert(id.to_owned(), conf);
    null()
}

pub(super) fn vnet_get(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    let id = p.req("vnet");
    let zone =
        vnet_zone(ctx, id).ok_or_else(|| ApiError::die(format!("sdn '{id}' does not exist")))?;
    ctx.check(
        &format!("/sdn/zones/{zone}/{id}"),
        &["SDN.Audit", "SDN.Allocate"],
        true,
    )?;
    let found = view("vnet", &ctx.c.sdn.vnets, &ctx.c.sdn.running_vnets, p)
        .into_iter()
        .find(|(i, _)| i == id)
        .ok_or_else(|| ApiError::die(format!("sdn '{id}' does not exist")))?;
    Ok(Value::Object(found.1).into())
}

pub(super) fn vnet_update(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    let id = p.req("vnet");
    let zone =
        vnet_zone(ctx, id).ok_or_else(|| ApiError::die(format!("sdn '{id}' does not exist")))?;
    ctx.check(&format!("/sdn/zones/{zone}/{id}"), &["SDN.Allocate"], false)?;
    if let Some(z) = p.str("zone") {
        if !ctx.c.sdn.zones.contains_key(z) {
            return Err(ApiError::die(format!("zone '{z}' does not exist")));
        }
    }
    let conf = ctx
        .c
        .sdn
        .vnets
        .get_mut(id)
        .ok_or_else(|| ApiError::die(format!("sdn '{id}' does not exist")))?;
    check_digest(p, conf)?;
    conf.extend(props(p, &["vnet", "digest", "delete", "lock-token"]));
    for key in super::split_list(p.str("delete").unwrap_or_default()) {
        conf.remove(&key);
    }
    null()
}

pub(super) fn vnet_delete(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    let id = p.req("vnet");
    let zone =
        vnet_zone(ctx, id).ok_or_else(|| ApiError::die(format!("sdn '{id}' does not exist")))?;
    ctx.check(&format!("/sdn/zones/{zone}/{id}"), &["SDN.Allocate"], false)?;
    if ctx.c.sdn.vnets.remove(id).is_none() {
        return Err(ApiError::die(format!("sdn '{id}' does not exist")));
    }
    null()
}
