//! Connected accounts: sign in (or sign up) with Google or GitHub, connect one to the signed-in
//! account, re-verify with it, disconnect it.
//!
//! Linking rules (against "pre-hijacked accounts", Sudhodanan & Paverd 2022):
//! - An identity is (provider, issuer, subject), never an email: a provider sign-in reaches only the
//!   account that identity is linked to.
//! - Nothing is ever linked by matching email. A first sign-in whose email an account already uses
//!   is refused with `EmailInUse`: the person signs in to that account and connects the provider
//!   from Security & Access, which needs that account's own sign-in and a re-verification.
//! - A flow is single use, 10 minutes, bound to the browser that began it (flow cookie) and, to
//!   connect or re-verify, to the session that began it: a callback carrying someone else's state
//!   cannot link the attacker's identity into a victim's session.
//! - A provider proves one factor: an account with an authenticator app still asks for its code.
use sha2::{Digest, Sha256};
use time::Duration;

use crate::auth::recent::require_recent;
use crate::auth::reverify::Reverified;
use crate::auth::sessions::{hash_cookie_token, new_cookie_token, SignedIn};
use crate::db;
use crate::db::connected_accounts::NewFlow;
use crate::error::ProviderFailure;
use crate::ids::{SessionId, UserId};
use crate::kinds::{FlowIntent, Provider};
use crate::request::{AuthSession, ClientInfo};
use crate::secret::{FlowCookie, PendingToken};
use crate::{DomainError, Services};

mod links;
mod outcomes;
use outcomes::{connect, reverify, sign_in, tidy};
pub use links::{disconnect, list, ConnectedAccount, Connections};
pub(crate) use links::{connections, linked, usable_links};

/// How long a flow may take, from the button to the provider's answer.
pub const FLOW_MINUTES: i64 = 10;

fn failed(f: ProviderFailure) -> DomainError {
    DomainError::Provider(f)
}

/// A flow begun: where to send the browser, and the flow cookie it must carry back.
pub struct Started {
    pub url: String,
    pub cookie: FlowCookie,
}

impl std::fmt::Debug for Started {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // the URL carries the state and the nonce
        f.write_str("Started([redacted])")
    }
}

/// Begins a sign-in (or sign-up) with `provider`. `cookie` is the browser's flow cookie, if it has
/// one (kept, so flows begun in two tabs both finish). `return_to`: where the sign-in goes once
/// done, a path on this site the caller has checked (`finish` gives it back). `from_sign_up`: begun
/// on the sign-up page, where a flow that ends badly goes back to (`finish` gives it back too).
pub async fn begin_sign_in(
    svc: &Services,
    provider: Provider,
    return_to: Option<&str>,
    from_sign_up: bool,
    cookie: Option<&FlowCookie>,
) -> Result<Started, DomainError> {
    begin(svc, provider, FlowIntent::SignIn, None, return_to, from_sign_up, cookie).await
}

/// Begins connecting `provider` to the session's account. Needs a recent sign-in or
/// re-verification; refused when the account already has an identity there.
pub async fn begin_connect(svc: &Services, auth: &AuthSession, provider: Provider, cookie: Option<&FlowCookie>) -> Result<Started, DomainError> {
    require_recent(svc, auth)?;
    if links::linked(svc, auth).await?.iter().any(|c| c.provider == provider) {
        return Err(failed(ProviderFailure::AlreadyConnected));
    }
    begin(svc, provider, FlowIntent::Connect, Some((auth.user_id, auth.session_id)), None, false, cookie).await
}

/// Begins re-verifying with `provider`, which must be connected to the session's account.
pub async fn begin_reverify(svc: &Services, auth: &AuthSession, provider: Provider, cookie: Option<&FlowCookie>) -> Result<Started, DomainError> {
    if !svc.providers.is_enabled(provider) {
        return Err(failed(ProviderFailure::NotConfigured));
    }
    if !links::linked(svc, auth).await?.iter().any(|c| c.provider == provider) {
        return Err(failed(ProviderFailure::NotLinked));
    }
    begin(svc, provider, FlowIntent::Reverify, Some((auth.user_id, auth.session_id)), None, false, cookie).await
}

async fn begin(
    svc: &Services,
    provider: Provider,
    intent: FlowIntent,
    owner: Option<(UserId, SessionId)>,
    return_to: Option<&str>,
    from_sign_up: bool,
    cookie: Option<&FlowCookie>,
) -> Result<Started, DomainError> {
    // re-verifying must prove a fresh sign-in at the provider, not a session it already has
    let authorization = svc.providers.authorize(provider, intent == FlowIntent::Reverify).await.map_err(failed)?;
    let (cookie, browser_hash) = match cookie.and_then(|c| hash_cookie_token(c.expose()).map(|h| (c.clone(), h))) {
        Some(kept) => kept,
        None => {
            let (token, hash) = new_cookie_token();
            (FlowCookie::from_cookie(token), hash)
        }
    };
    let now = svc.clock.now();
    db::connected_accounts::put_flow(
        &svc.db,
        &NewFlow {
            state_hash: &Sha256::digest(authorization.state.as_bytes()).into(),
            browser_hash: &browser_hash,
            provider,
            intent,
            owner,
            pkce_verifier: &authorization.pkce_verifier,
            nonce: authorization.nonce.as_deref(),
            return_to: return_to.filter(|_| intent == FlowIntent::SignIn),
            from_sign_up: from_sign_up && intent == FlowIntent::SignIn,
            now,
            expires_at: now + Duration::minutes(FLOW_MINUTES),
        },
    )
    .await?;
    Ok(Started { url: authorization.url, cookie })
}

