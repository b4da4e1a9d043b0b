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
use time::{Duration, OffsetDateTime};

use crate::auth::providers::Identity;
use crate::auth::recent::require_recent;
use crate::auth::reverify::{mark_verified, Reverified};
use crate::auth::sessions::{self, hash_cookie_token, new_cookie_token, SignedIn};
use crate::db;
use crate::db::connected_accounts::{NewFlow, NewLink};
use crate::error::{unique_violation, ProviderFailure};
use crate::ids::{SessionId, UserId};
use crate::kinds::{EventKind, FlowIntent, Provider};
use crate::request::{AuthSession, ClientInfo};
use crate::secret::{FlowCookie, PendingToken};
use crate::{DomainError, Services};

mod links;
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
/// done, a path on this site the caller has checked (`finish` gives it back).
pub async fn begin_sign_in(
    svc: &Services,
    provider: Provider,
    return_to: Option<&str>,
    cookie: Option<&FlowCookie>,
) -> Result<Started, DomainError> {
    begin(svc, provider, FlowIntent::SignIn, None, return_to, cookie).await
}

/// Begins connecting `provider` to the session's account. Needs a recent sign-in or
/// re-verification; refused when the account already has an identity there.
pub async fn begin_connect(svc: &Services, auth: &AuthSession, provider: Provider, cookie: Option<&FlowCookie>) -> Result<Started, DomainError> {
    require_recent(svc, auth)?;
    if links::linked(svc, auth).await?.iter().any(|c| c.provider == provider) {
        return Err(failed(ProviderFailure::AlreadyConnected));
    }
    begin(svc, provider, FlowIntent::Connect, Some((auth.user_id, auth.session_id)), None, cookie).await
}

/// Begins re-verifying with `provider`, which must be connected to the session's account.
pub async fn begin_reverify(svc: &Services, auth: &AuthSession, provider: Provider, cookie: Option<&FlowCookie>) -> Result<Started, DomainError> {
    if !svc.providers.is_enabled(provider) {
        return Err(failed(ProviderFailure::NotConfigured));
    }
    if !links::linked(svc, auth).await?.iter().any(|c| c.provider == provider) {
        return Err(failed(ProviderFailure::NotLinked));
    }
    begin(svc, provider, FlowIntent::Reverify, Some((auth.user_id, auth.session_id)), None, cookie).await
}

async fn begin(
    svc: &Services,
    provider: Provider,
    intent: FlowIntent,
    owner: Option<(UserId, SessionId)>,
    return_to: Option<&str>,
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
    let began = Began { intent: flow.intent, return_to: flow.return_to.clone() };
    (Some(began), finish_flow(svc, provider, flow, callback, session, client).await)
}

/// What the callback's flow was begun for, once it is found (whether it then ends well or not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Began {
    pub intent: FlowIntent,
    /// Where a sign-in goes once done, as `begin_sign_in` was given it.
    pub return_to: Option<String>,
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
            reverify(svc, auth, &identity, began, now, client).await
        }
        _ => sign_in(svc, &identity, now, client).await,
    }
}

/// What the provider said, made fit to store and show: an email that is no plausible address is
/// dropped (and so no account is made with it), a login or name is cut to its column's length
/// and loses control characters and direction overrides.
fn tidy(mut identity: Identity) -> Identity {
    use crate::auth::accounts::{validate_email, MAX_DISPLAY_NAME};
    identity.email = identity.email.map(|e| e.trim().to_string()).filter(|e| validate_email(e).is_ok());
    // (as a name typed here: without control characters and the direction overrides that would
    // make it read as another)
    let clean = |s: String, max: usize| {
        let s = crate::auth::accounts::without_hidden_characters(&s);
        Some(s.chars().take(max).collect::<String>().trim_end().to_string()).filter(|s| !s.is_empty())
    };
    identity.login = identity.login.and_then(|l| clean(l, 100));
    identity.name = identity.name.and_then(|n| clean(n, MAX_DISPLAY_NAME));
    identity
}

/// The account `identity` is linked to (with `only_for`, only if it is that one's), marked used now.
async fn use_identity(svc: &Services, identity: &Identity, only_for: Option<UserId>, now: OffsetDateTime) -> Result<Option<UserId>, DomainError> {
    let key = (identity.provider, identity.issuer.as_str(), identity.subject.as_str());
    let shown = (identity.email.as_deref(), identity.login.as_deref());
    Ok(db::connected_accounts::use_identity(&svc.db, key, shown, only_for, now).await?)
}

