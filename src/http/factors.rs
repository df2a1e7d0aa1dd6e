//! Second-factor routes: completing a sign-in (`POST /api/login/mfa`), setting up and removing an
//! authenticator app (`POST|DELETE /api/auth/totp`, `POST /api/auth/totp/confirm`), recovery
//! codes (`POST /api/auth/recovery-codes`), one's factors (`GET /api/auth/factors`), confirming
//! a sensitive action (`POST /api/auth/step-up`), the administrators' policy
//! (`GET|PUT /api/settings/mfa`) and removing someone's factors (`DELETE
//! /api/admin/users/{username}/factors`).
//!
//! A sign-in whose password was right but whose second factor is due holds only a challenge
//! cookie (see [`super::auth::CHALLENGE_COOKIE`]); setting up an app is allowed with that cookie
//! when the policy asks for one, and completes the sign-in.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::auth::{open_session, signed_in, CHALLENGE_COOKIE};
use crate::audit::{Actor, AuditAction, Status};
use crate::auth::client::ClientInfo;
use crate::auth::factors::{self, Method, Policy};
use crate::auth::passkeys::{self, Used};
use crate::auth::session::{self, CurrentSession};
use crate::auth::{totp, Identity};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::input::{Body, RecentFactor};
use crate::http::oidc::PasskeyOrigin;
use crate::limits::login::Verdict;
use crate::state::AppState;
use crate::store::factors::ChallengeRow;
use crate::store::now_ms;

/// Second-factor routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login/second-factor", get(page))
        .route("/api/login/mfa", post(login_mfa))
        .route("/api/auth/factors", get(my_factors))
        .route("/api/auth/totp", post(totp_start).delete(totp_remove))
        .route("/api/auth/totp/confirm", post(totp_confirm))
        .route("/api/auth/recovery-codes", post(renew_recovery_codes))
        .route("/api/auth/step-up", post(step_up))
        .route("/api/settings/mfa", get(policy).put(set_policy))
        .route("/api/admin/users/{username}/factors", delete(admin_remove))
}

/// The issuer name authenticator apps show.
const ISSUER: &str = "Uma";
/// What a code that is not accepted answers.
const WRONG_CODE: &str = "That code isn't right, or was used already. Try the next one.";
/// What a passkey that is not accepted answers.
const WRONG_PASSKEY: &str = "That passkey wasn't accepted.";
/// What a sign-in that can't continue answers.
const EXPIRED: &str = "Your sign-in has expired. Sign in again.";

pub(super) fn actor(username: &str, client: &ClientInfo) -> Actor {
    Actor {
        username: username.to_owned(),
        ip: Some(client.ip.clone()),
        user_agent: client.user_agent.clone(),
    }
}

fn now_secs() -> i64 {
    now_ms() / 1000
}

/// A sign-in waiting for its second factor, from the request's challenge cookie.
pub(super) struct Pending {
    hash: String,
    pub(super) row: ChallengeRow,
    pub(super) identity: Identity,
}

pub(super) async fn pending(state: &AppState, headers: &HeaderMap) -> AppResult<Pending> {
    let expired = || AppError::with_message(ErrorCode::Unauthorized, EXPIRED);
    let token = session::cookie_value(headers, CHALLENGE_COOKIE)
        .and_then(|raw| state.signer.verify(CHALLENGE_COOKIE, raw))
        .ok_or_else(expired)?;
    let hash = factors::secret_hash(token);
    let row = state
        .store
        .challenge(&hash, now_ms())
        .await?
        .ok_or_else(expired)?;
    let identity = factors::identity_from_json(&row.identity).ok_or_else(expired)?;
    Ok(Pending {
        hash,
        row,
        identity,
    })
}

/// Refuses while the sign-in limits block `username` from this address, or the account has
/// tried too many codes from anywhere; counts this try for the account before the code is
/// checked.
pub(super) async fn not_blocked(
    state: &AppState,
    client: &ClientInfo,
    username: &str,
    user_id: &str,
) -> AppResult<()> {
    let blocked = match state.limiter.check(&client.ip, username).await {
        Verdict::Blocked { retry_after } => Some(retry_after),
        Verdict::Allowed { .. } => match state.limiter.factor_attempt(user_id).await {
            Verdict::Blocked { retry_after } => Some(retry_after),
            Verdict::Allowed { .. } => None,
        },
    };
    match blocked {
        Some(retry_after) => Err(too_many_attempts(retry_after)),
        None => Ok(()),
    }
}

