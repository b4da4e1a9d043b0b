-- The password before the current one (its argon2id hash) and when it was replaced, kept only as
-- long as a sign-in from before the change can still be reported ("This wasn't me" links last 72
-- hours, `activity::ALERT_LINK_HOURS`; the clean-up forgets it after that). An intruder who signed
-- in and then changed the password knew the one before: a report about that sign-in turns off the
-- current password and also refuses that one as the next (`reported_previous_password_hash`,
-- cleared, like `reported_password_hash`, when a new password is stored). Never leaves the server,
-- as password_hash never does.
ALTER TABLE users
    ADD COLUMN previous_password_hash text,
    ADD COLUMN previous_password_replaced_at timestamptz,
    ADD COLUMN reported_previous_password_hash text,
    ADD CONSTRAINT users_previous_password_dated
        CHECK ((previous_password_hash IS NULL) = (previous_password_replaced_at IS NULL));

CREATE INDEX users_previous_password_idx ON users (previous_password_replaced_at) WHERE previous_password_hash IS NOT NULL;
