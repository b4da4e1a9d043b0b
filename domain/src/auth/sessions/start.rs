//! Starting a session: after a full sign-in (every factor the account needs), with the sign-in
//! recorded in the same transaction (`activity::signed_in`), for each way of signing in.
use time::OffsetDateTime;

use super::{new_token, SignedIn};
use crate::auth::device_cookies::ThrottlePath;
use crate::db;
use crate::error::ProviderFailure;
use crate::ids::{PasskeyId, SessionId, UserId};
use crate::kinds::{Provider, SignInMethod};
use crate::request::ClientInfo;
use crate::secret::SessionToken;
use crate::{DomainError, Services};

/// Starts a session for a person who just proved who they are (fully: every factor the account
/// needs), records the sign-in (raising an alert when it is unfamiliar: `activity::signed_in`), and
/// renews this browser's device cookie for the account.
pub async fn start(
    svc: &Services,
    user_id: UserId,
    method: SignInMethod,
    client: &ClientInfo,
) -> Result<SignedIn, DomainError> {
    let mut tx = svc.db.begin().await?;
    let token = start_full(&mut tx, svc, None, user_id, method, None, client, svc.clock.now()).await?;
    tx.commit().await?;
    Ok(SignedIn::new(svc, user_id, token, client))
}

/// `start` for the sign-up that just stored the account's first passkey (`passkey`: its id and
/// name): the session and its `signed_in` event name it, as a passkey sign-in's do.
pub async fn start_with_new_passkey(
    svc: &Services,
    user_id: UserId,
    passkey: (PasskeyId, &str),
    client: &ClientInfo,
) -> Result<SignedIn, DomainError> {
    let mut tx = svc.db.begin().await?;
    let now = svc.clock.now();
    let token = start_full(&mut tx, svc, None, user_id, SignInMethod::Passkey, Some(passkey), client, now).await?;
    // (it signed the account in: used now, as a sign-in with it would record, and the Passkeys list
    // says so instead of "Never used")
    db::passkeys::record_use(&mut *tx, user_id, passkey.0, None, None, now).await?;
    tx.commit().await?;
    Ok(SignedIn::new(svc, user_id, token, client))
}

/// What a first step (a right password, a provider) earns: a session, or (the account has an
/// authenticator) a second step.
pub enum Started {
    SignedIn(SignedIn),
    SecondStepDue,
}

/// Starts a session for a person whose Google or GitHub identity (`identity`: provider, issuer,
/// subject) is linked to the account, unless, read again under the account's lock, the identity is
/// no longer linked to it (a disconnect committed while this waited: `NotLinked`, nothing started)
/// or the account has an authenticator (`SecondStepDue`, nothing started; also one turned on while
/// this waited for the lock).
pub async fn start_with_provider(
    svc: &Services,
    user_id: UserId,
    identity: (Provider, &str, &str),
    client: &ClientInfo,
) -> Result<Started, DomainError> {
    let (provider, issuer, subject) = identity;
    let mut tx = svc.db.begin().await?;
    let locked = db::alerts::lock_for_sign_in(&mut *tx, user_id).await?;
    if db::connected_accounts::owner(&mut *tx, provider, issuer, subject).await? != Some(user_id) {
        tx.rollback().await?;
        return Err(DomainError::Provider(ProviderFailure::NotLinked));
    }
    let method = SignInMethod::of(Some(provider), None);
    let now = svc.clock.now();
    let Some(token) = start_in(&mut tx, svc, Some(locked), user_id, method, None, true, client, now).await? else {
        tx.rollback().await?;
        return Ok(Started::SecondStepDue);
    };
    db::connected_accounts::mark_signed_in(&mut *tx, user_id, provider, now).await?;
    tx.commit().await?;
    Ok(Started::SignedIn(SignedIn::new(svc, user_id, token, client)))
}

