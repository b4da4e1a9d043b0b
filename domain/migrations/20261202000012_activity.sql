-- Security activity and alerts: what each event says (for the Recent security activity list and
-- its downloads), which network and country a sign-in came from (to tell an unfamiliar one), and
-- the alerts sent for unfamiliar sign-ins with their "This wasn't me" links.

-- Events outlive their sessions (ended sessions are deleted after the retention period): the
-- session id stays as written instead of being set to NULL, which would be an UPDATE.
ALTER TABLE security_events
    DROP CONSTRAINT security_events_session_id_fkey,
    -- how a sign-in signed in (`sessions.auth_method` forms: password, passkey, google+totp…)
    ADD COLUMN method   text,
    -- what the event was about, in words: a passkey's or a provider's name
    ADD COLUMN detail   text,
    -- the client's network (IPv4 /24 or IPv6 /48), its country (ISO code) and approximate
    -- location, as the geo-IP database knew them at the time
    ADD COLUMN network  text,
    ADD COLUMN country  text,
    ADD COLUMN location text,
    ADD CONSTRAINT security_events_method_length CHECK (char_length(method) <= 40),
    ADD CONSTRAINT security_events_detail_length CHECK (char_length(detail) <= 200),
    ADD CONSTRAINT security_events_network_length CHECK (char_length(network) <= 60),
    ADD CONSTRAINT security_events_country_length CHECK (char_length(country) <= 8),
    ADD CONSTRAINT security_events_location_length CHECK (char_length(location) <= 200);

-- The activity list pages by (created_at, id), newest first (keyset pagination).
DROP INDEX security_events_user_idx;
CREATE INDEX security_events_user_listing_idx ON security_events (user_id, created_at DESC, id DESC);
-- An unfamiliar sign-in's question: has this account signed in from this network or country lately?
CREATE INDEX security_events_sign_ins_idx ON security_events (user_id, network, created_at) WHERE kind = 'signed_in';

-- Append-only: the application never changes or removes an event. The one exception is the
-- retention task, which deletes old events inside a transaction that first sets
-- `gatehouse.pruning_events` to 'on' (SET LOCAL, so it ends with that transaction).
CREATE FUNCTION security_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('gatehouse.pruning_events', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'security_events is append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER security_events_append_only BEFORE UPDATE OR DELETE ON security_events
    FOR EACH ROW EXECUTE FUNCTION security_events_append_only();
CREATE TRIGGER security_events_no_truncate BEFORE TRUNCATE ON security_events
    FOR EACH STATEMENT EXECUTE FUNCTION security_events_append_only();

-- When the account first signed in (set by its first sign-in; accounts from before this change get
-- it at their next one, which is therefore never unfamiliar). Kept with the account, unlike the
-- events, which are pruned after the retention period: an account unused for longer still counts
-- as having signed in before.
ALTER TABLE users ADD COLUMN first_signed_in_at timestamptz;

-- An unfamiliar sign-in: the prompt on Security & Access ("Was this you?") until it is answered,
-- and, when an email was sent, the "This wasn't me" link of that email.
CREATE TABLE sign_in_alerts (
    id              uuid PRIMARY KEY,
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- the `signed_in` event and the session it started
    event_id        uuid NOT NULL,
    session_id      uuid NOT NULL,
    -- browser name and OS family ("Chrome|Windows"): one alert per device
    device_key      text NOT NULL,
    -- the client's network (IPv4 /24 or IPv6 /48)
    network         text,
    -- SHA-256 of the "This wasn't me" token; NULL when no email was sent (over the account's limit)
    token_hash      bytea,
    created_at      timestamptz NOT NULL,
    -- the link's end (72 hours)
    expires_at      timestamptz NOT NULL,
    -- "This wasn't me" was confirmed (the link is used up)
    reported_at     timestamptz,
    -- the prompt was answered (Yes, or No, secure my account), or the link was used
    acknowledged_at timestamptz,
    CONSTRAINT sign_in_alerts_token_unique UNIQUE (token_hash),
    CONSTRAINT sign_in_alerts_device_key_length CHECK (char_length(device_key) <= 200),
    CONSTRAINT sign_in_alerts_network_length CHECK (char_length(network) <= 60),
    CONSTRAINT sign_in_alerts_expiry_after_creation CHECK (expires_at > created_at)
);

CREATE INDEX sign_in_alerts_user_idx ON sign_in_alerts (user_id, created_at DESC);
