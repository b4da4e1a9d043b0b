//! Sign-up that confirms the address, and "Forgot password?": both work through single-use links
//! sent by email (the token in the link is 32 random bytes; only its SHA-256 is stored).
//!
//! Showing a link's page (`sign_up_link`, `reset_link`) changes nothing, so a mail scanner that
//! opens links does no harm: only the page's form (a POST) uses the link.
use time::{Duration, OffsetDateTime};

use crate::auth::accounts::{normalize_email, validate_display_name, validate_email};
use crate::auth::password_policy::check_policy;
use crate::auth::sessions::{self, hash_cookie_token, new_cookie_token, SignedIn};
use crate::db;
use crate::email::{self, Mail};
use crate::error::LinkProblem;
use crate::ids::{PasskeyId, UserId};
use crate::kinds::{EventKind, RevokeReason, SignInMethod};
use crate::request::ClientInfo;
use crate::secret::{DeviceCookie, LinkToken, Password};
use crate::{DomainError, Services};

/// A sign-up link works this long.
pub const SIGN_UP_LINK_MINUTES: i64 = 60;
/// A reset link works this long: as long as the hourly limit's window
/// (`EMAILS_PER_ADDRESS_PER_HOUR`), so whenever the limit holds a request back, the newest link
/// sent still works. With 30 minutes, someone who knows the address could ask three times and
/// leave the owner, from half an hour on, with dead links and no way to get another.
pub const RESET_LINK_MINUTES: i64 = 60;
/// At most this many sign-up emails per address per hour, and reset emails per account per hour;
/// beyond that the answer is the same and nothing is sent (nobody can flood a mailbox).
pub const EMAILS_PER_ADDRESS_PER_HOUR: i64 = 3;

/// The page paths the links open (the app serves them).
pub const SIGN_UP_PATH: &str = "/sign-up/finish";
pub const RESET_PATH: &str = "/reset-password";

fn new_link() -> (LinkToken, [u8; 32]) {
    let (token, hash) = new_cookie_token();
    (LinkToken::from_cookie(token), hash)
}

