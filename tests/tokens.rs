//! API tokens on SQLite and MariaDB: made and shown once, used as `Authorization: Bearer` on the
//! REST API and in the Socket.IO handshake, scope enforced (read-only refuses changes, on a
//! socket too), never administration or accounts (not even an administrator's token), revoked
//! and expired tokens refused at once (an open socket ends), owners' and administrators'
//! revocation, a disabled account's tokens gone, and the audit rows naming the token.

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::admin::{audit_rows, Env};
use crate::support::calls::{delete, get, post};
use crate::support::sio::{Connect, PollingSocket};

/// A request with a token and no cookie.
async fn with_token(env: &Env, method: reqwest::Method, path: &str, token: &str) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .request(method, env.app.url(path))
        .bearer_auth(token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let s = resp.status().as_u16();
    (s, resp.json().await.unwrap_or(Value::Null))
}

async fn bearer_get(env: &Env, path: &str, token: &str) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .get(env.app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let s = resp.status().as_u16();
    (s, resp.json().await.unwrap_or(Value::Null))
}

async fn socket(env: &Env, token: &str) -> Connect {
    PollingSocket::connect_with(&env.app.url(""), "", None, Some(json!({ "token": token }))).await
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

async fn tokens_flow(env: &Env) {
    let (alice, csrf) = env.login("alice").await;
    for (body, field) in [
        (json!({ "name": " ", "scope": "read" }), Some("name")),
        (
            json!({ "name": "x", "scope": "read", "expiresAt": 1 }),
            Some("expiresAt"),
        ),
        (
            json!({ "name": "x", "scope": "read", "expiresAt": now_ms() + 400 * 86_400_000 }),
            Some("expiresAt"),
        ),
        (json!({ "name": "x", "scope": "write" }), None),
        (json!({ "name": "x" }), None),
    ] {
        let (s, r) = post(&alice, &csrf, "/api/tokens", body.clone()).await;
        assert_eq!(s, 400, "{body}: {r}");
        if let Some(f) = field {
            assert_eq!(r["error"]["field"], f, "{body}: {r}");
        }
    }
    let (s, r) = post(
        &alice,
        &csrf,
        "/api/tokens",
        json!({ "name": "ci read", "scope": "read" }),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    let read = r["token"].as_str().unwrap().to_owned();
    let read_id = r["id"].as_str().unwrap().to_owned();
    assert!(read.starts_with("uma_"), "{read}");
    let (s, r) = post(
        &alice,
        &csrf,
        "/api/tokens",
        json!({ "name": "ci full", "scope": "full", "expiresAt": now_ms() + 3_600_000 }),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    let full = r["token"].as_str().unwrap().to_owned();
    let full_id = r["id"].as_str().unwrap().to_owned();
    let (s, r) = post(
        &alice,
        &csrf,
        "/api/tokens",
        json!({ "name": "CI Read", "scope": "read" }),
    )
    .await;
    assert_eq!((s, r["error"]["field"].as_str()), (400, Some("name")));
    // Listed, never with the secret.
    let (_, list) = get(&alice, "/api/tokens").await;
    assert_eq!(list["tokens"].as_array().unwrap().len(), 2);
    assert!(!list.to_string().contains(&read) && list["tokens"][0].get("token").is_none());

    // REST: the token is its owner (never an administrator), read-only refuses changes.
    let (s, me) = bearer_get(env, "/api/user", &read).await;
    assert_eq!((s, &me["user"]["username"]), (200, &json!("alice")), "{me}");
    let (s, _) = bearer_get(env, "/api/proxmox/resources", &read).await;
    assert_eq!(s, 200);
    let (s, r) = with_token(env, reqwest::Method::POST, "/api/proxmox/pools/acl", &read).await;
    assert_eq!(s, 403, "{r}");
    assert!(r["error"]["message"]
        .as_str()
        .unwrap()
        .contains("read-only"));
    // A full token needs no CSRF token: the request reaches the route (which names the bad body).
    let (s, r) = with_token(env, reqwest::Method::POST, "/api/proxmox/pools/acl", &full).await;
    assert_eq!(s, 400, "{r}");
    // Never accounts, sign-ins, tokens, settings, administration or pages.
    for path in [
        "/api/tokens",
        "/api/auth/factors",
        "/api/profile",
        "/api/sessions",
        "/api/admin/users",
        "/api/settings/mfa",
    ] {
        let (s, _) = bearer_get(env, path, &full).await;
        assert_eq!(s, 403, "{path}");
    }
    let (s, _) = with_token(env, reqwest::Method::POST, "/api/tokens", &full).await;
    assert_eq!(s, 403, "a token can't make tokens");
    let page = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(env.app.url("/dashboard"))
        .bearer_auth(&full)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 403);
    // An administrator's token is no administrator.
    let (admin, acsrf) = env.login("admin").await;
    let (_, r) = post(
        &admin,
        &acsrf,
        "/api/tokens",
        json!({ "name": "ops", "scope": "full" }),
    )
    .await;
    let admins = r["token"].as_str().unwrap().to_owned();
    let (s, me) = bearer_get(env, "/api/user", &admins).await;
    assert_eq!((s, &me["user"]["isAdmin"]), (200, &json!(false)));
    let (s, _) = bearer_get(env, "/api/admin/audit-logs", &admins).await;
    assert_eq!(s, 403);
    // Unknown tokens are refused, whatever they look like.
    for bad in ["uma_nope", &read[..read.len() - 1]] {
        let (s, r) = bearer_get(env, "/api/user", bad).await;
        assert_eq!(s, 401, "{bad}: {r}");
    }
    // Another bearer (a proxy's own, in front of Uma) is not Uma's: the cookie decides.
    let (s, r) = bearer_get(env, "/api/user", "eyJhbGciOiJSUzI1NiJ9.e30.x").await;
    assert_eq!((s, &r["isLoggedIn"]), (200, &json!(false)), "{r}");
    let proxied = alice
        .send(reqwest::Method::GET, "/api/tokens", None, None)
        .await;
    assert_eq!(proxied.status(), 200);

    // Socket.IO: the handshake's auth; read-only watches but changes nothing.
    let Connect::Ok(ro) = socket(env, &read).await else {
        panic!("a read token's socket was refused")
    };
    let ack = ro
        .emit_ack("resources:watch", json!({}), Duration::from_secs(5))
        .await
        .unwrap();
    assert!(ack.get("error").is_none(), "{ack}");
    let ack = ro
        .emit_ack(
            "vm:power",
            json!({ "vmid": 100, "action": "start" }),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
    assert_eq!(ack["error"]["code"], "forbidden", "{ack}");
    assert!(matches!(socket(env, "uma_nope").await, Connect::Refused(_)));
    let Connect::Ok(rw) = socket(env, &full).await else {
        panic!("a full token's socket was refused")
    };

    // Others can't revoke it; its owner can, and it stops at once, open socket and all.
    let (bob, bcsrf) = env.login("bob").await;
    let (s, _) = delete(&bob, &bcsrf, &format!("/api/tokens/{read_id}"), None).await;
    assert_eq!(s, 404);
    let (s, _) = delete(&alice, &csrf, &format!("/api/tokens/{read_id}"), None).await;
    assert_eq!(s, 200);
    let (s, _) = bearer_get(env, "/api/user", &read).await;
    assert_eq!(s, 401);
    assert!(
        ro.wait_closed(Duration::from_secs(5)).await,
        "the socket stayed open"
    );
    // Expired: refused at once.
    env.exec(&format!(
        "UPDATE api_tokens SET expires_at = 1 WHERE id = '{full_id}'"
    ))
    .await;
    let (s, _) = bearer_get(env, "/api/user", &full).await;
    assert_eq!(s, 401);
    drop(rw);

    // A new password made by an administrator cuts the person off, tokens included.
    let (_, r) = post(
        &bob,
        &bcsrf,
        "/api/tokens",
        json!({ "name": "bob's", "scope": "read" }),
    )
    .await;
    let bobs = r["token"].as_str().unwrap().to_owned();
    assert_eq!(bearer_get(env, "/api/user", &bobs).await.0, 200);
    let (admin_b, admin_c) = env.login("admin").await;
    let (s, _) = post(
        &admin_b,
        &admin_c,
        "/api/admin/users/bob/password",
        json!({}),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(bearer_get(env, "/api/user", &bobs).await.0, 401);

    // An administrator sees and revokes anyone's; a disabled account's tokens go.
    let (_, r) = post(
        &alice,
        &csrf,
        "/api/tokens",
        json!({ "name": "later", "scope": "full" }),
    )
    .await;
    let later = r["token"].as_str().unwrap().to_owned();
    let (s, all) = get(&admin, "/api/admin/tokens").await;
    assert_eq!(s, 200);
    assert!(all["tokens"].as_array().unwrap().len() >= 3, "{all}");
    let (s, _) = get(&alice, "/api/admin/tokens").await;
    assert_eq!(s, 403);
    // Audited as its owner, naming the token.
    let (s, _) = bearer_get(env, "/api/directory/search?kind=user&q=bo", &later).await;
    assert_eq!(s, 200);
    let (s, _) = post(&admin, &acsrf, "/api/admin/users/alice/disable", json!({})).await;
    assert_eq!(s, 200);
    let (s, _) = bearer_get(env, "/api/user", &later).await;
    assert_eq!(s, 401);

    env.app.flush_audit().await;
    assert_eq!(audit_rows(env, "TOKEN_CREATE").await.len(), 5);
    assert_eq!(audit_rows(env, "TOKEN_REVOKE").await.len(), 1);
    let searched = audit_rows(env, "DIRECTORY_SEARCH").await;
    assert!(
        searched.iter().any(|r| r.username == "alice"
            && r.user_agent
                .as_deref()
                .unwrap_or("")
                .contains("API token \"later\"")),
        "{searched:?}"
    );
    for r in audit_rows(env, "TOKEN_CREATE").await {
        assert!(!r.details.contains("uma_"), "{}", r.details);
    }
}

#[tokio::test]
async fn api_tokens_on_sqlite() {
    let env = Env::start(false).await;
    tokens_flow(&env).await;
    env.done().await;
}

#[tokio::test]
async fn api_tokens_on_mariadb() {
    let env = Env::start(true).await;
    tokens_flow(&env).await;
    env.done().await;
}
