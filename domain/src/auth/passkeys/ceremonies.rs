//! Using a passkey: signing in (no email needed: discoverable credentials, also from autofill) and
//! confirming it's you (re-verification).
// ---- sign-in -----------------------------------------------------------------------------

use time::OffsetDateTime;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PasskeyAuthentication, PublicKeyCredential, WebauthnError,
};

use crate::request::{AuthSession, ClientInfo};
use crate::db;
use crate::db::passkeys::{Owner, SignInAdmission};
use crate::ids::UserId;
use crate::kinds::CeremonyKind;
use crate::network::ClientNetwork;
use crate::secret::CeremonyToken;
use crate::error::{Invalid, PasskeyCeremony};
use crate::{DomainError, Services};

use super::{ceremony_error, expired, expires, from_json, parse_credential, to_json};


/// Starts a passkey sign-in (no email needed): the options for `navigator.credentials.get`, with
/// `mediation: "conditional"` for autofill, and the token of the browser's ceremony cookie.
///
/// The browser's earlier ceremony (`previous`, the cookie this one replaces) is deleted. Anonymous
/// ceremonies are capped (see `SignInCaps`): over the client network's cap `RateLimited` (until its
/// first ceremony ends), over the total `Overloaded`.
pub async fn begin_sign_in(
    svc: &Services,
    autofill: bool,
    client: &ClientInfo,
    previous: Option<&CeremonyToken>,
) -> Result<(serde_json::Value, CeremonyToken), DomainError> {
    let (mut options, state) = svc
        .passkeys
        .webauthn
        .start_discoverable_authentication()
        .map_err(|e| DomainError::Internal(format!("start_discoverable_authentication: {e:?}")))?;
    if !autofill {
        options.mediation = None;
    }
    let (token, hash) = crate::auth::sessions::new_cookie_token();
    let previous = previous.and_then(|t| crate::auth::sessions::hash_cookie_token(t.expose()));
    let network = ClientNetwork::of(client).to_string();
    let (now, until) = expires(svc);
    let caps = svc.passkeys.caps;
    let ceremony = db::passkeys::NewSignInCeremony {
        token_hash: &hash,
        replaces: previous.as_ref(),
        client_network: &network,
        state: to_json(&state)?,
        now,
        expires_at: until,
        per_network: caps.per_network,
        total: caps.total,
    };
    let mut tx = svc.db.begin().await?;
    db::passkeys::lock_network(&mut *tx, &network).await?;
    let admission = db::passkeys::put_sign_in_ceremony(&mut *tx, &ceremony).await?;
    tx.commit().await?;
    let wait = |frees_at: OffsetDateTime| ((frees_at - now).whole_milliseconds().max(0) as u64).div_ceil(1000).max(1);
    match admission {
        SignInAdmission::Stored => Ok((to_json(&options)?, CeremonyToken::from_cookie(token))),
        SignInAdmission::NetworkFull { frees_at } => Err(DomainError::RateLimited { retry_after_seconds: wait(frees_at) }),
        SignInAdmission::TableFull { frees_at } => {
            tracing::warn!(cap = caps.total, "passkey sign-ins refused: the total cap of unfinished ceremonies is reached");
            Err(DomainError::Overloaded { retry_after_seconds: wait(frees_at) })
        }
    }
}

