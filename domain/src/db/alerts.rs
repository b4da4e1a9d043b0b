//! Alerts about unfamiliar sign-ins (`sign_in_alerts`): the page's "Was this you?" prompt and the
//! emailed "This wasn't me" link (only its SHA-256 is stored).
use sqlx::PgExecutor;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::ids::{EventId, SessionId, UserId};

/// An account's row, locked for a sign-in by the caller's transaction: one sign-in of the account
/// at a time decides whether it is unfamiliar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockedForSignIn {
    /// The account signed in before (`users.first_signed_in_at` is set).
    pub signed_in_before: bool,
    /// When the account last forgot its trusted browsers (`users.devices_reset_at`; see
    /// `device_cookies::known_since`).
    pub devices_reset_at: Option<OffsetDateTime>,
}

/// Locks the account's row for the rest of the transaction and answers whether it signed in
/// before, and when it last forgot its trusted browsers.
pub async fn lock_for_sign_in(db: impl PgExecutor<'_>, user_id: UserId) -> Result<LockedForSignIn, sqlx::Error> {
    let row = sqlx::query!("SELECT first_signed_in_at, devices_reset_at FROM users WHERE id = $1 FOR NO KEY UPDATE", user_id.0)
        .fetch_optional(db)
        .await?;
    Ok(LockedForSignIn {
        signed_in_before: row.as_ref().is_some_and(|r| r.first_signed_in_at.is_some()),
        devices_reset_at: row.and_then(|r| r.devices_reset_at),
    })
}

/// What `lock_for_password_sign_in` found under the lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockedForPasswordSignIn {
    pub locked: LockedForSignIn,
    /// The account has an authenticator (`totp_credentials`): the password alone earns no session.
    pub second_step_due: bool,
}

/// Like `lock_for_sign_in`, for a sign-in that checked the password it read with the account's
/// row (`password_changed_at` as it read it): `None` when that password is no longer the account's
/// (a change or reset committed since; one still in flight is waited for) or the account is gone.
/// In the same statement it answers whether a second step is due (the account has an
/// authenticator, as the statement began: one turned on while the statement waited for the lock
/// is not seen here, but by the session's insert after it, `events::insert_sign_in`) and, when the
/// account's row matched and no second step is due, starts the throttle count of the sign-in's
/// path (`throttle_path`) again: for a sign-in without a second step one round trip where there
/// were three. The count's reset is the caller's transaction's: it stands only if the caller
/// commits the session.
pub async fn lock_for_password_sign_in(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    password_changed_at: Option<OffsetDateTime>,
    throttle_path: &[u8],
) -> Result<Option<LockedForPasswordSignIn>, sqlx::Error> {
    // (the DELETE reads `account`, so the account's row is locked first, as in every other
    // transaction that locks both)
    let row = sqlx::query!(
        r#"WITH account AS (
               SELECT u.first_signed_in_at, u.devices_reset_at,
                      EXISTS (SELECT 1 FROM totp_credentials c WHERE c.user_id = u.id) AS second_step_due
               FROM users u
               WHERE u.id = $1 AND u.password_changed_at IS NOT DISTINCT FROM $2
               FOR NO KEY UPDATE OF u
           ),
           reset AS (
               DELETE FROM sign_in_throttles
               WHERE user_id = $1 AND device = $3 AND EXISTS (SELECT 1 FROM account WHERE NOT second_step_due)
           )
           SELECT first_signed_in_at, devices_reset_at, second_step_due AS "second_step_due!" FROM account"#,
        user_id.0,
        password_changed_at,
        throttle_path,
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| LockedForPasswordSignIn {
        locked: LockedForSignIn { signed_in_before: r.first_signed_in_at.is_some(), devices_reset_at: r.devices_reset_at },
        second_step_due: r.second_step_due,
    }))
}

pub struct NewAlert<'a> {
    pub id: Uuid,
    pub user_id: UserId,
    pub event_id: EventId,
    pub session_id: SessionId,
    pub device_key: &'a str,
    pub network: Option<&'a str>,
    pub token_hash: Option<[u8; 32]>,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// The retention task: deletes alerts raised before `before` (with the events of their time).
pub async fn prune(db: impl PgExecutor<'_>, before: OffsetDateTime) -> Result<u64, sqlx::Error> {
    let r = sqlx::query!("DELETE FROM sign_in_alerts WHERE created_at < $1", before).execute(db).await?;
    Ok(r.rows_affected())
}

