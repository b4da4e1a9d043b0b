use sqlx::PgExecutor;
use time::OffsetDateTime;

use crate::ids::UserId;

/// Trimmed, lower-cased and in Unicode's composed form (NFC): the identity used for look-ups and
/// uniqueness (`email_normalized`). An address with an accent may come typed or pasted composed
/// ("ë", one character) or decomposed ("e" and a combining diaeresis), which look and are mailed
/// alike: both were told "Incorrect email or password", or made a second account (migration 33
/// composes the stored ones).
pub fn normalize_email(email: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    email.trim().to_lowercase().nfc().collect()
}

#[derive(Clone)]
pub struct UserRow {
    pub id: UserId,
    pub email: String,
    pub display_name: Option<String>,
    pub password_hash: Option<String>,
    pub password_changed_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    /// The password is long enough to be the only factor (15+ characters).
    pub password_single_factor_ok: bool,
    /// The address was proven (a confirmation link, a provider's word, a demo account).
    pub email_verified_at: Option<OffsetDateTime>,
    /// The password "This wasn't me" turned off (its hash): the next one may not be it.
    pub reported_password_hash: Option<String>,
    /// The ones in use at or after the reported sign-in before it (`replaced_passwords`,
    /// migration 29; at most 10): the next password may not be one of those either.
    pub reported_earlier_password_hashes: Vec<String>,
    /// When what a sign-in must know last changed: the password chosen, or the authenticator app
    /// set up, whichever is later (a browser's device cookie entry from before it gets no throttle
    /// path of its own at sign-in: `DeviceCookieKey::path`).
    pub secrets_changed_at: Option<OffsetDateTime>,
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

pub async fn insert(
    db: impl PgExecutor<'_>,
    id: UserId,
    email: &str,
    email_normalized: &str,
    display_name: Option<&str>,
    password_hash: Option<&str>,
    email_verified_at: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO users (id, email, email_normalized, display_name, password_hash, password_changed_at, created_at, email_verified_at)
         VALUES ($1, $2, $3, $4, $5, CASE WHEN $5::text IS NULL THEN NULL ELSE $6::timestamptz END, $6, $7)",
        id.0,
        email,
        email_normalized,
        display_name,
        password_hash,
        now,
        email_verified_at,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Marks these addresses as confirmed (the demo accounts: their addresses are made up).
pub async fn mark_demo_emails_verified(db: impl PgExecutor<'_>, emails_normalized: &[String], now: OffsetDateTime) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE users SET email_verified_at = $2 WHERE email_normalized = ANY($1) AND email_verified_at IS NULL",
        emails_normalized,
        now,
    )
    .execute(db)
    .await?;
    Ok(())
}

pub async fn find_by_email(db: impl PgExecutor<'_>, email_normalized: &str) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as!(
        UserRow,
        "SELECT id, email, display_name, password_hash, password_changed_at, created_at, password_single_factor_ok, email_verified_at,
                reported_password_hash, reported_earlier_password_hashes,
                GREATEST(password_changed_at, (SELECT enabled_at FROM totp_credentials t WHERE t.user_id = users.id)) AS secrets_changed_at
         FROM users WHERE email_normalized = $1",
        email_normalized,
    )
    .fetch_optional(db)
    .await
}

pub async fn find(db: impl PgExecutor<'_>, id: UserId) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as!(
        UserRow,
        "SELECT id, email, display_name, password_hash, password_changed_at, created_at, password_single_factor_ok, email_verified_at,
                reported_password_hash, reported_earlier_password_hashes,
                GREATEST(password_changed_at, (SELECT enabled_at FROM totp_credentials t WHERE t.user_id = users.id)) AS secrets_changed_at
         FROM users WHERE id = $1",
        id.0,
    )
    .fetch_optional(db)
    .await
}

/// Replaces the password, only while it is still the one set at `changed_at` (the
/// `password_changed_at` the caller read before checking or hashing anything; `None`: no password
/// was ever set): `false` if another change or a reset committed meanwhile (one in flight is waited
/// for), which then stands. The passwords a report refused are forgotten with it; the one replaced
/// is kept for a while (`replaced_passwords`: see `refuse_passwords_since`).
pub async fn set_password(
    db: impl PgExecutor<'_>,
    id: UserId,
    password_hash: &str,
    now: OffsetDateTime,
    single_factor_ok: bool,
    changed_at: Option<OffsetDateTime>,
) -> Result<bool, sqlx::Error> {
    // (one statement: `prior` reads the row as the statement began, and its hash is kept only if the
    // update, which waits for the row's lock and checks `password_changed_at` again, replaced it.
    // Locking in `prior` too would skip the row the update changes. Only `upgrade_hash` changes the
    // hash without that date, and its hash is of the same password.)
    let changed = sqlx::query_scalar!(
        r#"WITH prior AS (
               SELECT password_hash FROM users WHERE id = $1 AND password_changed_at IS NOT DISTINCT FROM $5
           ), changed AS (
               UPDATE users SET password_hash = $2, password_changed_at = $3, password_single_factor_ok = $4,
                      reported_password_hash = NULL, reported_earlier_password_hashes = '{}'
                WHERE id = $1 AND password_changed_at IS NOT DISTINCT FROM $5
               RETURNING id
           ), kept AS (
               INSERT INTO replaced_passwords (user_id, password_hash, replaced_at)
               SELECT $1, p.password_hash, $3 FROM prior p, changed WHERE p.password_hash IS NOT NULL
           )
           SELECT count(*) AS "changed!" FROM changed"#,
        id.0,
        password_hash,
        now,
        single_factor_ok,
        changed_at,
    )
    .fetch_one(db)
    .await?;
    Ok(changed == 1)
}

