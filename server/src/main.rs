//! Loads the configuration, runs migrations, serves until Ctrl-C / SIGTERM.
//!
//! `server reseal-totp-secrets` instead re-encrypts every stored TOTP secret under the first key
//! of `[secrets] totp_keys` (key rotation), prints what it did and exits.
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use axum::serve::ListenerExt;
use server::{ensure_demo_account, pool, router, AppState, Config};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info")))
        .init();
    server::panics::install();
    // (the first is the program's own name)
    let args: Vec<String> = std::env::args().collect();
    let args = args.get(1..).unwrap_or_default();
    let outcome = match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        [] => run().await,
        ["reseal-totp-secrets"] => reseal_totp_secrets().await,
        _ => Err(format!("unknown arguments {args:?}. Usage: server (serve), or server reseal-totp-secrets")),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("gatehouse: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Leptos.toml, or the file GATEHOUSE_CONFIG names, with the environment on top.
fn load_config() -> Result<Config, String> {
    let path = std::env::var_os("GATEHOUSE_CONFIG").map(PathBuf::from).unwrap_or_else(|| "Leptos.toml".into());
    Config::load(&path).map_err(|e| e.to_string())
}

/// Key rotation's second step: every stored TOTP secret re-encrypted under the first key, so the
/// keys after it can be removed. Needs the database at this version's migrations (it never runs
/// them: that is the server's job at start-up).
async fn reseal_totp_secrets() -> Result<(), String> {
    let config = load_config()?;
    let db = pool(&config).map_err(|e| format!("invalid database URL: {e}"))?;
    check_migrations(&db).await?;
    let state = AppState::new(config, db, domain::clock::Clock::system()).map_err(|e| e.to_string())?;
    let key = state.services.keys.totp.sealing_key_id().to_string();
    let report = domain::auth::two_factor::reseal_all(&state.services).await.map_err(|e| match e {
        domain::DomainError::Db(e) => format!("re-sealing failed: database error: {e}"),
        e => format!("re-sealing failed: {e}"),
    })?;
    let secrets = |n: u64| if n == 1 { "1 TOTP secret".to_string() } else { format!("{n} TOTP secrets") };
    println!("Re-sealed {} under the key {key:?}; {} already used it.", secrets(report.resealed), secrets(report.already_current));
    if report.skipped > 0 {
        println!(
            "{} changed while being re-sealed and were left as they are: run this again before removing a key.",
            secrets(report.skipped)
        );
    } else {
        println!(
            "Every stored TOTP secret now uses {key:?}: once every instance runs with it first, the keys after it can be \
             removed from [secrets] totp_keys."
        );
    }
    Ok(())
}

/// Refuses to work on a database that is not exactly at this binary's migrations.
async fn check_migrations(db: &sqlx::PgPool) -> Result<(), String> {
    let unreachable = |e: sqlx::Error| format!("cannot read the database's migrations: {e}");
    let applied = domain::db::migrations::applied_versions(db).await.map_err(unreachable)?.unwrap_or_default();
    let known: Vec<i64> = domain::MIGRATOR.iter().filter(|m| m.migration_type.is_up_migration()).map(|m| m.version).collect();
    if let Some(missing) = known.iter().find(|v| !applied.contains(v)) {
        return Err(format!(
            "the database lacks migration {missing} of this version: start the server once (it runs the migrations), then run this again"
        ));
    }
    if let Some(unknown) = applied.iter().find(|v| !known.contains(v)) {
        return Err(format!("the database has migration {unknown}, which this version does not know: use the version that is deployed"));
    }
    Ok(())
}

async fn run() -> Result<(), String> {
    let config = load_config()?;
    if config.previews.enabled && !app::PREVIEWS_BUILT {
        tracing::warn!("[previews] enabled is set, but this build has no component previews (make release leaves them out): /previews answers 404");
    }
    let db = pool(&config).map_err(|e| format!("invalid database URL: {e}"))?;

    // Postgres may still be starting: try for a while before giving up with a clear message.
    let mut attempt = 0;
    loop {
        match domain::MIGRATOR.run(&db).await {
            Ok(()) => break,
            Err(sqlx::migrate::MigrateError::Execute(e)) if attempt < 15 && is_connection_error(&e) => {
                attempt += 1;
                tracing::warn!("waiting for Postgres ({attempt}/15)…");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(e) => return Err(format!("database migration failed, refusing to start: {e}")),
        }
    }
    tracing::info!("database migrations are up to date");

    let addr = config.site.addr;
    let state = AppState::new(config, db, domain::clock::Clock::system()).map_err(|e| e.to_string())?;
    if state.config.demo.enabled {
        ensure_demo_account(&state).await.map_err(|e| format!("could not create the demo account: {e}"))?;
        let demo = &state.config.demo;
        println!("\n  Demo account   email: {}   password: {}", demo.email, demo.password);
        if !demo.enterprise_email.is_empty() {
            println!("  Enterprise     email: {}   password: {}   ({}, Enterprise plan)", demo.enterprise_email, demo.password, server::DEMO_ORGANIZATION);
        }
        println!();
    }

    if state.config.session.cache_seconds > 0 {
        tokio::spawn(state.services.session_cache.clone().listen(state.services.db.clone()));
    }
    spawn_clean_up(state.clone());
    spawn_limit_pruning(state.clone());
    spawn_email_sender(&state)?;
    let origin = state.config.public_origin().to_string();
    let after_answer = state.services.after_answer.clone();
    let app = router(state);
    // TCP_NODELAY: pages stream in several writes (the shell, then each resolved section); with
    // Nagle's algorithm a keep-alive client's delayed ACK held every later write back by ~40 ms.
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?
        .tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "could not set TCP_NODELAY");
            }
        });
    // Passkeys work only at the configured origin (browsers refuse them on an IP address).
    println!("  Gatehouse is running at {origin}  (listening on {addr}; Ctrl-C to stop)\n");
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown())
        .await
        .map_err(|e| format!("server error: {e}"))?;
    // what answered requests left to do (a failed sign-in's record, a reset request's email)
    after_answer.close();
    if tokio::time::timeout(Duration::from_secs(10), after_answer.wait()).await.is_err() {
        tracing::warn!(left = after_answer.len(), "stopped with work of answered requests unfinished");
    }
    Ok(())
}

