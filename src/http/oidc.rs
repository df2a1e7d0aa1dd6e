//! OpenID Connect sign-in routes: `GET /api/auth/oidc/{provider}/start` sends the browser to the
//! provider, `GET /api/auth/oidc/{provider}/callback` takes it back and opens a session through
//! [`open_session`]. Both answer the browser with the login page and a clear message when
//! something is wrong. What the callback needs is kept server-side (`oidc_logins`) under the
//! SHA-256 of `state`, bound to the browser by a signed cookie, used once, for ten minutes.
//! Also here: the provider list of the login page and `GET /api/auth`, and the provider's
//! sign-out when a session opened through one ends.

use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use http::request::Parts;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::audit::{Actor, AuditAction, Status};
use crate::auth::client::{from_trusted_proxy, peer_of, ClientInfo};
use crate::auth::oidc::link::{self, LinkError};
use crate::auth::oidc::{OidcError, Verified};
use crate::auth::session::{self, random_token};
use crate::config::OidcProvider;
use crate::http::auth::open_session;
use crate::http::guard::{safe_next, see_other, urlencode};
use crate::http::pages;
use crate::http::security::CspNonce;
use crate::limits::login::Verdict;
use crate::state::AppState;
use crate::store::now_ms;
use crate::store::oidc::PendingLogin;

/// The cookie that binds a sign-in to the browser that started it.
const BROWSER_COOKIE: &str = "uma_oidc";
/// How long a sign-in may take at the provider.
const LOGIN_TTL_SECS: u64 = 10 * 60;

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/auth/oidc/{provider}/start", get(start))
        .route("/api/auth/oidc/{provider}/callback", get(callback))
}

/// The origin the browser reaches Uma at: `APP_ORIGIN`, else the request's host (with the
/// scheme a trusted proxy says, else `http`).
pub struct PublicOrigin(pub String);

impl FromRequestParts<AppState> for PublicOrigin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(origin) = &state.config.web.app_origin {
            return Ok(Self(origin.origin().ascii_serialization()));
        }
        let header = |name: &str| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let scheme = header("x-forwarded-proto")
            .filter(|p| {
                from_trusted_proxy(&state.config, peer_of(&parts.extensions))
                    && (p == "https" || p == "http")
            })
            .unwrap_or_else(|| "http".to_owned());
        let host = header("host").unwrap_or_else(|| "localhost".to_owned());
        Ok(Self(format!("{scheme}://{host}")))
    }
}

/// The origin passkeys use for a request (see [`crate::auth::passkeys::origin_for`]); empty when
/// they can't be used at the address it reached Uma at.
pub struct PasskeyOrigin(pub String);

impl FromRequestParts<AppState> for PasskeyOrigin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let PublicOrigin(origin) = PublicOrigin::from_request_parts(parts, state).await?;
        Ok(Self(crate::auth::passkeys::origin_for(
            state.config.web.app_origin.as_ref(),
            &origin,
        )))
    }
}

/// Whether passkeys work at the address this request reached Uma at (the login page's button).
pub fn passkeys_here(state: &AppState, headers: &axum::http::HeaderMap) -> bool {
    let request = headers
        .get("host")
        .and_then(|v| v.to_str().ok())
        .map(|host| format!("http://{host}"))
        .unwrap_or_default();
    let origin = crate::auth::passkeys::origin_for(state.config.web.app_origin.as_ref(), &request);
    crate::auth::passkeys::available_at(&origin)
}

/// A provider as the login page and `GET /api/auth` list it: `{id, label, startUrl}`.
pub fn provider_list(state: &AppState, next: Option<&str>) -> Vec<serde_json::Value> {
    let next = next
        .filter(|n| n.starts_with('/') && !n.starts_with("//"))
        .map(|n| format!("?next={}", urlencode(n)))
        .unwrap_or_default();
    state
        .oidc
        .providers()
        .map(|p| {
            json!({
                "id": p.name,
                "label": p.label,
                "startUrl": format!("/api/auth/oidc/{}/start{next}", p.name),
            })
        })
        .collect()
}

