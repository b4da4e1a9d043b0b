//! The account's connected accounts as the Connected accounts section shows them, and
//! disconnecting one (the flows that make them are in the parent module).
use time::OffsetDateTime;

use crate::auth::recent::require_recent;
use crate::db;
use crate::kinds::{EventKind, Provider, RevokeReason};
use crate::request::{AuthSession, ClientInfo};
use crate::{DomainError, Services};

/// The account's identities at Google and GitHub, each with how many of its other live sessions
/// (not `auth`'s) signed in with it.
pub async fn linked(svc: &Services, auth: &AuthSession) -> Result<Vec<db::connected_accounts::ConnectedAccountRow>, DomainError> {
    let (created_after, seen_after) = crate::auth::sessions::live_after(&svc.sessions, auth.plan, svc.clock.now());
    Ok(db::connected_accounts::list(&svc.db, auth.user_id, auth.session_id, created_after, seen_after).await?)
}

/// Disconnects the account's identity at `provider`. Needs a recent sign-in or re-verification,
/// and never removes the last way to sign in: the account row is locked, so two removals at once
/// (this and a passkey, or both providers) cannot both pass the count.
///
/// With `sign_out_sessions`, the account's other live sessions that signed in with that identity
/// end too, in the same transaction (this one stays), and, as after a Revoke, they and their
/// browsers are trusted no more for alerts (`distrusted_sessions`, `users.devices_reset_at`);
/// answers how many ended.
pub async fn disconnect(svc: &Services, auth: &AuthSession, provider: Provider, sign_out_sessions: bool, client: &ClientInfo) -> Result<u64, DomainError> {
    require_recent(svc, auth)?;
    let now = svc.clock.now();
    let mut tx = svc.db.begin().await?;
    crate::auth::recent::require_live_and_recent(&mut tx, svc, auth).await?;
    let methods = db::passkeys::sign_in_methods(&mut *tx, auth.user_id, &svc.providers.enabled_names()).await?;
    // (before the link goes: which sessions it started is read from when it was connected)
    let ended = if sign_out_sessions {
        let (created_after, seen_after) = crate::auth::sessions::live_after(&svc.sessions, auth.plan, now);
        db::connected_accounts::revoke_signed_in_with(&mut *tx, auth.user_id, provider, auth.session_id, created_after, seen_after, now, RevokeReason::ProviderDisconnected)
            .await?
    } else {
        0
    };
    let Some((login, email)) = db::connected_accounts::delete(&mut *tx, auth.user_id, provider).await? else {
        return Err(DomainError::NotFound);
    };
    // (a link to a provider this server no longer offers is not a way to sign in: removing it
    // leaves as many as there were)
    if methods <= 1 && svc.providers.is_enabled(provider) {
        return Err(DomainError::LastSignInMethod);
    }
    crate::auth::activity::sessions_ended_with(&mut tx, auth, ended, provider.name(), client, now).await?;
    db::pending_sign_ins::delete_pending_from(&mut *tx, auth.user_id, provider).await?;
    // (named in the notice, as the connection's was: "the Google account kim@acme.test")
    let identity = crate::auth::providers::shown_as(login.as_deref(), email.as_deref());
    let event = crate::db::events::NewEvent {
        detail: Some(provider.name()),
        identity: identity.as_deref(),
        signed_out: ended,
        ..crate::db::events::NewEvent::new(auth.user_id, Some(auth.session_id), EventKind::ProviderDisconnected)
    };
    crate::auth::activity::record(&mut tx, svc, event, client, now).await?;
    tx.commit().await?;
    Ok(ended)
}

/// A connected identity, as the Connected accounts section shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct ConnectedAccount {
    pub provider: Provider,
    pub email: Option<String>,
    pub login: Option<String>,
    pub connected_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
    /// The account's other live sessions that signed in with it (what `disconnect` can sign out).
    pub sessions: u32,
}

/// The section's data: the configured providers (with whether a local development provider stands
/// in), the account's connections, and how many ways to sign in it has in all.
#[derive(Clone, Debug)]
pub struct Connections {
    pub providers: Vec<(Provider, bool)>,
    pub connected: Vec<ConnectedAccount>,
    /// Password + passkeys + connected accounts (of providers this server offers).
    pub sign_in_methods: i64,
}

pub async fn list(svc: &Services, auth: &AuthSession) -> Result<Connections, DomainError> {
    let rows = linked(svc, auth).await?;
    let sign_in_methods = db::passkeys::sign_in_methods(&svc.db, auth.user_id, &svc.providers.enabled_names()).await?;
    Ok(connections(svc, rows, sign_in_methods))
}

/// How many of these links can sign in here: a link to a provider this server no longer offers
/// cannot.
pub(crate) fn usable_links(svc: &Services, rows: &[db::connected_accounts::ConnectedAccountRow]) -> i64 {
    rows.iter().filter(|c| svc.providers.is_enabled(c.provider)).count() as i64
}

/// The section's view of the account's connected-account rows.
pub(crate) fn connections(svc: &Services, rows: Vec<db::connected_accounts::ConnectedAccountRow>, sign_in_methods: i64) -> Connections {
    Connections {
        providers: svc.providers.enabled(),
        connected: rows
            .into_iter()
            .map(|r| ConnectedAccount {
                provider: r.provider,
                email: r.email,
                login: r.login,
                connected_at: r.connected_at,
                last_used_at: r.last_used_at,
                sessions: u32::try_from(r.sessions).unwrap_or(u32::MAX),
            })
            .collect(),
        sign_in_methods,
    }
}
