//! The cross-site check: state-changing requests a browser sent from another site are refused,
//! and a server function's way back to its page (read from `Referer`) stays on this site.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::header::{self, HeaderValue};
use http::{Method, StatusCode};

use crate::AppState;

/// Refuses state-changing requests that a browser sent from another site. Leptos server functions
/// accept plain form posts, so without this any site could make a signed-in browser act.
///
/// Fetch metadata first (`Sec-Fetch-Site`, when sent, must be `same-origin` or `none`); then the
/// `Origin` must be exactly the site's public origin (`[passkeys] origin`: scheme, host and port) or
/// one of `[site] allowed_origins`. The request's Host is not consulted: behind a TLS-terminating
/// proxy it names the public host while the scheme is only known to the configuration, and
/// comparing with it would accept `http://` and `https://` alike. A request without an `Origin` is
/// refused: fail closed.
pub async fn cross_site_check(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    if allowed(&req, state.config.public_origin(), &state.config.site.allowed_origins) {
        let res = next.run(req).await;
        redirect_on_site(res, state.config.public_origin(), &state.config.site.allowed_origins)
    } else {
        state.refused_log.refused(req.uri().path());
        (StatusCode::FORBIDDEN, "Cross-site requests are not allowed.").into_response()
    }
}

/// A server function answering a form sent without JavaScript sends the browser back to the page
/// it came from, which Leptos reads from the request's `Referer`, as it is: a redirect to wherever
/// that header named. Only this site's pages (its origins, as the cross-site check takes them) are
/// kept, as a path; anything else goes home.
fn redirect_on_site(mut res: Response, site_origin: &str, extra_origins: &[String]) -> Response {
    let Some(to) = res.headers().get(header::LOCATION).and_then(|v| v.to_str().ok()) else { return res };
    let on_site = site_origins(site_origin, extra_origins).find_map(|origin| {
        let rest = to.get(origin.len()..)?;
        (to[..origin.len()].eq_ignore_ascii_case(origin) && rest.starts_with('/')).then_some(rest)
    });
    let path = on_site.unwrap_or(to);
    let kept = app::nav::safe_return_to(Some(path));
    if kept != to {
        if let Ok(v) = HeaderValue::from_str(&kept) {
            res.headers_mut().insert(header::LOCATION, v);
        }
    }
    res
}

/// Refused cross-site requests, logged at `warn` at most once a minute with how many were refused
/// since the line before: anyone can send them, and a line each let anyone fill the log (a
/// deployment whose origin is misconfigured, every POST refused, still shows at once). One per
/// application (`AppState`).
#[derive(Clone, Default)]
pub struct RefusedLog(std::sync::Arc<(std::sync::atomic::AtomicU64, std::sync::atomic::AtomicU64)>);

impl RefusedLog {
    fn refused(&self, path: &str) {
        use std::sync::atomic::Ordering::Relaxed;
        let (last_line, unlogged) = &*self.0;
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let last = last_line.load(Relaxed);
        if (last == 0 || now >= last + 60) && last_line.compare_exchange(last, now, Relaxed, Relaxed).is_ok() {
            let also = unlogged.swap(0, Relaxed);
            tracing::warn!(path, refused_since_last_line = also, "cross-site request refused (at most one line a minute)");
        } else {
            unlogged.fetch_add(1, Relaxed);
        }
    }
}

/// `site_origin` and `extra_origins` are normalised origins (see `Config::public_origin`).
fn allowed(req: &Request, site_origin: &str, extra_origins: &[String]) -> bool {
    let headers = req.headers();
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        if !matches!(site, "same-origin" | "none") {
            return false;
        }
    }
    // exactly one Origin (a browser never sends two)
    let mut origins = headers.get_all(header::ORIGIN).iter();
    let (Some(origin), None) = (origins.next().and_then(|v| v.to_str().ok()), origins.next()) else {
        return false;
    };
    site_origins(site_origin, extra_origins).any(|o| o.eq_ignore_ascii_case(origin))
}

