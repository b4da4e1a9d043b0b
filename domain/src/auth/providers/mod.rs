//! The protocol side of "Continue with Google / GitHub": the authorization URL to send a browser
//! to, and the provider's answer turned into a verified identity. Every protocol check and all the
//! cryptography are the `openidconnect` (Google) and `oauth2` (GitHub) crates'. Outbound HTTP
//! follows no redirects, gives up after a few seconds, and goes only to the URLs configured in
//! `[google]` / `[github]` (and, for Google, the endpoints its discovery document names).
use std::time::Duration;

use serde::Deserialize;

use crate::error::ProviderFailure;
use crate::kinds::Provider;

mod github;
mod google;

/// `[google]`: sign-in with Google (OpenID Connect). Off while `client_id` is empty.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoogleConfig {
    #[serde(default)]
    pub client_id: String,
    /// From the environment (`GATEHOUSE_GOOGLE_CLIENT_SECRET`), never the file.
    #[serde(default)]
    pub client_secret: String,
    #[serde(default = "google_issuer")]
    pub issuer: String,
    /// A local development provider stands in for Google (the buttons say so).
    #[serde(default)]
    pub local: bool,
    /// Accept a Google re-verification whose ID token has no `auth_time` on `prompt=login` alone.
    /// Google sends `auth_time` only to a published, verified app with "Session age claims"
    /// turned on (Google Auth Platform, Settings); without it, and with this off (the default),
    /// Google cannot re-verify anyone. On, someone at a signed-in browser who takes `prompt=login`
    /// out of the address re-verifies with Google's existing session.
    #[serde(default)]
    pub reverify_without_auth_time: bool,
}

fn google_issuer() -> String {
    "https://accounts.google.com".into()
}

/// `[github]`: sign-in with GitHub (OAuth 2 and its user API). Off while `client_id` is empty.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitHubConfig {
    #[serde(default)]
    pub client_id: String,
    /// From the environment (`GATEHOUSE_GITHUB_CLIENT_SECRET`), never the file.
    #[serde(default)]
    pub client_secret: String,
    #[serde(default = "github_authorize_url")]
    pub authorize_url: String,
    #[serde(default = "github_token_url")]
    pub token_url: String,
    #[serde(default = "github_api_url")]
    pub api_url: String,
    /// A local development provider stands in for GitHub (the buttons say so).
    #[serde(default)]
    pub local: bool,
}

impl Default for GitHubConfig {
    fn default() -> Self {
        Self {
            client_id: String::new(),
            client_secret: String::new(),
            authorize_url: github_authorize_url(),
            token_url: github_token_url(),
            api_url: github_api_url(),
            local: false,
        }
    }
}

fn github_authorize_url() -> String {
    "https://github.com/login/oauth/authorize".into()
}
fn github_token_url() -> String {
    "https://github.com/login/oauth/access_token".into()
}
fn github_api_url() -> String {
    "https://api.github.com".into()
}

impl std::fmt::Debug for GoogleConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoogleConfig")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("issuer", &self.issuer)
            .field("local", &self.local)
            .field("reverify_without_auth_time", &self.reverify_without_auth_time)
            .finish()
    }
}

impl std::fmt::Debug for GitHubConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitHubConfig")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("authorize_url", &self.authorize_url)
            .field("token_url", &self.token_url)
            .field("api_url", &self.api_url)
            .field("local", &self.local)
            .finish()
    }
}

/// Who the provider says signed in. `subject` is the stable id (Google's `sub`, GitHub's numeric
/// user id), unique under `issuer`; the email is the person's only when `email_verified`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub provider: Provider,
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    /// GitHub's login (shown, never used to identify: it can change hands).
    pub login: Option<String>,
    /// When the person last signed in at the provider (Google's `auth_time`, sent because a
    /// re-verification asks with `max_age=0`); GitHub says nothing of the kind.
    pub signed_in_at: Option<time::OffsetDateTime>,
}

impl Identity {
    /// How its owner knows this account at the provider, as notices name it: `shown_as`.
    pub fn shown_as(&self) -> Option<String> {
        shown_as(self.login.as_deref(), self.email.as_deref())
    }
}

/// How the owner of a provider account with this `login` and `email` knows it, as notices name it:
/// the GitHub login with its email ("@octocat (octo@example.com)"; GitHub's people know the login,
/// and the email may be one GitHub chose), or else the email.
pub fn shown_as(login: Option<&str>, email: Option<&str>) -> Option<String> {
    match (login, email) {
        (Some(l), Some(e)) => Some(format!("@{l} ({e})")),
        (Some(l), None) => Some(format!("@{l}")),
        (None, e) => e.map(String::from),
    }
}

/// Where to send the browser, and what to keep server-side until the provider answers.
pub struct Authorization {
    pub url: String,
    pub state: String,
    pub pkce_verifier: String,
    pub nonce: Option<String>,
}

impl std::fmt::Debug for Authorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Authorization([redacted])")
    }
}

/// The configured providers and the HTTP client that talks to them.
pub struct Providers {
    http: reqwest::Client,
    google: Option<google::Google>,
    github: Option<github::GitHub>,
}

impl std::fmt::Debug for Providers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Providers(google: {}, github: {})", self.google.is_some(), self.github.is_some())
    }
}

/// Connecting to a provider gives up after this long…
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// …and a whole request after this long.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(8);

