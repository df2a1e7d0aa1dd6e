//! The audit log survives its database: with MariaDB stopped for 10 s in the middle of 200
//! actions, every row is there once it returns.

use std::collections::HashMap;
use std::time::Duration;

use crate::support::mariadb::OwnMariaDb;
use crate::support::{demo_vars, spawn_with, temp_dir};

#[tokio::test]
async fn no_audit_row_is_lost_while_mariadb_is_down() {
    let mut db = OwnMariaDb::start().await;
    let url = db.database("uma_audit").await;
    let dir = temp_dir("audit-outage");
    let mut vars: HashMap<String, String> = demo_vars(&dir);
    vars.insert("DATABASE_URL".into(), url.clone());
    // Sessions are read from Redis while the database is away.
    vars.insert("REDIS_URL".into(), "redis://127.0.0.1:6379".into());
    vars.insert("USE_SECURE_COOKIE".into(), "false".into());
    let app = spawn_with(vars, dir).await;
    let (auditor, _) = app.session_as("auditor", &[], true).await;
    // The session record reaches the Redis cache on first use.
    assert_eq!(auditor.get("/api/auth").await.status(), 200);

    let act = |n: usize| {
        let auditor = &auditor;
        async move {
            let resp = auditor.get("/api/proxmox/resources?type=pool").await;
            assert_eq!(resp.status(), 200, "action {n}");
        }
    };
    for n in 0..50 {
        act(n).await;
    }
    db.stop();
    let down_since = tokio::time::Instant::now();
    let mut n = 50;
    while down_since.elapsed() < Duration::from_secs(10) {
        if n < 150 {
            act(n).await;
            n += 1;
        }
        tokio::time::sleep(Duration::from_millis(80)).await;
    }
    assert_eq!(n, 150, "100 actions while the database was down");
    db.run().await;
    for n in 150..200 {
        act(n).await;
    }
    // Rows reach the database once it answers again.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        app.flush_audit().await;
        let store = app.store().await;
        let rows = store
            .list_audit(
                &uma::store::audit::AuditFilter {
                    username: Some("auditor".into()),
                    action: Some("VIEW_RESOURCES".into()),
                    ..Default::default()
                },
                1000,
                0,
            )
            .await
            .unwrap();
        store.close().await;
        if rows.len() == 200 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} of 200 audit rows after MariaDB returned",
            rows.len()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    app.stop().await.unwrap();
}
