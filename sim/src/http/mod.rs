//! The API: one table of routes (method, path pattern, parameter schema, handler), a dispatcher that
//! authenticates, applies fault knobs, merges body and query parameters, validates them, and runs
//! the handler against the locked cluster; Proxmox's envelope and error shapes.

mod access;
mod cluster;
mod console;
mod guests;
mod nodes;
mod sdn;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use rand::Rng;
use serde_json::{json, Value};

use crate::acl::Auth;
use crate::error::{set_reason, ApiError};
use crate::model::{Cluster, Kind};
use crate::params::{compile, parse_specs, validate, Compiled, ParamSpec, Params};
use crate::SimState;

/// What a handler returns: `data`, and `total` for paged lists.
#[derive(Debug)]
pub(crate) struct Reply {
    data: Value,
    total: Option<usize>,
}

impl From<Value> for Reply {
    fn from(data: Value) -> Self {
        Self { data, total: None }
    }
}

/// Everything a handler may use.
pub(crate) struct Ctx<'a> {
    pub c: &'a mut Cluster,
    pub auth: &'a Auth,
    /// Base task duration, ms.
    pub task_ms: i64,
    /// QEMU or LXC for guest routes.
    pub kind: Kind,
    /// PEM of the server certificate (empty over plain HTTP), as `vncproxy` returns it.
    pub cert_pem: &'a str,
}

impl Ctx<'_> {
    /// 403 unless the caller has all (or any) of `privs` on `path`.
    pub fn check(&self, path: &str, privs: &[&str], any: bool) -> Result<(), ApiError> {
        crate::acl::check(self.c, self.auth, path, privs, any)
    }
    /// Whether the caller has any of `privs` on `path`.
    pub fn allowed(&self, path: &str, privs: &[&str]) -> bool {
        crate::acl::allowed(self.c, self.auth, path, privs)
    }
}

type Handler = fn(&mut Ctx<'_>, &Params) -> Result<Reply, ApiError>;

/// Put in a response's extensions: the listener closes the connection instead of answering
/// (what a client sees when pveproxy cannot reach a VNC proxy port).
#[derive(Debug, Clone, Copy)]
pub(crate) struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped without a response")
    }
}

impl std::error::Error for DropConnection {}

struct Route {
    method: Method,
    path: &'static str,
    params: &'static str,
    handler: Handler,
}

macro_rules! routes {
    ($($m:ident $p:literal $s:expr => $h:path;)*) => {
        vec![$(Route { method: Method::$m, path: $p, params: $s, handler: $h },)*]
    };
}

const QEMU_CONF: &str = "acpi:bool agent:str arch:enum(x86_64|aarch64) args:str autostart:bool \
balloon:int(0..) bios:enum(seabios|ovmf) boot:str cdrom:str cicustom:str cipassword:str \
citype:enum(configdrive2|nocloud|opennebula) ciupgrade:bool ciuser:str cores:int(1..) cpu:str \
cpulimit:num(0..128) cpuunits:int(1..262144) description:str efidisk0:str hostpci[n]:str hotplug:str \
hugepages:enum(any|2|1024) ide[n]:str ipconfig[n]:str kvm:bool localtime:bool machine:str memory:str \
name:str nameserver:str net[n]:str numa:bool onboot:bool \
ostype:enum(other|wxp|w2k|w2k3|w2k8|wvista|win7|win8|win10|win11|l24|l26|solaris) protection:bool \
rng0:str sata[n]:str scsi[n]:str \
scsihw:enum(lsi|lsi53c810|virtio-scsi-pci|virtio-scsi-single|megasas|pvscsi) searchdomain:str \
shares:int(0..50000) smbios1:str sockets:int(1..) sshkeys:str startup:str tablet:bool \
tags:str template:bool tpmstate0:str unused[n]:str usb[n]:str vcpus:int(1..) vga:str virtio[n]:str \
watchdog:str";

const LXC_CONF: &str = "arch:enum(amd64|i386|arm64|armhf|riscv32|riscv64) \
cmode:enum(shell|console|tty) console:bool cores:int(1..8192) cpulimit:num(0..8192) \
cpuunits:int(0..500000) description:str features:str hostname:str memory:int(16..) mp[n]:str \
nameserver:str net[n]:str onboot:bool \
ostype:enum(debian|devuan|ubuntu|centos|fedora|opensuse|archlinux|alpine|gentoo|nixos|unmanaged) \
protection:bool rootfs:str searchdomain:str startup:str swap:int(0..) tags:str template:bool \
timezone:str tty:int(0..6) unprivileged:bool unused[n]:str";

