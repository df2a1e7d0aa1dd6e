//! Two instances on one MariaDB and one Redis: a session made on one is valid on the other, and
//! revoking it on one closes its sockets on the other.

use std::collections::HashMap;
use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use crate::support::browser::Browser;
use crate::support::db::{drop_mysql_database, fresh_mysql_database};
use crate::support::sio::{Connect, PollingSocket};
use crate::support::{demo_vars, spawn_with, temp_dir, TestApp};

async fn instance(db: &str, redis: &str) -> TestApp {
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
    ] {
        vars.insert(k.into(), v.into());
    }
    spawn_with(vars, dir).await
}

#[tokio::test]
async fn a_revoke_on_one_instance_closes_sockets_on_another() {
    let redis =
        std::env::var("UMA_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let db = fresh_mysql_database().await;
    let a = instance(&db, &redis).await;
    let b = instance(&db, &redis).await;
    let store = a.store().await;
    uma::bootstrap::set_local_password(&store, "alice", "alice-pass-123", false)
        .await
        .unwrap();
    store.close().await;

    let alice = Browser::new(&a.url(""));
    alice.login("alice", "alice-pass-123").await;
    let socket =
        match PollingSocket::connect(&a.url(""), &alice.cookie_header(), Some(&a.url(""))).await {
            Connect::Ok(s) => s,
            Connect::Refused(why) => panic!("socket refused: {why}"),
        };
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
