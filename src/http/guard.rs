//! Route protection (the original's middleware table) and CSRF: loads the session once per
//! request, redirects pages and refuses API calls that need a session or an admin, and checks the
//! CSRF token and Origin of every state-changing request.

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use crate::auth::session::{self, CurrentSession};
use crate::auth::{csrf, tokens};
use crate::error::{AppError, ErrorCode};
use crate::state::AppState;
use crate::store::auth::SessionRecord;
use crate::store::now_ms;

/// The session of the request, if any and valid; activity extends it.
pub async fn load_session(
    state: &AppState,
    headers: &http::HeaderMap,
) -> Result<Option<CurrentSession>, AppError> {
    // A request with a token is the token's, whatever cookies it carries.
    if let Some(secret) = tokens::bearer(headers) {
        return tokens::session_for(&state.store, secret, now_ms())
            .await
            .map(Some);
    }
    session::load(&state.signer, &state.records, &state.config, headers).await
}

/// The session cookie for `record`, living as long as the record does from `now`.
pub fn session_cookie(state: &AppState, record: &SessionRecord, now: i64) -> String {
    let left_secs = u64::try_from((record.expires_at - now).max(0) / 1000).unwrap_or(0);
    let max_age =
        (state.config.session.ttl > 0 || state.config.session.max_age > 0).then_some(left_secs);
    state.cookies.set_cookie(
        session::COOKIE,
        &state.signer.sign(session::COOKIE, &record.id),
        max_age,
    )
}

/// The token a state-changing request must carry: the session's, else the login cookie's.
pub fn expected_csrf(
    state: &AppState,
    headers: &http::HeaderMap,
    session: Option<&CurrentSession>,
) -> Option<String> {
    match session {
        Some(s) => Some(s.record.csrf_token.clone()),
        None => session::cookie_value(headers, session::CSRF_COOKIE)
            .and_then(|raw| state.signer.verify(session::CSRF_COOKIE, raw))
            .map(str::to_owned),
    }
}

enum Need {
    Admin,
    Session,
    /// A session, or the docs made public (`publicDocs`).
    Reader,
    Anonymous,
    Nothing,
}

fn need(path: &str) -> Need {
    let under = |p: &str| path == p || path.starts_with(&format!("{p}/"));
    if under("/admin") || under("/api/admin") || under("/api/settings") {
        Need::Admin
    } else if under("/dashboard")
        || under("/pools")
        || under("/guests")
        || under("/create")
        || under("/sdn")
        || under("/api/proxmox")
        || under("/settings")
        || under("/templates")
        || under("/nodes")
        || under("/api/hardware-templates")
        || under("/api/chat")
        || under("/api/groups")
        || under("/api/users")
        || under("/api/whiteboard")
        || under("/api/notifications")
        || under("/api/upload")
        || under("/api/uploads")
        || under("/api/metadata")
        || under("/api/sessions")
        || under("/api/account")
        || under("/api/profile")
        || under("/api/tokens")
        || under("/api/auth/factors")
        || under("/api/auth/recovery-codes")
        || under("/api/auth/step-up")
        // One's passkeys by id (setting one up and using one also serve a waiting sign-in).
        || path
            .strip_prefix("/api/auth/passkeys/")
            .is_some_and(|rest| !matches!(rest, "register" | "challenge"))
        || under("/api/directory")
        || under("/whiteboard")
    {
        Need::Session
    } else if under("/api/docs") || under("/docs") {
        Need::Reader
    } else if path == "/login" {
        Need::Anonymous
    } else {
        Need::Nothing
    }
}

/// Form routes check the token from their form body themselves.
fn form_route(path: &str) -> bool {
    path == "/login" || path == "/logout"
}

/// The middleware.
pub async fn guard(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let session = match load_session(&state, req.headers()).await {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let path = req.uri().path().to_owned();
    let api = path.starts_with("/api/");
    let reading = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);

    if let Some(grant) = session.as_ref().and_then(|s| s.token.as_ref()) {
        if let Some(why) = tokens::refusal_for_path(&path, reading, grant.scope) {
            return AppError::with_message(ErrorCode::Forbidden, why).into_response();
        }
    }
    let mut need = need(&path);
    if let (Need::Reader, None) = (&need, &session) {
        let public = match state.uploads.settings().await {
            Ok(s) => s.public_docs,
            Err(e) => return e.into_response(),
        };
        if !public {
            need = Need::Session;
        }
    }
    match (need, &session) {
        (Need::Admin | Need::Session, None) => {
            return if api {
                AppError::with_message(ErrorCode::Unauthorized, "Unauthorized").into_response()
            } else {
                Redirect::to(&format!("/login?next={}", urlencode(&path))).into_response()
            };
        }
        (Need::Admin, Some(s)) if !s.is_admin() => {
            return if api {
                AppError::with_message(ErrorCode::Forbidden, "Forbidden - Admin access required")
                    .into_response()
            } else {
                Redirect::to("/dashboard").into_response()
            };
        }
        (Need::Anonymous, Some(_)) if reading => return Redirect::to("/dashboard").into_response(),
        _ => {}
    }

    // A token is no ambient credential: a page elsewhere can't make a browser send it.
    let by_token = session.as_ref().is_some_and(|s| s.token.is_some());
    if !reading && !form_route(&path) && !by_token {
        if let Err(refusal) = check_csrf(&state, req.headers(), session.as_ref()) {
            return refusal.into_response();
        }
    }
    let refresh = session
        .as_ref()
        .filter(|s| s.extended)
        .map(|s| session_cookie(&state, &s.record, now_ms()));
    if let Some(s) = session {
        req.extensions_mut().insert(s);
    }
    let mut resp = next.run(req).await;
    // The cookie follows the sliding expiry, unless the handler set it itself (sign-out).
    if let Some(cookie) = refresh {
        let sets_own = resp
            .headers()
            .get_all(http::header::SET_COOKIE)
            .iter()
            .any(|v| {
                v.as_bytes()
                    .starts_with(format!("{}=", session::COOKIE).as_bytes())
            });
        if !sets_own {
            if let Ok(v) = cookie.parse() {
                resp.headers_mut().append(http::header::SET_COOKIE, v);
            }
        }
    }
    resp
}

