//! Security activity and alerts: unfamiliar sign-ins (one alert per device, at most 3 emails a
//! day, never for the first sign-in), "This wasn't me", the page's "Was this you?" prompt, the
//! notices every credential change emails, the activity list's pages and filters, and the
//! history's retention and append-only rule.
use crate::common;

use domain::auth::accounts::{self, sign_in};
use domain::auth::sessions::{self, authenticate, SignedIn};
use domain::auth::two_factor::{self, SecondStep};
use domain::auth::{activity, alerts, connected_accounts, email_links, passkeys, reverify, totp};
use domain::db::events::NewEvent;
use domain::error::{Invalid, LinkProblem};
use domain::ids::UserId;
use domain::kinds::{ActivityFilter, EventKind, Provider};
use domain::request::{AuthSession, ClientInfo};
use domain::secret::{LinkToken, Password, SessionToken};
use domain::{DomainError, Services};
use sqlx::PgPool;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use common::{services, sign_up, ORIGIN, PW, TEST_AAGUID};

const ADA: &str = "ada@example.test";
const NEW_PW: &str = "a different long passphrase 2026";

const FIREFOX_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:140.0) Gecko/20100101 Firefox/140.0";
const CHROME_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
/// Another version of Chrome on another version of Windows: the same device ("Chrome|Windows").
const OLDER_CHROME_WINDOWS: &str = "Mozilla/5.0 (Windows NT 6.1; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/109.0.0.0 Safari/537.36";
const CHROME_LINUX: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const FIREFOX_LINUX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0";
const SAFARI_IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1";

fn client(ip: &str, user_agent: &str, country: Option<&str>, location: &str) -> ClientInfo {
    ClientInfo {
        ip: Some(ip.into()),
        user_agent: Some(user_agent.into()),
        country: country.map(Into::into),
        location: Some(location.into()),
        device: None,
    }
}

/// Ada's usual browser, at home in Berlin (198.51.100.0/24).
fn home() -> ClientInfo {
    client("198.51.100.7", FIREFOX_WINDOWS, Some("DE"), "Berlin, Land Berlin, Germany")
}

/// A browser that never signed in to Ada's account, on another network, in another country.
fn stranger() -> ClientInfo {
    client("203.0.113.77", CHROME_WINDOWS, Some("PT"), "Lisbon, Lisbon, Portugal")
}

/// Ada signs up at home (and that first sign-in gives her the owner's session).
async fn ada(svc: &Services) -> (UserId, SignedIn) {
    sign_up(svc, ADA, Some("Ada"), &Password::new(PW), &home()).await.unwrap()
}

async fn signs_in(svc: &Services, from: &ClientInfo) -> SessionToken {
    sign_in(svc, ADA, &Password::new(PW), from).await.unwrap().token
}

async fn me(svc: &Services, token: &SessionToken) -> AuthSession {
    authenticate(svc, token).await.unwrap().expect("a live session")
}

async fn count(db: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(db).await.unwrap()
}

/// (subject, text) of the messages of `kind` queued to `to`, oldest first.
async fn mails(db: &PgPool, to: &str, kind: &str) -> Vec<(String, String)> {
    sqlx::query_as("SELECT subject, text_body FROM email_outbox WHERE to_address = $1 AND kind = $2 ORDER BY created_at, id")
        .bind(to)
        .bind(kind)
        .fetch_all(db)
        .await
        .unwrap()
}

/// What Recent security activity says of the account's report of a sign-in.
async fn reported_entry(db: &PgPool) -> String {
    let detail: Option<String> = sqlx::query_scalar("SELECT detail FROM security_events WHERE kind = 'sign_in_reported'").fetch_one(db).await.unwrap();
    domain::auth::activity::sentence(EventKind::SignInReported, None, detail.as_deref())
}

/// The link of the newest "choose a new password" email to Ada.

async fn newest_reset_link(db: &PgPool) -> LinkToken {
    let (_, text) = mails(db, ADA, "password_reset").await.pop().expect("a reset email");
    LinkToken::from_cookie(testkit::link_token(&text, email_links::RESET_PATH).expect("a reset link"))
}

/// The "This wasn't me" link of the newest alert email to Ada.
async fn not_me_token(db: &PgPool) -> LinkToken {
    let (_, text) = mails(db, ADA, "unfamiliar_sign_in").await.pop().expect("an alert email");
    LinkToken::from_cookie(testkit::link_token(&text, activity::NOT_ME_PATH).expect("a This wasn't me link"))
}

fn link_problem<T: std::fmt::Debug>(r: Result<T, DomainError>) -> LinkProblem {
    match r {
        Err(DomainError::Link(p)) => p,
        r => panic!("expected a link problem, got {r:?}"),
    }
}

// ------------------------------------------------------------------------------------------
// Unfamiliar sign-ins
// ------------------------------------------------------------------------------------------

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn an_unfamiliar_sign_in_emails_one_alert_naming_the_device_place_and_ip_with_a_this_wasnt_me_link(db: PgPool) {
    let svc = services(db.clone());
    let (ada_id, _) = ada(&svc).await;
    svc.clock.advance(Duration::minutes(5));
    signs_in(&svc, &stranger()).await;
    let sent = mails(&db, ADA, "unfamiliar_sign_in").await;
    assert_eq!(sent.len(), 1, "exactly one alert email");
    let (subject, text) = &sent[0];
    assert_eq!(subject, "New sign-in to your Gatehouse account from Chrome 131 on Windows 10");
    for line in [
        "Hello Ada,",
        "When: 23 November 2026 at 12:05 UTC",
        "Device: Chrome 131 on Windows 10",
        "Approximate location: Lisbon, Lisbon, Portugal (IP address 203.0.113.77)",
        "Signed in with: a password",
        "(it works for 72 hours, once)",
    ] {
        assert!(text.contains(line), "{line:?} in:\n{text}");
    }
    let token = testkit::link_token(text, "/this-wasnt-me").expect("a This wasn't me link");
    assert_eq!(token.len(), 43, "256 random bits, base64url");
    assert!(text.contains(&format!("http://localhost:3000/this-wasnt-me?token={token}")));
    assert!(text.contains("Review your sessions: http://localhost:3000/settings/security"));
    let user_id: Option<Uuid> = sqlx::query_scalar("SELECT user_id FROM email_outbox WHERE kind = 'unfamiliar_sign_in'").fetch_one(&db).await.unwrap();
    assert_eq!(user_id, Some(ada_id.0));
    assert_eq!(count(&db, "SELECT count(*) FROM security_events WHERE kind = 'sign_in_alert_sent'").await, 1);
    // one alert, which keeps only the SHA-256 of the link's 32 bytes, never the token
    let (hashed, in_clear): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE token_hash = sha256(decode(translate($1, '-_', '+/') || '=', 'base64'))),
                count(*) FILTER (WHERE a::text LIKE '%' || $1 || '%')
         FROM sign_in_alerts a",
    )
    .bind(&token)
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!((count(&db, "SELECT count(*) FROM sign_in_alerts").await, hashed, in_clear), (1, 1, 0));
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn the_first_sign_in_a_known_network_and_the_accounts_own_browser_raise_no_alert(db: PgPool) {
    let svc = services(db.clone());
    // the sign-up's own sign-in has nothing to compare with: never unfamiliar
    let (_, first) = ada(&svc).await;
    // another address of the same /24, another browser, no device cookie
    signs_in(&svc, &client("198.51.100.200", CHROME_WINDOWS, Some("DE"), "Berlin, Land Berlin, Germany")).await;
    // Ada's own browser (its device cookie), from a network and a country the account never used
    signs_in(&svc, &ClientInfo { device: Some(first.device.clone()), ..stranger() }).await;
    assert_eq!(count(&db, "SELECT count(*) FROM sign_in_alerts").await, 0);
    assert!(mails(&db, ADA, "unfamiliar_sign_in").await.is_empty());
    // (and the same sign-in without the cookie, from yet another network, would have raised one)
    signs_in(&svc, &client("192.0.2.10", CHROME_WINDOWS, Some("PT"), "Porto, Porto, Portugal")).await;
    assert_eq!(mails(&db, ADA, "unfamiliar_sign_in").await.len(), 1);
}

