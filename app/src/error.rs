//! The one error type server functions return. Its `Display` is the sentence a person reads;
//! infrastructure failures carry only a reference that support can look up in the server log.
use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

/// The `field` of the `Invalid` that refuses to remove an account's only way to sign in: the page
/// reloads what it shows then (another tab or browser may have removed the other way meanwhile).
pub const LAST_SIGN_IN_METHOD: &str = "sign_in_methods";

/// Said when a passkey would take the name of another of the account's passkeys: at the field,
/// before the rename is sent, and by the server's refusal (a rename racing another).
pub const PASSKEY_NAME_TAKEN: &str = "Another of your passkeys has this name. Choose a different one, so you can tell them apart.";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    #[error("Incorrect email or password.")]
    InvalidCredentials,
    #[error("Please sign in to continue.")]
    NotSignedIn,
    #[error("An account with this email already exists. Sign in instead.")]
    EmailTaken,
    /// A field broke a rule; `message` says what to do. (`field` is `LAST_SIGN_IN_METHOD` when a
    /// removal was refused because what it removes is the account's only way to sign in.)
    #[error("{message}")]
    Invalid { field: String, message: String },
    #[error("{0}")]
    PasswordRejected(String),
    #[error("We couldn't find that.")]
    NotFound,
    /// The password was right; the sign-in page asks for the second step next.
    #[error("Enter the code from your authenticator app.")]
    SecondStepRequired,
    /// An Enterprise member without a second factor tried anything but setting one up.
    #[error("Your organisation requires two-step verification. Set up an authenticator app first.")]
    SecondFactorRequired,
    /// The second step took too long or had too many wrong codes.
    #[error("Your sign-in expired or had too many wrong codes. Sign in again.")]
    SignInAgain,
    /// A sensitive change after the re-verification window: the page asks the person to confirm
    /// it is them, then carries on.
    #[error("Confirm it's you to continue.")]
    ReverifyRequired,
    #[error("Gatehouse is temporarily unavailable. Please try again in a minute.")]
    Unavailable,
    /// Too many attempts from the client's network (per-address rate limits); answered with 429
    /// and a `Retry-After` of the same number of seconds.
    #[error("Too many attempts from your network. Wait {}, then try again.", wait(*.retry_after_seconds))]
    RateLimited { retry_after_seconds: u64 },
    /// Too many wrong passwords or codes in this browser, which signed in to the account before
    /// (its own throttle path); 429 with `Retry-After`. Every other browser hears "Incorrect email
    /// or password." instead.
    #[error("Too many wrong attempts in this browser. Wait {}, then try again, or use Forgot password.", wait(*.retry_after_seconds))]
    TooManyTries { retry_after_seconds: u64 },
    /// Too many wrong passwords or codes lately from browsers that signed in to the account before
    /// its password or authenticator app last changed (the stale throttle path, which this browser
    /// shares with them); 429 with `Retry-After`.
    #[error("Too many wrong attempts to sign in to this account lately. Wait {}, then try again, or use Forgot password.", wait(*.retry_after_seconds))]
    TooManyTriesOnAccount { retry_after_seconds: u64 },
    /// More requests are waiting than the server admits (load shedding); 503 with `Retry-After`.
    #[error("Gatehouse is busy right now. Wait {}, then try again.", wait(*.retry_after_seconds))]
    Busy { retry_after_seconds: u64 },
    #[error("Something went wrong on our side. Please try again; if it keeps happening, contact support and quote reference {reference}.")]
    Internal { reference: String },
    #[error("We couldn't reach Gatehouse. Check your connection and try again.")]
    Network,
    #[error("That request could not be understood. Reload the page and try again.")]
    BadRequest,
    /// The request was larger than the server reads (`[site] max_body_bytes`): something pasted
    /// into a field was far too long.
    #[error("That's more than Gatehouse accepts at once. Shorten what you entered and try again.")]
    TooLarge,
    /// An emailed link (finish sign-up, reset password) that cannot be used; the page says why and
    /// what to do instead.
    #[error("{}", .0.sentence())]
    LinkUnusable(LinkIssue),
}

/// Why an emailed link cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LinkIssue {
    Invalid,
    Expired,
    Used,
    /// A reset link for a password that changed since.
    Superseded,
    /// A sign-up link for an address that has an account now.
    AccountExists,
    /// A sign-up or reset link already used, opened in a browser with a session (Back after
    /// finishing, the tab left behind when another finished, or any account's): its way on is
    /// Security & Access, where the sign-in and sign-up pages would only send that browser.
    UsedSignedIn,
}