/// `429`: too many sign-in attempts, with when to try again.
pub(super) fn too_many_attempts(retry_after: u64) -> AppError {
    let minutes = retry_after.div_ceil(60);
    let mut err = AppError::with_message(
        ErrorCode::RateLimited,
        format!(
            "Too many sign-in attempts. Try again in {minutes} minute{}.",
            if minutes == 1 { "" } else { "s" }
        ),
    );
    err.retry_after = Some(retry_after);
    err
}

/// Counts a refused code toward the sign-in limits and audits it; the answer says how many
/// attempts remain.
pub(super) async fn refused_code(
    state: &AppState,
    client: &ClientInfo,
    username: &str,
    method: Method,
    during: &str,
) -> Response {
    let remaining = state.limiter.fail(&client.ip, username).await;
    state.audit.record(
        &actor(username, client),
        AuditAction::MfaFailed,
        "auth:session",
        Status::Failure,
        json!({ "method": method.as_str(), "during": during }),
    );
    // A field error, not 401: the sign-in (or session) goes on, only the code was wrong.
    let (wrong, field) = match method {
        Method::Webauthn => (WRONG_PASSKEY, "credential"),
        _ => (WRONG_CODE, "code"),
    };
    let message = match remaining {
        0 => format!("{wrong} Further attempts are blocked for 15 minutes."),
        n @ 1..=3 => format!("{wrong} {n} attempt{} left.", if n == 1 { "" } else { "s" }),
        _ => wrong.to_owned(),
    };
    let mut err = AppError::with_message(ErrorCode::InvalidInput, message);
    err.field = Some(field.into());
    super::auth::with_remaining(err.into_response(), remaining).await
}

/// The end of a challenge: the session opens, the challenge cookie goes.
pub(super) async fn complete(
    state: &AppState,
    client: &ClientInfo,
    p: &Pending,
    extra: serde_json::Value,
) -> Response {
    // The account may have been disabled while the sign-in waited.
    if p.identity.source == "local" {
        match state.store.local_account(&p.identity.username).await {
            Ok(Some((_, account))) if !account.disabled => {}
            Ok(_) => {
                let _ = state.store.take_challenge(&p.hash).await;
                return AppError::with_message(
                    ErrorCode::Forbidden,
                    "This account is disabled. Ask an administrator.",
                )
                .into_response();
            }
            Err(e) => return AppError::from(e).into_response(),
        }
    }
    match state.store.take_challenge(&p.hash).await {
        Ok(true) => {}
        Ok(false) => {
            return AppError::with_message(ErrorCode::Unauthorized, EXPIRED).into_response()
        }
        Err(e) => return AppError::from(e).into_response(),
    }
    state
        .limiter
        .succeed(&client.ip, &p.identity.username)
        .await;
    let (session, mut cookies) =
        match open_session(state, client, &p.identity, Some(now_ms())).await {
            Ok(s) => s,
            Err(r) => return r.into_response(),
        };
    cookies.push(state.cookies.set_cookie(CHALLENGE_COOKIE, "", Some(0)));
    signed_in(&session, cookies, extra)
}

/// `?next=` of the second-factor page.
#[derive(Debug, Deserialize)]
struct NextQuery {
    next: Option<String>,
}

/// `GET /login/second-factor`: the sign-in's second step (a code, or setting up an app when the
/// policy asks for one). Without a waiting sign-in it sends to the login page.
async fn page(
    State(state): State<AppState>,
    origin: PasskeyOrigin,
    Extension(nonce): Extension<crate::http::security::CspNonce>,
    axum::extract::Query(q): axum::extract::Query<NextQuery>,
    headers: HeaderMap,
) -> Response {
    let next = crate::http::guard::safe_next(q.next.as_deref());
    let Ok(p) = pending(&state, &headers).await else {
        return crate::http::guard::see_other(&format!(
            "/login?next={}",
            crate::http::guard::urlencode(&next)
        ));
    };
    let methods = factors::methods(&state.store, &p.row.user_id)
        .await
        .unwrap_or_default();
    let (token, cookie) = super::auth::login_csrf(&state, &headers);
    let body = state.templates.render(
        "auth/second-factor.html",
        minijinja::context! {
            nonce => nonce.0,
            csrf_token => token,
            enrol => p.row.enrol,
            methods => methods.iter().map(|m| m.as_str()).collect::<Vec<_>>(),
            passkeys_here => passkeys::available_at(&origin.0),
            username => p.identity.username,
            next => next,
        },
    );
    let mut resp = crate::http::pages::html(axum::http::StatusCode::OK, body);
    if let Some(c) = cookie.and_then(|c| c.parse().ok()) {
        resp.headers_mut().insert(axum::http::header::SET_COOKIE, c);
    }
    resp
}

