//! Link previews against HTTP servers started here on loopback, with names answered by the
//! preview resolver's fixed table (`METADATA_RESOLVE`): a "public" site on 127.0.0.2 (reachable
//! through `METADATA_ALLOW_NETWORKS`) and a "private" one on 127.0.0.1 that every trick tries to
//! reach: a public-looking name resolving to it, a redirect to it, the IPv6-mapped, decimal and
//! octal forms of its address. The private server counts its visitors: it must see none. Slow and
//! oversized answers are cut; an allowed page gives its card, and its picture comes through Uma.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::Value;

use crate::support::calls::{field, get as get_json};
use crate::support::{on_both, Db, TestApp};

on_both!(previews_reach_only_public_sites);

const PAGE: &str = r#"<!doctype html><html><head>
<meta charset="utf-8"><title>Fallback title</title>
<meta content="Proxmox VE 9 released" property="og:title">
<meta property="og:description" content="What is new: &lt;faster&gt; backups, SDN fabrics.">
<meta property="og:image" content="/card.png">
<meta property="og:site_name" content="Example News">
</head><body><script>document.title = "<meta property='og:title' content='no'>"</script></body></html>"#;

async fn serve(addr: &str, app: Router) -> u16 {
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    port
}

fn redirect(to: String) -> Response {
    (
        axum::http::StatusCode::FOUND,
        [(axum::http::header::LOCATION, to)],
    )
        .into_response()
}

