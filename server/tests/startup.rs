//! The real binary, as processes: it refuses to start when a migration fails or when demo accounts
//! would be reachable from the network, two instances on one database agree on which sessions are
//! live, and `server reseal-totp-secrets` re-seals and exits.
use std::process::Stdio;
use std::time::Duration;

use sqlx::PgPool;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

use testkit::server::CHEAP_HASHING;
use testkit::PW;

/// The URL of the test's own database (sqlx::test makes one per test).
fn url_of(db: &PgPool) -> String {
    let name = db.connect_options().get_database().unwrap().to_string();
    let base = std::env::var("DATABASE_URL").unwrap();
    format!("{}/{name}", base.rsplit_once('/').unwrap().0)
}

fn server(db_url: &str, addr: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_server"));
    let env = [("DATABASE_URL", db_url), ("GATEHOUSE_DEMO_ENABLED", "false"), ("GATEHOUSE_SITE_ADDR", addr)];
    cmd.env("GATEHOUSE_CONFIG", format!("{}/../Leptos.toml", testkit::manifest_dir()))
        .envs(testkit::server::env(&[CHEAP_HASHING, &env].concat()))
        .env("RUST_LOG", "warn")
        .kill_on_drop(true);
    cmd
}

#[sqlx::test(migrations = false)]
async fn a_failed_migration_stops_the_server_with_a_clear_message(db: PgPool) {
    // A table in the way of the first migration.
    sqlx::query("CREATE TABLE users (id int)").execute(&db).await.unwrap();
    let out = server(&url_of(&db), "127.0.0.1:0").output().await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the server must not start: {stderr}");
    assert!(stderr.contains("database migration failed, refusing to start"), "{stderr}");
}

/// A response, as far as these tests read it.
struct Reply {
    status: u16,
    headers: String,
    body: String,
}

impl Reply {
    fn cookie(&self) -> Option<String> {
        self.headers
            .lines()
            .filter_map(|l| l.strip_prefix("set-cookie: ").or_else(|| l.strip_prefix("Set-Cookie: ")))
            .find(|v| v.starts_with("__Host-gatehouse-session=") && !v.contains("Max-Age=0"))
            .map(|v| v.split(';').next().unwrap().to_string())
    }
}

/// One HTTP/1.1 request over a fresh connection, as a browser at the instance's public origin
/// (`http://localhost:<port>`, see `start`) would send it.
async fn request(port: u16, method: &str, path: &str, form: &str, cookie: Option<&str>) -> Reply {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost:{port}\r\nOrigin: http://localhost:{port}\r\nConnection: close\r\n"
    );
    if let Some(c) = cookie {
        req.push_str(&format!("Cookie: {c}\r\n"));
    }
    if method == "GET" {
        req.push_str("Accept: text/html\r\n");
    } else {
        req.push_str(&format!("Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n", form.len()));
    }
    req.push_str("\r\n");
    req.push_str(form);
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (headers, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = headers.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    Reply { status, headers: headers.replace("\r\n", "\n"), body: body.to_string() }
}

/// Starts an instance on a free port and waits until it answers. Its public origin is
/// `http://localhost:<port>`, as `scripts/e2e-server.sh` configures it.
async fn start(db_url: &str) -> (Child, u16) {
    start_with(db_url, &[]).await
}

