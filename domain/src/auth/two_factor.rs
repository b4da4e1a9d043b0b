//! Two-step verification: enrolling an authenticator app (bound to the session, 10 minutes),
//! single-use TOTP steps, backup codes (generate / regenerate / use once), and turning it off.
use time::{Duration, OffsetDateTime};

use crate::auth::backup_codes;
use crate::auth::recent::require_recent;
use crate::request::{AuthSession, ClientInfo};
use crate::auth::totp;
use crate::db;
use crate::ids::{SessionId, UserId};
use crate::kinds::{EventKind, Provider, SignInMethod};
use crate::plan::Plan;
use crate::secret::PendingToken;
use crate::secret_box::{Sealed, SecretBox};
use crate::error::Invalid;
use crate::{DomainError, Services};

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
    let secret = totp::new_secret();
    let sealed = svc.keys.totp.seal(&secret, &aad(auth.user_id))?;
    let expires = svc.clock.now() + Duration::minutes(ENROLMENT_MINUTES);
    db::two_factor::put_enrolment(&svc.db, auth.user_id, auth.session_id, &sealed, expires).await?;
    Ok(Enrolment { uri: totp::provisioning_uri(&secret, &auth.email), manual_key: totp::manual_key(&secret), setup: totp::setup_tag(&secret) })
}

/// Finishes setting up with a code from the app: the authenticator becomes active and 10 backup
/// codes are created (returned once, never stored in the clear).
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
) -> Result<Vec<String>, DomainError> {
    require_recent(svc, auth)?;
    totp::refuse_unfinished(code)?;
    let now = svc.clock.now();
    let Some(row) = db::two_factor::find_enrolment(&svc.db, auth.user_id, auth.session_id, now).await? else {
        return Err(DomainError::Invalid(Invalid::AuthenticatorSetupExpired));
    };
    let sealed = row.sealed();
    let secret = svc.keys.totp.open(&sealed, &aad(auth.user_id))?;
    let Some(step) = totp::matching_step(&secret, code, now) else {
        if shown.is_some_and(|shown| shown != totp::setup_tag(&secret)) {
            return Err(DomainError::Invalid(Invalid::AuthenticatorSetupReplaced));
        }
        return Err(DomainError::Invalid(Invalid::AuthenticatorSetupCodeWrong));
    };
    let (codes, hashes) = svc.keys.new_backup_codes();
    let mut tx = svc.db.begin().await?;
    crate::auth::recent::require_live_and_recent(&mut tx, svc, auth).await?;
    if !db::two_factor::insert_credential(&mut *tx, auth.user_id, auth.session_id, &sealed, now, step).await? {
        return Err(DomainError::Invalid(Invalid::AuthenticatorAlreadySetUp));
    }
    db::two_factor::delete_enrolment(&mut *tx, auth.user_id, auth.session_id).await?;
    db::two_factor::replace_backup_codes(&mut tx, auth.user_id, &hashes, now).await?;
    crate::auth::activity::record(&mut tx, svc, crate::db::events::NewEvent::new(auth.user_id, Some(auth.session_id), EventKind::TotpEnabled), client, now).await?;
    tx.commit().await?;
    Ok(codes)
}

