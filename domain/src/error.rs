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
    /// Input that breaks a rule: which rule (the app layer says it in words).
    #[error("invalid input: {0:?}")]
    Invalid(Invalid),
    /// A new password the policy refuses, and why.
    #[error("password rejected: {0:?}")]
    PasswordRejected(PasswordRejection),
    /// Removing this would leave the account with no way to sign in.
    #[error("last sign-in method")]
    LastSignInMethod,
    #[error("not found")]
    NotFound,
    /// A sign-in, connection or re-verification through Google or GitHub that did not succeed.
    #[error("provider flow failed: {0:?}")]
    Provider(ProviderFailure),
    /// An emailed link (finish sign-up, reset password) that cannot be used, and why.
    #[error("link unusable: {0:?}")]
    Link(LinkProblem),
    /// The password was right; the account has a second factor, and the sign-in waits for it.
    #[error("second step required")]
    SecondStepRequired(crate::secret::PendingToken),
    /// A pending sign-in that expired, was used, or had too many wrong codes.
    #[error("sign in again")]
    SignInAgain,
    /// A sensitive change, and the session's last proof of identity is older than the window.
    #[error("re-verification required")]
    ReverifyRequired,
    /// Too many requests from the client's network. (The per-network request budgets answer it in
    /// the server's middleware; no domain rule produces it today.)
    #[error("rate limited for {retry_after_seconds} s")]
    RateLimited { retry_after_seconds: u64 },
    /// This browser's own throttle path (its device cookie for the account: it signed in there
    /// before, so saying so tells nothing about accounts) is waiting after too many wrong passwords
    /// or codes. Other paths answer as for a wrong password.
    #[error("too many wrong attempts in this browser, retry in {retry_after_seconds} s")]
    TooManyTries { retry_after_seconds: u64 },
    /// The stale path (this browser's entry is from before the account's password or
    /// authenticator app changed; only browsers that once signed in reach it) is waiting: the
    /// wrong attempts may have come from other browsers, so it is not said to be this one's.
    #[error("too many wrong attempts on this account lately, retry in {retry_after_seconds} s")]
    TooManyTriesOnAccount { retry_after_seconds: u64 },
    /// More work is waiting than the server admits (password hashes beyond the queue): refused at
    /// once instead of queueing without limit.
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

/// Why an emailed link cannot be used. Each has its own page (app crate).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkProblem {
    /// Not a link we sent (mistyped, cut short, or deleted long after expiry).
    Invalid,
    Expired,
    /// Already used (by this person a moment ago, or by whoever else has it).
    Used,
    /// A reset link made for a password that has changed since.
    Superseded,
    /// A sign-up link for an address that has an account now (made since the link was sent: with
    /// another link, or with Google or GitHub).
    AccountExists,
}

/// Why a flow through Google or GitHub ended without success. Each has one calm sentence (app
/// crate); none is an error page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProviderFailure {
    /// That provider is not configured on this server.
    NotConfigured,
    /// The person cancelled at the provider.
    Cancelled,
    /// The provider answered an error, or an answer that failed validation (token, ID token, user API).
    Refused,
    /// The provider could not be reached (or took too long).
    Unreachable,
    /// The `state` is unknown, already used, for another provider, or began in another browser.
    UnknownState,
    /// The flow began more than 10 minutes ago.
    Expired,
    /// No account is linked to this identity and an account already uses its email: sign in to that
    /// account and connect the provider there (never linked by email).
    EmailInUse,
    /// The provider shares no email address, so no account can be created.
    NoEmail,
    /// The provider does not vouch for the email address, so no account is created with it.
    EmailNotVerified,
    /// The account's sign-in is locked for this browser (too many wrong codes or passwords).
    Locked,
    /// Connect: the identity is already linked to another account.
    LinkedElsewhere,
    /// Connect: this account already has another identity at this provider.
    AlreadyConnected,
    /// Re-verify: the identity is not the one linked to this account.
    NotLinked,
    /// Connect / re-verify: the browser's session is no longer the one that began the flow.
    SessionChanged,
    /// Connect: the session's re-verification ran out (or was ended with End now) while the
    /// person was at the provider: nothing was connected.
    VerificationEnded,
    /// Re-verify: the provider did not have the person sign in again after the flow began (it
    /// answered from a session it already had).
    NotFresh,
}

