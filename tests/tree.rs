//! The actor tree as the server grows it: each first-level branch, killed in turn, comes back
//! behind the same handles, and what it serves works afterwards.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use uma_actors::root::RootMsg;

use crate::support::browser::Browser;
use crate::support::sio::{Connect, PollingSocket};
use crate::support::{eventually, spawn_app, TestApp};

const T: Duration = Duration::from_secs(10);

/// The branches in the order `app::root` grows them.
const BRANCHES: [&str; 8] = [
    "audit-writer",
    "consoles",
    "sessions",
    "task-tracker",
    "cluster",
    "presence",
    "chat-rooms",
    "whiteboards",
];

async fn branches(app: &TestApp) -> Vec<(&'static str, Option<ractor::ActorCell>)> {
    uma_actors::call!(app.state.root, RootMsg::Branches).unwrap()
}

async fn cell_of(app: &TestApp, name: &str) -> Option<ractor::ActorCell> {
    branches(app)
        .await
        .into_iter()
        .find(|(n, _)| *n == name)
        .and_then(|(_, c)| c)
}

async fn socket(app: &TestApp, b: &Browser) -> PollingSocket {
    let base = app.url("");
    match PollingSocket::connect(&base, &b.cookie_header(), Some(&base)).await {
        Connect::Ok(s) => s,
        Connect::Refused(why) => panic!("socket refused: {why}"),
    }
}

async fn ack_ok(s: &PollingSocket, event: &str, data: Value) -> Value {
    let ack = s
        .emit_ack(event, data, T)
        .await
        .unwrap_or_else(|| panic!("no ack for {event}"));
    assert_eq!(ack["ok"], true, "{event}: {ack}");
    ack
}

/// Audit rows land: an audited request's row is in the store after a flush.
async fn audit_rows_land(app: &TestApp, admin: &Browser, csrf: &str, round: usize) {
    let name = format!("tree{round}");
    let resp = admin
        .post_json(
            "/api/proxmox/vm/100/snapshots",
            Some(csrf),
            json!({ "snapname": name }),
        )
        .await;
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    eventually(T, "the snapshot's audit row", || async {
        app.flush_audit().await;
        let rows = app
            .state
            .store
            .list_audit(&uma::store::audit::AuditFilter::default(), 200, 0)
            .await
            .unwrap();
        rows.iter().any(|r| {
            r.action == "VM_SNAPSHOT_CREATE" && r.details.to_string().contains(name.as_str())
        })
    })
    .await;
}

/// Tasks are followed: a power action's task is pushed to its user until it is done.
async fn tasks_are_followed(app: &TestApp, admin: &Browser, csrf: &str) {
    let s = socket(app, admin).await;
    let resp = admin
        .post_json(
            "/api/proxmox/vm/101/power",
            Some(csrf),
            json!({ "action": "start" }),
        )
        .await;
    let started: Value = resp.json().await.unwrap();
    let upid = started["upid"]
        .as_str()
        .unwrap_or_else(|| panic!("{started}"));
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let done = s
            .wait_event("task:done", left)
            .await
            .unwrap_or_else(|| panic!("no task:done for {upid}"));
        if done["upid"] == upid {
            // Followed to its end (whether Proxmox found the guest already in that state is
            // the task's business).
            assert_eq!(done["status"], "stopped", "{done}");
            break;
        }
    }
}

/// Sessions end on logout: a new session's socket is closed when it logs out.
async fn sessions_end_on_logout(app: &TestApp) {
    let (b, csrf) = app.session_as("alice", &[], false).await;
    let s = socket(app, &b).await;
    ack_ok(&s, "get_online_users", Value::Null).await;
    let resp = b.send(Method::POST, "/api/logout", Some(&csrf), None).await;
    assert_eq!(resp.status(), 303);
    assert!(s.wait_closed(T).await, "logout closes the session's socket");
}