/// Checks an authenticator code for an account: right, within ±1 step, and later than the last
/// step used (each code works once, even when submitted twice at the same moment).
pub async fn verify_totp(svc: &Services, user_id: UserId, code: &str) -> Result<bool, DomainError> {
    let Some(row) = db::two_factor::find_credential(&svc.db, user_id).await? else { return Ok(false) };
    let secret = svc.keys.totp.open(&row.sealed(), &aad(user_id))?;
    match totp::matching_step(&secret, code, svc.clock.now()) {
        Some(step) => Ok(db::two_factor::use_step(&svc.db, user_id, step).await?),
        None => Ok(false),
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

/// Stored secrets read and re-sealed per round trip.
const RESEAL_BATCH: i64 = 500;

/// What [`reseal_all`] did, counting enabled authenticators and enrolments in progress together.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ResealReport {
    /// Secrets re-encrypted under the first key.
    pub resealed: u64,
    /// Secrets that already used the first key when the run began.
    pub already_current: u64,
    /// Secrets that changed between being read and re-sealed (set up anew, or removed, by someone
    /// at that moment): left as they are. A second run covers any still under an old key.
    pub skipped: u64,
}

/// Key rotation's re-seal step: re-encrypts every stored TOTP secret (enabled authenticators and
/// enrolments in progress) under the first key of `[secrets] totp_keys`, so that older keys can be
/// removed from the list. Rows are read in batches; each is replaced by one conditional UPDATE that
/// applies only if the row still holds exactly what was read, so a concurrent change is never
/// overwritten. Safe to run while servers run, and again (a second run re-seals nothing).
///
/// Errors: a secret sealed under a key the configuration no longer lists (nothing is lost: put the
/// key back after the first one and run again), or one that fails to open (tampered with).
pub async fn reseal_all(svc: &Services) -> Result<ResealReport, DomainError> {
    let boxed = &svc.keys.totp;
    let current = boxed.sealing_key_id();
    let (credentials, enrolments) = db::two_factor::count_sealed_under(&svc.db, current).await?;
    let mut report = ResealReport { already_current: (credentials + enrolments) as u64, ..Default::default() };
    let reseal = |row: &db::two_factor::StoredSecret| -> Result<(Sealed, Sealed), DomainError> {
        if !boxed.has_key(&row.key_id) {
            return Err(DomainError::Internal(format!(
                "a stored TOTP secret is sealed under the key {:?}, which [secrets] totp_keys no longer lists; \
                 list it again after the first key, then re-seal",
                row.key_id
            )));
        }
        let old = row.sealed();
        let new = boxed.reseal(&old, &aad(row.user_id)).map_err(|_| {
            DomainError::Internal(format!("the stored TOTP secret of account {} does not open under its key {:?}", row.user_id, row.key_id))
        })?;
        Ok((old, new))
    };

    let mut after = UserId(uuid::Uuid::nil());
    loop {
        let rows = db::two_factor::credentials_sealed_under_other_keys(&svc.db, current, after, RESEAL_BATCH).await?;
        for row in &rows {
            let (old, new) = reseal(row)?;
            if db::two_factor::reseal_credential(&svc.db, row.user_id, &old, &new).await? {
                report.resealed += 1;
            } else {
                report.skipped += 1;
            }
            after = row.user_id;
        }
        if (rows.len() as i64) < RESEAL_BATCH {
            break;
        }
    }

    let mut after = SessionId(uuid::Uuid::nil());
    loop {
        let rows = db::two_factor::enrolments_sealed_under_other_keys(&svc.db, current, after, RESEAL_BATCH).await?;
        for row in &rows {
            let session_id = row.session_id.ok_or_else(|| DomainError::Internal("an enrolment without a session".into()))?;
            let (old, new) = reseal(row)?;
            if db::two_factor::reseal_enrolment(&svc.db, row.user_id, session_id, &old, &new).await? {
                report.resealed += 1;
            } else {
                report.skipped += 1;
            }
            after = session_id;
        }
        if (rows.len() as i64) < RESEAL_BATCH {
            break;
        }
    }
    Ok(report)
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

/// How long a sign-in may wait for its second step.
pub const PENDING_MINUTES: i64 = 5;
/// Attempts at a code that end a pending sign-in when the last is wrong.
pub const PENDING_MAX_FAILURES: i32 = 5;

/// What proved the first step of a sign-in.
#[derive(Clone, Copy, Debug)]
pub(crate) enum FirstStep<'a> {
    /// The password the sign-in read with the account (`password_changed_at` as it read it).
    Password { changed_at: Option<OffsetDateTime> },
    /// The identity `(provider, issuer, subject)` linked to the account.
    Provider(Provider, &'a str, &'a str),
}

/// A pending sign-in for an account whose first step succeeded, only while that first step still
/// stands, so no second step outlives what would have ended it: after a password,
/// `InvalidCredentials` instead if it is no longer the account's (a change or reset committed
/// while it was checked); after a provider, `NotLinked` if the identity was disconnected meanwhile.
///
/// It replaces the account's pending sign-in on the same throttle `path` (the one the first step
/// was counted on): the first step's attempt is forgiven once the pending sign-in exists, so
/// without that, whoever holds the password could open many and try 5 codes on each.
pub(crate) async fn begin_second_step(
    svc: &Services,
    user_id: UserId,
    path: crate::auth::device_cookies::ThrottlePath,
    first: FirstStep<'_>,
) -> Result<PendingToken, DomainError> {
    let (token, hash) = crate::auth::sessions::new_cookie_token();
    let now = svc.clock.now();
    let expires_at = now + Duration::minutes(PENDING_MINUTES);
    match first {
        FirstStep::Password { changed_at } => {
            if !db::pending_sign_ins::insert_pending_after_password(&svc.db, user_id, &hash, path.key(), changed_at, now, expires_at).await? {
                return Err(DomainError::InvalidCredentials);
            }
        }
        FirstStep::Provider(provider, issuer, subject) => {
            if !db::pending_sign_ins::insert_pending_from_provider(&svc.db, user_id, &hash, path.key(), (provider, issuer, subject), now, expires_at).await? {
                return Err(DomainError::Provider(crate::error::ProviderFailure::NotLinked));
            }
        }
    }
    Ok(PendingToken::from_cookie(token))
}

/// Ends a pending sign-in the person turned away from ("Back to sign in"): its code step no longer
/// takes any code. Nothing to end (already used, expired, replaced, or a cookie that was never a
/// pending sign-in's) is success too: the goal is reached.
pub async fn cancel_second_step(svc: &Services, pending: &PendingToken) -> Result<(), DomainError> {
    if let Some(hash) = crate::auth::sessions::hash_cookie_token(pending.expose()) {
        db::pending_sign_ins::delete_pending(&svc.db, &hash).await?;
    }
    Ok(())
}

/// Which second step the person uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecondStep {
    Authenticator,
    BackupCode,
}