/// Origin and token checks of a state-changing request.
pub fn check_csrf(
    state: &AppState,
    headers: &http::HeaderMap,
    session: Option<&CurrentSession>,
) -> Result<(), AppError> {
    match csrf::request_origin(headers) {
        Some(origin) if csrf::allowed_origin(&state.config, headers, &origin) => {}
        Some(_) => {
            return Err(AppError::with_message(
                ErrorCode::InvalidCsrf,
                "Request from a foreign origin",
            ));
        }
        None => {
            return Err(AppError::with_message(
                ErrorCode::InvalidCsrf,
                "Origin header required",
            ));
        }
    }
    let sent = headers.get(csrf::HEADER).and_then(|v| v.to_str().ok());
    match expected_csrf(state, headers, session) {
        Some(expected) if csrf::token_matches(&expected, sent) => Ok(()),
        _ => Err(AppError::with_message(
            ErrorCode::InvalidCsrf,
            "Invalid CSRF token",
        )),
    }
}

/// Percent-encodes a path for a `next` query parameter.
pub fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A `next` target is only ever a path on this site; anything else is the dashboard.
///
/// Refused: control characters and whitespace anywhere (browsers drop tab, CR and LF from URLs,
/// so `/\t/evil.example` would become `//evil.example`), backslashes (read as `/`), a path that
/// resolves to `//…` (another host) once dot segments are resolved, anything that is not an
/// absolute path on this origin, and the login page itself.
pub fn safe_next(next: Option<&str>) -> String {
    const FALLBACK: &str = "/dashboard";
    let Some(n) = next else {
        return FALLBACK.to_owned();
    };
    let plain = n.starts_with('/')
        && !n.starts_with("//")
        && !n
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '\\');
    if !plain {
        return FALLBACK.to_owned();
    }
    // Resolve it the way a browser would, against a stand-in origin: it must stay there, and its
    // path must not start with `//` after dot segments are resolved.
    let Ok(base) = url::Url::parse("http://uma.invalid/") else {
        return FALLBACK.to_owned();
    };
    match base.join(n) {
        Ok(u)
            if u.origin() == base.origin()
                && !u.path().starts_with("//")
                && u.path() != "/login" =>
        {
            n.to_owned()
        }
        _ => FALLBACK.to_owned(),
    }
}

/// 303 See Other to `to`.
pub fn see_other(to: &str) -> Response {
    (
        StatusCode::SEE_OTHER,
        [(http::header::LOCATION, to.to_owned())],
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_targets_stay_local() {
        assert_eq!(safe_next(Some("/dashboard/pools")), "/dashboard/pools");
        assert_eq!(safe_next(Some("//evil.example")), "/dashboard");
        assert_eq!(safe_next(Some("https://evil.example")), "/dashboard");
        assert_eq!(safe_next(Some("/\\evil")), "/dashboard");
        assert_eq!(safe_next(None), "/dashboard");
    }

    #[test]
    fn nasty_next_targets_fall_back_to_the_dashboard() {
        // Browsers drop tab, CR and LF from URLs and read `\` as `/`: each of these would end
        // up on another site (or is no path of ours at all).
        let nasty = [
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r/evil.example",
            "\t//evil.example",
            "/ /evil.example",
            " //evil.example",
            "/\u{0b}/evil.example",
            "/\u{0c}/evil.example",
            "/\u{0}/evil.example",
            "/\u{85}/evil.example",
            "/\u{a0}/evil.example",
            "/\u{2028}/evil.example",
            "/\u{3000}/evil.example",
            "//evil.example",
            "///evil.example",
            "/\\evil.example",
            "\\/evil.example",
            "/\\/evil.example",
            "/./\\/evil.example",
            "/a/..//evil.example",
            "/..//evil.example",
            "https://evil.example/",
            "http:/evil.example",
            "javascript:alert(1)",
            "data:text/html,x",
            "evil.example",
            "",
            "/login",
            "/login?next=//evil.example",
        ];
        for n in nasty {
            assert_eq!(safe_next(Some(n)), "/dashboard", "{n:?}");
        }
    }

    #[test]
    fn local_paths_are_kept() {
        for n in [
            "/dashboard",
            "/pools/DEV_alice_1?tab=guests",
            "/guests/100#console",
            "/%2F%2Fevil.example",
            "/sdn?zone=a%20b",
        ] {
            assert_eq!(safe_next(Some(n)), n, "{n:?}");
        }
    }
}
