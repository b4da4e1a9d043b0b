use sqlx::PgExecutor;
use time::OffsetDateTime;

use crate::ids::{OrganizationId, PasskeyId, SessionId, UserId};
use crate::kinds::{RevokeReason, SignInMethod};
use crate::plan::Plan;

/// Per plan, the oldest sign-in (`created_after`) and last activity (`seen_after`) a live session
/// may have. Bound as three arrays, so the clean-up sweep applies every plan's lifetimes in one
/// statement.
#[derive(Clone, Debug, Default)]
pub struct Cutoffs {
    pub plans: Vec<&'static str>,
    pub created_after: Vec<OffsetDateTime>,
    pub seen_after: Vec<OffsetDateTime>,
}

#[derive(Clone, Debug)]
pub struct LiveSessionRow {
    pub id: SessionId,
    pub user_id: UserId,
    pub created_at: OffsetDateTime,
    pub last_seen_at: OffsetDateTime,
    pub verified_at: OffsetDateTime,
    pub email: String,
    pub display_name: Option<String>,
    pub plan: Plan,
    pub has_second_factor: bool,
    pub auth_method: SignInMethod,
}

/// (also read as JSON, in `db::overview`)
#[derive(Debug, serde::Deserialize)]
pub struct SessionRow {
    pub new_device: bool,
    pub id: SessionId,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_seen_at: OffsetDateTime,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub auth_method: SignInMethod,
    /// The passkey a passkey session signed in with (`None` once removed).
    pub passkey_name: Option<String>,
}

/// The unrevoked session with this token hash, with its account and plan. One query, straight to
/// Postgres (no cache that could serve a revoked session); the caller checks the plan's lifetimes.
/// The simplest statement of all: it runs on every signed-in request.
pub async fn find_unrevoked(db: impl PgExecutor<'_>, token_hash: &[u8; 32]) -> Result<Option<LiveSessionRow>, sqlx::Error> {
    sqlx::query_as!(
        LiveSessionRow,
        r#"SELECT s.id, s.user_id, s.created_at, s.last_seen_at, s.verified_at, u.email, u.display_name,
                COALESCE(o.plan, 'free') AS "plan!: Plan",
                EXISTS (SELECT 1 FROM totp_credentials t WHERE t.user_id = s.user_id) AS "has_second_factor!",
                s.auth_method AS "auth_method: SignInMethod"
         FROM sessions s JOIN users u ON u.id = s.user_id LEFT JOIN organizations o ON o.id = u.organization_id
         WHERE s.token_hash = $1 AND s.revoked_at IS NULL"#,
        &token_hash[..],
    )
    .fetch_optional(db)
    .await
}

