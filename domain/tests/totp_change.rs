//! Changing the authenticator app to another (a new phone, or an Enterprise member who cannot turn
//! it off): the old app works until a code from the new one, then only the new one does; the backup
//! codes stay; one event and one notice, even for the same change submitted twice at once.
use domain::auth::two_factor::{self, complete_sign_in, SecondStep};
use domain::auth::totp;
use domain::error::Invalid;
use domain::request::ClientInfo;
use domain::DomainError;
use sqlx::PgPool;
use time::Duration;

use crate::common::services;
use crate::two_factor::{enrolled, me, second_step, secret_of};

async fn count(db: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(db).await.unwrap()
}

fn code(secret: &[u8], svc: &domain::Services) -> String {
    totp::code_for_step(secret, totp::step_at(svc.clock.now()))
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_changed_app_signs_in_the_old_one_no_longer_does_and_the_backup_codes_stay(db: PgPool) {
    let svc = services(db.clone());
    let (token, session, old, codes) = enrolled(&svc).await;
    let enabled_before: time::OffsetDateTime = sqlx::query_scalar("SELECT enabled_at FROM totp_credentials").fetch_one(&db).await.unwrap();
    svc.clock.advance(Duration::minutes(1));
    let e = two_factor::begin_change(&svc, &session).await.unwrap();
    let new = secret_of(&e);
    assert_ne!(new, old);
    // until a code from the new app, the old one still signs in
    svc.clock.advance(Duration::seconds(30));
    let pending = second_step(&svc).await;
    complete_sign_in(&svc, &pending, SecondStep::Authenticator, &code(&old, &svc), &ClientInfo::default()).await.unwrap();
    // a code from the old app does not finish the change
    svc.clock.advance(Duration::seconds(30));
    let r = two_factor::finish_change(&svc, &me(&svc, &token).await, &code(&old, &svc), None, &ClientInfo::default()).await;
    assert!(matches!(r, Err(DomainError::Invalid(Invalid::AuthenticatorSetupCodeWrong))), "{r:?}");
    two_factor::finish_change(&svc, &me(&svc, &token).await, &code(&new, &svc), None, &ClientInfo::default()).await.unwrap();

    svc.clock.advance(Duration::seconds(30));
    let pending = second_step(&svc).await;
    let r = complete_sign_in(&svc, &pending, SecondStep::Authenticator, &code(&old, &svc), &ClientInfo::default()).await;
    assert!(matches!(r, Err(DomainError::Invalid(Invalid::AuthenticatorCodeWrong))), "the old app's code: {r:?}");
    complete_sign_in(&svc, &pending, SecondStep::Authenticator, &code(&new, &svc), &ClientInfo::default()).await.unwrap();
    let pending = second_step(&svc).await;
    let done = complete_sign_in(&svc, &pending, SecondStep::BackupCode, &codes[0], &ClientInfo::default()).await.unwrap();
    assert_eq!(done.backup_codes_left, Some(9), "the backup codes made with the old app still work");

    assert_eq!(count(&db, "SELECT count(*) FROM totp_enrolments").await, 0, "the setup is taken");
    let enabled_after: time::OffsetDateTime = sqlx::query_scalar("SELECT enabled_at FROM totp_credentials").fetch_one(&db).await.unwrap();
    assert!(enabled_after > enabled_before, "a new app: entries from before it are stale");
    assert_eq!(count(&db, "SELECT count(*) FROM security_events WHERE kind = 'totp_changed'").await, 1);
    let notices: Vec<String> = sqlx::query_scalar("SELECT subject FROM email_outbox WHERE kind = 'security_notice' AND subject LIKE '%app%changed%'").fetch_all(&db).await.unwrap();
    assert_eq!(notices, ["The authenticator app of your Gatehouse account was changed"]);
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_change_needs_an_app_to_change_and_a_recent_proof_of_identity(db: PgPool) {
    let svc = services(db.clone());
    let (_, signed_up) = crate::common::sign_up(&svc, "bo@example.test", None, &domain::secret::Password::new(crate::common::PW), &ClientInfo::default())
        .await
        .unwrap();
    let without = me(&svc, &signed_up.token).await;
    let r = two_factor::begin_change(&svc, &without).await;
    assert!(matches!(r, Err(DomainError::Invalid(Invalid::NoAuthenticatorToChange))), "{:?}", r.map(|_| ()));

    let (token, _, _, _) = enrolled(&svc).await;
    svc.clock.advance(Duration::minutes(11));
    let r = two_factor::begin_change(&svc, &me(&svc, &token).await).await;
    assert!(matches!(r, Err(DomainError::ReverifyRequired)), "{:?}", r.map(|_| ()));
}

/// The same change submitted from two tabs at once: one changes the app, the other finds it done;
/// one event, one notice.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn the_same_change_submitted_twice_at_once_changes_the_app_once(db: PgPool) {
    let svc = services(db.clone());
    let (token, session, _, _) = enrolled(&svc).await;
    let new = secret_of(&two_factor::begin_change(&svc, &session).await.unwrap());
    svc.clock.advance(Duration::seconds(30));
    let (session, c, client) = (me(&svc, &token).await, code(&new, &svc), ClientInfo::default());
    let (a, b) = tokio::join!(
        two_factor::finish_change(&svc, &session, &c, None, &client),
        two_factor::finish_change(&svc, &session, &c, None, &client),
    );
    a.unwrap();
    b.unwrap();
    assert_eq!(count(&db, "SELECT count(*) FROM security_events WHERE kind = 'totp_changed'").await, 1);
    assert_eq!(count(&db, "SELECT count(*) FROM email_outbox WHERE kind = 'security_notice' AND subject LIKE '%app%changed%'").await, 1);
}

/// Turned off (in another tab) while the change waited for its code: the code turns nothing on.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_change_finished_after_the_app_was_turned_off_turns_nothing_on(db: PgPool) {
    let svc = services(db.clone());
    let (token, session, _, _) = enrolled(&svc).await;
    let new = secret_of(&two_factor::begin_change(&svc, &session).await.unwrap());
    two_factor::disable(&svc, &me(&svc, &token).await, &ClientInfo::default()).await.unwrap();
    let r = two_factor::finish_change(&svc, &me(&svc, &token).await, &code(&new, &svc), None, &ClientInfo::default()).await;
    assert!(matches!(r, Err(DomainError::Invalid(Invalid::NoAuthenticatorToChange))), "{r:?}");
    assert_eq!(count(&db, "SELECT count(*) FROM totp_credentials").await, 0);
    assert_eq!(count(&db, "SELECT count(*) FROM security_events WHERE kind = 'totp_changed'").await, 0);
    assert_eq!(count(&db, "SELECT count(*) FROM totp_enrolments").await, 1, "nothing taken, the setup neither");
}

