-- Sign-in with Google (OpenID Connect) and GitHub (OAuth 2).

-- The account's email is known to belong to the person: set at sign-up when the provider vouched
-- for it (Google's email_verified, a verified primary address at GitHub).
ALTER TABLE users ADD COLUMN email_verified_at timestamptz;

-- An account's link to an identity at a provider. The identity is (provider, issuer, subject):
-- Google's `sub` under its issuer, GitHub's numeric user id under its API. Never an email or a
-- GitHub login, which can change hands. No provider token is kept.
CREATE TABLE connected_accounts (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider     text NOT NULL,
    issuer       text NOT NULL,
    subject      text NOT NULL,
    -- what the Connected accounts row shows: the provider account's email and login (GitHub)
    email        text,
    login        text,
    connected_at timestamptz NOT NULL,
    last_used_at timestamptz,
    -- one identity belongs to at most one account
    CONSTRAINT connected_accounts_identity_key UNIQUE (provider, issuer, subject),
    -- and an account has at most one identity per provider
    CONSTRAINT connected_accounts_user_provider_key UNIQUE (user_id, provider),
    CONSTRAINT connected_accounts_provider_known CHECK (provider IN ('google', 'github')),
    CONSTRAINT connected_accounts_subject_length CHECK (char_length(subject) BETWEEN 1 AND 255),
    CONSTRAINT connected_accounts_issuer_length CHECK (char_length(issuer) BETWEEN 1 AND 255),
    CONSTRAINT connected_accounts_email_length CHECK (email IS NULL OR char_length(email) <= 320),
    CONSTRAINT connected_accounts_login_length CHECK (login IS NULL OR char_length(login) <= 100)
);

-- A sign-in, connection or re-verification waiting for the provider's answer: single use, bound
-- to the browser that began it (its flow cookie), 10 minutes.
CREATE TABLE provider_flows (
    -- SHA-256 of the `state` sent to the provider
    state_hash    bytea PRIMARY KEY,
    -- SHA-256 of the random value in the browser's flow cookie
    browser_hash  bytea NOT NULL,
    provider      text NOT NULL,
    -- 'sign_in' (no account yet), 'connect' or 'reverify' (for this session's account)
    intent        text NOT NULL,
    user_id       uuid REFERENCES users (id) ON DELETE CASCADE,
    session_id    uuid REFERENCES sessions (id) ON DELETE CASCADE,
    -- the PKCE code verifier and the OpenID Connect nonce (Google), secret until the flow ends
    pkce_verifier text NOT NULL,
    nonce         text,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    CONSTRAINT provider_flows_state_hash_length CHECK (octet_length(state_hash) = 32),
    CONSTRAINT provider_flows_browser_hash_length CHECK (octet_length(browser_hash) = 32),
    CONSTRAINT provider_flows_provider_known CHECK (provider IN ('google', 'github')),
    CONSTRAINT provider_flows_intent_known CHECK (intent IN ('sign_in', 'connect', 'reverify')),
    CONSTRAINT provider_flows_intent_owner CHECK ((intent = 'sign_in') = (user_id IS NULL AND session_id IS NULL))
);

CREATE INDEX provider_flows_expires_idx ON provider_flows (expires_at);

-- A pending sign-in's first factor: NULL for a password, else the provider it came through.
ALTER TABLE pending_sign_ins ADD COLUMN provider text
    CONSTRAINT pending_sign_ins_provider_known CHECK (provider IS NULL OR provider IN ('google', 'github'));
