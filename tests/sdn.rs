//! SDN zones and VNets and SDN apply with its cooldown, end to end against the simulator: who may see and do what, the VNet rules and quotas, the
//! cooldown (in process and shared through Redis) given back when an apply fails, checked job
//! ids, and one audit row per mutating request.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::browser::Browser;
use crate::support::calls::{delete, field, get, ids, json_of, post, victor_and_paul};
use crate::support::{eventually, TestApp};

async fn app_with(extra: &[(&str, &str)]) -> TestApp {
    TestApp::demo("sdn")
        .vars(extra)
        .tasks_take(Duration::from_millis(10))
        .start()
        .await
}

async fn app() -> TestApp {
    app_with(&[]).await
}

/// Proxmox-side setup with the service token: a designated zone `userlab`, and victor and paul.
async fn pve_setup(app: &TestApp) {
    let _: Value = app
        .state
        .pve
        .post(
            "cluster/sdn/zones",
            &[
                ("zone", "userlab".to_owned()),
                ("type", "simple".to_owned()),
            ],
        )
        .await
        .unwrap();
    victor_and_paul(app).await;
}

#[tokio::test]
async fn zones_and_vnets_follow_the_acl_engine_and_the_vnet_rules() {
    let app = app().await;
    pve_setup(&app).await;
    let (admin, acsrf) = app.session_as("root", &[], true).await;
    let (alice, csrf) = app.session_as("alice", &[], false).await;
    let (bob, bcsrf) = app.session_as("bob", &[], false).await;
    let (gina, gcsrf) = app.session_as("gina", &["devs"], false).await;
    let (oscar, ocsrf) = app.session_as("oscar", &[], false).await;

    // Zones: administrators only create them; input is checked first.
    let (s, body) = post(
        &oscar,
        &ocsrf,
        "/api/proxmox/sdn/zones",
        json!({ "zone": "altzone", "type": "simple" }),
    )
    .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (403, Some("forbidden")),
        "{body}"
    );
    for (bad, f) in [
        (json!({ "zone": "../x", "type": "simple" }), "zone"),
        (json!({ "zone": "lab2", "type": "evil" }), "type"),
        (json!({ "zone": "lab2", "type": "vlan" }), "bridge"),
        (
            json!({ "zone": "lab2", "type": "simple", "mtu": 10 }),
            "mtu",
        ),
    ] {
        let (s, body) = post(&admin, &acsrf, "/api/proxmox/sdn/zones", bad.clone()).await;
        assert_eq!((s, field(&body)), (400, f), "{bad}: {body}");
    }
    let (s, body) = post(
        &admin,
        &acsrf,
        "/api/proxmox/sdn/zones",
        json!({ "zone": "altzone", "type": "vlan", "bridge": "vmbr0", "mtu": 1500 }),
    )
    .await;
    assert_eq!(s, 200, "{body}");

    // Who sees which zones: admins all; devs hold PVESDNUser on devzone; everyone the
    // designated ones.
    let all = ["altzone", "devzone", "userlab"];
    for (b, want) in [
        (&admin, &all[..]),
        (&gina, &all[..]),
        (&alice, &["altzone", "userlab"][..]),
        (&oscar, &["altzone", "userlab"][..]),
    ] {
        let (s, body) = get(b, "/api/proxmox/sdn/zones").await;
        assert_eq!(s, 200, "{body}");
        assert_eq!(ids(&body, "zones", "zone"), want, "{body}");
    }

    // VNet input rules.
    let vnets = "/api/proxmox/sdn/vnets";
    for (bad, f) in [
        (
            json!({ "vnet": "../x", "zone": "userlab", "tag": 1001 }),
            "vnet",
        ),
        (
            json!({ "vnet": "DEValic1", "zone": "a/b", "tag": 1001 }),
            "zone",
        ),
        (
            json!({ "vnet": "DEValic1", "zone": "userlab", "tag": 5 }),
            "tag",
        ),
        (json!({ "vnet": "DEValic1", "zone": "userlab" }), "tag"),
        (
            json!({ "vnet": "DEValic1", "zone": "altzone", "tag": 5000 }),
            "tag",
        ),
        (
            json!({ "vnet": "DEValic1", "zone": "userlab", "tag": 1001, "alias": "a b/c" }),
            "alias",
        ),
        (
            json!({ "vnet": "DEValic1", "zone": "userlab", "tag": 1001, "poolId": "a/b" }),
            "poolId",
        ),
    ] {
        let (s, body) = post(&alice, &csrf, vnets, bad.clone()).await;
        assert_eq!((s, field(&body)), (400, f), "{bad}: {body}");
    }
    // Names must start with DEV + the username (or its first four or three letters).
    let (s, body) = post(
        &alice,
        &csrf,
        vnets,
        json!({ "vnet": "DEVbob1", "zone": "userlab", "tag": 1001 }),
    )
    .await;
    assert_eq!(s, 403, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("DEValic"),
        "{body}"
    );
    // Zones a user can't see don't exist for them; zones they only use can't take new VNets.
    let (s, body) = post(
        &alice,
        &csrf,
        vnets,
        json!({ "vnet": "DEValic1", "zone": "devzone", "tag": 7 }),
    )
    .await;
    assert_eq!((s, field(&body)), (400, "zone"), "{body}");
    let (s, body) = post(
        &gina,
        &gcsrf,
        vnets,
        json!({ "vnet": "DEVgina1", "zone": "devzone", "tag": 7 }),
    )
    .await;
    assert_eq!(s, 403, "{body}");

    // The next tag and a suggested name.
    let (s, body) = get(&alice, "/api/proxmox/sdn/vnets/next-tag?zone=userlab").await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["nextTag"], 1001);
    assert_eq!(body["suggestedName"], "DEValic1");
    let (s, body) = get(&alice, "/api/proxmox/sdn/vnets/next-tag?zone=devzone").await;
    assert_eq!(s, 404, "alice can't see devzone: {body}");
    let (s, body) = get(&alice, "/api/proxmox/sdn/vnets/next-tag?zone=x%2F..").await;
    assert_eq!((s, field(&body)), (400, "zone"), "{body}");

    // Created: the owner is written into the alias by Uma, whatever alias was asked for.
    let (s, body) = post(
        &alice,
        &csrf,
        vnets,
        json!({ "vnet": "DEValic1", "zone": "userlab", "tag": 1001 }),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["alias"], "1001_DEV_alice");
    let (s, body) = post(
        &alice,
        &csrf,
        vnets,
        json!({ "vnet": "DEValic2", "zone": "userlab", "tag": 1002, "alias": "bob" }),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["alias"], "1002_bob_DEV_alice");
    // Same tag in the same zone, same name: refused.
    let (s, body) = post(
        &alice,
        &csrf,
        vnets,
        json!({ "vnet": "DEValic3", "zone": "userlab", "tag": 1002 }),
    )
    .await;
    assert_eq!(s, 409, "{body}");
    let (s, body) = post(
        &alice,
        &csrf,
        vnets,
        json!({ "vnet": "devalic1", "zone": "userlab", "tag": 1003 }),
    )
    .await;
    assert_eq!(s, 409, "{body}");
    let (s, body) = get(&alice, "/api/proxmox/sdn/vnets/next-tag?zone=userlab").await;
    assert_eq!(s, 200);
    assert_eq!(
        (body["nextTag"].as_i64(), body["suggestedName"].as_str()),
        (Some(1003), Some("DEValic3"))
    );
    let (s, _) = post(
        &bob,
        &bcsrf,
        vnets,
        json!({ "vnet": "DEVbob1", "zone": "altzone", "tag": 300 }),
    )
    .await;
    assert_eq!(s, 200);

    // Lists: own VNets; with includeAll the designated zones' and SDN-privileged zones'.
    let (_, l) = get(&alice, vnets).await;
    assert_eq!(ids(&l, "vnets", "vnet"), ["DEValic1", "DEValic2"], "{l}");
    let (_, l) = get(&alice, "/api/proxmox/sdn/vnets?includeAll=true").await;
    assert_eq!(
        ids(&l, "vnets", "vnet"),
        ["DEValic1", "DEValic2", "DEVbob1"],
        "{l}"
    );
    let (_, l) = get(&gina, "/api/proxmox/sdn/vnets?includeAll=true").await;
    assert_eq!(
        ids(&l, "vnets", "vnet"),
        ["DEValic1", "DEValic2", "DEVbob1", "devnet1", "devnet2"],
        "{l}"
    );
    let (_, l) = get(&oscar, vnets).await;
    assert_eq!(ids(&l, "vnets", "vnet"), Vec::<String>::new(), "{l}");
    let (_, l) = get(&admin, vnets).await;
    assert_eq!(
        ids(&l, "vnets", "vnet"),
        ["DEValic1", "DEValic2", "DEVbob1", "devnet1", "devnet2"],
        "{l}"
    );
    let (_, l) = get(&admin, "/api/proxmox/sdn/vnets?includeAll=true").await;
    assert_eq!(
        ids(&l, "vnets", "vnet"),
        ["DEValic1", "DEValic2", "DEVbob1"],
        "{l}"
    );

    // The per-user cap counts by the owner in the alias: a custom alias doesn't evade it, and
    // administrators aren't held to it.
    let resp = admin
        .post_json(
            "/api/settings/limits",
            Some(&acsrf),
            json!({ "maxVnetsPerUser": 2 }),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let (s, body) = post(
        &alice,
        &csrf,
        vnets,
        json!({ "vnet": "DEValic3", "zone": "userlab", "tag": 1003, "alias": "x_DEV_someone" }),
    )
    .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (403, Some("quota_exceeded")),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("2 VNets"),
        "{body}"
    );
    let (s, body) = post(
        &admin,
        &acsrf,
        vnets,
        json!({ "vnet": "labnet", "zone": "altzone", "tag": 301, "alias": "Lab network" }),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["alias"], "Lab network");

    // Deleting: only one's own (others' are refused, unknown ones not found), admins any.
    let (s, body) = delete(&bob, &bcsrf, vnets, Some(json!({ "vnet": "DEValic1" }))).await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (403, Some("forbidden")),
        "{body}"
    );
    let (s, _) = delete(&oscar, &ocsrf, "/api/proxmox/sdn/vnets?vnet=devnet1", None).await;
    assert_eq!(s, 404, "oscar can't see devnet1");
    let (s, body) = delete(&alice, &csrf, vnets, Some(json!({ "vnet": "a/b" }))).await;
    assert_eq!((s, field(&body)), (400, "vnet"), "{body}");
    let (s, _) = delete(&alice, &csrf, vnets, Some(json!({ "vnet": "DEVnone1" }))).await;
    assert_eq!(s, 404);
    let (s, body) = delete(&alice, &csrf, vnets, Some(json!({ "vnet": "DEValic1" }))).await;
    assert_eq!(s, 200, "{body}");
    let (s, body) = delete(&admin, &acsrf, "/api/proxmox/sdn/vnets?vnet=DEVbob1", None).await;
    assert_eq!(s, 200, "{body}");
    // A freed slot can be used again.
    let (s, body) = post(
        &alice,
        &csrf,
        vnets,
        json!({ "vnet": "DEValic3", "zone": "userlab", "tag": 1003 }),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let names: Vec<String> = {
        let list: Vec<Value> = app.state.pve.get("cluster/sdn/vnets").await.unwrap();
        let mut n: Vec<String> = list
            .iter()
            .filter_map(|v| v["vnet"].as_str().map(str::to_owned))
            .collect();
        n.sort();
        n
    };
    assert_eq!(
        names,
        ["DEValic2", "DEValic3", "devnet1", "devnet2", "labnet"],
        "Proxmox agrees"
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn pool_vnets_need_a_managed_pool_and_fit_its_quota() {
    let app = app().await;
    pve_setup(&app).await;
    let (admin, acsrf) = app.session_as("root", &[], true).await;
    let (alice, csrf) = app.session_as("alice", &[], false).await;
    let (paul, pcsrf) = app.session_as("paul", &[], false).await;
    let (gina, gcsrf) = app.session_as("gina", &["devs"], false).await;
    let vnets = "/api/proxmox/sdn/vnets";
    let resp = admin
        .send(
            Method::PUT,
            "/api/proxmox/pools/DEV_alice_1/limits",
            Some(&acsrf),
            Some(json!({ "maxVnets": 1 })),
        )
        .await;
    assert_eq!(resp.status(), 200);

    let (s, body) = post(
        &alice,
        &csrf,
        vnets,
        json!({ "vnet": "DEValic1", "zone": "userlab", "tag": 1010, "poolId": "DEV_alice_1" }),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["alias"], "DEV_alice_1_1010_DEV_alice");
    let (s, body) = post(
        &alice,
        &csrf,
        vnets,
        json!({ "vnet": "DEValic2", "zone": "userlab", "tag": 1011, "poolId": "DEV_alice_1", "alias": "db" }),
    )
    .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (403, Some("quota_exceeded")),
        "{body}"
    );
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(msg.contains("allows 1 VNets, has 1"), "{msg}");
    // The pool's limits show the VNet in its usage.
    let limits: Value = alice
        .get("/api/proxmox/pools/DEV_alice_1/limits")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(limits["usage"]["vnets"], 1, "{limits}");
    assert_eq!(limits["remaining"]["vnets"], 0, "{limits}");
    // Only administrators may override, and it is honoured for them.
    let (s, body) = post(
        &alice,
        &csrf,
        vnets,
        json!({ "vnet": "DEValic2", "zone": "userlab", "tag": 1011, "poolId": "DEV_alice_1", "override": true }),
    )
    .await;
    assert_eq!(s, 403, "{body}");
    let (s, body) = post(
        &admin,
        &acsrf,
        vnets,
        json!({ "vnet": "adminv1", "zone": "userlab", "tag": 1012, "poolId": "DEV_alice_1" }),
    )
    .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (403, Some("quota_exceeded")),
        "admins are held too: {body}"
    );
    let (s, body) = post(
        &admin,
        &acsrf,
        vnets,
        json!({ "vnet": "adminv1", "zone": "userlab", "tag": 1012, "poolId": "DEV_alice_1", "override": true }),
    )
    .await;
    assert_eq!(s, 200, "{body}");

    // A pool the caller doesn't see is not found; one they see but don't manage is refused.
    let (s, body) = post(
        &alice,
        &csrf,
        vnets,
        json!({ "vnet": "DEValic5", "zone": "userlab", "tag": 1020, "poolId": "DEV_bob_1" }),
    )
    .await;
    assert_eq!(s, 404, "{body}");
    let (s, body) = post(
        &paul,
        &pcsrf,
        vnets,
        json!({ "vnet": "DEVpaul1", "zone": "userlab", "tag": 1021, "poolId": "DEV_bob_1" }),
    )
    .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (403, Some("forbidden")),
        "{body}"
    );
    // Group-owned pools are managed by their members.
    let (s, body) = post(
        &gina,
        &gcsrf,
        vnets,
        json!({ "vnet": "DEVgina1", "zone": "userlab", "tag": 1022, "poolId": "DEV_devs_1" }),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["alias"], "DEV_devs_1_1022_DEV_gina");

    // Whoever sees the pool sees its VNets.
    let (bob, _) = app.session_as("bob", &["devs"], false).await;
    let (_, l) = get(&bob, vnets).await;
    assert_eq!(ids(&l, "vnets", "vnet"), ["DEVgina1"], "{l}");
    // A manager of the pool may delete its VNets (not only their creator); others may not.
    let (s, body) = delete(&gina, &gcsrf, vnets, Some(json!({ "vnet": "adminv1" }))).await;
    assert_eq!(s, 403, "{body}");
    let (s, body) = delete(&alice, &csrf, vnets, Some(json!({ "vnet": "adminv1" }))).await;
    assert_eq!(s, 200, "a manager of DEV_alice_1 may: {body}");
    app.stop().await.unwrap();
}