pub async fn insert(db: impl PgExecutor<'_>, a: &NewAlert<'_>) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO sign_in_alerts (id, user_id, event_id, session_id, device_key, token_hash, created_at, expires_at, network)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        a.id,
        a.user_id.0,
        a.event_id.0,
        a.session_id.0,
        a.device_key,
        a.token_hash.as_ref().map(|h| &h[..]),
        a.created_at,
        a.expires_at,
        a.network,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// The account's alerts since `since`: how many were emailed, and whether one about this device
/// (browser and OS) is still unanswered (once the owner said "Yes, it was me", the next unfamiliar
/// sign-in from such a device is asked about again, and so is one after the owner ended the
/// alerted session as not to be trusted, `distrusted_sessions`: that device coming back is news).
#[derive(Clone, Copy, Debug)]
pub struct Recent {
    pub emails: i64,
    pub same_device: bool,
}

pub async fn recent(db: impl PgExecutor<'_>, user_id: UserId, device_key: &str, since: OffsetDateTime) -> Result<Recent, sqlx::Error> {
    let r = sqlx::query!(
        r#"SELECT count(*) FILTER (WHERE a.token_hash IS NOT NULL) AS "emails!",
                  bool_or(a.device_key = $2 AND a.acknowledged_at IS NULL
                          AND NOT EXISTS (SELECT 1 FROM distrusted_sessions d WHERE d.id = a.session_id))
                      IS TRUE AS "same_device!"
           FROM sign_in_alerts a
           WHERE a.user_id = $1 AND a.created_at >= $3"#,
        user_id.0,
        device_key,
        since,
    )
    .fetch_one(db)
    .await?;
    Ok(Recent { emails: r.emails, same_device: r.same_device })
}

/// An alert with what its sign-in event recorded (also read as JSON, in `db::overview`).
#[derive(Clone, Debug, serde::Deserialize)]
pub struct AlertRow {
    pub id: Uuid,
    pub user_id: UserId,
    pub session_id: SessionId,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub reported_at: Option<OffsetDateTime>,
    /// Answered: "Yes, it was me", "No, secure my account", or covered by a report. (The
    /// overview's prompt, an unanswered alert, leaves it out.)
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub acknowledged_at: Option<OffsetDateTime>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub location: Option<String>,
    pub method: Option<String>,
}

/// The alert a "This wasn't me" link belongs to.
pub async fn find_by_token(db: impl PgExecutor<'_>, token_hash: &[u8; 32]) -> Result<Option<AlertRow>, sqlx::Error> {
    sqlx::query_as!(
        AlertRow,
        "SELECT a.id, a.user_id, a.session_id, a.created_at, a.expires_at, a.reported_at, a.acknowledged_at, e.user_agent, e.ip, e.location, e.method
         FROM sign_in_alerts a LEFT JOIN security_events e ON e.id = a.event_id
         WHERE a.token_hash = $1",
        &token_hash[..],
    )
    .fetch_optional(db)
    .await
}

/// "It was me", from a "This wasn't me" link: answers its alert as the page's "Yes, it was me" does
/// (the prompt goes, and a later report of another sign-in no longer sweeps this one), and leaves
/// the link working for a report (see `alerts::not_me_link`). Answers the alert's account and
/// session, or `None` when it was answered already, reported, has expired, or is unknown.
pub async fn acknowledge_by_token(db: impl PgExecutor<'_>, token_hash: &[u8; 32], now: OffsetDateTime) -> Result<Option<(UserId, SessionId)>, sqlx::Error> {
    let r = sqlx::query!(
        "UPDATE sign_in_alerts SET acknowledged_at = $2
         WHERE token_hash = $1 AND acknowledged_at IS NULL AND reported_at IS NULL AND expires_at > $2
         RETURNING user_id, session_id",
        &token_hash[..],
        now,
    )
    .fetch_optional(db)
    .await?;
    Ok(r.map(|r| (UserId(r.user_id), SessionId(r.session_id))))
}

/// Uses a "This wasn't me" link: once, before it expires, and whether or not the page's prompt was
/// answered Yes (see `alerts::not_me_link`). Answers the alert's account and session, or `None`
/// when the link was used already (or "No, secure my account" used it), has expired, or is unknown.
pub async fn report(db: impl PgExecutor<'_>, token_hash: &[u8; 32], now: OffsetDateTime) -> Result<Option<(UserId, SessionId)>, sqlx::Error> {
    let r = sqlx::query!(
        "UPDATE sign_in_alerts SET reported_at = $2, acknowledged_at = COALESCE(acknowledged_at, $2)
         WHERE token_hash = $1 AND reported_at IS NULL AND expires_at > $2
         RETURNING user_id, session_id",
        &token_hash[..],
        now,
    )
    .fetch_optional(db)
    .await?;
    Ok(r.map(|r| (UserId(r.user_id), SessionId(r.session_id))))
}

