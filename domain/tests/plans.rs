//! Session lifetimes follow the plan of the account's organisation.
use common::sign_up;
use domain::auth::sessions::{authenticate, clean_up};
use domain::request::ClientInfo;
use domain::config::SessionPolicy;
use domain::organizations;
use domain::plan::Plan;
use domain::secret::{Password, SessionToken};
use domain::Services;
use sqlx::PgPool;
use time::Duration;

use crate::common;
use common::PW;

/// Free: 14 days idle / 30 days at most. Enterprise: 12 hours idle / 7 days at most.
fn services(db: PgPool) -> Services {
    Services { sessions: SessionPolicy::default(), ..common::services(db) }
}

async fn live(svc: &Services, t: &SessionToken) -> bool {
    authenticate(svc, t).await.unwrap().is_some()
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn enterprise_sessions_end_sooner_than_free_ones(db: PgPool) {
    let svc = services(db);
    let (_, free) = sign_up(&svc, "solo@example.test", None, &Password::new(PW), &ClientInfo::default()).await.unwrap();
    let free = free.token;
    let (member, ent) = sign_up(&svc, "kim@acme.test", None, &Password::new(PW), &ClientInfo::default()).await.unwrap();
    let ent = ent.token;
    let acme = organizations::create(&svc, "Acme", Plan::Enterprise).await.unwrap();
    organizations::add_member(&svc, acme, member).await.unwrap();
    assert_eq!(authenticate(&svc, &ent).await.unwrap().unwrap().plan, Plan::Enterprise);
    assert_eq!(authenticate(&svc, &free).await.unwrap().unwrap().plan, Plan::Free);

    // 11 hours idle: both still live. 13 hours idle: only the Free one.
    svc.clock.advance(Duration::hours(11));
    assert!(live(&svc, &free).await && live(&svc, &ent).await);
    svc.clock.advance(Duration::hours(13));
    assert!(live(&svc, &free).await, "Free: 14 days idle");
    assert!(!live(&svc, &ent).await, "Enterprise: 12 hours idle");
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn enterprise_sessions_end_after_seven_days_however_active(db: PgPool) {
    let svc = services(db);
    let (member, ent) = sign_up(&svc, "kim@acme.test", None, &Password::new(PW), &ClientInfo::default()).await.unwrap();
    let ent = ent.token;
    let acme = organizations::create(&svc, "Acme", Plan::Enterprise).await.unwrap();
    organizations::add_member(&svc, acme, member).await.unwrap();
    // active every 10 hours for 6 days 22 hours…
    for _ in 0..16 {
        svc.clock.advance(Duration::hours(10));
        assert!(live(&svc, &ent).await);
    }
    // …then past 7 days since sign-in
    svc.clock.advance(Duration::hours(9));
    assert!(!live(&svc, &ent).await);
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_plan_change_applies_to_existing_sessions_at_once_and_to_the_clean_up(db: PgPool) {
    let svc = services(db.clone());
    let (member, token) = sign_up(&svc, "kim@acme.test", None, &Password::new(PW), &ClientInfo::default()).await.unwrap();
    let token = token.token;
    let acme = organizations::create(&svc, "Acme", Plan::Pro).await.unwrap();
    organizations::add_member(&svc, acme, member).await.unwrap();
    svc.clock.advance(Duration::days(2));
    assert!(live(&svc, &token).await, "Pro: 14 days idle");
    svc.clock.advance(Duration::days(2));
    // The organisation moves to Enterprise: 4 days idle is far past its 12 hours.
    organizations::set_plan(&svc, acme, Plan::Enterprise).await.unwrap();
    assert_eq!(clean_up(&svc).await.unwrap(), (1, 0));
    let reason: Option<String> = sqlx::query_scalar("SELECT revoked_reason FROM sessions").fetch_one(&db).await.unwrap();
    assert_eq!(reason.as_deref(), Some("expired"));
    assert!(!live(&svc, &token).await);
}

#[test]
fn the_defaults_are_the_documented_ones() {
    let p = SessionPolicy::default();
    for plan in [Plan::Free, Plan::Pro] {
        assert_eq!(p.lifetimes(plan).idle, Duration::days(14));
        assert_eq!(p.lifetimes(plan).absolute, Duration::days(30));
    }
    assert_eq!(p.lifetimes(Plan::Enterprise).idle, Duration::hours(12));
    assert_eq!(p.lifetimes(Plan::Enterprise).absolute, Duration::days(7));
    assert_eq!(p.longest_lifetime(), Duration::days(30));
}

/// `email` signs up (the first session), then signs in again with the password (the second).
async fn signed_in_twice(svc: &Services, email: &str) -> (domain::ids::UserId, SessionToken, SessionToken) {
    let (user, signed_up) = sign_up(svc, email, None, &Password::new(PW), &ClientInfo::default()).await.unwrap();
    let other = domain::auth::accounts::sign_in(svc, email, &Password::new(PW), &ClientInfo::default()).await.unwrap().token;
    (user, signed_up.token, other)
}

/// The session of `token` sets up the authenticator app.
async fn set_up_app(svc: &Services, token: &SessionToken) -> domain::auth::two_factor::Enabled {
    use domain::auth::{totp, two_factor};
    let session = authenticate(svc, token).await.unwrap().unwrap();
    let e = two_factor::begin_enrolment(svc, &session).await.unwrap();
    let code = totp::code_for_step(&testkit::base32_decode(&e.manual_key), totp::step_at(svc.clock.now()));
    two_factor::finish_enrolment(svc, &session, &code, None, &ClientInfo::default()).await.unwrap()
}

/// An Enterprise member's sessions that signed in with the password alone could only set up the
/// app. Once the owner sets it up in one of them, the others end (a stranger who had the password
/// would otherwise gain the whole account from the owner's setup); the session that set it up
/// stays. On Free nothing else ends: there those sessions were never held back.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn on_enterprise_setting_up_the_app_signs_out_the_sessions_that_signed_in_without_a_code(db: PgPool) {
    use domain::auth::accounts;
    let svc = services(db.clone());
    let (member, owner, earlier) = signed_in_twice(&svc, "kim@acme.test").await;
    // two more: one that signed in with Google alone, one that proved a second factor (as a
    // passkey's or a code's sign-in records it; made by hand, as none can happen before the setup)
    let google = accounts::sign_in(&svc, "kim@acme.test", &Password::new(PW), &ClientInfo::default()).await.unwrap().token;
    let proved = accounts::sign_in(&svc, "kim@acme.test", &Password::new(PW), &ClientInfo::default()).await.unwrap().token;
    for (token, method) in [(&google, "google"), (&proved, "password+totp")] {
        let id = authenticate(&svc, token).await.unwrap().unwrap().session_id;
        sqlx::query("UPDATE sessions SET auth_method = $2 WHERE id = $1").bind(id.0).bind(method).execute(&db).await.unwrap();
    }
    let acme = organizations::create(&svc, "Acme", Plan::Enterprise).await.unwrap();
    organizations::add_member(&svc, acme, member).await.unwrap();
    assert!(authenticate(&svc, &earlier).await.unwrap().unwrap().must_set_up_second_factor());

    let on = set_up_app(&svc, &owner).await;
    assert_eq!((on.codes.len(), on.signed_out), (10, 2));
    assert!(live(&svc, &owner).await, "the session that set the app up stays");
    assert!(live(&svc, &proved).await, "a session that proved a second factor stays");
    assert!(!live(&svc, &earlier).await, "the session that signed in with the password alone ends");
    assert!(!live(&svc, &google).await, "the session that signed in with Google alone ends");
    let reasons: Vec<String> = sqlx::query_scalar("SELECT revoked_reason FROM sessions WHERE revoked_at IS NOT NULL").fetch_all(&db).await.unwrap();
    assert_eq!(reasons, ["second_factor_required"; 2]);
    // said in the activity, beside the setup
    let ended: Vec<String> = sqlx::query_scalar("SELECT detail FROM security_events WHERE kind = 'session_revoked'").fetch_all(&db).await.unwrap();
    assert_eq!(ended, ["2 other sessions that signed in with a password, Google or GitHub alone"]);

    let (_, solo, solo_earlier) = signed_in_twice(&svc, "solo@example.test").await;
    assert_eq!(set_up_app(&svc, &solo).await.signed_out, 0);
    assert!(live(&svc, &solo_earlier).await, "Free: a session from before the app stays");
}

/// An account that already has the app (set up on Free) and joins an Enterprise organisation, or
/// whose organisation moves to Enterprise, keeps only the sessions that proved a second factor and
/// the one that set the app up: one that signed in with the password before the app existed would
/// otherwise keep the whole account where a second factor is required.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn joining_or_moving_to_enterprise_with_the_app_on_ends_the_sessions_that_proved_no_second_factor(db: PgPool) {
    let svc = services(db.clone());
    let with_app = |email: &'static str| {
        let svc = &svc;
        async move {
            let (user, signed_up, earlier) = signed_in_twice(svc, email).await;
            set_up_app(svc, &signed_up).await;
            (user, signed_up, earlier)
        }
    };
    // joins an Enterprise organisation
    let (ada, ada_setup, ada_earlier) = with_app("ada@example.test").await;
    let acme = organizations::create(&svc, "Acme", Plan::Enterprise).await.unwrap();
    assert!(live(&svc, &ada_earlier).await, "Free: a session from before the app stays");
    organizations::add_member(&svc, acme, ada).await.unwrap();
    assert!(!live(&svc, &ada_earlier).await, "joined Enterprise: it ends");
    assert!(live(&svc, &ada_setup).await, "the session that set the app up stays");
    // a member of a Pro organisation that moves to Enterprise
    let (bob, bob_setup, bob_earlier) = with_app("bob@example.test").await;
    let initech = organizations::create(&svc, "Initech", Plan::Pro).await.unwrap();
    organizations::add_member(&svc, initech, bob).await.unwrap();
    assert!(live(&svc, &bob_earlier).await, "Pro: it stays");
    organizations::set_plan(&svc, initech, Plan::Enterprise).await.unwrap();
    assert!(!live(&svc, &bob_earlier).await, "moved to Enterprise: it ends");
    assert!(live(&svc, &bob_setup).await);
    assert!(live(&svc, &ada_setup).await, "another organisation's move ends nothing of Ada's");
}
