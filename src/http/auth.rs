//! Sign-in routes: `POST /api/login`, `POST /api/logout`, `GET /api/auth`, `GET /api/user`, the
//! form posts of the login page (`POST /login`, `POST /logout`), and the admin's session list
//! (`GET /api/admin/sessions`, `DELETE /api/admin/sessions/{id}`), and each person's own
//! (`GET /api/sessions`, `DELETE /api/sessions/{id}`, `POST /api/sessions/revoke-others`).

use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Extension, Form, Json, Router};
use rand::Rng;
use serde::Deserialize;
use serde_json::json;
use uma_actors::sessions::{EndReason, SessionsMsg};

use crate::audit::AuditAction;
use crate::audit::{Actor, Status};
use crate::auth::client::ClientInfo;
use crate::auth::factors::{self, Method};
use crate::auth::session::{self, random_token, CurrentSession};
use crate::auth::{self, AuthError};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::guard::{self, safe_next, see_other};
use crate::http::oidc;
use crate::http::pages;
use crate::http::security::CspNonce;
use crate::limits::login::Verdict;
use crate::state::AppState;
use crate::store::auth::SessionRecord;
use crate::store::now_ms;

/// Sign-in routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/login", post(api_login))
        .route("/api/logout", post(api_logout))
        .route("/api/auth", get(api_auth))
        .route("/api/user", get(api_user))
        .route("/login", post(form_login))
        .route("/logout", post(form_logout))
        .route("/api/admin/sessions", get(list_sessions))
        .route("/api/admin/sessions/{id}", delete(revoke_session))
        .route("/api/sessions", get(my_sessions))
        .route("/api/sessions/{id}", delete(revoke_my_session))
        .route("/api/sessions/revoke-others", post(revoke_my_others))
}

/// Sign-in input.
#[derive(Debug, Deserialize)]
pub struct LoginInput {
    /// Login name.
    #[serde(default)]
    pub username: String,
    /// Password.
    #[serde(default)]
    pub password: String,
}

/// Why a sign-in did not succeed, ready for either the JSON or the HTML answer.
#[derive(Debug)]
pub struct LoginRefusal {
    /// HTTP status.
    pub status: StatusCode,
    /// Error code.
    pub code: ErrorCode,
    /// Text for the user.
    pub message: String,
    /// Failures left before a temporary block.
    pub remaining: Option<u64>,
    /// Seconds to wait (429).
    pub retry_after: Option<u64>,
}

impl IntoResponse for LoginRefusal {
    fn into_response(self) -> Response {
        let mut err = AppError::with_message(self.code, self.message);
        err.retry_after = self.retry_after;
        let mut resp = err.into_response();
        *resp.status_mut() = self.status;
        if let Some(n) = self.remaining {
            if let Ok(v) = n.to_string().parse() {
                resp.headers_mut().insert("x-remaining-attempts", v);
            }
        }
        resp
    }
}

