//! The sender task: claims due messages from the outbox and sends them.
//!
//! Every server instance runs one. A message is claimed with `FOR UPDATE SKIP LOCKED` and leased
//! (moved into the future) in the same statement, so two senders never send the same message. The
//! task wakes on `LISTEN gatehouse_email_outbox` (a message was queued) and at least every
//! `[email] poll_seconds`. A failed attempt is retried after `retry_base_seconds`, doubling each
//! time (at most an hour), until `max_attempts`. A message with a link (sign-up, reset) has a
//! deadline instead: it is tried at least every `LINK_MAX_BACKOFF` and given up, unsent, once its
//! link would arrive with under `email::LINK_READING_MINUTES` left. A refusal of the message itself (550-553: no such
//! mailbox, not allowed, full) is not retried. Every other 5xx is about the relay (a failed
//! login, "no service", a syntax the relay rejects) and is retried like a 4xx: treated as final,
//! one expired relay password gave up the whole outbox within seconds, bodies emptied.
//! The Message-ID is `<outbox id@from domain>`, so a retry after a crash is the same message.
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use time::{Duration, OffsetDateTime};

use super::{EmailConfig, TlsMode};
use crate::clock::Clock;
use crate::db;
use crate::db::email::Claimed;
use crate::DomainError;

/// The channel the outbox's trigger notifies.
pub const CHANNEL: &str = "gatehouse_email_outbox";
/// A claimed message is not claimed again for this long: longer than any one SMTP attempt (each
/// SMTP command times out after `SMTP_TIMEOUT`, and a message takes about six), so no other
/// sender takes it while this one is still sending it.
pub const LEASE: Duration = Duration::minutes(5);
/// Each SMTP command's timeout.
const SMTP_TIMEOUT: StdDuration = StdDuration::from_secs(20);
/// Messages claimed at once: one, so each lease covers a single send.
const BATCH: i64 = 1;
/// The longest wait between attempts.
const MAX_BACKOFF: Duration = Duration::hours(1);
/// The longest wait between tries of a message with a deadline (a sign-up or reset link): it goes
/// out within this long of the relay's return, while its link still works.
pub const LINK_MAX_BACKOFF: Duration = Duration::minutes(2);

/// Why an attempt failed.
#[derive(Debug)]
pub struct SendError {
    /// Retrying cannot help (the relay refused the message or the address for good).
    pub permanent: bool,
    pub message: String,
}

type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<(), SendError>> + Send + 'a>>;

/// Where messages go: SMTP in production, a capture in tests.
pub trait Transport: Send + Sync {
    fn send(&self, message: Message) -> SendFuture<'_>;
}

/// Sends over SMTP with lettre (tokio, rustls).
pub struct Smtp(AsyncSmtpTransport<Tokio1Executor>);

impl Smtp {
    pub fn new(config: &EmailConfig) -> Result<Self, String> {
        let host = config.smtp_host.as_str();
        let builder = match config.tls {
            TlsMode::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
            TlsMode::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host).map_err(|e| format!("[email] smtp_host: {e}"))?,
            TlsMode::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host).map_err(|e| format!("[email] smtp_host: {e}"))?,
        };
        let mut builder = builder.port(config.smtp_port).timeout(Some(SMTP_TIMEOUT));
        if !config.smtp_username.is_empty() {
            builder = builder.credentials(Credentials::new(config.smtp_username.clone(), config.smtp_password.clone()));
        }
        Ok(Self(builder.build()))
    }
}

impl Transport for Smtp {
    fn send(&self, message: Message) -> SendFuture<'_> {
        Box::pin(async move {
            self.0.send(message).await.map(|_| ()).map_err(|e| SendError { permanent: refuses_the_message(e.status()), message: e.to_string() })
        })
    }
}

