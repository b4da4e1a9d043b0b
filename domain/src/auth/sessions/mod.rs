//! Server-side sessions: the cookie holds 32 random bytes, the table only their SHA-256.
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use crate::config::SessionPolicy;
use crate::db;
use crate::db::sessions::Cutoffs;
use crate::plan::Plan;
use crate::ids::{SessionId, UserId};
use crate::kinds::{EventKind, RevokeReason, SignInMethod};
use crate::request::{AuthSession, ClientInfo};
use crate::secret::{DeviceCookie, SessionToken};
use crate::error::Invalid;
use crate::{DomainError, Services};

mod start;

pub use start::{start, start_locked, start_with_new_passkey, start_with_passkey, start_with_password, start_with_provider, Started};

/// A finished sign-in: the new session's token and the browser's renewed device cookie (both go in
/// cookies, never in a body).
#[derive(Debug)]
pub struct SignedIn {
    pub token: SessionToken,
    pub device: DeviceCookie,
    /// After a backup code: how many are left.
    pub backup_codes_left: Option<i64>,
}

impl SignedIn {
    /// `token` for `user_id`, with this browser's device cookie renewed for that account.
    pub fn new(svc: &Services, user_id: UserId, token: SessionToken, client: &ClientInfo) -> Self {
        Self { token, device: svc.device_cookies.issue(client.device.as_ref(), user_id, svc.clock.now()), backup_codes_left: None }
    }
}

/// A session that started from a device or country this account had not used before is shown as
/// "New device" for this long.
pub const NEW_DEVICE_DAYS: i64 = 14;

/// A session as listed on the Security & Access page.
#[derive(Clone, Debug)]
pub struct SessionSummary {
    pub id: SessionId,
    pub created_at: OffsetDateTime,
    pub last_seen_at: OffsetDateTime,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub auth_method: SignInMethod,
    /// The passkey it signed in with, by name.
    pub passkey_name: Option<String>,
    pub current: bool,
    /// Started from a device or country not seen on the account before, within the last 14 days.
    pub new_device: bool,
}

/// A fresh random cookie token (base64url of 32 random bytes) and the hash to store.
pub fn new_cookie_token() -> (String, [u8; 32]) {
    let mut raw = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    (URL_SAFE_NO_PAD.encode(raw), Sha256::digest(raw).into())
}

/// A fresh session token and the hash to store.
pub fn new_token() -> (SessionToken, [u8; 32]) {
    let (token, hash) = new_cookie_token();
    (SessionToken::from_cookie(token), hash)
}

/// The stored hash of a cookie token; `None` when the cookie is not a well-formed token.
pub fn hash_cookie_token(token: &str) -> Option<[u8; 32]> {
    let raw = URL_SAFE_NO_PAD.decode(token).ok()?;
    (raw.len() == 32).then(|| Sha256::digest(&raw).into())
}

/// The stored hash of a session cookie's token.
pub fn token_hash(token: &SessionToken) -> Option<[u8; 32]> {
    hash_cookie_token(token.expose())
}

/// The oldest `created_at` / `last_seen_at` a live session of this plan may have at `now`.
pub(crate) fn live_after(policy: &SessionPolicy, plan: Plan, now: OffsetDateTime) -> (OffsetDateTime, OffsetDateTime) {
    let l = policy.lifetimes(plan);
    (now - l.absolute, now - l.idle)
}

/// `live_after` for every plan, for the clean-up sweep.
fn cutoffs(policy: &SessionPolicy, now: OffsetDateTime) -> Cutoffs {
    let mut c = Cutoffs::default();
    for plan in Plan::ALL {
        let (created_after, seen_after) = live_after(policy, plan, now);
        c.plans.push(plan.as_str());
        c.created_after.push(created_after);
        c.seen_after.push(seen_after);
    }
    c
}

