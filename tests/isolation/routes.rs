//! The permission table of every route and every event. The routes are read from the router's
//! source (`src/http/*.rs`, `src/console.rs`: each `.route(...)` and its methods) and the events
//! from the event catalogue (`EVENTS` of each realtime module), so a new route or event without
//! a row here fails the test. Each row says who may call it; the test then plays an anonymous
//! caller and mallory — signed in, no rights, no pools — against alice's objects, and checks the
//! refusal and that the simulator did not change.

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use super::harness::{app, quiet, sim_state, Db, Tenant};
use crate::support::browser::Browser;
use crate::support::on_both;
use crate::support::sio::{Connect, PollingSocket};
use crate::support::TestApp;

on_both!(every_route_and_event_is_refused_to_those_it_is_not_for);

/// Who a route or event is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// Anyone, signed in or not (health, assets, sign-in).
    Open,
    /// Signed-in users, each for what is theirs (lists filtered to what they may see).
    Signed,
    /// Administrators.
    Admin,
    /// Names alice's object: mallory gets this status (API) or error code (events).
    Theirs(u16),
    /// A route that makes its own checks (the console WebSocket): no anonymous success.
    Own,
}

struct Row {
    method: &'static str,
    path: &'static str,
    /// The concrete path with query, `{}` already filled in.
    call: String,
    body: Option<Value>,
    access: Access,
}

struct Ev {
    name: &'static str,
    data: Value,
    access: Access,
}

/// Alice's objects the rows name.
struct Ctx {
    group: String,
    message: String,
    bob_id: String,
    hardware: String,
    upid: String,
    /// Alice's upload: its id and its stored name.
    upload: (String, String),
    /// One of alice's sessions.
    alice_session: String,
    /// Alice's API token's id.
    alice_token: String,
}

fn r(
    method: &'static str,
    path: &'static str,
    call: impl Into<String>,
    body: Option<Value>,
    access: Access,
) -> Row {
    Row {
        method,
        path,
        call: call.into(),
        body,
        access,
    }
}

