//! Public templates are the public pool's templates, guest ids carry no old guest's backups,
//! and a guest's watchers are dropped when the guest or their access goes.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use super::harness::{app, grant, pve_put, quiet, refused, Db, Tenant};
use crate::support::on_both;

on_both!(
    only_templates_of_the_public_pool_are_public,
    an_id_with_backups_is_never_handed_to_another_guest,
    watchers_are_dropped_when_the_guest_or_their_access_goes,
);

async fn only_templates_of_the_public_pool_are_public(db: Db) {
    let app = app(db).await;
    let alice = Tenant::new(&app, "alice", &[]).await;
    let bob = Tenant::new(&app, "bob", &[]).await;
    // Bob plants a template with an id in 4000-4099 in his own pool.
    bob.call(
        Method::POST,
        "/api/proxmox/nodes/pve1/qemu",
        Some(json!({ "vmid": 4050, "pool": "DEV_bob_1", "cores": 1, "memory": 512 })),
    )
    .await
    .ok("bob creates 4050");
    quiet(&app).await;
    bob.call(Method::POST, "/api/proxmox/vm/4050/template", None)
        .await
        .ok("bob makes it a template");
    quiet(&app).await;
    // Alice's own VM in that range is no more public.
    alice
        .call(
            Method::POST,
            "/api/proxmox/nodes/pve1/qemu",
            Some(json!({ "vmid": 4001, "pool": "DEV_alice_1", "cores": 1, "memory": 512 })),
        )
        .await
        .ok("alice creates 4001");
    quiet(&app).await;
    let clone = |source: u64, pool: &str| {
        Some(json!({ "sourceVmId": source, "poolId": pool, "fullClone": true }))
    };
    refused(
        &app,
        &alice,
        Method::POST,
        "/api/proxmox/clone",
        clone(4050, "DEV_alice_1"),
        404,
        "No guest 4050",
        "VM_CLONE",
    )
    .await;
    refused(
        &app,
        &bob,
        Method::POST,
        "/api/proxmox/clone",
        clone(4001, "DEV_bob_1"),
        404,
        "No guest 4001",
        "VM_CLONE",
    )
    .await;
    // A guest in the public pool that is no template is not public either.
    pve_put(
        &app,
        "pools",
        &[("poolid", "TEMPLATES"), ("vms", "150"), ("allow-move", "1")],
    )
    .await;
    refused(
        &app,
        &alice,
        Method::POST,
        "/api/proxmox/clone",
        clone(150, "DEV_alice_1"),
        404,
        "No guest 150",
        "VM_CLONE",
    )
    .await;
    // The public pool's templates are for everyone, onto a storage of theirs: the template's
    // own storage is not open to alice, so she can't clone beside it.
    refused(
        &app,
        &alice,
        Method::POST,
        "/api/proxmox/clone",
        clone(9000, "DEV_alice_1"),
        403,
        "may not allocate on storage nas",
        "VM_CLONE",
    )
    .await;
    grant(&app, "/storage/local-lvm", "PVEDatastoreUser", "alice@pve").await;
    alice
        .call(
            Method::POST,
            "/api/proxmox/clone",
            Some(json!({ "sourceVmId": 9000, "poolId": "DEV_alice_1", "fullClone": true, "storage": "local-lvm" })),
        )
        .await
        .ok("alice clones the public template onto her storage");
    let listed = alice.get("/api/proxmox/templates").await.ok("templates");
    let ids: Vec<u64> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["vmid"].as_u64())
        .collect();
    assert!(
        ids.contains(&9000) && !ids.contains(&4050) && !ids.contains(&150),
        "{listed}"
    );
    app.stop().await.unwrap();
}

