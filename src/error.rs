//! Errors at the edge: one code table shared by HTTP bodies (`{"error":{"code","message","opId"}}`)
//! and Socket.IO acks (`{"error":{"code","message"}}`). Internal details are logged, never sent.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::opid;

/// Every error code a client can receive. `docs/errors.md` is generated from this table and
/// checked by a test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The request is malformed or a field is invalid.
    InvalidInput,
    /// No valid session.
    Unauthorized,
    /// Signed in, but not allowed.
    Forbidden,
    /// A sensitive action wants a second factor given recently (`POST /api/auth/step-up`).
    StepUpRequired,
    /// The CSRF token is missing or wrong, or the Origin does not match.
    InvalidCsrf,
    /// The thing asked for does not exist (or is not visible to the caller).
    NotFound,
    /// The method is not allowed on this path.
    MethodNotAllowed,
    /// It already exists, or the current state forbids the change.
    Conflict,
    /// The body is larger than allowed.
    PayloadTooLarge,
    /// A quota would be exceeded.
    QuotaExceeded,
    /// Too many requests; retry later.
    RateLimited,
    /// Proxmox answered with an error.
    UpstreamError,
    /// Proxmox, LDAP or the database cannot be reached.
    Unavailable,
    /// The server failed; the operation id helps find the log line.
    Internal,
}

impl ErrorCode {
    /// Every code, in table order.
    pub const ALL: &'static [ErrorCode] = &[
        Self::InvalidInput,
        Self::Unauthorized,
        Self::Forbidden,
        Self::StepUpRequired,
        Self::InvalidCsrf,
        Self::NotFound,
        Self::MethodNotAllowed,
        Self::Conflict,
        Self::PayloadTooLarge,
        Self::QuotaExceeded,
        Self::RateLimited,
        Self::UpstreamError,
        Self::Unavailable,
        Self::Internal,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidInput => "invalid_input",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::StepUpRequired => "step_up_required",
            Self::InvalidCsrf => "invalid_csrf",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Conflict => "conflict",
            Self::PayloadTooLarge => "payload_too_large",
            Self::QuotaExceeded => "quota_exceeded",
            Self::RateLimited => "rate_limited",
            Self::UpstreamError => "upstream_error",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
        }
    }

    /// The HTTP status.
    pub fn status(self) -> StatusCode {
        match self {
            Self::InvalidInput => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden | Self::StepUpRequired | Self::InvalidCsrf | Self::QuotaExceeded => {
                StatusCode::FORBIDDEN
            }
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Self::UpstreamError => StatusCode::BAD_GATEWAY,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The message clients see when the caller gives none.
    pub fn default_message(self) -> &'static str {
        match self {
            Self::InvalidInput => "Invalid input",
            Self::Unauthorized => "Unauthorized",
            Self::Forbidden => "Forbidden",
            Self::StepUpRequired => "Confirm it's you with your second factor to continue",
            Self::InvalidCsrf => "Invalid CSRF token",
            Self::NotFound => "Not found",
            Self::MethodNotAllowed => "Method not allowed",
            Self::Conflict => "Conflict",
            Self::PayloadTooLarge => "Payload too large",
            Self::QuotaExceeded => "Quota exceeded",
            Self::RateLimited => "Too many requests",
            Self::UpstreamError => "Proxmox refused the request",
            Self::Unavailable => "Service unavailable",
            Self::Internal => "Internal server error",
        }
    }

    /// The `docs/errors.md` catalogue.
    pub fn catalogue_markdown() -> String {
        let mut out = String::from(
            "# Error codes\n\n\
             Generated from `src/error.rs` (`ErrorCode`); a test fails when this file is out of date.\n\
             HTTP errors have the body `{\"error\": {\"code\", \"message\", \"opId\"}}`; Socket.IO acks\n\
             carry the same `{\"error\": {\"code\", \"message\"}}`. The operation id is also in the\n\
             `x-op-id` response header and in the server's log line for the request. An `invalid_input`\n\
             error about one input also carries `\"field\"`, the input's name.\n\n\
             | code | HTTP status | default message |\n|---|---|---|\n",
        );
        for code in Self::ALL {
            out.push_str(&format!(
                "| `{}` | {} | {} |\n",
                code.as_str(),
                code.status().as_u16(),
                code.default_message()
            ));
        }
        out
    }
}

/// An error on its way to a client.
#[derive(Debug)]
pub struct AppError {
    /// What kind of failure.
    pub code: ErrorCode,
    /// The text the client sees.
    pub message: String,
    /// Seconds after which to retry (429, 503).
    pub retry_after: Option<u64>,
    /// The input field at fault, for `invalid_input`.
    pub field: Option<String>,
    /// The cause, logged but never sent.
    pub source: Option<anyhow::Error>,
}

impl AppError {
    /// An error with the code's default message.
    pub fn new(code: ErrorCode) -> Self {
        Self {
            code,
            message: code.default_message().to_owned(),
            retry_after: None,
            field: None,
            source: None,
        }
    }
    /// An error with a specific message for the client.
    pub fn with_message(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            ..Self::new(code)
        }
    }
    /// An internal error: the cause is logged, the client sees only the code's message.
    pub fn internal(source: impl Into<anyhow::Error>) -> Self {
        Self {
            source: Some(source.into()),
            ..Self::new(ErrorCode::Internal)
        }
    }
    /// An `invalid_input` error about one field: "field: reason".
    pub fn field(field: &str, reason: impl std::fmt::Display) -> Self {
        Self {
            field: Some(field.to_owned()),
            ..Self::with_message(ErrorCode::InvalidInput, format!("{field}: {reason}"))
        }
    }
    /// The JSON body for Socket.IO acks.
    pub fn ack_body(&self) -> serde_json::Value {
        let mut err = serde_json::json!({ "code": self.code.as_str(), "message": self.message });
        if let Some(f) = &self.field {
            err["field"] = serde_json::Value::String(f.clone());
        }
        serde_json::json!({ "error": err })
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let op_id = opid::current();
        match (&self.source, self.code) {
            (Some(source), _) => {
                tracing::error!(op_id = %op_id, code = self.code.as_str(), error = %format!("{source:#}"), "request failed")
            }
            (None, ErrorCode::Internal) => {
                tracing::error!(op_id = %op_id, message = %self.message, "request failed")
            }
            _ => {
                tracing::debug!(op_id = %op_id, code = self.code.as_str(), message = %self.message, "request refused")
            }
        }
        let mut body = serde_json::json!({
            "error": { "code": self.code.as_str(), "message": self.message, "opId": op_id }
        });
        if let Some(f) = &self.field {
            body["error"]["field"] = serde_json::Value::String(f.clone());
        }
        let mut resp = (self.code.status(), axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            if let Ok(v) = secs.to_string().parse() {
                resp.headers_mut()
                    .insert(axum::http::header::RETRY_AFTER, v);
            }
        }
        resp
    }
}

/// Result type of handlers.
pub type AppResult<T> = Result<T, AppError>;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    #[test]
    fn error_catalogue_is_up_to_date() {
        crate::generated::up_to_date(
            "docs/errors.md",
            &ErrorCode::catalogue_markdown(),
            "error_catalogue",
        );
    }

    #[test]
    fn internal_errors_do_not_leak() {
        let err = AppError::internal(anyhow::anyhow!("password=hunter2 at db:3306"));
        assert_eq!(err.message, "Internal server error");
        assert!(!err.ack_body().to_string().contains("hunter2"));
    }
}
