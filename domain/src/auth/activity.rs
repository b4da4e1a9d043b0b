//! The account's security activity: every sign-in and change is an event (append-only, see
//! `db::events`); credential changes also email a notice, and a sign-in from an unfamiliar device
//! and network raises an alert (an email with "This wasn't me", and the page's "Was this you?").
//!
//! **Unfamiliar sign-in** (README, "Security alerts"): a sign-in is unfamiliar when all of
//! - the account has signed in before (`users.first_signed_in_at`: the first sign-in, right after
//!   sign-up, never is);
//! - the browser has no valid device cookie for this account (it never fully signed in to it);
//! - its network (IPv4 /24, IPv6 /48) or, when the geo-IP database knows it, its country is not
//!   one the account signed in from in the last [`FAMILIAR_DAYS`] days.
//!
//! One alert per device: a second unfamiliar sign-in with the same browser and OS within
//! [`ALERT_DEDUP_HOURS`] raises none while the first is unanswered, and at most [`ALERT_EMAILS_PER_DAY`] alert emails go to an
//! account in 24 hours (beyond that the page's prompt still shows the newest one).
//!
//! The list of events, its downloads and the retention task are `listing` (re-exported here).
use sqlx::PgConnection;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::db;
use crate::db::events::NewEvent;
use crate::email::{self, Mail};
use crate::ids::{EventId, SessionId, UserId};
use crate::kinds::{EventKind, SignInMethod};
use crate::request::ClientInfo;
use crate::{DomainError, Services};

mod listing;
mod words;
pub use listing::{export, list, prune, Activity, ActivityPage};
pub(crate) use listing::{list_since, page_of};
pub use words::{sentence, sentence_naming};
use words::notice_words;

/// The activity list shows this many days, and a network or country seen within them is familiar.
pub const ACTIVITY_DAYS: i64 = 90;
pub const FAMILIAR_DAYS: i64 = 90;
/// Events per page of the activity list.
pub const PAGE_SIZE: i64 = 20;
/// The most events a download holds (90 days of a very busy account).
pub const EXPORT_LIMIT: i64 = 10_000;
/// A "This wasn't me" link works this long.
pub const ALERT_LINK_HOURS: i64 = 72;
/// No second alert for the same browser and OS within this many hours.
pub const ALERT_DEDUP_HOURS: i64 = 24;
/// At most this many alert emails per account per 24 hours.
pub const ALERT_EMAILS_PER_DAY: i64 = 3;
/// The page asks "Was this you?" about an alert this recent.
pub const PROMPT_DAYS: i64 = 14;
/// Device and location texts in emails and pages are cut to this many characters.
pub const SHOWN_TEXT_CHARS: usize = 80;

/// The security page, where messages send people.
pub const SECURITY_PATH: &str = "/settings/security";
/// The "This wasn't me" page.
pub const NOT_ME_PATH: &str = "/this-wasnt-me";

/// `text` cut to `max` characters (with "…" when cut), without control characters.
pub fn shown(text: &str, max: usize) -> String {
    let clean: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let clean = clean.trim();
    if clean.chars().count() <= max {
        clean.to_string()
    } else {
        format!("{}…", clean.chars().take(max - 1).collect::<String>().trim_end())
    }
}

/// After removing a way to sign in (`with`: "the passkey “Phone”", "Google") ended `ended` of the
/// account's other sessions too: one `session_revoked` event says so ("Ended 2 other sessions that
/// signed in with Google"), and, as after a Revoke (`sessions::revoke`), the account forgets its
/// trusted browsers, so whoever held those sessions is a stranger again. Nothing when none ended.
pub(crate) async fn sessions_ended_with(
    conn: &mut PgConnection,
    auth: &crate::request::AuthSession,
    ended: u64,
    with: &str,
    client: &ClientInfo,
    now: OffsetDateTime,
) -> Result<(), DomainError> {
    if ended == 0 {
        return Ok(());
    }
    db::users::reset_devices(&mut *conn, auth.user_id, now).await?;
    let what = match ended {
        1 => format!("the other session that signed in with {with}"),
        n => format!("{n} other sessions that signed in with {with}"),
    };
    let event = NewEvent { detail: Some(&what), ..NewEvent::new(auth.user_id, Some(auth.session_id), EventKind::SessionRevoked) };
    db::events::insert(&mut *conn, &event, client, now).await?;
    Ok(())
}

