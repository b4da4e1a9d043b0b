//! Issue #14: sign in, sign up, connect, re-verify and disconnect with Google (OpenID Connect) and
//! GitHub (OAuth 2), through the whole router, against an in-process provider that signs real ID
//! tokens (`testkit::idp`) and can be told to misbehave.
use axum::body::Body;
use axum::Router;
use http::{header, Request, Response, StatusCode};
use server::{router, AppState, Config};
use sqlx::PgPool;
use testkit::idp::{FakeIdp, Person, Tweak};
use testkit::server::{send, CHEAP_HASHING, FROM_SITE_ORIGIN, ORIGIN};
use testkit::PW;

/// The public origin the callbacks are registered under (`[passkeys] origin` of Leptos.toml).
const SITE: &str = "http://localhost:3000";

struct World {
    app: Router,
    idp: FakeIdp,
    db: PgPool,
    svc: domain::Services,
}

async fn world(db: PgPool) -> World {
    world_with(db, &[]).await
}

async fn world_with(db: PgPool, extra: &[(&str, &str)]) -> World {
    let idp = FakeIdp::start().await;
    let (issuer, authorize, token, api) = (idp.google_issuer(), idp.github_authorize_url(), idp.github_token_url(), idp.github_api_url());
    let providers = [
        ("GATEHOUSE_GOOGLE_CLIENT_ID", FakeIdp::CLIENT_ID),
        ("GATEHOUSE_GOOGLE_CLIENT_SECRET", FakeIdp::GOOGLE_SECRET),
        ("GATEHOUSE_GOOGLE_ISSUER", issuer.as_str()),
        ("GATEHOUSE_GITHUB_CLIENT_ID", FakeIdp::CLIENT_ID),
        ("GATEHOUSE_GITHUB_CLIENT_SECRET", FakeIdp::GITHUB_SECRET),
        ("GATEHOUSE_GITHUB_AUTHORIZE_URL", authorize.as_str()),
        ("GATEHOUSE_GITHUB_TOKEN_URL", token.as_str()),
        ("GATEHOUSE_GITHUB_API_URL", api.as_str()),
        // many flows from one test client
        ("GATEHOUSE_LIMITS_PASSKEY_BURST", "1000"),
    ];
    let env = testkit::server::env(&[CHEAP_HASHING, FROM_SITE_ORIGIN, &providers, extra].concat());
    let config = Config::from_toml(include_str!("../../Leptos.toml"), env).unwrap();
    let state = AppState::new(config, db.clone(), domain::clock::Clock::system()).unwrap();
    let svc = state.services.clone();
    World { app: router(state), idp, db, svc }
}

/// The `name=value` pairs of the cookies a response set (cleared ones left out).
fn set_cookies(res: &Response<Body>) -> Vec<String> {
    res.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter(|v| !v.contains("Max-Age=0"))
        .map(|v| v.split(';').next().unwrap().to_string())
        .collect()
}

fn cookie_named(res: &Response<Body>, name: &str) -> Option<String> {
    set_cookies(res).into_iter().find(|c| c.starts_with(&format!("{name}=")))
}

fn location(res: &Response<Body>) -> String {
    res.headers().get(header::LOCATION).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default()
}

async fn post_form(app: &Router, path: &str, form: &[(&str, &str)], cookie: Option<&str>) -> (Response<Body>, String) {
    let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
    let mut b = Request::post(path)
        .header(header::HOST, "gatehouse.test")
        .header(header::ORIGIN, ORIGIN)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(c) = cookie {
        b = b.header(header::COOKIE, c);
    }
    send(app, b.body(Body::from(body)).unwrap()).await
}

async fn get(app: &Router, path: &str, cookie: Option<&str>) -> (Response<Body>, String) {
    let mut b = Request::get(path).header(header::HOST, "gatehouse.test");
    if let Some(c) = cookie {
        b = b.header(header::COOKIE, c);
    }
    send(app, b.body(Body::empty()).unwrap()).await
}

/// A browser: its cookies, kept across requests, and how many seconds each has left (its Max-Age,
/// counted from when it was set: see [`Browser::later`]).
#[derive(Default, Clone)]
struct Browser(Vec<String>, std::collections::HashMap<String, i64>);

impl Browser {
    fn header(&self) -> Option<String> {
        (!self.0.is_empty()).then(|| self.0.join("; "))
    }
    fn keep(&mut self, res: &Response<Body>) {
        for c in res.headers().get_all(header::SET_COOKIE).iter().filter_map(|v| v.to_str().ok()) {
            let pair = c.split(';').next().unwrap();
            let name = pair.split('=').next().unwrap();
            self.0.retain(|k| k.split('=').next() != Some(name));
            if !c.contains("Max-Age=0") {
                self.0.push(pair.to_string());
            }
            let max_age = c.split("; ").find_map(|a| a.strip_prefix("Max-Age=")).and_then(|a| a.parse().ok());
            match max_age {
                Some(left) => self.1.insert(name.to_string(), left),
                None => self.1.remove(name),
            };
        }
    }
    /// `seconds` later: the cookies whose Max-Age ran out meanwhile are gone, as a browser drops them.
    fn later(&mut self, seconds: i64) {
        self.1.values_mut().for_each(|left| *left -= seconds);
        let gone: Vec<String> = self.1.iter().filter(|(_, left)| **left <= 0).map(|(name, _)| name.clone()).collect();
        self.0.retain(|c| !gone.iter().any(|name| c.split('=').next() == Some(name.as_str())));
        self.1.retain(|_, left| *left > 0);
    }
    async fn post(&mut self, app: &Router, path: &str, form: &[(&str, &str)]) -> (Response<Body>, String) {
        let (res, body) = post_form(app, path, form, self.header().as_deref()).await;
        self.keep(&res);
        (res, body)
    }
    async fn get(&mut self, app: &Router, path: &str) -> (Response<Body>, String) {
        let (res, body) = get(app, path, self.header().as_deref()).await;
        self.keep(&res);
        (res, body)
    }
    /// Follows the provider's redirect back to Gatehouse's callback.
    async fn come_back(&mut self, app: &Router, url: &str) -> Response<Body> {
        let path = url.strip_prefix(SITE).unwrap_or_else(|| panic!("the provider sends the browser back to the site: {url}"));
        self.get(app, path).await.0
    }
    fn signed_in(&self) -> bool {
        self.0.iter().any(|c| c.starts_with("__Host-gatehouse-session="))
    }
}

/// "Continue with <provider>" in this browser: answers the provider's authorization URL.
async fn start(w: &World, browser: &mut Browser, provider: &str) -> String {
    let (res, body) = browser.post(&w.app, "/api/auth/provider/start", &[("provider", provider)]).await;
    assert_eq!(res.status(), StatusCode::OK, "{body}");
    let flow = cookie_named(&res, "__Host-gatehouse-flow").or_else(|| browser.0.iter().find(|c| c.starts_with("__Host-gatehouse-flow=")).cloned());
    assert!(flow.is_some(), "the browser holds a flow cookie");
    serde_json::from_str(&body).unwrap()
}

