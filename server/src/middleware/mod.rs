//! Middleware: security headers, the cross-site check (`cross_site`), and session resolution.

mod cross_site;
pub mod no_script;

pub use cross_site::{cross_site_check, RefusedLog};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::header::{self, HeaderValue};
use http::{Method, StatusCode};

use app::server::cookies::SESSION;
use app::server::{CookieMaxAge, CurrentSession};
use domain::secret::SessionToken;
use domain::DomainError;

use crate::AppState;

/// Static files served from the site root: no session, no database, cacheable.
fn is_static(path: &str) -> bool {
    path.starts_with("/pkg/") || path == "/favicon.svg" || path == "/favicon.ico" || path == "/healthz"
}

/// `Strict-Transport-Security` when the public origin is https: two years, subdomains included.
pub const HSTS: &str = "max-age=63072000; includeSubDomains";

/// Headers on every response. An HTML answer (a page, or the unavailable page) gets the page CSP
/// (`app::server::page_csp`) with the nonce this middleware chose for the request before the page
/// rendered (handed to the page in the request's extensions: `app::server::provide_nonce`), so
/// the header never depends on what the render did; every other answer gets a CSP that allows
/// nothing to run (the email previews set their own). When the configured public origin is
/// https, every response also carries HSTS (decided by the configuration, not by the request: behind
/// a TLS-terminating proxy the request itself arrives over plain http).
pub async fn security_headers(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    // (for every request: a built file that is missing is answered with the not-found page)
    let nonce = leptos::nonce::Nonce::new();
    req.extensions_mut().insert(nonce.clone());
    let mut res = next.run(req).await;
    let is_page = res.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    let page_csp = is_page.then(|| HeaderValue::from_str(&app::server::page_csp(&nonce)).ok()).flatten();
    let h = res.headers_mut();
    if state.config.is_https() {
        h.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(HSTS));
    }
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    // (the email previews, framed by /previews, set SAMEORIGIN themselves)
    h.entry("x-frame-options").or_insert(HeaderValue::from_static("DENY"));
    // the pages emailed links open carry their token in the URL: it is never sent on as a Referer
    // (nor from their address with a slash at its end, which `session` sends on to theirs)
    let policy = if is_link_page(&path) { "no-referrer" } else { "strict-origin-when-cross-origin" };
    h.insert("referrer-policy", HeaderValue::from_static(policy));
    h.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    h.insert("cross-origin-resource-policy", HeaderValue::from_static("same-origin"));
    h.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
    );
    h.entry(header::CONTENT_SECURITY_POLICY).or_insert(page_csp.unwrap_or(HeaderValue::from_static(
        "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    )));
    // pages and API answers are never kept; the built files are (see crate::assets)
    let found = res.status().is_success() || res.status() == StatusCode::NOT_MODIFIED;
    let h = res.headers_mut();
    let cache = match path.as_str() {
        p if p.starts_with("/pkg/") && found => state.assets.cache_control(p),
        "/favicon.svg" | "/favicon.ico" if found => "public, max-age=86400",
        _ => "no-store",
    };
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if path.starts_with("/pkg/") {
        // the same URL answers brotli, gzip or plain, by the request's Accept-Encoding
        h.append(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    res
}

/// Marks a response the compression layer leaves as it is.
#[derive(Clone, Copy, Debug)]
pub struct Uncompressed;

/// Answers that carry a secret (a new authenticator's key, backup codes) are sent uncompressed:
/// compressed, their length could tell an attacker who can add text of their own to the same
/// response something about the secret (BREACH). Nothing else the site sends holds a secret.
pub async fn keep_secrets_uncompressed(req: Request, next: Next) -> Response {
    let secret = matches!(
        req.uri().path(),
        "/api/security/two-factor/begin"
            | "/api/security/two-factor/finish"
            | "/api/security/two-factor/change/begin"
            | "/api/security/two-factor/backup-codes"
    );
    let mut res = next.run(req).await;
    if secret {
        res.extensions_mut().insert(Uncompressed);
    }
    res
}

fn session_cookie(req: &Request) -> Option<SessionToken> {
    SESSION.read(req.headers()).map(SessionToken::from_cookie)
}

/// An action's error in a page's address (`__err`, with the server function's `__path`): Leptos
/// shows it as that action's own error, for a form sent without JavaScript, which the server
/// function sends back to its page with it: a navigation from this site (`Sec-Fetch-Site:
/// same-origin`, the whole redirect included). In a link from anywhere else it is text someone
/// chose, shown in the page's own error box ("Your account is locked, call …"): answers the
/// address without it, to send the browser to (which also keeps the hydrated page from reading it).
fn without_foreign_action_error(req: &Request) -> Option<String> {
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return None;
    }
    let action_error = |k: &str| k == "__err" || k == "__path";
    let pairs: Vec<(String, String)> = form_urlencoded::parse(req.uri().query()?.as_bytes()).into_owned().collect();
    if !pairs.iter().any(|(k, _)| action_error(k)) || req.headers().get("sec-fetch-site").is_some_and(|v| v == "same-origin") {
        return None;
    }
    let kept = form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs.iter().filter(|(k, _)| !action_error(k))).finish();
    let to = if kept.is_empty() { req.uri().path().to_string() } else { format!("{}?{kept}", req.uri().path()) };
    // (a path that would read as another host, `//host`, goes home instead)
    Some(app::nav::safe_return_to(Some(&to)))
}

/// The pages an emailed link opens, with its token in their address.
fn is_link_page(path: &str) -> bool {
    matches!(path.trim_end_matches('/'), "/sign-up/finish" | "/reset-password" | "/this-wasnt-me")
}

/// A page's address with a slash at its end (`/reset-password/?token=…`): the address without
/// it, query kept, to send the browser to. The router draws the same page for both, but only the
/// exact address is a page: the other answered 404 around a working form. (A path that would then
/// read as another host, `//host/`, goes home instead.)
fn without_trailing_slash(req: &Request) -> Option<String> {
    let path = req.uri().path();
    if !matches!(*req.method(), Method::GET | Method::HEAD) || path == "/" || !path.ends_with('/') || path.starts_with("/api/") {
        return None;
    }
    let trimmed = match path.trim_end_matches('/') {
        "" => "/",
        // (Settings has one page: straight there, as from `/settings`)
        "/settings" => app::nav::HOME,
        p => p,
    };
    let to = match req.uri().query() {
        Some(q) => format!("{trimmed}?{q}"),
        None => trimmed.to_string(),
    };
    Some(app::nav::safe_return_to(Some(&to)))
}

/// Pages only signed-in people may see.
fn is_protected(path: &str) -> bool {
    path == "/settings" || path.starts_with("/settings/")
}

/// Recent security activity's downloads (`crate::activity`), files rather than pages.
fn is_download(path: &str) -> bool {
    path.starts_with("/settings/security/activity.")
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
    if (path == "/previews" || path.starts_with("/previews/")) && !state.config.previews.enabled {
        return (StatusCode::NOT_FOUND, "Not found").into_response();
    }
    if let Some(clean) = without_trailing_slash(&req).or_else(|| without_foreign_action_error(&req)) {
        return redirect(&clean);
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
            Err(DomainError::Unavailable) => return unavailable(&path, &state.assets.files.stylesheet),
            Err(e) => {
                let reference = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
                tracing::error!(reference = %reference, error = ?e, "session lookup failed");
                return unavailable(&path, &state.assets.files.stylesheet);
            }
        },
    };

    let signed_in = current.is_some();
    let path_and_query = req.uri().path_and_query().map(|p| p.as_str().to_string()).unwrap_or_default();
    // (HEAD is a GET without the body: the same rules, or it reached what they keep from GET)
    let is_get = matches!(*req.method(), Method::GET | Method::HEAD);
    // Settings has one page: its own address goes there (`/settings/` did already, above)
    if is_get && path == "/settings" {
        return redirect(app::nav::HOME);
    }
    if is_get && !signed_in && (is_protected(&path) || path == "/") {
        let to = if path == "/" {
            "/sign-in".to_string()
        } else {
            // (a download comes back to the page it is on: after the sign-in, the browser's own
            // navigation to a file would find no page there)
            let back = if is_download(&path) { app::nav::HOME } else { path_and_query.as_str() };
            let ended = if stale_cookie { "&ended=1" } else { "" };
            format!("/sign-in?return_to={}{ended}", app::sign_in::urlencode(back))
        };
        return with_cookie_cleared(redirect(&to), stale_cookie);
    }
    // An Enterprise member without a second factor may only set one up (server functions refuse the
    // rest with a clear message; other settings pages send them to the security page). The
    // security page lists their activity, and its downloads are that list: a file, never the
    // page's HTML saved under a file's name.
    if is_get
        && current.as_ref().is_some_and(|s| s.must_set_up_second_factor())
        && is_protected(&path)
        && path != "/settings/security"
        && !is_download(&path)
    {
        return redirect("/settings/security");
    }
    if is_get && signed_in && (path == "/sign-in" || path == "/sign-up" || path == "/") {
        let return_to = req
            .uri()
            .query()
            .and_then(|q| form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "return_to").map(|(_, v)| v.into_owned()));
        return redirect(&app::nav::safe_return_to(return_to.as_deref()));
    }

    let client = crate::client_address::client_info(&req, &state.config.site.trusted_proxies);
    let account = current.as_ref().map(|s| s.user_id);
    let ext = req.extensions_mut();
    ext.insert(state.services.clone());
    ext.insert(state.geo.clone());
    ext.insert(CurrentSession(current));
    ext.insert(client);
    ext.insert(CookieMaxAge(state.config.session.longest_lifetime().whole_seconds()));
    // A stale cookie is cleared, unless the handler just set a fresh one (signed in again).
    let res = with_cookie_cleared(next.run(req).await, stale_cookie);
    // A signed-in request that may have changed sessions (anything but a GET: signing out,
    // revoking, a new password) leaves none of the account's in this instance's cache, so the next
    // request here never races Postgres' announcement of the change (which reaches every other
    // instance). The anonymous ones that end sessions (a reset link, "This wasn't me") forget
    // their account themselves once committed; any other anonymous request leaves the cache
    // alone (forgetting everything at each one let any client, with a stream of made-up POSTs,
    // make every signed-in request of the instance ask Postgres).
    if let (false, Some(account)) = (is_get, account) {
        state.services.session_cache.forget_account(account);
    }
    res
}

