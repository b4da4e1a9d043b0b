//! Re-verification ("sudo mode"): sensitive changes need a sign-in or re-verification no older than
//! the window (`[session] reverify_window_minutes`, 10 by default). A successful re-verification
//! gives the session a new token: the old cookie is refused at once.
use time::OffsetDateTime;

use crate::request::{AuthSession, ClientInfo};
use crate::auth::throttle::{self, verify_throttled, Check};
use crate::db;
use crate::kinds::EventKind;
use crate::secret::{Password, SessionToken};
use crate::error::Invalid;
use crate::{DomainError, Services};

/// A successful re-verification: until when it holds, and the session's new token (for the cookie).
#[derive(Debug)]
pub struct Reverified {
    pub until: OffsetDateTime,
    pub token: SessionToken,
}

/// Re-verifies with the account's password (through the throttle of this browser's path).
pub async fn with_password(
    svc: &Services,
    auth: &AuthSession,
    password: &Password,
    client: &ClientInfo,
) -> Result<Reverified, DomainError> {
    let user = db::users::find(&svc.db, auth.user_id).await?.ok_or(DomainError::Unauthenticated)?;
    if user.password_hash.is_none() {
        return Err(DomainError::Invalid(Invalid::NoPasswordToConfirm));
    }
    if password.expose().is_empty() {
        return Err(DomainError::Invalid(Invalid::PasswordMissing));
    }
    let Some(attempt) = verify_throttled(svc, &user, password, client, Check::Reverify).await? else {
        return Err(DomainError::Invalid(Invalid::PasswordWrong));
    };
    attempt.succeeded(svc).await?;
    let mut tx = svc.db.begin().await?;
    let done = mark_verified(&mut tx, svc, auth, client, "your password").await?;
    tx.commit().await?;
    Ok(done)
}

/// Re-verifies with a code from the account's authenticator app (each code works once), through
/// the throttle of this browser's path (shared with passwords).
pub async fn with_authenticator_code(
    svc: &Services,
    auth: &AuthSession,
    code: &str,
    client: &ClientInfo,
) -> Result<Reverified, DomainError> {
    let wrong = || DomainError::Invalid(Invalid::AuthenticatorCodeWrong);
    crate::auth::totp::refuse_unfinished(code)?;
    // (no code can be right: said before anything is counted. One turned off since this request
    // was authenticated counts as a wrong code, as it did a moment earlier.)
    if !auth.has_second_factor {
        return Err(DomainError::Invalid(Invalid::NoAuthenticatorToConfirm));
    }
    let path = throttle::path(svc, client, auth.user_id, None);
    let Some(attempt) = throttle::claim(svc, auth.user_id, path, client).await? else {
        return Err(throttle::refusal(svc, auth.user_id, path).await?.unwrap_or_else(wrong));
    };
    let check = crate::auth::two_factor::verify_totp(svc, auth.user_id, code).await?;
    if check != crate::auth::two_factor::CodeCheck::Right {
        attempt.failed(svc, Check::Reverify, client).await?;
        return Err(DomainError::Invalid(check.refusal()));
    }
    attempt.succeeded(svc).await?;
    let mut tx = svc.db.begin().await?;
    let done = mark_verified(&mut tx, svc, auth, client, "a code from your authenticator app").await?;
    tx.commit().await?;
    Ok(done)
}

/// In the caller's transaction: the session is verified now, gets a new token, and a `reverified`
/// event is recorded, saying what confirmed it (`with`: "your password", "Google"; the activity
/// list's "Confirmed it's you with Google").
pub(crate) async fn mark_verified(
    tx: &mut sqlx::PgConnection,
    svc: &Services,
    auth: &AuthSession,
    client: &ClientInfo,
    with: &str,
) -> Result<Reverified, DomainError> {
    let now = svc.clock.now();
    let (token, hash) = crate::auth::sessions::new_token();
    // (a session that ended while the person confirmed stays ended)
    if !db::sessions::rotate_token(&mut *tx, auth.user_id, auth.session_id, &hash, now).await? {
        return Err(DomainError::Unauthenticated);
    }
    let event = db::events::NewEvent { detail: Some(with), ..db::events::NewEvent::new(auth.user_id, Some(auth.session_id), EventKind::Reverified) };
    db::events::insert(&mut *tx, &event, client, now).await?;
    Ok(Reverified { until: now + svc.sessions.reverify_window(), token })
}

/// Ends the verified window now: the next sensitive change asks again.
pub async fn end(svc: &Services, auth: &AuthSession) -> Result<(), DomainError> {
    db::sessions::set_verified_at(&svc.db, auth.user_id, auth.session_id, None).await?;
    Ok(())
}