impl LinkIssue {
    /// The page's heading.
    pub fn title(self) -> &'static str {
        match self {
            LinkIssue::Invalid => "This link isn't valid",
            LinkIssue::Expired => "This link has expired",
            LinkIssue::Used | LinkIssue::UsedSignedIn => "This link was already used",
            LinkIssue::Superseded => "This link no longer works",
            LinkIssue::AccountExists => "Your account already exists",
        }
    }

    pub fn sentence(self) -> &'static str {
        match self {
            LinkIssue::Invalid => "This link isn't valid. Check that you opened the whole link from the email, or ask for a new one.",
            LinkIssue::Expired => "This link has expired. Ask for a new one; it works for 60 minutes after it arrives.",
            LinkIssue::Used => "This link was already used, and each link works only once. Sign in, or ask for a new link.",
            LinkIssue::Superseded => "Your password changed after this link was sent, so it no longer works. Sign in, or ask for a new link.",
            LinkIssue::AccountExists => "An account with this email address was created after this link was sent, so the link no longer works. Sign in to it the way you set it up: with its password, a passkey, Google or GitHub.",
            LinkIssue::UsedSignedIn => "This link was already used, and each link works only once. You're signed in: your account's settings are on Security & Access.",
        }
    }

    /// What the link's page says under its heading (`title`), which `sentence` (an error on its
    /// own elsewhere) begins by saying.
    pub fn under_title(self) -> &'static str {
        match self {
            LinkIssue::Invalid => "Check that you opened the whole link from the email, or ask for a new one.",
            LinkIssue::Expired => "Ask for a new link; it works for 60 minutes after it arrives.",
            LinkIssue::Used => "Each link works only once. Sign in, or ask for a new link.",
            LinkIssue::Superseded => "Your password changed after this link was sent. Sign in, or ask for a new link.",
            LinkIssue::AccountExists => self.sentence(),
            LinkIssue::UsedSignedIn => "Each link works only once. You're signed in: your account's settings are on Security & Access.",
        }
    }

    /// The sentence under the heading on the "This wasn't me" page, whose links cannot be asked for again: they come
    /// with a sign-in alert, and answering the alert on the Security & Access page uses them up.
    pub fn report_sentence(self) -> &'static str {
        match self {
            LinkIssue::Expired => "It works for 72 hours after the sign-in. If you still don't recognise that sign-in, sign in and review your sessions, or reset your password.",
            LinkIssue::Used => "This sign-in was already reported, or answered on your Security & Access page. If you still don't recognise it, sign in and review your sessions, or reset your password.",
            LinkIssue::Invalid => "Check that you opened the whole link from the email. If you don't recognise a sign-in, sign in and review your sessions, or reset your password.",
            other => other.under_title(),
        }
    }
}

/// "1 second", "40 seconds", "3 minutes" (rounded up): how long to wait, as a person reads it.
pub fn wait(seconds: u64) -> String {
    match seconds {
        0 | 1 => "1 second".into(),
        2..=90 => format!("{seconds} seconds"),
        _ => format!("{} minutes", seconds.div_ceil(60)),
    }
}

impl AppError {
    /// A refusal of what was typed in the form's field named `field` (`Invalid { field }`): the
    /// field is marked invalid for it; a refusal for another reason (too many tries, unavailable,
    /// a sign-in expired) is not about the field's value.
    pub fn is_about(&self, field: &str) -> bool {
        matches!(self, AppError::Invalid { field: f, .. } if f == field)
    }

    /// The HTTP status each error is answered with: the one table, used by the server functions
    /// (`server::reject`) and by the server's own answers (rate limits, maintenance).
    pub fn status(&self) -> u16 {
        match self {
            AppError::InvalidCredentials | AppError::NotSignedIn | AppError::SecondStepRequired | AppError::SignInAgain => 401,
            AppError::SecondFactorRequired | AppError::ReverifyRequired => 403,
            AppError::NotFound => 404,
            AppError::EmailTaken => 409,
            AppError::Invalid { .. } | AppError::PasswordRejected(_) => 422,
            AppError::RateLimited { .. } | AppError::TooManyTries { .. } | AppError::TooManyTriesOnAccount { .. } => 429,
            AppError::Internal { .. } => 500,
            AppError::Unavailable | AppError::Busy { .. } => 503,
            AppError::BadRequest | AppError::Network | AppError::LinkUnusable(LinkIssue::Invalid) => 400,
            AppError::LinkUnusable(_) => 410,
            AppError::TooLarge => 413,
        }
    }

