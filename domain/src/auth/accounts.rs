//! Sign up, sign in and change password.
use time::OffsetDateTime;

use crate::auth::password_policy::check_policy;
use crate::auth::sessions::{self, SignedIn};
use crate::request::{AuthSession, ClientInfo};
use crate::auth::throttle::{verify_throttled, Check};
use crate::db;
use crate::error::{unique_violation, Invalid, PasswordRejection};
use crate::ids::UserId;
use crate::kinds::{EventKind, RevokeReason};
use crate::secret::Password;
use crate::{DomainError, Services};

/// Longest display name accepted.
pub const MAX_DISPLAY_NAME: usize = 100;

pub use crate::db::users::normalize_email;

/// A plausible address: one `@`, something on both sides, a dot in the domain, no spaces, ≤ 254,
/// no invisible characters (a zero-width space or a direction mark pasted along would make an
/// address that looks like another's), and one the mailer can send to (lettre's `Address`: no
/// `<…>`, no `..` or leading `-` in the domain, no `,`), and a host name, not an address literal
/// (`ada@[127.0.0.1]`: lettre parses it, but a message to it cannot be built), so that a sign-up
/// never answers "check your inbox" for a link that can never be sent.
pub fn validate_email(email: &str) -> Result<(), DomainError> {
    let e = email.trim();
    let invalid = |rule| Err(DomainError::Invalid(rule));
    if e.is_empty() {
        return invalid(Invalid::EmailMissing);
    }
    if e.chars().count() > 254 {
        return invalid(Invalid::EmailTooLong);
    }
    let mut parts = e.splitn(2, '@');
    let (local, domain) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    if local.is_empty()
        || domain.is_empty()
        || domain.contains('@')
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
        || domain.starts_with('[')
        || e.chars().any(|c| c.is_whitespace() || c.is_control() || invisible(c))
        || e.parse::<lettre::Address>().is_err()
    {
        return invalid(Invalid::EmailMalformed);
    }
    Ok(())
}

/// A display name as stored: trimmed, `None` when empty, refused when too long.
pub fn validate_display_name(display_name: Option<&str>) -> Result<Option<String>, DomainError> {
    let display_name = display_name.map(without_hidden_characters).filter(|s| !s.is_empty());
    if display_name.as_ref().is_some_and(|name| name.chars().count() > MAX_DISPLAY_NAME) {
        return Err(DomainError::Invalid(Invalid::DisplayNameTooLong));
    }
    Ok(display_name)
}

/// Characters that show nothing (or only turn the text around) but make two strings differ:
/// zero-width spaces and joiners, direction marks, embeddings and isolates, word joiners, the
/// byte-order mark. (Refused in an address; a name keeps its zero-width joiners, which emoji
/// sequences need: `without_hidden_characters`.)
fn invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

pub use policy::names::without_hidden_characters;

/// Creates an account with a password and its address taken as confirmed, without signing it in:
/// the demo accounts and tests. People sign up through `email_links::request_sign_up`, which
/// proves the address first.
pub async fn create_account(
    svc: &Services,
    email: &str,
    display_name: Option<&str>,
    password: &Password,
    client: &ClientInfo,
) -> Result<UserId, DomainError> {
    validate_email(email)?;
    let display_name = validate_display_name(display_name)?;
    let ctx = policy::password::Context { email, display_name: display_name.as_deref(), has_second_factor: false };
    check_policy(password, &ctx, &svc.common_passwords)?;
    let normalized = normalize_email(email);
    // Cheap early answer for the common case; the unique constraint is the real guard.
    if db::users::find_by_email(&svc.db, &normalized).await?.is_some() {
        return Err(DomainError::EmailTaken);
    }
    let hash = svc.hasher.hash(password).await?;
    let now = svc.clock.now();
    let user_id = UserId::new();
    let mut tx = svc.db.begin().await?;
    insert_confirmed(&mut *tx, user_id, email.trim(), display_name.as_deref(), Some(&hash), now).await?;
    db::events::record(&mut *tx, user_id, None, EventKind::AccountCreated, client, now).await?;
    tx.commit().await?;
    Ok(user_id)
}

/// Stores a new account whose address is confirmed (now). An address another account took
/// meanwhile is `EmailTaken`: the unique constraint is the real guard against two sign-ups.
pub(crate) async fn insert_confirmed(
    db: impl sqlx::PgExecutor<'_>,
    user_id: UserId,
    email: &str,
    display_name: Option<&str>,
    password_hash: Option<&str>,
    now: time::OffsetDateTime,
) -> Result<(), DomainError> {
    db::users::insert(db, user_id, email, &normalize_email(email), display_name, password_hash, Some(now), now).await.map_err(|e| {
        match unique_violation(&e) {
            Some("users_email_normalized_key") => DomainError::EmailTaken,
            _ => e.into(),
        }
    })
}

