//! The guard every password and code check goes through: per-account guessing limits, counted per
//! path (a browser holding this account's device cookie has its own counter; one that proved the
//! mailbox or a linked provider without fully signing in shares the account's proven one; every
//! other browser shares the account's untrusted one; see `device_cookies`). Failures that were counted are
//! recorded as security events and logged at `info`, never with the password or code. Below every
//! capability that checks a password or a code (sign-in, password change, re-verification).
use time::OffsetDateTime;

use crate::auth::device_cookies::ThrottlePath;
use crate::request::ClientInfo;
use crate::db;
use crate::ids::UserId;
use crate::kinds::EventKind;
use crate::secret::Password;
use crate::{DomainError, Services};

/// Which check failed, for the security history.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// The password at sign-in.
    SignIn,
    /// A code (authenticator or backup) at the second step of a sign-in.
    SecondStep,
    /// The current password when changing it.
    CurrentPassword,
    /// The password or a code when confirming it's you.
    Reverify,
}

impl Check {
    fn failed_event(self) -> EventKind {
        match self {
            Self::SignIn => EventKind::SignInFailed,
            Self::SecondStep => EventKind::SecondStepFailed,
            Self::CurrentPassword => EventKind::CurrentPasswordFailed,
            Self::Reverify => EventKind::ReverifyFailed,
        }
    }
}

/// The path this request's guesses on `user`'s account are counted on. `fresh_from`: at a
/// sign-in's first step the account's `secrets_changed_at` (a browser's entry from before its
/// password or authenticator counts as none: `DeviceCookieKey::path`); `None` for a signed-in
/// browser's checks.
pub fn path(svc: &Services, client: &ClientInfo, user: UserId, fresh_from: Option<OffsetDateTime>) -> ThrottlePath {
    svc.device_cookies.path(client.device.as_ref(), user, svc.clock.now(), fresh_from)
}

/// The path of a browser that proved `user`'s linked Google or GitHub identity (a sign-in's first
/// step): its own if it has a fresh one, the account's proven path otherwise (never the untrusted
/// one, which strangers who know the address can keep locked, nor the stale one, which copies of
/// old entries share).
pub fn path_with_provider(svc: &Services, client: &ClientInfo, user: UserId, fresh_from: Option<OffsetDateTime>) -> ThrottlePath {
    match path(svc, client, user, fresh_from) {
        ThrottlePath::Untrusted | ThrottlePath::Stale => ThrottlePath::Proven,
        own => own,
    }
}

/// An attempt the throttle allowed and counted, not yet known to be right or wrong.
#[derive(Clone, Copy, Debug)]
pub struct Attempt {
    pub user_id: UserId,
    pub path: ThrottlePath,
    at: OffsetDateTime,
    locks: bool,
}

/// Counts an attempt on `path` (the request's: [`path`]) before its check's result is used; `None`
/// while the path is throttled or locked (the caller answers exactly as for a wrong password, after
/// the same work, or with [`refusal`]).
pub async fn claim(svc: &Services, user_id: UserId, path: ThrottlePath, client: &ClientInfo) -> Result<Option<Attempt>, DomainError> {
    let at = svc.clock.now();
    match db::throttles::claim(&svc.db, user_id, path.key(), at, &svc.throttle).await? {
        Some(locks) => Ok(Some(Attempt { user_id, path, at, locks })),
        None => {
            tracing::info!(user_id = %user_id, path = path.name(), ip = client.ip.as_deref().unwrap_or("-"), "attempt refused by the throttle");
            Ok(None)
        }
    }
}

impl Attempt {
    /// The attempt was wrong: it stays counted; recorded as `check`'s failure (and as a lock-out
    /// when it locked the path).
    pub async fn failed(self, svc: &Services, check: Check, client: &ClientInfo) -> Result<(), DomainError> {
        record(svc, self.user_id, self.path, check, self.locks, client, self.at).await
    }

    /// Right, and the person is fully authenticated: the path's count starts again.
    pub async fn succeeded(self, svc: &Services) -> Result<(), DomainError> {
        db::throttles::reset(&svc.db, self.user_id, self.path.key()).await?;
        Ok(())
    }

    /// Right, but a second step is still due: this attempt no longer counts (nor its wait or
    /// lock), earlier failures still do.
    pub async fn forgiven(self, svc: &Services) -> Result<(), DomainError> {
        db::throttles::forgive(&svc.db, self.user_id, self.path.key(), self.at).await?;
        Ok(())
    }
}

/// A wrong code at the second step of a sign-in: counted on the pending sign-in's path (the one its
/// first step was counted on) whatever its wait (the pending sign-in bounds how many codes one
/// right password may try), and recorded.
pub async fn second_step_failed(svc: &Services, user_id: UserId, path: ThrottlePath, client: &ClientInfo) -> Result<(), DomainError> {
    let now = svc.clock.now();
    let locks = db::throttles::record_failure(&svc.db, user_id, path.key(), now, &svc.throttle).await?;
    record(svc, user_id, path, Check::SecondStep, locks, client, now).await
}

/// A full sign-in on `path` (the second step done, in the caller's transaction): its count starts
/// again.
pub async fn reset(db: impl sqlx::PgExecutor<'_>, user_id: UserId, path: ThrottlePath) -> Result<(), DomainError> {
    db::throttles::reset(db, user_id, path.key()).await?;
    Ok(())
}

