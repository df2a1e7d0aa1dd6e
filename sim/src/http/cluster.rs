//! `/version`, `/cluster/resources`, `/cluster/nextid`, `/cluster/tasks`, `/cluster/replication`.

use serde_json::{json, Value};

use super::{null, Ctx, Reply};
use crate::error::ApiError;
use crate::model::{now_secs, ReplJob};
use crate::params::Params;

pub(super) fn version(_: &mut Ctx<'_>, _: &Params) -> Result<Reply, ApiError> {
    Ok(
        json!({ "version": "9.1.3", "release": "9.1", "repoid": "5e1f0c3a", "console": "html5" })
            .into(),
    )
}

pub(super) fn resources(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    let ty = p.str("type");
    let now = now_secs();
    let c = &*ctx.c;
    let mut out = Vec::new();
    if ty.is_none() || ty == Some("vm") {
        for g in c.guests.values() {
            if ctx.allowed(&format!("/vms/{}", g.vmid), &["VM.Audit"]) {
                out.push(c.guest_resource(g, now));
            }
        }
    }
    if ty.is_none() || ty == Some("node") {
        for n in c.nodes.values() {
            let mut v = json!({
                "id": format!("node/{}", n.name), "type": "node", "node": n.name,
                "status": if n.online { "online" } else { "offline" },
            });
            if ctx.allowed(&format!("/nodes/{}", n.name), &["Sys.Audit"]) && n.online {
                let (cpu, mem) = crate::rrd::node_now(n, now);
                v["cpu"] = json!(cpu);
                v["maxcpu"] = json!(n.cpus);
                v["mem"] = json!(mem);
                v["maxmem"] = json!(n.mem_total);
                v["disk"] = json!((n.root_total as f64 * 0.21) as u64);
                v["maxdisk"] = json!(n.root_total);
                v["uptime"] = json!(now - n.boot_time);
                v["level"] = json!("");
                v["cgroup-mode"] = json!(2);
            }
            out.push(v);
        }
    }
    if ty.is_none() || ty == Some("storage") {
        let usage = c.storage_usage();
        for n in c.nodes.values() {
            for s in c.storages.values() {
                if !ctx.allowed(
                    &format!("/storage/{}", s.id),
                    &["Datastore.Audit", "Datastore.AllocateSpace"],
                ) {
                    continue;
                }
                let used = crate::model::Cluster::used_in(&usage, s, &n.name);
                out.push(json!({
                    "id": format!("storage/{}/{}", n.name, s.id), "type": "storage",
                    "storage": s.id, "node": n.name, "plugintype": s.ty, "content": s.content,
                    "shared": u8::from(s.shared),
                    "status": if n.online { "available" } else { "unknown" },
                    "disk": used, "maxdisk": s.total,
                }));
            }
        }
    }
    if ty.is_none() {
        for name in c.pools.keys() {
            if ctx.allowed(&format!("/pool/{name}"), &["Pool.Audit"]) {
                out.push(json!({ "id": format!("/pool/{name}"), "type": "pool", "pool": name }));
            }
        }
    }
    if ty.is_none() || ty == Some("sdn") {
        for (zone, _) in c.sdn.running_zones.iter() {
            if !ctx.allowed(&format!("/sdn/zones/{zone}"), &["SDN.Audit"]) {
                continue;
            }
            for n in c.nodes.values() {
                out.push(json!({
                    "id": format!("sdn/{}/{zone}", n.name), "type": "sdn", "sdn": zone,
                    "node": n.name, "status": if n.online { "ok" } else { "unknown" },
                }));
            }
        }
    }
    Ok(Value::Array(out).into())
}

pub(super) fn nextid(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    if let Some(vmid) = p.int("vmid") {
        let taken = u32::try_from(vmid).is_ok_and(|v| ctx.c.guests.contains_key(&v));
        if taken {
            return Err(ApiError::param("vmid", format!("VM {vmid} already exists")));
        }
        return Ok(json!(vmid.to_string()).into());
    }
    Ok(json!(ctx.c.next_free_vmid().to_string()).into())
}

pub(super) fn tasks(ctx: &mut Ctx<'_>, _: &Params) -> Result<Reply, ApiError> {
    let mut list: Vec<_> = ctx
        .c
        .tasks
        .iter()
        .filter(|t| task_visible(ctx, &t.user, &t.id))
        .map(|t| (t.starttime, t.list_json()))
        .collect();
    list.sort_by_key(|t| std::cmp::Reverse(t.0));
    Ok(Value::Array(list.into_iter().map(|(_, v)| v).collect()).into())
}

/// Tasks are visible to their owner, to `Sys.Audit` on `/nodes`, or with VM.Audit on the guest.
pub(super) fn task_visible(ctx: &Ctx<'_>, user: &str, id: &str) -> bool {
    if ctx.auth.is_root() || user == ctx.auth.task_user() || user == ctx.auth.userid {
        return true;
    }
    if ctx.allowed("/nodes", &["Sys.Audit"]) {
        return true;
    }
    id.parse::<u32>()
        .is_ok_and(|vmid| ctx.allowed(&format!("/vms/{vmid}"), &["VM.Audit"]))
}

