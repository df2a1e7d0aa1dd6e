//! Objects named inside values: every volume, storage, bridge and VLAN tag in a config key or a
//! create/clone/backup field must be one the caller may use for that purpose.

use reqwest::Method;
use serde_json::{json, Value};

use super::harness::{app, config_of, grant, pve_post, quiet, refused, refused_event, Db, Tenant};
use crate::support::on_both;

on_both!(
    config_values_name_only_the_callers_objects,
    create_clone_and_backup_fields_name_only_the_callers_objects,
    the_socket_path_refuses_the_same,
);

const BACKUP_101: &str = "nas:backup/vzdump-qemu-101-2026_01_10-02_00_01.vma.zst";
const ISO: &str = "local:iso/debian-12.8.0-amd64-netinst.iso";

/// Method, path and body of one request.
type Request = (Method, String, Option<Value>);

async fn set(who: &Tenant, vmid: u32, set: Value) -> super::harness::Answer {
    who.call(
        Method::PUT,
        &format!("/api/proxmox/vm/{vmid}/config"),
        Some(json!({ "set": set })),
    )
    .await
}

/// Alice and Bob each hold PVEVMAdmin on their pool and may allocate on `local-lvm` and read
/// the media on `local`; Bob has a VNet of his own.
async fn tenants(app: &crate::support::TestApp) -> (Tenant, Tenant) {
    for user in ["alice@pve", "bob@pve"] {
        grant(app, "/storage/local-lvm", "PVEDatastoreUser", user).await;
        grant(app, "/storage/local", "PVEDatastoreUser", user).await;
    }
    pve_post(
        app,
        "cluster/sdn/vnets",
        &[
            ("vnet", "devbob1"),
            ("zone", "devzone"),
            ("alias", "lab_DEV_bob"),
        ],
    )
    .await;
    (
        Tenant::new(app, "alice", &[]).await,
        Tenant::new(app, "bob", &[]).await,
    )
}

async fn config_values_name_only_the_callers_objects(db: Db) {
    let app = app(db).await;
    let (alice, bob) = tenants(&app).await;
    let put = |vmid: u32, set: Value| {
        (
            Method::PUT,
            format!("/api/proxmox/vm/{vmid}/config"),
            Some(json!({ "set": set })),
        )
    };
    #[rustfmt::skip]
    let attempts: Vec<(&Tenant, Request, u16, &str)> = vec![
        // Another guest's disk, attached or copied.
        (&alice, put(102, json!({ "scsi1": "local-lvm:vm-110-disk-0" })), 403, "belongs to guest 110"),
        (&alice, put(102, json!({ "virtio2": "local-lvm:0,import-from=local-lvm:vm-110-disk-0" })), 403, "belongs to guest 110"),
        (&alice, put(104, json!({ "mp0": "local-lvm:vm-113-disk-0,mp=/mnt/x" })), 403, "belongs to guest 113"),
        // Another guest's disk or backup as a CD.
        (&bob, put(112, json!({ "ide2": "local-lvm:vm-100-disk-0,media=cdrom" })), 403, "not an ISO image"),
        (&bob, put(112, json!({ "ide2": format!("{BACKUP_101},media=cdrom") })), 403, "not an ISO image"),
        // Another tenant's VNet, a VLAN of one's choosing.
        (&alice, put(102, json!({ "net1": "virtio,bridge=devbob1" })), 403, "may not use the network devbob1"),
        (&alice, put(102, json!({ "net1": "virtio,bridge=vmbr0,tag=99" })), 403, "VLAN"),
        (&alice, put(102, json!({ "net1": "virtio,bridge=vmbr0,trunks=1-4094" })), 403, "VLAN"),
        (&alice, put(104, json!({ "net1": "name=eth1,bridge=devbob1,ip=dhcp" })), 403, "may not use the network devbob1"),
        // A storage she may not allocate on.
        (&alice, put(102, json!({ "scsi1": "nas:8" })), 403, "may not allocate on storage nas"),
        (&alice, put(102, json!({ "scsi1": "nowhere:8" })), 400, "no storage nowhere"),
        // What doesn't parse is refused.
        (&alice, put(102, json!({ "scsi1": "local-lvm:8,frobnicate=1" })), 400, "no option 'frobnicate'"),
        (&alice, put(102, json!({ "net1": "virtio,bridge=vmbr0,bridge=devbob1" })), 400, "given twice"),
    ];
    for (who, (method, path, body), status, says) in attempts {
        refused(&app, who, method, &path, body, status, says, "VM_UPDATE").await;
    }
    // The same requests with her own objects go through.
    let ok = set(&alice, 102, json!({ "scsi1": "local-lvm:2", "net1": "virtio,bridge=vmbr0", "ide2": format!("{ISO},media=cdrom") })).await;
    assert_eq!(ok.status, 200, "{:?}", ok.body);
    quiet(&app).await;
    let cfg = config_of(&app, 102).await;
    assert!(
        cfg["scsi1"]
            .as_str()
            .unwrap()
            .starts_with("local-lvm:vm-102-disk-"),
        "{cfg}"
    );
    app.stop().await.unwrap();
}