impl Providers {
    /// The providers with a client id; `site_origin` is this site's public origin (the callbacks
    /// are `{site_origin}/auth/{google|github}/callback`, registered with each provider).
    pub fn new(google: &GoogleConfig, github: &GitHubConfig, site_origin: &str) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .user_agent("Gatehouse")
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        let callback = |p: Provider| format!("{}/auth/{}/callback", site_origin.trim_end_matches('/'), p.as_str());
        for (p, id, secret) in [(Provider::Google, &google.client_id, &google.client_secret), (Provider::GitHub, &github.client_id, &github.client_secret)] {
            if !id.trim().is_empty() && secret.is_empty() {
                let section = p.as_str();
                return Err(format!("[{section}] client_id is set but its secret is not: set GATEHOUSE_{}_CLIENT_SECRET", section.to_uppercase()));
            }
        }
        let google = (!google.client_id.trim().is_empty())
            .then(|| google::Google::new(google, &callback(Provider::Google)))
            .transpose()
            .map_err(|e| format!("[google] {e}"))?;
        let github = (!github.client_id.trim().is_empty())
            .then(|| github::GitHub::new(github, &callback(Provider::GitHub)))
            .transpose()
            .map_err(|e| format!("[github] {e}"))?;
        Ok(Self { http, google, github })
    }

    /// No provider (tests that do not sign in with one).
    pub fn none() -> Self {
        Self::new(&GoogleConfig::default(), &GitHubConfig::default(), "http://localhost").expect("an empty configuration is valid")
    }

    /// The configured providers, each with whether a local development provider stands in for it.
    pub fn enabled(&self) -> Vec<(Provider, bool)> {
        let mut out = Vec::new();
        if let Some(g) = &self.google {
            out.push((Provider::Google, g.local));
        }
        if let Some(g) = &self.github {
            out.push((Provider::GitHub, g.local));
        }
        out
    }

    /// The configured providers' stored names (`connected_accounts.provider`): only these count as
    /// ways to sign in.
    pub fn enabled_names(&self) -> Vec<String> {
        self.enabled().into_iter().map(|(p, _)| p.as_str().to_string()).collect()
    }

    /// `[google] reverify_without_auth_time`.
    pub fn google_reverifies_without_auth_time(&self) -> bool {
        self.google.as_ref().is_some_and(|g| g.reverify_without_auth_time)
    }

    pub fn is_enabled(&self, provider: Provider) -> bool {
        match provider {
            Provider::Google => self.google.is_some(),
            Provider::GitHub => self.github.is_some(),
        }
    }

    /// A fresh authorization request: random state, PKCE (S256) and, for Google, nonce.
    /// `fresh_login`: ask the provider to have the person sign in again (Google's `prompt=login`
    /// and `max_age=0`, so its ID token says when they did: `Identity::signed_in_at`; GitHub has no
    /// such parameter).
    pub async fn authorize(&self, provider: Provider, fresh_login: bool) -> Result<Authorization, ProviderFailure> {
        match provider {
            Provider::Google => self.google.as_ref().ok_or(ProviderFailure::NotConfigured)?.authorize(&self.http, fresh_login).await,
            Provider::GitHub => Ok(self.github.as_ref().ok_or(ProviderFailure::NotConfigured)?.authorize()),
        }
    }

    /// Exchanges the code (with the flow's PKCE verifier) and reads who signed in: for Google the
    /// ID token, validated (signature, issuer, audience, expiry, nonce, azp); for GitHub its user
    /// API. The access token is dropped here.
    pub async fn identify(&self, provider: Provider, code: &str, pkce_verifier: &str, nonce: Option<&str>) -> Result<Identity, ProviderFailure> {
        match provider {
            Provider::Google => {
                let nonce = nonce.ok_or(ProviderFailure::UnknownState)?;
                self.google.as_ref().ok_or(ProviderFailure::NotConfigured)?.identify(&self.http, code, pkce_verifier, nonce).await
            }
            Provider::GitHub => self.github.as_ref().ok_or(ProviderFailure::NotConfigured)?.identify(&self.http, code, pkce_verifier).await,
        }
    }
}

/// An outbound request that failed: unreachable (connection, timeout) or refused (anything else).
fn request_failed(provider: Provider, what: &str, e: &reqwest::Error) -> ProviderFailure {
    let failure = if e.is_timeout() || e.is_connect() { ProviderFailure::Unreachable } else { ProviderFailure::Refused };
    tracing::warn!(provider = provider.as_str(), error = %e, "{what} failed");
    failure
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_provider_with_a_client_id_needs_its_secret() {
        let google = GoogleConfig { client_id: "id".into(), ..Default::default() };
        let err = Providers::new(&google, &GitHubConfig::default(), "https://example.com").unwrap_err();
        assert_eq!(err, "[google] client_id is set but its secret is not: set GATEHOUSE_GOOGLE_CLIENT_SECRET");
        let github = GitHubConfig { client_id: "id".into(), client_secret: "s".into(), ..Default::default() };
        let providers = Providers::new(&GoogleConfig::default(), &github, "https://example.com").unwrap();
        assert_eq!(providers.enabled(), [(Provider::GitHub, false)]);
        assert!(Providers::none().enabled().is_empty());
    }

    #[test]
    fn debug_never_shows_the_client_secrets() {
        let google = GoogleConfig { client_id: "id".into(), client_secret: "hunter2-google".into(), ..Default::default() };
        let github = GitHubConfig { client_secret: "hunter2-github".into(), ..Default::default() };
        assert!(!format!("{google:?}{github:?}").contains("hunter2"));
    }
}
