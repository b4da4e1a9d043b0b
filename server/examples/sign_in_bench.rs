//! Sign-ins per second: password (argon2id with the configured parameters) against passkey
//! (WebAuthn assertion, P-256), through the whole router in-process (no sockets), in the same run,
//! on this machine. Run by `make bench` (scripts/bench/run.mjs: measure 2, passkey ÷ password, both
//! sides on this same harness) against a fresh database:
//! `cargo run --profile server-release -p server --example sign_in_bench`.
//! BENCH_SECONDS (default 10) per side, in two halves alternating (password, passkey, passkey,
//! password); BENCH_WORKERS (default 8) concurrent sign-ins, one account each. The last line is
//! `SIGN_IN_JSON {…}` for the harness.
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use domain::request::ClientInfo;
use http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

use testkit::PW;

/// Requests as a browser on the site sends them (Host and Origin of the configured origin).
#[derive(Clone)]
struct Site {
    host: String,
    origin: String,
}

impl Site {
    fn post(&self, path: &str, body: String, cookie: Option<&str>) -> Request<Body> {
        let mut b = Request::post(path)
            .header(header::HOST, &self.host)
            .header(header::ORIGIN, &self.origin)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(c) = cookie {
            b = b.header(header::COOKIE, c);
        }
        b.body(Body::from(body)).unwrap()
    }
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let path = std::env::var("GATEHOUSE_CONFIG").unwrap_or_else(|_| "Leptos.toml".into());
    let mut config = server::Config::load(std::path::Path::new(&path)).map_err(|e| e.to_string())?;
    // the bench measures the work of a sign-in, not the per-client-network limits (every request
    // here comes from one unknown network)
    let unlimited = 1_000_000;
    let l = &mut config.limits;
    (l.password_per_minute, l.password_burst, l.passkey_per_minute, l.passkey_burst) = (unlimited, unlimited, unlimited, unlimited);
    let origin = config.passkeys.origin.clone();
    let host = origin.split("://").nth(1).unwrap_or("localhost").to_string();
    let db = server::pool(&config).map_err(|e| e.to_string())?;
    domain::MIGRATOR.run(&db).await.map_err(|e| e.to_string())?;
    let state = server::AppState::new(config, db, domain::clock::Clock::system()).map_err(|e| e.to_string())?;
    let svc = state.services.clone();
    let app = server::router(state);
    let site = Site { host: host.clone(), origin: origin.clone() };
    let seconds: f64 = std::env::var("BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(10.0);
    let workers: usize = std::env::var("BENCH_WORKERS").ok().and_then(|s| s.parse().ok()).unwrap_or(8);

    // one account per worker, each with a passkey on its own software authenticator
    let mut accounts = Vec::new();
    for i in 0..workers {
        let email = format!("bench{i}-{}@example.test", uuid::Uuid::new_v4().simple());
        let user = domain::auth::accounts::create_account(&svc, &email, None, &domain::secret::Password::new(PW.to_string()), &ClientInfo::default())
            .await
            .map_err(|e| format!("{e:?}"))?;
        let signed_in = domain::auth::sessions::start(&svc, user, domain::kinds::SignInMethod::Password, &ClientInfo::default())
            .await
            .map_err(|e| format!("{e:?}"))?;
        let token = signed_in.token;
        let session = domain::auth::sessions::authenticate(&svc, &token).await.map_err(|e| format!("{e:?}"))?.ok_or("no session")?;
        let mut key = testkit::SoftAuthenticator::new(i as u8 + 1, uuid::Uuid::nil(), &origin);
        // a credential id of its own (a credential id belongs to one account ever: a second run
        // against the same database, as make bench's repeat of a missed goal, needs new ones)
        key.credential_id = [*uuid::Uuid::new_v4().as_bytes(), *uuid::Uuid::new_v4().as_bytes()].concat();
        let options = domain::auth::passkeys::begin_registration(&svc, &session).await.map_err(|e| format!("{e:?}"))?;
        domain::auth::passkeys::finish_registration(&svc, &session, &key.create(&options), "", &ClientInfo::default())
            .await
            .map_err(|e| format!("{e:?}"))?;
        accounts.push((email, key));
    }

    // The two sides alternate, A B B A (password, passkey, passkey, password), each half
    // `seconds / 2`, as make bench's other measures do: a slower stretch of the machine falls on
    // both sides, and halves far apart show a disturbed run.
    let half = seconds / 2.0;
    let bodies: Arc<Vec<String>> = Arc::new(
        accounts
            .iter()
            .map(|(email, _)| form_urlencoded::Serializer::new(String::new()).append_pair("email", email).append_pair("password", PW).finish())
            .collect(),
    );
    let password = |seconds| {
        let (app, site, bodies) = (app.clone(), site.clone(), bodies.clone());
        sign_ins(workers, seconds, move |i| {
            let res = app.clone().oneshot(site.post("/api/auth/sign-in", bodies[i].clone(), None));
            async move {
                assert_eq!(res.await.unwrap().status(), StatusCode::OK, "password sign-in failed");
            }
        })
    };
    // (each authenticator is one worker's: its lock is never waited for)
    let keys: Arc<Vec<Mutex<testkit::SoftAuthenticator>>> = Arc::new(accounts.into_iter().map(|(_, key)| Mutex::new(key)).collect());
    let passkey = |seconds| {
        let (app, site, keys) = (app.clone(), site.clone(), keys.clone());
        sign_ins(workers, seconds, move |i| {
            let (app, site, keys) = (app.clone(), site.clone(), keys.clone());
            async move {
                // begin (options + ceremony cookie), the authenticator signs, finish
                let res = app.clone().oneshot(site.post("/api/auth/passkey/begin", "autofill=false".into(), None)).await.unwrap();
                assert_eq!(res.status(), StatusCode::OK, "passkey begin failed");
                let cookie = res
                    .headers()
                    .get_all(header::SET_COOKIE)
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .find(|v| v.starts_with("__Host-gatehouse-passkey="))
                    .map(|v| v.split(';').next().unwrap().to_string())
                    .expect("ceremony cookie");
                let body = res.into_body().collect().await.unwrap().to_bytes();
                let options: serde_json::Value = serde_json::from_str(&serde_json::from_slice::<String>(&body).unwrap()).unwrap();
                let answer = keys[i].lock().unwrap().get(&options);
                let body = form_urlencoded::Serializer::new(String::new()).append_pair("credential", &answer).finish();
                let res = app.oneshot(site.post("/api/auth/passkey/finish", body, Some(&cookie))).await.unwrap();
                assert_eq!(res.status(), StatusCode::OK, "passkey finish failed");
            }
        })
    };
    let first = password(half).await?;
    let (second, third) = (passkey(half).await?, passkey(half).await?);
    let fourth = password(half).await?;
    let (password, passkey) = (Side::join(first, fourth), Side::join(second, third));
    let (password_rps, passkey_rps) = (password.per_s, passkey.per_s);
    println!("\n{:<52} {:>8.1} /s", "password sign-ins (argon2id, configured parameters)", password_rps);
    println!("{:<52} {:>8.1} /s", "passkey sign-ins (begin + finish, P-256)", passkey_rps);
    println!("\npasskey / password: {:.1}x (goal ≥ 20x)", passkey_rps / password_rps);
    println!(
        "SIGN_IN_JSON {}",
        serde_json::json!({
            "password_per_s": password_rps,
            "passkey_per_s": passkey_rps,
            "password_halves": password.halves,
            "passkey_halves": passkey.halves,
            "seconds": seconds,
            "workers": workers,
        })
    );
    Ok(())
}

/// One side's sign-ins over its two halves.
struct Side {
    per_s: f64,
    halves: [f64; 2],
}

impl Side {
    /// Every sign-in that finished, over the time until the last one finished, in each half.
    fn join(a: (u64, f64), b: (u64, f64)) -> Side {
        Side { per_s: (a.0 + b.0) as f64 / (a.1 + b.1), halves: [a.0 as f64 / a.1, b.0 as f64 / b.1] }
    }
}

/// `workers` loops, each signing in again (`one(worker)`) as its last sign-in ends, for
/// `seconds`: the sign-ins that finished, and the seconds until the last one finished.
async fn sign_ins<F, Fut>(workers: usize, seconds: f64, one: F) -> Result<(u64, f64), String>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (one, done) = (Arc::new(one), Arc::new(AtomicU64::new(0)));
    let started = Instant::now();
    let until = started + Duration::from_secs_f64(seconds);
    let mut tasks = Vec::new();
    for i in 0..workers {
        let (one, done) = (one.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < until {
                one(i).await;
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())?;
    }
    Ok((done.load(Ordering::Relaxed), started.elapsed().as_secs_f64()))
}