/// Records activity, unless it was recorded after `unless_after` (at most one write per interval).
pub async fn touch(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    id: SessionId,
    now: OffsetDateTime,
    unless_after: OffsetDateTime,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE sessions SET last_seen_at = $3 WHERE id = $2 AND user_id = $1 AND last_seen_at <= $4",
        user_id.0,
        id.0,
        now,
        unless_after,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// The account's live sessions: not revoked, signed in after `created_after`, seen after
/// `seen_after` (its plan's lifetimes).
pub async fn list_live(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    created_after: OffsetDateTime,
    seen_after: OffsetDateTime,
) -> Result<Vec<SessionRow>, sqlx::Error> {
    sqlx::query_as!(
        SessionRow,
        // `?`: no name once the passkey is removed (sqlx does not infer this left join's nullability).
        r#"SELECT s.id, s.created_at, s.last_seen_at, s.ip, s.user_agent, s.auth_method AS "auth_method: SignInMethod", s.new_device,
                p.name AS "passkey_name?"
         FROM sessions s LEFT JOIN passkeys p ON p.id = s.passkey_id AND p.user_id = s.user_id
         WHERE s.user_id = $1 AND s.revoked_at IS NULL AND s.created_at > $2 AND s.last_seen_at > $3
         ORDER BY s.last_seen_at DESC, s.id"#,
        user_id.0,
        created_after,
        seen_after,
    )
    .fetch_all(db)
    .await
}

/// Whether the account's session `id` has ended (revoked, signed out or expired by the sweep).
pub async fn has_ended(db: impl PgExecutor<'_>, user_id: UserId, id: SessionId) -> Result<bool, sqlx::Error> {
    let live = sqlx::query_scalar!("SELECT revoked_at IS NULL AS \"live!\" FROM sessions WHERE id = $1 AND user_id = $2", id.0, user_id.0)
        .fetch_optional(db)
        .await?;
    Ok(live != Some(true))
}

/// "This wasn't me": ends session `from` (the reported sign-in's) and every session of the account
/// that began after it (`since`: whoever signed in may have opened more, from other addresses too,
/// with the device cookie their first sign-in gave them; the owner's own later sign-ins sign in
/// again). Answers how many ended.
pub async fn revoke_since(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    (from, since): (SessionId, OffsetDateTime),
    now: OffsetDateTime,
) -> Result<u64, sqlx::Error> {
    let r = sqlx::query!(
        "UPDATE sessions SET revoked_at = $3, revoked_reason = $4
         WHERE user_id = $1 AND revoked_at IS NULL AND (id = $5 OR created_at > $2)",
        user_id.0,
        since,
        now,
        RevokeReason::ReportedNotMe.as_str(),
        from.0,
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected())
}

/// Records that a report covers the account's sessions since `since` (`from`, and every one
/// created after it), live or already ended, but `keep` (the session answering "No, secure my
/// account"): their sign-ins teach nothing (`distrusted_sessions`, migration 29).
pub async fn mark_reported(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    (from, since): (SessionId, OffsetDateTime),
    keep: Option<SessionId>,
    now: OffsetDateTime,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE sessions SET reported_at = $3
         WHERE user_id = $1 AND reported_at IS NULL AND (id = $4 OR created_at > $2) AND id IS DISTINCT FROM $5",
        user_id.0,
        since,
        now,
        from.0,
        keep.map(|k| k.0),
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Revokes one of the account's sessions; answers whether anything changed.
pub async fn revoke(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    id: SessionId,
    now: OffsetDateTime,
    reason: RevokeReason,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query!(
        "UPDATE sessions SET revoked_at = $3, revoked_reason = $4 WHERE id = $2 AND user_id = $1 AND revoked_at IS NULL",
        user_id.0,
        id.0,
        now,
        reason.as_str(),
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// What `revoke_live` ended: the session's browser, as it signed in (for the activity list's
/// "Ended the Firefox 133 on Windows 10 session").
pub struct Revoked {
    pub user_agent: Option<String>,
}

/// Revokes one of the account's live sessions; answers the one that ended, if one did. The owner
/// check and the liveness check are part of the update, so an id from another account matches
/// nothing.
pub async fn revoke_live(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    id: SessionId,
    created_after: OffsetDateTime,
    seen_after: OffsetDateTime,
    now: OffsetDateTime,
    reason: RevokeReason,
) -> Result<Option<Revoked>, sqlx::Error> {
    sqlx::query_as!(
        Revoked,
        "UPDATE sessions SET revoked_at = $5, revoked_reason = $6
         WHERE id = $2 AND user_id = $1 AND revoked_at IS NULL AND created_at > $3 AND last_seen_at > $4
         RETURNING user_agent",
        user_id.0,
        id.0,
        created_after,
        seen_after,
        now,
        reason.as_str(),
    )
    .fetch_optional(db)
    .await
}

/// Revokes the account's live sessions (see `revoke_live`) that signed in with `passkey`, but
/// `keep`; answers how many ended.
#[allow(clippy::too_many_arguments)]
pub async fn revoke_signed_in_with(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    passkey: PasskeyId,
    keep: SessionId,
    created_after: OffsetDateTime,
    seen_after: OffsetDateTime,
    now: OffsetDateTime,
    reason: RevokeReason,
) -> Result<u64, sqlx::Error> {
    let r = sqlx::query!(
        "UPDATE sessions SET revoked_at = $6, revoked_reason = $7
         WHERE user_id = $1 AND passkey_id = $2 AND id <> $3 AND revoked_at IS NULL AND created_at > $4 AND last_seen_at > $5",
        user_id.0,
        passkey.0,
        keep.0,
        created_after,
        seen_after,
        now,
        reason.as_str(),
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected())
}

/// Revokes every session of the account but `keep`; answers how many ended.
pub async fn revoke_others(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    keep: SessionId,
    now: OffsetDateTime,
    reason: RevokeReason,
) -> Result<u64, sqlx::Error> {
    let r = sqlx::query!(
        "UPDATE sessions SET revoked_at = $3, revoked_reason = $4 WHERE user_id = $1 AND id <> $2 AND revoked_at IS NULL",
        user_id.0,
        keep.0,
        now,
        reason.as_str(),
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected())
}

/// The sign-in methods that proved no second factor (`SignInMethod::proved_second_factor`), as
/// `sessions.auth_method` stores them.
fn one_factor_methods() -> Vec<&'static str> {
    SignInMethod::ALL.iter().filter(|m| !m.proved_second_factor()).map(|m| m.as_str()).collect()
}

/// Revokes the account's live sessions (as `revoke_live` counts them: created after
/// `created_after`, seen after `seen_after`) but `keep` that signed in without proving a second
/// factor (a password, Google or GitHub alone); answers how many ended.
#[allow(clippy::too_many_arguments)]
pub async fn revoke_without_second_factor(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    keep: SessionId,
    created_after: OffsetDateTime,
    seen_after: OffsetDateTime,
    now: OffsetDateTime,
    reason: RevokeReason,
) -> Result<u64, sqlx::Error> {
    let r = sqlx::query!(
        "UPDATE sessions SET revoked_at = $5, revoked_reason = $6
         WHERE user_id = $1 AND id <> $2 AND revoked_at IS NULL AND created_at > $3 AND last_seen_at > $4 AND auth_method = ANY($7)",
        user_id.0,
        keep.0,
        created_after,
        seen_after,
        now,
        reason.as_str(),
        &one_factor_methods() as &[&str],
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected())
}

/// Revokes, for every member of organisation `org` on the Enterprise plan whose account has an
/// authenticator app, the sessions that signed in without proving a second factor, but the one
/// that set the app up (an account that joins, or whose organisation moves to Enterprise, with the
/// app already on: its sessions from before the app would otherwise keep the whole account where
/// a second factor is required). Answers how many ended.
pub async fn revoke_members_without_second_factor(db: impl PgExecutor<'_>, org: OrganizationId, now: OffsetDateTime) -> Result<u64, sqlx::Error> {
    let r = sqlx::query!(
        "UPDATE sessions s SET revoked_at = $2, revoked_reason = $3
         FROM users u JOIN organizations o ON o.id = u.organization_id JOIN totp_credentials c ON c.user_id = u.id
         WHERE o.id = $1 AND o.plan = 'enterprise' AND s.user_id = u.id AND s.revoked_at IS NULL
           AND s.auth_method = ANY($4) AND s.id IS DISTINCT FROM c.added_by_session",
        org.0,
        now,
        RevokeReason::SecondFactorRequired.as_str(),
        &one_factor_methods() as &[&str],
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected())
}

/// Revokes every session of the account; answers how many ended.
pub async fn revoke_all(db: impl PgExecutor<'_>, user_id: UserId, now: OffsetDateTime, reason: RevokeReason) -> Result<u64, sqlx::Error> {
    let r = sqlx::query!(
        "UPDATE sessions SET revoked_at = $2, revoked_reason = $3 WHERE user_id = $1 AND revoked_at IS NULL",
        user_id.0,
        now,
        reason.as_str(),
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected())
}

/// When the session was last verified, if it is still live (not revoked), read under a share lock
/// on its row: a revocation in flight is waited for, and one that comes after waits for the
/// caller's transaction. `None` once it has ended.
pub async fn lock_live(db: impl PgExecutor<'_>, user_id: UserId, id: SessionId) -> Result<Option<OffsetDateTime>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT verified_at FROM sessions WHERE id = $2 AND user_id = $1 AND revoked_at IS NULL FOR SHARE",
        user_id.0,
        id.0,
    )
    .fetch_optional(db)
    .await
}

/// Gives a session a fresh token (the old cookie stops working) and marks it as just verified:
/// `false` if it has ended meanwhile (revoked; one ending in flight is waited for), which stays
/// ended.
pub async fn rotate_token(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    id: SessionId,
    token_hash: &[u8; 32],
    now: OffsetDateTime,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query!(
        "UPDATE sessions SET token_hash = $3, verified_at = $4, last_seen_at = $4 WHERE id = $2 AND user_id = $1 AND revoked_at IS NULL",
        user_id.0,
        id.0,
        &token_hash[..],
        now,
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Ends (as "expired") every session past its plan's idle or absolute lifetime. Not per account:
/// this is the clean-up task's sweep.
pub async fn mark_expired(db: impl PgExecutor<'_>, cutoffs: &Cutoffs, now: OffsetDateTime) -> Result<u64, sqlx::Error> {
    let r = sqlx::query!(
        "UPDATE sessions s SET revoked_at = $1, revoked_reason = 'expired'
         FROM users u LEFT JOIN organizations o ON o.id = u.organization_id
         JOIN unnest($2::text[], $3::timestamptz[], $4::timestamptz[]) AS c(plan, created_after, seen_after)
           ON c.plan = COALESCE(o.plan, 'free')
         WHERE u.id = s.user_id AND s.revoked_at IS NULL
           AND (s.created_at <= c.created_after OR s.last_seen_at <= c.seen_after)",
        now,
        &cutoffs.plans as &[&str],
        &cutoffs.created_after,
        &cutoffs.seen_after,
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected())
}

/// Deletes sessions that ended before `before` (past the retention period), but keeps a
/// `distrusted_sessions` one until `distrusted_before` (its sign-ins' time as familiar places:
/// while its row is kept, they make nothing familiar).
pub async fn delete_ended_before(db: impl PgExecutor<'_>, before: OffsetDateTime, distrusted_before: OffsetDateTime) -> Result<u64, sqlx::Error> {
    let r = sqlx::query!(
        "DELETE FROM sessions s
          WHERE s.revoked_at IS NOT NULL AND s.revoked_at < $1
            AND (s.revoked_at < $2 OR NOT EXISTS (SELECT 1 FROM distrusted_sessions d WHERE d.id = s.id))",
        before,
        distrusted_before,
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected())
}

/// Sets when the session last proved who it is (re-verification), or ends that proof (`'epoch'`).
pub async fn set_verified_at(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    id: SessionId,
    at: Option<OffsetDateTime>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE sessions SET verified_at = COALESCE($3, 'epoch'::timestamptz) WHERE id = $2 AND user_id = $1",
        user_id.0,
        id.0,
        at,
    )
    .execute(db)
    .await?;
    Ok(())
}
