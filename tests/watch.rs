//! The live dashboard stream at scale: 200 real Socket.IO clients (the `rust_socketio` crate, run
//! by bench/swarm over WebSocket) of five users watch at once; each receives only its permitted
//! guests, Proxmox is read once per interval whatever the number of watchers, and a guest one user
//! starts shows as running in every permitted stream within one interval plus 500 ms.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::swarm::{now_ms, Swarm};
use crate::support::{temp_dir, TestApp};

const INTERVAL_MS: u64 = 1000;
const PER_USER: usize = 40;

fn guest_ids(items: &[Value]) -> BTreeSet<u64> {
    items
        .iter()
        .filter(|r| r["type"] == "qemu" || r["type"] == "lxc")
        .filter_map(|r| r["vmid"].as_u64())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_watchers_one_poll_per_interval_and_only_their_guests() {
    let app = TestApp::demo("live")
        .var("RESOURCE_POLL_INTERVAL_MS", INTERVAL_MS.to_string())
        .tasks_take(Duration::from_millis(10))
        .start()
        .await;
    let sim = app.sim.clone().unwrap();
    let base = app.url("");

    let everyone: BTreeSet<u64> = sim_guests(&app).await.into_iter().collect();
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
    // Client i belongs to user i / PER_USER.
    let mut clients = Vec::new();
    for (name, groups, admin, _) in &users {
        let (b, _) = app.session_as(name, groups, *admin).await;
        for _ in 0..PER_USER {
            clients.push(json!({ "label": name, "cookie": b.cookie_header() }));
        }
    }
    let total = clients.len();
    assert_eq!(total, 200);
    let user_of = |client: usize| &users[client / PER_USER];

    let mut swarm = Swarm::start(
        &temp_dir("live-swarm"),
        &json!({
            "url": format!("{base}/api/socket/io/"),
            "origin": base,
            "clients": clients,
            "emit": [{ "event": "resources:watch", "data": {} }],
            "listen": ["resources:delta"],
        }),
    )
    .await;

    // Everyone watches; each snapshot holds exactly the user's guests. Deltas that arrive before
    // the test looks at them wait, in order, per client.
    let mut versions: Vec<Option<u64>> = vec![None; total];
    let mut early: Vec<Vec<Value>> = vec![Vec::new(); total];
    let mut connected = 0;
    loop {
        let line = swarm
            .next(Duration::from_secs(60))
            .await
            .expect("the swarm did not get ready within 60 s");
        let client = line["client"].as_u64().map(|c| c as usize);
        match line["kind"].as_str().unwrap() {
            "ready" => break,
            "connected" => connected += 1,
            "error" => panic!("client {client:?}: {}", line["message"]),
            "ack" => {
                let c = client.unwrap();
                let ack = &line["data"];
                assert_eq!(ack["ok"], true, "{ack}");
                let (name, _, _, want) = user_of(c);
                let got = guest_ids(ack["items"].as_array().unwrap());
                assert_eq!(&got, want, "snapshot of {name}");
                versions[c] = Some(ack["version"].as_u64().unwrap());
            }
            "event" => early[client.unwrap()].push(line),
            other => panic!("unexpected line {other}: {line}"),
        }
    }
    assert_eq!(connected, total, "every client connected");
    assert!(versions.iter().all(Option::is_some), "every watch answered");
    assert_eq!(app.state.live.counts().0, total);
    assert!(
        app.state.live.counts().1 <= 5,
        "rooms per distinct view, not per socket"
    );

    // One read of /cluster/resources per interval, whatever the number of watchers.
    let before = sim.requests("GET /cluster/resources");
    let mut buffered = Vec::new();
    let quiet_until = tokio::time::Instant::now() + Duration::from_millis(INTERVAL_MS * 5);
    while let Some(line) = swarm
        .next(quiet_until.saturating_duration_since(tokio::time::Instant::now()))
        .await
    {
        buffered.push(line);
    }
    let reads = sim.requests("GET /cluster/resources") - before;
    assert!((4..=6).contains(&reads), "{reads} reads in 5 intervals");

    // Alice starts a stopped VM of hers; every client's deltas are followed until it shows.
    let target = 102u64;
    let id = format!("qemu/{target}");
    let (alice, csrf) = app.session_as("alice", &[], false).await;
    let started_at = now_ms();
    let r = alice
        .post_json(
            &format!("/api/proxmox/vm/{target}/power"),
            Some(&csrf),
            json!({ "action": "start" }),
        )
        .await;
    assert_eq!(r.status(), 200);

    let mut saw_running: Vec<Option<f64>> = vec![None; total];
    let mut leaked: Vec<bool> = vec![false; total];
    let mut versions: Vec<u64> = versions.into_iter().map(Option::unwrap).collect();
    let mut follow = |line: &Value| {
        assert_eq!(line["kind"], "event", "{line}");
        let c = line["client"].as_u64().unwrap() as usize;
        let d = &line["data"];
        // Deltas chain: each starts where the last ended (one that ends at or before the
        // snapshot's version is already in it).
        let to = d["to"].as_u64().unwrap();
        if to <= versions[c] {
            return;
        }
        assert_eq!(d["from"].as_u64(), Some(versions[c]), "client {c}: {d}");
        versions[c] = to;
        for item in d["upsert"].as_array().into_iter().flatten() {
            if item["id"] == id.as_str() {
                leaked[c] |= !user_of(c).3.contains(&target);
                if item["status"] == "running" && saw_running[c].is_none() {
                    saw_running[c] = Some(line["at"].as_f64().unwrap() - started_at);
                }
            }
        }
    };
    for line in early.iter().flatten().chain(&buffered) {
        follow(line);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_millis(INTERVAL_MS * 3 + 1000);
    while let Some(line) = swarm
        .next(deadline.saturating_duration_since(tokio::time::Instant::now()))
        .await
    {
        follow(&line);
    }

    let mut worst = 0f64;
    for c in 0..total {
        let (who, _, _, permitted) = user_of(c);
        assert!(!leaked[c], "{who} (client {c}) received guest {target}");
        if permitted.contains(&target) {
            let at = saw_running[c]
                .unwrap_or_else(|| panic!("{who} (client {c}) never saw {target} running"));
            worst = worst.max(at);
        }
    }
    eprintln!("slowest permitted client saw {target} running after {worst:.0} ms");
    // Task (10 ms) + at most one interval until the next read + delivery.
    assert!(
        worst <= (INTERVAL_MS + 500) as f64,
        "slowest permitted client saw it after {worst:.0} ms"
    );
    swarm.stop().await;
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
