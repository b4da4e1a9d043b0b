//! The account's security history (`security_events`): append-only. Rows are inserted here and
//! read here; the only removal is the retention task's `prune` (the table's trigger refuses every
//! other UPDATE and DELETE).
use sqlx::{PgExecutor, PgPool};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::ids::{EventId, PasskeyId, SessionId, UserId};
use crate::kinds::{EventKind, SignInMethod};
use crate::request::ClientInfo;

/// An event to append: what happened, to which account, from which session, with what detail.
#[derive(Clone, Copy, Debug)]
pub struct NewEvent<'a> {
    pub user_id: UserId,
    pub session_id: Option<SessionId>,
    pub kind: EventKind,
    /// How a sign-in signed in.
    pub method: Option<SignInMethod>,
    /// What it was about, in words (a passkey's or a provider's name).
    pub detail: Option<&'a str>,
    /// A connected account's own name at its provider (its email, or a GitHub login): said in the
    /// notice email and stored (cut to 200 characters), so the owner can tell a stranger's account
    /// from her own, in the email and in Recent security activity.
    pub identity: Option<&'a str>,
    /// A report of a sign-in ("This wasn't me", "No, secure my account") made the change: its
    /// notice email says so (it read like an attack of its own). Not stored.
    pub by_report: bool,
    /// How many of the account's other sessions that signed in with what was removed ended with
    /// it (a disconnected provider, a removed passkey): its notice email says so. Not stored (the
    /// `session_revoked` event beside it is).
    pub signed_out: u64,
}

impl<'a> NewEvent<'a> {
    pub fn new(user_id: UserId, session_id: Option<SessionId>, kind: EventKind) -> Self {
        Self { user_id, session_id, kind, method: None, detail: None, identity: None, by_report: false, signed_out: 0 }
    }
}

/// An event's detail and where it came from, as the table stores them (cut to its lengths).
pub(crate) struct Stored<'a> {
    pub(crate) detail: Option<&'a str>,
    pub(crate) identity: Option<&'a str>,
    pub(crate) ip: Option<&'a str>,
    pub(crate) user_agent: Option<&'a str>,
    pub(crate) network: Option<String>,
    pub(crate) country: Option<&'a str>,
    pub(crate) location: Option<&'a str>,
}

impl<'a> Stored<'a> {
    pub(crate) fn of(event: &NewEvent<'a>, client: &'a ClientInfo) -> Self {
        Self {
            detail: event.detail.map(|d| truncate(d, 200)),
            identity: event.identity.map(|i| truncate(i, 200)),
            ip: client.ip.as_deref(),
            user_agent: client.user_agent.as_deref().map(|ua| truncate(ua, 512)),
            network: network_of(client.ip.as_deref()),
            country: client.country.as_deref().map(|c| truncate(c, 8)),
            location: client.location.as_deref().map(|l| truncate(l, 200)),
        }
    }
}

/// Whether the account has an event of `kind` with `detail` since `since`.
pub async fn recorded_since(db: impl PgExecutor<'_>, user_id: UserId, kind: EventKind, detail: &str, since: OffsetDateTime) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM security_events WHERE user_id = $1 AND created_at > $2 AND kind = $3 AND detail = $4) AS "recorded!""#,
        user_id.0,
        since,
        kind.as_str(),
        detail,
    )
    .fetch_one(db)
    .await
}

/// Appends `event` with where the request came from; answers the new event's id.
pub async fn insert(db: impl PgExecutor<'_>, event: &NewEvent<'_>, client: &ClientInfo, now: OffsetDateTime) -> Result<EventId, sqlx::Error> {
    let id = EventId::new();
    let c = Stored::of(event, client);
    sqlx::query!(
        "INSERT INTO security_events (id, user_id, session_id, kind, method, detail, ip, user_agent, network, country, location, created_at, identity)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        id.0,
        event.user_id.0,
        event.session_id.map(|s| s.0),
        event.kind.as_str(),
        event.method.map(SignInMethod::as_str),
        c.detail,
        c.ip,
        c.user_agent,
        c.network,
        c.country,
        c.location,
        now,
        c.identity,
    )
    .execute(db)
    .await?;
    Ok(id)
}

/// A session to start with its sign-in's event (`insert_sign_in`).
pub struct NewSession<'a> {
    pub id: SessionId,
    pub token_hash: &'a [u8; 32],
    /// The passkey a passkey sign-in used.
    pub passkey_id: Option<PasskeyId>,
}

