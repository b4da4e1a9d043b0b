//! Plain facts about the request being served: where it came from and, when signed in, whose
//! session it carries. Below every capability (`auth/*`) and beside `db/*`, which record them.
use time::OffsetDateTime;

use crate::ids::{SessionId, UserId};
use crate::kinds::SignInMethod;
use crate::plan::Plan;
use crate::secret::DeviceCookie;

/// Where a request came from, recorded on the session.
#[derive(Clone, Debug, Default)]
pub struct ClientInfo {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// ISO country code of `ip`, when the geo-IP database knows it.
    pub country: Option<String>,
    /// Approximate location of `ip` in words ("Berlin, Land Berlin, Germany"), when looked up.
    pub location: Option<String>,
    /// The browser's device cookie, if it sent one (decides which throttle counts its guesses).
    pub device: Option<DeviceCookie>,
}

/// A signed-in request's session.
#[derive(Clone, Debug)]
pub struct AuthSession {
    pub session_id: SessionId,
    pub user_id: UserId,
    pub email: String,
    pub display_name: Option<String>,
    pub verified_at: OffsetDateTime,
    /// The plan of the account's organisation (Free outside any organisation).
    pub plan: Plan,
    /// The account has a second factor (an authenticator app).
    pub has_second_factor: bool,
    /// How this session signed in.
    pub auth_method: SignInMethod,
}

impl AuthSession {
    /// The session signed in with a passkey that verified the person (both factors at once).
    pub fn signed_in_with_passkey(&self) -> bool {
        self.auth_method == SignInMethod::Passkey
    }

    /// The organisation requires a second factor, the account has no authenticator app and this
    /// session did not sign in with a passkey: until it sets one up, it may do nothing else (but
    /// end sessions, which only takes access away).
    pub fn must_set_up_second_factor(&self) -> bool {
        self.plan == Plan::Enterprise && !self.has_second_factor && !self.signed_in_with_passkey()
    }
}
