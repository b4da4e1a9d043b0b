//! Guessing limits per path (OWASP device cookies): someone who knows the email can slow down or
//! lock only browsers that never fully signed in to the account; the owner's browsers keep their
//! own counters (after a change of password or authenticator app, entries from before it share the
//! account's stale one). Failed attempts are recorded; the history and the counters are bounded.
use domain::auth::accounts::{change_password, sign_in};
use common::sign_up;
use domain::auth::sessions::{authenticate, clean_up};
use domain::request::ClientInfo;
use domain::secret::{DeviceCookie, Password, SessionToken};
use domain::{DomainError, Services};
use sqlx::PgPool;
use time::Duration;

use crate::common;
use common::{services, PW};

fn attacker() -> ClientInfo {
    ClientInfo { ip: Some("203.0.113.66".into()), user_agent: Some("curl/8".into()), ..Default::default() }
}

fn browser(device: &DeviceCookie) -> ClientInfo {
    ClientInfo { ip: Some("198.51.100.7".into()), user_agent: Some("Firefox".into()), device: Some(device.clone()), ..Default::default() }
}

/// A sign-in, and the work after its answer (a wrong password's record).
async fn try_sign_in(svc: &Services, email: &str, pw: &str, client: &ClientInfo) -> Result<SessionToken, DomainError> {
    let r = sign_in(svc, email, &Password::new(pw), client).await.map(|s| s.token);
    svc.settle().await;
    r
}

async fn failures(db: &PgPool, device: &str) -> i32 {
    sqlx::query_scalar(&format!(
        "SELECT COALESCE((SELECT failed_attempts FROM sign_in_throttles WHERE device {device}), 0)"
    ))
    .fetch_one(db)
    .await
    .unwrap()
}

