//! View types: the plain data that section components draw. No secrets, no internal ids beyond
//! what the browser needs to act.
use serde::{Deserialize, Serialize};

/// The signed-in person, for the header.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Viewer {
    pub email: String,
    pub display_name: Option<String>,
}

/// A moment shown relative to now, with the exact time for hover.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Moment {
    /// "3 days ago"
    pub relative: String,
    /// "2026-03-03 14:05 UTC"
    pub exact: String,
    /// RFC 3339
    pub iso: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PasswordView {
    pub has_password: bool,
    pub changed: Option<Moment>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionView {
    pub id: String,
    /// What the device says it is (the user agent), or "Unknown browser".
    pub device: String,
    pub ip: String,
    /// "Password", …
    pub method: String,
    pub signed_in: Moment,
    pub last_active: Moment,
    pub current: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SecurityOverview {
    pub viewer: Viewer,
    pub password: PasswordView,
    pub sessions: Vec<SessionView>,
}
