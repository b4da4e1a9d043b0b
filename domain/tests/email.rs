//! Email: the outbox and its sender, sign-up that confirms the address, and password resets.
use crate::common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use domain::auth::accounts::sign_in;
use domain::auth::email_links::{
    begin_sign_up_passkey, finish_sign_up_with_password, request_password_reset, request_sign_up, reset_link, reset_password, sign_up_link,
    EMAILS_PER_ADDRESS_PER_HOUR, RESET_LINK_MINUTES, RESET_PATH, SIGN_UP_PATH,
};
use domain::email::sender::{Capture, RetryPolicy, SendError, Sender};
use domain::error::LinkProblem;
use domain::request::ClientInfo;
use domain::secret::{LinkToken, Password};
use domain::{DomainError, Services};
use sqlx::PgPool;
use time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use common::{services, sign_up, PW};

const NEW_PW: &str = "a different long passphrase 2026";

fn sender(svc: &Services, transport: Arc<dyn domain::email::sender::Transport>) -> Sender {
    Sender {
        db: svc.db.clone(),
        clock: svc.clock.clone(),
        transport,
        from: svc.email.from.clone(),
        retry: RetryPolicy { max_attempts: 3, base: Duration::seconds(30) },
    }
}

async fn count(db: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(db).await.unwrap()
}

/// The text part of the newest queued message to `to`.
async fn newest_text(db: &PgPool, to: &str) -> String {
    sqlx::query_scalar(testkit::NEWEST_MAIL_TEXT).bind(to).fetch_one(db).await.unwrap()
}

async fn newest_kind(db: &PgPool, to: &str) -> String {
    sqlx::query_scalar("SELECT kind FROM email_outbox WHERE to_address = $1 ORDER BY created_at DESC, id LIMIT 1")
        .bind(to)
        .fetch_one(db)
        .await
        .unwrap()
}

async fn link(db: &PgPool, to: &str, path: &str) -> LinkToken {
    LinkToken::from_cookie(testkit::link_token(&newest_text(db, to).await, path).expect("a link in the email"))
}

/// Queues `n` messages the way the domain does (a sign-up request each).
async fn queue_sign_ups(svc: &Services, n: usize) {
    for i in 0..n {
        request_sign_up(svc, &format!("person{i}@example.test"), None).await.unwrap();
    }
}

// ------------------------------------------------------------------------------------------
// The outbox and its sender
// ------------------------------------------------------------------------------------------

/// A transport that keeps what it sends and yields on each send, so racing senders interleave.
struct Slow(Capture, Arc<AtomicUsize>);

