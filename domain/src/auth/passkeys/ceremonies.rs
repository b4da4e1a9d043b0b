//! Using a passkey: signing in (no email needed: discoverable credentials, also from autofill) and
//! confirming it's you (re-verification).
// ---- sign-in -----------------------------------------------------------------------------

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use time::OffsetDateTime;
use uuid::Uuid;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PasskeyAuthentication, PublicKeyCredential, WebauthnError,
};

use super::known::KnownPasskey;

use crate::request::{AuthSession, ClientInfo};
use crate::db;
use crate::db::passkey_sign_ins::{FamiliarSignIn, SignInRecorded, SignInUse};
use crate::db::passkeys::Owner;
use crate::ids::{PasskeyId, SessionId, UserId};
use crate::kinds::{CeremonyKind, EventKind, SignInMethod};
use crate::secret::CeremonyToken;
use crate::error::{Invalid, PasskeyCeremony};
use crate::{DomainError, Services};

use super::{ceremony_error, expired, expires, from_json, parse_credential, to_json};

/// What the server's key signs a passkey sign-in in flight under (see `DeviceCookieKey::sign`).
const SIGN_IN_LABEL: &[u8] = b"gatehouse passkey sign-in v1";
/// Longest ceremony cookie accepted (a real one is about 300 characters).
const SIGN_IN_COOKIE_MAX: usize = 2048;

/// A passkey sign-in between its two halves, as the browser holds it in its ceremony cookie:
/// `base64url(id ‖ expiry ‖ state ‖ MAC)`. The id names the ceremony (finishing it records the
/// id, so it finishes once); the expiry is in Unix seconds; the state is webauthn-rs's (the
/// challenge and the policy: nothing secret, the options the browser got carry the same
/// challenge); the MAC is HMAC-SHA-256 under the server's key, so a browser cannot change any of
/// it or make one up. Nothing is stored when a sign-in begins.
struct SignInCeremony {
    id: Uuid,
    expires_at: OffsetDateTime,
    state: DiscoverableAuthentication,
}

impl SignInCeremony {
    fn seal(&self, svc: &Services) -> Result<CeremonyToken, DomainError> {
        let mut raw = Vec::with_capacity(256);
        raw.extend_from_slice(self.id.as_bytes());
        raw.extend_from_slice(&self.expires_at.unix_timestamp().to_be_bytes());
        raw.extend(serde_json::to_vec(&self.state).map_err(|e| DomainError::Internal(format!("serialising webauthn state: {e}")))?);
        let tag = svc.device_cookies.sign(SIGN_IN_LABEL, &raw);
        raw.extend_from_slice(&tag);
        Ok(CeremonyToken::from_cookie(URL_SAFE_NO_PAD.encode(raw)))
    }

    /// The ceremony in a cookie this server sealed, unless it has expired; `None` for anything
    /// else (changed, made up, truncated, sealed under another key, expired).
    fn open(svc: &Services, token: &CeremonyToken, now: OffsetDateTime) -> Option<Self> {
        let text = token.expose();
        if text.len() > SIGN_IN_COOKIE_MAX {
            return None;
        }
        let raw = URL_SAFE_NO_PAD.decode(text).ok()?;
        let (payload, tag) = raw.split_at_checked(raw.len().checked_sub(32)?)?;
        if payload.len() < 24 || !svc.device_cookies.verify(SIGN_IN_LABEL, payload, tag) {
            return None;
        }
        let id = Uuid::from_bytes(payload[..16].try_into().ok()?);
        let expires_at = OffsetDateTime::from_unix_timestamp(i64::from_be_bytes(payload[16..24].try_into().ok()?)).ok()?;
        if expires_at <= now {
            return None;
        }
        let state = serde_json::from_slice(&payload[24..]).ok()?;
        Some(Self { id, expires_at, state })
    }
}

/// Starts a passkey sign-in (no email needed): the options for `navigator.credentials.get`, with
/// `mediation: "conditional"` for autofill, and the browser's ceremony cookie, which carries the
/// whole ceremony (see `SignInCeremony`): beginning stores nothing, so a flood of begins costs the
/// database nothing (the per-network request budget still limits them).
pub fn begin_sign_in(svc: &Services, autofill: bool) -> Result<(serde_json::Value, CeremonyToken), DomainError> {
    let (mut options, state) = svc
        .passkeys
        .webauthn
        .start_discoverable_authentication()
        .map_err(|e| DomainError::Internal(format!("start_discoverable_authentication: {e:?}")))?;
    if !autofill {
        options.mediation = None;
    }
    // whole seconds, as the cookie carries it
    let (now, until) = expires(svc);
    let expires_at = until.replace_nanosecond(0).unwrap_or(until);
    debug_assert!(expires_at > now);
    let token = SignInCeremony { id: Uuid::new_v4(), expires_at, state }.seal(svc)?;
    Ok((to_json(&options)?, token))
}