/// Someone else guesses until the account's untrusted path is locked (50 failures).
async fn lock_untrusted_path(svc: &Services, db: &PgPool, email: &str) {
    while failures(db, "= ''").await < 50 {
        try_sign_in(svc, email, "wrong guess, again", &attacker()).await.unwrap_err();
        svc.clock.advance(Duration::minutes(15));
    }
    assert!(matches!(try_sign_in(svc, email, PW, &attacker()).await, Err(DomainError::InvalidCredentials)), "locked");
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn an_attackers_fifty_failures_lock_the_untrusted_path_but_never_the_owners_browser(db: PgPool) {
    let svc = services(db.clone());
    let (_, signed_up) = sign_up(&svc, "ada@example.test", None, &Password::new(PW), &attacker()).await.unwrap();
    let owners = browser(&signed_up.device);
    lock_untrusted_path(&svc, &db, "ada@example.test").await;
    // a browser that never signed in: locked, like the attacker's
    let stranger = ClientInfo { device: None, ..owners.clone() };
    assert!(matches!(try_sign_in(&svc, "ada@example.test", PW, &stranger).await, Err(DomainError::InvalidCredentials)));
    // the owner's browser signs in at once, and its own mistakes count on its own counter
    try_sign_in(&svc, "ada@example.test", "my typo", &owners).await.unwrap_err();
    assert_eq!(failures(&db, "<> ''").await, 1);
    let token = try_sign_in(&svc, "ADA@example.test", PW, &owners).await.expect("the owner's browser is not locked out");
    assert!(authenticate(&svc, &token).await.unwrap().is_some());
    assert_eq!(failures(&db, "<> ''").await, 0, "a full sign-in resets that browser's counter");
    // and the owner signing in does not reopen the path the attacker locked
    assert!(matches!(try_sign_in(&svc, "ada@example.test", PW, &attacker()).await, Err(DomainError::InvalidCredentials)));
    assert_eq!(failures(&db, "= ''").await, 50);
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_device_cookie_of_another_account_or_a_forged_one_is_untrusted(db: PgPool) {
    let svc = services(db.clone());
    let (ada_id, ada) = sign_up(&svc, "ada@example.test", None, &Password::new(PW), &attacker()).await.unwrap();
    let (bob_id, bob) = sign_up(&svc, "bob@example.test", None, &Password::new(PW), &attacker()).await.unwrap();
    lock_untrusted_path(&svc, &db, "ada@example.test").await;
    // Bob's genuine cookie (stolen, or Bob himself) means nothing for Ada's account
    assert!(matches!(try_sign_in(&svc, "ada@example.test", PW, &browser(&bob.device)).await, Err(DomainError::InvalidCredentials)));
    // one changed character of Ada's cookie, or her cookie signed with another server's key
    let mut tampered: Vec<char> = ada.device.expose().chars().collect();
    tampered[60] = if tampered[60] == 'A' { 'B' } else { 'A' }; // inside the MAC
    let tampered: String = tampered.into_iter().collect();
    assert!(matches!(
        try_sign_in(&svc, "ada@example.test", PW, &browser(&DeviceCookie::from_cookie(tampered))).await,
        Err(DomainError::InvalidCredentials)
    ));
    let other_server = domain::auth::device_cookies::DeviceCookieKey::from_config("b3RoZXIgc2VydmVyJ3MgZGV2aWNlIGNvb2tpZSBrZXkh").unwrap();
    let foreign = other_server.issue(None, ada_id, svc.clock.now());
    assert!(matches!(try_sign_in(&svc, "ada@example.test", PW, &browser(&foreign)).await, Err(DomainError::InvalidCredentials)));
    // her real cookie still works; and a browser signed in to both accounts is trusted for both
    let both = svc.device_cookies.issue(Some(&ada.device), bob_id, svc.clock.now());
    assert!(try_sign_in(&svc, "ada@example.test", PW, &browser(&both)).await.is_ok());
    assert!(try_sign_in(&svc, "ada@example.test", PW, &browser(&ada.device)).await.is_ok());
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn the_device_cookie_never_works_as_a_session(db: PgPool) {
    let svc = services(db.clone());
    let (_, ada) = sign_up(&svc, "ada@example.test", None, &Password::new(PW), &attacker()).await.unwrap();
    assert!(authenticate(&svc, &ada.token).await.unwrap().is_some());
    for candidate in std::iter::once(ada.device.expose()).chain(ada.device.expose().split('.')) {
        assert!(authenticate(&svc, &SessionToken::from_cookie(candidate)).await.unwrap().is_none(), "{candidate}");
    }
}

/// A password longer than any password can be is refused as too long before anything is counted:
/// it is never checked, so counting it would move the path towards its lock with nothing
/// recorded. Fifty of them, then the right password: signed in.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn an_oversized_password_is_refused_without_being_counted(db: PgPool) {
    let svc = services(db.clone());
    sign_up(&svc, "ada@example.test", None, &Password::new(PW), &attacker()).await.unwrap();
    let oversized = "x".repeat(domain::auth::password::MAX_LENGTH + 1);
    for _ in 0..50 {
        let r = try_sign_in(&svc, "ada@example.test", &oversized, &attacker()).await;
        assert!(matches!(r, Err(DomainError::PasswordRejected(_))), "{r:?}");
    }
    assert_eq!(failures(&db, "= ''").await, 0);
    try_sign_in(&svc, "ada@example.test", PW, &attacker()).await.expect("the path was never counted");
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn counted_failures_and_lock_outs_are_recorded_but_refused_attempts_are_not(db: PgPool) {
    let mut svc = services(db.clone());
    svc.throttle.lockout_after = 7;
    let (_, ada) = sign_up(&svc, "ada@example.test", None, &Password::new(PW), &attacker()).await.unwrap();
    let kinds = || async {
        sqlx::query_scalar::<_, String>("SELECT kind FROM security_events WHERE kind NOT IN ('account_created', 'signed_in') ORDER BY created_at, kind")
            .fetch_all(&db)
            .await
            .unwrap()
    };
    for _ in 0..5 {
        try_sign_in(&svc, "ada@example.test", "wrong guess, again", &attacker()).await.unwrap_err();
    }
    // too soon: refused without being checked, counted or recorded (an attacker cannot flood the history)
    for _ in 0..20 {
        try_sign_in(&svc, "ada@example.test", "wrong guess, again", &attacker()).await.unwrap_err();
    }
    assert_eq!(kinds().await, vec!["sign_in_failed"; 5]);
    svc.clock.advance(Duration::seconds(15));
    try_sign_in(&svc, "ada@example.test", "wrong guess, again", &attacker()).await.unwrap_err();
    svc.clock.advance(Duration::seconds(30));
    try_sign_in(&svc, "ada@example.test", "wrong guess, again", &attacker()).await.unwrap_err();
    let k = kinds().await;
    assert_eq!(k.len(), 8, "{k:?}");
    assert_eq!(k.iter().filter(|k| *k == "sign_in_locked").count(), 1, "the 7th failure locked the path: {k:?}");
    let ip: Option<String> = sqlx::query_scalar("SELECT ip FROM security_events WHERE kind = 'sign_in_locked'").fetch_one(&db).await.unwrap();
    assert_eq!(ip.as_deref(), Some("203.0.113.66"));
    // the owner's wrong current password and re-verification attempts are recorded too
    let session = authenticate(&svc, &ada.token).await.unwrap().unwrap();
    let owners = browser(&ada.device);
    change_password(&svc, &session, &Password::new("not it at all"), &Password::new("purple tractors sing"), &owners).await.unwrap_err();
    domain::auth::reverify::with_password(&svc, &session, &Password::new("not it either"), &owners).await.unwrap_err();
    let k = kinds().await;
    assert!(k.contains(&"current_password_failed".to_string()) && k.contains(&"reverify_failed".to_string()), "{k:?}");
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn the_history_and_the_counters_are_kept_for_the_retention_period_only(db: PgPool) {
    let svc = services(db.clone());
    sign_up(&svc, "ada@example.test", None, &Password::new(PW), &attacker()).await.unwrap();
    try_sign_in(&svc, "ada@example.test", "wrong guess, again", &attacker()).await.unwrap_err();
    svc.clock.advance(Duration::days(89));
    let count = |sql: &'static str| {
        let db = db.clone();
        async move { sqlx::query_scalar::<_, i64>(sql).fetch_one(&db).await.unwrap() }
    };
    clean_up(&svc).await.unwrap();
    domain::auth::activity::prune(&svc).await.unwrap();
    // created, signed in, one failure
    assert_eq!(count("SELECT count(*) FROM security_events").await, 3, "89 days: kept");
    assert_eq!(count("SELECT count(*) FROM sign_in_throttles").await, 1);
    svc.clock.advance(Duration::days(2));
    clean_up(&svc).await.unwrap();
    assert_eq!(domain::auth::activity::prune(&svc).await.unwrap(), 3);
    assert_eq!(count("SELECT count(*) FROM security_events").await, 0, "91 days: gone");
    assert_eq!(count("SELECT count(*) FROM sign_in_throttles").await, 0);
}

/// Ada's account with an authenticator app (set up from the browser she signed up in): its secret.
async fn with_an_authenticator(svc: &Services) -> Vec<u8> {
    use domain::auth::{totp, two_factor};
    let (_, signed_up) = sign_up(svc, "ada@example.test", None, &Password::new(PW), &attacker()).await.unwrap();
    let session = authenticate(svc, &signed_up.token).await.unwrap().unwrap();
    let enrolment = two_factor::begin_enrolment(svc, &session).await.unwrap();
    let secret = testkit::base32_decode(&enrolment.manual_key);
    let code = totp::code_for_step(&secret, totp::step_at(svc.clock.now()));
    two_factor::finish_enrolment(svc, &session, &code, None, &ClientInfo::default()).await.unwrap();
    secret
}

/// Forgot password from `client`, the emailed link opened there and `new` chosen: the device cookie
/// the reset answers.
async fn reset_from(svc: &Services, db: &PgPool, client: &ClientInfo, new: &str) -> DeviceCookie {
    use domain::auth::email_links::{request_password_reset, reset_password, RESET_PATH};
    // (after the emails before it, so the reset link's is the newest)
    svc.clock.advance(Duration::seconds(1));
    request_password_reset(svc, "ada@example.test", client).await.unwrap();
    let text: String = sqlx::query_scalar(testkit::NEWEST_MAIL_TEXT).bind("ada@example.test").fetch_one(db).await.unwrap();
    let token = domain::secret::LinkToken::from_cookie(testkit::link_token(&text, RESET_PATH).expect("a reset link"));
    reset_password(svc, &token, &Password::new(new), client).await.unwrap()
}

/// Ada's password from `client`, which an authenticator app follows: the pending sign-in.
async fn code_step(svc: &Services, password: &str, client: &ClientInfo) -> domain::secret::PendingToken {
    match sign_in(svc, "ada@example.test", &Password::new(password), client).await {
        Err(DomainError::SecondStepRequired(pending)) => pending,
        other => panic!("expected the code step, got {other:?}"),
    }
}

fn new_phone() -> ClientInfo {
    ClientInfo { ip: Some("198.51.100.7".into()), user_agent: Some("Safari".into()), ..Default::default() }
}

/// The hardening issue's promise for an account with an authenticator app: someone who knows only
/// the address keeps its untrusted path locked (50 failures, then one guess an hour). The owner,
/// on a new phone, resets her password through the emailed link; that browser now counts on the
/// account's proven path, which the stranger cannot reach, so her new password leads to the code
/// step and her code signs her in. Before, the reset trusted no browser of such an account and
/// her right password was answered as a wrong one until the stranger stopped.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn strangers_who_lock_the_untrusted_path_cannot_keep_the_owner_of_an_account_with_an_authenticator_out(db: PgPool) {
    use domain::auth::{totp, two_factor};
    const NEW_PW: &str = "a different long passphrase 2026";
    let svc = services(db.clone());
    let secret = with_an_authenticator(&svc).await;
    lock_untrusted_path(&svc, &db, "ada@example.test").await;
    assert!(matches!(try_sign_in(&svc, "ada@example.test", PW, &new_phone()).await, Err(DomainError::InvalidCredentials)), "a new browser is locked out");

    let proven = reset_from(&svc, &db, &new_phone(), NEW_PW).await;
    let phone = ClientInfo { device: Some(proven.clone()), ..new_phone() };
    let pending = code_step(&svc, NEW_PW, &phone).await;
    let code = totp::code_for_step(&secret, totp::step_at(svc.clock.now()));
    let done = two_factor::complete_sign_in(&svc, &pending, two_factor::SecondStep::Authenticator, &code, &phone).await.expect("her code signs her in");
    assert!(authenticate(&svc, &done.token).await.unwrap().is_some());
    // a full sign-in: from now on the phone has a path of its own
    assert!(svc.device_cookies.path(Some(&done.device), done_user(&db).await, svc.clock.now(), None).is_trusted());
    // nobody else was let in: the stranger's path is still locked, for every other new browser too
    assert!(matches!(try_sign_in(&svc, "ada@example.test", NEW_PW, &new_phone()).await, Err(DomainError::InvalidCredentials)));
    assert!(matches!(try_sign_in(&svc, "ada@example.test", NEW_PW, &attacker()).await, Err(DomainError::InvalidCredentials)));
}

async fn done_user(db: &PgPool) -> domain::ids::UserId {
    domain::ids::UserId(sqlx::query_scalar("SELECT id FROM users").fetch_one(db).await.unwrap())
}

/// Someone holding Ada's mailbox but not her authenticator app resets her password from one
/// browser after another: every such browser counts on the one proven path, so their code guesses
/// meet that one path's limits however many resets they make (a row of its own per reset would
/// have given each a fresh budget). A browser that already signed in to the account keeps its own
/// path through a reset.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn however_many_resets_someone_holding_the_mailbox_makes_their_code_guesses_meet_one_paths_limits(db: PgPool) {
    use domain::auth::two_factor;
    let svc = services(db.clone());
    with_an_authenticator(&svc).await;
    let first = reset_from(&svc, &db, &new_phone(), "mailbox thief's choice one").await;
    let second = reset_from(&svc, &db, &attacker(), "mailbox thief's choice two").await;
    let ada = done_user(&db).await;
    assert_eq!(svc.device_cookies.path(Some(&first), ada, svc.clock.now(), None), svc.device_cookies.path(Some(&second), ada, svc.clock.now(), None), "one path for both");
    let (one, two) = (ClientInfo { device: Some(first), ..new_phone() }, ClientInfo { device: Some(second), ..attacker() });
    let pending = code_step(&svc, "mailbox thief's choice two", &one).await;
    for _ in 0..5 {
        two_factor::complete_sign_in(&svc, &pending, two_factor::SecondStep::Authenticator, "000000", &one).await.unwrap_err();
    }
    assert_eq!(failures(&db, "= 'proven'").await, 5, "the codes counted on the proven path");
    assert_eq!(failures(&db, "= ''").await, 0, "not on the untrusted one");
    // the other reset's browser, with the right password, waits like the first: no fresh budget
    assert!(matches!(try_sign_in(&svc, "ada@example.test", "mailbox thief's choice two", &two).await, Err(DomainError::InvalidCredentials)));
    // a browser that fully signed in to the account before gets the proven path through a reset
    // too: its entry is from before the new password
    let ada_s_own = ClientInfo { device: Some(svc.device_cookies.issue(None, ada, svc.clock.now())), ..attacker() };
    let after = reset_from(&svc, &db, &ada_s_own, "ada's own new passphrase").await;
    assert_eq!(svc.device_cookies.path(Some(&after), ada, svc.clock.now(), None), domain::auth::device_cookies::ThrottlePath::Proven);
}

/// The owner's own browser, after her own five typos: her next try waits, and says so with the
/// wait (`TooManyTries`), where it answered "Incorrect email or password." even to her right
/// password, and she would reset a password that was fine. Saying so there tells nothing about
/// accounts: that browser signed in to this one before. Every other browser still hears the
/// wrong-password answer while its path waits.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn the_owners_own_browser_hears_how_long_to_wait_and_every_other_browser_hears_a_wrong_password(db: PgPool) {
    let svc = services(db.clone());
    let (_, signed_up) = sign_up(&svc, "ada@example.test", None, &Password::new(PW), &attacker()).await.unwrap();
    let owners = browser(&signed_up.device);
    for _ in 0..5 {
        let r = try_sign_in(&svc, "ada@example.test", "my own typo", &owners).await;
        assert!(matches!(r, Err(DomainError::InvalidCredentials)), "{r:?}");
    }
    let r = try_sign_in(&svc, "ada@example.test", PW, &owners).await;
    assert!(matches!(r, Err(DomainError::TooManyTries { retry_after_seconds: 15 })), "{r:?}");
    svc.clock.advance(Duration::seconds(10));
    let r = try_sign_in(&svc, "ada@example.test", PW, &owners).await;
    assert!(matches!(r, Err(DomainError::TooManyTries { retry_after_seconds: 5 })), "{r:?}");
    // strangers on the untrusted path: waiting there is answered as a wrong password
    for _ in 0..5 {
        try_sign_in(&svc, "ada@example.test", "a stranger's guess", &attacker()).await.unwrap_err();
    }
    assert!(matches!(try_sign_in(&svc, "ada@example.test", PW, &attacker()).await, Err(DomainError::InvalidCredentials)));
    svc.clock.advance(Duration::seconds(5));
    assert!(try_sign_in(&svc, "ada@example.test", PW, &owners).await.is_ok(), "after the wait, her password works");
}

