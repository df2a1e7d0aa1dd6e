//! A guest's firewall rules: list, add (every field checked), delete.

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::*;
use crate::acl::{ConfigPriv, GuestAction};
use crate::audit::AuditAction;
use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::limits::Preset;
use crate::pve::path::Vmid;
use crate::services::Ops;
use crate::services::{guest, limit};

/// Firewall rules of a guest.
pub async fn firewall_rules(ops: &Ops, caller: &Caller, vmid: Vmid) -> AppResult<Value> {
    read_limit(ops, caller, AuditAction::ViewVm, vmid).await?;
    let (g, _) = guest(ops, caller, vmid, GuestAction::View, AuditAction::ViewVm).await?;
    let list: Value = ops.pve.get(g.path("firewall/rules")).await?;
    Ok(json!({ "data": list }))
}

/// A firewall rule as a user sends it.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct FirewallRule {
    /// `in`, `out` or `group`.
    #[serde(rename = "type")]
    pub kind: String,
    /// ACCEPT, DROP, REJECT, or a security group for `group`.
    pub action: String,
    /// 1 or 0.
    #[serde(default)]
    pub enable: Option<u8>,
    /// Comment.
    #[serde(default)]
    pub comment: Option<String>,
    /// Source address, range, alias or set.
    #[serde(default)]
    pub source: Option<String>,
    /// Destination.
    #[serde(default)]
    pub dest: Option<String>,
    /// Source port(s).
    #[serde(default)]
    pub sport: Option<String>,
    /// Destination port(s).
    #[serde(default)]
    pub dport: Option<String>,
    /// Protocol.
    #[serde(default)]
    pub proto: Option<String>,
    /// Macro.
    #[serde(default, rename = "macro")]
    pub macro_name: Option<String>,
    /// Interface (`net0`).
    #[serde(default)]
    pub iface: Option<String>,
    /// Log level.
    #[serde(default)]
    pub log: Option<String>,
    /// Position.
    #[serde(default)]
    pub pos: Option<u32>,
}

fn rule_form(r: &FirewallRule) -> AppResult<Vec<(&'static str, String)>> {
    fn re(p: &'static str) -> Regex {
        #[allow(clippy::expect_used)]
        Regex::new(p).expect("static")
    }
    static ACTION: LazyLock<Regex> = LazyLock::new(|| re(r"^(ACCEPT|DROP|REJECT)$"));
    static GROUP: LazyLock<Regex> = LazyLock::new(|| re(r"^[A-Za-z][A-Za-z0-9\-_]{1,17}$"));
    static ADDR: LazyLock<Regex> = LazyLock::new(|| re(r"^[A-Za-z0-9.:/,+_\-]{1,512}$"));
    static PORTS: LazyLock<Regex> = LazyLock::new(|| re(r"^[0-9a-z:,\-]{1,256}$"));
    static PROTO: LazyLock<Regex> = LazyLock::new(|| re(r"^[a-z0-9\-]{1,16}$"));
    static MACRO: LazyLock<Regex> = LazyLock::new(|| re(r"^[A-Za-z0-9\-_]{1,64}$"));
    static IFACE: LazyLock<Regex> = LazyLock::new(|| re(r"^net\d{1,2}$"));
    static LOG: LazyLock<Regex> =
        LazyLock::new(|| re(r"^(emerg|alert|crit|err|warning|notice|info|debug|nolog)$"));
    let mut form = Vec::new();
    match r.kind.as_str() {
        "in" | "out" => {
            if !ACTION.is_match(&r.action) {
                return Err(AppError::field("action", "ACCEPT, DROP or REJECT"));
            }
        }
        "group" => {
            if !GROUP.is_match(&r.action) {
                return Err(AppError::field("action", "the name of a security group"));
            }
        }
        _ => return Err(AppError::field("type", "in, out or group")),
    }
    form.push(("type", r.kind.clone()));
    form.push(("action", r.action.clone()));
    form.push(("enable", r.enable.unwrap_or(1).min(1).to_string()));
    let opt = |form: &mut Vec<(&'static str, String)>,
               key: &'static str,
               v: &Option<String>,
               re: &Regex,
               reason: &str|
     -> AppResult<()> {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            if !re.is_match(v) {
                return Err(AppError::field(key, reason));
            }
            form.push((key, v.to_owned()));
        }
        Ok(())
    };
    opt(
        &mut form,
        "source",
        &r.source,
        &ADDR,
        "an address, CIDR, range, alias or IP set",
    )?;
    opt(
        &mut form,
        "dest",
        &r.dest,
        &ADDR,
        "an address, CIDR, range, alias or IP set",
    )?;
    opt(
        &mut form,
        "sport",
        &r.sport,
        &PORTS,
        "ports like 22, 80:90 or 80,443",
    )?;
    opt(
        &mut form,
        "dport",
        &r.dport,
        &PORTS,
        "ports like 22, 80:90 or 80,443",
    )?;
    opt(
        &mut form,
        "proto",
        &r.proto,
        &PROTO,
        "a protocol name or number (tcp, udp, icmp, …)",
    )?;
    opt(
        &mut form,
        "macro",
        &r.macro_name,
        &MACRO,
        "a firewall macro name",
    )?;
    opt(
        &mut form,
        "iface",
        &r.iface,
        &IFACE,
        "a guest interface like net0",
    )?;
    opt(
        &mut form,
        "log",
        &r.log,
        &LOG,
        "a log level (nolog, info, …)",
    )?;
    if let Some(c) = r.comment.as_deref().filter(|c| !c.is_empty()) {
        if c.len() > 256 || c.contains(['\n', '\r']) {
            return Err(AppError::field(
                "comment",
                "one line of at most 256 characters",
            ));
        }
        form.push(("comment", c.to_owned()));
    }
    if (r.sport.is_some() || r.dport.is_some()) && r.proto.is_none() && r.macro_name.is_none() {
        return Err(AppError::field(
            "proto",
            "ports need a protocol (tcp or udp)",
        ));
    }
    if let Some(pos) = r.pos {
        form.push(("pos", pos.to_string()));
    }
    Ok(form)
}