/// Starts a session and appends its sign-in's event (`kind` signed_in), records the account's
/// first sign-in when `first`, and answers the event's id and what the account's sign-ins since
/// `since` said about its network and country before it: one statement (its snapshot holds neither
/// the session nor the event it adds). Run it after the account's row was locked for the sign-in
/// (`alerts::lock_for_sign_in`, `alerts::lock_for_password_sign_in`, or a passkey's
/// `passkey_sign_ins::record_sign_in`) in the same transaction, so that snapshot holds every
/// earlier sign-in of the account.
///
/// A sign-in that proved only its first step (`first_step_only`: a password, a provider) starts
/// nothing and answers `None` when the account has an authenticator. This statement, not a check
/// before the lock, is what stands: it reads after the account's row was locked, so it sees an
/// authenticator whose setup committed while the sign-in waited for that lock (a setup holds the
/// row from its check of the session to its commit).
///
/// The session is `new_device` when the account has sessions, but none from this device (browser
/// and OS), or, when the country is known, none from this country.
///
/// What counts is the view `sign_in_history` (migrations 25 to 27): the sign-ins of
/// `distrusted_sessions` (ended as not the owner's, "This wasn't me", "No, secure my account", or
/// revoked from her list, Revoke, Revoke all others, or with the passkey or identity they signed
/// in with, or reported after they ended) make nothing familiar, since whoever signed in there may
/// come back from the same network or country (and, while their browser was trusted, every
/// network they signed in from was recorded).
///
/// The network is compared with `=` (or `IS NULL`), never `IS NOT DISTINCT FROM`, which no index
/// can answer: for an account with 20,000 sign-ins in 90 days the question took 8-11 ms (every
/// one of its sign-ins read) instead of 0.1 ms (`security_events_sign_ins_idx`, EXPLAIN ANALYZE).
pub async fn insert_sign_in(
    db: impl PgExecutor<'_>,
    session: &NewSession<'_>,
    event: &NewEvent<'_>,
    client: &ClientInfo,
    first: bool,
    first_step_only: bool,
    now: OffsetDateTime,
    since: OffsetDateTime,
) -> Result<Option<(EventId, SignInHistory)>, sqlx::Error> {
    debug_assert_eq!(event.kind, EventKind::SignedIn);
    debug_assert_eq!(event.session_id, Some(session.id), "the event is the session's sign-in");
    let id = EventId::new();
    let c = Stored::of(event, client);
    let device_key = device_key(client);
    let r = sqlx::query!(
        r#"WITH seen AS (
             SELECT CASE WHEN $9::text IS NULL
                         THEN EXISTS (SELECT 1 FROM sign_in_history WHERE user_id = $2 AND network IS NULL
                                      AND created_at >= $13)
                         ELSE EXISTS (SELECT 1 FROM sign_in_history WHERE user_id = $2 AND network = $9
                                      AND created_at >= $13)
                    END AS network,
                    ($10::text IS NULL OR EXISTS (SELECT 1 FROM sign_in_history WHERE user_id = $2
                            AND created_at >= $13 AND country = $10)) AS country
         ),
         session AS (
             INSERT INTO sessions (id, user_id, token_hash, created_at, last_seen_at, verified_at, ip, user_agent,
                                   auth_method, device_key, country, passkey_id, new_device)
             SELECT $3, $2, $14, $12, $12, $12, $7, $8, $5, $15, $10, $16,
                    EXISTS (SELECT 1 FROM sessions WHERE user_id = $2)
                    AND (NOT EXISTS (SELECT 1 FROM sessions WHERE user_id = $2 AND device_key = $15)
                         OR ($10::text IS NOT NULL AND NOT EXISTS (SELECT 1 FROM sessions WHERE user_id = $2 AND country = $10)))
             WHERE NOT ($18 AND EXISTS (SELECT 1 FROM totp_credentials WHERE user_id = $2))
             RETURNING 1
         ),
         first_sign_in AS (
             UPDATE users SET first_signed_in_at = $12
             WHERE id = $2 AND $17 AND first_signed_in_at IS NULL AND EXISTS (SELECT 1 FROM session)
         ),
         inserted AS (
             INSERT INTO security_events (id, user_id, session_id, kind, method, detail, ip, user_agent, network, country, location, created_at)
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12 FROM session
             RETURNING 1
         )
         SELECT seen.network AS "network!", seen.country AS "country!" FROM seen, session, inserted"#,
        id.0,
        event.user_id.0,
        session.id.0,
        event.kind.as_str(),
        event.method.map(SignInMethod::as_str),
        c.detail,
        c.ip,
        c.user_agent,
        c.network,
        c.country,
        c.location,
        now,
        since,
        &session.token_hash[..],
        device_key,
        session.passkey_id.map(|p| p.0),
        first,
        first_step_only,
    )
    .fetch_optional(db)
    .await?;
    Ok(r.map(|r| (id, SignInHistory { network_seen: r.network, country_seen: r.country })))
}

