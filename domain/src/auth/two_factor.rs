//! Two-step verification: enrolling an authenticator app (bound to the session, 10 minutes),
//! changing it to another, single-use TOTP steps, backup codes (generate / regenerate / use once), and turning it off.
//! Re-sealing the stored secrets under a new key is `reseal`, and the second step of a sign-in
//! `second_step` (both re-exported here).
use time::{Duration, OffsetDateTime};

use crate::auth::backup_codes;
use crate::auth::recent::require_recent;
use crate::request::{AuthSession, ClientInfo};
use crate::auth::totp;
use crate::db;
use crate::ids::UserId;
use crate::kinds::{EventKind, RevokeReason};
use crate::plan::Plan;
use crate::secret_box::SecretBox;
use crate::error::Invalid;
use crate::{DomainError, Services};

mod reseal;
mod second_step;

pub use reseal::{reseal_all, ResealReport};
pub use second_step::{cancel_second_step, complete_sign_in, SecondStep, SignedIn, PENDING_MAX_FAILURES, PENDING_MINUTES};
pub(crate) use second_step::{begin_second_step, FirstStep};

/// How long an enrolment may take, from Set up to the first correct code.
pub const ENROLMENT_MINUTES: i64 = 10;

/// The server-side keys: the TOTP secrets' encryption keys and the backup codes' HMAC key.
pub struct Keys {
    pub totp: SecretBox,
    backup_code_key: Vec<u8>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Keys({:?}, backup code key: [redacted])", self.totp)
    }
}

impl Keys {
    /// `totp_keys`: `id:base64,…` (32-byte keys, the first seals); `backup_code_key`: base64, at
    /// least 32 bytes.
    pub fn from_config(totp_keys: &str, backup_code_key: &str) -> Result<Self, String> {
        use base64::Engine;
        let totp = SecretBox::from_config(totp_keys).map_err(|e| format!("[secrets] totp_keys: {e}"))?;
        let backup_code_key = base64::engine::general_purpose::STANDARD
            .decode(backup_code_key.trim())
            .map_err(|_| "[secrets] backup_code_key is not base64".to_string())?;
        if backup_code_key.len() < 32 {
            return Err("[secrets] backup_code_key must be at least 32 bytes".into());
        }
        Ok(Self { totp, backup_code_key })
    }

    fn hash(&self, normalized: &str) -> Vec<u8> {
        backup_codes::keyed_hash(&self.backup_code_key, normalized)
    }

    /// Fresh backup codes (for the person) and their stored forms.
    fn new_backup_codes(&self) -> (Vec<String>, Vec<Vec<u8>>) {
        let codes = backup_codes::generate();
        let hashes = codes.iter().filter_map(|c| backup_codes::normalize(c)).map(|c| self.hash(&c)).collect();
        (codes, hashes)
    }
}

fn aad(user_id: UserId) -> Vec<u8> {
    format!("totp:{}", user_id.0).into_bytes()
}

/// What Set up shows: the QR code's URI and the key to type by hand.
#[derive(Clone)]
pub struct Enrolment {
    pub uri: String,
    pub manual_key: String,
    /// Which setup this is (`totp::setup_tag`): sent back with the code, it tells a setup started
    /// again elsewhere (another tab) from a wrong code.
    pub setup: String,
}

impl std::fmt::Debug for Enrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Enrolment([redacted])")
    }
}

/// Starts setting up an authenticator app (needs a recent proof of identity). The secret is kept
/// server-side, encrypted, bound to this session, for 10 minutes; starting again replaces it.
pub async fn begin_enrolment(svc: &Services, auth: &AuthSession) -> Result<Enrolment, DomainError> {
    require_recent(svc, auth)?;
    if auth.has_second_factor {
        return Err(DomainError::Invalid(Invalid::AuthenticatorAlreadySetUp));
    }
    new_enrolment(svc, auth).await
}

