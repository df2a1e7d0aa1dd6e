//! Initial clusters: `demo` (3 nodes, pools, users, ~25 guests), `empty` (one bare node) and
//! `scale` (8 nodes, 2,000 guests). See `sim/README.md`.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::acl::builtin_roles;
use crate::model::{
    now_secs, AclEntry, AclKind, Cluster, Config, Group, Guest, Kind, Node, Pool, Power, ReplJob,
    Snapshot, Storage, Token, User, Volume,
};
use crate::Scenario;

/// A token the simulator accepts, with its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// `USER@REALM!NAME`.
    pub token_id: String,
    /// The secret (a UUID).
    pub secret: String,
    /// Whether the token is privilege-separated.
    pub privsep: bool,
}

impl TokenInfo {
    /// The `Authorization` header value for this token.
    pub fn authorization(&self) -> String {
        format!("PVEAPIToken={}={}", self.token_id, self.secret)
    }
}

const ISOS: &[(&str, u64)] = &[
    ("debian-12.8.0-amd64-netinst.iso", 663 << 20),
    ("ubuntu-24.04.1-live-server-amd64.iso", 2_773 << 20),
    ("Win11_24H2_English_x64.iso", 5_700 << 20),
];
const CT_TEMPLATES: &[(&str, u64)] = &[
    ("debian-12-standard_12.7-1_amd64.tar.zst", 126 << 20),
    ("ubuntu-24.04-standard_24.04-2_amd64.tar.zst", 141 << 20),
    ("alpine-3.20-default_20240908_amd64.tar.xz", 3 << 20),
];

pub(crate) fn mac(vmid: u32, idx: u32) -> String {
    format!(
        "BC:24:11:{:02X}:{:02X}:{:02X}",
        (vmid >> 8) & 0xff,
        vmid & 0xff,
        idx & 0xff
    )
}

fn uuid_for(vmid: u32) -> String {
    format!(
        "6f1c{vmid:04x}-8d2a-4b7e-9c3f-{:012x}",
        u64::from(vmid) * 7919
    )
}

fn node(name: &str, cpus: u32, mem_gib: u64, seed: u64, now: i64) -> Node {
    Node {
        name: name.to_owned(),
        online: true,
        cpus,
        cpu_model: "AMD EPYC 7313P 16-Core Processor".to_owned(),
        mem_total: mem_gib << 30,
        root_total: 94 << 30,
        boot_time: now - 86_400 * 12 - (seed as i64) * 3_600,
        seed,
    }
}

fn storage(id: &str, ty: &str, content: &str, shared: bool, total: u64) -> Storage {
    Storage {
        id: id.to_owned(),
        ty: ty.to_owned(),
        content: content.to_owned(),
        shared,
        total,
    }
}

fn base_storages(c: &mut Cluster, with_nas: bool) {
    for s in [
        storage("local", "dir", "backup,iso,vztmpl", false, 94 << 30),
        storage("local-lvm", "lvmthin", "images,rootdir", false, 832 << 30),
    ] {
        c.storages.insert(s.id.clone(), s);
    }
    if with_nas {
        let s = storage(
            "nas",
            "nfs",
            "backup,images,iso,rootdir,vztmpl",
            true,
            8 << 40,
        );
        c.storages.insert(s.id.clone(), s);
    }
}

fn media_volumes(c: &mut Cluster, storage_id: &str, node: Option<&str>, now: i64) {
    for (name, size) in ISOS {
        c.volumes.push(Volume {
            volid: format!("{storage_id}:iso/{name}"),
            node: node.map(str::to_owned),
            content: "iso".into(),
            format: "iso".into(),
            size: *size,
            vmid: None,
            ctime: now - 86_400 * 40,
            notes: None,
            protected: false,
            backup_of: None,
        });
    }
    for (name, size) in CT_TEMPLATES {
        c.volumes.push(Volume {
            volid: format!("{storage_id}:vztmpl/{name}"),
            node: node.map(str::to_owned),
            content: "vztmpl".into(),
            format: name
                .rsplit('.')
                .next()
                .map_or("tzst", |e| if e == "zst" { "tzst" } else { "txz" })
                .into(),
            size: *size,
            vmid: None,
            ctime: now - 86_400 * 30,
            notes: None,
            protected: false,
            backup_of: None,
        });
    }
}