/// Finishes a passkey sign-in: a new session that records the passkey, whose last-used time (and
/// counter and backup state) are updated. The passkey verified the person, so no second step.
///
/// The ceremony finishes once: a verified answer records its id with the sign-in's session (one
/// statement from a familiar place, `db::passkey_sign_ins::sign_in_if_familiar`, or else one transaction),
/// so a replay is refused as expired or used, and of two finishes at once the second waits for the
/// account's row, then finds the first's id (or, when the first moved the passkey's revision on,
/// reads the passkey again and finds the id then) and is refused the same way. An answer that fails
/// verification records nothing (it proved nothing; only real sign-ins add rows).
///
/// The answer is checked against the passkey as this instance remembers it (`known`), else as
/// Postgres has it. Recording the sign-in confirms, under the passkey's lock, that it was the
/// passkey's current revision; when it was not, the answer is checked again against the passkey
/// as it is now (read from Postgres), so a remembered passkey never lets through what the stored
/// one would refuse. An answer the remembered passkey refuses for its counter or backup
/// eligibility is checked again the same way, so that a replay is told apart from a copied key as
/// before (the read finds its ceremony finished) and an out-of-date memory never refuses what the
/// stored passkey accepts.
pub async fn finish_sign_in(
    svc: &Services,
    token: &CeremonyToken,
    credential_json: &str,
    client: &ClientInfo,
) -> Result<crate::auth::sessions::SignedIn, DomainError> {
    const WHAT: PasskeyCeremony = PasskeyCeremony::SigningIn;
    /// Most checks of one answer. Each after the first follows a change to the passkey between
    /// the check and the record (two sign-ins with one security key at once, a rename); one that
    /// keeps changing ends the sign-in as expired (the person tries again).
    const CHECKS: usize = 3;
    let now = svc.clock.now();
    let ceremony = SignInCeremony::open(svc, token, now).ok_or_else(expired)?;
    let answer: PublicKeyCredential = parse_credential(credential_json)?;
    let (user, credential_id) = svc
        .passkeys
        .webauthn
        .identify_discoverable_authentication(&answer)
        .map_err(|e| ceremony_error(e, WHAT))?;
    let known = &svc.passkeys.known;
    // one connection for the whole sign-in (each use of the pool costs a round trip of its own)
    let mut conn = svc.db.acquire().await?;
    let mut remembered = known.get(user, credential_id);
    for _ in 0..CHECKS {
        let from_memory = remembered.is_some();
        let passkey = match remembered.take() {
            Some(passkey) => passkey,
            // the credential must belong to the account the authenticator named
            None => {
                let (row, revision) = db::passkey_sign_ins::find_for_sign_in(&mut *conn, ceremony.id, UserId(user), credential_id)
                    .await?
                    .map_err(|()| expired())?
                    .ok_or_else(unknown_passkey)?;
                KnownPasskey { id: row.id, user_id: row.user_id, name: row.name, credential: from_json(row.credential.0)?, revision }
            }
        };
        let (owner, name) = (passkey.user_id, passkey.name.clone());
        match attempt(svc, &mut conn, &ceremony, &answer, passkey, client, now).await {
            Ok(Attempt::SignedIn(signed_in, passkey)) => {
                known.remember(credential_id, passkey);
                return Ok(signed_in);
            }
            // checked against an earlier revision: again, against the passkey as it is now
            Ok(Attempt::Changed) => known.forget(user, credential_id),
            // refused for what the remembered passkey holds (its counter, its backup
            // eligibility): again, against what Postgres has, which also tells a replay (its
            // counter no higher than the one its first finish stored) from a copied key. Any
            // other refusal (signature, origin, challenge, flags) does not depend on it.
            Ok(Attempt::Refused(WebauthnError::CredentialPossibleCompromise | WebauthnError::CredentialBackupEligibilityInconsistent))
                if from_memory =>
            {
                known.forget(user, credential_id)
            }
            Ok(Attempt::Refused(e)) => {
                // Checked against the passkey as Postgres has it (a replay of a finished ceremony
                // was refused above), a counter that went back is what a copy of a security key
                // sends: the owner's activity says so (no session: nothing signed in).
                if matches!(e, WebauthnError::CredentialPossibleCompromise) {
                    tracing::warn!(user_id = %owner, "passkey sign-in refused: its counter went back (a copied key?)");
                    if let Err(err) = record_copy_refused(svc, &mut conn, owner, &name, client, now).await {
                        tracing::warn!(error = %err, "recording a passkey sign-in refused as a copy failed");
                    }
                }
                return Err(ceremony_error(e, WHAT));
            }
            Err(e) => {
                known.forget(user, credential_id);
                return Err(e);
            }
        }
    }
    Err(expired())
}

