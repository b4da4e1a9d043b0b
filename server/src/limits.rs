//! Request rate limits per client network on the anonymous endpoints, and on the signed-in ones
//! that hash a password (GCRA buckets from the `governor` crate), answered with 429,
//! `Retry-After` and a sentence the page shows (a provider's return, which is the browser's page
//! itself: a 303 to a page that says it, with `Retry-After`).
use std::num::NonZeroU32;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use domain::request::ClientInfo;
use domain::network::ClientNetwork;
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use app::model::ProviderKind;
use app::server::CurrentSession;
use app::sign_in::providers::ProviderOutcome;
use axum::response::IntoResponse;
use domain::kinds::FlowIntent;

use crate::config::LimitsConfig;
use crate::AppState;

/// The endpoints a person reaches without a session that cost real work or are worth guessing at.
/// Those that send email (sign-up, forgot password) or use an emailed link are here too, and the
/// signed-in ones that hash a password: each costs a hash whatever the account's throttle says (a
/// throttled guess is hashed too, so it answers like a wrong one; a right one resets the throttle),
/// so without a budget one signed-in client could keep every hashing thread busy and every sign-in
/// answering 503.
const PASSWORD_PATHS: &[&str] = &[
    "/api/auth/sign-in",
    "/api/auth/sign-up",
    "/api/auth/second-step",
    "/api/auth/sign-up/link",
    "/api/auth/sign-up/finish",
    "/api/auth/sign-up/passkey/begin",
    "/api/auth/sign-up/passkey/finish",
    "/api/auth/forgot-password",
    "/api/auth/reset-password/link",
    "/api/auth/reset-password",
    "/api/auth/not-me/link",
    "/api/auth/not-me",
    "/api/auth/not-me/confirm",
    "/api/security/reverify",
    "/api/security/password/change",
    "/api/security/password/set",
];
/// Looser: the sign-in page begins a passkey ceremony on every load (for autofill). Provider
/// sign-ins share this budget (each start stores a flow and may call the provider).
const PASSKEY_PATHS: &[&str] = &[
    "/api/auth/passkey/begin",
    "/api/auth/passkey/finish",
    "/api/auth/provider/start",
    "/auth/google/callback",
    "/auth/github/callback",
];

/// One budget per client network for each group of endpoints.
pub struct RateLimits {
    password: DefaultKeyedRateLimiter<ClientNetwork>,
    passkey: DefaultKeyedRateLimiter<ClientNetwork>,
}

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RateLimits({} + {} networks)", self.password.len(), self.passkey.len())
    }
}

fn quota(per_minute: u32, burst: u32) -> Quota {
    let one = NonZeroU32::MIN;
    Quota::per_minute(NonZeroU32::new(per_minute).unwrap_or(one)).allow_burst(NonZeroU32::new(burst).unwrap_or(one))
}

impl RateLimits {
    pub fn new(cfg: &LimitsConfig) -> Self {
        Self {
            password: RateLimiter::keyed(quota(cfg.password_per_minute, cfg.password_burst)),
            passkey: RateLimiter::keyed(quota(cfg.passkey_per_minute, cfg.passkey_burst)),
        }
    }

    fn for_path(&self, path: &str) -> Option<&DefaultKeyedRateLimiter<ClientNetwork>> {
        if PASSWORD_PATHS.contains(&path) {
            Some(&self.password)
        } else if PASSKEY_PATHS.contains(&path) {
            Some(&self.passkey)
        } else {
            None
        }
    }

    /// Takes one request from the network's budget for `path`; `Err(seconds)` to wait when it is
    /// spent. Paths without a limit always pass.
    pub fn check(&self, path: &str, network: &ClientNetwork) -> Result<(), u64> {
        let Some(limiter) = self.for_path(path) else { return Ok(()) };
        limiter.check_key(network).map_err(|not_until| {
            let wait = not_until.wait_time_from(limiter.clock().now());
            wait.as_millis().div_ceil(1000).max(1) as u64
        })
    }

