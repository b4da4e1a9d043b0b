//! View types: the plain data that section components draw. No secrets, no internal ids beyond
//! what the browser needs to act. How the server builds them from the domain's rows is in
//! `from_domain.rs` (server only).
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
mod from_domain;
#[cfg(feature = "ssr")]
pub use from_domain::{session_lifetime, taken_back_words};
mod links;
pub use links::*;

/// The signed-in person, for the header.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Viewer {
    pub email: String,
    pub display_name: Option<String>,
}

/// The signed-in session, as `/api/session` reports it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionStatus {
    pub email: String,
    pub display_name: Option<String>,
    /// "Free", "Pro" or "Enterprise".
    pub plan: String,
}

/// A moment shown relative to now, with the exact time for hover.
///
/// Two are equal when they are the same instant (`iso`): "3 minutes ago" read a minute later is
/// the same moment, so a section of Security & Access whose times only aged is not drawn again
/// after a change elsewhere (see `security::drawn_from`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Moment {
    /// "3 days ago"
    pub relative: String,
    /// "2026-03-03 14:05 UTC"
    pub exact: String,
    /// RFC 3339
    pub iso: String,
    /// How old it was, in seconds, when the server said `relative`: the page says its age again
    /// every half minute from it (`components::aging`). `None` in previews, which never age.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age: Option<i64>,
}

impl PartialEq for Moment {
    fn eq(&self, other: &Self) -> bool {
        self.iso == other.iso
    }
}

/// The re-verification window of this session.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VerificationView {
    /// Seconds left in the window (0: the next sensitive change asks first).
    pub seconds_left: u64,
    /// The account can re-verify with a password.
    pub has_password: bool,
    /// The account can re-verify with a passkey.
    #[serde(default)]
    pub has_passkey: bool,
    /// The connected providers it can re-verify with.
    #[serde(default)]
    pub providers: Vec<ProviderKind>,
    /// How long a re-verification lasts (`[session] reverify_window_minutes`), for the dialog's
    /// "you won't be asked again for 10 minutes".
    pub window_minutes: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PasswordView {
    pub has_password: bool,
    pub changed: Option<Moment>,
}

/// Kind of device, for the session's icon.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeviceKind {
    Desktop,
    Phone,
    Tablet,
    Unknown,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionView {
    pub id: String,
    /// "Firefox 140", or "Unknown browser".
    pub browser: String,
    /// "Firefox 140 on Windows 10 in Berlin", for confirmations.
    pub label: String,
    /// "Windows 10", or "Unknown OS".
    pub os: String,
    pub kind: DeviceKind,
    /// The full user agent, for the curious (shown on hover).
    pub user_agent: String,
    pub ip: String,
    /// "Berlin, Land Berlin, Germany", "Local network" or "Unknown".
    pub location: String,
    /// "Password", …
    pub method: String,
    pub signed_in: Moment,
    pub last_active: Moment,
    pub current: bool,
    /// First sign-in from this device or country, in the last 14 days.
    pub new_device: bool,
    /// Its second step was a backup code (one was used up).
    pub backup_code: bool,
}

/// Backup codes: when they were made and how many are left.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BackupCodesView {
    pub generated: Moment,
    pub left: i64,
    pub total: i64,
}

/// The Two-step verification section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TwoFactorView {
    /// When the authenticator app was turned on; `None` when it is off.
    pub enabled: Option<Moment>,
    pub backup_codes: Option<BackupCodesView>,
    /// The account's organisation requires a second factor (Enterprise).
    pub required: bool,
    /// This session signed in with a passkey, which already counts as both factors.
    #[serde(default)]
    pub passkey_session: bool,
}

/// What Set up shows, once: the QR code and the key to type by hand. Sent only to the session that
/// began the setup, never stored in the browser.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct EnrolmentView {
    /// SVG markup of the QR code of the otpauth:// URI.
    pub qr_svg: String,
    /// The base32 key in groups of four.
    pub manual_key: String,
    /// Which setup this is, sent back with the code (`domain::auth::totp::setup_tag`).
    pub setup: String,
    /// A change of the app that is on (Change app), not a first setup.
    #[serde(default)]
    pub change: bool,
}

impl std::fmt::Debug for EnrolmentView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EnrolmentView([redacted])")
    }
}

/// What finishing a first setup of the authenticator app answers: the backup codes (shown once)
/// and how many other sessions ended (Enterprise: those that signed in without a second factor).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct TotpTurnedOn {
    pub codes: Vec<String>,
    pub signed_out: u64,
}

impl std::fmt::Debug for TotpTurnedOn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TotpTurnedOn([redacted codes], signed_out: {})", self.signed_out)
    }
}

/// One passkey in the Passkeys section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PasskeyView {
    pub id: String,
    pub name: String,
    /// "iCloud Keychain", "Google Password Manager", …; `None` when the model is unknown.
    pub provider: Option<String>,
    /// Backup eligible: the provider syncs it to the person's other devices.
    pub synced: bool,
    pub created: Moment,
    /// `None`: never used yet.
    pub last_used: Option<Moment>,
    /// The account's other live sessions that signed in with it (Remove can sign them out).
    pub sessions: u32,
}

