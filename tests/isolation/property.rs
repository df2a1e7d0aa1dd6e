//! A property test: random sequences of creates, clones, config changes, resizes, deletions,
//! template conversions, backups and restores by two tenants under tight quotas — honest steps
//! and hostile ones mixed. After every step, read from the simulator's own state (not from Uma):
//! each pool's usage is within its limits, and no guest of a tenant references a volume, storage
//! or bridge that tenant may not use.

use std::collections::BTreeMap;
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use reqwest::Method;
use serde_json::{json, Value};

use super::harness::{app, pve_post, quiet, sim_state, Db, Tenant};
use crate::support::TestApp;

/// The pool each tenant plays in, and its limits.
const POOLS: [(&str, &str); 2] = [("alice", "DEV_alice_2"), ("bob", "DEV_bob_2")];
const LIMITS: (i64, i64, i64, i64, i64) = (2, 2, 6, 6144, 40); // VMs, CTs, vCPUs, MiB, GiB

#[derive(Debug, Clone)]
enum Op {
    CreateVm {
        cores: u32,
        memory: u32,
        disk: u32,
    },
    CreateCt {
        cores: u32,
        memory: u32,
        disk: u32,
    },
    Clone {
        guest: usize,
    },
    Cores {
        guest: usize,
        cores: u32,
        vcpus: bool,
    },
    DeleteKey {
        guest: usize,
        key: &'static str,
    },
    AddDisk {
        guest: usize,
        size: u32,
    },
    Memory {
        guest: usize,
        memory: u32,
    },
    Resize {
        guest: usize,
        grow: u32,
    },
    Template {
        guest: usize,
    },
    Delete {
        guest: usize,
    },
    Backup {
        guest: usize,
    },
    Restore {
        guest: usize,
    },
    /// Hostile: the other tenant's disk attached, imported, or its guest changed.
    AttachForeign {
        guest: usize,
        theirs: usize,
        import: bool,
    },
    ForeignConfig {
        theirs: usize,
    },
    ForeignBridge {
        guest: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let g = 0usize..4;
    prop_oneof![
        (
            1u32..=4,
            prop_oneof![Just(512u32), Just(1024), Just(2048), Just(4096)],
            0u32..=24
        )
            .prop_map(|(cores, memory, disk)| Op::CreateVm {
                cores,
                memory,
                disk
            }),
        (1u32..=4, prop_oneof![Just(512u32), Just(2048)], 1u32..=16).prop_map(
            |(cores, memory, disk)| Op::CreateCt {
                cores,
                memory,
                disk
            }
        ),
        g.clone().prop_map(|guest| Op::Clone { guest }),
        (g.clone(), 1u32..=16, any::<bool>()).prop_map(|(guest, cores, vcpus)| Op::Cores {
            guest,
            cores,
            vcpus
        }),
        (
            g.clone(),
            prop_oneof![
                Just("vcpus"),
                Just("cores"),
                Just("memory"),
                Just("scsi1"),
                Just("unused0"),
                Just("mp0")
            ]
        )
            .prop_map(|(guest, key)| Op::DeleteKey { guest, key }),
        (g.clone(), 1u32..=20).prop_map(|(guest, size)| Op::AddDisk { guest, size }),
        (g.clone(), prop_oneof![Just(512u32), Just(3072), Just(8192)])
            .prop_map(|(guest, memory)| Op::Memory { guest, memory }),
        (g.clone(), 1u32..=20).prop_map(|(guest, grow)| Op::Resize { guest, grow }),
        g.clone().prop_map(|guest| Op::Template { guest }),
        g.clone().prop_map(|guest| Op::Delete { guest }),
        g.clone().prop_map(|guest| Op::Backup { guest }),
        g.clone().prop_map(|guest| Op::Restore { guest }),
        (g.clone(), g.clone(), any::<bool>()).prop_map(|(guest, theirs, import)| {
            Op::AttachForeign {
                guest,
                theirs,
                import,
            }
        }),
        g.clone().prop_map(|theirs| Op::ForeignConfig { theirs }),
        g.prop_map(|guest| Op::ForeignBridge { guest }),
    ]
}

/// A step: which tenant, what.
fn step() -> impl Strategy<Value = (usize, Op)> {
    (0usize..2, op())
}

fn num(v: Option<&Value>) -> Option<i64> {
    v.and_then(|v| {
        v.as_i64().or_else(|| {
            v.as_str().and_then(|s| {
                s.split(',')
                    .next()?
                    .trim_start_matches("current=")
                    .parse()
                    .ok()
            })
        })
    })
}

fn size_of(drive: &str) -> Option<u64> {
    let s = drive.split(',').find_map(|p| p.strip_prefix("size="))?;
    let (n, m) = match s.chars().last()? {
        'G' => (&s[..s.len() - 1], 1u64 << 30),
        'M' => (&s[..s.len() - 1], 1 << 20),
        'K' => (&s[..s.len() - 1], 1 << 10),
        'T' => (&s[..s.len() - 1], 1 << 40),
        _ => (s, 1),
    };
    Some((n.parse::<f64>().ok()? * m as f64) as u64)
}

fn is_disk_key(kind: &str, key: &str) -> bool {
    let indexed = |p: &str| {
        key.strip_prefix(p)
            .is_some_and(|r| !r.is_empty() && r.bytes().all(|b| b.is_ascii_digit()))
    };
    key.starts_with("unused") && indexed("unused")
        || if kind == "Qemu" {
            ["ide", "sata", "scsi", "virtio"].iter().any(|p| indexed(p))
                || key == "efidisk0"
                || key == "tpmstate0"
        } else {
            key == "rootfs" || indexed("mp")
        }
}

/// A pool's usage as the simulator holds it: (VMs, CTs, vCPUs, MiB, GiB), read independently
/// of Uma's accounting.
fn held(state: &Value, pool: &str) -> (i64, i64, i64, i64, i64) {
    let members: Vec<u64> = state["pools"][pool]["vms"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default();
    let detached = &state["detached"];
    let (mut vms, mut cts, mut cpu, mut mem, mut bytes) = (0, 0, 0, 0, 0u64);
    for id in members {
        let g = &state["guests"][id.to_string()];
        let kind = g["kind"].as_str().unwrap_or_default();
        let mut configs = vec![g["config"].as_object().cloned().unwrap_or_default()];
        let mut after = configs[0].clone();
        for k in g["pending_delete"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            after.remove(k);
        }
        for (k, v) in g["pending"].as_object().into_iter().flatten() {
            after.insert(k.clone(), v.clone());
        }
        configs.push(after);
        let template = num(configs[0].get("template")) == Some(1);
        if kind == "Qemu" {
            vms += 1;
        } else {
            cts += 1;
        }
        let node_cpus = state["nodes"][g["node"].as_str().unwrap_or_default()]["cpus"]
            .as_i64()
            .unwrap_or(1);
        let mut disks: BTreeMap<String, u64> = BTreeMap::new();
        let (mut c_max, mut m_max) = (0, 0);
        for cfg in &configs {
            if !template {
                let c = if kind == "Qemu" {
                    num(cfg.get("vcpus")).unwrap_or_else(|| {
                        num(cfg.get("cores")).unwrap_or(1) * num(cfg.get("sockets")).unwrap_or(1)
                    })
                } else {
                    num(cfg.get("cores")).unwrap_or(node_cpus)
                };
                c_max = c_max.max(c);
                m_max = m_max.max(num(cfg.get("memory")).unwrap_or(512));
            }
            for (k, v) in cfg {
                let Some(s) = v.as_str() else { continue };
                if !is_disk_key(kind, k)
                    || s.contains("media=cdrom")
                    || s.starts_with("none")
                    || s.starts_with('/')
                {
                    continue;
                }
                let vol = s.split(',').next().unwrap_or_default().to_owned();
                let size = size_of(s).or_else(|| detached[&vol].as_u64()).unwrap_or(0);
                let e = disks.entry(vol).or_default();
                *e = (*e).max(size);
            }
        }
        cpu += c_max;
        mem += m_max;
        bytes += disks.values().sum::<u64>();
    }
    (vms, cts, cpu, mem, bytes.div_ceil(1 << 30) as i64)
}

/// What a tenant's guests reference that the tenant may not use.
fn foreign_references(state: &Value, pool: &str, own_vnet: &str) -> Vec<String> {
    let members: Vec<u64> = state["pools"][pool]["vms"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default();
    let mut out = Vec::new();
    for id in members {
        let g = &state["guests"][id.to_string()];
        let kind = g["kind"].as_str().unwrap_or_default();
        let mut all = g["config"].as_object().cloned().unwrap_or_default();
        all.extend(g["pending"].as_object().cloned().unwrap_or_default());
        for (k, v) in &all {
            let Some(s) = v.as_str() else { continue };
            if k.starts_with("net") {
                let bridge = s
                    .split(',')
                    .find_map(|p| p.strip_prefix("bridge="))
                    .unwrap_or_default();
                if bridge != "vmbr0" && bridge != own_vnet
                    || s.contains("tag=")
                    || s.contains("trunks=")
                {
                    out.push(format!("{id} {k}: {s}"));
                }
                continue;
            }
            if !is_disk_key(kind, k) || s.starts_with("none") {
                continue;
            }
            let vol = s.split(',').next().unwrap_or_default();
            let (storage, name) = vol.split_once(':').unwrap_or(("", vol));
            let cd = s.contains("media=cdrom");
            let ok = if cd {
                storage == "local" && name.starts_with("iso/")
            } else {
                let last = name.rsplit('/').next().unwrap_or(name);
                let owner = ["vm-", "base-", "subvol-"]
                    .iter()
                    .find_map(|p| last.strip_prefix(p))
                    .and_then(|r| r.split('-').next())
                    .and_then(|n| n.parse::<u64>().ok());
                storage == "local-lvm" && owner == Some(id)
            };
            if !ok {
                out.push(format!("{id} {k}: {s}"));
            }
        }
    }
    out
}

struct World {
    app: TestApp,
    tenants: Vec<Tenant>,
}

/// Guests of a tenant's play pool, in id order.
fn guests_of(state: &Value, pool: &str) -> Vec<u64> {
    let mut v: Vec<u64> = state["pools"][pool]["vms"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default();
    v.sort_unstable();
    v
}

fn pick(list: &[u64], i: usize) -> Option<u64> {
    (!list.is_empty()).then(|| list[i % list.len()])
}

async fn run(w: &World, who: usize, op: &Op) {
    let me = &w.tenants[who];
    let pool = POOLS[who].1;
    let state = sim_state(&w.app);
    let mine = guests_of(&state, pool);
    let theirs = guests_of(&state, POOLS[1 - who].1);
    let kind_of = |id: u64| {
        state["guests"][id.to_string()]["kind"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let put = |id: u64, body: Value| async move {
        me.call(
            Method::PUT,
            &format!("/api/proxmox/vm/{id}/config"),
            Some(body),
        )
        .await
    };
    match op {
        Op::CreateVm {
            cores,
            memory,
            disk,
        } => {
            let mut body = json!({ "pool": pool, "cores": cores, "memory": memory });
            if *disk > 0 {
                body["storage"] = json!("local-lvm");
                body["diskSize"] = json!(disk);
            }
            me.call(Method::POST, "/api/proxmox/nodes/pve1/qemu", Some(body))
                .await;
        }
        Op::CreateCt {
            cores,
            memory,
            disk,
        } => {
            me.call(
                Method::POST,
                "/api/proxmox/nodes/pve1/lxc",
                Some(json!({
                    "pool": pool, "cores": cores, "memory": memory, "diskSize": disk,
                    "storage": "local-lvm", "ostemplate": "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst",
                })),
            )
            .await;
        }
        Op::Clone { guest } => {
            if let Some(id) = pick(&mine, *guest) {
                me.call(
                    Method::POST,
                    "/api/proxmox/clone",
                    Some(json!({ "sourceVmId": id, "poolId": pool, "fullClone": true, "storage": "local-lvm" })),
                )
                .await;
            }
        }
        Op::Cores {
            guest,
            cores,
            vcpus,
        } => {
            if let Some(id) = pick(&mine, *guest) {
                let body = if *vcpus && kind_of(id) == "Qemu" {
                    json!({ "set": { "vcpus": 1, "cores": cores } })
                } else {
                    json!({ "set": { "cores": cores } })
                };
                put(id, body).await;
            }
        }
        Op::DeleteKey { guest, key } => {
            if let Some(id) = pick(&mine, *guest) {
                put(id, json!({ "delete": [key] })).await;
            }
        }
        Op::AddDisk { guest, size } => {
            if let Some(id) = pick(&mine, *guest) {
                let (key, value) = if kind_of(id) == "Qemu" {
                    ("scsi1", format!("local-lvm:{size}"))
                } else {
                    ("mp0", format!("local-lvm:{size},mp=/srv"))
                };
                put(id, json!({ "set": { key: value } })).await;
            }
        }
        Op::Memory { guest, memory } => {
            if let Some(id) = pick(&mine, *guest) {
                put(id, json!({ "set": { "memory": memory } })).await;
            }
        }
        Op::Resize { guest, grow } => {
            if let Some(id) = pick(&mine, *guest) {
                let disk = if kind_of(id) == "Qemu" {
                    "scsi0"
                } else {
                    "rootfs"
                };
                me.call(
                    Method::PUT,
                    &format!("/api/proxmox/vm/{id}/resize"),
                    Some(json!({ "disk": disk, "size": format!("+{grow}G") })),
                )
                .await;
            }
        }
        Op::Template { guest } => {
            if let Some(id) = pick(&mine, *guest) {
                me.call(
                    Method::POST,
                    &format!("/api/proxmox/vm/{id}/template"),
                    None,
                )
                .await;
            }
        }
        Op::Delete { guest } => {
            if let Some(id) = pick(&mine, *guest) {
                me.call(Method::DELETE, &format!("/api/proxmox/vm/{id}"), None)
                    .await;
            }
        }
        Op::Backup { guest } => {
            if let Some(id) = pick(&mine, *guest) {
                me.call(
                    Method::POST,
                    &format!("/api/proxmox/vm/{id}/backups"),
                    Some(json!({ "storage": "local" })),
                )
                .await;
            }
        }
        Op::Restore { guest } => {
            if let Some(id) = pick(&mine, *guest) {
                let list = me.get(&format!("/api/proxmox/vm/{id}/backups")).await.body;
                if let Some(volid) = list["data"][0]["volid"].as_str() {
                    me.call(
                        Method::POST,
                        &format!("/api/proxmox/vm/{id}/restore"),
                        Some(json!({ "archive": volid })),
                    )
                    .await;
                }
            }
        }
        Op::AttachForeign {
            guest,
            theirs: t,
            import,
        } => {
            let (Some(id), Some(other)) = (pick(&mine, *guest), pick(&theirs, *t)) else {
                return;
            };
            let other_cfg = &state["guests"][other.to_string()]["config"];
            let Some(vol) = other_cfg
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(k, _)| is_disk_key(&kind_of(other), k))
                .find_map(|(_, v)| {
                    v.as_str()
                        .map(|s| s.split(',').next().unwrap_or_default().to_owned())
                })
            else {
                return;
            };
            let value = if *import {
                format!("local-lvm:0,import-from={vol}")
            } else {
                vol
            };
            put(id, json!({ "set": { "scsi2": value } })).await;
        }
        Op::ForeignConfig { theirs: t } => {
            if let Some(other) = pick(&theirs, *t) {
                put(other, json!({ "set": { "cores": 16 } })).await;
            }
        }
        Op::ForeignBridge { guest } => {
            if let Some(id) = pick(&mine, *guest) {
                let vnet = if who == 0 { "devbobp" } else { "devalip" };
                let value = if kind_of(id) == "Qemu" {
                    format!("virtio,bridge={vnet}")
                } else {
                    format!("name=eth1,bridge={vnet},ip=dhcp")
                };
                put(id, json!({ "set": { "net1": value } })).await;
            }
        }
    }
    quiet(&w.app).await;
}

async fn world() -> World {
    let app = app(Db::Sqlite).await;
    let admin = Tenant::admin(&app).await;
    let mut tenants = Vec::new();
    for (i, (name, pool)) in POOLS.iter().enumerate() {
        let t = Tenant::new(&app, name, &[]).await;
        let made = t
            .call(Method::POST, "/api/proxmox/pools", Some(json!({})))
            .await
            .ok("a play pool");
        assert_eq!(made["poolid"], *pool);
        let (vms, cts, cpu, mem, disk) = LIMITS;
        admin
            .call(
                Method::PUT,
                &format!("/api/proxmox/pools/{pool}/limits"),
                Some(json!({ "maxVMs": vms, "maxLXCs": cts, "maxCpu": cpu, "maxMemory": mem, "maxDisk": disk })),
            )
            .await
            .ok("tight limits");
        let vnet = if i == 0 { "devalip" } else { "devbobp" };
        pve_post(
            &app,
            "cluster/sdn/vnets",
            &[
                ("vnet", vnet),
                ("zone", "devzone"),
                ("alias", &format!("play_DEV_{name}")),
            ],
        )
        .await;
        tenants.push(t);
    }
    World { app, tenants }
}

fn check(w: &World) -> Result<(), String> {
    let state = sim_state(&w.app);
    for (i, (_, pool)) in POOLS.iter().enumerate() {
        let (vms, cts, cpu, mem, disk) = held(&state, pool);
        let (mv, mc, mcpu, mm, md) = LIMITS;
        if vms > mv || cts > mc || cpu > mcpu || mem > mm || disk > md {
            return Err(format!(
                "{pool} holds {vms} VMs, {cts} CTs, {cpu} vCPUs, {mem} MiB, {disk} GiB: over {LIMITS:?}"
            ));
        }
        let own = if i == 0 { "devalip" } else { "devbobp" };
        let foreign = foreign_references(&state, pool, own);
        if !foreign.is_empty() {
            return Err(format!(
                "{pool} references what it may not use: {foreign:?}"
            ));
        }
    }
    Ok(())
}

#[test]
fn random_operations_of_two_tenants_never_exceed_quotas_or_reach_foreign_objects() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let cases: u32 = std::env::var("UMA_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12);
    let mut runner = TestRunner::new(Config {
        cases,
        max_shrink_iters: 64,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&proptest::collection::vec(step(), 4..24), |steps| {
        rt.block_on(async {
            let w = world().await;
            let mut out = Ok(());
            for (i, (who, op)) in steps.iter().enumerate() {
                run(&w, *who, op).await;
                if let Err(e) = check(&w) {
                    out = Err(TestCaseError::fail(format!(
                        "after step {i} ({who}: {op:?}): {e}"
                    )));
                    break;
                }
            }
            w.app.stop().await.unwrap();
            tokio::time::sleep(Duration::from_millis(1)).await;
            out
        })
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
