//! Re-verification ("sudo mode"): sensitive changes need a sign-in or re-verification no older than
//! the window (`[session] reverify_window_minutes`, 10 by default).
use time::OffsetDateTime;

use crate::auth::accounts::verify_throttled;
use crate::auth::sessions::{AuthSession, ClientInfo};
use crate::db;
use crate::secret::Password;
use crate::{DomainError, Services};

/// Until when this session counts as recently verified; `None` once the window has passed.
pub fn verified_until(svc: &Services, auth: &AuthSession) -> Option<OffsetDateTime> {
    let until = auth.verified_at + svc.sessions.reverify_window();
    (until > svc.clock.now()).then_some(until)
}

/// `ReverifyRequired` unless the session proved who it is within the window.
pub fn require_recent(svc: &Services, auth: &AuthSession) -> Result<(), DomainError> {
    verified_until(svc, auth).map(|_| ()).ok_or(DomainError::ReverifyRequired)
}

/// Re-verifies with the account's password (through the account's throttle); answers until when.
pub async fn with_password(
    svc: &Services,
    auth: &AuthSession,
    password: &Password,
    client: &ClientInfo,
) -> Result<OffsetDateTime, DomainError> {
    let user = db::users::find(&svc.db, auth.user_id).await?.ok_or(DomainError::Unauthenticated)?;
    if user.password_hash.is_none() {
        return Err(DomainError::Invalid {
            field: "password",
            message: "This account has no password. Sign out and sign in again to continue.".into(),
        });
    }
    if !verify_throttled(svc, &user, password).await? {
        return Err(DomainError::Invalid { field: "password", message: "That password is not correct.".into() });
    }
    db::users::reset_attempts(&svc.db, user.id).await?;
    let now = svc.clock.now();
    let mut tx = svc.db.begin().await?;
    db::sessions::set_verified_at(&mut *tx, auth.user_id, auth.session_id, Some(now)).await?;
    db::events::record(&mut *tx, auth.user_id, Some(auth.session_id), "reverified", client, now).await?;
    tx.commit().await?;
    Ok(now + svc.sessions.reverify_window())
}

/// Re-verifies with a code from the account's authenticator app (each code works once), through
/// the account's throttle (shared with passwords); answers until when.
pub async fn with_authenticator_code(
    svc: &Services,
    auth: &AuthSession,
    code: &str,
    client: &ClientInfo,
) -> Result<OffsetDateTime, DomainError> {
    let wrong = || DomainError::Invalid { field: "code", message: "That code is not right. Enter the current code from your authenticator app.".into() };
    let now = svc.clock.now();
    if !db::users::claim_attempt(&svc.db, auth.user_id, now, &svc.throttle).await? {
        return Err(wrong());
    }
    if !crate::auth::two_factor::verify_totp(svc, auth.user_id, code).await? {
        return Err(wrong());
    }
    db::users::reset_attempts(&svc.db, auth.user_id).await?;
    let mut tx = svc.db.begin().await?;
    db::sessions::set_verified_at(&mut *tx, auth.user_id, auth.session_id, Some(now)).await?;
    db::events::record(&mut *tx, auth.user_id, Some(auth.session_id), "reverified", client, now).await?;
    tx.commit().await?;
    Ok(now + svc.sessions.reverify_window())
}

/// Ends the verified window now: the next sensitive change asks again.
pub async fn end(svc: &Services, auth: &AuthSession) -> Result<(), DomainError> {
    db::sessions::set_verified_at(&svc.db, auth.user_id, auth.session_id, None).await?;
    Ok(())
}
