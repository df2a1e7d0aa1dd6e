//! QEMU VMs and LXC containers: list, create/restore, config, power, snapshots, clone, template,
//! resize, destroy, firewall rules, rrddata. One set of handlers serves both kinds (`ctx.kind`).

use serde_json::{json, Map, Value};

use super::{null, Ctx, Reply};
use crate::error::ApiError;
use crate::model::{
    digest, disk_size, fmt_size, now_secs, parse_size, Cluster, Config, Guest, Kind, Power,
    Snapshot,
};
use crate::params::Params;
use crate::scenario::mac;
use crate::tasks::Effect;

fn vm_path(vmid: u32) -> String {
    format!("/vms/{vmid}")
}

fn guest<'a>(ctx: &'a Ctx<'_>, p: &Params) -> Result<&'a Guest, ApiError> {
    ctx.c.guest(p.req("node"), ctx.kind, p.vmid())
}

fn locked(g: &Guest) -> Option<String> {
    g.lock()
        .map(|l| format!("{} {} is locked ({l})", g.kind.noun(), g.vmid))
}

/// Refuses `skiplock` for anyone but root, like Proxmox.
fn check_skiplock(ctx: &Ctx<'_>, p: &Params) -> Result<bool, ApiError> {
    match p.flag("skiplock") {
        Some(true) if !ctx.auth.is_root() => Err(ApiError::param(
            "skiplock",
            "Only root may use this option.",
        )),
        Some(v) => Ok(v),
        None => Ok(false),
    }
}

fn spawn(
    ctx: &mut Ctx<'_>,
    p: &Params,
    suffix: &str,
    mult: i64,
    log: Vec<String>,
    effect: Effect,
) -> Reply {
    let ty = format!("{}{suffix}", ctx.kind.task_prefix());
    let ty = if suffix == "resize" {
        "resize".to_owned()
    } else {
        ty
    };
    let upid = ctx.c.spawn_task(
        p.req("node"),
        &ty,
        &p.vmid().to_string(),
        ctx.auth,
        ctx.task_ms * mult,
        log,
        effect,
    );
    json!(upid).into()
}

/// Runs `f` on the guest when the task ends, or fails with Proxmox's "does not exist".
fn on_guest(
    node: String,
    kind: Kind,
    vmid: u32,
    f: impl FnOnce(&mut Guest) -> Result<(), String> + Send + Sync + 'static,
) -> Effect {
    Box::new(
        move |c: &mut Cluster| match c.guests.get_mut(&vmid).filter(|g| g.kind == kind) {
            Some(g) => f(g),
            None => Err(crate::model::no_conf(&node, kind, vmid).message),
        },
    )
}

fn fail(msg: String) -> Effect {
    Box::new(move |_| Err(msg))
}

fn guest_summary(g: &Guest, now: i64) -> Map<String, Value> {
    let s = crate::rrd::guest_now(g, now);
    let mut m = Map::new();
    m.insert("vmid".into(), json!(g.vmid));
    m.insert("name".into(), json!(g.name()));
    m.insert("status".into(), json!(g.status_str()));
    m.insert("cpus".into(), json!(g.cpus()));
    m.insert("cpu".into(), json!(s.cpu));
    m.insert("maxmem".into(), json!(g.maxmem()));
    m.insert("mem".into(), json!(s.mem));
    m.insert("maxdisk".into(), json!(g.maxdisk()));
    m.insert("netin".into(), json!(s.netin));
    m.insert("netout".into(), json!(s.netout));
    m.insert("diskread".into(), json!(s.diskread));
    m.insert("diskwrite".into(), json!(s.diskwrite));
    m.insert("uptime".into(), json!(s.uptime));
    match g.kind {
        Kind::Qemu => {
            m.insert("memhost".into(), json!(s.mem));
            if g.is_running() {
                m.insert("pid".into(), json!(10_000 + g.vmid));
            }
            m.insert(
                "qmpstatus".into(),
                json!(match g.power {
                    Power::Running => "running",
                    Power::Paused => "paused",
                    Power::Stopped => "stopped",
                }),
            );
        }
        Kind::Lxc => {
            m.insert("disk".into(), json!(s.disk));
            m.insert(
                "maxswap".into(),
                json!(g.config.get("swap").and_then(Value::as_u64).unwrap_or(0) << 20),
            );
            m.insert("type".into(), json!("lxc"));
        }
    }
    if g.is_template() {
        m.insert("template".into(), json!(1));
    }
    if let Some(l) = g.lock() {
        m.insert("lock".into(), json!(l));
    }
    if let Some(t) = g.tags() {
        m.insert("tags".into(), json!(t));
    }
    m
}

pub(super) fn list(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    let node = p.req("node");
    let now = now_secs();
    let out: Vec<Value> = ctx
        .c
        .guests
        .values()
        .filter(|g| g.node == node && g.kind == ctx.kind)
        .filter(|g| ctx.allowed(&vm_path(g.vmid), &["VM.Audit"]))
        .map(|g| Value::Object(guest_summary(g, now)))
        .collect();
    Ok(Value::Array(out).into())
}

pub(super) fn index(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    ctx.check(&vm_path(p.vmid()), &["VM.Audit"], false)?;
    guest(ctx, p)?;
    let dirs = [
        "config",
        "pending",
        "status",
        "snapshot",
        "firewall",
        "rrd",
        "rrddata",
        "clone",
        "resize",
        "template",
        "vncproxy",
        "termproxy",
    ];
    Ok(Value::Array(dirs.iter().map(|d| json!({ "subdir": d })).collect()).into())
}

pub(super) fn status_index(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    ctx.check(&vm_path(p.vmid()), &["VM.Audit"], false)?;
    guest(ctx, p)?;
    let cmds = [
        "current", "start", "stop", "shutdown", "reboot", "suspend", "resume", "reset",
    ];
    Ok(Value::Array(cmds.iter().map(|d| json!({ "subdir": d })).collect()).into())
}

pub(super) fn status_current(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    ctx.check(&vm_path(p.vmid()), &["VM.Audit"], false)?;
    let g = guest(ctx, p)?;
    let mut m = guest_summary(g, now_secs());
    m.insert("ha".into(), json!({ "managed": 0 }));
    if g.kind == Kind::Qemu {
        let agent = g
            .config
            .get("agent")
            .and_then(Value::as_str)
            .is_some_and(|a| a.starts_with('1') || a.contains("enabled=1"));
        m.insert("agent".into(), json!(u8::from(agent)));
        if g.is_running() {
            m.insert("running-qemu".into(), json!("10.1.2"));
            m.insert("running-machine".into(), json!("pc-i440fx-10.1+pve0"));
        }
    }
    Ok(Value::Object(m).into())
}

pub(super) fn rrddata(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    ctx.check(&vm_path(p.vmid()), &["VM.Audit"], false)?;
    let g = guest(ctx, p)?;
    let series = crate::rrd::guest_series(
        g,
        p.req("timeframe"),
        p.str("cf") == Some("MAX"),
        now_secs(),
    );
    Ok(Value::Array(series).into())
}

// ---------------------------------------------------------------- config

fn config_json(g: &Guest, config: &Config) -> Value {
    let mut m: Map<String, Value> = config.clone().into_iter().collect();
    m.insert("digest".into(), json!(digest(&g.config)));
    Value::Object(m)
}

