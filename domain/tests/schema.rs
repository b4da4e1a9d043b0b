//! Rules every table follows, checked on the migrated schema.
use sqlx::PgPool;

/// Every foreign key's referencing column leads an index, so the rows that follow a deleted or
/// changed row are found through it, never by reading the whole table. (Without one, removing a
/// passkey read every account's sessions to clear it from those that signed in with it, under the
/// account's lock: 147 ms with a million sessions, 0.17 ms with the index, migration 16.)
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn every_foreign_key_is_found_through_an_index(db: PgPool) {
    let unindexed: Vec<String> = sqlx::query_scalar(
        // an index on the key's columns first, whole or leaving out only the rows without a reference
        "SELECT c.conrelid::regclass::text || '.' || c.conname FROM pg_constraint c
         WHERE c.contype = 'f'
           AND NOT EXISTS (
               SELECT 1 FROM pg_index i
               WHERE i.indrelid = c.conrelid
                 AND (i.indkey::int2[])[0:array_length(c.conkey, 1) - 1] = c.conkey
                 AND (i.indpred IS NULL OR pg_get_expr(i.indpred, i.indrelid) =
                        (SELECT '(' || quote_ident(attname) || ' IS NOT NULL)' FROM pg_attribute
                         WHERE attrelid = c.conrelid AND attnum = c.conkey[1])))
         ORDER BY 1",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    assert_eq!(unindexed, Vec::<String>::new(), "foreign keys without an index that leads with their columns");
    let keys: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_constraint WHERE contype = 'f'").fetch_one(&db).await.unwrap();
    assert!(keys >= 18, "the check saw the schema's foreign keys ({keys})");
}

/// `sessions_distrusted_idx` (migration 31) holds exactly the sessions the `distrusted_sessions`
/// view names: told to avoid reading the table, Postgres answers the view from the index alone,
/// with no filter left to apply (an index that drifted from the view would need one, or could not
/// be used at all).
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn the_distrusted_sessions_index_holds_what_the_view_names(db: PgPool) {
    let mut conn = db.acquire().await.unwrap();
    sqlx::query("SET enable_seqscan = off").execute(&mut *conn).await.unwrap();
    sqlx::query("SET enable_bitmapscan = off").execute(&mut *conn).await.unwrap();
    let plan = explain(&mut conn, "SELECT id FROM distrusted_sessions").await;
    assert!(plan.contains("Index Only Scan using sessions_distrusted_idx"), "{plan}");
    assert!(!plan.contains("Filter"), "{plan}");
}

/// The familiarity question of every sign-in (`sign_in_history`, migration 32) asks about each
/// sign-in event's session with one index probe, never by reading the distrusted sessions whole,
/// even on a table Postgres has never analysed and with nested loops ruled out (the plan a fresh
/// database got read every session per sign-in).
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn the_familiarity_question_probes_each_session_by_its_id(db: PgPool) {
    let mut conn = db.acquire().await.unwrap();
    sqlx::query("SET plan_cache_mode = force_generic_plan").execute(&mut *conn).await.unwrap();
    let question = "SELECT EXISTS (SELECT 1 FROM sign_in_history WHERE user_id = $1 AND network IS NULL AND created_at >= $2)";
    for (name, setting) in [("nested_loops", "SET enable_nestloop = on"), ("no_nested_loops", "SET enable_nestloop = off")] {
        sqlx::query(setting).execute(&mut *conn).await.unwrap();
        let plan = explain_generic(&mut conn, name, question).await;
        assert!(plan.contains("SubPlan") && plan.contains("Index Cond: (id = e.session_id)"), "{setting}: {plan}");
        assert!(!plan.contains("Seq Scan on sessions"), "{setting}: {plan}");
    }
}

async fn explain(conn: &mut sqlx::PgConnection, query: &str) -> String {
    let lines: Vec<String> = sqlx::query_scalar(&format!("EXPLAIN {query}")).fetch_all(&mut *conn).await.unwrap();
    lines.join("\n")
}

/// EXPLAIN of `query`'s generic plan (its parameters unknown, as a prepared statement's).
/// (`name`: unique on the connection.)
async fn explain_generic(conn: &mut sqlx::PgConnection, name: &str, query: &str) -> String {
    sqlx::query(&format!("PREPARE {name} (uuid, timestamptz) AS {query}")).execute(&mut *conn).await.unwrap();
    let lines: Vec<String> = sqlx::query_scalar(&format!("EXPLAIN EXECUTE {name} ('00000000-0000-0000-0000-000000000000', now())"))
        .fetch_all(&mut *conn)
        .await
        .unwrap();
    lines.join("\n")
}
