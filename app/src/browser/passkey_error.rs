//! Why a passkey ceremony did not finish in the browser, and what the person reads (both builds).

/// Why a passkey ceremony did not finish in the browser.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PasskeyError {
    /// The person dismissed the browser's prompt, or it timed out (browsers do not tell which).
    Cancelled,
    /// This browser has no WebAuthn.
    Unsupported,
    /// Registering: the authenticator already holds one of this account's passkeys.
    AlreadyRegistered,
    /// Replaced by another request (e.g. autofill cancelled for the button); say nothing.
    Aborted,
    /// Anything else, as a sentence.
    Failed(String),
}

impl PasskeyError {
    /// What the person reads; `None` for an aborted request.
    pub fn message(&self, what: &str) -> Option<String> {
        match self {
            PasskeyError::Cancelled => Some(format!("{what} was cancelled.")),
            PasskeyError::Unsupported => Some(UNSUPPORTED.to_string()),
            PasskeyError::AlreadyRegistered => Some(
                "This device or password manager already has a passkey for your account. Use it, or choose another one."
                    .to_string(),
            ),
            PasskeyError::Aborted => None,
            PasskeyError::Failed(m) => Some(m.clone()),
        }
    }
}

/// Shown where passkey controls would be, in browsers without WebAuthn.
pub const UNSUPPORTED: &str =
    "This browser can't use passkeys. Use a current version of Chrome, Edge, Firefox or Safari, or sign in another way.";
