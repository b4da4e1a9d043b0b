//! Configuration hardening over HTTP: the committed defaults serve no previews, HSTS follows the
//! public origin's scheme, and state-changing requests must come from exactly the public origin
//! (scheme included), whatever the Host says.
use axum::body::Body;
use axum::Router;
use http::{header, Request, StatusCode};
use server::{router, AppState, Config};
use sqlx::PgPool;

use testkit::server::{send, CHEAP_HASHING};

const HSTS: &str = "max-age=63072000; includeSubDomains";

/// The committed Leptos.toml with what a test machine needs (lists, keys, cheap hashing) and `extra`
/// on top; nothing about demo accounts, previews or origins unless `extra` says so.
fn config(extra: &[(&str, &str)]) -> Config {
    let env = testkit::server::env(&[CHEAP_HASHING, extra].concat());
    Config::from_toml(include_str!("../../Leptos.toml"), env).unwrap()
}

fn app_with(db: PgPool, extra: &[(&str, &str)]) -> Router {
    router(AppState::new(config(extra), db, domain::clock::Clock::system()).unwrap())
}

/// Served at https://gatehouse.test (as behind a TLS-terminating proxy).
fn https_site(db: PgPool) -> Router {
    app_with(db, &[("GATEHOUSE_PASSKEYS_RP_ID", "gatehouse.test"), ("GATEHOUSE_PASSKEYS_ORIGIN", "https://gatehouse.test")])
}

/// Served at http://gatehouse.test.
fn http_site(db: PgPool) -> Router {
    app_with(db, &[("GATEHOUSE_PASSKEYS_RP_ID", "gatehouse.test"), ("GATEHOUSE_PASSKEYS_ORIGIN", "http://gatehouse.test")])
}

fn get(path: &str, cookie: Option<&str>) -> Request<Body> {
    let mut b = Request::get(path).header(header::HOST, "gatehouse.test").header(header::ACCEPT, "text/html");
    if let Some(c) = cookie {
        b = b.header(header::COOKIE, c);
    }
    b.body(Body::empty()).unwrap()
}

/// A form post to `path` with this Host and Origin.
fn post_from(path: &str, host: &str, origin: &str, form: &[(&str, &str)]) -> Request<Body> {
    let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
    Request::post(path)
        .header(header::HOST, host)
        .header(header::ORIGIN, origin)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::CONTENT_LENGTH, body.len())
        .body(Body::from(body))
        .unwrap()
}

fn sign_up_form(email: &str) -> [(&str, &str); 2] {
    [("email", email), ("display_name", "")]
}

/// Sign-ups that went through (each queues an email).
async fn accounts(db: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM email_outbox WHERE kind = 'confirm_sign_up'").fetch_one(db).await.unwrap()
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn the_committed_configuration_serves_no_previews(db: PgPool) {
    let app = app_with(db.clone(), &[]);
    let (res, _) = send(&app, get("/previews", None)).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    // development turns them on explicitly (as `make run` does)
    let dev = app_with(db, &[("GATEHOUSE_PREVIEWS_ENABLED", "true")]);
    let (res, body) = send(&dev, get("/previews", None)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(body.contains("data-preview="), "{body}");
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn every_response_of_an_https_site_carries_hsts(db: PgPool) {
    let app = https_site(db);
    let responses = [
        ("a page", send(&app, get("/sign-in", None)).await.0, StatusCode::OK),
        ("a redirect", send(&app, get("/settings/security", None)).await.0, StatusCode::SEE_OTHER),
        ("a static file", send(&app, get("/healthz", None)).await.0, StatusCode::OK),
        ("a missing page", send(&app, get("/previews", None)).await.0, StatusCode::NOT_FOUND),
        (
            "a refused cross-site post",
            send(&app, post_from("/api/auth/sign-up", "gatehouse.test", "https://evil.example", &sign_up_form("eve@example.test"))).await.0,
            StatusCode::FORBIDDEN,
        ),
    ];
    for (what, res, status) in responses {
        assert_eq!(res.status(), status, "{what}");
        assert_eq!(res.headers().get_all(header::STRICT_TRANSPORT_SECURITY).iter().collect::<Vec<_>>(), [HSTS], "{what}");
    }
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn an_http_site_sends_no_hsts(db: PgPool) {
    let app = http_site(db);
    for path in ["/sign-in", "/healthz"] {
        let (res, _) = send(&app, get(path, None)).await;
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert!(!res.headers().contains_key(header::STRICT_TRANSPORT_SECURITY), "{path}");
    }
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn an_https_site_refuses_posts_from_its_http_twin(db: PgPool) {
    let app = https_site(db.clone());
    let (res, _) = send(&app, post_from("/api/auth/sign-up", "gatehouse.test", "http://gatehouse.test", &sign_up_form("eve@example.test"))).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(accounts(&db).await, 0);
    let (res, body) = send(&app, post_from("/api/auth/sign-up", "gatehouse.test", "https://gatehouse.test", &sign_up_form("ada@example.test"))).await;
    assert_eq!(res.status(), StatusCode::OK, "{body}");
    assert_eq!(accounts(&db).await, 1);
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn an_http_site_refuses_posts_from_its_https_twin(db: PgPool) {
    let app = http_site(db.clone());
    let (res, _) = send(&app, post_from("/api/auth/sign-up", "gatehouse.test", "https://gatehouse.test", &sign_up_form("eve@example.test"))).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(accounts(&db).await, 0);
}

#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn behind_a_proxy_the_public_origin_is_accepted_whatever_the_host(db: PgPool) {
    let app = https_site(db.clone());
    // the proxy passes its own upstream name as Host
    let (res, body) = send(&app, post_from("/api/auth/sign-up", "10.0.0.5:3000", "https://gatehouse.test", &sign_up_form("ada@example.test"))).await;
    assert_eq!(res.status(), StatusCode::OK, "{body}");
    // and a Host equal to the attacker's Origin proves nothing
    let (res, _) = send(&app, post_from("/api/auth/sign-up", "evil.example", "https://evil.example", &sign_up_form("eve@example.test"))).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // another port of the same host is another origin
    let (res, _) = send(&app, post_from("/api/auth/sign-up", "gatehouse.test:8443", "https://gatehouse.test:8443", &sign_up_form("eve@example.test"))).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(accounts(&db).await, 1);
}

/// With Postgres unreachable the 503 page links back to the path, which is the client's text: a `"`
/// in it (valid in a request path) must not end the link's attribute.
#[tokio::test]
async fn the_unavailable_page_does_not_let_the_path_break_out_of_its_link() {
    let cfg = config(&[("DATABASE_URL", "postgres://gatehouse@127.0.0.1:9/none"), ("GATEHOUSE_DATABASE_ACQUIRE_TIMEOUT_SECONDS", "1")]);
    let db = server::pool(&cfg).unwrap();
    let app = router(AppState::new(cfg, db, domain::clock::Clock::system()).unwrap());
    let cookie = "__Host-gatehouse-session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let (res, body) = send(&app, get(r#"/x"onfocus="alert(1)"autofocus="#, Some(cookie))).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains(r#"<a href="/x&quot;onfocus=&quot;alert(1)&quot;autofocus=">Try again</a>"#), "{body}");
    assert!(!body.contains(r#""onfocus"#), "{body}");
}