/// The stored hash of an emailed link's token; `Invalid` when it is not a well-formed token.
/// What mail clients and people add after a link as they copy or auto-link it (a sentence's ".",
/// a ")" or ">" around it) is set aside: a token is letters, digits, "-" and "_" only, so nothing
/// else can be part of it.
pub(crate) fn link_hash(token: &LinkToken) -> Result<[u8; 32], DomainError> {
    let token = token.expose().trim_end_matches(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    hash_cookie_token(token).ok_or(DomainError::Link(LinkProblem::Invalid))
}

/// Starts a sign-up: answers the same whether or not the address has an account, after the same
/// work (one statement stores the request and tells which; one queues the email), and hashes no
/// password. A new address gets the link that finishes the sign-up; an address with an account
/// gets "someone tried to create an account with your email" with links to sign in and to reset.
/// No account exists until the link is followed and a way to sign in chosen.
pub async fn request_sign_up(svc: &Services, email: &str, display_name: Option<&str>) -> Result<(), DomainError> {
    validate_email(email)?;
    let display_name = validate_display_name(display_name)?;
    let normalized = normalize_email(email);
    let (token, hash) = new_link();
    let now = svc.clock.now();
    let mut tx = svc.db.begin().await?;
    // one request for an address at a time: simultaneous ones count each other's emails
    db::email::lock_address(&mut *tx, &normalized).await?;
    let (existing, recent) = db::email::insert_sign_up_request(
        &mut *tx,
        &hash,
        email.trim(),
        &normalized,
        display_name.as_deref(),
        now,
        now + Duration::minutes(SIGN_UP_LINK_MINUTES),
        now - Duration::hours(1),
    )
    .await?;
    if recent <= EMAILS_PER_ADDRESS_PER_HOUR {
        let settings = &svc.email;
        // An account's own notice goes to the address it stored, never to the one typed: two
        // spellings the look-up key treats as one ("K" and the Kelvin sign, say) may be two
        // mailboxes, and the typed one would learn that the stored one has an account.
        let (to, mail) = match existing.as_deref() {
            Some(stored) => {
                (stored, Mail::AccountExists { sign_in: settings.link("/sign-in", None), reset: settings.link("/forgot-password", None) })
            }
            None => (email.trim(), Mail::ConfirmSignUp { link: settings.link(SIGN_UP_PATH, Some(token.expose())), minutes: SIGN_UP_LINK_MINUTES }),
        };
        // no name: whoever asked chose it, and the address may not be theirs
        email::queue(&mut *tx, settings, None, to, None, &mail, now).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// What a sign-up link's page shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignUpLink {
    pub email: String,
    pub display_name: Option<String>,
}

fn check_link(used_at: Option<OffsetDateTime>, expires_at: OffsetDateTime, now: OffsetDateTime) -> Result<(), DomainError> {
    if used_at.is_some() {
        Err(DomainError::Link(LinkProblem::Used))
    } else if expires_at <= now {
        Err(DomainError::Link(LinkProblem::Expired))
    } else {
        Ok(())
    }
}

/// Reads a sign-up link (changes nothing).
pub async fn sign_up_link(svc: &Services, token: &LinkToken) -> Result<SignUpLink, DomainError> {
    let hash = link_hash(token)?;
    let request = db::email::find_sign_up_request(&svc.db, &hash).await?.ok_or(DomainError::Link(LinkProblem::Invalid))?;
    if request.account_existed {
        // never emailed: only a guess could get here
        return Err(DomainError::Link(LinkProblem::Invalid));
    }
    check_link(request.used_at, request.expires_at, svc.clock.now())?;
    // an account made since the link was sent (a second link, Google, GitHub): the page says so
    // before anyone chooses a password or has their device make a passkey the server won't keep
    if db::users::find_by_email(&svc.db, &normalize_email(&request.email)).await?.is_some() {
        return Err(DomainError::Link(LinkProblem::AccountExists));
    }
    Ok(SignUpLink { email: request.email, display_name: request.display_name })
}

/// The name the account a sign-up link finishes will have, as the person finishing it chose it on
/// the link's page (empty: none). The name typed when the link was asked for was typed by whoever
/// asked, who may not be the address's owner: the page shows it for the owner to keep or change
/// before the account exists (it is in every email the account gets). Refused like the sign-up's
/// name (`DisplayNameTooLong`); a link that no longer works answers as `sign_up_link` does.
pub async fn choose_sign_up_name(svc: &Services, token: &LinkToken, display_name: &str) -> Result<(), DomainError> {
    let display_name = validate_display_name(Some(display_name))?;
    let hash = link_hash(token)?;
    if !db::email::rename_sign_up_request(&svc.db, &hash, display_name.as_deref(), svc.clock.now()).await? {
        sign_up_link(svc, token).await?;
        return Err(DomainError::Link(LinkProblem::Used));
    }
    Ok(())
}

/// Finishes a sign-up with a password: the link is used (once), the account created with its
/// address confirmed, and this browser signed in. The password is checked against the policy with
/// the address and name the link carries.
pub async fn finish_sign_up_with_password(
    svc: &Services,
    token: &LinkToken,
    password: &Password,
    client: &ClientInfo,
) -> Result<(UserId, SignedIn), DomainError> {
    let link = sign_up_link(svc, token).await?;
    let ctx = policy::password::Context { email: &link.email, display_name: link.display_name.as_deref(), has_second_factor: false };
    check_policy(password, &ctx, &svc.common_passwords)?;
    let hash = svc.hasher.hash(password).await?;
    let (user_id, _) = create_from_link(svc, token, UserId::new(), Some(&hash), None, client).await?;
    let signed_in = sessions::start(svc, user_id, SignInMethod::Password, client).await?;
    Ok((user_id, signed_in))
}

/// Starts finishing a sign-up with a passkey instead of a password: the options for
/// `navigator.credentials.create` (JSON), for the link's address. Changes no account.
pub async fn begin_sign_up_passkey(svc: &Services, token: &LinkToken) -> Result<serde_json::Value, DomainError> {
    let link = sign_up_link(svc, token).await?;
    crate::auth::passkeys::begin_first(svc, &link_hash(token)?, &link.email, link.display_name.as_deref()).await
}

/// Finishes a sign-up with the browser's new passkey: the link is used (once), the account created
/// (address confirmed, no password) with that passkey, in one transaction, and this browser signed in.
pub async fn finish_sign_up_with_passkey(
    svc: &Services,
    token: &LinkToken,
    credential_json: &str,
    client: &ClientInfo,
) -> Result<(UserId, SignedIn), DomainError> {
    sign_up_link(svc, token).await?;
    let first = crate::auth::passkeys::finish_first(svc, &link_hash(token)?, credential_json).await?;
    let (user_id, passkey) = create_from_link(svc, token, first.user_id, None, Some(&first), client).await?;
    let passkey = passkey.ok_or_else(|| DomainError::Internal("a passkey sign-up stored no passkey".into()))?;
    // (the session names the passkey, as a passkey sign-in's does: Sessions shows which one)
    let signed_in = sessions::start_with_new_passkey(svc, user_id, (passkey, &first.name), client).await?;
    Ok((user_id, signed_in))
}

/// Uses the link and creates its account as `user_id` (address confirmed) with a password hash or
/// a first passkey (its id is answered), in one transaction.
async fn create_from_link(
    svc: &Services,
    token: &LinkToken,
    user_id: UserId,
    password_hash: Option<&str>,
    passkey: Option<&crate::auth::passkeys::FirstPasskey>,
    client: &ClientInfo,
) -> Result<(UserId, Option<PasskeyId>), DomainError> {
    let hash = link_hash(token)?;
    let now = svc.clock.now();
    let mut tx = svc.db.begin().await?;
    // used by someone else a moment ago, or expired since the page was read
    let (email, display_name) =
        db::email::use_sign_up_request(&mut *tx, &hash, now).await?.ok_or(DomainError::Link(LinkProblem::Used))?;
    crate::auth::accounts::insert_confirmed(&mut *tx, user_id, &email, display_name.as_deref(), password_hash, now).await?;
    db::events::record(&mut *tx, user_id, None, EventKind::AccountCreated, client, now).await?;
    let mut stored = None;
    if let Some(first) = passkey {
        stored = Some(crate::auth::passkeys::store_first(&mut *tx, first, now).await?);
        let added = db::events::NewEvent { detail: Some(&first.name), ..db::events::NewEvent::new(user_id, None, EventKind::PasskeyAdded) };
        db::events::insert(&mut *tx, &added, client, now).await?;
    }
    tx.commit().await?;
    Ok((user_id, stored))
}

/// "Forgot password?": if an account with a confirmed address uses `email`, queues a link to
/// choose a new password (or to set one, for an account without). Answers the same either way.
/// At most `EMAILS_PER_ADDRESS_PER_HOUR` links per account per hour.
pub async fn request_password_reset(svc: &Services, email: &str, client: &ClientInfo) -> Result<(), DomainError> {
    validate_email(email)?;
    let normalized = normalize_email(email);
    let Some(user) = db::users::find_by_email(&svc.db, &normalized).await? else { return Ok(()) };
    // email recovery never reaches an account through an address nobody proved
    if user.email_verified_at.is_none() {
        return Ok(());
    }
    let mut tx = svc.db.begin().await?;
    queue_reset_link(&mut tx, svc, &user, HourlyLimit::Applies, client, svc.clock.now()).await?;
    tx.commit().await?;
    Ok(())
}

/// Whether a reset link obeys `EMAILS_PER_ADDRESS_PER_HOUR`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HourlyLimit {
    Applies,
    /// "This wasn't me": the owner must get a link that works now. The earlier ones may be dead
    /// (whoever signed in can ask for three and then change the password, which ends them), and
    /// the exemption is bounded anyway: one link per alert, at most 3 alert emails a day.
    Exempt,
}

/// In the caller's transaction: a reset link for `user` (whose address is confirmed), emailed,
/// unless the limit applies and `EMAILS_PER_ADDRESS_PER_HOUR` were sent in the last hour. Answers
/// whether it was.
pub(crate) async fn queue_reset_link(
    conn: &mut sqlx::PgConnection,
    svc: &Services,
    user: &db::users::UserRow,
    limit: HourlyLimit,
    client: &ClientInfo,
    now: OffsetDateTime,
) -> Result<bool, DomainError> {
    let (token, hash) = new_link();
    // (after the account's row: simultaneous requests count each other's links, so a burst cannot
    // send more than the limit)
    db::passkeys::lock_account(&mut *conn, user.id).await?;
    let recent = db::email::insert_password_reset(
        &mut *conn,
        &hash,
        user.id,
        now,
        now + Duration::minutes(RESET_LINK_MINUTES),
        now - Duration::hours(1),
    )
    .await?;
    if limit == HourlyLimit::Applies && recent > EMAILS_PER_ADDRESS_PER_HOUR {
        return Ok(false);
    }
    // (a password "This wasn't me" turned off is replaced, not set: it leaves its change's time)
    let sets_password = user.password_hash.is_none() && user.password_changed_at.is_none();
    let mail = Mail::PasswordReset {
        link: svc.email.link(RESET_PATH, Some(token.expose())),
        minutes: RESET_LINK_MINUTES,
        sets_password,
        // the report's own link (only a report is exempt from the hourly limit; `user` was read
        // before it turned the password off), or one asked for while its password is still off;
        // an account that never had a password had none turned off
        after_report: !sets_password && (limit == HourlyLimit::Exempt || user.password_hash.is_none()),
        asked: limit == HourlyLimit::Applies,
    };
    email::queue(&mut *conn, &svc.email, Some(user.id), &user.email, user.display_name.as_deref(), &mail, now).await?;
    // (a report's link is not asked for: its own events say what happened, and this one, with the
    // reporter's browser and address, would read as someone asking)
    if limit == HourlyLimit::Applies {
        db::events::record(&mut *conn, user.id, None, EventKind::PasswordResetRequested, client, now).await?;
    }
    Ok(true)
}

/// `request_password_reset` after the answer: checks the address's form now (a malformed one is
/// said at once), then does the rest in the background, so the answer takes the same time whether
/// or not an account uses the address (its work, or a failure, never shows in the response).
pub fn request_password_reset_in_background(svc: &Services, email: &str, client: &ClientInfo) -> Result<(), DomainError> {
    validate_email(email)?;
    let (tracker, svc, email, client) = (svc.after_answer.clone(), svc.clone(), email.to_string(), client.clone());
    tracker.spawn(crate::after_answer::Lane::Request, async move {
        if let Err(e) = request_password_reset(&svc, &email, &client).await {
            tracing::warn!(error = %e, "a password reset request failed after its answer");
        }
    });
    Ok(())
}

/// What a reset link's page shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResetLink {
    pub email: String,
    /// The account never had a password: the page sets a first one (after "This wasn't me" turned
    /// it off, it chooses a new one).
    pub sets_password: bool,
    /// The account has an authenticator app (the password rules ask for fewer characters).
    pub has_second_factor: bool,
    /// The account has a password that works now: one to remember instead (not after "This
    /// wasn't me" turned it off, nor on an account that never had one).
    pub has_password: bool,
    /// The account's display name: the page's strength meter holds a new password to the rule
    /// against the name as the server does.
    pub display_name: Option<String>,
}

