//! Attacks a hostile tenant can still try: each test sends what the tenant sends and asserts the
//! safe outcome (a refusal, an unchanged cluster, a quota that holds).

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use super::harness::{
    app, config_of, grant, pve_post, pve_put, quiet, refused, refused_event, set_limits, usage, Db,
    Tenant,
};
use crate::support::on_both;
use crate::support::TestApp;

on_both!(
    a_rollback_cannot_bring_back_what_the_quota_no_longer_has,
    a_size_stated_by_the_tenant_does_not_shrink_what_is_counted,
    a_resize_still_running_is_counted_by_the_next_request,
    cd_drive_rights_do_not_detach_or_replace_disks,
    a_pool_manager_cannot_grant_themselves_more,
    a_team_board_stops_reaching_those_who_lost_the_pool,
    a_new_guest_does_not_inherit_volumes_left_by_an_earlier_one,
    an_id_whose_backups_sit_on_an_offline_node_is_not_handed_out,
    a_rollback_or_restore_does_not_put_a_guest_back_on_a_network_it_lost,
    a_clone_task_is_not_read_through_its_public_source,
    a_stricter_pool_is_not_escaped_by_making_another,
    a_pool_manager_cannot_remove_what_an_administrator_set,
);

const ISO: &str = "local:iso/debian-12.8.0-amd64-netinst.iso";

fn n(v: &Value, k: &str) -> i64 {
    v[k].as_i64().unwrap_or_else(|| panic!("{k} in {v}"))
}

async fn put_config(who: &Tenant, vmid: u32, body: Value) -> Value {
    who.call(
        Method::PUT,
        &format!("/api/proxmox/vm/{vmid}/config"),
        Some(body),
    )
    .await
    .ok(&format!("{} changes {vmid}", who.name))
}

// ---------------------------------------------------------------------------------------------
// Quotas

/// A snapshot keeps the configuration it was taken with. Rolling back to it brings back the
/// memory (vCPUs, disks) the guest held then, even after that room was given back and used
/// elsewhere: the rollback must be held to the quota like any other change.
async fn a_rollback_cannot_bring_back_what_the_quota_no_longer_has(db: Db) {
    let app = app(db).await;
    let alice = Tenant::new(&app, "alice", &[]).await;
    let used = usage(&alice, "DEV_alice_1").await;
    // No memory left in the pool.
    set_limits(
        &app,
        "DEV_alice_1",
        json!({ "maxMemory": n(&used, "memory") }),
    )
    .await;
    // 102 (4096 MiB) is snapshotted, then shrunk to 512 MiB; the 3584 MiB freed go to 104.
    alice
        .call(
            Method::POST,
            "/api/proxmox/vm/102/snapshots",
            Some(json!({ "snapname": "big" })),
        )
        .await
        .ok("snapshot of 102");
    quiet(&app).await;
    put_config(&alice, 102, json!({ "set": { "memory": 512 } })).await;
    quiet(&app).await;
    put_config(&alice, 104, json!({ "set": { "memory": 4096 } })).await;
    quiet(&app).await;
    // Rolling 102 back would make it 4096 MiB again: 3584 MiB beyond the quota.
    refused(
        &app,
        &alice,
        Method::POST,
        "/api/proxmox/vm/102/snapshots/rollback",
        Some(json!({ "snapname": "big" })),
        403,
        "memory",
        "VM_SNAPSHOT_ROLLBACK",
    )
    .await;
    let after = usage(&alice, "DEV_alice_1").await;
    assert!(
        n(&after, "memory") <= n(&used, "memory"),
        "the pool holds {} MiB of a {} MiB quota",
        n(&after, "memory"),
        n(&used, "memory")
    );
    app.stop().await.unwrap();
}

