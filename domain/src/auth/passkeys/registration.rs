//! Adding a passkey: begin (options for `navigator.credentials.create`) and finish (the browser's
//! answer checked and stored), after re-verification.

use uuid::Uuid;
use webauthn_rs::prelude::{
    Passkey, PasskeyRegistration,
    RegisterPublicKeyCredential, WebauthnError,
};
use webauthn_rs_proto::ResidentKeyRequirement;

use crate::request::{AuthSession, ClientInfo};
use crate::db;
use crate::db::passkeys::{NewPasskey, Owner};
use crate::ids::PasskeyId;
use crate::kinds::{CeremonyKind, EventKind};
use crate::error::{Invalid, PasskeyCeremony};
use crate::{DomainError, Services};

use super::{ceremony_error, expired, expires, from_json, parse_credential, to_json, PasskeySummary, NAME_MAX};


/// Starts adding a passkey: answers the options for `navigator.credentials.create` (JSON). Needs a
/// recent sign-in or re-verification. The account's passkeys are excluded, so an authenticator
/// that already holds one refuses to make a second.
pub async fn begin_registration(svc: &Services, auth: &AuthSession) -> Result<serde_json::Value, DomainError> {
    crate::auth::recent::require_recent(svc, auth)?;
    let existing = db::passkeys::list(&svc.db, auth.user_id).await?;
    let mut exclude = Vec::with_capacity(existing.len());
    for row in existing {
        exclude.push(from_json::<Passkey>(row.credential.0)?.cred_id().clone());
    }
    let display = auth.display_name.as_deref().filter(|n| !n.trim().is_empty()).unwrap_or(&auth.email);
    let (mut options, state) = svc
        .passkeys
        .webauthn
        .start_passkey_registration(auth.user_id.0, &auth.email, display, Some(exclude))
        .map_err(|e| DomainError::Internal(format!("start_passkey_registration: {e:?}")))?;
    // discoverable credentials preferred: they sign in without an email
    if let Some(sel) = options.public_key.authenticator_selection.as_mut() {
        sel.resident_key = Some(ResidentKeyRequirement::Preferred);
        sel.require_resident_key = false;
    }
    let (now, until) = expires(svc);
    db::passkeys::put_ceremony(&svc.db, CeremonyKind::Register, Owner::Session(auth.session_id), to_json(&state)?, now, until).await?;
    to_json(&options)
}

/// A name the person chose, trimmed and composed (NFC: "é" typed as "e" and a combining accent is
/// the one character, so two names that read the same are the same); empty means "use the
/// provider's name".
pub fn clean_name(name: &str) -> Result<Option<String>, DomainError> {
    use unicode_normalization::UnicodeNormalization;
    let name: String = crate::auth::accounts::without_hidden_characters(name).nfc().collect();
    if name.is_empty() {
        return Ok(None);
    }
    if name.chars().count() > NAME_MAX {
        return Err(DomainError::Invalid(Invalid::PasskeyNameTooLong));
    }
    Ok(Some(name))
}

/// Whether two passkey names read the same, letter case aside: `policy::names::same_passkey_name`
/// on their composed forms (names stored before names were composed may not be).
pub(super) fn same_name(a: &str, b: &str) -> bool {
    use unicode_normalization::UnicodeNormalization;
    policy::names::same_passkey_name(&a.nfc().collect::<String>(), &b.nfc().collect::<String>())
}

/// The default name: the provider's (or the one chosen), numbered when the account already has one
/// by that name, letter case aside ("iCloud Keychain", "iCloud Keychain 2", …), and never longer than a passkey's name may be
/// (`NAME_MAX`): some providers' names are longer ("Security Key NFC by Yubico - Enterprise
/// Edition (Enterprise Profile)"), so the name is cut, with "…", to leave room for the number.
pub fn default_name(provider: Option<&str>, taken: &[String]) -> String {
    let base = provider.unwrap_or("Passkey");
    let fitted = |suffix: String| {
        let room = NAME_MAX - suffix.chars().count();
        if base.chars().count() <= room {
            return format!("{base}{suffix}");
        }
        let cut: String = base.chars().take(room - 1).collect();
        format!("{}…{suffix}", cut.trim_end())
    };
    let free = |c: &String| !taken.iter().any(|t| same_name(t, c));
    let first = fitted(String::new());
    if free(&first) {
        return first;
    }
    (2..).map(|n| fitted(format!(" {n}"))).find(free).expect("unbounded")
}

