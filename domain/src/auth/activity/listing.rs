//! The activity list as the page and its downloads show it: pages of the account's events, newest
//! first, with a cursor for the next; every event for the downloads; and the retention task that
//! deletes what is older than the retention period (never less than the list shows). (Recording
//! events is `activity`'s.)
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::{device_text, sentence_naming, shown, ACTIVITY_DAYS, EXPORT_LIMIT, PAGE_SIZE, SHOWN_TEXT_CHARS};
use crate::db;
use crate::error::Invalid;
use crate::kinds::{ActivityFilter, EventKind, SignInMethod};
use crate::request::AuthSession;
use crate::{DomainError, Services};

/// One event as the activity list and its downloads show it.
#[derive(Clone, Debug, PartialEq)]
pub struct Activity {
    pub id: Uuid,
    pub kind: EventKind,
    pub sentence: String,
    pub at: OffsetDateTime,
    /// "Chrome 131 on Windows 10" ("Unknown browser on Unknown OS" when it did not say).
    pub device: String,
    /// The user agent as sent (cut to 512 characters when stored).
    pub user_agent: Option<String>,
    /// Approximate, as the geo-IP database knew it then; `None` when not looked up.
    pub location: Option<String>,
    pub ip: Option<String>,
}

/// A page of the activity list, and where the next one starts.
#[derive(Clone, Debug)]
pub struct ActivityPage {
    pub events: Vec<Activity>,
    /// The cursor of the next (older) page; `None` on the last page.
    pub next: Option<String>,
}

/// The cursor after `a`: its time (Unix nanoseconds) and id. It only ever narrows the signed-in
/// account's own events, so a made-up one shows nothing it could not see anyway.
fn cursor_of(a: &Activity) -> String {
    format!("{}_{}", a.at.unix_timestamp_nanos(), a.id)
}

fn parse_cursor(cursor: &str) -> Result<(OffsetDateTime, Uuid), DomainError> {
    let bad = || DomainError::Invalid(Invalid::ActivityCursor);
    let (at, id) = cursor.split_once('_').ok_or_else(bad)?;
    let at = OffsetDateTime::from_unix_timestamp_nanos(at.parse::<i128>().map_err(|_| bad())?).map_err(|_| bad())?;
    // no event is older than 1970; Postgres holds no time before 4713 BC, which `time` does
    if at < OffsetDateTime::UNIX_EPOCH {
        return Err(bad());
    }
    Ok((at, Uuid::parse_str(id).map_err(|_| bad())?))
}

fn activity(row: db::events::EventRow) -> Option<Activity> {
    let kind = EventKind::parse(&row.kind)?;
    let method = row.method.as_deref().and_then(SignInMethod::parse);
    Some(Activity {
        id: row.id,
        kind,
        sentence: sentence_naming(kind, method, row.detail.as_deref(), row.identity.as_deref()),
        at: row.created_at,
        device: device_text(row.user_agent.as_deref()),
        user_agent: row.user_agent,
        location: row.location.as_deref().map(|l| shown(l, SHOWN_TEXT_CHARS)),
        ip: row.ip,
    })
}

fn kinds_of(filter: Option<ActivityFilter>) -> Option<Vec<String>> {
    filter.map(|f| f.kinds().into_iter().map(|k| k.as_str().to_string()).collect())
}

/// A page of the signed-in account's events of the last [`ACTIVITY_DAYS`] days, newest first,
/// older than `cursor` (from the previous page's `next`), of one group or all.
pub async fn list(
    svc: &Services,
    auth: &AuthSession,
    filter: Option<ActivityFilter>,
    cursor: Option<&str>,
) -> Result<ActivityPage, DomainError> {
    let before = cursor.map(parse_cursor).transpose()?;
    let since = list_since(svc.clock.now());
    let kinds = kinds_of(filter);
    let rows = db::events::page(&svc.db, auth.user_id, kinds.as_deref(), since, before, PAGE_SIZE + 1).await?;
    Ok(page_of(rows))
}

/// The oldest event `list` shows at `now`.
pub(crate) fn list_since(now: OffsetDateTime) -> OffsetDateTime {
    now - Duration::days(ACTIVITY_DAYS)
}

/// `list`'s page from up to [`PAGE_SIZE`] + 1 rows, newest first (one more tells there are older).
pub(crate) fn page_of(mut rows: Vec<db::events::EventRow>) -> ActivityPage {
    let more = rows.len() as i64 > PAGE_SIZE;
    rows.truncate(PAGE_SIZE as usize);
    let events: Vec<Activity> = rows.into_iter().filter_map(activity).collect();
    let next = if more { events.last().map(cursor_of) } else { None };
    ActivityPage { events, next }
}

/// Every event the list shows for `filter` (all its pages), newest first, for the downloads.
pub async fn export(svc: &Services, auth: &AuthSession, filter: Option<ActivityFilter>) -> Result<Vec<Activity>, DomainError> {
    let since = svc.clock.now() - Duration::days(ACTIVITY_DAYS);
    let kinds = kinds_of(filter);
    let rows = db::events::page(&svc.db, auth.user_id, kinds.as_deref(), since, None, EXPORT_LIMIT).await?;
    Ok(rows.into_iter().filter_map(activity).collect())
}

/// The retention task: deletes events older than the retention period (`[sessions]
/// retention_days`), and nothing younger, and the sign-in alerts of that time (their "This wasn't
/// me" links ended after 72 hours). Answers how many events it deleted.
pub async fn prune(svc: &Services) -> Result<u64, DomainError> {
    let before = svc.clock.now() - Duration::days(svc.sessions.retention_days.max(ACTIVITY_DAYS));
    let alerts = db::alerts::prune(&svc.db, before).await?;
    if alerts > 0 {
        tracing::info!(alerts, "pruned sign-in alerts past the retention period");
    }
    Ok(db::events::prune(&svc.db, before).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let a = Activity {
            id: Uuid::new_v4(),
            kind: EventKind::SignedIn,
            sentence: String::new(),
            at: time::macros::datetime!(2026-12-01 14:05:59.123456 UTC),
            device: String::new(),
            user_agent: None,
            location: None,
            ip: None,
        };
        assert_eq!(parse_cursor(&cursor_of(&a)).unwrap(), (a.at, a.id));
        for bad in ["", "x_y", "123", "123_notauuid", "99999999999999999999999999999999_00000000-0000-0000-0000-000000000000"] {
            assert!(parse_cursor(bad).is_err(), "{bad}");
        }
    }
}