/// Starts a session for a person whose password was right, unless it has changed since the
/// sign-in read the account (`password_changed_at` as it read it): then `InvalidCredentials`, so a
/// change or reset that commits while the hash is being checked is never outlived by a session of
/// the password before it. The account having an authenticator answers `SecondStepDue` and starts
/// nothing: read in the statement that takes the lock, and again by the session's insert after it
/// (`events::insert_sign_in`), which also sees one turned on while this waited for the lock. With
/// the session, the throttle count of the sign-in's path (`path`) starts again, in the same
/// transaction.
pub async fn start_with_password(
    svc: &Services,
    user_id: UserId,
    password_changed_at: Option<OffsetDateTime>,
    path: &ThrottlePath,
    client: &ClientInfo,
) -> Result<Started, DomainError> {
    let mut tx = svc.db.begin().await?;
    let found = db::alerts::lock_for_password_sign_in(&mut *tx, user_id, password_changed_at, path.key())
        .await?
        .ok_or(DomainError::InvalidCredentials)?;
    let started = if found.second_step_due {
        None
    } else {
        start_in(&mut tx, svc, Some(found.locked), user_id, SignInMethod::Password, None, true, client, svc.clock.now()).await?
    };
    let Some(token) = started else {
        // (the account's row unlocked now, not when the connection goes back to the pool: the
        // pending sign-in that follows waits for no one; the throttle's reset is undone with it)
        tx.rollback().await?;
        return Ok(Started::SecondStepDue);
    };
    tx.commit().await?;
    Ok(Started::SignedIn(SignedIn::new(svc, user_id, token, client)))
}

/// Starts a session in the caller's transaction, which has locked the account's row for it
/// (`locked`): a sign-in whose last step changed something of the account's first (a second step
/// used up its pending sign-in).
pub async fn start_locked(
    conn: &mut sqlx::PgConnection,
    svc: &Services,
    locked: db::alerts::LockedForSignIn,
    user_id: UserId,
    method: SignInMethod,
    client: &ClientInfo,
    now: OffsetDateTime,
) -> Result<SessionToken, DomainError> {
    start_full(conn, svc, Some(locked), user_id, method, None, client, now).await
}

/// Starts a session for a person who signed in with one of their passkeys (`name`), in the
/// caller's transaction, which has locked the account's row for it (`locked`).
pub async fn start_with_passkey(
    conn: &mut sqlx::PgConnection,
    svc: &Services,
    locked: db::alerts::LockedForSignIn,
    user_id: UserId,
    passkey: (PasskeyId, &str),
    now: OffsetDateTime,
    client: &ClientInfo,
) -> Result<SessionToken, DomainError> {
    start_full(conn, svc, Some(locked), user_id, SignInMethod::Passkey, Some(passkey), client, now).await
}

/// `start_in` for a sign-in that proved every step the account needs: it always starts one.
async fn start_full(
    conn: &mut sqlx::PgConnection,
    svc: &Services,
    locked: Option<db::alerts::LockedForSignIn>,
    user_id: UserId,
    method: SignInMethod,
    passkey: Option<(PasskeyId, &str)>,
    client: &ClientInfo,
    now: OffsetDateTime,
) -> Result<SessionToken, DomainError> {
    start_in(conn, svc, locked, user_id, method, passkey, false, client, now)
        .await?
        .ok_or_else(|| DomainError::Internal("a fully proven sign-in started no session".into()))
}

/// The session's token, or `None` (only with `first_step_only`) when the account has an
/// authenticator: nothing was written then.
#[allow(clippy::too_many_arguments)]
async fn start_in(
    conn: &mut sqlx::PgConnection,
    svc: &Services,
    locked: Option<db::alerts::LockedForSignIn>,
    user_id: UserId,
    method: SignInMethod,
    passkey: Option<(PasskeyId, &str)>,
    first_step_only: bool,
    client: &ClientInfo,
    now: OffsetDateTime,
) -> Result<Option<SessionToken>, DomainError> {
    let (token, hash) = new_token();
    let session = db::events::NewSession { id: SessionId::new(), token_hash: &hash, passkey_id: passkey.map(|p| p.0) };
    let started = crate::auth::activity::signed_in(conn, svc, locked, user_id, &session, method, passkey.map(|p| p.1), first_step_only, client, now).await?;
    Ok(started.then_some(token))
}