/// Parameters for a seeded guest.
pub(crate) struct Seed<'a> {
    pub vmid: u32,
    pub kind: Kind,
    pub node: &'a str,
    pub name: &'a str,
    pub cores: u64,
    pub mem_mib: u64,
    pub disk_gib: u64,
    pub storage: &'a str,
    pub running: bool,
    pub tags: Option<&'a str>,
}

/// Builds a guest's config the way Proxmox's installer/GUI would have written it.
pub(crate) fn seed_config(s: &Seed<'_>, now: i64) -> Config {
    let mut c = Config::new();
    match s.kind {
        Kind::Qemu => {
            c.insert("name".into(), json!(s.name));
            c.insert("cores".into(), json!(s.cores));
            c.insert("sockets".into(), json!(1));
            c.insert("memory".into(), json!(s.mem_mib.to_string()));
            c.insert("ostype".into(), json!("l26"));
            c.insert("scsihw".into(), json!("virtio-scsi-single"));
            c.insert(
                "scsi0".into(),
                json!(format!(
                    "{}:vm-{}-disk-0,iothread=1,size={}G",
                    s.storage, s.vmid, s.disk_gib
                )),
            );
            c.insert("ide2".into(), json!("none,media=cdrom"));
            c.insert(
                "net0".into(),
                json!(format!("virtio={},bridge=vmbr0,firewall=1", mac(s.vmid, 0))),
            );
            c.insert("boot".into(), json!("order=scsi0;ide2;net0"));
            c.insert("agent".into(), json!("1"));
            c.insert("cpu".into(), json!("x86-64-v2-AES"));
            c.insert(
                "smbios1".into(),
                json!(format!("uuid={}", uuid_for(s.vmid))),
            );
            c.insert("vmgenid".into(), json!(uuid_for(s.vmid + 1)));
            c.insert(
                "meta".into(),
                json!(format!("creation-qemu=9.2.0,ctime={}", now - 86_400 * 20)),
            );
        }
        Kind::Lxc => {
            c.insert("hostname".into(), json!(s.name));
            c.insert("cores".into(), json!(s.cores));
            c.insert("memory".into(), json!(s.mem_mib));
            c.insert("swap".into(), json!(512));
            c.insert("ostype".into(), json!("debian"));
            c.insert("arch".into(), json!("amd64"));
            c.insert(
                "rootfs".into(),
                json!(format!(
                    "{}:vm-{}-disk-0,size={}G",
                    s.storage, s.vmid, s.disk_gib
                )),
            );
            c.insert(
                "net0".into(),
                json!(format!(
                    "name=eth0,bridge=vmbr0,firewall=1,hwaddr={},ip=dhcp,type=veth",
                    mac(s.vmid, 0)
                )),
            );
            c.insert("unprivileged".into(), json!(1));
            c.insert("features".into(), json!("nesting=1"));
        }
    }
    if let Some(tags) = s.tags {
        c.insert("tags".into(), json!(tags));
    }
    c
}

fn add_guest(c: &mut Cluster, s: &Seed<'_>, now: i64) {
    let config = seed_config(s, now);
    let started = s
        .running
        .then(|| now - 3_600 * (1 + i64::from(s.vmid % 50)));
    c.guests.insert(
        s.vmid,
        Guest {
            vmid: s.vmid,
            kind: s.kind,
            node: s.node.to_owned(),
            power: if s.running {
                Power::Running
            } else {
                Power::Stopped
            },
            config,
            snapshots: Vec::new(),
            rules: Vec::new(),
            started_at: started,
            pending: Config::new(),
            pending_delete: Vec::new(),
        },
    );
}

fn user(c: &mut Cluster, id: &str, first: &str, last: &str) {
    c.users.insert(
        id.to_owned(),
        User {
            comment: None,
            email: Some(format!(
                "{}@example.com",
                id.split('@').next().unwrap_or(id)
            )),
            firstname: Some(first.to_owned()),
            lastname: Some(last.to_owned()),
            enable: true,
            expire: 0,
        },
    );
}