fn with_cookie_cleared(mut res: Response, clear: bool) -> Response {
    if clear && !res.headers().contains_key(header::SET_COOKIE) {
        let v = SESSION.clear();
        if let Ok(v) = HeaderValue::from_str(&v) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res
}

/// A request body over `[site] max_body_bytes` is answered 413 before any handler runs (the body
/// limit layers). To a server function's caller that answer says `AppError::TooLarge`, in the JSON
/// the page reads, rather than the framework's plain text (which the page could only call "not
/// understood, reload": reloading would not help). A body sent without a Content-Length (chunked)
/// is read here, up to the limit, first: past the limit inside the server function it would end as
/// an unreadable argument ("reload the page").
pub async fn explain_too_large(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let api = req.uri().path().starts_with("/api/");
    let req = if api && !req.headers().contains_key(header::CONTENT_LENGTH) && !matches!(*req.method(), Method::GET | Method::HEAD) {
        let (parts, body) = req.into_parts();
        match axum::body::to_bytes(body, state.config.site.max_body_bytes).await {
            Ok(bytes) => Request::from_parts(parts, Body::from(bytes)),
            Err(e) if is_length_limit(&e) => return error_response(&app::error::AppError::TooLarge),
            // (the client went away or sent a broken body)
            Err(_) => return error_response(&app::error::AppError::BadRequest),
        }
    } else {
        req
    };
    let res = next.run(req).await;
    if api && res.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return error_response(&app::error::AppError::TooLarge);
    }
    res
}