pub(super) fn config_get(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    ctx.check(&vm_path(p.vmid()), &["VM.Audit"], false)?;
    let g = guest(ctx, p)?;
    if let Some(name) = p.str("snapshot") {
        let s = g
            .snapshots
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| ApiError::die(format!("snapshot '{name}' does not exist")))?;
        return Ok(config_json(g, &s.config).into());
    }
    if p.flag("current").unwrap_or(false) {
        return Ok(config_json(g, &g.config).into());
    }
    Ok(config_json(g, &g.effective_config()).into())
}

pub(super) fn pending(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    ctx.check(&vm_path(p.vmid()), &["VM.Audit"], false)?;
    let g = guest(ctx, p)?;
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut keys: Vec<&String> = g
        .config
        .keys()
        .chain(g.pending.keys())
        .chain(g.pending_delete.iter())
        .collect();
    keys.sort();
    keys.dedup();
    let out: Vec<Value> = keys
        .into_iter()
        .map(|k| {
            let mut e = json!({ "key": k });
            if let Some(v) = g.config.get(k) {
                e["value"] = json!(text(v));
            }
            if let Some(v) = g.pending.get(k) {
                e["pending"] = json!(text(v));
            }
            if g.pending_delete.contains(k) {
                e["delete"] = json!(1);
            }
            e
        })
        .collect();
    Ok(Value::Array(out).into())
}

/// The privilege a config key needs (`check_vm_modify_config_perm`).
fn key_priv(kind: Kind, key: &str, value: Option<&Value>) -> &'static str {
    let cdrom = value
        .and_then(Value::as_str)
        .is_some_and(|v| v.contains("media=cdrom"));
    if kind.is_disk_key(key) || key.starts_with("unused") {
        return if cdrom {
            "VM.Config.CDROM"
        } else {
            "VM.Config.Disk"
        };
    }
    let strip = key.trim_end_matches(|c: char| c.is_ascii_digit());
    match strip {
        "cores" | "sockets" | "cpu" | "cpulimit" | "cpuunits" | "vcpus" | "numa" | "affinity" => {
            "VM.Config.CPU"
        }
        "memory" | "balloon" | "shares" | "swap" => "VM.Config.Memory",
        "net" => "VM.Config.Network",
        "ipconfig" | "ciuser" | "cipassword" | "citype" | "cicustom" | "ciupgrade" | "sshkeys"
        | "nameserver" | "searchdomain" => {
            if kind == Kind::Lxc {
                "VM.Config.Network"
            } else {
                "VM.Config.Cloudinit"
            }
        }
        "bios" | "machine" | "scsihw" | "vga" | "hostpci" | "usb" | "serial" | "rng" | "audio"
        | "watchdog" | "arch" | "kvm" | "tablet" | "hugepages" => "VM.Config.HWType",
        "cdrom" => "VM.Config.CDROM",
        _ => "VM.Config.Options",
    }
}

fn set_size(drive: &str, bytes: u64) -> String {
    let mut parts: Vec<String> = drive
        .split(',')
        .filter(|p| !p.starts_with("size="))
        .map(str::to_owned)
        .collect();
    parts.push(format!("size={}", fmt_size(bytes)));
    parts.join(",")
}

/// Resolves drive values as Proxmox does: `STORAGE:SIZE[,opts]` allocates a new volume (with
/// `import-from=<volume>` it is a copy of that volume, of its size), an existing volume is
/// attached as it is (any guest's: the root token may), and a CD drive takes an ISO or any
/// existing volume. Unknown volumes and storages are refused, as is a storage without the
/// content type or the free space.
fn allocate_disks(
    c: &Cluster,
    kind: Kind,
    vmid: u32,
    node: &str,
    updates: &mut Config,
) -> Result<(), ApiError> {
    let mut planned: Vec<String> = Vec::new();
    for (key, value) in updates.iter_mut() {
        if !kind.is_disk_key(key) {
            continue;
        }
        let Some(s) = value.as_str() else { continue };
        if s.starts_with("none") || s.starts_with("cdrom") {
            continue;
        }
        let head = s.split(',').next().unwrap_or_default();
        let volid = head
            .strip_prefix("file=")
            .or_else(|| head.strip_prefix("volume="))
            .unwrap_or(head);
        if s.contains("media=cdrom") {
            // an ISO (or any existing volume) on a storage the node can reach
            let (storage_id, _) = volid.split_once(':').unwrap_or((volid, ""));
            let shared = c.storages.get(storage_id).is_some_and(|st| st.shared);
            let found = c
                .volumes
                .iter()
                .any(|v| v.volid == volid && (shared || v.node.as_deref() == Some(node)))
                || c.image_size(volid).is_some();
            if !found {
                return Err(ApiError::die(format!("volume '{volid}' does not exist")));
            }
            continue;
        }
        if volid.starts_with('/') {
            // a host path or device (a bind mount for containers): taken as it is
            continue;
        }
        let rest: Vec<&str> = s.split(',').skip(1).collect();
        let Some((storage_id, size)) = volid.split_once(':') else {
            return Err(ApiError::param(key, "invalid volume"));
        };
        let import = rest
            .iter()
            .find_map(|p| p.strip_prefix("import-from="))
            .map(str::to_owned);
        let Ok(gib) = size.parse::<f64>() else {
            // an existing volume: it must exist; its size comes with it
            let Some(bytes) = c.image_size(volid) else {
                return Err(ApiError::die(format!("volume '{volid}' does not exist")));
            };
            if !rest.iter().any(|p| p.starts_with("size=")) {
                *value = json!(set_size(s, bytes));
            }
            continue;
        };
        let st = c.storage_on(storage_id, node)?;
        let wanted = if kind == Kind::Qemu {
            "images"
        } else {
            "rootdir"
        };
        if !st.content.split(',').any(|x| x == wanted) {
            return Err(ApiError::die(format!(
                "storage '{storage_id}' does not support {} images",
                if kind == Kind::Qemu {
                    "vm"
                } else {
                    "container"
                }
            )));
        }
        let bytes = match &import {
            Some(source) => {
                let from_media = c
                    .volumes
                    .iter()
                    .find(|v| v.volid == *source && v.content == "import")
                    .map(|v| v.size);
                from_media.or_else(|| c.image_size(source)).ok_or_else(|| {
                    ApiError::die(format!("import-from: volume '{source}' does not exist"))
                })?
            }
            None => (gib * (1u64 << 30) as f64) as u64,
        };
        let used = c.storage_used(st, node);
        if used.saturating_add(bytes) > st.total {
            return Err(ApiError::die(format!(
                "unable to create image: not enough free space on storage '{storage_id}' (requested {}, available {})",
                fmt_size(bytes),
                fmt_size(st.total.saturating_sub(used))
            )));
        }
        let mut name = c.new_disk_name(vmid, storage_id, "vm");
        while planned.contains(&name) {
            let n = planned.len();
            name = format!("{storage_id}:vm-{vmid}-disk-{n}");
        }
        planned.push(name.clone());
        let opts: Vec<&str> = rest
            .iter()
            .copied()
            .filter(|p| !p.starts_with("import-from="))
            .collect();
        let drive = if opts.is_empty() {
            name
        } else {
            format!("{name},{}", opts.join(","))
        };
        *value = json!(set_size(&drive, bytes));
    }
    Ok(())
}

