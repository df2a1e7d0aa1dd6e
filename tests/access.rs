//! Proxmox roles and users: listed for administrators and pool managers only.

use crate::support::calls::{get, victor_and_paul};
use crate::support::TestApp;

async fn app() -> TestApp {
    let app = TestApp::demo("access")
        .tasks_take(std::time::Duration::from_millis(10))
        .start()
        .await;
    victor_and_paul(&app).await;
    app
}

#[tokio::test]
async fn roles_and_users_are_for_admins_and_pool_managers() {
    let app = app().await;
    let (admin, _) = app.session_as("root", &[], true).await;
    let (alice, _) = app.session_as("alice", &[], false).await;
    let (paul, _) = app.session_as("paul", &[], false).await;
    let (oscar, _) = app.session_as("oscar", &[], false).await;

    let (s, roles) = get(&admin, "/api/proxmox/access/roles").await;
    assert_eq!(s, 200, "{roles}");
    let all: Vec<&str> = roles
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["roleid"].as_str())
        .collect();
    assert!(
        all.contains(&"Administrator") && all.contains(&"PVEAuditor"),
        "{all:?}"
    );
    // alice owns DEV_alice_1 by name: she manages a pool.
    let (s, roles) = get(&alice, "/api/proxmox/access/roles").await;
    assert_eq!(s, 200, "{roles}");
    let mut some: Vec<&str> = roles
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["roleid"].as_str())
        .collect();
    some.sort_unstable();
    assert_eq!(
        some,
        ["PVEPoolAdmin", "PVEPoolUser", "PVEVMAdmin", "PVEVMUser"]
    );

    let (s, users) = get(&admin, "/api/proxmox/access/users").await;
    assert_eq!(s, 200);
    assert!(users
        .as_array()
        .unwrap()
        .iter()
        .any(|u| u["userid"] == "root@pam"));
    let (s, users) = get(&alice, "/api/proxmox/access/users").await;
    assert_eq!(s, 200, "{users}");
    let list = users.as_array().unwrap();
    assert!(list.iter().any(|u| u["userid"] == "bob@pve"), "{users}");
    for u in list {
        let mut keys: Vec<&String> = u.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, ["enable", "expire", "userid"], "{u}");
    }

    // Seeing a pool is not managing one; outsiders get nothing.
    for b in [&paul, &oscar] {
        for path in ["/api/proxmox/access/roles", "/api/proxmox/access/users"] {
            let (s, body) = get(b, path).await;
            assert_eq!(
                (s, body["error"]["code"].as_str()),
                (403, Some("forbidden")),
                "{path}: {body}"
            );
        }
    }
    app.stop().await.unwrap();
}