    /// Seconds to wait before trying again, for errors that say so (the `Retry-After` header).
    pub fn retry_after_seconds(&self) -> Option<u64> {
        match self {
            AppError::RateLimited { retry_after_seconds }
            | AppError::Busy { retry_after_seconds }
            | AppError::TooManyTries { retry_after_seconds }
            | AppError::TooManyTriesOnAccount { retry_after_seconds } => {
                Some(*retry_after_seconds)
            }
            _ => None,
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        // (on the server, these are a failure to write the answer of a function that ran: ours)
        #[cfg(feature = "ssr")]
        if matches!(value, ServerFnErrorErr::Serialization(_) | ServerFnErrorErr::Response(_)) {
            return crate::server::reject(crate::server::internal("a server function's answer could not be written"));
        }
        let err = match value {
            ServerFnErrorErr::Request(_) => AppError::Network,
            // In the browser: an answer that is not one of ours (a proxy's 502 or 504 page, a
            // captive portal's, a body cut short): Gatehouse is not reachable as it should be, not
            // "That request could not be understood", which blamed the person's request.
            ServerFnErrorErr::Deserialization(_) if cfg!(not(feature = "ssr")) => AppError::Unavailable,
            ServerFnErrorErr::Args(_)
            | ServerFnErrorErr::MissingArg(_)
            | ServerFnErrorErr::Serialization(_)
            | ServerFnErrorErr::Deserialization(_)
            | ServerFnErrorErr::UnsupportedRequestMethod(_) => AppError::BadRequest,
            // Text from the framework is never shown: it can describe internals.
            _ => AppError::Internal { reference: "unavailable".into() },
        };
        // On the server this is a request whose arguments could not be read (the function never
        // ran): answered with its status (400), not server_fn's 500 for every error, which called
        // each malformed request a failure of ours (and logged it as one). Anything else: 500.
        #[cfg(feature = "ssr")]
        let err = crate::server::reject(err);
        err
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_page_does_not_say_its_heading_twice() {
        for issue in [LinkIssue::Invalid, LinkIssue::Expired, LinkIssue::Used, LinkIssue::Superseded, LinkIssue::AccountExists, LinkIssue::UsedSignedIn] {
            for under in [issue.under_title(), issue.report_sentence()] {
                assert!(!under.starts_with(issue.title()), "{issue:?}: {under}");
            }
        }
    }

    /// An expired sign-up or reset link's page says how long the next one works: as long as the
    /// server makes them work.
    #[cfg(feature = "ssr")]
    #[test]
    fn an_expired_link_says_how_long_a_new_one_works() {
        use domain::auth::email_links::{RESET_LINK_MINUTES, SIGN_UP_LINK_MINUTES};
        assert_eq!(SIGN_UP_LINK_MINUTES, RESET_LINK_MINUTES, "one sentence serves both");
        let said = format!("it works for {SIGN_UP_LINK_MINUTES} minutes after it arrives.");
        assert!(LinkIssue::Expired.sentence().ends_with(&said), "{}", LinkIssue::Expired.sentence());
        assert!(LinkIssue::Expired.under_title().ends_with(&said), "{}", LinkIssue::Expired.under_title());
    }

    #[test]
    fn messages_are_sentences_without_internals() {
        assert_eq!(AppError::InvalidCredentials.to_string(), "Incorrect email or password.");
        let internal = AppError::from_server_fn_error(ServerFnErrorErr::ServerError("sqlx: relation users".into()));
        assert!(!internal.to_string().contains("sqlx"));
        let args = AppError::from_server_fn_error(ServerFnErrorErr::Args("missing field `password`".into()));
        assert_eq!(args, AppError::BadRequest);
    }

    #[test]
    fn waits_are_said_in_seconds_or_whole_minutes() {
        assert_eq!(
            AppError::RateLimited { retry_after_seconds: 40 }.to_string(),
            "Too many attempts from your network. Wait 40 seconds, then try again."
        );
        assert_eq!(AppError::RateLimited { retry_after_seconds: 1 }.to_string(), "Too many attempts from your network. Wait 1 second, then try again.");
        assert_eq!(AppError::RateLimited { retry_after_seconds: 241 }.to_string(), "Too many attempts from your network. Wait 5 minutes, then try again.");
        assert_eq!(AppError::Busy { retry_after_seconds: 2 }.to_string(), "Gatehouse is busy right now. Wait 2 seconds, then try again.");
        assert_eq!(AppError::Busy { retry_after_seconds: 2 }.retry_after_seconds(), Some(2));
        assert_eq!(AppError::Unavailable.retry_after_seconds(), None);
    }
}