/// Starts changing the account's authenticator app to another (a new phone, or taking the account
/// back from someone who set up their own): the same pending setup as `begin_enrolment`, while the
/// current app keeps working until `finish_change`. Needs a recent proof of identity and an app.
///
/// Only a session that proved the account's second factor may replace it: one that signed in with
/// it (a code, a backup code, a passkey), or the one that set the current app up. A session that
/// signed in with the password alone before the app existed (on an Enterprise plan, where it could
/// not turn the owner's app off) would otherwise swap in an app of its own.
pub async fn begin_change(svc: &Services, auth: &AuthSession) -> Result<Enrolment, DomainError> {
    require_recent(svc, auth)?;
    if !auth.has_second_factor {
        return Err(DomainError::Invalid(Invalid::NoAuthenticatorToChange));
    }
    if !auth.auth_method.proved_second_factor() && !db::two_factor::set_up_by(&svc.db, auth.user_id, auth.session_id).await? {
        return Err(DomainError::Invalid(Invalid::ChangeNeedsSecondFactor));
    }
    new_enrolment(svc, auth).await
}

async fn new_enrolment(svc: &Services, auth: &AuthSession) -> Result<Enrolment, DomainError> {
    let secret = totp::new_secret();
    let sealed = svc.keys.totp.seal(&secret, &aad(auth.user_id))?;
    let expires = svc.clock.now() + Duration::minutes(ENROLMENT_MINUTES);
    db::two_factor::put_enrolment(&svc.db, auth.user_id, auth.session_id, &sealed, expires).await?;
    Ok(Enrolment { uri: totp::provisioning_uri(&secret, &auth.email), manual_key: totp::manual_key(&secret), setup: totp::setup_tag(&secret) })
}

/// The device cookie of the browser that just turned the account's authenticator app on, its entry
/// renewed and dated a microsecond before the app's `enabled_at`: at its next sign-in it keeps its
/// own throttle path (entries from before the app count on the stale one: `DeviceCookieKey::path`),
/// where left as it was it would share the stale path with any copies of old entries (the owner
/// who changed her password and then turned the app on, above all). `None` when the app is not
/// (or no longer) on. A browser that a Revoke or a password change had made unknown for alerts
/// becomes known again by this: it is a signed-in session of the account that just proved the
/// app, and the owner is emailed the change.
pub async fn device_after_enrolment(svc: &Services, auth: &AuthSession, client: &ClientInfo) -> Result<Option<crate::secret::DeviceCookie>, DomainError> {
    let Some(enabled_at) = db::two_factor::enabled_at(&svc.db, auth.user_id).await? else { return Ok(None) };
    let dated = enabled_at - crate::auth::device_cookies::RESET_ENTRY_EARLIER;
    Ok(Some(svc.device_cookies.issue(client.device.as_ref(), auth.user_id, dated)))
}

/// How the activity names the sessions a setup ended on Enterprise ("Ended the other session that
/// signed in with …").
const ONE_FACTOR: &str = "a password, Google or GitHub alone";

/// What finishing a first setup did.
#[derive(Debug)]
pub struct Enabled {
    /// The 10 backup codes, shown once (never stored in the clear).
    pub codes: Vec<String>,
    /// How many other sessions ended: on Enterprise, those that signed in without a second factor
    /// before the app existed (`must_set_up_second_factor` held them to this setup; with the app
    /// on, a sign-in needs its code).
    pub signed_out: u64,
}