/// `?next=` of the start.
#[derive(Debug, Deserialize)]
pub struct StartQuery {
    next: Option<String>,
}

/// What the provider sends back.
#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
    /// The issuer that answered (RFC 9207), when the provider says.
    iss: Option<String>,
}

/// The request as the refusals need it.
struct Ctx<'a> {
    state: &'a AppState,
    client: &'a ClientInfo,
    headers: &'a HeaderMap,
    nonce: &'a str,
    provider: &'a OidcProvider,
    next: Option<String>,
}

/// Why a sign-in through a provider stopped, and how the login page says it.
struct Refusal {
    status: StatusCode,
    message: String,
    /// The audit row's reason.
    reason: &'static str,
    /// Details for the audit row (never shown to the browser).
    detail: Option<String>,
    /// Counts toward the address's sign-in limit (what a forger would cause).
    counts: bool,
    /// The person's username, when known.
    username: Option<String>,
}

impl Refusal {
    fn new(status: StatusCode, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            reason,
            detail: None,
            counts: false,
            username: None,
        }
    }
    fn counted(mut self) -> Self {
        self.counts = true;
        self
    }
    fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

/// The limiter's name for sign-ins through `provider` (per address).
fn limit_name(provider: &str) -> String {
    format!("(oidc {provider})")
}

/// SHA-256 in hex.
fn sha256(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn unavailable(p: &OidcProvider) -> String {
    format!(
        "{} is unavailable right now. Try again in a moment, or sign in another way.",
        p.label
    )
}

impl Ctx<'_> {
    /// Audits the refusal, counts it when it should, and shows the login page with its message.
    async fn refuse(&self, r: Refusal) -> Response {
        let name = limit_name(&self.provider.name);
        if r.counts {
            self.state.limiter.fail(&self.client.ip, &name).await;
        }
        let mut details = json!({ "provider": self.provider.name, "reason": r.reason });
        if let Some(d) = &r.detail {
            details["detail"] = json!(d.chars().take(500).collect::<String>());
        }
        self.state.audit.record(
            &Actor {
                username: r.username.clone().unwrap_or_else(|| "anonymous".into()),
                ip: Some(self.client.ip.clone()),
                user_agent: self.client.user_agent.clone(),
            },
            AuditAction::LoginFailed,
            "auth:session",
            Status::Failure,
            details,
        );
        pages::login_response(
            self.state,
            self.headers,
            self.nonce,
            r.status,
            Some(&r.message),
            "",
            self.next.as_deref(),
        )
    }

    /// Refused when the address is blocked.
    async fn limited(&self) -> Option<Refusal> {
        let name = limit_name(&self.provider.name);
        match self.state.limiter.check(&self.client.ip, &name).await {
            Verdict::Blocked { retry_after } => Some(
                Refusal::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    format!(
                        "Too many failed sign-ins. Try again in {} minutes.",
                        retry_after.div_ceil(60)
                    ),
                )
                .detail(format!("retry after {retry_after} s")),
            ),
            Verdict::Allowed { .. } => None,
        }
    }
}

/// The login page saying there is no such provider.
fn no_such_provider(state: &AppState, headers: &HeaderMap, nonce: &str) -> Response {
    pages::login_response(
        state,
        headers,
        nonce,
        StatusCode::NOT_FOUND,
        Some("There is no such sign-in provider."),
        "",
        None,
    )
}

