-- The familiarity view asks about each sign-in's session on its own (a probe by the session's
-- id), never by reading the distrusted side whole.
--
-- Migration 31's partial index made the probe cheaper, which is why the fresh-database plan of
-- the passkey sign-in turned to it, but it is a cost nudge, not a guarantee: while `sessions` has
-- never been analysed, Postgres guesses that about half its rows are distrusted, and a plan that
-- reads the whole distrusted side (a hash or materialised anti-join) still prefers a sequential
-- scan of every session (a review reproduced it with 100,000 unanalysed rows). `OFFSET 0` keeps
-- the NOT EXISTS a correlated subquery (Postgres does not turn a subquery with an OFFSET into a
-- join), so each sign-in event costs one index probe of its session (`sessions_pkey` or
-- `sessions_distrusted_idx`), however large or fresh the table. Same rows as before.
CREATE OR REPLACE VIEW sign_in_history AS
    SELECT e.user_id, e.network, e.country, e.created_at
    FROM security_events e
    WHERE e.kind = 'signed_in'
      AND NOT EXISTS (SELECT 1 FROM distrusted_sessions d WHERE d.id = e.session_id OFFSET 0);
