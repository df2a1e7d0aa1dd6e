//! One order for 1,000 messages from 10 senders, a crashed room restarting with its history, and
//! new users connecting at once sharing one public channel.

use super::*;

on_both!(
    a_thousand_messages_from_ten_senders_arrive_in_one_order,
    a_crashed_room_restarts_with_its_history,
    new_users_connecting_at_once_share_one_public_channel,
);

async fn a_thousand_messages_from_ten_senders_arrive_in_one_order(db: Db) {
    let app = app_on(db, &[]).await;
    // Ten people can't type this fast: lift the per-person rates for this test.
    app.state.event_limits.set_scale(100);
    let mut users = Vec::new();
    for i in 0..10 {
        users.push(user(&app, &format!("u{i}"), false).await);
    }
    let ids: Vec<String> = users[1..].iter().map(|u| u.id.clone()).collect();
    let (s, g) = json_send(
        &users[0],
        reqwest::Method::POST,
        "/api/groups",
        json!({ "name": "load", "memberIds": ids }),
    )
    .await;
    assert_eq!(s, 200);
    let gid = g["id"].as_str().unwrap().to_owned();

    // Each member sends its 100 and then reads until it has all 1,000, in one go: its socket
    // keeps polling (and answering the server's pings) the whole time, as a browser's does,
    // however long the slowest sender takes.
    let started = Instant::now();
    let members = users.iter().map(|u| {
        let gid = gid.clone();
        async move {
            for k in 0..100 {
                let a = u
                    .sock
                    .emit_ack(
                        "send_message",
                        json!({ "groupId": gid, "content": format!("{} #{k}", u.name) }),
                        T,
                    )
                    .await
                    .unwrap_or_else(|| panic!("{} #{k} was not acknowledged", u.name));
                assert_eq!(a["ok"], true, "{a}");
            }
            let sent_at = started.elapsed();
            let mut got = Vec::with_capacity(1000);
            while got.len() < 1000 {
                let m = u
                    .sock
                    .wait_event("new_message", T)
                    .await
                    .unwrap_or_else(|| panic!("{} got only {} messages", u.name, got.len()));
                got.push(m["id"].as_str().unwrap().to_owned());
            }
            assert!(
                u.sock.wait_event("new_message", QUIET).await.is_none(),
                "no duplicates"
            );
            (sent_at, got)
        }
    });
    let results = futures::future::join_all(members).await;
    let sent_in = results.iter().map(|(at, _)| *at).max().unwrap_or_default();
    let orders: Vec<Vec<String>> = results.into_iter().map(|(_, got)| got).collect();
    for (i, order) in orders.iter().enumerate() {
        assert_eq!(order, &orders[0], "u{i} saw another order");
    }
    let me = &users[0];
    let mut stored = Vec::new();
    let mut before = String::new();
    loop {
        let (_, page) = json_get(
            me,
            &format!("/api/chat/history/group?groupId={gid}&limit=500{before}"),
        )
        .await;
        let page = page.as_array().unwrap().clone();
        if page.is_empty() {
            break;
        }
        before = format!("&before={}", page[0]["seq"]);
        let mut ids: Vec<String> = page
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_owned())
            .collect();
        ids.extend(stored);
        stored = ids;
    }
    assert_eq!(stored, orders[0], "the database has the same order");
    eprintln!(
        "[measure] 1000 messages from 10 senders to 10 members ({db:?}): sent and acked in {:?} ({:.0} msg/s)",
        sent_in,
        1000.0 / sent_in.as_secs_f64()
    );
    app.stop().await.unwrap();
}

async fn a_crashed_room_restarts_with_its_history(db: Db) {
    let app = app_on(db, &[]).await;
    let alice = user(&app, "alice", false).await;
    let bob = user(&app, "bob", false).await;
    let mut groups = Vec::new();
    for name in ["a", "b"] {
        let (_, g) = json_send(
            &alice,
            reqwest::Method::POST,
            "/api/groups",
            json!({ "name": name, "memberIds": [bob.id] }),
        )
        .await;
        groups.push(g["id"].as_str().unwrap().to_owned());
    }
    for i in 0..3 {
        ok(&ack(
            &alice,
            "send_message",
            json!({ "groupId": groups[0], "content": format!("a{i}") }),
        )
        .await);
    }
    ok(&ack(
        &alice,
        "send_message",
        json!({ "groupId": groups[1], "content": "b0" }),
    )
    .await);
    let rooms = &app.state.chat.rooms;
    let key = RoomKey::Group(groups[0].clone());
    let before = rooms.stats().await.unwrap();
    rooms.crash(&key);
    wait_for(|| async { (rooms.stats().await.unwrap().restarts > before.restarts).then_some(()) })
        .await;

    // The other room never noticed.
    ok(&ack(
        &alice,
        "send_message",
        json!({ "groupId": groups[1], "content": "b1" }),
    )
    .await);
    // The crashed one is back, with its history.
    let stats = rooms.room_stats(&key).await.unwrap();
    assert_eq!(stats.messages, 3);
    assert_eq!(stats.members, 2);
    ok(&ack(
        &alice,
        "send_message",
        json!({ "groupId": groups[0], "content": "a3" }),
    )
    .await);
    let mut seen = Vec::new();
    while seen.len() < 6 {
        let m = bob.sock.wait_event("new_message", T).await.unwrap();
        seen.push(m["content"].as_str().unwrap().to_owned());
    }
    assert_eq!(seen, ["a0", "a1", "a2", "b0", "b1", "a3"]);
    let (_, hist) = json_get(
        &bob,
        &format!("/api/chat/history/group?groupId={}", groups[0]),
    )
    .await;
    let texts: Vec<&str> = hist
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["a0", "a1", "a2", "a3"]);
    app.stop().await.unwrap();
}

async fn new_users_connecting_at_once_share_one_public_channel(db: Db) {
    let app = app_on(db, &[]).await;
    let names: Vec<String> = (0..8).map(|i| format!("newcomer{i}")).collect();
    let users = futures::future::join_all(names.iter().map(|n| user(&app, n, false))).await;
    let mut channels = std::collections::BTreeSet::new();
    for u in &users {
        let general: Vec<String> = wait_for(|| async {
            let groups = app.state.store.groups_of_user(&u.id).await.unwrap();
            let g: Vec<String> = groups
                .into_iter()
                .filter(|g| g.name == "General")
                .map(|g| g.id)
                .collect();
            (!g.is_empty()).then_some(g)
        })
        .await;
        assert_eq!(general.len(), 1, "{} is in {general:?}", u.name);
        channels.insert(general[0].clone());
    }
    assert_eq!(
        channels.len(),
        1,
        "one public channel for everyone: {channels:?}"
    );
    app.stop().await.unwrap();
}
