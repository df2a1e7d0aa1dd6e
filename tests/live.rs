//! The live dashboard stream at scale: 200 Socket.IO clients of five users watch at once; each
//! receives only its permitted guests, Proxmox is read once per interval whatever the number of
//! watchers, and a guest one user starts shows as running in every permitted stream within one
//! interval plus 500 ms.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::sio::{Connect, PollingSocket};
use crate::support::{demo_vars, spawn_with, temp_dir};

const INTERVAL_MS: u64 = 1000;

fn guest_ids(items: &[Value]) -> BTreeSet<u64> {
    items
        .iter()
        .filter(|r| r["type"] == "qemu" || r["type"] == "lxc")
        .filter_map(|r| r["vmid"].as_u64())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_watchers_one_poll_per_interval_and_only_their_guests() {
    let dir = temp_dir("live");
    let mut vars: HashMap<String, String> = demo_vars(&dir);
    vars.insert("RESOURCE_POLL_INTERVAL_MS".into(), INTERVAL_MS.to_string());
    vars.insert("USE_SECURE_COOKIE".into(), "false".into());
    let app = spawn_with(vars, dir).await;
    let sim = app.sim.clone().unwrap();
    sim.set_task_duration(Duration::from_millis(10));
    let base = app.url("");

    let everyone: BTreeSet<u64> = {
        let all = sim_guests(&app).await;
        all.into_iter().collect()
    };
    let users: Vec<(&str, Vec<&str>, bool, BTreeSet<u64>)> = vec![
        ("alice", vec![], false, (100..=104).collect()),
        ("bob", vec![], false, (110..=114).collect()),
        // Group devs: its pool, and the golden images it may clone.
        (
            "gina",
            vec!["devs"],
            false,
            [120, 121, 122, 123, 124, 9000, 9001].into(),
        ),
        ("root", vec![], true, everyone.clone()),
        ("oscar", vec![], false, BTreeSet::new()),
    ];
    let mut sockets: Vec<(usize, Arc<PollingSocket>)> = Vec::new();
    for (ui, (name, groups, admin, _)) in users.iter().enumerate() {
        let (b, _) = app.session_as(name, groups, *admin).await;
        for _ in 0..40 {
            match PollingSocket::connect(&base, &b.cookie_header(), Some(&base)).await {
                Connect::Ok(s) => sockets.push((ui, Arc::new(s))),
                Connect::Refused(r) => panic!("{name}: {r}"),
            }
        }
    }
    assert_eq!(sockets.len(), 200);

    // Everyone watches; each snapshot holds exactly the user's guests.
    let mut versions = vec![0u64; sockets.len()];
    let acks = futures::future::join_all(sockets.iter().map(|(_, s)| {
        let s = s.clone();
        async move {
            s.emit_ack("resources:watch", json!({}), Duration::from_secs(30))
                .await
        }
    }))
    .await;
    for (i, ack) in acks.into_iter().enumerate() {
        let ack = ack.expect("watch ack");
        assert_eq!(ack["ok"], true, "{ack}");
        let (ui, _) = sockets[i];
        let want = &users[ui].3;
        let got = guest_ids(ack["items"].as_array().unwrap());
        assert_eq!(&got, want, "snapshot of {}", users[ui].0);
        versions[i] = ack["version"].as_u64().unwrap();
    }
    assert_eq!(app.state.live.counts().0, 200);
    assert!(
        app.state.live.counts().1 <= 5,
        "rooms per distinct view, not per socket"
    );

    // One read of /cluster/resources per interval, whatever the number of watchers.
    let before = sim.requests("GET /cluster/resources");
    tokio::time::sleep(Duration::from_millis(INTERVAL_MS * 5)).await;
    let reads = sim.requests("GET /cluster/resources") - before;
    assert!((4..=6).contains(&reads), "{reads} reads in 5 intervals");

    // Drain what arrived so far, then alice starts a stopped VM of hers.
    let target = 102u64;
    let (alice, csrf) = app.session_as("alice", &[], false).await;
    let started = tokio::time::Instant::now();
    let r = alice
        .post_json(
            &format!("/api/proxmox/vm/{target}/power"),
            Some(&csrf),
            json!({ "action": "start" }),
        )
        .await;
    assert_eq!(r.status(), 200);
    let id = format!("qemu/{target}");
    let results =
        futures::future::join_all(sockets.iter().zip(versions).map(|((ui, s), version)| {
            let s = s.clone();
            let id = id.clone();
            let permitted = users[*ui].3.contains(&target);
            async move {
                let mut version = version;
                let deadline = Duration::from_millis(INTERVAL_MS * 3 + 1000);
                let t0 = tokio::time::Instant::now();
                let mut saw_running = None;
                let mut leaked = false;
                while t0.elapsed() < deadline {
                    let Some(d) = s
                        .wait_event("resources:delta", deadline - t0.elapsed())
                        .await
                    else {
                        break;
                    };
                    // Deltas chain: each starts where the last ended (one that ends at or before
                    // the snapshot's version is already in it).
                    let to = d["to"].as_u64().unwrap();
                    if to <= version {
                        continue;
                    }
                    assert_eq!(d["from"].as_u64(), Some(version), "{d}");
                    version = to;
                    for item in d["upsert"].as_array().into_iter().flatten() {
                        if item["id"] == id.as_str() {
                            if !permitted {
                                leaked = true;
                            }
                            if item["status"] == "running" && saw_running.is_none() {
                                saw_running = Some(started.elapsed());
                            }
                        }
                    }
                    if permitted && saw_running.is_some() {
                        break;
                    }
                }
                (permitted, saw_running, leaked)
            }
        }))
        .await;
    let mut worst = Duration::ZERO;
    for (i, (permitted, saw, leaked)) in results.into_iter().enumerate() {
        let who = users[sockets[i].0].0;
        assert!(!leaked, "{who} received guest {target}");
        if permitted {
            let at = saw.unwrap_or_else(|| panic!("{who} (socket {i}) never saw {target} running"));
            worst = worst.max(at);
        }
    }
    // Task (10 ms) + at most one interval until the next read + delivery.
    assert!(
        worst <= Duration::from_millis(INTERVAL_MS + 500),
        "slowest permitted client saw it after {worst:?}"
    );
    app.stop().await.unwrap();
}

async fn sim_guests(app: &crate::support::TestApp) -> Vec<u64> {
    let items: Vec<Value> = app
        .state
        .pve
        .get_with("cluster/resources", &[("type", "vm".to_owned())])
        .await
        .unwrap();
    items.iter().filter_map(|r| r["vmid"].as_u64()).collect()
}
