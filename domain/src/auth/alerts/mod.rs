//! Answering an unfamiliar sign-in's alert (raised by `activity::signed_in`): the emailed "This
//! wasn't me" link, and the page's "Was this you?" prompt (Yes, or No, secure my account).
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::auth::email_links::{link_hash, queue_reset_link, HourlyLimit};
use crate::auth::activity::{device_text, shown, PROMPT_DAYS, SHOWN_TEXT_CHARS};
use crate::db;
use crate::db::events::NewEvent;
use crate::error::LinkProblem;
use crate::ids::{SessionId, UserId};
use crate::kinds::{EventKind, RevokeReason, SignInMethod};
use crate::request::{AuthSession, ClientInfo};
use crate::secret::LinkToken;
use crate::{DomainError, Services};

mod undo;
pub use undo::TakenBack;
use undo::{ended_words, reported_detail, reported_since, take_back};

/// The sign-in an alert is about, as its pages and the prompt show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertedSignIn {
    pub id: Uuid,
    pub at: OffsetDateTime,
    /// "Chrome 131 on Windows 10" (cut to 80 characters).
    pub device: String,
    /// "Berlin, Land Berlin, Germany", "Unknown" (cut to 80 characters).
    pub location: String,
    /// The most precise place ("Berlin"), when known.
    pub place: Option<String>,
    pub ip: Option<String>,
    /// "a password", "a passkey", "Google and an authenticator app".
    pub method: String,
}

/// An alert as the page's prompt and the "This wasn't me" page show it.
pub(crate) fn alerted(row: db::alerts::AlertRow) -> AlertedSignIn {
    let location = shown(row.location.as_deref().unwrap_or("Unknown"), SHOWN_TEXT_CHARS);
    let place = place_of(row.location.as_deref());
    AlertedSignIn {
        id: row.id,
        at: row.created_at,
        device: device_text(row.user_agent.as_deref()),
        location,
        place,
        ip: row.ip,
        method: row.method.as_deref().and_then(SignInMethod::parse).map_or("an unknown method", SignInMethod::words).into(),
    }
}

/// The most precise part of a recorded location ("Berlin" of "Berlin, Land Berlin, Germany"),
/// when it names a place.
fn place_of(location: Option<&str>) -> Option<String> {
    location.filter(|l| !matches!(*l, "Unknown" | "Local network")).and_then(|l| l.split(',').next()).map(|p| shown(p, 40))
}

/// What a "This wasn't me" link's page shows before its button.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotMeLink {
    /// The account whose sign-in it is (the page says so when this browser is signed in to another).
    pub user_id: crate::ids::UserId,
    /// The sign-in it is about.
    pub sign_in: AlertedSignIn,
    /// Whether the account has a password, which the button turns off.
    pub has_password: bool,
    /// When the sign-in was answered "Yes, it was me" on the page, if it was (the link still
    /// reports it).
    pub marked_as_yours: Option<OffsetDateTime>,
    /// What has happened since the sign-in that the button would undo.
    pub since: ReportReach,
}

/// What a report reaches beyond the reported sign-in's own session: the page names it before its
/// button, for an owner who may have secured the account herself meanwhile (her later sign-ins,
/// her new password and passkey would go too).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReportReach {
    /// The reported sign-in's session has already ended.
    pub already_signed_out: bool,
    /// Live sessions that signed in since, which it would end too.
    pub other_sessions: u64,
    /// What it would remove: what those sessions added, and what the sign-in got in with.
    pub removes: Vec<TakenBack>,
    /// The password was changed or set since.
    pub password_changed_since: bool,
    /// It reaches back to an earlier new sign-in of the account's that nobody has confirmed
    /// (`reported_since`): "since" is since that one, which the report covers too.
    pub from_earlier: bool,
}

