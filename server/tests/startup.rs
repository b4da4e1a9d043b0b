//! The real binary: it refuses to start when a migration fails, and says why.
use sqlx::PgPool;

#[sqlx::test(migrations = false)]
async fn a_failed_migration_stops_the_server_with_a_clear_message(db: PgPool) {
    // A table in the way of the first migration.
    sqlx::query("CREATE TABLE users (id int)").execute(&db).await.unwrap();
    let name = db.connect_options().get_database().unwrap().to_string();
    let base = std::env::var("DATABASE_URL").unwrap();
    let url = format!("{}/{name}", base.rsplit_once('/').unwrap().0);
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .env("DATABASE_URL", url)
        .env("GATEHOUSE_CONFIG", concat!(env!("CARGO_MANIFEST_DIR"), "/../Leptos.toml"))
        .env("GATEHOUSE_DEMO_ENABLED", "false")
        .env("GATEHOUSE_SITE_ADDR", "127.0.0.1:0")
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the server must not start: {stderr}");
    assert!(stderr.contains("database migration failed, refusing to start"), "{stderr}");
}