/// Someone who once knew Ada's password signed in from two cookie-less browsers and kept both
/// cookies (any number could be collected, one per sign-in). Once she changes her password, each
/// is no fresh budget of guesses at the new one: at sign-in all count on the account's one stale
/// path, which strangers who never signed in cannot reach. The browser she changed it in keeps its
/// own path; her other old browser shares the stale one until its next full sign-in renews it.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn entries_from_before_a_password_change_share_one_stale_path_at_sign_in(db: PgPool) {
    const NEW_PW: &str = "a different long passphrase 2026";
    let svc = services(db.clone());
    let (_, signed_up) = sign_up(&svc, "ada@example.test", None, &Password::new(PW), &attacker()).await.unwrap();
    let first = sign_in(&svc, "ada@example.test", &Password::new(PW), &attacker()).await.unwrap().device;
    let second = sign_in(&svc, "ada@example.test", &Password::new(PW), &attacker()).await.unwrap().device;
    let her_other = sign_in(&svc, "ada@example.test", &Password::new(PW), &new_phone()).await.unwrap().device;
    svc.clock.advance(Duration::minutes(1));
    let hers = authenticate(&svc, &signed_up.token).await.unwrap().unwrap();
    let changed = change_password(&svc, &hers, &Password::new(PW), &Password::new(NEW_PW), &browser(&signed_up.device)).await.unwrap();
    for _ in 0..5 {
        try_sign_in(&svc, "ada@example.test", "a guess at the new one", &browser(&first)).await.unwrap_err();
    }
    assert_eq!(failures(&db, "= 'stale'").await, 5, "counted on the stale path");
    assert_eq!(failures(&db, "= ''").await, 0, "not on the strangers' path");
    // the second copy gets no fresh budget: it waits, and, as a browser that signed in before, hears so
    assert!(matches!(try_sign_in(&svc, "ada@example.test", NEW_PW, &browser(&second)).await, Err(DomainError::TooManyTriesOnAccount { .. })));
    // strangers neither wait for it nor add to it
    try_sign_in(&svc, "ada@example.test", "a stranger's guess", &ClientInfo { device: None, ..attacker() }).await.unwrap_err();
    assert_eq!((failures(&db, "= ''").await, failures(&db, "= 'stale'").await), (1, 5));
    // the browser that changed the password got its entry with the change: its own path
    try_sign_in(&svc, "ada@example.test", "her typo", &browser(&changed.device)).await.unwrap_err();
    assert_eq!(failures(&db, "NOT IN ('', 'stale')").await, 1, "on its own path");
    // her other browser waits with the copies, then signs in, and has its own path again
    svc.clock.advance(Duration::seconds(15));
    let renewed = sign_in(&svc, "ada@example.test", &Password::new(NEW_PW), &browser(&her_other)).await.unwrap().device;
    let changed_at = domain::db::users::find(&db, hers.user_id).await.unwrap().unwrap().secrets_changed_at;
    assert!(svc.device_cookies.path(Some(&renewed), hers.user_id, svc.clock.now(), changed_at).is_trusted());
    assert_eq!(svc.device_cookies.path(Some(&her_other), hers.user_id, svc.clock.now(), changed_at), domain::auth::device_cookies::ThrottlePath::Stale);
}

