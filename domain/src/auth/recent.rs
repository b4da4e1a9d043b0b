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
