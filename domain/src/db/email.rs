//! The email outbox, sign-up requests waiting for their address, and password-reset links.
use sqlx::PgExecutor;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::ids::UserId;
use crate::kinds::MailKind;

/// A message to queue (rendered: subject and both parts).
pub struct NewMail<'a> {
    pub id: Uuid,
    pub kind: MailKind,
    pub user_id: Option<UserId>,
    pub to_address: &'a str,
    pub to_name: Option<&'a str>,
    pub subject: &'a str,
    pub text_body: &'a str,
    pub html_body: &'a str,
    /// Given up unsent at or after this (its link would arrive dead).
    pub expires_at: Option<OffsetDateTime>,
    /// The hourly budget it counts against (`link_mails_since`).
    pub rate_key: Option<&'a str>,
}

/// Queues a message, due now. Call it inside the transaction of the change that causes it.
pub async fn enqueue(db: impl PgExecutor<'_>, mail: &NewMail<'_>, now: OffsetDateTime) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO email_outbox (id, kind, user_id, to_address, to_name, subject, text_body, html_body, created_at, next_attempt_at, expires_at, rate_key)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $11)",
        mail.id,
        mail.kind.as_str(),
        mail.user_id.map(|u| u.0),
        mail.to_address,
        mail.to_name,
        mail.subject,
        mail.text_body,
        mail.html_body,
        now,
        mail.expires_at,
        mail.rate_key,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// A message a sender has claimed.
pub struct Claimed {
    pub id: Uuid,
    pub kind: String,
    pub to_address: String,
    pub to_name: Option<String>,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    /// This attempt's number (1 for the first).
    pub attempts: i32,
    /// Not sent at or after this (its link's deadline).
    pub expires_at: Option<OffsetDateTime>,
}

/// Claims up to `limit` due messages for this sender: each is moved `lease` into the future (no
/// other sender takes it meanwhile) and its attempt counted, in one statement. `SKIP LOCKED`: a
/// row another sender is claiming at this moment is left to it, never waited for nor taken twice.
pub async fn claim(
    db: impl PgExecutor<'_>,
    now: OffsetDateTime,
    lease_until: OffsetDateTime,
    limit: i64,
) -> Result<Vec<Claimed>, sqlx::Error> {
    sqlx::query_as!(
        Claimed,
        "UPDATE email_outbox o SET next_attempt_at = $2, attempts = o.attempts + 1
         FROM (SELECT id FROM email_outbox
               WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $1 AND (expires_at IS NULL OR expires_at > $1)
               ORDER BY next_attempt_at LIMIT $3
               FOR UPDATE SKIP LOCKED) due
         WHERE o.id = due.id
         RETURNING o.id, o.kind, o.to_address, o.to_name, o.subject, o.text_body, o.html_body, o.attempts, o.expires_at",
        now,
        lease_until,
        limit,
    )
    .fetch_all(db)
    .await
}