const QEMU_DISKS: &str = "enum(ide0..3|scsi0..30|virtio0..15|sata0..5|efidisk0|tpmstate0)";

const NV: &str = "node!:str vmid!:vmid";
const VNCWS: &str = "node!:str vmid!:vmid vncticket!:str port!:int(5900..5999)";
const TOKENID: &str = r"tokenid!:re((?^:[A-Za-z][A-Za-z0-9\.\-_]+))";
const REPL_ID: &str = r"id!:re([1-9][0-9]{2,8}-\d{1,9})";
const ALIAS: &str = r"alias:re((?^i:[\(\)-_.\w\d\s]{0,256}))";
const SIZE: &str = r"size!:re(\+?\d+(\.\d+)?[KMGT]?)";
const KEYS: &str = r"keys:re([0-9a-zA-Z!=]{0,4096})";
const RULE_ACTION: &str = r"[A-Za-z][A-Za-z0-9\-\_]+";
const QEMU_PATTERNS: &str = r"bootdisk:re((ide|sata|scsi|virtio)\d+) serial[n]:re((/dev/.+|socket)) vmgenid:re((?:[a-fA-F0-9]{8}(?:-[a-fA-F0-9]{4}){3}-[a-fA-F0-9]{12}|[01]))";
const RULE: &str = "comment:str dest:str digest:str dport:str enable:int(0..) icmp-type:str iface:str \
log:enum(emerg|alert|crit|err|warning|notice|info|debug|nolog) macro:str proto:str source:str sport:str";