/// "Chrome 131 on Windows 10", cut to [`SHOWN_TEXT_CHARS`].
pub fn device_text(user_agent: Option<&str>) -> String {
    let d = crate::devices::describe(user_agent);
    shown(&format!("{} on {}", d.browser, d.os), SHOWN_TEXT_CHARS)
}

/// A notice's device, approximate place and address of the request that caused it, as shown.
pub(crate) fn facts(client: &ClientInfo) -> (String, String, String) {
    (
        device_text(client.user_agent.as_deref()),
        shown(client.location.as_deref().unwrap_or("Unknown"), SHOWN_TEXT_CHARS),
        client.ip.clone().unwrap_or_else(|| "unknown".into()),
    )
}

/// Records `event`, and when its kind is a credential change, queues the security notice to the
/// account's address (confirmed addresses only), in the same transaction. Notices cannot be
/// turned off.
pub async fn record(
    conn: &mut PgConnection,
    svc: &Services,
    event: NewEvent<'_>,
    client: &ClientInfo,
    now: OffsetDateTime,
) -> Result<EventId, DomainError> {
    let id = db::events::insert(&mut *conn, &event, client, now).await?;
    if let Some((headline, what)) = notice_words(event.kind, event.detail, event.identity, &svc.email.site_name) {
        let what = if event.by_report {
            format!("{what} A report of a sign-in that wasn't you removed it, with everything that sign-in or a later one added.")
        } else {
            what
        };
        // (whoever held those sessions finds them gone: the owner hears why)
        let what = match event.signed_out {
            0 => what,
            1 => format!("{what} The other session that had signed in with it was signed out (not the one on the device below)."),
            n => format!("{what} The {n} other sessions that had signed in with it were signed out (not the one on the device below)."),
        };
        let Some(user) = db::users::find(&mut *conn, event.user_id).await? else { return Ok(id) };
        if user.email_verified_at.is_some() {
            let (device, location, ip) = facts(client);
            let mail = Mail::SecurityNotice {
                headline,
                what,
                when: email::format_when(now),
                device,
                location,
                ip,
                security: svc.email.link(SECURITY_PATH, None),
                reset: svc.email.link("/forgot-password", None),
                advice: if event.by_report {
                    email::NoticeAdvice::ByReport
                } else if matches!(event.kind, EventKind::TotpEnabled | EventKind::TotpChanged) {
                    email::NoticeAdvice::AppTurnedOn
                } else if event.kind == EventKind::PasskeyCopyRefused {
                    email::NoticeAdvice::CopiedPasskey
                } else {
                    email::NoticeAdvice::Reset
                },
            };
            email::queue(&mut *conn, &svc.email, Some(user.id), &user.email, user.display_name.as_deref(), &mail, now).await?;
        }
    }
    Ok(id)
}

