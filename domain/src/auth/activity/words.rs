//! The words of Recent security activity (one sentence per event) and of the notice emails (a
//! headline and a sentence per credential change).
use super::shown;
use crate::kinds::{EventKind, SignInMethod};

/// The short sentence the activity list shows for an event.
pub fn sentence(kind: EventKind, method: Option<SignInMethod>, detail: Option<&str>) -> String {
    use EventKind::*;
    // (a passkey's name whole, as long as one may be: cut at 60, two long names could read alike)
    let named = |what: &str| match detail.filter(|d| !d.trim().is_empty()) {
        Some(d) => format!("{what} ({})", shown(d, policy::names::PASSKEY_NAME_MAX)),
        None => what.to_string(),
    };
    match kind {
        AccountCreated => "Created the account".into(),
        SignedIn => match method {
            Some(m) => named(&format!("Signed in with {}", m.words())),
            None => "Signed in".into(),
        },
        SignedOut => "Signed out".into(),
        SessionRevoked => match detail.filter(|d| !d.trim().is_empty()) {
            Some(d) => format!("Ended {}", shown(d, 120)),
            None => "Ended another session".into(),
        },
        OtherSessionsRevoked => "Signed out of all other sessions".into(),
        SignedOutEverywhere => "Signed out everywhere".into(),
        // ("your password", "Google", "the passkey “Phone”"; none before 2026-12-07)
        Reverified => match detail.filter(|d| !d.trim().is_empty()) {
            // (long enough for a passkey's whole name inside "the passkey “…”")
            Some(d) => format!("Confirmed it's you with {}", shown(d, policy::names::PASSKEY_NAME_MAX + "the passkey “”".chars().count())),
            None => "Confirmed it's you".into(),
        },
        PasswordChanged => "Changed the password".into(),
        PasswordSet => "Set a password".into(),
        TotpEnabled => "Turned on two-step verification (authenticator app)".into(),
        TotpChanged => "Changed the authenticator app".into(),
        TotpDisabled => "Turned off two-step verification".into(),
        BackupCodesGenerated => "Made new backup codes".into(),
        BackupCodeUsed => "Used a backup code to sign in".into(),
        PasskeyAdded => named("Added a passkey"),
        PasskeyCopyRefused => named("Refused a passkey sign-in whose counter went back: a copy of the passkey may exist"),
        PasskeyRemoved => named("Removed a passkey"),
        // (its detail is already “old” to “new”, quoted)
        PasskeyRenamed => match detail.filter(|d| !d.trim().is_empty()) {
            Some(d) => format!("Renamed a passkey: {}", shown(d, 140)),
            None => "Renamed a passkey".into(),
        },
        ProviderConnected => match detail {
            Some(p) => format!("Connected {}", shown(p, 40)),
            None => "Connected a sign-in provider".into(),
        },
        ProviderDisconnected => match detail {
            Some(p) => format!("Disconnected {}", shown(p, 40)),
            None => "Disconnected a sign-in provider".into(),
        },
        PasswordResetRequested => "Asked for a password reset link".into(),
        PasswordReset => "Reset the password with an emailed link".into(),
        PasswordTurnedOff => "Turned off the password after a reported sign-in, until a new one is chosen".into(),
        SignInFailed => "Failed sign-in: wrong password".into(),
        SecondStepFailed => "Failed sign-in: wrong code".into(),
        CurrentPasswordFailed => "Wrong current password when changing it".into(),
        // (a wrong password or code has none; a provider's: "Google: an account not connected to yours")
        ReverifyFailed => match detail.filter(|d| !d.trim().is_empty()) {
            Some(d) => format!("Failed to confirm it's you with {}", shown(d, 80)),
            None => "Failed to confirm it's you".into(),
        },
        SignInLocked => "Sign-in locked after too many failures".into(),
        SignInAlertSent => named("Emailed an alert about a new sign-in"),
        SignInConfirmed => named("Confirmed a new sign-in was you"),
        SignInReported => match detail.filter(|d| !d.trim().is_empty()) {
            // (recorded before 2026-12-07, when the detail said only where the report came from)
            Some(d @ ("from the email" | "from this page")) => format!("Reported a sign-in that wasn't you: its session ended ({d})"),
            // (`alerts::reported_detail`'s: which sign-in, from where; what ended)
            Some(d) => match d.rsplit_once("; ") {
                Some((which, ended)) => format!("Reported a sign-in that wasn't you ({}): {}", shown(which, 130), shown(ended, 80)),
                None => format!("Reported a sign-in that wasn't you ({})", shown(d, 160)),
            },
            None => "Reported a sign-in that wasn't you".into(),
        },
    }
}

