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
    sqlx::query!(
        "INSERT INTO security_events (id, user_id, session_id, kind, ip, user_agent, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        EventId::new().0,
        user_id.0,
        session_id.map(|s| s.0),
        kind.as_str(),
        client.ip.as_deref(),
        client.user_agent.as_deref().map(|ua| truncate(ua, 512)),
        now,
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Kinds of the account's events, newest first (for tests and the future history view).
pub async fn kinds(db: impl PgExecutor<'_>, user_id: UserId) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar!("SELECT kind FROM security_events WHERE user_id = $1 ORDER BY created_at DESC, kind", user_id.0)
        .fetch_all(db)
        .await
}

/// Deletes events older than `before` (past the retention period).
pub async fn delete_before(db: impl PgExecutor<'_>, before: OffsetDateTime) -> Result<u64, sqlx::Error> {
    let r = sqlx::query!("DELETE FROM security_events WHERE created_at < $1", before).execute(db).await?;
    Ok(r.rows_affected())
}

pub(crate) fn truncate(s: &str, max_chars: usize) -> &str {
    match s.char_indices().nth(max_chars) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}
