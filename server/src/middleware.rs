//! Middleware: security headers, the cross-site check, and session resolution.
use std::net::{IpAddr, SocketAddr};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::header::{self, HeaderValue};
use http::{Method, StatusCode};

use app::server::{CookieMaxAge, CurrentSession, SESSION_COOKIE};
use domain::auth::sessions::ClientInfo;
use domain::secret::SessionToken;
use domain::DomainError;

use crate::AppState;

/// Static files served from the site root: no session, no database, cacheable.
fn is_static(path: &str) -> bool {
    path.starts_with("/pkg/") || path == "/favicon.svg" || path == "/favicon.ico" || path == "/healthz"
}

/// Headers on every response. Pages set their own CSP (with the nonce of their inline scripts);
/// everything else gets a CSP that allows nothing to run.
pub async fn security_headers(req: Request, next: Next) -> Response {
    let is_static = is_static(req.uri().path());
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("referrer-policy", HeaderValue::from_static("strict-origin-when-cross-origin"));
    h.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    h.insert("cross-origin-resource-policy", HeaderValue::from_static("same-origin"));
    h.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
    );
    h.entry(header::CONTENT_SECURITY_POLICY).or_insert(HeaderValue::from_static(
        "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    ));
    if !is_static {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

/// Refuses state-changing requests that a browser sent from another site. Leptos server functions
/// accept plain form posts, so without this any site could make a signed-in browser act.
///
/// Fetch metadata first (`Sec-Fetch-Site` must be `same-origin` or `none`); browsers without it
/// must send an `Origin` equal to this site (the request's Host, or a configured origin). A request
/// with neither is refused: fail closed.
pub async fn cross_site_check(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    if allowed(&req, &state.config.site.allowed_origins) {
        next.run(req).await
    } else {
        tracing::warn!(path = %req.uri().path(), "cross-site request refused");
        (StatusCode::FORBIDDEN, "Cross-site requests are not allowed.").into_response()
    }
}

fn allowed(req: &Request, extra_origins: &[String]) -> bool {
    let headers = req.headers();
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        if !matches!(site, "same-origin" | "none") {
            return false;
        }
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    if extra_origins.iter().any(|o| o == origin) {
        return true;
    }
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .is_some_and(|rest| rest.eq_ignore_ascii_case(host))
}

fn session_cookie(req: &Request) -> Option<SessionToken> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == SESSION_COOKIE)
        .map(|c| SessionToken::from_cookie(c.value()))
}

/// The client's address: the socket peer, or, when the peer is a trusted proxy, the right-most
/// address in `X-Forwarded-For` that is not itself a trusted proxy.
fn client_ip(peer: Option<IpAddr>, forwarded_for: Option<&str>, trusted: &[IpAddr]) -> Option<IpAddr> {
    let peer = peer?;
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let mut chain = forwarded_for.unwrap_or_default().split(',').map(str::trim).rev();
    for hop in chain.by_ref() {
        match hop.parse::<IpAddr>() {
            Ok(ip) if trusted.contains(&ip) => continue,
            Ok(ip) => return Some(ip),
            Err(_) => break, // malformed: stop believing the header
        }
    }
    Some(peer)
}

/// IP and user agent; the country is looked up only by the actions that record it (not on every request).
fn client_info(req: &Request, trusted: &[IpAddr]) -> ClientInfo {
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let forwarded = req.headers().get("x-forwarded-for").and_then(|v| v.to_str().ok());
    ClientInfo {
        country: None,
        ip: client_ip(peer, forwarded, trusted).map(|ip| ip.to_string()),
        user_agent: req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(512).collect()),
        // read by the server functions that check passwords (app::server::client)
        device: None,
    }
}

/// Pages only signed-in people may see.
fn is_protected(path: &str) -> bool {
    path == "/settings" || path.starts_with("/settings/")
}

/// Resolves the session cookie (one query, straight to Postgres, so a revoked session is refused on
/// its very next request on any instance), attaches services, session and client to the request,
/// and sends signed-out visitors of protected pages to sign-in (and signed-in visitors of the
/// sign-in pages to where they were going).
pub async fn session(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    if is_static(&path) {
        return next.run(req).await;
    }
    if path == "/previews" && !state.config.previews.enabled {
        return (StatusCode::NOT_FOUND, "Not found").into_response();
    }
    let token = session_cookie(&req);
    let mut stale_cookie = false;
    let current = match &token {
        None => None,
        Some(t) => match domain::auth::sessions::authenticate(&state.services, t).await {
            Ok(Some(s)) => Some(s),
            Ok(None) => {
                stale_cookie = true;
                None
            }
            Err(DomainError::Unavailable) => return unavailable(&path),
            Err(e) => {
                let reference = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
                tracing::error!(reference = %reference, error = ?e, "session lookup failed");
                return unavailable(&path);
            }
        },
    };

    let signed_in = current.is_some();
    let path_and_query = req.uri().path_and_query().map(|p| p.as_str().to_string()).unwrap_or_default();
    let is_get = req.method() == Method::GET;
    if is_get && !signed_in && (is_protected(&path) || path == "/") {
        let to = if path == "/" {
            "/sign-in".to_string()
        } else {
            let ended = if stale_cookie { "&ended=1" } else { "" };
            format!("/sign-in?return_to={}{ended}", app::sign_in::urlencode(&path_and_query))
        };
        return with_cookie_cleared(redirect(&to), stale_cookie);
    }
    // An Enterprise member without a second factor may only set one up (server functions refuse the
    // rest with a clear message; other settings pages send them to the security page).
    if is_get && current.as_ref().is_some_and(|s| s.must_set_up_second_factor()) && is_protected(&path) && path != "/settings/security" {
        return redirect("/settings/security");
    }
    if is_get && signed_in && (path == "/sign-in" || path == "/sign-up" || path == "/") {
        let return_to = req
            .uri()
            .query()
            .and_then(|q| form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "return_to").map(|(_, v)| v.into_owned()));
        return redirect(&app::nav::safe_return_to(return_to.as_deref()));
    }

    let client = client_info(&req, &state.config.site.trusted_proxies);
    let ext = req.extensions_mut();
    ext.insert(state.services.clone());
    ext.insert(state.geo.clone());
    ext.insert(CurrentSession(current));
    ext.insert(client);
    ext.insert(CookieMaxAge(state.config.session.longest_lifetime().whole_seconds()));
    // A stale cookie is cleared, unless the handler just set a fresh one (signed in again).
    with_cookie_cleared(next.run(req).await, stale_cookie)
}

