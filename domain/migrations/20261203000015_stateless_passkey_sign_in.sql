-- A passkey sign-in stores nothing when it begins: the browser's ceremony cookie carries the whole
-- ceremony (its id, expiry and challenge), signed with the server's key
-- (domain::auth::passkeys::begin_sign_in). A flood of begins can no longer grow a table, so the
-- per-network and total caps on stored sign-in ceremonies (migration 9) go with them. Finishing
-- records the ceremony's id below, in the sign-in's transaction, so it can finish once; the ids
-- are kept until the ceremony would have expired (a cookie that old is refused anyway).
-- webauthn_ceremonies keeps registrations and re-verifications (a session's) and first passkeys
-- at sign-up (a sign-up link's token).
DELETE FROM webauthn_ceremonies WHERE kind = 'sign_in';
DROP INDEX webauthn_ceremonies_network_idx;
ALTER TABLE webauthn_ceremonies
    DROP CONSTRAINT webauthn_ceremonies_client_network,
    DROP COLUMN client_network,
    DROP CONSTRAINT webauthn_ceremonies_kind,
    ADD CONSTRAINT webauthn_ceremonies_kind CHECK (kind IN ('register', 'reverify'));

CREATE TABLE passkey_sign_ins_finished (
    ceremony_id uuid NOT NULL,
    expires_at  timestamptz NOT NULL,
    CONSTRAINT passkey_sign_ins_finished_pkey PRIMARY KEY (ceremony_id)
);
-- the clean-up task
CREATE INDEX passkey_sign_ins_finished_expires_idx ON passkey_sign_ins_finished (expires_at);
