//! Smaller doors a tenant tries: a forged `X-Forwarded-For`, a `next` that leaves the site, a chat
//! event whose audience is empty, oversized or out-of-turn Socket.IO events, an LDAP group of the
//! same name in another OU, a directory name that is a local account's, and mutating routes
//! called in a loop.

use std::collections::HashMap;
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::chat::{ack, app_on, user};
use crate::support::browser::Browser;
use crate::support::on_both;
use crate::support::slapd::{Slapd, BASE, SERVICE_DN, SERVICE_PW};
use crate::support::Db;
use crate::support::{demo_vars, spawn_with, temp_dir, TestApp};

on_both!(
    forged_forwarded_addresses_do_not_escape_the_sign_in_limit,
    an_empty_audience_reaches_nobody,
    mutating_chat_and_settings_routes_are_rate_limited,
);

/// Audit rows of `username` with `action` (flushed first).
async fn audit_rows(
    app: &TestApp,
    username: &str,
    action: &str,
) -> Vec<uma::store::audit::AuditRow> {
    app.flush_audit().await;
    app.state
        .store
        .list_audit(
            &uma::store::audit::AuditFilter {
                username: Some(username.into()),
                action: Some(action.into()),
                ..Default::default()
            },
            200,
            0,
        )
        .await
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// Client address

async fn forged_forwarded_addresses_do_not_escape_the_sign_in_limit(db: Db) {
    // The proxy in front of Uma (10.0.0.0/8) appends the address it saw; whatever the client put
    // before that is the client's own invention.
    let app = app_on(
        db,
        &[
            ("TRUSTED_PROXIES", "127.0.0.1, ::1, 10.0.0.0/8"),
            // The old switch, still honoured as an alias: it must not bring back left-most trust.
            ("RATE_LIMIT_TRUST_PROXY", "true"),
        ],
    )
    .await;
    uma::bootstrap::set_local_password(&app.state.store, "alice", "alice-pass-123", false)
        .await
        .unwrap();
    let b = Browser::new(&app.url(""));
    let token = b.csrf().await;
    let mut statuses = Vec::new();
    for i in 0..7 {
        let resp = b
            .http
            .post(app.url("/api/login"))
            .header("origin", &b.origin)
            .header("cookie", b.cookie_header())
            .header("x-csrf-token", &token)
            .header(
                "x-forwarded-for",
                format!("203.0.113.{i}, 198.51.100.7, 10.1.2.3"),
            )
            .json(&json!({ "username": "alice", "password": "wrong-password" }))
            .send()
            .await
            .unwrap();
        statuses.push(resp.status().as_u16());
    }
    assert_eq!(
        statuses,
        [401, 401, 401, 401, 401, 429, 429],
        "the forged addresses count as one client"
    );
    let rows = audit_rows(&app, "alice", "LOGIN_FAILED").await;
    assert_eq!(rows.len(), 7);
    assert!(
        rows.iter()
            .all(|r| r.ip_address.as_deref() == Some("198.51.100.7")),
        "audit rows carry the address the trusted proxy saw: {:?}",
        rows.iter().map(|r| &r.ip_address).collect::<Vec<_>>()
    );
    app.stop().await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// `next` after sign-in

#[tokio::test]
async fn next_after_sign_in_never_leaves_the_site() {
    let app = app_on(Db::Sqlite, &[]).await;
    uma::bootstrap::set_local_password(&app.state.store, "alice", "alice-pass-123", false)
        .await
        .unwrap();
    let nasty = [
        "/\t/evil.example",
        "/\n/evil.example",
        "/\r/evil.example",
        "/ /evil.example",
        "/\u{0b}/evil.example",
        "//evil.example",
        "/\\evil.example",
        "/\\/evil.example",
        "https://evil.example/",
        "javascript:alert(1)",
        "evil.example",
        "/%2F/evil.example\t",
        "/dashboard\u{0}",
        "/dashboard\u{2028}",
        "/login",
    ];
    let mut sent = Vec::new();
    for next in nasty.iter().chain(["/pools/DEV_alice_1?tab=guests"].iter()) {
        let b = Browser::new(&app.url(""));
        let token = b.csrf().await;
        let path = format!("/login?next={}", uma::http::guard::urlencode(next));
        let resp = b
            .post_form(
                &path,
                &[
                    ("username", "alice"),
                    ("password", "alice-pass-123"),
                    ("csrf_token", &token),
                ],
            )
            .await;
        let location = resp
            .headers()
            .get("location")
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        sent.push((*next, resp.status().as_u16(), location));
    }
    let (good, bad) = sent.split_last().unwrap();
    for (next, status, location) in bad {
        assert_eq!(
            (*status, location.as_deref()),
            (303, Some("/dashboard")),
            "next={next:?} must land on the dashboard"
        );
    }
    assert_eq!(
        (good.1, good.2.as_deref()),
        (303, Some("/pools/DEV_alice_1?tab=guests")),
        "a local path is kept"
    );
    app.stop().await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// Chat audience

async fn an_empty_audience_reaches_nobody(db: Db) {
    let app = app_on(db, &[]).await;
    let alice = user(&app, "alice", false).await;
    let bob = user(&app, "bob", false).await;
    let carol = user(&app, "carol", false).await;
    let dave = user(&app, "dave", false).await;

    let resp = alice
        .browser
        .post_json(
            "/api/groups",
            Some(&alice.csrf),
            json!({ "name": "inner circle", "memberIds": [bob.id, carol.id] }),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let gid = resp.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let sent = ack(
        &bob,
        "send_message",
        json!({ "groupId": gid, "content": "the merger closes friday" }),
    )
    .await;
    let mid = sent["message"]["id"].as_str().unwrap().to_owned();
    // Bob leaves; both remaining members block him: nobody is left to hear about his message.
    let resp = bob
        .browser
        .send(
            Method::DELETE,
            &format!("/api/groups/{gid}/members/{}", bob.id),
            Some(&bob.csrf),
            None,
        )
        .await;
    assert_eq!(resp.status(), 200);
    for u in [&alice, &carol] {
        let resp = u
            .browser
            .post_json(
                "/api/chat/blocks",
                Some(&u.csrf),
                json!({ "username": "bob" }),
            )
            .await;
        assert_eq!(resp.status(), 200);
    }
    let reacted = ack(
        &alice,
        "add_reaction",
        json!({ "messageId": mid, "emoji": "👍" }),
    )
    .await;
    assert_eq!(reacted["ok"], true, "{reacted}");
    // Dave, never in the group, must not receive the message through the reaction.
    let leaked = dave
        .sock
        .wait_event("message_updated", Duration::from_secs(1))
        .await;
    assert!(
        leaked.is_none(),
        "an outsider received the group's message: {leaked:?}"
    );
    app.stop().await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// Socket.IO payloads

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn oversized_and_out_of_turn_events_are_refused_with_an_ack() {
    let app = app_on(Db::Sqlite, &[]).await;
    let alice = user(&app, "alice", false).await;

    let short = |v: &Value| v.to_string().chars().take(300).collect::<String>();
    // A chat message has its own cap, far below what the engine takes (10 MiB for saves).
    let a = ack(
        &alice,
        "send_message",
        json!({ "to": "bob", "content": "x".repeat(200_000) }),
    )
    .await;
    assert_eq!(a["error"]["code"], "payload_too_large", "{}", short(&a));
    // A whiteboard save by a non-admin is refused before its payload is read: even one that
    // would not parse gets the refusal, not a parse error.
    let a = ack(&alice, "draw_save", json!(42)).await;
    assert_eq!(a["error"]["code"], "forbidden", "{a}");
    assert_eq!(
        a["error"]["message"],
        "Only admins can save whiteboard state."
    );
    let a = ack(&alice, "draw_clear", json!(42)).await;
    assert_eq!(a["error"]["code"], "forbidden", "{a}");
    // Every event has a cap, also those the original left without one.
    let a = ack(
        &alice,
        "get_online_users",
        json!({ "padding": "x".repeat(100_000) }),
    )
    .await;
    assert_eq!(a["error"]["code"], "payload_too_large", "{}", short(&a));
    // The Proxmox operations too: a config change of 100 KiB is measured, not parsed.
    let a = ack(
        &alice,
        "vm:config",
        json!({ "vmid": 100, "set": { "description": "x".repeat(100_000) } }),
    )
    .await;
    assert_eq!(a["error"]["code"], "payload_too_large", "{}", short(&a));
    // Ordinary events still work.
    let a = ack(&alice, "get_online_users", json!({})).await;
    assert_eq!(a["ok"], true, "{a}");
    let a = ack(&alice, "typing", json!({ "to": "alice", "isTyping": true })).await;
    assert!(a["error"]["code"] != "payload_too_large", "{a}");
    app.stop().await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// LDAP identity

async fn ldap_app(slapd: &Slapd, extra: &[(&str, &str)]) -> TestApp {
    let dir = temp_dir("isolation-ldap");
    let mut vars: HashMap<String, String> = demo_vars(&dir);
    for (k, v) in [
        ("LDAP_URL", slapd.url.as_str()),
        ("LDAP_BIND_DN", SERVICE_DN),
        ("LDAP_BIND_PASSWORD", SERVICE_PW),
        ("LDAP_BASE_DN", BASE),
        ("USE_SECURE_COOKIE", "false"),
    ]
    .iter()
    .chain(extra)
    {
        vars.insert((*k).into(), (*v).into());
    }
    spawn_with(vars, dir).await
}

async fn try_login(b: &Browser, username: &str, password: &str) -> (u16, Value) {
    let token = b.csrf().await;
    let resp = b
        .post_json(
            "/api/login",
            Some(&token),
            json!({ "username": username, "password": password }),
        )
        .await;
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn admin_groups_given_as_dns_match_whole_dns() {
    let slapd = Slapd::start().await;
    let set = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    // A group with the admins' CN in an OU anyone can get a group into.
    slapd
        .add(vec![
            (
                format!("ou=partners,{BASE}"),
                vec![
                    ("objectClass", set(&["organizationalUnit"])),
                    ("ou", set(&["partners"])),
                ],
            ),
            (
                format!("cn=Uma-Admins,ou=partners,{BASE}"),
                vec![
                    ("objectClass", set(&["groupOfNames"])),
                    ("cn", set(&["Uma-Admins"])),
                    ("member", vec![format!("uid=alice,ou=people,{BASE}")]),
                ],
            ),
        ])
        .await;
    // Written the way people copy DNs: other case, spaces after commas.
    let app = ldap_app(
        &slapd,
        &[(
            "ADMIN_GROUPS",
            "CN=Uma-Admins, OU=Groups, DC=example, DC=com",
        )],
    )
    .await;
    let (status, body) = try_login(&Browser::new(&app.url("")), "bob", "bob-ldap-pw").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["user"]["isAdmin"], true,
        "the real admin group: {body}"
    );
    let (status, body) = try_login(&Browser::new(&app.url("")), "alice", "alice-ldap-pw").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["user"]["isAdmin"], false,
        "a same-named group in another OU grants nothing: {body}"
    );
    app.stop().await.unwrap();

    // Allowed groups given as DNs are whole DNs too.
    let app = ldap_app(
        &slapd,
        &[("ADMIN_GROUPS", "cn=nobody,ou=groups,dc=example,dc=com")],
    )
    .await;
    app.state
        .store
        .set_config_value(
            "access",
            &json!({ "adminGroups": [], "allowedGroups": [format!("cn=Uma-Admins,ou=groups,{BASE}")] }),
        )
        .await
        .unwrap();
    let (status, _) = try_login(&Browser::new(&app.url("")), "bob", "bob-ldap-pw").await;
    assert_eq!(status, 200);
    let (status, body) = try_login(&Browser::new(&app.url("")), "alice", "alice-ldap-pw").await;
    assert_eq!(status, 403, "{body}");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_directory_user_cannot_take_a_local_accounts_name() {
    let slapd = Slapd::start().await;
    let (dn, mut attrs) = Slapd::person("admin", "Directory Admin", "dir-admin-pw");
    attrs.push(("mail", vec!["admin@example.com".to_owned()]));
    slapd.add(vec![(dn, attrs)]).await;
    let app = ldap_app(
        &slapd,
        &[
            ("UMA_ADMIN_PASSWORD", "local-admin-pw-1"),
            (
                "LDAP_USER_SEARCH_FILTER",
                "(|(uid={{username}})(mail={{username}}))",
            ),
        ],
    )
    .await;

    // The directory's canonical name for this sign-in is `admin`: the local account's.
    let b = Browser::new(&app.url(""));
    let (status, body) = try_login(&b, "admin@example.com", "dir-admin-pw").await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        body["error"]["message"],
        "This name belongs to a local account. Sign in with that account."
    );
    let rows = audit_rows(&app, "admin@example.com", "LOGIN_FAILED").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].status, "FAILURE");
    assert!(
        rows[0].details.contains("local_name_taken"),
        "{}",
        rows[0].details
    );

    // A name that differs from a local account only in case is that local account.
    let (status, body) = try_login(&b, "Admin", "dir-admin-pw").await;
    assert_eq!(status, 401, "the directory is not asked: {body}");
    let (status, body) = try_login(&Browser::new(&app.url("")), "Admin", "local-admin-pw-1").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["username"], "admin");
    assert_eq!(body["user"]["authSource"], "local");
    app.stop().await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// Rate limits of mutating routes

/// Calls `path` until it answers 429 (at most `max` times); returns the 429 response's body and
/// `Retry-After`.
async fn until_limited(
    b: &Browser,
    csrf: &str,
    method: Method,
    path: &str,
    body: impl Fn(usize) -> Value,
    max: usize,
) -> (Value, Option<String>) {
    for i in 0..max {
        let resp = b
            .send(method.clone(), path, Some(csrf), Some(body(i)))
            .await;
        let status = resp.status().as_u16();
        if status == 429 {
            let retry = resp
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned());
            return (resp.json().await.unwrap(), retry);
        }
        assert!(
            (200..300).contains(&status),
            "{method} {path} #{i}: {status} {}",
            resp.text().await.unwrap()
        );
    }
    panic!("{method} {path}: {max} calls and never limited");
}

async fn mutating_chat_and_settings_routes_are_rate_limited(db: Db) {
    let app = app_on(db, &[]).await;
    let alice = user(&app, "alice", false).await;

    let (body, retry) = until_limited(
        &alice.browser,
        &alice.csrf,
        Method::PUT,
        "/api/chat/settings",
        |i| json!({ "dnd": i % 2 == 0 }),
        100,
    )
    .await;
    assert_eq!(body["error"]["code"], "rate_limited");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Rate limit exceeded. Please try again in"),
        "{body}"
    );
    assert!(retry.is_some(), "Retry-After is set");
    let rows = audit_rows(&app, "alice", "UPDATE_SETTINGS").await;
    assert!(
        rows.iter()
            .any(|r| r.status == "WARNING" && r.details.contains("rate_limited")),
        "the refusal is audited"
    );

    let (body, _) = until_limited(
        &alice.browser,
        &alice.csrf,
        Method::POST,
        "/api/groups",
        |i| json!({ "name": format!("group {i}"), "memberIds": [] }),
        100,
    )
    .await;
    assert_eq!(body["error"]["code"], "rate_limited");

    let root = user(&app, "root", true).await;
    let (body, _) = until_limited(
        &root.browser,
        &root.csrf,
        Method::POST,
        "/api/settings/access",
        |_| json!({ "adminGroups": [], "allowedGroups": [] }),
        100,
    )
    .await;
    assert_eq!(body["error"]["code"], "rate_limited");
    let rows = audit_rows(&app, "root", "SETTINGS_ACCESS_UPDATE").await;
    assert!(rows
        .iter()
        .any(|r| r.status == "WARNING" && r.details.contains("rate_limited")));
    app.stop().await.unwrap();
}
