//! Protocol values that are stored as text: each kind is an enum with exactly one string form,
//! written and read through `as_str` / `parse` (and sqlx's `Type`/`Encode`/`Decode` for binding
//! and reading), so a misspelt kind is a compile error rather than a row nobody can find.

/// Declares a text-stored kind: the enum, `ALL`, `as_str`, `parse`, `Display` and the sqlx traits.
macro_rules! text_kind {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every kind, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The one string form (stored in the database).
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            /// The kind a stored string names; `None` for anything else.
            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl sqlx::Type<sqlx::Postgres> for $name {
            fn type_info() -> sqlx::postgres::PgTypeInfo {
                <&str as sqlx::Type<sqlx::Postgres>>::type_info()
            }

            fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
                <&str as sqlx::Type<sqlx::Postgres>>::compatible(ty)
            }
        }

        impl<'q> sqlx::Encode<'q, sqlx::Postgres> for $name {
            fn encode_by_ref(&self, buf: &mut sqlx::postgres::PgArgumentBuffer) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&str as sqlx::Encode<sqlx::Postgres>>::encode_by_ref(&self.as_str(), buf)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
                $name::parse(&text).ok_or_else(|| serde::de::Error::custom(format_args!("unknown {} {text:?}", stringify!($name))))
            }
        }

        impl<'r> sqlx::Decode<'r, sqlx::Postgres> for $name {
            fn decode(value: sqlx::postgres::PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
                let text = <&str as sqlx::Decode<sqlx::Postgres>>::decode(value)?;
                $name::parse(text).ok_or_else(|| format!("unknown {} {text:?}", stringify!($name)).into())
            }
        }
    };
}

text_kind! {
    /// How a session signed in (`sessions.auth_method`).
    pub enum SignInMethod {
        Password = "password",
        PasswordAndAuthenticator = "password+totp",
        PasswordAndBackupCode = "password+backup_code",
        /// A passkey that verified the person: both factors in one step.
        Passkey = "passkey",
        Google = "google",
        GoogleAndAuthenticator = "google+totp",
        GoogleAndBackupCode = "google+backup_code",
        GitHub = "github",
        GitHubAndAuthenticator = "github+totp",
        GitHubAndBackupCode = "github+backup_code",
    }
}

impl SignInMethod {
    /// The sign-in proved a second factor: an authenticator code, a backup code, or a passkey
    /// (both factors in one).
    pub fn proved_second_factor(self) -> bool {
        // (each listed: a new one-factor method must not count as proven by default, as ending
        // the one-factor sessions on Enterprise relies on this)
        use SignInMethod::*;
        match self {
            Password | Google | GitHub => false,
            PasswordAndAuthenticator | PasswordAndBackupCode | Passkey | GoogleAndAuthenticator | GoogleAndBackupCode | GitHubAndAuthenticator
            | GitHubAndBackupCode => true,
        }
    }

    /// A sign-in whose first step was `provider` (or the password, for `None`), and whose second
    /// step, if any, was an authenticator code (`Some(false)`) or a backup code (`Some(true)`).
    pub fn of(provider: Option<Provider>, second_step_backup: Option<bool>) -> Self {
        use SignInMethod::*;
        match (provider, second_step_backup) {
            (None, None) => Password,
            (None, Some(false)) => PasswordAndAuthenticator,
            (None, Some(true)) => PasswordAndBackupCode,
            (Some(Provider::Google), None) => Google,
            (Some(Provider::Google), Some(false)) => GoogleAndAuthenticator,
            (Some(Provider::Google), Some(true)) => GoogleAndBackupCode,
            (Some(Provider::GitHub), None) => GitHub,
            (Some(Provider::GitHub), Some(false)) => GitHubAndAuthenticator,
            (Some(Provider::GitHub), Some(true)) => GitHubAndBackupCode,
        }
    }

    /// The second step was a backup code (one was used up).
    pub fn used_backup_code(self) -> bool {
        use SignInMethod::*;
        matches!(self, PasswordAndBackupCode | GoogleAndBackupCode | GitHubAndBackupCode)
    }

    /// How it signed in, after "with": "a password and an authenticator app", "Google".
    pub fn words(self) -> &'static str {
        use SignInMethod::*;
        match self {
            Password => "a password",
            PasswordAndAuthenticator => "a password and an authenticator app",
            PasswordAndBackupCode => "a password and a backup code",
            Passkey => "a passkey",
            Google => "Google",
            GoogleAndAuthenticator => "Google and an authenticator app",
            GoogleAndBackupCode => "Google and a backup code",
            GitHub => "GitHub",
            GitHubAndAuthenticator => "GitHub and an authenticator app",
            GitHubAndBackupCode => "GitHub and a backup code",
        }
    }
}

text_kind! {
    /// An identity provider a person can sign in with (`connected_accounts.provider`).
    pub enum Provider {
        Google = "google",
        GitHub = "github",
    }
}

impl Provider {
    /// The provider's name as people know it.
    pub fn name(self) -> &'static str {
        match self {
            Provider::Google => "Google",
            Provider::GitHub => "GitHub",
        }
    }
}

