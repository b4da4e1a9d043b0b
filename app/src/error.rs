//! The one error type server functions return. Its `Display` is the sentence a person reads;
//! infrastructure failures carry only a reference that support can look up in the server log.
use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    #[error("Incorrect email or password.")]
    InvalidCredentials,
    #[error("Please sign in to continue.")]
    NotSignedIn,
    #[error("An account with this email already exists. Sign in instead.")]
    EmailTaken,
    /// A field broke a rule; `message` says what to do.
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
    #[error("Something went wrong on our side. Please try again; if it keeps happening, contact support and quote reference {reference}.")]
    Internal { reference: String },
    #[error("We couldn't reach Gatehouse. Check your connection and try again.")]
    Network,
    #[error("That request could not be understood. Reload the page and try again.")]
    BadRequest,
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Request(_) => AppError::Network,
            ServerFnErrorErr::Args(_)
            | ServerFnErrorErr::MissingArg(_)
            | ServerFnErrorErr::Serialization(_)
            | ServerFnErrorErr::Deserialization(_)
            | ServerFnErrorErr::UnsupportedRequestMethod(_) => AppError::BadRequest,
            // Text from the framework is never shown: it can describe internals.
            _ => AppError::Internal { reference: "unavailable".into() },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_sentences_without_internals() {
        assert_eq!(AppError::InvalidCredentials.to_string(), "Incorrect email or password.");
        let internal = AppError::from_server_fn_error(ServerFnErrorErr::ServerError("sqlx: relation users".into()));
        assert!(!internal.to_string().contains("sqlx"));
        let args = AppError::from_server_fn_error(ServerFnErrorErr::Args("missing field `password`".into()));
        assert_eq!(args, AppError::BadRequest);
    }
}
