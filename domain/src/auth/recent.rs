//! The guard in front of every sensitive change: the session must have proved who it is (signed in
//! or re-verified) within the window (`[session] reverify_window_minutes`, 10 by default). How a
//! session re-verifies is `reverify`'s business; this module only reads the clock.
use time::OffsetDateTime;

use crate::request::AuthSession;
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

/// `require_recent` again inside the change's own transaction, from the session's row as it is
/// now: `Unauthenticated` if the session has ended, and `ReverifyRequired` after End now. Takes the
/// account's row first (which every revocation of several sessions takes first too, so one that
/// committed is seen, and the caller's later row locks keep the usual order). The request was
/// authenticated when it arrived; its body may come much later (a slow client), so without this
/// a session revoked meanwhile ("This wasn't me", Sign out everywhere, a reset) could still add a
/// passkey or an authenticator app.
pub async fn require_live_and_recent(tx: &mut sqlx::Transaction<'_, sqlx::Postgres>, svc: &Services, auth: &AuthSession) -> Result<(), DomainError> {
    crate::db::passkeys::lock_account(&mut **tx, auth.user_id).await?;
    let verified_at = crate::db::sessions::lock_live(&mut **tx, auth.user_id, auth.session_id).await?.ok_or(DomainError::Unauthenticated)?;
    require_recent(svc, &AuthSession { verified_at, ..auth.clone() })
}
