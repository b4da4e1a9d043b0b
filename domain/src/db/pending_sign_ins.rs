//! Pending sign-ins: a first step (password or provider) done, the second (authenticator or
//! backup code) still to come, each tied to its browser by a cookie whose hash is stored here.
use sqlx::PgExecutor;
use time::OffsetDateTime;

use crate::ids::UserId;
use crate::kinds::Provider;

/// A pending sign-in after the password whose `password_changed_at` the sign-in read, on the
/// throttle path `throttle_path`: only while that is still the account's password (after the
/// account's row, so a change or reset in flight is waited for); `false` if it is not. It replaces
/// the account's pending sign-in on that path, if any (one per path: migration 19).
pub async fn insert_pending_after_password(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    token_hash: &[u8; 32],
    throttle_path: &[u8],
    password_changed_at: Option<OffsetDateTime>,
    now: OffsetDateTime,
    expires_at: OffsetDateTime,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query!(
        "INSERT INTO pending_sign_ins (id, user_id, token_hash, provider, throttle_path, created_at, expires_at)
         SELECT $1, id, $3, NULL, $7, $4, $5 FROM users
         WHERE id = $2 AND password_changed_at IS NOT DISTINCT FROM $6
         FOR NO KEY UPDATE
         ON CONFLICT ON CONSTRAINT pending_sign_ins_one_per_path DO UPDATE SET
             token_hash = EXCLUDED.token_hash, provider = EXCLUDED.provider,
             created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at, failures = 0",
        uuid::Uuid::new_v4(),
        user_id.0,
        &token_hash[..],
        now,
        expires_at,
        password_changed_at,
        throttle_path,
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// A pending sign-in after the identity `(provider, issuer, subject)`, on the throttle path
/// `throttle_path`: only while it is still linked to the account; `false` if it is not. The link's
/// row is share-locked, so a disconnection in flight is waited for (and then the deleted row is
/// skipped); one that comes after finds this pending sign-in committed and ends it
/// (`delete_pending_from`). It replaces the account's pending sign-in on that path, if any.
pub async fn insert_pending_from_provider(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    token_hash: &[u8; 32],
    throttle_path: &[u8],
    (provider, issuer, subject): (Provider, &str, &str),
    now: OffsetDateTime,
    expires_at: OffsetDateTime,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query!(
        "INSERT INTO pending_sign_ins (id, user_id, token_hash, provider, throttle_path, created_at, expires_at)
         SELECT $1, user_id, $3, provider, $9, $7, $8 FROM connected_accounts
         WHERE user_id = $2 AND provider = $4 AND issuer = $5 AND subject = $6
         FOR KEY SHARE
         ON CONFLICT ON CONSTRAINT pending_sign_ins_one_per_path DO UPDATE SET
             token_hash = EXCLUDED.token_hash, provider = EXCLUDED.provider,
             created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at, failures = 0",
        uuid::Uuid::new_v4(),
        user_id.0,
        &token_hash[..],
        provider.as_str(),
        issuer,
        subject,
        now,
        expires_at,
        throttle_path,
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Counts an attempt at an unexpired pending sign-in that has had fewer than `max_attempts`, before
/// its code is checked (so simultaneous attempts cannot exceed the limit); answers its account,
/// the attempts so far and the provider of its first step.
pub async fn claim_pending(
    db: impl PgExecutor<'_>,
    token_hash: &[u8; 32],
    now: OffsetDateTime,
    max_attempts: i32,
) -> Result<Option<Claimed>, sqlx::Error> {
    let r = sqlx::query!(
        r#"UPDATE pending_sign_ins SET failures = failures + 1
           WHERE token_hash = $1 AND expires_at > $2 AND failures < $3
           RETURNING user_id, failures, provider AS "provider: Provider", throttle_path"#,
        &token_hash[..],
        now,
        max_attempts,
    )
    .fetch_optional(db)
    .await?;
    Ok(r.map(|r| Claimed { user_id: UserId(r.user_id), failures: r.failures, provider: r.provider, throttle_path: r.throttle_path }))
}

/// A code try on a pending sign-in (`claim_pending`).
pub struct Claimed {
    pub user_id: UserId,
    /// Tries so far, this one included.
    pub failures: i32,
    /// The provider its first step was, if not a password.
    pub provider: Option<Provider>,
    /// The throttle path its first step was counted on (`sign_in_throttles.device`).
    pub throttle_path: Vec<u8>,
}

/// Ends the account's pending sign-ins that began with `provider` (it was disconnected).
pub async fn delete_pending_from(db: impl PgExecutor<'_>, user_id: UserId, provider: Provider) -> Result<(), sqlx::Error> {
    sqlx::query!("DELETE FROM pending_sign_ins WHERE user_id = $1 AND provider = $2", user_id.0, provider.as_str())
        .execute(db)
        .await?;
    Ok(())
}

/// Ends every pending sign-in of the account (its password changed, or it signed out everywhere).
pub async fn delete_pending_for_user(db: impl PgExecutor<'_>, user_id: UserId) -> Result<(), sqlx::Error> {
    sqlx::query!("DELETE FROM pending_sign_ins WHERE user_id = $1", user_id.0).execute(db).await?;
    Ok(())
}

/// Ends a pending sign-in (used, or given up); `false` if it was already gone.
pub async fn delete_pending(db: impl PgExecutor<'_>, token_hash: &[u8; 32]) -> Result<bool, sqlx::Error> {
    let r = sqlx::query!("DELETE FROM pending_sign_ins WHERE token_hash = $1", &token_hash[..]).execute(db).await?;
    Ok(r.rows_affected() == 1)
}

/// Forgets pending sign-ins that expired before `before`.
pub async fn delete_expired_pending(db: impl PgExecutor<'_>, before: OffsetDateTime) -> Result<u64, sqlx::Error> {
    let r = sqlx::query!("DELETE FROM pending_sign_ins WHERE expires_at < $1", before).execute(db).await?;
    Ok(r.rows_affected())
}
