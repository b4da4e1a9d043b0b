//! The bridge from `DomainError` to `AppError`: the one place where a broken rule becomes the
//! sentence a person reads, where the HTTP status is set (from `AppError::status`), and where
//! infrastructure failures are logged under a reference (the only part of them that leaves the
//! server).
use domain::error::{Invalid, LinkProblem, PasskeyCeremony, PasskeyFailure, PasswordRejection, ProviderFailure};
use domain::DomainError;
use http::header::HeaderValue;
use http::StatusCode;
use leptos::prelude::*;
use leptos_axum::ResponseOptions;

use crate::error::{AppError, LinkIssue};
use crate::model::ProviderKind;
use crate::sign_in::providers::ProviderOutcome;

/// Maps a domain error to what the person sees, sets the HTTP status, and logs infrastructure
/// failures under a reference.
pub fn fail(e: DomainError) -> AppError {
    let err = match e {
        DomainError::InvalidCredentials => AppError::InvalidCredentials,
        DomainError::Unauthenticated => AppError::NotSignedIn,
        DomainError::EmailTaken => AppError::EmailTaken,
        DomainError::Invalid(rule) => AppError::Invalid { field: rule.field().into(), message: sentence(&rule) },
        DomainError::PasswordRejected(why) => AppError::PasswordRejected(password_sentence(&why)),
        DomainError::LastSignInMethod => AppError::Invalid {
            field: crate::error::LAST_SIGN_IN_METHOD.into(),
            message: "This passkey is your only way to sign in. Add a password or another passkey first.".into(),
        },
        DomainError::NotFound => AppError::NotFound,
        DomainError::Provider(f) => AppError::Invalid {
            field: "provider".into(),
            message: match f {
                ProviderFailure::Unreachable => "The sign-in provider can't be reached right now. Please try again in a moment.".into(),
                _ => "The sign-in provider didn't confirm who you are. Please try again.".into(),
            },
        },
        DomainError::ReverifyRequired => AppError::ReverifyRequired,
        DomainError::Link(problem) => AppError::LinkUnusable(match problem {
            LinkProblem::Invalid => LinkIssue::Invalid,
            LinkProblem::Expired => LinkIssue::Expired,
            LinkProblem::Used => LinkIssue::Used,
            LinkProblem::Superseded => LinkIssue::Superseded,
            LinkProblem::AccountExists => LinkIssue::AccountExists,
        }),
        // the pending token goes in its cookie (set by the sign-in function), never in a body
        DomainError::SecondStepRequired(_) => AppError::SecondStepRequired,
        DomainError::SignInAgain => AppError::SignInAgain,
        DomainError::Unavailable => {
            tracing::warn!("database unavailable");
            AppError::Unavailable
        }
        DomainError::RateLimited { retry_after_seconds } => AppError::RateLimited { retry_after_seconds },
        DomainError::TooManyTries { retry_after_seconds } => AppError::TooManyTries { retry_after_seconds },
        DomainError::TooManyTriesOnAccount { retry_after_seconds } => AppError::TooManyTriesOnAccount { retry_after_seconds },
        DomainError::Overloaded { retry_after_seconds } => {
            tracing::info!(retry_after_seconds, "overloaded: request refused at once");
            AppError::Busy { retry_after_seconds }
        }
        e @ (DomainError::Db(_) | DomainError::Hash(_) | DomainError::Internal(_)) => {
            let reference = new_reference();
            tracing::error!(reference = %reference, error = ?e, "internal error");
            AppError::Internal { reference }
        }
    };
    reject(err)
}

/// `fail` for a server function about `provider`: its failures and the last-sign-in-method refusal
/// are said with the provider's name.
pub fn fail_for(provider: ProviderKind) -> impl Fn(DomainError) -> AppError {
    move |e| match e {
        DomainError::Provider(f) => reject(AppError::Invalid { field: "provider".into(), message: outcome(f).sentence(provider) }),
        DomainError::LastSignInMethod => reject(AppError::Invalid {
            field: crate::error::LAST_SIGN_IN_METHOD.into(),
            message: format!("{} is your only way to sign in. Set a password or add a passkey first.", provider.name()),
        }),
        e => fail(e),
    }
}

/// The page's word for how a provider flow failed.
pub fn outcome(f: ProviderFailure) -> ProviderOutcome {
    match f {
        ProviderFailure::NotConfigured => ProviderOutcome::NotConfigured,
        ProviderFailure::Cancelled => ProviderOutcome::Cancelled,
        ProviderFailure::Refused => ProviderOutcome::Refused,
        ProviderFailure::Unreachable => ProviderOutcome::Unreachable,
        ProviderFailure::UnknownState => ProviderOutcome::UnknownState,
        ProviderFailure::Expired => ProviderOutcome::Expired,
        ProviderFailure::EmailInUse => ProviderOutcome::EmailInUse,
        ProviderFailure::NoEmail => ProviderOutcome::NoEmail,
        ProviderFailure::EmailNotVerified => ProviderOutcome::EmailNotVerified,
        ProviderFailure::Locked => ProviderOutcome::Locked,
        ProviderFailure::LinkedElsewhere => ProviderOutcome::LinkedElsewhere,
        ProviderFailure::AlreadyConnected => ProviderOutcome::AlreadyConnected,
        ProviderFailure::NotLinked => ProviderOutcome::NotLinked,
        ProviderFailure::SessionChanged => ProviderOutcome::SessionChanged,
        ProviderFailure::VerificationEnded => ProviderOutcome::VerificationEnded,
        ProviderFailure::NotFresh => ProviderOutcome::NotFresh,
    }
}

