//! Fault and load knobs: latency, error rate, node offline, API down, the scale scenario.

use std::time::{Duration, Instant};

use pve_sim::{Faults, Scenario, SimConfig, Simulator};
use reqwest::Method;

use crate::common::{client_for, spawn};

#[tokio::test]
async fn knobs_at_run_time() {
    let sim = spawn(Scenario::Demo).await;

    sim.handle.set_latency(Duration::from_millis(150));
    let t = Instant::now();
    sim.get("/version").await;
    assert!(t.elapsed() >= Duration::from_millis(150));
    sim.handle.set_latency(Duration::ZERO);

    sim.handle.set_error_rate(1.0);
    let r = sim.call(Method::GET, "/version", &[]).await;
    assert_eq!(r.status.as_u16(), 500);
    sim.handle.set_error_rate(0.0);
    assert_eq!(
        sim.call(Method::GET, "/version", &[]).await.status.as_u16(),
        200
    );

    assert!(sim.handle.set_node_online("pve2", false));
    let r = sim.call(Method::GET, "/nodes/pve2/qemu", &[]).await;
    assert_eq!(r.status.as_u16(), 595);
    let nodes = sim.get("/nodes").await;
    let pve2 = nodes
        .as_array()
        .expect("list")
        .iter()
        .find(|n| n["node"] == "pve2")
        .cloned()
        .expect("pve2");
    assert_eq!(pve2["status"], "offline");
    let res = sim.get("/cluster/resources?type=vm").await;
    let g = res
        .as_array()
        .expect("list")
        .iter()
        .find(|g| g["vmid"] == 110)
        .cloned()
        .expect("110");
    assert_eq!(g["status"], "unknown");
    assert!(sim.handle.set_node_online("pve2", true));
    assert!(!sim.handle.set_node_online("nope", true));
    assert_eq!(
        sim.call(Method::GET, "/nodes/pve2/qemu", &[])
            .await
            .status
            .as_u16(),
        200
    );

    sim.handle.set_api_down(true);
    let fresh = client_for(&sim.handle);
    let url = format!("{}/api2/json/version", sim.handle.url());
    let down = fresh
        .get(&url)
        .header("Authorization", &sim.root)
        .send()
        .await;
    assert!(down.is_err() || down.is_ok_and(|r| r.status().as_u16() == 503));
    sim.handle.set_api_down(false);
    let up = fresh
        .get(&url)
        .header("Authorization", &sim.root)
        .send()
        .await
        .expect("back up");
    assert_eq!(up.status().as_u16(), 200);
}

#[tokio::test]
async fn knobs_at_start_and_scale_scenario() {
    let handle = Simulator::start(SimConfig {
        scenario: Scenario::Scale,
        faults: Faults {
            latency: Duration::from_millis(50),
            ..Faults::default()
        },
        ..SimConfig::default()
    })
    .await
    .expect("start");
    assert_eq!(handle.faults().latency, Duration::from_millis(50));
    let client = client_for(&handle);
    let t = Instant::now();
    let r: serde_json::Value = client
        .get(format!("{}/api2/json/cluster/resources", handle.url()))
        .header("Authorization", handle.authorization())
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert!(t.elapsed() >= Duration::from_millis(50));
    let items = r["data"].as_array().expect("list");
    let guests = items
        .iter()
        .filter(|i| i["type"] == "qemu" || i["type"] == "lxc")
        .count();
    let nodes = items.iter().filter(|i| i["type"] == "node").count();
    assert_eq!((guests, nodes), (2000, 8));
    // a scale user's token sees exactly its pool's 50 guests
    let user = handle.token("user07@pve!uma").expect("scale user token");
    let r: serde_json::Value = client
        .get(format!(
            "{}/api2/json/cluster/resources?type=vm",
            handle.url()
        ))
        .header("Authorization", user.authorization())
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(r["data"].as_array().map(Vec::len), Some(50));
    handle.shutdown();
}
