//! Notification banners over real HTTP and Socket.IO, on SQLite and on MariaDB: who may list,
//! write and dismiss; each bad field named; messages sanitized; windows; every change pushed to
//! open pages at once; one audit row per change; the change budget.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::browser::Browser;
use crate::support::calls::{field, get, json_of, post};
use crate::support::sio::{Connect, PollingSocket};
use crate::support::{on_both, Db, TestApp};

on_both!(
    banners_are_written_by_admins_checked_and_pushed_live,
    dismissing_hides_a_banner_for_that_user_only,
    a_draft_never_reaches_users,
);

const T: Duration = Duration::from_secs(5);

async fn socket(app: &TestApp, b: &Browser) -> PollingSocket {
    let base = app.url("");
    match PollingSocket::connect(&base, &b.cookie_header(), Some(&base)).await {
        Connect::Ok(s) => s,
        Connect::Refused(why) => panic!("socket refused: {why}"),
    }
}

async fn patch(b: &Browser, csrf: &str, path: &str, body: Value) -> (u16, Value) {
    json_of(b.send(Method::PATCH, path, Some(csrf), Some(body)).await).await
}

async fn delete(b: &Browser, csrf: &str, path: &str) -> (u16, Value) {
    json_of(b.send(Method::DELETE, path, Some(csrf), None).await).await
}

