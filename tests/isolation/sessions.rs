//! The end of a session is total: sign-out, an administrator's revocation, expiry, a disabled
//! account and a password change end the session's sockets and open consoles too, on every
//! instance, with Redis or without it (then within the re-check interval); a revocation while
//! Redis is away is not undone by the cache when it returns; sessions slide with activity up to
//! an absolute cap.

use std::collections::HashMap;
use std::time::Duration;

use fred::interfaces::ClientLike;
use reqwest::Method;
use serde_json::{json, Value};

use crate::chat::app_on;
use crate::support::browser::Browser;
use crate::support::db::{drop_mysql_database, fresh_mysql_database};
use crate::support::on_both;
use crate::support::redis::OwnRedis;
use crate::support::rfb::{self, Rfb};
use crate::support::sio::{Connect, PollingSocket};
use crate::support::Db;
use crate::support::{demo_vars, eventually, run_uma, spawn_with, temp_dir, TestApp};

on_both!(
    sign_out_and_revocation_close_open_consoles,
    disabling_an_account_from_the_cli_ends_its_sessions_without_redis,
);

const ALICE_PW: &str = "alice-pass-123";

/// The shared Redis of the test machine; a missing one fails the test with instructions.
fn redis_url() -> String {
    let url =
        std::env::var("UMA_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let hostport = url.trim_start_matches("redis://").to_owned();
    if std::net::TcpStream::connect(&hostport).is_err() {
        panic!(
            "Redis is needed for this test and is not reachable at {url}.\n\
             Start it (`make services` does, or `redis-server --daemonize yes`), or point UMA_TEST_REDIS_URL at one."
        );
    }
    url
}

/// Gives the deployment the local account alice and signs her in; returns her browser and CSRF
/// token.
async fn alice_signed_in(app: &TestApp) -> (Browser, String) {
    uma::bootstrap::set_local_password(&app.state.store, "alice", ALICE_PW, false)
        .await
        .unwrap();
    let alice = Browser::new(&app.url(""));
    let csrf = alice.login("alice", ALICE_PW).await["csrfToken"]
        .as_str()
        .unwrap()
        .to_owned();
    (alice, csrf)
}

/// Opens the console of `vmid` as `b` and completes the RFB handshake.
async fn console(app: &TestApp, b: &Browser, csrf: &str, vmid: u64) -> Rfb {
    let resp = b
        .post_json(
            &format!("/api/proxmox/vm/{vmid}/vnc"),
            Some(csrf),
            json!({}),
        )
        .await;
    assert_eq!(resp.status(), 200, "console ticket");
    let t: Value = resp.json().await.unwrap();
    let sock = rfb::open(
        &format!("ws://{}{}", app.addr, t["url"].as_str().unwrap()),
        &b.cookie_header(),
        Some(&b.origin),
    )
    .await
    .unwrap_or_else(|e| panic!("proxy refused: {e:?}"));
    Rfb::handshake(sock, t["password"].as_str().unwrap())
        .await
        .unwrap()
}

/// The console must be closed by the server, with the reason code and a reason naming `words`.
async fn closed_because(r: &mut Rfb, within: Duration, words: &str) {
    let (code, reason) = r
        .wait_closed(within)
        .await
        .unwrap_or_else(|| panic!("the console is still open {within:?} after its session ended"));
    assert_eq!(code, uma::http::consoles::CLOSE_WITH_REASON, "{reason}");
    assert!(
        reason.to_lowercase().contains(words),
        "the close reason names why ({words}): {reason}"
    );
}

async fn socket_of(app: &TestApp, b: &Browser) -> PollingSocket {
    match PollingSocket::connect(&app.url(""), &b.cookie_header(), Some(&app.url(""))).await {
        Connect::Ok(s) => s,
        Connect::Refused(why) => panic!("socket refused: {why}"),
    }
}

async fn logged_in(b: &Browser) -> bool {
    b.get("/api/user").await.json::<Value>().await.unwrap()["isLoggedIn"] == true
}

/// A request that needs a session is refused with 401 and a message.
async fn refused_401(b: &Browser) {
    let resp = b.get("/api/chat/recent").await;
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["message"], "Unauthorized", "{body}");
}

