//! Gatehouse's server-only domain: accounts, credentials, sessions, policies and Postgres access.
//!
//! Nothing in here may reach the browser: the `app` crate depends on this crate only through its
//! `ssr` feature, so a wasm build that pulled sqlx, argon2 or tokio in would fail to compile.

#[cfg(target_arch = "wasm32")]
compile_error!("`domain` is server-only (sqlx, argon2, tokio): it must never be part of the wasm bundle");

pub mod after_answer;
pub mod auth;
pub mod clock;
pub mod config;
pub mod db;
pub mod devices;
pub mod email;
pub mod error;
pub mod geo;
pub mod ids;
pub mod kinds;
pub mod network;
pub mod organizations;
pub mod plan;
pub mod request;
pub mod secret;
pub mod secret_box;

pub use error::DomainError;

/// Everything a request needs to reach the domain: the pool, the password hasher and the policies.
/// Cheap to clone (everything inside is shared).
#[derive(Clone)]
pub struct Services {
    pub db: sqlx::PgPool,
    pub hasher: auth::password::PasswordHasher,
    pub sessions: config::SessionPolicy,
    pub throttle: config::ThrottlePolicy,
    /// Common and leaked passwords, refused when setting one.
    pub common_passwords: std::sync::Arc<auth::password_policy::CommonPasswords>,
    /// Encryption keys of TOTP secrets and the backup codes' HMAC key (from config, never stored).
    pub keys: std::sync::Arc<auth::two_factor::Keys>,
    /// Signs and checks device cookies (which throttle counts a browser's guesses).
    pub device_cookies: std::sync::Arc<auth::device_cookies::DeviceCookieKey>,
    /// The passkey relying party (id, origin) and the provider names.
    pub passkeys: std::sync::Arc<auth::passkeys::PasskeyService>,
    /// Google and GitHub, as configured (either may be off).
    pub providers: std::sync::Arc<auth::providers::Providers>,
    /// The site's name, where emailed links point and who messages are from.
    pub email: std::sync::Arc<email::EmailSettings>,
    /// Sessions checked recently (used only while the instance listens for their changes).
    pub session_cache: std::sync::Arc<auth::session_cache::SessionCache>,
    pub clock: clock::Clock,
    /// Work that runs after its request was answered, so the answer's timing cannot tell what it
    /// did (a wrong password's record, a reset request's email): bounded (`after_answer`), and
    /// tracked so that shutdown, and a test, can wait for it (`settle`).
    pub after_answer: after_answer::AfterAnswer,
}

impl Services {
    /// Waits until the work begun after answers (`after_answer`) so far has finished. For tests
    /// only: it reopens the tracker (undoing a shutdown's `close`), and under steady traffic it
    /// may never return.
    pub async fn settle(&self) {
        self.after_answer.close();
        self.after_answer.wait().await;
        self.after_answer.reopen();
    }
}

/// Embedded migrations (run at start-up by the server, and by `#[sqlx::test]`).
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
