//! Rotating the keys of TOTP secrets: a new key first, re-seal, then the old key can go.
use std::sync::Arc;

use common::sign_up;
use domain::auth::sessions::authenticate;
use domain::request::{AuthSession, ClientInfo};
use domain::auth::two_factor::{self, Keys, ResealReport};
use domain::auth::totp;
use domain::secret::{Password, SessionToken};
use domain::Services;
use sqlx::PgPool;
use time::Duration;

use crate::common;
use common::{services, PW};

/// The key `common::services` seals with.
const KEY_A: &str = testkit::TOTP_KEYS;
const KEY_B: &str = "k2:HxwdHBsaGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA=";
const BACKUP_KEY: &str = testkit::BACKUP_CODE_KEY;

/// The same services (database, clock) with another `[secrets] totp_keys`.
fn with_totp_keys(svc: &Services, totp_keys: &str) -> Services {
    Services { keys: Arc::new(Keys::from_config(totp_keys, BACKUP_KEY).unwrap()), ..svc.clone() }
}

async fn me(svc: &Services, t: &SessionToken) -> AuthSession {
    authenticate(svc, t).await.unwrap().unwrap()
}

/// The secret behind an enrolment, read the way an authenticator app does: from the manual key.
fn secret_of(e: &two_factor::Enrolment) -> Vec<u8> {
    testkit::base32_decode(&e.manual_key)
}

/// An account that has begun setting up an authenticator app: its session and the app's secret.
async fn enrolling(svc: &Services, email: &str) -> (AuthSession, Vec<u8>) {
    let (_, token) = sign_up(svc, email, None, &Password::new(PW), &ClientInfo::default()).await.unwrap();
    let token = token.token;
    let session = me(svc, &token).await;
    let e = two_factor::begin_enrolment(svc, &session).await.unwrap();
    (session, secret_of(&e))
}

/// An account with an authenticator app on: its session and the app's secret.
async fn enrolled(svc: &Services, email: &str) -> (AuthSession, Vec<u8>) {
    let (session, secret) = enrolling(svc, email).await;
    let code = totp::code_for_step(&secret, totp::step_at(svc.clock.now()));
    two_factor::finish_enrolment(svc, &session, &code, None, &ClientInfo::default()).await.unwrap();
    (session, secret)
}

async fn stored_key_ids(db: &PgPool) -> Vec<String> {
    sqlx::query_scalar("SELECT key_id FROM totp_credentials UNION ALL SELECT key_id FROM totp_enrolments")
        .fetch_all(db)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn after_a_reseal_the_new_key_alone_opens_every_totp_secret(db: PgPool) {
    let a = services(db.clone());
    let (ada, ada_secret) = enrolled(&a, "ada@example.test").await;
    let (bob, bob_secret) = enrolling(&a, "bob@example.test").await;
    assert_eq!(stored_key_ids(&db).await, ["test1", "test1"]);

    // rotate: the new key first, the old one still listed; new secrets use B, old ones still open
    let rotated = with_totp_keys(&a, &format!("{KEY_B},{KEY_A}"));
    let report = two_factor::reseal_all(&rotated).await.unwrap();
    assert_eq!(report, ResealReport { resealed: 2, already_current: 0, skipped: 0 });
    assert_eq!(stored_key_ids(&db).await, ["k2", "k2"], "every row now names the first key");
    let again = two_factor::reseal_all(&rotated).await.unwrap();
    assert_eq!(again, ResealReport { resealed: 0, already_current: 2, skipped: 0 }, "nothing left to do");

    // the old key is removed: the authenticator app still works, and so does the unfinished setup
    let b_only = with_totp_keys(&a, KEY_B);
    a.clock.advance(Duration::seconds(30));
    let step = totp::step_at(a.clock.now());
    assert_eq!(two_factor::verify_totp(&b_only, ada.user_id, &totp::code_for_step(&ada_secret, step)).await.unwrap(), two_factor::CodeCheck::Right);
    let bob_code = totp::code_for_step(&bob_secret, step);
    assert_eq!(two_factor::finish_enrolment(&b_only, &bob, &bob_code, None, &ClientInfo::default()).await.unwrap().codes.len(), 10);
    // re-encrypted, not merely relabelled: the old key alone opens nothing any more
    let a_only = with_totp_keys(&a, KEY_A);
    a.clock.advance(Duration::seconds(30));
    let next = totp::code_for_step(&ada_secret, totp::step_at(a.clock.now()));
    assert!(two_factor::verify_totp(&a_only, ada.user_id, &next).await.is_err());
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_secret_under_a_key_no_longer_listed_is_a_clear_error_and_stays_as_it_was(db: PgPool) {
    let a = services(db.clone());
    let (ada, secret) = enrolled(&a, "ada@example.test").await;
    // the old key removed too early
    let err = two_factor::reseal_all(&with_totp_keys(&a, KEY_B)).await.unwrap_err().to_string();
    assert!(err.contains("\"test1\"") && err.contains("[secrets] totp_keys"), "{err}");
    assert_eq!(stored_key_ids(&db).await, ["test1"]);
    a.clock.advance(Duration::seconds(30));
    let code = totp::code_for_step(&secret, totp::step_at(a.clock.now()));
    assert_eq!(two_factor::verify_totp(&a, ada.user_id, &code).await.unwrap(), two_factor::CodeCheck::Right, "nothing was lost");
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_secret_changed_while_it_is_resealed_is_not_overwritten(db: PgPool) {
    let a = services(db.clone());
    let (ada, _) = enrolled(&a, "ada@example.test").await;
    let rotated = with_totp_keys(&a, &format!("{KEY_B},{KEY_A}"));
    let read = domain::db::two_factor::credentials_sealed_under_other_keys(&db, "k2", domain::ids::UserId(uuid::Uuid::nil()), 10)
        .await
        .unwrap();
    assert_eq!(read.len(), 1);
    let old = read[0].sealed();
    let resealed = rotated.keys.totp.reseal(&old, format!("totp:{}", ada.user_id).as_bytes()).unwrap();
    // meanwhile a server still on the old configuration replaces the secret (same key, new nonce)
    let replaced = a.keys.totp.seal(b"another secret, twenty", format!("totp:{}", ada.user_id).as_bytes()).unwrap();
    sqlx::query("UPDATE totp_credentials SET nonce = $1, secret_encrypted = $2")
        .bind(&replaced.nonce)
        .bind(&replaced.ciphertext)
        .execute(&db)
        .await
        .unwrap();
    assert!(!domain::db::two_factor::reseal_credential(&db, ada.user_id, &old, &resealed).await.unwrap());
    let now = domain::db::two_factor::find_credential(&db, ada.user_id).await.unwrap().unwrap().sealed();
    assert_eq!(now, replaced, "the newer secret stays");
    // the next run re-seals the newer one
    let report = two_factor::reseal_all(&rotated).await.unwrap();
    assert_eq!(report, ResealReport { resealed: 1, already_current: 0, skipped: 0 });
}
