//! Google: OpenID Connect with the `openidconnect` crate. Discovery (cached for an hour), the
//! authorization code flow with PKCE (S256) and a nonce, and the ID token validated by the crate
//! (signature against the discovered keys, issuer, audience, expiry, nonce); `azp`, when present, is
//! checked here.
use std::time::Instant;

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl,
    RequestTokenError, Scope, TokenResponse,
};
use tokio::sync::RwLock;

use super::{Authorization, GoogleConfig, Identity};
use crate::error::ProviderFailure;
use crate::kinds::Provider;

/// Discovery (endpoints and signing keys) is fetched again after this long.
const METADATA_TTL: std::time::Duration = std::time::Duration::from_secs(3600);

pub(super) struct Google {
    client_id: ClientId,
    client_secret: ClientSecret,
    issuer: IssuerUrl,
    redirect: RedirectUrl,
    pub(super) local: bool,
    pub(super) reverify_without_auth_time: bool,
    metadata: RwLock<Option<(Instant, CoreProviderMetadata)>>,
}

impl Google {
    pub(super) fn new(cfg: &GoogleConfig, redirect: &str) -> Result<Self, String> {
        Ok(Self {
            client_id: ClientId::new(cfg.client_id.trim().to_string()),
            client_secret: ClientSecret::new(cfg.client_secret.clone()),
            issuer: IssuerUrl::new(cfg.issuer.trim().to_string()).map_err(|e| format!("issuer: {e}"))?,
            redirect: RedirectUrl::new(redirect.to_string()).map_err(|e| format!("callback URL: {e}"))?,
            local: cfg.local,
            reverify_without_auth_time: cfg.reverify_without_auth_time,
            metadata: RwLock::new(None),
        })
    }

    /// The provider's discovery document (which the crate checks names our configured issuer),
    /// with its signing keys.
    async fn metadata(&self, http: &reqwest::Client, refresh: bool) -> Result<CoreProviderMetadata, ProviderFailure> {
        if !refresh {
            if let Some((at, m)) = self.metadata.read().await.as_ref() {
                if at.elapsed() < METADATA_TTL {
                    return Ok(m.clone());
                }
            }
        }
        let m = CoreProviderMetadata::discover_async(self.issuer.clone(), http).await.map_err(|e| {
            tracing::warn!(provider = "google", error = %e, "OpenID Connect discovery failed");
            ProviderFailure::Unreachable
        })?;
        *self.metadata.write().await = Some((Instant::now(), m.clone()));
        Ok(m)
    }

    fn client(&self, metadata: CoreProviderMetadata) -> CoreClient<
        openidconnect::EndpointSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointMaybeSet,
        openidconnect::EndpointMaybeSet,
    > {
        CoreClient::from_provider_metadata(metadata, self.client_id.clone(), Some(self.client_secret.clone()))
            .set_redirect_uri(self.redirect.clone())
    }

    pub(super) async fn authorize(&self, http: &reqwest::Client, fresh_login: bool) -> Result<Authorization, ProviderFailure> {
        let client = self.client(self.metadata(http, false).await?);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge);
        if fresh_login {
            // (the browser carries this address: prompt=login alone could be taken out of it on
            // the way, so max_age=0 makes the ID token say when the person signed in, which the
            // re-verification checks)
            request = request.add_prompt(openidconnect::core::CoreAuthPrompt::Login).set_max_age(std::time::Duration::ZERO);
        }
        let (url, state, nonce) = request.url();
        Ok(Authorization {
            url: url.to_string(),
            state: state.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
            nonce: Some(nonce.secret().clone()),
        })
    }

    pub(super) async fn identify(&self, http: &reqwest::Client, code: &str, pkce_verifier: &str, nonce: &str) -> Result<Identity, ProviderFailure> {
        let client = self.client(self.metadata(http, false).await?);
        let request = client.exchange_code(AuthorizationCode::new(code.to_string())).map_err(|e| {
            tracing::warn!(provider = "google", error = %e, "the discovery document names no token endpoint");
            ProviderFailure::Refused
        })?;
        let response = request.set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_string())).request_async(http).await.map_err(|e| {
            match &e {
                RequestTokenError::ServerResponse(r) => {
                    tracing::warn!(provider = "google", error = %r.error(), "the token endpoint refused the code")
                }
                RequestTokenError::Request(openidconnect::HttpClientError::Reqwest(r)) if r.is_timeout() || r.is_connect() => {
                    tracing::warn!(provider = "google", error = %r, "token endpoint unreachable");
                    return ProviderFailure::Unreachable;
                }
                other => tracing::warn!(provider = "google", error = %other, "token request failed"),
            }
            ProviderFailure::Refused
        })?;
        let id_token = response.id_token().ok_or_else(|| {
            tracing::warn!(provider = "google", "the token response has no ID token");
            ProviderFailure::Refused
        })?;
        let nonce = Nonce::new(nonce.to_string());
        let claims = match id_token.claims(&client.id_token_verifier(), &nonce) {
            Ok(claims) => claims.clone(),
            // Keys rotate: a token signed by a key we have not seen yet gets one fresh look at the
            // provider's keys before it is refused.
            Err(openidconnect::ClaimsVerificationError::SignatureVerification(_)) => {
                let fresh = self.client(self.metadata(http, true).await?);
                let verifier = fresh.id_token_verifier();
                let claims = id_token.claims(&verifier, &nonce).map_err(refused)?.clone();
                claims
            }
            Err(e) => return Err(refused(e)),
        };
        // OpenID Connect Core 3.1.3.7 (5): an `azp` that is present must be our client id (checked
        // here: the crate leaves it to the caller).
        if claims.authorized_party().is_some_and(|azp| azp.as_str() != self.client_id.as_str()) {
            tracing::warn!(provider = "google", "ID token refused: issued to another client (azp)");
            return Err(ProviderFailure::Refused);
        }
        Ok(Identity {
            provider: Provider::Google,
            issuer: claims.issuer().as_str().to_string(),
            subject: claims.subject().as_str().to_string(),
            email: claims.email().map(|e| e.as_str().to_string()),
            email_verified: claims.email_verified().unwrap_or(false),
            name: claims.name().and_then(|n| n.get(None)).map(|n| n.as_str().to_string()),
            login: None,
            signed_in_at: claims.auth_time().and_then(|t| time::OffsetDateTime::from_unix_timestamp(t.timestamp()).ok()),
        })
    }
}

fn refused(e: openidconnect::ClaimsVerificationError) -> ProviderFailure {
    tracing::warn!(provider = "google", error = %e, "ID token refused");
    ProviderFailure::Refused
}
