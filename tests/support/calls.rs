//! Calls a test makes as a signed-in browser, answered as (status, JSON body), and the Proxmox
//! users the demo cluster lacks.

use reqwest::Method;
use serde_json::Value;

use crate::support::browser::Browser;
use crate::support::TestApp;

/// Status and JSON body (`null` when there is none).
pub async fn json_of(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// `GET path`.
pub async fn get(b: &Browser, path: &str) -> (u16, Value) {
    json_of(b.get(path).await).await
}

/// `POST path` with a JSON body.
pub async fn post(b: &Browser, csrf: &str, path: &str, body: Value) -> (u16, Value) {
    json_of(b.post_json(path, Some(csrf), body).await).await
}

/// `PUT path` with a JSON body.
pub async fn put(b: &Browser, csrf: &str, path: &str, body: Value) -> (u16, Value) {
    json_of(b.send(Method::PUT, path, Some(csrf), Some(body)).await).await
}

/// `DELETE path`, with a JSON body when given.
pub async fn delete(b: &Browser, csrf: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    json_of(b.send(Method::DELETE, path, Some(csrf), body).await).await
}

/// The sorted `id` values of the objects in `list[key]`.
pub fn ids(list: &Value, key: &str, id: &str) -> Vec<String> {
    let mut out: Vec<String> = list[key]
        .as_array()
        .unwrap_or_else(|| panic!("no {key} in {list}"))
        .iter()
        .filter_map(|v| v[id].as_str().map(str::to_owned))
        .collect();
    out.sort();
    out
}

/// The field an error names (empty when none).
pub fn field(body: &Value) -> &str {
    body["error"]["field"].as_str().unwrap_or_default()
}

/// Proxmox users the demo lacks, made with the service token: victor (PVEVMUser on guest 130)
/// and paul (PVEPoolUser on bob's pool `DEV_bob_1`).
pub async fn victor_and_paul(app: &TestApp) {
    let pve = &app.state.pve;
    for user in ["victor@pve", "paul@pve"] {
        let _: Value = pve
            .post("access/users", &[("userid", user.to_owned())])
            .await
            .unwrap();
    }
    for (path, role, user) in [
        ("/vms/130", "PVEVMUser", "victor@pve"),
        ("/pool/DEV_bob_1", "PVEPoolUser", "paul@pve"),
    ] {
        let _: Value = pve
            .put(
                "access/acl",
                &[
                    ("path", path.to_owned()),
                    ("roles", role.to_owned()),
                    ("users", user.to_owned()),
                ],
            )
            .await
            .unwrap();
    }
    app.state.acl.invalidate();
}
