//! Hardware templates, global settings and the admin audit-log API over real HTTP, on SQLite and
//! on MariaDB: permissions (owner, other user, admin, `system` templates), field-by-field 400s,
//! the prebuilt templates (`uma init-templates` and demo start-up), settings round trips, audit
//! filters, paging, stats and suggestions, and `uma check-realms` against a stand-in cluster.

use std::collections::HashMap;
use std::process::Command;

use reqwest::Method;
use serde_json::{json, Value};
use sqlx::Connection;

use uma::config::{DatabaseConfig, Secret};
use uma::hardware_defaults::{self, Outcome};
use uma::store::audit::{AuditQuery, NewAudit};
use uma::store::{now_ms, Store};

use crate::support::browser::Browser;
use crate::support::db::{drop_mysql_database, fresh_mysql_database};
use crate::support::{demo_vars, spawn_with, temp_dir, TestApp};

const ADMIN_PW: &str = "admin-pass-123";

struct Env {
    app: TestApp,
    /// Where the server's database is, for the few rows a test back-dates.
    database: DatabaseConfig,
    mysql: Option<String>,
}

impl Env {
    async fn start(mariadb: bool) -> Env {
        let dir = temp_dir("admin");
        let mut vars: HashMap<String, String> = demo_vars(&dir);
        vars.insert("UMA_ADMIN_PASSWORD".into(), ADMIN_PW.into());
        vars.insert("USE_SECURE_COOKIE".into(), "false".into());
        vars.insert("ADMIN_GROUPS".into(), "uma-admins".into());
        vars.insert("MAX_VNETS_PER_USER".into(), "3".into());
        let (database, mysql) = if mariadb {
            let url = fresh_mysql_database().await;
            vars.insert("DATABASE_URL".into(), url.clone());
            (DatabaseConfig::MySql(Secret::new(url.clone())), Some(url))
        } else {
            (DatabaseConfig::Sqlite(dir.join("uma.db")), None)
        };
        let app = spawn_with(vars, dir).await;
        let store = app.store().await;
        for name in ["alice", "bob", "carol"] {
            uma::bootstrap::set_local_password(&store, name, &format!("{name}-pass-123"), false)
                .await
                .unwrap();
        }
        store.close().await;
        Env {
            app,
            database,
            mysql,
        }
    }

    /// A signed-in browser and its CSRF token.
    async fn login(&self, name: &str) -> (Browser, String) {
        let b = Browser::new(&self.app.url(""));
        let pw = if name == "admin" {
            ADMIN_PW.to_owned()
        } else {
            format!("{name}-pass-123")
        };
        let csrf = b.login(name, &pw).await["csrfToken"]
            .as_str()
            .unwrap()
            .to_owned();
        (b, csrf)
    }

    /// Moves the audit rows of `op_id` to `at` (ms): the writer stamps rows with "now".
    async fn backdate(&self, op_id: &str, at: i64) {
        let sql = "UPDATE audit_logs SET created_at = ? WHERE op_id = ?";
        match &self.database {
            DatabaseConfig::Sqlite(path) => {
                let mut c =
                    sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
                        .await
                        .unwrap();
                sqlx::query(sql)
                    .bind(at)
                    .bind(op_id)
                    .execute(&mut c)
                    .await
                    .unwrap();
            }
            DatabaseConfig::MySql(url) => {
                let mut c = sqlx::MySqlConnection::connect(url.expose()).await.unwrap();
                sqlx::query(sql)
                    .bind(at)
                    .bind(op_id)
                    .execute(&mut c)
                    .await
                    .unwrap();
            }
        }
    }

    async fn done(self) {
        self.app.stop().await.unwrap();
        if let Some(url) = self.mysql {
            drop_mysql_database(&url).await;
        }
    }
}

async fn json_of(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let body = resp.json().await.unwrap_or(Value::Null);
    (status, body)
}

/// Asserts a 400 naming `field`.
async fn assert_field_error(resp: reqwest::Response, field: &str) {
    let (status, body) = json_of(resp).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "invalid_input", "{body}");
    assert_eq!(body["error"]["field"], field, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{field}: ")),
        "{body}"
    );
}