fn acl(c: &mut Cluster, path: &str, kind: AclKind, ugid: &str, role: &str) {
    c.acl.push(AclEntry {
        path: path.to_owned(),
        kind,
        ugid: ugid.to_owned(),
        role: role.to_owned(),
        propagate: true,
    });
}

fn pool(c: &mut Cluster, name: &str, comment: &str, vms: &[u32], storage: &[&str]) {
    c.pools.insert(
        name.to_owned(),
        Pool {
            comment: Some(comment.to_owned()),
            vms: vms.iter().copied().collect(),
            storage: storage
                .iter()
                .map(|s| (*s).to_owned())
                .collect::<BTreeSet<_>>(),
        },
    );
}

fn add_token(c: &mut Cluster, userid: &str, name: &str, secret: String, privsep: bool) {
    let t = Token {
        userid: userid.to_owned(),
        name: name.to_owned(),
        secret,
        privsep,
        comment: Some("pve-sim".to_owned()),
        expire: 0,
    };
    c.tokens.insert(t.full_id(), t);
}

fn base() -> Cluster {
    let mut c = Cluster {
        roles: builtin_roles(),
        next_pid: 4_000,
        ..Cluster::default()
    };
    c.users.insert(
        "root@pam".into(),
        User {
            comment: Some("Built-in Superuser".into()),
            email: None,
            firstname: None,
            lastname: None,
            enable: true,
            expire: 0,
        },
    );
    c
}

/// Builds the initial cluster; `root_token` is SimConfig's token, `secret` makes further ones.
pub(crate) fn build(
    scenario: Scenario,
    root_token: &str,
    root_secret: &str,
    secret: &mut dyn FnMut() -> String,
) -> Cluster {
    let now = now_secs();
    let mut c = match scenario {
        Scenario::Empty => empty(now),
        Scenario::Demo => demo(now, secret),
        Scenario::Scale => scale(now, secret),
    };
    ensure_root_token(&mut c, root_token, root_secret);
    c
}

/// Adds (or re-keys) SimConfig's token; a user other than root@pam gets Administrator on `/`.
pub(crate) fn ensure_root_token(c: &mut Cluster, root_token: &str, root_secret: &str) {
    let (userid, name) = root_token.split_once('!').unwrap_or((root_token, "uma"));
    if !c.users.contains_key(userid) {
        user(c, userid, "API", "Client");
        acl(c, "/", AclKind::User, userid, "Administrator");
    }
    add_token(c, userid, name, root_secret.to_owned(), false);
}

fn empty(now: i64) -> Cluster {
    let mut c = base();
    c.nodes.insert("pve".into(), node("pve", 8, 32, 1, now));
    base_storages(&mut c, false);
    media_volumes(&mut c, "local", Some("pve"), now);
    c
}

/// vmid, kind, node, name, cores, MiB, GiB, storage, running, tags.
type DemoGuest<'a> = (
    u32,
    Kind,
    &'a str,
    &'a str,
    u64,
    u64,
    u64,
    &'a str,
    bool,
    Option<&'a str>,
);

