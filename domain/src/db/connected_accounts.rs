//! Identities at Google and GitHub linked to accounts, and the flows waiting for a provider's answer.
use sqlx::PgExecutor;
use time::OffsetDateTime;

use crate::ids::{SessionId, UserId};
use crate::kinds::{FlowIntent, Provider, RevokeReason};

/// One linked identity (also read as JSON, in `db::overview`).
#[derive(Clone, Debug, serde::Deserialize)]
pub struct ConnectedAccountRow {
    pub provider: Provider,
    pub email: Option<String>,
    pub login: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub connected_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
    /// Live sessions that signed in with it (with this provider since it was connected: an
    /// account has one identity per provider), the viewing session left out.
    pub sessions: i64,
}

/// An identity as the provider proved it, to link.
#[derive(Clone, Copy, Debug)]
pub struct NewLink<'a> {
    pub user_id: UserId,
    pub provider: Provider,
    pub issuer: &'a str,
    pub subject: &'a str,
    pub email: Option<&'a str>,
    pub login: Option<&'a str>,
    pub now: OffsetDateTime,
    /// Linked by signing in with it (sign-up): it was used now.
    pub used: bool,
    /// The session that connected it (`None`: linked with its new account).
    pub added_by: Option<SessionId>,
}

/// Links an identity to an account. Violations of `connected_accounts_identity_key` (linked to an
/// account already) and `connected_accounts_user_provider_key` (the account has another identity
/// at this provider) come back as errors for the caller to name.
pub async fn insert(db: impl PgExecutor<'_>, l: &NewLink<'_>) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO connected_accounts (id, user_id, provider, issuer, subject, email, login, connected_at, last_used_at, added_by_session)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, CASE WHEN $9::boolean THEN $8::timestamptz END, $10)",
        uuid::Uuid::new_v4(),
        l.user_id.0,
        l.provider.as_str(),
        l.issuer,
        l.subject,
        l.email,
        l.login,
        l.now,
        l.used,
        l.added_by.map(|s| s.0),
    )
    .execute(db)
    .await?;
    Ok(())
}

/// The account an identity is linked to, refreshing the email and login shown (which may have
/// changed at the provider). With `only_for`, only that account's link is touched
/// (re-verification: another account's link is neither found nor refreshed). Not marked used:
/// `mark_signed_in` does that, with the session it starts.
pub async fn use_identity(
    db: impl PgExecutor<'_>,
    (provider, issuer, subject): (Provider, &str, &str),
    (email, login): (Option<&str>, Option<&str>),
    only_for: Option<UserId>,
) -> Result<Option<UserId>, sqlx::Error> {
    let r = sqlx::query_scalar!(
        "UPDATE connected_accounts SET email = COALESCE($4, email), login = COALESCE($5, login)
         WHERE provider = $1 AND issuer = $2 AND subject = $3 AND ($6::uuid IS NULL OR user_id = $6) RETURNING user_id",
        provider.as_str(),
        issuer,
        subject,
        email,
        login,
        only_for.map(|u| u.0),
    )
    .fetch_optional(db)
    .await?;
    Ok(r.map(UserId))
}

