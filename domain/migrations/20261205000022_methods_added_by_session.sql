-- Which session added each way to sign in: a passkey, a connected account, the authenticator app.
--
-- "This wasn't me" and "No, secure my account" end the reported sign-in's session and the ones
-- after it; whatever those sessions added must go with them. A passkey or a connected account is a
-- whole sign-in by itself, so an intruder who added one kept the account after the owner's new
-- password; an authenticator app turned on by the intruder would ask the owner for the intruder's
-- code at the next sign-in. NULL: added when the account was created (before any session), before
-- this column existed, or by a session since deleted (ended sessions are deleted after the retention
-- period, long after a report can name them).
ALTER TABLE passkeys ADD COLUMN added_by_session uuid,
    ADD CONSTRAINT passkeys_added_by_session_fkey FOREIGN KEY (added_by_session) REFERENCES sessions (id) ON DELETE SET NULL;
ALTER TABLE connected_accounts ADD COLUMN added_by_session uuid,
    ADD CONSTRAINT connected_accounts_added_by_session_fkey FOREIGN KEY (added_by_session) REFERENCES sessions (id) ON DELETE SET NULL;
ALTER TABLE totp_credentials ADD COLUMN added_by_session uuid,
    ADD CONSTRAINT totp_credentials_added_by_session_fkey FOREIGN KEY (added_by_session) REFERENCES sessions (id) ON DELETE SET NULL;

-- (every foreign key leads an index: see 20261204000016_foreign_key_indexes.sql)
CREATE INDEX passkeys_added_by_session_idx ON passkeys (added_by_session) WHERE added_by_session IS NOT NULL;
CREATE INDEX connected_accounts_added_by_session_idx ON connected_accounts (added_by_session) WHERE added_by_session IS NOT NULL;
CREATE INDEX totp_credentials_added_by_session_idx ON totp_credentials (added_by_session) WHERE added_by_session IS NOT NULL;
