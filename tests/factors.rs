//! Second factors on SQLite and MariaDB, with codes computed by the tests' own TOTP: setting up
//! an authenticator app, signing in with it (no session before the code, a code works once, a
//! step either side), recovery codes, failed codes counting toward the sign-in limits, expired
//! sign-ins, the administrators' policy walking someone through setup at sign-in, step-up on a
//! sensitive action, removal by the owner and by an administrator, and the audit rows.

use serde_json::{json, Value};

use crate::support::admin::{audit_rows, Env};
use crate::support::browser::Browser;
use crate::support::calls::{delete, get, post, put};
use crate::support::totp::{code, now};

/// Signs in with a password only: the answer and the browser (no session yet when a second
/// factor is due).
async fn password_step(env: &Env, name: &str) -> (Browser, String, u16, Value) {
    let b = Browser::new(&env.app.url(""));
    let csrf = b.csrf().await;
    let pw = if name == "admin" {
        crate::support::admin::ADMIN_PW.to_owned()
    } else {
        format!("{name}-pass-123")
    };
    let (s, r) = post(
        &b,
        &csrf,
        "/api/login",
        json!({ "username": name, "password": pw }),
    )
    .await;
    (b, csrf, s, r)
}

async fn signed_in(b: &Browser) -> bool {
    get(b, "/api/auth").await.1["isLoggedIn"] == true
}

