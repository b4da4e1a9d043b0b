//! Domain errors. Not `Serialize`: the `app` crate maps each to a sentence a person can read, and
//! infrastructure failures to an opaque reference (logged here, never sent).
use thiserror::Error;

#[derive(Debug, Error)]
pub enum DomainError {
    /// Unknown account, wrong password or no password: one answer for all.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// No valid session.
    #[error("not signed in")]
    Unauthenticated,
    #[error("an account with this email already exists")]
    EmailTaken,
    /// Input that breaks a rule; the message is written for the person.
    #[error("invalid {field}: {message}")]
    Invalid { field: &'static str, message: String },
    #[error("password rejected: {0}")]
    PasswordRejected(String),
    #[error("not found")]
    NotFound,
    /// The password was right; the account has a second factor, and the sign-in waits for it.
    #[error("second step required")]
    SecondStepRequired(crate::secret::PendingToken),
    /// A pending sign-in that expired, was used, or had too many wrong codes.
    #[error("sign in again")]
    SignInAgain,
    /// A sensitive change, and the session's last proof of identity is older than the window.
    #[error("re-verification required")]
    ReverifyRequired,
    /// Too many requests from the client's network (anonymous passkey ceremonies over its cap).
    #[error("rate limited for {retry_after_seconds} s")]
    RateLimited { retry_after_seconds: u64 },
    /// More work is waiting than the server admits (password hashes beyond the queue, anonymous
    /// passkey ceremonies over the total cap): refused at once instead of queueing without limit.
    #[error("overloaded, retry in {retry_after_seconds} s")]
    Overloaded { retry_after_seconds: u64 },
    /// The database cannot be reached right now (down, restarting, pool exhausted).
    #[error("database unavailable")]
    Unavailable,
    #[error("database error")]
    Db(#[source] sqlx::Error),
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl DomainError {
    /// True for failures of our infrastructure rather than of the request.
    pub fn is_internal(&self) -> bool {
        matches!(self, Self::Db(_) | Self::Hash(_) | Self::Internal(_))
    }
}

impl From<sqlx::Error> for DomainError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => {
                DomainError::Unavailable
            }
            sqlx::Error::Database(db) => match db.code().as_deref() {
                // admin_shutdown, crash_shutdown, cannot_connect_now, too_many_connections
                Some("57P01" | "57P02" | "57P03" | "53300") => DomainError::Unavailable,
                _ => DomainError::Db(e),
            },
            _ => DomainError::Db(e),
        }
    }
}

/// The name of the unique constraint a database error violated, if any.
pub(crate) fn unique_violation(e: &sqlx::Error) -> Option<&str> {
    match e {
        sqlx::Error::Database(db) if db.is_unique_violation() => db.constraint(),
        _ => None,
    }
}
