//! An example of every kind of message, for the component previews and the template tests.
use super::{EmailSettings, Mail};
use crate::kinds::MailKind;

/// Examples of every kind, for the component previews and the template tests.
pub fn examples(settings: &EmailSettings) -> Vec<(&'static str, MailKind, Option<&'static str>, Mail)> {
    let token = "preview-token-not-valid";
    vec![
        ("confirm_sign_up", MailKind::ConfirmSignUp, None, Mail::ConfirmSignUp { link: settings.link("/sign-up/finish", Some(token)), minutes: 60 }),
        (
            "account_exists",
            MailKind::AccountExists,
            None,
            Mail::AccountExists { sign_in: settings.link("/sign-in", None), reset: settings.link("/forgot-password", None) },
        ),
        (
            "password_reset",
            MailKind::PasswordReset,
            Some("Ada <Lovelace> & Co"),
            Mail::PasswordReset { link: settings.link("/reset-password", Some(token)), minutes: 60, sets_password: false, after_report: false, asked: true },
        ),
        (
            "password_reset_after_report",
            MailKind::PasswordReset,
            Some("Ada <Lovelace> & Co"),
            Mail::PasswordReset { link: settings.link("/reset-password", Some(token)), minutes: 60, sets_password: false, after_report: true, asked: false },
        ),
        (
            "password_reset_while_off",
            MailKind::PasswordReset,
            Some("Ada <Lovelace> & Co"),
            Mail::PasswordReset { link: settings.link("/reset-password", Some(token)), minutes: 60, sets_password: false, after_report: true, asked: true },
        ),
        (
            "password_reset_done",
            MailKind::PasswordResetDone,
            Some("Ada <Lovelace> & Co"),
            Mail::PasswordResetDone {
                when: "1 December 2026 at 14:05 UTC".into(),
                device: "Firefox 140 on Windows 10".into(),
                location: "Lisbon, Portugal".into(),
                ip: "198.51.100.7".into(),
                security: settings.link("/settings/security", None),
                reset: settings.link("/forgot-password", None),
            },
        ),
        (
            "unfamiliar_sign_in",
            MailKind::UnfamiliarSignIn,
            Some("Ada <Lovelace> & Co"),
            Mail::UnfamiliarSignIn {
                when: "1 December 2026 at 14:05 UTC".into(),
                device: "Chrome 131 on Windows 10 <script>".into(),
                location: "Berlin, Land Berlin, Germany".into(),
                ip: "203.0.113.77".into(),
                method: "a password".into(),
                review: settings.link("/settings/security", None),
                not_me: settings.link("/this-wasnt-me", Some(token)),
                hours: 72,
            },
        ),
        (
            "security_notice",
            MailKind::SecurityNotice,
            Some("Ada <Lovelace> & Co"),
            Mail::SecurityNotice {
                headline: format!("A passkey was added to your {} account", settings.site_name),
                what: "The passkey “Work laptop <b>” can now sign in to your account.".into(),
                when: "1 December 2026 at 14:05 UTC".into(),
                device: "Firefox 140 on Windows 10".into(),
                location: "Unknown".into(),
                ip: "198.51.100.7".into(),
                security: settings.link("/settings/security", None),
                reset: settings.link("/forgot-password", None),
                advice: super::NoticeAdvice::Reset,
            },
        ),
        (
            "security_notice_copied_passkey",
            MailKind::SecurityNotice,
            Some("Ada <Lovelace> & Co"),
            Mail::SecurityNotice {
                headline: format!("A sign-in to your {} account with a copied passkey was refused", settings.site_name),
                what: "The passkey “YubiKey 5C” was used to sign in and refused: its signature counter went back, which is what a copy of a security key sends. Nobody was signed in.".into(),
                when: "1 December 2026 at 14:05 UTC".into(),
                device: "Chrome 131 on Windows 10".into(),
                location: "Berlin, Land Berlin, Germany".into(),
                ip: "203.0.113.77".into(),
                security: settings.link("/settings/security", None),
                reset: settings.link("/forgot-password", None),
                advice: super::NoticeAdvice::CopiedPasskey,
            },
        ),
    ]
}
