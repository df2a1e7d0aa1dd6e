//! Passkey routes: setting one up (`POST /api/auth/passkeys/register`, then `POST
//! /api/auth/passkeys`), renaming and removing one (`PATCH|DELETE /api/auth/passkeys/{id}`),
//! starting a use of one's own as a second factor (`POST /api/auth/passkeys/challenge`, answered
//! on `/api/login/mfa`, `/api/auth/step-up`, …) and signing in with one alone (`POST
//! /api/login/passkey/options`, then `POST /api/login/passkey`).
//!
//! Setting one up works for a signed-in person (confirmed with a recent second factor when they
//! have one) and for a sign-in the policy sent to set up a second factor (its challenge cookie),
//! which it completes.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{patch, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::auth::{auth_refusal, open_session, signed_in, LoginRefusal};
use super::factors::{
    actor, first_recovery_codes, not_blocked, pending, refused_code, signed, too_many_attempts,
    Enroller,
};
use crate::audit::{AuditAction, Status};
use crate::auth::client::ClientInfo;
use crate::auth::factors::Method;
use crate::auth::factors::Policy;
use crate::auth::passkeys::{self, Used};
use crate::auth::session::CurrentSession;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::input::{Body, RecentFactor};
use crate::http::oidc::PasskeyOrigin;
use crate::limits::login::Verdict;
use crate::state::AppState;
use crate::store::now_ms;
use crate::store::passkeys::PasskeyRow;

/// Passkey routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/auth/passkeys", post(register_finish))
        .route("/api/auth/passkeys/register", post(register_start))
        .route("/api/auth/passkeys/challenge", post(challenge))
        .route("/api/auth/passkeys/{id}", patch(rename).delete(remove))
        .route("/api/login/passkey/options", post(sign_in_options))
        .route("/api/login/passkey", post(sign_in))
}

/// A passkey as its owner sees it.
pub fn passkey_json(k: &PasskeyRow) -> serde_json::Value {
    json!({
        "id": k.id,
        "name": k.name,
        "createdAt": k.created_at,
        "lastUsedAt": k.last_used_at,
    })
}

/// `{name, password}` of a new passkey (the password when it is the first second factor of a
/// session that did not just sign in).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StartInput {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

/// A passkey signs in on its own: made as the first second factor from a session, it would turn
/// a stolen session into lasting access. So that needs a sign-in within the step-up minutes, or
/// the password again. (With a factor already, one of them must be recent: `Enroller::find`.)
async fn first_factor_confirmed(
    state: &AppState,
    client: &ClientInfo,
    s: &CurrentSession,
    user_id: &str,
    password: Option<&str>,
) -> AppResult<()> {
    if !crate::auth::factors::methods(&state.store, user_id)
        .await?
        .is_empty()
    {
        return Ok(());
    }
    let window = i64::from(Policy::load(&state.store).await.step_up_minutes) * 60_000;
    if now_ms() - s.record.created_at <= window {
        return Ok(());
    }
    let Some(password) = password.filter(|p| !p.is_empty()) else {
        return Err(AppError::field(
            "password",
            "enter your password to add your first passkey",
        ));
    };
    not_blocked(state, client, s.username(), user_id).await?;
    match crate::auth::authenticate(
        &state.store,
        state.ldap.as_deref(),
        &state.config,
        s.username(),
        password,
    )
    .await
    {
        Ok(_) => {
            state.limiter.factor_succeeded(user_id).await;
            Ok(())
        }
        Err(crate::auth::AuthError::InvalidCredentials) => {
            let remaining = state.limiter.fail(&client.ip, s.username()).await;
            let mut err = AppError::field("password", "that password isn't right");
            if remaining == 0 {
                err = AppError::field(
                    "password",
                    "that password isn't right; further attempts are blocked for 15 minutes",
                );
            }
            Err(err)
        }
        Err(e) => {
            let (_, code, message, _) = auth_refusal(&e, s.username());
            Err(AppError::with_message(code, message))
        }
    }
}

/// `POST /api/auth/passkeys/register` `{name?}`: the options for `navigator.credentials.create`
/// and the ceremony's id.
async fn register_start(
    State(state): State<AppState>,
    client: ClientInfo,
    origin: PasskeyOrigin,
    headers: HeaderMap,
    session: Option<Extension<CurrentSession>>,
    Body(input): Body<StartInput>,
) -> AppResult<Json<passkeys::Started>> {
    passkeys::clean_name(input.name.as_deref())?;
    let (who, user_id, username) = Enroller::find(&state, &headers, session).await?;
    if let Enroller::Signed(s) = &who {
        first_factor_confirmed(&state, &client, s, &user_id, input.password.as_deref()).await?;
    }
    let display = match &who {
        Enroller::Signed(s) => s.record.display_name.clone(),
        Enroller::Pending(p) => p.identity.display_name.clone(),
    }
    .unwrap_or_else(|| username.clone());
    Ok(Json(
        passkeys::start_registration(&state.store, &origin.0, &user_id, &username, &display)
            .await?,
    ))
}