/// When the account first signed in, as `users.first_signed_in_at` keeps it.
async fn first_signed_in_at(db: &PgPool) -> Option<OffsetDateTime> {
    sqlx::query_scalar("SELECT first_signed_in_at FROM users WHERE email = $1").bind(ADA).fetch_one(db).await.unwrap()
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn the_first_sign_in_is_kept_with_the_account_so_one_whose_sign_ins_were_all_pruned_is_still_alerted(db: PgPool) {
    let svc = services(db.clone());
    let signed_up_at = svc.clock.now();
    ada(&svc).await;
    assert_eq!(first_signed_in_at(&db).await, Some(signed_up_at), "the sign-up's sign-in is the first");
    // a later sign-in changes nothing about the first
    svc.clock.advance(Duration::minutes(1));
    signs_in(&svc, &home()).await;
    assert_eq!(first_signed_in_at(&db).await, Some(signed_up_at));

    // 100 days without a sign-in: the retention task deletes every event of the account
    svc.clock.advance(Duration::days(100));
    assert_eq!(activity::prune(&svc).await.unwrap(), 3, "account_created and two signed_in");
    assert_eq!(count(&db, "SELECT count(*) FROM security_events WHERE kind = 'signed_in'").await, 0);
    // still an account that signed in before (users.first_signed_in_at, not the events, says so)
    signs_in(&svc, &stranger()).await;
    assert_eq!(count(&db, "SELECT count(*) FROM sign_in_alerts").await, 1);
    let sent = mails(&db, ADA, "unfamiliar_sign_in").await;
    assert_eq!(sent.len(), 1, "one alert email");
    assert!(sent[0].1.contains("Approximate location: Lisbon, Lisbon, Portugal (IP address 203.0.113.77)"), "{}", sent[0].1);
    assert_eq!(first_signed_in_at(&db).await, Some(signed_up_at));
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn an_account_from_before_first_sign_ins_were_kept_is_not_alerted_at_its_next_sign_in_but_is_from_then_on(db: PgPool) {
    let svc = services(db.clone());
    ada(&svc).await;
    // as the migration leaves an account that existed before it
    sqlx::query("UPDATE users SET first_signed_in_at = NULL").execute(&db).await.unwrap();
    svc.clock.advance(Duration::minutes(5));
    let next_at = svc.clock.now();
    signs_in(&svc, &stranger()).await;
    assert_eq!(count(&db, "SELECT count(*) FROM sign_in_alerts").await, 0, "its next sign-in is taken as its first");
    assert!(mails(&db, ADA, "unfamiliar_sign_in").await.is_empty());
    assert_eq!(first_signed_in_at(&db).await, Some(next_at), "and kept as such");
    // from then on, a new browser from a new network is unfamiliar
    svc.clock.advance(Duration::minutes(5));
    signs_in(&svc, &client("192.0.2.10", FIREFOX_LINUX, Some("ES"), "Madrid, Madrid, Spain")).await;
    assert_eq!(count(&db, "SELECT count(*) FROM sign_in_alerts").await, 1);
    assert_eq!(mails(&db, ADA, "unfamiliar_sign_in").await.len(), 1);
    assert_eq!(first_signed_in_at(&db).await, Some(next_at));
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn the_same_browser_and_os_again_within_24_hours_raises_no_second_alert(db: PgPool) {
    let svc = services(db.clone());
    ada(&svc).await;
    signs_in(&svc, &stranger()).await;
    // another Chrome version on another Windows version, from yet another network, 23 h later
    svc.clock.advance(Duration::hours(23));
    signs_in(&svc, &client("192.0.2.10", OLDER_CHROME_WINDOWS, Some("ES"), "Madrid, Madrid, Spain")).await;
    assert_eq!(count(&db, "SELECT count(*) FROM sign_in_alerts").await, 1);
    assert_eq!(mails(&db, ADA, "unfamiliar_sign_in").await.len(), 1);
    // a day after the first alert, the same device from a new network alerts again
    svc.clock.advance(Duration::hours(1) + Duration::minutes(1));
    signs_in(&svc, &client("100.64.0.9", CHROME_WINDOWS, Some("FR"), "Paris, Île-de-France, France")).await;
    let sent = mails(&db, ADA, "unfamiliar_sign_in").await;
    assert_eq!(sent.len(), 2);
    assert!(sent[1].1.contains("Approximate location: Paris, Île-de-France, France (IP address 100.64.0.9)"), "{}", sent[1].1);
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn once_the_owner_says_yes_the_same_browser_and_os_alerts_again_within_24_hours(db: PgPool) {
    // (while the first alert is unanswered, the same device within 24 hours raises none:
    // the_same_browser_and_os_again_within_24_hours_raises_no_second_alert)
    let svc = services(db.clone());
    let (_, owner) = ada(&svc).await;
    let owner = me(&svc, &owner.token).await;
    svc.clock.advance(Duration::minutes(1));
    signs_in(&svc, &stranger()).await;
    let asked = alerts::prompt(&svc, &owner).await.unwrap().expect("the owner is asked");
    alerts::confirm(&svc, &owner, asked.id, &home()).await.unwrap();
    // an hour later, Chrome on Windows again, without its device cookie, from a new network
    svc.clock.advance(Duration::hours(1));
    signs_in(&svc, &client("192.0.2.10", CHROME_WINDOWS, Some("ES"), "Madrid, Madrid, Spain")).await;
    assert_eq!(count(&db, "SELECT count(*) FROM sign_in_alerts").await, 2);
    assert_eq!(count(&db, "SELECT count(*) FROM sign_in_alerts WHERE acknowledged_at IS NULL").await, 1, "the new one is unanswered");
    let sent = mails(&db, ADA, "unfamiliar_sign_in").await;
    assert_eq!(sent.len(), 2);
    assert!(sent[1].1.contains("Approximate location: Madrid, Madrid, Spain (IP address 192.0.2.10)"), "{}", sent[1].1);
    assert!(sent[1].1.contains("Device: Chrome 131 on Windows 10"), "{}", sent[1].1);
    assert_eq!(count(&db, "SELECT count(*) FROM security_events WHERE kind = 'sign_in_alert_sent'").await, 2);
}

/// "Yes, it was me" on the page leaves the alert's emailed link working: any older session of the
/// account may answer Yes without confirming it's you, so an intruder holding one must not be able
/// to take the owner's report away. The link's page says it was answered.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn after_the_owner_says_yes_the_emailed_link_says_so_and_still_reports(db: PgPool) {
    let svc = services(db.clone());
    let (_, owner) = ada(&svc).await;
    let owner = me(&svc, &owner.token).await;
    svc.clock.advance(Duration::minutes(1));
    let laptop = signs_in(&svc, &stranger()).await;
    let token = not_me_token(&db).await;
    assert_eq!(alerts::not_me_link(&svc, &token).await.unwrap().marked_as_yours, None);
    let asked = alerts::prompt(&svc, &owner).await.unwrap().expect("the owner is asked");
    svc.clock.advance(Duration::minutes(2));
    alerts::confirm(&svc, &owner, asked.id, &home()).await.unwrap();

    assert_eq!(alerts::not_me_link(&svc, &token).await.unwrap().marked_as_yours, Some(svc.clock.now()));
    alerts::report_not_me(&svc, &token, &home()).await.unwrap();
    assert!(authenticate(&svc, &laptop).await.unwrap().is_none(), "the report still ends that session");
    assert_eq!(link_problem(alerts::not_me_link(&svc, &token).await), LinkProblem::Used);
}

/// "It was me" on the emailed link's page answers the alert as the page's Yes does: the prompt
/// goes, and a later report of another sign-in no longer ends this one's session (before, the
/// button only led to Security & Access, and the unanswered alert was swept by the next report,
/// with the owner's own later sessions). Answering again is no error; the link still reports it.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn it_was_me_from_the_email_answers_the_alert_and_a_later_report_of_another_sign_in_spares_it(db: PgPool) {
    let svc = services(db.clone());
    let (_, owner) = ada(&svc).await;
    let owner = me(&svc, &owner.token).await;
    svc.clock.advance(Duration::minutes(1));
    let laptop = signs_in(&svc, &stranger()).await;
    let laptop_link = not_me_token(&db).await;
    svc.clock.advance(Duration::minutes(1));
    alerts::confirm_from_link(&svc, &laptop_link, &home()).await.unwrap();
    alerts::confirm_from_link(&svc, &laptop_link, &home()).await.unwrap();
    assert!(alerts::prompt(&svc, &owner).await.unwrap().is_none(), "answered: the page no longer asks");
    assert_eq!(alerts::not_me_link(&svc, &laptop_link).await.unwrap().marked_as_yours, Some(svc.clock.now()));
    let confirmed: Vec<Option<String>> = sqlx::query_scalar("SELECT detail FROM security_events WHERE kind = 'sign_in_confirmed'").fetch_all(&db).await.unwrap();
    assert_eq!(confirmed, [Some("from the email".to_string())], "one event, however often answered");

    // another new sign-in, reported: the one marked as yours stays signed in
    svc.clock.advance(Duration::minutes(5));
    let other = signs_in(&svc, &client("192.0.2.10", CHROME_WINDOWS, Some("ES"), "Madrid, Madrid, Spain")).await;
    alerts::report_not_me(&svc, &not_me_token(&db).await, &home()).await.unwrap();
    assert!(authenticate(&svc, &other).await.unwrap().is_none(), "the reported sign-in ends");
    assert!(authenticate(&svc, &laptop).await.unwrap().is_some(), "the one marked as yours stays");

    // the link still reports it; then, used, it answers nothing more
    alerts::report_not_me(&svc, &laptop_link, &home()).await.unwrap();
    assert!(authenticate(&svc, &laptop).await.unwrap().is_none());
    assert_eq!(link_problem(alerts::confirm_from_link(&svc, &laptop_link, &home()).await), LinkProblem::Used);
    assert_eq!(link_problem(alerts::confirm_from_link(&svc, &LinkToken::from_cookie("x".repeat(43)), &home()).await), LinkProblem::Invalid);
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_new_country_from_a_known_network_is_unfamiliar_but_an_unknown_country_is_not(db: PgPool) {
    let svc = services(db.clone());
    ada(&svc).await;
    // the home network, where the geo-IP database knows no country: nothing new
    signs_in(&svc, &client("198.51.100.50", SAFARI_IPHONE, None, "Unknown")).await;
    assert_eq!(count(&db, "SELECT count(*) FROM sign_in_alerts").await, 0);
    // the home network, but in a country the account never signed in from
    signs_in(&svc, &client("198.51.100.51", CHROME_WINDOWS, Some("FR"), "Paris, Île-de-France, France")).await;
    let sent = mails(&db, ADA, "unfamiliar_sign_in").await;
    assert_eq!(sent.len(), 1);
    assert!(sent[0].1.contains("Approximate location: Paris, Île-de-France, France (IP address 198.51.100.51)"), "{}", sent[0].1);
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn at_most_three_alert_emails_go_to_an_account_in_24_hours(db: PgPool) {
    let svc = services(db.clone());
    let (_, owner) = ada(&svc).await;
    let devices = [
        ("203.0.113.77", CHROME_WINDOWS),
        ("192.0.2.10", FIREFOX_LINUX),
        ("100.64.0.9", SAFARI_IPHONE),
        ("198.18.0.4", CHROME_LINUX),
    ];
    let keys: std::collections::HashSet<_> = devices
        .iter()
        .map(|(_, ua)| {
            let d = domain::devices::describe(Some(ua));
            (d.browser_name, d.os_family)
        })
        .collect();
    assert_eq!(keys.len(), 4, "four different devices: {keys:?}");
    for (i, (ip, ua)) in devices.iter().enumerate() {
        svc.clock.advance(Duration::minutes(10));
        signs_in(&svc, &client(ip, ua, Some("PT"), &format!("Place {i}, Portugal"))).await;
    }
    // every one is an alert (the page asks about the newest), but only three were emailed
    assert_eq!(count(&db, "SELECT count(*) FROM sign_in_alerts").await, 4);
    assert_eq!(count(&db, "SELECT count(*) FROM sign_in_alerts WHERE token_hash IS NULL").await, 1);
    assert_eq!(mails(&db, ADA, "unfamiliar_sign_in").await.len(), 3);
    assert_eq!(count(&db, "SELECT count(*) FROM security_events WHERE kind = 'sign_in_alert_sent'").await, 3);
    let prompt = alerts::prompt(&svc, &me(&svc, &owner.token).await).await.unwrap().expect("the newest alert");
    assert_eq!((prompt.device.as_str(), prompt.ip.as_deref()), ("Chrome 131 on Linux", Some("198.18.0.4")));
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_passkey_sign_in_from_an_unfamiliar_device_raises_the_alert_and_one_from_home_does_not(db: PgPool) {
    let svc = services(db.clone());
    let (_, owner) = ada(&svc).await;
    let session = me(&svc, &owner.token).await;
    let (mut key, _) = registered(&svc, &session, 200).await;
    for (from, alerts) in [(home(), 0), (stranger(), 1)] {
        svc.clock.advance(Duration::minutes(5));
        let (options, cookie) = passkeys::begin_sign_in(&svc, false).unwrap();
        passkeys::finish_sign_in(&svc, &cookie, &key.get(&options), &from).await.unwrap();
        assert_eq!(count(&db, "SELECT count(*) FROM sign_in_alerts").await, alerts, "after a sign-in from {:?}", from.ip);
    }
    let sent = mails(&db, ADA, "unfamiliar_sign_in").await;
    assert_eq!(sent.len(), 1);
    assert!(sent[0].1.contains("Device: Chrome 131 on Windows 10"), "{}", sent[0].1);
    assert!(sent[0].1.contains("Signed in with: a passkey"), "{}", sent[0].1);
}

/// Familiar takes both the network and, when known, the country: a passkey sign-in from the home
/// network that the geo-IP database places in another country is unfamiliar.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_passkey_sign_in_from_the_home_network_in_a_new_country_raises_the_alert(db: PgPool) {
    let svc = services(db.clone());
    let (_, owner) = ada(&svc).await;
    let session = me(&svc, &owner.token).await;
    let (mut key, _) = registered(&svc, &session, 202).await;
    svc.clock.advance(Duration::minutes(5));
    let abroad = client("198.51.100.8", SAFARI_IPHONE, Some("FR"), "Paris, Ile-de-France, France");
    let (options, cookie) = passkeys::begin_sign_in(&svc, false).unwrap();
    passkeys::finish_sign_in(&svc, &cookie, &key.get(&options), &abroad).await.unwrap();
    assert_eq!(count(&db, "SELECT count(*) FROM sign_in_alerts").await, 1);
    let sent = mails(&db, ADA, "unfamiliar_sign_in").await;
    assert_eq!(sent.len(), 1);
    assert!(sent[0].1.contains("Approximate location: Paris, Ile-de-France, France (IP address 198.51.100.8)"), "{}", sent[0].1);
}

/// A browser that fully signed in is a known device: it signs in from anywhere without an alert.
/// "This wasn't me" takes that from every browser trusted before it, so an intruder's browser
/// that comes back (with the password again) is alerted about like any stranger's.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn after_this_wasnt_me_the_intruders_browser_is_alerted_about_again_despite_its_device_cookie(db: PgPool) {
    let svc = services(db.clone());
    let (_, owner) = ada(&svc).await;
    let mut synced = passkey_named(&svc, &me(&svc, &owner.token).await, 31, "Ada's phone").await;
    // the intruder signs in with the phished password: an alert, and a device cookie for the account
    let intruder = sign_in(&svc, ADA, &Password::new(PW), &stranger()).await.unwrap();
    assert_eq!(mails(&db, ADA, "unfamiliar_sign_in").await.len(), 1);
    let with_cookie =
        |ip: &str, country: &str| ClientInfo { device: Some(intruder.device.clone()), ..client(ip, CHROME_LINUX, Some(country), "Far away") };
    // until Ada answers, that browser is a known device: from another network and country, no alert
    svc.clock.advance(Duration::days(2));
    signs_in(&svc, &with_cookie("192.0.2.50", "BR")).await;
    assert_eq!(mails(&db, ADA, "unfamiliar_sign_in").await.len(), 1);
    alerts::report_not_me(&svc, &not_me_token(&db).await, &home()).await.unwrap();
    // it comes back with the same cookie, from yet another network and country (with Ada's own
    // passkey, from a keychain they broke into: the password no longer signs in): alerted
    svc.clock.advance(Duration::days(2));
    passkey_sign_in(&svc, &mut synced, &with_cookie("100.64.5.5", "JP")).await.unwrap();
    assert_eq!(mails(&db, ADA, "unfamiliar_sign_in").await.len(), 2);
}

/// A password change forgets the trusted browsers too (the owner's own, until they sign in fully
/// again): a passkey sign-in from one is judged by its network and country, then, renewed by that
/// sign-in, it is a known device again. Both ways of a passkey sign-in are covered: the one
/// statement of a familiar one, and the transaction of an unfamiliar one.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn after_a_password_change_a_browser_trusted_before_it_is_alerted_about_once_then_known_again(db: PgPool) {
    let svc = services(db.clone());
    let (_, owner) = ada(&svc).await;
    let (mut key, _) = registered(&svc, &me(&svc, &owner.token).await, 210).await;
    let mut passkey_sign_in = async |from: ClientInfo| {
        let (options, cookie) = passkeys::begin_sign_in(&svc, false).unwrap();
        passkeys::finish_sign_in(&svc, &cookie, &key.get(&options), &from).await.unwrap()
    };
    let travelling = |ip: &str, country: &str, device: &domain::secret::DeviceCookie| ClientInfo {
        device: Some(device.clone()),
        ..client(ip, SAFARI_IPHONE, Some(country), "Far away")
    };
    // Ada's browser, from a network and country the account never used: known, no alert
    svc.clock.advance(Duration::days(2));
    let abroad = passkey_sign_in(travelling("192.0.2.60", "JP", &owner.device)).await;
    assert_eq!(count(&db, "SELECT count(*) FROM sign_in_alerts").await, 0);
    svc.clock.advance(Duration::minutes(1));
    accounts::change_password(&svc, &me(&svc, &abroad.token).await, &Password::new(PW), &Password::new(NEW_PW), &home()).await.unwrap();
    // the same browser (its cookie from before the change), from another new place: alerted
    svc.clock.advance(Duration::days(2));
    let again = passkey_sign_in(travelling("192.0.2.61", "BR", &abroad.device)).await;
    assert_eq!(count(&db, "SELECT count(*) FROM sign_in_alerts").await, 1);
    // that sign-in renewed its cookie: known again
    svc.clock.advance(Duration::days(2));
    passkey_sign_in(travelling("192.0.2.62", "AU", &again.device)).await;
    assert_eq!(count(&db, "SELECT count(*) FROM sign_in_alerts").await, 1);
}

/// A passkey sign-in counts every sign-in that committed before it as history, also one that
/// committed while it waited for the account's row. A familiar passkey sign-in is one statement,
/// whose snapshot is older than that wait; one that looks unfamiliar there must go the whole way
/// (deciding after the wait), not raise an alert on what it saw.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_passkey_sign_in_that_waited_for_a_sign_in_from_its_network_finds_that_network_familiar(db: PgPool) {
    let svc = services(db.clone());
    let (ada_id, owner) = ada(&svc).await;
    let session = me(&svc, &owner.token).await;
    let (mut key, _) = registered(&svc, &session, 201).await;
    svc.clock.advance(Duration::minutes(5));
    let (options, cookie) = passkeys::begin_sign_in(&svc, false).unwrap();
    let answer = key.get(&options);
    // another browser on the stranger's network: not the same device, so no alert is held back as
    // a repeat of the first
    let next_door = client("203.0.113.78", FIREFOX_LINUX, Some("PT"), "Lisbon, Lisbon, Portugal");

    // a password sign-in from the stranger's network waits at its last step for the account's
    // row, which the test holds; then the passkey sign-in from next door waits behind it
    let mut gate = db.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR UPDATE").bind(ada_id.0).execute(&mut *gate).await.unwrap();
    let password = tokio::spawn({
        let svc = svc.clone();
        async move { sessions::start(&svc, ada_id, domain::kinds::SignInMethod::Password, &stranger()).await }
    });
    common::until_waiting_for_locks(&db, 1, || password.is_finished()).await;
    let passkey = tokio::spawn({
        let svc = svc.clone();
        async move { passkeys::finish_sign_in(&svc, &cookie, &answer, &next_door).await }
    });
    common::until_waiting_for_locks(&db, 2, || passkey.is_finished()).await;
    gate.commit().await.unwrap();

    password.await.unwrap().unwrap();
    passkey.await.unwrap().unwrap();
    assert_eq!(count(&db, "SELECT count(*) FROM sign_in_alerts").await, 1, "only the first sign-in from that network");
    let sent = mails(&db, ADA, "unfamiliar_sign_in").await;
    assert_eq!(sent.len(), 1);
    assert!(sent[0].1.contains("Signed in with: a password"), "{}", sent[0].1);
    assert_eq!(count(&db, "SELECT count(*) FROM sessions WHERE auth_method = 'passkey'").await, 1);
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn two_simultaneous_unfamiliar_sign_ins_from_one_new_device_raise_one_alert(db: PgPool) {
    let svc = services(db.clone());
    let (ada_id, _) = ada(&svc).await;
    let (a, b) = (stranger(), client("203.0.113.78", CHROME_WINDOWS, Some("PT"), "Lisbon, Lisbon, Portugal"));
    // Two right passwords from the same new device: both sessions start (the sign-in's last step)
    // while the test holds the account's row, so both wait for its lock and then decide at the
    // same moment.
    let mut gate = db.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR UPDATE").bind(ada_id.0).execute(&mut *gate).await.unwrap();
    let open = async {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        gate.commit().await.unwrap();
    };
    let start = |c| sessions::start(&svc, ada_id, domain::kinds::SignInMethod::Password, c);
    let ((ra, rb), ()) = tokio::join!(async { tokio::join!(start(&a), start(&b)) }, open);
    let (ra, rb) = (ra.unwrap().token, rb.unwrap().token);
    assert!(me(&svc, &ra).await.user_id == me(&svc, &rb).await.user_id, "both signed in");
    assert_eq!(count(&db, "SELECT count(*) FROM sign_in_alerts").await, 1);
    assert_eq!(mails(&db, ADA, "unfamiliar_sign_in").await.len(), 1);
}

// ------------------------------------------------------------------------------------------
// "This wasn't me"
// ------------------------------------------------------------------------------------------

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn reading_the_this_wasnt_me_link_shows_the_sign_in_and_changes_nothing(db: PgPool) {
    let svc = services(db.clone());
    ada(&svc).await;
    let intruder = signs_in(&svc, &stranger()).await;
    let token = not_me_token(&db).await;
    for _ in 0..2 {
        let shown = alerts::not_me_link(&svc, &token).await.unwrap().sign_in;
        assert_eq!(shown.at, svc.clock.now());
        assert_eq!(shown.device, "Chrome 131 on Windows 10");
        assert_eq!(shown.location, "Lisbon, Lisbon, Portugal");
        assert_eq!(shown.place.as_deref(), Some("Lisbon"));
        assert_eq!(shown.ip.as_deref(), Some("203.0.113.77"));
        assert_eq!(shown.method, "a password");
    }
    assert!(authenticate(&svc, &intruder).await.unwrap().is_some(), "a GET ends no session");
    assert!(mails(&db, ADA, "password_reset").await.is_empty());
    assert_eq!(count(&db, "SELECT count(*) FROM sign_in_alerts WHERE reported_at IS NULL AND acknowledged_at IS NULL").await, 1);
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn this_wasnt_me_ends_that_session_at_once_and_emails_a_reset_link_without_signing_anyone_in(db: PgPool) {
    let svc = services(db.clone());
    let (ada_id, owner) = ada(&svc).await;
    let intruder = signs_in(&svc, &stranger()).await;
    let token = not_me_token(&db).await;
    let sessions_before = count(&db, "SELECT count(*) FROM sessions").await;
    let hash_before: Option<String> = sqlx::query_scalar("SELECT password_hash FROM users").fetch_one(&db).await.unwrap();
    svc.clock.advance(Duration::minutes(3));

    let done = alerts::report_not_me(&svc, &token, &home()).await.unwrap();
    assert_eq!(done, alerts::NotMeReported { email: ADA.into(), minutes: 60, taken_back: vec![], ways_in: vec![], password_turned_off: true });
    assert!(authenticate(&svc, &intruder).await.unwrap().is_none(), "the reported session ended at once");
    assert_eq!(me(&svc, &owner.token).await.user_id, ada_id, "the owner's session lives on");
    let reason: String = sqlx::query_scalar("SELECT revoked_reason FROM sessions WHERE revoked_at IS NOT NULL").fetch_one(&db).await.unwrap();
    assert_eq!(reason, "reported_not_me");
    let resets = mails(&db, ADA, "password_reset").await;
    assert_eq!(resets.len(), 1);
    assert!(testkit::link_token(&resets[0].1, "/reset-password").is_some(), "a link to choose a new password");
    assert_eq!(count(&db, "SELECT count(*) FROM sessions").await, sessions_before, "nobody was signed in");
    assert!(hash_before.is_some());
    let hash_after: Option<String> = sqlx::query_scalar("SELECT password_hash FROM users").fetch_one(&db).await.unwrap();
    assert_eq!(hash_after, None, "the password is off until Ada chooses a new one");
    assert_eq!(count(&db, "SELECT count(*) FROM security_events WHERE kind = 'sign_in_reported'").await, 1);
    // the activity names the sign-in reported, as its alert did, and what ended
    assert_eq!(reported_entry(&db).await, "Reported a sign-in that wasn't you (Chrome 131 on Windows 10 near Lisbon, from the email): its session ended");
    assert_eq!(count(&db, "SELECT count(*) FROM security_events WHERE kind = 'password_turned_off'").await, 1);
    // the email says why (the password is off already), not "ignore this and it stays as it is";
    // the activity has no "asked for a reset link" under the reporter's browser
    let subjects: Vec<String> = sqlx::query_scalar("SELECT subject FROM email_outbox WHERE kind = 'password_reset'").fetch_all(&db).await.unwrap();
    assert_eq!(subjects, ["Choose a new Gatehouse password"]);
    assert!(resets[0].1.contains("You reported a sign-in to your Gatehouse account that wasn't you, so your password was turned off"), "{}", resets[0].1);
    assert!(!resets[0].1.contains("your password stays as it is"), "{}", resets[0].1);
    assert_eq!(count(&db, "SELECT count(*) FROM security_events WHERE kind = 'password_reset_requested'").await, 0);

    // once only
    assert_eq!(link_problem(alerts::report_not_me(&svc, &token, &home()).await), LinkProblem::Used);
    assert_eq!(link_problem(alerts::not_me_link(&svc, &token).await), LinkProblem::Used);
    assert_eq!(mails(&db, ADA, "password_reset").await.len(), 1);
    // a token nobody was sent, and something that is no token at all
    let made_up = LinkToken::from_cookie(sessions::new_cookie_token().0);
    assert_eq!(link_problem(alerts::report_not_me(&svc, &made_up, &home()).await), LinkProblem::Invalid);
    assert_eq!(link_problem(alerts::not_me_link(&svc, &made_up).await), LinkProblem::Invalid);
    let garbage = LinkToken::from_cookie("not a token");
    assert_eq!(link_problem(alerts::report_not_me(&svc, &garbage, &home()).await), LinkProblem::Invalid);
}

/// Whoever signed in may know the password: were it left on until the owner follows the reset
/// link, they would sign in again with it meanwhile, and could change it, which ends the link.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn this_wasnt_me_turns_the_password_off_until_the_emailed_link_sets_a_new_one(db: PgPool) {
    let svc = services(db.clone());
    let (ada_id, owner) = ada(&svc).await;
    signs_in(&svc, &stranger()).await;
    let token = not_me_token(&db).await;
    assert!(alerts::not_me_link(&svc, &token).await.unwrap().has_password, "the page says the password goes");
    // a reset link someone asked for before the report
    email_links::request_password_reset(&svc, ADA, &stranger()).await.unwrap();
    let earlier = LinkToken::from_cookie(testkit::link_token(&mails(&db, ADA, "password_reset").await[0].1, email_links::RESET_PATH).unwrap());
    svc.clock.advance(Duration::minutes(1));

    let done = alerts::report_not_me(&svc, &token, &home()).await.unwrap();
    assert!(done.password_turned_off);
    // the password signs nobody in, from anywhere, and the owner's own session no longer has one
    for from in [stranger(), home()] {
        assert!(matches!(sign_in(&svc, ADA, &Password::new(PW), &from).await, Err(DomainError::InvalidCredentials)));
    }
    let status = accounts::password_status(&svc, &me(&svc, &owner.token).await).await.unwrap();
    assert!(!status.has_password);
    assert!(email_links::reset_link(&svc, &earlier).await.is_err(), "a link made before no longer works");
    assert_eq!(count(&db, "SELECT count(*) FROM security_events WHERE kind = 'password_turned_off'").await, 1);

    // the link emailed by the report chooses a new one (it does not set a first one)
    let resets = mails(&db, ADA, "password_reset").await;
    assert_eq!(resets.iter().map(|(subject, _)| subject.as_str()).collect::<Vec<_>>(), ["Reset your Gatehouse password", "Choose a new Gatehouse password"]);
    let fresh = LinkToken::from_cookie(testkit::link_token(&resets[1].1, email_links::RESET_PATH).unwrap());
    assert!(!email_links::reset_link(&svc, &fresh).await.unwrap().sets_password);
    email_links::reset_password(&svc, &fresh, &Password::new(NEW_PW), &home()).await.unwrap();
    assert_eq!(me(&svc, &sign_in(&svc, ADA, &Password::new(NEW_PW), &home()).await.unwrap().token).await.user_id, ada_id);
}

/// An owner who secured the account herself after the alert (from a later sign-in of hers: a new
/// password, which ended the stranger's session, then a new passkey) opens the old link: its page
/// names what the button would undo besides, worked out without changing anything, and the
/// button then does exactly that.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn the_links_page_names_what_the_button_would_undo_since_the_sign_in_and_opening_it_changes_nothing(db: PgPool) {
    use domain::auth::alerts::{ReportReach, TakenBack};
    let svc = services(db.clone());
    ada(&svc).await;
    signs_in(&svc, &stranger()).await;
    let token = not_me_token(&db).await;
    assert_eq!(alerts::not_me_link(&svc, &token).await.unwrap().since, ReportReach::default(), "nothing since");

    svc.clock.advance(Duration::minutes(5));
    let later = sign_in(&svc, ADA, &Password::new(PW), &home()).await.unwrap();
    let token_now = accounts::change_password(&svc, &me(&svc, &later.token).await, &Password::new(PW), &Password::new(NEW_PW), &home())
        .await
        .unwrap().token;
    passkey_named(&svc, &me(&svc, &token_now).await, 62, "Ada's new phone").await;
    let state = || async {
        (
            count(&db, "SELECT count(*) FROM sessions WHERE revoked_at IS NULL").await,
            count(&db, "SELECT count(*) FROM passkeys").await,
            count(&db, "SELECT count(*) FROM email_outbox").await,
            count(&db, "SELECT count(*) FROM security_events").await,
            count(&db, "SELECT count(*) FROM sign_in_alerts WHERE reported_at IS NULL").await,
        )
    };
    let before = state().await;

    let page = alerts::not_me_link(&svc, &token).await.unwrap();
    let reach = ReportReach {
        already_signed_out: true,
        other_sessions: 1,
        removes: vec![TakenBack::Passkey("Ada's new phone".into())],
        password_changed_since: true,
        from_earlier: false,
    };
    assert_eq!(page.since, reach);
    assert_eq!(state().await, before, "opening the page changed nothing");
    assert!(authenticate(&svc, &token_now).await.unwrap().is_some(), "her session lives");

    let done = alerts::report_not_me(&svc, &token, &home()).await.unwrap();
    assert_eq!((done.taken_back, done.password_turned_off), (reach.removes, true), "the button did what the page said");
    assert!(authenticate(&svc, &token_now).await.unwrap().is_none(), "her later session too");
}

/// A link about the newer of two unconfirmed new sign-ins reaches back to the older one: its page
/// says so ("since that sign-in, and an earlier one"), and counts the older one's session.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn the_links_page_says_when_it_reaches_back_to_an_earlier_unconfirmed_sign_in(db: PgPool) {
    let svc = services(db.clone());
    ada(&svc).await;
    svc.clock.advance(Duration::minutes(1));
    let first = signs_in(&svc, &stranger()).await;
    svc.clock.advance(Duration::minutes(1));
    let madrid = client("192.0.2.10", FIREFOX_LINUX, Some("ES"), "Madrid, Madrid, Spain");
    signs_in(&svc, &madrid).await;
    assert_eq!(count(&db, "SELECT count(*) FROM sign_in_alerts").await, 2);
    let newer = not_me_token(&db).await;
    let since = alerts::not_me_link(&svc, &newer).await.unwrap().since;
    assert!(since.from_earlier, "{since:?}");
    assert_eq!((since.already_signed_out, since.other_sessions), (false, 1), "the earlier sign-in's session");
    alerts::report_not_me(&svc, &newer, &home()).await.unwrap();
    assert!(authenticate(&svc, &first).await.unwrap().is_none(), "the earlier one ended too");
}

