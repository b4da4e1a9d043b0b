-- The password that "This wasn't me" turned off (its argon2id hash, moved from password_hash):
-- whoever signed in may know it, so the next password (the emailed link, or Set password) may not
-- be it. Cleared when a new password is stored; NULL otherwise. Never leaves the server, as
-- password_hash never does.
ALTER TABLE users ADD COLUMN reported_password_hash text;
