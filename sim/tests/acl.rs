//! ACL semantics through HTTP: a privilege-separated token limited to one pool, group roles,
//! the real 403 text, and ACL changes taking effect.

use pve_sim::Scenario;
use reqwest::Method;
use serde_json::Value;

use crate::common::spawn;

fn vmids(v: &Value) -> Vec<u64> {
    let mut ids: Vec<u64> = v
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|r| r["vmid"].as_u64())
        .collect();
    ids.sort_unstable();
    ids
}

#[tokio::test]
async fn pool_limited_token_sees_only_its_pool() {
    let sim = spawn(Scenario::Demo).await;
    let alice = sim.handle.token("alice@pve!uma").expect("alice token");
    assert!(alice.privsep);
    let auth = alice.authorization();

    let r = sim
        .call_as(&auth, Method::GET, "/cluster/resources", &[("type", "vm")])
        .await;
    assert_eq!(r.status.as_u16(), 200);
    assert_eq!(
        vmids(r.data()),
        [100, 101, 102, 103, 104],
        "only DEV_alice_1 guests"
    );
    let r = sim
        .call_as(&auth, Method::GET, "/cluster/resources", &[])
        .await;
    let pools: Vec<&str> = r
        .data()
        .as_array()
        .expect("list")
        .iter()
        .filter(|x| x["type"] == "pool")
        .filter_map(|x| x["pool"].as_str())
        .collect();
    assert_eq!(pools, ["DEV_alice_1"]);
    // nodes are listed, without their statistics
    let node = r
        .data()
        .as_array()
        .expect("list")
        .iter()
        .find(|x| x["type"] == "node")
        .cloned()
        .expect("node");
    assert!(node.get("maxmem").is_none(), "{node}");

    // her own guest: allowed, including admin actions (PVEVMAdmin on the pool)
    let r = sim
        .call_as(&auth, Method::GET, "/nodes/pve1/qemu/100/config", &[])
        .await;
    assert_eq!(r.status.as_u16(), 200);
    let r = sim
        .call_as(
            &auth,
            Method::PUT,
            "/nodes/pve1/qemu/100/config",
            &[("cores", "4")],
        )
        .await;
    assert_eq!(r.status.as_u16(), 200, "{:?}", r.body);

    // elsewhere: 403 with Proxmox's text, whether or not the guest exists
    let r = sim
        .call_as(&auth, Method::GET, "/nodes/pve2/qemu/110/config", &[])
        .await;
    assert_eq!(r.status.as_u16(), 403);
    assert_eq!(r.message(), "Permission check failed (/vms/110, VM.Audit)");
    let r = sim
        .call_as(
            &auth,
            Method::GET,
            "/nodes/pve1/qemu/4242/status/current",
            &[],
        )
        .await;
    assert_eq!(r.status.as_u16(), 403);
    assert_eq!(r.message(), "Permission check failed (/vms/4242, VM.Audit)");
    // the user alice is in `devs` (PVEVMUser on DEV_devs_1) but her privsep token is not
    let r = sim
        .call_as(&auth, Method::POST, "/nodes/pve1/qemu/120/status/stop", &[])
        .await;
    assert_eq!(r.status.as_u16(), 403);
    assert_eq!(
        r.message(),
        "Permission check failed (/vms/120, VM.PowerMgmt)"
    );
    let r = sim
        .call_as(&auth, Method::GET, "/nodes/pve1/status", &[])
        .await;
    assert_eq!(
        r.message(),
        "Permission check failed (/nodes/pve1, Sys.Audit)"
    );
    let r = sim
        .call_as(
            &auth,
            Method::PUT,
            "/nodes/pve1/qemu/100/config",
            &[("memory", "1024"), ("net1", "virtio,bridge=vmbr0")],
        )
        .await;
    assert_eq!(r.status.as_u16(), 200, "{:?}", r.body);
    // pools: only her own
    let r = sim.call_as(&auth, Method::GET, "/pools", &[]).await;
    let ids: Vec<&str> = r
        .data()
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|p| p["poolid"].as_str())
        .collect();
    assert_eq!(ids, ["DEV_alice_1"]);
    let r = sim
        .call_as(&auth, Method::GET, "/pools", &[("poolid", "DEV_bob_1")])
        .await;
    assert_eq!(
        r.message(),
        "Permission check failed (/pool/DEV_bob_1, Pool.Audit)"
    );
}

