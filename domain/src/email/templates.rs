//! The templates (askama, `domain/templates/email/`): for each kind, a `.txt` part and an `.html`
//! part extending one layout each. Askama escapes every value in the HTML parts.
use askama::Template;

use super::{EmailSettings, Mail, Rendered};

/// Declares a kind's two templates over the same fields (plus `site` and `name`, every message's).
macro_rules! mail_templates {
    ($text:ident, $html:ident, $text_file:literal, $html_file:literal { $($field:ident: $ty:ty),* $(,)? }) => {
        #[derive(Template)]
        #[template(path = $text_file)]
        struct $text<'a> {
            site: &'a str,
            #[allow(dead_code)] // the kinds sent to an address that may not be the requester's greet without it
            name: Option<&'a str>,
            $($field: $ty,)*
        }

        #[derive(Template)]
        #[template(path = $html_file)]
        struct $html<'a> {
            site: &'a str,
            #[allow(dead_code)] // the kinds sent to an address that may not be the requester's greet without it
            name: Option<&'a str>,
            subject: &'a str,
            $($field: $ty,)*
        }
    };
}

mail_templates!(ConfirmSignUpText, ConfirmSignUpHtml, "email/confirm_sign_up.txt", "email/confirm_sign_up.html" { link: &'a str, minutes: i64 });
mail_templates!(AccountExistsText, AccountExistsHtml, "email/account_exists.txt", "email/account_exists.html" { sign_in: &'a str, reset: &'a str });
mail_templates!(PasswordResetText, PasswordResetHtml, "email/password_reset.txt", "email/password_reset.html" { link: &'a str, minutes: i64, sets_password: bool, after_report: bool, asked: bool });
mail_templates!(PasswordResetDoneText, PasswordResetDoneHtml, "email/password_reset_done.txt", "email/password_reset_done.html" { when: &'a str, device: &'a str, location: &'a str, ip: &'a str, security: &'a str, reset: &'a str });
mail_templates!(UnfamiliarSignInText, UnfamiliarSignInHtml, "email/unfamiliar_sign_in.txt", "email/unfamiliar_sign_in.html" {
    when: &'a str, device: &'a str, location: &'a str, ip: &'a str, method: &'a str, review: &'a str, not_me: &'a str, hours: i64
});
mail_templates!(SecurityNoticeText, SecurityNoticeHtml, "email/security_notice.txt", "email/security_notice.html" {
    headline: &'a str, what: &'a str, when: &'a str, device: &'a str, location: &'a str, ip: &'a str, security: &'a str, reset: &'a str,
    by_report: bool, app_turned_on: bool, copied_passkey: bool
});

pub(super) fn render(settings: &EmailSettings, name: Option<&str>, mail: &Mail) -> askama::Result<Rendered> {
    let site = settings.site_name.as_str();
    let kind = mail.kind();
    let (subject, text, html) = match mail {
        Mail::ConfirmSignUp { link, minutes } => {
            let subject = format!("Finish creating your {site} account");
            let (link, minutes) = (link.as_str(), *minutes);
            let text = ConfirmSignUpText { site, name, link, minutes }.render()?;
            let html = ConfirmSignUpHtml { site, name, subject: &subject, link, minutes }.render()?;
            (subject, text, html)
        }
        Mail::AccountExists { sign_in, reset } => {
            let subject = format!("Someone tried to create a {site} account with your email");
            let (sign_in, reset) = (sign_in.as_str(), reset.as_str());
            let text = AccountExistsText { site, name, sign_in, reset }.render()?;
            let html = AccountExistsHtml { site, name, subject: &subject, sign_in, reset }.render()?;
            (subject, text, html)
        }
        Mail::PasswordReset { link, minutes, sets_password, after_report, asked } => {
            let subject = if *after_report {
                format!("Choose a new {site} password")
            } else if *sets_password {
                format!("Set a password for your {site} account")
            } else {
                format!("Reset your {site} password")
            };
            let (link, minutes, sets_password, after_report, asked) = (link.as_str(), *minutes, *sets_password, *after_report, *asked);
            let text = PasswordResetText { site, name, link, minutes, sets_password, after_report, asked }.render()?;
            let html = PasswordResetHtml { site, name, subject: &subject, link, minutes, sets_password, after_report, asked }.render()?;
            (subject, text, html)
        }
        Mail::PasswordResetDone { when, device, location, ip, security, reset } => {
            let subject = format!("Your {site} password was reset");
            let (when, device, location, ip, security, reset) =
                (when.as_str(), device.as_str(), location.as_str(), ip.as_str(), security.as_str(), reset.as_str());
            let text = PasswordResetDoneText { site, name, when, device, location, ip, security, reset }.render()?;
            let html = PasswordResetDoneHtml { site, name, subject: &subject, when, device, location, ip, security, reset }.render()?;
            (subject, text, html)
        }
        Mail::UnfamiliarSignIn { when, device, location, ip, method, review, not_me, hours } => {
            let subject = format!("New sign-in to your {site} account from {device}");
            let (when, device, location, ip, method, review, not_me, hours) =
                (when.as_str(), device.as_str(), location.as_str(), ip.as_str(), method.as_str(), review.as_str(), not_me.as_str(), *hours);
            let text = UnfamiliarSignInText { site, name, when, device, location, ip, method, review, not_me, hours }.render()?;
            let html =
                UnfamiliarSignInHtml { site, name, subject: &subject, when, device, location, ip, method, review, not_me, hours }.render()?;
            (subject, text, html)
        }
        Mail::SecurityNotice { headline, what, when, device, location, ip, security, reset, advice } => {
            let subject = headline.clone();
            let (headline, what, when, device, location, ip, security, reset) =
                (headline.as_str(), what.as_str(), when.as_str(), device.as_str(), location.as_str(), ip.as_str(), security.as_str(), reset.as_str());
            use super::NoticeAdvice;
            let (by_report, app_turned_on, copied_passkey) =
                (*advice == NoticeAdvice::ByReport, *advice == NoticeAdvice::AppTurnedOn, *advice == NoticeAdvice::CopiedPasskey);
            let text = SecurityNoticeText { site, name, headline, what, when, device, location, ip, security, reset, by_report, app_turned_on, copied_passkey }
                .render()?;
            let html = SecurityNoticeHtml {
                site, name, subject: &subject, headline, what, when, device, location, ip, security, reset, by_report, app_turned_on, copied_passkey,
            }
            .render()?;
            (subject, text, html)
        }
    };
    Ok(Rendered { kind, subject, text, html })
}
