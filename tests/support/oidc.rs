//! A real OpenID provider for tests: the certified `oidc-provider` npm package, run by Node from
//! `tests/oidc/provider.mjs` on a loopback port (see that file for its people and clients).
//! Missing Node or packages fail the test with instructions; it is never skipped. [`Idp`]
//! drives the provider's side of a sign-in with plain HTTP, as a browser would.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};

/// The client secret of every client of the test provider.
pub const SECRET: &str = "uma-secret";

/// A running test provider.
pub struct TestProvider {
    /// Its issuer, `http://127.0.0.1:<port>`.
    pub issuer: String,
    child: Option<Child>,
    http: reqwest::Client,
}

impl Drop for TestProvider {
    fn drop(&mut self) {
        self.stop();
    }
}

fn folder() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/oidc")
}

/// `npm ci` in `tests/oidc` when its packages are missing (once per test run).
fn install_packages() {
    static DONE: Mutex<bool> = Mutex::new(false);
    let mut done = DONE.lock().unwrap_or_else(|e| e.into_inner());
    if *done
        || folder()
            .join("node_modules/oidc-provider/package.json")
            .exists()
    {
        *done = true;
        return;
    }
    let out = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(folder())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "npm is needed for the OpenID Connect tests and could not run ({e}).\n\
                 Install Node.js and npm (`apt-get install nodejs npm`), then run \
                 `cd tests/oidc && npm ci` (`make test` does both)."
            )
        });
    assert!(
        out.status.success(),
        "`npm ci` in tests/oidc failed (the OpenID Connect tests need the oidc-provider package):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    *done = true;
}

impl TestProvider {
    /// Starts a provider (`conform`: profile claims only from the userinfo endpoint).
    pub async fn start(conform: bool) -> TestProvider {
        uma::tls::install_crypto_provider();
        install_packages();
        let mut cmd = Command::new("node");
        cmd.arg("provider.mjs")
            .current_dir(folder())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if conform {
            cmd.arg("--conform");
        }
        let mut child = cmd.spawn().unwrap_or_else(|e| {
            panic!(
                "Node.js is needed for the OpenID Connect tests and could not start ({e}).\n\
                 Install it with `apt-get install nodejs npm` (`make test` does this when run as root)."
            )
        });
        let stdout = child.stdout.take().unwrap();
        let line = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            BufReader::new(stdout).read_line(&mut line).map(|_| line)
        });
        let line = tokio::time::timeout(Duration::from_secs(20), line)
            .await
            .expect("the test OpenID provider did not start within 20 s")
            .unwrap()
            .unwrap();
        let ready: serde_json::Value = serde_json::from_str(line.trim()).unwrap_or_else(|_| {
            panic!("the test OpenID provider did not start: {line:?} (run `node tests/oidc/provider.mjs` to see why)")
        });
        TestProvider {
            issuer: format!("http://127.0.0.1:{}", ready["port"]),
            child: Some(child),
            http: reqwest::Client::new(),
        }
    }

    /// Tells the provider where Uma is and which of its provider names point here (the
    /// clients' redirect URIs are made from them).
    pub async fn setup(&self, origin: &str, names: &[&str]) {
        let resp = self
            .http
            .post(format!("{}/test/setup", self.issuer))
            .json(&serde_json::json!({ "origin": origin, "names": names }))
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success());
    }

    /// Replaces a person's claims (`sub` stays their id).
    pub async fn set_user(&self, id: &str, claims: serde_json::Value) {
        let resp = self
            .http
            .put(format!("{}/test/users/{id}", self.issuer))
            .json(&claims)
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success());
    }

    /// Stops the provider (it is down from now on).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The provider's side of one browser: its cookies there, and a person who signs in when asked.
pub struct Idp {
    http: reqwest::Client,
    cookies: Mutex<HashMap<String, String>>,
}

impl Default for Idp {
    fn default() -> Self {
        Self::new()
    }
}

impl Idp {
    pub fn new() -> Self {
        uma::tls::install_crypto_provider();
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: Mutex::new(HashMap::new()),
        }
    }

    fn cookie_header(&self) -> String {
        let jar = self.cookies.lock().unwrap();
        jar.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> reqwest::Response {
        let resp = req
            .header(COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap();
        let mut jar = self.cookies.lock().unwrap();
        for v in resp.headers().get_all(SET_COOKIE) {
            let v = v.to_str().unwrap();
            let (k, val) = v.split(';').next().unwrap().split_once('=').unwrap();
            if val.is_empty() || v.to_ascii_lowercase().contains("expires=thu, 01 jan 1970") {
                jar.remove(k);
            } else {
                jar.insert(k.to_owned(), val.to_owned());
            }
        }
        resp
    }

    pub async fn get(&self, url: &str) -> reqwest::Response {
        self.send(self.http.get(url)).await
    }

    pub async fn post_form(&self, url: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.send(self.http.post(url).form(form)).await
    }

    /// Follows the provider's redirects from `url` (the authorization request Uma sent the
    /// browser to), signing in as `account` on the sign-in page, until the provider sends the
    /// browser back to `back_to` (Uma's origin); returns that URL.
    pub async fn authorize(&self, url: &str, account: &str, back_to: &str) -> String {
        let mut url = url.to_owned();
        for _ in 0..10 {
            if url.starts_with(back_to) {
                return url;
            }
            let base = reqwest::Url::parse(&url).unwrap();
            let resp = if base.path().starts_with("/interaction/") {
                self.post_form(&url, &[("account", account)]).await
            } else {
                self.get(&url).await
            };
            let status = resp.status();
            let Some(next) = resp.headers().get(LOCATION) else {
                panic!(
                    "the provider answered {url} with {status} and no redirect: {}",
                    resp.text().await.unwrap_or_default()
                );
            };
            url = base.join(next.to_str().unwrap()).unwrap().to_string();
        }
        panic!("the provider never sent the browser back to {back_to}");
    }

    /// Follows the provider's sign-out from `url` (confirming it) until it sends the browser
    /// back to `back_to`; returns that URL.
    pub async fn sign_out(&self, url: &str, back_to: &str) -> String {
        let page = self.get(url).await;
        assert_eq!(page.status(), 200, "the provider's sign-out page");
        let html = page.text().await.unwrap();
        let xsrf = html
            .split("name=\"xsrf\" value=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_else(|| panic!("no xsrf field in the sign-out page: {html}"))
            .to_owned();
        let action = html
            .split("action=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap()
            .to_owned();
        let confirm = reqwest::Url::parse(url).unwrap().join(&action).unwrap();
        let resp = self
            .post_form(confirm.as_str(), &[("xsrf", &xsrf), ("logout", "yes")])
            .await;
        let to = resp
            .headers()
            .get(LOCATION)
            .unwrap_or_else(|| panic!("sign-out confirmation answered {}", resp.status()))
            .to_str()
            .unwrap()
            .to_owned();
        assert!(to.starts_with(back_to), "sign-out came back to {to}");
        to
    }
}