fn is_length_limit(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = err.source();
    }
    false
}

/// An `AppError` answered by the server itself, as the server functions answer it: its JSON,
/// its status (`AppError::status`, the one table) and `Retry-After` when it says how long to wait.
pub(crate) fn error_response(err: &app::error::AppError) -> Response {
    let body = serde_json::to_string(err).unwrap_or_default();
    let status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut res = (status, [(header::CONTENT_TYPE, "application/json")], body).into_response();
    if let Some(seconds) = err.retry_after_seconds() {
        res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
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

/// 503 with a page a person can read (or the JSON error a server function's caller expects). The
/// page links back to the request's path, escaped for the attribute (it is the client's text), and
/// only to a path on this site.
fn unavailable(path: &str, stylesheet: &str) -> Response {
    let mut res = if path.starts_with("/api/") {
        error_response(&app::error::AppError::Unavailable)
    } else {
        plain_page(StatusCode::SERVICE_UNAVAILABLE, stylesheet, "Temporarily unavailable", UNAVAILABLE_TEXT, (path, "Try again"))
    };
    res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    res
}

/// A page of one heading, one sentence and one link back (`back`: a path of this site, the
/// client's text, escaped for the attribute; anything else links home), for answers the app
/// cannot render (the database is down, a form came without JavaScript).
pub(crate) fn plain_page(status: StatusCode, stylesheet: &str, title: &str, sentence: &str, (back, link): (&str, &str)) -> Response {
    // ("//x" and "/\x" are other sites to a browser)
    let back = if back.starts_with('/') && !back.starts_with("//") && !back.starts_with("/\\") {
        html_escape::encode_double_quoted_attribute(back)
    } else {
        "/".into()
    };
    let html = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
         content=\"width=device-width, initial-scale=1\"><title>{title} · Gatehouse</title>\
         <link rel=\"stylesheet\" href=\"{stylesheet}\"></head><body><main id=\"main\" class=\"page\">\
         <div class=\"error-page\"><h1>{title}</h1><p>{sentence}</p>\
         <p><a href=\"{back}\">{link}</a></p></div></main></body></html>"
    );
    (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
}

/// A sign-in POST with these headers, for the unit tests of the request middleware.
#[cfg(test)]
pub(crate) fn test_request(headers: &[(&str, &str)]) -> Request {
    let mut b = Request::builder().method("POST").uri("/api/auth/sign-in");
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Body::empty()).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_unavailable_page_escapes_the_path_it_links_back_to() {
        use http_body_util::BodyExt;
        let page = |path: &'static str| async move {
            let res = unavailable(path, "/pkg/gatehouse.css");
            assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
            String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
        };
        let html = page("/x\"><script>alert(1)</script>").await;
        assert!(!html.contains("<script"), "{html}");
        assert!(html.contains("<a href=\"/x&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;\">Try again</a>"), "{html}");
        assert!(page("/settings/security").await.contains("<a href=\"/settings/security\">"));
        // only paths on this site
        for elsewhere in ["//evil.example/x", "/\\evil.example", "https://evil.example/"] {
            assert!(page(elsewhere).await.contains("<a href=\"/\">Try again</a>"), "{elsewhere}");
        }
    }
}
