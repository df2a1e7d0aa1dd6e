//! Quotas count what Proxmox holds: every disk of every guest (templates too), vCPUs after
//! `set` and `delete`, and pools bounded per owner, sharing the owner's budget.

use reqwest::Method;
use serde_json::{json, Value};

use super::harness::{app, config_of, grant, quiet, refused, set_limits, usage, Db, Tenant};
use crate::support::on_both;
use crate::support::TestApp;

on_both!(
    usage_counts_every_disk_and_disks_added_by_config_are_charged,
    deleted_keys_count_in_what_the_guest_becomes,
    templates_keep_their_disks_in_the_pool,
    pools_per_owner_are_bounded_and_share_the_owners_budget,
);

fn n(v: &Value, k: &str) -> i64 {
    v[k].as_i64().unwrap_or_else(|| panic!("{k} in {v}"))
}

/// GiB of every disk of the pool's guests, read from their configs.
async fn disks_of_configs(app: &TestApp, vmids: &[u32]) -> i64 {
    let mut bytes: u64 = 0;
    for id in vmids {
        let cfg = config_of(app, *id).await;
        for (k, v) in cfg.as_object().unwrap() {
            let disk = [
                "ide", "sata", "scsi", "virtio", "rootfs", "mp", "efidisk", "tpmstate",
            ]
            .iter()
            .any(|p| k.starts_with(p) && k[p.len()..].chars().all(|c| c.is_ascii_digit()));
            let s = v.as_str().unwrap_or_default();
            if disk && !s.contains("media=cdrom") {
                let size = s.split(',').find_map(|p| p.strip_prefix("size=")).unwrap();
                let gib: f64 = size.trim_end_matches('G').parse().unwrap();
                bytes += (gib * (1u64 << 30) as f64) as u64;
            }
        }
    }
    bytes.div_ceil(1 << 30) as i64
}

async fn usage_counts_every_disk_and_disks_added_by_config_are_charged(db: Db) {
    let app = app(db).await;
    grant(&app, "/storage/local-lvm", "PVEDatastoreUser", "alice@pve").await;
    let alice = Tenant::new(&app, "alice", &[]).await;
    // A second disk on 100: Proxmox reports only the boot disk as `maxdisk`.
    let admin = Tenant::admin(&app).await;
    admin
        .call(
            Method::PUT,
            "/api/proxmox/vm/102/config",
            Some(json!({ "set": { "scsi1": "local-lvm:20" } })),
        )
        .await
        .ok("admin adds a disk");
    quiet(&app).await;
    let used = usage(&alice, "DEV_alice_1").await;
    let expected = disks_of_configs(&app, &[100, 101, 102, 103, 104]).await;
    assert_eq!(n(&used, "disk"), expected, "{used}");

    set_limits(&app, "DEV_alice_1", json!({ "maxDisk": expected + 5 })).await;
    let answer = refused(
        &app,
        &alice,
        Method::PUT,
        "/api/proxmox/vm/102/config",
        Some(json!({ "set": { "virtio3": "local-lvm:10" } })),
        403,
        "adds 10 GiB (5 GiB left)",
        "VM_UPDATE",
    )
    .await;
    assert_eq!(answer.body["error"]["code"], "quota_exceeded");
    // LXC mount points too.
    refused(
        &app,
        &alice,
        Method::PUT,
        "/api/proxmox/vm/104/config",
        Some(json!({ "set": { "mp0": "local-lvm:6,mp=/srv" } })),
        403,
        "adds 6 GiB",
        "VM_UPDATE",
    )
    .await;
    // What fits goes through and is counted.
    alice
        .call(
            Method::PUT,
            "/api/proxmox/vm/102/config",
            Some(json!({ "set": { "virtio3": "local-lvm:3" } })),
        )
        .await
        .ok("a disk that fits");
    quiet(&app).await;
    assert_eq!(n(&usage(&alice, "DEV_alice_1").await, "disk"), expected + 3);
    app.stop().await.unwrap();
}