/// Setting a disk to the volume it already holds keeps the `size=` the caller writes (Proxmox
/// re-reads the size only for a volume new to the key). Uma counts disks by that `size=`: a
/// tenant who states `size=1K` for a 32 GiB disk frees 32 GiB of quota that is still used, and
/// can allocate it again.
async fn a_size_stated_by_the_tenant_does_not_shrink_what_is_counted(db: Db) {
    let app = app(db).await;
    let alice = Tenant::new(&app, "alice", &[]).await;
    let used = usage(&alice, "DEV_alice_1").await;
    set_limits(&app, "DEV_alice_1", json!({ "maxDisk": n(&used, "disk") })).await;
    // 102's 32 GiB boot disk, restated as 1 KiB.
    let answer = alice
        .call(
            Method::PUT,
            "/api/proxmox/vm/102/config",
            Some(json!({ "set": { "scsi0": "nas:vm-102-disk-0,iothread=1,size=1K" } })),
        )
        .await;
    quiet(&app).await;
    let cfg = config_of(&app, 102).await;
    eprintln!(
        "restating the size: {} {} -> scsi0 = {}",
        answer.status, answer.body, cfg["scsi0"]
    );
    // The disk still takes 32 GiB: the pool has no room for another 30 GiB.
    let answer = refused(
        &app,
        &alice,
        Method::PUT,
        "/api/proxmox/vm/104/config",
        Some(json!({ "set": { "mp0": "local-lvm:30,mp=/srv" } })),
        403,
        "disk",
        "VM_UPDATE",
    )
    .await;
    assert_eq!(answer.body["error"]["code"], "quota_exceeded");
    assert_eq!(
        n(&usage(&alice, "DEV_alice_1").await, "disk"),
        n(&used, "disk"),
        "the disks of DEV_alice_1 did not change size"
    );
    app.stop().await.unwrap();
}

