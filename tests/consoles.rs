//! Browser consoles through Uma's proxy to the simulator's RFB server, spoken by a real RFB
//! client over the WebSocket: handshake with the ticket's password, framebuffer, key echo;
//! every refusal with its reason; admins closing a console; limits; a crash closing one console
//! only; 50 consoles at once.

use std::time::Duration;

use serde_json::{json, Value};
use uma_actors::consoles::ConsolesMsg;

use crate::support::browser::Browser;
use crate::support::rfb::{self, Rfb};
use crate::support::{wait_until, TestApp};

async fn app_with(max_per_user: usize) -> TestApp {
    TestApp::demo("console")
        .var("CONSOLE_MAX_PER_USER", max_per_user.to_string())
        .start()
        .await
}

fn ws(app: &TestApp, path: &str) -> String {
    format!("ws://{}{path}", app.addr)
}

async fn ticket(b: &Browser, csrf: &str, vmid: u64) -> (u16, Value) {
    let resp = b
        .post_json(
            &format!("/api/proxmox/vm/{vmid}/vnc"),
            Some(csrf),
            json!({}),
        )
        .await;
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Opens a console for `vmid` as `b` and completes the RFB handshake.
async fn console(app: &TestApp, b: &Browser, csrf: &str, vmid: u64) -> Rfb {
    let (status, t) = ticket(b, csrf, vmid).await;
    assert_eq!(status, 200, "{t}");
    let sock = rfb::open(
        &ws(app, t["url"].as_str().unwrap()),
        &b.cookie_header(),
        Some(&b.origin),
    )
    .await
    .unwrap_or_else(|e| panic!("proxy refused: {e:?}"));
    Rfb::handshake(sock, t["password"].as_str().unwrap())
        .await
        .unwrap()
}

/// Types `text` and waits until the framebuffer shows a change in `area`.
async fn type_and_see(r: &mut Rfb, text: &str, area: (usize, usize, usize, usize)) -> bool {
    let before = r.region(area.0, area.1, area.2, area.3);
    r.type_text(text).await.unwrap();
    for _ in 0..20 {
        r.update(true).await.unwrap();
        if r.region(area.0, area.1, area.2, area.3) != before {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// Where the simulator draws the echo line (sim/README.md, "Consoles").
const ECHO: (usize, usize, usize, usize) = (16, 96, 600, 16);
/// Where the guest's name is drawn: white 16×16 characters from (16,16) on `#101820`.
const NAME: (usize, usize, usize, usize) = (16, 16, 16 * 9, 16);

/// The pixels of `area` as the simulator draws a console showing `name` with `typed` echoed
/// (outside the clock, which changes every second).
fn expected(r: &Rfb, name: &str, typed: &str, area: (usize, usize, usize, usize)) -> Vec<u32> {
    let mut screen = pve_sim::console::ConsoleScreen::new(name);
    screen.echo = typed.to_owned();
    let px = screen.render("00:00:00 UTC");
    let w = r.width as usize;
    let mut out = Vec::new();
    for y in area.1..area.1 + area.3 {
        for x in area.0..area.0 + area.2 {
            out.push(px[y * w + x]);
        }
    }
    out
}

#[tokio::test]
async fn a_console_opens_through_the_proxy_and_echoes_keys() {
    let app = app_with(4).await;
    let (alice, csrf) = app.session_as("alice", &[], false).await;
    let mut r = console(&app, &alice, &csrf, 100).await;
    assert_eq!(r.name, "QEMU (alice-web)");
    assert_eq!((r.width, r.height), (800, 600));
    r.update(false).await.unwrap();
    // The guest's name, pixel for pixel as the simulator draws it.
    assert_eq!(
        r.region(NAME.0, NAME.1, NAME.2, NAME.3),
        expected(&r, "alice-web", "", NAME),
        "the name on screen"
    );
    assert!(
        type_and_see(&mut r, "hello", ECHO).await,
        "the typed word is echoed"
    );
    for _ in 0..10 {
        if r.region(ECHO.0, ECHO.1, ECHO.2, ECHO.3) == expected(&r, "alice-web", "hello", ECHO) {
            break;
        }
        r.update(true).await.unwrap();
    }
    assert_eq!(
        r.region(ECHO.0, ECHO.1, ECHO.2, ECHO.3),
        expected(&r, "alice-web", "hello", ECHO),
        "the echo line shows exactly what was typed"
    );
    // The admin list shows it with traffic.
    let (admin, _) = app.session_as("root", &[], true).await;
    let list: Value = admin.get("/api/admin/consoles").await.json().await.unwrap();
    let c = &list["consoles"][0];
    assert_eq!(c["user"], "alice");
    assert_eq!(c["vmid"], 100);
    assert!(c["bytesDown"].as_u64().unwrap() > 1000, "{c}");
    drop(r);
    // Closing is audited with duration and bytes.
    let audit_of = |action: &'static str| {
        let app = &app;
        async move {
            app.flush_audit().await;
            let store = app.store().await;
            let rows = store
                .list_audit(
                    &uma::store::audit::AuditFilter {
                        username: Some("alice".into()),
                        action: Some(action.into()),
                        ..Default::default()
                    },
                    10,
                    0,
                )
                .await
                .unwrap();
            store.close().await;
            rows
        }
    };
    let row = wait_until(Duration::from_secs(10), "a CONSOLE_CLOSE row", || async {
        audit_of("CONSOLE_CLOSE").await.into_iter().next()
    })
    .await;
    assert_eq!(audit_of("CONSOLE_OPEN").await.len(), 1);
    let d: Value = serde_json::from_str(&row.details).unwrap();
    assert!(d["bytesDown"].as_u64().unwrap() > 1000, "{d}");
    assert!(d["bytesUp"].as_u64().unwrap() > 0, "{d}");
    assert!(d["durationSecs"].is_u64(), "{d}");
    app.stop().await.unwrap();
}

#[tokio::test]
async fn consoles_are_refused_with_the_right_reason() {
    let app = app_with(4).await;
    // audrey may see guest 100 (PVEAuditor) but not open its console.
    let pve = &app.state.pve;
    let _: Value = pve
        .post("access/users", &[("userid", "audrey@pve".to_owned())])
        .await
        .unwrap();
    let _: Value = pve
        .put(
            "access/acl",
            &[
                ("path", "/vms/100".to_owned()),
                ("roles", "PVEAuditor".to_owned()),
                ("users", "audrey@pve".to_owned()),
            ],
        )
        .await
        .unwrap();
    app.state.acl.invalidate();
    let (alice, csrf) = app.session_as("alice", &[], false).await;
    let (status, t) = ticket(&alice, &csrf, 100).await;
    assert_eq!(status, 200, "{t}");
    let url = ws(&app, t["url"].as_str().unwrap());

    // No session cookie.
    let err = rfb::open(&url, "", Some(&alice.origin)).await.unwrap_err();
    assert_eq!(err.0, 401, "{err:?}");
    // A foreign Origin.
    let err = rfb::open(&url, &alice.cookie_header(), Some("https://evil.example"))
        .await
        .unwrap_err();
    assert_eq!(err.0, 403, "{err:?}");
    assert!(err.1.contains("Forbidden origin"), "{err:?}");
    // A user who sees the guest but lacks VM.Console: no ticket, and no proxy with another's.
    let (audrey, acsrf) = app.session_as("audrey", &[], false).await;
    let (status, body) = ticket(&audrey, &acsrf, 100).await;
    assert_eq!(status, 403, "{body}");
    let err = rfb::open(&url, &audrey.cookie_header(), Some(&audrey.origin))
        .await
        .unwrap_err();
    assert_eq!(err.0, 403, "{err:?}");
    // A ticket Proxmox doesn't accept (tampered, or for another port).
    let bad = url.replace("ticket=", "ticket=X");
    let err = rfb::open(&bad, &alice.cookie_header(), Some(&alice.origin))
        .await
        .unwrap_err();
    assert_eq!(err.0, 403, "{err:?}");
    assert!(err.1.contains("ticket"), "{err:?}");
    // An expired ticket (tickets live 40 s): Proxmox refuses it, and so does Uma.
    let (status, t2) = ticket(&alice, &csrf, 101).await;
    assert_eq!(status, 200, "{t2}");
    app.sim.as_ref().unwrap().age_vnc_tickets(41);
    let err = rfb::open(
        &ws(&app, t2["url"].as_str().unwrap()),
        &alice.cookie_header(),
        Some(&alice.origin),
    )
    .await
    .unwrap_err();
    app.sim.as_ref().unwrap().age_vnc_tickets(-41);
    assert_eq!(err.0, 403, "{err:?}");
    assert!(err.1.contains("expired"), "{err:?}");
    // Bad parameters.
    let err = rfb::open(
        &url.replace("port=59", "port=99"),
        &alice.cookie_header(),
        Some(&alice.origin),
    )
    .await
    .unwrap_err();
    assert_eq!(err.0, 400, "{err:?}");
    // A stopped guest has no console.
    let (status, body) = ticket(&alice, &csrf, 102).await;
    assert_eq!(status, 409, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("not running"));
    // The valid ticket still works after all that.
    let sock = rfb::open(&url, &alice.cookie_header(), Some(&alice.origin))
        .await
        .unwrap();
    Rfb::handshake(sock, t["password"].as_str().unwrap())
        .await
        .unwrap();
    app.stop().await.unwrap();
}

#[tokio::test]
async fn an_admin_closes_a_console_and_limits_and_crashes_stay_contained() {
    let app = app_with(2).await;
    let (alice, csrf) = app.session_as("alice", &[], false).await;
    // A ticket taken while there was room, used once the limit is reached: the proxy refuses.
    let (status, early) = ticket(&alice, &csrf, 103).await;
    assert_eq!(status, 200, "{early}");
    let mut a = console(&app, &alice, &csrf, 100).await;
    let mut b = console(&app, &alice, &csrf, 101).await;
    a.update(false).await.unwrap();
    b.update(false).await.unwrap();
    let err = rfb::open(
        &ws(&app, early["url"].as_str().unwrap()),
        &alice.cookie_header(),
        Some(&alice.origin),
    )
    .await
    .unwrap_err();
    assert_eq!(err.0, 429, "{err:?}");
    // And no new ticket is handed out while at the limit, with a message the page can show.
    let (status, body) = ticket(&alice, &csrf, 103).await;
    assert_eq!(status, 429, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("2 consoles open"),
        "{body}"
    );

    let (admin, acsrf) = app.session_as("root", &[], true).await;
    let list: Value = admin.get("/api/admin/consoles").await.json().await.unwrap();
    let ids: Vec<(u64, String)> = list["consoles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["vmid"].as_u64().unwrap(),
                c["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(ids.len(), 2, "{list}");
    let id_of = |vmid: u64| ids.iter().find(|(v, _)| *v == vmid).unwrap().1.clone();

    // A crash in one console's actor closes that console only.
    app.state
        .consoles
        .get()
        .cast(ConsolesMsg::Crash(id_of(101)))
        .unwrap();
    let (code, reason) = b
        .wait_closed(Duration::from_secs(10))
        .await
        .expect("b closed");
    assert_eq!(code, uma::http::consoles::CLOSE_WITH_REASON, "{reason}");
    assert!(reason.contains("failed"), "{reason}");
    assert!(
        type_and_see(&mut a, "still", ECHO).await,
        "the other console works on"
    );

    // An admin closes the other one: the user's page is told why.
    let resp = admin
        .send(
            reqwest::Method::DELETE,
            &format!("/api/admin/consoles/{}", id_of(100)),
            Some(&acsrf),
            None,
        )
        .await;
    assert_eq!(resp.status(), 200);
    let (code, reason) = a
        .wait_closed(Duration::from_secs(10))
        .await
        .expect("a closed");
    assert_eq!(code, uma::http::consoles::CLOSE_WITH_REASON);
    assert!(reason.contains("administrator"), "{reason}");
    // Users can't list or close consoles.
    assert_eq!(alice.get("/api/admin/consoles").await.status(), 403);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn fifty_consoles_at_once_stay_independent() {
    let app = app_with(50).await;
    let (root, csrf) = app.session_as("root", &[], true).await;
    let guests: Vec<u64> = {
        let items: Vec<Value> = app
            .state
            .pve
            .get_with("cluster/resources", &[("type", "vm".to_owned())])
            .await
            .unwrap();
        items
            .iter()
            .filter(|r| r["status"] == "running" && r["template"] != 1)
            .filter_map(|r| r["vmid"].as_u64())
            .collect()
    };
    assert!(!guests.is_empty());
    // Tickets are rate-limited per user like power actions: two admins open 25 each.
    let (other, ocsrf) = app.session_as("root2", &[], true).await;
    let mut consoles = Vec::new();
    for i in 0..50 {
        let (b, c) = if i < 25 {
            (&root, &csrf)
        } else {
            (&other, &ocsrf)
        };
        consoles.push(console(&app, b, c, guests[i % guests.len()]).await);
    }
    assert_eq!(consoles.len(), 50);
    // Each types its own letter; each echo shows its own.
    let letters: Vec<char> = (0..50).map(|i| (b'a' + (i % 5) as u8) as char).collect();
    let mut echoes = Vec::new();
    for (r, l) in consoles.iter_mut().zip(&letters) {
        r.update(false).await.unwrap();
        assert!(type_and_see(r, &l.to_string().repeat(3), ECHO).await);
    }
    for r in consoles.iter_mut() {
        r.update(true).await.unwrap();
        echoes.push(r.region(ECHO.0, ECHO.1, ECHO.2, ECHO.3));
    }
    // Each shows exactly its own keys, never another console's.
    for (i, (r, l)) in consoles.iter().zip(&letters).enumerate() {
        let want = expected(r, "", &l.to_string().repeat(3), ECHO);
        assert_eq!(echoes[i], want, "console {i} shows only its own keys");
    }
    app.stop().await.unwrap();
}

/// Every console gets exactly one close row: a console whose actor fails is closed by its
/// supervisor, and one open when the supervisor itself goes down closes itself.
#[tokio::test]
async fn every_console_is_audited_closed_once_even_when_its_supervisor_dies() {
    let app = app_with(4).await;
    let (alice, csrf) = app.session_as("alice", &[], false).await;
    let mut a = console(&app, &alice, &csrf, 100).await;
    let mut b = console(&app, &alice, &csrf, 101).await;
    a.update(false).await.unwrap();
    b.update(false).await.unwrap();
    let (admin, _) = app.session_as("root", &[], true).await;
    let list: Value = admin.get("/api/admin/consoles").await.json().await.unwrap();
    let crashed = list["consoles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["vmid"] == 101)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.state
        .consoles
        .get()
        .cast(ConsolesMsg::Crash(crashed))
        .unwrap();
    b.wait_closed(Duration::from_secs(10))
        .await
        .expect("b closed");
    // The supervisor dies (the root starts a new one).
    let branches: Vec<(&'static str, Option<ractor::ActorCell>)> =
        uma_actors::call!(app.state.root, uma_actors::root::RootMsg::Branches).unwrap();
    let supervisor = branches
        .into_iter()
        .find(|(n, _)| *n == "consoles")
        .and_then(|(_, c)| c)
        .unwrap();
    supervisor.kill();
    let (code, reason) = a
        .wait_closed(Duration::from_secs(10))
        .await
        .expect("a closed with its supervisor");
    assert_eq!(code, uma::http::consoles::CLOSE_WITH_REASON, "{reason}");
    assert!(reason.contains("restarted on the server"), "{reason}");
    async fn closes(app: &TestApp) -> Vec<uma::store::audit::AuditRow> {
        app.flush_audit().await;
        let store = app.store().await;
        let rows = store
            .list_audit(
                &uma::store::audit::AuditFilter {
                    username: Some("alice".into()),
                    action: Some("CONSOLE_CLOSE".into()),
                    ..Default::default()
                },
                10,
                0,
            )
            .await
            .unwrap();
        store.close().await;
        rows
    }
    let rows = wait_until(
        Duration::from_secs(10),
        "two CONSOLE_CLOSE rows",
        || async {
            let rows = closes(&app).await;
            (rows.len() >= 2).then_some(rows)
        },
    )
    .await;
    let mut reasons: Vec<String> = rows
        .iter()
        .map(|r| {
            let d: Value = serde_json::from_str(&r.details).unwrap();
            d["reason"].as_str().unwrap().to_owned()
        })
        .collect();
    reasons.sort();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(reasons[0].contains("failed"), "{reasons:?}");
    assert!(reasons[1].contains("console service"), "{reasons:?}");
    // Nothing more arrives later (no second row for either console).
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(closes(&app).await.len(), 2);
    app.stop().await.unwrap();
}

/// A console open when the server stops is closed with a reason its browser shows, and its
/// close row is written before the audit log's last flush.
#[tokio::test]
async fn consoles_open_at_shutdown_are_closed_and_audited() {
    let app = app_with(4).await;
    let (alice, csrf) = app.session_as("alice", &[], false).await;
    let mut a = console(&app, &alice, &csrf, 100).await;
    a.update(false).await.unwrap();
    let store = app.store().await;
    let stopping = tokio::spawn(app.stop());
    let (code, reason) = a
        .wait_closed(Duration::from_secs(10))
        .await
        .expect("the console closed with the server");
    assert_eq!(code, uma::http::consoles::CLOSE_WITH_REASON, "{reason}");
    assert!(reason.contains("restarting"), "{reason}");
    stopping.await.unwrap().unwrap();
    let rows = store
        .list_audit(
            &uma::store::audit::AuditFilter {
                username: Some("alice".into()),
                action: Some("CONSOLE_CLOSE".into()),
                ..Default::default()
            },
            10,
            0,
        )
        .await
        .unwrap();
    store.close().await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(
        rows[0].details.contains("restarting"),
        "{}",
        rows[0].details
    );
}
