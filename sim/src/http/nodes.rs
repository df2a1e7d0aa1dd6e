//! `/nodes`, node status and rrddata, storages and their content, node tasks, `vzdump`.

use serde_json::{json, Value};

use super::{null, Ctx, Reply};
use crate::error::ApiError;
use crate::model::{now_secs, Kind, Storage, Volume};
use crate::params::Params;

pub(super) fn list(ctx: &mut Ctx<'_>, _: &Params) -> Result<Reply, ApiError> {
    let now = now_secs();
    let out: Vec<Value> = ctx
        .c
        .nodes
        .values()
        .map(|n| {
            let mut v = json!({
                "node": n.name, "status": if n.online { "online" } else { "offline" },
                "id": format!("node/{}", n.name), "type": "node", "level": "",
                "ssl_fingerprint": ssl_fingerprint(n.seed),
            });
            if n.online && ctx.allowed(&format!("/nodes/{}", n.name), &["Sys.Audit"]) {
                let (cpu, mem) = crate::rrd::node_now(n, now);
                v["cpu"] = json!(cpu);
                v["maxcpu"] = json!(n.cpus);
                v["mem"] = json!(mem);
                v["maxmem"] = json!(n.mem_total);
                v["disk"] = json!((n.root_total as f64 * 0.21) as u64);
                v["maxdisk"] = json!(n.root_total);
                v["uptime"] = json!(now - n.boot_time);
            }
            v
        })
        .collect();
    Ok(Value::Array(out).into())
}

fn ssl_fingerprint(seed: u64) -> String {
    (0..32)
        .map(|i| {
            format!(
                "{:02X}",
                (seed.wrapping_mul(2_654_435_761).wrapping_add(i * 97)) % 256
            )
        })
        .collect::<Vec<_>>()
        .join(":")
}

pub(super) fn status(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    let name = p.req("node");
    ctx.check(&format!("/nodes/{name}"), &["Sys.Audit"], false)?;
    let n = ctx.c.node(name)?;
    let now = now_secs();
    let (cpu, mem) = crate::rrd::node_now(n, now);
    let w = crate::rrd::wave(n.seed, now as f64);
    let load = |f: f64| format!("{:.2}", w * f64::from(n.cpus) * f);
    let root_used = (n.root_total as f64 * 0.21) as u64;
    Ok(json!({
        "cpu": cpu, "wait": (w * 0.02 * 1000.0).round() / 1000.0, "uptime": now - n.boot_time,
        "idle": 0,
        "loadavg": [load(0.6), load(0.55), load(0.5)],
        "kversion": "Linux 6.17.2-1-pve #1 SMP PREEMPT_DYNAMIC PMX 6.17.2-1 (2025-11-10T09:17Z)",
        "current-kernel": { "sysname": "Linux", "release": "6.17.2-1-pve", "machine": "x86_64",
            "version": "#1 SMP PREEMPT_DYNAMIC PMX 6.17.2-1 (2025-11-10T09:17Z)" },
        "boot-info": { "mode": "efi", "secureboot": 0 },
        "cpuinfo": { "cpus": n.cpus, "cores": n.cpus / 2, "sockets": 1, "model": n.cpu_model,
            "mhz": "3000.000", "hvm": "1", "flags": "fpu vme de pse tsc msr pae mce", "user_hz": 100 },
        "memory": { "total": n.mem_total, "used": mem, "free": n.mem_total - mem,
            "available": n.mem_total - mem },
        "swap": { "total": 8u64 << 30, "used": 0, "free": 8u64 << 30 },
        "ksm": { "shared": 0 },
        "rootfs": { "total": n.root_total, "used": root_used, "avail": n.root_total - root_used,
            "free": n.root_total - root_used },
        "pveversion": "pve-manager/9.1.3/pve-sim",
    })
    .into())
}