/// A `passkey_copy_refused` event (and its notice) for `owner`'s passkey `name`, at most one an
/// hour per passkey: a refused answer finishes no ceremony, so whoever holds a copy could replay it
/// for the ceremony's five minutes and fill the owner's activity and mailbox with the same line.
/// Checked and recorded under the account's lock, in one transaction: replays sent at once record
/// one, and the event never goes without its email.
async fn record_copy_refused(
    svc: &Services,
    conn: &mut sqlx::PgConnection,
    owner: UserId,
    name: &str,
    client: &ClientInfo,
    now: OffsetDateTime,
) -> Result<(), DomainError> {
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    db::passkeys::lock_account(&mut *tx, owner).await?;
    if db::events::recorded_since(&mut *tx, owner, EventKind::PasskeyCopyRefused, name, now - time::Duration::hours(1)).await? {
        return Ok(());
    }
    let event = crate::db::events::NewEvent { detail: Some(name), ..crate::db::events::NewEvent::new(owner, None, EventKind::PasskeyCopyRefused) };
    crate::auth::activity::record(&mut tx, svc, event, client, now).await?;
    tx.commit().await?;
    Ok(())
}

/// One verified (or refused) answer against `passkey` as it was at its revision.
enum Attempt {
    /// Signed in; the passkey as the sign-in left it (its new revision).
    SignedIn(crate::auth::sessions::SignedIn, KnownPasskey),
    /// The passkey is no longer at that revision: nothing was recorded.
    Changed,
    /// The answer failed verification against the passkey at that revision: nothing was recorded.
    Refused(WebauthnError),
}

async fn attempt(
    svc: &Services,
    conn: &mut sqlx::PgConnection,
    ceremony: &SignInCeremony,
    answer: &PublicKeyCredential,
    mut passkey: KnownPasskey,
    client: &ClientInfo,
    now: OffsetDateTime,
) -> Result<Attempt, DomainError> {
    let result = match svc.passkeys.webauthn.finish_discoverable_authentication_v2(answer, ceremony.state.clone(), &passkey.credential) {
        Ok(result) => result,
        Err(e) => return Ok(Attempt::Refused(e)),
    };
    if !result.user_verified() {
        return Ok(Attempt::Refused(WebauthnError::UserNotVerified));
    }
    let updated = match passkey.credential.update_credential(&result) {
        Some(true) => Some(to_json(&passkey.credential)?),
        _ => None,
    };
    // a full sign-in: this browser's throttle path starts again (and it becomes, or stays, a
    // trusted device: its entry is renewed, so even one from before the account's password is its
    // own path again)
    let throttle_path = crate::auth::throttle::path(svc, client, passkey.user_id, None);
    let used = SignInUse {
        ceremony_id: ceremony.id,
        ceremony_expires_at: ceremony.expires_at,
        user_id: passkey.user_id,
        passkey_id: passkey.id,
        revision: passkey.revision,
        credential: updated,
        backed_up: Some(result.backup_state()),
        throttle_path: throttle_path.key(),
        now,
    };
    // Most sign-ins come from a browser or network the account knows: those are one statement.
    // (A sign-in spends more on its round trips to Postgres than on anything else but the signature
    // check: `make bench`, measure 2.)
    let (token, hash) = crate::auth::sessions::new_token();
    let session = db::events::NewSession { id: SessionId::new(), token_hash: &hash, passkey_id: Some(passkey.id) };
    let event = db::events::NewEvent {
        method: Some(SignInMethod::Passkey),
        detail: Some(&passkey.name),
        ..db::events::NewEvent::new(passkey.user_id, Some(session.id), EventKind::SignedIn)
    };
    let since = now - time::Duration::days(crate::auth::activity::FAMILIAR_DAYS);
    let known_device_since = svc.device_cookies.trusted_since(client.device.as_ref(), passkey.user_id);
    match db::passkey_sign_ins::sign_in_if_familiar(&mut *conn, &used, &session, &event, client, known_device_since, since).await? {
        FamiliarSignIn::SignedIn(revision) => {
            let signed_in = crate::auth::sessions::SignedIn::new(svc, passkey.user_id, token, client);
            return Ok(Attempt::SignedIn(signed_in, KnownPasskey { revision, ..passkey }));
        }
        FamiliarSignIn::AlreadyFinished => return Err(expired()),
        FamiliarSignIn::PasskeyGone => return Err(unknown_passkey()),
        FamiliarSignIn::Changed => return Ok(Attempt::Changed),
        FamiliarSignIn::Unfamiliar => {}
    }
    // the whole way: the familiarity decided under the account's lock, and the alert it may raise
    // committed with the session
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let recorded = db::passkey_sign_ins::record_sign_in(&mut *tx, &used).await?;
    // (on the early returns, the transaction rolls back as it is dropped)
    let (locked, revision) = match recorded {
        SignInRecorded::AlreadyFinished => return Err(expired()),
        SignInRecorded::PasskeyGone => return Err(unknown_passkey()),
        SignInRecorded::Changed => return Ok(Attempt::Changed),
        SignInRecorded::Recorded(locked, revision) => (locked, revision),
    };
    let session =
        crate::auth::sessions::start_with_passkey(&mut tx, svc, locked, passkey.user_id, (passkey.id, &passkey.name), now, client).await?;
    tx.commit().await?;
    let signed_in = crate::auth::sessions::SignedIn::new(svc, passkey.user_id, session, client);
    Ok(Attempt::SignedIn(signed_in, KnownPasskey { revision, ..passkey }))
}

