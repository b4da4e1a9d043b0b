-- A sign-in whose password was right, waiting for the second step (authenticator or backup code).
-- It gives access to nothing else; it lives 5 minutes, and 5 wrong codes end it.
CREATE TABLE pending_sign_ins (
    id         uuid PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- SHA-256 of the 32 random bytes held by the browser's pending cookie
    token_hash bytea NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    failures   integer NOT NULL DEFAULT 0,
    CONSTRAINT pending_sign_ins_token_hash_key UNIQUE (token_hash)
);
