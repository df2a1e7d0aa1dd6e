//! Configuration changes, planned before anything is sent: every key of a change must be one Uma
//! knows ([`crate::acl::keys`]), every value is parsed with Proxmox's grammar, every object named
//! inside (volume, storage, bridge, VLAN) is resolved through the caller's [`Permits`], every
//! key is checked against the privilege Proxmox asks for it, keys that reach the host are for
//! administrators, and the quota ask is what the guest holds after the change (`set` *and*
//! `delete` applied) beyond what it holds now.

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

use regex::Regex;
use serde_json::{json, Map, Value};

use crate::acl::keys::{self, Rule, Value as Kind, TENANT_FEATURES};
use crate::acl::owned::{Content, Guest, Permits, VolumeUse};
use crate::acl::ConfigPriv;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::pve::props::{self, Format, Props};
use crate::services::quota::{self, GuestConfig, Holding};
use crate::services::Ops;

/// A planned change: the form Proxmox gets, built only from checked values, and what the guest
/// holds before and after.
#[derive(Debug, Clone)]
pub struct Plan {
    /// `key=value` pairs, then `delete`.
    pub form: Vec<(String, String)>,
    /// Per key: old and new value, for the audit row.
    pub diff: BTreeMap<String, Value>,
    /// What the guest holds now.
    pub before: Holding,
    /// What it holds after the change.
    pub after: Holding,
}

/// A value as text: strings as they are, numbers, booleans as `1`/`0`.
pub fn text_of(key: &str, v: &Value) -> AppResult<String> {
    let s = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => if *b { "1" } else { "0" }.to_owned(),
        _ => return Err(AppError::field(key, "must be a string, number or boolean")),
    };
    if s.len() > 8192 {
        return Err(AppError::field(key, "at most 8192 characters"));
    }
    Ok(s)
}

fn one_line(key: &str, s: &str) -> AppResult<()> {
    if s.chars().any(char::is_control) {
        return Err(AppError::field(key, "must be one line"));
    }
    Ok(())
}

/// Checks a plain value by its kind; returns the text Proxmox gets.
pub fn plain(key: &str, kind: Kind, s: &str) -> AppResult<String> {
    static NAME: LazyLock<Regex> = LazyLock::new(|| {
        #[allow(clippy::expect_used)]
        Regex::new(r"^[a-zA-Z0-9]([a-zA-Z0-9.-]{0,61}[a-zA-Z0-9])?$").expect("static")
    });
    static TAGS: LazyLock<Regex> = LazyLock::new(|| {
        #[allow(clippy::expect_used)]
        Regex::new(r"^([a-zA-Z0-9_+.-]+[;, ]?)*$").expect("static")
    });
    static TOKEN: LazyLock<Regex> = LazyLock::new(|| {
        #[allow(clippy::expect_used)]
        Regex::new(r"^[A-Za-z0-9_.:/+@=,;\-]{1,512}$").expect("static")
    });
    match kind {
        Kind::Int(min, max) => match s.trim().parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n.to_string()),
            _ => Err(AppError::field(
                key,
                format!("a whole number from {min} to {max}"),
            )),
        },
        Kind::Number(min, max) => match s.trim().parse::<f64>() {
            Ok(n) if n.is_finite() && (min..=max).contains(&n) => Ok(s.trim().to_owned()),
            _ => Err(AppError::field(
                key,
                format!("a number from {min} to {max}"),
            )),
        },
        Kind::Bool => match s {
            "1" | "0" => Ok(s.to_owned()),
            "true" => Ok("1".to_owned()),
            "false" => Ok("0".to_owned()),
            _ => Err(AppError::field(key, "0 or 1")),
        },
        Kind::Enum(list) => {
            if list.contains(&s) {
                Ok(s.to_owned())
            } else {
                Err(AppError::field(key, format!("one of {}", list.join(", "))))
            }
        }
        Kind::Name => {
            if NAME.is_match(s) {
                Ok(s.to_owned())
            } else {
                Err(AppError::field(
                    key,
                    "a DNS name: letters, digits, '-' and '.', at most 63 characters",
                ))
            }
        }
        Kind::Tags => {
            if TAGS.is_match(s) {
                Ok(s.to_owned())
            } else {
                Err(AppError::field(
                    key,
                    "tags are letters, digits, '_', '+', '.', '-', separated by ';'",
                ))
            }
        }
        Kind::Text => {
            if s.contains('\0') {
                Err(AppError::field(key, "must not contain NUL characters"))
            } else {
                Ok(s.to_owned())
            }
        }
        Kind::Token => {
            if TOKEN.is_match(s) {
                Ok(s.to_owned())
            } else {
                Err(AppError::field(
                    key,
                    "letters, digits and . _ - : / + @ = , ; without spaces",
                ))
            }
        }
        Kind::Machine => {
            if machine_ok(s) {
                Ok(s.to_owned())
            } else {
                Err(AppError::field(
                    key,
                    "a QEMU machine type (pc, q35, pc-q35-9.0, …) with optional viommu, aw-bits, enable-s3, enable-s4",
                ))
            }
        }
        Kind::Raw => {
            one_line(key, s)?;
            if s.is_empty() || s.len() > 1024 {
                return Err(AppError::field(key, "1 to 1024 characters"));
            }
            Ok(s.to_owned())
        }
        _ => Err(AppError::field(key, "can't be checked as a plain value")),
    }
}

