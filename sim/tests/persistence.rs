//! `state_file`: the cluster survives a restart; the scenario only seeds a missing file.

use std::time::Duration;

use pve_sim::{Scenario, SimConfig, Simulator};
use reqwest::Method;

use crate::common::{client_for, Sim};

async fn start(path: &std::path::Path, scenario: Scenario) -> Sim {
    let handle = Simulator::start(SimConfig {
        scenario,
        task_duration: Duration::from_millis(20),
        state_file: Some(path.to_owned()),
        ..SimConfig::default()
    })
    .await
    .expect("start");
    let client = client_for(&handle);
    let root = handle.authorization();
    Sim {
        handle,
        client,
        root,
    }
}

#[tokio::test]
async fn state_survives_a_restart() {
    let path = std::env::temp_dir().join(format!("pve-sim-state-{}.json", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let sim = start(&path, Scenario::Demo).await;
    assert!(path.exists(), "seeded state written at start");
    sim.ok(Method::POST, "/pools", &[("poolid", "PERSIST_me_1")])
        .await;
    sim.task_ok(Method::POST, "/nodes/pve1/qemu/140/status/start", &[])
        .await;
    // the task's effect is saved once a later request observes its end
    sim.get("/version").await;
    let alice = sim.handle.token("alice@pve!uma").expect("alice");
    sim.handle.shutdown();

    // a different scenario is ignored: the file wins
    let again = start(&path, Scenario::Empty).await;
    let pools = again.get("/pools").await;
    assert!(pools
        .as_array()
        .expect("list")
        .iter()
        .any(|p| p["poolid"] == "PERSIST_me_1"));
    assert_eq!(
        again.get("/nodes/pve1/qemu/140/status/current").await["status"],
        "running"
    );
    // the root token is re-keyed with the new secret; other tokens keep theirs
    assert_ne!(again.handle.token_secret(), sim.handle.token_secret());
    let r = again
        .call_as(&alice.authorization(), Method::GET, "/pools", &[])
        .await;
    assert_eq!(r.status.as_u16(), 200);
    again.handle.shutdown();
    let _ = std::fs::remove_file(&path);
}
