//! Guessing limits per account and path (`sign_in_throttles`). Every statement is a single,
//! conditional one, so simultaneous attempts meet the same limit.
use sqlx::PgExecutor;
use time::OffsetDateTime;

use crate::config::ThrottlePolicy;
use crate::ids::UserId;

/// Counts an attempt on the path before its check's result is used, if the throttle allows one now (not
/// locked, and either within the free attempts or the wait since the last failure has passed).
/// `None` when it did not; otherwise whether this attempt reached `lockout_after` failures and
/// locked the path.
pub async fn claim(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    device: &[u8],
    now: OffsetDateTime,
    p: &ThrottlePolicy,
) -> Result<Option<bool>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"INSERT INTO sign_in_throttles AS t (user_id, device, failed_attempts, last_failed_at, locked_until)
         VALUES ($1, $2, 1, $3, CASE WHEN 1 >= $7 THEN $3::timestamptz + make_interval(mins => $8::int) END)
         ON CONFLICT ON CONSTRAINT sign_in_throttles_pkey DO UPDATE SET
             failed_attempts = t.failed_attempts + 1,
             prev_failed_at = t.last_failed_at,
             prev_locked_until = t.locked_until,
             last_failed_at = $3,
             locked_until = CASE WHEN t.failed_attempts + 1 >= $7 THEN $3::timestamptz + make_interval(mins => $8::int) END
         WHERE sign_in_throttle_next_attempt(t.failed_attempts, t.last_failed_at, t.locked_until, $3, $4, $5, $6) IS NULL
         RETURNING locked_until IS NOT NULL AS "locked!""#,
        user_id.0,
        device,
        now,
        p.free_attempts,
        p.base_delay_seconds as f64,
        p.max_delay_minutes as i32,
        p.lockout_after,
        p.lockout_minutes as i32,
    )
    .fetch_optional(db)
    .await
}

/// A failure that was not claimed first (a wrong code in the second step of a sign-in, whose
/// guesses the pending sign-in bounds): counted on the path whatever its wait, locking it at
/// `lockout_after`. Answers whether this failure locked the path.
pub async fn record_failure(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    device: &[u8],
    now: OffsetDateTime,
    p: &ThrottlePolicy,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"INSERT INTO sign_in_throttles AS t (user_id, device, failed_attempts, last_failed_at, locked_until)
         VALUES ($1, $2, 1, $3, CASE WHEN 1 >= $4 THEN $3::timestamptz + make_interval(mins => $5::int) END)
         ON CONFLICT ON CONSTRAINT sign_in_throttles_pkey DO UPDATE SET
             failed_attempts = t.failed_attempts + 1,
             prev_failed_at = t.last_failed_at,
             prev_locked_until = t.locked_until,
             last_failed_at = $3,
             locked_until = CASE WHEN t.failed_attempts + 1 >= $4 THEN $3::timestamptz + make_interval(mins => $5::int)
                                 ELSE t.locked_until END
         RETURNING failed_attempts = $4 AS "locked!""#,
        user_id.0,
        device,
        now,
        p.lockout_after,
        p.lockout_minutes as i32,
    )
    .fetch_one(db)
    .await
}

/// The claimed attempt at `claimed_at` turned out right while a second step is still due: it no
/// longer counts, and, unless another attempt was counted since, the path's last failure and lock
/// are what they were before it (so a right password never makes the owner wait longer). Earlier
/// failures still count.
pub async fn forgive(db: impl PgExecutor<'_>, user_id: UserId, device: &[u8], claimed_at: OffsetDateTime) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE sign_in_throttles SET
             failed_attempts = GREATEST(failed_attempts - 1, 0),
             last_failed_at = CASE WHEN last_failed_at = $3 THEN prev_failed_at ELSE last_failed_at END,
             locked_until = CASE WHEN last_failed_at = $3 THEN prev_locked_until ELSE locked_until END
         WHERE user_id = $1 AND device = $2",
        user_id.0,
        device,
        claimed_at,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Fully authenticated on this path: its count starts again.
pub async fn reset(db: impl PgExecutor<'_>, user_id: UserId, device: &[u8]) -> Result<(), sqlx::Error> {
    sqlx::query!("DELETE FROM sign_in_throttles WHERE user_id = $1 AND device = $2", user_id.0, device)
        .execute(db)
        .await?;
    Ok(())
}

/// When the path allows its next attempt, if it is waiting or locked at `now` (the expression
/// `claim` decides with: `sign_in_throttle_next_attempt`, migration 36).
pub async fn next_allowed(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    device: &[u8],
    now: OffsetDateTime,
    p: &ThrottlePolicy,
) -> Result<Option<OffsetDateTime>, sqlx::Error> {
    let at = sqlx::query_scalar!(
        r#"SELECT sign_in_throttle_next_attempt(failed_attempts, last_failed_at, locked_until, $3, $4, $5, $6) AS "at"
           FROM sign_in_throttles WHERE user_id = $1 AND device = $2"#,
        user_id.0,
        device,
        now,
        p.free_attempts,
        p.base_delay_seconds as f64,
        p.max_delay_minutes as i32,
    )
    .fetch_optional(db)
    .await?;
    Ok(at.flatten())
}

/// The path's consecutive failures (0 when it has none on record).
pub async fn failures(db: impl PgExecutor<'_>, user_id: UserId, device: &[u8]) -> Result<i32, sqlx::Error> {
    let n = sqlx::query_scalar!("SELECT failed_attempts FROM sign_in_throttles WHERE user_id = $1 AND device = $2", user_id.0, device)
        .fetch_optional(db)
        .await?;
    Ok(n.unwrap_or(0))
}

/// Forgets paths whose last failure is older than `before` and that are not locked at `now`.
pub async fn delete_stale(db: impl PgExecutor<'_>, before: OffsetDateTime, now: OffsetDateTime) -> Result<u64, sqlx::Error> {
    let r = sqlx::query!(
        "DELETE FROM sign_in_throttles
         WHERE (last_failed_at IS NULL OR last_failed_at < $1) AND (locked_until IS NULL OR locked_until <= $2)",
        before,
        now,
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected())
}
