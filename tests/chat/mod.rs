//! Chat end to end with real Socket.IO clients, on SQLite and MariaDB: direct messages, groups and
//! the public channel; managing and deleting groups; edits, deletions and reactions reaching
//! exactly the members; blocking; non-members refused by event and by API; rate limits and
//! payload caps; one order for 1,000 messages from 10 senders; a crashed room restarting with its
//! history.

mod conversations;
mod groups;
mod limits;
mod resilience;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use uma_actors::chat::RoomKey;

use crate::support::browser::Browser;
use crate::support::sio::{Connect, PollingSocket};
use crate::support::{on_both, wait_for, Db, TestApp};

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
