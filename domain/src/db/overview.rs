//! What the Security & Access page shows about an account, in one statement (`auth::overview`).
//!
//! Each part is the same read as the section's own statement (named beside it), with its rows
//! gathered as JSON: one round trip to Postgres per page load instead of seven. A domain test
//! (`the_pages_overview_reads_what_each_section_reads_on_its_own_and_only_the_accounts_rows`)
//! checks that every part answers what the section's own statement answers.
use sqlx::types::Json;
use sqlx::PgExecutor;
use time::OffsetDateTime;

use crate::db::alerts::AlertRow;
use crate::db::connected_accounts::ConnectedAccountRow;
use crate::db::events::EventRow;
use crate::db::passkeys::ListedPasskey;
use crate::db::sessions::SessionRow;
use crate::ids::{SessionId, UserId};

/// The rows of every section of the page.
#[derive(Debug)]
pub struct OverviewRows {
    pub has_password: bool,
    pub password_changed_at: Option<OffsetDateTime>,
    /// `sessions::list_live`
    pub sessions: Vec<SessionRow>,
    /// `two_factor::status`: the authenticator's start, then the backup codes' generation, unused
    /// and total counts
    pub totp_enabled_at: Option<OffsetDateTime>,
    pub codes_generated_at: Option<OffsetDateTime>,
    pub codes_left: i64,
    pub codes_total: i64,
    /// `passkeys::list_shown`
    pub passkeys: Vec<ListedPasskey>,
    /// `connected_accounts::list`
    pub connected: Vec<ConnectedAccountRow>,
    /// `alerts::newest_unanswered`, for the viewing session
    pub prompt: Option<AlertRow>,
    /// `events::page`'s first page of every kind
    pub events: Vec<EventRow>,
}

/// What `read` reads besides the account and the viewing session: the live sessions' cut-offs, the
/// prompt's, and the first page of events.
#[derive(Clone, Copy, Debug)]
pub struct Since {
    /// Live sessions were created after this…
    pub created_after: OffsetDateTime,
    /// …and seen after this.
    pub seen_after: OffsetDateTime,
    /// The oldest alert the prompt asks about.
    pub prompt: OffsetDateTime,
    /// The oldest event listed, and how many (newest first).
    pub events: OffsetDateTime,
    pub event_limit: i64,
}

/// Reads the overview of `user_id` as the session `viewer` sees it (`since`: see [`Since`]).
/// `None` if the account is gone.
pub async fn read(db: impl PgExecutor<'_>, user_id: UserId, viewer: SessionId, since: Since) -> Result<Option<OverviewRows>, sqlx::Error> {
    let r = sqlx::query!(
        r#"SELECT u.password_hash IS NOT NULL AS "has_password!", u.password_changed_at,
                  (SELECT coalesce(json_agg(s ORDER BY s.last_seen_at DESC, s.id), '[]')
                     FROM (SELECT s.id, s.created_at, s.last_seen_at, s.ip, s.user_agent, s.auth_method, s.new_device, p.name AS passkey_name
                             FROM sessions s LEFT JOIN passkeys p ON p.id = s.passkey_id AND p.user_id = s.user_id
                            WHERE s.user_id = $1 AND s.revoked_at IS NULL AND s.created_at > $3 AND s.last_seen_at > $4) s
                  ) AS "sessions!: Json<Vec<SessionRow>>",
                  (SELECT enabled_at FROM totp_credentials WHERE user_id = $1) AS totp_enabled_at,
                  codes.generated_at AS codes_generated_at, codes.unused AS "codes_left!", codes.total AS "codes_total!",
                  (SELECT coalesce(json_agg(p ORDER BY p.created_at, p.id), '[]')
                     FROM (SELECT p.id, p.name, p.aaguid, p.backup_eligible, p.created_at, p.last_used_at,
                                  (SELECT count(*) FROM sessions s
                                    WHERE s.passkey_id = p.id AND s.user_id = $1 AND s.id <> $2 AND s.revoked_at IS NULL
                                      AND s.created_at > $3 AND s.last_seen_at > $4) AS sessions
                             FROM passkeys p WHERE p.user_id = $1) p
                  ) AS "passkeys!: Json<Vec<ListedPasskey>>",
                  (SELECT coalesce(json_agg(c ORDER BY c.provider), '[]')
                     FROM (SELECT c.provider, c.email, c.login, c.connected_at, c.last_used_at,
                                  (SELECT count(*) FROM sessions s
                                    WHERE s.user_id = $1 AND s.id <> $2 AND s.revoked_at IS NULL AND s.created_at > $3 AND s.last_seen_at > $4
                                      AND split_part(s.auth_method, '+', 1) = c.provider AND s.created_at >= c.connected_at) AS sessions
                             FROM connected_accounts c WHERE c.user_id = $1) c
                  ) AS "connected!: Json<Vec<ConnectedAccountRow>>",
                  (SELECT row_to_json(a)
                     FROM (SELECT a.id, a.user_id, a.session_id, a.created_at, a.expires_at, a.reported_at, e.user_agent, e.ip, e.location, e.method
                             FROM sign_in_alerts a LEFT JOIN security_events e ON e.id = a.event_id
                             JOIN sessions v ON v.id = $2 AND v.user_id = a.user_id
                            WHERE a.user_id = $1 AND a.session_id <> $2 AND v.created_at <= a.created_at
                              AND a.acknowledged_at IS NULL AND a.created_at >= $5
                              AND NOT EXISTS (SELECT 1 FROM sign_in_alerts x WHERE x.session_id = $2 AND x.acknowledged_at IS NULL)
                            ORDER BY a.created_at DESC LIMIT 1) a
                  ) AS "prompt: Json<AlertRow>",
                  (SELECT coalesce(json_agg(e ORDER BY e.created_at DESC, e.id DESC), '[]')
                     FROM (SELECT id, kind, method, detail, identity, ip, user_agent, location, created_at
                             FROM security_events WHERE user_id = $1 AND created_at >= $6
                            ORDER BY created_at DESC, id DESC LIMIT $7) e
                  ) AS "events!: Json<Vec<EventRow>>"
           FROM users u,
                LATERAL (SELECT min(created_at) AS generated_at, count(*) FILTER (WHERE used_at IS NULL) AS unused, count(*) AS total
                           FROM backup_codes WHERE user_id = $1) codes
           WHERE u.id = $1"#,
        user_id.0,
        viewer.0,
        since.created_after,
        since.seen_after,
        since.prompt,
        since.events,
        since.event_limit,
    )
    .fetch_optional(db)
    .await?;
    Ok(r.map(|r| OverviewRows {
        has_password: r.has_password,
        password_changed_at: r.password_changed_at,
        sessions: r.sessions.0,
        totp_enabled_at: r.totp_enabled_at,
        codes_generated_at: r.codes_generated_at,
        codes_left: r.codes_left,
        codes_total: r.codes_total,
        passkeys: r.passkeys.0,
        connected: r.connected.0,
        prompt: r.prompt.map(|p| p.0),
        events: r.events.0,
    }))
}
