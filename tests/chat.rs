//! Chat end to end with real Socket.IO clients, on SQLite and MariaDB: direct messages, groups and
//! the public channel; edits, deletions and reactions reaching exactly the members; blocking;
//! non-members refused by event and by API; rate limits and payload caps; one order for 1,000
//! messages from 10 senders; a crashed room restarting with its history.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use uma_actors::chat::RoomKey;

use crate::support::browser::Browser;
use crate::support::sio::{Connect, PollingSocket};
use crate::support::{on_both, wait_for, Db, TestApp};

on_both!(
    direct_messages_end_to_end,
    groups_reach_exactly_their_members,
    the_public_channel_reaches_everyone,
    blocking_and_settings_hold,
    rate_limits_and_payload_caps_answer_with_errors,
    a_thousand_messages_from_ten_senders_arrive_in_one_order,
    a_crashed_room_restarts_with_its_history,
    new_users_connecting_at_once_share_one_public_channel,
);

const T: Duration = Duration::from_secs(10);
const QUIET: Duration = Duration::from_millis(600);

pub async fn app_on(db: Db, extra: &[(&str, &str)]) -> TestApp {
    TestApp::demo("chat").on(db).vars(extra).start().await
}

/// A signed-in user with a connected socket.
pub struct User {
    pub name: String,
    pub id: String,
    pub browser: Browser,
    pub csrf: String,
    pub sock: PollingSocket,
}

pub async fn user(app: &TestApp, name: &str, admin: bool) -> User {
    let (browser, csrf) = app.session_as(name, &[], admin).await;
    let sock = socket(app, &browser).await;
    // The user row exists once the socket is set up (created at connect, as the original).
    let id = wait_for(|| async {
        app.state
            .store
            .user_by_username(name)
            .await
            .unwrap()
            .map(|u| u.id)
    })
    .await;
    User {
        name: name.to_owned(),
        id,
        browser,
        csrf,
        sock,
    }
}

pub async fn socket(app: &TestApp, browser: &Browser) -> PollingSocket {
    match PollingSocket::connect(&app.url(""), &browser.cookie_header(), Some(&app.url(""))).await {
        Connect::Ok(s) => s,
        Connect::Refused(m) => panic!("socket refused: {m}"),
    }
}

/// Waits for an `event` whose payload satisfies `pred` (others are passed over).
pub async fn wait_where(sock: &PollingSocket, event: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + T;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let v = sock
            .wait_event(event, left)
            .await
            .unwrap_or_else(|| panic!("no matching {event} within {T:?}"));
        if pred(&v) {
            return v;
        }
    }
}

pub async fn ack(u: &User, event: &str, data: Value) -> Value {
    u.sock
        .emit_ack(event, data, T)
        .await
        .unwrap_or_else(|| panic!("no ack for {event}"))
}

fn ok(v: &Value) -> &Value {
    assert_eq!(v["ok"], true, "expected ok ack: {v}");
    v
}