/// This site's origins: the public one, then `[site] allowed_origins`.
fn site_origins<'a>(site_origin: &'a str, extra_origins: &'a [String]) -> impl Iterator<Item = &'a str> {
    std::iter::once(site_origin).chain(extra_origins.iter().map(String::as_str))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::middleware::test_request as req;

    #[test]
    fn cross_site_rules() {
        let site = "http://127.0.0.1:3000";
        let host = ("host", "127.0.0.1:3000");
        assert!(allowed(&req(&[host, ("origin", "http://127.0.0.1:3000")]), site, &[]));
        assert!(allowed(&req(&[host, ("origin", "http://127.0.0.1:3000"), ("sec-fetch-site", "same-origin")]), site, &[]));
        assert!(!allowed(&req(&[host, ("origin", "http://127.0.0.1:3000"), ("sec-fetch-site", "same-site")]), site, &[]));
        assert!(!allowed(&req(&[host, ("origin", "https://evil.example")]), site, &[]));
        assert!(!allowed(&req(&[host, ("origin", "http://127.0.0.1:3000.evil.example")]), site, &[]));
        assert!(!allowed(&req(&[host, ("origin", "null")]), site, &[]));
        assert!(!allowed(&req(&[host]), site, &[]), "no Origin: fail closed");
        assert!(!allowed(&req(&[host, ("sec-fetch-site", "same-origin")]), site, &[]), "no Origin: fail closed");
        assert!(
            !allowed(&req(&[host, ("origin", "http://127.0.0.1:3000"), ("origin", "https://evil.example")]), site, &[]),
            "two Origins: fail closed"
        );
        let extra = vec!["https://gatehouse.example".to_string()];
        assert!(allowed(&req(&[("host", "internal:8080"), ("origin", "https://gatehouse.example")]), site, &extra));
    }

    #[test]
    fn the_origin_must_have_the_sites_scheme() {
        let host = ("host", "gatehouse.example");
        // an https site refuses its http twin, even though the Host matches
        assert!(allowed(&req(&[host, ("origin", "https://gatehouse.example")]), "https://gatehouse.example", &[]));
        assert!(!allowed(&req(&[host, ("origin", "http://gatehouse.example")]), "https://gatehouse.example", &[]));
        // and an http site its https twin
        assert!(allowed(&req(&[host, ("origin", "http://gatehouse.example")]), "http://gatehouse.example", &[]));
        assert!(!allowed(&req(&[host, ("origin", "https://gatehouse.example")]), "http://gatehouse.example", &[]));
        // behind a TLS-terminating proxy the Host may be anything: the configured origin decides
        assert!(allowed(&req(&[("host", "10.0.0.5:3000"), ("origin", "https://gatehouse.example")]), "https://gatehouse.example", &[]));
        assert!(!allowed(&req(&[("host", "evil.example"), ("origin", "https://evil.example")]), "https://gatehouse.example", &[]));
    }

    #[test]
    fn the_origin_must_have_the_sites_exact_host_and_port() {
        let site = "https://gatehouse.example";
        for other in [
            "https://sub.gatehouse.example",
            "https://gatehouse.example.evil",
            "https://xgatehouse.example",
            "https://gatehouse.example:8443",
            "https://gatehouse.example:443",
            "https://gatehouse.example/",
        ] {
            assert!(!allowed(&req(&[("host", "gatehouse.example"), ("origin", other)]), site, &[]), "{other}");
        }
        let site = "http://localhost:3000";
        assert!(allowed(&req(&[("host", "localhost:3000"), ("origin", "http://localhost:3000")]), site, &[]));
        assert!(!allowed(&req(&[("host", "localhost:3001"), ("origin", "http://localhost:3001")]), site, &[]));
        assert!(!allowed(&req(&[("host", "localhost"), ("origin", "http://localhost")]), site, &[]));
        // an extra origin counts with its own port only
        let extra = vec!["https://other.example:8443".to_string()];
        assert!(allowed(&req(&[("origin", "https://other.example:8443")]), site, &extra));
        assert!(!allowed(&req(&[("origin", "https://other.example")]), site, &extra));
    }
}
