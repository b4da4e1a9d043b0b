//! Email over HTTP: sign-up and "Forgot password?" answer alike whatever the address, emailed links'
//! pages, and the email previews.
use axum::body::Body;
use axum::Router;
use http::{header, Request, Response, StatusCode};
use server::{router, AppState, Config};
use sqlx::PgPool;

use testkit::server::{send, CHEAP_HASHING, FROM_SITE_ORIGIN, ORIGIN};
use testkit::PW;

fn app_with(db: PgPool, extra: &[(&str, &str)]) -> Router {
    let env = testkit::server::env(&[CHEAP_HASHING, FROM_SITE_ORIGIN, extra].concat());
    let config = Config::from_toml(include_str!("../../Leptos.toml"), env).unwrap();
    router(AppState::new(config, db, domain::clock::Clock::system()).unwrap())
}

async fn post(app: &Router, path: &str, form: &[(&str, &str)]) -> (Response<Body>, String) {
    let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
    let req = Request::post(path)
        .header(header::HOST, "gatehouse.test")
        .header(header::ORIGIN, ORIGIN)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap();
    send(app, req).await
}

async fn get(app: &Router, path: &str) -> (Response<Body>, String) {
    send(app, Request::get(path).header(header::HOST, "gatehouse.test").body(Body::empty()).unwrap()).await
}

async fn token(db: &PgPool, to: &str, path: &str) -> String {
    let text: String = sqlx::query_scalar(testkit::NEWEST_MAIL_TEXT).bind(to).fetch_one(db).await.unwrap();
    testkit::link_token(&text, path).expect("a link in the email")
}

/// Everything a requester sees of a response: status, headers but the request id, body.
fn seen(res: &Response<Body>, body: &str) -> (StatusCode, Vec<(String, String)>, String) {
    let headers = res
        .headers()
        .iter()
        .filter(|(k, _)| *k != "x-request-id")
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    (res.status(), headers, body.to_string())
}