/// Marks the account's `provider` link used to sign in at `now`: in the transaction that starts
/// the session it signed in (at once, or after the second step), so a sign-in never finished does
/// not count as one. (Its callers have already seen the link under the account's lock.)
pub async fn mark_signed_in(db: impl PgExecutor<'_>, user_id: UserId, provider: Provider, now: OffsetDateTime) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE connected_accounts SET last_used_at = $3 WHERE user_id = $1 AND provider = $2",
        user_id.0,
        provider.as_str(),
        now,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// The account an identity is linked to, if any.
pub async fn owner(db: impl PgExecutor<'_>, provider: Provider, issuer: &str, subject: &str) -> Result<Option<UserId>, sqlx::Error> {
    let r = sqlx::query_scalar!(
        "SELECT user_id FROM connected_accounts WHERE provider = $1 AND issuer = $2 AND subject = $3",
        provider.as_str(),
        issuer,
        subject,
    )
    .fetch_optional(db)
    .await?;
    Ok(r.map(UserId))
}

/// The account's linked identities, by provider.
pub async fn list(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    viewer: SessionId,
    created_after: OffsetDateTime,
    seen_after: OffsetDateTime,
) -> Result<Vec<ConnectedAccountRow>, sqlx::Error> {
    sqlx::query_as!(
        ConnectedAccountRow,
        r#"SELECT c.provider AS "provider: Provider", c.email, c.login, c.connected_at, c.last_used_at,
                  (SELECT count(*) FROM sessions s
                    WHERE s.user_id = $1 AND s.id <> $2 AND s.revoked_at IS NULL AND s.created_at > $3 AND s.last_seen_at > $4
                      AND split_part(s.auth_method, '+', 1) = c.provider AND s.created_at >= c.connected_at) AS "sessions!"
           FROM connected_accounts c WHERE c.user_id = $1 ORDER BY c.provider"#,
        user_id.0,
        viewer.0,
        created_after,
        seen_after,
    )
    .fetch_all(db)
    .await
}

/// Revokes the account's live sessions (see `sessions::revoke_live`) that signed in with its
/// identity at `provider` (with that provider since the identity was connected), but `keep`;
/// answers how many ended. Before `delete`, which forgets when it was connected.
#[allow(clippy::too_many_arguments)]
pub async fn revoke_signed_in_with(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    provider: Provider,
    keep: SessionId,
    created_after: OffsetDateTime,
    seen_after: OffsetDateTime,
    now: OffsetDateTime,
    reason: RevokeReason,
) -> Result<u64, sqlx::Error> {
    let r = sqlx::query!(
        "UPDATE sessions s SET revoked_at = $6, revoked_reason = $7
           FROM connected_accounts c
          WHERE c.user_id = $1 AND c.provider = $2 AND s.user_id = $1 AND s.id <> $3 AND s.revoked_at IS NULL
            AND s.created_at > $4 AND s.last_seen_at > $5
            AND split_part(s.auth_method, '+', 1) = c.provider AND s.created_at >= c.connected_at",
        user_id.0,
        provider.as_str(),
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

/// Deletes the account's link to `provider`; answers, when there was one, its login and email at
/// the provider (either may be unknown).
pub async fn delete(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    provider: Provider,
) -> Result<Option<(Option<String>, Option<String>)>, sqlx::Error> {
    let r = sqlx::query!(
        "DELETE FROM connected_accounts WHERE user_id = $1 AND provider = $2 RETURNING login, email",
        user_id.0,
        provider.as_str()
    )
    .fetch_optional(db)
    .await?;
    Ok(r.map(|r| (r.login, r.email)))
}

// ---- flows ---------------------------------------------------------------------------------

/// A flow to store when the browser is sent to the provider.
#[derive(Clone, Copy)]
pub struct NewFlow<'a> {
    pub state_hash: &'a [u8; 32],
    pub browser_hash: &'a [u8; 32],
    pub provider: Provider,
    pub intent: FlowIntent,
    /// The session's account and the session (connect, re-verify); `None` to sign in.
    pub owner: Option<(UserId, SessionId)>,
    pub pkce_verifier: &'a str,
    pub nonce: Option<&'a str>,
    /// Where a sign-in goes once done (a path on this site); `None` for connect and re-verify.
    pub return_to: Option<&'a str>,
    /// A sign-in begun on the sign-up page (where it goes back to if it ends badly).
    pub from_sign_up: bool,
    pub now: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

impl std::fmt::Debug for NewFlow<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewFlow").field("provider", &self.provider).field("intent", &self.intent).finish_non_exhaustive()
    }
}

pub async fn put_flow(db: impl PgExecutor<'_>, f: &NewFlow<'_>) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO provider_flows
             (state_hash, browser_hash, provider, intent, user_id, session_id, pkce_verifier, nonce, created_at, expires_at, return_to, from_sign_up)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        &f.state_hash[..],
        &f.browser_hash[..],
        f.provider.as_str(),
        f.intent.as_str(),
        f.owner.map(|(u, _)| u.0),
        f.owner.map(|(_, s)| s.0),
        f.pkce_verifier,
        f.nonce,
        f.now,
        f.expires_at,
        f.return_to,
        f.from_sign_up,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// A flow taken for its callback (it is gone from the table).
pub struct FlowRow {
    pub intent: FlowIntent,
    pub user_id: Option<uuid::Uuid>,
    pub session_id: Option<uuid::Uuid>,
    pub pkce_verifier: String,
    pub nonce: Option<String>,
    pub expires_at: OffsetDateTime,
    pub return_to: Option<String>,
    pub from_sign_up: bool,
}

impl std::fmt::Debug for FlowRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlowRow").field("intent", &self.intent).field("expires_at", &self.expires_at).finish_non_exhaustive()
    }
}

/// Takes the flow with this state, begun by this browser for this provider: single use (one
/// DELETE … RETURNING, so two callbacks with one state cannot both have it). Unknown, used,
/// another browser's or another provider's: `None`, all alike.
pub async fn take_flow(
    db: impl PgExecutor<'_>,
    state_hash: &[u8; 32],
    browser_hash: &[u8; 32],
    provider: Provider,
) -> Result<Option<FlowRow>, sqlx::Error> {
    sqlx::query_as!(
        FlowRow,
        r#"DELETE FROM provider_flows WHERE state_hash = $1 AND browser_hash = $2 AND provider = $3
           RETURNING intent AS "intent: FlowIntent", user_id, session_id, pkce_verifier, nonce, expires_at, return_to, from_sign_up"#,
        &state_hash[..],
        &browser_hash[..],
        provider.as_str(),
    )
    .fetch_optional(db)
    .await
}

/// How long an expired flow is kept before the clean-up forgets it: a return that comes late is
/// told it came late ("longer than 10 minutes"), on the page it began from, not "can't be used".
pub const EXPIRED_FLOW_KEPT: time::Duration = time::Duration::hours(1);

/// Forgets the flows that expired `EXPIRED_FLOW_KEPT` or longer before `now`.
pub async fn delete_expired_flows(db: impl PgExecutor<'_>, now: OffsetDateTime) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query!("DELETE FROM provider_flows WHERE expires_at <= $1", now - EXPIRED_FLOW_KEPT).execute(db).await?.rows_affected())
}