/// The device and approximate place (user agent, location) of the sign-in that started the
/// account's `session_id`, as its alert's `signed_in` event recorded them; `None` without an alert.
pub async fn alerted_sign_in_seen(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    session_id: SessionId,
) -> Result<Option<(Option<String>, Option<String>)>, sqlx::Error> {
    let r = sqlx::query!(
        "SELECT e.user_agent, e.location FROM sign_in_alerts a JOIN security_events e ON e.id = a.event_id AND e.user_id = a.user_id
         WHERE a.user_id = $1 AND a.session_id = $2 LIMIT 1",
        user_id.0,
        session_id.0,
    )
    .fetch_optional(db)
    .await?;
    Ok(r.map(|r| (r.user_agent, r.location)))
}

/// The account's newest unanswered alert since `since` about a sign-in not before `viewer` signed in: a
/// session is never asked about itself, nor about any sign-in older than itself, nor while it is
/// itself an unanswered alert's sign-in, so whoever signed in (and any session they opened before
/// or since) cannot answer for the owner.
pub async fn newest_unanswered(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    viewer: SessionId,
    since: OffsetDateTime,
) -> Result<Option<AlertRow>, sqlx::Error> {
    sqlx::query_as!(
        AlertRow,
        "SELECT a.id, a.user_id, a.session_id, a.created_at, a.expires_at, a.reported_at, a.acknowledged_at, e.user_agent, e.ip, e.location, e.method
         FROM sign_in_alerts a LEFT JOIN security_events e ON e.id = a.event_id
         JOIN sessions v ON v.id = $2 AND v.user_id = a.user_id
         WHERE a.user_id = $1 AND a.session_id <> $2 AND v.created_at <= a.created_at
           AND a.acknowledged_at IS NULL AND a.created_at >= $3
           AND NOT EXISTS (SELECT 1 FROM sign_in_alerts x WHERE x.session_id = $2 AND x.acknowledged_at IS NULL)
         ORDER BY a.created_at DESC LIMIT 1",
        user_id.0,
        viewer.0,
        since,
    )
    .fetch_optional(db)
    .await
}

/// Answers one of the account's unanswered alerts about a sign-in after `viewer` signed in (as
/// `newest_unanswered` shows them); answers its session, or `None` for another account's alert,
/// an answered one, one the viewer may not answer, or an unknown id. `reported` ("No, secure my
/// account") also uses up the alert's emailed "This wasn't me" link, as a report from it would:
/// followed later, it would end the sessions and undo what the owner set up since.
pub async fn acknowledge(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    id: Uuid,
    viewer: SessionId,
    now: OffsetDateTime,
    reported: bool,
) -> Result<Option<SessionId>, sqlx::Error> {
    let r = sqlx::query_scalar!(
        "UPDATE sign_in_alerts a SET acknowledged_at = $4, reported_at = CASE WHEN $5 THEN COALESCE(a.reported_at, $4) ELSE a.reported_at END
         FROM sessions v
         WHERE a.user_id = $1 AND a.id = $2 AND a.session_id <> $3 AND a.acknowledged_at IS NULL
           AND v.id = $3 AND v.user_id = $1 AND v.created_at <= a.created_at
           AND NOT EXISTS (SELECT 1 FROM sign_in_alerts x WHERE x.session_id = $3 AND x.acknowledged_at IS NULL)
         RETURNING a.session_id",
        user_id.0,
        id,
        viewer.0,
        now,
        reported,
    )
    .fetch_optional(db)
    .await?;
    Ok(r.map(SessionId))
}

/// A way to sign in that a report took back, oldest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TakenBackRow {
    /// "passkey", "provider" or "authenticator".
    pub kind: String,
    /// The passkey's name, or the provider (`Provider::as_str`).
    pub detail: Option<String>,
    /// A connected account's login and email at its provider (`providers::shown_as` names it).
    pub login: Option<String>,
    pub email: Option<String>,
    pub added_at: OffsetDateTime,
    /// A reported sign-in signed in with it (the owner's own passkey or connected account, which
    /// whoever signed in can use); `false`: one of the covered sessions added it.
    pub used: bool,
}