/// A second factor: a code and the way it was made, or a passkey's answer to a ceremony started
/// with `POST /api/auth/passkeys/challenge`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct CodeInput {
    /// `totp`, `recovery` or `webauthn` (default `totp`).
    #[serde(default)]
    method: Option<String>,
    /// The code.
    #[serde(default)]
    code: String,
    /// The passkey ceremony (`webauthn`).
    #[serde(default)]
    ceremony_id: Option<String>,
    /// The browser's answer (`webauthn`).
    #[serde(default)]
    credential: Option<serde_json::Value>,
}

impl CodeInput {
    fn method(&self) -> AppResult<Method> {
        match self.method.as_deref().unwrap_or("totp") {
            "totp" => Ok(Method::Totp),
            "recovery" => Ok(Method::Recovery),
            "webauthn" => Ok(Method::Webauthn),
            _ => Err(AppError::field("method", "use totp, webauthn or recovery")),
        }
    }
    fn code(&self) -> AppResult<&str> {
        let code = self.code.trim();
        if code.is_empty() {
            return Err(AppError::field("code", "enter the code"));
        }
        Ok(code)
    }
}

/// `POST /api/login/mfa`: completes a waiting sign-in with a code.
async fn login_mfa(
    State(state): State<AppState>,
    client: ClientInfo,
    origin: PasskeyOrigin,
    headers: HeaderMap,
    Body(input): Body<CodeInput>,
) -> AppResult<Response> {
    let p = pending(&state, &headers).await?;
    if p.row.enrol {
        return Err(AppError::with_message(
            ErrorCode::Conflict,
            "Set up a second factor first (POST /api/auth/passkeys/register or POST /api/auth/totp).",
        ));
    }
    let method = input.method()?;
    not_blocked(&state, &client, &p.identity.username, &p.row.user_id).await?;
    if !check_factor(&state, &origin.0, &p.row.user_id, method, &input).await? {
        return Ok(refused_code(&state, &client, &p.identity.username, method, "sign-in").await);
    }
    state.limiter.factor_succeeded(&p.row.user_id).await;
    let left = state.store.recovery_codes_left(&p.row.user_id).await?;
    state.audit.record(
        &actor(&p.identity.username, &client),
        AuditAction::MfaVerified,
        "auth:session",
        Status::Success,
        json!({ "method": method.as_str(), "during": "sign-in", "recoveryCodesLeft": left }),
    );
    Ok(complete(&state, &client, &p, json!({ "recoveryCodesLeft": left })).await)
}

/// Checks (and spends) the second factor in `input` for `user_id`: whether it was accepted.
async fn check_factor(
    state: &AppState,
    origin: &str,
    user_id: &str,
    method: Method,
    input: &CodeInput,
) -> AppResult<bool> {
    if method != Method::Webauthn {
        let code = input.code()?;
        return Ok(factors::verify(&state.store, user_id, method, code, now_secs()).await?);
    }
    let ceremony = input.ceremony_id.as_deref().ok_or_else(|| {
        AppError::field("ceremonyId", "start with POST /api/auth/passkeys/challenge")
    })?;
    let credential = input
        .credential
        .as_ref()
        .ok_or_else(|| AppError::field("credential", "send the passkey's answer"))?;
    Ok(matches!(
        passkeys::finish_authentication(&state.store, origin, user_id, ceremony, credential)
            .await?,
        Used::Accepted(_)
    ))
}

/// Who is setting up an app: a signed-in person, or a sign-in the policy sent to set one up.
pub(super) enum Enroller {
    Signed(CurrentSession),
    Pending(Pending),
}

