//! Email: messages composed from one template per kind (text and HTML parts), queued in the
//! Postgres outbox inside the transaction of the change that causes them, and sent by the sender
//! task (`sender`) over SMTP.
//!
//! Links in messages start with `[email] public_origin`, never with a request's Host header.
use lettre::message::Mailbox;
use serde::Deserialize;
use sqlx::PgExecutor;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::db;
use crate::ids::UserId;
use crate::kinds::MailKind;
use crate::DomainError;

mod examples;
mod names;
pub mod sender;
mod templates;

pub use examples::examples;
use names::clean_name;
pub use names::defang_links;

/// How messages go out: `[email]` in Leptos.toml (SMTP credentials from the environment only).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// The SMTP relay.
    pub smtp_host: String,
    pub smtp_port: u16,
    /// `tls` (implicit TLS, usually port 465), `starttls` (usually 587) or `none` (loopback only:
    /// the local mail catcher).
    pub tls: TlsMode,
    /// From GATEHOUSE_EMAIL_SMTP_USERNAME / GATEHOUSE_EMAIL_SMTP_PASSWORD; empty: no SMTP AUTH.
    #[serde(default)]
    pub smtp_username: String,
    #[serde(default)]
    pub smtp_password: String,
    /// The sender, e.g. `Gatehouse <no-reply@example.com>`; its domain also names Message-IDs.
    pub from: String,
    /// Where links in messages point, e.g. `https://accounts.example.com`. Empty: `[passkeys] origin`.
    #[serde(default)]
    pub public_origin: String,
    /// The name messages sign with and show in their subject lines.
    #[serde(default = "default_site_name")]
    pub site_name: String,
    /// A message is tried this many times, then given up (its last error stays in the outbox).
    #[serde(default = "default_max_attempts")]
    pub max_attempts: i32,
    /// The wait after the first failure; it doubles after each further one (at most an hour).
    #[serde(default = "default_retry_base_seconds")]
    pub retry_base_seconds: i64,
    /// Sent and given-up messages are deleted after this many days.
    #[serde(default = "default_retention_days")]
    pub retention_days: i64,
    /// The sender wakes at least this often even without a notification (seconds).
    #[serde(default = "default_poll_seconds")]
    pub poll_seconds: u64,
}

fn default_site_name() -> String {
    "Gatehouse".into()
}
fn default_max_attempts() -> i32 {
    8
}
fn default_retry_base_seconds() -> i64 {
    30
}
fn default_retention_days() -> i64 {
    7
}
fn default_poll_seconds() -> u64 {
    30
}

impl Default for EmailConfig {
    /// The local mail catcher of `make run` and the tests.
    fn default() -> Self {
        Self {
            smtp_host: "127.0.0.1".into(),
            smtp_port: 2525,
            tls: TlsMode::None,
            smtp_username: String::new(),
            smtp_password: String::new(),
            from: "Gatehouse <no-reply@gatehouse.localhost>".into(),
            public_origin: String::new(),
            site_name: default_site_name(),
            max_attempts: default_max_attempts(),
            retry_base_seconds: default_retry_base_seconds(),
            retention_days: default_retention_days(),
            poll_seconds: default_poll_seconds(),
        }
    }
}

impl std::fmt::Debug for EmailConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailConfig")
            .field("smtp_host", &self.smtp_host)
            .field("smtp_port", &self.smtp_port)
            .field("tls", &self.tls)
            .field("smtp_username", &self.smtp_username)
            .field("smtp_password", &"[redacted]")
            .field("from", &self.from)
            .field("public_origin", &self.public_origin)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    None,
    Starttls,
    Tls,
}

/// What composing a message needs: the site's name, where links point, who it is from.
#[derive(Clone, Debug)]
pub struct EmailSettings {
    pub site_name: String,
    /// Scheme, host and port, no trailing slash.
    pub public_origin: String,
    pub from: Mailbox,
}