pub(super) fn rrddata(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    let name = p.req("node");
    ctx.check(&format!("/nodes/{name}"), &["Sys.Audit"], false)?;
    let n = ctx.c.node(name)?;
    let series = crate::rrd::node_series(
        n,
        p.req("timeframe"),
        p.str("cf") == Some("MAX"),
        now_secs(),
    );
    Ok(Value::Array(series).into())
}

fn storage_json(ctx: &Ctx<'_>, s: &Storage, node: &str) -> Value {
    let used = ctx.c.storage_used(s, node);
    let total = s.total;
    json!({
        "storage": s.id, "type": s.ty, "content": s.content, "active": 1, "enabled": 1,
        "shared": u8::from(s.shared), "total": total, "used": used,
        "avail": total.saturating_sub(used),
        "used_fraction": if total == 0 { 0.0 } else { used as f64 / total as f64 },
    })
}

fn storage_allowed(ctx: &Ctx<'_>, id: &str) -> bool {
    ctx.allowed(
        &format!("/storage/{id}"),
        &["Datastore.Audit", "Datastore.AllocateSpace"],
    )
}

pub(super) fn storage_list(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    let node = p.req("node");
    let content = p.str("content");
    let out: Vec<Value> = ctx
        .c
        .storages
        .values()
        .filter(|s| storage_allowed(ctx, &s.id))
        .filter(|s| p.str("storage").is_none_or(|id| id == s.id))
        .filter(|s| content.is_none_or(|c| s.content.split(',').any(|x| x == c)))
        .map(|s| storage_json(ctx, s, node))
        .collect();
    Ok(Value::Array(out).into())
}

fn storage<'a>(ctx: &'a Ctx<'_>, p: &Params) -> Result<&'a Storage, ApiError> {
    let id = p.req("storage");
    ctx.check(
        &format!("/storage/{id}"),
        &["Datastore.Audit", "Datastore.AllocateSpace"],
        true,
    )?;
    ctx.c
        .storages
        .get(id)
        .ok_or_else(|| ApiError::die(format!("storage '{id}' does not exist")))
}

pub(super) fn storage_index(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    storage(ctx, p)?;
    let out: Vec<Value> = [
        "content",
        "download-url",
        "file-restore",
        "import-metadata",
        "prunebackups",
        "rrd",
        "rrddata",
        "status",
        "upload",
    ]
    .iter()
    .map(|s| json!({ "subdir": s }))
    .collect();
    Ok(Value::Array(out).into())
}

pub(super) fn storage_status(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    let s = storage(ctx, p)?;
    Ok(storage_json(ctx, s, p.req("node")).into())
}

/// All volumes of a storage as seen from `node`: media/backups plus guest disks.
fn volumes(ctx: &Ctx<'_>, s: &Storage, node: &str) -> Vec<Value> {
    let mut out: Vec<Value> = ctx
        .c
        .volumes
        .iter()
        .filter(|v| v.storage() == s.id && (s.shared || v.node.as_deref() == Some(node)))
        .map(volume_json)
        .collect();
    for g in ctx.c.guests.values().filter(|g| s.shared || g.node == node) {
        let mut disks = g.disks();
        for snap in &g.snapshots {
            disks.extend(crate::model::disks_of(g.kind, &snap.config));
        }
        disks.sort_by(|a, b| a.1.cmp(&b.1));
        disks.dedup_by(|a, b| a.1 == b.1);
        for (_, volid, size) in disks {
            if volid.split(':').next() != Some(s.id.as_str()) {
                continue;
            }
            // Detached volumes keep their size; a volume's owner is the guest its name names.
            let size = if size == 0 {
                ctx.c.detached.get(&volid).copied().unwrap_or(0)
            } else {
                size
            };
            let owner = crate::model::image_owner(&volid).unwrap_or(g.vmid);
            let mut v = json!({
                "volid": volid, "content": if g.kind == Kind::Lxc { "rootdir" } else { "images" },
                "format": s.format(g.kind), "size": size, "used": size / 3, "vmid": owner,
                "ctime": now_secs() - 86_400,
            });
            if let Some((base, _)) = volid.split_once('/') {
                v["parent"] = json!(base.split(':').nth(1).unwrap_or(base));
            }
            out.push(v);
        }
    }
    out
}