/// Sets the status (and `Retry-After`) for an error raised in `app` itself (not signed in, bad
/// input), or mapped from the domain by `fail`.
pub fn reject(err: AppError) -> AppError {
    if let Some(res) = use_context::<ResponseOptions>() {
        res.set_status(StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
        if let Some(seconds) = err.retry_after_seconds() {
            res.insert_header(http::header::RETRY_AFTER, HeaderValue::from(seconds));
        }
    }
    err
}

/// An internal failure of `app` itself: logged with a reference, answered with only that.
pub fn internal(what: &str) -> AppError {
    let reference = new_reference();
    tracing::error!(reference = %reference, "{what}");
    AppError::Internal { reference }
}

fn new_reference() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_string()
}

/// The sentence for a broken rule.
fn sentence(rule: &Invalid) -> String {
    use domain::auth::{accounts::MAX_DISPLAY_NAME, passkeys::NAME_MAX};
    let text: &str = match rule {
        Invalid::EmailMissing => "Enter your email address.",
        Invalid::EmailTooLong => "That email address is too long.",
        Invalid::EmailMalformed => "Enter an email address like name@example.com.",
        Invalid::DisplayNameTooLong => return format!("Use at most {MAX_DISPLAY_NAME} characters for your name."),
        Invalid::CurrentSession => "Use Sign out to end this session.",
        Invalid::NoPasswordYet => "This account has no password yet.",
        Invalid::CurrentPasswordWrong => "Your current password is not correct.",
        Invalid::CurrentPasswordMissing => "Enter your current password.",
        Invalid::AlreadyHasPassword => "This account already has a password. Use Change password instead.",
        Invalid::NoPasswordToConfirm => "This account has no password. Sign out and sign in again to continue.",
        Invalid::PasswordMissing => "Enter your password.",
        Invalid::PasswordWrong => "That password is not correct.",
        Invalid::AuthenticatorCodeMissing => "Enter the 6-digit code from your authenticator app.",
        Invalid::AuthenticatorCodeShort => "That code is too short. Enter all 6 digits your authenticator app shows.",
        Invalid::AuthenticatorCodeMalformed => "A code from an authenticator app is 6 digits. Enter the one your app shows for Gatehouse.",
        Invalid::NoAuthenticatorToConfirm => "This account has no authenticator app. Confirm it's you another way.",
        Invalid::BackupCodeMissing => "Enter one of your backup codes.",
        Invalid::AuthenticatorCodeWrong => "That code is not right. Enter the current code from your authenticator app.",
        Invalid::AuthenticatorCodeUsed => "That code was already used. Wait for the next code in your authenticator app, then enter it.",
        Invalid::BackupCodeWrong => "That backup code is not right, or it has been used already.",
        Invalid::AuthenticatorAlreadySetUp => "An authenticator app is already set up.",
        Invalid::AuthenticatorSetupExpired => "This setup has expired. Start again to get a new QR code.",
        Invalid::AuthenticatorSetupCodeWrong => {
            "That code is not right. Check the app shows Gatehouse and your email, and enter the current code."
        }
        Invalid::AuthenticatorSetupReplaced => {
            "Setup was started again in another tab or window, so this QR code no longer works. Finish there, or start again here."
        }
        Invalid::AuthenticatorNeeded => "Set up an authenticator app first.",
        Invalid::NoAuthenticatorToChange => "Two-step verification is off, so there is no app to change. Set one up instead.",
        Invalid::ChangeNeedsSecondFactor => {
            "This device signed in before your authenticator app was set up. To change the app, sign out and sign in again with a code from it or a backup code."
        }
        Invalid::SecondFactorRequiredByOrganisation => {
            "Your organisation requires two-step verification, so it cannot be turned off."
        }
        Invalid::PasswordTooShortForOneFactor => {
            return format!(
                "Your password is shorter than {} characters. Choose a longer password first, then turn this off.",
                policy::password::MIN_LENGTH
            )
        }
        Invalid::PasskeyExpired => "The passkey request expired or was already used. Try again.",
        Invalid::PasskeyAnswerUnreadable => "Your browser sent a passkey answer Gatehouse cannot read. Try again.",
        Invalid::PasskeyAlreadyOnDevice => {
            "This device or password manager already has a passkey for Gatehouse. Use it, or choose another one."
        }
        Invalid::PasskeyNotRegistered => {
            "This passkey is not registered with Gatehouse (it may have been removed). Sign in another way."
        }
        Invalid::NoPasskey => "This account has no passkey.",
        Invalid::PasskeyFailed { ceremony, reason } => return passkey_failure(*ceremony, *reason),
        Invalid::PasskeyNameTooLong => return format!("Use at most {NAME_MAX} characters."),
        Invalid::PasskeyNameMissing => "Enter a name.",
        Invalid::PasskeyNameTaken => crate::error::PASSKEY_NAME_TAKEN,
        Invalid::OrganisationName => "Use 1 to 100 characters for the name.",
        Invalid::ActivityCursor => "That page of activity is not available. Reload the page to start from the newest.",
        Invalid::ActivityFilter => "Choose one of the listed kinds of activity.",
    };
    text.into()
}

