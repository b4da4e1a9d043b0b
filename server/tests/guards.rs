//! Guards in front of every action, table-driven over the server functions: the re-verification
//! window for sensitive changes, the cross-site check for every POST, and the device cookie, which
//! decides which throttle counts a browser's guesses but never signs anyone in.
use axum::body::Body;
use axum::Router;
use domain::request::ClientInfo;
use domain::Services;
use http::{header, Method, Request, Response, StatusCode};
use server::{router, AppState, Config};
use sqlx::PgPool;

use testkit::server::{send, CHEAP_HASHING, FROM_SITE_ORIGIN, ORIGIN};
use testkit::PW;

fn state(db: PgPool) -> AppState {
    let env = testkit::server::env(&[CHEAP_HASHING, FROM_SITE_ORIGIN].concat());
    let config = Config::from_toml(include_str!("../../Leptos.toml"), env).unwrap();
    AppState::new(config, db, domain::clock::Clock::system()).unwrap()
}

fn form(path: &str, fields: &[(&str, &str)], cookie: Option<&str>, headers: &[(&str, &str)]) -> Request<Body> {
    let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
    let mut b = Request::post(path)
        .header(header::HOST, "gatehouse.test")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::CONTENT_LENGTH, body.len());
    if let Some(c) = cookie {
        b = b.header(header::COOKIE, c);
    }
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Body::from(body)).unwrap()
}

/// A same-origin form post, as the browser sends it.
async fn post(app: &Router, path: &str, fields: &[(&str, &str)], cookie: Option<&str>) -> (Response<Body>, String) {
    send(app, form(path, fields, cookie, &[("origin", ORIGIN)])).await
}

fn set_cookie(res: &Response<Body>, name: &str) -> Option<String> {
    res.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")) && !v.contains("Max-Age=0"))
        .map(str::to_string)
}

fn jar(raw: &str) -> String {
    raw.split(';').next().unwrap().to_string()
}

/// Everything a sensitive action could change, as text (sessions without their last-active time).
async fn snapshot(db: &PgPool) -> String {
    let mut out = String::new();
    for q in [
        "SELECT id, email, password_hash, password_changed_at FROM users ORDER BY id",
        "SELECT id, token_hash, verified_at, revoked_at, revoked_reason FROM sessions ORDER BY id",
        "SELECT id, name, credential FROM passkeys ORDER BY id",
        "SELECT user_id, secret_encrypted, last_used_step FROM totp_credentials ORDER BY user_id",
        "SELECT session_id FROM totp_enrolments ORDER BY session_id",
        "SELECT id, code_hash, used_at FROM backup_codes ORDER BY id",
        "SELECT id, kind FROM webauthn_ceremonies ORDER BY id",
        "SELECT id FROM pending_sign_ins ORDER BY id",
        "SELECT id, kind FROM security_events ORDER BY id",
        "SELECT user_id, device, failed_attempts FROM sign_in_throttles ORDER BY user_id, device",
    ] {
        let rows: Vec<String> = sqlx::query_scalar(&format!("SELECT t::text FROM ({q}) t")).fetch_all(db).await.unwrap();
        out.push_str(&format!("{q}\n{}\n", rows.join("\n")));
    }
    out
}

/// Asks to sign up, follows the emailed link and chooses the password `PW`: the finishing response.
async fn sign_up(app: &Router, db: &PgPool, email: &str) -> (Response<Body>, String) {
    let (res, body) = post(app, "/api/auth/sign-up", &[("email", email)], None).await;
    assert_eq!(res.status(), StatusCode::OK, "{body}");
    let text: String = sqlx::query_scalar(testkit::NEWEST_MAIL_TEXT).bind(email).fetch_one(db).await.unwrap();
    let token = testkit::link_token(&text, "/sign-up/finish").expect("a sign-up link");
    post(app, "/api/auth/sign-up/finish", &[("token", &token), ("password", PW)], None).await
}

