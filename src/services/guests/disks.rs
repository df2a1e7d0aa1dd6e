//! Disk growth, held to the pool's disk quota.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::{json, Map, Value};

use super::*;
use crate::acl::keys;
use crate::acl::{ConfigPriv, GuestAction};
use crate::audit::AuditAction;
use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::limits::Preset;
use crate::pve::path::{GuestKind, Vmid};
use crate::services::quota::{self, Amounts};
use crate::services::Ops;
use crate::services::{guest, limit};

/// A disk size: `+10G` (grow by) or `32G` (grow to).
fn parse_size(raw: &str) -> AppResult<(bool, f64)> {
    static SIZE: LazyLock<Regex> = LazyLock::new(|| {
        #[allow(clippy::expect_used)]
        Regex::new(r"^(\+?)(\d{1,7}(?:\.\d{1,3})?)([KMGT]?)$").expect("static")
    });
    let c = SIZE.captures(raw.trim()).ok_or_else(|| {
        AppError::field("size", "a size like '+10G' (grow by) or '64G' (grow to)")
    })?;
    let n: f64 = c[2]
        .parse()
        .map_err(|_| AppError::field("size", "not a number"))?;
    let gib = match &c[3] {
        "K" => n / (1024.0 * 1024.0),
        "M" => n / 1024.0,
        "T" => n * 1024.0,
        _ => n,
    };
    if gib <= 0.0 {
        return Err(AppError::field("size", "must be more than zero"));
    }
    Ok((!c[1].is_empty(), gib))
}

/// Grows a disk; what it adds counts against the pool's disk quota.
pub async fn resize(
    ops: &Ops,
    caller: &Caller,
    vmid: Vmid,
    disk: &str,
    size: &str,
    override_quota: bool,
) -> AppResult<Started> {
    let resource = format!("vm:{vmid}");
    limit(
        ops,
        caller,
        Preset::VmConfig,
        AuditAction::VmResize,
        &resource,
    )
    .await?;
    let (g, _) = guest(
        ops,
        caller,
        vmid,
        GuestAction::Config(ConfigPriv::Disk),
        AuditAction::VmResize,
    )
    .await?;
    let override_quota = ops.audit.checked(
        &caller.actor,
        AuditAction::VmResize,
        &resource,
        reject_override(caller, override_quota),
    )?;
    let known = keys::rule(g.kind(), disk)
        .is_some_and(|r| matches!(r.value, keys::Value::Drive(_) | keys::Value::Mount(_)));
    if !known {
        let err = AppError::field(
            "disk",
            match g.kind() {
                GuestKind::Qemu => "a disk like scsi0, virtio0, sata0 or ide0",
                GuestKind::Lxc => "rootfs or a mount point like mp0",
            },
        );
        ops.audit
            .refused(&caller.actor, AuditAction::VmResize, &resource, &err);
        return Err(err);
    }
    let (relative, gib) = ops.audit.checked(
        &caller.actor,
        AuditAction::VmResize,
        &resource,
        parse_size(size),
    )?;
    let cfg: Map<String, Value> = ops.pve.get(g.path("config")).await?;
    let current = cfg
        .get(disk)
        .and_then(Value::as_str)
        .and_then(|v| quota::volume_of(g.kind(), disk, v));
    let Some((_, current_bytes)) = current else {
        let err = AppError::field(
            "disk",
            format!("{} {vmid} has no disk {disk}", g.kind().noun()),
        );
        ops.audit
            .refused(&caller.actor, AuditAction::VmResize, &resource, &err);
        return Err(err);
    };
    let current = current_bytes.unwrap_or(0) as f64 / (1u64 << 30) as f64;
    let grow = if relative { gib } else { gib - current };
    if grow <= 0.0 {
        let err = AppError::field(
            "size",
            format!("disks only grow: {disk} is already {current} GiB"),
        );
        ops.audit
            .refused(&caller.actor, AuditAction::VmResize, &resource, &err);
        return Err(err);
    }
    let ask = Amounts {
        disk: grow.ceil() as i64,
        ..Amounts::default()
    };
    let size_param = if relative {
        format!("+{}", size.trim().trim_start_matches('+'))
    } else {
        size.trim().to_owned()
    };
    ops.audit.audited(&caller.actor, AuditAction::VmResize,
        &resource,
        json!({ "disk": disk, "diff": { "size": { "old": format!("{current}G"), "new": size_param } }, "quotaOverride": override_quota }),
        async {
            let ticket = reserve_for(ops, g.pool(), ask, override_quota).await?;
            let v: Value = ops
                .pve
                .put(
                    g.path("resize"),
                    &[("disk", disk.to_owned()), ("size", size_param.clone())],
                )
                .await?;
            if let Some(t) = ticket {
                t.commit_task(upid_of(&v).as_deref());
            }
            ops.acl.invalidate();
            Ok(started(ops, caller, &v, vmid))
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn sizes_parse_relative_and_absolute() {
        assert_eq!(parse_size("+10G").unwrap(), (true, 10.0));
        assert_eq!(parse_size("64G").unwrap(), (false, 64.0));
        assert_eq!(parse_size("+512M").unwrap(), (true, 0.5));
        assert!(parse_size("ten").is_err());
        assert!(parse_size("+0G").is_err());
        assert!(parse_size("-5G").is_err());
    }
}