/// Whether `s` is a Proxmox `machine` property string: the type (optionally as `type=`), then
/// `viommu`, `aw-bits`, `enable-s3`, `enable-s4` (the API schema's format).
pub fn machine_ok(s: &str) -> bool {
    static TYPE: LazyLock<Regex> = LazyLock::new(|| {
        #[allow(clippy::expect_used)]
        Regex::new(r"^(pc|pc(-i440fx)?-\d+(\.\d+)+(\+pve\d+)?(\.pxe)?|q35|pc-q35-\d+(\.\d+)+(\+pve\d+)?(\.pxe)?|virt(?:-\d+(\.\d+)+)?(\+pve\d+)?)$").expect("static")
    });
    let mut parts = s.split(',');
    let first = parts.next().unwrap_or_default();
    if !TYPE.is_match(first.strip_prefix("type=").unwrap_or(first)) {
        return false;
    }
    parts.all(|p| match p.split_once('=') {
        Some(("viommu", v)) => v == "intel" || v == "virtio",
        Some(("aw-bits", v)) => v.parse::<u8>().is_ok_and(|n| (32..=64).contains(&n)),
        Some(("enable-s3" | "enable-s4", v)) => v == "0" || v == "1",
        _ => false,
    })
}

fn parse(key: &str, format: &Format, s: &str) -> AppResult<Props> {
    Props::parse(format, s).map_err(|e| AppError::field(key, e.0))
}

/// A new volume's size from `STORAGE:SIZE` (GiB, decimals allowed), if the value is one.
fn new_size_gib(volume: &str) -> Option<(&str, f64)> {
    let (storage, size) = volume.split_once(':')?;
    if size.is_empty() || !size.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return None;
    }
    let gib: f64 = size.parse().ok()?;
    (gib.is_finite() && (0.0..=65536.0).contains(&gib)).then_some((storage, gib))
}

/// What resolving one value found.
#[derive(Debug, Default)]
struct Resolved {
    /// The text Proxmox gets.
    text: String,
    /// It reaches the host.
    host: bool,
    /// The volume it holds after the change and its size (for the quota), if any.
    holds: Option<(String, u64)>,
}

/// The planner for one guest and caller.
struct Planner<'a> {
    ops: &'a Ops,
    permits: Permits<'a>,
    guest: &'a Guest,
    /// The guest's configuration now and with its pending changes.
    cfg: &'a GuestConfig,
    /// VNets, read once when a bridge is named.
    vnets: Option<Vec<Value>>,
    /// Sizes of existing volumes, read when needed.
    sizes: HashMap<String, u64>,
}