/// Resolves a cookie to a live session, or `None` if it is unknown, revoked or expired. Records
/// activity at most once per touch interval.
///
/// A session this instance checked moments ago is answered from memory (`svc.session_cache`),
/// which Postgres clears of an account's sessions at every change to them and which is not used
/// while the instance cannot hear those changes; everything else, and anything the kept copy would
/// refuse (it may be older than the truth), is read from Postgres.
pub async fn authenticate(svc: &Services, token: &SessionToken) -> Result<Option<AuthSession>, DomainError> {
    let Some(hash) = token_hash(token) else { return Ok(None) };
    let now = svc.clock.now();
    let is_live = |row: &db::sessions::LiveSessionRow| {
        let (created_after, seen_after) = live_after(&svc.sessions, row.plan, now);
        row.created_at > created_after && row.last_seen_at > seen_after
    };
    let row = match svc.session_cache.get(&hash).filter(|row| is_live(row)) {
        Some(row) => row,
        None => {
            let ticket = svc.session_cache.ticket();
            let Some(row) = db::sessions::find_unrevoked(&svc.db, &hash).await? else {
                return Ok(None);
            };
            if !is_live(&row) {
                return Ok(None); // expired: the clean-up task marks it so
            }
            svc.session_cache.store(ticket, hash, row.clone());
            row
        }
    };
    if now - row.last_seen_at >= svc.sessions.touch_interval() {
        db::sessions::touch(&svc.db, row.user_id, row.id, now, now - svc.sessions.touch_interval()).await?;
        svc.session_cache.touched(&hash, now);
    }
    Ok(Some(AuthSession {
        session_id: row.id,
        user_id: row.user_id,
        email: row.email,
        display_name: row.display_name,
        verified_at: row.verified_at,
        plan: row.plan,
        has_second_factor: row.has_second_factor,
        auth_method: row.auth_method,
    }))
}

/// Ends the current session (sign out), recording from which device and address, as every other
/// event does.
pub async fn sign_out(svc: &Services, auth: &AuthSession, client: &ClientInfo) -> Result<(), DomainError> {
    let mut tx = svc.db.begin().await?;
    let now = svc.clock.now();
    db::sessions::revoke(&mut *tx, auth.user_id, auth.session_id, now, RevokeReason::SignedOut).await?;
    db::events::record(&mut *tx, auth.user_id, Some(auth.session_id), EventKind::SignedOut, client, now).await?;
    tx.commit().await?;
    Ok(())
}

/// After a full sign-in in a browser that was still signed in (to another account, or to the same
/// one again): the session it had is signed out, as Sign out would. Its cookie is being replaced,
/// so nobody could use or end it from that browser, and it would stay in its account's Sessions
/// list as active. Best effort: the sign-in has happened; a failure is logged.
pub async fn end_replaced(svc: &Services, previous: Option<&AuthSession>, client: &ClientInfo) {
    if let Some(previous) = previous {
        if let Err(e) = sign_out(svc, previous, client).await {
            tracing::warn!(error = %e, "the session a sign-in replaced in its browser was not signed out");
        }
    }
}

/// Ends one of the signed-in account's other sessions (needs a recent sign-in or re-verification:
/// ASVS 5.0 7.5.2). Another account's session, an ended one or an unknown id all answer `NotFound`
/// and change nothing. The current session is ended with `sign_out`, not here.
///
/// The owner singled the session out, so it takes back the trust its sign-in earned, and whoever
/// held it and signs in again is alerted about like a stranger (`activity::signed_in`):
/// - the account forgets its trusted browsers (`users.devices_reset_at`), the one that held the
///   session among them (a browser's device cookie names the account, not the session; the
///   owner's own browsers are trusted again at their next full sign-in);
/// - the session's sign-ins make no network or country familiar (the views `sign_in_history` and
///   `distrusted_sessions`, migrations 26 and 27; they stay in the activity list, and the
///   session's row is kept while they would count);
/// - an unanswered alert about it no longer holds back the next alert about that browser and OS
///   (`db::alerts::recent`).
pub async fn revoke(svc: &Services, auth: &AuthSession, id: SessionId, client: &ClientInfo) -> Result<(), DomainError> {
    crate::auth::recent::require_recent(svc, auth)?;
    if id == auth.session_id {
        return Err(DomainError::Invalid(Invalid::CurrentSession));
    }
    let now = svc.clock.now();
    let mut tx = svc.db.begin().await?;
    // (this session must still be live: see `require_live_and_recent`)
    crate::auth::recent::require_live_and_recent(&mut tx, svc, auth).await?;
    let (created_after, seen_after) = live_after(&svc.sessions, auth.plan, now);
    let Some(ended) = db::sessions::revoke_live(&mut *tx, auth.user_id, id, created_after, seen_after, now, RevokeReason::Revoked).await? else {
        return Err(DomainError::NotFound);
    };
    db::users::reset_devices(&mut *tx, auth.user_id, now).await?;
    // (which session: the row's own device and address are those of the browser that ended it)
    let what = format!("the {} session", crate::auth::activity::device_text(ended.user_agent.as_deref()));
    let event = db::events::NewEvent { detail: Some(&what), ..db::events::NewEvent::new(auth.user_id, Some(auth.session_id), EventKind::SessionRevoked) };
    db::events::insert(&mut *tx, &event, client, now).await?;
    tx.commit().await?;
    Ok(())
}

