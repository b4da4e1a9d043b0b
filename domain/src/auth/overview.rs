//! Everything the Security & Access page shows about the signed-in account, read once per load.
//!
//! Each section's own reading (`accounts::password_status`, `passkeys::list`,
//! `connected_accounts::list`, …) stays for the changes that need it; read one after another they
//! fetched the account row three times and the connected accounts twice, and counted the ways to
//! sign in with a query of their own: ten round trips to Postgres for a page load, where Postgres'
//! share of the page's CPU was 46% (perf, wrk on the release server). Here the same answers come
//! from six, and a test checks that they are the sections' own.
use crate::auth::accounts::PasswordStatus;
use crate::auth::alerts::AlertedSignIn;
use crate::auth::connected_accounts::{self, Connections};
use crate::auth::passkeys::{self, PasskeyList};
use crate::auth::sessions::{self, SessionSummary};
use crate::auth::two_factor::{self, Status};
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
}

/// Reads the overview of the signed-in account (only its own rows: every query is keyed on the
/// session's account).
pub async fn load(svc: &Services, auth: &AuthSession) -> Result<Overview, DomainError> {
    // one connection for the six reads: each use of the pool costs a round trip of its own when
    // the connection goes back (sqlx checks it then), so six reads through the pool were twelve
    let mut conn = svc.db.acquire().await?;
    let user = db::users::find(&mut *conn, auth.user_id).await?.ok_or(DomainError::Unauthenticated)?;
    let sessions = sessions::list_on(&mut *conn, svc, auth).await?;
    let two_factor = two_factor::status_on(&mut *conn, auth.user_id).await?;
    let passkey_rows = db::passkeys::list_shown(&mut *conn, auth.user_id).await?;
    let connected_rows = db::connected_accounts::list(&mut *conn, auth.user_id).await?;
    let prompt = alerts::prompt_on(&mut *conn, svc, auth).await?;
    drop(conn);

    let has_password = user.password_hash.is_some();
    let connected_here = connected_accounts::usable_links(svc, &connected_rows);
    let sign_in_methods = i64::from(has_password) + passkey_rows.len() as i64 + connected_here;
    Ok(Overview {
        password: PasswordStatus { has_password, changed_at: user.password_changed_at },
        sessions,
        two_factor,
        passkeys: passkeys::passkey_list(svc, passkey_rows, has_password, connected_here),
        connections: connected_accounts::connections(svc, connected_rows, sign_in_methods),
        prompt,
    })
}