/// Ada, with a passkey on her phone, reports a stranger's sign-in and resets her password with the
/// emailed link; answers the passkey and how many alerts she had.
async fn reported_and_reset(svc: &Services, db: &PgPool) -> (testkit::SoftAuthenticator, usize) {
    let (_, owner) = ada(svc).await;
    let key = passkey_named(svc, &me(svc, &owner.token).await, 61, "Ada's phone").await;
    signs_in(svc, &stranger()).await;
    let token = not_me_token(db).await;
    alerts::report_not_me(svc, &token, &home()).await.unwrap();
    let link = newest_reset_link(db).await;
    email_links::reset_password(svc, &link, &Password::new(NEW_PW), &home()).await.unwrap();
    (key, mails(db, ADA, "unfamiliar_sign_in").await.len())
}

/// A report makes nothing familiar that the reported sign-ins taught: whoever signed in comes back
/// from the same network and country with the password phished anew, and the owner is alerted
/// again; her own places stay familiar.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn after_a_report_the_intruders_network_and_country_are_unfamiliar_again(db: PgPool) {
    let svc = services(db.clone());
    let (_, before) = reported_and_reset(&svc, &db).await;
    assert_eq!(before, 1);
    sign_in(&svc, ADA, &Password::new(NEW_PW), &home()).await.unwrap();
    assert_eq!(mails(&db, ADA, "unfamiliar_sign_in").await.len(), 1, "home is still familiar");
    sign_in(&svc, ADA, &Password::new(NEW_PW), &stranger()).await.unwrap();
    assert_eq!(mails(&db, ADA, "unfamiliar_sign_in").await.len(), 2, "the reported network and country alert again");
}

/// The same for a passkey sign-in (one statement of its own: `passkey_sign_ins::sign_in_if_familiar`),
/// with one of the owner's passkeys someone got hold of.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn after_a_report_a_passkey_sign_in_from_the_intruders_network_alerts_again(db: PgPool) {
    let svc = services(db.clone());
    let (mut key, before) = reported_and_reset(&svc, &db).await;
    passkey_sign_in(&svc, &mut key, &stranger()).await.unwrap();
    assert_eq!(mails(&db, ADA, "unfamiliar_sign_in").await.len(), before + 1);
}

/// Revoking a session from the list takes back the trust its sign-in earned: whoever held it comes
/// back ten minutes later with the same browser (its device cookie), from the same network and
/// country, and Ada is alerted again. Each of three things held that alert back before: the
/// browser's device cookie, the network and country that session's sign-in taught, and the
/// unanswered first alert about that browser and OS. Her home stays familiar.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn after_revoking_a_session_its_browser_coming_back_from_the_same_place_is_alerted_about_again(db: PgPool) {
    let svc = services(db.clone());
    let (_, owner) = ada(&svc).await;
    let intruder = sign_in(&svc, ADA, &Password::new(PW), &stranger()).await.unwrap();
    assert_eq!(mails(&db, ADA, "unfamiliar_sign_in").await.len(), 1);
    let theirs = me(&svc, &intruder.token).await.session_id;
    svc.clock.advance(Duration::minutes(1));
    sessions::revoke(&svc, &me(&svc, &owner.token).await, theirs, &home()).await.unwrap();
    svc.clock.advance(Duration::minutes(10));
    signs_in(&svc, &ClientInfo { device: Some(intruder.device.clone()), ..stranger() }).await;
    assert_eq!(mails(&db, ADA, "unfamiliar_sign_in").await.len(), 2, "the revoked browser is alerted about again");
    signs_in(&svc, &client("198.51.100.9", CHROME_LINUX, Some("DE"), "Berlin, Land Berlin, Germany")).await;
    assert_eq!(mails(&db, ADA, "unfamiliar_sign_in").await.len(), 2, "a new browser at home is not");
}

/// The same after Revoke all others, for a passkey sign-in (the one-statement familiar sign-in
/// reads the same history and reset): the intruder, with Ada's synced passkey and the browser
/// that signed in with her password, comes back from where they signed in. Her current session
/// keeps home familiar.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn after_revoking_all_other_sessions_a_passkey_sign_in_from_where_one_of_them_signed_in_alerts_again(db: PgPool) {
    let svc = services(db.clone());
    let (_, owner) = ada(&svc).await;
    let mut synced = passkey_named(&svc, &me(&svc, &owner.token).await, 41, "Ada's phone").await;
    let intruder = sign_in(&svc, ADA, &Password::new(PW), &stranger()).await.unwrap();
    assert_eq!(mails(&db, ADA, "unfamiliar_sign_in").await.len(), 1);
    svc.clock.advance(Duration::minutes(1));
    assert_eq!(sessions::revoke_others(&svc, &me(&svc, &owner.token).await, &home()).await.unwrap(), 1);
    svc.clock.advance(Duration::minutes(10));
    passkey_sign_in(&svc, &mut synced, &ClientInfo { device: Some(intruder.device.clone()), ..stranger() }).await.unwrap();
    assert_eq!(mails(&db, ADA, "unfamiliar_sign_in").await.len(), 2, "the revoked browser is alerted about again");
    passkey_sign_in(&svc, &mut synced, &client("198.51.100.9", CHROME_LINUX, Some("DE"), "Berlin, Land Berlin, Germany")).await.unwrap();
    assert_eq!(mails(&db, ADA, "unfamiliar_sign_in").await.len(), 2, "a new browser at home is not");
}

/// Removing a lost phone's passkey and signing out its sessions (the box left ticked) makes the
/// phone a stranger again: whoever has it, with the password its password manager kept, signs in
/// from the phone's own network with its device cookie ten minutes later, and Ada is alerted.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn after_removing_a_lost_phones_passkey_with_its_sessions_the_phone_signing_in_again_is_alerted_about(db: PgPool) {
    let svc = services(db.clone());
    let (_, owner) = ada(&svc).await;
    let mut key = passkey_named(&svc, &me(&svc, &owner.token).await, 51, "Ada's phone").await;
    let mobile = || client("192.0.2.80", SAFARI_IPHONE, Some("DE"), "Hamburg, Hamburg, Germany");
    let (options, cookie) = passkeys::begin_sign_in(&svc, false).unwrap();
    let phone = passkeys::finish_sign_in(&svc, &cookie, &key.get(&options), &mobile()).await.unwrap();
    let before = mails(&db, ADA, "unfamiliar_sign_in").await.len();
    svc.clock.advance(Duration::minutes(1));
    let here = me(&svc, &owner.token).await;
    let id = passkeys::list(&svc, &here).await.unwrap().passkeys[0].id;
    assert_eq!(passkeys::remove(&svc, &here, id, true, &home()).await.unwrap(), 1);
    svc.clock.advance(Duration::minutes(10));
    signs_in(&svc, &ClientInfo { device: Some(phone.device.clone()), ..mobile() }).await;
    assert_eq!(mails(&db, ADA, "unfamiliar_sign_in").await.len(), before + 1);
}

/// A report about a session that had already ended (the intruder signed out first) takes back
/// what its sign-in taught as well: a report only re-labels the sessions it ends, and the view
/// reads the reported alert for the others.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_report_about_a_session_that_had_already_ended_makes_its_place_unfamiliar_too(db: PgPool) {
    let svc = services(db.clone());
    ada(&svc).await;
    let intruder = sign_in(&svc, ADA, &Password::new(PW), &stranger()).await.unwrap();
    sessions::sign_out(&svc, &me(&svc, &intruder.token).await, &stranger()).await.unwrap();
    svc.clock.advance(Duration::minutes(1));
    alerts::report_not_me(&svc, &not_me_token(&db).await, &home()).await.unwrap();
    assert_eq!(reported_entry(&db).await, "Reported a sign-in that wasn't you (Chrome 131 on Windows 10 near Lisbon, from the email): it had already ended");
    let link = newest_reset_link(&db).await;
    email_links::reset_password(&svc, &link, &Password::new(NEW_PW), &home()).await.unwrap();
    svc.clock.advance(Duration::minutes(10));
    sign_in(&svc, ADA, &Password::new(NEW_PW), &stranger()).await.unwrap();
    assert_eq!(mails(&db, ADA, "unfamiliar_sign_in").await.len(), 2);
}

/// The report's activity entry counts the sessions that signed in after the reported one and
/// ended with it (the owner's own, older session is not among them).
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_reports_activity_entry_counts_the_later_sessions_it_ended(db: PgPool) {
    let svc = services(db.clone());
    let (_, owner) = ada(&svc).await;
    let intruder = signs_in(&svc, &stranger()).await;
    let token = not_me_token(&db).await;
    svc.clock.advance(Duration::minutes(1));
    let later = [signs_in(&svc, &stranger()).await, signs_in(&svc, &stranger()).await];
    alerts::report_not_me(&svc, &token, &home()).await.unwrap();
    assert_eq!(
        reported_entry(&db).await,
        "Reported a sign-in that wasn't you (Chrome 131 on Windows 10 near Lisbon, from the email): its session and 2 other sessions ended"
    );
    for token in [&intruder, &later[0], &later[1]] {
        assert!(authenticate(&svc, token).await.unwrap().is_none());
    }
    assert!(authenticate(&svc, &owner.token).await.unwrap().is_some(), "the owner's session lives on");
}