/// Checks an email and password. Unknown account, account without a password, wrong password and
/// a throttled or locked path all answer `InvalidCredentials`, after the same amount of hashing
/// work; except this browser's own path (it signed in to the account before), which answers
/// `TooManyTries` with its wait. A hash made with older parameters is upgraded once the password is known to be right. An
/// account with an authenticator answers `SecondStepRequired` with a pending sign-in instead of a
/// session.
pub async fn sign_in(
    svc: &Services,
    email: &str,
    password: &Password,
    client: &ClientInfo,
) -> Result<SignedIn, DomainError> {
    // (an empty field cannot be right: said before any look-up, hashing or counting, the same for
    // every address)
    if email.trim().is_empty() {
        return Err(DomainError::Invalid(Invalid::EmailMissing));
    }
    if password.expose().is_empty() {
        return Err(DomainError::Invalid(Invalid::PasswordMissing));
    }
    // (no address without an "@" can be an account's: said as a typing slip, not as a wrong
    // password, which would send the person to Forgot password; it tells nothing about accounts)
    if !email.contains('@') {
        return Err(DomainError::Invalid(Invalid::EmailMalformed));
    }
    let normalized = normalize_email(email);
    // (no account's address is empty, longer than 254 or holds a control character, which
    // Postgres may even refuse to compare: NUL)
    let user = if normalized.is_empty() || normalized.chars().count() > 254 || normalized.contains(char::is_control) {
        None
    } else {
        db::users::find_by_email(&svc.db, &normalized).await?
    };
    let Some(user) = user else {
        svc.hasher.verify(password, None).await?;
        return Err(DomainError::InvalidCredentials);
    };
    let Some(attempt) = verify_throttled(svc, &user, password, client, Check::SignIn).await? else {
        return Err(DomainError::InvalidCredentials);
    };
    if let Some(old) = user.password_hash.as_deref().filter(|h| svc.hasher.needs_rehash(h)) {
        match svc.hasher.hash(password).await {
            Ok(new) => db::users::upgrade_hash(&svc.db, user.id, old, &new).await?,
            // the hashing queue is full: the right password still signs in; a calmer sign-in upgrades
            Err(DomainError::Overloaded { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    // The session and the path's count started again, in one transaction, unless the account has
    // an authenticator (read after the password was checked, under the account's lock)
    match sessions::start_with_password(svc, user.id, user.password_changed_at, &attempt.path, client).await? {
        sessions::Started::SignedIn(signed_in) => Ok(signed_in),
        sessions::Started::SecondStepDue => {
            // No session yet: a pending sign-in, tied to this browser by its own cookie, for 5
            // minutes. Only this attempt is forgiven; the count resets when the second step
            // succeeds. (refused if a change or reset of the password committed since the account
            // was read: the attempt then stays counted)
            let first = crate::auth::two_factor::FirstStep::Password { changed_at: user.password_changed_at };
            let pending = crate::auth::two_factor::begin_second_step(svc, user.id, attempt.path, first).await?;
            attempt.forgiven(svc).await?;
            Err(DomainError::SecondStepRequired(pending))
        }
    }
}

/// What the Password section shows.
#[derive(Clone, Debug)]
pub struct PasswordStatus {
    pub has_password: bool,
    pub changed_at: Option<OffsetDateTime>,
}

pub async fn password_status(svc: &Services, auth: &AuthSession) -> Result<PasswordStatus, DomainError> {
    let user = db::users::find(&svc.db, auth.user_id).await?.ok_or(DomainError::Unauthenticated)?;
    Ok(PasswordStatus { has_password: user.password_hash.is_some(), changed_at: user.password_changed_at })
}

/// Changes the password after checking the current one (through the account's throttle: wrong
/// current passwords count like failed sign-ins). See `store_new_password` for what follows.
pub async fn change_password(
    svc: &Services,
    auth: &AuthSession,
    current: &Password,
    new: &Password,
    client: &ClientInfo,
) -> Result<SignedIn, DomainError> {
    let user = db::users::find(&svc.db, auth.user_id).await?.ok_or(DomainError::Unauthenticated)?;
    if user.password_hash.is_none() {
        return Err(DomainError::Invalid(Invalid::NoPasswordYet));
    }
    // (an empty current password is said first, at its field, and neither hashed nor counted: it
    // was checked, and counted as a wrong one, once the new one passed; with both empty only the
    // new one's rule was said)
    if current.expose().is_empty() {
        return Err(DomainError::Invalid(Invalid::CurrentPasswordMissing));
    }
    let ctx = policy::password::Context {
        email: &user.email,
        display_name: user.display_name.as_deref(),
        has_second_factor: auth.has_second_factor,
    };
    // The cheap checks first, so a rejected new password costs no guess of the current one.
    check_policy(new, &ctx, &svc.common_passwords)?;
    let Some(attempt) = verify_throttled(svc, &user, current, client, Check::CurrentPassword).await? else {
        return Err(DomainError::Invalid(Invalid::CurrentPasswordWrong));
    };
    attempt.succeeded(svc).await?;
    if svc.hasher.verify(new, user.password_hash.as_deref()).await? {
        return Err(DomainError::PasswordRejected(PasswordRejection::SameAsCurrent));
    }
    // (after "No, secure my account": not one in use since the reported sign-in; only once the
    // current one is proven, so this is no way to test guesses against those)
    crate::auth::password_policy::refuse_reported(svc, &user, new).await?;
    let changed = (EventKind::PasswordChanged, RevokeReason::PasswordChanged, Invalid::CurrentPasswordWrong);
    store_new_password(svc, auth, &user, new, changed, client).await
}

/// Gives a password to an account that has none (it signed up with Google or GitHub, or uses
/// passkeys). Needs a recent sign-in or re-verification.
pub async fn set_password(svc: &Services, auth: &AuthSession, new: &Password, client: &ClientInfo) -> Result<SignedIn, DomainError> {
    crate::auth::recent::require_recent(svc, auth)?;
    let user = db::users::find(&svc.db, auth.user_id).await?.ok_or(DomainError::Unauthenticated)?;
    if user.password_hash.is_some() {
        return Err(DomainError::Invalid(Invalid::AlreadyHasPassword));
    }
    let ctx = policy::password::Context {
        email: &user.email,
        display_name: user.display_name.as_deref(),
        has_second_factor: auth.has_second_factor,
    };
    check_policy(new, &ctx, &svc.common_passwords)?;
    crate::auth::password_policy::refuse_reported(svc, &user, new).await?;
    store_new_password(svc, auth, &user, new, (EventKind::PasswordSet, RevokeReason::PasswordSet, Invalid::AlreadyHasPassword), client).await
}

/// Whether storing a new password needs the session's recent verification again inside its
/// transaction: a password set (no current one to prove), not a change (the current one was).
fn needs_recent(event: EventKind) -> bool {
    event == EventKind::PasswordSet
}

/// In one transaction: the new hash is stored, every other session is revoked (and any sign-in
/// waiting for its second step, which began with the old password), the current session gets a
/// fresh token (returned, for the cookie, with the browser's device cookie renewed) and is marked
/// as just verified, and the change is
/// recorded. A failure part-way changes nothing. Refused with `superseded` if the password is no
/// longer the one `read` had (another change, or a reset that ended this session, committed while
/// this one checked and hashed): the newer password stands. Refused by the length rule if the
/// account's authenticator was turned off since `auth` was read (checked under the account's lock).
async fn store_new_password(
    svc: &Services,
    auth: &AuthSession,
    read: &db::users::UserRow,
    new: &Password,
    (event, reason, superseded): (EventKind, RevokeReason, Invalid),
    client: &ClientInfo,
) -> Result<SignedIn, DomainError> {
    let hash = svc.hasher.hash(new).await?;
    let now = svc.clock.now();
    let (token, token_hash) = sessions::new_token();
    let mut tx = svc.db.begin().await?;
    // (the window checked when the request arrived may have ended while it waited to hash, or End
    // now committed meanwhile: as every other change that needs it, checked again from the
    // session's row, under the account's)
    if needs_recent(event) {
        crate::auth::recent::require_live_and_recent(&mut tx, svc, auth).await?;
    }
    let single_factor_ok = crate::auth::password::normalize(new).expose().chars().count() >= policy::password::MIN_LENGTH;
    if !db::users::set_password(&mut *tx, auth.user_id, &hash, now, single_factor_ok, read.password_changed_at).await? {
        return Err(DomainError::Invalid(superseded));
    }
    db::sessions::revoke_others(&mut *tx, auth.user_id, auth.session_id, now, reason).await?;
    db::pending_sign_ins::delete_pending_for_user(&mut *tx, auth.user_id).await?;
    db::users::reset_devices(&mut *tx, auth.user_id, now).await?;
    // (a session that Sign out everywhere or "This wasn't me" ended meanwhile changes nothing: the
    // transaction rolls back with the new password)
    if !db::sessions::rotate_token(&mut *tx, auth.user_id, auth.session_id, &token_hash, now).await? {
        return Err(DomainError::Unauthenticated);
    }
    // the rules again if the authenticator was turned off meanwhile (read after the UPDATE above
    // took the account's row)
    let ctx = policy::password::Context { email: &read.email, display_name: read.display_name.as_deref(), has_second_factor: auth.has_second_factor };
    crate::auth::password_policy::check_policy_under_lock(&mut tx, auth.user_id, new, &ctx, &svc.common_passwords).await?;
    crate::auth::activity::record(&mut tx, svc, crate::db::events::NewEvent::new(auth.user_id, Some(auth.session_id), event), client, now).await?;
    tx.commit().await?;
    // This browser's entry renewed with the change, dated just before it (as a reset's): its own
    // throttle path at its next sign-in, where entries from before the change count on the stale
    // path; and, the account's devices reset at `now`, still no known device for alerts.
    let device = svc.device_cookies.issue(client.device.as_ref(), auth.user_id, now - crate::auth::device_cookies::RESET_ENTRY_EARLIER);
    Ok(SignedIn { token, device, backup_codes_left: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_case_folded() {
        assert_eq!(normalize_email("  Ada@Example.TEST "), "ada@example.test");
        // composed and decomposed, any case: one address
        assert_eq!(normalize_email("Zo\u{00CB}@example.test"), "zo\u{00EB}@example.test");
        assert_eq!(normalize_email("zoe\u{0308}@example.test"), "zo\u{00EB}@example.test");
        assert_eq!(normalize_email("ZOE\u{0308}@example.test"), "zo\u{00EB}@example.test");
    }

    #[test]
    fn email_validation_explains() {
        assert!(validate_email("ada@example.test").is_ok());
        assert!(validate_email("  ada@example.test  ").is_ok());
        for bad in ["", "ada", "ada@", "@example.test", "ada@example", "a b@example.test", "a@b@c.d", "ada@.test"] {
            assert!(validate_email(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(validate_email(&format!("{}@example.test", "a".repeat(250))).is_err());
    }

    /// 160 characters, 312 bytes: under the 254-character limit, over it in bytes.
    fn long_international_address() -> String {
        format!("{}@{}test", "é".repeat(32), format!("{}.", "é".repeat(40)).repeat(3))
    }

    #[test]
    fn an_address_the_mailer_cannot_send_to_or_with_invisible_characters_is_malformed() {
        for bad in [
            "<ada@example.test>",
            "ada@example..test",
            "ada,bob@example.test",
            "ada@-example.test",
            "ada@example.test\u{200B}",
            "\u{202E}ada@example.test",
            "ada\u{FEFF}@example.test",
            "ada@exa\u{2060}mple.test",
        ] {
            assert!(matches!(validate_email(bad), Err(DomainError::Invalid(Invalid::EmailMalformed))), "{bad:?} should be malformed");
        }
        for good in ["ada+tag@example.test", "o'brien@example.test", "ada@exämple.test", "名前@example.test", &long_international_address()] {
            assert!(validate_email(good).is_ok(), "{good:?} should be accepted");
        }
    }

    /// The message the sender builds (`email::sender`), to `address`.
    fn message_to(address: &str) -> Result<lettre::Message, String> {
        let to: lettre::Address = address.parse().map_err(|e| format!("{e}"))?;
        lettre::Message::builder()
            .from("Gatehouse <no-reply@gatehouse.test>".parse().expect("a valid sender"))
            .to(lettre::message::Mailbox::new(None, to))
            .subject("Finish creating your Gatehouse account")
            .body(String::from("…"))
            .map_err(|e| format!("{e}"))
    }

    #[test]
    fn an_address_literal_is_refused_because_no_message_to_it_can_be_built() {
        for literal in ["ada@[127.0.0.1]", "ada@[192.0.2.10]"] {
            assert!(message_to(literal).is_err(), "{literal:?}: lettre builds it now; the rule may go");
            assert!(matches!(validate_email(literal), Err(DomainError::Invalid(Invalid::EmailMalformed))), "{literal:?} should be malformed");
        }
        for good in ["ada+tag@example.test", "o'brien@example.test", "ada@exämple.test", "名前@example.test", &long_international_address()] {
            assert!(message_to(good).is_ok(), "{good:?} is accepted, so a message to it must build: {:?}", message_to(good));
        }
    }

}
