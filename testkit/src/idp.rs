//! A fake identity provider for the server's tests (feature `idp`): Google (OpenID Connect) and
//! GitHub (OAuth 2) served inside the test process on a loopback port. It checks what a real
//! provider checks (client credentials, PKCE S256, single-use codes, the redirect URI), signs real
//! RS256 ID tokens, and misbehaves on request ([`Tweak`]) so every refusal can be tested. There is
//! no consent page: a test hands the authorization URL Gatehouse redirected to to
//! [`FakeIdp::approve`] or [`FakeIdp::deny`] and gets back the URL the browser would return to.
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use openidconnect::core::{CoreIdToken, CoreIdTokenClaims, CoreJsonWebKeySet, CoreJwsSigningAlgorithm, CoreRsaPrivateSigningKey};
use openidconnect::url::Url;
use openidconnect::{AccessToken, JsonWebKeyId, PrivateSigningKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

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

    /// Checks a token request (client credentials from HTTP Basic or the form, grant type, code,
    /// redirect URI, PKCE) and answers its grant, or the OAuth error code. A code is spent when it
    /// is presented, even by a request refused for another reason.
    fn redeem(&self, provider: Provider, headers: &HeaderMap, body: &str) -> Result<Grant, &'static str> {
        self.token_requests.fetch_add(1, Ordering::SeqCst);
        let form: HashMap<String, String> = openidconnect::url::form_urlencoded::parse(body.as_bytes()).into_owned().collect();
        let secret = if provider == Provider::Google { FakeIdp::GOOGLE_SECRET } else { FakeIdp::GITHUB_SECRET };
        let client = basic_credentials(headers).or_else(|| Some((form.get("client_id")?.clone(), form.get("client_secret")?.clone())));
        if client.as_ref().map(|(id, secret)| (id.as_str(), secret.as_str())) != Some((FakeIdp::CLIENT_ID, secret)) {
            return Err("invalid_client");
        }
        if form.get("grant_type").map(String::as_str) != Some("authorization_code") {
            return Err("unsupported_grant_type");
        }
        let code = form.get("code").cloned().unwrap_or_default();
        let grant = self.codes.lock().unwrap().remove(&code).filter(|g| g.provider == provider).ok_or("invalid_grant")?;
        let challenge = form.get("code_verifier").map(|v| URL_SAFE_NO_PAD.encode(Sha256::digest(v.as_bytes())));
        // GitHub lets the token request leave redirect_uri out; Google requires it.
        let redirect_ok = match form.get("redirect_uri") {
            Some(uri) => *uri == grant.redirect_uri,
            None => provider == Provider::Github,
        };
        if challenge.as_ref() != Some(&grant.code_challenge) || !redirect_ok {
            return Err("invalid_grant");
        }
        Ok(grant)
    }

    /// The ID token for a redeemed Google grant, signed RS256 and bent by its tweak.
    fn id_token(&self, grant: &Grant, access_token: &str) -> String {
        let (who, now) = (&grant.who, unix_now());
        let issuer = format!("{}/google", self.base);
        let mut claims = json!({
            "iss": issuer, "aud": [FakeIdp::CLIENT_ID], "azp": FakeIdp::CLIENT_ID, "sub": who.subject,
            "nonce": grant.nonce, "iat": now, "exp": now + 3600,
        });
        let scopes: Vec<&str> = grant.scope.split(' ').collect();
        if scopes.contains(&"email") {
            claims["email"] = json!(who.email);
            claims["email_verified"] = json!(who.email_verified);
        }
        if scopes.contains(&"profile") {
            claims["name"] = json!(who.name);
        }
        if let Some(at) = grant.auth_time {
            claims["auth_time"] = json!(at);
        }
        match grant.tweak {
            Tweak::WrongNonce => claims["nonce"] = json!("not-the-nonce-gatehouse-sent"),
            Tweak::WrongAudience => claims["aud"] = json!(["someone-else"]),
            Tweak::WrongIssuer => claims["iss"] = json!("https://evil.example"),
            Tweak::Expired => (claims["iat"], claims["exp"]) = (json!(now - 7200), json!(now - 3600)),
            Tweak::WrongAzp => claims["azp"] = json!("someone-else"),
            _ => {}
        }
        let claims: CoreIdTokenClaims = serde_json::from_value(claims).expect("well-formed ID token claims");
        let key = if grant.tweak == Tweak::BadSignature { &self.impostor } else { &self.key };
        let at = AccessToken::new(access_token.to_string());
        let token = CoreIdToken::new(claims, key, CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256, Some(&at), None);
        token.expect("sign the ID token").to_string()
    }

    /// The GitHub grant behind an API request's `Authorization: Bearer|token …`, or GitHub's refusal.
    fn github_caller(&self, headers: &HeaderMap) -> Result<Grant, Response> {
        if !headers.contains_key(header::USER_AGENT) {
            let why = "Request forbidden by administrative rules. Please make sure your request has a User-Agent header";
            return Err((StatusCode::FORBIDDEN, why).into_response());
        }
        let auth = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or_default();
        let token = auth.strip_prefix("Bearer ").or_else(|| auth.strip_prefix("token ")).unwrap_or_default();
        let grant = self.tokens.lock().unwrap().get(token).filter(|g| g.provider == Provider::Github).cloned();
        grant.ok_or_else(|| (StatusCode::UNAUTHORIZED, Json(json!({ "message": "Bad credentials" }))).into_response())
    }
}

