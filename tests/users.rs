//! Administrators' view of the people Uma knows, on SQLite and MariaDB: the list (local and
//! directory, last sign-in, live sessions), adding a local account with a password Uma makes,
//! a new password (the old one and its sessions end), disable and enable, signing someone out
//! everywhere; each bad value named, audit rows, and none of it for non-administrators.

use serde_json::{json, Value};

use crate::support::admin::{audit_rows, json_of, Env};
use crate::support::browser::Browser;

async fn try_login(env: &Env, username: &str, password: &str) -> u16 {
    let b = Browser::new(&env.app.url(""));
    let csrf = b.csrf().await;
    b.post_json(
        "/api/login",
        Some(&csrf),
        json!({ "username": username, "password": password }),
    )
    .await
    .status()
    .as_u16()
}

async fn post(b: &Browser, csrf: &str, path: &str, body: Value) -> (u16, Value) {
    json_of(b.post_json(path, Some(csrf), body).await).await
}

async fn users_flow(env: &Env) {
    let (admin, acsrf) = env.login("admin").await;
    let (alice, csrf) = env.login("alice").await;
    let (bob, _) = env.login("bob").await;

    // Not for users.
    assert_eq!(alice.get("/api/admin/users").await.status(), 403);
    let (s, _) = post(
        &alice,
        &csrf,
        "/api/admin/users",
        json!({ "username": "x" }),
    )
    .await;
    assert_eq!(s, 403);
    assert_eq!(alice.get("/admin/users").await.status(), 303);

    let (s, list) = json_of(admin.get("/api/admin/users").await).await;
    assert_eq!(s, 200);
    let find = |list: &Value, name: &str| {
        list["users"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["username"] == name)
            .cloned()
            .unwrap_or(Value::Null)
    };
    let a = find(&list, "alice");
    assert_eq!(
        (a["source"].as_str(), a["isAdmin"].as_bool()),
        (Some("local"), Some(false))
    );
    assert!(
        a["lastSignIn"].as_i64().is_some() && a["activeSessions"] == 1,
        "{a}"
    );
    assert_eq!(find(&list, "admin")["isAdmin"], true);

    // A new local account: the password Uma made signs in; bad names are named.
    for (body, why) in [
        (json!({ "username": "no spaces" }), "username"),
        (json!({ "username": "" }), "username"),
        (json!({ "username": "alice" }), "username"),
        (json!({ "username": "ALICE" }), "username"),
        (json!({ "username": "alice@partner.example" }), "username"),
        (json!({ "username": ".." }), "username"),
    ] {
        let (s, r) = post(&admin, &acsrf, "/api/admin/users", body.clone()).await;
        assert_eq!(
            (s, r["error"]["field"].as_str()),
            (400, Some(why)),
            "{body}: {r}"
        );
    }
    let (s, r) = post(
        &admin,
        &acsrf,
        "/api/admin/users",
        json!({ "username": "dave", "role": "x" }),
    )
    .await;
    assert_eq!(s, 400, "unknown fields are refused: {r}");
    let (s, made) = post(
        &admin,
        &acsrf,
        "/api/admin/users",
        json!({ "username": "dave" }),
    )
    .await;
    assert_eq!(s, 200, "{made}");
    let pw = made["password"].as_str().unwrap().to_owned();
    assert!(pw.len() >= 16);
    assert_eq!(try_login(env, "dave", &pw).await, 200);

    // A new password: the old one stops working, the sessions end.
    let dave = Browser::new(&env.app.url(""));
    dave.login("dave", &pw).await;
    let (s, r) = post(&admin, &acsrf, "/api/admin/users/dave/password", json!({})).await;
    assert_eq!(s, 200, "{r}");
    let new_pw = r["password"].as_str().unwrap().to_owned();
    assert!(r["ended"].as_u64().unwrap() >= 1, "{r}");
    assert_eq!(dave.get("/api/sessions").await.status(), 401);
    assert_eq!(try_login(env, "dave", &pw).await, 401);
    assert_eq!(try_login(env, "dave", &new_pw).await, 200);
    let (s, _) = post(
        &admin,
        &acsrf,
        "/api/admin/users/nobody/password",
        json!({}),
    )
    .await;
    assert_eq!(s, 404);

    // Disable and enable; nobody disables themselves.
    let (s, r) = post(&admin, &acsrf, "/api/admin/users/bob/disable", json!({})).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(bob.get("/api/sessions").await.status(), 401);
    assert_eq!(
        try_login(env, "bob", "bob-pass-123").await,
        403,
        "a disabled account is refused"
    );
    // A new password does not bring a disabled account back.
    let (s, r) = post(&admin, &acsrf, "/api/admin/users/bob/password", json!({})).await;
    assert_eq!(s, 200, "{r}");
    let new_bob = r["password"].as_str().unwrap().to_owned();
    assert_eq!(try_login(env, "bob", &new_bob).await, 403);
    let (s, _) = post(&admin, &acsrf, "/api/admin/users/bob/enable", json!({})).await;
    assert_eq!(s, 200);
    assert_eq!(try_login(env, "bob", &new_bob).await, 200);
    let (s, r) = post(&admin, &acsrf, "/api/admin/users/admin/disable", json!({})).await;
    assert_eq!(s, 400, "{r}");

    // Signed out everywhere.
    let (s, r) = post(
        &admin,
        &acsrf,
        "/api/admin/users/alice/sessions/revoke",
        json!({}),
    )
    .await;
    assert_eq!((s, &r["ended"]), (200, &json!(1)), "{r}");
    assert_eq!(alice.get("/api/sessions").await.status(), 401);

    for action in [
        "VIEW_ACCOUNTS",
        "USER_CREATE",
        "USER_PASSWORD_RESET",
        "USER_DISABLE",
        "USER_ENABLE",
    ] {
        let rows = audit_rows(env, action).await;
        assert!(rows.iter().any(|r| r.status == "SUCCESS"), "{action}");
    }
    assert!(audit_rows(env, "USER_CREATE")
        .await
        .iter()
        .any(|r| r.status == "FAILURE"));
    assert_eq!(admin.get("/admin/users").await.status(), 200);
}

#[tokio::test]
async fn users_on_sqlite() {
    let env = Env::start(false).await;
    users_flow(&env).await;
    env.done().await;
}

#[tokio::test]
async fn users_on_mariadb() {
    let env = Env::start(true).await;
    users_flow(&env).await;
    env.done().await;
}