/// A resize is a Proxmox task: the disk grows when it ends. Uma drops the reservation as soon as
/// Proxmox accepts the request, so a second request while the first task runs reads the old
/// size and passes too.
async fn a_resize_still_running_is_counted_by_the_next_request(db: Db) {
    let app = app(db).await;
    let alice = Tenant::new(&app, "alice", &[]).await;
    let used = usage(&alice, "DEV_alice_1").await;
    // Room for one 10 GiB growth.
    set_limits(
        &app,
        "DEV_alice_1",
        json!({ "maxDisk": n(&used, "disk") + 10 }),
    )
    .await;
    app.sim
        .as_ref()
        .unwrap()
        .set_task_duration(Duration::from_secs(3));
    let first = alice
        .call(
            Method::PUT,
            "/api/proxmox/vm/100/resize",
            Some(json!({ "disk": "scsi0", "size": "+10G" })),
        )
        .await;
    assert_eq!(first.status, 200, "the first growth fits: {}", first.body);
    let second = alice
        .call(
            Method::PUT,
            "/api/proxmox/vm/101/resize",
            Some(json!({ "disk": "scsi0", "size": "+10G" })),
        )
        .await;
    app.sim
        .as_ref()
        .unwrap()
        .set_task_duration(Duration::from_millis(10));
    quiet(&app).await;
    let after = usage(&alice, "DEV_alice_1").await;
    assert_eq!(
        (second.status, second.body["error"]["code"].clone()),
        (403, json!("quota_exceeded")),
        "the second growth does not fit (the pool now holds {} GiB of {} GiB): {}",
        n(&after, "disk"),
        n(&used, "disk") + 10,
        second.body
    );
    assert!(n(&after, "disk") <= n(&used, "disk") + 10, "{after}");
    app.stop().await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// Privileges

/// `VM.Config.CDROM` changes CD drives. Proxmox checks the drive's old value too (replacing a
/// disk needs `VM.Config.Disk`); Uma looks only at the new one, so a user trusted with a guest's
/// CD drive (PVEVMUser) can detach its disks by putting `none` or a CD in their place.
async fn cd_drive_rights_do_not_detach_or_replace_disks(db: Db) {
    let app = app(db).await;
    // Bob lets alice use his guests (console, power, CD): PVEVMUser on his pool.
    let bob = Tenant::new(&app, "bob", &[]).await;
    bob.call(
        Method::POST,
        "/api/proxmox/pools/acl",
        Some(json!({ "poolId": "DEV_bob_1", "type": "user", "username": "alice", "role": "PVEVMUser" })),
    )
    .await
    .ok("bob shares his pool with alice as PVEVMUser");
    let alice = Tenant::new(&app, "alice", &[]).await;
    // What PVEVMUser is for: the CD drive.
    let ok = alice
        .call(
            Method::PUT,
            "/api/proxmox/vm/112/config",
            Some(json!({ "set": { "ide2": format!("{ISO},media=cdrom") } })),
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    quiet(&app).await;
    let disk = config_of(&app, 112).await["scsi0"].clone();
    // Not what it is for: bob's boot disk replaced by an empty drive, or by a CD.
    for value in [json!("none"), json!(format!("{ISO},media=cdrom"))] {
        refused(
            &app,
            &alice,
            Method::PUT,
            "/api/proxmox/vm/112/config",
            Some(json!({ "set": { "scsi0": value } })),
            403,
            "VM.Config.Disk",
            "VM_UPDATE",
        )
        .await;
    }
    let s = alice.socket(&app).await;
    refused_event(
        &app,
        &alice,
        &s,
        "vm:config",
        json!({ "vmid": 112, "set": { "scsi0": "none,media=cdrom" } }),
        "forbidden",
        "VM_UPDATE",
    )
    .await;
    assert_eq!(config_of(&app, 112).await["scsi0"], disk);
    app.stop().await.unwrap();
}

/// Pool managers grant access to their pool, "never one's own access". Uma refuses only a
/// manager *removing* their own access: one given PVEPoolAdmin (pool membership, no guest
/// rights) grants themselves PVEVMAdmin, or their group, and takes the owner's guests.
async fn a_pool_manager_cannot_grant_themselves_more(db: Db) {
    let app = app(db).await;
    let bob = Tenant::new(&app, "bob", &[]).await;
    bob.call(
        Method::POST,
        "/api/proxmox/pools/acl",
        Some(json!({ "poolId": "DEV_bob_1", "type": "user", "username": "carol", "role": "PVEPoolAdmin" })),
    )
    .await
    .ok("bob makes carol a manager of his pool");
    let carol = Tenant::new(&app, "carol", &["ops"]).await;
    // Carol (an auditor of the whole cluster through ops) sees bob's guests but may not touch
    // them...
    refused(
        &app,
        &carol,
        Method::DELETE,
        "/api/proxmox/vm/112",
        None,
        403,
        "You may not delete",
        "VM_DELETE",
    )
    .await;
    // ...and may not give herself (or her group) the right to.
    refused(
        &app,
        &carol,
        Method::POST,
        "/api/proxmox/pools/acl",
        Some(json!({ "poolId": "DEV_bob_1", "type": "user", "username": "carol", "role": "PVEVMAdmin" })),
        403,
        "own access",
        "POOL_ACL_UPDATE",
    )
    .await;
    refused(
        &app,
        &carol,
        Method::POST,
        "/api/proxmox/pools/acl",
        Some(json!({ "poolId": "DEV_bob_1", "type": "group", "groupName": "ops", "role": "PVEVMAdmin" })),
        403,
        "own access",
        "POOL_ACL_UPDATE",
    )
    .await;
    refused(
        &app,
        &carol,
        Method::DELETE,
        "/api/proxmox/vm/112",
        None,
        403,
        "You may not delete",
        "VM_DELETE",
    )
    .await;
    app.stop().await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// Realtime

fn stroke(board: &str) -> Value {
    json!({
        "board": board,
        "points": [{ "x": 1, "y": 10 }, { "x": 6, "y": 20 }],
        "color": "#1E90FF",
        "width": 4,
    })
}

/// A team board is for those who see its pool, checked when they join. Guest watches are
/// re-checked when access changes; a board is not: one who lost the pool keeps receiving what
/// the team draws.
async fn a_team_board_stops_reaching_those_who_lost_the_pool(db: Db) {
    let app = app(db).await;
    let board = "pool:DEV_bob_1";
    let grant_body = json!({ "poolId": "DEV_bob_1", "type": "user", "username": "carol", "role": "PVEPoolUser" });
    let bob = Tenant::new(&app, "bob", &[]).await;
    bob.call(
        Method::POST,
        "/api/proxmox/pools/acl",
        Some(grant_body.clone()),
    )
    .await
    .ok("bob shares his pool with carol");
    let carol = Tenant::new(&app, "carol", &[]).await;
    let (bs, cs) = (bob.socket(&app).await, carol.socket(&app).await);
    let t = Duration::from_secs(10);
    for s in [&bs, &cs] {
        let j = s
            .emit_ack("whiteboard_join", json!({ "board": board }), t)
            .await
            .unwrap();
        assert_eq!(j["ok"], true, "{j}");
    }
    let a = bs.emit_ack("draw_stroke", stroke(board), t).await.unwrap();
    assert_eq!(a["ok"], true, "{a}");
    assert!(cs.wait_event("draw_stroke", t).await.is_some(), "shared");
    // Bob takes the pool back.
    bob.call(Method::DELETE, "/api/proxmox/pools/acl", Some(grant_body))
        .await
        .ok("bob stops sharing");
    let join = carol
        .socket(&app)
        .await
        .emit_ack("whiteboard_join", json!({ "board": board }), t)
        .await
        .unwrap();
    assert_eq!(join["error"]["code"], "not_found", "{join}");
    let told = cs.wait_event("whiteboard_revoked", t).await;
    assert!(told.is_some(), "carol is not told she left the board");
    let a = bs.emit_ack("draw_stroke", stroke(board), t).await.unwrap();
    assert_eq!(a["ok"], true, "{a}");
    let leaked = cs.wait_event("draw_stroke", Duration::from_secs(3)).await;
    assert!(
        leaked.is_none(),
        "carol no longer sees DEV_bob_1 but still receives its board: {leaked:?}"
    );
    app.stop().await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// Volumes

/// A volume is "this guest's own" when its name carries the guest's id. A guest id can be
/// handed out again (only ids with backups are held back), and a disk an earlier guest of that
/// id left on a storage then passes as the new guest's own: its new owner attaches it and reads
/// the earlier tenant's data.
async fn a_new_guest_does_not_inherit_volumes_left_by_an_earlier_one(db: Db) {
    let app = app(db).await;
    // Bob's 112 had a second disk that stayed on local-lvm when 112 was removed (detached, then
    // the guest destroyed outside Uma without its unreferenced volumes).
    pve_put_guest(&app, "112", &[("scsi1", "local-lvm:1")]).await;
    quiet(&app).await;
    pve_put_guest(&app, "112", &[("delete", "scsi1")]).await;
    quiet(&app).await;
    let left = config_of(&app, 112).await["unused0"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(left.starts_with("local-lvm:vm-112-disk-"), "{left}");
    let _: Value = app
        .state
        .pve
        .delete("nodes/pve3/qemu/112", &[])
        .await
        .unwrap();
    app.state.acl.invalidate();
    quiet(&app).await;
    // Alice gets id 112 for a new VM of her own.
    let alice = Tenant::new(&app, "alice", &[]).await;
    grant(&app, "/storage/local-lvm", "PVEDatastoreUser", "alice@pve").await;
    alice
        .call(
            Method::POST,
            "/api/proxmox/nodes/pve3/qemu",
            Some(json!({ "vmid": 112, "pool": "DEV_alice_1", "cores": 1, "memory": 512 })),
        )
        .await
        .ok("alice creates 112");
    quiet(&app).await;
    app.state.acl.invalidate();
    // Bob's old disk is not hers.
    refused(
        &app,
        &alice,
        Method::PUT,
        "/api/proxmox/vm/112/config",
        Some(json!({ "set": { "scsi1": format!("{left},size=1G") } })),
        403,
        "112",
        "VM_UPDATE",
    )
    .await;
    app.stop().await.unwrap();
}

/// `PUT nodes/pve3/qemu/{vmid}/config` with the service token.
async fn pve_put_guest(app: &TestApp, vmid: &str, form: &[(&str, &str)]) {
    use uma::pve::path::{ApiPath, GuestKind, Node, Vmid};
    let path = ApiPath::lit("nodes")
        .seg(&Node::parse("node", "pve3").unwrap())
        .seg(&GuestKind::Qemu)
        .seg(&Vmid(vmid.parse().unwrap()))
        .then("config");
    let form: Vec<(&str, String)> = form.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
    let _: Value = app.state.pve.put(path, &form).await.unwrap();
    app.state.acl.invalidate();
}

/// Ids with backups are never handed to a new guest, but the backups are looked up on the nodes
/// that are online only: while a node is down, the ids whose backups sit on its local storage
/// are free for anyone, and the new guest inherits those backups (restore them, read them) once
/// it runs where they are.
async fn an_id_whose_backups_sit_on_an_offline_node_is_not_handed_out(db: Db) {
    let app = app(db).await;
    for user in ["alice@pve", "bob@pve"] {
        grant(&app, "/storage/local", "PVEDatastoreUser", user).await;
    }
    let alice = Tenant::new(&app, "alice", &[]).await;
    let bob = Tenant::new(&app, "bob", &[]).await;
    let made = alice
        .call(
            Method::POST,
            "/api/proxmox/nodes/pve3/qemu",
            Some(json!({ "pool": "DEV_alice_1", "cores": 1, "memory": 512 })),
        )
        .await
        .ok("alice creates a VM on pve3");
    let id = made["vmid"].as_u64().unwrap();
    quiet(&app).await;
    alice
        .call(
            Method::POST,
            &format!("/api/proxmox/vm/{id}/backups"),
            Some(json!({ "storage": "local" })),
        )
        .await
        .ok("alice backs it up to pve3's local storage");
    quiet(&app).await;
    alice
        .call(Method::DELETE, &format!("/api/proxmox/vm/{id}"), None)
        .await
        .ok("alice deletes it");
    quiet(&app).await;
    app.state.acl.invalidate();
    // pve3 is down for maintenance: its backups can't be listed.
    app.sim.as_ref().unwrap().set_node_online("pve3", false);
    app.state.acl.invalidate();
    let answer = bob
        .call(
            Method::POST,
            "/api/proxmox/nodes/pve1/qemu",
            Some(json!({ "vmid": id, "pool": "DEV_bob_1", "cores": 1, "memory": 512 })),
        )
        .await;
    quiet(&app).await;
    app.state.acl.invalidate();
    let taken = app
        .state
        .acl
        .reload()
        .await
        .unwrap()
        .guest(id as u32)
        .is_some();
    assert!(
        matches!(answer.status, 409 | 503) && !taken,
        "bob got id {id}, whose backups are on pve3: {} {}",
        answer.status,
        answer.body
    );
    app.stop().await.unwrap();
}

/// A NIC may go only on a network the caller may use, checked when the NIC is set. A snapshot
/// or a backup keeps the NICs the guest had: after Bob stops sharing his pool (and with it his
/// pool's VNet), Alice rolls back or restores and her guest is on Bob's network again, though
/// setting that NIC is refused.
async fn a_rollback_or_restore_does_not_put_a_guest_back_on_a_network_it_lost(db: Db) {
    let app = app(db).await;
    // Bob's VNet, charged to his pool; Alice may see the pool for a while.
    pve_post(
        &app,
        "cluster/sdn/vnets",
        &[
            ("vnet", "devbob9"),
            ("zone", "devzone"),
            ("alias", "DEV_bob_1_0_DEV_bob"),
        ],
    )
    .await;
    grant(&app, "/pool/DEV_bob_1", "PVEPoolUser", "alice@pve").await;
    let alice = Tenant::new(&app, "alice", &[]).await;
    let nic = json!({ "set": { "net1": "name=eth1,bridge=devbob9,ip=dhcp" } });
    put_config(&alice, 104, nic.clone()).await;
    quiet(&app).await;
    alice
        .call(
            Method::POST,
            "/api/proxmox/vm/104/snapshots",
            Some(json!({ "snapname": "onbob" })),
        )
        .await
        .ok("snapshot of 104 on bob's network");
    quiet(&app).await;
    alice
        .call(
            Method::POST,
            "/api/proxmox/vm/104/backups",
            Some(json!({ "storage": "local" })),
        )
        .await
        .ok("backup of 104 on bob's network");
    quiet(&app).await;
    let backups = alice
        .get("/api/proxmox/vm/104/backups")
        .await
        .ok("backups of 104");
    let archive = backups["data"][0]["volid"].as_str().unwrap().to_owned();
    put_config(&alice, 104, json!({ "delete": ["net1"] })).await;
    quiet(&app).await;
    // Bob stops sharing.
    pve_put(
        &app,
        "access/acl",
        &[
            ("path", "/pool/DEV_bob_1"),
            ("roles", "PVEPoolUser"),
            ("users", "alice@pve"),
            ("delete", "1"),
        ],
    )
    .await;
    refused(
        &app,
        &alice,
        Method::PUT,
        "/api/proxmox/vm/104/config",
        Some(nic),
        403,
        "may not use the network devbob9",
        "VM_UPDATE",
    )
    .await;
    refused(
        &app,
        &alice,
        Method::POST,
        "/api/proxmox/vm/104/snapshots/rollback",
        Some(json!({ "snapname": "onbob" })),
        403,
        "devbob9",
        "VM_SNAPSHOT_ROLLBACK",
    )
    .await;
    refused(
        &app,
        &alice,
        Method::POST,
        "/api/proxmox/vm/104/restore",
        Some(json!({ "archive": archive })),
        403,
        "devbob9",
        "BACKUP_RESTORE",
    )
    .await;
    assert!(config_of(&app, 104).await.get("net1").is_none());
    app.stop().await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// Smaller ones

/// A clone's task names its source. Whoever may see the template (the group devs holds
/// PVETemplateUser on the public pool) could read every tenant's clones of it (the new id, the
/// pool).
async fn a_clone_task_is_not_read_through_its_public_source(db: Db) {
    let app = app(db).await;
    let alice = Tenant::new(&app, "alice", &[]).await;
    let bob = Tenant::new(&app, "bob", &["devs"]).await;
    assert_eq!(bob.get("/api/proxmox/vm/9000/status").await.status, 200);
    let made = alice
        .call(
            Method::POST,
            "/api/proxmox/clone",
            Some(json!({ "sourceVmId": 9000, "poolId": "DEV_alice_1", "fullClone": true, "storage": "local-lvm" })),
        )
        .await
        .ok("alice clones the public template");
    let upid = made["upid"].as_str().unwrap().to_owned();
    let query: String = upid
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let read = bob
        .get(&format!("/api/proxmox/tasks/status?upid={query}"))
        .await;
    assert_eq!(
        read.status, 404,
        "bob reads alice's clone task: {}",
        read.body
    );
    let own = alice
        .get(&format!("/api/proxmox/tasks/status?upid={query}"))
        .await;
    assert_eq!(own.status, 200, "{}", own.body);
    app.stop().await.unwrap();
}

/// A pool with limits of its own was left out of the owner's budget: an owner held tight on one
/// pool made another and drew the whole default budget there.
async fn a_stricter_pool_is_not_escaped_by_making_another(db: Db) {
    let app = app(db).await;
    let alice = Tenant::new(&app, "alice", &[]).await;
    let used = usage(&alice, "DEV_alice_1").await;
    set_limits(
        &app,
        "DEV_alice_1",
        json!({ "maxMemory": n(&used, "memory") }),
    )
    .await;
    set_limits(
        &app,
        "global",
        json!({ "maxMemory": n(&used, "memory") + 1024 }),
    )
    .await;
    alice
        .call(Method::POST, "/api/proxmox/pools", Some(json!({})))
        .await
        .ok("alice makes a second pool");
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

/// Pool managers grant and revoke the roles managers may give. An administrator's entry on the
/// pool — a NoAccess for someone — is not theirs to take away.
async fn a_pool_manager_cannot_remove_what_an_administrator_set(db: Db) {
    let app = app(db).await;
    grant(&app, "/pool/DEV_bob_1", "NoAccess", "carol@pve").await;
    let bob = Tenant::new(&app, "bob", &[]).await;
    refused(
        &app,
        &bob,
        Method::DELETE,
        "/api/proxmox/pools/acl",
        Some(json!({ "poolId": "DEV_bob_1", "type": "user", "username": "carol", "role": "NoAccess" })),
        403,
        "Only administrators may remove the NoAccess role",
        "POOL_ACL_UPDATE",
    )
    .await;
    app.stop().await.unwrap();
}
