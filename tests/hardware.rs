//! Hardware templates over real HTTP, on SQLite and on MariaDB: permissions (owner, other user,
//! admin, `system` templates), field-by-field 400s, the per-user write limit, and the prebuilt
//! templates (`uma init-templates` and demo start-up).

use reqwest::Method;
use serde_json::{json, Value};

use uma::config::{DatabaseConfig, Secret};
use uma::hardware_defaults::{self, Outcome};
use uma::store::Store;

use crate::support::admin::{assert_field_error, audit_rows, json_of, Env};
use crate::support::browser::Browser;
use crate::support::db::{drop_mysql_database, fresh_mysql_database};
use crate::support::{run_uma_in, temp_dir};

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

#[test]
fn init_templates_command_installs_then_skips() {
    let dir = temp_dir("init-cli");
    let (code, out, err) = run_uma_in(&dir, &["init-templates"], &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("installed template-webserver-default (Web Server)"),
        "{out}"
    );
    assert!(
        out.contains("5 template(s) installed, 0 already there"),
        "{out}"
    );
    let (code, out, err) = run_uma_in(&dir, &["init-templates"], &[]);
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