fn refusal(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> LoginRefusal {
    LoginRefusal {
        status,
        code,
        message: message.into(),
        remaining: None,
        retry_after: None,
    }
}

fn actor(username: &str, client: &ClientInfo) -> Actor {
    Actor {
        username: username.to_owned(),
        ip: Some(client.ip.clone()),
        user_agent: client.user_agent.clone(),
    }
}

/// Verifies the credentials and opens a session; returns it and its `Set-Cookie` value.
pub async fn sign_in(
    state: &AppState,
    client: &ClientInfo,
    input: &LoginInput,
) -> Result<SignIn, LoginRefusal> {
    let username = input.username.trim();
    if username.is_empty() || input.password.is_empty() {
        return Err(refusal(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidInput,
            "Enter your username and password.",
        ));
    }
    if username.chars().count() > 256 || input.password.len() > 1024 {
        return Err(refusal(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidInput,
            "Username or password too long.",
        ));
    }
    let who = actor(username, client);
    if let Verdict::Blocked { retry_after } = state.limiter.check(&client.ip, username).await {
        state.audit.record(
            &who,
            AuditAction::LoginFailed,
            "auth:session",
            Status::Warning,
            json!({ "reason": "rate_limited", "retryAfter": retry_after }),
        );
        let minutes = retry_after.div_ceil(60);
        return Err(LoginRefusal {
            retry_after: Some(retry_after),
            ..refusal(
                StatusCode::TOO_MANY_REQUESTS,
                ErrorCode::RateLimited,
                format!(
                    "Too many sign-in attempts. Try again in {minutes} minute{}.",
                    if minutes == 1 { "" } else { "s" }
                ),
            )
        });
    }
    let identity = match auth::authenticate(
        &state.store,
        state.ldap.as_deref(),
        &state.config,
        username,
        &input.password,
    )
    .await
    {
        Ok(identity) => identity,
        Err(err) => {
            let (status, code, message, reason) = auth_refusal(&err, username);
            let mut remaining = None;
            if matches!(err, AuthError::InvalidCredentials | AuthError::Disabled) {
                remaining = Some(state.limiter.fail(&client.ip, username).await);
                // Blunt timing differences between unknown users and wrong passwords.
                let jitter = rand::thread_rng().gen_range(100..200);
                tokio::time::sleep(Duration::from_millis(jitter)).await;
            }
            state.audit.record(
                &who,
                AuditAction::LoginFailed,
                "auth:session",
                Status::Failure,
                json!({ "reason": reason }),
            );
            return Err(LoginRefusal {
                remaining,
                ..refusal(status, code, message)
            });
        }
    };
    if let Some(pending) = second_factor_due(state, client, &identity).await? {
        return Ok(pending);
    }
    state.limiter.succeed(&client.ip, username).await;
    let (session, cookies) = open_session(state, client, &identity, None).await?;
    Ok(SignIn::Done(Box::new(session), cookies))
}

/// How a sign-in refused by [`auth::authenticate`] or [`auth::identify`] is answered: status,
/// code, message and the reason the audit records.
pub fn auth_refusal(
    err: &AuthError,
    username: &str,
) -> (StatusCode, ErrorCode, String, &'static str) {
    match err {
        AuthError::InvalidCredentials => (
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthorized,
            "Invalid username or password.".to_owned(),
            "invalid_credentials",
        ),
        AuthError::Disabled => (
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "This account is disabled. Ask an administrator.".to_owned(),
            "disabled",
        ),
        AuthError::LocalName => (
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "This name belongs to a local account. Sign in with that account.".to_owned(),
            "local_name_taken",
        ),
        AuthError::ProviderName => (
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            format!("The name {username} already belongs to an account that signs in another way; ask an administrator."),
            "name_taken",
        ),
        AuthError::NotAllowed => (
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "Access denied. You do not have permission to use this application.".to_owned(),
            "not_allowed",
        ),
        AuthError::Unavailable(detail) => {
            tracing::error!(error = %detail, "sign-in directory unavailable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::Unavailable,
                "The sign-in service is unavailable. Try again in a moment.".to_owned(),
                "directory_unavailable",
            )
        }
    }
}

/// What a right password leads to.
#[derive(Debug)]
pub enum SignIn {
    /// Signed in: the session and its `Set-Cookie` values.
    Done(Box<CurrentSession>, Vec<String>),
    /// A second factor is due (or must be set up first): the challenge cookie to send.
    Pending {
        /// Methods the person can use (empty when `enrol`).
        methods: Vec<Method>,
        /// An authenticator app must be set up before the session opens.
        enrol: bool,
        /// `Set-Cookie` of the challenge.
        cookie: String,
    },
}

/// The cookie holding a sign-in that waits for its second factor (signed, HttpOnly).
pub const CHALLENGE_COOKIE: &str = "uma_sign_in";

fn database_down(e: impl std::fmt::Display) -> LoginRefusal {
    tracing::error!(error = %e, "sign-in cannot reach the database");
    refusal(
        StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::Unavailable,
        "The database is unavailable. Try again in a moment.",
    )
}

/// Starts a challenge when `identity` has a second factor or the policy wants one.
async fn second_factor_due(
    state: &AppState,
    client: &ClientInfo,
    identity: &auth::Identity,
) -> Result<Option<SignIn>, LoginRefusal> {
    let user = state
        .store
        .find_or_create_user(&identity.username, identity.display_name.as_deref())
        .await
        .map_err(database_down)?;
    let methods = factors::methods(&state.store, &user.id)
        .await
        .map_err(database_down)?;
    let enrol = methods.is_empty() && factors::Policy::load(&state.store).await.requires(identity);
    if methods.is_empty() && !enrol {
        return Ok(None);
    }
    let token = random_token();
    state
        .store
        .create_challenge(
            &factors::secret_hash(&token),
            &user.id,
            &factors::identity_json(identity),
            enrol,
            now_ms() + factors::CHALLENGE_TTL_MS,
        )
        .await
        .map_err(database_down)?;
    state.audit.record(
        &actor(&identity.username, client),
        AuditAction::MfaRequired,
        "auth:session",
        Status::Success,
        json!({ "enrol": enrol, "methods": methods.iter().map(|m| m.as_str()).collect::<Vec<_>>() }),
    );
    let cookie = state.cookies.set_cookie(
        CHALLENGE_COOKIE,
        &state.signer.sign(CHALLENGE_COOKIE, &token),
        Some(u64::try_from(factors::CHALLENGE_TTL_MS / 1000).unwrap_or(600)),
    );
    Ok(Some(SignIn::Pending {
        methods,
        enrol,
        cookie,
    }))
}

/// Opens a session for a verified identity (every way of signing in ends here): records the
/// user, stores the session, audits `LOGIN`; returns it and its `Set-Cookie` values.
pub async fn open_session(
    state: &AppState,
    client: &ClientInfo,
    identity: &auth::Identity,
    factor_at: Option<i64>,
) -> Result<(CurrentSession, Vec<String>), LoginRefusal> {
    let who = actor(&identity.username, client);
    let user = state
        .store
        .find_or_create_user(&identity.username, identity.display_name.as_deref())
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "cannot record the user");
            refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::Unavailable,
                "The database is unavailable. Try again in a moment.",
            )
        })?;
    let now = now_ms();
    // The theme the person chose, for this browser to take on (a short-lived cookie the page's
    // script reads once): a choice made in one browser follows them to the next.
    let theme = match state.store.user_theme(&user.id).await {
        Ok(t) => t.unwrap_or_else(|| "system".into()),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the user's theme");
            "system".into()
        }
    };
    let record = SessionRecord {
        id: random_token(),
        user_id: Some(user.id.clone()),
        username: identity.username.clone(),
        // The name they chose in their profile, else the directory's.
        display_name: user.display_name.clone().or(identity.display_name.clone()),
        groups_json: serde_json::to_string(&identity.groups).unwrap_or_else(|_| "[]".into()),
        is_admin: identity.is_admin,
        auth_source: identity.source.to_owned(),
        csrf_token: random_token(),
        ip_address: Some(client.ip.clone()),
        user_agent: client.user_agent.clone(),
        created_at: now,
        last_seen_at: now,
        // SESSION_TTL after sign-in, then sliding with activity up to SESSION_MAX_AGE.
        expires_at: crate::auth::session::expiry_after_activity(&state.config, now, now),
        revoked_at: None,
        factor_at,
    };
    state.records.insert(&record).await.map_err(|e| {
        tracing::error!(error = %e, "cannot store the session");
        refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Unavailable,
            "The database is unavailable. Try again in a moment.",
        )
    })?;
    let cookies = vec![
        guard::session_cookie(state, &record, now),
        state.cookies.script_cookie(THEME_COOKIE, &theme, 60),
    ];
    state.audit.record(
        &who,
        AuditAction::Login,
        "auth:session",
        Status::Success,
        json!({ "source": identity.source, "isAdmin": identity.is_admin, "groups": identity.groups.len() }),
    );
    Ok((CurrentSession::new(record), cookies))
}