/// The browser's binding token: its cookie's (several sign-ins may be on their way in one
/// browser), else a new one with its `Set-Cookie`.
fn browser_token(state: &AppState, headers: &HeaderMap) -> (String, Option<String>) {
    if let Some(token) = session::cookie_value(headers, BROWSER_COOKIE)
        .and_then(|raw| state.signer.verify(BROWSER_COOKIE, raw))
    {
        return (token.to_owned(), None);
    }
    let token = random_token();
    let cookie = state.cookies.set_cookie(
        BROWSER_COOKIE,
        &state.signer.sign(BROWSER_COOKIE, &token),
        Some(LOGIN_TTL_SECS),
    );
    (token, Some(cookie))
}

/// `GET /api/auth/oidc/{provider}/start`: records the sign-in and sends the browser to the
/// provider.
async fn start(
    State(state): State<AppState>,
    client: ClientInfo,
    origin: PublicOrigin,
    Extension(nonce): Extension<CspNonce>,
    Path(name): Path<String>,
    Query(q): Query<StartQuery>,
    headers: HeaderMap,
) -> Response {
    let Some(provider) = state.oidc.provider(&name).cloned() else {
        return no_such_provider(&state, &headers, &nonce.0);
    };
    let ctx = Ctx {
        state: &state,
        client: &client,
        headers: &headers,
        nonce: &nonce.0,
        provider: &provider,
        next: q.next.clone(),
    };
    if let Some(r) = ctx.limited().await {
        return ctx.refuse(r).await;
    }
    let redirect_uri = format!("{}/api/auth/oidc/{}/callback", origin.0, provider.name);
    let started = match state.oidc.start(&provider.name, &redirect_uri).await {
        Ok(s) => s,
        Err(e) => {
            let r = Refusal::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "provider_unavailable",
                unavailable(&provider),
            );
            return ctx.refuse(r.detail(e.to_string())).await;
        }
    };
    let (browser, cookie) = browser_token(&state, &headers);
    let now = now_ms();
    let login = PendingLogin {
        state_hash: sha256(&started.state),
        provider: provider.name.clone(),
        browser_hash: sha256(&browser),
        nonce: started.nonce,
        pkce_verifier: started.pkce_verifier,
        redirect_uri,
        next_path: q.next.as_deref().map(|n| safe_next(Some(n))),
        created_at: now,
        expires_at: now + i64::try_from(LOGIN_TTL_SECS * 1000).unwrap_or(i64::MAX),
    };
    if let Err(e) = state.store.insert_oidc_login(&login).await {
        tracing::error!(error = %e, "cannot record a sign-in through a provider");
        let r = Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "database_unavailable",
            "The database is unavailable. Try again in a moment.",
        );
        return ctx.refuse(r).await;
    }
    let mut resp = see_other(started.url.as_str());
    if let Some(v) = cookie.and_then(|c| c.parse().ok()) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

/// `GET /api/auth/oidc/{provider}/callback`: checks the state, trades the code, verifies the ID
/// token, finds the person's Uma user and opens a session.
async fn callback(
    State(state): State<AppState>,
    client: ClientInfo,
    Extension(nonce): Extension<CspNonce>,
    Path(name): Path<String>,
    Query(q): Query<CallbackQuery>,
    headers: HeaderMap,
) -> Response {
    let Some(provider) = state.oidc.provider(&name).cloned() else {
        return no_such_provider(&state, &headers, &nonce.0);
    };
    let mut ctx = Ctx {
        state: &state,
        client: &client,
        headers: &headers,
        nonce: &nonce.0,
        provider: &provider,
        next: None,
    };
    if let Some(r) = ctx.limited().await {
        return ctx.refuse(r).await;
    }
    let login = match pending(&ctx, &q).await {
        Ok(login) => login,
        Err(r) => return ctx.refuse(r).await,
    };
    ctx.next = login.next_path.clone();
    if q.iss.as_ref().is_some_and(|iss| *iss != provider.issuer) {
        // Another provider's answer, sent here (a mix-up).
        let r = Refusal::new(
            StatusCode::BAD_REQUEST,
            "issuer_mismatch",
            format!(
                "This answer did not come from {}. Please start again.",
                provider.label
            ),
        );
        return ctx
            .refuse(r.counted().detail(format!("iss {:?}", q.iss)))
            .await;
    }
    if let Some(error) = &q.error {
        // The person cancelled, or the provider would not sign them in.
        let detail = match &q.error_description {
            Some(d) => format!("{error}: {d}"),
            None => error.clone(),
        };
        let r = Refusal::new(
            StatusCode::UNAUTHORIZED,
            "provider_error",
            format!("{} did not sign you in ({error}).", provider.label),
        );
        return ctx.refuse(r.detail(detail)).await;
    }
    let Some(code) = q.code.as_deref().filter(|c| !c.is_empty()) else {
        let r = Refusal::new(
            StatusCode::BAD_REQUEST,
            "no_code",
            format!(
                "{} sent no sign-in code. Please start again.",
                provider.label
            ),
        );
        return ctx.refuse(r.counted()).await;
    };
    let verified = match state
        .oidc
        .finish(
            &provider.name,
            &login.redirect_uri,
            code,
            &login.nonce,
            &login.pkce_verifier,
        )
        .await
    {
        Ok(v) => v,
        Err(e) => return ctx.refuse(finish_refusal(&provider, e)).await,
    };
    signed_in(&ctx, verified).await
}

