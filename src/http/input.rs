//! Request extractors shared by the API routes: the [`Caller`] of a signed-in request, and JSON
//! bodies and query strings whose errors become `400 invalid_input` with the reason.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::auth::client::ClientInfo;
use crate::auth::session::CurrentSession;
use crate::auth::Caller;
use crate::error::{AppError, ErrorCode};
use crate::state::AppState;

impl FromRequestParts<AppState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let session = parts
            .extensions
            .get::<CurrentSession>()
            .cloned()
            .ok_or_else(|| AppError::new(ErrorCode::Unauthorized))?;
        let client = ClientInfo::from_request_parts(parts, state)
            .await
            .map_err(|_| AppError::new(ErrorCode::Unauthorized))?;
        Ok(Caller::new(&session, Some(client.ip), client.user_agent))
    }
}

/// The caller of a route that anonymous readers may also use (public docs): the signed-in
/// caller, or [`Caller::anonymous`]. The guard decides who gets this far.
#[derive(Debug)]
pub struct Reader(pub Caller);

impl FromRequestParts<AppState> for Reader {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        if parts.extensions.get::<CurrentSession>().is_some() {
            return Ok(Self(Caller::from_request_parts(parts, state).await?));
        }
        let client = ClientInfo::from_request_parts(parts, state)
            .await
            .map_err(|_| AppError::new(ErrorCode::Unauthorized))?;
        Ok(Self(Caller::anonymous(&client)))
    }
}

/// A sensitive action's proof that its caller gave a second factor recently (see
/// [`crate::auth::factors::ensure_recent`]); refuses with `step_up_required` otherwise. Put it
/// before the body extractor, so nothing is read or done first.
#[derive(Debug)]
pub struct RecentFactor;

impl FromRequestParts<AppState> for RecentFactor {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let session = parts
            .extensions
            .get::<CurrentSession>()
            .ok_or_else(|| AppError::new(ErrorCode::Unauthorized))?;
        crate::auth::factors::ensure_recent(&state.store, &session.record, crate::store::now_ms())
            .await?;
        Ok(Self)
    }
}

/// A JSON body; a malformed one is `400` with serde's reason (which names the field).
#[derive(Debug)]
pub struct Body<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for Body<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, AppError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Self(v)),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(AppError::with_message(
                ErrorCode::InvalidInput,
                "Send a JSON body with Content-Type: application/json",
            )),
            Err(e) => Err(AppError::with_message(
                ErrorCode::InvalidInput,
                format!("Invalid JSON body: {}", e.body_text()),
            )),
        }
    }
}

/// A query string; a malformed one is `400` with the reason.
#[derive(Debug)]
pub struct Params<T>(pub T);

impl<T: DeserializeOwned> FromRequestParts<AppState> for Params<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Self(v)),
            Err(e @ QueryRejection::FailedToDeserializeQueryString(_)) => Err(
                AppError::with_message(ErrorCode::InvalidInput, e.body_text()),
            ),
            Err(e) => Err(AppError::with_message(
                ErrorCode::InvalidInput,
                e.body_text(),
            )),
        }
    }
}