fn volume_json(v: &Volume) -> Value {
    let mut j = json!({
        "volid": v.volid, "content": v.content, "format": v.format, "size": v.size,
        "ctime": v.ctime,
    });
    if let Some(id) = v.vmid {
        j["vmid"] = json!(id);
    }
    if let Some(n) = &v.notes {
        j["notes"] = json!(n);
    }
    if v.content == "backup" {
        j["protected"] = json!(u8::from(v.protected));
    }
    j
}

pub(super) fn content_list(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    let s = storage(ctx, p)?;
    let node = p.req("node");
    let content = p.str("content");
    let vmid = p.int("vmid");
    let out: Vec<Value> = volumes(ctx, s, node)
        .into_iter()
        .filter(|v| content.is_none_or(|c| v["content"] == c))
        .filter(|v| vmid.is_none_or(|id| v["vmid"].as_i64() == Some(id)))
        .filter(|v| match v["vmid"].as_i64() {
            // Datastore.Audit alone shows media; guest volumes need VM.Audit on the guest
            Some(id) => {
                ctx.allowed(&format!("/vms/{id}"), &["VM.Audit"])
                    || ctx.allowed(&format!("/storage/{}", s.id), &["Datastore.Allocate"])
            }
            _ => true,
        })
        .collect();
    Ok(Value::Array(out).into())
}

fn find_volume(ctx: &Ctx<'_>, p: &Params) -> Result<(String, Value), ApiError> {
    let node = p.req("node");
    let volume = p.req("volume");
    let storage_id = p
        .str("storage")
        .map(str::to_owned)
        .or_else(|| volume.split(':').next().map(str::to_owned))
        .unwrap_or_default();
    let volid = if volume.contains(':') {
        volume.to_owned()
    } else {
        format!("{storage_id}:{volume}")
    };
    let s = ctx
        .c
        .storages
        .get(&storage_id)
        .ok_or_else(|| ApiError::die(format!("storage '{storage_id}' does not exist")))?;
    ctx.check(
        &format!("/storage/{storage_id}"),
        &["Datastore.Audit", "Datastore.AllocateSpace"],
        true,
    )?;
    let v = volumes(ctx, s, node)
        .into_iter()
        .find(|v| v["volid"] == volid.as_str())
        .ok_or_else(|| ApiError::die(format!("volume '{volid}' does not exist")))?;
    Ok((volid, v))
}

pub(super) fn content_get(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    let (volid, v) = find_volume(ctx, p)?;
    let mut out = json!({
        "path": format!("/mnt/pve/{}", volid.replace(':', "/")),
        "size": v["size"], "used": v["used"].as_u64().unwrap_or(v["size"].as_u64().unwrap_or(0)),
        "format": v["format"],
    });
    if let Some(n) = v.get("notes") {
        out["notes"] = n.clone();
    }
    if let Some(pr) = v.get("protected") {
        out["protected"] = pr.clone();
    }
    Ok(out.into())
}

pub(super) fn content_delete(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    let (volid, v) = find_volume(ctx, p)?;
    let storage_id = volid.split(':').next().unwrap_or_default().to_owned();
    if !ctx.c.volumes.iter().any(|x| x.volid == volid) {
        return Err(ApiError::die(format!(
            "unable to delete '{volid}' - volume is still in use (referenced by VM {})",
            v["vmid"]
        )));
    }
    ctx.check(
        &format!("/storage/{storage_id}"),
        &["Datastore.Allocate"],
        false,
    )?;
    if v["protected"] == 1 {
        return Err(ApiError::die(format!(
            "volume '{volid}' is protected - cannot remove"
        )));
    }
    let node = p.req("node").to_owned();
    let id = volid.clone();
    let upid = ctx.c.spawn_task(
        &node,
        "imgdel",
        &id,
        ctx.auth,
        ctx.task_ms,
        vec![format!("Removed volume '{volid}'")],
        Box::new(move |c| {
            c.volumes.retain(|v| v.volid != volid);
            Ok(())
        }),
    );
    Ok(json!(upid).into())
}

