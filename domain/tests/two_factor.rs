//! Two-step verification in the database: enrolment, single-use codes (also under races), backup
//! codes regenerated and used once, secrets encrypted at rest.
use common::sign_up;
use domain::auth::sessions::authenticate;
use domain::request::{AuthSession, ClientInfo};
use domain::auth::{totp, two_factor};
use domain::secret::{Password, SessionToken};
use domain::error::Invalid;
use domain::{DomainError, Services};
use sqlx::PgPool;
use time::Duration;

use crate::common;
use common::{services, PW};

pub(crate) async fn me(svc: &Services, t: &SessionToken) -> AuthSession {
    authenticate(svc, t).await.unwrap().unwrap()
}

/// The secret behind an enrolment, read the way an authenticator app does: from the manual key.
pub(crate) fn secret_of(e: &two_factor::Enrolment) -> Vec<u8> {
    testkit::base32_decode(&e.manual_key)
}

pub(crate) async fn enrolled(svc: &Services) -> (SessionToken, AuthSession, Vec<u8>, Vec<String>) {
    let (token, session, secret, codes, _) = enrolled_with_device(svc).await;
    (token, session, secret, codes)
}

/// `enrolled`, and the device cookie of the browser that signed up (its own throttle path).
async fn enrolled_with_device(svc: &Services) -> (SessionToken, AuthSession, Vec<u8>, Vec<String>, domain::secret::DeviceCookie) {
    let (_, signed_up) = sign_up(svc, "ada@example.test", None, &Password::new(PW), &ClientInfo::default()).await.unwrap();
    let (token, device) = (signed_up.token, signed_up.device);
    let session = me(svc, &token).await;
    let e = two_factor::begin_enrolment(svc, &session).await.unwrap();
    let secret = secret_of(&e);
    let step = totp::step_at(svc.clock.now());
    let codes = two_factor::finish_enrolment(svc, &session, &totp::code_for_step(&secret, step), None, &ClientInfo::default()).await.unwrap().codes;
    // as the next request sees it: with a second factor
    let session = me(svc, &token).await;
    assert!(session.has_second_factor);
    (token, session, secret, codes, device)
}