impl Enroller {
    /// The person adding a second factor: with a session, one of their own factors must be
    /// recent (a stolen session must not add its own); without one, a sign-in the policy sent to
    /// set one up.
    pub(super) async fn find(
        state: &AppState,
        headers: &HeaderMap,
        session: Option<Extension<CurrentSession>>,
    ) -> AppResult<(Self, String, String)> {
        if let Some(Extension(s)) = session {
            if !matches!(s.record.auth_source.as_str(), "local" | "ldap") {
                return Err(AppError::with_message(
                    ErrorCode::Conflict,
                    "You sign in through your organisation's identity provider: second factors are set up there.",
                ));
            }
            let user_id = factors::account_id(&state.store, &s.record).await?;
            factors::ensure_recent_to_add(&state.store, &s.record, &user_id, now_ms()).await?;
            let name = s.username().to_owned();
            return Ok((Self::Signed(s), user_id, name));
        }
        let p = pending(state, headers).await?;
        if !p.row.enrol {
            return Err(AppError::with_message(
                ErrorCode::Conflict,
                "You have a second factor already: enter a code from it to sign in.",
            ));
        }
        let user_id = p.row.user_id.clone();
        let name = p.identity.username.clone();
        Ok((Self::Pending(p), user_id, name))
    }
}

/// `POST /api/auth/totp`: a new secret to set up (replacing one not confirmed yet).
async fn totp_start(
    State(state): State<AppState>,
    headers: HeaderMap,
    session: Option<Extension<CurrentSession>>,
) -> AppResult<Json<serde_json::Value>> {
    let (_, user_id, username) = Enroller::find(&state, &headers, session).await?;
    if state
        .store
        .totp(&user_id)
        .await?
        .is_some_and(|t| t.confirmed_at.is_some())
    {
        return Err(AppError::with_message(
            ErrorCode::Conflict,
            "An authenticator app is set up already. Remove it first to set up another.",
        ));
    }
    let secret = totp::new_secret();
    state.store.start_totp(&user_id, &secret).await?;
    Ok(Json(json!({
        "secret": secret,
        "otpauthUri": totp::otpauth_uri(ISSUER, &username, &secret),
    })))
}

/// `{code}` of the confirmation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfirmInput {
    #[serde(default)]
    code: String,
}

/// `POST /api/auth/totp/confirm`: the first code from the app being set up; gives the recovery
/// codes (once). A sign-in sent to set one up is completed.
async fn totp_confirm(
    State(state): State<AppState>,
    client: ClientInfo,
    headers: HeaderMap,
    session: Option<Extension<CurrentSession>>,
    Body(input): Body<ConfirmInput>,
) -> AppResult<Response> {
    let (who, user_id, username) = Enroller::find(&state, &headers, session).await?;
    if input.code.trim().is_empty() {
        return Err(AppError::field("code", "enter the code your app shows"));
    }
    not_blocked(&state, &client, &username, &user_id).await?;
    let Some(row) = state.store.totp(&user_id).await? else {
        return Err(AppError::with_message(
            ErrorCode::Conflict,
            "Start setting up an app first (POST /api/auth/totp).",
        ));
    };
    if row.confirmed_at.is_some() {
        return Err(AppError::with_message(
            ErrorCode::Conflict,
            "This authenticator app is set up already.",
        ));
    }
    let step = totp::matching_step(&row.secret, &input.code, now_secs(), 0);
    let confirmed = match step {
        Some(step) => {
            state
                .store
                .confirm_totp(&user_id, &row.secret, step)
                .await?
        }
        None => false,
    };
    if !confirmed {
        return Ok(refused_code(&state, &client, &username, Method::Totp, "setup").await);
    }
    state.limiter.factor_succeeded(&user_id).await;
    let codes = first_recovery_codes(&state, &user_id).await?;
    state.audit.record(
        &actor(&username, &client),
        AuditAction::MfaEnroll,
        &format!("user:factors:{username}"),
        Status::Success,
        json!({ "method": "totp", "duringSignIn": matches!(who, Enroller::Pending(_)) }),
    );
    let extra = match codes {
        Some(codes) => json!({ "recoveryCodes": codes }),
        None => json!({}),
    };
    who.finish(&state, &client, extra).await
}

impl Enroller {
    /// The end of adding a factor: a waiting sign-in completes; a session is marked as having
    /// just given one.
    pub(super) async fn finish(
        self,
        state: &AppState,
        client: &ClientInfo,
        extra: serde_json::Value,
    ) -> AppResult<Response> {
        match self {
            Enroller::Pending(p) => Ok(complete(state, client, &p, extra).await),
            Enroller::Signed(s) => {
                mark_factor(state, &s).await?;
                Ok(Json(extra).into_response())
            }
        }
    }
}

