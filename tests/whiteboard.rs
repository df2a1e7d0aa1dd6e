//! The whiteboard end to end with real Socket.IO clients, on SQLite and MariaDB: strokes relayed
//! to the others, history on join, debounced saves, undo of one's own stroke, cursors, admin-only
//! save and clear (over events and REST, both broadcast), the stroke rate limit, and team boards
//! closed to those who can't see the pool.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::chat::{ack, app_on, burst, burst_with_events, user, wait_where};
use crate::support::{on_both, wait_for, Db};

const T: Duration = Duration::from_secs(10);
const QUIET: Duration = Duration::from_millis(600);

on_both!(
    strokes_reach_the_others_and_are_saved_once_per_burst,
    save_and_clear_are_for_admins_and_reach_everyone,
    the_stroke_rate_limit_holds,
);

fn stroke(i: usize) -> Value {
    json!({
        "points": [{ "x": i, "y": 10 }, { "x": i + 5, "y": 20, "p": 0.5 }],
        "color": "#1E90FF",
        "width": 4,
    })
}

async fn strokes_reach_the_others_and_are_saved_once_per_burst(db: Db) {
    let app = app_on(db, &[]).await;
    let alice = user(&app, "alice", false).await;
    let bob = user(&app, "bob", false).await;
    let j = ack(&alice, "whiteboard_join", json!({})).await;
    assert_eq!(j["ok"], true, "{j}");
    assert_eq!(j["strokes"], json!([]));
    let j = ack(&bob, "whiteboard_join", json!({ "board": "default" })).await;
    assert_eq!(j["participants"].as_array().unwrap().len(), 2);
    wait_where(&alice.sock, "whiteboard_participants", |p| {
        p["participants"].as_array().is_some_and(|a| a.len() == 2)
    })
    .await;

    let a = ack(&alice, "draw_stroke", stroke(0)).await;
    let first = a["id"].as_str().unwrap().to_owned();
    let got = bob.sock.wait_event("draw_stroke", T).await.unwrap();
    assert_eq!(got["id"], first.as_str());
    assert_eq!(got["by"], "alice");
    assert_eq!(got["color"], "#1e90ff");
    assert!(
        alice.sock.wait_event("draw_stroke", QUIET).await.is_none(),
        "not echoed"
    );

    // A burst of 200 strokes: relayed one by one, written in a few saves.
    let started = Instant::now();
    let acks = burst(&alice.sock, "draw_stroke", &stroke(1), 200).await;
    assert!(acks.iter().all(|a| a["ok"] == true));
    let burst_time = started.elapsed();
    let mut relayed = 0;
    while relayed < 200 {
        bob.sock
            .wait_event("draw_stroke", T)
            .await
            .expect("relayed");
        relayed += 1;
    }
    let board = app.state.whiteboards.actors.board("default").await.unwrap();
    let stats = wait_for(|| async {
        let s = uma_actors::call!(board, uma_actors::whiteboard::BoardMsg::Stats).unwrap();
        (!s.dirty).then_some(s)
    })
    .await;
    assert_eq!(stats.strokes, 201);
    assert!(stats.saves <= 4, "{} saves for 201 strokes", stats.saves);
    eprintln!(
        "[measure] whiteboard ({db:?}): 200 strokes acked in {burst_time:?}, {} database writes",
        stats.saves
    );
    let row = app
        .state
        .store
        .whiteboard("default")
        .await
        .unwrap()
        .unwrap();
    let saved: Vec<Value> = serde_json::from_str(&row.elements).unwrap();
    assert_eq!(saved.len(), 201);

    // Undo takes one's own last stroke, whoever drew after it.
    // (Events of one socket are handled concurrently: the board's order is the one that counts.)
    let snapshot: Value = alice
        .browser
        .get("/api/whiteboard")
        .await
        .json()
        .await
        .unwrap();
    let last_alice = snapshot["strokes"].as_array().unwrap().last().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let b = ack(&bob, "draw_stroke", stroke(2)).await;
    let bobs = b["id"].as_str().unwrap().to_owned();
    let u = ack(&alice, "draw_undo", json!({})).await;
    assert_eq!(u["strokeId"], last_alice.as_str());
    let undo = wait_where(&bob.sock, "draw_undo", |_| true).await;
    assert_eq!(undo["strokeId"], last_alice.as_str());

    // Cursors go to the others.
    ack(&alice, "draw_cursor", json!({ "x": 3.5, "y": 4 })).await;
    let c = bob.sock.wait_event("draw_cursor", T).await.unwrap();
    assert_eq!(c["username"], "alice");

    // A newcomer gets the history; the REST read agrees.
    let carol = user(&app, "carol", false).await;
    let j = ack(&carol, "whiteboard_join", json!({})).await;
    let strokes = j["strokes"].as_array().unwrap();
    assert_eq!(strokes.len(), 201);
    assert_eq!(strokes.last().unwrap()["id"], bobs.as_str());
    let resp = carol.browser.get("/api/whiteboard").await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["strokes"].as_array().unwrap().len(), 201);

    // Bad strokes are refused.
    let bad = ack(
        &alice,
        "draw_stroke",
        json!({ "points": [], "color": "#000", "width": 1 }),
    )
    .await;
    assert_eq!(bad["error"]["code"], "invalid_input");
    let bad = ack(
        &alice,
        "draw_stroke",
        json!({ "points": [{ "x": 1, "y": 1 }], "color": "red;x", "width": 1 }),
    )
    .await;
    assert_eq!(bad["error"]["field"], "color");

    // Team boards: only for those who see the pool.
    let t = ack(
        &carol,
        "whiteboard_join",
        json!({ "board": "pool:DEV_alice_1" }),
    )
    .await;
    assert_eq!(t["error"]["code"], "not_found", "{t}");
    let admin = user(&app, "root", true).await;
    let t = ack(
        &admin,
        "whiteboard_join",
        json!({ "board": "pool:DEV_alice_1" }),
    )
    .await;
    assert_eq!(t["ok"], true, "{t}");
    let t = ack(&admin, "whiteboard_join", json!({ "board": "../etc" })).await;
    assert_eq!(t["error"]["code"], "invalid_input");
    app.stop().await.unwrap();
}