/// What a refused attempt answers: `TooManyTries` with the wait on this browser's own path, or on
/// the stale one (it signed in to the account before, so the wait tells it nothing about accounts,
/// and its owner would otherwise hear that a right password was wrong, and reset a password that
/// was fine); `None` on the proven and untrusted paths, which answer as for a wrong password.
pub async fn refusal(svc: &Services, user_id: UserId, path: ThrottlePath) -> Result<Option<DomainError>, DomainError> {
    if !path.signed_in_before() {
        return Ok(None);
    }
    let now = svc.clock.now();
    let next = db::throttles::next_allowed(&svc.db, user_id, path.key(), now, &svc.throttle).await?;
    let seconds = |at: OffsetDateTime| u64::try_from((at - now).whole_seconds()).unwrap_or(0).max(1);
    Ok(next.map(|at| match path {
        ThrottlePath::Stale => DomainError::TooManyTriesOnAccount { retry_after_seconds: seconds(at) },
        _ => DomainError::TooManyTries { retry_after_seconds: seconds(at) },
    }))
}

/// Records a counted failure that happened `at` (recorded later than that after a sign-in's answer).
async fn record(svc: &Services, user_id: UserId, path: ThrottlePath, check: Check, locks: bool, client: &ClientInfo, at: OffsetDateTime) -> Result<(), DomainError> {
    let now = at;
    let kind = check.failed_event();
    let ip = client.ip.as_deref().unwrap_or("-");
    tracing::info!(user_id = %user_id, event = kind.as_str(), path = path.name(), ip, "failed attempt");
    let mut tx = svc.db.begin().await?;
    db::events::record(&mut *tx, user_id, None, kind, client, now).await?;
    if locks {
        tracing::info!(user_id = %user_id, path = path.name(), ip, "sign-in path locked after too many failures");
        db::events::record(&mut *tx, user_id, None, EventKind::SignInLocked, client, now).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Checks a password for an account, through the throttle of this browser's path (its own if it
/// holds the account's device cookie, the proven one with a proven entry, the account's untrusted
/// one otherwise): the attempt is
/// counted before the check's result is used (while the hash runs). While the throttle holds (too
/// many recent failures, or locked out) the answer is `None` after the same hashing work as a real
/// check, so a locked path looks exactly like a wrong password; except on this browser's own path,
/// which says `TooManyTries` with the wait (`refusal`). A wrong password stays counted and
/// is recorded as `check`'s failure (at sign-in, after the answer: `Services::after_answer`). A
/// right one answers the counted attempt; the caller decides what it earns: a reset of
/// the path's count once the person is fully authenticated, or only this attempt forgiven while a
/// second step is still due (so knowing the password never resets the count that limits guessing
/// codes).
pub(crate) async fn verify_throttled(
    svc: &Services,
    user: &db::users::UserRow,
    password: &Password,
    client: &ClientInfo,
    check: Check,
) -> Result<Option<Attempt>, DomainError> {
    // an oversized password is refused before anything is counted (it is never checked: counted,
    // it would have moved the path towards its lock with no failure recorded), as for an unknown
    // account; a full hashing queue refuses before the attempt is counted against the account
    if let Err(e) = crate::auth::password::check_size(password) {
        // no password longer than the limit was ever set, so when changing the password an
        // oversized "current password" is simply wrong ("Use at most 256 characters." beside two
        // password fields would read as a rule for the new one)
        return match check {
            Check::CurrentPassword => Ok(None),
            _ => Err(e),
        };
    }
    let admission = svc.hasher.admit()?;
    // The attempt is counted while the password is checked: the answer waits for the hash alone,
    // as for an unknown email (whose answer would otherwise come a round trip sooner). While the
    // path is throttled the check's result is never looked at.
    let stored = user.password_hash.as_deref();
    let checked = svc.hasher.verify_admitted(admission, password, stored);
    // (at sign-in, an entry from before the account's password or authenticator counts as none)
    let fresh_from = if check == Check::SignIn { user.secrets_changed_at } else { None };
    let path = path(svc, client, user.id, fresh_from);
    let (attempt, right) = match stored {
        Some(_) => tokio::try_join!(claim(svc, user.id, path, client), checked)?,
        None => (None, checked.await?),
    };
    match attempt {
        Some(attempt) if right => Ok(Some(attempt)),
        // A wrong password at sign-in is recorded after the answer, which then takes as long as
        // for an unknown email (the count that limits guessing was taken above, before it). The
        // signed-in checks (current password, re-verification) record it before answering.
        Some(attempt) if check == Check::SignIn => {
            let (svc, client) = (svc.clone(), client.clone());
            svc.after_answer.clone().spawn(crate::after_answer::Lane::Record, async move {
                if let Err(e) = attempt.failed(&svc, check, &client).await {
                    tracing::warn!(error = %e, "recording a failed sign-in failed after its answer");
                }
            });
            Ok(None)
        }
        Some(attempt) => {
            attempt.failed(svc, check, client).await?;
            Ok(None)
        }
        None if stored.is_some() => match refusal(svc, user.id, path).await? {
            Some(wait) => Err(wait),
            None => Ok(None),
        },
        None => Ok(None),
    }
}