pub(super) fn tasks(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    let node = p.req("node");
    let source = p.str("source").unwrap_or("archive");
    let errors_only = p.flag("errors").unwrap_or(false);
    let vmid = p.int("vmid").map(|v| v.to_string());
    let typefilter = p.str("typefilter");
    let userfilter = p.str("userfilter");
    let mut list: Vec<&crate::tasks::Task> = ctx
        .c
        .tasks
        .iter()
        .filter(|t| t.node == node)
        .filter(|t| super::cluster::task_visible(ctx, &t.user, &t.id))
        .filter(|t| match source {
            "active" => t.exitstatus.is_none(),
            "all" => true,
            _ => t.exitstatus.is_some(),
        })
        .filter(|t| !errors_only || t.exitstatus.as_deref().is_some_and(|e| e != "OK"))
        .filter(|t| vmid.as_deref().is_none_or(|v| t.id == v))
        .filter(|t| typefilter.is_none_or(|f| t.ty == f))
        .filter(|t| userfilter.is_none_or(|f| t.user.contains(f)))
        .filter(|t| p.int("since").is_none_or(|s| t.starttime >= s))
        .filter(|t| p.int("until").is_none_or(|u| t.starttime <= u))
        .collect();
    list.sort_by_key(|t| std::cmp::Reverse(t.starttime));
    let total = list.len();
    let start = p.int("start").unwrap_or(0).max(0) as usize;
    let limit = p.int("limit").unwrap_or(50).max(0) as usize;
    let data: Vec<Value> = list
        .into_iter()
        .skip(start)
        .take(limit)
        .map(|t| t.list_json())
        .collect();
    Ok(Reply {
        data: Value::Array(data),
        total: Some(total),
    })
}

fn task<'a>(ctx: &'a Ctx<'_>, p: &Params) -> Result<&'a crate::tasks::Task, ApiError> {
    let upid = p.req("upid");
    let t = ctx
        .c
        .task(upid)
        .filter(|t| t.node == p.req("node"))
        .ok_or_else(|| ApiError::param("upid", "no such task"))?;
    if !super::cluster::task_visible(ctx, &t.user, &t.id) {
        return Err(ApiError::forbidden(format!("/nodes/{}, Sys.Audit", t.node)));
    }
    Ok(t)
}

pub(super) fn task_index(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    task(ctx, p)?;
    Ok(json!([{ "name": "log" }, { "name": "status" }]).into())
}

pub(super) fn task_status(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    Ok(task(ctx, p)?.status_json().into())
}

pub(super) fn task_log(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    let t = task(ctx, p)?;
    let start = p.int("start").unwrap_or(0).max(0) as usize;
    let limit = p.int("limit").unwrap_or(50).max(0) as usize;
    let lines: Vec<Value> = t
        .log
        .iter()
        .enumerate()
        .skip(start)
        .take(if limit == 0 { usize::MAX } else { limit })
        .map(|(i, l)| json!({ "n": i + 1, "t": l }))
        .collect();
    Ok(Reply {
        data: Value::Array(lines),
        total: Some(t.log.len()),
    })
}

pub(super) fn task_stop(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    let upid = task(ctx, p)?.upid.clone();
    let owner = ctx
        .c
        .task(&upid)
        .map(|t| t.user.clone())
        .unwrap_or_default();
    if owner != ctx.auth.task_user() {
        ctx.check(&format!("/nodes/{}", p.req("node")), &["Sys.Modify"], false)?;
    }
    ctx.c.interrupt_task(&upid);
    null()
}

