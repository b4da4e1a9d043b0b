-- The sessions `distrusted_sessions` names (migration 29), indexed on their own.
--
-- Every sign-in asks whether it comes from a familiar place through `sign_in_history`, which leaves
-- out the sign-ins of distrusted sessions with an anti-join against `sessions`. A plan made while
-- `sessions` was small (a new database: Postgres' autovacuum first analyses a table up to a minute
-- after it fills) read that side as a sequential scan of every session, materialised, and kept the
-- plan as the table grew: each sign-in then read the whole table. make bench's first passkey run
-- on a fresh database fell to 1,267–1,305 sign-ins/s from about 2,300 (`auto_explain` showed the
-- plan); the repeat a minute later, after autovacuum, did not. With this partial index the
-- distrusted side is read from an index that holds only distrusted sessions (a few per account),
-- whatever the plan: its cost no longer grows with the sessions table.
--
-- Its predicate must stay the view's (a test compares the two).
CREATE INDEX sessions_distrusted_idx ON sessions (id)
    WHERE revoked_reason IN ('reported_not_me', 'revoked', 'revoked_all_others', 'passkey_removed', 'provider_disconnected')
       OR reported_at IS NOT NULL;
