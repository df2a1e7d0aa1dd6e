//! Pool quotas end to end: each limit blocks what exceeds it and allows what fits, concurrent
//! creates never pass a nearly full quota, and a Proxmox outage during the check refuses the
//! request.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::browser::Browser;
use crate::support::{on_both, Db, TestApp};

on_both!(
    each_limit_blocks_what_exceeds_it_and_allows_what_fits,
    twenty_concurrent_creates_against_room_for_three_make_three,
    a_proxmox_outage_during_the_check_refuses_the_request,
);

async fn app_on(db: Db) -> TestApp {
    // Short tasks: a created guest's task ends by the next request.
    TestApp::demo("pools")
        .on(db)
        .tasks_take(Duration::from_millis(10))
        .start()
        .await
}

async fn limits(b: &Browser, pool: &str) -> Value {
    let resp = b.get(&format!("/api/proxmox/pools/{pool}/limits")).await;
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

async fn set_limits(admin: &Browser, csrf: &str, pool: &str, body: Value) {
    let resp = admin
        .send(
            Method::PUT,
            &format!("/api/proxmox/pools/{pool}/limits"),
            Some(csrf),
            Some(body),
        )
        .await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
}

async fn create_vm(b: &Browser, csrf: &str, body: Value) -> (u16, Value) {
    let resp = b
        .post_json("/api/proxmox/nodes/pve1/qemu", Some(csrf), body)
        .await;
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn each_limit_blocks_what_exceeds_it_and_allows_what_fits(db: Db) {
    let app = app_on(db).await;
    let (admin, acsrf) = app.session_as("root", &[], true).await;
    let (alice, csrf) = app.session_as("alice", &[], false).await;
    let pool = "DEV_alice_1";
    let used = limits(&alice, pool).await["usage"].clone();
    let n = |k: &str| used[k].as_i64().unwrap();
    assert_eq!(n("vms"), 3, "{used}");
    assert_eq!(n("lxcs"), 2, "{used}");

    // VMs: full, then room for one.
    set_limits(&admin, &acsrf, pool, json!({ "maxVMs": n("vms") })).await;
    let (status, body) = create_vm(
        &alice,
        &csrf,
        json!({ "pool": pool, "cores": 1, "memory": 512 }),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "quota_exceeded");
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("allows 3 VMs, has 3") && msg.contains("adds 1 (0 left)"),
        "{msg}"
    );

    // vCPUs: two left; four refused, two fit.
    set_limits(&admin, &acsrf, pool, json!({ "maxCpu": n("cpu") + 2 })).await;
    let (status, body) = create_vm(
        &alice,
        &csrf,
        json!({ "pool": pool, "cores": 4, "memory": 512 }),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("vCPUs"),
        "{body}"
    );
    let (status, body) = create_vm(
        &alice,
        &csrf,
        json!({ "pool": pool, "cores": 2, "memory": 512, "name": "fits-cpu" }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let new_vm = body["vmid"].as_u64().unwrap();

    // Memory: 1 GiB left (counting the VM just made, even before Proxmox lists it).
    let used = limits(&alice, pool).await["usage"].clone();
    let mem_used = used["memory"].as_i64().unwrap().max(n("memory") + 512);
    set_limits(
        &admin,
        &acsrf,
        pool,
        json!({ "maxMemory": mem_used + 1024 }),
    )
    .await;
    let (status, body) = create_vm(&alice, &csrf, json!({ "pool": pool, "memory": 2048 })).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("1024 MiB left"),
        "{body}"
    );
    let (status, body) = create_vm(
        &alice,
        &csrf,
        json!({ "pool": pool, "memory": 1024, "name": "fits-mem" }),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // Disk: 10 GiB left.
    app.tasks_settled().await;
    let used = limits(&alice, pool).await["usage"].clone();
    set_limits(
        &admin,
        &acsrf,
        pool,
        json!({ "maxDisk": used["disk"].as_i64().unwrap() + 10 }),
    )
    .await;
    let (status, body) = create_vm(
        &alice,
        &csrf,
        json!({ "pool": pool, "memory": 512, "storage": "local-lvm", "diskSize": 20 }),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = create_vm(&alice, &csrf, json!({ "pool": pool, "memory": 512, "storage": "local-lvm", "diskSize": 10, "name": "fits-disk" })).await;
    assert_eq!(status, 200, "{body}");
    // Growing a disk counts too: nothing is left.
    let resp = alice
        .send(
            Method::PUT,
            "/api/proxmox/vm/100/resize",
            Some(&csrf),
            Some(json!({ "disk": "scsi0", "size": "+1G" })),
        )
        .await;
    assert_eq!(resp.status(), 403, "{}", resp.text().await.unwrap());

    // vCPUs through a configuration change.
    app.tasks_settled().await;
    let used = limits(&alice, pool).await["usage"].clone();
    set_limits(
        &admin,
        &acsrf,
        pool,
        json!({ "maxCpu": used["cpu"].as_i64().unwrap() }),
    )
    .await;
    let resp = alice
        .send(
            Method::PUT,
            "/api/proxmox/vm/100/config",
            Some(&csrf),
            Some(json!({ "set": { "cores": 8 } })),
        )
        .await;
    assert_eq!(resp.status(), 403, "{}", resp.text().await.unwrap());
    let resp = alice
        .send(
            Method::PUT,
            "/api/proxmox/vm/100/config",
            Some(&csrf),
            Some(json!({ "set": { "cores": 1 } })),
        )
        .await;
    assert_eq!(
        resp.status(),
        200,
        "shrinking always fits: {}",
        resp.text().await.unwrap()
    );

    // Containers.
    set_limits(&admin, &acsrf, pool, json!({ "maxLXCs": n("lxcs") })).await;
    let ct = json!({
        "pool": pool, "ostemplate": "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst",
        "storage": "local-lvm", "diskSize": 4, "memory": 256,
    });
    let resp = alice
        .post_json("/api/proxmox/nodes/pve1/lxc", Some(&csrf), ct.clone())
        .await;
    assert_eq!(resp.status(), 403, "{}", resp.text().await.unwrap());
    set_limits(&admin, &acsrf, pool, json!({ "maxLXCs": n("lxcs") + 1 })).await;
    let resp = alice
        .post_json("/api/proxmox/nodes/pve1/lxc", Some(&csrf), ct.clone())
        .await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());

    // Admins are held too, unless they ask for an (audited) override; users can't.
    set_limits(&admin, &acsrf, pool, json!({ "maxVMs": 1 })).await;
    let (status, _) = create_vm(&admin, &acsrf, json!({ "pool": pool, "memory": 512 })).await;
    assert_eq!(status, 403);
    let (status, body) = create_vm(
        &admin,
        &acsrf,
        json!({ "pool": pool, "memory": 512, "override": true }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = create_vm(
        &alice,
        &csrf,
        json!({ "pool": pool, "memory": 512, "override": true }),
    )
    .await;
    assert_eq!(status, 403);

    // Limits: validation and who may set them.
    for bad in [
        json!({ "maxVMs": -1 }),
        json!({ "maxCpu": "many" }),
        json!({ "maxDisk": 1.5 }),
    ] {
        let resp = admin
            .send(
                Method::PUT,
                &format!("/api/proxmox/pools/{pool}/limits"),
                Some(&acsrf),
                Some(bad.clone()),
            )
            .await;
        assert_eq!(resp.status(), 400, "{bad}");
        let body: Value = resp.json().await.unwrap();
        assert!(body["error"]["field"].is_string(), "{body}");
    }
    let resp = alice
        .send(
            Method::PUT,
            &format!("/api/proxmox/pools/{pool}/limits"),
            Some(&csrf),
            Some(json!({ "maxVMs": 99 })),
        )
        .await;
    assert_eq!(resp.status(), 403);
    // A pool without its own row uses the global defaults (as its owner's budget).
    set_limits(&admin, &acsrf, "global", json!({ "maxVMs": 7 })).await;
    let (bob, _) = app.session_as("bob", &[], false).await;
    let l = limits(&bob, "DEV_bob_1").await;
    assert_eq!(l["source"], "owner");
    assert_eq!(l["limits"]["maxVMs"], 7);
    assert!(new_vm >= 100);
    app.stop().await.unwrap();
}

async fn twenty_concurrent_creates_against_room_for_three_make_three(db: Db) {
    let app = app_on(db).await;
    let (admin, acsrf) = app.session_as("root", &[], true).await;
    let (alice, csrf) = app.session_as("alice", &[], false).await;
    let pool = "DEV_alice_1";
    let used = limits(&alice, pool).await["usage"]["vms"].as_i64().unwrap();
    set_limits(&admin, &acsrf, pool, json!({ "maxVMs": used + 3 })).await;
    let alice = std::sync::Arc::new(alice);
    let mut tasks = Vec::new();
    for i in 0..20 {
        let alice = alice.clone();
        let csrf = csrf.clone();
        tasks.push(tokio::spawn(async move {
            create_vm(
                &alice,
                &csrf,
                json!({ "pool": pool, "memory": 256, "name": format!("burst-{i}") }),
            )
            .await
        }));
    }
    let mut ok = Vec::new();
    let mut refused = 0;
    for t in tasks {
        let (status, body) = t.await.unwrap();
        match status {
            200 => ok.push(body["vmid"].as_u64().unwrap()),
            403 => {
                assert_eq!(body["error"]["code"], "quota_exceeded", "{body}");
                refused += 1;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(ok.len(), 3, "created {ok:?}");
    assert_eq!(refused, 17);
    ok.sort_unstable();
    ok.dedup();
    assert_eq!(ok.len(), 3, "each create got its own id");
    // Proxmox agrees.
    app.tasks_settled().await;
    let after = limits(&alice, pool).await["usage"]["vms"].as_i64().unwrap();
    assert_eq!(after, used + 3);
    app.stop().await.unwrap();
}

async fn a_proxmox_outage_during_the_check_refuses_the_request(db: Db) {
    let app = app_on(db).await;
    let (admin, acsrf) = app.session_as("root", &[], true).await;
    let (alice, csrf) = app.session_as("alice", &[], false).await;
    set_limits(&admin, &acsrf, "DEV_alice_1", json!({ "maxVMs": 50 })).await;
    // Warm the ACL view, then take the API down: the quota read must fail closed.
    assert_eq!(alice.get("/api/proxmox/vm/100/status").await.status(), 200);
    let sim = app.sim.clone().unwrap();
    sim.set_api_down(true);
    let (status, body) = create_vm(
        &alice,
        &csrf,
        json!({ "pool": "DEV_alice_1", "memory": 512 }),
    )
    .await;
    sim.set_api_down(false);
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "unavailable");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("nothing was changed"),
        "{body}"
    );
    let before = limits(&alice, "DEV_alice_1").await["usage"]["vms"]
        .as_i64()
        .unwrap();
    assert_eq!(before, 3, "nothing was created");
    app.stop().await.unwrap();
}