/// `Authorization: Basic` client credentials (each part form-urlencoded, RFC 6749 §2.3.1).
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let encoded = headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Basic ")?;
    let decoded = String::from_utf8(STANDARD.decode(encoded).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |s: &str| openidconnect::url::form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned());
    Some((unescape(id)?, unescape(secret)?))
}

async fn google_discovery(State(s): State<Arc<Shared>>) -> Json<Value> {
    let issuer = format!("{}/google", s.base);
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["openid", "email", "profile"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
    }))
}

async fn google_jwks(State(s): State<Arc<Shared>>) -> Json<CoreJsonWebKeySet> {
    Json(CoreJsonWebKeySet::new(vec![s.key.as_verification_key()]))
}

async fn google_token(State(s): State<Arc<Shared>>, headers: HeaderMap, body: String) -> Response {
    let grant = match s.redeem(Provider::Google, &headers, &body) {
        Ok(grant) => grant,
        Err(error) => {
            let status = if error == "invalid_client" { StatusCode::UNAUTHORIZED } else { StatusCode::BAD_REQUEST };
            return (status, Json(json!({ "error": error }))).into_response();
        }
    };
    let access_token = s.fresh("ya29.test-");
    let id_token = s.id_token(&grant, &access_token);
    s.tokens.lock().unwrap().insert(access_token.clone(), grant);
    let scope = "openid email profile";
    Json(json!({ "access_token": access_token, "token_type": "Bearer", "expires_in": 3600, "id_token": id_token, "scope": scope })).into_response()
}

/// GitHub answers every token request with status 200, errors included.
async fn github_token(State(s): State<Arc<Shared>>, headers: HeaderMap, body: String) -> Json<Value> {
    match s.redeem(Provider::Github, &headers, &body) {
        Ok(grant) if grant.tweak != Tweak::GithubErrorWith200 => {
            let access_token = s.fresh("gho_test");
            s.tokens.lock().unwrap().insert(access_token.clone(), grant);
            Json(json!({ "access_token": access_token, "token_type": "bearer", "scope": "read:user,user:email" }))
        }
        _ => Json(json!({
            "error": "bad_verification_code",
            "error_description": "The code passed is incorrect or expired.",
            "error_uri": "https://docs.github.com/",
        })),
    }
}

async fn github_user(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    match s.github_caller(&headers) {
        Ok(Grant { who, .. }) => {
            Json(json!({ "id": who.github_id, "login": who.login, "name": who.name, "email": null, "avatar_url": null })).into_response()
        }
        Err(refusal) => refusal,
    }
}

/// Needs the `user:email` (or `user`) scope, as on GitHub: 404 without it.
async fn github_emails(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let grant = match s.github_caller(&headers) {
        Ok(grant) => grant,
        Err(refusal) => return refusal,
    };
    if !grant.scope.split([' ', ',']).any(|s| s == "user:email" || s == "user") {
        return (StatusCode::NOT_FOUND, Json(json!({ "message": "Not Found" }))).into_response();
    }
    if grant.tweak == Tweak::GithubEmailsDown {
        return (StatusCode::BAD_GATEWAY, "upstream unavailable").into_response();
    }
    let who = &grant.who;
    let verified = who.email_verified && grant.tweak != Tweak::GithubNoVerifiedPrimary;
    Json(json!([
        { "email": who.email, "primary": true, "verified": verified, "visibility": "private" },
        { "email": format!("{}@users.noreply.github.com", who.login), "primary": false, "verified": true, "visibility": null },
    ]))
    .into_response()
}

#[cfg(test)]
mod tests;
