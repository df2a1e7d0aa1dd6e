//! The server skeleton: health, readiness, security headers and CSP nonces, error bodies with
//! operation ids, the Engine.IO handshake, restarts that keep data, graceful stop.

use std::collections::HashSet;

use crate::support::{demo_vars, spawn_app, spawn_with, temp_dir, TestApp};

fn header<'a>(resp: &'a reqwest::Response, name: &str) -> &'a str {
    resp.headers()
        .get(name)
        .unwrap_or_else(|| panic!("missing header {name}"))
        .to_str()
        .unwrap()
}

#[tokio::test]
async fn healthz_answers_with_security_headers() {
    let app = spawn_app().await;
    let resp = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "x-frame-options"), "DENY");
    assert_eq!(header(&resp, "x-content-type-options"), "nosniff");
    assert!(!header(&resp, "x-op-id").is_empty());
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn login_page_has_every_header_and_a_fresh_matching_nonce() {
    let app = spawn_app().await;
    let mut nonces = HashSet::new();
    for _ in 0..2 {
        let resp = app.http.get(app.url("/login")).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(header(&resp, "x-frame-options"), "DENY");
        assert_eq!(header(&resp, "x-content-type-options"), "nosniff");
        assert_eq!(
            header(&resp, "referrer-policy"),
            "strict-origin-when-cross-origin"
        );
        assert_eq!(
            header(&resp, "permissions-policy"),
            "camera=(), microphone=(), geolocation=(), browsing-topics=()"
        );
        let csp = header(&resp, "content-security-policy").to_owned();
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(csp.contains("object-src 'none'"), "{csp}");
        let connect = csp
            .split(';')
            .find(|d| d.trim().starts_with("connect-src"))
            .unwrap();
        assert!(
            connect.contains("'self'") && connect.contains("/api/socket/io/"),
            "{connect}"
        );
        assert!(
            !connect.contains(" *"),
            "connect-src must not be open: {connect}"
        );
        let nonce = csp
            .split("'nonce-")
            .nth(1)
            .and_then(|rest| rest.split('\'').next())
            .unwrap()
            .to_owned();
        let html = resp.text().await.unwrap();
        let scripts: Vec<_> = html.match_indices("<script").collect();
        assert!(!scripts.is_empty());
        for (at, _) in scripts {
            let tag = &html[at..at + html[at..].find('>').unwrap()];
            assert!(
                tag.contains(&format!("nonce=\"{nonce}\"")),
                "script without the nonce: {tag}"
            );
        }
        assert!(html.contains("name=\"username\"") && html.contains("name=\"password\""));
        nonces.insert(nonce);
    }
    assert_eq!(nonces.len(), 2, "the nonce must differ between responses");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn hsts_only_over_https() {
    let app = spawn_app().await;
    let resp = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert!(resp.headers().get("strict-transport-security").is_none());
    app.stop().await.unwrap();

    let dir = temp_dir("hsts");
    let mut vars = demo_vars(&dir);
    vars.insert("APP_ORIGIN".into(), "https://uma.example.com".into());
    let app = spawn_with(vars, dir).await;
    let resp = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(
        header(&resp, "strict-transport-security"),
        "max-age=31536000; includeSubDomains"
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn readyz_checks_database_proxmox_and_actors() {
    let app = spawn_app().await;
    let resp = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "ready", "{body}");
    assert_eq!(body["checks"]["database"]["status"], "ok");
    assert_eq!(body["checks"]["database"]["detail"], "sqlite");
    assert_eq!(body["checks"]["proxmox"]["status"], "ok");
    assert!(body["checks"]["proxmox"]["detail"]
        .as_str()
        .unwrap()
        .starts_with("Proxmox VE "));
    assert_eq!(body["checks"]["redis"]["status"], "disabled");
    assert_eq!(body["checks"]["actors"]["status"], "ok");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn readyz_reports_an_unreachable_redis() {
    let app = TestApp::demo("redis-down")
        .var("REDIS_URL", "redis://127.0.0.1:1")
        .start()
        .await;
    let resp = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(resp.status(), 503);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["checks"]["redis"]["status"], "error", "{body}");
    assert_eq!(body["checks"]["database"]["status"], "ok");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn readyz_with_a_real_redis() {
    let url =
        std::env::var("UMA_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let app = TestApp::demo("redis-up")
        .var("REDIS_URL", url.clone())
        .start()
        .await;
    let body: serde_json::Value = app
        .http
        .get(app.url("/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        body["checks"]["redis"]["status"], "ok",
        "Redis is needed for this test and did not answer at {url}: start it (`make services`) or set UMA_TEST_REDIS_URL. {body}"
    );
    app.stop().await.unwrap();
}

#[tokio::test]
async fn api_errors_carry_code_message_and_op_id() {
    let app = spawn_app().await;
    let resp = app
        .http
        .get(app.url("/api/does-not-exist"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let op = header(&resp, "x-op-id").to_owned();
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    assert_eq!(body["error"]["opId"], op.as_str());
    assert!(body["error"]["message"].as_str().unwrap().len() > 3);

    let resp = app.http.get(app.url("/no-such-page")).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    let op = header(&resp, "x-op-id").to_owned();
    let html = resp.text().await.unwrap();
    assert!(html.contains("Page not found"));
    assert!(html.contains(&op), "the error page shows the operation id");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn engine_io_handshake_and_anonymous_socket_refused() {
    let app = spawn_app().await;
    let resp = app
        .http
        .get(app.url("/api/socket/io/?EIO=4&transport=polling"))
        .header("origin", app.url(""))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body = resp.text().await.unwrap();
    assert!(
        body.starts_with('0'),
        "Engine.IO open packet expected, got {body}"
    );
    let open: serde_json::Value = serde_json::from_str(&body[1..]).unwrap();
    let sid = open["sid"].as_str().unwrap().to_owned();
    assert!(open["upgrades"]
        .as_array()
        .unwrap()
        .iter()
        .any(|u| u == "websocket"));

    // Connect to the "/" namespace from our origin without a session: refused with Unauthorized.
    let url = app.url(&format!(
        "/api/socket/io/?EIO=4&transport=polling&sid={sid}"
    ));
    let resp = app.http.post(&url).body("40").send().await.unwrap();
    assert_eq!(resp.status(), 200);
    // A poll may also carry a ping; packets are separated by the record separator.
    let reply = app
        .http
        .get(&url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let refused = reply
        .split('\u{1e}')
        .find(|p| p.starts_with("44"))
        .unwrap_or_else(|| panic!("connect_error expected, got {reply:?}"));
    let err: serde_json::Value = serde_json::from_str(&refused[2..]).unwrap();
    assert_eq!(err["message"], "Unauthorized");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn assets_are_served_with_their_types() {
    let app = spawn_app().await;
    let resp = app
        .http
        .get(app.url("/assets/app.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        200,
        "web/dist is missing: `make web` builds it (make test does)"
    );
    assert!(header(&resp, "content-type").starts_with("text/css"));
    let etag = header(&resp, "etag").to_owned();
    let again = app
        .http
        .get(app.url("/assets/app.css"))
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    let missing = app
        .http
        .get(app.url("/assets/nope.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn data_survives_a_restart() {
    let dir = temp_dir("restart");
    let app = spawn_with(demo_vars(&dir), dir.clone()).await;
    let store =
        uma::store::Store::connect(&uma::config::DatabaseConfig::Sqlite(dir.join("uma.db")))
            .await
            .unwrap();
    let (admin, _) = store
        .local_account("admin")
        .await
        .unwrap()
        .expect("admin created");
    store
        .create_doc(
            "admin",
            &uma::store::docs::DocInput {
                title: "Kept".into(),
                content: "# kept".into(),
                published: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    store.close().await;
    let secret = std::fs::read_to_string(dir.join("cookie-secret")).unwrap();
    app.stop().await.unwrap();

    let vars = demo_vars(&dir);
    let config = uma::config::Config::from_vars(&vars).unwrap();
    let app2 = uma::app::App::build(config).await.unwrap();
    assert_eq!(
        app2.admin_account(),
        &uma::bootstrap::AdminAccount::Existing
    );
    let docs = app2.state().store.list_docs(false).await.unwrap();
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0].title, "Kept");
    let (admin2, _) = app2
        .state()
        .store
        .local_account("admin")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(admin.id, admin2.id);
    assert_eq!(
        std::fs::read_to_string(dir.join("cookie-secret")).unwrap(),
        secret
    );
    assert_eq!(app2.state().cookie_secret.expose(), secret.trim());
}

#[tokio::test]
async fn admin_password_from_the_environment_verifies() {
    let dir = temp_dir("adminpw");
    let mut vars = demo_vars(&dir);
    vars.insert("UMA_ADMIN_PASSWORD".into(), "a-chosen-passphrase".into());
    let config = uma::config::Config::from_vars(&vars).unwrap();
    let app = uma::app::App::build(config).await.unwrap();
    assert_eq!(
        app.admin_account(),
        &uma::bootstrap::AdminAccount::SetFromEnvironment
    );
    let (_, account) = app
        .state()
        .store
        .local_account("admin")
        .await
        .unwrap()
        .unwrap();
    assert!(account.is_admin);
    assert!(uma::auth::password::verify(
        "a-chosen-passphrase",
        &account.password_hash
    ));
    assert!(!uma::auth::password::verify(
        "something-else",
        &account.password_hash
    ));
}
