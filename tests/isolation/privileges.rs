//! Config privileges as Proxmox splits them, and what reaches the host for administrators only.

use reqwest::Method;
use serde_json::json;

use super::harness::{app, config_of, grant, pve_post, quiet, refused, Db, Tenant};
use crate::support::on_both;

on_both!(
    privileged_containers_and_host_keys_are_for_administrators,
    each_config_key_needs_its_own_privilege,
);

async fn privileged_containers_and_host_keys_are_for_administrators(db: Db) {
    let app = app(db).await;
    grant(&app, "/storage/local-lvm", "PVEDatastoreUser", "alice@pve").await;
    grant(&app, "/storage/local", "PVEDatastoreUser", "alice@pve").await;
    let alice = Tenant::new(&app, "alice", &[]).await;
    refused(
        &app,
        &alice,
        Method::POST,
        "/api/proxmox/nodes/pve1/lxc",
        Some(json!({
            "pool": "DEV_alice_1", "storage": "local-lvm", "unprivileged": false,
            "ostemplate": "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst",
        })),
        403,
        "privileged containers",
        "CT_CREATE",
    )
    .await;
    #[rustfmt::skip]
    let host_keys = [
        (102, json!({ "hookscript": "local:snippets/hook.sh" }), "hookscript"),
        (102, json!({ "serial0": "/dev/ttyS0" }), "serial0"),
        (102, json!({ "usb0": "host=1d6b:0002" }), "usb0"),
        (102, json!({ "hostpci0": "0000:01:00.0" }), "hostpci0"),
        (102, json!({ "args": "-no-reboot" }), "args"),
        (102, json!({ "scsi1": "/dev/sdb" }), "host"),
        (102, json!({ "ide2": "cdrom,media=cdrom" }), "host"),
        (104, json!({ "mp0": "/srv/host,mp=/mnt/host" }), "host"),
        (104, json!({ "features": "mount=nfs" }), "features"),
        (104, json!({ "dev0": "/dev/kvm" }), "dev0"),
    ];
    for (vmid, set, says) in host_keys {
        refused(
            &app,
            &alice,
            Method::PUT,
            &format!("/api/proxmox/vm/{vmid}/config"),
            Some(json!({ "set": set })),
            403,
            says,
            "VM_UPDATE",
        )
        .await;
    }
    // A serial socket and nesting in an unprivileged container are fine.
    alice
        .call(
            Method::PUT,
            "/api/proxmox/vm/102/config",
            Some(json!({ "set": { "serial0": "socket" } })),
        )
        .await
        .ok("serial socket");
    alice
        .call(
            Method::PUT,
            "/api/proxmox/vm/104/config",
            Some(json!({ "set": { "features": "nesting=1" } })),
        )
        .await
        .ok("nesting");
    // Administrators may reach the host.
    let admin = Tenant::admin(&app).await;
    admin
        .call(
            Method::PUT,
            "/api/proxmox/vm/102/config",
            Some(json!({ "set": { "serial1": "/dev/ttyS1" } })),
        )
        .await
        .ok("admin sets a host serial port");
    app.stop().await.unwrap();
}

async fn each_config_key_needs_its_own_privilege(db: Db) {
    let app = app(db).await;
    pve_post(&app, "access/users", &[("userid", "paul@pve")]).await;
    pve_post(
        &app,
        "access/roles",
        &[
            ("roleid", "CdromOnly"),
            ("privs", "VM.Audit,VM.Config.CDROM"),
        ],
    )
    .await;
    grant(&app, "/vms/102", "CdromOnly", "paul@pve").await;
    grant(&app, "/storage/local", "PVEDatastoreUser", "paul@pve").await;
    let paul = Tenant::new(&app, "paul", &[]).await;
    for (set, need) in [
        (json!({ "memory": 1024 }), "VM.Config.Memory"),
        (json!({ "cores": 1 }), "VM.Config.CPU"),
        (
            json!({ "net1": "virtio,bridge=vmbr0" }),
            "VM.Config.Network",
        ),
        (json!({ "description": "mine now" }), "VM.Config.Options"),
        (json!({ "vga": "qxl" }), "VM.Config.HWType"),
        (json!({ "ipconfig0": "ip=dhcp" }), "VM.Config.Cloudinit"),
    ] {
        refused(
            &app,
            &paul,
            Method::PUT,
            "/api/proxmox/vm/102/config",
            Some(json!({ "set": set })),
            403,
            need,
            "VM_UPDATE",
        )
        .await;
    }
    refused(
        &app,
        &paul,
        Method::POST,
        "/api/proxmox/vm/102/firewall/rules",
        Some(json!({ "type": "in", "action": "ACCEPT", "proto": "tcp", "dport": "22" })),
        403,
        "VM.Config.Network",
        "VM_FIREWALL_UPDATE",
    )
    .await;
    // Changing the CD is what the role allows.
    paul.call(
        Method::PUT,
        "/api/proxmox/vm/102/config",
        Some(json!({ "set": { "ide2": "local:iso/debian-12.8.0-amd64-netinst.iso,media=cdrom" } })),
    )
    .await
    .ok("change the CD");
    quiet(&app).await;
    assert!(config_of(&app, 102).await["ide2"]
        .as_str()
        .unwrap()
        .starts_with("local:iso/debian"));
    app.stop().await.unwrap();
}
