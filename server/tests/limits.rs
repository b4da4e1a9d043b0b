//! Anti-automation: request budgets per client network on the anonymous endpoints, the bounded
//! password-hashing queue, and passkey sign-ins that store nothing until they finish. Requests carry the socket
//! address a real connection would (`ConnectInfo`), so each test chooses its clients' addresses.
use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use http::{header, Request, Response, StatusCode};
use server::{router, AppState, Config};
use sqlx::PgPool;

use app::error::AppError;

use testkit::server::{send, CHEAP_HASHING, FROM_SITE_ORIGIN, ORIGIN};
use testkit::PW;

const WRONG: &str = "wrong horse battery staple";

/// Leptos.toml with the test environment and requests from ORIGIN. Cheap argon2 parameters unless
/// `extra` says otherwise.
fn config(extra: &[(&str, &str)]) -> Config {
    let env = testkit::server::env(&[CHEAP_HASHING, FROM_SITE_ORIGIN, extra].concat());
    Config::from_toml(include_str!("../../Leptos.toml"), env).unwrap()
}

/// The router and its state (for the hasher's counters).
fn app_with(db: PgPool, extra: &[(&str, &str)]) -> (Router, AppState) {
    let state = AppState::new(config(extra), db, domain::clock::Clock::system()).unwrap();
    (router(state.clone()), state)
}

/// A same-origin form post as a browser sends it, from the socket address `peer` (an IP), with
/// optional X-Forwarded-For and cookie.
fn post_from(peer: &str, path: &str, form: &[(&str, &str)], forwarded_for: Option<&str>, cookie: Option<&str>) -> Request<Body> {
    let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
    let mut b = Request::post(path)
        .header(header::HOST, "gatehouse.test")
        .header(header::ORIGIN, ORIGIN)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::CONTENT_LENGTH, body.len());
    if let Some(xff) = forwarded_for {
        b = b.header("x-forwarded-for", xff);
    }
    if let Some(c) = cookie {
        b = b.header(header::COOKIE, c);
    }
    let mut req = b.body(Body::from(body)).unwrap();
    let ip: std::net::IpAddr = peer.parse().unwrap();
    req.extensions_mut().insert(ConnectInfo(SocketAddr::new(ip, 40_000)));
    req
}

async fn sign_in_from(app: &Router, peer: &str, email: &str, password: &str) -> (Response<Body>, String) {
    send(app, post_from(peer, "/api/auth/sign-in", &[("email", email), ("password", password)], None, None)).await
}

async fn request_sign_up_from(app: &Router, peer: &str, email: &str) -> (Response<Body>, String) {
    send(app, post_from(peer, "/api/auth/sign-up", &[("email", email), ("display_name", "")], None, None)).await
}

/// Asks to sign up from `peer`, then follows the emailed link there and chooses the password `PW`.
async fn sign_up_from(app: &Router, db: &PgPool, peer: &str, email: &str) -> (Response<Body>, String) {
    let (res, body) = request_sign_up_from(app, peer, email).await;
    assert_eq!(res.status(), StatusCode::OK, "{body}");
    let text: String = sqlx::query_scalar(testkit::NEWEST_MAIL_TEXT).bind(email).fetch_one(db).await.unwrap();
    let token = testkit::link_token(&text, "/sign-up/finish").expect("a sign-up link");
    send(app, post_from(peer, "/api/auth/sign-up/finish", &[("token", &token), ("password", PW)], None, None)).await
}

/// A cookie (`name=value`) the response set, by name.
fn cookie(res: &Response<Body>, name: &str) -> Option<String> {
    res.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")) && !v.contains("Max-Age=0"))
        .map(|v| v.split(';').next().unwrap().to_string())
}

fn session_cookie(res: &Response<Body>) -> Option<String> {
    cookie(res, "__Host-gatehouse-session")
}

/// The numeric Retry-After of a response; panics when it is missing or not a number of seconds.
fn retry_after(res: &Response<Body>) -> u64 {
    let value = res.headers().get(header::RETRY_AFTER).expect("a Retry-After header");
    value.to_str().unwrap().parse().unwrap_or_else(|_| panic!("Retry-After is not a number of seconds: {value:?}"))
}

