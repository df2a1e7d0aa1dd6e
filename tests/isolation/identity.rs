//! Who a user is in Proxmox is exact (an ACL of another realm's namesake grants nothing), and
//! reads that go to Proxmox are rate-limited like changes.

use reqwest::Method;
use serde_json::json;

use super::harness::{app, audit_count, grant, pve_post, refused, Db, Tenant};
use crate::support::on_both;

on_both!(
    acl_entries_of_another_realm_grant_nothing,
    reads_that_reach_proxmox_are_rate_limited,
);

async fn acl_entries_of_another_realm_grant_nothing(db: Db) {
    let app = app(db).await;
    // carl@pam (a system account of the host) is someone else than Uma's carl, whose realm is pve.
    pve_post(&app, "access/users", &[("userid", "carl@pam")]).await;
    grant(&app, "/vms/110", "PVEVMAdmin", "carl@pam").await;
    let carl = Tenant::new(&app, "carl", &[]).await;
    let status = carl.get("/api/proxmox/vm/110/status").await;
    assert_eq!(status.status, 404, "{:?}", status.body);
    refused(
        &app,
        &carl,
        Method::PUT,
        "/api/proxmox/vm/110/config",
        Some(json!({ "set": { "description": "carl was here" } })),
        404,
        "No guest 110",
        "VM_UPDATE",
    )
    .await;
    // The realm's own carl gets what the entry gives.
    pve_post(&app, "access/users", &[("userid", "carl@pve")]).await;
    grant(&app, "/vms/110", "PVEVMUser", "carl@pve").await;
    let status = carl.get("/api/proxmox/vm/110/status").await;
    assert_eq!(status.status, 200, "{:?}", status.body);
    app.stop().await.unwrap();
}

async fn reads_that_reach_proxmox_are_rate_limited(db: Db) {
    let app = app(db).await;
    let alice = Tenant::new(&app, "alice", &[]).await;
    // 240 a minute: the burst is 240, then one more every 250 ms.
    let mut last = None;
    for i in 0..400 {
        let a = alice.get("/api/proxmox/vm/100/config").await;
        if a.status != 200 {
            last = Some((i, a));
            break;
        }
    }
    let (i, a) = last.expect("400 quick reads are refused at some point");
    assert!(i >= 240, "refused after only {i} reads");
    assert_eq!(a.status, 429, "{:?}", a.body);
    assert_eq!(a.body["error"]["code"], "rate_limited");
    assert!(a.message().contains("Rate limit exceeded"), "{:?}", a.body);
    assert_eq!(audit_count(&app, "alice", "VIEW_VM", "WARNING").await, 1);
    app.stop().await.unwrap();
}