fn err_code(v: &Value) -> &str {
    v["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("expected an error ack: {v}"))
}

async fn json_get(u: &User, path: &str) -> (u16, Value) {
    let resp = u.browser.get(path).await;
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn json_send(u: &User, method: reqwest::Method, path: &str, body: Value) -> (u16, Value) {
    let resp = u
        .browser
        .http
        .request(method, format!("{}{path}", u.browser.base))
        .header("cookie", u.browser.cookie_header())
        .header("origin", &u.browser.origin)
        .header("x-csrf-token", &u.csrf)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn general_id(app: &TestApp, users: &[&User]) -> String {
    let id = wait_for(|| async {
        app.state
            .store
            .group_by_name("General")
            .await
            .unwrap()
            .map(|g| g.id)
    })
    .await;
    for u in users {
        wait_for(|| async {
            app.state
                .store
                .is_group_member(&id, &u.id)
                .await
                .unwrap()
                .then_some(())
        })
        .await;
    }
    id
}

async fn direct_messages_end_to_end(db: Db) {
    let app = app_on(db, &[]).await;
    let alice = user(&app, "alice", false).await;
    let bob = user(&app, "bob", false).await;
    let carol = user(&app, "carol", false).await;

    // Sent right after connect, with markup to sanitize.
    let a = ack(
        &alice,
        "send_message",
        json!({ "to": "bob", "content": "hi <b>bob</b><script>alert(1)</script> <a href=\"javascript:x\">x</a> <a href=\"https://example.com\">link</a>" }),
    )
    .await;
    let msg = ok(&a)["message"].clone();
    let id = msg["id"].as_str().unwrap().to_owned();
    let content = msg["content"].as_str().unwrap();
    assert!(content.starts_with("hi <b>bob</b>"), "{content}");
    assert!(
        !content.contains("script") && !content.contains("javascript"),
        "{content}"
    );
    assert!(
        content.contains("rel=\"noopener noreferrer nofollow\""),
        "{content}"
    );
    assert_eq!(msg["sender"]["username"], "alice");
    assert_eq!(msg["receiver"]["username"], "bob");
    assert!(msg["sender"].get("settings").is_none(), "no private fields");
    let sent = alice.sock.wait_event("message_sent", T).await.unwrap();
    assert_eq!(sent["id"], id.as_str());
    let got = bob.sock.wait_event("new_message", T).await.unwrap();
    assert_eq!(got["id"], id.as_str());
    assert_eq!(got["delivered"], true, "bob was online");
    assert!(carol.sock.wait_event("new_message", QUIET).await.is_none());

    // Reactions toggle and reach both parties only.
    let r = ack(
        &bob,
        "add_reaction",
        json!({ "messageId": id, "emoji": "👍" }),
    )
    .await;
    assert_eq!(ok(&r)["added"], true);
    for u in [&alice, &bob] {
        let upd = u.sock.wait_event("message_updated", T).await.unwrap();
        assert_eq!(upd["reactions"][0]["emoji"], "👍");
        assert_eq!(upd["reactions"][0]["user"]["username"], "bob");
    }
    let r = ack(
        &bob,
        "add_reaction",
        json!({ "messageId": id, "emoji": "👍" }),
    )
    .await;
    assert_eq!(ok(&r)["added"], false);
    assert_eq!(
        alice.sock.wait_event("message_updated", T).await.unwrap()["reactions"],
        json!([])
    );
    let bad = ack(
        &bob,
        "add_reaction",
        json!({ "messageId": id, "emoji": "lol" }),
    )
    .await;
    assert_eq!(err_code(&bad), "invalid_input");
    let stranger = ack(
        &carol,
        "add_reaction",
        json!({ "messageId": id, "emoji": "🎉" }),
    )
    .await;
    assert_eq!(
        err_code(&stranger),
        "forbidden",
        "carol is not in that conversation"
    );

    // Only the author edits; the edit reaches both.
    let e = ack(
        &bob,
        "edit_message",
        json!({ "messageId": id, "content": "hacked" }),
    )
    .await;
    assert_eq!(err_code(&e), "forbidden");
    assert_eq!(e["error"]["message"], "Unauthorized edit");
    wait_where(&bob.sock, "error", |e| e["message"] == "Unauthorized edit").await;
    let e = ack(
        &alice,
        "edit_message",
        json!({ "messageId": id, "content": "hi bob (edited)" }),
    )
    .await;
    assert_eq!(ok(&e)["message"]["content"], "hi bob (edited)");
    for u in [&alice, &bob] {
        let upd = u.sock.wait_event("message_updated", T).await.unwrap();
        assert!(upd["editedAt"].is_string());
    }

    // Typing and read receipts.
    ok(&ack(&alice, "typing", json!({ "to": "bob", "isTyping": true })).await);
    let t = bob.sock.wait_event("user_typing", T).await.unwrap();
    assert_eq!(t, json!({ "from": "alice", "isTyping": true }));
    assert!(carol.sock.wait_event("user_typing", QUIET).await.is_none());
    let (_, recent) = json_get(&bob, "/api/chat/recent").await;
    assert_eq!(recent[0]["username"], "alice");
    assert_eq!(recent[0]["unreadCount"], 1);
    let read = ack(&bob, "mark_read", json!({ "senderId": alice.id })).await;
    assert_eq!(ok(&read)["count"], 1);
    let receipt = alice.sock.wait_event("messages_read", T).await.unwrap();
    assert_eq!(receipt["by"], "bob");
    let (_, recent) = json_get(&bob, "/api/chat/recent").await;
    assert_eq!(recent[0]["unreadCount"], 0);

    // A reply, then a soft delete that carries deletedAt.
    let reply = ack(
        &bob,
        "send_message",
        json!({ "to": "alice", "content": "yes?", "replyToId": id }),
    )
    .await;
    assert_eq!(ok(&reply)["message"]["replyTo"]["id"], id.as_str());
    let d = ack(&bob, "delete_message", json!({ "messageId": id })).await;
    assert_eq!(err_code(&d), "forbidden");
    assert_eq!(d["error"]["message"], "Unauthorized delete");
    ok(&ack(&alice, "delete_message", json!({ "messageId": id })).await);
    for u in [&alice, &bob] {
        let upd = u.sock.wait_event("message_updated", T).await.unwrap();
        if upd["id"] == id.as_str() {
            assert!(upd["deletedAt"].is_string(), "{upd}");
            assert_eq!(upd["content"], "This message was deleted.");
        }
    }
    assert!(carol
        .sock
        .wait_event("message_updated", QUIET)
        .await
        .is_none());

    // Validation.
    let empty = ack(
        &alice,
        "send_message",
        json!({ "to": "bob", "content": "" }),
    )
    .await;
    assert_eq!(err_code(&empty), "invalid_input");
    let long = ack(
        &alice,
        "send_message",
        json!({ "to": "bob", "content": "x".repeat(5001) }),
    )
    .await;
    assert_eq!(err_code(&long), "invalid_input");
    let nobody = ack(
        &alice,
        "send_message",
        json!({ "to": "nobody", "content": "?" }),
    )
    .await;
    assert_eq!(err_code(&nobody), "not_found");
    let wrong = ack(&alice, "send_message", json!({ "content": 5 })).await;
    assert_eq!(err_code(&wrong), "invalid_input");

    // History with a cursor, oldest first.
    for i in 0..5 {
        ok(&ack(
            &alice,
            "send_message",
            json!({ "to": "bob", "content": format!("n{i}") }),
        )
        .await);
    }
    let resp = bob
        .browser
        .get("/api/chat/history?username=alice&limit=3")
        .await;
    let before = resp.headers()["x-next-before"].to_str().unwrap().to_owned();
    let page: Value = resp.json().await.unwrap();
    let texts: Vec<&str> = page
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["n2", "n3", "n4"]);
    let (_, older) = json_get(
        &bob,
        &format!("/api/chat/history?username=alice&limit=10&before={before}"),
    )
    .await;
    let older: Vec<&str> = older
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(older, ["This message was deleted.", "yes?", "n0", "n1"]);
    let (status, _) = json_get(&bob, "/api/chat/history").await;
    assert_eq!(status, 400);

    app.flush_audit().await;
    let rows = app
        .state
        .store
        .list_audit(&uma::store::audit::AuditFilter::default(), 1000, 0)
        .await
        .unwrap();
    let count = |a: &str| {
        rows.iter()
            .filter(|r| r.action == a && r.status == "SUCCESS")
            .count()
    };
    assert!(count("CHAT_MESSAGE_SEND") >= 7);
    assert_eq!(count("CHAT_MESSAGE_REACTION"), 2);
    assert!(count("SOCKET_CONNECT") >= 3);
    app.stop().await.unwrap();
}

async fn groups_reach_exactly_their_members(db: Db) {
    let app = app_on(db, &[]).await;
    let alice = user(&app, "alice", false).await;
    let bob = user(&app, "bob", false).await;
    let carol = user(&app, "carol", false).await;

    let (_, found) = json_get(&alice, "/api/users/search?q=bo").await;
    assert_eq!(found[0]["username"], "bob");
    let (status, g) = json_send(
        &alice,
        reqwest::Method::POST,
        "/api/groups",
        json!({ "name": "ops team", "memberIds": [bob.id] }),
    )
    .await;
    assert_eq!(status, 200, "{g}");
    let gid = g["id"].as_str().unwrap().to_owned();
    assert_eq!(g["members"].as_array().unwrap().len(), 2);
    assert_eq!(g["isAdmin"], true);
    assert!(bob.sock.wait_event("group_updated", T).await.is_some());

    let m = ack(
        &alice,
        "send_message",
        json!({ "groupId": gid, "content": "standup?" }),
    )
    .await;
    let mid = ok(&m)["message"]["id"].as_str().unwrap().to_owned();
    let got = bob.sock.wait_event("new_message", T).await.unwrap();
    assert_eq!(got["group"]["name"], "ops team");
    assert!(carol.sock.wait_event("new_message", QUIET).await.is_none());

    // A non-member is refused by event and by API.
    let c = ack(
        &carol,
        "send_message",
        json!({ "groupId": gid, "content": "let me in" }),
    )
    .await;
    assert_eq!(err_code(&c), "forbidden");
    assert_eq!(c["error"]["message"], "You are not a member of this group.");
    assert_eq!(
        err_code(&ack(&carol, "join_group", json!(gid)).await),
        "forbidden"
    );
    assert_eq!(
        err_code(
            &ack(
                &carol,
                "typing",
                json!({ "groupId": gid, "isTyping": true })
            )
            .await
        ),
        "forbidden"
    );
    assert_eq!(
        err_code(
            &ack(
                &carol,
                "add_reaction",
                json!({ "messageId": mid, "emoji": "👀" })
            )
            .await
        ),
        "forbidden"
    );
    let (s, _) = json_get(&carol, &format!("/api/chat/history/group?groupId={gid}")).await;
    assert_eq!(s, 403);
    let (s, _) = json_get(&carol, &format!("/api/groups/{gid}")).await;
    assert_eq!(s, 403);
    let (s, _) = json_send(
        &carol,
        reqwest::Method::PATCH,
        &format!("/api/groups/{gid}"),
        json!({ "name": "mine" }),
    )
    .await;
    assert_eq!(s, 403);
    ok(&ack(&bob, "join_group", json!(gid)).await);

    // Reactions and edits on group messages reach the members (the original dropped them).
    ok(&ack(
        &bob,
        "add_reaction",
        json!({ "messageId": mid, "emoji": "✅" }),
    )
    .await);
    for u in [&alice, &bob] {
        let upd = u.sock.wait_event("message_updated", T).await.unwrap();
        assert_eq!(upd["reactions"][0]["emoji"], "✅");
    }
    ok(&ack(
        &alice,
        "edit_message",
        json!({ "messageId": mid, "content": "standup at 10" }),
    )
    .await);
    assert_eq!(
        bob.sock.wait_event("message_updated", T).await.unwrap()["content"],
        "standup at 10"
    );
    assert!(carol
        .sock
        .wait_event("message_updated", QUIET)
        .await
        .is_none());
    ok(&ack(&bob, "typing", json!({ "groupId": gid, "isTyping": true })).await);
    let t = alice.sock.wait_event("user_typing", T).await.unwrap();
    assert_eq!(t["groupId"], gid.as_str());

    // Membership changes take effect at once: carol in, bob out.
    let (s, body) = json_send(
        &bob,
        reqwest::Method::PATCH,
        &format!("/api/groups/{gid}"),
        json!({ "name": "bob's now" }),
    )
    .await;
    assert_eq!(s, 403, "only group admins: {body}");
    let (s, body) = json_send(
        &alice,
        reqwest::Method::PATCH,
        &format!("/api/groups/{gid}"),
        json!({ "name": "ops", "addMemberIds": [carol.id], "removeMemberIds": [bob.id] }),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert!(bob.sock.wait_event("group_removed", T).await.is_some());
    ok(&ack(
        &alice,
        "send_message",
        json!({ "groupId": gid, "content": "welcome carol" }),
    )
    .await);
    wait_where(&carol.sock, "new_message", |m| {
        m["content"] == "welcome carol"
    })
    .await;
    assert!(bob.sock.wait_event("new_message", QUIET).await.is_none());
    let b = ack(
        &bob,
        "send_message",
        json!({ "groupId": gid, "content": "hello?" }),
    )
    .await;
    assert_eq!(err_code(&b), "forbidden");
    let (s, _) = json_get(&bob, &format!("/api/chat/history/group?groupId={gid}")).await;
    assert_eq!(s, 403);

    // Lists, unread counts and read marks.
    let (_, groups) = json_get(&carol, "/api/groups").await;
    let ops = groups
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["id"] == gid.as_str())
        .unwrap();
    assert_eq!(ops["name"], "ops");
    assert_eq!(ops["unreadCount"], 2);
    assert_eq!(ops["lastMessage"]["content"], "welcome carol");
    let read = ack(&carol, "mark_read", json!({ "groupId": gid })).await;
    assert!(ok(&read)["upToSeq"].as_i64().unwrap() > 0);
    assert_eq!(
        alice.sock.wait_event("messages_read", T).await.unwrap()["by"],
        "carol"
    );
    let (_, groups) = json_get(&carol, "/api/groups").await;
    let ops = groups
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["id"] == gid.as_str())
        .unwrap();
    assert_eq!(ops["unreadCount"], 0);
    let (s, hist) = json_get(&carol, &format!("/api/chat/history/group?groupId={gid}")).await;
    assert_eq!(s, 200);
    assert_eq!(hist.as_array().unwrap().len(), 2);
    assert_eq!(hist[0]["reactions"][0]["emoji"], "✅");

    // A member leaves by themself.
    let (s, _) = json_send(
        &carol,
        reqwest::Method::DELETE,
        &format!("/api/groups/{gid}/members/{}", carol.id),
        json!({}),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(
        err_code(
            &ack(
                &carol,
                "send_message",
                json!({ "groupId": gid, "content": "bye" })
            )
            .await
        ),
        "forbidden"
    );
    app.stop().await.unwrap();
}

async fn the_public_channel_reaches_everyone(db: Db) {
    let app = app_on(db, &[]).await;
    let alice = user(&app, "alice", false).await;
    let bob = user(&app, "bob", false).await;
    let carol = user(&app, "carol", false).await;
    let general = general_id(&app, &[&alice, &bob, &carol]).await;
    let (_, pc) = json_get(&carol, "/api/chat/public-channel").await;
    assert_eq!(pc["channelId"], general.as_str());
    ok(&ack(
        &alice,
        "send_message",
        json!({ "groupId": general, "content": "hello all" }),
    )
    .await);
    for u in [&alice, &bob, &carol] {
        let m = u.sock.wait_event("new_message", T).await.unwrap();
        assert_eq!(m["content"], "hello all");
        assert_eq!(m["group"]["name"], "General");
    }
    // Presence: a second tab of bob makes no new "online"; closing one of two keeps him online.
    let online = ack(&carol, "get_online_users", Value::Null).await;
    assert_eq!(ok(&online)["users"], json!(["alice", "bob", "carol"]));
    let (_, renamed) = json_send(
        &alice,
        reqwest::Method::PATCH,
        &format!("/api/groups/{general}"),
        json!({ "name": "Mine" }),
    )
    .await;
    assert_eq!(renamed["error"]["code"], "forbidden", "{renamed}");
    app.stop().await.unwrap();
}

async fn blocking_and_settings_hold(db: Db) {
    let app = app_on(db, &[]).await;
    let alice = user(&app, "alice", false).await;
    let bob = user(&app, "bob", false).await;
    let carol = user(&app, "carol", false).await;
    let general = general_id(&app, &[&alice, &bob, &carol]).await;

    let (s, _) = json_send(
        &bob,
        reqwest::Method::POST,
        "/api/chat/blocks",
        json!({ "username": "alice" }),
    )
    .await;
    assert_eq!(s, 200);
    let (_, blocks) = json_get(&bob, "/api/chat/blocks").await;
    assert_eq!(blocks[0]["username"], "alice");
    let dm = ack(
        &alice,
        "send_message",
        json!({ "to": "bob", "content": "hey" }),
    )
    .await;
    assert_eq!(err_code(&dm), "forbidden");
    assert_eq!(dm["error"]["message"], "You cannot message this user.");
    ok(&ack(&alice, "typing", json!({ "to": "bob", "isTyping": true })).await);
    assert!(bob.sock.wait_event("user_typing", QUIET).await.is_none());

    // In the public channel bob stops seeing alice; carol still does.
    ok(&ack(
        &alice,
        "send_message",
        json!({ "groupId": general, "content": "from alice" }),
    )
    .await);
    assert_eq!(
        carol.sock.wait_event("new_message", T).await.unwrap()["content"],
        "from alice"
    );
    assert!(bob.sock.wait_event("new_message", QUIET).await.is_none());
    let (_, hist) = json_get(&bob, &format!("/api/chat/history/group?groupId={general}")).await;
    assert!(hist
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["sender"]["username"] != "alice"));
    let (_, hist) = json_get(
        &carol,
        &format!("/api/chat/history/group?groupId={general}"),
    )
    .await;
    assert_eq!(hist.as_array().unwrap().len(), 1);

    // Bob can still write to alice; unblocking restores her messages.
    ok(&ack(
        &bob,
        "send_message",
        json!({ "to": "alice", "content": "one way" }),
    )
    .await);
    let (s, _) = json_send(
        &bob,
        reqwest::Method::DELETE,
        "/api/chat/blocks/alice",
        json!({}),
    )
    .await;
    assert_eq!(s, 200);
    ok(&ack(
        &alice,
        "send_message",
        json!({ "to": "bob", "content": "friends again" }),
    )
    .await);
    wait_where(&bob.sock, "new_message", |m| {
        m["content"] == "friends again"
    })
    .await;

    // Settings: nobody may send carol direct messages; hidden users are not listed online.
    let (s, body) = json_send(
        &carol,
        reqwest::Method::PUT,
        "/api/chat/settings",
        json!({ "allowMessagesFrom": "none", "showOnlineStatus": false }),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["settings"]["allowMessagesFrom"], "none");
    let refused = ack(
        &alice,
        "send_message",
        json!({ "to": "carol", "content": "?" }),
    )
    .await;
    assert_eq!(
        refused["error"]["message"],
        "User is not accepting messages."
    );
    let online = ack(&alice, "get_online_users", Value::Null).await;
    assert_eq!(ok(&online)["users"], json!(["alice", "bob"]));
    let (s, _) = json_send(
        &carol,
        reqwest::Method::PUT,
        "/api/chat/settings",
        json!({ "bogus": 1 }),
    )
    .await;
    assert_eq!(s, 400);
    app.stop().await.unwrap();
}

/// Posts `n` acked `event` packets in one request and returns the acks in order.
pub async fn burst(sock: &PollingSocket, event: &str, data: &Value, n: usize) -> Vec<Value> {
    burst_with_events(sock, event, data, n).await.0
}

/// [`burst`], also returning the events (`[name, payload]`) that arrived meanwhile.
pub async fn burst_with_events(
    sock: &PollingSocket,
    event: &str,
    data: &Value,
    n: usize,
) -> (Vec<Value>, Vec<Value>) {
    let mut events = Vec::new();
    let base = 100_000u64;
    let body: Vec<String> = (0..n)
        .map(|i| format!("42{}{}", base + i as u64, json!([event, data])))
        .collect();
    sock.post(&body.join("\u{1e}")).await;
    let mut acks: HashMap<u64, Value> = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while acks.len() < n && Instant::now() < deadline {
        for p in sock.poll(Duration::from_secs(5)).await {
            if p == "2" {
                sock.post("3").await;
            }
            if let Some(rest) = p.strip_prefix("42") {
                events.push(serde_json::from_str::<Value>(rest).unwrap());
            }
            if let Some(rest) = p.strip_prefix("43") {
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                if let Ok(id) = digits.parse::<u64>() {
                    let v: Value = serde_json::from_str(&rest[digits.len()..]).unwrap();
                    acks.insert(id, v[0].clone());
                }
            }
        }
    }
    assert_eq!(acks.len(), n, "every call is acknowledged");
    let acks = (0..n)
        .map(|i| acks.remove(&(base + i as u64)).unwrap())
        .collect();
    (acks, events)
}

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

    let started = Instant::now();
    let sends = users.iter().map(|u| {
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
                    .unwrap();
                assert_eq!(a["ok"], true, "{a}");
            }
        }
    });
    futures::future::join_all(sends).await;
    let sent_in = started.elapsed();

    let receive = users.iter().map(|u| async move {
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
        got
    });
    let orders = futures::future::join_all(receive).await;
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
