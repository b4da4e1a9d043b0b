//! A fake identity provider for the server's tests (feature `idp`): Google (OpenID Connect) and
//! GitHub (OAuth 2) served inside the test process on a loopback port. It checks what a real
//! provider checks (client credentials, PKCE S256, single-use codes, the redirect URI), signs real
//! RS256 ID tokens, and misbehaves on request ([`Tweak`]) so every refusal can be tested. There is
//! no consent page: a test hands the authorization URL Gatehouse redirected to to
//! [`FakeIdp::approve`] or [`FakeIdp::deny`] and gets back the URL the browser would return to.
//! What the providers answer over HTTP is `endpoints`.
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::routing::{get, post};
use axum::Router;
use openidconnect::core::CoreRsaPrivateSigningKey;
use openidconnect::url::Url;
use openidconnect::JsonWebKeyId;
use sha2::{Digest, Sha256};

mod endpoints;

use endpoints::{github_emails, github_token, github_user, google_discovery, google_jwks, google_token};

/// TEST-ONLY RSA 2048 keys (`openssl genrsa -traditional 2048`), guarding nothing: the provider's
/// signing key, published at `/google/jwks`, and an impostor's, which signs the
/// [`Tweak::BadSignature`] tokens under the same key id.
const KEY_PEM: &str = include_str!("idp/key.pem");
const IMPOSTOR_KEY_PEM: &str = include_str!("idp/impostor_key.pem");
const KID: &str = "gatehouse-test-1";

/// A person who can sign in at the fake providers.
#[derive(Clone, Debug)]
pub struct Person {
    pub subject: String,
    pub github_id: u64,
    pub login: String,
    pub email: String,
    pub name: String,
    pub email_verified: bool,
}

impl Person {
    /// A person with a verified `email`; the Google subject, GitHub id, login and name are derived
    /// from it, so the same email is the same account in every test.
    pub fn new(email: &str) -> Person {
        let hash = Sha256::digest(email.as_bytes());
        let number = |at: usize| u64::from_be_bytes(hash[at..at + 8].try_into().unwrap());
        let local = email.split('@').next().unwrap_or(email);
        let login: String = local.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
        let name: Vec<String> = local.split(['.', '_', '-', '+']).filter(|w| !w.is_empty()).map(capitalized).collect();
        Person {
            subject: format!("1{:020}", number(0)), // Google's subjects are 21 digits
            github_id: number(8) % 1_000_000_000 + 1,
            login: login.trim_matches('-').to_string(),
            email: email.to_string(),
            name: name.join(" "),
            email_verified: true,
        }
    }
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// How the provider misbehaves for one consent. Google's tweaks change the ID token; GitHub's
/// change its answers. A tweak for the other provider changes nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tweak {
    None,
    /// `nonce` is not the one in the authorization URL.
    WrongNonce,
    /// `aud` is `["someone-else"]`.
    WrongAudience,
    /// `iss` is `https://evil.example`.
    WrongIssuer,
    /// Issued two hours ago, expired an hour ago.
    Expired,
    /// Signed by another RSA key under the published key's `kid`.
    BadSignature,
    /// `azp` is `someone-else` while `aud` is still `[CLIENT_ID]`. openidconnect 4 does NOT check
    /// `azp` (`claims()` accepts this token): the caller must compare `authorized_party()` itself.
    WrongAzp,
    /// A valid code answers GitHub's error body, with status 200 as GitHub does.
    GithubErrorWith200,
    /// `/user/emails` lists the primary address as unverified.
    GithubNoVerifiedPrimary,
    /// Google answers from a session it already had: asked for `max_age`, its `auth_time` says the
    /// person signed in an hour ago (what a `prompt=login` taken out of the address gets).
    StaleSession,
    /// Google leaves `auth_time` out even when asked for `max_age` (an app without "Session age
    /// claims").
    NoAuthTime,
    /// GitHub's `/user/emails` answers 502 (GitHub having a bad moment).
    GithubEmailsDown,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Provider {
    Google,
    Github,
}

/// One consent: what the authorization URL asked for, kept until its code is redeemed, then kept
/// under the access token it bought.
#[derive(Clone)]
struct Grant {
    provider: Provider,
    who: Person,
    tweak: Tweak,
    redirect_uri: String,
    code_challenge: String,
    scope: String,
    nonce: Option<String>,
    /// When the person signed in, as the ID token's `auth_time` (Google, when asked for `max_age`):
    /// the consent's time, or an hour before it with [`Tweak::StaleSession`].
    auth_time: Option<i64>,
}

/// What the routes and the [`FakeIdp`] handle share.
struct Shared {
    base: String,
    key: CoreRsaPrivateSigningKey,
    impostor: CoreRsaPrivateSigningKey,
    codes: Mutex<HashMap<String, Grant>>,
    tokens: Mutex<HashMap<String, Grant>>,
    issued: AtomicUsize,
    token_requests: AtomicUsize,
}

/// The fake Google and GitHub, serving on `127.0.0.1` until dropped (or until the test's runtime ends).
pub struct FakeIdp {
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeIdp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeIdp {
    pub const CLIENT_ID: &'static str = "gatehouse-test";
    pub const GOOGLE_SECRET: &'static str = "google-test-secret";
    pub const GITHUB_SECRET: &'static str = "github-test-secret";

    /// Binds 127.0.0.1:0 and serves in a tokio task.
    pub async fn start() -> FakeIdp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port for the fake IdP");
        let key = |pem| CoreRsaPrivateSigningKey::from_pem(pem, Some(JsonWebKeyId::new(KID.into()))).expect("the test RSA key");
        let shared = Arc::new(Shared {
            base: format!("http://{}", listener.local_addr().unwrap()),
            key: key(KEY_PEM),
            impostor: key(IMPOSTOR_KEY_PEM),
            codes: Mutex::default(),
            tokens: Mutex::default(),
            issued: AtomicUsize::new(0),
            token_requests: AtomicUsize::new(0),
        });
        let app = Router::new()
            .route("/google/.well-known/openid-configuration", get(google_discovery))
            .route("/google/jwks", get(google_jwks))
            .route("/google/token", post(google_token))
            .route("/github/login/oauth/access_token", post(github_token))
            .route("/github/api/user", get(github_user))
            .route("/github/api/user/emails", get(github_emails))
            .with_state(shared.clone());
        let server = tokio::spawn(async move { axum::serve(listener, app).await.expect("the fake IdP stopped") });
        FakeIdp { shared, server }
    }

