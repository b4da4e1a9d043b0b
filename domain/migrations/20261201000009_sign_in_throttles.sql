-- Password and code guessing limits per account and per path (OWASP "device cookies"): a browser
-- that has fully signed in to an account holds a signed device cookie for it, and its failures
-- are counted on that device's own row; every other browser shares the account's untrusted row
-- (device = ''). An attacker can slow down or lock only the untrusted path; the owner's browsers
-- keep their own counters. Rows exist only while there are failures to remember.
CREATE TABLE sign_in_throttles (
    user_id           uuid NOT NULL,
    -- the device cookie's 16-byte nonce; empty for the account's untrusted path
    device            bytea NOT NULL,
    -- consecutive failures on this path (attempts are counted before they are checked)
    failed_attempts   integer NOT NULL,
    last_failed_at    timestamptz,
    locked_until      timestamptz,
    -- what the last counted attempt replaced, so a right password can be forgiven exactly
    prev_failed_at    timestamptz,
    prev_locked_until timestamptz,
    CONSTRAINT sign_in_throttles_pkey PRIMARY KEY (user_id, device),
    CONSTRAINT sign_in_throttles_user_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT sign_in_throttles_device_length CHECK (octet_length(device) IN (0, 16)),
    CONSTRAINT sign_in_throttles_failed_attempts_not_negative CHECK (failed_attempts >= 0)
);

CREATE INDEX sign_in_throttles_last_failed_idx ON sign_in_throttles (last_failed_at);

-- The per-account counter becomes the untrusted path's row.
INSERT INTO sign_in_throttles (user_id, device, failed_attempts, last_failed_at, locked_until)
SELECT id, '\x'::bytea, failed_attempts, last_failed_at, locked_until FROM users WHERE failed_attempts > 0;

ALTER TABLE users
    DROP COLUMN failed_attempts,
    DROP COLUMN last_failed_at,
    DROP COLUMN locked_until;

-- Security events are kept for the retention period, then deleted by the clean-up task.
CREATE INDEX security_events_created_idx ON security_events (created_at);