/// A 429 as the page receives it: status, Retry-After, and the `RateLimited` error with the same
/// number of seconds, whose sentence says what to do.
fn assert_rate_limited(res: &Response<Body>, body: &str) -> u64 {
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "{body}");
    let seconds = retry_after(res);
    assert!(seconds >= 1, "{seconds}");
    let err: AppError = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(err, AppError::RateLimited { retry_after_seconds: seconds });
    assert_eq!(
        err.to_string(),
        format!("Too many attempts from your network. Wait {}, then try again.", app::error::wait(seconds))
    );
    assert!(session_cookie(res).is_none());
    seconds
}

async fn rows(db: &PgPool, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT count(*) FROM {table}")).fetch_one(db).await.unwrap()
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_burst_from_one_address_gets_429_with_retry_after_while_another_address_still_signs_in(db: PgPool) {
    let (app, state) = app_with(db.clone(), &[("GATEHOUSE_LIMITS_PASSWORD_BURST", "3"), ("GATEHOUSE_LIMITS_PASSWORD_PER_MINUTE", "2")]);
    let (res, body) = sign_up_from(&app, &db, "198.51.100.1", "ada@example.test").await;
    assert_eq!(res.status(), StatusCode::OK, "{body}");

    let burst = "203.0.113.7";
    for _ in 0..3 {
        let (res, body) = sign_in_from(&app, burst, "ada@example.test", WRONG).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{body}");
    }
    let hashes = state.services.hasher.calls();
    // the right password, but the network's budget is spent: refused before any work
    let (res, body) = sign_in_from(&app, burst, "ada@example.test", PW).await;
    let seconds = assert_rate_limited(&res, &body);
    assert!((29..=30).contains(&seconds), "2 a minute: one more in 30 seconds, not {seconds}");
    // sign-up and the second step share the budget
    let (res, body) = request_sign_up_from(&app, burst, "eve@example.test").await;
    assert_rate_limited(&res, &body);
    let (res, body) = send(&app, post_from(burst, "/api/auth/second-step", &[("code", "123456"), ("method", "totp")], None, None)).await;
    assert_rate_limited(&res, &body);
    assert_eq!(state.services.hasher.calls(), hashes, "a refused request hashes nothing");

    // another address signs in as usual
    let (res, body) = sign_in_from(&app, "203.0.113.8", "ada@example.test", PW).await;
    assert_eq!(res.status(), StatusCode::OK, "{body}");
    assert!(session_cookie(&res).is_some());
}

/// The signed-in checks of a password hash it as sign-in does (re-verification, changing or
/// setting the password), and a wrong one still costs its hash once the account's throttle holds:
/// without the network's budget, one signed-in client could keep every hashing thread busy and
/// every sign-in of the site answering 503. They spend the same budget as sign-in.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn re_verifying_or_changing_a_password_spends_the_networks_password_budget_like_a_sign_in(db: PgPool) {
    let (app, state) = app_with(db.clone(), &[("GATEHOUSE_LIMITS_PASSWORD_BURST", "3"), ("GATEHOUSE_LIMITS_PASSWORD_PER_MINUTE", "2")]);
    let (res, body) = sign_up_from(&app, &db, "198.51.100.1", "ada@example.test").await;
    assert_eq!(res.status(), StatusCode::OK, "{body}");
    let session = session_cookie(&res).expect("signed in");

    let flood = "203.0.113.7";
    for _ in 0..3 {
        let (res, body) = send(&app, post_from(flood, "/api/security/reverify", &[("password", WRONG)], None, Some(&session))).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    }
    let hashes = state.services.hasher.calls();
    let (res, body) = send(&app, post_from(flood, "/api/security/reverify", &[("password", WRONG)], None, Some(&session))).await;
    assert_rate_limited(&res, &body);
    let change = [("current_password", WRONG), ("new_password", "a brand new correct horse battery")];
    let (res, body) = send(&app, post_from(flood, "/api/security/password/change", &change, None, Some(&session))).await;
    assert_rate_limited(&res, &body);
    let (res, body) = send(&app, post_from(flood, "/api/security/password/set", &[("new_password", "a brand new correct horse battery")], None, Some(&session))).await;
    assert_rate_limited(&res, &body);
    assert_eq!(state.services.hasher.calls(), hashes, "a refused request hashes nothing");

    // from another network the same session re-verifies as usual
    let (res, body) = send(&app, post_from("203.0.113.8", "/api/security/reverify", &[("password", PW)], None, Some(&session))).await;
    assert_eq!(res.status(), StatusCode::OK, "{body}");
}