/// The clean-up keeps a revoked session's row while its sign-ins would count (90 days), even with
/// a shorter retention: without the row nothing would say its place is not to be trusted. A
/// session that was signed out goes after the retention as before.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn the_clean_up_keeps_a_revoked_session_while_its_sign_ins_would_make_its_place_familiar(db: PgPool) {
    let svc = Services { sessions: domain::config::SessionPolicy { retention_days: 14, ..domain::config::SessionPolicy::uniform(60, 24) }, ..services(db.clone()) };
    let (_, owner) = ada(&svc).await;
    let intruder = sign_in(&svc, ADA, &Password::new(PW), &stranger()).await.unwrap();
    let at_home = signs_in(&svc, &home()).await;
    sessions::sign_out(&svc, &me(&svc, &at_home).await, &home()).await.unwrap();
    svc.clock.advance(Duration::minutes(1));
    sessions::revoke(&svc, &me(&svc, &owner.token).await, me(&svc, &intruder.token).await.session_id, &home()).await.unwrap();
    svc.clock.advance(Duration::days(30));
    sessions::clean_up(&svc).await.unwrap();
    let by_reason = "SELECT count(*) FROM sessions WHERE revoked_reason = ";
    assert_eq!(count(&db, &format!("{by_reason}'revoked'")).await, 1, "kept");
    assert_eq!(count(&db, &format!("{by_reason}'signed_out'")).await, 0, "deleted after 14 days");
    sign_in(&svc, ADA, &Password::new(PW), &stranger()).await.unwrap();
    assert_eq!(mails(&db, ADA, "unfamiliar_sign_in").await.len(), 2);
}

/// Signing out is recorded from the device and address it came from, like every other event (it
/// was recorded without either, and the activity list read "Unknown · unknown" for it).
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn signing_out_is_recorded_with_its_device_and_address(db: PgPool) {
    let svc = services(db.clone());
    let (_, owner) = ada(&svc).await;
    sessions::sign_out(&svc, &me(&svc, &owner.token).await, &home()).await.unwrap();
    let (ip, user_agent, location): (Option<String>, Option<String>, Option<String>) =
        sqlx::query_as("SELECT ip, user_agent, location FROM security_events WHERE kind = 'signed_out'").fetch_one(&db).await.unwrap();
    assert_eq!(ip.as_deref(), Some("198.51.100.7"));
    assert_eq!(user_agent.as_deref(), Some(FIREFOX_WINDOWS));
    assert_eq!(location.as_deref(), Some("Berlin, Land Berlin, Germany"));
}

/// Whoever signed in may know the password "This wasn't me" turned off: neither the emailed link
/// nor Set password (from a session the report left running) takes it back; any other one does,
/// and then the old one is forgotten.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn after_this_wasnt_me_the_turned_off_password_cannot_be_chosen_again(db: PgPool) {
    use domain::error::PasswordRejection;
    let svc = services(db.clone());
    let (_, owner) = ada(&svc).await;
    signs_in(&svc, &stranger()).await;
    let token = not_me_token(&db).await;
    assert!(alerts::report_not_me(&svc, &token, &home()).await.unwrap().password_turned_off);
    let link = newest_reset_link(&db).await;

    let again = email_links::reset_password(&svc, &link, &Password::new(PW), &home()).await;
    assert!(matches!(again, Err(DomainError::PasswordRejected(PasswordRejection::Reported))), "{again:?}");
    let auth = me(&svc, &owner.token).await;
    let again = accounts::set_password(&svc, &auth, &Password::new(PW), &home()).await;
    assert!(matches!(again, Err(DomainError::PasswordRejected(PasswordRejection::Reported))), "{again:?}");
    assert!(!accounts::password_status(&svc, &auth).await.unwrap().has_password, "nothing was set");

    // the refused tries did not use the link up: another password goes through it
    email_links::reset_password(&svc, &link, &Password::new(NEW_PW), &home()).await.unwrap();
    let kept: Option<String> = sqlx::query_scalar("SELECT reported_password_hash FROM users").fetch_one(&db).await.unwrap();
    assert_eq!(kept, None, "forgotten once a new password is stored");
    assert!(sign_in(&svc, ADA, &Password::new(NEW_PW), &home()).await.is_ok());
}

/// The intruder signed in with the phished password, then changed it (Ada's session ended with the
/// change). "This wasn't me" about that sign-in turns off the intruder's password, and the emailed
/// link refuses both it and the one they signed in with, Ada's usual one; a third goes through.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn this_wasnt_me_about_a_sign_in_before_a_password_change_refuses_the_password_it_signed_in_with_too(db: PgPool) {
    use domain::error::PasswordRejection;
    const THEIRS: &str = "the intruder's own long passphrase";
    const THIRD: &str = "a third long passphrase for Ada";
    let svc = services(db.clone());
    ada(&svc).await;
    let intruder = sign_in(&svc, ADA, &Password::new(PW), &stranger()).await.unwrap();
    svc.clock.advance(Duration::minutes(5));
    accounts::change_password(&svc, &me(&svc, &intruder.token).await, &Password::new(PW), &Password::new(THEIRS), &stranger()).await.unwrap();
    svc.clock.advance(Duration::minutes(5));
    alerts::report_not_me(&svc, &not_me_token(&db).await, &home()).await.unwrap();
    let link = newest_reset_link(&db).await;
    for (password, why) in [(THEIRS, PasswordRejection::Reported), (PW, PasswordRejection::ReportedEarlier)] {
        let refused = email_links::reset_password(&svc, &link, &Password::new(password), &home()).await;
        assert!(matches!(&refused, Err(DomainError::PasswordRejected(w)) if *w == why), "{password}: {refused:?}");
    }
    email_links::reset_password(&svc, &link, &Password::new(THIRD), &home()).await.unwrap();
    let kept: (Option<String>, Vec<String>) =
        sqlx::query_as("SELECT reported_password_hash, reported_earlier_password_hashes FROM users").fetch_one(&db).await.unwrap();
    assert_eq!(kept, (None, vec![]), "forgotten once a new password is stored");
}

/// A change Ada made before the reported sign-in says nothing about the password before it: after
/// the report, that one can be chosen again (only the one the intruder signed in with is refused).
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_password_changed_before_the_reported_sign_in_stays_choosable(db: PgPool) {
    let svc = services(db.clone());
    let (_, owner) = ada(&svc).await;
    accounts::change_password(&svc, &me(&svc, &owner.token).await, &Password::new(PW), &Password::new(NEW_PW), &home()).await.unwrap();
    svc.clock.advance(Duration::hours(1));
    sign_in(&svc, ADA, &Password::new(NEW_PW), &stranger()).await.unwrap();
    alerts::report_not_me(&svc, &not_me_token(&db).await, &home()).await.unwrap();
    let link = newest_reset_link(&db).await;
    email_links::reset_password(&svc, &link, &Password::new(PW), &home()).await.unwrap();
}

/// A replaced password is kept only while a report can reach back to a sign-in from before its
/// change (the prompt's 14 days): the clean-up forgets it after that.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_replaced_password_is_forgotten_once_no_report_can_reach_back_to_before_its_change(db: PgPool) {
    let svc = services(db.clone());
    let (_, owner) = ada(&svc).await;
    accounts::change_password(&svc, &me(&svc, &owner.token).await, &Password::new(PW), &Password::new(NEW_PW), &home()).await.unwrap();
    let kept = || async { count(&db, "SELECT count(*) FROM replaced_passwords").await };
    svc.clock.advance(Duration::days(13));
    sessions::clean_up(&svc).await.unwrap();
    assert_eq!(kept().await, 1);
    svc.clock.advance(Duration::days(2));
    sessions::clean_up(&svc).await.unwrap();
    assert_eq!(kept().await, 0);
}

/// The intruder changed the password (P0 to theirs), Ada, locked out, reset it with "Forgot
/// password?", and then reported the sign-in: the report turns off her new one and refuses as the
/// next password every one in use since the sign-in, the one the intruder signed in with (two
/// back) included.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_report_after_the_intruders_change_and_the_owners_reset_refuses_every_password_since_the_sign_in(db: PgPool) {
    use domain::error::PasswordRejection;
    const THEIRS: &str = "the intruder's own long passphrase";
    const RESET: &str = "ada's hurried reset passphrase";
    let svc = services(db.clone());
    ada(&svc).await;
    let intruder = sign_in(&svc, ADA, &Password::new(PW), &stranger()).await.unwrap();
    let alert = not_me_token(&db).await;
    svc.clock.advance(Duration::minutes(5));
    accounts::change_password(&svc, &me(&svc, &intruder.token).await, &Password::new(PW), &Password::new(THEIRS), &stranger()).await.unwrap();
    svc.clock.advance(Duration::minutes(5));
    email_links::request_password_reset(&svc, ADA, &home()).await.unwrap();
    let link = newest_reset_link(&db).await;
    email_links::reset_password(&svc, &link, &Password::new(RESET), &home()).await.unwrap();
    svc.clock.advance(Duration::minutes(5));
    alerts::report_not_me(&svc, &alert, &home()).await.unwrap();
    let link = newest_reset_link(&db).await;
    for (password, why) in [(RESET, PasswordRejection::Reported), (THEIRS, PasswordRejection::ReportedEarlier), (PW, PasswordRejection::ReportedEarlier)] {
        let refused = email_links::reset_password(&svc, &link, &Password::new(password), &home()).await;
        assert!(matches!(&refused, Err(DomainError::PasswordRejected(w)) if *w == why), "{password}: {refused:?}");
    }
    email_links::reset_password(&svc, &link, &Password::new(NEW_PW), &home()).await.unwrap();
}

/// After "No, secure my account" the password stays on, for Change password: not back to one in
/// use since the reported sign-in (the intruder signed in with it), and that is checked only once
/// the current one is proven. Here Ada had already changed it from her own session (which the
/// change kept) before answering the prompt.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn after_no_secure_my_account_change_password_refuses_a_password_in_use_since_the_reported_sign_in(db: PgPool) {
    use domain::error::PasswordRejection;
    let svc = services(db.clone());
    let (_, owner) = ada(&svc).await;
    sign_in(&svc, ADA, &Password::new(PW), &stranger()).await.unwrap();
    svc.clock.advance(Duration::minutes(5));
    let token = accounts::change_password(&svc, &me(&svc, &owner.token).await, &Password::new(PW), &Password::new(NEW_PW), &home()).await.unwrap().token;
    let alert: Uuid = sqlx::query_scalar("SELECT id FROM sign_in_alerts").fetch_one(&db).await.unwrap();
    alerts::secure_account(&svc, &me(&svc, &token).await, alert, &home()).await.unwrap();
    let auth = me(&svc, &token).await;
    let wrong = accounts::change_password(&svc, &auth, &Password::new("not the current one at all"), &Password::new(PW), &home()).await;
    assert!(matches!(wrong, Err(DomainError::Invalid(Invalid::CurrentPasswordWrong))), "{wrong:?}");
    let refused = accounts::change_password(&svc, &auth, &Password::new(NEW_PW), &Password::new(PW), &home()).await;
    assert!(matches!(&refused, Err(DomainError::PasswordRejected(PasswordRejection::ReportedEarlier))), "{refused:?}");
    accounts::change_password(&svc, &auth, &Password::new(NEW_PW), &Password::new("a third long passphrase for Ada"), &home()).await.unwrap();
}

/// A later sign-in of the intruder's that raised no alert (from the place the first one had made
/// familiar) and had ended (they signed out) before the report is covered by it too: its place
/// teaches nothing afterwards.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_report_covers_a_later_unalerted_sign_in_that_had_already_ended(db: PgPool) {
    let svc = services(db.clone());
    ada(&svc).await;
    sign_in(&svc, ADA, &Password::new(PW), &stranger()).await.unwrap();
    let alert = not_me_token(&db).await;
    svc.clock.advance(Duration::minutes(5));
    // from the next address of the same /24: familiar now, no alert
    let next_door = ClientInfo { ip: Some("203.0.113.78".into()), ..stranger() };
    let second = sign_in(&svc, ADA, &Password::new(PW), &next_door).await.unwrap();
    assert_eq!(mails(&db, ADA, "unfamiliar_sign_in").await.len(), 1);
    sessions::sign_out(&svc, &me(&svc, &second.token).await, &next_door).await.unwrap();
    svc.clock.advance(Duration::minutes(5));
    alerts::report_not_me(&svc, &alert, &home()).await.unwrap();
    let reported: i64 = count(&db, "SELECT count(*) FROM sessions WHERE reported_at IS NOT NULL").await;
    assert_eq!(reported, 2, "both of the intruder's sessions");
    let link = newest_reset_link(&db).await;
    email_links::reset_password(&svc, &link, &Password::new(NEW_PW), &home()).await.unwrap();
    svc.clock.advance(Duration::minutes(10));
    sign_in(&svc, ADA, &Password::new(NEW_PW), &next_door).await.unwrap();
    assert_eq!(mails(&db, ADA, "unfamiliar_sign_in").await.len(), 2, "the intruders' network alerts again");
}

/// A password "This wasn't me" turned off is replaced, not set, by every later link too: a
/// "Forgot password?" after the report's link expired chooses a new one, and its email says the
/// password is off (not "ignore this: your password stays as it is"). The report's own link does
/// not count against the hourly limit: the owner can still ask for three.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn after_this_wasnt_me_a_forgot_password_link_still_chooses_a_new_password(db: PgPool) {
    let svc = services(db.clone());
    ada(&svc).await;
    signs_in(&svc, &stranger()).await;
    let token = not_me_token(&db).await;
    assert!(alerts::report_not_me(&svc, &token, &home()).await.unwrap().password_turned_off);
    svc.clock.advance(Duration::minutes(45));

    for _ in 0..4 {
        email_links::request_password_reset(&svc, ADA, &home()).await.unwrap();
    }
    let resets = mails(&db, ADA, "password_reset").await;
    assert_eq!(resets.iter().map(|(subject, _)| subject.as_str()).collect::<Vec<_>>(), ["Choose a new Gatehouse password"; 4], "the report's, then three asked for");
    let asked = &resets[1].1;
    assert!(asked.contains("asked for a new password for your Gatehouse account. Its password is turned off since a sign-in was reported as not you"), "{asked}");
    assert!(!asked.contains("your password stays as it is"), "{asked}");
    let later = LinkToken::from_cookie(testkit::link_token(&resets[3].1, email_links::RESET_PATH).unwrap());
    assert!(!email_links::reset_link(&svc, &later).await.unwrap().sets_password);
}

/// An account without a password (it signs in with a passkey or Google) has none to turn off:
/// the page does not speak of one, and the link offers to set one.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn this_wasnt_me_on_an_account_without_a_password_turns_nothing_off_and_offers_to_set_one(db: PgPool) {
    let svc = services(db.clone());
    ada(&svc).await;
    signs_in(&svc, &stranger()).await;
    let token = not_me_token(&db).await;
    sqlx::query("UPDATE users SET password_hash = NULL, password_changed_at = NULL").execute(&db).await.unwrap();
    assert!(!alerts::not_me_link(&svc, &token).await.unwrap().has_password);

    let done = alerts::report_not_me(&svc, &token, &home()).await.unwrap();
    assert!(!done.password_turned_off);
    assert_eq!(count(&db, "SELECT count(*) FROM security_events WHERE kind = 'password_turned_off'").await, 0);
    let subjects: Vec<String> = mails(&db, ADA, "password_reset").await.into_iter().map(|(subject, _)| subject).collect();
    assert_eq!(subjects, ["Set a password for your Gatehouse account"]);
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn this_wasnt_me_also_ends_every_session_of_the_account_that_signed_in_after_it_from_any_address(db: PgPool) {
    let svc = services(db.clone());
    let (ada_id, a) = ada(&svc).await;
    svc.clock.advance(Duration::minutes(1));
    let b = sign_in(&svc, ADA, &Password::new(PW), &stranger()).await.unwrap();
    let token = not_me_token(&db).await;
    svc.clock.advance(Duration::minutes(1));
    // the intruder again, from another network with the first sign-in's device cookie: no alert
    let elsewhere = ClientInfo { device: Some(b.device.clone()), ..client("192.0.2.10", CHROME_WINDOWS, Some("ES"), "Madrid, Madrid, Spain") };
    let c = signs_in(&svc, &elsewhere).await;
    assert_eq!(count(&db, "SELECT count(*) FROM sign_in_alerts").await, 1, "no second alert");
    // another account, signed in after the alerted sign-in too
    let (_, bob) = sign_up(&svc, "bob@example.test", None, &Password::new(PW), &stranger()).await.unwrap();
    let sessions_before = count(&db, "SELECT count(*) FROM sessions").await;
    svc.clock.advance(Duration::minutes(3));

    assert_eq!(alerts::report_not_me(&svc, &token, &home()).await.unwrap().email, ADA);
    assert!(authenticate(&svc, &b.token).await.unwrap().is_none(), "the reported session ended");
    assert!(authenticate(&svc, &c).await.unwrap().is_none(), "the later session from another address ended");
    assert_eq!(me(&svc, &a.token).await.user_id, ada_id, "the older session lives on");
    assert!(authenticate(&svc, &bob.token).await.unwrap().is_some(), "another account's sessions are untouched");
    let ended: Vec<(Uuid, String, OffsetDateTime)> =
        sqlx::query_as("SELECT user_id, revoked_reason, revoked_at FROM sessions WHERE revoked_at IS NOT NULL").fetch_all(&db).await.unwrap();
    let now = svc.clock.now();
    assert_eq!(ended, [(ada_id.0, "reported_not_me".into(), now), (ada_id.0, "reported_not_me".into(), now)]);
    assert_eq!(count(&db, "SELECT count(*) FROM sessions").await, sessions_before, "nobody was signed in");
}