/// Someone with the password begins setting up their own authenticator app, and its code arrives
/// only after the owner signed out everywhere (the request was authenticated when it arrived):
/// nothing is turned on, so the owner is not locked out behind someone else's app.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn an_authenticator_code_arriving_after_its_session_ended_turns_nothing_on(db: PgPool) {
    let svc = services(db.clone());
    let (_, owner) = sign_up(&svc, "ada@example.test", None, &Password::new(PW), &ClientInfo::default()).await.unwrap();
    let theirs = domain::auth::accounts::sign_in(&svc, "ada@example.test", &Password::new(PW), &ClientInfo::default()).await.unwrap().token;
    let theirs = me(&svc, &theirs).await;
    let e = two_factor::begin_enrolment(&svc, &theirs).await.unwrap();
    let code = totp::code_for_step(&secret_of(&e), totp::step_at(svc.clock.now()));
    domain::auth::sessions::sign_out_everywhere(&svc, &me(&svc, &owner.token).await, &ClientInfo::default()).await.unwrap();
    let r = two_factor::finish_enrolment(&svc, &theirs, &code, None, &ClientInfo::default()).await;
    assert!(matches!(r, Err(DomainError::Unauthenticated)), "{r:?}");
    let on: i64 = sqlx::query_scalar("SELECT count(*) FROM totp_credentials").fetch_one(&db).await.unwrap();
    assert_eq!(on, 0);
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn enrolment_needs_a_right_code_and_the_secret_is_encrypted(db: PgPool) {
    let svc = services(db.clone());
    let (_, token) = sign_up(&svc, "ada@example.test", None, &Password::new(PW), &ClientInfo::default()).await.unwrap();
    let token = token.token;
    let session = me(&svc, &token).await;
    let e = two_factor::begin_enrolment(&svc, &session).await.unwrap();
    assert!(e.uri.starts_with("otpauth://totp/Gatehouse:ada%40example.test?secret="));
    let secret = secret_of(&e);
    assert_eq!(secret.len(), 20);
    // a wrong code says so and changes nothing
    let wrong = two_factor::finish_enrolment(&svc, &session, "000000", None, &ClientInfo::default()).await;
    assert!(matches!(wrong, Err(DomainError::Invalid(Invalid::AuthenticatorSetupCodeWrong))), "{wrong:?}");
    assert!(two_factor::status(&svc, session.user_id).await.unwrap().enabled_at.is_none());
    // the pending secret is stored encrypted, never in the clear
    let stored: Vec<u8> = sqlx::query_scalar("SELECT secret_encrypted FROM totp_enrolments").fetch_one(&db).await.unwrap();
    assert!(!stored.windows(secret.len()).any(|w| w == secret.as_slice()));
    let code = totp::code_for_step(&secret, totp::step_at(svc.clock.now()));
    let codes = two_factor::finish_enrolment(&svc, &session, &code, None, &ClientInfo::default()).await.unwrap().codes;
    assert_eq!(codes.len(), 10);
    let status = two_factor::status(&svc, session.user_id).await.unwrap();
    assert_eq!((status.enabled_at, status.codes_left, status.codes_total), (Some(svc.clock.now()), 10, 10));
    let stored: Vec<u8> = sqlx::query_scalar("SELECT secret_encrypted FROM totp_credentials").fetch_one(&db).await.unwrap();
    assert!(!stored.windows(secret.len()).any(|w| w == secret.as_slice()));
    let hashes: Vec<Vec<u8>> = sqlx::query_scalar("SELECT code_hash FROM backup_codes").fetch_all(&db).await.unwrap();
    for c in &codes {
        assert!(!hashes.iter().any(|h| h.windows(5).any(|w| w == &c.as_bytes()[..5])), "codes are stored only as keyed hashes");
    }
    assert_eq!(sqlx::query_scalar::<_, i64>("SELECT count(*) FROM totp_enrolments").fetch_one(&db).await.unwrap(), 0);
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_code_for_a_setup_started_again_in_another_tab_says_so_and_a_right_code_is_taken_either_way(db: PgPool) {
    let svc = services(db);
    let (_, token) = sign_up(&svc, "ada@example.test", None, &Password::new(PW), &ClientInfo::default()).await.unwrap();
    let session = me(&svc, &token.token).await;
    // tab A shows its setup; tab B (the same session) starts again: A's key is replaced
    let a = two_factor::begin_enrolment(&svc, &session).await.unwrap();
    let b = two_factor::begin_enrolment(&svc, &session).await.unwrap();
    assert_ne!(a.setup, b.setup);
    assert_eq!(a.setup.len(), 16);
    let code_of = |e: &two_factor::Enrolment| totp::code_for_step(&secret_of(e), totp::step_at(svc.clock.now()));
    // A's app's code, sent from A: the setup was replaced (not "that code is not right")
    let from_a = two_factor::finish_enrolment(&svc, &session, &code_of(&a), Some(&a.setup), &ClientInfo::default()).await;
    assert!(matches!(from_a, Err(DomainError::Invalid(Invalid::AuthenticatorSetupReplaced))), "{from_a:?}");
    // a wrong code from B, whose setup is the one in progress: not right, as before
    let wrong = two_factor::finish_enrolment(&svc, &session, "000000", Some(&b.setup), &ClientInfo::default()).await;
    assert!(matches!(wrong, Err(DomainError::Invalid(Invalid::AuthenticatorSetupCodeWrong))), "{wrong:?}");
    // without a setup named (an older page): not right, as before
    let unnamed = two_factor::finish_enrolment(&svc, &session, &code_of(&a), None, &ClientInfo::default()).await;
    assert!(matches!(unnamed, Err(DomainError::Invalid(Invalid::AuthenticatorSetupCodeWrong))), "{unnamed:?}");
    assert!(two_factor::status(&svc, session.user_id).await.unwrap().enabled_at.is_none());
    // B's code is right for the setup in progress: taken, even sent from A's page
    let codes = two_factor::finish_enrolment(&svc, &session, &code_of(&b), Some(&a.setup), &ClientInfo::default()).await.unwrap().codes;
    assert_eq!(codes.len(), 10);
    assert!(two_factor::status(&svc, session.user_id).await.unwrap().enabled_at.is_some());
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn an_enrolment_expires_after_ten_minutes_and_belongs_to_its_session(db: PgPool) {
    let svc = services(db);
    let (_, token) = sign_up(&svc, "ada@example.test", None, &Password::new(PW), &ClientInfo::default()).await.unwrap();
    let token = token.token;
    let other = domain::auth::accounts::sign_in(&svc, "ada@example.test", &Password::new(PW), &ClientInfo::default()).await.unwrap().token;
    let session = me(&svc, &token).await;
    let e = two_factor::begin_enrolment(&svc, &session).await.unwrap();
    let secret = secret_of(&e);
    // another session of the same account cannot finish it
    let code = totp::code_for_step(&secret, totp::step_at(svc.clock.now()));
    let elsewhere = two_factor::finish_enrolment(&svc, &me(&svc, &other).await, &code, None, &ClientInfo::default()).await;
    assert!(matches!(elsewhere, Err(DomainError::Invalid(Invalid::AuthenticatorSetupExpired))));
    svc.clock.advance(Duration::minutes(9));
    // (still verified, on the test's clock: a fresh re-verification keeps the window open, so only
    // the enrolment's own 10 minutes can refuse it)
    sqlx::query("UPDATE sessions SET verified_at = $1").bind(svc.clock.now()).execute(&svc.db).await.unwrap();
    svc.clock.advance(Duration::minutes(2));
    let session = me(&svc, &token).await;
    assert!(domain::auth::recent::require_recent(&svc, &session).is_ok());
    let code = totp::code_for_step(&secret, totp::step_at(svc.clock.now()));
    let late = two_factor::finish_enrolment(&svc, &session, &code, None, &ClientInfo::default()).await;
    assert!(matches!(late, Err(DomainError::Invalid(Invalid::AuthenticatorSetupExpired))), "expected the expired-setup answer, got {late:?}");
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn each_code_works_once_even_submitted_twice_at_once(db: PgPool) {
    let svc = services(db);
    let (_, session, secret, _) = enrolled(&svc).await;
    use two_factor::CodeCheck::{Right, Used, Wrong};
    // the enrolment used the current step: the same code again is refused, as used
    let now = totp::step_at(svc.clock.now());
    assert_eq!(two_factor::verify_totp(&svc, session.user_id, &totp::code_for_step(&secret, now)).await.unwrap(), Used);
    // 30 s later, the next code works once; two simultaneous submissions: exactly one succeeds
    svc.clock.advance(Duration::seconds(30));
    let code = totp::code_for_step(&secret, now + 1);
    let tries: Vec<_> = (0..2)
        .map(|_| {
            let (svc, code) = (svc.clone(), code.clone());
            tokio::spawn(async move { two_factor::verify_totp(&svc, session.user_id, &code).await.unwrap() })
        })
        .collect();
    let mut outcomes = Vec::new();
    for t in tries {
        outcomes.push(t.await.unwrap());
    }
    outcomes.sort_by_key(|o| *o != Right);
    assert_eq!(outcomes, [Right, Used]);
    // an older code (the previous step, still inside the skew) is refused after a later one
    svc.clock.advance(Duration::seconds(30));
    assert_eq!(two_factor::verify_totp(&svc, session.user_id, &totp::code_for_step(&secret, now + 2)).await.unwrap(), Right);
    assert_eq!(two_factor::verify_totp(&svc, session.user_id, &totp::code_for_step(&secret, now + 1)).await.unwrap(), Used);
    assert_eq!(two_factor::verify_totp(&svc, session.user_id, "12345").await.unwrap(), Wrong);
    assert_eq!(two_factor::verify_totp(&svc, session.user_id, &totp::code_for_step(&secret, now + 9)).await.unwrap(), Wrong, "not one of the current codes");
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn twenty_simultaneous_uses_of_one_backup_code_succeed_once(db: PgPool) {
    let svc = services(db);
    let (_, session, _, codes) = enrolled(&svc).await;
    let code = codes[0].to_uppercase().replace('-', " ");
    let tries: Vec<_> = (0..20)
        .map(|_| {
            let (svc, code) = (svc.clone(), code.clone());
            tokio::spawn(async move { two_factor::use_backup_code(&svc, session.user_id, &code).await.unwrap() })
        })
        .collect();
    let mut wins = Vec::new();
    for t in tries {
        if let Some(left) = t.await.unwrap() {
            wins.push(left);
        }
    }
    assert_eq!(wins, vec![9], "exactly one success, 9 left");
    assert_eq!(two_factor::use_backup_code(&svc, session.user_id, &codes[0]).await.unwrap(), None, "used");
    assert_eq!(two_factor::use_backup_code(&svc, session.user_id, "zzzzz-zzzzz").await.unwrap(), None, "wrong");
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn regenerating_replaces_every_code_at_once(db: PgPool) {
    let svc = services(db);
    let (_, session, _, old) = enrolled(&svc).await;
    let new = two_factor::regenerate_backup_codes(&svc, &session, &ClientInfo::default()).await.unwrap();
    assert_eq!(new.len(), 10);
    assert_eq!(two_factor::use_backup_code(&svc, session.user_id, &old[3]).await.unwrap(), None, "old codes stop working");
    assert_eq!(two_factor::use_backup_code(&svc, session.user_id, &new[0]).await.unwrap(), Some(9));
    // after the re-verification window, regenerating asks first
    svc.clock.advance(Duration::minutes(11));
    let late = two_factor::regenerate_backup_codes(&svc, &session, &ClientInfo::default()).await;
    assert!(matches!(late, Err(DomainError::ReverifyRequired)));
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn turning_off_removes_the_secret_and_codes_but_not_on_enterprise(db: PgPool) {
    let svc = services(db.clone());
    let (token, session, _, codes) = enrolled(&svc).await;
    let acme = domain::organizations::create(&svc, "Acme", domain::plan::Plan::Enterprise).await.unwrap();
    domain::organizations::add_member(&svc, acme, session.user_id).await.unwrap();
    let refused = two_factor::disable(&svc, &me(&svc, &token).await, &ClientInfo::default()).await.unwrap_err();
    assert!(matches!(refused, DomainError::Invalid(Invalid::SecondFactorRequiredByOrganisation)), "{refused}");
    domain::organizations::set_plan(&svc, acme, domain::plan::Plan::Pro).await.unwrap();
    two_factor::disable(&svc, &me(&svc, &token).await, &ClientInfo::default()).await.unwrap();
    let status = two_factor::status(&svc, session.user_id).await.unwrap();
    assert_eq!((status.enabled_at, status.codes_total), (None, 0));
    assert_eq!(two_factor::use_backup_code(&svc, session.user_id, &codes[1]).await.unwrap(), None);
    assert_eq!(sqlx::query_scalar::<_, i64>("SELECT count(*) FROM totp_credentials").fetch_one(&db).await.unwrap(), 0);
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_short_password_must_be_replaced_before_turning_off(db: PgPool) {
    let svc = services(db.clone());
    let (token, _, _, _) = enrolled(&svc).await;
    // as if the password had been set to 8–14 characters while the second factor was on
    sqlx::query("UPDATE users SET password_single_factor_ok = false").execute(&db).await.unwrap();
    let refused = two_factor::disable(&svc, &me(&svc, &token).await, &ClientInfo::default()).await.unwrap_err();
    assert!(matches!(refused, DomainError::Invalid(Invalid::PasswordTooShortForOneFactor)), "{refused}");
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn with_a_second_factor_eight_characters_are_enough_until_it_is_turned_off(db: PgPool) {
    let svc = services(db);
    let (token, _, _, _) = enrolled(&svc).await;
    let short = Password::new("tractor!s");
    let token = domain::auth::accounts::change_password(&svc, &me(&svc, &token).await, &Password::new(PW), &short, &ClientInfo::default())
        .await
        .unwrap().token;
    // …but then the password cannot be the only factor: turning the authenticator off asks for a
    // longer password first
    let refused = two_factor::disable(&svc, &me(&svc, &token).await, &ClientInfo::default()).await.unwrap_err();
    assert!(matches!(refused, DomainError::Invalid(Invalid::PasswordTooShortForOneFactor)), "{refused}");
    let token = domain::auth::accounts::change_password(
        &svc,
        &me(&svc, &token).await,
        &short,
        &Password::new("purple tractors sing at dawn"),
        &ClientInfo::default(),
    )
    .await
    .unwrap().token;
    two_factor::disable(&svc, &me(&svc, &token).await, &ClientInfo::default()).await.unwrap();
    // without a second factor, 15 characters again
    let too_short = domain::auth::accounts::change_password(
        &svc,
        &me(&svc, &token).await,
        &Password::new("purple tractors sing at dawn"),
        &Password::new("tractor!s"),
        &ClientInfo::default(),
    )
    .await;
    assert!(matches!(too_short, Err(DomainError::PasswordRejected(_))));
}

pub(crate) async fn second_step(svc: &Services) -> domain::secret::PendingToken {
    match domain::auth::accounts::sign_in(svc, "ada@example.test", &Password::new(PW), &ClientInfo::default()).await {
        Err(DomainError::SecondStepRequired(p)) => p,
        other => panic!("expected a second step, got {other:?}"),
    }
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn with_an_authenticator_a_right_password_gives_no_session_until_the_code(db: PgPool) {
    use two_factor::{complete_sign_in, SecondStep};
    let svc = services(db.clone());
    let (_, _, secret, codes) = enrolled(&svc).await;
    let before: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions").fetch_one(&db).await.unwrap();
    let pending = second_step(&svc).await;
    let after: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions").fetch_one(&db).await.unwrap();
    assert_eq!(before, after, "no session before the second step");
    // a wrong code says so; the pending sign-in goes on
    let wrong = complete_sign_in(&svc, &pending, SecondStep::Authenticator, "000000", &ClientInfo::default()).await;
    assert!(matches!(wrong, Err(DomainError::Invalid(Invalid::AuthenticatorCodeWrong))), "{wrong:?}");
    svc.clock.advance(Duration::seconds(30));
    let code = totp::code_for_step(&secret, totp::step_at(svc.clock.now()));
    let done = complete_sign_in(&svc, &pending, SecondStep::Authenticator, &code, &ClientInfo::default()).await.unwrap();
    assert_eq!(done.backup_codes_left, None);
    let s = me(&svc, &done.token).await;
    let method: String = sqlx::query_scalar("SELECT auth_method FROM sessions WHERE id = $1").bind(s.session_id).fetch_one(&db).await.unwrap();
    assert_eq!(method, "password+totp");
    // the pending sign-in is used up; the same code cannot start another sign-in either
    let again = complete_sign_in(&svc, &pending, SecondStep::Authenticator, &code, &ClientInfo::default()).await;
    assert!(matches!(again, Err(DomainError::SignInAgain)));
    let other = second_step(&svc).await;
    let reused = complete_sign_in(&svc, &other, SecondStep::Authenticator, &code, &ClientInfo::default()).await;
    assert!(matches!(reused, Err(DomainError::Invalid(Invalid::AuthenticatorCodeUsed))), "a code works once, and is said to be used: {reused:?}");
    // a backup code instead: says how many are left
    let done = complete_sign_in(&svc, &other, SecondStep::BackupCode, &codes[2], &ClientInfo::default()).await.unwrap();
    assert_eq!(done.backup_codes_left, Some(9));
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn five_wrong_codes_or_five_minutes_end_the_pending_sign_in(db: PgPool) {
    use two_factor::{complete_sign_in, SecondStep};
    let svc = services(db);
    let (_, _, secret, _) = enrolled(&svc).await;
    let pending = second_step(&svc).await;
    for i in 0..5 {
        let r = complete_sign_in(&svc, &pending, SecondStep::BackupCode, "zzzzz-zzzzz", &ClientInfo::default()).await;
        if i < 4 {
            assert!(matches!(r, Err(DomainError::Invalid(Invalid::BackupCodeWrong))), "{i}: {r:?}");
        } else {
            assert!(matches!(r, Err(DomainError::SignInAgain)), "{r:?}");
        }
    }
    // the five wrong codes also count against the account: the next password needs a wait
    assert!(matches!(
        domain::auth::accounts::sign_in(&svc, "ada@example.test", &Password::new(PW), &ClientInfo::default()).await,
        Err(DomainError::InvalidCredentials)
    ));
    svc.clock.advance(Duration::seconds(31));
    let code = totp::code_for_step(&secret, totp::step_at(svc.clock.now()));
    let r = complete_sign_in(&svc, &pending, SecondStep::Authenticator, &code, &ClientInfo::default()).await;
    assert!(matches!(r, Err(DomainError::SignInAgain)), "even the right code cannot revive it");
    let late = second_step(&svc).await;
    svc.clock.advance(Duration::minutes(5));
    let code = totp::code_for_step(&secret, totp::step_at(svc.clock.now()));
    let r = complete_sign_in(&svc, &late, SecondStep::Authenticator, &code, &ClientInfo::default()).await;
    assert!(matches!(r, Err(DomainError::SignInAgain)), "5 minutes is the limit: {r:?}");
}

/// "Back to sign in" on the code step ends that pending sign-in: its right code no longer signs
/// anyone in (someone else at the same computer cannot finish it), the person's next password
/// starts a fresh one that takes codes, and ending it twice is no error.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn going_back_from_the_code_step_ends_that_pending_sign_in(db: PgPool) {
    use two_factor::{cancel_second_step, complete_sign_in, SecondStep};
    let svc = services(db.clone());
    let (_, _, secret, _) = enrolled(&svc).await;
    let abandoned = second_step(&svc).await;
    assert_eq!(pending(&db).await, 1);
    cancel_second_step(&svc, &abandoned).await.unwrap();
    assert_eq!(pending(&db).await, 0);
    cancel_second_step(&svc, &abandoned).await.unwrap();
    cancel_second_step(&svc, &domain::secret::PendingToken::from_cookie("not a token")).await.unwrap();
    svc.clock.advance(Duration::seconds(30));
    let code = totp::code_for_step(&secret, totp::step_at(svc.clock.now()));
    let r = complete_sign_in(&svc, &abandoned, SecondStep::Authenticator, &code, &ClientInfo::default()).await;
    assert!(matches!(r, Err(DomainError::SignInAgain)), "{r:?}");
    let fresh = second_step(&svc).await;
    complete_sign_in(&svc, &fresh, SecondStep::Authenticator, &code, &ClientInfo::default()).await.unwrap();
}

/// An empty code (a stray Enter) is said as missing and costs none of the pending sign-in's five
/// tries, nor anything on the account's throttle; an empty set-up code or "Confirm it's you" code
/// likewise.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn an_empty_or_cut_short_code_is_said_as_such_and_costs_no_try(db: PgPool) {
    use two_factor::{complete_sign_in, SecondStep};
    let svc = services(db.clone());
    let (_, auth, secret, _) = enrolled(&svc).await;
    let pending = second_step(&svc).await;
    for _ in 0..6 {
        let r = complete_sign_in(&svc, &pending, SecondStep::Authenticator, " ", &ClientInfo::default()).await;
        assert!(matches!(r, Err(DomainError::Invalid(Invalid::AuthenticatorCodeMissing))), "{r:?}");
        let r = complete_sign_in(&svc, &pending, SecondStep::BackupCode, "", &ClientInfo::default()).await;
        assert!(matches!(r, Err(DomainError::Invalid(Invalid::BackupCodeMissing))), "{r:?}");
    }
    let counted: i64 = sqlx::query_scalar("SELECT count(*) FROM security_events WHERE kind = 'second_step_failed'").fetch_one(&db).await.unwrap();
    assert_eq!(counted, 0);
    let r = domain::auth::reverify::with_authenticator_code(&svc, &auth, "", &ClientInfo::default()).await;
    assert!(matches!(r, Err(DomainError::Invalid(Invalid::AuthenticatorCodeMissing))), "{r:?}");
    // a code cut short ("12", "123 45") is said as such, and costs no try either
    for short in ["12", "123 45"] {
        for _ in 0..3 {
            let r = complete_sign_in(&svc, &pending, SecondStep::Authenticator, short, &ClientInfo::default()).await;
            assert!(matches!(r, Err(DomainError::Invalid(Invalid::AuthenticatorCodeShort))), "{r:?}");
        }
        let r = domain::auth::reverify::with_authenticator_code(&svc, &auth, short, &ClientInfo::default()).await;
        assert!(matches!(r, Err(DomainError::Invalid(Invalid::AuthenticatorCodeShort))), "{r:?}");
    }
    let counted: i64 = sqlx::query_scalar("SELECT count(*) FROM security_events WHERE kind IN ('second_step_failed', 'reverify_failed')").fetch_one(&db).await.unwrap();
    assert_eq!(counted, 0);
    // twelve empty and six short codes later the pending sign-in still takes the right one
    svc.clock.advance(Duration::seconds(30));
    let code = totp::code_for_step(&secret, totp::step_at(svc.clock.now()));
    complete_sign_in(&svc, &pending, SecondStep::Authenticator, &code, &ClientInfo::default()).await.unwrap();
}

/// "Confirm it's you" with a code, asked of an account that has no authenticator app (no page
/// offers it, but a request can): said as such, and nothing is counted, neither on the account's
/// throttle nor in its activity.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_code_to_confirm_it_is_you_without_an_authenticator_is_refused_uncounted(db: PgPool) {
    let svc = services(db.clone());
    let (_, signed_up) = sign_up(&svc, "ada@example.test", None, &Password::new(PW), &ClientInfo::default()).await.unwrap();
    let session = me(&svc, &signed_up.token).await;
    for _ in 0..3 {
        let r = domain::auth::reverify::with_authenticator_code(&svc, &session, "111111", &ClientInfo::default()).await;
        assert!(matches!(r, Err(DomainError::Invalid(Invalid::NoAuthenticatorToConfirm))), "{r:?}");
    }
    let failed: i64 = sqlx::query_scalar("SELECT count(*) FROM security_events WHERE kind = 'reverify_failed'").fetch_one(&db).await.unwrap();
    assert_eq!(failed, 0);
    let counted: i64 = sqlx::query_scalar("SELECT COALESCE(sum(failed_attempts), 0)::bigint FROM sign_in_throttles").fetch_one(&db).await.unwrap();
    assert_eq!(counted, 0);
}

/// Whoever holds the password signs in three times without a code: each right password replaces
/// the pending sign-in before it on the same path, so the earlier two take no code at all (each
/// right password is forgiven on the throttle, so opening many first would otherwise give 5 codes
/// on each, past every limit the throttle sets).
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_new_pending_sign_in_ends_the_one_before_it_on_the_same_path(db: PgPool) {
    use two_factor::{complete_sign_in, SecondStep};
    let svc = services(db.clone());
    let (_, _, secret, _) = enrolled(&svc).await;
    let first = second_step(&svc).await;
    let second = second_step(&svc).await;
    let third = second_step(&svc).await;
    assert_eq!(pending(&db).await, 1);
    for ended in [&first, &second] {
        let r = complete_sign_in(&svc, ended, SecondStep::Authenticator, "000000", &ClientInfo::default()).await;
        assert!(matches!(r, Err(DomainError::SignInAgain)), "{r:?}");
    }
    let counted: i64 = sqlx::query_scalar("SELECT COALESCE(sum(failed_attempts), 0) FROM sign_in_throttles").fetch_one(&db).await.unwrap();
    assert_eq!(counted, 0, "no code was checked for the ended ones");
    svc.clock.advance(Duration::seconds(30));
    let code = totp::code_for_step(&secret, totp::step_at(svc.clock.now()));
    complete_sign_in(&svc, &third, SecondStep::Authenticator, &code, &ClientInfo::default()).await.expect("the newest one signs in");
}

/// Someone else holding the password (a browser without the account's device cookie) opens a
/// pending sign-in while the owner, on a browser that signed in before, is at the code step: the
/// owner's pending sign-in is on its own path and stays.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_pending_sign_in_elsewhere_never_ends_the_one_on_the_owners_browser(db: PgPool) {
    use two_factor::{complete_sign_in, SecondStep};
    let svc = services(db.clone());
    let (_, _, secret, _, device) = enrolled_with_device(&svc).await;
    let owners = ClientInfo { device: Some(device), ..Default::default() };
    let owner = match domain::auth::accounts::sign_in(&svc, "ada@example.test", &Password::new(PW), &owners).await {
        Err(DomainError::SecondStepRequired(p)) => p,
        other => panic!("expected a second step, got {other:?}"),
    };
    let _attacker = second_step(&svc).await;
    assert_eq!(pending(&db).await, 2, "one per path");
    svc.clock.advance(Duration::seconds(30));
    let code = totp::code_for_step(&secret, totp::step_at(svc.clock.now()));
    complete_sign_in(&svc, &owner, SecondStep::Authenticator, &code, &owners).await.expect("the owner's pending sign-in stayed");
}

/// Two right passwords at the same moment on one path leave one pending sign-in, not two: the
/// second waits for the account's row, then replaces the first's (held here: both wait for it).
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn two_pending_sign_ins_begun_at_once_on_one_path_leave_one(db: PgPool) {
    use two_factor::{complete_sign_in, SecondStep};
    let svc = services(db.clone());
    let (_, session, _, _) = enrolled(&svc).await;
    let mut hold = db.begin().await.unwrap();
    domain::db::passkeys::lock_account(&mut *hold, session.user_id).await.unwrap();
    let begin = || tokio::spawn({
        let svc = svc.clone();
        async move { second_step(&svc).await }
    });
    let (a, b) = (begin(), begin());
    common::until_waiting_for_locks(&db, 2, || a.is_finished() || b.is_finished()).await;
    hold.commit().await.unwrap();
    let (a, b) = (a.await.unwrap(), b.await.unwrap());
    assert_eq!(pending(&db).await, 1);
    let mut answers = Vec::new();
    for p in [&a, &b] {
        answers.push(match complete_sign_in(&svc, p, SecondStep::Authenticator, "000000", &ClientInfo::default()).await {
            Err(DomainError::SignInAgain) => "ended",
            Err(DomainError::Invalid(Invalid::AuthenticatorCodeWrong)) => "takes codes",
            other => panic!("{other:?}"),
        });
    }
    answers.sort();
    assert_eq!(answers, ["ended", "takes codes"]);
}

async fn pending(db: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM pending_sign_ins").fetch_one(db).await.unwrap()
}

/// A right code arriving while the account signs out everywhere: no session of that sign-in
/// outlives "Sign out everywhere", whichever finishes first. (The code used up its pending sign-in
/// and then began the session in a transaction of its own: a Sign out everywhere in between found
/// neither the pending sign-in nor the session, and the session began after it. Now the code's
/// transaction takes the account's row, as Sign out everywhere does, before it uses the pending
/// sign-in.) The code step is held where it clears this browser's failures, with the row of those
/// failures busy.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_right_code_while_the_account_signs_out_everywhere_leaves_no_session_behind(db: PgPool) {
    use two_factor::{complete_sign_in, SecondStep};
    let svc = services(db.clone());
    let (token, session, secret, _) = enrolled(&svc).await;
    let pending = second_step(&svc).await;
    // one wrong code: this browser's throttle path has a row, which the right code clears
    complete_sign_in(&svc, &pending, SecondStep::Authenticator, "000000", &ClientInfo::default()).await.unwrap_err();
    let busy = common::hold_failed_attempts(&db, session.user_id).await;
    svc.clock.advance(Duration::seconds(30));
    let code = totp::code_for_step(&secret, totp::step_at(svc.clock.now()));
    let finishing = {
        let svc = svc.clone();
        tokio::spawn(async move { complete_sign_in(&svc, &pending, SecondStep::Authenticator, &code, &ClientInfo::default()).await })
    };
    common::until_waiting_for_locks(&db, 1, || finishing.is_finished()).await;
    let everywhere = {
        let (svc, me) = (svc.clone(), me(&svc, &token).await);
        tokio::spawn(async move { domain::auth::sessions::sign_out_everywhere(&svc, &me, &ClientInfo::default()).await })
    };
    common::until_waiting_for_locks(&db, 2, || everywhere.is_finished()).await;
    busy.commit().await.unwrap();

    everywhere.await.unwrap().unwrap();
    match finishing.await.unwrap() {
        Ok(done) => assert!(authenticate(&svc, &done.token).await.unwrap().is_none(), "the code's session ended with the others"),
        Err(e) => assert!(matches!(e, DomainError::SignInAgain), "{e:?}"),
    }
    let live: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions WHERE user_id = $1 AND revoked_at IS NULL")
        .bind(session.user_id.0)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(live, 0, "signed out everywhere");
}

/// Turns ada's begun enrolment (its sealed secret) into her authenticator: what `finish_enrolment`
/// commits, as SQL for `common::while_a_change_holds_the_account`.
const AUTHENTICATOR_TURNED_ON: &str = "INSERT INTO totp_credentials (user_id, key_id, nonce, secret_encrypted, enabled_at, last_used_step)
     SELECT user_id, key_id, nonce, secret_encrypted, now(), 0 FROM totp_enrolments";
/// What `two_factor::disable` commits.
const AUTHENTICATOR_TURNED_OFF: [&str; 2] = ["DELETE FROM totp_credentials", "DELETE FROM backup_codes"];

/// Ada, signed up with a password, with an authenticator's setup begun (not finished).
async fn setting_up_an_authenticator(svc: &Services) -> SessionToken {
    let (_, signed_up) = sign_up(svc, "ada@example.test", None, &Password::new(PW), &ClientInfo::default()).await.unwrap();
    two_factor::begin_enrolment(svc, &me(svc, &signed_up.token).await).await.unwrap();
    signed_up.token
}

/// Only the sign-up's session and sign-in: the sign-in under test started and recorded nothing.
async fn assert_only_the_sign_ups_session(db: &PgPool) {
    let sessions: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions").fetch_one(db).await.unwrap();
    assert_eq!(sessions, 1, "only the sign-up's session");
    let signed_in: i64 = sqlx::query_scalar("SELECT count(*) FROM security_events WHERE kind = 'signed_in'").fetch_one(db).await.unwrap();
    assert_eq!(signed_in, 1, "only the sign-up's sign-in is recorded");
}

/// An authenticator turned on while a right password's sign-in waits for the account's row asks
/// that sign-in for the code: once the setup has committed, the password alone starts no session.
/// (It used to: the check that takes the lock reads as of before it waited.)
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn an_authenticator_turned_on_while_a_password_sign_in_waits_asks_it_for_the_code(db: PgPool) {
    let svc = services(db.clone());
    setting_up_an_authenticator(&svc).await;
    let wrong = domain::auth::accounts::sign_in(&svc, "ada@example.test", &Password::new("not the password at all"), &ClientInfo::default()).await;
    assert!(matches!(wrong, Err(DomainError::InvalidCredentials)), "{wrong:?}");
    let sign_in = {
        let svc = svc.clone();
        async move { domain::auth::accounts::sign_in(&svc, "ada@example.test", &Password::new(PW), &ClientInfo::default()).await }
    };
    let r = common::while_a_change_holds_the_account(&db, sign_in, &[AUTHENTICATOR_TURNED_ON]).await;
    assert!(matches!(r, Err(DomainError::SecondStepRequired(_))), "{r:?}");
    assert_only_the_sign_ups_session(&db).await;
    // the right password forgave only its own attempt: the count was not started again
    let failures: i32 = sqlx::query_scalar("SELECT failed_attempts FROM sign_in_throttles").fetch_one(&db).await.unwrap();
    assert_eq!(failures, 1, "the wrong password before it still counts");
}

/// The same for a provider's sign-in (`start_with_provider`, after the provider vouched for the
/// linked identity): an authenticator turned on while it waits for the account's row sends it to
/// the second step with nothing started.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn an_authenticator_turned_on_while_a_provider_sign_in_waits_asks_it_for_the_code(db: PgPool) {
    use domain::auth::sessions::{start_with_provider, Started};
    let svc = services(db.clone());
    setting_up_an_authenticator(&svc).await;
    let ada = linked_to_google(&db).await;
    let sign_in = {
        let svc = svc.clone();
        async move { start_with_provider(&svc, ada, GOOGLE, &ClientInfo::default()).await }
    };
    let r = common::while_a_change_holds_the_account(&db, sign_in, &[AUTHENTICATOR_TURNED_ON]).await;
    assert!(matches!(r, Ok(Started::SecondStepDue)), "expected the second step");
    assert_only_the_sign_ups_session(&db).await;
}

/// Google's identity of the tests, linked to ada (the only account): her id.
async fn linked_to_google(db: &PgPool) -> domain::ids::UserId {
    let ada: domain::ids::UserId = sqlx::query_scalar("SELECT id FROM users").fetch_one(db).await.unwrap();
    let (provider, issuer, subject) = GOOGLE;
    let link = domain::db::connected_accounts::NewLink {
        user_id: ada, provider, issuer, subject, email: None, login: None, now: time::OffsetDateTime::now_utc(), used: false, added_by: None,
    };
    domain::db::connected_accounts::insert(db, &link).await.unwrap();
    ada
}
const GOOGLE: (domain::kinds::Provider, &str, &str) = (domain::kinds::Provider::Google, "https://accounts.google.com", "1234567890");

/// A Google sign-in whose identity is disconnected while it waits for the account's row starts
/// nothing and says the identity is not connected (it used to start a session from an identity
/// the owner had just disconnected: the link was read before the lock).
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_provider_sign_in_overtaken_by_the_disconnect_of_its_identity_starts_nothing(db: PgPool) {
    use domain::error::ProviderFailure;
    let svc = services(db.clone());
    sign_up(&svc, "ada@example.test", None, &Password::new(PW), &ClientInfo::default()).await.unwrap();
    let ada = linked_to_google(&db).await;
    let sign_in = {
        let svc = svc.clone();
        async move { domain::auth::sessions::start_with_provider(&svc, ada, GOOGLE, &ClientInfo::default()).await }
    };
    let r = common::while_a_change_holds_the_account(&db, sign_in, &["DELETE FROM connected_accounts"]).await;
    assert!(matches!(r, Err(DomainError::Provider(ProviderFailure::NotLinked))), "expected NotLinked");
    assert_only_the_sign_ups_session(&db).await;
}

/// A 10-character password: enough beside an authenticator (8), too short alone (15).
const SHORT: &str = "qz7Vt2mK9w";

/// Turning the authenticator off while a change to a password long enough only beside it waits
/// for the account: the change is refused by the one-factor length rule and the old password
/// stays (it used to store the short password, leaving it the only factor).
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_short_new_password_overtaken_by_turning_the_authenticator_off_is_refused(db: PgPool) {
    let svc = services(db.clone());
    let (token, session, _, _) = enrolled(&svc).await;
    let change = {
        let svc = svc.clone();
        async move { domain::auth::accounts::change_password(&svc, &session, &Password::new(PW), &Password::new(SHORT), &ClientInfo::default()).await }
    };
    let r = common::while_a_change_holds_the_account(&db, change, &AUTHENTICATOR_TURNED_OFF).await;
    assert!(matches!(r, Err(DomainError::PasswordRejected(_))), "{:?}", r.map(|_| ()));
    assert!(authenticate(&svc, &token).await.unwrap().is_some(), "the session keeps its token");
    domain::auth::accounts::sign_in(&svc, "ada@example.test", &Password::new(PW), &ClientInfo::default()).await.expect("the old password stands");
}

/// The same through a reset link: refused by the one-factor rule, the link still usable.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_short_reset_password_overtaken_by_turning_the_authenticator_off_is_refused(db: PgPool) {
    use domain::auth::email_links;
    let svc = services(db.clone());
    enrolled(&svc).await;
    email_links::request_password_reset(&svc, "ada@example.test", &ClientInfo::default()).await.unwrap();
    // (the notices of the authenticator's setup were queued at the same moment: the mail with the link)
    let texts: Vec<String> = sqlx::query_scalar("SELECT text_body FROM email_outbox").fetch_all(&db).await.unwrap();
    let link = texts.iter().find_map(|t| testkit::link_token(t, email_links::RESET_PATH)).expect("the reset link");
    let link = domain::secret::LinkToken::from_cookie(link);
    let reset = {
        let (svc, link) = (svc.clone(), link.clone());
        async move { email_links::reset_password(&svc, &link, &Password::new(SHORT), &ClientInfo::default()).await }
    };
    let r = common::while_a_change_holds_the_account(&db, reset, &AUTHENTICATOR_TURNED_OFF).await;
    assert!(matches!(r, Err(DomainError::PasswordRejected(_))), "{:?}", r.map(|_| ()));
    // the link was not used up: a long enough password through it works
    email_links::reset_password(&svc, &link, &Password::new("a much longer password, fifteen+"), &ClientInfo::default()).await.unwrap();
}

/// A password change to a short one that commits while turning the authenticator off waits for
/// the account: turning it off is refused (the password would be too short alone) and the
/// authenticator stays (it used to read the password before the lock and turn it off).
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn turning_the_authenticator_off_overtaken_by_a_short_password_is_refused(db: PgPool) {
    use domain::error::Invalid;
    let svc = services(db.clone());
    let (_, session, _, _) = enrolled(&svc).await;
    let disable = {
        let svc = svc.clone();
        async move { two_factor::disable(&svc, &session, &ClientInfo::default()).await }
    };
    let r = common::while_a_change_holds_the_account(&db, disable, &["UPDATE users SET password_single_factor_ok = false"]).await;
    assert!(matches!(r, Err(DomainError::Invalid(Invalid::PasswordTooShortForOneFactor))), "{r:?}");
    assert_eq!(authenticators(&db).await, 1);
}

/// The session of an account with an authenticator, a member of an organisation on Pro.
async fn enrolled_member_of_a_pro_organisation(svc: &Services) -> AuthSession {
    use domain::plan::Plan;
    let (token, session, _, _) = enrolled(svc).await;
    let acme = domain::organizations::create(svc, "Acme", Plan::Pro).await.unwrap();
    domain::organizations::add_member(svc, acme, session.user_id).await.unwrap();
    let on_pro = me(svc, &token).await;
    assert_eq!(on_pro.plan, Plan::Pro);
    on_pro
}

/// Authenticators on record (a test's own database).
async fn authenticators(db: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM totp_credentials").fetch_one(db).await.unwrap()
}

/// The account's organisation moved to Enterprise while its authenticator is turned off: the move
/// commits first and turning it off is refused, so the account is never on Enterprise without its
/// second factor (the plan used to be read from the session only, before anything was locked).
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn turning_the_authenticator_off_overtaken_by_a_move_to_enterprise_is_refused(db: PgPool) {
    let svc = services(db.clone());
    let on_pro = enrolled_member_of_a_pro_organisation(&svc).await;
    let mut move_to_enterprise = db.begin().await.unwrap();
    sqlx::query("UPDATE organizations SET plan = 'enterprise'").execute(&mut *move_to_enterprise).await.unwrap();
    let disable = tokio::spawn({
        let svc = svc.clone();
        async move { two_factor::disable(&svc, &on_pro, &ClientInfo::default()).await }
    });
    common::until_waiting_for_locks(&db, 1, || disable.is_finished()).await;
    move_to_enterprise.commit().await.unwrap();
    let r = disable.await.unwrap();
    assert!(matches!(r, Err(DomainError::Invalid(Invalid::SecondFactorRequiredByOrganisation))), "{r:?}");
    assert_eq!(authenticators(&db).await, 1);
}

/// A move to Enterprise that committed after the session was read (the session still says Pro):
/// turning the authenticator off is refused all the same, from the plan read under the locks.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn turning_the_authenticator_off_after_a_move_to_enterprise_is_refused_whatever_the_session_says(db: PgPool) {
    let svc = services(db.clone());
    let on_pro = enrolled_member_of_a_pro_organisation(&svc).await;
    sqlx::query("UPDATE organizations SET plan = 'enterprise'").execute(&db).await.unwrap();
    let r = two_factor::disable(&svc, &on_pro, &ClientInfo::default()).await;
    assert!(matches!(r, Err(DomainError::Invalid(Invalid::SecondFactorRequiredByOrganisation))), "{r:?}");
    assert_eq!(authenticators(&db).await, 1);
}

/// New backup codes asked for while the authenticator is turned off: refused, and no codes are
/// left without an authenticator (they used to be written after it was gone).
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn new_backup_codes_overtaken_by_turning_the_authenticator_off_are_refused(db: PgPool) {
    use domain::error::Invalid;
    let svc = services(db.clone());
    let (_, session, _, _) = enrolled(&svc).await;
    let regenerate = {
        let svc = svc.clone();
        async move { two_factor::regenerate_backup_codes(&svc, &session, &ClientInfo::default()).await }
    };
    let r = common::while_a_change_holds_the_account(&db, regenerate, &AUTHENTICATOR_TURNED_OFF).await;
    assert!(matches!(r, Err(DomainError::Invalid(Invalid::AuthenticatorNeeded))), "{:?}", r.map(|c| c.len()));
    let codes: i64 = sqlx::query_scalar("SELECT count(*) FROM backup_codes").fetch_one(&db).await.unwrap();
    assert_eq!(codes, 0);
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn knowing_the_password_does_not_reset_the_count_of_wrong_codes(db: PgPool) {
    use two_factor::{complete_sign_in, SecondStep};
    let svc = services(db.clone());
    let (_, _, _, _) = enrolled(&svc).await;
    let failures = || async {
        sqlx::query_scalar::<_, i32>("SELECT failed_attempts FROM sign_in_throttles WHERE device = ''").fetch_one(&db).await.unwrap()
    };
    // an attacker with the password: 4 wrong codes, sign in again, 4 more…
    for _ in 0..2 {
        let pending = second_step(&svc).await;
        for _ in 0..4 {
            complete_sign_in(&svc, &pending, SecondStep::Authenticator, "000000", &ClientInfo::default()).await.unwrap_err();
        }
    }
    assert_eq!(failures().await, 8, "the right password forgave only its own attempt");
    let kinds: Vec<String> = sqlx::query_scalar("SELECT kind FROM security_events WHERE kind LIKE '%failed'").fetch_all(&db).await.unwrap();
    assert_eq!(kinds, vec!["second_step_failed"; 8], "each wrong code is recorded");
    // …so the next try of the password waits its turn (8 failures: 15 s × 2³ = 2 minutes)
    svc.clock.advance(Duration::seconds(119));
    let early = domain::auth::accounts::sign_in(&svc, "ada@example.test", &Password::new(PW), &ClientInfo::default()).await;
    assert!(matches!(early, Err(DomainError::InvalidCredentials)), "throttled: {early:?}");
}

/// Issue #12, 1: with failures on record, once the throttle accepts the right password the right
/// code is accepted at once (it used to be refused: the right password's own attempt had moved
/// the wait forward, past the pending sign-in's 5 minutes).
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn with_earlier_failures_on_record_the_right_code_is_accepted_at_once(db: PgPool) {
    use two_factor::{complete_sign_in, SecondStep};
    let svc = services(db.clone());
    let (_, _, secret, _) = enrolled(&svc).await;
    // someone else makes 10 wrong guesses, waiting out each delay (the last one: 15 s × 2⁴)
    for i in 0..10 {
        if i >= 5 {
            svc.clock.advance(Duration::seconds(15 << (i - 5)));
        }
        let r = domain::auth::accounts::sign_in(&svc, "ada@example.test", &Password::new("wrong guess!"), &ClientInfo::default()).await;
        assert!(matches!(r, Err(DomainError::InvalidCredentials)));
    }
    let failures: i32 = sqlx::query_scalar("SELECT failed_attempts FROM sign_in_throttles").fetch_one(&db).await.unwrap();
    assert_eq!(failures, 10);
    // the owner, once the wait has passed: right password, then the right code straight away
    svc.clock.advance(Duration::minutes(8));
    svc.clock.advance(Duration::seconds(30)); // a fresh TOTP step (enrolment used the current one)
    let pending = second_step(&svc).await;
    let code = totp::code_for_step(&secret, totp::step_at(svc.clock.now()));
    let done = complete_sign_in(&svc, &pending, SecondStep::Authenticator, &code, &ClientInfo::default()).await;
    assert!(done.is_ok(), "the right code must be accepted at once: {done:?}");
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM sign_in_throttles").fetch_one(&db).await.unwrap();
    assert_eq!(left, 0, "a full sign-in starts the count again");
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_password_change_or_signing_out_everywhere_ends_pending_sign_ins(db: PgPool) {
    use two_factor::{complete_sign_in, SecondStep};
    let svc = services(db);
    let (token, _, secret, codes) = enrolled(&svc).await;
    let pending = second_step(&svc).await;
    domain::auth::sessions::sign_out_everywhere(&svc, &me(&svc, &token).await, &ClientInfo::default()).await.unwrap();
    let r = complete_sign_in(&svc, &pending, SecondStep::BackupCode, &codes[0], &ClientInfo::default()).await;
    assert!(matches!(r, Err(DomainError::SignInAgain)), "{r:?}");

    let pending = second_step(&svc).await;
    svc.clock.advance(Duration::seconds(30));
    let code = totp::code_for_step(&secret, totp::step_at(svc.clock.now()));
    let me_again = complete_sign_in(&svc, &pending, SecondStep::Authenticator, &code, &ClientInfo::default()).await.unwrap();
    let stolen = second_step(&svc).await;
    domain::auth::accounts::change_password(
        &svc,
        &me(&svc, &me_again.token).await,
        &Password::new(PW),
        &Password::new("purple tractors sing at dawn"),
        &ClientInfo::default(),
    )
    .await
    .unwrap();
    let r = complete_sign_in(&svc, &stolen, SecondStep::BackupCode, &codes[1], &ClientInfo::default()).await;
    assert!(matches!(r, Err(DomainError::SignInAgain)), "{r:?}");
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn an_authenticator_code_re_verifies_once(db: PgPool) {
    let svc = services(db);
    let (token, _, secret, _) = enrolled(&svc).await;
    svc.clock.advance(Duration::minutes(11));
    let session = me(&svc, &token).await;
    assert!(domain::auth::recent::require_recent(&svc, &session).is_err());
    let wrong = domain::auth::reverify::with_authenticator_code(&svc, &session, "000000", &ClientInfo::default()).await;
    assert!(matches!(wrong, Err(DomainError::Invalid(Invalid::AuthenticatorCodeWrong))));
    let code = totp::code_for_step(&secret, totp::step_at(svc.clock.now()));
    let done = domain::auth::reverify::with_authenticator_code(&svc, &session, &code, &ClientInfo::default()).await.unwrap();
    assert!(authenticate(&svc, &token).await.unwrap().is_none(), "the old token is refused at once");
    assert!(domain::auth::recent::require_recent(&svc, &me(&svc, &done.token).await).is_ok());
    // the same code cannot be used again: said as used (it was said "not right", which sent people
    // to doubt their app), and counted as a failure like a wrong one
    let failed_before: i64 = sqlx::query_scalar("SELECT count(*) FROM security_events WHERE kind = 'reverify_failed'").fetch_one(&svc.db).await.unwrap();
    let again = domain::auth::reverify::with_authenticator_code(&svc, &session, &code, &ClientInfo::default()).await;
    assert!(matches!(again, Err(DomainError::Invalid(Invalid::AuthenticatorCodeUsed))), "{again:?}");
    let failed_after: i64 = sqlx::query_scalar("SELECT count(*) FROM security_events WHERE kind = 'reverify_failed'").fetch_one(&svc.db).await.unwrap();
    assert_eq!(failed_after, failed_before + 1);
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn the_pages_overview_reads_what_each_section_reads_on_its_own_and_only_the_accounts_rows(db: PgPool) {
    use domain::auth::{accounts, alerts, connected_accounts, overview, passkeys, sessions};
    let svc = services(db.clone());
    let (_, session, _, _) = enrolled(&svc).await;
    // a second session, a passkey and a link to a provider this server does not offer (it cannot
    // sign in, so it is no way to sign in)
    sessions::start(&svc, session.user_id, domain::kinds::SignInMethod::Password, &ClientInfo::default()).await.unwrap();
    let now = svc.clock.now();
    let passkey = |user_id, credential_id: &'static [u8], name: &'static str| domain::db::passkeys::NewPasskey {
        id: domain::ids::PasskeyId(uuid::Uuid::new_v4()),
        user_id,
        credential_id,
        credential: serde_json::json!({}),
        name,
        aaguid: None,
        backup_eligible: true,
        backed_up: true,
        created_at: now,
        added_by: None,
    };
    assert!(domain::db::passkeys::insert(&db, &passkey(session.user_id, b"ada-key", "Ada's phone")).await.unwrap());
    let link = domain::db::connected_accounts::NewLink {
        user_id: session.user_id,
        provider: domain::kinds::Provider::GitHub,
        issuer: "https://github.com",
        subject: "1",
        email: None,
        login: Some("ada"),
        now,
        used: true,
        added_by: None,
    };
    domain::db::connected_accounts::insert(&db, &link).await.unwrap();
    // the other session signed in with that passkey, and times with microseconds (the overview
    // reads them as JSON)
    sqlx::query(
        "UPDATE sessions SET passkey_id = (SELECT id FROM passkeys WHERE name = 'Ada''s phone'),
                             last_seen_at = last_seen_at + interval '1.234567 seconds'
         WHERE user_id = $1 AND id <> $2",
    )
    .bind(session.user_id.0)
    .bind(session.session_id.0)
    .execute(&db)
    .await
    .unwrap();
    sqlx::query("UPDATE passkeys SET last_used_at = created_at + interval '0.000001 seconds'").execute(&db).await.unwrap();
    // another account's rows must not show
    let (bob, _) = sign_up(&svc, "bob@example.test", None, &Password::new(PW), &ClientInfo::default()).await.unwrap();
    assert!(domain::db::passkeys::insert(&db, &passkey(bob, b"bob-key", "Bob's key")).await.unwrap());
    domain::db::connected_accounts::insert(&db, &domain::db::connected_accounts::NewLink { user_id: bob, subject: "2", login: Some("bob"), ..link })
        .await
        .unwrap();

    let o = overview::load(&svc, &session).await.unwrap();
    assert_eq!(o.sessions.len(), 2);
    assert_eq!(o.sessions.iter().map(|s| s.passkey_name.as_deref()).collect::<Vec<_>>(), [None, Some("Ada's phone")]);
    assert!(o.passkeys.passkeys[0].last_used_at.is_some() && o.connections.connected[0].last_used_at.is_some());
    assert_eq!(o.passkeys.passkeys.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["Ada's phone"]);
    assert_eq!((o.passkeys.has_password, o.passkeys.connected), (true, 0));
    assert_eq!(o.connections.connected.iter().map(|c| c.login.as_deref()).collect::<Vec<_>>(), [Some("ada")]);
    assert_eq!(o.connections.sign_in_methods, 2, "the password and the passkey");
    assert_eq!((o.two_factor.enabled_at, o.two_factor.codes_left, o.two_factor.codes_total), (Some(now), 10, 10));
    // the same answers as the sections' own readings
    let same = |a: &dyn std::fmt::Debug, b: &dyn std::fmt::Debug| assert_eq!(format!("{a:?}"), format!("{b:?}"));
    same(&o.password, &accounts::password_status(&svc, &session).await.unwrap());
    same(&o.sessions, &sessions::list(&svc, &session).await.unwrap());
    same(&o.two_factor, &two_factor::status(&svc, session.user_id).await.unwrap());
    same(&o.passkeys, &passkeys::list(&svc, &session).await.unwrap());
    same(&o.connections, &connected_accounts::list(&svc, &session).await.unwrap());
    same(&o.prompt, &alerts::prompt(&svc, &session).await.unwrap());
    same(&o.activity, &domain::auth::activity::list(&svc, &session, None, None).await.unwrap());
    assert!(!o.activity.events.is_empty(), "the sign-ins and the authenticator are listed");
}
