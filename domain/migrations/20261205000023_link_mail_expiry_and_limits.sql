-- A link's email is not sent once its link would arrive dead, and the 3-an-hour limit on link
-- emails counts emails, not requests.
--
-- `expires_at`: the sender gives a message up, unsent, at or after this time (a sign-up or reset
-- link's own expiry less a few minutes to read it). Before, a relay outage of half an hour sent
-- every reset link queued meanwhile already expired. NULL: no deadline (notices, alerts).
--
-- `rate_key`: whose hourly budget a link email counts against ("sign_up:<address>" for sign-up
-- emails, "reset:<account>" for reset links). The limit used to count requests (`sign_up_requests`,
-- `password_resets`), including those it had refused, so anyone who knew the address could keep
-- asking every quarter of an hour and the owner would never get a link again; and messages given up
-- (the relay down, or dead before sending) counted too. It now counts messages queued in the last
-- hour that were not given up.
ALTER TABLE email_outbox ADD COLUMN expires_at timestamptz,
    ADD COLUMN rate_key text,
    ADD CONSTRAINT email_outbox_rate_key_length CHECK (rate_key IS NULL OR char_length(rate_key) <= 400);

CREATE INDEX email_outbox_rate_idx ON email_outbox (rate_key, created_at) WHERE rate_key IS NOT NULL;