fn unknown_passkey() -> DomainError {
    DomainError::Invalid(Invalid::PasskeyNotRegistered)
}

// ---- re-verification -----------------------------------------------------------------------

/// A re-verification's stored ceremony: webauthn-rs's state (which holds each allowed passkey as
/// it was read, counter included) and the revision each passkey had then.
#[derive(serde::Serialize, serde::Deserialize)]
struct ReverifyCeremony {
    state: serde_json::Value,
    revisions: Vec<(PasskeyId, i64)>,
}

/// Starts re-verifying with one of the account's passkeys: the options for
/// `navigator.credentials.get` (only this account's passkeys are allowed).
pub async fn begin_reverify(svc: &Services, auth: &AuthSession) -> Result<serde_json::Value, DomainError> {
    let rows = db::passkeys::list_with_revisions(&svc.db, auth.user_id).await?;
    if rows.is_empty() {
        return Err(DomainError::Invalid(Invalid::NoPasskey));
    }
    let mut passkeys = Vec::with_capacity(rows.len());
    let mut revisions = Vec::with_capacity(rows.len());
    for (id, credential, revision) in rows {
        passkeys.push(from_json::<Passkey>(credential)?);
        revisions.push((id, revision));
    }
    let (options, state) = svc
        .passkeys
        .webauthn
        .start_passkey_authentication(&passkeys)
        .map_err(|e| DomainError::Internal(format!("start_passkey_authentication: {e:?}")))?;
    let (now, until) = expires(svc);
    let ceremony = to_json(&ReverifyCeremony { state: to_json(&state)?, revisions })?;
    db::passkeys::put_ceremony(&svc.db, CeremonyKind::Reverify, Owner::Session(auth.session_id), ceremony, now, until).await?;
    to_json(&options)
}

/// Finishes re-verifying with a passkey; answers until when the session counts as verified and
/// its new token.
pub async fn finish_reverify(
    svc: &Services,
    auth: &AuthSession,
    credential_json: &str,
    client: &ClientInfo,
) -> Result<crate::auth::reverify::Reverified, DomainError> {
    const WHAT: PasskeyCeremony = PasskeyCeremony::Confirming;
    let answer: PublicKeyCredential = parse_credential(credential_json)?;
    let now = svc.clock.now();
    let state = db::passkeys::take_ceremony(&svc.db, CeremonyKind::Reverify, Owner::Session(auth.session_id), now)
        .await?
        .ok_or_else(expired)?;
    // (one begun before this form was stored, across an upgrade, is asked again like an old one)
    let ceremony: ReverifyCeremony = serde_json::from_value(state).map_err(|_| expired())?;
    let state: PasskeyAuthentication = from_json(ceremony.state)?;
    let result = svc.passkeys.webauthn.finish_passkey_authentication(&answer, &state).map_err(|e| ceremony_error(e, WHAT))?;
    let mut tx = svc.db.begin().await?;
    // (the stored counter is read and written under the passkey's lock: see lock_by_credential)
    let (row, revision) = db::passkeys::lock_by_credential(&mut *tx, auth.user_id, result.cred_id()).await?.ok_or_else(unknown_passkey)?;
    // webauthn-rs checked the answer's counter against the passkey as it was when this began. If
    // it has changed since (a sign-in counted a use meanwhile), that check proved nothing about a
    // copied key: the person is asked to try again, against the passkey as it is now.
    if !ceremony.revisions.contains(&(row.id, revision)) {
        tracing::info!(passkey = %row.id, "passkey changed while a re-verification with it was under way: asked to try again");
        return Err(expired());
    }
    let mut passkey: Passkey = from_json(row.credential.0.clone())?;
    let updated = match passkey.update_credential(&result) {
        Some(true) => Some(to_json(&passkey)?),
        _ => None,
    };
    db::passkeys::record_use(&mut *tx, auth.user_id, row.id, updated, Some(result.backup_state()), now).await?;
    let done = crate::auth::reverify::mark_verified(&mut tx, svc, auth, client, &format!("the passkey “{}”", row.name)).await?;
    tx.commit().await?;
    Ok(done)
}