impl Planner<'_> {
    async fn vnets(&mut self) -> AppResult<Vec<Value>> {
        if self.vnets.is_none() {
            let list: Vec<Value> = self.ops.pve.get("cluster/sdn/vnets").await?;
            self.vnets = Some(list);
        }
        Ok(self.vnets.clone().unwrap_or_default())
    }

    async fn size_of(&mut self, key: &str, volid: &str) -> AppResult<u64> {
        if let Some(s) = self.sizes.get(volid) {
            return Ok(*s);
        }
        match quota::volume_size(&self.ops.pve, self.guest.node(), volid).await {
            Some(s) => {
                self.sizes.insert(volid.to_owned(), s);
                Ok(s)
            }
            None => Err(AppError::field(
                key,
                format!(
                    "volume {volid} is not on a storage node {} reaches",
                    self.guest.node()
                ),
            )),
        }
    }

    /// A volume part of a drive or mount point: new (`STORAGE:SIZE`), copied
    /// (`import-from`), one of the guest's own, or a host path.
    async fn volume(
        &mut self,
        key: &str,
        p: &mut Props,
        default: &str,
        import: bool,
    ) -> AppResult<(bool, Option<(String, u64)>)> {
        let volume = p.get(default).unwrap_or_default().to_owned();
        if volume.starts_with('/') {
            // A host path or device (a bind mount for containers).
            return Ok((true, None));
        }
        let kind = self.guest.kind();
        if let Some((storage, gib)) = new_size_gib(&volume) {
            let usable =
                self.permits
                    .storage(key, storage, Content::disks_of(kind), self.guest.node())?;
            let from = if import { p.get("import-from") } else { None };
            let bytes = match from {
                Some(source) => {
                    let source = source.to_owned();
                    let v = self.permits.volume(key, &source, VolumeUse::ImportFrom)?;
                    let size = self.size_of(key, v.as_str()).await?;
                    p.set("import-from", v.as_str());
                    size
                }
                None if gib > 0.0 => (gib * (1u64 << 30) as f64).ceil() as u64,
                None => {
                    return Err(AppError::field(
                        key,
                        "a new disk needs a size in GiB (storage:size)",
                    ))
                }
            };
            p.set(
                default,
                format!("{}:{}", usable.as_str(), &volume[storage.len() + 1..]),
            );
            return Ok((false, Some((format!("new:{key}"), bytes))));
        }
        if import && p.get("import-from").is_some() {
            return Err(AppError::field(
                key,
                "import-from needs a new disk: storage:0,import-from=<volume>",
            ));
        }
        let own = self
            .permits
            .volume(key, &volume, VolumeUse::OwnDisk(self.guest))?;
        // Only volumes the guest holds now (a disk, a detached `unused[n]`) come back to it: a
        // volume an earlier guest of the same id left on a storage is not this guest's.
        let held_at = |cfg: &Map<String, Value>| {
            cfg.iter().find_map(|(k, v)| {
                let (vol, size) = quota::volume_of(self.guest.kind(), k, v.as_str()?)?;
                (vol == own.as_str()).then(|| (k.clone(), size))
            })
        };
        let Some((held_key, held_size)) =
            held_at(&self.cfg.pending).or_else(|| held_at(&self.cfg.current))
        else {
            return Err(AppError::with_message(
                ErrorCode::Forbidden,
                format!(
                    "Volume {own} is not a disk of {} {}: only its own disks and detached volumes can be attached",
                    self.guest.kind().noun(),
                    self.guest.vmid()
                ),
            ));
        };
        // Its size is the one Proxmox recorded (or the storage's), never one the caller writes:
        // Proxmox keeps a stated `size=` for a volume already at that key.
        let size = match held_size.filter(|_| held_key == key) {
            Some(s) => s,
            None => self.size_of(key, own.as_str()).await?,
        };
        p.set("size", props::fmt_size(size));
        p.set(default, own.as_str());
        Ok((false, Some((own.as_str().to_owned(), size))))
    }

    /// Resolves one value of `key` under `rule`.
    async fn resolve(&mut self, key: &str, rule: Rule, raw: &str) -> AppResult<Resolved> {
        let mut out = Resolved::default();
        match rule.value {
            Kind::Drive(format) => {
                let mut p = parse(key, format, raw)?;
                let file = p.get("file").unwrap_or_default().to_owned();
                let cdrom = p.get("media") == Some("cdrom") || key == "cdrom";
                if cdrom || file == "none" {
                    match file.as_str() {
                        "none" => {}
                        "cdrom" => out.host = true,
                        f if f.starts_with('/') => out.host = true,
                        f => {
                            let iso = self.permits.volume(key, f, VolumeUse::Iso)?;
                            p.set("file", iso.as_str());
                        }
                    }
                    if p.get("import-from").is_some() {
                        return Err(AppError::field(key, "a CD drive imports nothing"));
                    }
                } else {
                    if file == "cdrom" {
                        out.host = true;
                    }
                    let (host, holds) = self.volume(key, &mut p, "file", true).await?;
                    out.host |= host;
                    out.holds = holds;
                }
                out.text = p.render(format);
            }
            Kind::Mount(format) => {
                let mut p = parse(key, format, raw)?;
                if format.keys.iter().any(|k| k.name == "mp") {
                    let mp = p.get("mp").unwrap_or_default();
                    if !mp.starts_with('/') || mp.split('/').any(|s| s == "..") {
                        return Err(AppError::field(
                            key,
                            "a mount point needs mp=<absolute path in the container>",
                        ));
                    }
                }
                let (host, holds) = self.volume(key, &mut p, "volume", false).await?;
                out.host = host;
                out.holds = holds;
                out.text = p.render(format);
            }
            Kind::Net(format) => {
                let p = parse(key, format, raw)?;
                if format.what == props::NET.what {
                    let models = props::NIC_MODELS
                        .iter()
                        .filter(|m| p.get(m).is_some())
                        .count()
                        + usize::from(p.get("model").is_some());
                    if models != 1 {
                        return Err(AppError::field(
                            key,
                            "one NIC model, like 'virtio,bridge=vmbr0'",
                        ));
                    }
                } else if p.get("name").is_none() {
                    return Err(AppError::field(key, "a container NIC needs name=<eth0>"));
                }
                if let Some(bridge) = p.get("bridge") {
                    let vlans = p.get("tag").is_some() || p.get("trunks").is_some();
                    let vnets = self.vnets().await?;
                    self.permits.bridge(key, bridge, vlans, &vnets)?;
                }
                out.text = p.render(format);
            }
            Kind::Props(format) => {
                let p = parse(key, format, raw)?;
                if format.what == props::FEATURES.what {
                    out.host = p.keys().any(|k| !TENANT_FEATURES.contains(&k));
                }
                out.text = p.render(format);
            }
            Kind::Serial => {
                if raw == "socket" {
                    out.text = raw.to_owned();
                } else if raw.starts_with("/dev/") {
                    out.host = true;
                    out.text = plain(key, Kind::Raw, raw)?;
                } else {
                    return Err(AppError::field(key, "socket, or a host device /dev/…"));
                }
            }
            Kind::Usb => {
                let spice = raw == "spice"
                    || raw
                        .strip_prefix("host=spice")
                        .is_some_and(|r| r.is_empty() || r == ",usb3=1" || r == ",usb3=0");
                out.host = !spice;
                out.text = plain(key, Kind::Raw, raw)?;
            }
            Kind::Unused => {
                return Err(AppError::field(
                    key,
                    "detached volumes can only be deleted (or attached again as a disk)",
                ));
            }
            other => out.text = plain(key, other, raw)?,
        }
        Ok(out)
    }
}

