//! GitHub: OAuth 2 with the `oauth2` crate (authorization code + PKCE S256), then who signed in from
//! GitHub's user API: `/user` (the numeric id that identifies the person, and the login shown) and
//! `/user/emails` (the email counts as verified only when it is the primary address and verified).
use oauth2::basic::BasicClient;
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope, TokenResponse, TokenUrl,
};
use serde::Deserialize;

use super::{request_failed, Authorization, GitHubConfig, Identity};
use crate::error::ProviderFailure;
use crate::kinds::Provider;

type Client = BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

pub(super) struct GitHub {
    client: Client,
    api: String,
    pub(super) local: bool,
}

#[derive(Deserialize)]
struct User {
    id: u64,
    login: String,
    name: Option<String>,
    email: Option<String>,
}

#[derive(Deserialize)]
struct Email {
    email: String,
    primary: bool,
    verified: bool,
}

/// GitHub answers a refused code with status 200 and a body like this.
#[derive(Deserialize)]
struct ErrorBody {
    error: String,
}

impl GitHub {
    pub(super) fn new(cfg: &GitHubConfig, redirect: &str) -> Result<Self, String> {
        let client = BasicClient::new(ClientId::new(cfg.client_id.trim().to_string()))
            .set_client_secret(ClientSecret::new(cfg.client_secret.clone()))
            .set_auth_uri(AuthUrl::new(cfg.authorize_url.clone()).map_err(|e| format!("authorize_url: {e}"))?)
            .set_token_uri(TokenUrl::new(cfg.token_url.clone()).map_err(|e| format!("token_url: {e}"))?)
            .set_redirect_uri(RedirectUrl::new(redirect.to_string()).map_err(|e| format!("callback URL: {e}"))?)
            // GitHub reads the client credentials from the form body
            .set_auth_type(AuthType::RequestBody);
        let api = url::Url::parse(&cfg.api_url).map_err(|e| format!("api_url: {e}"))?.to_string();
        Ok(Self { client, api: api.trim_end_matches('/').to_string(), local: cfg.local })
    }

    pub(super) fn authorize(&self) -> Authorization {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state) = self
            .client
            .authorize_url(CsrfToken::new_random)
            .add_scope(Scope::new("read:user".into()))
            .add_scope(Scope::new("user:email".into()))
            .set_pkce_challenge(challenge)
            .url();
        Authorization { url: url.to_string(), state: state.secret().clone(), pkce_verifier: verifier.secret().clone(), nonce: None }
    }

    pub(super) async fn identify(&self, http: &reqwest::Client, code: &str, pkce_verifier: &str) -> Result<Identity, ProviderFailure> {
        let response = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_string()))
            .request_async(http)
            .await
            .map_err(|e| {
                match &e {
                    // status 200 with {"error": …}: not a token response, so it fails to parse
                    RequestTokenError::Parse(_, body) => match serde_json::from_slice::<ErrorBody>(body) {
                        Ok(b) => tracing::warn!(provider = "github", error = %b.error, "the token endpoint refused the code"),
                        Err(_) => tracing::warn!(provider = "github", "unreadable token response"),
                    },
                    RequestTokenError::ServerResponse(r) => {
                        tracing::warn!(provider = "github", error = %r.error(), "the token endpoint refused the code")
                    }
                    RequestTokenError::Request(oauth2::HttpClientError::Reqwest(r)) if r.is_timeout() || r.is_connect() => {
                        tracing::warn!(provider = "github", error = %r, "token endpoint unreachable");
                        return ProviderFailure::Unreachable;
                    }
                    other => tracing::warn!(provider = "github", error = %other, "token request failed"),
                }
                ProviderFailure::Refused
            })?;
        let token = response.access_token().secret();
        let user: User = self.get(http, token, "/user", &[]).await?.ok_or(ProviderFailure::Refused)?;
        // an app without the user:email scope gets 404 or 403 there: no email. GitHub down or
        // limiting answers is "try again", never "your account shares no email".
        let emails: Vec<Email> = self.get(http, token, "/user/emails", &[403, 404]).await?.unwrap_or_default();
        let (email, email_verified) = choose_email(&user, &emails);
        Ok(Identity {
            provider: Provider::GitHub,
            issuer: self.api.clone(),
            subject: user.id.to_string(),
            email,
            email_verified,
            name: user.name.filter(|n| !n.trim().is_empty()).or_else(|| Some(user.login.clone())),
            login: Some(user.login),
            signed_in_at: None,
        })
    }

    /// GET `path` of GitHub's API; `Ok(None)` when it answers one of `absent` (a scope not
    /// granted). Refused for any other 4xx; unreachable for a 5xx, a rate limit or no answer.
    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        http: &reqwest::Client,
        token: &str,
        path: &str,
        absent: &[u16],
    ) -> Result<Option<T>, ProviderFailure> {
        let response = http
            .get(format!("{}{path}", self.api))
            .bearer_auth(token)
            .header(reqwest::header::ACCEPT, "application/vnd.github+json")
            .send()
            .await
            .map_err(|e| request_failed(Provider::GitHub, path, &e))?;
        let status = response.status();
        if absent.contains(&status.as_u16()) {
            return Ok(None);
        }
        if !status.is_success() {
            tracing::warn!(provider = "github", status = status.as_u16(), "{path} refused");
            let down = status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS;
            return Err(if down { ProviderFailure::Unreachable } else { ProviderFailure::Refused });
        }
        response.json().await.map(Some).map_err(|e| request_failed(Provider::GitHub, path, &e))
    }
}

/// The primary address, verified only when GitHub says so; else the public profile address,
/// unverified.
fn choose_email(user: &User, emails: &[Email]) -> (Option<String>, bool) {
    match emails.iter().find(|e| e.primary) {
        Some(p) => (Some(p.email.clone()), p.verified),
        None => (user.email.clone(), false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(email: Option<&str>) -> User {
        User { id: 1, login: "octo".into(), name: None, email: email.map(String::from) }
    }

    fn email(address: &str, primary: bool, verified: bool) -> Email {
        Email { email: address.into(), primary, verified }
    }

    #[test]
    fn only_a_verified_primary_address_counts_as_verified() {
        let emails = [email("other@example.test", false, true), email("main@example.test", true, true)];
        assert_eq!(choose_email(&user(None), &emails), (Some("main@example.test".into()), true));
        let unverified = [email("other@example.test", false, true), email("main@example.test", true, false)];
        assert_eq!(choose_email(&user(None), &unverified), (Some("main@example.test".into()), false));
    }

    #[test]
    fn without_a_primary_address_the_public_one_is_unverified() {
        assert_eq!(choose_email(&user(Some("pub@example.test")), &[]), (Some("pub@example.test".into()), false));
        assert_eq!(choose_email(&user(None), &[]), (None, false));
    }
}