/// The Passkeys section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct PasskeysView {
    pub items: Vec<PasskeyView>,
    /// Removing one leaves another way to sign in (a password, or another passkey).
    pub can_remove: bool,
}

/// A provider people can sign in with (the browser's name for `domain::kinds::Provider`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ProviderKind {
    Google,
    GitHub,
}

impl ProviderKind {
    pub const ALL: [ProviderKind; 2] = [ProviderKind::Google, ProviderKind::GitHub];

    /// As people know it: "Google", "GitHub".
    pub fn name(self) -> &'static str {
        match self {
            ProviderKind::Google => "Google",
            ProviderKind::GitHub => "GitHub",
        }
    }

    /// In URLs: "google", "github".
    pub fn slug(self) -> &'static str {
        match self {
            ProviderKind::Google => "google",
            ProviderKind::GitHub => "github",
        }
    }

    pub fn from_slug(slug: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.slug() == slug)
    }
}

/// A provider this server offers: "Continue with …" buttons and the Connected accounts rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderOption {
    pub kind: ProviderKind,
    /// A local development provider stands in for the real one (the page says so).
    pub local: bool,
}

/// The provider account connected to this account.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConnectedView {
    /// How its owner knows it there: the GitHub login ("@octocat"), or else its email; empty when
    /// the provider said neither.
    pub account: String,
    /// Its email as well, when `account` is a login.
    pub email: Option<String>,
    pub connected: Moment,
    /// Last sign-in with it (`None`: not used to sign in yet).
    pub last_used: Option<Moment>,
    /// The account's other live sessions that signed in with it (Disconnect can sign them out).
    pub sessions: u32,
    /// It made the account minutes ago: the account's only way to sign in, connected in the last
    /// 15 minutes. What a "new account" sentence from the address may claim (the address is
    /// anyone's to write).
    pub made_the_account: bool,
}

/// One row of the Connected accounts section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConnectedAccountView {
    pub provider: ProviderOption,
    pub connected: Option<ConnectedView>,
    /// Disconnecting it leaves a way to sign in (a password, a passkey, another provider); always
    /// so for a provider this server no longer offers (it signs in nowhere).
    pub can_disconnect: bool,
}

/// The Connected accounts section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct ConnectedAccountsView {
    pub rows: Vec<ConnectedAccountView>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SecurityOverview {
    pub viewer: Viewer,
    pub password: PasswordView,
    pub verification: VerificationView,
    pub two_factor: TwoFactorView,
    pub passkeys: PasskeysView,
    pub connected_accounts: ConnectedAccountsView,
    pub sessions: Vec<SessionView>,
    /// "Signed-in devices are signed out after 14 days without activity, and 30 days after signing in."
    pub session_lifetime: String,
    /// "Was this you?": the newest unanswered unfamiliar sign-in (never this session's own).
    #[serde(default)]
    pub prompt: Option<SignInPromptView>,
    /// Recent security activity's first page, every kind (the section fetches other filters and
    /// older pages itself).
    pub activity: ActivityPageView,
}

/// The unfamiliar sign-in the page asks about: "New sign-in: Chrome on Windows, near Berlin, 2
/// hours ago. Was this you?"
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SignInPromptView {
    /// The alert's id (checked against the account on the server).
    pub id: String,
    /// "Chrome 131 on Windows 10" (cut to 80 characters).
    pub device: String,
    /// "Berlin", when the location is known.
    pub place: Option<String>,
    /// "Berlin, Land Berlin, Germany" or "Unknown".
    pub location: String,
    pub ip: String,
    /// "a password", "a passkey".
    pub method: String,
    pub at: Moment,
}

/// One entry of Recent security activity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActivityView {
    pub id: String,
    /// The stored kind ("signed_in"), for tests and styling.
    pub kind: String,
    /// "Signed in with a passkey (iCloud Keychain)".
    pub sentence: String,
    pub at: Moment,
    /// "Chrome 131 on Windows 10"; empty when the request named no browser (the row leaves out
    /// what was not known, instead of "Unknown browser on Unknown OS · Unknown · unknown"; the
    /// downloads keep a value in every column).
    pub device: String,
    /// The full user agent (shown on hover).
    pub user_agent: String,
    /// Approximate; empty when it was not known.
    pub location: String,
    /// Empty when the request had no address.
    pub ip: String,
}

/// A page of Recent security activity, and the cursor of the next (older) page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActivityPageView {
    pub events: Vec<ActivityView>,
    pub next: Option<String>,
}

/// The filters of Recent security activity: (value, label).
pub const ACTIVITY_FILTERS: &[(&str, &str)] =
    &[("", "All activity"), ("sign_ins", "Sign-ins"), ("sessions", "Sessions"), ("credentials", "Credential changes"), ("alerts", "Alerts")];
