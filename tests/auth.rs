//! Sign-in and sessions over real HTTP and Socket.IO: local accounts, CSRF and Origin checks,
//! route protection, limits, logout, admin revoke and expiry disconnecting sockets, audit rows;
//! the session flows run on SQLite and on MariaDB.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::browser::Browser;
use crate::support::db::{drop_mysql_database, fresh_mysql_database};
use crate::support::sio::{Connect, PollingSocket};
use crate::support::{demo_vars, spawn_with, temp_dir, TestApp};

const ADMIN_PW: &str = "admin-pass-123";
const ALICE_PW: &str = "alice-pass-123";

struct Env {
    app: TestApp,
    mysql: Option<String>,
}

impl Env {
    async fn done(self) {
        self.app.stop().await.unwrap();
        if let Some(url) = self.mysql {
            drop_mysql_database(&url).await;
        }
    }
}

async fn env_with(extra: &[(&str, &str)], mariadb: bool) -> Env {
    let dir = temp_dir("auth");
    let mut vars: HashMap<String, String> = demo_vars(&dir);
    vars.insert("UMA_ADMIN_PASSWORD".into(), ADMIN_PW.into());
    vars.insert("USE_SECURE_COOKIE".into(), "false".into());
    let mysql = if mariadb {
        let url = fresh_mysql_database().await;
        vars.insert("DATABASE_URL".into(), url.clone());
        Some(url)
    } else {
        None
    };
    for (k, v) in extra {
        vars.insert((*k).into(), (*v).into());
    }
    let app = spawn_with(vars, dir).await;
    let store = app.store().await;
    uma::bootstrap::set_local_password(&store, "alice", ALICE_PW, false)
        .await
        .unwrap();
    store.close().await;
    Env { app, mysql }
}

async fn audit_actions(env: &Env) -> Vec<(String, String, String, Option<String>)> {
    env.app.flush_audit().await;
    let store = env.app.store().await;
    let rows = store
        .list_audit(&uma::store::audit::AuditFilter::default(), 100, 0)
        .await
        .unwrap();
    store.close().await;
    rows.into_iter()
        .map(|r| (r.action, r.username, r.status, r.ip_address))
        .collect()
}

async fn session_flow(env: &Env) {
    let base = env.app.url("");
    let b = Browser::new(&base);

    // Login needs the CSRF token of /api/auth and our Origin.
    let anon: Value = b.get("/api/auth").await.json().await.unwrap();
    assert_eq!(anon["isLoggedIn"], false);
    let token = anon["csrfToken"].as_str().unwrap().to_owned();
    let creds = json!({ "username": "admin", "password": ADMIN_PW });
    let resp = b.post_json("/api/login", None, creds.clone()).await;
    assert_eq!(resp.status(), 403, "login without CSRF token");
    let evil = Browser::new(&base);
    let _ = evil.get("/api/auth").await;
    let mut evil = evil;
    evil.origin = "https://evil.example".into();
    let resp = evil
        .post_json("/api/login", Some(&token), creds.clone())
        .await;
    assert_eq!(resp.status(), 403, "login from a foreign origin");

    let resp = b.post_json("/api/login", Some(&token), creds).await;
    assert_eq!(resp.status(), 200);
    let set_cookie = resp
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"),
        "{set_cookie}"
    );
    assert!(set_cookie.contains("Max-Age=28800"), "{set_cookie}");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["user"]["username"], "admin");
    assert_eq!(body["user"]["isAdmin"], true);
    let csrf = body["csrfToken"].as_str().unwrap().to_owned();

    let me: Value = b.get("/api/user").await.json().await.unwrap();
    assert_eq!(
        me,
        json!({ "isLoggedIn": true, "user": { "username": "admin", "displayName": "admin", "isAdmin": true } })
    );
    let auth: Value = b.get("/api/auth").await.json().await.unwrap();
    assert_eq!(auth["csrfToken"], csrf.as_str());
    let page = b.get("/dashboard").await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Welcome, admin"));
    assert_eq!(b.get("/login").await.headers()["location"], "/dashboard");

    // State-changing requests need the session's token.
    let resp = b.send(Method::POST, "/api/logout", None, None).await;
    assert_eq!(resp.status(), 403);
    let resp = b
        .send(Method::POST, "/api/logout", Some("wrong"), None)
        .await;
    assert_eq!(resp.status(), 403);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_csrf");

    // A socket of this session.
    let socket = match PollingSocket::connect(&base, &b.cookie_header(), Some(&base)).await {
        Connect::Ok(s) => s,
        Connect::Refused(why) => panic!("socket refused: {why}"),
    };

    let resp = b.send(Method::POST, "/api/logout", Some(&csrf), None).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "/login");
    assert!(
        socket.wait_closed(Duration::from_secs(2)).await,
        "logout closes the session's sockets"
    );
    let me: Value = b.get("/api/user").await.json().await.unwrap();
    assert_eq!(me["isLoggedIn"], false);
    let resp = b.get("/dashboard").await;
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "/login?next=%2Fdashboard");

    let actions = audit_actions(env).await;
    assert!(
        actions.iter().any(|(a, u, s, ip)| a == "LOGIN"
            && u == "admin"
            && s == "SUCCESS"
            && ip.as_deref() == Some("127.0.0.1")),
        "{actions:?}"
    );
    assert!(
        actions
            .iter()
            .any(|(a, u, _, _)| a == "LOGOUT" && u == "admin"),
        "{actions:?}"
    );
}

