//! Passwords: throttling per account, hash upgrades, re-verification, set/change in one transaction.
use domain::auth::accounts::{change_password, set_password, sign_in};
use common::sign_up;
use domain::auth::reverify;
use domain::auth::sessions::{authenticate, revoke_others};
use domain::request::{AuthSession, ClientInfo};
use domain::config::Argon2Config;
use domain::secret::{Password, SessionToken};
use domain::error::{Invalid, PasswordRejection};
use domain::{DomainError, Services};
use sqlx::PgPool;
use time::Duration;

use crate::common;
use common::{services, PW};

const NEW: &str = "purple tractors sing at dawn";

fn from(ip: &str) -> ClientInfo {
    ClientInfo { ip: Some(ip.into()), user_agent: Some("test".into()), ..Default::default() }
}

async fn try_sign_in(svc: &Services, email: &str, pw: &str) -> Result<SessionToken, DomainError> {
    sign_in(svc, email, &Password::new(pw), &from("198.51.100.1")).await.map(|s| s.token)
}

async fn me(svc: &Services, t: &SessionToken) -> AuthSession {
    authenticate(svc, t).await.unwrap().unwrap()
}

/// Failures on record on the account's untrusted path (browsers without its device cookie).
async fn failures(db: &PgPool) -> i32 {
    sqlx::query_scalar("SELECT COALESCE((SELECT failed_attempts FROM sign_in_throttles WHERE device = ''), 0)").fetch_one(db).await.unwrap()
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn failures_are_counted_per_account_whatever_the_ip_or_letter_case(db: PgPool) {
    let svc = services(db.clone());
    sign_up(&svc, "ada@example.test", None, &Password::new(PW), &from("x")).await.unwrap();
    // five wrong guesses from five addresses, in varying case: no wait yet
    for (i, email) in ["ada@example.test", "ADA@example.test", "Ada@Example.Test", " ada@example.test ", "aDa@eXample.test"].iter().enumerate() {
        let r = sign_in(&svc, email, &Password::new("wrong password!!"), &from(&format!("203.0.113.{i}"))).await;
        assert!(matches!(r, Err(DomainError::InvalidCredentials)));
    }
    assert_eq!(failures(&db).await, 5);
    // the sixth attempt comes too soon: even the right password answers like a wrong one
    assert!(matches!(try_sign_in(&svc, "ada@example.test", PW).await, Err(DomainError::InvalidCredentials)));
    assert_eq!(failures(&db).await, 5, "a throttled attempt does not count");
    // after the 15-second wait it works, and success resets the count
    svc.clock.advance(Duration::seconds(15));
    assert!(try_sign_in(&svc, "ADA@example.test", PW).await.is_ok());
    assert_eq!(failures(&db).await, 0);
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn waits_grow_and_fifty_failures_lock_the_password_for_an_hour(db: PgPool) {
    let svc = services(db.clone());
    sign_up(&svc, "ada@example.test", None, &Password::new(PW), &from("x")).await.unwrap();
    for _ in 0..5 {
        try_sign_in(&svc, "ada@example.test", "wrong password!!").await.unwrap_err();
    }
    // 6th failure after 15 s; then the wait doubles: 30 s is not enough for the 7th…
    svc.clock.advance(Duration::seconds(15));
    try_sign_in(&svc, "ada@example.test", "wrong password!!").await.unwrap_err();
    assert_eq!(failures(&db).await, 6);
    svc.clock.advance(Duration::seconds(29));
    try_sign_in(&svc, "ada@example.test", "wrong password!!").await.unwrap_err();
    assert_eq!(failures(&db).await, 6, "29 s < 30 s: refused without counting");
    svc.clock.advance(Duration::seconds(1));
    try_sign_in(&svc, "ada@example.test", "wrong password!!").await.unwrap_err();
    assert_eq!(failures(&db).await, 7);
    // …and never more than 15 minutes: keep guessing every 15 minutes up to 50 failures
    while failures(&db).await < 50 {
        svc.clock.advance(Duration::minutes(15));
        try_sign_in(&svc, "ada@example.test", "wrong password!!").await.unwrap_err();
    }
    // locked: the right password answers exactly like a wrong one, for an hour, and guesses
    // during the lock-out neither count nor extend it
    svc.clock.advance(Duration::minutes(30));
    assert!(matches!(try_sign_in(&svc, "ada@example.test", PW).await, Err(DomainError::InvalidCredentials)));
    try_sign_in(&svc, "ada@example.test", "wrong password!!").await.unwrap_err();
    assert_eq!(failures(&db).await, 50);
    svc.clock.advance(Duration::minutes(30));
    assert!(try_sign_in(&svc, "ada@example.test", PW).await.is_ok());
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn simultaneous_guesses_meet_the_same_limit(db: PgPool) {
    let svc = services(db.clone());
    sign_up(&svc, "ada@example.test", None, &Password::new(PW), &from("x")).await.unwrap();
    let tries = (0..20).map(|_| {
        let svc = svc.clone();
        tokio::spawn(async move { try_sign_in(&svc, "ada@example.test", "wrong password!!").await })
    });
    for t in tries {
        assert!(t.await.unwrap().is_err());
    }
    assert_eq!(failures(&db).await, 5, "only the free attempts were checked");
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn wrong_current_passwords_count_like_failed_sign_ins(db: PgPool) {
    let svc = services(db.clone());
    let (_, token) = sign_up(&svc, "ada@example.test", None, &Password::new(PW), &from("x")).await.unwrap();
    let token = token.token;
    let session = me(&svc, &token).await;
    for _ in 0..5 {
        let r = change_password(&svc, &session, &Password::new("not my password"), &Password::new(NEW), &from("x")).await;
        assert!(matches!(r, Err(DomainError::Invalid(Invalid::CurrentPasswordWrong))));
    }
    assert!(matches!(try_sign_in(&svc, "ada@example.test", PW).await, Err(DomainError::InvalidCredentials)));
    // re-verification shares the counter too
    let r = reverify::with_password(&svc, &session, &Password::new(PW), &from("x")).await;
    assert!(matches!(r, Err(DomainError::Invalid(Invalid::PasswordWrong))), "throttled: {r:?}");
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn hashes_made_with_older_parameters_are_upgraded_at_sign_in(db: PgPool) {
    let old = services(db.clone());
    sign_up(&old, "ada@example.test", None, &Password::new(PW), &from("x")).await.unwrap();
    let stored = || async { sqlx::query_scalar::<_, String>("SELECT password_hash FROM users").fetch_one(&db).await.unwrap() };
    assert!(stored().await.contains("m=256,t=1,p=1"));
    let stronger = domain::auth::password::PasswordHasher::new(&Argon2Config { memory_kib: 512, iterations: 2, parallelism: 1, max_concurrent: 2, max_queue: 64 }).unwrap();
    let svc = Services { hasher: stronger, ..old.clone() };
    try_sign_in(&svc, "ada@example.test", PW).await.unwrap();
    let upgraded = stored().await;
    assert!(upgraded.starts_with("$argon2id$v=19$m=512,t=2,p=1$"), "{upgraded}");
    let changed: Option<time::OffsetDateTime> = sqlx::query_scalar("SELECT password_changed_at FROM users").fetch_one(&db).await.unwrap();
    assert_eq!(changed, Some(old.clock.now()), "an upgrade is not a password change");
    // a wrong password upgrades nothing; the right one still works
    try_sign_in(&svc, "ada@example.test", "wrong password!!").await.unwrap_err();
    assert_eq!(stored().await, upgraded);
    assert!(try_sign_in(&svc, "ada@example.test", PW).await.is_ok());
}

/// A password changed (or reset) while a sign-in checks the old one: the sign-in, waiting for the
/// account's row, is then refused as a wrong password, starts no session, and its attempt stays
/// counted (the statement that takes the lock starts the path's count again only with a session).
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_sign_in_whose_password_changes_meanwhile_starts_nothing_and_stays_counted(db: PgPool) {
    let svc = services(db.clone());
    sign_up(&svc, "ada@example.test", None, &Password::new(PW), &from("198.51.100.1")).await.unwrap();
    assert!(matches!(try_sign_in(&svc, "ada@example.test", "not the password at all").await, Err(DomainError::InvalidCredentials)));
    assert_eq!(failures(&db).await, 1);

    // the change holds the account's row (as a change does while it stores the new hash)
    let mut change = db.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM users FOR NO KEY UPDATE").fetch_one(&mut *change).await.unwrap();
    let signing_in = {
        let svc = svc.clone();
        tokio::spawn(async move { try_sign_in(&svc, "ada@example.test", PW).await })
    };
    common::until_waiting_for_locks(&db, 1, || signing_in.is_finished()).await;
    sqlx::query("UPDATE users SET password_changed_at = password_changed_at + interval '1 second'").execute(&mut *change).await.unwrap();
    change.commit().await.unwrap();

    let r = signing_in.await.unwrap();
    assert!(matches!(r, Err(DomainError::InvalidCredentials)), "{r:?}");
    assert_eq!(failures(&db).await, 2, "the attempt stays counted");
    let sessions: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions").fetch_one(&db).await.unwrap();
    assert_eq!(sessions, 1, "only the sign-up's");
}

/// A wrong password's answer does not wait for its record (the failure's security event): it is
/// written after the answer, so the answer takes as long as for an unknown email, which writes
/// nothing. Shown with the events table locked against writes: the answer still comes, the record
/// follows once the lock goes.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_wrong_passwords_answer_does_not_wait_for_its_record(db: PgPool) {
    let svc = services(db.clone());
    sign_up(&svc, "ada@example.test", None, &Password::new(PW), &from("198.51.100.1")).await.unwrap();
    let failed = || async { sqlx::query_scalar::<_, i64>("SELECT count(*) FROM security_events WHERE kind = 'sign_in_failed'").fetch_one(&db).await.unwrap() };
    let mut writes_wait = db.begin().await.unwrap();
    sqlx::query("LOCK TABLE security_events IN SHARE MODE").execute(&mut *writes_wait).await.unwrap();
    let answer = tokio::time::timeout(std::time::Duration::from_secs(10), try_sign_in(&svc, "ada@example.test", "not the password at all"))
        .await
        .expect("the answer waited for the record");
    assert!(matches!(answer, Err(DomainError::InvalidCredentials)), "{answer:?}");
    assert_eq!((failures(&db).await, failed().await), (1, 0), "counted before the answer, recorded after it");
    writes_wait.commit().await.unwrap();
    svc.settle().await;
    assert_eq!(failed().await, 1);
}

/// The attempt is counted while the password's hash is checked, not before it starts: a wrong
/// password's answer waits for the hash alone, as an unknown email's does. Shown with the count
/// held back: the hash runs meanwhile.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_sign_in_checks_the_hash_while_its_attempt_is_counted(db: PgPool) {
    let svc = services(db.clone());
    let (ada, _) = sign_up(&svc, "ada@example.test", None, &Password::new(PW), &from("198.51.100.1")).await.unwrap();
    assert!(matches!(try_sign_in(&svc, "ada@example.test", "not the password at all").await, Err(DomainError::InvalidCredentials)));
    let counting_waits = common::hold_failed_attempts(&db, ada).await;
    let hashed_before = svc.hasher.calls();
    let signing_in = {
        let svc = svc.clone();
        tokio::spawn(async move { try_sign_in(&svc, "ada@example.test", "not the password either").await })
    };
    common::until_waiting_for_locks(&db, 1, || signing_in.is_finished()).await;
    for _ in 0..500 {
        if svc.hasher.calls() > hashed_before {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(svc.hasher.calls(), hashed_before + 1, "the hash ran while the attempt waited to be counted");
    assert!(!signing_in.is_finished(), "no answer before the attempt is counted");
    counting_waits.commit().await.unwrap();
    assert!(matches!(signing_in.await.unwrap(), Err(DomainError::InvalidCredentials)));
    assert_eq!(failures(&db).await, 2);
}

/// A full hashing queue answers `Overloaded` at once, before the attempt is counted: shed
/// requests never count against the account (nor hash anything), and the next one goes through.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_full_hashing_queue_refuses_before_the_attempt_counts_against_the_account(db: PgPool) {
    let base = services(db.clone());
    sign_up(&base, "ada@example.test", None, &Password::new(PW), &from("x")).await.unwrap();
    let one_at_a_time = Argon2Config { memory_kib: 256, iterations: 1, parallelism: 1, max_concurrent: 1, max_queue: 0 };
    let svc = Services { hasher: domain::auth::password::PasswordHasher::new(&one_at_a_time).unwrap(), ..base };
    let busy = svc.hasher.admit().unwrap();
    for pw in [PW, "wrong password!!", PW, PW, PW, PW, PW] {
        let r = try_sign_in(&svc, "ada@example.test", pw).await;
        assert!(matches!(r, Err(DomainError::Overloaded { retry_after_seconds: 1.. })), "{r:?}");
    }
    let r = try_sign_in(&svc, "nobody@example.test", PW).await;
    assert!(matches!(r, Err(DomainError::Overloaded { .. })), "{r:?}");
    assert_eq!((failures(&db).await, svc.hasher.calls()), (0, 0));
    drop(busy);
    try_sign_in(&svc, "ada@example.test", PW).await.unwrap();
    assert_eq!(svc.hasher.calls(), 1);
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn sensitive_changes_need_a_recent_proof_of_identity(db: PgPool) {
    let svc = services(db);
    let (_, token) = sign_up(&svc, "ada@example.test", None, &Password::new(PW), &from("x")).await.unwrap();
    let token = token.token;
    try_sign_in(&svc, "ada@example.test", PW).await.unwrap();
    // 9 minutes after signing in: still verified
    svc.clock.advance(Duration::minutes(9));
    assert!(domain::auth::recent::verified_until(&svc, &me(&svc, &token).await).is_some());
    // 11 minutes: revoking every other session asks first
    svc.clock.advance(Duration::minutes(2));
    let session = me(&svc, &token).await;
    assert!(matches!(revoke_others(&svc, &session, &from("x")).await, Err(DomainError::ReverifyRequired)));
    let wrong = reverify::with_password(&svc, &session, &Password::new("not my password"), &from("x")).await;
    assert!(matches!(wrong, Err(DomainError::Invalid(Invalid::PasswordWrong))));
    let done = reverify::with_password(&svc, &session, &Password::new(PW), &from("x")).await.unwrap();
    assert_eq!(done.until, svc.clock.now() + Duration::minutes(10));
    // a new token: the old cookie is refused at once
    assert!(authenticate(&svc, &token).await.unwrap().is_none(), "the token before re-verification still works");
    let token = done.token;
    let session = me(&svc, &token).await;
    assert_eq!(revoke_others(&svc, &session, &from("x")).await.unwrap(), 1);
    // ending the window now makes the next sensitive change ask again
    reverify::end(&svc, &session).await.unwrap();
    let session = me(&svc, &token).await;
    assert!(domain::auth::recent::verified_until(&svc, &session).is_none());
    assert!(matches!(revoke_others(&svc, &session, &from("x")).await, Err(DomainError::ReverifyRequired)));
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn an_account_without_a_password_can_set_one_after_verifying(db: PgPool) {
    let svc = services(db.clone());
    let (_, token) = sign_up(&svc, "ada@example.test", None, &Password::new(PW), &from("x")).await.unwrap();
    let token = token.token;
    let other = try_sign_in(&svc, "ada@example.test", PW).await.unwrap();
    // as if the account had signed up with Google: no password
    sqlx::query("UPDATE users SET password_hash = NULL, password_changed_at = NULL").execute(&db).await.unwrap();
    let session = me(&svc, &token).await;
    let refused = set_password(&svc, &session, &Password::new("manchesterunited"), &from("x")).await.unwrap_err();
    assert!(matches!(refused, DomainError::PasswordRejected(PasswordRejection::Leaked)), "{refused}");
    let new_token = set_password(&svc, &session, &Password::new(NEW), &from("x")).await.unwrap().token;
    assert!(authenticate(&svc, &token).await.unwrap().is_none(), "the old cookie of this session is replaced");
    assert!(authenticate(&svc, &new_token).await.unwrap().is_some(), "this device stays signed in");
    assert!(authenticate(&svc, &other).await.unwrap().is_none(), "every other session is signed out");
    assert!(try_sign_in(&svc, "ada@example.test", NEW).await.is_ok());
    // now it has one: Set password is refused (Change password is the way)
    let again = set_password(&svc, &me(&svc, &new_token).await, &Password::new("another long passphrase"), &from("x")).await;
    assert!(matches!(again, Err(DomainError::Invalid(Invalid::AlreadyHasPassword))));
    // and after the window, setting needs re-verification first
    sqlx::query("UPDATE users SET password_hash = NULL").execute(&db).await.unwrap();
    svc.clock.advance(Duration::minutes(11));
    let late = set_password(&svc, &me(&svc, &new_token).await, &Password::new(NEW), &from("x")).await;
    assert!(matches!(late, Err(DomainError::ReverifyRequired)));
}

/// Set password needs a recent verification when it stores the password, not only when the request
/// arrived: "End now" committing while the request waited to hash (it was authenticated before)
/// leaves the account without a password and asks for re-verification, as every other change that
/// needs it does. It used to set the password after the window had ended.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_password_set_whose_verification_ended_meanwhile_is_not_stored(db: PgPool) {
    let svc = services(db.clone());
    let (_, signed_up) = sign_up(&svc, "ada@example.test", None, &Password::new(PW), &from("x")).await.unwrap();
    sqlx::query("UPDATE users SET password_hash = NULL, password_changed_at = NULL").execute(&db).await.unwrap();
    // the request, authenticated while the window was open…
    let as_it_arrived = me(&svc, &signed_up.token).await;
    // …and End now, before it stores anything
    reverify::end(&svc, &me(&svc, &signed_up.token).await).await.unwrap();
    let late = set_password(&svc, &as_it_arrived, &Password::new(NEW), &from("x")).await;
    assert!(matches!(late, Err(DomainError::ReverifyRequired)), "{late:?}");
    let hash: Option<String> = sqlx::query_scalar("SELECT password_hash FROM users").fetch_one(&db).await.unwrap();
    assert_eq!(hash, None, "no password stored");
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_change_that_fails_part_way_changes_nothing(db: PgPool) {
    let svc = services(db.clone());
    let (_, token) = sign_up(&svc, "ada@example.test", None, &Password::new(PW), &from("x")).await.unwrap();
    let token = token.token;
    let other = try_sign_in(&svc, "ada@example.test", PW).await.unwrap();
    // the last statement of the transaction (recording the change) fails
    sqlx::query(
        "CREATE FUNCTION fail_password_event() RETURNS trigger AS $$ BEGIN
           IF NEW.kind = 'password_changed' THEN RAISE EXCEPTION 'disk full'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql",
    )
    .execute(&db)
    .await
    .unwrap();
    sqlx::query("CREATE TRIGGER fail_password_event BEFORE INSERT ON security_events FOR EACH ROW EXECUTE FUNCTION fail_password_event()")
        .execute(&db)
        .await
        .unwrap();
    let session = me(&svc, &token).await;
    let r = change_password(&svc, &session, &Password::new(PW), &Password::new(NEW), &from("x")).await;
    assert!(matches!(r, Err(DomainError::Db(_))), "{r:?}");
    assert!(authenticate(&svc, &token).await.unwrap().is_some(), "this session keeps its token");
    assert!(authenticate(&svc, &other).await.unwrap().is_some(), "other sessions were not signed out");
    assert!(try_sign_in(&svc, "ada@example.test", PW).await.is_ok(), "the old password still works");
    assert!(try_sign_in(&svc, "ada@example.test", NEW).await.is_err());
}

/// An empty field cannot be right: sign-in and "Confirm it's you" say which one is missing, before
/// any hashing, and count nothing against the account (a stray Enter costs no attempt).
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn an_empty_email_or_password_is_said_as_missing_and_neither_hashed_nor_counted(db: PgPool) {
    let svc = services(db.clone());
    let (_, ada) = sign_up(&svc, "ada@example.test", None, &Password::new(PW), &from("x")).await.unwrap();
    let hashes = svc.hasher.calls();
    // (and one that is no address at all, without an "@": said so, not "incorrect email or password")
    for (email, pw, rule) in [
        ("", PW, Invalid::EmailMissing),
        ("   ", PW, Invalid::EmailMissing),
        ("ada@example.test", "", Invalid::PasswordMissing),
        ("ada.example.test", PW, Invalid::EmailMalformed),
    ] {
        let r = try_sign_in(&svc, email, pw).await;
        assert!(matches!(&r, Err(DomainError::Invalid(got)) if *got == rule), "{email:?}/{pw:?}: {r:?}");
    }
    let r = reverify::with_password(&svc, &me(&svc, &ada.token).await, &Password::new(""), &from("x")).await;
    assert!(matches!(r, Err(DomainError::Invalid(Invalid::PasswordMissing))), "{r:?}");
    // changing the password with the current one empty: said first, even with the new one empty too
    for new in [NEW, ""] {
        let r = change_password(&svc, &me(&svc, &ada.token).await, &Password::new(""), &Password::new(new), &from("x")).await;
        assert!(matches!(r, Err(DomainError::Invalid(Invalid::CurrentPasswordMissing))), "{new:?}: {r:?}");
    }
    assert_eq!(svc.hasher.calls(), hashes, "nothing hashed");
    assert_eq!(failures(&db).await, 0, "nothing counted");
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM security_events WHERE kind IN ('sign_in_failed', 'reverify_failed', 'current_password_failed')")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(events, 0);
    // an unknown address answers the same for a missing password: nothing about accounts shows
    let r = try_sign_in(&svc, "nobody@example.test", "").await;
    assert!(matches!(r, Err(DomainError::Invalid(Invalid::PasswordMissing))), "{r:?}");
}