/// Computes the new config for a PUT/POST config, with Proxmox's refusals.
fn updated_config(ctx: &Ctx<'_>, p: &Params) -> Result<(Guest, NewConfig), ApiError> {
    let g = guest(ctx, p)?;
    let skiplock = check_skiplock(ctx, p)?;
    if let Some(msg) = locked(g).filter(|_| !skiplock) {
        return Err(ApiError::die(msg));
    }
    if let Some(d) = p.str("digest") {
        if d != digest(&g.config) {
            return Err(ApiError::die(
                "detected modified configuration - file changed by other user? Try again.",
            ));
        }
    }
    let meta = [
        "node",
        "vmid",
        "delete",
        "digest",
        "revert",
        "skiplock",
        "force",
        "background_delay",
    ];
    let mut updates: Config =
        p.0.iter()
            .filter(|(k, _)| !meta.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
    let deletes = super::split_list(p.str("delete").unwrap_or_default());
    for key in deletes.iter() {
        if updates.contains_key(key) {
            return Err(ApiError::die(format!(
                "unable to delete parameter '{key}' - it is also set"
            )));
        }
    }
    for (k, v) in &updates {
        ctx.check(&vm_path(g.vmid), &[key_priv(g.kind, k, Some(v))], false)?;
    }
    for k in &deletes {
        ctx.check(
            &vm_path(g.vmid),
            &[key_priv(g.kind, k, g.config.get(k))],
            false,
        )?;
    }
    if updates.contains_key("template") {
        return Err(ApiError::param(
            "template",
            "use the template API call to convert a guest",
        ));
    }
    allocate_disks(ctx.c, g.kind, g.vmid, &g.node, &mut updates)?;
    // a running VM takes hardware changes at its next power cycle, like Proxmox's pending section
    let cold = g.kind == Kind::Qemu && g.is_running();
    let mut new = NewConfig {
        config: g.config.clone(),
        pending: g.pending.clone(),
        pending_delete: g.pending_delete.clone(),
        detached: Vec::new(),
    };
    for key in super::split_list(p.str("revert").unwrap_or_default()) {
        new.pending.remove(&key);
        new.pending_delete.retain(|d| *d != key);
    }
    for key in deletes {
        if cold && needs_restart(&key, new.config.get(&key)) {
            new.pending.remove(&key);
            if !new.pending_delete.contains(&key) {
                new.pending_delete.push(key);
            }
            continue;
        }
        new.pending.remove(&key);
        if let Some(old) = new.config.remove(&key) {
            // a removed disk becomes an unused volume (QEMU), as in Proxmox
            let is_disk = g.kind.is_disk_key(&key)
                && old
                    .as_str()
                    .is_some_and(|s| !s.contains("media=cdrom") && !s.starts_with("none"));
            if is_disk {
                let volid = old
                    .as_str()
                    .and_then(|s| s.split(',').next())
                    .unwrap_or_default();
                let n = (0..)
                    .find(|i| !new.config.contains_key(&format!("unused{i}")))
                    .unwrap_or(0);
                if let Some(size) = old.as_str().and_then(disk_size) {
                    new.detached.push((volid.to_owned(), size));
                }
                new.config.insert(format!("unused{n}"), json!(volid));
            }
        }
    }
    for (key, value) in updates {
        new.pending_delete.retain(|d| *d != key);
        if cold && needs_restart(&key, Some(&value)) {
            new.pending.insert(key, value);
        } else {
            new.pending.remove(&key);
            new.config.insert(key, value);
        }
    }
    Ok((g.clone(), new))
}

/// A guest's config after an update: applied values and pending ones.
struct NewConfig {
    config: Config,
    pending: Config,
    pending_delete: Vec<String>,
    /// Disks that became `unused[n]`, with their sizes (the storage keeps them).
    detached: Vec<(String, u64)>,
}

impl NewConfig {
    /// Records the sizes of newly detached volumes.
    fn keep_detached(&mut self, c: &mut Cluster) {
        c.detached.extend(self.detached.drain(..));
    }

    fn store(self, g: &mut Guest) {
        g.config = self.config;
        g.pending = self.pending;
        g.pending_delete = self.pending_delete;
    }
}

/// Whether changing `key` on a running VM waits for a restart (not hot-pluggable by default).
fn needs_restart(key: &str, value: Option<&Value>) -> bool {
    let stem = key.trim_end_matches(|c: char| c.is_ascii_digit());
    let cdrom = value
        .and_then(Value::as_str)
        .is_some_and(|v| v.contains("media=cdrom"));
    match stem {
        "ide" | "sata" => !cdrom,
        _ => matches!(
            stem,
            "cores"
                | "sockets"
                | "cpu"
                | "memory"
                | "vcpus"
                | "bios"
                | "machine"
                | "vga"
                | "scsihw"
                | "numa"
                | "kvm"
                | "args"
                | "hostpci"
                | "serial"
                | "parallel"
                | "agent"
                | "ostype"
                | "affinity"
                | "efidisk"
                | "tpmstate"
                | "audio"
                | "rng"
                | "watchdog"
                | "hugepages"
                | "arch"
                | "smbios"
                | "vmgenid"
                | "tablet"
        ),
    }
}

pub(super) fn config_put(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    ctx.check(
        &vm_path(p.vmid()),
        &[
            "VM.Config.Disk",
            "VM.Config.CDROM",
            "VM.Config.CPU",
            "VM.Config.Memory",
            "VM.Config.Network",
            "VM.Config.HWType",
            "VM.Config.Options",
            "VM.Config.Cloudinit",
        ],
        true,
    )?;
    let (g, mut config) = updated_config(ctx, p)?;
    config.keep_detached(ctx.c);
    if let Some(target) = ctx.c.guests.get_mut(&g.vmid) {
        config.store(target);
    }
    null()
}

pub(super) fn config_post(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    ctx.check(
        &vm_path(p.vmid()),
        &[
            "VM.Config.Disk",
            "VM.Config.CDROM",
            "VM.Config.CPU",
            "VM.Config.Memory",
            "VM.Config.Network",
            "VM.Config.HWType",
            "VM.Config.Options",
            "VM.Config.Cloudinit",
        ],
        true,
    )?;
    let (g, mut config) = updated_config(ctx, p)?;
    config.keep_detached(ctx.c);
    let keys: Vec<String> =
        p.0.keys()
            .filter(|k| *k != "node" && *k != "vmid")
            .cloned()
            .collect();
    let log = vec![format!("update VM {}: -{}", g.vmid, keys.join(" -"))];
    Ok(spawn(
        ctx,
        p,
        "config",
        1,
        log,
        on_guest(g.node.clone(), g.kind, g.vmid, move |g| {
            config.store(g);
            Ok(())
        }),
    ))
}

// ---------------------------------------------------------------- create / destroy

pub(super) fn create(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    let node = p.req("node").to_owned();
    let vmid = p.vmid();
    let kind = ctx.kind;
    let pool = p.str("pool").map(str::to_owned);
    match &pool {
        Some(pool) => ctx.check(&format!("/pool/{pool}"), &["VM.Allocate"], false)?,
        None => ctx.check(&vm_path(vmid), &["VM.Allocate"], false)?,
    }
    if let Some(pool) = &pool {
        if !ctx.c.pools.contains_key(pool) {
            return Err(ApiError::die(format!("pool '{pool}' does not exist")));
        }
    }
    // restore source: qemu `archive`, lxc `ostemplate` + `restore=1`
    let archive = match kind {
        Kind::Qemu => p.str("archive").map(str::to_owned),
        Kind::Lxc => p
            .flag("restore")
            .unwrap_or(false)
            .then(|| p.req("ostemplate").to_owned()),
    };
    if let Some(existing) = ctx.c.guests.get(&vmid) {
        let msg = format!(
            "{} {vmid} already exists on node '{}'",
            existing.kind.noun(),
            existing.node
        );
        let force = p.flag("force").unwrap_or(false) && archive.is_some();
        if !force || existing.is_running() || existing.node != node {
            return Err(ApiError::die(match kind {
                Kind::Qemu => format!("unable to create VM {vmid} - {msg}"),
                Kind::Lxc => msg,
            }));
        }
    }
    let meta = [
        "node",
        "vmid",
        "archive",
        "force",
        "pool",
        "start",
        "storage",
        "unique",
        "ostemplate",
        "password",
        "restore",
        "ssh-public-keys",
        "ignore-unpack-errors",
        "bwlimit",
    ];
    let mut config: Config =
        p.0.iter()
            .filter(|(k, _)| !meta.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
    let restore_from = match &archive {
        Some(volid) => {
            let vol = ctx
                .c
                .volumes
                .iter()
                .find(|v| v.volid == *volid)
                .ok_or_else(|| ApiError::die(format!("volume '{volid}' does not exist")))?;
            ctx.check(
                &format!("/storage/{}", vol.storage()),
                &["Datastore.AllocateSpace"],
                false,
            )
            .or_else(|_| ctx.check(&vm_path(vol.vmid.unwrap_or(0)), &["VM.Backup"], false))?;
            let Some((bkind, bconf)) = vol.backup_of.clone() else {
                return Err(ApiError::die(format!(
                    "volume '{volid}' is not a backup archive"
                )));
            };
            if bkind != kind {
                return Err(ApiError::die(format!(
                    "unable to restore '{volid}' - archive is a {} backup",
                    bkind.as_str()
                )));
            }
            Some(bconf)
        }
        None => None,
    };
    let target_storage = p.str("storage").map(str::to_owned);
    if let Some(mut bconf) = restore_from {
        // restored disks are re-allocated on the target (or original) storage
        for (key, value) in bconf.iter_mut() {
            if !kind.is_disk_key(key) {
                continue;
            }
            let Some(s) = value.as_str() else { continue };
            if s.contains("media=cdrom") || s.starts_with("none") {
                continue;
            }
            let size = disk_size(s).unwrap_or(8 << 30);
            let st = target_storage
                .clone()
                .or_else(|| s.split(':').next().map(str::to_owned))
                .unwrap_or_default();
            *value = json!(format!("{st}:{}", size as f64 / (1u64 << 30) as f64));
        }
        bconf.remove("lock");
        bconf.remove("parent");
        bconf.extend(config);
        config = bconf;
    } else if kind == Kind::Lxc {
        let tmpl = p.req("ostemplate");
        if !ctx.c.volumes.iter().any(|v| v.volid == tmpl) {
            return Err(ApiError::die(format!("volume '{tmpl}' does not exist")));
        }
        config.entry("rootfs".into()).or_insert_with(|| {
            json!(format!(
                "{}:4",
                target_storage.as_deref().unwrap_or("local-lvm")
            ))
        });
        config.entry("arch".into()).or_insert(json!("amd64"));
        let ostype = if tmpl.contains("ubuntu") {
            "ubuntu"
        } else if tmpl.contains("alpine") {
            "alpine"
        } else {
            "debian"
        };
        config.entry("ostype".into()).or_insert(json!(ostype));
        config.entry("memory".into()).or_insert(json!(512));
        config.entry("swap".into()).or_insert(json!(512));
        config
            .entry("hostname".into())
            .or_insert(json!(format!("CT{vmid}")));
    } else {
        config.entry("memory".into()).or_insert(json!("512"));
        config
            .entry("smbios1".into())
            .or_insert(json!(format!("uuid={}", crate::random_uuid())));
        config
            .entry("vmgenid".into())
            .or_insert(json!(crate::random_uuid()));
        config.insert(
            "meta".into(),
            json!(format!("creation-qemu=10.1.2,ctime={}", now_secs())),
        );
    }
    for (k, v) in &config {
        if kind.is_disk_key(k) {
            if let Some(st) = v.as_str().and_then(|s| s.split(':').next()) {
                if !v
                    .as_str()
                    .is_some_and(|s| s.contains("media=cdrom") || s.starts_with("none"))
                {
                    ctx.check(
                        &format!("/storage/{st}"),
                        &["Datastore.AllocateSpace"],
                        false,
                    )?;
                }
            }
        }
    }
    // fresh MAC addresses for NICs given without one
    for (k, v) in config.iter_mut() {
        if k.starts_with("net") {
            if let Some(s) = v.as_str() {
                let fixed = match kind {
                    Kind::Qemu if !s.contains('=') || s.starts_with("model=") => s.replacen(
                        s.split(',').next().unwrap_or_default(),
                        &format!(
                            "virtio={}",
                            mac(
                                vmid,
                                k.strip_prefix("net")
                                    .and_then(|i| i.parse().ok())
                                    .unwrap_or(0)
                            )
                        ),
                        1,
                    ),
                    Kind::Lxc if !s.contains("hwaddr=") => {
                        format!(
                            "{s},hwaddr={}",
                            mac(
                                vmid,
                                k.strip_prefix("net")
                                    .and_then(|i| i.parse().ok())
                                    .unwrap_or(0)
                            )
                        )
                    }
                    _ => s.to_owned(),
                };
                *v = json!(fixed);
            }
        }
    }
    allocate_disks(ctx.c, kind, vmid, &node, &mut config)?;
    config.insert("lock".into(), json!("create"));
    let start = p.flag("start").unwrap_or(false);
    ctx.c.guests.insert(
        vmid,
        Guest {
            vmid,
            kind,
            node: node.clone(),
            power: Power::Stopped,
            config,
            snapshots: Vec::new(),
            rules: Vec::new(),
            started_at: None,
            pending: Config::new(),
            pending_delete: Vec::new(),
        },
    );
    if let Some(pool) = &pool {
        if let Some(pl) = ctx.c.pools.get_mut(pool) {
            pl.vms.insert(vmid);
        }
    }
    let (suffix, log) = match (&archive, kind) {
        (Some(a), _) => ("restore", vec![format!("restore vma archive: {a}")]),
        (None, Kind::Qemu) => (
            "create",
            vec![format!("creating VM {vmid} on node '{node}'")],
        ),
        (None, Kind::Lxc) => (
            "create",
            vec![format!("extracting archive '{}'", p.req("ostemplate"))],
        ),
    };
    Ok(spawn(
        ctx,
        p,
        suffix,
        3,
        log,
        on_guest(node, kind, vmid, move |g| {
            g.config.remove("lock");
            if start {
                g.power = Power::Running;
                g.started_at = Some(now_secs());
            }
            Ok(())
        }),
    ))
}

pub(super) fn destroy(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    let vmid = p.vmid();
    ctx.check(&vm_path(vmid), &["VM.Allocate"], false)?;
    let skiplock = check_skiplock(ctx, p)?;
    let g = guest(ctx, p)?;
    let noun = g.kind.noun();
    if g.config.get("protection").and_then(Value::as_i64) == Some(1) {
        return Err(ApiError::die(format!(
            "can't remove {noun} {vmid} - protection mode enabled"
        )));
    }
    if let Some(msg) = locked(g).filter(|_| !skiplock) {
        return Err(ApiError::die(msg));
    }
    if g.is_running() {
        return Err(ApiError::die(match g.kind {
            Kind::Qemu => format!("VM {vmid} is running - destroy failed"),
            Kind::Lxc => format!("CT {vmid} is running - destroy failed"),
        }));
    }
    if g.is_template() {
        let base = format!("base-{vmid}-disk");
        let linked = ctx
            .c
            .guests
            .values()
            .filter(|o| o.vmid != vmid)
            .find(|o| o.disks().iter().any(|d| d.1.contains(&base)));
        if let Some(o) = linked {
            return Err(ApiError::die(format!(
                "base volume '{}' is still in use by linked cloned {noun} {}",
                g.disks().first().map(|d| d.1.clone()).unwrap_or_default(),
                o.vmid
            )));
        }
    }
    let purge = p.flag("purge").unwrap_or(false);
    let kind = g.kind;
    let log = vec![format!("destroying {noun} {vmid}")];
    Ok(spawn(
        ctx,
        p,
        "destroy",
        1,
        log,
        Box::new(move |c: &mut Cluster| {
            if c.guests.remove(&vmid).is_none() {
                return Err(format!("{} {vmid} does not exist", kind.noun()));
            }
            c.forget_guest(vmid, purge);
            Ok(())
        }),
    ))
}

// ---------------------------------------------------------------- power

pub(super) fn start(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    ctx.check(&vm_path(p.vmid()), &["VM.PowerMgmt"], false)?;
    let skiplock = check_skiplock(ctx, p)?;
    let node = p.req("node").to_owned();
    let (kind, vmid) = (ctx.kind, p.vmid());
    // QEMU does not pre-check existence: the task fails instead
    let effect = match ctx.c.guest(&node, kind, vmid) {
        Err(e) if kind == Kind::Qemu => fail(e.message),
        Err(e) => return Err(e),
        Ok(g) => {
            if g.is_running() && kind == Kind::Lxc {
                return Err(ApiError::die(format!("CT {vmid} already running")));
            }
            if let Some(msg) = locked(g).filter(|_| !skiplock) {
                fail(msg)
            } else if g.is_running() {
                fail(format!("VM {vmid} already running"))
            } else if g.is_template() {
                fail(format!(
                    "you can't start a {} if it's a template",
                    if kind == Kind::Qemu { "vm" } else { "CT" }
                ))
            } else {
                on_guest(node.clone(), kind, vmid, |g| {
                    g.apply_pending();
                    g.power = Power::Running;
                    g.started_at = Some(now_secs());
                    Ok(())
                })
            }
        }
    };
    Ok(spawn(
        ctx,
        p,
        "start",
        1,
        vec![format!("starting {} {vmid}", kind.noun())],
        effect,
    ))
}

fn stop_like(ctx: &mut Ctx<'_>, p: &Params, suffix: &str) -> Result<Reply, ApiError> {
    ctx.check(&vm_path(p.vmid()), &["VM.PowerMgmt"], false)?;
    let skiplock = check_skiplock(ctx, p)?;
    let g = guest(ctx, p)?;
    let (node, kind, vmid) = (g.node.clone(), g.kind, g.vmid);
    let effect = match locked(g).filter(|_| !skiplock) {
        Some(msg) => fail(msg),
        None => on_guest(node, kind, vmid, |g| {
            g.apply_pending();
            g.power = Power::Stopped;
            g.started_at = None;
            Ok(())
        }),
    };
    Ok(spawn(
        ctx,
        p,
        suffix,
        1,
        vec![format!("{suffix} {} {vmid}", kind.noun())],
        effect,
    ))
}

pub(super) fn stop(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    stop_like(ctx, p, "stop")
}

pub(super) fn shutdown(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    stop_like(ctx, p, "shutdown")
}

/// Reboot, reset, suspend, resume: all refuse a stopped guest synchronously.
fn running_only(
    ctx: &mut Ctx<'_>,
    p: &Params,
    suffix: &str,
    f: fn(&mut Guest),
) -> Result<Reply, ApiError> {
    ctx.check(&vm_path(p.vmid()), &["VM.PowerMgmt"], false)?;
    let skiplock = check_skiplock(ctx, p)?;
    let g = guest(ctx, p)?;
    let (node, kind, vmid) = (g.node.clone(), g.kind, g.vmid);
    if !g.is_running() {
        return Err(ApiError::die(format!("{} {vmid} not running", kind.noun())));
    }
    let effect = match locked(g).filter(|_| !skiplock) {
        Some(msg) => fail(msg),
        None => on_guest(node, kind, vmid, move |g| {
            if !g.is_running() {
                return Err(format!("{} {} not running", g.kind.noun(), g.vmid));
            }
            f(g);
            Ok(())
        }),
    };
    Ok(spawn(
        ctx,
        p,
        suffix,
        1,
        vec![format!("{suffix} {} {vmid}", kind.noun())],
        effect,
    ))
}

pub(super) fn reboot(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    running_only(ctx, p, "reboot", |g| {
        g.apply_pending();
        g.power = Power::Running;
        g.started_at = Some(now_secs());
    })
}

pub(super) fn reset(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    running_only(ctx, p, "reset", |g| {
        g.apply_pending();
        g.power = Power::Running;
        g.started_at = Some(now_secs());
    })
}

pub(super) fn suspend(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    if ctx.kind == Kind::Qemu && p.flag("todisk").unwrap_or(false) {
        return running_only(ctx, p, "suspend", |g| {
            g.power = Power::Stopped;
            g.started_at = None;
            g.config.insert("lock".into(), json!("suspended"));
        });
    }
    let suffix = if ctx.kind == Kind::Qemu {
        "pause"
    } else {
        "suspend"
    };
    running_only(ctx, p, suffix, |g| g.power = Power::Paused)
}

pub(super) fn resume(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    // resuming a VM suspended to disk starts it again
    let to_disk = guest(ctx, p).is_ok_and(|g| g.lock() == Some("suspended"));
    if to_disk {
        ctx.check(&vm_path(p.vmid()), &["VM.PowerMgmt"], false)?;
        let g = guest(ctx, p)?;
        let (node, kind, vmid) = (g.node.clone(), g.kind, g.vmid);
        return Ok(spawn(
            ctx,
            p,
            "resume",
            1,
            vec![],
            on_guest(node, kind, vmid, |g| {
                g.config.remove("lock");
                g.power = Power::Running;
                g.started_at = Some(now_secs());
                Ok(())
            }),
        ));
    }
    running_only(ctx, p, "resume", |g| g.power = Power::Running)
}

// ---------------------------------------------------------------- snapshots

fn valid_snapname(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.len() >= 2
        && name.len() <= 40
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

pub(super) fn snapshots(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    ctx.check(&vm_path(p.vmid()), &["VM.Audit"], false)?;
    let g = guest(ctx, p)?;
    let mut out: Vec<Value> = g
        .snapshots
        .iter()
        .map(|s| {
            let mut v =
                json!({ "name": s.name, "description": s.description, "snaptime": s.snaptime });
            if g.kind == Kind::Qemu {
                v["vmstate"] = json!(u8::from(s.vmstate));
            }
            if let Some(parent) = &s.parent {
                v["parent"] = json!(parent);
            }
            v
        })
        .collect();
    let mut current = json!({
        "name": "current", "description": "You are here!", "running": u8::from(g.is_running()),
    });
    if let Some(parent) = g.config.get("parent") {
        current["parent"] = parent.clone();
    }
    out.push(current);
    Ok(Value::Array(out).into())
}

pub(super) fn snapshot_create(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    ctx.check(&vm_path(p.vmid()), &["VM.Snapshot"], false)?;
    let name = p.req("snapname").to_owned();
    if !valid_snapname(&name) && name != "current" && !name.eq_ignore_ascii_case("pending") {
        return Err(ApiError::param(
            "snapname",
            format!("invalid format - invalid configuration ID '{name}'"),
        ));
    }
    let g = guest(ctx, p)?;
    if name == "current" || name.eq_ignore_ascii_case("pending") {
        return Err(ApiError::die(format!(
            "unable to use snapshot name '{name}' (reserved name)"
        )));
    }
    let (node, kind, vmid) = (g.node.clone(), g.kind, g.vmid);
    let precheck = if let Some(msg) = locked(g) {
        Some(msg)
    } else if g.snapshots.iter().any(|s| s.name == name) {
        Some(format!("snapshot name '{name}' already used"))
    } else {
        None
    };
    let vmstate = p.flag("vmstate").unwrap_or(false) && g.is_running();
    let description = p.str("description").unwrap_or_default().to_owned();
    let effect = match precheck {
        Some(msg) => fail(msg),
        None => {
            if let Some(g) = ctx.c.guests.get_mut(&vmid) {
                g.config.insert("lock".into(), json!("snapshot"));
            }
            on_guest(node, kind, vmid, move |g| {
                g.config.remove("lock");
                let mut config = g.config.clone();
                config.remove("parent");
                let parent = g
                    .config
                    .get("parent")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                g.snapshots.push(Snapshot {
                    name: name.clone(),
                    description,
                    snaptime: now_secs(),
                    vmstate,
                    parent,
                    config,
                });
                g.config.insert("parent".into(), json!(name));
                Ok(())
            })
        }
    };
    Ok(spawn(
        ctx,
        p,
        "snapshot",
        1,
        vec![format!("snapshotting '{}'", p.req("snapname"))],
        effect,
    ))
}

fn snapshot<'a>(g: &'a Guest, name: &str) -> Result<&'a Snapshot, ApiError> {
    g.snapshots
        .iter()
        .find(|s| s.name == name)
        .ok_or_else(|| ApiError::die(format!("snapshot '{name}' does not exist")))
}

pub(super) fn snapshot_index(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    ctx.check(&vm_path(p.vmid()), &["VM.Audit"], false)?;
    snapshot(guest(ctx, p)?, p.req("snapname"))?;
    Ok(json!([{ "cmd": "rollback" }, { "cmd": "config" }]).into())
}

pub(super) fn snapshot_config(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    ctx.check(
        &vm_path(p.vmid()),
        &["VM.Snapshot", "VM.Snapshot.Rollback", "VM.Audit"],
        true,
    )?;
    let g = guest(ctx, p)?;
    let s = snapshot(g, p.req("snapname"))?;
    let mut m: Map<String, Value> = s.config.clone().into_iter().collect();
    m.insert("snaptime".into(), json!(s.snaptime));
    m.insert("description".into(), json!(s.description));
    if let Some(parent) = &s.parent {
        m.insert("parent".into(), json!(parent));
    }
    m.insert("digest".into(), json!(digest(&g.config)));
    Ok(Value::Object(m).into())
}

pub(super) fn snapshot_update(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    ctx.check(&vm_path(p.vmid()), &["VM.Snapshot"], false)?;
    let name = p.req("snapname").to_owned();
    let g = ctx.c.guest_mut(p.req("node"), ctx.kind, p.vmid())?;
    let s = g
        .snapshots
        .iter_mut()
        .find(|s| s.name == name)
        .ok_or_else(|| ApiError::die(format!("snapshot '{name}' does not exist")))?;
    if let Some(d) = p.str("description") {
        s.description = d.to_owned();
    }
    null()
}

pub(super) fn snapshot_delete(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    ctx.check(&vm_path(p.vmid()), &["VM.Snapshot"], false)?;
    let name = p.req("snapname").to_owned();
    let g = guest(ctx, p)?;
    let (node, kind, vmid) = (g.node.clone(), g.kind, g.vmid);
    let force = p.flag("force").unwrap_or(false);
    let effect = if let Some(msg) = locked(g).filter(|_| !force) {
        fail(msg)
    } else if !g.snapshots.iter().any(|s| s.name == name) {
        fail(format!("snapshot '{name}' does not exist"))
    } else {
        if let Some(g) = ctx.c.guests.get_mut(&vmid) {
            g.config.insert("lock".into(), json!("snapshot-delete"));
        }
        on_guest(node, kind, vmid, move |g| {
            g.config.remove("lock");
            let removed_parent = g
                .snapshots
                .iter()
                .find(|s| s.name == name)
                .and_then(|s| s.parent.clone());
            g.snapshots.retain(|s| s.name != name);
            for s in g.snapshots.iter_mut() {
                if s.parent.as_deref() == Some(name.as_str()) {
                    s.parent = removed_parent.clone();
                }
            }
            if g.config.get("parent").and_then(Value::as_str) == Some(name.as_str()) {
                match &removed_parent {
                    Some(par) => g.config.insert("parent".into(), json!(par)),
                    None => g.config.remove("parent"),
                };
            }
            Ok(())
        })
    };
    Ok(spawn(
        ctx,
        p,
        "delsnapshot",
        1,
        vec![format!("delete snapshot '{}'", p.req("snapname"))],
        effect,
    ))
}

pub(super) fn rollback(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    ctx.check(
        &vm_path(p.vmid()),
        &["VM.Snapshot", "VM.Snapshot.Rollback"],
        true,
    )?;
    let name = p.req("snapname").to_owned();
    let g = guest(ctx, p)?;
    let (node, kind, vmid) = (g.node.clone(), g.kind, g.vmid);
    let start = p.flag("start").unwrap_or(false);
    let effect = if let Some(msg) = locked(g) {
        fail(msg)
    } else if !g.snapshots.iter().any(|s| s.name == name) {
        fail(format!("snapshot '{name}' does not exist"))
    } else {
        if let Some(g) = ctx.c.guests.get_mut(&vmid) {
            g.config.insert("lock".into(), json!("rollback"));
        }
        on_guest(node, kind, vmid, move |g| {
            let Some(s) = g.snapshots.iter().find(|s| s.name == name).cloned() else {
                return Err(format!("snapshot '{name}' does not exist"));
            };
            let mut config = s.config.clone();
            config.insert("parent".into(), json!(name));
            g.config = config;
            g.pending.clear();
            g.pending_delete.clear();
            let run = s.vmstate || start;
            g.power = if run { Power::Running } else { Power::Stopped };
            g.started_at = run.then(now_secs);
            Ok(())
        })
    };
    Ok(spawn(
        ctx,
        p,
        "rollback",
        1,
        vec![format!("rollback to snapshot '{}'", p.req("snapname"))],
        effect,
    ))
}

// ---------------------------------------------------------------- clone / template / resize

pub(super) fn clone(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    let vmid = p.vmid();
    let newid = u32::try_from(p.int("newid").unwrap_or(0)).unwrap_or(0);
    let pool = p.str("pool").map(str::to_owned);
    ctx.check(&vm_path(vmid), &["VM.Clone"], false)?;
    let new_ok = ctx.allowed(&vm_path(newid), &["VM.Allocate"])
        || pool
            .as_ref()
            .is_some_and(|pl| ctx.allowed(&format!("/pool/{pl}"), &["VM.Allocate"]));
    if !new_ok {
        return Err(ApiError::forbidden(format!("/vms/{newid}, VM.Allocate")));
    }
    let g = guest(ctx, p)?.clone();
    let noun = g.kind.noun();
    if ctx.c.guests.contains_key(&newid) {
        return Err(ApiError::die(format!(
            "unable to create {noun} {newid}: config file already exists"
        )));
    }
    if let Some(pl) = &pool {
        if !ctx.c.pools.contains_key(pl) {
            return Err(ApiError::die(format!("pool '{pl}' does not exist")));
        }
    }
    let target = p.str("target").unwrap_or(&g.node).to_owned();
    ctx.c.node(&target)?;
    if let Some(msg) = locked(&g) {
        return Err(ApiError::die(msg));
    }
    if target != g.node && p.str("storage").is_none() {
        let local = g.disks().iter().any(|(_, volid, _)| {
            let st = volid.split(':').next().unwrap_or_default();
            !ctx.c.storages.get(st).is_some_and(|s| s.shared)
        });
        if local {
            return Err(ApiError::die(format!(
                "can't clone {noun} to node '{target}' ({noun} uses local storage)"
            )));
        }
    }
    let full = p.flag("full").unwrap_or(!g.is_template());
    let source = match p.str("snapname") {
        Some(name) => snapshot(&g, name)?.config.clone(),
        None => g.config.clone(),
    };
    let storage = p.str("storage").map(str::to_owned);
    if !full && storage.is_some() {
        return Err(ApiError::die(
            "parameter 'storage' not allowed for linked clones",
        ));
    }
    let mut config = source;
    for key in ["parent", "lock", "template", "vmgenid", "smbios1", "meta"] {
        config.remove(key);
    }
    let disks = crate::model::disks_of(g.kind, &config);
    for (key, volid, size) in disks {
        if key.starts_with("unused") {
            config.remove(&key);
            continue;
        }
        let drive = config
            .get(&key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let opts: Vec<&str> = drive.split(',').skip(1).collect();
        let st = storage
            .clone()
            .unwrap_or_else(|| volid.split(':').next().unwrap_or("local-lvm").to_owned());
        let new_volid = if full {
            ctx.check(
                &format!("/storage/{st}"),
                &["Datastore.AllocateSpace"],
                false,
            )?;
            let s = ctx.c.storage_on(&st, &target)?;
            let used = ctx.c.storage_used(s, &target);
            if used.saturating_add(size) > s.total {
                return Err(ApiError::die(format!(
                    "unable to create image: not enough free space on storage '{st}' (requested {}, available {})",
                    fmt_size(size),
                    fmt_size(s.total.saturating_sub(used))
                )));
            }
            let mut name = ctx.c.new_disk_name(newid, &st, "vm");
            let taken: Vec<String> = crate::model::disks_of(g.kind, &config)
                .into_iter()
                .map(|d| d.1)
                .collect();
            let mut n = 0;
            while taken.contains(&name) {
                n += 1;
                name = format!("{st}:vm-{newid}-disk-{n}");
            }
            name
        } else {
            if !volid.contains(&format!("base-{vmid}-disk")) {
                return Err(ApiError::die(format!(
                    "Linked clone feature is not supported for drive '{key}'"
                )));
            }
            let base = volid.split(':').nth(1).unwrap_or_default();
            let tail = base.replace(&format!("base-{vmid}"), &format!("vm-{newid}"));
            format!("{st}:{base}/{tail}")
        };
        let mut parts = vec![new_volid];
        parts.extend(opts.iter().map(|s| (*s).to_owned()));
        config.insert(key, json!(parts.join(",")));
    }
    // new MAC addresses
    for (k, v) in config.iter_mut() {
        if let (Some(idx), Some(s)) = (k.strip_prefix("net"), v.as_str()) {
            let idx: u32 = idx.parse().unwrap_or(0);
            let new_mac = mac(newid, idx);
            let replaced: Vec<String> = s
                .split(',')
                .map(|part| match part.split_once('=') {
                    Some((key, val)) if val.len() == 17 && val.matches(':').count() == 5 => {
                        format!("{key}={new_mac}")
                    }
                    _ => part.to_owned(),
                })
                .collect();
            *v = json!(replaced.join(","));
        }
    }
    let name_key = if g.kind == Kind::Qemu {
        "name"
    } else {
        "hostname"
    };
    let name = p
        .str(name_key)
        .map(str::to_owned)
        .unwrap_or_else(|| format!("Copy-of-{noun}-{}", g.name()));
    config.insert(name_key.into(), json!(name));
    if let Some(d) = p.str("description") {
        config.insert("description".into(), json!(d));
    }
    if g.kind == Kind::Qemu {
        config.insert(
            "smbios1".into(),
            json!(format!("uuid={}", crate::random_uuid())),
        );
        config.insert("vmgenid".into(), json!(crate::random_uuid()));
    }
    config.insert("lock".into(), json!("create"));
    ctx.c.guests.insert(
        newid,
        Guest {
            vmid: newid,
            kind: g.kind,
            node: target.clone(),
            power: Power::Stopped,
            config,
            snapshots: Vec::new(),
            rules: g.rules.clone(),
            started_at: None,
            pending: Config::new(),
            pending_delete: Vec::new(),
        },
    );
    if let Some(pl) = &pool {
        if let Some(pool) = ctx.c.pools.get_mut(pl) {
            pool.vms.insert(newid);
        }
    }
    let kind = g.kind;
    let log = vec![format!(
        "create {} clone of drive(s) from {noun} {vmid} to {newid}",
        if full { "full" } else { "linked" }
    )];
    Ok(spawn(
        ctx,
        p,
        "clone",
        if full { 3 } else { 1 },
        log,
        on_guest(target, kind, newid, |g| {
            g.config.remove("lock");
            Ok(())
        }),
    ))
}

fn to_template(g: &mut Guest) {
    g.config.insert("template".into(), json!(1));
    let vmid = g.vmid;
    for key in g.disks().into_iter().map(|d| d.0) {
        if let Some(Value::String(s)) = g.config.get_mut(&key) {
            *s = s.replace(&format!("vm-{vmid}-disk"), &format!("base-{vmid}-disk"));
        }
    }
}

pub(super) fn template(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    ctx.check(&vm_path(p.vmid()), &["VM.Allocate"], false)?;
    let g = guest(ctx, p)?;
    let (node, kind, vmid) = (g.node.clone(), g.kind, g.vmid);
    if let Some(msg) = locked(g) {
        return Err(ApiError::die(msg));
    }
    if g.is_template() {
        return Err(ApiError::die("you can't convert a template to a template"));
    }
    if g.is_running() {
        return Err(ApiError::die(match kind {
            Kind::Qemu => "you can't convert a VM to template if VM is running",
            Kind::Lxc => "you can't convert a CT to template if the CT is running",
        }));
    }
    if kind == Kind::Lxc {
        if let Some(g) = ctx.c.guests.get_mut(&vmid) {
            to_template(g);
        }
        return null();
    }
    Ok(spawn(
        ctx,
        p,
        "template",
        1,
        vec![format!("convert VM {vmid} to template")],
        on_guest(node, kind, vmid, |g| {
            to_template(g);
            Ok(())
        }),
    ))
}

pub(super) fn resize(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    ctx.check(&vm_path(p.vmid()), &["VM.Config.Disk"], false)?;
    let skiplock = check_skiplock(ctx, p)?;
    let g = guest(ctx, p)?;
    let (node, kind, vmid) = (g.node.clone(), g.kind, g.vmid);
    if let Some(msg) = locked(g).filter(|_| !skiplock) {
        return Err(ApiError::die(msg));
    }
    if let Some(d) = p.str("digest") {
        if d != digest(&g.config) {
            return Err(ApiError::die(
                "detected modified configuration - file changed by other user? Try again.",
            ));
        }
    }
    let disk = p.req("disk").to_owned();
    let drive = g
        .config
        .get(&disk)
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::die(format!("disk '{disk}' does not exist")))?
        .to_owned();
    if drive.contains("media=cdrom") {
        return Err(ApiError::die("you can't resize a cdrom"));
    }
    let current = disk_size(&drive).unwrap_or(0);
    let spec = p.req("size");
    let (relative, amount) = match spec.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, spec),
    };
    let amount = parse_size(amount)
        .ok_or_else(|| ApiError::param("size", "value does not match the regex pattern"))?;
    let new = if relative {
        current.saturating_add(amount)
    } else {
        amount
    };
    if new < current {
        return Err(ApiError::die("shrinking disks is not supported"));
    }
    let storage_id = drive.split(':').next().unwrap_or_default().to_owned();
    if let Some(s) = ctx.c.storages.get(&storage_id) {
        let used = ctx.c.storage_used(s, &node);
        if used.saturating_add(new - current) > s.total {
            return Err(ApiError::die(format!(
                "unable to resize disk: not enough free space on storage '{storage_id}'"
            )));
        }
    }
    let log = vec![format!("resize {disk} to {}", fmt_size(new))];
    Ok(spawn(
        ctx,
        p,
        "resize",
        1,
        log,
        on_guest(node, kind, vmid, move |g| {
            if let Some(Value::String(s)) = g.config.get_mut(&disk) {
                *s = set_size(s, new);
            }
            Ok(())
        }),
    ))
}