text_kind! {
    /// What a provider flow is for (`provider_flows.intent`).
    pub enum FlowIntent {
        /// Sign in, or sign up when the identity is linked to no account.
        SignIn = "sign_in",
        /// Link the identity to the session's account.
        Connect = "connect",
        /// Confirm it's you, with a provider already linked to the session's account.
        Reverify = "reverify",
    }
}

text_kind! {
    /// What happened, in the account's security history (`security_events.kind`).
    pub enum EventKind {
        AccountCreated = "account_created",
        SignedIn = "signed_in",
        SignedOut = "signed_out",
        SessionRevoked = "session_revoked",
        OtherSessionsRevoked = "other_sessions_revoked",
        SignedOutEverywhere = "signed_out_everywhere",
        Reverified = "reverified",
        PasswordChanged = "password_changed",
        PasswordSet = "password_set",
        TotpEnabled = "totp_enabled",
        /// The authenticator app was changed to another (its secret replaced; the backup codes kept).
        TotpChanged = "totp_changed",
        TotpDisabled = "totp_disabled",
        BackupCodesGenerated = "backup_codes_generated",
        PasskeyAdded = "passkey_added",
        PasskeyRemoved = "passkey_removed",
        /// A passkey's name changed (`detail`: “old” to “new”).
        PasskeyRenamed = "passkey_renamed",
        ProviderConnected = "provider_connected",
        ProviderDisconnected = "provider_disconnected",
        /// "Forgot password?": a reset link was sent to the account's address.
        PasswordResetRequested = "password_reset_requested",
        /// The password was replaced through a reset link (or set, on an account without one).
        PasswordReset = "password_reset",
        /// "This wasn't me" turned the password off (whoever signed in may know it) until a reset
        /// link sets a new one.
        PasswordTurnedOff = "password_turned_off",
        /// A wrong password at sign-in.
        SignInFailed = "sign_in_failed",
        /// A wrong code at the second step of a sign-in.
        SecondStepFailed = "second_step_failed",
        /// A wrong current password when changing it.
        CurrentPasswordFailed = "current_password_failed",
        /// A wrong password or code when confirming it's you.
        ReverifyFailed = "reverify_failed",
        /// A failure that locked a sign-in path.
        SignInLocked = "sign_in_locked",
        /// A passkey sign-in refused because its signature counter went back: what a copy of a
        /// security key does (`detail`: the passkey's name).
        PasskeyCopyRefused = "passkey_copy_refused",
        /// A backup code was used up to sign in (beside that sign-in's `signed_in`).
        BackupCodeUsed = "backup_code_used",
        /// An email about an unfamiliar sign-in was sent.
        SignInAlertSent = "sign_in_alert_sent",
        /// "Was this you?" answered Yes.
        SignInConfirmed = "sign_in_confirmed",
        /// "This wasn't me" (the emailed link) or "No, secure my account" (the page's prompt): the
        /// sign-in's session (and, from the page, every other one) ended.
        SignInReported = "sign_in_reported",
    }
}

text_kind! {
    /// The groups the activity list filters by.
    pub enum ActivityFilter {
        SignIns = "sign_ins",
        Sessions = "sessions",
        Credentials = "credentials",
        Alerts = "alerts",
    }
}

impl ActivityFilter {
    /// What the filter is called on the page.
    pub fn label(self) -> &'static str {
        match self {
            ActivityFilter::SignIns => "Sign-ins",
            ActivityFilter::Sessions => "Sessions",
            ActivityFilter::Credentials => "Credential changes",
            ActivityFilter::Alerts => "Alerts",
        }
    }

    /// The event kinds in this group.
    pub fn kinds(self) -> Vec<EventKind> {
        EventKind::ALL.iter().copied().filter(|k| k.filter() == self).collect()
    }
}

impl EventKind {
    /// The activity list's group of this kind.
    pub fn filter(self) -> ActivityFilter {
        use EventKind::*;
        match self {
            SignedIn | SignInFailed | SecondStepFailed | SignInLocked | PasskeyCopyRefused | Reverified | ReverifyFailed | CurrentPasswordFailed => {
                ActivityFilter::SignIns
            }
            SignedOut | SessionRevoked | OtherSessionsRevoked | SignedOutEverywhere => ActivityFilter::Sessions,
            AccountCreated | PasswordChanged | PasswordSet | TotpEnabled | TotpChanged | TotpDisabled | BackupCodesGenerated | BackupCodeUsed
            | PasskeyAdded | PasskeyRemoved | PasskeyRenamed | ProviderConnected | ProviderDisconnected | PasswordResetRequested | PasswordReset
            | PasswordTurnedOff => {
                ActivityFilter::Credentials
            }
            SignInAlertSent | SignInConfirmed | SignInReported => ActivityFilter::Alerts,
        }
    }

