//! Passkeys on SQLite and MariaDB, with the tests' own software authenticator: setting one up
//! (recovery codes with the first factor), using one as the second factor of a password sign-in,
//! signing in with one alone, confirming a sensitive action with one, renaming and removing, the
//! policy's enrolment at sign-in done with a passkey, and what a hostile tenant or a broken
//! authenticator tries: another person's ceremony, a replayed answer, a counter that went back,
//! no user verification, another origin, a passkey id taken by someone else, a user handle that
//! is not the passkey's, an unknown passkey, a disabled account. Passkeys need a name, not an IP
//! address: the browsers here reach the server as `localhost`.

use serde_json::{json, Value};

use crate::support::admin::{audit_rows, Env};
use crate::support::browser::Browser;
use crate::support::calls::{delete, get, post, put};
use crate::support::passkey::Authenticator;

fn local_base(env: &Env) -> String {
    env.app.url("").replace("127.0.0.1", "localhost")
}

/// A browser at `localhost` signed in with a password (no second factor due).
async fn login(env: &Env, name: &str) -> (Browser, String) {
    let b = Browser::new(&local_base(env));
    let pw = if name == "admin" {
        crate::support::admin::ADMIN_PW.to_owned()
    } else {
        format!("{name}-pass-123")
    };
    let r = b.login(name, &pw).await;
    let csrf = r["csrfToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{r}"))
        .to_owned();
    (b, csrf)
}