/// Turns the password off: it no longer signs in or confirms it's you until a reset link (or Set
/// password) sets a new one. Counts as a change (`password_changed_at`), so reset links made before
/// and changes or sign-ins in flight that read the old one no longer apply (see `set_password`).
/// `false` when the account had no password. After "This wasn't me", whose sign-in may have used it:
/// its hash is kept as `reported_password_hash`, so the next password cannot be the same one (and
/// among the replaced ones, `replaced_passwords`, for a later report).
pub async fn turn_off_password(db: impl PgExecutor<'_>, id: UserId, now: OffsetDateTime) -> Result<bool, sqlx::Error> {
    let off = sqlx::query_scalar!(
        r#"WITH prior AS (
               SELECT password_hash FROM users WHERE id = $1 AND password_hash IS NOT NULL
           ), off AS (
               UPDATE users SET reported_password_hash = password_hash, password_hash = NULL, password_changed_at = $2,
                      password_single_factor_ok = true
                WHERE id = $1 AND password_hash IS NOT NULL
               RETURNING id
           ), kept AS (
               INSERT INTO replaced_passwords (user_id, password_hash, replaced_at)
               SELECT $1, p.password_hash, $2 FROM prior p, off
           )
           SELECT count(*) AS "off!" FROM off"#,
        id.0,
        now,
    )
    .fetch_one(db)
    .await?;
    Ok(off == 1)
}

/// The most passwords a report refuses besides the one it turned off (each refusal check is one
/// argon2 verification per hash).
pub const REFUSED_EARLIER_MAX: i64 = 10;

/// After a report covering the sign-ins since `since` ("This wasn't me", "No, secure my account"):
/// every password replaced at or after it was in use then or since, so whoever signed in may know
/// it (they signed in, then changed it; or the owner reset it meanwhile). The newest
/// `REFUSED_EARLIER_MAX` of them are refused as the next password
/// (`reported_earlier_password_hashes`, added to those an earlier report refused).
pub async fn refuse_passwords_since(db: impl PgExecutor<'_>, id: UserId, since: OffsetDateTime) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE users SET reported_earlier_password_hashes = ARRAY(
             SELECT DISTINCT h FROM unnest(reported_earlier_password_hashes || ARRAY(
                 SELECT password_hash FROM replaced_passwords WHERE user_id = $1 AND replaced_at >= $2
                  ORDER BY replaced_at DESC LIMIT $3)) h)
         WHERE id = $1",
        id.0,
        since,
        REFUSED_EARLIER_MAX,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Forgets the passwords replaced before `before` (`replaced_passwords`): no report reaches back to
/// a sign-in from before their change any more. Answers how many.
pub async fn forget_replaced_passwords(db: impl PgExecutor<'_>, before: OffsetDateTime) -> Result<u64, sqlx::Error> {
    let r = sqlx::query!("DELETE FROM replaced_passwords WHERE replaced_at < $1", before).execute(db).await?;
    Ok(r.rows_affected())
}

/// Replaces the hash of the same password (stronger parameters); not a password change.
pub async fn upgrade_hash(db: impl PgExecutor<'_>, id: UserId, old_hash: &str, new_hash: &str) -> Result<(), sqlx::Error> {
    sqlx::query!("UPDATE users SET password_hash = $3 WHERE id = $1 AND password_hash = $2", id.0, old_hash, new_hash)
        .execute(db)
        .await?;
    Ok(())
}

/// Forgets which browsers the account trusted, for its sign-in alerts, as of `now`
/// (`device_cookies::known_since`): after "This wasn't me", "No, secure my account", a password
/// reset or change, Revoke, Revoke all others, Sign out everywhere, and a passkey removal or a
/// disconnection that signed sessions out, in their transactions.
pub async fn reset_devices(db: impl PgExecutor<'_>, id: UserId, now: OffsetDateTime) -> Result<(), sqlx::Error> {
    sqlx::query!("UPDATE users SET devices_reset_at = $2 WHERE id = $1", id.0, now).execute(db).await?;
    Ok(())
}