async fn deleted_keys_count_in_what_the_guest_becomes(db: Db) {
    let app = app(db).await;
    let alice = Tenant::new(&app, "alice", &[]).await;
    let used = usage(&alice, "DEV_alice_1").await;
    set_limits(
        &app,
        "DEV_alice_1",
        json!({ "maxCpu": n(&used, "cpu") + 1 }),
    )
    .await;
    // 102 has 2 cores: one vCPU online of 64 cores is fewer vCPUs, so it passes...
    alice
        .call(
            Method::PUT,
            "/api/proxmox/vm/102/config",
            Some(json!({ "set": { "vcpus": 1, "cores": 64 } })),
        )
        .await
        .ok("vcpus 1 of 64 cores");
    quiet(&app).await;
    // ...but dropping `vcpus` brings all 64 online: that is 63 more.
    refused(
        &app,
        &alice,
        Method::PUT,
        "/api/proxmox/vm/102/config",
        Some(json!({ "delete": ["vcpus"] })),
        403,
        "vCPUs",
        "VM_UPDATE",
    )
    .await;
    assert_eq!(config_of(&app, 102).await["vcpus"], json!(1));
    // A container without `cores` may use every core of its node.
    refused(
        &app,
        &alice,
        Method::PUT,
        "/api/proxmox/vm/104/config",
        Some(json!({ "delete": ["cores"] })),
        403,
        "vCPUs",
        "VM_UPDATE",
    )
    .await;
    app.stop().await.unwrap();
}

async fn templates_keep_their_disks_in_the_pool(db: Db) {
    let app = app(db).await;
    let alice = Tenant::new(&app, "alice", &[]).await;
    let before = usage(&alice, "DEV_alice_1").await;
    alice
        .call(Method::POST, "/api/proxmox/vm/102/template", None)
        .await
        .ok("convert to a template");
    quiet(&app).await;
    let after = usage(&alice, "DEV_alice_1").await;
    assert_eq!(n(&after, "disk"), n(&before, "disk"), "{before} -> {after}");
    assert_eq!(n(&after, "vms"), n(&before, "vms"), "{before} -> {after}");
    // It can't run, so its vCPUs and memory are free again.
    assert!(n(&after, "cpu") < n(&before, "cpu"), "{before} -> {after}");
    app.stop().await.unwrap();
}

async fn pools_per_owner_are_bounded_and_share_the_owners_budget(db: Db) {
    let app = app(db).await;
    let alice = Tenant::new(&app, "alice", &[]).await;
    let used = usage(&alice, "DEV_alice_1").await;
    // The defaults are one budget per owner: 1 GiB of memory left for alice.
    set_limits(
        &app,
        "global",
        json!({ "maxMemory": n(&used, "memory") + 1024 }),
    )
    .await;
    for n in 2..=3 {
        let made = alice
            .call(Method::POST, "/api/proxmox/pools", Some(json!({})))
            .await
            .ok("a pool within the bound");
        assert_eq!(made["poolid"], format!("DEV_alice_{n}"));
    }
    refused(
        &app,
        &alice,
        Method::POST,
        "/api/proxmox/pools",
        Some(json!({})),
        403,
        "at most 3 pools",
        "POOL_CREATE",
    )
    .await;
    let limits = alice
        .get("/api/proxmox/pools/DEV_alice_2/limits")
        .await
        .ok("limits");
    assert_eq!(limits["source"], "owner", "{limits}");
    assert_eq!(limits["remaining"]["memory"], 1024, "{limits}");
    refused(
        &app,
        &alice,
        Method::POST,
        "/api/proxmox/nodes/pve1/qemu",
        Some(json!({ "pool": "DEV_alice_2", "cores": 1, "memory": 2048 })),
        403,
        "1024 MiB left",
        "VM_CREATE",
    )
    .await;
    app.stop().await.unwrap();
}