    /// Forgets networks whose budgets are full again (they would behave exactly as new ones), so
    /// memory follows the number of networks seen in the last minute or so, not since start-up.
    pub fn retain_recent(&self) {
        for limiter in [&self.password, &self.passkey] {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }

    /// Networks currently remembered (for tests and metrics).
    pub fn len(&self) -> usize {
        self.password.len() + self.passkey.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// How often `retain_recent` runs.
pub const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// Refuses a request to a limited endpoint whose client network spent its budget: 429 with
/// `Retry-After` and the JSON of `AppError::RateLimited` (the page shows its sentence), or for a
/// provider's return a 303 to sign-in or Security & Access saying so (`busy_return`), before any
/// hashing or database work. Runs inside the session middleware, which put the client's address
/// (from the socket, or from X-Forwarded-For of a trusted proxy) in the request.
pub async fn rate_limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let network = req.extensions().get::<ClientInfo>().map(ClientNetwork::of).unwrap_or(ClientNetwork::Unknown);
    // decoded, as the router reads it: /auth/g%6Fogle/callback is the Google callback too, and
    // must spend the same budget
    let path = percent_encoding::percent_decode_str(req.uri().path()).decode_utf8_lossy();
    match state.limits.check(&path, &network) {
        Ok(()) => next.run(req).await,
        Err(retry_after_seconds) => {
            tracing::debug!(path = %req.uri().path(), %network, retry_after_seconds, "rate limited");
            match provider_return(&path) {
                // (a browser back from Google or GitHub: a page that says so, not the JSON a page's
                // own request reads)
                Some(kind) => {
                    let signed_in = req.extensions().get::<CurrentSession>().is_some_and(|s| s.0.is_some());
                    busy_return(kind, signed_in, retry_after_seconds)
                }
                None => too_many_requests(retry_after_seconds),
            }
        }
    }
}

/// The provider whose return (`/auth/<provider>/callback`) `path` is.
fn provider_return(path: &str) -> Option<ProviderKind> {
    let slug = path.strip_prefix("/auth/")?.strip_suffix("/callback")?;
    ProviderKind::from_slug(slug)
}

/// To the page that says a provider's return came while the network's budget was spent: Security &
/// Access for a signed-in browser (a connection or a re-verification), sign-in otherwise: the page
/// `providers::outcome_page` gives a connection's outcome (nothing is read to know what the flow
/// was). The flow was not used, so starting again after a moment works.
fn busy_return(kind: ProviderKind, signed_in: bool, retry_after_seconds: u64) -> Response {
    let to = crate::providers::outcome_page(FlowIntent::Connect, false, kind, ProviderOutcome::Busy, signed_in);
    let mut res = axum::response::Redirect::to(&to).into_response();
    res.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(retry_after_seconds));
    res
}

fn too_many_requests(retry_after_seconds: u64) -> Response {
    crate::middleware::error_response(&app::error::AppError::RateLimited { retry_after_seconds })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_minute: u32, burst: u32) -> RateLimits {
        RateLimits::new(&LimitsConfig {
            password_per_minute: per_minute,
            password_burst: burst,
            passkey_per_minute: 60,
            passkey_burst: 1,
            ..Default::default()
        })
    }

    fn net(ip: &str) -> ClientNetwork {
        ClientNetwork::of_ip(Some(ip.parse().unwrap()))
    }

    #[test]
    fn a_spent_budget_says_how_long_to_wait_and_other_networks_and_paths_are_untouched() {
        let l = limits(2, 3);
        let a = net("203.0.113.7");
        for _ in 0..3 {
            assert_eq!(l.check("/api/auth/sign-in", &a), Ok(()));
        }
        // sign-in, sign-up and the second step share one budget; 2 per minute: one more in 30 s
        let wait = l.check("/api/auth/sign-up", &a).unwrap_err();
        assert!((29..=30).contains(&wait), "{wait}");
        assert_eq!(l.check("/api/auth/sign-in", &net("203.0.113.8")), Ok(()));
        assert_eq!(l.check("/api/auth/passkey/begin", &a), Ok(()), "passkeys have their own budget");
        assert!(l.check("/api/auth/passkey/finish", &a).is_err(), "begin and finish share it");
        assert_eq!(l.check("/api/security/overview", &a), Ok(()), "not a limited endpoint");
        assert_eq!(l.check("/sign-in", &a), Ok(()));
    }

    #[test]
    fn retain_recent_forgets_networks_whose_budget_is_full_again() {
        let l = limits(60_000, 1);
        for i in 0..50 {
            let _ = l.check("/api/auth/sign-in", &net(&format!("198.51.100.{i}")));
        }
        assert_eq!(l.len(), 50);
        std::thread::sleep(Duration::from_millis(20)); // 1 per ms: every budget is whole again
        l.retain_recent();
        assert!(l.is_empty(), "{l:?}");
    }
}