/// Whether an SMTP reply refuses this message for good (RFC 5321 4.2.2): 550 mailbox unavailable,
/// 551 not local, 552 storage exceeded, 553 mailbox name not allowed. Any other reply, or none
/// (a connection or TLS failure), says nothing final about the message.
fn refuses_the_message(code: Option<lettre::transport::smtp::response::Code>) -> bool {
    use lettre::transport::smtp::response::{Category, Detail, Severity};
    matches!(
        code,
        Some(c) if c.severity == Severity::PermanentNegativeCompletion
            && c.category == Category::MailSystem
            && matches!(c.detail, Detail::Zero | Detail::One | Detail::Two | Detail::Three)
    )
}

/// A message a `Capture` received.
#[derive(Clone, Debug)]
pub struct Captured {
    pub to: Vec<String>,
    pub message_id: String,
    pub subject: String,
    /// The whole message as sent (headers and both parts, transfer-encoded).
    pub raw: String,
}

/// Keeps what it is given (tests); `fail_with` makes every send fail until cleared.
#[derive(Clone, Default)]
pub struct Capture {
    pub sent: Arc<Mutex<Vec<Captured>>>,
    pub failing: Arc<Mutex<Option<SendError>>>,
}

impl Capture {
    pub fn messages(&self) -> Vec<Captured> {
        self.sent.lock().unwrap().clone()
    }
    pub fn fail_with(&self, error: Option<SendError>) {
        *self.failing.lock().unwrap() = error;
    }
}

impl Clone for SendError {
    fn clone(&self) -> Self {
        Self { permanent: self.permanent, message: self.message.clone() }
    }
}

impl Transport for Capture {
    fn send(&self, message: Message) -> SendFuture<'_> {
        Box::pin(async move {
            if let Some(e) = self.failing.lock().unwrap().clone() {
                return Err(e);
            }
            let header = |name: &str| {
                message.headers().get_raw(name).map(str::to_string).unwrap_or_default()
            };
            let captured = Captured {
                to: message.envelope().to().iter().map(|a| a.to_string()).collect(),
                message_id: header("Message-ID"),
                subject: header("Subject"),
                raw: String::from_utf8_lossy(&message.formatted()).into_owned(),
            };
            self.sent.lock().unwrap().push(captured);
            Ok(())
        })
    }
}

/// How the sender retries and gives up.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    pub max_attempts: i32,
    pub base: Duration,
}

impl RetryPolicy {
    pub fn from_config(config: &EmailConfig) -> Self {
        Self { max_attempts: config.max_attempts.max(1), base: Duration::seconds(config.retry_base_seconds.max(1)) }
    }

    /// When to try again after failed attempt number `attempt` (1-based); `None`: give up.
    pub fn retry_at(&self, attempt: i32, now: OffsetDateTime) -> Option<OffsetDateTime> {
        if attempt >= self.max_attempts {
            return None;
        }
        Some(now + self.backoff(attempt).min(MAX_BACKOFF))
    }

    /// The same for a message that must go out before `deadline` (its link's): tried again at
    /// least every `LINK_MAX_BACKOFF` however many times it failed, and given up once the next try
    /// would fall at or after the deadline.
    pub fn retry_before(&self, attempt: i32, now: OffsetDateTime, deadline: OffsetDateTime) -> Option<OffsetDateTime> {
        Some(now + self.backoff(attempt).min(LINK_MAX_BACKOFF)).filter(|at| *at < deadline)
    }

    fn backoff(&self, attempt: i32) -> Duration {
        let factor = 1i64 << (attempt - 1).clamp(0, 20);
        self.base * factor as i32
    }
}

/// One sender: the pool, the clock, where messages go, who they are from.
#[derive(Clone)]
pub struct Sender {
    pub db: sqlx::PgPool,
    pub clock: Clock,
    pub transport: Arc<dyn Transport>,
    pub from: Mailbox,
    pub retry: RetryPolicy,
}

