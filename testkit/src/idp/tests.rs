//! The fake providers, driven by `openidconnect` and `oauth2` exactly as a real client drives Google
//! and GitHub: what succeeds, and that every tweak and bad request is refused.
use std::collections::HashMap;

use oauth2::basic::BasicClient;
use oauth2::{AuthUrl, RequestTokenError, TokenUrl};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreErrorResponseType, CoreProviderMetadata, CoreTokenResponse};
use openidconnect::{
    AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet, EndpointSet,
    IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use serde_json::{json, Value};

use super::{FakeIdp, Person, Tweak};

const CALLBACK: &str = "http://gatehouse.test/auth/callback?provider=x";

type GoogleClient = CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointMaybeSet, EndpointMaybeSet>;

/// Gatehouse's HTTP client: redirects are never followed.
fn http() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// The query of the URL the browser comes back to.
fn query(url: &str) -> HashMap<String, String> {
    openidconnect::url::Url::parse(url).unwrap().query_pairs().into_owned().collect()
}

fn ada() -> Person {
    Person::new("ada.lovelace@example.com")
}

/// One Google sign-in up to the callback: discovery, the authorization URL (PKCE S256, nonce),
/// the person's consent; the returned state checked. Answers what the callback handler holds.
struct GoogleCallback {
    client: GoogleClient,
    code: String,
    verifier: PkceCodeVerifier,
    nonce: Nonce,
}

async fn google_callback(idp: &FakeIdp, tweak: Tweak) -> GoogleCallback {
    let metadata = CoreProviderMetadata::discover_async(IssuerUrl::new(idp.google_issuer()).unwrap(), &http()).await.unwrap();
    let secret = ClientSecret::new(FakeIdp::GOOGLE_SECRET.into());
    let client = CoreClient::from_provider_metadata(metadata, ClientId::new(FakeIdp::CLIENT_ID.into()), Some(secret))
        .set_redirect_uri(RedirectUrl::new(CALLBACK.into()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();
    let back = query(&idp.approve(url.as_str(), &ada(), tweak));
    assert_eq!(&back["state"], state.secret(), "the state comes back exactly");
    GoogleCallback { client, code: back["code"].clone(), verifier, nonce }
}

async fn google_exchange(cb: &GoogleCallback, verifier: &str) -> Result<CoreTokenResponse, CoreErrorResponseType> {
    let request = cb.client.exchange_code(AuthorizationCode::new(cb.code.clone())).unwrap();
    request.set_pkce_verifier(PkceCodeVerifier::new(verifier.into())).request_async(&http()).await.map_err(|e| match e {
        RequestTokenError::ServerResponse(e) => e.error().clone(),
        other => panic!("not an OAuth error: {other:?}"),
    })
}

/// The whole Google sign-in: the ID token's verified claims, or why verification failed.
async fn google_sign_in(idp: &FakeIdp, tweak: Tweak) -> Result<openidconnect::core::CoreIdTokenClaims, ClaimsVerificationError> {
    let cb = google_callback(idp, tweak).await;
    let token = google_exchange(&cb, cb.verifier.secret()).await.unwrap();
    let verifier = cb.client.id_token_verifier();
    let claims = token.id_token().expect("an ID token").claims(&verifier, &cb.nonce).cloned();
    claims
}

#[tokio::test]
async fn google_sign_in_with_pkce_and_nonce_yields_verified_claims_with_the_email() {
    let idp = FakeIdp::start().await;
    let claims = google_sign_in(&idp, Tweak::None).await.unwrap();
    assert_eq!(claims.email().unwrap().as_str(), "ada.lovelace@example.com");
    assert_eq!(claims.email_verified(), Some(true));
    assert_eq!(claims.subject().as_str(), ada().subject);
    assert_eq!(claims.authorized_party().unwrap().as_str(), FakeIdp::CLIENT_ID);
    assert_eq!(idp.token_requests(), 1);
}

#[tokio::test]
async fn each_google_tweak_makes_id_token_verification_fail_for_its_own_reason() {
    let idp = FakeIdp::start().await;
    for tweak in [Tweak::WrongNonce, Tweak::WrongAudience, Tweak::WrongIssuer, Tweak::Expired, Tweak::BadSignature] {
        let error = google_sign_in(&idp, tweak).await.expect_err(&format!("{tweak:?} must be refused"));
        let expected = match error {
            ClaimsVerificationError::InvalidNonce(_) => Tweak::WrongNonce,
            ClaimsVerificationError::InvalidAudience(_) => Tweak::WrongAudience,
            ClaimsVerificationError::InvalidIssuer(_) => Tweak::WrongIssuer,
            ClaimsVerificationError::Expired(_) => Tweak::Expired,
            ClaimsVerificationError::SignatureVerification(_) => Tweak::BadSignature,
            ref other => panic!("{tweak:?}: unexpected {other:?}"),
        };
        assert_eq!(expected, tweak, "{tweak:?} refused as {error:?}");
    }
}

#[tokio::test]
async fn wrong_azp_passes_openidconnect_claims_so_the_caller_must_check_the_authorized_party() {
    let idp = FakeIdp::start().await;
    let claims = google_sign_in(&idp, Tweak::WrongAzp).await.expect("openidconnect 4 leaves azp unchecked");
    assert_eq!(claims.authorized_party().unwrap().as_str(), "someone-else");
    assert_eq!(claims.audiences().iter().map(|a| a.as_str()).collect::<Vec<_>>(), [FakeIdp::CLIENT_ID]);
}

#[tokio::test]
async fn a_google_code_is_single_use() {
    let idp = FakeIdp::start().await;
    let cb = google_callback(&idp, Tweak::None).await;
    assert!(google_exchange(&cb, cb.verifier.secret()).await.is_ok());
    assert_eq!(google_exchange(&cb, cb.verifier.secret()).await.unwrap_err(), CoreErrorResponseType::InvalidGrant);
    assert_eq!(idp.token_requests(), 2);
}

#[tokio::test]
async fn a_wrong_code_verifier_is_refused_and_spends_the_code() {
    let idp = FakeIdp::start().await;
    let cb = google_callback(&idp, Tweak::None).await;
    let (_, other_verifier) = PkceCodeChallenge::new_random_sha256();
    assert_eq!(google_exchange(&cb, other_verifier.secret()).await.unwrap_err(), CoreErrorResponseType::InvalidGrant);
    assert_eq!(google_exchange(&cb, cb.verifier.secret()).await.unwrap_err(), CoreErrorResponseType::InvalidGrant);
}

#[tokio::test]
async fn a_wrong_client_secret_is_invalid_client() {
    let idp = FakeIdp::start().await;
    let mut cb = google_callback(&idp, Tweak::None).await;
    cb.client = cb.client.set_client_secret(ClientSecret::new("guessed".into()));
    assert_eq!(google_exchange(&cb, cb.verifier.secret()).await.unwrap_err(), CoreErrorResponseType::InvalidClient);
}

fn authorization_url(idp: &FakeIdp, drop: &str) -> String {
    let mut url = openidconnect::url::Url::parse(&format!("{}/authorize", idp.google_issuer())).unwrap();
    let params = [
        ("response_type", "code"),
        ("client_id", FakeIdp::CLIENT_ID),
        ("redirect_uri", CALLBACK),
        ("scope", "openid email"),
        ("state", "s t/a+te"),
        ("nonce", "n"),
        ("code_challenge", "c"),
        ("code_challenge_method", "S256"),
    ];
    url.query_pairs_mut().extend_pairs(params.iter().filter(|(k, _)| *k != drop));
    url.to_string()
}

#[tokio::test]
#[should_panic(expected = "no code_challenge_method (PKCE)")]
async fn approve_panics_when_the_authorization_url_lacks_pkce() {
    let idp = FakeIdp::start().await;
    idp.approve(&authorization_url(&idp, "code_challenge_method"), &ada(), Tweak::None);
}

#[tokio::test]
#[should_panic(expected = "no nonce")]
async fn approve_panics_when_a_google_authorization_url_lacks_a_nonce() {
    let idp = FakeIdp::start().await;
    idp.approve(&authorization_url(&idp, "nonce"), &ada(), Tweak::None);
}

#[tokio::test]
async fn deny_returns_access_denied_to_the_redirect_uri_with_the_state_echoed() {
    let idp = FakeIdp::start().await;
    let back = idp.deny(&authorization_url(&idp, ""));
    assert!(back.starts_with("http://gatehouse.test/auth/callback?provider=x&"), "{back}");
    let back = query(&back);
    assert_eq!((back["error"].as_str(), back["state"].as_str()), ("access_denied", "s t/a+te"));
    assert!(!back.contains_key("code"));
}

/// A GitHub sign-in with oauth2's `BasicClient` up to the token response.
async fn github_token(idp: &FakeIdp, who: &Person, tweak: Tweak) -> Result<oauth2::basic::BasicTokenResponse, Value> {
    let client = BasicClient::new(ClientId::new(FakeIdp::CLIENT_ID.into()))
        .set_client_secret(ClientSecret::new(FakeIdp::GITHUB_SECRET.into()))
        .set_auth_uri(AuthUrl::new(idp.github_authorize_url()).unwrap())
        .set_token_uri(TokenUrl::new(idp.github_token_url()).unwrap())
        .set_redirect_uri(RedirectUrl::new(CALLBACK.into()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state) = client
        .authorize_url(CsrfToken::new_random)
        .add_scope(Scope::new("read:user".into()))
        .add_scope(Scope::new("user:email".into()))
        .set_pkce_challenge(challenge)
        .url();
    let back = query(&idp.approve(url.as_str(), who, tweak));
    assert_eq!(&back["state"], state.secret());
    let request = client.exchange_code(AuthorizationCode::new(back["code"].clone())).set_pkce_verifier(verifier);
    request.request_async(&http()).await.map_err(|e| match e {
        RequestTokenError::Parse(_, body) => serde_json::from_slice(&body).unwrap(),
        other => panic!("GitHub answers errors with 200, got {other:?}"),
    })
}

/// GET `{github_api_url}{path}` as Gatehouse would: the token, a User-Agent, GitHub's JSON.
async fn github_api(idp: &FakeIdp, path: &str, token: &str) -> (u16, Value) {
    let res = http()
        .get(format!("{}{path}", idp.github_api_url()))
        .bearer_auth(token)
        .header("User-Agent", "gatehouse-test")
        .header("Accept", "application/vnd.github+json")
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

#[tokio::test]
async fn github_exchange_succeeds_and_the_api_answers_the_user_and_their_emails() {
    let idp = FakeIdp::start().await;
    let who = ada();
    let token = github_token(&idp, &who, Tweak::None).await.unwrap();
    let token = token.access_token().secret();
    let (status, user) = github_api(&idp, "/user", token).await;
    assert_eq!(status, 200);
    assert_eq!(user, json!({ "id": who.github_id, "login": "ada-lovelace", "name": "Ada Lovelace", "email": null, "avatar_url": null }));
    let (_, emails) = github_api(&idp, "/user/emails", token).await;
    assert_eq!(emails[0], json!({ "email": who.email, "primary": true, "verified": true, "visibility": "private" }));
    assert_eq!(emails[1]["email"], "ada-lovelace@users.noreply.github.com");
}

#[tokio::test]
async fn github_error_with_200_gives_an_error_body_instead_of_a_token() {
    let idp = FakeIdp::start().await;
    let body = github_token(&idp, &ada(), Tweak::GithubErrorWith200).await.unwrap_err();
    assert_eq!(body["error"], "bad_verification_code");
}

#[tokio::test]
async fn github_no_verified_primary_lists_the_primary_email_unverified() {
    let idp = FakeIdp::start().await;
    let token = github_token(&idp, &ada(), Tweak::GithubNoVerifiedPrimary).await.unwrap();
    let (_, emails) = github_api(&idp, "/user/emails", token.access_token().secret()).await;
    assert_eq!((emails[0]["primary"].clone(), emails[0]["verified"].clone()), (json!(true), json!(false)));
}

#[tokio::test]
async fn github_api_refuses_unknown_tokens_and_requests_without_a_user_agent() {
    let idp = FakeIdp::start().await;
    assert_eq!(github_api(&idp, "/user", "gho_guessed").await, (401, json!({ "message": "Bad credentials" })));
    let token = github_token(&idp, &ada(), Tweak::None).await.unwrap();
    let res = http().get(format!("{}/user", idp.github_api_url())).bearer_auth(token.access_token().secret()).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 403);
}

#[test]
fn a_person_is_derived_stably_from_the_email_and_verified() {
    let (a, b) = (Person::new("grace_hopper+test@example.com"), Person::new("grace_hopper+test@example.com"));
    assert_eq!((a.subject.clone(), a.github_id, a.login.as_str()), (b.subject, b.github_id, "grace-hopper-test"));
    assert_eq!((a.name.as_str(), a.subject.len(), a.email_verified), ("Grace Hopper Test", 21, true));
    assert_ne!(a.github_id, ada().github_id);
}