// ---------------------------------------------------------------- firewall

fn rule_json(pos: usize, r: &Map<String, Value>) -> Value {
    let mut r = r.clone();
    r.insert("pos".into(), json!(pos));
    Value::Object(r)
}

pub(super) fn rules(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    ctx.check(&vm_path(p.vmid()), &["VM.Audit"], false)?;
    let g = guest(ctx, p)?;
    Ok(Value::Array(
        g.rules
            .iter()
            .enumerate()
            .map(|(i, r)| rule_json(i, r))
            .collect(),
    )
    .into())
}

fn rule_fields(p: &Params) -> Map<String, Value> {
    let keys = [
        "type",
        "action",
        "comment",
        "dest",
        "dport",
        "enable",
        "icmp-type",
        "iface",
        "log",
        "macro",
        "proto",
        "source",
        "sport",
    ];
    keys.iter()
        .filter_map(|k| p.0.get(*k).map(|v| ((*k).to_owned(), v.clone())))
        .collect()
}

fn rules_digest(g: &Guest) -> String {
    let mut c = Config::new();
    c.insert("rules".into(), json!(g.rules));
    digest(&c)
}

pub(super) fn rule_create(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    ctx.check(&vm_path(p.vmid()), &["VM.Config.Network"], false)?;
    let g = ctx.c.guest_mut(p.req("node"), ctx.kind, p.vmid())?;
    if p.str("digest").is_some_and(|d| d != rules_digest(g)) {
        return Err(ApiError::die(
            "detected modified configuration - file changed by other user? Try again.",
        ));
    }
    let mut rule = rule_fields(p);
    rule.entry("enable").or_insert(json!(0));
    let pos = p.int("pos").map_or(0, |v| v as usize).min(g.rules.len());
    g.rules.insert(pos, rule);
    null()
}

