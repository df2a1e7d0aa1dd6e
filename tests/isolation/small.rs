//! Smaller doors a tenant tries: a forged `X-Forwarded-For`, a `next` that leaves the site, a chat
//! event whose audience is empty, oversized or out-of-turn Socket.IO events, an LDAP group of the
//! same name in another OU, a directory name that is a local account's, and mutating routes
//! called in a loop.

use crate::chat::{app_on, Db};
use crate::support::browser::Browser;

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
