//! What the fake providers answer over HTTP: Google's discovery document, keys and token endpoint,
//! GitHub's token endpoint and API, each checking a request as the real one does.
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use openidconnect::core::{CoreIdToken, CoreIdTokenClaims, CoreJsonWebKeySet, CoreJwsSigningAlgorithm};
use openidconnect::{AccessToken, PrivateSigningKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::{unix_now, FakeIdp, Grant, Provider, Shared, Tweak};

impl Shared {
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

pub(super) async fn google_discovery(State(s): State<Arc<Shared>>) -> Json<Value> {
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

pub(super) async fn google_jwks(State(s): State<Arc<Shared>>) -> Json<CoreJsonWebKeySet> {
    Json(CoreJsonWebKeySet::new(vec![s.key.as_verification_key()]))
}

pub(super) async fn google_token(State(s): State<Arc<Shared>>, headers: HeaderMap, body: String) -> Response {
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
pub(super) async fn github_token(State(s): State<Arc<Shared>>, headers: HeaderMap, body: String) -> Json<Value> {
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

pub(super) async fn github_user(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    match s.github_caller(&headers) {
        Ok(Grant { who, .. }) => {
            Json(json!({ "id": who.github_id, "login": who.login, "name": who.name, "email": null, "avatar_url": null })).into_response()
        }
        Err(refusal) => refusal,
    }
}

/// Needs the `user:email` (or `user`) scope, as on GitHub: 404 without it.
pub(super) async fn github_emails(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
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
