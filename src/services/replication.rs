//! Storage replication jobs of guests (`/cluster/replication`): list, create, delete. Creating
//! and deleting need `VM.Replicate` on the guest (what Proxmox itself asks for); the job id is
//! checked against Proxmox's grammar (`<guest>-<n>`) and permission is checked on the guest it
//! names, so an id can neither widen the upstream path nor reach another guest's job.

use serde::Deserialize;
use serde_json::{json, Value};

use super::Ops;
use super::{guest, limit};
use crate::acl::GuestAction;
use crate::audit::AuditAction;
use crate::audit::Status;
use crate::auth::Caller;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::limits::Preset;
use crate::pve::models::ResourceKind;
use crate::pve::path::{ApiPath, Node, ReplId, Vmid};

/// The schedule when none is given (Proxmox's default).
pub const DEFAULT_SCHEDULE: &str = "*/15";

/// The rate limit (MB/s) when none is given (the original's default).
pub const DEFAULT_RATE: f64 = 10.0;

const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const WEEKDAYS_LONG: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];
const KEYWORDS: [&str; 10] = [
    "minutely",
    "hourly",
    "daily",
    "weekly",
    "monthly",
    "yearly",
    "annually",
    "quarterly",
    "semiannually",
    "semi-annually",
];

fn number(s: &str, min: u32, max: u32) -> Option<u32> {
    if s.is_empty() || s.len() > 4 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok().filter(|n| (min..=max).contains(n))
}

/// `*`, `N`, `N..M`, each optionally `/step`, comma-separated.
fn values_ok(part: &str, min: u32, max: u32) -> bool {
    part.split(',').all(|item| {
        let (base, step) = match item.split_once('/') {
            Some((b, s)) => (b, Some(s)),
            None => (item, None),
        };
        let step_ok = step.is_none_or(|s| number(s, 1, max.max(1)).is_some());
        let base_ok = base == "*"
            || match base.split_once("..") {
                Some((a, b)) => match (number(a, min, max), number(b, min, max)) {
                    (Some(a), Some(b)) => a <= b,
                    _ => false,
                },
                None => number(base, min, max).is_some(),
            };
        step_ok && base_ok
    })
}

fn weekday(s: &str) -> bool {
    let s = s.to_lowercase();
    WEEKDAYS.contains(&s.as_str()) || WEEKDAYS_LONG.contains(&s.as_str())
}

fn weekdays_ok(token: &str) -> bool {
    token.split(',').all(|item| match item.split_once("..") {
        Some((a, b)) => weekday(a) && weekday(b),
        None => weekday(item),
    })
}

fn date_ok(token: &str) -> bool {
    let parts: Vec<&str> = token.split('-').collect();
    match parts.as_slice() {
        [m, d] => values_ok(m, 1, 12) && values_ok(d, 1, 31),
        [y, m, d] => values_ok(y, 1970, 9999) && values_ok(m, 1, 12) && values_ok(d, 1, 31),
        _ => false,
    }
}

fn time_ok(token: &str) -> bool {
    let parts: Vec<&str> = token.split(':').collect();
    match parts.as_slice() {
        [m] => values_ok(m, 0, 59),
        [h, m] => values_ok(h, 0, 23) && values_ok(m, 0, 59),
        [h, m, s] => values_ok(h, 0, 23) && values_ok(m, 0, 59) && values_ok(s, 0, 59),
        _ => false,
    }
}

/// Whether `raw` is a Proxmox calendar event (a subset of systemd's): a keyword (`daily`,
/// `hourly`, …) or `[WEEKDAYS] [[YEAR-]MONTH-DAY] [HOUR:MINUTE[:SECOND] | MINUTE]`, each part a
/// list of values, `*`, ranges `a..b` and repetitions `/n` — e.g. `*/15`, `mon..fri 22:00`,
/// `sat 2:30`, `*-*-01 03:00`.
pub fn calendar_event_ok(raw: &str) -> bool {
    let s = raw.trim();
    if s.is_empty() || s.len() > 128 || !s.is_ascii() {
        return false;
    }
    if KEYWORDS.contains(&s.to_lowercase().as_str()) {
        return true;
    }
    let tokens: Vec<&str> = s.split_whitespace().collect();
    let mut i = 0;
    if tokens.get(i).is_some_and(|t| weekdays_ok(t)) {
        i += 1;
    }
    if let Some(t) = tokens.get(i).filter(|t| t.contains('-')) {
        if !date_ok(t) {
            return false;
        }
        i += 1;
    }
    if let Some(t) = tokens.get(i) {
        if !time_ok(t) {
            return false;
        }
        i += 1;
    }
    i > 0 && i == tokens.len()
}

