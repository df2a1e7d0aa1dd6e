//! Guest lifecycles over HTTPS: create → start → task OK → running → snapshot → rollback → stop →
//! clone → template → destroy, for QEMU and LXC; state changes only when tasks finish.

use std::time::Duration;

use pve_sim::Scenario;
use reqwest::Method;
use serde_json::Value;

use crate::common::{enc, spawn, spawn_with, Sim};

async fn status(sim: &Sim, base: &str) -> String {
    sim.get(&format!("{base}/status/current")).await["status"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn lifecycle(sim: &Sim, kind: &str, vmid: &str, create: &[(&str, &str)]) {
    let list = format!("/nodes/pve2/{kind}");
    let base = format!("{list}/{vmid}");
    let mut params = vec![("vmid", vmid)];
    params.extend_from_slice(create);
    sim.task_ok(Method::POST, &list, &params).await;
    let config = sim.get(&format!("{base}/config")).await;
    assert!(
        config.get("lock").is_none(),
        "lock cleared after create: {config}"
    );
    assert_eq!(status(sim, &base).await, "stopped");

    sim.task_ok(Method::POST, &format!("{base}/status/start"), &[])
        .await;
    assert_eq!(status(sim, &base).await, "running");
    let res = sim.get("/cluster/resources?type=vm").await;
    let entry = res
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|r| r["vmid"].as_u64().map(|v| v.to_string()).as_deref() == Some(vmid))
                .cloned()
        })
        .expect("guest in resources");
    assert_eq!(entry["status"], "running");
    assert_eq!(entry["id"], format!("{kind}/{vmid}"));

    sim.task_ok(
        Method::POST,
        &format!("{base}/snapshot"),
        &[("snapname", "before")],
    )
    .await;
    let memory = if kind == "qemu" { "4096" } else { "2048" };
    sim.ok(
        Method::PUT,
        &format!("{base}/config"),
        &[("memory", memory)],
    )
    .await;
    assert_eq!(
        sim.get(&format!("{base}/config")).await["memory"]
            .to_string()
            .trim_matches('"'),
        memory
    );
    if kind == "qemu" {
        // memory is not hot-pluggable: pending until the next power cycle
        let current = sim.get(&format!("{base}/config?current=1")).await;
        assert_eq!(current["memory"], "2048");
        let pending = sim.get(&format!("{base}/pending")).await;
        let entry = pending
            .as_array()
            .and_then(|a| a.iter().find(|e| e["key"] == "memory").cloned())
            .expect("memory entry");
        assert_eq!(entry["value"], "2048");
        assert_eq!(entry["pending"], "4096");
    }
    let snaps = sim.get(&format!("{base}/snapshot")).await;
    let names: Vec<&str> = snaps
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, ["before", "current"]);

    sim.task_ok(
        Method::POST,
        &format!("{base}/snapshot/before/rollback"),
        &[],
    )
    .await;
    let after = sim.get(&format!("{base}/config")).await;
    assert_ne!(
        after["memory"].to_string().trim_matches('"'),
        memory,
        "rollback restored memory"
    );
    assert_eq!(after["parent"], "before");
    // rollback without vmstate leaves the guest stopped; start it again to stop it
    if status(sim, &base).await == "stopped" {
        sim.task_ok(Method::POST, &format!("{base}/status/start"), &[])
            .await;
    }
    sim.task_ok(Method::POST, &format!("{base}/status/stop"), &[])
        .await;
    assert_eq!(status(sim, &base).await, "stopped");

    let clone_id = format!("{vmid}1");
    let name_key = if kind == "qemu" { "name" } else { "hostname" };
    sim.task_ok(
        Method::POST,
        &format!("{base}/clone"),
        &[
            ("newid", clone_id.as_str()),
            (name_key, "the-clone"),
            ("full", "1"),
        ],
    )
    .await;
    let clone_base = format!("{list}/{clone_id}");
    let cc = sim.get(&format!("{clone_base}/config")).await;
    assert_eq!(cc[name_key], "the-clone");

    let t = sim
        .ok(Method::POST, &format!("{clone_base}/template"), &[])
        .await;
    if let Some(upid) = t.as_str() {
        assert_eq!(sim.wait_task(upid).await, "OK");
    } else {
        assert_eq!(t, Value::Null, "lxc template answers null");
    }
    let cc = sim.get(&format!("{clone_base}/config")).await;
    assert_eq!(cc["template"], 1);

    sim.task_ok(Method::DELETE, &clone_base, &[]).await;
    sim.task_ok(Method::DELETE, &base, &[("purge", "1")]).await;
    let gone = sim.call(Method::GET, &format!("{base}/config"), &[]).await;
    assert_eq!(gone.status.as_u16(), 500);
    let conf_dir = if kind == "qemu" { "qemu-server" } else { "lxc" };
    assert_eq!(
        gone.message(),
        format!("Configuration file 'nodes/pve2/{conf_dir}/{vmid}.conf' does not exist")
    );
}

#[tokio::test]
async fn qemu_lifecycle() {
    let sim = spawn(Scenario::Demo).await;
    lifecycle(
        &sim,
        "qemu",
        "500",
        &[
            ("name", "life-vm"),
            ("memory", "2048"),
            ("scsi0", "local-lvm:8"),
            ("net0", "virtio,bridge=vmbr0"),
        ],
    )
    .await;
}

