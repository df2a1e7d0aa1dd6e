//! Proxmox operations end to end against the simulator over HTTPS: the permission table for five
//! kinds of user over REST and Socket.IO alike, checked path values, and one audit row per action.
//! Quotas are in `pools.rs`, node and storage reads in `nodes.rs`.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::browser::Browser;
use crate::support::calls::victor_and_paul;
use crate::support::sio::{Connect, PollingSocket};
use crate::support::{on_both, Db, TestApp};

on_both!(
    permission_table_holds_over_rest_and_socket_io,
    every_mutating_endpoint_writes_exactly_one_audit_row,
);

async fn app_on(db: Db) -> TestApp {
    // Short tasks: a snapshot's lock is gone by the next request.
    TestApp::demo("guests")
        .on(db)
        .tasks_take(Duration::from_millis(10))
        .start()
        .await
}

async fn app() -> TestApp {
    app_on(Db::Sqlite).await
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    Ok,
    Denied,
    Hidden,
}

impl Want {
    fn status(self) -> u16 {
        match self {
            Want::Ok => 200,
            Want::Denied => 403,
            Want::Hidden => 404,
        }
    }
    fn code(self) -> Option<&'static str> {
        match self {
            Want::Ok => None,
            Want::Denied => Some("forbidden"),
            Want::Hidden => Some("not_found"),
        }
    }
}