async fn save_and_clear_are_for_admins_and_reach_everyone(db: Db) {
    let app = app_on(db, &[]).await;
    let admin = user(&app, "root", true).await;
    let bob = user(&app, "bob", false).await;
    for u in [&admin, &bob] {
        assert_eq!(ack(u, "whiteboard_join", json!({})).await["ok"], true);
    }
    ack(&bob, "draw_stroke", stroke(1)).await;

    let c = ack(&bob, "draw_clear", Value::Null).await;
    assert_eq!(c["error"]["code"], "forbidden");
    assert_eq!(
        c["error"]["message"],
        "Only admins can clear whiteboard state."
    );
    let s = ack(&bob, "draw_save", json!({ "strokes": [] })).await;
    assert_eq!(
        s["error"]["message"],
        "Only admins can save whiteboard state."
    );

    let s = ack(
        &admin,
        "draw_save",
        json!({ "strokes": [stroke(7), stroke(8)] }),
    )
    .await;
    assert_eq!(s["strokes"], 2, "{s}");
    let sync = bob.sock.wait_event("draw_sync", T).await.unwrap();
    assert_eq!(sync["strokes"].as_array().unwrap().len(), 2);
    let s = ack(&admin, "draw_save", json!({ "strokes": "nope" })).await;
    assert_eq!(s["error"]["message"], "Invalid whiteboard payload.");
    let saved = app
        .state
        .store
        .whiteboard("default")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        serde_json::from_str::<Vec<Value>>(&saved.elements)
            .unwrap()
            .len(),
        2
    );

    assert_eq!(ack(&admin, "draw_clear", Value::Null).await["ok"], true);
    bob.sock.wait_event("draw_clear", T).await.unwrap();
    let saved = app
        .state
        .store
        .whiteboard("default")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(saved.elements, "[]");

    // REST: admins only, and a clear is broadcast too (the original's was not).
    let post = |u: &crate::chat::User, method: reqwest::Method, body: Value| {
        let req = u
            .browser
            .http
            .request(method, format!("{}/api/whiteboard", u.browser.base))
            .header("cookie", u.browser.cookie_header())
            .header("origin", &u.browser.origin)
            .header("x-csrf-token", &u.csrf)
            .json(&body);
        async move { req.send().await.unwrap() }
    };
    assert_eq!(
        post(&bob, reqwest::Method::POST, json!({ "strokes": [] }))
            .await
            .status(),
        403
    );
    let r = post(
        &admin,
        reqwest::Method::POST,
        json!({ "strokes": [stroke(1)] }),
    )
    .await;
    assert_eq!(r.status(), 200);
    bob.sock.wait_event("draw_sync", T).await.unwrap();
    let r = post(
        &admin,
        reqwest::Method::POST,
        json!({ "strokes": { "no": 1 } }),
    )
    .await;
    assert_eq!(r.status(), 400);
    let r = post(&admin, reqwest::Method::DELETE, json!({})).await;
    assert_eq!(r.status(), 200);
    bob.sock.wait_event("draw_clear", T).await.unwrap();
    app.flush_audit().await;
    let rows = app
        .state
        .store
        .list_audit(&uma::store::audit::AuditFilter::default(), 1000, 0)
        .await
        .unwrap();
    let n = |a: &str, s: &str| {
        rows.iter()
            .filter(|r| r.action == a && r.status == s)
            .count()
    };
    assert_eq!(n("WHITEBOARD_CLEAR", "SUCCESS"), 2);
    assert_eq!(n("WHITEBOARD_CLEAR", "FAILURE"), 1);
    assert_eq!(n("WHITEBOARD_SAVE", "SUCCESS"), 2);
    assert_eq!(
        rows.iter()
            .filter(|r| r.action == "WHITEBOARD_STROKE")
            .count(),
        0,
        "no row per stroke"
    );
    app.stop().await.unwrap();
}

async fn the_stroke_rate_limit_holds(db: Db) {
    let app = app_on(db, &[]).await;
    let alice = user(&app, "alice", false).await;
    ack(&alice, "whiteboard_join", json!({})).await;
    let tiny = json!({ "points": [{ "x": 1, "y": 1 }], "color": "#000", "width": 1 });
    let (acks, events) = burst_with_events(&alice.sock, "draw_stroke", &tiny, 1150).await;
    let limited = acks
        .iter()
        .filter(|a| a["error"]["code"] == "rate_limited")
        .count();
    let passed = acks.iter().filter(|a| a["ok"] == true).count();
    assert!(limited > 0, "1150 strokes at once exceed 1000 per 10 s");
    assert!(passed >= 1000, "the first 1000 pass: {passed}");
    assert_eq!(passed + limited, 1150);
    assert!(events
        .iter()
        .any(|e| e[0] == "error" && e[1]["message"] == "draw_stroke rate limit exceeded."));
    app.stop().await.unwrap();
}
