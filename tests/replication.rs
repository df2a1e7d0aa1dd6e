//! Replication jobs end to end: read for a guest the caller sees (everything for administrators),
//! created and removed by those who may configure the guest, job ids checked.

use serde_json::{json, Value};

use crate::support::calls::{delete, field, get, post, victor_and_paul};
use crate::support::TestApp;

async fn app() -> TestApp {
    let app = TestApp::demo("replication")
        .tasks_take(std::time::Duration::from_millis(10))
        .start()
        .await;
    victor_and_paul(&app).await;
    app
}

#[tokio::test]
async fn replication_jobs_are_checked_and_scoped_to_the_guest() {
    let app = app().await;
    let (admin, acsrf) = app.session_as("root", &[], true).await;
    let (alice, csrf) = app.session_as("alice", &[], false).await;
    let (bob, bcsrf) = app.session_as("bob", &[], false).await;
    let (victor, vcsrf) = app.session_as("victor", &[], false).await;
    let repl = "/api/proxmox/cluster/replication";

    // Reading: a guest the caller sees; everything only for admins.
    let (s, l) = get(&alice, &format!("{repl}?vmid=101")).await;
    assert_eq!(s, 200, "{l}");
    assert_eq!(l.as_array().unwrap().len(), 1, "{l}");
    assert_eq!(l[0]["id"], "101-0");
    let (s, l) = get(&alice, &format!("{repl}?vmid=100")).await;
    assert_eq!((s, l.as_array().map(Vec::len)), (200, Some(0)));
    assert_eq!(get(&bob, &format!("{repl}?vmid=101")).await.0, 404);
    assert_eq!(get(&alice, repl).await.0, 403);
    assert_eq!(
        field(&get(&alice, &format!("{repl}?vmid=1")).await.1),
        "vmid"
    );
    let (s, l) = get(&admin, repl).await;
    assert_eq!(s, 200);
    assert!(
        l.as_array().unwrap().iter().any(|j| j["id"] == "101-0"),
        "{l}"
    );

    // Creating: checked input, a node that exists and isn't the guest's own.
    for (bad, f) in [
        (json!({ "vmid": 100 }), "target"),
        (json!({ "vmid": 100, "target": "../x" }), "target"),
        (json!({ "vmid": "abc", "target": "pve2" }), "vmid"),
        (
            json!({ "vmid": 100, "target": "pve2", "schedule": "every day" }),
            "schedule",
        ),
        (
            json!({ "vmid": 100, "target": "pve2", "schedule": "*/15; reboot" }),
            "schedule",
        ),
        (json!({ "vmid": 100, "target": "pve2", "rate": 0 }), "rate"),
        (
            json!({ "vmid": 100, "target": "pve2", "rate": "fast" }),
            "rate",
        ),
    ] {
        let (s, body) = post(&alice, &csrf, repl, bad.clone()).await;
        assert_eq!((s, field(&body)), (400, f), "{bad}: {body}");
    }
    for (target, want) in [("pve9", "there is no node"), ("pve1", "already runs on")] {
        let (s, body) = post(
            &alice,
            &csrf,
            repl,
            json!({ "vmid": 100, "target": target }),
        )
        .await;
        assert_eq!((s, field(&body)), (400, "target"), "{body}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(want),
            "{body}"
        );
    }
    let (s, body) = post(
        &alice,
        &csrf,
        repl,
        json!({ "vmid": 101, "target": "pve2" }),
    )
    .await;
    assert_eq!(s, 409, "{body}");
    // Who may: not someone who doesn't see the guest, nor a PVEVMUser (no VM.Replicate).
    let (s, _) = post(&bob, &bcsrf, repl, json!({ "vmid": 100, "target": "pve2" })).await;
    assert_eq!(s, 404);
    let (s, body) = post(
        &victor,
        &vcsrf,
        repl,
        json!({ "vmid": 130, "target": "pve2" }),
    )
    .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (403, Some("forbidden")),
        "{body}"
    );
    let (s, body) = post(
        &alice,
        &csrf,
        repl,
        json!({ "vmid": 100, "target": "pve3", "schedule": "mon..fri 22:30", "rate": 50 }),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["id"], "100-0");
    let (s, body) = post(
        &alice,
        &csrf,
        repl,
        json!({ "vmid": "101", "target": "pve3" }),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["id"], "101-1");
    let jobs: Vec<Value> = app.state.pve.get("cluster/replication").await.unwrap();
    let job = jobs.iter().find(|j| j["id"] == "100-0").unwrap();
    assert_eq!(job["target"], "pve3");
    assert_eq!(job["schedule"], "mon..fri 22:30");
    assert_eq!(job["rate"], 50.0);

    // Deleting: the id is checked whole and permission is checked on its guest.
    for bad in ["100-0%2F..%2F..%2Faccess", "abc", "100", "99-0", "100-"] {
        let (s, body) = delete(&alice, &csrf, &format!("{repl}/{bad}"), None).await;
        assert_eq!((s, field(&body)), (400, "id"), "{bad}: {body}");
    }
    let (s, _) = delete(&bob, &bcsrf, &format!("{repl}/100-0"), None).await;
    assert_eq!(s, 404);
    let (s, _) = delete(&alice, &csrf, &format!("{repl}/110-0"), None).await;
    assert_eq!(s, 404, "bob's guest is hidden from alice");
    let (s, _) = delete(&alice, &csrf, &format!("{repl}/100-7"), None).await;
    assert_eq!(s, 404, "no such job");
    let (s, body) = delete(&alice, &csrf, &format!("{repl}/100-0"), None).await;
    assert_eq!(s, 200, "{body}");
    let (s, body) = delete(&admin, &acsrf, &format!("{repl}/101-1"), None).await;
    assert_eq!(s, 200, "{body}");
    let jobs: Vec<Value> = app.state.pve.get("cluster/replication").await.unwrap();
    let left: Vec<&str> = jobs.iter().filter_map(|j| j["id"].as_str()).collect();
    assert_eq!(left, ["101-0"]);
    app.stop().await.unwrap();
}