/// The authenticator model from the registration's authenticator data (bytes 37..53 once the
/// attested-credential flag is set). Informational only: with attestation "none" nobody vouches
/// for it, so it only names the provider.
fn aaguid_of(reg: &RegisterPublicKeyCredential) -> Option<Uuid> {
    use serde_cbor_2::Value;
    let Value::Map(map) = serde_cbor_2::from_slice::<Value>(&reg.response.attestation_object).ok()? else { return None };
    let Some(Value::Bytes(data)) = map.get(&Value::Text("authData".into())) else { return None };
    if data.len() < 53 || data[32] & 0x40 == 0 {
        return None;
    }
    Uuid::from_slice(&data[37..53]).ok().filter(|u| !u.is_nil())
}

/// The backup flags stored in a passkey (its serialised form is the only place they are kept).
fn backup_flags(credential: &serde_json::Value) -> (bool, bool) {
    let flag = |k: &str| credential["cred"][k].as_bool().unwrap_or(false);
    (flag("backup_eligible"), flag("backup_state"))
}

/// Finishes adding a passkey with the browser's answer (`PublicKeyCredential.toJSON()`), under
/// `name` or the provider's name. The ceremony must be this session's, unexpired and unused.
pub async fn finish_registration(
    svc: &Services,
    auth: &AuthSession,
    credential_json: &str,
    name: &str,
    client: &ClientInfo,
) -> Result<PasskeySummary, DomainError> {
    crate::auth::recent::require_recent(svc, auth)?;
    let chosen = clean_name(name)?;
    let reg: RegisterPublicKeyCredential = parse_credential(credential_json)?;
    let now = svc.clock.now();
    let state = db::passkeys::take_ceremony(&svc.db, CeremonyKind::Register, Owner::Session(auth.session_id), now)
        .await?
        .ok_or_else(expired)?;
    let state: PasskeyRegistration = from_json(state)?;
    let passkey = svc.passkeys.webauthn.finish_passkey_registration(&reg, &state).map_err(|e| match e {
        // an authenticator that already holds one of this account's passkeys
        WebauthnError::CredentialAlteredAlgFromRequest | WebauthnError::CredentialExcludedFromRequest => already_added(),
        e => ceremony_error(e, PasskeyCeremony::Adding),
    })?;
    let credential = to_json(&passkey)?;
    let (backup_eligible, backed_up) = backup_flags(&credential);
    let aaguid = aaguid_of(&reg);
    let provider = svc.passkeys.provider_name(aaguid);
    let mut tx = svc.db.begin().await?;
    crate::auth::recent::require_live_and_recent(&mut tx, svc, auth).await?;
    // (a name another passkey has is numbered, as the provider's is: the authenticator already
    // keeps this passkey, so refusing it now would leave one there that signs in nowhere; the page
    // says the name it got)
    let taken = db::passkeys::names(&mut *tx, auth.user_id).await?;
    let name = default_name(chosen.as_deref().or(provider), &taken);
    let id = PasskeyId::new();
    let new = NewPasskey {
        id,
        user_id: auth.user_id,
        credential_id: passkey.cred_id().as_ref(),
        credential,
        name: &name,
        aaguid,
        backup_eligible,
        backed_up,
        created_at: now,
        added_by: Some(auth.session_id),
    };
    if !db::passkeys::insert(&mut *tx, &new).await? {
        // one credential belongs to one account, ever
        return Err(already_added());
    }
    let event = crate::db::events::NewEvent { detail: Some(&name), ..crate::db::events::NewEvent::new(auth.user_id, Some(auth.session_id), EventKind::PasskeyAdded) };
    crate::auth::activity::record(&mut tx, svc, event, client, now).await?;
    tx.commit().await?;
    Ok(PasskeySummary {
        id,
        name,
        provider: provider.map(str::to_string),
        synced: backup_eligible,
        created_at: now,
        last_used_at: None,
        sessions: 0,
    })
}