/// Which rule a request broke. Each has one sentence, written in the `app` crate
/// (`app/src/server/messages.rs`); `field` names the input it is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Invalid {
    EmailMissing,
    EmailTooLong,
    EmailMalformed,
    DisplayNameTooLong,
    /// Revoking the current session from the list (it signs out instead).
    CurrentSession,
    /// Changing a password the account does not have.
    NoPasswordYet,
    CurrentPasswordWrong,
    /// Changing the password with the current one left empty.
    CurrentPasswordMissing,
    /// Setting a password on an account that has one.
    AlreadyHasPassword,
    /// Re-verifying with a password on an account without one.
    NoPasswordToConfirm,
    /// An empty password where one is checked (sign-in, "Confirm it's you"): said before any
    /// hashing or counting, since it cannot be right.
    PasswordMissing,
    PasswordWrong,
    /// Re-verifying with an authenticator code on an account without an authenticator app.
    NoAuthenticatorToConfirm,
    /// Fewer digits than an authenticator code has: cut short (costs no try).
    AuthenticatorCodeShort,
    /// Something no authenticator code looks like (letters, more than 6 digits): costs no try.
    AuthenticatorCodeMalformed,
    /// An empty code from the authenticator app (the second step, "Confirm it's you", set-up).
    AuthenticatorCodeMissing,
    AuthenticatorCodeWrong,
    /// One of the app's current codes, already used (each works once).
    AuthenticatorCodeUsed,
    /// An empty backup code at the second step.
    BackupCodeMissing,
    BackupCodeWrong,
    AuthenticatorAlreadySetUp,
    AuthenticatorSetupExpired,
    AuthenticatorSetupCodeWrong,
    /// A code for a setup that was started again meanwhile (another tab): its key was replaced.
    AuthenticatorSetupReplaced,
    /// Backup codes without an authenticator app.
    AuthenticatorNeeded,
    /// Changing the authenticator app of an account that has none (turned off meanwhile).
    NoAuthenticatorToChange,
    /// Changing the authenticator app from a session that never proved it (signed in with the
    /// password alone, before the app was set up, and did not set it up itself).
    ChangeNeedsSecondFactor,
    /// Turning two-step verification off on an Enterprise plan.
    SecondFactorRequiredByOrganisation,
    /// Turning two-step verification off while the password is too short to stand alone.
    PasswordTooShortForOneFactor,
    PasskeyExpired,
    PasskeyAnswerUnreadable,
    PasskeyAlreadyOnDevice,
    PasskeyNotRegistered,
    NoPasskey,
    /// A WebAuthn ceremony the authenticator or the browser failed.
    PasskeyFailed { ceremony: PasskeyCeremony, reason: PasskeyFailure },
    PasskeyNameTooLong,
    PasskeyNameMissing,
    /// Renaming a passkey to the name of another of the account's passkeys (letter case aside):
    /// its Rename and Remove buttons would read the same.
    PasskeyNameTaken,
    OrganisationName,
    /// The activity list's "older" cursor is not one the list made.
    ActivityCursor,
    /// The activity list's filter is not one of its groups.
    ActivityFilter,
}

impl Invalid {
    /// The input the rule is about (part of the wire format: `AppError::Invalid { field }`).
    pub fn field(&self) -> &'static str {
        match self {
            Self::EmailMissing | Self::EmailTooLong | Self::EmailMalformed => "email",
            Self::DisplayNameTooLong => "display_name",
            Self::CurrentSession => "session",
            Self::NoPasswordYet | Self::CurrentPasswordWrong | Self::CurrentPasswordMissing => "current_password",
            Self::AlreadyHasPassword => "new_password",
            Self::NoPasswordToConfirm | Self::PasswordMissing | Self::PasswordWrong => "password",
            Self::AuthenticatorCodeMissing
            | Self::NoAuthenticatorToConfirm
            | Self::AuthenticatorCodeShort
            | Self::AuthenticatorCodeMalformed
            | Self::AuthenticatorCodeWrong
            | Self::AuthenticatorCodeUsed
            | Self::BackupCodeMissing
            | Self::BackupCodeWrong
            | Self::AuthenticatorSetupExpired
            | Self::AuthenticatorSetupCodeWrong
            | Self::AuthenticatorSetupReplaced => "code",
            Self::AuthenticatorAlreadySetUp
            | Self::NoAuthenticatorToChange
            | Self::ChangeNeedsSecondFactor
            | Self::SecondFactorRequiredByOrganisation
            | Self::PasswordTooShortForOneFactor => "totp",
            Self::AuthenticatorNeeded => "backup_codes",
            Self::PasskeyExpired
            | Self::PasskeyAnswerUnreadable
            | Self::PasskeyAlreadyOnDevice
            | Self::PasskeyNotRegistered
            | Self::NoPasskey
            | Self::PasskeyFailed { .. } => "passkey",
            Self::PasskeyNameTooLong | Self::PasskeyNameMissing | Self::PasskeyNameTaken | Self::OrganisationName => "name",
            Self::ActivityCursor => "before",
            Self::ActivityFilter => "filter",
        }
    }
}

/// Which passkey ceremony failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PasskeyCeremony {
    Adding,
    SigningIn,
    Confirming,
}

/// Why a passkey ceremony failed, as far as the person can act on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PasskeyFailure {
    /// The page's origin or relying party does not match (misconfiguration or phishing).
    WrongSite,
    /// The authenticator did not verify the person (PIN, biometrics).
    NotVerified,
    /// The signature counter went backwards: possibly a cloned authenticator.
    PossiblyCopied,
    Other,
}

/// Why a new password is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PasswordRejection {
    /// The shared rules (length, built from the account or the site); the browser checks the same.
    Rule(policy::password::Verdict),
    /// In the lists of common and leaked passwords.
    Leaked,
    /// The same as the current password.
    SameAsCurrent,
    /// The password "This wasn't me" turned off (whoever signed in may know it).
    Reported,
    /// One in use at or after the reported sign-in, replaced since (whoever signed in may know it).
    ReportedEarlier,
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