/// The provider's answer, as the callback's query carries it.
#[derive(Clone, Default)]
pub struct Callback {
    pub state: Option<String>,
    pub code: Option<String>,
    /// `access_denied` when the person cancelled; another code when the provider failed.
    pub error: Option<String>,
}

impl std::fmt::Debug for Callback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Callback").field("error", &self.error).finish_non_exhaustive()
    }
}

/// How a flow ended well.
#[derive(Debug)]
pub enum Finished {
    /// Signed in (`new_account`: the identity was linked to no account, and one was created).
    SignedIn { signed_in: SignedIn, new_account: bool },
    /// The account has an authenticator app: its code comes next (a pending sign-in, as after a
    /// right password).
    SecondStep(PendingToken),
    /// The identity is now connected to the session's account.
    Connected,
    /// The session is re-verified (its token changed: the cookie must too).
    Reverified(Reverified),
}

/// Finishes a flow from the provider's callback. `cookie` is the browser's flow cookie and
/// `session` its current session, if any. Answers what the flow was begun for (`None` when the state
/// was unknown), to know where to send the person, and how it ended.
pub async fn finish(
    svc: &Services,
    provider: Provider,
    cookie: Option<&FlowCookie>,
    callback: &Callback,
    session: Option<&AuthSession>,
    client: &ClientInfo,
) -> (Option<Began>, Result<Finished, DomainError>) {
    let flow = match take_flow(svc, provider, cookie, callback).await {
        Ok(flow) => flow,
        Err(e) => return (None, Err(e)),
    };
    let began = Began { intent: flow.intent, return_to: flow.return_to.clone(), from_sign_up: flow.from_sign_up };
    (Some(began), finish_flow(svc, provider, flow, callback, session, client).await)
}

/// What the callback's flow was begun for, once it is found (whether it then ends well or not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Began {
    pub intent: FlowIntent,
    /// Where a sign-in goes once done, as `begin_sign_in` was given it.
    pub return_to: Option<String>,
    /// A sign-in begun on the sign-up page: if it ends badly, the person goes back there.
    pub from_sign_up: bool,
}

async fn take_flow(
    svc: &Services,
    provider: Provider,
    cookie: Option<&FlowCookie>,
    callback: &Callback,
) -> Result<db::connected_accounts::FlowRow, DomainError> {
    let unknown = || failed(ProviderFailure::UnknownState);
    let state = callback.state.as_deref().filter(|s| !s.is_empty() && s.len() <= 512).ok_or_else(unknown)?;
    let browser_hash = cookie.and_then(|c| hash_cookie_token(c.expose())).ok_or_else(unknown)?;
    let state_hash: [u8; 32] = Sha256::digest(state.as_bytes()).into();
    db::connected_accounts::take_flow(&svc.db, &state_hash, &browser_hash, provider).await?.ok_or_else(unknown)
}

async fn finish_flow(
    svc: &Services,
    provider: Provider,
    flow: db::connected_accounts::FlowRow,
    callback: &Callback,
    session: Option<&AuthSession>,
    client: &ClientInfo,
) -> Result<Finished, DomainError> {
    let now = svc.clock.now();
    if flow.expires_at <= now {
        return Err(failed(ProviderFailure::Expired));
    }
    if let Some(error) = callback.error.as_deref() {
        if error == "access_denied" {
            return Err(failed(ProviderFailure::Cancelled));
        }
        let error: String = error.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(64).collect();
        tracing::warn!(provider = provider.as_str(), error = %error, "the provider answered an error");
        return Err(failed(ProviderFailure::Refused));
    }
    let code = callback.code.as_deref().filter(|c| !c.is_empty() && c.len() <= 2048).ok_or(failed(ProviderFailure::Refused))?;
    // connect and re-verify belong to the session that began them, still signed in here
    let owner = match (flow.intent, flow.user_id, flow.session_id) {
        (FlowIntent::SignIn, _, _) => None,
        (_, Some(user), Some(began)) => match session {
            Some(s) if s.user_id.0 == user && s.session_id.0 == began => Some(s),
            _ => return Err(failed(ProviderFailure::SessionChanged)),
        },
        _ => return Err(failed(ProviderFailure::UnknownState)),
    };
    let identity = tidy(svc.providers.identify(provider, code, &flow.pkce_verifier, flow.nonce.as_deref()).await.map_err(failed)?);
    match (flow.intent, owner) {
        (FlowIntent::Connect, Some(auth)) => connect(svc, auth, &identity, now, client).await,
        (FlowIntent::Reverify, Some(auth)) => {
            let began = flow.expires_at - Duration::minutes(FLOW_MINUTES);
            reverify(svc, auth, &identity, began, client).await
        }
        _ => sign_in(svc, &identity, now, client).await,
    }
}
