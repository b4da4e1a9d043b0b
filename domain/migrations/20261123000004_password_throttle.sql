-- Per-account throttling of password guesses: consecutive failures, when the last one happened,
-- and a lock-out after too many. Keyed by account (not IP), so cycling addresses or the letter case
-- of the email meets the same counter.
ALTER TABLE users
    ADD COLUMN failed_attempts integer NOT NULL DEFAULT 0,
    ADD COLUMN last_failed_at timestamptz,
    ADD COLUMN locked_until timestamptz;