pub(super) fn rule_get(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    ctx.check(&vm_path(p.vmid()), &["VM.Audit"], false)?;
    let g = guest(ctx, p)?;
    let pos = p.int("pos").unwrap_or(0) as usize;
    let r = g
        .rules
        .get(pos)
        .ok_or_else(|| ApiError::die(format!("no rule at position {pos}")))?;
    Ok(rule_json(pos, r).into())
}

pub(super) fn rule_update(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    ctx.check(&vm_path(p.vmid()), &["VM.Config.Network"], false)?;
    let g = ctx.c.guest_mut(p.req("node"), ctx.kind, p.vmid())?;
    if p.str("digest").is_some_and(|d| d != rules_digest(g)) {
        return Err(ApiError::die(
            "detected modified configuration - file changed by other user? Try again.",
        ));
    }
    let pos = p.int("pos").unwrap_or(0) as usize;
    if pos >= g.rules.len() {
        return Err(ApiError::die(format!("no rule at position {pos}")));
    }
    if let Some(to) = p.int("moveto") {
        let rule = g.rules.remove(pos);
        let to = (to as usize).min(g.rules.len());
        g.rules.insert(to, rule);
        return null();
    }
    let fields = rule_fields(p);
    let deletes = super::split_list(p.str("delete").unwrap_or_default());
    if let Some(rule) = g.rules.get_mut(pos) {
        rule.extend(fields);
        for d in deletes {
            rule.remove(&d);
        }
    }
    null()
}

pub(super) fn rule_delete(ctx: &mut Ctx<'_>, p: &Params) -> Result<Reply, ApiError> {
    ctx.check(&vm_path(p.vmid()), &["VM.Config.Network"], false)?;
    let g = ctx.c.guest_mut(p.req("node"), ctx.kind, p.vmid())?;
    if p.str("digest").is_some_and(|d| d != rules_digest(g)) {
        return Err(ApiError::die(
            "detected modified configuration - file changed by other user? Try again.",
        ));
    }
    let pos = p.int("pos").unwrap_or(0) as usize;
    if pos >= g.rules.len() {
        return Err(ApiError::die(format!("no rule at position {pos}")));
    }
    g.rules.remove(pos);
    null()
}
