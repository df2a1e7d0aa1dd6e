//! Two instances on one MariaDB and one Redis: a session made on one is valid on the other,
//! revoking it on one closes its sockets on the other, and Socket.IO broadcasts reach the sockets
//! of both (but not those of another deployment on the same Redis), while what each instance
//! produces for itself (its poller's deltas, its shutdown) stays with it.

use std::collections::HashMap;
use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use crate::support::browser::Browser;
use crate::support::db::{drop_mysql_database, fresh_mysql_database};
use crate::support::sio::{Connect, PollingSocket};
use crate::support::{demo_vars, eventually, outside_sim, sim_vars, spawn_with, temp_dir, TestApp};

fn redis_url() -> String {
    std::env::var("UMA_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// Gives `app`'s deployment the local account alice and signs her in there (with her CSRF token).
async fn alice_on(app: &TestApp) -> (Browser, String) {
    let store = app.store().await;
    uma::bootstrap::set_local_password(&store, "alice", "alice-pass-123", false)
        .await
        .unwrap();
    store.close().await;
    let alice = Browser::new(&app.url(""));
    let csrf = alice.login("alice", "alice-pass-123").await["csrfToken"]
        .as_str()
        .unwrap()
        .to_owned();
    (alice, csrf)
}

async fn socket_of(app: &TestApp, b: &Browser) -> PollingSocket {
    match PollingSocket::connect(&app.url(""), &b.cookie_header(), Some(&app.url(""))).await {
        Connect::Ok(s) => s,
        Connect::Refused(why) => panic!("socket refused: {why}"),
    }
}

/// Emits `event` with `{}` and returns its ack, which must be `ok`.
async fn ack_ok(s: &PollingSocket, event: &str) -> Value {
    let ack = s
        .emit_ack(event, serde_json::json!({}), Duration::from_secs(10))
        .await
        .unwrap_or_else(|| panic!("no ack for {event}"));
    assert_eq!(ack["ok"], true, "{event}: {ack}");
    ack
}

/// Follows a socket's resource deltas for `span`: every delta must start where the last ended.
async fn deltas_chain(s: &PollingSocket, span: Duration) -> usize {
    let ack = ack_ok(s, "resources:watch").await;
    let mut version = ack["version"].as_u64().unwrap();
    let until = tokio::time::Instant::now() + span;
    let mut seen = 0;
    loop {
        let left = until.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            return seen;
        }
        let Some(d) = s.wait_event("resources:delta", left).await else {
            return seen;
        };
        let to = d["to"].as_u64().unwrap();
        // Deltas queued before the snapshot are in it; after the first one that follows it,
        // every delta must follow the last (a second poller's would repeat or skip versions).
        if to <= version && seen == 0 {
            continue;
        }
        assert_eq!(
            d["from"].as_u64(),
            Some(version),
            "a delta from another instance's poller: {d}"
        );
        version = to;
        seen += 1;
    }
}

async fn instance(db: &str, redis: &str) -> TestApp {
    instance_with(db, redis, &[("RESOURCE_POLL_INTERVAL_MS", "300")]).await
}

/// An instance of the deployment on `db` and `redis`, with `more` settings.
async fn instance_with(db: &str, redis: &str, more: &[(&str, &str)]) -> TestApp {
    let dir = temp_dir("scale");
    let mut vars: HashMap<String, String> = demo_vars(&dir);
    for (k, v) in [
        ("DATABASE_URL", db),
        ("REDIS_URL", redis),
        (
            "SECRET_COOKIE_PASSWORD",
            "one-secret-shared-by-every-instance-0123",
        ),
        ("UMA_ADMIN_PASSWORD", "admin-pass-123"),
        ("USE_SECURE_COOKIE", "false"),
    ]
    .iter()
    .chain(more)
    {
        vars.insert((*k).into(), (*v).into());
    }
    spawn_with(vars, dir).await
}

#[tokio::test]
async fn a_revoke_on_one_instance_closes_sockets_on_another() {
    let redis = redis_url();
    let db = fresh_mysql_database().await;
    let a = instance(&db, &redis).await;
    let b = instance(&db, &redis).await;
    let (alice, _) = alice_on(&a).await;
    let socket = socket_of(&a, &alice).await;
    // The same cookie is a session on the other instance.
    let on_b = Browser::new(&b.url(""));
    let resp = on_b
        .http
        .get(b.url("/api/user"))
        .header("cookie", alice.cookie_header())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.json::<Value>().await.unwrap()["isLoggedIn"], true);

    let admin = Browser::new(&b.url(""));
    let csrf = admin.login("admin", "admin-pass-123").await["csrfToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let list: Value = admin.get("/api/admin/sessions").await.json().await.unwrap();
    let id = list["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["username"] == "alice")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let resp = admin
        .send(
            Method::DELETE,
            &format!("/api/admin/sessions/{id}"),
            Some(&csrf),
            None,
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert!(
        socket
            .wait_event("session:revoked", Duration::from_secs(1))
            .await
            .is_some(),
        "the socket on the other instance is told within a second"
    );
    assert!(socket.wait_closed(Duration::from_secs(1)).await);
    assert_eq!(
        alice.get("/api/user").await.json::<Value>().await.unwrap()["isLoggedIn"],
        false
    );

    a.stop().await.unwrap();
    b.stop().await.unwrap();
    drop_mysql_database(&db).await;
}

#[tokio::test]
async fn broadcasts_reach_every_instance_of_the_deployment_and_no_other() {
    let redis = redis_url();
    let db = fresh_mysql_database().await;
    let other_db = fresh_mysql_database().await;
    let a = instance(&db, &redis).await;
    let b = instance(&db, &redis).await;
    // Another deployment (its own database) on the same Redis.
    let c = instance(&other_db, &redis).await;
    let (alice, csrf) = alice_on(&a).await;
    let on_a = socket_of(&a, &alice).await;
    let on_b = socket_of(&b, &alice).await;
    let (elsewhere, _) = alice_on(&c).await;
    let on_c = socket_of(&c, &elsewhere).await;

    // Each instance's own poller feeds its own sockets: the deltas on b form one chain.
    let (on_a_deltas, on_b_deltas) = tokio::join!(
        deltas_chain(&on_a, Duration::from_secs(2)),
        deltas_chain(&on_b, Duration::from_secs(2))
    );
    assert!(on_a_deltas > 0 && on_b_deltas > 0, "deltas flow on both");

    // A task alice starts through a shows in her tab served by b, not in the other deployment.
    let resp = alice
        .post_json(
            "/api/proxmox/vm/102/power",
            Some(&csrf),
            serde_json::json!({ "action": "start" }),
        )
        .await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let started = on_b
        .wait_event("task:started", Duration::from_secs(3))
        .await
        .expect("task:started reaches the socket on the other instance");
    assert_eq!(started["vmid"], 102, "{started}");
    assert!(on_a
        .wait_event("task:started", Duration::from_secs(3))
        .await
        .is_some());
    assert!(
        on_c.wait_event("task:started", Duration::from_millis(1500))
            .await
            .is_none(),
        "another deployment on the same Redis hears nothing"
    );

    // Stopping a closes a's sockets only.
    a.stop().await.unwrap();
    assert!(on_a.wait_closed(Duration::from_secs(3)).await);
    // b's socket still answers.
    ack_ok(&on_b, "resources:unwatch").await;

    b.stop().await.unwrap();
    c.stop().await.unwrap();
    drop_mysql_database(&db).await;
    drop_mysql_database(&other_db).await;
}

#[tokio::test]
async fn broadcasts_stay_local_while_redis_is_away_and_cross_again_after() {
    let mut redis = crate::support::redis::OwnRedis::start().await;
    let db = fresh_mysql_database().await;
    let a = instance(&db, &redis.url()).await;
    let b = instance(&db, &redis.url()).await;
    let (alice, csrf) = alice_on(&a).await;
    let on_a = socket_of(&a, &alice).await;
    let on_b = socket_of(&b, &alice).await;
    let power = |vmid: u32, action: &'static str| {
        let (alice, csrf) = (&alice, &csrf);
        async move {
            let resp = alice
                .post_json(
                    &format!("/api/proxmox/vm/{vmid}/power"),
                    Some(csrf),
                    serde_json::json!({ "action": action }),
                )
                .await;
            assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
        }
    };

    power(102, "start").await;
    assert!(on_b
        .wait_event("task:started", Duration::from_secs(3))
        .await
        .is_some());
    assert!(on_a
        .wait_event("task:started", Duration::from_secs(3))
        .await
        .is_some());

    // Redis away: a's own sockets are told at once; nothing waits for Redis.
    redis.stop();
    crate::support::eventually(
        Duration::from_secs(5),
        "a notices Redis is gone",
        || async {
            use fred::interfaces::ClientLike;
            !a.state.redis.as_ref().unwrap().is_connected()
        },
    )
    .await;
    let asked = tokio::time::Instant::now();
    power(100, "shutdown").await;
    assert!(
        on_a.wait_event("task:started", Duration::from_secs(2))
            .await
            .is_some(),
        "the instance's own socket gets the event while Redis is away"
    );
    assert!(asked.elapsed() < Duration::from_secs(2));

    // Redis back: the channels are subscribed again and b hears a again.
    redis.run().await;
    let until = tokio::time::Instant::now() + Duration::from_secs(15);
    let mut heard = false;
    let mut action = "stop";
    while tokio::time::Instant::now() < until && !heard {
        tokio::time::sleep(Duration::from_millis(500)).await;
        power(102, action).await;
        action = if action == "stop" { "start" } else { "stop" };
        heard = on_b
            .wait_event("task:started", Duration::from_secs(1))
            .await
            .is_some();
    }
    assert!(
        heard,
        "after Redis returned, b never heard a's broadcasts again"
    );

    a.stop().await.unwrap();
    b.stop().await.unwrap();
    drop_mysql_database(&db).await;
}

/// An instance of the deployment on `db` and `redis` whose Proxmox is `sim`.
async fn on_cluster(db: &str, redis: &str, sim: &pve_sim::SimHandle) -> TestApp {
    let to_sim = sim_vars(sim);
    let mut more: Vec<(&str, &str)> = to_sim.iter().map(|(k, v)| (*k, v.as_str())).collect();
    more.extend([
        ("PROXMOX_SSL_INSECURE", "true"),
        ("UMA_ALLOW_INSECURE_COOKIE", "true"),
        ("RESOURCE_POLL_INTERVAL_MS", "500"),
    ]);
    instance_with(db, redis, &more).await
}

/// Counts the deltas a watching socket receives within `span`.
async fn deltas_within(s: &PollingSocket, span: Duration) -> usize {
    let until = tokio::time::Instant::now() + span;
    let mut n = 0;
    while let Some(_d) = s
        .wait_event(
            "resources:delta",
            until.saturating_duration_since(tokio::time::Instant::now()),
        )
        .await
    {
        n += 1;
    }
    n
}

#[tokio::test]
async fn one_instance_reads_the_cluster_for_the_deployment_and_another_takes_over() {
    let sim = outside_sim().await;
    let redis = redis_url();
    let db = fresh_mysql_database().await;
    let a = on_cluster(&db, &redis, &sim).await;
    let b = on_cluster(&db, &redis, &sim).await;
    let (alice, _) = a.session_as("alice", &[], false).await;
    let on_a = socket_of(&a, &alice).await;
    let on_b = socket_of(&b, &alice).await;
    for s in [&on_a, &on_b] {
        ack_ok(s, "resources:watch").await;
    }

    // Ten intervals: about ten reads between the two instances (twenty if each read), and
    // both sockets get deltas.
    let before = sim.requests("GET /cluster/resources");
    let (da, db_) = tokio::join!(
        deltas_within(&on_a, Duration::from_secs(5)),
        deltas_within(&on_b, Duration::from_secs(5))
    );
    let reads = sim.requests("GET /cluster/resources") - before;
    assert!((5..=14).contains(&reads), "{reads} reads in ten intervals");
    assert!(da >= 4 && db_ >= 4, "deltas on a: {da}, on b: {db_}");

    // The reader stops: the other takes over within a few intervals and reads alone.
    let deployment = a.state.store.deployment_id().await.unwrap();
    let key =
        uma::services::cluster_feed::leader_key(&deployment, a.state.pve.endpoint().url.as_str());
    let leader: Option<String> = {
        use fred::interfaces::KeysInterface;
        a.state.redis.as_ref().unwrap().get(&key).await.unwrap()
    };
    let leader = leader.expect("an instance leads");
    let (reader, other, other_socket) = if leader == a.state.acl.instance() {
        (a, b, on_b)
    } else {
        assert_eq!(leader, b.state.acl.instance());
        (b, a, on_a)
    };
    reader.stop().await.unwrap();
    let me = other.state.acl.instance().to_owned();
    crate::support::eventually(
        Duration::from_secs(10),
        "the other instance leads",
        || async {
            use fred::interfaces::KeysInterface;
            let now: Option<String> = other.state.redis.as_ref().unwrap().get(&key).await.unwrap();
            now.as_deref() == Some(me.as_str())
        },
    )
    .await;
    deltas_within(&other_socket, Duration::from_millis(200)).await;
    let before = sim.requests("GET /cluster/resources");
    let n = deltas_within(&other_socket, Duration::from_secs(5)).await;
    let reads = sim.requests("GET /cluster/resources") - before;
    assert!(n >= 4, "{n} deltas after the reader stopped");
    assert!((5..=14).contains(&reads), "{reads} reads in ten intervals");

    other.stop().await.unwrap();
    sim.shutdown();
    drop_mysql_database(&db).await;
}

/// The online users `s` is told of.
async fn online_users(s: &PollingSocket) -> Vec<String> {
    let ack = ack_ok(s, "get_online_users").await;
    serde_json::from_value(ack["users"].clone()).unwrap()
}

/// Whether `s` hears `who` go `status` within `within`.
async fn hears_presence(s: &PollingSocket, who: &str, status: &str, within: Duration) -> bool {
    let until = tokio::time::Instant::now() + within;
    while let Some(p) = s
        .wait_event(
            "presence",
            until.saturating_duration_since(tokio::time::Instant::now()),
        )
        .await
    {
        if p["username"] == who && p["status"] == status {
            return true;
        }
    }
    false
}

#[tokio::test]
async fn presence_counts_the_sockets_of_every_instance() {
    let redis = redis_url();
    let db = fresh_mysql_database().await;
    let a = instance(&db, &redis).await;
    let b = instance(&db, &redis).await;
    let (alice, _) = a.session_as("alice", &[], false).await;
    let (bob, _) = a.session_as("bob", &[], false).await;
    let bob_on_b = socket_of(&b, &bob).await;
    let alice_on_a = socket_of(&a, &alice).await;
    assert!(
        hears_presence(&bob_on_b, "alice", "online", Duration::from_secs(3)).await,
        "bob, on the other instance, hears alice come online"
    );
    assert_eq!(online_users(&bob_on_b).await, ["alice", "bob"]);
    assert_eq!(online_users(&alice_on_a).await, ["alice", "bob"]);
    // b's own view (message delivery, user lists) learns of alice within a few seconds.
    eventually(Duration::from_secs(8), "b counts alice online", || async {
        b.state.chat.online.is_online("alice")
    })
    .await;

    // A second tab of alice's on b: no second "online"; closing the tab on a: no "offline".
    let alice_on_b = socket_of(&b, &alice).await;
    assert!(!hears_presence(&bob_on_b, "alice", "online", Duration::from_millis(800)).await);
    alice_on_a.post("41").await;
    assert!(
        !hears_presence(&bob_on_b, "alice", "offline", Duration::from_millis(1500)).await,
        "alice still has a tab on b"
    );
    assert_eq!(online_users(&bob_on_b).await, ["alice", "bob"]);

    // Her last tab closes: offline for everyone.
    alice_on_b.post("41").await;
    assert!(hears_presence(&bob_on_b, "alice", "offline", Duration::from_secs(3)).await);
    assert_eq!(online_users(&bob_on_b).await, ["bob"]);

    a.stop().await.unwrap();
    b.stop().await.unwrap();
    drop_mysql_database(&db).await;
}

/// Two instances write audit rows at the same moment: the deployment keeps one chain, every row
/// in it, and the chain verifies from either instance.
#[tokio::test]
async fn two_instances_writing_audit_rows_at_once_leave_one_valid_chain() {
    let redis = redis_url();
    let db = fresh_mysql_database().await;
    let a = instance(&db, &redis).await;
    let b = instance(&db, &redis).await;
    let on_a = Browser::new(&a.url(""));
    on_a.login("admin", "admin-pass-123").await;
    let on_b = Browser::new(&b.url(""));
    on_b.login("admin", "admin-pass-123").await;
    let before = a.audit_rows("VIEW_AUDIT_LOGS").await.len();
    // Each round reads the log on both at once, then both write their queues at once.
    const ROUNDS: usize = 8;
    const READS: usize = 5;
    for _ in 0..ROUNDS {
        let reads = (0..READS).map(|_| async {
            let (x, y) = tokio::join!(
                on_a.get("/api/admin/audit-logs?limit=1"),
                on_b.get("/api/admin/audit-logs?limit=1")
            );
            assert_eq!((x.status().as_u16(), y.status().as_u16()), (200, 200));
        });
        futures::future::join_all(reads).await;
        tokio::join!(a.flush_audit(), b.flush_audit());
    }
    let rows = a.audit_rows("VIEW_AUDIT_LOGS").await;
    assert_eq!(rows.len() - before, 2 * ROUNDS * READS, "every row is kept");
    for app in [&on_a, &on_b] {
        let r: Value = app
            .get("/api/admin/audit-logs/verify")
            .await
            .json()
            .await
            .unwrap();
        assert!(r["broken"].is_null(), "{r}");
        assert!(
            r["checked"].as_u64().unwrap() >= (2 * ROUNDS * READS) as u64,
            "{r}"
        );
    }
    let mut vars = a.cli_vars();
    vars.push((
        "SECRET_COOKIE_PASSWORD".into(),
        "one-secret-shared-by-every-instance-0123".into(),
    ));
    let (code, out, err) = crate::support::run_uma(&["audit", "verify"], &vars, None);
    assert_eq!(code, 0, "{out}{err}");
    a.stop().await.unwrap();
    b.stop().await.unwrap();
    drop_mysql_database(&db).await;
}