async fn apply(b: &Browser, csrf: Option<&str>) -> reqwest::Response {
    b.send(Method::POST, "/api/proxmox/sdn/apply-queue", csrf, None)
        .await
}

#[tokio::test]
async fn apply_is_for_admins_once_per_cooldown_and_a_failure_gives_it_back() {
    let app = app().await;
    pve_setup(&app).await;
    let sim = app.sim.clone().unwrap();
    let (admin, acsrf) = app.session_as("root", &[], true).await;
    let (alice, csrf) = app.session_as("alice", &[], false).await;

    let (s, body) = json_of(apply(&alice, Some(&csrf)).await).await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (403, Some("forbidden")),
        "{body}"
    );
    let (s, body) = json_of(apply(&admin, None).await).await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (403, Some("invalid_csrf")),
        "{body}"
    );

    // Proxmox unreachable: refused with 503, and the cooldown is not taken.
    let (s, _) = get(&admin, "/api/proxmox/sdn/zones").await;
    assert_eq!(s, 200, "warms the ACL view");
    sim.set_api_down(true);
    let (s, body) = json_of(apply(&admin, Some(&acsrf)).await).await;
    sim.set_api_down(false);
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (503, Some("unavailable")),
        "{body}"
    );
    let (_, q) = get(&admin, "/api/proxmox/sdn/apply-queue").await;
    assert_eq!(q["remainingSeconds"], 0, "{q}");

    // Proxmox refuses: its own words reach the admin, and the cooldown is given back.
    let (s, _) = get(&admin, "/api/proxmox/sdn/zones").await;
    assert_eq!(s, 200);
    sim.set_error_rate(1.0);
    let (s, body) = json_of(apply(&admin, Some(&acsrf)).await).await;
    sim.set_error_rate(0.0);
    assert_eq!(s, 409, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("simulated failure"),
        "{body}"
    );
    let (_, q) = get(&admin, "/api/proxmox/sdn/apply-queue").await;
    assert_eq!(q["remainingSeconds"], 0, "{q}");

    // A pending VNet, then a successful apply: the cooldown starts and Proxmox runs the new
    // configuration once its task ends.
    let (s, body) = post(
        &alice,
        &csrf,
        "/api/proxmox/sdn/vnets",
        json!({ "vnet": "DEValic1", "zone": "userlab", "tag": 1001 }),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let (s, body) = json_of(apply(&admin, Some(&acsrf)).await).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["cooldownSeconds"], 300);
    assert!(
        body["upid"]
            .as_str()
            .unwrap()
            .contains(":reloadnetworkall:"),
        "{body}"
    );
    let pve = app.state.pve.clone();
    eventually(
        Duration::from_secs(10),
        "the apply task runs the new VNet",
        || {
            let pve = pve.clone();
            async move {
                let running: Vec<Value> = pve
                    .get_with("cluster/sdn/vnets", &[("running", "1".to_owned())])
                    .await
                    .unwrap_or_default();
                running.iter().any(|v| v["vnet"] == "DEValic1")
            }
        },
    )
    .await;
    let (s, st) = get(&alice, "/api/proxmox/sdn/status").await;
    assert_eq!(s, 200, "{st}");
    assert!(st["isRunning"].is_boolean(), "{st}");

    // Everyone sees the wait; only admins who applied.
    let (_, q) = get(&admin, "/api/proxmox/sdn/apply-queue").await;
    let left = q["remainingSeconds"].as_u64().unwrap();
    assert!((290..=300).contains(&left), "{q}");
    assert_eq!(q["appliedBy"], "root");
    let (_, q) = get(&alice, "/api/proxmox/sdn/apply-queue").await;
    assert!(q["remainingSeconds"].as_u64().unwrap() > 0, "{q}");
    assert!(q["appliedBy"].is_null(), "{q}");

    // A second apply within the cooldown is refused with the wait.
    let resp = apply(&admin, Some(&acsrf)).await;
    assert_eq!(resp.status(), 429);
    let wait: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((290..=300).contains(&wait), "{wait}");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn the_apply_cooldown_is_shared_through_redis() {
    let url =
        std::env::var("UMA_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let a = app_with(&[("REDIS_URL", &url)]).await;
    let b = app_with(&[("REDIS_URL", &url)]).await;
    let redis = a.state.redis.clone().expect("Redis is configured");
    let r = &redis;
    let clear = move || async move {
        use fred::interfaces::KeysInterface;
        let _: i64 = r.del(uma::services::sdn::COOLDOWN_KEY).await.expect(
            "Redis is needed for this test: start it (`make services`) or set UMA_TEST_REDIS_URL",
        );
    };
    clear().await;
    let (admin_a, csrf_a) = a.session_as("root", &[], true).await;
    let (admin_b, csrf_b) = b.session_as("root", &[], true).await;
    let (rita, _) = b.session_as("rita", &[], true).await;

    // A failed apply on one instance gives the shared cooldown back.
    let (s, _) = get(&admin_b, "/api/proxmox/sdn/zones").await;
    assert_eq!(s, 200);
    b.sim.as_ref().unwrap().set_error_rate(1.0);
    let (s, body) = json_of(apply(&admin_b, Some(&csrf_b)).await).await;
    b.sim.as_ref().unwrap().set_error_rate(0.0);
    assert_eq!(s, 409, "{body}");

    // An apply on one instance holds the other.
    let (s, body) = json_of(apply(&admin_a, Some(&csrf_a)).await).await;
    assert_eq!(s, 200, "{body}");
    let (_, q) = get(&rita, "/api/proxmox/sdn/apply-queue").await;
    assert!(q["remainingSeconds"].as_u64().unwrap() > 250, "{q}");
    assert_eq!(q["appliedBy"], "root", "{q}");
    let (s, body) = json_of(apply(&admin_b, Some(&csrf_b)).await).await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (429, Some("rate_limited")),
        "{body}"
    );
    clear().await;
    let (s, body) = json_of(apply(&admin_b, Some(&csrf_b)).await).await;
    assert_eq!(s, 200, "{body}");
    clear().await;
    a.stop().await.unwrap();
    b.stop().await.unwrap();
}

