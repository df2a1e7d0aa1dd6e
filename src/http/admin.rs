//! The audit log for admins: `GET /api/admin/audit-logs` (filtered, paged),
//! `GET /api/admin/audit-logs/stats`, `GET /api/admin/audit-logs/suggestions` and
//! `GET /api/admin/audit-logs/export?format=csv|jsonl` (the filtered set, streamed). Every query
//! parameter is checked and named when wrong; each read is itself audited.

use std::collections::HashMap;

use axum::extract::{RawQuery, State};
use axum::routing::get;
use axum::{Extension, Json, Router};
use futures::StreamExt;
use serde_json::{json, Value};

use crate::audit::AuditAction;
use crate::audit::Status;
use crate::auth::caller::actor;
use crate::auth::client::ClientInfo;
use crate::auth::session::CurrentSession;
use crate::error::{AppError, AppResult};
use crate::http::input::RecentFactor;
use crate::services::Ops;
use crate::state::AppState;
use crate::store::audit::{AuditQuery, AuditRow, StatsWindows};
use crate::store::now_ms;

const DAY_MS: i64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;
/// Page size when none is asked for.
const DEFAULT_LIMIT: i64 = 50;
/// Largest page size.
const MAX_LIMIT: i64 = 200;
/// Highest page number accepted.
const MAX_PAGE: i64 = 1_000_000;
/// Longest text filter, in characters.
const FILTER_MAX: usize = 191;
/// Longest suggestion prefix, in characters.
const SUGGEST_MAX: usize = 64;
/// Statuses a row can have.
const STATUSES: &[&str] = &["SUCCESS", "FAILURE", "WARNING"];

/// Admin routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/admin/audit-logs", get(logs))
        .route("/api/admin/audit-logs/stats", get(stats))
        .route("/api/admin/audit-logs/suggestions", get(suggestions))
        .route("/api/admin/audit-logs/export", get(export))
        .route("/api/admin/audit-logs/verify", get(verify))
}

/// Walks the audit chain: `{checked, from, head, broken: {seq, id?, reason} | null}`.
async fn verify(
    State(state): State<AppState>,
    Extension(session): Extension<CurrentSession>,
    client: ClientInfo,
) -> AppResult<Json<Value>> {
    let report = state.store.verify_audit_chain().await?;
    state.audit.record(
        &actor(&session, &client),
        AuditAction::AuditVerify,
        "admin:audit-logs",
        if report.broken.is_some() {
            Status::Warning
        } else {
            Status::Success
        },
        json!({ "checked": report.checked, "head": report.head, "broken": report.broken }),
    );
    Ok(Json(serde_json::to_value(report).unwrap_or_default()))
}