/// `{ceremonyId, name?, credential}` of a passkey being set up.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct FinishInput {
    #[serde(default)]
    ceremony_id: String,
    #[serde(default)]
    name: Option<String>,
    credential: Option<serde_json::Value>,
}

/// `POST /api/auth/passkeys`: records the passkey the browser made. Answers `{passkey,
/// recoveryCodes?}` (the codes with a first second factor); a waiting sign-in completes.
async fn register_finish(
    State(state): State<AppState>,
    client: ClientInfo,
    origin: PasskeyOrigin,
    headers: HeaderMap,
    session: Option<Extension<CurrentSession>>,
    Body(input): Body<FinishInput>,
) -> AppResult<Response> {
    let name = passkeys::clean_name(input.name.as_deref())?;
    let credential = input
        .credential
        .ok_or_else(|| AppError::field("credential", "send the browser's answer"))?;
    let (who, user_id, username) = Enroller::find(&state, &headers, session).await?;
    let row = passkeys::finish_registration(
        &state.store,
        &origin.0,
        &user_id,
        &input.ceremony_id,
        &credential,
        name,
    )
    .await?;
    let codes = first_recovery_codes(&state, &user_id).await?;
    state.audit.record(
        &actor(&username, &client),
        AuditAction::MfaEnroll,
        &format!("user:factors:{username}"),
        Status::Success,
        json!({
            "method": "webauthn",
            "passkey": row.id,
            "name": row.name,
            "duringSignIn": matches!(who, Enroller::Pending(_)),
        }),
    );
    let mut extra = json!({ "passkey": passkey_json(&row) });
    if let (Some(codes), Some(obj)) = (codes, extra.as_object_mut()) {
        obj.insert("recoveryCodes".into(), json!(codes));
    }
    who.finish(&state, &client, extra).await
}

/// `POST /api/auth/passkeys/challenge`: options for `navigator.credentials.get` with one's own
/// passkeys, to give as a second factor (a waiting sign-in, or a signed-in person confirming an
/// action).
async fn challenge(
    State(state): State<AppState>,
    origin: PasskeyOrigin,
    headers: HeaderMap,
    session: Option<Extension<CurrentSession>>,
) -> AppResult<Json<passkeys::Started>> {
    let user_id = match session {
        Some(s) => signed(&state, Some(s)).await?.1,
        None => {
            let p = pending(&state, &headers).await?;
            if p.row.enrol {
                return Err(AppError::with_message(
                    ErrorCode::Conflict,
                    "Set up a second factor first.",
                ));
            }
            p.row.user_id
        }
    };
    Ok(Json(
        passkeys::start_authentication(&state.store, &origin.0, &user_id).await?,
    ))
}

/// `{name}` of a rename.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RenameInput {
    #[serde(default)]
    name: Option<String>,
}

fn no_such_passkey() -> AppError {
    AppError::with_message(ErrorCode::NotFound, "You have no passkey by that id.")
}

/// `PATCH /api/auth/passkeys/{id}` `{name}`: renames one's passkey (confirmed with a recent
/// second factor: a name is what tells the owner which passkey is theirs).
async fn rename(
    State(state): State<AppState>,
    session: Option<Extension<CurrentSession>>,
    _: RecentFactor,
    Path(id): Path<String>,
    Body(input): Body<RenameInput>,
) -> AppResult<Json<serde_json::Value>> {
    let (_, user_id) = signed(&state, session).await?;
    let name = passkeys::clean_name(input.name.as_deref())?;
    if !state.store.rename_passkey(&user_id, &id, &name).await? {
        return Err(no_such_passkey());
    }
    Ok(Json(json!({ "id": id, "name": name })))
}

/// `DELETE /api/auth/passkeys/{id}`: removes one's passkey (confirmed with a recent second
/// factor); recovery codes go with the last second factor.
async fn remove(
    State(state): State<AppState>,
    client: ClientInfo,
    Extension(me): Extension<CurrentSession>,
    _: RecentFactor,
    Path(id): Path<String>,
) -> AppResult<Json<serde_json::Value>> {
    let (_, user_id) = signed(&state, Some(Extension(me.clone()))).await?;
    if !state.store.delete_passkey(&user_id, &id).await? {
        return Err(no_such_passkey());
    }
    state.audit.record(
        &actor(me.username(), &client),
        AuditAction::MfaRemove,
        &format!("user:factors:{}", me.username()),
        Status::Success,
        json!({ "own": true, "method": "webauthn", "passkey": id }),
    );
    Ok(Json(json!({ "success": true })))
}

