//! What a finished flow does with the identity the provider vouched for: sign in (or sign up),
//! connect it to the signed-in account, or re-verify that account (the flows themselves, begun and
//! taken back, are in the parent module).
use time::{Duration, OffsetDateTime};

use super::{failed, Finished};
use crate::auth::providers::Identity;
use crate::auth::reverify::mark_verified;
use crate::auth::sessions;
use crate::db;
use crate::db::connected_accounts::NewLink;
use crate::error::{unique_violation, ProviderFailure};
use crate::ids::{SessionId, UserId};
use crate::kinds::{EventKind, Provider};
use crate::request::{AuthSession, ClientInfo};
use crate::{DomainError, Services};

/// What the provider said, made fit to store and show: an email that is no plausible address is
/// dropped (and so no account is made with it), a login or name is cut to its column's length
/// and loses control characters and direction overrides.
pub(super) fn tidy(mut identity: Identity) -> Identity {
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

/// The account `identity` is linked to (with `only_for`, a re-verification: only if it is that
/// one's). Marked used to sign in only with the session a sign-in starts (`sessions::start_with_provider`,
/// or after the second step): confirming it's you, or a first step never finished, is no sign-in.
async fn use_identity(svc: &Services, identity: &Identity, only_for: Option<UserId>) -> Result<Option<UserId>, DomainError> {
    let key = (identity.provider, identity.issuer.as_str(), identity.subject.as_str());
    let shown = (identity.email.as_deref(), identity.login.as_deref());
    Ok(db::connected_accounts::use_identity(&svc.db, key, shown, only_for).await?)
}

pub(super) async fn sign_in(svc: &Services, identity: &Identity, now: OffsetDateTime, client: &ClientInfo) -> Result<Finished, DomainError> {
    let linked = use_identity(svc, identity, None).await?;
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
    // The provider stands where the right password stands: the throttle path must be open (as
    // `accounts::sign_in` checks before its second step), or restarting the flow would give anyone
    // holding the provider account 5 more code guesses each time. A browser that never fully
    // signed in counts on the account's proven path, not the untrusted one that strangers who
    // know the address can keep locked: the identity proves more than the address.
    // (a browser's entry from before the account's password or authenticator counts as none, as
    // at a password sign-in: `DeviceCookieKey::path`)
    let fresh_from = db::users::find(&svc.db, user_id).await?.and_then(|u| u.secrets_changed_at);
    let path = crate::auth::throttle::path_with_provider(svc, client, user_id, fresh_from);
    let Some(attempt) = crate::auth::throttle::claim(svc, user_id, path, client).await? else {
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
    let shown_as = identity.shown_as();
    let connected = crate::db::events::NewEvent { detail: Some(identity.provider.name()), identity: shown_as.as_deref(), ..crate::db::events::NewEvent::new(user_id, None, EventKind::ProviderConnected) };
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

pub(super) async fn connect(svc: &Services, auth: &AuthSession, identity: &Identity, now: OffsetDateTime, client: &ClientInfo) -> Result<Finished, DomainError> {
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
    let shown_as = identity.shown_as();
    let event = crate::db::events::NewEvent { detail: Some(identity.provider.name()), identity: shown_as.as_deref(), ..crate::db::events::NewEvent::new(auth.user_id, Some(auth.session_id), EventKind::ProviderConnected) };
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
pub(super) async fn reverify(
    svc: &Services,
    auth: &AuthSession,
    identity: &Identity,
    began: OffsetDateTime,
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
    if use_identity(svc, identity, Some(auth.user_id)).await?.is_none() {
        // (listed as a wrong password in the same dialog is: someone at this browser could not
        // confirm it's the owner)
        let what = format!("{}: an account not connected to yours", identity.provider.name());
        let event = db::events::NewEvent { detail: Some(&what), ..db::events::NewEvent::new(auth.user_id, Some(auth.session_id), EventKind::ReverifyFailed) };
        db::events::insert(&svc.db, &event, client, svc.clock.now()).await?;
        return Err(failed(ProviderFailure::NotLinked));
    }
    let mut tx = svc.db.begin().await?;
    let done = mark_verified(&mut tx, svc, auth, client, identity.provider.name()).await?;
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