/// What one round did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Round {
    pub sent: usize,
    pub retrying: usize,
    pub given_up: usize,
    /// Given up unsent: their links would have arrived dead.
    pub expired: usize,
}

impl Sender {
    /// Claims one batch of due messages and tries each once.
    pub async fn send_due(&self) -> Result<Round, DomainError> {
        let now = self.clock.now();
        let mut round = Round::default();
        let expired = db::email::expire(&self.db, now).await?;
        if expired > 0 {
            tracing::warn!(count = expired, "emails not sent: their links expired first");
            round.expired = expired as usize;
        }
        let claimed = db::email::claim(&self.db, now, now + LEASE, BATCH).await?;
        for mail in claimed {
            let result = match self.build(&mail) {
                Ok(message) => self.transport.send(message).await,
                Err(e) => Err(e),
            };
            let now = self.clock.now();
            match result {
                Ok(()) => {
                    db::email::mark_sent(&self.db, mail.id, mail.attempts, now).await?;
                    tracing::info!(id = %mail.id, kind = %mail.kind, "email sent");
                    round.sent += 1;
                }
                Err(e) => {
                    let retry_at = match (e.permanent, mail.expires_at) {
                        (true, _) => None,
                        (false, Some(deadline)) => self.retry.retry_before(mail.attempts, now, deadline),
                        (false, None) => self.retry.retry_at(mail.attempts, now),
                    };
                    db::email::mark_failed(&self.db, mail.id, mail.attempts, &e.message, now, retry_at).await?;
                    if retry_at.is_some() {
                        tracing::warn!(id = %mail.id, kind = %mail.kind, attempt = mail.attempts, error = %e.message, "email not sent; will retry");
                        round.retrying += 1;
                    } else {
                        tracing::error!(id = %mail.id, kind = %mail.kind, attempt = mail.attempts, error = %e.message, "email not sent; given up");
                        round.given_up += 1;
                    }
                }
            }
        }
        Ok(round)
    }

    /// Sends until nothing is due.
    pub async fn drain(&self) -> Result<Round, DomainError> {
        let mut total = Round::default();
        loop {
            let round = self.send_due().await?;
            let claimed = round.sent + round.retrying + round.given_up;
            total.sent += round.sent;
            total.retrying += round.retrying;
            total.given_up += round.given_up;
            total.expired += round.expired;
            if claimed == 0 {
                return Ok(total);
            }
        }
    }