fn ids(list: &Value) -> Vec<String> {
    list["templates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect()
}

const PREBUILT_IDS: [&str; 5] = [
    "template-webserver-default",
    "template-database-default",
    "template-development-default",
    "template-minimal-default",
    "template-gaming-default",
];

async fn audit_rows(env: &Env, action: &str) -> Vec<uma::store::audit::AuditRow> {
    env.app.flush_audit().await;
    let store = env.app.store().await;
    let (rows, _) = store
        .search_audit(
            &AuditQuery {
                action: Some(action.into()),
                ..Default::default()
            },
            200,
            0,
        )
        .await
        .unwrap();
    store.close().await;
    rows
}

async fn templates_flow(env: &Env) {
    let anon = Browser::new(&env.app.url(""));
    assert_eq!(anon.get("/api/hardware-templates").await.status(), 401);
    let (alice, alice_csrf) = env.login("alice").await;
    let (bob, bob_csrf) = env.login("bob").await;
    let (admin, admin_csrf) = env.login("admin").await;

    // Demo start-up installed the prebuilt templates: shared, owned by `system`.
    let (status, list) = json_of(alice.get("/api/hardware-templates").await).await;
    assert_eq!(status, 200, "{list}");
    let seen = ids(&list);
    for id in PREBUILT_IDS {
        assert!(seen.contains(&id.to_owned()), "{id} in {seen:?}");
    }
    let web = list["templates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == "template-webserver-default")
        .unwrap()
        .clone();
    assert_eq!(web["owner"], "system");
    assert_eq!(web["system"], true);
    assert_eq!(web["shared"], true);
    assert_eq!(web["category"], "prebuilt");
    assert_eq!(web["config"]["memory"], 4096);
    assert_eq!(web["config"]["net0"], "virtio,bridge=vmbr0");

    // Create: without the CSRF token refused; with it stored and private.
    let body = json!({
        "name": "  My web box ",
        "description": "for tests",
        "config": { "cores": 4, "memory": 8192, "cpu": "host", "numa": true }
    });
    let resp = alice
        .post_json("/api/hardware-templates", None, body.clone())
        .await;
    assert_eq!(resp.status(), 403);
    let (status, created) = json_of(
        alice
            .post_json("/api/hardware-templates", Some(&alice_csrf), body)
            .await,
    )
    .await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["success"], true);
    let t = &created["template"];
    let id = t["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("template-"), "{id}");
    assert_eq!(t["name"], "My web box");
    assert_eq!(t["owner"], "alice");
    assert_eq!(t["shared"], false);
    assert_eq!(t["system"], false);
    assert_eq!(t["category"], "custom");
    assert_eq!(
        t["config"],
        json!({ "cores": 4, "memory": 8192, "cpu": "host", "numa": true })
    );
    let path = format!("/api/hardware-templates/{id}");

    // Bob neither lists nor reads it, and cannot change it.
    let (_, bob_list) = json_of(bob.get("/api/hardware-templates").await).await;
    assert!(!ids(&bob_list).contains(&id));
    assert_eq!(bob.get(&path).await.status(), 404);
    let resp = bob
        .send(
            Method::PATCH,
            &path,
            Some(&bob_csrf),
            Some(json!({ "name": "mine now" })),
        )
        .await;
    assert_eq!(resp.status(), 404);

    // Shared, Bob reads it but still may not change or delete it.
    let (status, patched) = json_of(
        alice
            .send(
                Method::PATCH,
                &path,
                Some(&alice_csrf),
                Some(json!({ "shared": true, "category": "web" })),
            )
            .await,
    )
    .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["template"]["shared"], true);
    assert_eq!(patched["template"]["category"], "web");
    assert_eq!(
        patched["template"]["name"], "My web box",
        "untouched fields stay"
    );
    let (status, viewed) = json_of(bob.get(&path).await).await;
    assert_eq!(status, 200);
    assert_eq!(viewed["template"]["id"], id.as_str());
    let resp = bob
        .send(
            Method::PATCH,
            &path,
            Some(&bob_csrf),
            Some(json!({ "name": "mine now" })),
        )
        .await;
    assert_eq!(resp.status(), 403);
    let resp = bob.send(Method::DELETE, &path, Some(&bob_csrf), None).await;
    assert_eq!(resp.status(), 403);

    // System templates: users may not change them, admins may (but they stay shared).
    let system = "/api/hardware-templates/template-minimal-default";
    let resp = alice
        .send(
            Method::PATCH,
            system,
            Some(&alice_csrf),
            Some(json!({ "name": "Tiny" })),
        )
        .await;
    assert_eq!(resp.status(), 403);
    let resp = alice
        .send(Method::DELETE, system, Some(&alice_csrf), None)
        .await;
    assert_eq!(resp.status(), 403);
    let (status, body) = json_of(
        admin
            .send(
                Method::PATCH,
                system,
                Some(&admin_csrf),
                Some(json!({ "name": "Tiny VM", "config": { "cores": 1, "memory": 1024 } })),
            )
            .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["template"]["name"], "Tiny VM");
    assert_eq!(body["template"]["owner"], "system");
    assert_eq!(
        body["template"]["config"],
        json!({ "cores": 1, "memory": 1024 })
    );
    assert!(body["template"]["updatedAt"].as_i64() >= body["template"]["createdAt"].as_i64());
    assert_field_error(
        admin
            .send(
                Method::PATCH,
                system,
                Some(&admin_csrf),
                Some(json!({ "shared": false })),
            )
            .await,
        "shared",
    )
    .await;
    // Only admins create system templates or use the `prebuilt` category.
    let resp = alice
        .post_json(
            "/api/hardware-templates",
            Some(&alice_csrf),
            json!({ "name": "x", "config": { "cores": 1 }, "system": true }),
        )
        .await;
    assert_eq!(resp.status(), 403);
    assert_field_error(
        alice
            .post_json(
                "/api/hardware-templates",
                Some(&alice_csrf),
                json!({ "name": "x", "config": { "cores": 1 }, "category": "prebuilt" }),
            )
            .await,
        "category",
    )
    .await;
    let (status, sys) = json_of(
        admin
            .post_json(
                "/api/hardware-templates",
                Some(&admin_csrf),
                json!({ "name": "Admin's", "config": { "cores": 2 }, "system": true }),
            )
            .await,
    )
    .await;
    assert_eq!(status, 200, "{sys}");
    assert_eq!(sys["template"]["owner"], "system");
    assert_eq!(sys["template"]["shared"], true);
    let sys_path = format!(
        "/api/hardware-templates/{}",
        sys["template"]["id"].as_str().unwrap()
    );
    let resp = admin
        .send(Method::DELETE, &sys_path, Some(&admin_csrf), None)
        .await;
    assert_eq!(resp.status(), 200);

    // Admins change and delete other users' templates.
    let (_, other) = json_of(
        bob.post_json(
            "/api/hardware-templates",
            Some(&bob_csrf),
            json!({ "name": "Bob's", "config": { "cores": 1 } }),
        )
        .await,
    )
    .await;
    let bob_path = format!(
        "/api/hardware-templates/{}",
        other["template"]["id"].as_str().unwrap()
    );
    assert_eq!(
        admin.get(&bob_path).await.status(),
        200,
        "admins read any template"
    );
    let resp = admin
        .send(Method::DELETE, &bob_path, Some(&admin_csrf), None)
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(bob.get(&bob_path).await.status(), 404);

    // The owner deletes theirs.
    let (status, body) = json_of(
        alice
            .send(Method::DELETE, &path, Some(&alice_csrf), None)
            .await,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({ "success": true }));
    assert_eq!(alice.get(&path).await.status(), 404);
    let resp = alice
        .send(Method::DELETE, &path, Some(&alice_csrf), None)
        .await;
    assert_eq!(resp.status(), 404);

    // Audit rows.
    let created = audit_rows(env, "HW_TEMPLATE_CREATE").await;
    assert!(created.iter().any(|r| r.username == "alice"
        && r.resource == format!("hardware-template:{id}")
        && r.status == "SUCCESS"));
    let updates = audit_rows(env, "HW_TEMPLATE_UPDATE").await;
    let by_bob: Vec<_> = updates.iter().filter(|r| r.username == "bob").collect();
    assert_eq!(by_bob.len(), 1, "{updates:?}");
    assert_eq!(by_bob[0].status, "FAILURE");
    assert!(by_bob[0].details.contains("permission_denied"));
    let admin_update = updates
        .iter()
        .find(|r| r.username == "admin" && r.status == "SUCCESS")
        .unwrap();
    let details: Value = serde_json::from_str(&admin_update.details).unwrap();
    assert_eq!(details["before"]["name"], "Minimal VM");
    assert_eq!(details["after"]["name"], "Tiny VM");
    assert!(!audit_rows(env, "HW_TEMPLATE_DELETE").await.is_empty());
    assert!(audit_rows(env, "HW_TEMPLATE_LIST")
        .await
        .iter()
        .any(|r| r.username == "bob"));
    assert!(audit_rows(env, "HW_TEMPLATE_VIEW")
        .await
        .iter()
        .any(|r| r.username == "bob"));
}

async fn template_validation(env: &Env) {
    let (alice, csrf) = env.login("alice").await;
    let post = |body: Value| {
        let alice = &alice;
        let csrf = csrf.clone();
        async move {
            alice
                .post_json("/api/hardware-templates", Some(&csrf), body)
                .await
        }
    };
    let cfg = json!({ "cores": 1 });
    assert_field_error(post(json!({ "name": "", "config": cfg })).await, "name").await;
    assert_field_error(
        post(json!({ "name": "x".repeat(101), "config": cfg })).await,
        "name",
    )
    .await;
    assert_field_error(
        post(json!({ "name": "ok", "description": "d".repeat(192), "config": cfg })).await,
        "description",
    )
    .await;
    assert_field_error(
        post(json!({ "name": "ok", "category": "c".repeat(41), "config": cfg })).await,
        "category",
    )
    .await;
    assert_field_error(
        post(json!({ "name": "ok", "config": [1, 2] })).await,
        "config",
    )
    .await;
    assert_field_error(post(json!({ "name": "ok", "config": {} })).await, "config").await;
    assert_field_error(
        post(json!({ "name": "ok", "config": { "Memory": 1 } })).await,
        "config.Memory",
    )
    .await;
    assert_field_error(
        post(json!({ "name": "ok", "config": { "net0": { "bridge": "vmbr0" } } })).await,
        "config.net0",
    )
    .await;
    assert_field_error(
        post(json!({ "name": "ok", "config": { "description": "x".repeat(17 * 1024) } })).await,
        "config",
    )
    .await;
    // Missing, unknown or mistyped fields and bodies that are not JSON.
    for bad in [
        json!({ "config": cfg }),
        json!({ "name": "ok" }),
        json!({ "name": "ok", "config": cfg, "owner": "bob" }),
        json!({ "name": 5, "config": cfg }),
    ] {
        let (status, body) = json_of(post(bad.clone()).await).await;
        assert_eq!(status, 400, "{bad} → {body}");
        assert_eq!(body["error"]["code"], "invalid_input");
    }
    let resp = alice
        .http
        .post(env.app.url("/api/hardware-templates"))
        .header("cookie", alice.cookie_header())
        .header("origin", &alice.origin)
        .header("x-csrf-token", &csrf)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let resp = alice
        .send(
            Method::PATCH,
            "/api/hardware-templates/template-webserver-default",
            Some(&csrf),
            Some(json!({})),
        )
        .await;
    assert_eq!(resp.status(), 400, "an empty change");
    assert_eq!(
        alice.get("/api/hardware-templates/bad.id").await.status(),
        400
    );
    assert_eq!(
        alice.get("/api/hardware-templates/nope").await.status(),
        404
    );
}

async fn settings_flow(env: &Env) {
    let (admin, csrf) = env.login("admin").await;
    let (alice, alice_csrf) = env.login("alice").await;
    assert_eq!(alice.get("/api/settings/access").await.status(), 403);
    assert_eq!(alice.get("/api/settings/limits").await.status(), 403);
    let resp = alice
        .post_json(
            "/api/settings/limits",
            Some(&alice_csrf),
            json!({ "maxVMs": 1 }),
        )
        .await;
    assert_eq!(resp.status(), 403);

    // Access: defaults, round trip, validation.
    let (status, access) = json_of(admin.get("/api/settings/access").await).await;
    assert_eq!(status, 200);
    assert_eq!(
        access,
        json!({ "adminGroups": [], "allowedGroups": [], "environmentAdminGroups": ["uma-admins"] })
    );
    let resp = admin
        .post_json(
            "/api/settings/access",
            None,
            json!({ "adminGroups": [], "allowedGroups": [] }),
        )
        .await;
    assert_eq!(resp.status(), 403, "CSRF token required");
    let (status, saved) = json_of(
        admin
            .post_json(
                "/api/settings/access",
                Some(&csrf),
                json!({ "adminGroups": [" ops ", "OPS", "infra"], "allowedGroups": ["students"] }),
            )
            .await,
    )
    .await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(saved["success"], true);
    assert_eq!(saved["config"]["adminGroups"], json!(["ops", "infra"]));
    let (_, access) = json_of(admin.get("/api/settings/access").await).await;
    assert_eq!(access["adminGroups"], json!(["ops", "infra"]));
    assert_eq!(access["allowedGroups"], json!(["students"]));
    let store = env.app.store().await;
    assert_eq!(
        store.config_value("access").await.unwrap().unwrap(),
        json!({ "adminGroups": ["ops", "infra"], "allowedGroups": ["students"] }),
        "stored where sign-in reads it"
    );
    assert_field_error(
        admin
            .post_json(
                "/api/settings/access",
                Some(&csrf),
                json!({ "adminGroups": [] }),
            )
            .await,
        "allowedGroups",
    )
    .await;
    assert_field_error(
        admin
            .post_json(
                "/api/settings/access",
                Some(&csrf),
                json!({ "adminGroups": ["a", 7], "allowedGroups": [] }),
            )
            .await,
        "adminGroups[1]",
    )
    .await;
    assert_field_error(
        admin
            .post_json(
                "/api/settings/access",
                Some(&csrf),
                json!({ "adminGroups": "ops", "allowedGroups": [] }),
            )
            .await,
        "adminGroups",
    )
    .await;
    assert_field_error(
        admin
            .post_json(
                "/api/settings/access",
                Some(&csrf),
                json!({ "adminGroups": [], "allowedGroups": [], "extra": 1 }),
            )
            .await,
        "extra",
    )
    .await;

    // Limits: defaults from the environment, partial updates, the `global` row.
    let (status, limits) = json_of(admin.get("/api/settings/limits").await).await;
    assert_eq!(status, 200);
    assert_eq!(
        limits,
        json!({ "maxVMs": 0, "maxLXCs": 0, "maxVnets": 0, "maxCpu": 0, "maxMemory": 0,
                "maxDisk": 0, "maxVnetsPerUser": 3 })
    );
    let (status, saved) = json_of(
        admin
            .post_json(
                "/api/settings/limits",
                Some(&csrf),
                json!({ "maxVMs": 5, "maxMemory": 65536, "maxDisk": 500, "maxVnetsPerUser": 2 }),
            )
            .await,
    )
    .await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(saved["config"]["maxVMs"], 5);
    assert_eq!(saved["config"]["maxVnetsPerUser"], 2);
    let (_, saved) = json_of(
        admin
            .post_json(
                "/api/settings/limits",
                Some(&csrf),
                json!({ "maxCpu": 64, "maxVMs": 0 }),
            )
            .await,
    )
    .await;
    let expected = json!({ "maxVMs": 0, "maxLXCs": 0, "maxVnets": 0, "maxCpu": 64,
                           "maxMemory": 65536, "maxDisk": 500, "maxVnetsPerUser": 2 });
    assert_eq!(saved["config"], expected);
    let (_, limits) = json_of(admin.get("/api/settings/limits").await).await;
    assert_eq!(limits, expected);
    let row = store.pool_limit("global").await.unwrap().unwrap();
    assert_eq!(
        (row.max_cpu, row.max_memory, row.max_disk),
        (64, 65536, 500)
    );
    assert_eq!(
        store
            .config_value("resource_limits")
            .await
            .unwrap()
            .unwrap(),
        json!({ "maxVnetsPerUser": 2 })
    );
    store.close().await;
    for (body, field) in [
        (json!({ "maxVMs": -1 }), "maxVMs"),
        (json!({ "maxCpu": 1.5 }), "maxCpu"),
        (json!({ "maxDisk": "10" }), "maxDisk"),
        (json!({ "maxVnetsPerUser": null }), "maxVnetsPerUser"),
        (
            json!({ "maxMemory": 9_007_199_254_740_992_u64 }),
            "maxMemory",
        ),
        (json!({ "maxVms": 3 }), "maxVms"),
    ] {
        assert_field_error(
            admin
                .post_json("/api/settings/limits", Some(&csrf), body)
                .await,
            field,
        )
        .await;
    }
    let resp = admin
        .post_json("/api/settings/limits", Some(&csrf), json!({}))
        .await;
    assert_eq!(resp.status(), 400);
    let (_, limits) = json_of(admin.get("/api/settings/limits").await).await;
    assert_eq!(limits, expected, "refused changes change nothing");

    let rows = audit_rows(env, "SETTINGS_LIMITS_UPDATE").await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(rows.iter().all(|r| r.resource == "settings:limits"));
    let second = rows
        .iter()
        .map(|r| serde_json::from_str::<Value>(&r.details).unwrap())
        .find(|d| d["after"]["maxCpu"] == 64)
        .unwrap();
    assert_eq!(second["before"]["maxCpu"], 0);
    assert_eq!(second["before"]["maxVMs"], 5);
    assert_eq!(second["after"]["maxVMs"], 0);
    let rows = audit_rows(env, "SETTINGS_ACCESS_UPDATE").await;
    assert_eq!(rows.len(), 1);
    let details: Value = serde_json::from_str(&rows[0].details).unwrap();
    assert_eq!(details["before"]["adminGroups"], json!([]));
    assert_eq!(details["after"]["allowedGroups"], json!(["students"]));
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

    // Admins only; every read is audited.
    let (alice, _) = env.login("alice").await;
    for path in [
        "/api/admin/audit-logs",
        "/api/admin/audit-logs/stats",
        "/api/admin/audit-logs/suggestions",
    ] {
        assert_eq!(alice.get(path).await.status(), 403, "{path}");
        assert_eq!(Browser::new(&env.app.url("")).get(path).await.status(), 401);
    }
    for (action, resource) in [
        ("VIEW_AUDIT_LOGS", "admin:audit-logs"),
        ("VIEW_AUDIT_STATS", "admin:audit-logs:stats"),
        ("VIEW_AUDIT_SUGGESTIONS", "admin:audit-logs:suggestions"),
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

#[tokio::test]
async fn hardware_templates_on_sqlite() {
    let env = Env::start(false).await;
    templates_flow(&env).await;
    template_validation(&env).await;

    // Writes are limited per user (30 a minute, shared with VM configuration changes).
    // A write may be refilled while the loop runs (one every 2 s), hence the small range.
    let (carol, csrf) = env.login("carol").await;
    let mut accepted = 0;
    let refused = loop {
        let resp = carol
            .post_json(
                "/api/hardware-templates",
                Some(&csrf),
                json!({ "name": format!("t{accepted}"), "config": { "cores": 1 } }),
            )
            .await;
        if resp.status() != 200 || accepted > 40 {
            break resp;
        }
        accepted += 1;
    };
    assert_eq!(refused.status(), 429);
    assert!((30..=32).contains(&accepted), "{accepted}");
    assert!(refused.headers().contains_key("retry-after"));
    let rows = audit_rows(&env, "HW_TEMPLATE_CREATE").await;
    assert!(rows.iter().any(|r| r.username == "carol"
        && r.status == "WARNING"
        && r.details.contains("rate_limited")));
    let (alice, alice_csrf) = env.login("alice").await;
    let resp = alice
        .post_json(
            "/api/hardware-templates",
            Some(&alice_csrf),
            json!({ "name": "still fine", "config": { "cores": 1 } }),
        )
        .await;
    assert_eq!(resp.status(), 200, "other users are not limited");
    env.done().await;
}

#[tokio::test]
async fn hardware_templates_on_mariadb() {
    let env = Env::start(true).await;
    templates_flow(&env).await;
    template_validation(&env).await;
    env.done().await;
}

#[tokio::test]
async fn settings_on_sqlite() {
    let env = Env::start(false).await;
    settings_flow(&env).await;
    env.done().await;
}

#[tokio::test]
async fn settings_on_mariadb() {
    let env = Env::start(true).await;
    settings_flow(&env).await;
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

async fn install_is_idempotent(store: &Store) {
    let first = hardware_defaults::install(store).await.unwrap();
    let ids: Vec<&str> = first.iter().map(|(id, _, _)| id.as_str()).collect();
    assert_eq!(ids, PREBUILT_IDS);
    assert!(first.iter().all(|(_, _, o)| *o == Outcome::Installed));
    let t = store
        .hardware_template("template-gaming-default")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((t.owner.as_str(), t.shared), ("system", true));
    assert_eq!(t.category, "prebuilt");
    let config: Value = serde_json::from_str(&t.config).unwrap();
    assert_eq!(config["machine"], "q35");
    assert_eq!(config["cpu"], "host,flags=+pcid;+spec-ctrl;+aes");

    // An admin's edit survives a second run; a deleted one comes back.
    store
        .update_hardware_template(&uma::store::hardware::HardwareTemplate {
            name: "Gaming (edited)".into(),
            ..t
        })
        .await
        .unwrap();
    store
        .delete_hardware_template("template-minimal-default")
        .await
        .unwrap();
    let second = hardware_defaults::install(store).await.unwrap();
    let installed: Vec<&str> = second
        .iter()
        .filter(|(_, _, o)| *o == Outcome::Installed)
        .map(|(id, _, _)| id.as_str())
        .collect();
    assert_eq!(installed, ["template-minimal-default"]);
    assert_eq!(
        store
            .hardware_template("template-gaming-default")
            .await
            .unwrap()
            .unwrap()
            .name,
        "Gaming (edited)"
    );
    assert!(hardware_defaults::install(store)
        .await
        .unwrap()
        .iter()
        .all(|(_, _, o)| *o == Outcome::Skipped));
    assert_eq!(
        store
            .visible_hardware_templates("nobody")
            .await
            .unwrap()
            .len(),
        5
    );
}

#[tokio::test]
async fn init_templates_is_idempotent_on_sqlite() {
    let dir = temp_dir("init-templates");
    let store = Store::connect(&DatabaseConfig::Sqlite(dir.join("uma.db")))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    install_is_idempotent(&store).await;
    store.close().await;
}

#[tokio::test]
async fn init_templates_is_idempotent_on_mariadb() {
    let url = fresh_mysql_database().await;
    let store = Store::connect(&DatabaseConfig::MySql(Secret::new(url.clone())))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    install_is_idempotent(&store).await;
    store.close().await;
    drop_mysql_database(&url).await;
}

/// Runs the `uma` binary in a fresh folder with only these variables.
fn uma(args: &[&str], vars: &[(&str, &str)], dir: &std::path::Path) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_uma"));
    cmd.args(args).current_dir(dir).env_clear();
    if let Ok(path) = std::env::var("PATH") {
        cmd.env("PATH", path);
    }
    cmd.env("UMA_DATA_DIR", dir.join("data"));
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run uma");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn init_templates_command_installs_then_skips() {
    let dir = temp_dir("init-cli");
    let (code, out, err) = uma(&["init-templates"], &[], &dir);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("installed template-webserver-default (Web Server)"),
        "{out}"
    );
    assert!(
        out.contains("5 template(s) installed, 0 already there"),
        "{out}"
    );
    let (code, out, err) = uma(&["init-templates"], &[], &dir);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("skipped template-gaming-default (Gaming VM): it exists"),
        "{out}"
    );
    assert!(
        out.contains("0 template(s) installed, 5 already there"),
        "{out}"
    );
}

/// A stand-in cluster answering `GET /api2/json/access/domains` for the right token only.
async fn realms_server() -> std::net::SocketAddr {
    use axum::routing::get;
    async fn domains(headers: axum::http::HeaderMap) -> axum::response::Response {
        use axum::response::IntoResponse;
        let auth = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if auth != "PVEAPIToken=root@pam!uma=s3cret" {
            return (axum::http::StatusCode::UNAUTHORIZED, "no").into_response();
        }
        axum::Json(json!({ "data": [
            { "realm": "pam", "type": "pam", "comment": "Linux PAM standard authentication" },
            { "realm": "pve", "type": "pve", "comment": "Proxmox VE authentication server" },
            { "realm": "SDC", "type": "ad" },
        ] }))
        .into_response()
    }
    let app = axum::Router::new().route("/api2/json/access/domains", get(domains));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

async fn check_realms(vars: Vec<(&'static str, String)>) -> (i32, String, String) {
    let dir = temp_dir("realms");
    tokio::task::spawn_blocking(move || {
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        uma(&["check-realms"], &vars, &dir)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_realms_lists_realms_and_judges_the_setting() {
    let addr = realms_server().await;
    let url = format!("http://{addr}");
    let base = |realm: Option<&str>, secret: &str| {
        let mut v = vec![
            ("PROXMOX_URL", url.clone()),
            ("PROXMOX_TOKEN_ID", "root@pam!uma".to_owned()),
            ("PROXMOX_TOKEN_SECRET", secret.to_owned()),
            ("SECRET_COOKIE_PASSWORD", "x".repeat(40)),
        ];
        if let Some(r) = realm {
            v.push(("PROXMOX_USER_REALM", r.to_owned()));
        }
        v
    };

    let (code, out, err) = check_realms(base(Some("SDC"), "s3cret")).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("REALM"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("pam") && l.contains("Linux PAM")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("SDC") && l.contains("ad")),
        "{out}"
    );
    assert!(out.contains("PROXMOX_USER_REALM=SDC matches"), "{out}");

    let (code, out, err) = check_realms(base(Some("sdc"), "s3cret")).await;
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("differs in letter case") && err.contains("PROXMOX_USER_REALM=SDC"),
        "{err}"
    );

    let (code, _, err) = check_realms(base(Some("corp"), "s3cret")).await;
    assert_eq!(code, 1);
    assert!(
        err.contains("corp is not a realm") && err.contains("pam, pve, SDC"),
        "{err}"
    );

    let (code, _, err) = check_realms(base(None, "s3cret")).await;
    assert_eq!(code, 1);
    assert!(err.contains("PROXMOX_USER_REALM is not set"), "{err}");

    let (code, _, err) = check_realms(base(Some("SDC"), "wrong")).await;
    assert_eq!(code, 1);
    assert!(
        err.contains("cannot list the realms") && err.contains("401"),
        "{err}"
    );

    // Nothing listening.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let mut vars = base(Some("SDC"), "s3cret");
    vars[0].1 = dead;
    let (code, _, err) = check_realms(vars).await;
    assert_eq!(code, 1);
    assert!(err.contains("unreachable"), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    // Demo mode has no cluster to ask.
    let (code, _, err) = check_realms(vec![]).await;
    assert_eq!(code, 1);
    assert!(err.contains("PROXMOX_URL is not set"), "{err}");
}
