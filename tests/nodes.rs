//! Node and storage reads: the node list for everyone, a node's status and charts for
//! administrators, a guest's tasks for whoever sees it, a node's for administrators,
//! storage content for administrators, and bad values refused before Proxmox is asked.

use serde_json::Value;

use crate::support::{Db, TestApp};

async fn app() -> TestApp {
    TestApp::demo("nodes").on(Db::Sqlite).start().await
}

#[tokio::test]
async fn node_tasks_and_storage_content_follow_the_rules() {
    let app = app().await;
    let (alice, _) = app.session_as("alice", &[], false).await;
    let (bob, _) = app.session_as("bob", &[], false).await;
    let (admin, _) = app.session_as("root", &[], true).await;
    // A guest's tasks for whoever sees it; the whole node's for admins only.
    assert_eq!(
        alice
            .get("/api/proxmox/nodes/pve1/tasks?vmid=100")
            .await
            .status(),
        200
    );
    assert_eq!(
        bob.get("/api/proxmox/nodes/pve1/tasks?vmid=100")
            .await
            .status(),
        404
    );
    assert_eq!(
        alice.get("/api/proxmox/nodes/pve1/tasks").await.status(),
        403
    );
    assert_eq!(
        admin.get("/api/proxmox/nodes/pve1/tasks").await.status(),
        200
    );
    let resp = alice
        .get("/api/proxmox/nodes/pve1/tasks?limit=0&vmid=100")
        .await;
    assert_eq!(resp.status(), 400);
    // Storage content: admins; bad values refused before Proxmox is asked.
    let resp = admin
        .get("/api/proxmox/storage/local/content?node=pve1&content=iso")
        .await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|v| v["volid"].as_str().unwrap().starts_with("local:iso/")),
        "{body}"
    );
    assert_eq!(
        alice
            .get("/api/proxmox/storage/local/content?node=pve1")
            .await
            .status(),
        403
    );
    let resp = admin
        .get("/api/proxmox/storage/local/content?node=pve1&content=x;y")
        .await;
    assert_eq!(resp.status(), 400);
    let resp = admin
        .get("/api/proxmox/storage/..%2Fx/content?node=pve1")
        .await;
    assert_eq!(resp.status(), 400);
    app.stop().await.unwrap();
}

#[tokio::test]
async fn every_user_sees_the_nodes_and_only_administrators_their_status_and_charts() {
    let app = app().await;
    let (alice, _) = app.session_as("alice", &[], false).await;
    let (admin, _) = app.session_as("root", &[], true).await;
    // The list with load, for whoever creates guests.
    let resp = alice.get("/api/proxmox/nodes").await;
    assert_eq!(resp.status(), 200);
    let nodes: Value = resp.json().await.unwrap();
    let names: Vec<&str> = nodes
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["node"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"pve1"), "{nodes}");
    assert!(nodes[0]["maxmem"].as_u64().unwrap() > 0, "{nodes}");
    // Status and charts: administrators.
    for path in [
        "/api/proxmox/nodes/pve1/status",
        "/api/proxmox/nodes/pve1/rrd?timeframe=day",
    ] {
        let resp = alice.get(path).await;
        assert_eq!(resp.status(), 403, "{path}");
        let body: Value = resp.json().await.unwrap();
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("Only administrators"),
            "{body}"
        );
        assert_eq!(admin.get(path).await.status(), 200, "{path}");
    }
    let status: Value = admin
        .get("/api/proxmox/nodes/pve1/status")
        .await
        .json()
        .await
        .unwrap();
    assert!(status["status"].is_object(), "{status}");
    // Bad values are refused before Proxmox is asked, naming the field.
    for (path, field) in [
        ("/api/proxmox/nodes/pve1/rrd?timeframe=century", "timeframe"),
        ("/api/proxmox/nodes/pve1/rrd?cf=MIN", "cf"),
        ("/api/proxmox/nodes/pve%3B1/status", "node"),
    ] {
        let resp = admin.get(path).await;
        assert_eq!(resp.status(), 400, "{path}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["field"], field, "{path}: {body}");
    }
    app.stop().await.unwrap();
}
