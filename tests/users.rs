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

/// The token of a link's path (`/password-reset#<token>`).
fn token_of(link: &Value) -> String {
    let path = link["path"].as_str().unwrap();
    assert!(path.starts_with("/password-reset#"), "{link}");
    path["/password-reset#".len()..].to_owned()
}

/// One-time links: only administrators make them, only for local accounts; a link names whom
/// it is for, works once, stops when a newer one is made or the password changes some other
/// way, refuses a weak password without being used up, ends the account's sessions, and keeps
/// a disabled account disabled. Guessing links counts toward the address's sign-in limits.
async fn password_links_flow(env: &Env) {
    let (admin, acsrf) = env.login("admin").await;
    let (alice, csrf) = env.login("alice").await;
    let link_path = "/api/admin/users/bob/password-link";

    // Not for users, and not for directory users or nobody.
    let (s, _) = post(&alice, &csrf, link_path, json!({})).await;
    assert_eq!(s, 403);
    let (s, _) = post(
        &admin,
        &acsrf,
        "/api/admin/users/nobody/password-link",
        json!({}),
    )
    .await;
    assert_eq!(s, 404);

    let (s, first) = post(&admin, &acsrf, link_path, json!({})).await;
    assert_eq!(s, 200, "{first}");
    assert!(first["expiresAt"].as_i64().unwrap() > uma::store::now_ms() + 23 * 3600 * 1000);
    let (s, second) = post(&admin, &acsrf, link_path, json!({})).await;
    assert_eq!(s, 200);
    let (old, token) = (token_of(&first), token_of(&second));
    assert_ne!(old, token);

    // An anonymous visitor with the link's page token.
    let visitor = Browser::new(&env.app.url(""));
    assert_eq!(visitor.get("/password-reset").await.status(), 200);
    let vcsrf = visitor.csrf().await;
    let check = |t: &str| json!({ "token": t });
    let (s, who) = post(&visitor, &vcsrf, "/api/password-reset/check", check(&token)).await;
    assert_eq!((s, who["username"].as_str()), (200, Some("bob")), "{who}");
    // The older link was replaced; a made-up one is unknown; both say the same.
    let (s, gone) = post(&visitor, &vcsrf, "/api/password-reset/check", check(&old)).await;
    assert_eq!(s, 404);
    assert!(gone["error"]["message"]
        .as_str()
        .unwrap()
        .contains("can't be used"));
    let (s, _) = post(
        &visitor,
        &vcsrf,
        "/api/password-reset/check",
        check("made-up"),
    )
    .await;
    assert_eq!(s, 404);
    // No token from a foreign page (CSRF), no unknown fields.
    let (s, _) = post(
        &visitor,
        "wrong",
        "/api/password-reset/check",
        check(&token),
    )
    .await;
    assert_eq!(s, 403);
    let (s, _) = post(
        &visitor,
        &vcsrf,
        "/api/password-reset",
        json!({ "token": token, "password": "x", "admin": true }),
    )
    .await;
    assert_eq!(s, 400);

    // Weak passwords are refused and the link still works.
    for (pw, why) in [("short", "8"), ("BOB     ", "username")] {
        let (s, r) = post(
            &visitor,
            &vcsrf,
            "/api/password-reset",
            json!({ "token": token, "password": pw }),
        )
        .await;
        assert_eq!(
            (s, r["error"]["field"].as_str()),
            (400, Some("password")),
            "{r}"
        );
        assert!(r["error"]["message"].as_str().unwrap().contains(why), "{r}");
    }
    let (bob, _) = env.login("bob").await;
    let (s, r) = post(
        &visitor,
        &vcsrf,
        "/api/password-reset",
        json!({ "token": token, "password": "bob-chose-this-one" }),
    )
    .await;
    assert_eq!((s, r["username"].as_str()), (200, Some("bob")), "{r}");
    // Used once: gone; bob's session ended; the old password is gone, the new one works.
    let (s, _) = post(
        &visitor,
        &vcsrf,
        "/api/password-reset",
        json!({ "token": token, "password": "another-password-1" }),
    )
    .await;
    assert_eq!(s, 404);
    assert_eq!(
        bob.get("/api/user").await.json::<Value>().await.unwrap()["isLoggedIn"],
        false
    );
    assert_eq!(try_login(env, "bob", "bob-pass-123").await, 401);
    assert_eq!(try_login(env, "bob", "bob-chose-this-one").await, 200);

    // A password made by an administrator ends any link; a disabled account stays disabled.
    let (_, link) = post(
        &admin,
        &acsrf,
        "/api/admin/users/carol/password-link",
        json!({}),
    )
    .await;
    let (s, _) = post(&admin, &acsrf, "/api/admin/users/carol/password", json!({})).await;
    assert_eq!(s, 200);
    let (s, _) = post(
        &visitor,
        &vcsrf,
        "/api/password-reset/check",
        check(&token_of(&link)),
    )
    .await;
    assert_eq!(s, 404);
    let (s, _) = post(&admin, &acsrf, "/api/admin/users/carol/disable", json!({})).await;
    assert_eq!(s, 200);
    let (_, link) = post(
        &admin,
        &acsrf,
        "/api/admin/users/carol/password-link",
        json!({}),
    )
    .await;
    let (s, _) = post(
        &visitor,
        &vcsrf,
        "/api/password-reset",
        json!({ "token": token_of(&link), "password": "carol-new-password" }),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(try_login(env, "carol", "carol-new-password").await, 403);

    // Two uses of one link at the same moment: one wins, and only its password works.
    let (_, link) = post(
        &admin,
        &acsrf,
        "/api/admin/users/alice/password-link",
        json!({}),
    )
    .await;
    let t = token_of(&link);
    let (a, b) = tokio::join!(
        post(
            &visitor,
            &vcsrf,
            "/api/password-reset",
            json!({ "token": t, "password": "alice-first-pw" })
        ),
        post(
            &visitor,
            &vcsrf,
            "/api/password-reset",
            json!({ "token": t, "password": "alice-second-pw" })
        )
    );
    let mut codes = [a.0, b.0];
    codes.sort_unstable();
    assert_eq!(codes, [200, 404], "{a:?} {b:?}");
    let (won, lost) = if a.0 == 200 {
        ("alice-first-pw", "alice-second-pw")
    } else {
        ("alice-second-pw", "alice-first-pw")
    };
    assert_eq!(try_login(env, "alice", lost).await, 401);
    assert_eq!(try_login(env, "alice", won).await, 200);
    // Disabling ends a link made before.
    let (_, link) = post(
        &admin,
        &acsrf,
        "/api/admin/users/bob/password-link",
        json!({}),
    )
    .await;
    let (s, _) = post(&admin, &acsrf, "/api/admin/users/bob/disable", json!({})).await;
    assert_eq!(s, 200);
    let (s, _) = post(
        &visitor,
        &vcsrf,
        "/api/password-reset/check",
        check(&token_of(&link)),
    )
    .await;
    assert_eq!(s, 404);

    // An expired link is refused like any other.
    let (_, link) = post(
        &admin,
        &acsrf,
        "/api/admin/users/alice/password-link",
        json!({}),
    )
    .await;
    env.exec("UPDATE password_resets SET expires_at = 1").await;
    let (s, _) = post(
        &visitor,
        &vcsrf,
        "/api/password-reset/check",
        check(&token_of(&link)),
    )
    .await;
    assert_eq!(s, 404);

    // Guessing: after the sign-in limit, the address is refused even with a good link.
    let (_, link) = post(
        &admin,
        &acsrf,
        "/api/admin/users/alice/password-link",
        json!({}),
    )
    .await;
    let guesser = Browser::new(&env.app.url(""));
    let gcsrf = guesser.csrf().await;
    let mut last = 0;
    for i in 0..12 {
        let (s, _) = post(
            &guesser,
            &gcsrf,
            "/api/password-reset/check",
            check(&format!("guess-{i}")),
        )
        .await;
        last = s;
    }
    assert_eq!(last, 429);
    let (s, _) = post(
        &guesser,
        &gcsrf,
        "/api/password-reset/check",
        check(&token_of(&link)),
    )
    .await;
    assert_eq!(s, 429);

    env.app.flush_audit().await;
    for action in ["USER_PASSWORD_LINK", "PASSWORD_LINK_USED"] {
        let rows = audit_rows(env, action).await;
        assert!(rows.iter().any(|r| r.status == "SUCCESS"), "{action}");
        if action == "PASSWORD_LINK_USED" {
            assert!(rows.iter().any(|r| r.status == "FAILURE"));
            assert!(rows
                .iter()
                .any(|r| r.username == "bob" && r.status == "SUCCESS"));
            // Never the token itself.
            assert!(rows.iter().all(|r| !r.details.contains(&token)));
        }
    }
}

#[tokio::test]
async fn password_links_on_sqlite() {
    let env = Env::start(false).await;
    password_links_flow(&env).await;
    env.done().await;
}

#[tokio::test]
async fn password_links_on_mariadb() {
    let env = Env::start(true).await;
    password_links_flow(&env).await;
    env.done().await;
}

/// Changing one's own password: local accounts only, the current one must be right (wrong ones
/// count toward the sign-in limits), a weak or unchanged new one is refused, other sessions end
/// and this one stays.
#[tokio::test]
async fn own_password_change() {
    let env = Env::start(false).await;
    let (alice, csrf) = env.login("alice").await;
    let (elsewhere, _) = env.login("alice").await;
    let path = "/api/account/password";
    let change = |current: &str, new: &str| json!({ "current": current, "password": new });

    let anon = Browser::new(&env.app.url(""));
    let acsrf = anon.csrf().await;
    let (s, _) = post(
        &anon,
        &acsrf,
        path,
        change("alice-pass-123", "whatever-new-1"),
    )
    .await;
    assert_eq!(s, 401);

    let (s, r) = post(&alice, &csrf, path, change("wrong", "alice-new-pass")).await;
    assert_eq!(
        (s, r["error"]["field"].as_str()),
        (400, Some("current")),
        "{r}"
    );
    let (s, r) = post(&alice, &csrf, path, change("alice-pass-123", "short")).await;
    assert_eq!(
        (s, r["error"]["field"].as_str()),
        (400, Some("password")),
        "{r}"
    );
    let (s, r) = post(
        &alice,
        &csrf,
        path,
        change("alice-pass-123", "alice-pass-123"),
    )
    .await;
    assert_eq!(
        (s, r["error"]["field"].as_str()),
        (400, Some("password")),
        "{r}"
    );
    let (s, r) = post(
        &alice,
        &csrf,
        path,
        change("alice-pass-123", "alice-new-pass"),
    )
    .await;
    assert_eq!((s, r["ended"].as_u64()), (200, Some(1)), "{r}");
    assert_eq!(
        alice.get("/api/user").await.json::<Value>().await.unwrap()["isLoggedIn"],
        true
    );
    assert_eq!(
        elsewhere
            .get("/api/user")
            .await
            .json::<Value>()
            .await
            .unwrap()["isLoggedIn"],
        false
    );
    assert_eq!(try_login(&env, "alice", "alice-new-pass").await, 200);

    // Guessing the current password through a stolen session is limited like sign-in.
    let (bob, bcsrf) = env.login("bob").await;
    let mut last = 0;
    for i in 0..12 {
        let (s, _) = post(
            &bob,
            &bcsrf,
            path,
            change(&format!("guess-{i}"), "bob-new-pass-1"),
        )
        .await;
        last = s;
    }
    assert_eq!(last, 429);
    let (s, _) = post(&bob, &bcsrf, path, change("bob-pass-123", "bob-new-pass-1")).await;
    assert_eq!(s, 429);

    let rows = audit_rows(&env, "PASSWORD_CHANGE").await;
    assert!(rows
        .iter()
        .any(|r| r.status == "SUCCESS" && r.username == "alice"));
    assert!(rows.iter().any(|r| r.status == "FAILURE"));
    env.done().await;
}

async fn put(b: &Browser, csrf: &str, body: Value) -> (u16, Value) {
    json_of(
        b.send(reqwest::Method::PUT, "/api/profile", Some(csrf), Some(body))
            .await,
    )
    .await
}

async fn up(b: &Browser, csrf: &str, name: &str, ty: &str, data: Vec<u8>) -> (u16, Value) {
    let parts = [crate::support::browser::Part::file(name, ty, &data)];
    json_of(b.post_multipart("/api/upload", Some(csrf), &parts).await).await
}

/// The profile: the name others see (on live sessions at once, and at the next sign-in), a
/// picture that must be one's own uploaded picture (someone else's upload or a PDF is refused,
/// and the picture can't be deleted while it is the profile's), and the theme handed to each
/// browser at sign-in; bad values named.
async fn profile_flow(env: &Env) {
    let (alice, csrf) = env.login("alice").await;
    let (bob, bcsrf) = env.login("bob").await;
    let (s, p) = json_of(alice.get("/api/profile").await).await;
    assert_eq!(s, 200);
    assert_eq!(
        (p["theme"].as_str(), p["localAccount"].as_bool()),
        (Some("system"), Some(true))
    );

    for (body, field) in [
        (json!({ "displayName": "x".repeat(65) }), "displayName"),
        (json!({ "displayName": "Ali\u{202E}ecila" }), "displayName"),
        (json!({ "displayName": "Ali\nce" }), "displayName"),
        // Nobody passes for someone else or for the system, with or without hidden letters.
        (json!({ "displayName": "BOB" }), "displayName"),
        (json!({ "displayName": "Admin" }), "displayName"),
        (json!({ "displayName": "admin\u{E0061}" }), "displayName"),
        (json!({ "displayName": "\u{3164}" }), "displayName"),
        (json!({ "theme": "pink" }), "theme"),
        (json!({ "avatar": "no-such-upload" }), "avatar"),
    ] {
        let (s, r) = put(&alice, &csrf, body.clone()).await;
        assert_eq!(
            (s, r["error"]["field"].as_str()),
            (400, Some(field)),
            "{body}: {r}"
        );
    }
    let (s, _) = put(&alice, &csrf, json!({ "isAdmin": true })).await;
    assert_eq!(s, 400);

    // Bob's picture is not Alice's to use; her PDF is not a picture.
    let png = crate::uploads::png();
    let (s, bobs) = up(&bob, &bcsrf, "bob.png", "image/png", png.clone()).await;
    assert_eq!(s, 200, "{bobs}");
    let (s, r) = put(&alice, &csrf, json!({ "avatar": bobs["id"] })).await;
    assert_eq!(
        (s, r["error"]["field"].as_str()),
        (400, Some("avatar")),
        "{r}"
    );
    let pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
        .to_vec();
    let (s, doc) = up(&alice, &csrf, "cv.pdf", "application/pdf", pdf).await;
    assert_eq!(s, 200, "{doc}");
    let (s, r) = put(&alice, &csrf, json!({ "avatar": doc["id"] })).await;
    assert_eq!(
        (s, r["error"]["field"].as_str()),
        (400, Some("avatar")),
        "{r}"
    );

    let (s, mine) = up(&alice, &csrf, "me.png", "image/png", png).await;
    assert_eq!(s, 200, "{mine}");
    let (s, p) = put(
        &alice,
        &csrf,
        json!({ "displayName": "  Alice Liddell ", "avatar": mine["id"], "theme": "dark" }),
    )
    .await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(p["displayName"], "Alice Liddell");
    assert_eq!(p["avatar"], mine["url"]);
    assert_eq!(p["theme"], "dark");
    // The name shows on her live session at once.
    let me: Value = alice.get("/api/user").await.json().await.unwrap();
    assert_eq!(me["user"]["displayName"], "Alice Liddell", "{me}");
    // Others see the picture; she can't delete it while it is her picture.
    let (s, found) = json_of(bob.get("/api/users/search?q=alice").await).await;
    assert_eq!(s, 200);
    assert!(
        found.to_string().contains(mine["url"].as_str().unwrap()),
        "{found}"
    );
    let (s, r) = json_of(
        alice
            .send(
                reqwest::Method::DELETE,
                &format!("/api/uploads/{}", mine["id"].as_str().unwrap()),
                Some(&csrf),
                None,
            )
            .await,
    )
    .await;
    assert_eq!(s, 409, "{r}");
    // Bob can't take her name; an administrator can take her picture down.
    let (s, r) = put(&bob, &bcsrf, json!({ "displayName": "alice liddell" })).await;
    assert_eq!(
        (s, r["error"]["field"].as_str()),
        (400, Some("displayName")),
        "{r}"
    );
    let (admin, acsrf) = env.login("admin").await;
    let resp = admin
        .send(
            reqwest::Method::DELETE,
            &format!("/api/uploads/{}", mine["id"].as_str().unwrap()),
            Some(&acsrf),
            None,
        )
        .await;
    assert_eq!(resp.status(), 200);
    let (_, p) = json_of(alice.get("/api/profile").await).await;
    assert!(p["avatar"].is_null(), "{p}");

    // A new browser takes the theme and the name at sign-in.
    let fresh = Browser::new(&env.app.url(""));
    let c = fresh.csrf().await;
    let resp = fresh
        .post_json(
            "/api/login",
            Some(&c),
            json!({ "username": "alice", "password": "alice-pass-123" }),
        )
        .await;
    let cookies: Vec<String> = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let theme = cookies
        .iter()
        .find(|c| c.starts_with("uma-theme="))
        .unwrap();
    assert!(
        theme.starts_with("uma-theme=dark;") && !theme.contains("HttpOnly"),
        "{theme}"
    );
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["user"]["displayName"], "Alice Liddell");

    // Clearing: the username shows again, no picture, the system's theme.
    let (s, p) = put(
        &alice,
        &csrf,
        json!({ "displayName": "", "avatar": null, "theme": "system" }),
    )
    .await;
    assert_eq!(s, 200, "{p}");
    assert!(p["displayName"].is_null() && p["avatar"].is_null(), "{p}");
    assert_eq!(p["theme"], "system");
    let me: Value = alice.get("/api/user").await.json().await.unwrap();
    assert_eq!(me["user"]["displayName"], "alice", "{me}");

    let rows = audit_rows(env, "PROFILE_UPDATE").await;
    assert!(rows
        .iter()
        .any(|r| r.status == "SUCCESS" && r.username == "alice"));
    assert!(rows.iter().any(|r| r.status == "FAILURE"));
}

#[tokio::test]
async fn profile_on_sqlite() {
    let env = Env::start(false).await;
    profile_flow(&env).await;
    env.done().await;
}

#[tokio::test]
async fn profile_on_mariadb() {
    let env = Env::start(true).await;
    profile_flow(&env).await;
    env.done().await;
}
