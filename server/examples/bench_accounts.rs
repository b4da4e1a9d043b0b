//! Accounts for `make bench`'s measures over HTTP, created in the database the bench server will
//! use (DATABASE_URL; migrations run first), with the configured argon2 parameters, exactly as a
//! finished sign-up creates them (`domain::auth::accounts::create_account`). Sign-up itself confirms
//! the email through a link first, which a load generator cannot follow.
//!
//! `bench_accounts COUNT OUT_FILE`: COUNT accounts `bench-<i>@bench.test` with the password
//! `testkit::PW`, written to OUT_FILE as sign-in form bodies, one line each (`email=…&password=…`,
//! what scripts/bench/sign-in.lua and oha -Z post), plus one more account, `page@bench.test`, for
//! the signed-in page measures (kept apart so that the sign-in load does not fill its history).
use domain::request::ClientInfo;
use testkit::PW;

#[tokio::main]
async fn main() -> Result<(), String> {
    let mut args = std::env::args();
    args.next(); // the program's own name
    let count: usize = args.next().and_then(|s| s.parse().ok()).ok_or("usage: bench_accounts COUNT OUT_FILE")?;
    let out = args.next().ok_or("usage: bench_accounts COUNT OUT_FILE")?;
    let path = std::env::var("GATEHOUSE_CONFIG").unwrap_or_else(|_| "Leptos.toml".into());
    let config = server::Config::load(std::path::Path::new(&path)).map_err(|e| e.to_string())?;
    let db = server::pool(&config).map_err(|e| e.to_string())?;
    domain::MIGRATOR.run(&db).await.map_err(|e| e.to_string())?;
    let state = server::AppState::new(config, db, domain::clock::Clock::system()).map_err(|e| e.to_string())?;
    let svc = state.services.clone();
    let password = domain::secret::Password::new(PW.to_string());

    // a few at a time: the hasher runs [argon2] max_concurrent hashes at once and queues max_queue
    let emails: Vec<String> = (0..count).map(|i| format!("bench-{i}@bench.test")).chain(["page@bench.test".to_string()]).collect();
    for chunk in emails.chunks(8) {
        let created = chunk.iter().map(|email| {
            let (svc, password) = (svc.clone(), password.clone());
            let email = email.clone();
            tokio::spawn(async move {
                domain::auth::accounts::create_account(&svc, &email, None, &password, &ClientInfo::default()).await.map_err(|e| format!("{email}: {e:?}"))
            })
        });
        for task in created.collect::<Vec<_>>() {
            task.await.map_err(|e| e.to_string())??;
        }
    }
    let bodies: String = emails[..count]
        .iter()
        .map(|email| form_urlencoded::Serializer::new(String::new()).append_pair("email", email).append_pair("password", PW).finish() + "\n")
        .collect();
    std::fs::write(&out, bodies).map_err(|e| format!("{out}: {e}"))?;
    Ok(())
}
