//! Everything the Security & Access page shows about the signed-in account, read once per load.
//!
//! Each section's own reading (`accounts::password_status`, `passkeys::list`,
//! `connected_accounts::list`, …) stays for the changes that need it; read one after another they
//! fetched the account row three times and the connected accounts twice, and counted the ways to
//! sign in with a query of their own: ten round trips to Postgres for a page load, where Postgres'
//! share of the page's CPU was 46% (perf, wrk on the release server). Here the same answers come
//! from one statement (`db::overview`; six round trips before it), and a test checks that they
//! are the sections' own.
use crate::auth::accounts::PasswordStatus;
use crate::auth::alerts::AlertedSignIn;
use crate::auth::connected_accounts::{self, Connections};
use crate::auth::passkeys::{self, PasskeyList};
use crate::auth::sessions::{self, SessionSummary};
use crate::auth::two_factor::Status;
use crate::auth::activity::{self, ActivityPage};
use crate::auth::alerts;
use crate::request::AuthSession;
use crate::{db, DomainError, Services};

/// The page's data, as each section would read it on its own.
#[derive(Debug)]
pub struct Overview {
    pub password: PasswordStatus,
    pub sessions: Vec<SessionSummary>,
    pub two_factor: Status,
    pub passkeys: PasskeyList,
    pub connections: Connections,
    /// The newest unanswered "Was this you?" about another session.
    pub prompt: Option<AlertedSignIn>,
    /// Recent security activity's first page, every kind.
    pub activity: ActivityPage,
}

/// Reads the overview of the signed-in account (only its own rows: every part is keyed on the
/// session's account), in one statement (`db::overview`).
pub async fn load(svc: &Services, auth: &AuthSession) -> Result<Overview, DomainError> {
    let now = svc.clock.now();
    let (created_after, seen_after) = sessions::live_after(&svc.sessions, auth.plan, now);
    let since = db::overview::Since {
        created_after,
        seen_after,
        prompt: alerts::prompt_since(now),
        events: activity::list_since(now),
        event_limit: activity::PAGE_SIZE + 1,
    };
    let rows = db::overview::read(&svc.db, auth.user_id, auth.session_id, since)
        .await?
        .ok_or(DomainError::Unauthenticated)?;

    let connected_here = connected_accounts::usable_links(svc, &rows.connected);
    let sign_in_methods = i64::from(rows.has_password) + rows.passkeys.len() as i64 + connected_here;
    Ok(Overview {
        password: PasswordStatus { has_password: rows.has_password, changed_at: rows.password_changed_at },
        sessions: sessions::summaries(auth, rows.sessions, now),
        two_factor: Status {
            enabled_at: rows.totp_enabled_at,
            codes_generated_at: rows.codes_generated_at,
            codes_left: rows.codes_left,
            codes_total: rows.codes_total,
        },
        passkeys: passkeys::passkey_list(svc, rows.passkeys, rows.has_password, connected_here),
        connections: connected_accounts::connections(svc, rows.connected, sign_in_methods),
        prompt: rows.prompt.map(alerts::alerted),
        activity: activity::page_of(rows.events),
    })
}
