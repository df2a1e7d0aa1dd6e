//! OpenID Connect sign-in against a real provider (`oidc-provider`, started by the harness):
//! the provider list, signing in (groups, administrators), every refusal the login page shows
//! (a wrong or foreign state, a replayed code, expired and misaddressed ID tokens, a name that
//! is someone else's, a provider that is down), who a bound person stays, the provider's
//! sign-out, and failed callbacks against the sign-in limit.

use reqwest::{Method, Url};
use serde_json::{json, Value};

use crate::support::browser::Browser;
use crate::support::oidc::{Idp, TestProvider, SECRET};
use crate::support::{on_both, Db, TestApp};
use uma::store::oidc::{OidcIdentity, PendingLogin};
use uma::store::StoreError;

const ADMIN_PW: &str = "admin-pass-123";

on_both!(
    people_sign_in_through_a_provider,
    names_never_change_hands,
    the_store_keeps_sign_ins_once_and_bindings_with_their_user
);

/// A server whose providers `test` and `second` are honest clients of `idp`, `expired` and
/// `aud` its dishonest ones.
async fn app(db: Db, idp: &TestProvider) -> TestApp {
    let mut build = TestApp::demo("oidc").on(db).vars(&[
        ("UMA_ADMIN_PASSWORD", ADMIN_PW),
        ("ADMIN_GROUPS", "uma-admins"),
        ("OIDC_PROVIDERS", "test,second,expired,aud"),
        ("OIDC_TEST_LABEL", "Test IdP"),
    ]);
    for (name, client) in [
        ("TEST", "uma"),
        ("SECOND", "uma"),
        ("EXPIRED", "uma-expired"),
        ("AUD", "uma-aud"),
    ] {
        build = build
            .var(&format!("OIDC_{name}_ISSUER"), idp.issuer.clone())
            .var(&format!("OIDC_{name}_CLIENT_ID"), client)
            .var(&format!("OIDC_{name}_CLIENT_SECRET"), SECRET);
    }
    let app = build.start().await;
    idp.setup(&app.url(""), &["test", "second", "expired", "aud"])
        .await;
    app
}

/// The path and query of one of Uma's URLs.
fn local(url: &str) -> String {
    let u = Url::parse(url).unwrap();
    match u.query() {
        Some(q) => format!("{}?{q}", u.path()),
        None => u.path().to_owned(),
    }
}