    pub fn google_issuer(&self) -> String {
        format!("{}/google", self.shared.base)
    }
    pub fn github_authorize_url(&self) -> String {
        format!("{}/github/login/oauth/authorize", self.shared.base)
    }
    pub fn github_token_url(&self) -> String {
        format!("{}/github/login/oauth/access_token", self.shared.base)
    }
    pub fn github_api_url(&self) -> String {
        format!("{}/github/api", self.shared.base)
    }

    /// The person consents: registers a one-time code for `who` with `tweak` and answers the URL
    /// the browser is sent back to, `{redirect_uri}?code=…&state=…`. Panics (a failed test of
    /// Gatehouse) when the authorization URL lacks state, PKCE S256 or, for Google, a nonce.
    pub fn approve(&self, authorization_url: &str, who: &Person, tweak: Tweak) -> String {
        let (grant, state) = self.authorization(authorization_url, who, tweak);
        let code = self.shared.fresh("code-");
        let back = back_to(&grant.redirect_uri, &[("code", &code), ("state", &state)]);
        self.shared.codes.lock().unwrap().insert(code, grant);
        back
    }

    /// The person clicks Cancel: `{redirect_uri}?error=access_denied&error_description=…&state=…`.
    pub fn deny(&self, authorization_url: &str) -> String {
        let (grant, state) = self.authorization(authorization_url, &Person::new("nobody@example.com"), Tweak::None);
        let why = "The user denied the request.";
        back_to(&grant.redirect_uri, &[("error", "access_denied"), ("error_description", why), ("state", &state)])
    }

    /// How many token requests arrived at either provider (a refused callback must never get there).
    pub fn token_requests(&self) -> usize {
        self.shared.token_requests.load(Ordering::SeqCst)
    }

    /// Reads an authorization URL as the provider would, panicking on what a real one refuses.
    fn authorization(&self, url: &str, who: &Person, tweak: Tweak) -> (Grant, String) {
        let parsed = Url::parse(url).unwrap_or_else(|e| panic!("not a URL ({e}): {url}"));
        let provider = match (parsed.origin().ascii_serialization() == self.shared.base, parsed.path()) {
            (true, "/google/authorize") => Provider::Google,
            (true, "/github/login/oauth/authorize") => Provider::Github,
            _ => panic!("not an authorization endpoint of this fake IdP ({}): {url}", self.shared.base),
        };
        let params: HashMap<String, String> = parsed.query_pairs().into_owned().collect();
        let param = |name: &str| params.get(name).filter(|v| !v.is_empty()).cloned();
        let require = |name: &str, why: &str| param(name).unwrap_or_else(|| panic!("the authorization URL has no {name} ({why}): {url}"));
        assert_eq!(require("client_id", "who asks"), Self::CLIENT_ID, "wrong client_id in {url}");
        assert_eq!(param("response_type").as_deref(), Some("code"), "response_type must be code: {url}");
        let state = require("state", "CSRF protection");
        let method = require("code_challenge_method", "PKCE");
        assert_eq!(method, "S256", "PKCE must use S256, not {method}: {url}");
        let scope = param("scope").unwrap_or_default();
        let nonce = (provider == Provider::Google).then(|| require("nonce", "ID token replay protection"));
        if provider == Provider::Google {
            assert!(scope.split(' ').any(|s| s == "openid"), "an OpenID Connect request needs the openid scope: {url}");
        }
        let signed_in = if tweak == Tweak::StaleSession { unix_now() - 3600 } else { unix_now() };
        let auth_time = (provider == Provider::Google && param("max_age").is_some() && tweak != Tweak::NoAuthTime).then_some(signed_in);
        let grant = Grant {
            provider,
            who: who.clone(),
            tweak,
            redirect_uri: require("redirect_uri", "where to return"),
            code_challenge: require("code_challenge", "PKCE"),
            scope,
            nonce,
            auth_time,
        };
        (grant, state)
    }
}

/// `redirect_uri` with `pairs` added to its query.
fn back_to(redirect_uri: &str, pairs: &[(&str, &str)]) -> String {
    let mut url = Url::parse(redirect_uri).unwrap_or_else(|e| panic!("redirect_uri is not a URL ({e}): {redirect_uri}"));
    url.query_pairs_mut().extend_pairs(pairs);
    url.to_string()
}

fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

impl Shared {
    /// A new code or token: unique per provider instance (they guard only test data).
    fn fresh(&self, prefix: &str) -> String {
        format!("{prefix}{:06}", self.issued.fetch_add(1, Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests;
