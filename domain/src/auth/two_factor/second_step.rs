//! The second step of a sign-in: a pending sign-in begun after the first step, completed with an
//! authenticator code or a backup code, or ended ("Back to sign in").
use time::{Duration, OffsetDateTime};

use super::{use_backup_code, verify_totp};
use crate::auth::totp;
use crate::db;
use crate::error::Invalid;
use crate::ids::UserId;
use crate::kinds::{Provider, SignInMethod};
use crate::request::ClientInfo;
use crate::secret::PendingToken;
use crate::{DomainError, Services};

/// How long a sign-in may wait for its second step.
pub const PENDING_MINUTES: i64 = 5;
/// Attempts at a code that end a pending sign-in when the last is wrong.
pub const PENDING_MAX_FAILURES: i32 = 5;

/// What proved the first step of a sign-in.
#[derive(Clone, Copy, Debug)]
pub(crate) enum FirstStep<'a> {
    /// The password the sign-in read with the account (`password_changed_at` as it read it).
    Password { changed_at: Option<OffsetDateTime> },
    /// The identity `(provider, issuer, subject)` linked to the account.
    Provider(Provider, &'a str, &'a str),
}

/// A pending sign-in for an account whose first step succeeded, only while that first step still
/// stands, so no second step outlives what would have ended it: after a password,
/// `InvalidCredentials` instead if it is no longer the account's (a change or reset committed
/// while it was checked); after a provider, `NotLinked` if the identity was disconnected meanwhile.
///
/// It replaces the account's pending sign-in on the same throttle `path` (the one the first step
/// was counted on): the first step's attempt is forgiven once the pending sign-in exists, so
/// without that, whoever holds the password could open many and try 5 codes on each.
pub(crate) async fn begin_second_step(
    svc: &Services,
    user_id: UserId,
    path: crate::auth::device_cookies::ThrottlePath,
    first: FirstStep<'_>,
) -> Result<PendingToken, DomainError> {
    let (token, hash) = crate::auth::sessions::new_cookie_token();
    let now = svc.clock.now();
    let expires_at = now + Duration::minutes(PENDING_MINUTES);
    match first {
        FirstStep::Password { changed_at } => {
            if !db::pending_sign_ins::insert_pending_after_password(&svc.db, user_id, &hash, path.key(), changed_at, now, expires_at).await? {
                return Err(DomainError::InvalidCredentials);
            }
        }
        FirstStep::Provider(provider, issuer, subject) => {
            if !db::pending_sign_ins::insert_pending_from_provider(&svc.db, user_id, &hash, path.key(), (provider, issuer, subject), now, expires_at).await? {
                return Err(DomainError::Provider(crate::error::ProviderFailure::NotLinked));
            }
        }
    }
    Ok(PendingToken::from_cookie(token))
}

/// Ends a pending sign-in the person turned away from ("Back to sign in"): its code step no longer
/// takes any code. Nothing to end (already used, expired, replaced, or a cookie that was never a
/// pending sign-in's) is success too: the goal is reached.
pub async fn cancel_second_step(svc: &Services, pending: &PendingToken) -> Result<(), DomainError> {
    if let Some(hash) = crate::auth::sessions::hash_cookie_token(pending.expose()) {
        db::pending_sign_ins::delete_pending(&svc.db, &hash).await?;
    }
    Ok(())
}

/// Which second step the person uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecondStep {
    Authenticator,
    BackupCode,
}

pub use crate::auth::sessions::SignedIn;

/// Completes a pending sign-in with a code. A wrong code counts against the pending sign-in (5 end
/// it) and on the throttle path its first step was counted on, like a wrong password, and is recorded;
/// `SignInAgain` once it is over (or replaced by a newer one on its path: `begin_second_step`).
/// The code step itself does not wait for the throttle: the right password already passed it,
/// and each pending sign-in allows only 5 codes, so an attacker's earlier failures can never make
/// the owner's right code fail.
pub async fn complete_sign_in(
    svc: &Services,
    pending: &PendingToken,
    step: SecondStep,
    code: &str,
    client: &ClientInfo,
) -> Result<SignedIn, DomainError> {
    let hash = crate::auth::sessions::hash_cookie_token(pending.expose()).ok_or(DomainError::SignInAgain)?;
    // (an empty or cut-short code costs none of the pending sign-in's 5 tries)
    match step {
        SecondStep::Authenticator => totp::refuse_unfinished(code)?,
        SecondStep::BackupCode if code.trim().is_empty() => return Err(DomainError::Invalid(Invalid::BackupCodeMissing)),
        SecondStep::BackupCode => {}
    }
    let now = svc.clock.now();
    let claimed = db::pending_sign_ins::claim_pending(&svc.db, &hash, now, PENDING_MAX_FAILURES).await?.ok_or(DomainError::SignInAgain)?;
    let (user_id, attempts, provider) = (claimed.user_id, claimed.failures, claimed.provider);
    // (the path its first step was counted on: after a provider, the account's proven path)
    let path = crate::auth::device_cookies::ThrottlePath::from_key(&claimed.throttle_path);
    let (outcome, refusal) = match step {
        SecondStep::Authenticator => {
            let check = verify_totp(svc, user_id, code).await?;
            ((check == super::CodeCheck::Right).then_some(None), check.refusal())
        }
        SecondStep::BackupCode => (use_backup_code(svc, user_id, code).await?.map(Some), Invalid::BackupCodeWrong),
    };
    let Some(backup_codes_left) = outcome else {
        crate::auth::throttle::second_step_failed(svc, user_id, path, client).await?;
        if attempts >= PENDING_MAX_FAILURES {
            db::pending_sign_ins::delete_pending(&svc.db, &hash).await?;
            return Err(DomainError::SignInAgain);
        }
        return Err(DomainError::Invalid(refusal));
    };
    // The pending sign-in is used once (even if two tabs finish at the same moment), and the
    // session begins in the same transaction, after the account's row: Sign out everywhere, a
    // password change or reset and "This wasn't me" take that row first too, so each comes either
    // before (the pending sign-in is gone) or after (it ends this session with the others).
    let mut tx = svc.db.begin().await?;
    let locked = db::alerts::lock_for_sign_in(&mut *tx, user_id).await?;
    // (the session's time is after any wait for the lock: sessions compare their start times)
    let now = svc.clock.now();
    if !db::pending_sign_ins::delete_pending(&mut *tx, &hash).await? {
        return Err(DomainError::SignInAgain);
    }
    crate::auth::throttle::reset(&mut *tx, user_id, path).await?;
    let method = SignInMethod::of(provider, Some(step == SecondStep::BackupCode));
    let token = crate::auth::sessions::start_locked(&mut tx, svc, locked, user_id, method, client, now).await?;
    // (a provider's first step counts as its use to sign in only now; its link is still there:
    // disconnecting it deleted this pending sign-in, which was found above)
    if let Some(provider) = provider {
        db::connected_accounts::mark_signed_in(&mut *tx, user_id, provider, now).await?;
    }
    tx.commit().await?;
    let mut signed_in = SignedIn::new(svc, user_id, token, client);
    signed_in.backup_codes_left = backup_codes_left;
    Ok(signed_in)
}