/// Sets up an app for a signed-in browser; its secret, the Unix time of the code that confirmed
/// it, and the recovery codes.
async fn enrol(b: &Browser, csrf: &str) -> (String, i64, Vec<String>) {
    let (s, start) = post(b, csrf, "/api/auth/totp", json!({})).await;
    assert_eq!(s, 200, "{start}");
    let secret = start["secret"].as_str().unwrap().to_owned();
    let t0 = now();
    let (s, r) = post(
        b,
        csrf,
        "/api/auth/totp/confirm",
        json!({ "code": code(&secret, t0, 0) }),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    let codes: Vec<String> = r["recoveryCodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    (secret, t0, codes)
}

async fn factors_flow(env: &Env) {
    let (alice, csrf) = env.login("alice").await;
    let (s, f) = get(&alice, "/api/auth/factors").await;
    assert_eq!(
        (s, &f["totp"], &f["methods"]),
        (200, &json!(false), &json!([]))
    );

    // Setting up: the address an app reads, a wrong first code named, then ten recovery codes.
    let (s, start) = post(&alice, &csrf, "/api/auth/totp", json!({})).await;
    assert_eq!(s, 200, "{start}");
    let secret = start["secret"].as_str().unwrap().to_owned();
    let uri = start["otpauthUri"].as_str().unwrap();
    assert!(
        uri.starts_with("otpauth://totp/Uma%3Aalice?") && uri.contains(&format!("secret={secret}")),
        "{uri}"
    );
    let (s, r) = post(
        &alice,
        &csrf,
        "/api/auth/totp/confirm",
        json!({ "code": code(&secret, now(), 5) }),
    )
    .await;
    assert_eq!(
        (s, r["error"]["field"].as_str()),
        (400, Some("code")),
        "{r}"
    );
    let t0 = now();
    let (s, r) = post(
        &alice,
        &csrf,
        "/api/auth/totp/confirm",
        json!({ "code": code(&secret, t0, 0) }),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    let recovery: Vec<String> = serde_json::from_value(r["recoveryCodes"].clone()).unwrap();
    assert_eq!(recovery.len(), 10);
    let (_, f) = get(&alice, "/api/auth/factors").await;
    assert_eq!(
        (&f["totp"], &f["recoveryCodesLeft"], &f["methods"]),
        (&json!(true), &json!(10), &json!(["totp", "recovery"]))
    );
    let (s, _) = post(&alice, &csrf, "/api/auth/totp", json!({})).await;
    assert_eq!(s, 409, "a second app needs the first removed");

    // Signing in now asks for a code, and the password alone opens nothing.
    let (b, c, s, r) = password_step(env, "alice").await;
    assert_eq!(
        (s, &r["success"], &r["mfaRequired"], &r["methods"]),
        (
            200,
            &json!(false),
            &json!(true),
            &json!(["totp", "recovery"])
        ),
        "{r}"
    );
    assert!(b.cookie("uma_session").is_none());
    assert!(!signed_in(&b).await);
    assert_eq!(b.get("/api/proxmox/resources").await.status(), 401);
    // A wrong code, and the code spent at setup, are refused and counted (with the wrong one
    // during setup: four failures were left, now three).
    let (s, r) = post(
        &b,
        &c,
        "/api/login/mfa",
        json!({ "method": "totp", "code": code(&secret, t0, 5) }),
    )
    .await;
    assert_eq!((s, &r["remainingAttempts"]), (400, &json!(3)), "{r}");
    let (s, r) = post(
        &b,
        &c,
        "/api/login/mfa",
        json!({ "code": code(&secret, t0, 0) }),
    )
    .await;
    assert_eq!(s, 400, "a code works once: {r}");
    // The next step's code (a phone a little ahead) signs in.
    let (s, r) = post(
        &b,
        &c,
        "/api/login/mfa",
        json!({ "code": code(&secret, t0, 1) }),
    )
    .await;
    assert_eq!((s, &r["success"]), (200, &json!(true)), "{r}");
    assert!(signed_in(&b).await);
    // …and only once, whoever sends it.
    let (b2, c2, _, _) = password_step(env, "alice").await;
    let (s, _) = post(
        &b2,
        &c2,
        "/api/login/mfa",
        json!({ "code": code(&secret, t0, 1) }),
    )
    .await;
    assert_eq!(s, 400);

    // A recovery code, typed any way, works once.
    let typed = recovery[0].to_uppercase().replace('-', " ");
    let (s, r) = post(
        &b2,
        &c2,
        "/api/login/mfa",
        json!({ "method": "recovery", "code": typed }),
    )
    .await;
    assert_eq!((s, &r["recoveryCodesLeft"]), (200, &json!(9)), "{r}");
    let (b3, c3, _, _) = password_step(env, "alice").await;
    let (s, _) = post(
        &b3,
        &c3,
        "/api/login/mfa",
        json!({ "method": "recovery", "code": recovery[0] }),
    )
    .await;
    assert_eq!(s, 400);
    let (s, r) = post(
        &b3,
        &c3,
        "/api/login/mfa",
        json!({ "method": "sms", "code": "1" }),
    )
    .await;
    assert_eq!((s, r["error"]["field"].as_str()), (400, Some("method")));
    // A sign-in left waiting expires.
    env.exec("UPDATE sign_in_challenges SET expires_at = 1")
        .await;
    let (s, r) = post(
        &b3,
        &c3,
        "/api/login/mfa",
        json!({ "method": "recovery", "code": recovery[1] }),
    )
    .await;
    assert_eq!(s, 401, "{r}");
    assert!(!signed_in(&b3).await);

    // Wrong codes count toward the sign-in limits like wrong passwords.
    let (bob, bcsrf) = env.login("bob").await;
    let (bsecret, bt0, _) = enrol(&bob, &bcsrf).await;
    let (bb, bc, _, _) = password_step(env, "bob").await;
    for left in (0..5).rev() {
        let (s, r) = post(
            &bb,
            &bc,
            "/api/login/mfa",
            json!({ "code": code(&bsecret, bt0, 7) }),
        )
        .await;
        assert_eq!((s, &r["remainingAttempts"]), (400, &json!(left)), "{r}");
    }
    let (s, _) = post(
        &bb,
        &bc,
        "/api/login/mfa",
        json!({ "code": code(&bsecret, bt0, 1) }),
    )
    .await;
    assert_eq!(s, 429, "blocked even with the right code");
    let (_, _, s, _) = password_step(env, "bob").await;
    assert_eq!(s, 429, "and the password too");

    // Removing one's app wants a current code (a recovery code will do).
    let (s, _) = delete(
        &alice,
        &csrf,
        "/api/auth/totp",
        Some(json!({ "code": "12" })),
    )
    .await;
    assert_eq!(s, 400);
    let (s, r) = delete(
        &alice,
        &csrf,
        "/api/auth/totp",
        Some(json!({ "method": "recovery", "code": recovery[2] })),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    let (_, f) = get(&alice, "/api/auth/factors").await;
    assert_eq!(
        (&f["totp"], &f["recoveryCodesLeft"]),
        (&json!(false), &json!(0))
    );
    let (_, _, s, r) = password_step(env, "alice").await;
    assert_eq!(
        (s, &r["success"]),
        (200, &json!(true)),
        "no code asked any more: {r}"
    );

    // Renewing recovery codes: new ones work, old ones don't.
    let (carol, ccsrf) = env.login("carol").await;
    let (_, _, old) = enrol(&carol, &ccsrf).await;
    let (s, r) = post(
        &carol,
        &ccsrf,
        "/api/auth/recovery-codes",
        json!({ "method": "recovery", "code": old[0] }),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    let fresh: Vec<String> = serde_json::from_value(r["recoveryCodes"].clone()).unwrap();
    let (cb, cc, _, _) = password_step(env, "carol").await;
    let (s, _) = post(
        &cb,
        &cc,
        "/api/login/mfa",
        json!({ "method": "recovery", "code": old[1] }),
    )
    .await;
    assert_eq!(s, 400);
    let (s, _) = post(
        &cb,
        &cc,
        "/api/login/mfa",
        json!({ "method": "recovery", "code": fresh[0] }),
    )
    .await;
    assert_eq!(s, 200);

    // A sign-in waiting for its code ends when the account is disabled meanwhile.
    let (admin, acsrf) = env.login("admin").await;
    let (cb, cc, _, _) = password_step(env, "carol").await;
    let (s, _) = post(&admin, &acsrf, "/api/admin/users/carol/disable", json!({})).await;
    assert_eq!(s, 200);
    let (s, _) = post(
        &cb,
        &cc,
        "/api/login/mfa",
        json!({ "method": "recovery", "code": fresh[1] }),
    )
    .await;
    assert_eq!(s, 401, "the waiting sign-in was dropped");
    assert!(!signed_in(&cb).await);
    let (s, _) = post(&admin, &acsrf, "/api/admin/users/carol/enable", json!({})).await;
    assert_eq!(s, 200);

    // An administrator removes someone's factors (they lost both); not for others.
    let (s, _) = delete(&alice, &csrf, "/api/admin/users/carol/factors", None).await;
    assert_eq!(s, 403);
    let has_app = |list: &Value, name: &str| {
        list["users"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["username"] == name)
            .map(|u| u["secondFactor"].clone())
    };
    let (_, list) = get(&admin, "/api/admin/users").await;
    assert_eq!(has_app(&list, "carol"), Some(json!(true)), "{list}");
    let (s, _) = delete(&admin, &acsrf, "/api/admin/users/carol/factors", None).await;
    assert_eq!(s, 200);
    let (_, list) = get(&admin, "/api/admin/users").await;
    assert_eq!(has_app(&list, "carol"), Some(json!(false)));
    let (s, _) = delete(&admin, &acsrf, "/api/admin/users/carol/factors", None).await;
    assert_eq!(s, 404);

    let rows = |a: &'static str| async move { audit_rows(env, a).await };
    env.app.flush_audit().await;
    assert_eq!(rows("MFA_ENROLL").await.len(), 3);
    assert!(rows("MFA_FAILED").await.len() >= 9);
    assert!(rows("MFA_VERIFIED").await.len() >= 4);
    assert!(rows("MFA_REQUIRED").await.len() >= 6);
    assert_eq!(rows("MFA_REMOVE").await.len(), 2);
    assert_eq!(rows("RECOVERY_CODES_RENEW").await.len(), 1);
    let failed = rows("MFA_FAILED").await;
    assert!(failed.iter().all(|r| !r.details.contains(&secret)));
}

async fn policy_flow(env: &Env) {
    let (alice, csrf) = env.login("alice").await;
    let (admin, acsrf) = env.login("admin").await;
    let (s, p) = get(&admin, "/api/settings/mfa").await;
    assert_eq!(
        (s, &p["require"], &p["stepUpMinutes"]),
        (200, &json!("none"), &json!(15))
    );
    let (s, _) = put(
        &alice,
        &csrf,
        "/api/settings/mfa",
        json!({ "require": "everyone" }),
    )
    .await;
    assert_eq!(s, 403);
    for bad in [
        json!({ "require": "sometimes" }),
        json!({ "require": "groups", "groups": [" "] }),
        json!({ "require": "everyone", "stepUpMinutes": 0 }),
        json!({ "require": "everyone", "extra": 1 }),
    ] {
        let (s, r) = put(&admin, &acsrf, "/api/settings/mfa", bad.clone()).await;
        assert_eq!(s, 400, "{bad}: {r}");
    }
    let (s, _) = put(
        &admin,
        &acsrf,
        "/api/settings/mfa",
        json!({ "require": "everyone" }),
    )
    .await;
    assert_eq!(s, 200);

    // Someone without a factor is walked through setting one up before the session opens.
    let (b, c, s, r) = password_step(env, "carol").await;
    assert_eq!(
        (s, &r["mfaRequired"], &r["enrolRequired"], &r["methods"]),
        (200, &json!(true), &json!(true), &json!([])),
        "{r}"
    );
    let (s, _) = post(&b, &c, "/api/login/mfa", json!({ "code": "123456" })).await;
    assert_eq!(s, 409, "nothing to give a code from yet");
    assert!(!signed_in(&b).await);
    let (secret, t0, _) = {
        let (s, start) = post(&b, &c, "/api/auth/totp", json!({})).await;
        assert_eq!(s, 200, "{start}");
        let secret = start["secret"].as_str().unwrap().to_owned();
        (secret, now(), ())
    };
    let (s, r) = post(
        &b,
        &c,
        "/api/auth/totp/confirm",
        json!({ "code": code(&secret, t0, 0) }),
    )
    .await;
    assert_eq!((s, &r["success"]), (200, &json!(true)), "{r}");
    assert_eq!(r["recoveryCodes"].as_array().unwrap().len(), 10);
    assert!(signed_in(&b).await);
    // A browser holding only the challenge can't set up an app for someone with one.
    let (b2, c2, _, r) = password_step(env, "carol").await;
    assert_eq!(r["enrolRequired"], false);
    let (s, _) = post(&b2, &c2, "/api/auth/totp", json!({})).await;
    assert_eq!(s, 409);

    // Step-up: an administrator's export wants a recent second factor.
    let (secret, t0, recovery) = enrol(&admin, &acsrf).await;
    let _ = (secret, t0);
    let export = "/api/admin/audit-logs/export?format=jsonl";
    assert_eq!(
        admin.get(export).await.status(),
        200,
        "a factor given just now"
    );
    env.exec("UPDATE sessions SET factor_at = 1 WHERE username = 'admin'")
        .await;
    let resp = admin.get(export).await;
    assert_eq!(resp.status(), 403);
    let (_, r) = crate::support::calls::json_of(resp).await;
    assert_eq!(r["error"]["code"], "step_up_required", "{r}");
    let (s, _) = post(
        &admin,
        &acsrf,
        "/api/auth/step-up",
        json!({ "code": "999999x" }),
    )
    .await;
    assert_eq!(s, 400);
    let (s, r) = post(
        &admin,
        &acsrf,
        "/api/auth/step-up",
        json!({ "method": "recovery", "code": recovery[0] }),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(admin.get(export).await.status(), 200);
    // Someone the policy covers but who has no factor is told to set one up.
    env.exec(
        "DELETE FROM user_totp WHERE user_id = (SELECT id FROM users WHERE username = 'admin')",
    )
    .await;
    let (_, r) = crate::support::calls::json_of(admin.get(export).await).await;
    assert_eq!(r["error"]["code"], "step_up_required");
    assert!(
        r["error"]["message"].as_str().unwrap().contains("Set up"),
        "{r}"
    );

    env.app.flush_audit().await;
    assert_eq!(audit_rows(env, "MFA_POLICY").await.len(), 1);
}

#[tokio::test]
async fn second_factors_on_sqlite() {
    let env = Env::start(false).await;
    factors_flow(&env).await;
    policy_flow(&env).await;
    env.done().await;
}

#[tokio::test]
async fn second_factors_on_mariadb() {
    let env = Env::start(true).await;
    factors_flow(&env).await;
    policy_flow(&env).await;
    env.done().await;
}
