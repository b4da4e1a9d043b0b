//! Server-only helpers for `#[server]` functions: the request's services, session and client,
//! cookies, and the bridge from `DomainError` to `AppError` (which logs and hides internals).
use domain::auth::sessions::{AuthSession, ClientInfo};
use domain::secret::SessionToken;
use domain::{DomainError, Services};
use http::header::{HeaderValue, SET_COOKIE};
use http::request::Parts;
use http::StatusCode;
use leptos::prelude::*;
use leptos_axum::ResponseOptions;

use crate::error::AppError;

/// The session cookie. `__Host-` makes the browser insist on Secure, Path=/ and no Domain.
pub const SESSION_COOKIE: &str = "__Host-gatehouse-session";

/// Put in the request's extensions by the server's session middleware.
#[derive(Clone, Debug, Default)]
pub struct CurrentSession(pub Option<AuthSession>);

/// Cookie lifetime, set by the server from the session policy.
#[derive(Clone, Copy, Debug)]
pub struct CookieMaxAge(pub i64);

fn parts() -> Result<Parts, AppError> {
    use_context::<Parts>().ok_or_else(|| internal("no request context"))
}

/// The domain services the server attached to this request.
pub fn services() -> Result<Services, AppError> {
    parts()?.extensions.get::<Services>().cloned().ok_or_else(|| internal("no services in request"))
}

/// The geo-IP database, if the server has one.
pub fn geo() -> Option<std::sync::Arc<domain::geo::GeoIp>> {
    parts().ok()?.extensions.get::<std::sync::Arc<domain::geo::GeoIp>>().cloned()
}

/// The signed-in session, or `NotSignedIn`; `SecondFactorRequired` for an Enterprise member who has
/// not set up a second factor yet (they may only do that: see `auth_for_setup`).
pub fn auth() -> Result<AuthSession, AppError> {
    let session = auth_for_setup()?;
    if session.must_set_up_second_factor() {
        return Err(AppError::SecondFactorRequired);
    }
    Ok(session)
}

/// The signed-in session, also when the organisation still requires a second factor: for the
/// page itself, setting one up, re-verifying and signing out.
pub fn auth_for_setup() -> Result<AuthSession, AppError> {
    parts()?
        .extensions
        .get::<CurrentSession>()
        .and_then(|c| c.0.clone())
        .ok_or(AppError::NotSignedIn)
}

/// Where the request came from (IP, user agent, country), recorded on sessions and events. Only the
/// server functions that record it pay for the geo-IP lookup.
pub fn client() -> ClientInfo {
    let mut c = parts().ok().and_then(|p| p.extensions.get::<ClientInfo>().cloned()).unwrap_or_default();
    if let (Some(geo), Some(ip)) = (geo(), c.ip.as_deref()) {
        c.country = geo.country(ip);
    }
    c.device = cookie(DEVICE_COOKIE).map(domain::secret::DeviceCookie::from_cookie);
    c
}

/// The device cookie: which accounts this browser has fully signed in to (signed entries), so its
/// password guesses are counted apart from everyone else's. Long-lived; never a session.
pub const DEVICE_COOKIE: &str = "__Host-gatehouse-device";

/// After a full sign-in: the session cookie, and the browser's renewed device cookie.
pub fn set_signed_in_cookies(signed_in: &domain::auth::sessions::SignedIn) {
    set_session_cookie(&signed_in.token);
    set_cookie(&format!(
        "{DEVICE_COOKIE}={}; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age={}",
        signed_in.device.expose(),
        domain::auth::device_cookies::LIFETIME_DAYS * 86_400
    ));
}

/// Sets the session cookie on the response.
pub fn set_session_cookie(token: &SessionToken) {
    let max_age = parts().ok().and_then(|p| p.extensions.get::<CookieMaxAge>().copied()).map(|m| m.0).unwrap_or(86_400);
    set_cookie(&format!(
        "{SESSION_COOKIE}={}; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age={max_age}",
        token.expose()
    ));
}

/// The cookie of a sign-in waiting for its second step (5 minutes, this browser only).
pub const PENDING_COOKIE: &str = "__Host-gatehouse-pending";

pub fn set_pending_cookie(token: &domain::secret::PendingToken) {
    set_cookie(&format!(
        "{PENDING_COOKIE}={}; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age={}",
        token.expose(),
        domain::auth::two_factor::PENDING_MINUTES * 60
    ));
}

pub fn clear_pending_cookie() {
    set_cookie(&format!("{PENDING_COOKIE}=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0"));
}

/// The pending sign-in's token from the request's cookies.
pub fn pending_cookie() -> Option<domain::secret::PendingToken> {
    cookie(PENDING_COOKIE).map(domain::secret::PendingToken::from_cookie)
}

/// The cookie of a passkey sign-in between its two halves (5 minutes, this browser only).
pub const PASSKEY_COOKIE: &str = "__Host-gatehouse-passkey";

pub fn set_passkey_cookie(token: &domain::secret::CeremonyToken) {
    set_cookie(&format!(
        "{PASSKEY_COOKIE}={}; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age={}",
        token.expose(),
        domain::auth::passkeys::CEREMONY_MINUTES * 60
    ));
}