/// "Continue with <provider>" on a sign-in page asked to return to `return_to`.
async fn start_returning_to(w: &World, browser: &mut Browser, provider: &str, return_to: &str) -> String {
    let (res, body) = browser.post(&w.app, "/api/auth/provider/start", &[("provider", provider), ("return_to", return_to)]).await;
    assert_eq!(res.status(), StatusCode::OK, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// "Continue with <provider>" on the sign-up page (asked to return to `return_to`, if given).
async fn start_on_sign_up(w: &World, browser: &mut Browser, provider: &str, return_to: Option<&str>) -> String {
    let mut form = vec![("provider", provider), ("from_sign_up", "true")];
    form.extend(return_to.map(|r| ("return_to", r)));
    let (res, body) = browser.post(&w.app, "/api/auth/provider/start", &form).await;
    assert_eq!(res.status(), StatusCode::OK, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// A full sign-in (or sign-up) with `provider` as `who`; answers the callback's response.
async fn sign_in_as(w: &World, browser: &mut Browser, provider: &str, who: &Person, tweak: Tweak) -> Response<Body> {
    let url = start(w, browser, provider).await;
    let back = w.idp.approve(&url, who, tweak);
    browser.come_back(&w.app, &back).await
}

/// "Connect" `provider` in this signed-in browser, approved at the provider as `who`.
async fn connect(w: &World, browser: &mut Browser, provider: &str, who: &Person, tweak: Tweak) -> Response<Body> {
    let (_, body) = browser.post(&w.app, "/api/security/connected-accounts/connect", &[("provider", provider)]).await;
    let url: String = serde_json::from_str(&body).unwrap();
    browser.come_back(&w.app, &w.idp.approve(&url, who, tweak)).await
}

async fn count(db: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(db).await.unwrap()
}

async fn password_account(w: &World, email: &str) -> Browser {
    let mut b = Browser::default();
    let (res, body) = b.post(&w.app, "/api/auth/sign-up", &[("email", email), ("display_name", "")]).await;
    assert_eq!(res.status(), StatusCode::OK, "{body}");
    let text: String = sqlx::query_scalar(testkit::NEWEST_MAIL_TEXT).bind(email).fetch_one(&w.db).await.unwrap();
    let token = testkit::link_token(&text, "/sign-up/finish").expect("a sign-up link");
    let (res, body) = b.post(&w.app, "/api/auth/sign-up/finish", &[("token", &token), ("password", PW)]).await;
    assert_eq!(res.status(), StatusCode::OK, "{body}");
    b
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_first_google_sign_in_creates_an_account_without_a_password_and_signs_in(db: PgPool) {
    let w = world(db).await;
    let mut browser = Browser::default();
    let grace = Person::new("grace@example.test");
    let res = sign_in_as(&w, &mut browser, "Google", &grace, Tweak::None).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    // (a new account says so: it must not pass for an account the person had)
    assert_eq!(location(&res), "/settings/security?provider=google&provider_outcome=new_account#connected-accounts");
    assert!(browser.signed_in());
    let welcome = location(&res);
    let (_, body) = browser.get(&w.app, &welcome).await;
    assert!(body.contains("Welcome to Gatehouse. This new account was made with your Google account"), "{body}");
    // the same address later (anyone can write it into a link) says nothing: the account is not new
    sqlx::query("UPDATE connected_accounts SET connected_at = now() - interval '20 minutes'").execute(&w.db).await.unwrap();
    let (_, body) = browser.get(&w.app, &welcome).await;
    assert!(body.contains("Connected accounts") && !body.contains("Welcome to Gatehouse"), "{body}");
    let row: (Option<String>, bool, String) =
        sqlx::query_as("SELECT password_hash, email_verified_at IS NOT NULL, email FROM users").fetch_one(&w.db).await.unwrap();
    assert_eq!(row, (None, true, "grace@example.test".to_string()), "no password; Google vouched for the email");
    let link: (String, String, String) =
        sqlx::query_as("SELECT provider, issuer, subject FROM connected_accounts").fetch_one(&w.db).await.unwrap();
    assert_eq!(link, ("google".into(), w.idp.google_issuer(), grace.subject.clone()));
    assert_eq!(count(&w.db, "SELECT count(*) FROM sessions WHERE auth_method = 'google'").await, 1);
    assert_eq!(count(&w.db, "SELECT count(*) FROM connected_accounts WHERE last_used_at IS NOT NULL").await, 1, "signing up used it");
    let (res, body) = browser.get(&w.app, "/settings/security").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(body.contains("Connected accounts") && body.contains("Set password"), "{body}");
    // its activity names the provider and the account there, as a Connect from the page does
    assert!(body.contains("Connected Google (grace@example.test)") && !body.contains("Connected a sign-in provider"), "{body}");
    assert_eq!(w.idp.token_requests(), 1);

    // the same identity again: the same account, marked used
    sqlx::query("UPDATE connected_accounts SET last_used_at = now() - interval '2 days'").execute(&w.db).await.unwrap();
    let mut elsewhere = Browser::default();
    let res = sign_in_as(&w, &mut elsewhere, "Google", &grace, Tweak::None).await;
    assert_eq!(location(&res), "/settings/security");
    assert_eq!(count(&w.db, "SELECT count(*) FROM users").await, 1);
    assert_eq!(count(&w.db, "SELECT count(*) FROM connected_accounts WHERE last_used_at > now() - interval '1 minute'").await, 1);
    assert_eq!(count(&w.db, "SELECT count(*) FROM security_events WHERE kind = 'signed_in'").await, 2);
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn id_tokens_that_fail_validation_are_refused_and_change_nothing(db: PgPool) {
    let w = world(db).await;
    for tweak in [Tweak::WrongNonce, Tweak::WrongAudience, Tweak::WrongIssuer, Tweak::Expired, Tweak::BadSignature, Tweak::WrongAzp] {
        let mut browser = Browser::default();
        let res = sign_in_as(&w, &mut browser, "Google", &Person::new("mallory@example.test"), tweak).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{tweak:?}");
        assert_eq!(location(&res), "/sign-in?provider=google&provider_outcome=refused", "{tweak:?}");
        assert!(!browser.signed_in(), "{tweak:?} signed in");
    }
    assert_eq!(count(&w.db, "SELECT count(*) FROM users").await, 0);
    assert_eq!(count(&w.db, "SELECT count(*) FROM sessions").await, 0);
    assert_eq!(w.idp.token_requests(), 6, "each token was fetched, then refused");
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_new_identity_finishing_in_two_tabs_at_once_makes_one_account_and_signs_in_both(db: PgPool) {
    let w = world(db).await;
    for round in 0..5 {
        let who = Person::new(&format!("twin{round}@example.test"));
        let (mut a, mut b) = (Browser::default(), Browser::default());
        let (url_a, url_b) = (start(&w, &mut a, "Google").await, start(&w, &mut b, "Google").await);
        let (back_a, back_b) = (w.idp.approve(&url_a, &who, Tweak::None), w.idp.approve(&url_b, &who, Tweak::None));
        let (ra, rb) = tokio::join!(a.come_back(&w.app, &back_a), b.come_back(&w.app, &back_b));
        // (the tab whose callback made the account says so; the other signed in to it)
        let mut landed = [location(&ra), location(&rb)];
        landed.sort();
        assert_eq!(landed, ["/settings/security", "/settings/security?provider=google&provider_outcome=new_account#connected-accounts"]);
    }
    assert_eq!(count(&w.db, "SELECT count(*) FROM users").await, 5);
    assert_eq!(count(&w.db, "SELECT count(*) FROM connected_accounts").await, 5);
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn an_email_the_provider_did_not_verify_makes_no_account(db: PgPool) {
    let w = world(db).await;
    let who = Person { email_verified: false, ..Person::new("ivy@example.test") };
    let res = sign_in_as(&w, &mut Browser::default(), "Google", &who, Tweak::None).await;
    assert_eq!(location(&res), "/sign-in?provider=google&provider_outcome=email_not_verified");
    let res = sign_in_as(&w, &mut Browser::default(), "GitHub", &Person::new("jo@example.test"), Tweak::GithubNoVerifiedPrimary).await;
    assert_eq!(location(&res), "/sign-in?provider=github&provider_outcome=email_not_verified");
    assert_eq!(count(&w.db, "SELECT count(*) FROM users").await, 0);
    // connected to an account by its owner, the same GitHub identity signs in: its email plays no part
    let mut jo = password_account(&w, "jo@example.test").await;
    connect(&w, &mut jo, "GitHub", &Person::new("jo@example.test"), Tweak::GithubNoVerifiedPrimary).await;
    let res = sign_in_as(&w, &mut Browser::default(), "GitHub", &Person::new("jo@example.test"), Tweak::GithubNoVerifiedPrimary).await;
    assert_eq!(location(&res), "/settings/security");
}

/// GitHub's list of addresses failing (a 502) is GitHub being unreachable, to try again: not
/// "your account shares no email address", which would send the person to change settings at
/// GitHub that are fine.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn github_failing_to_list_the_addresses_is_unreachable_not_no_email(db: PgPool) {
    let w = world(db).await;
    let res = sign_in_as(&w, &mut Browser::default(), "GitHub", &Person::new("kim@example.test"), Tweak::GithubEmailsDown).await;
    assert_eq!(location(&res), "/sign-in?provider=github&provider_outcome=unreachable");
    assert_eq!(count(&w.db, "SELECT count(*) FROM users").await, 0);
    // and once it answers again, the same person signs up
    let res = sign_in_as(&w, &mut Browser::default(), "GitHub", &Person::new("kim@example.test"), Tweak::None).await;
    assert_eq!(location(&res), "/settings/security?provider=github&provider_outcome=new_account#connected-accounts");
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_first_sign_in_never_links_to_an_account_by_its_email(db: PgPool) {
    let w = world(db).await;
    // someone registered the address with a password first (pre-hijacking), or the owner did
    let owner = password_account(&w, "victim@example.test").await;
    let mut browser = Browser::default();
    let res = sign_in_as(&w, &mut browser, "Google", &Person::new("Victim@Example.test"), Tweak::None).await;
    assert_eq!(location(&res), "/sign-in?provider=google&provider_outcome=email_in_use");
    assert!(!browser.signed_in());
    assert_eq!(count(&w.db, "SELECT count(*) FROM connected_accounts").await, 0);
    assert_eq!(count(&w.db, "SELECT count(*) FROM users").await, 1);
    // the page says what to do
    let (_, body) = browser.get(&w.app, "/sign-in?provider=google&provider_outcome=email_in_use").await;
    assert!(body.contains("An account already uses the email address of this Google account. Sign in to that account the way you set it up (its password, a passkey, or another provider), then connect Google from Security &amp; Access."), "{body}");
    // and the account's own sessions are untouched
    assert_eq!(get(&w.app, "/settings/security", owner.header().as_deref()).await.0.status(), StatusCode::OK);
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_callback_works_once_and_only_in_the_browser_that_began_it(db: PgPool) {
    let w = world(db).await;
    let mut alice = Browser::default();
    let url = start(&w, &mut alice, "Google").await;
    let back = w.idp.approve(&url, &Person::new("alice@example.test"), Tweak::None);
    // another browser (an attacker who got the callback URL, with or without a flow of its own)
    for mut other in [Browser::default(), { let mut b = Browser::default(); start(&w, &mut b, "Google").await; b }] {
        let res = other.come_back(&w.app, &back).await;
        assert_eq!(location(&res), "/sign-in?provider=google&provider_outcome=unknown_state");
        assert!(!other.signed_in());
    }
    assert_eq!(w.idp.token_requests(), 0, "a refused callback never redeems the code");
    // the right browser still finishes, once
    let res = alice.come_back(&w.app, &back).await;
    assert_eq!(location(&res), "/settings/security?provider=google&provider_outcome=new_account#connected-accounts");
    let mut replay = alice.clone();
    replay.0.retain(|c| !c.starts_with("__Host-gatehouse-session="));
    let res = replay.come_back(&w.app, &back).await;
    assert_eq!(location(&res), "/sign-in?provider=google&provider_outcome=unknown_state");
    // a Google state at GitHub's callback (mix-up) is unknown there
    let url = start(&w, &mut replay, "Google").await;
    let back = w.idp.approve(&url, &Person::new("alice@example.test"), Tweak::None).replace("/auth/google/callback", "/auth/github/callback");
    let res = replay.come_back(&w.app, &back).await;
    assert_eq!(location(&res), "/sign-in?provider=github&provider_outcome=unknown_state");
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn an_expired_attempt_and_a_cancelled_one_land_on_sign_in_with_a_sentence(db: PgPool) {
    let w = world(db).await;
    let mut browser = Browser::default();
    let url = start(&w, &mut browser, "GitHub").await;
    let res = browser.come_back(&w.app, &w.idp.deny(&url)).await;
    assert_eq!(location(&res), "/sign-in?provider=github&provider_outcome=cancelled");
    let (res, body) = browser.get(&w.app, &location(&res)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(body.contains("You cancelled at GitHub. Nothing was changed."), "{body}");

    let url = start(&w, &mut browser, "GitHub").await;
    sqlx::query("UPDATE provider_flows SET expires_at = now() - interval '1 second'").execute(&w.db).await.unwrap();
    // (the browser, too, is 10 minutes and a second on: it still holds the flow's cookie)
    browser.later(10 * 60 + 1);
    let res = browser.come_back(&w.app, &w.idp.approve(&url, &Person::new("late@example.test"), Tweak::None)).await;
    assert_eq!(location(&res), "/sign-in?provider=github&provider_outcome=expired");
    assert_eq!(count(&w.db, "SELECT count(*) FROM users").await, 0);
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_provider_sign_in_that_ends_badly_in_a_browser_signed_in_meanwhile_is_said_on_security_and_access(db: PgPool) {
    let w = world(db).await;
    let owner = password_account(&w, "owner@example.test").await;
    let session: Vec<String> = owner.0.iter().filter(|c| c.starts_with("__Host-gatehouse-session=")).cloned().collect();
    assert_eq!(session.len(), 1);
    // "Continue with GitHub" while signed out, asked to return somewhere …
    let mut browser = owner.clone();
    browser.0.retain(|c| !c.starts_with("__Host-gatehouse-session="));
    let url = start_returning_to(&w, &mut browser, "GitHub", "/settings/security/activity.csv").await;
    // … then a password sign-in in another tab of the same browser, and Cancel at GitHub
    browser.0.extend(session);
    let res = browser.come_back(&w.app, &w.idp.deny(&url)).await;
    // (the sign-in page would send this browser on to where it was going, and the sentence with it)
    assert_eq!(location(&res), "/settings/security?provider=github&provider_outcome=cancelled#connected-accounts");
    let (res, body) = browser.get(&w.app, "/settings/security?provider=github&provider_outcome=cancelled").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(body.contains("You cancelled at GitHub. Nothing was changed."), "{body}");
    // signed out, the same return lands on the sign-in page, still going where it was asked to
    let mut other = Browser::default();
    let url = start_returning_to(&w, &mut other, "GitHub", "/settings/security/activity.csv").await;
    let res = other.come_back(&w.app, &w.idp.deny(&url)).await;
    assert_eq!(location(&res), "/sign-in?provider=github&provider_outcome=cancelled&return_to=%2Fsettings%2Fsecurity%2Factivity%2Ecsv");
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn one_begun_on_the_sign_up_page_that_ends_badly_lands_back_on_sign_up_with_its_sentence(db: PgPool) {
    let w = world(db).await;
    let mut browser = Browser::default();
    let url = start_on_sign_up(&w, &mut browser, "GitHub", None).await;
    let res = browser.come_back(&w.app, &w.idp.deny(&url)).await;
    assert_eq!(location(&res), "/sign-up?provider=github&provider_outcome=cancelled");
    let (res, body) = browser.get(&w.app, &location(&res)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(body.contains("Create your Gatehouse account"), "{body}");
    assert!(body.contains("You cancelled at GitHub. Nothing was changed."), "{body}");

    let url = start_on_sign_up(&w, &mut browser, "Google", None).await;
    // (late by 20 minutes: the clean-up, every 10 minutes, has run since; it keeps a flow an hour
    // past its end, so the return is told it came late, on the page it began from)
    sqlx::query("UPDATE provider_flows SET expires_at = now() - interval '20 minutes'").execute(&w.db).await.unwrap();
    domain::auth::sessions::clean_up(&w.svc).await.unwrap();
    browser.later(30 * 60);
    let res = browser.come_back(&w.app, &w.idp.approve(&url, &Person::new("late@example.test"), Tweak::None)).await;
    assert_eq!(location(&res), "/sign-up?provider=google&provider_outcome=expired");
    assert_eq!(count(&w.db, "SELECT count(*) FROM users").await, 0);

    // asked to return somewhere: still asked, back on the sign-up page
    let url = start_on_sign_up(&w, &mut browser, "GitHub", Some("/settings/security/activity.csv")).await;
    let res = browser.come_back(&w.app, &w.idp.deny(&url)).await;
    assert_eq!(location(&res), "/sign-up?provider=github&provider_outcome=cancelled&return_to=%2Fsettings%2Fsecurity%2Factivity%2Ecsv");
    // (and its "Sign in instead" keeps it too)
    let (_, body) = browser.get(&w.app, &location(&res)).await;
    assert!(body.contains(r#"href="/sign-in?return_to=%2Fsettings%2Fsecurity%2Factivity%2Ecsv""#), "{body}");
    // (as the sign-in page's "Create an account" does)
    let (_, body) = browser.get(&w.app, "/sign-in?return_to=%2Fsettings%2Fsecurity%2Factivity%2Ecsv").await;
    assert!(body.contains(r#"href="/sign-up?return_to=%2Fsettings%2Fsecurity%2Factivity%2Ecsv""#), "{body}");

    // a return used already cannot say where it began: sign-in
    let url = start_on_sign_up(&w, &mut browser, "GitHub", None).await;
    let back = w.idp.deny(&url);
    browser.come_back(&w.app, &back).await;
    let res = browser.come_back(&w.app, &back).await;
    assert_eq!(location(&res), "/sign-in?provider=github&provider_outcome=unknown_state");

    // and one that ends well signs up (and in) as from the sign-in page
    let url = start_on_sign_up(&w, &mut browser, "Google", None).await;
    let res = browser.come_back(&w.app, &w.idp.approve(&url, &Person::new("new@example.test"), Tweak::None)).await;
    assert_eq!(location(&res), "/settings/security?provider=google&provider_outcome=new_account#connected-accounts");
    assert!(browser.signed_in());
    assert_eq!(count(&w.db, "SELECT count(*) FROM users").await, 1);
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_provider_sign_in_goes_on_to_the_page_the_sign_in_page_was_asked_to_return_to(db: PgPool) {
    const ACTIVITY: &str = "/settings/security/activity.csv";
    const ENCODED: &str = "%2Fsettings%2Fsecurity%2Factivity%2Ecsv";
    let w = world(db).await;
    let grace = Person::new("grace@example.test");
    // a sign-in that makes the account lands on Security & Access saying so, wherever it was to
    // return (the address a signed-out visit to Security & Access gives the sign-in page included)
    for (to, who) in [(ACTIVITY, "ada@example.test"), ("/settings/security", "alan@example.test")] {
        let mut newcomer = Browser::default();
        let url = start_returning_to(&w, &mut newcomer, "Google", to).await;
        let res = newcomer.come_back(&w.app, &w.idp.approve(&url, &Person::new(who), Tweak::None)).await;
        assert_eq!(location(&res), "/settings/security?provider=google&provider_outcome=new_account#connected-accounts", "{to}");
    }
    // (Grace's account exists: her sign-ins go back where they were asked to)
    sign_in_as(&w, &mut Browser::default(), "Google", &grace, Tweak::None).await;
    let mut first = Browser::default();
    let url = start_returning_to(&w, &mut first, "Google", ACTIVITY).await;
    let res = first.come_back(&w.app, &w.idp.approve(&url, &grace, Tweak::None)).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), ACTIVITY);
    assert!(first.signed_in());
    let (res, _) = first.get(&w.app, ACTIVITY).await;
    assert_eq!(res.status(), StatusCode::OK, "the page it went back to is this account's");

    // another site's address, however it is dressed: Security & Access, never there
    for hostile in ["https://evil.example/", "//evil.example/", "/\\evil.example", "/%2F%2Fevil.example"] {
        let mut browser = Browser::default();
        let url = start_returning_to(&w, &mut browser, "Google", hostile).await;
        let res = browser.come_back(&w.app, &w.idp.approve(&url, &grace, Tweak::None)).await;
        assert_eq!(location(&res), "/settings/security", "{hostile}");
    }

    // a stored path the check would refuse (the app never stores one; the table's CHECK lets it
    // by) is checked again on the way out
    let mut browser = Browser::default();
    let url = start_returning_to(&w, &mut browser, "Google", ACTIVITY).await;
    sqlx::query(r"UPDATE provider_flows SET return_to = '/\evil.example'").execute(&w.db).await.unwrap();
    let res = browser.come_back(&w.app, &w.idp.approve(&url, &grace, Tweak::None)).await;
    assert_eq!(location(&res), "/settings/security");

    // cancelled at the provider: the sign-in page, still asked to go back there
    let mut browser = Browser::default();
    let url = start_returning_to(&w, &mut browser, "GitHub", ACTIVITY).await;
    let res = browser.come_back(&w.app, &w.idp.deny(&url)).await;
    assert_eq!(location(&res), format!("/sign-in?provider=github&provider_outcome=cancelled&return_to={ENCODED}"));

    // an account with an authenticator app: the second step keeps it, and its answer goes there
    let (state, secret) = set_up_authenticator(&w, &first).await;
    let mut browser = Browser::default();
    let url = start_returning_to(&w, &mut browser, "Google", ACTIVITY).await;
    let res = browser.come_back(&w.app, &w.idp.approve(&url, &grace, Tweak::None)).await;
    assert_eq!(location(&res), format!("/sign-in?second_step=1&return_to={ENCODED}"));
    let code = domain::auth::totp::code_for_step(&secret, domain::auth::totp::step_at(state.services.clock.now()) + 1);
    let (res, body) = browser.post(&w.app, "/api/auth/second-step", &[("code", &code), ("method", "totp"), ("return_to", ACTIVITY)]).await;
    assert_eq!(res.status(), StatusCode::OK, "{body}");
    assert_eq!(location(&res), ACTIVITY);
    assert!(browser.signed_in());
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn github_errors_answered_with_status_200_are_refused(db: PgPool) {
    let w = world(db).await;
    let mut browser = Browser::default();
    let res = sign_in_as(&w, &mut browser, "GitHub", &Person::new("octo@example.test"), Tweak::GithubErrorWith200).await;
    assert_eq!(location(&res), "/sign-in?provider=github&provider_outcome=refused");
    assert!(!browser.signed_in());
    assert_eq!(count(&w.db, "SELECT count(*) FROM users").await, 0);
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn github_is_keyed_by_its_numeric_id_not_the_login(db: PgPool) {
    let w = world(db).await;
    let octo = Person::new("octo@example.test");
    sign_in_as(&w, &mut Browser::default(), "GitHub", &octo, Tweak::None).await;
    // the login changes hands: a new GitHub user now has it
    let newcomer = Person { login: octo.login.clone(), ..Person::new("newcomer@example.test") };
    let mut browser = Browser::default();
    sign_in_as(&w, &mut browser, "GitHub", &newcomer, Tweak::None).await;
    let subjects: Vec<String> = sqlx::query_scalar("SELECT subject FROM connected_accounts ORDER BY connected_at").fetch_all(&w.db).await.unwrap();
    assert_eq!(subjects, [octo.github_id.to_string(), newcomer.github_id.to_string()]);
    assert_eq!(count(&w.db, "SELECT count(*) FROM users").await, 2, "the newcomer got an account of their own");
}

/// Connecting is a sensitive change: the re-verification it began under must still hold when the
/// provider sends the person back (up to 10 minutes later, or after End now), or nothing is linked.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_connect_whose_verification_ran_out_at_the_provider_links_nothing(db: PgPool) {
    let w = world(db).await;
    let mut ada = password_account(&w, "ada@example.test").await;
    let (res, body) = ada.post(&w.app, "/api/security/connected-accounts/connect", &[("provider", "GitHub")]).await;
    assert_eq!(res.status(), StatusCode::OK, "{body}");
    let url: String = serde_json::from_str(&body).unwrap();
    // meanwhile, at GitHub, the window closes
    sqlx::query("UPDATE sessions SET verified_at = now() - interval '1 hour'").execute(&w.db).await.unwrap();
    let res = ada.come_back(&w.app, &w.idp.approve(&url, &Person::new("ada.codes@example.test"), Tweak::None)).await;
    assert_eq!(location(&res), "/settings/security?provider=github&provider_outcome=verification_ended#connected-accounts");
    assert_eq!(count(&w.db, "SELECT count(*) FROM connected_accounts").await, 0);
    assert_eq!(count(&w.db, "SELECT count(*) FROM security_events WHERE kind = 'provider_connected'").await, 0);
    assert!(ada.signed_in(), "the session itself goes on");
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn connecting_links_to_the_signed_in_account_and_then_signs_in_to_it(db: PgPool) {
    let w = world(db).await;
    let mut ada = password_account(&w, "ada@example.test").await;
    // an address made up to say it is connected says nothing while it is not (anyone can write one)
    const SAID: &str = "GitHub is connected. You can now sign in with it.";
    let (_, page) = ada.get(&w.app, "/settings/security?provider=github&provider_outcome=connected").await;
    assert!(page.contains("Connect GitHub") && !page.contains(SAID), "{page}");
    let (_, page) = ada.get(&w.app, "/settings/security?provider=github&provider_outcome=already_connected").await;
    assert!(page.contains("Connect GitHub") && !page.contains("A GitHub account is already connected"), "{page}");
    let (res, body) = ada.post(&w.app, "/api/security/connected-accounts/connect", &[("provider", "GitHub")]).await;
    assert_eq!(res.status(), StatusCode::OK, "{body}");
    let url: String = serde_json::from_str(&body).unwrap();
    // the GitHub account's email is another address: linking never looks at it
    let gh = Person::new("ada.codes@example.test");
    let res = ada.come_back(&w.app, &w.idp.approve(&url, &gh, Tweak::None)).await;
    assert_eq!(location(&res), "/settings/security?provider=github&provider_outcome=connected#connected-accounts");
    let (_, page) = ada.get(&w.app, "/settings/security?provider=github&provider_outcome=connected").await;
    assert!(page.contains(SAID), "{page}");
    // the row names it by its GitHub login, what GitHub's people know it by, its email beside
    // (the markup without its hydration markers)
    let row = page.replace("<!>", "");
    assert!(row.contains(r#"<p class="connected-account">@ada-codes<span class="muted"> · ada.codes@example.test</span></p>"#), "{page}");
    assert_eq!(count(&w.db, "SELECT count(*) FROM security_events WHERE kind = 'provider_connected'").await, 1);
    // the notice names the account connected: the owner can tell a stranger's from her own (and
    // not as a link: whoever connected it chose that address)
    let notice: String = sqlx::query_scalar("SELECT text_body FROM email_outbox WHERE kind = 'security_notice' AND subject = 'GitHub was connected to your Gatehouse account'")
        .fetch_one(&w.db)
        .await
        .unwrap();
    assert!(notice.contains("Your account can now be signed in to with the GitHub account @ada-codes (ada[.]codes[@]example[.]test)."), "{notice}");
    // and what to do if it was not her: a reset (she may not know a password someone else chose)
    assert!(notice.contains("If you did not do this, reset your password right away (that signs out every session): http"), "{notice}");
    // the link names the session that made it (what "This wasn't me" about that session takes back)
    let by = "SELECT count(*) FROM connected_accounts c JOIN sessions s ON s.id = c.added_by_session AND s.user_id = c.user_id
              WHERE s.auth_method = 'password'";
    assert_eq!(count(&w.db, by).await, 1);
    // signed out, GitHub signs in to Ada's account
    let mut later = Browser::default();
    let res = sign_in_as(&w, &mut later, "GitHub", &gh, Tweak::None).await;
    assert_eq!(location(&res), "/settings/security");
    assert_eq!(count(&w.db, "SELECT count(*) FROM users").await, 1);
    let (_, body) = later.get(&w.app, "/settings/security").await;
    assert!(body.contains("ada@example.test"), "signed in to Ada's account");
    assert_eq!(count(&w.db, "SELECT count(*) FROM sessions WHERE auth_method = 'github'").await, 1);

    // a second GitHub account for the same Gatehouse account is refused up front
    let (res, body) = ada.post(&w.app, "/api/security/connected-accounts/connect", &[("provider", "GitHub")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("A GitHub account is already connected. Disconnect it first to connect another."), "{body}");
}

/// Google and GitHub connected from two tabs of one browser (one flow cookie, shared): both finish.
/// The first callback cleared the cookie, and the second said "That return from GitHub can't be
/// used" (found by an exploratory tester). The same for two sign-ins begun in two tabs.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn flows_begun_in_two_tabs_of_one_browser_both_finish(db: PgPool) {
    let w = world(db).await;
    let mut ada = password_account(&w, "ada@example.test").await;
    let mut urls = Vec::new();
    for provider in ["Google", "GitHub"] {
        let (res, body) = ada.post(&w.app, "/api/security/connected-accounts/connect", &[("provider", provider)]).await;
        assert_eq!(res.status(), StatusCode::OK, "{body}");
        urls.push(serde_json::from_str::<String>(&body).unwrap());
    }
    let (google_url, github_url) = (&urls[0], &urls[1]);
    let me = Person::new("ada@example.test");
    let res = ada.come_back(&w.app, &w.idp.approve(google_url, &me, Tweak::None)).await;
    assert_eq!(location(&res), "/settings/security?provider=google&provider_outcome=connected#connected-accounts");
    let res = ada.come_back(&w.app, &w.idp.approve(github_url, &me, Tweak::None)).await;
    assert_eq!(location(&res), "/settings/security?provider=github&provider_outcome=connected#connected-accounts");
    assert_eq!(count(&w.db, "SELECT count(*) FROM connected_accounts").await, 2);

    // two sign-ins, each going back to its own page
    let mut browser = Browser::default();
    let first = start_returning_to(&w, &mut browser, "Google", "/settings/security?from=a").await;
    let second = start_returning_to(&w, &mut browser, "Google", "/settings/security?from=b").await;
    let res = browser.come_back(&w.app, &w.idp.approve(&second, &me, Tweak::None)).await;
    assert_eq!(location(&res), "/settings/security?from=b");
    let res = browser.come_back(&w.app, &w.idp.approve(&first, &me, Tweak::None)).await;
    assert_eq!(location(&res), "/settings/security?from=a");
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn connecting_needs_a_recent_verification(db: PgPool) {
    let w = world(db).await;
    let mut ada = password_account(&w, "ada@example.test").await;
    sqlx::query("UPDATE sessions SET verified_at = now() - interval '11 minutes'").execute(&w.db).await.unwrap();
    let (res, body) = ada.post(&w.app, "/api/security/connected-accounts/connect", &[("provider", "Google")]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("ReverifyRequired"), "{body}");
    assert_eq!(count(&w.db, "SELECT count(*) FROM provider_flows").await, 0);
    // and signed out, not at all
    let (res, _) = post_form(&w.app, "/api/security/connected-accounts/connect", &[("provider", "Google")], None).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn an_identity_linked_to_one_account_cannot_be_connected_to_another(db: PgPool) {
    let w = world(db).await;
    let shared = Person::new("shared@example.test");
    sign_in_as(&w, &mut Browser::default(), "Google", &shared, Tweak::None).await;
    let mut bob = password_account(&w, "bob@example.test").await;
    let (_, body) = bob.post(&w.app, "/api/security/connected-accounts/connect", &[("provider", "Google")]).await;
    let url: String = serde_json::from_str(&body).unwrap();
    let res = bob.come_back(&w.app, &w.idp.approve(&url, &shared, Tweak::None)).await;
    assert_eq!(location(&res), "/settings/security?provider=google&provider_outcome=linked_elsewhere#connected-accounts");
    assert_eq!(count(&w.db, "SELECT count(*) FROM connected_accounts").await, 1);
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn an_attackers_connect_callback_cannot_link_into_a_victims_session(db: PgPool) {
    let w = world(db).await;
    let mut attacker = password_account(&w, "mallory@example.test").await;
    let (_, body) = attacker.post(&w.app, "/api/security/connected-accounts/connect", &[("provider", "Google")]).await;
    let url: String = serde_json::from_str(&body).unwrap();
    let back = w.idp.approve(&url, &Person::new("mallory.google@example.test"), Tweak::None);
    // the victim, signed in, is made to open the attacker's callback URL
    let mut victim = password_account(&w, "victim@example.test").await;
    let res = victim.come_back(&w.app, &back).await;
    assert_eq!(location(&res), "/settings/security?provider=google&provider_outcome=unknown_state#connected-accounts");
    assert_eq!(count(&w.db, "SELECT count(*) FROM connected_accounts").await, 0);
    // nor with the attacker's flow cookie planted, while the victim's session differs
    let mut planted = victim.clone();
    planted.0.extend(attacker.0.iter().filter(|c| c.starts_with("__Host-gatehouse-flow=")).cloned());
    let res = planted.come_back(&w.app, &back).await;
    assert_eq!(location(&res), "/settings/security?provider=google&provider_outcome=session_changed#connected-accounts");
    assert_eq!(count(&w.db, "SELECT count(*) FROM connected_accounts").await, 0);
    assert_eq!(w.idp.token_requests(), 0);
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_connection_that_comes_back_to_a_signed_out_browser_says_so_on_the_sign_in_page(db: PgPool) {
    let w = world(db).await;
    let mut bob = password_account(&w, "bob@example.test").await;
    let (_, body) = bob.post(&w.app, "/api/security/connected-accounts/connect", &[("provider", "Google")]).await;
    let url: String = serde_json::from_str(&body).unwrap();
    let back = w.idp.approve(&url, &Person::new("bob.google@example.test"), Tweak::None);
    // signed out (here, or everywhere from another device) while at the provider
    bob.post(&w.app, "/api/auth/sign-out", &[]).await;
    let res = bob.come_back(&w.app, &back).await;
    // straight to sign-in, which says why (Security & Access would only send it on, silently)
    assert_eq!(location(&res), "/sign-in?provider=google&provider_outcome=session_changed");
    assert_eq!(count(&w.db, "SELECT count(*) FROM connected_accounts").await, 0);
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn the_only_sign_in_method_cannot_be_disconnected(db: PgPool) {
    let w = world(db).await;
    let mut grace = Browser::default();
    sign_in_as(&w, &mut grace, "Google", &Person::new("grace@example.test"), Tweak::None).await;
    let (res, body) = grace.post(&w.app, "/api/security/connected-accounts/disconnect", &[("provider", "Google")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("Google is your only way to sign in. Set a password or add a passkey first."), "{body}");
    assert_eq!(count(&w.db, "SELECT count(*) FROM connected_accounts").await, 1);
    // not connected: nothing to disconnect (another account's GitHub is out of reach alike)
    let (res, _) = grace.post(&w.app, "/api/security/connected-accounts/disconnect", &[("provider", "GitHub")]).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    // with a password set, Google can go
    let (res, body) = grace.post(&w.app, "/api/security/password/set", &[("new_password", "a brand new long passphrase")]).await;
    assert_eq!(res.status(), StatusCode::OK, "{body}");
    let (res, body) = grace.post(&w.app, "/api/security/connected-accounts/disconnect", &[("provider", "Google")]).await;
    assert_eq!(res.status(), StatusCode::OK, "{body}");
    assert_eq!(count(&w.db, "SELECT count(*) FROM connected_accounts").await, 0);
    assert_eq!(count(&w.db, "SELECT count(*) FROM security_events WHERE kind = 'provider_disconnected'").await, 1);
}

/// Disconnecting Google can sign out the account's other sessions that signed in with it, when
/// asked: never the session doing it, nor one that signed in with the password or GitHub; not
/// asked, none end.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn disconnecting_a_provider_can_sign_out_the_other_sessions_that_signed_in_with_it(db: PgPool) {
    let w = world(db).await;
    let mut desk = password_account(&w, "grace@example.test").await;
    let (google, github) = (Person::new("grace.g@example.test"), Person::new("grace.codes@example.test"));
    connect(&w, &mut desk, "Google", &google, Tweak::None).await;
    connect(&w, &mut desk, "GitHub", &github, Tweak::None).await;
    assert_eq!(count(&w.db, "SELECT count(*) FROM connected_accounts").await, 2);
    let (mut phone, mut tablet, mut laptop) = (Browser::default(), Browser::default(), Browser::default());
    sign_in_as(&w, &mut phone, "Google", &google, Tweak::None).await;
    sign_in_as(&w, &mut tablet, "Google", &google, Tweak::None).await;
    sign_in_as(&w, &mut laptop, "GitHub", &github, Tweak::None).await;
    let who = |body: &str| body.contains("grace@example.test");
    for b in [&mut phone, &mut tablet, &mut laptop] {
        assert!(who(&b.get(&w.app, "/api/session").await.1));
    }
    // the page offers it: "Also sign out the 2 other sessions that signed in with it" (Google's row
    // in the overview the page hydrates from; GitHub's is 1)
    let (_, page) = desk.get(&w.app, "/settings/security").await;
    assert!(page.contains(r#"\"sessions\":2,\"made_the_account\":false},\"can_disconnect\":true},{\"provider\":{\"kind\":\"GitHub\""#), "Google's row counts two");
    assert!(page.contains(r#"\"sessions\":1,\"made_the_account\":false},\"can_disconnect\":true}]"#), "GitHub's row counts one");

    let (res, body) = desk.post(&w.app, "/api/security/connected-accounts/disconnect", &[("provider", "Google"), ("sign_out_sessions", "true")]).await;
    assert_eq!((res.status(), body.as_str()), (StatusCode::OK, "2"));
    assert_eq!(phone.get(&w.app, "/api/session").await.1.trim(), "null");
    assert_eq!(tablet.get(&w.app, "/api/session").await.1.trim(), "null");
    assert!(who(&laptop.get(&w.app, "/api/session").await.1), "GitHub's session stays");
    assert!(who(&desk.get(&w.app, "/api/session").await.1), "this one stays");
    assert_eq!(count(&w.db, "SELECT count(*) FROM sessions WHERE revoked_reason = 'provider_disconnected'").await, 2);
    let said: Vec<String> = sqlx::query_scalar("SELECT detail FROM security_events WHERE kind = 'session_revoked'").fetch_all(&w.db).await.unwrap();
    assert_eq!(said, ["2 other sessions that signed in with Google"], "in the activity, once");
    // and the notice email says so: whoever held them finds them gone, and the owner hears why
    let notice = |subject: &'static str| {
        sqlx::query_scalar::<_, String>("SELECT text_body FROM email_outbox WHERE kind = 'security_notice' AND subject = $1").bind(subject).fetch_one(&w.db)
    };
    let google_notice = notice("Google was disconnected from your Gatehouse account").await.unwrap();
    assert!(
        google_notice.contains("no longer works. The 2 other sessions that had signed in with it were signed out (not the one on the device below)."),
        "{google_notice}"
    );
    // not asked: GitHub's session stays
    let (res, body) = desk.post(&w.app, "/api/security/connected-accounts/disconnect", &[("provider", "GitHub")]).await;
    assert_eq!((res.status(), body.as_str()), (StatusCode::OK, "0"));
    let github_notice = notice("GitHub was disconnected from your Gatehouse account").await.unwrap();
    assert!(
        github_notice.contains("Signing in with the GitHub account @grace-codes (grace[.]codes[@]example[.]test) no longer works.\n")
            && !github_notice.contains("signed out"),
        "{github_notice}"
    );
    assert!(who(&laptop.get(&w.app, "/api/session").await.1));
    // another GitHub identity connected later: the sessions of the one before are not its own
    connect(&w, &mut desk, "GitHub", &Person::new("grace.other@example.test"), Tweak::None).await;
    let (_, page) = desk.get(&w.app, "/settings/security").await;
    assert!(page.contains("grace.other@example.test"), "connected again");
    assert!(page.contains(r#"\"sessions\":0,\"made_the_account\":false},\"can_disconnect\":true}]"#), "the new GitHub identity counts none");
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn two_disconnections_at_once_leave_one_way_to_sign_in(db: PgPool) {
    let w = world(db).await;
    let mut grace = Browser::default();
    sign_in_as(&w, &mut grace, "Google", &Person::new("grace@example.test"), Tweak::None).await;
    connect(&w, &mut grace, "GitHub", &Person::new("grace.gh@example.test"), Tweak::None).await;
    assert_eq!(count(&w.db, "SELECT count(*) FROM connected_accounts").await, 2);
    for _ in 0..5 {
        let cookie = grace.header();
        let (a, b) = tokio::join!(
            post_form(&w.app, "/api/security/connected-accounts/disconnect", &[("provider", "Google")], cookie.as_deref()),
            post_form(&w.app, "/api/security/connected-accounts/disconnect", &[("provider", "GitHub")], cookie.as_deref()),
        );
        let mut statuses = [a.0.status(), b.0.status()];
        statuses.sort();
        assert_eq!(statuses, [StatusCode::OK, StatusCode::UNPROCESSABLE_ENTITY]);
        assert_eq!(count(&w.db, "SELECT count(*) FROM connected_accounts").await, 1);
        // put the other one back for the next round
        let gone = if a.0.status() == StatusCode::OK { "Google" } else { "GitHub" };
        let who = if gone == "Google" { Person::new("grace@example.test") } else { Person::new("grace.gh@example.test") };
        connect(&w, &mut grace, gone, &who, Tweak::None).await;
        assert_eq!(count(&w.db, "SELECT count(*) FROM connected_accounts").await, 2);
    }
}

/// Sets up an authenticator app on the account signed in in `browser` (domain-level, as the page
/// would); answers the state it used and the app's secret.
async fn set_up_authenticator(w: &World, browser: &Browser) -> (AppState, Vec<u8>) {
    use domain::auth::{sessions, totp, two_factor};
    let state = AppState::new(
        Config::from_toml(include_str!("../../Leptos.toml"), testkit::server::env(CHEAP_HASHING)).unwrap(),
        w.db.clone(),
        domain::clock::Clock::system(),
    )
    .unwrap();
    let svc = &state.services;
    let token = browser.0.iter().find_map(|c| c.strip_prefix("__Host-gatehouse-session=")).unwrap().to_string();
    let session = sessions::authenticate(svc, &domain::secret::SessionToken::from_cookie(token)).await.unwrap().unwrap();
    let enrolment = two_factor::begin_enrolment(svc, &session).await.unwrap();
    let secret = testkit::base32_decode(&enrolment.manual_key);
    let code = totp::code_for_step(&secret, totp::step_at(svc.clock.now()));
    two_factor::finish_enrolment(svc, &session, &code, None, &Default::default()).await.unwrap();
    (state, secret)
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_provider_sign_in_of_an_account_with_an_authenticator_asks_for_its_code(db: PgPool) {
    use domain::auth::totp;
    let w = world(db).await;
    let gh = Person::new("kim@example.test");
    let mut first = Browser::default();
    sign_in_as(&w, &mut first, "GitHub", &gh, Tweak::None).await;
    let (state, secret) = set_up_authenticator(&w, &first).await;
    let svc = &state.services;

    // "Last used to sign in" counts sign-ins that were finished: not this first step alone
    let last_used = "SELECT count(*) FROM connected_accounts WHERE last_used_at < now() - interval '1 day'";
    sqlx::query("UPDATE connected_accounts SET last_used_at = now() - interval '2 days'").execute(&w.db).await.unwrap();
    let mut browser = Browser::default();
    let res = sign_in_as(&w, &mut browser, "GitHub", &gh, Tweak::None).await;
    assert_eq!(location(&res), "/sign-in?second_step=1");
    assert!(!browser.signed_in(), "GitHub alone is one factor");
    assert!(browser.0.iter().any(|c| c.starts_with("__Host-gatehouse-pending=")));
    assert_eq!(count(&w.db, last_used).await, 1, "waiting for its code, GitHub was not used to sign in yet");
    let code = totp::code_for_step(&secret, totp::step_at(svc.clock.now()) + 1);
    let (res, body) = browser.post(&w.app, "/api/auth/second-step", &[("code", &code), ("method", "totp")]).await;
    assert_eq!(res.status(), StatusCode::OK, "{body}");
    assert!(browser.signed_in());
    assert_eq!(count(&w.db, "SELECT count(*) FROM sessions WHERE auth_method = 'github+totp'").await, 1);
    assert_eq!(count(&w.db, last_used).await, 0, "with the code, it was");

    // Someone holding the GitHub account but not the app: 5 wrong codes, then restarting the flow
    // is refused by the throttle instead of giving 5 more guesses.
    let mut thief = Browser::default();
    sign_in_as(&w, &mut thief, "GitHub", &gh, Tweak::None).await;
    for _ in 0..5 {
        let (res, _) = thief.post(&w.app, "/api/auth/second-step", &[("code", "000000"), ("method", "totp")]).await;
        assert!(!thief.signed_in(), "{}", res.status());
    }
    // (counted on the account's proven path, where its first step was claimed, though the thief's
    // browser has no cookie naming it: counted on the untrusted path instead, they would never
    // hold up the next provider sign-in, and the code guesses would be unbounded)
    assert_eq!(count(&w.db, "SELECT COALESCE(sum(failed_attempts), 0)::bigint FROM sign_in_throttles WHERE device = 'proven'").await, 5);
    assert_eq!(count(&w.db, "SELECT count(*) FROM sign_in_throttles WHERE device = ''").await, 0);
    let res = sign_in_as(&w, &mut thief, "GitHub", &gh, Tweak::None).await;
    assert_eq!(location(&res), "/sign-in?provider=github&provider_outcome=locked");
    assert!(!thief.0.iter().any(|c| c.starts_with("__Host-gatehouse-pending=")), "no new pending sign-in");
}

/// Strangers who know the address keep the account's untrusted path locked (every browser that
/// never signed in shares it). The owner, on a new browser, signs in with GitHub: the identity
/// proves more than the address, so its first step counts on the account's proven path, which the
/// strangers cannot reach, and her code signs her in. It used to end "locked" like theirs.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn strangers_locking_the_untrusted_path_do_not_stop_a_provider_sign_in_reaching_its_code_step(db: PgPool) {
    use domain::auth::totp;
    let w = world(db).await;
    let gh = Person::new("kim@example.test");
    let mut first = Browser::default();
    sign_in_as(&w, &mut first, "GitHub", &gh, Tweak::None).await;
    let (state, secret) = set_up_authenticator(&w, &first).await;
    // (as 50 strangers' wrong passwords leave it)
    sqlx::query("INSERT INTO sign_in_throttles (user_id, device, failed_attempts, last_failed_at, locked_until) SELECT id, '', 50, now(), now() + interval '1 hour' FROM users")
        .execute(&w.db)
        .await
        .unwrap();

    let mut owners_new_laptop = Browser::default();
    let res = sign_in_as(&w, &mut owners_new_laptop, "GitHub", &gh, Tweak::None).await;
    assert_eq!(location(&res), "/sign-in?second_step=1");
    let code = totp::code_for_step(&secret, totp::step_at(state.services.clock.now()) + 1);
    let (res, body) = owners_new_laptop.post(&w.app, "/api/auth/second-step", &[("code", &code), ("method", "totp")]).await;
    assert_eq!(res.status(), StatusCode::OK, "{body}");
    assert!(owners_new_laptop.signed_in());
    assert_eq!(count(&w.db, "SELECT count(*) FROM sign_in_throttles WHERE device = '' AND locked_until > now()").await, 1, "the strangers' path stays locked");
}

/// The owner's browser holds an entry from before her authenticator app (set up elsewhere), so a
/// password sign-in there counts on the account's stale path, which anyone holding a copy of an
/// old entry can keep locked. Signing in with GitHub there counts its first step on the proven
/// path instead: it reaches the code step.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_provider_sign_in_from_a_browser_trusted_before_the_app_counts_on_the_proven_path(db: PgPool) {
    let w = world(db).await;
    let gh = Person::new("kim@example.test");
    let mut first = Browser::default();
    sign_in_as(&w, &mut first, "GitHub", &gh, Tweak::None).await;
    set_up_authenticator(&w, &first).await;
    // (as someone with a copy of an old entry leaves it)
    sqlx::query("INSERT INTO sign_in_throttles (user_id, device, failed_attempts, last_failed_at, locked_until) SELECT id, 'stale', 50, now(), now() + interval '1 hour' FROM users")
        .execute(&w.db)
        .await
        .unwrap();
    // the same browser later, its session over: only its device cookie is left
    let mut hers = Browser(first.0.iter().filter(|c| c.starts_with("__Host-gatehouse-device=")).cloned().collect(), first.1.clone());
    assert_eq!(hers.0.len(), 1, "it holds the account's entry");
    let res = sign_in_as(&w, &mut hers, "GitHub", &gh, Tweak::None).await;
    assert_eq!(location(&res), "/sign-in?second_step=1");
    let path: Vec<u8> = sqlx::query_scalar("SELECT throttle_path FROM pending_sign_ins").fetch_one(&w.db).await.unwrap();
    assert_eq!(path, b"proven");
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_provider_sign_in_that_overlaps_its_disconnection_leaves_no_second_step_behind(db: PgPool) {
    let w = world(db).await;
    let (google, github) = (Person::new("lee@example.test"), Person::new("lee.gh@example.test"));
    let mut owner = Browser::default();
    sign_in_as(&w, &mut owner, "Google", &google, Tweak::None).await;
    connect(&w, &mut owner, "GitHub", &github, Tweak::None).await;
    set_up_authenticator(&w, &owner).await;
    // A GitHub sign-in that reaches its code step once (so its throttle path has a row to hold).
    let mut other = Browser::default();
    let res = sign_in_as(&w, &mut other, "GitHub", &github, Tweak::None).await;
    assert_eq!(location(&res), "/sign-in?second_step=1");
    let user_id: uuid::Uuid = sqlx::query_scalar("SELECT user_id FROM connected_accounts WHERE provider = 'github'").fetch_one(&w.db).await.unwrap();
    sqlx::query("DELETE FROM pending_sign_ins").execute(&w.db).await.unwrap();

    // A GitHub sign-in has matched the identity to the account when GitHub is disconnected: it
    // waits at the throttle (held here) while the disconnection happens. First the owner's whole
    // Disconnect commits before it goes on; then a disconnection whose DELETE of the link is
    // still uncommitted when it goes on (the pending sign-in's insert must wait for it, not read
    // the link as it was).
    for disconnection_in_flight in [false, true] {
        let mut thief = Browser::default();
        let url = start(&w, &mut thief, "GitHub").await;
        let back = w.idp.approve(&url, &github, Tweak::None);
        let mut hold = w.db.begin().await.unwrap();
        sqlx::query("SELECT 1 FROM sign_in_throttles WHERE user_id = $1 FOR UPDATE").bind(user_id).fetch_one(&mut *hold).await.unwrap();
        let callback = tokio::spawn({
            let (app, mut thief) = (w.app.clone(), thief.clone());
            async move { (thief.come_back(&app, &back).await, thief) }
        });
        until_waiting(&w.db, "INSERT INTO sign_in_throttles", || callback.is_finished()).await;
        if disconnection_in_flight {
            let mut disconnecting = w.db.begin().await.unwrap();
            sqlx::query("DELETE FROM connected_accounts WHERE provider = 'github'").execute(&mut *disconnecting).await.unwrap();
            hold.commit().await.unwrap();
            until_waiting(&w.db, "INSERT INTO pending_sign_ins", || callback.is_finished()).await;
            disconnecting.commit().await.unwrap();
        } else {
            let (res, body) = owner.post(&w.app, "/api/security/connected-accounts/disconnect", &[("provider", "GitHub")]).await;
            assert_eq!(res.status(), StatusCode::OK, "{body}");
            hold.commit().await.unwrap();
        }

        let (res, thief) = callback.await.unwrap();
        assert_eq!(location(&res), "/sign-in?provider=github&provider_outcome=not_linked", "in flight: {disconnection_in_flight}");
        assert!(!thief.0.iter().any(|c| c.starts_with("__Host-gatehouse-pending=")), "no code step for a disconnected identity");
        assert_eq!(count(&w.db, "SELECT count(*) FROM pending_sign_ins").await, 0);
        assert!(!thief.signed_in());
        // connect GitHub again for the next round
        connect(&w, &mut owner, "GitHub", &github, Tweak::None).await;
    }
}

/// Waits (up to 5 s) until a connection of this test's database waits for a lock in a statement
/// that holds `statement`, or until `done` says the work it watches finished without waiting.
async fn until_waiting(db: &PgPool, statement: &str, done: impl Fn() -> bool) {
    let waiting = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE $1";
    let pattern = format!("%{statement}%");
    for _ in 0..500 {
        if done() || sqlx::query_scalar::<_, i64>(waiting).bind(&pattern).fetch_one(db).await.unwrap() == 1 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("no lock wait in {statement}");
}

/// Google sends no `auth_time` to an app without "Session age claims": a re-verification is then
/// refused, unless `[google] reverify_without_auth_time` says to accept `prompt=login` alone.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn without_auth_time_google_re_verifies_only_when_configured_to(db: PgPool) {
    for (accept, expected) in [("false", "/settings/security?provider=google&provider_outcome=not_fresh&reverifying=1"), ("true", "/settings/security?reverified=google")] {
        let w = world_with(db.clone(), &[("GATEHOUSE_GOOGLE_REVERIFY_WITHOUT_AUTH_TIME", accept)]).await;
        let grace = Person::new(&format!("grace-{accept}@example.test"));
        let mut browser = Browser::default();
        sign_in_as(&w, &mut browser, "Google", &grace, Tweak::None).await;
        sqlx::query("UPDATE sessions SET verified_at = now() - interval '11 minutes'").execute(&w.db).await.unwrap();
        let (_, body) = browser.post(&w.app, "/api/security/reverify/provider/begin", &[("provider", "Google")]).await;
        let url: String = serde_json::from_str(&body).unwrap();
        let res = browser.come_back(&w.app, &w.idp.approve(&url, &grace, Tweak::NoAuthTime)).await;
        assert_eq!(location(&res), expected, "reverify_without_auth_time = {accept}");
    }
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn the_page_believes_a_confirmation_with_a_provider_from_its_address_only_for_a_connected_provider_and_a_fresh_window(db: PgPool) {
    let w = world(db).await;
    // signed in with a password minutes ago, GitHub connected: a link that says "confirmed with
    // GitHub" is not believed, though the window is open
    let mut owner = password_account(&w, "owner@example.test").await;
    let res = connect(&w, &mut owner, "GitHub", &Person::new("owner@example.test"), Tweak::None).await;
    assert_eq!(location(&res), "/settings/security?provider=github&provider_outcome=connected#connected-accounts");
    sqlx::query("UPDATE sessions SET verified_at = now() - interval '3 minutes'").execute(&w.db).await.unwrap();
    let (res, page) = owner.get(&w.app, "/settings/security?reverified=github").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(page.contains("Verified for"), "the window is open: {page}");
    assert!(!page.contains("with GitHub. Make your change again"), "{page}");
    // nor, just after a sign-in, one naming a provider the account does not have
    sqlx::query("UPDATE sessions SET verified_at = now()").execute(&w.db).await.unwrap();
    let (_, page) = owner.get(&w.app, "/settings/security?reverified=google").await;
    assert!(!page.contains("with Google. Make your change again"), "{page}");
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_provider_only_account_re_verifies_with_its_provider(db: PgPool) {
    let w = world(db).await;
    let grace = Person::new("grace@example.test");
    let mut browser = Browser::default();
    sign_in_as(&w, &mut browser, "Google", &grace, Tweak::None).await;
    sqlx::query("UPDATE sessions SET verified_at = now() - interval '11 minutes'").execute(&w.db).await.unwrap();
    let (res, _) = browser.post(&w.app, "/api/security/connected-accounts/connect", &[("provider", "GitHub")]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let (res, body) = browser.post(&w.app, "/api/security/reverify/provider/begin", &[("provider", "Google")]).await;
    assert_eq!(res.status(), StatusCode::OK, "{body}");
    let url: String = serde_json::from_str(&body).unwrap();
    assert!(url.contains("prompt=login"), "Google is asked for a fresh sign-in, not its existing session: {url}");
    assert!(url.contains("max_age=0"), "…and to say when it happened: {url}");
    // Google answering from the session it already had (prompt=login taken out of the address on
    // the way) confirms nothing: refused, and the session keeps its token and stays unverified
    let before = browser.header().unwrap();
    let mut stale = browser.clone();
    let res = stale.come_back(&w.app, &w.idp.approve(&url, &grace, Tweak::StaleSession)).await;
    assert_eq!(location(&res), "/settings/security?provider=google&provider_outcome=not_fresh&reverifying=1");
    assert_eq!(stale.header().unwrap(), before);
    let (res, _) = stale.post(&w.app, "/api/security/connected-accounts/connect", &[("provider", "GitHub")]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "still not re-verified");
    let (_, body) = browser.post(&w.app, "/api/security/reverify/provider/begin", &[("provider", "Google")]).await;
    let url: String = serde_json::from_str(&body).unwrap();
    // someone else's Google account does not confirm it's Grace
    let mut wrong = browser.clone();
    let res = wrong.come_back(&w.app, &w.idp.approve(&url, &Person::new("not.grace@example.test"), Tweak::None)).await;
    assert_eq!(location(&res), "/settings/security?provider=google&provider_outcome=not_linked&reverifying=1");
    let (_, body) = browser.post(&w.app, "/api/security/reverify/provider/begin", &[("provider", "Google")]).await;
    let url: String = serde_json::from_str(&body).unwrap();
    let before = browser.header().unwrap();
    let last_sign_in = "SELECT last_used_at::text FROM connected_accounts WHERE provider = 'google'";
    sqlx::query("UPDATE connected_accounts SET last_used_at = now() - interval '2 days'").execute(&w.db).await.unwrap();
    let signed_in_at: String = sqlx::query_scalar(last_sign_in).fetch_one(&w.db).await.unwrap();
    let res = browser.come_back(&w.app, &w.idp.approve(&url, &grace, Tweak::None)).await;
    assert_eq!(location(&res), "/settings/security?reverified=google", "the page says so");
    assert_ne!(browser.header().unwrap(), before, "re-verifying gives the session a new token");
    let (_, page) = browser.get(&w.app, "/settings/security?reverified=google").await;
    assert!(page.contains("You confirmed it&#x27;s you with Google. Make your change again.") || page.contains("You confirmed it's you with Google. Make your change again."), "{page}");
    // a provider the account has not connected is not believed from the address
    let (_, page) = browser.get(&w.app, "/settings/security?reverified=github").await;
    assert!(page.contains("Verified for"), "the window is open: {page}");
    assert!(!page.contains("with GitHub. Make your change again"), "{page}");
    // ("Last used to sign in" still says the sign-in: confirming it's you is not one)
    assert_eq!(sqlx::query_scalar::<_, String>(last_sign_in).fetch_one(&w.db).await.unwrap(), signed_in_at);
    let (res, body) = browser.post(&w.app, "/api/security/connected-accounts/connect", &[("provider", "GitHub")]).await;
    assert_eq!(res.status(), StatusCode::OK, "{body}");
}