async fn start_with(db_url: &str, env: &[(&str, &str)]) -> (Child, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = server(db_url, &format!("127.0.0.1:{port}"))
        .env("GATEHOUSE_PASSKEYS_ORIGIN", format!("http://localhost:{port}"))
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..300 {
        if let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
            let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
            let mut out = String::new();
            let _ = s.read_to_string(&mut out).await;
            if out.starts_with("HTTP/1.1 200") {
                return (child, port);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the server on port {port} did not start");
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn two_instances_on_one_database_refuse_a_session_revoked_on_either(db: PgPool) {
    let url = url_of(&db);
    let ((_a, a), (_b, b)) = tokio::join!(start(&url), start(&url));
    assert_ne!(a, b);
    let asked = request(a, "POST", "/api/auth/sign-up", "email=ada%40example.test&display_name=", None).await;
    assert_eq!(asked.status, 200, "{}", asked.body);
    let text: String = sqlx::query_scalar(testkit::NEWEST_MAIL_TEXT).bind("ada@example.test").fetch_one(&db).await.unwrap();
    let token = testkit::link_token(&text, "/sign-up/finish").expect("a sign-up link");
    let signup = request(a, "POST", "/api/auth/sign-up/finish", &format!("token={token}&password={}", PW.replace(' ', "+")), None).await;
    assert_eq!(signup.status, 200, "{}", signup.body);
    let here = signup.cookie().unwrap();
    // a second device signs in through instance B
    let there = request(b, "POST", "/api/auth/sign-in", &format!("email=ada%40example.test&password={}", PW.replace(' ', "+")), None)
        .await
        .cookie()
        .unwrap();
    assert_eq!(request(a, "GET", "/settings/security", "", Some(&there)).await.status, 200, "B's session works on A");

    // both instances keep the sessions they checked in memory (see `a_session_revoked_without_…`)
    assert_eq!(request(b, "GET", "/settings/security", "", Some(&there)).await.status, 200);
    assert_eq!(request(b, "GET", "/settings/security", "", Some(&here)).await.status, 200);

    // the first device ends the second one through A…
    let ended = request(a, "POST", "/api/security/sessions/revoke-others", "", Some(&here)).await;
    assert_eq!((ended.status, ended.body.trim()), (200, "1"));
    let revoked_at = std::time::Instant::now();
    // …and B refuses it within 100 ms (Postgres announces the change; B forgets what it kept)
    let refused = refused_within(b, &there, Duration::from_millis(100)).await;
    assert!(refused.headers.to_ascii_lowercase().contains("&ended=1"), "{}", refused.headers);
    assert!(revoked_at.elapsed() <= Duration::from_millis(100), "refused after {:?}", revoked_at.elapsed());
    assert_eq!(request(b, "GET", "/settings/security", "", Some(&here)).await.status, 200);

    // the other way round: signed out through B, refused by A; B itself refuses it at once
    assert_eq!(request(a, "GET", "/settings/security", "", Some(&here)).await.status, 200);
    let out = request(b, "POST", "/api/auth/sign-out", "", Some(&here)).await;
    assert_eq!(out.status, 200, "{}", out.body);
    assert_eq!(request(b, "GET", "/settings/security", "", Some(&here)).await.status, 303);
    refused_within(a, &here, Duration::from_millis(100)).await;
}

/// Asks `port` with `cookie` every 5 ms until it sends the browser to sign-in (303); fails the test
/// if that takes longer than `limit`.
async fn refused_within(port: u16, cookie: &str, limit: Duration) -> Reply {
    let start = std::time::Instant::now();
    loop {
        let reply = request(port, "GET", "/settings/security", "", Some(cookie)).await;
        if reply.status == 303 {
            return reply;
        }
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert!(start.elapsed() < limit, "still signed in {:?} after the revocation", start.elapsed());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Ends a session the way no instance hears about: in a transaction with the announcing trigger
/// switched off (as if the announcement were lost).
async fn revoke_unannounced(db: &PgPool, cookie: &str) {
    let token = cookie.split_once('=').unwrap().1;
    let hash = domain::auth::sessions::hash_cookie_token(token).unwrap();
    let mut tx = db.begin().await.unwrap();
    sqlx::query("ALTER TABLE sessions DISABLE TRIGGER sessions_announce_change").execute(&mut *tx).await.unwrap();
    let n = sqlx::query("UPDATE sessions SET revoked_at = now(), revoked_reason = 'signed_out' WHERE token_hash = $1 AND revoked_at IS NULL")
        .bind(&hash[..])
        .execute(&mut *tx)
        .await
        .unwrap()
        .rows_affected();
    assert_eq!(n, 1);
    sqlx::query("ALTER TABLE sessions ENABLE TRIGGER sessions_announce_change").execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
}

/// Waits until the instance listens (and so keeps the sessions it checks), then has it check
/// `cookie`'s: kept from then on.
async fn kept(port: u16, db: &PgPool, cookie: &str) {
    listener_pid(db, None).await;
    tokio::time::sleep(Duration::from_millis(100)).await; // (it starts keeping sessions just after)
    assert_eq!(request(port, "GET", "/settings/security", "", Some(cookie)).await.status, 200);
}

/// One anonymous POST while Postgres announces no session change (the announcing trigger off), as
/// if its announcement were lost.
async fn post_unannounced(port: u16, db: &PgPool, path: &str, form: &str) -> Reply {
    sqlx::query("ALTER TABLE sessions DISABLE TRIGGER sessions_announce_change").execute(db).await.unwrap();
    let reply = request(port, "POST", path, form, None).await;
    sqlx::query("ALTER TABLE sessions ENABLE TRIGGER sessions_announce_change").execute(db).await.unwrap();
    reply
}

/// The pid of the instance's session listener connection, once it is listening.
async fn listener_pid(db: &PgPool, not: Option<i32>) -> i32 {
    for _ in 0..200 {
        let pids: Vec<i32> = sqlx::query_scalar("SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()")
            .bind(domain::auth::session_cache::LISTENER_NAME)
            .fetch_all(db)
            .await
            .unwrap();
        if let Some(pid) = pids.into_iter().find(|p| Some(*p) != not) {
            return pid;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no session listener connected");
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_session_revoked_without_an_announcement_is_refused_once_the_listener_is_cut(db: PgPool) {
    let url = url_of(&db);
    // a long reconnect delay keeps the instance without its listener for the rest of the test
    let (_server, port) = start_with(&url, &[("GATEHOUSE_SESSION_CACHE_RECONNECT_SECONDS", "600")]).await;
    let cookie = signed_up(port, &db, "ada@example.test").await;
    let second = sign_in(port, "ada@example.test").await;
    let listener = listener_pid(&db, None).await;
    tokio::time::sleep(Duration::from_millis(100)).await; // (it starts keeping sessions just after)

    // while listening, the instance answers from memory: a change it never hears of goes unseen
    // (what the announcements are for)
    assert_eq!(request(port, "GET", "/settings/security", "", Some(&second)).await.status, 200);
    revoke_unannounced(&db, &second).await;
    assert_eq!(request(port, "GET", "/settings/security", "", Some(&second)).await.status, 200, "answered from memory");

    // the listener's connection is cut: from then on every request asks Postgres
    assert_eq!(request(port, "GET", "/settings/security", "", Some(&cookie)).await.status, 200);
    let ended: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)").bind(listener).fetch_one(&db).await.unwrap();
    assert!(ended);
    for _ in 0..200 {
        let gone: bool = sqlx::query_scalar("SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)").bind(listener).fetch_one(&db).await.unwrap();
        if gone {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(request(port, "GET", "/settings/security", "", Some(&second)).await.status, 303, "the earlier unannounced revocation");
    revoke_unannounced(&db, &cookie).await;
    assert_eq!(request(port, "GET", "/settings/security", "", Some(&cookie)).await.status, 303, "refused on its very next request");
}

/// Anonymous requests (a wrong password, a made-up path) change no session: they leave what the
/// instance keeps alone. Forgetting everything at each one let any client, with a stream of such
/// POSTs, make every signed-in request of the instance ask Postgres.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn anonymous_requests_leave_the_sessions_an_instance_keeps_alone(db: PgPool) {
    let url = url_of(&db);
    let (_server, port) = start(&url).await;
    let cookie = signed_up(port, &db, "ada@example.test").await;
    kept(port, &db, &cookie).await;
    // (seen from outside: a revocation no instance hears of goes unseen while the session is kept)
    revoke_unannounced(&db, &cookie).await;

    let wrong = request(port, "POST", "/api/auth/sign-in", "email=ada%40example.test&password=not+the+password", None).await;
    assert_eq!(wrong.status, 401, "{}", wrong.body);
    assert_eq!(request(port, "POST", "/api/nothing-here", "a=1", None).await.status, 404);
    assert_eq!(request(port, "GET", "/settings/security", "", Some(&cookie)).await.status, 200, "still kept");
}

/// The anonymous requests that end sessions forget their account in this instance themselves: a
/// reset link's sessions are refused on the very next request, even were Postgres' announcement
/// lost.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_password_reset_through_its_link_is_refused_at_once_on_the_instance_that_made_it(db: PgPool) {
    let url = url_of(&db);
    let (_server, port) = start(&url).await;
    let cookie = signed_up(port, &db, "ada@example.test").await;
    kept(port, &db, &cookie).await;
    let asked = request(port, "POST", "/api/auth/forgot-password", "email=ada%40example.test", None).await;
    assert_eq!(asked.status, 200, "{}", asked.body);
    let mut token = None;
    for _ in 0..200 {
        let text: String = sqlx::query_scalar(testkit::NEWEST_MAIL_TEXT).bind("ada@example.test").fetch_one(&db).await.unwrap();
        token = testkit::link_token(&text, "/reset-password");
        if token.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let token = token.expect("a reset link");

    let reset = post_unannounced(port, &db, "/api/auth/reset-password", &format!("token={token}&password=a+brand+new+correct+horse+battery")).await;
    assert_eq!(reset.status, 200, "{}", reset.body);
    assert_eq!(request(port, "GET", "/settings/security", "", Some(&cookie)).await.status, 303, "refused at once");
}

/// "This wasn't me" (anonymous, through its emailed link) forgets its account in this instance
/// itself too: the reported session is refused on the very next request, even were Postgres'
/// announcement lost.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_sign_in_reported_through_its_link_is_refused_at_once_on_the_instance_that_took_the_report(db: PgPool) {
    let url = url_of(&db);
    let (_server, port) = start(&url).await;
    signed_up(port, &db, "ada@example.test").await;
    let theirs = sign_in(port, "ada@example.test").await;
    // (from the same address a sign-in raises no alert: this one's is made here, as
    // `activity::signed_in` makes it for an unfamiliar sign-in)
    let session = domain::auth::sessions::hash_cookie_token(theirs.split_once('=').unwrap().1).unwrap();
    let (token, hash) = domain::auth::sessions::new_cookie_token();
    sqlx::query(
        "INSERT INTO sign_in_alerts (id, user_id, event_id, session_id, device_key, token_hash, created_at, expires_at)
         SELECT gen_random_uuid(), s.user_id, e.id, s.id, 'Unknown|Unknown', $2, s.created_at, s.created_at + interval '72 hours'
         FROM sessions s JOIN security_events e ON e.session_id = s.id AND e.kind = 'signed_in' WHERE s.token_hash = $1",
    )
    .bind(&session[..])
    .bind(&hash[..])
    .execute(&db)
    .await
    .unwrap();
    kept(port, &db, &theirs).await;

    let reported = post_unannounced(port, &db, "/api/auth/not-me", &format!("token={token}")).await;
    assert_eq!(reported.status, 200, "{}", reported.body);
    assert_eq!(request(port, "GET", "/settings/security", "", Some(&theirs)).await.status, 303, "refused at once");
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_reconnected_listener_starts_with_nothing_kept(db: PgPool) {
    let url = url_of(&db);
    let (_server, port) = start(&url).await;
    let cookie = signed_up(port, &db, "ada@example.test").await;
    let listener = listener_pid(&db, None).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(request(port, "GET", "/settings/security", "", Some(&cookie)).await.status, 200);
    // cut, and revoked while nobody listened: the instance connects again (after 1 s)…
    let _: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)").bind(listener).fetch_one(&db).await.unwrap();
    revoke_unannounced(&db, &cookie).await;
    listener_pid(&db, Some(listener)).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    // …and what it kept before is gone
    assert_eq!(request(port, "GET", "/settings/security", "", Some(&cookie)).await.status, 303);
}

/// Signs up `email` through the emailed link; answers the session cookie.
async fn signed_up(port: u16, db: &PgPool, email: &str) -> String {
    let form = format!("email={}&display_name=", email.replace('@', "%40"));
    let asked = request(port, "POST", "/api/auth/sign-up", &form, None).await;
    assert_eq!(asked.status, 200, "{}", asked.body);
    let text: String = sqlx::query_scalar(testkit::NEWEST_MAIL_TEXT).bind(email).fetch_one(db).await.unwrap();
    let token = testkit::link_token(&text, "/sign-up/finish").expect("a sign-up link");
    let signup = request(port, "POST", "/api/auth/sign-up/finish", &format!("token={token}&password={}", PW.replace(' ', "+")), None).await;
    assert_eq!(signup.status, 200, "{}", signup.body);
    signup.cookie().unwrap()
}

async fn sign_in(port: u16, email: &str) -> String {
    let form = format!("email={}&password={}", email.replace('@', "%40"), PW.replace(' ', "+"));
    request(port, "POST", "/api/auth/sign-in", &form, None).await.cookie().unwrap()
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn without_keys_for_secrets_the_server_refuses_to_start(db: PgPool) {
    let out = server(&url_of(&db), "127.0.0.1:0").env("GATEHOUSE_SECRETS_TOTP_KEYS", "").output().await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("totp_keys") && stderr.contains("GATEHOUSE_SECRETS_TOTP_KEYS"), "{stderr}");
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_non_loopback_address_with_demo_accounts_refuses_to_start(db: PgPool) {
    let run = server(&url_of(&db), "0.0.0.0:0").env("GATEHOUSE_DEMO_ENABLED", "true").output();
    // (a server that did start would run until killed: give up on it after a while)
    let out = tokio::time::timeout(Duration::from_secs(30), run).await.expect("the server must refuse to start, not serve").unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains(
            "[demo] enabled is for development only: refusing to create demo accounts with a known password while \
             listening on 0.0.0.0:0 (a non-loopback address). Set GATEHOUSE_DEMO_ENABLED=false."
        ),
        "{stderr}"
    );
    let accounts: i64 = sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(&db).await.unwrap();
    assert_eq!(accounts, 0, "no demo account was created");
}

/// The TOTP key of the test environment (`testkit::server::env`).
const KEY_A: &str = testkit::TOTP_KEYS;
const KEY_B: &str = "k2:HxwdHBsaGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA=";

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn the_reseal_command_moves_totp_secrets_to_the_first_key_and_exits(db: PgPool) {
    // an account in the middle of setting up an authenticator app, its secret sealed under key A
    let env = testkit::server::env(CHEAP_HASHING);
    let config = server::Config::from_toml(include_str!("../../Leptos.toml"), env).unwrap();
    let svc = server::AppState::new(config, db.clone(), domain::clock::Clock::system()).unwrap().services.clone();
    let client = domain::request::ClientInfo::default();
    let user = domain::auth::accounts::create_account(&svc, "ada@example.test", None, &domain::secret::Password::new(PW), &client).await.unwrap();
    let token = domain::auth::sessions::start(&svc, user, domain::kinds::SignInMethod::Password, &client).await.unwrap();
    let session = domain::auth::sessions::authenticate(&svc, &token.token).await.unwrap().unwrap();
    domain::auth::two_factor::begin_enrolment(&svc, &session).await.unwrap();

    let reseal = || server(&url_of(&db), "127.0.0.1:0").arg("reseal-totp-secrets").env("GATEHOUSE_SECRETS_TOTP_KEYS", format!("{KEY_B},{KEY_A}")).output();
    let out = tokio::time::timeout(Duration::from_secs(30), reseal()).await.expect("the command exits").unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("Re-sealed 1 TOTP secret under the key \"k2\"; 0 TOTP secrets already used it."), "{stdout}");
    let key: String = sqlx::query_scalar("SELECT key_id FROM totp_enrolments").fetch_one(&db).await.unwrap();
    assert_eq!(key, "k2");
    let out = tokio::time::timeout(Duration::from_secs(30), reseal()).await.expect("the command exits").unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("Re-sealed 0 TOTP secrets under the key \"k2\"; 1 TOTP secret already used it."), "{stdout}");
}

#[sqlx::test(migrations = false)]
async fn the_reseal_command_refuses_a_database_without_this_versions_migrations(db: PgPool) {
    let run = server(&url_of(&db), "127.0.0.1:0").arg("reseal-totp-secrets").output();
    let out = tokio::time::timeout(Duration::from_secs(30), run).await.expect("the command exits").unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("the database lacks migration") && stderr.contains("start the server once"), "{stderr}");
    let tables: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetch_one(&db).await.unwrap();
    assert_eq!(tables, 0, "it migrates nothing itself");
}