/// Ends every other session of the account and keeps this one; answers how many ended. Needs a
/// recent sign-in or re-verification. Like `revoke`, it takes back the trust their
/// sign-ins earned.
pub async fn revoke_others(svc: &Services, auth: &AuthSession, client: &ClientInfo) -> Result<u64, DomainError> {
    crate::auth::recent::require_recent(svc, auth)?;
    let now = svc.clock.now();
    let mut tx = svc.db.begin().await?;
    // (the account first, then its sessions: see `lock_account`; this one must still be live:
    // the check takes the account's row)
    crate::auth::recent::require_live_and_recent(&mut tx, svc, auth).await?;
    let n = db::sessions::revoke_others(&mut *tx, auth.user_id, auth.session_id, now, RevokeReason::RevokedAllOthers).await?;
    db::pending_sign_ins::delete_pending_for_user(&mut *tx, auth.user_id).await?;
    db::users::reset_devices(&mut *tx, auth.user_id, now).await?;
    let event = crate::db::events::NewEvent::new(auth.user_id, Some(auth.session_id), EventKind::OtherSessionsRevoked);
    if n > 0 {
        // (with its notice email)
        crate::auth::activity::record(&mut tx, svc, event, client, now).await?;
    } else {
        // (nothing ended: nothing to tell)
        db::events::insert(&mut *tx, &event, client, now).await?;
    }
    tx.commit().await?;
    Ok(n)
}

/// Ends every session of the account, this one too; answers how many ended. Needs a recent
/// sign-in or re-verification.
pub async fn sign_out_everywhere(svc: &Services, auth: &AuthSession, client: &ClientInfo) -> Result<u64, DomainError> {
    crate::auth::recent::require_recent(svc, auth)?;
    let now = svc.clock.now();
    let mut tx = svc.db.begin().await?;
    // (the account first, then its sessions, this one last: see `lock_account`; this one must
    // still be live, so a request of a session ended meanwhile cannot sign the owner out: the
    // check takes the account's row)
    crate::auth::recent::require_live_and_recent(&mut tx, svc, auth).await?;
    let others = db::sessions::revoke_others(&mut *tx, auth.user_id, auth.session_id, now, RevokeReason::SignedOutEverywhere).await?;
    db::pending_sign_ins::delete_pending_for_user(&mut *tx, auth.user_id).await?;
    db::users::reset_devices(&mut *tx, auth.user_id, now).await?;
    let this = db::sessions::revoke(&mut *tx, auth.user_id, auth.session_id, now, RevokeReason::SignedOutEverywhere).await?;
    crate::auth::activity::record(&mut tx, svc, crate::db::events::NewEvent::new(auth.user_id, Some(auth.session_id), EventKind::SignedOutEverywhere), client, now).await?;
    tx.commit().await?;
    Ok(others + u64::from(this))
}