/// Finishes setting up with a code from the app: the authenticator becomes active and 10 backup
/// codes are created (returned once, never stored in the clear). On Enterprise, the account's
/// other sessions that signed in without a second factor end in the same transaction: until now
/// they could only set the app up, and left alone they would gain the whole account from the
/// owner's setup (a stranger who signed in with the password before it, above all). The
/// account's row is locked first (`require_live_and_recent`), as a password sign-in locks it
/// before its session is written, so a sign-in either committed first (and its session ends here)
/// or sees the app and asks for a code.
///
/// `shown`: the setup the page showed (its [`Enrolment::setup`]), when the page says. A code
/// that is not right for the setup in progress, when that is no longer the one shown (started
/// again in another tab of this session), answers `AuthenticatorSetupReplaced` instead of "not
/// right": the person scanned a key that was replaced. (A code right for the setup in progress is
/// taken, whichever page shows it.)
pub async fn finish_enrolment(
    svc: &Services,
    auth: &AuthSession,
    code: &str,
    shown: Option<&str>,
    client: &ClientInfo,
) -> Result<Enabled, DomainError> {
    require_recent(svc, auth)?;
    totp::refuse_unfinished(code)?;
    let now = svc.clock.now();
    let Some(row) = db::two_factor::find_enrolment(&svc.db, auth.user_id, auth.session_id, now).await? else {
        return Err(DomainError::Invalid(Invalid::AuthenticatorSetupExpired));
    };
    let sealed = row.sealed();
    let step = enrolment_step(svc, auth, &sealed, code, shown, now)?;
    let (codes, hashes) = svc.keys.new_backup_codes();
    let mut tx = svc.db.begin().await?;
    crate::auth::recent::require_live_and_recent(&mut tx, svc, auth).await?;
    if !db::two_factor::insert_credential(&mut *tx, auth.user_id, auth.session_id, &sealed, now, step).await? {
        return Err(DomainError::Invalid(Invalid::AuthenticatorAlreadySetUp));
    }
    db::two_factor::delete_enrolment(&mut *tx, auth.user_id, auth.session_id).await?;
    db::two_factor::replace_backup_codes(&mut tx, auth.user_id, &hashes, now).await?;
    // (the plan as it is now, held until the commit: see `disable`)
    let signed_out = if db::organizations::plan_held(&mut *tx, auth.user_id).await? == Plan::Enterprise {
        let (created_after, seen_after) = crate::auth::sessions::live_after(&svc.sessions, Plan::Enterprise, now);
        let reason = RevokeReason::SecondFactorRequired;
        db::sessions::revoke_without_second_factor(&mut *tx, auth.user_id, auth.session_id, created_after, seen_after, now, reason).await?
    } else {
        0
    };
    // (in the activity, "Ended the other session that signed in with …"; and, as after a Revoke,
    // whoever held it is a stranger again for alerts)
    crate::auth::activity::sessions_ended_with(&mut tx, auth, signed_out, ONE_FACTOR, client, now).await?;
    crate::auth::activity::record(&mut tx, svc, crate::db::events::NewEvent::new(auth.user_id, Some(auth.session_id), EventKind::TotpEnabled), client, now).await?;
    tx.commit().await?;
    Ok(Enabled { codes, signed_out })
}

/// The step of `code` for the setup in progress (sealed as `sealed`), or why it is refused.
fn enrolment_step(svc: &Services, auth: &AuthSession, sealed: &crate::secret_box::Sealed, code: &str, shown: Option<&str>, now: OffsetDateTime) -> Result<i64, DomainError> {
    let secret = svc.keys.totp.open(sealed, &aad(auth.user_id))?;
    let Some(step) = totp::matching_step(&secret, code, now) else {
        if shown.is_some_and(|shown| shown != totp::setup_tag(&secret)) {
            return Err(DomainError::Invalid(Invalid::AuthenticatorSetupReplaced));
        }
        return Err(DomainError::Invalid(Invalid::AuthenticatorSetupCodeWrong));
    };
    Ok(step)
}