/// Marks expired sessions and deletes ended ones, old emails and security events past retention,
/// every few minutes. Safe to run on
/// every instance at once (each statement is idempotent).
fn spawn_clean_up(state: AppState) {
    let every = Duration::from_secs(state.config.session.cleanup_interval_minutes.max(1) * 60);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            match domain::auth::sessions::clean_up(&state.services).await {
                Ok((0, 0)) => {}
                Ok((expired, deleted)) => tracing::info!(expired, deleted, "sessions cleaned up"),
                Err(e) => tracing::warn!(error = %e, "session clean-up failed; will retry"),
            }
            let now = state.services.clock.now();
            match domain::email::clean_up(&state.services.db, now, state.config.email.retention_days).await {
                Ok(0) => {}
                Ok(deleted) => tracing::info!(deleted, "old emails and expired links deleted"),
                Err(e) => tracing::warn!(error = %e, "email clean-up failed; will retry"),
            }
            // the one task that may remove security events (the table refuses any other removal)
            match domain::auth::activity::prune(&state.services).await {
                Ok(0) => {}
                Ok(deleted) => tracing::info!(deleted, "security events past retention deleted"),
                Err(e) => tracing::warn!(error = %e, "security event retention failed; will retry"),
            }
        }
    });
}

/// Sends queued email (see domain::email::sender): wakes on every queued message and at least
/// every `[email] poll_seconds`.
fn spawn_email_sender(state: &AppState) -> Result<(), String> {
    let config = &state.config.email;
    let sender = domain::email::sender::Sender {
        db: state.services.db.clone(),
        clock: state.services.clock.clone(),
        transport: std::sync::Arc::new(domain::email::sender::Smtp::new(config)?),
        from: state.services.email.from.clone(),
        retry: domain::email::sender::RetryPolicy::from_config(config),
    };
    tracing::info!(relay = %format!("{}:{}", config.smtp_host, config.smtp_port), tls = ?config.tls, "email sender started");
    tokio::spawn(sender.run(Duration::from_secs(config.poll_seconds.max(1))));
    Ok(())
}

/// Forgets rate-limit budgets that are whole again, every minute (memory follows recent clients).
fn spawn_limit_pruning(state: AppState) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(server::limits::PRUNE_EVERY);
        loop {
            tick.tick().await;
            state.limits.retain_recent();
        }
    });
}

fn is_connection_error(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::Tls(_))
        || matches!(e, sqlx::Error::Database(d) if d.code().as_deref() == Some("57P03"))
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}