async fn sign_in(svc: &Services, identity: &Identity, now: OffsetDateTime, client: &ClientInfo) -> Result<Finished, DomainError> {
    let linked = use_identity(svc, identity, None, now).await?;
    let (user_id, new_account) = match linked {
        Some(user_id) => (user_id, false),
        None => match sign_up(svc, identity, now, client).await {
            Ok(user_id) => (user_id, true),
            // The same new identity finished twice at the same moment (two tabs): the other
            // callback made the account and linked it; this one signs in to it.
            Err(DomainError::Provider(ProviderFailure::EmailInUse | ProviderFailure::Refused)) => {
                match db::connected_accounts::owner(&svc.db, identity.provider, &identity.issuer, &identity.subject).await? {
                    Some(user_id) => (user_id, false),
                    None => return Err(failed(ProviderFailure::EmailInUse)),
                }
            }
            Err(e) => return Err(e),
        },
    };
    // A session, unless the account has an authenticator (read under the account's lock, so one
    // turned on while this waited for it is seen; so is a disconnect of the identity)
    let key = (identity.provider, identity.issuer.as_str(), identity.subject.as_str());
    if let sessions::Started::SignedIn(signed_in) = sessions::start_with_provider(svc, user_id, key, client).await? {
        return Ok(Finished::SignedIn { signed_in, new_account });
    }
    // The provider stands where the right password stands: this browser's throttle path must
    // be open (as `accounts::sign_in` checks before its second step), or restarting the flow
    // would give anyone holding the provider account 5 more code guesses each time.
    let Some(attempt) = crate::auth::throttle::claim(svc, user_id, client).await? else {
        return Err(failed(ProviderFailure::Locked));
    };
    attempt.forgiven(svc).await?;
    let pending = crate::auth::two_factor::begin_second_step(svc, user_id, attempt.path, crate::auth::two_factor::FirstStep::Provider(identity.provider, &identity.issuer, &identity.subject)).await?;
    Ok(Finished::SecondStep(pending))
}

/// A first sign-in with an identity linked to no account: a new account with no password, linked
/// to it, in one transaction. Refused when an account already uses the email.
async fn sign_up(svc: &Services, identity: &Identity, now: OffsetDateTime, client: &ClientInfo) -> Result<UserId, DomainError> {
    use crate::auth::accounts::normalize_email;
    let email = identity.email.as_deref().ok_or(failed(ProviderFailure::NoEmail))?;
    // An address the provider did not verify may be someone else's: an account holding it would
    // be theirs to recover by email later, with this identity still linked (a pre-hijack).
    if !identity.email_verified {
        return Err(failed(ProviderFailure::EmailNotVerified));
    }
    let normalized = normalize_email(email);
    if db::users::find_by_email(&svc.db, &normalized).await?.is_some() {
        return Err(failed(ProviderFailure::EmailInUse));
    }
    let name = identity.name.as_deref();
    let user_id = UserId::new();
    let mut tx = svc.db.begin().await?;
    db::users::insert(&mut *tx, user_id, email, &normalized, name, None, Some(now), now).await.map_err(|e| {
        match unique_violation(&e) {
            Some("users_email_normalized_key") => failed(ProviderFailure::EmailInUse),
            _ => e.into(),
        }
    })?;
    link(&mut tx, user_id, None, identity, now, true).await.map_err(|e| match e {
        // the same new identity finished twice at once: the other callback created the account
        DomainError::Provider(ProviderFailure::LinkedElsewhere) => failed(ProviderFailure::Refused),
        e => e,
    })?;
    db::events::record(&mut *tx, user_id, None, EventKind::AccountCreated, client, now).await?;
    // (named, as a Connect from the page names it: "Connected Google")
    let connected = crate::db::events::NewEvent { detail: Some(identity.provider.name()), ..crate::db::events::NewEvent::new(user_id, None, EventKind::ProviderConnected) };
    db::events::insert(&mut *tx, &connected, client, now).await?;
    tx.commit().await?;
    Ok(user_id)
}

/// Inserts the link (made by session `added_by`, or with a new account); names the unique
/// constraint it broke.
async fn link(
    tx: &mut sqlx::PgConnection,
    user_id: UserId,
    added_by: Option<SessionId>,
    identity: &Identity,
    now: OffsetDateTime,
    used: bool,
) -> Result<(), DomainError> {
    let new = NewLink {
        user_id,
        provider: identity.provider,
        issuer: &identity.issuer,
        subject: &identity.subject,
        email: identity.email.as_deref(),
        login: identity.login.as_deref(),
        now,
        used,
        added_by,
    };
    db::connected_accounts::insert(&mut *tx, &new).await.map_err(|e| match unique_violation(&e) {
        Some("connected_accounts_identity_key") => failed(ProviderFailure::LinkedElsewhere),
        Some("connected_accounts_user_provider_key") => failed(ProviderFailure::AlreadyConnected),
        _ => e.into(),
    })
}