async fn session_id_of(admin: &Browser, username: &str) -> String {
    let list: Value = admin.get("/api/admin/sessions").await.json().await.unwrap();
    list["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["username"] == username)
        .unwrap_or_else(|| panic!("no session of {username}: {list}"))["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn sign_out_and_revocation_close_open_consoles(db: Db) {
    let app = app_on(db, &[]).await;

    // Signing out closes the console the page left open.
    let (alice, csrf) = app.session_as("alice", &[], false).await;
    let mut c = console(&app, &alice, &csrf, 100).await;
    let resp = alice.post_json("/api/logout", Some(&csrf), json!({})).await;
    assert_eq!(resp.status(), 303);
    closed_because(&mut c, Duration::from_secs(10), "signed out").await;

    // An administrator's revocation closes it too, and the cookie is worth nothing after.
    let (alice, csrf) = app.session_as("alice", &[], false).await;
    let mut c = console(&app, &alice, &csrf, 100).await;
    let (root, rcsrf) = app.session_as("root", &[], true).await;
    let id = session_id_of(&root, "alice").await;
    let resp = root
        .send(
            Method::DELETE,
            &format!("/api/admin/sessions/{id}"),
            Some(&rcsrf),
            None,
        )
        .await;
    assert_eq!(resp.status(), 200);
    closed_because(&mut c, Duration::from_secs(10), "revoked").await;
    refused_401(&alice).await;
    // A console can't be opened again with the dead session.
    let resp = alice
        .post_json("/api/proxmox/vm/100/vnc", Some(&csrf), json!({}))
        .await;
    assert_eq!(resp.status(), 401);
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_expired_session_closes_its_console() {
    let app = app_on(
        Db::Sqlite,
        &[("SESSION_TTL", "2"), ("SESSION_RECHECK_SECS", "1")],
    )
    .await;
    let (alice, csrf) = alice_signed_in(&app).await;
    let mut c = console(&app, &alice, &csrf, 100).await;
    // Console traffic is not session activity: the session ends after 2 s without requests.
    closed_because(&mut c, Duration::from_secs(10), "expired").await;
    refused_401(&alice).await;
    app.stop().await.unwrap();
}

async fn disabling_an_account_from_the_cli_ends_its_sessions_without_redis(db: Db) {
    let app = app_on(db, &[("SESSION_RECHECK_SECS", "1")]).await;
    let (alice, csrf) = alice_signed_in(&app).await;
    let socket = socket_of(&app, &alice).await;
    let mut c = console(&app, &alice, &csrf, 100).await;

    let (code, out, err) = run_uma(&["user", "disable", "alice"], &app.cli_vars(), None);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("alice: disabled"), "{out}");
    assert!(
        out.contains("1 session ended"),
        "the operator is told: {out}"
    );

    // Requests are refused at once: the record is revoked in the store.
    assert!(!logged_in(&alice).await);
    refused_401(&alice).await;
    // The socket and the console follow within the re-check interval.
    assert!(
        socket.wait_closed(Duration::from_secs(10)).await,
        "the socket of a disabled account is closed"
    );
    closed_because(&mut c, Duration::from_secs(10), "session").await;
    // And the account can't sign in again.
    let token = alice.csrf().await;
    let resp = alice
        .post_json(
            "/api/login",
            Some(&token),
            json!({ "username": "alice", "password": ALICE_PW }),
        )
        .await;
    assert_eq!(resp.status(), 403);
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_password_change_from_the_cli_ends_the_sessions_at_once_through_redis() {
    let redis = redis_url();
    // A long re-check interval: only the announcement through Redis can explain a prompt end.
    let app = app_on(
        Db::Sqlite,
        &[
            ("REDIS_URL", redis.as_str()),
            ("SESSION_RECHECK_SECS", "300"),
        ],
    )
    .await;
    let (alice, csrf) = alice_signed_in(&app).await;
    // The session is cached in Redis now.
    assert!(logged_in(&alice).await);
    let socket = socket_of(&app, &alice).await;
    let mut c = console(&app, &alice, &csrf, 100).await;

    let mut vars = app.cli_vars();
    vars.push(("REDIS_URL".into(), redis.clone()));
    let (code, out, err) = run_uma(
        &["user", "passwd", "alice", "--password-stdin"],
        &vars,
        Some("a-new-pass-456\n"),
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("1 session ended"), "{out}");

    assert!(!logged_in(&alice).await, "the cached copy is not used");
    assert!(
        socket
            .wait_event("session:revoked", Duration::from_secs(3))
            .await
            .is_some(),
        "the socket is told"
    );
    assert!(socket.wait_closed(Duration::from_secs(3)).await);
    closed_because(&mut c, Duration::from_secs(3), "session").await;
    // The new password works, the old one does not.
    let fresh = Browser::new(&app.url(""));
    fresh.login("alice", "a-new-pass-456").await;
    let token = fresh.csrf().await;
    let resp = fresh
        .post_json(
            "/api/login",
            Some(&token),
            json!({ "username": "alice", "password": ALICE_PW }),
        )
        .await;
    assert_eq!(resp.status(), 401);
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_revocation_while_redis_is_away_is_not_undone_when_it_returns() {
    let mut redis = OwnRedis::start_persistent().await;
    let app = app_on(
        Db::Sqlite,
        &[
            ("REDIS_URL", redis.url().as_str()),
            ("SESSION_RECHECK_SECS", "300"),
        ],
    )
    .await;
    let (alice, _) = app.session_as("alice", &[], false).await;
    let (root, rcsrf) = app.session_as("root", &[], true).await;
    assert!(logged_in(&alice).await);
    let id = session_id_of(&root, "alice").await;
    let cached = redis.cli(&["EXISTS", &format!("uma:session:{id}")]);
    assert_eq!(cached, "1", "the session is cached in Redis");

    // Redis goes away (keeping its data), the admin revokes, Redis comes back.
    redis.shutdown_saving();
    let client = app.state.redis.clone().unwrap();
    eventually(
        Duration::from_secs(10),
        "the server notices Redis is gone",
        || {
            let c = client.clone();
            async move { !c.is_connected() }
        },
    )
    .await;
    let resp = root
        .send(
            Method::DELETE,
            &format!("/api/admin/sessions/{id}"),
            Some(&rcsrf),
            None,
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert!(!logged_in(&alice).await, "revoked while Redis is away");
    redis.run().await;
    eventually(Duration::from_secs(15), "the server reconnects", || {
        let c = client.clone();
        async move { c.is_connected() }
    })
    .await;

    // The stale copy Redis kept must not bring the session back.
    assert!(
        !logged_in(&alice).await,
        "the revocation holds after Redis returns"
    );
    refused_401(&alice).await;
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sign_out_on_one_instance_closes_consoles_on_another() {
    let redis = redis_url();
    let db = fresh_mysql_database().await;
    let instance = || async {
        let dir = temp_dir("sessions");
        let mut vars: HashMap<String, String> = demo_vars(&dir);
        for (k, v) in [
            ("DATABASE_URL", db.as_str()),
            ("REDIS_URL", redis.as_str()),
            (
                "SECRET_COOKIE_PASSWORD",
                "one-secret-shared-by-every-instance-0123",
            ),
            ("USE_SECURE_COOKIE", "false"),
            ("SESSION_RECHECK_SECS", "300"),
        ] {
            vars.insert(k.into(), v.into());
        }
        spawn_with(vars, dir).await
    };
    let a = instance().await;
    let b = instance().await;
    let (alice, csrf) = alice_signed_in(&a).await;
    // The same cookie opens a console through the other instance.
    let on_b = Browser::new(&b.url(""));
    on_b.set_cookie(
        uma::auth::session::COOKIE,
        &alice.cookie(uma::auth::session::COOKIE).unwrap(),
    );
    let mut c = console(&b, &on_b, &csrf, 100).await;

    let resp = alice.post_json("/api/logout", Some(&csrf), json!({})).await;
    assert_eq!(resp.status(), 303);
    closed_because(&mut c, Duration::from_secs(5), "signed out").await;
    a.stop().await.unwrap();
    b.stop().await.unwrap();
    drop_mysql_database(&db).await;
}

/// `Max-Age` of the session cookie in a response, if it sets one.
fn cookie_max_age(resp: &reqwest::Response) -> Option<u64> {
    resp.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{}=", uma::auth::session::COOKIE)))
        .and_then(|v| {
            v.split(';')
                .find_map(|a| a.trim().strip_prefix("Max-Age="))
                .and_then(|n| n.parse().ok())
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sessions_slide_with_activity_up_to_an_absolute_cap() {
    let app = app_on(
        Db::Sqlite,
        &[
            ("SESSION_TTL", "2"),
            ("SESSION_MAX_AGE", "6"),
            ("SESSION_RECHECK_SECS", "1"),
        ],
    )
    .await;
    uma::bootstrap::set_local_password(&app.state.store, "alice", ALICE_PW, false)
        .await
        .unwrap();
    let alice = Browser::new(&app.url(""));
    let token = alice.csrf().await;
    let resp = alice
        .post_json(
            "/api/login",
            Some(&token),
            json!({ "username": "alice", "password": ALICE_PW }),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        cookie_max_age(&resp),
        Some(2),
        "the cookie lives as long as the idle limit"
    );
    let signed_in = tokio::time::Instant::now();

    // Activity every half second keeps the session beyond its 2 s idle limit...
    let mut tick = tokio::time::interval(Duration::from_millis(400));
    let mut refreshed = None;
    while signed_in.elapsed() < Duration::from_secs(4) {
        tick.tick().await;
        let resp = alice.get("/api/user").await;
        if let Some(age) = cookie_max_age(&resp) {
            refreshed = Some(age);
        }
        let v: Value = resp.json().await.unwrap();
        assert_eq!(
            v["isLoggedIn"],
            true,
            "still signed in after {:?} of steady activity",
            signed_in.elapsed()
        );
    }
    let age = refreshed.expect("the cookie's Max-Age follows the sliding expiry");
    assert!((1..=2).contains(&age), "Max-Age {age}");
    // ...but not beyond the absolute cap of 6 s, however active.
    loop {
        tick.tick().await;
        if !logged_in(&alice).await {
            break;
        }
        assert!(
            signed_in.elapsed() < Duration::from_secs(9),
            "still signed in {:?} after sign-in, past the 6 s cap",
            signed_in.elapsed()
        );
    }
    assert!(
        signed_in.elapsed() >= Duration::from_millis(5500),
        "ended at the cap, not before: {:?}",
        signed_in.elapsed()
    );

    // Without activity a session ends after the idle limit.
    alice.login("alice", ALICE_PW).await;
    let idle_from = tokio::time::Instant::now();
    eventually(Duration::from_secs(6), "an idle session ends", || async {
        !alice_is_live(&app).await
    })
    .await;
    assert!(idle_from.elapsed() >= Duration::from_millis(1500));
    refused_401(&alice).await;
    app.stop().await.unwrap();
}

/// Whether alice has a live session record (read without touching it).
async fn alice_is_live(app: &TestApp) -> bool {
    let now = uma::store::now_ms();
    app.state
        .store
        .active_sessions(now)
        .await
        .unwrap()
        .iter()
        .any(|s| s.username == "alice")
}