/// Finishes changing the authenticator app with a code from the new one (`shown` as in
/// `finish_enrolment`): the new app's secret replaces the old one at once (codes from the old app
/// stop working), the backup codes stay, and the owner is emailed the change. Like a first setup,
/// the change counts as this session's addition: a report of this session ("This wasn't me")
/// turns the app off, the earlier one being gone.
///
/// One conditional statement takes the setup and replaces the secret, so a second submission of
/// the same setup (another tab) changes nothing and records nothing again.
pub async fn finish_change(svc: &Services, auth: &AuthSession, code: &str, shown: Option<&str>, client: &ClientInfo) -> Result<(), DomainError> {
    require_recent(svc, auth)?;
    totp::refuse_unfinished(code)?;
    let now = svc.clock.now();
    let Some(row) = db::two_factor::find_enrolment(&svc.db, auth.user_id, auth.session_id, now).await? else {
        // taken already (the same change sent from another tab, which finished first): done, if
        // the code is the app's that this session just set up
        if already_changed(svc, auth, code, now).await? {
            return Ok(());
        }
        return Err(DomainError::Invalid(Invalid::AuthenticatorSetupExpired));
    };
    let sealed = row.sealed();
    let step = enrolment_step(svc, auth, &sealed, code, shown, now)?;
    let mut tx = svc.db.begin().await?;
    crate::auth::recent::require_live_and_recent(&mut tx, svc, auth).await?;
    if !db::two_factor::change_credential(&mut *tx, auth.user_id, auth.session_id, &sealed, now, step).await? {
        // (under the account's lock: turned off meanwhile, or this very setup already taken)
        return match db::two_factor::find_credential(&mut *tx, auth.user_id).await? {
            None => Err(DomainError::Invalid(Invalid::NoAuthenticatorToChange)),
            Some(current) if current.nonce == sealed.nonce => Ok(()),
            // (this setup was started again in another tab: its key is not the one shown)
            Some(_) => Err(DomainError::Invalid(Invalid::AuthenticatorSetupReplaced)),
        };
    }
    crate::auth::activity::record(&mut tx, svc, crate::db::events::NewEvent::new(auth.user_id, Some(auth.session_id), EventKind::TotpChanged), client, now).await?;
    tx.commit().await?;
    Ok(())
}

/// The account's app is one this session set up, and `code` is one of its codes now.
async fn already_changed(svc: &Services, auth: &AuthSession, code: &str, now: OffsetDateTime) -> Result<bool, DomainError> {
    if !db::two_factor::set_up_by(&svc.db, auth.user_id, auth.session_id).await? {
        return Ok(false);
    }
    let Some(row) = db::two_factor::find_credential(&svc.db, auth.user_id).await? else { return Ok(false) };
    let secret = svc.keys.totp.open(&row.sealed(), &aad(auth.user_id))?;
    Ok(totp::matching_step(&secret, code, now).is_some())
}

/// What an authenticator code turned out to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeCheck {
    /// Right, and now used.
    Right,
    Wrong,
    /// One of the app's current codes, but its step (or a later one) was already used: each code
    /// works once. Refused like a wrong code, and said as what it is, so the person waits for the
    /// next code instead of doubting the app.
    Used,
}

/// Checks an authenticator code for an account: right, within ±1 step, and later than the last
/// step used (each code works once, even when submitted twice at the same moment).
pub async fn verify_totp(svc: &Services, user_id: UserId, code: &str) -> Result<CodeCheck, DomainError> {
    let Some(row) = db::two_factor::find_credential(&svc.db, user_id).await? else { return Ok(CodeCheck::Wrong) };
    let secret = svc.keys.totp.open(&row.sealed(), &aad(user_id))?;
    match totp::matching_step(&secret, code, svc.clock.now()) {
        Some(step) if db::two_factor::use_step(&svc.db, user_id, step).await? => Ok(CodeCheck::Right),
        Some(_) => Ok(CodeCheck::Used),
        None => Ok(CodeCheck::Wrong),
    }
}

impl CodeCheck {
    /// The refusal of a code that was not right.
    pub(crate) fn refusal(self) -> Invalid {
        match self {
            Self::Used => Invalid::AuthenticatorCodeUsed,
            Self::Right | Self::Wrong => Invalid::AuthenticatorCodeWrong,
        }
    }
}

/// Uses a backup code once; answers how many are left, or `None` when it is wrong or used.
pub async fn use_backup_code(svc: &Services, user_id: UserId, input: &str) -> Result<Option<i64>, DomainError> {
    let Some(code) = backup_codes::normalize(input) else { return Ok(None) };
    if !db::two_factor::use_backup_code(&svc.db, user_id, &svc.keys.hash(&code), svc.clock.now()).await? {
        return Ok(None);
    }
    let (_, left, _) = db::two_factor::backup_code_counts(&svc.db, user_id).await?;
    Ok(Some(left))
}