fn demo(now: i64, secret: &mut dyn FnMut() -> String) -> Cluster {
    let mut c = base();
    for (i, (n, cpus, mem)) in [("pve1", 32, 256), ("pve2", 16, 128), ("pve3", 16, 128)]
        .into_iter()
        .enumerate()
    {
        c.nodes
            .insert(n.into(), node(n, cpus, mem, i as u64 + 1, now));
    }
    base_storages(&mut c, true);
    for n in ["pve1", "pve2", "pve3"] {
        media_volumes(&mut c, "local", Some(n), now);
    }
    media_volumes(&mut c, "nas", None, now);

    use Kind::{Lxc, Qemu};
    #[rustfmt::skip]
    let guests: &[DemoGuest] = &[
        (100, Qemu, "pve1", "alice-web", 2, 2048, 32, "local-lvm", true, Some("web;prod")),
        (101, Qemu, "pve1", "alice-db", 4, 8192, 64, "local-lvm", true, Some("db")),
        (102, Qemu, "pve2", "alice-dev", 2, 4096, 32, "nas", false, None),
        (103, Lxc, "pve2", "alice-cache", 1, 1024, 8, "local-lvm", true, Some("cache")),
        (104, Lxc, "pve3", "alice-scratch", 1, 512, 4, "local-lvm", false, None),
        (110, Qemu, "pve2", "bob-api", 2, 4096, 40, "local-lvm", true, Some("api")),
        (111, Qemu, "pve2", "bob-worker", 4, 8192, 50, "nas", true, None),
        (112, Qemu, "pve3", "bob-win11", 4, 8192, 80, "local-lvm", false, Some("windows")),
        (113, Lxc, "pve3", "bob-proxy", 1, 512, 8, "local-lvm", true, Some("proxy")),
        (114, Lxc, "pve1", "bob-ci-runner", 4, 4096, 20, "nas", false, Some("ci")),
        (120, Qemu, "pve1", "devs-gitlab", 4, 8192, 100, "nas", true, Some("git;prod")),
        (121, Qemu, "pve3", "devs-jenkins", 2, 4096, 50, "nas", true, Some("ci")),
        (122, Lxc, "pve1", "devs-wiki", 2, 2048, 16, "local-lvm", true, Some("docs")),
        (123, Lxc, "pve2", "devs-registry", 2, 2048, 64, "nas", false, None),
        (124, Qemu, "pve2", "devs-staging", 2, 4096, 32, "local-lvm", false, Some("staging")),
        (130, Qemu, "pve1", "ops-monitoring", 2, 4096, 40, "local-lvm", true, Some("monitoring")),
        (131, Lxc, "pve2", "ops-dns1", 1, 512, 4, "local-lvm", true, Some("dns")),
        (132, Lxc, "pve3", "ops-dns2", 1, 512, 4, "local-lvm", true, Some("dns")),
        (133, Qemu, "pve3", "ops-backup", 2, 4096, 200, "nas", false, None),
        (140, Qemu, "pve1", "legacy-erp", 4, 16384, 120, "local-lvm", false, Some("legacy")),
        (141, Lxc, "pve3", "sandbox-1", 1, 1024, 8, "local-lvm", false, None),
        (142, Qemu, "pve2", "sandbox-2", 1, 1024, 16, "local-lvm", true, None),
        (150, Lxc, "pve1", "tmpl-worker", 2, 2048, 8, "nas", false, None),
        (9000, Qemu, "pve1", "debian-12-cloudinit", 2, 2048, 8, "nas", false, Some("template")),
        (9001, Lxc, "pve2", "debian-12-ct-base", 1, 512, 4, "nas", false, Some("template")),
    ];
    for &(vmid, kind, node_name, name, cores, mem_mib, disk_gib, storage, running, tags) in guests {
        add_guest(
            &mut c,
            &Seed {
                vmid,
                kind,
                node: node_name,
                name,
                cores,
                mem_mib,
                disk_gib,
                storage,
                running,
                tags,
            },
            now,
        );
    }
    for vmid in [9000, 9001] {
        if let Some(g) = c.guests.get_mut(&vmid) {
            g.config.insert("template".into(), json!(1));
            for (_, v) in g.config.iter_mut() {
                if let Value::String(s) = v {
                    *s = s.replace(&format!("vm-{vmid}-disk"), &format!("base-{vmid}-disk"));
                }
            }
        }
    }
    // a guest being backed up, one with snapshots, one paused, firewall rules
    if let Some(g) = c.guests.get_mut(&133) {
        g.config.insert("lock".into(), json!("backup"));
    }
    if let Some(g) = c.guests.get_mut(&101) {
        let mut before = g.config.clone();
        before.insert("memory".into(), json!("4096"));
        g.snapshots.push(Snapshot {
            name: "before-upgrade".into(),
            description: "PostgreSQL 15".into(),
            snaptime: now - 86_400 * 3,
            vmstate: false,
            parent: None,
            config: before,
        });
        g.snapshots.push(Snapshot {
            name: "after-upgrade".into(),
            description: "PostgreSQL 16".into(),
            snaptime: now - 86_400,
            vmstate: false,
            parent: Some("before-upgrade".into()),
            config: g.config.clone(),
        });
        g.config.insert("parent".into(), json!("after-upgrade"));
    }
    if let Some(g) = c.guests.get_mut(&142) {
        g.power = Power::Paused;
    }
    if let Some(g) = c.guests.get_mut(&100) {
        for (i, (dport, comment)) in [("443", "https"), ("22", "ssh from office")]
            .iter()
            .enumerate()
        {
            let mut r = serde_json::Map::new();
            r.insert("pos".into(), json!(i));
            r.insert("type".into(), json!("in"));
            r.insert("action".into(), json!("ACCEPT"));
            r.insert("proto".into(), json!("tcp"));
            r.insert("dport".into(), json!(dport));
            r.insert("enable".into(), json!(1));
            r.insert("comment".into(), json!(comment));
            g.rules.push(r);
        }
    }
    c.volumes.push(Volume {
        volid: "nas:backup/vzdump-qemu-101-2026_01_10-02_00_01.vma.zst".into(),
        node: None,
        content: "backup".into(),
        format: "vma.zst".into(),
        size: 9 << 30,
        vmid: Some(101),
        ctime: now - 86_400 * 2,
        notes: Some("alice-db nightly".into()),
        protected: false,
        backup_of: c.guests.get(&101).map(|g| (Kind::Qemu, g.config.clone())),
    });

    user(&mut c, "alice@pve", "Alice", "Anders");
    user(&mut c, "bob@pve", "Bob", "Berg");
    user(&mut c, "carol@pve", "Carol", "Chen");
    c.groups.insert(
        "devs".into(),
        Group {
            comment: Some("Developers".into()),
            members: ["alice@pve".to_owned(), "bob@pve".to_owned()].into(),
        },
    );
    c.groups.insert(
        "ops".into(),
        Group {
            comment: Some("Operations".into()),
            members: ["carol@pve".to_owned()].into(),
        },
    );
    pool(
        &mut c,
        "DEV_alice_1",
        "Alice's lab",
        &[100, 101, 102, 103, 104],
        &[],
    );
    pool(
        &mut c,
        "DEV_bob_1",
        "Bob's lab",
        &[110, 111, 112, 113, 114],
        &[],
    );
    pool(
        &mut c,
        "DEV_devs_1",
        "Shared developer tools",
        &[120, 121, 122, 123, 124],
        &["nas"],
    );
    pool(
        &mut c,
        "OPS_ops_1",
        "Operations",
        &[130, 131, 132, 133],
        &[],
    );
    pool(&mut c, "TEMPLATES", "Golden images", &[9000, 9001], &[]);

    acl(
        &mut c,
        "/pool/DEV_alice_1",
        AclKind::User,
        "alice@pve",
        "PVEVMAdmin",
    );
    acl(
        &mut c,
        "/pool/DEV_bob_1",
        AclKind::User,
        "bob@pve",
        "PVEVMAdmin",
    );
    acl(
        &mut c,
        "/pool/DEV_devs_1",
        AclKind::Group,
        "devs",
        "PVEVMUser",
    );
    acl(
        &mut c,
        "/pool/DEV_alice_1",
        AclKind::User,
        "alice@pve",
        "PVEPoolUser",
    );
    acl(
        &mut c,
        "/pool/DEV_bob_1",
        AclKind::User,
        "bob@pve",
        "PVEPoolUser",
    );
    acl(
        &mut c,
        "/pool/DEV_devs_1",
        AclKind::Group,
        "devs",
        "PVEPoolUser",
    );
    acl(
        &mut c,
        "/pool/TEMPLATES",
        AclKind::Group,
        "devs",
        "PVETemplateUser",
    );
    acl(
        &mut c,
        "/storage/local-lvm",
        AclKind::Group,
        "devs",
        "PVEDatastoreUser",
    );
    acl(
        &mut c,
        "/sdn/zones/devzone",
        AclKind::Group,
        "devs",
        "PVESDNUser",
    );
    // The tenants' storages, as a real admin grants them: disks on local-lvm, ISO images,
    // templates and backups on local.
    for user in ["alice@pve", "bob@pve"] {
        for storage in ["/storage/local-lvm", "/storage/local"] {
            acl(&mut c, storage, AclKind::User, user, "PVEDatastoreUser");
        }
    }
    acl(&mut c, "/", AclKind::Group, "ops", "PVEAuditor");
    acl(&mut c, "/pool/OPS_ops_1", AclKind::Group, "ops", "PVEAdmin");

    add_token(&mut c, "alice@pve", "uma", secret(), true);
    acl(
        &mut c,
        "/pool/DEV_alice_1",
        AclKind::Token,
        "alice@pve!uma",
        "PVEVMAdmin",
    );
    acl(
        &mut c,
        "/pool/DEV_alice_1",
        AclKind::Token,
        "alice@pve!uma",
        "PVEPoolUser",
    );
    add_token(&mut c, "bob@pve", "uma", secret(), false);
    add_token(&mut c, "carol@pve", "uma", secret(), false);

    let mut zone = Config::new();
    zone.insert("type".into(), json!("simple"));
    zone.insert("ipam".into(), json!("pve"));
    c.sdn.zones.insert("devzone".into(), zone);
    let mut vnet = Config::new();
    vnet.insert("type".into(), json!("vnet"));
    vnet.insert("zone".into(), json!("devzone"));
    vnet.insert("alias".into(), json!("Developers network"));
    c.sdn.vnets.insert("devnet1".into(), vnet.clone());
    c.sdn.running_zones = c.sdn.zones.clone();
    c.sdn.running_vnets = c.sdn.vnets.clone();
    vnet.insert("alias".into(), json!("Bob test network (pending)"));
    c.sdn.vnets.insert("devnet2".into(), vnet);

    c.replication.insert(
        "101-0".into(),
        ReplJob {
            guest: 101,
            jobnum: 0,
            target: "pve2".into(),
            schedule: Some("*/15".into()),
            comment: Some("alice-db to pve2".into()),
            rate: None,
            disable: false,
        },
    );
    c
}

