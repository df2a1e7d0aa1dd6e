//! Rate limits and payload caps by event and by API, per user and shared through Redis.

use super::*;

on_both!(rate_limits_and_payload_caps_answer_with_errors,);

async fn rate_limits_and_payload_caps_answer_with_errors(db: Db) {
    let app = app_on(db, &[]).await;
    let alice = user(&app, "alice", false).await;
    let bob = user(&app, "bob", false).await;

    // typing: 120 per 10 s per socket.
    let acks = burst(
        &alice.sock,
        "typing",
        &json!({ "to": "bob", "isTyping": true }),
        130,
    )
    .await;
    let limited = acks
        .iter()
        .filter(|a| a["error"]["code"] == "rate_limited")
        .count();
    assert!(limited >= 5, "{limited} of 130 refused");
    // Events of one socket are handled concurrently, so which ones pass is not their order.
    let passed = acks.iter().filter(|a| a["ok"] == true).count();
    assert!(passed >= 120, "the socket's 120 pass: {passed}");
    assert_eq!(passed + limited, 130);
    let refused = acks
        .iter()
        .find(|a| a["error"]["code"] == "rate_limited")
        .unwrap();
    assert_eq!(refused["error"]["message"], "typing rate limit exceeded.");

    // send_message: 131072 bytes.
    let big = ack(
        &bob,
        "send_message",
        json!({ "to": "alice", "content": "y".repeat(140_000) }),
    )
    .await;
    assert_eq!(err_code(&big), "payload_too_large");
    assert_eq!(big["error"]["message"], "send_message payload too large.");
    assert_eq!(
        bob.sock.wait_event("error", T).await.unwrap()["message"],
        "send_message payload too large."
    );
    // join_group: 256 bytes.
    let j = ack(&bob, "join_group", json!({ "groupId": "g".repeat(300) })).await;
    assert_eq!(err_code(&j), "payload_too_large");
    // draw_stroke: 16 KiB.
    let points: Vec<Value> = (0..1500).map(|i| json!({ "x": i, "y": i })).collect();
    let s = ack(
        &bob,
        "draw_stroke",
        json!({ "points": points, "color": "#000000", "width": 2 }),
    )
    .await;
    assert_eq!(err_code(&s), "payload_too_large");

    app.flush_audit().await;
    let rows = app
        .state
        .store
        .list_audit(&uma::store::audit::AuditFilter::default(), 1000, 0)
        .await
        .unwrap();
    let rejected: Vec<_> = rows
        .iter()
        .filter(|r| r.action == "SOCKET_EVENT_REJECTED")
        .collect();
    assert!(
        rejected.len() >= 3,
        "one row per socket and event in 10 s: {}",
        rejected.len()
    );
    assert!(rejected.len() < 10, "a flood does not flood the audit log");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn per_user_limits_are_shared_through_redis() {
    let url =
        std::env::var("UMA_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    if tokio::net::TcpStream::connect(url.trim_start_matches("redis://"))
        .await
        .is_err()
    {
        panic!(
            "Redis is needed for this test and is not reachable at {url}.\n\
             Start it (`make services` does, or `redis-server --daemonize yes`), or point UMA_TEST_REDIS_URL at one."
        );
    }
    let app = app_on(Db::Sqlite, &[("REDIS_URL", url.as_str())]).await;
    let name = format!("r{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let first = user(&app, &name, false).await;
    let mut socks = vec![first.sock];
    for _ in 0..3 {
        socks.push(socket(&app, &first.browser).await);
    }
    // join_group: 30 per socket, 90 per user; three sockets use the user's budget up.
    for s in &socks[..3] {
        let acks = burst(s, "join_group", &json!("nope"), 30).await;
        assert!(
            acks.iter().all(|a| a["error"]["code"] == "forbidden"),
            "not a member, but counted"
        );
    }
    let acks = burst(&socks[3], "join_group", &json!("nope"), 1).await;
    assert_eq!(acks[0]["error"]["code"], "rate_limited", "{}", acks[0]);
    use fred::interfaces::KeysInterface;
    let redis = app.state.redis.clone().unwrap();
    let count: Option<i64> = redis
        .get(format!("uma:ev:join_group:{name}"))
        .await
        .unwrap();
    assert_eq!(count, Some(91), "counted in Redis");
    app.stop().await.unwrap();
}