    /// The message as it goes out; an address the relay could never accept fails for good.
    fn build(&self, mail: &Claimed) -> Result<Message, SendError> {
        let permanent = |message: String| SendError { permanent: true, message };
        let address = mail.to_address.parse().map_err(|e| permanent(format!("recipient address: {e}")))?;
        let to = Mailbox::new(mail.to_name.clone().filter(|n| !n.trim().is_empty()), address);
        let domain = self.from.email.domain();
        // (RFC 3834: out-of-office and other automatic replies are not sent to a machine's mail)
        let auto_submitted = HeaderValue::new(HeaderName::new_from_ascii_str("Auto-Submitted"), "auto-generated".to_string());
        Message::builder()
            .message_id(Some(format!("<{}@{}>", mail.id, domain)))
            .raw_header(auto_submitted)
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.clone())
            .multipart(MultiPart::alternative_plain_html(mail.text_body.clone(), mail.html_body.clone()))
            .map_err(|e| permanent(format!("message: {e}")))
    }

    /// Runs for as long as the server does: drains the outbox whenever a message is queued
    /// (notification), when the next retry is due, and at least every `poll`.
    pub async fn run(self, poll: StdDuration) {
        let mut listener = None;
        loop {
            if listener.is_none() {
                listener = match sqlx::postgres::PgListener::connect_with(&self.db).await {
                    Ok(mut l) => match l.listen(CHANNEL).await {
                        Ok(()) => Some(l),
                        Err(e) => {
                            tracing::warn!(error = %e, "email sender cannot listen for new messages; polling");
                            None
                        }
                    },
                    Err(e) => {
                        tracing::warn!(error = %e, "email sender cannot listen for new messages; polling");
                        None
                    }
                };
            }
            if let Err(e) = self.drain().await {
                tracing::warn!(error = %e, "email sender round failed; will retry");
            }
            let wait = match db::email::next_due(&self.db).await {
                Ok(Some(due)) => {
                    let until = (due - self.clock.now()).max(Duration::milliseconds(50));
                    StdDuration::try_from(until).unwrap_or(poll).min(poll)
                }
                _ => poll,
            };
            match listener.as_mut() {
                Some(l) => match tokio::time::timeout(wait, l.recv()).await {
                    Ok(Ok(_)) | Err(_) => {}
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, "email sender lost its notification connection; reconnecting");
                        listener = None;
                        tokio::time::sleep(StdDuration::from_secs(1)).await;
                    }
                },
                None => tokio::time::sleep(wait).await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn retries_back_off_exponentially_then_give_up() {
        let policy = RetryPolicy { max_attempts: 4, base: Duration::seconds(30) };
        let now = datetime!(2026-12-01 12:00 UTC);
        assert_eq!(policy.retry_at(1, now), Some(now + Duration::seconds(30)));
        assert_eq!(policy.retry_at(2, now), Some(now + Duration::seconds(60)));
        assert_eq!(policy.retry_at(3, now), Some(now + Duration::seconds(120)));
        assert_eq!(policy.retry_at(4, now), None);
        let long = RetryPolicy { max_attempts: 40, base: Duration::seconds(30) };
        assert_eq!(long.retry_at(30, now), Some(now + MAX_BACKOFF));
    }

    #[test]
    fn a_message_with_a_deadline_is_retried_at_least_every_two_minutes_until_it() {
        let policy = RetryPolicy { max_attempts: 4, base: Duration::seconds(30) };
        let now = datetime!(2026-12-01 12:00 UTC);
        let deadline = now + Duration::minutes(25);
        assert_eq!(policy.retry_before(1, now, deadline), Some(now + Duration::seconds(30)));
        assert_eq!(policy.retry_before(3, now, deadline), Some(now + Duration::minutes(2)));
        assert_eq!(policy.retry_before(12, now, deadline), Some(now + LINK_MAX_BACKOFF), "past max_attempts, still tried");
        assert_eq!(policy.retry_before(12, deadline - Duration::minutes(2), deadline), None, "the next try would be too late");
        assert_eq!(policy.retry_before(12, deadline - Duration::seconds(121), deadline), Some(deadline - Duration::seconds(1)));
    }

    /// Only a refusal of this message is final; a relay that refuses everyone (an expired
    /// password: 535, "no service": 554, a 4xx, no reply at all) is tried again later.
    #[test]
    fn only_a_refusal_of_the_message_itself_is_final() {
        use lettre::transport::smtp::response::{Category, Code, Detail, Severity};
        let code = |s: Severity, c: Category, d: Detail| Some(Code::new(s, c, d));
        let five = Severity::PermanentNegativeCompletion;
        for final_ in [Detail::Zero, Detail::One, Detail::Two, Detail::Three] {
            assert!(refuses_the_message(code(five, Category::MailSystem, final_)), "55{}", final_ as u8);
        }
        assert!(!refuses_the_message(code(five, Category::MailSystem, Detail::Four)), "554");
        assert!(!refuses_the_message(code(five, Category::Unspecified3, Detail::Five)), "535");
        assert!(!refuses_the_message(code(five, Category::Unspecified3, Detail::Zero)), "530");
        assert!(!refuses_the_message(code(five, Category::Syntax, Detail::Zero)), "500");
        assert!(!refuses_the_message(code(Severity::TransientNegativeCompletion, Category::MailSystem, Detail::Zero)), "450");
        assert!(!refuses_the_message(None), "no reply");
    }
}
