//! Static assets from `web/dist` (built by esbuild): embedded in release builds, read from disk in
//! debug builds. Fingerprint-free names, so they are revalidated rather than cached forever.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use rust_embed::RustEmbed;

use crate::state::AppState;

#[derive(RustEmbed)]
#[folder = "web/dist/"]
#[allow_missing = true]
struct Dist;

/// `GET /assets/{*path}`.
pub fn router() -> Router<AppState> {
    Router::new().route("/assets/{*path}", get(asset))
}

async fn asset(Path(path): Path<String>, headers: axum::http::HeaderMap) -> Response {
    let Some(file) = Dist::get(&path) else {
        return (StatusCode::NOT_FOUND, "asset not found").into_response();
    };
    let etag = format!("\"{}\"", hex::encode(&file.metadata.sha256_hash()[..12]));
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == etag)
    {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    (
        [
            (header::CONTENT_TYPE, file.metadata.mimetype().to_owned()),
            (
                header::CACHE_CONTROL,
                "public, max-age=0, must-revalidate".to_owned(),
            ),
            (header::ETAG, etag),
        ],
        file.data,
    )
        .into_response()
}

/// Whether the web bundle is present (a build without `make web` has no assets).
pub fn bundle_present() -> bool {
    Dist::get("main.js").is_some()
}