async fn revoke_flow(env: &Env) {
    let base = env.app.url("");
    let admin = Browser::new(&base);
    let admin_csrf = admin.login("admin", ADMIN_PW).await["csrfToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let alice = Browser::new(&base);
    alice.login("alice", ALICE_PW).await;
    let socket = match PollingSocket::connect(&base, &alice.cookie_header(), Some(&base)).await {
        Connect::Ok(s) => s,
        Connect::Refused(why) => panic!("socket refused: {why}"),
    };

    // Alice is not an admin.
    let resp = alice.get("/api/admin/sessions").await;
    assert_eq!(resp.status(), 403);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body["error"]["message"],
        "Forbidden - Admin access required"
    );
    assert_eq!(
        alice.get("/admin/anything").await.headers()["location"],
        "/dashboard"
    );

    let list: Value = admin.get("/api/admin/sessions").await.json().await.unwrap();
    let sessions = list["sessions"].as_array().unwrap();
    let mine = sessions.iter().find(|s| s["username"] == "alice").unwrap();
    assert_eq!(mine["sockets"], 1);
    assert_eq!(mine["current"], false);
    assert!(sessions
        .iter()
        .any(|s| s["username"] == "admin" && s["current"] == true));
    let id = mine["id"].as_str().unwrap();

    let started = Instant::now();
    let resp = admin
        .send(
            Method::DELETE,
            &format!("/api/admin/sessions/{id}"),
            Some(&admin_csrf),
            None,
        )
        .await;
    assert_eq!(resp.status(), 200);
    let event = socket
        .wait_event("session:revoked", Duration::from_secs(1))
        .await;
    assert!(event.is_some(), "the socket is told within a second");
    assert!(socket.wait_closed(Duration::from_secs(1)).await);
    assert!(started.elapsed() < Duration::from_secs(2));
    let me: Value = alice.get("/api/user").await.json().await.unwrap();
    assert_eq!(me["isLoggedIn"], false);
    let resp = admin
        .send(
            Method::DELETE,
            &format!("/api/admin/sessions/{id}"),
            Some(&admin_csrf),
            None,
        )
        .await;
    assert_eq!(resp.status(), 404);
    let actions = audit_actions(env).await;
    assert!(
        actions
            .iter()
            .any(|(a, u, _, _)| a == "SESSION_REVOKED" && u == "admin"),
        "{actions:?}"
    );
}

#[tokio::test]
async fn sessions_on_sqlite() {
    let env = env_with(&[], false).await;
    session_flow(&env).await;
    revoke_flow(&env).await;
    env.done().await;
}

#[tokio::test]
async fn sessions_on_mariadb() {
    let env = env_with(&[], true).await;
    session_flow(&env).await;
    revoke_flow(&env).await;
    env.done().await;
}

