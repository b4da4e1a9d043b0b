-- A fourth kind of throttle path per account: the stale path (device = 'stale'), shared at a
-- sign-in's first step by every browser whose device cookie entry is from before the account's
-- password was chosen or its authenticator app set up. Whoever once signed in fully may have
-- collected any number of entries; on this one row they are one budget of guesses at the new
-- password, not one each, and strangers who never signed in cannot reach it.
ALTER TABLE sign_in_throttles DROP CONSTRAINT sign_in_throttles_device_kind;
ALTER TABLE sign_in_throttles ADD CONSTRAINT sign_in_throttles_device_kind
    CHECK (octet_length(device) IN (0, 16) OR device IN ('\x70726f76656e'::bytea, '\x7374616c65'::bytea));
