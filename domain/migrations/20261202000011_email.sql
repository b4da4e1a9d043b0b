-- Email: an outbox the sender task drains, sign-up that confirms the address, and password resets.

-- A message waiting to be sent (or sent, kept for `[email] retention_days`). Written in the same
-- transaction as the change that causes it, so it exists exactly when that change committed.
CREATE TABLE email_outbox (
    -- also the message's Message-ID (<id@from-domain>): a retry after a crash is the same message
    id              uuid PRIMARY KEY,
    -- what kind of message (confirm_sign_up, account_exists, password_reset, password_reset_done…)
    kind            text NOT NULL,
    user_id         uuid REFERENCES users (id) ON DELETE CASCADE,
    to_address      text NOT NULL,
    to_name         text,
    subject         text NOT NULL,
    -- rendered when queued; emptied once sent (they may hold single-use links)
    text_body       text NOT NULL,
    html_body       text NOT NULL,
    created_at      timestamptz NOT NULL,
    -- not before: when the message is due (the first time, and again after a failure's back-off);
    -- a sender that claims a message moves it forward by a lease so no other sender takes it
    next_attempt_at timestamptz NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    last_error      text,
    sent_at         timestamptz,
    -- given up after `[email] max_attempts`
    failed_at       timestamptz,
    CONSTRAINT email_outbox_to_length CHECK (char_length(to_address) BETWEEN 3 AND 320),
    CONSTRAINT email_outbox_subject_length CHECK (char_length(subject) BETWEEN 1 AND 300),
    CONSTRAINT email_outbox_attempts_not_negative CHECK (attempts >= 0),
    CONSTRAINT email_outbox_sent_or_failed CHECK (sent_at IS NULL OR failed_at IS NULL),
    CONSTRAINT email_outbox_error_length CHECK (last_error IS NULL OR char_length(last_error) <= 1000)
);

-- The sender's question: which unsent messages are due?
CREATE INDEX email_outbox_due_idx ON email_outbox (next_attempt_at) WHERE sent_at IS NULL AND failed_at IS NULL;
CREATE INDEX email_outbox_created_idx ON email_outbox (created_at);

-- Wakes the sender tasks (LISTEN gatehouse_email_outbox) when a message is queued; Postgres
-- delivers the notification at commit, and never for a transaction that rolled back.
CREATE FUNCTION email_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('gatehouse_email_outbox', '');
    RETURN NULL;
END;
$$;
CREATE TRIGGER email_outbox_notify AFTER INSERT ON email_outbox
    FOR EACH STATEMENT EXECUTE FUNCTION email_outbox_notify();

-- A sign-up waiting for its address to be confirmed: the account is created only when the link is
-- followed and a way to sign in chosen. A request for an address that already has an account is
-- stored too (it is never emailed, and cannot be finished), so both cost the same work.
CREATE TABLE sign_up_requests (
    -- SHA-256 of the link's token
    token_hash       bytea PRIMARY KEY,
    email            text NOT NULL,
    email_normalized text NOT NULL,
    display_name     text,
    account_existed  boolean NOT NULL,
    created_at       timestamptz NOT NULL,
    expires_at       timestamptz NOT NULL,
    used_at          timestamptz,
    CONSTRAINT sign_up_requests_token_hash_length CHECK (octet_length(token_hash) = 32),
    CONSTRAINT sign_up_requests_email_length CHECK (char_length(email) BETWEEN 3 AND 254),
    CONSTRAINT sign_up_requests_display_name_length CHECK (display_name IS NULL OR char_length(display_name) <= 100)
);

CREATE INDEX sign_up_requests_email_idx ON sign_up_requests (email_normalized, created_at);
CREATE INDEX sign_up_requests_expires_idx ON sign_up_requests (expires_at);

-- A "Forgot password?" link: single use, bound to the account and to the password it replaces
-- (`password_changed_at` when it was made: any later change, set or reset invalidates it).
CREATE TABLE password_resets (
    -- SHA-256 of the link's token
    token_hash          bytea PRIMARY KEY,
    user_id             uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    password_changed_at timestamptz,
    created_at          timestamptz NOT NULL,
    expires_at          timestamptz NOT NULL,
    used_at             timestamptz,
    CONSTRAINT password_resets_token_hash_length CHECK (octet_length(token_hash) = 32)
);

CREATE INDEX password_resets_user_idx ON password_resets (user_id, created_at);
CREATE INDEX password_resets_expires_idx ON password_resets (expires_at);