#[tokio::test]
async fn every_sdn_and_replication_request_writes_exactly_one_audit_row() {
    let app = app().await;
    pve_setup(&app).await;
    let (admin, acsrf) = app.session_as("root", &[], true).await;
    let (alice, csrf) = app.session_as("alice", &[], false).await;
    let (bob, bcsrf) = app.session_as("bob", &[], false).await;
    let (victor, vcsrf) = app.session_as("victor", &[], false).await;
    let (oscar, _) = app.session_as("oscar", &[], false).await;
    type Call<'a> = (
        &'a Browser,
        &'a str,
        Method,
        &'a str,
        Option<Value>,
        &'a str,
        &'a str,
    );
    let zone = |z: &str, t: &str| json!({ "zone": z, "type": t });
    let calls: Vec<Call> = vec![
        (
            &admin,
            &acsrf,
            Method::POST,
            "/api/proxmox/sdn/zones",
            Some(zone("altzone", "simple")),
            "ZONE_CREATE",
            "SUCCESS",
        ),
        (
            &alice,
            &csrf,
            Method::POST,
            "/api/proxmox/sdn/zones",
            Some(zone("lab3", "simple")),
            "ZONE_CREATE",
            "FAILURE",
        ),
        (
            &admin,
            &acsrf,
            Method::POST,
            "/api/proxmox/sdn/zones",
            Some(zone("altzone", "simple")),
            "ZONE_CREATE",
            "FAILURE",
        ),
        (
            &alice,
            &csrf,
            Method::POST,
            "/api/proxmox/sdn/vnets",
            Some(json!({ "vnet": "DEValic1", "zone": "userlab", "tag": 1001 })),
            "VNET_CREATE",
            "SUCCESS",
        ),
        (
            &alice,
            &csrf,
            Method::POST,
            "/api/proxmox/sdn/vnets",
            Some(json!({ "vnet": "DEVbob9", "zone": "userlab", "tag": 1002 })),
            "VNET_CREATE",
            "FAILURE",
        ),
        (
            &alice,
            &csrf,
            Method::POST,
            "/api/proxmox/sdn/vnets",
            Some(
                json!({ "vnet": "DEValic2", "zone": "userlab", "tag": 1003, "poolId": "DEV_bob_1" }),
            ),
            "VNET_CREATE",
            "FAILURE",
        ),
        (
            &bob,
            &bcsrf,
            Method::DELETE,
            "/api/proxmox/sdn/vnets",
            Some(json!({ "vnet": "DEValic1" })),
            "VNET_DELETE",
            "FAILURE",
        ),
        (
            &alice,
            &csrf,
            Method::DELETE,
            "/api/proxmox/sdn/vnets",
            Some(json!({ "vnet": "DEValic1" })),
            "VNET_DELETE",
            "SUCCESS",
        ),
        (
            &alice,
            &csrf,
            Method::POST,
            "/api/proxmox/sdn/apply-queue",
            None,
            "SDN_APPLY",
            "FAILURE",
        ),
        (
            &admin,
            &acsrf,
            Method::POST,
            "/api/proxmox/sdn/apply-queue",
            None,
            "SDN_APPLY",
            "SUCCESS",
        ),
        (
            &admin,
            &acsrf,
            Method::POST,
            "/api/proxmox/sdn/apply-queue",
            None,
            "SDN_APPLY",
            "WARNING",
        ),
        (
            &alice,
            &csrf,
            Method::POST,
            "/api/proxmox/cluster/replication",
            Some(json!({ "vmid": 100, "target": "pve2" })),
            "REPLICATION_CREATE",
            "SUCCESS",
        ),
        (
            &alice,
            &csrf,
            Method::POST,
            "/api/proxmox/cluster/replication",
            Some(json!({ "vmid": 100, "target": "pve1" })),
            "REPLICATION_CREATE",
            "FAILURE",
        ),
        (
            &victor,
            &vcsrf,
            Method::POST,
            "/api/proxmox/cluster/replication",
            Some(json!({ "vmid": 130, "target": "pve2" })),
            "REPLICATION_CREATE",
            "FAILURE",
        ),
        (
            &victor,
            &vcsrf,
            Method::DELETE,
            "/api/proxmox/cluster/replication/130-0",
            None,
            "REPLICATION_DELETE",
            "FAILURE",
        ),
        (
            &alice,
            &csrf,
            Method::DELETE,
            "/api/proxmox/cluster/replication/100-5",
            None,
            "REPLICATION_DELETE",
            "FAILURE",
        ),
        (
            &alice,
            &csrf,
            Method::DELETE,
            "/api/proxmox/cluster/replication/100-0",
            None,
            "REPLICATION_DELETE",
            "SUCCESS",
        ),
        (
            &alice,
            &csrf,
            Method::GET,
            "/api/proxmox/sdn/zones",
            None,
            "VIEW_ZONES",
            "SUCCESS",
        ),
        (
            &alice,
            &csrf,
            Method::GET,
            "/api/proxmox/sdn/vnets?includeAll=true",
            None,
            "VIEW_VNETS",
            "SUCCESS",
        ),
        (
            &alice,
            &csrf,
            Method::GET,
            "/api/proxmox/sdn/vnets/next-tag?zone=userlab",
            None,
            "VIEW_NEXT_TAG",
            "SUCCESS",
        ),
        (
            &alice,
            &csrf,
            Method::GET,
            "/api/proxmox/cluster/replication?vmid=101",
            None,
            "VIEW_REPLICATION",
            "SUCCESS",
        ),
        (
            &alice,
            &csrf,
            Method::GET,
            "/api/proxmox/access/roles",
            None,
            "VIEW_ROLES",
            "SUCCESS",
        ),
        (
            &oscar,
            "",
            Method::GET,
            "/api/proxmox/access/users",
            None,
            "VIEW_USERS",
            "FAILURE",
        ),
    ];
    let mut expected = Vec::new();
    for (b, token, method, path, body, action, status) in &calls {
        let token = (!token.is_empty()).then_some(*token);
        let resp = b.send(method.clone(), path, token, body.clone()).await;
        let op = resp.headers()["x-op-id"].to_str().unwrap().to_owned();
        let code = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let ok = (200..300).contains(&code);
        assert_eq!(ok, *status == "SUCCESS", "{method} {path}: {code} {text}");
        expected.push((op, *action, *status, format!("{method} {path} ({code})")));
    }
    app.flush_audit().await;
    let store = app.store().await;
    let rows = store
        .list_audit(&uma::store::audit::AuditFilter::default(), 1000, 0)
        .await
        .unwrap();
    store.close().await;
    for (op, action, status, what) in expected {
        let mine: Vec<_> = rows
            .iter()
            .filter(|r| r.op_id.as_deref() == Some(op.as_str()))
            .collect();
        assert_eq!(mine.len(), 1, "{what}: rows {mine:?}");
        assert_eq!(
            (mine[0].action.as_str(), mine[0].status.as_str()),
            (action, status),
            "{what}: {mine:?}"
        );
    }
    app.stop().await.unwrap();
}