/// Whoever signed in asks for three reset links (the hour's most), then changes the password,
/// which ends those links. "This wasn't me" still sends one that works: it is exempt from the
/// hourly limit (it used to answer "use the newest of the earlier links", dead by then).
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn this_wasnt_me_sends_a_working_reset_link_even_after_the_intruder_used_up_the_hours_and_changed_the_password(db: PgPool) {
    let svc = services(db.clone());
    ada(&svc).await;
    let intruder = signs_in(&svc, &stranger()).await;
    let token = not_me_token(&db).await;
    for _ in 0..3 {
        svc.clock.advance(Duration::minutes(5));
        email_links::request_password_reset(&svc, ADA, &stranger()).await.unwrap();
    }
    assert_eq!(mails(&db, ADA, "password_reset").await.len(), 3);
    let dead = LinkToken::from_cookie(testkit::link_token(&mails(&db, ADA, "password_reset").await[2].1, email_links::RESET_PATH).unwrap());
    let theirs = me(&svc, &intruder).await;
    accounts::change_password(&svc, &theirs, &Password::new(PW), &Password::new(NEW_PW), &stranger()).await.unwrap();
    assert!(email_links::reset_link(&svc, &dead).await.is_err(), "the password change ended the earlier links");
    svc.clock.advance(Duration::minutes(5));

    let done = alerts::report_not_me(&svc, &token, &home()).await.unwrap();
    assert_eq!(done, alerts::NotMeReported { email: ADA.into(), minutes: 60, taken_back: vec![], ways_in: vec![], password_turned_off: true });
    let resets = mails(&db, ADA, "password_reset").await;
    assert_eq!(resets.len(), 4, "a fourth reset email");
    let fresh = LinkToken::from_cookie(testkit::link_token(&resets[3].1, email_links::RESET_PATH).unwrap());
    email_links::reset_password(&svc, &fresh, &Password::new("the owner's own new passphrase"), &home()).await.unwrap();
    assert!(sign_in(&svc, ADA, &Password::new("the owner's own new passphrase"), &home()).await.is_ok());
    // and "Forgot password?" still counts it: no fifth within the hour
    email_links::request_password_reset(&svc, ADA, &stranger()).await.unwrap();
    assert_eq!(mails(&db, ADA, "password_reset").await.len(), 4);
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn this_wasnt_me_is_one_transaction_so_a_reset_link_that_cannot_be_stored_undoes_it_all(db: PgPool) {
    let svc = services(db.clone());
    ada(&svc).await;
    let intruder = signs_in(&svc, &stranger()).await;
    let token = not_me_token(&db).await;
    // the reset link cannot be stored (the database refuses it)
    sqlx::query(
        "CREATE FUNCTION refuse_reset() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused'; END; $$",
    )
    .execute(&db)
    .await
    .unwrap();
    sqlx::query("CREATE TRIGGER refuse_reset BEFORE INSERT ON password_resets FOR EACH ROW EXECUTE FUNCTION refuse_reset()")
        .execute(&db)
        .await
        .unwrap();
    svc.clock.advance(Duration::minutes(3));

    let r = alerts::report_not_me(&svc, &token, &home()).await;
    assert!(matches!(r, Err(DomainError::Db(_))), "{r:?}");
    // nothing of it happened: the session lives, the link is unused, nothing was recorded or sent
    assert!(authenticate(&svc, &intruder).await.unwrap().is_some(), "the session was not ended");
    assert_eq!(count(&db, "SELECT count(*) FROM sessions WHERE revoked_at IS NOT NULL").await, 0);
    assert_eq!(count(&db, "SELECT count(*) FROM sign_in_alerts WHERE reported_at IS NULL AND acknowledged_at IS NULL").await, 1);
    assert_eq!(count(&db, "SELECT count(*) FROM security_events WHERE kind IN ('sign_in_reported', 'password_reset_requested')").await, 0);
    assert!(mails(&db, ADA, "password_reset").await.is_empty());
    assert!(alerts::not_me_link(&svc, &token).await.is_ok(), "the link still works");

    // once the reset link can be stored, the same link does it all
    sqlx::query("DROP TRIGGER refuse_reset ON password_resets").execute(&db).await.unwrap();
    let done = alerts::report_not_me(&svc, &token, &home()).await.unwrap();
    assert_eq!(done, alerts::NotMeReported { email: ADA.into(), minutes: 60, taken_back: vec![], ways_in: vec![], password_turned_off: true });
    assert!(authenticate(&svc, &intruder).await.unwrap().is_none());
    assert_eq!(mails(&db, ADA, "password_reset").await.len(), 1);
    assert_eq!(count(&db, "SELECT count(*) FROM security_events WHERE kind = 'sign_in_reported'").await, 1);
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_this_wasnt_me_link_works_for_72_hours(db: PgPool) {
    let svc = services(db.clone());
    ada(&svc).await;
    signs_in(&svc, &stranger()).await;
    let token = not_me_token(&db).await;
    svc.clock.advance(Duration::hours(72) - Duration::minutes(1));
    assert!(alerts::not_me_link(&svc, &token).await.is_ok());
    svc.clock.advance(Duration::minutes(2));
    assert_eq!(link_problem(alerts::not_me_link(&svc, &token).await), LinkProblem::Expired);
    assert_eq!(link_problem(alerts::report_not_me(&svc, &token, &home()).await), LinkProblem::Expired);
    assert!(mails(&db, ADA, "password_reset").await.is_empty());
    assert_eq!(count(&db, "SELECT count(*) FROM sign_in_alerts WHERE reported_at IS NOT NULL").await, 0);
}

// ------------------------------------------------------------------------------------------
// "Was this you?" on the page
// ------------------------------------------------------------------------------------------

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn the_prompt_shows_to_the_owners_other_sessions_and_only_they_can_answer_yes(db: PgPool) {
    let svc = services(db.clone());
    let (_, owner) = ada(&svc).await;
    let owner = me(&svc, &owner.token).await;
    let intruder = me(&svc, &signs_in(&svc, &stranger()).await).await;
    let (_, bob) = sign_up(&svc, "bob@example.test", None, &Password::new(PW), &home()).await.unwrap();
    let bob = me(&svc, &bob.token).await;

    let asked = alerts::prompt(&svc, &owner).await.unwrap().expect("the owner is asked");
    assert_eq!((asked.device.as_str(), asked.place.as_deref()), ("Chrome 131 on Windows 10", Some("Lisbon")));
    assert_eq!(alerts::prompt(&svc, &intruder).await.unwrap(), None, "a session is never asked about itself");
    assert_eq!(alerts::prompt(&svc, &bob).await.unwrap(), None);
    // the page's overview (one statement) asks the same
    for (session, prompt) in [(&owner, Some(asked.clone())), (&intruder, None), (&bob, None)] {
        assert_eq!(domain::auth::overview::load(&svc, session).await.unwrap().prompt, prompt);
    }
    // neither the alerted session nor another account can answer it
    for (who, session) in [("the alerted session", &intruder), ("another account", &bob)] {
        let r = alerts::confirm(&svc, session, asked.id, &stranger()).await;
        assert!(matches!(r, Err(DomainError::NotFound)), "{who}: {r:?}");
        let r = alerts::secure_account(&svc, session, asked.id, &stranger()).await;
        assert!(matches!(r, Err(DomainError::NotFound)), "{who}: {r:?}");
    }
    assert_eq!(alerts::prompt(&svc, &owner).await.unwrap().map(|a| a.id), Some(asked.id), "still asked");

    alerts::confirm(&svc, &owner, asked.id, &home()).await.unwrap();
    assert_eq!(alerts::prompt(&svc, &owner).await.unwrap(), None, "answered: the prompt is gone");
    assert!(matches!(alerts::confirm(&svc, &owner, asked.id, &home()).await, Err(DomainError::NotFound)), "answered once");
    assert_eq!(count(&db, "SELECT count(*) FROM security_events WHERE kind = 'sign_in_confirmed'").await, 1);
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_session_that_signed_in_after_the_alerted_sign_in_is_not_asked_and_cannot_answer(db: PgPool) {
    let svc = services(db.clone());
    let (_, owner) = ada(&svc).await;
    let owner = me(&svc, &owner.token).await;
    svc.clock.advance(Duration::minutes(1));
    let first = sign_in(&svc, ADA, &Password::new(PW), &stranger()).await.unwrap();
    let alerted_at = svc.clock.now();
    assert_eq!(count(&db, "SELECT count(*) FROM sign_in_alerts").await, 1);
    // the intruder signs in again a minute later from the same browser (its device cookie): no
    // second alert, but a second session, younger than the alerted sign-in
    svc.clock.advance(Duration::minutes(1));
    let same_browser = ClientInfo { device: Some(first.device.clone()), ..stranger() };
    let later = me(&svc, &sign_in(&svc, ADA, &Password::new(PW), &same_browser).await.unwrap().token).await;
    assert_eq!(count(&db, "SELECT count(*) FROM sign_in_alerts").await, 1, "no second alert");
    assert_eq!(mails(&db, ADA, "unfamiliar_sign_in").await.len(), 1);

    let asked = alerts::prompt(&svc, &owner).await.unwrap().expect("the owner's older session is asked");
    assert_eq!((asked.at, asked.ip.as_deref()), (alerted_at, Some("203.0.113.77")));
    assert_eq!(alerts::prompt(&svc, &later).await.unwrap(), None, "a session younger than the sign-in is not asked");
    // it signed in a moment ago, so it is recent enough to try "No, secure my account" too
    let r = alerts::confirm(&svc, &later, asked.id, &same_browser).await;
    assert!(matches!(r, Err(DomainError::NotFound)), "Yes: {r:?}");
    let r = alerts::secure_account(&svc, &later, asked.id, &same_browser).await;
    assert!(matches!(r, Err(DomainError::NotFound)), "No, secure my account: {r:?}");

    // nothing was answered and nothing ended
    assert_eq!(count(&db, "SELECT count(*) FROM sign_in_alerts WHERE acknowledged_at IS NULL").await, 1);
    assert_eq!(count(&db, "SELECT count(*) FROM sessions WHERE revoked_at IS NULL").await, 3);
    assert_eq!(count(&db, "SELECT count(*) FROM security_events WHERE kind IN ('sign_in_confirmed', 'sign_in_reported')").await, 0);
    assert!(authenticate(&svc, &first.token).await.unwrap().is_some());
    assert_eq!(alerts::prompt(&svc, &owner).await.unwrap().map(|a| a.id), Some(asked.id), "the owner is still asked");
    // and the owner's session can answer
    alerts::confirm(&svc, &owner, asked.id, &home()).await.unwrap();
    assert_eq!(alerts::prompt(&svc, &owner).await.unwrap(), None);
    assert_eq!(count(&db, "SELECT count(*) FROM security_events WHERE kind = 'sign_in_confirmed'").await, 1);
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_session_that_is_itself_an_unanswered_alerts_sign_in_is_not_asked_about_a_later_one_and_cannot_answer_it(db: PgPool) {
    let svc = services(db.clone());
    let (_, owner) = ada(&svc).await;
    let owner = me(&svc, &owner.token).await;
    // alert 1: Chrome on Windows from Lisbon (session B, unanswered)
    svc.clock.advance(Duration::minutes(1));
    let b_token = signs_in(&svc, &stranger()).await;
    let b = me(&svc, &b_token).await;
    let first: Uuid = sqlx::query_scalar("SELECT id FROM sign_in_alerts").fetch_one(&db).await.unwrap();
    // alert 2: another browser and OS, without a device cookie, from another network (session C)
    svc.clock.advance(Duration::minutes(1));
    let madrid = client("192.0.2.10", FIREFOX_LINUX, Some("ES"), "Madrid, Madrid, Spain");
    let c_token = signs_in(&svc, &madrid).await;
    let c = me(&svc, &c_token).await;
    assert_eq!(count(&db, "SELECT count(*) FROM sign_in_alerts").await, 2);
    assert_eq!(mails(&db, ADA, "unfamiliar_sign_in").await.len(), 2);

    // the owner's session is asked about the newest
    let second = alerts::prompt(&svc, &owner).await.unwrap().expect("the owner is asked");
    assert_ne!(second.id, first);
    assert_eq!((second.device.as_str(), second.ip.as_deref()), ("Firefox 140 on Linux", Some("192.0.2.10")));
    // B is older than alert 2, but is itself alert 1's sign-in: not asked, and cannot answer
    assert_eq!(alerts::prompt(&svc, &b).await.unwrap(), None, "an alerted session is not asked");
    assert_eq!(alerts::prompt(&svc, &c).await.unwrap(), None, "a session is never asked about itself");
    // B signed in a minute ago, so it is recent enough to try "No, secure my account" too
    let r = alerts::confirm(&svc, &b, second.id, &stranger()).await;
    assert!(matches!(r, Err(DomainError::NotFound)), "Yes: {r:?}");
    let r = alerts::secure_account(&svc, &b, second.id, &stranger()).await;
    assert!(matches!(r, Err(DomainError::NotFound)), "No, secure my account: {r:?}");
    // nor can C answer alert 1 (it is younger, and alerted itself)
    let r = alerts::confirm(&svc, &c, first, &madrid).await;
    assert!(matches!(r, Err(DomainError::NotFound)), "C on alert 1: {r:?}");
    // nothing was answered and nothing ended
    assert_eq!(count(&db, "SELECT count(*) FROM sign_in_alerts WHERE acknowledged_at IS NULL").await, 2);
    assert_eq!(count(&db, "SELECT count(*) FROM sessions WHERE revoked_at IS NULL").await, 3);
    assert_eq!(count(&db, "SELECT count(*) FROM security_events WHERE kind IN ('sign_in_confirmed', 'sign_in_reported')").await, 0);

    // the owner says alert 1 was them; alert 2 is still asked about
    alerts::confirm(&svc, &owner, first, &home()).await.unwrap();
    assert_eq!(alerts::prompt(&svc, &owner).await.unwrap().map(|a| a.id), Some(second.id), "still asked about alert 2");
    // and the owner answers it: No, secure my account (the owner signed in two minutes ago)
    assert_eq!(alerts::secure_account(&svc, &owner, second.id, &home()).await.unwrap().ended, 2, "B and C");
    assert_eq!(reported_entry(&db).await, "Reported a sign-in that wasn't you (Firefox 140 on Linux near Madrid, from this page): its session and 1 other session ended");
    assert!(authenticate(&svc, &b_token).await.unwrap().is_none());
    assert!(authenticate(&svc, &c_token).await.unwrap().is_none());
    assert_eq!(alerts::prompt(&svc, &owner).await.unwrap(), None);
    assert_eq!(count(&db, "SELECT count(*) FROM sign_in_alerts WHERE acknowledged_at IS NULL").await, 0);
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn no_secure_my_account_needs_a_recent_sign_in_then_ends_every_other_session(db: PgPool) {
    let svc = services(db.clone());
    let (_, owner) = ada(&svc).await;
    let other = signs_in(&svc, &client("198.51.100.8", FIREFOX_WINDOWS, Some("DE"), "Berlin, Land Berlin, Germany")).await;
    let intruder = signs_in(&svc, &stranger()).await;
    let (_, bob) = sign_up(&svc, "bob@example.test", None, &Password::new(PW), &stranger()).await.unwrap();
    let asked = alerts::prompt(&svc, &me(&svc, &owner.token).await).await.unwrap().expect("the owner is asked");

    svc.clock.advance(Duration::minutes(11));
    let stale = me(&svc, &owner.token).await;
    let r = alerts::secure_account(&svc, &stale, asked.id, &home()).await;
    assert!(matches!(r, Err(DomainError::ReverifyRequired)), "{r:?}");
    assert!(me(&svc, &intruder).await.user_id == stale.user_id, "nothing ended");
    assert_eq!(alerts::prompt(&svc, &stale).await.unwrap().map(|a| a.id), Some(asked.id), "still asked");

    let fresh = reverify::with_password(&svc, &stale, &Password::new(PW), &home()).await.unwrap().token;
    let owner = me(&svc, &fresh).await;
    assert_eq!(alerts::secure_account(&svc, &owner, asked.id, &home()).await.unwrap().ended, 2, "the alerted session and the other one");
    assert!(authenticate(&svc, &intruder).await.unwrap().is_none());
    assert!(authenticate(&svc, &other).await.unwrap().is_none());
    assert_eq!(me(&svc, &fresh).await.session_id, owner.session_id, "this session stays");
    assert!(authenticate(&svc, &bob.token).await.unwrap().is_some(), "another account's sessions are untouched");
    assert_eq!(alerts::prompt(&svc, &owner).await.unwrap(), None);
    let reasons: Vec<String> =
        sqlx::query_scalar("SELECT revoked_reason FROM sessions WHERE revoked_at IS NOT NULL").fetch_all(&db).await.unwrap();
    assert_eq!(reasons, ["reported_not_me", "reported_not_me"]);
}

/// A session the owner ended (from the Sessions list) cannot, with a request it had already
/// sent, answer "No, secure my account" and so sign the owner out: it is refused as signed out,
/// and every session and the question stay as they were.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_session_ended_meanwhile_cannot_answer_no_secure_my_account(db: PgPool) {
    let svc = services(db.clone());
    let (_, owner) = ada(&svc).await;
    let owner = me(&svc, &owner.token).await;
    // a second session from home (familiar: no alert), then a stranger's sign-in (alerted)
    let theirs = me(&svc, &signs_in(&svc, &home()).await).await;
    let intruder = signs_in(&svc, &stranger()).await;
    let asked = alerts::prompt(&svc, &theirs).await.unwrap().expect("the older session is asked");

    sessions::revoke(&svc, &owner, theirs.session_id, &home()).await.unwrap();
    let r = alerts::secure_account(&svc, &theirs, asked.id, &home()).await;
    assert!(matches!(r, Err(DomainError::Unauthenticated)), "{r:?}");
    assert!(authenticate(&svc, &intruder).await.unwrap().is_some(), "nothing ended");
    assert_eq!(count(&db, "SELECT count(*) FROM sessions WHERE revoked_at IS NULL").await, 2, "the owner's and the intruder's");
    assert_eq!(alerts::prompt(&svc, &owner).await.unwrap().map(|a| a.id), Some(asked.id), "still asked");
    assert_eq!(count(&db, "SELECT count(*) FROM security_events WHERE kind = 'sign_in_reported'").await, 0);
}

/// Google linked to Ada's account by `session` (the fake provider is not in the domain tests: see
/// `NOT_MADE_HERE`), as connecting it there does.
async fn google_connected_by(svc: &Services, session: &AuthSession) {
    let link = domain::db::connected_accounts::NewLink {
        user_id: session.user_id,
        provider: Provider::Google,
        issuer: "https://accounts.google.com",
        subject: "110248495921238986420",
        email: Some("ada.lovelace@gmail.com"),
        login: None,
        now: svc.clock.now(),
        used: false,
        added_by: Some(session.session_id),
    };
    domain::db::connected_accounts::insert(&svc.db, &link).await.unwrap();
}

/// The passkey `name` on software authenticator `seed`, added by `session`.
async fn passkey_named(svc: &Services, session: &AuthSession, seed: u8, name: &str) -> testkit::SoftAuthenticator {
    let mut key = testkit::SoftAuthenticator::new(seed, Uuid::parse_str(TEST_AAGUID).unwrap(), ORIGIN);
    let options = passkeys::begin_registration(svc, session).await.unwrap();
    passkeys::finish_registration(svc, session, &key.create(&options), name, &home()).await.unwrap();
    key
}

async fn passkey_sign_in(svc: &Services, key: &mut testkit::SoftAuthenticator, from: &ClientInfo) -> Result<SessionToken, DomainError> {
    let (options, cookie) = passkeys::begin_sign_in(svc, false).unwrap();
    passkeys::finish_sign_in(svc, &cookie, &key.get(&options), from).await.map(|s| s.token)
}

/// The subjects of Ada's security notices after the first `before`, sorted (several queued at one
/// moment come in no particular order).
async fn notice_subjects_after(db: &PgPool, before: usize) -> Vec<String> {
    let mut subjects: Vec<String> = mails(db, ADA, "security_notice").await.into_iter().map(|(subject, _)| subject).collect();
    let mut after = subjects.split_off(before.min(subjects.len()));
    after.sort();
    after
}

/// Someone who got past both steps (a phished code) changes the owner's authenticator app to
/// theirs: the owner's app is gone, so "This wasn't me" cannot give it back, but takes theirs away
/// (the change counts as that session's addition): no app of theirs is left to ask the owner for
/// its code.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn this_wasnt_me_takes_back_an_authenticator_app_the_intruder_changed_to_theirs(db: PgPool) {
    let svc = services(db.clone());
    let (_, owner) = ada(&svc).await;
    enrol(&svc, &me(&svc, &owner.token).await).await;
    svc.clock.advance(Duration::minutes(1));
    let Err(DomainError::SecondStepRequired(pending)) = sign_in(&svc, ADA, &Password::new(PW), &stranger()).await else { panic!("a second step") };
    let owners_secret: Vec<u8> = {
        let row: (String, Vec<u8>, Vec<u8>) = sqlx::query_as("SELECT key_id, nonce, secret_encrypted FROM totp_credentials").fetch_one(&db).await.unwrap();
        let sealed = domain::secret_box::Sealed { key_id: row.0, nonce: row.1, ciphertext: row.2 };
        let user: Uuid = sqlx::query_scalar("SELECT id FROM users").fetch_one(&db).await.unwrap();
        svc.keys.totp.open(&sealed, format!("totp:{user}").as_bytes()).unwrap().to_vec()
    };
    let phished = totp::code_for_step(&owners_secret, totp::step_at(svc.clock.now()));
    let intruder = two_factor::complete_sign_in(&svc, &pending, SecondStep::Authenticator, &phished, &stranger()).await.unwrap();
    let intruder = me(&svc, &intruder.token).await;
    let token = not_me_token(&db).await;
    svc.clock.advance(Duration::minutes(1));
    let e = two_factor::begin_change(&svc, &intruder).await.unwrap();
    let theirs = testkit::base32_decode(&e.manual_key);
    two_factor::finish_change(&svc, &intruder, &totp::code_for_step(&theirs, totp::step_at(svc.clock.now())), None, &stranger()).await.unwrap();
    svc.clock.advance(Duration::minutes(1));

    let done = alerts::report_not_me(&svc, &token, &home()).await.unwrap();
    assert_eq!(done.taken_back, [alerts::TakenBack::Authenticator]);
    assert_eq!(count(&db, "SELECT count(*) FROM totp_credentials").await, 0);
}

async fn passkey_names(db: &PgPool) -> Vec<String> {
    sqlx::query_scalar("SELECT name FROM passkeys ORDER BY created_at").fetch_all(db).await.unwrap()
}

/// Whoever signed in with the password adds their own passkey, turns on an authenticator app and
/// connects their Google account. Without taking those back, their passkey or Google would sign in
/// again after the owner's new password, and their authenticator would ask the owner for their
/// code. "This wasn't me" removes all three (with the backup codes), and nothing the owner added,
/// before or after that sign-in, from an older session.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn this_wasnt_me_takes_back_every_way_to_sign_in_the_intruder_added_and_nothing_of_the_owners(db: PgPool) {
    let svc = services(db.clone());
    let (ada_id, owner) = ada(&svc).await;
    let owner = me(&svc, &owner.token).await;
    passkey_named(&svc, &owner, 31, "Ada's laptop").await;
    svc.clock.advance(Duration::minutes(1));
    let intruder = me(&svc, &signs_in(&svc, &stranger()).await).await;
    let token = not_me_token(&db).await;
    svc.clock.advance(Duration::minutes(1));
    let mut theirs = passkey_named(&svc, &intruder, 32, "Their key").await;
    svc.clock.advance(Duration::minutes(1));
    enrol(&svc, &intruder).await;
    svc.clock.advance(Duration::minutes(1));
    google_connected_by(&svc, &intruder).await;
    // the owner, in her own older session, adds a passkey after that sign-in: hers to keep
    svc.clock.advance(Duration::minutes(1));
    let owner = me(&svc, &reverify::with_password(&svc, &owner, &Password::new(PW), &home()).await.unwrap().token).await;
    let mut hers = passkey_named(&svc, &owner, 33, "Ada's phone").await;
    let notices_before = mails(&db, ADA, "security_notice").await.len();
    svc.clock.advance(Duration::minutes(1));

    let done = alerts::report_not_me(&svc, &token, &home()).await.unwrap();
    use alerts::TakenBack;
    assert_eq!(done.taken_back, [TakenBack::Passkey("Their key".into()), TakenBack::Authenticator, TakenBack::Provider(Provider::Google)]);
    assert_eq!(passkey_names(&db).await, ["Ada's laptop", "Ada's phone"]);
    assert_eq!(count(&db, "SELECT count(*) FROM connected_accounts").await, 0);
    assert_eq!(count(&db, "SELECT count(*) FROM totp_credentials").await, 0);
    assert_eq!(count(&db, "SELECT count(*) FROM backup_codes").await, 0, "the intruder's backup codes went with their app");
    // their passkey no longer signs in; hers does; the password asks for no code of theirs
    let r = passkey_sign_in(&svc, &mut theirs, &stranger()).await;
    assert!(matches!(r, Err(DomainError::Invalid(Invalid::PasskeyNotRegistered))), "{r:?}");
    passkey_sign_in(&svc, &mut hers, &home()).await.unwrap();
    let reset = mails(&db, ADA, "password_reset").await.pop().expect("the report's reset link");
    let link = LinkToken::from_cookie(testkit::link_token(&reset.1, email_links::RESET_PATH).unwrap());
    email_links::reset_password(&svc, &link, &Password::new(NEW_PW), &home()).await.unwrap();
    let signed_in = sign_in(&svc, ADA, &Password::new(NEW_PW), &home()).await;
    assert!(signed_in.is_ok(), "no second step: {:?}", signed_in.err());
    // each removal is in the account's activity, by no session, with its notice as when removed
    // by hand
    let removed: Vec<(String, Option<String>, Option<Uuid>)> = sqlx::query_as(
        "SELECT kind, detail, session_id FROM security_events
         WHERE user_id = $1 AND kind IN ('passkey_removed', 'totp_disabled', 'provider_disconnected') ORDER BY kind",
    )
    .bind(ada_id.0)
    .fetch_all(&db)
    .await
    .unwrap();
    assert_eq!(
        removed,
        [
            ("passkey_removed".into(), Some("Their key".into()), None),
            ("provider_disconnected".into(), Some("Google".into()), None),
            ("totp_disabled".into(), None, None),
        ]
    );
    assert_eq!(
        notice_subjects_after(&db, notices_before).await,
        [
            "A passkey was removed from your Gatehouse account",
            "Google was disconnected from your Gatehouse account",
            "Two-step verification was turned off for your Gatehouse account",
        ]
    );
    // each says the report did it (it read like an attack of its own: "If you did not do this …")
    let notices = mails(&db, ADA, "security_notice").await;
    for (subject, text) in &notices[notices_before..] {
        assert!(text.contains("A report of a sign-in that wasn't you removed it"), "{subject}: {text}");
        // nor does it tell the owner to do what the report did (the password is off already)
        assert!(text.contains("this was part of securing your account, and there is nothing more to do for it"), "{subject}: {text}");
        assert!(!text.contains("If you did not do this"), "{subject}: {text}");
    }
}

/// Ada with two passkeys of her own: "Ada's laptop" and "Ada's phone".
async fn ada_with_laptop_and_phone_passkeys(svc: &Services) -> (testkit::SoftAuthenticator, testkit::SoftAuthenticator) {
    let (_, owner) = ada(svc).await;
    let owner = me(svc, &owner.token).await;
    let laptop = passkey_named(svc, &owner, 41, "Ada's laptop").await;
    let phone = passkey_named(svc, &owner, 42, "Ada's phone").await;
    (laptop, phone)
}

/// Whoever signed in with one of the owner's own passkeys (a synced passkey in their hands) would
/// sign in with it again after the owner's new password: "This wasn't me" removes the passkey the
/// reported sign-in got in with (said apart from what it added), and none of her others.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn this_wasnt_me_removes_the_owners_passkey_the_reported_sign_in_got_in_with_and_no_other(db: PgPool) {
    let svc = services(db.clone());
    let (mut laptop, mut phone) = ada_with_laptop_and_phone_passkeys(&svc).await;
    svc.clock.advance(Duration::minutes(1));
    // signed in elsewhere with her phone's passkey: alerted
    let intruder = passkey_sign_in(&svc, &mut phone, &stranger()).await.unwrap();
    let token = not_me_token(&db).await;
    let notices_before = mails(&db, ADA, "security_notice").await.len();
    svc.clock.advance(Duration::minutes(1));

    let done = alerts::report_not_me(&svc, &token, &home()).await.unwrap();
    assert_eq!(done.taken_back, []);
    assert_eq!(done.ways_in, [alerts::TakenBack::Passkey("Ada's phone".into())]);
    assert!(authenticate(&svc, &intruder).await.unwrap().is_none());
    assert_eq!(passkey_names(&db).await, ["Ada's laptop"]);
    let again = passkey_sign_in(&svc, &mut phone, &stranger()).await;
    assert!(matches!(again, Err(DomainError::Invalid(Invalid::PasskeyNotRegistered))), "{again:?}");
    passkey_sign_in(&svc, &mut laptop, &home()).await.unwrap();
    assert_eq!(notice_subjects_after(&db, notices_before).await, ["A passkey was removed from your Gatehouse account"]);
}

/// "No, secure my account" does the same, and the answering session keeps the passkey it signed
/// in with when the reported sign-in used another.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn no_secure_my_account_removes_the_passkey_the_reported_sign_in_got_in_with(db: PgPool) {
    let svc = services(db.clone());
    let (mut laptop, mut phone) = ada_with_laptop_and_phone_passkeys(&svc).await;
    let mine = me(&svc, &passkey_sign_in(&svc, &mut laptop, &home()).await.unwrap()).await;
    svc.clock.advance(Duration::minutes(1));
    passkey_sign_in(&svc, &mut phone, &stranger()).await.unwrap();
    let prompt = alerts::prompt(&svc, &mine).await.unwrap().expect("the owner's session is asked");

    let secured = alerts::secure_account(&svc, &mine, prompt.id, &home()).await.unwrap();
    assert_eq!((secured.taken_back.as_slice(), secured.ways_in.as_slice()), (&[][..], &[alerts::TakenBack::Passkey("Ada's phone".into())][..]));
    assert_eq!(passkey_names(&db).await, ["Ada's laptop"]);
    assert_eq!(me(&svc, &passkey_sign_in(&svc, &mut laptop, &home()).await.unwrap()).await.user_id, mine.user_id);
}