/// A session's device (`sessions.device_key`): its browser and OS, as `describe` names them.
pub(crate) fn device_key(client: &ClientInfo) -> String {
    let device = crate::devices::describe(client.user_agent.as_deref());
    format!("{}|{}", device.browser_name, device.os_family)
}

/// Appends an event of `kind` with no detail.
pub async fn record(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    session_id: Option<SessionId>,
    kind: EventKind,
    client: &ClientInfo,
    now: OffsetDateTime,
) -> Result<(), sqlx::Error> {
    insert(db, &NewEvent::new(user_id, session_id, kind), client, now).await.map(|_| ())
}

/// The network an address belongs to, for telling familiar sign-ins: its IPv4 /24 or IPv6 /48
/// ("203.0.113.0/24", "2001:db8:1::/48"). A home or office keeps its /24 or /48 when its
/// provider hands it a new address within it.
pub fn network_of(ip: Option<&str>) -> Option<String> {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    match ip?.parse::<IpAddr>().ok()?.to_canonical() {
        IpAddr::V4(v4) => Some(format!("{}/24", Ipv4Addr::from(u32::from(v4) & 0xffff_ff00))),
        IpAddr::V6(v6) => Some(format!("{}/48", Ipv6Addr::from(u128::from(v6) & (!0u128 << 80)))),
    }
}

/// An event as the activity list shows it (also read as JSON, in `db::overview`).
#[derive(Clone, Debug, serde::Deserialize)]
pub struct EventRow {
    pub id: Uuid,
    pub kind: String,
    pub method: Option<String>,
    pub detail: Option<String>,
    /// The connected account it was about (`NewEvent::identity`); none before 2026-12-08.
    #[serde(default)]
    pub identity: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub location: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// Up to `limit` of the account's events since `since`, newest first, strictly older than `before`
/// (the last row of the previous page: keyset pagination on `(created_at, id)`), of the given
/// kinds (`None`: every kind). Only this account's rows, whatever the cursor says.
pub async fn page(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    kinds: Option<&[String]>,
    since: OffsetDateTime,
    before: Option<(OffsetDateTime, Uuid)>,
    limit: i64,
) -> Result<Vec<EventRow>, sqlx::Error> {
    let (before_at, before_id) = before.unzip();
    sqlx::query_as!(
        EventRow,
        r#"SELECT id, kind, method, detail, identity, ip, user_agent, location, created_at
         FROM security_events
         WHERE user_id = $1 AND created_at >= $2
           AND ($3::text[] IS NULL OR kind = ANY($3))
           AND ($4::timestamptz IS NULL OR (created_at, id) < ($4, $5::uuid))
         ORDER BY created_at DESC, id DESC
         LIMIT $6"#,
        user_id.0,
        since,
        kinds,
        before_at,
        before_id,
        limit,
    )
    .fetch_all(db)
    .await
}

/// Kinds of the account's events, newest first (for tests).
pub async fn kinds(db: impl PgExecutor<'_>, user_id: UserId) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar!("SELECT kind FROM security_events WHERE user_id = $1 ORDER BY created_at DESC, kind", user_id.0)
        .fetch_all(db)
        .await
}

/// What the account's sign-ins since `since` say about a new one from `network` and `country`.
#[derive(Clone, Copy, Debug)]
pub struct SignInHistory {
    pub network_seen: bool,
    /// Also true when the country is not known (a country nobody knows is not a new one).
    pub country_seen: bool,
}

/// The retention task: deletes events older than `before`, the one removal the table allows (its
/// trigger refuses a DELETE outside a transaction that set `gatehouse.pruning_events`).
pub async fn prune(db: &PgPool, before: OffsetDateTime) -> Result<u64, sqlx::Error> {
    let mut tx = db.begin().await?;
    sqlx::query!("SET LOCAL gatehouse.pruning_events = 'on'").execute(&mut *tx).await?;
    let r = sqlx::query!("DELETE FROM security_events WHERE created_at < $1", before).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(r.rows_affected())
}

pub(crate) fn truncate(s: &str, max_chars: usize) -> &str {
    match s.char_indices().nth(max_chars) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_are_ipv4_slash_24_and_ipv6_slash_48() {
        assert_eq!(network_of(Some("203.0.113.77")).as_deref(), Some("203.0.113.0/24"));
        assert_eq!(network_of(Some("::ffff:203.0.113.77")).as_deref(), Some("203.0.113.0/24"));
        assert_eq!(network_of(Some("2001:db8:1:2:3::9")).as_deref(), Some("2001:db8:1::/48"));
        assert_eq!(network_of(Some("not an ip")), None);
        assert_eq!(network_of(None), None);
    }
}