/// Rows read per batch of an export.
const EXPORT_BATCH: i64 = 500;

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` of an instant.
pub fn iso_ms(ms: i64) -> String {
    let (y, m, d) = civil_from_days(ms.div_euclid(DAY_MS));
    let t = ms.rem_euclid(DAY_MS);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        t / HOUR_MS,
        t % HOUR_MS / 60_000,
        t % 60_000 / 1000,
        t % 1000
    )
}

/// One CSV cell: quoted when it must be, and never a formula a spreadsheet would run.
fn csv_cell(raw: &str) -> String {
    let guarded = if raw.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{raw}")
    } else {
        raw.to_owned()
    };
    if guarded.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

const CSV_HEADER: &str =
    "createdAt,username,action,resource,status,ipAddress,userAgent,opId,details,id\r\n";

fn csv_line(r: &AuditRow) -> String {
    let cells = [
        iso_ms(r.created_at),
        r.username.clone(),
        r.action.clone(),
        r.resource.clone(),
        r.status.clone(),
        r.ip_address.clone().unwrap_or_default(),
        r.user_agent.clone().unwrap_or_default(),
        r.op_id.clone().unwrap_or_default(),
        r.details.clone(),
        r.id.clone(),
    ];
    let mut line = cells
        .iter()
        .map(|c| csv_cell(c))
        .collect::<Vec<_>>()
        .join(",");
    line.push_str("\r\n");
    line
}

/// The filtered set as CSV or JSON Lines, newest first, streamed in batches (a stable walk:
/// rows added meanwhile are not repeated or skipped).
async fn export(
    State(state): State<Ops>,
    Extension(session): Extension<CurrentSession>,
    client: ClientInfo,
    _: RecentFactor,
    RawQuery(raw): RawQuery,
) -> AppResult<axum::response::Response> {
    use axum::http::header;
    use axum::response::IntoResponse;
    let p = params(raw);
    let csv = match text(&p, "format").unwrap_or("csv") {
        "csv" => true,
        "jsonl" => false,
        _ => return Err(AppError::field("format", "must be csv or jsonl")),
    };
    let q = audit_query(&p)?;
    state.audit.record(
        &actor(&session, &client),
        AuditAction::AuditExport,
        "admin:audit-logs",
        Status::Success,
        json!({
            "format": if csv { "csv" } else { "jsonl" },
            "filters": {
                "username": q.username, "action": q.action, "resource": q.resource,
                "status": q.status, "from": q.from, "to": q.to,
            },
        }),
    );
    let store = state.store.clone();
    // (cursor, finished); the header goes first.
    let first = csv.then(|| bytes::Bytes::from_static(CSV_HEADER.as_bytes()));
    let batches = futures::stream::unfold((None::<(i64, String)>, false), move |(cursor, done)| {
        let store = store.clone();
        let q = q.clone();
        async move {
            if done {
                return None;
            }
            let rows = match store
                .audit_batch(
                    &q,
                    cursor.as_ref().map(|(at, id)| (*at, id.as_str())),
                    EXPORT_BATCH,
                )
                .await
            {
                Ok(rows) => rows,
                Err(e) => {
                    // The download ends short; the log says why.
                    tracing::warn!(error = %e, "audit export stopped");
                    return Some((
                        Err(std::io::Error::other("audit export stopped")),
                        (None, true),
                    ));
                }
            };
            let last = rows.len() < EXPORT_BATCH as usize;
            let next = rows.last().map(|r| (r.created_at, r.id.clone()));
            if rows.is_empty() {
                return None;
            }
            let mut out = String::new();
            for r in &rows {
                if csv {
                    out.push_str(&csv_line(r));
                } else {
                    out.push_str(&row_json(r).to_string());
                    out.push('\n');
                }
            }
            Some((Ok(bytes::Bytes::from(out)), (next, last)))
        }
    });
    let body = futures::stream::iter(first.map(Ok)).chain(batches);
    let stamp = iso_ms(now_ms());
    let stamp: String = stamp[..16].chars().filter(|c| c.is_ascii_digit()).collect();
    let (kind, ext) = if csv {
        ("text/csv; charset=utf-8", "csv")
    } else {
        ("application/x-ndjson", "jsonl")
    };
    Ok((
        [
            (header::CONTENT_TYPE, kind.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"uma-audit-{stamp}.{ext}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        axum::body::Body::from_stream(body),
    )
        .into_response())
}

/// Query parameters by name (the last one wins when repeated).
fn params(raw: Option<String>) -> HashMap<String, String> {
    url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

/// A parameter, trimmed; empty counts as absent.
fn text<'a>(p: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    p.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
}

fn integer(p: &HashMap<String, String>, name: &str, min: i64, max: i64) -> AppResult<Option<i64>> {
    let Some(raw) = text(p, name) else {
        return Ok(None);
    };
    raw.parse::<i64>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .map(Some)
        .ok_or_else(|| AppError::field(name, format!("must be a whole number from {min} to {max}")))
}

fn filter(p: &HashMap<String, String>, name: &str) -> AppResult<Option<String>> {
    match text(p, name) {
        Some(v) if v.chars().count() > FILTER_MAX => Err(AppError::field(
            name,
            format!("must be at most {FILTER_MAX} characters"),
        )),
        other => Ok(other.map(str::to_owned)),
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01, as `(year, month, day)`.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn digits(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Parses an instant: milliseconds since the epoch, `YYYY-MM-DD` (UTC midnight, or the day's last
/// millisecond when `end_of_day`), or `YYYY-MM-DDTHH:MM[:SS[.fff]]` with `Z`, `±HH:MM` or no
/// offset (UTC). `None` when it is none of these.
pub fn parse_instant(raw: &str, end_of_day: bool) -> Option<i64> {
    let s = raw.trim();
    if let Some(ms) = digits(s) {
        return Some(ms);
    }
    let date = s.get(..10)?;
    let (y, m, d) = (
        digits(date.get(..4)?)?,
        digits(date.get(5..7)?)?,
        digits(date.get(8..10)?)?,
    );
    if date.as_bytes()[4] != b'-' || date.as_bytes()[7] != b'-' {
        return None;
    }
    if !(1..=9999).contains(&y) || !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return None;
    }
    let day_start = days_from_civil(y, m, d) * DAY_MS;
    let rest = &s[10..];
    if rest.is_empty() {
        return Some(if end_of_day {
            day_start + DAY_MS - 1
        } else {
            day_start
        });
    }
    let rest = rest.strip_prefix(['T', 't', ' '])?;
    // Split off the offset.
    let (clock, offset_ms) = if let Some(c) = rest.strip_suffix(['Z', 'z']) {
        (c, 0)
    } else if let Some(pos) = rest.rfind(['+', '-']) {
        let (c, off) = rest.split_at(pos);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let off = off[1..].replace(':', "");
        if off.len() != 4 || !off.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let (oh, om) = (digits(&off[..2])?, digits(&off[2..])?);
        if oh > 23 || om > 59 {
            return None;
        }
        (c, sign * (oh * 60 + om) * 60_000)
    } else {
        (rest, 0)
    };
    let (hms, frac) = match clock.split_once('.') {
        Some((h, f)) => (h, Some(f)),
        None => (clock, None),
    };
    let mut parts = hms.split(':');
    let h = digits(parts.next()?).filter(|_| hms.len() >= 5)?;
    let mi = digits(parts.next()?)?;
    let sec = match parts.next() {
        Some(s) => digits(s)?,
        None => 0,
    };
    if parts.next().is_some() || h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    let ms = match frac {
        None => 0,
        Some(f) if !f.is_empty() && f.len() <= 9 && f.bytes().all(|b| b.is_ascii_digit()) => {
            let padded = format!("{f:0<3}");
            digits(&padded[..3])?
        }
        Some(_) => return None,
    };
    Some(day_start + ((h * 60 + mi) * 60 + sec) * 1000 + ms - offset_ms)
}

fn instant(p: &HashMap<String, String>, name: &str, end_of_day: bool) -> AppResult<Option<i64>> {
    match text(p, name) {
        None => Ok(None),
        Some(raw) => parse_instant(raw, end_of_day).map(Some).ok_or_else(|| {
            AppError::field(
                name,
                "must be a date (YYYY-MM-DD), a date and time (YYYY-MM-DDTHH:MM:SSZ) or milliseconds since 1970",
            )
        }),
    }
}

/// `YYYY-MM-DD HH:00:00` (UTC) of an instant.
pub fn hour_label(ms: i64) -> String {
    let (y, m, d) = civil_from_days(ms.div_euclid(DAY_MS));
    let hour = ms.rem_euclid(DAY_MS) / HOUR_MS;
    format!("{y:04}-{m:02}-{d:02} {hour:02}:00:00")
}

fn row_json(r: &AuditRow) -> Value {
    r.to_json()
}

/// The filters of `GET /api/admin/audit-logs`, checked.
fn audit_query(p: &HashMap<String, String>) -> AppResult<AuditQuery> {
    // `userId` is the original's name for the username filter.
    let username = match filter(p, "username")? {
        Some(u) => Some(u),
        None => filter(p, "userId")?,
    };
    let status = match text(p, "status") {
        None => None,
        Some(s) => {
            let upper = s.to_ascii_uppercase();
            if !STATUSES.contains(&upper.as_str()) {
                return Err(AppError::field(
                    "status",
                    format!("must be one of {}", STATUSES.join(", ")),
                ));
            }
            Some(upper)
        }
    };
    let from = instant(p, "startDate", false)?;
    let to = instant(p, "endDate", true)?;
    if let (Some(f), Some(t)) = (from, to) {
        if f > t {
            return Err(AppError::field("startDate", "must not be after endDate"));
        }
    }
    Ok(AuditQuery {
        username,
        action: filter(p, "action")?,
        resource: filter(p, "resource")?,
        status,
        from,
        to,
    })
}

async fn logs(
    State(state): State<Ops>,
    Extension(session): Extension<CurrentSession>,
    client: ClientInfo,
    RawQuery(raw): RawQuery,
) -> AppResult<Json<Value>> {
    let p = params(raw);
    let page = integer(&p, "page", 1, MAX_PAGE)?.unwrap_or(1);
    let limit = integer(&p, "limit", 1, MAX_LIMIT)?.unwrap_or(DEFAULT_LIMIT);
    let q = audit_query(&p)?;
    let (rows, total) = state
        .store
        .search_audit(&q, limit, (page - 1) * limit)
        .await?;
    state.audit.record(
        &actor(&session, &client),
        AuditAction::ViewAuditLogs,
        "admin:audit-logs",
        Status::Success,
        json!({
            "page": page,
            "limit": limit,
            "total": total,
            "filters": {
                "username": q.username, "action": q.action, "resource": q.resource,
                "status": q.status, "from": q.from, "to": q.to,
            },
        }),
    );
    Ok(Json(json!({
        "logs": rows.iter().map(row_json).collect::<Vec<_>>(),
        "pagination": {
            "total": total,
            "pages": (total + limit - 1) / limit,
            "currentPage": page,
            "limit": limit,
        },
    })))
}

/// `part` of `whole` as a percentage with one decimal.
fn percent(part: i64, whole: i64) -> f64 {
    if whole == 0 {
        return 0.0;
    }
    // Counts stay far below 2^52, so the conversions are exact.
    #[allow(clippy::cast_precision_loss)]
    let ratio = part as f64 / whole as f64;
    (ratio * 1000.0).round() / 10.0
}

async fn stats(
    State(state): State<Ops>,
    Extension(session): Extension<CurrentSession>,
    client: ClientInfo,
) -> AppResult<Json<Value>> {
    let now = now_ms();
    let s = state
        .store
        .audit_stats(StatsWindows {
            failures_since: now - now.rem_euclid(DAY_MS),
            users_since: now - 7 * DAY_MS,
            recent_since: now - DAY_MS,
            alerts: 5,
            actions: 10,
        })
        .await?;
    let count = |status: &str| {
        s.by_status
            .iter()
            .find(|(st, _)| st == status)
            .map_or(0, |(_, n)| *n)
    };
    let success = count("SUCCESS");
    let summary = json!({
        "totalEvents": s.total,
        "successRate": if s.total == 0 { 100.0 } else { percent(success, s.total) },
        "successCount": success,
        "failureCount": count("FAILURE"),
        "warningCount": count("WARNING"),
        "failuresToday": s.failures_since,
        "uniqueUsers": s.unique_users,
    });
    let breakdown: Vec<Value> = s
        .top_actions
        .iter()
        .map(|(action, n)| {
            json!({ "action": action, "count": n, "percentage": format!("{:.1}", percent(*n, s.total)) })
        })
        .collect();
    let alerts: Vec<Value> = s
        .recent_alerts
        .iter()
        .map(|r| {
            json!({
                "id": r.id, "action": r.action, "username": r.username,
                "resource": r.resource, "status": r.status, "createdAt": r.created_at,
            })
        })
        .collect();
    let hourly: Vec<Value> = s
        .hourly
        .iter()
        .map(|(hour, n)| json!({ "hour": hour_label(*hour), "count": n }))
        .collect();
    state.audit.record(
        &actor(&session, &client),
        AuditAction::ViewAuditStats,
        "admin:audit-logs:stats",
        Status::Success,
        json!({ "totalEvents": s.total }),
    );
    Ok(Json(json!({
        "summary": summary,
        "actionBreakdown": breakdown,
        "recentAlerts": alerts,
        "hourlyActivity": hourly,
    })))
}

async fn suggestions(
    State(state): State<Ops>,
    Extension(session): Extension<CurrentSession>,
    client: ClientInfo,
    RawQuery(raw): RawQuery,
) -> AppResult<Json<Value>> {
    let p = params(raw);
    let kind = text(&p, "type").unwrap_or("all").to_ascii_lowercase();
    if !matches!(kind.as_str(), "all" | "users" | "actions") {
        return Err(AppError::field("type", "must be users, actions or all"));
    }
    let q: String = text(&p, "q")
        .unwrap_or("")
        .chars()
        .take(SUGGEST_MAX)
        .collect();
    state.audit.record(
        &actor(&session, &client),
        AuditAction::ViewAuditSuggestions,
        "admin:audit-logs:suggestions",
        Status::Success,
        json!({ "type": kind, "q": q }),
    );
    let users = || async {
        let rows = state.store.audit_user_suggestions(&q, 20).await?;
        AppResult::Ok(rows.into_iter().map(|(u, _)| u).collect::<Vec<_>>())
    };
    let actions = || async {
        let rows = state.store.audit_action_suggestions(&q, 30).await?;
        AppResult::Ok(
            rows.into_iter()
                .map(|(action, count)| json!({ "action": action, "count": count }))
                .collect::<Vec<_>>(),
        )
    };
    Ok(Json(match kind.as_str() {
        "users" => json!({ "suggestions": users().await? }),
        "actions" => json!({ "suggestions": actions().await? }),
        _ => json!({ "users": users().await?, "actions": actions().await? }),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_parse_in_every_accepted_form() {
        assert_eq!(parse_instant("1970-01-01", false), Some(0));
        assert_eq!(parse_instant("1970-01-01", true), Some(DAY_MS - 1));
        assert_eq!(parse_instant("2024-02-29", false), Some(1_709_164_800_000));
        assert_eq!(
            parse_instant("2024-02-29T12:30:15.5Z", false),
            Some(1_709_164_800_000 + 45_015_500)
        );
        assert_eq!(
            parse_instant("2024-02-29T14:30+02:00", false),
            Some(1_709_164_800_000 + 45_000_000)
        );
        assert_eq!(
            parse_instant("2024-02-29 12:30:00", true),
            Some(1_709_164_800_000 + 45_000_000)
        );
        assert_eq!(
            parse_instant("1709164800000", false),
            Some(1_709_164_800_000)
        );
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "2024-1-01",
            "yesterday",
            "2024-02-29T25:00Z",
            "2024-02-29T12:00+2",
            "-5",
            "2024-02-29T12",
        ] {
            assert_eq!(parse_instant(bad, false), None, "{bad}");
        }
    }

    #[test]
    fn hour_labels_and_dates_round_trip() {
        assert_eq!(hour_label(0), "1970-01-01 00:00:00");
        assert_eq!(
            hour_label(1_709_164_800_000 + 45_015_500),
            "2024-02-29 12:00:00"
        );
        for days in [-1000, 0, 59, 60, 11_016, 19_782, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(percent(1, 3), 33.3);
        assert_eq!(percent(2, 3), 66.7);
    }
}
