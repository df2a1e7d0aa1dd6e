//! Pool ownership is exact: `DEV_<owner>_<digits>`, the owner compared whole, never as a prefix.

use reqwest::Method;
use serde_json::json;

use super::harness::{app, pve_post, refused, sim_state, Db, Tenant};
use crate::support::on_both;

on_both!(
    a_name_prefix_owns_nothing,
    owners_whose_names_sanitize_alike_cannot_share_pools,
);

async fn a_name_prefix_owns_nothing(db: Db) {
    let app = app(db).await;
    for user in ["alice.smith@pve", "devs.admin@pve"] {
        pve_post(&app, "access/users", &[("userid", user)]).await;
    }
    // Pools of others whose names start like alice's (and the group devs's).
    for (pool, comment) in [
        ("DEV_alice_smith_1", "[Owner: user:alice.smith@pve]"),
        ("DEV_devs_admin_1", "[Owner: user:devs.admin@pve]"),
        ("DEV_alice_x", "not a numbered pool"),
    ] {
        pve_post(&app, "pools", &[("poolid", pool), ("comment", comment)]).await;
    }
    let alice = Tenant::new(&app, "alice", &[]).await;
    let listed = alice.get("/api/proxmox/pools").await.ok("pools");
    let ids: Vec<&str> = listed["pools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["poolid"].as_str())
        .collect();
    assert_eq!(ids, ["DEV_alice_1"], "{listed}");

    for pool in ["DEV_alice_smith_1", "DEV_alice_x"] {
        refused(
            &app,
            &alice,
            Method::DELETE,
            &format!("/api/proxmox/pools/{pool}"),
            None,
            404,
            &format!("No pool {pool}"),
            "POOL_DELETE",
        )
        .await;
        refused(
            &app,
            &alice,
            Method::POST,
            "/api/proxmox/pools/acl",
            Some(json!({ "poolId": pool, "type": "user", "username": "alice", "role": "PVEVMAdmin" })),
            404,
            &format!("No pool {pool}"),
            "POOL_ACL_UPDATE",
        )
        .await;
    }
    refused(
        &app,
        &alice,
        Method::POST,
        "/api/proxmox/nodes/pve1/qemu",
        Some(json!({ "pool": "DEV_alice_smith_1", "cores": 1, "memory": 512 })),
        403,
        "may not create guests in pool DEV_alice_smith_1",
        "VM_CREATE",
    )
    .await;
    // A member of the group devs owns DEV_devs_1, not DEV_devs_admin_1.
    let gina = Tenant::new(&app, "gina", &["devs"]).await;
    refused(
        &app,
        &gina,
        Method::DELETE,
        "/api/proxmox/pools/DEV_devs_admin_1",
        None,
        404,
        "No pool DEV_devs_admin_1",
        "POOL_DELETE",
    )
    .await;
    let detail = gina.get("/api/proxmox/pools/DEV_devs_1").await;
    assert_eq!(detail.status, 200, "{:?}", detail.body);
    app.stop().await.unwrap();
}

async fn owners_whose_names_sanitize_alike_cannot_share_pools(db: Db) {
    let app = app(db).await;
    for user in ["john.doe@pve", "john_doe@pve", "john@pve"] {
        pve_post(&app, "access/users", &[("userid", user)]).await;
    }
    let dotted = Tenant::new(&app, "john.doe", &[]).await;
    let made = dotted
        .call(
            Method::POST,
            "/api/proxmox/pools",
            Some(json!({ "comment": "lab" })),
        )
        .await
        .ok("john.doe creates a pool");
    assert_eq!(made["poolid"], "DEV_john_doe_1", "{made}");

    // john_doe would get the same DEV_john_doe_ names: refused, and he owns none of them.
    let underscored = Tenant::new(&app, "john_doe", &[]).await;
    refused(
        &app,
        &underscored,
        Method::POST,
        "/api/proxmox/pools",
        Some(json!({ "comment": "mine" })),
        409,
        "another owner",
        "POOL_CREATE",
    )
    .await;
    refused(
        &app,
        &underscored,
        Method::DELETE,
        "/api/proxmox/pools/DEV_john_doe_1",
        None,
        404,
        "No pool DEV_john_doe_1",
        "POOL_DELETE",
    )
    .await;
    // john is a prefix of john.doe: nothing of his either.
    let john = Tenant::new(&app, "john", &[]).await;
    refused(
        &app,
        &john,
        Method::POST,
        "/api/proxmox/pools/acl",
        Some(json!({ "poolId": "DEV_john_doe_1", "type": "user", "username": "john", "role": "PVEVMAdmin" })),
        404,
        "No pool DEV_john_doe_1",
        "POOL_ACL_UPDATE",
    )
    .await;
    // The owner still manages it.
    let before = sim_state(&app);
    let ok = dotted.get("/api/proxmox/pools/DEV_john_doe_1").await;
    assert_eq!(ok.status, 200, "{:?}", ok.body);
    assert_eq!(ok.body["pool"]["allowManage"], true);
    assert_eq!(before, sim_state(&app));
    app.stop().await.unwrap();
}