    /// A change that emails a security notice (which cannot be turned off), or a refusal the owner
    /// must hear of (a passkey that may have been copied). A password reset sends its own message
    /// ("Your password was reset").
    pub fn sends_notice(self) -> bool {
        use EventKind::*;
        matches!(
            self,
            PasswordChanged
                | PasswordSet
                | TotpEnabled
                | TotpChanged
                | TotpDisabled
                | BackupCodesGenerated
                | BackupCodeUsed
                | PasskeyAdded
                | PasskeyRemoved
                | PasskeyCopyRefused
                | ProviderConnected
                | ProviderDisconnected
                | OtherSessionsRevoked
                | SignedOutEverywhere
        )
    }
}

text_kind! {
    /// Why a session ended (`sessions.revoked_reason`).
    pub enum RevokeReason {
        SignedOut = "signed_out",
        /// Ended from another session's list.
        Revoked = "revoked",
        RevokedAllOthers = "revoked_all_others",
        SignedOutEverywhere = "signed_out_everywhere",
        PasswordChanged = "password_changed",
        PasswordSet = "password_set",
        /// The password was reset through an emailed link.
        PasswordReset = "password_reset",
        /// Past its idle or absolute lifetime (written by the clean-up sweep's SQL).
        Expired = "expired",
        /// The account's owner said this sign-in was not them ("This wasn't me", or the page's
        /// "No, secure my account").
        ReportedNotMe = "reported_not_me",
        /// It signed in with a passkey the owner removed, asking to sign out its sessions too.
        PasskeyRemoved = "passkey_removed",
        /// It signed in with a Google or GitHub identity the owner disconnected, asking to sign out
        /// its sessions too.
        ProviderDisconnected = "provider_disconnected",
        /// It signed in without a second factor while the organisation's requirement of one was
        /// not yet met, and the owner has now set up the authenticator app: from then on a sign-in
        /// needs a code, so such a session (restricted to that setup until then) ends.
        SecondFactorRequired = "second_factor_required",
    }
}

text_kind! {
    /// Which passkey ceremony a stored state belongs to (`webauthn_ceremonies.kind`). A sign-in
    /// stores none: the browser's cookie carries it (`auth::passkeys::begin_sign_in`).
    pub enum CeremonyKind {
        Register = "register",
        Reverify = "reverify",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trips<K: Copy + PartialEq + std::fmt::Debug>(all: &[K], as_str: fn(K) -> &'static str, parse: fn(&str) -> Option<K>) {
        let mut seen = std::collections::HashSet::new();
        for &k in all {
            assert!(seen.insert(as_str(k)), "{:?} shares its string form", k);
            assert_eq!(parse(as_str(k)), Some(k));
        }
        assert_eq!(parse("no such kind"), None);
    }

    #[test]
    fn every_kind_has_one_distinct_string_form_that_parses_back() {
        round_trips(SignInMethod::ALL, SignInMethod::as_str, SignInMethod::parse);
        round_trips(EventKind::ALL, EventKind::as_str, EventKind::parse);
        round_trips(RevokeReason::ALL, RevokeReason::as_str, RevokeReason::parse);
        round_trips(CeremonyKind::ALL, CeremonyKind::as_str, CeremonyKind::parse);
        round_trips(Provider::ALL, Provider::as_str, Provider::parse);
        round_trips(FlowIntent::ALL, FlowIntent::as_str, FlowIntent::parse);
        round_trips(ActivityFilter::ALL, ActivityFilter::as_str, ActivityFilter::parse);
    }

    #[test]
    fn stored_forms_stay_what_existing_rows_hold() {
        assert_eq!(SignInMethod::PasswordAndAuthenticator.as_str(), "password+totp");
        assert_eq!(SignInMethod::PasswordAndBackupCode.as_str(), "password+backup_code");
        assert_eq!(EventKind::SignInLocked.as_str(), "sign_in_locked");
        assert_eq!(RevokeReason::Expired.as_str(), "expired");
        assert_eq!(CeremonyKind::Reverify.as_str(), "reverify");
        // the migration's CHECK constraints name these
        assert_eq!(Provider::GitHub.as_str(), "github");
        assert_eq!(SignInMethod::of(Some(Provider::GitHub), Some(true)).as_str(), "github+backup_code");
        assert_eq!(SignInMethod::of(None, Some(false)), SignInMethod::PasswordAndAuthenticator);
    }
}

text_kind! {
    /// What an email is (`email_outbox.kind`): one template, text and HTML, per kind.
    pub enum MailKind {
        /// Sign-up for a new address: the link that finishes creating the account.
        ConfirmSignUp = "confirm_sign_up",
        /// Sign-up for an address that already has an account: links to sign in and to reset.
        AccountExists = "account_exists",
        /// "Forgot password?": the link to choose a new password (or set a first one).
        PasswordReset = "password_reset",
        /// The password was just reset.
        PasswordResetDone = "password_reset_done",
        /// A sign-in from a device and network the account had not used lately.
        UnfamiliarSignIn = "unfamiliar_sign_in",
        /// A credential changed (password, authenticator, backup codes, passkey, provider), or
        /// every session was signed out.
        SecurityNotice = "security_notice",
    }
}