/// Who, their groups, admin flag, and per guest the answers to [view, power, config, snapshot].
type Persona = (&'static str, &'static [&'static str], bool, [[Want; 4]; 4]);

const ACTIONS: [&str; 4] = ["view", "power", "config", "snapshot"];

async fn rest(b: &Browser, csrf: &str, action: &str, vmid: u64, tag: &str) -> u16 {
    let resp = match action {
        "view" => b.get(&format!("/api/proxmox/vm/{vmid}/status")).await,
        "power" => {
            b.post_json(
                &format!("/api/proxmox/vm/{vmid}/power"),
                Some(csrf),
                json!({ "action": "stop" }),
            )
            .await
        }
        "snapshot" => {
            b.post_json(
                &format!("/api/proxmox/vm/{vmid}/snapshots"),
                Some(csrf),
                json!({ "snapname": format!("r{tag}{vmid}") }),
            )
            .await
        }
        _ => {
            b.send(
                Method::PUT,
                &format!("/api/proxmox/vm/{vmid}/config"),
                Some(csrf),
                Some(json!({ "set": { "description": format!("set by {tag}") } })),
            )
            .await
        }
    };
    resp.status().as_u16()
}

async fn socket(s: &PollingSocket, action: &str, vmid: u64, tag: &str) -> Value {
    let (event, data) = match action {
        "view" => ("guest:watch", json!({ "vmid": vmid })),
        "power" => ("vm:power", json!({ "vmid": vmid, "action": "stop" })),
        "snapshot" => (
            "vm:snapshot",
            json!({ "vmid": vmid, "snapname": format!("s{tag}{vmid}") }),
        ),
        _ => (
            "vm:config",
            json!({ "vmid": vmid, "set": { "description": format!("socket {tag}") } }),
        ),
    };
    s.emit_ack(event, data, Duration::from_secs(15))
        .await
        .unwrap_or_else(|| panic!("no ack for {event} on {vmid}"))
}

async fn permission_table_holds_over_rest_and_socket_io(db: Db) {
    let app = app_on(db).await;
    victor_and_paul(&app).await;
    use Want::{Denied as D, Hidden as H, Ok as Y};
    // Guests: 100 (alice's pool), 120 (pool of group devs), 130 (ops; victor has PVEVMUser on
    // it alone), 110 (bob's pool; paul is PVEPoolUser on the pool).
    let guests = [100u64, 120, 130, 110];
    #[rustfmt::skip]
    let table: Vec<Persona> = vec![
        // persona, groups, admin, per guest: [view, power, config, snapshot]
        ("alice", &[], false, [[Y, Y, Y, Y], [H, H, H, H], [H, H, H, H], [H, H, H, H]]),
        ("gina", &["devs"], false, [[H, H, H, H], [Y, Y, Y, Y], [H, H, H, H], [H, H, H, H]]),
        ("victor", &[], false, [[H, H, H, H], [H, H, H, H], [Y, Y, D, D], [H, H, H, H]]),
        ("paul", &[], false, [[H, H, H, H], [H, H, H, H], [H, H, H, H], [H, H, H, H]]),
        ("oscar", &[], false, [[H, H, H, H], [H, H, H, H], [H, H, H, H], [H, H, H, H]]),
        ("root", &[], true, [[Y, Y, Y, Y], [Y, Y, Y, Y], [Y, Y, Y, Y], [Y, Y, Y, Y]]),
    ];
    let base = app.url("");
    let mut failures = Vec::new();
    for (who, groups, admin, rows) in &table {
        let (b, csrf) = app.session_as(who, groups, *admin).await;
        let s = match PollingSocket::connect(&base, &b.cookie_header(), Some(&base)).await {
            Connect::Ok(s) => s,
            Connect::Refused(r) => panic!("{who}'s socket refused: {r}"),
        };
        for (gi, vmid) in guests.iter().enumerate() {
            for (ai, action) in ACTIONS.iter().enumerate() {
                let want = rows[gi][ai];
                let got = rest(&b, &csrf, action, *vmid, who).await;
                if got != want.status() {
                    failures.push(format!(
                        "REST {who} {action} {vmid}: got {got}, want {want:?}"
                    ));
                }
                let ack = socket(&s, action, *vmid, who).await;
                let ok = ack["ok"] == true;
                let code = ack["error"]["code"].as_str();
                if (want == Y) != ok || (want != Y && code != want.code()) {
                    failures.push(format!(
                        "socket {who} {action} {vmid}: got {ack}, want {want:?}"
                    ));
                }
                if *action == "snapshot" || *action == "power" {
                    // The task releases the guest's lock.
                    app.tasks_settled().await;
                }
            }
        }
        // Pools: paul sees bob's pool (PVEPoolUser) but may not delete it.
        let detail = b
            .get("/api/proxmox/pools/DEV_bob_1")
            .await
            .status()
            .as_u16();
        let want_detail = if ["paul", "root"].contains(who) {
            200
        } else {
            404
        };
        if detail != want_detail {
            failures.push(format!("pool detail {who}: {detail}"));
        }
        if *who == "paul" {
            let del = b
                .send(
                    Method::DELETE,
                    "/api/proxmox/pools/DEV_bob_1",
                    Some(&csrf),
                    None,
                )
                .await
                .status()
                .as_u16();
            if del != 403 {
                failures.push(format!("paul deleting bob's pool: {del}"));
            }
        }
        let pools: Value = b.get("/api/proxmox/pools").await.json().await.unwrap();
        let ids: Vec<&str> = pools["pools"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p["poolid"].as_str())
            .collect();
        let want_pools: &[&str] = match *who {
            "alice" => &["DEV_alice_1"],
            // devs also hold PVETemplateUser on the golden images.
            "gina" => &["DEV_devs_1", "TEMPLATES"],
            "paul" => &["DEV_bob_1"],
            "victor" | "oscar" => &[],
            _ => &ids,
        };
        if ids != want_pools {
            failures.push(format!("pool list of {who}: {ids:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    app.stop().await.unwrap();
}

#[tokio::test]
async fn upstream_path_values_are_checked_before_proxmox_is_called() {
    let app = app().await;
    let (alice, csrf) = app.session_as("alice", &[], false).await;
    for (path, field) in [
        ("/api/proxmox/tasks/status?upid=UPID:pve1:0000A1B2:0001C3D4:65A0B1C2:qmstart:100:..%2F..%2Faccess%2Facl:", "upid"),
        ("/api/proxmox/tasks/status?upid=../../access/acl", "upid"),
        ("/api/proxmox/nodes/pve1%2F..%2Faccess/status", "node"),
        ("/api/proxmox/vm/100/rrddata?timeframe=hour%26x%3D1", "timeframe"),
        ("/api/proxmox/vm/99/status", "vmid"),
    ] {
        let resp = alice.get(path).await;
        assert_eq!(resp.status(), 400, "{path}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["field"], field, "{path}: {body}");
    }
    for (body, field) in [
        (json!({ "snapname": "../x" }), "snapname"),
        (json!({ "snapname": "current" }), "snapname"),
    ] {
        let resp = alice
            .post_json("/api/proxmox/vm/100/snapshots", Some(&csrf), body)
            .await;
        assert_eq!(resp.status(), 400);
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"]["field"], field, "{v}");
    }
    let resp = alice
        .post_json(
            "/api/proxmox/vm/100/firewall/rules",
            Some(&csrf),
            json!({ "type": "in", "action": "ACCEPT", "dport": "22" }),
        )
        .await;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["field"], "proto", "{v}");
    // A user's own task is readable; someone else's guest's task is not.
    let resp = alice
        .post_json(
            "/api/proxmox/vm/100/power",
            Some(&csrf),
            json!({ "action": "stop" }),
        )
        .await;
    let upid = resp.json::<Value>().await.unwrap()["upid"]
        .as_str()
        .unwrap()
        .to_owned();
    let enc = urlencode(&upid);
    let resp = alice
        .get(&format!("/api/proxmox/tasks/status?upid={enc}&logs=true"))
        .await;
    assert_eq!(resp.status(), 200);
    let (bob, _) = app.session_as("bob", &[], false).await;
    assert_eq!(
        bob.get(&format!("/api/proxmox/tasks/status?upid={enc}"))
            .await
            .status(),
        404
    );
    app.stop().await.unwrap();
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn every_mutating_endpoint_writes_exactly_one_audit_row(db: Db) {
    let app = app_on(db).await;
    let (alice, csrf) = app.session_as("alice", &[], false).await;
    let (admin, acsrf) = app.session_as("root", &[], true).await;
    type Call<'a> = (
        &'a Browser,
        &'a str,
        Method,
        &'a str,
        Option<Value>,
        &'a str,
        &'a str,
    );
    // Every mutating route of the guest, creation, pool, quota, ACL and console families, with
    // refusals among them (SDN, replication, templates and settings check theirs in their own
    // tests).
    let calls: Vec<Call> = vec![
        (
            &alice,
            &csrf,
            Method::POST,
            "/api/proxmox/vm/102/power",
            Some(json!({ "action": "start" })),
            "VM_START",
            "SUCCESS",
        ),
        (
            &alice,
            &csrf,
            Method::POST,
            "/api/proxmox/vm/102/power",
            Some(json!({ "action": "warp" })),
            "VM_POWER",
            "FAILURE",
        ),
        (
            &alice,
            &csrf,
            Method::POST,
            "/api/proxmox/vm/101/snapshots",
            Some(json!({ "snapname": "audit1" })),
            "VM_SNAPSHOT_CREATE",
            "SUCCESS",
        ),
        (
            &alice,
            &csrf,
            Method::PUT,
            "/api/proxmox/vm/101/config",
            Some(json!({ "set": { "description": "audited" } })),
            "VM_UPDATE",
            "SUCCESS",
        ),
        (
            &alice,
            &csrf,
            Method::PUT,
            "/api/proxmox/vm/101/config",
            Some(json!({ "set": { "hookscript": "x" } })),
            "VM_UPDATE",
            "FAILURE",
        ),
        (
            &alice,
            &csrf,
            Method::POST,
            "/api/proxmox/vm/101/firewall/rules",
            Some(json!({ "type": "in", "action": "ACCEPT", "proto": "tcp", "dport": "22" })),
            "VM_FIREWALL_UPDATE",
            "SUCCESS",
        ),
        (
            &alice,
            &csrf,
            Method::POST,
            "/api/proxmox/vm/101/backups",
            Some(json!({ "storage": "local", "mode": "snapshot" })),
            "BACKUP_CREATE",
            "SUCCESS",
        ),
        (
            &alice,
            &csrf,
            Method::PUT,
            "/api/proxmox/vm/101/resize",
            Some(json!({ "disk": "scsi0", "size": "+1G" })),
            "VM_RESIZE",
            "SUCCESS",
        ),
        (
            &alice,
            &csrf,
            Method::POST,
            "/api/proxmox/nodes/pve1/qemu",
            Some(json!({ "pool": "DEV_alice_1", "memory": 512 })),
            "VM_CREATE",
            "SUCCESS",
        ),
        (
            &alice,
            &csrf,
            Method::POST,
            "/api/proxmox/clone",
            Some(
                json!({ "sourceVmId": 9000, "poolId": "DEV_alice_1", "name": "from-tmpl", "fullClone": true, "storage": "local-lvm" }),
            ),
            "VM_CLONE",
            "SUCCESS",
        ),
        (
            &alice,
            &csrf,
            Method::POST,
            "/api/proxmox/vm/104/template",
            None,
            "VM_TEMPLATE",
            "SUCCESS",
        ),
        (
            &alice,
            &csrf,
            Method::DELETE,
            "/api/proxmox/vm/104",
            None,
            "VM_DELETE",
            "SUCCESS",
        ),
        (
            &alice,
            &csrf,
            Method::DELETE,
            "/api/proxmox/vm/100",
            None,
            "VM_DELETE",
            "FAILURE",
        ),
        (
            &alice,
            &csrf,
            Method::POST,
            "/api/proxmox/pools",
            Some(json!({ "comment": "second lab" })),
            "POOL_CREATE",
            "SUCCESS",
        ),
        (
            &admin,
            &acsrf,
            Method::PUT,
            "/api/proxmox/pools/DEV_alice_1/limits",
            Some(json!({ "maxVMs": 40 })),
            "POOL_LIMITS_UPDATE",
            "SUCCESS",
        ),
        (
            &alice,
            &csrf,
            Method::PUT,
            "/api/proxmox/access/acl",
            Some(json!({ "path": "/", "roles": "Administrator", "users": "alice@pve" })),
            "ACL_UPDATE",
            "FAILURE",
        ),
        (
            &alice,
            &csrf,
            Method::POST,
            "/api/proxmox/vm/101/snapshots/rollback",
            Some(json!({ "snapname": "audit1" })),
            "VM_SNAPSHOT_ROLLBACK",
            "SUCCESS",
        ),
        (
            &alice,
            &csrf,
            Method::DELETE,
            "/api/proxmox/vm/101/snapshots?snapname=audit1",
            None,
            "VM_SNAPSHOT_DELETE",
            "SUCCESS",
        ),
        (
            &alice,
            &csrf,
            Method::DELETE,
            "/api/proxmox/vm/101/firewall/rules?pos=0",
            None,
            "VM_FIREWALL_UPDATE",
            "SUCCESS",
        ),
        (
            &alice,
            &csrf,
            Method::POST,
            "/api/proxmox/vm/101/restore",
            Some(json!({ "archive": "nas:backup/vzdump-qemu-101-2026_01_10-02_00_01.vma.zst" })),
            "BACKUP_RESTORE",
            "SUCCESS",
        ),
        (
            &alice,
            &csrf,
            Method::POST,
            "/api/proxmox/nodes/pve1/lxc",
            Some(
                json!({ "pool": "DEV_alice_1", "ostemplate": "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst", "storage": "local-lvm", "diskSize": 4, "memory": 256 }),
            ),
            "CT_CREATE",
            "SUCCESS",
        ),
        (
            &alice,
            &csrf,
            Method::POST,
            "/api/proxmox/nodes/pve1/vzdump",
            Some(json!({ "vmid": 101, "storage": "local" })),
            "BACKUP_CREATE",
            "SUCCESS",
        ),
        (
            &alice,
            &csrf,
            Method::POST,
            "/api/proxmox/pools/acl",
            Some(
                json!({ "poolId": "DEV_alice_1", "type": "user", "username": "bob", "role": "PVEVMUser" }),
            ),
            "POOL_ACL_UPDATE",
            "SUCCESS",
        ),
        (
            &alice,
            &csrf,
            Method::DELETE,
            "/api/proxmox/pools/acl",
            Some(
                json!({ "poolId": "DEV_alice_1", "type": "user", "username": "bob", "role": "PVEVMUser" }),
            ),
            "POOL_ACL_UPDATE",
            "SUCCESS",
        ),
        (
            &alice,
            &csrf,
            Method::DELETE,
            "/api/proxmox/pools/DEV_alice_2",
            None,
            "POOL_DELETE",
            "SUCCESS",
        ),
        (
            &admin,
            &acsrf,
            Method::DELETE,
            "/api/proxmox/pools/DEV_alice_1/limits",
            None,
            "POOL_LIMITS_UPDATE",
            "SUCCESS",
        ),
        (
            &admin,
            &acsrf,
            Method::PUT,
            "/api/proxmox/access/acl",
            Some(json!({ "path": "/vms/100", "roles": "PVEAuditor", "users": "carol@pve" })),
            "ACL_UPDATE",
            "SUCCESS",
        ),
        (
            &alice,
            &csrf,
            Method::POST,
            "/api/proxmox/vm/100/vnc",
            Some(json!({})),
            "VM_CONSOLE_TICKET",
            "SUCCESS",
        ),
    ];
    let mut expected = Vec::new();
    for (b, token, method, path, body, action, status) in &calls {
        let resp = b
            .send(method.clone(), path, Some(token), body.clone())
            .await;
        let op = resp.headers()["x-op-id"].to_str().unwrap().to_owned();
        let code = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let ok = (200..300).contains(&code);
        assert_eq!(ok, *status == "SUCCESS", "{method} {path}: {code} {text}");
        expected.push((op, *action, *status, format!("{method} {path}")));
        app.tasks_settled().await;
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
            .filter(|r| r.op_id.as_deref() == Some(op.as_str()) && r.action == action)
            .collect();
        assert_eq!(mine.len(), 1, "{what}: rows {mine:?}");
        assert_eq!(mine[0].status, status, "{what}: {mine:?}");
    }
    app.stop().await.unwrap();
}

/// The firmware, machine and NUMA settings hardware templates carry can be set on a VM (and are
/// checked), but not on a container.
#[tokio::test]
async fn firmware_machine_and_numa_are_settable_and_checked() {
    let app = app().await;
    let (alice, csrf) = app.session_as("alice", &[], false).await;
    let put = |vmid: u64, set: Value| {
        let (alice, csrf) = (&alice, &csrf);
        async move {
            let resp = alice
                .send(
                    Method::PUT,
                    &format!("/api/proxmox/vm/{vmid}/config"),
                    Some(csrf),
                    Some(json!({ "set": set })),
                )
                .await;
            let status = resp.status().as_u16();
            (status, resp.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (status, body) = put(
        102,
        json!({ "bios": "ovmf", "machine": "q35,viommu=virtio", "numa": true }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let config: Value = alice
        .get("/api/proxmox/vm/102/config")
        .await
        .json()
        .await
        .unwrap();
    let config = if config["data"].is_object() {
        &config["data"]
    } else {
        &config
    };
    assert_eq!(config["bios"], "ovmf", "{config}");
    assert_eq!(config["machine"], "q35,viommu=virtio", "{config}");
    assert_eq!(
        config["numa"].to_string().trim_matches('"'),
        "1",
        "{config}"
    );

    let (status, body) = put(102, json!({ "bios": "uefi" })).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["field"], "bios", "{body}");
    let (status, body) = put(102, json!({ "machine": "q35,viommu=amd" })).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["field"], "machine", "{body}");
    // Containers have no firmware to choose.
    let (status, body) = put(103, json!({ "bios": "ovmf" })).await;
    assert_eq!(status, 400, "{body}");
}
