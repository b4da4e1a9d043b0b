use sqlx::PgExecutor;
use time::OffsetDateTime;

use crate::request::ClientInfo;
use crate::ids::{EventId, SessionId, UserId};
use crate::kinds::EventKind;

/// Appends to the account's security history.
pub async fn record(
    db: impl PgExecutor<'_>,
    user_id: UserId,
    session_id: Option<SessionId>,
    kind: EventKind,
    client: &ClientInfo,
    now: OffsetDateTime,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO security_events (id, user_id, session_id, kind, ip, user_agent, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(EventId::new())
    .bind(user_id)
    .bind(session_id)
    .bind(kind)
    .bind(client.ip.as_deref())
    .bind(client.user_agent.as_deref().map(|ua| truncate(ua, 512)))
    .bind(now)
    .execute(db)
    .await?;
    Ok(())
}

/// Kinds of the account's events, newest first (for tests and the future history view).
pub async fn kinds(db: impl PgExecutor<'_>, user_id: UserId) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT kind FROM security_events WHERE user_id = $1 ORDER BY created_at DESC, kind")
        .bind(user_id)
        .fetch_all(db)
        .await
}

/// Deletes events older than `before` (past the retention period).
pub async fn delete_before(db: impl PgExecutor<'_>, before: OffsetDateTime) -> Result<u64, sqlx::Error> {
    let r = sqlx::query("DELETE FROM security_events WHERE created_at < $1").bind(before).execute(db).await?;
    Ok(r.rows_affected())
}

pub(crate) fn truncate(s: &str, max_chars: usize) -> &str {
    match s.char_indices().nth(max_chars) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}