impl EmailSettings {
    /// Checks the configured values; `fallback_origin` is used when `[email] public_origin` is empty.
    pub fn new(config: &EmailConfig, fallback_origin: &str) -> Result<Self, String> {
        let origin = if config.public_origin.trim().is_empty() { fallback_origin } else { config.public_origin.trim() };
        let url = url::Url::parse(origin).map_err(|e| format!("[email] public_origin {origin:?}: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() || url.path() != "/" || url.query().is_some() {
            return Err(format!("[email] public_origin must be an origin like https://accounts.example.com, not {origin:?}"));
        }
        let from: Mailbox = config.from.parse().map_err(|e| format!("[email] from {:?}: {e}", config.from))?;
        if config.site_name.trim().is_empty() || config.site_name.chars().any(char::is_control) {
            return Err("[email] site_name must be a plain, non-empty name".into());
        }
        // (sent messages are what the hourly limit on link emails counts: kept less than a day, it
        // would count none)
        if config.retention_days < 1 {
            return Err("[email] retention_days must be at least 1".into());
        }
        Ok(Self { site_name: config.site_name.trim().into(), public_origin: url.origin().ascii_serialization(), from })
    }

    /// Settings for tests: links to `origin`.
    pub fn for_tests(origin: &str) -> Self {
        Self::new(&EmailConfig::default(), origin).expect("a valid test origin")
    }

    /// An absolute link to `path` on this site, with `token` as its query.
    pub fn link(&self, path: &str, token: Option<&str>) -> String {
        let mut url = url::Url::parse(&self.public_origin).expect("checked in new").join(path).expect("a site path");
        if let Some(token) = token {
            url.query_pairs_mut().append_pair("token", token);
        }
        url.into()
    }
}

/// A message to send, by kind. Links are absolute (see `EmailSettings::link`).
#[derive(Clone, Debug)]
pub enum Mail {
    /// The link that finishes a sign-up (valid `minutes`).
    ConfirmSignUp { link: String, minutes: i64 },
    /// Someone asked to sign up with an address that already has an account.
    AccountExists { sign_in: String, reset: String },
    /// "Forgot password?" (`sets_password`: the account has none yet), or the link a report ("This
    /// wasn't me") sends after turning the password off. `after_report`: the password is off since
    /// a report, so the email says so, and that the password does not work until a new one is
    /// chosen, not "ignore this and it stays as it is". `asked`: someone asked for it with "Forgot
    /// password?" (it counts against the address's hourly limit); `false`: the report's own link
    /// (it does not, or three reports' links would leave the owner none to ask for).
    PasswordReset { link: String, minutes: i64, sets_password: bool, after_report: bool, asked: bool },
    /// The password was just reset (`when` in words, UTC).
    PasswordResetDone { when: String, device: String, location: String, ip: String, security: String, reset: String },
    /// A sign-in from a device and network the account had not used lately, with "Review your
    /// sessions" and the "This wasn't me" link (valid `hours`).
    UnfamiliarSignIn { when: String, device: String, location: String, ip: String, method: String, review: String, not_me: String, hours: i64 },
    /// A credential changed: `headline` is also the subject, `what` the sentence saying what changed,
    /// `advice` what to do if it was not the reader.
    SecurityNotice {
        headline: String,
        what: String,
        when: String,
        device: String,
        location: String,
        ip: String,
        security: String,
        reset: String,
        advice: NoticeAdvice,
    },
}

/// What a security notice tells a reader who did not make the change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoticeAdvice {
    /// Reset the password (that signs out every session), then review the settings.
    Reset,
    /// An authenticator app was turned on or changed: a reset would not remove it (it would ask
    /// for its codes), so change it to one's own (or turn it off) from a session still signed in,
    /// then change the password. (Changing works on an Enterprise plan too, where it cannot be
    /// turned off.)
    AppTurnedOn,
    /// The reader's own report of a sign-in did it: nothing to do.
    ByReport,
    /// A sign-in with a passkey was refused as a possible copy: nothing changed, so not a reset,
    /// but the passkey removed (whoever holds the copy could otherwise keep trying).
    CopiedPasskey,
}

/// A link's email goes out only while its link has at least this long left to be read.
pub const LINK_READING_MINUTES: i64 = 5;

impl Mail {
    /// When the sender gives it up, unsent: a link that would arrive with less than
    /// `LINK_READING_MINUTES` left is not worth sending.
    fn deadline(&self, now: OffsetDateTime) -> Option<OffsetDateTime> {
        match self {
            Mail::ConfirmSignUp { minutes, .. } | Mail::PasswordReset { minutes, .. } => {
                Some(now + time::Duration::minutes(minutes - LINK_READING_MINUTES))
            }
            _ => None,
        }
    }

    /// The hourly budget it counts against (`db::email::*_rate_key`), for a message to `to`
    /// (account `user_id`).
    fn rate_key(&self, to: &str, user_id: Option<UserId>) -> Option<String> {
        match self {
            Mail::ConfirmSignUp { .. } | Mail::AccountExists { .. } => Some(db::email::sign_up_rate_key(&db::users::normalize_email(to))),
            Mail::PasswordReset { asked: true, .. } => user_id.map(db::email::reset_rate_key),
            _ => None,
        }
    }

    pub fn kind(&self) -> MailKind {
        match self {
            Mail::ConfirmSignUp { .. } => MailKind::ConfirmSignUp,
            Mail::AccountExists { .. } => MailKind::AccountExists,
            Mail::PasswordReset { .. } => MailKind::PasswordReset,
            Mail::PasswordResetDone { .. } => MailKind::PasswordResetDone,
            Mail::UnfamiliarSignIn { .. } => MailKind::UnfamiliarSignIn,
            Mail::SecurityNotice { .. } => MailKind::SecurityNotice,
        }
    }
}

