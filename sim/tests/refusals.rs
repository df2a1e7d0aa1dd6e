//! Faithful refusals (FACTS.md §4 and the wire rules): status codes and messages.

use pve_sim::Scenario;
use reqwest::Method;

use crate::common::spawn;

/// Calls as root and checks status and first message line.
macro_rules! refused {
    ($sim:expr, $m:ident $path:expr, $params:expr => $status:expr, $msg:expr) => {{
        let r = $sim.call(Method::$m, $path, $params).await;
        assert_eq!(
            r.status.as_u16(),
            $status,
            "{} {}: {:?}",
            stringify!($m),
            $path,
            r.body
        );
        assert_eq!(r.message(), $msg, "{} {}", stringify!($m), $path);
        assert_eq!(r.body["data"], serde_json::Value::Null);
        r
    }};
}

/// Calls as root; the call answers a UPID whose task must end with `msg`.
async fn task_fails(
    sim: &crate::common::Sim,
    m: Method,
    path: &str,
    params: &[(&str, &str)],
    msg: &str,
) {
    let upid = sim.ok(m, path, params).await;
    let exit = sim.wait_task(upid.as_str().expect("upid")).await;
    assert_eq!(exit, msg, "{path}");
}

#[tokio::test]
async fn synchronous_refusals() {
    let sim = spawn(Scenario::Demo).await;
    refused!(sim, GET "/nodes/pve1/qemu/999/config", &[] => 500,
        "Configuration file 'nodes/pve1/qemu-server/999.conf' does not exist");
    refused!(sim, GET "/nodes/pve2/lxc/999/status/current", &[] => 500,
        "Configuration file 'nodes/pve2/lxc/999.conf' does not exist");
    // right vmid, wrong node: the config is looked up on the node asked
    refused!(sim, GET "/nodes/pve2/qemu/100/config", &[] => 500,
        "Configuration file 'nodes/pve2/qemu-server/100.conf' does not exist");
    refused!(sim, DELETE "/nodes/pve1/qemu/100", &[] => 500, "VM 100 is running - destroy failed");
    refused!(sim, DELETE "/nodes/pve2/lxc/103", &[] => 500, "CT 103 is running - destroy failed");
    refused!(sim, PUT "/nodes/pve3/qemu/133/config", &[("memory", "1024")] => 500, "VM 133 is locked (backup)");
    refused!(sim, POST "/nodes/pve1/qemu", &[("vmid", "100")] => 500,
        "unable to create VM 100 - VM 100 already exists on node 'pve1'");
    refused!(sim, POST "/nodes/pve1/lxc", &[("vmid", "103"), ("ostemplate", "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst")] => 500,
        "CT 103 already exists on node 'pve2'");
    refused!(sim, POST "/nodes/pve1/qemu/9000/clone", &[("newid", "101")] => 500,
        "unable to create VM 101: config file already exists");
    refused!(sim, POST "/nodes/pve1/qemu/140/status/reset", &[] => 500, "VM 140 not running");
    refused!(sim, POST "/nodes/pve1/qemu/140/status/reboot", &[] => 500, "VM 140 not running");
    refused!(sim, POST "/nodes/pve1/qemu/140/status/suspend", &[] => 500, "VM 140 not running");
    refused!(sim, POST "/nodes/pve2/lxc/103/status/start", &[] => 500, "CT 103 already running");
    refused!(sim, POST "/nodes/pve1/qemu/101/snapshot", &[("snapname", "current")] => 500,
        "unable to use snapshot name 'current' (reserved name)");
    refused!(sim, DELETE "/pools", &[("poolid", "DEV_alice_1")] => 500,
        "pool 'DEV_alice_1' is not empty (contains VM 100)");
    refused!(sim, GET "/pools", &[("poolid", "NOPE")] => 500, "pool 'NOPE' does not exist");
    refused!(sim, GET "/cluster/nextid", &[("vmid", "100")] => 400, "Parameter verification failed.");
    refused!(sim, PUT "/nodes/pve1/qemu/100/config", &[("digest", "0000")] => 500,
        "detected modified configuration - file changed by other user? Try again.");
    refused!(sim, PUT "/nodes/pve1/qemu/100/resize", &[("disk", "scsi0"), ("size", "1G")] => 500,
        "shrinking disks is not supported");
    refused!(sim, POST "/nodes/pve1/qemu/100/clone", &[("newid", "700"), ("full", "0")] => 500,
        "Linked clone feature is not supported for drive 'scsi0'");
    refused!(sim, POST "/nodes/pve1/qemu/9000/template", &[] => 500,
        "you can't convert a template to a template");
    refused!(sim, GET "/nodes/pve9/status", &[] => 500,
        "hostname lookup 'pve9' failed - failed to get address info for: pve9: Name or service not known");
    refused!(sim, POST "/nodes/pve1/qemu", &[("vmid", "701"), ("scsi0", "local-lvm:100000")] => 500,
        "unable to create image: not enough free space on storage 'local-lvm' (requested 100000G, available 560G)");
    refused!(sim, POST "/nodes/pve1/qemu", &[("vmid", "703"), ("ide2", "local:iso/missing.iso,media=cdrom")] => 500,
        "volume 'local:iso/missing.iso' does not exist");
    refused!(sim, POST "/nodes/pve1/qemu/100/clone", &[("newid", "704"), ("target", "pve2")] => 500,
        "can't clone VM to node 'pve2' (VM uses local storage)");
    refused!(sim, GET "/nodes/pve1/nonexistent", &[] => 501, "Method 'GET /nodes/pve1/nonexistent' not implemented");
    refused!(sim, PUT "/version", &[] => 501, "Method 'PUT /version' not implemented");

    let r = refused!(sim, GET "/cluster/nextid", &[("vmid", "100")] => 400, "Parameter verification failed.");
    assert_eq!(r.body["errors"]["vmid"], "VM 100 already exists");
    let r = refused!(sim, POST "/nodes/pve1/qemu", &[("vmid", "42"), ("bogus", "1")] => 400, "Parameter verification failed.");
    assert_eq!(
        r.body["errors"]["vmid"],
        "value must have a minimum value of 100"
    );
    assert_eq!(
        r.body["errors"]["bogus"],
        "property is not defined in schema and the schema does not allow additional properties"
    );
    let r = refused!(sim, POST "/nodes/pve1/lxc", &[("vmid", "702")] => 400, "Parameter verification failed.");
    assert_eq!(
        r.body["errors"]["ostemplate"],
        "property is missing and it is not optional"
    );
    let r = refused!(sim, GET "/cluster/resources", &[("type", "pool")] => 400, "Parameter verification failed.");
    assert_eq!(
        r.body["errors"]["type"],
        "value 'pool' does not have a value in the enumeration 'vm, storage, node, sdn'"
    );
    let r = refused!(sim, GET "/nodes/pve1/tasks/UPID:nope/status", &[] => 400, "Parameter verification failed.");
    assert_eq!(r.body["errors"]["upid"], "no such task");

    // nextid is a string, pool ids in resources carry the leading slash
    assert_eq!(sim.get("/cluster/nextid").await, "105");
    let res = sim.get("/cluster/resources").await;
    assert!(res
        .as_array()
        .expect("list")
        .iter()
        .any(|r| r["id"] == "/pool/DEV_alice_1"));
}