#[tokio::test]
async fn group_roles_and_acl_updates() {
    let sim = spawn(Scenario::Demo).await;
    let bob = sim.handle.token("bob@pve!uma").expect("bob token");
    assert!(!bob.privsep, "bob's token has bob's privileges");
    let auth = bob.authorization();
    // own pool (PVEVMAdmin) + devs pool (PVEVMUser via group) + templates (PVETemplateUser)
    let r = sim
        .call_as(&auth, Method::GET, "/cluster/resources", &[("type", "vm")])
        .await;
    assert_eq!(
        vmids(r.data()),
        [110, 111, 112, 113, 114, 120, 121, 122, 123, 124, 9000, 9001]
    );
    // PVEVMUser may power-manage but not reconfigure CPU
    let r = sim
        .call_as(
            &auth,
            Method::POST,
            "/nodes/pve1/qemu/120/status/reboot",
            &[],
        )
        .await;
    assert_eq!(r.status.as_u16(), 200, "{:?}", r.body);
    let r = sim
        .call_as(
            &auth,
            Method::PUT,
            "/nodes/pve1/qemu/120/config",
            &[("cores", "8")],
        )
        .await;
    assert_eq!(
        r.message(),
        "Permission check failed (/vms/120, VM.Config.CPU)"
    );
    // PVETemplateUser may clone the template into his own pool
    let r = sim
        .call_as(
            &auth,
            Method::POST,
            "/nodes/pve1/qemu/9000/clone",
            &[
                ("newid", "560"),
                ("name", "bob-from-template"),
                ("pool", "DEV_bob_1"),
            ],
        )
        .await;
    assert_eq!(r.status.as_u16(), 200, "{:?}", r.body);
    assert_eq!(sim.wait_task(r.data().as_str().expect("upid")).await, "OK");
    let pool = sim.get("/pools?poolid=DEV_bob_1").await;
    assert!(pool[0]["members"]
        .as_array()
        .expect("members")
        .iter()
        .any(|m| m["vmid"] == 560));
    // but not into someone else's
    let r = sim
        .call_as(
            &auth,
            Method::POST,
            "/nodes/pve1/qemu/9000/clone",
            &[("newid", "561"), ("pool", "DEV_alice_1")],
        )
        .await;
    assert_eq!(
        r.message(),
        "Permission check failed (/vms/561, VM.Allocate)"
    );

    // NoAccess on one guest wins over the pool role
    sim.ok(
        Method::PUT,
        "/access/acl",
        &[
            ("path", "/vms/110"),
            ("roles", "NoAccess"),
            ("users", "bob@pve"),
        ],
    )
    .await;
    let r = sim
        .call_as(&auth, Method::GET, "/nodes/pve2/qemu/110/config", &[])
        .await;
    assert_eq!(r.status.as_u16(), 403);
    let acl = sim.get("/access/acl").await;
    assert!(acl
        .as_array()
        .expect("list")
        .iter()
        .any(|a| a["path"] == "/vms/110"
            && a["roleid"] == "NoAccess"
            && a["type"] == "user"
            && a["propagate"] == 1));
    sim.ok(
        Method::PUT,
        "/access/acl",
        &[
            ("path", "/vms/110"),
            ("roles", "NoAccess"),
            ("users", "bob@pve"),
            ("delete", "1"),
        ],
    )
    .await;
    let r = sim
        .call_as(&auth, Method::GET, "/nodes/pve2/qemu/110/config", &[])
        .await;
    assert_eq!(r.status.as_u16(), 200);

    // carol (ops): PVEAuditor on / sees everything, may not act outside her pool
    let carol = sim
        .handle
        .token("carol@pve!uma")
        .expect("carol")
        .authorization();
    let r = sim
        .call_as(&carol, Method::GET, "/cluster/resources", &[("type", "vm")])
        .await;
    assert_eq!(
        vmids(r.data()).len(),
        26,
        "the 25 demo guests and bob's clone"
    );
    let r = sim
        .call_as(
            &carol,
            Method::POST,
            "/nodes/pve1/qemu/100/status/stop",
            &[],
        )
        .await;
    assert_eq!(
        r.message(),
        "Permission check failed (/vms/100, VM.PowerMgmt)"
    );
    let r = sim
        .call_as(&carol, Method::POST, "/nodes/pve2/lxc/131/status/stop", &[])
        .await;
    assert_eq!(r.status.as_u16(), 200, "{:?}", r.body);

    // roles are the PVE 9 built-ins
    let roles = sim.get("/access/roles").await;
    let vmuser = roles
        .as_array()
        .expect("list")
        .iter()
        .find(|r| r["roleid"] == "PVEVMUser")
        .cloned()
        .expect("PVEVMUser");
    assert_eq!(vmuser["privs"], "VM.Audit,VM.Backup,VM.Config.CDROM,VM.Config.Cloudinit,VM.Console,VM.GuestAgent.Audit,VM.GuestAgent.FileRead,VM.GuestAgent.FileSystemMgmt,VM.GuestAgent.FileWrite,VM.PowerMgmt");
    assert_eq!(vmuser["special"], 1);
}