/// Reads a "This wasn't me" link (changes nothing).
pub async fn not_me_link(svc: &Services, token: &LinkToken) -> Result<NotMeLink, DomainError> {
    let hash = link_hash(token)?;
    let row = db::alerts::find_by_token(&svc.db, &hash).await?.ok_or(DomainError::Link(LinkProblem::Invalid))?;
    if row.reported_at.is_some() {
        return Err(DomainError::Link(LinkProblem::Used));
    }
    // ("Yes, it was me" on the page leaves the link working: any older session of the account
    // may answer Yes, without confirming it's you, so an intruder holding one could otherwise
    // take the owner's report away. The page says it was answered, before its button.)
    if row.expires_at <= svc.clock.now() {
        return Err(DomainError::Link(LinkProblem::Expired));
    }
    // What the button would do, found by doing it in a transaction that is then rolled back: the
    // page says it exactly as the button will do it, and nothing stays (mail scanners open links).
    // (its first part: what it ends and removes; the rest turns the password off and emails a link)
    let mut tx = svc.db.begin().await?;
    let done = undo_since(&mut tx, svc, &hash, &ClientInfo::default(), svc.clock.now()).await?;
    tx.rollback().await?;
    let (undone, since) = done.ok_or(DomainError::Link(LinkProblem::Used))?;
    Ok(NotMeLink { user_id: row.user_id, has_password: undone.user.password_hash.is_some(), marked_as_yours: row.acknowledged_at, sign_in: alerted(row), since })
}

/// "It was me", from the email's link: the alert is answered as by the page's "Yes, it was me"
/// (with a `sign_in_confirmed` event "from the email"). The link keeps working for a report, as
/// after the page's Yes: whoever reads the mailbox could say Yes, and the owner must still be able
/// to take it back. Answering again is no error. `Link` errors as `not_me_link`'s.
pub async fn confirm_from_link(svc: &Services, token: &LinkToken, client: &ClientInfo) -> Result<(), DomainError> {
    let hash = link_hash(token)?;
    let now = svc.clock.now();
    let mut tx = svc.db.begin().await?;
    let Some((user_id, session_id)) = db::alerts::acknowledge_by_token(&mut *tx, &hash, now).await? else {
        drop(tx);
        let row = db::alerts::find_by_token(&svc.db, &hash).await?.ok_or(DomainError::Link(LinkProblem::Invalid))?;
        if row.reported_at.is_some() {
            return Err(DomainError::Link(LinkProblem::Used));
        }
        if row.expires_at <= now {
            return Err(DomainError::Link(LinkProblem::Expired));
        }
        // (answered already, here or on the page)
        return Ok(());
    };
    let event = NewEvent { detail: Some("from the email"), ..NewEvent::new(user_id, Some(session_id), EventKind::SignInConfirmed) };
    db::events::insert(&mut *tx, &event, client, now).await?;
    tx.commit().await?;
    Ok(())
}

/// "This wasn't me": uses the link (once, within 72 hours), ends the sign-in's session at once
/// (and every session that signed in since, or since an earlier unanswered alert's sign-in:
/// `reported_since`), takes back every way to sign in those sessions added (`take_back`), forgets
/// the account's pending second steps, turns the password off (`db::users::turn_off_password`)
/// and emails a link to choose a new one, whatever the hourly limit (`HourlyLimit::Exempt`). It
/// signs nobody in and changes no email. Answers the account's address, what was taken back and
/// whether a password was turned off, all in one transaction.
pub async fn report_not_me(svc: &Services, token: &LinkToken, client: &ClientInfo) -> Result<NotMeReported, DomainError> {
    let hash = link_hash(token)?;
    let now = svc.clock.now();
    let mut tx = svc.db.begin().await?;
    let Some((user_id, reported)) = report_in(&mut tx, svc, &hash, client, now).await? else {
        drop(tx);
        // say why: used, expired or unknown
        return Err(not_me_link(svc, token).await.err().unwrap_or(DomainError::Link(LinkProblem::Used)));
    };
    tx.commit().await?;
    // this instance's next request never races Postgres' announcement of the ended sessions
    svc.session_cache.forget_account(user_id);
    Ok(reported)
}

