-- One definition of the sessions whose sign-ins teach nothing: the owner judged them, so whoever
-- held one may come back from the same place or browser.
-- - ended by a report ("This wasn't me", "No, secure my account": 'reported_not_me'), or from
--   her list (Revoke: 'revoked', Revoke all others: 'revoked_all_others'), or with the passkey or
--   the Google/GitHub identity they signed in with, when she asked for that too
--   ('passkey_removed', 'provider_disconnected');
-- - or reported after they had already ended some other way (a report only re-labels the
--   sessions it ends: an alert's `reported_at` says it of an ended one).
-- Read by the familiarity view `sign_in_history` (below), by the one-alert-per-device rule
-- (`db::alerts::recent`) and by the clean-up, which keeps such a session as long as its sign-ins
-- would otherwise count (`db::sessions::delete_ended_before`): once its row is gone, nothing would
-- say its sign-ins teach nothing.
CREATE VIEW distrusted_sessions AS
    SELECT s.id, s.user_id, s.revoked_at
    FROM sessions s
    WHERE s.revoked_reason IN ('reported_not_me', 'revoked', 'revoked_all_others', 'passkey_removed', 'provider_disconnected')
       OR EXISTS (SELECT 1 FROM sign_in_alerts a WHERE a.session_id = s.id AND a.reported_at IS NOT NULL);

CREATE INDEX sign_in_alerts_reported_session_idx ON sign_in_alerts (session_id) WHERE reported_at IS NOT NULL;

CREATE OR REPLACE VIEW sign_in_history AS
    SELECT e.user_id, e.network, e.country, e.created_at
    FROM security_events e
    WHERE e.kind = 'signed_in'
      AND NOT EXISTS (SELECT 1 FROM distrusted_sessions d WHERE d.id = e.session_id);