/// How much of a connected account's name (`identity`) the activity list and the notice email
/// show: long enough for a GitHub login and its email, "@login (address)", whole in any real case.
const IDENTITY_SHOWN_CHARS: usize = 160;

/// [`sentence`], naming the connected account a connection or disconnection was about when the
/// event has it (`identity`, since 2026-12-08): "Connected GitHub (@octocat)", as the notice email
/// names it.
pub fn sentence_naming(kind: EventKind, method: Option<SignInMethod>, detail: Option<&str>, identity: Option<&str>) -> String {
    let said = sentence(kind, method, detail);
    match identity.filter(|i| !i.trim().is_empty()) {
        Some(i) if detail.is_some() && matches!(kind, EventKind::ProviderConnected | EventKind::ProviderDisconnected) => format!("{said} ({})", shown(i, IDENTITY_SHOWN_CHARS)),
        _ => said,
    }
}

/// The notice email's headline (also its subject) and sentence, for a kind that sends one.
pub(super) fn notice_words(kind: EventKind, detail: Option<&str>, identity: Option<&str>, site: &str) -> Option<(String, String)> {
    use EventKind::*;
    // (a passkey's name is whoever added it's to choose: nothing in it becomes a link)
    let detail = detail.map(|d| crate::email::defang_links(&shown(d, policy::names::PASSKEY_NAME_MAX)));
    // (nor the intruder's own Google address or GitHub login: "reset-help@evil.example")
    let identity = identity.map(|i| crate::email::defang_links(&shown(i, IDENTITY_SHOWN_CHARS)));
    let passkey = detail.as_deref().map(|d| format!("The passkey “{d}”")).unwrap_or_else(|| "A passkey".into());
    let provider = detail.clone().unwrap_or_else(|| "A sign-in provider".into());
    Some(match kind {
        PasswordChanged => (format!("Your {site} password was changed"), "The password of your account was changed.".into()),
        PasswordSet => (format!("A password was set on your {site} account"), "Your account can now sign in with a password.".into()),
        TotpEnabled => (
            format!("Two-step verification was turned on for your {site} account"),
            "Signing in now also asks for a code from your authenticator app.".into(),
        ),
        TotpChanged => (
            format!("The authenticator app of your {site} account was changed"),
            "Signing in now asks for codes from a different authenticator app; codes from the earlier one no longer work. Your backup codes are unchanged.".into(),
        ),
        TotpDisabled => (
            format!("Two-step verification was turned off for your {site} account"),
            "Signing in no longer asks for a code from an authenticator app, and your backup codes no longer work.".into(),
        ),
        BackupCodesGenerated => (
            format!("New backup codes were made for your {site} account"),
            "New backup codes were made; the earlier ones no longer work.".into(),
        ),
        BackupCodeUsed => (
            format!("A backup code was used to sign in to your {site} account"),
            "A backup code was used to sign in (each code works once). If you lost your authenticator app, set up a new one.".into(),
        ),
        PasskeyAdded => (format!("A passkey was added to your {site} account"), format!("{passkey} can now sign in to your account.")),
        PasskeyRemoved => (format!("A passkey was removed from your {site} account"), format!("{passkey} can no longer sign in to your account.")),
        // (nothing changed, but nobody else can tell the owner that a copy of her key is in use)
        PasskeyCopyRefused => (
            format!("A sign-in to your {site} account with a copied passkey was refused"),
            format!(
                "{passkey} was used to sign in and refused: its signature counter went back, which is what a copy of a security key sends. Nobody was signed in."
            ),
        ),
        ProviderConnected => (
            format!("{provider} was connected to your {site} account"),
            match identity {
                Some(i) => format!("Your account can now be signed in to with the {provider} account {i}."),
                None => format!("Your account can now be signed in to with {provider}."),
            },
        ),
        ProviderDisconnected => (
            format!("{provider} was disconnected from your {site} account"),
            match identity {
                Some(i) => format!("Signing in with the {provider} account {i} no longer works."),
                None => format!("Signing in with {provider} no longer works."),
            },
        ),
        // (whoever got in could otherwise sign the owner out of every device without a word)
        OtherSessionsRevoked => (
            format!("Your other {site} sessions were signed out"),
            "Every session of your account was signed out, except the one on the device below.".into(),
        ),
        SignedOutEverywhere => (
            format!("Your {site} account was signed out everywhere"),
            "Every session of your account was signed out, on every device.".into(),
        ),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_and_odd_texts_are_cut_and_cleaned() {
        assert_eq!(shown("Berlin", 80), "Berlin");
        assert_eq!(shown(&"x".repeat(100), 10), format!("{}…", "x".repeat(9)));
        assert_eq!(shown("a\r\nb", 80), "a  b");
    }

    #[test]
    fn every_kind_has_a_sentence_and_every_notice_kind_a_headline() {
        for &kind in EventKind::ALL {
            assert!(!sentence(kind, None, None).is_empty());
            assert_eq!(notice_words(kind, Some("x"), None, "Gatehouse").is_some(), kind.sends_notice(), "{kind}");
        }
        assert_eq!(
            sentence(EventKind::SignedIn, Some(SignInMethod::Passkey), Some("iCloud Keychain")),
            "Signed in with a passkey (iCloud Keychain)"
        );
        assert_eq!(sentence(EventKind::ProviderConnected, None, Some("GitHub")), "Connected GitHub");
    }

    /// A report's entry names the sign-in and what ended; one recorded before (its detail only
    /// where the report came from) keeps its words.
    #[test]
    fn a_reports_entry_reads_its_detail_and_an_older_one_keeps_its_words() {
        let said = |d| sentence(EventKind::SignInReported, None, Some(d));
        assert_eq!(
            said("Chrome 131 on Windows 10 near Lisbon, from the email; its session ended"),
            "Reported a sign-in that wasn't you (Chrome 131 on Windows 10 near Lisbon, from the email): its session ended"
        );
        assert_eq!(said("from this page"), "Reported a sign-in that wasn't you: its session ended (from this page)");
        // (a device or place is never cut to lose what ended)
        let long = format!("{} near {}, from the email; it had already ended", "d".repeat(60), "p".repeat(40));
        assert!(said(&long).ends_with("from the email): it had already ended"), "{}", said(&long));
    }

    /// A connection names the account it connected, and a disconnection the one it removed; an
    /// event recorded before it was kept, or another kind, keeps its words.
    #[test]
    fn a_connected_accounts_entry_names_the_account() {
        let who = "@grace-hopper-1906 (grace@computing-history.example.org)";
        assert_eq!(
            sentence_naming(EventKind::ProviderConnected, None, Some("GitHub"), Some(who)),
            "Connected GitHub (@grace-hopper-1906 (grace@computing-history.example.org))"
        );
        assert_eq!(sentence_naming(EventKind::ProviderDisconnected, None, Some("Google"), Some("kim@acme.test")), "Disconnected Google (kim@acme.test)");
        assert_eq!(sentence_naming(EventKind::ProviderConnected, None, Some("GitHub"), None), "Connected GitHub");
        assert_eq!(sentence_naming(EventKind::ProviderConnected, None, Some("GitHub"), Some("  ")), "Connected GitHub");
        assert_eq!(sentence_naming(EventKind::SignedOut, None, None, Some("kim@acme.test")), "Signed out");
    }

    /// A GitHub login with a long address is named whole, not cut inside the address.
    #[test]
    fn a_github_login_and_its_long_address_are_named_whole() {
        let who = "@grace-hopper-1906 (grace.brewster.hopper.1906@computing-history.example.org)";
        let (_, what) = notice_words(EventKind::ProviderDisconnected, Some("GitHub"), Some(who), "Gatehouse").unwrap();
        assert_eq!(
            what,
            "Signing in with the GitHub account @grace-hopper-1906 (grace[.]brewster[.]hopper.1906[@]computing-history[.]example[.]org) no longer works."
        );
    }

    /// Whoever connected their Google account chose its address: the owner's notice names it, but
    /// not as a link a mail client would offer.
    #[test]
    fn a_connected_identity_in_a_notice_is_no_link() {
        let (_, what) = notice_words(EventKind::ProviderConnected, Some("Google"), Some("reset-help@evil.example"), "Gatehouse").unwrap();
        assert_eq!(what, "Your account can now be signed in to with the Google account reset-help[@]evil[.]example.");
    }
}
