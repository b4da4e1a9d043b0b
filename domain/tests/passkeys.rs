//! Passkeys in the database, with a software authenticator: registration, sign-in, replay and
//! expiry of ceremonies, credential ids unique across accounts, ownership of ids from the
//! browser, origin checks, user verification, and the last way to sign in.
use common::sign_up;
use domain::auth::passkeys;
use domain::auth::sessions::authenticate;
use domain::request::{AuthSession, ClientInfo};
use domain::ids::PasskeyId;
use domain::secret::{Password, SessionToken};
use domain::error::{Invalid, PasskeyCeremony, PasskeyFailure};
use domain::{DomainError, Services};
use serde_json::Value;
use sqlx::PgPool;
use time::Duration;

use crate::common;
use testkit::authenticator::{SoftAuthenticator, UP};
use common::{services, ORIGIN, PW, TEST_AAGUID};

async fn me(svc: &Services, t: &SessionToken) -> AuthSession {
    authenticate(svc, t).await.unwrap().unwrap()
}

async fn account(svc: &Services, email: &str) -> (SessionToken, AuthSession) {
    let (_, token) = sign_up(svc, email, None, &Password::new(PW), &ClientInfo::default()).await.unwrap();
    let token = token.token;
    let session = me(svc, &token).await;
    (token, session)
}

fn key(seed: u8) -> SoftAuthenticator {
    SoftAuthenticator::new(seed, uuid::Uuid::parse_str(TEST_AAGUID).unwrap(), ORIGIN)
}

async fn register(svc: &Services, session: &AuthSession, key: &mut SoftAuthenticator, name: &str) -> Result<passkeys::PasskeySummary, DomainError> {
    let options = passkeys::begin_registration(svc, session).await?;
    passkeys::finish_registration(svc, session, &key.create(&options), name, &ClientInfo::default()).await
}

/// Begins a sign-in; answers the options and the browser's ceremony cookie.
fn begin_sign_in(svc: &Services) -> (Value, domain::secret::CeremonyToken) {
    passkeys::begin_sign_in(svc, false).unwrap()
}

/// The rule a refused request broke.
fn rule(e: DomainError) -> Invalid {
    match e {
        DomainError::Invalid(rule) => rule,
        e => panic!("expected a broken rule, got {e:?}"),
    }
}