/// Creates backup codes, replacing any (needs a recent proof of identity and an authenticator).
pub async fn regenerate_backup_codes(svc: &Services, auth: &AuthSession, client: &ClientInfo) -> Result<Vec<String>, DomainError> {
    require_recent(svc, auth)?;
    if !auth.has_second_factor {
        return Err(DomainError::Invalid(Invalid::AuthenticatorNeeded));
    }
    let now = svc.clock.now();
    let (codes, hashes) = svc.keys.new_backup_codes();
    let mut tx = svc.db.begin().await?;
    crate::auth::recent::require_live_and_recent(&mut tx, svc, auth).await?;
    // (again under the account's lock: an authenticator turned off meanwhile leaves no codes)
    if db::two_factor::enabled_at(&mut *tx, auth.user_id).await?.is_none() {
        return Err(DomainError::Invalid(Invalid::AuthenticatorNeeded));
    }
    db::two_factor::replace_backup_codes(&mut tx, auth.user_id, &hashes, now).await?;
    crate::auth::activity::record(&mut tx, svc, crate::db::events::NewEvent::new(auth.user_id, Some(auth.session_id), EventKind::BackupCodesGenerated), client, now).await?;
    tx.commit().await?;
    Ok(codes)
}

/// Turns the authenticator off and deletes its backup codes (needs a recent proof of identity).
/// Refused on an Enterprise plan (a second factor is required there), and when the password is too
/// short to be the only factor (a new one first).
pub async fn disable(svc: &Services, auth: &AuthSession, client: &ClientInfo) -> Result<(), DomainError> {
    require_recent(svc, auth)?;
    let enterprise = || DomainError::Invalid(Invalid::SecondFactorRequiredByOrganisation);
    // (the session's plan: the early answer; the plan read under the locks below is the guard)
    if auth.plan == Plan::Enterprise {
        return Err(enterprise());
    }
    let now = svc.clock.now();
    let mut tx = svc.db.begin().await?;
    crate::auth::recent::require_live_and_recent(&mut tx, svc, auth).await?;
    // The plan as it is now, the organisation's row held until the commit: a move to Enterprise
    // that committed since the session was read is refused here, and one still in flight waits
    // for this (its members without an authenticator are then asked to set one up).
    if db::organizations::plan_held(&mut *tx, auth.user_id).await? == Plan::Enterprise {
        return Err(enterprise());
    }
    // (read under the account's lock: a password change committed while this waited is seen)
    let user = db::users::find(&mut *tx, auth.user_id).await?.ok_or(DomainError::Unauthenticated)?;
    if user.password_hash.is_some() && !user.password_single_factor_ok {
        return Err(DomainError::Invalid(Invalid::PasswordTooShortForOneFactor));
    }
    if !db::two_factor::delete_credential(&mut *tx, auth.user_id).await? {
        return Err(DomainError::NotFound);
    }
    db::two_factor::delete_backup_codes(&mut *tx, auth.user_id).await?;
    crate::auth::activity::record(&mut tx, svc, crate::db::events::NewEvent::new(auth.user_id, Some(auth.session_id), EventKind::TotpDisabled), client, now).await?;
    tx.commit().await?;
    Ok(())
}

/// What the Two-step verification section shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    pub enabled_at: Option<OffsetDateTime>,
    pub codes_generated_at: Option<OffsetDateTime>,
    pub codes_left: i64,
    pub codes_total: i64,
}

pub async fn status(svc: &Services, user_id: UserId) -> Result<Status, DomainError> {
    let (enabled_at, codes_generated_at, codes_left, codes_total) = db::two_factor::status(&svc.db, user_id).await?;
    Ok(Status { enabled_at, codes_generated_at, codes_left, codes_total })
}