/// An account with a password, an authenticator app (so turning it off or regenerating codes would
/// change rows), a passkey, and two sessions; answers (this session's cookie, the other session's
/// id, the passkey's id).
async fn full_account(svc: &Services) -> (String, String, String) {
    use domain::auth::{accounts, passkeys, sessions, totp, two_factor};
    let client = ClientInfo::default();
    let user = accounts::create_account(svc, "ada@example.test", None, &domain::secret::Password::new(PW), &client).await.unwrap();
    let signed_in = sessions::start(svc, user, domain::kinds::SignInMethod::Password, &client).await.unwrap();
    let session = sessions::authenticate(svc, &signed_in.token).await.unwrap().unwrap();
    let enrolment = two_factor::begin_enrolment(svc, &session).await.unwrap();
    let secret = testkit::base32_decode(&enrolment.manual_key);
    let code = totp::code_for_step(&secret, totp::step_at(svc.clock.now()));
    two_factor::finish_enrolment(svc, &session, &code, None, &client).await.unwrap();
    let session = sessions::authenticate(svc, &signed_in.token).await.unwrap().unwrap();
    let mut key = testkit::SoftAuthenticator::new(7, uuid::Uuid::nil(), "http://localhost:3000");
    let options = passkeys::begin_registration(svc, &session).await.unwrap();
    passkeys::finish_registration(svc, &session, &key.create(&options), "", &client).await.unwrap();
    let passkey: uuid::Uuid = sqlx::query_scalar("SELECT id FROM passkeys").fetch_one(&svc.db).await.unwrap();
    let other = sessions::start(svc, user, domain::kinds::SignInMethod::PasswordAndAuthenticator, &client).await.unwrap();
    let other = sessions::authenticate(svc, &other.token).await.unwrap().unwrap();
    (format!("__Host-gatehouse-session={}", signed_in.token.expose()), other.session_id.to_string(), passkey.to_string())
}

/// Issue #12, 6: with a verification 11 minutes old, every sensitive server function answers 403
/// `ReverifyRequired` and changes nothing; renaming a passkey is not sensitive.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn every_sensitive_action_after_the_window_asks_to_reverify_and_changes_nothing(db: PgPool) {
    let state = state(db.clone());
    let svc = state.services.clone();
    let app = router(state);
    let (cookie, other_session, passkey) = full_account(&svc).await;
    sqlx::query("UPDATE sessions SET verified_at = now() - interval '11 minutes'").execute(&db).await.unwrap();
    let before = snapshot(&db).await;
    let cases: &[(&str, &[(&str, &str)])] = &[
        ("/api/security/password/set", &[("new_password", "another long passphrase here")]),
        ("/api/security/sessions/revoke", &[("session_id", &other_session)]),
        ("/api/security/sessions/revoke-others", &[]),
        ("/api/security/sessions/sign-out-everywhere", &[]),
        ("/api/security/passkeys/begin", &[]),
        ("/api/security/passkeys/finish", &[("credential", "{}"), ("name", "Laptop")]),
        ("/api/security/passkeys/remove", &[("id", &passkey)]),
        ("/api/security/two-factor/begin", &[]),
        ("/api/security/two-factor/finish", &[("code", "123456")]),
        ("/api/security/two-factor/backup-codes", &[]),
        ("/api/security/two-factor/change/begin", &[]),
        ("/api/security/two-factor/change/finish", &[("code", "123456")]),
        ("/api/security/two-factor/disable", &[]),
    ];
    for (path, fields) in cases {
        let (res, body) = post(&app, path, fields, Some(&cookie)).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path}: {body}");
        assert_eq!(serde_json::from_str::<app::error::AppError>(&body).unwrap(), app::error::AppError::ReverifyRequired, "{path}");
        assert_eq!(snapshot(&db).await, before, "{path} changed something");
    }
    // renaming is not sensitive: it works without re-verifying
    let (res, body) = post(&app, "/api/security/passkeys/rename", &[("id", &passkey), ("name", "Work laptop")], Some(&cookie)).await;
    assert_eq!(res.status(), StatusCode::OK, "{body}");
    // and once re-verified, revoking the other session works (the paths above are the real ones)
    let (res, body) = post(&app, "/api/security/reverify", &[("password", PW)], Some(&cookie)).await;
    assert_eq!(res.status(), StatusCode::OK, "{body}");
    let cookie = jar(&set_cookie(&res, "__Host-gatehouse-session").expect("a new session token"));
    let (res, body) = post(&app, "/api/security/sessions/revoke", &[("session_id", &other_session)], Some(&cookie)).await;
    assert_eq!(res.status(), StatusCode::OK, "{body}");
}

/// Issue #12, 6: a successful re-verification rotates the session token; the old one is refused
/// on its very next request.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn re_verifying_gives_a_new_session_token_and_the_old_one_stops_working(db: PgPool) {
    let app = router(state(db.clone()));
    let (res, _) = sign_up(&app, &db, "ada@example.test").await;
    let old = jar(&set_cookie(&res, "__Host-gatehouse-session").unwrap());
    let (res, body) = post(&app, "/api/security/reverify", &[("password", PW)], Some(&old)).await;
    assert_eq!(res.status(), StatusCode::OK, "{body}");
    let new = jar(&set_cookie(&res, "__Host-gatehouse-session").unwrap());
    assert_ne!(new, old);
    let (res, _) = post(&app, "/api/security/overview", &[], Some(&old)).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "the old token is refused at once");
    let (res, body) = post(&app, "/api/security/overview", &[], Some(&new)).await;
    assert_eq!(res.status(), StatusCode::OK, "{body}");
}

