//! Answering an unfamiliar sign-in's alert (raised by `activity::signed_in`): the emailed "This
//! wasn't me" link, and the page's "Was this you?" prompt (Yes, or No, secure my account).
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::auth::email_links::link_hash;
use crate::auth::activity::{device_text, shown, PROMPT_DAYS, SHOWN_TEXT_CHARS};
use crate::db;
use crate::db::events::NewEvent;
use crate::error::LinkProblem;
use crate::kinds::{EventKind, RevokeReason, SignInMethod};
use crate::request::{AuthSession, ClientInfo};
use crate::secret::LinkToken;
use crate::{DomainError, Services};

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
    let place = row
        .location
        .as_deref()
        .filter(|l| !matches!(*l, "Unknown" | "Local network"))
        .and_then(|l| l.split(',').next())
        .map(|p| shown(p, 40));
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

/// Reads a "This wasn't me" link (changes nothing): the sign-in it is about.
pub async fn not_me_link(svc: &Services, token: &LinkToken) -> Result<AlertedSignIn, DomainError> {
    let hash = link_hash(token)?;
    let row = db::alerts::find_by_token(&svc.db, &hash).await?.ok_or(DomainError::Link(LinkProblem::Invalid))?;
    if row.reported_at.is_some() {
        return Err(DomainError::Link(LinkProblem::Used));
    }
    if row.expires_at <= svc.clock.now() {
        return Err(DomainError::Link(LinkProblem::Expired));
    }
    Ok(alerted(row))
}

/// "This wasn't me": uses the link (once, within 72 hours), ends the sign-in's session at once
/// (and every session that signed in since: `db::sessions::revoke_reported`),
/// forgets the account's pending second steps, and emails a link to choose a new password. It
/// signs nobody in and changes no password, email or second factor by itself. Answers the
/// account's address and whether the link went (not when 3 were sent in the last hour), all in one
/// transaction.
pub async fn report_not_me(svc: &Services, token: &LinkToken, client: &ClientInfo) -> Result<NotMeReported, DomainError> {
    let hash = link_hash(token)?;
    let now = svc.clock.now();
    let mut tx = svc.db.begin().await?;
    let Some((user_id, session_id)) = db::alerts::report(&mut *tx, &hash, now).await? else {
        drop(tx);
        // say why: used, expired or unknown
        return Err(not_me_link(svc, token).await.err().unwrap_or(DomainError::Link(LinkProblem::Used)));
    };
    // (the alert, then the account, then its sessions: `secure_account` takes them in this order
    // too, and every other change of several sessions starts at the account: see `lock_account`)
    db::passkeys::lock_account(&mut *tx, user_id).await?;
    db::sessions::revoke_reported(&mut *tx, user_id, session_id, now).await?;
    db::pending_sign_ins::delete_pending_for_user(&mut *tx, user_id).await?;
    // the intruder's browser no longer signs in without an alert
    db::users::reset_devices(&mut *tx, user_id, now).await?;
    let event = NewEvent { detail: Some("from the email"), ..NewEvent::new(user_id, Some(session_id), EventKind::SignInReported) };
    db::events::insert(&mut *tx, &event, client, now).await?;
    let user = db::users::find(&mut *tx, user_id).await?.ok_or(DomainError::NotFound)?;
    let link_sent = crate::auth::email_links::queue_reset_link(&mut tx, svc, &user, client, now).await?;
    tx.commit().await?;
    Ok(NotMeReported { email: user.email, link_sent, minutes: crate::auth::email_links::RESET_LINK_MINUTES })
}

/// After "This wasn't me".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotMeReported {
    /// Where the reset link went.
    pub email: String,
    /// `false` when 3 reset links went to the account in the last hour (the newest still works).
    pub link_sent: bool,
    /// How long the link works.
    pub minutes: i64,
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
    db::alerts::acknowledge(&mut *tx, auth.user_id, id, auth.session_id, now).await?.ok_or(DomainError::NotFound)?;
    let event = NewEvent::new(auth.user_id, Some(auth.session_id), EventKind::SignInConfirmed);
    db::events::insert(&mut *tx, &event, client, now).await?;
    tx.commit().await?;
    Ok(())
}

/// "No, secure my account": ends that sign-in's session and every other one (this one stays), and
/// forgets pending second steps; the page then opens Change password. Needs a recent sign-in or
/// re-verification (like every ending of sessions), checked again inside the transaction with the
/// session's row (`Unauthenticated` once it has ended). Answers how many sessions ended.
pub async fn secure_account(svc: &Services, auth: &AuthSession, id: Uuid, client: &ClientInfo) -> Result<u64, DomainError> {
    crate::auth::recent::require_recent(svc, auth)?;
    let now = svc.clock.now();
    let mut tx = svc.db.begin().await?;
    db::alerts::acknowledge(&mut *tx, auth.user_id, id, auth.session_id, now).await?.ok_or(DomainError::NotFound)?;
    // (the alert, the account, then its sessions, as `report_not_me`; this session must still be
    // live, so a request of a session ended meanwhile cannot sign the owner out)
    crate::auth::recent::require_live_and_recent(&mut tx, svc, auth).await?;
    let ended = db::sessions::revoke_others(&mut *tx, auth.user_id, auth.session_id, now, RevokeReason::ReportedNotMe).await?;
    db::pending_sign_ins::delete_pending_for_user(&mut *tx, auth.user_id).await?;
    db::users::reset_devices(&mut *tx, auth.user_id, now).await?;
    let event = NewEvent { detail: Some("from this page"), ..NewEvent::new(auth.user_id, Some(auth.session_id), EventKind::SignInReported) };
    db::events::insert(&mut *tx, &event, client, now).await?;
    tx.commit().await?;
    Ok(ended)
}