/// `url` with the query parameter `key` set to `value`.
fn with_param(url: &str, key: &str, value: &str) -> String {
    let mut u = Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> = u
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == key {
                value.to_owned()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    u.query_pairs_mut().clear().extend_pairs(pairs);
    u.to_string()
}

fn param(url: &str, key: &str) -> String {
    Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
        .unwrap()
}

/// Starts a sign-in at `provider` in `b` and signs in at the provider as `account`; returns the
/// URL the provider sends the browser back to (not yet followed).
async fn to_callback(app: &TestApp, b: &Browser, idp: &Idp, start: &str, account: &str) -> String {
    let resp = b.get(start).await;
    assert_eq!(
        resp.status(),
        303,
        "{start}: {}",
        resp.text().await.unwrap()
    );
    let to = resp.headers()["location"].to_str().unwrap().to_owned();
    idp.authorize(&to, account, &app.url("")).await
}

/// Signs in through `provider` as `account`; gives Uma's answer to the callback.
async fn sign_in(app: &TestApp, b: &Browser, provider: &str, account: &str) -> reqwest::Response {
    let idp = Idp::new();
    let start = format!("/api/auth/oidc/{provider}/start");
    let back = to_callback(app, b, &idp, &start, account).await;
    b.get(&local(&back)).await
}

/// The session's user, or `Null`.
async fn me(b: &Browser) -> Value {
    let auth: Value = b.get("/api/auth").await.json().await.unwrap();
    auth["user"].clone()
}

/// Asserts the login page answered with `status` and says `text`.
async fn refused(resp: reqwest::Response, status: u16, text: &str) {
    assert_eq!(resp.status().as_u16(), status);
    let html = resp.text().await.unwrap();
    assert!(html.contains("alert-error"), "{html}");
    assert!(html.contains(text), "{text:?} not in {html}");
}

/// The details of the newest audit row of `action` whose details hold `needle`.
async fn audited(app: &TestApp, action: &str, needle: &str) -> Value {
    let rows = app.audit_rows(action).await;
    let row = rows
        .iter()
        .find(|r| r.details.contains(needle))
        .unwrap_or_else(|| panic!("no {action} row with {needle}: {rows:?}"));
    serde_json::from_str(&row.details).unwrap()
}

async fn people_sign_in_through_a_provider(db: Db) {
    let idp = TestProvider::start(false).await;
    let app = app(db, &idp).await;

    // The providers are listed for the login page and for scripts.
    let b = Browser::new(&app.url(""));
    let auth: Value = b.get("/api/auth").await.json().await.unwrap();
    assert_eq!(
        auth["providers"][0],
        json!({ "id": "test", "label": "Test IdP", "startUrl": "/api/auth/oidc/test/start" })
    );
    assert_eq!(auth["providers"][1]["label"], "Second");
    let page = b.get("/login?next=/docs").await.text().await.unwrap();
    // (The template writes `/` as `&#x2f;`.)
    assert!(
        page.contains(r#"test&#x2f;start?next=%2Fdocs" data-oidc-provider="test""#),
        "{page}"
    );
    assert!(page.contains("Sign in with Test IdP"));

    // Alice signs in and lands where she was going.
    let idp_browser = Idp::new();
    let back = to_callback(
        &app,
        &b,
        &idp_browser,
        "/api/auth/oidc/test/start?next=/docs",
        "alice",
    )
    .await;
    let resp = b.get(&local(&back)).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "/docs");
    let user = me(&b).await;
    assert_eq!(user["username"], "alice");
    assert_eq!(user["displayName"], "Alice Example");
    assert_eq!(user["groups"], json!(["devs"]));
    assert_eq!(user["isAdmin"], false);
    assert_eq!(user["authSource"], "oidc");
    let auth: Value = b.get("/api/auth").await.json().await.unwrap();
    assert_eq!(auth["providers"].as_array().unwrap().len(), 4);
    let row = audited(&app, "LOGIN_OIDC", "\"test\"").await;
    assert_eq!(row["subject"], "alice");
    assert_eq!(row["firstSignIn"], true);

    // Bob's group makes him an administrator (Keycloak's full path `/uma-admins` counts).
    let bob = Browser::new(&app.url(""));
    assert_eq!(sign_in(&app, &bob, "test", "bob").await.status(), 303);
    let user = me(&bob).await;
    assert_eq!(
        (user["username"].as_str(), user["isAdmin"].as_bool()),
        (Some("bob"), Some(true))
    );
    assert_eq!(bob.get("/api/admin/sessions").await.status(), 200);

    // Five failures of the kind a forger causes block the address for a while
    // (failed_callbacks_count_toward_the_sign_in_limit): the five below come last.
    // The same code again, in a sign-in of its own: the provider refuses it.
    let again = to_callback(&app, &b, &idp_browser, "/api/auth/oidc/test/start", "alice").await;
    let replay = with_param(&again, "code", &param(&back, "code"));
    refused(
        b.get(&local(&replay)).await,
        401,
        "Test IdP refused this sign-in",
    )
    .await;
    assert!(
        audited(&app, "LOGIN_FAILED", "code_refused").await["detail"]
            .as_str()
            .unwrap()
            .contains("invalid_grant")
    );
    // Its state is spent as well.
    refused(b.get(&local(&again)).await, 400, "Please start again").await;

    // A forged state, and a state of another browser's sign-in.
    let c = Browser::new(&app.url(""));
    let back = to_callback(&app, &c, &Idp::new(), "/api/auth/oidc/test/start", "alice").await;
    refused(
        c.get(&local(&with_param(&back, "state", "forged"))).await,
        400,
        "This sign-in has expired, was used already or was started in another browser",
    )
    .await;
    let d = Browser::new(&app.url(""));
    refused(
        d.get(&local(&back)).await,
        400,
        "started in another browser",
    )
    .await;
    assert!(me(&d).await.is_null());
    assert!(audited(&app, "LOGIN_FAILED", "another browser").await["reason"] == "state_mismatch");
    // Another issuer's answer (a mix-up).
    let back = to_callback(&app, &c, &Idp::new(), "/api/auth/oidc/test/start", "alice").await;
    assert_eq!(param(&back, "iss"), idp.issuer);
    refused(
        c.get(&local(&with_param(
            &back,
            "iss",
            "https://elsewhere.example",
        )))
        .await,
        400,
        "This answer did not come from Test IdP",
    )
    .await;

    // Signing out ends the session and hands over the provider's sign-out, which comes back.
    let csrf = b.csrf().await;
    let resp = b.send(Method::POST, "/api/logout", Some(&csrf), None).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    let logout = body["logoutUrl"].as_str().unwrap().to_owned();
    assert!(
        logout.starts_with(&format!("{}/session/end?", idp.issuer)),
        "{logout}"
    );
    assert_eq!(param(&logout, "client_id"), "uma");
    assert_eq!(
        param(&logout, "post_logout_redirect_uri"),
        app.url("/login")
    );
    assert!(param(&logout, "id_token_hint").split('.').count() == 3);
    assert!(me(&b).await.is_null());
    assert_eq!(
        idp_browser.sign_out(&logout, &app.url("/login")).await,
        app.url("/login")
    );
    // The sign-out form of the page goes on to the provider through a page of Uma's own.
    let csrf = bob.csrf().await;
    let resp = bob.post_form("/logout", &[("csrf_token", &csrf)]).await;
    assert_eq!(resp.status(), 200);
    let refresh = resp.headers()["refresh"].to_str().unwrap().to_owned();
    assert!(
        refresh.starts_with(&format!("0; url={}/session/end?", idp.issuer)),
        "{refresh}"
    );
    assert!(resp.text().await.unwrap().contains("Continue to Test IdP"));
    assert!(me(&bob).await.is_null());

    // A local account's sign-out is as it was.
    let admin = Browser::new(&app.url(""));
    admin.login("admin", ADMIN_PW).await;
    let csrf = admin.csrf().await;
    let resp = admin
        .send(Method::POST, "/api/logout", Some(&csrf), None)
        .await;
    assert_eq!(resp.status(), 303);
    app.stop().await.unwrap();
}

async fn names_never_change_hands(db: Db) {
    let idp = TestProvider::start(false).await;
    let app = app(db, &idp).await;
    let taken = |name: &str| {
        format!("The name {name} already belongs to an account that signs in another way; ask an administrator.")
    };

    // The local administrator's name.
    let b = Browser::new(&app.url(""));
    refused(
        sign_in(&app, &b, "test", "admin").await,
        403,
        &taken("admin"),
    )
    .await;
    assert!(me(&b).await.is_null());
    assert_eq!(
        audited(&app, "LOGIN_FAILED", "name_taken").await["provider"],
        "test"
    );
    // A local account made earlier, in another letter case.
    uma::services::accounts::set_local_password(&app.state.store, "Carol", "carol-pass-123", false)
        .await
        .unwrap();
    refused(
        sign_in(&app, &b, "test", "carol").await,
        403,
        &taken("carol"),
    )
    .await;

    // Alice through `test`, then someone else called alice through `second`.
    assert_eq!(sign_in(&app, &b, "test", "alice").await.status(), 303);
    let other = Browser::new(&app.url(""));
    refused(
        sign_in(&app, &other, "second", "alice").await,
        403,
        &taken("alice"),
    )
    .await;

    // A bound person stays their user whatever name the provider sends later, and their old
    // name doesn't pass to the next person who brings it.
    assert_eq!(sign_in(&app, &other, "test", "erin").await.status(), 303);
    idp.set_user(
        "erin",
        json!({ "preferred_username": "erin-renamed", "groups": ["devs"] }),
    )
    .await;
    let again = Browser::new(&app.url(""));
    assert_eq!(sign_in(&app, &again, "test", "erin").await.status(), 303);
    assert_eq!(me(&again).await["username"], "erin");
    idp.set_user(
        "dave",
        json!({ "preferred_username": "erin", "groups": ["devs"] }),
    )
    .await;
    refused(
        sign_in(&app, &Browser::new(&app.url("")), "test", "dave").await,
        403,
        &taken("erin"),
    )
    .await;
    // A domain doesn't make a name someone else's: alice@elsewhere is alice to Proxmox.
    idp.set_user(
        "dave",
        json!({ "preferred_username": "alice@elsewhere.example" }),
    )
    .await;
    refused(
        sign_in(&app, &Browser::new(&app.url("")), "test", "dave").await,
        403,
        &taken("alice@elsewhere.example"),
    )
    .await;

    // Access settings apply as to the directory's people: only allowed groups get in.
    let (admin, csrf) = app.session_as("root", &[], true).await;
    let resp = admin
        .send(
            Method::POST,
            "/api/settings/access",
            Some(&csrf),
            Some(json!({ "adminGroups": [], "allowedGroups": ["ops"] })),
        )
        .await;
    assert!(resp.status().is_success(), "{}", resp.text().await.unwrap());
    refused(
        sign_in(&app, &Browser::new(&app.url("")), "test", "nogroups").await,
        403,
        "Access denied",
    )
    .await;
    assert_eq!(
        sign_in(&app, &Browser::new(&app.url("")), "test", "bob")
            .await
            .status(),
        303
    );
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn id_tokens_that_fail_a_check_are_refused() {
    let idp = TestProvider::start(false).await;
    let app = app(Db::Sqlite, &idp).await;
    let b = Browser::new(&app.url(""));
    // Issued by a clock two hours behind: expired on arrival.
    refused(
        sign_in(&app, &b, "expired", "alice").await,
        401,
        "its ID token is expired",
    )
    .await;
    let row = audited(&app, "LOGIN_FAILED", "token_invalid").await;
    assert!(row["detail"].as_str().unwrap().contains("xpired"), "{row}");
    // Signed by the provider, for another client.
    refused(sign_in(&app, &b, "aud", "alice").await, 401, "not for Uma").await;
    let rows = app.audit_rows("LOGIN_FAILED").await;
    assert!(
        rows.iter()
            .any(|r| r.details.contains("\"aud\"") && r.details.contains("udience")),
        "{rows:?}"
    );
    assert!(me(&b).await.is_null());
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_provider_that_is_down_stops_only_its_button() {
    let mut idp = TestProvider::start(false).await;
    let app = app(Db::Sqlite, &idp).await;
    idp.stop();
    let b = Browser::new(&app.url(""));
    refused(
        b.get("/api/auth/oidc/test/start").await,
        503,
        "Test IdP is unavailable right now",
    )
    .await;
    assert_eq!(
        audited(&app, "LOGIN_FAILED", "provider_unavailable").await["provider"],
        "test"
    );
    // The login page still lists it, and local sign-in works.
    assert!(b
        .get("/login")
        .await
        .text()
        .await
        .unwrap()
        .contains("Sign in with Test IdP"));
    assert_eq!(
        b.login("admin", ADMIN_PW).await["user"]["username"],
        "admin"
    );
    // No such provider.
    refused(
        b.get("/api/auth/oidc/nope/start").await,
        404,
        "no such sign-in provider",
    )
    .await;
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn claims_missing_from_the_id_token_come_from_userinfo() {
    let idp = TestProvider::start(true).await;
    let app = app(Db::Sqlite, &idp).await;
    let b = Browser::new(&app.url(""));
    assert_eq!(sign_in(&app, &b, "test", "bob").await.status(), 303);
    let user = me(&b).await;
    assert_eq!(user["username"], "bob");
    assert_eq!(user["groups"], json!(["uma-admins", "devs"]));
    assert_eq!(user["isAdmin"], true);
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failed_callbacks_count_toward_the_sign_in_limit() {
    let idp = TestProvider::start(false).await;
    let app = app(Db::Sqlite, &idp).await;
    let b = Browser::new(&app.url(""));
    for _ in 0..5 {
        let resp = b
            .get("/api/auth/oidc/test/callback?code=x&state=forged")
            .await;
        assert_eq!(resp.status(), 400);
    }
    refused(
        b.get("/api/auth/oidc/test/start").await,
        429,
        "Too many failed sign-ins",
    )
    .await;
    // Password sign-in of another name is its own count.
    assert_eq!(
        b.login("admin", ADMIN_PW).await["user"]["username"],
        "admin"
    );
    app.stop().await.unwrap();
}

async fn the_store_keeps_sign_ins_once_and_bindings_with_their_user(db: Db) {
    let app = TestApp::demo("oidc-store").on(db).start().await;
    let store = &app.state.store;
    let now = uma::store::now_ms();
    let login = PendingLogin {
        state_hash: "a".repeat(64),
        provider: "test".into(),
        browser_hash: "b".repeat(64),
        nonce: "nonce".into(),
        pkce_verifier: "verifier".into(),
        redirect_uri: "http://uma.example/api/auth/oidc/test/callback".into(),
        next_path: Some("/docs".into()),
        created_at: now,
        expires_at: now + 600_000,
    };
    store.insert_oidc_login(&login).await.unwrap();
    let old = PendingLogin {
        state_hash: "c".repeat(64),
        expires_at: now - 1,
        ..login.clone()
    };
    store.insert_oidc_login(&old).await.unwrap();
    // Once, unexpired.
    assert_eq!(
        store.take_oidc_login(&login.state_hash, now).await.unwrap(),
        Some(login.clone())
    );
    assert_eq!(
        store.take_oidc_login(&login.state_hash, now).await.unwrap(),
        None
    );
    assert_eq!(
        store.take_oidc_login(&old.state_hash, now).await.unwrap(),
        None
    );
    // Two callbacks at once: one of them has it.
    store.insert_oidc_login(&login).await.unwrap();
    let (a, b) = tokio::join!(
        store.take_oidc_login(&login.state_hash, now),
        store.take_oidc_login(&login.state_hash, now)
    );
    assert_eq!(
        [a.unwrap(), b.unwrap()]
            .iter()
            .filter(|t| t.is_some())
            .count(),
        1
    );

    // A person is bound once; the binding and the session's ID token go with the user.
    let user = store.create_user("Alice", None).await.unwrap();
    let binding = OidcIdentity {
        provider: "test".into(),
        subject: "sub-1".into(),
        user_id: user.id.clone(),
        username: user.username.clone(),
        created_at: now,
    };
    store.bind_oidc_identity(&binding).await.unwrap();
    assert!(matches!(
        store.bind_oidc_identity(&binding).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.oidc_identity("test", "sub-1").await.unwrap(),
        Some(binding.clone())
    );
    assert_eq!(store.oidc_identity("second", "sub-1").await.unwrap(), None);
    assert!(store.oidc_bound_any_case("alice").await.unwrap());
    assert!(!store.oidc_bound_any_case("bob").await.unwrap());
    let session = uma::store::auth::SessionRecord {
        id: "session-of-alice".into(),
        user_id: Some(user.id.clone()),
        username: user.username.clone(),
        display_name: None,
        groups_json: "[]".into(),
        is_admin: false,
        auth_source: "oidc".into(),
        csrf_token: "csrf".into(),
        ip_address: None,
        user_agent: None,
        created_at: now,
        last_seen_at: now,
        expires_at: now + 3_600_000,
        revoked_at: None,
        factor_at: None,
    };
    store.insert_session(&session).await.unwrap();
    store
        .insert_oidc_session(&session.id, "test", "header.payload.signature")
        .await
        .unwrap();
    assert_eq!(
        store.oidc_session(&session.id).await.unwrap(),
        Some(("test".into(), "header.payload.signature".into()))
    );
    store.delete_user(&user.id).await.unwrap();
    assert_eq!(store.oidc_identity("test", "sub-1").await.unwrap(), None);
    assert_eq!(store.oidc_session(&session.id).await.unwrap(), None);
    app.stop().await.unwrap();
}