/// The password step of a sign-in at `localhost`: the browser, its CSRF token and the answer.
async fn password_step(env: &Env, name: &str) -> (Browser, String, Value) {
    let b = Browser::new(&local_base(env));
    let csrf = b.csrf().await;
    let (s, r) = post(
        &b,
        &csrf,
        "/api/login",
        json!({ "username": name, "password": format!("{name}-pass-123") }),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    (b, csrf, r)
}

/// Sets up a passkey on `auth` for a browser (signed in, or sent to set one up); the answer.
async fn register(b: &Browser, csrf: &str, auth: &mut Authenticator, name: &str) -> (u16, Value) {
    let (s, start) = post(
        b,
        csrf,
        "/api/auth/passkeys/register",
        json!({ "name": name }),
    )
    .await;
    if s != 200 {
        return (s, start);
    }
    let credential = auth.create(&start["options"]);
    post(
        b,
        csrf,
        "/api/auth/passkeys",
        json!({ "ceremonyId": start["ceremonyId"], "name": name, "credential": credential }),
    )
    .await
}

/// Starts a passkey sign-in: the ceremony id and options.
async fn sign_in_options(b: &Browser, csrf: &str) -> (String, Value) {
    let (s, r) = post(b, csrf, "/api/login/passkey/options", json!({})).await;
    assert_eq!(s, 200, "{r}");
    (
        r["ceremonyId"].as_str().unwrap().to_owned(),
        r["options"].clone(),
    )
}

/// A passkey sign-in from start to end, with the answer `answer` makes to the options.
async fn passkey_sign_in(
    b: &Browser,
    csrf: &str,
    answer: impl FnOnce(&Value) -> Value,
) -> (u16, Value) {
    let (id, options) = sign_in_options(b, csrf).await;
    let credential = answer(&options);
    post(
        b,
        csrf,
        "/api/login/passkey",
        json!({ "ceremonyId": id, "credential": credential }),
    )
    .await
}

async fn signed_in_as(b: &Browser) -> Option<String> {
    let (_, r) = get(b, "/api/auth").await;
    (r["isLoggedIn"] == true).then(|| {
        r["user"]["username"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    })
}

async fn passkeys_flow(env: &Env) {
    // At an IP address there are no passkeys, and the answer says why.
    let (at_ip, ip_csrf) = env.login("alice").await;
    let (s, f) = get(&at_ip, "/api/auth/factors").await;
    assert_eq!((s, &f["passkeysAvailable"]), (200, &json!(false)), "{f}");
    let (s, r) = post(&at_ip, &ip_csrf, "/api/auth/passkeys/register", json!({})).await;
    assert_eq!(s, 409, "{r}");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("APP_ORIGIN"),
        "{r}"
    );

    let (alice, csrf) = login(env, "alice").await;
    let (_, f) = get(&alice, "/api/auth/factors").await;
    assert_eq!(
        (&f["passkeysAvailable"], &f["passkeys"]),
        (&json!(true), &json!([])),
        "{f}"
    );
    let origin = local_base(env);
    let mut laptop = Authenticator::new(&origin);
    let mut phone = Authenticator::new(&origin);

    // Names are checked before anything starts.
    let (s, r) = post(
        &alice,
        &csrf,
        "/api/auth/passkeys/register",
        json!({ "name": "x".repeat(65) }),
    )
    .await;
    assert_eq!(
        (s, r["error"]["field"].as_str()),
        (400, Some("name")),
        "{r}"
    );

    // The first passkey: asked to be discoverable, excluded from nothing; ten recovery codes.
    let (s, start) = post(
        &alice,
        &csrf,
        "/api/auth/passkeys/register",
        json!({ "name": "Laptop" }),
    )
    .await;
    assert_eq!(s, 200, "{start}");
    assert_eq!(
        start["options"]["publicKey"]["authenticatorSelection"]["residentKey"],
        "preferred"
    );
    assert_eq!(
        start["options"]["publicKey"]["authenticatorSelection"]["userVerification"],
        "required"
    );
    let answer = laptop.create(&start["options"]);
    // Bob can't finish Alice's ceremony (it is bound to her), and that spends nothing of hers.
    let (bob, bcsrf) = login(env, "bob").await;
    let body = json!({ "ceremonyId": start["ceremonyId"], "name": "Laptop", "credential": answer });
    let (s, r) = post(&bob, &bcsrf, "/api/auth/passkeys", body.clone()).await;
    assert_eq!(s, 409, "{r}");
    let (s, _) = get(&bob, "/api/auth/factors").await;
    assert_eq!(s, 200);
    // Taking it for Bob burnt it (used once, whoever tried): Alice starts again.
    let (s, _) = post(&alice, &csrf, "/api/auth/passkeys", body).await;
    assert_eq!(s, 409, "a ceremony is used once");
    laptop.creds.clear();
    let (s, r) = register(&alice, &csrf, &mut laptop, "Laptop").await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["passkey"]["name"], "Laptop");
    let recovery: Vec<String> = serde_json::from_value(r["recoveryCodes"].clone()).unwrap();
    assert_eq!(recovery.len(), 10);
    let laptop_id = r["passkey"]["id"].as_str().unwrap().to_owned();

    // A second one (her factor is recent: she just gave one): no new recovery codes; the laptop's
    // passkey is excluded from being made again.
    let (s, start) = post(&alice, &csrf, "/api/auth/passkeys/register", json!({})).await;
    assert_eq!(s, 200);
    assert_eq!(
        start["options"]["publicKey"]["excludeCredentials"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let credential = phone.create(&start["options"]);
    let (s, r) = post(
        &alice,
        &csrf,
        "/api/auth/passkeys",
        json!({ "ceremonyId": start["ceremonyId"], "name": "", "credential": credential }),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(
        (&r["passkey"]["name"], r.get("recoveryCodes")),
        (&json!("Passkey"), None)
    );
    let phone_id = r["passkey"]["id"].as_str().unwrap().to_owned();
    let (s, r) = crate::support::calls::json_of(
        alice
            .send(
                reqwest::Method::PATCH,
                &format!("/api/auth/passkeys/{phone_id}"),
                Some(&csrf),
                Some(json!({ "name": "Phone" })),
            )
            .await,
    )
    .await;
    assert_eq!((s, &r["name"]), (200, &json!("Phone")), "{r}");
    let (_, f) = get(&alice, "/api/auth/factors").await;
    assert_eq!(f["methods"], json!(["webauthn", "recovery"]));
    let names: Vec<&str> = f["passkeys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Laptop", "Phone"]);

    // Bob can neither rename nor remove Alice's passkeys, nor start a use of them.
    let (s, _) = crate::support::calls::json_of(
        bob.send(
            reqwest::Method::PATCH,
            &format!("/api/auth/passkeys/{phone_id}"),
            Some(&bcsrf),
            Some(json!({ "name": "mine" })),
        )
        .await,
    )
    .await;
    assert_eq!(s, 404);
    let (s, _) = delete(
        &bob,
        &bcsrf,
        &format!("/api/auth/passkeys/{phone_id}"),
        None,
    )
    .await;
    assert_eq!(s, 404);
    let (s, _) = post(&bob, &bcsrf, "/api/auth/passkeys/challenge", json!({})).await;
    assert_eq!(s, 404, "Bob has no passkey; Alice's aren't offered to him");

    // Bob can't take the id of Alice's passkey for one of his own.
    let mut bobs = Authenticator::new(&origin);
    bobs.next_id = Some(laptop.creds[0].id.clone());
    let (s, r) = register(&bob, &bcsrf, &mut bobs, "Stolen id").await;
    assert_eq!(s, 409, "{r}");

    // A password sign-in now asks for the second factor; a passkey gives it.
    let (b, c, r) = password_step(env, "alice").await;
    assert_eq!(
        (&r["mfaRequired"], &r["methods"]),
        (&json!(true), &json!(["webauthn", "recovery"])),
        "{r}"
    );
    let (s, ch) = post(&b, &c, "/api/auth/passkeys/challenge", json!({})).await;
    assert_eq!(s, 200, "{ch}");
    assert_eq!(
        ch["options"]["publicKey"]["allowCredentials"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let answer = phone.get(&ch["options"]);
    // Without the ceremony, or with Bob's session instead of the waiting sign-in, nothing opens.
    let (s, r) = post(
        &b,
        &c,
        "/api/login/mfa",
        json!({ "method": "webauthn", "credential": answer }),
    )
    .await;
    assert_eq!(
        (s, r["error"]["field"].as_str()),
        (400, Some("ceremonyId")),
        "{r}"
    );
    let (s, r) = post(
        &b,
        &c,
        "/api/login/mfa",
        json!({ "method": "webauthn", "ceremonyId": ch["ceremonyId"], "credential": answer }),
    )
    .await;
    assert_eq!((s, &r["success"]), (200, &json!(true)), "{r}");
    assert_eq!(signed_in_as(&b).await.as_deref(), Some("alice"));

    // A copy of the phone's passkey answers a ceremony it started before the phone's last use,
    // with the counter that use already reached: refused (the stored counter decides, not the
    // one seen when the ceremony started).
    let mut phone_copy = Authenticator::new(&origin);
    phone_copy.creds = phone.creds.clone();
    let (b1, c1, _) = password_step(env, "alice").await;
    let (_, early) = post(&b1, &c1, "/api/auth/passkeys/challenge", json!({})).await;
    let (b2, c2, _) = password_step(env, "alice").await;
    let (_, late) = post(&b2, &c2, "/api/auth/passkeys/challenge", json!({})).await;
    let answer = phone.get(&late["options"]);
    let (s, _) = post(
        &b2,
        &c2,
        "/api/login/mfa",
        json!({ "method": "webauthn", "ceremonyId": late["ceremonyId"], "credential": answer }),
    )
    .await;
    assert_eq!(s, 200);
    let answer = phone_copy.get(&early["options"]);
    let (s, r) = post(
        &b1,
        &c1,
        "/api/login/mfa",
        json!({ "method": "webauthn", "ceremonyId": early["ceremonyId"], "credential": answer }),
    )
    .await;
    assert_eq!(
        (s, r["error"]["field"].as_str()),
        (400, Some("credential")),
        "{r}"
    );
    assert_eq!(signed_in_as(&b1).await, None);

    // Signing in with a passkey alone.
    let anon = Browser::new(&origin);
    let ac = anon.csrf().await;
    let (id, options) = sign_in_options(&anon, &ac).await;
    assert!(
        options["publicKey"]
            .get("allowCredentials")
            .is_none_or(|a| a.as_array().is_some_and(Vec::is_empty)),
        "{options}"
    );
    assert!(
        options.get("mediation").is_none_or(Value::is_null),
        "a button's prompt: {options}"
    );
    let answer = laptop.get(&options);
    let body = json!({ "ceremonyId": id, "credential": answer });
    let (s, r) = post(&anon, &ac, "/api/login/passkey", body.clone()).await;
    assert_eq!((s, &r["user"]["username"]), (200, &json!("alice")), "{r}");
    assert_eq!(signed_in_as(&anon).await.as_deref(), Some("alice"));
    // The same answer again: the ceremony is spent.
    let other = Browser::new(&origin);
    let oc = other.csrf().await;
    let (s, _) = post(&other, &oc, "/api/login/passkey", body).await;
    assert_eq!(s, 409);
    assert_eq!(signed_in_as(&other).await, None);
    // An old answer to a new ceremony (its challenge is another).
    let (id, _) = sign_in_options(&other, &oc).await;
    let (s, r) = post(
        &other,
        &oc,
        "/api/login/passkey",
        json!({ "ceremonyId": id, "credential": answer }),
    )
    .await;
    assert_eq!(
        (s, r["error"]["field"].as_str()),
        (400, Some("credential")),
        "{r}"
    );
    // A copy of the laptop's passkey whose counter went back (a cloned authenticator).
    let mut clone = Authenticator::new(&origin);
    clone.creds = laptop.creds.clone();
    clone.creds[0].counter = 0;
    let (s, _) = passkey_sign_in(&other, &oc, |o| clone.get(o)).await;
    assert_eq!(s, 400, "a counter that went back is refused");
    // No user verification (a touch but no PIN): not two factors, refused.
    laptop.verify_user = false;
    let (s, _) = passkey_sign_in(&other, &oc, |o| laptop.get(o)).await;
    assert_eq!(s, 400);
    laptop.verify_user = true;
    // An answer made for another site.
    let mut phishing = Authenticator::new(&origin.replace("localhost", "uma.localhost"));
    phishing.rp_id = "localhost".into();
    phishing.creds = laptop.creds.clone();
    let (s, _) = passkey_sign_in(&other, &oc, |o| phishing.get(o)).await;
    assert_eq!(s, 400, "another origin is refused");
    // Bob's first passkey long after he signed in needs his password (a stolen session must not
    // turn into a way in of its own).
    env.exec("UPDATE sessions SET created_at = 1 WHERE username = 'bob'")
        .await;
    let (s, r) = post(
        &bob,
        &bcsrf,
        "/api/auth/passkeys/register",
        json!({ "name": "Bob's" }),
    )
    .await;
    assert_eq!(
        (s, r["error"]["field"].as_str()),
        (400, Some("password")),
        "{r}"
    );
    let (s, r) = post(
        &bob,
        &bcsrf,
        "/api/auth/passkeys/register",
        json!({ "name": "Bob's", "password": "wrong" }),
    )
    .await;
    assert_eq!(
        (s, r["error"]["field"].as_str()),
        (400, Some("password")),
        "{r}"
    );
    let (s, start) = post(
        &bob,
        &bcsrf,
        "/api/auth/passkeys/register",
        json!({ "name": "Bob's", "password": "bob-pass-123" }),
    )
    .await;
    assert_eq!(s, 200, "{start}");
    let credential = bobs.create(&start["options"]);
    let (s, r) = post(
        &bob,
        &bcsrf,
        "/api/auth/passkeys",
        json!({ "ceremonyId": start["ceremonyId"], "name": "Bob's", "credential": credential }),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    // Bob's passkey presented with Alice's user handle.
    let (id, options) = sign_in_options(&other, &oc).await;
    let mut answer = bobs.get_with(&options, bobs.creds.len() - 1);
    answer["response"]["userHandle"] = json!(base64_url(&laptop.creds[0].user_handle));
    let (s, _) = post(
        &other,
        &oc,
        "/api/login/passkey",
        json!({ "ceremonyId": id, "credential": answer }),
    )
    .await;
    assert_eq!(s, 400, "the user handle must be the passkey's owner's");
    // A passkey Uma doesn't know.
    let mut stranger = Authenticator::new(&origin);
    let (_, start) = post(&bob, &bcsrf, "/api/auth/passkeys/register", json!({})).await;
    stranger.create(&start["options"]);
    let (s, r) = passkey_sign_in(&other, &oc, |o| stranger.get(o)).await;
    assert_eq!(s, 401, "{r}");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("doesn't know"),
        "{r}"
    );
    // Garbage instead of an answer.
    let (id, _) = sign_in_options(&other, &oc).await;
    let (s, r) = post(
        &other,
        &oc,
        "/api/login/passkey",
        json!({ "ceremonyId": id, "credential": { "id": 1 } }),
    )
    .await;
    assert_eq!(
        (s, r["error"]["field"].as_str()),
        (400, Some("credential")),
        "{r}"
    );
    assert_eq!(signed_in_as(&other).await, None);

    // A disabled account's passkey opens nothing.
    let (admin, acsrf) = login(env, "admin").await;
    let (s, _) = post(&admin, &acsrf, "/api/admin/users/alice/disable", json!({})).await;
    assert_eq!(s, 200);
    let (s, r) = passkey_sign_in(&other, &oc, |o| laptop.get(o)).await;
    assert_eq!(s, 403, "{r}");
    let (s, _) = post(&admin, &acsrf, "/api/admin/users/alice/enable", json!({})).await;
    assert_eq!(s, 200);

    // Step-up with a passkey: once the last factor is old, removing one asks again.
    let alice = Browser::new(&origin);
    let csrf = alice.csrf().await;
    let (s, r) = passkey_sign_in(&alice, &csrf, |o| laptop.get(o)).await;
    assert_eq!(s, 200, "{r}");
    let csrf = r["csrfToken"].as_str().unwrap().to_owned();
    env.exec("UPDATE sessions SET factor_at = 1 WHERE username = 'alice'")
        .await;
    let (s, r) = delete(
        &alice,
        &csrf,
        &format!("/api/auth/passkeys/{phone_id}"),
        None,
    )
    .await;
    assert_eq!(
        (s, &r["error"]["code"]),
        (403, &json!("step_up_required")),
        "{r}"
    );
    let (s, r) = post(&alice, &csrf, "/api/auth/passkeys/register", json!({})).await;
    assert_eq!(
        (s, &r["error"]["code"]),
        (403, &json!("step_up_required")),
        "adding one asks too: {r}"
    );
    let (_, ch) = post(&alice, &csrf, "/api/auth/passkeys/challenge", json!({})).await;
    let answer = laptop.get(&ch["options"]);
    let (s, r) = post(
        &alice,
        &csrf,
        "/api/auth/step-up",
        json!({ "method": "webauthn", "ceremonyId": ch["ceremonyId"], "credential": answer }),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    let (s, _) = delete(
        &alice,
        &csrf,
        &format!("/api/auth/passkeys/{phone_id}"),
        None,
    )
    .await;
    assert_eq!(s, 200);
    let (s, _) = delete(
        &alice,
        &csrf,
        &format!("/api/auth/passkeys/{phone_id}"),
        None,
    )
    .await;
    assert_eq!(s, 404);

    // Removing the last one takes the recovery codes with it.
    let (s, _) = delete(
        &alice,
        &csrf,
        &format!("/api/auth/passkeys/{laptop_id}"),
        None,
    )
    .await;
    assert_eq!(s, 200);
    let (_, f) = get(&alice, "/api/auth/factors").await;
    assert_eq!(
        (&f["methods"], &f["recoveryCodesLeft"]),
        (&json!([]), &json!(0)),
        "{f}"
    );

    // An administrator removes all of someone's second factors.
    let (s, _) = delete(&admin, &acsrf, "/api/admin/users/bob/factors", None).await;
    assert_eq!(s, 200);
    let (_, f) = get(&bob, "/api/auth/factors").await;
    assert_eq!(f["passkeys"], json!([]));
    let (s, _) = delete(&admin, &acsrf, "/api/admin/users/bob/factors", None).await;
    assert_eq!(s, 404);

    env.app.flush_audit().await;
    let enrolled = audit_rows(env, "MFA_ENROLL").await;
    assert!(
        enrolled.iter().any(|r| r.details.contains("webauthn")),
        "{enrolled:?}"
    );
    assert!(!audit_rows(env, "LOGIN_PASSKEY").await.is_empty());
    assert!(audit_rows(env, "MFA_FAILED").await.len() >= 5);
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The policy asks everyone for a second factor: a person without one sets up a passkey at
/// sign-in, which completes it.
async fn policy_flow(env: &Env) {
    let (admin, acsrf) = login(env, "admin").await;
    let (s, _) = put(
        &admin,
        &acsrf,
        "/api/settings/mfa",
        json!({ "require": "everyone" }),
    )
    .await;
    assert_eq!(s, 200);
    let (b, c, r) = password_step(env, "carol").await;
    assert_eq!(
        (&r["enrolRequired"], &r["methods"]),
        (&json!(true), &json!([])),
        "{r}"
    );
    let (s, _) = post(&b, &c, "/api/auth/passkeys/challenge", json!({})).await;
    assert_eq!(s, 409, "nothing to use yet");
    let mut key = Authenticator::new(&local_base(env));
    let (s, r) = register(&b, &c, &mut key, "Carol's key").await;
    assert_eq!((s, &r["success"]), (200, &json!(true)), "{r}");
    assert_eq!(r["recoveryCodes"].as_array().map(Vec::len), Some(10));
    assert_eq!(signed_in_as(&b).await.as_deref(), Some("carol"));
    // A local account made later under Carol's name in another case is another account: her
    // passkey does not open it.
    env.exec("DELETE FROM local_accounts WHERE user_id = (SELECT id FROM users WHERE username = 'carol')").await;
    let store = env.app.store().await;
    uma::bootstrap::set_local_password(&store, "Carol", "other-carol-123", false)
        .await
        .unwrap();
    store.close().await;
    let stranger = Browser::new(&local_base(env));
    let sc = stranger.csrf().await;
    let (s, r) = passkey_sign_in(&stranger, &sc, |o| key.get(o)).await;
    assert_eq!(s, 403, "{r}");
    assert_eq!(signed_in_as(&stranger).await, None);

    // The waiting sign-in is over: its cookie is cleared and its challenge gone.
    assert!(b.cookie("uma_sign_in").unwrap_or_default().is_empty());
    let late = Browser::new(&local_base(env));
    let lc = late.csrf().await;
    let (s, _) = post(&late, &lc, "/api/auth/passkeys/challenge", json!({})).await;
    assert_eq!(s, 401, "no session, no waiting sign-in");
}

#[tokio::test]
async fn passkeys_on_sqlite() {
    let env = Env::start(false).await;
    passkeys_flow(&env).await;
    policy_flow(&env).await;
    env.done().await;
}

#[tokio::test]
async fn passkeys_on_mariadb() {
    let env = Env::start(true).await;
    passkeys_flow(&env).await;
    policy_flow(&env).await;
    env.done().await;
}
