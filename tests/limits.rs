//! Rate limits of operations across Redis's life: shared windows while it runs, in-process limits
//! while it is down, Redis again once it returns.

use std::time::Duration;

use serde_json::json;
use uma::limits::Backend;

use crate::support::redis::OwnRedis;
use crate::support::{eventually, TestApp};

#[tokio::test]
async fn limits_hold_with_redis_without_it_and_after_it_returns() {
    let mut redis = OwnRedis::start().await;
    let app = TestApp::demo("limits")
        .var("REDIS_URL", redis.url())
        .start()
        .await;
    let (alice, csrf) = app.session_as("alice", &[], false).await;
    // Malformed input is refused (and audited) before any limit is spent.
    for _ in 0..40 {
        let resp = alice
            .post_json(
                "/api/proxmox/vm/100/power",
                Some(&csrf),
                json!({ "action": "explode" }),
            )
            .await;
        assert_eq!(resp.status(), 400);
    }
    assert_eq!(redis.cli(&["GET", "uma:rl:VM_POWER:alice"]), "");
    // Each call counts against VM_POWER (30 a minute) and is then refused: no such guest.
    const GONE: u16 = 404;
    let call = || async {
        alice
            .post_json(
                "/api/proxmox/vm/999999/power",
                Some(&csrf),
                json!({ "action": "start" }),
            )
            .await
    };

    // 1. Redis up: the window lives in Redis.
    for n in 0..30 {
        assert_eq!(call().await.status(), GONE, "call {n}");
    }
    let resp = call().await;
    assert_eq!(resp.status(), 429);
    let wait: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert_eq!(app.state.limits.last_backend(), Backend::Redis);
    assert_eq!(redis.cli(&["GET", "uma:rl:VM_POWER:alice"]), "31");

    // 2. Redis stopped: limits go on in process (a fresh window there), and still hold.
    redis.stop();
    let mut allowed = 0;
    let mut refused = false;
    for _ in 0..40 {
        match call().await.status().as_u16() {
            GONE => allowed += 1,
            429 => {
                refused = true;
                break;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(refused, "the in-process limit refused after {allowed}");
    assert_eq!(allowed, 30);
    assert_eq!(app.state.limits.last_backend(), Backend::Local);

    // 3. Redis back (empty): checks return to it by themselves.
    redis.run().await;
    eventually(
        Duration::from_secs(20),
        "rate limits return to Redis",
        || async {
            let status = call().await.status().as_u16();
            app.state.limits.last_backend() == Backend::Redis && status == GONE
        },
    )
    .await;
    assert!(
        redis
            .cli(&["GET", "uma:rl:VM_POWER:alice"])
            .parse::<u32>()
            .unwrap()
            >= 1
    );

    // Refusals were audited as warnings.
    app.flush_audit().await;
    let store = app.store().await;
    let rows = store
        .list_audit(
            &uma::store::audit::AuditFilter {
                username: Some("alice".into()),
                status: Some("WARNING".into()),
                ..Default::default()
            },
            100,
            0,
        )
        .await
        .unwrap();
    store.close().await;
    assert!(rows.len() >= 2, "{rows:?}");
    assert!(rows.iter().all(|r| r.details.contains("rate_limited")));
    app.stop().await.unwrap();
}