fn passkey_failure(ceremony: PasskeyCeremony, reason: PasskeyFailure) -> String {
    let what = match ceremony {
        PasskeyCeremony::Adding => "Adding the passkey",
        PasskeyCeremony::SigningIn => "Signing in with the passkey",
        PasskeyCeremony::Confirming => "Confirming with the passkey",
    };
    match reason {
        PasskeyFailure::WrongSite => format!("{what} failed: this page's address does not match the site the passkey is for."),
        PasskeyFailure::NotVerified => {
            format!("{what} failed: your device did not verify it is you (PIN, fingerprint or face). Try again.")
        }
        PasskeyFailure::PossiblyCopied => {
            format!("{what} failed: this passkey may have been copied. Use another way to sign in and remove it.")
        }
        PasskeyFailure::Other => format!("{what} failed. Try again."),
    }
}

/// The sentence for a refused new password (the shared rules' own sentence, which the browser
/// shows too, or the server's extra checks).
fn password_sentence(why: &PasswordRejection) -> String {
    match why {
        PasswordRejection::Rule(verdict) => verdict.message().unwrap_or_else(|| "Choose another password.".into()),
        PasswordRejection::Leaked => "This password is in lists of leaked passwords; choose another.".into(),
        PasswordRejection::SameAsCurrent => "Choose a password different from your current one.".into(),
        PasswordRejection::Reported => {
            "This is the password that stopped working when you reported the sign-in: whoever signed in may know it. Choose a different one.".into()
        }
        PasswordRejection::ReportedEarlier => {
            "This password was in use when the sign-in you reported happened, or since: whoever signed in may know it. Choose a different one.".into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_broken_rule_reads_as_a_sentence_about_its_field() {
        let cases = [
            (Invalid::EmailMalformed, "email", "Enter an email address like name@example.com."),
            (Invalid::DisplayNameTooLong, "display_name", "Use at most 100 characters for your name."),
            (Invalid::CurrentSession, "session", "Use Sign out to end this session."),
            (
                Invalid::PasswordTooShortForOneFactor,
                "totp",
                "Your password is shorter than 15 characters. Choose a longer password first, then turn this off.",
            ),
            (Invalid::AuthenticatorSetupExpired, "code", "This setup has expired. Start again to get a new QR code."),
            (Invalid::CurrentPasswordMissing, "current_password", "Enter your current password."),
            (Invalid::AuthenticatorCodeUsed, "code", "That code was already used. Wait for the next code in your authenticator app, then enter it."),
            (
                Invalid::AuthenticatorSetupReplaced,
                "code",
                "Setup was started again in another tab or window, so this QR code no longer works. Finish there, or start again here.",
            ),
            (
                Invalid::PasskeyFailed { ceremony: PasskeyCeremony::SigningIn, reason: PasskeyFailure::WrongSite },
                "passkey",
                "Signing in with the passkey failed: this page's address does not match the site the passkey is for.",
            ),
            (Invalid::PasskeyNameTooLong, "name", "Use at most 64 characters."),
            (Invalid::PasskeyNameTaken, "name", "Another of your passkeys has this name. Choose a different one, so you can tell them apart."),
        ];
        for (rule, field, text) in cases {
            assert_eq!((rule.field(), sentence(&rule).as_str()), (field, text));
        }
    }

    #[test]
    fn refused_passwords_say_why() {
        assert_eq!(
            password_sentence(&PasswordRejection::Rule(policy::password::Verdict::TooLong)),
            "Use at most 256 characters."
        );
        assert_eq!(password_sentence(&PasswordRejection::Leaked), "This password is in lists of leaked passwords; choose another.");
    }

    #[test]
    fn the_last_sign_in_method_is_refused_with_what_to_do_instead() {
        match fail(DomainError::LastSignInMethod) {
            AppError::Invalid { field, message } => {
                assert_eq!(field, crate::error::LAST_SIGN_IN_METHOD);
                assert_eq!(message, "This passkey is your only way to sign in. Add a password or another passkey first.");
            }
            other => panic!("{other:?}"),
        }
    }
}
