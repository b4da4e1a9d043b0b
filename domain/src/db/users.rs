use sqlx::PgExecutor;
use time::OffsetDateTime;

use crate::ids::UserId;

#[derive(Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: UserId,
    pub email: String,
    pub display_name: Option<String>,
    pub password_hash: Option<String>,
    pub password_changed_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    /// The password is long enough to be the only factor (15+ characters).
    pub password_single_factor_ok: bool,
}

impl std::fmt::Debug for UserRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRow")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("has_password", &self.password_hash.is_some())
            .finish_non_exhaustive()
    }
}

const COLUMNS: &str = "id, email, display_name, password_hash, password_changed_at, created_at, password_single_factor_ok";

pub async fn insert(
    db: impl PgExecutor<'_>,
    id: UserId,
    email: &str,
    email_normalized: &str,
    display_name: Option<&str>,
    password_hash: Option<&str>,
    now: OffsetDateTime,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO users (id, email, email_normalized, display_name, password_hash, password_changed_at, created_at)
         VALUES ($1, $2, $3, $4, $5, CASE WHEN $5::text IS NULL THEN NULL ELSE $6 END, $6)",
    )
    .bind(id)
    .bind(email)
    .bind(email_normalized)
    .bind(display_name)
    .bind(password_hash)
    .bind(now)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn find_by_email(db: impl PgExecutor<'_>, email_normalized: &str) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE email_normalized = $1"))
        .bind(email_normalized)
        .fetch_optional(db)
        .await
}

pub async fn find(db: impl PgExecutor<'_>, id: UserId) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await
}

pub async fn set_password(
    db: impl PgExecutor<'_>,
    id: UserId,
    password_hash: &str,
    now: OffsetDateTime,
    single_factor_ok: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET password_hash = $2, password_changed_at = $3, password_single_factor_ok = $4 WHERE id = $1")
        .bind(id)
        .bind(password_hash)
        .bind(now)
        .bind(single_factor_ok)
        .execute(db)
        .await?;
    Ok(())
}

/// Counts a password attempt against the account before it is checked, if the throttle allows one
/// now; answers whether it did. Counting first makes simultaneous guesses meet the limit too: each
/// claims its own attempt. A full authentication then resets the count (`reset_attempts`).
pub async fn claim_attempt(
    db: impl PgExecutor<'_>,
    id: UserId,
    now: OffsetDateTime,
    p: &crate::config::ThrottlePolicy,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE users SET failed_attempts = failed_attempts + 1, last_failed_at = $2,
                locked_until = CASE WHEN failed_attempts + 1 >= $6 THEN $2 + make_interval(mins => $7::int) END
         WHERE id = $1
           AND (locked_until IS NULL OR locked_until <= $2)
           AND (failed_attempts < $3 OR last_failed_at IS NULL OR last_failed_at + LEAST(
                  make_interval(secs => $4::double precision * power(2, LEAST(failed_attempts - $3, 30))),
                  make_interval(mins => $5::int)) <= $2)",
    )
    .bind(id)
    .bind(now)
    .bind(p.free_attempts)
    .bind(p.base_delay_seconds as f64)
    .bind(p.max_delay_minutes as i32)
    .bind(p.lockout_after)
    .bind(p.lockout_minutes as i32)
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// A right password while a second step is still due: this attempt no longer counts, but earlier
/// failures (wrong codes included) still do.
pub async fn forgive_attempt(db: impl PgExecutor<'_>, id: UserId) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET failed_attempts = GREATEST(failed_attempts - 1, 0) WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// Fully authenticated: the consecutive-failure count starts again.
pub async fn reset_attempts(db: impl PgExecutor<'_>, id: UserId) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET failed_attempts = 0, last_failed_at = NULL, locked_until = NULL WHERE id = $1 AND failed_attempts <> 0")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// Replaces the hash of the same password (stronger parameters); not a password change.
pub async fn upgrade_hash(db: impl PgExecutor<'_>, id: UserId, old_hash: &str, new_hash: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET password_hash = $3 WHERE id = $1 AND password_hash = $2")
        .bind(id)
        .bind(old_hash)
        .bind(new_hash)
        .execute(db)
        .await?;
    Ok(())
}