/// Records a delivered message and empties its bodies (they may hold single-use links). `attempt`:
/// the claim this sender holds (a sender whose lease ran out and was claimed again changes nothing).
pub async fn mark_sent(db: impl PgExecutor<'_>, id: Uuid, attempt: i32, now: OffsetDateTime) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE email_outbox SET sent_at = $2, text_body = '', html_body = '', last_error = NULL
         WHERE id = $1 AND sent_at IS NULL AND attempts = $3",
        id,
        now,
        attempt,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Records a failed attempt: due again at `retry_at`, or given up (`None`) with its bodies emptied.
pub async fn mark_failed(
    db: impl PgExecutor<'_>,
    id: Uuid,
    attempt: i32,
    error: &str,
    now: OffsetDateTime,
    retry_at: Option<OffsetDateTime>,
) -> Result<(), sqlx::Error> {
    let error: String = error.chars().take(1000).collect();
    sqlx::query!(
        "UPDATE email_outbox SET last_error = $2,
             next_attempt_at = COALESCE($4, next_attempt_at),
             failed_at = CASE WHEN $4::timestamptz IS NULL THEN $3::timestamptz END,
             text_body = CASE WHEN $4::timestamptz IS NULL THEN '' ELSE text_body END,
             html_body = CASE WHEN $4::timestamptz IS NULL THEN '' ELSE html_body END
         WHERE id = $1 AND sent_at IS NULL AND attempts = $5",
        id,
        error,
        now,
        retry_at,
        attempt,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Gives up, unsent, every due message whose deadline has passed (its link would arrive dead), with
/// its bodies emptied; answers how many. A message a sender holds at this moment (leased) is left
/// to it: its next round finds it.
pub async fn expire(db: impl PgExecutor<'_>, now: OffsetDateTime) -> Result<u64, sqlx::Error> {
    let r = sqlx::query!(
        "UPDATE email_outbox SET failed_at = $1, text_body = '', html_body = '',
             last_error = 'not sent before its link expired'
         WHERE sent_at IS NULL AND failed_at IS NULL AND expires_at <= $1 AND next_attempt_at <= $1",
        now,
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected())
}

/// Deletes sent and given-up messages older than `before`; answers how many.
pub async fn prune(db: impl PgExecutor<'_>, before: OffsetDateTime) -> Result<u64, sqlx::Error> {
    let r = sqlx::query!(
        "DELETE FROM email_outbox WHERE (sent_at IS NOT NULL OR failed_at IS NOT NULL) AND created_at < $1",
        before,
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected())
}

/// When the next unsent message is due, if any (the sender sleeps until then).
pub async fn next_due(db: impl PgExecutor<'_>) -> Result<Option<OffsetDateTime>, sqlx::Error> {
    sqlx::query_scalar!("SELECT min(next_attempt_at) FROM email_outbox WHERE sent_at IS NULL AND failed_at IS NULL")
        .fetch_one(db)
        .await
}

/// The hourly budget of sign-up emails (a link, or "you have an account") to one address.
pub fn sign_up_rate_key(email_normalized: &str) -> String {
    format!("sign_up:{email_normalized}")
}

/// The hourly budget of reset links to one account.
pub fn reset_rate_key(user_id: UserId) -> String {
    format!("reset:{}", user_id.0)
}

// ---------------------------------------------------------------------------------------------
// Sign-up requests
// ---------------------------------------------------------------------------------------------

/// Stores a sign-up request and answers the address of the account that already uses it (as that
/// account stored it), if one does, in one statement (the same work either way). `recent_since`: also answers how many sign-up emails this
/// address got since then that were not given up, with this one (`sign_up_rate_key`), for the
/// per-address limit on emails.
/// Until the transaction ends, no other transaction passes this call for the same (normalised)
/// address: the sign-up requests of one address are counted one at a time (an advisory lock, as
/// the address may have no account row to lock).
pub async fn lock_address(db: impl PgExecutor<'_>, email_normalized: &str) -> Result<(), sqlx::Error> {
    sqlx::query!("SELECT pg_advisory_xact_lock(hashtextextended('gatehouse.sign_up:' || $1, 0))", email_normalized)
        .fetch_one(db)
        .await?;
    Ok(())
}

pub async fn insert_sign_up_request(
    db: impl PgExecutor<'_>,
    token_hash: &[u8; 32],
    email: &str,
    email_normalized: &str,
    display_name: Option<&str>,
    now: OffsetDateTime,
    expires_at: OffsetDateTime,
    recent_since: OffsetDateTime,
) -> Result<(Option<String>, i64), sqlx::Error> {
    let rate_key = sign_up_rate_key(email_normalized);
    let row = sqlx::query!(
        r#"WITH inserted AS (
             INSERT INTO sign_up_requests (token_hash, email, email_normalized, display_name, account_existed, created_at, expires_at)
             VALUES ($1, $2, $3, $4, EXISTS (SELECT 1 FROM users WHERE email_normalized = $3), $5, $6)
             RETURNING account_existed)
           SELECT account_existed AS "account_existed!",
                  (SELECT email FROM users WHERE email_normalized = $3) AS existing_email,
                  (SELECT count(*) FROM email_outbox WHERE rate_key = $8 AND created_at > $7 AND failed_at IS NULL) + 1 AS "recent!"
           FROM inserted"#,
        &token_hash[..],
        email,
        email_normalized,
        display_name,
        now,
        expires_at,
        recent_since,
        rate_key,
    )
    .fetch_one(db)
    .await?;
    let existing = if row.account_existed { row.existing_email } else { None };
    Ok((existing, row.recent))
}

/// What a sign-up link leads to.
#[derive(Debug)]
pub struct SignUpRequest {
    pub email: String,
    pub display_name: Option<String>,
    pub account_existed: bool,
    pub expires_at: OffsetDateTime,
    pub used_at: Option<OffsetDateTime>,
}

/// Reads a sign-up request by its token's hash (changes nothing: a page shown on GET).
pub async fn find_sign_up_request(db: impl PgExecutor<'_>, token_hash: &[u8; 32]) -> Result<Option<SignUpRequest>, sqlx::Error> {
    sqlx::query_as!(
        SignUpRequest,
        "SELECT email, display_name, account_existed, expires_at, used_at FROM sign_up_requests WHERE token_hash = $1",
        &token_hash[..],
    )
    .fetch_optional(db)
    .await
}

/// Sets the name an unused, unexpired sign-up request will create its account with; `false` when
/// there is no such request.
pub async fn rename_sign_up_request(
    db: impl PgExecutor<'_>,
    token_hash: &[u8; 32],
    display_name: Option<&str>,
    now: OffsetDateTime,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query!(
        "UPDATE sign_up_requests SET display_name = $2
         WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $3 AND NOT account_existed",
        &token_hash[..],
        display_name,
        now,
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Uses a sign-up request: answers its address and name if it was unused, unexpired and made for
/// an address without an account, and marks it used, in one statement (single use under races).
pub async fn use_sign_up_request(
    db: impl PgExecutor<'_>,
    token_hash: &[u8; 32],
    now: OffsetDateTime,
) -> Result<Option<(String, Option<String>)>, sqlx::Error> {
    let row = sqlx::query!(
        "UPDATE sign_up_requests SET used_at = $2
         WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 AND NOT account_existed
         RETURNING email, display_name",
        &token_hash[..],
        now,
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| (r.email, r.display_name)))
}

// ---------------------------------------------------------------------------------------------
// Password resets
// ---------------------------------------------------------------------------------------------

/// Stores a reset link for the account, bound to its current password (`password_changed_at`),
/// and answers how many reset emails the account got since `recent_since` that were not given up,
/// with this one (`reset_rate_key`).
pub async fn insert_password_reset(
    db: impl PgExecutor<'_>,
    token_hash: &[u8; 32],
    user_id: UserId,
    now: OffsetDateTime,
    expires_at: OffsetDateTime,
    recent_since: OffsetDateTime,
) -> Result<i64, sqlx::Error> {
    let rate_key = reset_rate_key(user_id);
    sqlx::query_scalar!(
        r#"WITH inserted AS (
             INSERT INTO password_resets (token_hash, user_id, password_changed_at, created_at, expires_at)
             SELECT $1, id, password_changed_at, $3, $4 FROM users WHERE id = $2
             RETURNING user_id)
           SELECT (SELECT count(*) FROM email_outbox WHERE rate_key = $6 AND created_at > $5 AND failed_at IS NULL) + count(*) AS "recent!"
           FROM inserted"#,
        &token_hash[..],
        user_id.0,
        now,
        expires_at,
        recent_since,
        rate_key,
    )
    .fetch_one(db)
    .await
}

/// What a reset link leads to.
#[derive(Debug)]
pub struct PasswordReset {
    pub user_id: UserId,
    pub email: String,
    pub expires_at: OffsetDateTime,
    pub used_at: Option<OffsetDateTime>,
    /// The account's password changed (or was set) since the link was made.
    pub superseded: bool,
    /// The account has a password, or had one that "This wasn't me" turned off (only a password
    /// ever set leaves `password_changed_at`): the link replaces it rather than adding a first one.
    pub had_password: bool,
    /// The account has a password that works now (not one "This wasn't me" turned off).
    pub has_password: bool,
}

/// Reads a reset link by its token's hash (changes nothing).
pub async fn find_password_reset(db: impl PgExecutor<'_>, token_hash: &[u8; 32]) -> Result<Option<PasswordReset>, sqlx::Error> {
    sqlx::query_as!(
        PasswordReset,
        r#"SELECT r.user_id, u.email, r.expires_at, r.used_at,
                  (r.password_changed_at IS DISTINCT FROM u.password_changed_at) AS "superseded!",
                  (u.password_hash IS NOT NULL OR u.password_changed_at IS NOT NULL) AS "had_password!",
                  (u.password_hash IS NOT NULL) AS "has_password!"
           FROM password_resets r JOIN users u ON u.id = r.user_id
           WHERE r.token_hash = $1"#,
        &token_hash[..],
    )
    .fetch_optional(db)
    .await
}

/// Uses a reset link: answers its account if the link was unused, unexpired, and the account's
/// password is still the one it was made for; marks it used, in one statement.
pub async fn use_password_reset(db: impl PgExecutor<'_>, token_hash: &[u8; 32], now: OffsetDateTime) -> Result<Option<UserId>, sqlx::Error> {
    sqlx::query_scalar!(
        "UPDATE password_resets r SET used_at = $2
         FROM users u
         WHERE r.token_hash = $1 AND u.id = r.user_id AND r.used_at IS NULL AND r.expires_at > $2
           AND r.password_changed_at IS NOT DISTINCT FROM u.password_changed_at
         RETURNING r.user_id",
        &token_hash[..],
        now,
    )
    .fetch_optional(db)
    .await
    .map(|id| id.map(UserId))
}

/// Deletes sign-up requests and reset links that expired before `before`; answers how many.
pub async fn delete_expired_links(db: impl PgExecutor<'_>, before: OffsetDateTime) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"WITH a AS (DELETE FROM sign_up_requests WHERE expires_at < $1 RETURNING 1),
                b AS (DELETE FROM password_resets WHERE expires_at < $1 RETURNING 1)
           SELECT (SELECT count(*) FROM a) + (SELECT count(*) FROM b) AS "n!""#,
        before,
    )
    .fetch_one(db)
    .await
}