async fn create_clone_and_backup_fields_name_only_the_callers_objects(db: Db) {
    let app = app(db).await;
    let (alice, bob) = tenants(&app).await;
    let vm = |extra: Value| {
        let mut body = json!({ "pool": "DEV_alice_1", "cores": 1, "memory": 512 });
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        Some(body)
    };
    refused(
        &app,
        &alice,
        Method::POST,
        "/api/proxmox/nodes/pve1/qemu",
        vm(json!({ "storage": "nas", "diskSize": 8 })),
        403,
        "may not allocate on storage nas",
        "VM_CREATE",
    )
    .await;
    refused(
        &app,
        &alice,
        Method::POST,
        "/api/proxmox/nodes/pve1/qemu",
        vm(json!({ "iso": "local-lvm:vm-110-disk-0" })),
        403,
        "not an ISO image",
        "VM_CREATE",
    )
    .await;
    refused(
        &app,
        &alice,
        Method::POST,
        "/api/proxmox/nodes/pve1/qemu",
        vm(json!({ "net0": "virtio,bridge=devbob1" })),
        403,
        "may not use the network devbob1",
        "VM_CREATE",
    )
    .await;
    refused(
        &app,
        &alice,
        Method::POST,
        "/api/proxmox/nodes/pve1/qemu",
        vm(json!({ "net0": "virtio,bridge=vmbr0,tag=7" })),
        403,
        "VLAN",
        "VM_CREATE",
    )
    .await;
    // A container from another tenant's backup, or on a hidden storage.
    let ct = |ostemplate: &str, storage: &str| {
        Some(
            json!({ "pool": "DEV_bob_1", "ostemplate": ostemplate, "storage": storage, "password": "secret123" }),
        )
    };
    refused(
        &app,
        &bob,
        Method::POST,
        "/api/proxmox/nodes/pve1/lxc",
        ct(BACKUP_101, "local-lvm"),
        403,
        "not a container template",
        "CT_CREATE",
    )
    .await;
    refused(
        &app,
        &bob,
        Method::POST,
        "/api/proxmox/nodes/pve1/lxc",
        ct(
            "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst",
            "nas",
        ),
        403,
        "may not allocate on storage nas",
        "CT_CREATE",
    )
    .await;
    refused(&app, &bob, Method::POST, "/api/proxmox/nodes/pve1/lxc",
        Some(json!({ "pool": "DEV_bob_1", "ostemplate": "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst",
            "storage": "local-lvm", "bridge": "devbob1x" })), 403, "may not use the network devbob1x", "CT_CREATE").await;
    // Clone onto a storage she may not use; back up to one.
    refused(&app, &alice, Method::POST, "/api/proxmox/clone",
        Some(json!({ "sourceVmId": 102, "poolId": "DEV_alice_1", "fullClone": true, "storage": "nas" })),
        403, "may not allocate on storage nas", "VM_CLONE").await;
    refused(
        &app,
        &alice,
        Method::POST,
        "/api/proxmox/vm/102/backups",
        Some(json!({ "storage": "nas" })),
        403,
        "may not allocate on storage nas",
        "BACKUP_CREATE",
    )
    .await;
    refused(
        &app,
        &alice,
        Method::POST,
        "/api/proxmox/vm/102/backups",
        Some(json!({ "storage": "local-lvm" })),
        400,
        "does not hold backups",
        "BACKUP_CREATE",
    )
    .await;
    // Her own objects work.
    let made = alice
        .call(
            Method::POST,
            "/api/proxmox/nodes/pve1/qemu",
            vm(json!({ "storage": "local-lvm", "diskSize": 4, "iso": ISO, "net0": "vmbr0" })),
        )
        .await
        .ok("create with her own objects");
    assert!(made["vmid"].as_u64().is_some(), "{made}");
    app.stop().await.unwrap();
}

async fn the_socket_path_refuses_the_same(db: Db) {
    let app = app(db).await;
    let (alice, _bob) = tenants(&app).await;
    let s = alice.socket(&app).await;
    refused_event(
        &app,
        &alice,
        &s,
        "vm:config",
        json!({ "vmid": 102, "set": { "scsi1": "local-lvm:vm-110-disk-0" } }),
        "forbidden",
        "VM_UPDATE",
    )
    .await;
    refused_event(&app, &alice, &s, "vm:create",
        json!({ "type": "qemu", "node": "pve1", "pool": "DEV_alice_1", "storage": "nas", "diskSize": 8 }),
        "forbidden", "VM_CREATE").await;
    refused_event(
        &app,
        &alice,
        &s,
        "vm:backup",
        json!({ "vmid": 102, "storage": "nas" }),
        "forbidden",
        "BACKUP_CREATE",
    )
    .await;
    app.stop().await.unwrap();
}