/// "No, secure my account" about a sign-in marked as Google's (the fake provider is not in the
/// domain tests), Google having been connected before it, and connected again by the owner's own
/// session after it when `reconnected`. Answers what the report took back as the way in, and how
/// many connections are left.
async fn secured_after_a_google_sign_in(db: &PgPool, reconnected: bool) -> (Vec<alerts::TakenBack>, i64) {
    let svc = services(db.clone());
    let (_, owner) = ada(&svc).await;
    let mine = me(&svc, &owner.token).await;
    google_connected_by(&svc, &mine).await;
    svc.clock.advance(Duration::minutes(1));
    let intruder = me(&svc, &signs_in(&svc, &stranger()).await).await;
    sqlx::query("UPDATE sessions SET auth_method = 'google' WHERE id = $1").bind(intruder.session_id.0).execute(db).await.unwrap();
    svc.clock.advance(Duration::minutes(1));
    if reconnected {
        // (her Google secured, she connects it again)
        sqlx::query("DELETE FROM connected_accounts").execute(db).await.unwrap();
        google_connected_by(&svc, &mine).await;
    }
    let mine = me(&svc, &reverify::with_password(&svc, &mine, &Password::new(PW), &home()).await.unwrap().token).await;
    let prompt = alerts::prompt(&svc, &mine).await.unwrap().expect("the owner's session is asked");
    let secured = alerts::secure_account(&svc, &mine, prompt.id, &home()).await.unwrap();
    (secured.ways_in, count(db, "SELECT count(*) FROM connected_accounts").await)
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_report_disconnects_the_provider_a_sign_in_got_in_with(db: PgPool) {
    assert_eq!(secured_after_a_google_sign_in(&db, false).await, (vec![alerts::TakenBack::Provider(Provider::Google)], 0));
    // Recent security activity names the Google account that no longer signs in
    let said: Vec<String> = sqlx::query_scalar("SELECT identity FROM security_events WHERE kind = 'provider_disconnected'").fetch_all(&db).await.unwrap();
    assert_eq!(said, ["ada.lovelace@gmail.com"]);
    // and so does its notice email
    let (subject, text) = mails(&db, ADA, "security_notice").await.pop().unwrap();
    assert_eq!(subject, "Google was disconnected from your Gatehouse account");
    assert!(text.contains("Signing in with the Google account ada[.]lovelace[@]gmail[.]com no longer works."), "{text}");
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_report_keeps_a_provider_the_owner_connected_again_after_that_sign_in(db: PgPool) {
    assert_eq!(secured_after_a_google_sign_in(&db, true).await, (vec![], 1));
}

/// Whoever signed in unfamiliarly twice (two alerts) is one intruder: "This wasn't me" about the
/// second sign-in also ends the first one's session and takes back what it added, and answers
/// its alert. (It used to end only the second sign-in's session and the ones after it.)
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn this_wasnt_me_about_the_second_of_two_alerts_covers_the_first_one_too(db: PgPool) {
    let svc = services(db.clone());
    let (ada_id, owner) = ada(&svc).await;
    svc.clock.advance(Duration::minutes(1));
    let first_token = signs_in(&svc, &stranger()).await;
    let first = me(&svc, &first_token).await;
    passkey_named(&svc, &first, 51, "Their key").await;
    svc.clock.advance(Duration::minutes(1));
    let madrid = client("192.0.2.10", FIREFOX_LINUX, Some("ES"), "Madrid, Madrid, Spain");
    let second = signs_in(&svc, &madrid).await;
    assert_eq!(count(&db, "SELECT count(*) FROM sign_in_alerts").await, 2);
    let token = not_me_token(&db).await; // the newest: the second sign-in's

    let done = alerts::report_not_me(&svc, &token, &home()).await.unwrap();
    assert_eq!(done.taken_back, [alerts::TakenBack::Passkey("Their key".into())]);
    assert!(authenticate(&svc, &second).await.unwrap().is_none());
    assert!(authenticate(&svc, &first_token).await.unwrap().is_none(), "the first sign-in's session ended too");
    assert_eq!(me(&svc, &owner.token).await.user_id, ada_id, "the owner's session lives on");
    assert_eq!(count(&db, "SELECT count(*) FROM sign_in_alerts WHERE acknowledged_at IS NULL").await, 0, "both alerts answered");
    // and the first alert's own link is used up: followed later (after the owner's recovery), it
    // would end the sessions and remove the passkeys made since
    let links = mails(&db, ADA, "unfamiliar_sign_in").await;
    let first_link = LinkToken::from_cookie(testkit::link_token(&links[0].1, activity::NOT_ME_PATH).unwrap());
    assert_eq!(link_problem(alerts::report_not_me(&svc, &first_link, &home()).await), LinkProblem::Used);
}

/// "No, secure my account" uses up the alert's emailed "This wasn't me" link: followed later, it
/// would end the sessions the owner signed in with since and turn off the password she chose.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn after_no_secure_my_account_the_alerts_emailed_link_is_used_up(db: PgPool) {
    let svc = services(db.clone());
    let (_, owner) = ada(&svc).await;
    signs_in(&svc, &stranger()).await;
    let link = not_me_token(&db).await;
    let owner = me(&svc, &owner.token).await;
    let asked = alerts::prompt(&svc, &owner).await.unwrap().expect("the owner is asked");
    alerts::secure_account(&svc, &owner, asked.id, &home()).await.unwrap();
    // the owner signs in again on her phone afterwards
    let phone = signs_in(&svc, &client("198.51.100.9", FIREFOX_LINUX, Some("DE"), "Berlin, Land Berlin, Germany")).await;

    assert_eq!(link_problem(alerts::report_not_me(&svc, &link, &home()).await), LinkProblem::Used);
    assert!(authenticate(&svc, &phone).await.unwrap().is_some(), "nothing she did since is undone");
    assert!(accounts::password_status(&svc, &owner).await.unwrap().has_password);
}

/// The same through the page: "No" about the newest of two alerts takes back what the first
/// alert's sign-in added, and neither is asked about again.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn no_secure_my_account_about_the_second_of_two_alerts_covers_the_first_one_too(db: PgPool) {
    let svc = services(db.clone());
    let (_, owner) = ada(&svc).await;
    svc.clock.advance(Duration::minutes(1));
    let first = me(&svc, &signs_in(&svc, &stranger()).await).await;
    passkey_named(&svc, &first, 52, "Their key").await;
    svc.clock.advance(Duration::minutes(1));
    signs_in(&svc, &client("192.0.2.10", FIREFOX_LINUX, Some("ES"), "Madrid, Madrid, Spain")).await;
    let owner = me(&svc, &reverify::with_password(&svc, &me(&svc, &owner.token).await, &Password::new(PW), &home()).await.unwrap().token).await;
    let asked = alerts::prompt(&svc, &owner).await.unwrap().expect("the owner is asked");
    assert_eq!(asked.device, "Firefox 140 on Linux", "about the newest");

    let secured = alerts::secure_account(&svc, &owner, asked.id, &home()).await.unwrap();
    assert_eq!((secured.ended, secured.taken_back), (2, vec![alerts::TakenBack::Passkey("Their key".into())]));
    assert_eq!(alerts::prompt(&svc, &owner).await.unwrap(), None, "the first alert is answered too");
}