/// `GET /nodes/{node}/vzdump/extractconfig` (pve-manager `PVE/API2/VZDump.pm`): the guest
/// configuration saved in a backup archive, as the text of its `.conf` file. Needs `VM.Backup`
/// on the backed-up guest and `Datastore.AllocateSpace` on the backup storage.
pub(super) fn extractconfig(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    let volid = p.req("volume");
    let vol = ctx
        .c
        .volumes
        .iter()
        .find(|v| v.volid == volid)
        .ok_or_else(|| ApiError::die(format!("volume '{volid}' does not exist")))?;
    let Some((_, config)) = vol.backup_of.clone() else {
        return Err(ApiError::die(format!(
            "cannot extract configuration from '{volid}' - not a backup archive"
        )));
    };
    let owner = vol.vmid.unwrap_or(0);
    let storage = vol.storage().to_owned();
    ctx.check(&format!("/vms/{owner}"), &["VM.Backup"], false)?;
    ctx.check(
        &format!("/storage/{storage}"),
        &["Datastore.AllocateSpace"],
        false,
    )?;
    let mut text = String::new();
    for (k, v) in &config {
        let value = match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        text.push_str(&format!("{k}: {value}\n"));
    }
    Ok(json!(text).into())
}

pub(super) fn vzdump(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    let node = p.str("node").unwrap_or_default().to_owned();
    let storage_id = p.str("storage").unwrap_or("local").to_owned();
    let vmids: Vec<u32> = if p.flag("all").unwrap_or(false) {
        ctx.c
            .guests
            .values()
            .filter(|g| g.node == node)
            .map(|g| g.vmid)
            .collect()
    } else if let Some(pool) = p.str("pool") {
        ctx.c
            .pools
            .get(pool)
            .map(|p| p.vms.iter().copied().collect())
            .unwrap_or_default()
    } else {
        let list = p
            .str("vmid")
            .ok_or_else(|| ApiError::param("vmid", "property is missing and it is not optional"))?;
        super::split_list(list)
            .iter()
            .map(|s| {
                s.parse::<u32>().map_err(|_| {
                    ApiError::param(
                        "vmid",
                        format!("value '{s}' does not look like a valid VM ID"),
                    )
                })
            })
            .collect::<Result<_, _>>()?
    };
    for id in &vmids {
        ctx.check(&format!("/vms/{id}"), &["VM.Backup"], false)?;
    }
    let st = ctx
        .c
        .storages
        .get(&storage_id)
        .ok_or_else(|| ApiError::die(format!("storage '{storage_id}' does not exist")))?;
    if !st.content.split(',').any(|c| c == "backup") {
        return Err(ApiError::die(format!(
            "storage '{storage_id}' does not support vzdump backups"
        )));
    }
    ctx.check(
        &format!("/storage/{storage_id}"),
        &["Datastore.AllocateSpace"],
        false,
    )?;
    for id in &vmids {
        match ctx.c.guests.get(id) {
            None => return Err(ApiError::die(format!("unable to find VM {id}"))),
            Some(g) if g.node != node => {
                return Err(ApiError::die(format!(
                    "guest {id} is not on node '{node}' (backup must run on the node holding it)"
                )))
            }
            Some(g) => {
                if let Some(lock) = g.lock() {
                    return Err(ApiError::die(format!(
                        "{} {id} is locked ({lock})",
                        g.kind.noun()
                    )));
                }
            }
        }
    }
    for id in &vmids {
        if let Some(g) = ctx.c.guests.get_mut(id) {
            g.config.insert("lock".into(), json!("backup"));
        }
    }
    let notes = p.str("notes-template").map(str::to_owned);
    let compress = p.str("compress").unwrap_or("zstd").to_owned();
    let protected = p.flag("protected").unwrap_or(false);
    let mode = p.str("mode").unwrap_or("snapshot").to_owned();
    let mut log = vec![format!(
        "INFO: starting new backup job: vzdump {} --storage {storage_id} --mode {mode} --compress {compress}",
        vmids.iter().map(u32::to_string).collect::<Vec<_>>().join(" ")
    )];
    for id in &vmids {
        log.push(format!("INFO: Starting Backup of VM {id} ({mode})"));
    }
    let id_field = if vmids.len() == 1 {
        vmids[0].to_string()
    } else {
        String::new()
    };
    let shared = st.shared;
    let task_node = node.clone();
    let upid = ctx.c.spawn_task(
        &task_node,
        "vzdump",
        &id_field,
        ctx.auth,
        ctx.task_ms * 3,
        log,
        Box::new(move |c| {
            let now = now_secs();
            let stamp = fmt_stamp(now);
            for id in &vmids {
                let Some(g) = c.guests.get_mut(id) else {
                    continue;
                };
                g.config.remove("lock");
                let ext = match (g.kind, compress.as_str()) {
                    (Kind::Qemu, "0") => "vma".to_owned(),
                    (Kind::Qemu, "gzip") | (Kind::Qemu, "1") => "vma.gz".to_owned(),
                    (Kind::Qemu, c) => format!("vma.{}", if c == "lzo" { "lzo" } else { "zst" }),
                    (Kind::Lxc, "0") => "tar".to_owned(),
                    (Kind::Lxc, "gzip") | (Kind::Lxc, "1") => "tar.gz".to_owned(),
                    (Kind::Lxc, c) => format!("tar.{}", if c == "lzo" { "lzo" } else { "zst" }),
                };
                let kind_name = if g.kind == Kind::Qemu { "qemu" } else { "lxc" };
                let size = g.maxdisk() / 4 + (1 << 20);
                let config = g.config.clone();
                let kind = g.kind;
                let name = g.name();
                c.volumes.push(Volume {
                    volid: format!("{storage_id}:backup/vzdump-{kind_name}-{id}-{stamp}.{ext}"),
                    node: (!shared).then(|| node.clone()),
                    content: "backup".into(),
                    format: ext,
                    size,
                    vmid: Some(*id),
                    ctime: now,
                    notes: Some(
                        notes
                            .clone()
                            .unwrap_or_else(|| "{{guestname}}".into())
                            .replace("{{guestname}}", &name)
                            .replace("{{vmid}}", &id.to_string()),
                    ),
                    protected,
                    backup_of: Some((kind, config)),
                });
            }
            Ok(())
        }),
    );
    Ok(json!(upid).into())
}