#[tokio::test]
async fn lxc_lifecycle() {
    let sim = spawn(Scenario::Demo).await;
    lifecycle(
        &sim,
        "lxc",
        "600",
        &[
            (
                "ostemplate",
                "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst",
            ),
            ("hostname", "life-ct"),
            ("memory", "1024"),
            ("rootfs", "local-lvm:4"),
        ],
    )
    .await;
}

#[tokio::test]
async fn state_changes_only_when_the_task_ends() {
    let sim = spawn_with(Scenario::Demo, Duration::from_secs(3)).await;
    let upid = sim
        .ok(Method::POST, "/nodes/pve1/qemu/140/status/start", &[])
        .await;
    let upid = upid.as_str().expect("upid").to_owned();
    // UPID:node:pid:pstart:starttime:type:id:user:
    let parts: Vec<&str> = upid.split(':').collect();
    assert_eq!(parts.len(), 9, "{upid}");
    assert_eq!(
        (parts[1], parts[5], parts[6], parts[8]),
        ("pve1", "qmstart", "140", "")
    );
    assert_eq!(parts[7], sim.handle.token_id());
    assert!(parts[2].len() == 8 && parts[4].len() == 8);
    let current = sim.get("/nodes/pve1/qemu/140/status/current").await;
    assert_eq!(current["status"], "stopped", "not before the task ends");
    let active = sim.get("/nodes/pve1/tasks?source=active").await;
    let row = active
        .as_array()
        .and_then(|a| a.iter().find(|t| t["upid"] == upid.as_str()).cloned())
        .expect("running task listed");
    assert_eq!(row["status"], "RUNNING");
    assert_eq!(row["tokenid"], "uma");
    let cluster = sim.get("/cluster/tasks").await;
    assert!(cluster
        .as_array()
        .expect("list")
        .iter()
        .any(|t| t["upid"] == upid.as_str()));
    let st = sim
        .get(&format!("/nodes/pve1/tasks/{}/status", enc(&upid)))
        .await;
    assert_eq!(st["status"], "running");
    sim.wait_until("/nodes/pve1/qemu/140/status/current", |v| {
        v["status"] == "running"
    })
    .await;
    assert_eq!(sim.wait_task(&upid).await, "OK");
    let log = sim
        .call(
            Method::GET,
            &format!("/nodes/pve1/tasks/{}/log", enc(&upid)),
            &[],
        )
        .await;
    assert_eq!(log.body["total"], log.data().as_array().map_or(0, Vec::len));
    assert_eq!(
        log.data()
            .as_array()
            .and_then(|a| a.last())
            .map(|l| l["t"].clone()),
        Some("TASK OK".into())
    );
}

#[tokio::test]
async fn rrddata_resolutions_and_movement() {
    let sim = spawn(Scenario::Demo).await;
    for (tf, points) in [
        ("hour", 60),
        ("day", 1440),
        ("week", 336),
        ("month", 1440),
        ("year", 1440),
    ] {
        let d = sim
            .get(&format!("/nodes/pve1/qemu/100/rrddata?timeframe={tf}"))
            .await;
        let arr = d.as_array().expect("array");
        assert_eq!(arr.len(), points, "{tf}");
        let step = arr[1]["time"].as_i64().unwrap_or(0) - arr[0]["time"].as_i64().unwrap_or(0);
        let expected = match tf {
            "hour" | "day" => 60,
            "week" | "month" => 1800,
            _ => 21_600,
        };
        assert_eq!(step, expected, "{tf}");
    }
    let d = sim.get("/nodes/pve1/qemu/100/rrddata?timeframe=hour").await;
    let cpus: Vec<f64> = d
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|p| p["cpu"].as_f64())
        .collect();
    assert!(cpus.iter().all(|c| (0.0..=1.0).contains(c)));
    let distinct: std::collections::BTreeSet<u64> =
        cpus.iter().map(|c| (c * 1000.0) as u64).collect();
    assert!(distinct.len() > 5, "series moves: {cpus:?}");
    let max = sim
        .get("/nodes/pve1/qemu/100/rrddata?timeframe=hour&cf=MAX")
        .await;
    let max_sum: f64 = max
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|p| p["cpu"].as_f64())
        .sum();
    assert!(max_sum >= cpus.iter().sum::<f64>());
    let node = sim.get("/nodes/pve2/rrddata?timeframe=decade").await;
    assert_eq!(node.as_array().map(Vec::len), Some(570));
}

#[tokio::test]
async fn json_bodies_query_merge_and_booleans() {
    let sim = spawn(Scenario::Demo).await;
    let url = format!(
        "{}/api2/json/nodes/pve1/qemu/100/config?description=from-query",
        sim.handle.url()
    );
    let r = sim
        .client
        .put(&url)
        .header("Authorization", &sim.root)
        .json(&serde_json::json!({ "description": "from-body", "onboot": true, "cores": 3 }))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status().as_u16(), 200);
    let c = sim.get("/nodes/pve1/qemu/100/config").await;
    assert_eq!(c["description"], "from-query", "query wins over body");
    assert_eq!(c["onboot"], 1, "JSON true stored as 1");
    assert_eq!(c["cores"], 3);
    let r = sim
        .call(
            Method::PUT,
            "/nodes/pve1/qemu/100/config",
            &[("onboot", "true")],
        )
        .await;
    assert_eq!(r.status.as_u16(), 400);
    assert_eq!(r.message(), "Parameter verification failed.");
    assert_eq!(
        r.body["errors"]["onboot"],
        "type check ('boolean') failed - got 'true'"
    );
    assert_eq!(r.body["data"], Value::Null);
}