/// The session answering "No" may itself be an intruder's, older than the owner's new sign-in it
/// calls not theirs: what that sign-in added goes, the authenticator too even where turning it off
/// by hand is refused (on an Enterprise plan, or with a password too short to be the only factor,
/// the intruder's own sign-in had to set one up, and keeping it would ask the owner for their
/// code), but never silently: every removal emails its notice.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn what_no_takes_back_is_always_emailed_to_the_owner_one_notice_each(db: PgPool) {
    let svc = services(db.clone());
    let (_, theirs) = ada(&svc).await;
    svc.clock.advance(Duration::minutes(1));
    // the owner signs in on a new laptop (alerted), adds a passkey and turns on an authenticator
    let laptop = me(&svc, &signs_in(&svc, &stranger()).await).await;
    passkey_named(&svc, &laptop, 53, "Ada's new laptop").await;
    enrol(&svc, &laptop).await;
    sqlx::query("UPDATE users SET password_single_factor_ok = false").execute(&db).await.unwrap();
    let notices_before = mails(&db, ADA, "security_notice").await.len();
    let theirs = me(&svc, &reverify::with_password(&svc, &me(&svc, &theirs.token).await, &Password::new(PW), &home()).await.unwrap().token).await;
    let asked = alerts::prompt(&svc, &theirs).await.unwrap().expect("the older session is asked");
    svc.clock.advance(Duration::minutes(1));

    let secured = alerts::secure_account(&svc, &theirs, asked.id, &home()).await.unwrap();
    assert_eq!(secured.taken_back, [alerts::TakenBack::Authenticator, alerts::TakenBack::Passkey("Ada's new laptop".into())]);
    assert_eq!(count(&db, "SELECT count(*) FROM totp_credentials").await, 0);
    assert_eq!(notice_subjects_after(&db, notices_before).await, ["A passkey was removed from your Gatehouse account", "Two-step verification was turned off for your Gatehouse account"]);
}

/// "No, secure my account" takes back what the asked-about sign-in and every later one added, and
/// never what the answering session added, even after that sign-in.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn no_secure_my_account_takes_back_what_that_sign_in_and_later_ones_added_but_not_this_sessions(db: PgPool) {
    let svc = services(db.clone());
    let (_, owner) = ada(&svc).await;
    svc.clock.advance(Duration::minutes(1));
    let first = sign_in(&svc, ADA, &Password::new(PW), &stranger()).await.unwrap();
    let intruder = me(&svc, &first.token).await;
    svc.clock.advance(Duration::minutes(1));
    // a later session of the intruder (their browser has the device cookie now: no second alert)
    let later = me(&svc, &signs_in(&svc, &ClientInfo { device: Some(first.device.clone()), ..stranger() }).await).await;
    passkey_named(&svc, &intruder, 41, "Their key").await;
    svc.clock.advance(Duration::minutes(1));
    google_connected_by(&svc, &later).await;
    svc.clock.advance(Duration::minutes(1));
    let owner = me(&svc, &reverify::with_password(&svc, &me(&svc, &owner.token).await, &Password::new(PW), &home()).await.unwrap().token).await;
    passkey_named(&svc, &owner, 42, "Ada's phone").await;
    enrol(&svc, &owner).await;
    let asked = alerts::prompt(&svc, &owner).await.unwrap().expect("the owner is asked");
    assert_eq!(asked.at, intruder_signed_in_at(&db, &intruder).await);

    let secured = alerts::secure_account(&svc, &owner, asked.id, &home()).await.unwrap();
    assert_eq!(secured.ended, 2);
    use alerts::TakenBack;
    assert_eq!(secured.taken_back, [TakenBack::Passkey("Their key".into()), TakenBack::Provider(Provider::Google)]);
    assert_eq!(passkey_names(&db).await, ["Ada's phone"]);
    assert_eq!(count(&db, "SELECT count(*) FROM totp_credentials").await, 1, "the owner's own authenticator stays");
    assert_eq!(count(&db, "SELECT count(*) FROM backup_codes").await, 10, "and its backup codes");
    let by: Vec<Option<Uuid>> = sqlx::query_scalar("SELECT session_id FROM security_events WHERE kind IN ('passkey_removed', 'provider_disconnected')")
        .fetch_all(&db)
        .await
        .unwrap();
    assert_eq!(by, [Some(owner.session_id.0), Some(owner.session_id.0)], "removed by the answering session");
}

async fn intruder_signed_in_at(db: &PgPool, intruder: &AuthSession) -> OffsetDateTime {
    sqlx::query_scalar("SELECT created_at FROM sessions WHERE id = $1").bind(intruder.session_id.0).fetch_one(db).await.unwrap()
}

// ------------------------------------------------------------------------------------------
// Notices of credential changes
// ------------------------------------------------------------------------------------------

/// Every credential change that emails a notice, with the notice's subject.
const NOTICES: &[(EventKind, &str)] = &[
    (EventKind::PasswordChanged, "Your Gatehouse password was changed"),
    (EventKind::PasswordSet, "A password was set on your Gatehouse account"),
    (EventKind::TotpEnabled, "Two-step verification was turned on for your Gatehouse account"),
    (EventKind::TotpChanged, "The authenticator app of your Gatehouse account was changed"),
    (EventKind::BackupCodesGenerated, "New backup codes were made for your Gatehouse account"),
    (EventKind::TotpDisabled, "Two-step verification was turned off for your Gatehouse account"),
    (EventKind::BackupCodeUsed, "A backup code was used to sign in to your Gatehouse account"),
    (EventKind::PasskeyAdded, "A passkey was added to your Gatehouse account"),
    (EventKind::PasskeyRemoved, "A passkey was removed from your Gatehouse account"),
    (EventKind::ProviderDisconnected, "Google was disconnected from your Gatehouse account"),
    (EventKind::OtherSessionsRevoked, "Your other Gatehouse sessions were signed out"),
    (EventKind::SignedOutEverywhere, "Your Gatehouse account was signed out everywhere"),
];

/// Whoever got in chose the new passkey's name: the notice to the owner says it, but nothing in it
/// that a mail client would make a link of (a way to put a phishing link in a genuine email).
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_notice_says_a_chosen_name_without_a_link_in_it(db: PgPool) {
    let svc = services(db.clone());
    let (_, owner) = ada(&svc).await;
    passkey_named(&svc, &me(&svc, &owner.token).await, 63, "Reset at https://evil.example/reset").await;
    let (_, text) = mails(&db, ADA, "security_notice").await.pop().unwrap();
    assert!(text.contains("The passkey “Reset at https[:]//evil[.]example/reset” can now sign in"), "{text}");
    assert!(!text.contains("evil.example"), "{text}");
}

/// A disconnection's notice names the account at the provider, as the connection's does: an owner
/// with two Google accounts knows which one no longer signs in.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_disconnection_notice_names_the_providers_account(db: PgPool) {
    let svc = services(db.clone());
    make_change(&svc, EventKind::ProviderDisconnected, "grace@example.test").await;
    let (subject, text) = mails(&db, "grace@example.test", "security_notice").await.pop().unwrap();
    assert_eq!(subject, "Google was disconnected from your Gatehouse account");
    assert!(text.contains("Signing in with the Google account grace[@]example[.]test no longer works."), "{text}");
    // and so does Recent security activity, when the card no longer shows it
    let later = sign_in(&svc, "grace@example.test", &Password::new(PW), &home()).await.unwrap();
    let page = activity::list(&svc, &me(&svc, &later.token).await, None, None).await.unwrap();
    let said: Vec<&str> = page.events.iter().filter(|e| e.kind == EventKind::ProviderDisconnected).map(|e| e.sentence.as_str()).collect();
    assert_eq!(said, ["Disconnected Google (grace@example.test)"]);
}

/// Notices not made here: connecting Google or GitHub finishes only with the provider's answer
/// (the fake provider is testkit's `idp` feature, which the domain tests do not enable;
/// server/tests/providers.rs connects through it); a copied passkey refused needs two instances,
/// one remembering the key from before the copy was made (tests/passkeys.rs reads its notice).
const NOT_MADE_HERE: &[EventKind] = &[EventKind::ProviderConnected, EventKind::PasskeyCopyRefused];

async fn enrol(svc: &Services, session: &AuthSession) -> Vec<String> {
    let e = two_factor::begin_enrolment(svc, session).await.unwrap();
    let code = totp::code_for_step(&testkit::base32_decode(&e.manual_key), totp::step_at(svc.clock.now()));
    two_factor::finish_enrolment(svc, session, &code, None, &home()).await.unwrap().codes
}

/// Software authenticator `seed`, with its passkey "Work laptop" added to `session`'s account at home.
async fn registered(svc: &Services, session: &AuthSession, seed: u8) -> (testkit::SoftAuthenticator, passkeys::PasskeySummary) {
    let mut key = testkit::SoftAuthenticator::new(seed, Uuid::parse_str(TEST_AAGUID).unwrap(), ORIGIN);
    let options = passkeys::begin_registration(svc, session).await.unwrap();
    let added = passkeys::finish_registration(svc, session, &key.create(&options), "Work laptop", &home()).await.unwrap();
    (key, added)
}

async fn add_passkey(svc: &Services, session: &AuthSession) -> passkeys::PasskeySummary {
    // a new authenticator each time (one credential belongs to one account, ever)
    static SEED: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(1);
    let seed = SEED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    registered(svc, session, seed).await.1
}

