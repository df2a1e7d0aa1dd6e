//! The audit log: the admin audit-log API over real HTTP on SQLite and on MariaDB (filters,
//! paging, stats and suggestions), and rows that survive their database: with MariaDB stopped
//! for 10 s in the middle of 200 actions, every row is there once it returns.

use std::time::Duration;

use serde_json::{json, Value};
use uma::store::audit::{AuditQuery, NewAudit};
use uma::store::now_ms;

use crate::support::admin::{assert_field_error, audit_rows, json_of, Env};
use crate::support::browser::Browser;

use crate::support::mariadb::OwnMariaDb;
use crate::support::{eventually, TestApp};

#[tokio::test]
async fn no_audit_row_is_lost_while_mariadb_is_down() {
    let mut db = OwnMariaDb::start().await;
    let url = db.database("uma_audit").await;
    let app = TestApp::demo("audit-outage")
        .var("DATABASE_URL", url.clone())
        // Sessions are read from Redis while the database is away.
        .var("REDIS_URL", "redis://127.0.0.1:6379")
        .start()
        .await;
    let (auditor, _) = app.session_as("auditor", &[], true).await;
    // The session record reaches the Redis cache on first use.
    assert_eq!(auditor.get("/api/auth").await.status(), 200);

    let act = |n: usize| {
        let auditor = &auditor;
        async move {
            let resp = auditor.get("/api/proxmox/resources?type=pool").await;
            assert_eq!(resp.status(), 200, "action {n}");
        }
    };
    for n in 0..50 {
        act(n).await;
    }
    db.stop();
    let down_since = tokio::time::Instant::now();
    let mut n = 50;
    while down_since.elapsed() < Duration::from_secs(10) {
        if n < 150 {
            act(n).await;
            n += 1;
        }
        tokio::time::sleep(Duration::from_millis(80)).await;
    }
    assert_eq!(n, 150, "100 actions while the database was down");
    db.run().await;
    for n in 150..200 {
        act(n).await;
    }
    // Rows reach the database once it answers again.
    eventually(
        Duration::from_secs(30),
        "200 audit rows after MariaDB returned",
        || async {
            app.flush_audit().await;
            let store = app.store().await;
            let rows = store
                .list_audit(
                    &uma::store::audit::AuditFilter {
                        username: Some("auditor".into()),
                        action: Some("VIEW_RESOURCES".into()),
                        ..Default::default()
                    },
                    1000,
                    0,
                )
                .await
                .unwrap();
            store.close().await;
            rows.len() == 200
        },
    )
    .await;
    app.stop().await.unwrap();
}

/// Rows with known users, actions, statuses and times.
async fn seed_audit(env: &Env, now: i64) {
    let row = |user: &str, action: &str, resource: &str, status: &str, op: &str| NewAudit {
        username: user.into(),
        action: action.into(),
        resource: resource.into(),
        details: json!({ "seed": op }),
        status: status.into(),
        op_id: Some(op.into()),
        ..Default::default()
    };
    let rows = [
        row("alice", "LOGIN", "auth:session", "SUCCESS", "seed-1"),
        row("alice", "VM_START", "vm:100", "FAILURE", "seed-2"),
        row("bob", "VM_START", "vm:110", "SUCCESS", "seed-3"),
        row("bob", "VM_STOP", "vm:110", "SUCCESS", "seed-4"),
        row("Bobby", "VM_STOP", "vm:111", "WARNING", "seed-5"),
        row("carol", "LOGIN", "auth:session", "FAILURE", "seed-6"),
    ];
    let store = env.app.store().await;
    store.insert_audit_rows(&rows).await.unwrap();
    store.close().await;
    let day = |d: &str| uma::http::admin::parse_instant(d, false).unwrap();
    env.backdate("seed-1", day("2024-03-01T10:00:00Z")).await;
    env.backdate("seed-2", day("2024-03-02T11:00:00Z")).await;
    env.backdate("seed-3", day("2024-03-03T12:00:00Z")).await;
    env.backdate("seed-4", day("2024-03-03T13:00:00Z")).await;
    env.backdate("seed-5", now - 3_600_000).await;
    env.backdate("seed-6", now - 1_000).await;
}