/// Whether a drive value is a CD drive (`media=cdrom`): it needs `VM.Config.CDROM`, not `.Disk`.
fn drive_is_cd(key: &str, format: &Format, raw: &str) -> bool {
    key == "cdrom" || Props::parse(format, raw).is_ok_and(|p| p.get("media") == Some("cdrom"))
}

fn refuse_host(key: &str) -> AppError {
    AppError::with_message(
        ErrorCode::Forbidden,
        format!("{key} reaches the host (devices, paths, hook scripts, raw arguments, privileged features): only administrators may set it"),
    )
}

fn need(g: &Guest, key: &str, p: ConfigPriv) -> AppError {
    AppError::with_message(
        ErrorCode::Forbidden,
        format!(
            "You need {} to change {key} of {} {}",
            p.name(),
            g.kind().noun(),
            g.vmid()
        ),
    )
}

/// Plans `set` and `delete` on guest `g` (whose configuration `cfg` was just read). `node_cpus`
/// is the guest's node's CPU count.
pub async fn plan(
    ops: &Ops,
    permits: Permits<'_>,
    g: &Guest,
    set: &Map<String, Value>,
    delete: &[String],
    cfg: &GuestConfig,
    node_cpus: i64,
) -> AppResult<Plan> {
    if set.is_empty() && delete.is_empty() {
        return Err(AppError::field("set", "no configuration keys given"));
    }
    let kind = g.kind();
    let admin = permits.principal().is_admin;
    let rule_of = |key: &str| {
        keys::rule(kind, key).ok_or_else(|| {
            AppError::field(
                key,
                format!("{key} can't be changed through Uma (unknown or managed by Proxmox)"),
            )
        })
    };
    let mut planner = Planner {
        ops,
        permits,
        guest: g,
        cfg,
        vnets: None,
        sizes: quota::sizes_for(&ops.pve, g.node(), kind, &[&cfg.current, &cfg.pending]).await,
    };
    let mut seen = std::collections::HashSet::new();
    for key in delete {
        if !seen.insert(key.as_str()) {
            return Err(AppError::field("delete", format!("{key} is listed twice")));
        }
        if set.contains_key(key) {
            return Err(AppError::field(
                key,
                "can't be set and deleted in one change",
            ));
        }
    }
    let mut form: Vec<(String, String)> = Vec::new();
    let mut diff = BTreeMap::new();
    let mut after = cfg.pending.clone();
    let mut detached: Vec<String> = Vec::new();
    let mut new_volumes: Vec<(String, String, u64)> = Vec::new();
    for (key, value) in set {
        let rule = rule_of(key)?;
        let raw = text_of(key, value)?;
        if !matches!(rule.value, Kind::Text) {
            one_line(key, &raw)?;
        }
        // A CD drive needs VM.Config.CDROM, but replacing a disk by one (or by nothing) needs
        // VM.Config.Disk: Proxmox checks the drive's old value too.
        let old_is_disk = cfg
            .pending
            .get(key)
            .and_then(Value::as_str)
            .is_some_and(|old| quota::volume_of(g.kind(), key, old).is_some());
        let privilege = match rule.value {
            Kind::Drive(f) if drive_is_cd(key, f, &raw) && !old_is_disk => ConfigPriv::Cdrom,
            Kind::Drive(_) => ConfigPriv::Disk,
            _ => rule.privilege,
        };
        if !planner.permits.config_priv(g, privilege) {
            return Err(need(g, key, privilege));
        }
        if rule.host && !admin {
            return Err(refuse_host(key));
        }
        let resolved = planner.resolve(key, rule, &raw).await?;
        if resolved.host && !admin {
            return Err(refuse_host(key));
        }
        // The volume this key held before is detached (Proxmox keeps it as unused[n]).
        if let Some(old) = after.get(key).and_then(Value::as_str) {
            if let Some((volume, _)) = quota::volume_of(kind, key, old) {
                if resolved.holds.as_ref().is_none_or(|(v, _)| *v != volume) {
                    detached.push(volume);
                }
            }
        }
        if let Some((volume, size)) = &resolved.holds {
            new_volumes.push((key.clone(), volume.clone(), *size));
        }
        diff.insert(
            key.clone(),
            json!({ "old": cfg.pending.get(key), "new": resolved.text }),
        );
        after.insert(key.clone(), Value::String(resolved.text.clone()));
        form.push((key.clone(), resolved.text));
    }
    for key in delete {
        let rule = rule_of(key)?;
        let current = cfg
            .pending
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default();
        let cdrom = matches!(rule.value, Kind::Drive(_))
            && (current.contains("media=cdrom") || current.starts_with("none") || key == "cdrom");
        let privilege = if cdrom {
            ConfigPriv::Cdrom
        } else {
            rule.privilege
        };
        if !planner.permits.config_priv(g, privilege) {
            return Err(need(g, key, privilege));
        }
        if rule.host && !admin {
            return Err(refuse_host(key));
        }
        if let Some(old) = after.remove(key) {
            // A removed disk stays as a detached volume; removing `unused[n]` destroys it.
            if !matches!(rule.value, Kind::Unused) {
                if let Some((volume, _)) = old.as_str().and_then(|s| quota::volume_of(kind, key, s))
                {
                    detached.push(volume);
                }
            }
        }
        diff.insert(
            key.clone(),
            json!({ "old": cfg.pending.get(key), "new": null }),
        );
    }
    if !delete.is_empty() {
        form.push(("delete".to_owned(), delete.join(",")));
    }
    // The after state: attached volumes leave unused[n]; detached ones join it.
    let attached: Vec<&str> = new_volumes.iter().map(|(_, v, _)| v.as_str()).collect();
    after.retain(|k, v| {
        !(k.starts_with("unused") && v.as_str().is_some_and(|s| attached.contains(&s)))
    });
    let mut n = 0;
    for volume in detached {
        if attached.contains(&volume.as_str()) {
            continue;
        }
        while after.contains_key(&format!("unused{n}")) {
            n += 1;
        }
        after.insert(format!("unused{n}"), Value::String(volume));
    }
    let mut sizes = planner.sizes.clone();
    for (key, volume, size) in &new_volumes {
        sizes.insert(volume.clone(), *size);
        // New volumes have no name yet: count them under a placeholder.
        if volume.starts_with("new:") {
            after.insert(key.clone(), Value::String(format!("{volume},size={size}")));
        }
    }
    let mut before = quota::holding_of(kind, &cfg.current, node_cpus, &sizes);
    before.widen(&quota::holding_of(kind, &cfg.pending, node_cpus, &sizes));
    let mut after_h = quota::holding_of(kind, &cfg.current, node_cpus, &sizes);
    after_h.widen(&quota::holding_of(kind, &after, node_cpus, &sizes));
    Ok(Plan {
        form,
        diff,
        before,
        after: after_h,
    })
}