impl domain::email::sender::Transport for Slow {
    fn send(&self, message: lettre::Message) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), SendError>> + Send + '_>> {
        Box::pin(async move {
            self.1.fetch_add(1, Ordering::SeqCst);
            tokio::task::yield_now().await;
            self.0.send(message).await
        })
    }
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn two_senders_racing_send_every_message_exactly_once(db: PgPool) {
    let svc = services(db.clone());
    queue_sign_ups(&svc, 45).await;
    let (a, b) = (Capture::default(), Capture::default());
    let calls = Arc::new(AtomicUsize::new(0));
    let (sa, sb) = (
        sender(&svc, Arc::new(Slow(a.clone(), calls.clone()))),
        sender(&svc, Arc::new(Slow(b.clone(), calls.clone()))),
    );
    let (ra, rb) = tokio::join!(tokio::spawn(async move { sa.drain().await }), tokio::spawn(async move { sb.drain().await }));
    let (ra, rb) = (ra.unwrap().unwrap(), rb.unwrap().unwrap());
    assert_eq!(ra.sent + rb.sent, 45);
    assert_eq!(calls.load(Ordering::SeqCst), 45, "no message was handed to SMTP twice");
    let mut ids: Vec<String> = a.messages().into_iter().chain(b.messages()).map(|m| m.message_id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 45, "45 different messages");
    assert_eq!(count(&db, "SELECT count(*) FROM email_outbox WHERE sent_at IS NOT NULL AND attempts = 1").await, 45);
    assert_eq!(count(&db, "SELECT count(*) FROM email_outbox WHERE text_body <> '' OR html_body <> ''").await, 0, "sent bodies are emptied");
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_change_that_rolls_back_queues_nothing_and_one_that_commits_queues_its_message(db: PgPool) {
    let svc = services(db.clone());
    let mail = domain::email::Mail::ConfirmSignUp { link: svc.email.link(SIGN_UP_PATH, Some("x")), minutes: 60 };
    let mut tx = db.begin().await.unwrap();
    domain::email::queue(&mut *tx, &svc.email, None, "ada@example.test", None, &mail, svc.clock.now()).await.unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(count(&db, "SELECT count(*) FROM email_outbox").await, 0);
    let capture = Capture::default();
    assert_eq!(sender(&svc, Arc::new(capture.clone())).drain().await.unwrap().sent, 0);
    assert!(capture.messages().is_empty(), "nothing is sent for a change that rolled back");

    let mut tx = db.begin().await.unwrap();
    domain::email::queue(&mut *tx, &svc.email, None, "ada@example.test", None, &mail, svc.clock.now()).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(sender(&svc, Arc::new(capture.clone())).drain().await.unwrap().sent, 1);
    assert_eq!(capture.messages()[0].to, ["ada@example.test"]);
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn queuing_a_message_notifies_listening_senders_at_commit_only(db: PgPool) {
    let svc = services(db.clone());
    let mut listener = sqlx::postgres::PgListener::connect_with(&db).await.unwrap();
    listener.listen(domain::email::sender::CHANNEL).await.unwrap();
    let mut tx = db.begin().await.unwrap();
    let mail = domain::email::Mail::ConfirmSignUp { link: svc.email.link(SIGN_UP_PATH, Some("x")), minutes: 60 };
    domain::email::queue(&mut *tx, &svc.email, None, "ada@example.test", None, &mail, svc.clock.now()).await.unwrap();
    tx.commit().await.unwrap();
    let note = tokio::time::timeout(std::time::Duration::from_secs(5), listener.recv()).await.expect("a notification").unwrap();
    assert_eq!(note.channel(), domain::email::sender::CHANNEL);
}

/// A minimal SMTP server on `listener` (enough for lettre): every message it accepts goes to `got`.
async fn smtp_sink(listener: tokio::net::TcpListener, got: Arc<std::sync::Mutex<Vec<String>>>) {
    loop {
        let Ok((socket, _)) = listener.accept().await else { return };
        let got = got.clone();
        tokio::spawn(async move {
            let (read, mut write) = socket.into_split();
            let mut lines = BufReader::new(read).lines();
            write.write_all(b"220 sink ESMTP\r\n").await.ok();
            let mut data: Option<String> = None;
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(buffer) = data.as_mut() {
                    if line == "." {
                        got.lock().unwrap().push(std::mem::take(buffer));
                        data = None;
                        write.write_all(b"250 2.0.0 queued\r\n").await.ok();
                    } else {
                        buffer.push_str(&line);
                        buffer.push('\n');
                    }
                    continue;
                }
                let command = line.to_ascii_uppercase();
                let reply: &[u8] = if command.starts_with("EHLO") || command.starts_with("HELO") {
                    b"250-sink\r\n250 8BITMIME\r\n"
                } else if command.starts_with("DATA") {
                    data = Some(String::new());
                    b"354 go ahead\r\n"
                } else if command.starts_with("QUIT") {
                    write.write_all(b"221 bye\r\n").await.ok();
                    break;
                } else {
                    b"250 2.0.0 ok\r\n"
                };
                write.write_all(reply).await.ok();
            }
        });
    }
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn with_smtp_down_messages_wait_and_go_out_once_when_it_returns_under_the_same_message_id(db: PgPool) {
    let svc = services(db.clone());
    // a port nobody listens on (yet)
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = domain::email::EmailConfig { smtp_host: "127.0.0.1".into(), smtp_port: port, ..Default::default() };
    let smtp = sender(&svc, Arc::new(domain::email::sender::Smtp::new(&config).unwrap()));
    request_sign_up(&svc, "ada@example.test", Some("Ada")).await.unwrap();
    let id: uuid::Uuid = sqlx::query_scalar("SELECT id FROM email_outbox").fetch_one(&db).await.unwrap();

    let round = smtp.drain().await.unwrap();
    assert_eq!((round.sent, round.retrying, round.given_up), (0, 1, 0));
    let (attempts, error): (i32, Option<String>) =
        sqlx::query_as("SELECT attempts, last_error FROM email_outbox").fetch_one(&db).await.unwrap();
    assert_eq!(attempts, 1);
    assert!(error.is_some_and(|e| !e.is_empty()), "the failure is recorded");

    // the relay comes back; the message waits for its back-off (30 s), then goes out once
    let got = Arc::new(std::sync::Mutex::new(Vec::new()));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    tokio::spawn(smtp_sink(listener, got.clone()));
    assert_eq!(smtp.drain().await.unwrap().sent, 0, "not due yet");
    svc.clock.advance(Duration::seconds(30));
    assert_eq!(smtp.drain().await.unwrap().sent, 1);
    assert_eq!(smtp.drain().await.unwrap().sent, 0, "and only once");
    let got = got.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    assert!(got[0].contains(&format!("Message-ID: <{id}@gatehouse.localhost>")), "{}", got[0]);
    assert!(got[0].contains("Subject: Finish creating your Gatehouse account"), "{}", got[0]);
    assert!(got[0].contains("Auto-Submitted: auto-generated"), "no out-of-office replies: {}", got[0]);
    assert!(got[0].contains("multipart/alternative") && got[0].contains("text/plain") && got[0].contains("text/html"));
    assert_eq!(count(&db, "SELECT count(*) FROM email_outbox WHERE sent_at IS NOT NULL AND attempts = 2 AND last_error IS NULL").await, 1);
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn failures_back_off_then_give_up_keeping_the_last_error_and_a_permanent_refusal_is_not_retried(db: PgPool) {
    let svc = services(db.clone());
    let capture = Capture::default();
    let s = sender(&svc, Arc::new(capture.clone()));
    capture.fail_with(Some(SendError { permanent: false, message: "421 try again later".into() }));
    // a message without a deadline ("you have an account": no link that expires)
    confirmed_account(&svc, "ada@example.test").await;
    request_sign_up(&svc, "ada@example.test", None).await.unwrap();
    assert_eq!(newest_kind(&db, "ada@example.test").await, "account_exists");
    let next = || async { sqlx::query_scalar::<_, time::OffsetDateTime>("SELECT next_attempt_at FROM email_outbox").fetch_one(&db).await.unwrap() };
    let start = svc.clock.now();
    assert_eq!(s.drain().await.unwrap().retrying, 1);
    assert_eq!(next().await, start + Duration::seconds(30));
    svc.clock.advance(Duration::seconds(30));
    assert_eq!(s.drain().await.unwrap().retrying, 1);
    assert_eq!(next().await, start + Duration::seconds(30 + 60), "the wait doubles");
    svc.clock.advance(Duration::seconds(60));
    assert_eq!(s.drain().await.unwrap().given_up, 1, "the third attempt was the last");
    let (error, failed): (String, bool) =
        sqlx::query_as("SELECT last_error, failed_at IS NOT NULL FROM email_outbox").fetch_one(&db).await.unwrap();
    assert_eq!((error.as_str(), failed), ("421 try again later", true));
    svc.clock.advance(Duration::hours(2));
    assert_eq!(s.drain().await.unwrap(), Default::default(), "a given-up message is not tried again");

    capture.fail_with(Some(SendError { permanent: true, message: "550 no such user".into() }));
    request_sign_up(&svc, "bob@example.test", None).await.unwrap();
    assert_eq!(s.drain().await.unwrap().given_up, 1, "a permanent refusal is given up at once");
    assert!(capture.messages().is_empty());
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn sent_messages_and_old_links_are_pruned_after_retention(db: PgPool) {
    let svc = services(db.clone());
    request_sign_up(&svc, "ada@example.test", None).await.unwrap();
    sender(&svc, Arc::new(Capture::default())).drain().await.unwrap();
    request_sign_up(&svc, "bob@example.test", None).await.unwrap(); // not sent yet
    svc.clock.advance(Duration::days(8));
    let deleted = domain::email::clean_up(&db, svc.clock.now(), 7).await.unwrap();
    assert_eq!(deleted, 3, "the sent message and both expired sign-up requests");
    assert_eq!(count(&db, "SELECT count(*) FROM email_outbox WHERE to_address = 'bob@example.test'").await, 1, "unsent messages stay");
}

// ------------------------------------------------------------------------------------------
// Sign-up that confirms the address
// ------------------------------------------------------------------------------------------

/// Counts the SQL statements sqlx runs (its `sqlx::query` events), for comparing work.
#[derive(Clone, Default)]
struct Statements(Arc<AtomicUsize>);

impl tracing::Subscriber for Statements {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        if event.metadata().target() == "sqlx::query" {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// What answering a sign-up request cost: (answer, password hashes, SQL statements).
async fn cost_of_sign_up(svc: &Services, email: &str) -> (Result<(), String>, u64, usize) {
    use tracing::instrument::WithSubscriber;
    let statements = Statements::default();
    let hashes = svc.hasher.calls();
    let answer = request_sign_up(svc, email, Some("Eve")).with_subscriber(statements.clone()).await.map_err(|e| format!("{e:?}"));
    (answer, svc.hasher.calls() - hashes, statements.0.load(Ordering::SeqCst))
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn signing_up_with_a_new_or_a_taken_address_answers_alike_after_the_same_work_and_each_gets_its_own_email(db: PgPool) {
    let svc = services(db.clone());
    sign_up(&svc, "ada@example.test", Some("Ada"), &Password::new(PW), &ClientInfo::default()).await.unwrap();
    let taken = cost_of_sign_up(&svc, "Ada@Example.test").await;
    let new = cost_of_sign_up(&svc, "grace@example.test").await;
    assert_eq!(taken.0, Ok(()));
    assert_eq!(taken, new, "(answer, hashes, SQL statements) for a taken and a new address");
    assert!(new.2 >= 3, "the statements were counted: {}", new.2);
    assert_eq!(new.1, 0, "no password is hashed at this step");

    // to the account's own address, not the spelling typed
    assert_eq!(newest_kind(&db, "ada@example.test").await, "account_exists");
    assert_eq!(count(&db, "SELECT count(*) FROM email_outbox WHERE to_address = 'Ada@Example.test'").await, 0);
    let to_ada = newest_text(&db, "ada@example.test").await;
    assert!(to_ada.contains("http://localhost:3000/sign-in") && to_ada.contains("http://localhost:3000/forgot-password"), "{to_ada}");
    assert!(testkit::link_token(&to_ada, SIGN_UP_PATH).is_none(), "no link that would create an account");
    assert_eq!(newest_kind(&db, "grace@example.test").await, "confirm_sign_up");
    assert!(!newest_text(&db, "grace@example.test").await.contains("Eve"), "the requester's name is not put in someone's inbox");
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_sign_up_in_another_spelling_of_a_taken_address_tells_the_account_s_own_mailbox_never_the_typed_one(db: PgPool) {
    let svc = services(db.clone());
    sign_up(&svc, "kim@example.test", None, &Password::new(PW), &ClientInfo::default()).await.unwrap();
    // the Kelvin sign (U+212A) folds to "k" in the look-up key, but may be another mailbox
    let kelvin = "\u{212A}im@example.test";
    request_sign_up(&svc, kelvin, None).await.unwrap();
    assert_eq!(newest_kind(&db, "kim@example.test").await, "account_exists");
    assert_eq!(count(&db, &format!("SELECT count(*) FROM email_outbox WHERE to_address = '{kelvin}'")).await, 0, "nothing told the typed mailbox");
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn no_account_exists_until_the_link_is_followed_and_a_password_chosen_then_that_browser_is_signed_in(db: PgPool) {
    let svc = services(db.clone());
    request_sign_up(&svc, " Grace@Example.test ", Some(" Grace Hopper ")).await.unwrap();
    assert_eq!(count(&db, "SELECT count(*) FROM users").await, 0);
    let token = link(&db, "Grace@Example.test", SIGN_UP_PATH).await;
    let page = sign_up_link(&svc, &token).await.unwrap();
    assert_eq!((page.email.as_str(), page.display_name.as_deref()), ("Grace@Example.test", Some("Grace Hopper")));
    assert_eq!(count(&db, "SELECT count(*) FROM users").await, 0, "reading the link's page creates nothing");

    // the policy sees the address and the name
    let weak = finish_sign_up_with_password(&svc, &token, &Password::new("grace hopper grace hopper"), &ClientInfo::default()).await;
    assert!(matches!(weak, Err(DomainError::PasswordRejected(_))), "{weak:?}");
    let (user, signed_in) = finish_sign_up_with_password(&svc, &token, &Password::new(PW), &ClientInfo::default()).await.unwrap();
    assert!(domain::auth::sessions::authenticate(&svc, &signed_in.token).await.unwrap().is_some(), "signed in");
    let verified: bool = sqlx::query_scalar("SELECT email_verified_at IS NOT NULL FROM users WHERE id = $1").bind(user.0).fetch_one(&db).await.unwrap();
    assert!(verified, "the address is confirmed");
    assert!(sign_in(&svc, "grace@example.test", &Password::new(PW), &ClientInfo::default()).await.is_ok());

    // single use
    assert_eq!(sign_up_link(&svc, &token).await.unwrap_err().to_string(), DomainError::Link(LinkProblem::Used).to_string());
    let again = finish_sign_up_with_password(&svc, &token, &Password::new(PW), &ClientInfo::default()).await;
    assert!(matches!(again, Err(DomainError::Link(LinkProblem::Used))), "{again:?}");
    assert_eq!(count(&db, "SELECT count(*) FROM users").await, 1);
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_sign_up_can_finish_with_a_passkey_instead_of_a_password(db: PgPool) {
    use domain::auth::email_links::{begin_sign_up_passkey, finish_sign_up_with_passkey};
    let svc = services(db.clone());
    request_sign_up(&svc, "grace@example.test", Some("Grace")).await.unwrap();
    let token = link(&db, "grace@example.test", SIGN_UP_PATH).await;
    let mut key = testkit::SoftAuthenticator::new(9, uuid::Uuid::nil(), common::ORIGIN);
    // beginning twice (a second click) replaces the first ceremony
    begin_sign_up_passkey(&svc, &token).await.unwrap();
    let options = begin_sign_up_passkey(&svc, &token).await.unwrap();
    assert_eq!(count(&db, "SELECT count(*) FROM users").await, 0, "no account before the passkey is made");
    let (user, signed_in) = finish_sign_up_with_passkey(&svc, &token, &key.create(&options), &ClientInfo::default()).await.unwrap();
    assert!(domain::auth::sessions::authenticate(&svc, &signed_in.token).await.unwrap().is_some(), "signed in");
    let (has_password, verified): (bool, bool) =
        sqlx::query_as("SELECT password_hash IS NOT NULL, email_verified_at IS NOT NULL FROM users WHERE id = $1").bind(user.0).fetch_one(&db).await.unwrap();
    assert_eq!((has_password, verified), (false, true));
    assert_eq!(count(&db, "SELECT count(*) FROM passkeys").await, 1);
    let (owner, created, used): (uuid::Uuid, time::OffsetDateTime, Option<time::OffsetDateTime>) =
        sqlx::query_as("SELECT user_id, created_at, last_used_at FROM passkeys").fetch_one(&db).await.unwrap();
    assert_eq!(owner, user.0, "the passkey's user handle is the new account's id");
    // it signed the new account in: used then (the list said "Never used" beside the session it began)
    assert_eq!(used, Some(created));
    // the session names the passkey it began with (Sessions said "Passkey (since removed)"), and
    // so do the activity's two events
    let named = "SELECT count(*) FROM sessions s JOIN passkeys p ON p.id = s.passkey_id WHERE s.auth_method = 'passkey'";
    assert_eq!(count(&db, named).await, 1);
    let details: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT kind, detail FROM security_events WHERE kind IN ('passkey_added', 'signed_in') ORDER BY kind").fetch_all(&db).await.unwrap();
    let name: String = sqlx::query_scalar("SELECT name FROM passkeys").fetch_one(&db).await.unwrap();
    assert_eq!(details, [("passkey_added".to_string(), Some(name.clone())), ("signed_in".to_string(), Some(name))]);
    let again = begin_sign_up_passkey(&svc, &token).await;
    assert!(matches!(again, Err(DomainError::Link(LinkProblem::Used))), "{again:?}");
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_sign_up_link_expires_after_an_hour_and_a_made_up_one_is_not_valid(db: PgPool) {
    let svc = services(db.clone());
    request_sign_up(&svc, "grace@example.test", None).await.unwrap();
    let token = link(&db, "grace@example.test", SIGN_UP_PATH).await;
    svc.clock.advance(Duration::minutes(59));
    assert!(sign_up_link(&svc, &token).await.is_ok());
    // what a mail client or a sentence adds after a link is not part of its token
    for tail in [".", ")", ">", ").", "\u{201D}"] {
        let copied = LinkToken::from_cookie(format!("{}{tail}", token.expose()));
        assert!(sign_up_link(&svc, &copied).await.is_ok(), "{tail}");
    }
    let cut = LinkToken::from_cookie(&token.expose()[..42]);
    assert!(matches!(sign_up_link(&svc, &cut).await, Err(DomainError::Link(LinkProblem::Invalid))), "a token cut short is not forgiven");
    svc.clock.advance(Duration::minutes(1));
    let late = finish_sign_up_with_password(&svc, &token, &Password::new(PW), &ClientInfo::default()).await;
    assert!(matches!(late, Err(DomainError::Link(LinkProblem::Expired))), "{late:?}");
    for made_up in ["", "abc", &"A".repeat(43)] {
        let r = sign_up_link(&svc, &LinkToken::from_cookie(made_up)).await;
        assert!(matches!(r, Err(DomainError::Link(LinkProblem::Invalid))), "{made_up}: {r:?}");
    }
    assert_eq!(count(&db, "SELECT count(*) FROM users").await, 0);
}

/// Two sign-up links for `email`, asked for a second apart.
async fn two_sign_up_links(svc: &Services, db: &PgPool, email: &str) -> (LinkToken, LinkToken) {
    request_sign_up(svc, email, None).await.unwrap();
    let first = link(db, email, SIGN_UP_PATH).await;
    svc.clock.advance(Duration::seconds(1));
    request_sign_up(svc, email, None).await.unwrap();
    (first, link(db, email, SIGN_UP_PATH).await)
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn two_links_for_one_address_make_one_account(db: PgPool) {
    let svc = services(db.clone());
    let (first, second) = two_sign_up_links(&svc, &db, "grace@example.test").await;
    assert_ne!(first, second);
    let (pw, client) = (Password::new(PW), ClientInfo::default());
    let a = finish_sign_up_with_password(&svc, &first, &pw, &client);
    let b = finish_sign_up_with_password(&svc, &second, &pw, &client);
    let (a, b) = tokio::join!(a, b);
    assert_eq!([a.is_ok(), b.is_ok()].iter().filter(|ok| **ok).count(), 1, "{a:?} {b:?}");
    // (taken at the insert, or, when the other had finished before this one read its link, said
    // by the link)
    let refused = a.err().or(b.err());
    assert!(matches!(refused, Some(DomainError::EmailTaken | DomainError::Link(LinkProblem::AccountExists))), "{refused:?}");
    assert_eq!(count(&db, "SELECT count(*) FROM users").await, 1);
}

/// A second link (asked for again, or delivered late) after the first made the account, or a link
/// for an address that signed up with Google since: the page says the account exists, before the
/// person chooses a password or their device makes a passkey the server would not keep.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_sign_up_link_for_an_address_that_has_an_account_now_says_so_before_anything_is_chosen(db: PgPool) {
    let svc = services(db.clone());
    let (first, second) = two_sign_up_links(&svc, &db, "grace@example.test").await;
    assert!(sign_up_link(&svc, &first).await.is_ok());
    finish_sign_up_with_password(&svc, &second, &Password::new(PW), &ClientInfo::default()).await.unwrap();
    let exists = |r: Result<(), DomainError>| matches!(r, Err(DomainError::Link(LinkProblem::AccountExists)));
    assert!(exists(sign_up_link(&svc, &first).await.map(|_| ())));
    assert!(exists(begin_sign_up_passkey(&svc, &first).await.map(|_| ())));
    assert_eq!(count(&db, "SELECT count(*) FROM webauthn_ceremonies").await, 0, "no passkey ceremony began");
    // the same for an account made another way (Google, GitHub) with a different case
    request_sign_up(&svc, "ada@example.test", None).await.unwrap();
    let ada = link(&db, "ada@example.test", SIGN_UP_PATH).await;
    sign_up(&svc, "Ada@Example.test", None, &Password::new(PW), &ClientInfo::default()).await.unwrap();
    assert!(exists(sign_up_link(&svc, &ada).await.map(|_| ())));
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn at_most_three_emails_per_address_per_hour_and_the_answer_never_changes(db: PgPool) {
    let svc = services(db.clone());
    for _ in 0..EMAILS_PER_ADDRESS_PER_HOUR + 2 {
        request_sign_up(&svc, "victim@example.test", None).await.unwrap();
    }
    assert_eq!(count(&db, "SELECT count(*) FROM email_outbox").await, EMAILS_PER_ADDRESS_PER_HOUR);
    svc.clock.advance(Duration::minutes(61));
    request_sign_up(&svc, "victim@example.test", None).await.unwrap();
    assert_eq!(count(&db, "SELECT count(*) FROM email_outbox").await, EMAILS_PER_ADDRESS_PER_HOUR + 1);
}

// ------------------------------------------------------------------------------------------
// Forgot password
// ------------------------------------------------------------------------------------------

async fn confirmed_account(svc: &Services, email: &str) -> domain::ids::UserId {
    sign_up(svc, email, Some("Ada"), &Password::new(PW), &ClientInfo::default()).await.unwrap().0
}

/// A reset link for `email`, and its account's rows of failed attempts held
/// (`common::hold_failed_attempts`).
async fn reset_link_and_busy_throttle(
    svc: &Services,
    db: &PgPool,
    email: &str,
    user: domain::ids::UserId,
) -> (LinkToken, sqlx::Transaction<'static, sqlx::Postgres>) {
    svc.clock.advance(Duration::seconds(1));
    request_password_reset(svc, email, &ClientInfo::default()).await.unwrap();
    let token = link(db, email, RESET_PATH).await;
    (token, common::hold_failed_attempts(db, user).await)
}

/// A password change whose current password was checked before a reset committed: refused as a
/// wrong current password, and the reset's password stands. (The change stored its password after
/// the reset and undid it: whoever held a session and the old password kept the account.)
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_password_change_that_overlaps_a_reset_is_refused_and_the_reset_stands(db: PgPool) {
    use domain::auth::accounts::change_password;
    use domain::error::Invalid;
    const THEIRS: &str = "a passphrase of their own choosing";
    let svc = services(db.clone());
    let (user, signed_up) = sign_up(&svc, "ada@example.test", Some("Ada"), &Password::new(PW), &ClientInfo::default()).await.unwrap();
    let me = domain::auth::sessions::authenticate(&svc, &signed_up.token).await.unwrap().unwrap();
    // one wrong current password: this browser's throttle path has a row
    let wrong = change_password(&svc, &me, &Password::new("wrong password, long enough"), &Password::new(THEIRS), &ClientInfo::default()).await;
    assert!(matches!(wrong, Err(DomainError::Invalid(Invalid::CurrentPasswordWrong))), "{wrong:?}");
    let (token, busy) = reset_link_and_busy_throttle(&svc, &db, "ada@example.test", user).await;
    let changing = {
        let svc = svc.clone();
        tokio::spawn(async move { change_password(&svc, &me, &Password::new(PW), &Password::new(THEIRS), &ClientInfo::default()).await })
    };
    common::until_waiting_for_locks(&db, 1, || changing.is_finished()).await;
    svc.clock.advance(Duration::seconds(1));
    reset_password(&svc, &token, &Password::new(NEW_PW), &ClientInfo::default()).await.unwrap();
    busy.commit().await.unwrap();

    let r = changing.await.unwrap();
    assert!(matches!(r, Err(DomainError::Invalid(Invalid::CurrentPasswordWrong))), "{r:?}");
    let theirs = sign_in(&svc, "ada@example.test", &Password::new(THEIRS), &ClientInfo::default()).await;
    assert!(matches!(theirs, Err(DomainError::InvalidCredentials)), "{theirs:?}");
    assert!(sign_in(&svc, "ada@example.test", &Password::new(NEW_PW), &ClientInfo::default()).await.is_ok(), "the reset's password stands");
}

/// A sign-in with the old password that read the account before a reset committed, and checks
/// the password after it: refused, with no session and no pending second step, with or without
/// two-step verification. (The sign-in read the account, checked the password it read, and only
/// then began its session or its pending second step: a reset in between ended the sessions and
/// pending sign-ins there were, and the old password's sign-in began after it.) The sign-in is
/// held where it counts its attempt, with this browser's row of failures busy.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_sign_in_with_the_old_password_that_overlaps_a_reset_is_refused(db: PgPool) {
    for two_step in [false, true] {
        let svc = services(db.clone());
        let email = format!("ada{two_step}@example.test");
        let (user, signed_up) = sign_up(&svc, &email, Some("Ada"), &Password::new(PW), &ClientInfo::default()).await.unwrap();
        if two_step {
            use domain::auth::{totp, two_factor};
            let me = domain::auth::sessions::authenticate(&svc, &signed_up.token).await.unwrap().unwrap();
            let secret = testkit::base32_decode(&two_factor::begin_enrolment(&svc, &me).await.unwrap().manual_key);
            let code = totp::code_for_step(&secret, totp::step_at(svc.clock.now()));
            two_factor::finish_enrolment(&svc, &me, &code, None, &ClientInfo::default()).await.unwrap();
        }
        // one wrong password: this browser's throttle path has a row, which the next attempt counts on
        assert!(matches!(sign_in(&svc, &email, &Password::new("wrong password, long enough"), &ClientInfo::default()).await, Err(DomainError::InvalidCredentials)));
        let (token, busy) = reset_link_and_busy_throttle(&svc, &db, &email, user).await;
        let signing_in = {
            let (svc, email) = (svc.clone(), email.clone());
            tokio::spawn(async move { sign_in(&svc, &email, &Password::new(PW), &ClientInfo::default()).await })
        };
        common::until_waiting_for_locks(&db, 1, || signing_in.is_finished()).await;
        svc.clock.advance(Duration::seconds(1));
        reset_password(&svc, &token, &Password::new(NEW_PW), &ClientInfo::default()).await.unwrap();
        busy.commit().await.unwrap();

        let r = signing_in.await.unwrap();
        assert!(matches!(r, Err(DomainError::InvalidCredentials)), "two-step {two_step}: {r:?}");
        let live = format!("SELECT count(*) FROM sessions WHERE user_id = '{}' AND revoked_at IS NULL", user.0);
        assert_eq!(count(&db, &live).await, 0, "two-step {two_step}: nobody is signed in");
        let pending = format!("SELECT count(*) FROM pending_sign_ins WHERE user_id = '{}'", user.0);
        assert_eq!(count(&db, &pending).await, 0, "two-step {two_step}: no second step waits");
        let new = sign_in(&svc, &email, &Password::new(NEW_PW), &ClientInfo::default()).await;
        if two_step {
            assert!(matches!(new, Err(DomainError::SecondStepRequired(_))), "{new:?}");
        } else {
            assert!(new.is_ok(), "the new password signs in: {new:?}");
        }
    }
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_reset_ends_every_session_and_pending_sign_in_and_signs_nobody_in(db: PgPool) {
    let svc = services(db.clone());
    confirmed_account(&svc, "ada@example.test").await;
    let other_browser = sign_in(&svc, "ada@example.test", &Password::new(PW), &ClientInfo::default()).await.unwrap();
    request_password_reset(&svc, "ADA@example.test ", &ClientInfo::default()).await.unwrap();
    assert_eq!(newest_kind(&db, "ada@example.test").await, "password_reset");
    let token = link(&db, "ada@example.test", RESET_PATH).await;
    let page = reset_link(&svc, &token).await.unwrap();
    assert!(!page.sets_password);
    assert!(domain::auth::sessions::authenticate(&svc, &other_browser.token).await.unwrap().is_some(), "reading the page changes nothing");

    svc.clock.advance(Duration::seconds(1));
    reset_password(&svc, &token, &Password::new(NEW_PW), &ClientInfo::default()).await.unwrap();
    assert!(domain::auth::sessions::authenticate(&svc, &other_browser.token).await.unwrap().is_none(), "the other browser is signed out");
    assert_eq!(count(&db, "SELECT count(*) FROM sessions WHERE revoked_at IS NULL").await, 0, "nobody is signed in");
    assert_eq!(count(&db, "SELECT count(*) FROM sessions WHERE revoked_reason = 'password_reset'").await, 2);
    assert!(matches!(sign_in(&svc, "ada@example.test", &Password::new(PW), &ClientInfo::default()).await, Err(DomainError::InvalidCredentials)));
    assert!(sign_in(&svc, "ada@example.test", &Password::new(NEW_PW), &ClientInfo::default()).await.is_ok());
    assert_eq!(newest_kind(&db, "ada@example.test").await, "password_reset_done");
    assert_eq!(count(&db, "SELECT count(*) FROM security_events WHERE kind IN ('password_reset_requested', 'password_reset')").await, 2);

    // single use
    let again = reset_password(&svc, &token, &Password::new("yet another long passphrase"), &ClientInfo::default()).await;
    assert!(matches!(again, Err(DomainError::Link(LinkProblem::Used))), "{again:?}");
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_reset_link_fails_once_the_password_changed_and_after_an_hour(db: PgPool) {
    let svc = services(db.clone());
    confirmed_account(&svc, "ada@example.test").await;
    request_password_reset(&svc, "ada@example.test", &ClientInfo::default()).await.unwrap();
    let first = link(&db, "ada@example.test", RESET_PATH).await;
    svc.clock.advance(Duration::seconds(1));
    request_password_reset(&svc, "ada@example.test", &ClientInfo::default()).await.unwrap();
    let second = link(&db, "ada@example.test", RESET_PATH).await;
    // the second link changes the password: the first no longer works
    reset_password(&svc, &second, &Password::new(NEW_PW), &ClientInfo::default()).await.unwrap();
    let stale = reset_password(&svc, &first, &Password::new("yet another long passphrase"), &ClientInfo::default()).await;
    assert!(matches!(stale, Err(DomainError::Link(LinkProblem::Superseded))), "{stale:?}");
    assert!(sign_in(&svc, "ada@example.test", &Password::new(NEW_PW), &ClientInfo::default()).await.is_ok());

    svc.clock.advance(Duration::seconds(1));
    request_password_reset(&svc, "ada@example.test", &ClientInfo::default()).await.unwrap();
    let late = link(&db, "ada@example.test", RESET_PATH).await;
    svc.clock.advance(Duration::minutes(59));
    assert!(reset_link(&svc, &late).await.is_ok(), "a minute left");
    svc.clock.advance(Duration::minutes(1));
    let r = reset_password(&svc, &late, &Password::new("yet another long passphrase"), &ClientInfo::default()).await;
    assert!(matches!(r, Err(DomainError::Link(LinkProblem::Expired))), "{r:?}");
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_reset_racing_a_password_change_loses_and_the_new_password_stays(db: PgPool) {
    let svc = services(db.clone());
    confirmed_account(&svc, "ada@example.test").await;
    request_password_reset(&svc, "ada@example.test", &ClientInfo::default()).await.unwrap();
    let token = link(&db, "ada@example.test", RESET_PATH).await;
    // the owner changes the password elsewhere: that transaction holds the account's row…
    let mut change = db.begin().await.unwrap();
    sqlx::query("UPDATE users SET password_hash = 'changed-elsewhere', password_changed_at = password_changed_at + interval '1 second'")
        .execute(&mut *change)
        .await
        .unwrap();
    let reset = tokio::spawn({
        let svc = svc.clone();
        async move { reset_password(&svc, &token, &Password::new(NEW_PW), &ClientInfo::default()).await }
    });
    // …while the reset reaches it, then commits
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    change.commit().await.unwrap();
    let r = reset.await.unwrap();
    assert!(matches!(r, Err(DomainError::Link(LinkProblem::Used | LinkProblem::Superseded))), "{r:?}");
    let hash: String = sqlx::query_scalar("SELECT password_hash FROM users").fetch_one(&db).await.unwrap();
    assert_eq!(hash, "changed-elsewhere", "the change made after the link was sent stands");
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn after_a_reset_an_account_with_an_authenticator_is_still_asked_for_its_code(db: PgPool) {
    let svc = services(db.clone());
    let (_, signed_in) = sign_up(&svc, "ada@example.test", None, &Password::new(PW), &ClientInfo::default()).await.unwrap();
    let session = domain::auth::sessions::authenticate(&svc, &signed_in.token).await.unwrap().unwrap();
    let enrolment = domain::auth::two_factor::begin_enrolment(&svc, &session).await.unwrap();
    let secret = testkit::base32_decode(&enrolment.manual_key);
    let code = domain::auth::totp::code_for_step(&secret, domain::auth::totp::step_at(svc.clock.now()));
    domain::auth::two_factor::finish_enrolment(&svc, &session, &code, None, &ClientInfo::default()).await.unwrap();
    // (after the "two-step verification was turned on" notice, so the reset email is the newest)
    svc.clock.advance(Duration::minutes(1));
    request_password_reset(&svc, "ada@example.test", &ClientInfo::default()).await.unwrap();
    let token = link(&db, "ada@example.test", RESET_PATH).await;
    assert!(reset_link(&svc, &token).await.unwrap().has_second_factor);
    // (no browser of its own: a mailbox is not the second factor, and each reset's own path would
    // add its budget of code guesses; the account's one proven path instead)
    let device = reset_password(&svc, &token, &Password::new(NEW_PW), &ClientInfo::default()).await.unwrap();
    let user = domain::ids::UserId(sqlx::query_scalar("SELECT id FROM users").fetch_one(&db).await.unwrap());
    assert_eq!(svc.device_cookies.path(Some(&device), user, svc.clock.now(), None), domain::auth::device_cookies::ThrottlePath::Proven);
    assert_eq!(svc.device_cookies.trusted_since(Some(&device), user), None, "not a known device");
    for client in [ClientInfo::default(), ClientInfo { device: Some(device), ..Default::default() }] {
        let next = sign_in(&svc, "ada@example.test", &Password::new(NEW_PW), &client).await;
        assert!(matches!(next, Err(DomainError::SecondStepRequired(_))), "{next:?}");
    }
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn unknown_and_unconfirmed_addresses_get_no_reset_email_and_the_same_answer(db: PgPool) {
    let svc = services(db.clone());
    assert!(request_password_reset(&svc, "nobody@example.test", &ClientInfo::default()).await.is_ok());
    // an account whose address nobody proved (made before sign-ups were confirmed)
    confirmed_account(&svc, "ada@example.test").await;
    sqlx::query("UPDATE users SET email_verified_at = NULL").execute(&db).await.unwrap();
    assert!(request_password_reset(&svc, "ada@example.test", &ClientInfo::default()).await.is_ok());
    assert_eq!(count(&db, "SELECT count(*) FROM email_outbox").await, 0);
    assert_eq!(count(&db, "SELECT count(*) FROM password_resets").await, 0);
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn an_account_without_a_password_gets_a_link_that_sets_one(db: PgPool) {
    let svc = services(db.clone());
    let user = confirmed_account(&svc, "ada@example.test").await;
    sqlx::query("UPDATE users SET password_hash = NULL, password_changed_at = NULL WHERE id = $1").bind(user.0).execute(&db).await.unwrap();
    request_password_reset(&svc, "ada@example.test", &ClientInfo::default()).await.unwrap();
    assert!(newest_text(&db, "ada@example.test").await.contains("does not have one yet"));
    let token = link(&db, "ada@example.test", RESET_PATH).await;
    assert!(reset_link(&svc, &token).await.unwrap().sets_password);
    reset_password(&svc, &token, &Password::new(NEW_PW), &ClientInfo::default()).await.unwrap();
    assert!(sign_in(&svc, "ada@example.test", &Password::new(NEW_PW), &ClientInfo::default()).await.is_ok());
}

/// Someone who knows the address keeps the account's untrusted path waiting (every browser that
/// never signed in to the account shares it: a few counted guesses an hour keep it so). The owner,
/// on such a browser, resets her password through the emailed link: that browser is trusted from
/// then on, so the password she has just chosen signs her in at once there. It was answered as a
/// wrong password. Every other new browser still waits.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_reset_trusts_the_browser_that_opened_the_link_so_strangers_guesses_cannot_keep_the_owner_out(db: PgPool) {
    let svc = services(db.clone());
    confirmed_account(&svc, "ada@example.test").await;
    let stranger = ClientInfo { ip: Some("203.0.113.66".into()), ..Default::default() };
    let owners_new_phone = ClientInfo { ip: Some("198.51.100.7".into()), user_agent: Some("Safari".into()), ..Default::default() };
    for _ in 0..6 {
        sign_in(&svc, "ada@example.test", &Password::new("a stranger's guess"), &stranger).await.unwrap_err();
        svc.settle().await;
    }
    // the path waits: her right password from a new browser is answered as a wrong one
    assert!(matches!(sign_in(&svc, "ada@example.test", &Password::new(PW), &owners_new_phone).await, Err(DomainError::InvalidCredentials)));

    request_password_reset(&svc, "ada@example.test", &owners_new_phone).await.unwrap();
    let token = link(&db, "ada@example.test", RESET_PATH).await;
    let device = reset_password(&svc, &token, &Password::new(NEW_PW), &owners_new_phone).await.unwrap();
    let trusted = ClientInfo { device: Some(device), ..owners_new_phone.clone() };
    assert!(sign_in(&svc, "ada@example.test", &Password::new(NEW_PW), &trusted).await.is_ok(), "the browser that reset signs in at once");
    svc.settle().await;
    // trusted for the throttle only: that sign-in is alerted as a new browser's (its "This wasn't
    // me" can take back what it adds, should the mailbox be someone else's)
    assert_eq!(count(&db, "SELECT count(*) FROM sign_in_alerts").await, 1);
    // (no other browser was let in: the strangers' path still waits)
    assert!(matches!(sign_in(&svc, "ada@example.test", &Password::new(NEW_PW), &owners_new_phone).await, Err(DomainError::InvalidCredentials)));
    assert!(matches!(sign_in(&svc, "ada@example.test", &Password::new(NEW_PW), &stranger).await, Err(DomainError::InvalidCredentials)));
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn at_most_three_reset_emails_per_account_per_hour(db: PgPool) {
    let svc = services(db.clone());
    confirmed_account(&svc, "ada@example.test").await;
    for _ in 0..5 {
        request_password_reset(&svc, "ada@example.test", &ClientInfo::default()).await.unwrap();
    }
    assert_eq!(count(&db, "SELECT count(*) FROM email_outbox WHERE kind = 'password_reset'").await, EMAILS_PER_ADDRESS_PER_HOUR);
}

/// The same limits when the requests come all at once (each used to count without the others'
/// uncommitted links, so a burst sent more): twenty "Forgot password?" and twenty sign-ups.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn at_most_three_emails_per_address_per_hour_even_when_requested_all_at_once(db: PgPool) {
    let svc = services(db.clone());
    confirmed_account(&svc, "ada@example.test").await;
    let resets: Vec<_> = (0..20)
        .map(|_| {
            let svc = svc.clone();
            tokio::spawn(async move { request_password_reset(&svc, "ada@example.test", &ClientInfo::default()).await })
        })
        .collect();
    let sign_ups: Vec<_> = (0..20)
        .map(|_| {
            let svc = svc.clone();
            tokio::spawn(async move { domain::auth::email_links::request_sign_up(&svc, "new@example.test", None).await })
        })
        .collect();
    for task in resets.into_iter().chain(sign_ups) {
        task.await.unwrap().unwrap();
    }
    assert_eq!(count(&db, "SELECT count(*) FROM email_outbox WHERE kind = 'password_reset'").await, EMAILS_PER_ADDRESS_PER_HOUR);
    assert_eq!(count(&db, "SELECT count(*) FROM email_outbox WHERE to_address = 'new@example.test'").await, EMAILS_PER_ADDRESS_PER_HOUR);
}

/// Someone who knows the address asks for a reset link every quarter of an hour. The limit used to
/// count every request, refused ones too, so after the first three emails the count never fell
/// below the limit again and the owner never got another link. It counts emails now: once the
/// hour of the first three has passed, the owner's own request sends one. The same for sign-ups.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn requests_refused_by_the_hourly_limit_do_not_count_so_asking_often_cannot_block_the_owners_link(db: PgPool) {
    let svc = services(db.clone());
    confirmed_account(&svc, "ada@example.test").await;
    let client = ClientInfo::default();
    let both = || async {
        request_password_reset(&svc, "ada@example.test", &client).await.unwrap();
        request_sign_up(&svc, "grace@example.test", None).await.unwrap();
    };
    for _ in 0..EMAILS_PER_ADDRESS_PER_HOUR {
        both().await;
    }
    // refused: at 15, 30, 45 and 59 minutes
    for minutes in [15, 15, 15, 14] {
        svc.clock.advance(Duration::minutes(minutes));
        both().await;
    }
    let resets = "SELECT count(*) FROM email_outbox WHERE kind = 'password_reset'";
    let sign_ups = "SELECT count(*) FROM email_outbox WHERE to_address = 'grace@example.test'";
    assert_eq!((count(&db, resets).await, count(&db, sign_ups).await), (3, 3));

    // an hour and a minute after the first three: the owners' own requests are emailed
    svc.clock.advance(Duration::minutes(2));
    both().await;
    assert_eq!((count(&db, resets).await, count(&db, sign_ups).await), (4, 4));
    let fresh = link(&db, "ada@example.test", RESET_PATH).await;
    assert!(reset_link(&svc, &fresh).await.is_ok(), "the new link works");
}

/// The relay is down for all but the last 4 minutes of a reset link's hour. A link queued at its start is given up
/// unsent once the next try would leave under five minutes to read it, instead of arriving dead
/// when the relay returns; one queued ten minutes later goes out within two minutes of the relay's
/// return (its tries are at most two minutes apart). A given-up email does not count against the
/// hourly limit: asking twice more within the hour sends two links.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_reset_link_the_relay_held_up_too_long_is_given_up_unsent_and_does_not_count(db: PgPool) {
    let svc = services(db.clone());
    confirmed_account(&svc, "ada@example.test").await;
    let capture = Capture::default();
    let s = Sender { retry: RetryPolicy { max_attempts: 3, base: Duration::seconds(30) }, ..sender(&svc, Arc::new(capture.clone())) };
    capture.fail_with(Some(SendError { permanent: false, message: "421 try again later".into() }));
    let client = ClientInfo::default();
    let start = svc.clock.now();
    let down = RESET_LINK_MINUTES - 4;
    for minute in 0..down {
        if minute == 0 || minute == 10 {
            request_password_reset(&svc, "ada@example.test", &client).await.unwrap();
        }
        s.drain().await.unwrap();
        svc.clock.advance(Duration::minutes(1));
    }
    assert!(capture.messages().is_empty());
    let (error, emptied, given_up_at): (String, bool, time::OffsetDateTime) = sqlx::query_as(
        "SELECT last_error, text_body = '' AND html_body = '', failed_at FROM email_outbox WHERE failed_at IS NOT NULL",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!((error.as_str(), emptied), ("421 try again later", true));
    let deadline = start + Duration::minutes(RESET_LINK_MINUTES);
    assert!(given_up_at < deadline - Duration::minutes(5) && given_up_at >= deadline - Duration::minutes(8), "{given_up_at}");

    // the relay is back: the second link (14 minutes left) goes out within two
    capture.fail_with(None);
    svc.clock.advance(Duration::minutes(2));
    let round = s.drain().await.unwrap();
    assert_eq!(round.sent, 1);
    assert_eq!(capture.messages().len(), 1, "only the link that still works went out");

    // the given-up one is not counted: two more requests within the hour are both emailed
    for _ in 0..2 {
        request_password_reset(&svc, "ada@example.test", &client).await.unwrap();
    }
    assert_eq!(s.drain().await.unwrap().sent, 2);
    assert_eq!(count(&db, "SELECT count(*) FROM email_outbox WHERE sent_at IS NOT NULL").await, 3);
}

/// A sign-up link queued while no sender ran (the server was stopped) and found after its
/// deadline is given up unsent rather than sent dead.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_link_found_after_its_deadline_is_given_up_unsent(db: PgPool) {
    let svc = services(db.clone());
    request_sign_up(&svc, "ada@example.test", None).await.unwrap();
    svc.clock.advance(Duration::minutes(55));
    let capture = Capture::default();
    let round = sender(&svc, Arc::new(capture.clone())).drain().await.unwrap();
    assert_eq!((round.sent, round.expired), (0, 1));
    assert!(capture.messages().is_empty());
    let error: String = sqlx::query_scalar("SELECT last_error FROM email_outbox WHERE failed_at IS NOT NULL").fetch_one(&db).await.unwrap();
    assert_eq!(error, "not sent before its link expired");
}

/// An address with an accent, composed ("ë", one character) when the account was made and
/// decomposed ("e" and a combining diaeresis) when the owner types it on another device: one
/// address, so the same account (it was "Incorrect email or password", and a second sign-up).
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn an_address_typed_composed_or_decomposed_is_one_address(db: PgPool) {
    let svc = services(db.clone());
    confirmed_account(&svc, "zo\u{00EB}@example.test").await;
    assert!(sign_in(&svc, "Zoe\u{0308}@example.test", &Password::new(PW), &ClientInfo::default()).await.is_ok());
    request_password_reset(&svc, "zoe\u{0308}@example.test", &ClientInfo::default()).await.unwrap();
    assert_eq!(count(&db, "SELECT count(*) FROM email_outbox WHERE kind = 'password_reset'").await, 1);
}

/// Migration 33 composes the stored look-up keys, so an account made with a decomposed address
/// before it is still found by the address its owner types; of two accounts whose keys are two
/// spellings of one address, the older takes the composed key and the other keeps its own (the
/// migration does not fail on the unique key).
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn migration_33_composes_stored_addresses_without_taking_another_accounts_key(db: PgPool) {
    let svc = services(db.clone());
    let older = confirmed_account(&svc, "older@example.test").await;
    svc.clock.advance(Duration::seconds(1));
    let newer = confirmed_account(&svc, "newer@example.test").await;
    let alone = confirmed_account(&svc, "alone@example.test").await;
    // keys as accounts made before it stored them: decomposed; "ậ" spelt with its two marks in
    // either order (both compose to U+1EAD)
    for (id, k) in [(older, "a\u{0323}\u{0302}@example.test"), (newer, "a\u{0302}\u{0323}@example.test"), (alone, "zoe\u{0308}@example.test")] {
        sqlx::query("UPDATE users SET email_normalized = $2 WHERE id = $1").bind(id.0).bind(k).execute(&db).await.unwrap();
    }
    sqlx::raw_sql(include_str!("../migrations/20261206000033_compose_email_addresses.sql")).execute(&db).await.unwrap();
    let key_of = |id: domain::ids::UserId| {
        let db = db.clone();
        async move { sqlx::query_scalar::<_, String>("SELECT email_normalized FROM users WHERE id = $1").bind(id.0).fetch_one(&db).await.unwrap() }
    };
    assert_eq!(key_of(alone).await, "zo\u{00EB}@example.test");
    assert_eq!(key_of(older).await, "\u{1EAD}@example.test");
    assert_eq!(key_of(newer).await, "a\u{0302}\u{0323}@example.test", "kept: the composed key is the older account's");
    assert!(sign_in(&svc, "zoe\u{0308}@example.test", &Password::new(PW), &ClientInfo::default()).await.is_ok());
}