/// Finishes a passkey sign-in: a new session that records the passkey, whose last-used time (and
/// counter and backup state) are updated. The passkey verified the person, so no second step.
pub async fn finish_sign_in(
    svc: &Services,
    token: &CeremonyToken,
    credential_json: &str,
    client: &ClientInfo,
) -> Result<crate::auth::sessions::SignedIn, DomainError> {
    const WHAT: PasskeyCeremony = PasskeyCeremony::SigningIn;
    let hash = crate::auth::sessions::hash_cookie_token(token.expose()).ok_or_else(expired)?;
    let answer: PublicKeyCredential = parse_credential(credential_json)?;
    let now = svc.clock.now();
    // one connection for the whole sign-in (each use of the pool costs a round trip of its own)
    let mut conn = svc.db.acquire().await?;
    // taken at once, outside the transaction below: a ceremony is used up even when it fails
    let state = db::passkeys::take_ceremony(&mut *conn, CeremonyKind::SignIn, Owner::Token(&hash), now).await?.ok_or_else(expired)?;
    let state: DiscoverableAuthentication = from_json(state)?;
    let (user, credential_id) = svc
        .passkeys
        .webauthn
        .identify_discoverable_authentication(&answer)
        .map_err(|e| ceremony_error(e, WHAT))?;
    // the credential must belong to the account the authenticator named
    let row = db::passkeys::find_by_credential(&mut *conn, UserId(user), credential_id).await?.ok_or_else(unknown_passkey)?;
    let mut passkey: Passkey = from_json(row.credential.0.clone())?;
    let result = svc
        .passkeys
        .webauthn
        .finish_discoverable_authentication_v2(&answer, state, &passkey)
        .map_err(|e| ceremony_error(e, WHAT))?;
    if !result.user_verified() {
        return Err(ceremony_error(WebauthnError::UserNotVerified, WHAT));
    }
    let updated = match passkey.update_credential(&result) {
        Some(true) => Some(to_json(&passkey)?),
        _ => None,
    };
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    db::passkeys::record_use(&mut *tx, row.user_id, row.id, updated, Some(result.backup_state()), now).await?;
    let session = crate::auth::sessions::start_with_passkey(&mut tx, svc, row.user_id, (row.id, &row.name), now, client).await?;
    // a full sign-in: this browser's path starts again, and it becomes (stays) a trusted device
    crate::auth::throttle::reset_on(&mut *tx, svc, row.user_id, client).await?;
    tx.commit().await?;
    Ok(crate::auth::sessions::SignedIn::new(svc, row.user_id, session, client))
}

fn unknown_passkey() -> DomainError {
    DomainError::Invalid(Invalid::PasskeyNotRegistered)
}

// ---- re-verification -----------------------------------------------------------------------

/// Starts re-verifying with one of the account's passkeys: the options for
/// `navigator.credentials.get` (only this account's passkeys are allowed).
pub async fn begin_reverify(svc: &Services, auth: &AuthSession) -> Result<serde_json::Value, DomainError> {
    let rows = db::passkeys::list(&svc.db, auth.user_id).await?;
    if rows.is_empty() {
        return Err(DomainError::Invalid(Invalid::NoPasskey));
    }
    let mut passkeys = Vec::with_capacity(rows.len());
    for row in rows {
        passkeys.push(from_json::<Passkey>(row.credential.0)?);
    }
    let (options, state) = svc
        .passkeys
        .webauthn
        .start_passkey_authentication(&passkeys)
        .map_err(|e| DomainError::Internal(format!("start_passkey_authentication: {e:?}")))?;
    let (now, until) = expires(svc);
    db::passkeys::put_ceremony(&svc.db, CeremonyKind::Reverify, Owner::Session(auth.session_id), to_json(&state)?, now, until).await?;
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
    let state: PasskeyAuthentication = from_json(state)?;
    let result = svc.passkeys.webauthn.finish_passkey_authentication(&answer, &state).map_err(|e| ceremony_error(e, WHAT))?;
    let row = db::passkeys::find_by_credential(&svc.db, auth.user_id, result.cred_id()).await?.ok_or_else(unknown_passkey)?;
    let mut passkey: Passkey = from_json(row.credential.0.clone())?;
    let updated = match passkey.update_credential(&result) {
        Some(true) => Some(to_json(&passkey)?),
        _ => None,
    };
    let mut tx = svc.db.begin().await?;
    db::passkeys::record_use(&mut *tx, auth.user_id, row.id, updated, Some(result.backup_state()), now).await?;
    let done = crate::auth::reverify::mark_verified(&mut tx, svc, auth, client).await?;
    tx.commit().await?;
    Ok(done)
}