/// The cookie that hands a signed-in browser the person's theme (read once by the page).
pub const THEME_COOKIE: &str = "uma-theme";

async fn api_login(
    State(state): State<AppState>,
    client: ClientInfo,
    body: Result<Json<LoginInput>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Ok(Json(input)) = body else {
        return refusal(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidInput,
            "Send JSON: {\"username\", \"password\"}.",
        )
        .into_response();
    };
    match sign_in(&state, &client, &input).await {
        Ok(SignIn::Done(session, cookies)) => signed_in(&session, cookies, json!({})),
        Ok(SignIn::Pending {
            methods,
            enrol,
            cookie,
        }) => with_cookies(
            Json(json!({
                "success": false,
                "mfaRequired": true,
                "enrolRequired": enrol,
                "methods": methods.iter().map(|m| m.as_str()).collect::<Vec<_>>(),
            }))
            .into_response(),
            [cookie],
        ),
        Err(r) => {
            let remaining = r.remaining;
            let mut resp = r.into_response();
            if let Some(n) = remaining {
                // The JSON body also says how many attempts remain.
                resp = with_remaining(resp, n).await;
            }
            resp
        }
    }
}

/// The JSON answer of a completed sign-in, with its cookies; `extra`'s fields (an object) are
/// added to it.
pub fn signed_in(
    session: &CurrentSession,
    cookies: Vec<String>,
    extra: serde_json::Value,
) -> Response {
    let mut body = json!({
        "success": true,
        "user": session.user_json(),
        "csrfToken": session.record.csrf_token,
    });
    if let (Some(obj), serde_json::Value::Object(add)) = (body.as_object_mut(), extra) {
        obj.extend(add);
    }
    with_cookies(Json(body).into_response(), cookies)
}

