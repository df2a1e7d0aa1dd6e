//! Proxmox operations through Uma against the simulator over HTTPS: resource lists filtered by
//! the ACL engine, power actions checked, refused with Proxmox's own words, and audited.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::browser::Browser;
use crate::support::{demo_vars, outside_sim, run_uma_in, sim_vars, spawn_with, temp_dir, TestApp};

async fn app() -> TestApp {
    let app = TestApp::demo("pve")
        .var("UMA_ADMIN_PASSWORD", "admin-pass-123")
        .start()
        .await;
    let store = app.store().await;
    for name in ["alice", "bob"] {
        uma::bootstrap::set_local_password(&store, name, &format!("{name}-pass-123"), false)
            .await
            .unwrap();
    }
    store.close().await;
    app
}

async fn guests(b: &Browser, query: &str) -> Vec<Value> {
    let resp = b.get(&format!("/api/proxmox/resources{query}")).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    body["data"].as_array().unwrap().clone()
}

fn vmids(items: &[Value]) -> Vec<u64> {
    let mut ids: Vec<u64> = items.iter().filter_map(|r| r["vmid"].as_u64()).collect();
    ids.sort_unstable();
    ids
}

#[tokio::test]
async fn resource_lists_follow_the_acls() {
    let app = app().await;
    let base = app.url("");
    let admin = Browser::new(&base);
    admin.login("admin", "admin-pass-123").await;
    let all = guests(&admin, "?type=vm").await;
    assert!(all.len() >= 25, "the admin sees every guest: {}", all.len());
    assert!(all
        .iter()
        .all(|r| r["type"] == "qemu" || r["type"] == "lxc"));
    assert!(guests(&admin, "").await.iter().any(|r| r["type"] == "node"));

    let alice = Browser::new(&base);
    alice.login("alice", "alice-pass-123").await;
    let mine = guests(&alice, "").await;
    assert_eq!(vmids(&mine), [100, 101, 102, 103, 104], "{mine:?}");
    assert!(mine
        .iter()
        .any(|r| r["type"] == "pool" && r["pool"] == "DEV_alice_1"));
    assert!(
        !mine.iter().any(|r| r["type"] == "node"),
        "nodes are for admins"
    );
    assert!(mine
        .iter()
        .all(|r| r["pool"].as_str().is_none_or(|p| p == "DEV_alice_1")));

    let bob = Browser::new(&base);
    bob.login("bob", "bob-pass-123").await;
    assert_eq!(
        vmids(&guests(&bob, "?type=vm").await),
        [110, 111, 112, 113, 114]
    );

    let resp = alice.get("/api/proxmox/resources?type=bogus").await;
    assert_eq!(resp.status(), 400);
    let anon = Browser::new(&base);
    assert_eq!(anon.get("/api/proxmox/resources").await.status(), 401);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn power_actions_are_checked_refused_clearly_and_audited() {
    let app = app().await;
    let base = app.url("");
    let alice = Browser::new(&base);
    let csrf = alice.login("alice", "alice-pass-123").await["csrfToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let mine = guests(&alice, "?type=vm").await;
    let stopped = mine
        .iter()
        .find(|r| r["type"] == "qemu" && r["status"] == "stopped" && r["lock"].is_null())
        .expect("a stopped VM in alice's pool");
    let vmid = stopped["vmid"].as_u64().unwrap();

    // Rebooting a stopped VM: Proxmox's refusal, in its own words.
    let resp = alice
        .post_json(
            &format!("/api/proxmox/vm/{vmid}/power"),
            Some(&csrf),
            json!({ "action": "reboot" }),
        )
        .await;
    assert_eq!(resp.status(), 409);
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not running"),
        "{body}"
    );

    let resp = alice
        .post_json(
            &format!("/api/proxmox/vm/{vmid}/power"),
            Some(&csrf),
            json!({ "action": "start" }),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["upid"].as_str().unwrap().starts_with("UPID:"),
        "{body}"
    );

    // The guest runs once the task ends.
    crate::support::eventually(Duration::from_secs(15), "the VM runs", || async {
        let s: Value = alice
            .get(&format!("/api/proxmox/vm/{vmid}/status"))
            .await
            .json()
            .await
            .unwrap();
        s["data"]["status"] == "running"
    })
    .await;
    // Bad input.
    let resp = alice
        .post_json(
            &format!("/api/proxmox/vm/{vmid}/power"),
            Some(&csrf),
            json!({ "action": "explode" }),
        )
        .await;
    assert_eq!(resp.status(), 400);
    let resp = alice
        .post_json(
            "/api/proxmox/vm/12/power",
            Some(&csrf),
            json!({ "action": "start" }),
        )
        .await;
    assert_eq!(resp.status(), 400);
    let ct = mine.iter().find(|r| r["type"] == "lxc").unwrap()["vmid"]
        .as_u64()
        .unwrap();
    let resp = alice
        .post_json(
            &format!("/api/proxmox/vm/{ct}/power"),
            Some(&csrf),
            json!({ "action": "reset" }),
        )
        .await;
    assert_eq!(resp.status(), 400, "containers have no reset");

    // Someone else's guest does not exist for bob.
    let bob = Browser::new(&base);
    let bob_csrf = bob.login("bob", "bob-pass-123").await["csrfToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let resp = bob
        .post_json(
            &format!("/api/proxmox/vm/{vmid}/power"),
            Some(&bob_csrf),
            json!({ "action": "stop" }),
        )
        .await;
    assert_eq!(resp.status(), 404);
    assert_eq!(
        bob.get(&format!("/api/proxmox/vm/{vmid}/status"))
            .await
            .status(),
        404
    );
    // Without the CSRF token nothing happens.
    let resp = alice
        .post_json(
            &format!("/api/proxmox/vm/{vmid}/power"),
            None,
            json!({ "action": "stop" }),
        )
        .await;
    assert_eq!(resp.status(), 403);

    app.flush_audit().await;
    let store = app.store().await;
    let rows = store
        .list_audit(
            &uma::store::audit::AuditFilter {
                action: Some("VM_START".into()),
                ..Default::default()
            },
            10,
            0,
        )
        .await
        .unwrap();
    let reboots = store
        .list_audit(
            &uma::store::audit::AuditFilter {
                action: Some("VM_REBOOT".into()),
                ..Default::default()
            },
            10,
            0,
        )
        .await
        .unwrap();
    store.close().await;
    assert!(
        rows.iter().any(|r| r.username == "alice"
            && r.status == "SUCCESS"
            && r.resource == format!("vm:{vmid}")),
        "{rows:?}"
    );
    assert!(
        reboots.iter().any(|r| r.username == "alice"
            && r.status == "FAILURE"
            && r.details.contains("not running")),
        "{reboots:?}"
    );
    app.stop().await.unwrap();
}

/// Uma against a simulator it did not start (as against a real cluster): certificate
/// verification is on, a pinned SHA-256 fingerprint is honoured, and a wrong pin refuses.
#[tokio::test]
async fn the_proxmox_certificate_is_verified_or_pinned() {
    let sim = outside_sim().await;
    let der = sim.cert_der().unwrap().to_vec();
    let pin: String = uma::tls::fingerprint(&der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":");
    let mut wrong = uma::tls::fingerprint(&der);
    wrong[0] ^= 0xff;
    let wrong: String = wrong.iter().map(|b| format!("{b:02x}")).collect();
    type Case = (&'static str, Option<(&'static str, String)>, u16);
    let cases: [Case; 4] = [
        ("right pin", Some(("PROXMOX_CERT_FINGERPRINT", pin)), 200),
        ("wrong pin", Some(("PROXMOX_CERT_FINGERPRINT", wrong)), 503),
        ("system roots", None, 503),
        (
            "insecure",
            Some(("PROXMOX_SSL_INSECURE", "true".into())),
            200,
        ),
    ];
    for (what, extra, want) in cases {
        let dir = temp_dir("pin");
        let mut vars: HashMap<String, String> = demo_vars(&dir);
        for (k, v) in sim_vars(&sim).into_iter().chain([
            ("SECRET_COOKIE_PASSWORD", "x".repeat(48)),
            ("USE_SECURE_COOKIE", "false".into()),
            ("UMA_ALLOW_INSECURE_COOKIE", "true".into()),
        ]) {
            vars.insert(k.into(), v);
        }
        if let Some((k, v)) = extra {
            vars.insert(k.into(), v);
        }
        let app = spawn_with(vars, dir).await;
        let (admin, _) = app.session_as("root", &[], true).await;
        let resp = admin.get("/api/proxmox/resources?type=node").await;
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap();
        assert_eq!(status, want, "{what}: {body}");
        if want == 503 {
            assert_eq!(body["error"]["code"], "unavailable", "{what}: {body}");
        } else {
            assert!(!body["data"].as_array().unwrap().is_empty(), "{what}");
        }
        app.stop().await.unwrap();
    }
    sim.shutdown();
}

/// Two instances on one database, one Redis and one cluster: an ACL change made through one is
/// seen by the other at once, not when its cached view expires.
#[tokio::test]
async fn acl_changes_reach_the_other_instance_at_once() {
    let sim = outside_sim().await;
    let db = crate::support::db::fresh_mysql_database().await;
    let secret = "y".repeat(48);
    let mut apps = Vec::new();
    for tag in ["a", "b"] {
        let dir = temp_dir(&format!("two-{tag}"));
        let mut vars: HashMap<String, String> = demo_vars(&dir);
        for (k, v) in sim_vars(&sim).into_iter().chain([
            ("PROXMOX_SSL_INSECURE", "true".to_owned()),
            ("DATABASE_URL", db.clone()),
            ("REDIS_URL", "redis://127.0.0.1:6379".to_owned()),
            ("SECRET_COOKIE_PASSWORD", secret.clone()),
            ("USE_SECURE_COOKIE", "false".to_owned()),
            ("UMA_ALLOW_INSECURE_COOKIE", "true".to_owned()),
        ]) {
            vars.insert(k.into(), v);
        }
        apps.push(spawn_with(vars, dir).await);
    }
    let (a, b) = (&apps[0], &apps[1]);
    async fn pools_of(b: &Browser) -> Vec<String> {
        let v: Value = b.get("/api/proxmox/pools").await.json().await.unwrap();
        v["pools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["poolid"].as_str().unwrap().to_owned())
            .collect()
    }
    let (alice_on_b, _) = b.session_as("alice", &[], false).await;
    let before = pools_of(&alice_on_b).await;
    assert_eq!(before, ["DEV_alice_1"]);
    let (admin_on_a, csrf) = a.session_as("root", &[], true).await;
    let resp = admin_on_a
        .post_json(
            "/api/proxmox/pools/acl",
            Some(&csrf),
            json!({ "poolId": "DEV_bob_1", "type": "user", "username": "alice", "role": "PVEPoolUser" }),
        )
        .await;
    assert_eq!(resp.status(), 200);
    // Well inside instance b's view lifetime (3 s), b already answers with the change.
    crate::support::eventually(
        Duration::from_millis(1000),
        "instance b shows the shared pool",
        || async {
            pools_of(&alice_on_b)
                .await
                .contains(&"DEV_bob_1".to_owned())
        },
    )
    .await;
    for app in apps {
        app.stop().await.unwrap();
    }
    sim.shutdown();
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
        run_uma_in(&dir, &["check-realms"], &vars)
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