#[tokio::test]
async fn sessions_expire_at_their_ttl() {
    let env = env_with(&[("SESSION_TTL", "2")], false).await;
    let base = env.app.url("");
    let b = Browser::new(&base);
    b.login("alice", ALICE_PW).await;
    let socket = match PollingSocket::connect(&base, &b.cookie_header(), Some(&base)).await {
        Connect::Ok(s) => s,
        Connect::Refused(why) => panic!("socket refused: {why}"),
    };
    assert_eq!(
        b.get("/api/user").await.json::<Value>().await.unwrap()["isLoggedIn"],
        true
    );
    let event = socket
        .wait_event("session:expired", Duration::from_secs(5))
        .await;
    assert!(event.is_some(), "the socket hears of the expiry");
    assert!(socket.wait_closed(Duration::from_secs(2)).await);
    assert_eq!(
        b.get("/api/user").await.json::<Value>().await.unwrap()["isLoggedIn"],
        false
    );
    let actions = audit_actions(&env).await;
    assert!(
        actions
            .iter()
            .any(|(a, u, _, _)| a == "SESSION_EXPIRED" && u == "alice"),
        "{actions:?}"
    );
    env.done().await;
}

#[tokio::test]
async fn bad_credentials_limits_and_messages() {
    let env = env_with(&[], false).await;
    let base = env.app.url("");
    let b = Browser::new(&base);
    let token = b.csrf().await;

    let resp = b
        .post_json(
            "/api/login",
            Some(&token),
            json!({ "username": "alice", "password": "" }),
        )
        .await;
    assert_eq!(
        resp.status(),
        400,
        "empty password refused before any check"
    );
    let resp = b
        .post_json("/api/login", Some(&token), json!({ "nope": 1 }))
        .await;
    assert_eq!(resp.status(), 400);
    let resp = b
        .post_json(
            "/api/login",
            Some(&token),
            json!({ "username": "nobody", "password": "whatever1" }),
        )
        .await;
    assert_eq!(resp.status(), 401);

    for left in (0..5).rev() {
        let resp = b
            .post_json(
                "/api/login",
                Some(&token),
                json!({ "username": "alice", "password": "wrong-pass" }),
            )
            .await;
        assert_eq!(resp.status(), 401);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["message"], "Invalid username or password.");
        assert_eq!(body["remainingAttempts"], left);
    }
    let resp = b
        .post_json(
            "/api/login",
            Some(&token),
            json!({ "username": "alice", "password": ALICE_PW }),
        )
        .await;
    assert_eq!(
        resp.status(),
        429,
        "even the right password waits out the block"
    );
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 800 && retry <= 900, "{retry}");
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Try again in 15 minutes"),
        "{body}"
    );
    // Another user behind the same address is not locked out by alice's typos.
    let resp = b
        .post_json(
            "/api/login",
            Some(&token),
            json!({ "username": "admin", "password": ADMIN_PW }),
        )
        .await;
    assert_eq!(resp.status(), 200);

    // A disabled account.
    let store = env.app.store().await;
    let (user, _) = store.local_account("admin").await.unwrap().unwrap();
    store
        .set_local_account_disabled(&user.id, true)
        .await
        .unwrap();
    store.close().await;
    let c = Browser::new(&base);
    let t = c.csrf().await;
    let resp = c
        .post_json(
            "/api/login",
            Some(&t),
            json!({ "username": "admin", "password": ADMIN_PW }),
        )
        .await;
    assert_eq!(resp.status(), 403);

    let actions = audit_actions(&env).await;
    let failed = actions
        .iter()
        .filter(|(a, _, _, _)| a == "LOGIN_FAILED")
        .count();
    assert!(failed >= 7, "{actions:?}");
    env.done().await;
}