/// Adds a firewall rule.
pub async fn firewall_add(
    ops: &Ops,
    caller: &Caller,
    vmid: Vmid,
    rule: &FirewallRule,
) -> AppResult<Value> {
    let resource = format!("vm:{vmid}");
    let form = rule_form(rule)?;
    limit(
        ops,
        caller,
        Preset::VmConfig,
        AuditAction::VmFirewallUpdate,
        &resource,
    )
    .await?;
    let (g, _) = guest(
        ops,
        caller,
        vmid,
        GuestAction::Config(ConfigPriv::Network),
        AuditAction::VmFirewallUpdate,
    )
    .await?;
    ops.audit
        .audited(
            &caller.actor,
            AuditAction::VmFirewallUpdate,
            &resource,
            json!({ "operation": "add", "rule": rule }),
            async {
                let _: Value = ops.pve.post(g.path("firewall/rules"), &form).await?;
                Ok((json!({ "success": true }), Value::Null))
            },
        )
        .await
}

/// Deletes the firewall rule at `pos`.
pub async fn firewall_delete(ops: &Ops, caller: &Caller, vmid: Vmid, pos: u32) -> AppResult<Value> {
    let resource = format!("vm:{vmid}");
    limit(
        ops,
        caller,
        Preset::VmConfig,
        AuditAction::VmFirewallUpdate,
        &resource,
    )
    .await?;
    let (g, _) = guest(
        ops,
        caller,
        vmid,
        GuestAction::Config(ConfigPriv::Network),
        AuditAction::VmFirewallUpdate,
    )
    .await?;
    ops.audit
        .audited(
            &caller.actor,
            AuditAction::VmFirewallUpdate,
            &resource,
            json!({ "operation": "delete", "pos": pos }),
            async {
                let path = g.path("firewall/rules").seg(&Vmid(pos));
                let _: Value = ops.pve.delete(path, &[]).await?;
                Ok((json!({ "success": true }), Value::Null))
            },
        )
        .await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn firewall_rules_are_checked() {
        let ok = FirewallRule {
            kind: "in".into(),
            action: "ACCEPT".into(),
            proto: Some("tcp".into()),
            dport: Some("22".into()),
            ..FirewallRule::default()
        };
        assert!(rule_form(&ok).is_ok());
        let bad = FirewallRule {
            kind: "in".into(),
            action: "ACCEPT; rm".into(),
            ..FirewallRule::default()
        };
        assert_eq!(
            rule_form(&bad).unwrap_err().field.as_deref(),
            Some("action")
        );
        let ports_without_proto = FirewallRule {
            kind: "out".into(),
            action: "DROP".into(),
            dport: Some("80".into()),
            ..FirewallRule::default()
        };
        assert_eq!(
            rule_form(&ports_without_proto)
                .unwrap_err()
                .field
                .as_deref(),
            Some("proto")
        );
    }
}
