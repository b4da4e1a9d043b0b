-- Two-step verification: an authenticator app (TOTP) and single-use backup codes.

-- An enabled authenticator. The secret is encrypted (XChaCha20-Poly1305, key from config, the
-- account id as associated data); `key_id` names the key, so keys can be rotated.
CREATE TABLE totp_credentials (
    user_id          uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    key_id           text NOT NULL,
    nonce            bytea NOT NULL,
    secret_encrypted bytea NOT NULL,
    enabled_at       timestamptz NOT NULL,
    -- the last accepted 30-second step: a code at or before it is refused (each code works once)
    last_used_step   bigint NOT NULL
);

-- An enrolment in progress: bound to the session that began it, gone after 10 minutes or on use.
CREATE TABLE totp_enrolments (
    session_id       uuid PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
    user_id          uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key_id           text NOT NULL,
    nonce            bytea NOT NULL,
    secret_encrypted bytea NOT NULL,
    expires_at       timestamptz NOT NULL
);

-- Backup codes, stored only as HMAC-SHA-256 under a server key kept apart from the database.
CREATE TABLE backup_codes (
    id         uuid PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash  bytea NOT NULL,
    created_at timestamptz NOT NULL,
    used_at    timestamptz,
    CONSTRAINT backup_codes_user_hash_key UNIQUE (user_id, code_hash)
);

-- Whether the password is long enough to be the only factor (15+ characters): turning the second
-- factor off asks for a new password first when it is not. Set whenever a password is stored.
ALTER TABLE users ADD COLUMN password_single_factor_ok boolean NOT NULL DEFAULT true;