#[tokio::test]
async fn route_protection_matches_the_original_table() {
    let env = env_with(&[], false).await;
    let base = env.app.url("");
    let anon = Browser::new(&base);
    for path in [
        "/api/proxmox/resources",
        "/api/admin/sessions",
        "/api/settings/access",
    ] {
        let resp = anon.get(path).await;
        assert_eq!(resp.status(), 401, "{path}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unauthorized");
    }
    for path in ["/dashboard", "/settings", "/admin"] {
        let resp = anon.get(path).await;
        assert_eq!(resp.status(), 303, "{path}");
        assert!(resp.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/login?next="));
    }
    assert_eq!(anon.get("/").await.headers()["location"], "/login");
    let user: Value = anon.get("/api/user").await.json().await.unwrap();
    assert_eq!(user, json!({ "isLoggedIn": false, "user": null }));

    let alice = Browser::new(&base);
    alice.login("alice", ALICE_PW).await;
    assert_eq!(alice.get("/").await.headers()["location"], "/dashboard");
    assert_eq!(alice.get("/api/settings/access").await.status(), 403);
    // A forged cookie is no session.
    let forged = Browser::new(&base);
    let cookie = alice.cookie("uma_session").unwrap();
    let (id, _) = cookie.rsplit_once('.').unwrap();
    let resp = forged
        .http
        .get(format!("{base}/api/user"))
        .header("cookie", format!("uma_session={id}.AAAA"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.json::<Value>().await.unwrap()["isLoggedIn"], false);
    env.done().await;
}

#[tokio::test]
async fn the_login_page_works_without_javascript() {
    let env = env_with(&[], false).await;
    let base = env.app.url("");
    let b = Browser::new(&base);
    let html = b.get("/login?next=/dashboard").await.text().await.unwrap();
    let token = html
        .split("name=\"csrf_token\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_owned();
    // The form keeps where the user was going (HTML-escaped in the attribute).
    assert!(
        html.replace("&#x2f;", "/")
            .contains("action=\"/login?next=/dashboard\""),
        "{html}"
    );

    let resp = b
        .post_form(
            "/login",
            &[
                ("username", "alice"),
                ("password", "nope-nope"),
                ("csrf_token", &token),
            ],
        )
        .await;
    assert_eq!(resp.status(), 401);
    let page = resp.text().await.unwrap();
    assert!(page.contains("Invalid username or password."));
    assert!(page.contains("value=\"alice\""), "the username is kept");

    let resp = b
        .post_form(
            "/login",
            &[
                ("username", "alice"),
                ("password", ALICE_PW),
                ("csrf_token", "forged"),
            ],
        )
        .await;
    assert_eq!(resp.status(), 403);

    let resp = b
        .post_form(
            "/login?next=%2Fdashboard",
            &[
                ("username", "alice"),
                ("password", ALICE_PW),
                ("csrf_token", &token),
            ],
        )
        .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "/dashboard");
    let page = b.get("/dashboard").await.text().await.unwrap();
    assert!(page.contains("Welcome, alice"));
    let logout_token = page
        .split("name=\"csrf_token\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_owned();
    let resp = b
        .post_form("/logout", &[("csrf_token", &logout_token)])
        .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(
        b.get("/api/user").await.json::<Value>().await.unwrap()["isLoggedIn"],
        false
    );
    env.done().await;
}

#[tokio::test]
async fn sockets_need_a_session_and_our_origin() {
    let env = env_with(&[], false).await;
    let base = env.app.url("");
    let b = Browser::new(&base);
    b.login("alice", ALICE_PW).await;
    match PollingSocket::connect(&base, &b.cookie_header(), Some("https://evil.example")).await {
        Connect::Refused(why) => assert_eq!(why, "Forbidden origin"),
        Connect::Ok(_) => panic!("a foreign origin was admitted"),
    }
    match PollingSocket::connect(&base, &b.cookie_header(), None).await {
        Connect::Refused(why) => assert_eq!(why, "Forbidden origin"),
        Connect::Ok(_) => panic!("a missing origin was admitted"),
    }
    match PollingSocket::connect(&base, "", Some(&base)).await {
        Connect::Refused(why) => assert_eq!(why, "Unauthorized"),
        Connect::Ok(_) => panic!("an anonymous socket was admitted"),
    }
    assert!(matches!(
        PollingSocket::connect(&base, &b.cookie_header(), Some(&base)).await,
        Connect::Ok(_)
    ));
    env.done().await;
}
