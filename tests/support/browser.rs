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

    /// A `multipart/form-data` POST of `parts`, built by hand as a browser's `FormData` is.
    pub async fn post_multipart(
        &self,
        path: &str,
        csrf: Option<&str>,
        parts: &[Part<'_>],
    ) -> reqwest::Response {
        let boundary = "----umaTestBoundary7MA4YWxkTrZu0gW";
        let mut body: Vec<u8> = Vec::new();
        for p in parts {
            body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
            match p.file_name {
                Some(f) => body.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name=\"{}\"; filename=\"{f}\"\r\nContent-Type: {}\r\n\r\n",
                        p.name,
                        p.content_type.unwrap_or("application/octet-stream")
                    )
                    .as_bytes(),
                ),
                None => body.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{}\"\r\n\r\n", p.name)
                        .as_bytes(),
                ),
            }
            body.extend_from_slice(p.data);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .headers(self.headers(csrf))
            .header(
                reqwest::header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body)
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

/// One part of a multipart body.
pub struct Part<'a> {
    pub name: &'a str,
    /// Set for a file.
    pub file_name: Option<&'a str>,
    pub content_type: Option<&'a str>,
    pub data: &'a [u8],
}

impl<'a> Part<'a> {
    /// A file part named `file`.
    pub fn file(file_name: &'a str, content_type: &'a str, data: &'a [u8]) -> Self {
        Self {
            name: "file",
            file_name: Some(file_name),
            content_type: Some(content_type),
            data,
        }
    }

    /// A text field.
    pub fn text(name: &'a str, value: &'a str) -> Self {
        Self {
            name,
            file_name: None,
            content_type: None,
            data: value.as_bytes(),
        }
    }
}