/// `YYYY_MM_DD-HH_MM_SS` in UTC, as in vzdump file names.
pub(crate) fn fmt_stamp(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // civil-from-days (Howard Hinnant)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}_{m:02}_{d:02}-{:02}_{:02}_{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

pub(super) fn node_power(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    let name = p.req("node").to_owned();
    ctx.check(&format!("/nodes/{name}"), &["Sys.PowerMgmt"], false)?;
    let shutdown = p.req("command") == "shutdown";
    for g in ctx.c.guests.values_mut().filter(|g| g.node == name) {
        g.power = crate::model::Power::Stopped;
        g.started_at = None;
    }
    if let Some(n) = ctx.c.nodes.get_mut(&name) {
        if shutdown {
            n.online = false;
        } else {
            n.boot_time = now_secs();
        }
    }
    null()
}

pub(super) fn content_alloc(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    let storage_id = p.req("storage").to_owned();
    ctx.check(
        &format!("/storage/{storage_id}"),
        &["Datastore.AllocateSpace"],
        false,
    )?;
    let node = p.req("node").to_owned();
    let vmid = p.vmid();
    let filename = p.req("filename").to_owned();
    if !filename.starts_with(&format!("vm-{vmid}-")) {
        return Err(ApiError::die(format!(
            "illegal name '{filename}' - should be 'vm-{vmid}-*'"
        )));
    }
    let st = ctx
        .c
        .storages
        .get(&storage_id)
        .ok_or_else(|| ApiError::die(format!("storage '{storage_id}' does not exist")))?;
    // size is in KiB unless suffixed with M or G
    let size = p.req("size");
    let bytes = match size.chars().last() {
        Some('M') => size.trim_end_matches('M').parse::<u64>().unwrap_or(0) << 20,
        Some('G') => size.trim_end_matches('G').parse::<u64>().unwrap_or(0) << 30,
        _ => size.parse::<u64>().unwrap_or(0) << 10,
    };
    let used = ctx.c.storage_used(st, &node);
    if used.saturating_add(bytes) > st.total {
        return Err(ApiError::die(format!(
            "unable to create image: not enough free space on storage '{storage_id}' (requested {}, available {})",
            crate::model::fmt_size(bytes),
            crate::model::fmt_size(st.total.saturating_sub(used))
        )));
    }
    let volid = format!("{storage_id}:{filename}");
    if ctx.c.volumes.iter().any(|v| v.volid == volid) {
        return Err(ApiError::die(format!("volume '{volid}' already exists")));
    }
    let format = p.str("format").unwrap_or(st.format(Kind::Qemu)).to_owned();
    let shared = st.shared;
    ctx.c.volumes.push(Volume {
        volid: volid.clone(),
        node: (!shared).then_some(node),
        content: "images".into(),
        format,
        size: bytes,
        vmid: Some(vmid),
        ctime: now_secs(),
        notes: None,
        protected: false,
        backup_of: None,
    });
    Ok(json!(volid).into())
}

pub(super) fn content_update(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    let (volid, _) = find_volume(ctx, p)?;
    let storage_id = volid.split(':').next().unwrap_or_default().to_owned();
    ctx.check(
        &format!("/storage/{storage_id}"),
        &["Datastore.Allocate"],
        false,
    )?;
    let vol = ctx
        .c
        .volumes
        .iter_mut()
        .find(|v| v.volid == volid)
        .ok_or_else(|| ApiError::die(format!("volume '{volid}' does not support notes")))?;
    if let Some(notes) = p.str("notes") {
        vol.notes = (!notes.is_empty()).then(|| notes.to_owned());
    }
    if let Some(prot) = p.flag("protected") {
        vol.protected = prot;
    }
    null()
}

pub(super) fn content_copy(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    let (volid, _) = find_volume(ctx, p)?;
    let target = p.req("target").to_owned();
    let target_storage = target.split(':').next().unwrap_or_default().to_owned();
    ctx.check(
        &format!("/storage/{target_storage}"),
        &["Datastore.AllocateSpace"],
        false,
    )?;
    let st = ctx
        .c
        .storages
        .get(&target_storage)
        .ok_or_else(|| ApiError::die(format!("storage '{target_storage}' does not exist")))?;
    let source = ctx
        .c
        .volumes
        .iter()
        .find(|v| v.volid == volid)
        .cloned()
        .ok_or_else(|| ApiError::die(format!("unable to copy '{volid}' - not a file volume")))?;
    let target_volid = if target.contains(':') {
        target.clone()
    } else {
        format!(
            "{target_storage}:{}",
            volid.split(':').nth(1).unwrap_or_default()
        )
    };
    if ctx.c.volumes.iter().any(|v| v.volid == target_volid) {
        return Err(ApiError::die(format!(
            "volume '{target_volid}' already exists"
        )));
    }
    let node = p.str("target_node").unwrap_or(p.req("node")).to_owned();
    let shared = st.shared;
    let task_node = p.req("node").to_owned();
    let upid = ctx.c.spawn_task(
        &task_node,
        "imgcopy",
        "",
        ctx.auth,
        ctx.task_ms,
        vec![format!("copy '{volid}' to '{target_volid}'")],
        Box::new(move |c| {
            let mut copy = source;
            copy.volid = target_volid;
            copy.node = (!shared).then_some(node);
            copy.ctime = now_secs();
            c.volumes.push(copy);
            Ok(())
        }),
    );
    Ok(json!(upid).into())
}