/// The sign-in `state` names, if it is unexpired, unused, for this provider and this browser.
async fn pending(ctx: &Ctx<'_>, q: &CallbackQuery) -> Result<PendingLogin, Refusal> {
    let stale = || {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            "state_mismatch",
            "This sign-in has expired, was used already or was started in another browser. Please start again.",
        )
        .counted()
    };
    let Some(sent) = q.state.as_deref().filter(|s| !s.is_empty()) else {
        return Err(stale().detail("no state"));
    };
    let login = ctx
        .state
        .store
        .take_oidc_login(&sha256(sent), now_ms())
        .await
        .map_err(|e| {
            Refusal::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "database_unavailable",
                "The database is unavailable. Try again in a moment.",
            )
            .detail(e.to_string())
        })?
        .ok_or_else(|| stale().detail("unknown, used or expired state"))?;
    if login.provider != ctx.provider.name {
        return Err(stale().detail(format!("state of provider {}", login.provider)));
    }
    let browser = session::cookie_value(ctx.headers, BROWSER_COOKIE)
        .and_then(|raw| ctx.state.signer.verify(BROWSER_COOKIE, raw))
        .map(sha256);
    if browser.as_deref() != Some(login.browser_hash.as_str()) {
        return Err(stale().detail("started in another browser"));
    }
    Ok(login)
}

/// How a failed finish is told.
fn finish_refusal(p: &OidcProvider, e: OidcError) -> Refusal {
    let detail = e.to_string();
    let r = match e {
        OidcError::UnknownProvider(_) | OidcError::Unavailable(_) => Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "provider_unavailable",
            unavailable(p),
        ),
        OidcError::Refused(_) => Refusal::new(
            StatusCode::UNAUTHORIZED,
            "code_refused",
            format!(
                "{} refused this sign-in (its code was used already or has expired). Please start again.",
                p.label
            ),
        )
        .counted(),
        OidcError::InvalidToken(_) => Refusal::new(
            StatusCode::UNAUTHORIZED,
            "token_invalid",
            format!(
                "{}'s answer failed Uma's checks (its ID token is expired, not for Uma, or not signed by {}). Please start again; if it keeps happening, tell an administrator.",
                p.label, p.label
            ),
        )
        .counted(),
        OidcError::Claims(c) => Refusal::new(
            StatusCode::FORBIDDEN,
            "claims",
            format!("{} did not say who you are: {c}. Ask an administrator.", p.label),
        ),
    };
    r.detail(detail)
}