fn rows(c: &Ctx) -> Vec<Row> {
    use Access::{Admin, Open, Own, Signed, Theirs};
    let g = &c.group;
    let hw = &c.hardware;
    let upid = urlencode(&c.upid);
    let (upload_id, upload_name) = &c.upload;
    let body = |v: Value| Some(v);
    vec![
        // Sign-in, pages, assets, health.
        r("GET", "/healthz", "/healthz", None, Open),
        r("GET", "/readyz", "/readyz", None, Open),
        r(
            "GET",
            "/assets/{*path}",
            "/assets/nothing-here.js",
            None,
            Open,
        ),
        r("GET", "/", "/", None, Open),
        r("GET", "/login", "/login", None, Open),
        r("POST", "/login", "/login", None, Open),
        r("POST", "/logout", "/logout", None, Open),
        r("POST", "/api/login", "/api/login", body(json!({})), Open),
        r("POST", "/api/logout", "/api/logout", body(json!({})), Open),
        r("GET", "/api/auth", "/api/auth", None, Open),
        r("GET", "/api/user", "/api/user", None, Open),
        // OpenID Connect sign-in: the state and the provider are the permission (tests/oidc.rs).
        r(
            "GET",
            "/api/auth/oidc/{provider}/start",
            "/api/auth/oidc/none/start",
            None,
            Open,
        ),
        r(
            "GET",
            "/api/auth/oidc/{provider}/callback",
            "/api/auth/oidc/none/callback?code=x&state=y",
            None,
            Open,
        ),
        // One-time password links: the link's token is the permission (tests/users.rs).
        r("GET", "/password-reset", "/password-reset", None, Open),
        r(
            "POST",
            "/api/password-reset/check",
            "/api/password-reset/check",
            body(json!({ "token": "made-up" })),
            Open,
        ),
        r(
            "POST",
            "/api/password-reset",
            "/api/password-reset",
            body(json!({ "token": "made-up", "password": "long-enough-1" })),
            Open,
        ),
        r(
            "POST",
            "/api/account/password",
            "/api/account/password",
            body(json!({ "current": "wrong", "password": "long-enough-1" })),
            Signed,
        ),
        r("GET", "/api/profile", "/api/profile", None, Signed),
        r(
            "GET",
            "/login/second-factor",
            "/login/second-factor",
            None,
            Open,
        ),
        // Second factors: a sign-in waiting for its code, or one's own (tests/factors.rs).
        r(
            "POST",
            "/api/login/mfa",
            "/api/login/mfa",
            body(json!({ "code": "123456" })),
            Open,
        ),
        r(
            "GET",
            "/api/auth/factors",
            "/api/auth/factors",
            None,
            Signed,
        ),
        // Setting up an app: one's own, or a sign-in's the policy sent to set one up.
        r(
            "POST",
            "/api/auth/totp",
            "/api/auth/totp",
            body(json!({})),
            Own,
        ),
        r(
            "DELETE",
            "/api/auth/totp",
            "/api/auth/totp",
            body(json!({ "code": "123456" })),
            Own,
        ),
        r(
            "POST",
            "/api/auth/totp/confirm",
            "/api/auth/totp/confirm",
            body(json!({ "code": "123456" })),
            Own,
        ),
        r(
            "POST",
            "/api/auth/recovery-codes",
            "/api/auth/recovery-codes",
            body(json!({ "code": "123456" })),
            Signed,
        ),
        r(
            "POST",
            "/api/auth/step-up",
            "/api/auth/step-up",
            body(json!({ "code": "123456" })),
            Signed,
        ),
        // Passkeys: one's own, or a sign-in's the policy sent to set one up (tests/passkeys.rs).
        r(
            "POST",
            "/api/auth/passkeys/register",
            "/api/auth/passkeys/register",
            body(json!({})),
            Own,
        ),
        r(
            "POST",
            "/api/auth/passkeys",
            "/api/auth/passkeys",
            body(json!({ "ceremonyId": "x", "credential": {} })),
            Own,
        ),
        r(
            "POST",
            "/api/auth/passkeys/challenge",
            "/api/auth/passkeys/challenge",
            body(json!({})),
            Own,
        ),
        r(
            "PATCH",
            "/api/auth/passkeys/{id}",
            "/api/auth/passkeys/pk_alices",
            body(json!({ "name": "mallory's" })),
            Theirs(404),
        ),
        r(
            "DELETE",
            "/api/auth/passkeys/{id}",
            "/api/auth/passkeys/pk_alices",
            None,
            Theirs(404),
        ),
        r(
            "POST",
            "/api/login/passkey/options",
            "/api/login/passkey/options",
            body(json!({})),
            Open,
        ),
        r(
            "POST",
            "/api/login/passkey",
            "/api/login/passkey",
            body(json!({ "ceremonyId": "x", "credential": {} })),
            Open,
        ),
        r("GET", "/api/settings/mfa", "/api/settings/mfa", None, Admin),
        r(
            "PUT",
            "/api/settings/mfa",
            "/api/settings/mfa",
            body(json!({ "require": "everyone" })),
            Admin,
        ),
        r(
            "DELETE",
            "/api/admin/users/{username}/factors",
            "/api/admin/users/alice/factors",
            None,
            Admin,
        ),
        // API tokens: one's own (tests/tokens.rs).
        r("GET", "/api/tokens", "/api/tokens", None, Signed),
        r(
            "POST",
            "/api/tokens",
            "/api/tokens",
            body(json!({ "name": "mallory's", "scope": "read" })),
            Signed,
        ),
        r(
            "DELETE",
            "/api/tokens/{id}",
            format!("/api/tokens/{}", c.alice_token),
            None,
            Theirs(404),
        ),
        r("GET", "/api/admin/tokens", "/api/admin/tokens", None, Admin),
        r(
            "DELETE",
            "/api/admin/tokens/{id}",
            format!("/api/admin/tokens/{}", c.alice_token),
            None,
            Admin,
        ),
        r(
            "GET",
            "/api/directory/search",
            "/api/directory/search?kind=user&q=al",
            None,
            Signed,
        ),
        r(
            "GET",
            "/api/settings/access/check",
            "/api/settings/access/check?username=alice",
            None,
            Admin,
        ),
        r(
            "PUT",
            "/api/profile",
            "/api/profile",
            body(json!({ "theme": "dark" })),
            Signed,
        ),
        r("GET", "/dashboard", "/dashboard", None, Signed),
        r("GET", "/docs", "/docs", None, Signed),
        r("GET", "/docs/{id}", "/docs/0123456789abcdef", None, Signed),
        r(
            "GET",
            "/pools/{pool}",
            "/pools/DEV_alice_1",
            None,
            Theirs(404),
        ),
        r("GET", "/guests/{vmid}", "/guests/100", None, Theirs(404)),
        r(
            "GET",
            "/guests/{vmid}/console",
            "/guests/100/console",
            None,
            Theirs(404),
        ),
        r("GET", "/create", "/create", None, Signed),
        r("GET", "/sdn", "/sdn", None, Signed),
        r("GET", "/whiteboard", "/whiteboard", None, Signed),
        r("GET", "/admin", "/admin", None, Admin),
        r("GET", "/admin/pools", "/admin/pools", None, Admin),
        r("GET", "/admin/limits", "/admin/limits", None, Admin),
        r("GET", "/admin/acl", "/admin/acl", None, Admin),
        r("GET", "/admin/consoles", "/admin/consoles", None, Admin),
        r(
            "GET",
            "/admin/notifications",
            "/admin/notifications",
            None,
            Admin,
        ),
        r("GET", "/admin/docs", "/admin/docs", None, Admin),
        r("GET", "/admin/audit", "/admin/audit", None, Admin),
        r("GET", "/admin/users", "/admin/users", None, Admin),
        r("GET", "/admin/sessions", "/admin/sessions", None, Admin),
        r("GET", "/api/admin/users", "/api/admin/users", None, Admin),
        r(
            "POST",
            "/api/admin/users",
            "/api/admin/users",
            body(json!({ "username": "mallorys-friend" })),
            Admin,
        ),
        r(
            "POST",
            "/api/admin/users/{username}/password",
            "/api/admin/users/alice/password",
            body(json!({})),
            Admin,
        ),
        r(
            "POST",
            "/api/admin/users/{username}/password-link",
            "/api/admin/users/alice/password-link",
            body(json!({})),
            Admin,
        ),
        r(
            "POST",
            "/api/admin/users/{username}/disable",
            "/api/admin/users/alice/disable",
            body(json!({})),
            Admin,
        ),
        r(
            "POST",
            "/api/admin/users/{username}/enable",
            "/api/admin/users/alice/enable",
            body(json!({})),
            Admin,
        ),
        r(
            "POST",
            "/api/admin/users/{username}/sessions/revoke",
            "/api/admin/users/alice/sessions/revoke",
            body(json!({})),
            Admin,
        ),
        // Administration.
        r(
            "GET",
            "/api/admin/audit-logs",
            "/api/admin/audit-logs",
            None,
            Admin,
        ),
        r(
            "GET",
            "/api/admin/audit-logs/stats",
            "/api/admin/audit-logs/stats",
            None,
            Admin,
        ),
        r(
            "GET",
            "/api/admin/audit-logs/suggestions",
            "/api/admin/audit-logs/suggestions",
            None,
            Admin,
        ),
        r(
            "GET",
            "/api/admin/audit-logs/export",
            "/api/admin/audit-logs/export",
            None,
            Admin,
        ),
        r(
            "GET",
            "/api/admin/audit-logs/verify",
            "/api/admin/audit-logs/verify",
            None,
            Admin,
        ),
        r(
            "GET",
            "/api/admin/sessions",
            "/api/admin/sessions",
            None,
            Admin,
        ),
        r(
            "DELETE",
            "/api/admin/sessions/{id}",
            "/api/admin/sessions/0123456789abcdef",
            None,
            Admin,
        ),
        r(
            "GET",
            "/api/admin/consoles",
            "/api/admin/consoles",
            None,
            Admin,
        ),
        r(
            "DELETE",
            "/api/admin/consoles/{id}",
            "/api/admin/consoles/0123456789abcdef",
            None,
            Admin,
        ),
        // Uploads: each person's own; the files make their own checks (anonymous readers get
        // a file only when a published doc shows it and the docs are public).
        r(
            "POST",
            "/api/upload",
            "/api/upload",
            body(json!({})),
            Signed,
        ),
        r("GET", "/api/uploads", "/api/uploads", None, Signed),
        // One's own settings and sessions.
        r("GET", "/settings", "/settings", None, Signed),
        r("GET", "/templates", "/templates", None, Signed),
        r("GET", "/nodes/{node}", "/nodes/pve1", None, Theirs(404)),
        r("GET", "/api/sessions", "/api/sessions", None, Signed),
        r(
            "DELETE",
            "/api/sessions/{id}",
            format!("/api/sessions/{}", c.alice_session),
            None,
            Theirs(404),
        ),
        r(
            "POST",
            "/api/sessions/revoke-others",
            "/api/sessions/revoke-others",
            body(json!({})),
            Signed,
        ),
        // Link previews: anyone signed in, for public sites only (tests/previews.rs).
        r("GET", "/api/metadata", "/api/metadata", None, Signed),
        r(
            "GET",
            "/api/metadata/image",
            "/api/metadata/image",
            None,
            Signed,
        ),
        r(
            "DELETE",
            "/api/uploads/{id}",
            format!("/api/uploads/{upload_id}"),
            None,
            Theirs(404),
        ),
        r(
            "GET",
            "/uploads/{name}",
            format!("/uploads/{upload_name}"),
            None,
            Own,
        ),
        r(
            "GET",
            "/api/settings/content",
            "/api/settings/content",
            None,
            Admin,
        ),
        r(
            "POST",
            "/api/settings/content",
            "/api/settings/content",
            body(json!({ "publicDocs": true })),
            Admin,
        ),
        // Docs: everyone reads the published ones; administrators write (and see drafts).
        r("GET", "/api/docs", "/api/docs", None, Signed),
        r(
            "GET",
            "/api/docs/{id}",
            "/api/docs/0123456789abcdef",
            None,
            Signed,
        ),
        r("GET", "/api/admin/docs", "/api/admin/docs", None, Admin),
        r(
            "POST",
            "/api/admin/docs",
            "/api/admin/docs",
            body(json!({ "title": "t", "content": "c" })),
            Admin,
        ),
        r(
            "POST",
            "/api/admin/docs/preview",
            "/api/admin/docs/preview",
            body(json!({ "content": "# x" })),
            Admin,
        ),
        r(
            "GET",
            "/api/admin/docs/{id}",
            "/api/admin/docs/0123456789abcdef",
            None,
            Admin,
        ),
        r(
            "PUT",
            "/api/admin/docs/{id}",
            "/api/admin/docs/0123456789abcdef",
            body(json!({ "pinned": true })),
            Admin,
        ),
        r(
            "DELETE",
            "/api/admin/docs/{id}",
            "/api/admin/docs/0123456789abcdef",
            None,
            Admin,
        ),
        // Notification banners: everyone reads and dismisses; administrators write.
        r(
            "GET",
            "/api/notifications",
            "/api/notifications",
            None,
            Signed,
        ),
        r(
            "POST",
            "/api/notifications",
            "/api/notifications",
            body(json!({ "message": "x" })),
            Admin,
        ),
        r(
            "PATCH",
            "/api/notifications/{id}",
            "/api/notifications/0123456789abcdef",
            body(json!({ "isActive": false })),
            Admin,
        ),
        r(
            "DELETE",
            "/api/notifications/{id}",
            "/api/notifications/0123456789abcdef",
            None,
            Admin,
        ),
        r(
            "POST",
            "/api/notifications/{id}/dismiss",
            "/api/notifications/0123456789abcdef/dismiss",
            body(json!({})),
            Signed,
        ),
        r(
            "GET",
            "/api/admin/notifications",
            "/api/admin/notifications",
            None,
            Admin,
        ),
        r(
            "GET",
            "/api/settings/access",
            "/api/settings/access",
            None,
            Admin,
        ),
        r(
            "POST",
            "/api/settings/access",
            "/api/settings/access",
            body(json!({ "adminGroups": ["x"] })),
            Admin,
        ),
        r(
            "GET",
            "/api/settings/limits",
            "/api/settings/limits",
            None,
            Admin,
        ),
        r(
            "POST",
            "/api/settings/limits",
            "/api/settings/limits",
            body(json!({ "maxVMs": 1 })),
            Admin,
        ),
        // Guests of alice.
        r(
            "DELETE",
            "/api/proxmox/vm/{vmid}",
            "/api/proxmox/vm/100",
            None,
            Theirs(404),
        ),
        r(
            "GET",
            "/api/proxmox/vm/{vmid}/status",
            "/api/proxmox/vm/100/status",
            None,
            Theirs(404),
        ),
        r(
            "POST",
            "/api/proxmox/vm/{vmid}/power",
            "/api/proxmox/vm/100/power",
            body(json!({ "action": "stop" })),
            Theirs(404),
        ),
        r(
            "GET",
            "/api/proxmox/vm/{vmid}/config",
            "/api/proxmox/vm/100/config",
            None,
            Theirs(404),
        ),
        r(
            "PUT",
            "/api/proxmox/vm/{vmid}/config",
            "/api/proxmox/vm/100/config",
            body(json!({ "set": { "description": "mallory" } })),
            Theirs(404),
        ),
        r(
            "PUT",
            "/api/proxmox/vm/{vmid}/resize",
            "/api/proxmox/vm/100/resize",
            body(json!({ "disk": "scsi0", "size": "+1G" })),
            Theirs(404),
        ),
        r(
            "GET",
            "/api/proxmox/vm/{vmid}/rrddata",
            "/api/proxmox/vm/100/rrddata",
            None,
            Theirs(404),
        ),
        r(
            "GET",
            "/api/proxmox/vm/{vmid}/snapshots",
            "/api/proxmox/vm/100/snapshots",
            None,
            Theirs(404),
        ),
        r(
            "POST",
            "/api/proxmox/vm/{vmid}/snapshots",
            "/api/proxmox/vm/101/snapshots",
            body(json!({ "snapname": "mine" })),
            Theirs(404),
        ),
        r(
            "DELETE",
            "/api/proxmox/vm/{vmid}/snapshots",
            "/api/proxmox/vm/101/snapshots?snapname=before-upgrade",
            None,
            Theirs(404),
        ),
        r(
            "POST",
            "/api/proxmox/vm/{vmid}/snapshots/rollback",
            "/api/proxmox/vm/101/snapshots/rollback",
            body(json!({ "snapname": "before-upgrade" })),
            Theirs(404),
        ),
        r(
            "POST",
            "/api/proxmox/vm/{vmid}/template",
            "/api/proxmox/vm/102/template",
            None,
            Theirs(404),
        ),
        r(
            "GET",
            "/api/proxmox/vm/{vmid}/firewall/rules",
            "/api/proxmox/vm/100/firewall/rules",
            None,
            Theirs(404),
        ),
        r(
            "POST",
            "/api/proxmox/vm/{vmid}/firewall/rules",
            "/api/proxmox/vm/100/firewall/rules",
            body(json!({ "type": "in", "action": "ACCEPT" })),
            Theirs(404),
        ),
        r(
            "DELETE",
            "/api/proxmox/vm/{vmid}/firewall/rules",
            "/api/proxmox/vm/100/firewall/rules?pos=0",
            None,
            Theirs(404),
        ),
        r(
            "GET",
            "/api/proxmox/vm/{vmid}/tasks",
            "/api/proxmox/vm/100/tasks",
            None,
            Theirs(404),
        ),
        r(
            "GET",
            "/api/proxmox/vm/{vmid}/backups",
            "/api/proxmox/vm/101/backups",
            None,
            Theirs(404),
        ),
        r(
            "POST",
            "/api/proxmox/vm/{vmid}/backups",
            "/api/proxmox/vm/101/backups",
            body(json!({ "storage": "local" })),
            Theirs(404),
        ),
        r(
            "POST",
            "/api/proxmox/vm/{vmid}/restore",
            "/api/proxmox/vm/101/restore",
            body(json!({ "archive": "nas:backup/vzdump-qemu-101-2026_01_10-02_00_01.vma.zst" })),
            Theirs(404),
        ),
        r(
            "POST",
            "/api/proxmox/vm/{vmid}/vnc",
            "/api/proxmox/vm/100/vnc",
            body(json!({})),
            Theirs(404),
        ),
        r(
            "GET",
            "/api/proxy/vnc",
            "/api/proxy/vnc?node=pve1&type=qemu&vmid=100&port=5900&vncticket=x",
            None,
            Own,
        ),
        r(
            "POST",
            "/api/proxmox/nodes/{node}/vzdump",
            "/api/proxmox/nodes/pve1/vzdump",
            body(json!({ "vmid": 101, "storage": "local" })),
            Theirs(404),
        ),
        r(
            "POST",
            "/api/proxmox/nodes/{node}/qemu",
            "/api/proxmox/nodes/pve1/qemu",
            body(json!({ "pool": "DEV_alice_1", "cores": 1, "memory": 512 })),
            Theirs(403),
        ),
        r(
            "POST",
            "/api/proxmox/nodes/{node}/lxc",
            "/api/proxmox/nodes/pve1/lxc",
            body(
                json!({ "pool": "DEV_alice_1", "storage": "local-lvm", "ostemplate": "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst" }),
            ),
            Theirs(403),
        ),
        r(
            "POST",
            "/api/proxmox/clone",
            "/api/proxmox/clone",
            body(json!({ "sourceVmId": 100, "poolId": "DEV_alice_1", "fullClone": true })),
            Theirs(404),
        ),
        // Pools and ACLs.
        r(
            "GET",
            "/api/proxmox/pools",
            "/api/proxmox/pools",
            None,
            Signed,
        ),
        r(
            "POST",
            "/api/proxmox/pools",
            "/api/proxmox/pools",
            body(json!({ "owner": { "type": "user", "name": "alice" } })),
            Theirs(403),
        ),
        r(
            "POST",
            "/api/proxmox/pools/acl",
            "/api/proxmox/pools/acl",
            body(json!({ "poolId": "DEV_alice_1", "username": "mallory", "role": "PVEVMAdmin" })),
            Theirs(404),
        ),
        r(
            "DELETE",
            "/api/proxmox/pools/acl",
            "/api/proxmox/pools/acl",
            body(json!({ "poolId": "DEV_alice_1", "username": "alice", "role": "PVEVMAdmin" })),
            Theirs(404),
        ),
        r(
            "GET",
            "/api/proxmox/pools/{pool}",
            "/api/proxmox/pools/DEV_alice_1",
            None,
            Theirs(404),
        ),
        r(
            "DELETE",
            "/api/proxmox/pools/{pool}",
            "/api/proxmox/pools/DEV_alice_1",
            None,
            Theirs(404),
        ),
        r(
            "GET",
            "/api/proxmox/pools/{pool}/acl",
            "/api/proxmox/pools/DEV_alice_1/acl",
            None,
            Theirs(404),
        ),
        r(
            "GET",
            "/api/proxmox/pools/{pool}/limits",
            "/api/proxmox/pools/DEV_alice_1/limits",
            None,
            Theirs(404),
        ),
        r(
            "PUT",
            "/api/proxmox/pools/{pool}/limits",
            "/api/proxmox/pools/DEV_alice_1/limits",
            body(json!({ "maxVMs": 99 })),
            Theirs(403),
        ),
        r(
            "POST",
            "/api/proxmox/pools/{pool}/limits",
            "/api/proxmox/pools/DEV_alice_1/limits",
            body(json!({ "maxVMs": 99 })),
            Theirs(403),
        ),
        r(
            "DELETE",
            "/api/proxmox/pools/{pool}/limits",
            "/api/proxmox/pools/DEV_alice_1/limits",
            None,
            Theirs(403),
        ),
        r(
            "GET",
            "/api/proxmox/access/acl",
            "/api/proxmox/access/acl",
            None,
            Signed,
        ),
        r(
            "PUT",
            "/api/proxmox/access/acl",
            "/api/proxmox/access/acl",
            body(json!({ "path": "/", "roles": "Administrator", "users": "mallory@pve" })),
            Theirs(403),
        ),
        r(
            "GET",
            "/api/proxmox/access/roles",
            "/api/proxmox/access/roles",
            None,
            Theirs(403),
        ),
        r(
            "GET",
            "/api/proxmox/access/users",
            "/api/proxmox/access/users",
            None,
            Theirs(403),
        ),
        // Cluster reads.
        r(
            "GET",
            "/api/proxmox/resources",
            "/api/proxmox/resources",
            None,
            Signed,
        ),
        r(
            "GET",
            "/api/proxmox/nodes",
            "/api/proxmox/nodes",
            None,
            Signed,
        ),
        r(
            "GET",
            "/api/proxmox/nodes/{node}/status",
            "/api/proxmox/nodes/pve1/status",
            None,
            Theirs(403),
        ),
        r(
            "GET",
            "/api/proxmox/nodes/{node}/rrd",
            "/api/proxmox/nodes/pve1/rrd",
            None,
            Theirs(403),
        ),
        r(
            "GET",
            "/api/proxmox/nodes/{node}/storage/isos",
            "/api/proxmox/nodes/pve1/storage/isos",
            None,
            Signed,
        ),
        r(
            "GET",
            "/api/proxmox/nodes/{node}/storage/ct-templates",
            "/api/proxmox/nodes/pve1/storage/ct-templates",
            None,
            Signed,
        ),
        r(
            "GET",
            "/api/proxmox/storage",
            "/api/proxmox/storage",
            None,
            Signed,
        ),
        r(
            "GET",
            "/api/proxmox/storage/{storage}/content",
            "/api/proxmox/storage/local-lvm/content?node=pve1",
            None,
            Theirs(403),
        ),
        r(
            "GET",
            "/api/proxmox/nodes/{node}/tasks",
            "/api/proxmox/nodes/pve1/tasks",
            None,
            Theirs(403),
        ),
        r(
            "GET",
            "/api/proxmox/next-id",
            "/api/proxmox/next-id",
            None,
            Signed,
        ),
        r(
            "GET",
            "/api/proxmox/templates",
            "/api/proxmox/templates",
            None,
            Signed,
        ),
        r(
            "GET",
            "/api/proxmox/tasks/status",
            format!("/api/proxmox/tasks/status?upid={upid}"),
            None,
            Theirs(404),
        ),
        // Replication, SDN.
        r(
            "GET",
            "/api/proxmox/cluster/replication",
            "/api/proxmox/cluster/replication?vmid=101",
            None,
            Theirs(404),
        ),
        r(
            "POST",
            "/api/proxmox/cluster/replication",
            "/api/proxmox/cluster/replication",
            body(json!({ "vmid": 100, "target": "pve2", "schedule": "*/15" })),
            Theirs(404),
        ),
        r(
            "DELETE",
            "/api/proxmox/cluster/replication/{id}",
            "/api/proxmox/cluster/replication/101-0",
            None,
            Theirs(404),
        ),
        r(
            "GET",
            "/api/proxmox/sdn/zones",
            "/api/proxmox/sdn/zones",
            None,
            Signed,
        ),
        r(
            "POST",
            "/api/proxmox/sdn/zones",
            "/api/proxmox/sdn/zones",
            body(json!({ "zone": "mallory", "type": "simple" })),
            Theirs(403),
        ),
        r(
            "GET",
            "/api/proxmox/sdn/vnets",
            "/api/proxmox/sdn/vnets",
            None,
            Signed,
        ),
        // A zone mallory can't use is one she can't see: "there is no zone".
        r(
            "POST",
            "/api/proxmox/sdn/vnets",
            "/api/proxmox/sdn/vnets",
            body(json!({ "vnet": "devmal1", "zone": "devzone" })),
            Theirs(400),
        ),
        r(
            "DELETE",
            "/api/proxmox/sdn/vnets",
            "/api/proxmox/sdn/vnets?vnet=devnet1",
            None,
            Theirs(404),
        ),
        r(
            "GET",
            "/api/proxmox/sdn/vnets/next-tag",
            "/api/proxmox/sdn/vnets/next-tag",
            None,
            Signed,
        ),
        r(
            "GET",
            "/api/proxmox/sdn/apply-queue",
            "/api/proxmox/sdn/apply-queue",
            None,
            Signed,
        ),
        r(
            "POST",
            "/api/proxmox/sdn/apply-queue",
            "/api/proxmox/sdn/apply-queue",
            body(json!({})),
            Theirs(403),
        ),
        r(
            "GET",
            "/api/proxmox/sdn/status",
            "/api/proxmox/sdn/status",
            None,
            Signed,
        ),
        // Hardware templates (alice's own, then the prebuilt ones of the administrators).
        r(
            "GET",
            "/api/hardware-templates",
            "/api/hardware-templates",
            None,
            Signed,
        ),
        r(
            "POST",
            "/api/hardware-templates",
            "/api/hardware-templates",
            body(json!({ "name": "mallory's", "config": { "cores": 1 } })),
            Signed,
        ),
        r(
            "GET",
            "/api/hardware-templates/{id}",
            format!("/api/hardware-templates/{hw}"),
            None,
            Theirs(404),
        ),
        r(
            "PATCH",
            "/api/hardware-templates/{id}",
            format!("/api/hardware-templates/{hw}"),
            body(json!({ "name": "taken" })),
            Theirs(404),
        ),
        r(
            "DELETE",
            "/api/hardware-templates/{id}",
            format!("/api/hardware-templates/{hw}"),
            None,
            Theirs(404),
        ),
        // Chat: what is mallory's, and alice's group.
        r(
            "GET",
            "/api/chat/history",
            "/api/chat/history?with=alice",
            None,
            Signed,
        ),
        r(
            "GET",
            "/api/chat/history/group",
            format!("/api/chat/history/group?groupId={g}"),
            None,
            Theirs(403),
        ),
        r(
            "GET",
            "/api/chat/public-channel",
            "/api/chat/public-channel",
            None,
            Signed,
        ),
        r(
            "POST",
            "/api/chat/public-channel",
            "/api/chat/public-channel",
            body(json!({})),
            Signed,
        ),
        r("GET", "/api/chat/recent", "/api/chat/recent", None, Signed),
        r(
            "GET",
            "/api/chat/settings",
            "/api/chat/settings",
            None,
            Signed,
        ),
        r(
            "PUT",
            "/api/chat/settings",
            "/api/chat/settings",
            body(json!({ "doNotDisturb": false })),
            Signed,
        ),
        r("GET", "/api/chat/blocks", "/api/chat/blocks", None, Signed),
        r(
            "POST",
            "/api/chat/blocks",
            "/api/chat/blocks",
            body(json!({ "username": "carol" })),
            Signed,
        ),
        r(
            "DELETE",
            "/api/chat/blocks/{username}",
            "/api/chat/blocks/carol",
            None,
            Signed,
        ),
        r("GET", "/api/groups", "/api/groups", None, Signed),
        r(
            "POST",
            "/api/groups",
            "/api/groups",
            body(json!({ "name": "mallory's", "memberIds": [] })),
            Signed,
        ),
        r(
            "GET",
            "/api/groups/{id}",
            format!("/api/groups/{g}"),
            None,
            Theirs(403),
        ),
        r(
            "PATCH",
            "/api/groups/{id}",
            format!("/api/groups/{g}"),
            body(json!({ "name": "mine" })),
            Theirs(403),
        ),
        r(
            "DELETE",
            "/api/groups/{id}",
            format!("/api/groups/{g}"),
            None,
            Theirs(403),
        ),
        r(
            "DELETE",
            "/api/groups/{id}/members/{user_id}",
            format!("/api/groups/{g}/members/{}", c.bob_id),
            None,
            Theirs(403),
        ),
        r("GET", "/api/users", "/api/users", None, Signed),
        r(
            "GET",
            "/api/users/search",
            "/api/users/search?q=al",
            None,
            Signed,
        ),
        r("GET", "/api/whiteboard", "/api/whiteboard", None, Signed),
        r(
            "POST",
            "/api/whiteboard",
            "/api/whiteboard",
            body(json!({ "elements": [] })),
            Admin,
        ),
        r("DELETE", "/api/whiteboard", "/api/whiteboard", None, Admin),
    ]
}