/// Periodic clean-up: marks sessions past their idle or absolute lifetime as ended ("expired"),
/// deletes ended sessions older than the retention period (a `distrusted_sessions` one only once
/// its sign-ins are past `activity::FAMILIAR_DAYS` too; security events have their own task,
/// `activity::prune`), forgets expired
/// pending sign-ins, passkey ceremonies and provider flows (these an hour after they expired), throttle rows with no failure within the retention
/// period (unless locked), and replaced passwords no report reaches back to any more
/// (`replaced_passwords`). Answers (expired, deleted sessions).
pub async fn clean_up(svc: &Services) -> Result<(u64, u64), DomainError> {
    let now = svc.clock.now();
    let retained_after = now - Duration::days(svc.sessions.retention_days);
    let expired = db::sessions::mark_expired(&svc.db, &cutoffs(&svc.sessions, now), now).await?;
    let familiar_after = now - Duration::days(crate::auth::activity::FAMILIAR_DAYS);
    let deleted = db::sessions::delete_ended_before(&svc.db, retained_after, familiar_after).await?;
    db::throttles::delete_stale(&svc.db, retained_after, now).await?;
    db::pending_sign_ins::delete_expired_pending(&svc.db, now).await?;
    db::passkeys::delete_expired_ceremonies(&svc.db, now).await?;
    db::connected_accounts::delete_expired_flows(&svc.db, now).await?;
    db::users::forget_replaced_passwords(&svc.db, now - Duration::days(crate::auth::activity::PROMPT_DAYS)).await?;
    Ok((expired, deleted))
}

/// Live sessions of the signed-in account, the current one first, then most recently active.
pub async fn list(svc: &Services, auth: &AuthSession) -> Result<Vec<SessionSummary>, DomainError> {
    let now = svc.clock.now();
    let (created_after, seen_after) = live_after(&svc.sessions, auth.plan, now);
    let rows = db::sessions::list_live(&svc.db, auth.user_id, created_after, seen_after).await?;
    Ok(summaries(auth, rows, now))
}

/// The rows of `list`, as it answers them.
pub(crate) fn summaries(auth: &AuthSession, rows: Vec<db::sessions::SessionRow>, now: OffsetDateTime) -> Vec<SessionSummary> {
    let mut out: Vec<SessionSummary> = rows
        .into_iter()
        .map(|r| SessionSummary {
            current: r.id == auth.session_id,
            id: r.id,
            created_at: r.created_at,
            last_seen_at: r.last_seen_at,
            ip: r.ip,
            user_agent: r.user_agent,
            auth_method: r.auth_method,
            passkey_name: r.passkey_name,
            new_device: r.new_device && now - r.created_at < Duration::days(NEW_DEVICE_DAYS),
        })
        .collect();
    out.sort_by(|a, b| b.current.cmp(&a.current).then(b.last_seen_at.cmp(&a.last_seen_at)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_32_random_bytes_and_only_their_hash_is_kept() {
        let (a, ha) = new_token();
        let (b, hb) = new_token();
        assert_ne!(a, b);
        assert_ne!(ha, hb);
        assert_eq!(URL_SAFE_NO_PAD.decode(a.expose()).unwrap().len(), 32);
        assert_eq!(token_hash(&a), Some(ha));
        assert_ne!(&ha[..], URL_SAFE_NO_PAD.decode(a.expose()).unwrap().as_slice());
    }

    #[test]
    fn malformed_cookies_have_no_hash() {
        assert_eq!(token_hash(&SessionToken::from_cookie("not base64 !")), None);
        assert_eq!(token_hash(&SessionToken::from_cookie("c2hvcnQ")), None);
    }

    #[test]
    fn cutoffs_follow_each_plans_policy() {
        let p = SessionPolicy {
            enterprise_idle_timeout_minutes: 30,
            enterprise_absolute_lifetime_hours: 2,
            ..SessionPolicy::uniform(60, 24)
        };
        let now = time::macros::datetime!(2026-01-01 12:00 UTC);
        let c = cutoffs(&p, now);
        let at = |plan: Plan| c.plans.iter().position(|p| *p == plan.as_str()).unwrap();
        let e = at(Plan::Enterprise);
        assert_eq!(c.created_after[e], time::macros::datetime!(2026-01-01 10:00 UTC));
        assert_eq!(c.seen_after[e], time::macros::datetime!(2026-01-01 11:30 UTC));
        let f = at(Plan::Free);
        assert_eq!(c.created_after[f], time::macros::datetime!(2025-12-31 12:00 UTC));
        assert_eq!(c.seen_after[f], time::macros::datetime!(2026-01-01 11:00 UTC));
        assert_eq!(c.plans.len(), 3);
    }
}