fn table() -> Vec<Route> {
    use access as a;
    use cluster as c;
    use console as con;
    use guests as g;
    use nodes as n;
    let q_create: &'static str = leak_join(&[
        "node!:str vmid!:vmid archive:str force:bool pool:str start:bool storage:str unique:bool",
        QEMU_CONF,
        QEMU_PATTERNS,
    ]);
    let q_put: &'static str = leak_join(&[
        NV,
        "delete:str digest:str revert:str skiplock:bool force:bool",
        QEMU_CONF,
        QEMU_PATTERNS,
    ]);
    let q_post: &'static str = leak_join(&[
        NV,
        "delete:str digest:str revert:str skiplock:bool force:bool background_delay:int(1..30)",
        QEMU_CONF,
        QEMU_PATTERNS,
    ]);
    let l_create: &'static str = leak_join(&[
        "node!:str vmid!:vmid ostemplate!:str password:str pool:str restore:bool force:bool \
         ssh-public-keys:str start:bool storage:str unique:bool ignore-unpack-errors:bool",
        LXC_CONF,
    ]);
    let l_put: &'static str = leak_join(&[NV, "delete:str digest:str revert:str", LXC_CONF]);
    let rule_post: &'static str = leak_join(&[
        NV,
        &format!("action!:re({RULE_ACTION}) type!:enum(in|out|forward|group) pos:int(0..)"),
        RULE,
    ]);
    let rule_put: &'static str = leak_join(&[
        NV,
        &format!("pos:int(0..) action:re({RULE_ACTION}) type:enum(in|out|forward|group) moveto:int(0..) delete:str"),
        RULE,
    ]);
    let q_resize: &'static str = leak_join(&[
        NV,
        "digest:str skiplock:bool",
        SIZE,
        &format!("disk!:{QEMU_DISKS}"),
    ]);
    let l_resize: &'static str = leak_join(&[NV, "digest:str disk!:enum(rootfs|mp0..255)", SIZE]);
    routes! {
        GET "/version" "" => c::version;
        GET "/cluster/resources" "type:enum(vm|storage|node|sdn)" => c::resources;
        GET "/cluster/nextid" "vmid:vmid" => c::nextid;
        GET "/cluster/tasks" "" => c::tasks;
        GET "/cluster/replication" "" => c::repl_list;
        POST "/cluster/replication" leak_join(&[REPL_ID, "target!:str type!:enum(local) comment:str disable:bool rate:num(1..) remove_job:enum(local|full) schedule:str source:str"]) => c::repl_create;
        GET "/cluster/replication/{id}" REPL_ID => c::repl_get;
        PUT "/cluster/replication/{id}" leak_join(&[REPL_ID, "comment:str delete:str digest:str disable:bool rate:num(1..) remove_job:enum(local|full) schedule:str source:str"]) => c::repl_update;
        DELETE "/cluster/replication/{id}" leak_join(&[REPL_ID, "force:bool keep:bool"]) => c::repl_delete;
        GET "/cluster/sdn" "" => sdn::index;
        PUT "/cluster/sdn" "lock-token:str release-lock:bool" => sdn::apply;
        GET "/cluster/sdn/zones" "pending:bool running:bool type:enum(evpn|faucet|qinq|simple|vlan|vxlan)" => sdn::zones;
        POST "/cluster/sdn/zones" "zone!:str type!:enum(evpn|faucet|qinq|simple|vlan|vxlan) bridge:str ipam:str mtu:int nodes:str tag:int(0..) dhcp:enum(dnsmasq) dns:str dnszone:str reversedns:str lock-token:str" => sdn::zone_create;
        GET "/cluster/sdn/zones/{zone}" "zone!:str pending:bool running:bool" => sdn::zone_get;
        PUT "/cluster/sdn/zones/{zone}" "zone!:str bridge:str ipam:str mtu:int nodes:str tag:int(0..) dhcp:enum(dnsmasq) dns:str dnszone:str reversedns:str delete:str digest:str lock-token:str" => sdn::zone_update;
        DELETE "/cluster/sdn/zones/{zone}" "zone!:str lock-token:str" => sdn::zone_delete;
        GET "/cluster/sdn/vnets" "pending:bool running:bool" => sdn::vnets;
        POST "/cluster/sdn/vnets" leak_join(&[ALIAS, "vnet!:str zone!:str tag:int(1..16777215) type:enum(vnet) vlanaware:bool isolate-ports:bool lock-token:str"]) => sdn::vnet_create;
        GET "/cluster/sdn/vnets/{vnet}" "vnet!:str pending:bool running:bool" => sdn::vnet_get;
        PUT "/cluster/sdn/vnets/{vnet}" leak_join(&[ALIAS, "vnet!:str tag:int(1..16777215) zone:str vlanaware:bool isolate-ports:bool delete:str digest:str lock-token:str"]) => sdn::vnet_update;
        DELETE "/cluster/sdn/vnets/{vnet}" "vnet!:str lock-token:str" => sdn::vnet_delete;

        GET "/pools" "poolid:str type:enum(qemu|lxc|storage)" => a::pools;
        POST "/pools" "poolid!:str comment:str" => a::pool_create;
        PUT "/pools" "poolid!:str comment:str delete:bool storage:str vms:str allow-move:bool" => a::pool_update;
        DELETE "/pools" "poolid!:str" => a::pool_delete;
        GET "/pools/{poolid}" "poolid!:str type:enum(qemu|lxc|storage)" => a::pool_get;
        PUT "/pools/{poolid}" "poolid!:str comment:str delete:bool storage:str vms:str allow-move:bool" => a::pool_update;
        DELETE "/pools/{poolid}" "poolid!:str" => a::pool_delete;

        GET "/access/users" "enabled:bool full:bool" => a::users;
        POST "/access/users" leak_join(&[KEYS, "userid!:str comment:str email:str enable:bool expire:int(0..) firstname:str groups:str lastname:str password:str"]) => a::user_create;
        GET "/access/users/{userid}" "userid!:str" => a::user_get;
        PUT "/access/users/{userid}" leak_join(&[KEYS, "userid!:str append:bool comment:str email:str enable:bool expire:int(0..) firstname:str groups:str lastname:str"]) => a::user_update;
        DELETE "/access/users/{userid}" "userid!:str" => a::user_delete;
        GET "/access/users/{userid}/token" "userid!:str" => a::tokens;
        GET "/access/users/{userid}/token/{tokenid}" leak_join(&[TOKENID, "userid!:str"]) => a::token_get;
        POST "/access/users/{userid}/token/{tokenid}" leak_join(&[TOKENID, "userid!:str comment:str expire:int(0..) privsep:bool"]) => a::token_create;
        PUT "/access/users/{userid}/token/{tokenid}" leak_join(&[TOKENID, "userid!:str comment:str expire:int(0..) privsep:bool"]) => a::token_update;
        DELETE "/access/users/{userid}/token/{tokenid}" leak_join(&[TOKENID, "userid!:str"]) => a::token_delete;
        GET "/access/groups" "" => a::groups;
        POST "/access/groups" "groupid!:str comment:str" => a::group_create;
        GET "/access/groups/{groupid}" "groupid!:str" => a::group_get;
        PUT "/access/groups/{groupid}" "groupid!:str comment:str" => a::group_update;
        DELETE "/access/groups/{groupid}" "groupid!:str" => a::group_delete;
        GET "/access/roles" "" => a::roles;
        POST "/access/roles" "roleid!:str privs:str" => a::role_create;
        GET "/access/roles/{roleid}" "roleid!:str" => a::role_get;
        PUT "/access/roles/{roleid}" "roleid!:str privs:str append:bool" => a::role_update;
        DELETE "/access/roles/{roleid}" "roleid!:str" => a::role_delete;
        GET "/access/acl" "" => a::acl_list;
        PUT "/access/acl" "path!:str roles!:str users:str groups:str tokens:str propagate:bool delete:bool" => a::acl_update;
        GET "/access/permissions" r"path:str userid:re((?^:^(?^:[^\s:/]+)\@(?^:[A-Za-z][A-Za-z0-9\.\-_]+)(?:!(?^:[A-Za-z][A-Za-z0-9\.\-_]+))?$))" => a::permissions;

        GET "/nodes" "" => n::list;
        GET "/nodes/{node}/status" "node!:str" => n::status;
        GET "/nodes/{node}/rrddata" "node!:str timeframe!:enum(hour|day|week|month|year|decade) cf:enum(AVERAGE|MAX)" => n::rrddata;
        GET "/nodes/{node}/storage" "node!:str content:str enabled:bool format:bool storage:str target:str" => n::storage_list;
        GET "/nodes/{node}/storage/{storage}" "node!:str storage!:str" => n::storage_index;
        GET "/nodes/{node}/storage/{storage}/status" "node!:str storage!:str" => n::storage_status;
        GET "/nodes/{node}/storage/{storage}/content" "node!:str storage!:str content:str vmid:vmid" => n::content_list;
        POST "/nodes/{node}/status" "node!:str command!:enum(reboot|shutdown)" => n::node_power;
        POST "/nodes/{node}/storage/{storage}/content" r"node!:str storage!:str filename!:str size!:re(\d+[MG]?) vmid!:vmid format:enum(raw|qcow2|subvol|vmdk)" => n::content_alloc;
        GET "/nodes/{node}/storage/{storage}/content/{volume}" "node!:str storage:str volume!:str" => n::content_get;
        POST "/nodes/{node}/storage/{storage}/content/{volume}" "node!:str storage:str volume!:str target!:str target_node:str" => n::content_copy;
        PUT "/nodes/{node}/storage/{storage}/content/{volume}" "node!:str storage:str volume!:str notes:str protected:bool" => n::content_update;
        DELETE "/nodes/{node}/storage/{storage}/content/{volume}" "node!:str storage:str volume!:str delay:int(1..30)" => n::content_delete;
        GET "/nodes/{node}/tasks" "node!:str errors:bool limit:int(0..) start:int(0..) source:enum(archive|active|all) typefilter:str userfilter:str vmid:vmid since:int until:int statusfilter:str" => n::tasks;
        GET "/nodes/{node}/tasks/{upid}" "node!:str upid!:str" => n::task_index;
        DELETE "/nodes/{node}/tasks/{upid}" "node!:str upid!:str" => n::task_stop;
        GET "/nodes/{node}/tasks/{upid}/status" "node!:str upid!:str" => n::task_status;
        GET "/nodes/{node}/tasks/{upid}/log" "node!:str upid!:str limit:int(0..) start:int(0..) download:bool" => n::task_log;
        POST "/nodes/{node}/vzdump" "node:str vmid:str all:bool storage:str mode:enum(snapshot|suspend|stop) compress:enum(0|1|gzip|lzo|zstd) notes-template:str remove:bool protected:bool pool:str" => n::vzdump;
        GET "/nodes/{node}/vzdump/extractconfig" "node!:str volume!:str" => n::extractconfig;

        GET "/nodes/{node}/qemu" "node!:str full:bool" => g::list;
        POST "/nodes/{node}/qemu" q_create => g::create;
        GET "/nodes/{node}/qemu/{vmid}" NV => g::index;
        DELETE "/nodes/{node}/qemu/{vmid}" "node!:str vmid!:vmid purge:bool destroy-unreferenced-disks:bool skiplock:bool" => g::destroy;
        GET "/nodes/{node}/qemu/{vmid}/config" "node!:str vmid!:vmid current:bool snapshot:str" => g::config_get;
        PUT "/nodes/{node}/qemu/{vmid}/config" q_put => g::config_put;
        POST "/nodes/{node}/qemu/{vmid}/config" q_post => g::config_post;
        GET "/nodes/{node}/qemu/{vmid}/pending" NV => g::pending;
        PUT "/nodes/{node}/qemu/{vmid}/resize" q_resize => g::resize;
        POST "/nodes/{node}/qemu/{vmid}/template" NV => g::template;
        POST "/nodes/{node}/qemu/{vmid}/clone" "node!:str vmid!:vmid newid!:vmid name:str description:str full:bool pool:str snapname:str storage:str target:str format:enum(raw|qcow2|vmdk) bwlimit:int(0..)" => g::clone;
        GET "/nodes/{node}/qemu/{vmid}/rrddata" "node!:str vmid!:vmid timeframe!:enum(hour|day|week|month|year) cf:enum(AVERAGE|MAX)" => g::rrddata;
        GET "/nodes/{node}/qemu/{vmid}/status" NV => g::status_index;
        GET "/nodes/{node}/qemu/{vmid}/status/current" NV => g::status_current;
        POST "/nodes/{node}/qemu/{vmid}/status/start" "node!:str vmid!:vmid skiplock:bool timeout:int(0..)" => g::start;
        POST "/nodes/{node}/qemu/{vmid}/status/stop" "node!:str vmid!:vmid skiplock:bool timeout:int(0..) keepActive:bool overrule-shutdown:bool" => g::stop;
        POST "/nodes/{node}/qemu/{vmid}/status/shutdown" "node!:str vmid!:vmid forceStop:bool timeout:int(0..) skiplock:bool keepActive:bool" => g::shutdown;
        POST "/nodes/{node}/qemu/{vmid}/status/reboot" "node!:str vmid!:vmid timeout:int(0..)" => g::reboot;
        POST "/nodes/{node}/qemu/{vmid}/status/reset" "node!:str vmid!:vmid skiplock:bool" => g::reset;
        POST "/nodes/{node}/qemu/{vmid}/status/suspend" "node!:str vmid!:vmid skiplock:bool todisk:bool" => g::suspend;
        POST "/nodes/{node}/qemu/{vmid}/status/resume" "node!:str vmid!:vmid skiplock:bool nocheck:bool" => g::resume;
        GET "/nodes/{node}/qemu/{vmid}/snapshot" NV => g::snapshots;
        POST "/nodes/{node}/qemu/{vmid}/snapshot" "node!:str vmid!:vmid snapname!:str description:str vmstate:bool" => g::snapshot_create;
        GET "/nodes/{node}/qemu/{vmid}/snapshot/{snapname}" "node!:str vmid!:vmid snapname!:str" => g::snapshot_index;
        DELETE "/nodes/{node}/qemu/{vmid}/snapshot/{snapname}" "node!:str vmid!:vmid snapname!:str force:bool" => g::snapshot_delete;
        GET "/nodes/{node}/qemu/{vmid}/snapshot/{snapname}/config" "node!:str vmid!:vmid snapname!:str" => g::snapshot_config;
        PUT "/nodes/{node}/qemu/{vmid}/snapshot/{snapname}/config" "node!:str vmid!:vmid snapname!:str description:str" => g::snapshot_update;
        POST "/nodes/{node}/qemu/{vmid}/snapshot/{snapname}/rollback" "node!:str vmid!:vmid snapname!:str start:bool" => g::rollback;
        GET "/nodes/{node}/qemu/{vmid}/firewall/rules" NV => g::rules;
        POST "/nodes/{node}/qemu/{vmid}/firewall/rules" rule_post => g::rule_create;
        GET "/nodes/{node}/qemu/{vmid}/firewall/rules/{pos}" "node!:str vmid!:vmid pos:int(0..)" => g::rule_get;
        PUT "/nodes/{node}/qemu/{vmid}/firewall/rules/{pos}" rule_put => g::rule_update;
        DELETE "/nodes/{node}/qemu/{vmid}/firewall/rules/{pos}" "node!:str vmid!:vmid pos:int(0..) digest:str" => g::rule_delete;
        POST "/nodes/{node}/qemu/{vmid}/vncproxy" "node!:str vmid!:vmid websocket:bool generate-password:bool" => con::vncproxy;
        GET "/nodes/{node}/qemu/{vmid}/vncwebsocket" VNCWS => con::vncwebsocket;

        GET "/nodes/{node}/lxc" "node!:str" => g::list;
        POST "/nodes/{node}/lxc" l_create => g::create;
        GET "/nodes/{node}/lxc/{vmid}" NV => g::index;
        DELETE "/nodes/{node}/lxc/{vmid}" "node!:str vmid!:vmid purge:bool destroy-unreferenced-disks:bool force:bool" => g::destroy;
        GET "/nodes/{node}/lxc/{vmid}/config" "node!:str vmid!:vmid current:bool snapshot:str" => g::config_get;
        PUT "/nodes/{node}/lxc/{vmid}/config" l_put => g::config_put;
        GET "/nodes/{node}/lxc/{vmid}/pending" NV => g::pending;
        PUT "/nodes/{node}/lxc/{vmid}/resize" l_resize => g::resize;
        POST "/nodes/{node}/lxc/{vmid}/template" NV => g::template;
        POST "/nodes/{node}/lxc/{vmid}/clone" "node!:str vmid!:vmid newid!:vmid hostname:str description:str full:bool pool:str snapname:str storage:str target:str bwlimit:num(0..)" => g::clone;
        GET "/nodes/{node}/lxc/{vmid}/rrddata" "node!:str vmid!:vmid timeframe!:enum(hour|day|week|month|year) cf:enum(AVERAGE|MAX)" => g::rrddata;
        GET "/nodes/{node}/lxc/{vmid}/status" NV => g::status_index;
        GET "/nodes/{node}/lxc/{vmid}/status/current" NV => g::status_current;
        POST "/nodes/{node}/lxc/{vmid}/status/start" "node!:str vmid!:vmid skiplock:bool debug:bool" => g::start;
        POST "/nodes/{node}/lxc/{vmid}/status/stop" "node!:str vmid!:vmid skiplock:bool overrule-shutdown:bool" => g::stop;
        POST "/nodes/{node}/lxc/{vmid}/status/shutdown" "node!:str vmid!:vmid forceStop:bool timeout:int(0..)" => g::shutdown;
        POST "/nodes/{node}/lxc/{vmid}/status/reboot" "node!:str vmid!:vmid timeout:int(0..)" => g::reboot;
        POST "/nodes/{node}/lxc/{vmid}/status/suspend" NV => g::suspend;
        POST "/nodes/{node}/lxc/{vmid}/status/resume" NV => g::resume;
        GET "/nodes/{node}/lxc/{vmid}/snapshot" NV => g::snapshots;
        POST "/nodes/{node}/lxc/{vmid}/snapshot" "node!:str vmid!:vmid snapname!:str description:str" => g::snapshot_create;
        GET "/nodes/{node}/lxc/{vmid}/snapshot/{snapname}" "node!:str vmid!:vmid snapname!:str" => g::snapshot_index;
        DELETE "/nodes/{node}/lxc/{vmid}/snapshot/{snapname}" "node!:str vmid!:vmid snapname!:str force:bool" => g::snapshot_delete;
        GET "/nodes/{node}/lxc/{vmid}/snapshot/{snapname}/config" "node!:str vmid!:vmid snapname!:str" => g::snapshot_config;
        PUT "/nodes/{node}/lxc/{vmid}/snapshot/{snapname}/config" "node!:str vmid!:vmid snapname!:str description:str" => g::snapshot_update;
        POST "/nodes/{node}/lxc/{vmid}/snapshot/{snapname}/rollback" "node!:str vmid!:vmid snapname!:str start:bool" => g::rollback;
        GET "/nodes/{node}/lxc/{vmid}/firewall/rules" NV => g::rules;
        POST "/nodes/{node}/lxc/{vmid}/firewall/rules" rule_post => g::rule_create;
        GET "/nodes/{node}/lxc/{vmid}/firewall/rules/{pos}" "node!:str vmid!:vmid pos:int(0..)" => g::rule_get;
        PUT "/nodes/{node}/lxc/{vmid}/firewall/rules/{pos}" rule_put => g::rule_update;
        DELETE "/nodes/{node}/lxc/{vmid}/firewall/rules/{pos}" "node!:str vmid!:vmid pos:int(0..) digest:str" => g::rule_delete;
        POST "/nodes/{node}/lxc/{vmid}/vncproxy" "node!:str vmid!:vmid websocket:bool width:int(16..4096) height:int(16..2160)" => con::vncproxy;
        GET "/nodes/{node}/lxc/{vmid}/vncwebsocket" VNCWS => con::vncwebsocket;
    }
}

