use sqlx::PgExecutor;
use time::OffsetDateTime;

use crate::ids::{SessionId, UserId};
use crate::secret_box::Sealed;

pub struct SealedRow {
    pub key_id: String,
    pub nonce: Vec<u8>,
    pub secret_encrypted: Vec<u8>,
}

impl SealedRow {
    pub fn sealed(self) -> Sealed {
        Sealed { key_id: self.key_id, nonce: self.nonce, ciphertext: self.secret_encrypted }
    }
}

/// A stored TOTP secret, for re-sealing: whose it is, where it is, and its sealed form.
pub struct StoredSecret {
    pub user_id: UserId,
    /// The session of an enrolment in progress; `None` for an enabled authenticator.
    pub session_id: Option<SessionId>,
    pub key_id: String,
    pub nonce: Vec<u8>,
    pub secret_encrypted: Vec<u8>,
}

impl StoredSecret {
    pub fn sealed(&self) -> Sealed {
        Sealed { key_id: self.key_id.clone(), nonce: self.nonce.clone(), ciphertext: self.secret_encrypted.clone() }
    }
}

/// How many enabled authenticators and enrolments in progress have their secret sealed under `key_id`.
pub async fn count_sealed_under(db: impl PgExecutor<'_>, key_id: &str) -> Result<(i64, i64), sqlx::Error> {
    let r = sqlx::query!(
        r#"SELECT (SELECT count(*) FROM totp_credentials WHERE key_id = $1) AS "credentials!",
                (SELECT count(*) FROM totp_enrolments WHERE key_id = $1) AS "enrolments!""#,
        key_id,
    )
    .fetch_one(db)
    .await?;
    Ok((r.credentials, r.enrolments))
}

/// Up to `limit` enabled authenticators whose secret is sealed under a key other than `key_id`,
/// after the account `after` in id order (keyset pagination: each row is read once per pass).
pub async fn credentials_sealed_under_other_keys(
    db: impl PgExecutor<'_>,
    key_id: &str,
    after: UserId,
    limit: i64,
) -> Result<Vec<StoredSecret>, sqlx::Error> {
    sqlx::query_as!(
        StoredSecret,
        r#"SELECT user_id, NULL::uuid AS "session_id?: SessionId", key_id, nonce, secret_encrypted FROM totp_credentials
         WHERE key_id <> $1 AND user_id > $2 ORDER BY user_id LIMIT $3"#,
        key_id,
        after.0,
        limit,
    )
    .fetch_all(db)
    .await
}

/// Up to `limit` enrolments in progress whose secret is sealed under a key other than `key_id`,
/// after the session `after` in id order.
pub async fn enrolments_sealed_under_other_keys(
    db: impl PgExecutor<'_>,
    key_id: &str,
    after: SessionId,
    limit: i64,
) -> Result<Vec<StoredSecret>, sqlx::Error> {
    sqlx::query_as!(
        StoredSecret,
        r#"SELECT user_id, session_id AS "session_id?: SessionId", key_id, nonce, secret_encrypted FROM totp_enrolments
         WHERE key_id <> $1 AND session_id > $2 ORDER BY session_id LIMIT $3"#,
        key_id,
        after.0,
        limit,
    )
    .fetch_all(db)
    .await
}