/// Ten recovery codes for a person who has none (their first second factor); `None` when they
/// have some already (printed codes keep working).
pub(super) async fn first_recovery_codes(
    state: &AppState,
    user_id: &str,
) -> AppResult<Option<Vec<String>>> {
    if state.store.recovery_codes_left(user_id).await? > 0 {
        return Ok(None);
    }
    let (codes, hashes) = factors::new_recovery_codes();
    state.store.replace_recovery_codes(user_id, &hashes).await?;
    Ok(Some(codes))
}

/// Records that the session's holder just gave a second factor.
pub(super) async fn mark_factor(state: &AppState, s: &CurrentSession) -> AppResult<()> {
    state
        .store
        .set_session_factor_at(&s.record.id, now_ms())
        .await?;
    state
        .records
        .changed(std::slice::from_ref(&s.record.id))
        .await;
    Ok(())
}

pub(super) async fn signed(
    state: &AppState,
    session: Option<Extension<CurrentSession>>,
) -> AppResult<(CurrentSession, String)> {
    let Some(Extension(s)) = session else {
        return Err(AppError::with_message(
            ErrorCode::Unauthorized,
            "Unauthorized",
        ));
    };
    let user_id = factors::account_id(&state.store, &s.record).await?;
    Ok((s, user_id))
}

/// Checks a current code of the signed-in person (counted toward the sign-in limits); `without`
/// is the refusal when they have no app set up.
#[allow(clippy::too_many_arguments)]
async fn current_code(
    state: &AppState,
    client: &ClientInfo,
    origin: &str,
    s: &CurrentSession,
    user_id: &str,
    input: &CodeInput,
    during: &str,
    without: AppError,
) -> AppResult<Option<Response>> {
    if factors::methods(&state.store, user_id).await?.is_empty() {
        return Err(without);
    }
    let method = input.method()?;
    not_blocked(state, client, s.username(), user_id).await?;
    if check_factor(state, origin, user_id, method, input).await? {
        state.limiter.factor_succeeded(user_id).await;
        state.audit.record(
            &actor(s.username(), client),
            AuditAction::MfaVerified,
            "auth:session",
            Status::Success,
            json!({ "method": method.as_str(), "during": during }),
        );
        mark_factor(state, s).await?;
        return Ok(None);
    }
    Ok(Some(
        refused_code(state, client, s.username(), method, during).await,
    ))
}

/// `DELETE /api/auth/totp` `{code}`: removes one's app and recovery codes (a current code, or a
/// recovery code, says it's them).
async fn totp_remove(
    State(state): State<AppState>,
    client: ClientInfo,
    origin: PasskeyOrigin,
    session: Option<Extension<CurrentSession>>,
    Body(input): Body<CodeInput>,
) -> AppResult<Response> {
    let (s, user_id) = signed(&state, session).await?;
    let without =
        AppError::with_message(ErrorCode::NotFound, "You have no authenticator app set up.");
    if let Some(refused) = current_code(
        &state, &client, &origin.0, &s, &user_id, &input, "removal", without,
    )
    .await?
    {
        return Ok(refused);
    }
    state.store.delete_totp(&user_id).await?;
    state.audit.record(
        &actor(s.username(), &client),
        AuditAction::MfaRemove,
        &format!("user:factors:{}", s.username()),
        Status::Success,
        json!({ "own": true }),
    );
    Ok(Json(json!({ "success": true })).into_response())
}

/// `POST /api/auth/recovery-codes` `{code}`: ten new recovery codes (the old ones stop working).
async fn renew_recovery_codes(
    State(state): State<AppState>,
    client: ClientInfo,
    origin: PasskeyOrigin,
    session: Option<Extension<CurrentSession>>,
    Body(input): Body<CodeInput>,
) -> AppResult<Response> {
    let (s, user_id) = signed(&state, session).await?;
    let without = AppError::with_message(
        ErrorCode::Conflict,
        "Set up a passkey or an authenticator app first; recovery codes come with it.",
    );
    if let Some(refused) = current_code(
        &state, &client, &origin.0, &s, &user_id, &input, "renewal", without,
    )
    .await?
    {
        return Ok(refused);
    }
    let (codes, hashes) = factors::new_recovery_codes();
    state
        .store
        .replace_recovery_codes(&user_id, &hashes)
        .await?;
    state.audit.record(
        &actor(s.username(), &client),
        AuditAction::RecoveryCodesRenew,
        &format!("user:factors:{}", s.username()),
        Status::Success,
        json!({}),
    );
    Ok(Json(json!({ "recoveryCodes": codes })).into_response())
}