/// Finds (or binds) the person's Uma user and opens the session.
async fn signed_in(ctx: &Ctx<'_>, verified: Verified) -> Response {
    let state = ctx.state;
    let provider = &ctx.provider.name;
    let person = &verified.person;
    let linked = match link::link(&state.store, &state.config, provider, person).await {
        Ok(l) => l,
        Err(e) => {
            let mut r = match &e {
                LinkError::NameTaken(name) => Refusal::new(
                    StatusCode::FORBIDDEN,
                    "name_taken",
                    format!("The name {name} already belongs to an account that signs in another way; ask an administrator."),
                ),
                LinkError::NotAllowed => Refusal::new(
                    StatusCode::FORBIDDEN,
                    "not_allowed",
                    "Access denied. You do not have permission to use this application.",
                ),
                LinkError::Store(_) => Refusal::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "database_unavailable",
                    "The database is unavailable. Try again in a moment.",
                ),
            };
            r.username = Some(person.username.clone());
            return ctx.refuse(r.detail(e.to_string())).await;
        }
    };
    let (session, cookies) = match open_session(state, ctx.client, &linked.identity, None).await {
        Ok(opened) => opened,
        Err(refusal) => {
            let r = Refusal::new(refusal.status, "database_unavailable", refusal.message);
            return ctx.refuse(r).await;
        }
    };
    state
        .limiter
        .succeed(&ctx.client.ip, &limit_name(provider))
        .await;
    if let Err(e) = state
        .store
        .insert_oidc_session(&session.record.id, provider, &verified.id_token)
        .await
    {
        // Signed in all the same; signing out will not take them out of the provider.
        tracing::warn!(error = %e, "cannot keep the session's ID token");
    }
    state.audit.record(
        &Actor {
            username: linked.identity.username.clone(),
            ip: Some(ctx.client.ip.clone()),
            user_agent: ctx.client.user_agent.clone(),
        },
        AuditAction::LoginOidc,
        "auth:session",
        Status::Success,
        json!({ "provider": provider, "subject": person.subject, "firstSignIn": linked.new }),
    );
    let mut resp = see_other(&safe_next(ctx.next.as_deref()));
    for c in cookies {
        if let Ok(v) = c.parse() {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    resp
}

/// Where a session's sign-out continues: the provider's label and sign-out URL.
#[derive(Debug)]
pub struct Leaving {
    /// The provider's label.
    pub label: String,
    /// Its sign-out URL (`end_session_endpoint` with the hint and the way back).
    pub url: String,
}

/// The provider sign-out of a session opened through one that advertises it; forgets the
/// session's ID token.
pub async fn leaving(state: &AppState, origin: &PublicOrigin, session_id: &str) -> Option<Leaving> {
    let (provider, id_token) = match state.store.oidc_session(session_id).await {
        Ok(found) => found?,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the session's provider");
            return None;
        }
    };
    if let Err(e) = state.store.drop_oidc_session(session_id).await {
        tracing::warn!(error = %e, "cannot forget the session's ID token");
    }
    let label = state.oidc.provider(&provider)?.label.clone();
    let back = format!("{}/login", origin.0);
    let url = state
        .oidc
        .logout_url(&provider, Some(&id_token), &back)
        .await?;
    Some(Leaving {
        label,
        url: url.to_string(),
    })
}

/// The page a signed-out browser sees on its way to the provider's sign-out (a form's
/// redirect elsewhere would be stopped by `form-action 'self'`): it goes on at once
/// (`Refresh`), with a link for when it does not.
pub fn leaving_page(state: &AppState, nonce: &str, leaving: &Leaving) -> Response {
    let body = state.templates.render(
        "auth/signed-out.html",
        minijinja::context! { nonce => nonce, label => leaving.label, url => leaving.url },
    );
    let mut resp = pages::html(StatusCode::OK, body);
    if let Ok(v) = format!("0; url={}", leaving.url).parse() {
        resp.headers_mut().insert(header::REFRESH, v);
    }
    resp
}
