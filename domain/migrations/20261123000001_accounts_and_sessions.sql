-- Accounts, server-side sessions and the security history.

CREATE TABLE users (
    id                  uuid PRIMARY KEY,
    -- what the person typed (trimmed), for display
    email               text NOT NULL,
    -- trimmed + lower-cased: the identity used for look-ups and uniqueness
    email_normalized    text NOT NULL,
    display_name        text,
    -- argon2id PHC string; NULL for accounts that have no password
    password_hash       text,
    password_changed_at timestamptz,
    created_at          timestamptz NOT NULL,
    CONSTRAINT users_email_normalized_key UNIQUE (email_normalized),
    CONSTRAINT users_email_length CHECK (char_length(email) BETWEEN 3 AND 254),
    CONSTRAINT users_display_name_length CHECK (display_name IS NULL OR char_length(display_name) <= 100)
);

CREATE TABLE sessions (
    id             uuid PRIMARY KEY,
    user_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- SHA-256 of the 32 random bytes held by the cookie; the token itself is never stored
    token_hash     bytea NOT NULL,
    created_at     timestamptz NOT NULL,
    last_seen_at   timestamptz NOT NULL,
    -- when the person last proved who they are (sign-in or re-verification)
    verified_at    timestamptz NOT NULL,
    ip             text,
    user_agent     text,
    -- how this session signed in: 'password', later 'password+totp', 'passkey', 'google', 'github'
    auth_method    text NOT NULL,
    revoked_at     timestamptz,
    revoked_reason text,
    CONSTRAINT sessions_token_hash_key UNIQUE (token_hash),
    CONSTRAINT sessions_token_hash_length CHECK (octet_length(token_hash) = 32)
);

CREATE INDEX sessions_user_active_idx ON sessions (user_id) WHERE revoked_at IS NULL;

CREATE TABLE security_events (
    id         uuid PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_id uuid REFERENCES sessions (id) ON DELETE SET NULL,
    kind       text NOT NULL,
    ip         text,
    user_agent text,
    created_at timestamptz NOT NULL
);

CREATE INDEX security_events_user_idx ON security_events (user_id, created_at DESC);