fn already_added() -> DomainError {
    DomainError::Invalid(Invalid::PasskeyAlreadyOnDevice)
}

/// A checked first passkey of an account that does not exist yet (a sign-up), ready to store in
/// the transaction that creates the account.
pub struct FirstPasskey {
    pub user_id: crate::ids::UserId,
    credential: serde_json::Value,
    credential_id: Vec<u8>,
    aaguid: Option<Uuid>,
    backup_eligible: bool,
    backed_up: bool,
    /// "iCloud Keychain", or the name the person chose.
    pub name: String,
}

/// The ceremony state of a first passkey: webauthn-rs's, and the account id it was made for.
#[derive(serde::Serialize, serde::Deserialize)]
struct FirstState {
    user_id: Uuid,
    state: serde_json::Value,
}

/// Starts registering the first passkey of an account that does not exist yet: options for
/// `navigator.credentials.create` (JSON) under a new account id. The ceremony belongs to `owner`
/// (the sign-up link's hash); beginning again replaces it.
pub async fn begin_first(svc: &Services, owner: &[u8; 32], email: &str, display_name: Option<&str>) -> Result<serde_json::Value, DomainError> {
    let user_id = crate::ids::UserId::new();
    let display = display_name.filter(|n| !n.trim().is_empty()).unwrap_or(email);
    let (mut options, state) = svc
        .passkeys
        .webauthn
        .start_passkey_registration(user_id.0, email, display, None)
        .map_err(|e| DomainError::Internal(format!("start_passkey_registration: {e:?}")))?;
    if let Some(sel) = options.public_key.authenticator_selection.as_mut() {
        sel.resident_key = Some(ResidentKeyRequirement::Preferred);
        sel.require_resident_key = false;
    }
    let (now, until) = expires(svc);
    let stored = to_json(&FirstState { user_id: user_id.0, state: to_json(&state)? })?;
    let mut tx = svc.db.begin().await?;
    db::passkeys::take_ceremony(&mut *tx, CeremonyKind::Register, Owner::Token(owner), now).await?;
    db::passkeys::put_ceremony(&mut *tx, CeremonyKind::Register, Owner::Token(owner), stored, now, until).await?;
    tx.commit().await?;
    to_json(&options)
}

/// Checks the browser's answer to `begin_first` (the ceremony is used up either way).
pub async fn finish_first(svc: &Services, owner: &[u8; 32], credential_json: &str) -> Result<FirstPasskey, DomainError> {
    let reg: RegisterPublicKeyCredential = parse_credential(credential_json)?;
    let now = svc.clock.now();
    let stored = db::passkeys::take_ceremony(&svc.db, CeremonyKind::Register, Owner::Token(owner), now).await?.ok_or_else(expired)?;
    let FirstState { user_id, state } = from_json(stored)?;
    let state: PasskeyRegistration = from_json(state)?;
    let passkey = svc.passkeys.webauthn.finish_passkey_registration(&reg, &state).map_err(|e| ceremony_error(e, PasskeyCeremony::Adding))?;
    let credential = to_json(&passkey)?;
    let (backup_eligible, backed_up) = backup_flags(&credential);
    let aaguid = aaguid_of(&reg);
    let name = default_name(svc.passkeys.provider_name(aaguid), &[]);
    Ok(FirstPasskey {
        user_id: crate::ids::UserId(user_id),
        credential_id: AsRef::<[u8]>::as_ref(passkey.cred_id()).to_vec(),
        credential,
        aaguid,
        backup_eligible,
        backed_up,
        name,
    })
}

/// Stores a first passkey for its new account (inside the transaction that creates it).
pub async fn store_first(db: impl sqlx::PgExecutor<'_>, first: &FirstPasskey, now: time::OffsetDateTime) -> Result<PasskeyId, DomainError> {
    let new = NewPasskey {
        id: PasskeyId::new(),
        user_id: first.user_id,
        credential_id: &first.credential_id,
        credential: first.credential.clone(),
        name: &first.name,
        aaguid: first.aaguid,
        backup_eligible: first.backup_eligible,
        backed_up: first.backed_up,
        created_at: now,
        added_by: None,
    };
    if !db::passkeys::insert(db, &new).await? {
        return Err(already_added());
    }
    Ok(new.id)
}
