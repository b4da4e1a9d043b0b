//! Ending sessions: one, all others, everywhere. Ids from another account change nothing.
use domain::auth::accounts::sign_in;
use common::sign_up;
use domain::auth::sessions::{authenticate, clean_up, list, revoke, revoke_others, sign_out_everywhere};
use domain::request::ClientInfo;
use domain::ids::SessionId;
use domain::secret::{Password, SessionToken};
use domain::error::Invalid;
use domain::{DomainError, Services};
use sqlx::PgPool;

use crate::common;
use common::{services, PW};

fn client() -> ClientInfo {
    ClientInfo { ip: Some("198.51.100.1".into()), user_agent: Some("test".into()), ..Default::default() }
}

async fn live(svc: &Services, t: &SessionToken) -> bool {
    authenticate(svc, t).await.unwrap().is_some()
}

async fn three_sessions(svc: &Services, email: &str) -> (SessionToken, SessionToken, SessionToken) {
    let (_, a) = sign_up(svc, email, None, &Password::new(PW), &client()).await.unwrap();
    let a = a.token;
    let b = sign_in(svc, email, &Password::new(PW), &client()).await.unwrap().token;
    let c = sign_in(svc, email, &Password::new(PW), &client()).await.unwrap().token;
    (a, b, c)
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn revoking_one_session_ends_only_that_one(db: PgPool) {
    let svc = services(db);
    let (a, b, c) = three_sessions(&svc, "ada@example.test").await;
    let me = authenticate(&svc, &a).await.unwrap().unwrap();
    let b_id = authenticate(&svc, &b).await.unwrap().unwrap().session_id;
    revoke(&svc, &me, b_id, &client()).await.unwrap();
    assert!(live(&svc, &a).await && !live(&svc, &b).await && live(&svc, &c).await);
    // twice: it is gone
    assert!(matches!(revoke(&svc, &me, b_id, &client()).await, Err(DomainError::NotFound)));
    // this session is ended with Log out, not Revoke
    assert!(matches!(revoke(&svc, &me, me.session_id, &client()).await, Err(DomainError::Invalid(Invalid::CurrentSession))));
    assert!(live(&svc, &a).await);
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn another_accounts_session_answers_like_one_that_does_not_exist(db: PgPool) {
    let svc = services(db);
    let (ada, _, _) = three_sessions(&svc, "ada@example.test").await;
    let (bob, _, _) = three_sessions(&svc, "bob@example.test").await;
    let ada_s = authenticate(&svc, &ada).await.unwrap().unwrap();
    let bob_id = authenticate(&svc, &bob).await.unwrap().unwrap().session_id;
    let foreign = revoke(&svc, &ada_s, bob_id, &client()).await.unwrap_err();
    let unknown = revoke(&svc, &ada_s, SessionId::new(), &client()).await.unwrap_err();
    assert_eq!(format!("{foreign:?}"), format!("{unknown:?}"));
    assert!(live(&svc, &bob).await);
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn revoke_all_others_keeps_this_one_and_counts(db: PgPool) {
    let svc = services(db);
    let (a, b, c) = three_sessions(&svc, "ada@example.test").await;
    let (bob, _, _) = three_sessions(&svc, "bob@example.test").await;
    let me = authenticate(&svc, &a).await.unwrap().unwrap();
    assert_eq!(revoke_others(&svc, &me, &client()).await.unwrap(), 2);
    assert!(live(&svc, &a).await && !live(&svc, &b).await && !live(&svc, &c).await);
    assert!(live(&svc, &bob).await, "other accounts are untouched");
    assert_eq!(list(&svc, &me).await.unwrap().len(), 1);
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn sign_out_everywhere_ends_this_one_too(db: PgPool) {
    let svc = services(db);
    let (a, b, c) = three_sessions(&svc, "ada@example.test").await;
    let me = authenticate(&svc, &a).await.unwrap().unwrap();
    assert_eq!(sign_out_everywhere(&svc, &me, &client()).await.unwrap(), 3);
    assert!(!live(&svc, &a).await && !live(&svc, &b).await && !live(&svc, &c).await);
}

/// Three sessions of one account (the phone's and the laptop's signed in, as each device sees
/// itself) and the third session's row held busy, as a sign-in touching it would hold it, until
/// the caller commits `busy`: two devices ending sessions then both reach that row and wait.
async fn two_devices_and_a_busy_third(
    svc: &Services,
    db: &PgPool,
) -> ([SessionToken; 3], domain::request::AuthSession, domain::request::AuthSession, sqlx::Transaction<'static, sqlx::Postgres>) {
    let (a, b, c) = three_sessions(svc, "ada@example.test").await;
    let (phone, laptop) = (authenticate(svc, &a).await.unwrap().unwrap(), authenticate(svc, &b).await.unwrap().unwrap());
    let third = authenticate(svc, &c).await.unwrap().unwrap().session_id;
    let mut busy = db.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM sessions WHERE id = $1 FOR UPDATE").bind(third.0).fetch_one(&mut *busy).await.unwrap();
    ([a, b, c], phone, laptop, busy)
}

/// Two devices choose "Sign out everywhere" at the same moment, while a third session's row is
/// busy: both finish and every session ends. (Each ends the sessions other than its own first, then
/// its own: without a common first lock, each could hold the other's session while waiting for it,
/// until Postgres ended one as a deadlock. Both take the account's row first.) The first ends all
/// three; the second finds its own session ended by then and answers as signed out.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn two_devices_signing_out_everywhere_at_once_both_finish(db: PgPool) {
    let svc = services(db.clone());
    let ([a, b, c], phone, laptop, busy) = two_devices_and_a_busy_third(&svc, &db).await;
    let everywhere = |auth: domain::request::AuthSession| {
        let svc = svc.clone();
        tokio::spawn(async move { sign_out_everywhere(&svc, &auth, &client()).await })
    };
    let (from_phone, from_laptop) = (everywhere(phone), everywhere(laptop));
    common::until_waiting_for_locks(&db, 2, || from_phone.is_finished() || from_laptop.is_finished()).await;
    busy.commit().await.unwrap();

    let answers = [from_phone.await.unwrap(), from_laptop.await.unwrap()];
    let ended: Vec<u64> = answers.iter().filter_map(|r| r.as_ref().ok().copied()).collect();
    assert_eq!(ended, [3], "one ended every session: {answers:?}");
    assert!(answers.iter().any(|r| matches!(r, Err(DomainError::Unauthenticated))), "the other was signed out by then: {answers:?}");
    assert!(!live(&svc, &a).await && !live(&svc, &b).await && !live(&svc, &c).await);
}

/// "Sign out everywhere" on one device while another chooses "Revoke all others", with a third
/// session's row busy: both finish. (Revoke all others holds its own device's session's
/// neighbours, among them the first device's session, which Sign out everywhere ends last: without
/// the account's row first in both, each could wait for the other until Postgres ended one.) The
/// laptop's session was ended by then, so its Revoke all others answers as signed out.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn revoking_all_others_while_another_device_signs_out_everywhere_both_finish(db: PgPool) {
    let svc = services(db.clone());
    let ([a, b, c], phone, laptop, busy) = two_devices_and_a_busy_third(&svc, &db).await;
    let everywhere = tokio::spawn({
        let svc = svc.clone();
        async move { sign_out_everywhere(&svc, &phone, &client()).await }
    });
    common::until_waiting_for_locks(&db, 1, || everywhere.is_finished()).await;
    let others = tokio::spawn({
        let svc = svc.clone();
        async move { revoke_others(&svc, &laptop, &client()).await }
    });
    common::until_waiting_for_locks(&db, 2, || everywhere.is_finished() || others.is_finished()).await;
    busy.commit().await.unwrap();

    assert_eq!(everywhere.await.unwrap().unwrap(), 3, "the phone ended every session, its own last");
    let late = others.await.unwrap();
    assert!(matches!(late, Err(DomainError::Unauthenticated)), "the laptop was signed out by then: {late:?}");
    assert!(!live(&svc, &a).await && !live(&svc, &b).await && !live(&svc, &c).await);
}

/// A session that "This wasn't me", a reset or the owner's Sign out everywhere ended cannot, with a
/// request it had already sent, then sign the owner out (its answer: signed out; nothing ends).
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_session_ended_meanwhile_cannot_end_the_others(db: PgPool) {
    let svc = services(db.clone());
    let (a, b, c) = three_sessions(&svc, "ada@example.test").await;
    let (owner, theirs) = (authenticate(&svc, &a).await.unwrap().unwrap(), authenticate(&svc, &b).await.unwrap().unwrap());
    revoke(&svc, &owner, theirs.session_id, &client()).await.unwrap();
    let c_id = authenticate(&svc, &c).await.unwrap().unwrap().session_id;
    assert!(matches!(sign_out_everywhere(&svc, &theirs, &client()).await, Err(DomainError::Unauthenticated)));
    assert!(matches!(revoke_others(&svc, &theirs, &client()).await, Err(DomainError::Unauthenticated)));
    assert!(matches!(revoke(&svc, &theirs, c_id, &client()).await, Err(DomainError::Unauthenticated)));
    assert!(live(&svc, &a).await && live(&svc, &c).await, "the owner's sessions stay");
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn clean_up_ends_expired_sessions_and_forgets_ended_ones_after_90_days(db: PgPool) {
    let svc = services(db.clone());
    let (a, b, _) = three_sessions(&svc, "ada@example.test").await;
    let me = authenticate(&svc, &a).await.unwrap().unwrap();
    let b_id = authenticate(&svc, &b).await.unwrap().unwrap().session_id;
    revoke(&svc, &me, b_id, &client()).await.unwrap();
    assert_eq!(clean_up(&svc).await.unwrap(), (0, 0), "nothing is due yet");

    svc.clock.advance(time::Duration::minutes(61)); // past the idle timeout
    assert_eq!(clean_up(&svc).await.unwrap(), (2, 0), "the two live sessions expired, kept for history");
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions").fetch_one(&db).await.unwrap();
    assert_eq!(rows, 3);

    svc.clock.advance(time::Duration::days(90));
    assert_eq!(clean_up(&svc).await.unwrap(), (0, 1), "the revoked one ended 90 days and 61 minutes ago");
    svc.clock.advance(time::Duration::minutes(1));
    assert_eq!(clean_up(&svc).await.unwrap(), (0, 2), "the expired ones, 90 days after they ended");
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions").fetch_one(&db).await.unwrap();
    assert_eq!(rows, 0);
}

/// A password change on one device while the owner chooses "Sign out everywhere" on another: the
/// change, whose session ended meanwhile, is refused as signed out and the password stays. (It
/// stored its password after the sign-out: whoever held a session and the password kept the
/// account, with a password only they knew.) The change is held where it counts its check of the
/// current password, with this browser's row of failures busy.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_password_change_whose_session_signs_out_everywhere_meanwhile_changes_nothing(db: PgPool) {
    use domain::auth::accounts::change_password;
    const THEIRS: &str = "a passphrase of their own choosing";
    let svc = services(db.clone());
    let (a, b, _) = three_sessions(&svc, "ada@example.test").await;
    let (theirs, owner) = (authenticate(&svc, &a).await.unwrap().unwrap(), authenticate(&svc, &b).await.unwrap().unwrap());
    // one wrong current password: this browser's throttle path has a row
    let wrong = change_password(&svc, &theirs, &Password::new("wrong password, long enough"), &Password::new(THEIRS), &client()).await;
    assert!(matches!(wrong, Err(DomainError::Invalid(Invalid::CurrentPasswordWrong))), "{wrong:?}");
    let busy = common::hold_failed_attempts(&db, theirs.user_id).await;
    let changing = {
        let svc = svc.clone();
        tokio::spawn(async move { change_password(&svc, &theirs, &Password::new(PW), &Password::new(THEIRS), &client()).await })
    };
    common::until_waiting_for_locks(&db, 1, || changing.is_finished()).await;
    assert_eq!(sign_out_everywhere(&svc, &owner, &client()).await.unwrap(), 3);
    busy.commit().await.unwrap();

    let r = changing.await.unwrap();
    assert!(matches!(r, Err(DomainError::Unauthenticated)), "{r:?}");
    assert!(matches!(sign_in(&svc, "ada@example.test", &Password::new(THEIRS), &client()).await, Err(DomainError::InvalidCredentials)));
    assert!(sign_in(&svc, "ada@example.test", &Password::new(PW), &client()).await.is_ok(), "the password stays");
}