/// `report_not_me`'s work, in the caller's transaction: `None` when the link is not (or no longer)
/// one to use.
async fn report_in(
    tx: &mut sqlx::PgConnection,
    svc: &Services,
    hash: &[u8; 32],
    client: &ClientInfo,
    now: OffsetDateTime,
) -> Result<Option<(UserId, NotMeReported)>, DomainError> {
    let Some((undone, reach)) = undo_since(&mut *tx, svc, hash, client, now).await? else { return Ok(None) };
    let Undone { user, session_id, since, taken_back, ways_in } = undone;
    let user_id = user.id;
    db::pending_sign_ins::delete_pending_for_user(&mut *tx, user_id).await?;
    // the intruder's browser no longer signs in without an alert
    db::users::reset_devices(&mut *tx, user_id, now).await?;
    let ended = ended_words(reach.already_signed_out, reach.other_sessions);
    let detail = reported_detail(&mut *tx, user_id, session_id, "from the email", &ended).await?;
    let event = NewEvent { detail: Some(&detail), ..NewEvent::new(user_id, Some(session_id), EventKind::SignInReported) };
    db::events::insert(&mut *tx, &event, client, now).await?;
    // Whoever signed in may know the password (most sign in with it): it stops working now, not
    // when the owner follows the link, or they would simply sign in again meanwhile (and could
    // change it, which ends the link). The link, made after this, sets a new one.
    let password_turned_off = db::users::turn_off_password(&mut *tx, user_id, now).await?;
    db::users::refuse_passwords_since(&mut *tx, user_id, since.1).await?;
    if password_turned_off {
        db::events::record(&mut *tx, user_id, None, EventKind::PasswordTurnedOff, client, now).await?;
    }
    queue_reset_link(&mut *tx, svc, &user, HourlyLimit::Exempt, client, now).await?;
    let reported = NotMeReported { email: user.email, minutes: crate::auth::email_links::RESET_LINK_MINUTES, taken_back, ways_in, password_turned_off };
    Ok(Some((user_id, reported)))
}

/// What `undo_since` ended and removed.
struct Undone {
    /// The account, as read once its ways in were taken back (its password still on).
    user: db::users::UserRow,
    /// The reported sign-in's session.
    session_id: SessionId,
    /// The first session the report covers, and when it began (`reported_since`).
    since: (SessionId, OffsetDateTime),
    taken_back: Vec<TakenBack>,
    ways_in: Vec<TakenBack>,
}

/// A report's first part, in the caller's transaction: uses the link, ends the reported sign-in's
/// session and every later one, and removes what they added or got in with. Answers what it did
/// and how far that reached beyond the sign-in's own session (`not_me_link` runs it and rolls it
/// back); `None` when the link is not (or no longer) one to use.
async fn undo_since(
    tx: &mut sqlx::PgConnection,
    svc: &Services,
    hash: &[u8; 32],
    client: &ClientInfo,
    now: OffsetDateTime,
) -> Result<Option<(Undone, ReportReach)>, DomainError> {
    let Some((user_id, session_id)) = db::alerts::report(&mut *tx, hash, now).await? else { return Ok(None) };
    // (the alert, then the account, then its sessions: `secure_account` takes them in this order
    // too, and every other change of several sessions starts at the account: see `lock_account`)
    db::passkeys::lock_account(&mut *tx, user_id).await?;
    let since = reported_since(&mut *tx, user_id, session_id, None, now).await?;
    let already_signed_out = db::sessions::has_ended(&mut *tx, user_id, session_id).await?;
    let ended = db::sessions::revoke_since(&mut *tx, user_id, since, now).await?;
    db::sessions::mark_reported(&mut *tx, user_id, since, None, now).await?;
    let (taken_back, ways_in) = take_back(&mut *tx, svc, user_id, since, None, client, now).await?;
    let user = db::users::find(&mut *tx, user_id).await?.ok_or(DomainError::NotFound)?;
    let reach = ReportReach {
        already_signed_out,
        other_sessions: ended.saturating_sub(u64::from(!already_signed_out)),
        removes: taken_back.iter().chain(&ways_in).cloned().collect(),
        password_changed_since: user.password_changed_at.is_some_and(|at| at > since.1),
        from_earlier: since.0 != session_id,
    };
    Ok(Some((Undone { user, session_id, since, taken_back, ways_in }, reach)))
}

/// After "This wasn't me".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotMeReported {
    /// Where the reset link went.
    pub email: String,
    /// How long the link works.
    pub minutes: i64,
    /// What the reported sign-in (or any since) had added, now removed, oldest first.
    pub taken_back: Vec<TakenBack>,
    /// The owner's passkey or connected account that a reported sign-in signed in with, now
    /// removed.
    pub ways_in: Vec<TakenBack>,
    /// The account's password was turned off until the link sets a new one (`false`: it had none).
    pub password_turned_off: bool,
}

/// The page's "Was this you?": the newest unanswered alert of the last 14 days about another
/// session than this one (a session is never asked about itself).
pub async fn prompt(svc: &Services, auth: &AuthSession) -> Result<Option<AlertedSignIn>, DomainError> {
    let since = prompt_since(svc.clock.now());
    Ok(db::alerts::newest_unanswered(&svc.db, auth.user_id, auth.session_id, since).await?.map(alerted))
}