fn ids(list: &Value) -> Vec<String> {
    list["notifications"]
        .as_array()
        .unwrap_or_else(|| panic!("no list in {list}"))
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn audit_actions(app: &TestApp, action: &str) -> Vec<uma::store::audit::AuditRow> {
    app.audit_rows(action).await
}

async fn banners_are_written_by_admins_checked_and_pushed_live(db: Db) {
    let app = TestApp::demo("notices").on(db).start().await;
    let (admin, acsrf) = app.session_as("root", &[], true).await;
    let (alice, csrf) = app.session_as("alice", &[], false).await;
    let page = socket(&app, &alice).await;

    // Anonymous: nothing. Users: the list, with the server's clock.
    let anon = Browser::new(&app.url(""));
    assert_eq!(anon.get("/api/notifications").await.status(), 401);
    let (s, list) = get(&alice, "/api/notifications").await;
    assert_eq!(s, 200, "{list}");
    assert_eq!(ids(&list), Vec::<String>::new());
    let now = list["now"].as_i64().unwrap();
    assert!((now - uma::store::now_ms()).abs() < 60_000, "{list}");
    for bad in ["0", "201", "x"] {
        let (s, body) = get(&alice, &format!("/api/notifications?limit={bad}")).await;
        assert_eq!((s, field(&body)), (400, "limit"), "{bad}: {body}");
    }

    // Users may not write; nor list every banner.
    let (s, _) = post(
        &alice,
        &csrf,
        "/api/notifications",
        json!({ "message": "hi" }),
    )
    .await;
    assert_eq!(s, 403);
    assert_eq!(alice.get("/api/admin/notifications").await.status(), 403);

    // Each bad field is named.
    let hour = 3_600_000;
    for (body, name) in [
        (json!({}), "message"),
        (json!({ "message": "  " }), "message"),
        (json!({ "message": "<script>alert(1)</script>" }), "message"),
        (json!({ "message": "<br><b> </b>&nbsp;" }), "message"),
        (json!({ "message": 5 }), "message"),
        (json!({ "message": "x".repeat(2001) }), "message"),
        (json!({ "message": "m", "type": "urgent" }), "type"),
        (json!({ "message": "m", "priority": 5000 }), "priority"),
        (json!({ "message": "m", "priority": "high" }), "priority"),
        (json!({ "message": "m", "isActive": "yes" }), "isActive"),
        (json!({ "message": "m", "startsAt": 1234 }), "startsAt"),
        (json!({ "message": "m", "endsAt": "tomorrow" }), "endsAt"),
        (
            json!({ "message": "m", "startsAt": now + hour, "endsAt": now }),
            "endsAt",
        ),
        (json!({ "message": "m", "colour": "red" }), "colour"),
    ] {
        let (s, resp) = post(&admin, &acsrf, "/api/notifications", body.clone()).await;
        assert_eq!((s, field(&resp)), (400, name), "{body}: {resp}");
    }
    let (s, _) = post(&admin, &acsrf, "/api/notifications", json!([1])).await;
    assert_eq!(s, 400);
    // The limit counts what shows: 2000 characters, an & among them, is fine.
    let long = format!("AT&T {}", "x".repeat(1995));
    let (s, body) = post(
        &admin,
        &acsrf,
        "/api/notifications",
        json!({ "message": long, "isActive": false }),
    )
    .await;
    assert_eq!(s, 201, "{body}");
    let long_id = body["notification"]["id"].as_str().unwrap().to_owned();
    let (s, _) = delete(&admin, &acsrf, &format!("/api/notifications/{long_id}")).await;
    assert_eq!(s, 200);

    // A banner: sanitized, created (201), on alice's open page at once.
    let (s, created) = post(
        &admin,
        &acsrf,
        "/api/notifications",
        json!({ "message": "<b onclick=\"x()\">Maintenance</b> tonight<script>alert(1)</script> <a href=\"javascript:x\">details</a>", "type": "warning", "priority": 5 }),
    )
    .await;
    assert_eq!(s, 201, "{created}");
    let n = &created["notification"];
    assert_eq!(n["message"], "<b>Maintenance</b> tonight details");
    assert_eq!(
        (n["type"].as_str(), n["isActive"].as_bool()),
        (Some("warning"), Some(true))
    );
    let id = n["id"].as_str().unwrap().to_owned();
    let pushed = page
        .wait_event("notification:upsert", T)
        .await
        .expect("the open page hears of the new banner");
    assert_eq!(pushed["notification"]["id"], id.as_str());
    let (_, list) = get(&alice, "/api/notifications").await;
    assert_eq!(ids(&list), [id.as_str()]);

    // One that starts later is listed (the page shows it in time); one that is over is not,
    // but administrators see every banner.
    let (_, later) = post(
        &admin,
        &acsrf,
        "/api/notifications",
        json!({ "message": "Later", "startsAt": now + hour, "priority": 9 }),
    )
    .await;
    let later = later["notification"]["id"].as_str().unwrap().to_owned();
    let (_, over) = post(
        &admin,
        &acsrf,
        "/api/notifications",
        json!({ "message": "Over", "startsAt": now - 2 * hour, "endsAt": now - hour }),
    )
    .await;
    let over = over["notification"]["id"].as_str().unwrap().to_owned();
    let (_, list) = get(&alice, "/api/notifications").await;
    assert_eq!(ids(&list), [later.clone(), id.clone()], "by priority");
    let (s, all) = get(&admin, "/api/admin/notifications").await;
    assert_eq!(s, 200);
    assert_eq!(ids(&all).len(), 3);
    assert!(ids(&all).contains(&over));

    // Turned off: taken down on open pages by id only, and gone from the users' list; fields
    // not sent are kept.
    let (s, _) = patch(
        &alice,
        &csrf,
        &format!("/api/notifications/{id}"),
        json!({ "isActive": false }),
    )
    .await;
    assert_eq!(s, 403);
    let (s, changed) = patch(
        &admin,
        &acsrf,
        &format!("/api/notifications/{id}"),
        json!({ "isActive": false }),
    )
    .await;
    assert_eq!(s, 200, "{changed}");
    assert_eq!(
        changed["notification"]["message"],
        "<b>Maintenance</b> tonight details"
    );
    assert_eq!(changed["notification"]["priority"], 5);
    // The over banner was never sent whole either: it went out as a removal.
    let mut removed = page.wait_event("notification:remove", T).await.unwrap();
    if removed["id"] == over.as_str() {
        removed = page.wait_event("notification:remove", T).await.unwrap();
    }
    assert_eq!(removed["id"], id.as_str());
    let (_, list) = get(&alice, "/api/notifications").await;
    assert_eq!(ids(&list), [later.as_str()]);
    let (s, resp) = patch(
        &admin,
        &acsrf,
        &format!("/api/notifications/{id}"),
        json!({ "type": "loud" }),
    )
    .await;
    assert_eq!((s, field(&resp)), (400, "type"));
    let (s, _) = patch(
        &admin,
        &acsrf,
        "/api/notifications/nope",
        json!({ "isActive": true }),
    )
    .await;
    assert_eq!(s, 404);

    // Deleted: gone from open pages.
    let (s, _) = delete(&alice, &csrf, &format!("/api/notifications/{later}")).await;
    assert_eq!(s, 403);
    let (s, _) = delete(&admin, &acsrf, &format!("/api/notifications/{later}")).await;
    assert_eq!(s, 200);
    let removed = page
        .wait_event("notification:remove", T)
        .await
        .expect("the open page hears of the deletion");
    assert_eq!(removed["id"], later.as_str());
    let (s, _) = delete(&admin, &acsrf, &format!("/api/notifications/{later}")).await;
    assert_eq!(s, 404);

    // One audit row per change, refusals included.
    assert_eq!(
        audit_actions(&app, "CREATE_NOTIFICATION")
            .await
            .iter()
            .filter(|r| r.status == "SUCCESS")
            .count(),
        4
    );
    let updates = audit_actions(&app, "NOTIFICATION_UPDATE").await;
    assert!(updates.iter().any(|r| r.status == "SUCCESS"
        && r.details.contains("\"before\"")
        && r.details.contains("\"after\"")));
    assert!(updates
        .iter()
        .any(|r| r.status == "FAILURE" && r.username == "alice"));
    assert_eq!(
        audit_actions(&app, "DELETE_NOTIFICATION")
            .await
            .iter()
            .filter(|r| r.status == "SUCCESS")
            .count(),
        2
    );
    app.stop().await.unwrap();
}

async fn dismissing_hides_a_banner_for_that_user_only(db: Db) {
    let app = TestApp::demo("notices-dismiss").on(db).start().await;
    let (admin, acsrf) = app.session_as("root", &[], true).await;
    let (alice, csrf) = app.session_as("alice", &[], false).await;
    let (bob, _) = app.session_as("bob", &[], false).await;
    let (_, created) = post(
        &admin,
        &acsrf,
        "/api/notifications",
        json!({ "message": "Welcome" }),
    )
    .await;
    let id = created["notification"]["id"].as_str().unwrap().to_owned();
    // Alice's other tab hears of the dismissal.
    let other_tab = socket(&app, &alice).await;
    let (s, _) = post(
        &alice,
        &csrf,
        &format!("/api/notifications/{id}/dismiss"),
        json!({}),
    )
    .await;
    assert_eq!(s, 200);
    let heard = other_tab
        .wait_event("notification:dismissed", T)
        .await
        .expect("the other tab hides it too");
    assert_eq!(heard["id"], id.as_str());
    // Again is fine; an unknown banner is not found.
    let (s, _) = post(
        &alice,
        &csrf,
        &format!("/api/notifications/{id}/dismiss"),
        json!({}),
    )
    .await;
    assert_eq!(s, 200);
    let (s, _) = post(&alice, &csrf, "/api/notifications/nope/dismiss", json!({})).await;
    assert_eq!(s, 404);
    let (_, mine) = get(&alice, "/api/notifications").await;
    assert!(ids(&mine).is_empty(), "{mine}");
    // The page learns what it dismissed, to keep hiding it when a change is pushed.
    assert_eq!(mine["dismissed"], json!([id]));
    let (_, bobs) = get(&bob, "/api/notifications").await;
    assert_eq!(ids(&bobs), [id.as_str()]);
    assert!(audit_actions(&app, "NOTIFICATION_DISMISS")
        .await
        .iter()
        .any(|r| r.username == "alice" && r.resource == format!("notification:{id}")));
    // Without the CSRF token a dismissal is refused.
    let resp = alice
        .send(
            Method::POST,
            &format!("/api/notifications/{id}/dismiss"),
            None,
            None,
        )
        .await;
    assert_eq!(resp.status(), 403);
    // Deleting the banner forgets who dismissed it.
    let (s, _) = delete(&admin, &acsrf, &format!("/api/notifications/{id}")).await;
    assert_eq!(s, 200);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn writes_share_a_budget_per_administrator() {
    let app = TestApp::demo("notices-limit").start().await;
    let (admin, acsrf) = app.session_as("root", &[], true).await;
    let mut accepted = 0;
    let refused = loop {
        let (s, body) = post(
            &admin,
            &acsrf,
            "/api/notifications",
            json!({ "message": format!("n{accepted}"), "isActive": false }),
        )
        .await;
        if s != 201 || accepted > 60 {
            break (s, body);
        }
        accepted += 1;
    };
    assert_eq!(refused.0, 429, "{}", refused.1);
    assert!((30..=32).contains(&accepted), "{accepted}");
    assert!(refused.1["error"]["message"]
        .as_str()
        .unwrap()
        .contains("try again"));
    app.stop().await.unwrap();
}

/// An inactive banner is for administrators: its text reaches no user's socket, whether it is
/// written off or turned off later, and users' refused writes are budgeted before they are
/// audited.
async fn a_draft_never_reaches_users(db: Db) {
    let app = TestApp::demo("notices-draft").on(db).start().await;
    let (admin, acsrf) = app.session_as("root", &[], true).await;
    let (alice, csrf) = app.session_as("alice", &[], false).await;
    let page = socket(&app, &alice).await;
    let (s, created) = post(
        &admin,
        &acsrf,
        "/api/notifications",
        json!({ "message": "Secret merger plans", "isActive": false }),
    )
    .await;
    assert_eq!(s, 201);
    let id = created["notification"]["id"].as_str().unwrap().to_owned();
    let (s, _) = patch(
        &admin,
        &acsrf,
        &format!("/api/notifications/{id}"),
        json!({ "message": "Secret merger plans, revised" }),
    )
    .await;
    assert_eq!(s, 200);
    // What the page heard: removals by id, never the text.
    let heard = page.wait_event("notification:remove", T).await.unwrap();
    assert_eq!(heard, json!({ "id": id }));
    assert!(page
        .wait_event("notification:upsert", Duration::from_millis(500))
        .await
        .is_none());
    let (_, list) = get(&alice, "/api/notifications").await;
    assert!(!list.to_string().contains("Secret"), "{list}");

    // A user's refused writes stop at the budget, and so do their audit rows.
    let mut refused = 0;
    let mut limited = false;
    for _ in 0..45 {
        let (s, _) = patch(
            &alice,
            &csrf,
            &format!("/api/notifications/{id}"),
            json!({ "isActive": true }),
        )
        .await;
        match s {
            403 => refused += 1,
            429 => {
                limited = true;
                break;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(limited, "refused {refused} times without a limit");
    assert!((30..=32).contains(&refused), "{refused}");
    let rows = audit_actions(&app, "NOTIFICATION_UPDATE").await;
    let alices = rows.iter().filter(|r| r.username == "alice").count();
    assert!(
        alices <= refused + 1,
        "{alices} rows for {refused} refusals"
    );
    app.stop().await.unwrap();
}
