//! A scripted browser for API tests: keeps cookies, sends an Origin, speaks JSON and forms.

use std::collections::HashMap;
use std::sync::Mutex;

use reqwest::header::{HeaderMap, HeaderValue, COOKIE, ORIGIN, SET_COOKIE};

/// One user agent with its cookie jar.
pub struct Browser {
    pub http: reqwest::Client,
    pub base: String,
    pub origin: String,
    cookies: Mutex<HashMap<String, String>>,
}

impl Browser {
    pub fn new(base: &str) -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .user_agent("uma-tests/1.0")
                .build()
                .unwrap(),
            base: base.trim_end_matches('/').to_owned(),
            origin: base.trim_end_matches('/').to_owned(),
            cookies: Mutex::new(HashMap::new()),
        }
    }

    pub fn cookie_header(&self) -> String {
        self.cookies
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub fn set_cookie(&self, name: &str, value: &str) {
        self.cookies
            .lock()
            .unwrap()
            .insert(name.to_owned(), value.to_owned());
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.lock().unwrap().get(name).cloned()
    }

    fn absorb(&self, headers: &HeaderMap) {
        for v in headers.get_all(SET_COOKIE) {
            let v = v.to_str().unwrap();
            let pair = v.split(';').next().unwrap();
            let (k, val) = pair.split_once('=').unwrap();
            let deleting = v.contains("Max-Age=0");
            let mut jar = self.cookies.lock().unwrap();
            if deleting || val.is_empty() {
                jar.remove(k);
            } else {
                jar.insert(k.to_owned(), val.to_owned());
            }
        }
    }

    fn headers(&self, csrf: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        let cookies = self.cookie_header();
        if !cookies.is_empty() {
            h.insert(COOKIE, HeaderValue::from_str(&cookies).unwrap());
        }
        h.insert(ORIGIN, HeaderValue::from_str(&self.origin).unwrap());
        if let Some(t) = csrf {
            h.insert("x-csrf-token", HeaderValue::from_str(t).unwrap());
        }
        h
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .headers(self.headers(None))
            .send()
            .await
            .unwrap();
        self.absorb(resp.headers());
        resp
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        csrf: Option<&str>,
        json: Option<serde_json::Value>,
    ) -> reqwest::Response {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .headers(self.headers(csrf));
        if let Some(body) = json {
            req = req.json(&body);
        }
        let resp = req.send().await.unwrap();
        self.absorb(resp.headers());
        resp
    }

    pub async fn post_json(
        &self,
        path: &str,
        csrf: Option<&str>,
        body: serde_json::Value,
    ) -> reqwest::Response {
        self.send(reqwest::Method::POST, path, csrf, Some(body))
            .await
    }

    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .headers(self.headers(None))
            .form(form)
            .send()
            .await
            .unwrap();
        self.absorb(resp.headers());
        resp
    }

    /// `GET /api/auth`: the CSRF token to send with state-changing requests.
    pub async fn csrf(&self) -> String {
        let v: serde_json::Value = self.get("/api/auth").await.json().await.unwrap();
        v["csrfToken"].as_str().unwrap().to_owned()
    }

    /// Signs in through the API; panics with the server's answer when refused.
    pub async fn login(&self, username: &str, password: &str) -> serde_json::Value {
        let token = self.csrf().await;
        let resp = self
            .post_json(
                "/api/login",
                Some(&token),
                serde_json::json!({ "username": username, "password": password }),
            )
            .await;
        let status = resp.status();
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(status, 200, "login of {username} refused: {body}");
        body
    }
}