async fn audit_flow(env: &Env) {
    let (admin, _) = env.login("admin").await;
    let now = now_ms();
    seed_audit(env, now).await;
    env.app.flush_audit().await;

    // Stats first, before more users sign in.
    let store = env.app.store().await;
    let (_, total) = store
        .search_audit(&AuditQuery::default(), 1, 0)
        .await
        .unwrap();
    let midnight = now - now.rem_euclid(86_400_000);
    let (_, failures_today) = store
        .search_audit(
            &AuditQuery {
                status: Some("FAILURE".into()),
                from: Some(midnight),
                ..Default::default()
            },
            1,
            0,
        )
        .await
        .unwrap();
    let (_, last_day) = store
        .search_audit(
            &AuditQuery {
                from: Some(now - 86_400_000),
                ..Default::default()
            },
            1,
            0,
        )
        .await
        .unwrap();
    store.close().await;
    let (status, stats) = json_of(admin.get("/api/admin/audit-logs/stats").await).await;
    assert_eq!(status, 200, "{stats}");
    let s = &stats["summary"];
    assert_eq!(s["totalEvents"], total);
    let (ok, failed, warned) = (
        s["successCount"].as_i64().unwrap(),
        s["failureCount"].as_i64().unwrap(),
        s["warningCount"].as_i64().unwrap(),
    );
    assert_eq!(ok + failed + warned, total);
    assert_eq!((failed, warned), (2, 1), "{stats}");
    let rate = s["successRate"].as_f64().unwrap();
    assert_eq!(
        rate,
        (ok as f64 / total as f64 * 1000.0).round() / 10.0,
        "{stats}"
    );
    assert_eq!(s["failuresToday"], failures_today);
    assert_eq!(
        s["uniqueUsers"], 3,
        "admin, Bobby and carol this week: {stats}"
    );
    let breakdown = stats["actionBreakdown"].as_array().unwrap();
    assert!(breakdown.len() <= 10);
    assert!(breakdown
        .windows(2)
        .all(|w| w[0]["count"].as_i64() >= w[1]["count"].as_i64()));
    let vm_start = breakdown
        .iter()
        .find(|b| b["action"] == "VM_START")
        .unwrap();
    assert_eq!(vm_start["count"], 2);
    let pct = (2.0 / total as f64 * 1000.0).round() / 10.0;
    assert_eq!(vm_start["percentage"], format!("{pct:.1}"));
    let alerts: Vec<(&str, &str)> = stats["recentAlerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["username"].as_str().unwrap(),
                a["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(alerts, [("carol", "FAILURE"), ("Bobby", "WARNING")]);
    let hourly = stats["hourlyActivity"].as_array().unwrap();
    let labels: Vec<&str> = hourly.iter().map(|h| h["hour"].as_str().unwrap()).collect();
    let mut sorted = labels.clone();
    sorted.sort_unstable();
    assert_eq!(labels, sorted, "oldest hour first");
    assert!(labels
        .iter()
        .all(|l| l.len() == 19 && l.ends_with(":00:00") && &l[10..11] == " "));
    assert_eq!(
        hourly
            .iter()
            .map(|h| h["count"].as_i64().unwrap())
            .sum::<i64>(),
        last_day
    );

    // Filters.
    let logs = |query: &str| {
        let admin = &admin;
        let query = query.to_owned();
        async move {
            let (status, body) =
                json_of(admin.get(&format!("/api/admin/audit-logs{query}")).await).await;
            assert_eq!(status, 200, "{query}: {body}");
            body
        }
    };
    let users = |body: &Value| -> Vec<String> {
        body["logs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["username"].as_str().unwrap().to_owned())
            .collect()
    };
    let total_of = |body: &Value| body["pagination"]["total"].as_i64().unwrap();
    assert_eq!(total_of(&logs("?username=ALI").await), 2);
    assert_eq!(total_of(&logs("?userId=bob").await), 3, "bob and Bobby");
    assert_eq!(total_of(&logs("?action=VM_START").await), 2);
    assert_eq!(total_of(&logs("?action=VM_").await), 0, "action is exact");
    assert_eq!(total_of(&logs("?resource=vm%3A11").await), 3);
    assert_eq!(total_of(&logs("?status=failure&username=a").await), 2);
    assert_eq!(
        total_of(&logs("?username=alice&startDate=2024-03-02").await),
        1
    );
    assert_eq!(
        total_of(&logs("?username=alice&endDate=2024-03-02").await),
        2,
        "a date-only end includes its whole day"
    );
    assert_eq!(
        total_of(&logs("?startDate=2024-03-02T11:00:00Z&endDate=2024-03-02T11:00:00.000Z").await),
        1
    );
    let window = "?startDate=2024-03-01&endDate=2024-03-03";
    let page1 = logs(&format!("{window}&limit=3")).await;
    assert_eq!(
        page1["pagination"],
        json!({ "total": 4, "pages": 2, "currentPage": 1, "limit": 3 })
    );
    assert_eq!(users(&page1), ["bob", "bob", "alice"], "newest first");
    assert_eq!(page1["logs"][0]["action"], "VM_STOP");
    assert_eq!(page1["logs"][0]["details"], json!({ "seed": "seed-4" }));
    let page2 = logs(&format!("{window}&limit=3&page=2")).await;
    assert_eq!(users(&page2), ["alice"]);
    assert_eq!(page2["logs"][0]["action"], "LOGIN");
    let page9 = logs(&format!("{window}&limit=3&page=9")).await;
    assert!(page9["logs"].as_array().unwrap().is_empty());
    let default = logs("").await;
    assert_eq!(default["pagination"]["limit"], 50);

    // Bad parameters are named.
    for (query, field) in [
        ("?startDate=2024-13-01", "startDate"),
        ("?endDate=yesterday", "endDate"),
        ("?startDate=2024-03-03&endDate=2024-03-01", "startDate"),
        ("?limit=0", "limit"),
        ("?limit=201", "limit"),
        ("?limit=-5", "limit"),
        ("?page=0", "page"),
        ("?page=two", "page"),
        ("?status=BROKEN", "status"),
    ] {
        assert_field_error(
            admin.get(&format!("/api/admin/audit-logs{query}")).await,
            field,
        )
        .await;
    }

    // Suggestions.
    let (status, s) = json_of(
        admin
            .get("/api/admin/audit-logs/suggestions?type=users&q=BO")
            .await,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(s, json!({ "suggestions": ["bob", "Bobby"] }));
    let (_, s) = json_of(
        admin
            .get("/api/admin/audit-logs/suggestions?type=actions&q=vm_")
            .await,
    )
    .await;
    assert_eq!(
        s,
        json!({ "suggestions": [{ "action": "VM_START", "count": 2 }, { "action": "VM_STOP", "count": 2 }] })
    );
    let (_, s) = json_of(admin.get("/api/admin/audit-logs/suggestions?q=carol").await).await;
    assert_eq!(s["users"], json!(["carol"]));
    assert_eq!(s["actions"], json!([]));
    let (_, s) = json_of(admin.get("/api/admin/audit-logs/suggestions").await).await;
    assert!(s["users"].as_array().unwrap().len() >= 5);
    assert!(s["actions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["action"] == "LOGIN"));
    assert_field_error(
        admin
            .get("/api/admin/audit-logs/suggestions?type=groups")
            .await,
        "type",
    )
    .await;

    // Exports: the filtered set, whole, as CSV (spreadsheet-safe) or JSON Lines.
    let resp = admin
        .get("/api/admin/audit-logs/export?action=VM_START&startDate=2024-03-01&endDate=2024-03-31")
        .await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    assert!(resp.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment; filename=\"uma-audit-"));
    let csv = resp.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "createdAt,username,action,resource,status,ipAddress,userAgent,opId,details,id"
    );
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(
        lines[1].starts_with("2024-03-03T12:00:00.000Z,bob,VM_START,vm:110,SUCCESS,"),
        "{csv}"
    );
    assert!(
        lines[1].contains(",\"{\"\"seed\"\":\"\"seed-3\"\"}\","),
        "{csv}"
    );
    assert!(lines[2].starts_with("2024-03-02T11:00:00.000Z,alice,VM_START,vm:100,FAILURE,"));
    let resp = admin
        .get("/api/admin/audit-logs/export?format=jsonl&username=bob")
        .await;
    assert_eq!(resp.headers()["content-type"], "application/x-ndjson");
    let text = resp.text().await.unwrap();
    let rows: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        rows.len() >= 3
            && rows.iter().all(|r| r["username"]
                .as_str()
                .unwrap()
                .to_lowercase()
                .contains("bob"))
    );
    // More rows than one batch, while rows are being added: each exactly once.
    let many: Vec<NewAudit> = (0..1203)
        .map(|i| NewAudit {
            username: "exporter".into(),
            action: "LOGIN".into(),
            resource: format!("=HYPERLINK(\"x\",{i})"),
            details: json!({}),
            status: "SUCCESS".into(),
            ..Default::default()
        })
        .collect();
    let store = env.app.store().await;
    store.insert_audit_rows(&many).await.unwrap();
    store.close().await;
    let csv = admin
        .get("/api/admin/audit-logs/export?username=exporter")
        .await
        .text()
        .await
        .unwrap();
    let ids: std::collections::HashSet<&str> = csv
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().unwrap())
        .collect();
    assert_eq!(ids.len(), 1203);
    assert_eq!(csv.lines().count(), 1204);
    assert!(
        csv.lines()
            .nth(1)
            .unwrap()
            .contains(",\"'=HYPERLINK(\"\"x\"\","),
        "a formula escaped"
    );
    assert_field_error(
        admin.get("/api/admin/audit-logs/export?format=xlsx").await,
        "format",
    )
    .await;
    assert_field_error(
        admin.get("/api/admin/audit-logs/export?status=BAD").await,
        "status",
    )
    .await;

    // The live tail: an administrator's socket gets each batch as it is stored.
    let base = env.app.url("");
    let tail = match crate::support::sio::PollingSocket::connect(
        &base,
        &admin.cookie_header(),
        Some(&base),
    )
    .await
    {
        crate::support::sio::Connect::Ok(s) => s,
        crate::support::sio::Connect::Refused(m) => panic!("socket refused: {m}"),
    };
    let ack = tail
        .emit_ack("audit:watch", json!({}), Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(ack["watching"], true, "{ack}");
    let store = env.app.store().await;
    store.close().await;
    admin.get("/api/admin/audit-logs?action=TAIL_PROBE").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let mut seen = false;
    while !seen && std::time::Instant::now() < deadline {
        if let Some(batch) = tail.wait_event("audit:new", Duration::from_secs(5)).await {
            seen = batch["rows"].as_array().unwrap().iter().any(|r| {
                r["action"] == "VIEW_AUDIT_LOGS"
                    && r["details"]["filters"]["action"] == "TAIL_PROBE"
            });
        }
    }
    assert!(seen, "the tail showed the new row");

    // Admins only; every read is audited.
    let (alice, _) = env.login("alice").await;
    for path in [
        "/api/admin/audit-logs",
        "/api/admin/audit-logs/stats",
        "/api/admin/audit-logs/suggestions",
        "/api/admin/audit-logs/export",
    ] {
        assert_eq!(alice.get(path).await.status(), 403, "{path}");
        assert_eq!(Browser::new(&env.app.url("")).get(path).await.status(), 401);
    }
    for (action, resource) in [
        ("VIEW_AUDIT_LOGS", "admin:audit-logs"),
        ("VIEW_AUDIT_STATS", "admin:audit-logs:stats"),
        ("VIEW_AUDIT_SUGGESTIONS", "admin:audit-logs:suggestions"),
        ("AUDIT_EXPORT", "admin:audit-logs"),
    ] {
        let rows = audit_rows(env, action).await;
        assert!(
            rows.iter()
                .any(|r| r.username == "admin" && r.resource == resource),
            "{action}: {rows:?}"
        );
    }
    let views = audit_rows(env, "VIEW_AUDIT_LOGS").await;
    assert!(views
        .iter()
        .any(|r| r.details.contains("\"username\":\"ALI\"")));
}

/// Someone with the database edits a row, then removes it: the API and `uma audit verify` name
/// the row each time.
async fn chain_flow(env: &Env) {
    let (admin, _) = env.login("admin").await;
    for _ in 0..3 {
        assert_eq!(admin.get("/api/admin/audit-logs").await.status(), 200);
    }
    env.app.flush_audit().await;
    let verify = || async {
        let (s, r) = json_of(admin.get("/api/admin/audit-logs/verify").await).await;
        assert_eq!(s, 200, "{r}");
        r
    };
    let r = verify().await;
    assert!(r["broken"].is_null(), "{r}");
    assert!(r["checked"].as_u64().unwrap() >= 4, "{r}");
    let vars = env.app.cli_vars();
    let (code, out, err) = crate::support::run_uma(&["audit", "verify"], &vars, None);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("audit chain intact"), "{out}");
    let (code, out, _) =
        crate::support::run_uma(&["audit", "prune", "--before", "2000-01-01"], &vars, None);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("0 audit rows"), "{out}");
    let (code, _, err) =
        crate::support::run_uma(&["audit", "prune", "--before", "last week"], &vars, None);
    assert_eq!(code, 1);
    assert!(err.contains("--before"), "{err}");

    env.exec("UPDATE audit_logs SET resource = 'vm:999' WHERE chain_seq = 3")
        .await;
    let r = verify().await;
    assert_eq!(r["broken"]["seq"], 3, "{r}");
    assert!(
        r["broken"]["reason"].as_str().unwrap().contains("changed"),
        "{r}"
    );
    let id = r["broken"]["id"].as_str().unwrap().to_owned();
    let (code, out, _) = crate::support::run_uma(&["audit", "verify"], &vars, None);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("broken at #3") && out.contains(&id), "{out}");

    env.exec("DELETE FROM audit_logs WHERE chain_seq = 3").await;
    let r = verify().await;
    assert_eq!(r["broken"]["seq"], 3, "{r}");
    assert!(
        r["broken"]["reason"].as_str().unwrap().contains("missing"),
        "{r}"
    );
    env.app.flush_audit().await;
    let rows = audit_rows(env, "AUDIT_VERIFY").await;
    assert!(rows.iter().any(|r| r.status == "WARNING"), "{rows:?}");
    assert!(rows.iter().any(|r| r.status == "SUCCESS"), "{rows:?}");
    let (alice, _) = env.login("alice").await;
    assert_eq!(
        alice.get("/api/admin/audit-logs/verify").await.status(),
        403
    );
}

#[tokio::test]
async fn audit_chain_on_sqlite() {
    let env = Env::start(false).await;
    chain_flow(&env).await;
    env.done().await;
}

#[tokio::test]
async fn audit_chain_on_mariadb() {
    let env = Env::start(true).await;
    chain_flow(&env).await;
    env.done().await;
}

#[tokio::test]
async fn audit_logs_on_sqlite() {
    let env = Env::start(false).await;
    audit_flow(&env).await;
    env.done().await;
}

#[tokio::test]
async fn audit_logs_on_mariadb() {
    let env = Env::start(true).await;
    audit_flow(&env).await;
    env.done().await;
}
