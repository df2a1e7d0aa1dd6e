//! Proxmox-shaped API errors: status, message (first line = reason phrase), optional `errors` map.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

/// An error the way `pve-http-server` reports it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub errors: Option<BTreeMap<String, String>>,
}

impl ApiError {
    /// A `die` in a handler: 500 with the message.
    pub fn die(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: message.into(),
            errors: None,
        }
    }
    /// `raise_param_exc`: 400 "Parameter verification failed." with the `errors` map.
    pub fn params(errors: BTreeMap<String, String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: "Parameter verification failed.".to_owned(),
            errors: Some(errors),
        }
    }
    /// A single-parameter 400.
    pub fn param(key: &str, msg: impl Into<String>) -> Self {
        Self::params(BTreeMap::from([(key.to_owned(), msg.into())]))
    }
    /// `raise_perm_exc`: 403 "Permission check failed (PATH, PRIVS)".
    pub fn forbidden(detail: impl AsRef<str>) -> Self {
        Self {
            status: StatusCode::FORBIDDEN,
            message: format!("Permission check failed ({})", detail.as_ref()),
            errors: None,
        }
    }
    /// 501 "Method 'GET /x' not implemented".
    pub fn not_implemented(method: &str, path: &str) -> Self {
        Self {
            status: StatusCode::NOT_IMPLEMENTED,
            message: format!("Method '{method} {path}' not implemented"),
            errors: None,
        }
    }
    /// Any status with a message.
    pub fn with_status(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            errors: None,
        }
    }
}

/// Sets the HTTP reason phrase to the first line of `message`, as Proxmox does.
pub(crate) fn set_reason(resp: &mut Response, message: &str) {
    let first = message.lines().next().unwrap_or_default();
    if let Ok(reason) = hyper::ext::ReasonPhrase::try_from(first.as_bytes().to_vec()) {
        resp.extensions_mut().insert(reason);
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "data": Value::Null, "message": format!("{}\n", self.message) });
        if let Some(errors) = &self.errors {
            body["errors"] = json!(errors);
            let detail: Vec<String> = errors.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            body["message"] = Value::String(format!("{}\n{}\n", self.message, detail.join("\n")));
        }
        let mut resp = (self.status, Json(body)).into_response();
        set_reason(&mut resp, &self.message);
        resp
    }
}