/// Reads a reset link (changes nothing).
pub async fn reset_link(svc: &Services, token: &LinkToken) -> Result<ResetLink, DomainError> {
    let hash = link_hash(token)?;
    let reset = db::email::find_password_reset(&svc.db, &hash).await?.ok_or(DomainError::Link(LinkProblem::Invalid))?;
    check_link(reset.used_at, reset.expires_at, svc.clock.now())?;
    if reset.superseded {
        return Err(DomainError::Link(LinkProblem::Superseded));
    }
    let has_second_factor = db::two_factor::enabled_at(&svc.db, reset.user_id).await?.is_some();
    let display_name = db::users::find(&svc.db, reset.user_id).await?.and_then(|u| u.display_name);
    Ok(ResetLink { email: reset.email, sets_password: !reset.had_password, has_second_factor, has_password: reset.has_password, display_name })
}

/// Chooses a new password through a reset link. In one transaction: the link is used (once, and
/// only while the account's password is still the one it was made for), the password replaced,
/// every session of the account ended and every sign-in waiting for its second step dropped, the
/// reset recorded and confirmed by email. Nobody is signed in: the next sign-in (with its second
/// step, if the account has one) follows.
///
/// Answers, for an account without an authenticator app, the browser's device cookie with the
/// account's entry renewed (`DeviceCookieKey::issue`): whoever opened the link proved the mailbox,
/// which for such an account is all a full sign-in proves, so that browser's password attempts
/// count on its own throttle path from now on. Without it, someone who knows the address could
/// keep the account's untrusted path waiting (a few counted guesses an hour) and the owner, back on
/// a new browser through Forgot password, would hear that the password she had just chosen was
/// wrong. With an authenticator app, a proven entry instead (`DeviceCookieKey::issue_proven`,
/// replacing a full sign-in's entry too, which the new password made stale): its attempts count
/// on the account's one proven path, which strangers cannot lock, and however many resets someone
/// holding only the mailbox makes, their code guesses meet that one path's limits (a mailbox is
/// not the second factor; a new row of its own per reset would give each a fresh budget). The entry is dated just before the reset of the account's devices, so it is not a known
/// device's (`device_cookies::known_since`): the sign-in that follows there is alerted as any new
/// browser's, and its "This wasn't me" can still take back what that sign-in adds.
pub async fn reset_password(svc: &Services, token: &LinkToken, new: &Password, client: &ClientInfo) -> Result<DeviceCookie, DomainError> {
    let link = reset_link(svc, token).await?;
    let hash = link_hash(token)?;
    let user = db::users::find_by_email(&svc.db, &normalize_email(&link.email)).await?.ok_or(DomainError::Link(LinkProblem::Invalid))?;
    let ctx = policy::password::Context {
        email: &user.email,
        display_name: user.display_name.as_deref(),
        has_second_factor: link.has_second_factor,
    };
    check_policy(new, &ctx, &svc.common_passwords)?;
    crate::auth::password_policy::refuse_reported(svc, &user, new).await?;
    let new_hash = svc.hasher.hash(new).await?;
    let now = svc.clock.now();
    let single_factor_ok = crate::auth::password::normalize(new).expose().chars().count() >= policy::password::MIN_LENGTH;
    let mut tx = svc.db.begin().await?;
    // the account's row first: a password change committing meanwhile is seen, and the link
    // (made for the password before it) no longer matches
    db::passkeys::lock_account(&mut *tx, user.id).await?;
    let Some(user_id) = db::email::use_password_reset(&mut *tx, &hash, now).await?.filter(|id| *id == user.id) else {
        return Err(DomainError::Link(LinkProblem::Used));
    };
    // (the link matched the account's password under its lock, so this is the password it read)
    if !db::users::set_password(&mut *tx, user_id, &new_hash, now, single_factor_ok, user.password_changed_at).await? {
        return Err(DomainError::Link(LinkProblem::Used));
    }
    // the rules again if the authenticator was turned off since the link was read
    crate::auth::password_policy::check_policy_under_lock(&mut tx, user_id, new, &ctx, &svc.common_passwords).await?;
    db::sessions::revoke_all(&mut *tx, user_id, now, RevokeReason::PasswordReset).await?;
    db::pending_sign_ins::delete_pending_for_user(&mut *tx, user_id).await?;
    db::users::reset_devices(&mut *tx, user_id, now).await?;
    // (read under the account's lock: an authenticator turned on meanwhile counts)
    let second_factor = db::two_factor::enabled_at(&mut *tx, user_id).await?.is_some();
    db::events::record(&mut *tx, user_id, None, EventKind::PasswordReset, client, now).await?;
    // (where from, as every other notice says: the owner who did not do this learns where it was)
    let (device, location, ip) = crate::auth::activity::facts(client);
    let mail = Mail::PasswordResetDone {
        when: format_when(now),
        device,
        location,
        ip,
        security: svc.email.link("/settings/security", None),
        reset: svc.email.link("/forgot-password", None),
    };
    email::queue(&mut *tx, &svc.email, Some(user_id), &user.email, user.display_name.as_deref(), &mail, now).await?;
    tx.commit().await?;
    // this instance's next request never races Postgres' announcement of the ended sessions
    svc.session_cache.forget_account(user_id);
    // (with an authenticator app, a proven entry: the account's one proven throttle path, never a
    // fresh row of its own per reset, each with its own budget of code guesses)
    let dated = now - crate::auth::device_cookies::RESET_ENTRY_EARLIER;
    Ok(if second_factor {
        svc.device_cookies.issue_proven(client.device.as_ref(), user_id, dated)
    } else {
        svc.device_cookies.issue(client.device.as_ref(), user_id, dated)
    })
}

/// "1 December 2026 at 14:05 UTC".
pub use crate::email::format_when;

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn times_in_emails_read_as_words() {
        assert_eq!(format_when(datetime!(2026-12-01 14:05:59 UTC)), "1 December 2026 at 14:05 UTC");
        assert_eq!(format_when(datetime!(2026-12-01 23:30 -02:00)), "2 December 2026 at 01:30 UTC");
    }
}
