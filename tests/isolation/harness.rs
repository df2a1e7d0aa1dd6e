//! The hostile-tenant harness: a demo cluster behind Uma on SQLite or MariaDB, tenants signed in
//! as demo users, and one check for every refusal — the status and a clear message, the audit
//! `FAILURE` row of that very request, and the simulator's whole state unchanged.

use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use crate::support::browser::Browser;
use crate::support::sio::{Connect, PollingSocket};
use crate::support::{wait_until, TestApp};

pub use crate::support::Db;

/// A demo-mode Uma (embedded simulator with short tasks) on `db`, with `extra` settings.
pub async fn app_with(db: Db, extra: &[(&str, &str)]) -> TestApp {
    TestApp::demo("isolation")
        .on(db)
        .vars(extra)
        .tasks_take(Duration::from_millis(10))
        .start()
        .await
}

/// [`app_with`] without extra settings.
pub async fn app(db: Db) -> TestApp {
    app_with(db, &[]).await
}

/// A signed-in user: their browser and CSRF token.
pub struct Tenant {
    pub name: &'static str,
    pub b: Browser,
    pub csrf: String,
}

impl Tenant {
    pub async fn new(app: &TestApp, name: &'static str, groups: &[&str]) -> Self {
        let (b, csrf) = app.session_as(name, groups, false).await;
        Self { name, b, csrf }
    }

    pub async fn admin(app: &TestApp) -> Self {
        let (b, csrf) = app.session_as("root", &[], true).await;
        Self {
            name: "root",
            b,
            csrf,
        }
    }

    /// Sends a request; returns status, body and the request's operation id.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        let resp = self.b.send(method, path, Some(&self.csrf), body).await;
        let status = resp.status().as_u16();
        let op = resp
            .headers()
            .get("x-op-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = resp.json().await.unwrap_or(Value::Null);
        Answer { status, body, op }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.call(Method::GET, path, None).await
    }

    /// A Socket.IO connection with this tenant's session.
    pub async fn socket(&self, app: &TestApp) -> PollingSocket {
        let base = app.url("");
        match PollingSocket::connect(&base, &self.b.cookie_header(), Some(&base)).await {
            Connect::Ok(s) => s,
            Connect::Refused(m) => panic!("{} could not connect: {m}", self.name),
        }
    }
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub op: String,
}

impl Answer {
    pub fn message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or_default()
    }

    /// Asserts success and returns the body.
    pub fn ok(self, what: &str) -> Value {
        assert!(
            (200..300).contains(&self.status),
            "{what}: {} {}",
            self.status,
            self.body
        );
        self.body
    }
}

/// The simulator's whole stored state, for "nothing changed" checks.
pub fn sim_state(app: &TestApp) -> Value {
    app.sim.as_ref().unwrap().state()
}

/// Waits until no simulator task runs (so the state is quiet before a "nothing changed"
/// check).
pub async fn quiet(app: &TestApp) {
    wait_until(Duration::from_secs(15), "the tasks end", || async {
        let tasks: Vec<Value> = app
            .state
            .pve
            .get_with("cluster/tasks", &[])
            .await
            .unwrap_or_default();
        tasks
            .iter()
            .all(|t| t.get("endtime").is_some())
            .then_some(())
    })
    .await;
}

/// The audit row of one request (by its operation id), once written.
pub async fn audit_row(app: &TestApp, op: &str) -> Option<uma::store::audit::AuditRow> {
    app.flush_audit().await;
    let store = app.store().await;
    let rows = store
        .list_audit(&uma::store::audit::AuditFilter::default(), 5000, 0)
        .await
        .unwrap();
    store.close().await;
    rows.into_iter().find(|r| r.op_id.as_deref() == Some(op))
}

/// Audit rows of `user` with `action` and `status`.
pub async fn audit_count(app: &TestApp, user: &str, action: &str, status: &str) -> usize {
    app.flush_audit().await;
    let store = app.store().await;
    let rows = store
        .list_audit(&uma::store::audit::AuditFilter::default(), 5000, 0)
        .await
        .unwrap();
    store.close().await;
    rows.iter()
        .filter(|r| r.username == user && r.action == action && r.status == status)
        .count()
}

/// Sends what a hostile tenant sends and checks that it is refused with `status`, a message
/// containing `says`, an audit `FAILURE` row under `action` for this very request, and no
/// change at all in the simulator.
#[allow(clippy::too_many_arguments)]
pub async fn refused(
    app: &TestApp,
    who: &Tenant,
    method: Method,
    path: &str,
    body: Option<Value>,
    status: u16,
    says: &str,
    action: &str,
) -> Answer {
    quiet(app).await;
    let before = sim_state(app);
    let answer = who.call(method.clone(), path, body.clone()).await;
    let what = format!(
        "{} {method} {path} {}",
        who.name,
        body.unwrap_or(Value::Null)
    );
    assert_eq!(answer.status, status, "{what}: {}", answer.body);
    assert!(
        answer
            .message()
            .to_lowercase()
            .contains(&says.to_lowercase()),
        "{what}: message {:?} lacks {says:?}",
        answer.message()
    );
    let row = audit_row(app, &answer.op)
        .await
        .unwrap_or_else(|| panic!("{what}: no audit row for op {}", answer.op));
    assert_eq!(row.status, "FAILURE", "{what}: {row:?}");
    assert_eq!(row.action, action, "{what}: {row:?}");
    quiet(app).await;
    let after = sim_state(app);
    assert!(
        before == after,
        "{what}: the simulator changed:\n{}",
        diff(&before, &after)
    );
    answer
}

