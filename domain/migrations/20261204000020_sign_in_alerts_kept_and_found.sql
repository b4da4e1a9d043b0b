-- Sign-in alerts are kept as long as security events, and found by session without a scan.
--
-- Every Security & Access load asks whether its own session has an unanswered alert
-- (db::overview, db::alerts): that question had no index but (user_id, created_at), and Postgres
-- answered it with a scan of the whole table, which nothing ever pruned (80 ms a load at a million
-- rows, EXPLAIN ANALYZE; one person with many networks and a passkey can add rows quickly). The
-- retention task (activity::prune) now deletes alerts with the events of their time.
CREATE INDEX sign_in_alerts_unanswered_session_idx ON sign_in_alerts (session_id) WHERE acknowledged_at IS NULL;
