//! Global settings over real HTTP, on SQLite and on MariaDB: access groups and limits round trip,
//! field-by-field 400s, and one audit row per change.

use serde_json::{json, Value};

use crate::support::admin::{assert_field_error, audit_rows, json_of, Env};

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

/// One's own sessions: listed with this one marked, another one signed out, or all the others
/// at once; someone else's do not exist for them.
async fn own_sessions_flow(env: &Env) {
    let (here, csrf) = env.login("alice").await;
    let (laptop, _) = env.login("alice").await;
    let (phone, _) = env.login("alice").await;
    let (bob, bcsrf) = env.login("bob").await;
    let anon = crate::support::browser::Browser::new(&env.app.url(""));
    assert_eq!(anon.get("/api/sessions").await.status(), 401);

    let (s, list) = json_of(here.get("/api/sessions").await).await;
    assert_eq!(s, 200);
    let sessions = list["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 3, "{list}");
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    assert!(sessions.iter().all(|s| s["username"] == "alice"));
    let laptop_id = {
        let (_, l) = json_of(laptop.get("/api/sessions").await).await;
        l["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["current"] == true)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    // Bob can't see or end alice's sessions.
    let (_, bobs) = json_of(bob.get("/api/sessions").await).await;
    assert_eq!(bobs["sessions"].as_array().unwrap().len(), 1);
    let resp = bob
        .send(
            reqwest::Method::DELETE,
            &format!("/api/sessions/{laptop_id}"),
            Some(&bcsrf),
            None,
        )
        .await;
    assert_eq!(resp.status(), 404);
    assert_eq!(laptop.get("/api/auth").await.status(), 200);

    // Alice signs the laptop out, then every other one.
    let resp = here
        .send(
            reqwest::Method::DELETE,
            &format!("/api/sessions/{laptop_id}"),
            Some(&csrf),
            None,
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(laptop.get("/api/sessions").await.status(), 401);
    let (s, r) = json_of(
        here.post_json("/api/sessions/revoke-others", Some(&csrf), json!({}))
            .await,
    )
    .await;
    assert_eq!((s, &r["revoked"]), (200, &json!(1)), "{r}");
    assert_eq!(phone.get("/api/sessions").await.status(), 401);
    let (_, list) = json_of(here.get("/api/sessions").await).await;
    assert_eq!(list["sessions"].as_array().unwrap().len(), 1);
    assert_eq!(bob.get("/api/sessions").await.status(), 200, "bob stays");
    let rows = audit_rows(env, "SESSION_REVOKED").await;
    assert!(rows.iter().filter(|r| r.username == "alice").count() >= 2);
    assert_eq!(here.get("/settings").await.status(), 200);
}

#[tokio::test]
async fn own_sessions_on_sqlite() {
    let env = Env::start(false).await;
    own_sessions_flow(&env).await;
    env.done().await;
}

#[tokio::test]
async fn own_sessions_on_mariadb() {
    let env = Env::start(true).await;
    own_sessions_flow(&env).await;
    env.done().await;
}