fn repl_json(c: &crate::model::Cluster, j: &ReplJob) -> Value {
    let mut v = json!({
        "id": j.id(), "type": "local", "guest": j.guest, "jobnum": j.jobnum, "target": j.target,
    });
    if let Some(src) = c.guests.get(&j.guest) {
        v["source"] = json!(src.node);
    }
    if let Some(s) = &j.schedule {
        v["schedule"] = json!(s);
    }
    if let Some(s) = &j.comment {
        v["comment"] = json!(s);
    }
    if let Some(r) = j.rate {
        v["rate"] = json!(r);
    }
    if j.disable {
        v["disable"] = json!(1);
    }
    v
}

pub(super) fn repl_list(ctx: &mut Ctx<'_>, _: &Params) -> Result<Reply, ApiError> {
    let out: Vec<Value> = ctx
        .c
        .replication
        .values()
        .filter(|j| ctx.allowed(&format!("/vms/{}", j.guest), &["VM.Audit"]))
        .map(|j| repl_json(ctx.c, j))
        .collect();
    Ok(Value::Array(out).into())
}

fn parse_job_id(id: &str) -> Result<(u32, u32), ApiError> {
    id.split_once('-')
        .and_then(|(g, n)| Some((g.parse().ok()?, n.parse().ok()?)))
        .ok_or_else(|| ApiError::param("id", "invalid format - replication job id"))
}

pub(super) fn repl_get(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    let id = p.req("id");
    let (guest, _) = parse_job_id(id)?;
    ctx.check(&format!("/vms/{guest}"), &["VM.Audit"], false)?;
    let j = ctx
        .c
        .replication
        .get(id)
        .ok_or_else(|| ApiError::die(format!("replication job '{id}' does not exist")))?;
    let mut v = repl_json(ctx.c, j);
    v["digest"] = json!(crate::model::digest(&Default::default()));
    Ok(v.into())
}

fn apply_repl(j: &mut ReplJob, p: &Params) {
    if let Some(s) = p.str("schedule") {
        j.schedule = Some(s.to_owned());
    }
    if let Some(s) = p.str("comment") {
        j.comment = Some(s.to_owned());
    }
    if let Some(r) = p.num("rate") {
        j.rate = Some(r);
    }
    if let Some(d) = p.flag("disable") {
        j.disable = d;
    }
    for key in super::split_list(p.str("delete").unwrap_or_default()) {
        match key.as_str() {
            "schedule" => j.schedule = None,
            "comment" => j.comment = None,
            "rate" => j.rate = None,
            "disable" => j.disable = false,
            _ => {}
        }
    }
}

pub(super) fn repl_create(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    let id = p.req("id");
    let (guest, jobnum) = parse_job_id(id)?;
    ctx.check(&format!("/vms/{guest}"), &["VM.Replicate"], false)?;
    let target = p.req("target");
    ctx.c.node(target)?;
    let g = ctx
        .c
        .guests
        .get(&guest)
        .ok_or_else(|| ApiError::die(format!("guest '{guest}' does not exist")))?;
    if g.node == target {
        return Err(ApiError::die(format!(
            "unable to sync to local node '{target}' (replication target must be a different node)"
        )));
    }
    if ctx.c.replication.contains_key(id) {
        return Err(ApiError::die(format!(
            "replication job '{id}' already exists"
        )));
    }
    if ctx
        .c
        .replication
        .values()
        .any(|j| j.guest == guest && j.target == target)
    {
        return Err(ApiError::die(format!(
            "Replication job for guest '{guest}' to target '{target}' already exists"
        )));
    }
    let mut j = ReplJob {
        guest,
        jobnum,
        target: target.to_owned(),
        schedule: None,
        comment: None,
        rate: None,
        disable: false,
    };
    apply_repl(&mut j, p);
    ctx.c.replication.insert(id.to_owned(), j);
    null()
}

pub(super) fn repl_update(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    let id = p.req("id");
    let (guest, _) = parse_job_id(id)?;
    ctx.check(&format!("/vms/{guest}"), &["VM.Replicate"], false)?;
    let j = ctx
        .c
        .replication
        .get_mut(id)
        .ok_or_else(|| ApiError::die(format!("replication job '{id}' does not exist")))?;
    apply_repl(j, p);
    null()
}

pub(super) fn repl_delete(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    let id = p.req("id");
    let (guest, _) = parse_job_id(id)?;
    ctx.check(&format!("/vms/{guest}"), &["VM.Replicate"], false)?;
    ctx.c
        .replication
        .remove(id)
        .ok_or_else(|| ApiError::die(format!("replication job '{id}' does not exist")))?;
    null()
}
