//! For the server's tests (feature `server`): the environment a test server is configured with,
//! and one request through the router in-process.
use axum::body::Body;
use axum::http::{Request, Response};
use axum::Router;
use http_body_util::BodyExt;
use tower::ServiceExt;

/// Where the tests' browser requests come from: a second allowed origin (see [`FROM_SITE_ORIGIN`]),
/// while the public origin (`[passkeys] origin`) stays `http://localhost:3000` for passkeys.
pub const ORIGIN: &str = "http://gatehouse.test";

/// Cheap argon2 parameters (256 KiB, one pass) instead of the production ones: tests sign in often.
pub const CHEAP_HASHING: &[(&str, &str)] = &[("GATEHOUSE_ARGON2_MEMORY_KIB", "256"), ("GATEHOUSE_ARGON2_ITERATIONS", "1")];

/// No demo accounts, and state-changing requests from [`ORIGIN`] accepted.
pub const FROM_SITE_ORIGIN: &[(&str, &str)] =
    &[("GATEHOUSE_DEMO_ENABLED", "false"), ("GATEHOUSE_SITE_ALLOWED_ORIGINS", "[\"http://gatehouse.test\"]")];

/// The environment (`server::Config::from_toml`'s second argument) every test server needs: the
/// lists `scripts/setup.sh` installs, the test keys, and a database URL that is never dialled (each
/// test hands `AppState` its own pool); then `extra`, whose pairs win over these. The committed
/// Leptos.toml decides everything else.
pub fn env(extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let base = [
        ("DATABASE_URL", "postgres://unused".to_string()),
        ("GATEHOUSE_PASSWORD_COMMON_LIST", crate::data_file("passwords/common-passwords.txt")),
        ("GATEHOUSE_PASSKEYS_PROVIDER_LIST", crate::data_file("aaguids/aaguids.json")),
        ("GATEHOUSE_SECRETS_TOTP_KEYS", crate::TOTP_KEYS.to_string()),
        ("GATEHOUSE_SECRETS_BACKUP_CODE_KEY", crate::BACKUP_CODE_KEY.to_string()),
        ("GATEHOUSE_SECRETS_DEVICE_COOKIE_KEY", crate::DEVICE_COOKIE_KEY.to_string()),
    ];
    base.into_iter().map(|(k, v)| (k.to_string(), v)).chain(extra.iter().map(|(k, v)| (k.to_string(), v.to_string()))).collect()
}

/// Sends `req` through the router; answers the response (its body taken out) and the body as text.
pub async fn send(app: &Router, req: Request<Body>) -> (Response<Body>, String) {
    let res = app.clone().oneshot(req).await.unwrap();
    let (parts, body) = res.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    (Response::from_parts(parts, Body::empty()), String::from_utf8_lossy(&bytes).into_owned())
}
