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
/// view names: the familiarity question of every sign-in reads them through it, and an index that
/// drifted from the view would leave Postgres reading every session again.
#[sqlx::test(migrator = "domain::MIGRATOR")]
async fn the_distrusted_sessions_index_holds_what_the_view_names(db: PgPool) {
    let index: String = sqlx::query_scalar(
        "SELECT pg_get_expr(i.indpred, i.indrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
         WHERE c.relname = 'sessions_distrusted_idx'",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    let view: String = sqlx::query_scalar("SELECT pg_get_viewdef('distrusted_sessions'::regclass)").fetch_one(&db).await.unwrap();
    let view_where = view.split("WHERE").nth(1).expect("the view has a WHERE").trim().trim_end_matches(';').replace("s.", "");
    assert!(index.contains("reported_not_me") && index.contains("reported_at IS NOT NULL"), "{index}");
    assert_eq!(index, view_where, "the index's predicate and the view's");
}
