//! Server-only helpers for `#[server]` functions: the request's services, session and client,
//! cookies, and the bridge from `DomainError` to `AppError` (which logs and hides internals).
use domain::request::{AuthSession, ClientInfo};
use domain::secret::SessionToken;
use domain::Services;
use http::header::{HeaderValue, SET_COOKIE};
use http::request::Parts;
use leptos::prelude::*;
use leptos_axum::ResponseOptions;

use crate::error::AppError;

pub mod cookies;
mod errors;

pub use errors::{fail, fail_for, internal, outcome, reject};

/// Put in the request's extensions by the server's session middleware.
#[derive(Clone, Debug, Default)]
pub struct CurrentSession(pub Option<AuthSession>);

/// Cookie lifetime, set by the server from the session policy.
#[derive(Clone, Copy, Debug)]
pub struct CookieMaxAge(pub i64);

/// Reads one value of the request (its headers and extensions) in place: `use_context::<Parts>()`
/// would clone them all (the header map, every extension, the services among them) for each value
/// read, several times per page. `None` outside a request.
fn from_parts<R>(read: impl FnOnce(&Parts) -> Option<R>) -> Option<R> {
    with_context::<Parts, _>(read).flatten()
}

/// The domain services the server attached to this request.
pub fn services() -> Result<Services, AppError> {
    from_parts(|p| p.extensions.get::<Services>().cloned()).ok_or_else(|| internal("no services in request"))
}

/// The geo-IP database, if the server has one.
pub fn geo() -> Option<std::sync::Arc<domain::geo::GeoIp>> {
    from_parts(|p| p.extensions.get::<std::sync::Arc<domain::geo::GeoIp>>().cloned())
}

/// The signed-in session, or `NotSignedIn`; `SecondFactorRequired` for an Enterprise member who has
/// not set up a second factor yet (they may only do that, and end sessions: see `auth_for_setup`).
pub fn auth() -> Result<AuthSession, AppError> {
    let session = auth_for_setup()?;
    if session.must_set_up_second_factor() {
        return Err(AppError::SecondFactorRequired);
    }
    Ok(session)
}

/// The signed-in session, also when the organisation still requires a second factor: for the
/// page itself, setting one up, re-verifying, signing out and ending sessions.
pub fn auth_for_setup() -> Result<AuthSession, AppError> {
    with_context::<Parts, _>(|p| p.extensions.get::<CurrentSession>().and_then(|c| c.0.clone()))
        .ok_or_else(|| internal("no request context"))?
        .ok_or(AppError::NotSignedIn)
}

/// Where the request came from (IP, user agent, country), recorded on sessions and events. Only the
/// server functions that record it pay for the geo-IP lookup.
pub fn client() -> ClientInfo {
    let mut c = from_parts(|p| p.extensions.get::<ClientInfo>().cloned()).unwrap_or_default();
    if let (Some(geo), Some(ip)) = (geo(), c.ip.as_deref()) {
        c.country = geo.country(ip);
        c.location = Some(geo.locate(ip).text);
    }
    c.device = cookie(&cookies::DEVICE).map(domain::secret::DeviceCookie::from_cookie);
    c
}

/// After a full sign-in: the session cookie, and the browser's renewed device cookie. The session
/// this browser was still signed in with, if any, is signed out (`sessions::end_replaced`).
pub async fn set_signed_in_cookies(signed_in: &domain::auth::sessions::SignedIn) {
    if let (Ok(previous), Ok(svc)) = (auth_for_setup(), services()) {
        domain::auth::sessions::end_replaced(&svc, Some(&previous), &client()).await;
    }
    set_session_cookie(&signed_in.token);
    set_device_cookie(&signed_in.device);
}

/// Sets the device cookie (the browser trusted for the accounts it names: `domain::auth::device_cookies`).
pub fn set_device_cookie(device: &domain::secret::DeviceCookie) {
    set_cookie(&cookies::DEVICE.set(device.expose(), None));
}

/// Sets the session cookie on the response (lifetime: the session policy's longest).
pub fn set_session_cookie(token: &SessionToken) {
    let policy = from_parts(|p| p.extensions.get::<CookieMaxAge>().copied()).map(|m| m.0);
    set_cookie(&cookies::SESSION.set(token.expose(), policy));
}

/// Tells the browser to forget the session cookie.
pub fn clear_session_cookie() {
    set_cookie(&cookies::SESSION.clear());
}

pub fn set_pending_cookie(token: &domain::secret::PendingToken) {
    set_cookie(&cookies::PENDING.set(token.expose(), None));
}

pub fn clear_pending_cookie() {
    set_cookie(&cookies::PENDING.clear());
}

/// The pending sign-in's token from the request's cookies.
pub fn pending_cookie() -> Option<domain::secret::PendingToken> {
    cookie(&cookies::PENDING).map(domain::secret::PendingToken::from_cookie)
}

pub fn set_passkey_cookie(token: &domain::secret::CeremonyToken) {
    set_cookie(&cookies::PASSKEY.set(token.expose(), None));
}

pub fn clear_passkey_cookie() {
    set_cookie(&cookies::PASSKEY.clear());
}

pub fn passkey_cookie() -> Option<domain::secret::CeremonyToken> {
    cookie(&cookies::PASSKEY).map(domain::secret::CeremonyToken::from_cookie)
}

/// Binds provider flows to this browser (kept when it already has one, so two tabs both finish).
pub fn set_flow_cookie(token: &domain::secret::FlowCookie) {
    set_cookie(&cookies::FLOW.set(token.expose(), None));
}

pub fn flow_cookie() -> Option<domain::secret::FlowCookie> {
    cookie(&cookies::FLOW).map(domain::secret::FlowCookie::from_cookie)
}

/// A cookie of the request.
fn cookie(spec: &cookies::CookieSpec) -> Option<String> {
    from_parts(|p| spec.read(&p.headers).map(str::to_string))
}

fn set_cookie(value: &str) {
    if let (Some(res), Ok(v)) = (use_context::<ResponseOptions>(), HeaderValue::from_str(value)) {
        res.append_header(SET_COOKIE, v);
    }
}

/// The Content-Security-Policy of a server-rendered page whose inline scripts carry `nonce`
/// (hydration needs `'wasm-unsafe-eval'`). The server's `middleware::security_headers` sets it on
/// every page, with the nonce it chose for the request before the page rendered (`provide_nonce`).
pub fn page_csp(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self'; \
         img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    )
}

/// Gives the page the nonce the server chose for this request (a `leptos::nonce::Nonce` in the
/// request's extensions; see `page_csp`) instead of the one leptos_axum makes up for each render,
/// so the page's CSP header never waits on the render: the middleware writes it from the request.
/// The additional context of every page route.
pub fn provide_nonce() {
    if let Some(nonce) = use_context::<Parts>().and_then(|p| p.extensions.get::<leptos::nonce::Nonce>().cloned()) {
        provide_context(nonce);
    }
}

/// Headers for every server-rendered page besides its CSP (`page_csp`): no caching of pages that
/// may hold account data.
pub fn set_page_headers() {
    use http::header::CACHE_CONTROL;
    let Some(res) = use_context::<ResponseOptions>() else { return };
    res.insert_header(CACHE_CONTROL, HeaderValue::from_static("no-store"));
}
