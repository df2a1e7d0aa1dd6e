//! Upload routes: `POST /api/upload` (multipart: `file`, and `docId` for an administrator's
//! doc), `GET /api/uploads` (the caller's, with their quota), `DELETE /api/uploads/{id}`, and the
//! files themselves at `GET /uploads/{name}`: signed-in readers only (everyone for the files of
//! published docs when the docs are public), never sniffed, never scripted, PDFs downloaded.

use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::auth::session::CurrentSession;
use crate::auth::Caller;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::services::uploads::{self, Uploads};
use crate::state::AppState;

/// Upload routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/upload",
            // The size limit is a setting, enforced while the request streams in.
            post(upload).layer(DefaultBodyLimit::disable()),
        )
        .route("/api/uploads", get(list))
        .route("/api/uploads/{id}", delete(remove))
        .route("/uploads/{name}", get(serve))
}

/// Longest `docId` field read.
const DOC_ID_MAX: usize = 128;
/// What the request may carry besides the file (part headers, `docId`): the whole request is
/// read up to the size limit plus this, so nothing buffers without bound.
const FORM_SLACK: u64 = 64 * 1024;

fn multipart_error(e: impl std::fmt::Display) -> AppError {
    AppError::with_message(
        ErrorCode::InvalidInput,
        format!("Send the file as multipart/form-data with a field named file ({e})"),
    )
}

async fn upload(
    State(uploads): State<Uploads>,
    caller: Caller,
    req: Request,
) -> AppResult<Json<Value>> {
    let boundary = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| multipart_error("no Content-Type"))
        .and_then(|ct| multer::parse_boundary(ct).map_err(multipart_error))?;
    let allowance = uploads.allowance(&caller).await?;
    let max = allowance.max_bytes();
    let limits = multer::SizeLimit::new().whole_stream(max.saturating_add(FORM_SLACK));
    let mut multipart = multer::Multipart::with_constraints(
        req.into_body().into_data_stream(),
        boundary,
        multer::Constraints::new().size_limit(limits),
    );
    let mut doc_id: Option<String> = None;
    let mut received = None;
    // A file that arrived is removed again if anything after it fails (see `Received`).
    while let Some(mut field) = multipart
        .next_field()
        .await
        .map_err(|e| uploads::stream_error(&e, max))?
    {
        match field.name() {
            Some("file") if received.is_none() => {
                let name = field.file_name().map(str::to_owned);
                received = Some(
                    uploads
                        .receive(&caller, allowance, name.as_deref(), &mut field)
                        .await?,
                );
            }
            Some("file") => return Err(AppError::field("file", "send one file per upload")),
            Some("docId") => {
                let mut text = Vec::new();
                while let Some(chunk) = field
                    .chunk()
                    .await
                    .map_err(|e| uploads::stream_error(&e, max))?
                {
                    text.extend_from_slice(&chunk);
                    if text.len() > DOC_ID_MAX {
                        return Err(AppError::field("docId", "no such doc"));
                    }
                }
                let text =
                    String::from_utf8(text).map_err(|_| AppError::field("docId", "no such doc"))?;
                doc_id = Some(text.trim().to_owned()).filter(|t| !t.is_empty());
            }
            other => {
                return Err(AppError::field(
                    other.unwrap_or("(unnamed)"),
                    "is not a field of an upload (use file and docId)",
                ))
            }
        }
    }
    let received = received.ok_or_else(|| AppError::field("file", "No file uploaded"))?;
    Ok(Json(
        uploads.record(&caller, received, doc_id.as_deref()).await?,
    ))
}

async fn list(State(uploads): State<Uploads>, caller: Caller) -> AppResult<Json<Value>> {
    Ok(Json(uploads.list(&caller).await?))
}

async fn remove(
    State(uploads): State<Uploads>,
    caller: Caller,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    uploads.delete(&caller, &id).await?;
    Ok(Json(json!({ "success": true })))
}

/// `filename` for `Content-Disposition`: ASCII with quotes and controls replaced, and the
/// exact name as `filename*`.
fn disposition(kind: &str, name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

async fn serve(State(uploads): State<Uploads>, Path(name): Path<String>, req: Request) -> Response {
    let reader = req
        .extensions()
        .get::<CurrentSession>()
        .map(|s| s.record.username.clone());
    let served = match uploads.open(reader.as_deref(), &name).await {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    // Ranges, conditional requests and HEAD come from tower-http.
    let file = tower_http::services::ServeFile::new(&served.path);
    let mut resp = match file.oneshot(req).await {
        Ok(r) => r.into_response(),
        Err(e) => return AppError::internal(e).into_response(),
    };
    if !resp.status().is_success() && resp.status() != axum::http::StatusCode::NOT_MODIFIED {
        return resp;
    }
    let h = resp.headers_mut();
    // The address never changes: the name is made from the content.
    crate::http::security::inert_file(
        h,
        served.kind.content_type(),
        "private, max-age=31536000, immutable",
    );
    let how = if served.kind.is_image() {
        "inline"
    } else {
        "attachment"
    };
    if let Ok(v) = HeaderValue::from_str(&disposition(how, &served.file_name)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::disposition;

    #[test]
    fn dispositions_quote_safely() {
        assert_eq!(
            disposition("attachment", "Rapport \"final\" é.pdf"),
            "attachment; filename=\"Rapport _final_ _.pdf\"; filename*=UTF-8''Rapport%20%22final%22%20%C3%A9.pdf"
        );
    }
}
