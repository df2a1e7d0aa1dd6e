//! Test helpers: start a simulator, a reqwest client trusting its certificate, typed calls, and
//! waiting for tasks with a deadline.

use std::sync::Arc;
use std::time::{Duration, Instant};

use pve_sim::{Scenario, SimConfig, SimHandle, Simulator};
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// A running simulator plus an HTTPS client for it.
pub struct Sim {
    pub handle: SimHandle,
    pub client: reqwest::Client,
    pub root: String,
}

/// A response: status, reason phrase and JSON body (Null when empty).
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub body: Value,
}

impl Resp {
    /// `data` of the envelope.
    pub fn data(&self) -> &Value {
        &self.body["data"]
    }
    /// The error message without the trailing newline.
    pub fn message(&self) -> String {
        self.body["message"]
            .as_str()
            .unwrap_or_default()
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned()
    }
}

pub fn client_for(handle: &SimHandle) -> reqwest::Client {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(
            handle.cert_der().expect("tls").to_vec(),
        ))
        .expect("add root");
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    reqwest::Client::builder()
        .use_preconfigured_tls(config)
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

/// Starts a simulator with tiny task durations.
pub async fn spawn(scenario: Scenario) -> Sim {
    spawn_with(scenario, Duration::from_millis(20)).await
}

pub async fn spawn_with(scenario: Scenario, task: Duration) -> Sim {
    let handle = Simulator::start(SimConfig {
        scenario,
        task_duration: task,
        ..SimConfig::default()
    })
    .await
    .expect("simulator starts");
    let client = client_for(&handle);
    let root = handle.authorization();
    Sim {
        handle,
        client,
        root,
    }
}

impl Sim {
    /// Calls the API with an explicit Authorization value. GET/DELETE parameters go in the
    /// query string, POST/PUT ones in a form body.
    pub async fn call_as(
        &self,
        auth: &str,
        method: Method,
        path: &str,
        params: &[(&str, &str)],
    ) -> Resp {
        let url = format!("{}/api2/json{path}", self.handle.url());
        let mut req = self
            .client
            .request(method.clone(), &url)
            .header("Authorization", auth);
        if method == Method::GET || method == Method::DELETE {
            req = req.query(params);
        } else if !params.is_empty() {
            req = req.form(params);
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Resp { status, body }
    }

    /// Calls as the root token.
    pub async fn call(&self, method: Method, path: &str, params: &[(&str, &str)]) -> Resp {
        let auth = self.root.clone();
        self.call_as(&auth, method, path, params).await
    }

    /// GET as root, asserting 200, returning `data`.
    pub async fn get(&self, path: &str) -> Value {
        let r = self.call(Method::GET, path, &[]).await;
        assert_eq!(r.status, StatusCode::OK, "GET {path}: {:?}", r.body);
        r.data().clone()
    }

    /// A call as root that must succeed; returns `data`.
    pub async fn ok(&self, method: Method, path: &str, params: &[(&str, &str)]) -> Value {
        let r = self.call(method.clone(), path, params).await;
        assert_eq!(r.status, StatusCode::OK, "{method} {path}: {:?}", r.body);
        r.data().clone()
    }

    /// Waits (deadline 15 s) for a task to stop; returns its exit status.
    pub async fn wait_task(&self, upid: &str) -> String {
        let node = upid.split(':').nth(1).expect("node in upid").to_owned();
        let path = format!("/nodes/{node}/tasks/{}/status", enc(upid));
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let st = self.get(&path).await;
            if st["status"] == "stopped" {
                return st["exitstatus"].as_str().unwrap_or_default().to_owned();
            }
            assert!(Instant::now() < deadline, "task {upid} did not finish");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Runs a task-returning call and requires it to end OK.
    pub async fn task_ok(&self, method: Method, path: &str, params: &[(&str, &str)]) {
        let upid = self.ok(method.clone(), path, params).await;
        let upid = upid
            .as_str()
            .unwrap_or_else(|| panic!("{method} {path}: no UPID: {upid}"));
        let exit = self.wait_task(upid).await;
        assert_eq!(exit, "OK", "{method} {path}");
    }

    /// Waits (deadline 10 s) until `f` holds for `GET path`'s data.
    pub async fn wait_until(&self, path: &str, f: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let v = self.get(path).await;
            if f(&v) {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "condition on {path} not met: {v}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Percent-encodes a path segment (UPIDs and volume ids contain `:` and `/`).
pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}
