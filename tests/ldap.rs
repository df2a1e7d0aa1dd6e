//! LDAP sign-in against a real OpenLDAP started by the harness: the original's AD-style filter,
//! groups from memberOf and from the member search, admin groups, every refusal, a stopped server.

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::support::browser::Browser;
use crate::support::slapd::{Slapd, BASE, SERVICE_DN, SERVICE_PW};
use crate::support::{demo_vars, spawn_with, temp_dir, TestApp};

async fn app_for(slapd: &Slapd, extra: &[(&str, &str)]) -> TestApp {
    let dir = temp_dir("ldap");
    let mut vars: HashMap<String, String> = demo_vars(&dir);
    for (k, v) in [
        ("LDAP_URL", slapd.url.as_str()),
        ("LDAP_BIND_DN", SERVICE_DN),
        ("LDAP_BIND_PASSWORD", SERVICE_PW),
        ("LDAP_BASE_DN", BASE),
        ("ADMIN_GROUPS", "uma-admins"),
        ("USE_SECURE_COOKIE", "false"),
    ] {
        vars.insert(k.into(), v.into());
    }
    for (k, v) in extra {
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
async fn directory_users_sign_in_with_groups_and_admin_rights() {
    let slapd = Slapd::start().await;
    let app = app_for(&slapd, &[]).await;
    let b = Browser::new(&app.url(""));

    let body = b.login("alice", "alice-ldap-pw").await;
    assert_eq!(body["user"]["username"], "alice");
    assert_eq!(body["user"]["displayName"], "Alice L.");
    assert_eq!(body["user"]["groups"], json!(["devs"]));
    assert_eq!(body["user"]["isAdmin"], false);
    assert_eq!(body["user"]["authSource"], "ldap");

    // ADMIN_GROUPS matches case-insensitively (the group is "Uma-Admins").
    let body = Browser::new(&app.url("")).login("bob", "bob-ldap-pw").await;
    assert_eq!(body["user"]["isAdmin"], true);
    assert_eq!(body["user"]["displayName"], "Bob Builder");

    // No memberOf: groups come from the search by member DN.
    let body = Browser::new(&app.url(""))
        .login("carol", "carol-ldap-pw")
        .await;
    assert_eq!(body["user"]["groups"], json!(["ops"]));
    app.stop().await.unwrap();
}

#[tokio::test]
async fn directory_refusals_are_clear() {
    let mut slapd = Slapd::start().await;
    let app = app_for(&slapd, &[]).await;
    let b = Browser::new(&app.url(""));

    let (status, body) = try_login(&b, "alice", "wrong").await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["message"], "Invalid username or password.");
    assert_eq!(try_login(&b, "nobody", "whatever").await.0, 401);
    assert_eq!(
        try_login(&b, "alice", "").await.0,
        400,
        "empty passwords never reach a bind"
    );
    // Injection strings never widen the search into someone else's entry.
    for evil in ["*", "alice)(uid=*", "*)(|(uid=*", "ali*", "alice\0"] {
        let (status, body) = try_login(&Browser::new(&app.url("")), evil, "alice-ldap-pw").await;
        assert_eq!(status, 401, "{evil:?}: {body}");
    }

    slapd.stop();
    let (status, body) = try_login(&Browser::new(&app.url("")), "alice", "alice-ldap-pw").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "unavailable");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("unavailable"));
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_uid_filter_and_allowed_groups() {
    let slapd = Slapd::start().await;
    let app = app_for(
        &slapd,
        &[(
            "LDAP_USER_SEARCH_FILTER",
            "(&(objectClass=inetOrgPerson)(uid={{username}}))",
        )],
    )
    .await;
    let store = app.store().await;
    store
        .set_config_value(
            "access",
            &json!({ "allowedGroups": ["devs"], "adminGroups": [] }),
        )
        .await
        .unwrap();
    store.close().await;
    let body = Browser::new(&app.url(""))
        .login("alice", "alice-ldap-pw")
        .await;
    assert_eq!(body["user"]["groups"], json!(["devs"]));
    // carol is in no allowed group.
    let (status, body) = try_login(&Browser::new(&app.url("")), "carol", "carol-ldap-pw").await;
    assert_eq!(status, 403, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Access denied"));
    // bob is an admin, admitted whatever his groups.
    let (status, _) = try_login(&Browser::new(&app.url("")), "bob", "bob-ldap-pw").await;
    assert_eq!(status, 200);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_local_account_is_not_shadowed_by_the_directory() {
    let slapd = Slapd::start().await;
    let app = app_for(&slapd, &[("UMA_ADMIN_PASSWORD", "local-admin-pw")]).await;
    // The local admin signs in locally even with LDAP configured.
    let body = Browser::new(&app.url(""))
        .login("admin", "local-admin-pw")
        .await;
    assert_eq!(body["user"]["authSource"], "local");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn ldaps_and_starttls() {
    let slapd = Slapd::start().await;
    // ldaps:// with a self-signed certificate: refused unless LDAP_ALLOW_INSECURE_TLS.
    let strict = app_for(&slapd, &[("LDAP_URL", slapd.ldaps_url.as_str())]).await;
    let (status, body) = try_login(&Browser::new(&strict.url("")), "alice", "alice-ldap-pw").await;
    assert_eq!(status, 503, "an untrusted certificate is refused: {body}");
    strict.stop().await.unwrap();

    let lenient = app_for(
        &slapd,
        &[
            ("LDAP_URL", slapd.ldaps_url.as_str()),
            ("LDAP_ALLOW_INSECURE_TLS", "true"),
        ],
    )
    .await;
    let body = Browser::new(&lenient.url(""))
        .login("alice", "alice-ldap-pw")
        .await;
    assert_eq!(body["user"]["groups"], json!(["devs"]));
    lenient.stop().await.unwrap();

    // ldap:// upgraded with StartTLS.
    let starttls = app_for(
        &slapd,
        &[
            ("LDAP_STARTTLS", "true"),
            ("LDAP_ALLOW_INSECURE_TLS", "true"),
        ],
    )
    .await;
    let body = Browser::new(&starttls.url(""))
        .login("bob", "bob-ldap-pw")
        .await;
    assert_eq!(body["user"]["isAdmin"], true);
    starttls.stop().await.unwrap();
    let strict_starttls = app_for(&slapd, &[("LDAP_STARTTLS", "true")]).await;
    let (status, _) = try_login(
        &Browser::new(&strict_starttls.url("")),
        "bob",
        "bob-ldap-pw",
    )
    .await;
    assert_eq!(status, 503);
    strict_starttls.stop().await.unwrap();
}

async fn get(b: &Browser, path: String) -> (u16, Value) {
    let resp = b.get(&path).await;
    let status = resp.status().as_u16();
    (status, resp.json::<Value>().await.unwrap_or(Value::Null))
}

/// An administrator tests who may sign in (which rule admits or refuses them, without their
/// password) and searches the directory's people and groups; others may do neither beyond the
/// people who signed in to Uma and their own groups, and a filter can't be smuggled in.
#[tokio::test]
async fn an_administrator_tests_sign_in_rules_and_searches_the_directory() {
    let slapd = Slapd::start().await;
    let app = app_for(&slapd, &[]).await;
    let store = app.store().await;
    store
        .set_config_value(
            "access",
            &json!({ "allowedGroups": ["devs"], "adminGroups": [] }),
        )
        .await
        .unwrap();
    store.close().await;
    let bob = Browser::new(&app.url(""));
    bob.login("bob", "bob-ldap-pw").await;
    let alice = Browser::new(&app.url(""));
    alice.login("alice", "alice-ldap-pw").await;
    let check = |who: &str| format!("/api/settings/access/check?username={who}");

    let (s, r) = get(&bob, check("alice")).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(
        (r["allowed"].as_bool(), r["isAdmin"].as_bool()),
        (Some(true), Some(false)),
        "{r}"
    );
    assert!(r["because"].as_str().unwrap().contains("'devs'"), "{r}");
    assert_eq!(r["groups"], json!(["devs"]));
    let (_, r) = get(&bob, check("carol")).await;
    assert_eq!(r["allowed"], false, "{r}");
    assert!(
        r["because"]
            .as_str()
            .unwrap()
            .contains("not a member of any allowed group (devs)"),
        "{r}"
    );
    let (_, r) = get(&bob, check("bob")).await;
    assert_eq!(
        (r["allowed"].as_bool(), r["isAdmin"].as_bool()),
        (Some(true), Some(true)),
        "{r}"
    );
    let why = r["adminBecause"].as_str().unwrap();
    assert!(
        why.contains("uma-admins") && why.contains("ADMIN_GROUPS"),
        "{r}"
    );
    let (_, r) = get(&bob, check("nobody-at-all")).await;
    assert_eq!(
        (r["found"].as_bool(), r["allowed"].as_bool()),
        (Some(false), Some(false)),
        "{r}"
    );
    let (s, r) = get(&bob, check("ali*")).await;
    assert_eq!(
        (s, r["found"].as_bool()),
        (200, Some(false)),
        "a wildcard finds nobody: {r}"
    );
    let (s, r) = get(&bob, "/api/settings/access/check?username=".into()).await;
    assert_eq!(
        (s, r["error"]["field"].as_str()),
        (400, Some("username")),
        "{r}"
    );
    let (s, _) = get(&alice, check("carol")).await;
    assert_eq!(s, 403);

    let names = |r: &Value| -> Vec<String> {
        r["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let search = |kind: &str, q: &str| format!("/api/directory/search?kind={kind}&q={q}");
    // carol never signed in: the directory knows her, for administrators only.
    let (s, r) = get(&bob, search("user", "car")).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(names(&r), vec!["carol"], "{r}");
    assert_eq!(r["directory"], "ok");
    let (_, r) = get(&alice, search("user", "car")).await;
    assert!(names(&r).is_empty(), "{r}");
    let (_, r) = get(&alice, search("user", "bo")).await;
    assert_eq!(names(&r), vec!["bob"], "people who signed in: {r}");
    let (_, r) = get(&bob, search("group", "op")).await;
    assert_eq!(names(&r), vec!["ops"], "{r}");
    let (_, r) = get(&alice, search("group", "op")).await;
    assert!(names(&r).is_empty(), "not her group: {r}");
    let (_, r) = get(&alice, search("group", "dev")).await;
    assert_eq!(names(&r), vec!["devs"], "{r}");
    // Filter syntax is text.
    let (s, r) = get(&bob, search("user", "*)(uid=*")).await;
    assert_eq!(s, 200);
    assert!(names(&r).is_empty(), "{r}");
    let (s, r) = get(&bob, search("person", "al")).await;
    assert_eq!(
        (s, r["error"]["field"].as_str()),
        (400, Some("kind")),
        "{r}"
    );

    app.flush_audit().await;
    assert!(!app.audit_rows("ACCESS_CHECK").await.is_empty());
    assert!(!app.audit_rows("DIRECTORY_SEARCH").await.is_empty());
    app.stop().await.unwrap();
}

#[tokio::test]
async fn a_name_bound_to_an_openid_provider_is_not_the_directorys() {
    let slapd = Slapd::start().await;
    let app = app_for(&slapd, &[]).await;
    // Someone called Alice signed in through a provider first.
    let store = &app.state.store;
    let user = store.create_user("Alice", None).await.unwrap();
    store
        .bind_oidc_identity(&uma::store::oidc::OidcIdentity {
            provider: "sso".into(),
            subject: "0f1e2d".into(),
            user_id: user.id,
            username: user.username,
            created_at: uma::store::now_ms(),
        })
        .await
        .unwrap();
    let (status, body) = try_login(&Browser::new(&app.url("")), "alice", "alice-ldap-pw").await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        body["error"]["message"],
        "The name alice already belongs to an account that signs in another way; ask an administrator."
    );
    // Others of the directory are unaffected.
    assert_eq!(
        try_login(&Browser::new(&app.url("")), "bob", "bob-ldap-pw")
            .await
            .0,
        200
    );
    app.stop().await.unwrap();
}