fn events(c: &Ctx) -> Vec<Ev> {
    use Access::{Admin, Signed, Theirs};
    let e = |name: &'static str, data: Value, access: Access| Ev { name, data, access };
    let (g, m) = (&c.group, &c.message);
    // Error codes travel as the HTTP statuses they stand for: 403 forbidden, 404 not_found.
    vec![
        e(
            "vm:power",
            json!({ "vmid": 100, "action": "stop" }),
            Theirs(404),
        ),
        e(
            "vm:snapshot",
            json!({ "vmid": 101, "snapname": "mine" }),
            Theirs(404),
        ),
        e(
            "vm:clone",
            json!({ "sourceVmId": 100, "poolId": "DEV_alice_1", "fullClone": true }),
            Theirs(404),
        ),
        e(
            "vm:create",
            json!({ "node": "pve1", "pool": "DEV_alice_1", "cores": 1, "memory": 512 }),
            Theirs(403),
        ),
        e("vm:delete", json!({ "vmid": 100 }), Theirs(404)),
        e(
            "vm:config",
            json!({ "vmid": 100, "set": { "description": "mallory" } }),
            Theirs(404),
        ),
        e(
            "vm:resize",
            json!({ "vmid": 100, "disk": "scsi0", "size": "+1G" }),
            Theirs(404),
        ),
        e(
            "vm:backup",
            json!({ "vmid": 101, "storage": "local" }),
            Theirs(404),
        ),
        e(
            "vm:restore",
            json!({ "vmid": 101, "archive": "nas:backup/vzdump-qemu-101-2026_01_10-02_00_01.vma.zst" }),
            Theirs(404),
        ),
        e(
            "vm:firewall",
            json!({ "vmid": 100, "op": "add", "rule": { "type": "in", "action": "ACCEPT" } }),
            Theirs(404),
        ),
        e("task:status", json!({ "upid": c.upid }), Theirs(404)),
        e("resources:watch", json!({}), Signed),
        e("resources:unwatch", json!({}), Signed),
        e("guest:watch", json!({ "vmid": 100 }), Theirs(404)),
        e("guest:unwatch", json!({ "vmid": 100 }), Signed),
        e("node:watch", json!({ "node": "pve1" }), Admin),
        e("node:unwatch", json!({ "node": "pve1" }), Signed),
        e("audit:watch", json!({}), Admin),
        e("audit:unwatch", json!({}), Signed),
        e(
            "send_message",
            json!({ "groupId": g, "content": "let me in" }),
            Theirs(403),
        ),
        e(
            "edit_message",
            json!({ "messageId": m, "content": "mine now" }),
            Theirs(403),
        ),
        e("delete_message", json!({ "messageId": m }), Theirs(403)),
        e(
            "add_reaction",
            json!({ "messageId": m, "emoji": "👀" }),
            Theirs(403),
        ),
        e(
            "typing",
            json!({ "groupId": g, "isTyping": true }),
            Theirs(403),
        ),
        e("mark_read", json!({ "groupId": g }), Theirs(403)),
        e("get_online_users", json!({}), Signed),
        e("join_group", json!(g), Theirs(403)),
        e(
            "whiteboard_join",
            json!({ "board": "pool:DEV_alice_1" }),
            Theirs(404),
        ),
        e(
            "whiteboard_leave",
            json!({ "board": "pool:DEV_alice_1" }),
            Signed,
        ),
        // Boards she may not join are boards she has not joined: "no whiteboard".
        e(
            "draw_stroke",
            json!({ "board": "pool:DEV_alice_1", "points": [{ "x": 1, "y": 1 }, { "x": 2, "y": 2 }], "color": "#1E90FF", "width": 4 }),
            Theirs(404),
        ),
        e(
            "draw_undo",
            json!({ "board": "pool:DEV_alice_1", "strokeId": "s1" }),
            Theirs(404),
        ),
        e(
            "draw_cursor",
            json!({ "board": "pool:DEV_alice_1", "x": 1, "y": 1 }),
            Signed,
        ),
        e(
            "draw_save",
            json!({ "board": "default", "elements": [] }),
            Admin,
        ),
        e("draw_clear", json!({ "board": "default" }), Admin),
    ]
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `(METHOD, path)` of every route the router declares, read from its source.
fn declared_routes() -> BTreeSet<(String, String)> {
    let root = env!("CARGO_MANIFEST_DIR");
    let files: Vec<std::path::PathBuf> = std::fs::read_dir(format!("{root}/src/http"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .collect();
    let methods = regex::Regex::new(r"\b(get|post|put|delete|patch)\(").unwrap();
    let path = regex::Regex::new(r#""([^"]+)""#).unwrap();
    let mut out = BTreeSet::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let mut rest = text.as_str();
        while let Some(at) = rest.find(".route(") {
            let after = &rest[at + ".route(".len()..];
            let mut depth = 1;
            let mut end = 0;
            for (i, ch) in after.char_indices() {
                match ch {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                if depth == 0 {
                    end = i;
                    break;
                }
            }
            let args = &after[..end];
            let p = path.captures(args).unwrap()[1].to_owned();
            for m in methods.captures_iter(args) {
                out.insert((m[1].to_uppercase(), p.clone()));
            }
            rest = &after[end..];
        }
    }
    out
}

fn catalogue_events() -> BTreeSet<&'static str> {
    uma::realtime::guests::EVENTS
        .iter()
        .chain(uma::realtime::watch::EVENTS)
        .chain(uma::realtime::audit::EVENTS)
        .chain(uma::realtime::chat::EVENTS)
        .chain(uma::realtime::whiteboard::EVENTS)
        .copied()
        .collect()
}

fn code_of(status: u16) -> &'static str {
    match status {
        400 => "invalid_input",
        403 => "forbidden",
        404 => "not_found",
        _ => "?",
    }
}

async fn setup(app: &TestApp) -> (Ctx, Tenant, PollingSocket) {
    let alice = Tenant::new(app, "alice", &[]).await;
    let _alice_socket = alice.socket(app).await;
    let bob = Tenant::new(app, "bob", &[]).await;
    let _bob_socket = bob.socket(app).await;
    let mallory = Tenant::new(app, "mallory", &[]).await;
    let mallory_socket = mallory.socket(app).await;
    let bob_id = wait_user(app, "bob").await;
    wait_user(app, "alice").await;
    let group = alice
        .call(
            Method::POST,
            "/api/groups",
            Some(json!({ "name": "alice and bob", "memberIds": [bob_id] })),
        )
        .await
        .ok("alice makes a group");
    let group = group["id"].as_str().unwrap().to_owned();
    let sent = _alice_socket
        .emit_ack(
            "send_message",
            json!({ "groupId": group, "content": "ours" }),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    let message = sent["message"]["id"].as_str().unwrap().to_owned();
    let hw = alice
        .call(
            Method::POST,
            "/api/hardware-templates",
            Some(json!({ "name": "alice's", "config": { "cores": 2 } })),
        )
        .await
        .ok("alice makes a hardware template");
    let hardware = hw["template"]["id"].as_str().unwrap().to_owned();
    let started = alice
        .call(
            Method::POST,
            "/api/proxmox/vm/102/power",
            Some(json!({ "action": "start" })),
        )
        .await
        .ok("alice starts 102");
    let upid = started["upid"].as_str().unwrap().to_owned();
    let png = crate::uploads::png();
    let uploaded = alice
        .b
        .post_multipart(
            "/api/upload",
            Some(&alice.csrf),
            &[crate::support::browser::Part::file(
                "a.png",
                "image/png",
                &png,
            )],
        )
        .await;
    assert_eq!(uploaded.status(), 200, "alice uploads a picture");
    let uploaded: Value = uploaded.json().await.unwrap();
    let upload = (
        uploaded["id"].as_str().unwrap().to_owned(),
        uploaded["url"]
            .as_str()
            .unwrap()
            .trim_start_matches("/uploads/")
            .to_owned(),
    );
    let token = alice
        .call(
            Method::POST,
            "/api/tokens",
            Some(json!({ "name": "alice's", "scope": "read" })),
        )
        .await
        .ok("alice makes an API token");
    let alice_token = token["id"].as_str().unwrap().to_owned();
    let alice_session = app
        .state
        .store
        .active_sessions(uma::store::now_ms())
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.username == "alice")
        .map(|s| s.id)
        .expect("alice is signed in");
    quiet(app).await;
    (
        Ctx {
            group,
            message,
            bob_id,
            hardware,
            upid,
            upload,
            alice_session,
            alice_token,
        },
        mallory,
        mallory_socket,
    )
}

async fn wait_user(app: &TestApp, name: &str) -> String {
    crate::support::wait_for(|| async {
        app.state
            .store
            .user_by_username(name)
            .await
            .unwrap()
            .map(|u| u.id)
    })
    .await
}

async fn every_route_and_event_is_refused_to_those_it_is_not_for(db: Db) {
    let app = app(db).await;
    let (ctx, mallory, socket) = setup(&app).await;
    let table = rows(&ctx);
    let declared = declared_routes();
    let listed: BTreeSet<(String, String)> = table
        .iter()
        .map(|r| (r.method.to_owned(), r.path.to_owned()))
        .collect();
    let missing: Vec<_> = declared.difference(&listed).collect();
    let stale: Vec<_> = listed.difference(&declared).collect();
    assert!(
        missing.is_empty(),
        "routes without a row in the permission table: {missing:?}"
    );
    assert!(
        stale.is_empty(),
        "rows for routes the router lacks: {stale:?}"
    );
    let evs = events(&ctx);
    let names: BTreeSet<&str> = evs.iter().map(|e| e.name).collect();
    let cat = catalogue_events();
    let missing: Vec<_> = cat.difference(&names).collect();
    let stale: Vec<_> = names.difference(&cat).collect();
    assert!(missing.is_empty(), "events without a row: {missing:?}");
    assert!(
        stale.is_empty(),
        "rows for events the catalogue lacks: {stale:?}"
    );

    let anonymous = Browser::new(&app.url(""));
    let mut failures = Vec::new();
    for row in &table {
        let method = Method::from_bytes(row.method.as_bytes()).unwrap();
        let api = row.path.starts_with("/api/");
        let what = format!("{} {}", row.method, row.call);
        // Anonymous: refused unless open.
        if row.access != Access::Open {
            let before = sim_state(&app);
            let resp = anonymous
                .send(method.clone(), &row.call, None, row.body.clone())
                .await;
            let status = resp.status().as_u16();
            let location = resp
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let ok = match row.access {
                Access::Own => !(200..300).contains(&status),
                _ if api => status == 401,
                _ => status == 303 && location.starts_with("/login"),
            };
            if !ok {
                failures.push(format!("anonymous {what}: {status} {location}"));
            }
            if sim_state(&app) != before {
                failures.push(format!("anonymous {what}: the simulator changed"));
            }
        }
        // Mallory: refused where it is not hers (open routes are not hers to try: one of them
        // signs her out).
        if row.access == Access::Open {
            continue;
        }
        quiet(&app).await;
        let before = sim_state(&app);
        let answer = mallory.call(method, &row.call, row.body.clone()).await;
        let ok = match row.access {
            Access::Open | Access::Own => true,
            Access::Signed => ![401, 403].contains(&answer.status),
            Access::Admin if api => answer.status == 403,
            Access::Admin => answer.status == 303,
            Access::Theirs(s) => answer.status == s,
        };
        if !ok {
            failures.push(format!(
                "mallory {what}: {} {} (expected {:?})",
                answer.status, answer.body, row.access
            ));
        }
        if !matches!(row.access, Access::Signed | Access::Open | Access::Own) {
            quiet(&app).await;
            if sim_state(&app) != before {
                failures.push(format!("mallory {what}: the simulator changed"));
            }
        }
    }
    // Events: anonymous sockets are refused at the handshake; mallory's events are refused
    // where they name alice's objects or are for administrators.
    assert!(
        matches!(
            PollingSocket::connect(&app.url(""), "", Some(&app.url(""))).await,
            Connect::Refused(_)
        ),
        "an anonymous socket connects"
    );
    for ev in &evs {
        quiet(&app).await;
        let before = sim_state(&app);
        let ack = socket
            .emit_ack(ev.name, ev.data.clone(), Duration::from_secs(15))
            .await;
        let Some(ack) = ack else {
            failures.push(format!("mallory {}: no ack", ev.name));
            continue;
        };
        let code = ack["error"]["code"].as_str().unwrap_or_default();
        let ok = match ev.access {
            Access::Signed | Access::Open | Access::Own => {
                !["unauthorized", "forbidden"].contains(&code)
            }
            Access::Admin => code == "forbidden",
            Access::Theirs(s) => code == code_of(s),
        };
        if !ok {
            failures.push(format!(
                "mallory {} {}: {ack} (expected {:?})",
                ev.name, ev.data, ev.access
            ));
        }
        quiet(&app).await;
        if ev.access != Access::Signed && sim_state(&app) != before {
            failures.push(format!("mallory {}: the simulator changed", ev.name));
        }
    }
    assert!(
        failures.is_empty(),
        "permission table:\n{}",
        failures.join("\n")
    );
    app.stop().await.unwrap();
}