/// A session that signed in with the password alone before the app was set up (elsewhere) never
/// proved the app: it may not replace it (on an Enterprise plan it could not turn it off either).
/// Signed in again with a code from the app, it may.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn only_a_session_that_proved_the_app_may_change_it(db: PgPool) {
    let svc = services(db.clone());
    let (_, signed_up) = crate::common::sign_up(&svc, "ada@example.test", None, &domain::secret::Password::new(crate::common::PW), &ClientInfo::default())
        .await
        .unwrap();
    let earlier = domain::auth::accounts::sign_in(&svc, "ada@example.test", &domain::secret::Password::new(crate::common::PW), &ClientInfo::default())
        .await
        .unwrap()
        .token;
    let owner = me(&svc, &signed_up.token).await;
    let e = two_factor::begin_enrolment(&svc, &owner).await.unwrap();
    let app = secret_of(&e);
    two_factor::finish_enrolment(&svc, &owner, &code(&app, &svc), None, &ClientInfo::default()).await.unwrap();

    let r = two_factor::begin_change(&svc, &me(&svc, &earlier).await).await;
    assert!(matches!(r, Err(DomainError::Invalid(Invalid::ChangeNeedsSecondFactor))), "{:?}", r.map(|_| ()));
    // the session that set it up may
    two_factor::begin_change(&svc, &me(&svc, &signed_up.token).await).await.unwrap();
    // and one that signed in with its code
    svc.clock.advance(Duration::seconds(30));
    let pending = second_step(&svc).await;
    let with_code = complete_sign_in(&svc, &pending, SecondStep::Authenticator, &code(&app, &svc), &ClientInfo::default()).await.unwrap();
    two_factor::begin_change(&svc, &me(&svc, &with_code.token).await).await.unwrap();
}

/// An Enterprise member cannot turn the app off, but can move it to a new phone.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn an_enterprise_member_can_change_the_app_they_cannot_turn_off(db: PgPool) {
    let svc = services(db.clone());
    let (token, session, _, _) = enrolled(&svc).await;
    let acme = domain::organizations::create(&svc, "Acme", domain::plan::Plan::Enterprise).await.unwrap();
    domain::organizations::add_member(&svc, acme, session.user_id).await.unwrap();
    let member = me(&svc, &token).await;
    let new = secret_of(&two_factor::begin_change(&svc, &member).await.unwrap());
    svc.clock.advance(Duration::seconds(30));
    two_factor::finish_change(&svc, &member, &code(&new, &svc), None, &ClientInfo::default()).await.unwrap();
    assert_eq!(count(&db, "SELECT count(*) FROM totp_credentials").await, 1);
}
