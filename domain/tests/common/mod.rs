//! Shared set-up for the database tests (the software authenticator, test keys and data files are
//! in the `testkit` crate, shared with the server's tests).
use domain::clock::Clock;
use domain::config::{Argon2Config, SessionPolicy};
use domain::{auth::password::PasswordHasher, Services};
use sqlx::PgPool;
use time::macros::datetime;

pub use testkit::PW;
pub const RP_ID: &str = "localhost";
pub const ORIGIN: &str = "http://localhost:3000";
/// The provider the test authenticator claims to be (Google Password Manager's AAGUID).
pub const TEST_AAGUID: &str = "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4";

pub fn providers() -> domain::auth::passkeys::ProviderNames {
    domain::auth::passkeys::ProviderNames::from_json(&format!(r#"{{"{TEST_AAGUID}": "Google Password Manager"}}"#)).unwrap()
}

/// Services on the test database: cheap argon2 parameters, a 60-minute idle and 24-hour absolute
/// lifetime, and a fixed clock the test moves.
pub fn services(db: PgPool) -> Services {
    Services {
        db,
        hasher: PasswordHasher::new(&Argon2Config { memory_kib: 256, iterations: 1, parallelism: 1, max_concurrent: 4, max_queue: 64 }).unwrap(),
        sessions: SessionPolicy::uniform(60, 24),
        throttle: Default::default(),
        common_passwords: common_passwords(),
        keys: std::sync::Arc::new(
            domain::auth::two_factor::Keys::from_config(testkit::TOTP_KEYS, testkit::BACKUP_CODE_KEY).unwrap(),
        ),
        device_cookies: std::sync::Arc::new(
            domain::auth::device_cookies::DeviceCookieKey::from_config(testkit::DEVICE_COOKIE_KEY).unwrap(),
        ),
        passkeys: std::sync::Arc::new(
            domain::auth::passkeys::PasskeyService::new(RP_ID, ORIGIN, "Gatehouse", providers()).unwrap(),
        ),
        providers: std::sync::Arc::new(domain::auth::providers::Providers::none()),
        email: std::sync::Arc::new(domain::email::EmailSettings::for_tests(ORIGIN)),
        // not listening, so never used: each test that wants it starts its listener
        session_cache: domain::auth::session_cache::SessionCache::new(Default::default()),
        after_answer: Default::default(),
        clock: Clock::fixed(datetime!(2026-11-23 12:00 UTC)),
    }
}

/// The list `scripts/setup.sh` installs, loaded once per test process (a clear panic when missing).
pub fn common_passwords() -> std::sync::Arc<domain::auth::password_policy::CommonPasswords> {
    static LIST: std::sync::OnceLock<std::sync::Arc<domain::auth::password_policy::CommonPasswords>> = std::sync::OnceLock::new();
    LIST.get_or_init(|| {
        let path = testkit::data_file("passwords/common-passwords.txt");
        std::sync::Arc::new(domain::auth::password_policy::CommonPasswords::load(std::path::Path::new(&path)).unwrap())
    })
    .clone()
}

/// An account with a password, signed in: what finishing a sign-up link with a password gives
/// (`email_links` tests follow the link itself).
pub async fn sign_up(
    svc: &Services,
    email: &str,
    display_name: Option<&str>,
    password: &domain::secret::Password,
    client: &domain::request::ClientInfo,
) -> Result<(domain::ids::UserId, domain::auth::sessions::SignedIn), domain::DomainError> {
    let user = domain::auth::accounts::create_account(svc, email, display_name, password, client).await?;
    let signed_in = domain::auth::sessions::start(svc, user, domain::kinds::SignInMethod::Password, client).await?;
    Ok((user, signed_in))
}

/// Holds the account's rows of failed attempts (there must be one: after a wrong password or code)
/// until the returned transaction ends: an attempt in flight then waits where it counts itself,
/// after reading the account.
pub async fn hold_failed_attempts(db: &PgPool, user_id: domain::ids::UserId) -> sqlx::Transaction<'static, sqlx::Postgres> {
    let mut busy = db.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM sign_in_throttles WHERE user_id = $1 FOR UPDATE").bind(user_id.0).fetch_one(&mut *busy).await.unwrap();
    busy
}

/// Waits (up to 5 s) until `n` connections of this test's database wait for a row (another
/// transaction's, or a tuple's: not NOTIFY's queue, which commits of other tests wait for), or until
/// `done` says the work it watches finished without waiting: the point where a concurrency test
/// lets the transaction it holds go on.
pub async fn until_waiting_for_locks(db: &PgPool, n: i64, done: impl Fn() -> bool) {
    let waiting = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event IN ('transactionid', 'tuple')";
    for _ in 0..500 {
        if done() || sqlx::query_scalar::<_, i64>(waiting).fetch_one(db).await.unwrap() >= n {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("{n} lock waits never came");
}

/// Runs `work` while another transaction holds the account's row (the only account: a test's own
/// database), as every change of the account's credentials does from its first check to its
/// commit; once `work` waits for that row, that transaction makes `changes` (SQL) and commits.
/// Answers what `work` answered: how it copes with a change that committed while it waited.
pub async fn while_a_change_holds_the_account<T: Send + 'static>(
    db: &PgPool,
    work: impl std::future::Future<Output = T> + Send + 'static,
    changes: &[&str],
) -> T {
    let mut change = db.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM users FOR NO KEY UPDATE").fetch_one(&mut *change).await.unwrap();
    let working = tokio::spawn(work);
    until_waiting_for_locks(db, 1, || working.is_finished()).await;
    for sql in changes {
        sqlx::query(sql).execute(&mut *change).await.unwrap();
    }
    change.commit().await.unwrap();
    working.await.unwrap()
}