/// Refuses while this address has made too many sign-in attempts.
async fn address_allowed(state: &AppState, client: &ClientInfo) -> AppResult<()> {
    match state.limiter.check(&client.ip, "").await {
        Verdict::Blocked { retry_after } => Err(too_many_attempts(retry_after)),
        Verdict::Allowed { .. } => Ok(()),
    }
}

/// `POST /api/login/passkey/options`: starts a passkey sign-in.
async fn sign_in_options(
    State(state): State<AppState>,
    client: ClientInfo,
    origin: PasskeyOrigin,
) -> AppResult<Json<passkeys::Started>> {
    address_allowed(&state, &client).await?;
    Ok(Json(
        passkeys::start_discovery(&state.store, &origin.0).await?,
    ))
}

/// `{ceremonyId, credential}` of a passkey sign-in.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SignInInput {
    #[serde(default)]
    ceremony_id: String,
    credential: Option<serde_json::Value>,
}

/// `POST /api/login/passkey`: signs in with the passkey the browser offered (the session counts
/// as having given a second factor now).
async fn sign_in(
    State(state): State<AppState>,
    client: ClientInfo,
    origin: PasskeyOrigin,
    Body(input): Body<SignInInput>,
) -> AppResult<Response> {
    let credential = input
        .credential
        .ok_or_else(|| AppError::field("credential", "send the browser's answer"))?;
    let used = passkeys::finish_discovery(&state.store, &origin.0, &input.ceremony_id, &credential)
        .await?;
    let row = match used {
        Used::Accepted(row) => row,
        Used::Refused { why, user_id } => {
            let owner = match user_id {
                Some(id) => state.store.user_by_id(&id).await?.map(|u| u.username),
                None => None,
            };
            return Ok(match owner {
                // A refused passkey of a known person counts toward their limits.
                Some(name) => {
                    refused_code(&state, &client, &name, Method::Webauthn, "passkey-sign-in").await
                }
                None => {
                    state.audit.record(
                        &actor("", &client),
                        AuditAction::LoginFailed,
                        "auth:session",
                        Status::Failure,
                        json!({ "reason": "unknown_passkey" }),
                    );
                    AppError::with_message(ErrorCode::Unauthorized, why).into_response()
                }
            });
        }
    };
    let Some(user) = state.store.user_by_id(&row.user_id).await? else {
        return Err(AppError::with_message(
            ErrorCode::Unauthorized,
            "This account no longer exists.",
        ));
    };
    if let Verdict::Blocked { .. } = state.limiter.check(&client.ip, &user.username).await {
        return Err(AppError::with_message(
            ErrorCode::RateLimited,
            "Too many sign-in attempts for this account. Try again later.",
        ));
    }
    let identity = match crate::auth::identify(
        &state.store,
        state.ldap.as_deref(),
        &state.config,
        &user.username,
    )
    .await
    {
        Ok(identity) => identity,
        Err(err) => {
            let (status, code, message, reason) = auth_refusal(&err, &user.username);
            state.audit.record(
                &actor(&user.username, &client),
                AuditAction::LoginFailed,
                "auth:session",
                Status::Failure,
                json!({ "reason": reason, "method": "webauthn" }),
            );
            let message = match err {
                crate::auth::AuthError::InvalidCredentials => {
                    "This passkey's account no longer exists.".to_owned()
                }
                _ => message,
            };
            return Ok(LoginRefusal {
                status,
                code,
                message,
                remaining: None,
                retry_after: None,
            }
            .into_response());
        }
    };
    // The account the name leads to now must be the one the passkey was set up for (a local
    // account made later under a directory person's name, in any case, is another account).
    if state
        .store
        .user_by_username(&identity.username)
        .await?
        .is_none_or(|u| u.id != row.user_id)
    {
        state.audit.record(
            &actor(&user.username, &client),
            AuditAction::LoginFailed,
            "auth:session",
            Status::Failure,
            json!({ "reason": "passkey_of_another_account", "method": "webauthn" }),
        );
        return Err(AppError::with_message(
            ErrorCode::Forbidden,
            "This passkey was set up for an account that no longer signs in under this name. Sign in with your password and set up a new one.",
        ));
    }
    state.limiter.succeed(&client.ip, &identity.username).await;
    state.limiter.factor_succeeded(&row.user_id).await;
    let (session, cookies) = match open_session(&state, &client, &identity, Some(now_ms())).await {
        Ok(s) => s,
        Err(r) => return Ok(r.into_response()),
    };
    state.audit.record(
        &actor(&identity.username, &client),
        AuditAction::LoginPasskey,
        "auth:session",
        Status::Success,
        json!({ "passkey": row.id, "name": row.name }),
    );
    Ok(signed_in(&session, cookies, json!({})))
}