/// A socket event a hostile tenant emits: refused with an error ack whose code is `code`, a
/// `FAILURE` row under `action`, and no change in the simulator.
pub async fn refused_event(
    app: &TestApp,
    who: &Tenant,
    socket: &PollingSocket,
    event: &str,
    data: Value,
    code: &str,
    action: &str,
) -> Value {
    quiet(app).await;
    let before = sim_state(app);
    let failures = audit_count(app, who.name, action, "FAILURE").await;
    let ack = socket
        .emit_ack(event, data.clone(), Duration::from_secs(15))
        .await
        .unwrap_or_else(|| panic!("no ack for {event}"));
    assert_eq!(ack["error"]["code"], code, "{event} {data}: {ack}");
    assert!(
        ack["error"]["message"]
            .as_str()
            .is_some_and(|m| m.len() > 10),
        "{event}: {ack}"
    );
    assert_eq!(
        audit_count(app, who.name, action, "FAILURE").await,
        failures + 1,
        "{event} {data}: one FAILURE row under {action}"
    );
    quiet(app).await;
    let after = sim_state(app);
    assert!(
        before == after,
        "{event} {data}: the simulator changed:\n{}",
        diff(&before, &after)
    );
    ack
}

/// The first differences between two JSON values (paths), for failure messages.
pub fn diff(a: &Value, b: &Value) -> String {
    fn walk(a: &Value, b: &Value, path: &str, out: &mut Vec<String>) {
        if out.len() > 10 || a == b {
            return;
        }
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                for k in x.keys().chain(y.keys()) {
                    walk(
                        x.get(k).unwrap_or(&Value::Null),
                        y.get(k).unwrap_or(&Value::Null),
                        &format!("{path}/{k}"),
                        out,
                    );
                }
            }
            (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
                for (i, (p, q)) in x.iter().zip(y).enumerate() {
                    walk(p, q, &format!("{path}/{i}"), out);
                }
            }
            _ => out.push(format!("{path}: {a} -> {b}")),
        }
    }
    let mut out = Vec::new();
    walk(a, b, "", &mut out);
    out.join("\n")
}

/// A guest's configuration as the simulator holds it (service token).
pub async fn config_of(app: &TestApp, vmid: u32) -> Value {
    use uma::pve::path::{ApiPath, Node, Vmid};
    let view = app.state.acl.reload().await.unwrap();
    let r = view
        .guest(vmid)
        .unwrap_or_else(|| panic!("no guest {vmid}"));
    let path = ApiPath::lit("nodes")
        .seg(&Node::parse("node", r.node.as_deref().unwrap()).unwrap())
        .seg(&r.kind.guest().unwrap())
        .seg(&Vmid(vmid))
        .then("config");
    app.state.pve.get(path).await.unwrap()
}

/// Runs a Proxmox call with the service token (set-up the demo lacks).
pub async fn pve_put(app: &TestApp, path: &'static str, form: &[(&str, &str)]) {
    let form: Vec<(&str, String)> = form.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
    let _: Value = app.state.pve.put(path, &form).await.unwrap();
    app.state.acl.invalidate();
}

/// `POST` with the service token.
pub async fn pve_post(app: &TestApp, path: &'static str, form: &[(&str, &str)]) -> Value {
    let form: Vec<(&str, String)> = form.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
    let v: Value = app.state.pve.post(path, &form).await.unwrap();
    app.state.acl.invalidate();
    v
}

/// Gives `user@pve` a role on `path`.
pub async fn grant(app: &TestApp, path: &str, role: &str, user: &str) {
    pve_put(
        app,
        "access/acl",
        &[("path", path), ("roles", role), ("users", user)],
    )
    .await;
}

/// Sets a pool's limits as an administrator.
pub async fn set_limits(app: &TestApp, pool: &str, limits: Value) {
    let admin = Tenant::admin(app).await;
    admin
        .call(
            Method::PUT,
            &format!("/api/proxmox/pools/{pool}/limits"),
            Some(limits),
        )
        .await
        .ok("set limits");
}

/// A pool's usage as Uma reports it.
pub async fn usage(who: &Tenant, pool: &str) -> Value {
    who.get(&format!("/api/proxmox/pools/{pool}/limits"))
        .await
        .ok("limits")["usage"]
        .clone()
}