pub use crate::auth::sessions::SignedIn;

/// Completes a pending sign-in with a code. A wrong code counts against the pending sign-in (5 end
/// it) and on the throttle of this browser's path, like a wrong password, and is recorded;
/// `SignInAgain` once it is over (or replaced by a newer one on its path: `begin_second_step`).
/// The code step itself does not wait for the throttle: the right password already passed it,
/// and each pending sign-in allows only 5 codes, so an attacker's earlier failures can never make
/// the owner's right code fail.
pub async fn complete_sign_in(
    svc: &Services,
    pending: &PendingToken,
    step: SecondStep,
    code: &str,
    client: &ClientInfo,
) -> Result<SignedIn, DomainError> {
    let hash = crate::auth::sessions::hash_cookie_token(pending.expose()).ok_or(DomainError::SignInAgain)?;
    // (an empty or cut-short code costs none of the pending sign-in's 5 tries)
    match step {
        SecondStep::Authenticator => totp::refuse_unfinished(code)?,
        SecondStep::BackupCode if code.trim().is_empty() => return Err(DomainError::Invalid(Invalid::BackupCodeMissing)),
        SecondStep::BackupCode => {}
    }
    let now = svc.clock.now();
    let (user_id, attempts, provider) =
        db::pending_sign_ins::claim_pending(&svc.db, &hash, now, PENDING_MAX_FAILURES).await?.ok_or(DomainError::SignInAgain)?;
    let outcome = match step {
        SecondStep::Authenticator => verify_totp(svc, user_id, code).await?.then_some(None),
        SecondStep::BackupCode => use_backup_code(svc, user_id, code).await?.map(Some),
    };
    let Some(backup_codes_left) = outcome else {
        crate::auth::throttle::second_step_failed(svc, user_id, client).await?;
        if attempts >= PENDING_MAX_FAILURES {
            db::pending_sign_ins::delete_pending(&svc.db, &hash).await?;
            return Err(DomainError::SignInAgain);
        }
        return Err(DomainError::Invalid(match step {
            SecondStep::Authenticator => Invalid::AuthenticatorCodeWrong,
            SecondStep::BackupCode => Invalid::BackupCodeWrong,
        }));
    };
    // The pending sign-in is used once (even if two tabs finish at the same moment), and the
    // session begins in the same transaction, after the account's row: Sign out everywhere, a
    // password change or reset and "This wasn't me" take that row first too, so each comes either
    // before (the pending sign-in is gone) or after (it ends this session with the others).
    let mut tx = svc.db.begin().await?;
    let locked = db::alerts::lock_for_sign_in(&mut *tx, user_id).await?;
    // (the session's time is after any wait for the lock: sessions compare their start times)
    let now = svc.clock.now();
    if !db::pending_sign_ins::delete_pending(&mut *tx, &hash).await? {
        return Err(DomainError::SignInAgain);
    }
    crate::auth::throttle::reset(&mut *tx, svc, user_id, client).await?;
    let method = SignInMethod::of(provider, Some(step == SecondStep::BackupCode));
    let token = crate::auth::sessions::start_locked(&mut tx, svc, locked, user_id, method, client, now).await?;
    tx.commit().await?;
    let mut signed_in = SignedIn::new(svc, user_id, token, client);
    signed_in.backup_codes_left = backup_codes_left;
    Ok(signed_in)
}