/// Keys Proxmox keeps in a saved configuration (a snapshot's, a backup's) that nobody sets.
const MANAGED: &[&str] = &[
    "digest",
    "parent",
    "snaptime",
    "snapstate",
    "vmstate",
    "lock",
    "meta",
    "vmgenid",
    "runningmachine",
    "runningcpu",
    "template",
];

/// Vets a configuration that is to replace the guest's — a snapshot rolled back to, a backup
/// restored over it — as if the caller set every key that differs from what the guest has now:
/// nothing that reaches the host, no bridge or VLAN the caller may not use, no CD they may not
/// read. (Its disks are the guest's own; their storages are checked by the caller.)
pub async fn vet_replacement(
    ops: &Ops,
    permits: Permits<'_>,
    g: &Guest,
    target: &Map<String, Value>,
    now: &Map<String, Value>,
) -> AppResult<()> {
    if permits.principal().is_admin {
        return Ok(());
    }
    let mut vnets: Option<Vec<Value>> = None;
    for (key, value) in target {
        if MANAGED.contains(&key.as_str()) || now.get(key) == Some(value) {
            continue;
        }
        let text = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let Some(rule) = keys::rule(g.kind(), key) else {
            return Err(AppError::with_message(
                ErrorCode::Forbidden,
                format!("{key} would come back with this ops, and only administrators may set it"),
            ));
        };
        if rule.host {
            return Err(refuse_host(key));
        }
        let first = text.split(',').next().unwrap_or_default();
        let part = |name: &str| {
            text.split(',')
                .find_map(|p| p.strip_prefix(name).and_then(|r| r.strip_prefix('=')))
                .map(str::to_owned)
        };
        let host = match rule.value {
            Kind::Serial => text != "socket",
            Kind::Usb => !(text == "spice" || text.starts_with("host=spice")),
            Kind::Mount(_) => part("volume")
                .unwrap_or_else(|| first.to_owned())
                .starts_with('/'),
            Kind::Drive(_) => {
                let file = part("file").unwrap_or_else(|| first.to_owned());
                if text.contains("media=cdrom")
                    && !["none", "cdrom"].contains(&file.as_str())
                    && !file.starts_with('/')
                {
                    permits.volume(key, &file, VolumeUse::Iso)?;
                }
                file == "cdrom" || file.starts_with('/')
            }
            Kind::Props(f) if f.what == props::FEATURES.what => text
                .split(',')
                .filter_map(|p| p.split_once('=').map(|(k, _)| k))
                .any(|k| !TENANT_FEATURES.contains(&k)),
            Kind::Net(_) => {
                if let Some(bridge) = part("bridge") {
                    if vnets.is_none() {
                        vnets = Some(ops.pve.get("cluster/sdn/vnets").await?);
                    }
                    let vlans = part("tag").is_some() || part("trunks").is_some();
                    permits.bridge(key, &bridge, vlans, vnets.as_deref().unwrap_or_default())?;
                }
                false
            }
            _ => false,
        };
        if host {
            return Err(refuse_host(key));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn plain_values_are_checked() {
        assert!(plain("bios", Kind::Enum(&["seabios", "ovmf"]), "ovmf").is_ok());
        assert!(plain("bios", Kind::Enum(&["seabios", "ovmf"]), "uefi").is_err());
        for ok in [
            "q35",
            "pc",
            "pc-q35-9.0",
            "pc-i440fx-8.1+pve1",
            "type=q35,viommu=intel",
            "q35,aw-bits=48,enable-s3=1",
        ] {
            assert!(plain("machine", Kind::Machine, ok).is_ok(), "{ok}");
        }
        for bad in [
            "q36",
            "q35,viommu=amd",
            "q35,aw-bits=99",
            "q35,foo=1",
            "q35;rm",
        ] {
            assert!(plain("machine", Kind::Machine, bad).is_err(), "{bad}");
        }
        assert!(plain("cores", Kind::Int(1, 512), "4").is_ok());
        assert!(plain("cores", Kind::Int(1, 512), "0").is_err());
        assert!(plain("name", Kind::Name, "web-1").is_ok());
        assert!(plain("name", Kind::Name, "web 1").is_err());
        assert!(plain("onboot", Kind::Bool, "true").is_ok());
        assert!(plain("args", Kind::Raw, "-a\n-b").is_err());
        assert_eq!(new_size_gib("local-lvm:32"), Some(("local-lvm", 32.0)));
        assert_eq!(new_size_gib("local-lvm:0.5"), Some(("local-lvm", 0.5)));
        assert_eq!(new_size_gib("local-lvm:vm-100-disk-0"), None);
        assert_eq!(new_size_gib("local-lvm:1e9"), None);
    }
}