async fn count(db: &PgPool, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT count(*) FROM {table}")).fetch_one(db).await.unwrap()
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_registered_passkey_signs_in_as_both_factors_and_records_its_use(db: PgPool) {
    let svc = services(db.clone());
    let (_, session) = account(&svc, "ada@example.test").await;
    let mut k = key(1);
    let added = register(&svc, &session, &mut k, "").await.unwrap();
    // named after the provider its AAGUID names, and synced (backup eligible)
    assert_eq!(added.name, "Google Password Manager");
    assert_eq!(added.provider.as_deref(), Some("Google Password Manager"));
    assert!(added.synced);
    assert_eq!(added.last_used_at, None);
    assert_eq!(count(&db, "webauthn_ceremonies").await, 0, "a finished ceremony is deleted");
    let (_, unfinished) = begin_sign_in(&svc);
    assert!(unfinished.expose().len() < 512, "a ceremony cookie of {} characters", unfinished.expose().len());
    assert_eq!(count(&db, "webauthn_ceremonies").await, 0, "beginning a sign-in stores nothing");

    svc.clock.advance(Duration::minutes(3));
    let (options, cookie) = begin_sign_in(&svc);
    assert!(options["publicKey"]["allowCredentials"].as_array().unwrap().is_empty(), "no email needed");
    assert_eq!(options["publicKey"]["userVerification"], "required");
    let token = passkeys::finish_sign_in(&svc, &cookie, &k.get(&options), &ClientInfo::default()).await.unwrap().token;
    let signed_in = me(&svc, &token).await;
    assert_eq!(signed_in.user_id, session.user_id);
    assert!(signed_in.signed_in_with_passkey());
    let list = passkeys::list(&svc, &signed_in).await.unwrap();
    assert_eq!(list.passkeys[0].last_used_at, Some(svc.clock.now()));
    // the stored counter moved with the authenticator's
    let counter: i64 = sqlx::query_scalar("SELECT (credential->'cred'->>'counter')::bigint FROM passkeys").fetch_one(&db).await.unwrap();
    assert_eq!(counter, 1);
    // the session records the passkey it signed in with
    let sessions = domain::auth::sessions::list(&svc, &signed_in).await.unwrap();
    assert_eq!(sessions[0].passkey_name.as_deref(), Some("Google Password Manager"));
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_passkey_sign_in_starts_the_browsers_count_of_wrong_passwords_again_and_records_its_event(db: PgPool) {
    let svc = services(db.clone());
    let (_, session) = account(&svc, "ada@example.test").await;
    let mut k = key(1);
    let added = register(&svc, &session, &mut k, "Work laptop").await.unwrap();
    let browser = ClientInfo::default();
    let path = domain::auth::throttle::path(&svc, &browser, session.user_id, None);
    let failures = || domain::db::throttles::failures(&db, session.user_id, path.key());
    for _ in 0..2 {
        let wrong = domain::auth::accounts::sign_in(&svc, "ada@example.test", &Password::new("not the password at all"), &browser).await;
        assert!(matches!(wrong, Err(DomainError::InvalidCredentials)));
    }
    assert_eq!(failures().await.unwrap(), 2);

    svc.clock.advance(Duration::minutes(1));
    let (options, cookie) = begin_sign_in(&svc);
    let token = passkeys::finish_sign_in(&svc, &cookie, &k.get(&options), &browser).await.unwrap().token;
    assert_eq!(failures().await.unwrap(), 0, "a full sign-in starts the browser's count again");
    // the new session, with its passkey, and its sign-in event, naming it
    let signed_in = me(&svc, &token).await;
    let (passkey_id, new_device): (Option<uuid::Uuid>, bool) =
        sqlx::query_as("SELECT passkey_id, new_device FROM sessions WHERE id = $1").bind(signed_in.session_id.0).fetch_one(&db).await.unwrap();
    assert_eq!(passkey_id, Some(added.id.0));
    assert!(!new_device, "the browser the account signed up with");
    let events: Vec<(Option<String>, Option<String>, time::OffsetDateTime)> = sqlx::query_as(
        "SELECT method, detail, created_at FROM security_events WHERE kind = 'signed_in' AND session_id = $1",
    )
    .bind(signed_in.session_id.0)
    .fetch_all(&db)
    .await
    .unwrap();
    assert_eq!(events, [(Some("passkey".to_string()), Some("Work laptop".to_string()), svc.clock.now())]);
    // the account's first sign-in stays the sign-up's
    let first: Option<time::OffsetDateTime> = sqlx::query_scalar("SELECT first_signed_in_at FROM users").fetch_one(&db).await.unwrap();
    assert_eq!(first, Some(svc.clock.now() - Duration::minutes(1)));
}

/// A removal holds the account's row (as `passkeys::remove` does, then deletes the passkey) while a
/// sign-in with that passkey arrives: the sign-in waits for the account, the removal goes through,
/// and the sign-in is refused as a passkey that is not registered. Had the sign-in taken the
/// passkey's row first, each would wait for the other until Postgres ended one as a deadlock.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_sign_in_with_a_passkey_being_removed_waits_for_the_removal_and_is_refused(db: PgPool) {
    let svc = services(db.clone());
    let (_, session) = account(&svc, "ada@example.test").await;
    let mut k = key(1);
    let added = register(&svc, &session, &mut k, "Work laptop").await.unwrap();
    let (options, cookie) = begin_sign_in(&svc);
    let answer = k.get(&options);

    let mut removal = db.begin().await.unwrap();
    domain::db::passkeys::lock_account(&mut *removal, session.user_id).await.unwrap();
    let sign_in = tokio::spawn({
        let svc = svc.clone();
        async move { passkeys::finish_sign_in(&svc, &cookie, &answer, &ClientInfo::default()).await }
    });
    // until the sign-in waits for the account, which the removal holds
    common::until_waiting_for_locks(&db, 1, || sign_in.is_finished()).await;
    let removed = domain::db::passkeys::delete(&mut *removal, session.user_id, added.id).await.unwrap();
    assert_eq!(removed.as_deref(), Some("Work laptop"));
    removal.commit().await.unwrap();

    let refused = sign_in.await.unwrap().map(|_| ()).unwrap_err();
    assert_eq!(rule(refused), Invalid::PasskeyNotRegistered);
    assert_eq!(count(&db, "passkeys").await, 0);
    assert_eq!(count(&db, "passkey_sign_ins_finished").await, 0, "the refused sign-in rolled back");
    assert_eq!(count(&db, "sessions").await, 1, "only the session that registered the passkey");
}

/// Signing out of a session that signed in with a passkey while that passkey is removed: both go
/// through. (A removal holds the account's row and then, deleting the passkey, clears it from the
/// sessions that used it; a sign-out holds its session and then records its event, which needs
/// the account's row not to be locked FOR UPDATE. With that lock, each waited for the other until
/// Postgres ended one as a deadlock.)
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn signing_out_of_a_passkeys_session_while_the_passkey_is_removed_ends_both(db: PgPool) {
    let svc = services(db.clone());
    let (_, session) = account(&svc, "ada@example.test").await;
    let mut k = key(1);
    let added = register(&svc, &session, &mut k, "Work laptop").await.unwrap();
    let (options, cookie) = begin_sign_in(&svc);
    let token = passkeys::finish_sign_in(&svc, &cookie, &k.get(&options), &ClientInfo::default()).await.unwrap().token;
    let laptop = me(&svc, &token).await;

    // the removal's first step (passkeys::remove), held open
    let mut removal = db.begin().await.unwrap();
    domain::db::passkeys::lock_account(&mut *removal, session.user_id).await.unwrap();
    let sign_out = tokio::spawn({
        let svc = svc.clone();
        async move { domain::auth::sessions::sign_out(&svc, &laptop, &ClientInfo::default()).await }
    });
    common::until_waiting_for_locks(&db, 1, || sign_out.is_finished()).await;
    let removed = domain::db::passkeys::delete(&mut *removal, session.user_id, added.id).await.unwrap();
    assert_eq!(removed.as_deref(), Some("Work laptop"));
    removal.commit().await.unwrap();

    sign_out.await.unwrap().unwrap();
    assert!(authenticate(&svc, &token).await.unwrap().is_none(), "the laptop's session ended");
    assert_eq!(count(&db, "passkeys").await, 0);
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn default_names_are_numbered_and_chosen_names_are_kept(db: PgPool) {
    let svc = services(db);
    let (_, session) = account(&svc, "ada@example.test").await;
    assert_eq!(register(&svc, &session, &mut key(1), "").await.unwrap().name, "Google Password Manager");
    assert_eq!(register(&svc, &session, &mut key(2), "").await.unwrap().name, "Google Password Manager 2");
    assert_eq!(register(&svc, &session, &mut key(3), "  Work laptop ").await.unwrap().name, "Work laptop");
    let too_long = "x".repeat(passkeys::NAME_MAX + 1);
    let e = register(&svc, &session, &mut key(4), &too_long).await.unwrap_err();
    assert_eq!(rule(e), Invalid::PasskeyNameTooLong);
}

/// Two passkeys never share a name (letter case aside), so their buttons ("Rename Work laptop",
/// "Remove Work laptop") and the removal's question tell them apart for everyone, a screen
/// reader's user included. A name chosen when adding one that another has is numbered (the
/// authenticator already keeps the passkey: refusing it then would leave one that signs in
/// nowhere); a rename to it is refused with the reason, and changes nothing. Both used to be
/// accepted as they were.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn two_passkeys_never_share_a_name(db: PgPool) {
    let svc = services(db.clone());
    let (_, session) = account(&svc, "ada@example.test").await;
    let laptop = register(&svc, &session, &mut key(1), "Work laptop").await.unwrap();
    assert_eq!(register(&svc, &session, &mut key(2), "work LAPTOP").await.unwrap().name, "work LAPTOP 2");
    let phone = register(&svc, &session, &mut key(3), "Phone").await.unwrap();
    let e = passkeys::rename(&svc, &session, phone.id, " Work Laptop ", &ClientInfo::default()).await.unwrap_err();
    assert_eq!(rule(e), Invalid::PasskeyNameTaken);
    let mut names: Vec<String> = sqlx::query_scalar("SELECT name FROM passkeys").fetch_all(&db).await.unwrap();
    names.sort();
    assert_eq!(names, ["Phone", "Work laptop", "work LAPTOP 2"], "nothing renamed");
    // its own name, in another case, is not another's
    assert_eq!(passkeys::rename(&svc, &session, laptop.id, "WORK laptop", &ClientInfo::default()).await.unwrap(), "WORK laptop");
    // another account's names are its own business
    let (_, bob) = account(&svc, "bob@example.test").await;
    assert_eq!(register(&svc, &bob, &mut key(4), "Phone").await.unwrap().name, "Phone");
}

/// Two renames at once of two passkeys to one name: one is taken, the other refused (each checks
/// under the account's row).
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn two_renames_at_once_to_one_name_take_it_once(db: PgPool) {
    let svc = services(db.clone());
    let (_, session) = account(&svc, "ada@example.test").await;
    let (a, b) = (register(&svc, &session, &mut key(1), "A").await.unwrap(), register(&svc, &session, &mut key(2), "B").await.unwrap());
    let here = ClientInfo::default();
    for _ in 0..10 {
        let (x, y) = tokio::join!(passkeys::rename(&svc, &session, a.id, "Shared", &here), passkeys::rename(&svc, &session, b.id, "shared", &here));
        assert!(x.is_ok() != y.is_ok(), "one of the two: {x:?} / {y:?}");
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM passkeys WHERE lower(name) = 'shared'").fetch_one(&db).await.unwrap();
        assert_eq!(n, 1);
        passkeys::rename(&svc, &session, a.id, "A", &ClientInfo::default()).await.unwrap();
        passkeys::rename(&svc, &session, b.id, "B", &ClientInfo::default()).await.unwrap();
    }
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_provider_whose_name_is_longer_than_a_passkey_name_still_adds_its_passkeys(db: PgPool) {
    // (the installed list has such names: this one is 68 characters, a passkey's name at most 64)
    let long = "Security Key NFC by Yubico - Enterprise Edition (Enterprise Profile)";
    let providers = passkeys::ProviderNames::from_json(&format!(r#"{{"{TEST_AAGUID}": "{long}"}}"#)).unwrap();
    let svc = Services {
        passkeys: std::sync::Arc::new(passkeys::PasskeyService::new(common::RP_ID, ORIGIN, "Gatehouse", providers).unwrap()),
        ..services(db)
    };
    let (_, session) = account(&svc, "ada@example.test").await;
    assert_eq!(register(&svc, &session, &mut key(1), "").await.unwrap().name, "Security Key NFC by Yubico - Enterprise Edition (Enterprise Pro…");
    assert_eq!(register(&svc, &session, &mut key(2), "").await.unwrap().name, "Security Key NFC by Yubico - Enterprise Edition (Enterprise P… 2");
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn adding_a_passkey_needs_a_recent_verification(db: PgPool) {
    let svc = services(db);
    let (_, session) = account(&svc, "ada@example.test").await;
    svc.clock.advance(Duration::minutes(11));
    assert!(matches!(passkeys::begin_registration(&svc, &session).await, Err(DomainError::ReverifyRequired)));
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn replaying_a_finished_ceremony_fails(db: PgPool) {
    let svc = services(db.clone());
    let (_, session) = account(&svc, "ada@example.test").await;
    let mut k = key(1);
    // registration: the same answer a second time
    let options = passkeys::begin_registration(&svc, &session).await.unwrap();
    let answer = k.create(&options);
    passkeys::finish_registration(&svc, &session, &answer, "", &ClientInfo::default()).await.unwrap();
    let again = passkeys::finish_registration(&svc, &session, &answer, "", &ClientInfo::default()).await.unwrap_err();
    assert_eq!(rule(again), Invalid::PasskeyExpired);
    // sign-in: the same answer and cookie a second time
    let (options, cookie) = begin_sign_in(&svc);
    let answer = k.get(&options);
    passkeys::finish_sign_in(&svc, &cookie, &answer, &ClientInfo::default()).await.unwrap();
    let replay = passkeys::finish_sign_in(&svc, &cookie, &answer, &ClientInfo::default()).await.unwrap_err();
    assert_eq!(rule(replay), Invalid::PasskeyExpired);
    // an answer to one ceremony does not finish another
    let (_, other_cookie) = begin_sign_in(&svc);
    let wrong = passkeys::finish_sign_in(&svc, &other_cookie, &answer, &ClientInfo::default()).await.unwrap_err();
    assert!(matches!(wrong, DomainError::Invalid { .. }));
    assert_eq!(count(&db, "sessions").await, 2, "the sign-up's session and one passkey session");
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn an_expired_ceremony_fails(db: PgPool) {
    let svc = services(db.clone());
    let (_, session) = account(&svc, "ada@example.test").await;
    let mut k = key(1);
    register(&svc, &session, &mut k, "").await.unwrap();
    let (options, cookie) = begin_sign_in(&svc);
    svc.clock.advance(Duration::minutes(passkeys::CEREMONY_MINUTES) + Duration::seconds(1));
    let e = passkeys::finish_sign_in(&svc, &cookie, &k.get(&options), &ClientInfo::default()).await.unwrap_err();
    assert_eq!(rule(e), Invalid::PasskeyExpired);
    // a sign-in stores nothing until it finishes; the clean-up forgets the ids of finished ones
    // once their cookies would have expired, and registrations nobody finished
    let (options, cookie) = begin_sign_in(&svc);
    passkeys::finish_sign_in(&svc, &cookie, &k.get(&options), &ClientInfo::default()).await.unwrap();
    let _ = begin_sign_in(&svc);
    let _ = passkeys::begin_registration(&svc, &session).await;
    assert_eq!((count(&db, "passkey_sign_ins_finished").await, count(&db, "webauthn_ceremonies").await), (1, 1));
    svc.clock.advance(Duration::minutes(6));
    domain::auth::sessions::clean_up(&svc).await.unwrap();
    // a finished id is kept 5 minutes past its cookie's expiry (instances' clocks may differ)
    assert_eq!((count(&db, "passkey_sign_ins_finished").await, count(&db, "webauthn_ceremonies").await), (1, 0));
    svc.clock.advance(Duration::minutes(5));
    domain::auth::sessions::clean_up(&svc).await.unwrap();
    assert_eq!(count(&db, "passkey_sign_ins_finished").await, 0);
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn an_answer_that_fails_verification_records_nothing_and_the_real_one_still_signs_in(db: PgPool) {
    let svc = services(db.clone());
    let (_, session) = account(&svc, "ada@example.test").await;
    let mut k = key(1);
    register(&svc, &session, &mut k, "").await.unwrap();
    let (options, cookie) = begin_sign_in(&svc);
    let genuine_origin = k.origin.clone();
    k.origin = "http://gatehouse.example.evil".into();
    let e = passkeys::finish_sign_in(&svc, &cookie, &k.get(&options), &ClientInfo::default()).await.unwrap_err();
    assert_eq!(rule(e), Invalid::PasskeyFailed { ceremony: PasskeyCeremony::SigningIn, reason: PasskeyFailure::WrongSite });
    assert_eq!(count(&db, "passkey_sign_ins_finished").await, 0, "a failed answer adds no row");
    k.origin = genuine_origin;
    passkeys::finish_sign_in(&svc, &cookie, &k.get(&options), &ClientInfo::default()).await.unwrap();
    assert_eq!(count(&db, "sessions").await, 2);
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_ceremony_cookie_under_another_key_or_a_device_cookie_in_its_place_finishes_nothing(db: PgPool) {
    let svc = services(db.clone());
    let (_, session) = account(&svc, "ada@example.test").await;
    let mut k = key(1);
    register(&svc, &session, &mut k, "").await.unwrap();
    // another server's key
    let mut other = services(db.clone());
    other.device_cookies = std::sync::Arc::new(
        domain::auth::device_cookies::DeviceCookieKey::from_config("AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=").unwrap(),
    );
    let (options, foreign) = passkeys::begin_sign_in(&other, false).unwrap();
    let e = passkeys::finish_sign_in(&svc, &foreign, &k.get(&options), &ClientInfo::default()).await.unwrap_err();
    assert_eq!(rule(e), Invalid::PasskeyExpired);
    // the same key's device cookie, offered as a ceremony cookie, and a ceremony cookie offered as
    // a device cookie: each is signed for its own use only
    let device = svc.device_cookies.issue(None, session.user_id, svc.clock.now());
    let (options, _) = begin_sign_in(&svc);
    let as_ceremony = domain::secret::CeremonyToken::from_cookie(device.expose());
    let e = passkeys::finish_sign_in(&svc, &as_ceremony, &k.get(&options), &ClientInfo::default()).await.unwrap_err();
    assert_eq!(rule(e), Invalid::PasskeyExpired);
    let (_, ceremony) = begin_sign_in(&svc);
    let as_device = domain::secret::DeviceCookie::from_cookie(ceremony.expose());
    assert!(!svc.device_cookies.path(Some(&as_device), session.user_id, svc.clock.now(), None).is_trusted());
    assert!(svc.device_cookies.path(Some(&device), session.user_id, svc.clock.now(), None).is_trusted(), "the real one is");
    assert_eq!(count(&db, "sessions").await, 1, "only the sign-up's");
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_ceremony_cookie_with_a_later_expiry_than_it_was_given_is_refused(db: PgPool) {
    use base64::Engine;
    let svc = services(db.clone());
    let (_, session) = account(&svc, "ada@example.test").await;
    let mut k = key(1);
    register(&svc, &session, &mut k, "").await.unwrap();
    let (options, cookie) = begin_sign_in(&svc);
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut raw = b64.decode(cookie.expose()).unwrap();
    let expiry = i64::from_be_bytes(raw[16..24].try_into().unwrap());
    assert_eq!(expiry, (svc.clock.now() + Duration::minutes(passkeys::CEREMONY_MINUTES)).unix_timestamp(), "5 minutes, whole seconds");
    raw[16..24].copy_from_slice(&(expiry + 3600).to_be_bytes());
    let stretched = domain::secret::CeremonyToken::from_cookie(b64.encode(&raw));
    svc.clock.advance(Duration::minutes(passkeys::CEREMONY_MINUTES) + Duration::seconds(1));
    // the authenticator's answer is genuine; the cookie is not as the server sealed it
    let e = passkeys::finish_sign_in(&svc, &stretched, &k.get(&options), &ClientInfo::default()).await.unwrap_err();
    assert_eq!(rule(e), Invalid::PasskeyExpired);
    // nor is it within the 5 minutes
    svc.clock.advance(Duration::minutes(-5));
    let e = passkeys::finish_sign_in(&svc, &stretched, &k.get(&options), &ClientInfo::default()).await.unwrap_err();
    assert_eq!(rule(e), Invalid::PasskeyExpired);
    assert_eq!(count(&db, "sessions").await, 1, "only the sign-up's");
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn eight_finishes_of_one_ceremony_at_once_sign_in_once(db: PgPool) {
    let svc = services(db.clone());
    let (_, session) = account(&svc, "ada@example.test").await;
    // a synced passkey: no use counter that would tell a second use of one answer apart
    let mut k = key(1);
    k.counts_uses = false;
    register(&svc, &session, &mut k, "").await.unwrap();
    let (options, cookie) = begin_sign_in(&svc);
    let answer = k.get(&options);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (svc, cookie, answer) = (svc.clone(), cookie.clone(), answer.clone());
        tasks.push(tokio::spawn(async move { passkeys::finish_sign_in(&svc, &cookie, &answer, &ClientInfo::default()).await }));
    }
    let (mut signed_in, mut refused) = (0, 0);
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => signed_in += 1,
            Err(e) => {
                assert_eq!(rule(e), Invalid::PasskeyExpired);
                refused += 1;
            }
        }
    }
    assert_eq!((signed_in, refused), (1, 7));
    assert_eq!(count(&db, "sessions").await, 2, "the sign-up's session and one passkey session");
    assert_eq!(count(&db, "passkey_sign_ins_finished").await, 1);
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_credential_of_another_account_cannot_be_registered(db: PgPool) {
    let svc = services(db.clone());
    let (_, ada) = account(&svc, "ada@example.test").await;
    let (_, bob) = account(&svc, "bob@example.test").await;
    let mut k = key(1);
    register(&svc, &ada, &mut k, "Ada's key").await.unwrap();
    // the same authenticator credential (same id) offered to Bob's account
    let mut same = key(1);
    let e = register(&svc, &bob, &mut same, "").await.unwrap_err();
    assert_eq!(rule(e), Invalid::PasskeyAlreadyOnDevice);
    assert!(passkeys::list(&svc, &bob).await.unwrap().passkeys.is_empty());
    let ada_keys = passkeys::list(&svc, &ada).await.unwrap().passkeys;
    assert_eq!(ada_keys.len(), 1);
    assert_eq!(ada_keys[0].name, "Ada's key");
    // and it still signs in as Ada, not Bob
    let (options, cookie) = begin_sign_in(&svc);
    let t = passkeys::finish_sign_in(&svc, &cookie, &k.get(&options), &ClientInfo::default()).await.unwrap().token;
    assert_eq!(me(&svc, &t).await.user_id, ada.user_id);
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn another_accounts_passkey_answers_like_a_missing_one_and_changes_nothing(db: PgPool) {
    let svc = services(db.clone());
    let (_, ada) = account(&svc, "ada@example.test").await;
    let (_, bob) = account(&svc, "bob@example.test").await;
    let adas = register(&svc, &ada, &mut key(1), "Ada's key").await.unwrap();
    assert!(matches!(passkeys::remove(&svc, &bob, adas.id, false, &ClientInfo::default()).await, Err(DomainError::NotFound)));
    assert!(matches!(passkeys::remove(&svc, &bob, PasskeyId::new(), false, &ClientInfo::default()).await, Err(DomainError::NotFound)));
    assert!(matches!(passkeys::rename(&svc, &bob, adas.id, "mine now", &ClientInfo::default()).await, Err(DomainError::NotFound)));
    let still = passkeys::list(&svc, &ada).await.unwrap().passkeys;
    assert_eq!(still.len(), 1);
    assert_eq!(still[0].name, "Ada's key");
    // Ada herself can rename and remove it (she has a password left)
    assert_eq!(passkeys::rename(&svc, &ada, adas.id, " Desk key ", &ClientInfo::default()).await.unwrap(), "Desk key");
    passkeys::remove(&svc, &ada, adas.id, false, &ClientInfo::default()).await.unwrap();
    assert!(passkeys::list(&svc, &ada).await.unwrap().passkeys.is_empty());
    // the activity says it was one passkey, renamed: added, renamed, removed (Bob's try left nothing)
    // (one instant on the test clock: in order of kind)
    let said: Vec<String> = sqlx::query_scalar(
        "SELECT kind || ': ' || coalesce(detail, '') FROM security_events WHERE kind LIKE 'passkey_%' ORDER BY kind",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    assert_eq!(said, ["passkey_added: Ada's key", "passkey_removed: Desk key", "passkey_renamed: “Ada's key” to “Desk key”"]);
    assert_eq!(
        domain::auth::activity::sentence(domain::kinds::EventKind::PasskeyRenamed, None, Some("“Ada's key” to “Desk key”")),
        "Renamed a passkey: “Ada's key” to “Desk key”"
    );
}

/// Removing a passkey can sign out the account's other sessions that signed in with it (a lost
/// phone's), when asked: never the session doing it, nor one that signed in otherwise. The list
/// counts them beforehand, for the question; another account's request answers `NotFound`.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn removing_a_passkey_can_sign_out_the_other_sessions_that_signed_in_with_it(db: PgPool) {
    let svc = services(db.clone());
    let (password_session, ada) = account(&svc, "ada@example.test").await;
    let (_, bob) = account(&svc, "bob@example.test").await;
    let (mut phone, mut laptop) = (key(1), key(2));
    let phones = register(&svc, &ada, &mut phone, "Phone").await.unwrap();
    let laptops = register(&svc, &ada, &mut laptop, "Laptop").await.unwrap();
    let here_token = sign_in_with(&svc, &mut phone).await.unwrap();
    let lost = sign_in_with(&svc, &mut phone).await.unwrap();
    let on_laptop = sign_in_with(&svc, &mut laptop).await.unwrap();
    let here = me(&svc, &here_token).await;
    let listed = passkeys::list(&svc, &here).await.unwrap().passkeys;
    // (added at the same moment of the test's clock: in no particular order)
    let mut counts = listed.iter().map(|p| (p.name.as_str(), p.sessions)).collect::<Vec<_>>();
    counts.sort();
    assert_eq!(counts, [("Laptop", 1), ("Phone", 1)]);
    assert!(matches!(passkeys::remove(&svc, &bob, phones.id, true, &ClientInfo::default()).await, Err(DomainError::NotFound)));

    assert_eq!(passkeys::remove(&svc, &here, phones.id, true, &ClientInfo::default()).await.unwrap(), 1);
    let said: Vec<String> = sqlx::query_scalar("SELECT detail FROM security_events WHERE kind = 'session_revoked'").fetch_all(&db).await.unwrap();
    assert_eq!(said, ["the other session that signed in with the passkey “Phone”"], "in the activity");
    assert!(authenticate(&svc, &lost).await.unwrap().is_none(), "the phone's other session ended");
    let reason: Option<String> = sqlx::query_scalar("SELECT revoked_reason FROM sessions WHERE passkey_id IS NULL AND revoked_at IS NOT NULL")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(reason.as_deref(), Some("passkey_removed"));
    for (token, which) in [(&here_token, "this one"), (&on_laptop, "the laptop's"), (&password_session, "the password's")] {
        assert_eq!(authenticate(&svc, token).await.unwrap().map(|s| s.user_id), Some(ada.user_id), "{which} stays");
    }
    // not asked: the laptop's session stays
    assert_eq!(passkeys::remove(&svc, &here, laptops.id, false, &ClientInfo::default()).await.unwrap(), 0);
    assert!(authenticate(&svc, &on_laptop).await.unwrap().is_some());
    // the notice emails say what ended with each: whoever held the phone finds its session gone,
    // and the owner hears why
    let mut notices: Vec<String> = sqlx::query_scalar("SELECT text_body FROM email_outbox WHERE subject = 'A passkey was removed from your Gatehouse account'")
        .fetch_all(&db)
        .await
        .unwrap();
    notices.sort_by_key(|n| n.contains("Laptop"));
    let [phone_notice, laptop_notice] = &notices[..] else { panic!("two notices: {notices:?}") };
    assert!(
        phone_notice.contains("The passkey “Phone” can no longer sign in to your account. The other session that had signed in with it was signed out (not the one on the device below)."),
        "{phone_notice}"
    );
    assert!(laptop_notice.contains("The passkey “Laptop” can no longer sign in to your account.") && !laptop_notice.contains("signed out"), "{laptop_notice}");
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_ceremony_from_another_origin_fails(db: PgPool) {
    let svc = services(db.clone());
    let (_, session) = account(&svc, "ada@example.test").await;
    // registration from a look-alike site
    let mut phished = SoftAuthenticator::new(1, uuid::Uuid::parse_str(TEST_AAGUID).unwrap(), "http://gatehouse.example.evil");
    let e = register(&svc, &session, &mut phished, "").await.unwrap_err();
    assert_eq!(rule(e), Invalid::PasskeyFailed { ceremony: PasskeyCeremony::Adding, reason: PasskeyFailure::WrongSite });
    // sign-in from another port of the same host
    let mut k = key(2);
    register(&svc, &session, &mut k, "").await.unwrap();
    k.origin = "http://localhost:3001".into();
    let (options, cookie) = begin_sign_in(&svc);
    let e = passkeys::finish_sign_in(&svc, &cookie, &k.get(&options), &ClientInfo::default()).await.unwrap_err();
    assert_eq!(rule(e), Invalid::PasskeyFailed { ceremony: PasskeyCeremony::SigningIn, reason: PasskeyFailure::WrongSite });
    assert_eq!(count(&db, "sessions").await, 1);
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn without_user_verification_there_is_no_sign_in(db: PgPool) {
    let svc = services(db.clone());
    let (_, session) = account(&svc, "ada@example.test").await;
    let mut k = key(1);
    register(&svc, &session, &mut k, "").await.unwrap();
    k.flags = UP; // present, but not verified (no PIN or biometrics); not backup eligible either
    let (options, cookie) = begin_sign_in(&svc);
    let e = passkeys::finish_sign_in(&svc, &cookie, &k.get(&options), &ClientInfo::default()).await.unwrap_err();
    assert!(matches!(e, DomainError::Invalid { .. }));
    assert_eq!(count(&db, "sessions").await, 1);
    // registering without it fails too
    let mut unverified = key(2);
    unverified.flags = UP;
    assert!(register(&svc, &session, &mut unverified, "").await.is_err());
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn the_last_way_to_sign_in_cannot_be_removed(db: PgPool) {
    let svc = services(db.clone());
    let (_, session) = account(&svc, "ada@example.test").await;
    let first = register(&svc, &session, &mut key(1), "").await.unwrap();
    let second = register(&svc, &session, &mut key(2), "").await.unwrap();
    sqlx::query("UPDATE users SET password_hash = NULL").execute(&db).await.unwrap();
    let list = passkeys::list(&svc, &session).await.unwrap();
    assert!(list.can_remove(), "two passkeys: one can go");
    passkeys::remove(&svc, &session, first.id, false, &ClientInfo::default()).await.unwrap();
    let list = passkeys::list(&svc, &session).await.unwrap();
    assert!(!list.can_remove());
    let e = passkeys::remove(&svc, &session, second.id, false, &ClientInfo::default()).await.unwrap_err();
    assert!(matches!(e, DomainError::LastSignInMethod), "{e:?}");
    assert_eq!(passkeys::list(&svc, &session).await.unwrap().passkeys.len(), 1);
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn re_verifying_with_a_passkey_opens_the_window(db: PgPool) {
    let svc = services(db);
    let (token, session) = account(&svc, "ada@example.test").await;
    let mut k = key(1);
    register(&svc, &session, &mut k, "").await.unwrap();
    svc.clock.advance(Duration::minutes(11));
    let session = me(&svc, &token).await;
    assert!(domain::auth::recent::require_recent(&svc, &session).is_err());
    let options = passkeys::begin_reverify(&svc, &session).await.unwrap();
    assert_eq!(options["publicKey"]["allowCredentials"].as_array().unwrap().len(), 1, "only this account's passkeys");
    let done = passkeys::finish_reverify(&svc, &session, &k.get(&options), &ClientInfo::default()).await.unwrap();
    assert!(domain::auth::sessions::authenticate(&svc, &token).await.unwrap().is_none(), "the old token is refused at once");
    assert!(domain::auth::recent::require_recent(&svc, &me(&svc, &done.token).await).is_ok());
}

/// A security key answers a re-verification (counter 2), and a sign-in with counter 3 is recorded
/// while the re-verification is finishing (here: a transaction that writes the sign-in's counter,
/// holding the passkey's row). webauthn-rs checked the answer against the counter as the
/// re-verification began (1), which says nothing once the stored one is 3: the answer is what a
/// copy of the key made at counter 1 would send. So the re-verification waits for the sign-in,
/// sees that the passkey changed, and asks the person to try again (nothing written: the stored
/// counter stays 3); the next try, against the passkey as it is now, succeeds.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_re_verification_that_a_sign_in_with_its_passkey_overtook_is_asked_again(db: PgPool) {
    let svc = services(db.clone());
    let (token, session) = account(&svc, "ada@example.test").await;
    let mut k = key(1);
    register(&svc, &session, &mut k, "").await.unwrap();
    sign_in_with(&svc, &mut k).await.unwrap();
    let stored = || sqlx::query_scalar::<_, i64>("SELECT (credential->'cred'->>'counter')::bigint FROM passkeys").fetch_one(&db);
    assert_eq!(stored().await.unwrap(), 1);
    svc.clock.advance(Duration::minutes(11));
    let session = me(&svc, &token).await;
    let options = passkeys::begin_reverify(&svc, &session).await.unwrap();
    let answer = k.get(&options);
    let _elsewhere = k.get(&options); // the key's next use: counter 3

    // the sign-in at counter 3, recorded and not yet committed (holding the account's row, then
    // the passkey's, as a sign-in's statement does)
    let mut sign_in = db.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM users FOR NO KEY UPDATE").fetch_one(&mut *sign_in).await.unwrap();
    sqlx::query("UPDATE passkeys SET credential = jsonb_set(credential, '{cred,counter}', '3')")
        .execute(&mut *sign_in)
        .await
        .unwrap();
    let reverify = tokio::spawn({
        let (svc, session) = (svc.clone(), session.clone());
        async move { passkeys::finish_reverify(&svc, &session, &answer, &ClientInfo::default()).await }
    });
    common::until_waiting_for_locks(&db, 1, || reverify.is_finished()).await;
    sign_in.commit().await.unwrap();

    let r = reverify.await.unwrap();
    assert!(matches!(r, Err(DomainError::Invalid(Invalid::PasskeyExpired))), "{r:?}");
    assert!(domain::auth::recent::require_recent(&svc, &me(&svc, &token).await).is_err(), "not re-verified");
    assert_eq!(stored().await.unwrap(), 3, "the sign-in's counter, not the re-verification's 2");
    let used: Option<time::OffsetDateTime> = sqlx::query_scalar("SELECT last_used_at FROM passkeys").fetch_one(&db).await.unwrap();
    let signed_in_at: Option<time::OffsetDateTime> = sqlx::query_scalar("SELECT max(created_at) FROM security_events WHERE kind = 'signed_in'").fetch_one(&db).await.unwrap();
    assert!(used <= signed_in_at, "the refused answer recorded no use");

    // again: the key's next answer (counter 4) against the passkey as it is now
    let session = me(&svc, &token).await;
    let options = passkeys::begin_reverify(&svc, &session).await.unwrap();
    let done = passkeys::finish_reverify(&svc, &session, &k.get(&options), &ClientInfo::default()).await.unwrap();
    assert!(domain::auth::recent::require_recent(&svc, &me(&svc, &done.token).await).is_ok(), "re-verified");
    assert_eq!(stored().await.unwrap(), 4);
}

/// Someone with the password begins adding their own passkey and holds back the answer (a slow
/// request body: the request was authenticated when it arrived); the owner then signs out
/// everywhere. The answer that finally arrives adds nothing, so no passkey outlives the owner's
/// clean-up; the owner's own removal of a passkey after End now asks for re-verification again.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_passkey_answer_arriving_after_its_session_ended_adds_nothing(db: PgPool) {
    let svc = services(db.clone());
    let (owner_token, _) = account(&svc, "ada@example.test").await;
    let theirs = me(&svc, &domain::auth::accounts::sign_in(&svc, "ada@example.test", &Password::new(PW), &ClientInfo::default()).await.unwrap().token).await;
    let options = passkeys::begin_registration(&svc, &theirs).await.unwrap();
    let answer = key(1).create(&options);
    let owner = me(&svc, &owner_token).await;
    domain::auth::sessions::sign_out_everywhere(&svc, &owner, &ClientInfo::default()).await.unwrap();
    let r = passkeys::finish_registration(&svc, &theirs, &answer, "", &ClientInfo::default()).await;
    assert!(matches!(r, Err(DomainError::Unauthenticated)), "{r:?}");
    assert_eq!(count(&db, "passkeys").await, 0);

    // End now while a removal is on its way: it asks for re-verification, and the passkey stays
    let (token, session) = account(&svc, "grace@example.test").await;
    let mut k = key(2);
    let added = register(&svc, &session, &mut k, "Work laptop").await.unwrap();
    register(&svc, &session, &mut key(3), "Phone").await.unwrap();
    domain::auth::reverify::end(&svc, &me(&svc, &token).await).await.unwrap();
    let r = passkeys::remove(&svc, &session, added.id, false, &ClientInfo::default()).await;
    assert!(matches!(r, Err(DomainError::ReverifyRequired)), "{r:?}");
    assert_eq!(count(&db, "passkeys").await, 2);
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_passkey_session_meets_the_enterprise_requirement(db: PgPool) {
    let svc = services(db.clone());
    let (token, session) = account(&svc, "kim@acme.test").await;
    let mut k = key(1);
    register(&svc, &session, &mut k, "").await.unwrap();
    let org = domain::organizations::create(&svc, "Acme", domain::plan::Plan::Enterprise).await.unwrap();
    domain::organizations::add_member(&svc, org, session.user_id).await.unwrap();
    assert!(me(&svc, &token).await.must_set_up_second_factor(), "a password session must set one up");
    let (options, cookie) = begin_sign_in(&svc);
    let t = passkeys::finish_sign_in(&svc, &cookie, &k.get(&options), &ClientInfo::default()).await.unwrap().token;
    assert!(!me(&svc, &t).await.must_set_up_second_factor());
}

/// Begins and finishes a passkey sign-in through `svc` with `k`; the new session's token.
async fn sign_in_with(svc: &Services, k: &mut SoftAuthenticator) -> Result<SessionToken, DomainError> {
    sign_in_from(svc, k, &ClientInfo::default()).await
}

async fn sign_in_from(svc: &Services, k: &mut SoftAuthenticator, client: &ClientInfo) -> Result<SessionToken, DomainError> {
    let (options, cookie) = begin_sign_in(svc);
    passkeys::finish_sign_in(svc, &cookie, &k.get(&options), client).await.map(|s| s.token)
}

/// Two instances share one database, and each remembers the passkeys it signed in with. Instance
/// A remembers a security key from its first use (counter 1); B signs in with it next (counter
/// 2). A copy of the key made between the two (at counter 1) answers A with counter 2: more than
/// A remembers, no more than Postgres has. A finds its memory out of date when it comes to record
/// the sign-in, checks the answer again against the stored passkey and refuses it as possibly
/// copied, recording nothing; the genuine key still signs in.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_copied_security_key_is_refused_by_an_instance_that_remembers_the_key_from_before(db: PgPool) {
    copied_key_meets_an_instance_that_remembers_the_key_from_before(db, ClientInfo::default()).await;
}

/// The same from a network the account never signed in from: the sign-in goes the whole way (a
/// transaction that may raise an alert), which checks the revision too.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_copied_security_key_from_a_strange_network_is_refused_by_an_instance_that_remembers_the_key_from_before(db: PgPool) {
    let stranger = ClientInfo { ip: Some("203.0.113.9".into()), ..ClientInfo::default() };
    copied_key_meets_an_instance_that_remembers_the_key_from_before(db, stranger).await;
}

async fn copied_key_meets_an_instance_that_remembers_the_key_from_before(db: PgPool, copy_from: ClientInfo) {
    let (a, b) = (services(db.clone()), services(db.clone()));
    let (_, session) = account(&a, "ada@example.test").await;
    let mut genuine = key(1);
    register(&a, &session, &mut genuine, "Security key").await.unwrap();
    sign_in_with(&a, &mut genuine).await.unwrap();
    assert_eq!(a.passkeys.known.len(), 1, "A remembers the key");
    let mut copy = genuine.clone();
    let mut same_copy_again = genuine.clone();
    sign_in_with(&b, &mut genuine).await.unwrap();

    let events_before = count(&db, "security_events").await;
    let e = sign_in_from(&a, &mut copy, &copy_from).await.unwrap_err();
    assert_eq!(rule(e), Invalid::PasskeyFailed { ceremony: PasskeyCeremony::SigningIn, reason: PasskeyFailure::PossiblyCopied });
    // the owner's activity says so, with the passkey's name, once an hour however often it comes
    let e = sign_in_from(&a, &mut same_copy_again, &copy_from).await.unwrap_err();
    assert_eq!(rule(e), Invalid::PasskeyFailed { ceremony: PasskeyCeremony::SigningIn, reason: PasskeyFailure::PossiblyCopied });
    assert_eq!(count(&db, "security_events").await, events_before + 1, "one event, and nothing else");
    let events: Vec<(String, Option<String>)> = sqlx::query_as("SELECT kind, detail FROM security_events WHERE kind = 'passkey_copy_refused'").fetch_all(&db).await.unwrap();
    assert_eq!(events, [("passkey_copy_refused".to_string(), Some("Security key".to_string()))]);
    // and the owner is emailed, once too, with what to do (not a reset: nothing changed)
    let notices: Vec<(String, String)> =
        sqlx::query_as("SELECT subject, text_body FROM email_outbox WHERE kind = 'security_notice' AND subject LIKE '%copied passkey%'").fetch_all(&db).await.unwrap();
    assert_eq!(notices.len(), 1, "{notices:?}");
    let (subject, text) = &notices[0];
    assert_eq!(subject, "A sign-in to your Gatehouse account with a copied passkey was refused");
    assert!(text.contains("The passkey “Security key” was used to sign in and refused: its signature counter went back"), "{text}");
    assert!(text.contains("someone may hold a copy of it. Open your security settings and remove it"), "{text}");
    assert!(!text.contains("reset your password"), "{text}");
    assert_eq!(count(&db, "sessions").await, 3, "the sign-up's session and the genuine key's two");
    assert_eq!(count(&db, "passkey_sign_ins_finished").await, 2);
    let counter: i64 = sqlx::query_scalar("SELECT (credential->'cred'->>'counter')::bigint FROM passkeys").fetch_one(&db).await.unwrap();
    assert_eq!(counter, 2);
    assert!(a.passkeys.known.is_empty(), "a refused answer forgets the key");
    sign_in_with(&a, &mut genuine).await.unwrap();
    assert_eq!(count(&db, "sessions").await, 4);
}

/// A passkey renamed through one instance signs in under its new name through another that
/// remembered it by its old one (the session and the sign-in's event name it).
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_passkey_renamed_through_another_instance_signs_in_under_its_new_name(db: PgPool) {
    let (a, b) = (services(db.clone()), services(db.clone()));
    let (_, session) = account(&a, "ada@example.test").await;
    let mut k = key(1);
    let added = register(&a, &session, &mut k, "Old name").await.unwrap();
    sign_in_with(&a, &mut k).await.unwrap();
    passkeys::rename(&b, &session, added.id, "New name", &ClientInfo::default()).await.unwrap();

    let signed_in = me(&a, &sign_in_with(&a, &mut k).await.unwrap()).await;
    let sessions = domain::auth::sessions::list(&a, &signed_in).await.unwrap();
    let current = sessions.iter().find(|s| s.id == signed_in.session_id).unwrap();
    assert_eq!(current.passkey_name.as_deref(), Some("New name"));
    let detail: Option<String> = sqlx::query_scalar("SELECT detail FROM security_events WHERE kind = 'signed_in' AND session_id = $1")
        .bind(signed_in.session_id.0)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(detail.as_deref(), Some("New name"));
    assert_eq!(a.passkeys.known.get(session.user_id.0, &k.credential_id).map(|p| p.name), Some("New name".to_string()));
}

/// A passkey removed through one instance no longer signs in through another that remembers it.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_passkey_removed_through_another_instance_no_longer_signs_in_through_one_that_remembers_it(db: PgPool) {
    let (a, b) = (services(db.clone()), services(db.clone()));
    let (_, session) = account(&a, "ada@example.test").await;
    let mut k = key(1);
    let added = register(&a, &session, &mut k, "").await.unwrap();
    sign_in_with(&a, &mut k).await.unwrap();
    passkeys::remove(&b, &session, added.id, false, &ClientInfo::default()).await.unwrap();

    let e = sign_in_with(&a, &mut k).await.unwrap_err();
    assert_eq!(rule(e), Invalid::PasskeyNotRegistered);
    assert_eq!(count(&db, "sessions").await, 2, "the sign-up's session and the first passkey session");
    assert!(a.passkeys.known.is_empty());
}

/// An answer that signed in through one instance, replayed to another that remembers the passkey
/// from before that answer's use, is refused as expired (the re-read finds its ceremony finished),
/// not as a copied key.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_replay_to_an_instance_that_remembers_the_passkey_from_before_is_refused_as_expired(db: PgPool) {
    let (a, b) = (services(db.clone()), services(db.clone()));
    let (_, session) = account(&a, "ada@example.test").await;
    let mut k = key(1);
    register(&a, &session, &mut k, "").await.unwrap();
    sign_in_with(&a, &mut k).await.unwrap();
    let (options, cookie) = begin_sign_in(&b);
    let answer = k.get(&options);
    passkeys::finish_sign_in(&b, &cookie, &answer, &ClientInfo::default()).await.unwrap();

    let replay = passkeys::finish_sign_in(&a, &cookie, &answer, &ClientInfo::default()).await.unwrap_err();
    assert_eq!(rule(replay), Invalid::PasskeyExpired);
    assert_eq!(count(&db, "sessions").await, 3, "the sign-up's session and two passkey sessions");
}

/// A passkey's revision moves on with what an instance remembers of it (a security key's counter,
/// its name) and not with a use that changes only when it was used (a synced passkey's counter
/// stays 0): a synced passkey an instance remembers stays good however sign-ins are spread over
/// instances.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_passkeys_revision_moves_on_with_what_instances_remember_and_not_with_a_synced_passkeys_use(db: PgPool) {
    let svc = services(db.clone());
    let (_, session) = account(&svc, "ada@example.test").await;
    let (mut synced, mut security_key) = (key(1), key(2));
    synced.counts_uses = false;
    let synced_id = register(&svc, &session, &mut synced, "Phone").await.unwrap().id;
    let key_id = register(&svc, &session, &mut security_key, "Security key").await.unwrap().id;
    let revision = |id: PasskeyId| {
        let db = db.clone();
        async move { sqlx::query_scalar::<_, i64>("SELECT revision FROM passkeys WHERE id = $1").bind(id.0).fetch_one(&db).await.unwrap() }
    };
    for _ in 0..2 {
        sign_in_with(&svc, &mut synced).await.unwrap();
        sign_in_with(&svc, &mut security_key).await.unwrap();
    }
    assert_eq!((revision(synced_id).await, revision(key_id).await), (0, 2));
    passkeys::rename(&svc, &session, synced_id, "Old phone", &ClientInfo::default()).await.unwrap();
    assert_eq!(revision(synced_id).await, 1);
}