async fn previews_reach_only_public_sites(db: Db) {
    // The private server: nothing may reach it.
    let visits = Arc::new(AtomicUsize::new(0));
    let seen = visits.clone();
    let private_port = serve(
        "127.0.0.1:0",
        Router::new().fallback(move || {
            let seen = seen.clone();
            async move {
                seen.fetch_add(1, Ordering::SeqCst);
                "<title>internal secrets</title>"
            }
        }),
    )
    .await;
    let png = crate::uploads::png();
    let public =
        Router::new()
            .route(
                "/page",
                get(|| async { ([("content-type", "text/html; charset=utf-8")], PAGE) }),
            )
            .route(
                "/card.png",
                get(move || {
                    let png = png.clone();
                    async move { ([("content-type", "image/png")], png) }
                }),
            )
            .route(
                "/fake.png",
                get(|| async {
                    (
                        [("content-type", "image/png")],
                        "<html><script>alert(1)</script>",
                    )
                }),
            )
            .route("/moved", get(|| async { redirect("/page".to_owned()) }))
            .route(
                "/to-private",
                get(move || async move {
                    redirect(format!("http://internal.test:{private_port}/secret"))
                }),
            )
            .route("/loop", get(|| async { redirect("/loop".to_owned()) }))
            .route("/gone", get(|| async { axum::http::StatusCode::NOT_FOUND }))
            .route(
                "/big",
                get(|| async { ([("content-type", "text/html")], vec![b' '; 2 * 1024 * 1024]) }),
            )
            .route(
                "/big-stream",
                get(|| async {
                    // No length announced: cut while it streams.
                    let chunks = futures::stream::iter(
                        (0..40).map(|_| Ok::<_, std::io::Error>(vec![b'x'; 64 * 1024])),
                    );
                    Response::new(Body::from_stream(chunks))
                }),
            )
            .route(
                "/slow",
                get(|| async {
                    let drip = futures::stream::unfold(0, |n| async move {
                        if n >= 20 {
                            return None;
                        }
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        Some((Ok::<_, std::io::Error>(b"<p>".to_vec()), n + 1))
                    });
                    Response::new(Body::from_stream(drip))
                }),
            );
    let public_port = serve("127.0.0.2:0", public).await;

    let ports = format!("80,443,{public_port},{private_port}");
    let app = TestApp::demo("previews")
        .on(db)
        .vars(&[
            ("METADATA_ALLOWED_PORTS", ports.as_str()),
            ("METADATA_ALLOW_NETWORKS", "127.0.0.2/32"),
            (
                "METADATA_RESOLVE",
                "news.example.test=127.0.0.2,innocent.example.test=127.0.0.1,internal.test=127.0.0.1",
            ),
        ])
        .start()
        .await;
    let (alice, _) = app.session_as("alice", &[], false).await;
    let anon = crate::support::browser::Browser::new(&app.url(""));
    let site = format!("http://news.example.test:{public_port}");
    let q = |url: &str| {
        format!(
            "/api/metadata?url={}",
            url::form_urlencoded::byte_serialize(url.as_bytes()).collect::<String>()
        )
    };

    // Signed-in people only; the URL is required.
    assert_eq!(anon.get(&q(&format!("{site}/page"))).await.status(), 401);
    let (s, body) = get_json(&alice, "/api/metadata").await;
    assert_eq!((s, field(&body)), (400, "url"), "{body}");

    // The allowed page: its card, read by a real parser, and its picture through Uma.
    let (s, card) = get_json(&alice, &q(&format!("{site}/moved"))).await;
    assert_eq!(s, 200, "{card}");
    assert_eq!(card["title"], "Proxmox VE 9 released");
    assert_eq!(
        card["description"],
        "What is new: <faster> backups, SDN fabrics."
    );
    assert_eq!(card["siteName"], "Example News");
    assert_eq!(card["url"], format!("{site}/page"));
    assert_eq!(card["image"], format!("{site}/card.png"));
    let image = card["imageUrl"].as_str().unwrap();
    assert!(image.starts_with("/api/metadata/image?url="), "{image}");
    let resp = alice.get(image).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "image/png");
    assert!(resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("sandbox"));
    assert_eq!(resp.bytes().await.unwrap().as_ref(), crate::uploads::png());
    // Markup served as a picture is not passed on.
    let fake = format!(
        "/api/metadata/image?url={}",
        url::form_urlencoded::byte_serialize(format!("{site}/fake.png").as_bytes())
            .collect::<String>()
    );
    assert_eq!(alice.get(&fake).await.status(), 502);

    // Every way to the private server is refused, with its reason.
    let refusals = [
        (
            format!("http://innocent.example.test:{private_port}/secret"),
            403,
            "host_resolution_blocked",
        ),
        (format!("{site}/to-private"), 403, "host_resolution_blocked"),
        (
            format!("http://[::ffff:127.0.0.1]:{private_port}/secret"),
            403,
            "url_not_allowed",
        ),
        (
            format!("http://2130706433:{private_port}/secret"),
            403,
            "url_not_allowed",
        ),
        (
            format!("http://0177.0.0.1:{private_port}/secret"),
            403,
            "url_not_allowed",
        ),
        (
            format!("http://localhost:{private_port}/secret"),
            403,
            "url_not_allowed",
        ),
        (
            format!("ftp://news.example.test:{public_port}/"),
            403,
            "url_not_allowed",
        ),
        // A port that is not for the web, even on the allowed site.
        (
            "http://news.example.test:22/".to_owned(),
            403,
            "url_not_allowed",
        ),
        (format!("{site}/loop"), 502, "too_many_redirects"),
        (format!("{site}/gone"), 502, "upstream_status"),
        (format!("{site}/big"), 413, "response_too_large"),
        (format!("{site}/big-stream"), 413, "response_too_large"),
        (format!("{site}/slow"), 502, "timeout"),
    ];
    for (url, status, _) in &refusals {
        let (s, body) = get_json(&alice, &q(url)).await;
        assert_eq!(s, *status, "{url}: {body}");
    }
    assert_eq!(
        visits.load(Ordering::SeqCst),
        0,
        "the private server was reached"
    );

    // Each refusal is audited with its reason; the fetch that worked too.
    let rows = app.audit_rows("METADATA_FETCH").await;
    for (url, _, reason) in &refusals {
        assert!(
            rows.iter().any(|r| {
                let d: Value = serde_json::from_str(&r.details).unwrap_or(Value::Null);
                r.status == "WARNING" && d["url"] == url.as_str() && d["reason"] == *reason
            }),
            "no audit row for {url} ({reason})"
        );
    }
    assert!(rows.iter().any(|r| r.status == "SUCCESS"));

    // A second look comes from the cache (no new fetch needed to answer).
    let (s, again) = get_json(&alice, &q(&format!("{site}/moved"))).await;
    assert_eq!((s, &again["title"]), (200, &card["title"]));

    // Each person has a budget of 60 a minute, answered from the cache or not.
    let (bob, _) = app.session_as("bob", &[], false).await;
    for _ in 0..60 {
        let (s, _) = get_json(&bob, &q(&format!("{site}/moved"))).await;
        assert_eq!(s, 200);
    }
    let resp = bob.get(&q(&format!("{site}/moved"))).await;
    assert_eq!(resp.status(), 429);
    assert!(resp.headers().contains_key("retry-after"));
    let (s, _) = get_json(&alice, &q(&format!("{site}/moved"))).await;
    assert_eq!(s, 200, "one person's budget is not another's");
    app.stop().await.unwrap();
}