async fn signed_up(app: &Router, db: &PgPool, email: &str) {
    post(app, "/api/auth/sign-up", &[("email", email)]).await;
    let t = token(db, email, "/sign-up/finish").await;
    let (res, body) = post(app, "/api/auth/sign-up/finish", &[("token", &t), ("password", PW)]).await;
    assert_eq!(res.status(), StatusCode::OK, "{body}");
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn sign_up_answers_a_taken_and_a_new_address_identically_and_sets_no_cookie(db: PgPool) {
    let app = app_with(db.clone(), &[]);
    signed_up(&app, &db, "ada@example.test").await;
    let (res, body) = post(&app, "/api/auth/sign-up", &[("email", "ada@example.test"), ("display_name", "Eve")]).await;
    let taken = seen(&res, &body);
    let (res, body) = post(&app, "/api/auth/sign-up", &[("email", "eve@example.test"), ("display_name", "Eve")]).await;
    let new = seen(&res, &body);
    assert_eq!(taken, new);
    assert_eq!(new.0, StatusCode::OK);
    assert!(!new.1.iter().any(|(k, _)| k == "set-cookie"), "nobody is signed in by asking: {:?}", new.1);
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(&db).await.unwrap();
    assert_eq!(users, 1, "no account for eve until the link is followed");
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn forgot_password_answers_a_known_and_an_unknown_address_identically(db: PgPool) {
    let app = app_with(db.clone(), &[]);
    signed_up(&app, &db, "ada@example.test").await;
    let (res, body) = post(&app, "/api/auth/forgot-password", &[("email", "ada@example.test")]).await;
    let known = seen(&res, &body);
    let (res, body) = post(&app, "/api/auth/forgot-password", &[("email", "nobody@example.test")]).await;
    assert_eq!(known, seen(&res, &body));
    assert_eq!(known.0, StatusCode::OK);
    // the work happens after the answer: the known address's link is queued soon after, the
    // unknown address gets nothing
    let mut queued = 0i64;
    for _ in 0..100 {
        queued = sqlx::query_scalar("SELECT count(*) FROM email_outbox WHERE kind = 'password_reset' AND to_address = 'ada@example.test'")
            .fetch_one(&db)
            .await
            .unwrap();
        if queued == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(queued, 1, "the reset email for the known address");
    let others: i64 = sqlx::query_scalar("SELECT count(*) FROM email_outbox WHERE to_address = 'nobody@example.test'").fetch_one(&db).await.unwrap();
    assert_eq!(others, 0);
    // a malformed address is said so (that reveals nothing about accounts)
    let (res, body) = post(&app, "/api/auth/forgot-password", &[("email", "ada@example")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("name@example.com"), "{body}");
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn a_used_link_answers_410_and_a_made_up_one_400_with_a_sentence(db: PgPool) {
    let app = app_with(db.clone(), &[]);
    post(&app, "/api/auth/sign-up", &[("email", "grace@example.test")]).await;
    let t = token(&db, "grace@example.test", "/sign-up/finish").await;
    let (res, body) = get(&app, &format!("/api/auth/sign-up/link?token={t}")).await;
    assert_eq!(res.status(), StatusCode::OK, "{body}");
    assert!(body.contains("grace@example.test"), "{body}");
    let (res, _) = post(&app, "/api/auth/sign-up/finish", &[("token", &t), ("password", PW)]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let (res, body) = post(&app, "/api/auth/sign-up/finish", &[("token", &t), ("password", PW)]).await;
    assert_eq!(res.status(), StatusCode::GONE);
    let said = serde_json::from_str::<app::error::AppError>(&body).unwrap();
    assert_eq!(said, app::error::AppError::LinkUnusable(app::error::LinkIssue::Used));
    assert_eq!(said.to_string(), "This link was already used, and each link works only once. Sign in, or ask for a new link.");
    let (res, body) = get(&app, "/api/auth/reset-password/link?token=not-a-token").await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(serde_json::from_str::<app::error::AppError>(&body).unwrap(), app::error::AppError::LinkUnusable(app::error::LinkIssue::Invalid));
}

/// Whoever asks for a sign-up link types the name, and may not own the address: the link's page
/// shows it, and the owner's choice there (an empty one too) is the account's name; without one,
/// the asked-for name stays. A name over the limit is said at its field, and nothing is used up.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn finishing_a_sign_up_keeps_or_changes_the_name_the_link_was_asked_with(db: PgPool) {
    let app = app_with(db.clone(), &[]);
    let name_of = |email: &'static str| {
        let db = db.clone();
        async move { sqlx::query_scalar::<_, Option<String>>("SELECT display_name FROM users WHERE email = $1").bind(email).fetch_one(&db).await.unwrap() }
    };
    post(&app, "/api/auth/sign-up", &[("email", "grace@example.test"), ("display_name", "Visit evil.example now")]).await;
    let t = token(&db, "grace@example.test", "/sign-up/finish").await;
    let (_, body) = get(&app, &format!("/sign-up/finish?token={t}")).await;
    assert!(body.contains("Visit evil.example now") && body.contains("Display name (optional)"), "the page shows the name to keep or change");
    let (res, body) = post(&app, "/api/auth/sign-up/finish", &[("token", &t), ("password", PW), ("display_name", &"x".repeat(101))]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        serde_json::from_str::<app::error::AppError>(&body).unwrap(),
        app::error::AppError::Invalid { field: "display_name".into(), message: "Use at most 100 characters for your name.".into() }
    );
    let (res, body) = post(&app, "/api/auth/sign-up/finish", &[("token", &t), ("password", PW), ("display_name", "  ")]).await;
    assert_eq!(res.status(), StatusCode::OK, "{body}");
    assert_eq!(name_of("grace@example.test").await, None, "emptied: no name at all");

    post(&app, "/api/auth/sign-up", &[("email", "ada@example.test"), ("display_name", "Ada")]).await;
    let t = token(&db, "ada@example.test", "/sign-up/finish").await;
    post(&app, "/api/auth/sign-up/finish", &[("token", &t), ("password", PW), ("display_name", "Ada Lovelace")]).await;
    assert_eq!(name_of("ada@example.test").await.as_deref(), Some("Ada Lovelace"));

    post(&app, "/api/auth/sign-up", &[("email", "kim@example.test"), ("display_name", "Kim")]).await;
    let t = token(&db, "kim@example.test", "/sign-up/finish").await;
    post(&app, "/api/auth/sign-up/finish", &[("token", &t), ("password", PW)]).await;
    assert_eq!(name_of("kim@example.test").await.as_deref(), Some("Kim"), "not sent: the asked-for name stays");
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn the_link_pages_render_on_the_server_without_using_the_link(db: PgPool) {
    let app = app_with(db.clone(), &[]);
    post(&app, "/api/auth/sign-up", &[("email", "grace@example.test")]).await;
    let t = token(&db, "grace@example.test", "/sign-up/finish").await;
    let (res, body) = get(&app, &format!("/sign-up/finish?token={t}")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(body.contains("Finish creating your account") && body.contains("grace@example.test"), "{body}");
    let used: bool = sqlx::query_scalar("SELECT used_at IS NOT NULL FROM sign_up_requests").fetch_one(&db).await.unwrap();
    assert!(!used, "opening the page (a mail scanner would) uses nothing");
    let (_, body) = get(&app, "/reset-password?token=made-up").await;
    assert!(body.contains("This link isn") && body.contains("Get a new link"), "{body}");
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn email_previews_render_each_kind_framable_by_the_site_only_when_previews_are_on(db: PgPool) {
    let off = app_with(db.clone(), &[]);
    let (res, _) = get(&off, "/previews/emails/password_reset").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let on = app_with(db, &[("GATEHOUSE_PREVIEWS_ENABLED", "true")]);
    for kind in ["confirm_sign_up", "account_exists", "password_reset", "password_reset_done"] {
        let (res, body) = get(&on, &format!("/previews/emails/{kind}?scheme=dark")).await;
        assert_eq!(res.status(), StatusCode::OK, "{kind}");
        assert!(body.starts_with("<!DOCTYPE html>") && body.contains("@media all"), "{kind}: forced dark");
        assert_eq!(res.headers()["x-frame-options"], "SAMEORIGIN");
        let csp = res.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'self'") && csp.contains("default-src 'none'"), "{csp}");
    }
    let (_, body) = get(&on, "/previews/emails/password_reset?scheme=light").await;
    assert!(body.contains("@media not all") && body.contains("Ada &#60;Lovelace&#62; &#38; Co"), "the name is escaped: {body}");
    let (res, _) = get(&on, "/previews/emails/nope").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}