/// Since when `prompt` shows an alert, at `now`.
pub(crate) fn prompt_since(now: OffsetDateTime) -> OffsetDateTime {
    now - Duration::days(PROMPT_DAYS)
}

/// "Yes" (it was me): the prompt goes away. Another account's alert, an answered one, or the
/// alert about this very session answer `NotFound`.
pub async fn confirm(svc: &Services, auth: &AuthSession, id: Uuid, client: &ClientInfo) -> Result<(), DomainError> {
    let now = svc.clock.now();
    let mut tx = svc.db.begin().await?;
    db::alerts::acknowledge(&mut *tx, auth.user_id, id, auth.session_id, now, false).await?.ok_or(DomainError::NotFound)?;
    let event = NewEvent::new(auth.user_id, Some(auth.session_id), EventKind::SignInConfirmed);
    db::events::insert(&mut *tx, &event, client, now).await?;
    tx.commit().await?;
    Ok(())
}

/// "No, secure my account": ends that sign-in's session and every other one (this one stays),
/// takes back what that sign-in's session or any later one added (`take_back`; never what this
/// session added), and forgets pending second steps; the page then opens Change password. Needs a
/// recent sign-in or re-verification (like every ending of sessions), checked again inside the
/// transaction with the session's row (`Unauthenticated` once it has ended). Answers how many
/// sessions ended and what was taken back.
pub async fn secure_account(svc: &Services, auth: &AuthSession, id: Uuid, client: &ClientInfo) -> Result<Secured, DomainError> {
    crate::auth::recent::require_recent(svc, auth)?;
    let now = svc.clock.now();
    let mut tx = svc.db.begin().await?;
    let reported = db::alerts::acknowledge(&mut *tx, auth.user_id, id, auth.session_id, now, true).await?.ok_or(DomainError::NotFound)?;
    // (the alert, the account, then its sessions, as `report_not_me`; this session must still be
    // live, so a request of a session ended meanwhile cannot sign the owner out)
    crate::auth::recent::require_live_and_recent(&mut tx, svc, auth).await?;
    let already_ended = db::sessions::has_ended(&mut *tx, auth.user_id, reported).await?;
    let ended = db::sessions::revoke_others(&mut *tx, auth.user_id, auth.session_id, now, RevokeReason::ReportedNotMe).await?;
    let since = reported_since(&mut tx, auth.user_id, reported, Some(auth.session_id), now).await?;
    // (The answering session may itself be an intruder's, older than the owner's new sign-in it
    // calls not theirs; every removal emails its notice, so the owner hears of it. The
    // authenticator goes even where turning it off by hand is refused: on an Enterprise plan the
    // intruder's sign-in had to set one up, and keeping it would ask the owner for their code.)
    let (taken_back, ways_in) = take_back(&mut tx, svc, auth.user_id, since, Some(auth.session_id), client, now).await?;
    db::sessions::mark_reported(&mut *tx, auth.user_id, since, Some(auth.session_id), now).await?;
    // (the password stays, for Change password next: not to one in use since the reported sign-in)
    db::users::refuse_passwords_since(&mut *tx, auth.user_id, since.1).await?;
    db::pending_sign_ins::delete_pending_for_user(&mut *tx, auth.user_id).await?;
    db::users::reset_devices(&mut *tx, auth.user_id, now).await?;
    let words = ended_words(already_ended, ended.saturating_sub(u64::from(!already_ended)));
    let detail = reported_detail(&mut *tx, auth.user_id, reported, "from this page", &words).await?;
    let event = NewEvent { detail: Some(&detail), ..NewEvent::new(auth.user_id, Some(auth.session_id), EventKind::SignInReported) };
    db::events::insert(&mut *tx, &event, client, now).await?;
    tx.commit().await?;
    Ok(Secured { ended, taken_back, ways_in })
}

/// After "No, secure my account".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Secured {
    /// How many other sessions ended.
    pub ended: u64,
    /// What the reported sign-in (or any since) had added, now removed, oldest first.
    pub taken_back: Vec<TakenBack>,
    /// The owner's passkey or connected account that a reported sign-in signed in with, now
    /// removed.
    pub ways_in: Vec<TakenBack>,
}