/// Issue #12, 9: every POST server function refuses a cross-site `Origin`, a cross-site
/// `Sec-Fetch-Site` and a missing `Origin` with 403, and nothing changes. The list is the
/// framework's own registry, so a new server function is covered without editing this test.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn every_post_server_function_refuses_cross_site_requests_and_changes_nothing(db: PgPool) {
    let state = state(db.clone());
    let svc = state.services.clone();
    let app = router(state);
    let (cookie, other_session, passkey) = full_account(&svc).await;
    let before = snapshot(&db).await;
    let mut paths: Vec<&str> = leptos::server_fn::axum::server_fn_paths().filter(|(_, m)| *m == Method::POST).map(|(p, _)| p).collect();
    paths.sort();
    assert!(paths.len() >= 25, "the registry lists the server functions: {paths:?}");
    for must in ["/api/auth/sign-in", "/api/security/sessions/sign-out-everywhere", "/api/security/two-factor/disable"] {
        assert!(paths.contains(&must), "{must} missing from {paths:?}");
    }
    let fields: &[(&str, &str)] = &[
        ("email", "ada@example.test"),
        ("password", PW),
        ("session_id", &other_session),
        ("id", &passkey),
        ("name", "x"),
        ("new_password", "another long passphrase here"),
        ("current_password", PW),
        ("code", "123456"),
    ];
    for path in paths {
        for headers in [
            &[("origin", "https://evil.example")][..],
            &[("origin", ORIGIN), ("sec-fetch-site", "cross-site")][..],
            &[][..],
        ] {
            let (res, body) = send(&app, form(path, fields, Some(&cookie), headers)).await;
            assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path} with {headers:?}: {body}");
        }
    }
    assert_eq!(snapshot(&db).await, before);
}

/// Issue #12, 2: signing in sets a long-lived, HttpOnly, host-only device cookie; it is not a
/// session (alone, or in the session cookie's place), and a browser holding it signs in although
/// someone else locked the account's untrusted path.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn the_device_cookie_lets_its_browser_sign_in_through_a_lock_out_and_is_never_a_session(db: PgPool) {
    let app = router(state(db.clone()));
    let (res, body) = sign_up(&app, &db, "ada@example.test").await;
    assert_eq!(res.status(), StatusCode::OK, "{body}");
    let raw = set_cookie(&res, "__Host-gatehouse-device").expect("a device cookie");
    for attr in ["Path=/", "HttpOnly", "Secure", "SameSite=Lax", "Max-Age=31536000"] {
        assert!(raw.contains(attr), "{raw} lacks {attr}");
    }
    assert!(!raw.contains("Domain="));
    let device = jar(&raw);
    let value = device.split_once('=').unwrap().1.to_string();
    // not a session: alone, or put in the session cookie's place
    for cookie in [device.clone(), format!("__Host-gatehouse-session={value}")] {
        let req = Request::get("/settings/security").header(header::HOST, "gatehouse.test").header(header::COOKIE, &cookie).body(Body::empty()).unwrap();
        let (res, _) = send(&app, req).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{cookie}");
        let (res, _) = post(&app, "/api/security/overview", &[], Some(&cookie)).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{cookie}");
    }
    // someone else locks the untrusted path
    sqlx::query(
        "INSERT INTO sign_in_throttles (user_id, device, failed_attempts, last_failed_at, locked_until)
         SELECT id, '', 50, now(), now() + interval '1 hour' FROM users",
    )
    .execute(&db)
    .await
    .unwrap();
    let sign_in = |cookie: Option<String>| {
        let app = app.clone();
        async move { post(&app, "/api/auth/sign-in", &[("email", "ada@example.test"), ("password", PW)], cookie.as_deref()).await }
    };
    let (res, body) = sign_in(None).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{body}");
    let (res, body) = sign_in(Some(device.clone())).await;
    assert_eq!(res.status(), StatusCode::OK, "the owner's browser signs in: {body}");
    assert!(set_cookie(&res, "__Host-gatehouse-session").is_some());
    // another account's device cookie does not help
    let (res, _) = sign_up(&app, &db, "bob@example.test").await;
    let bobs = jar(&set_cookie(&res, "__Host-gatehouse-device").unwrap());
    let (res, _) = sign_in(Some(bobs)).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}