/// A report also answers every other unanswered alert of the account since `window` (about a
/// sign-in not older than the answering session `viewer`, when there is one), and uses up their
/// "This wasn't me" links: whoever signed in unfamiliarly twice is one intruder, and "No" about
/// their second sign-in must not leave the first. (A covered link left working could later undo
/// the owner's recovery: end the sessions and remove the passkeys made since.) Answers the earliest of those sign-ins' sessions and the reported one (`reported`,
/// answered already), with when it began: the report covers it and every session of the account
/// that began after it.
pub async fn answer_with_earlier(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    reported: SessionId,
    viewer: Option<SessionId>,
    window: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<Option<(SessionId, OffsetDateTime)>, sqlx::Error> {
    let row = sqlx::query!(
        r#"WITH answered AS (
               UPDATE sign_in_alerts a SET acknowledged_at = $5, reported_at = COALESCE(a.reported_at, $5)
               WHERE a.user_id = $1 AND a.acknowledged_at IS NULL AND a.created_at >= $4
                 AND a.session_id IS DISTINCT FROM $3
                 AND a.created_at >= COALESCE((SELECT v.created_at FROM sessions v WHERE v.id = $3 AND v.user_id = $1), '-infinity')
               RETURNING a.session_id)
           SELECT s.id, s.created_at FROM sessions s
           WHERE s.user_id = $1 AND (s.id = $2 OR s.id IN (SELECT session_id FROM answered))
           ORDER BY s.created_at, s.id LIMIT 1"#,
        user_id.0,
        reported.0,
        viewer.map(|v| v.0),
        window,
        now,
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| (SessionId(r.id), r.created_at)))
}

/// "This wasn't me": deletes every passkey, connected account and authenticator app, with the
/// backup codes that go with it, that session `from` or a session of the account that began after
/// it (`since`) added, and the passkey or connected account that a reported sign-in among those
/// sessions (an alert's, `reported_at` set) signed in with: whoever signed in that way can do it
/// again (a synced passkey or a Google account of the owner's in their hands). `keep` (the session
/// answering the prompt) keeps what it added. One statement: a way to sign in added while the
/// report waited for the account's row is seen and goes too. Answers what went.
pub async fn take_back_added(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    (from, since): (SessionId, OffsetDateTime),
    keep: Option<SessionId>,
) -> Result<Vec<TakenBackRow>, sqlx::Error> {
    sqlx::query_as!(
        TakenBackRow,
        r#"WITH since AS (
               SELECT id FROM sessions
               WHERE user_id = $1 AND (id = $4 OR created_at > $2) AND id IS DISTINCT FROM $3
           ), ways_in AS (
               SELECT s.passkey_id, split_part(s.auth_method, '+', 1) AS method, s.created_at FROM sessions s
               WHERE s.user_id = $1 AND s.id IN (SELECT id FROM since)
                 AND EXISTS (SELECT 1 FROM sign_in_alerts a WHERE a.session_id = s.id AND a.user_id = $1 AND a.reported_at IS NOT NULL)
           ), passkeys_gone AS (
               DELETE FROM passkeys
               WHERE user_id = $1 AND (added_by_session IN (SELECT id FROM since) OR id IN (SELECT passkey_id FROM ways_in))
               RETURNING name, created_at, added_by_session IN (SELECT id FROM since) IS NOT TRUE AS used
           ), links_gone AS (
               DELETE FROM connected_accounts
               WHERE user_id = $1 AND (added_by_session IN (SELECT id FROM since)
                   -- (the connection that sign-in used: one made since, after the owner secured
                   -- that account and connected it again, stays)
                   OR EXISTS (SELECT 1 FROM ways_in w WHERE w.method = connected_accounts.provider AND connected_accounts.connected_at <= w.created_at))
               RETURNING provider, login, email, connected_at, added_by_session IN (SELECT id FROM since) IS NOT TRUE AS used
           ), authenticator_gone AS (
               DELETE FROM totp_credentials WHERE user_id = $1 AND added_by_session IN (SELECT id FROM since)
               RETURNING enabled_at
           ), codes_gone AS (
               DELETE FROM backup_codes WHERE user_id = $1 AND EXISTS (SELECT 1 FROM authenticator_gone)
           )
           SELECT 'passkey' AS "kind!", name AS "detail?", NULL::text AS "login?", NULL::text AS "email?", created_at AS "added_at!", used AS "used!"
             FROM passkeys_gone
           UNION ALL SELECT 'provider', provider, login, email, connected_at, used FROM links_gone
           UNION ALL SELECT 'authenticator', NULL, NULL, NULL, enabled_at, false FROM authenticator_gone
           ORDER BY 5, 1, 2"#,
        user_id.0,
        since,
        keep.map(|k| k.0),
        from.0,
    )
    .fetch_all(db)
    .await
}