/// A fresh account `email` gets what `kind`'s change needs, then makes that change (at home).
/// Answers the account and how many notices it had been sent just before the change.
async fn make_change(svc: &Services, kind: EventKind, email: &str) -> (UserId, usize) {
    use EventKind::*;
    let (user_id, signed_in) = sign_up(svc, email, None, &Password::new(PW), &home()).await.unwrap();
    let session = me(svc, &signed_in.token).await;
    let mut codes = Vec::new();
    let mut passkey = None;
    match kind {
        BackupCodesGenerated | TotpDisabled | BackupCodeUsed | TotpChanged => codes = enrol(svc, &session).await,
        PasskeyRemoved => passkey = Some(add_passkey(svc, &session).await.id),
        // a second session, on another device at home
        OtherSessionsRevoked => {
            sign_in(svc, email, &Password::new(PW), &home()).await.unwrap();
        }
        // an account without a password (as a passkey or provider sign-up makes)
        PasswordSet => {
            sqlx::query("UPDATE users SET password_hash = NULL WHERE id = $1").bind(user_id.0).execute(&svc.db).await.unwrap();
        }
        ProviderDisconnected => {
            let link = domain::db::connected_accounts::NewLink {
                user_id,
                provider: Provider::Google,
                issuer: "https://accounts.google.com",
                subject: "110248495921238986420",
                email: Some(email),
                login: None,
                now: svc.clock.now(),
                used: false,
                added_by: Some(session.session_id),
            };
            domain::db::connected_accounts::insert(&svc.db, &link).await.unwrap();
        }
        _ => {}
    }
    // a minute later (so its notice is the newest), as the next request sees the session
    svc.clock.advance(Duration::minutes(1));
    let session = me(svc, &signed_in.token).await;
    let before = mails(&svc.db, email, "security_notice").await.len();
    let pw = Password::new(PW);
    match kind {
        PasswordChanged => {
            accounts::change_password(svc, &session, &pw, &Password::new(NEW_PW), &home()).await.unwrap();
        }
        PasswordSet => {
            accounts::set_password(svc, &session, &Password::new(NEW_PW), &home()).await.unwrap();
        }
        TotpEnabled => {
            enrol(svc, &session).await;
        }
        TotpChanged => {
            let e = two_factor::begin_change(svc, &session).await.unwrap();
            let code = totp::code_for_step(&testkit::base32_decode(&e.manual_key), totp::step_at(svc.clock.now()));
            two_factor::finish_change(svc, &session, &code, None, &home()).await.unwrap();
        }
        BackupCodesGenerated => {
            two_factor::regenerate_backup_codes(svc, &session, &home()).await.unwrap();
        }
        TotpDisabled => two_factor::disable(svc, &session, &home()).await.unwrap(),
        BackupCodeUsed => {
            let Err(DomainError::SecondStepRequired(pending)) = sign_in(svc, email, &pw, &home()).await else {
                panic!("a second step")
            };
            two_factor::complete_sign_in(svc, &pending, SecondStep::BackupCode, &codes[0], &home()).await.unwrap();
        }
        PasskeyAdded => {
            add_passkey(svc, &session).await;
        }
        PasskeyRemoved => {
            passkeys::remove(svc, &session, passkey.unwrap(), false, &home()).await.unwrap();
        }
        ProviderDisconnected => {
            connected_accounts::disconnect(svc, &session, Provider::Google, false, &home()).await.unwrap();
        }
        SignedOutEverywhere => {
            sessions::sign_out_everywhere(svc, &session, &home()).await.unwrap();
        }
        OtherSessionsRevoked => {
            assert_eq!(sessions::revoke_others(svc, &session, &home()).await.unwrap(), 1);
        }
        other => panic!("no change makes {other} here"),
    }
    (user_id, before)
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn every_credential_change_emails_exactly_one_security_notice(db: PgPool) {
    let svc = services(db.clone());
    for &(kind, subject) in NOTICES {
        let email = format!("{}@example.test", kind.as_str().replace('_', "-"));
        let (user_id, before) = make_change(&svc, kind, &email).await;
        let notices = mails(&db, &email, "security_notice").await;
        assert_eq!(notices.len(), before + 1, "{kind}: exactly one notice");
        let (got, text) = notices.last().unwrap();
        assert_eq!(got, subject, "{kind}");
        assert!(text.starts_with(subject), "{kind}: the headline opens the text");
        assert!(text.contains("Approximate location: Berlin, Land Berlin, Germany (IP address 198.51.100.7)"), "{kind}: {text}");
        assert!(text.contains("Device: Firefox 140 on Windows 10"), "{kind}: {text}");
        // what to do if it was not the reader: a reset, except after an authenticator app was
        // turned on, which a reset would leave in place (it would ask the owner for its codes)
        let (reset, app) = ("If you did not do this, reset your password right away", "a password reset would not remove their app");
        if matches!(kind, EventKind::TotpEnabled | EventKind::TotpChanged) {
            assert!(text.contains(app) && !text.contains(reset), "{kind}: {text}");
            assert!(text.contains("change the authenticator app to your own (or turn two-step verification off), then change your password"), "{kind}: {text}");
        } else {
            assert!(text.contains(reset) && !text.contains(app), "{kind}: {text}");
        }
        let events: i64 = sqlx::query_scalar("SELECT count(*) FROM security_events WHERE user_id = $1 AND kind = $2")
            .bind(user_id.0)
            .bind(kind.as_str())
            .fetch_one(&db)
            .await
            .unwrap();
        assert_eq!(events, 1, "{kind}: its event");
        assert!(mails(&db, &email, "unfamiliar_sign_in").await.is_empty(), "{kind}: at home, no alert");
    }
    let passkey_text = &mails(&db, "passkey-added@example.test", "security_notice").await[0].1;
    assert!(passkey_text.contains("The passkey “Work laptop” can now sign in to your account."), "{passkey_text}");
    // every kind that sends a notice is in the table, or said above why not
    for kind in EventKind::ALL.iter().filter(|k| k.sends_notice()) {
        assert!(NOTICES.iter().any(|(k, _)| k == kind) ^ NOT_MADE_HERE.contains(kind), "{kind}");
    }
    assert!(NOTICES.iter().map(|(k, _)| k).chain(NOT_MADE_HERE).all(|k| k.sends_notice()));
}

// ------------------------------------------------------------------------------------------
// The activity list
// ------------------------------------------------------------------------------------------

const KINDS: [EventKind; 5] =
    [EventKind::SignedIn, EventKind::SignInFailed, EventKind::PasswordChanged, EventKind::SignedOut, EventKind::SignInAlertSent];

/// Appends `n` events for `user`, three at each minute after `from` (ties broken by id), of kinds in turn.
async fn history(svc: &Services, user: UserId, from: OffsetDateTime, n: usize) {
    for i in 0..n {
        let event = NewEvent::new(user, None, KINDS[i % KINDS.len()]);
        domain::db::events::insert(&svc.db, &event, &home(), from + Duration::minutes((i / 3) as i64)).await.unwrap();
    }
}

/// An account's event ids as the list must show them (newest first, ties by id), with a further
/// condition (`$2`, `$3`: the bound cursor, if any).
async fn ids_of(db: &PgPool, user: UserId, extra: &str) -> Vec<Uuid> {
    ids_before(db, user, extra, None).await
}

async fn ids_before(db: &PgPool, user: UserId, extra: &str, cursor: Option<(OffsetDateTime, Uuid)>) -> Vec<Uuid> {
    let (at, id) = cursor.unzip();
    sqlx::query_scalar(&format!(
        "SELECT id FROM security_events WHERE user_id = $1 {extra}
           AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3::uuid))
         ORDER BY created_at DESC, id DESC"
    ))
    .bind(user.0)
    .bind(at)
    .bind(id)
    .fetch_all(db)
    .await
    .unwrap()
}

/// Ada (45 events) and Bob (12, at the same moments), and Ada's session half an hour later.
async fn two_histories(svc: &Services) -> (AuthSession, UserId, UserId) {
    let start = svc.clock.now();
    let (ada_id, owner) = ada(svc).await; // account_created and signed_in
    let (bob_id, _) = sign_up(svc, "bob@example.test", None, &Password::new(PW), &home()).await.unwrap();
    history(svc, ada_id, start + Duration::minutes(1), 43).await;
    history(svc, bob_id, start + Duration::minutes(1), 10).await;
    let session = me(svc, &owner.token).await;
    svc.clock.advance(Duration::minutes(30));
    (session, ada_id, bob_id)
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn the_activity_list_pages_newest_first_without_gaps_or_repeats_and_export_is_every_page(db: PgPool) {
    let svc = services(db.clone());
    let (session, ada_id, _) = two_histories(&svc).await;
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = activity::list(&svc, &session, None, cursor.as_deref()).await.unwrap();
        pages.push(page.events);
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
        assert!(pages.len() < 10, "the pages end");
    }
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [20, 20, 5]);
    let all: Vec<activity::Activity> = pages.concat();
    assert_eq!(all.iter().map(|a| a.id).collect::<Vec<_>>(), ids_of(&db, ada_id, "").await, "every event once, in order");
    assert!(all.windows(2).all(|w| (w[0].at, w[0].id) > (w[1].at, w[1].id)));
    assert!(all.windows(2).any(|w| w[0].at == w[1].at), "ties were there to break");
    let first = &all[0];
    assert_eq!((first.device.as_str(), first.location.as_deref().unwrap_or(""), first.ip.as_deref()), ("Firefox 140 on Windows 10", "Berlin, Land Berlin, Germany", Some("198.51.100.7")));
    assert_eq!(activity::export(&svc, &session, None).await.unwrap(), all, "the download is every page");
}

/// The events of one transaction share its instant; the list shows them newest first in the order
/// they were recorded: a sign-up's sign-in above the account's creation, every time.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn events_of_one_instant_are_listed_in_the_order_they_happened(db: PgPool) {
    let svc = services(db.clone());
    for n in 0..8 {
        let email = format!("ada{n}@example.test");
        let (_, signed_up) = sign_up(&svc, &email, None, &Password::new(PW), &home()).await.unwrap();
        let page = activity::list(&svc, &me(&svc, &signed_up.token).await, None, None).await.unwrap();
        let kinds: Vec<EventKind> = page.events.iter().map(|a| a.kind).collect();
        assert_eq!(kinds, [EventKind::SignedIn, EventKind::AccountCreated], "sign-up {n}");
        assert_eq!(page.events[0].at, page.events[1].at, "one instant");
    }
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn the_activity_list_shows_only_the_signed_in_accounts_events_whatever_the_cursor(db: PgPool) {
    let svc = services(db.clone());
    let (session, ada_id, bob_id) = two_histories(&svc).await;
    let bobs = ids_of(&db, bob_id, "").await;
    let adas = ids_of(&db, ada_id, "").await;
    let page = activity::list(&svc, &session, None, None).await.unwrap();
    assert!(page.events.iter().all(|a| adas.contains(&a.id)));
    // a cursor made from each of Bob's events: still only Ada's events, those older than it
    for bob_event in &bobs {
        let (at,): (OffsetDateTime,) =
            sqlx::query_as("SELECT created_at FROM security_events WHERE id = $1").bind(bob_event).fetch_one(&db).await.unwrap();
        let cursor = format!("{}_{}", at.unix_timestamp_nanos(), bob_event);
        let page = activity::list(&svc, &session, None, Some(&cursor)).await.unwrap();
        assert!(page.events.iter().all(|a| adas.contains(&a.id) && (a.at, a.id) < (at, *bob_event)), "only Ada's, older than the cursor");
        let older = ids_before(&db, ada_id, "", Some((at, *bob_event))).await;
        assert_eq!(page.events.iter().map(|a| a.id).collect::<Vec<_>>(), older[..older.len().min(20)]);
    }
    for export in [activity::export(&svc, &session, None).await.unwrap(), activity::export(&svc, &session, Some(ActivityFilter::SignIns)).await.unwrap()] {
        assert!(export.iter().all(|a| adas.contains(&a.id)));
    }
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_filter_shows_only_its_groups_kinds_and_a_made_up_cursor_is_refused(db: PgPool) {
    let svc = services(db.clone());
    let (session, ada_id, _) = two_histories(&svc).await;
    for &filter in ActivityFilter::ALL {
        let kinds: Vec<String> = filter.kinds().iter().map(|k| format!("'{k}'")).collect();
        let expected = ids_of(&db, ada_id, &format!("AND kind IN ({})", kinds.join(", "))).await;
        assert!(!expected.is_empty(), "{filter}: something to show");
        let page = activity::list(&svc, &session, Some(filter), None).await.unwrap();
        assert!(page.events.iter().all(|a| a.kind.filter() == filter), "{filter}");
        assert_eq!(page.events.iter().map(|a| a.id).collect::<Vec<_>>(), expected[..expected.len().min(20)], "{filter}");
        assert_eq!(page.next.is_some(), expected.len() > 20, "{filter}");
        let export = activity::export(&svc, &session, Some(filter)).await.unwrap();
        assert_eq!(export.iter().map(|a| a.id).collect::<Vec<_>>(), expected, "{filter}");
    }
    for garbage in ["garbage", "", "123_not-a-uuid", "12_00000000-0000-0000-0000-000000000000_x", "1e99_00000000-0000-0000-0000-000000000000",
        // a time the time crate holds and Postgres does not (about 7500 BC: it answered 500)
        "-300000000000000000000_00000000-0000-0000-0000-000000000000",
        "-1_00000000-0000-0000-0000-000000000000",
    ] {
        let r = activity::list(&svc, &session, None, Some(garbage)).await;
        assert!(matches!(r, Err(DomainError::Invalid(Invalid::ActivityCursor))), "{garbage:?}: {r:?}");
    }
}

// ------------------------------------------------------------------------------------------
// Retention and the append-only rule
// ------------------------------------------------------------------------------------------

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn the_retention_task_deletes_events_older_than_90_days_and_nothing_younger(db: PgPool) {
    let svc = services(db.clone());
    let (ada_id, _) = ada(&svc).await;
    let now = svc.clock.now();
    let aged = |days: i64, minutes: i64| now - Duration::days(days) - Duration::minutes(minutes);
    for at in [aged(91, 0), aged(90, 1), aged(89, 0), aged(89, 23 * 60 + 59)] {
        domain::db::events::insert(&db, &NewEvent::new(ada_id, None, EventKind::SignedIn), &home(), at).await.unwrap();
    }
    assert_eq!(activity::prune(&svc).await.unwrap(), 2);
    let left: Vec<OffsetDateTime> = sqlx::query_scalar("SELECT created_at FROM security_events ORDER BY created_at").fetch_all(&db).await.unwrap();
    assert_eq!(left, [aged(89, 23 * 60 + 59), aged(89, 0), now, now]);
    assert_eq!(activity::prune(&svc).await.unwrap(), 0);
}

/// Sign-in alerts go with the events of their time (they were never deleted: every page load's
/// "an unanswered alert for this session?" read a table that only grew).
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn the_retention_task_deletes_sign_in_alerts_older_than_90_days_too(db: PgPool) {
    let svc = services(db.clone());
    let (ada_id, _) = ada(&svc).await;
    let now = svc.clock.now();
    for days in [91, 89] {
        let at = now - Duration::days(days);
        sqlx::query("INSERT INTO sign_in_alerts (id, user_id, event_id, session_id, device_key, created_at, expires_at) VALUES ($1, $2, $3, $4, 'Chrome|Windows', $5, $6)")
            .bind(uuid::Uuid::new_v4())
            .bind(ada_id.0)
            .bind(uuid::Uuid::new_v4())
            .bind(uuid::Uuid::new_v4())
            .bind(at)
            .bind(at + Duration::hours(72))
            .execute(&db)
            .await
            .unwrap();
    }
    activity::prune(&svc).await.unwrap();
    let left: Vec<OffsetDateTime> = sqlx::query_scalar("SELECT created_at FROM sign_in_alerts").fetch_all(&db).await.unwrap();
    assert_eq!(left, [now - Duration::days(89)]);
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn events_cannot_be_changed_or_deleted_outside_the_retention_task(db: PgPool) {
    let svc = services(db.clone());
    ada(&svc).await;
    for sql in [
        "DELETE FROM security_events",
        "DELETE FROM security_events WHERE kind = 'signed_in'",
        "UPDATE security_events SET kind = 'x'",
        "UPDATE security_events SET ip = NULL WHERE kind = 'signed_in'",
        "TRUNCATE security_events",
        "TRUNCATE security_events CASCADE",
    ] {
        let e = sqlx::query(sql).execute(&db).await.expect_err(sql);
        let code = e.as_database_error().and_then(|d| d.code()).map(|c| c.to_string());
        assert_eq!(code.as_deref(), Some("42501"), "{sql}: {e}");
    }
    // the retention task's setting lets it delete rows, never empty the table
    let mut tx = db.begin().await.unwrap();
    sqlx::query("SET LOCAL gatehouse.pruning_events = 'on'").execute(&mut *tx).await.unwrap();
    let e = sqlx::query("TRUNCATE security_events").execute(&mut *tx).await.expect_err("TRUNCATE while pruning");
    let code = e.as_database_error().and_then(|d| d.code()).map(|c| c.to_string());
    assert_eq!(code.as_deref(), Some("42501"), "TRUNCATE while pruning: {e}");
    tx.rollback().await.unwrap();
    let kinds: Vec<String> = sqlx::query_scalar("SELECT kind FROM security_events ORDER BY kind").fetch_all(&db).await.unwrap();
    assert_eq!(kinds, ["account_created", "signed_in"], "unchanged");
    // the retention task's setting lasts only its own transaction
    let _ = activity::prune(&svc).await.unwrap();
    assert!(sqlx::query("DELETE FROM security_events").execute(&db).await.is_err());
}

/// The activity says which session a Revoke ended and what confirmed it's you: "Ended another
/// session" and a bare "Confirmed it's you" left the owner to guess which, and how.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn revoke_and_confirm_its_you_name_the_session_ended_and_what_confirmed_it(db: PgPool) {
    let svc = services(db.clone());
    let (_, owner) = ada(&svc).await;
    let phone = signs_in(&svc, &client("198.51.100.8", SAFARI_IPHONE, Some("DE"), "Berlin, Land Berlin, Germany")).await;
    let owner = me(&svc, &owner.token).await;
    svc.clock.advance(Duration::minutes(1));
    sessions::revoke(&svc, &owner, me(&svc, &phone).await.session_id, &home()).await.unwrap();
    svc.clock.advance(Duration::minutes(1));
    let fresh = reverify::with_password(&svc, &owner, &Password::new(PW), &home()).await.unwrap().token;
    let page = activity::list(&svc, &me(&svc, &fresh).await, None, None).await.unwrap();
    let newest: Vec<&str> = page.events.iter().take(2).map(|a| a.sentence.as_str()).collect();
    assert_eq!(newest, ["Confirmed it's you with your password", "Ended the Safari 17 on iPhone session"]);
}