async fn an_id_with_backups_is_never_handed_to_another_guest(db: Db) {
    let app = app(db).await;
    for user in ["alice@pve", "bob@pve"] {
        grant(&app, "/storage/local", "PVEDatastoreUser", user).await;
    }
    let alice = Tenant::new(&app, "alice", &[]).await;
    let bob = Tenant::new(&app, "bob", &[]).await;
    let made = alice
        .call(
            Method::POST,
            "/api/proxmox/nodes/pve1/qemu",
            Some(json!({ "pool": "DEV_alice_1", "cores": 1, "memory": 512 })),
        )
        .await
        .ok("alice creates a VM");
    let id = made["vmid"].as_u64().unwrap();
    quiet(&app).await;
    alice
        .call(
            Method::POST,
            &format!("/api/proxmox/vm/{id}/backups"),
            Some(json!({ "storage": "local" })),
        )
        .await
        .ok("alice backs it up");
    quiet(&app).await;
    alice
        .call(Method::DELETE, &format!("/api/proxmox/vm/{id}"), None)
        .await
        .ok("alice deletes it");
    quiet(&app).await;
    app.state.acl.invalidate();
    // Bob can't take the id by name...
    refused(
        &app,
        &bob,
        Method::POST,
        "/api/proxmox/nodes/pve1/qemu",
        Some(json!({ "vmid": id, "pool": "DEV_bob_1", "cores": 1, "memory": 512 })),
        409,
        "backups",
        "VM_CREATE",
    )
    .await;
    // ...nor is it picked for him, nor offered as the next id.
    let next = bob.get("/api/proxmox/next-id").await.ok("next id");
    let next_id = next["nextId"].as_u64().unwrap_or_else(|| panic!("{next}"));
    assert_ne!(next_id, id, "{next}");
    let his = bob
        .call(
            Method::POST,
            "/api/proxmox/nodes/pve1/qemu",
            Some(json!({ "pool": "DEV_bob_1", "cores": 1, "memory": 512 })),
        )
        .await
        .ok("bob creates a VM");
    let his_id = his["vmid"].as_u64().unwrap();
    assert_ne!(his_id, id);
    quiet(&app).await;
    let backups = bob
        .get(&format!("/api/proxmox/vm/{his_id}/backups"))
        .await
        .ok("bob's backups");
    assert_eq!(backups["data"], json!([]), "{backups}");
    app.stop().await.unwrap();
}

/// Waits for `event` about `vmid` on the socket.
async fn wait_for(
    s: &crate::support::sio::PollingSocket,
    event: &str,
    vmid: u64,
    within: Duration,
) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < deadline {
        if let Some(v) = s
            .wait_event(event, deadline - tokio::time::Instant::now())
            .await
        {
            if v["vmid"] == vmid {
                return Some(v);
            }
        }
    }
    None
}

async fn watchers_are_dropped_when_the_guest_or_their_access_goes(db: Db) {
    let app = app(db).await;
    let alice = Tenant::new(&app, "alice", &[]).await;
    let s = alice.socket(&app).await;
    for vmid in [102u64, 104] {
        let ack = s
            .emit_ack(
                "guest:watch",
                json!({ "vmid": vmid }),
                Duration::from_secs(15),
            )
            .await
            .unwrap();
        assert_eq!(ack["ok"], true, "{ack}");
    }
    // An administrator moves 102 to Bob's pool: alice's watch ends.
    pve_put(
        &app,
        "pools",
        &[("poolid", "DEV_bob_1"), ("vms", "102"), ("allow-move", "1")],
    )
    .await;
    let ended = wait_for(&s, "guest:revoked", 102, Duration::from_secs(12))
        .await
        .expect("alice is told her watch of 102 ended");
    assert!(ended["reason"].as_str().is_some(), "{ended}");
    // Alice deletes 104: its watchers are told it is gone.
    alice
        .call(Method::DELETE, "/api/proxmox/vm/104", None)
        .await
        .ok("delete 104");
    wait_for(&s, "guest:revoked", 104, Duration::from_secs(12))
        .await
        .expect("the watch of a deleted guest ends");
    // No more updates of 102 reach her.
    assert!(
        wait_for(&s, "guest:update", 102, Duration::from_secs(7))
            .await
            .is_none(),
        "alice still receives 102"
    );
    app.stop().await.unwrap();
}
