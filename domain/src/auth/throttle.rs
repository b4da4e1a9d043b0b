//! The guard every password and code check goes through: per-account guessing limits, counted per
//! path (a browser holding this account's device cookie has its own counter; every other browser
//! shares the account's untrusted one; see `device_cookies`). Failures that were counted are
//! recorded as security events and logged at `info`, never with the password or code.
use time::OffsetDateTime;

use crate::auth::device_cookies::ThrottlePath;
use crate::auth::sessions::ClientInfo;
use crate::db;
use crate::ids::UserId;
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
    fn failed_event(self) -> &'static str {
        match self {
            Self::SignIn => "sign_in_failed",
            Self::SecondStep => "second_step_failed",
            Self::CurrentPassword => "current_password_failed",
            Self::Reverify => "reverify_failed",
        }
    }
}

/// The security event kind recorded when a failure locks a path.
pub const LOCKED_EVENT: &str = "sign_in_locked";

/// The path this request's guesses on `user`'s account are counted on.
pub fn path(svc: &Services, client: &ClientInfo, user: UserId) -> ThrottlePath {
    svc.device_cookies.path(client.device.as_ref(), user)
}

/// An attempt the throttle allowed and counted, not yet known to be right or wrong.
#[derive(Clone, Copy, Debug)]
pub struct Attempt {
    pub user_id: UserId,
    pub path: ThrottlePath,
    at: OffsetDateTime,
    locks: bool,
}

/// Counts an attempt on the request's path before it is checked; `None` while the path is
/// throttled or locked (the caller answers exactly as for a wrong password, after the same work).
pub async fn claim(svc: &Services, user_id: UserId, client: &ClientInfo) -> Result<Option<Attempt>, DomainError> {
    let path = path(svc, client, user_id);
    let at = svc.clock.now();
    match db::throttles::claim(&svc.db, user_id, path.key(), at, &svc.throttle).await? {
        Some(locks) => Ok(Some(Attempt { user_id, path, at, locks })),
        None => {
            tracing::info!(user_id = %user_id, trusted_device = path.is_trusted(), ip = client.ip.as_deref().unwrap_or("-"), "attempt refused by the throttle");
            Ok(None)
        }
    }
}

impl Attempt {
    /// The attempt was wrong: it stays counted; recorded as `check`'s failure (and as a lock-out
    /// when it locked the path).
    pub async fn failed(self, svc: &Services, check: Check, client: &ClientInfo) -> Result<(), DomainError> {
        record(svc, self.user_id, self.path, check, self.locks, client).await
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

/// A wrong code at the second step of a sign-in: counted on the path whatever its wait (the
/// pending sign-in bounds how many codes one right password may try), and recorded.
pub async fn second_step_failed(svc: &Services, user_id: UserId, client: &ClientInfo) -> Result<(), DomainError> {
    let path = path(svc, client, user_id);
    let locks = db::throttles::record_failure(&svc.db, user_id, path.key(), svc.clock.now(), &svc.throttle).await?;
    record(svc, user_id, path, Check::SecondStep, locks, client).await
}

/// A full sign-in on this request's path (passkey, or the second step done): its count starts again.
pub async fn reset(svc: &Services, user_id: UserId, client: &ClientInfo) -> Result<(), DomainError> {
    db::throttles::reset(&svc.db, user_id, path(svc, client, user_id).key()).await?;
    Ok(())
}

async fn record(svc: &Services, user_id: UserId, path: ThrottlePath, check: Check, locks: bool, client: &ClientInfo) -> Result<(), DomainError> {
    let now = svc.clock.now();
    let kind = check.failed_event();
    let ip = client.ip.as_deref().unwrap_or("-");
    tracing::info!(user_id = %user_id, event = kind, trusted_device = path.is_trusted(), ip, "failed attempt");
    let mut tx = svc.db.begin().await?;
    db::events::record(&mut *tx, user_id, None, kind, client, now).await?;
    if locks {
        tracing::info!(user_id = %user_id, trusted_device = path.is_trusted(), ip, "sign-in path locked after too many failures");
        db::events::record(&mut *tx, user_id, None, LOCKED_EVENT, client, now).await?;
    }
    tx.commit().await?;
    Ok(())
}