/// Adds `Set-Cookie` values to a response.
pub fn with_cookies(mut resp: Response, cookies: impl IntoIterator<Item = String>) -> Response {
    for c in cookies {
        if let Ok(v) = c.parse() {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    resp
}

pub(crate) async fn with_remaining(resp: Response, remaining: u64) -> Response {
    let (parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, 64 * 1024)
        .await
        .unwrap_or_default();
    let mut v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_else(|_| json!({}));
    v["remainingAttempts"] = json!(remaining);
    let mut out = Json(v).into_response();
    *out.status_mut() = parts.status;
    for (k, val) in parts.headers.iter() {
        if k != header::CONTENT_LENGTH {
            out.headers_mut().insert(k.clone(), val.clone());
        }
    }
    out
}

/// Form fields of the login page.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf_token: String,
}

/// `?next=` of the login page.
#[derive(Debug, Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

async fn form_login(
    State(state): State<AppState>,
    client: ClientInfo,
    Extension(nonce): Extension<CspNonce>,
    Query(q): Query<NextQuery>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let login_csrf = session::cookie_value(&headers, session::CSRF_COOKIE)
        .and_then(|raw| state.signer.verify(session::CSRF_COOKIE, raw))
        .map(str::to_owned);
    let origin_ok = crate::auth::csrf::request_origin(&headers)
        .is_some_and(|o| crate::auth::csrf::allowed_origin(&state.config, &headers, &o));
    let token_ok = login_csrf
        .as_deref()
        .is_some_and(|t| crate::auth::csrf::token_matches(t, Some(&form.csrf_token)));
    if !origin_ok || !token_ok {
        return pages::login_response(
            &state,
            &headers,
            &nonce.0,
            StatusCode::FORBIDDEN,
            Some("Your sign-in form expired. Please try again."),
            &form.username,
            q.next.as_deref(),
        );
    }
    let input = LoginInput {
        username: form.username.clone(),
        password: form.password,
    };
    match sign_in(&state, &client, &input).await {
        Ok(SignIn::Done(_, cookies)) => {
            with_cookies(see_other(&safe_next(q.next.as_deref())), cookies)
        }
        Ok(SignIn::Pending { cookie, .. }) => {
            let to = match q.next.as_deref() {
                Some(next) => format!(
                    "/login/second-factor?next={}",
                    guard::urlencode(&safe_next(Some(next)))
                ),
                None => "/login/second-factor".to_owned(),
            };
            with_cookies(see_other(&to), [cookie])
        }
        Err(r) => {
            let mut message = r.message.clone();
            if let Some(n) = r.remaining {
                if n == 0 {
                    message.push_str(" Further attempts are blocked for 15 minutes.");
                } else if n <= 3 {
                    message.push_str(&format!(
                        " {n} attempt{} left.",
                        if n == 1 { "" } else { "s" }
                    ));
                }
            }
            let mut resp = pages::login_response(
                &state,
                &headers,
                &nonce.0,
                r.status,
                Some(&message),
                &form.username,
                q.next.as_deref(),
            );
            if let Some(secs) = r.retry_after {
                if let Ok(v) = secs.to_string().parse() {
                    resp.headers_mut().insert(header::RETRY_AFTER, v);
                }
            }
            resp
        }
    }
}

/// Ends the request's session: record, actor, cookie; audit `LOGOUT`. The answer is `then`
/// with the session cookie cleared.
async fn end_session(
    state: &AppState,
    client: &ClientInfo,
    session: &CurrentSession,
    then: Response,
) -> Response {
    if let Err(e) = state
        .records
        .end(&session.record.id, EndReason::Logout, &state.sessions)
        .await
    {
        if !matches!(e, crate::store::StoreError::NotFound) {
            return AppError::from(e).into_response();
        }
    }
    state.audit.record(
        &actor(session.username(), client),
        AuditAction::Logout,
        "auth:session",
        Status::Success,
        json!({}),
    );
    let mut resp = then;
    if let Ok(v) = state
        .cookies
        .set_cookie(session::COOKIE, "", Some(0))
        .parse()
    {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

/// Signs out: `303` to `/login`, or — for a session opened through a provider that has a
/// sign-out endpoint — `{"success": true, "logoutUrl"}`, the provider's sign-out to go to next.
async fn api_logout(
    State(state): State<AppState>,
    client: ClientInfo,
    origin: oidc::PublicOrigin,
    session: Option<Extension<CurrentSession>>,
) -> Response {
    match session {
        Some(Extension(s)) => {
            let then = match oidc::leaving(&state, &origin, &s.record.id).await {
                Some(l) => Json(json!({ "success": true, "logoutUrl": l.url })).into_response(),
                None => see_other("/login"),
            };
            end_session(&state, &client, &s, then).await
        }
        None => AppError::with_message(ErrorCode::Unauthorized, "Not signed in").into_response(),
    }
}

/// Form of the logout button.
#[derive(Debug, Deserialize)]
pub struct LogoutForm {
    #[serde(default)]
    csrf_token: String,
}

async fn form_logout(
    State(state): State<AppState>,
    client: ClientInfo,
    origin: oidc::PublicOrigin,
    Extension(nonce): Extension<CspNonce>,
    headers: HeaderMap,
    session: Option<Extension<CurrentSession>>,
    Form(form): Form<LogoutForm>,
) -> Response {
    let Some(Extension(s)) = session else {
        return see_other("/login");
    };
    let origin_ok = crate::auth::csrf::request_origin(&headers)
        .is_some_and(|o| crate::auth::csrf::allowed_origin(&state.config, &headers, &o));
    if !origin_ok || !crate::auth::csrf::token_matches(&s.record.csrf_token, Some(&form.csrf_token))
    {
        return AppError::with_message(ErrorCode::InvalidCsrf, "Invalid CSRF token")
            .into_response();
    }
    let then = match oidc::leaving(&state, &origin, &s.record.id).await {
        Some(l) => oidc::leaving_page(&state, &nonce.0, &l),
        None => see_other("/login"),
    };
    end_session(&state, &client, &s, then).await
}

/// The login CSRF cookie's token, issuing a new cookie when there is none.
pub fn login_csrf(state: &AppState, headers: &HeaderMap) -> (String, Option<String>) {
    if let Some(token) = guard::expected_csrf(state, headers, None) {
        return (token, None);
    }
    let token = random_token();
    let cookie = state.cookies.set_cookie(
        session::CSRF_COOKIE,
        &state.signer.sign(session::CSRF_COOKIE, &token),
        None,
    );
    (token, Some(cookie))
}

async fn api_auth(
    State(state): State<AppState>,
    headers: HeaderMap,
    session: Option<Extension<CurrentSession>>,
) -> Response {
    match session {
        Some(Extension(s)) => Json(json!({
            "isLoggedIn": true,
            "user": s.user_json(),
            "csrfToken": s.record.csrf_token,
            "expiresAt": s.record.expires_at,
            "providers": oidc::provider_list(&state, None),
        }))
        .into_response(),
        None => {
            let (token, cookie) = login_csrf(&state, &headers);
            let mut resp = Json(json!({
                "isLoggedIn": false,
                "user": null,
                "csrfToken": token,
                "providers": oidc::provider_list(&state, None),
            }))
            .into_response();
            if let Some(c) = cookie.and_then(|c| c.parse().ok()) {
                resp.headers_mut().insert(header::SET_COOKIE, c);
            }
            resp
        }
    }
}

async fn api_user(session: Option<Extension<CurrentSession>>) -> Json<serde_json::Value> {
    match session {
        Some(Extension(s)) => Json(json!({
            "isLoggedIn": true,
            "user": {
                "username": s.record.username,
                "displayName": s.record.display_name.clone().unwrap_or_else(|| s.record.username.clone()),
                "isAdmin": s.record.is_admin,
            }
        })),
        None => Json(json!({ "isLoggedIn": false, "user": null })),
    }
}

/// A session as the lists show it, with its open sockets (asked from its actor).
async fn session_json(
    state: &AppState,
    r: &SessionRecord,
    me: &CurrentSession,
) -> serde_json::Value {
    let sockets = match uma_actors::call!(state.sessions.get(), |reply| SessionsMsg::Get(
        r.id.clone(),
        reply
    )) {
        Ok(Some(actor)) => uma_actors::call!(actor, uma_actors::sessions::SessionMsg::Sockets)
            .map(|s| s.len())
            .unwrap_or(0),
        _ => 0,
    };
    json!({
        "id": r.id,
        "username": r.username,
        "displayName": r.display_name,
        "isAdmin": r.is_admin,
        "authSource": r.auth_source,
        "ipAddress": r.ip_address,
        "userAgent": r.user_agent,
        "createdAt": r.created_at,
        "lastSeenAt": r.last_seen_at,
        "expiresAt": r.expires_at,
        "sockets": sockets,
        "current": r.id == me.record.id,
    })
}

async fn list_sessions(
    State(state): State<AppState>,
    Extension(me): Extension<CurrentSession>,
) -> AppResult<Json<serde_json::Value>> {
    let records = state.store.active_sessions(now_ms()).await?;
    let mut out = Vec::with_capacity(records.len());
    for r in records {
        out.push(session_json(&state, &r, &me).await);
    }
    Ok(Json(json!({ "sessions": out })))
}

/// The caller's own live sessions (this one marked `current`).
async fn own_sessions(state: &AppState, me: &CurrentSession) -> AppResult<Vec<SessionRecord>> {
    let now = now_ms();
    Ok(state
        .store
        .active_sessions(now)
        .await?
        .into_iter()
        .filter(|r| r.username == me.username() && CurrentSession::is_live(r, now))
        .collect())
}

async fn my_sessions(
    State(state): State<AppState>,
    Extension(me): Extension<CurrentSession>,
) -> AppResult<Json<serde_json::Value>> {
    let mut out = Vec::new();
    for r in own_sessions(&state, &me).await? {
        out.push(session_json(&state, &r, &me).await);
    }
    Ok(Json(json!({ "sessions": out })))
}

/// Ends one of the caller's sessions; someone else's does not exist for them.
async fn revoke_my_session(
    State(state): State<AppState>,
    client: ClientInfo,
    Extension(me): Extension<CurrentSession>,
    Path(id): Path<String>,
) -> AppResult<Json<serde_json::Value>> {
    let mine = own_sessions(&state, &me).await?;
    let Some(record) = mine.iter().find(|r| r.id == id) else {
        return Err(AppError::with_message(
            ErrorCode::NotFound,
            "No such session",
        ));
    };
    state
        .records
        .end(&record.id, EndReason::Revoked, &state.sessions)
        .await?;
    state.audit.record(
        &actor(me.username(), &client),
        AuditAction::SessionRevoked,
        &format!("user:session:{}", record.username),
        Status::Success,
        json!({ "own": true, "sessionCreatedAt": record.created_at }),
    );
    Ok(Json(json!({ "success": true })))
}

/// Signs the caller out everywhere but here.
async fn revoke_my_others(
    State(state): State<AppState>,
    client: ClientInfo,
    Extension(me): Extension<CurrentSession>,
) -> AppResult<Json<serde_json::Value>> {
    let mut revoked = 0;
    for r in own_sessions(&state, &me).await? {
        if r.id == me.record.id {
            continue;
        }
        state
            .records
            .end(&r.id, EndReason::Revoked, &state.sessions)
            .await?;
        revoked += 1;
    }
    state.audit.record(
        &actor(me.username(), &client),
        AuditAction::SessionRevoked,
        &format!("user:session:{}", me.username()),
        Status::Success,
        json!({ "own": true, "others": revoked }),
    );
    Ok(Json(json!({ "success": true, "revoked": revoked })))
}

async fn revoke_session(
    State(state): State<AppState>,
    client: ClientInfo,
    Extension(me): Extension<CurrentSession>,
    Path(id): Path<String>,
) -> AppResult<Json<serde_json::Value>> {
    let Some(record) = state.store.session(&id).await? else {
        return Err(AppError::with_message(
            ErrorCode::NotFound,
            "No such session",
        ));
    };
    if !CurrentSession::is_live(&record, now_ms()) {
        return Err(AppError::with_message(
            ErrorCode::NotFound,
            "That session has already ended",
        ));
    }
    state
        .records
        .end(&id, EndReason::Revoked, &state.sessions)
        .await?;
    state.audit.record(
        &actor(me.username(), &client),
        AuditAction::SessionRevoked,
        &format!("user:session:{}", record.username),
        Status::Success,
        json!({ "username": record.username, "sessionCreatedAt": record.created_at }),
    );
    Ok(Json(json!({ "success": true })))
}
