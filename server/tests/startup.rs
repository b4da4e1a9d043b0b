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
    cmd.env("GATEHOUSE_CONFIG", concat!(env!("CARGO_MANIFEST_DIR"), "/../Leptos.toml"))
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
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = server(db_url, &format!("127.0.0.1:{port}"))
        .env("GATEHOUSE_PASSKEYS_ORIGIN", format!("http://localhost:{port}"))
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

    // the first device ends the second one through A…
    let ended = request(a, "POST", "/api/security/sessions/revoke-others", "", Some(&here)).await;
    assert_eq!((ended.status, ended.body.trim()), (200, "1"));
    // …and B refuses it on its very next request
    let refused = request(b, "GET", "/settings/security", "", Some(&there)).await;
    assert_eq!(refused.status, 303);
    assert!(refused.headers.to_ascii_lowercase().contains("&ended=1"), "{}", refused.headers);
    assert_eq!(request(b, "GET", "/settings/security", "", Some(&here)).await.status, 200);

    // the other way round: signed out through B, refused by A
    let out = request(b, "POST", "/api/auth/sign-out", "", Some(&here)).await;
    assert_eq!(out.status, 200, "{}", out.body);
    assert_eq!(request(a, "GET", "/settings/security", "", Some(&here)).await.status, 303);
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
    let svc = server::AppState::new(config, db.clone(), domain::clock::Clock::system()).unwrap().services;
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