/// A composed message: subject, plain text and HTML.
#[derive(Clone, Debug)]
pub struct Rendered {
    pub kind: MailKind,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Composes `mail` for a person called `name` (the account's own display name; `None` greets
/// without a name, as every message to an address that may not be the requester's does).
pub fn render(settings: &EmailSettings, name: Option<&str>, mail: &Mail) -> Result<Rendered, DomainError> {
    let name = name.map(|n| defang_links(&clean_name(n))).filter(|n| !n.is_empty());
    templates::render(settings, name.as_deref(), mail).map_err(|e| DomainError::Internal(format!("email template: {e}")))
}

/// A moment in words, for messages: "1 December 2026 at 14:05 UTC".
pub fn format_when(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!("{} {} {} at {:02}:{:02} UTC", at.day(), at.month(), at.year(), at.hour(), at.minute())
}

/// Queues `mail` to `to` in the outbox. Call it with the transaction of the change that causes
/// the message: it is sent if and only if that change commits.
pub async fn queue(
    db: impl PgExecutor<'_>,
    settings: &EmailSettings,
    user_id: Option<UserId>,
    to: &str,
    name: Option<&str>,
    mail: &Mail,
    now: OffsetDateTime,
) -> Result<(), DomainError> {
    let rendered = render(settings, name, mail)?;
    // the To header's name, cleaned like the greeting's
    let to_name = name.map(clean_name).filter(|n| !n.is_empty());
    let rate_key = mail.rate_key(to, user_id);
    let new = db::email::NewMail {
        id: Uuid::new_v4(),
        kind: rendered.kind,
        user_id,
        to_address: to,
        to_name: to_name.as_deref(),
        subject: &rendered.subject,
        text_body: &rendered.text,
        html_body: &rendered.html,
        expires_at: mail.deadline(now),
        rate_key: rate_key.as_deref(),
    };
    db::email::enqueue(db, &new, now).await?;
    Ok(())
}

/// Deletes sent and given-up messages past retention and expired links; answers how many rows.
pub async fn clean_up(db: &sqlx::PgPool, now: OffsetDateTime, retention_days: i64) -> Result<u64, DomainError> {
    let messages = db::email::prune(db, now - time::Duration::days(retention_days)).await?;
    // links are kept a day past expiry, so a late click still reads "expired", not "not valid"
    let links = db::email::delete_expired_links(db, now - time::Duration::days(1)).await?;
    Ok(messages + links as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeping_sent_messages_under_a_day_is_refused_as_it_would_lift_the_hourly_limit() {
        let config = EmailConfig { retention_days: 0, ..Default::default() };
        let e = EmailSettings::new(&config, "https://accounts.example.com").err();
        assert_eq!(e.as_deref(), Some("[email] retention_days must be at least 1"));
        assert!(EmailSettings::new(&EmailConfig { retention_days: 1, ..Default::default() }, "https://accounts.example.com").is_ok());
    }

    #[test]
    fn links_use_the_configured_origin_and_encode_the_token() {
        let s = EmailSettings::for_tests("https://accounts.example.com");
        assert_eq!(s.link("/reset-password", Some("a+b/c")), "https://accounts.example.com/reset-password?token=a%2Bb%2Fc");
        assert_eq!(s.link("/sign-in", None), "https://accounts.example.com/sign-in");
    }

    #[test]
    fn a_public_origin_with_a_path_or_another_scheme_is_refused() {
        for bad in ["https://accounts.example.com/app", "ftp://example.com", "not a url", "https://example.com/?x=1"] {
            let config = EmailConfig { public_origin: bad.into(), ..Default::default() };
            assert!(EmailSettings::new(&config, "http://localhost:3000").is_err(), "{bad}");
        }
    }

    #[test]
    fn every_kind_renders_both_parts_and_escapes_the_name_in_html() {
        let s = EmailSettings::for_tests("http://localhost:3000");
        for (_, kind, name, mail) in examples(&s) {
            let r = render(&s, name, &mail).unwrap();
            assert_eq!(r.kind, kind);
            assert!(r.subject.contains("Gatehouse"), "{kind}: {}", r.subject);
            assert!(!r.text.is_empty() && r.html.starts_with("<!DOCTYPE html>"), "{kind}");
            assert!(!r.html.contains("<Lovelace>"), "{kind}: the name is escaped in HTML");
            assert!(!r.html.contains("<script>") && !r.html.contains("<b>"), "{kind}: device strings and details are escaped in HTML");
            for link in r.text.split_whitespace().filter(|w| w.starts_with("http")) {
                assert!(link.starts_with("http://localhost:3000/"), "{kind}: {link}");
                assert!(r.html.contains(&link.replace('&', "&amp;")), "{kind}: the HTML part has {link} too");
            }
        }
    }
}
