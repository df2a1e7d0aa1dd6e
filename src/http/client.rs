//! The caller's address and user agent as an extractor ([`crate::auth::client`] decides them).

use axum::extract::FromRequestParts;
use http::request::Parts;

pub use crate::auth::client::ClientInfo;
use crate::state::AppState;

impl FromRequestParts<AppState> for ClientInfo {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientInfo::of(
            &state.config,
            &parts.extensions,
            &parts.headers,
        ))
    }
}