/// Replaces an authenticator's sealed secret with `new`, only if it is still exactly `old` (same
/// key and nonce: a secret sealed again meanwhile, e.g. turned off and set up anew, is never
/// overwritten with the old one). `false` when it changed or is gone.
pub async fn reseal_credential(db: impl PgExecutor<'_>, user_id: UserId, old: &Sealed, new: &Sealed) -> Result<bool, sqlx::Error> {
    let r = sqlx::query!(
        "UPDATE totp_credentials SET key_id = $4, nonce = $5, secret_encrypted = $6
         WHERE user_id = $1 AND key_id = $2 AND nonce = $3",
        user_id.0,
        &old.key_id,
        &old.nonce,
        &new.key_id,
        &new.nonce,
        &new.ciphertext,
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Replaces an enrolment's sealed secret with `new`, only if it is still exactly `old` (a restarted
/// enrolment has a new secret, which must not be overwritten). `false` when it changed or is gone.
pub async fn reseal_enrolment(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    session_id: SessionId,
    old: &Sealed,
    new: &Sealed,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query!(
        "UPDATE totp_enrolments SET key_id = $5, nonce = $6, secret_encrypted = $7
         WHERE session_id = $2 AND user_id = $1 AND key_id = $3 AND nonce = $4",
        user_id.0,
        session_id.0,
        &old.key_id,
        &old.nonce,
        &new.key_id,
        &new.nonce,
        &new.ciphertext,
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Starts (or restarts) this session's enrolment.
pub async fn put_enrolment(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    session_id: SessionId,
    sealed: &Sealed,
    expires_at: OffsetDateTime,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO totp_enrolments (session_id, user_id, key_id, nonce, secret_encrypted, expires_at)
         VALUES ($2, $1, $3, $4, $5, $6)
         ON CONFLICT (session_id) DO UPDATE SET key_id = $3, nonce = $4, secret_encrypted = $5, expires_at = $6",
        user_id.0,
        session_id.0,
        &sealed.key_id,
        &sealed.nonce,
        &sealed.ciphertext,
        expires_at,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// This session's unexpired enrolment.
pub async fn find_enrolment(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    session_id: SessionId,
    now: OffsetDateTime,
) -> Result<Option<SealedRow>, sqlx::Error> {
    sqlx::query_as!(
        SealedRow,
        "SELECT key_id, nonce, secret_encrypted FROM totp_enrolments
         WHERE session_id = $2 AND user_id = $1 AND expires_at > $3",
        user_id.0,
        session_id.0,
        now,
    )
    .fetch_optional(db)
    .await
}

pub async fn delete_enrolment(db: impl PgExecutor<'_>, user_id: UserId, session_id: SessionId) -> Result<(), sqlx::Error> {
    sqlx::query!("DELETE FROM totp_enrolments WHERE session_id = $2 AND user_id = $1", user_id.0, session_id.0)
        .execute(db)
        .await?;
    Ok(())
}

/// Enables the authenticator (set up by session `added_by`); `false` when one is already enabled.
pub async fn insert_credential(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    added_by: SessionId,
    sealed: &Sealed,
    now: OffsetDateTime,
    step: i64,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query!(
        "INSERT INTO totp_credentials (user_id, key_id, nonce, secret_encrypted, enabled_at, last_used_step, added_by_session)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (user_id) DO NOTHING",
        user_id.0,
        &sealed.key_id,
        &sealed.nonce,
        &sealed.ciphertext,
        now,
        step,
        added_by.0,
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Whether session `session` set up the account's current authenticator app.
pub async fn set_up_by(db: impl PgExecutor<'_>, user_id: UserId, session: SessionId) -> Result<bool, sqlx::Error> {
    let found = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM totp_credentials WHERE user_id = $1 AND added_by_session = $2) AS "found!""#,
        user_id.0,
        session.0,
    )
    .fetch_one(db)
    .await?;
    Ok(found)
}

/// Replaces the account's authenticator with the setup in progress of session `session` (sealed as
/// `sealed`), taking that setup: `false`, and nothing changed (the setup stays too), when the
/// account has no app or the setup is gone (already taken). The app counts as added by that
/// session from now on.
pub async fn change_credential(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    session: SessionId,
    sealed: &Sealed,
    now: OffsetDateTime,
    step: i64,
) -> Result<bool, sqlx::Error> {
    let changed = sqlx::query_scalar!(
        r#"WITH taken AS (
             DELETE FROM totp_enrolments WHERE session_id = $2 AND user_id = $1 AND key_id = $3 AND nonce = $4
               AND EXISTS (SELECT 1 FROM totp_credentials WHERE user_id = $1)
             RETURNING key_id, nonce, secret_encrypted
         )
         UPDATE totp_credentials c
            SET key_id = taken.key_id, nonce = taken.nonce, secret_encrypted = taken.secret_encrypted,
                enabled_at = $5, last_used_step = $6, added_by_session = $2
           FROM taken
          WHERE c.user_id = $1
         RETURNING c.user_id"#,
        user_id.0,
        session.0,
        &sealed.key_id,
        &sealed.nonce,
        now,
        step,
    )
    .fetch_optional(db)
    .await?;
    Ok(changed.is_some())
}

pub async fn find_credential(db: impl PgExecutor<'_>, user_id: UserId) -> Result<Option<SealedRow>, sqlx::Error> {
    sqlx::query_as!(SealedRow, "SELECT key_id, nonce, secret_encrypted FROM totp_credentials WHERE user_id = $1", user_id.0)
        .fetch_optional(db)
        .await
}

pub async fn enabled_at(db: impl PgExecutor<'_>, user_id: UserId) -> Result<Option<OffsetDateTime>, sqlx::Error> {
    sqlx::query_scalar!("SELECT enabled_at FROM totp_credentials WHERE user_id = $1", user_id.0)
        .fetch_optional(db)
        .await
}

/// Accepts a code's step once: only if it is later than the last step used. One conditional
/// update, so two simultaneous submissions of the same code cannot both succeed.
pub async fn use_step(db: impl PgExecutor<'_>, user_id: UserId, step: i64) -> Result<bool, sqlx::Error> {
    let r = sqlx::query!("UPDATE totp_credentials SET last_used_step = $2 WHERE user_id = $1 AND last_used_step < $2", user_id.0, step)
        .execute(db)
        .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn delete_credential(db: impl PgExecutor<'_>, user_id: UserId) -> Result<bool, sqlx::Error> {
    let r = sqlx::query!("DELETE FROM totp_credentials WHERE user_id = $1", user_id.0).execute(db).await?;
    Ok(r.rows_affected() == 1)
}

/// Replaces every backup code of the account (old ones stop working at once).
pub async fn replace_backup_codes(
    db: &mut sqlx::PgConnection,
    user_id: UserId,
    hashes: &[Vec<u8>],
    now: OffsetDateTime,
) -> Result<(), sqlx::Error> {
    sqlx::query!("DELETE FROM backup_codes WHERE user_id = $1", user_id.0).execute(&mut *db).await?;
    let ids: Vec<uuid::Uuid> = hashes.iter().map(|_| uuid::Uuid::new_v4()).collect();
    sqlx::query!(
        "INSERT INTO backup_codes (id, user_id, code_hash, created_at)
         SELECT id, $2, hash, $4 FROM unnest($1::uuid[], $3::bytea[]) AS t(id, hash)",
        &ids,
        user_id.0,
        hashes,
        now,
    )
    .execute(&mut *db)
    .await?;
    Ok(())
}

pub async fn delete_backup_codes(db: impl PgExecutor<'_>, user_id: UserId) -> Result<(), sqlx::Error> {
    sqlx::query!("DELETE FROM backup_codes WHERE user_id = $1", user_id.0).execute(db).await?;
    Ok(())
}

/// Uses a backup code once: one conditional update on the (account, hash) index.
pub async fn use_backup_code(db: impl PgExecutor<'_>, user_id: UserId, hash: &[u8], now: OffsetDateTime) -> Result<bool, sqlx::Error> {
    let r = sqlx::query!(
        "UPDATE backup_codes SET used_at = $3 WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL",
        user_id.0,
        hash,
        now,
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// (generated at, codes left, codes in all) of the account's backup codes.
/// The authenticator's start and the backup codes' counts in one round trip (the Security & Access
/// page reads them on every load): (enabled_at, codes generated at, codes left, codes in all).
pub async fn status(
    db: impl PgExecutor<'_>,
    user_id: UserId,
) -> Result<(Option<OffsetDateTime>, Option<OffsetDateTime>, i64, i64), sqlx::Error> {
    let r = sqlx::query!(
        r#"SELECT (SELECT enabled_at FROM totp_credentials WHERE user_id = $1) AS enabled_at,
                  min(created_at) AS generated_at, count(*) FILTER (WHERE used_at IS NULL) AS "left!", count(*) AS "all!"
           FROM backup_codes WHERE user_id = $1"#,
        user_id.0,
    )
    .fetch_one(db)
    .await?;
    Ok((r.enabled_at, r.generated_at, r.left, r.all))
}

pub async fn backup_code_counts(
    db: impl PgExecutor<'_>,
    user_id: UserId,
) -> Result<(Option<OffsetDateTime>, i64, i64), sqlx::Error> {
    let r = sqlx::query!(
        r#"SELECT min(created_at), count(*) FILTER (WHERE used_at IS NULL) AS "left!", count(*) AS "all!"
           FROM backup_codes WHERE user_id = $1"#,
        user_id.0,
    )
    .fetch_one(db)
    .await?;
    Ok((r.min, r.left, r.all))
}