async fn serves(app: &TestApp, name: &str, round: usize) {
    let (admin, csrf) = app.session_as("root", &[], true).await;
    match name {
        "audit-writer" => audit_rows_land(app, &admin, &csrf, round).await,
        "task-tracker" => tasks_are_followed(app, &admin, &csrf).await,
        "sessions" => sessions_end_on_logout(app).await,
        "consoles" => {
            let list: Value = admin.get("/api/admin/consoles").await.json().await.unwrap();
            assert!(list["consoles"].is_array(), "{list}");
        }
        "cluster" => {
            let s = socket(app, &admin).await;
            let ack = ack_ok(&s, "resources:watch", json!({})).await;
            assert!(
                ack["items"].as_array().is_some_and(|r| !r.is_empty()),
                "a snapshot of the cluster: {}",
                ack["version"]
            );
        }
        "presence" => {
            // The socket's presence is recorded as its connection is set up, which may finish
            // just after its first event.
            let s = socket(app, &admin).await;
            eventually(T, "root is online", || async {
                let online = ack_ok(&s, "get_online_users", Value::Null).await;
                online["users"]
                    .as_array()
                    .is_some_and(|u| u.contains(&json!("root")))
            })
            .await;
        }
        "chat-rooms" => {
            let s = socket(app, &admin).await;
            let sent = ack_ok(
                &s,
                "send_message",
                json!({ "to": "alice", "content": format!("after restart {round}") }),
            )
            .await;
            assert_eq!(sent["message"]["sender"]["username"], "root", "{sent}");
        }
        "whiteboards" => {
            let s = socket(app, &admin).await;
            ack_ok(&s, "whiteboard_join", json!({})).await;
        }
        other => panic!("no check for branch {other}"),
    }
}

#[tokio::test]
async fn every_first_level_branch_comes_back_and_serves_again() {
    let app = spawn_app().await;
    let names: Vec<&str> = branches(&app).await.into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, BRANCHES, "the branches app::root grows");
    // Every feature works before anything is killed (so a failure below is the restart's).
    for (round, name) in BRANCHES.iter().enumerate() {
        serves(&app, name, round).await;
    }
    // A socket connected before the sessions branch dies is told to connect again (it was
    // registered with a session actor that ended with its supervisor).
    let (early, _) = app.session_as("bob", &[], false).await;
    let early_socket = socket(&app, &early).await;
    for (round, name) in BRANCHES.iter().enumerate() {
        let before = cell_of(&app, name)
            .await
            .unwrap_or_else(|| panic!("{name} is not running"));
        before.kill();
        eventually(T, &format!("{name} back"), || async {
            cell_of(&app, name)
                .await
                .is_some_and(|c| c.get_id() != before.get_id())
        })
        .await;
        if *name == "sessions" {
            assert!(
                early_socket.wait_closed(T).await,
                "sockets reconnect after the sessions branch restarts"
            );
        }
        serves(&app, name, BRANCHES.len() + round).await;
    }
    let health: Value = reqwest::get(app.url("/readyz"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ready", "{health}");
    let h = uma_actors::call!(app.state.root, RootMsg::Health).unwrap();
    assert_eq!(h.restarts, 8, "{h:?}");
    assert!(h.down.is_empty(), "{h:?}");
    app.stop().await.unwrap();
}

/// A branch that fails too often is not left down while the server goes on: the server stops
/// (sockets closed, the run ends with an error for the process supervisor to act on), rather
/// than keep sockets and consoles of sessions nothing can end any more.
#[tokio::test]
async fn a_branch_that_keeps_failing_stops_the_server() {
    let app = spawn_app().await;
    let (bob, _) = app.session_as("bob", &[], false).await;
    let bob_socket = socket(&app, &bob).await;
    // Five restarts a minute are allowed; the sixth failure gives up.
    for _ in 0..5 {
        let before = cell_of(&app, "sessions").await.expect("sessions running");
        before.kill();
        eventually(T, "sessions back", || async {
            cell_of(&app, "sessions")
                .await
                .is_some_and(|c| c.get_id() != before.get_id())
        })
        .await;
    }
    cell_of(&app, "sessions")
        .await
        .expect("sessions running")
        .kill();
    assert!(
        bob_socket.wait_closed(T).await,
        "sockets are closed when the server stops"
    );
    let ended = tokio::time::timeout(Duration::from_secs(30), app.finished())
        .await
        .expect("the server stops by itself");
    let err = ended.expect_err("the run ends with an error");
    assert!(err.to_string().contains("sessions"), "{err}");
}
