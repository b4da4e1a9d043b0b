//! What a report of a sign-in takes back ("This wasn't me", "No, secure my account"): since when,
//! the ways in that sign-in or a later one added, and the words its activity entry says.
use time::OffsetDateTime;

use super::{place_of, prompt_since};
use crate::auth::activity::{device_text, shown};
use crate::db;
use crate::db::events::NewEvent;
use crate::ids::{SessionId, UserId};
use crate::kinds::{EventKind, Provider};
use crate::request::ClientInfo;
use crate::{DomainError, Services};

/// A way to sign in that a report took back: the reported sign-in's session, or one that signed in
/// after it, had added it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TakenBack {
    /// A passkey, by its name.
    Passkey(String),
    /// A connected account.
    Provider(Provider),
    /// The authenticator app, and with it the backup codes (two-step verification is off).
    Authenticator,
}

/// When the sessions a report covers began: the reported sign-in's, or an earlier unanswered
/// alert's of the last `PROMPT_DAYS` (not older than the answering session `viewer`), answering
/// those too (`db::alerts::answer_with_earlier`).
pub(super) async fn reported_since(
    tx: &mut sqlx::PgConnection,
    user_id: UserId,
    reported: SessionId,
    viewer: Option<SessionId>,
    now: OffsetDateTime,
) -> Result<(SessionId, OffsetDateTime), DomainError> {
    db::alerts::answer_with_earlier(&mut *tx, user_id, reported, viewer, prompt_since(now), now).await?.ok_or(DomainError::NotFound)
}

/// Deletes every passkey, connected account and authenticator app that the session `since` names,
/// or one of the account's that began after it, added (not `keep`'s: the session answering the prompt), each with
/// its `passkey_removed`, `provider_disconnected` or `totp_disabled` event and notice email, as
/// when removed by hand. Whoever signed in could otherwise sign in again with what they added
/// after the owner's new password, or, with an authenticator of theirs, keep the owner out. Call
/// it with the account's row locked.
///
/// So do the passkey and the connected account that a reported sign-in signed in with (answered
/// apart, as `ways_in`): whoever signed in has the owner's synced passkey or Google account, and
/// would sign in with it again.
///
/// The last way to sign in may go too (an intruder who added a passkey and removed the owner's
/// others, or got in with the account's only one): the account keeps its address, and a reset
/// link is the way back in.
pub(super) async fn take_back(
    tx: &mut sqlx::PgConnection,
    svc: &Services,
    user_id: UserId,
    since: (SessionId, OffsetDateTime),
    keep: Option<SessionId>,
    client: &ClientInfo,
    now: OffsetDateTime,
) -> Result<(Vec<TakenBack>, Vec<TakenBack>), DomainError> {
    let rows = db::alerts::take_back_added(&mut *tx, user_id, since, keep).await?;
    let (mut taken_back, mut ways_in) = (Vec::new(), Vec::new());
    for row in rows {
        let used = row.used;
        let item = match (row.kind.as_str(), row.detail) {
            ("passkey", Some(name)) => TakenBack::Passkey(name),
            ("provider", Some(p)) => match Provider::parse(&p) {
                Some(p) => TakenBack::Provider(p),
                // (the table's CHECK allows only the known providers)
                None => return Err(DomainError::Internal(format!("unknown provider {p:?} taken back"))),
            },
            _ => TakenBack::Authenticator,
        };
        let (kind, detail) = match &item {
            TakenBack::Passkey(name) => (EventKind::PasskeyRemoved, Some(name.as_str())),
            TakenBack::Provider(p) => (EventKind::ProviderDisconnected, Some(p.name())),
            TakenBack::Authenticator => (EventKind::TotpDisabled, None),
        };
        // (the account at the provider, named as a disconnection from the page names it: whoever
        // signed in may have connected their own)
        let identity = crate::auth::providers::shown_as(row.login.as_deref(), row.email.as_deref());
        let event = NewEvent { detail, identity: identity.as_deref(), by_report: true, ..NewEvent::new(user_id, keep, kind) };
        crate::auth::activity::record(&mut *tx, svc, event, client, now).await?;
        if used { ways_in.push(item) } else { taken_back.push(item) }
    }
    Ok((taken_back, ways_in))
}

/// What a report ended, as its activity entry says it: the reported sign-in's session (or that it
/// had `already_ended`: signed out, revoked or expired) and how many `others` ended with it ("its
/// session and 2 other sessions ended").
pub(super) fn ended_words(already_ended: bool, others: u64) -> String {
    let others = match others {
        0 => None,
        1 => Some("1 other session".to_string()),
        n => Some(format!("{n} other sessions")),
    };
    match (already_ended, others) {
        (false, None) => "its session ended".into(),
        (false, Some(o)) => format!("its session and {o} ended"),
        (true, None) => "it had already ended".into(),
        (true, Some(o)) => format!("it had already ended, and {o} ended"),
    }
}

/// A `sign_in_reported` event's detail: which sign-in (its device and place, as its alert email
/// said them), where the report came from, and, after "; ", what ended: "Chrome 131 on Windows 10
/// near Lisbon, from the email; its session and 2 other sessions ended" (`activity::sentence`
/// reads it as "Reported a sign-in that wasn't you (…): …"). At most about 180 characters (a
/// device of 60, a place of 40, what ended under 60), under the column's 200, so the part after
/// "; " is never cut.
pub(super) async fn reported_detail(
    tx: &mut sqlx::PgConnection,
    user_id: UserId,
    session_id: SessionId,
    from: &str,
    ended: &str,
) -> Result<String, DomainError> {
    let which = match db::alerts::alerted_sign_in_seen(&mut *tx, user_id, session_id).await? {
        Some((user_agent, location)) => {
            let device = shown(&device_text(user_agent.as_deref()), 60);
            match place_of(location.as_deref()) {
                Some(place) => format!("{device} near {place}, "),
                None => format!("{device}, "),
            }
        }
        None => String::new(),
    };
    Ok(format!("{which}{from}; {ended}"))
}

#[cfg(test)]
mod tests {
    use super::ended_words;

    #[test]
    fn a_reports_entry_says_whether_the_sign_in_had_ended_and_how_many_others_ended() {
        assert_eq!(ended_words(false, 0), "its session ended");
        assert_eq!(ended_words(false, 1), "its session and 1 other session ended");
        assert_eq!(ended_words(true, 0), "it had already ended");
        assert_eq!(ended_words(true, 3), "it had already ended, and 3 other sessions ended");
    }
}
