//! Database tests: a fresh Postgres database per test (`#[sqlx::test]`), migrations applied.
use domain::auth::accounts::{change_password, sign_in};
use common::sign_up;
use domain::auth::sessions::{authenticate, list, sign_out};
use domain::request::ClientInfo;
use domain::secret::{Password, SessionToken};
use domain::error::{Invalid, PasswordRejection};
use domain::{DomainError, Services};
use policy::password::Verdict;
use sqlx::PgPool;
use time::Duration;

use crate::common;
use common::{services, PW};

fn client(ua: &str) -> ClientInfo {
    ClientInfo { ip: Some("203.0.113.9".into()), user_agent: Some(ua.into()), country: Some("DE".into()), ..Default::default() }
}

async fn who(svc: &Services, token: &SessionToken) -> Option<String> {
    authenticate(svc, token).await.unwrap().map(|s| s.email)
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn sign_up_signs_in_and_emails_are_unique_ignoring_case_and_spaces(db: PgPool) {
    let svc = services(db);
    let (_, token) = sign_up(&svc, "Ada@Example.test", Some("Ada"), &Password::new(PW), &client("A")).await.unwrap();
    let token = token.token;
    assert_eq!(who(&svc, &token).await.as_deref(), Some("Ada@Example.test"));
    let dup = sign_up(&svc, "  ada@EXAMPLE.test ", None, &Password::new(PW), &client("B")).await;
    assert!(matches!(dup, Err(DomainError::EmailTaken)), "{dup:?}");
    // and signing in works with any case
    assert!(sign_in(&svc, " ADA@example.TEST", &Password::new(PW), &client("C")).await.is_ok());
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn simultaneous_duplicate_sign_ups_create_exactly_one_account(db: PgPool) {
    let svc = services(db.clone());
    let mut tasks = Vec::new();
    for i in 0..8 {
        let svc = svc.clone();
        let email = if i % 2 == 0 { "race@example.test" } else { "RACE@example.test" };
        tasks.push(tokio::spawn(async move { sign_up(&svc, email, None, &Password::new(PW), &client("x")).await }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(DomainError::EmailTaken) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(ok, 1);
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(&db).await.unwrap();
    assert_eq!(n, 1);
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn bad_input_is_refused_with_a_reason_and_nothing_is_created(db: PgPool) {
    let svc = services(db.clone());
    let short = sign_up(&svc, "ada@example.test", None, &Password::new("too short"), &client("x")).await;
    assert!(matches!(&short, Err(DomainError::PasswordRejected(PasswordRejection::Rule(Verdict::TooShort { min: 15, .. })))), "{short:?}");
    let bad_email = sign_up(&svc, "not-an-email", None, &Password::new(PW), &client("x")).await;
    assert!(matches!(bad_email, Err(DomainError::Invalid(Invalid::EmailMalformed))));
    let long_name = sign_up(&svc, "ada@example.test", Some(&"n".repeat(101)), &Password::new(PW), &client("x")).await;
    assert!(matches!(long_name, Err(DomainError::Invalid(Invalid::DisplayNameTooLong))));
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(&db).await.unwrap();
    assert_eq!(n, 0);
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn an_address_longer_in_bytes_than_in_characters_signs_in_with_its_password(db: PgPool) {
    let svc = services(db);
    // 160 characters, 312 bytes (each é is two): the 254 limit counts characters
    let email = format!("{}@{}test", "é".repeat(32), format!("{}.", "é".repeat(40)).repeat(3));
    sign_up(&svc, &email, None, &Password::new(PW), &client("A")).await.unwrap();
    assert!(sign_in(&svc, &email, &Password::new(PW), &client("B")).await.is_ok());
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn an_oversized_current_password_is_wrong_not_a_rule_for_the_new_one(db: PgPool) {
    let svc = services(db);
    let (_, t) = sign_up(&svc, "ada@example.test", None, &Password::new(PW), &client("A")).await.unwrap();
    let auth = authenticate(&svc, &t.token).await.unwrap().unwrap();
    let oversized = Password::new("x".repeat(domain::auth::password::MAX_LENGTH + 1));
    let r = change_password(&svc, &auth, &oversized, &Password::new("a different long passphrase 2026"), &client("A")).await;
    assert!(matches!(r, Err(DomainError::Invalid(Invalid::CurrentPasswordWrong))), "{r:?}");
    assert!(sign_in(&svc, "ada@example.test", &Password::new(PW), &client("B")).await.is_ok(), "unchanged");
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn unknown_email_and_wrong_password_are_the_same_error(db: PgPool) {
    let svc = services(db);
    sign_up(&svc, "ada@example.test", None, &Password::new(PW), &client("x")).await.unwrap();
    let wrong = sign_in(&svc, "ada@example.test", &Password::new("wrong horse battery staple"), &client("x")).await;
    let unknown = sign_in(&svc, "nobody@example.test", &Password::new(PW), &client("x")).await;
    assert!(matches!(wrong, Err(DomainError::InvalidCredentials)));
    assert!(matches!(unknown, Err(DomainError::InvalidCredentials)));
    assert_eq!(format!("{:?}", wrong.unwrap_err()), format!("{:?}", unknown.unwrap_err()));
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn every_sign_in_gets_a_new_token_and_only_its_hash_is_stored(db: PgPool) {
    let svc = services(db.clone());
    sign_up(&svc, "ada@example.test", None, &Password::new(PW), &client("x")).await.unwrap();
    let a = sign_in(&svc, "ada@example.test", &Password::new(PW), &client("x")).await.unwrap().token;
    let b = sign_in(&svc, "ada@example.test", &Password::new(PW), &client("x")).await.unwrap().token;
    assert_ne!(a, b);
    let stored: Vec<Vec<u8>> = sqlx::query_scalar("SELECT token_hash FROM sessions").fetch_all(&db).await.unwrap();
    assert_eq!(stored.len(), 3);
    for token in [&a, &b] {
        let raw = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, token.expose()).unwrap();
        assert!(!stored.contains(&raw), "the raw token must never be stored");
        let hash = domain::auth::sessions::token_hash(token).unwrap().to_vec();
        assert!(stored.contains(&hash));
    }
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn sessions_expire_by_idle_and_absolute_lifetime(db: PgPool) {
    let svc = services(db);
    let (_, token) = sign_up(&svc, "ada@example.test", None, &Password::new(PW), &client("x")).await.unwrap();
    let token = token.token;
    // Active every 50 minutes: idle (60 min) never triggers…
    for _ in 0..20 {
        svc.clock.advance(Duration::minutes(50));
        assert!(who(&svc, &token).await.is_some());
    }
    // …until the absolute lifetime (24 h) is reached.
    svc.clock.advance(Duration::hours(8));
    assert!(who(&svc, &token).await.is_none());

    let t2 = sign_in(&svc, "ada@example.test", &Password::new(PW), &client("x")).await.unwrap().token;
    svc.clock.advance(Duration::minutes(61));
    assert!(who(&svc, &t2).await.is_none(), "idle for longer than the idle timeout");
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn last_active_is_written_at_most_once_a_minute(db: PgPool) {
    let svc = services(db.clone());
    let (_, token) = sign_up(&svc, "ada@example.test", None, &Password::new(PW), &client("x")).await.unwrap();
    let token = token.token;
    let seen = || async { sqlx::query_scalar::<_, time::OffsetDateTime>("SELECT last_seen_at FROM sessions").fetch_one(&db).await.unwrap() };
    let t0 = seen().await;
    svc.clock.advance(Duration::seconds(30));
    authenticate(&svc, &token).await.unwrap();
    assert_eq!(seen().await, t0, "no write within the interval");
    svc.clock.advance(Duration::seconds(31));
    authenticate(&svc, &token).await.unwrap();
    assert_eq!(seen().await, t0 + Duration::seconds(61));
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn sign_out_ends_the_session_at_once_and_keeps_the_row(db: PgPool) {
    let svc = services(db.clone());
    let (_, token) = sign_up(&svc, "ada@example.test", None, &Password::new(PW), &client("x")).await.unwrap();
    let token = token.token;
    let session = authenticate(&svc, &token).await.unwrap().unwrap();
    sign_out(&svc, &session, &ClientInfo::default()).await.unwrap();
    assert!(who(&svc, &token).await.is_none());
    let reason: Option<String> = sqlx::query_scalar("SELECT revoked_reason FROM sessions").fetch_one(&db).await.unwrap();
    assert_eq!(reason.as_deref(), Some("signed_out"));
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn sessions_list_shows_only_this_accounts_live_sessions_current_first(db: PgPool) {
    let svc = services(db);
    let (_, mine) = sign_up(&svc, "ada@example.test", None, &Password::new(PW), &client("Firefox")).await.unwrap();
    let mine = mine.token;
    svc.clock.advance(Duration::minutes(2));
    let other_device = sign_in(&svc, "ada@example.test", &Password::new(PW), &client("Safari")).await.unwrap().token;
    sign_up(&svc, "bob@example.test", None, &Password::new(PW), &client("Bob's browser")).await.unwrap();
    let ended = sign_in(&svc, "ada@example.test", &Password::new(PW), &client("Ended")).await.unwrap().token;
    let ended = authenticate(&svc, &ended).await.unwrap().unwrap();
    sign_out(&svc, &ended, &ClientInfo::default()).await.unwrap();

    let me = authenticate(&svc, &mine).await.unwrap().unwrap();
    let rows = list(&svc, &me).await.unwrap();
    let agents: Vec<_> = rows.iter().map(|r| r.user_agent.clone().unwrap()).collect();
    assert_eq!(agents, vec!["Firefox", "Safari"]);
    assert!(rows[0].current && !rows[1].current);
    assert_eq!(rows[1].ip.as_deref(), Some("203.0.113.9"));
    assert!(authenticate(&svc, &other_device).await.unwrap().is_some());
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn changing_the_password_signs_out_everywhere_else_and_rotates_this_token(db: PgPool) {
    let svc = services(db.clone());
    let (user, here) = sign_up(&svc, "ada@example.test", None, &Password::new(PW), &client("here")).await.unwrap();
    let here = here.token;
    let elsewhere = sign_in(&svc, "ada@example.test", &Password::new(PW), &client("there")).await.unwrap().token;
    let session = authenticate(&svc, &here).await.unwrap().unwrap();
    let new_pw = Password::new("a brand new passphrase for ada");

    let wrong = change_password(&svc, &session, &Password::new("not my password at all"), &new_pw, &client("here")).await;
    assert!(matches!(wrong, Err(DomainError::Invalid(Invalid::CurrentPasswordWrong))));
    assert!(who(&svc, &elsewhere).await.is_some(), "a refused change changes nothing");

    let weak = change_password(&svc, &session, &Password::new(PW), &Password::new("short"), &client("here")).await;
    assert!(matches!(weak, Err(DomainError::PasswordRejected(_))));

    let fresh = change_password(&svc, &session, &Password::new(PW), &new_pw, &client("here")).await.unwrap().token;
    assert!(who(&svc, &elsewhere).await.is_none(), "other sessions are signed out");
    assert!(who(&svc, &here).await.is_none(), "the old token of this session stops working");
    let same = authenticate(&svc, &fresh).await.unwrap().unwrap();
    assert_eq!(same.session_id, session.session_id, "this session stays signed in with a new token");

    assert!(matches!(sign_in(&svc, "ada@example.test", &Password::new(PW), &client("x")).await, Err(DomainError::InvalidCredentials)));
    assert!(sign_in(&svc, "ada@example.test", &new_pw, &client("x")).await.is_ok());
    let kinds = domain::db::events::kinds(&db, user).await.unwrap();
    assert!(kinds.contains(&"password_changed".to_string()), "{kinds:?}");
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_session_token_of_one_account_never_reaches_another(db: PgPool) {
    let svc = services(db);
    let (_, ada) = sign_up(&svc, "ada@example.test", None, &Password::new(PW), &client("x")).await.unwrap();
    let ada = ada.token;
    let (_, bob) = sign_up(&svc, "bob@example.test", None, &Password::new(PW), &client("x")).await.unwrap();
    let bob = bob.token;
    let ada_session = authenticate(&svc, &ada).await.unwrap().unwrap();
    let bob_session = authenticate(&svc, &bob).await.unwrap().unwrap();
    // Revoking Bob's session id through Ada's account changes nothing.
    let changed = domain::db::sessions::revoke(&svc.db, ada_session.user_id, bob_session.session_id, svc.clock.now(), domain::kinds::RevokeReason::Revoked).await.unwrap();
    assert!(!changed);
    assert!(who(&svc, &bob).await.is_some());
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_sign_in_from_an_unfamiliar_device_or_country_is_flagged_for_14_days(db: PgPool) {
    const FIREFOX: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:140.0) Gecko/20100101 Firefox/140.0";
    const FIREFOX_NEWER: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:141.0) Gecko/20100101 Firefox/141.0";
    const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1";
    let svc = services(db);
    let (_, first) = sign_up(&svc, "ada@example.test", None, &Password::new(PW), &client(FIREFOX)).await.unwrap();
    let first = first.token;
    sign_in(&svc, "ada@example.test", &Password::new(PW), &client(FIREFOX_NEWER)).await.unwrap().token;
    sign_in(&svc, "ada@example.test", &Password::new(PW), &client(IPHONE)).await.unwrap().token;
    let abroad = ClientInfo { country: Some("BR".into()), ..client(FIREFOX) };
    sign_in(&svc, "ada@example.test", &Password::new(PW), &abroad).await.unwrap().token;

    let me = authenticate(&svc, &first).await.unwrap().unwrap();
    let flags = |rows: Vec<domain::auth::sessions::SessionSummary>| {
        let mut v: Vec<(String, bool)> = rows.into_iter().map(|r| (format!("{}{}", r.user_agent.unwrap(), r.ip.unwrap_or_default()), r.new_device)).collect();
        v.sort();
        v.into_iter().map(|(_, f)| f).filter(|f| *f).count()
    };
    // the first session and the same browser in a newer version are familiar; the iPhone and the
    // sign-in from Brazil are not
    assert_eq!(flags(list(&svc, &me).await.unwrap()), 2);
    svc.clock.advance(Duration::days(14));
    let again = sign_in(&svc, "ada@example.test", &Password::new(PW), &client(FIREFOX)).await.unwrap().token;
    let me = authenticate(&svc, &again).await.unwrap().unwrap();
    assert_eq!(flags(list(&svc, &me).await.unwrap()), 0, "the flag lasts 14 days and a familiar device is not new");
}

/// Sequential scans of `sessions` and `security_events` so far, as this connection's backend sees
/// them (its own counts are flushed first).
async fn sequential_scans(conn: &PgPool) -> i64 {
    sqlx::query("SELECT pg_stat_force_next_flush()").execute(conn).await.unwrap();
    sqlx::query_scalar(
        "SELECT sum(seq_scan)::bigint FROM pg_stat_user_tables WHERE relname IN ('sessions', 'security_events')",
    )
    .fetch_one(conn)
    .await
    .unwrap()
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_sign_in_finds_its_accounts_history_by_index_when_a_few_accounts_own_most_rows(db: PgPool) {
    // four busy accounts own 1,500 sessions and sign-in events each
    let svc = services(db.clone());
    for i in 0..4 {
        sign_up(&svc, &format!("busy{i}@example.test"), None, &Password::new(PW), &client("A")).await.unwrap();
    }
    sqlx::query(
        "INSERT INTO sessions (id, user_id, token_hash, created_at, last_seen_at, verified_at, auth_method, device_key)
         SELECT gen_random_uuid(), u.id, sha256(convert_to(gen_random_uuid()::text, 'UTF8')), now(), now(), now(),
                'password', 'Firefox|Linux'
         FROM users u, generate_series(1, 1500)",
    )
    .execute(&db)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO security_events (id, user_id, kind, network, created_at)
         SELECT gen_random_uuid(), u.id, 'signed_in', '198.51.100.0/24', now() FROM users u, generate_series(1, 1500)",
    )
    .execute(&db)
    .await
    .unwrap();
    sqlx::query("ANALYZE sessions, security_events").execute(&db).await.unwrap();

    // a newcomer signs in again and again over one connection, with the plan Postgres makes for
    // every account (a generic plan: what a pooled connection runs after its fifth sign-in)
    let options = (*db.connect_options()).clone().options([("plan_cache_mode", "force_generic_plan")]);
    let one = sqlx::postgres::PgPoolOptions::new().max_connections(1).connect_with(options).await.unwrap();
    let svc = services(one.clone());
    let (newcomer, _) = sign_up(&svc, "new@example.test", None, &Password::new(PW), &client("B")).await.unwrap();
    let before = sequential_scans(&one).await;
    for _ in 0..3 {
        domain::auth::sessions::start(&svc, newcomer, domain::kinds::SignInMethod::Password, &client("B")).await.unwrap();
    }
    // 6,000 rows of other accounts are never read to learn about this one
    assert_eq!(sequential_scans(&one).await - before, 0, "sign-ins scanned sessions or security_events");
}
