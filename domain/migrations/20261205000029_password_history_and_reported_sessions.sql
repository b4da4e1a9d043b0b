-- Two corrections to migrations 27 and 28, from a review:
--
-- 1. One level of password history was not enough, and 72 hours too short. A report reaches back
--    to the earliest unanswered alert of the last 14 days (`activity::PROMPT_DAYS`), and the
--    intruder may change the password, then the owner reset it, before the report: the password
--    the intruder signed in with is two back. Every replaced password (a change, a reset, Set
--    password, or turned off by a report) is now kept here for those 14 days; the clean-up
--    forgets older ones. A report refuses, as the next password, every one in use at or after
--    the earliest sign-in it covers (at most the 10 newest: `reported_earlier_password_hashes`,
--    cleared, like `reported_password_hash`, when a new password is stored). Never leaves the
--    server, as password_hash never does.
CREATE TABLE replaced_passwords (
    id bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT replaced_passwords_pkey PRIMARY KEY,
    user_id uuid NOT NULL CONSTRAINT replaced_passwords_user_fkey REFERENCES users (id) ON DELETE CASCADE,
    password_hash text NOT NULL,
    replaced_at timestamptz NOT NULL
);
CREATE INDEX replaced_passwords_user_idx ON replaced_passwords (user_id, replaced_at);
CREATE INDEX replaced_passwords_replaced_idx ON replaced_passwords (replaced_at);
INSERT INTO replaced_passwords (user_id, password_hash, replaced_at)
    SELECT id, previous_password_hash, previous_password_replaced_at FROM users WHERE previous_password_hash IS NOT NULL;

ALTER TABLE users ADD COLUMN reported_earlier_password_hashes text[] NOT NULL DEFAULT '{}';
UPDATE users SET reported_earlier_password_hashes = ARRAY[reported_previous_password_hash] WHERE reported_previous_password_hash IS NOT NULL;
ALTER TABLE users
    DROP COLUMN previous_password_hash,
    DROP COLUMN previous_password_replaced_at,
    DROP COLUMN reported_previous_password_hash;

-- 2. A report re-labelled only the sessions it ended (the live ones), and migration 27 read an
--    alert's `reported_at` for the others: a later sign-in of the intruder's that raised no alert
--    (from a place their first one had made familiar) and had ended by then still taught its
--    place. Every session a report covers, live or ended, now records when it was reported.
ALTER TABLE sessions ADD COLUMN reported_at timestamptz;
UPDATE sessions s SET reported_at = a.reported_at FROM sign_in_alerts a WHERE a.session_id = s.id AND a.reported_at IS NOT NULL;
UPDATE sessions SET reported_at = revoked_at WHERE revoked_reason = 'reported_not_me' AND reported_at IS NULL;

CREATE OR REPLACE VIEW distrusted_sessions AS
    SELECT s.id, s.user_id, s.revoked_at
    FROM sessions s
    WHERE s.revoked_reason IN ('reported_not_me', 'revoked', 'revoked_all_others', 'passkey_removed', 'provider_disconnected')
       OR s.reported_at IS NOT NULL;

DROP INDEX sign_in_alerts_reported_session_idx;
