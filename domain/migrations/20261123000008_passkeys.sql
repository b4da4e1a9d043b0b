-- Passkeys (WebAuthn discoverable credentials) and the state of unfinished WebAuthn ceremonies.

CREATE TABLE passkeys (
    id              uuid PRIMARY KEY,
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- the authenticator's credential id: one credential belongs to one account, ever
    credential_id   bytea NOT NULL,
    -- webauthn-rs's serialised Passkey: public key, signature counter, backup flags (no secret)
    credential      jsonb NOT NULL,
    name            text NOT NULL,
    -- the authenticator model (names the provider: "iCloud Keychain", "YubiKey 5 Series", …);
    -- NULL when the authenticator did not say
    aaguid          uuid,
    -- the credential may be synced between devices (backup eligible), and is backed up now
    backup_eligible boolean NOT NULL,
    backed_up       boolean NOT NULL,
    created_at      timestamptz NOT NULL,
    last_used_at    timestamptz,
    CONSTRAINT passkeys_credential_id_key UNIQUE (credential_id),
    CONSTRAINT passkeys_name_length CHECK (char_length(name) BETWEEN 1 AND 64)
);

CREATE INDEX passkeys_user_idx ON passkeys (user_id, created_at);

-- The passkey a session signed in with (auth_method = 'passkey').
ALTER TABLE sessions ADD COLUMN passkey_id uuid REFERENCES passkeys (id) ON DELETE SET NULL;

-- A registration, sign-in or re-verification between its two halves. Registration and
-- re-verification belong to the session that began them; a sign-in (no session yet) to the
-- browser holding the cookie whose SHA-256 is token_hash. Each lives 5 minutes and is deleted when
-- it is finished, so a finished ceremony cannot be replayed; any server instance can finish it.
CREATE TABLE webauthn_ceremonies (
    id         uuid PRIMARY KEY,
    kind       text NOT NULL,
    session_id uuid REFERENCES sessions (id) ON DELETE CASCADE,
    token_hash bytea,
    -- webauthn-rs's serialised ceremony state (challenge, allowed credentials, policy)
    state      jsonb NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    CONSTRAINT webauthn_ceremonies_kind CHECK (kind IN ('register', 'sign_in', 'reverify')),
    CONSTRAINT webauthn_ceremonies_owner CHECK ((session_id IS NULL) <> (token_hash IS NULL)),
    CONSTRAINT webauthn_ceremonies_token_hash_key UNIQUE (token_hash)
);

-- One unfinished ceremony of each kind per session: beginning again replaces it.
CREATE UNIQUE INDEX webauthn_ceremonies_session_kind_key ON webauthn_ceremonies (session_id, kind)
    WHERE session_id IS NOT NULL;
CREATE INDEX webauthn_ceremonies_expires_idx ON webauthn_ceremonies (expires_at);