/// Joins spec fragments once, for the lifetime of the process (the table is built once).
fn leak_join(parts: &[&str]) -> &'static str {
    static CACHE: std::sync::OnceLock<parking_lot::Mutex<BTreeMap<String, &'static str>>> =
        std::sync::OnceLock::new();
    let joined = parts.join(" ");
    let cache = CACHE.get_or_init(Default::default);
    let mut guard = cache.lock();
    if let Some(s) = guard.get(&joined) {
        return s;
    }
    let s: &'static str = Box::leak(joined.clone().into_boxed_str());
    guard.insert(joined, s);
    s
}

/// A served endpoint and its declared parameters, for documentation and conformance tests.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// HTTP method.
    pub method: String,
    /// Path pattern under `/api2/json`, e.g. `/nodes/{node}/qemu`.
    pub path: String,
    /// Declared parameters (path parameters included).
    pub params: Vec<ParamSpec>,
}

/// Every endpoint the simulator serves, with its parameter schema.
pub fn catalog() -> Vec<Endpoint> {
    table()
        .into_iter()
        .map(|r| Endpoint {
            method: r.method.to_string(),
            path: r.path.to_owned(),
            params: parse_specs(r.params),
        })
        .collect()
}

struct CompiledRoute {
    route: Route,
    segments: Vec<&'static str>,
    specs: Vec<Compiled>,
}