/// `POST /api/auth/step-up` `{method, code}`: confirms sensitive actions for the next minutes.
async fn step_up(
    State(state): State<AppState>,
    client: ClientInfo,
    origin: PasskeyOrigin,
    session: Option<Extension<CurrentSession>>,
    Body(input): Body<CodeInput>,
) -> AppResult<Response> {
    let (s, user_id) = signed(&state, session).await?;
    let without = AppError::with_message(
        ErrorCode::Conflict,
        "Set up a passkey or an authenticator app first (Settings → Passkeys and second factor).",
    );
    if let Some(refused) = current_code(
        &state, &client, &origin.0, &s, &user_id, &input, "step-up", without,
    )
    .await?
    {
        return Ok(refused);
    }
    let minutes = Policy::load(&state.store).await.step_up_minutes;
    Ok(Json(json!({
        "success": true,
        "validUntil": now_ms() + i64::from(minutes) * 60_000,
    }))
    .into_response())
}

/// `GET /api/auth/factors`: one's second factors and what the policy asks of one.
async fn my_factors(
    State(state): State<AppState>,
    origin: PasskeyOrigin,
    session: Option<Extension<CurrentSession>>,
) -> AppResult<Json<serde_json::Value>> {
    let (s, user_id) = signed(&state, session).await?;
    let totp = state.store.totp(&user_id).await?;
    let policy = Policy::load(&state.store).await;
    let required = factors::session_requires(&policy, &s.record);
    let keys: Vec<_> = state
        .store
        .passkeys_of(&user_id)
        .await?
        .into_iter()
        .map(|k| super::passkeys::passkey_json(&k))
        .collect();
    Ok(Json(json!({
        "totp": totp.as_ref().is_some_and(|t| t.confirmed_at.is_some()),
        "totpSince": totp.and_then(|t| t.confirmed_at),
        "recoveryCodesLeft": state.store.recovery_codes_left(&user_id).await?,
        "methods": factors::methods(&state.store, &user_id).await?.iter().map(|m| m.as_str()).collect::<Vec<_>>(),
        "required": required,
        "passkeys": keys,
        "passkeysAvailable": passkeys::available_at(&origin.0),
        "stepUpMinutes": policy.step_up_minutes,
        "factorAt": s.record.factor_at,
    })))
}

/// `GET /api/settings/mfa`: the policy.
async fn policy(State(state): State<AppState>) -> Json<Policy> {
    Json(Policy::load(&state.store).await)
}

/// `PUT /api/settings/mfa`: saves the policy (whole).
async fn set_policy(
    State(state): State<AppState>,
    client: ClientInfo,
    Extension(me): Extension<CurrentSession>,
    _: RecentFactor,
    Body(mut input): Body<Policy>,
) -> AppResult<Json<Policy>> {
    input.groups = input
        .groups
        .iter()
        .map(|g| g.trim().to_owned())
        .filter(|g| !g.is_empty())
        .collect();
    if let Some(why) = input.refusal() {
        return Err(AppError::with_message(ErrorCode::InvalidInput, why));
    }
    let value = serde_json::to_value(&input).map_err(AppError::internal)?;
    state
        .store
        .set_config_value(factors::POLICY_KEY, &value)
        .await?;
    state.audit.record(
        &actor(me.username(), &client),
        AuditAction::MfaPolicy,
        "settings:mfa",
        Status::Success,
        value,
    );
    Ok(Json(input))
}

/// `DELETE /api/admin/users/{username}/factors`: removes someone's app, passkeys and recovery
/// codes (they lost them all); the policy walks them through a new one at their next sign-in.
async fn admin_remove(
    State(state): State<AppState>,
    client: ClientInfo,
    Extension(me): Extension<CurrentSession>,
    _: RecentFactor,
    Path(username): Path<String>,
) -> AppResult<Json<serde_json::Value>> {
    let user = state
        .store
        .user_by_username(&username)
        .await?
        .ok_or_else(|| AppError::with_message(ErrorCode::NotFound, "No such person"))?;
    let app = state.store.delete_totp(&user.id).await?;
    let keys = state.store.delete_passkeys(&user.id).await?;
    if !app && keys == 0 {
        return Err(AppError::with_message(
            ErrorCode::NotFound,
            format!("{username} has no second factor set up."),
        ));
    }
    state.audit.record(
        &actor(me.username(), &client),
        AuditAction::MfaRemove,
        &format!("user:factors:{username}"),
        Status::Success,
        json!({ "username": username, "own": false, "app": app, "passkeys": keys }),
    );
    Ok(Json(json!({ "success": true })))
}