fn with_cookie_cleared(mut res: Response, clear: bool) -> Response {
    if clear && !res.headers().contains_key(header::SET_COOKIE) {
        let v = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; Secure; SameSite=Lax; Max-Age=0");
        if let Ok(v) = HeaderValue::from_str(&v) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res
}

fn redirect(to: &str) -> Response {
    Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header(header::LOCATION, to)
        .body(Body::empty())
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

const UNAVAILABLE_TEXT: &str = "Gatehouse is temporarily unavailable. Please try again in a minute.";

/// 503 with a page a person can read (or the JSON error a server function's caller expects).
fn unavailable(path: &str) -> Response {
    let mut res = if path.starts_with("/api/") {
        let body = serde_json::to_string(&app::error::AppError::Unavailable).unwrap_or_default();
        (StatusCode::SERVICE_UNAVAILABLE, [(header::CONTENT_TYPE, "application/json")], body).into_response()
    } else {
        let html = format!(
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
             content=\"width=device-width, initial-scale=1\"><title>Temporarily unavailable · Gatehouse</title>\
             <link rel=\"stylesheet\" href=\"/pkg/gatehouse.css\"></head><body><main id=\"main\" class=\"page\">\
             <div class=\"error-page\"><h1>Temporarily unavailable</h1><p>{UNAVAILABLE_TEXT}</p>\
             <p><a href=\"{path}\">Try again</a></p></div></main></body></html>",
            path = if path.starts_with('/') && !path.starts_with("//") { path } else { "/" }
        );
        (StatusCode::SERVICE_UNAVAILABLE, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
    };
    res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(headers: &[(&str, &str)]) -> Request {
        let mut b = Request::builder().method("POST").uri("/api/auth/sign-in");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(Body::empty()).unwrap()
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let proxy = ip("10.0.0.2");
        let trusted = [proxy];
        // a client cannot choose its address
        assert_eq!(client_ip(Some(ip("203.0.113.5")), Some("1.2.3.4"), &trusted), Some(ip("203.0.113.5")));
        // behind the proxy: the right-most untrusted hop (what the proxy saw), not a spoofed left entry
        assert_eq!(client_ip(Some(proxy), Some("1.2.3.4, 198.51.100.7"), &trusted), Some(ip("198.51.100.7")));
        assert_eq!(client_ip(Some(proxy), Some("198.51.100.7, 10.0.0.2"), &trusted), Some(ip("198.51.100.7")));
        assert_eq!(client_ip(Some(proxy), None, &trusted), Some(proxy));
        assert_eq!(client_ip(Some(proxy), Some("garbage"), &trusted), Some(proxy));
        assert_eq!(client_ip(None, Some("1.2.3.4"), &trusted), None);
    }

    #[test]
    fn cross_site_rules() {
        let host = ("host", "127.0.0.1:3000");
        assert!(allowed(&req(&[host, ("origin", "http://127.0.0.1:3000")]), &[]));
        assert!(allowed(&req(&[host, ("origin", "http://127.0.0.1:3000"), ("sec-fetch-site", "same-origin")]), &[]));
        assert!(!allowed(&req(&[host, ("origin", "http://127.0.0.1:3000"), ("sec-fetch-site", "same-site")]), &[]));
        assert!(!allowed(&req(&[host, ("origin", "https://evil.example")]), &[]));
        assert!(!allowed(&req(&[host, ("origin", "http://127.0.0.1:3000.evil.example")]), &[]));
        assert!(!allowed(&req(&[host, ("origin", "null")]), &[]));
        assert!(!allowed(&req(&[host]), &[]), "no Origin: fail closed");
        assert!(!allowed(&req(&[host, ("sec-fetch-site", "same-origin")]), &[]), "no Origin: fail closed");
        let extra = vec!["https://gatehouse.example".to_string()];
        assert!(allowed(&req(&[("host", "internal:8080"), ("origin", "https://gatehouse.example")]), &extra));
    }
}