/// The routing table, compiled once per simulator.
pub(crate) struct Api {
    routes: Vec<CompiledRoute>,
}

impl Api {
    pub fn new() -> Self {
        let routes = table()
            .into_iter()
            .map(|route| CompiledRoute {
                segments: route.path.split('/').filter(|s| !s.is_empty()).collect(),
                specs: compile(parse_specs(route.params)),
                route,
            })
            .collect();
        Self { routes }
    }
}

fn match_path(segments: &[&str], parts: &[String]) -> Option<BTreeMap<String, String>> {
    if segments.len() != parts.len() {
        return None;
    }
    let mut vars = BTreeMap::new();
    for (seg, part) in segments.iter().zip(parts) {
        if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            vars.insert(name.to_owned(), part.clone());
        } else if seg != part {
            return None;
        }
    }
    Some(vars)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz");
            if let Ok(b) = u8::from_str_radix(hex, 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(crate) fn router(state: Arc<SimState>) -> Router {
    Router::new().fallback(dispatch).with_state(state)
}

fn json_response(status: StatusCode, body: Value) -> Response {
    let mut resp = (status, Json(body)).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    resp
}

fn error_response(err: ApiError) -> Response {
    let mut resp = err.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    resp
}

fn unauthorized(reason: &str) -> Response {
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::UNAUTHORIZED;
    set_reason(&mut resp, reason);
    resp
}

fn authenticate(c: &Cluster, header_value: Option<&str>) -> Result<Auth, &'static str> {
    let raw = header_value
        .and_then(|v| {
            v.strip_prefix("PVEAPIToken=")
                .or_else(|| v.strip_prefix("PVEAPIToken "))
        })
        .ok_or("No ticket")?;
    let (id, secret) = raw.split_once('=').ok_or("No ticket")?;
    let token = c.tokens.get(id).ok_or("Authentication failed!")?;
    let user_ok = c.users.get(&token.userid).is_some_and(|u| u.enable);
    let now = crate::model::now_secs();
    if token.secret != secret || !user_ok || (token.expire != 0 && token.expire < now) {
        return Err("Authentication failed!");
    }
    Ok(Auth {
        userid: token.userid.clone(),
        tokenid: Some(id.to_owned()),
        privsep: token.privsep,
    })
}