/// The same once Ada turns on an authenticator app without changing her password (someone may
/// still know it): an entry from before counts its password, and so the codes of the pending
/// sign-in that follows, on the stale path, so copies collected earlier cannot each try five codes
/// at a time.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn entries_from_before_the_authenticator_count_its_codes_on_the_stale_path(db: PgPool) {
    use domain::auth::two_factor;
    let svc = services(db.clone());
    let (_, signed_up) = sign_up(&svc, "ada@example.test", None, &Password::new(PW), &attacker()).await.unwrap();
    let kept = sign_in(&svc, "ada@example.test", &Password::new(PW), &attacker()).await.unwrap().device;
    svc.clock.advance(Duration::minutes(1));
    let session = authenticate(&svc, &signed_up.token).await.unwrap().unwrap();
    let enrolment = two_factor::begin_enrolment(&svc, &session).await.unwrap();
    let code = domain::auth::totp::code_for_step(&testkit::base32_decode(&enrolment.manual_key), domain::auth::totp::step_at(svc.clock.now()));
    two_factor::finish_enrolment(&svc, &session, &code, None, &ClientInfo::default()).await.unwrap();
    // the browser that turned it on gets its entry renewed with it: its own path, where its old
    // entry (as every copy) is on the stale one
    let hers = browser(&signed_up.device);
    let renewed = two_factor::device_after_enrolment(&svc, &session, &hers).await.unwrap().expect("the app is on");
    let fresh_from = domain::db::users::find(&db, session.user_id).await.unwrap().unwrap().secrets_changed_at;
    assert!(svc.device_cookies.path(Some(&renewed), session.user_id, svc.clock.now(), fresh_from).is_trusted());
    assert_eq!(
        svc.device_cookies.path(Some(&signed_up.device), session.user_id, svc.clock.now(), fresh_from),
        domain::auth::device_cookies::ThrottlePath::Stale
    );
    let copy = browser(&kept);
    let pending = code_step(&svc, PW, &copy).await;
    for _ in 0..5 {
        two_factor::complete_sign_in(&svc, &pending, two_factor::SecondStep::Authenticator, "000000", &copy).await.unwrap_err();
    }
    assert_eq!(failures(&db, "= 'stale'").await, 5, "the codes counted on the stale path");
    assert_eq!(failures(&db, "NOT IN ('', 'stale')").await, 0, "not on a path of the copy's own");
}