fn vmid_of(field: &str, v: &Value) -> AppResult<Vmid> {
    match v {
        Value::Number(n) => n
            .as_u64()
            .map(|n| Vmid::check(field, n))
            .unwrap_or_else(|| Err(AppError::field(field, "a guest id"))),
        Value::String(s) => Vmid::parse(field, s),
        _ => Err(AppError::field(field, "required: a guest id")),
    }
}

fn rate_of(v: &Value) -> AppResult<f64> {
    let n = match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    n.filter(|r| r.is_finite() && (1.0..=1_000_000.0).contains(r))
        .ok_or_else(|| AppError::field("rate", "a rate in MB/s of at least 1"))
}

/// The replication jobs of one guest the caller sees, or (effective administrators) all jobs.
pub async fn list(ops: &Ops, caller: &Caller, vmid: Option<&str>) -> AppResult<Value> {
    let vmid = vmid
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| Vmid::parse("vmid", v))
        .transpose()?;
    let resource = match vmid {
        Some(v) => {
            guest(
                ops,
                caller,
                v,
                GuestAction::View,
                AuditAction::ViewReplication,
            )
            .await?;
            format!("vm:{v}")
        }
        None => {
            let resource = "cluster:replication".to_owned();
            let v =
                super::sdn::view_or_refuse(ops, caller, AuditAction::ViewReplication, &resource)
                    .await?;
            if !v.engine.effective_admin(&caller.principal) {
                let err = AppError::with_message(
                    ErrorCode::Forbidden,
                    "Only administrators may list every replication job; name a guest with ?vmid=",
                );
                ops.audit
                    .refused(&caller.actor, AuditAction::ViewReplication, &resource, &err);
                return Err(err);
            }
            resource
        }
    };
    let jobs: Vec<Value> = ops.pve.get("cluster/replication").await?;
    let jobs: Vec<Value> = jobs
        .into_iter()
        .filter(|j| {
            vmid.is_none_or(|v| j.get("guest").and_then(Value::as_u64) == Some(u64::from(v.0)))
        })
        .collect();
    ops.audit.record(
        &caller.actor,
        AuditAction::ViewReplication,
        &resource,
        Status::Success,
        json!({ "count": jobs.len() }),
    );
    Ok(Value::Array(jobs))
}

/// Body of a replication job creation.
#[derive(Debug, Deserialize)]
pub struct ReplicationCreate {
    /// The guest.
    #[serde(default)]
    pub vmid: Value,
    /// The node to replicate to.
    #[serde(default)]
    pub target: Option<String>,
    /// A calendar event (default `*/15`).
    #[serde(default)]
    pub schedule: Option<String>,
    /// MB/s (default 10).
    #[serde(default)]
    pub rate: Option<Value>,
    /// A description.
    #[serde(default)]
    pub comment: Option<String>,
}

