//! The migrations applied to the database (sqlx's own `_sqlx_migrations` table), so a tool can
//! refuse a database that is not at its schema.
use sqlx::PgPool;

/// The versions of the migrations applied successfully, oldest first; `None` when the database was
/// never migrated (it has no `_sqlx_migrations` table).
pub async fn applied_versions(db: &PgPool) -> Result<Option<Vec<i64>>, sqlx::Error> {
    let has_table = sqlx::query_scalar!(r#"SELECT to_regclass('_sqlx_migrations') IS NOT NULL AS "has_table!""#)
        .fetch_one(db)
        .await?;
    if !has_table {
        return Ok(None);
    }
    let versions = sqlx::query_scalar!("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
        .fetch_all(db)
        .await?;
    Ok(Some(versions))
}