fn merge_body(
    raw: &mut BTreeMap<String, Value>,
    content_type: &str,
    body: &[u8],
) -> Result<(), ApiError> {
    if body.is_empty() {
        return Ok(());
    }
    if content_type.starts_with("application/json") {
        let v: Value = serde_json::from_slice(body).map_err(|e| {
            ApiError::with_status(StatusCode::BAD_REQUEST, format!("JSON decode failed: {e}"))
        })?;
        if let Value::Object(map) = v {
            raw.extend(map);
        }
        return Ok(());
    }
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).unwrap_or_default();
    raw.extend(pairs.into_iter().map(|(k, v)| (k, Value::String(v))));
    Ok(())
}

async fn dispatch(State(state): State<Arc<SimState>>, req: Request) -> Response {
    let faults = state.faults.read().clone();
    if faults.api_down {
        let mut resp = Response::new(Body::empty());
        *resp.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        return resp;
    }
    let (mut parts, body) = req.into_parts();
    let on_upgrade = parts.extensions.remove::<hyper::upgrade::OnUpgrade>();
    let method = parts.method.clone();
    let full_path = parts.uri.path().to_owned();
    let Some(path) = full_path.strip_prefix("/api2/json") else {
        return error_response(ApiError::not_implemented(method.as_str(), &full_path));
    };
    let path = if path.is_empty() { "/" } else { path }.to_owned();
    *state
        .requests
        .lock()
        .entry(format!("{method} {path}"))
        .or_default() += 1;

    let auth_header = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let auth = {
        let c = state.cluster.lock();
        authenticate(&c, auth_header.as_deref())
    };
    let auth = match auth {
        Ok(a) => a,
        Err(reason) => {
            if !state.auth_failure_delay.is_zero() {
                tokio::time::sleep(state.auth_failure_delay).await;
            }
            return unauthorized(reason);
        }
    };

    if !faults.latency.is_zero() {
        tokio::time::sleep(faults.latency).await;
    }
    if faults.error_rate > 0.0 && rand::thread_rng().gen::<f64>() < faults.error_rate {
        return error_response(ApiError::die("simulated failure (pve-sim error_rate)"));
    }

    let body = match to_bytes(body, 16 << 20).await {
        Ok(b) => b,
        Err(_) => {
            return error_response(ApiError::with_status(
                StatusCode::PAYLOAD_TOO_LARGE,
                "request too large",
            ))
        }
    };
    if method == Method::DELETE && !body.is_empty() {
        return error_response(ApiError::with_status(
            StatusCode::NOT_IMPLEMENTED,
            "Unexpected content for method 'DELETE'",
        ));
    }

    let parts_vec: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect();
    let found = state.api.routes.iter().find_map(|r| {
        (r.route.method == method)
            .then(|| match_path(&r.segments, &parts_vec).map(|v| (r, v)))
            .flatten()
    });
    let Some((route, vars)) = found else {
        return error_response(ApiError::not_implemented(method.as_str(), &path));
    };

    let mut raw: BTreeMap<String, Value> = BTreeMap::new();
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/x-www-form-urlencoded")
        .to_owned();
    if let Err(e) = merge_body(&mut raw, &content_type, &body) {
        return error_response(e);
    }
    if let Some(q) = parts.uri.query() {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(q).unwrap_or_default();
        raw.extend(pairs.into_iter().map(|(k, v)| (k, Value::String(v))));
    }
    raw.extend(vars.into_iter().map(|(k, v)| (k, Value::String(v))));
    let params = match validate(&route.specs, raw) {
        Ok(p) => p,
        Err(e) => return error_response(e),
    };

    let kind = if route.segments.get(2) == Some(&"lxc") {
        Kind::Lxc
    } else {
        Kind::Qemu
    };
    let task_ms = i64::try_from(state.task_duration.read().as_millis()).unwrap_or(i64::MAX);
    let result = {
        let mut c = state.cluster.lock();
        let ended = c.tick();
        let result = if let Some(node) = params
            .str("node")
            .filter(|_| route.segments.first() == Some(&"nodes"))
        {
            match c.nodes.get(node) {
                None => Err(c
                    .node(node)
                    .err()
                    .unwrap_or_else(|| ApiError::die("no such node"))),
                Some(n) if !n.online => Err(ApiError::with_status(
                    StatusCode::from_u16(595).unwrap_or(StatusCode::BAD_GATEWAY),
                    "No route to host",
                )),
                Some(_) => Ok(()),
            }
        } else {
            Ok(())
        }
        .and_then(|()| {
            let mut ctx = Ctx {
                c: &mut c,
                auth: &auth,
                task_ms,
                kind,
                cert_pem: state.cert_pem.get().map_or("", String::as_str),
            };
            (route.route.handler)(&mut ctx, &params)
        });
        if let Some(path) = &state.state_file {
            if ended || (method != Method::GET && result.is_ok()) {
                state.persist(path, &c);
            }
        }
        result
    };
    let websocket = method == Method::GET
        && route.route.path.ends_with("/vncwebsocket")
        && parts.headers.contains_key(header::UPGRADE);
    if websocket && result.is_ok() {
        let port = params
            .int("port")
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or(0);
        return console::upgrade(&state, &parts.headers, on_upgrade, port);
    }
    match result {
        Ok(reply) => {
            let mut body = json!({ "data": reply.data });
            if let Some(total) = reply.total {
                body["total"] = json!(total);
            }
            json_response(StatusCode::OK, body)
        }
        Err(e) => {
            // pveproxy delays every 401, ticket refusals included
            if e.status == StatusCode::UNAUTHORIZED && !state.auth_failure_delay.is_zero() {
                tokio::time::sleep(state.auth_failure_delay).await;
            }
            error_response(e)
        }
    }
}

/// Helpers shared by handlers.
pub(crate) fn null() -> Result<Reply, ApiError> {
    Ok(Value::Null.into())
}

/// Splits a Proxmox list parameter (`a,b;c d`).
pub(crate) fn split_list(s: &str) -> Vec<String> {
    s.split(|c: char| c == ',' || c == ';' || c.is_whitespace() || c == '\0')
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect()
}