/// Creates a replication job `<vmid>-<n>` of a guest to another node.
pub async fn create(ops: &Ops, caller: &Caller, input: ReplicationCreate) -> AppResult<Value> {
    let vmid = vmid_of("vmid", &input.vmid)?;
    let target = Node::parse(
        "target",
        input.target.as_deref().map(str::trim).unwrap_or_default(),
    )?;
    let schedule = input
        .schedule
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or(DEFAULT_SCHEDULE)
        .to_owned();
    if !calendar_event_ok(&schedule) {
        return Err(AppError::field(
            "schedule",
            "a calendar event such as */15, hourly, 22:30 or mon..fri 02:00",
        ));
    }
    let rate = match input.rate.as_ref().filter(|r| !r.is_null()) {
        Some(r) => rate_of(r)?,
        None => DEFAULT_RATE,
    };
    let comment = input
        .comment
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned);
    if comment
        .as_deref()
        .is_some_and(|c| c.len() > 4096 || c.chars().any(char::is_control))
    {
        return Err(AppError::field(
            "comment",
            "one line of at most 4096 characters",
        ));
    }
    let resource = format!("vm:{vmid}");
    limit(
        ops,
        caller,
        Preset::VmConfig,
        AuditAction::ReplicationCreate,
        &resource,
    )
    .await?;
    let (g, v) = guest(
        ops,
        caller,
        vmid,
        GuestAction::Replicate,
        AuditAction::ReplicationCreate,
    )
    .await?;
    let details = json!({ "target": target, "schedule": schedule, "rate": rate, "node": g.node() });
    ops.audit
        .audited(
            &caller.actor,
            AuditAction::ReplicationCreate,
            &resource,
            details,
            async {
                if !v.resources.iter().any(|r| {
                    r.kind == ResourceKind::Node && r.node.as_deref() == Some(target.as_str())
                }) {
                    return Err(AppError::field(
                        "target",
                        format!("there is no node {target}"),
                    ));
                }
                if target == *g.node() {
                    return Err(AppError::field(
                        "target",
                        format!(
                            "{} {vmid} already runs on {target}; pick another node",
                            g.kind().noun()
                        ),
                    ));
                }
                let jobs: Vec<Value> = ops.pve.get("cluster/replication").await?;
                let mine: Vec<&Value> = jobs
                    .iter()
                    .filter(|j| j.get("guest").and_then(Value::as_u64) == Some(u64::from(vmid.0)))
                    .collect();
                if mine
                    .iter()
                    .any(|j| j.get("target").and_then(Value::as_str) == Some(target.as_str()))
                {
                    return Err(AppError::with_message(
                        ErrorCode::Conflict,
                        format!("{} {vmid} already replicates to {target}", g.kind().noun()),
                    ));
                }
                let n = mine
                    .iter()
                    .filter_map(|j| {
                        j.get("jobnum").and_then(Value::as_u64).or_else(|| {
                            j.get("id")
                                .and_then(Value::as_str)
                                .and_then(|id| id.split_once('-'))
                                .and_then(|(_, n)| n.parse().ok())
                        })
                    })
                    .max()
                    .map_or(0, |m| m + 1);
                let id = ReplId::parse("id", &format!("{vmid}-{n}"))?;
                let mut form = vec![
                    ("id", id.to_string()),
                    ("type", "local".to_owned()),
                    ("target", target.to_string()),
                    ("schedule", schedule.clone()),
                    ("rate", rate.to_string()),
                ];
                if let Some(c) = &comment {
                    form.push(("comment", c.clone()));
                }
                let _: Value = ops.pve.post("cluster/replication", &form).await?;
                ops.acl.invalidate();
                Ok((json!({ "success": true, "id": id }), json!({ "id": id })))
            },
        )
        .await
}

/// Deletes a replication job; permission is checked on the guest its id names.
pub async fn delete(ops: &Ops, caller: &Caller, id: &str) -> AppResult<Value> {
    let id = ReplId::parse("id", id.trim())?;
    let (guest_part, _) = id.as_str().split_once('-').unwrap_or_default();
    let vmid = Vmid::parse("id", guest_part)?;
    let resource = format!("vm:{vmid}");
    limit(
        ops,
        caller,
        Preset::VmConfig,
        AuditAction::ReplicationDelete,
        &resource,
    )
    .await?;
    guest(
        ops,
        caller,
        vmid,
        GuestAction::Replicate,
        AuditAction::ReplicationDelete,
    )
    .await?;
    ops.audit
        .audited(
            &caller.actor,
            AuditAction::ReplicationDelete,
            &resource,
            json!({ "id": id }),
            async {
                let _: Value = ops
                    .pve
                    .delete(ApiPath::lit("cluster/replication").seg(&id), &[])
                    .await?;
                ops.acl.invalidate();
                Ok((json!({ "success": true }), Value::Null))
            },
        )
        .await
}

#[cfg(test)]
mod tests {
    use super::calendar_event_ok;

    #[test]
    fn calendar_events() {
        for ok in [
            "*/15",
            "15",
            "daily",
            "Hourly",
            "22:30",
            "*/2:00",
            "mon..fri 22:00",
            "sat 2:30",
            "mon,wed,fri 8..17:00/30",
            "*-*-01 03:00",
            "2030-12-24 18:00:00",
            "12-24",
            "sun",
        ] {
            assert!(calendar_event_ok(ok), "{ok}");
        }
        for bad in [
            "",
            "*/0",
            "61",
            "24:00",
            "mon..fry 2:00",
            "every day",
            "*/15; rm -rf /",
            "../x",
            "2:00 mon",
            "13-01",
            "1:2:3:4",
            "5..3",
        ] {
            assert!(!calendar_event_ok(bad), "{bad}");
        }
    }
}