/// Starts a new session and records its sign-in (with the method and, for a passkey, its name),
/// the backup code it used up (with its notice), and, when it is unfamiliar (see the module's
/// description), raises an alert. Call it in the transaction that starts the session, with the
/// account's row locked by it (`locked`; `None`: locked here).
///
/// `first_step_only` (a password, a provider): answers `false` and writes nothing when the account
/// has an authenticator, as read under that lock (`events::insert_sign_in`); the caller asks for
/// the second step instead. Otherwise answers `true`.
pub async fn signed_in(
    conn: &mut PgConnection,
    svc: &Services,
    locked: Option<db::alerts::LockedForSignIn>,
    user_id: UserId,
    session: &db::events::NewSession<'_>,
    method: SignInMethod,
    detail: Option<&str>,
    first_step_only: bool,
    client: &ClientInfo,
    now: OffsetDateTime,
) -> Result<bool, DomainError> {
    // one sign-in of this account at a time decides familiarity, so two at once from the same new
    // device raise one alert
    let locked = match locked {
        Some(l) => l,
        None => db::alerts::lock_for_sign_in(&mut *conn, user_id).await?,
    };
    let signed_in_before = locked.signed_in_before;
    // the session, its event, and whether the account signed in from its network and country
    // before it
    let session_id = session.id;
    let event = NewEvent { method: Some(method), detail, ..NewEvent::new(user_id, Some(session_id), EventKind::SignedIn) };
    let since = now - Duration::days(FAMILIAR_DAYS);
    let Some((event_id, history)) =
        db::events::insert_sign_in(&mut *conn, session, &event, client, !signed_in_before, first_step_only, now, since).await?
    else {
        return Ok(false);
    };
    if method.used_backup_code() {
        record(&mut *conn, svc, NewEvent::new(user_id, Some(session_id), EventKind::BackupCodeUsed), client, now).await?;
    }
    let known_device = crate::auth::device_cookies::known_since(
        svc.device_cookies.trusted_since(client.device.as_ref(), user_id),
        locked.devices_reset_at,
    );
    let unfamiliar = signed_in_before && !known_device && !(history.network_seen && history.country_seen);
    if unfamiliar {
        raise_alert(conn, svc, user_id, session_id, event_id, method, client, now).await?;
    }
    Ok(true)
}

async fn raise_alert(
    conn: &mut PgConnection,
    svc: &Services,
    user_id: UserId,
    session_id: SessionId,
    event_id: EventId,
    method: SignInMethod,
    client: &ClientInfo,
    now: OffsetDateTime,
) -> Result<(), DomainError> {
    let d = crate::devices::describe(client.user_agent.as_deref());
    let device_key = format!("{}|{}", d.browser_name, d.os_family);
    let network = db::events::network_of(client.ip.as_deref());
    let recent = db::alerts::recent(&mut *conn, user_id, &device_key, now - Duration::hours(ALERT_DEDUP_HOURS)).await?;
    if recent.same_device {
        return Ok(());
    }
    let user = db::users::find(&mut *conn, user_id).await?.ok_or(DomainError::NotFound)?;
    let emailed = recent.emails < ALERT_EMAILS_PER_DAY && user.email_verified_at.is_some();
    let link = emailed.then(new_link_token);
    db::alerts::insert(
        &mut *conn,
        &db::alerts::NewAlert {
            id: Uuid::new_v4(),
            user_id,
            event_id,
            session_id,
            device_key: &device_key,
            network: network.as_deref(),
            token_hash: link.as_ref().map(|(_, hash)| *hash),
            created_at: now,
            expires_at: now + Duration::hours(ALERT_LINK_HOURS),
        },
    )
    .await?;
    if let Some((token, _)) = link {
        let (device, location, ip) = facts(client);
        let mail = Mail::UnfamiliarSignIn {
            when: email::format_when(now),
            device: device.clone(),
            location,
            ip,
            method: method.words().into(),
            review: svc.email.link(SECURITY_PATH, None),
            not_me: svc.email.link(NOT_ME_PATH, Some(&token)),
            hours: ALERT_LINK_HOURS,
        };
        email::queue(&mut *conn, &svc.email, Some(user_id), &user.email, user.display_name.as_deref(), &mail, now).await?;
        let event = NewEvent { detail: Some(&device), ..NewEvent::new(user_id, Some(session_id), EventKind::SignInAlertSent) };
        db::events::insert(&mut *conn, &event, client, now).await?;
    }
    Ok(())
}

/// A fresh "This wasn't me" token (base64url of 32 random bytes) and its SHA-256.
fn new_link_token() -> (String, [u8; 32]) {
    use base64::Engine;
    use rand::RngCore;
    use sha2::Digest;
    let mut raw = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    (base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw), sha2::Sha256::digest(raw).into())
}