/// Ada's usual browser, with a full sign-in's entry, while strangers keep the untrusted path
/// locked and someone holding copies of old entries keeps the stale one locked: she resets her
/// password there. The reset replaces her entry, which the new password made stale, with a proven
/// one, so her new password reaches the code step and her code signs her in (kept, her entry
/// would have counted on the locked stale path).
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn her_usual_browser_reaches_the_code_step_after_a_reset_while_strangers_keep_guessing(db: PgPool) {
    use domain::auth::{totp, two_factor};
    const NEW_PW: &str = "a different long passphrase 2026";
    let svc = services(db.clone());
    let secret = with_an_authenticator(&svc).await;
    let ada = done_user(&db).await;
    let usual = ClientInfo { device: Some(svc.device_cookies.issue(None, ada, svc.clock.now())), ..new_phone() };
    lock_untrusted_path(&svc, &db, "ada@example.test").await;
    let proven = reset_from(&svc, &db, &usual, NEW_PW).await;
    sqlx::query("INSERT INTO sign_in_throttles (user_id, device, failed_attempts, last_failed_at, locked_until) VALUES ($1, 'stale', 50, $2, $2 + interval '1 hour')")
        .bind(ada.0)
        .bind(svc.clock.now())
        .execute(&db)
        .await
        .unwrap();
    let usual = ClientInfo { device: Some(proven), ..usual };
    let pending = code_step(&svc, NEW_PW, &usual).await;
    let code = totp::code_for_step(&secret, totp::step_at(svc.clock.now()));
    two_factor::complete_sign_in(&svc, &pending, two_factor::SecondStep::Authenticator, &code, &usual).await.expect("her code signs her in");
}