/// A browser coming back from a provider while its network's budget is spent goes to a page that
/// says so (not the JSON a page's own request reads), with Retry-After. And the budget cannot be
/// dodged by spelling the path another way: the router decodes `/auth/g%6Fogle/callback` to the
/// Google callback, and so does the limit.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_spent_callback_budget_sends_the_browser_to_sign_in_saying_so_and_a_percent_encoded_path_spends_the_same_budget(db: PgPool) {
    let (app, _) = app_with(db.clone(), &[]);
    let get_from = |path: &str| {
        let mut req = Request::get(path).header(header::HOST, "gatehouse.test").body(Body::empty()).unwrap();
        req.extensions_mut().insert(ConnectInfo(SocketAddr::new("203.0.113.9".parse().unwrap(), 40_000)));
        req
    };
    const BUSY: &str = "/sign-in?provider=google&provider_outcome=busy";
    let location = |res: &Response<Body>| res.headers().get(header::LOCATION).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let mut spent = None;
    for _ in 0..500 {
        let (res, body) = send(&app, get_from("/auth/google/callback?state=made-up&code=x")).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{body}");
        if location(&res) == BUSY {
            spent = Some(res);
            break;
        }
        // (until then: the made-up state's own answer)
        assert_eq!(location(&res), "/sign-in?provider=google&provider_outcome=unknown_state");
    }
    let res = spent.expect("the callback has a budget");
    let wait: u64 = res.headers()[header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    for spelled in ["/auth/g%6Fogle/callback?state=made-up&code=x", "/auth/%67oogle/%63allback?state=made-up&code=x"] {
        let (res, body) = send(&app, get_from(spelled)).await;
        assert_eq!((res.status(), location(&res)), (StatusCode::SEE_OTHER, BUSY.to_string()), "{spelled}: {body}");
    }
    // a signed-in browser (back from connecting or re-verifying) is told on Security & Access
    let (res, body) = sign_up_from(&app, &db, "198.51.100.9", "ada@example.test").await;
    assert_eq!(res.status(), StatusCode::OK, "{body}");
    let session = session_cookie(&res).expect("signed in");
    let mut req = get_from("/auth/google/callback?state=made-up&code=x");
    req.headers_mut().insert(header::COOKIE, session.parse().unwrap());
    let (res, body) = send(&app, req).await;
    assert_eq!(
        (res.status(), location(&res)),
        (StatusCode::SEE_OTHER, "/settings/security?provider=google&provider_outcome=busy#connected-accounts".to_string()),
        "{body}"
    );
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn addresses_in_one_ipv6_64_share_a_budget_and_another_64_has_its_own(db: PgPool) {
    let (app, _) = app_with(db.clone(), &[("GATEHOUSE_LIMITS_PASSWORD_BURST", "2"), ("GATEHOUSE_LIMITS_PASSWORD_PER_MINUTE", "1")]);
    for ip in ["2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:fffe"] {
        let (res, body) = sign_in_from(&app, ip, "nobody@example.test", WRONG).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{ip}: {body}");
    }
    let (res, body) = sign_in_from(&app, "2001:db8:1:2:abcd::9", "nobody@example.test", WRONG).await;
    assert_rate_limited(&res, &body);
    let (res, body) = sign_in_from(&app, "2001:db8:1:3::1", "nobody@example.test", WRONG).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{body}");
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_budget_and_a_spoofed_header_buys_nothing(db: PgPool) {
    let (app, _) = app_with(db.clone(),
        &[
            ("GATEHOUSE_SITE_TRUSTED_PROXIES", "[\"10.0.0.2\"]"),
            ("GATEHOUSE_LIMITS_PASSWORD_BURST", "1"),
            ("GATEHOUSE_LIMITS_PASSWORD_PER_MINUTE", "1"),
        ],
    );
    let form = [("email", "nobody@example.test"), ("password", WRONG)];
    let attempt = |peer: &'static str, xff: &'static str| {
        let app = app.clone();
        async move { send(&app, post_from(peer, "/api/auth/sign-in", &form, Some(xff), None)).await }
    };
    // through the proxy: the forwarded address counts, not the proxy's
    let (res, _) = attempt("10.0.0.2", "203.0.113.20").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let (res, body) = attempt("10.0.0.2", "203.0.113.20").await;
    assert_rate_limited(&res, &body);
    let (res, _) = attempt("10.0.0.2", "203.0.113.21").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // directly from an untrusted peer, a new X-Forwarded-For each time does not buy a new budget
    let (res, _) = attempt("198.51.100.9", "203.0.113.22").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let (res, body) = attempt("198.51.100.9", "203.0.113.23").await;
    assert_rate_limited(&res, &body);
}

/// With the real (OWASP) argon2 parameters, 2 hashes at a time and 4 waiting: of 200 sign-ins at
/// once, those beyond the queue answer 503 Busy at once (no hash), none fails with 500, and every
/// admitted one gets its real answer (200 for the right password, 401 for an unknown account).
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn two_hundred_concurrent_sign_ins_beyond_the_queue_answer_503_at_once_and_none_500(db: PgPool) {
    let (app, state) = app_with(db.clone(),
        &[
            ("GATEHOUSE_ARGON2_MEMORY_KIB", "19456"),
            ("GATEHOUSE_ARGON2_ITERATIONS", "2"),
            ("GATEHOUSE_ARGON2_MAX_CONCURRENT", "2"),
            ("GATEHOUSE_ARGON2_MAX_QUEUE", "4"),
            ("GATEHOUSE_DATABASE_ACQUIRE_TIMEOUT_SECONDS", "30"),
            // simultaneous right passwords for one account meet its throttle by design (attempts
            // count before they are checked); this test is about the queue
            ("GATEHOUSE_THROTTLE_FREE_ATTEMPTS", "99"),
            ("GATEHOUSE_THROTTLE_LOCKOUT_AFTER", "100"),
        ],
    );
    assert_eq!(state.config.argon2.memory_kib, 19_456);
    let (res, body) = sign_up_from(&app, &db, "198.51.100.1", "ada@example.test").await;
    assert_eq!(res.status(), StatusCode::OK, "{body}");
    let hashes_before = state.services.hasher.calls();

    let mut burst = Vec::new();
    for i in 0..200u32 {
        let app = app.clone();
        burst.push(tokio::spawn(async move {
            // every request from its own address: this is about the queue, not the rate limits
            let peer = format!("10.1.{}.{}", i / 200, i % 200 + 1);
            let (email, password) = if i % 2 == 0 { ("ada@example.test".to_string(), PW) } else { (format!("nobody{i}@example.test"), WRONG) };
            let started = std::time::Instant::now();
            let (res, body) = send(&app, post_from(&peer, "/api/auth/sign-in", &[("email", &email), ("password", password)], None, None)).await;
            (i, res, body, started.elapsed())
        }));
    }
    let (mut ok, mut unauthorized, mut busy) = (0u64, 0u64, 0u64);
    for task in burst {
        let (i, res, body, _) = task.await.unwrap();
        match res.status() {
            StatusCode::OK => {
                assert_eq!(i % 2, 0, "only the right password signs in");
                assert!(session_cookie(&res).is_some());
                ok += 1;
            }
            StatusCode::UNAUTHORIZED => {
                assert_eq!(i % 2, 1, "the right password was refused: {body}");
                unauthorized += 1;
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                let seconds = retry_after(&res);
                assert!((1..=30).contains(&seconds), "{seconds}");
                let err: AppError = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
                assert_eq!(err, AppError::Busy { retry_after_seconds: seconds });
                assert!(err.to_string().starts_with("Gatehouse is busy right now. Wait "), "{err}");
                assert!(session_cookie(&res).is_none());
                busy += 1;
            }
            other => panic!("request {i} answered {other}: {body}"),
        }
    }
    println!("200 simultaneous sign-ins: {ok} answered 200, {unauthorized} 401, {busy} 503");
    assert!(busy > 0, "the excess should have been shed (ok {ok}, 401 {unauthorized})");
    assert!(ok > 0 && unauthorized > 0, "admitted requests get their real answer (ok {ok}, 401 {unauthorized}, 503 {busy})");
    assert_eq!(ok + unauthorized + busy, 200);
    assert_eq!(
        state.services.hasher.calls() - hashes_before,
        ok + unauthorized,
        "each admitted sign-in cost exactly one hash, each refused one none"
    );
    assert_eq!(state.services.hasher.admitted(), 0, "the queue is empty again");
}

/// Beginning a passkey sign-in stores nothing (the browser's cookie carries the ceremony): of 100
/// begins from one address, the request budget's 30 answer options and a ceremony cookie, the rest
/// 429, and no table holds a row for any of them; another address still begins.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_flood_of_passkey_begins_stores_nothing_and_stops_at_the_request_budget(db: PgPool) {
    // the production burst; one more a minute, so none comes back during the test
    let (app, state) = app_with(db.clone(), &[("GATEHOUSE_LIMITS_PASSKEY_PER_MINUTE", "1")]);
    let burst = state.config.limits.passkey_burst;
    assert_eq!(burst, 30);
    let (mut begun, mut limited) = (0, 0);
    for _ in 0..4 {
        let mut tasks = Vec::new();
        for _ in 0..25 {
            let app = app.clone();
            tasks.push(tokio::spawn(async move {
                send(&app, post_from("203.0.113.30", "/api/auth/passkey/begin", &[("autofill", "true")], None, None)).await
            }));
        }
        for t in tasks {
            let (res, body) = t.await.unwrap();
            if res.status() == StatusCode::OK {
                assert!(cookie(&res, "__Host-gatehouse-passkey").is_some(), "a ceremony cookie");
                assert!(body.contains("challenge"), "{body}");
                begun += 1;
            } else {
                assert_rate_limited(&res, &body);
                assert!(cookie(&res, "__Host-gatehouse-passkey").is_none());
                limited += 1;
            }
        }
    }
    assert_eq!((begun, limited), (burst, 100 - burst));
    assert_eq!(rows(&db, "webauthn_ceremonies").await, 0);
    assert_eq!(rows(&db, "passkey_sign_ins_finished").await, 0);
    let (res, body) = send(&app, post_from("203.0.113.31", "/api/auth/passkey/begin", &[("autofill", "true")], None, None)).await;
    assert_eq!(res.status(), StatusCode::OK, "{body}");
}

/// A ceremony cookie the server did not seal as it is (changed, made up, or not base64) finishes
/// nothing: 422 with the sentence the page shows, and no session.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_changed_or_made_up_ceremony_cookie_is_refused_as_expired(db: PgPool) {
    use base64::Engine;
    let (app, _) = app_with(db.clone(), &[]);
    let (res, _) = send(&app, post_from("203.0.113.40", "/api/auth/passkey/begin", &[], None, None)).await;
    let jar = cookie(&res, "__Host-gatehouse-passkey").expect("a ceremony cookie");
    let value = jar.split_once('=').unwrap().1;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut raw = b64.decode(value).unwrap();
    // an expiry about 18 hours later, the MAC left as it was
    raw[16 + 5] ^= 0x01;
    let changed = format!("__Host-gatehouse-passkey={}", b64.encode(&raw));
    let made_up = format!("__Host-gatehouse-passkey={}", b64.encode([7u8; 120]));
    let fake = r#"{"id":"AAAA","rawId":"AAAA","type":"public-key","response":{"clientDataJSON":"e30","authenticatorData":"AAAA","signature":"AAAA","userHandle":null},"clientExtensionResults":{}}"#;
    for jar in [changed.as_str(), made_up.as_str(), "__Host-gatehouse-passkey=not*base64", "__Host-gatehouse-passkey="] {
        let (res, body) = send(&app, post_from("203.0.113.40", "/api/auth/passkey/finish", &[("credential", fake)], None, Some(jar))).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{jar}: {body}");
        assert!(body.contains("The passkey request expired or was already used. Try again."), "{body}");
        assert!(session_cookie(&res).is_none());
    }
    assert_eq!(rows(&db, "passkey_sign_ins_finished").await, 0);
}