#[tokio::test]
async fn wire_refusals() {
    let sim = spawn(Scenario::Demo).await;
    // DELETE with a body
    let url = format!("{}/api2/json/nodes/pve1/qemu/140", sim.handle.url());
    let r = sim
        .client
        .delete(&url)
        .header("Authorization", &sim.root)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("purge=1")
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status().as_u16(), 501);
    assert_eq!(r.status().canonical_reason(), Some("Not Implemented"));
    let body: serde_json::Value = r.json().await.expect("json");
    assert_eq!(body["message"], "Unexpected content for method 'DELETE'\n");
    // no or wrong token: 401 with an empty body
    let r = sim.call_as("", Method::GET, "/version", &[]).await;
    assert_eq!(r.status.as_u16(), 401);
    assert_eq!(r.body, serde_json::Value::Null);
    let wrong = format!(
        "PVEAPIToken={}=00000000-0000-0000-0000-000000000000",
        sim.handle.token_id()
    );
    let r = sim.call_as(&wrong, Method::GET, "/version", &[]).await;
    assert_eq!(r.status.as_u16(), 401);
    // the space form of the header is accepted too
    let spaced = sim.root.replacen("PVEAPIToken=", "PVEAPIToken ", 1);
    assert_eq!(
        sim.call_as(&spaced, Method::GET, "/version", &[])
            .await
            .status
            .as_u16(),
        200
    );
    // skiplock is root-only: the non-root bob token gets the 400
    let bob = sim
        .handle
        .token("bob@pve!uma")
        .expect("bob token")
        .authorization();
    let r = sim
        .call_as(
            &bob,
            Method::PUT,
            "/nodes/pve1/qemu/110/config",
            &[("skiplock", "1")],
        )
        .await;
    assert_eq!(r.status.as_u16(), 500, "110 lives on pve2: {:?}", r.body);
    let r = sim
        .call_as(
            &bob,
            Method::PUT,
            "/nodes/pve2/qemu/110/config",
            &[("skiplock", "1"), ("cores", "2")],
        )
        .await;
    assert_eq!(r.status.as_u16(), 400);
    assert_eq!(
        r.body["errors"]["skiplock"],
        "Only root may use this option."
    );
}

#[tokio::test]
async fn refusals_inside_tasks() {
    let sim = spawn(Scenario::Demo).await;
    task_fails(
        &sim,
        Method::POST,
        "/nodes/pve1/qemu/100/status/start",
        &[],
        "VM 100 already running",
    )
    .await;
    task_fails(
        &sim,
        Method::POST,
        "/nodes/pve1/qemu/998/status/start",
        &[],
        "Configuration file 'nodes/pve1/qemu-server/998.conf' does not exist",
    )
    .await;
    task_fails(
        &sim,
        Method::POST,
        "/nodes/pve3/qemu/133/status/start",
        &[],
        "VM 133 is locked (backup)",
    )
    .await;
    task_fails(
        &sim,
        Method::POST,
        "/nodes/pve1/qemu/101/snapshot/nope/rollback",
        &[],
        "snapshot 'nope' does not exist",
    )
    .await;
    task_fails(
        &sim,
        Method::DELETE,
        "/nodes/pve1/qemu/101/snapshot/nope",
        &[],
        "snapshot 'nope' does not exist",
    )
    .await;
    task_fails(
        &sim,
        Method::POST,
        "/nodes/pve1/qemu/101/snapshot",
        &[("snapname", "before-upgrade")],
        "snapshot name 'before-upgrade' already used",
    )
    .await;
    // stop of a stopped VM is a no-op that ends OK
    sim.task_ok(Method::POST, "/nodes/pve1/qemu/140/status/stop", &[])
        .await;
    // the failed task's log ends with TASK ERROR
    let tasks = sim.get("/nodes/pve1/tasks?errors=1").await;
    let failed = tasks.as_array().expect("list");
    assert!(failed.len() >= 4);
    assert!(failed.iter().all(|t| t["status"] != "OK"));
}