fn scale(now: i64, secret: &mut dyn FnMut() -> String) -> Cluster {
    let mut c = base();
    let nodes: Vec<String> = (1..=8).map(|i| format!("pve{i}")).collect();
    for (i, n) in nodes.iter().enumerate() {
        c.nodes
            .insert(n.clone(), node(n, 64, 512, i as u64 + 1, now));
    }
    base_storages(&mut c, true);
    if let Some(s) = c.storages.get_mut("local-lvm") {
        s.total = 16 << 40;
    }
    if let Some(s) = c.storages.get_mut("nas") {
        s.total = 512 << 40;
    }
    media_volumes(&mut c, "nas", None, now);
    for i in 0..2000u32 {
        let vmid = 1000 + i;
        let kind = if i % 10 < 7 { Kind::Qemu } else { Kind::Lxc };
        let node_name = &nodes[(i as usize) % nodes.len()];
        let name = format!("{}-{vmid}", if kind == Kind::Qemu { "vm" } else { "ct" });
        add_guest(
            &mut c,
            &Seed {
                vmid,
                kind,
                node: node_name,
                name: &name,
                cores: 1 + u64::from(i % 4),
                mem_mib: 512 << (i % 4),
                disk_gib: 8 + u64::from(i % 5) * 8,
                storage: if i % 3 == 0 { "nas" } else { "local-lvm" },
                running: i % 3 != 2,
                tags: None,
            },
            now,
        );
    }
    for u in 0..40u32 {
        let userid = format!("user{u:02}@pve");
        user(&mut c, &userid, "User", &format!("{u:02}"));
        let pool_name = format!("DEV_user{u:02}_1");
        let vms: Vec<u32> = (0..50).map(|k| 1000 + u * 50 + k).collect();
        pool(&mut c, &pool_name, "scale pool", &vms, &[]);
        acl(
            &mut c,
            &format!("/pool/{pool_name}"),
            AclKind::User,
            &userid,
            "PVEVMAdmin",
        );
        let path = format!("/pool/{pool_name}");
        acl(&mut c, &path, AclKind::User, &userid, "PVEPoolUser");
        add_token(&mut c, &userid, "uma", secret(), false);
    }
    c
}

/// Lists all tokens with their secrets.
pub(crate) fn tokens(c: &Cluster) -> Vec<TokenInfo> {
    c.tokens
        .values()
        .map(|t| TokenInfo {
            token_id: t.full_id(),
            secret: t.secret.clone(),
            privsep: t.privsep,
        })
        .collect()
}
