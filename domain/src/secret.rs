//! Values that must never be printed: their `Debug` is redacted.
use std::fmt;

/// A password as typed by a person.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// A random token held by a cookie (base64url of 32 random bytes); the database keeps only its
/// SHA-256. `Debug` never shows it.
macro_rules! cookie_token {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            pub fn from_cookie(s: impl Into<String>) -> Self {
                Self(s.into())
            }
            pub fn expose(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(<redacted>)"))
            }
        }
    };
}

cookie_token!(
    /// A session's token, as the session cookie holds it.
    SessionToken
);
cookie_token!(
    /// A sign-in waiting for its second step (password right, code still to come).
    PendingToken
);
cookie_token!(
    /// The device cookie (signed entries naming accounts this browser fully signed in to): it
    /// decides which throttle counts this browser's guesses, and is never a session.
    DeviceCookie
);
cookie_token!(
    /// A passkey sign-in between its two halves (the browser that began it finishes it).
    CeremonyToken
);
cookie_token!(
    /// Binds provider sign-ins, connections and re-verifications to the browser that began them.
    FlowCookie
);
cookie_token!(
    /// The single-use token of an emailed link (finish sign-up, reset password): 32 random bytes,
    /// base64url; the database keeps only its SHA-256.
    LinkToken
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        assert!(!format!("{:?}", Password::new("hunter2-hunter2")).contains("hunter2"));
        assert!(!format!("{:?}", SessionToken::from_cookie("abcdef")).contains("abcdef"));
    }
}