pub fn clear_passkey_cookie() {
    set_cookie(&format!("{PASSKEY_COOKIE}=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0"));
}

pub fn passkey_cookie() -> Option<domain::secret::CeremonyToken> {
    cookie(PASSKEY_COOKIE).map(domain::secret::CeremonyToken::from_cookie)
}

/// A cookie of the request, by name.
fn cookie(name: &str) -> Option<String> {
    let parts = parts().ok()?;
    parts
        .headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// Tells the browser to forget the session cookie.
pub fn clear_session_cookie() {
    set_cookie(&format!("{SESSION_COOKIE}=; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=0"));
}

fn set_cookie(value: &str) {
    if let (Some(res), Ok(v)) = (use_context::<ResponseOptions>(), HeaderValue::from_str(value)) {
        res.append_header(SET_COOKIE, v);
    }
}

fn set_status(status: StatusCode) {
    if let Some(res) = use_context::<ResponseOptions>() {
        res.set_status(status);
    }
}

fn internal(what: &str) -> AppError {
    let reference = new_reference();
    tracing::error!(reference = %reference, "{what}");
    AppError::Internal { reference }
}

fn new_reference() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_string()
}

/// Maps a domain error to what the person sees, sets the HTTP status, and logs infrastructure
/// failures under a reference (the only part of them that leaves the server).
pub fn fail(e: DomainError) -> AppError {
    let (status, err) = match e {
        DomainError::InvalidCredentials => (StatusCode::UNAUTHORIZED, AppError::InvalidCredentials),
        DomainError::Unauthenticated => (StatusCode::UNAUTHORIZED, AppError::NotSignedIn),
        DomainError::EmailTaken => (StatusCode::CONFLICT, AppError::EmailTaken),
        DomainError::Invalid { field, message } => {
            (StatusCode::UNPROCESSABLE_ENTITY, AppError::Invalid { field: field.into(), message })
        }
        DomainError::PasswordRejected(m) => (StatusCode::UNPROCESSABLE_ENTITY, AppError::PasswordRejected(m)),
        DomainError::NotFound => (StatusCode::NOT_FOUND, AppError::NotFound),
        DomainError::ReverifyRequired => (StatusCode::FORBIDDEN, AppError::ReverifyRequired),
        // the pending token goes in its cookie (set by the sign-in function), never in a body
        DomainError::SecondStepRequired(_) => (StatusCode::UNAUTHORIZED, AppError::SecondStepRequired),
        DomainError::SignInAgain => (StatusCode::UNAUTHORIZED, AppError::SignInAgain),
        DomainError::Unavailable => {
            tracing::warn!("database unavailable");
            (StatusCode::SERVICE_UNAVAILABLE, AppError::Unavailable)
        }
        DomainError::RateLimited { retry_after_seconds } => {
            (StatusCode::TOO_MANY_REQUESTS, AppError::RateLimited { retry_after_seconds })
        }
        DomainError::Overloaded { retry_after_seconds } => {
            tracing::info!(retry_after_seconds, "overloaded: request refused at once");
            (StatusCode::SERVICE_UNAVAILABLE, AppError::Busy { retry_after_seconds })
        }
        e @ (DomainError::Db(_) | DomainError::Hash(_) | DomainError::Internal(_)) => {
            let reference = new_reference();
            tracing::error!(reference = %reference, error = ?e, "internal error");
            (StatusCode::INTERNAL_SERVER_ERROR, AppError::Internal { reference })
        }
    };
    set_status(status);
    set_retry_after(&err);
    err
}

/// `Retry-After` for errors that say how long to wait (429, 503 Busy).
fn set_retry_after(err: &AppError) {
    if let (Some(res), Some(seconds)) = (use_context::<ResponseOptions>(), err.retry_after_seconds()) {
        res.insert_header(http::header::RETRY_AFTER, HeaderValue::from(seconds));
    }
}

/// Sets the status for an error raised in `app` itself (not signed in, bad input).
pub fn reject(err: AppError) -> AppError {
    set_status(match err {
        AppError::NotSignedIn | AppError::InvalidCredentials | AppError::SignInAgain => StatusCode::UNAUTHORIZED,
        AppError::SecondFactorRequired => StatusCode::FORBIDDEN,
        AppError::NotFound => StatusCode::NOT_FOUND,
        AppError::Invalid { .. } | AppError::PasswordRejected(_) => StatusCode::UNPROCESSABLE_ENTITY,
        AppError::Unavailable | AppError::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
        AppError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        _ => StatusCode::BAD_REQUEST,
    });
    set_retry_after(&err);
    err
}

/// Headers for every server-rendered page: a CSP whose script source is this response's nonce
/// (hydration needs `'wasm-unsafe-eval'`), and no caching of pages that may hold account data.
pub fn set_page_headers() {
    use http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY};
    let Some(res) = use_context::<ResponseOptions>() else { return };
    let nonce = leptos::nonce::use_nonce().map(|n| n.to_string()).unwrap_or_default();
    let csp = format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self'; \
         img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    );
    if let Ok(v) = HeaderValue::from_str(&csp) {
        res.insert_header(CONTENT_SECURITY_POLICY, v);
    }
    res.insert_header(CACHE_CONTROL, HeaderValue::from_static("no-store"));
}