async fn connect(svc: &Services, auth: &AuthSession, identity: &Identity, now: OffsetDateTime, client: &ClientInfo) -> Result<Finished, DomainError> {
    match db::connected_accounts::owner(&svc.db, identity.provider, &identity.issuer, &identity.subject).await? {
        Some(owner) if owner == auth.user_id => return Ok(Finished::Connected),
        Some(_) => return Err(failed(ProviderFailure::LinkedElsewhere)),
        None => {}
    }
    let mut tx = svc.db.begin().await?;
    // the session that began the flow must still be live when the link is made (after the
    // account's row, which the revocations of several sessions take first), and still recently
    // verified, as every other way to sign in is added (`recent::require_live_and_recent`): the
    // flow began within the window, but the person may have spent up to 10 minutes at the
    // provider, or ended the window with End now meanwhile
    db::passkeys::lock_account(&mut *tx, auth.user_id).await?;
    let Some(verified_at) = db::sessions::lock_live(&mut *tx, auth.user_id, auth.session_id).await? else {
        return Err(failed(ProviderFailure::SessionChanged));
    };
    if crate::auth::recent::require_recent(svc, &AuthSession { verified_at, ..auth.clone() }).is_err() {
        return Err(failed(ProviderFailure::VerificationEnded));
    }
    link(&mut tx, auth.user_id, Some(auth.session_id), identity, now, false).await?;
    let event = crate::db::events::NewEvent { detail: Some(identity.provider.name()), ..crate::db::events::NewEvent::new(auth.user_id, Some(auth.session_id), EventKind::ProviderConnected) };
    crate::auth::activity::record(&mut tx, svc, event, client, now).await?;
    tx.commit().await?;
    Ok(Finished::Connected)
}

/// How far the provider's clock may be behind ours when it says when the person signed in.
const PROVIDER_CLOCK_SKEW: Duration = Duration::minutes(1);

/// A re-verification through the provider: the identity must be the one linked to the account
/// and, at Google, signed in again after the flow `began` (its `auth_time`; the address asked for
/// it with `prompt=login` and `max_age=0`, but the browser carries that address, and a provider
/// answering from a session it already had proves nothing about who is at this browser now).
/// GitHub has no such claim: a GitHub re-verification proves that this browser is signed in to
/// the linked GitHub account (README, Re-verification).
async fn reverify(
    svc: &Services,
    auth: &AuthSession,
    identity: &Identity,
    began: OffsetDateTime,
    now: OffsetDateTime,
    client: &ClientInfo,
) -> Result<Finished, DomainError> {
    if identity.provider == Provider::Google {
        match identity.signed_in_at {
            Some(at) if at >= began - PROVIDER_CLOCK_SKEW => {}
            Some(_) => {
                tracing::info!(user_id = %auth.user_id, "a Google re-verification without a fresh sign-in at Google refused");
                return Err(failed(ProviderFailure::NotFresh));
            }
            None if svc.providers.google_reverifies_without_auth_time() => {
                tracing::info!(user_id = %auth.user_id, "a Google re-verification without auth_time accepted ([google] reverify_without_auth_time)");
            }
            None => {
                tracing::warn!(
                    user_id = %auth.user_id,
                    "a Google re-verification refused: the ID token has no auth_time. Turn on \"Session age claims\" for this client in Google Auth Platform (README, Re-verification)"
                );
                return Err(failed(ProviderFailure::NotFresh));
            }
        }
    }
    if use_identity(svc, identity, Some(auth.user_id), now).await?.is_none() {
        return Err(failed(ProviderFailure::NotLinked));
    }
    let mut tx = svc.db.begin().await?;
    let done = mark_verified(&mut tx, svc, auth, client).await?;
    tx.commit().await?;
    Ok(Finished::Reverified(done))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_providers_name_and_login_lose_direction_overrides_and_control_characters_and_are_cut_to_fit() {
        let identity = Identity {
            provider: Provider::GitHub,
            issuer: "https://github.com".into(),
            subject: "1".into(),
            email: Some(" <mallory@example.test> ".into()),
            email_verified: true,
            name: Some(format!("Mallory\u{202E}gnp.exe\u{0}{}", "x".repeat(200))),
            login: Some("  mal\u{2066}lory  ".into()),
            signed_in_at: None,
        };
        let tidied = tidy(identity);
        let name = tidied.name.unwrap();
        assert!(name.starts_with("Mallorygnp.exexxx"), "{name}");
        assert_eq!(name.chars().count(), crate::auth::accounts::MAX_DISPLAY_NAME);
        assert_eq!(tidied.login.as_deref(), Some("mallory"));
        // an address the mailer cannot use is dropped
        assert_eq!(tidied.email, None);
    }
}
